//! SQLite introspection: `PRAGMA table_xinfo`, `index_list`, `foreign_key_list`,
//! and the stored `CREATE` statements for what the pragmas do not say (index
//! expressions, partial-index predicates, check constraints).

use super::{Check, Column, Filled, ForeignKey, Index, Schema, Table, Unique, normalise_action};
use crate::db::cell as text;
use crate::{Database, DbError};

type Rows = Vec<Vec<Option<String>>>;

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(super) fn introspect(db: &mut dyn Database, exclude: &str) -> Result<Schema, DbError> {
    let mut schema = Schema::default();
    let tables: Rows = db.query_text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    for row in tables {
        let name = text(&row, 0);
        if name == exclude {
            continue;
        }
        let create = text(&row, 1);
        let table = table(db, &name, &create)?;
        schema.tables.insert(name, table);
    }
    Ok(schema)
}

fn table(db: &mut dyn Database, name: &str, create: &str) -> Result<Table, DbError> {
    let mut table = Table { name: name.to_owned(), ..Table::default() };
    let mut keyed: Vec<(i64, String)> = Vec::new();
    for row in db.query_text(&format!("PRAGMA table_xinfo({})", quote(name)))? {
        let column_name = text(&row, 1);
        let pk: i64 = text(&row, 5).parse().unwrap_or(0);
        if pk > 0 {
            keyed.push((pk, column_name.clone()));
        }
        table.columns.push(Column {
            name: column_name,
            data_type: text(&row, 2).to_ascii_lowercase(),
            nullable: text(&row, 3) == "0" && pk == 0,
            default: row.get(4).cloned().flatten(),
            filled: None,
        });
    }
    keyed.sort();
    table.primary_key = keyed.into_iter().map(|(_, c)| c).collect();
    if let [only] = table.primary_key.as_slice() {
        // INTEGER PRIMARY KEY is the rowid: the database fills it.
        if let Some(column) = table.columns.iter_mut().find(|c| &c.name == only && c.data_type == "integer") {
            column.filled = Some(Filled::Rowid);
        }
    }

    for row in db.query_text(&format!("PRAGMA index_list({})", quote(name)))? {
        let index_name = text(&row, 1);
        let unique = text(&row, 2) == "1";
        match text(&row, 3).as_str() {
            "pk" => {}
            "u" => {
                let columns = db
                    .query_text(&format!("PRAGMA index_info({})", quote(&index_name)))?
                    .iter()
                    .map(|r| text(r, 2))
                    .collect();
                table.uniques.push(Unique { name: None, columns, ..Unique::default() });
            }
            _ => {
                let sql = db.query_text(&format!(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = '{}'",
                    index_name.replace('\'', "''")
                ))?;
                let sql = sql.first().map(|r| text(r, 0)).unwrap_or_default();
                let (columns, predicate) = index_parts(&sql);
                table.indexes.push(Index { name: index_name, columns, unique, predicate, definition: None });
            }
        }
    }
    table.uniques.sort();
    table.indexes.sort();

    let mut keys: Vec<(String, ForeignKey)> = Vec::new();
    for row in db.query_text(&format!("PRAGMA foreign_key_list({})", quote(name)))? {
        let id = text(&row, 0);
        let position = keys.iter().position(|(k, _)| *k == id);
        let key = match position {
            Some(i) => &mut keys[i].1,
            None => {
                keys.push((
                    id,
                    ForeignKey {
                        name: None,
                        columns: Vec::new(),
                        referenced_table: text(&row, 2),
                        referenced_columns: Vec::new(),
                        on_update: normalise_action(&text(&row, 5)),
                        on_delete: normalise_action(&text(&row, 6)),
                        ..ForeignKey::default()
                    },
                ));
                &mut keys.last_mut().expect("just pushed").1
            }
        };
        key.columns.push(text(&row, 3));
        key.referenced_columns.push(text(&row, 4));
    }
    table.foreign_keys = keys.into_iter().map(|(_, k)| k).collect();
    table.foreign_keys.sort();
    table.checks = checks(create);
    table.checks.sort();
    Ok(table)
}

