//! MariaDB and MySQL introspection (feature `mysql`): `information_schema`
//! of the session's database (`DATABASE()`), each view read once for all
//! tables.
//!
//! What is normalised, so that a schema built from a revision and the same
//! schema built another way compare equal (and MariaDB and MySQL 8 print alike):
//! - Types are `COLUMN_TYPE`, lowercase, without integer display widths
//!   (`int(11)` is `int`, `tinyint(1)` is `tinyint`, `bigint(20) unsigned`
//!   is `bigint unsigned`). MariaDB's `json` is a `longtext` with a column
//!   check `json_valid(`col`)` named after it: that is the type `json` again,
//!   without the check.
//! - What MySQL keeps with a column's definition rather than as a table's
//!   constraint is part of `data_type`, after the type: `on update
//!   current_timestamp()` and a column-level check (`CHECK (...)` written on
//!   the column, which `DROP CONSTRAINT` cannot drop; only `MODIFY COLUMN`
//!   changes it). The renderer writes them after `NOT NULL`/`DEFAULT`.
//! - Defaults: MariaDB prints a literal quoted (`'x''y'`), a number bare,
//!   an expression as text (`current_timestamp()`), and `NULL` for a
//!   nullable column without one, which is no default. MySQL 8 prints
//!   literals unquoted and marks expressions `DEFAULT_GENERATED`: they are
//!   quoted, or parenthesised, to MariaDB's form. `CURRENT_TIMESTAMP` in
//!   any spelling is `current_timestamp()`.
//! - `AUTO_INCREMENT` is [`Filled::IdentityByDefault`]: the server fills it
//!   unless a value is given. Generated columns are
//!   [`Filled::Stored`]/[`Filled::Virtual`] with the expression as printed.
//! - The primary key has no name (MySQL calls every one `PRIMARY`); every
//!   other unique index is a [`Unique`] named after it; other indexes are
//!   [`Index`]es whose `definition` is the `CREATE INDEX` statement
//!   (`FULLTEXT`/`SPATIAL`, prefix lengths `col(10)` and `DESC` included).
//!   The index MySQL creates for a foreign key without one is an ordinary
//!   index: a revision creates it explicitly before the key, and it stays
//!   when the key goes, as on the server.
//! - Foreign key actions: `RESTRICT` is `NO ACTION`, as InnoDB treats them
//!   alike (and prints `RESTRICT` for a key that names none).
//! - Views are [`Object`]s by `information_schema.VIEWS`' text with the
//!   database's name taken out (`` `db`.`users` `` is `` `users` ``), so
//!   scratch databases of other names print alike; triggers by their timing,
//!   event, table and statement. Stored procedures and functions, events,
//!   sequences and system versioning are [`Schema::unmodelled`]: a difference
//!   is reported, for a person to write.
//!
//! Not compared: storage engines, character sets and collations, table and
//! column comments, `AUTO_INCREMENT` counters, partitioning, the order of
//! several triggers on one event, and expression (functional) index parts
//! of MySQL 8, which read as `?`.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Check, Column, Filled, ForeignKey, Index, Object, ObjectKind, Schema, Table, Unique, backquote, is_bookkeeping,
    normalise_action, table_key,
};
use crate::db::cell;
use crate::{Database, DbError};

type Rows = Vec<Vec<Option<String>>>;

pub(super) fn introspect(db: &mut dyn Database, exclude: &str) -> Result<Schema, DbError> {
    let version = db.query_text("SELECT VERSION(), DATABASE()")?;
    let mariadb = version.first().is_some_and(|row| cell(row, 0).contains("MariaDB"));
    let database = version.first().map(|row| cell(row, 1)).unwrap_or_default();
    if database.is_empty() {
        return Err(DbError::new("no database selected: name one in the URL to read its schema"));
    }
    let mut schema = Schema::default();
    let tables: Rows = db.query_text(
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
    )?;
    for row in &tables {
        let (name, kind) = (cell(row, 0), cell(row, 1));
        if is_bookkeeping(&name, exclude) {
            continue;
        }
        match kind.as_str() {
            "BASE TABLE" => {}
            "SYSTEM VERSIONED" => {
                schema.unmodelled.insert(format!("system versioning on {name}"));
            }
            "SEQUENCE" => {
                schema.unmodelled.insert(format!("sequence {name}"));
                continue;
            }
            _ => continue,
        }
        schema.tables.insert(name.clone(), Table { name, ..Table::default() });
    }
    columns(db, &mut schema, mariadb)?;
    indexes(db, &mut schema)?;
    foreign_keys(db, &mut schema)?;
    checks(db, &mut schema, mariadb)?;
    objects(db, &mut schema, &database, exclude)?;
    Ok(schema)
}

