//! An oracle for autogenerate on PostgreSQL that owes nothing to it: the
//! server's own account of a schema, `pg_dump --schema-only` (privileges and
//! comments kept, owners left out), normalised only for ordering. Two
//! databases have the same schema when their normalised dumps are equal.
//!
//! Normalising drops what is not the schema (pg_dump's `--` comments, the
//! session's `SET` and `SELECT pg_catalog.set_config` lines, the
//! `\restrict`/`\unrestrict` lines pg_dump 15.14+ writes with a random key,
//! blank lines), splits the rest into statements (each ends at a line that
//! ends in `;` outside quotes, so function bodies in dollar quotes stay
//! whole), sorts them (and the column and constraint lines of each
//! `CREATE TABLE`: PostgreSQL appends what `ALTER TABLE` adds, so a column
//! cannot be put back where it stood) and joins them. The migration tool's version table
//! (`migrate_versions`, the only object it creates; its primary key goes
//! with it) is left out of the dump with `--exclude-table`.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use tests::support::postgres_server_url;

/// The version table the history's runs create, which the models never have.
pub const VERSION_TABLE: &str = migrate_runtime::version_table::DEFAULT_TABLE;

/// The URL of the database `db_name` on the test server.
pub fn database_url(db_name: &str) -> String {
    let server = postgres_server_url();
    let base = server.split('?').next().unwrap_or(&server);
    format!("{}/{db_name}", &base[..base.rfind('/').expect("a URL with a database")])
}

/// `pg_dump --schema-only --no-owner` of `db_name` as pg_dump writes it,
/// the version table left out.
pub fn raw_dump(db_name: &str) -> String {
    pg_dump(db_name, &["--no-owner", &format!("--exclude-table=public.{VERSION_TABLE}")])
}

/// `pg_dump --schema-only` of `db_name` with every option at its default:
/// what a person would take as the models of an existing database.
pub fn plain_dump(db_name: &str) -> String {
    pg_dump(db_name, &[])
}

