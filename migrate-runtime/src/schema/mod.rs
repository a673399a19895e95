//! A database schema as the autogenerator compares it: tables with their
//! columns, keys, indexes, foreign keys and checks, PostgreSQL enums and
//! extensions, and every other object (views, functions, triggers, domains,
//! sequences, comments, grants, policies) by its whole definition as the
//! server prints it. Introspected from a live SQLite, PostgreSQL or
//! MariaDB/MySQL database ([`introspect`]) and compared with [`diff`], which
//! lists the changes that turn one schema into another.

mod diff;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
mod render;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::collections::{BTreeMap, BTreeSet};

pub use diff::{Change, Why, diff};
pub use render::{RenderOptions, render, render_with};

use crate::{Database, DbError, Dialect};

/// Every table, type and other object of a schema, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// Its tables, by name.
    pub tables: BTreeMap<String, Table>,
    /// PostgreSQL enum types and their labels, in order.
    pub enums: BTreeMap<String, Vec<String>>,
    /// PostgreSQL extensions (`plpgsql`, always there, left out).
    pub extensions: BTreeSet<String>,
    /// Views, functions, triggers, domains, sequences, comments, grants,
    /// policies, ...: compared and written by their whole definition, keyed
    /// by [`Object::key`].
    pub objects: BTreeMap<String, Object>,
    /// Objects the schema has that autogenerate cannot write (aggregates,
    /// operators, casts, rules, ...), as `kind name`: compared by name only,
    /// so that a difference is reported instead of passing unseen.
    pub unmodelled: BTreeSet<String>,
}

/// What kind of thing an [`Object`] is; the order is the order of creation
/// among objects that do not depend on one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A schema other than the default one (`schemas` in the configuration).
    Schema,
    /// A sequence that no column owns (`serial` ones belong to their column).
    Sequence,
    /// `CREATE DOMAIN`.
    Domain,
    /// `CREATE TYPE name AS (...)`.
    CompositeType,
    /// `CREATE FUNCTION`.
    Function,
    /// `CREATE PROCEDURE`.
    Procedure,
    /// `CREATE VIEW`.
    View,
    /// `CREATE MATERIALIZED VIEW`.
    MaterializedView,
    /// An index on a materialized view (those on tables are [`Index`]es).
    Index,
    /// `CREATE TRIGGER`.
    Trigger,
    /// `ALTER TABLE ... ENABLE ROW LEVEL SECURITY`.
    RowSecurity,
    /// `CREATE POLICY`.
    Policy,
    /// `COMMENT ON`.
    Comment,
    /// `GRANT` (and `REVOKE` of what the database grants by default).
    Grant,
}

impl ObjectKind {
    /// The kind in words, as in `view active_users`.
    pub fn word(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Domain => "domain",
            ObjectKind::CompositeType => "type",
            ObjectKind::Function => "function",
            ObjectKind::Procedure => "procedure",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Index => "index",
            ObjectKind::Trigger => "trigger",
            ObjectKind::RowSecurity => "row level security",
            ObjectKind::Policy => "policy",
            ObjectKind::Comment => "comment",
            ObjectKind::Grant => "grant",
        }
    }

    /// Whether it can be replaced in place by its new definition
    /// (`CREATE OR REPLACE FUNCTION`, `COMMENT ON`), keeping what depends on it.
    fn replaced_in_place(self) -> bool {
        matches!(self, ObjectKind::Function | ObjectKind::Procedure | ObjectKind::Comment)
    }

    /// Whether it must be dropped before a column it uses changes type or
    /// goes, and created again after: PostgreSQL refuses to change a column
    /// a view, a trigger's `WHEN`/`UPDATE OF` or a policy uses.
    fn follows_columns(self) -> bool {
        matches!(self, ObjectKind::View | ObjectKind::MaterializedView | ObjectKind::Trigger | ObjectKind::Policy)
    }
}

