//! Splitting SQL into statements the way the database's own lexer does, so
//! that online runs, offline scripts and error locations agree, and nothing
//! is ever skipped silently.
//!
//! Each [`Dialect`] has its own lexical rules:
//!
//! | rule | PostgreSQL | SQLite | MySQL |
//! |---|---|---|---|
//! | `-- comment` ends at | `\n` or `\r` | `\n` | `\n` (and needs a space after `--`); also `# comment` |
//! | `/* */` | nests | does not nest | does not nest; `/*! ... */` is SQL |
//! | strings | `'...'` with `''`; `E'...'` also with `\'` | `'...'` with `''` | `'...'` and `"..."`, with doubling and `\` |
//! | identifiers | `"..."` | `"..."`, `` `...` ``, `[...]` | `` `...` `` |
//! | `$tag$ ... $tag$` | a string | (a parameter) | (a name) |
//! | bodies holding `;` | `BEGIN ATOMIC ... END` | `CREATE TRIGGER ... BEGIN ... END` | the mysql client's `DELIMITER x` line, at a statement's start, makes `x` the terminator until the next one |
//!
//! A body ends at an `END` that starts a statement of the body (it follows a
//! `;`, or the `BEGIN`/`ATOMIC` itself), as in SQLite's `sqlite3_complete`;
//! a `CASE ... END` inside the body does not end it. String and identifier
//! contents are never read as keywords. The work is linear in the input.
//!
//! An unclosed comment, string, identifier, dollar quote or body is an error
//! ([`SplitError`]) with its position: SQLite would otherwise ignore the rest
//! of the input without a word.

use std::fmt;

/// The SQL dialect of a database. More will come: match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL, and the databases that speak its protocol and SQL
    /// (CockroachDB, YugabyteDB).
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

impl Dialect {
    /// The product name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
            Dialect::Mysql => "MySQL",
        }
    }

    /// The dialect as the configuration and JSON spell it: `dialect = "postgres"`.
    pub fn key(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }

    /// Starts a transaction. On SQLite it takes the write lock at once
    /// (`IMMEDIATE`), so two migrators serialise instead of failing later.
    pub fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
            Dialect::Mysql => "START TRANSACTION",
        }
    }
}

/// One statement: its byte offset in the input and its text, from its first
/// token to its last (comments around it and the `;` are not part of it, so
/// appending `;` always terminates it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    /// Where the statement starts, in bytes from the start of the input.
    pub offset: usize,
    /// The statement's text, from its first token to its last (without the `;` that ends it).
    pub text: &'a str,
}

/// Why SQL could not be split: something opened and never closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitError {
    /// Byte offset of what was opened.
    pub offset: usize,
    /// What was left open.
    pub kind: Unclosed,
}

/// What was left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unclosed {
    /// A `/*` comment without its `*/`.
    Comment,
    /// A string literal without its closing `'`.
    String,
    /// A quoted identifier (`"..."`, and in SQLite `` `...` `` or `[...]`) without its closing quote.
    Identifier,
    /// A PostgreSQL `$tag$` string without the same `$tag$` to close it.
    DollarQuote,
    /// A trigger or `BEGIN ATOMIC` body without its `END`.
    Body,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            Unclosed::Comment => "this `/*` comment is never closed with `*/`",
            Unclosed::String => "this string literal is never closed",
            Unclosed::Identifier => "this quoted identifier is never closed",
            Unclosed::DollarQuote => "this dollar-quoted string is never closed with the same `$tag$`",
            Unclosed::Body => "this body (`BEGIN ... END`) is never closed: its statements need a final `END;`",
        })
    }
}

impl std::error::Error for SplitError {}

/// A lexical element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// Whitespace or a comment.
    Trivia,
    Semicolon,
    /// A keyword or unquoted identifier.
    Word,
    /// Anything else: quoted strings and identifiers, numbers, operators.
    Other,
}

/// A lexer over one input for one dialect.
struct Lexer<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    dialect: Dialect,
    at: usize,
    /// MySQL: the terminator the mysql client's `DELIMITER` set, when it is
    /// not `;` (then `;` is an ordinary character).
    delimiter: Option<&'a str>,
}

