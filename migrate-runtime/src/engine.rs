//! The engine: upgrade, downgrade, stamp and resolve against a [`Database`],
//! and offline scripts of the same statements.

use std::time::{Duration, Instant};

use migrate_core::sql::{line_at, split_statements};
use migrate_core::{Checksum, Diagnostic, History, Plan, PlanError, Revision, Target, TargetError};

use crate::version_table::{NewRow, Row, State, VersionTable};
use crate::{Database, DbError, Dialect};

/// Why a run stopped. Nothing is recorded as applied that did not commit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{context}: {source}")]
    Database { context: String, source: DbError },
    #[error("{path}:{line}: revision `{id}` failed: {message}")]
    Statement { id: String, path: String, line: usize, message: String, recorded_failure: bool, downgrade: bool },
    #[error("{}", drift.iter().map(|d| format!("{}: revision `{}` was applied with {} but its file now has {}", d.path, d.id, d.recorded, d.actual)).collect::<Vec<_>>().join("; "))]
    Drift { drift: Vec<Drift> },
    #[error("revision `{id}` failed part-way in an earlier run and is marked failed: {error}")]
    FailedRevision { id: String, error: String },
    #[error("the database has applied {} that this history does not have: {}", if ids.len() == 1 { "a revision" } else { "revisions" }, ids.join(", "))]
    UnknownRevisions { ids: Vec<String> },
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("revision `{id}` ({path}) has `transaction: false`, so it cannot run inside `--transaction all`")]
    NotTransactional { id: String, path: String },
    #[error("revision `{id}` is not marked failed")]
    NotFailed { id: String },
    #[error("the embedded history is invalid: {}", .0.iter().map(|d| d.message()).collect::<Vec<_>>().join("; "))]
    InvalidHistory(Vec<Diagnostic>),
}

impl Error {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Error::Statement { recorded_failure: true, id, .. } => format!(
                "the revision ran outside a transaction, so the statements before the failing one are in effect; finish or undo them by hand, then run `cargo migrate resolve {id} --applied` or `--rolled-back`"
            ),
            Error::Statement { downgrade: true, .. } => {
                "the revision's down section failed and was rolled back where a transaction allowed; fix it and run the downgrade again".into()
            }
            Error::Statement { .. } => "nothing of this revision was applied; fix it and run the upgrade again".into(),
            Error::Drift { .. } => "an applied revision must not change: restore the file, or pass `--allow-modified` if the change is deliberate and harmless".into(),
            Error::FailedRevision { id, .. } => format!(
                "finish or undo its statements by hand, then `cargo migrate resolve {id} --applied` (or `--rolled-back`)"
            ),
            Error::UnknownRevisions { .. } => "the database is ahead of this checkout: pull the missing revisions, or `stamp` the database if they were removed on purpose".into(),
            Error::Target(e) => return e.help().map(str::to_owned),
            Error::Plan(e) => e.help().to_owned(),
            Error::NotTransactional { .. } => "use the default `--transaction per-revision`".into(),
            Error::NotFailed { .. } => "`cargo migrate status` lists failed revisions".into(),
            Error::Database { .. } | Error::InvalidHistory(_) => return None,
        })
    }
}

/// An applied revision whose file changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub id: String,
    pub path: String,
    pub recorded: String,
    pub actual: String,
}

/// What the database has applied, compared with the history.
#[derive(Debug, Clone, Default)]
pub struct DbState {
    /// Whether the version table exists yet.
    pub table_exists: bool,
    pub rows: Vec<Row>,
    /// Per history position: applied or stamped.
    pub applied: Vec<bool>,
    /// Rows naming revisions the history does not have.
    pub unknown: Vec<Row>,
    pub drift: Vec<Drift>,
    pub failed: Vec<Row>,
}

impl DbState {
    /// The revisions the database is at.
    pub fn heads(&self, history: &History) -> Vec<usize> {
        history.applied_heads(&self.applied)
    }

    /// Revisions not applied yet, in upgrade order.
    pub fn pending(&self, history: &History) -> Vec<usize> {
        (0..history.len()).filter(|&i| !self.applied[i]).collect()
    }
}

/// How revisions are grouped into transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransactionMode {
    /// Each revision commits with its version-table row (the default).
    #[default]
    PerRevision,
    /// The whole run in one transaction.
    All,
}

