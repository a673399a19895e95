//! What another migration tool records as applied, read from its own
//! table, and mapped onto revisions imported from it (`imported-from`
//! headers): the reading half of `cargo migrate adopt`. Nothing here
//! writes to either table.
//!
//! ```
//! use migrate_history::import::Tool;
//! use migrate_runtime::Database;
//! use migrate_runtime::adopt::read_peer;
//!
//! let mut db = rusqlite::Connection::open_in_memory()?;
//! Database::execute_batch(&mut db, "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL);
//!     INSERT INTO schema_migrations VALUES (2, false);")?;
//! let peer = read_peer(&mut db, Tool::GolangMigrate)?;
//! assert_eq!(peer.applied, ["2"]);
//! assert!(peer.failed.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use migrate_history::History;
use migrate_history::import::Tool;

use crate::db::{Database, DbError, Dialect, cell};

/// What another tool's table says is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerState {
    /// The tool.
    pub tool: Tool,
    /// Its table, as the tool names it.
    pub table: &'static str,
    /// The versions it records as applied, as it writes them, in the
    /// order read. For golang-migrate, the one version it records: every
    /// migration up to it is applied; for Alembic, the heads: every
    /// revision they need is applied.
    pub applied: Vec<String>,
    /// A version the tool records as failed (sqlx, Flyway) or dirty
    /// (golang-migrate): adopting refuses it.
    pub failed: Option<String>,
}

/// Why another tool's state cannot be adopted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdoptError {
    /// The tool's table does not exist on this database.
    #[error("this database has no {table} table: {tool} has not run here")]
    NoTable {
        /// The tool.
        tool: Tool,
        /// The table looked for.
        table: &'static str,
    },
    /// Reading the tool's table failed.
    #[error("cannot read {table}: {source}")]
    Read {
        /// The table.
        table: &'static str,
        /// The database's error.
        source: DbError,
    },
    /// The tool records a migration as failed or dirty.
    #[error("{tool} records version {version} as {how} in {table}; settle it with {tool} first")]
    Failed {
        /// The tool.
        tool: Tool,
        /// Its table.
        table: &'static str,
        /// The version.
        version: String,
        /// `failed` or `dirty`.
        how: &'static str,
    },
    /// Flyway records a baseline, which stands for migrations it never ran.
    #[error("flyway records a baseline at version {version}; adopting a baselined database is not supported")]
    Baseline {
        /// The baseline's version.
        version: String,
    },
    /// The tool records applied versions that no revision was imported from.
    #[error("{tool} records {} applied that the imported history lacks: {}", plural(.versions.len()), .versions.join(", "))]
    NotImported {
        /// The tool.
        tool: Tool,
        /// The versions, as the tool writes them.
        versions: Vec<String>,
    },
    /// A revision is not applied while a later one is.
    #[error("{tool} records revisions after {id} as applied but not {id} itself ({what}): a gap cannot be adopted")]
    Gap {
        /// The tool.
        tool: Tool,
        /// The revision missing.
        id: String,
        /// What it was imported from, or that it was not.
        what: String,
    },
}

fn plural(n: usize) -> String {
    if n == 1 { "a version".to_owned() } else { format!("{n} versions") }
}

/// The table `tool` keeps its applied migrations in.
pub fn peer_table(tool: Tool) -> &'static str {
    match tool {
        Tool::Sqlx => "_sqlx_migrations",
        Tool::GolangMigrate | Tool::Dbmate => "schema_migrations",
        Tool::Goose => "goose_db_version",
        Tool::Diesel => "__diesel_schema_migrations",
        Tool::Refinery => "refinery_schema_history",
        Tool::Flyway => "flyway_schema_history",
        Tool::Alembic => "alembic_version",
    }
}

