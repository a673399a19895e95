//! The revision graph: parents, children, heads, bases, and a deterministic
//! topological order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use crate::{Diagnostic, Problem, Revision};

/// A history of revisions, indexed in topological order.
///
/// Built from whatever revisions parsed; problems in the graph are returned
/// beside it by [`History::build`], so callers can still list and inspect a
/// broken history.
///
/// ```
/// use migrate_history::{Options, SourceFile, load::Sources};
///
/// let file = |id: &str, parents: &str| {
///     let text = format!("-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n\n\
///                         -- migrate:up\nSELECT 1;\n");
///     SourceFile::new(format!("migrations/{id}.sql"), text)
/// };
/// // `a`, two branches `b` and `c`, and `m`, which merges them.
/// let revisions = vec![file("m", "b, c"), file("c", "a"), file("b", "a"), file("a", "")];
/// let history = migrate_history::analyze(Sources { revisions, ..Sources::default() }, Options::default()).history;
///
/// // Positions follow the topological order, whatever the files' order.
/// let order: Vec<&str> = history.revisions().iter().map(|r| r.id.as_str()).collect();
/// assert_eq!(order, ["a", "b", "c", "m"]);
/// assert_eq!(history.ids(&history.heads()), ["m"]);
/// assert_eq!(history.ids(&history.bases()), ["a"]);
/// let m = history.index_of("m").unwrap();
/// assert!(history.is_merge_point(m));
/// assert_eq!(history.ids(history.parents(m)), ["b", "c"]);
/// assert_eq!(history.get("b").map(|r| r.parents.clone()), Some(vec!["a".to_owned()]));
/// assert!(history.get("zz").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Topological order: every revision comes after its parents and dependencies.
    revisions: Vec<Revision>,
    index: IdMap<usize>,
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
    dependencies: Vec<Vec<usize>>,
    labels: HashMap<String, usize>,
    /// Release tags (`releases.toml`) and their heads, in topological order.
    tags: BTreeMap<String, Vec<usize>>,
    /// Per position: the baseline (`replaces` header) that stands for it.
    replaced_by: Vec<Option<usize>>,
    /// Per position: what a baseline replaces, in topological order (empty
    /// for every other revision).
    replaces: Vec<Vec<usize>>,
    /// Ids a pruned baseline replaced, whose files are gone: the baseline's position.
    pruned: HashMap<String, usize>,
}