/// Options of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    pub transaction: TransactionMode,
    /// Run inside one transaction and roll it back.
    pub dry_run: bool,
    /// Apply although an applied revision's file changed.
    pub allow_modified: bool,
}

/// Progress, reported as it happens.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    Started {
        revision: &'a Revision,
        direction: migrate_core::Direction,
    },
    Finished {
        revision: &'a Revision,
        direction: migrate_core::Direction,
        elapsed: Duration,
    },
    /// Another migrator applied it while this one waited.
    AlreadyDone {
        revision: &'a Revision,
    },
    /// A dry run stops before a revision that cannot run in a transaction.
    NotDryRun {
        revision: &'a Revision,
    },
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// History positions that ran, in order.
    pub done: Vec<usize>,
    /// Positions a dry run could not execute (`transaction: false` and after).
    pub not_dry_run: Vec<usize>,
    pub dry_run: bool,
}

/// Applies a history to databases.
#[derive(Debug, Clone)]
pub struct Migrator {
    history: History,
    schema: Option<String>,
    table: Option<String>,
}

impl Migrator {
    pub fn new(history: History) -> Migrator {
        Migrator { history, schema: None, table: None }
    }

    /// From a history embedded with migrate-build.
    pub fn from_embedded(embedded: &migrate_core::embed::EmbeddedHistory) -> Result<Migrator, Error> {
        embedded.to_history().map(Migrator::new).map_err(Error::InvalidHistory)
    }

    /// The version table's name (default `migrate_versions`).
    pub fn version_table(mut self, name: impl Into<String>) -> Migrator {
        self.table = Some(name.into());
        self
    }

