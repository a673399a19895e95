//! Baselines: the schema (and the rows) a stretch of history builds,
//! written as one revision, and the proof that a baseline builds exactly
//! that. What `cargo migrate squash` and the baseline half of `cargo
//! migrate check` do, as calls.
//!
//! The revisions a baseline replaces are replayed on a scratch database
//! of a [`Workbench`] (in-memory SQLite, or a temporary PostgreSQL
//! database dropped afterwards), the schema is read as autogenerate reads
//! it and written as the `CREATE` statements autogenerate writes from an
//! empty schema; the rows the revisions left in any table (the version
//! table aside) follow as `INSERT`s, tables in foreign-key order, rows
//! sorted, so the same history always gives the same text. Generated ids
//! go on where the revisions left them: PostgreSQL's sequences,
//! MariaDB's `AUTO_INCREMENT` counters and SQLite's `sqlite_sequence` rows
//! are read from the replay and set as they were.
//!
//! ```
//! use migrate_history::{Options, SourceFile, load::Sources};
//! use migrate_runtime::{DatabaseUrl, Migrator, workbench::Workbench};
//!
//! let file = |id: &str, parents: &str, up: &str| {
//!     let text = format!("-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n\n-- migrate:up\n{up}\n");
//!     SourceFile::new(format!("migrations/{id}.sql"), text)
//! };
//! let sources = Sources {
//!     revisions: vec![
//!         file("a", "", "CREATE TABLE kinds (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"),
//!         file("b", "a", "INSERT INTO kinds (name) VALUES ('admin'), ('o''brien');"),
//!     ],
//!     ..Sources::default()
//! };
//! let migrator = Migrator::new(migrate_history::analyze(sources, Options::default()).history);
//! let bench = Workbench::new(&DatabaseUrl::parse("sqlite::memory:")?);
//!
//! let baseline = bench.baseline(&migrator, "b")?;
//! assert!(baseline.up.contains("CREATE TABLE \"kinds\""));
//! assert!(baseline.up.contains("INSERT INTO \"kinds\" (\"id\", \"name\") VALUES (2, 'o''brien');"));
//! assert_eq!(baseline.rows, [("kinds".to_owned(), 2)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use migrate_history::{Dialect, History, Target};

use crate::schema::{Change, Filled, RenderOptions, Schema, Table, diff, quote, read_scratch, render_with};
use crate::workbench::{Workbench, WorkbenchError};
use crate::{Database, DbError, Migrator};

/// The body of a baseline revision: what [`Workbench::baseline`] renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// The up section: the schema's `CREATE` statements, then the rows.
    pub up: String,
    /// The tables whose rows were kept, with how many rows each, by name.
    pub rows: Vec<(String, usize)>,
    /// What the schema has that the baseline does not write, for a person
    /// to add by hand: what autogenerate cannot write (also a `-- WARNING`
    /// in the up section).
    pub unwritten: Vec<String>,
}

/// How a baseline differs from the revisions it replaces: the result of
/// [`Workbench::prove_baseline`]. Empty when they build the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaselineProof {
    /// What turns the replayed revisions' schema into the baseline's.
    pub changes: Vec<Change>,
    /// Tables whose rows differ: (table, how many rows the replayed
    /// revisions left, how many the baseline left).
    pub rows: Vec<(String, usize, usize)>,
}

impl BaselineProof {
    /// Whether the baseline builds exactly what the revisions it replaces build.
    pub fn holds(&self) -> bool {
        self.changes.is_empty() && self.rows.is_empty()
    }
}

impl Workbench {
    /// The up section of a baseline standing for `upto` and everything it
    /// needs: the history replayed up to `upto` on a scratch database, its
    /// schema written as `CREATE` statements, and the rows left in its
    /// tables as `INSERT`s.
    pub fn baseline(&self, migrator: &Migrator, upto: &str) -> Result<Baseline, WorkbenchError> {
        let mut scratch = self.replay(migrator, &[upto.to_owned()])?;
        let exclude = migrator.table(self.dialect()).name;
        let written: String = migrator.history().revisions().iter().map(|r| format!("{}\n;\n", r.up_sql())).collect();
        let (schema, sources) = read_scratch(scratch.database(), &exclude, self.extra_schemas(), &written)
            .map_err(|source| WorkbenchError::Introspect { what: "the replayed revisions".into(), source })?;
        let empty = Schema::default();
        let mut changes = diff(&empty, &schema);
        sources.apply(&mut changes);
        let mut up = render_with(&changes, &empty, &schema, self.dialect(), &RenderOptions::default());
        let unwritten: Vec<String> = changes
            .iter()
            .filter_map(|change| match change {
                Change::Unmodelled { object, .. } => Some(object.clone()),
                _ => None,
            })
            .collect();
        let in_rows = |source| WorkbenchError::Introspect { what: "the rows of the replayed revisions".into(), source };
        let rows = rows_of(scratch.database(), &schema).map_err(in_rows)?;
        let (_, counters) = id_counters(scratch.database(), &schema).map_err(in_rows)?;
        for (comment, sql) in [
            ("Rows the replaced revisions inserted.", rows.iter().map(|(_, inserts, _)| inserts.as_str()).collect()),
            ("Where generated ids go on from, as after the replaced revisions.", counters),
        ] {
            if sql.is_empty() {
                continue;
            }
            if !up.is_empty() && !up.ends_with('\n') {
                up.push('\n');
            }
            up.push_str(&format!("\n-- {comment}\n{sql}"));
        }
        Ok(Baseline { up, rows: rows.into_iter().map(|(table, _, count)| (table, count)).collect(), unwritten })
    }