/// `int(11)` -> `int`, `bigint(20) unsigned` -> `bigint unsigned`.
fn normalise_type(column_type: &str) -> String {
    let lower = column_type.to_ascii_lowercase();
    for integer in ["tinyint", "smallint", "mediumint", "int", "bigint"] {
        if let Some(rest) = lower.strip_prefix(integer).and_then(|r| r.strip_prefix('('))
            && let Some((digits, tail)) = rest.split_once(')')
            && digits.chars().all(|c| c.is_ascii_digit())
        {
            return format!("{integer}{tail}");
        }
    }
    lower
}

/// Whether a (normalised) type holds numbers, whose defaults print bare.
fn numeric(data_type: &str) -> bool {
    let base = data_type.split(['(', ' ']).next().unwrap_or_default();
    [
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "integer",
        "bigint",
        "decimal",
        "numeric",
        "float",
        "double",
        "real",
        "bit",
        "year",
    ]
    .contains(&base)
}

/// `CURRENT_TIMESTAMP`, `current_timestamp()`, `now()` (with a precision
/// or without) -> `current_timestamp()` / `current_timestamp(6)`.
fn normalise_expression(text: &str) -> String {
    let lower = text.trim().to_ascii_lowercase();
    for name in ["current_timestamp", "now", "localtimestamp", "localtime"] {
        if let Some(rest) = lower.strip_prefix(name) {
            if rest.is_empty() || rest == "()" {
                return "current_timestamp()".into();
            }
            if rest.starts_with('(')
                && rest.ends_with(')')
                && rest[1..rest.len() - 1].chars().all(|c| c.is_ascii_digit())
            {
                return format!("current_timestamp{rest}");
            }
        }
    }
    text.trim().to_owned()
}

fn default(raw: Option<&str>, extra: &str, data_type: &str, mariadb: bool) -> Option<String> {
    let raw = raw?;
    if mariadb {
        // A nullable column without a default prints NULL.
        if raw.eq_ignore_ascii_case("NULL") {
            return None;
        }
        return Some(normalise_expression(raw));
    }
    if extra.to_ascii_uppercase().contains("DEFAULT_GENERATED") {
        let expression = normalise_expression(raw);
        return Some(if expression.starts_with("current_timestamp") { expression } else { format!("({expression})") });
    }
    if numeric(data_type) && raw.parse::<f64>().is_ok() {
        return Some(raw.to_owned());
    }
    Some(format!("'{}'", raw.replace('\'', "''")))
}

fn columns(db: &mut dyn Database, schema: &mut Schema, mariadb: bool) -> Result<(), DbError> {
    let rows = db.query_text(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, GENERATION_EXPRESSION \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
    )?;
    for row in rows {
        let Some(table) = schema.tables.get_mut(&cell(&row, 0)) else { continue };
        let data_type = normalise_type(&cell(&row, 2));
        let extra = cell(&row, 5);
        let lower_extra = extra.to_ascii_lowercase();
        let expression = cell(&row, 6);
        let filled = if lower_extra.contains("auto_increment") {
            Some(Filled::IdentityByDefault)
        } else if lower_extra.contains("stored generated") {
            Some(Filled::Stored(expression))
        } else if lower_extra.contains("virtual generated") {
            Some(Filled::Virtual(expression))
        } else {
            None
        };
        let generated = matches!(filled, Some(Filled::Stored(_) | Filled::Virtual(_)));
        let mut data_type_full = data_type.clone();
        if let Some(at) = lower_extra.find("on update ") {
            let on_update = normalise_expression(&extra[at + "on update ".len()..]);
            data_type_full.push_str(&format!(" on update {on_update}"));
        }
        table.columns.push(Column {
            name: cell(&row, 1),
            nullable: cell(&row, 3) == "YES",
            default: if generated { None } else { default(row[4].as_deref(), &extra, &data_type, mariadb) },
            data_type: data_type_full,
            filled,
        });
    }
    Ok(())
}

/// An index part as the model writes it: the name, or `` `name`(10) DESC ``
/// where it has a prefix length or a descending order.
fn part(column: &str, sub_part: &str, collation: &str) -> String {
    if sub_part.is_empty() && collation != "D" {
        return column.to_owned();
    }
    let mut text = backquote(column);
    if !sub_part.is_empty() {
        text.push_str(&format!("({sub_part})"));
    }
    if collation == "D" {
        text.push_str(" DESC");
    }
    text
}

