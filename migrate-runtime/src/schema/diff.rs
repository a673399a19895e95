//! The changes that turn one schema into another, in an order that respects
//! foreign keys: new tables before the keys that point at them, dropped keys
//! before the tables they point at.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Check, Column, Exclusion, Filled, ForeignKey, Index, Object, ObjectKind, PartitionOf, Schema, Table, Unique,
    column_key,
};

/// One change. Renames cannot be told from a drop and an add; the renderer
/// says so in a comment, as Alembic does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A PostgreSQL extension the models create (`CREATE EXTENSION`).
    CreateExtension {
        /// The extension's name.
        name: String,
    },
    /// An extension the models no longer create.
    DropExtension {
        /// The extension's name.
        name: String,
    },
    /// An object autogenerate cannot write (an aggregate, an operator, a
    /// rule, ...) that one side has and the other does not: rendered as a
    /// warning at the top of the revision, for a person to write by hand.
    Unmodelled {
        /// `aggregate total(integer)`, `rule protect on users`, ...
        object: String,
        /// Whether the target has it (else only the current schema does).
        added: bool,
        /// Where the models create it (`schema.sql:12`), where known.
        source: Option<String>,
    },
    /// A view, function, trigger, comment, ... ([`Object`]) created.
    CreateObject {
        /// The object, with the definition that creates it.
        object: Object,
        /// Why it is created.
        why: Why,
    },
    /// An object dropped.
    DropObject {
        /// The object as it was.
        object: Object,
        /// Why it is dropped.
        why: Why,
    },
    /// An object given its new definition in place (`CREATE OR REPLACE
    /// FUNCTION`, `COMMENT ON`), so that what depends on it stays.
    ReplaceObject {
        /// The object before.
        from: Object,
        /// The object after.
        to: Object,
    },
    /// A table made `UNLOGGED` or logged again.
    SetUnlogged {
        /// The table's name.
        table: String,
        /// Whether it is unlogged after the change.
        unlogged: bool,
    },
    /// A partition detached from its table, attached to one, or given
    /// another bound.
    AlterPartition {
        /// The partition's name.
        table: String,
        /// Where it was attached; `None`: it was a table of its own.
        from: Option<PartitionOf>,
        /// Where it is attached after; `None`: a table of its own.
        to: Option<PartitionOf>,
    },
    /// A partitioned table's partition key changed, which only recreating
    /// the table can do: rendered as a warning.
    AlterPartitionKey {
        /// The table's name.
        table: String,
        /// The key before (`None`: not partitioned).
        from: Option<String>,
        /// The key after.
        to: Option<String>,
    },
    /// A `NOT VALID` check or foreign key made valid: `ALTER TABLE ...
    /// VALIDATE CONSTRAINT`, which checks the rows without blocking writes.
    /// (The way back, to `NOT VALID`, is a drop and an add.)
    ValidateConstraint {
        /// The table's name.
        table: String,
        /// The constraint's name.
        name: String,
    },
    /// An exclusion constraint added to a table that exists.
    AddExclusion {
        /// The table's name.
        table: String,
        /// The new constraint.
        exclusion: Exclusion,
    },
    /// An exclusion constraint removed from a table that stays.
    DropExclusion {
        /// The table's name.
        table: String,
        /// The constraint as it was.
        exclusion: Exclusion,
    },
    /// A new PostgreSQL enum type.
    CreateEnum {
        /// The type's name.
        name: String,
        /// Its labels, in order.
        labels: Vec<String>,
    },
    /// A label added to an enum type whose existing labels keep their order.
    AddEnumValue {
        /// The type's name.
        name: String,
        /// The new label.
        label: String,
        /// The label it follows in the new order; `None` when it comes first.
        after: Option<String>,
        /// When it comes first: the first label the type already had, which
        /// it goes before.
        before: Option<String>,
    },
    /// Values removed or reordered: PostgreSQL can only recreate the type.
    RecreateEnum {
        /// The type's name.
        name: String,
        /// Its labels before the change.
        from: Vec<String>,
        /// Its labels after the change.
        to: Vec<String>,
    },
    /// An enum type removed.
    DropEnum {
        /// The type's name.
        name: String,
        /// The labels it had.
        labels: Vec<String>,
    },
    /// A new table, without its indexes and foreign keys: those follow as
    /// [`Change::CreateIndex`] and [`Change::AddForeignKey`].
    CreateTable(Table),
    /// A table removed, as it was, less its foreign keys: those are dropped
    /// first as [`Change::DropForeignKey`].
    DropTable(Table),
    /// A column added to an existing table.
    AddColumn {
        /// The table's name.
        table: String,
        /// The new column.
        column: Column,
    },
    /// A column removed from a table that stays.
    DropColumn {
        /// The table's name.
        table: String,
        /// The column as it was.
        column: Column,
    },
    /// A column whose type, nullability or default changed, or whether the
    /// database fills it (identity, serial).
    AlterColumn {
        /// The table's name.
        table: String,
        /// The column before the change.
        from: Column,
        /// The column after the change.
        to: Column,
    },
    /// A table's primary key columns changed (or it gained or lost one).
    AlterPrimaryKey {
        /// The table's name.
        table: String,
        /// The name of the current primary key constraint, which is dropped;
        /// `None` when the database names none.
        name: Option<String>,
        /// The key's columns before the change; empty for no key.
        from: Vec<String>,
        /// The key's columns after the change; empty for no key.
        to: Vec<String>,
    },
    /// A unique constraint added to a table that exists.
    AddUnique {
        /// The table's name.
        table: String,
        /// The new constraint.
        unique: Unique,
    },
    /// A unique constraint removed from a table that stays.
    DropUnique {
        /// The table's name.
        table: String,
        /// The constraint as it was.
        unique: Unique,
    },
    /// A new index, on a new or an existing table.
    CreateIndex {
        /// The table's name.
        table: String,
        /// The new index.
        index: Index,
    },
    /// An index removed from a table that stays (a dropped table takes its
    /// indexes along).
    DropIndex {
        /// The table's name.
        table: String,
        /// The index as it was.
        index: Index,
    },
    /// A new foreign key; it comes after every table is created.
    AddForeignKey {
        /// The name of the table that holds the key.
        table: String,
        /// The new foreign key.
        foreign_key: ForeignKey,
    },
    /// A foreign key removed; it comes before any table is dropped.
    DropForeignKey {
        /// The name of the table that holds the key.
        table: String,
        /// The foreign key as it was.
        foreign_key: ForeignKey,
    },
    /// A check constraint added to a table that exists.
    AddCheck {
        /// The table's name.
        table: String,
        /// The new constraint.
        check: Check,
    },
    /// A check constraint removed from a table that stays.
    DropCheck {
        /// The table's name.
        table: String,
        /// The constraint as it was.
        check: Check,
    },
}

