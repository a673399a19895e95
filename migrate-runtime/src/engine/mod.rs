//! The engine: upgrade, downgrade, stamp and resolve against a database,
//! and offline scripts of the same statements.
//!
//! One engine serves blocking connections ([`Database`]: rusqlite,
//! postgres) and, with the `tokio-postgres` feature, async ones: it is
//! written as futures over an internal connection trait, and a blocking
//! connection's futures are ready at once (`conn::now`).

mod error;
mod report;
mod run;
mod script;
mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use migrate_history::{Checksum, Direction, History, Revision, Target};

pub use self::error::{Dangling, Error, FailureKind, SqlProblem};
pub use self::report::{
    AppliedRevision, Event, NotExecuted, Report, Resolution, RunOptions, StampReport, TransactionMode,
};
pub use self::state::{DbState, Drift, Recorded};
use crate::conn::{Blocking, now};
use crate::version_table::VersionTable;
use crate::{Backend, Database, DbError, Dialect, LockStrategy};

/// An observer of a run's progress (see [`Event`]).
pub type Observer<'o> = dyn FnMut(Event<'_>) + Send + 'o;

/// Applies a history to databases.
///
/// The short calls cover an application's startup; [`Migrator::upgrade`]
/// and [`Migrator::downgrade`] set up a run with options and an observer.
///
/// ```
/// use migrate_history::{Options, SourceFile, load::Sources};
/// use migrate_runtime::{Migrator, Target};
///
/// let file = |name: &str, text: &str| SourceFile::new(format!("migrations/{name}"), text);
/// let sources = Sources {
///     revisions: vec![
///         file("a.sql", "-- revision: a\n-- parents:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INT);\n-- migrate:down\nDROP TABLE users;\n"),
///         file("b.sql", "-- revision: b\n-- parents: a\n-- message: email\n\n-- migrate:up\nALTER TABLE users ADD email TEXT;\n-- migrate:down\nALTER TABLE users DROP COLUMN email;\n"),
///     ],
///     ..Sources::default()
/// };
/// let history = migrate_history::analyze(sources, Options::default()).history;
/// let migrator = Migrator::new(history).lock_timeout(std::time::Duration::from_secs(60));
/// let mut db = rusqlite::Connection::open_in_memory()?;
///
/// assert_eq!(migrator.pending(&mut db)?.len(), 2);
/// let report = migrator.run(&mut db)?; // everything, to the heads
/// let applied: Vec<&str> = report.applied.iter().map(|r| r.id.as_str()).collect();
/// assert_eq!(applied, ["a", "b"]);
/// assert_eq!(migrator.state(&mut db)?.heads, ["b"]);
///
/// let report = migrator.undo_to(&mut db, &Target::parse("a")?)?; // one step back
/// assert_eq!(report.reverted[0].id, "b");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Migrator {
    history: History,
    schema: Option<String>,
    table: Option<String>,
    lock_timeout: Option<Duration>,
    lock_strategy: Option<LockStrategy>,
    lock_lease: Duration,
    heartbeat: Option<crate::lock_table::Connector>,
    stop: Option<Arc<AtomicBool>>,
}

/// How long a lease-table lock is held before it must be renewed (it is
/// renewed before each revision, and while one runs given
/// [`Migrator::heartbeat`]).
pub const DEFAULT_LOCK_LEASE: Duration = Duration::from_secs(60);

impl Migrator {
    /// This migrator's configuration (version table, lock) over another history.
    pub(crate) fn with_history(&self, history: History) -> Migrator {
        Migrator { history, ..self.clone() }
    }

    /// A migrator for `history`, with the default version table
    /// (`migrate_versions`) and no lock timeout.
    pub fn new(history: History) -> Migrator {
        Migrator {
            history,
            schema: None,
            table: None,
            lock_timeout: None,
            lock_strategy: None,
            lock_lease: DEFAULT_LOCK_LEASE,
            heartbeat: None,
            stop: None,
        }
    }

