//! The version table: one row per applied (or stamped, or failed) revision.
//! Every statement is built with sea-query, so quoting is right for each
//! dialect, and the same text runs online and goes into offline scripts.

use sea_query::{Alias, ColumnDef, Expr, Iden, IntoTableRef, Order, Query, SimpleExpr, Table, TableRef};

use migrate_history::MAX_REVISION_ID_LEN;

use crate::Dialect;
use crate::db::SeaQueryDialect;

/// On PostgreSQL, the milliseconds since the current query (a batch that
/// began with the revision) arrived.
const SERVER_TIMED_MS: &str = "(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::bigint";

/// Default name of the version table.
pub const DEFAULT_TABLE: &str = "migrate_versions";

/// How a revision came to be in the version table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Its up section ran and committed.
    Applied,
    /// Recorded without running (`stamp`).
    Stamped,
    /// Recorded without running by `adopt`, from another tool's table that
    /// shows it applied; `applied_by` names the tool.
    Adopted,
    /// A `transaction: false` revision that failed part-way; blocks upgrades
    /// until resolved.
    Failed,
    /// A `transaction: false` revision whose up section is running, or was
    /// interrupted (the process died): blocks upgrades until resolved.
    Running,
    /// The same for a down section.
    Reverting,
}

impl State {
    /// Its spelling in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Stamped => "stamped",
            State::Adopted => "adopted",
            State::Failed => "failed",
            State::Running => "running",
            State::Reverting => "reverting",
        }
    }

    /// Whether the revision is neither applied nor absent: an operator must
    /// settle it with `resolve` before anything else runs.
    pub fn is_unsettled(self) -> bool {
        matches!(self, State::Failed | State::Running | State::Reverting)
    }

    /// The state a `state` column spells; `None` for an unknown spelling.
    pub fn parse(text: &str) -> Option<State> {
        match text {
            "applied" => Some(State::Applied),
            "stamped" => Some(State::Stamped),
            "adopted" => Some(State::Adopted),
            "failed" => Some(State::Failed),
            "running" => Some(State::Running),
            "reverting" => Some(State::Reverting),
            _ => None,
        }
    }
}

/// One row of the version table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The revision's id.
    pub revision: String,
    /// Its file's checksum when it was recorded (`sha256:` and 64 hex digits).
    pub checksum: String,
    /// Its message when it was recorded.
    pub message: String,
    /// How it came to be recorded.
    pub state: State,
    /// When it was recorded, as the database prints the timestamp.
    pub applied_at: String,
    /// How long its statements took, in milliseconds; `None` when not
    /// measured: stamped, running, failed, resolved by hand, or recorded by
    /// an offline script.
    pub execution_ms: Option<i64>,
    /// Who recorded it: `user@host` (the database user on PostgreSQL, the
    /// system user on SQLite), or `offline script` from a SQLite script.
    pub applied_by: Option<String>,
    /// The database's error, for a revision that failed part-way.
    pub error: Option<String>,
    /// How many statements of a `transaction: false` revision had finished
    /// when it was last recorded (`running`, `reverting`, `failed`).
    pub statements_done: Option<i64>,
}

#[derive(Iden)]
enum Col {
    Revision,
    Checksum,
    Message,
    State,
    AppliedAt,
    ExecutionMs,
    AppliedBy,
    Error,
    StatementsDone,
}

/// The version table's location and its statements for one dialect.
/// [`Migrator::table`](crate::Migrator::table) gives the one a migrator uses.
///
/// ```
/// use migrate_runtime::version_table::{NewRow, State, VersionTable};
/// use migrate_runtime::{Database, Dialect};
///
/// let table = VersionTable::new(Dialect::Sqlite, None, None);
/// assert_eq!(table.display_name(), "migrate_versions");
/// let mut db = rusqlite::Connection::open_in_memory()?;
/// db.execute_batch(&table.create())?;
/// let row = NewRow {
///     revision: "a1",
///     checksum: format!("sha256:{}", "0".repeat(64)),
///     message: "users",
///     state: State::Stamped,
///     execution_ms: None,
///     timed_by_server: false,
///     applied_by: Some("me@laptop"),
///     error: None,
/// };
/// db.execute_batch(&table.insert(&row))?;
///
/// let columns = db.table_columns(None, &table.name)?.expect("created");
/// assert!(table.upgrade_layout(&columns).is_empty(), "the current layout");
/// let rows = db.query_text(&table.select(&columns))?;
/// assert_eq!((rows[0][0].as_deref(), rows[0][3].as_deref()), (Some("a1"), Some("stamped")));
///
/// let pg = VersionTable::new(Dialect::Postgres, Some("ops".into()), Some("schema_history".into()));
/// assert_eq!(pg.display_name(), "ops.schema_history");
/// assert!(pg.create().starts_with("CREATE SCHEMA IF NOT EXISTS \"ops\";"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct VersionTable {
    /// The dialect its statements are written in.
    pub dialect: Dialect,
    /// The PostgreSQL schema that holds it; `None`: the session's current
    /// schema (and always on SQLite).
    pub schema: Option<String>,
    /// The table's name.
    pub name: String,
    /// Whether statements write `statements_done` (true). Offline SQLite
    /// scripts leave it out: SQLite cannot add the column to a table an
    /// earlier version made only where it is missing.
    pub progress: bool,
}

