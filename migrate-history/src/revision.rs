//! One revision file: its header and its `up` and `down` sections.
//!
//! ```sql
//! -- revision: 3f2a9c1b7e4d
//! -- parents: a1b2c3d4e5f6
//! -- message: add user profile table
//!
//! -- migrate:up
//! CREATE TABLE user_profile (id BIGINT PRIMARY KEY);
//!
//! -- migrate:down
//! DROP TABLE user_profile;
//! ```

use std::ops::Range;
use std::path::PathBuf;

use crate::{Checksum, Diagnostic, Problem, Span};

/// The header keys a revision file may use, in the order `new` writes them
/// (`allow`, which `new` never writes, and `imported-from` and `needs-sql`,
/// which `import` writes, last).
pub const HEADER_KEYS: [&str; 11] = [
    // Required: the first `REQUIRED_HEADER_KEYS`.
    "revision",
    "parents",
    "message",
    "created",
    "branch-labels",
    "depends-on",
    "transaction",
    "allow",
    "imported-from",
    "needs-sql",
    "replaces",
];

/// How many of [`HEADER_KEYS`], from the first, every revision must have.
const REQUIRED_HEADER_KEYS: usize = 3;

/// A file as read from disk (or from memory, in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path shown in messages, relative to the project root when possible.
    pub path: PathBuf,
    /// The absolute path it was read from, when it came from disk.
    pub origin: Option<PathBuf>,
    /// The file's whole text.
    pub text: String,
}

impl SourceFile {
    /// A file held in memory.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> SourceFile {
        SourceFile { path: path.into(), origin: None, text: text.into() }
    }
}

/// A slice of a revision file holding SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Byte range of the SQL in the file's text (after the marker line).
    pub range: Range<usize>,
    /// 1-based line number of the marker line; the SQL starts on the next line.
    pub marker_line: usize,
}

/// Lines of the header, for pointing at them in messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderLines {
    /// 1-based line of the `revision` key.
    pub revision: usize,
    /// 1-based line of the `parents` key.
    pub parents: usize,
    /// 1-based line of the `branch-labels` key; 0 when the header has none.
    pub branch_labels: usize,
    /// 1-based line of the `depends-on` key; 0 when the header has none.
    pub depends_on: usize,
    /// 1-based line of the `replaces` key; 0 when the header has none.
    pub replaces: usize,
}

/// An `-- allow: RULE because REASON` header line: the revision allows a
/// lint rule of `cargo migrate lint` for itself. A header may have several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// The rule's name as written, such as `ban-drop-column`.
    pub rule: String,
    /// Why the rule does not apply to this revision.
    pub reason: String,
    /// 1-based line of the header line.
    pub line: usize,
    /// Byte range of the rule's name in the file's text.
    pub rule_range: Range<usize>,
}

/// A parsed revision file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The revision's id, from the `revision` header.
    pub id: String,
    /// Alembic's `down_revision`: empty for a base, several for a merge.
    pub parents: Vec<String>,
    /// The `message` header: what the revision does.
    pub message: String,
    /// The `created` header as written, when present and not empty.
    pub created: Option<String>,
    /// The `branch-labels` header: names that resolve to this revision.
    pub branch_labels: Vec<String>,
    /// Revisions that must be applied first although they are not parents.
    pub depends_on: Vec<String>,
    /// Whether the revision runs inside a transaction (the default).
    pub transaction: bool,
    /// The `-- migrate:up` section.
    pub up: Section,
    /// `None` when the file has no `-- migrate:down` section: irreversible.
    pub down: Option<Section>,
    /// The file it was parsed from.
    pub file: SourceFile,
    /// The checksum of the file's text, as pinned in `migrate.lock`.
    pub checksum: Checksum,
    /// Where the main header keys are, for messages.
    pub lines: HeaderLines,
    /// The team's own header lines, kept as written: keys starting with
    /// `x-` (such as `-- x-jira: STARTUP-101`), in file order.
    pub extra: Vec<(String, String)>,
    /// The lint rules the revision allows for itself (`-- allow:` lines), in file order.
    pub allow: Vec<Allow>,
    /// The `imported-from` header: the tool and version `cargo migrate import`
    /// converted the revision from, such as `sqlx 20240101120000`.
    pub imported_from: Option<String>,
    /// The `needs-sql` header: sections whose SQL is still to be written,
    /// such as an Alembic revision `import` could not render offline. A run
    /// stops before a revision whose section it needs is one of them.
    pub needs_sql: NeedsSql,
    /// The `replaces` header, written by `cargo migrate squash`: this
    /// revision is a baseline that stands for these revisions (kept under
    /// `squashed/<id>/`), creating the schema they build in one step.
    pub replaces: Vec<String>,
}