    /// From a history embedded with migrate-build (`include_history!()`).
    ///
    /// ```
    /// # fn demo(embedded: &migrate_history::embed::EmbeddedHistory) -> Result<(), migrate_runtime::Error> {
    /// let migrator = migrate_runtime::Migrator::from_embedded(embedded)?;
    /// # Ok(()) }
    /// ```
    pub fn from_embedded(embedded: &migrate_history::embed::EmbeddedHistory) -> Result<Migrator, Error> {
        embedded.to_history().map(Migrator::new).map_err(Error::InvalidHistory)
    }

    /// Gives up when the migration lock is not free within `timeout`
    /// ([`Error::LockTimeout`]); by default a run waits as long as it takes.
    pub fn lock_timeout(mut self, timeout: Duration) -> Migrator {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Locks with `strategy` instead of the backend's own: only
    /// [`LockStrategy::LeaseTable`] can be chosen for PostgreSQL (where
    /// session advisory locks do not hold, as behind PgBouncer in
    /// transaction pooling), and a backend that needs the lease table (such
    /// as CockroachDB, whose advisory locks do nothing) refuses the others
    /// ([`Error::UnsafeLock`]).
    ///
    /// ```
    /// use migrate_runtime::{LockStrategy, Migrator};
    /// let migrator = Migrator::new(migrate_history::History::default()).lock_strategy(LockStrategy::LeaseTable);
    /// ```
    pub fn lock_strategy(mut self, strategy: LockStrategy) -> Migrator {
        self.lock_strategy = Some(strategy);
        self
    }

    /// How long a lease-table lock lasts before it must be renewed (default
    /// [`DEFAULT_LOCK_LEASE`]); a holder that dies is taken over by another
    /// migrator that long after its last renewal. Renewed before each
    /// revision, and while one runs when [`Migrator::heartbeat`] gives a
    /// second connection; without one, make it longer than the longest
    /// revision.
    pub fn lock_lease(mut self, lease: Duration) -> Migrator {
        self.lock_lease = lease;
        self
    }

    /// Renews a lease-table lock every third of [`Migrator::lock_lease`]
    /// while a revision runs, from a thread over a connection of its own
    /// that `connect` opens (again, should one drop), so a revision longer
    /// than the lease (a large index build) is not taken over. A run that
    /// finds its lease taken over anyway stops with [`Error::LockLost`]
    /// before its next revision. No effect on the other lock strategies.
    ///
    /// ```no_run
    /// use migrate_runtime::{DatabaseUrl, LockStrategy, Migrator, connect};
    /// let url = DatabaseUrl::parse("postgres://app@db.example.com/app?sslmode=require")?;
    /// let heartbeat_url = url.clone();
    /// let migrator = Migrator::new(migrate_history::History::default())
    ///     .lock_strategy(LockStrategy::LeaseTable)
    ///     .heartbeat(move || {
    ///         let connection = connect(&heartbeat_url).map_err(|e| migrate_runtime::DbError::new(e.message))?;
    ///         Ok(connection.into_database())
    ///     });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn heartbeat(
        mut self,
        connect: impl Fn() -> Result<Box<dyn Database + Send>, DbError> + Send + Sync + 'static,
    ) -> Migrator {
        self.heartbeat = Some(crate::lock_table::Connector(Arc::new(connect)));
        self
    }

    /// Stops a run cleanly once `flag` is set (say, by a Ctrl-C handler):
    /// the revision in progress finishes and is recorded, the lock is
    /// released, and the run ends with [`Error::Interrupted`].
    pub fn stop_when(mut self, flag: Arc<AtomicBool>) -> Migrator {
        self.stop = Some(flag);
        self
    }

    /// The version table's name (default `migrate_versions`).
    pub fn version_table(mut self, name: impl Into<String>) -> Migrator {
        self.table = Some(name.into());
        self
    }

    /// The version table's PostgreSQL schema (default: the session's
    /// current schema, the first existing one of its search path).
    pub fn version_schema(mut self, schema: impl Into<String>) -> Migrator {
        self.schema = Some(schema.into());
        self
    }