impl History {
    /// Builds the graph, reporting duplicate ids, missing parents and
    /// dependencies, cycles and branch-label clashes.
    ///
    /// `revisions` should be sorted by path so that which duplicate is kept is
    /// deterministic (the first).
    pub fn build(revisions: Vec<Revision>) -> (History, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();

        // Duplicate ids: keep the first, report both files. The revisions
        // are not copied (`retain` here and the reordering below move them
        // in place): 10,000 of them are 4.5 MB of fresh pages a copy.
        let mut revisions = revisions;
        let mut first_by_id: IdMap<usize> = IdMap::with_capacity_and_hasher(revisions.len(), Default::default());
        let mut keep = Vec::with_capacity(revisions.len());
        for (i, rev) in revisions.iter().enumerate() {
            if let Some(&first) = first_by_id.get(&rev.id) {
                let first = &revisions[first];
                diagnostics.push(at_word(
                    rev,
                    rev.lines.revision,
                    &rev.id,
                    Problem::DuplicateRevision { id: rev.id.clone(), other: first.file.path.display().to_string() },
                ));
                diagnostics.push(at_word(
                    first,
                    first.lines.revision,
                    &rev.id,
                    Problem::DuplicateRevision { id: rev.id.clone(), other: rev.file.path.display().to_string() },
                ));
                keep.push(false);
            } else {
                first_by_id.insert(rev.id.clone(), i);
                keep.push(true);
            }
        }
        if keep.contains(&false) {
            // Positions among the kept revisions.
            let mut kept_before = Vec::with_capacity(keep.len());
            let mut count = 0;
            for &kept in &keep {
                kept_before.push(count);
                count += usize::from(kept);
            }
            first_by_id.values_mut().for_each(|i| *i = kept_before[*i]);
            let mut keep = keep.into_iter();
            revisions.retain(|_| keep.next().unwrap_or(true));
        }
        let kept = revisions;

        // A baseline none of whose replaced files is left was pruned
        // (`squash --prune`): what named one of them as a parent or
        // dependency builds on the baseline, which now stands alone.
        let mut pruned: HashMap<String, usize> = HashMap::new();
        for (b, rev) in kept.iter().enumerate() {
            if !rev.replaces.is_empty() && rev.replaces.iter().all(|id| !first_by_id.contains_key(id)) {
                for id in &rev.replaces {
                    pruned.entry(id.clone()).or_insert(b);
                }
            }
        }

        // Edges, in the order of `kept`.
        let resolve = |rev: &Revision, ids: &[String], line: usize, missing: fn(String, String) -> Problem| {
            let mut found = Vec::with_capacity(ids.len());
            let mut problems = Vec::new();
            for other in ids {
                match first_by_id.get(other) {
                    Some(&i) if found.contains(&i) => problems.push(at_word(
                        rev,
                        line,
                        other,
                        Problem::RepeatedReference { id: rev.id.clone(), other: other.clone() },
                    )),
                    Some(&i) => found.push(i),
                    None => match pruned.get(other) {
                        Some(&b) if b != first_by_id[&rev.id] && !found.contains(&b) => found.push(b),
                        _ => problems.push(at_word(rev, line, other, missing(rev.id.clone(), other.clone()))),
                    },
                }
            }
            (found, problems)
        };
        let mut parents = Vec::with_capacity(kept.len());
        let mut dependencies = Vec::with_capacity(kept.len());
        for rev in &kept {
            let (p, mut problems) =
                resolve(rev, &rev.parents, rev.lines.parents, |id, parent| Problem::MissingParent { id, parent });
            diagnostics.append(&mut problems);
            let (d, mut problems) = resolve(rev, &rev.depends_on, rev.lines.depends_on, |id, dependency| {
                Problem::MissingDependency { id, dependency }
            });
            diagnostics.append(&mut problems);
            parents.push(p);
            dependencies.push(d);
        }

        // Baselines: each valid one is ordered after what it replaces and
        // before what builds on that, so index order stays an upgrade order.
        let replaces = baselines(&kept, &first_by_id, &pruned, &parents, &dependencies, &mut diagnostics);
        let mut after = vec![Vec::new(); kept.len()];
        for (b, members) in replaces.iter().enumerate().filter(|(_, m)| !m.is_empty()) {
            after[b].extend(members.iter().copied());
            let mut member = vec![false; kept.len()];
            members.iter().for_each(|&m| member[m] = true);
            for (c, links) in parents.iter().zip(&dependencies).enumerate() {
                if c != b && !member[c] && links.0.iter().chain(links.1).any(|&p| member[p]) {
                    after[c].push(b);
                }
            }
        }
        let order = topological_order(&kept, &parents, &dependencies, &after, &mut diagnostics);

        // Reorder everything so that index == topological position.
        let mut position = vec![0; kept.len()];
        for (pos, &old) in order.iter().enumerate() {
            position[old] = pos;
        }
        let (mut revisions, mut parents, mut dependencies, mut replaces) = (kept, parents, dependencies, replaces);
        permute_in_place(&mut revisions, &order);
        for lists in [&mut parents, &mut dependencies, &mut replaces] {
            permute_in_place(lists, &order);
            for list in lists.iter_mut() {
                list.iter_mut().for_each(|i| *i = position[*i]);
            }
        }
        replaces.iter_mut().for_each(|members| members.sort_unstable());
        // The innermost baseline: nested ones replace fewer.
        let mut replaced_by: Vec<Option<usize>> = vec![None; revisions.len()];
        for (b, members) in replaces.iter().enumerate() {
            for &m in members {
                if replaced_by[m].is_none_or(|other| replaces[other].len() > members.len()) {
                    replaced_by[m] = Some(b);
                }
            }
        }
        // Each list allocated once, at its size.
        let mut child_counts = vec![0; revisions.len()];
        for ps in &parents {
            for &parent in ps {
                child_counts[parent] += 1;
            }
        }
        let mut children: Vec<Vec<usize>> = child_counts.into_iter().map(Vec::with_capacity).collect();
        for (child, ps) in parents.iter().enumerate() {
            for &parent in ps {
                children[parent].push(child);
            }
        }
        // The same ids, at their new positions.
        let mut index = first_by_id;
        index.values_mut().for_each(|i| *i = position[*i]);

        let mut labels: HashMap<String, usize> = HashMap::new();
        for (i, rev) in revisions.iter().enumerate() {
            for label in &rev.branch_labels {
                let problem = if index.contains_key(label) {
                    Some(Problem::BranchLabelIsRevisionId { label: label.clone() })
                } else if let Some(&other) = labels.get(label) {
                    Some(Problem::DuplicateBranchLabel {
                        label: label.clone(),
                        other: revisions[other].file.path.display().to_string(),
                    })
                } else {
                    labels.insert(label.clone(), i);
                    None
                };
                if let Some(problem) = problem {
                    diagnostics.push(at_word(rev, rev.lines.branch_labels, label, problem));
                }
            }
        }

        let pruned = pruned.into_iter().map(|(id, b)| (id, position[b])).collect();
        let history = History {
            revisions,
            index,
            parents,
            children,
            dependencies,
            labels,
            tags: BTreeMap::new(),
            replaced_by,
            replaces,
            pruned,
        };
        (history, diagnostics)
    }