    /// Proves that the baseline `baseline` of `migrator`'s history builds
    /// what the revisions it replaces build: they are replayed one by one
    /// on one scratch database (the history without the baseline), the
    /// baseline applied alone on another, and the schemas and rows compared.
    pub fn prove_baseline(&self, migrator: &Migrator, baseline: &str) -> Result<BaselineProof, WorkbenchError> {
        let history = migrator.history();
        let Some(b) = history.index_of(baseline).filter(|&b| history.is_baseline(b)) else {
            return Ok(BaselineProof::default());
        };
        let tip = history.revision(history.baseline_tip(b).unwrap_or(b)).id.clone();
        let without: Vec<_> = history.revisions().iter().filter(|r| r.id != baseline).cloned().collect();
        let replayed = migrator.with_history(History::build(without).0);
        let exclude = migrator.table(self.dialect()).name;
        let read = |db: &mut dyn Database, what: &str| {
            let schema = self.read_raw(db, &exclude)?;
            let in_rows = |source| WorkbenchError::Introspect { what: format!("the rows of {what}"), source };
            let mut rows = rows_of(db, &schema).map_err(in_rows)?;
            let (counted_as, counters) = id_counters(db, &schema).map_err(in_rows)?;
            if !counters.is_empty() {
                let count = counters.lines().filter(|l| !l.starts_with("DELETE")).count();
                rows.push((counted_as.to_owned(), counters, count));
            }
            Ok::<_, WorkbenchError>((schema, rows))
        };
        let mut old = self.replay(&replayed, &[tip])?;
        let (mut old_schema, old_rows) = read(old.database(), "the replaced revisions")?;
        let mut new = self.scratch("baseline")?;
        migrator
            .run_to(new.database(), &Target::Revision(baseline.to_owned()))
            .map_err(|e| WorkbenchError::Replay(Box::new(e)))?;
        let (mut new_schema, new_rows) = read(new.database(), "the baseline")?;
        let mut changes = diff(&old_schema, &new_schema);
        if !changes.is_empty() {
            // Compared as printed first; settled only where they differ (as `verify` does).
            let settle = |db: &mut dyn Database, schema: &mut Schema| {
                crate::schema::settle(db, schema)
                    .map_err(|source| WorkbenchError::Introspect { what: "a scratch database".into(), source })
            };
            settle(old.database(), &mut old_schema)?;
            settle(new.database(), &mut new_schema)?;
            changes = diff(&old_schema, &new_schema);
        }
        let mut tables: Vec<&String> = old_rows.iter().chain(&new_rows).map(|(t, _, _)| t).collect();
        tables.sort();
        tables.dedup();
        let of = |rows: &[(String, String, usize)], table: &str| {
            rows.iter().find(|(t, _, _)| t == table).map(|(_, sql, n)| (sql.clone(), *n)).unwrap_or_default()
        };
        let rows = tables
            .into_iter()
            .filter(|t| of(&old_rows, t).0 != of(&new_rows, t).0)
            .map(|t| (t.clone(), of(&old_rows, t).1, of(&new_rows, t).1))
            .collect();
        Ok(BaselineProof { changes, rows })
    }
}

