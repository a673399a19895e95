//! SQLite introspection: `PRAGMA table_xinfo`, `index_list`, `foreign_key_list`,
//! and the stored `CREATE` statements for what the pragmas do not say (index
//! expressions, partial-index predicates, check constraints, generated
//! columns' expressions). Views and triggers are [`Object`]s whose
//! definition is their stored `CREATE` statement: SQLite keeps it as
//! written, so comparing the text is exact.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Check, Column, Filled, ForeignKey, Index, Object, ObjectKind, Schema, Table, Unique, normalise_action, table_key,
};
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
    objects(db, &mut schema, exclude)?;
    Ok(schema)
}

/// Views and triggers (those on the version table `exclude` left out), each
/// with what it names. What a view or trigger body names is found by
/// matching its identifiers against the schema's table and view names: a
/// column or alias that shares a table's name adds a dependency that is not
/// one, which costs at most a needless drop and re-creation. A trigger
/// depends on its table and on whatever its body names, since SQLite
/// refuses to rename a table while a view or trigger names a missing one.
fn objects(db: &mut dyn Database, schema: &mut Schema, exclude: &str) -> Result<(), DbError> {
    let rows: Rows = db.query_text(
        "SELECT type, name, tbl_name, sql FROM sqlite_master \
         WHERE type IN ('view', 'trigger') AND sql IS NOT NULL ORDER BY type, name",
    )?;
    // Lowercase name -> key; SQLite resolves names without regard to ASCII case.
    let mut known: BTreeMap<String, String> =
        schema.tables.keys().map(|name| (name.to_ascii_lowercase(), table_key(name))).collect();
    for row in rows.iter().filter(|row| text(row, 0) == "view") {
        let name = text(row, 1);
        known.insert(name.to_ascii_lowercase(), format!("{} {name}", ObjectKind::View.word()));
    }
    for row in &rows {
        let (kind, name, on, sql) = (text(row, 0), text(row, 1), text(row, 2), text(row, 3));
        if name == exclude || on == exclude {
            continue;
        }
        let mut depends_on = named(&sql, &name, &known);
        let object = if kind == "view" {
            Object {
                kind: ObjectKind::View,
                definition: format!("{sql};"),
                drop: format!("DROP VIEW {};", quote(&name)),
                depends_on: BTreeSet::new(),
                name,
            }
        } else {
            if let Some(relation) = known.get(&on.to_ascii_lowercase()) {
                depends_on.insert(relation.clone());
            }
            Object {
                kind: ObjectKind::Trigger,
                definition: format!("{sql};"),
                drop: format!("DROP TRIGGER {};", quote(&name)),
                depends_on: BTreeSet::new(),
                name: format!("{name} on {on}"),
            }
        };
        depends_on.remove(&object.key());
        schema.objects.insert(object.key(), Object { depends_on, ..object });
    }
    Ok(())
}

/// The keys in `known` of the names the statement `sql` uses, its own name
/// (`own`, its first occurrence: `CREATE VIEW own`) left out.
fn named(sql: &str, own: &str, known: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut own_seen = false;
    let mut found = BTreeSet::new();
    for word in identifiers(sql) {
        if !own_seen && word.eq_ignore_ascii_case(own) {
            own_seen = true;
            continue;
        }
        if let Some(key) = known.get(&word.to_ascii_lowercase()) {
            found.insert(key.clone());
        }
    }
    found
}

/// The identifiers and keywords of SQLite SQL, unquoted (`"a"`, `` `a` ``,
/// `[a]`), with string literals and comments left out.
fn identifiers(sql: &str) -> Vec<String> {
    words(sql).into_iter().map(|(word, _)| word).collect()
}