/// The sections a `-- needs-sql: up, down` header names: their SQL is still
/// to be written (the file quotes what to write it from).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NeedsSql {
    /// The up section is still to be written.
    pub up: bool,
    /// The down section is still to be written.
    pub down: bool,
}

impl NeedsSql {
    /// Whether neither section needs SQL.
    pub fn is_empty(self) -> bool {
        !self.up && !self.down
    }

    /// The header value: `up`, `down` or `up, down`.
    pub fn header_value(self) -> &'static str {
        match (self.up, self.down) {
            (true, true) => "up, down",
            (true, false) => "up",
            (false, true) => "down",
            (false, false) => "",
        }
    }
}

impl Revision {
    /// The SQL that applies the revision.
    pub fn up_sql(&self) -> &str {
        &self.file.text[self.up.range.clone()]
    }

    /// The SQL that reverts the revision, if it has a down section.
    pub fn down_sql(&self) -> Option<&str> {
        self.down.as_ref().map(|s| &self.file.text[s.range.clone()])
    }

    /// Whether the revision can be downgraded.
    pub fn is_reversible(&self) -> bool {
        self.down.is_some()
    }

    /// Whether the revision joins several parents.
    pub fn is_merge(&self) -> bool {
        self.parents.len() > 1
    }

    /// Where `word` (an id or label) stands on 1-based line `line` of the
    /// file, as a whole word, for a diagnostic to point at.
    pub fn span_of(&self, line: usize, word: &str) -> Option<Span> {
        let text = &self.file.text;
        let start = text.split_inclusive('\n').take(line.checked_sub(1)?).map(str::len).sum::<usize>();
        let content = text[start..].split('\n').next()?;
        let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        let at = content.match_indices(word).map(|(at, _)| at).find(|&at| {
            let end = at + word.len();
            !word.is_empty()
                && (at == 0 || !is_word(content.as_bytes()[at - 1]))
                && (end == content.len() || !is_word(content.as_bytes()[end]))
        })?;
        Some(Span::new(text, start + at..start + at + word.len()))
    }
}

/// The longest revision id, in characters: the version table's `revision`
/// column is this wide, so a longer id would pass every check and then fail
/// on the database.
pub const MAX_REVISION_ID_LEN: usize = 64;

/// Whether `id` may be used as a revision id: `[a-z0-9_]{1,64}`.
pub fn is_valid_revision_id(id: &str) -> bool {
    revision_id_problem(id).is_none()
}

/// Why `id` cannot be a revision id, if it cannot.
pub fn revision_id_problem(id: &str) -> Option<Problem> {
    if !is_valid_name(id) {
        Some(Problem::InvalidRevisionId { value: id.to_owned() })
    } else if id.len() > MAX_REVISION_ID_LEN {
        Some(Problem::RevisionIdTooLong { value: id.to_owned(), len: id.len() })
    } else {
        None
    }
}

/// Whether `label` may be used as a branch label: `[a-z0-9_]+`, any length
/// (labels are not stored in the version table).
pub fn is_valid_branch_label(label: &str) -> bool {
    is_valid_name(label)
}