    /// The version table settings of a project's configuration
    /// (`version-table`, `version-schema` in `[package.metadata.migrate]`),
    /// so that an application or script shares the CLI's version table.
    ///
    /// ```
    /// let config = migrate_history::Config { version_table: Some("schema_history".into()), ..Default::default() };
    /// let migrator = migrate_runtime::Migrator::new(migrate_history::History::default()).configured(&config);
    /// assert_eq!(migrator.table(migrate_runtime::Dialect::Sqlite).name, "schema_history");
    /// ```
    pub fn configured(mut self, config: &migrate_history::Config) -> Migrator {
        if let Some(table) = &config.version_table {
            self = self.version_table(table);
        }
        if let Some(schema) = &config.version_schema {
            self = self.version_schema(schema);
        }
        self
    }

    /// The history this migrator applies.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The version table's statements for a dialect.
    pub fn table(&self, dialect: Dialect) -> VersionTable {
        let schema = if Backend::of_dialect(dialect).capabilities().schemas { self.schema.clone() } else { None };
        VersionTable::new(dialect, schema, self.table.clone())
    }

    fn lock_key(&self, dialect: Dialect) -> i64 {
        let sum = Checksum::of(&format!("cargo-migrate:{}", self.table(dialect).display_name()));
        let bytes: [u8; 8] = sum.as_bytes()[..8].try_into().expect("8 bytes");
        i64::from_be_bytes(bytes)
    }

    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|flag| flag.load(Ordering::SeqCst))
    }

    /// Reads the version table (without creating or changing it) and
    /// compares it with the history.
    pub fn state(&self, db: &mut dyn Database) -> Result<DbState, Error> {
        now(self.read_state(&mut Blocking(db)))
    }

    /// The revisions an upgrade to the heads would apply, in order. Reads
    /// only; refuses what a run would refuse (failed, unknown or changed
    /// applied revisions).
    ///
    /// ```
    /// # fn demo(migrator: &migrate_runtime::Migrator) -> Result<(), migrate_runtime::Error> {
    /// let mut db = rusqlite::Connection::open_in_memory().expect("in memory");
    /// for revision in migrator.pending(&mut db)? {
    ///     println!("pending: {} {}", revision.id, revision.message);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn pending(&self, db: &mut dyn Database) -> Result<Vec<&Revision>, Error> {
        self.plan(db, Direction::Upgrade, &Target::Heads)
    }

    /// The revisions a run to `target` would apply (upgrade) or revert
    /// (downgrade), in the order it would, without running anything.
    pub fn plan(&self, db: &mut dyn Database, direction: Direction, target: &Target) -> Result<Vec<&Revision>, Error> {
        let state = self.state(db)?;
        self.refuse_unsettled(&state, RunOptions::default())?;
        let plan = self.plan_from(&state, direction, target)?;
        Ok(plan.steps.iter().map(|&i| self.history.revision(i)).collect())
    }

    /// Applies every pending revision (an upgrade to the heads, default
    /// options).
    pub fn run(&self, db: &mut dyn Database) -> Result<Report, Error> {
        self.upgrade(&Target::Heads).apply(db)
    }

    /// Applies what `target` needs (`Target::parse("v0.3.0")`, `+2`, an id).
    pub fn run_to(&self, db: &mut dyn Database, target: &Target) -> Result<Report, Error> {
        self.upgrade(target).apply(db)
    }

    /// Reverts what is built on `target` (`Target::Base` reverts everything).
    pub fn undo_to(&self, db: &mut dyn Database, target: &Target) -> Result<Report, Error> {
        self.downgrade(target).apply(db)
    }

    /// Sets up an upgrade to `target`, to run with [`Run::apply`].
    ///
    /// ```
    /// use migrate_runtime::{Event, Target};
    /// # fn demo(migrator: &migrate_runtime::Migrator) -> Result<(), migrate_runtime::Error> {
    /// let mut db = rusqlite::Connection::open_in_memory().expect("in memory");
    /// let mut log = Vec::new();
    /// let mut observer = |event: Event<'_>| {
    ///     if let Event::Finished { revision, elapsed, .. } = event {
    ///         log.push(format!("{} in {elapsed:?}", revision.id));
    ///     }
    /// };
    /// let report = migrator.upgrade(&Target::Heads).dry_run(true).observe(&mut observer).apply(&mut db)?;
    /// assert!(report.dry_run);
    /// # Ok(()) }
    /// ```
    pub fn upgrade(&self, target: &Target) -> Run<'_, '_> {
        Run::new(self, Direction::Upgrade, target.clone())
    }

    /// Sets up a downgrade to `target` (what is built on it is reverted), to
    /// run with [`Run::apply`].
    pub fn downgrade(&self, target: &Target) -> Run<'_, '_> {
        Run::new(self, Direction::Downgrade, target.clone())
    }

    /// Sets up reverting the revisions `ids` themselves, to run with
    /// [`Run::apply`]: each of them and every applied revision that needs
    /// it (built on it, or depending on it), newest first, and nothing
    /// else. Where [`Migrator::downgrade`] steps back to a target, reverting
    /// every branch above it, this names what goes, so a revision on
    /// another branch stays applied. A revision that is not applied is
    /// nothing to do.
    ///
    /// ```
    /// use migrate_history::{Options, SourceFile, load::Sources};
    /// use migrate_runtime::{Migrator, Target};
    ///
    /// let file = |id: &str, parents: &str, up: &str, down: &str| {
    ///     let text = format!("-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n\n-- migrate:up\n{up}\n-- migrate:down\n{down}\n");
    ///     SourceFile::new(format!("migrations/{id}.sql"), text)
    /// };
    /// let sources = Sources {
    ///     revisions: vec![
    ///         file("a", "", "CREATE TABLE a (id INT);", "DROP TABLE a;"),
    ///         file("b", "a", "CREATE TABLE b (id INT);", "DROP TABLE b;"),
    ///         file("c", "a", "CREATE TABLE c (id INT);", "DROP TABLE c;"),
    ///     ],
    ///     ..Sources::default()
    /// };
    /// let options = Options { allow_multiple_heads: true, ..Options::default() };
    /// let migrator = Migrator::new(migrate_history::analyze(sources, options).history);
    /// let mut db = rusqlite::Connection::open_in_memory()?;
    /// migrator.run_to(&mut db, &Target::Heads)?;
    ///
    /// let report = migrator.revert(["c"]).apply(&mut db)?;
    /// assert_eq!(report.reverted.len(), 1, "b, on another branch from a, stays");
    /// assert_eq!(migrator.state(&mut db)?.heads, ["b"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn revert<I, S>(&self, ids: I) -> Run<'_, '_>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let ids = ids.into_iter().map(Into::into).collect();
        Run { goal: Goal::Revert(ids), ..Run::new(self, Direction::Downgrade, Target::Base) }
    }

    /// Records the database as being at `target` without running anything,
    /// for a database whose schema was made by hand or by another tool.
    /// Other branches stay as they are; `purge` first empties the version
    /// table (also of unknown and failed rows).
    ///
    /// ```
    /// use migrate_history::{Options, SourceFile, load::Sources};
    /// use migrate_runtime::{Migrator, Target};
    ///
    /// let file = |name: &str, text: &str| SourceFile::new(format!("migrations/{name}"), text);
    /// let sources = Sources {
    ///     revisions: vec![
    ///         file("a.sql", "-- revision: a\n-- parents:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INT);\n"),
    ///         file("b.sql", "-- revision: b\n-- parents: a\n-- message: email\n\n-- migrate:up\nALTER TABLE users ADD email TEXT;\n"),
    ///     ],
    ///     ..Sources::default()
    /// };
    /// let migrator = Migrator::new(migrate_history::analyze(sources, Options::default()).history);
    /// let mut db = rusqlite::Connection::open_in_memory()?;
    /// db.execute_batch("CREATE TABLE users (id INT);")?; // what `a` makes, made by hand
    ///
    /// let report = migrator.stamp(&mut db, &Target::parse("a")?, false)?;
    /// assert_eq!(report.added, ["a"]);
    /// let report = migrator.run(&mut db)?;
    /// assert_eq!(report.applied.len(), 1, "only b runs");
    /// assert_eq!(report.applied[0].id, "b");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stamp(&self, db: &mut dyn Database, target: &Target, purge: bool) -> Result<StampReport, Error> {
        self.stamp_observed(db, target, purge, &mut |_| {})
    }

    /// [`Migrator::stamp`], telling `observer` when it waits for the lock.
    pub fn stamp_observed(
        &self,
        db: &mut dyn Database,
        target: &Target,
        purge: bool,
        observer: &mut Observer<'_>,
    ) -> Result<StampReport, Error> {
        now(self.stamp_in(&mut Blocking(db), target, purge, observer))
    }

    /// Records the revisions `ids` as applied without running them, in one
    /// transaction, in state [`State::Adopted`](crate::version_table::State::Adopted),
    /// with `provenance` (such as `adopted from sqlx`) after the user in
    /// their `applied_by`: for a
    /// database another tool migrated (see [`crate::adopt`]). Revisions
    /// already recorded are left as they are; `status`, `check` and
    /// `upgrade` treat the rest as applied.
    ///
    /// ```
    /// use migrate_history::{Options, SourceFile, load::Sources};
    /// use migrate_runtime::Migrator;
    ///
    /// let rev = |id: &str, parent: &str| format!("-- revision: {id}\n-- parents: {parent}\n-- message: t\n\n-- migrate:up\nCREATE TABLE {id} (x INT);\n");
    /// let sources = Sources {
    ///     revisions: vec![SourceFile::new("migrations/a.sql", rev("a", "")), SourceFile::new("migrations/b.sql", rev("b", "a"))],
    ///     ..Sources::default()
    /// };
    /// let migrator = Migrator::new(migrate_history::analyze(sources, Options::default()).history);
    /// let mut db = rusqlite::Connection::open_in_memory()?;
    /// db.execute_batch("CREATE TABLE a (x INT);")?; // what another tool applied
    ///
    /// let report = migrator.adopt(&mut db, &["a".to_owned()], "adopted from sqlx")?;
    /// assert_eq!(report.added, ["a"]);
    /// let state = migrator.state(&mut db)?;
    /// assert_eq!(state.rows[0].state, migrate_runtime::version_table::State::Adopted);
    /// assert!(state.rows[0].applied_by.as_deref().is_some_and(|by| by.ends_with(" (adopted from sqlx)")));
    /// assert_eq!(migrator.run(&mut db)?.applied[0].id, "b", "only b runs");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adopt(&self, db: &mut dyn Database, ids: &[String], provenance: &str) -> Result<StampReport, Error> {
        self.adopt_observed(db, ids, provenance, &mut |_| {})
    }

    /// [`Migrator::adopt`], telling `observer` when it waits for the lock.
    pub fn adopt_observed(
        &self,
        db: &mut dyn Database,
        ids: &[String],
        provenance: &str,
        observer: &mut Observer<'_>,
    ) -> Result<StampReport, Error> {
        now(self.adopt_in(&mut Blocking(db), ids, provenance, observer))
    }

    /// Settles a revision left failed, running or reverting by a
    /// `transaction: false` revision that stopped part-way, once an
    /// operator has finished or undone its statements by hand.
    ///
    /// ```
    /// use migrate_history::{Options, SourceFile, load::Sources};
    /// use migrate_runtime::{Migrator, Resolution};
    ///
    /// let revision = "-- revision: a\n-- parents:\n-- message: t\n-- transaction: false\n\n-- migrate:up\nCREATE TABLE t (x INT);\nCREATE INDEX t_x ON t (y);\n";
    /// let sources = Sources { revisions: vec![SourceFile::new("migrations/a.sql", revision)], ..Sources::default() };
    /// let migrator = Migrator::new(migrate_history::analyze(sources, Options::default()).history);
    /// let mut db = rusqlite::Connection::open_in_memory()?;
    ///
    /// assert!(migrator.run(&mut db).is_err(), "no column y: a stops after its first statement");
    /// assert_eq!(migrator.state(&mut db)?.failed[0].revision, "a");
    /// assert!(migrator.run(&mut db).is_err(), "nothing runs until a is settled");
    ///
    /// db.execute_batch("CREATE INDEX t_x ON t (x);")?; // the rest of a, by hand
    /// migrator.resolve(&mut db, "a", Resolution::Applied)?;
    /// let state = migrator.state(&mut db)?;
    /// assert!(state.failed.is_empty() && state.is_applied("a"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve(&self, db: &mut dyn Database, id: &str, resolution: Resolution) -> Result<(), Error> {
        self.resolve_observed(db, id, resolution, &mut |_| {})
    }

    /// [`Migrator::resolve`], telling `observer` when it waits for the lock.
    pub fn resolve_observed(
        &self,
        db: &mut dyn Database,
        id: &str,
        resolution: Resolution,
        observer: &mut Observer<'_>,
    ) -> Result<(), Error> {
        now(self.resolve_in(&mut Blocking(db), id, resolution, observer))
    }
}

