//! A database schema as the autogenerator compares it: tables with their
//! columns, keys, indexes, foreign keys and checks, and PostgreSQL enums.
//! Introspected from a live database ([`introspect`]) and compared with
//! [`diff`], which lists the changes that turn one schema into another.

mod diff;
#[cfg(feature = "postgres")]
mod postgres;
mod render;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::collections::BTreeMap;

pub use diff::{Change, diff};
pub use render::render;

use crate::{Database, DbError, Dialect};

/// Every table and enum of a schema, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// Its tables, by name.
    pub tables: BTreeMap<String, Table>,
    /// PostgreSQL enum types and their labels, in order.
    pub enums: BTreeMap<String, Vec<String>>,
}

/// One table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// The table's name.
    pub name: String,
    /// In declaration order.
    pub columns: Vec<Column>,
    /// The primary key's columns, in key order; empty when it has none.
    pub primary_key: Vec<String>,
    /// The primary key constraint's name, where the database has one.
    pub primary_key_name: Option<String>,
    /// Its unique constraints.
    pub uniques: Vec<Unique>,
    /// Its indexes, other than those behind the primary key and unique
    /// constraints.
    pub indexes: Vec<Index>,
    /// The foreign keys it holds (those pointing from it at other tables).
    pub foreign_keys: Vec<ForeignKey>,
    /// Its check constraints.
    pub checks: Vec<Check>,
}

impl Table {
    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name.
    pub name: String,
    /// The type as the database reports it, normalised to lowercase.
    pub data_type: String,
    /// Whether it accepts NULL: false for `NOT NULL` and primary key columns.
    pub nullable: bool,
    /// The default expression as the database reports it.
    pub default: Option<String>,
    /// Filled by the database: identity, serial or SQLite's rowid alias.
    pub generated: bool,
}

/// A unique constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unique {
    /// The constraint's name; `None` on SQLite, which reports none.
    pub name: Option<String>,
    /// The columns whose values together are unique, in order.
    pub columns: Vec<String>,
}

/// An index that is not the implementation of a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    /// The index's name.
    pub name: String,
    /// Column names, or expressions as the database prints them.
    pub columns: Vec<String>,
    /// Whether it is a `UNIQUE` index.
    pub unique: bool,
    /// The `WHERE` of a partial index.
    pub predicate: Option<String>,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignKey {
    /// The constraint's name; `None` on SQLite, which reports none.
    pub name: Option<String>,
    /// The columns of the table that holds the key, in order.
    pub columns: Vec<String>,
    /// The table the key points at.
    pub referenced_table: String,
    /// The columns it points at, matching `columns` one for one.
    pub referenced_columns: Vec<String>,
    /// The `ON DELETE` action: `NO ACTION`, `CASCADE`, `SET NULL`,
    /// `SET DEFAULT` or `RESTRICT`.
    pub on_delete: String,
    /// The `ON UPDATE` action, spelled as `on_delete` is.
    pub on_update: String,
}

/// A check constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Check {
    /// The constraint's name, when the database has one (on SQLite, only
    /// for `CONSTRAINT name CHECK (...)`).
    pub name: Option<String>,
    /// The condition inside `CHECK (...)`, as the database prints it.
    pub expression: String,
}

/// A generated revision body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Turns the current schema into the target.
    pub up: String,
    /// Turns it back.
    pub down: String,
    /// The changes `up` makes, in its order.
    pub changes: Vec<Change>,
}

/// The up and down SQL between two schemas, or `None` when they are the same.
///
/// ```
/// use migrate_runtime::Dialect;
/// use migrate_runtime::schema::{generate, introspect};
///
/// let mut current = rusqlite::Connection::open_in_memory()?;
/// current.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY);")?;
/// let mut target = rusqlite::Connection::open_in_memory()?;
/// target.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);")?;
/// let (from, to) = (introspect(&mut current, "migrate_versions")?, introspect(&mut target, "migrate_versions")?);
///
/// let generated = generate(&from, &to, Dialect::Sqlite).expect("the schemas differ");
/// assert_eq!(generated.changes.len(), 1);
/// current.execute_batch(&generated.up)?;
/// assert_eq!(introspect(&mut current, "migrate_versions")?, to);
/// current.execute_batch(&generated.down)?;
/// assert_eq!(introspect(&mut current, "migrate_versions")?, from);
/// assert!(generate(&to, &to, Dialect::Sqlite).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn generate(current: &Schema, target: &Schema, dialect: Dialect) -> Option<Generated> {
    let changes = diff(current, target);
    if changes.is_empty() {
        return None;
    }
    let back = diff(target, current);
    Some(Generated {
        up: render(&changes, current, target, dialect),
        down: render(&back, target, current, dialect),
        changes,
    })
}

/// Reads the schema of a database, leaving out the version table `exclude`.
///
/// ```
/// use migrate_runtime::schema::introspect;
///
/// let mut db = rusqlite::Connection::open_in_memory()?;
/// db.execute_batch(
///     "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
///      CREATE INDEX users_email ON users (email) WHERE email <> '';
///      CREATE TABLE migrate_versions (revision TEXT);",
/// )?;
/// let schema = introspect(&mut db, "migrate_versions")?;
/// assert_eq!(schema.tables.keys().collect::<Vec<_>>(), ["users"]);
/// let users = &schema.tables["users"];
/// assert_eq!(users.primary_key, ["id"]);
/// assert!(users.column("id").is_some_and(|id| id.generated), "the rowid alias");
/// assert!(users.column("email").is_some_and(|email| email.data_type == "text" && !email.nullable));
/// assert_eq!(users.uniques[0].columns, ["email"]);
/// assert_eq!(users.indexes[0].predicate.as_deref(), Some("email <> ''"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn introspect(db: &mut dyn Database, exclude: &str) -> Result<Schema, DbError> {
    match db.dialect() {
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => sqlite::introspect(db, exclude),
        #[cfg(feature = "postgres")]
        Dialect::Postgres => postgres::introspect(db, exclude),
        #[allow(unreachable_patterns)]
        other => Err(DbError::new(format!("this build cannot introspect {}", other.name()))),
    }
}

/// Normalises what databases print for the same thing differently.
pub(crate) fn normalise_action(action: &str) -> String {
    match action.trim().to_ascii_uppercase().as_str() {
        "" | "NO ACTION" | "A" => "NO ACTION".into(),
        "CASCADE" | "C" => "CASCADE".into(),
        "SET NULL" | "N" => "SET NULL".into(),
        "SET DEFAULT" | "D" => "SET DEFAULT".into(),
        "RESTRICT" | "R" => "RESTRICT".into(),
        other => other.to_owned(),
    }
}
