//! Why a run stopped, as data: each variant carries what an application or a
//! CLI needs to explain it, and [`Error::help`] says what to do in terms of
//! this library (the CLI replaces it with its flags and commands).

use std::time::Duration;

use migrate_history::{Diagnostic, PlanError, TargetError};

use super::state::Drift;
use crate::DbError;
use crate::version_table::State;

/// Why a run stopped. Nothing is recorded as applied that did not commit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database refused a statement of the engine's own (the version
    /// table, the lock, a transaction).
    #[error("{context}: {source}")]
    Database {
        /// What the engine was doing.
        context: String,
        /// What the database said.
        source: DbError,
    },
    /// A statement of a revision failed.
    #[error("{path}:{line}: revision `{id}` failed: {message}")]
    Statement {
        /// The revision's id.
        id: String,
        /// Its file.
        path: String,
        /// The line of the failing statement (or of the error inside it) in the file.
        line: usize,
        /// What the database said.
        message: String,
        /// SQLSTATE on PostgreSQL.
        code: Option<String>,
        /// What kind of failure it was.
        kind: FailureKind,
        /// The revision ran outside a transaction (`transaction: false`), so
        /// the statements before the failing one are in effect, and it is
        /// recorded as `failed` until [`Migrator::resolve`](crate::Migrator::resolve).
        recorded_failure: bool,
        /// It was the down section.
        downgrade: bool,
    },
    /// A SQLite revision run with foreign keys off (its section starts with
    /// `PRAGMA foreign_keys = OFF`, as autogenerate's table rebuilds do, on
    /// a connection that had them on) after which `PRAGMA
    /// foreign_key_check` found rows pointing at no row.
    #[error(
        "{path}: after revision `{id}`{}, {} (PRAGMA foreign_key_check); {}",
        if *downgrade { "'s down section" } else { "" },
        dangling.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        if *recorded_failure { "it ran outside a transaction and is recorded as failed" } else { "it was rolled back" }
    )]
    ForeignKeyCheck {
        /// The revision's id.
        id: String,
        /// Its file.
        path: String,
        /// The rows pointing nowhere, by table and the table they point at.
        dangling: Vec<Dangling>,
        /// The revision ran outside a transaction (`transaction: false`):
        /// it is in effect and recorded as `failed`.
        recorded_failure: bool,
        /// It was the down section.
        downgrade: bool,
    },
    /// Applied revisions whose files changed (refused unless
    /// [`RunOptions::allow_modified`](crate::RunOptions::allow_modified)).
    #[error("{}", drift.iter().map(|d| format!("{}: revision `{}` was applied with {} but its file now has {}", d.path, d.id, d.recorded, d.actual)).collect::<Vec<_>>().join("; "))]
    Drift {
        /// Each changed revision.
        drift: Vec<Drift>,
    },
    /// A `transaction: false` revision failed or was interrupted in an
    /// earlier run: nothing runs until it is settled.
    #[error("revision `{id}` is marked {}{} in the version table{}", state.as_str(), progress(*statements_done, *state), error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    Unsettled {
        /// The revision's id.
        id: String,
        /// `failed`, `running` or `reverting`.
        state: State,
        /// How many of its statements finished.
        statements_done: Option<i64>,
        /// The recorded error, for a failed one.
        error: Option<String>,
    },
    /// The database applied revisions this history does not have.
    #[error("the database has applied {} that this history does not have: {}{}", if ids.len() == 1 { "a revision" } else { "revisions" }, ids.join(", "), older_than.as_deref().map(unknown_before).unwrap_or_default())]
    UnknownRevisions {
        /// Their ids.
        ids: Vec<String>,
        /// A known applied revision recorded after an unknown one: then the
        /// unknown ones are not simply newer, and `allow_newer` does not apply.
        older_than: Option<String>,
    },
    /// A target that does not resolve.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A plan that cannot be made (a downgrade through a revision without a
    /// down section, a target not applied).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A `transaction: false` revision in a run that is one transaction
    /// ([`TransactionMode::All`](crate::TransactionMode::All)).
    #[error(
        "revision `{id}` ({path}) has `transaction: false`, so it cannot run inside one transaction with the rest of the run"
    )]
    NotTransactional {
        /// The revision's id.
        id: String,
        /// Its file.
        path: String,
    },
    /// The run reached a revision whose section it needs is still to be
    /// written (`-- needs-sql: up`, as `import` leaves an Alembic revision it
    /// could not render offline). What ran before it stays applied; it and
    /// everything after it did not run.
    #[error(
        "revision `{id}` ({path}) has no SQL yet for its {} section (`-- needs-sql`){}; the run stopped before it",
        if *downgrade { "down" } else { "up" },
        match imported_from { Some(from) => format!(": it was imported from {from} and could not be rendered offline"), None => String::new() }
    )]
    NeedsSql {
        /// The revision's id.
        id: String,
        /// Its file.
        path: String,
        /// Where it came from (its `imported-from` header).
        imported_from: Option<String>,
        /// It was the down section.
        downgrade: bool,
    },
    /// A lock strategy that does not hold on this backend (advisory locks
    /// on CockroachDB, which accepts and ignores them), or that it cannot
    /// take.
    #[error("{backend} cannot be locked with {strategy}: {why}")]
    UnsafeLock {
        /// The backend, as detected.
        backend: &'static str,
        /// The strategy asked for.
        strategy: &'static str,
        /// The backend's own strategy.
        native: &'static str,
        /// Why not.
        why: &'static str,
    },
    /// The lease-table lock expired during the run and another migrator
    /// took it over; the run stopped before its next revision.
    #[error(
        "the migration lock's lease expired during the run and {holder} took it over; stopped before the next revision"
    )]
    LockLost {
        /// Who holds it now.
        holder: String,
    },
    /// [`Migrator::resolve`](crate::Migrator::resolve) of a revision that
    /// needs no settling.
    #[error("revision `{id}` is not marked failed, running or reverting")]
    NotFailed {
        /// The revision's id.
        id: String,
    },
    /// An embedded history that does not hold together (a version skew
    /// between migrate-build and the runtime, say).
    #[error("the embedded history is invalid: {}", .0.iter().map(|d| d.message()).collect::<Vec<_>>().join("; "))]
    InvalidHistory(Vec<Diagnostic>),
    /// SQL that cannot run as written, found before anything ran.
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    InvalidSql {
        /// Every problem found.
        problems: Vec<SqlProblem>,
    },
    /// The migration lock was not free within
    /// [`Migrator::lock_timeout`](crate::Migrator::lock_timeout).
    #[error("the migration lock was not free within {}{}", humanize(*timeout), holder.as_deref().map(|h| format!("; it is held by {h}")).unwrap_or_default())]
    LockTimeout {
        /// How long it waited.
        timeout: Duration,
        /// Who holds it, as far as the database can tell.
        holder: Option<String>,
    },
    /// The run stopped between revisions because
    /// [`Migrator::stop_when`](crate::Migrator::stop_when)'s flag was set.
    #[error("interrupted: stopped between revisions after {done} revision(s)")]
    Interrupted {
        /// How many revisions ran before the stop.
        done: usize,
    },
    /// The PostgreSQL session has no current schema for the version table.
    #[error(
        "the PostgreSQL session has no current schema (its search_path names no existing schema), so there is nowhere to keep the version table"
    )]
    NoSchema,
    /// An offline script's range starts at `current`, which only a database can say.
    #[error("the range starts at `current`, which needs a database")]
    ScriptNeedsDatabase,
    /// An offline downgrade script's range does not say where it starts.
    #[error("an offline downgrade needs a starting point: the database is not asked where it is")]
    ScriptNeedsStart,
}

