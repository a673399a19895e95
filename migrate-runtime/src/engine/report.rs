//! How a run is set up ([`RunOptions`]), what it reports as it goes
//! ([`Event`]) and what it did ([`Report`]).

use std::time::Duration;

use migrate_history::{Direction, Revision};

/// How revisions are grouped into transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransactionMode {
    /// Each revision commits with its version-table row (the default).
    #[default]
    PerRevision,
    /// The whole run in one transaction: all of it commits, or none of it.
    All,
}

/// Options of a run; the default applies each revision in its own
/// transaction and refuses a changed or unknown applied revision.
///
/// ```
/// use migrate_runtime::{RunOptions, TransactionMode};
/// let options = RunOptions { transaction: TransactionMode::All, ..RunOptions::default() };
/// assert!(!options.dry_run);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// How revisions are grouped into transactions.
    pub transaction: TransactionMode,
    /// Run inside one transaction and roll it back: the SQL really executes,
    /// nothing is committed.
    pub dry_run: bool,
    /// Apply although an applied revision's file changed.
    pub allow_modified: bool,
    /// Upgrade although the database has applied revisions this history does
    /// not have, provided every one of them was applied after every revision
    /// it does have (a newer build migrated it: an application rolled back).
    /// Unknown revisions older than a known applied one still refuse.
    pub allow_newer: bool,
}

/// Progress, reported to an observer as it happens
/// ([`Run::observe`](crate::Run::observe)).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A revision is about to run.
    Started {
        /// The revision.
        revision: &'a Revision,
        /// Applying or reverting it.
        direction: Direction,
    },
    /// A baseline is about to be recorded (upgrade) or its row deleted
    /// (downgrade) without running any SQL: the revisions it replaces were
    /// applied (or are reverted) one by one. Followed by `Finished`.
    Recording {
        /// The baseline.
        revision: &'a Revision,
        /// Recording it or forgetting it.
        direction: Direction,
    },
    /// A revision ran and is recorded (or, in one transaction, will be).
    Finished {
        /// The revision.
        revision: &'a Revision,
        /// Applying or reverting it.
        direction: Direction,
        /// How long its statements took.
        elapsed: Duration,
    },
    /// Another migrator applied (or reverted) it while this one waited.
    AlreadyDone {
        /// The revision.
        revision: &'a Revision,
    },
    /// A dry run did not execute a revision.
    NotExecuted {
        /// The revision.
        revision: &'a Revision,
        /// `None`: it has `transaction: false` itself; otherwise the
        /// `transaction: false` revision it builds on.
        because_of: Option<&'a Revision>,
    },
    /// A statement of a revision, about to be executed.
    Statement {
        /// The revision.
        revision: &'a Revision,
        /// The statement, without its terminating `;`.
        sql: &'a str,
    },
    /// The migration lock's lease (`LockStrategy::LeaseTable`) had expired
    /// and this migrator took it over: its holder stopped renewing it, as a
    /// killed process does.
    LockTakenOver {
        /// The previous holder.
        previous: &'a str,
    },
    /// Another process holds the migration lock; this one waits for it.
    WaitingForLock {
        /// Who holds it, as far as the database can tell.
        holder: Option<&'a str>,
        /// How long this one waits ([`Migrator::lock_timeout`](crate::Migrator::lock_timeout)).
        timeout: Option<Duration>,
    },
}

/// A revision that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRevision {
    /// Its id.
    pub id: String,
    /// Its message.
    pub message: String,
    /// How long its statements took.
    pub elapsed: Duration,
}

/// A revision a dry run did not execute, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotExecuted {
    /// Its id.
    pub id: String,
    /// `None`: it has `transaction: false`; otherwise the id of the
    /// `transaction: false` revision it builds on.
    pub because_of: Option<String>,
}

/// What a run did.
///
/// ```
/// # fn demo(migrator: &migrate_runtime::Migrator) -> Result<(), migrate_runtime::Error> {
/// let mut db = rusqlite::Connection::open_in_memory().expect("in memory");
/// let report = migrator.run(&mut db)?;
/// for revision in &report.applied {
///     println!("applied {} ({}) in {:?}", revision.id, revision.message, revision.elapsed);
/// }
/// assert!(migrator.pending(&mut db)?.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Upgrade or downgrade.
    pub direction: Direction,
    /// Revisions an upgrade applied, in order (empty for a downgrade).
    pub applied: Vec<AppliedRevision>,
    /// Revisions a downgrade reverted, in order (empty for an upgrade).
    pub reverted: Vec<AppliedRevision>,
    /// Revisions a dry run could not execute: `transaction: false` ones and
    /// those that build on them.
    pub not_executed: Vec<NotExecuted>,
    /// Whether everything was rolled back at the end.
    pub dry_run: bool,
    /// Ids of the revisions the database is at after the run (a dry run:
    /// where it was), as [`DbState::heads`](crate::DbState::heads) would
    /// read them, without another query.
    pub heads: Vec<String>,
}

impl Report {
    pub(crate) fn new(direction: Direction, dry_run: bool) -> Report {
        Report {
            direction,
            applied: Vec::new(),
            reverted: Vec::new(),
            not_executed: Vec::new(),
            dry_run,
            heads: Vec::new(),
        }
    }

    /// The revisions that ran, applied or reverted, in order.
    pub fn ran(&self) -> &[AppliedRevision] {
        match self.direction {
            Direction::Upgrade => &self.applied,
            Direction::Downgrade => &self.reverted,
        }
    }

    pub(crate) fn push(&mut self, revision: AppliedRevision) {
        match self.direction {
            Direction::Upgrade => self.applied.push(revision),
            Direction::Downgrade => self.reverted.push(revision),
        }
    }
}

/// What [`Migrator::stamp`](crate::Migrator::stamp) changed in the version table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StampReport {
    /// Ids recorded as applied (stamped).
    pub added: Vec<String>,
    /// Ids whose rows were removed.
    pub removed: Vec<String>,
}

/// How [`Migrator::resolve`](crate::Migrator::resolve) settles a revision
/// left failed, running or reverting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Its statements are in effect (finished by hand): record it as applied.
    Applied,
    /// Its statements are not in effect (undone by hand): forget it.
    RolledBack,
}
