//! Validate a cargo-migrate history in `build.rs` and embed it into the crate.
//!
//! ```text
//! // build.rs
//! fn main() {
//!     migrate_build::embed();
//! }
//! ```
//!
//! ```text
//! // src/lib.rs
//! pub static MIGRATIONS: migrate_history::embed::EmbeddedHistory = migrate_history::include_history!();
//! ```
//!
//! A broken history (a malformed header, a duplicate id, a missing parent, a
//! cycle, several heads, an edited or deleted pinned revision) fails the build
//! with one `cargo::error=` line per problem, naming the file, the line and the
//! fix. The directory comes from `[package.metadata.migrate] dir` in the
//! crate's Cargo.toml (or `[workspace.metadata.migrate]`), default `migrations`.

#![warn(missing_docs)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use migrate_history::{Analysis, Diagnostic, Options, embed::FORMAT_VERSION};

/// The generated file's name in `OUT_DIR`, included by `migrate_history::include_history!()`.
pub const OUTPUT_FILE_NAME: &str = "migrate_history.rs";

/// How many draft warnings to print one by one before summarising.
const MAX_DRAFT_WARNINGS: usize = 5;

/// Why a history could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A variable cargo sets for build scripts is missing: not run by cargo.
    #[error("{0} is not set: migrate-build must run from a build script")]
    MissingEnv(&'static str),
    /// The history or its configuration has problems; every one is listed.
    #[error("the migration history has problems:{}", list_errors(diagnostics))]
    Invalid {
        /// Every problem found in the configuration and the history, warnings included.
        diagnostics: Vec<Diagnostic>,
        /// Paths whose change must re-run the build script, as in [`Report::rerun_paths`].
        rerun_paths: Vec<PathBuf>,
    },
    /// The generated file could not be written.
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The generated file's path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
}

fn list_errors(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().filter(|d| d.is_error()).map(|d| format!("\n{d}")).collect()
}

/// What a successful run embedded.
#[derive(Debug, Clone)]
pub struct Report {
    /// Number of revisions embedded.
    pub revisions: usize,
    /// Warnings: drafts and unknown configuration keys.
    pub warnings: Vec<Diagnostic>,
    /// The generated file.
    pub output: PathBuf,
    /// Whether the generated file changed (it is only rewritten when it does).
    pub changed: bool,
    /// Paths whose change must re-run the build script.
    pub rerun_paths: Vec<PathBuf>,
}

/// Options for embedding a history. [`embed`] is `Builder::new().embed()`.
///
/// ```
/// use migrate_build::Builder;
///
/// let dir = tempfile::tempdir()?;
/// let manifest = "[package]\nname = \"app\"\n\n[package.metadata.migrate]\ndir = \"migrations\"\n";
/// std::fs::write(dir.path().join("Cargo.toml"), manifest)?;
/// std::fs::create_dir(dir.path().join("migrations"))?;
/// std::fs::write(
///     dir.path().join("migrations/a.sql"),
///     "-- revision: a\n-- parents:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INT);\n",
/// )?;
///
/// // In build.rs both directories come from cargo's environment.
/// let report = Builder::new().manifest_dir(dir.path()).out_dir(dir.path()).try_build()?;
/// assert_eq!(report.revisions, 1);
/// assert_eq!(report.output, dir.path().join(migrate_build::OUTPUT_FILE_NAME));
/// assert!(report.changed);
/// // `a` is not pinned in migrate.lock: a draft, which is a warning.
/// assert_eq!(report.warnings.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    dir: Option<PathBuf>,
    manifest_dir: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    allow_multiple_heads: Option<bool>,
}

/// Validates the crate's history and embeds it; on problems, fails the build
/// with one `cargo::error=` line each. Call it from `build.rs`.
pub fn embed() {
    Builder::new().embed();
}