/// Reads what `tool` records as applied on `db`, as the tool writes its table.
pub fn read_peer(db: &mut dyn Database, tool: Tool) -> Result<PeerState, AdoptError> {
    let table = peer_table(tool);
    let read = |e| AdoptError::Read { table, source: e };
    if db.table_columns(None, table).map_err(read)?.is_none() {
        return Err(AdoptError::NoTable { tool, table });
    }
    // Booleans as 1/0 with CASE, which reads the same on PostgreSQL, SQLite and MySQL.
    let sql = match tool {
        // Alembic (alembic/runtime/migration.py, _version): `alembic_version
        // (version_num VARCHAR(32) PRIMARY KEY)`, one row per head: every
        // revision those need (parents and depends_on) is applied. Alembic
        // has no failed state: a revision that fails rolls back or, outside
        // a transaction, leaves the previous heads.
        Tool::Alembic => "SELECT version_num, 1 FROM alembic_version ORDER BY version_num",
        // sqlx (sqlx-postgres/src/migrate.rs): `_sqlx_migrations (version
        // BIGINT PRIMARY KEY, description, installed_on, success BOOLEAN,
        // checksum, execution_time)`; a row with success = false is a
        // migration that failed part-way ("dirty", sqlx refuses to go on).
        Tool::Sqlx => {
            "SELECT CAST(version AS TEXT), CASE WHEN success THEN 1 ELSE 0 END FROM _sqlx_migrations ORDER BY version"
        }
        // golang-migrate (database/postgres/postgres.go, SetVersion):
        // `schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty
        // boolean NOT NULL)`, truncated and rewritten with one row, the
        // latest version; dirty = true means that migration failed.
        Tool::GolangMigrate => {
            "SELECT CAST(version AS TEXT), CASE WHEN dirty THEN 0 ELSE 1 END FROM schema_migrations WHERE version >= 0"
        }
        // dbmate (pkg/driver/postgres/postgres.go): `schema_migrations
        // (version varchar(128) PRIMARY KEY)`, one row per applied migration.
        Tool::Dbmate => "SELECT CAST(version AS TEXT), 1 FROM schema_migrations ORDER BY version",
        // goose (dialect/dialectquery/postgres.go): `goose_db_version (id
        // serial, version_id bigint, is_applied boolean, tstamp)`; older
        // goose inserts an is_applied = false row on down, so the latest row
        // (highest id) of a version wins; version 0 is goose's own first row.
        Tool::Goose => {
            "SELECT CAST(version_id AS TEXT), CASE WHEN is_applied THEN 1 ELSE 0 END FROM goose_db_version \
             WHERE version_id <> 0 ORDER BY id"
        }
        // diesel (diesel_migrations/src/migration_harness.rs):
        // `__diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY,
        // run_on TIMESTAMP)`, the version with its dashes removed.
        Tool::Diesel => "SELECT CAST(version AS TEXT), 1 FROM __diesel_schema_migrations ORDER BY version",
        // refinery (refinery_core/src/traits/mod.rs): `refinery_schema_history
        // (version INT4 PRIMARY KEY, name, applied_on, checksum)`.
        Tool::Refinery => "SELECT CAST(version AS TEXT), 1 FROM refinery_schema_history ORDER BY version",
        // Flyway (docs "Schema History Table"): `flyway_schema_history
        // (installed_rank, version, description, type, script, checksum,
        // installed_by, installed_on, execution_time, success)`; repeatable
        // rows have no version, `SCHEMA` rows record schemas Flyway created,
        // `UNDO_SQL` rows undo their version, `DELETE` rows (repair) remove it.
        Tool::Flyway => {
            "SELECT CAST(version AS TEXT), CASE WHEN success THEN 1 ELSE 0 END, type FROM flyway_schema_history \
             WHERE version IS NOT NULL AND type <> 'SCHEMA' ORDER BY installed_rank"
        }
    };
    // MySQL has no `TEXT` to cast to; its `CHAR` is PostgreSQL's `char(1)`.
    let sql = match db.dialect() {
        Dialect::Mysql => sql.replace(" AS TEXT)", " AS CHAR)"),
        _ => sql.to_owned(),
    };
    let rows = db.query_text(&sql).map_err(read)?;
    let mut applied: Vec<String> = Vec::new();
    let mut failed = None;
    for row in &rows {
        let version = cell(row, 0);
        let ok = cell(row, 1) == "1";
        let kind = if tool == Tool::Flyway { cell(row, 2) } else { String::new() };
        if kind == "BASELINE" {
            return Err(AdoptError::Baseline { version });
        }
        // Latest row wins: goose's is_applied rows, Flyway's undo and delete rows.
        applied.retain(|v| *v != version);
        if kind.starts_with("UNDO") || kind == "DELETE" {
            continue;
        }
        if ok {
            applied.push(version);
        } else if tool != Tool::Goose {
            failed = Some(version);
        }
    }
    Ok(PeerState { tool, table, applied, failed })
}

/// A version as the tools compare it: diesel's without dashes, Flyway's
/// underscores as dots, numbers without leading zeros, trailing `.0` parts
/// dropped.
fn version_key(version: &str) -> String {
    let dotted = version.trim().replace('-', "").replace('_', ".");
    let parts: Vec<&str> = dotted.split('.').collect();
    if !parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        return version.trim().to_owned();
    }
    let mut numbers: Vec<&str> =
        parts.iter().map(|p| p.trim_start_matches('0')).map(|p| if p.is_empty() { "0" } else { p }).collect();
    while numbers.len() > 1 && numbers.last() == Some(&"0") {
        numbers.pop();
    }
    numbers.join(".")
}