fn indexes(db: &mut dyn Database, schema: &mut Schema) -> Result<(), DbError> {
    let rows = db.query_text(
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, INDEX_TYPE \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
    )?;
    // (table, index) -> (unique, kind, parts), in the order read.
    let mut found: BTreeMap<(String, String), (bool, String, Vec<String>)> = BTreeMap::new();
    for row in rows {
        let column = row[3].clone().unwrap_or_else(|| "?".into());
        let entry = found
            .entry((cell(&row, 0), cell(&row, 1)))
            .or_insert_with(|| (cell(&row, 2) == "0", cell(&row, 6), Vec::new()));
        entry.2.push(part(&column, &cell(&row, 4), &cell(&row, 5)));
    }
    for ((table_name, name), (unique, kind, parts)) in found {
        let Some(table) = schema.tables.get_mut(&table_name) else { continue };
        if name == "PRIMARY" {
            table.primary_key = parts;
            continue;
        }
        if unique {
            table.uniques.push(Unique { name: Some(name), columns: parts, ..Unique::default() });
            continue;
        }
        let kind = match kind.as_str() {
            "FULLTEXT" => "FULLTEXT ",
            "SPATIAL" => "SPATIAL ",
            _ => "",
        };
        let definition = format!(
            "CREATE {kind}INDEX {} ON {} ({})",
            backquote(&name),
            backquote(&table_name),
            parts.iter().map(|p| quote_part(p)).collect::<Vec<_>>().join(", ")
        );
        table.indexes.push(Index {
            name,
            columns: parts,
            unique: false,
            predicate: None,
            definition: Some(definition),
        });
    }
    Ok(())
}

/// An index part as SQL: a bare name quoted, `` `name`(10) DESC `` as it is.
pub(super) fn quote_part(part: &str) -> String {
    if part.starts_with('`') { part.to_owned() } else { backquote(part) }
}

fn foreign_keys(db: &mut dyn Database, schema: &mut Schema) -> Result<(), DbError> {
    let rules = db.query_text(
        "SELECT TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE \
         FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()",
    )?;
    let rules: BTreeMap<(String, String), (String, String)> =
        rules.iter().map(|r| ((cell(r, 0), cell(r, 1)), (cell(r, 2), cell(r, 3)))).collect();
    let rows = db.query_text(
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
         FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
         ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
    )?;
    let action = |rule: &str| match normalise_action(rule).as_str() {
        "RESTRICT" => "NO ACTION".to_owned(),
        other => other.to_owned(),
    };
    let mut keys: BTreeMap<(String, String), ForeignKey> = BTreeMap::new();
    for row in rows {
        let key = (cell(&row, 0), cell(&row, 1));
        let (on_update, on_delete) = rules.get(&key).cloned().unwrap_or_default();
        let fk = keys.entry(key.clone()).or_insert_with(|| ForeignKey {
            name: Some(key.1.clone()),
            referenced_table: cell(&row, 3),
            on_delete: action(&on_delete),
            on_update: action(&on_update),
            ..ForeignKey::default()
        });
        fk.columns.push(cell(&row, 2));
        fk.referenced_columns.push(cell(&row, 4));
    }
    for ((table, _), fk) in keys {
        if let Some(table) = schema.tables.get_mut(&table) {
            table.foreign_keys.push(fk);
        }
    }
    Ok(())
}

fn checks(db: &mut dyn Database, schema: &mut Schema, mariadb: bool) -> Result<(), DbError> {
    // MariaDB names checks per table and says which are a column's; MySQL 8
    // names them per database and has no column checks of its own.
    let rows = if mariadb {
        db.query_text(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE, LEVEL FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY TABLE_NAME, CONSTRAINT_NAME",
        )?
    } else {
        db.query_text(
            "SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, cc.CHECK_CLAUSE, 'Table' \
             FROM information_schema.TABLE_CONSTRAINTS AS tc JOIN information_schema.CHECK_CONSTRAINTS AS cc \
             ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME \
             WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK' ORDER BY 1, 2",
        )?
    };
    for row in rows {
        let Some(table) = schema.tables.get_mut(&cell(&row, 0)) else { continue };
        let (name, clause, level) = (cell(&row, 1), cell(&row, 2), cell(&row, 3));
        if level == "Column"
            && let Some(column) = table.columns.iter_mut().find(|c| c.name == name)
        {
            if clause == format!("json_valid({})", backquote(&name)) && column.data_type.starts_with("longtext") {
                column.data_type = column.data_type.replacen("longtext", "json", 1);
            } else {
                column.data_type.push_str(&format!(" CHECK ({clause})"));
            }
            continue;
        }
        table.checks.push(Check { name: Some(name), expression: clause, not_valid: false });
    }
    Ok(())
}