    /// The version table's PostgreSQL schema (default: the search path's first).
    pub fn version_schema(mut self, schema: impl Into<String>) -> Migrator {
        self.schema = Some(schema.into());
        self
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// The version table's statements for a dialect.
    pub fn table(&self, dialect: Dialect) -> VersionTable {
        let schema = if dialect == Dialect::Postgres { self.schema.clone() } else { None };
        VersionTable::new(dialect, schema, self.table.clone())
    }

    fn lock_key(&self, dialect: Dialect) -> i64 {
        let sum = Checksum::of(&format!("cargo-migrate:{}", self.table(dialect).display_name()));
        let bytes: [u8; 8] = sum.as_bytes()[..8].try_into().expect("8 bytes");
        i64::from_be_bytes(bytes)
    }

    /// Reads the version table (without creating it) and compares it with the history.
    pub fn state(&self, db: &mut dyn Database) -> Result<DbState, Error> {
        let table = self.table(db.dialect());
        let context = || format!("reading the version table {}", table.display_name());
        let exists = db
            .table_exists(table.schema.as_deref(), &table.name)
            .map_err(|source| Error::Database { context: context(), source })?;
        let mut state =
            DbState { table_exists: exists, applied: vec![false; self.history.len()], ..DbState::default() };
        if !exists {
            return Ok(state);
        }
        let rows = db.query_text(&table.select()).map_err(|source| Error::Database { context: context(), source })?;
        for row in rows {
            let text = |i: usize| crate::db::cell(&row, i);
            let row = Row {
                revision: text(0),
                checksum: text(1),
                message: text(2),
                state: State::parse(&text(3)).unwrap_or(State::Failed),
                applied_at: text(4),
                execution_ms: text(5).parse().ok(),
                applied_by: row.get(6).cloned().flatten(),
                error: row.get(7).cloned().flatten(),
            };
            match self.history.index_of(&row.revision) {
                None => state.unknown.push(row.clone()),
                Some(_) if row.state == State::Failed => state.failed.push(row.clone()),
                Some(i) => {
                    state.applied[i] = true;
                    let rev = self.history.revision(i);
                    let actual = rev.checksum.to_string();
                    if row.checksum != actual {
                        state.drift.push(Drift {
                            id: rev.id.clone(),
                            path: rev.file.path.display().to_string(),
                            recorded: row.checksum.clone(),
                            actual,
                        });
                    }
                }
            }
            state.rows.push(row);
        }
        Ok(state)
    }

    /// Applies what `target` needs.
    pub fn upgrade(
        &self,
        db: &mut dyn Database,
        target: &Target,
        options: RunOptions,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<Outcome, Error> {
        self.locked(db, |this, db| {
            let state = this.checked_state(db, options.allow_modified)?;
            let goal = this.history.resolve(target, &state.heads(&this.history))?;
            let plan = this.history.plan_upgrade(&state.applied, &goal);
            this.run(db, &plan, options, events)
        })
    }

    /// Reverts what is built on `target`.
    pub fn downgrade(
        &self,
        db: &mut dyn Database,
        target: &Target,
        options: RunOptions,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<Outcome, Error> {
        self.locked(db, |this, db| {
            let state = this.checked_state(db, options.allow_modified)?;
            let current = state.heads(&this.history);
            let goal = this.history.resolve(target, &current)?;
            let plan = match target {
                // Stepping back past a branch's first revision reverts that
                // branch only, as Alembic does, not every branch.
                Target::Relative { anchor, steps } if goal.is_empty() && *steps < 0 => {
                    let first = Target::Relative { anchor: anchor.clone(), steps: steps + 1 };
                    let root = this.history.resolve(&first, &current)?;
                    let root = if root.is_empty() { current.clone() } else { root };
                    let first_of_branch: Vec<usize> = root
                        .iter()
                        .flat_map(|&r| this.history.ancestors(&[r]).into_iter().enumerate())
                        .filter(|&(i, is_ancestor)| is_ancestor && this.history.parents(i).is_empty())
                        .map(|(i, _)| i)
                        .collect();
                    this.history.plan_revert(&state.applied, &first_of_branch)?
                }
                _ => this.history.plan_downgrade(&state.applied, &goal)?,
            };
            this.run(db, &plan, options, events)
        })
    }

    /// Records the database as being at `target` without running anything.
    /// `purge` first empties the version table (also of unknown and failed rows).
    pub fn stamp(&self, db: &mut dyn Database, target: &Target, purge: bool) -> Result<(usize, usize), Error> {
        self.locked(db, |this, db| {
            let table = this.table(db.dialect());
            let state = this.state(db)?;
            let goal = this.history.resolve(target, &state.heads(&this.history))?;
            let keep = this.history.ancestors(&goal);
            // Other branches stay as they are (as in Alembic); `base` and `--purge` clear all.
            let affected = if goal.is_empty() {
                vec![true; this.history.len()]
            } else {
                let above = this.history.descendants(&goal);
                (0..this.history.len()).map(|i| keep[i] || above[i]).collect()
            };
            let user = applied_by(db);
            let mut sql = vec![table.create(), db.dialect().begin().to_owned()];
            let (mut added, mut removed) = (0, 0);
            if purge {
                sql.push(table.delete_all());
                removed = state.rows.len();
            }
            for (i, rev) in this.history.revisions().iter().enumerate() {
                let recorded = !purge && state.rows.iter().any(|r| r.revision == rev.id && r.state != State::Failed);
                if keep[i] && !recorded {
                    if !purge && state.failed.iter().any(|r| r.revision == rev.id) {
                        sql.push(table.delete(&rev.id));
                    }
                    sql.push(table.insert(&new_row(rev, State::Stamped, None, Some(&user), None)));
                    added += 1;
                } else if !keep[i] && affected[i] && !purge && state.rows.iter().any(|r| r.revision == rev.id) {
                    sql.push(table.delete(&rev.id));
                    removed += 1;
                }
            }
            sql.push("COMMIT".to_owned());
            let batch = sql.join(";\n");
            db.execute_batch(&batch).map_err(|source| {
                let _ = db.execute_batch("ROLLBACK");
                Error::Database { context: "stamping".into(), source }
            })?;
            Ok((added, removed))
        })
    }

    /// Settles a revision marked failed: finished by hand (`applied`) or
    /// undone by hand (`!applied`).
    pub fn resolve(&self, db: &mut dyn Database, revision: &str, applied: bool) -> Result<(), Error> {
        self.locked(db, |this, db| {
            let table = this.table(db.dialect());
            let state = this.state(db)?;
            let Some(row) = state.failed.iter().find(|r| r.revision == revision) else {
                return Err(Error::NotFailed { id: revision.to_owned() });
            };
            let sql = if applied { table.mark_applied(&row.revision) } else { table.delete(&row.revision) };
            db.execute_batch(&sql).map_err(|source| Error::Database { context: "resolving".into(), source })
        })
    }

    /// An offline script: the version table, then each step with its
    /// version-table statement, each revision in its own transaction.
    pub fn script(&self, dialect: Dialect, plan: &Plan) -> String {
        let table = self.table(dialect);
        let mut out = String::new();
        let direction = match plan.direction {
            migrate_core::Direction::Upgrade => "upgrade",
            migrate_core::Direction::Downgrade => "downgrade",
        };
        out.push_str(&format!(
            "-- Generated by cargo-migrate: {direction} of {} revision(s) for {}.\n",
            plan.steps.len(),
            dialect.name()
        ));
        out.push_str(match dialect {
            Dialect::Postgres => {
                "-- Apply with: psql -v ON_ERROR_STOP=1 -f THIS_FILE (each revision commits on its own)\n"
            }
            Dialect::Sqlite => "-- Apply with: sqlite3 -bail DATABASE < THIS_FILE\n",
        });
        out.push_str(&format!("\n{};\n", table.create()));
        for &i in &plan.steps {
            let rev = self.history.revision(i);
            let (verb, sql, record) = match plan.direction {
                migrate_core::Direction::Upgrade => {
                    ("Applying", rev.up_sql(), table.insert(&new_row(rev, State::Applied, None, None, None)))
                }
                migrate_core::Direction::Downgrade => {
                    ("Reverting", rev.down_sql().unwrap_or_default(), table.delete(&rev.id))
                }
            };
            out.push_str(&format!("\n-- {verb} {}: {} ({})\n", rev.id, rev.message, rev.file.path.display()));
            if rev.transaction {
                out.push_str("BEGIN;\n");
            }
            let sql = sql.trim();
            if !sql.is_empty() {
                out.push_str(sql);
                // On a line of its own: the SQL may end with a `--` comment.
                out.push_str(if sql.ends_with(';') { "\n" } else { "\n;\n" });
            }
            out.push_str(&record);
            out.push_str(";\n");
            if rev.transaction {
                out.push_str("COMMIT;\n");
            }
        }
        out
    }

    /// Runs `f` holding the migration lock, releasing it on every path.
    fn locked<T>(
        &self,
        db: &mut dyn Database,
        f: impl FnOnce(&Self, &mut dyn Database) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let key = self.lock_key(db.dialect());
        db.lock(key).map_err(|source| Error::Database { context: "taking the migration lock".into(), source })?;
        // Even a panic (say, in an event callback) must not leave the lock held
        // or a transaction open on a connection that may be pooled.
        let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self, &mut *db))) {
            Ok(result) => result,
            Err(panic) => {
                let _ = db.execute_batch("ROLLBACK");
                let _ = db.unlock(key);
                std::panic::resume_unwind(panic);
            }
        };
        let unlocked = db.unlock(key);
        let value = result?;
        unlocked.map_err(|source| Error::Database { context: "releasing the migration lock".into(), source })?;
        Ok(value)
    }