/// The same calls over tokio-postgres, for applications on tokio: a
/// `postgres::Client` blocks, and panics inside a tokio runtime. The
/// futures are `Send`, so a run may be spawned.
///
/// ```no_run
/// # async fn demo(migrator: migrate_runtime::Migrator) -> Result<(), Box<dyn std::error::Error>> {
/// let url = migrate_runtime::DatabaseUrl::parse(&std::env::var("DATABASE_URL")?)?;
/// let mut client = migrate_runtime::connect_async(&url).await?;
/// let report = migrator.run_async(&mut client).await?;
/// println!("{} revision(s) applied", report.applied.len());
/// # Ok(()) }
/// ```
#[cfg(feature = "tokio-postgres")]
impl Migrator {
    /// [`Migrator::state`] over tokio-postgres.
    pub async fn state_async(&self, client: &mut tokio_postgres::Client) -> Result<DbState, Error> {
        self.read_state(client).await
    }

    /// [`Migrator::pending`] over tokio-postgres.
    pub async fn pending_async(&self, client: &mut tokio_postgres::Client) -> Result<Vec<&Revision>, Error> {
        let state = self.read_state(client).await?;
        self.refuse_unsettled(&state, RunOptions::default())?;
        let plan = self.plan_from(&state, Direction::Upgrade, &Target::Heads)?;
        Ok(plan.steps.iter().map(|&i| self.history.revision(i)).collect())
    }