/// Views and triggers as objects; routines and events as unmodelled.
fn objects(db: &mut dyn Database, schema: &mut Schema, database: &str, exclude: &str) -> Result<(), DbError> {
    let qualifier = format!("{}.", backquote(database));
    let views = db.query_text(
        "SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION FROM information_schema.VIEWS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
    )?;
    let mut known: BTreeMap<String, String> =
        schema.tables.keys().map(|name| (backquote(name), table_key(name))).collect();
    for row in &views {
        let name = cell(row, 0);
        known.insert(backquote(&name), format!("{} {name}", ObjectKind::View.word()));
    }
    let names = |text: &str, own: &str| -> BTreeSet<String> {
        known
            .iter()
            .filter(|(quoted, key)| *key != own && text.contains(quoted.as_str()))
            .map(|(_, key)| key.clone())
            .collect()
    };
    for row in &views {
        let name = cell(row, 0);
        let body = cell(row, 1).replace(&qualifier, "");
        let check = match cell(row, 2).as_str() {
            "CASCADED" => " WITH CASCADED CHECK OPTION",
            "LOCAL" => " WITH LOCAL CHECK OPTION",
            _ => "",
        };
        let key = format!("{} {name}", ObjectKind::View.word());
        let object = Object {
            kind: ObjectKind::View,
            name: name.clone(),
            definition: format!("CREATE VIEW {} AS {body}{check};", backquote(&name)),
            drop: format!("DROP VIEW {};", backquote(&name)),
            depends_on: names(&body, &key),
        };
        schema.objects.insert(key, object);
    }
    let triggers = db.query_text(
        "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_STATEMENT \
         FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME",
    )?;
    for row in &triggers {
        let (name, on) = (cell(row, 0), cell(row, 3));
        if is_bookkeeping(&on, exclude) {
            continue;
        }
        let statement = cell(row, 4).replace(&qualifier, "");
        let object_name = format!("{name} on {on}");
        let key = format!("{} {object_name}", ObjectKind::Trigger.word());
        let mut depends_on = names(&statement, &key);
        depends_on.insert(table_key(&on));
        let object = Object {
            kind: ObjectKind::Trigger,
            name: object_name,
            definition: format!(
                "CREATE TRIGGER {} {} {} ON {} FOR EACH ROW {statement};",
                backquote(&name),
                cell(row, 1),
                cell(row, 2),
                backquote(&on)
            ),
            drop: format!("DROP TRIGGER {};", backquote(&name)),
            depends_on,
        };
        schema.objects.insert(key, object);
    }
    let routines = db.query_text(
        "SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
    )?;
    for row in &routines {
        schema.unmodelled.insert(format!("{} {}", cell(row, 0), cell(row, 1)));
    }
    let events = db.query_text("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()")?;
    for row in &events {
        schema.unmodelled.insert(format!("event {}", cell(row, 0)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_widths_go() {
        assert_eq!(normalise_type("int(11)"), "int");
        assert_eq!(normalise_type("bigint(20) unsigned"), "bigint unsigned");
        assert_eq!(normalise_type("tinyint(1)"), "tinyint");
        assert_eq!(normalise_type("varchar(20)"), "varchar(20)");
        assert_eq!(normalise_type("decimal(10,2)"), "decimal(10,2)");
        assert_eq!(normalise_type("INTERVAL"), "interval");
    }

    #[test]
    fn defaults_read_alike() {
        assert_eq!(default(Some("NULL"), "", "int", true), None);
        assert_eq!(default(Some("'x''y'"), "", "varchar(20)", true).as_deref(), Some("'x''y'"));
        assert_eq!(default(Some("current_timestamp()"), "", "timestamp", true).as_deref(), Some("current_timestamp()"));
        assert_eq!(default(Some("x'y"), "", "varchar(20)", false).as_deref(), Some("'x''y'"));
        assert_eq!(default(Some("0"), "", "int", false).as_deref(), Some("0"));
        assert_eq!(
            default(Some("CURRENT_TIMESTAMP"), "DEFAULT_GENERATED", "timestamp", false).as_deref(),
            Some("current_timestamp()")
        );
        assert_eq!(default(Some("rand()"), "DEFAULT_GENERATED", "double", false).as_deref(), Some("(rand())"));
    }
}
