//! SQL for a list of [`Change`]s, per dialect. PostgreSQL takes every change
//! as an `ALTER`; SQLite cannot alter a column or a constraint, so such a
//! table is rebuilt from its target definition (Alembic's "batch" mode, and
//! SQLite's own procedure): with foreign keys off, create it under a
//! temporary name, copy the common columns, drop the old one, rename,
//! recreate its indexes, and the triggers and views built on it. MySQL
//! (see `mysql_sql` below) alters in place, with backticks: a column is
//! changed by `MODIFY COLUMN` with its whole new definition.

use std::collections::BTreeSet;

use sea_query::{Alias, ColumnDef, Expr, Table as SeaTable};

use super::diff::creation_order;
use super::{Change, Check, Column, Filled, ForeignKey, Index, ObjectKind, Schema, Table, Unique, table_key};
use crate::Dialect;
use crate::db::SeaQueryDialect;

/// The SQL of `changes`, which turn `from` into `to`.
pub fn render(changes: &[Change], from: &Schema, to: &Schema, dialect: Dialect) -> String {
    render_with(changes, from, to, dialect, &RenderOptions::default())
}

/// How [`render_with`] writes what can be written more than one way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenderOptions {
    /// The revision runs outside a transaction (`transaction: false`):
    /// indexes on tables that exist are created and dropped `CONCURRENTLY`
    /// (PostgreSQL), without blocking writes.
    pub concurrently: bool,
}

impl RenderOptions {
    /// Indexes created and dropped `CONCURRENTLY`, for a revision that runs
    /// outside a transaction.
    pub fn concurrently(mut self, concurrently: bool) -> Self {
        self.concurrently = concurrently;
        self
    }
}

/// [`render`], written as `options` say.
pub fn render_with(
    changes: &[Change],
    from: &Schema,
    to: &Schema,
    dialect: Dialect,
    options: &RenderOptions,
) -> String {
    let mut out = Vec::new();
    // What a person must write comes first, where it cannot be missed.
    for change in changes.iter().filter(|c| matches!(c, Change::Unmodelled { .. })) {
        out.push(format!("-- WARNING: {change}."));
    }
    // A `LANGUAGE sql` body is checked against tables when it is created,
    // and the tables it reads may come later in this revision: the check
    // is off for the revision (a session setting, so that it also holds
    // outside a transaction; a rolled-back transaction undoes it).
    let unchecked_bodies = dialect == Dialect::Postgres
        && changes.iter().any(|c| match c {
            Change::CreateObject { object, .. } | Change::ReplaceObject { to: object, .. } => {
                matches!(object.kind, ObjectKind::Function | ObjectKind::Procedure)
                    && object.definition.contains("LANGUAGE sql")
            }
            _ => false,
        });
    if unchecked_bodies {
        out.push("SET check_function_bodies = off;".to_owned());
    }
    // Tables that stay and change in a way SQLite's ALTER TABLE cannot make
    // (a new table is created whole, a dropped one dropped).
    let rebuilt: BTreeSet<&str> = match dialect {
        Dialect::Sqlite => changes
            .iter()
            .filter_map(needs_rebuild)
            .filter(|t| from.tables.contains_key(*t) && to.tables.contains_key(*t))
            .collect(),
        _ => BTreeSet::new(),
    };
    if !rebuilt.is_empty() {
        out.push(
            "-- Tables are rebuilt below, with foreign keys off: DROP TABLE would otherwise delete (ON DELETE CASCADE)\n\
             -- or refuse the rows that point at a rebuilt table. Inside a transaction this PRAGMA does nothing, so\n\
             -- cargo-migrate turns foreign keys off before the revision's transaction, runs PRAGMA foreign_key_check\n\
             -- before it commits, and turns them on again after.\n\
             PRAGMA foreign_keys = OFF;"
                .to_owned(),
        );
    }
    let mut rebuilds_written = false;
    for change in changes {
        if table_of(change).is_some_and(|t| rebuilt.contains(t)) {
            // All rebuilds where the first change of a rebuilt table stands:
            // after the drops of what is built on them, before its re-creation.
            if !rebuilds_written {
                out.push(rebuilds(&rebuilt, changes, from, to, dialect));
                rebuilds_written = true;
            }
            continue;
        }
        if dialect == Dialect::Sqlite {
            match change {
                // SQLite declares foreign keys inline: a new table carries them,
                // a dropped table takes them along.
                Change::CreateTable(table) => {
                    out.push(create_table(to.tables.get(&table.name).unwrap_or(table), &table.name, dialect));
                    continue;
                }
                Change::AddForeignKey { table, .. } if !from.tables.contains_key(table) => continue,
                Change::DropForeignKey { table, .. } if !to.tables.contains_key(table) => continue,
                _ => {}
            }
        }
        if change.is_destructive() {
            out.push(format!("-- WARNING: {}: data in it is lost.", describe(change)));
        }
        if dialect == Dialect::Mysql {
            if let Some(sql) = mysql_sql::statement(change) {
                out.push(sql);
            }
            continue;
        }
        if let Change::RecreateEnum { name, to: labels, .. } = change {
            out.push(recreate_enum(name, labels, to));
            continue;
        }
        let concurrently = options.concurrently && dialect == Dialect::Postgres;
        match change {
            Change::CreateIndex { table, index } if concurrently && from.tables.contains_key(table) => {
                out.push(create_index(table, index).replacen(" INDEX ", " INDEX CONCURRENTLY ", 1));
                continue;
            }
            Change::DropIndex { table, index } if concurrently && to.tables.contains_key(table) => {
                out.push(format!("DROP INDEX CONCURRENTLY {};", q(&index.name)));
                continue;
            }
            _ => {}
        }
        if let Some(sql) = statement(change, dialect) {
            out.push(sql);
        }
    }
    if unchecked_bodies {
        out.push("RESET check_function_bodies;".to_owned());
    }
    let mut text = out.join("\n");
    if changes.iter().any(|c| matches!(c, Change::DropColumn { .. }))
        && changes.iter().any(|c| matches!(c, Change::AddColumn { .. }))
    {
        text.insert_str(
            0,
            "-- A rename cannot be told from a drop and an add: if a column was renamed, replace the pair below\n-- with `ALTER TABLE ... RENAME COLUMN ... TO ...` to keep its data.\n",
        );
    }
    text
}