/// [`identifiers`], each with whether it was quoted (a quoted word is a
/// name, never a keyword).
fn words(sql: &str) -> Vec<(String, bool)> {
    let mut words = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' | '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                let mut word = String::new();
                while let Some((_, d)) = chars.next() {
                    if d == close {
                        // A doubled quote is the quote itself (not inside brackets).
                        if c != '[' && chars.peek().is_some_and(|&(_, e)| e == close) {
                            chars.next();
                            word.push(d);
                            continue;
                        }
                        break;
                    }
                    word.push(d);
                }
                if c != '\'' {
                    words.push((word, true));
                }
            }
            '-' if sql[i..].starts_with("--") => {
                for (_, d) in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if sql[i..].starts_with("/*") => {
                chars.next();
                let mut star = false;
                for (_, d) in chars.by_ref() {
                    if star && d == '/' {
                        break;
                    }
                    star = d == '*';
                }
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii() => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if !(d.is_alphanumeric() || d == '_' || d == '$' || !d.is_ascii()) {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                words.push((sql[i..end].to_owned(), false));
            }
            _ => {}
        }
    }
    words
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
        // `hidden`: 2 a VIRTUAL generated column, 3 a STORED one; the
        // expression is only in the stored CREATE TABLE.
        let filled = match text(&row, 6).as_str() {
            "2" => Some(Filled::Virtual(generated_expression(create, &column_name).unwrap_or_default())),
            "3" => Some(Filled::Stored(generated_expression(create, &column_name).unwrap_or_default())),
            _ => None,
        };
        table.columns.push(Column {
            name: column_name,
            data_type: text(&row, 2).to_ascii_lowercase(),
            nullable: text(&row, 3) == "0" && pk == 0,
            default: row.get(4).cloned().flatten(),
            filled,
        });
    }
    keyed.sort();
    table.primary_key = keyed.into_iter().map(|(_, c)| c).collect();
    if let [only] = table.primary_key.as_slice() {
        // INTEGER PRIMARY KEY is the rowid: the database fills it. SQLite
        // takes AUTOINCREMENT on that key only, so the keyword outside
        // quotes and comments says which.
        if let Some(column) = table.columns.iter_mut().find(|c| &c.name == only && c.data_type == "integer") {
            let autoincrement =
                words(create).iter().any(|(word, quoted)| !quoted && word.eq_ignore_ascii_case("autoincrement"));
            column.filled = Some(if autoincrement { Filled::Autoincrement } else { Filled::Rowid });
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

/// The expression of the generated column `column` in a stored `CREATE
/// TABLE`: the parenthesised text after the `AS` of its definition
/// (`[GENERATED ALWAYS] AS (expression) [STORED | VIRTUAL]`), as written.
fn generated_expression(create: &str, column: &str) -> Option<String> {
    let open = create.find('(')?;
    let close = matching_paren(create, open)?;
    split_top_level(&create[open + 1..close]).into_iter().find_map(|definition| {
        let name = identifiers(&definition).into_iter().next()?;
        if !name.eq_ignore_ascii_case(column) {
            return None;
        }
        // The first `AS` outside parentheses and quotes, followed by `(`.
        let bytes = definition.as_bytes();
        let (mut depth, mut quote) = (0i32, None);
        for (i, &b) in bytes.iter().enumerate() {
            match (quote, b) {
                (Some(q), _) if b == q => quote = None,
                (Some(_), _) => {}
                (None, b'\'' | b'"' | b'`') => quote = Some(b),
                (None, b'[') => quote = Some(b']'),
                (None, b'(') => depth += 1,
                (None, b')') => depth -= 1,
                (None, b'a' | b'A')
                    if depth == 0
                        && bytes.get(i + 1).is_some_and(|n| n.eq_ignore_ascii_case(&b's'))
                        && (i == 0 || !is_word_byte(bytes[i - 1]))
                        && bytes.get(i + 2).is_none_or(|&n| !is_word_byte(n)) =>
                {
                    let rest = definition[i + 2..].trim_start();
                    if rest.starts_with('(') {
                        let at = definition.len() - rest.len();
                        let end = matching_paren(&definition, at)?;
                        return Some(definition[at + 1..end].trim().to_owned());
                    }
                }
                _ => {}
            }
        }
        None
    })
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || !b.is_ascii()
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

/// The comma-separated items of `list`, commas inside parentheses, strings
/// and quoted identifiers left alone.
fn split_top_level(list: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    let mut quote: Option<char> = None;
    for (i, c) in list.char_indices() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '[') => quote = Some(']'),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
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
    fn generated_expressions_are_read_as_written() {
        let create = "CREATE TABLE g (a INT, \"b, as\" TEXT DEFAULT 'as (x)' GENERATED ALWAYS AS (a || ', (') STORED, \
                      [c] AS ((a + 1) * 2), d INT CHECK (d > 0), alias INT)";
        assert_eq!(generated_expression(create, "b, as").as_deref(), Some("a || ', ('"));
        assert_eq!(generated_expression(create, "C").as_deref(), Some("(a + 1) * 2"));
        assert_eq!(generated_expression(create, "d"), None);
        assert_eq!(generated_expression(create, "alias"), None);
        assert_eq!(
            identifiers("SELECT \"a\"\"b\", [c d], `e` FROM t -- x\n WHERE s = 'it''s' /* y */"),
            ["SELECT", "a\"b", "c d", "e", "FROM", "t", "WHERE", "s"]
        );
    }

    #[test]
    fn views_triggers_and_generated_columns() {
        let mut db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE a (id INTEGER PRIMARY KEY, n INT, twice INT AS (n * 2), label TEXT GENERATED ALWAYS AS ('#' || id) STORED);\n\
             CREATE TABLE \"Log\" (what TEXT);\n\
             CREATE TABLE migrate_versions (revision TEXT);\n\
             CREATE VIEW big AS SELECT id FROM A WHERE n > 'log';\n\
             CREATE VIEW bigger AS SELECT * FROM big;\n\
             CREATE TRIGGER a_log AFTER INSERT ON a BEGIN INSERT INTO log VALUES (NEW.id); END;\n\
             CREATE TRIGGER big_insert INSTEAD OF INSERT ON big BEGIN INSERT INTO a (n) VALUES (NEW.id); END;\n\
             CREATE TRIGGER versions AFTER INSERT ON migrate_versions BEGIN SELECT 1; END;",
        )
        .unwrap();
        let schema = introspect(&mut db, "migrate_versions").unwrap();
        let a = &schema.tables["a"];
        assert_eq!(a.column("twice").unwrap().filled, Some(Filled::Virtual("n * 2".into())));
        assert_eq!(a.column("label").unwrap().filled, Some(Filled::Stored("'#' || id".into())));
        assert_eq!(
            schema.objects.keys().collect::<Vec<_>>(),
            ["trigger a_log on a", "trigger big_insert on big", "view big", "view bigger"],
            "the version table's trigger is left out"
        );
        let depends = |key: &str| schema.objects[key].depends_on.iter().cloned().collect::<Vec<_>>();
        assert_eq!(depends("view big"), ["table a"], "names match without regard to case, strings do not count");
        assert_eq!(depends("view bigger"), ["view big"]);
        assert_eq!(depends("trigger a_log on a"), ["table Log", "table a"]);
        assert_eq!(depends("trigger big_insert on big"), ["table a", "view big"]);
        let big = &schema.objects["view big"];
        assert_eq!(big.definition, "CREATE VIEW big AS SELECT id FROM A WHERE n > 'log';");
        assert_eq!(big.drop, "DROP VIEW \"big\";");
        assert_eq!(schema.objects["trigger a_log on a"].drop, "DROP TRIGGER \"a_log\";");
    }

    /// AUTOINCREMENT is read (the keyword, not a quoted name), its
    /// absence is a difference both ways, and the rebuild that adds it
    /// gives a table that reads the same; a rebuild of a table that keeps
    /// it keeps `sqlite_sequence`, so a deleted row's id is not given again.
    #[test]
    fn autoincrement_is_read_compared_and_rebuilt() {
        use crate::Dialect;
        use crate::schema::{diff, render};
        let open = |sql: &str| {
            let db = rusqlite::Connection::open_in_memory().unwrap();
            db.execute_batch(sql).unwrap();
            db
        };
        let named = "CREATE TABLE \"autoincrement\" (\"AUTOINCREMENT\" INTEGER PRIMARY KEY);";
        let mut plain = open(&format!("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n{named}"));
        let mut kept = open(&format!("CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT);\n{named}"));
        let without = introspect(&mut plain, "migrate_versions").unwrap();
        let with = introspect(&mut kept, "migrate_versions").unwrap();
        assert_eq!(without.tables["notes"].columns[0].filled, Some(Filled::Rowid));
        assert_eq!(with.tables["notes"].columns[0].filled, Some(Filled::Autoincrement));
        assert_eq!(with.tables["autoincrement"].columns[0].filled, Some(Filled::Rowid), "a quoted name is no keyword");
        let shown = |changes: &[super::super::Change]| changes.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            shown(&diff(&without, &with)),
            ["column notes.id changed: filled by the database: rowid -> rowid with AUTOINCREMENT"]
        );
        assert_eq!(
            shown(&diff(&with, &without)),
            ["column notes.id changed: filled by the database: rowid with AUTOINCREMENT -> rowid"]
        );

        // Added: ids 1 and 2 kept, 3 deleted; the rebuilt table goes on from the largest kept.
        plain
            .execute_batch("INSERT INTO notes (body) VALUES ('a'), ('b'), ('c'); DELETE FROM notes WHERE id = 3;")
            .unwrap();
        let sql = render(&diff(&without, &with), &without, &with, Dialect::Sqlite);
        assert!(sql.contains("    \"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL,\n"), "{sql}");
        assert!(!sql.contains("PRIMARY KEY (\"id\")"), "{sql}");
        plain.execute_batch(&sql).unwrap();
        assert_eq!(diff(&introspect(&mut plain, "migrate_versions").unwrap(), &with), []);
        let next = |db: &rusqlite::Connection| {
            db.execute_batch("INSERT INTO notes (body) VALUES ('next')").unwrap();
            db.last_insert_rowid()
        };
        assert_eq!(next(&plain), 3);

        // Kept through a rebuild for a check: ids 1 to 3 given, 2 and 3 deleted.
        kept.execute_batch("INSERT INTO notes (body) VALUES ('a'), ('b'), ('c'); DELETE FROM notes WHERE id > 1;")
            .unwrap();
        let mut checked = with.clone();
        checked.tables.get_mut("notes").unwrap().checks.push(Check {
            name: None,
            expression: "body <> ''".into(),
            not_valid: false,
        });
        let sql = render(&diff(&with, &checked), &with, &checked, Dialect::Sqlite);
        assert!(sql.contains("INSERT INTO sqlite_sequence (name, seq) SELECT '_migrate_new_notes', seq"), "{sql}");
        kept.execute_batch(&sql).unwrap();
        assert_eq!(diff(&introspect(&mut kept, "migrate_versions").unwrap(), &checked), []);
        assert_eq!(next(&kept), 4, "the deleted rows' ids are not given again");
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
