//! Plans: which revisions an upgrade applies and a downgrade reverts, in
//! which order, given the set a database has applied.

use crate::History;

/// Which way a plan goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Applies revisions, oldest first.
    Upgrade,
    /// Reverts revisions, newest first.
    Downgrade,
}

/// Revisions to apply (topological order) or revert (reverse order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Whether the steps are applied or reverted.
    pub direction: Direction,
    /// Positions in the history, in execution order.
    pub steps: Vec<usize>,
    /// Steps whose SQL does not run: only their version-table row is
    /// written (upgrade) or deleted (downgrade). A baseline whose replaced
    /// revisions a database applied one by one is recorded so.
    pub recorded: Vec<usize>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether step `index` (a history position) only records or forgets
    /// its row, running none of its SQL.
    pub fn records_only(&self, index: usize) -> bool {
        self.recorded.contains(&index)
    }
}

/// Why a downgrade cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The downgrade's target is not applied.
    #[error("`{id}` is not applied, so the database cannot be downgraded to it")]
    NotApplied {
        /// The target revision's id.
        id: String,
    },
    /// A revision the plan would revert has no down section.
    #[error("revision `{id}` ({path}) has no `-- migrate:down` section: it cannot be reverted")]
    Irreversible {
        /// The revision's id.
        id: String,
        /// Its file, as shown to the user.
        path: String,
    },
    /// The downgrade would revert part of what a baseline created in one step.
    #[error(
        "the downgrade would revert `{inside}`, which baseline `{baseline}` created together with the other revisions it replaces"
    )]
    SplitsBaseline {
        /// The baseline's id.
        baseline: String,
        /// A replaced revision the plan would revert alone.
        inside: String,
        /// The last revision the baseline replaces.
        tip: String,
    },
}

impl PlanError {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            PlanError::NotApplied { .. } => "`cargo migrate current` shows what is applied; `upgrade` moves forward",
            PlanError::Irreversible { .. } => {
                "add a `-- migrate:down` section to the revision, or downgrade to a target above it"
            }
            PlanError::SplitsBaseline { .. } => {
                "a database upgraded through a baseline goes down no further than the baseline's last replaced revision (the target it names), or to base as a whole when the baseline has a down section"
            }
        }
    }
}

impl History {
    /// `recorded` (per position: the database has a row for it) with every
    /// revision a recorded baseline stands for marked too: what the
    /// database has, in effect, applied.
    pub fn covered(&self, recorded: &[bool]) -> Vec<bool> {
        let mut applied = recorded.to_vec();
        for b in (0..self.len()).filter(|&b| recorded[b]) {
            for &m in self.replaced(b) {
                applied[m] = true;
            }
        }
        applied
    }

    /// The applied revisions that no applied revision builds on: what a
    /// database "is at". A recorded baseline counts as its replaced
    /// revisions, so a database upgraded through one is at their tip.
    pub fn applied_heads(&self, recorded: &[bool]) -> Vec<usize> {
        let applied = self.covered(recorded);
        (0..self.len())
            .filter(|&i| applied[i] && !self.is_baseline(i) && !self.children(i).iter().any(|&c| applied[c]))
            .collect()
    }

    /// Marks as needed each baseline whose whole set `needed` holds: an
    /// inner baseline (index order puts it first) then counts for the set
    /// of an outer one, which replaces it too.
    pub fn need_whole_baselines(&self, needed: &mut [bool]) {
        for b in (0..self.len()).filter(|&b| self.is_baseline(b)) {
            if self.replaced(b).iter().all(|&m| needed[m]) {
                needed[b] = true;
            }
        }
    }

