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
    pub tables: BTreeMap<String, Table>,
    /// PostgreSQL enum types and their labels, in order.
    pub enums: BTreeMap<String, Vec<String>>,
}

/// One table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// In declaration order.
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    /// The primary key constraint's name, where the database has one.
    pub primary_key_name: Option<String>,
    pub uniques: Vec<Unique>,
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
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
    pub name: String,
    /// The type as the database reports it, normalised to lowercase.
    pub data_type: String,
    pub nullable: bool,
    /// The default expression as the database reports it.
    pub default: Option<String>,
    /// Filled by the database: identity, serial or SQLite's rowid alias.
    pub generated: bool,
}

/// A unique constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unique {
    pub name: Option<String>,
    pub columns: Vec<String>,
}

/// An index that is not the implementation of a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    pub name: String,
    /// Column names, or expressions as the database prints them.
    pub columns: Vec<String>,
    pub unique: bool,
    /// The `WHERE` of a partial index.
    pub predicate: Option<String>,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignKey {
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub referenced_table: String,
    pub referenced_columns: Vec<String>,
    /// `NO ACTION`, `CASCADE`, `SET NULL`, `SET DEFAULT` or `RESTRICT`.
    pub on_delete: String,
    pub on_update: String,
}

/// A check constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Check {
    pub name: Option<String>,
    pub expression: String,
}

/// A generated revision body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Turns the current schema into the target.
    pub up: String,
    /// Turns it back.
    pub down: String,
    pub changes: Vec<Change>,
}

/// The up and down SQL between two schemas, or `None` when they are the same.
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
