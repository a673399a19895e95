//! The engine: upgrade, downgrade, stamp and resolve against a [`Database`],
//! and offline scripts of the same statements.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use migrate_history::sql::{Statement, comment_safe, controls_transaction, line_at, split};
use migrate_history::{Checksum, Diagnostic, History, Plan, PlanError, Revision, Target, TargetError};

use crate::version_table::{NewRow, Row, State, VersionTable};
use crate::{Database, DbError, Dialect};

/// Why a run stopped. Nothing is recorded as applied that did not commit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{context}: {source}")]
    Database { context: String, source: DbError },
    #[error("{path}:{line}: revision `{id}` failed: {message}")]
    Statement {
        id: String,
        path: String,
        line: usize,
        message: String,
        /// SQLSTATE on PostgreSQL.
        code: Option<String>,
        kind: FailureKind,
        recorded_failure: bool,
        downgrade: bool,
    },
    #[error("{}", drift.iter().map(|d| format!("{}: revision `{}` was applied with {} but its file now has {}", d.path, d.id, d.recorded, d.actual)).collect::<Vec<_>>().join("; "))]
    Drift { drift: Vec<Drift> },
    #[error("revision `{id}` is marked {}{} in the version table{}", state.as_str(), progress(*statements_done, *state), error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    Unsettled { id: String, state: State, statements_done: Option<i64>, error: Option<String> },
    #[error("the database has applied {} that this history does not have: {}{}", if ids.len() == 1 { "a revision" } else { "revisions" }, ids.join(", "), older_than.as_deref().map(unknown_before).unwrap_or_default())]
    UnknownRevisions {
        ids: Vec<String>,
        /// A known applied revision recorded after an unknown one: then the
        /// unknown ones are not simply newer, and `allow_newer` does not apply.
        older_than: Option<String>,
    },
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("revision `{id}` ({path}) has `transaction: false`, so it cannot run inside `--transaction all`")]
    NotTransactional { id: String, path: String },
    #[error("revision `{id}` is not marked failed, running or reverting")]
    NotFailed { id: String },
    #[error("the embedded history is invalid: {}", .0.iter().map(|d| d.message()).collect::<Vec<_>>().join("; "))]
    InvalidHistory(Vec<Diagnostic>),
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    InvalidSql { problems: Vec<SqlProblem> },
    #[error("the migration lock was not free within {}{}", humanize(*timeout), holder.as_deref().map(|h| format!("; it is held by {h}")).unwrap_or_default())]
    LockTimeout { timeout: Duration, holder: Option<String> },
    #[error("interrupted: stopped between revisions after {done} revision(s)")]
    Interrupted { done: usize },
    #[error(
        "the PostgreSQL session has no current schema (its search_path names no existing schema), so there is nowhere to keep the version table"
    )]
    NoSchema,
}

/// What kind of failure a statement met, as far as the database says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// The object it creates exists already (PostgreSQL 42P07, 42710,
    /// 42701, 42P06, 42723; SQLite's "already exists").
    AlreadyExists,
    Other,
}

impl FailureKind {
    fn of(error: &DbError) -> FailureKind {
        let exists = match error.code.as_deref() {
            Some(code) => matches!(code, "42P07" | "42710" | "42701" | "42P06" | "42723"),
            None => error.message.contains("already exists"),
        };
        if exists { FailureKind::AlreadyExists } else { FailureKind::Other }
    }
}

