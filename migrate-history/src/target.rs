//! Targets: `head`, `heads`, `base`, ids and unique prefixes, branch labels,
//! `label@head`, relative `+N`/`-N`/`REV+N`/`REV-N`, release tags
//! (`v0.3.0`, from `releases.toml`), and `FROM:TO` ranges.
//!
//! A target with a `.` is a tag: ids and labels never have one, so a tag
//! can never be read as an id prefix, and no arithmetic applies to it
//! (`v1.0.0-1` is the tag of that name, as in semver). A tag is found by its
//! exact name, else by the name that differs by a leading `v`: `0.3.0` and
//! `v0.3.0` name one release, and `releases.toml` refuses two tags that would.

use std::fmt;

use crate::History;

/// The shortest partial id matched against revision ids (Alembic's rule).
pub const MIN_PREFIX: usize = 4;

/// A revision target as typed by a user.
///
/// [`Target::parse`] reads one without looking at a history;
/// [`History::resolve`] then finds the revisions it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The single head; an error when there are several.
    Head,
    /// Every head.
    Heads,
    /// Before the first revision: nothing applied.
    Base,
    /// A full id, a unique id prefix, or a branch label.
    Revision(String),
    /// The head of the branch that carries a label or contains a revision: `label@head`.
    BranchHead(String),
    /// `steps` revisions from `anchor` (a revision or `head`), or from the
    /// current revision when `anchor` is `None`: `+2`, `-1`, `ae10+2`, `head-1`.
    Relative {
        /// The revision (an id, a unique prefix or a label) or `head` to count
        /// from; `None` counts from the revisions the database is at.
        anchor: Option<String>,
        /// How many revisions to move: forward when positive, back when negative.
        steps: i64,
    },
    /// A release tag of `releases.toml`: its heads. `0.3.0` also finds `v0.3.0`.
    Tag(String),
}

/// Why a target could not be parsed or resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The text has none of the forms a target takes.
    #[error("`{text}` is not a valid target")]
    Invalid {
        /// The text as typed.
        text: String,
    },
    /// No revision id, branch label or id prefix matches.
    #[error("no revision matches `{text}`")]
    NotFound {
        /// The text as typed.
        text: String,
    },
    /// No id or label matches exactly, and the text is too short to be
    /// matched as a prefix ([`MIN_PREFIX`]).
    #[error("no revision is `{text}`, and a partial id needs at least {MIN_PREFIX} characters")]
    PrefixTooShort {
        /// The text as typed.
        text: String,
    },
    /// A partial id that starts several revision ids.
    #[error("`{prefix}` is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        /// The partial id as typed.
        prefix: String,
        /// The ids it starts, sorted.
        candidates: Vec<String>,
    },
    /// `head` (or a count from it) in a history with several heads.
    #[error("`head` is ambiguous: the history has {} heads ({})", heads.len(), heads.join(", "))]
    MultipleHeads {
        /// The ids of the heads.
        heads: Vec<String>,
    },
    /// A tag that `releases.toml` does not define, with or without a leading `v`.
    #[error("no release is tagged `{text}`{}", if known.is_empty() { " (the history has no tags)".to_owned() } else { format!(" (tags: {})", known.join(", ")) })]
    UnknownTag {
        /// The tag as typed.
        text: String,
        /// Every tag the history has, sorted by name.
        known: Vec<String>,
    },
    /// `head` (or a count from it) in a history without revisions.
    #[error("`head` names nothing: the history is empty")]
    EmptyHistory,
    /// `LABEL@head` on a branch that has several heads.
    #[error("`{label}@head` is ambiguous: the branch has {} heads ({})", heads.len(), heads.join(", "))]
    BranchHeads {
        /// The label or revision written before `@head`.
        label: String,
        /// The ids of the branch's heads.
        heads: Vec<String>,
    },
    /// A relative target without an anchor (`+N`, `-N`) while the database
    /// is at several revisions.
    #[error("relative target `{text}` starts from several revisions ({})", current.join(", "))]
    SeveralStartingPoints {
        /// The target, as written.
        text: String,
        /// The ids of the revisions the database is at.
        current: Vec<String>,
    },
    /// Counting forward reached a revision with several children.
    #[error("relative target `{text}` reaches branch point `{at}`, which has several children ({})", children.join(", "))]
    BranchPoint {
        /// The target, as written.
        text: String,
        /// The revision with several children, or `base` when the history has several bases.
        at: String,
        /// The ids of its children.
        children: Vec<String>,
    },
    /// Counting back reached a revision with several parents.
    #[error("relative target `{text}` reaches merge point `{at}`, which has several parents ({})", parents.join(", "))]
    MergePoint {
        /// The target, as written.
        text: String,
        /// The merge revision.
        at: String,
        /// The ids of its parents.
        parents: Vec<String>,
    },
    /// Counting ran past a head, or back past base.
    #[error("relative target `{text}` goes {steps} past the end of the history")]
    PastTheEnd {
        /// The target, as written.
        text: String,
        /// How many steps were left when the history ended.
        steps: i64,
    },
}