/// A schema object compared by its whole definition: two are the same when
/// the server prints the same SQL for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// What it is.
    pub kind: ObjectKind,
    /// Its name within its kind: `active_users`, `touch()`,
    /// `touch_users on users`, `COLUMN users.email`.
    pub name: String,
    /// The SQL that creates it, ending with `;`.
    pub definition: String,
    /// The SQL that removes it, ending with `;`.
    pub drop: String,
    /// The keys of what it needs: other objects' ([`Object::key`]) and
    /// tables' (`table users`).
    pub depends_on: BTreeSet<String>,
}

impl Object {
    /// `kind name`, unique in a schema: `view active_users`.
    pub fn key(&self) -> String {
        format!("{} {}", self.kind.word(), self.name)
    }
}

/// A name as SQL: quoted, unless it is already a qualified name (the form
/// names in schemas other than the default one have, `"billing"."invoices"`,
/// see [`qualified`]).
pub(crate) fn quote(name: &str) -> String {
    if split_qualified(name).0.is_some() { name.to_owned() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

/// A name as MySQL SQL: in backticks, a backtick doubled.
pub(crate) fn backquote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The name of `local` in the schema `namespace` other than the default
/// one, as the model writes it: `"billing"."invoices"`, quoted already.
pub fn qualified(namespace: &str, local: &str) -> String {
    format!("\"{}\".\"{}\"", namespace.replace('"', "\"\""), local.replace('"', "\"\""))
}

/// `"billing"."invoices"` -> (`Some("billing")`, `invoices`); a name of the
/// default schema -> (`None`, the name).
pub fn split_qualified(name: &str) -> (Option<String>, String) {
    let unquote = |part: &str| part.replace("\"\"", "\"");
    let Some(rest) = name.strip_prefix('"') else { return (None, name.to_owned()) };
    // The namespace's closing quote is the first `"` not doubled.
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            if bytes.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return match rest[i + 1..].strip_prefix(".\"").and_then(|local| local.strip_suffix('"')) {
                Some(local) => (Some(unquote(&rest[..i])), unquote(local)),
                None => (None, name.to_owned()),
            };
        }
        i += 1;
    }
    (None, name.to_owned())
}

/// Whether a column's `data_type` (as `format_type` prints it) is the type
/// `name` (as the model names it) or an array of it.
pub(crate) fn is_of_type(data_type: &str, name: &str) -> bool {
    let printed = match split_qualified(name) {
        (Some(namespace), local) => format!("{namespace}.{local}"),
        (None, local) => local,
    };
    data_type == printed || data_type.strip_suffix("[]") == Some(printed.as_str())
}

/// Whether `text` (an expression as the server prints it) casts to the
/// type `name`: `'paid'::order_status`.
pub(crate) fn mentions_type(text: &str, name: &str) -> bool {
    let printed = match split_qualified(name) {
        (Some(namespace), local) => format!("{namespace}.{local}"),
        (None, local) => local,
    };
    let cast = format!("::{printed}");
    text.match_indices(&cast)
        .any(|(at, _)| !text[at + cast.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

/// The key a table's column has in [`Object::depends_on`] (PostgreSQL
/// records which columns a view, trigger or policy uses).
pub fn column_key(table: &str, column: &str) -> String {
    format!("column {table}.{column}")
}

/// The key a table has in [`Object::depends_on`].
pub fn table_key(name: &str) -> String {
    format!("table {name}")
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
    /// Its exclusion constraints (PostgreSQL).
    pub exclusions: Vec<Exclusion>,
    /// `UNLOGGED` (PostgreSQL): not written to the WAL, emptied after a crash.
    pub unlogged: bool,
    /// A partitioned table's partition key, as `pg_get_partkeydef` prints
    /// it: `RANGE (created_at)`.
    pub partition_by: Option<String>,
    /// For a partition: its parent and its bound. A partition's columns,
    /// keys and indexes are its parent's and are not listed again.
    pub partition_of: Option<PartitionOf>,
}

/// Where a partition sits in its partitioned table.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartitionOf {
    /// The partitioned table.
    pub parent: String,
    /// `FOR VALUES FROM (...) TO (...)`, `FOR VALUES IN (...)`, `DEFAULT`.
    pub bound: String,
}

/// An exclusion constraint: `EXCLUDE USING gist (room WITH =, during WITH &&)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Exclusion {
    /// The constraint's name.
    pub name: String,
    /// Everything after `CONSTRAINT name`, as the server prints it.
    pub definition: String,
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
    /// How the database fills it, when it does: identity, serial, a stored
    /// or virtual generated column, SQLite's rowid alias.
    pub filled: Option<Filled>,
}

/// How the database fills a column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Filled {
    /// SQLite's `INTEGER PRIMARY KEY`, an alias of the rowid.
    Rowid,
    /// SQLite's `INTEGER PRIMARY KEY AUTOINCREMENT`: a rowid alias whose
    /// ids are never reused (`sqlite_sequence` keeps the largest one given).
    Autoincrement,
    /// PostgreSQL's `serial`/`bigserial`/`smallserial`: a default from a
    /// sequence the column owns.
    Serial,
    /// `GENERATED ALWAYS AS IDENTITY`.
    IdentityAlways,
    /// `GENERATED BY DEFAULT AS IDENTITY`.
    IdentityByDefault,
    /// `GENERATED ALWAYS AS (expression) STORED`, the expression as the database prints it.
    Stored(String),
    /// `GENERATED ALWAYS AS (expression) VIRTUAL` (SQLite; PostgreSQL 18):
    /// computed when read, never stored.
    Virtual(String),
}