    /// [`Migrator::run`] over tokio-postgres.
    pub async fn run_async(&self, client: &mut tokio_postgres::Client) -> Result<Report, Error> {
        self.upgrade(&Target::Heads).apply_async(client).await
    }

    /// [`Migrator::run_to`] over tokio-postgres.
    pub async fn run_to_async(&self, client: &mut tokio_postgres::Client, target: &Target) -> Result<Report, Error> {
        self.upgrade(target).apply_async(client).await
    }

    /// [`Migrator::undo_to`] over tokio-postgres.
    pub async fn undo_to_async(&self, client: &mut tokio_postgres::Client, target: &Target) -> Result<Report, Error> {
        self.downgrade(target).apply_async(client).await
    }
}

/// What a run aims at: a target, or revisions reverted by name
/// ([`Migrator::revert`]).
#[derive(Debug, Clone)]
pub(crate) enum Goal {
    Target(Target),
    Revert(Vec<String>),
}

/// An upgrade or downgrade being set up: options and an observer, then
/// [`Run::apply`] (or, with the `tokio-postgres` feature, `apply_async`).
#[must_use = "a run does nothing until it is applied"]
pub struct Run<'m, 'o> {
    migrator: &'m Migrator,
    direction: Direction,
    goal: Goal,
    options: RunOptions,
    observer: Option<&'o mut Observer<'o>>,
}

