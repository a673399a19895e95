//! `migrate.lock`: the checksums of pinned (released) revisions.
//!
//! ```toml
//! version = 1
//!
//! [revisions]
//! 3f2a9c1b7e4d = "sha256:..."
//! ```
//!
//! One sorted line per revision, so a diff is one line per revision and two
//! branches that each pin a revision rarely conflict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use crate::{Checksum, Diagnostic, History, Problem, SourceFile};

/// The lock file's name inside the migrations directory.
pub const LOCK_FILE_NAME: &str = "migrate.lock";

const FORMAT_VERSION: i64 = 1;

const HEADER: &str = "# Checksums of released revisions, written by `cargo migrate lock`.\n\
# A build fails when a pinned revision's file changes. Do not edit by hand.\n";

/// Pinned revisions and their checksums.
///
/// ```
/// use migrate_history::{Checksum, History, LockFile, Problem, SourceFile, parse_revision};
///
/// let text = "-- revision: a\n-- parents:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INT);\n";
/// let mut lock = LockFile::empty("migrations/migrate.lock");
/// lock.pin("a", Checksum::of(text));
/// let rendered = lock.render();
/// assert!(rendered.contains(&format!("a = \"{}\"", Checksum::of(text))));
///
/// let (read, problems) = LockFile::parse(&SourceFile::new("migrations/migrate.lock", rendered));
/// assert!(problems.is_empty());
/// assert_eq!(read.get("a"), Some(Checksum::of(text)));
/// assert!(read.is_pinned("a") && !read.is_pinned("b"));
///
/// // A pinned revision whose file changed is an error.
/// let edited = parse_revision(SourceFile::new("migrations/a.sql", text.replace("INT", "BIGINT"))).unwrap();
/// let (history, _) = History::build(vec![edited]);
/// let problems = read.check(&history);
/// assert!(matches!(problems[..], [ref d] if matches!(d.problem, Problem::PinnedRevisionChanged { .. })));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockFile {
    /// Where it was read from, as shown to the user.
    pub path: Option<PathBuf>,
    pinned: BTreeMap<String, Pin>,
}

/// A pinned checksum and the line of the lock file it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pin {
    checksum: Checksum,
    line: Option<usize>,
}

impl LockFile {
    /// An empty lock file that will be written to `path`.
    pub fn empty(path: impl Into<PathBuf>) -> LockFile {
        LockFile { path: Some(path.into()), ..LockFile::default() }
    }

    /// Parses a lock file, reporting every bad entry. Entries may come in
    /// any order, and a revision may be listed twice with the same checksum
    /// (what git's `merge=union` makes of two branches that pinned the same
    /// draft). A file with git's conflict markers reads as both sides'
    /// entries together, with one [`Problem::LockFileConflict`].
    pub fn parse(file: &SourceFile) -> (LockFile, Vec<Diagnostic>) {
        if let Some(first_marker) = conflict_marker_line(&file.text) {
            let (lock, mut diagnostics) = LockFile::parse_text(&file.path, &without_conflict_markers(&file.text));
            diagnostics.insert(0, Diagnostic::error(&file.path, Some(first_marker), Problem::LockFileConflict));
            return (lock, diagnostics);
        }
        LockFile::parse_text(&file.path, &file.text)
    }

    fn parse_text(path: &Path, text: &str) -> (LockFile, Vec<Diagnostic>) {
        let file = SourceFile::new(path, text);
        if let Some(read) = LockFile::read_lines(&file) {
            return (read.lock, read.diagnostics);
        }
        LockFile::parse_toml(&file)
    }

    /// What [`LockFile::read_lines`] reads, when it takes the file.
    pub(crate) fn parse_canonical(file: &SourceFile) -> Option<LockFile> {
        LockFile::read_lines(file).map(|read| read.lock)
    }

