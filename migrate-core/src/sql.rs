//! Splitting SQL into statements, for revisions that run outside a
//! transaction (each statement must be sent on its own) and for pointing at
//! the statement that failed.
//!
//! Understands `'...'` (with `''`), `E'...'` escapes, `"..."`, `$tag$...$tag$`,
//! `-- ...`, nested `/* ... */`, and keeps bodies that contain semicolons
//! whole: SQLite's `CREATE TRIGGER ... BEGIN ...; END` and SQL-standard
//! `BEGIN ATOMIC ... END` function bodies.

/// One statement: its byte offset in the input and its text (without the `;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    pub offset: usize,
    pub text: &'a str,
}

/// The non-empty statements of `sql`, in order.
pub fn split_statements(sql: &str) -> Vec<Statement<'_>> {
    fn push<'a>(sql: &'a str, from: usize, to: usize, statements: &mut Vec<Statement<'a>>) {
        let text = &sql[from..to];
        let trimmed_start = text.len() - text.trim_start().len();
        let body = text.trim();
        if !is_only_comments(body) {
            statements.push(Statement { offset: from + trimmed_start, text: body });
        }
    }
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => {
                let escapes =
                    i > 0 && matches!(bytes[i - 1], b'E' | b'e') && (i < 2 || !bytes[i - 2].is_ascii_alphanumeric());
                i = skip_quoted(bytes, i, b'\'', escapes);
            }
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            // An unclosed comment runs to the end; it is kept, so the database says so.
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i).unwrap_or(bytes.len()),
            b'$' => i = skip_dollar_quoted(sql, i),
            b';' if inside_body(&sql[start..i]) => i += 1,
            b';' => {
                push(sql, start, i, &mut statements);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push(sql, start, bytes.len(), &mut statements);
    statements
}

/// Whether `text` (a statement so far) is inside a trigger or `BEGIN ATOMIC`
/// body: one that has opened more `BEGIN`/`CASE` blocks than `END` closed.
fn inside_body(text: &str) -> bool {
    let code = strip_comments(text).to_ascii_uppercase();
    let words: Vec<&str> =
        code.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').filter(|w| !w.is_empty()).collect();
    let trigger = matches!(
        words.as_slice(),
        ["CREATE", "TRIGGER", ..]
            | ["CREATE", "TEMP" | "TEMPORARY", "TRIGGER", ..]
            | ["CREATE", "OR", "REPLACE", "TRIGGER", ..]
    );
    let atomic = words.windows(2).any(|w| w == ["BEGIN", "ATOMIC"]);
    if !trigger && !atomic {
        return false;
    }
    let mut depth = 0i32;
    let mut opened = false;
    for word in &words {
        match *word {
            "BEGIN" | "CASE" => {
                depth += 1;
                opened = true;
            }
            "END" => depth -= 1,
            _ => {}
        }
    }
    opened && depth > 0
}

/// `text` without its `--` and `/* */` comments (string contents are kept).
fn strip_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut from = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => i = skip_quoted(bytes, i, b'\'', false),
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                out.push_str(&text[from..i]);
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                from = i;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                out.push_str(&text[from..i]);
                i = skip_block_comment(bytes, i).unwrap_or(bytes.len());
                out.push(' ');
                from = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[from.min(text.len())..]);
    out
}

fn is_only_comments(text: &str) -> bool {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return true;
        }
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if rest.starts_with("/*") {
            // An unclosed comment is not a harmless comment: let the database see it.
            let Some(end) = skip_block_comment(rest.as_bytes(), 0) else { return false };
            rest = &rest[end..];
        } else {
            return false;
        }
    }
}

/// Past the closing quote; a doubled quote is part of the string.
fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if backslash_escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
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

/// Past the `*/` that closes the comment at `open`, or `None` when it is
/// never closed. Comments do not nest (SQLite's rule): on PostgreSQL a nested
/// comment then ends early and the database reports the rest, loudly.
fn skip_block_comment(bytes: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 2;
    while i + 1 < bytes.len() {
        if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            return Some(i + 2);
        }
        i += 1;
    }
    None
}