/// A unique constraint.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unique {
    /// The constraint's name; `None` on SQLite, which reports none.
    pub name: Option<String>,
    /// The columns whose values together are unique, in order.
    pub columns: Vec<String>,
    /// When it is checked.
    pub deferrable: Deferrable,
    /// `NULLS NOT DISTINCT` (PostgreSQL 15): one NULL at most.
    pub nulls_not_distinct: bool,
}

/// When a constraint is checked: `DEFERRABLE [INITIALLY DEFERRED]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Deferrable {
    /// At each statement (not deferrable), the default.
    #[default]
    No,
    /// `DEFERRABLE INITIALLY IMMEDIATE`: at each statement unless a
    /// transaction says `SET CONSTRAINTS ... DEFERRED`.
    InitiallyImmediate,
    /// `DEFERRABLE INITIALLY DEFERRED`: at commit.
    InitiallyDeferred,
}

impl Deferrable {
    /// The clause after the constraint: empty, ` DEFERRABLE` or ` DEFERRABLE INITIALLY DEFERRED`.
    pub fn clause(self) -> &'static str {
        match self {
            Deferrable::No => "",
            Deferrable::InitiallyImmediate => " DEFERRABLE",
            Deferrable::InitiallyDeferred => " DEFERRABLE INITIALLY DEFERRED",
        }
    }
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
    /// PostgreSQL's whole definition (`pg_get_indexdef`, the table's schema
    /// left out): access method, operator classes, order, `NULLS` placement,
    /// `INCLUDE` columns and collations, compared and rendered as the server
    /// prints them. `None` on SQLite.
    pub definition: Option<String>,
}

/// A foreign key.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
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
    /// When it is checked.
    pub deferrable: Deferrable,
    /// `NOT VALID`: added without checking the rows already there.
    pub not_valid: bool,
}

/// A check constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Check {
    /// The constraint's name, when the database has one (on SQLite, only
    /// for `CONSTRAINT name CHECK (...)`).
    pub name: Option<String>,
    /// The condition inside `CHECK (...)`, as the database prints it.
    pub expression: String,
    /// `NOT VALID`: added without checking the rows already there.
    pub not_valid: bool,
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
    generate_with(current, target, dialect, &RenderOptions::default())
}

