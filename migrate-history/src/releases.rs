//! `releases.toml`: tags of the history, each naming the revisions that were
//! the heads of a release.
//!
//! ```toml
//! version = 1
//!
//! [tags]
//! "v0.1.0" = ["f60d2c8b1e47"]
//! "v0.2.0" = ["0a9d4e6b2c31"]
//! ```
//!
//! A tag is a target (`cargo migrate downgrade v0.1.0`, `sql v0.1.0:v0.2.0`).
//! Its name contains a `.`, which no revision id or branch label can, so a
//! tag is never mistaken for an id prefix (see [`tag_name_problem`]).

use std::path::PathBuf;

use toml_edit::{Array, DocumentMut, ImDocument, Item, Table, value};

use crate::{Diagnostic, History, Problem, SourceFile};

/// The releases file's name inside the migrations directory.
pub const RELEASES_FILE_NAME: &str = "releases.toml";

/// The longest tag name.
pub const MAX_TAG_LEN: usize = 64;

const FORMAT_VERSION: i64 = 1;

const HEADER: &str = "\
# Releases of this history: each tag names the revisions that were the
# release's heads. A tag is a target: `cargo migrate downgrade v0.1.0`,
# `cargo migrate sql v0.1.0:v0.2.0`. Released tags do not change.
";

/// One tag of `releases.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The tag as written, such as `v0.3.0`.
    pub name: String,
    /// The revision ids that were the release's heads.
    pub heads: Vec<String>,
    /// The line of its entry.
    pub line: Option<usize>,
}

/// The tags of a history, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseFile {
    /// Where it was read from, as shown to the user.
    pub path: PathBuf,
    /// The tags, in file order.
    pub tags: Vec<Tag>,
}

impl ReleaseFile {
    /// Parses the file, reporting every malformed entry with its line. Tag
    /// names and the revisions they name are checked by [`ReleaseFile::apply`].
    pub fn parse(file: &SourceFile) -> (ReleaseFile, Vec<Diagnostic>) {
        let mut releases = ReleaseFile { path: file.path.clone(), tags: Vec::new() };
        let mut diagnostics = Vec::new();
        let text = crate::strip_bom(&file.text);
        let line_of = |span: Option<std::ops::Range<usize>>| span.map(|s| crate::sql::line_at(text, s.start));
        let mut problem = |line: Option<usize>, message: String| {
            diagnostics.push(Diagnostic::error(&file.path, line, Problem::InvalidReleasesFile { message }))
        };
        let doc = match ImDocument::parse(text) {
            Ok(doc) => doc,
            Err(error) => {
                let message = Some(error.message().trim()).filter(|m| !m.is_empty()).unwrap_or("invalid character");
                problem(line_of(error.span()), message.to_owned());
                return (releases, diagnostics);
            }
        };
        let root = doc.as_table();
        match root.get("version").map(|item| (item.as_integer(), item.span())) {
            Some((Some(FORMAT_VERSION), _)) => {}
            Some((Some(other), span)) => problem(
                line_of(span),
                format!("format version {other} is not supported (this cargo-migrate reads version {FORMAT_VERSION})"),
            ),
            Some((None, span)) => problem(line_of(span), "`version` must be the number 1".into()),
            None => problem(None, "missing `version = 1`".into()),
        }
        for (key, _) in root.iter() {
            if key != "version" && key != "tags" {
                let line = root.key(key).and_then(|k| line_of(k.span()));
                problem(line, format!("unknown key `{key}` (the file has `version` and `[tags]`)"));
            }
        }
        let Some(tags) = root.get("tags") else {
            return (releases, diagnostics);
        };
        let Some(tags) = tags.as_table_like() else {
            problem(line_of(tags.span()), "`tags` must be a table".into());
            return (releases, diagnostics);
        };
        for (name, item) in tags.iter() {
            let line = tags.key(name).and_then(|k| line_of(k.span()));
            let heads: Option<Vec<String>> =
                item.as_array().and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect());
            match heads {
                Some(heads) => releases.tags.push(Tag { name: name.to_owned(), heads, line }),
                None => {
                    problem(line, format!("tag `{name}` must list revision ids: `\"{name}\" = [\"3f2a9c1b7e4d\"]`"))
                }
            }
        }
        (releases, diagnostics)
    }

    /// Gives `history` these tags, reporting a tag whose name is invalid or
    /// names the same release as another, that names no revision, or one the
    /// history does not have. A tag with a problem is left out.
    pub fn apply(&self, history: &mut History) -> Vec<Diagnostic> {
        let mut diagnostics = Vec::new();
        for tag in &self.tags {
            for problem in history.add_tag(&tag.name, &tag.heads) {
                diagnostics.push(Diagnostic::error(&self.path, tag.line, problem));
            }
        }
        diagnostics
    }

    /// The tag with this name exactly.
    pub fn get(&self, name: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.name == name)
    }
}