/// Why an [`Object`] is created or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Why {
    /// Only the target has it.
    New,
    /// Only the current schema has it.
    Removed,
    /// Its definition changed, and it cannot be replaced in place: dropped,
    /// then created with the new one.
    Changed,
    /// It is the same, but something it depends on changes (a view over a
    /// column whose type changes): dropped before and created again after.
    Dependency,
}

impl Change {
    /// Whether applying it can lose data.
    pub fn is_destructive(&self) -> bool {
        match self {
            // A generated column's values come back from its expression.
            Change::DropColumn { column, .. } => !matches!(column.filled, Some(Filled::Stored(_) | Filled::Virtual(_))),
            Change::DropTable(_) | Change::DropEnum { .. } => true,
            // A sequence's position is data.
            Change::DropObject { object, why: Why::Removed } => object.kind == ObjectKind::Sequence,
            Change::RecreateEnum { from, to, .. } => from.iter().any(|label| !to.contains(label)),
            Change::AlterColumn { from, to, .. } => {
                from.data_type != to.data_type && !widens(&from.data_type, &to.data_type)
            }
            _ => false,
        }
    }
}

/// Whether every value of type `from` converts to `to` unchanged: a longer
/// `varchar`, `text` for any character type, a wider integer, a float or
/// numeric that holds more. Types as the databases print them, lowercase.
fn widens(from: &str, to: &str) -> bool {
    /// `character varying(20)` -> ("character varying", Some(20)).
    fn split(t: &str) -> (&str, Option<Vec<u32>>) {
        match t.split_once('(') {
            Some((base, rest)) => {
                let args = rest.trim_end_matches(')').split(',').map(|a| a.trim().parse().ok()).collect();
                (base.trim(), args)
            }
            None => (t.trim(), Some(Vec::new())),
        }
    }
    // A MySQL enum column keeps every value when labels are only added at the end.
    if let (Some(old), Some(new)) = (from.strip_prefix("enum("), to.strip_prefix("enum("))
        && new.strip_prefix(old.strip_suffix(')').unwrap_or(old)).is_some_and(|rest| rest.starts_with(','))
    {
        return true;
    }
    let ((from_base, from_args), (to_base, to_args)) = (split(from), split(to));
    let (Some(from_args), Some(to_args)) = (from_args, to_args) else { return false };
    let character = ["character varying", "varchar", "character", "char", "text"];
    // MySQL's `int` is `integer`; its `tinyint` and `mediumint` rank around it.
    let integers = ["tinyint", "smallint", "mediumint", "integer", "bigint"];
    let rank = |list: &[&str], t: &str| list.iter().position(|x| *x == if t == "int" { "integer" } else { t });
    match (from_base, to_base) {
        (f, "text") if character.contains(&f) => true,
        ("character varying" | "varchar", "character varying" | "varchar") => {
            to_args.is_empty() || from_args.first().zip(to_args.first()).is_some_and(|(f, t)| t >= f)
        }
        (f, t) if rank(&integers, f).zip(rank(&integers, t)).is_some_and(|(f, t)| t > f) => true,
        ("smallint" | "integer", "numeric") if to_args.is_empty() => true,
        ("smallint" | "integer" | "bigint", "numeric") => {
            // numeric(p, s) holds an integer of p - s digits.
            let (p, s) = (to_args.first().copied().unwrap_or(0), to_args.get(1).copied().unwrap_or(0));
            let digits = match from_base {
                "smallint" => 5,
                "integer" => 10,
                _ => 19,
            };
            p.saturating_sub(s) >= digits
        }
        ("real", "double precision") => true,
        ("numeric", "numeric") => {
            if to_args.is_empty() {
                return true;
            }
            let (fp, fs) = (from_args.first().copied(), from_args.get(1).copied().unwrap_or(0));
            let (tp, ts) = (to_args.first().copied().unwrap_or(0), to_args.get(1).copied().unwrap_or(0));
            fp.is_some_and(|fp| ts >= fs && tp.saturating_sub(ts) >= fp.saturating_sub(fs))
        }
        _ => false,
    }
}