/// The first character a header value cannot hold: a line break, which
/// would end the header line, or another control character (a tab is fine).
pub fn header_control_character(value: &str) -> Option<char> {
    // Printable ASCII has none: an index loop, where decoding characters
    // (or any iterator) is slow in the debug builds that build scripts run as.
    let bytes = value.as_bytes();
    let mut at = 0;
    while at < bytes.len() && ((bytes[at] >= b' ' && bytes[at] < 0x7f) || bytes[at] == b'\t') {
        at += 1;
    }
    if at == bytes.len() {
        return None;
    }
    value.chars().find(|&c| c.is_control() && c != '\t')
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Parses a revision file, collecting every problem it has.
///
/// ```
/// use migrate_history::{SourceFile, parse_revision};
///
/// let text = "-- revision: 3f2a9c1b7e4d\n-- parents: a1b2c3d4e5f6\n-- message: add users\n\n\
///             -- migrate:up\nCREATE TABLE users (id INT);\n\n-- migrate:down\nDROP TABLE users;\n";
/// let rev = parse_revision(SourceFile::new("migrations/3f2a9c1b7e4d_add_users.sql", text)).unwrap();
/// assert_eq!(rev.id, "3f2a9c1b7e4d");
/// assert_eq!(rev.parents, ["a1b2c3d4e5f6"]);
/// assert_eq!(rev.up_sql(), "CREATE TABLE users (id INT);\n\n");
/// assert_eq!(rev.down_sql(), Some("DROP TABLE users;\n"));
///
/// let problems = parse_revision(SourceFile::new("migrations/b.sql", "-- revision: b\n-- parent: a\n")).unwrap_err();
/// let messages: Vec<String> = problems.iter().map(|d| d.message()).collect();
/// assert_eq!(
///     messages,
///     [
///         "migrations/b.sql:2: unknown header key `parent`",
///         "migrations/b.sql:2: missing required header key `parents`",
///         "migrations/b.sql:2: missing required header key `message`",
///         "migrations/b.sql: no `-- migrate:up` section",
///     ]
/// );
/// ```
pub fn parse_revision(file: SourceFile) -> Result<Revision, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let text = file.text.as_str();
    // A problem on a line, pointing at the part of `text` it is about.
    let mut push = |line: usize, part: &str, problem: Problem| {
        let diagnostic = Diagnostic::error(&file.path, Some(line), problem);
        problems.push(match range_in(text, part) {
            Some(range) if !part.is_empty() => diagnostic.with_span(Span::new(text, range)),
            _ => diagnostic,
        });
    };

    // The first line of each known key, by its place in `HEADER_KEYS`.
    let mut seen: [Option<usize>; HEADER_KEYS.len()] = [None; HEADER_KEYS.len()];
    let mut id = None;
    let mut parents = None;
    let mut message = None;
    let mut created = None;
    let mut branch_labels = Vec::new();
    let mut depends_on = Vec::new();
    let mut transaction = true;
    let mut extra = Vec::new();
    let mut allow = Vec::new();
    let mut imported_from = None;
    let mut needs_sql = NeedsSql::default();
    let mut replaces = Vec::new();
    let mut lines = HeaderLines::default();

    let mut up: Option<Section> = None;
    let mut down: Option<Section> = None;
    let mut open = None;
    let mut in_header = true;
    let mut last_header_line = 0;
    let mut offset = 0;

    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let line_end = offset + raw.len();
        let mut line = without_line_end(raw);
        if index == 0 {
            // Sections stay byte ranges of the whole text, BOM included.
            line = crate::strip_bom(line);
        }
        offset = line_end;

        if let Some(name) = section_marker(line) {
            in_header = false;
            let (slot, name_static, kind) = match name {
                "up" => (&mut up, "up", SectionKind::Up),
                "down" => (&mut down, "down", SectionKind::Down),
                other => {
                    push(number, other, Problem::UnknownSection { name: other.to_owned() });
                    continue;
                }
            };
            if let Some(first) = slot {
                let problem = Problem::DuplicateSection { section: name_static, first_line: first.marker_line };
                push(number, line.trim(), problem);
                continue;
            }
            *slot = Some(Section { range: line_end..line_end, marker_line: number });
            open = Some(kind);
            continue;
        }

        if in_header {
            match header_entry(line) {
                HeaderLine::Entry(key, value) => {
                    last_header_line = number;
                    if key.len() > 2 && key.starts_with("x-") {
                        last_header_line = number;
                        if let Some(character) = header_control_character(value) {
                            push(number, value, Problem::ControlCharacterInHeader { key: key.to_owned(), character });
                        } else {
                            extra.push((key.to_owned(), value.to_owned()));
                        }
                        continue;
                    }
                    let Some(key_index) = HEADER_KEYS.iter().position(|k| *k == key) else {
                        let problem = Problem::UnknownHeaderKey { key: key.to_owned(), suggestion: suggest_key(key) };
                        push(number, key, problem);
                        continue;
                    };
                    // `allow` is the one key a header may repeat: one rule per line.
                    let known = HEADER_KEYS[key_index];
                    match seen[key_index] {
                        Some(first_line) if known != "allow" => {
                            push(number, key, Problem::DuplicateHeaderKey { key: key.to_owned(), first_line });
                            continue;
                        }
                        Some(_) => {}
                        None => seen[key_index] = Some(number),
                    }
                    if let Some(character) = header_control_character(value) {
                        push(number, value, Problem::ControlCharacterInHeader { key: key.to_owned(), character });
                        continue;
                    }
                    match known {
                        "revision" => {
                            lines.revision = number;
                            match revision_id_problem(value) {
                                None => id = Some(value.to_owned()),
                                Some(problem) => push(number, value, problem),
                            }
                        }
                        "parents" => {
                            lines.parents = number;
                            parents = Some(id_list(value, number, revision_id_problem, &mut push));
                        }
                        "message" => message = Some(value.to_owned()),
                        "created" => created = Some(value.to_owned()).filter(|v| !v.is_empty()),
                        "branch-labels" => {
                            lines.branch_labels = number;
                            branch_labels = id_list(value, number, label_problem, &mut push);
                        }
                        "depends-on" => {
                            lines.depends_on = number;
                            depends_on = id_list(value, number, revision_id_problem, &mut push);
                        }
                        "transaction" => match value {
                            "true" => transaction = true,
                            "false" => transaction = false,
                            other => push(number, other, Problem::InvalidTransaction { value: other.to_owned() }),
                        },
                        "allow" => match parse_allow(value) {
                            Ok((rule, reason)) => allow.push(Allow {
                                rule: rule.to_owned(),
                                reason: reason.to_owned(),
                                line: number,
                                rule_range: range_in(text, rule).unwrap_or_default(),
                            }),
                            Err((part, problem)) => push(number, part, problem),
                        },
                        "imported-from" => imported_from = Some(value.to_owned()).filter(|v| !v.is_empty()),
                        "needs-sql" => {
                            for section in value.split(',').map(str::trim) {
                                match section {
                                    "up" => needs_sql.up = true,
                                    "down" => needs_sql.down = true,
                                    other => push(number, other, Problem::InvalidNeedsSql { value: other.to_owned() }),
                                }
                            }
                        }
                        "replaces" => {
                            lines.replaces = number;
                            replaces = id_list(value, number, revision_id_problem, &mut push);
                        }
                        _ => unreachable!("every key in HEADER_KEYS is handled"),
                    }
                    continue;
                }
                HeaderLine::Malformed if number == 1 || last_header_line == number - 1 => {
                    push(number, line.trim(), Problem::MalformedHeaderLine { text: line.to_owned() });
                    continue;
                }
                HeaderLine::Malformed | HeaderLine::End => in_header = false,
            }
        }

        // Extend whichever section is open.
        let open = match open {
            Some(SectionKind::Up) => up.as_mut(),
            Some(SectionKind::Down) => down.as_mut(),
            None => None,
        };
        if let Some(section) = open {
            section.range.end = line_end;
        }
    }

    let end_line = last_header_line.max(1);
    // The required keys come first in `HEADER_KEYS`.
    for (key, line) in HEADER_KEYS.into_iter().zip(seen).take(REQUIRED_HEADER_KEYS) {
        if line.is_none() {
            push(end_line, "", Problem::MissingHeaderKey { key });
        }
    }
    if let (Some(u), Some(d)) = (&up, &down) {
        if d.marker_line < u.marker_line {
            let marker = text.split_inclusive('\n').nth(d.marker_line - 1).unwrap_or_default();
            push(d.marker_line, marker.trim(), Problem::DownBeforeUp);
        }
    }
    if up.is_none() {
        problems.push(Diagnostic::error(&file.path, None, Problem::MissingUpSection));
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let checksum = Checksum::of(&file.text);
    Ok(Revision {
        id: id.expect("checked above"),
        parents: parents.expect("checked above"),
        message: message.expect("checked above"),
        created,
        branch_labels,
        depends_on,
        transaction,
        up: up.expect("checked above"),
        down,
        file,
        checksum,
        lines,
        extra,
        allow,
        imported_from,
        needs_sql,
        replaces,
    })
}