/// Every table of `schema` that holds rows, in foreign-key order (a table
/// after those it points at, else by name), with its rows as `INSERT`
/// statements, one a line, sorted ([`id_counters`] sets where generated
/// ids go on from).
fn rows_of(db: &mut dyn Database, schema: &Schema) -> Result<Vec<(String, String, usize)>, DbError> {
    let dialect = db.dialect();
    let mut out = Vec::new();
    for table in foreign_key_order(schema) {
        let columns: Vec<&str> = table
            .columns
            .iter()
            .filter(|c| !matches!(c.filled, Some(Filled::Stored(_) | Filled::Virtual(_))))
            .map(|c| c.name.as_str())
            .collect();
        if columns.is_empty() {
            continue;
        }
        let name = name_in(dialect, &table.name);
        let literal = |c: &str| match dialect {
            Dialect::Sqlite => format!("quote({})", name_in(dialect, c)),
            Dialect::Mysql => format!("QUOTE({})", name_in(dialect, c)),
            _ => format!("quote_nullable({}::text)", name_in(dialect, c)),
        };
        let literals: Vec<String> = columns.iter().map(|c| literal(c)).collect();
        let order: Vec<String> = match dialect {
            Dialect::Postgres => literals.iter().map(|l| format!("{l} COLLATE \"C\"")).collect(),
            _ => columns.iter().map(|c| name_in(dialect, c)).collect(),
        };
        let select = format!("SELECT {} FROM {name} ORDER BY {}", literals.join(", "), order.join(", "));
        let rows = db.query_text(&select)?;
        if rows.is_empty() {
            continue;
        }
        let list = columns.iter().map(|c| name_in(dialect, c)).collect::<Vec<_>>().join(", ");
        let overriding =
            if dialect == Dialect::Postgres && table.columns.iter().any(|c| c.filled == Some(Filled::IdentityAlways)) {
                " OVERRIDING SYSTEM VALUE"
            } else {
                ""
            };
        let mut sql = String::new();
        let count = rows.len();
        for row in rows {
            let values: Vec<String> = row.into_iter().map(|v| v.unwrap_or_else(|| "NULL".to_owned())).collect();
            sql.push_str(&format!("INSERT INTO {name} ({list}){overriding} VALUES ({});\n", values.join(", ")));
        }
        out.push((table.name.clone(), sql, count));
    }
    Ok(out)
}

/// Where the ids a database generates go on from, as statements that set
/// them so (with what they are called in a proof's table list): deleted
/// rows leave them past the largest id kept, and rows inserted with their
/// ids do not move them, so they are read, not derived from the rows.
/// - SQLite: each `AUTOINCREMENT` table's row of `sqlite_sequence`, written
///   again (replacing the one the `INSERT`s of its rows left).
/// - PostgreSQL: each serial or identity column's sequence that was used,
///   by `setval` to its last value.
/// - MariaDB/MySQL: each `AUTO_INCREMENT` table's next value, by `ALTER TABLE`.
fn id_counters(db: &mut dyn Database, schema: &Schema) -> Result<(&'static str, String), DbError> {
    match db.dialect() {
        Dialect::Sqlite => Ok(("sqlite_sequence", sqlite_sequences(db, schema)?)),
        Dialect::Postgres => Ok(("sequences", postgres_sequences(db, schema)?)),
        Dialect::Mysql => Ok(("AUTO_INCREMENT", mysql_auto_increments(db, schema)?)),
        _ => Ok(("", String::new())),
    }
}

/// PostgreSQL: `setval` for each serial or identity column whose sequence
/// was used, tables in name order.
fn postgres_sequences(db: &mut dyn Database, schema: &Schema) -> Result<String, DbError> {
    let mut sql = String::new();
    for table in schema.tables.values() {
        let name = name_in(Dialect::Postgres, &table.name).replace('\'', "''");
        for column in table
            .columns
            .iter()
            .filter(|c| matches!(c.filled, Some(Filled::Serial | Filled::IdentityAlways | Filled::IdentityByDefault)))
        {
            let column_name = column.name.replace('\'', "''");
            let sequence = format!("pg_get_serial_sequence('{name}', '{column_name}')");
            let found = db.query_text(&format!("SELECT {sequence}"))?;
            let Some(Some(qualified)) = found.into_iter().next().and_then(|row| row.into_iter().next()) else {
                continue;
            };
            let state = db.query_text(&format!("SELECT last_value, is_called FROM {qualified}"))?;
            if let Some([Some(last), Some(called)]) = state.into_iter().next().as_deref()
                && called == "t"
            {
                sql.push_str(&format!("SELECT setval({sequence}, {last});\n"));
            }
        }
    }
    Ok(sql)
}

/// MariaDB/MySQL: `ALTER TABLE ... AUTO_INCREMENT` for each table with an
/// `AUTO_INCREMENT` column that has given ids, tables in name order.
fn mysql_auto_increments(db: &mut dyn Database, schema: &Schema) -> Result<String, DbError> {
    // Every table's counter in one query, as introspection reads tables.
    let counters = db.query_text(
        "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT > 1 ORDER BY TABLE_NAME",
    )?;
    let mut sql = String::new();
    for row in counters {
        let (Some(name), Some(next)) = (row.first().cloned().flatten(), row.get(1).cloned().flatten()) else {
            continue;
        };
        let counted = schema
            .tables
            .get(&name)
            .is_some_and(|table| table.columns.iter().any(|c| c.filled == Some(Filled::IdentityByDefault)));
        if counted {
            sql.push_str(&format!("ALTER TABLE {} AUTO_INCREMENT = {next};\n", name_in(Dialect::Mysql, &name)));
        }
    }
    Ok(sql)
}

