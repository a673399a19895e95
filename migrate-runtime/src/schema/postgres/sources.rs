//! The SQL text a schema was built from, for what PostgreSQL prints in a
//! form it parses back into another: a `CHECK (theme IN ('a', 'b'))` on a
//! varchar column prints as `= ANY ((ARRAY[...])::text[])`, which parses to
//! a different expression, so a revision written from the printed form
//! builds a database whose `pg_dump` differs from the models'. For each
//! such check, default, generated column, index and view, the text that
//! built it is found among the candidates the SQL offers (each `CHECK
//! (...)`, `DEFAULT ...`, `GENERATED ALWAYS AS (...)`, `CREATE INDEX` and
//! view body), proved by printing it back on the scratch database, and
//! used when the revision is written.

use std::collections::BTreeMap;

use super::{check_expression, print_index_rest};
use crate::db::cell as text;
use crate::schema::{Change, Filled, ObjectKind, Schema, quote, split_qualified};
use crate::{Database, DbError};

/// What a source stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    /// A check of a table.
    Check { table: String },
    /// A column's default.
    Default { table: String, column: String },
    /// A stored generated column's expression.
    Generated { table: String, column: String },
    /// An index, by name: the whole `CREATE INDEX` statement.
    Index { name: String },
    /// A view or materialized view, by key: its query.
    View { key: String },
}

/// Text that builds what a schema printed as `settled` (its form after
/// [`settle`](crate::schema::settle)), by item.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources(BTreeMap<(Item, String), String>);

impl Sources {
    fn get(&self, item: Item, settled: &str) -> Option<&String> {
        self.0.get(&(item, settled.to_owned()))
    }

    /// `changes` with every expression, index and view this text built
    /// written as the text wrote it.
    pub(crate) fn apply(&self, changes: &mut [Change]) {
        if self.0.is_empty() {
            return;
        }
        for change in changes {
            match change {
                Change::CreateTable(table) => {
                    let name = table.name.clone();
                    for check in &mut table.checks {
                        self.check(&name, &mut check.expression);
                    }
                    for column in &mut table.columns {
                        self.column(&name, column);
                    }
                }
                Change::AddCheck { table, check } => self.check(table, &mut check.expression),
                Change::AddColumn { table, column } => self.column(table, column),
                Change::AlterColumn { table, to, .. } => self.column(table, to),
                Change::CreateIndex { index, .. } => {
                    if let Some(definition) = &mut index.definition
                        && let Some(source) = self.get(Item::Index { name: index.name.clone() }, definition)
                    {
                        *definition = source.clone();
                    }
                }
                Change::CreateObject { object, .. } | Change::ReplaceObject { to: object, .. }
                    if matches!(object.kind, ObjectKind::View | ObjectKind::MaterializedView) =>
                {
                    let Some((head, body)) = object.definition.split_once(" AS\n") else { continue };
                    let body = body.trim_end_matches(';');
                    if let Some(source) = self.get(Item::View { key: object.key() }, body) {
                        object.definition = format!("{head} AS\n{source};");
                    }
                }
                _ => {}
            }
        }
    }

    fn check(&self, table: &str, expression: &mut String) {
        if let Some(source) = self.get(Item::Check { table: table.to_owned() }, expression) {
            *expression = source.clone();
        }
    }

    fn column(&self, table: &str, column: &mut crate::schema::Column) {
        let (table, name) = (table.to_owned(), column.name.clone());
        if let Some(default) = &mut column.default
            && let Some(source) = self.get(Item::Default { table: table.clone(), column: name.clone() }, default)
        {
            *default = source.clone();
        }
        if let Some(Filled::Stored(expression)) = &mut column.filled
            && let Some(source) = self.get(Item::Generated { table, column: name }, expression)
        {
            *expression = source.clone();
        }
    }
}