    /// The layout [`LockFile::render`] writes, read line by line: a build
    /// script reads it on every build, and toml_edit takes 70 ms on 10,000
    /// entries in the debug builds build scripts run as. Entries may come in
    /// any order and repeat; a repeated entry with another checksum is a
    /// [`Problem::ConflictingPins`]. Anything else (comments, other quoting,
    /// an error) returns `None` and goes through toml_edit, which also
    /// reports problems with their lines.
    pub(crate) fn read_lines(file: &SourceFile) -> Option<LineRead> {
        let lock = LockFile::empty(&file.path);
        let mut lines = crate::strip_bom(&file.text).lines().enumerate().peekable();
        while let Some((_, comment)) = lines.next_if(|(_, l)| l.starts_with('#')) {
            // TOML allows no control character but tab in a comment.
            if comment.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return None;
            }
        }
        if lines.next()?.1 != format!("version = {FORMAT_VERSION}") {
            return None;
        }
        let mut in_revisions = false;
        let mut entries = Vec::new();
        for (index, line) in lines {
            match line {
                "" => continue,
                "[revisions]" if !in_revisions => in_revisions = true,
                _ if in_revisions => {
                    let (id, value) = line.split_once(" = ")?;
                    let checksum = Checksum::parse(value.strip_prefix('"')?.strip_suffix('"')?)?;
                    if !crate::is_valid_revision_id(id) {
                        return None;
                    }
                    entries.push((id, checksum, index + 1));
                }
                _ => return None,
            }
        }
        let mut read = LineRead { lock, diagnostics: Vec::new(), repeated: 0 };
        // Sorted input (what `render` writes) bulk-builds the map in linear time.
        if entries.windows(2).all(|w| w[0].0 < w[1].0) {
            read.lock.pinned = entries
                .into_iter()
                .map(|(id, checksum, line)| (id.to_owned(), Pin { checksum, line: Some(line) }))
                .collect();
            return Some(read);
        }
        for (id, checksum, line) in entries {
            match read.lock.pinned.get(id) {
                None => {
                    read.lock.pinned.insert(id.to_owned(), Pin { checksum, line: Some(line) });
                }
                Some(first) => {
                    read.repeated += 1;
                    if first.checksum != checksum {
                        let first_line = first.line.unwrap_or(line);
                        let problem = Problem::ConflictingPins { id: id.to_owned(), first_line };
                        read.diagnostics.push(Diagnostic::error(&file.path, Some(line), problem));
                    }
                }
            }
        }
        Some(read)
    }

    pub(crate) fn parse_toml(file: &SourceFile) -> (LockFile, Vec<Diagnostic>) {
        let mut lock = LockFile::empty(&file.path);
        let mut diagnostics = Vec::new();
        let text = crate::strip_bom(&file.text);
        let lines = key_lines(text);
        let find_line = |key: &str| lines.get(key).copied();
        let mut problem = |line: Option<usize>, message: String| {
            diagnostics.push(Diagnostic::error(&file.path, line, Problem::InvalidLockFile { message }))
        };
        let doc: DocumentMut = match text.parse() {
            Ok(doc) => doc,
            Err(error) => {
                let line = error.span().map(|span| line_of(text, span.start));
                // toml_edit has no message for some errors (a control character in a comment).
                let message = Some(error.message().trim()).filter(|m| !m.is_empty()).unwrap_or("invalid character");
                problem(line, message.to_owned());
                return (lock, diagnostics);
            }
        };
        match doc.get("version").and_then(Item::as_integer) {
            Some(FORMAT_VERSION) => {}
            Some(other) => problem(
                find_line("version"),
                format!("format version {other} is not supported (this cargo-migrate writes version {FORMAT_VERSION})"),
            ),
            None => problem(None, "missing `version = 1`".into()),
        }
        let Some(table) = doc.get("revisions") else {
            return (lock, diagnostics);
        };
        let Some(table) = table.as_table_like() else {
            problem(find_line("revisions"), "`revisions` must be a table".into());
            return (lock, diagnostics);
        };
        for (id, item) in table.iter() {
            let line = find_line(id);
            match item.as_str().and_then(Checksum::parse) {
                Some(checksum) => {
                    lock.pinned.insert(id.to_owned(), Pin { checksum, line });
                }
                None => problem(line, format!("the checksum of `{id}` is not of the form \"sha256:<64 hex digits>\"")),
            }
        }
        (lock, diagnostics)
    }

    /// The pinned checksum of a revision.
    pub fn get(&self, id: &str) -> Option<Checksum> {
        self.pinned.get(id).map(|pin| pin.checksum)
    }

    /// Whether a revision is pinned.
    pub fn is_pinned(&self, id: &str) -> bool {
        self.pinned.contains_key(id)
    }

    /// Pinned revisions, sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Checksum)> {
        self.pinned.iter().map(|(id, pin)| (id.as_str(), pin.checksum))
    }

    /// Number of pinned revisions.
    pub fn len(&self) -> usize {
        self.pinned.len()
    }

    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.pinned.is_empty()
    }

    /// Pins (or re-pins) a revision.
    pub fn pin(&mut self, id: &str, checksum: Checksum) {
        // A re-pinned revision keeps its line until the file is written.
        if let Some(pin) = self.pinned.get_mut(id) {
            pin.checksum = checksum;
        } else {
            self.pinned.insert(id.to_owned(), Pin { checksum, line: None });
        }
    }

    /// Drops a pin; returns whether there was one.
    pub fn unpin(&mut self, id: &str) -> bool {
        self.pinned.remove(id).is_some()
    }

    /// The file's text: a fixed header, the version, one sorted line per revision.
    pub fn render(&self) -> String {
        let mut doc = DocumentMut::new();
        doc["version"] = value(FORMAT_VERSION);
        let mut table = Table::new();
        for (id, pin) in &self.pinned {
            table[id.as_str()] = value(pin.checksum.to_string());
        }
        doc["revisions"] = Item::Table(table);
        format!("{HEADER}{doc}")
    }

    /// Compares the pins with the history: edited or deleted pinned
    /// revisions are errors, unpinned ones are drafts (warnings).
    pub fn check(&self, history: &History) -> Vec<Diagnostic> {
        let lock_path = self.path.clone().unwrap_or_else(|| Path::new(LOCK_FILE_NAME).to_owned());
        // On every core: 10,000 lookups are a good part of a debug-built build script.
        let problems = crate::parallel::chunks(history.revisions(), |revisions| {
            let mut diagnostics = Vec::new();
            for rev in revisions {
                match self.get(&rev.id) {
                    Some(pinned) if pinned != rev.checksum => diagnostics.push(crate::graph::at_word(
                        rev,
                        rev.lines.revision,
                        &rev.id,
                        Problem::PinnedRevisionChanged {
                            id: rev.id.clone(),
                            pinned,
                            actual: rev.checksum,
                            safe_to_repin: None,
                        },
                    )),
                    Some(_) => {}
                    None => {
                        let draft = crate::graph::at_word(
                            rev,
                            rev.lines.revision,
                            &rev.id,
                            Problem::Draft { id: rev.id.clone() },
                        );
                        diagnostics.push(Diagnostic { severity: crate::Severity::Warning, ..draft });
                    }
                }
            }
            diagnostics
        });
        let mut diagnostics: Vec<Diagnostic> = problems.into_iter().flatten().collect();
        for (id, pin) in &self.pinned {
            if history.get(id).is_none() {
                diagnostics.push(Diagnostic::error(
                    &lock_path,
                    pin.line,
                    Problem::PinnedRevisionMissing { id: id.to_owned() },
                ));
            }
        }
        diagnostics
    }
}