impl<'a> Lexer<'a> {
    fn new(sql: &'a str, dialect: Dialect) -> Lexer<'a> {
        Lexer { sql, bytes: sql.as_bytes(), dialect, at: 0, delimiter: None }
    }

    /// Whether the custom delimiter starts at `at`.
    fn delimiter_at(&self, at: usize) -> Option<usize> {
        self.delimiter.filter(|d| self.sql.as_bytes()[at..].starts_with(d.as_bytes())).map(|d| at + d.len())
    }

    /// The mysql client's `DELIMITER x` command, when the word at
    /// `start..end` (at the start of a statement) is `DELIMITER` followed on
    /// its line by a delimiter: the delimiter, and where its line ends
    /// (the rest of the line is the command's). Takes the delimiter.
    fn delimiter_command(&mut self, start: usize, end: usize) -> bool {
        if self.dialect != Dialect::Mysql || !self.sql[start..end].eq_ignore_ascii_case("delimiter") {
            return false;
        }
        let line_end = self.bytes[end..].iter().position(|&b| b == b'\n').map_or(self.bytes.len(), |n| end + n);
        let line = &self.sql[end..line_end];
        // `DELIMITER` needs a space before its argument, as in the client.
        if !line.starts_with([' ', '\t']) {
            return false;
        }
        let Some(word) = line.split_whitespace().next() else { return false };
        let word = match word.as_bytes()[0] {
            quote @ (b'\'' | b'"' | b'`') => {
                let inner = &word[1..];
                inner.find(quote as char).map_or(inner, |n| &inner[..n])
            }
            _ => word,
        };
        if word.is_empty() {
            return false;
        }
        self.delimiter = (word != ";").then_some(word);
        self.at = line_end;
        true
    }

    /// The next token and its byte range, or `None` at the end.
    fn next(&mut self) -> Result<Option<(Token, usize, usize)>, SplitError> {
        let start = self.at;
        let Some(&byte) = self.bytes.get(start) else { return Ok(None) };
        let pg = self.dialect == Dialect::Postgres;
        let mysql = self.dialect == Dialect::Mysql;
        let unclosed = |kind| SplitError { offset: start, kind };
        let next = self.bytes.get(start + 1).copied();
        if let Some(end) = self.delimiter_at(start) {
            self.at = end;
            return Ok(Some((Token::Semicolon, start, end)));
        }
        let (token, end) = match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c' => (Token::Trivia, start + 1),
            // MySQL reads `--` as a comment only before whitespace (`1--1` is 2).
            b'-' if next == Some(b'-')
                && (!mysql
                    || self.bytes.get(start + 2).is_none_or(|b| b.is_ascii_whitespace() || b.is_ascii_control())) =>
            {
                let stop: &[u8] = if pg { b"\n\r" } else { b"\n" };
                let len = self.bytes[start..].iter().position(|b| stop.contains(b)).unwrap_or(self.bytes.len() - start);
                (Token::Trivia, start + len)
            }
            b'#' if mysql => {
                let len = self.bytes[start..].iter().position(|&b| b == b'\n').unwrap_or(self.bytes.len() - start);
                (Token::Trivia, start + len)
            }
            b'/' if next == Some(b'*') => {
                let end = self.block_comment(start).ok_or_else(|| unclosed(Unclosed::Comment))?;
                // MySQL runs what a `/*! ... */` comment holds.
                let executable = mysql && self.bytes.get(start + 2) == Some(&b'!');
                (if executable { Token::Other } else { Token::Trivia }, end)
            }
            b';' if self.delimiter.is_some() => (Token::Other, start + 1),
            b';' => (Token::Semicolon, start + 1),
            b'\'' | b'"' if mysql => {
                // MySQL strings take `\` escapes, and `"` quotes strings too.
                (Token::Other, self.quoted(start, byte, true).ok_or_else(|| unclosed(Unclosed::String))?)
            }
            b'\'' => {
                let escapes = pg && self.escape_string_prefix(start);
                let mut end = self.quoted(start, b'\'', escapes).ok_or_else(|| unclosed(Unclosed::String))?;
                // PostgreSQL continues a string after whitespace holding a
                // newline (`'a'\n'b'` is `'ab'`), in the same escape mode.
                while let Some(next) = self.continuation(end) {
                    end =
                        self.quoted(next, b'\'', escapes).ok_or(SplitError { offset: next, kind: Unclosed::String })?;
                }
                (Token::Other, end)
            }
            b'"' => (Token::Other, self.quoted(start, b'"', false).ok_or_else(|| unclosed(Unclosed::Identifier))?),
            b'`' if !pg => {
                (Token::Other, self.quoted(start, b'`', false).ok_or_else(|| unclosed(Unclosed::Identifier))?)
            }
            b'[' if self.dialect == Dialect::Sqlite => {
                let close = self.bytes[start..].iter().position(|&b| b == b']');
                (Token::Other, close.map(|n| start + n + 1).ok_or_else(|| unclosed(Unclosed::Identifier))?)
            }
            b'$' if pg => match self.dollar_tag(start) {
                Some(tag) => {
                    let body = start + tag.len();
                    let end = self.sql[body..].find(tag).ok_or_else(|| unclosed(Unclosed::DollarQuote))?;
                    (Token::Other, body + end + tag.len())
                }
                None => (Token::Other, start + 1),
            },
            b if is_word_start(b) => {
                // A word ends where a custom delimiter starts (`END$$`), as in the mysql client.
                let mut end = start + 1;
                while end < self.bytes.len()
                    && is_word_continue(self.bytes[end], pg || mysql)
                    && self.delimiter_at(end).is_none()
                {
                    end += 1;
                }
                (Token::Word, end)
            }
            _ => {
                // One character (never split a UTF-8 sequence).
                let len = self.sql[start..].chars().next().map_or(1, char::len_utf8);
                (Token::Other, start + len)
            }
        };
        self.at = end;
        Ok(Some((token, start, end)))
    }