impl TargetError {
    /// What to do about it.
    pub fn help(&self) -> Option<&'static str> {
        Some(match self {
            TargetError::Invalid { .. } => {
                "targets are `head`, `heads`, `base`, a revision id or unique prefix, `LABEL@head`, `+N`, `-N`, `REV+N`, `REV-N` or a release tag like `v0.3.0`"
            }
            TargetError::NotFound { .. } => "see `cargo migrate history` for the revision ids",
            TargetError::UnknownTag { .. } => {
                "tags are the releases listed in releases.toml in the migrations directory"
            }
            TargetError::PrefixTooShort { .. } => "type at least four characters of the id, as Alembic requires",
            TargetError::Ambiguous { .. } => "type more characters of the id",
            TargetError::MultipleHeads { .. } => {
                "name one head, use `LABEL@head` or `heads`, or join them with `cargo migrate merge`"
            }
            TargetError::BranchHeads { .. } => "name the head revision itself",
            TargetError::SeveralStartingPoints { .. } => "use `REV+N` or `REV-N` from one of them",
            TargetError::BranchPoint { .. } | TargetError::MergePoint { .. } => {
                "name the revision on the branch you mean instead of counting"
            }
            TargetError::EmptyHistory | TargetError::PastTheEnd { .. } => return None,
        })
    }
}

impl Target {
    /// Parses a target. Does not look at any history.
    ///
    /// ```
    /// use migrate_history::Target;
    ///
    /// assert_eq!(Target::parse("head")?, Target::Head);
    /// assert_eq!(Target::parse("3f2a")?, Target::Revision("3f2a".into()));
    /// assert_eq!(Target::parse("users@head")?, Target::BranchHead("users".into()));
    /// assert_eq!(Target::parse("-1")?, Target::Relative { anchor: None, steps: -1 });
    /// assert_eq!(Target::parse("3f2a+2")?, Target::Relative { anchor: Some("3f2a".into()), steps: 2 });
    /// assert_eq!(Target::parse("v0.3.0")?, Target::Tag("v0.3.0".into()));
    /// assert_eq!(Target::parse("3F2A").unwrap_err().to_string(), "`3F2A` is not a valid target");
    /// # Ok::<(), migrate_history::TargetError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Target, TargetError> {
        let invalid = || TargetError::Invalid { text: text.to_owned() };
        let word =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        match text {
            "head" => return Ok(Target::Head),
            "heads" => return Ok(Target::Heads),
            "base" => return Ok(Target::Base),
            _ => {}
        }
        if text.contains('.') {
            return match crate::releases::tag_name_problem(text) {
                None => Ok(Target::Tag(text.to_owned())),
                Some(_) => Err(invalid()),
            };
        }
        if let Some(label) = text.strip_suffix("@head") {
            return if word(label) { Ok(Target::BranchHead(label.to_owned())) } else { Err(invalid()) };
        }
        if let Some(at) = text.rfind(['+', '-']) {
            let (anchor, number) = text.split_at(at);
            let digits = &number[1..];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            let magnitude: i64 = digits.parse().map_err(|_| invalid())?;
            let steps = if number.starts_with('-') { -magnitude } else { magnitude };
            let anchor = match anchor {
                "" => None,
                a if word(a) => Some(a.to_owned()),
                _ => return Err(invalid()),
            };
            return Ok(Target::Relative { anchor, steps });
        }
        if word(text) { Ok(Target::Revision(text.to_owned())) } else { Err(invalid()) }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Head => f.write_str("head"),
            Target::Heads => f.write_str("heads"),
            Target::Base => f.write_str("base"),
            Target::Revision(r) => f.write_str(r),
            Target::BranchHead(l) => write!(f, "{l}@head"),
            Target::Tag(t) => f.write_str(t),
            Target::Relative { anchor, steps } => {
                write!(f, "{}{}{}", anchor.as_deref().unwrap_or(""), if *steps < 0 { "-" } else { "+" }, steps.abs())
            }
        }
    }
}