/// How a column is filled, in words.
fn filled(filled: Option<&Filled>) -> String {
    match filled {
        None => "no".into(),
        Some(Filled::Rowid) => "rowid".into(),
        Some(Filled::Autoincrement) => "rowid with AUTOINCREMENT".into(),
        Some(Filled::Serial) => "serial".into(),
        Some(Filled::IdentityAlways) => "identity (always)".into(),
        Some(Filled::IdentityByDefault) => "identity (by default)".into(),
        Some(Filled::Stored(expression)) => format!("generated from ({expression})"),
        Some(Filled::Virtual(expression)) => format!("generated when read from ({expression})"),
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Unmodelled { object, added: true, source } => {
                let at = source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
                write!(f, "new {object}{at}, which autogenerate cannot write: add it to the revision by hand")
            }
            Change::Unmodelled { object, added: false, .. } => {
                write!(f, "{object} removed, which autogenerate cannot write: drop it in the revision by hand")
            }
            Change::CreateObject { object, why } => match why {
                Why::New => write!(f, "new {}", object.key()),
                Why::Changed => write!(f, "{} changed", object.key()),
                _ => write!(f, "{} created again, after what it depends on changes", object.key()),
            },
            Change::DropObject { object, why } => match why {
                Why::Removed => write!(f, "{} removed", object.key()),
                Why::Changed => write!(f, "{} dropped, to be created with its new definition", object.key()),
                _ => write!(f, "{} dropped, to be created again after what it depends on changes", object.key()),
            },
            Change::ReplaceObject { to, .. } => write!(f, "{} changed", to.key()),
            Change::SetUnlogged { table, unlogged } => {
                write!(f, "table {table} now {}", if *unlogged { "unlogged" } else { "logged" })
            }
            Change::AlterPartition { table, to: Some(to), .. } => {
                write!(f, "table {table} now a partition of {} {}", to.parent, to.bound)
            }
            Change::AlterPartition { table, from, to: None } => write!(
                f,
                "table {table} no longer a partition of {}",
                from.as_ref().map_or("its table", |p| p.parent.as_str())
            ),
            Change::AlterPartitionKey { table, from, to } => write!(
                f,
                "partition key of {table} changed: {} -> {}",
                from.as_deref().unwrap_or("none"),
                to.as_deref().unwrap_or("none")
            ),
            Change::AddExclusion { table, exclusion } => {
                write!(f, "new exclusion constraint {} on {table}", exclusion.name)
            }
            Change::ValidateConstraint { table, name } => write!(f, "constraint {name} on {table} validated"),
            Change::DropExclusion { table, exclusion } => {
                write!(f, "exclusion constraint {} on {table} removed", exclusion.name)
            }
            Change::CreateExtension { name } => write!(f, "new extension {name}"),
            Change::DropExtension { name } => write!(f, "extension {name} removed"),
            Change::CreateEnum { name, labels } => write!(f, "new enum {name} ({})", labels.join(", ")),
            Change::AddEnumValue { name, label, .. } => write!(f, "new value '{label}' in enum {name}"),
            Change::RecreateEnum { name, to, .. } => write!(f, "enum {name} now ({})", to.join(", ")),
            Change::DropEnum { name, .. } => write!(f, "enum {name} removed"),
            Change::CreateTable(t) => write!(f, "new table {}", t.name),
            Change::DropTable(t) => write!(f, "table {} removed", t.name),
            Change::AddColumn { table, column } => {
                write!(f, "new column {table}.{} ({})", column.name, column.data_type)
            }
            Change::DropColumn { table, column } => write!(f, "column {table}.{} removed", column.name),
            Change::AlterColumn { table, from, to } => {
                let mut what = Vec::new();
                if from.data_type != to.data_type {
                    what.push(format!("type {} -> {}", from.data_type, to.data_type));
                }
                if from.nullable != to.nullable {
                    what.push(if to.nullable { "now nullable".to_owned() } else { "now NOT NULL".to_owned() });
                }
                if from.default != to.default {
                    what.push(format!(
                        "default {} -> {}",
                        from.default.as_deref().unwrap_or("none"),
                        to.default.as_deref().unwrap_or("none")
                    ));
                }
                if from.filled != to.filled {
                    what.push(format!(
                        "filled by the database: {} -> {}",
                        filled(from.filled.as_ref()),
                        filled(to.filled.as_ref())
                    ));
                }
                write!(f, "column {table}.{} changed: {}", to.name, what.join(", "))
            }
            Change::AlterPrimaryKey { table, from, to, .. } => {
                write!(f, "primary key of {table} changed: ({}) -> ({})", from.join(", "), to.join(", "))
            }
            Change::AddUnique { table, unique } => write!(f, "new unique ({}) on {table}", unique.columns.join(", ")),
            Change::DropUnique { table, unique } => {
                write!(f, "unique ({}) on {table} removed", unique.columns.join(", "))
            }
            Change::CreateIndex { table, index } => write!(f, "new index {} on {table}", index.name),
            Change::DropIndex { table, index } => write!(f, "index {} on {table} removed", index.name),
            Change::AddForeignKey { table, foreign_key } => {
                write!(
                    f,
                    "new foreign key {table} ({}) -> {}",
                    foreign_key.columns.join(", "),
                    foreign_key.referenced_table
                )
            }
            Change::DropForeignKey { table, foreign_key } => write!(
                f,
                "foreign key {table} ({}) -> {} removed",
                foreign_key.columns.join(", "),
                foreign_key.referenced_table
            ),
            Change::AddCheck { table, check } => write!(f, "new check ({}) on {table}", check.expression),
            Change::DropCheck { table, check } => write!(f, "check ({}) on {table} removed", check.expression),
        }
    }
}

