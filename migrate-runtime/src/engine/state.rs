//! What a database has applied, compared with the history.

use migrate_history::{Diagnostic, History, Problem};

use super::error::BASE;
use crate::version_table::Row;

/// An applied revision whose file changed since it was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The revision's id.
    pub id: String,
    /// Its file, as the history names it.
    pub path: String,
    /// The checksum recorded when it was applied.
    pub recorded: String,
    /// The checksum of the file now.
    pub actual: String,
}

/// What the database has applied, compared with the history: read by
/// [`Migrator::state`](crate::Migrator::state), which changes nothing.
///
/// ```
/// # fn demo(history: migrate_history::History) -> Result<(), migrate_runtime::Error> {
/// let migrator = migrate_runtime::Migrator::new(history);
/// let mut db = rusqlite::Connection::open_in_memory().expect("in memory");
/// let state = migrator.state(&mut db)?;
/// assert!(!state.table_exists());
/// assert!(state.heads.is_empty(), "nothing applied: at base");
/// assert_eq!(state.pending.len(), migrator.history().len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DbState {
    /// The version table's columns (name, type), `None` while it does not exist.
    pub columns: Option<Vec<(String, String)>>,
    /// Every row of the version table, in the order it returns them.
    pub rows: Vec<Row>,
    /// Ids of the revisions applied or stamped, in upgrade order.
    pub applied: Vec<String>,
    /// Ids of the revisions the database is at (none: at base).
    pub heads: Vec<String>,
    /// Ids of the revisions not applied yet, in upgrade order.
    pub pending: Vec<String>,
    /// Rows naming revisions the history does not have.
    pub unknown: Vec<Row>,
    /// Applied revisions whose files changed.
    pub drift: Vec<Drift>,
    /// Rows an operator must settle with [`Migrator::resolve`](crate::Migrator::resolve):
    /// failed, running (an interrupted `transaction: false` revision) or reverting.
    pub failed: Vec<Row>,
    /// Per history position: applied or stamped.
    pub(crate) mask: Vec<bool>,
}

impl DbState {
    /// Whether the version table exists yet.
    pub fn table_exists(&self) -> bool {
        self.columns.is_some()
    }

    /// Whether the revision `id` is applied (or stamped).
    pub fn is_applied(&self, id: &str) -> bool {
        self.applied.iter().any(|a| a == id)
    }

    /// Fills in the id lists from `mask`, once the rows are read.
    pub(crate) fn finish(mut self, history: &History) -> DbState {
        // A recorded baseline stands for what it replaces; a replaced
        // revision is not pending while the baseline would run in its place.
        let covered = history.covered(&self.mask);
        // Nested baselines: any baseline around it that would run (decided
        // once per baseline, not once per revision of its set).
        let would_run: Vec<bool> = (0..history.len())
            .map(|b| history.is_baseline(b) && history.replaced(b).iter().all(|&m| !covered[m]))
            .collect();
        let in_place = |i: usize| history.enclosing(i).any(|b| would_run[b]);
        let applied: Vec<usize> = (0..history.len()).filter(|&i| covered[i]).collect();
        let pending: Vec<usize> = (0..history.len()).filter(|&i| !covered[i] && !in_place(i)).collect();
        self.applied = history.ids(&applied);
        self.pending = history.ids(&pending);
        self.heads = history.ids(&history.applied_heads(&self.mask));
        self
    }

    /// History positions of the heads, for planning.
    pub(crate) fn head_positions(&self, history: &History) -> Vec<usize> {
        history.applied_heads(&self.mask)
    }

    /// The newest known applied revision recorded after the oldest unknown
    /// one (timestamps in the version table's `applied_at`), or, when no
    /// known revision is applied, `"base"`: `None` when every unknown
    /// revision is newer than everything the history has applied.
    pub fn newest_known_after_unknown(&self) -> Option<String> {
        let oldest_unknown = self.unknown.iter().map(|r| r.applied_at.as_str()).min()?;
        let known = self.rows.iter().filter(|r| !self.unknown.iter().any(|u| u.revision == r.revision));
        match known.max_by(|a, b| a.applied_at.cmp(&b.applied_at)) {
            None => Some(BASE.to_owned()),
            Some(newest) => (newest.applied_at.as_str() > oldest_unknown).then(|| newest.revision.clone()),
        }
    }