/// A `FROM:TO` range; either side may be left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// The lower end, included; `None` leaves the range open below.
    pub from: Option<Target>,
    /// The upper end, included; `None` leaves the range open above.
    pub to: Option<Target>,
}

impl Range {
    /// Parses `FROM:TO`, `FROM:`, `:TO`, or a lone `TO`.
    ///
    /// ```
    /// use migrate_history::{Range, Target};
    ///
    /// let range = Range::parse("v0.1.0:head")?;
    /// assert_eq!(range.from, Some(Target::Tag("v0.1.0".into())));
    /// assert_eq!(range.to, Some(Target::Head));
    /// // A lone target is the upper end.
    /// assert_eq!(Range::parse("3f2a")?, Range { from: None, to: Some(Target::Revision("3f2a".into())) });
    /// assert_eq!(Range::parse("3f2a:")?.to, None);
    /// # Ok::<(), migrate_history::TargetError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Range, TargetError> {
        let side = |s: &str| {
            if s.is_empty() { Ok(None) } else { Target::parse(s).map(Some) }
        };
        match text.split_once(':') {
            Some((from, to)) => Ok(Range { from: side(from)?, to: side(to)? }),
            None => Ok(Range { from: None, to: side(text)? }),
        }
    }
}

impl History {
    /// Resolves a target to the set of revisions that would then be the
    /// heads of a database: empty for `base`.
    ///
    /// `current` is the set the database has applied (its heads), used by
    /// relative targets without an anchor.
    ///
    /// ```
    /// use migrate_history::{Options, SourceFile, Target, load::Sources};
    ///
    /// let file = |id: &str, parents: &str| {
    ///     let text = format!("-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n\n\
    ///                         -- migrate:up\nSELECT 1;\n");
    ///     SourceFile::new(format!("migrations/{id}.sql"), text)
    /// };
    /// let sources = Sources {
    ///     revisions: vec![file("a1b2", ""), file("c3d4", "a1b2"), file("e5f6", "c3d4")],
    ///     ..Sources::default()
    /// };
    /// let history = migrate_history::analyze(sources, Options::default()).history;
    /// let resolve = |text: &str, current: &[usize]| -> Result<Vec<String>, migrate_history::TargetError> {
    ///     Ok(history.ids(&history.resolve(&Target::parse(text)?, current)?))
    /// };
    ///
    /// assert_eq!(resolve("head", &[])?, ["e5f6"]);
    /// assert_eq!(resolve("c3d4", &[])?, ["c3d4"]);
    /// assert!(resolve("base", &[])?.is_empty());
    /// // Relative targets without an anchor count from `current`.
    /// let at_a1b2 = [history.index_of("a1b2").unwrap()];
    /// assert_eq!(resolve("+2", &at_a1b2)?, ["e5f6"]);
    /// assert_eq!(resolve("head-1", &[])?, ["c3d4"]);
    /// # Ok::<(), migrate_history::TargetError>(())
    /// ```
    pub fn resolve(&self, target: &Target, current: &[usize]) -> Result<Vec<usize>, TargetError> {
        match target {
            Target::Base => Ok(Vec::new()),
            // As Alembic: a head that another revision depends on comes along
            // with that revision, so it is not a target of its own.
            Target::Heads => {
                let depended_on = self.dependency_targets();
                Ok(self.heads().into_iter().filter(|&h| !depended_on[h]).collect())
            }
            Target::Head => self.single_head().map(|h| vec![h]),
            Target::Revision(text) => self.lookup(text).map(|i| vec![i]),
            Target::Tag(text) => match self.tag_heads(text) {
                Some(heads) => Ok(heads.to_vec()),
                None => Err(TargetError::UnknownTag {
                    text: text.clone(),
                    known: self.tags().map(|(name, _)| name.to_owned()).collect(),
                }),
            },
            // A branch is its parent links: a revision elsewhere that
            // merely depends on this branch is not one of its heads.
            Target::BranchHead(label) => {
                let start = self.lookup(label)?;
                let below = self.branch_descendants(&[start]);
                let heads: Vec<usize> = self.heads().into_iter().filter(|&h| below[h]).collect();
                match heads.as_slice() {
                    [one] => Ok(vec![*one]),
                    _ => Err(TargetError::BranchHeads { label: label.clone(), heads: self.ids(&heads) }),
                }
            }
            Target::Relative { anchor, steps } => {
                let text = target.to_string();
                let start = match anchor.as_deref() {
                    Some("head") => vec![self.single_head()?],
                    Some(a) => vec![self.lookup(a)?],
                    None => current.to_vec(),
                };
                self.walk(&text, &start, *steps).map(|at| at.into_iter().collect())
            }
        }
    }