    /// Whether the `'` at `quote` is preceded by an `E` prefix word (`E'...'`).
    fn escape_string_prefix(&self, quote: usize) -> bool {
        quote > 0
            && matches!(self.bytes[quote - 1], b'E' | b'e')
            && (quote < 2 || !is_word_continue(self.bytes[quote - 2], true))
    }

    /// Where a PostgreSQL string continues after the one ending at `end`:
    /// the `'` after whitespace that holds a newline.
    fn continuation(&self, end: usize) -> Option<usize> {
        if self.dialect != Dialect::Postgres {
            return None;
        }
        let gap = self.bytes[end..].iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')).count();
        let newline = self.bytes[end..end + gap].iter().any(|b| matches!(b, b'\n' | b'\r'));
        (newline && self.bytes.get(end + gap) == Some(&b'\'')).then_some(end + gap)
    }

    /// Past the quote closing the one at `open`; a doubled quote is part of
    /// the text; `backslash` also skips the character after a `\`.
    fn quoted(&self, open: usize, quote: u8, backslash: bool) -> Option<usize> {
        let mut i = open + 1;
        while i < self.bytes.len() {
            match self.bytes[i] {
                b'\\' if backslash => i += 2,
                b if b == quote && self.bytes.get(i + 1) == Some(&quote) => i += 2,
                b if b == quote => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    }

    /// Past the `*/` closing the comment at `open`; PostgreSQL nests comments.
    fn block_comment(&self, open: usize) -> Option<usize> {
        let nests = self.dialect == Dialect::Postgres;
        let mut depth = 0usize;
        let mut i = open;
        while i + 1 < self.bytes.len() {
            match (self.bytes[i], self.bytes[i + 1]) {
                (b'/', b'*') if depth == 0 || nests => {
                    depth += 1;
                    i += 2;
                }
                (b'*', b'/') => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => i += 1,
            }
        }
        None
    }

    /// The `$tag$` opening a dollar-quoted string at `open`, if it is one (not
    /// a parameter like `$1`). A `$` inside a word never gets here.
    fn dollar_tag(&self, open: usize) -> Option<&'a str> {
        let rest = &self.bytes[open + 1..];
        if rest.first().is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let len = rest.iter().take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80).count();
        (rest.get(len) == Some(&b'$')).then(|| &self.sql[open..open + len + 2])
    }
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// PostgreSQL and MySQL identifiers may contain `$` after their first character.
fn is_word_continue(b: u8, dollar: bool) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 || (dollar && b == b'$')
}

/// Where a statement is with respect to a body holding `;`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Not a statement that can have one, or before its `BEGIN`.
    Outside,
    /// Inside; `at_statement_start` after the opening keyword or a `;`.
    Inside { at_statement_start: bool },
    /// After its `END`.
    Closed,
}