/// The sources in `sql` (the models, or the revisions that built the
/// database) of what `raw` (introspected) prints differently from `settled`
/// (the same schema settled), proved on the scratch database `db` holding it.
pub(crate) fn find(db: &mut dyn Database, raw: &Schema, settled: &Schema, sql: &str) -> Result<Sources, DbError> {
    let mut sources = Sources::default();
    let candidates = Candidates::of(sql);
    for (name, table) in &raw.tables {
        let Some(settled_table) = settled.tables.get(name) else { continue };
        let quoted = quote(name);
        for check in &table.checks {
            let Some(settled_check) = settled_table.checks.iter().find(|c| c.name == check.name) else { continue };
            if settled_check.expression == check.expression {
                continue;
            }
            for candidate in &candidates.checks {
                if print_check(db, &quoted, candidate)?.as_deref() == Some(check.expression.as_str()) {
                    let key = (Item::Check { table: name.clone() }, settled_check.expression.clone());
                    sources.0.insert(key, candidate.clone());
                    break;
                }
            }
        }
        for column in &table.columns {
            let Some(settled_column) = settled_table.column(&column.name) else { continue };
            if let (Some(default), Some(settled_default)) = (&column.default, &settled_column.default)
                && default != settled_default
            {
                for candidate in &candidates.defaults {
                    let probe = format!("{} DEFAULT {candidate}", column.data_type);
                    if print_column(db, &quoted, &probe)?.as_deref() == Some(default.as_str()) {
                        let item = Item::Default { table: name.clone(), column: column.name.clone() };
                        sources.0.insert((item, settled_default.clone()), candidate.clone());
                        break;
                    }
                }
            }
            if let (Some(Filled::Stored(expression)), Some(Filled::Stored(settled_expression))) =
                (&column.filled, &settled_column.filled)
                && expression != settled_expression
            {
                for candidate in &candidates.generated {
                    let probe = format!("{} GENERATED ALWAYS AS ({candidate}) STORED", column.data_type);
                    if print_column(db, &quoted, &probe)?.as_deref() == Some(expression.as_str()) {
                        let item = Item::Generated { table: name.clone(), column: column.name.clone() };
                        sources.0.insert((item, settled_expression.clone()), candidate.clone());
                        break;
                    }
                }
            }
        }
        for index in &table.indexes {
            let Some(settled_index) = settled_table.indexes.iter().find(|i| i.name == index.name) else { continue };
            let (Some(definition), Some(settled_definition)) = (&index.definition, &settled_index.definition) else {
                continue;
            };
            if definition == settled_definition {
                continue;
            }
            let (namespace, local) = split_qualified(&index.name);
            let Some((head, rest)) = definition.split_once(" INDEX ") else { continue };
            let Some((_, printed_rest)) = rest.split_once(" ON ") else { continue };
            for (candidate_name, candidate_head, candidate_rest) in &candidates.indexes {
                if *candidate_name != local || candidate_head != head {
                    continue;
                }
                if print_index_rest(db, head, candidate_rest, namespace.as_deref())?.as_deref() == Some(printed_rest) {
                    let source = format!("{head} INDEX {} ON {candidate_rest}", quote(&local));
                    let item = Item::Index { name: index.name.clone() };
                    sources.0.insert((item, settled_definition.clone()), source);
                    break;
                }
            }
        }
    }
    for (key, object) in &raw.objects {
        if !matches!(object.kind, ObjectKind::View | ObjectKind::MaterializedView) {
            continue;
        }
        let Some(settled_object) = settled.objects.get(key) else { continue };
        let body = |definition: &str| definition.split_once(" AS\n").map(|(_, b)| b.trim_end_matches(';').to_owned());
        let (Some(printed), Some(settled_body)) = (body(&object.definition), body(&settled_object.definition)) else {
            continue;
        };
        if printed == settled_body {
            continue;
        }
        let local = split_qualified(&object.name).1;
        for (candidate_name, candidate) in &candidates.views {
            if *candidate_name == local && print_view(db, candidate)?.as_deref() == Some(printed.as_str()) {
                sources.0.insert((Item::View { key: key.clone() }, settled_body.clone()), candidate.clone());
                break;
            }
        }
    }
    Ok(sources)
}

/// How PostgreSQL prints `CHECK (expression)` on `table`; `None` when it
/// does not take it there.
fn print_check(db: &mut dyn Database, table: &str, expression: &str) -> Result<Option<String>, DbError> {
    const PROBE: &str = "cargo_migrate_source";
    let regclass = format!("'{}'::regclass", table.replace('\'', "''"));
    let added = format!("ALTER TABLE {table} ADD CONSTRAINT {PROBE} CHECK ({expression}) NOT VALID");
    probe(db, &added, &format!("ALTER TABLE {table} DROP CONSTRAINT {PROBE}"), |db| {
        let rows = db.query_text(&format!(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = {regclass} AND conname = '{PROBE}'"
        ))?;
        Ok(rows.first().map(|row| check_expression(&text(row, 0)).0))
    })
}