impl Builder {
    /// Settings from Cargo.toml and the environment cargo gives build scripts.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The migrations directory, relative to the crate root (overrides Cargo.toml).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.dir = Some(dir.into());
        self
    }

    /// Allow several heads (overrides `allow-multiple-heads` in Cargo.toml).
    pub fn allow_multiple_heads(mut self, allow: bool) -> Builder {
        self.allow_multiple_heads = Some(allow);
        self
    }

    /// The crate root (default: `CARGO_MANIFEST_DIR`).
    pub fn manifest_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.manifest_dir = Some(dir.into());
        self
    }

    /// Where to write the generated file (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.out_dir = Some(dir.into());
        self
    }

    /// Validates and embeds, printing cargo directives: `rerun-if-changed`
    /// always, `warning` for drafts, `error` per problem. Never panics.
    pub fn embed(&self) {
        let result = self.try_build();
        let mut stdout = std::io::stdout().lock();
        for line in directives(&result) {
            // A closed stdout leaves nothing to report to.
            let _ = writeln!(stdout, "{line}");
        }
    }

    /// Validates and embeds, returning the problems instead of printing them.
    pub fn try_build(&self) -> Result<Report, Error> {
        let manifest_dir = match &self.manifest_dir {
            Some(dir) => dir.clone(),
            None => env_path("CARGO_MANIFEST_DIR")?,
        };
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => env_path("OUT_DIR")?,
        };
        let found = migrate_history::load::find_config(&manifest_dir);
        let (mut config, base, mut diagnostics) = (found.config, found.base, found.diagnostics);
        let mut rerun_paths = found.manifests;
        if let Some(dir) = &self.dir {
            config.dir = dir.clone();
        }
        if let Some(allow) = self.allow_multiple_heads {
            config.allow_multiple_heads = allow;
        }
        let dir = base.join(&config.dir);
        let shown_dir = match base.strip_prefix(&manifest_dir) {
            Ok(relative) => relative.join(&config.dir),
            Err(_) => dir.clone(),
        };
        rerun_paths.push(dir.clone());
        let options = Options { allow_multiple_heads: config.allow_multiple_heads, require_pinned: false };
        let mut analysis = migrate_history::analyze_dir(&dir, &shown_dir, options);
        diagnostics.append(&mut analysis.diagnostics);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(Error::Invalid { diagnostics, rerun_paths });
        }
        let code = generate(&analysis);
        let revisions = analysis.history.len();
        // Freed by a thread of its own, which a build script exits without
        // waiting for: freeing 10,000 revisions is about 10 ms of a debug
        // build. (If no thread can start, the closure and the history are
        // dropped here.)
        let _ = std::thread::Builder::new().spawn(move || drop(analysis));
        let output = out_dir.join(OUTPUT_FILE_NAME);
        let changed =
            write_if_changed(&output, &code).map_err(|source| Error::Write { path: output.clone(), source })?;
        Ok(Report { revisions, warnings: diagnostics, output, changed, rerun_paths })
    }
}

fn env_path(var: &'static str) -> Result<PathBuf, Error> {
    std::env::var_os(var).map(PathBuf::from).ok_or(Error::MissingEnv(var))
}

/// The cargo directives for a build result, one per line, in order.
pub fn directives(result: &Result<Report, Error>) -> Vec<String> {
    let mut lines = Vec::new();
    let (rerun_paths, diagnostics): (&[PathBuf], &[Diagnostic]) = match result {
        Ok(report) => (&report.rerun_paths, &report.warnings),
        Err(Error::Invalid { diagnostics, rerun_paths }) => (rerun_paths, diagnostics),
        Err(error) => {
            lines.push(format!("cargo::error={}", one_line(&error.to_string())));
            return lines;
        }
    };
    for path in rerun_paths {
        lines.push(format!("cargo::rerun-if-changed={}", path.display()));
    }
    let mut drafts = 0;
    for diagnostic in diagnostics {
        if diagnostic.is_error() {
            lines.push(format!("cargo::error={}", one_line(&diagnostic.to_string())));
        } else if matches!(diagnostic.problem, migrate_history::Problem::Draft { .. }) {
            // Next to errors, drafts are noise.
            if result.is_err() {
                continue;
            }
            drafts += 1;
            if drafts <= MAX_DRAFT_WARNINGS {
                lines.push(format!("cargo::warning={}", one_line(&diagnostic.to_string())));
            }
        } else {
            lines.push(format!("cargo::warning={}", one_line(&diagnostic.to_string())));
        }
    }
    if drafts > MAX_DRAFT_WARNINGS {
        lines.push(format!(
            "cargo::warning=... and {} more draft revisions (run `cargo migrate lock` to pin them)",
            drafts - MAX_DRAFT_WARNINGS
        ));
    }
    lines
}