/// The revisions of `history` that `peer` records as applied, in upgrade
/// order, matched by their `imported-from` header. Refuses a failed or
/// dirty version, an applied version no revision was imported from, and a
/// gap: the applied revisions must be the first ones of the history.
pub fn map_applied(history: &History, peer: &PeerState) -> Result<Vec<String>, AdoptError> {
    let tool = peer.tool;
    if let Some(version) = &peer.failed {
        let how = if tool == Tool::GolangMigrate { "dirty" } else { "failed" };
        return Err(AdoptError::Failed { tool, table: peer.table, version: version.clone(), how });
    }
    let original = |rev: &migrate_history::Revision| -> Option<String> {
        let (from, version) = rev.imported_from.as_deref()?.split_once(' ')?;
        (from == tool.name()).then(|| version_key(version))
    };
    let revisions = history.revisions();
    let position = |version: &str| {
        let key = version_key(version);
        revisions.iter().position(|rev| original(rev).as_deref() == Some(key.as_str()))
    };
    let missing: Vec<String> = peer.applied.iter().filter(|v| position(v).is_none()).cloned().collect();
    if !missing.is_empty() {
        return Err(AdoptError::NotImported { tool, versions: missing });
    }
    if tool == Tool::Alembic {
        // The heads: they and everything they need are applied.
        let heads: Vec<usize> = peer.applied.iter().map(|v| position(v).expect("checked above")).collect();
        let applied = history.ancestors(&heads);
        return Ok(revisions.iter().zip(applied).filter(|(_, a)| *a).map(|(rev, _)| rev.id.clone()).collect());
    }
    let mut mask = vec![false; revisions.len()];
    for version in &peer.applied {
        let at = position(version).expect("checked above");
        if tool == Tool::GolangMigrate {
            // One row: everything up to it is applied.
            mask[..=at].iter_mut().for_each(|m| *m = true);
        } else {
            mask[at] = true;
        }
    }
    let count = mask.iter().filter(|m| **m).count();
    if let Some(hole) = mask[..count].iter().position(|m| !m) {
        let rev = &revisions[hole];
        let what = match &rev.imported_from {
            Some(from) => format!("imported from {from}"),
            None => "not imported".to_owned(),
        };
        return Err(AdoptError::Gap { tool, id: rev.id.clone(), what });
    }
    Ok(revisions[..count].iter().map(|rev| rev.id.clone()).collect())
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use migrate_history::import::{Tool, import};
    use migrate_history::load::Sources;
    use migrate_history::{Options, SourceFile};

    use super::*;

    /// The history imported from `files` of `tool`.
    fn history(tool: Tool, files: &[&str]) -> History {
        let files: Vec<(String, String)> = files.iter().map(|f| ((*f).to_owned(), "SELECT 1;\n".to_owned())).collect();
        let imported = import(tool, &files).expect("imports");
        let revisions = imported.render().into_iter().map(|(name, text)| SourceFile::new(name, text)).collect();
        let analysis = migrate_history::analyze(Sources { revisions, ..Sources::default() }, Options::default());
        analysis.history
    }

    fn db(sql: &str) -> rusqlite::Connection {
        let mut db = rusqlite::Connection::open_in_memory().expect("in memory");
        Database::execute_batch(&mut db, sql).expect("table written");
        db
    }

    fn adopt(tool: Tool, files: &[&str], sql: &str) -> Result<Vec<String>, AdoptError> {
        let history = history(tool, files);
        let peer = read_peer(&mut db(sql), tool)?;
        map_applied(&history, &peer)
    }

    const SQLX: [&str; 3] = ["20240101120000_a.up.sql", "20240102120000_b.up.sql", "20240103120000_c.up.sql"];
    const SQLX_TABLE: &str = "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT, \
        installed_on TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB, execution_time BIGINT);";

    #[test]
    fn sqlx_rows_map_to_the_first_revisions() {
        let sql = format!(
            "{SQLX_TABLE} INSERT INTO _sqlx_migrations (version, success) VALUES (20240101120000, true), (20240102120000, true);"
        );
        assert_eq!(adopt(Tool::Sqlx, &SQLX, &sql).unwrap(), ["20240101120000", "20240102120000"]);
    }

    #[test]
    fn a_failed_sqlx_row_is_refused() {
        let sql = format!(
            "{SQLX_TABLE} INSERT INTO _sqlx_migrations (version, success) VALUES (20240101120000, true), (20240102120000, false);"
        );
        let error = adopt(Tool::Sqlx, &SQLX, &sql).unwrap_err();
        assert!(matches!(error, AdoptError::Failed { how: "failed", .. }), "{error}");
        assert_eq!(
            error.to_string(),
            "sqlx records version 20240102120000 as failed in _sqlx_migrations; settle it with sqlx first"
        );
    }

    #[test]
    fn a_version_the_import_lacks_is_refused() {
        let sql = format!(
            "{SQLX_TABLE} INSERT INTO _sqlx_migrations (version, success) VALUES (20240101120000, true), (20240109000000, true);"
        );
        let error = adopt(Tool::Sqlx, &SQLX, &sql).unwrap_err();
        assert_eq!(error.to_string(), "sqlx records a version applied that the imported history lacks: 20240109000000");
    }

    #[test]
    fn a_gap_is_refused() {
        let sql = format!(
            "{SQLX_TABLE} INSERT INTO _sqlx_migrations (version, success) VALUES (20240101120000, true), (20240103120000, true);"
        );
        let error = adopt(Tool::Sqlx, &SQLX, &sql).unwrap_err();
        assert!(matches!(&error, AdoptError::Gap { id, .. } if id == "20240102120000"), "{error}");
    }

    const GOLANG: [&str; 3] = ["000001_a.up.sql", "000002_b.up.sql", "000010_c.up.sql"];
    const GOLANG_TABLE: &str =
        "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL);";

    #[test]
    fn golang_migrate_one_row_means_everything_up_to_it() {
        let sql = format!("{GOLANG_TABLE} INSERT INTO schema_migrations VALUES (2, false);");
        let ids = adopt(Tool::GolangMigrate, &GOLANG, &sql).unwrap();
        assert_eq!(ids.len(), 2);
        let sql = format!("{GOLANG_TABLE} INSERT INTO schema_migrations VALUES (10, false);");
        assert_eq!(adopt(Tool::GolangMigrate, &GOLANG, &sql).unwrap().len(), 3);
        assert_eq!(adopt(Tool::GolangMigrate, &GOLANG, GOLANG_TABLE).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_dirty_golang_migrate_table_is_refused() {
        let sql = format!("{GOLANG_TABLE} INSERT INTO schema_migrations VALUES (2, true);");
        let error = adopt(Tool::GolangMigrate, &GOLANG, &sql).unwrap_err();
        assert!(matches!(error, AdoptError::Failed { how: "dirty", .. }), "{error}");
    }

    #[test]
    fn dbmate_versions_are_text() {
        let files = ["20240101120000_a.sql", "20240102120000_b.sql"];
        let files_text = "-- migrate:up\nSELECT 1;\n";
        let files: Vec<(String, String)> = files.iter().map(|f| ((*f).to_owned(), files_text.to_owned())).collect();
        let imported = import(Tool::Dbmate, &files).expect("imports");
        let revisions = imported.render().into_iter().map(|(name, text)| SourceFile::new(name, text)).collect();
        let history = migrate_history::analyze(Sources { revisions, ..Sources::default() }, Options::default()).history;
        let mut db = db("CREATE TABLE schema_migrations (version VARCHAR(128) PRIMARY KEY);
            INSERT INTO schema_migrations VALUES ('20240101120000');");
        let peer = read_peer(&mut db, Tool::Dbmate).unwrap();
        assert_eq!(map_applied(&history, &peer).unwrap().len(), 1);
    }

    #[test]
    fn goose_latest_row_of_a_version_wins() {
        let files = ["00001_a.sql", "00002_b.sql"];
        let text = "-- +goose Up\nSELECT 1;\n";
        let files: Vec<(String, String)> = files.iter().map(|f| ((*f).to_owned(), text.to_owned())).collect();
        let imported = import(Tool::Goose, &files).expect("imports");
        let revisions = imported.render().into_iter().map(|(name, text)| SourceFile::new(name, text)).collect();
        let history = migrate_history::analyze(Sources { revisions, ..Sources::default() }, Options::default()).history;
        let mut db = db("CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY, version_id BIGINT NOT NULL, is_applied BOOLEAN NOT NULL);
            INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (2, false);");
        let peer = read_peer(&mut db, Tool::Goose).unwrap();
        assert_eq!(peer.applied, ["1"]);
        assert_eq!(map_applied(&history, &peer).unwrap().len(), 1);
    }

    #[test]
    fn diesel_versions_lose_their_dashes_and_flyway_underscores_are_dots() {
        assert_eq!(version_key("2024-01-02-120000"), version_key("20240102120000"));
        assert_eq!(version_key("1_1"), version_key("1.1"));
        assert_eq!(version_key("000001"), version_key("1"));
        assert_ne!(version_key("1.1"), version_key("1.10"));
    }

    #[test]
    fn a_missing_table_is_named() {
        let error = read_peer(&mut db("SELECT 1;"), Tool::Refinery).unwrap_err();
        assert_eq!(error.to_string(), "this database has no refinery_schema_history table: refinery has not run here");
    }
}