/// [`generate`], the SQL written as `options` say.
pub fn generate_with(
    current: &Schema,
    target: &Schema,
    dialect: Dialect,
    options: &RenderOptions,
) -> Option<Generated> {
    let changes = diff(current, target);
    if changes.is_empty() {
        return None;
    }
    let back = diff(target, current);
    Some(Generated {
        up: render_with(&changes, current, target, dialect, options),
        down: render_with(&back, target, current, dialect, options),
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
/// assert!(users.column("id").is_some_and(|id| id.filled.is_some()), "the rowid alias");
/// assert!(users.column("email").is_some_and(|email| email.data_type == "text" && !email.nullable));
/// assert_eq!(users.uniques[0].columns, ["email"]);
/// assert_eq!(users.indexes[0].predicate.as_deref(), Some("email <> ''"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn introspect(db: &mut dyn Database, exclude: &str) -> Result<Schema, DbError> {
    introspect_schemas(db, exclude, &[])
}

/// Whether `table` is the version table `exclude` or its lease-table lock
/// (`<version table>_lock`, `--lock-strategy lease`): cargo-migrate's own,
/// left out of every schema.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn is_bookkeeping(table: &str, exclude: &str) -> bool {
    table == exclude || table.strip_suffix("_lock") == Some(exclude)
}

/// [`introspect`], with the PostgreSQL schemas `extra` read besides the
/// default one: each as a [`ObjectKind::Schema`] object, the names of what
/// is in it written qualified (`"billing"."invoices"`, see [`qualified`]).
/// SQLite has no schemas of this kind, and MySQL's are databases (the
/// session's is read): `extra` is ignored there.
pub fn introspect_schemas(db: &mut dyn Database, exclude: &str, extra: &[String]) -> Result<Schema, DbError> {
    match db.dialect() {
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => {
            let _ = extra;
            sqlite::introspect(db, exclude)
        }
        #[cfg(feature = "postgres")]
        Dialect::Postgres => postgres::introspect(db, exclude, extra),
        #[cfg(feature = "mysql")]
        Dialect::Mysql => {
            let _ = extra;
            mysql::introspect(db, exclude)
        }
        #[allow(unreachable_patterns)]
        other => {
            let _ = (exclude, extra);
            Err(DbError::new(format!(
                "cannot introspect {}: this build has no driver for it (features `sqlite`, `postgres`, `mysql`)",
                other.name()
            )))
        }
    }
}

#[cfg(feature = "postgres")]
pub(crate) use postgres::sources::Sources;

/// Nothing to find where PostgreSQL is not built in.
#[cfg(not(feature = "postgres"))]
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources;

#[cfg(not(feature = "postgres"))]
impl Sources {
    pub(crate) fn apply(&self, _changes: &mut [Change]) {}
}

/// A scratch database built from `sql`: its schema, settled, and the
/// sources in `sql` of what PostgreSQL prints in a form that builds
/// something else (see `postgres/sources.rs`).
pub(crate) fn read_scratch(
    db: &mut dyn Database,
    exclude: &str,
    extra: &[String],
    sql: &str,
) -> Result<(Schema, Sources), DbError> {
    let raw = introspect_schemas(db, exclude, extra)?;
    let mut settled = raw.clone();
    settle(db, &mut settled)?;
    let sources = match db.dialect() {
        #[cfg(feature = "postgres")]
        Dialect::Postgres => postgres::sources::find(db, &raw, &settled, sql)?,
        _ => {
            let _ = sql;
            Sources::default()
        }
    };
    Ok((settled, sources))
}

/// Brings `schema`, introspected from the scratch database `db`, to the
/// form the server prints back as itself: PostgreSQL prints some
/// expressions (an `IN` list on a varchar column) in a form it parses back
/// into another, so a revision written from the printed form would never
/// converge. Checks, defaults, generated columns, indexes and views are
/// created under probe names and printed back until they stop changing.
/// Nothing to do on SQLite, which keeps the text as written.
///
/// It adds and drops probes: call it on scratch databases only, as the
/// [`Workbench`](crate::workbench::Workbench) does.
pub fn settle(db: &mut dyn Database, schema: &mut Schema) -> Result<(), DbError> {
    match db.dialect() {
        #[cfg(feature = "postgres")]
        Dialect::Postgres => postgres::settle(db, schema),
        _ => {
            let _ = schema;
            Ok(())
        }
    }
}

#[cfg_attr(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")), allow(dead_code))]
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