/// A cargo directive cannot span lines.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// The Rust expression `include_history!()` expands to: every file through
/// `include_str!` (so rustc tracks it) and one index string of their fields.
fn generate(analysis: &Analysis) -> String {
    let history = &analysis.history;
    let index = migrate_history::embed::index(history, |id| analysis.lock.is_pinned(id));
    let mut code = String::with_capacity(index.len() + 96 * history.len() + 256);
    code.push_str("// @generated by migrate-build. Do not edit.\n");
    let _ = writeln!(code, "::migrate_history::embed::EmbeddedHistory::new({FORMAT_VERSION}, &[");
    for rev in history.revisions() {
        let origin = rev.file.origin.as_ref().unwrap_or(&rev.file.path);
        // `to_str` first: `to_string_lossy` walks the text char by char in a debug build.
        let origin = origin.to_str().map_or_else(|| origin.to_string_lossy(), std::borrow::Cow::Borrowed);
        code.push_str("include_str!(");
        push_raw_string(&mut code, &origin);
        code.push_str("),\n");
    }
    code.push_str("], ");
    push_raw_string(&mut code, &index);
    code.push_str(")\n");
    code
}

/// Appends `text` as a raw string literal: no escaping to do (a large index
/// escaped char by char costs tens of milliseconds in a debug build script),
/// with enough `#`s that the content cannot end it. `text` has no `\r`.
fn push_raw_string(code: &mut String, text: &str) {
    // One more `#` than the longest run after any `"` (memchr-fast, even in debug).
    let longest =
        text.match_indices('"').map(|(at, _)| text[at + 1..].bytes().take_while(|&b| b == b'#').count()).max();
    let fence = "#".repeat(longest.map_or(1, |n| n + 1));
    code.push('r');
    code.push_str(&fence);
    code.push('"');
    code.push_str(text);
    code.push('"');
    code.push_str(&fence);
}