    /// Number of revisions.
    pub fn len(&self) -> usize {
        self.revisions.len()
    }

    /// Whether the history has no revision at all.
    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }

    /// Every revision, in topological order (oldest first).
    pub fn revisions(&self) -> &[Revision] {
        &self.revisions
    }

    /// The revision at a position of the topological order.
    pub fn revision(&self, index: usize) -> &Revision {
        &self.revisions[index]
    }

    /// The position of a revision id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The revision with exactly this id.
    pub fn get(&self, id: &str) -> Option<&Revision> {
        self.index_of(id).map(|i| &self.revisions[i])
    }

    /// The revision carrying a branch label.
    pub fn labelled(&self, label: &str) -> Option<usize> {
        self.labels.get(label).copied()
    }

    /// Tags this history as a release whose heads were `heads` (revision
    /// ids). Returns the problems instead when the name is not a tag name,
    /// names the same release as a tag it has, or the list is empty or names
    /// a revision the history does not have.
    pub fn add_tag(&mut self, name: &str, heads: &[String]) -> Vec<Problem> {
        let mut problems: Vec<Problem> = crate::releases::tag_name_problem(name).into_iter().collect();
        if let Some(other) = self.tags.keys().find(|other| crate::releases::same_release(other, name)) {
            problems.push(Problem::DuplicateTag { name: name.to_owned(), other: other.clone() });
        }
        if heads.is_empty() {
            problems.push(Problem::EmptyTag { tag: name.to_owned() });
        }
        let mut found = Vec::with_capacity(heads.len());
        for id in heads {
            match self.index_of(id) {
                Some(i) => found.push(i),
                None => problems.push(Problem::UnknownTagRevision { tag: name.to_owned(), id: id.clone() }),
            }
        }
        if problems.is_empty() {
            found.sort_unstable();
            found.dedup();
            self.tags.insert(name.to_owned(), found);
        }
        problems
    }

    /// Every tag with its heads, sorted by name.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &[usize])> {
        self.tags.iter().map(|(name, heads)| (name.as_str(), heads.as_slice()))
    }

    /// The heads of a tag: the one named exactly so, else the one that
    /// differs by a leading `v` (`0.3.0` finds `v0.3.0`, and `v0.3.0` finds `0.3.0`).
    pub fn tag_heads(&self, name: &str) -> Option<&[usize]> {
        let toggled = match name.strip_prefix('v') {
            Some(bare) => bare.to_owned(),
            None => format!("v{name}"),
        };
        self.tags.get(name).or_else(|| self.tags.get(&toggled)).map(Vec::as_slice)
    }

    /// Parents of a revision, in header order.
    pub fn parents(&self, index: usize) -> &[usize] {
        &self.parents[index]
    }

    /// Children of a revision, in topological order.
    pub fn children(&self, index: usize) -> &[usize] {
        &self.children[index]
    }

    /// `depends-on` revisions of a revision.
    pub fn dependencies(&self, index: usize) -> &[usize] {
        &self.dependencies[index]
    }

    /// Revisions nothing descends from, in topological order. A baseline
    /// is never one: it stands for the revisions it replaces, whose last
    /// one is where the branch goes on.
    pub fn heads(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.is_head(i)).collect()
    }

    /// Revisions with no parent (baselines aside, which stand for others).
    pub fn bases(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.parents[i].is_empty() && !self.is_baseline(i)).collect()
    }

    /// The baseline that stands for revision `index`, when a baseline
    /// (`replaces` header, written by `cargo migrate squash`) replaces it:
    /// the innermost one when baselines nest (see [`History::enclosing`]).
    pub fn replaced_by(&self, index: usize) -> Option<usize> {
        self.replaced_by.get(index).copied().flatten()
    }

    /// Every baseline that stands for revision `index`, innermost first:
    /// a second `squash` over an earlier baseline replaces that baseline
    /// and, with it, everything it replaces.
    pub fn enclosing(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(self.replaced_by(index), move |&b| self.replaced_by(b))
    }

    /// What the baseline at `index` replaces, in topological order; empty
    /// for a revision that is not a baseline. A baseline over an earlier
    /// one replaces that one and everything it replaces (flattened).
    pub fn replaced(&self, index: usize) -> &[usize] {
        self.replaces.get(index).map_or(&[], Vec::as_slice)
    }

    /// The baseline that replaced `id`, a revision whose file `squash
    /// --prune` deleted: a database's row for it is that baseline's.
    pub fn pruned_into(&self, id: &str) -> Option<usize> {
        self.pruned.get(id).copied()
    }

    /// Whether the revision at `index` is a baseline standing for others.
    pub fn is_baseline(&self, index: usize) -> bool {
        !self.replaced(index).is_empty()
    }

    /// The last revision a baseline replaces: the one later revisions name
    /// as their parent.
    pub fn baseline_tip(&self, baseline: usize) -> Option<usize> {
        self.replaced(baseline).last().copied()
    }

    /// Whether more than one revision has this one as a parent.
    pub fn is_branch_point(&self, index: usize) -> bool {
        self.children[index].len() > 1
    }

    /// Whether this revision has more than one parent.
    pub fn is_merge_point(&self, index: usize) -> bool {
        self.parents[index].len() > 1
    }

    /// Whether a revision is a head.
    pub fn is_head(&self, index: usize) -> bool {
        self.children[index].is_empty() && !self.is_baseline(index)
    }

    /// Marks `from` and everything they need first (parents and dependencies,
    /// transitively).
    pub fn ancestors(&self, from: &[usize]) -> Vec<bool> {
        self.walk_up(from, true)
    }

    /// Marks `from` and everything that needs them (children and dependents,
    /// transitively).
    pub fn descendants(&self, from: &[usize]) -> Vec<bool> {
        self.walk_down(from, true)
    }

    /// `from` and what it is built on by parent links only (a branch's own
    /// history), leaving `depends-on` links out.
    pub fn branch_ancestors(&self, from: &[usize]) -> Vec<bool> {
        self.walk_up(from, false)
    }

    /// Marks `from` and everything built on them by parent links alone: the
    /// branch above them. A `depends-on` link orders revisions without
    /// making one part of the other's branch (as in Alembic), so this is
    /// what `label@head` and "what a downgrade steps back over" follow.
    pub fn branch_descendants(&self, from: &[usize]) -> Vec<bool> {
        self.walk_down(from, false)
    }

    /// The links a walk follows from revision `i` towards what it needs.
    fn links(&self, i: usize, dependencies: bool) -> impl Iterator<Item = usize> + '_ {
        let needed: &[usize] = if dependencies { &self.dependencies[i] } else { &[] };
        self.parents[i].iter().chain(needed).copied()
    }

    fn walk_up(&self, from: &[usize], dependencies: bool) -> Vec<bool> {
        let mut marked = self.marks(from);
        // Topological order: walking backwards visits a node before its ancestors.
        for i in (0..self.len()).rev() {
            if marked[i] {
                for p in self.links(i, dependencies) {
                    marked[p] = true;
                }
            }
        }
        marked
    }

    fn walk_down(&self, from: &[usize], dependencies: bool) -> Vec<bool> {
        let mut marked = self.marks(from);
        for i in 0..self.len() {
            if !marked[i] && self.links(i, dependencies).any(|p| marked[p]) {
                marked[i] = true;
            }
        }
        marked
    }

    fn marks(&self, from: &[usize]) -> Vec<bool> {
        let mut marked = vec![false; self.len()];
        for &i in from {
            marked[i] = true;
        }
        marked
    }

    /// Ids of the given positions.
    pub fn ids(&self, indices: &[usize]) -> Vec<String> {
        indices.iter().map(|&i| self.revisions[i].id.clone()).collect()
    }

    /// An error when the history has more than one head.
    pub fn multiple_heads(&self) -> Option<Diagnostic> {
        let heads = self.heads();
        if heads.len() < 2 {
            return None;
        }
        let first = &self.revisions[heads[0]];
        let named = heads
            .iter()
            .map(|&h| format!("{} ({})", self.revisions[h].id, self.revisions[h].file.path.display()))
            .collect();
        Some(at_word(first, first.lines.revision, &first.id, Problem::MultipleHeads { heads: named }))
    }
}

