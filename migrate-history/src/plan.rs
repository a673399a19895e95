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
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
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
}

impl PlanError {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            PlanError::NotApplied { .. } => "`cargo migrate current` shows what is applied; `upgrade` moves forward",
            PlanError::Irreversible { .. } => {
                "add a `-- migrate:down` section to the revision, or downgrade to a target above it"
            }
        }
    }
}

impl History {
    /// The applied revisions that no applied revision builds on: what a
    /// database "is at".
    pub fn applied_heads(&self, applied: &[bool]) -> Vec<usize> {
        (0..self.len()).filter(|&i| applied[i] && !self.children(i).iter().any(|&c| applied[c])).collect()
    }

    /// Everything `target` needs that is not applied yet, parents and
    /// dependencies first.
    pub fn plan_upgrade(&self, applied: &[bool], target: &[usize]) -> Plan {
        let needed = self.ancestors(target);
        Plan { direction: Direction::Upgrade, steps: (0..self.len()).filter(|&i| needed[i] && !applied[i]).collect() }
    }

    /// Reverts `from` and every applied revision that needs it, newest
    /// first: a downgrade that steps back past a branch's first revision,
    /// without touching other branches. "Needs" is transitive over parent
    /// and `depends-on` links: a revision is never left applied while
    /// something it depends on is reverted (Alembic's inclusive rule).
    pub fn plan_revert(&self, applied: &[bool], from: &[usize]) -> Result<Plan, PlanError> {
        let built_on = self.descendants(from);
        let steps: Vec<usize> = (0..self.len()).rev().filter(|&i| applied[i] && built_on[i]).collect();
        self.reversible(steps)
    }

    fn reversible(&self, steps: Vec<usize>) -> Result<Plan, PlanError> {
        if let Some(&stuck) = steps.iter().find(|&&i| !self.revision(i).is_reversible()) {
            let rev = self.revision(stuck);
            return Err(PlanError::Irreversible { id: rev.id.clone(), path: rev.file.path.display().to_string() });
        }
        Ok(Plan { direction: Direction::Downgrade, steps })
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
    pub fn plan_downgrade(&self, applied: &[bool], target: &[usize]) -> Result<Plan, PlanError> {
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
        self.reversible(steps)
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
}