fn table_of(change: &Change) -> Option<&str> {
    Some(match change {
        Change::AddColumn { table, .. }
        | Change::DropColumn { table, .. }
        | Change::AlterColumn { table, .. }
        | Change::AlterPrimaryKey { table, .. }
        | Change::AddUnique { table, .. }
        | Change::DropUnique { table, .. }
        | Change::CreateIndex { table, .. }
        | Change::DropIndex { table, .. }
        | Change::AddForeignKey { table, .. }
        | Change::DropForeignKey { table, .. }
        | Change::AddCheck { table, .. }
        | Change::DropCheck { table, .. } => table,
        _ => return None,
    })
}

/// Changes SQLite's `ALTER TABLE` cannot make.
fn needs_rebuild(change: &Change) -> Option<&str> {
    match change {
        Change::AlterColumn { table, .. }
        | Change::AlterPrimaryKey { table, .. }
        | Change::AddUnique { table, .. }
        | Change::DropUnique { table, .. }
        | Change::AddForeignKey { table, .. }
        | Change::DropForeignKey { table, .. }
        | Change::AddCheck { table, .. }
        | Change::DropCheck { table, .. } => Some(table),
        // SQLite can add only nullable or defaulted columns without
        // constraints, and a VIRTUAL generated column but not a STORED one.
        Change::AddColumn { table, column } => match column.filled {
            Some(Filled::Stored(_)) => Some(table),
            Some(Filled::Virtual(_)) => None,
            _ if !column.nullable && column.default.is_none() => Some(table),
            _ => None,
        },
        _ => None,
    }
}

fn describe(change: &Change) -> String {
    match change {
        Change::DropTable(t) => format!("drops table {}", t.name),
        Change::DropColumn { table, column } => format!("drops column {table}.{}", column.name),
        Change::DropEnum { name, .. } => format!("drops type {name}"),
        Change::AlterColumn { table, from, to } => {
            format!("changes the type of {table}.{} from {} to {}", to.name, from.data_type, to.data_type)
        }
        _ => "changes the schema".to_owned(),
    }
}

fn q(name: &str) -> String {
    super::quote(name)
}