    /// Resolves a `FROM:TO` range to the revisions between them, both ends
    /// included, in topological order.
    pub fn resolve_range(&self, range: &Range, current: &[usize]) -> Result<Vec<usize>, TargetError> {
        let upper = match &range.to {
            Some(to) => Some(self.resolve(to, current)?),
            None => None,
        };
        let lower = match &range.from {
            Some(from) => Some(self.resolve(from, current)?),
            None => None,
        };
        let below_upper = upper.map(|u| self.ancestors(&u));
        let above_lower = lower.filter(|l| !l.is_empty()).map(|l| self.descendants(&l));
        Ok((0..self.len())
            .filter(|&i| below_upper.as_ref().is_none_or(|m| m[i]) && above_lower.as_ref().is_none_or(|m| m[i]))
            .collect())
    }

    /// An exact id, then a branch label, then a unique id prefix of at least
    /// [`MIN_PREFIX`] characters.
    pub fn lookup(&self, text: &str) -> Result<usize, TargetError> {
        if let Some(i) = self.index_of(text).or_else(|| self.labelled(text)) {
            return Ok(i);
        }
        if text.len() < MIN_PREFIX {
            return Err(TargetError::PrefixTooShort { text: text.to_owned() });
        }
        let mut candidates: Vec<&str> =
            self.revisions().iter().map(|r| r.id.as_str()).filter(|id| id.starts_with(text)).collect();
        match candidates.len() {
            0 => Err(TargetError::NotFound { text: text.to_owned() }),
            1 => Ok(self.index_of(candidates[0]).expect("listed")),
            _ => {
                candidates.sort_unstable();
                Err(TargetError::Ambiguous {
                    prefix: text.to_owned(),
                    candidates: candidates.into_iter().map(str::to_owned).collect(),
                })
            }
        }
    }

    /// Marks revisions named in some `depends-on`.
    fn dependency_targets(&self) -> Vec<bool> {
        let mut marked = vec![false; self.len()];
        for i in 0..self.len() {
            for &d in self.dependencies(i) {
                marked[d] = true;
            }
        }
        marked
    }

    fn single_head(&self) -> Result<usize, TargetError> {
        match self.heads().as_slice() {
            [] => Err(TargetError::EmptyHistory),
            [one] => Ok(*one),
            heads => Err(TargetError::MultipleHeads { heads: self.ids(heads) }),
        }
    }