/// What [`LockFile::read_lines`] makes of a file it takes.
#[derive(Debug)]
pub(crate) struct LineRead {
    pub(crate) lock: LockFile,
    /// Repeated entries whose checksums differ.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// How many entries repeat an earlier one (toml_edit refuses any).
    pub(crate) repeated: usize,
}

/// Whether a line is one git writes around a conflict: `<<<<<<< ours`,
/// `||||||| base` (diff3 style), `=======`, `>>>>>>> theirs`.
fn marker(line: &str) -> Option<u8> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let kind = *line.as_bytes().first()?;
    if !matches!(kind, b'<' | b'|' | b'=' | b'>') || line.len() < 7 || line.bytes().take(7).any(|b| b != kind) {
        return None;
    }
    let rest = &line[7..];
    let ok = match kind {
        b'=' => rest.is_empty(),
        _ => rest.is_empty() || rest.starts_with(' '),
    };
    ok.then_some(kind)
}

/// The line of the first conflict marker, if the file has any.
fn conflict_marker_line(text: &str) -> Option<usize> {
    // The common case, a file without markers, costs one search.
    if !text.contains("\n<<<<<<<") && !text.starts_with("<<<<<<<") {
        return None;
    }
    text.lines().position(|l| marker(l).is_some()).map(|i| i + 1)
}