/// The statement being read.
struct Current {
    /// First and last byte of its tokens, if it has any.
    span: Option<(usize, usize)>,
    /// Its first words, upper-cased (enough to recognise the statement).
    leading: Vec<String>,
    previous_word: Option<String>,
    can_have_body: bool,
    body: Body,
    /// Open parentheses (PostgreSQL): a `;` inside them, as in a
    /// multi-action `CREATE RULE`, does not end the statement (psql's rule).
    parens: usize,
}

impl Current {
    fn new() -> Current {
        Current {
            span: None,
            leading: Vec::new(),
            previous_word: None,
            can_have_body: false,
            body: Body::Outside,
            parens: 0,
        }
    }

    fn word(&mut self, word: &str, dialect: Dialect) {
        let upper = word.to_ascii_uppercase();
        if self.leading.len() < 4 {
            self.leading.push(upper.clone());
            self.can_have_body = match dialect {
                // The mysql client's rule: a body holding `;` needs `DELIMITER`.
                Dialect::Mysql => false,
                Dialect::Sqlite => {
                    matches!(
                        self.leading.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
                        ["CREATE", "TRIGGER", ..] | ["CREATE", "TEMP" | "TEMPORARY", "TRIGGER", ..]
                    )
                }
                Dialect::Postgres => {
                    matches!(
                        self.leading.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
                        ["CREATE", "FUNCTION" | "PROCEDURE", ..]
                            | ["CREATE", "OR", "REPLACE", "FUNCTION" | "PROCEDURE", ..]
                    )
                }
            };
        }
        self.body = match self.body {
            Body::Outside if self.can_have_body => {
                let opens = match dialect {
                    Dialect::Sqlite => upper == "BEGIN",
                    Dialect::Postgres => upper == "ATOMIC" && self.previous_word.as_deref() == Some("BEGIN"),
                    Dialect::Mysql => false,
                };
                if opens { Body::Inside { at_statement_start: true } } else { Body::Outside }
            }
            Body::Inside { at_statement_start: true } if upper == "END" => Body::Closed,
            Body::Inside { .. } => Body::Inside { at_statement_start: false },
            other => other,
        };
        self.previous_word = Some(upper);
    }

    /// A token other than a word or `;`.
    fn other(&mut self) {
        if let Body::Inside { .. } = self.body {
            self.body = Body::Inside { at_statement_start: false };
        }
        self.previous_word = None;
    }

    fn extend(&mut self, start: usize, end: usize) {
        self.span = Some((self.span.map_or(start, |(s, _)| s), end));
    }
}

/// The non-empty statements of `sql`, in order, under `dialect`'s rules.
///
/// ```
/// use migrate_history::sql::{Dialect, split};
/// let sql = "CREATE TABLE t (note TEXT DEFAULT ';'); -- done\nINSERT INTO t VALUES ('x')";
/// let texts: Vec<&str> = split(sql, Dialect::Sqlite).unwrap().iter().map(|s| s.text).collect();
/// assert_eq!(texts, ["CREATE TABLE t (note TEXT DEFAULT ';')", "INSERT INTO t VALUES ('x')"]);
/// assert!(split("SELECT 1; /* never closed", Dialect::Sqlite).is_err());
/// ```
pub fn split<'a>(sql: &'a str, dialect: Dialect) -> Result<Vec<Statement<'a>>, SplitError> {
    split_delimited(sql, dialect, None).map(|statements| statements.into_iter().map(|(st, _)| st).collect())
}