/// How PostgreSQL prints the default or generated expression of a column
/// `definition` (type and clause) added to `table`.
fn print_column(db: &mut dyn Database, table: &str, definition: &str) -> Result<Option<String>, DbError> {
    const PROBE: &str = "cargo_migrate_source";
    let regclass = format!("'{}'::regclass", table.replace('\'', "''"));
    let added = format!("ALTER TABLE {table} ADD COLUMN {PROBE} {definition}");
    probe(db, &added, &format!("ALTER TABLE {table} DROP COLUMN {PROBE}"), |db| {
        let rows = db.query_text(&format!(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid \
             AND a.attnum = d.adnum WHERE d.adrelid = {regclass} AND a.attname = '{PROBE}'"
        ))?;
        Ok(rows.first().map(|row| text(row, 0)))
    })
}

/// How PostgreSQL prints a view's query `body`.
fn print_view(db: &mut dyn Database, body: &str) -> Result<Option<String>, DbError> {
    const PROBE: &str = "cargo_migrate_source_view";
    probe(db, &format!("CREATE VIEW {PROBE} AS\n{body}"), &format!("DROP VIEW {PROBE}"), |db| {
        let rows = db.query_text(&format!("SELECT pg_get_viewdef('{PROBE}'::regclass, true)"))?;
        Ok(rows.first().map(|row| text(row, 0).trim_end().trim_end_matches(';').to_owned()))
    })
}

/// Runs `create`, reads, runs `drop`; a candidate the database refuses is
/// not the source (`None`), and leaves nothing behind: a savepoint would
/// need a transaction, so the failed statement is simply not there.
fn probe(
    db: &mut dyn Database,
    create: &str,
    drop: &str,
    read: impl FnOnce(&mut dyn Database) -> Result<Option<String>, DbError>,
) -> Result<Option<String>, DbError> {
    if db.execute_batch(create).is_err() {
        return Ok(None);
    }
    let printed = read(db);
    db.execute_batch(drop)?;
    printed
}

/// The pieces of SQL text that may be the source of something printed.
#[derive(Debug, Default)]
struct Candidates {
    /// The inside of each `CHECK (...)`.
    checks: Vec<String>,
    /// Each `DEFAULT expression` (column definitions and `SET DEFAULT`).
    defaults: Vec<String>,
    /// The inside of each `GENERATED ALWAYS AS (...)`.
    generated: Vec<String>,
    /// Each `CREATE [UNIQUE] INDEX name ON rest`: (name, `CREATE [UNIQUE]`, rest).
    indexes: Vec<(String, String, String)>,
    /// Each view's (name, query).
    views: Vec<(String, String)>,
}

impl Candidates {
    fn of(sql: &str) -> Candidates {
        let mut found = Candidates::default();
        let Ok(statements) = migrate_history::sql::split(sql, migrate_history::Dialect::Postgres) else {
            return found;
        };
        for statement in statements {
            let scan = Scan::new(statement.text.trim());
            found.read(&scan);
        }
        found
    }