/// Rows of one table whose foreign key points at no row of another, as
/// `PRAGMA foreign_key_check` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dangling {
    /// The table holding the rows.
    pub table: String,
    /// The table their foreign key points at.
    pub parent: String,
    /// How many rows point nowhere.
    pub rows: u64,
}

impl std::fmt::Display for Dangling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (rows, point) = if self.rows == 1 { ("row", "points") } else { ("rows", "point") };
        write!(f, "{} {rows} of `{}` {point} at no row of `{}`", self.rows, self.table, self.parent)
    }
}

/// What kind of failure a statement met, as far as the database says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// The object it creates exists already (PostgreSQL 42P07, 42710,
    /// 42701, 42P06, 42723; SQLite's "already exists").
    AlreadyExists,
    /// Anything else.
    Other,
}

impl FailureKind {
    pub(crate) fn of(error: &DbError) -> FailureKind {
        let exists = match error.code.as_deref() {
            // PostgreSQL's duplicate table, object, column, schema and
            // function; MySQL's table (42S01) and column (42S21).
            Some(code) => matches!(code, "42P07" | "42710" | "42701" | "42P06" | "42723" | "42S01" | "42S21"),
            None => error.message.contains("already exists"),
        };
        if exists { FailureKind::AlreadyExists } else { FailureKind::Other }
    }
}

/// A section that cannot be run as written: found before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: revision `{id}`: {message}")]
pub struct SqlProblem {
    /// The revision's id.
    pub id: String,
    /// Its file.
    pub path: String,
    /// The line in the file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: &'static str,
}

/// Why unknown revisions are not simply newer than the history's.
fn unknown_before(known: &str) -> String {
    if known == BASE {
        " (and none that it has)".to_owned()
    } else {
        format!(" (applied before `{known}`, which this history has)")
    }
}

/// [`DbState::newest_known_after_unknown`] when no known revision is applied.
pub(super) const BASE: &str = "base";

/// ` after statement 2` for an interrupted or failed `transaction: false` revision.
fn progress(statements_done: Option<i64>, state: State) -> String {
    match (statements_done, state) {
        (Some(done), State::Running | State::Reverting) => {
            format!(" (interrupted: {done} statement(s) finished, the next one may have run in part)")
        }
        (Some(done), _) => format!(" ({done} statement(s) finished before the failure)"),
        (None, _) => String::new(),
    }
}

fn humanize(duration: Duration) -> String {
    if duration.subsec_millis() == 0 { format!("{} s", duration.as_secs()) } else { format!("{duration:?}") }
}