/// The parenthesised list after `ON table` and the `WHERE` of a stored `CREATE INDEX`.
fn index_parts(sql: &str) -> (Vec<String>, Option<String>) {
    let Some(open) = sql.find('(') else {
        return (Vec::new(), None);
    };
    let close = matching_paren(sql, open).unwrap_or(sql.len());
    let columns = split_top_level(&sql[open + 1..close.min(sql.len())]).into_iter().map(unquote).collect();
    let rest = &sql[(close + 1).min(sql.len())..];
    let predicate = rest
        .to_ascii_uppercase()
        .find("WHERE")
        .map(|at| rest[at + 5..].trim().trim_end_matches(';').trim().to_owned())
        .filter(|p| !p.is_empty());
    (columns, predicate)
}

/// `CHECK (...)` clauses of a stored `CREATE TABLE`, with their `CONSTRAINT` names.
fn checks(create: &str) -> Vec<Check> {
    let upper = create.to_ascii_uppercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = upper[from..].find("CHECK") {
        let start = from + at;
        from = start + 5;
        let boundary = |i: usize| upper.as_bytes().get(i).is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_');
        if !(start == 0 || boundary(start - 1)) || !boundary(start + 5) {
            continue;
        }
        let Some(open) = create[start + 5..].find('(').map(|i| start + 5 + i) else { break };
        if !create[start + 5..open].trim().is_empty() {
            continue;
        }
        let Some(close) = matching_paren(create, open) else { break };
        let before: Vec<&str> = create[..start].split_whitespace().rev().take(2).collect();
        let name = match before.as_slice() {
            [name, keyword] if keyword.eq_ignore_ascii_case("constraint") => Some(name.trim_matches('"').to_owned()),
            _ => None,
        };
        found.push(Check { name, expression: create[open + 1..close].trim().to_owned(), not_valid: false });
        from = close;
    }
    found
}

/// `"name"` is `name`: a quoted plain identifier reads the same either way.
fn unquote(item: String) -> String {
    match item.strip_prefix('"').and_then(|i| i.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => inner.to_owned(),
        _ => item,
    }
}

fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<u8> = None;
    for (i, &b) in text.as_bytes().iter().enumerate().skip(open) {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(b),
            (None, b'(') => depth += 1,
            (None, b')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn split_top_level(list: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(list[start..i].trim().to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(list[start..].trim().to_owned());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_pragmas_do_not_say() {
        assert_eq!(
            index_parts("CREATE INDEX ix ON t (lower(name), id DESC) WHERE deleted_at IS NULL"),
            (vec!["lower(name)".to_owned(), "id DESC".to_owned()], Some("deleted_at IS NULL".to_owned()))
        );
        let checks =
            checks("CREATE TABLE t (price INT CHECK (price > 0), CONSTRAINT sane CHECK (price < 1000), checked INT)");
        assert_eq!(
            checks,
            [
                Check { name: None, expression: "price > 0".into(), not_valid: false },
                Check { name: Some("sane".into()), expression: "price < 1000".into(), not_valid: false },
            ]
        );
    }

    #[test]
    fn introspects_a_table_with_every_kind_of_object() {
        let mut db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, nick VARCHAR(20) DEFAULT 'x');\n\
             CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n\
               score INT CHECK (score >= 0));\n\
             CREATE INDEX ix_posts_user ON posts (user_id) WHERE score > 10;\n\
             CREATE TABLE migrate_versions (revision TEXT);",
        )
        .unwrap();
        let schema = introspect(&mut db, "migrate_versions").unwrap();
        assert_eq!(schema.tables.keys().collect::<Vec<_>>(), ["posts", "users"]);
        let users = &schema.tables["users"];
        assert_eq!(users.primary_key, ["id"]);
        assert_eq!(users.columns[0].filled, Some(Filled::Rowid));
        assert_eq!(users.column("nick").unwrap().default.as_deref(), Some("'x'"));
        assert_eq!(users.uniques, [Unique { name: None, columns: vec!["email".into()], ..Unique::default() }]);
        let posts = &schema.tables["posts"];
        assert_eq!(posts.foreign_keys[0].referenced_table, "users");
        assert_eq!(posts.foreign_keys[0].on_delete, "CASCADE");
        assert_eq!(posts.indexes[0].predicate.as_deref(), Some("score > 10"));
        assert_eq!(posts.checks[0].expression, "score >= 0");
    }
}