/// What turns `from` into `to`. Empty when they are the same.
///
/// ```
/// use migrate_runtime::schema::{Change, Column, Schema, Table, diff};
///
/// let column = |name: &str, data_type: &str| Column {
///     name: name.into(),
///     data_type: data_type.into(),
///     nullable: true,
///     default: None,
///     filled: None,
/// };
/// let users = Table { name: "users".into(), columns: vec![column("id", "integer")], ..Table::default() };
/// let before = Schema { tables: [("users".to_owned(), users)].into(), ..Schema::default() };
/// let mut after = before.clone();
/// after.tables.get_mut("users").expect("users").columns.push(column("email", "text"));
///
/// let changes = diff(&before, &after);
/// assert!(matches!(&changes[..], [Change::AddColumn { table, column }] if table == "users" && column.name == "email"));
/// assert_eq!(changes[0].to_string(), "new column users.email (text)");
/// assert!(!changes[0].is_destructive(), "dropping the column would be");
/// assert!(diff(&after, &before)[0].is_destructive());
/// assert!(diff(&after, &after).is_empty());
/// ```
pub fn diff(from: &Schema, to: &Schema) -> Vec<Change> {
    let mut drop_keys = Vec::new();
    let mut drops = Vec::new();
    let mut creates = Vec::new();
    let mut alters = Vec::new();
    let mut add_keys = Vec::new();

    for object in to.unmodelled.difference(&from.unmodelled) {
        creates.push(Change::Unmodelled { object: object.clone(), added: true, source: None });
    }
    for object in from.unmodelled.difference(&to.unmodelled) {
        creates.push(Change::Unmodelled { object: object.clone(), added: false, source: None });
    }
    for name in to.extensions.difference(&from.extensions) {
        creates.push(Change::CreateExtension { name: name.clone() });
    }
    for (name, labels) in &to.enums {
        match from.enums.get(name) {
            None => creates.push(Change::CreateEnum { name: name.clone(), labels: labels.clone() }),
            Some(old) => {
                let kept: Vec<&String> = labels.iter().filter(|l| old.contains(l)).collect();
                if kept.len() != old.len() || kept.iter().zip(old).any(|(k, o)| *k != o) {
                    creates.push(Change::RecreateEnum { name: name.clone(), from: old.clone(), to: labels.clone() });
                    continue;
                }
                for (i, label) in labels.iter().enumerate() {
                    if !old.contains(label) {
                        let after = i.checked_sub(1).map(|j| labels[j].clone());
                        let before = if after.is_none() { old.first().cloned() } else { None };
                        creates.push(Change::AddEnumValue { name: name.clone(), label: label.clone(), after, before });
                    }
                }
            }
        }
    }
    // Partitions after the tables they belong to.
    let mut new_tables: Vec<&Table> = to.tables.values().filter(|t| !from.tables.contains_key(&t.name)).collect();
    new_tables.sort_by_key(|t| t.partition_of.is_some());
    let mut create_tables = Vec::new();
    for table in new_tables {
        let name = &table.name;
        let mut bare = table.clone();
        bare.foreign_keys.clear();
        let indexes = std::mem::take(&mut bare.indexes);
        // CREATE TABLE checks every row; NOT VALID is for ALTER TABLE ... ADD.
        let (not_valid, checks) = std::mem::take(&mut bare.checks).into_iter().partition(|c| c.not_valid);
        bare.checks = checks;
        create_tables.push(Change::CreateTable(bare));
        for check in not_valid {
            alters.push(Change::AddCheck { table: name.clone(), check });
        }
        for index in indexes {
            alters.push(Change::CreateIndex { table: name.clone(), index });
        }
        for foreign_key in &table.foreign_keys {
            add_keys.push(Change::AddForeignKey { table: name.clone(), foreign_key: foreign_key.clone() });
        }
    }
    let recreated: Vec<&String> = creates
        .iter()
        .filter_map(|c| match c {
            Change::RecreateEnum { name, .. } => Some(name),
            _ => None,
        })
        .collect();
    for (name, table) in &to.tables {
        if let Some(old) = from.tables.get(name) {
            diff_table(old, table, &recreated, &mut drop_keys, &mut alters, &mut add_keys);
        }
    }
    // Partitions before the tables they belong to (which would take them along).
    let mut old_tables: Vec<&Table> = from.tables.values().filter(|t| !to.tables.contains_key(&t.name)).collect();
    old_tables.sort_by_key(|t| t.partition_of.is_none());
    for table in old_tables {
        for foreign_key in &table.foreign_keys {
            drop_keys.push(Change::DropForeignKey { table: table.name.clone(), foreign_key: foreign_key.clone() });
        }
        let mut bare = table.clone();
        bare.foreign_keys.clear();
        drops.push(Change::DropTable(bare));
    }
    // Tables whose columns change under what may be built on them.
    // Columns whose type changes, or that go; a recreated enum changes the
    // type of every column of it.
    let mut reshaped: BTreeSet<String> = alters
        .iter()
        .filter_map(|change| match change {
            Change::AlterColumn { table, from, to } if from.data_type != to.data_type => {
                Some(column_key(table, &to.name))
            }
            Change::DropColumn { table, column } => Some(column_key(table, &column.name)),
            _ => None,
        })
        .collect();
    for change in &creates {
        if let Change::RecreateEnum { name, .. } = change {
            for table in from.tables.values() {
                for column in table.columns.iter().filter(|c| super::is_of_type(&c.data_type, name)) {
                    reshaped.insert(column_key(&table.name, &column.name));
                }
            }
        }
    }
    let mut objects = diff_objects(from, to, &reshaped);
    // Schemas before anything that may live in them, and after, when dropped.
    let is_schema = |c: &Change| matches!(c, Change::CreateObject { object, .. } | Change::DropObject { object, .. } if object.kind == ObjectKind::Schema);
    let (new_schemas, before_tables): (Vec<Change>, Vec<Change>) =
        std::mem::take(&mut objects.before_tables).into_iter().partition(is_schema);
    let (old_schemas, after_tables): (Vec<Change>, Vec<Change>) =
        std::mem::take(&mut objects.after_tables).into_iter().partition(is_schema);
    objects.before_tables = before_tables;
    objects.after_tables = after_tables;
    creates.splice(0..0, new_schemas);
    creates.extend(objects.before_tables);
    creates.extend(create_tables);
    drops.extend(objects.after_tables);
    for (name, labels) in &from.enums {
        if !to.enums.contains_key(name) {
            drops.push(Change::DropEnum { name: name.clone(), labels: labels.clone() });
        }
    }
    // Extensions go after what may use them.
    for name in from.extensions.difference(&to.extensions) {
        drops.push(Change::DropExtension { name: name.clone() });
    }
    drops.extend(old_schemas);
    let mut changes = objects.drop_first;
    changes.extend(drop_keys);
    changes.extend(creates);
    changes.extend(alters);
    changes.extend(drops);
    changes.extend(add_keys);
    changes.extend(objects.create_last);
    changes
}