fn pg_dump(db_name: &str, options: &[&str]) -> String {
    let output = Command::new("pg_dump")
        .arg("--schema-only")
        .args(options)
        .args(["-d", &database_url(db_name)])
        .output()
        .expect("pg_dump is installed");
    assert!(output.status.success(), "pg_dump of {db_name}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("pg_dump writes UTF-8 here")
}

/// The normalised dump of `db_name`: its statements, sorted, one blank line apart.
pub fn dump(db_name: &str) -> String {
    normalise(&raw_dump(db_name))
}

/// `text` as statements, sorted, joined by a blank line.
pub fn normalise(text: &str) -> String {
    statements(text).join("\n\n")
}

/// The statements of a pg_dump text, sorted, without comments, session
/// settings, psql meta-commands and blank lines.
pub fn statements(text: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut scan = Scan::default();
    for line in text.lines() {
        if current.is_empty() {
            let trimmed = line.trim();
            let noise = trimmed.is_empty()
                || trimmed.starts_with("--")
                || trimmed.starts_with("SET ")
                || trimmed.starts_with("SELECT pg_catalog.set_config(")
                || trimmed.starts_with("\\restrict")
                || trimmed.starts_with("\\unrestrict");
            if noise {
                continue;
            }
        }
        // Blank lines inside a statement are kept only within quotes
        // (a function body); pg_dump writes none elsewhere.
        if line.trim().is_empty() && !scan.quoted() {
            continue;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line.trim_end());
        scan.line(line);
        if !scan.quoted() && line.trim_end().ends_with(';') {
            statements.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        statements.push(current);
    }
    let mut statements: Vec<String> = statements.iter().map(|s| columns_in_any_order(s)).collect();
    statements.sort();
    statements
}

/// A `CREATE TABLE` with the lines between its parentheses (columns and
/// constraints) sorted: PostgreSQL appends a column that `ALTER TABLE`
/// adds, so no revision can put a dropped column back where it stood, and
/// where a table's columns stand is normalised as the order of statements
/// is. Other statements as they are.
fn columns_in_any_order(statement: &str) -> String {
    let lines: Vec<&str> = statement.lines().collect();
    let is_table = lines.first().is_some_and(|l| {
        (l.starts_with("CREATE TABLE ") || l.starts_with("CREATE UNLOGGED TABLE ")) && l.ends_with('(')
    });
    let Some(close) = lines.iter().rposition(|l| l.starts_with(')')) else { return statement.to_owned() };
    if !is_table || close < 1 {
        return statement.to_owned();
    }
    let mut body: Vec<&str> = lines[1..close].iter().map(|l| l.trim_end_matches(',')).collect();
    body.sort_unstable();
    let mut out = vec![lines[0].to_owned()];
    let last = body.len().saturating_sub(1);
    out.extend(body.iter().enumerate().map(|(i, l)| if i < last { format!("{l},") } else { (*l).to_owned() }));
    out.extend(lines[close..].iter().map(|l| (*l).to_owned()));
    out.join("\n")
}

/// Where a scan of SQL text is: inside a string, a quoted identifier or a
/// dollar quote, or not.
#[derive(Debug, Default)]
struct Scan {
    state: State,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum State {
    #[default]
    Plain,
    /// `'...'`; `true` for an `E'...'` string, where `\` escapes.
    Single(bool),
    Double,
    /// `$tag$ ... $tag$`, holding the whole delimiter.
    Dollar(String),
}

impl Scan {
    fn quoted(&self) -> bool {
        self.state != State::Plain
    }

    fn line(&mut self, line: &str) {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match self.state.clone() {
                State::Plain => {
                    let after_word = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
                    match c {
                        '-' if chars.get(i + 1) == Some(&'-') => return,
                        '\'' => {
                            let escape = i > 0
                                && matches!(chars[i - 1], 'E' | 'e')
                                && !(i > 1 && (chars[i - 2].is_alphanumeric() || chars[i - 2] == '_'));
                            self.state = State::Single(escape);
                        }
                        '"' => self.state = State::Double,
                        '$' if !after_word => {
                            // `$tag$` with tag [A-Za-z_][A-Za-z0-9_]* or empty; `$1` is a parameter.
                            let mut j = i + 1;
                            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                                j += 1;
                            }
                            let tag_ok = chars.get(i + 1).is_none_or(|c| !c.is_ascii_digit());
                            if tag_ok && chars.get(j) == Some(&'$') {
                                self.state = State::Dollar(chars[i..=j].iter().collect());
                                i = j;
                            }
                        }
                        _ => {}
                    }
                }
                State::Single(escape) => match c {
                    '\\' if escape => i += 1,
                    '\'' if chars.get(i + 1) == Some(&'\'') => i += 1,
                    '\'' => self.state = State::Plain,
                    _ => {}
                },
                State::Double => match c {
                    '"' if chars.get(i + 1) == Some(&'"') => i += 1,
                    '"' => self.state = State::Plain,
                    _ => {}
                },
                State::Dollar(delimiter) => {
                    let rest: String = chars[i..].iter().take(delimiter.chars().count()).collect();
                    if rest == delimiter {
                        i += delimiter.chars().count() - 1;
                        self.state = State::Plain;
                    }
                }
            }
            i += 1;
        }
        // A string does not end at a line's end; nothing else to carry.
    }
}

/// Panics, with the statements each database has and the other lacks,
/// unless the schemas of `a_db` and `b_db` dump alike.
pub fn assert_same_dump(a_db: &str, b_db: &str) {
    assert_dumps_equal(&format!("{a_db} and {b_db} differ"), a_db, &dump(a_db), b_db, &dump(b_db));
}

/// Panics unless the normalised dumps `a` and `b` are equal, saying `what`
/// and listing the statements only one side has (`a_name`'s, then `b_name`'s).
pub fn assert_dumps_equal(what: &str, a_name: &str, a: &str, b_name: &str, b: &str) {
    if let Some(difference) = dump_difference(a_name, a, b_name, b) {
        panic!("{what}:\n{difference}");
    }
}

/// The statements only one of two normalised dumps has, readably, or
/// `None` when they are equal.
pub fn dump_difference(a_name: &str, a: &str, b_name: &str, b: &str) -> Option<String> {
    if a == b {
        return None;
    }
    // A normalised dump is still statements as pg_dump ends them.
    let (a_all, b_all) = (statements(a), statements(b));
    let a_set: BTreeSet<&str> = a_all.iter().map(String::as_str).collect();
    let b_set: BTreeSet<&str> = b_all.iter().map(String::as_str).collect();
    let mut a_only: Vec<&str> = a_set.difference(&b_set).copied().collect();
    let mut b_only: Vec<&str> = b_set.difference(&a_set).copied().collect();
    let mut out = String::new();
    // Statements that start alike (`CREATE TABLE public.t (`) are one object
    // changed: shown as a line diff.
    let mut changed = Vec::new();
    a_only.retain(|s| {
        let first = s.lines().next().unwrap_or_default();
        match b_only.iter().position(|t| t.lines().next() == Some(first)) {
            Some(i) => {
                changed.push((*s, b_only.remove(i)));
                false
            }
            None => true,
        }
    });
    const SHOWN: usize = 25;
    if !changed.is_empty() {
        out.push_str(&format!("--- changed ({} statements; - {a_name}, + {b_name}):\n", changed.len()));
        for (from, to) in changed.iter().take(SHOWN) {
            out.push_str(&line_diff(from, to));
        }
        if changed.len() > SHOWN {
            out.push_str(&format!("... and {} more\n", changed.len() - SHOWN));
        }
    }
    for (name, only) in [(a_name, &a_only), (b_name, &b_only)] {
        if only.is_empty() {
            continue;
        }
        out.push_str(&format!("--- only in {name} ({} statements):\n", only.len()));
        for statement in only.iter().take(SHOWN) {
            out.push_str(statement);
            out.push('\n');
        }
        if only.len() > SHOWN {
            out.push_str(&format!("... and {} more\n", only.len() - SHOWN));
        }
    }
    if out.is_empty() {
        out.push_str("(the same statements, a different number of times)\n");
    }
    Some(out)
}

/// The lines of `from` and `to`, a longest common subsequence apart:
/// kept lines indented, removed ones after `-`, added ones after `+`.
fn line_diff(from: &str, to: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (from.lines().collect(), to.lines().collect());
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut lines) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push(format!("  {}", a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            lines.push(format!("- {}", a[i]));
            i += 1;
        } else {
            lines.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    // The first line names the object; of the rest, the changes and one line around each.
    let changed = |k: usize| lines.get(k).is_some_and(|l| !l.starts_with("  "));
    let mut out = String::new();
    let mut skipped = false;
    for (k, line) in lines.iter().enumerate() {
        if k == 0 || changed(k) || (k > 0 && changed(k - 1)) || changed(k + 1) {
            if skipped {
                out.push_str("  ...\n");
                skipped = false;
            }
            out.push_str(line);
            out.push('\n');
        } else {
            skipped = true;
        }
    }
    if skipped {
        out.push_str("  ...\n");
    }
    out
}

/// Runs `sql` with psql on `db_name`, stopping at the first error.
pub fn psql(db_name: &str, sql: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &database_url(db_name), "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql is installed");
    child.stdin.take().expect("piped").write_all(sql.as_bytes()).expect("write to psql");
    let output = child.wait_with_output().expect("psql runs");
    if output.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
}

#[cfg(test)]
mod unit {
    #[test]
    fn a_tables_columns_are_compared_in_any_order() {
        let a = "CREATE TABLE public.t (\n    id integer NOT NULL,\n    b text,\n    a text\n);\n";
        let b = "CREATE TABLE public.t (\n    id integer NOT NULL,\n    a text,\n    b text\n);\n";
        assert_eq!(super::normalise(a), super::normalise(b));
        assert_eq!(
            super::normalise(a),
            "CREATE TABLE public.t (\n    a text,\n    b text,\n    id integer NOT NULL\n);"
        );
    }

    use super::*;

    const DUMP: &str = r#"--
-- PostgreSQL database dump
--

\restrict 5h1NTheJdSrzP1V5ayX7f844lUv85x1Yd2hWUjlNK0NDfimBAfbWKRKwigdqqUY

-- Dumped from database version 15.20

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;

--
-- Name: touch(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.touch() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$
BEGIN
    NEW.note := 'a;';

    -- not a comment line of the dump;
    NEW.tag := $1;
    RETURN NEW;
END $_$;


SET default_tablespace = '';

--
-- Name: t; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.t (
    id integer NOT NULL,
    "odd;name" text DEFAULT 'it''s; $x$'::text
);


COMMENT ON COLUMN public.t.id IS E'the key;\nsecond line''s;
third line';


ALTER TABLE ONLY public.t
    ADD CONSTRAINT t_pkey PRIMARY KEY (id);


GRANT SELECT ON TABLE public.t TO PUBLIC;


--
-- PostgreSQL database dump complete
--

\unrestrict 5h1NTheJdSrzP1V5ayX7f844lUv85x1Yd2hWUjlNK0NDfimBAfbWKRKwigdqqUY
"#;

    #[test]
    fn normalising_keeps_statements_whole_and_sorts_them() {
        let statements = statements(DUMP);
        assert_eq!(
            statements,
            [
                "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);",
                "COMMENT ON COLUMN public.t.id IS E'the key;\\nsecond line''s;\nthird line';",
                "CREATE FUNCTION public.touch() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\n    NEW.note := 'a;';\n\n    -- not a comment line of the dump;\n    NEW.tag := $1;\n    RETURN NEW;\nEND $_$;",
                "CREATE TABLE public.t (\n    \"odd;name\" text DEFAULT 'it''s; $x$'::text,\n    id integer NOT NULL\n);",
                "GRANT SELECT ON TABLE public.t TO PUBLIC;",
            ]
        );
    }

    #[test]
    fn normalising_ignores_order_restrict_keys_and_session_lines() {
        let reordered = DUMP
            .replace("5h1NTheJdSrzP1V5ayX7f844lUv85x1Yd2hWUjlNK0NDfimBAfbWKRKwigdqqUY", "another-key")
            .replace("GRANT SELECT ON TABLE public.t TO PUBLIC;\n", "")
            .replace(
                "SET statement_timeout = 0;",
                "SET statement_timeout = 0;\nGRANT SELECT ON TABLE public.t TO PUBLIC;",
            );
        assert_eq!(normalise(&reordered), normalise(DUMP));
        assert_eq!(dump_difference("a", &normalise(DUMP), "b", &normalise(&reordered)), None);
    }

    #[test]
    fn a_statement_changed_is_shown_as_a_line_diff() {
        let changed = DUMP.replace("    id integer NOT NULL,\n", "    id bigint NOT NULL,\n");
        let difference = dump_difference("models", &normalise(DUMP), "history", &normalise(&changed));
        assert_eq!(
            difference.as_deref(),
            Some(
                "--- changed (1 statements; - models, + history):\n  CREATE TABLE public.t (\n      \
                 \"odd;name\" text DEFAULT 'it''s; $x$'::text,\n-     id integer NOT NULL\n+     id bigint NOT NULL\n  );\n"
            )
        );
    }

    #[test]
    fn a_difference_names_the_statements_each_side_lacks() {
        let changed = DUMP.replace("GRANT SELECT", "GRANT INSERT");
        let difference = dump_difference("models", &normalise(DUMP), "history", &normalise(&changed));
        assert_eq!(
            difference.as_deref(),
            Some(
                "--- only in models (1 statements):\nGRANT SELECT ON TABLE public.t TO PUBLIC;\n\
                 --- only in history (1 statements):\nGRANT INSERT ON TABLE public.t TO PUBLIC;\n"
            )
        );
    }
}