/// A table's name for sea-query, schema-qualified where the model's name is.
fn table_ref(name: &str) -> sea_query::TableRef {
    use sea_query::IntoTableRef;
    match super::split_qualified(name) {
        (Some(schema), local) => (Alias::new(schema), Alias::new(local)).into_table_ref(),
        (None, local) => Alias::new(local).into_table_ref(),
    }
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn columns(names: &[String]) -> String {
    names.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
}

fn statement(change: &Change, dialect: Dialect) -> Option<String> {
    Some(match change {
        Change::CreateEnum { name, labels } => {
            format!(
                "CREATE TYPE {} AS ENUM ({});",
                q(name),
                labels.iter().map(|l| literal(l)).collect::<Vec<_>>().join(", ")
            )
        }
        Change::AddEnumValue { name, label, after, before } => match (after, before) {
            (Some(after), _) => {
                format!("ALTER TYPE {} ADD VALUE {} AFTER {};", q(name), literal(label), literal(after))
            }
            (None, Some(before)) => {
                format!("ALTER TYPE {} ADD VALUE {} BEFORE {};", q(name), literal(label), literal(before))
            }
            (None, None) => format!("ALTER TYPE {} ADD VALUE {};", q(name), literal(label)),
        },
        // Written at the top.
        Change::Unmodelled { .. } => return None,
        Change::CreateObject { object, .. } => object.definition.clone(),
        Change::DropObject { object, .. } => object.drop.clone(),
        Change::ReplaceObject { to, .. } => to.definition.clone(),
        Change::SetUnlogged { table, unlogged } => {
            format!("ALTER TABLE {} SET {};", q(table), if *unlogged { "UNLOGGED" } else { "LOGGED" })
        }
        Change::AlterPartition { table, from, to } => {
            let mut sql = Vec::new();
            if let Some(from) = from {
                sql.push(format!("ALTER TABLE {} DETACH PARTITION {};", q(&from.parent), q(table)));
            }
            if let Some(to) = to {
                sql.push(format!("ALTER TABLE {} ATTACH PARTITION {} {};", q(&to.parent), q(table), to.bound));
            }
            sql.join("\n")
        }
        Change::AlterPartitionKey { .. } => format!(
            "-- WARNING: {change}: PostgreSQL cannot change a partition key; create the table anew and move its rows by hand."
        ),
        Change::AddExclusion { table, exclusion } => {
            format!("ALTER TABLE {} ADD CONSTRAINT {} {};", q(table), q(&exclusion.name), exclusion.definition)
        }
        Change::DropExclusion { table, exclusion } => drop_constraint(table, Some(&exclusion.name)),
        Change::ValidateConstraint { table, name } => {
            format!("ALTER TABLE {} VALIDATE CONSTRAINT {};", q(table), q(name))
        }
        Change::CreateExtension { name } => format!("CREATE EXTENSION IF NOT EXISTS {};", q(name)),
        Change::DropExtension { name } => format!("DROP EXTENSION IF EXISTS {};", q(name)),
        Change::DropEnum { name, .. } => format!("DROP TYPE {};", q(name)),
        Change::RecreateEnum { name, to, .. } => recreate_enum(name, to, &Schema::default()),
        Change::CreateTable(table) => create_table(table, &table.name, dialect),
        Change::DropTable(table) => {
            format!("{};", dialect.build_schema(&SeaTable::drop().table(table_ref(&table.name)).to_owned()))
        }
        Change::AddColumn { table, column } => {
            let alter = SeaTable::alter().table(table_ref(table)).add_column(column_def(column)).to_owned();
            format!("{};", dialect.build_schema(&alter))
        }
        Change::DropColumn { table, column } => {
            let alter = SeaTable::alter().table(table_ref(table)).drop_column(Alias::new(&column.name)).to_owned();
            format!("{};", dialect.build_schema(&alter))
        }
        Change::AlterColumn { table, from, to } => alter_column(table, from, to),
        Change::AlterPrimaryKey { table, name, to, .. } => {
            let mut sql = String::new();
            if let Some(name) = name {
                sql.push_str(&format!("ALTER TABLE {} DROP CONSTRAINT {};", q(table), q(name)));
            }
            if !to.is_empty() {
                if !sql.is_empty() {
                    sql.push('\n');
                }
                sql.push_str(&format!("ALTER TABLE {} ADD PRIMARY KEY ({});", q(table), columns(to)));
            }
            sql
        }
        Change::AddUnique { table, unique } => {
            format!("ALTER TABLE {} ADD {};", q(table), unique_clause(unique))
        }
        Change::DropUnique { table, unique } => drop_constraint(table, unique.name.as_deref()),
        Change::CreateIndex { table, index } => create_index(table, index),
        Change::DropIndex { index, .. } => format!("DROP INDEX {};", q(&index.name)),
        Change::AddForeignKey { table, foreign_key } => {
            format!("ALTER TABLE {} ADD {};", q(table), foreign_key_clause(foreign_key))
        }
        Change::DropForeignKey { table, foreign_key } => drop_constraint(table, foreign_key.name.as_deref()),
        Change::AddCheck { table, check } => format!("ALTER TABLE {} ADD {};", q(table), check_clause(check, true)),
        Change::DropCheck { table, check } => drop_constraint(table, check.name.as_deref()),
    })
}

/// PostgreSQL cannot drop or reorder enum values: rename the type, create
/// it anew, cast every column that uses it, drop the old one.
fn recreate_enum(name: &str, labels: &[String], schema: &Schema) -> String {
    // Renamed within its schema; dropped by its whole name.
    let (namespace, local) = super::split_qualified(name);
    let renamed = format!("{local}_old");
    let old = match namespace {
        Some(namespace) => super::qualified(&namespace, &renamed),
        None => renamed.clone(),
    };
    let mut sql = vec![
        format!("ALTER TYPE {} RENAME TO {};", q(name), q(&renamed)),
        format!(
            "CREATE TYPE {} AS ENUM ({});",
            q(name),
            labels.iter().map(|l| literal(l)).collect::<Vec<_>>().join(", ")
        ),
    ];
    // Columns of the type or of arrays of it; a default names the old type,
    // so it goes before the cast and comes back (as the target has it) after.
    for table in schema.tables.values() {
        for column in table.columns.iter().filter(|c| super::is_of_type(&c.data_type, name)) {
            let (text_type, new_type) =
                if column.data_type.ends_with("[]") { ("text[]", format!("{}[]", q(name))) } else { ("text", q(name)) };
            let (table_name, col) = (q(&table.name), q(&column.name));
            if column.default.is_some() {
                sql.push(format!("ALTER TABLE {table_name} ALTER COLUMN {col} DROP DEFAULT;"));
            }
            sql.push(format!(
                "ALTER TABLE {table_name} ALTER COLUMN {col} TYPE {new_type} USING {col}::{text_type}::{new_type};"
            ));
            if let Some(default) = &column.default {
                sql.push(format!("ALTER TABLE {table_name} ALTER COLUMN {col} SET DEFAULT {default};"));
            }
        }
    }
    sql.push(format!("DROP TYPE {};", q(&old)));
    sql.join("\n")
}

fn drop_constraint(table: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("ALTER TABLE {} DROP CONSTRAINT {};", q(table), q(name)),
        None => format!("-- the database did not name this constraint of {table}: drop it by its name"),
    }
}