    /// Steps along a linear stretch of the graph. `None` is base.
    fn walk(&self, text: &str, start: &[usize], steps: i64) -> Result<Option<usize>, TargetError> {
        let mut at: Option<usize> = match start {
            [] => None,
            [one] => Some(*one),
            several => {
                return Err(TargetError::SeveralStartingPoints { text: text.to_owned(), current: self.ids(several) });
            }
        };
        let past = |left: i64| TargetError::PastTheEnd { text: text.to_owned(), steps: left };
        for taken in 0..steps.unsigned_abs() {
            let left = steps.abs() - taken as i64;
            let next: &[usize] = match (at, steps > 0) {
                (None, true) => &self.bases(),
                (None, false) => return Err(past(left)),
                (Some(i), true) => self.children(i),
                (Some(i), false) => self.parents(i),
            };
            at = match next {
                [] if steps < 0 => None,
                [] => return Err(past(left)),
                [one] => Some(*one),
                several => {
                    let ids = self.ids(several);
                    return Err(match at {
                        Some(i) if steps > 0 => TargetError::BranchPoint {
                            text: text.to_owned(),
                            at: self.revision(i).id.clone(),
                            children: ids,
                        },
                        Some(i) => TargetError::MergePoint {
                            text: text.to_owned(),
                            at: self.revision(i).id.clone(),
                            parents: ids,
                        },
                        None => TargetError::BranchPoint { text: text.to_owned(), at: "base".into(), children: ids },
                    });
                }
            };
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::history_of;

    /// Resolves `text` against a history with a branch and a merge:
    /// `a1 -> (b1 -> b2, c1) -> m1 -> d1`, plus a labelled side branch `s1 -> s2`.
    fn resolve(text: &str, current: &[&str]) -> String {
        let (h, _) = history_of(&["a1:", "b1:a1", "b2:b1", "c1:a1", "m1:b2,c1", "d1:m1", "s1:", "s2:s1"]);
        let current: Vec<usize> = current.iter().map(|id| h.index_of(id).unwrap()).collect();
        let result = Target::parse(text).and_then(|t| h.resolve(&t, &current));
        match result {
            Ok(found) if found.is_empty() => "base".into(),
            Ok(found) => h.ids(&found).join(" "),
            Err(error) => format!("error: {error}"),
        }
    }

    #[test]
    fn data_driven_targets() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("heads", &[], "d1 s2"),
            ("head", &[], "error: `head` is ambiguous: the history has 2 heads (d1, s2)"),
            ("base", &[], "base"),
            ("b2", &[], "b2"),
            ("m", &[], "error: no revision is `m`, and a partial id needs at least 4 characters"),
            ("zzzz", &[], "error: no revision matches `zzzz`"),
            ("zz", &[], "error: no revision is `zz`, and a partial id needs at least 4 characters"),
            ("+1", &["b1"], "b2"),
            ("+2", &["b1"], "m1"),
            ("-1", &["b1"], "a1"),
            ("-2", &["b1"], "base"),
            ("-3", &["b1"], "error: relative target `-3` goes 1 past the end of the history"),
            (
                "+1",
                &["a1"],
                "error: relative target `+1` reaches branch point `a1`, which has several children (b1, c1)",
            ),
            ("-1", &["m1"], "error: relative target `-1` reaches merge point `m1`, which has several parents (b2, c1)"),
            ("+1", &["d1", "s2"], "error: relative target `+1` starts from several revisions (d1, s2)"),
            ("+1", &[], "error: relative target `+1` reaches branch point `base`, which has several children (a1, s1)"),
            ("c1+2", &[], "d1"),
            ("d1-1", &[], "m1"),
            ("s1@head", &[], "s2"),
            ("b1@head", &[], "d1"),
            ("a1@head", &[], "d1"),
            ("head-1", &[], "error: `head` is ambiguous: the history has 2 heads (d1, s2)"),
            ("A1", &[], "error: `A1` is not a valid target"),
            ("a1+x", &[], "error: `a1+x` is not a valid target"),
        ];
        for (text, current, expected) in cases {
            assert_eq!(resolve(text, current), *expected, "target {text} from {current:?}");
        }
    }

    #[test]
    fn labels_resolve_like_revisions() {
        let (h, _) = history_of(&["a:", "b:a"]);
        let mut revisions: Vec<crate::Revision> = h.revisions().to_vec();
        revisions[1].branch_labels = vec!["users".into()];
        let (h, problems) = crate::History::build(revisions);
        assert!(problems.is_empty());
        assert_eq!(h.resolve(&Target::parse("users").unwrap(), &[]).unwrap(), [1]);
        assert_eq!(h.resolve(&Target::parse("users@head").unwrap(), &[]).unwrap(), [1]);
    }

    #[test]
    fn label_at_head_follows_parent_links_only() {
        // `r3` is a base of its own that needs `r2` first (issue 16).
        let (h, _) = history_of(&["r1:", "r2:r1", "r3: after r2"]);
        let mut revisions: Vec<crate::Revision> = h.revisions().to_vec();
        let r2 = revisions.iter().position(|r| r.id == "r2").unwrap();
        revisions[r2].branch_labels = vec!["lab_a".into()];
        let (h, problems) = crate::History::build(revisions);
        assert!(problems.is_empty());
        let found = h.resolve(&Target::parse("lab_a@head").unwrap(), &[]).unwrap();
        assert_eq!(h.ids(&found), ["r2"]);
        let found = h.resolve(&Target::parse("r1@head").unwrap(), &[]).unwrap();
        assert_eq!(h.ids(&found), ["r2"]);
    }

