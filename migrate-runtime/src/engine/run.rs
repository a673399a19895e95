//! The engine's body: one async implementation over [`Conn`], which the
//! blocking API drives with `conn::now` and the tokio API awaits.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use migrate_history::sql::{Statement, line_at};
use migrate_history::{Direction, Plan, Revision, Target, TargetError};

use super::error::{Dangling, Error, FailureKind};
use super::report::{
    AppliedRevision, Event, NotExecuted, Report, Resolution, RunOptions, StampReport, TransactionMode,
};
use super::state::{DbState, Drift};
use super::{Goal, Migrator, Observer};
use crate::DbError;
use crate::backend::{Backend, Capabilities, LockStrategy};
use crate::conn::{Conn, caught};
use crate::db::cell;
use crate::lock_table::{Heartbeat, Lease, Outcome};
use crate::version_table::{NewRow, Row, State, VersionTable};

impl Migrator {
    /// Reads the version table through the table name as configured.
    pub(crate) async fn read_state<C: Conn>(&self, db: &mut C) -> Result<DbState, Error> {
        if let Some((_, state)) = self.read_current(db, false).await {
            return Ok(state);
        }
        let table = self.table(db.dialect());
        self.state_in(db, &table).await
    }

    /// On PostgreSQL, the version table writes go to and its state, in one
    /// round trip ([`VersionTable::select_current`]), when that table
    /// exists with the current layout. `None` otherwise (and on SQLite):
    /// the caller reads step by step, which also says what is wrong. With
    /// `for_planning`, the rows hold only what a plan needs.
    async fn read_current<C: Conn>(&self, db: &mut C, for_planning: bool) -> Option<(VersionTable, DbState)> {
        let mut table = self.table(db.dialect());
        let sql = if for_planning { table.select_current_for_planning() } else { table.select_current() };
        let mut rows = db.query_text(&sql?).await.ok()?.into_iter();
        let first = rows.next()?;
        if first.get(1)?.as_deref() != Some("t") {
            return None;
        }
        if table.schema.is_none() {
            table.schema = Some(first.into_iter().next()??);
        }
        let state = self.state_of(Some(VersionTable::postgres_layout()), rows);
        Some((table, state))
    }

    async fn state_in<C: Conn>(&self, db: &mut C, table: &VersionTable) -> Result<DbState, Error> {
        let context = || format!("reading the version table {}", table.display_name());
        let columns = db
            .table_columns(table.schema.as_deref(), &table.name)
            .await
            .map_err(|source| Error::Database { context: context(), source })?;
        let Some(columns) = columns else { return Ok(self.state_of(None, Vec::new())) };
        let rows = db
            .query_text(&table.select(&columns))
            .await
            .map_err(|source| Error::Database { context: context(), source })?;
        Ok(self.state_of(Some(columns), rows))
    }