    fn read(&mut self, scan: &Scan<'_>) {
        let words = scan.words();
        for (i, &(start, end)) in words.iter().enumerate() {
            let word = &scan.text[start..end];
            if word.eq_ignore_ascii_case("check")
                && let Some(inside) = scan.parenthesised_after(end)
            {
                self.checks.push(inside.trim().to_owned());
            } else if word.eq_ignore_ascii_case("default") {
                if let Some(expression) = scan.expression_after(end) {
                    self.defaults.push(expression);
                }
            } else if word.eq_ignore_ascii_case("generated")
                && let Some(&(s1, e1)) = words.get(i + 1)
                && scan.text[s1..e1].eq_ignore_ascii_case("always")
                && let Some(&(s2, e2)) = words.get(i + 2)
                && scan.text[s2..e2].eq_ignore_ascii_case("as")
                && let Some(inside) = scan.parenthesised_after(e2)
            {
                self.generated.push(inside.trim().to_owned());
            }
        }
        let lower: Vec<String> = words.iter().take(6).map(|&(s, e)| scan.text[s..e].to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        match lower.as_slice() {
            ["create", "unique", "index", ..] | ["create", "index", ..] => self.read_index(scan, &words),
            ["create", "view", ..]
            | ["create", "or", "replace", "view", ..]
            | ["create", "materialized", "view", ..]
            | ["create", "or", "replace", "materialized", "view", ..] => self.read_view(scan, &words),
            _ => {}
        }
    }

    fn read_index(&mut self, scan: &Scan<'_>, words: &[(usize, usize)]) {
        let text = scan.text;
        let unique = text[words[1].0..words[1].1].eq_ignore_ascii_case("unique");
        let head = if unique { "CREATE UNIQUE" } else { "CREATE" };
        let mut at = if unique { 3 } else { 2 };
        let mut skip = |word: &str| {
            if words.get(at).is_some_and(|&(s, e)| text[s..e].eq_ignore_ascii_case(word)) {
                at += 1;
                true
            } else {
                false
            }
        };
        skip("concurrently");
        if skip("if") {
            skip("not");
            skip("exists");
        }
        // The name, bare or quoted, then ON.
        let Some(&(name_start, _)) = words.get(at) else { return };
        let rest_of = |from: usize| text[from..].trim_start();
        let (name, after) = if text[name_start..].starts_with('"') {
            let Some(close) = text[name_start + 1..].find('"') else { return };
            (text[name_start + 1..name_start + 1 + close].to_owned(), name_start + close + 2)
        } else {
            let (_, end) = words[at];
            (text[name_start..end].to_ascii_lowercase(), end)
        };
        let after = rest_of(after);
        let Some(on) = after.get(..3).filter(|on| on.eq_ignore_ascii_case("on ")) else { return };
        let rest = after[on.len()..].trim().trim_end_matches(';').trim();
        self.indexes.push((name, head.to_owned(), rest.to_owned()));
    }

    fn read_view(&mut self, scan: &Scan<'_>, words: &[(usize, usize)]) {
        let text = scan.text;
        let Some(view) = words.iter().position(|&(s, e)| text[s..e].eq_ignore_ascii_case("view")) else { return };
        let Some(&(name_start, name_end)) = words.get(view + 1) else { return };
        let name = if text[name_start..].starts_with('"') {
            text[name_start + 1..].split('"').next().unwrap_or_default().to_owned()
        } else {
            // A schema-qualified name: the last part.
            text[name_start..name_end].rsplit('.').next().unwrap_or_default().to_ascii_lowercase()
        };
        // The query: after the first AS at the top level.
        let Some(&(_, as_end)) = words
            .iter()
            .skip(view + 2)
            .find(|&&(s, e)| text[s..e].eq_ignore_ascii_case("as") && scan.depth.get(s).copied() == Some(0))
        else {
            return;
        };
        let mut body = text[as_end..].trim().trim_end_matches(';').trim_end();
        // WITH [CASCADED | LOCAL] CHECK OPTION and WITH [NO] DATA are options, not the query.
        let lower = body.to_ascii_lowercase();
        for suffix in [
            " with cascaded check option",
            " with local check option",
            " with check option",
            " with no data",
            " with data",
        ] {
            if lower.ends_with(suffix) {
                body = body[..body.len() - suffix.len()].trim_end();
                break;
            }
        }
        self.views.push((name, body.to_owned()));
    }
}

/// A statement with its code told from its strings, quoted names and
/// comments, and the parenthesis depth at each byte.
struct Scan<'a> {
    text: &'a str,
    /// Whether the byte is code (not in a string, quoted name or comment).
    code: Vec<bool>,
    depth: Vec<i32>,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Scan<'a> {
        let bytes = text.as_bytes();
        let (mut code, mut depth) = (vec![true; bytes.len()], vec![0; bytes.len()]);
        let (mut i, mut level) = (0, 0);
        while i < bytes.len() {
            let rest = &text[i..];
            let skip = if rest.starts_with("--") {
                rest.find('\n').unwrap_or(rest.len())
            } else if rest.starts_with("/*") {
                rest.find("*/").map_or(rest.len(), |e| e + 2)
            } else if rest.starts_with('\'') {
                closing_quote(rest, b'\'')
            } else if rest.starts_with('"') {
                closing_quote(rest, b'"')
            } else if let Some(tag) = dollar_tag(rest) {
                rest[tag.len()..].find(tag).map_or(rest.len(), |e| e + 2 * tag.len())
            } else {
                0
            };
            if skip > 0 {
                for j in i..(i + skip).min(bytes.len()) {
                    code[j] = rest.starts_with('"');
                    depth[j] = level;
                }
                i += skip;
                continue;
            }
            match bytes[i] {
                b'(' => {
                    depth[i] = level;
                    level += 1;
                }
                b')' => {
                    level -= 1;
                    depth[i] = level;
                }
                _ => depth[i] = level,
            }
            i += 1;
        }
        Scan { text, code, depth }
    }

    /// Each word of code (letters, digits, `_`, `.`, or a quoted name), as byte ranges.
    fn words(&self) -> Vec<(usize, usize)> {
        let bytes = self.text.as_bytes();
        let mut words = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let word_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b >= 0x80;
            if self.code[i] && bytes[i] == b'"' {
                let end = (i + closing_quote(&self.text[i..], b'"')).min(bytes.len());
                words.push((i, end));
                i = end;
            } else if self.code[i] && word_byte(bytes[i]) {
                let start = i;
                while i < bytes.len() && self.code[i] && word_byte(bytes[i]) {
                    i += 1;
                }
                words.push((start, i));
            } else {
                i += 1;
            }
        }
        words
    }

    /// The inside of the parentheses that open right after `at` (spaces aside).
    fn parenthesised_after(&self, at: usize) -> Option<&'a str> {
        let open = at + self.text[at..].find(|c: char| !c.is_whitespace())?;
        if self.text.as_bytes()[open] != b'(' {
            return None;
        }
        let level = self.depth[open];
        let close = (open + 1..self.text.len())
            .find(|&j| self.code[j] && self.text.as_bytes()[j] == b')' && self.depth[j] == level)?;
        Some(&self.text[open + 1..close])
    }

    /// A `DEFAULT`'s expression: up to the next comma or closing parenthesis
    /// at its level, or the next column constraint's keyword.
    fn expression_after(&self, at: usize) -> Option<String> {
        const ENDS: &[&str] = &[
            "not",
            "null",
            "check",
            "references",
            "primary",
            "unique",
            "constraint",
            "generated",
            "collate",
            "deferrable",
        ];
        let bytes = self.text.as_bytes();
        let level = *self.depth.get(at)?;
        let mut end = at;
        let mut j = at;
        while j < bytes.len() {
            if self.code[j] {
                let b = bytes[j];
                if self.depth[j] == level && (b == b',' || b == b';') || (b == b')' && self.depth[j] < level) {
                    break;
                }
                if self.depth[j] == level
                    && b.is_ascii_alphabetic()
                    && (j == 0 || !bytes[j - 1].is_ascii_alphanumeric() && bytes[j - 1] != b'_')
                {
                    let word_end = (j..bytes.len())
                        .find(|&k| !(bytes[k].is_ascii_alphanumeric() || bytes[k] == b'_'))
                        .unwrap_or(bytes.len());
                    if j > at + 1 && ENDS.iter().any(|w| self.text[j..word_end].eq_ignore_ascii_case(w)) {
                        break;
                    }
                    j = word_end;
                    end = j;
                    continue;
                }
            }
            j += 1;
            end = j;
        }
        let expression = self.text[at..end].trim();
        (!expression.is_empty()).then(|| expression.to_owned())
    }
}

