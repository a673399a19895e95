//! The core of cargo-migrate: revision files, the revision graph, targets,
//! checksums, the lock file and diagnostics.
//!
//! This crate does no database, network or terminal IO. Its only file-system
//! code is [`load::read_dir`]; everything else works on text, so the CLI, the
//! build script and the runtime share one implementation.

#![warn(missing_docs)]

mod checksum;
pub mod config;
mod diagnostic;
pub mod embed;
#[doc(hidden)]
pub mod fuzzing;
mod graph;
pub mod import;
pub mod load;
mod lock;
mod parallel;
mod plan;
pub mod releases;
mod revision;
pub mod sql;
mod target;
pub mod template;

use std::path::Path;

pub use checksum::Checksum;
pub use config::Config;
pub use diagnostic::{Diagnostic, Problem, Severity, Span, sort as sort_diagnostics};
pub use graph::History;
pub use lock::{LOCK_FILE_NAME, LockFile};
pub use plan::{Direction, Plan, PlanError};
pub use releases::{RELEASES_FILE_NAME, ReleaseFile, Tag};
pub use revision::{
    Allow, HEADER_KEYS, HeaderLines, MAX_REVISION_ID_LEN, NeedsSql, Revision, Section, SourceFile, did_you_mean,
    header_control_character, is_valid_branch_label, is_valid_revision_id, parse_revision, revision_id_problem,
};
pub use sql::Dialect;
pub use target::{MIN_PREFIX, Range, Target, TargetError};
pub use template::TEMPLATE_FILE_NAME;

/// The UTF-8 byte-order mark some editors put at the start of a file.
pub const BOM: char = '\u{feff}';

/// `text` without a leading byte-order mark. Every file cargo-migrate reads
/// goes through this (toml_edit drops it on its own), so a BOM never changes
/// what a file means.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// What validation allows.
///
/// ```
/// use migrate_history::{Options, Problem, SourceFile, load::Sources};
///
/// let file = |id: &str, parents: &str| {
///     let text = format!("-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n\n\
///                         -- migrate:up\nSELECT 1;\n");
///     SourceFile::new(format!("migrations/{id}.sql"), text)
/// };
/// // Two branches from `a`: two heads.
/// let sources = Sources { revisions: vec![file("a", ""), file("b", "a"), file("c", "a")], ..Sources::default() };
///
/// let strict = migrate_history::analyze(sources.clone(), Options::default());
/// assert!(strict.errors().any(|d| matches!(d.problem, Problem::MultipleHeads { .. })));
///
/// let branches = Options { allow_multiple_heads: true, ..Options::default() };
/// assert!(!migrate_history::analyze(sources.clone(), branches).has_errors());
///
/// // Revisions not pinned in migrate.lock are drafts: warnings, unless pinning is required.
/// let release = Options { allow_multiple_heads: true, require_pinned: true };
/// assert_eq!(migrate_history::analyze(sources, release).errors().count(), 3);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Several heads are allowed (Alembic's independent branches).
    pub allow_multiple_heads: bool,
    /// Drafts (revisions not pinned in the lock file) are errors, as in `cargo migrate check`.
    pub require_pinned: bool,
}

/// A history with its lock file and every problem found in them.
///
/// ```
/// use migrate_history::{Options, SourceFile, load::Sources};
///
/// let text = "-- revision: b\n-- parents: a\n-- message: email\n\n-- migrate:up\nALTER TABLE users ADD email TEXT;\n";
/// let sources = Sources { revisions: vec![SourceFile::new("migrations/b.sql", text)], ..Sources::default() };
/// let analysis = migrate_history::analyze(sources, Options::default());
///
/// assert!(analysis.has_errors());
/// let errors: Vec<String> = analysis.errors().map(|d| d.message()).collect();
/// assert_eq!(errors, ["migrations/b.sql:2: revision `b` names parent `a`, which no revision file defines"]);
/// assert_eq!(analysis.warnings().count(), 1); // `b` is a draft
/// // A broken history can still be listed.
/// assert_eq!(analysis.history.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The revisions that parsed, as a graph, with the valid release tags.
    pub history: History,
    /// The lock file; empty when the directory has none.
    pub lock: LockFile,
    /// `releases.toml`, when the directory has one; its valid tags are also in `history`.
    pub releases: Option<ReleaseFile>,
    /// Sorted by file and line.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

