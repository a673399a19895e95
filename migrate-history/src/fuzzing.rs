//! The invariants the fuzz targets in `fuzz/` check, one function per target.
//!
//! Each function panics, naming the broken invariant, when its input breaks
//! one. The fuzz targets call them with generated inputs, and
//! `migrate-history/tests/fuzz_corpus.rs` calls them with every file of the
//! checked-in corpus, so the checks live here once. Not a public API.

use sha2::{Digest, Sha256};

use crate::{Checksum, Diagnostic, Dialect, LockFile, Problem, SourceFile, parse_revision, sql};

/// The fuzz targets' input as text: inputs that are not UTF-8 are skipped,
/// as the loader reports such files before anything parses them.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Lines an editor shows for `text`: a final line after the last `\n` counts,
/// even when empty, so `line_count("") == 1`.
fn line_count(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count() + 1
}

fn check_lines(what: &str, text: &str, diagnostics: &[Diagnostic]) {
    let lines = line_count(text);
    for d in diagnostics {
        if let Some(line) = d.line {
            assert!((1..=lines).contains(&line), "{what}: diagnostic on line {line} of {lines}: {}", d.message());
        }
        if let Some(span) = d.span {
            assert!(
                span.start <= span.end && text.get(span.start..span.end).is_some(),
                "{what}: span {span:?} is not a slice of the text: {}",
                d.message()
            );
            assert_eq!(Some(span.line), d.line, "{what}: the span's line is the diagnostic's: {}", d.message());
        }
        if let Problem::InvalidLockFile { message } = &d.problem {
            assert!(!message.trim().is_empty(), "{what}: a diagnostic without a message");
        }
    }
}

/// [`parse_revision`]: never panics; on success the sections are byte ranges
/// of the text on char boundaries, in file order, `up_sql()`/`down_sql()`
/// slice the file's own text and the checksum is `Checksum::of` the text; on
/// failure there is at least one diagnostic and each has a line in the file.
pub fn revision(text: &str) {
    let checksum = Checksum::of(text);
    let folded: [u8; 32] = Sha256::digest(crate::strip_bom(text).replace("\r\n", "\n")).into();
    assert_eq!(
        checksum.as_bytes(),
        &folded,
        "the checksum is SHA-256 without a leading BOM and with \\r\\n folded to \\n"
    );
    match parse_revision(SourceFile::new("fuzz.sql", text)) {
        Ok(rev) => {
            assert_eq!(rev.file.text, text, "the revision keeps the file's text");
            assert_eq!(rev.checksum, checksum, "the checksum is Checksum::of the file");
            let lines = line_count(text);
            let mut sections = vec![("up", &rev.up, rev.up_sql())];
            if let (Some(down), Some(sql)) = (&rev.down, rev.down_sql()) {
                sections.push(("down", down, sql));
            }
            for (name, section, sql) in &sections {
                let range = &section.range;
                assert!(range.start <= range.end && range.end <= text.len(), "{name} range {range:?} outside the text");
                assert!(
                    text.is_char_boundary(range.start) && text.is_char_boundary(range.end),
                    "{name} range {range:?}"
                );
                let file = rev.file.text.as_bytes().as_ptr_range();
                let slice = sql.as_bytes().as_ptr_range();
                assert!(file.start <= slice.start && slice.end <= file.end, "{name}_sql() is not a slice of the file");
                assert_eq!(*sql, &text[range.clone()], "{name}_sql() is its range of the text");
                assert!((1..=lines).contains(&section.marker_line), "{name} marker on line {}", section.marker_line);
                // After its marker line, which may end the file without a `\n`.
                assert!(
                    range.start == 0 || range.start == text.len() || text.as_bytes()[range.start - 1] == b'\n',
                    "{name} section starts mid-line"
                );
            }
            if let [(_, up, _), (_, down, _)] = sections.as_slice() {
                assert!(up.marker_line < down.marker_line && up.range.end <= down.range.start, "sections overlap");
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "a failure comes with a diagnostic");
            check_lines("revision", text, &diagnostics);
        }
    }
}

/// [`LockFile::parse`]: never panics; errors have a line in the file; when the
/// line-by-line reader accepts a file, toml_edit reads the same entries from
/// it without a problem; and reading what `render` writes for the parsed
/// entries gives them back, by both readers.
pub fn lock_file(text: &str) {
    let file = SourceFile::new("migrate.lock", text);
    let (lock, diagnostics) = LockFile::parse(&file);
    check_lines("lock file", text, &diagnostics);
    // toml_edit refuses repeated keys, which the line reader takes (agreeing
    // ones silently, others as a problem each).
    if let Some(read) = LockFile::read_lines(&file).filter(|read| read.repeated == 0) {
        let (general, problems) = LockFile::parse_toml(&file);
        assert!(problems.is_empty(), "the line reader accepts what toml_edit rejects: {problems:?}");
        assert_eq!(read.lock, general, "the line reader and toml_edit disagree");
    }

    let rendered = lock.render();
    let again = SourceFile::new("migrate.lock", rendered.as_str());
    let (general, problems) = LockFile::parse_toml(&again);
    assert!(problems.is_empty(), "toml_edit rejects render()'s output {rendered:?}: {problems:?}");
    assert!(general.iter().eq(lock.iter()), "render() loses entries: {rendered:?}");
    match LockFile::parse_canonical(&again) {
        Some(canonical) => assert_eq!(canonical, general, "the readers disagree on render()'s output"),
        None => assert!(
            lock.iter().any(|(id, _)| !crate::is_valid_revision_id(id)),
            "the line reader rejects render()'s output {rendered:?}"
        ),
    }
}

/// [`sql::split`] under each dialect: never panics; an error points inside
/// the text on a char boundary; otherwise [`sql::check_partition`] holds.
pub fn sql(text: &str) {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        if let Err(error) = sql::split(text, dialect) {
            assert!(
                error.offset <= text.len() && text.is_char_boundary(error.offset),
                "{}: error offset {} is not a char boundary of the text",
                dialect.name(),
                error.offset
            );
        }
        if let Err(message) = sql::check_partition(text, dialect) {
            panic!("{}: {message}", dialect.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_accept_valid_files() {
        revision("-- revision: a\n-- parents:\n-- message: m\n\n-- migrate:up\nSELECT 1;\n-- migrate:down\n");
        revision("");
        let mut lock = LockFile::empty("migrate.lock");
        lock.pin("a1", Checksum::of("a"));
        lock_file(&lock.render());
        lock_file("version = 1\n[revisions]\n\"Bad-Id\" = \"sha256:00\"\n");
        sql("SELECT 1; /* c */ SELECT 'a;b';");
    }
}