/// SQLite: for each table of `schema` declared `AUTOINCREMENT` that has
/// given ids, its row of `sqlite_sequence` (the largest id given, which
/// deleted rows leave above the largest id kept) written again, replacing
/// the one the `INSERT`s of its rows left.
fn sqlite_sequences(db: &mut dyn Database, schema: &Schema) -> Result<String, DbError> {
    let autoincrement = |t: &Table| t.columns.iter().any(|c| c.filled == Some(Filled::Autoincrement));
    if !schema.tables.values().any(autoincrement) {
        return Ok(String::new());
    }
    let mut sql = String::new();
    for row in db.query_text("SELECT name, quote(seq) FROM sqlite_sequence ORDER BY name")? {
        let (Some(name), Some(seq)) = (row.first().cloned().flatten(), row.get(1).cloned().flatten()) else {
            continue;
        };
        if !schema.tables.get(&name).is_some_and(autoincrement) {
            continue;
        }
        let name = format!("'{}'", name.replace('\'', "''"));
        sql.push_str(&format!(
            "DELETE FROM sqlite_sequence WHERE name = {name};\nINSERT INTO sqlite_sequence (name, seq) VALUES ({name}, {seq});\n"
        ));
    }
    Ok(sql)
}

/// A table or column name as `dialect` quotes it.
fn name_in(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Mysql => crate::schema::backquote(name),
        _ => quote(name),
    }
}

/// The tables (partitions aside: their rows are read through their
/// parent) with each after the tables its foreign keys point at, names
/// deciding between tables free to come next; a cycle of keys is broken
/// by name order.
fn foreign_key_order(schema: &Schema) -> Vec<&Table> {
    let mut left: Vec<&Table> = schema.tables.values().filter(|t| t.partition_of.is_none()).collect();
    let mut order = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let waits = |t: &Table, left: &[&Table]| {
            t.foreign_keys
                .iter()
                .any(|fk| fk.referenced_table != t.name && left.iter().any(|o| o.name == fk.referenced_table))
        };
        let next = left.iter().position(|t| !waits(t, &left)).unwrap_or(0);
        order.push(left.remove(next));
    }
    order
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use migrate_history::{Options, SourceFile, load::Sources};

    use super::*;
    use crate::DatabaseUrl;

    fn file(id: &str, parents: &str, extra: &str, up: &str) -> SourceFile {
        let text =
            format!("-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n{extra}\n-- migrate:up\n{up}\n");
        SourceFile::new(format!("migrations/{id}.sql"), text)
    }

    fn migrator(files: Vec<SourceFile>) -> Migrator {
        Migrator::new(
            migrate_history::analyze(Sources { revisions: files, ..Sources::default() }, Options::default()).history,
        )
    }

    fn replaced() -> Vec<SourceFile> {
        vec![
            file("a", "", "", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);"),
            file(
                "b",
                "a",
                "",
                "CREATE INDEX users_email ON users (email);\nINSERT INTO users (email) VALUES ('root@example.com');",
            ),
        ]
    }

    #[test]
    fn a_baseline_builds_what_it_replaces_and_an_edited_one_does_not() {
        let bench = Workbench::new(&DatabaseUrl::parse("sqlite::memory:").expect("url"));
        let baseline = bench.baseline(&migrator(replaced()), "b").expect("baseline");
        assert_eq!(baseline.rows, [("users".to_owned(), 1)]);
        let mut files = replaced();
        files.push(file("z", "", "-- replaces: a, b\n", &baseline.up));
        let proof = bench.prove_baseline(&migrator(files), "z").expect("proof");
        assert!(proof.holds(), "{proof:?}");

        let edited = baseline.up.replace("CREATE INDEX", "-- CREATE INDEX").replace("root@", "admin@");
        let mut files = replaced();
        files.push(file("z", "", "-- replaces: a, b\n", &edited));
        let proof = bench.prove_baseline(&migrator(files), "z").expect("proof");
        let changes: Vec<String> = proof.changes.iter().map(ToString::to_string).collect();
        assert_eq!(changes, ["index users_email on users removed"]);
        assert_eq!(proof.rows, [("users".to_owned(), 1, 1)]);
    }
}