/// `CONSTRAINT name ` before a constraint that has a name; nothing otherwise.
fn constraint_name(name: Option<&str>) -> String {
    name.map(|n| format!("CONSTRAINT {} ", q(n))).unwrap_or_default()
}

/// `CONSTRAINT name CHECK (expression)`, with ` NOT VALID` where it can
/// stand (`ALTER TABLE ... ADD`, not `CREATE TABLE`, which checks the rows anyway).
fn check_clause(check: &Check, in_alter: bool) -> String {
    let name = constraint_name(check.name.as_deref());
    let not_valid = if check.not_valid && in_alter { " NOT VALID" } else { "" };
    format!("{name}CHECK ({}){not_valid}", check.expression)
}

/// The column's type with how the database fills it: `bigserial`,
/// `integer GENERATED ALWAYS AS IDENTITY`, `integer GENERATED ALWAYS AS (a * 2) STORED`.
fn column_type(column: &Column) -> String {
    let data_type = &column.data_type;
    match &column.filled {
        Some(Filled::Serial) => match data_type.as_str() {
            "integer" => "serial".to_owned(),
            "bigint" => "bigserial".to_owned(),
            "smallint" => "smallserial".to_owned(),
            other => other.to_owned(),
        },
        Some(Filled::IdentityAlways) => format!("{data_type} GENERATED ALWAYS AS IDENTITY"),
        Some(Filled::IdentityByDefault) => format!("{data_type} GENERATED BY DEFAULT AS IDENTITY"),
        // A SQLite column may have no type.
        Some(Filled::Stored(expression)) => {
            format!("{data_type} GENERATED ALWAYS AS ({expression}) STORED").trim_start().to_owned()
        }
        Some(Filled::Virtual(expression)) => {
            format!("{data_type} GENERATED ALWAYS AS ({expression}) VIRTUAL").trim_start().to_owned()
        }
        Some(Filled::Rowid | Filled::Autoincrement) | None => data_type.clone(),
    }
}

fn column_def(column: &Column) -> ColumnDef {
    let mut def = ColumnDef::new(Alias::new(&column.name));
    def.custom(Alias::new(column_type(column)));
    if !column.nullable {
        def.not_null();
    }
    if let Some(default) = &column.default {
        def.default(Expr::cust(default));
    }
    def
}