    /// Everything `target` needs that is not applied yet, parents and
    /// dependencies first. `recorded` is what the database has rows for.
    ///
    /// A baseline stands for the revisions it replaces: when the target
    /// needs all of them, a database that applied none runs the baseline
    /// instead; one that applied some runs the others one by one, then
    /// records the baseline without running it ([`Plan::recorded`]), as
    /// does one that applied all of them. A target that needs only some of
    /// them (one inside the set) applies those one by one. Nested
    /// baselines: the outermost one that can take over does; inside one
    /// that is only recorded, an inner one runs or is recorded by the same
    /// rule.
    pub fn plan_upgrade(&self, recorded: &[bool], target: &[usize]) -> Plan {
        let applied = self.covered(recorded);
        let mut needed = self.ancestors(target);
        let targeted: Vec<usize> = (0..self.len()).filter(|&b| needed[b] && self.is_baseline(b)).collect();
        for b in targeted {
            for (i, is) in self.ancestors(self.replaced(b)).into_iter().enumerate() {
                needed[i] |= is;
            }
        }
        self.need_whole_baselines(&mut needed);
        let whole = |b: usize| self.replaced(b).iter().all(|&m| needed[m]);
        let started = |b: usize| self.replaced(b).iter().any(|&m| applied[m]);
        // A baseline takes over, running in place of its set, when the
        // target needs all of it and none of it is applied; what any
        // baseline around a revision takes over for is skipped.
        // Once per baseline: asked of every revision of its set.
        let takes_over: Vec<bool> = (0..self.len()).map(|b| self.is_baseline(b) && whole(b) && !started(b)).collect();
        let skipped = |i: usize| self.enclosing(i).any(|b| takes_over[b]);
        let mut plan = Plan { direction: Direction::Upgrade, steps: Vec::new(), recorded: Vec::new() };
        for i in (0..self.len()).filter(|&i| !applied[i] && !skipped(i)) {
            if self.is_baseline(i) {
                if whole(i) {
                    plan.steps.push(i);
                    if started(i) {
                        plan.recorded.push(i);
                    }
                }
            } else if needed[i] {
                plan.steps.push(i);
            }
        }
        plan
    }

    /// Reverts `from` and every applied revision that needs it, newest
    /// first: a downgrade that steps back past a branch's first revision,
    /// without touching other branches. "Needs" is transitive over parent
    /// and `depends-on` links: a revision is never left applied while
    /// something it depends on is reverted (Alembic's inclusive rule).
    pub fn plan_revert(&self, recorded: &[bool], from: &[usize]) -> Result<Plan, PlanError> {
        let applied = self.covered(recorded);
        let built_on = self.descendants(from);
        let steps: Vec<usize> = (0..self.len()).rev().filter(|&i| applied[i] && built_on[i]).collect();
        self.reversible(recorded, steps)
    }

    /// Checks that every step can be reverted, after fitting baselines in:
    /// a baseline whose replaced revisions each have their own row is
    /// forgotten (its row deleted) before they are reverted one by one; one
    /// that ran in their place is reverted as a whole, by its own down
    /// section, and only as a whole. Nested baselines: an outer one
    /// recorded over an inner one's row (and the rest of its set) is
    /// forgotten; the inner one then follows the same rule.
    fn reversible(&self, recorded: &[bool], mut steps: Vec<usize>) -> Result<Plan, PlanError> {
        let mut forget = Vec::new();
        for b in (0..self.len()).filter(|&b| recorded[b] && self.is_baseline(b)) {
            let members = self.replaced(b);
            let reverted: Vec<usize> = members.iter().copied().filter(|m| steps.contains(m)).collect();
            if reverted.is_empty() && !steps.contains(&b) {
                continue;
            }
            // Each replaced revision in effect by a row of its own, or of
            // a baseline nested inside this one.
            let on_its_own = |m: usize| recorded[m] || self.enclosing(m).take_while(|&e| e != b).any(|e| recorded[e]);
            if members.iter().all(|&m| on_its_own(m)) {
                forget.push(b);
                if !steps.contains(&b) {
                    steps.push(b);
                }
                continue;
            }
            if reverted.len() < members.len() && !steps.contains(&b) {
                let inside = reverted.first().or(members.first()).copied().unwrap_or(b);
                let tip = self.baseline_tip(b).unwrap_or(b);
                return Err(PlanError::SplitsBaseline {
                    baseline: self.revision(b).id.clone(),
                    inside: self.revision(inside).id.clone(),
                    tip: self.revision(tip).id.clone(),
                });
            }
            steps.retain(|s| !members.contains(s));
            if !steps.contains(&b) {
                steps.push(b);
            }
        }
        steps.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(&stuck) = steps.iter().find(|&&i| !forget.contains(&i) && !self.revision(i).is_reversible()) {
            let rev = self.revision(stuck);
            return Err(PlanError::Irreversible { id: rev.id.clone(), path: rev.file.path.display().to_string() });
        }
        Ok(Plan { direction: Direction::Downgrade, steps, recorded: forget })
    }