/// An error on `line` of `rev`'s file, pointing at `word` there when it stands on it.
pub(crate) fn at_word(rev: &Revision, line: usize, word: &str, problem: Problem) -> Diagnostic {
    let diagnostic = Diagnostic::error(&rev.file.path, Some(line), problem);
    match rev.span_of(line, word) {
        Some(span) => diagnostic.with_span(span),
        None => diagnostic,
    }
}

/// Per revision (positions of `kept`): what it replaces when it is a
/// baseline whose set is valid, else nothing (with the problems). A valid
/// set is one revision (the tip) and everything it needs, except what the
/// baseline's own parents and dependencies need; nothing outside the set
/// builds on a member other than the tip.
///
/// Baselines nest: an outer baseline (a second `squash` over an earlier
/// one) lists the inner baseline and everything that one replaces, so a
/// revision may be replaced by several baselines when each is a member of
/// the next. Ids a pruned inner baseline replaced (their files deleted)
/// may stay on the outer one's line. Any other revision replaced twice is
/// an error.
fn baselines(
    kept: &[Revision],
    first_by_id: &IdMap<usize>,
    pruned: &HashMap<String, usize>,
    parents: &[Vec<usize>],
    dependencies: &[Vec<usize>],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Vec<usize>> {
    let mut replaces = vec![Vec::new(); kept.len()];
    if kept.iter().all(|rev| rev.replaces.is_empty()) {
        return replaces;
    }
    let needs = |from: &[usize]| {
        let mut seen = vec![false; kept.len()];
        let mut stack: Vec<usize> = from.to_vec();
        while let Some(i) = stack.pop() {
            for &p in parents[i].iter().chain(&dependencies[i]) {
                if !seen[p] {
                    seen[p] = true;
                    stack.push(p);
                }
            }
        }
        seen
    };
    // First every baseline's members, so that nesting can be told from
    // a revision replaced twice whatever the files' order.
    let mut listed: Vec<(usize, Vec<usize>, Vec<Diagnostic>)> = Vec::new();
    for (b, rev) in kept.iter().enumerate().filter(|(_, rev)| !rev.replaces.is_empty()) {
        if rev.replaces.iter().all(|id| !first_by_id.contains_key(id)) {
            continue; // Pruned: it stands alone.
        }
        let line = rev.lines.replaces;
        let mut problems = Vec::new();
        let mut members = Vec::new();
        let mut listed_here = HashSet::new();
        for id in &rev.replaces {
            match first_by_id.get(id) {
                // Replaced by a pruned baseline this one replaces too.
                None if pruned.get(id).is_some_and(|&p| p != b && rev.replaces.contains(&kept[p].id)) => {}
                None => problems.push(at_word(
                    rev,
                    line,
                    id,
                    Problem::ReplacedMissing { id: rev.id.clone(), replaced: id.clone() },
                )),
                Some(&m) if m == b => problems.push(at_word(
                    rev,
                    line,
                    id,
                    Problem::BaselineNotClosed { id: rev.id.clone(), why: "it replaces itself".into() },
                )),
                Some(&m) if listed_here.contains(&m) => problems.push(at_word(
                    rev,
                    line,
                    id,
                    Problem::RepeatedReference { id: rev.id.clone(), other: id.clone() },
                )),
                Some(&m) => {
                    listed_here.insert(m);
                    members.push(m);
                }
            }
        }
        listed.push((b, members, problems));
    }
    // One baseline nests in another when the other lists it and everything
    // it lists: decided once per pair of baselines, with each set hashed
    // (asked of every member, it made a nested squash of 1,000 revisions
    // cost a third of a second).
    let sets: HashMap<usize, HashSet<usize>> =
        listed.iter().map(|(b, members, _)| (*b, members.iter().copied().collect())).collect();
    let nests: HashSet<(usize, usize)> = listed
        .iter()
        .flat_map(|&(inner, ref inner_members, _)| {
            let lists_all =
                move |set: &HashSet<usize>| set.contains(&inner) && inner_members.iter().all(|m| set.contains(m));
            sets.iter()
                .filter(move |&(&outer, set)| outer != inner && lists_all(set))
                .map(move |(&outer, _)| (inner, outer))
        })
        .collect();
    let nested = |inner: usize, outer: usize| nests.contains(&(inner, outer));
    let mut owner: HashMap<usize, Vec<usize>> = HashMap::new();
    for (b, members, problems) in &mut listed {
        let (b, rev) = (*b, &kept[*b]);
        let line = rev.lines.replaces;
        let closed =
            |why: String, word: &str| at_word(rev, line, word, Problem::BaselineNotClosed { id: rev.id.clone(), why });
        for &m in members.iter() {
            let owners = owner.entry(m).or_default();
            if let Some(&other) = owners.iter().find(|&&o| !nested(o, b) && !nested(b, o)) {
                problems.push(at_word(
                    rev,
                    line,
                    &kept[m].id,
                    Problem::ReplacedTwice {
                        id: rev.id.clone(),
                        replaced: kept[m].id.clone(),
                        other: kept[other].id.clone(),
                    },
                ));
            }
            owners.push(b);
        }
        if problems.is_empty() {
            // An inner baseline is no revision to build on: its set is.
            let inner = |m: usize| !kept[m].replaces.is_empty() && nested(m, b);
            let tips: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&t| !inner(t))
                .filter(|&t| {
                    let needed = needs(&[t]);
                    members.iter().all(|&m| m == t || needed[m] || inner(m))
                })
                .collect();
            match tips.first() {
                None => problems.push(closed(
                    "no replaced revision needs all the others (the set spans separate branches)".into(),
                    "",
                )),
                Some(&tip) => {
                    let own: Vec<usize> = parents[b].iter().chain(&dependencies[b]).copied().collect();
                    let mut outside = needs(&own);
                    for &o in &own {
                        outside[o] = true;
                    }
                    let needed = needs(&[tip]);
                    let set = &sets[&b];
                    if let Some(m) = own.iter().find(|o| set.contains(o)) {
                        problems.push(closed(format!("its own parents name the replaced `{}`", kept[*m].id), ""));
                    }
                    if let Some(x) = (0..kept.len()).find(|&x| needed[x] && !set.contains(&x) && !outside[x]) {
                        problems.push(closed(
                            format!(
                                "`{}` needs `{}`, which it does not replace (nor is it the baseline's parent)",
                                kept[tip].id, kept[x].id
                            ),
                            "",
                        ));
                    }
                    let builds_on = (0..kept.len()).find_map(|c| {
                        if c == b || set.contains(&c) {
                            return None;
                        }
                        let links = parents[c].iter().chain(&dependencies[c]);
                        links.copied().find(|&p| p != tip && set.contains(&p)).map(|p| (c, p))
                    });
                    if let Some((c, p)) = builds_on {
                        problems.push(closed(
                            format!(
                                "`{}` builds on the replaced `{}`, which is not the last replaced revision `{}`",
                                kept[c].id, kept[p].id, kept[tip].id
                            ),
                            "",
                        ));
                    }
                }
            }
        }
    }
    for (b, members, mut problems) in listed {
        if problems.is_empty() {
            replaces[b] = members;
        } else {
            diagnostics.append(&mut problems);
        }
    }
    replaces
}