fn alter_column(table: &str, from: &Column, to: &Column) -> String {
    let mut parts = Vec::new();
    let column = q(&to.name);
    if from.data_type != to.data_type {
        parts.push(format!("ALTER COLUMN {column} TYPE {} USING {column}::{}", to.data_type, to.data_type));
    }
    if from.nullable != to.nullable {
        parts.push(format!("ALTER COLUMN {column} {} NOT NULL", if to.nullable { "DROP" } else { "SET" }));
    }
    if from.default != to.default {
        parts.push(match &to.default {
            Some(default) => format!("ALTER COLUMN {column} SET DEFAULT {default}"),
            None => format!("ALTER COLUMN {column} DROP DEFAULT"),
        });
    }
    let identity = |filled: &Option<Filled>| match filled {
        Some(Filled::IdentityAlways) => Some("ALWAYS"),
        Some(Filled::IdentityByDefault) => Some("BY DEFAULT"),
        _ => None,
    };
    let mut by_hand = false;
    if from.filled != to.filled {
        match (identity(&from.filled), identity(&to.filled)) {
            (None, Some(kind)) if from.filled.is_none() => {
                parts.push(format!("ALTER COLUMN {column} ADD GENERATED {kind} AS IDENTITY"))
            }
            (Some(_), None) if to.filled.is_none() => parts.push(format!("ALTER COLUMN {column} DROP IDENTITY")),
            (Some(_), Some(kind)) => parts.push(format!("ALTER COLUMN {column} SET GENERATED {kind}")),
            // serial and stored generated columns have no ALTER that turns one into the other.
            _ => by_hand = true,
        }
    }
    if by_hand || parts.is_empty() {
        let note = format!(
            "-- WARNING: {table}.{}: how the database fills it changed ({:?} -> {:?}), which no ALTER can express; recreate the column by hand",
            to.name, from.filled, to.filled
        );
        if parts.is_empty() {
            return note;
        }
        return format!("{note}\nALTER TABLE {} {};", q(table), parts.join(", "));
    }
    format!("ALTER TABLE {} {};", q(table), parts.join(", "))
}

fn create_index(table: &str, index: &Index) -> String {
    if let Some(definition) = &index.definition {
        return format!("{definition};");
    }
    let unique = if index.unique { "UNIQUE " } else { "" };
    let columns: Vec<String> = index
        .columns
        .iter()
        .map(|c| if c.chars().all(|ch| ch.is_alphanumeric() || ch == '_') { q(c) } else { c.clone() })
        .collect();
    let predicate = index.predicate.as_ref().map(|p| format!(" WHERE {p}")).unwrap_or_default();
    format!("CREATE {unique}INDEX {} ON {} ({}){predicate};", q(&index.name), q(table), columns.join(", "))
}

/// `CONSTRAINT name UNIQUE (columns) DEFERRABLE ...`.
fn unique_clause(unique: &Unique) -> String {
    let name = constraint_name(unique.name.as_deref());
    let nulls = if unique.nulls_not_distinct { " NULLS NOT DISTINCT" } else { "" };
    format!("{name}UNIQUE{nulls} ({}){}", columns(&unique.columns), unique.deferrable.clause())
}

fn foreign_key_clause(key: &ForeignKey) -> String {
    let mut clause = references(key, q);
    clause.push_str(key.deferrable.clause());
    if key.not_valid {
        clause.push_str(" NOT VALID");
    }
    clause
}

/// `CONSTRAINT name FOREIGN KEY (columns) REFERENCES table (columns) ON
/// DELETE ... ON UPDATE ...`, names written by `quote`.
fn references(key: &ForeignKey, quote: fn(&str) -> String) -> String {
    let list = |names: &[String]| names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", ");
    let name = key.name.as_ref().map(|n| format!("CONSTRAINT {} ", quote(n))).unwrap_or_default();
    let mut clause = format!(
        "{name}FOREIGN KEY ({}) REFERENCES {} ({})",
        list(&key.columns),
        quote(&key.referenced_table),
        list(&key.referenced_columns)
    );
    if key.on_delete != "NO ACTION" {
        clause.push_str(&format!(" ON DELETE {}", key.on_delete));
    }
    if key.on_update != "NO ACTION" {
        clause.push_str(&format!(" ON UPDATE {}", key.on_update));
    }
    clause
}

/// The column of a SQLite table declared `INTEGER PRIMARY KEY AUTOINCREMENT`.
fn autoincrement(table: &Table) -> Option<&Column> {
    match table.primary_key.as_slice() {
        [only] => table.column(only).filter(|c| c.filled == Some(Filled::Autoincrement)),
        _ => None,
    }
}