    #[test]
    fn prefixes_need_four_characters_and_must_be_unique() {
        let (h, _) = history_of(&["abcd1:", "abcd2:abcd1", "abce3:abcd2"]);
        let lookup = |text: &str| h.lookup(text).map(|i| h.revision(i).id.clone()).map_err(|e| e.to_string());
        assert_eq!(lookup("abce"), Ok("abce3".into()));
        assert_eq!(lookup("abcd"), Err("`abcd` is ambiguous: it matches abcd1, abcd2".into()));
        assert_eq!(lookup("abc"), Err("no revision is `abc`, and a partial id needs at least 4 characters".into()));
        assert_eq!(lookup("abcd2"), Ok("abcd2".into()));
    }

    #[test]
    fn ranges() {
        let (h, _) = history_of(&["a:", "b:a", "c:b", "d:c"]);
        let ids = |text: &str| h.ids(&h.resolve_range(&Range::parse(text).unwrap(), &[]).unwrap()).join(" ");
        assert_eq!(ids("b:c"), "b c");
        assert_eq!(ids(":b"), "a b");
        assert_eq!(ids("c:"), "c d");
        assert_eq!(ids("base:head"), "a b c d");
        assert_eq!(ids("c"), "a b c");
    }

    /// `a -> b -> c -> d`, tagged `v0.1.0` at `b` and `v0.2.0` at `d`.
    fn tagged() -> History {
        let (mut h, _) = history_of(&["a:", "b:a", "c:b", "d:c"]);
        assert!(h.add_tag("v0.1.0", &["b".into()]).is_empty());
        assert!(h.add_tag("v0.2.0", &["d".into()]).is_empty());
        h
    }

    #[test]
    fn tags_resolve_to_their_heads_with_or_without_the_v() {
        let h = tagged();
        let resolve = |text: &str| {
            Target::parse(text).and_then(|t| h.resolve(&t, &[])).map(|found| h.ids(&found)).map_err(|e| e.to_string())
        };
        assert_eq!(resolve("v0.1.0"), Ok(vec!["b".to_owned()]));
        assert_eq!(resolve("0.2.0"), Ok(vec!["d".to_owned()]));
        assert_eq!(resolve("v0.3.0"), Err("no release is tagged `v0.3.0` (tags: v0.1.0, v0.2.0)".into()));
        assert_eq!(resolve("v0.1.0-1"), Err("no release is tagged `v0.1.0-1` (tags: v0.1.0, v0.2.0)".into()));
        assert_eq!(resolve("v0.1.0@head"), Err("`v0.1.0@head` is not a valid target".into()));
        let (h, _) = history_of(&["a:"]);
        let none = Target::parse("v1.0").and_then(|t| h.resolve(&t, &[])).unwrap_err();
        assert_eq!(none.to_string(), "no release is tagged `v1.0` (the history has no tags)");
    }

    #[test]
    fn tag_ranges_run_from_one_release_to_the_next() {
        let h = tagged();
        let range = Range::parse("v0.1.0:v0.2.0").unwrap();
        assert_eq!(
            (range.from.clone(), range.to.clone()),
            (Some(Target::Tag("v0.1.0".into())), Some(Target::Tag("v0.2.0".into())))
        );
        assert_eq!(h.ids(&h.resolve_range(&range, &[]).unwrap()), ["b", "c", "d"]);
        // What a script from one release to the next applies: the plan above the first.
        let from = h.resolve(range.from.as_ref().unwrap(), &[]).unwrap();
        let to = h.resolve(range.to.as_ref().unwrap(), &[]).unwrap();
        let plan = h.plan_upgrade(&h.ancestors(&from), &to);
        assert_eq!(h.ids(&plan.steps), ["c", "d"]);
    }

    #[test]
    fn display_round_trips() {
        for text in ["head", "heads", "base", "ab12", "lbl@head", "+3", "-1", "ab+2", "ab-2", "v0.3.0"] {
            assert_eq!(Target::parse(text).unwrap().to_string(), text);
        }
    }
}