impl std::fmt::Debug for Run<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("direction", &self.direction)
            .field("goal", &self.goal)
            .field("options", &self.options)
            .field("observed", &self.observer.is_some())
            .finish()
    }
}

impl<'m, 'o> Run<'m, 'o> {
    fn new(migrator: &'m Migrator, direction: Direction, target: Target) -> Run<'m, 'o> {
        Run { migrator, direction, goal: Goal::Target(target), options: RunOptions::default(), observer: None }
    }

    /// All options at once.
    pub fn options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// Executes everything inside one transaction and rolls it back
    /// ([`RunOptions::dry_run`]).
    ///
    /// ```
    /// # use migrate_history::{Options, SourceFile, load::Sources};
    /// # let revision = "-- revision: a\n-- parents:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INT);\n";
    /// # let sources = Sources { revisions: vec![SourceFile::new("migrations/a.sql", revision)], ..Sources::default() };
    /// # let migrator = migrate_runtime::Migrator::new(migrate_history::analyze(sources, Options::default()).history);
    /// use migrate_runtime::{Database, Target};
    ///
    /// // `migrator` applies one revision, `a`, which creates the table `users`.
    /// let mut db = rusqlite::Connection::open_in_memory()?;
    /// let report = migrator.upgrade(&Target::Heads).dry_run(true).apply(&mut db)?;
    /// assert!(report.dry_run);
    /// assert_eq!(report.applied[0].id, "a", "its SQL ran");
    /// assert_eq!(db.table_columns(None, "users")?, None, "and was rolled back");
    /// assert_eq!(migrator.pending(&mut db)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.options.dry_run = yes;
        self
    }

    /// How revisions are grouped into transactions.
    pub fn transaction(mut self, mode: TransactionMode) -> Self {
        self.options.transaction = mode;
        self
    }

    /// See [`RunOptions::allow_modified`].
    pub fn allow_modified(mut self, yes: bool) -> Self {
        self.options.allow_modified = yes;
        self
    }

    /// See [`RunOptions::allow_newer`].
    pub fn allow_newer(mut self, yes: bool) -> Self {
        self.options.allow_newer = yes;
        self
    }

    /// Calls `observer` with each [`Event`] as the run goes.
    ///
    /// ```
    /// # use migrate_history::{Options, SourceFile, load::Sources};
    /// # let revision = "-- revision: a\n-- parents:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INT);\n";
    /// # let sources = Sources { revisions: vec![SourceFile::new("migrations/a.sql", revision)], ..Sources::default() };
    /// # let migrator = migrate_runtime::Migrator::new(migrate_history::analyze(sources, Options::default()).history);
    /// use migrate_runtime::{Event, Target};
    ///
    /// // `migrator` applies one revision, `a`, which creates the table `users`.
    /// let mut db = rusqlite::Connection::open_in_memory()?;
    /// let mut seen = Vec::new();
    /// let mut observer = |event: Event<'_>| match event {
    ///     Event::Started { revision, .. } => seen.push(format!("started {}", revision.id)),
    ///     Event::Statement { sql, .. } => seen.push(sql.to_owned()),
    ///     Event::Finished { revision, .. } => seen.push(format!("finished {}", revision.id)),
    ///     _ => {}
    /// };
    /// migrator.upgrade(&Target::Heads).observe(&mut observer).apply(&mut db)?;
    /// assert_eq!(seen, ["started a", "CREATE TABLE users (id INT)", "finished a"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn observe(mut self, observer: &'o mut Observer<'o>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Runs it on a blocking connection (`rusqlite::Connection`,
    /// `postgres::Client`, or any [`Database`]).
    pub fn apply(self, db: &mut dyn Database) -> Result<Report, Error> {
        now(self.apply_to(&mut Blocking(db)))
    }

    /// Runs it over tokio-postgres (feature `tokio-postgres`).
    #[cfg(feature = "tokio-postgres")]
    pub async fn apply_async(self, client: &mut tokio_postgres::Client) -> Result<Report, Error> {
        self.apply_to(client).await
    }

    async fn apply_to<C: crate::conn::Conn>(self, db: &mut C) -> Result<Report, Error> {
        let mut silent = |_: Event<'_>| {};
        let observer: &mut Observer<'_> = match self.observer {
            Some(observer) => observer,
            None => &mut silent,
        };
        self.migrator.run_in(db, self.direction, &self.goal, self.options, observer).await
    }
}