/// `RULE because REASON` → `(RULE, REASON)`; or the part that is wrong and why.
fn parse_allow(value: &str) -> Result<(&str, &str), (&str, Problem)> {
    let (rule, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    let valid_rule = !rule.is_empty()
        && rule.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && rule.as_bytes()[0].is_ascii_lowercase();
    if !valid_rule {
        return Err((value, Problem::MalformedAllow { text: value.to_owned() }));
    }
    let rest = rest.trim_start();
    let reason = match rest.strip_prefix("because") {
        Some(after) if after.is_empty() || after.starts_with(char::is_whitespace) => after.trim(),
        _ if rest.is_empty() => "",
        _ => return Err((value, Problem::MalformedAllow { text: value.to_owned() })),
    };
    if reason.is_empty() {
        return Err((rule, Problem::AllowWithoutReason { rule: rule.to_owned() }));
    }
    Ok((rule, reason))
}

/// The byte range of `part` in `whole`, when `part` is a slice of it.
fn range_in(whole: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then(|| start..start + part.len())
}

#[derive(Clone, Copy)]
enum SectionKind {
    Up,
    Down,
}

enum HeaderLine<'a> {
    Entry(&'a str, &'a str),
    /// A `--` comment that looks like it was meant as a header line.
    Malformed,
    /// A blank line, free comment or SQL: the header is over.
    End,
}