/// Kahn's algorithm, taking the smallest id among the ready revisions so the
/// order does not depend on file-system order. Revisions caught in cycles are
/// reported and appended at the end in id order.
fn topological_order(
    revisions: &[Revision],
    parents: &[Vec<usize>],
    dependencies: &[Vec<usize>],
    after: &[Vec<usize>],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<usize> {
    let n = revisions.len();
    let mut waiting_on = vec![0usize; n];
    // Each list allocated once, at its size.
    let mut counts = vec![0; n];
    for lists in [parents, dependencies, after] {
        for list in lists {
            for &p in list {
                counts[p] += 1;
            }
        }
    }
    let mut dependents: Vec<Vec<usize>> = counts.into_iter().map(Vec::with_capacity).collect();
    for i in 0..n {
        for &p in parents[i].iter().chain(&dependencies[i]).chain(&after[i]) {
            waiting_on[i] += 1;
            dependents[p].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<(&str, usize)>> =
        (0..n).filter(|&i| waiting_on[i] == 0).map(|i| Reverse((revisions[i].id.as_str(), i))).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &d in &dependents[i] {
            waiting_on[d] -= 1;
            if waiting_on[d] == 0 {
                ready.push(Reverse((revisions[d].id.as_str(), d)));
            }
        }
    }
    if order.len() == n {
        return order;
    }

    // Every revision left waits, directly or not, on a cycle.
    let mut stuck: Vec<usize> = (0..n).filter(|&i| waiting_on[i] > 0).collect();
    stuck.sort_by(|&a, &b| revisions[a].id.cmp(&revisions[b].id));
    let mut reported = vec![false; n];
    for &start in &stuck {
        if reported[start] {
            continue;
        }
        if let Some(cycle) = find_cycle(start, parents, dependencies, &waiting_on) {
            if cycle.iter().any(|&i| reported[i]) {
                continue;
            }
            for &i in &cycle {
                reported[i] = true;
            }
            // Start the cycle at its smallest id so the message is stable.
            let lowest = (0..cycle.len()).min_by_key(|&k| &revisions[cycle[k]].id).unwrap_or(0);
            let mut ids: Vec<String> =
                cycle[lowest..].iter().chain(&cycle[..lowest]).map(|&i| revisions[i].id.clone()).collect();
            ids.push(ids[0].clone());
            let first = &revisions[cycle[lowest]];
            diagnostics.push(Diagnostic::error(
                &first.file.path,
                Some(first.lines.parents),
                Problem::Cycle { cycle: ids },
            ));
        }
    }
    order.extend(stuck);
    order
}

/// Follows parent edges from `start` among stuck revisions until one repeats.
/// Returns the cycle in child-to-parent order.
fn find_cycle(
    start: usize,
    parents: &[Vec<usize>],
    dependencies: &[Vec<usize>],
    waiting_on: &[usize],
) -> Option<Vec<usize>> {
    let mut path = vec![start];
    let mut on_path = HashMap::from([(start, 0usize)]);
    let mut current = start;
    loop {
        // Any stuck predecessor keeps us inside the stuck set, which has a cycle upstream.
        let next = parents[current].iter().chain(&dependencies[current]).copied().find(|&p| waiting_on[p] > 0)?;
        if let Some(&at) = on_path.get(&next) {
            return Some(path[at..].to_vec());
        }
        on_path.insert(next, path.len());
        path.push(next);
        current = next;
    }
}

/// Builds histories from compact specs such as `["a:", "b:a", "m:b,c"]`.
/// A map keyed by revision id, hashed with FxHash (as rustc's maps are):
/// ids are short and come from one's own migrations directory, so SipHash's
/// defence against chosen keys buys nothing, and in the debug builds that
/// build scripts run as it was most of [`History::build`].
type IdMap<V> = HashMap<String, V, std::hash::BuildHasherDefault<IdHasher>>;

#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buffer = [0; 8];
            buffer.copy_from_slice(word);
            self.add(u64::from_le_bytes(buffer));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut buffer = [0; 8];
            buffer[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buffer));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        // The multiplication leaves the high bits mixed and the low ones not;
        // hashbrown picks buckets by the low bits (as rustc-hash 2 does).
        self.0.rotate_left(26)
    }
}