/// `text` (the current `releases.toml`, or `None` when there is none yet)
/// with one more tag, every comment and entry kept as it was. Refuses a tag
/// that names the same release as one the file has.
pub fn add_tag(text: Option<&str>, name: &str, heads: &[String]) -> Result<String, Problem> {
    if let Some(problem) = tag_name_problem(name) {
        return Err(problem);
    }
    let mut doc: DocumentMut = match text {
        Some(text) => crate::strip_bom(text).parse().map_err(|e: toml_edit::TomlError| {
            Problem::InvalidReleasesFile { message: e.message().trim().to_owned() }
        })?,
        None => format!("{HEADER}version = {FORMAT_VERSION}\n\n[tags]\n").parse().expect("a valid document"),
    };
    let tags = doc.entry("tags").or_insert_with(|| Item::Table(Table::new()));
    let Some(tags) = tags.as_table_like_mut() else {
        return Err(Problem::InvalidReleasesFile { message: "`tags` must be a table".into() });
    };
    if let Some((other, _)) = tags.iter().find(|(other, _)| same_release(other, name)) {
        return Err(Problem::DuplicateTag { name: name.to_owned(), other: other.to_owned() });
    }
    tags.insert(name, value(heads.iter().map(String::as_str).collect::<Array>()));
    Ok(doc.to_string())
}

/// Why `name` cannot be a tag: it must be 1 to [`MAX_TAG_LEN`] characters
/// of ASCII letters, digits, `.`, `-`, `+` and `_`, start with a letter or
/// digit, and contain a `.`. The `.` keeps a tag apart from revision ids and
/// branch labels (`[a-z0-9_]`), and the other characters keep it apart from
/// the target syntax (`:` of ranges, `@head`).
pub fn tag_name_problem(name: &str) -> Option<Problem> {
    let valid = name.len() <= MAX_TAG_LEN
        && name.contains('.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_'));
    (!valid).then(|| Problem::InvalidTagName { name: name.to_owned() })
}