/// The object changes of a diff, by where they go among the table changes.
#[derive(Default)]
struct ObjectChanges {
    /// Drops of what is built on tables (views, triggers, comments, grants,
    /// policies): before any table changes.
    drop_first: Vec<Change>,
    /// Creations of what tables may use (sequences, domains, types,
    /// functions): before the tables are created.
    before_tables: Vec<Change>,
    /// Drops of what tables may use: after the tables are dropped.
    after_tables: Vec<Change>,
    /// Creations of what is built on tables: after every table change.
    create_last: Vec<Change>,
}

/// What turns `from`'s objects into `to`'s. `reshaped` holds the keys of
/// columns whose type changes or that go: views, triggers and policies
/// using them are dropped before and created again after, as PostgreSQL
/// requires.
fn diff_objects(from: &Schema, to: &Schema, reshaped: &BTreeSet<String>) -> ObjectChanges {
    let mut dropped: BTreeMap<String, Why> = BTreeMap::new();
    let mut created: BTreeMap<String, Why> = BTreeMap::new();
    let mut in_place = Vec::new();
    for (key, object) in &from.objects {
        match to.objects.get(key) {
            None => {
                dropped.insert(key.clone(), Why::Removed);
            }
            Some(new) if new.definition != object.definition => {
                if object.kind.replaced_in_place() && same_signature(object, new) {
                    in_place.push(Change::ReplaceObject { from: object.clone(), to: new.clone() });
                } else {
                    dropped.insert(key.clone(), Why::Changed);
                    created.insert(key.clone(), Why::Changed);
                }
            }
            Some(_) => {}
        }
    }
    for key in to.objects.keys().filter(|k| !from.objects.contains_key(*k)) {
        created.insert(key.clone(), Why::New);
    }
    // What depends on a dropped object, or (for views) on a reshaped table, goes too.
    loop {
        let more: Vec<String> = from
            .objects
            .iter()
            .filter(|(key, _)| !dropped.contains_key(*key) && to.objects.contains_key(*key))
            .filter(|(_, object)| {
                object.depends_on.iter().any(|d| dropped.contains_key(d))
                    || (object.kind.follows_columns() && !object.depends_on.is_disjoint(reshaped))
            })
            .map(|(key, _)| key.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        for key in more {
            dropped.insert(key.clone(), Why::Dependency);
            created.insert(key, Why::Dependency);
        }
    }
    let mut changes = ObjectChanges::default();
    for key in creation_order(&from.objects, dropped.keys()).into_iter().rev() {
        let object = from.objects[&key].clone();
        let change = Change::DropObject { why: dropped[&key], object };
        if on_tables(&from.objects, &key) {
            changes.drop_first.push(change);
        } else {
            changes.after_tables.push(change);
        }
    }
    for change in in_place {
        let Change::ReplaceObject { to: object, .. } = &change else { continue };
        if on_tables(&to.objects, &object.key()) {
            changes.create_last.push(change);
        } else {
            changes.before_tables.push(change);
        }
    }
    for key in creation_order(&to.objects, created.keys()) {
        let object = to.objects[&key].clone();
        let change = Change::CreateObject { why: created[&key], object };
        if on_tables(&to.objects, &key) {
            changes.create_last.push(change);
        } else {
            changes.before_tables.push(change);
        }
    }
    changes
}

/// Whether a function's replacement keeps what PostgreSQL's `CREATE OR
/// REPLACE` must keep: everything before the body but the body's options
/// (the `RETURNS` line above all). Comments always can be replaced.
fn same_signature(from: &Object, to: &Object) -> bool {
    if from.kind == ObjectKind::Comment {
        return true;
    }
    let returns =
        |definition: &str| definition.lines().find(|l| l.trim_start().starts_with("RETURNS")).map(str::to_owned);
    returns(&from.definition) == returns(&to.definition)
}

/// Whether the object `key` is built on a table, directly or through other
/// objects: such objects are created after the tables and dropped before.
fn on_tables(objects: &BTreeMap<String, Object>, key: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![key.to_owned()];
    while let Some(key) = stack.pop() {
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(object) = objects.get(&key) else { continue };
        if object.depends_on.iter().any(|d| d.starts_with("table ")) {
            return true;
        }
        stack.extend(object.depends_on.iter().cloned());
    }
    false
}

/// `keys` ordered so that each comes after what it depends on, by kind and
/// name where nothing decides.
pub(super) fn creation_order<'a>(
    objects: &BTreeMap<String, Object>,
    keys: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    let wanted: BTreeSet<&String> = keys.collect();
    let mut start: Vec<&Object> = wanted.iter().filter_map(|k| objects.get(*k)).collect();
    start.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    fn visit(
        key: &str,
        objects: &BTreeMap<String, Object>,
        wanted: &BTreeSet<&String>,
        done: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) {
        if !done.insert(key.to_owned()) {
            return;
        }
        if let Some(object) = objects.get(key) {
            for dependency in &object.depends_on {
                if wanted.contains(dependency) {
                    visit(dependency, objects, wanted, done, order);
                }
            }
        }
        order.push(key.to_owned());
    }
    for object in start {
        visit(&object.key(), objects, &wanted, &mut done, &mut order);
    }
    order
}