    /// What this database recorded about the revision `id`.
    pub fn recorded(&self, id: &str) -> Recorded {
        use crate::version_table::State;
        if self.failed.iter().any(|row| row.revision == id && row.state == State::Failed) {
            return Recorded::Failed;
        }
        if self.is_applied(id) || self.failed.iter().any(|row| row.revision == id) {
            Recorded::Applied
        } else {
            Recorded::Absent
        }
    }

    /// Whether pending revision `id` is a baseline whose replaced revisions
    /// are all applied: the schema is there, and the next upgrade only
    /// records it. Nested baselines: a replaced revision counts as applied
    /// when a recorded baseline stands for it, and an inner baseline that is
    /// itself only to record counts too.
    pub fn only_to_record(&self, history: &History, id: &str) -> bool {
        // Asked of every pending revision: what covers what only for the
        // few baselines.
        let Some(b) = history.index_of(id).filter(|&b| history.is_baseline(b)) else {
            return false;
        };
        effects_there(history, &history.covered(&self.mask), b)
    }

    /// What keeps the database `database` (its name in messages, such as a
    /// redacted URL) from being at the history's heads, as errors: pending,
    /// drifted, failed and unknown revisions (a baseline
    /// [only to record](DbState::only_to_record) is a warning). The database half of
    /// `cargo migrate check`; empty when it is up to date.
    ///
    /// ```
    /// # fn demo(migrator: migrate_runtime::Migrator) -> Result<(), migrate_runtime::Error> {
    /// let mut db = rusqlite::Connection::open_in_memory().expect("in memory");
    /// let state = migrator.state(&mut db)?;
    /// for problem in state.problems(migrator.history(), "the test database") {
    ///     eprintln!("{problem}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn problems(&self, history: &History, database: &str) -> Vec<Diagnostic> {
        let error = |path: &str, problem: Problem| Diagnostic::error(path, None, problem);
        let database = database.to_owned();
        let mut problems = Vec::new();
        for id in &self.pending {
            let rev = history.get(id).expect("a pending revision is in the history");
            let path = rev.file.path.display().to_string();
            if self.only_to_record(history, id) {
                let problem = Problem::BaselineToRecord { id: rev.id.clone(), database: database.clone() };
                problems.push(Diagnostic::warning(&path, None, problem));
                continue;
            }
            let problem = Problem::PendingInDatabase { id: rev.id.clone(), database: database.clone() };
            problems.push(error(&path, problem));
        }
        for d in &self.drift {
            let problem = Problem::DriftedInDatabase {
                id: d.id.clone(),
                database: database.clone(),
                recorded: d.recorded.clone(),
                actual: d.actual.clone(),
            };
            problems.push(error(&d.path, problem));
        }
        for row in &self.failed {
            let problem = Problem::FailedInDatabase {
                id: row.revision.clone(),
                database: database.clone(),
                error: row.error.clone().unwrap_or_default(),
            };
            problems.push(error(&database, problem));
        }
        for row in &self.unknown {
            let problem = Problem::UnknownInDatabase { id: row.revision.clone(), database: database.clone() };
            problems.push(error(&database, problem));
        }
        problems
    }
}

/// Whether every revision the baseline `b` replaces is applied (`covered`),
/// or is a baseline whose own set is.
fn effects_there(history: &History, covered: &[bool], b: usize) -> bool {
    let replaced = history.replaced(b);
    !replaced.is_empty()
        && replaced.iter().all(|&m| covered[m] || (history.is_baseline(m) && effects_there(history, covered, m)))
}

/// What a database recorded about one revision: [`DbState::recorded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Applied or stamped, or running or reverting (interrupted part-way).
    Applied,
    /// Recorded as failed part-way: its statements did not all run.
    Failed,
    /// Not there at all.
    Absent,
}