/// A section that cannot be run as written: found before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: revision `{id}`: {message}")]
pub struct SqlProblem {
    pub id: String,
    pub path: String,
    pub line: usize,
    pub message: String,
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
const BASE: &str = "base";

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
                "the revision ran outside a transaction, so the statements before the failing one are in effect; finish or undo them by hand, then run `cargo migrate resolve {id} --applied` or `--rolled-back`"
            ),
            Error::Statement { recorded_failure: true, id, downgrade: true, .. } => format!(
                "the down section ran outside a transaction, so the statements before the failing one are in effect; finish or undo them by hand, then run `cargo migrate resolve {id} --rolled-back` (the revision is reverted) or `--applied` (it is not)"
            ),
            Error::Statement { downgrade: true, .. } => {
                "the revision's down section failed and was rolled back; fix it and run the downgrade again".into()
            }
            Error::Statement { kind: FailureKind::AlreadyExists, .. } => "nothing of this revision was applied; if the database already has what it creates (made by hand or by another tool), compare the schema with the history and record the revision as applied without running it (`Migrator::stamp`); otherwise fix the revision".into(),
            Error::Statement { .. } => "nothing of this revision was applied; fix it and run the upgrade again".into(),
            Error::Drift { .. } => "an applied revision must not change: restore the file, or set `RunOptions::allow_modified` if the change is deliberate and harmless".into(),
            Error::Unsettled { id, state, .. } => format!(
                "{} in an earlier run, outside a transaction; finish or undo its statements by hand, then `cargo migrate resolve {id} --applied` (it is in effect) or `--rolled-back` (it is not)",
                if *state == State::Failed { "it failed part-way" } else { "it was interrupted part-way (the process died or was killed)" }
            ),
            Error::UnknownRevisions { older_than: None, .. } => "the database is ahead of this build: deploy the build that has them, or set `RunOptions::allow_newer` to run against revisions applied after everything this history has (as when rolling an application back)".into(),
            Error::UnknownRevisions { older_than: Some(_), .. } => "the database's history differs from this one: pull the missing revisions, or `stamp` the database if they were removed on purpose".into(),
            Error::Target(e) => return e.help().map(str::to_owned),
            Error::Plan(e) => e.help().to_owned(),
            Error::NotTransactional { .. } => "use the default `--transaction per-revision`".into(),
            Error::NotFailed { .. } => "`cargo migrate status` lists failed revisions".into(),
            Error::InvalidSql { problems } => problems.first().map_or("", |p| p.help).to_owned(),
            Error::LockTimeout { .. } => {
                "another migration is running; wait for it, or raise `--lock-timeout`".into()
            }
            Error::Interrupted { .. } => "what ran before the stop is committed (or, in one transaction, rolled back); run the same command again to go on".into(),
            Error::NoSchema => "set `version-schema` in [package.metadata.migrate], or fix the role's search_path".into(),
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
    /// The version table's columns (name, type), `None` while it does not exist.
    pub columns: Option<Vec<(String, String)>>,
    pub rows: Vec<Row>,
    /// Per history position: applied or stamped.
    pub applied: Vec<bool>,
    /// Rows naming revisions the history does not have.
    pub unknown: Vec<Row>,
    pub drift: Vec<Drift>,
    /// Rows an operator must settle with `resolve`: failed, running (an
    /// interrupted `transaction: false` revision) or reverting.
    pub failed: Vec<Row>,
}

impl DbState {
    /// Whether the version table exists yet.
    pub fn table_exists(&self) -> bool {
        self.columns.is_some()
    }

    /// The revisions the database is at.
    pub fn heads(&self, history: &History) -> Vec<usize> {
        history.applied_heads(&self.applied)
    }

    /// The newest known applied revision recorded after the oldest unknown
    /// one (timestamps in the version table's `applied_at`), or, when no
    /// known revision is applied, the first revision: `None` when every
    /// unknown revision is newer than everything the history has applied.
    pub fn newest_known_after_unknown(&self) -> Option<String> {
        let oldest_unknown = self.unknown.iter().map(|r| r.applied_at.as_str()).min()?;
        let known = self.rows.iter().filter(|r| !self.unknown.iter().any(|u| u.revision == r.revision));
        match known.max_by(|a, b| a.applied_at.cmp(&b.applied_at)) {
            None => Some(BASE.to_owned()),
            Some(newest) => (newest.applied_at.as_str() > oldest_unknown).then(|| newest.revision.clone()),
        }
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
    /// Upgrade although the database has applied revisions this history does
    /// not have, provided every one of them was applied after every revision
    /// it does have (a newer build migrated it: an application rolled back).
    /// Unknown revisions older than a known applied one still refuse.
    pub allow_newer: bool,
}

/// Progress, reported as it happens.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    Started {
        revision: &'a Revision,
        direction: migrate_history::Direction,
    },
    Finished {
        revision: &'a Revision,
        direction: migrate_history::Direction,
        elapsed: Duration,
    },
    /// Another migrator applied it while this one waited.
    AlreadyDone {
        revision: &'a Revision,
    },
    /// A dry run did not execute a revision.
    NotExecuted {
        revision: &'a Revision,
        /// `None`: it has `transaction: false` itself; otherwise the
        /// `transaction: false` revision it builds on.
        because_of: Option<&'a Revision>,
    },
    /// A statement of a revision, about to be executed.
    Statement {
        revision: &'a Revision,
        sql: &'a str,
    },
    /// Another process holds the migration lock; this one waits for it.
    WaitingForLock {
        holder: Option<&'a str>,
        timeout: Option<Duration>,
    },
}