fn diff_table(
    old: &Table,
    new: &Table,
    recreated: &[&String],
    drop_keys: &mut Vec<Change>,
    alters: &mut Vec<Change>,
    add_keys: &mut Vec<Change>,
) {
    let table = new.name.clone();
    if old.unlogged != new.unlogged {
        alters.push(Change::SetUnlogged { table: table.clone(), unlogged: new.unlogged });
    }
    if old.partition_of != new.partition_of {
        alters.push(Change::AlterPartition {
            table: table.clone(),
            from: old.partition_of.clone(),
            to: new.partition_of.clone(),
        });
    }
    if old.partition_by != new.partition_by {
        alters.push(Change::AlterPartitionKey {
            table: table.clone(),
            from: old.partition_by.clone(),
            to: new.partition_by.clone(),
        });
    }
    for exclusion in old.exclusions.iter().filter(|x| !new.exclusions.contains(x)) {
        alters.push(Change::DropExclusion { table: table.clone(), exclusion: exclusion.clone() });
    }
    // A NOT VALID constraint made valid is validated in place.
    let validated_fk = |o: &ForeignKey, n: &ForeignKey| {
        o.not_valid && !n.not_valid && o.name.is_some() && same_fk(o, &ForeignKey { not_valid: true, ..n.clone() })
    };
    let validated_check = |o: &Check, n: &Check| {
        o.not_valid && !n.not_valid && o.name.is_some() && o.name == n.name && o.expression == n.expression
    };
    for foreign_key in
        old.foreign_keys.iter().filter(|k| !new.foreign_keys.iter().any(|n| same_fk(n, k) || validated_fk(k, n)))
    {
        drop_keys.push(Change::DropForeignKey { table: table.clone(), foreign_key: foreign_key.clone() });
    }
    // An index or check that names a value of an enum being recreated
    // (`WHERE status = 'paid'::order_status`) would name the old type: it
    // goes before the enum is recreated and comes back after.
    let names_recreated =
        |text: Option<&str>| text.is_some_and(|text| recreated.iter().any(|name| super::mentions_type(text, name)));
    let kept_index = |i: &Index| new.indexes.contains(i) && !names_recreated(i.definition.as_deref());
    for index in old.indexes.iter().filter(|i| !kept_index(i)) {
        let drop = Change::DropIndex { table: table.clone(), index: index.clone() };
        if names_recreated(index.definition.as_deref()) { drop_keys.push(drop) } else { alters.push(drop) }
    }
    for unique in old.uniques.iter().filter(|u| !new.uniques.iter().any(|n| same_unique(n, u))) {
        alters.push(Change::DropUnique { table: table.clone(), unique: unique.clone() });
    }
    let kept_check = |c: &Check| {
        new.checks.iter().any(|n| same_check(n, c) || validated_check(c, n)) && !names_recreated(Some(&c.expression))
    };
    for check in old.checks.iter().filter(|c| !kept_check(c)) {
        let drop = Change::DropCheck { table: table.clone(), check: check.clone() };
        if names_recreated(Some(&check.expression)) { drop_keys.push(drop) } else { alters.push(drop) }
    }
    for column in &new.columns {
        match old.column(&column.name) {
            None => alters.push(Change::AddColumn { table: table.clone(), column: column.clone() }),
            Some(before) if before != column => {
                alters.push(Change::AlterColumn { table: table.clone(), from: before.clone(), to: column.clone() })
            }
            Some(_) => {}
        }
    }
    for column in old.columns.iter().filter(|c| new.column(&c.name).is_none()) {
        alters.push(Change::DropColumn { table: table.clone(), column: column.clone() });
    }
    if old.primary_key != new.primary_key {
        alters.push(Change::AlterPrimaryKey {
            table: table.clone(),
            name: old.primary_key_name.clone(),
            from: old.primary_key.clone(),
            to: new.primary_key.clone(),
        });
    }
    for check in new.checks.iter().filter(|c| !old.checks.iter().any(|o| kept_check(o) && same_check(o, c))) {
        match (old.checks.iter().any(|o| validated_check(o, check)), &check.name) {
            (true, Some(name)) => alters.push(Change::ValidateConstraint { table: table.clone(), name: name.clone() }),
            _ => alters.push(Change::AddCheck { table: table.clone(), check: check.clone() }),
        }
    }
    for unique in new.uniques.iter().filter(|u| !old.uniques.iter().any(|o| same_unique(o, u))) {
        alters.push(Change::AddUnique { table: table.clone(), unique: unique.clone() });
    }
    for index in new.indexes.iter().filter(|i| !old.indexes.iter().any(|o| o == *i && kept_index(o))) {
        alters.push(Change::CreateIndex { table: table.clone(), index: index.clone() });
    }
    for exclusion in new.exclusions.iter().filter(|x| !old.exclusions.contains(x)) {
        alters.push(Change::AddExclusion { table: table.clone(), exclusion: exclusion.clone() });
    }
    for foreign_key in new.foreign_keys.iter().filter(|k| !old.foreign_keys.iter().any(|o| same_fk(o, k))) {
        match (old.foreign_keys.iter().any(|o| validated_fk(o, foreign_key)), &foreign_key.name) {
            (true, Some(name)) => {
                add_keys.push(Change::ValidateConstraint { table: table.clone(), name: name.clone() })
            }
            _ => add_keys.push(Change::AddForeignKey { table: table.clone(), foreign_key: foreign_key.clone() }),
        }
    }
}