/// Parses and validates a history: every revision file, the graph, the
/// heads and the lock file. Never stops at the first problem.
///
/// ```
/// use migrate_history::{Options, SourceFile, load::Sources};
///
/// let sources = Sources {
///     revisions: vec![SourceFile::new(
///         "migrations/a.sql",
///         "-- revision: a\n-- parents:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INT);\n",
///     )],
///     ..Sources::default()
/// };
/// let analysis = migrate_history::analyze(sources, Options::default());
///
/// assert!(!analysis.has_errors());
/// assert_eq!(analysis.history.ids(&analysis.history.heads()), ["a"]);
/// let warnings: Vec<String> = analysis.warnings().map(|d| d.message()).collect();
/// assert_eq!(warnings, ["migrations/a.sql:1: revision `a` is a draft: it is not pinned in migrate.lock"]);
/// ```
pub fn analyze(sources: load::Sources, options: Options) -> Analysis {
    let mut diagnostics = Vec::new();
    let lock_path = sources.lock_path;
    let lock_file = sources.lock;
    // The lock file parses on its own thread while the revisions parse on the others.
    let (parsed, (lock, mut lock_problems)) = std::thread::scope(|scope| {
        let lock = scope.spawn(|| match &lock_file {
            Some(file) => LockFile::parse(file),
            None => (LockFile::empty(&lock_path), Vec::new()),
        });
        let parsed = parallel::map(sources.revisions, parse_revision);
        (parsed, lock.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    // Collected in place, not copied: see `parallel::map`.
    let revisions: Vec<Revision> = parsed
        .into_iter()
        .filter_map(|result| result.map_err(|mut problems| diagnostics.append(&mut problems)).ok())
        .collect();
    diagnostics.append(&mut lock_problems);
    let (mut history, mut problems) = History::build(revisions);
    diagnostics.append(&mut problems);
    let releases = sources.releases.map(|file| {
        let (releases, mut problems) = ReleaseFile::parse(&file);
        diagnostics.append(&mut problems);
        diagnostics.append(&mut releases.apply(&mut history));
        releases
    });
    if !options.allow_multiple_heads {
        diagnostics.extend(history.multiple_heads());
    }
    for mut diagnostic in lock.check(&history) {
        if options.require_pinned && matches!(diagnostic.problem, Problem::Draft { .. }) {
            diagnostic.severity = Severity::Error;
        }
        diagnostics.push(diagnostic);
    }
    diagnostics.extend(replaced_files(&history, &lock));
    sort_diagnostics(&mut diagnostics);
    Analysis { history, lock, releases, diagnostics }
}

/// Every revision a baseline replaces lives under `squashed/<baseline>/`
/// (the innermost baseline's, when baselines nest) and is pinned: a database part-way through them still applies them,
/// and they must not change. Checked by path and lock entry only, so the
/// build script stays cheap; `cargo migrate check` proves the baseline's
/// schema on a scratch database.
fn replaced_files(history: &History, lock: &LockFile) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for b in (0..history.len()).filter(|&b| history.is_baseline(b)) {
        let baseline = history.revision(b);
        // With nested baselines, a revision lives with the innermost one
        // that replaces it (an inner baseline's set stays in its own
        // directory; the inner baseline itself moves to the outer one's).
        for &m in history.replaced(b).iter().filter(|&&m| history.replaced_by(m) == Some(b)) {
            let rev = history.revision(m);
            let parts: Vec<_> = rev.file.path.components().map(|c| c.as_os_str()).collect();
            let under = parts.windows(2).any(|pair| pair[0] == "squashed" && pair[1] == baseline.id.as_str());
            let mut whys = Vec::new();
            if !under {
                whys.push(format!("is not under `squashed/{}/` ({})", baseline.id, rev.file.path.display()));
            }
            if !lock.is_pinned(&rev.id) {
                whys.push(format!("is not pinned in {LOCK_FILE_NAME}"));
            }
            for why in whys {
                let problem = Problem::ReplacedMisplaced { id: baseline.id.clone(), replaced: rev.id.clone(), why };
                problems.push(graph::at_word(baseline, baseline.lines.replaces, &rev.id, problem));
            }
        }
    }
    problems
}

/// Reads and analyzes a migrations directory in one call.
pub fn analyze_dir(dir: &Path, shown_dir: &Path, options: Options) -> Analysis {
    let (sources, read_problems) = load::read_dir(dir, shown_dir);
    analyze_with(sources, read_problems, options)
}

/// [`analyze`], adding problems met while reading the files.
pub fn analyze_with(sources: load::Sources, mut read_problems: Vec<Diagnostic>, options: Options) -> Analysis {
    let mut analysis = analyze(sources, options);
    if !read_problems.is_empty() {
        analysis.diagnostics.append(&mut read_problems);
        sort_diagnostics(&mut analysis.diagnostics);
    }
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, id: &str, header: &str) -> SourceFile {
        SourceFile::new(path, format!("-- revision: {id}\n{header}-- message: {id}\n\n-- migrate:up\nSELECT 1;\n"))
    }

    /// The build script's cheap check of a baseline: the replaced files
    /// under `squashed/<baseline>/` and pinned; the set closed (graph.rs).
    #[test]
    fn replaced_revisions_live_under_squashed_and_are_pinned() {
        let sources = |a_path: &str| load::Sources {
            revisions: vec![
                file(a_path, "a", "-- parents:\n"),
                file("m/squashed/z/b.sql", "b", "-- parents: a\n"),
                file("m/z.sql", "z", "-- parents:\n-- replaces: a, b\n"),
            ],
            lock: Some(SourceFile::new("m/migrate.lock", "version = 1\n\n[revisions]\n")),
            ..load::Sources::default()
        };
        let problems = |a_path: &str| -> Vec<String> {
            analyze(sources(a_path), Options::default()).errors().map(Diagnostic::message).collect()
        };
        assert_eq!(
            problems("m/a.sql"),
            [
                "m/z.sql:3: revision `a`, replaced by baseline `z`, is not pinned in migrate.lock",
                "m/z.sql:3: revision `a`, replaced by baseline `z`, is not under `squashed/z/` (m/a.sql)",
                "m/z.sql:3: revision `b`, replaced by baseline `z`, is not pinned in migrate.lock",
            ]
        );
        assert_eq!(problems("m/squashed/z/a.sql").len(), 2, "only the pins are missing");
    }

    /// Nested baselines: `z`'s set stays in `squashed/z/`; `z` itself and
    /// what else `y` replaces go to `squashed/y/`.
    #[test]
    fn a_nested_baselines_set_lives_with_the_innermost_baseline() {
        let sources = |c_path: &str| load::Sources {
            revisions: vec![
                file("m/squashed/z/a.sql", "a", "-- parents:\n"),
                file("m/squashed/z/b.sql", "b", "-- parents: a\n"),
                file("m/squashed/y/z.sql", "z", "-- parents:\n-- replaces: a, b\n"),
                file(c_path, "c", "-- parents: b\n"),
                file("m/y.sql", "y", "-- parents:\n-- replaces: a, b, z, c\n"),
            ],
            lock: Some(SourceFile::new("m/migrate.lock", {
                let zero = "0".repeat(64);
                let pins: String =
                    ["a", "b", "c", "z"].iter().map(|id| format!("{id} = \"sha256:{zero}\"\n")).collect();
                format!("version = 1\n\n[revisions]\n{pins}")
            })),
            ..load::Sources::default()
        };
        let problems = |c_path: &str| -> Vec<String> {
            let analysis = analyze(sources(c_path), Options::default());
            analysis.errors().map(Diagnostic::message).filter(|m| m.contains("replaced by baseline")).collect()
        };
        assert_eq!(problems("m/squashed/y/c.sql"), Vec::<String>::new());
        assert_eq!(
            problems("m/squashed/z/c.sql"),
            ["m/y.sql:3: revision `c`, replaced by baseline `y`, is not under `squashed/y/` (m/squashed/z/c.sql)"]
        );
    }
}