/// `$tag$ ... $tag$`; a `$` that does not open a tag (like `$1`) is skipped alone.
fn skip_dollar_quoted(sql: &str, open: usize) -> usize {
    let rest = &sql[open + 1..];
    let tag_len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    let opens = rest.as_bytes().get(tag_len) == Some(&b'$') && !rest.as_bytes().first().is_some_and(u8::is_ascii_digit);
    if !opens {
        return open + 1;
    }
    let delimiter = &sql[open..open + tag_len + 2];
    let body_start = open + delimiter.len();
    match sql[body_start..].find(delimiter) {
        Some(end) => body_start + end + delimiter.len(),
        None => sql.len(),
    }
}

/// The 1-based line of `offset` in `text`.
pub fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split_statements(sql).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn splits_on_semicolons_outside_literals_and_comments() {
        assert_eq!(
            texts(
                "CREATE TABLE a (x TEXT DEFAULT ';');\n-- a comment; still a comment\nINSERT INTO a VALUES ('it''s; ok');"
            ),
            [
                "CREATE TABLE a (x TEXT DEFAULT ';')",
                "-- a comment; still a comment\nINSERT INTO a VALUES ('it''s; ok')"
            ]
        );
        assert_eq!(
            texts("SELECT \"odd;name\" FROM t; /* x; y */ SELECT 2"),
            ["SELECT \"odd;name\" FROM t", "/* x; y */ SELECT 2"]
        );
        assert_eq!(texts("SELECT E'a\\';b'; SELECT 3;"), ["SELECT E'a\\';b'", "SELECT 3"]);
    }

    #[test]
    fn dollar_quoted_bodies_stay_whole() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;\nSELECT $1;";
        assert_eq!(texts(sql).len(), 2);
        assert_eq!(texts("DO $$ BEGIN PERFORM 1; END $$;"), ["DO $$ BEGIN PERFORM 1; END $$"]);
    }

    #[test]
    fn nothing_is_dropped_silently() {
        // SQLite does not nest comments: the `/*` inside is plain text.
        let sql = "CREATE TABLE a(x); /* see migrations/*.sql */ CREATE TABLE b(y); CREATE TABLE c(z);";
        assert_eq!(
            texts(sql),
            ["CREATE TABLE a(x)", "/* see migrations/*.sql */ CREATE TABLE b(y)", "CREATE TABLE c(z)"]
        );
        // An unclosed comment is kept for the database to reject.
        assert_eq!(
            texts("CREATE TABLE a(x); /* never closed; CREATE TABLE b(y);"),
            ["CREATE TABLE a(x)", "/* never closed; CREATE TABLE b(y);"]
        );
    }

    #[test]
    fn trigger_bodies_with_case_and_leading_comments() {
        let sql = "-- keep counts\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET a = CASE WHEN new.b THEN 1 ELSE 0 END;\n  DELETE FROM t WHERE a = 2;\nEND;\nSELECT 1;";
        let statements = texts(sql);
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(statements[0].ends_with("END"));
    }

    #[test]
    fn trigger_and_atomic_bodies_stay_whole() {
        let sql = "CREATE TABLE t (x INT);\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET x = 1;\n  DELETE FROM t WHERE x = 2;\nEND;\nSELECT 1;";
        assert_eq!(texts(sql).len(), 3, "{:?}", texts(sql));
        assert!(texts(sql)[1].ends_with("END"));
        let atomic = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3;";
        assert_eq!(texts(atomic).len(), 2);
    }

    #[test]
    fn comments_and_blanks_are_not_statements_and_offsets_point_at_text() {
        let sql = "\n-- only a comment\n;\n  CREATE INDEX CONCURRENTLY i ON t (x);\n\n";
        let statements = split_statements(sql);
        assert_eq!(statements.len(), 1);
        assert_eq!(line_at(sql, statements[0].offset), 4);
        assert!(sql[statements[0].offset..].starts_with("CREATE INDEX"));
    }
}