    /// The state, refusing failed, unknown or drifted revisions.
    fn checked_state(&self, db: &mut dyn Database, allow_modified: bool) -> Result<DbState, Error> {
        let state = self.state(db)?;
        if let Some(failed) = state.failed.first() {
            return Err(Error::FailedRevision {
                id: failed.revision.clone(),
                error: failed.error.clone().unwrap_or_default(),
            });
        }
        if !state.unknown.is_empty() {
            return Err(Error::UnknownRevisions { ids: state.unknown.iter().map(|r| r.revision.clone()).collect() });
        }
        if !state.drift.is_empty() && !allow_modified {
            return Err(Error::Drift { drift: state.drift.clone() });
        }
        Ok(state)
    }

    fn run(
        &self,
        db: &mut dyn Database,
        plan: &Plan,
        options: RunOptions,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<Outcome, Error> {
        let dialect = db.dialect();
        let table = self.table(dialect);
        let mut outcome = Outcome { dry_run: options.dry_run, ..Outcome::default() };
        let one_transaction = options.dry_run || options.transaction == TransactionMode::All;
        if options.transaction == TransactionMode::All
            && !options.dry_run
            && let Some(&i) = plan.steps.iter().find(|&&i| !self.history.revision(i).transaction)
        {
            let rev = self.history.revision(i);
            return Err(Error::NotTransactional { id: rev.id.clone(), path: rev.file.path.display().to_string() });
        }
        let user = applied_by(db);
        let database_error = |context: &str, source: DbError| Error::Database { context: context.to_owned(), source };

        if one_transaction {
            db.execute_batch(dialect.begin()).map_err(|e| database_error("starting the transaction", e))?;
        }
        let result = (|| -> Result<(), Error> {
            // Only when missing: CREATE ... IF NOT EXISTS still needs the CREATE privilege.
            let exists = db
                .table_exists(table.schema.as_deref(), &table.name)
                .map_err(|e| database_error("reading the version table", e))?;
            if !exists {
                db.execute_batch(&table.create()).map_err(|e| database_error("creating the version table", e))?;
            }
            for (position, &i) in plan.steps.iter().enumerate() {
                let rev = self.history.revision(i);
                if options.dry_run && !rev.transaction {
                    for &rest in &plan.steps[position..] {
                        events(Event::NotDryRun { revision: self.history.revision(rest) });
                        outcome.not_dry_run.push(rest);
                    }
                    break;
                }
                if self.step(db, &table, rev, plan.direction, !one_transaction, &user, events)? {
                    outcome.done.push(i);
                }
            }
            Ok(())
        })();
        if one_transaction {
            let end = if options.dry_run || result.is_err() { "ROLLBACK" } else { "COMMIT" };
            let ended = db.execute_batch(end);
            result?;
            ended.map_err(|e| database_error("ending the transaction", e))?;
        } else {
            result?;
        }
        Ok(outcome)
    }

    /// One revision. Returns `false` when another migrator did it meanwhile.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        db: &mut dyn Database,
        table: &VersionTable,
        rev: &Revision,
        direction: migrate_core::Direction,
        own_transaction: bool,
        user: &str,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<bool, Error> {
        let upgrade = direction == migrate_core::Direction::Upgrade;
        let (sql, section) = section_of(rev, direction);
        let database_error = |context: String, source: DbError| Error::Database { context, source };
        let transactional = own_transaction && rev.transaction;
        if transactional && db.dialect() == Dialect::Postgres {
            return self.step_in_one_round_trip(db, table, rev, direction, user, events);
        }
        if transactional {
            db.execute_batch(db.dialect().begin()).map_err(|e| database_error("starting a transaction".into(), e))?;
        }
        // After BEGIN, every error path rolls back: never leave a connection
        // (maybe the application's own) inside an open transaction.
        let fail = |db: &mut dyn Database, context: String, source: DbError| {
            if transactional {
                let _ = db.execute_batch("ROLLBACK");
            }
            database_error(context, source)
        };
        // Re-check under the lock: a concurrent migrator may have done it.
        let recorded = match db.query_text(&table.select_revision(&rev.id)) {
            Ok(rows) => rows,
            Err(e) => return Err(fail(db, "reading the version table".into(), e)),
        };
        if recorded.is_empty() != upgrade {
            if transactional {
                let _ = db.execute_batch("ROLLBACK");
            }
            events(Event::AlreadyDone { revision: rev });
            return Ok(false);
        }
        events(Event::Started { revision: rev, direction });
        let start = Instant::now();
        let first_line = section.marker_line + 1;
        let line_of = |offset: Option<usize>| offset.map_or(first_line, |o| first_line + line_at(sql, o) - 1);
        // One statement at a time: the error then names the failing
        // statement's line, and outside a transaction PostgreSQL needs it
        // (a multi-statement query is one implicit transaction).
        let executed = split_statements(sql).into_iter().try_for_each(|statement| {
            db.execute_batch(statement.text).map_err(|e| (line_of(Some(statement.offset + e.offset.unwrap_or(0))), e))
        });
        if let Err((line, error)) = executed {
            let recorded_failure = !rev.transaction;
            if transactional {
                let _ = db.execute_batch("ROLLBACK");
            }
            if recorded_failure && upgrade {
                let message = format!("line {line}: {}", error.message);
                let row = new_row(rev, State::Failed, None, Some(user), Some(&message));
                db.execute_batch(&table.insert(&row))
                    .map_err(|e| database_error(format!("recording the failure of {}", rev.id), e))?;
            }
            return Err(Error::Statement {
                id: rev.id.clone(),
                path: rev.file.path.display().to_string(),
                line,
                message: error.message,
                recorded_failure: recorded_failure && upgrade,
                downgrade: !upgrade,
            });
        }
        let elapsed = start.elapsed();
        let record = if upgrade {
            let ms = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
            table.insert(&new_row(rev, State::Applied, Some(ms), Some(user), None))
        } else {
            table.delete(&rev.id)
        };
        if let Err(e) = db.execute_batch(&record) {
            return Err(fail(db, format!("recording {}", rev.id), e));
        }
        if transactional && let Err(e) = db.execute_batch("COMMIT") {
            return Err(fail(db, format!("committing {}", rev.id), e));
        }
        events(Event::Finished { revision: rev, direction, elapsed });
        Ok(true)
    }
}

impl Migrator {
    /// A transactional revision on PostgreSQL: `BEGIN`, its SQL, its
    /// version-table statement and `COMMIT` in one round trip, as fast as
    /// psql running the same SQL. The advisory lock makes re-checking the
    /// version table unnecessary. When it fails, the revision is replayed
    /// statement by statement in a transaction that is rolled back, to name
    /// the failing statement's line.
    fn step_in_one_round_trip(
        &self,
        db: &mut dyn Database,
        table: &VersionTable,
        rev: &Revision,
        direction: migrate_core::Direction,
        user: &str,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<bool, Error> {
        let upgrade = direction == migrate_core::Direction::Upgrade;
        let (sql, section) = section_of(rev, direction);
        events(Event::Started { revision: rev, direction });
        let start = Instant::now();
        let record = if upgrade {
            let row = NewRow { timed_by_server: true, ..new_row(rev, State::Applied, None, Some(user), None) };
            table.insert(&row)
        } else {
            table.delete(&rev.id)
        };
        let batch = format!("BEGIN;\n{sql}\n;\n{record};\nCOMMIT;");
        if let Err(error) = db.execute_batch(&batch) {
            let _ = db.execute_batch("ROLLBACK");
            let first_line = section.marker_line + 1;
            let batch_offset = "BEGIN;\n".len();
            // PostgreSQL points into the batch for syntax errors; replay only when it does not.
            let located = error.offset.filter(|&o| o >= batch_offset && o - batch_offset <= sql.len());
            let mut failure = (located.map_or(first_line, |o| first_line + line_at(sql, o - batch_offset) - 1), error);
            if located.is_none() && db.execute_batch("BEGIN").is_ok() {
                for statement in split_statements(sql) {
                    if let Err(e) = db.execute_batch(statement.text) {
                        let line = first_line + line_at(sql, statement.offset + e.offset.unwrap_or(0)) - 1;
                        failure = (line, e);
                        break;
                    }
                }
                let _ = db.execute_batch("ROLLBACK");
            }
            return Err(Error::Statement {
                id: rev.id.clone(),
                path: rev.file.path.display().to_string(),
                line: failure.0,
                message: failure.1.message,
                recorded_failure: false,
                downgrade: !upgrade,
            });
        }
        events(Event::Finished { revision: rev, direction, elapsed: start.elapsed() });
        Ok(true)
    }
}

/// The SQL a step runs and the section it comes from (for line numbers).
fn section_of(rev: &Revision, direction: migrate_core::Direction) -> (&str, &migrate_core::Section) {
    match direction {
        migrate_core::Direction::Upgrade => (rev.up_sql(), &rev.up),
        migrate_core::Direction::Downgrade => {
            (rev.down_sql().unwrap_or_default(), rev.down.as_ref().unwrap_or(&rev.up))
        }
    }
}

fn new_row<'a>(
    rev: &'a Revision,
    state: State,
    execution_ms: Option<i64>,
    applied_by: Option<&'a str>,
    error: Option<&'a str>,
) -> NewRow<'a> {
    NewRow {
        revision: &rev.id,
        checksum: rev.checksum.to_string(),
        message: &rev.message,
        state,
        execution_ms,
        timed_by_server: false,
        applied_by,
        error,
    }
}

/// `user@client-host`, for the version table.
fn applied_by(db: &mut dyn Database) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    format!("{}@{host}", db.user())
}