/// Whether two tag names name one release: equal, or equal but for a leading
/// `v` (`v0.3.0` and `0.3.0`), which a target may leave out or add.
pub fn same_release(a: &str, b: &str) -> bool {
    let bare = |s: &str| s.strip_prefix('v').unwrap_or(s).to_owned();
    a == b || bare(a) == bare(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::history_of;

    fn parse(text: &str) -> (ReleaseFile, Vec<String>) {
        let (file, diagnostics) = ReleaseFile::parse(&SourceFile::new("m/releases.toml", text));
        (file, diagnostics.iter().map(Diagnostic::to_string).collect())
    }

    /// The problems `apply` reports for `text` on the history `a1 -> b1`.
    fn applied(text: &str) -> Vec<String> {
        let (mut history, _) = history_of(&["a1:", "b1:a1"]);
        let (file, mut problems) = parse(text);
        problems.extend(file.apply(&mut history).iter().map(Diagnostic::to_string));
        problems
    }

    #[test]
    fn tags_parse_in_file_order_with_their_lines() {
        let (file, problems) = parse("version = 1\n\n[tags]\n\"v0.2.0\" = [\"b1\"]\n\"v0.1.0\" = [\"a1\", \"x\"]\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            file.tags,
            [
                Tag { name: "v0.2.0".into(), heads: vec!["b1".into()], line: Some(4) },
                Tag { name: "v0.1.0".into(), heads: vec!["a1".into(), "x".into()], line: Some(5) },
            ]
        );
    }

    #[test]
    fn malformed_files_name_the_line() {
        assert_eq!(
            parse("version = 1\n[tags]\n\"v1.0\" = \"a1\"\nv2 = [1]\n").1,
            [
                "m/releases.toml:3: invalid releases file: tag `v1.0` must list revision ids: `\"v1.0\" = [\"3f2a9c1b7e4d\"]` (help: entries look like `\"v0.3.0\" = [\"3f2a9c1b7e4d\"]` under `[tags]`: the tag, then the revisions that were the release's heads)",
                "m/releases.toml:4: invalid releases file: tag `v2` must list revision ids: `\"v2\" = [\"3f2a9c1b7e4d\"]` (help: entries look like `\"v0.3.0\" = [\"3f2a9c1b7e4d\"]` under `[tags]`: the tag, then the revisions that were the release's heads)",
            ]
        );
        assert_eq!(
            parse("version = 2\nrelease = 1\n").1,
            [
                "m/releases.toml:1: invalid releases file: format version 2 is not supported (this cargo-migrate reads version 1) (help: entries look like `\"v0.3.0\" = [\"3f2a9c1b7e4d\"]` under `[tags]`: the tag, then the revisions that were the release's heads)",
                "m/releases.toml:2: invalid releases file: unknown key `release` (the file has `version` and `[tags]`) (help: entries look like `\"v0.3.0\" = [\"3f2a9c1b7e4d\"]` under `[tags]`: the tag, then the revisions that were the release's heads)",
            ]
        );
        let (_, problems) = parse("version = 1\n[tags\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("m/releases.toml:2: invalid releases file: "), "{problems:?}");
    }

    #[test]
    fn apply_reports_unknown_revisions_bad_names_and_collisions() {
        assert_eq!(
            applied(
                "version = 1\n[tags]\n\"v0.1.0\" = [\"a1\"]\n\"0.1.0\" = [\"b1\"]\nv2 = [\"b1\"]\n\"v0.2.0\" = [\"b1\", \"zz\"]\n\"v0.3.0\" = []\n"
            ),
            [
                "m/releases.toml:4: tag `0.1.0` names the same release as tag `v0.1.0` (help: a target may leave out or add the leading `v`, so the two would be one target: remove or rename one)",
                "m/releases.toml:5: `v2` is not a valid tag name (help: a tag is a release's name, like `v0.3.0`: letters, digits, `.`, `-`, `+` and `_`, with at least one `.`, which keeps it apart from revision ids and labels)",
                "m/releases.toml:6: tag `v0.2.0` names revision `zz`, which no revision file defines (help: fix the tag's list of revisions, or restore the revision file)",
                "m/releases.toml:7: tag `v0.3.0` names no revision (help: list the revisions that were the release's heads: `cargo migrate heads` at the release)",
            ]
        );
    }

    #[test]
    fn a_valid_file_gives_the_history_its_tags() {
        let (mut history, _) = history_of(&["a1:", "b1:a1", "c1:a1"]);
        let (file, problems) = parse("version = 1\n[tags]\n\"v0.1.0\" = [\"c1\", \"b1\"]\n");
        assert!(problems.is_empty());
        assert!(file.apply(&mut history).is_empty());
        let tags: Vec<(&str, Vec<String>)> = history.tags().map(|(name, heads)| (name, history.ids(heads))).collect();
        assert_eq!(tags, [("v0.1.0", vec!["b1".to_owned(), "c1".to_owned()])], "heads in topological order");
    }

    #[test]
    fn analyze_reads_the_file_next_to_the_revisions() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("migrations");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a.sql"), "-- revision: a1\n-- parents:\n-- message: m\n\n-- migrate:up\n").unwrap();
        std::fs::write(
            dir.join(RELEASES_FILE_NAME),
            "version = 1\n[tags]\n\"v0.1.0\" = [\"a1\"]\n\"v0.2.0\" = [\"b1\"]\n",
        )
        .unwrap();
        let analysis = crate::analyze_dir(&dir, std::path::Path::new("migrations"), crate::Options::default());
        let errors: Vec<String> = analysis.errors().map(Diagnostic::message).collect();
        assert_eq!(
            errors,
            ["migrations/releases.toml:4: tag `v0.2.0` names revision `b1`, which no revision file defines"]
        );
        assert_eq!(analysis.history.tags().map(|(name, _)| name).collect::<Vec<_>>(), ["v0.1.0"]);
        assert_eq!(analysis.releases.unwrap().tags.len(), 2);
    }

    #[test]
    fn tag_names() {
        for good in ["v0.3.0", "0.3.0", "v1.0.0-rc.1", "2026.11", "v1.0+build.5", "release_1.2"] {
            assert_eq!(tag_name_problem(good), None, "{good}");
        }
        for bad in ["v1", "head", ".1", "-v1.0", "v1.0:v2.0", "v1.0@head", "v 1.0", "v1.0\u{e9}", ""] {
            assert!(tag_name_problem(bad).is_some(), "{bad}");
        }
        assert!(tag_name_problem(&format!("v1.{}", "0".repeat(MAX_TAG_LEN))).is_some());
    }

    #[test]
    fn add_tag_keeps_the_file_and_creates_it() {
        let created = add_tag(None, "v0.1.0", &["a1".into()]).unwrap();
        assert_eq!(created, format!("{HEADER}version = 1\n\n[tags]\n\"v0.1.0\" = [\"a1\"]\n"));
        let (file, problems) = parse(&created);
        assert!(problems.is_empty());
        assert_eq!(file.get("v0.1.0").unwrap().heads, ["a1"]);

        let edited = "# ours\nversion = 1\n\n[tags]\n# the first\n\"v0.1.0\" = [ \"a1\" ]\n";
        assert_eq!(
            add_tag(Some(edited), "v0.2.0", &["b1".into(), "c1".into()]).unwrap(),
            "# ours\nversion = 1\n\n[tags]\n# the first\n\"v0.1.0\" = [ \"a1\" ]\n\"v0.2.0\" = [\"b1\", \"c1\"]\n"
        );
        assert_eq!(
            add_tag(Some(edited), "0.1.0", &["b1".into()]),
            Err(Problem::DuplicateTag { name: "0.1.0".into(), other: "v0.1.0".into() })
        );
        assert_eq!(add_tag(None, "v1", &[]), Err(Problem::InvalidTagName { name: "v1".into() }));
    }
}