/// `CREATE TABLE` with columns, primary key, uniques and checks. Foreign keys
/// are added as their own changes on PostgreSQL, and inline on SQLite. A
/// SQLite `AUTOINCREMENT` key is declared on its column, the one place
/// SQLite takes it.
fn create_table(table: &Table, name: &str, dialect: Dialect) -> String {
    let autoincrement = autoincrement(table).map(|c| c.name.as_str());
    let mut lines: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let mut line = format!("    {} {}", q(&c.name), column_type(c));
            if autoincrement == Some(c.name.as_str()) {
                line.push_str(" PRIMARY KEY AUTOINCREMENT");
            }
            if !c.nullable {
                line.push_str(" NOT NULL");
            }
            if let Some(default) = &c.default {
                line.push_str(&format!(" DEFAULT {default}"));
            }
            line
        })
        .collect();
    if !table.primary_key.is_empty() && autoincrement.is_none() {
        lines.push(format!("    PRIMARY KEY ({})", columns(&table.primary_key)));
    }
    for unique in &table.uniques {
        lines.push(format!("    {}", unique_clause(unique)));
    }
    for check in &table.checks {
        lines.push(format!("    {}", check_clause(check, false)));
    }
    for exclusion in &table.exclusions {
        lines.push(format!("    CONSTRAINT {} {}", q(&exclusion.name), exclusion.definition));
    }
    if dialect == Dialect::Sqlite {
        for key in &table.foreign_keys {
            lines.push(format!("    {}", foreign_key_clause(key)));
        }
    }
    let unlogged = if table.unlogged { "UNLOGGED " } else { "" };
    if let Some(partition) = &table.partition_of {
        // Its columns are its parent's; only its own constraints are listed.
        let own = if table.columns.is_empty() { &lines[..] } else { &[][..] };
        let own = if own.is_empty() { String::new() } else { format!(" (\n{}\n)", own.join(",\n")) };
        return format!(
            "CREATE {unlogged}TABLE {} PARTITION OF {}{own} {};",
            q(name),
            q(&partition.parent),
            partition.bound
        );
    }
    let partition_by = table.partition_by.as_ref().map(|key| format!(" PARTITION BY {key}")).unwrap_or_default();
    format!("CREATE {unlogged}TABLE {} (\n{}\n){partition_by};", q(name), lines.join(",\n"))
}