impl Error {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Error::Statement { recorded_failure: true, id, downgrade: false, .. } => format!(
                "the revision ran outside a transaction, so the statements before the failing one are in effect; finish or undo them by hand, then settle `{id}` with `Migrator::resolve` (`Resolution::Applied` or `Resolution::RolledBack`)"
            ),
            Error::Statement { recorded_failure: true, id, downgrade: true, .. } => format!(
                "the down section ran outside a transaction, so the statements before the failing one are in effect; finish or undo them by hand, then settle `{id}` with `Migrator::resolve`: `Resolution::RolledBack` (the revision is reverted) or `Resolution::Applied` (it is not)"
            ),
            Error::Statement { downgrade: true, .. } => {
                "the revision's down section failed and was rolled back; fix it and run the downgrade again".into()
            }
            Error::Statement { kind: FailureKind::AlreadyExists, .. } => "nothing of this revision was applied; if the database already has what it creates (made by hand or by another tool), compare the schema with the history and record the revision as applied without running it (`Migrator::stamp`); otherwise fix the revision".into(),
            Error::Statement { .. } => "nothing of this revision was applied; fix it and run the upgrade again".into(),
            Error::ForeignKeyCheck { recorded_failure: false, .. } => "nothing of this revision was applied: SQLite ran it with foreign keys off, as rebuilding a table needs, and checked them before committing; fix the revision (or the rows) so that every foreign key points at a row, and run it again".into(),
            Error::ForeignKeyCheck { recorded_failure: true, id, .. } => format!(
                "the revision ran outside a transaction, so it is in effect; make the rows point at existing rows (or delete them), then settle `{id}` with `Migrator::resolve`"
            ),
            Error::Drift { .. } => "an applied revision must not change: restore the file, or set `RunOptions::allow_modified` if the change is deliberate and harmless".into(),
            Error::Unsettled { id, state, .. } => format!(
                "{} in an earlier run, outside a transaction; finish or undo its statements by hand, then settle `{id}` with `Migrator::resolve`: `Resolution::Applied` (it is in effect) or `Resolution::RolledBack` (it is not)",
                if *state == State::Failed { "it failed part-way" } else { "it was interrupted part-way (the process died or was killed)" }
            ),
            Error::UnknownRevisions { older_than: None, .. } => "the database is ahead of this build: deploy the build that has them, or set `RunOptions::allow_newer` to run against revisions applied after everything this history has (as when rolling an application back)".into(),
            Error::UnknownRevisions { older_than: Some(_), .. } => "the database's history differs from this one: pull the missing revisions, or `stamp` the database if they were removed on purpose".into(),
            Error::Target(e) => return e.help().map(str::to_owned),
            Error::Plan(e) => e.help().to_owned(),
            Error::NotTransactional { .. } => "use `TransactionMode::PerRevision` (the default)".into(),
            Error::NeedsSql { downgrade, .. } => format!(
                "write the {} section from what the file quotes, remove `{}` from its `-- needs-sql` header line, and run again",
                if *downgrade { "down" } else { "up" },
                if *downgrade { "down" } else { "up" }
            ),
            Error::NotFailed { .. } => "`DbState::failed` lists the revisions that need settling".into(),
            Error::UnsafeLock { .. } => "use the backend's own strategy, or `LockStrategy::LeaseTable`".into(),
            Error::LockLost { .. } => "what ran before is recorded; make `Migrator::lock_lease` longer than the longest revision, and run again once the other migrator is done".into(),
            Error::InvalidSql { problems } => problems.first().map_or("", |p| p.help).to_owned(),
            Error::LockTimeout { .. } => {
                "another migration is running; wait for it, or raise `Migrator::lock_timeout`".into()
            }
            Error::Interrupted { .. } => "what ran before the stop is committed (or, in one transaction, rolled back); run again to go on".into(),
            Error::NoSchema => "set `Migrator::version_schema`, or fix the role's search_path".into(),
            Error::ScriptNeedsDatabase => "use `Migrator::script_from` with a connection, or name the starting revision".into(),
            Error::ScriptNeedsStart => "write FROM:TO, such as `head:base` or `head:-1`".into(),
            Error::Database { .. } | Error::InvalidHistory(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_exists_by_sqlstate_or_sqlite_message() {
        let pg = |code: &str| FailureKind::of(&DbError { code: Some(code.into()), ..DbError::new("x") });
        for code in ["42P07", "42710", "42701", "42P06", "42723", "42S01", "42S21"] {
            assert_eq!(pg(code), FailureKind::AlreadyExists, "{code}");
        }
        assert_eq!(pg("42601"), FailureKind::Other);
        // A PostgreSQL message is not read: the SQLSTATE decides.
        let worded = DbError { code: Some("P0001".into()), ..DbError::new("table already exists") };
        assert_eq!(FailureKind::of(&worded), FailureKind::Other);
        assert_eq!(FailureKind::of(&DbError::new("index t_id already exists")), FailureKind::AlreadyExists);
        assert_eq!(FailureKind::of(&DbError::new("no such table: t")), FailureKind::Other);
    }
}