/// What goes into a new row.
#[derive(Debug, Clone)]
pub struct NewRow<'a> {
    /// The revision's id.
    pub revision: &'a str,
    /// Its file's checksum, as [`Row::checksum`].
    pub checksum: String,
    /// Its message.
    pub message: &'a str,
    /// The state it is recorded in.
    pub state: State,
    /// How long its statements took, in milliseconds, unless
    /// `timed_by_server` measures it.
    pub execution_ms: Option<i64>,
    /// On PostgreSQL, measure the execution time in the database: the time
    /// since the current query (a batch that began with the revision) arrived.
    pub timed_by_server: bool,
    /// `None` lets the database say who (its current user), as offline scripts do.
    pub applied_by: Option<&'a str>,
    /// The database's error, for a revision that failed part-way.
    pub error: Option<&'a str>,
}

impl VersionTable {
    /// The table `name` (default [`DEFAULT_TABLE`]) in `schema`, with
    /// statements that record progress.
    pub fn new(dialect: Dialect, schema: Option<String>, name: Option<String>) -> VersionTable {
        VersionTable { dialect, schema, name: name.unwrap_or_else(|| DEFAULT_TABLE.to_owned()), progress: true }
    }

    fn table(&self) -> TableRef {
        match &self.schema {
            Some(schema) => (Alias::new(schema), Alias::new(&self.name)).into_table_ref(),
            None => Alias::new(&self.name).into_table_ref(),
        }
    }