/// [`split`], starting with `delimiter` (MySQL; `None`: `;`), with the
/// delimiter that ended each statement.
fn split_delimited<'a>(
    sql: &'a str,
    dialect: Dialect,
    delimiter: Option<&'a str>,
) -> Result<Vec<(Statement<'a>, Option<&'a str>)>, SplitError> {
    let mut lexer = Lexer::new(sql, dialect);
    lexer.delimiter = delimiter;
    let mut statements = Vec::new();
    let mut current = Current::new();
    let finish = |current: &mut Current, statements: &mut Vec<_>, delimiter: Option<&'a str>| {
        if let Some((start, end)) = std::mem::replace(current, Current::new()).span {
            statements.push((Statement { offset: start, text: &sql[start..end] }, delimiter));
        }
    };
    let mut body_start = 0;
    while let Some((token, start, end)) = lexer.next()? {
        match token {
            Token::Trivia => continue,
            Token::Semicolon if current.parens > 0 => current.extend(start, end),
            Token::Semicolon => match current.body {
                Body::Inside { .. } => {
                    current.body = Body::Inside { at_statement_start: true };
                    current.previous_word = None;
                    current.extend(start, end);
                }
                Body::Outside | Body::Closed => finish(&mut current, &mut statements, lexer.delimiter),
            },
            // The mysql client's command, at the start of a statement: not SQL.
            Token::Word if current.span.is_none() && lexer.delimiter_command(start, end) => {}
            Token::Word => {
                let was_outside = current.body == Body::Outside;
                current.word(&sql[start..end], dialect);
                if was_outside && current.body != Body::Outside {
                    body_start = start;
                }
                current.extend(start, end);
            }
            Token::Other => {
                if dialect == Dialect::Postgres {
                    match &sql[start..end] {
                        "(" => current.parens += 1,
                        ")" => current.parens = current.parens.saturating_sub(1),
                        _ => {}
                    }
                }
                current.other();
                current.extend(start, end);
            }
        }
    }
    if let Body::Inside { .. } = current.body {
        return Err(SplitError { offset: body_start, kind: Unclosed::Body });
    }
    finish(&mut current, &mut statements, lexer.delimiter);
    Ok(statements)
}

/// The first `n` words of a statement, upper-cased, before anything else
/// (comments are skipped).
fn leading_words(statement: &str, dialect: Dialect, n: usize) -> Vec<String> {
    let mut lexer = Lexer::new(statement, dialect);
    let mut words = Vec::new();
    while words.len() < n {
        match lexer.next() {
            Ok(Some((Token::Word, start, end))) => words.push(statement[start..end].to_ascii_uppercase()),
            Ok(Some((Token::Trivia, ..))) => {}
            _ => break,
        }
    }
    words
}

/// Whether a statement controls the transaction (`BEGIN`, `COMMIT`,
/// `ROLLBACK` without `TO`, `END`, `ABORT`, `START TRANSACTION`, `PREPARE
/// TRANSACTION`): such a statement must not run inside a revision's own
/// transaction. Savepoints are fine.
pub fn controls_transaction(statement: &str, dialect: Dialect) -> bool {
    let words = leading_words(statement, dialect, 3);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["BEGIN", "ATOMIC", ..] => false,
        ["BEGIN" | "COMMIT" | "END" | "ABORT", ..] => true,
        ["ROLLBACK", rest @ ..] => !matches!(rest, ["TO", ..] | ["TRANSACTION" | "WORK", "TO"]),
        ["START" | "PREPARE", "TRANSACTION", ..] => true,
        _ => false,
    }
}

/// Whether a MySQL or MariaDB statement is one that commits the
/// transaction implicitly (`CREATE`, `ALTER`, `DROP`, `RENAME`, `TRUNCATE`,
/// `GRANT`, `REVOKE`, `LOCK`/`UNLOCK TABLES`, `INSTALL`/`UNINSTALL`): schema
/// changes, which nothing rolls back. A `CREATE TEMPORARY TABLE` does not.
///
/// ```
/// use migrate_history::sql::commits_implicitly;
/// assert!(commits_implicitly("alter table t add column x int"));
/// assert!(!commits_implicitly("INSERT INTO t VALUES (1)"));
/// assert!(!commits_implicitly("CREATE TEMPORARY TABLE t (x INT)"));
/// ```
pub fn commits_implicitly(statement: &str) -> bool {
    let words = leading_words(statement, Dialect::Mysql, 2);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["CREATE" | "DROP", "TEMPORARY"] => false,
        [first, ..] => matches!(
            *first,
            "CREATE"
                | "ALTER"
                | "DROP"
                | "RENAME"
                | "TRUNCATE"
                | "GRANT"
                | "REVOKE"
                | "LOCK"
                | "UNLOCK"
                | "INSTALL"
                | "UNINSTALL"
        ),
        [] => false,
    }
}