/// The length of a quoted run starting at `text[0]` (a doubled quote stays inside).
fn closing_quote(text: &str, quote: u8) -> usize {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// `$tag$` or `$$` at the start of `text`.
fn dollar_tag(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('$')?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    (rest.as_bytes().get(end) == Some(&b'$')).then(|| &text[..end + 2])
}

#[cfg(test)]
mod tests {
    use super::Candidates;

    #[test]
    fn candidates_are_read_past_strings_comments_and_nesting() {
        let found = Candidates::of(
            "CREATE TABLE a (id int, theme varchar(10) DEFAULT 'light' NOT NULL CHECK (theme IN ('light', 'dark')), \
             -- CHECK (not this)\n n int DEFAULT (1 + 2), g int GENERATED ALWAYS AS (n * 2) STORED, \
             CONSTRAINT c CHECK (n > 0 AND ')' <> 'x'));\n\
             CREATE UNIQUE INDEX IF NOT EXISTS \"A b\" ON a (theme) WHERE theme IN ('dark');\n\
             CREATE OR REPLACE VIEW public.v AS SELECT 1 AS one WITH LOCAL CHECK OPTION;",
        );
        assert_eq!(found.checks, ["theme IN ('light', 'dark')", "n > 0 AND ')' <> 'x'"]);
        assert_eq!(found.defaults, ["'light'", "(1 + 2)"]);
        assert_eq!(found.generated, ["n * 2"]);
        assert_eq!(
            found.indexes,
            [("A b".to_owned(), "CREATE UNIQUE".to_owned(), "a (theme) WHERE theme IN ('dark')".to_owned())]
        );
        assert_eq!(found.views, [("v".to_owned(), "SELECT 1 AS one".to_owned())]);
    }
}