/// A revision a dry run did not execute, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotExecuted {
    /// Its history position.
    pub position: usize,
    /// `None`: it has `transaction: false`; otherwise the position of the
    /// `transaction: false` revision it builds on.
    pub because_of: Option<usize>,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// History positions that ran, in order.
    pub done: Vec<usize>,
    /// Revisions a dry run could not execute: `transaction: false` ones and
    /// those that build on them.
    pub not_executed: Vec<NotExecuted>,
    pub dry_run: bool,
}

/// Applies a history to databases.
#[derive(Debug, Clone)]
pub struct Migrator {
    history: History,
    schema: Option<String>,
    table: Option<String>,
    lock_timeout: Option<Duration>,
    stop: Option<Arc<AtomicBool>>,
}

impl Migrator {
    pub fn new(history: History) -> Migrator {
        Migrator { history, schema: None, table: None, lock_timeout: None, stop: None }
    }

    /// Gives up when the migration lock is not free within `timeout`
    /// ([`Error::LockTimeout`]); by default a run waits as long as it takes.
    pub fn lock_timeout(mut self, timeout: Duration) -> Migrator {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Stops a run cleanly once `flag` is set (say, by a Ctrl-C handler):
    /// the revision in progress finishes and is recorded, the lock is
    /// released, and the run ends with [`Error::Interrupted`].
    pub fn stop_when(mut self, flag: Arc<AtomicBool>) -> Migrator {
        self.stop = Some(flag);
        self
    }

    /// From a history embedded with migrate-build.
    pub fn from_embedded(embedded: &migrate_history::embed::EmbeddedHistory) -> Result<Migrator, Error> {
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

    /// Reads the version table (without creating or changing it) and
    /// compares it with the history.
    pub fn state(&self, db: &mut dyn Database) -> Result<DbState, Error> {
        let table = self.table(db.dialect());
        self.state_in(db, &table)
    }

    fn state_in(&self, db: &mut dyn Database, table: &VersionTable) -> Result<DbState, Error> {
        let context = || format!("reading the version table {}", table.display_name());
        let columns = db
            .table_columns(table.schema.as_deref(), &table.name)
            .map_err(|source| Error::Database { context: context(), source })?;
        let mut state = DbState { applied: vec![false; self.history.len()], ..DbState::default() };
        let Some(columns) = columns else { return Ok(state) };
        let rows =
            db.query_text(&table.select(&columns)).map_err(|source| Error::Database { context: context(), source })?;
        state.columns = Some(columns);
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
                statements_done: text(8).parse().ok(),
            };
            match self.history.index_of(&row.revision) {
                None => state.unknown.push(row.clone()),
                Some(_) if row.state.is_unsettled() => state.failed.push(row.clone()),
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
        self.locked(db, events, |this, db, events, table| {
            let state = this.checked_state(db, table, options.allow_modified, options.allow_newer)?;
            let goal = this.history.resolve(target, &state.heads(&this.history))?;
            let plan = this.history.plan_upgrade(&state.applied, &goal);
            this.run(db, table, &state, &plan, options, events)
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
        self.locked(db, events, |this, db, events, table| {
            let state = this.checked_state(db, table, options.allow_modified, false)?;
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
                        .flat_map(|&r| this.history.branch_ancestors(&[r]).into_iter().enumerate())
                        .filter(|&(i, is_ancestor)| is_ancestor && this.history.parents(i).is_empty())
                        .map(|(i, _)| i)
                        .collect();
                    this.history.plan_revert(&state.applied, &first_of_branch)?
                }
                _ => this.history.plan_downgrade(&state.applied, &goal)?,
            };
            this.run(db, table, &state, &plan, options, events)
        })
    }

    /// Records the database as being at `target` without running anything.
    /// `purge` first empties the version table (also of unknown and failed
    /// rows). Returns how many rows were added and removed.
    pub fn stamp(
        &self,
        db: &mut dyn Database,
        target: &Target,
        purge: bool,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<(usize, usize), Error> {
        self.locked(db, events, |this, db, _, table| {
            let state = this.state_in(db, table)?;
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
            let mut sql = Self::ensure_table(table, &state);
            sql.push(db.dialect().begin().to_owned());
            let (mut added, mut removed) = (0, 0);
            if purge {
                sql.push(table.delete_all());
                removed = state.rows.len();
            }
            for (i, rev) in this.history.revisions().iter().enumerate() {
                let recorded = !purge && state.rows.iter().any(|r| r.revision == rev.id && !r.state.is_unsettled());
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

    /// Settles a revision marked failed, running or reverting: in effect
    /// (`applied`, finished by hand) or not (`!applied`, undone by hand).
    pub fn resolve(
        &self,
        db: &mut dyn Database,
        revision: &str,
        applied: bool,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), Error> {
        self.locked(db, events, |this, db, _, table| {
            let state = this.state_in(db, table)?;
            let Some(row) = state.failed.iter().find(|r| r.revision == revision) else {
                return Err(Error::NotFailed { id: revision.to_owned() });
            };
            let mut sql = Self::ensure_table(table, &state);
            sql.push(if applied { table.mark_applied(&row.revision, None) } else { table.delete(&row.revision) });
            db.execute_batch(&sql.join(";\n")).map_err(|source| Error::Database { context: "resolving".into(), source })
        })
    }

    /// An offline script: the version table, then each step with its
    /// version-table statements, each transactional revision in its own
    /// transaction. Statements are split and terminated exactly as an online
    /// run executes them, and nothing from a revision's header or file name
    /// reaches the script outside a comment made safe or a quoted literal.
    pub fn script(&self, dialect: Dialect, plan: &Plan) -> Result<String, Error> {
        let table = VersionTable { progress: dialect != Dialect::Sqlite, ..self.table(dialect) };
        let prepared = self.prepare(dialect, plan)?;
        let mut out = String::new();
        let direction = match plan.direction {
            migrate_history::Direction::Upgrade => "upgrade",
            migrate_history::Direction::Downgrade => "downgrade",
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
        if let Some(alter) = table.add_missing_columns() {
            out.push_str(&format!("{alter};\n"));
        }
        let upgrade = plan.direction == migrate_history::Direction::Upgrade;
        for (&i, statements) in plan.steps.iter().zip(&prepared) {
            let rev = self.history.revision(i);
            let verb = if upgrade { "Applying" } else { "Reverting" };
            out.push_str(&format!(
                "\n-- {verb} {}: {} ({})\n",
                rev.id,
                comment_safe(&rev.message),
                comment_safe(&rev.file.path.display().to_string())
            ));
            let mut push = |sql: &str| {
                out.push_str(sql);
                out.push_str(";\n");
            };
            if rev.transaction {
                push("BEGIN");
                statements.iter().for_each(|st| push(st.text));
                push(&if upgrade {
                    table.insert(&new_row(rev, State::Applied, None, None, None))
                } else {
                    table.delete(&rev.id)
                });
                push("COMMIT");
            } else {
                // The same trace as online: a script stopped part-way leaves a
                // `running` row saying how far it got.
                let state = if upgrade { State::Running } else { State::Reverting };
                push(&if upgrade {
                    table.insert(&new_row(rev, State::Running, None, None, None))
                } else {
                    table.mark_progress(&rev.id, state, 0, None)
                });
                for (done, st) in statements.iter().enumerate() {
                    push(st.text);
                    if table.progress {
                        push(&table.mark_progress(&rev.id, state, done as i64 + 1, None));
                    }
                }
                push(&if upgrade { table.mark_applied(&rev.id, None) } else { table.delete(&rev.id) });
            }
        }
        Ok(out)
    }

    /// The statements of every step, checked before anything runs: SQL the
    /// splitter cannot close, and transaction control inside a revision that
    /// runs in its own transaction, are refused with the file and line.
    fn prepare<'h>(&'h self, dialect: Dialect, plan: &Plan) -> Result<Vec<Vec<Statement<'h>>>, Error> {
        let mut problems = Vec::new();
        let mut prepared = Vec::with_capacity(plan.steps.len());
        for &i in &plan.steps {
            let rev = self.history.revision(i);
            let (sql, section) = section_of(rev, plan.direction);
            let line = |offset: usize| section.marker_line + line_at(sql, offset);
            let problem = |offset: usize, message: String, help: &'static str| SqlProblem {
                id: rev.id.clone(),
                path: rev.file.path.display().to_string(),
                line: line(offset),
                message,
                help,
            };
            match split(sql, dialect) {
                Ok(statements) => {
                    if rev.transaction {
                        for st in statements.iter().filter(|st| controls_transaction(st.text, dialect)) {
                            let word = st.text.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                            problems.push(problem(
                                st.offset,
                                format!("`{word}` inside a revision that runs in its own transaction would end that transaction part-way"),
                                "remove it; or, if the revision must control its transactions, add `-- transaction: false` to its header",
                            ));
                        }
                    }
                    prepared.push(statements);
                }
                Err(e) => {
                    problems.push(problem(
                        e.offset,
                        format!("{e} ({} rules)", dialect.name()),
                        "close it: otherwise the database would ignore or misread everything after it",
                    ));
                    prepared.push(Vec::new());
                }
            }
        }
        if problems.is_empty() { Ok(prepared) } else { Err(Error::InvalidSql { problems }) }
    }

    /// Runs `f` holding the migration lock, releasing it on every path.
    fn locked<T>(
        &self,
        db: &mut dyn Database,
        events: &mut dyn FnMut(Event<'_>),
        f: impl FnOnce(&Self, &mut dyn Database, &mut dyn FnMut(Event<'_>), &VersionTable) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let key = self.lock_key(db.dialect());
        let lock_error = |source| Error::Database { context: "taking the migration lock".into(), source };
        if !db.try_lock(key).map_err(lock_error)? {
            let holder = db.lock_holder(key);
            events(Event::WaitingForLock { holder: holder.as_deref(), timeout: self.lock_timeout });
            if !db.lock(key, self.lock_timeout).map_err(lock_error)? {
                let timeout = self.lock_timeout.unwrap_or_default();
                return Err(Error::LockTimeout { timeout, holder: db.lock_holder(key).or(holder) });
            }
        }
        // Even a panic (say, in an event callback) must not leave the lock held
        // or a transaction open on a connection that may be pooled.
        let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let table = self.resolved_table(&mut *db)?;
            f(self, &mut *db, events, &table)
        })) {
            // A failure may leave a transaction open (a revision's own
            // `BEGIN`, say): end it, or unlocking fails on PostgreSQL.
            Ok(result @ Err(_)) => {
                let _ = db.execute_batch("ROLLBACK");
                result
            }
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

    /// The version table a run writes to: on PostgreSQL without a configured
    /// schema, the session's current schema, named explicitly, so that a
    /// revision that changes `search_path` (as pg_dump output does) cannot
    /// send the version-table statements elsewhere.
    fn resolved_table(&self, db: &mut dyn Database) -> Result<VersionTable, Error> {
        let mut table = self.table(db.dialect());
        if table.dialect == Dialect::Postgres && table.schema.is_none() {
            let rows = db
                .query_text("SELECT current_schema()")
                .map_err(|source| Error::Database { context: "reading the current schema".into(), source })?;
            let schema = rows.into_iter().next().and_then(|row| row.into_iter().next().flatten());
            table.schema = Some(schema.ok_or(Error::NoSchema)?);
        }
        Ok(table)
    }

    /// The state, refusing unsettled, unknown or drifted revisions.
    fn checked_state(
        &self,
        db: &mut dyn Database,
        table: &VersionTable,
        allow_modified: bool,
        allow_newer: bool,
    ) -> Result<DbState, Error> {
        let state = self.state_in(db, table)?;
        if let Some(row) = state.failed.first() {
            return Err(Error::Unsettled {
                id: row.revision.clone(),
                state: row.state,
                statements_done: row.statements_done,
                error: row.error.clone(),
            });
        }
        if !state.unknown.is_empty() {
            let older_than = state.newest_known_after_unknown();
            if !(allow_newer && older_than.is_none()) {
                let ids = state.unknown.iter().map(|r| r.revision.clone()).collect();
                return Err(Error::UnknownRevisions { ids, older_than });
            }
        }
        if !state.drift.is_empty() && !allow_modified {
            return Err(Error::Drift { drift: state.drift.clone() });
        }
        Ok(state)
    }

    /// Statements that create the version table, or bring one an earlier
    /// version made up to date, from the layout `state` read (only when
    /// needed: `CREATE ... IF NOT EXISTS` still needs the CREATE privilege).
    fn ensure_table(table: &VersionTable, state: &DbState) -> Vec<String> {
        match &state.columns {
            None => vec![table.create()],
            Some(columns) => table.upgrade_layout(columns),
        }
    }

    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|flag| flag.load(Ordering::SeqCst))
    }

    fn run(
        &self,
        db: &mut dyn Database,
        table: &VersionTable,
        state: &DbState,
        plan: &Plan,
        options: RunOptions,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<Outcome, Error> {
        let dialect = db.dialect();
        let prepared = self.prepare(dialect, plan)?;
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
            for statement in Self::ensure_table(table, state) {
                db.execute_batch(&statement).map_err(|e| database_error("creating the version table", e))?;
            }
            // Per history position: why a dry run did not execute it.
            let mut skipped: Vec<Option<Option<usize>>> = vec![None; self.history.len()];
            for (&i, statements) in plan.steps.iter().zip(&prepared) {
                if self.stop_requested() {
                    return Err(Error::Interrupted { done: outcome.done.len() });
                }
                let rev = self.history.revision(i);
                if options.dry_run {
                    let because_of =
                        if rev.transaction { self.skipped_neighbour(i, plan.direction, &skipped) } else { None };
                    if !rev.transaction || because_of.is_some() {
                        skipped[i] = Some(because_of);
                        events(Event::NotExecuted {
                            revision: rev,
                            because_of: because_of.map(|b| self.history.revision(b)),
                        });
                        outcome.not_executed.push(NotExecuted { position: i, because_of });
                        continue;
                    }
                }
                let step = Step { table, rev, statements, direction: plan.direction, user: &user };
                if self.step(db, step, !one_transaction, events)? {
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

    /// The `transaction: false` revision that a dry run skipped and that
    /// revision `i` builds on (upgrade: a parent or dependency; downgrade: a
    /// child or dependant, which is reverted first).
    fn skipped_neighbour(
        &self,
        i: usize,
        direction: migrate_history::Direction,
        skipped: &[Option<Option<usize>>],
    ) -> Option<usize> {
        let root = |s: usize| skipped[s].map(|because| because.unwrap_or(s));
        let h = &self.history;
        match direction {
            migrate_history::Direction::Upgrade => h.parents(i).iter().chain(h.dependencies(i)).find_map(|&p| root(p)),
            migrate_history::Direction::Downgrade => (0..h.len())
                .filter(|&s| skipped[s].is_some())
                .find(|&s| h.parents(s).contains(&i) || h.dependencies(s).contains(&i))
                .and_then(root),
        }
    }

    /// One revision. Returns `false` when another migrator did it meanwhile.
    fn step(
        &self,
        db: &mut dyn Database,
        step: Step<'_>,
        own_transaction: bool,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<bool, Error> {
        let Step { table, rev, statements, direction, user } = step;
        if !rev.transaction {
            return self.step_outside_transaction(db, step, events);
        }
        if own_transaction
            && db.dialect() == Dialect::Postgres
            && !statements.iter().any(|st| needs_plain_transaction(st.text))
        {
            return self.step_in_one_round_trip(db, step, events);
        }
        let upgrade = direction == migrate_history::Direction::Upgrade;
        let database_error = |context: String, source: DbError| Error::Database { context, source };
        // Re-check under the lock, before the revision's transaction begins
        // (its first statement may be `SET TRANSACTION`): a concurrent
        // migrator may have done it.
        let recorded = db
            .query_text(&table.select_revision(&rev.id))
            .map_err(|e| database_error("reading the version table".into(), e))?;
        if recorded.is_empty() != upgrade {
            events(Event::AlreadyDone { revision: rev });
            return Ok(false);
        }
        if own_transaction {
            db.execute_batch(db.dialect().begin()).map_err(|e| database_error("starting a transaction".into(), e))?;
        }
        // After BEGIN, every error path rolls back: never leave a connection
        // (maybe the application's own) inside an open transaction.
        let fail = |db: &mut dyn Database, error: Error| {
            if own_transaction {
                let _ = db.execute_batch("ROLLBACK");
            }
            error
        };
        events(Event::Started { revision: rev, direction });
        let start = Instant::now();
        let (sql, section) = section_of(rev, direction);
        for statement in statements {
            events(Event::Statement { revision: rev, sql: statement.text });
            if let Err(e) = db.execute_batch(statement.text) {
                let line = section.marker_line + line_at(sql, statement.offset + e.offset.unwrap_or(0));
                return Err(fail(db, statement_error(rev, line, e, false, !upgrade)));
            }
        }
        let elapsed = start.elapsed();
        let record = if upgrade {
            table.insert(&new_row(rev, State::Applied, Some(millis(elapsed)), Some(user), None))
        } else {
            table.delete(&rev.id)
        };
        if let Err(e) = db.execute_batch(&record) {
            return Err(fail(db, database_error(format!("recording {}", rev.id), e)));
        }
        if own_transaction && let Err(e) = db.execute_batch("COMMIT") {
            return Err(fail(db, database_error(format!("committing {}", rev.id), e)));
        }
        events(Event::Finished { revision: rev, direction, elapsed });
        Ok(true)
    }

    /// A `transaction: false` revision: each statement commits on its own,
    /// so the version table says at every moment how far it got. A `running`
    /// (or `reverting`) row is written before the first statement and
    /// updated after each one; a process killed part-way leaves it behind,
    /// and it blocks upgrades until `resolve`, exactly like a `failed` row.
    fn step_outside_transaction(
        &self,
        db: &mut dyn Database,
        step: Step<'_>,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<bool, Error> {
        let Step { table, rev, statements, direction, user } = step;
        let upgrade = direction == migrate_history::Direction::Upgrade;
        let record = |db: &mut dyn Database, sql: String| {
            db.execute_batch(&sql)
                .map_err(|source| Error::Database { context: format!("recording {}", rev.id), source })
        };
        let recorded = db
            .query_text(&table.select_revision(&rev.id))
            .map_err(|source| Error::Database { context: "reading the version table".into(), source })?;
        if recorded.is_empty() != upgrade {
            events(Event::AlreadyDone { revision: rev });
            return Ok(false);
        }
        events(Event::Started { revision: rev, direction });
        let start = Instant::now();
        let state = if upgrade { State::Running } else { State::Reverting };
        record(
            db,
            if upgrade {
                table.insert(&new_row(rev, State::Running, None, Some(user), None))
            } else {
                table.mark_progress(&rev.id, state, 0, None)
            },
        )?;
        let (sql, section) = section_of(rev, direction);
        for (done, statement) in statements.iter().enumerate() {
            events(Event::Statement { revision: rev, sql: statement.text });
            if let Err(e) = db.execute_batch(statement.text) {
                let line = section.marker_line + line_at(sql, statement.offset + e.offset.unwrap_or(0));
                let section_name = if upgrade { "" } else { "down section, " };
                let message = format!("{section_name}line {line}: {}", e.message);
                // The revision may have opened a transaction of its own: end
                // it, or the failure would be recorded inside it and lost.
                let _ = db.execute_batch("ROLLBACK");
                record(db, table.mark_progress(&rev.id, State::Failed, done as i64, Some(&message)))?;
                return Err(statement_error(rev, line, e, true, !upgrade));
            }
            record(db, table.mark_progress(&rev.id, state, done as i64 + 1, None))?;
        }
        let elapsed = start.elapsed();
        record(db, if upgrade { table.mark_applied(&rev.id, Some(millis(elapsed))) } else { table.delete(&rev.id) })?;
        events(Event::Finished { revision: rev, direction, elapsed });
        Ok(true)
    }

    /// A transactional revision on PostgreSQL: `BEGIN`, its statements, its
    /// version-table statement and `COMMIT` in one round trip, as fast as
    /// psql running the same SQL. The advisory lock makes re-checking the
    /// version table unnecessary.
    ///
    /// When it fails, nothing is executed again to find the failing
    /// statement: the server points into the batch for syntax errors, and
    /// otherwise each statement of a multi-statement revision ran inside its
    /// own savepoint (released right after it), so the one savepoint still
    /// there in the aborted transaction names the statement that failed.
    fn step_in_one_round_trip(
        &self,
        db: &mut dyn Database,
        step: Step<'_>,
        events: &mut dyn FnMut(Event<'_>),
    ) -> Result<bool, Error> {
        let Step { table, rev, statements, direction, user } = step;
        let upgrade = direction == migrate_history::Direction::Upgrade;
        events(Event::Started { revision: rev, direction });
        let start = Instant::now();
        let record = if upgrade {
            let row = NewRow { timed_by_server: true, ..new_row(rev, State::Applied, None, Some(user), None) };
            table.insert(&row)
        } else {
            table.delete(&rev.id)
        };
        for statement in statements {
            events(Event::Statement { revision: rev, sql: statement.text });
        }
        let savepoints = statements.len() > 1;
        let mut batch = String::from("BEGIN;\n");
        let mut starts = Vec::with_capacity(statements.len());
        for (k, statement) in statements.iter().enumerate() {
            if savepoints {
                batch.push_str(&format!("SAVEPOINT cargo_migrate_{k};\n"));
            }
            starts.push(batch.len());
            batch.push_str(statement.text);
            batch.push_str(";\n");
            if savepoints {
                batch.push_str(&format!("RELEASE SAVEPOINT cargo_migrate_{k};\n"));
            }
        }
        batch.push_str(&record);
        batch.push_str(";\nCOMMIT;");
        let Err(error) = db.execute_batch(&batch) else {
            events(Event::Finished { revision: rev, direction, elapsed: start.elapsed() });
            return Ok(true);
        };
        let (sql, section) = section_of(rev, direction);
        let located = error.offset.and_then(|o| {
            let k = starts.iter().rposition(|&s| s <= o)?;
            (o - starts[k] <= statements[k].text.len()).then(|| statements[k].offset + o - starts[k])
        });
        let failed_at = located.or_else(|| match statements {
            [] => None,
            [only] => Some(only.offset),
            _ => (0..statements.len())
                .rev()
                .find(|k| db.execute_batch(&format!("ROLLBACK TO SAVEPOINT cargo_migrate_{k}")).is_ok())
                .map(|k| statements[k].offset),
        });
        let _ = db.execute_batch("ROLLBACK");
        match failed_at {
            Some(offset) => {
                let line = section.marker_line + line_at(sql, offset);
                Err(statement_error(rev, line, error, false, !upgrade))
            }
            // Every statement ran: recording it or committing failed (a deferred constraint, say).
            None => Err(Error::Database {
                context: format!("recording {} in {} or committing it", rev.id, table.display_name()),
                source: error,
            }),
        }
    }
}

/// One revision to run: what the step functions share.
#[derive(Clone, Copy)]
struct Step<'a> {
    table: &'a VersionTable,
    rev: &'a Revision,
    statements: &'a [Statement<'a>],
    direction: migrate_history::Direction,
    /// `user@client-host`, for the version table.
    user: &'a str,
}

/// A statement that cannot run inside the engine's own savepoints: one that
/// manages savepoints itself, or `SET TRANSACTION` (not allowed in a
/// subtransaction). Its revision runs statement by statement instead.
fn needs_plain_transaction(statement: &str) -> bool {
    let mut words = statement.split_whitespace().map(str::to_ascii_uppercase);
    match words.next().as_deref() {
        Some("SAVEPOINT" | "RELEASE") => true,
        Some("ROLLBACK") => words.any(|w| w == "TO"),
        Some("SET") => words.next().as_deref() == Some("TRANSACTION"),
        _ => false,
    }
}

fn statement_error(rev: &Revision, line: usize, error: DbError, recorded_failure: bool, downgrade: bool) -> Error {
    Error::Statement {
        id: rev.id.clone(),
        path: rev.file.path.display().to_string(),
        line,
        kind: FailureKind::of(&error),
        message: error.message,
        code: error.code,
        recorded_failure,
        downgrade,
    }
}

fn millis(elapsed: Duration) -> i64 {
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

/// The SQL a step runs and the section it comes from (for line numbers).
fn section_of(rev: &Revision, direction: migrate_history::Direction) -> (&str, &migrate_history::Section) {
    match direction {
        migrate_history::Direction::Upgrade => (rev.up_sql(), &rev.up),
        migrate_history::Direction::Downgrade => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_exists_by_sqlstate_or_sqlite_message() {
        let pg = |code: &str| FailureKind::of(&DbError { code: Some(code.into()), ..DbError::new("x") });
        for code in ["42P07", "42710", "42701", "42P06", "42723"] {
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