/// Checks the splitter's invariants on `sql` (used by the fuzz targets and
/// their corpus replay): statements are in order, each is the input's text at
/// its offset, the bytes between them are only whitespace, comments and `;`
/// under `dialect`'s rules, and splitting a statement again gives itself.
#[doc(hidden)]
pub fn check_partition(sql: &str, dialect: Dialect) -> Result<(), String> {
    let Ok(statements) = split_delimited(sql, dialect, None) else { return Ok(()) };
    let mut at = 0;
    let mut delimiter = None;
    for (statement, ended_by) in &statements {
        if statement.offset < at
            || sql.get(statement.offset..statement.offset + statement.text.len()) != Some(statement.text)
        {
            return Err(format!(
                "statement at {} is not the input's text in order: {:?}",
                statement.offset, statement.text
            ));
        }
        let gap = &sql[at..statement.offset];
        if !is_gap(gap, dialect, &mut delimiter) {
            return Err(format!("the gap before offset {} holds more than comments: {gap:?}", statement.offset));
        }
        if delimiter != *ended_by {
            return Err(format!("{:?} ends with {ended_by:?}, the gap before it set {delimiter:?}", statement.text));
        }
        let again = split_delimited(statement.text, dialect, delimiter)
            .map_err(|e| format!("{:?} no longer splits: {e}", statement.text))?;
        if again.len() != 1 || again[0].0.text != statement.text {
            return Err(format!("{:?} splits again into {again:?}", statement.text));
        }
        at = statement.offset + statement.text.len();
    }
    if !is_gap(&sql[at..], dialect, &mut delimiter) {
        return Err(format!("the tail after offset {at} holds more than comments: {:?}", &sql[at..]));
    }
    Ok(())
}

/// Whether `text` is only whitespace, comments, terminators and (MySQL)
/// `DELIMITER` commands; `delimiter` is the one in force, updated.
fn is_gap<'a>(text: &'a str, dialect: Dialect, delimiter: &mut Option<&'a str>) -> bool {
    let mut lexer = Lexer::new(text, dialect);
    lexer.delimiter = *delimiter;
    loop {
        match lexer.next() {
            Ok(Some((Token::Trivia | Token::Semicolon, ..))) => {}
            Ok(Some((Token::Word, start, end))) if lexer.delimiter_command(start, end) => {}
            Ok(None) => {
                *delimiter = lexer.delimiter;
                return true;
            }
            _ => return false,
        }
    }
}