    /// Steps the database back to `target` (everything, for base), newest
    /// first, as Alembic's `downgrade` does:
    ///
    /// - what is built on `target` by parent links is reverted: its
    ///   children on the branch and everything above them;
    /// - so is every applied revision that depends (`depends-on`, directly
    ///   or through its parents) on a revision being reverted, before it;
    /// - nothing else: `target` stays applied, so a revision on another
    ///   branch that merely depends on `target` (or on one of its
    ///   ancestors) keeps its dependency and stays, and so do other
    ///   branches.
    ///
    /// In Alembic's terms: the roots are `target`'s `nextrev`, and the
    /// reverted set is their descendants with dependencies, intersected
    /// with what is applied (`RevisionMap._collect_downgrade_revisions`).
    /// Baselines: see [`History::plan_upgrade`]; one that ran in place of
    /// its replaced revisions is reverted only as a whole.
    pub fn plan_downgrade(&self, recorded: &[bool], target: &[usize]) -> Result<Plan, PlanError> {
        let applied = self.covered(recorded);
        if let Some(&missing) = target.iter().find(|&&t| !applied[t]) {
            return Err(PlanError::NotApplied { id: self.revision(missing).id.clone() });
        }
        let mut roots: Vec<usize> = target.iter().flat_map(|&t| self.children(t).iter().copied()).collect();
        roots.sort_unstable();
        roots.dedup();
        let reverted = self.descendants(&roots);
        let keep = self.ancestors(target);
        let steps: Vec<usize> =
            (0..self.len()).rev().filter(|&i| applied[i] && (target.is_empty() || (reverted[i] && !keep[i]))).collect();
        self.reversible(recorded, steps)
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::history_of;
    use crate::{History, Target};

    fn applied(h: &History, ids: &[&str]) -> Vec<bool> {
        let mut set = vec![false; h.len()];
        for id in ids {
            set[h.index_of(id).unwrap()] = true;
        }
        set
    }

    fn ids(h: &History, steps: &[usize]) -> String {
        h.ids(steps).join(" ")
    }

    #[test]
    fn upgrade_applies_what_the_target_needs_in_order() {
        let (h, _) = history_of(&["a1:", "b1:a1", "c1:a1", "m1:b1,c1", "d1:m1", "s1:"]);
        let target = h.resolve(&Target::Head, &[]).unwrap_err();
        assert!(target.to_string().contains("2 heads"));
        let heads = h.resolve(&Target::Heads, &[]).unwrap();
        assert_eq!(ids(&h, &h.plan_upgrade(&applied(&h, &[]), &heads).steps), "a1 b1 c1 m1 d1 s1");
        assert_eq!(ids(&h, &h.plan_upgrade(&applied(&h, &["a1", "b1"]), &[h.index_of("m1").unwrap()]).steps), "c1 m1");
        assert!(h.plan_upgrade(&applied(&h, &["a1", "b1"]), &[h.index_of("a1").unwrap()]).is_empty());
    }

    #[test]
    fn downgrade_reverts_what_is_built_on_the_target_newest_first() {
        let (h, _) = history_of(&["a1:", "b1:a1", "c1:a1", "m1:b1,c1", "d1:m1", "s1:"]);
        let all = applied(&h, &["a1", "b1", "c1", "m1", "d1", "s1"]);
        let to = |id: &str| vec![h.index_of(id).unwrap()];
        assert_eq!(ids(&h, &h.plan_downgrade(&all, &to("b1")).unwrap().steps), "d1 m1");
        assert_eq!(ids(&h, &h.plan_downgrade(&all, &to("a1")).unwrap().steps), "d1 m1 c1 b1");
        assert_eq!(ids(&h, &h.plan_downgrade(&all, &[]).unwrap().steps), "s1 d1 m1 c1 b1 a1");
        let current = h.applied_heads(&all);
        assert_eq!(ids(&h, &current), "d1 s1");
        let one_back = h.resolve(&Target::parse("d1-1").unwrap(), &current).unwrap();
        assert_eq!(ids(&h, &h.plan_downgrade(&all, &one_back).unwrap().steps), "d1");
        let partial = applied(&h, &["a1", "b1"]);
        assert_eq!(
            h.plan_downgrade(&partial, &to("c1")).unwrap_err().to_string(),
            "`c1` is not applied, so the database cannot be downgraded to it"
        );
    }

    #[test]
    fn downgrade_keeps_a_branch_that_only_depends_on_the_target() {
        // Issue 16: `a <- b <- c` and `d <- e`, where `e` depends on `b`.
        let (h, _) = history_of(&["a:", "b:a", "c:b", "d:", "e:d after b"]);
        let all = applied(&h, &["a", "b", "c", "d", "e"]);
        let to = |id: &str| vec![h.index_of(id).unwrap()];
        assert_eq!(ids(&h, &h.plan_downgrade(&all, &to("b")).unwrap().steps), "c");
        let current = h.applied_heads(&all);
        let one_back = h.resolve(&Target::parse("c-1").unwrap(), &current).unwrap();
        assert_eq!(ids(&h, &h.plan_downgrade(&all, &one_back).unwrap().steps), "c");
        // Reverting `b` itself takes `e` with it, first.
        assert_eq!(ids(&h, &h.plan_downgrade(&all, &to("a")).unwrap().steps), "e c b");
        assert_eq!(ids(&h, &h.plan_revert(&all, &to("b")).unwrap().steps), "e c b");
    }

    #[test]
    fn downgrade_reverts_a_dependant_of_what_it_reverts_first() {
        // `e` depends on `c`, which `downgrade b` reverts.
        let (h, _) = history_of(&["a:", "b:a", "c:b", "d:", "e:d after c"]);
        let all = applied(&h, &["a", "b", "c", "d", "e"]);
        let to = |id: &str| vec![h.index_of(id).unwrap()];
        assert_eq!(ids(&h, &h.plan_downgrade(&all, &to("b")).unwrap().steps), "e c");
        // And what is built on the dependant by parent links goes too.
        let (h, _) = history_of(&["a:", "b:a", "c:b", "d:", "e:d after c", "f:e"]);
        let all = applied(&h, &["a", "b", "c", "d", "e", "f"]);
        let to = |id: &str| vec![h.index_of(id).unwrap()];
        assert_eq!(ids(&h, &h.plan_downgrade(&all, &to("b")).unwrap().steps), "f e c");
    }

    #[test]
    fn downgrade_refuses_to_cross_an_irreversible_revision() {
        let (h, _) = history_of(&["a1:", "b1:a1"]);
        let mut revisions = h.revisions().to_vec();
        revisions[1].down = None;
        let (h, _) = History::build(revisions);
        let error = h.plan_downgrade(&applied(&h, &["a1", "b1"]), &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "revision `b1` (m/b1.sql) has no `-- migrate:down` section: it cannot be reverted"
        );
    }

    /// `r1 <- r2 <- r3 <- l1`, with `b` replacing `r1 r2 r3`.
    fn squashed() -> History {
        let (h, problems) = history_of(&["r1:", "r2:r1", "r3:r2", "l1:r3", "b: replaces r1, r2, r3"]);
        assert!(problems.is_empty(), "{problems:?}");
        h
    }

    fn plan(h: &History, plan: &crate::Plan) -> String {
        plan.steps
            .iter()
            .map(
                |&i| {
                    if plan.records_only(i) {
                        format!("{}(record)", h.revision(i).id)
                    } else {
                        h.revision(i).id.clone()
                    }
                },
            )
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_baseline_stands_for_what_it_replaces_in_heads_bases_and_order() {
        let h = squashed();
        assert_eq!(h.ids(&h.heads()), ["l1"]);
        assert_eq!(h.ids(&h.bases()), ["r1"]);
        let order: Vec<&str> = h.revisions().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["r1", "r2", "r3", "b", "l1"], "the baseline sits between its set and what builds on it");
        let b = h.index_of("b").unwrap();
        assert_eq!(h.ids(h.replaced(b)), ["r1", "r2", "r3"]);
        assert_eq!(h.replaced_by(h.index_of("r2").unwrap()), Some(b));
        assert_eq!(h.baseline_tip(b), h.index_of("r3"));
    }

    #[test]
    fn an_empty_database_runs_the_baseline_in_place_of_its_set() {
        let h = squashed();
        let head = h.heads();
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &[]), &head)), "b l1");
        // A target inside the set applies the replaced revisions one by one.
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &[]), &[h.index_of("r2").unwrap()])), "r1 r2");
        // The baseline itself as the target.
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &[]), &[h.index_of("b").unwrap()])), "b");
    }

    #[test]
    fn a_database_through_the_whole_set_records_the_baseline_only() {
        let h = squashed();
        let head = h.heads();
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &["r1", "r2", "r3"]), &head)), "b(record) l1");
        let tip = [h.index_of("r3").unwrap()];
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &["r1", "r2", "r3"]), &tip)), "b(record)");
    }

    #[test]
    fn a_database_part_way_applies_the_rest_then_records_the_baseline() {
        let h = squashed();
        let head = h.heads();
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &["r1"]), &head)), "r2 r3 b(record) l1");
    }

    #[test]
    fn a_database_at_the_baseline_has_applied_every_replaced_revision() {
        let h = squashed();
        let at_b = applied(&h, &["b"]);
        assert_eq!(ids(&h, &h.applied_heads(&at_b)), "r3");
        assert_eq!(plan(&h, &h.plan_upgrade(&at_b, &h.heads())), "l1");
        let at_l1 = applied(&h, &["b", "l1"]);
        assert_eq!(ids(&h, &h.applied_heads(&at_l1)), "l1");
        assert!(h.plan_upgrade(&at_l1, &h.heads()).is_empty());
        let current = h.applied_heads(&at_l1);
        let back = h.resolve(&Target::parse("-1").unwrap(), &current).unwrap();
        assert_eq!(plan(&h, &h.plan_downgrade(&at_l1, &back).unwrap()), "l1");
    }

    #[test]
    fn a_downgrade_reverts_a_baseline_that_ran_only_as_a_whole() {
        let h = squashed();
        let at_l1 = applied(&h, &["b", "l1"]);
        let to = |id: &str| vec![h.index_of(id).unwrap()];
        assert_eq!(
            h.plan_downgrade(&at_l1, &to("r1")).unwrap_err().to_string(),
            "the downgrade would revert `r2`, which baseline `b` created together with the other revisions it replaces"
        );
        assert_eq!(plan(&h, &h.plan_downgrade(&at_l1, &[]).unwrap()), "l1 b");
        // Without a down section, the baseline is where downgrades stop.
        let mut revisions = h.revisions().to_vec();
        revisions.iter_mut().find(|r| r.id == "b").unwrap().down = None;
        let (h, _) = History::build(revisions);
        let at_l1 = applied(&h, &["b", "l1"]);
        assert!(matches!(h.plan_downgrade(&at_l1, &[]), Err(crate::PlanError::Irreversible { id, .. }) if id == "b"));
    }

    #[test]
    fn a_downgrade_below_a_recorded_baseline_whose_set_has_rows_forgets_it_first() {
        let h = squashed();
        let all = applied(&h, &["r1", "r2", "r3", "b", "l1"]);
        let to = |id: &str| vec![h.index_of(id).unwrap()];
        assert_eq!(plan(&h, &h.plan_downgrade(&all, &to("r1")).unwrap()), "l1 b(record) r3 r2");
    }

    #[test]
    fn a_baseline_set_must_be_one_revision_and_all_it_needs() {
        // `x` builds on `r2`, inside the set but not its tip.
        let (_, problems) = history_of(&["r1:", "r2:r1", "r3:r2", "x:r2", "b: replaces r1, r2, r3"]);
        assert_eq!(
            problems,
            [
                "m/b.sql:5: baseline `b` does not stand for a closed set: `x` builds on the replaced `r2`, which is not the last replaced revision `r3`"
            ]
        );
        // `r2` needs `r1`, which is not replaced.
        let (h, problems) = history_of(&["r1:", "r2:r1", "r3:r2", "b: replaces r2, r3"]);
        assert_eq!(
            problems,
            [
                "m/b.sql:5: baseline `b` does not stand for a closed set: `r3` needs `r1`, which it does not replace (nor is it the baseline's parent)"
            ]
        );
        assert!(!h.is_baseline(h.index_of("b").unwrap()), "an invalid set is no baseline");
        // ... unless the baseline has `r1` as its own parent.
        let (h, problems) = history_of(&["r1:", "r2:r1", "r3:r2", "b:r1 replaces r2, r3"]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &[]), &h.heads())), "r1 b");
        let (_, problems) = history_of(&["r1:", "r2:r1", "b: replaces r1, r2, zz"]);
        assert_eq!(problems, ["m/b.sql:5: baseline `b` replaces `zz`, which no revision file defines"]);
        let (_, problems) = history_of(&["r1:", "s1:", "b: replaces r1, s1"]);
        assert_eq!(
            problems,
            [
                "m/b.sql:5: baseline `b` does not stand for a closed set: no replaced revision needs all the others (the set spans separate branches)"
            ]
        );
    }

    #[test]
    fn a_pruned_baseline_stands_alone_and_what_named_its_tip_builds_on_it() {
        let (h, problems) = history_of(&["l1:r3", "b: replaces r1, r2, r3"]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(h.ids(h.parents(h.index_of("l1").unwrap())), ["b"]);
        assert_eq!((h.ids(&h.bases()), h.ids(&h.heads())), (vec!["b".to_owned()], vec!["l1".to_owned()]));
        assert_eq!(h.pruned_into("r2"), h.index_of("b"));
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &[]), &h.heads())), "b l1");
        // Only some files gone is no pruning: those are missing.
        let (_, problems) = history_of(&["r1:", "l1:r3", "b: replaces r1, r2, r3"]);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    /// `squashed()` squashed again: `b2` replaces `b1`, its set, `l1` and
    /// `l2`; `l3` builds on `l2`.
    fn nested() -> History {
        let (h, problems) = history_of(&[
            "r1:",
            "r2:r1",
            "r3:r2",
            "l1:r3",
            "l2:l1",
            "l3:l2",
            "b1: replaces r1, r2, r3",
            "b2: replaces r1, r2, r3, b1, l1, l2",
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        h
    }

    #[test]
    fn a_nested_baseline_stands_for_the_inner_one_and_its_set() {
        let h = nested();
        let order: Vec<&str> = h.revisions().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["r1", "r2", "r3", "b1", "l1", "l2", "b2", "l3"]);
        assert_eq!((h.ids(&h.heads()), h.ids(&h.bases())), (vec!["l3".to_owned()], vec!["r1".to_owned()]));
        let at = |id: &str| h.index_of(id).unwrap();
        assert_eq!(h.ids(h.replaced(at("b2"))), ["r1", "r2", "r3", "b1", "l1", "l2"]);
        assert_eq!(h.ids(h.replaced(at("b1"))), ["r1", "r2", "r3"]);
        assert_eq!(h.replaced_by(at("r2")), Some(at("b1")), "the innermost baseline");
        assert_eq!(h.enclosing(at("r2")).collect::<Vec<_>>(), [at("b1"), at("b2")]);
        assert_eq!(h.enclosing(at("l1")).collect::<Vec<_>>(), [at("b2")]);
        assert_eq!(h.enclosing(at("l3")).count(), 0);
        assert_eq!(h.baseline_tip(at("b2")), Some(at("l2")));
    }

    #[test]
    fn an_empty_database_runs_only_the_outer_baseline() {
        let h = nested();
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &[]), &h.heads())), "b2 l3");
        // A target inside the outer set but past the inner one: the inner one runs.
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &[]), &[h.index_of("l1").unwrap()])), "b1 l1");
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &[]), &[h.index_of("r2").unwrap()])), "r1 r2");
    }

    #[test]
    fn a_database_part_way_through_the_inner_set_runs_the_rest_and_records_both() {
        let h = nested();
        assert_eq!(
            plan(&h, &h.plan_upgrade(&applied(&h, &["r1"]), &h.heads())),
            "r2 r3 b1(record) l1 l2 b2(record) l3"
        );
    }

    #[test]
    fn a_database_at_the_inner_baseline_runs_the_rest_and_records_the_outer_one() {
        let h = nested();
        let at_b1 = applied(&h, &["b1"]);
        assert_eq!(ids(&h, &h.applied_heads(&at_b1)), "r3");
        assert_eq!(plan(&h, &h.plan_upgrade(&at_b1, &h.heads())), "l1 l2 b2(record) l3");
    }

    #[test]
    fn a_database_through_the_outer_set_over_the_inner_baseline_records_the_outer_one_only() {
        let h = nested();
        let rows = applied(&h, &["b1", "l1", "l2"]);
        assert_eq!(ids(&h, &h.applied_heads(&rows)), "l2");
        assert_eq!(plan(&h, &h.plan_upgrade(&rows, &h.heads())), "b2(record) l3");
    }

    #[test]
    fn a_database_through_the_inner_set_without_its_row_records_both_baselines() {
        let h = nested();
        assert_eq!(
            plan(&h, &h.plan_upgrade(&applied(&h, &["r1", "r2", "r3"]), &h.heads())),
            "b1(record) l1 l2 b2(record) l3"
        );
        assert_eq!(
            plan(&h, &h.plan_upgrade(&applied(&h, &["r1", "r2", "r3", "l1", "l2"]), &h.heads())),
            "b1(record) b2(record) l3"
        );
    }

    #[test]
    fn a_database_at_the_outer_baseline_has_applied_everything_it_stands_for() {
        let h = nested();
        let rows = applied(&h, &["b2"]);
        let covered: Vec<&str> =
            (0..h.len()).filter(|&i| h.covered(&rows)[i]).map(|i| h.revision(i).id.as_str()).collect();
        assert_eq!(covered, ["r1", "r2", "r3", "b1", "l1", "l2", "b2"]);
        assert_eq!(ids(&h, &h.applied_heads(&rows)), "l2");
        assert_eq!(plan(&h, &h.plan_upgrade(&rows, &h.heads())), "l3");
    }

    #[test]
    fn a_downgrade_over_nested_baselines_forgets_what_was_recorded_and_reverts_what_ran_whole() {
        let h = nested();
        let to = |id: &str| vec![h.index_of(id).unwrap()];
        // The outer baseline ran: only as a whole.
        let ran = applied(&h, &["b2", "l3"]);
        assert_eq!(plan(&h, &h.plan_downgrade(&ran, &[]).unwrap()), "l3 b2");
        assert_eq!(plan(&h, &h.plan_downgrade(&ran, &to("l2")).unwrap()), "l3");
        assert_eq!(
            h.plan_downgrade(&ran, &to("l1")).unwrap_err().to_string(),
            "the downgrade would revert `l2`, which baseline `b2` created together with the other revisions it replaces"
        );
        // The inner one ran, the outer one was recorded over it.
        let over_b1 = applied(&h, &["b1", "l1", "l2", "b2", "l3"]);
        assert_eq!(plan(&h, &h.plan_downgrade(&over_b1, &to("r3")).unwrap()), "l3 b2(record) l2 l1");
        assert_eq!(plan(&h, &h.plan_downgrade(&over_b1, &[]).unwrap()), "l3 b2(record) l2 l1 b1");
        assert_eq!(
            h.plan_downgrade(&over_b1, &to("r1")).unwrap_err().to_string(),
            "the downgrade would revert `r2`, which baseline `b1` created together with the other revisions it replaces"
        );
        // Every revision ran one by one: both baselines are forgotten.
        let one_by_one = applied(&h, &["r1", "r2", "r3", "b1", "l1", "l2", "b2", "l3"]);
        assert_eq!(
            plan(&h, &h.plan_downgrade(&one_by_one, &to("r1")).unwrap()),
            "l3 b2(record) l2 l1 b1(record) r3 r2"
        );
    }

    #[test]
    fn a_revision_replaced_twice_is_an_error_unless_the_baselines_nest() {
        // `c` overlaps `b1` without replacing it.
        let (h, problems) =
            history_of(&["r1:", "r2:r1", "r3:r2", "l1:r3", "b1: replaces r1, r2, r3", "c: replaces r1, r2, r3, l1"]);
        assert_eq!(
            problems,
            [
                "m/c.sql:5: revision `r1` is replaced by both `c` and `b1`",
                "m/c.sql:5: revision `r2` is replaced by both `c` and `b1`",
                "m/c.sql:5: revision `r3` is replaced by both `c` and `b1`",
            ]
        );
        assert!(!h.is_baseline(h.index_of("c").unwrap()));
        // `b2` names `b1` but not all `b1` replaces: no nesting either.
        let (_, problems) =
            history_of(&["r1:", "r2:r1", "r3:r2", "l1:r3", "b1: replaces r1, r2, r3", "b2: replaces r3, b1, l1"]);
        assert_eq!(problems, ["m/b2.sql:5: revision `r3` is replaced by both `b2` and `b1`"]);
    }

    #[test]
    fn an_outer_baseline_over_a_pruned_inner_one_names_the_pruned_ids() {
        // `r1 r2 r3` were pruned: `l1` builds on `b1`, which `b2` replaces.
        let (h, problems) =
            history_of(&["l1:r3", "l2:l1", "l3:l2", "b1: replaces r1, r2, r3", "b2: replaces r1, r2, r3, b1, l1, l2"]);
        assert!(problems.is_empty(), "{problems:?}");
        let at = |id: &str| h.index_of(id).unwrap();
        assert_eq!(h.ids(h.replaced(at("b2"))), ["b1", "l1", "l2"]);
        assert_eq!(h.pruned_into("r2"), Some(at("b1")));
        assert_eq!(h.ids(&h.bases()), ["b1"], "the pruned inner baseline stands alone");
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &[]), &h.heads())), "b2 l3");
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &["b1"]), &h.heads())), "l1 l2 b2(record) l3");
        // Then `b2` pruned too: every old id is its.
        let (h, problems) = history_of(&["l3:l2", "b2: replaces r1, r2, r3, b1, l1, l2"]);
        assert!(problems.is_empty(), "{problems:?}");
        for id in ["r1", "b1", "l2"] {
            assert_eq!(h.pruned_into(id), h.index_of("b2"), "{id}");
        }
        assert_eq!(plan(&h, &h.plan_upgrade(&applied(&h, &[]), &h.heads())), "b2 l3");
    }
}