/// Writes only when the content differs, so rustc does not rebuild for nothing.
fn write_if_changed(path: &Path, content: &str) -> std::io::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(false);
    }
    std::fs::write(path, content)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    fn revision(id: &str, parents: &str) -> String {
        format!(
            "-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n\n-- migrate:up\nSELECT 1;\n\n-- migrate:down\n"
        )
    }

    fn crate_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Cargo.toml", "[package]\nname = \"app\"\n");
        dir
    }

    fn build(dir: &Path) -> Result<Report, Error> {
        Builder::new().manifest_dir(dir).out_dir(dir).try_build()
    }

    #[test]
    fn valid_history_directives_and_write_if_changed() {
        let dir = crate_dir();
        write(dir.path(), "migrations/a_first.sql", &revision("a", ""));
        write(dir.path(), "migrations/b_second.sql", &revision("b", "a"));
        let result = build(dir.path());
        let report = result.as_ref().unwrap();
        assert_eq!(report.revisions, 2);
        assert!(report.changed);
        let root = dir.path().display();
        assert_eq!(
            directives(&result),
            [
                format!("cargo::rerun-if-changed={root}/Cargo.toml"),
                format!("cargo::rerun-if-changed={root}/migrations"),
                "cargo::warning=migrations/a_first.sql:1: revision `a` is a draft: it is not pinned in migrate.lock (help: run `cargo migrate lock` to pin it once it is final)".into(),
                "cargo::warning=migrations/b_second.sql:1: revision `b` is a draft: it is not pinned in migrate.lock (help: run `cargo migrate lock` to pin it once it is final)".into(),
            ]
        );
        let code = std::fs::read_to_string(&report.output).unwrap();
        assert!(code.contains(&format!("include_str!(r#\"{root}/migrations/a_first.sql\"#)")), "{code}");
        let a = code.find("a_first.sql\"#)").unwrap();
        let b = code.find("b_second.sql\"#)").unwrap();
        assert!(a < b, "topological order:\n{code}");
        assert!(code.contains("r#\"a\u{1f}\u{1f}\u{1f}\u{1f}1\u{1f}sha256:"), "index line of `a`:\n{code}");
        assert!(!build(dir.path()).unwrap().changed, "unchanged history leaves the file alone");
    }

    #[test]
    fn every_problem_is_one_error_line() {
        let dir = crate_dir();
        write(dir.path(), "migrations/a.sql", &revision("a", ""));
        write(dir.path(), "migrations/b.sql", &revision("b", "zz"));
        write(dir.path(), "migrations/c.sql", &revision("a", ""));
        let result = build(dir.path());
        let lines = directives(&result);
        let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("cargo::error=")).collect();
        assert_eq!(errors.len(), 4, "{lines:#?}"); // duplicate (x2), missing parent, two heads
        assert!(errors.iter().all(|l| !l.contains('\n')));
        assert!(
            lines.iter().any(|l| { l.starts_with("cargo::error=migrations/b.sql:2: revision `b` names parent `zz`") })
        );
        assert!(lines[0].starts_with("cargo::rerun-if-changed="), "rerun directives survive failure");
        assert!(!dir.path().join(OUTPUT_FILE_NAME).exists());
    }

    #[test]
    fn workspace_config_and_override() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "Cargo.toml",
            "[workspace]\nmembers = [\"app\"]\n[workspace.metadata.migrate]\ndir = \"db\"\n",
        );
        write(root.path(), "app/Cargo.toml", "[package]\nname = \"app\"\n");
        write(root.path(), "db/a.sql", &revision("a", ""));
        let app = root.path().join("app");
        let report = build(&app).unwrap();
        assert_eq!(report.revisions, 1);
        assert!(report.rerun_paths.contains(&root.path().join("db")));
        let missing = Builder::new().manifest_dir(&app).out_dir(&app).dir("nope").try_build();
        assert!(directives(&missing).iter().any(|l| l.contains("nope: the migrations directory does not exist")));
    }

    #[test]
    fn raw_strings_cannot_be_closed_by_their_content() {
        let mut code = String::new();
        push_raw_string(&mut code, "plain");
        push_raw_string(&mut code, "a \"## b");
        assert_eq!(code, "r#\"plain\"#r###\"a \"## b\"###");
    }

    #[test]
    fn release_tags_are_embedded_after_the_revisions_and_checked() {
        let dir = crate_dir();
        write(dir.path(), "migrations/a.sql", &revision("a", ""));
        write(dir.path(), "migrations/releases.toml", "version = 1\n[tags]\n\"v0.1.0\" = [\"a\"]\n");
        let report = build(dir.path()).unwrap();
        let code = std::fs::read_to_string(&report.output).unwrap();
        assert!(code.contains("\nv0.1.0\u{1f}a\n\"#)"), "the tag line ends the index:\n{code}");

        write(dir.path(), "migrations/releases.toml", "version = 1\n[tags]\n\"v0.1.0\" = [\"zz\"]\n");
        let errors: Vec<String> =
            directives(&build(dir.path())).into_iter().filter(|l| l.starts_with("cargo::error=")).collect();
        assert_eq!(
            errors,
            [
                "cargo::error=migrations/releases.toml:3: tag `v0.1.0` names revision `zz`, which no revision file defines (help: fix the tag's list of revisions, or restore the revision file)"
            ]
        );
    }

    #[test]
    fn many_drafts_are_summarised() {
        let dir = crate_dir();
        let mut parent = String::new();
        for i in 0..8 {
            let id = format!("r{i}");
            write(dir.path(), &format!("migrations/{id}.sql"), &revision(&id, &parent));
            parent = id;
        }
        let lines = directives(&build(dir.path()));
        assert_eq!(lines.iter().filter(|l| l.starts_with("cargo::warning=")).count(), MAX_DRAFT_WARNINGS + 1);
        assert!(lines.last().unwrap().contains("and 3 more draft revisions"));
    }

    #[test]
    fn outside_cargo_is_a_clear_error() {
        let result = Builder::new().manifest_dir("/nonexistent").try_build();
        if std::env::var_os("OUT_DIR").is_none() {
            assert_eq!(
                directives(&result),
                ["cargo::error=OUT_DIR is not set: migrate-build must run from a build script"]
            );
        }
    }
}