/// Both sides of every conflict: the marker lines and the common ancestor's
/// part (diff3 style) become empty lines, so every entry keeps its line.
fn without_conflict_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_base = false;
    for line in text.split_inclusive('\n') {
        let kind = marker(line.strip_suffix('\n').unwrap_or(line));
        match kind {
            Some(b'|') => in_base = true,
            Some(b'=') | Some(b'<') | Some(b'>') => in_base = false,
            _ => {}
        }
        if kind.is_some() || in_base {
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    out
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// The line on which each key is defined (`key = ...` or `[key]`), in one pass.
fn key_lines(text: &str) -> BTreeMap<&str, usize> {
    let mut lines = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_start();
        let key = match line.strip_prefix('[') {
            Some(rest) => rest.split(']').next(),
            None => line.split('=').next().filter(|_| line.contains('=')),
        };
        if let Some(key) = key.map(|k| k.trim().trim_matches('"')) {
            lines.entry(key).or_insert(index + 1);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_is_sorted_and_round_trips() {
        let mut lock = LockFile::empty("migrations/migrate.lock");
        lock.pin("bbb", Checksum::of("b"));
        lock.pin("aaa", Checksum::of("a"));
        let text = lock.render();
        let a = text.find("aaa =").unwrap();
        let b = text.find("bbb =").unwrap();
        assert!(a < b, "{text}");
        let (parsed, problems) = LockFile::parse(&SourceFile::new("migrations/migrate.lock", text.clone()));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(parsed.get("aaa"), Some(Checksum::of("a")));
        assert_eq!(parsed.pinned["bbb"].line, Some(text.lines().position(|l| l.starts_with("bbb")).unwrap() + 1));
    }

    #[test]
    fn canonical_and_general_parsers_agree() {
        let mut lock = LockFile::empty("migrate.lock");
        lock.pin("a1", Checksum::of("a"));
        lock.pin("b2", Checksum::of("b"));
        let text = lock.render();
        let canonical = LockFile::parse_canonical(&SourceFile::new("migrate.lock", text.clone())).unwrap();
        let (general, problems) = LockFile::parse_toml(&SourceFile::new("migrate.lock", text.clone()));
        assert!(problems.is_empty());
        assert_eq!(canonical, general);
        // A hand-edited layout still parses, through toml_edit.
        let edited = text.replace("[revisions]", "[revisions] # pinned").replace(" = \"", "=\"");
        assert!(LockFile::parse_canonical(&SourceFile::new("migrate.lock", edited.clone())).is_none());
        let (parsed, problems) = LockFile::parse(&SourceFile::new("migrate.lock", edited));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(parsed.get("b2"), Some(Checksum::of("b")));
    }

    #[test]
    fn a_leading_bom_is_ignored_by_both_parsers() {
        let mut lock = LockFile::empty("migrate.lock");
        lock.pin("a1", Checksum::of("a"));
        let text = format!("\u{feff}{}", lock.render());
        let canonical = LockFile::parse_canonical(&SourceFile::new("migrate.lock", text.clone()));
        assert_eq!(canonical.as_ref().map(|l| l.get("a1")), Some(Some(Checksum::of("a"))));
        let (general, problems) = LockFile::parse_toml(&SourceFile::new("migrate.lock", text));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(Some(general), canonical);
        let (_, problems) = LockFile::parse(&SourceFile::new("migrate.lock", "\u{feff}version = 2\n"));
        assert_eq!(problems[0].line, Some(1), "{problems:?}");
    }

    #[test]
    fn reports_bad_entries_with_lines() {
        let text = "version = 1\n\n[revisions]\naaa = \"sha256:00\"\nbbb = 3\n";
        let (lock, problems) = LockFile::parse(&SourceFile::new("migrate.lock", text));
        let messages: Vec<String> = problems.iter().map(Diagnostic::message).collect();
        assert_eq!(
            messages,
            [
                "migrate.lock:4: invalid lock file: the checksum of `aaa` is not of the form \"sha256:<64 hex digits>\"",
                "migrate.lock:5: invalid lock file: the checksum of `bbb` is not of the form \"sha256:<64 hex digits>\"",
            ]
        );
        assert!(lock.is_empty());
    }

    #[test]
    fn control_characters_in_comments_are_errors_on_both_paths() {
        // Found by the lock_file fuzz target: the line reader took this file,
        // toml_edit rejects it (and gave no message).
        let text = "#\u{1}\nversion = 1\n";
        assert!(LockFile::parse_canonical(&SourceFile::new("migrate.lock", text)).is_none());
        let (_, problems) = LockFile::parse(&SourceFile::new("migrate.lock", text));
        let messages: Vec<String> = problems.iter().map(Diagnostic::message).collect();
        assert_eq!(messages, ["migrate.lock:1: invalid lock file: invalid character"]);
        let tab = "#\tcomment\nversion = 1\n";
        assert!(LockFile::parse_canonical(&SourceFile::new("migrate.lock", tab)).is_some());
    }

    /// What `parse` reports and reads, as one text.
    fn read(text: &str) -> String {
        let (lock, problems) = LockFile::parse(&SourceFile::new("migrations/migrate.lock", text));
        let mut out: Vec<String> = problems.iter().map(ToString::to_string).collect();
        out.extend(lock.iter().map(|(id, sum)| format!("{id} = {}", sum.short())));
        out.join("\n")
    }

    fn entry(id: &str, content: &str) -> String {
        format!("{id} = \"{}\"\n", Checksum::of(content))
    }

    const TOP: &str = "# header\nversion = 1\n\n[revisions]\n";

    #[test]
    fn entries_in_any_order_are_read() {
        let text = format!("{TOP}{}{}", entry("ccc", "c"), entry("aaa", "a"));
        let short = |c: &str| Checksum::of(c).short();
        assert_eq!(read(&text), format!("aaa = {}\nccc = {}", short("a"), short("c")));
    }

    #[test]
    fn a_repeated_entry_that_agrees_is_read_once() {
        // What git's union merge makes of two branches that pinned the same draft.
        let text = format!("{TOP}{}{}{}", entry("aaa", "a"), entry("bbb", "b"), entry("aaa", "a"));
        let short = |c: &str| Checksum::of(c).short();
        assert_eq!(read(&text), format!("aaa = {}\nbbb = {}", short("a"), short("b")));
    }

    #[test]
    fn a_repeated_entry_with_another_checksum_is_an_error() {
        let text = format!("{TOP}{}{}", entry("aaa", "a"), entry("aaa", "edited"));
        assert_eq!(
            read(&text),
            format!(
                "migrations/migrate.lock:6: revision `aaa` is pinned twice with different checksums (also on line 5) \
                 (help: two branches pinned different versions of `aaa`: keep the line whose checksum matches the file \
                 you keep (`cargo migrate show aaa` prints it), remove the other, then run `cargo migrate lock`)\n\
                 aaa = {}",
                Checksum::of("a").short()
            )
        );
    }

    const CONFLICT: &str = "migrations/migrate.lock:5: migrate.lock has a git merge conflict: both sides' entries are \
        independent; `cargo migrate lock --resolve` keeps both (help: commit the resolved file; with `migrate.lock \
        merge=union` in .gitattributes (`cargo migrate init` and `lock` add it) git keeps both sides on its own)";

    #[test]
    fn conflict_markers_are_recognised_and_both_sides_read() {
        let text = format!(
            "{TOP}<<<<<<< HEAD\n{}=======\n{}>>>>>>> other-branch\n{}",
            entry("bbb", "b"),
            entry("ccc", "c"),
            entry("ddd", "d")
        );
        let short = |c: &str| Checksum::of(c).short();
        assert_eq!(
            read(&text),
            format!("{CONFLICT}\nbbb = {}\nccc = {}\nddd = {}", short("b"), short("c"), short("d"))
        );
    }

    #[test]
    fn a_diff3_conflict_leaves_out_the_common_ancestor() {
        // `merge.conflictStyle = diff3`: the base part holds what both sides changed.
        let text = format!(
            "{TOP}<<<<<<< HEAD\n{}||||||| base\n{}=======\n{}>>>>>>> other\n",
            entry("bbb", "b"),
            entry("old", "o"),
            entry("ccc", "c"),
        );
        let short = |c: &str| Checksum::of(c).short();
        assert_eq!(read(&text), format!("{CONFLICT}\nbbb = {}\nccc = {}", short("b"), short("c")));
    }

    #[test]
    fn a_conflict_whose_sides_pin_one_revision_differently_names_it() {
        let text =
            format!("{TOP}<<<<<<< HEAD\n{}=======\n{}>>>>>>> other\n", entry("bbb", "b"), entry("bbb", "edited"),);
        let (lock, problems) = LockFile::parse(&SourceFile::new("migrations/migrate.lock", text));
        let problems: Vec<&Problem> = problems.iter().map(|d| &d.problem).collect();
        assert_eq!(
            problems,
            [&Problem::LockFileConflict, &Problem::ConflictingPins { id: "bbb".into(), first_line: 6 }]
        );
        assert_eq!(lock.len(), 1);
    }

    #[test]
    fn reports_syntax_errors_with_line() {
        let (_, problems) = LockFile::parse(&SourceFile::new("migrate.lock", "version = 1\n[revisions\n"));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(2));
    }
}