/// The 1-based line of `offset` in `text`.
pub fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// `text` made safe for a `--` comment in any dialect: control characters
/// (which could end the comment) are written as escapes, like `\r`.
///
/// ```
/// assert_eq!(migrate_history::sql::comment_safe("a\rDROP TABLE t"), "a\\rDROP TABLE t");
/// ```
pub fn comment_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, dialect: Dialect) -> Vec<&str> {
        split(sql, dialect).unwrap().into_iter().map(|s| s.text).collect()
    }

    fn both(sql: &str) -> Vec<&str> {
        let lite = texts(sql, Dialect::Sqlite);
        assert_eq!(lite, texts(sql, Dialect::Postgres), "dialects disagree on {sql:?}");
        lite
    }

    #[test]
    fn mysql_comments_strings_and_identifiers() {
        let sql = "SELECT 1--1; # a comment; still\nSELECT 'it\\'s;', \"a;\" -- b;\n; SELECT `x;``y` FROM t; /*! SET x = 1 */; SELECT [a;b]";
        assert_eq!(
            texts(sql, Dialect::Mysql),
            ["SELECT 1--1", "SELECT 'it\\'s;', \"a;\"", "SELECT `x;``y` FROM t", "/*! SET x = 1 */", "SELECT [a", "b]"]
        );
        assert_eq!(split("SELECT 'a\\'", Dialect::Mysql), Err(SplitError { offset: 7, kind: Unclosed::String }));
        assert_eq!(Dialect::Mysql.begin(), "START TRANSACTION");
    }

    #[test]
    fn mysql_delimiter_changes_the_terminator() {
        let sql = "CREATE TABLE t (x INT);\ndelimiter $$\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT ';'; END$$\n\
                   CREATE TRIGGER g BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.x = 1; END $$\n\
                   DELIMITER ;\nINSERT INTO t VALUES (1); SELECT 2";
        let statements = split(sql, Dialect::Mysql).unwrap();
        let found: Vec<&str> = statements.iter().map(|s| s.text).collect();
        assert_eq!(
            found,
            [
                "CREATE TABLE t (x INT)",
                "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT ';'; END",
                "CREATE TRIGGER g BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.x = 1; END",
                "INSERT INTO t VALUES (1)",
                "SELECT 2",
            ]
        );
        for statement in &statements {
            assert_eq!(&sql[statement.offset..statement.offset + statement.text.len()], statement.text);
        }
        check_partition(sql, Dialect::Mysql).unwrap();
        // A quoted or multi-character delimiter; only at a statement's start.
        assert_eq!(
            texts("DELIMITER '//'\nSELECT 1; SELECT 2//SELECT 3//", Dialect::Mysql),
            ["SELECT 1; SELECT 2", "SELECT 3"]
        );
        assert_eq!(texts("SELECT 1 DELIMITER //\n; SELECT 2", Dialect::Mysql), ["SELECT 1 DELIMITER //", "SELECT 2"]);
        // Other dialects have no such command.
        assert_eq!(texts("DELIMITER //\nSELECT 1;", Dialect::Sqlite), ["DELIMITER //\nSELECT 1"]);
        assert_eq!(texts("DELIMITER\nSELECT 1;", Dialect::Mysql), ["DELIMITER\nSELECT 1"]);
    }

    #[test]
    fn splits_on_semicolons_outside_literals_and_comments() {
        assert_eq!(
            both(
                "CREATE TABLE a (x TEXT DEFAULT ';');\n-- a comment; still a comment\nINSERT INTO a VALUES ('it''s; ok');"
            ),
            ["CREATE TABLE a (x TEXT DEFAULT ';')", "INSERT INTO a VALUES ('it''s; ok')"]
        );
        assert_eq!(both("SELECT \"odd;name\" FROM t; /* x; y */ SELECT 2"), ["SELECT \"odd;name\" FROM t", "SELECT 2"]);
        assert_eq!(texts("SELECT E'a\\';b'; SELECT 3;", Dialect::Postgres), ["SELECT E'a\\';b'", "SELECT 3"]);
        // In SQLite a backslash is an ordinary character.
        assert_eq!(texts("SELECT 'a\\'; SELECT 3;", Dialect::Sqlite), ["SELECT 'a\\'", "SELECT 3"]);
    }

    #[test]
    fn a_trailing_comment_with_a_semicolon_is_not_part_of_the_statement() {
        assert_eq!(both("CREATE TABLE a (x INT) -- the end; really"), ["CREATE TABLE a (x INT)"]);
    }

    #[test]
    fn postgres_ends_line_comments_at_a_carriage_return() {
        let sql = "-- note\rCREATE TABLE t (x INT);\nCREATE TABLE u (y INT);";
        assert_eq!(texts(sql, Dialect::Postgres), ["CREATE TABLE t (x INT)", "CREATE TABLE u (y INT)"]);
        assert_eq!(texts(sql, Dialect::Sqlite), ["CREATE TABLE u (y INT)"]);
    }

    #[test]
    fn dollar_quoted_bodies_stay_whole() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;\nSELECT $1;";
        assert_eq!(texts(sql, Dialect::Postgres).len(), 2);
        assert_eq!(texts("DO $$ BEGIN PERFORM 1; END $$;", Dialect::Postgres), ["DO $$ BEGIN PERFORM 1; END $$"]);
        // A `$` inside a PostgreSQL identifier opens nothing.
        assert_eq!(texts("CREATE TABLE a$b$ (x INT); SELECT 1", Dialect::Postgres).len(), 2);
    }

    #[test]
    fn postgres_nests_comments_and_sqlite_does_not() {
        let sql = "SELECT 1; /* outer /* inner */ still a comment; */ SELECT 2;";
        assert_eq!(texts(sql, Dialect::Postgres), ["SELECT 1", "SELECT 2"]);
        assert_eq!(texts(sql, Dialect::Sqlite), ["SELECT 1", "still a comment", "*/ SELECT 2"]);
    }

    #[test]
    fn anything_left_open_is_an_error_at_its_start() {
        let cases = [
            ("CREATE TABLE a(x);\n/* never closed; CREATE TABLE b(y);", Unclosed::Comment, 19),
            ("SELECT 'abc; SELECT 2", Unclosed::String, 7),
            ("SELECT \"abc; SELECT 2", Unclosed::Identifier, 7),
        ];
        for (sql, kind, offset) in cases {
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                assert_eq!(split(sql, dialect), Err(SplitError { offset, kind }), "{sql:?} {dialect:?}");
            }
        }
        assert_eq!(
            split("SELECT $x$ abc", Dialect::Postgres),
            Err(SplitError { offset: 7, kind: Unclosed::DollarQuote })
        );
        assert_eq!(split("SELECT [abc", Dialect::Sqlite), Err(SplitError { offset: 7, kind: Unclosed::Identifier }));
        assert_eq!(
            split("CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  DELETE FROM t;", Dialect::Sqlite),
            Err(SplitError { offset: 36, kind: Unclosed::Body })
        );
    }

    #[test]
    fn trigger_bodies_with_case_strings_and_comments() {
        let sql = "-- keep counts\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET a = CASE WHEN new.b THEN 'the end' ELSE \"END\" END;\n  -- END;\n  DELETE FROM t WHERE a = 'BEGIN';\nEND;\nSELECT 1;";
        let statements = texts(sql, Dialect::Sqlite);
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(statements[0].starts_with("CREATE TRIGGER") && statements[0].ends_with("END"));
        assert_eq!(statements[1], "SELECT 1");
    }

    #[test]
    fn atomic_bodies_stay_whole() {
        let atomic = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END; SELECT 3;";
        assert_eq!(texts(atomic, Dialect::Postgres).len(), 2);
    }

    #[test]
    fn postgres_keeps_semicolons_inside_parentheses() {
        let rule = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO log VALUES (1); INSERT INTO log VALUES (2)); SELECT 1";
        assert_eq!(texts(rule, Dialect::Postgres).len(), 2);
        // An unbalanced `)` does not swallow what follows.
        assert_eq!(texts("SELECT 1); SELECT 2", Dialect::Postgres), ["SELECT 1)", "SELECT 2"]);
    }

    #[test]
    fn postgres_string_continuations_keep_their_escape_mode() {
        let sql = "INSERT INTO n VALUES (E'first\\n'\n'it\\'s; here'); SELECT 1";
        assert_eq!(texts(sql, Dialect::Postgres), ["INSERT INTO n VALUES (E'first\\n'\n'it\\'s; here')", "SELECT 1"]);
        // Without a newline between them, two literals are two tokens.
        assert_eq!(texts("SELECT 'a' 'b'; SELECT 2", Dialect::Postgres).len(), 2);
    }

    #[test]
    fn long_trigger_bodies_split_in_linear_time() {
        let body = "  UPDATE t SET a = 1;\n".repeat(20_000);
        let sql = format!("CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n{body}END;\nSELECT 1;");
        assert_eq!(texts(&sql, Dialect::Sqlite).len(), 2);
    }

    #[test]
    fn offsets_point_at_the_first_token() {
        let sql = "\n-- only a comment\n;\n  CREATE INDEX CONCURRENTLY i ON t (x);\n\n";
        let statements = split(sql, Dialect::Postgres).unwrap();
        assert_eq!(statements.len(), 1);
        assert_eq!(line_at(sql, statements[0].offset), 4);
        assert!(sql[statements[0].offset..].starts_with("CREATE INDEX"));
    }

    #[test]
    fn transaction_control_statements() {
        for text in
            ["BEGIN", "begin transaction", "COMMIT", "END", "ROLLBACK", "ROLLBACK WORK", "START TRANSACTION", "ABORT"]
        {
            assert!(controls_transaction(text, Dialect::Postgres), "{text}");
        }
        for text in [
            "SAVEPOINT a",
            "ROLLBACK TO a",
            "ROLLBACK TO SAVEPOINT a",
            "RELEASE a",
            "SELECT 'COMMIT'",
            "BEGIN ATOMIC SELECT 1; END",
        ] {
            assert!(!controls_transaction(text, Dialect::Postgres), "{text}");
        }
    }

    #[test]
    fn partitions_hold() {
        for sql in ["SELECT 1; -- x\n/* y */ SELECT 2", "", ";;", "CREATE TRIGGER t BEGIN SELECT 1; END; x"] {
            check_partition(sql, Dialect::Sqlite).unwrap();
            check_partition(sql, Dialect::Postgres).unwrap();
        }
    }

    #[test]
    fn comments_cannot_be_broken_out_of() {
        assert_eq!(comment_safe("m\nDROP\u{2028}x\u{0}"), "m\\nDROP\\u{2028}x\\u{0}");
    }
}