/// Reorders `items` so that `items[new]` is what was at `order[new]`, by
/// swaps along the permutation's cycles: nothing is copied, and an order
/// that is already right moves nothing.
pub(crate) fn permute_in_place<T>(items: &mut [T], order: &[usize]) {
    let mut done = vec![false; items.len()];
    for start in 0..items.len() {
        if done[start] {
            continue;
        }
        // Position `at` takes what was at `order[at]`; follow the cycle.
        let mut at = start;
        loop {
            done[at] = true;
            let from = order[at];
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
pub(crate) fn history_of(spec: &[&str]) -> (History, Vec<String>) {
    let revisions = spec
        .iter()
        .map(|line| {
            let (id, parents) = line.split_once(':').expect("id:parents");
            let (parents, replaces) = parents.split_once(" replaces ").unwrap_or((parents, ""));
            let (parents, deps) = parents.split_once(" after ").unwrap_or((parents, ""));
            let replaces = if replaces.is_empty() { String::new() } else { format!("-- replaces: {replaces}\n") };
            let text = format!(
                "-- revision: {id}\n-- parents: {parents}\n-- message: rev {id}\n-- depends-on: {deps}\n{replaces}\n-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n"
            );
            crate::parse_revision(crate::SourceFile::new(format!("m/{id}.sql"), text)).expect("valid spec")
        })
        .collect();
    let (history, diagnostics) = History::build(revisions);
    (history, diagnostics.iter().map(Diagnostic::message).collect())
}

#[cfg(test)]
mod tests {
    use super::history_of;

    #[test]
    fn permuting_in_place_puts_each_item_where_the_order_says() {
        for order in [vec![], vec![0], vec![0, 1, 2, 3], vec![1, 2, 0, 3], vec![3, 2, 1, 0], vec![2, 0, 4, 1, 3]] {
            let mut items: Vec<String> = (0..order.len()).map(|i| format!("r{i}")).collect();
            let expected: Vec<String> = order.iter().map(|&old| items[old].clone()).collect();
            super::permute_in_place(&mut items, &order);
            assert_eq!(items, expected, "{order:?}");
        }
    }

    fn ids(h: &super::History, list: &[usize]) -> String {
        h.ids(list).join(" ")
    }

    #[test]
    fn branch_and_merge() {
        let (h, problems) = history_of(&["m:b,c", "c:a", "b:a", "a:", "d:m"]);
        assert!(problems.is_empty());
        let order: Vec<&str> = h.revisions().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["a", "b", "c", "m", "d"]);
        assert_eq!(ids(&h, &h.heads()), "d");
        assert_eq!(ids(&h, &h.bases()), "a");
        assert!(h.is_branch_point(h.index_of("a").unwrap()));
        assert!(h.is_merge_point(h.index_of("m").unwrap()));
        assert!(h.multiple_heads().is_none());
    }

    #[test]
    fn dependencies_order_but_do_not_join_branches() {
        let (h, problems) = history_of(&["a:", "x:", "b:a after y", "y:x"]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(ids(&h, &h.heads()), "y b", "heads come in topological order");
        let pos = |id| h.index_of(id).unwrap();
        assert!(pos("y") < pos("b"));
        assert_eq!(
            h.multiple_heads().unwrap().message(),
            "m/y.sql:1: the history has 2 heads: y (m/y.sql), b (m/b.sql)"
        );
    }

    #[test]
    fn reports_every_graph_problem() {
        let (h, problems) = history_of(&["a:", "b:zz", "c:d", "d:e", "e:c", "f:a after nope"]);
        assert_eq!(
            problems,
            [
                "m/b.sql:2: revision `b` names parent `zz`, which no revision file defines",
                "m/f.sql:4: revision `f` depends on `nope`, which no revision file defines",
                "m/c.sql:2: the revisions form a cycle: c -> d -> e -> c",
            ]
        );
        assert_eq!(h.len(), 6, "a broken history still lists every revision");
    }

    #[test]
    fn duplicate_ids_name_both_files() {
        let revisions = ["one", "two"]
            .iter()
            .map(|name| {
                crate::parse_revision(crate::SourceFile::new(
                    format!("m/{name}.sql"),
                    "-- revision: a\n-- parents:\n-- message: m\n\n-- migrate:up\n",
                ))
                .unwrap()
            })
            .collect();
        let (h, problems) = super::History::build(revisions);
        let messages: Vec<String> = problems.iter().map(|d| d.message()).collect();
        assert_eq!(
            messages,
            [
                "m/two.sql:1: revision id `a` is also defined in m/one.sql",
                "m/one.sql:1: revision id `a` is also defined in m/two.sql",
            ]
        );
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn ancestors_and_descendants() {
        let (h, _) = history_of(&["a:", "b:a", "c:a", "m:b,c", "x:"]);
        let mark = |m: Vec<bool>| -> String {
            (0..h.len()).filter(|&i| m[i]).map(|i| h.revision(i).id.clone()).collect::<Vec<_>>().join(" ")
        };
        assert_eq!(mark(h.ancestors(&[h.index_of("m").unwrap()])), "a b c m");
        assert_eq!(mark(h.descendants(&[h.index_of("b").unwrap()])), "b m");
    }

    #[test]
    fn a_branch_is_its_parent_links_only() {
        // `y` needs `b` first but is not built on it.
        let (h, _) = history_of(&["a:", "b:a", "c:b", "x:", "y:x after b"]);
        let mark = |m: Vec<bool>| -> String {
            (0..h.len()).filter(|&i| m[i]).map(|i| h.revision(i).id.clone()).collect::<Vec<_>>().join(" ")
        };
        let b = h.index_of("b").unwrap();
        assert_eq!(mark(h.branch_descendants(&[b])), "b c");
        assert_eq!(mark(h.descendants(&[b])), "b c y");
    }
}