    /// The table's name as the user knows it.
    pub fn display_name(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The lease-table lock's table (`LockStrategy::LeaseTable`), beside
    /// this one: `<name>_lock`, qualified and quoted for PostgreSQL.
    pub fn lock_table(&self) -> String {
        let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        let table = quote(&format!("{}_lock", self.name));
        match &self.schema {
            Some(schema) => format!("{}.{table}", quote(schema)),
            None => table,
        }
    }

    /// `CREATE TABLE IF NOT EXISTS ...` (and the schema on PostgreSQL).
    pub fn create(&self) -> String {
        let mut applied_at = ColumnDef::new(Col::AppliedAt);
        match self.dialect {
            Dialect::Postgres => applied_at.timestamp_with_time_zone(),
            // MySQL's TIMESTAMP is stored in UTC and shown in the session's
            // zone; in microseconds, as on PostgreSQL, so rows keep their
            // order within a second. The explicit default also keeps an old
            // server (`explicit_defaults_for_timestamp` off) from adding
            // `ON UPDATE CURRENT_TIMESTAMP`, which would move it on every update.
            Dialect::Mysql => applied_at.custom(Alias::new("timestamp(6)")),
            _ => applied_at.timestamp(),
        };
        let now = match self.dialect {
            Dialect::Mysql => Expr::cust("CURRENT_TIMESTAMP(6)"),
            _ => Expr::current_timestamp().into(),
        };
        let table = Table::create()
            .table(self.table())
            .if_not_exists()
            .col(ColumnDef::new(Col::Revision).string_len(MAX_REVISION_ID_LEN as u32).not_null().primary_key())
            .col(ColumnDef::new(Col::Checksum).string_len(80).not_null())
            .col(ColumnDef::new(Col::Message).text().not_null())
            .col(ColumnDef::new(Col::State).string_len(16).not_null())
            .col(applied_at.not_null().default(now))
            .col(ColumnDef::new(Col::ExecutionMs).big_integer())
            .col(ColumnDef::new(Col::AppliedBy).text())
            .col(ColumnDef::new(Col::Error).text())
            .col(ColumnDef::new(Col::StatementsDone).big_integer())
            .to_owned();
        let create = self.dialect.build_schema(&table);
        match (&self.schema, self.dialect) {
            (Some(schema), Dialect::Postgres) => {
                format!("CREATE SCHEMA IF NOT EXISTS \"{}\";\n{create}", schema.replace('"', "\"\""))
            }
            _ => create,
        }
    }

    /// What an existing table (with `columns`, as [`Database::table_columns`]
    /// reads them) lacks compared with [`VersionTable::create`]: statements
    /// that bring a table made by an earlier version up to date, in place.
    ///
    /// [`Database::table_columns`]: crate::Database::table_columns
    pub fn upgrade_layout(&self, columns: &[(String, String)]) -> Vec<String> {
        let mut statements = Vec::new();
        if !columns.iter().any(|(name, _)| name == "statements_done") {
            let alter = Table::alter()
                .table(self.table())
                .add_column(ColumnDef::new(Col::StatementsDone).big_integer())
                .to_owned();
            statements.push(self.dialect.build_schema(&alter));
        }
        let applied_at = columns.iter().find(|(name, _)| name == "applied_at");
        if self.dialect == Dialect::Postgres
            && applied_at.is_some_and(|(_, kind)| kind == "timestamp without time zone")
        {
            // Read in the session's time zone, as the old default wrote it.
            statements.push(format!(
                "ALTER TABLE {} ALTER COLUMN \"applied_at\" TYPE timestamp with time zone",
                self.quoted_name()
            ));
        }
        statements
    }

    fn quoted_name(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        match &self.schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(&self.name)),
            None => quote(&self.name),
        }
    }

    /// Every row, oldest first. `columns` is the table's layout, so a table
    /// an earlier version made can be read without changing it.
    pub fn select(&self, columns: &[(String, String)]) -> String {
        let mut query = Query::select();
        query.columns([
            Col::Revision,
            Col::Checksum,
            Col::Message,
            Col::State,
            Col::AppliedAt,
            Col::ExecutionMs,
            Col::AppliedBy,
            Col::Error,
        ]);
        if columns.iter().any(|(name, _)| name == "statements_done") {
            query.column(Col::StatementsDone);
        }
        let query = query
            .from(self.table())
            .order_by(Col::AppliedAt, Order::Asc)
            .order_by(Col::Revision, Order::Asc)
            .to_owned();
        self.dialect.build_query(&query)
    }

    /// The columns (name, type, as PostgreSQL's `format_type` names them)
    /// of the table [`VersionTable::create`] makes there.
    pub fn postgres_layout() -> Vec<(String, String)> {
        let varchar = |n: usize| format!("character varying({n})");
        [
            ("revision", varchar(MAX_REVISION_ID_LEN)),
            ("checksum", varchar(80)),
            ("message", "text".into()),
            ("state", varchar(16)),
            ("applied_at", "timestamp with time zone".into()),
            ("execution_ms", "bigint".into()),
            ("applied_by", "text".into()),
            ("error", "text".into()),
            ("statements_done", "bigint".into()),
        ]
        .into_iter()
        .map(|(name, kind)| (name.to_owned(), kind))
        .collect()
    }

    /// On PostgreSQL, everything a run or a state needs to read, in one
    /// round trip (instead of the session's schema, the columns and the
    /// rows in turn): two statements, whose rows come back in order. The
    /// first row is the session's `current_schema()`, then `t` when this is
    /// the table writes go to (the one in the current schema, when no
    /// schema is configured) with the layout of
    /// [`VersionTable::postgres_layout`], else `f`; the rows of
    /// [`VersionTable::select`] follow. Fails where the table does not exist
    /// or lacks a column; `None` on SQLite.
    pub fn select_current(&self) -> Option<String> {
        self.current_then(&self.select(&Self::postgres_layout()))
    }

    /// [`VersionTable::select_current`] with only what planning reads
    /// (revision, checksum, state; the other columns NULL or left out), in
    /// no particular order: about half the server's time on 1,000 rows.
    pub(crate) fn select_current_for_planning(&self) -> Option<String> {
        let rows = format!("SELECT \"revision\", \"checksum\", NULL, \"state\" FROM {}", self.quoted_name());
        self.current_then(&rows)
    }

    /// The check of [`VersionTable::select_current`], then `rows`.
    fn current_then(&self, rows: &str) -> Option<String> {
        if self.dialect != Dialect::Postgres {
            return None;
        }
        let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let name = literal(&self.quoted_name());
        let layout: Vec<String> = Self::postgres_layout().iter().map(|(n, t)| format!("{n} {t}")).collect();
        let mut check = format!(
            "(SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) \
             FROM pg_attribute WHERE attrelid = to_regclass({name}) AND attnum > 0 AND NOT attisdropped) = {}",
            literal(&layout.join(", "))
        );
        if self.schema.is_none() {
            // The search path finds the table in a later schema too; writes go to the current one's.
            check = format!(
                "to_regclass({name}) = to_regclass(format('%I.%I', current_schema(), {})) AND {check}",
                literal(&self.name)
            );
        }
        Some(format!("SELECT current_schema(), coalesce({check}, false);\n{rows}"))
    }

    /// The row of one revision, if recorded (a re-check under the lock).
    pub fn select_revision(&self, revision: &str) -> String {
        let query = Query::select()
            .column(Col::Revision)
            .from(self.table())
            .and_where(Expr::col(Col::Revision).eq(revision))
            .to_owned();
        self.dialect.build_query(&query)
    }

    /// Records a revision.
    pub fn insert(&self, row: &NewRow<'_>) -> String {
        let applied_by: SimpleExpr = match (row.applied_by, self.dialect) {
            (Some(who), _) => who.into(),
            (None, Dialect::Postgres) => {
                Expr::cust("current_user || '@' || coalesce(host(inet_client_addr()), 'local')")
            }
            (None, Dialect::Mysql) => Expr::cust("current_user()"),
            (None, _) => "offline script".into(),
        };
        let mut columns =
            vec![Col::Revision, Col::Checksum, Col::Message, Col::State, Col::ExecutionMs, Col::AppliedBy, Col::Error];
        // A running row says from its first moment that no statement has finished.
        let running = row.state == State::Running && self.progress;
        if running {
            columns.push(Col::StatementsDone);
        }
        let mut values: Vec<SimpleExpr> = vec![
            row.revision.into(),
            row.checksum.as_str().into(),
            row.message.into(),
            row.state.as_str().into(),
            match (row.timed_by_server, self.dialect) {
                (true, Dialect::Postgres) => Expr::cust(SERVER_TIMED_MS),
                _ => row.execution_ms.into(),
            },
            applied_by,
            row.error.map(str::to_owned).into(),
        ];
        if running {
            values.push(0i64.into());
        }
        let query = Query::insert().into_table(self.table()).columns(columns).values_panic(values).to_owned();
        self.dialect.build_query(&query)
    }

    /// On PostgreSQL, [`VersionTable::insert`] of an applied revision, timed
    /// by the server and recorded as `applied_by`, as the prepared statement
    /// `name` whose parameters are the revision, its checksum and its
    /// message ([`VersionTable::execute_insert`]): the server parses and
    /// plans it once a run instead of once a revision (about 35 µs of its
    /// time a revision).
    pub(crate) fn prepare_insert(&self, name: &str, applied_by: &str) -> String {
        let columns = [Col::Revision, Col::Checksum, Col::Message, Col::State, Col::ExecutionMs, Col::AppliedBy];
        let values: Vec<SimpleExpr> = vec![
            Expr::cust("$1"),
            Expr::cust("$2"),
            Expr::cust("$3"),
            State::Applied.as_str().into(),
            Expr::cust(SERVER_TIMED_MS),
            applied_by.into(),
        ];
        let query = Query::insert().into_table(self.table()).columns(columns).values_panic(values).to_owned();
        format!("PREPARE {name} (text, text, text) AS {}", self.dialect.build_query(&query))
    }

    /// Runs the statement [`VersionTable::prepare_insert`] prepared as `name`.
    pub(crate) fn execute_insert(&self, name: &str, revision: &str, checksum: &str, message: &str) -> String {
        let literal = |text: &str| match text.contains('\\') {
            false => format!("'{}'", text.replace('\'', "''")),
            true => format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
        };
        format!("EXECUTE {name} ({}, {}, {})", literal(revision), literal(checksum), literal(message))
    }

    /// The table as an offline script writes it: on SQLite without
    /// `statements_done`, which a script cannot add only where it is
    /// missing.
    pub fn for_offline_script(self) -> VersionTable {
        VersionTable { progress: self.dialect != Dialect::Sqlite, ..self }
    }

    /// For offline scripts on PostgreSQL: adds the columns a table made by an
    /// earlier version lacks, whether or not it has them.
    pub fn add_missing_columns(&self) -> Option<String> {
        (self.dialect == Dialect::Postgres)
            .then(|| format!("ALTER TABLE {} ADD COLUMN IF NOT EXISTS \"statements_done\" bigint", self.quoted_name()))
    }

    /// Forgets a revision.
    pub fn delete(&self, revision: &str) -> String {
        let query =
            Query::delete().from_table(self.table()).and_where(Expr::col(Col::Revision).eq(revision)).to_owned();
        self.dialect.build_query(&query)
    }

    /// Forgets every revision (`stamp --purge`).
    pub fn delete_all(&self) -> String {
        self.dialect.build_query(&Query::delete().from_table(self.table()).to_owned())
    }

    /// Marks an unsettled revision as applied after the operator finished it
    /// by hand, or a running one as finished.
    pub fn mark_applied(&self, revision: &str, execution_ms: Option<i64>) -> String {
        self.update(revision, State::Applied, None, None, execution_ms)
    }

    /// Records how far a `transaction: false` revision got, and in what state.
    pub fn mark_progress(&self, revision: &str, state: State, statements_done: i64, error: Option<&str>) -> String {
        self.update(revision, state, Some(statements_done), error, None)
    }

    fn update(
        &self,
        revision: &str,
        state: State,
        statements_done: Option<i64>,
        error: Option<&str>,
        execution_ms: Option<i64>,
    ) -> String {
        let mut values = vec![(Col::State, state.as_str().into()), (Col::Error, error.map(str::to_owned).into())];
        if self.progress {
            values.push((Col::StatementsDone, statements_done.into()));
        }
        if let Some(ms) = execution_ms {
            values.push((Col::ExecutionMs, ms.into()));
        }
        let query = Query::update()
            .table(self.table())
            .values(values)
            .and_where(Expr::col(Col::Revision).eq(revision))
            .to_owned();
        self.dialect.build_query(&query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_quote_per_dialect() {
        let pg = VersionTable::new(Dialect::Postgres, Some("ops".into()), None);
        assert!(pg.create().starts_with(
            "CREATE SCHEMA IF NOT EXISTS \"ops\";\nCREATE TABLE IF NOT EXISTS \"ops\".\"migrate_versions\""
        ));
        let row = NewRow {
            revision: "a1",
            checksum: "sha256:00".into(),
            message: "it's",
            state: State::Applied,
            execution_ms: Some(3),
            timed_by_server: false,
            applied_by: Some("me@host"),
            error: None,
        };
        assert_eq!(
            pg.insert(&row),
            "INSERT INTO \"ops\".\"migrate_versions\" (\"revision\", \"checksum\", \"message\", \"state\", \"execution_ms\", \"applied_by\", \"error\") VALUES ('a1', 'sha256:00', E'it\\'s', 'applied', 3, 'me@host', NULL)"
        );
        let running = NewRow { state: State::Running, execution_ms: None, ..row.clone() };
        assert_eq!(
            pg.insert(&running),
            "INSERT INTO \"ops\".\"migrate_versions\" (\"revision\", \"checksum\", \"message\", \"state\", \"execution_ms\", \"applied_by\", \"error\", \"statements_done\") VALUES ('a1', 'sha256:00', E'it\\'s', 'running', NULL, 'me@host', NULL, 0)",
            "a running row says no statement has finished yet"
        );
        assert_eq!(
            pg.prepare_insert("rec", "me@host"),
            "PREPARE rec (text, text, text) AS INSERT INTO \"ops\".\"migrate_versions\" (\"revision\", \"checksum\", \"message\", \"state\", \"execution_ms\", \"applied_by\") VALUES ($1, $2, $3, 'applied', (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::bigint, 'me@host')"
        );
        assert_eq!(pg.execute_insert("rec", "a1", "sha256:00", "it's"), "EXECUTE rec ('a1', 'sha256:00', 'it''s')");
        assert_eq!(
            pg.execute_insert("rec", "a1", "sha256:00", "a\\b's"),
            "EXECUTE rec ('a1', 'sha256:00', E'a\\\\b\\'s')"
        );
        let my = VersionTable::new(Dialect::Mysql, None, None);
        assert_eq!(
            my.create(),
            "CREATE TABLE IF NOT EXISTS `migrate_versions` ( `revision` varchar(64) NOT NULL PRIMARY KEY, `checksum` varchar(80) NOT NULL, `message` text NOT NULL, `state` varchar(16) NOT NULL, `applied_at` timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `execution_ms` bigint, `applied_by` text, `error` text, `statements_done` bigint )"
        );
        assert_eq!(
            my.insert(&NewRow { applied_by: None, ..running }),
            "INSERT INTO `migrate_versions` (`revision`, `checksum`, `message`, `state`, `execution_ms`, `applied_by`, `error`, `statements_done`) VALUES ('a1', 'sha256:00', 'it\\'s', 'running', NULL, current_user(), NULL, 0)"
        );
        let lite = VersionTable::new(Dialect::Sqlite, None, Some("versions".into()));
        assert_eq!(lite.delete("a1"), "DELETE FROM \"versions\" WHERE \"revision\" = 'a1'");
    }
}