    /// The state of a version table with `columns` (`None`: none exists)
    /// and `rows` (as [`VersionTable::select`] reads them).
    fn state_of(
        &self,
        columns: Option<Vec<(String, String)>>,
        rows: impl IntoIterator<Item = Vec<Option<String>>>,
    ) -> DbState {
        let mut state = DbState { mask: vec![false; self.history.len()], columns, ..DbState::default() };
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
                // A replaced revision whose file was pruned: its baseline is recorded.
                None if self.history.pruned_into(&row.revision).is_some() => {}
                None => state.unknown.push(row.clone()),
                Some(_) if row.state.is_unsettled() => state.failed.push(row.clone()),
                Some(i) => {
                    state.mask[i] = true;
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
        state.finish(&self.history)
    }

    /// What a run in `direction` to `target` would do from `state`.
    pub(crate) fn plan_from(&self, state: &DbState, direction: Direction, target: &Target) -> Result<Plan, Error> {
        let history = &self.history;
        let current = state.head_positions(history);
        let goal = history.resolve(target, &current)?;
        Ok(match (direction, target) {
            (Direction::Upgrade, _) => history.plan_upgrade(&state.mask, &goal),
            // Stepping back past a branch's first revision reverts that
            // branch only, as Alembic does, not every branch.
            (Direction::Downgrade, Target::Relative { anchor, steps }) if goal.is_empty() && *steps < 0 => {
                let first = Target::Relative { anchor: anchor.clone(), steps: steps + 1 };
                let root = history.resolve(&first, &current)?;
                let root = if root.is_empty() { current.clone() } else { root };
                let first_of_branch: Vec<usize> = root
                    .iter()
                    .flat_map(|&r| history.branch_ancestors(&[r]).into_iter().enumerate())
                    .filter(|&(i, is_ancestor)| is_ancestor && history.parents(i).is_empty())
                    .map(|(i, _)| i)
                    .collect();
                history.plan_revert(&state.mask, &first_of_branch)?
            }
            (Direction::Downgrade, _) => history.plan_downgrade(&state.mask, &goal)?,
        })
    }

    /// [`Migrator::plan_from`] for a run's goal: a target, or revisions to
    /// revert by name (each with what needs it).
    fn plan_goal(&self, state: &DbState, direction: Direction, goal: &Goal) -> Result<Plan, Error> {
        match goal {
            Goal::Target(target) => self.plan_from(state, direction, target),
            Goal::Revert(ids) => {
                let from = ids
                    .iter()
                    .map(|id| self.history.index_of(id).ok_or_else(|| TargetError::NotFound { text: id.clone() }))
                    .collect::<Result<Vec<usize>, TargetError>>()?;
                Ok(self.history.plan_revert(&state.mask, &from)?)
            }
        }
    }

    /// An upgrade or downgrade, holding the migration lock.
    pub(crate) async fn run_in<C: Conn, E: FnMut(Event<'_>) + ?Sized>(
        &self,
        db: &mut C,
        direction: Direction,
        goal: &Goal,
        options: RunOptions,
        events: &mut E,
    ) -> Result<Report, Error> {
        if let Some(report) = self.nothing_to_do(db, direction, goal, options).await {
            return Ok(report);
        }
        let held = self.acquire(db, events).await?;
        let result = caught(async {
            let (table, state) = self.read_locked(db).await?;
            let options = match direction {
                Direction::Upgrade => options,
                Direction::Downgrade => RunOptions { allow_newer: false, ..options },
            };
            self.refuse_unsettled(&state, options)?;
            let plan = self.plan_goal(&state, direction, goal)?;
            let mut report = self.execute(db, &held, (&table, &state), &plan, options, events).await?;
            report.heads = self.heads_after(&state, &plan, report.dry_run);
            Ok(report)
        })
        .await;
        self.release(db, &held, result).await
    }

    pub(crate) async fn stamp_in<C: Conn>(
        &self,
        db: &mut C,
        target: &Target,
        purge: bool,
        events: &mut Observer<'_>,
    ) -> Result<StampReport, Error> {
        let held = self.acquire(db, events).await?;
        let result = caught(async {
            let (table, state) = self.read_locked(db).await?;
            let history = &self.history;
            let goal = history.resolve(target, &state.head_positions(history))?;
            let keep = history.ancestors(&goal);
            // Other branches stay as they are (as in Alembic); `base` and `purge` clear all.
            let affected = if goal.is_empty() {
                vec![true; history.len()]
            } else {
                let above = history.descendants(&goal);
                (0..history.len()).map(|i| keep[i] || above[i]).collect()
            };
            let user = applied_by(db).await;
            let mut sql = Self::ensure_table(&table, &state);
            sql.push(db.dialect().begin().to_owned());
            let mut report = StampReport::default();
            if purge {
                sql.push(table.delete_all());
                report.removed = state.rows.iter().map(|r| r.revision.clone()).collect();
            }
            for (i, rev) in history.revisions().iter().enumerate() {
                let recorded = !purge && state.rows.iter().any(|r| r.revision == rev.id && !r.state.is_unsettled());
                if keep[i] && !recorded {
                    if !purge && state.failed.iter().any(|r| r.revision == rev.id) {
                        sql.push(table.delete(&rev.id));
                    }
                    sql.push(table.insert(&new_row(rev, State::Stamped, None, Some(&user), None)));
                    report.added.push(rev.id.clone());
                } else if !keep[i] && affected[i] && !purge && state.rows.iter().any(|r| r.revision == rev.id) {
                    sql.push(table.delete(&rev.id));
                    report.removed.push(rev.id.clone());
                }
            }
            Self::commit(db, sql, "stamping").await?;
            Ok(report)
        })
        .await;
        self.release(db, &held, result).await
    }

    /// Runs `sql` (which begins a transaction) and commits it in one round
    /// trip; rolls back on failure.
    async fn commit<C: Conn>(db: &mut C, mut sql: Vec<String>, context: &str) -> Result<(), Error> {
        sql.push("COMMIT".to_owned());
        if let Err(source) = db.execute_batch(&sql.join(";\n")).await {
            let _ = db.execute_batch("ROLLBACK").await;
            return Err(Error::Database { context: context.to_owned(), source });
        }
        Ok(())
    }

    pub(crate) async fn adopt_in<C: Conn>(
        &self,
        db: &mut C,
        ids: &[String],
        provenance: &str,
        events: &mut Observer<'_>,
    ) -> Result<StampReport, Error> {
        let held = self.acquire(db, events).await?;
        let result = caught(async {
            let (table, state) = self.read_locked(db).await?;
            let history = &self.history;
            let user = format!("{} ({provenance})", applied_by(db).await);
            let mut sql = Self::ensure_table(&table, &state);
            sql.push(db.dialect().begin().to_owned());
            let mut report = StampReport::default();
            for rev in history.revisions().iter().filter(|rev| ids.contains(&rev.id)) {
                if state.rows.iter().any(|r| r.revision == rev.id) {
                    continue;
                }
                sql.push(table.insert(&new_row(rev, State::Adopted, None, Some(&user), None)));
                report.added.push(rev.id.clone());
            }
            Self::commit(db, sql, "adopting").await?;
            Ok(report)
        })
        .await;
        self.release(db, &held, result).await
    }

    pub(crate) async fn resolve_in<C: Conn>(
        &self,
        db: &mut C,
        id: &str,
        resolution: Resolution,
        events: &mut Observer<'_>,
    ) -> Result<(), Error> {
        let held = self.acquire(db, events).await?;
        let result = caught(async {
            let (table, state) = self.read_locked(db).await?;
            let Some(row) = state.failed.iter().find(|r| r.revision == id) else {
                return Err(Error::NotFailed { id: id.to_owned() });
            };
            let mut sql = Self::ensure_table(&table, &state);
            sql.push(match resolution {
                Resolution::Applied => table.mark_applied(&row.revision, None),
                Resolution::RolledBack => table.delete(&row.revision),
            });
            db.execute_batch(&sql.join(";\n"))
                .await
                .map_err(|source| Error::Database { context: "resolving".into(), source })
        })
        .await;
        self.release(db, &held, result).await
    }

    /// An up-to-date database, on PostgreSQL: one round trip and no lock.
    /// When the version table (read in one statement, so as of one moment)
    /// records every revision the run would apply or revert as done, with
    /// nothing failed, unknown or changed, the run has nothing to do: what
    /// another migrator may be doing meanwhile has not committed, and a run
    /// that waited for it would see its outcome later anyway. Anything else
    /// (`None`) takes the lock and reads again under it.
    async fn nothing_to_do<C: Conn>(
        &self,
        db: &mut C,
        direction: Direction,
        goal: &Goal,
        options: RunOptions,
    ) -> Option<Report> {
        // Only where the version table is read in one query (PostgreSQL).
        let (_, state) = self.read_current(db, true).await?;
        if !(state.failed.is_empty() && state.unknown.is_empty() && state.drift.is_empty()) {
            return None;
        }
        let plan = self.plan_goal(&state, direction, goal).ok()?;
        plan.steps.is_empty().then(|| Report { heads: state.heads, ..Report::new(direction, options.dry_run) })
    }

    /// Where the database is once a run of `plan` from `state` succeeded:
    /// every step is done, by this run or by another migrator meanwhile
    /// (a dry run: where it was).
    fn heads_after(&self, state: &DbState, plan: &Plan, dry_run: bool) -> Vec<String> {
        if dry_run {
            return state.heads.clone();
        }
        let mut mask = state.mask.clone();
        for &i in &plan.steps {
            mask[i] = plan.direction == Direction::Upgrade;
        }
        self.history.ids(&self.history.applied_heads(&mask))
    }

    /// The version table a run writes to and its state, under the lock.
    async fn read_locked<C: Conn>(&self, db: &mut C) -> Result<(VersionTable, DbState), Error> {
        if let Some(current) = self.read_current(db, false).await {
            return Ok(current);
        }
        let table = self.resolved_table(db).await?;
        let state = self.state_in(db, &table).await?;
        Ok((table, state))
    }

    /// The backend behind `db`: asked with `SELECT version()` when the
    /// dialect does not tell (PostgreSQL's protocol is also CockroachDB's).
    async fn backend<C: Conn>(db: &mut C) -> Backend {
        let dialect = db.dialect();
        if !Backend::needs_detection(dialect) {
            return Backend::of_dialect(dialect);
        }
        match db.query_text("SELECT version()").await {
            Ok(rows) => Backend::from_version(dialect, &rows.first().map(|row| cell(row, 0)).unwrap_or_default()),
            Err(_) => Backend::of_dialect(dialect),
        }
    }

    /// Takes the migration lock, waiting for it (at most `lock_timeout`)
    /// with an [`Event::WaitingForLock`], the way the backend (or
    /// [`Migrator::lock_strategy`]) says.
    async fn acquire<C: Conn, E: FnMut(Event<'_>) + ?Sized>(&self, db: &mut C, events: &mut E) -> Result<Held, Error> {
        let backend = Self::backend(db).await;
        let native = backend.capabilities().lock;
        let strategy = match self.lock_strategy {
            None => native,
            Some(LockStrategy::LeaseTable) if Lease::speaks(backend.dialect()) => LockStrategy::LeaseTable,
            Some(strategy) if strategy == native => native,
            Some(strategy) => {
                return Err(Error::UnsafeLock {
                    backend: backend.name(),
                    strategy: strategy_name(strategy),
                    native: strategy_name(native),
                    why: if native == LockStrategy::LeaseTable {
                        "its advisory locks do not exclude other sessions; it needs the lease table"
                    } else {
                        "the backend does not offer it"
                    },
                });
            }
        };
        let key = self.lock_key(db.dialect());
        let lock_error = |source| Error::Database { context: "taking the migration lock".into(), source };
        if strategy == LockStrategy::LeaseTable {
            let table = self.resolved_table(db).await?;
            let lease = Lease::new(table.lock_table(), key, self.lock_lease);
            lease.ensure_table(db).await.map_err(lock_error)?;
            let started = std::time::Instant::now();
            let mut waited = false;
            loop {
                match lease.try_take(db).await.map_err(lock_error)? {
                    Outcome::Fresh => break,
                    Outcome::TakenOver { previous } => {
                        events(Event::LockTakenOver { previous: &previous });
                        break;
                    }
                    Outcome::Held { holder } => {
                        if self.lock_timeout.is_some_and(|timeout| started.elapsed() >= timeout) {
                            let timeout = self.lock_timeout.unwrap_or_default();
                            return Err(Error::LockTimeout { timeout, holder: Some(holder) });
                        }
                        if !waited {
                            events(Event::WaitingForLock { holder: Some(&holder), timeout: self.lock_timeout });
                            waited = true;
                        }
                        // The database sleeps, so a tokio run is not blocked.
                        db.execute_batch("SELECT pg_sleep(0.2)").await.map_err(lock_error)?;
                    }
                }
            }
            let heartbeat = self.heartbeat.clone().map(|connect| Heartbeat::start(lease.clone(), connect));
            return Ok(Held { key, backend, lease: Some(lease), heartbeat });
        }
        if !db.try_lock(key).await.map_err(lock_error)? {
            let holder = db.lock_holder(key).await;
            events(Event::WaitingForLock { holder: holder.as_deref(), timeout: self.lock_timeout });
            if !db.lock(key, self.lock_timeout).await.map_err(lock_error)? {
                let timeout = self.lock_timeout.unwrap_or_default();
                return Err(Error::LockTimeout { timeout, holder: db.lock_holder(key).await.or(holder) });
            }
        }
        Ok(Held { key, backend, lease: None, heartbeat: None })
    }

    /// Renews a lease-table lock before a revision: an error when another
    /// migrator took it over meanwhile (or the heartbeat found it so).
    async fn keep_lock<C: Conn>(db: &mut C, held: &Held) -> Result<(), Error> {
        let Some(lease) = &held.lease else { return Ok(()) };
        let lock_error = |source| Error::Database { context: "renewing the migration lock's lease".into(), source };
        let lost = held.heartbeat.as_ref().is_some_and(Heartbeat::lost);
        if lost || !lease.renew(db).await.map_err(lock_error)? {
            let holder = lease.holder(db).await.unwrap_or_else(|| "nobody".to_owned());
            return Err(Error::LockLost { holder });
        }
        Ok(())
    }

    /// Releases the lock on every path. A failure may leave a transaction
    /// open (a revision's own `BEGIN`, say): it is ended first, or unlocking
    /// fails on PostgreSQL. Even a panic (say, in an observer) must not
    /// leave the lock held or a transaction open on a connection that may be
    /// pooled: it goes on after both.
    async fn release<C: Conn, T>(
        &self,
        db: &mut C,
        held: &Held,
        result: Result<Result<T, Error>, Box<dyn std::any::Any + Send>>,
    ) -> Result<T, Error> {
        let result = match result {
            Ok(result @ Err(_)) => {
                let _ = db.execute_batch("ROLLBACK").await;
                result
            }
            Ok(result) => result,
            Err(panic) => {
                let _ = db.execute_batch("ROLLBACK").await;
                let _ = Self::unlock(db, held).await;
                std::panic::resume_unwind(panic);
            }
        };
        let unlocked = Self::unlock(db, held).await;
        let value = result?;
        unlocked.map_err(|source| Error::Database { context: "releasing the migration lock".into(), source })?;
        Ok(value)
    }

    async fn unlock<C: Conn>(db: &mut C, held: &Held) -> Result<(), DbError> {
        if let Some(heartbeat) = &held.heartbeat {
            heartbeat.stop();
        }
        match &held.lease {
            Some(lease) => lease.release(db).await,
            None => db.unlock(held.key).await,
        }
    }

    /// The version table a run writes to: on PostgreSQL without a configured
    /// schema, the session's current schema, named explicitly, so that a
    /// revision that changes `search_path` (as pg_dump output does) cannot
    /// send the version-table statements elsewhere.
    async fn resolved_table<C: Conn>(&self, db: &mut C) -> Result<VersionTable, Error> {
        let mut table = self.table(db.dialect());
        if Backend::of_dialect(table.dialect).capabilities().schemas && table.schema.is_none() {
            let rows = db
                .query_text("SELECT current_schema()")
                .await
                .map_err(|source| Error::Database { context: "reading the current schema".into(), source })?;
            let schema = rows.into_iter().next().and_then(|row| row.into_iter().next().flatten());
            table.schema = Some(schema.ok_or(Error::NoSchema)?);
        }
        Ok(table)
    }

    /// Refuses unsettled, unknown or drifted revisions.
    pub(crate) fn refuse_unsettled(&self, state: &DbState, options: RunOptions) -> Result<(), Error> {
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
            if !(options.allow_newer && older_than.is_none()) {
                let ids = state.unknown.iter().map(|r| r.revision.clone()).collect();
                return Err(Error::UnknownRevisions { ids, older_than });
            }
        }
        if !state.drift.is_empty() && !options.allow_modified {
            return Err(Error::Drift { drift: state.drift.clone() });
        }
        Ok(())
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

    async fn execute<C: Conn, E: FnMut(Event<'_>) + ?Sized>(
        &self,
        db: &mut C,
        held: &Held,
        (table, state): (&VersionTable, &DbState),
        plan: &Plan,
        options: RunOptions,
        events: &mut E,
    ) -> Result<Report, Error> {
        let dialect = db.dialect();
        let capabilities = held.backend.capabilities();
        let prepared = self.prepare(dialect, plan)?;
        // Where schema changes commit implicitly (MySQL), a dry run would apply them.
        if options.dry_run && !capabilities.transactional_ddl {
            self.refuse_dry_run(plan, &prepared, &Self::ensure_table(table, state))?;
        }
        let mut report = Report::new(plan.direction, options.dry_run);
        let one_transaction = options.dry_run || options.transaction == TransactionMode::All;
        if options.transaction == TransactionMode::All
            && !options.dry_run
            && let Some(&i) = plan.steps.iter().find(|&&i| !self.history.revision(i).transaction)
        {
            let rev = self.history.revision(i);
            return Err(Error::NotTransactional { id: rev.id.clone(), path: rev.file.path.display().to_string() });
        }
        // A revision whose section is still to be written ends the run: what
        // comes before it runs, it and what follows do not.
        let (runnable, stopped_at) = self.needs_sql_stop(plan);
        let steps = &plan.steps[..runnable];
        // Asked only when something will be recorded: one round trip less for an up-to-date database.
        let user = if steps.is_empty() { String::new() } else { applied_by(db).await };
        let database_error = |context: &str, source: DbError| Error::Database { context: context.to_owned(), source };

        // SQLite ignores `PRAGMA foreign_keys` inside a transaction: a run that
        // is one transaction turns them off before it, for the revisions
        // that start by turning them off (table rebuilds), and on after.
        let foreign_keys_off = one_transaction
            && capabilities.foreign_keys_pragma
            && prepared.iter().any(|statements| turns_foreign_keys_off(statements))
            && sqlite_foreign_keys_off(db).await?;
        let ran = async {
            if one_transaction {
                db.execute_batch(dialect.begin()).await.map_err(|e| database_error("starting the transaction", e))?;
            }
            let mut recorder = Recorder::new();
            let result = async {
                for statement in Self::ensure_table(table, state) {
                    db.execute_batch(&statement).await.map_err(|e| database_error("creating the version table", e))?;
                }
                // Per history position: why a dry run did not execute it.
                let mut skipped: Vec<Option<Option<usize>>> = vec![None; self.history.len()];
                for (position, (&i, statements)) in steps.iter().zip(&prepared).enumerate() {
                    if self.stop_requested() {
                        return Err(Error::Interrupted { done: report.ran().len() });
                    }
                    Self::keep_lock(db, held).await?;
                    let rev = self.history.revision(i);
                    if options.dry_run {
                        let because_of =
                            if rev.transaction { self.skipped_neighbour(i, plan.direction, &skipped) } else { None };
                        if !rev.transaction || because_of.is_some() {
                            skipped[i] = Some(because_of);
                            let because_of = because_of.map(|b| self.history.revision(b));
                            events(Event::NotExecuted { revision: rev, because_of });
                            report
                                .not_executed
                                .push(NotExecuted { id: rev.id.clone(), because_of: because_of.map(|b| b.id.clone()) });
                            continue;
                        }
                    }
                    let step = Step {
                        table,
                        rev,
                        statements,
                        records_only: plan.records_only(i),
                        direction: plan.direction,
                        user: &user,
                        foreign_keys_off,
                        capabilities: held.backend.capabilities(),
                    };
                    let last = position + 1 == steps.len();
                    if let Some(elapsed) = self.step(db, step, !one_transaction, (&mut recorder, last), events).await? {
                        report.push(AppliedRevision { id: rev.id.clone(), message: rev.message.clone(), elapsed });
                    }
                }
                Ok(())
            }
            .await;
            if recorder.prepared {
                // The last revision did not end the statement (it failed, or ran step by step).
                let _ = db.execute_batch(&format!("DEALLOCATE {}", recorder.name)).await;
            }
            if one_transaction {
                let end = if options.dry_run || result.is_err() { "ROLLBACK" } else { "COMMIT" };
                let ended = db.execute_batch(end).await;
                result?;
                ended.map_err(|e| database_error("ending the transaction", e))?;
            } else {
                result?;
            }
            Ok::<(), Error>(())
        }
        .await;
        foreign_keys_back_on(db, foreign_keys_off, ran).await?;
        match stopped_at {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// How many steps of `plan` can run before the first revision whose
    /// section the plan needs is still to be written (`-- needs-sql`), and
    /// the error that stops the run there.
    pub(super) fn needs_sql_stop(&self, plan: &Plan) -> (usize, Option<Error>) {
        let upgrade = plan.direction == Direction::Upgrade;
        let position = plan.steps.iter().position(|&i| {
            let needs = self.history.revision(i).needs_sql;
            if upgrade { needs.up } else { needs.down }
        });
        match position {
            None => (plan.steps.len(), None),
            Some(position) => {
                let rev = self.history.revision(plan.steps[position]);
                let error = Error::NeedsSql {
                    id: rev.id.clone(),
                    path: rev.file.path.display().to_string(),
                    imported_from: rev.imported_from.clone(),
                    downgrade: !upgrade,
                };
                (position, Some(error))
            }
        }
    }

    /// The `transaction: false` revision that a dry run skipped and that
    /// revision `i` builds on (upgrade: a parent or dependency; downgrade: a
    /// child or dependant, which is reverted first).
    fn skipped_neighbour(&self, i: usize, direction: Direction, skipped: &[Option<Option<usize>>]) -> Option<usize> {
        let root = |s: usize| skipped[s].map(|because| because.unwrap_or(s));
        let h = &self.history;
        match direction {
            Direction::Upgrade => h.parents(i).iter().chain(h.dependencies(i)).find_map(|&p| root(p)),
            Direction::Downgrade => (0..h.len())
                .filter(|&s| skipped[s].is_some())
                .find(|&s| h.parents(s).contains(&i) || h.dependencies(s).contains(&i))
                .and_then(root),
        }
    }

    /// One revision. Returns how long it took, or `None` when another
    /// migrator did it meanwhile.
    async fn step<C: Conn, E: FnMut(Event<'_>) + ?Sized>(
        &self,
        db: &mut C,
        step: Step<'_>,
        own_transaction: bool,
        (recorder, last): (&mut Recorder, bool),
        events: &mut E,
    ) -> Result<Option<Duration>, Error> {
        let Step { table, rev, statements, direction, .. } = step;
        // Where schema changes cannot share a transaction with the
        // version-table row, every revision is run as `transaction: false` is.
        if !step.records_only && (!rev.transaction || !step.capabilities.ddl_with_dml) {
            return self.step_outside_transaction(db, step, events).await;
        }
        if own_transaction
            && !step.records_only
            && step.capabilities.one_round_trip
            && !statements.iter().any(|st| needs_plain_transaction(st.text))
        {
            return self.step_in_one_round_trip(db, step, recorder, last, events).await;
        }
        let upgrade = direction == Direction::Upgrade;
        let database_error = |context: String, source: DbError| Error::Database { context, source };
        // Re-check under the lock, before the revision's transaction begins
        // (its first statement may be `SET TRANSACTION`): a concurrent
        // migrator may have done it.
        let recorded = db
            .query_text(&table.select_revision(&rev.id))
            .await
            .map_err(|e| database_error("reading the version table".into(), e))?;
        if recorded.is_empty() != upgrade {
            events(Event::AlreadyDone { revision: rev });
            return Ok(None);
        }
        // SQLite ignores `PRAGMA foreign_keys` inside a transaction: a
        // revision that starts by turning them off (a table rebuild, whose
        // DROP TABLE would otherwise delete or refuse the rows pointing at
        // the table) has them turned off before its transaction, checked
        // before it commits, and turned on again after, also when it fails.
        let rebuilds = step.capabilities.foreign_keys_pragma && turns_foreign_keys_off(statements);
        let turned_off = own_transaction && rebuilds && sqlite_foreign_keys_off(db).await?;
        let check = rebuilds && (turned_off || step.foreign_keys_off);
        let result = self.step_in_transaction(db, step, own_transaction, check, events).await;
        foreign_keys_back_on(db, turned_off, result).await
    }

    /// A transactional revision, statement by statement (in its own
    /// transaction, or in the run's); with `check_foreign_keys`, `PRAGMA
    /// foreign_key_check` after its statements.
    async fn step_in_transaction<C: Conn, E: FnMut(Event<'_>) + ?Sized>(
        &self,
        db: &mut C,
        step: Step<'_>,
        own_transaction: bool,
        check_foreign_keys: bool,
        events: &mut E,
    ) -> Result<Option<Duration>, Error> {
        let Step { table, rev, statements, direction, user, records_only, .. } = step;
        let upgrade = direction == Direction::Upgrade;
        let database_error = |context: String, source: DbError| Error::Database { context, source };
        if own_transaction {
            db.execute_batch(db.dialect().begin())
                .await
                .map_err(|e| database_error("starting a transaction".into(), e))?;
        }
        events(if records_only {
            Event::Recording { revision: rev, direction }
        } else {
            Event::Started { revision: rev, direction }
        });
        let start = Instant::now();
        let (sql, section) = section_of(rev, direction);
        let mut failure = None;
        for statement in statements {
            events(Event::Statement { revision: rev, sql: statement.text });
            if let Err(e) = db.execute_batch(statement.text).await {
                let line = section.marker_line + line_at(sql, statement.offset + e.offset.unwrap_or(0));
                failure = Some(statement_error(rev, line, e, false, !upgrade));
                break;
            }
        }
        if failure.is_none() && check_foreign_keys {
            failure = match dangling(db).await {
                Ok(dangling) if dangling.is_empty() => None,
                Ok(dangling) => Some(foreign_key_error(rev, dangling, false, !upgrade)),
                Err(e) => Some(database_error(format!("checking the foreign keys after {}", rev.id), e)),
            };
        }
        let elapsed = start.elapsed();
        if failure.is_none() {
            let state = if records_only { State::Stamped } else { State::Applied };
            let record = if upgrade {
                table.insert(&new_row(rev, state, Some(millis(elapsed)), Some(user), None))
            } else {
                table.delete(&rev.id)
            };
            if let Err(e) = db.execute_batch(&record).await {
                failure = Some(database_error(format!("recording {}", rev.id), e));
            } else if own_transaction && let Err(e) = db.execute_batch("COMMIT").await {
                failure = Some(database_error(format!("committing {}", rev.id), e));
            }
        }
        if let Some(error) = failure {
            // After BEGIN, every error path rolls back: never leave a
            // connection (maybe the application's own) inside an open transaction.
            if own_transaction {
                let _ = db.execute_batch("ROLLBACK").await;
            }
            return Err(error);
        }
        events(Event::Finished { revision: rev, direction, elapsed });
        Ok(Some(elapsed))
    }

    /// A `transaction: false` revision: each statement commits on its own,
    /// so the version table says at every moment how far it got. A `running`
    /// (or `reverting`) row is written before the first statement and
    /// updated after each one; a process killed part-way leaves it behind,
    /// and it blocks upgrades until `resolve`, exactly like a `failed` row.
    async fn step_outside_transaction<C: Conn, E: FnMut(Event<'_>) + ?Sized>(
        &self,
        db: &mut C,
        step: Step<'_>,
        events: &mut E,
    ) -> Result<Option<Duration>, Error> {
        // Its first statement turns SQLite's foreign keys off by itself
        // (there is no transaction): they are checked after its last
        // statement and turned on again, when they were on.
        let were_on = step.capabilities.foreign_keys_pragma
            && turns_foreign_keys_off(step.statements)
            && sqlite_foreign_keys_enabled(db).await?;
        let result = self.statements_outside_transaction(db, step, were_on, events).await;
        foreign_keys_back_on(db, were_on, result).await
    }

    async fn statements_outside_transaction<C: Conn, E: FnMut(Event<'_>) + ?Sized>(
        &self,
        db: &mut C,
        step: Step<'_>,
        check_foreign_keys: bool,
        events: &mut E,
    ) -> Result<Option<Duration>, Error> {
        let Step { table, rev, statements, direction, user, .. } = step;
        let upgrade = direction == Direction::Upgrade;
        let recording = |source| Error::Database { context: format!("recording {}", rev.id), source };
        let recorded = db
            .query_text(&table.select_revision(&rev.id))
            .await
            .map_err(|source| Error::Database { context: "reading the version table".into(), source })?;
        if recorded.is_empty() != upgrade {
            events(Event::AlreadyDone { revision: rev });
            return Ok(None);
        }
        events(Event::Started { revision: rev, direction });
        let start = Instant::now();
        let state = if upgrade { State::Running } else { State::Reverting };
        let first = if upgrade {
            table.insert(&new_row(rev, State::Running, None, Some(user), None))
        } else {
            table.mark_progress(&rev.id, state, 0, None)
        };
        db.execute_batch(&first).await.map_err(recording)?;
        let (sql, section) = section_of(rev, direction);
        for (done, statement) in statements.iter().enumerate() {
            events(Event::Statement { revision: rev, sql: statement.text });
            if let Err(e) = db.execute_batch(statement.text).await {
                let line = section.marker_line + line_at(sql, statement.offset + e.offset.unwrap_or(0));
                let section_name = if upgrade { "" } else { "down section, " };
                let message = format!("{section_name}line {line}: {}", e.message);
                // The revision may have opened a transaction of its own: end
                // it, or the failure would be recorded inside it and lost.
                let _ = db.execute_batch("ROLLBACK").await;
                let failed = table.mark_progress(&rev.id, State::Failed, done as i64, Some(&message));
                db.execute_batch(&failed).await.map_err(recording)?;
                return Err(statement_error(rev, line, e, true, !upgrade));
            }
            db.execute_batch(&table.mark_progress(&rev.id, state, done as i64 + 1, None)).await.map_err(recording)?;
        }
        if check_foreign_keys {
            let dangling = dangling(db).await.map_err(|source| Error::Database {
                context: format!("checking the foreign keys after {}", rev.id),
                source,
            })?;
            if !dangling.is_empty() {
                let error = foreign_key_error(rev, dangling, true, !upgrade);
                let failed =
                    table.mark_progress(&rev.id, State::Failed, statements.len() as i64, Some(&error.to_string()));
                db.execute_batch(&failed).await.map_err(recording)?;
                return Err(error);
            }
        }
        let elapsed = start.elapsed();
        let last = if upgrade { table.mark_applied(&rev.id, Some(millis(elapsed))) } else { table.delete(&rev.id) };
        db.execute_batch(&last).await.map_err(recording)?;
        events(Event::Finished { revision: rev, direction, elapsed });
        Ok(Some(elapsed))
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
    async fn step_in_one_round_trip<C: Conn, E: FnMut(Event<'_>) + ?Sized>(
        &self,
        db: &mut C,
        step: Step<'_>,
        recorder: &mut Recorder,
        last: bool,
        events: &mut E,
    ) -> Result<Option<Duration>, Error> {
        let Step { table, rev, statements, direction, user, .. } = step;
        let upgrade = direction == Direction::Upgrade;
        events(Event::Started { revision: rev, direction });
        let start = Instant::now();
        let mut batch = String::with_capacity(256 + statements.iter().map(|st| st.text.len() + 2).sum::<usize>());
        let record = if upgrade {
            if !recorder.prepared {
                batch.push_str(&table.prepare_insert(&recorder.name, user));
                batch.push_str(";\n");
                recorder.prepared = true;
            }
            table.execute_insert(&recorder.name, &rev.id, &rev.checksum.to_string(), &rev.message)
        } else {
            table.delete(&rev.id)
        };
        for statement in statements {
            events(Event::Statement { revision: rev, sql: statement.text });
        }
        let savepoints = statements.len() > 1;
        batch.push_str("BEGIN;\n");
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
        let deallocate = last && recorder.prepared;
        if deallocate {
            batch.push_str(&format!("\nDEALLOCATE {};", recorder.name));
        }
        let Err(error) = db.execute_batch(&batch).await else {
            recorder.prepared &= !deallocate;
            let elapsed = start.elapsed();
            events(Event::Finished { revision: rev, direction, elapsed });
            return Ok(Some(elapsed));
        };
        let (sql, section) = section_of(rev, direction);
        let located = error.offset.and_then(|o| {
            let k = starts.iter().rposition(|&s| s <= o)?;
            (o - starts[k] <= statements[k].text.len()).then(|| statements[k].offset + o - starts[k])
        });
        let failed_at = match (located, statements) {
            (Some(offset), _) => Some(offset),
            (None, []) => None,
            (None, [only]) => Some(only.offset),
            (None, _) => {
                let mut found = None;
                for k in (0..statements.len()).rev() {
                    if db.execute_batch(&format!("ROLLBACK TO SAVEPOINT cargo_migrate_{k}")).await.is_ok() {
                        found = Some(statements[k].offset);
                        break;
                    }
                }
                found
            }
        };
        let _ = db.execute_batch("ROLLBACK").await;
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

/// The prepared statement that records applied revisions on PostgreSQL
/// ([`VersionTable::prepare_insert`]): prepared in the batch of a run's
/// first revision applied in one round trip, deallocated in the batch of its
/// last (or after the run, when that one failed or ran otherwise). Named
/// per run, so a statement left behind by a panic never collides.
struct Recorder {
    name: String,
    /// Whether the statement may exist in the session.
    prepared: bool,
}

impl Recorder {
    fn new() -> Recorder {
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Recorder { name: format!("cargo_migrate_record_{}_{run}", std::process::id()), prepared: false }
    }
}

/// One revision to run: what the step functions share.
#[derive(Clone, Copy)]
struct Step<'a> {
    table: &'a VersionTable,
    rev: &'a Revision,
    statements: &'a [Statement<'a>],
    /// Only the row is written or deleted ([`Plan::records_only`]): a
    /// baseline whose replaced revisions were applied one by one.
    records_only: bool,
    direction: Direction,
    /// `user@client-host`, for the version table.
    user: &'a str,
    /// The run turned SQLite's foreign keys off before its one
    /// transaction: a revision that starts by turning them off has them
    /// checked after its statements.
    foreign_keys_off: bool,
    /// What the backend can do.
    capabilities: Capabilities,
}

/// The migration lock, held for a run.
pub(super) struct Held {
    key: i64,
    backend: Backend,
    /// The lease, when the lock is a lease row.
    lease: Option<Lease>,
    /// Renews the lease while a revision runs, given a second connection.
    heartbeat: Option<Heartbeat>,
}

fn strategy_name(strategy: LockStrategy) -> &'static str {
    match strategy {
        LockStrategy::Advisory => "advisory locks",
        LockStrategy::File => "a lock file",
        LockStrategy::NamedLock => "GET_LOCK",
        _ => "the lease table",
    }
}

/// Whether a SQLite section starts with `PRAGMA foreign_keys = OFF` (or
/// `0`, `false`, `no`), as autogenerate writes before it rebuilds tables.
pub(super) fn turns_foreign_keys_off(statements: &[Statement<'_>]) -> bool {
    let Some(first) = statements.first() else { return false };
    let compact: String = first
        .text
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\'' | '"'))
        .collect::<String>()
        .to_ascii_lowercase();
    let Some(rest) = compact.strip_prefix("pragma") else { return false };
    let rest = rest.strip_prefix("main.").unwrap_or(rest);
    matches!(rest, "foreign_keys=off" | "foreign_keys=0" | "foreign_keys=false" | "foreign_keys=no")
}

async fn sqlite_foreign_keys_enabled<C: Conn>(db: &mut C) -> Result<bool, Error> {
    let rows = db
        .query_text("PRAGMA foreign_keys")
        .await
        .map_err(|source| Error::Database { context: "reading PRAGMA foreign_keys".into(), source })?;
    Ok(rows.first().is_some_and(|row| crate::db::cell(row, 0) == "1"))
}

/// Turns SQLite's foreign keys off when they are on (outside a
/// transaction: inside one the PRAGMA does nothing); whether they were.
async fn sqlite_foreign_keys_off<C: Conn>(db: &mut C) -> Result<bool, Error> {
    if !sqlite_foreign_keys_enabled(db).await? {
        return Ok(false);
    }
    db.execute_batch("PRAGMA foreign_keys = OFF")
        .await
        .map_err(|source| Error::Database { context: "turning foreign keys off".into(), source })?;
    Ok(true)
}

/// `result`, after SQLite's foreign keys are turned on again where `turned_off`:
/// a failure to turn them on is the error only when `result` is no error.
async fn foreign_keys_back_on<C: Conn, T>(db: &mut C, turned_off: bool, result: Result<T, Error>) -> Result<T, Error> {
    if turned_off {
        let on = sqlite_foreign_keys_on(db).await;
        if result.is_ok() {
            on?;
        }
    }
    result
}

async fn sqlite_foreign_keys_on<C: Conn>(db: &mut C) -> Result<(), Error> {
    db.execute_batch("PRAGMA foreign_keys = ON")
        .await
        .map_err(|source| Error::Database { context: "turning foreign keys on again".into(), source })
}

/// `PRAGMA foreign_key_check`: the rows pointing at no row, counted by
/// table and the table they point at.
async fn dangling<C: Conn>(db: &mut C) -> Result<Vec<Dangling>, DbError> {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for row in db.query_text("PRAGMA foreign_key_check").await? {
        *counts.entry((crate::db::cell(&row, 0), crate::db::cell(&row, 2))).or_default() += 1;
    }
    Ok(counts.into_iter().map(|((table, parent), rows)| Dangling { table, parent, rows }).collect())
}

fn foreign_key_error(rev: &Revision, dangling: Vec<Dangling>, recorded_failure: bool, downgrade: bool) -> Error {
    Error::ForeignKeyCheck {
        id: rev.id.clone(),
        path: rev.file.path.display().to_string(),
        dangling,
        recorded_failure,
        downgrade,
    }
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
pub(super) fn section_of(rev: &Revision, direction: Direction) -> (&str, &migrate_history::Section) {
    match direction {
        Direction::Upgrade => (rev.up_sql(), &rev.up),
        Direction::Downgrade => (rev.down_sql().unwrap_or_default(), rev.down.as_ref().unwrap_or(&rev.up)),
    }
}

pub(super) fn new_row<'a>(
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
async fn applied_by<C: Conn>(db: &mut C) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    format!("{}@{host}", db.user().await)
}