/// Foreign keys are the same when they say the same thing under the same
/// name (where both have one: SQLite reports none).
fn same_fk(a: &ForeignKey, b: &ForeignKey) -> bool {
    a.columns == b.columns
        && a.referenced_table == b.referenced_table
        && a.referenced_columns == b.referenced_columns
        && a.on_delete == b.on_delete
        && a.on_update == b.on_update
        && a.deferrable == b.deferrable
        && a.not_valid == b.not_valid
        && same_name(&a.name, &b.name)
}

fn same_unique(a: &Unique, b: &Unique) -> bool {
    a.columns == b.columns
        && a.deferrable == b.deferrable
        && a.nulls_not_distinct == b.nulls_not_distinct
        && same_name(&a.name, &b.name)
}

fn same_check(a: &Check, b: &Check) -> bool {
    a.expression == b.expression && a.not_valid == b.not_valid && same_name(&a.name, &b.name)
}

/// Names matter where both sides have one.
fn same_name(a: &Option<String>, b: &Option<String>) -> bool {
    a.is_none() || b.is_none() || a == b
}

#[cfg(test)]
mod widening {
    use super::widens;

    #[test]
    fn only_conversions_that_keep_every_value_widen() {
        for (from, to) in [
            ("character varying(20)", "character varying(32)"),
            ("character varying(20)", "text"),
            ("character varying(20)", "character varying"),
            ("integer", "bigint"),
            ("smallint", "integer"),
            ("integer", "numeric"),
            ("integer", "numeric(12,2)"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric(12,4)"),
            ("real", "double precision"),
            ("int", "bigint"),
            ("tinyint", "int"),
            ("enum('a','b')", "enum('a','b','c')"),
        ] {
            assert!(widens(from, to), "{from} -> {to}");
        }
        for (from, to) in [
            ("character varying(32)", "character varying(20)"),
            ("text", "character varying(20)"),
            ("bigint", "integer"),
            ("integer", "numeric(10,2)"),
            ("numeric(10,2)", "numeric(10,4)"),
            ("numeric(10,2)", "integer"),
            ("text", "integer"),
            ("double precision", "real"),
            ("bigint", "int"),
            ("enum('a','b')", "enum('b','a')"),
            ("enum('a','b')", "enum('a')"),
            ("enum('a','b')", "enum('a','bc')"),
        ] {
            assert!(!widens(from, to), "{from} -> {to}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, data_type: &str, nullable: bool) -> Column {
        Column { name: name.into(), data_type: data_type.into(), nullable, default: None, filled: None }
    }

    fn table(name: &str, columns: Vec<Column>) -> Table {
        Table { name: name.into(), columns, primary_key: vec!["id".into()], ..Table::default() }
    }

    fn schema(tables: Vec<Table>) -> Schema {
        Schema { tables: tables.into_iter().map(|t| (t.name.clone(), t)).collect(), ..Schema::default() }
    }

    #[test]
    fn no_difference_no_change() {
        let s = schema(vec![table("users", vec![column("id", "integer", false)])]);
        assert!(diff(&s, &s).is_empty());
    }

    #[test]
    fn columns_added_dropped_and_altered() {
        let before = schema(vec![table("users", vec![column("id", "integer", false), column("nick", "text", true)])]);
        let after = schema(vec![table("users", vec![column("id", "bigint", false), column("email", "text", false)])]);
        let changes = diff(&before, &after);
        assert_eq!(changes.len(), 3, "{changes:#?}");
        assert!(matches!(&changes[0], Change::AlterColumn { to, .. } if to.data_type == "bigint"));
        assert!(matches!(&changes[1], Change::AddColumn { column, .. } if column.name == "email"));
        assert!(matches!(&changes[2], Change::DropColumn { column, .. } if column.name == "nick"));
        assert!(!changes[0].is_destructive(), "integer to bigint keeps every value");
        assert!(!changes[1].is_destructive() && changes[2].is_destructive());
    }

    #[test]
    fn new_tables_come_before_the_keys_that_point_at_them() {
        let fk = ForeignKey {
            name: None,
            columns: vec!["user_id".into()],
            referenced_table: "users".into(),
            referenced_columns: vec!["id".into()],
            on_delete: "CASCADE".into(),
            on_update: "NO ACTION".into(),
            ..ForeignKey::default()
        };
        let mut posts = table("posts", vec![column("id", "integer", false), column("user_id", "integer", false)]);
        posts.foreign_keys.push(fk);
        let after = schema(vec![table("users", vec![column("id", "integer", false)]), posts]);
        let changes = diff(&Schema::default(), &after);
        let kinds: Vec<&str> = changes
            .iter()
            .map(|c| match c {
                Change::CreateTable(t) => t.name.as_str(),
                Change::AddForeignKey { .. } => "fk",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["posts", "users", "fk"]);
        let back = diff(&after, &Schema::default());
        assert!(matches!(back[0], Change::DropForeignKey { .. }), "{back:#?}");
    }

    #[test]
    fn enum_values_are_added_in_place() {
        let mut before = Schema::default();
        before.enums.insert("mood".into(), vec!["sad".into(), "happy".into()]);
        let mut after = before.clone();
        after.enums.insert("mood".into(), vec!["sad".into(), "ok".into(), "happy".into()]);
        assert_eq!(
            diff(&before, &after),
            [Change::AddEnumValue { name: "mood".into(), label: "ok".into(), after: Some("sad".into()), before: None }]
        );
    }
}