/// The SQLite rebuilds of the tables `rebuilt`, together. The views and
/// triggers built on them (triggers on them, and views and triggers that
/// name them, directly or through other views) are dropped first and
/// created again after: `DROP TABLE` takes a table's triggers along, and
/// the `RENAME` that ends a rebuild fails while a view or trigger names a
/// table that is missing. What `changes` drop themselves (to create again
/// with a new definition, or for good) they also place, and is left to them.
fn rebuilds(rebuilt: &BTreeSet<&str>, changes: &[Change], from: &Schema, to: &Schema, dialect: Dialect) -> String {
    let handled: BTreeSet<String> = changes
        .iter()
        .filter_map(|change| match change {
            Change::DropObject { object, .. } => Some(object.key()),
            _ => None,
        })
        .collect();
    let mut on: BTreeSet<String> = rebuilt.iter().map(|t| table_key(t)).collect();
    loop {
        let more: Vec<String> = from
            .objects
            .iter()
            .filter(|(key, object)| !on.contains(*key) && !object.depends_on.is_disjoint(&on))
            .map(|(key, _)| key.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        on.extend(more);
    }
    let built_on: Vec<String> = creation_order(&from.objects, on.iter())
        .into_iter()
        .filter(|key| !handled.contains(key) && to.objects.contains_key(key))
        .collect();
    let mut sql = Vec::new();
    for key in built_on.iter().rev() {
        sql.push(from.objects[key].drop.clone());
    }
    for table in rebuilt {
        let (Some(old), Some(new)) = (from.tables.get(*table), to.tables.get(*table)) else { continue };
        for change in changes.iter().filter(|c| table_of(c) == Some(*table) && c.is_destructive()) {
            sql.push(format!("-- WARNING: {}: data in it is lost.", describe(change)));
        }
        sql.push(rebuild(old, new, dialect));
    }
    for key in creation_order(&to.objects, built_on.iter()) {
        sql.push(to.objects[&key].definition.clone());
    }
    sql.join("\n")
}

/// SQLite's way to change a table: a new one from the target definition,
/// the rows copied into it (generated columns are computed, not copied).
fn rebuild(old: &Table, new: &Table, dialect: Dialect) -> String {
    let temporary = format!("_migrate_new_{}", new.name);
    let generated = |c: &Column| matches!(c.filled, Some(Filled::Stored(_) | Filled::Virtual(_)));
    let common: Vec<String> =
        new.columns.iter().filter(|c| !generated(c) && old.column(&c.name).is_some()).map(|c| c.name.clone()).collect();
    let mut sql = vec![
        format!("-- SQLite cannot alter {} in place: it is rebuilt with its new definition.", new.name),
        create_table(new, &temporary, dialect),
    ];
    if common.is_empty() {
        sql.push(format!("-- WARNING: no column of {} is kept: its rows are not copied.", new.name));
    } else {
        sql.push(format!(
            "INSERT INTO {} ({cols}) SELECT {cols} FROM {};",
            q(&temporary),
            q(&old.name),
            cols = columns(&common)
        ));
    }
    if autoincrement(old).is_some() && autoincrement(new).is_some() {
        // The copied rows set the new table's sequence to their largest id;
        // the old one may be past it (rows deleted), and ids are never reused.
        sql.push(format!(
            "DELETE FROM sqlite_sequence WHERE name = {new_name};\n\
             INSERT INTO sqlite_sequence (name, seq) SELECT {new_name}, seq FROM sqlite_sequence WHERE name = {old_name};",
            new_name = literal(&temporary),
            old_name = literal(&old.name)
        ));
    }
    sql.push(format!("DROP TABLE {};", q(&old.name)));
    sql.push(format!("ALTER TABLE {} RENAME TO {};", q(&temporary), q(&new.name)));
    for index in &new.indexes {
        sql.push(create_index(&new.name, index));
    }
    sql.join("\n")
}

/// MySQL and MariaDB: every change as an `ALTER` in place, names in
/// backticks. What MySQL has no statement for (enums as types, extensions,
/// partitions as PostgreSQL has them, deferrable or `NOT VALID` keys,
/// partial indexes) is a `-- WARNING` line, never nothing.
mod mysql_sql {
    use super::super::{Change, Check, Column, Filled, ForeignKey, Index, Object, Table, Unique, backquote};

    fn q(name: &str) -> String {
        backquote(name)
    }

    /// An index or key part: a name quoted; `` `name`(10) DESC `` as it is.
    fn part(part: &str) -> String {
        if part.starts_with('`') { part.to_owned() } else { q(part) }
    }

    fn parts(names: &[String]) -> String {
        names.iter().map(|p| part(p)).collect::<Vec<_>>().join(", ")
    }

    /// What MySQL cannot write, as a warning naming the change.
    fn unsupported(change: &Change, what: &str) -> String {
        format!("-- WARNING: {change}: MySQL has no {what}; write it by hand.")
    }

    /// A column's definition: type, generation, `NOT NULL`, default,
    /// `AUTO_INCREMENT`, then what introspection keeps after the type
    /// (`on update ...`, a column's own `CHECK (...)`).
    pub(super) fn column(column: &Column) -> String {
        let (base, tail) = split_type(&column.data_type);
        let mut sql = format!("{} {base}", q(&column.name));
        match &column.filled {
            Some(Filled::Stored(expression)) => sql.push_str(&format!(" GENERATED ALWAYS AS ({expression}) STORED")),
            Some(Filled::Virtual(expression)) => sql.push_str(&format!(" GENERATED ALWAYS AS ({expression}) VIRTUAL")),
            _ => {}
        }
        let generated = matches!(column.filled, Some(Filled::Stored(_) | Filled::Virtual(_)));
        if !column.nullable && !generated {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = &column.default {
            sql.push_str(&format!(" DEFAULT {default}"));
        }
        if matches!(column.filled, Some(Filled::IdentityByDefault | Filled::IdentityAlways | Filled::Serial)) {
            sql.push_str(" AUTO_INCREMENT");
        }
        if !tail.is_empty() {
            sql.push(' ');
            sql.push_str(tail);
        }
        sql
    }

    /// `timestamp on update current_timestamp()` -> (`timestamp`, `on update current_timestamp()`).
    fn split_type(data_type: &str) -> (&str, &str) {
        let at = [" on update ", " CHECK ("].iter().filter_map(|marker| data_type.find(marker)).min();
        match at {
            Some(at) => (&data_type[..at], &data_type[at + 1..]),
            None => (data_type, ""),
        }
    }

    fn unique(unique: &Unique) -> String {
        let name = unique.name.as_ref().map(|n| format!("CONSTRAINT {} ", q(n))).unwrap_or_default();
        format!("{name}UNIQUE ({})", parts(&unique.columns))
    }

    fn check(check: &Check) -> String {
        let name = check.name.as_ref().map(|n| format!("CONSTRAINT {} ", q(n))).unwrap_or_default();
        format!("{name}CHECK ({})", check.expression)
    }

    fn foreign_key(key: &ForeignKey) -> String {
        super::references(key, backquote)
    }

    fn create_table(table: &Table) -> String {
        let mut lines: Vec<String> = table.columns.iter().map(|c| format!("    {}", column(c))).collect();
        if !table.primary_key.is_empty() {
            lines.push(format!("    PRIMARY KEY ({})", parts(&table.primary_key)));
        }
        lines.extend(table.uniques.iter().map(|u| format!("    {}", unique(u))));
        lines.extend(table.checks.iter().map(|c| format!("    {}", check(c))));
        let mut sql = format!("CREATE TABLE {} (\n{}\n);", q(&table.name), lines.join(",\n"));
        if !table.exclusions.is_empty()
            || table.partition_by.is_some()
            || table.partition_of.is_some()
            || table.unlogged
        {
            sql.insert_str(
                0,
                &format!(
                    "-- WARNING: table {}: MySQL has no exclusion constraints, PostgreSQL partitions or unlogged tables; those are left out.\n",
                    table.name
                ),
            );
        }
        sql
    }

    fn create_index(table: &str, index: &Index) -> String {
        let mut sql = match &index.definition {
            Some(definition) if definition.starts_with("CREATE ") && definition.contains('`') => {
                format!("{definition};")
            }
            _ => format!(
                "CREATE {}INDEX {} ON {} ({});",
                if index.unique { "UNIQUE " } else { "" },
                q(&index.name),
                q(table),
                parts(&index.columns)
            ),
        };
        if let Some(predicate) = &index.predicate {
            sql.insert_str(
                0,
                &format!(
                    "-- WARNING: index {}: MySQL has no partial indexes; it is created without WHERE {predicate}.\n",
                    index.name
                ),
            );
        }
        sql
    }

    /// An object's SQL; one holding `;` before its end (a trigger's
    /// `BEGIN ... END`) goes between `DELIMITER` lines, as the mysql client
    /// and the splitter's MySQL rules read it.
    fn object_sql(sql: &str) -> String {
        let body = sql.trim_end().strip_suffix(';').unwrap_or(sql.trim_end());
        if body.contains(';') { format!("DELIMITER $$\n{body}$$\nDELIMITER ;") } else { format!("{body};") }
    }

    fn drop_named(table: &str, what: &str, name: Option<&str>) -> String {
        match name {
            Some(name) => format!("ALTER TABLE {} DROP {what} {};", q(table), q(name)),
            None => format!("-- the database did not name this constraint of {table}: drop it by its name"),
        }
    }

    pub(super) fn statement(change: &Change) -> Option<String> {
        let object = |o: &Object| object_sql(&o.definition);
        Some(match change {
            Change::Unmodelled { .. } => return None,
            Change::CreateObject { object: o, .. } => object(o),
            Change::DropObject { object: o, .. } => object_sql(&o.drop),
            Change::ReplaceObject { from, to } => format!("{}\n{}", object_sql(&from.drop), object(to)),
            Change::CreateExtension { .. } | Change::DropExtension { .. } => unsupported(change, "extensions"),
            Change::CreateEnum { .. }
            | Change::AddEnumValue { .. }
            | Change::RecreateEnum { .. }
            | Change::DropEnum { .. } => unsupported(change, "enum types (an enum is a column type there)"),
            Change::SetUnlogged { .. } => unsupported(change, "unlogged tables"),
            Change::AlterPartition { .. } | Change::AlterPartitionKey { .. } => {
                unsupported(change, "PostgreSQL partitions")
            }
            Change::AddExclusion { .. } | Change::DropExclusion { .. } => unsupported(change, "exclusion constraints"),
            Change::ValidateConstraint { .. } => unsupported(change, "NOT VALID constraints"),
            Change::CreateTable(table) => create_table(table),
            Change::DropTable(table) => format!("DROP TABLE {};", q(&table.name)),
            Change::AddColumn { table, column: c } => format!("ALTER TABLE {} ADD COLUMN {};", q(table), column(c)),
            Change::DropColumn { table, column } => {
                format!("ALTER TABLE {} DROP COLUMN {};", q(table), q(&column.name))
            }
            Change::AlterColumn { table, to, .. } => {
                format!("ALTER TABLE {} MODIFY COLUMN {};", q(table), column(to))
            }
            Change::AlterPrimaryKey { table, from, to, .. } => {
                let mut alters = Vec::new();
                if !from.is_empty() {
                    alters.push("DROP PRIMARY KEY".to_owned());
                }
                if !to.is_empty() {
                    alters.push(format!("ADD PRIMARY KEY ({})", parts(to)));
                }
                format!("ALTER TABLE {} {};", q(table), alters.join(", "))
            }
            Change::AddUnique { table, unique: u } => format!("ALTER TABLE {} ADD {};", q(table), unique(u)),
            Change::DropUnique { table, unique } => drop_named(table, "INDEX", unique.name.as_deref()),
            Change::CreateIndex { table, index } => create_index(table, index),
            Change::DropIndex { table, index } => format!("DROP INDEX {} ON {};", q(&index.name), q(table)),
            Change::AddForeignKey { table, foreign_key: key } => {
                let mut sql = format!("ALTER TABLE {} ADD {};", q(table), foreign_key(key));
                if key.not_valid || key.deferrable != Default::default() {
                    sql.insert_str(
                        0,
                        &unsupported(change, "deferrable or NOT VALID foreign keys; it is added checked at once")
                            .replace("; write it by hand.", ".\n"),
                    );
                }
                sql
            }
            Change::DropForeignKey { table, foreign_key } => {
                drop_named(table, "FOREIGN KEY", foreign_key.name.as_deref())
            }
            Change::AddCheck { table, check: c } => format!("ALTER TABLE {} ADD {};", q(table), check(c)),
            Change::DropCheck { table, check } => drop_named(table, "CONSTRAINT", check.name.as_deref()),
        })
    }
}
