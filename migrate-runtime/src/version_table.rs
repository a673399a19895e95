//! The version table: one row per applied (or stamped, or failed) revision.
//! Every statement is built with sea-query, so quoting is right for each
//! dialect, and the same text runs online and goes into offline scripts.

use sea_query::{Alias, ColumnDef, Expr, Iden, IntoTableRef, Order, Query, SimpleExpr, Table, TableRef};

use crate::Dialect;

/// Default name of the version table.
pub const DEFAULT_TABLE: &str = "migrate_versions";

/// How a revision came to be in the version table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Its up section ran and committed.
    Applied,
    /// Recorded without running (`stamp`).
    Stamped,
    /// A `transaction: false` revision that failed part-way; blocks upgrades
    /// until resolved.
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Stamped => "stamped",
            State::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        match text {
            "applied" => Some(State::Applied),
            "stamped" => Some(State::Stamped),
            "failed" => Some(State::Failed),
            _ => None,
        }
    }
}

/// One row of the version table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub revision: String,
    pub checksum: String,
    pub message: String,
    pub state: State,
    pub applied_at: String,
    pub execution_ms: Option<i64>,
    pub applied_by: Option<String>,
    pub error: Option<String>,
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
}

/// The version table's location and its statements for one dialect.
#[derive(Debug, Clone)]
pub struct VersionTable {
    pub dialect: Dialect,
    pub schema: Option<String>,
    pub name: String,
}

/// What goes into a new row.
#[derive(Debug, Clone)]
pub struct NewRow<'a> {
    pub revision: &'a str,
    pub checksum: String,
    pub message: &'a str,
    pub state: State,
    pub execution_ms: Option<i64>,
    /// On PostgreSQL, measure the execution time in the database: the time
    /// since the current query (a batch that began with the revision) arrived.
    pub timed_by_server: bool,
    /// `None` lets the database say who (its current user), as offline scripts do.
    pub applied_by: Option<&'a str>,
    pub error: Option<&'a str>,
}

impl VersionTable {
    pub fn new(dialect: Dialect, schema: Option<String>, name: Option<String>) -> VersionTable {
        VersionTable { dialect, schema, name: name.unwrap_or_else(|| DEFAULT_TABLE.to_owned()) }
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

    /// `CREATE TABLE IF NOT EXISTS ...` (and the schema on PostgreSQL).
    pub fn create(&self) -> String {
        let table = Table::create()
            .table(self.table())
            .if_not_exists()
            .col(ColumnDef::new(Col::Revision).string_len(255).not_null().primary_key())
            .col(ColumnDef::new(Col::Checksum).string_len(80).not_null())
            .col(ColumnDef::new(Col::Message).text().not_null())
            .col(ColumnDef::new(Col::State).string_len(16).not_null())
            .col(ColumnDef::new(Col::AppliedAt).timestamp().not_null().default(Expr::current_timestamp()))
            .col(ColumnDef::new(Col::ExecutionMs).big_integer())
            .col(ColumnDef::new(Col::AppliedBy).text())
            .col(ColumnDef::new(Col::Error).text())
            .to_owned();
        let create = self.dialect.build_schema(&table);
        match (&self.schema, self.dialect) {
            (Some(schema), Dialect::Postgres) => {
                format!("CREATE SCHEMA IF NOT EXISTS \"{}\";\n{create}", schema.replace('"', "\"\""))
            }
            _ => create,
        }
    }

    /// Every row, oldest first.
    pub fn select(&self) -> String {
        let query = Query::select()
            .columns([
                Col::Revision,
                Col::Checksum,
                Col::Message,
                Col::State,
                Col::AppliedAt,
                Col::ExecutionMs,
                Col::AppliedBy,
                Col::Error,
            ])
            .from(self.table())
            .order_by(Col::AppliedAt, Order::Asc)
            .order_by(Col::Revision, Order::Asc)
            .to_owned();
        self.dialect.build_query(&query)
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
            (None, Dialect::Sqlite) => "offline script".into(),
        };
        let query = Query::insert()
            .into_table(self.table())
            .columns([
                Col::Revision,
                Col::Checksum,
                Col::Message,
                Col::State,
                Col::ExecutionMs,
                Col::AppliedBy,
                Col::Error,
            ])
            .values_panic([
                row.revision.into(),
                row.checksum.as_str().into(),
                row.message.into(),
                row.state.as_str().into(),
                match (row.timed_by_server, self.dialect) {
                    (true, Dialect::Postgres) => {
                        Expr::cust("(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::bigint")
                    }
                    _ => row.execution_ms.into(),
                },
                applied_by,
                row.error.map(str::to_owned).into(),
            ])
            .to_owned();
        self.dialect.build_query(&query)
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

    /// Marks a failed revision as applied after the operator finished it by hand.
    pub fn mark_applied(&self, revision: &str) -> String {
        let query = Query::update()
            .table(self.table())
            .values([(Col::State, State::Applied.as_str().into()), (Col::Error, Option::<String>::None.into())])
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
        let lite = VersionTable::new(Dialect::Sqlite, None, Some("versions".into()));
        assert_eq!(lite.delete("a1"), "DELETE FROM \"versions\" WHERE \"revision\" = 'a1'");
    }
}