fn header_entry(line: &str) -> HeaderLine<'_> {
    let Some(comment) = line.strip_prefix("--") else {
        return HeaderLine::End;
    };
    let comment = trim(comment);
    let Some((key, value)) = comment.split_once(':') else {
        return if comment.is_empty() { HeaderLine::End } else { HeaderLine::Malformed };
    };
    let key = trim(key);
    let looks_like_key = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && key.as_bytes()[0].is_ascii_lowercase();
    if looks_like_key { HeaderLine::Entry(key, trim(value)) } else { HeaderLine::Malformed }
}

/// `line` without its `\n` and any `\r` before it, as
/// `trim_end_matches(['\n', '\r'])` but a byte loop: every line of every
/// revision goes through it, in build scripts built without optimizations.
fn without_line_end(line: &str) -> &str {
    let mut end = line.len();
    while end > 0 && matches!(line.as_bytes()[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &line[..end]
}

/// [`str::trim`], trimming ASCII bytes first (fast without optimizations):
/// when what is left starts and ends with ASCII that `trim` keeps (all but
/// the vertical tab, which `trim_ascii` keeps and `trim` does not), `trim`
/// would stop there too.
fn trim(text: &str) -> &str {
    let kept = |b: &u8| b.is_ascii() && *b != 0x0b;
    let trimmed = text.trim_ascii();
    match (trimmed.as_bytes().first(), trimmed.as_bytes().last()) {
        (Some(first), Some(last)) if kept(first) && kept(last) => trimmed,
        (None, _) => trimmed,
        _ => text.trim(),
    }
}

/// `-- migrate:up` → `Some("up")`.
fn section_marker(line: &str) -> Option<&str> {
    // Prefixes, not a substring search: this runs on every line, in build
    // scripts built without optimizations.
    let rest = trim(trim(line).strip_prefix("--")?).strip_prefix("migrate:")?;
    let name = trim(rest);
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

fn id_list<'a>(
    value: &'a str,
    line: usize,
    check: fn(&str) -> Option<Problem>,
    push: &mut impl FnMut(usize, &'a str, Problem),
) -> Vec<String> {
    // Most lists hold one id or none: no splitting (slow without
    // optimizations), and an allocation of the right size.
    let single = (!value.contains(',')).then(|| trim(value));
    let mut ids = Vec::with_capacity(match single {
        Some("") => 0,
        Some(_) => 1,
        None => 4,
    });
    let mut take = |part: &'a str| match check(part) {
        None => ids.push(part.to_owned()),
        Some(problem) => push(line, part, problem),
    };
    if let Some(id) = single {
        if !id.is_empty() {
            take(id);
        }
    } else {
        value.split(',').map(trim).filter(|p| !p.is_empty()).for_each(&mut take);
    }
    ids
}

fn label_problem(label: &str) -> Option<Problem> {
    (!is_valid_branch_label(label)).then(|| Problem::InvalidRevisionId { value: label.to_owned() })
}

fn suggest_key(key: &str) -> Option<&'static str> {
    did_you_mean(key, &HEADER_KEYS)
}

/// The first candidate within two edits of `word`, or that starts with it.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates.iter().copied().find(|known| edit_distance(word, known) <= 2 || known.starts_with(word))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push((previous[j] + cost).min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn trim_is_str_trim() {
        for text in
            ["", " ", " a ", "\ta\r", "\u{a0}a\u{3000}", " \u{a0}", "a\u{b}", "\u{b} a", "é ", " \u{85}x\u{85} "]
        {
            assert_eq!(super::trim(text), text.trim(), "{text:?}");
        }
    }

    use super::*;

    fn parse(text: &str) -> Result<Revision, Vec<String>> {
        parse_revision(SourceFile::new("m/r.sql", text)).map_err(|ds| ds.iter().map(|d| d.message()).collect())
    }

    #[test]
    fn keys_of_your_own_start_with_x_and_are_kept() {
        let text = "-- revision: a1\n-- parents:\n-- x-jira: STARTUP-101\n-- message: m\n-- x-reviewed-by2: ana\n\n-- migrate:up\nSELECT 1;\n";
        let rev = parse_revision(SourceFile::new("m/a.sql", text)).unwrap();
        assert_eq!(
            rev.extra,
            [("x-jira".to_owned(), "STARTUP-101".to_owned()), ("x-reviewed-by2".to_owned(), "ana".to_owned())]
        );
        assert_eq!(rev.message, "m");
        let unknown = parse_revision(SourceFile::new("m/a.sql", text.replace("x-jira", "jira"))).unwrap_err();
        assert_eq!(unknown.len(), 1);
        assert_eq!(
            unknown[0].to_string(),
            "m/a.sql:3: unknown header key `jira` (help: known keys are revision, parents, message, created, branch-labels, depends-on, transaction, allow, imported-from, needs-sql, replaces; a key of your own starts with `x-` (`-- x-jira: STARTUP-101`); free comments go after a blank line that ends the header)"
        );
    }

    #[test]
    fn allow_lines_name_a_rule_and_a_reason() {
        let text = "-- revision: a\n-- parents:\n-- message: m\n-- allow: ban-drop-column because the column was never read\n\
                    -- allow: ban-drop-table   because  nothing reads it \n\n-- migrate:up\nSELECT 1;\n";
        let rev = parse_revision(SourceFile::new("m/a.sql", text)).unwrap();
        let allowed: Vec<(&str, &str, usize, &str)> =
            rev.allow.iter().map(|a| (&*a.rule, &*a.reason, a.line, &text[a.rule_range.clone()])).collect();
        assert_eq!(
            allowed,
            [
                ("ban-drop-column", "the column was never read", 4, "ban-drop-column"),
                ("ban-drop-table", "nothing reads it", 5, "ban-drop-table")
            ]
        );
        // The key changes nothing else: the checksum is still the file's.
        assert_eq!(rev.checksum, Checksum::of(text));
    }

    #[test]
    fn an_allow_line_without_a_reason_is_an_error_naming_the_line() {
        let header = "-- revision: a\n-- parents:\n-- message: m\n";
        let errors = |allow: &str| {
            let text = format!("{header}-- allow: {allow}\n\n-- migrate:up\nSELECT 1;\n");
            parse_revision(SourceFile::new("m/a.sql", text))
                .unwrap_err()
                .iter()
                .map(|d| (d.to_string(), d.span.map(|s| (s.line, s.column, s.end_column))))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            errors("ban-drop-column"),
            [(
                "m/a.sql:4: `allow: ban-drop-column` gives no reason (help: say why the rule does not apply to this revision: `-- allow: ban-drop-column because <reason>`; reviewers read the reason)".to_owned(),
                Some((4, 11, 26))
            )]
        );
        assert_eq!(errors("ban-drop-column because").len(), 1);
        assert_eq!(
            errors("ban-drop-column, ban-drop-table because old").iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
            [
                "m/a.sql:4: `allow: ban-drop-column, ban-drop-table because old` is not of the form `allow: RULE because REASON` (help: one rule per line, then `because` and the reason: `-- allow: ban-drop-column because the column was never read`)"
            ]
        );
        assert_eq!(errors("ban-drop-column since it is old").len(), 1);
        assert_eq!(errors("").len(), 1);
    }

    #[test]
    fn header_problems_point_at_the_key_or_value() {
        let text = "-- revision: Bad-Id\n-- parnets: a\n-- parents: a, B\n-- message: m\n-- transaction: maybe\n\n-- migrate:up\n";
        let spans: Vec<(usize, &str)> = parse_revision(SourceFile::new("m/r.sql", text))
            .unwrap_err()
            .iter()
            .filter_map(|d| d.span.map(|s| (s.line, &text[s.start..s.end])))
            .collect();
        assert_eq!(spans, [(1, "Bad-Id"), (2, "parnets"), (3, "B"), (5, "maybe")]);
    }

    #[test]
    fn span_of_finds_a_whole_word_on_a_line() {
        let rev = parse("-- revision: ab\n-- parents: a_b, ab_c, ab\n-- message: m\n\n-- migrate:up\n").unwrap();
        let text = &rev.file.text;
        let found = |line, word| rev.span_of(line, word).map(|s| (s.line, s.column, &text[s.start..s.end]));
        assert_eq!(found(2, "ab"), Some((2, 24, "ab")));
        assert_eq!(found(1, "ab"), Some((1, 14, "ab")));
        assert_eq!(found(2, "zz"), None);
        assert_eq!(found(9, "ab"), None);
    }

    #[test]
    fn parses_full_header_and_sections() {
        let rev = parse(
            "-- revision: 3f2a9c1b7e4d\n-- parents: a1, b2\n-- message: add user profile table\n\
             -- created: 2026-11-23T10:15:00Z\n-- branch-labels: users\n-- depends-on: c3\n\
             -- transaction: false\n\n-- migrate:up\nCREATE TABLE t (id INT);\n\n-- migrate:down\nDROP TABLE t;\n",
        )
        .unwrap();
        assert_eq!(rev.id, "3f2a9c1b7e4d");
        assert_eq!(rev.parents, ["a1", "b2"]);
        assert_eq!(rev.message, "add user profile table");
        assert_eq!(rev.created.as_deref(), Some("2026-11-23T10:15:00Z"));
        assert_eq!(rev.branch_labels, ["users"]);
        assert_eq!(rev.depends_on, ["c3"]);
        assert!(!rev.transaction);
        assert!(rev.is_merge());
        assert_eq!(rev.up_sql(), "CREATE TABLE t (id INT);\n\n");
        assert_eq!(rev.up.marker_line, 9);
        assert_eq!(rev.down_sql(), Some("DROP TABLE t;\n"));
        assert_eq!(rev.lines.parents, 2);
    }

    #[test]
    fn base_revision_without_down_is_irreversible() {
        let rev = parse("-- revision: a\n-- parents:\n-- message: m\n\n-- migrate:up\nSELECT 1;").unwrap();
        assert!(rev.parents.is_empty());
        assert!(!rev.is_reversible());
        assert!(rev.transaction);
        assert_eq!(rev.up_sql(), "SELECT 1;");
    }

    #[test]
    fn needs_sql_names_the_sections_still_to_write() {
        let rev =
            parse("-- revision: a\n-- parents:\n-- message: m\n-- needs-sql: up, down\n\n-- migrate:up\n").unwrap();
        assert_eq!(rev.needs_sql, NeedsSql { up: true, down: true });
        let rev = parse("-- revision: a\n-- parents:\n-- message: m\n-- needs-sql: down\n\n-- migrate:up\n").unwrap();
        assert_eq!(rev.needs_sql, NeedsSql { up: false, down: true });
        assert!(parse("-- revision: a\n-- parents:\n-- message: m\n\n-- migrate:up\n").unwrap().needs_sql.is_empty());
    }

    #[test]
    fn needs_sql_naming_something_else_is_an_error() {
        let problems =
            parse("-- revision: a\n-- parents:\n-- message: m\n-- needs-sql: up, sideways\n\n-- migrate:up\n")
                .unwrap_err();
        assert_eq!(problems, ["m/r.sql:4: `needs-sql` names `sideways`, which is not a section"]);
    }

    #[test]
    fn crlf_files_parse() {
        let rev =
            parse("-- revision: a\r\n-- parents:\r\n-- message: m\r\n\r\n-- migrate:up\r\nSELECT 1;\r\n").unwrap();
        assert_eq!(rev.message, "m");
        assert_eq!(rev.up_sql(), "SELECT 1;\r\n");
    }

    #[test]
    fn a_leading_bom_is_not_part_of_the_header() {
        let text = "\u{feff}-- revision: a\r\n-- parents:\r\n-- message: m\r\n\r\n-- migrate:up\r\nSELECT 1;\r\n";
        let rev = parse(text).unwrap();
        assert_eq!((rev.id.as_str(), rev.lines.revision, rev.up.marker_line), ("a", 1, 5));
        assert_eq!(rev.up_sql(), "SELECT 1;\r\n");
        assert_eq!(
            rev.checksum,
            Checksum::of("-- revision: a\n-- parents:\n-- message: m\n\n-- migrate:up\nSELECT 1;\n")
        );
    }

    #[test]
    fn a_lone_carriage_return_in_a_header_line_is_an_error() {
        let errors = parse("-- revision: a\n-- parents:\n-- message: hidden\rshown\n\n-- migrate:up\n").unwrap_err();
        assert_eq!(errors, ["m/r.sql:3: the `message` header contains a carriage return (U+000D)"]);
        // Old Mac line endings: the whole file is one line.
        let errors = parse("-- revision: a\r-- parents:\r-- message: m\r\r-- migrate:up\rSELECT 1;\r").unwrap_err();
        assert_eq!(errors[0], "m/r.sql:1: the `revision` header contains a carriage return (U+000D)");
        let diagnostics = parse_revision(SourceFile::new("r.sql", "-- revision: a\u{1b}[8m\n")).unwrap_err();
        assert_eq!(
            diagnostics[0].to_string(),
            "r.sql:1: the `revision` header contains the control character U+001B (help: a header value is one line of text: remove the character (a lone carriage return is an old Mac line ending: save the file with `\\n` or `\\r\\n` line endings))"
        );
    }

    #[test]
    fn empty_down_section_is_a_reversible_no_op() {
        let rev =
            parse("-- revision: m\n-- parents: a, b\n-- message: merge\n\n-- migrate:up\n\n-- migrate:down\n").unwrap();
        assert_eq!(rev.down_sql(), Some(""));
        assert!(rev.is_reversible());
    }

    #[test]
    fn free_comments_after_a_blank_line_are_not_header() {
        let rev = parse(
            "-- revision: a\n-- parents:\n-- message: m\n\n-- Note: anything goes here\n-- migrate:up\nSELECT 1;\n",
        )
        .unwrap();
        assert_eq!(rev.up_sql(), "SELECT 1;\n");
    }

    #[test]
    fn collects_every_problem() {
        let errors = parse(
            "-- revision: Bad-Id\n-- parnets: a\n-- message: m\n-- message: again\n-- transaction: maybe\n\
             -- This is not a header\n\nSELECT 1;\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "m/r.sql:1: `Bad-Id` is not a valid revision id",
                "m/r.sql:2: unknown header key `parnets`",
                "m/r.sql:4: header key `message` is given twice (first on line 3)",
                "m/r.sql:5: `transaction: maybe` must be `true` or `false`",
                "m/r.sql:6: header line `-- This is not a header` is not of the form `-- key: value`",
                "m/r.sql:5: missing required header key `parents`",
                "m/r.sql: no `-- migrate:up` section",
            ]
        );
    }

    #[test]
    fn unknown_key_suggests_the_known_one() {
        let diags = parse_revision(SourceFile::new("r.sql", "-- revision: a\n-- parent: b\n")).unwrap_err();
        assert_eq!(diags[0].help().as_deref(), Some("did you mean `parents`?"));
    }

    #[test]
    fn section_order_and_duplicates() {
        let errors =
            parse("-- revision: a\n-- parents:\n-- message: m\n\n-- migrate:down\nx\n-- migrate:up\ny\n-- migrate:up\n-- migrate:sideways\n")
                .unwrap_err();
        assert_eq!(
            errors,
            [
                "m/r.sql:9: section `-- migrate:up` appears twice (first on line 7)",
                "m/r.sql:10: unknown section marker `-- migrate:sideways`",
                "m/r.sql:5: the `-- migrate:down` section comes before `-- migrate:up`",
            ]
        );
    }

    #[test]
    fn revision_ids() {
        assert!(is_valid_revision_id("3f2a9c1b7e4d"));
        assert!(is_valid_revision_id("0001_init"));
        assert!(!is_valid_revision_id(""));
        assert!(!is_valid_revision_id("ABC"));
        assert!(!is_valid_revision_id("a-b"));
    }

    #[test]
    fn revision_ids_longer_than_the_version_table_column_are_refused() {
        let longest = "a".repeat(MAX_REVISION_ID_LEN);
        let long = "a".repeat(MAX_REVISION_ID_LEN + 1);
        assert!(is_valid_revision_id(&longest));
        assert!(!is_valid_revision_id(&long));
        assert!(is_valid_branch_label(&long), "labels are not stored in the version table");
        let text = format!(
            "-- revision: {long}\n-- parents: b, {long}\n-- message: m\n-- depends-on: {long}\n-- branch-labels: {long}\n\n-- migrate:up\n"
        );
        let diagnostics = parse_revision(SourceFile::new("m/r.sql", text)).unwrap_err();
        let rendered: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
        let line = |n: usize| {
            format!(
                "m/r.sql:{n}: revision id `{long}` is 65 characters long, more than the 64 a version table holds \
                 (help: shorten it to at most 64 characters (migrate_history::MAX_REVISION_ID_LEN), and the `parents` \
                 and `depends-on` lines that name it)"
            )
        };
        assert_eq!(rendered, [line(1), line(2), line(4)]);
    }
}

#[cfg(test)]
mod imported_from_tests {
    use super::*;

    #[test]
    fn the_imported_from_key_is_kept_and_the_checksum_is_the_texts() {
        let text = "-- revision: 1\n-- parents:\n-- message: m\n-- imported-from: sqlx 1\n\n-- migrate:up\nSELECT 1;\n";
        let rev = parse_revision(SourceFile::new("x.sql", text)).unwrap();
        assert_eq!(rev.imported_from.as_deref(), Some("sqlx 1"));
        assert_eq!(rev.checksum, Checksum::of(text));
        let plain = parse_revision(SourceFile::new("y.sql", text.replace("-- imported-from: sqlx 1\n", ""))).unwrap();
        assert_eq!(plain.imported_from, None);
    }
}
