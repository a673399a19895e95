//! Reading a migrations directory: the only file-system code in this crate,
//! kept thin so everything else works on [`SourceFile`]s.

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigSource};
use crate::{Diagnostic, LOCK_FILE_NAME, Problem, RELEASES_FILE_NAME, SourceFile, TEMPLATE_FILE_NAME};

/// The files of a migrations directory.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Revision files (`*.sql` but the top-level `template.sql`), sorted by path.
    pub revisions: Vec<SourceFile>,
    /// `migrate.lock`, when present.
    pub lock: Option<SourceFile>,
    /// Path of the lock file as shown to the user, present or not.
    pub lock_path: PathBuf,
    /// `releases.toml` (the release tags), when present.
    pub releases: Option<SourceFile>,
}

/// Reads `dir` recursively. Paths in messages start with `shown_dir`
/// (usually the directory as configured, such as `migrations`). An entry that
/// would be read but cannot be (a directory named `x.sql`, a broken link, a
/// name or text that is not UTF-8) is a problem, never skipped silently.
pub fn read_dir(dir: &Path, shown_dir: &Path) -> (Sources, Vec<Diagnostic>) {
    let mut sources = Sources { lock_path: shown_dir.join(LOCK_FILE_NAME), ..Sources::default() };
    let mut diagnostics = Vec::new();
    let problem = match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => None,
        Ok(_) => Some(Problem::NotADirectory),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some(missing(dir, Problem::MissingDirectory)),
        Err(error) => Some(Problem::Unreadable { error: error.to_string() }),
    };
    if let Some(problem) = problem {
        diagnostics.push(Diagnostic::error(shown_dir, None, problem));
        return (sources, diagnostics);
    }
    // Walk first (cheap, sequential), then read the files in parallel.
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let path = error.path().map(|p| shown(p, dir, shown_dir)).unwrap_or_else(|| shown_dir.to_owned());
                let problem = match (error.path(), error.io_error().map(std::io::Error::kind)) {
                    (Some(link), Some(std::io::ErrorKind::NotFound)) => {
                        missing(link, Problem::Unreadable { error: error.to_string() })
                    }
                    _ => Problem::Unreadable { error: error.to_string() },
                };
                diagnostics.push(Diagnostic::error(path, None, problem));
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let top_level = entry.depth() == 1;
        // walkdir finds the name in the path on every call: asked once.
        let name = entry.file_name();
        let is_lock = top_level && name == LOCK_FILE_NAME;
        let is_releases = top_level && name == RELEASES_FILE_NAME;
        let is_sql = name.as_encoded_bytes().ends_with(b".sql") && name.len() > ".sql".len();
        if !is_lock && !is_releases && !is_sql {
            continue;
        }
        let file_type = entry.file_type();
        if !file_type.is_file() {
            let kind = if file_type.is_dir() { "a directory" } else { "a special file (a FIFO, socket or device)" };
            diagnostics.push(Diagnostic::error(shown(entry.path(), dir, shown_dir), None, Problem::NotAFile { kind }));
            continue;
        }
        // `template.sql` is read only by `new`, not on every load.
        if top_level && name == TEMPLATE_FILE_NAME {
            continue;
        }
        // A name that is not UTF-8 cannot be shown or embedded (`include_str!` takes a string).
        // At the top the name is the relative path (`strip_prefix` compares
        // path components: 3% of `heads`).
        let utf8 = if top_level {
            name.to_str().is_some()
        } else {
            entry.path().strip_prefix(dir).is_ok_and(|relative| relative.to_str().is_some())
        };
        if !utf8 {
            diagnostics.push(Diagnostic::error(shown(entry.path(), dir, shown_dir), None, Problem::NonUtf8Name));
            continue;
        }
        let kind = match (is_lock, is_releases) {
            (true, _) => Kind::Lock,
            (_, true) => Kind::Releases,
            _ => Kind::Revision,
        };
        found.push((kind, entry.into_path(), top_level));
    }
    // Byte order of the paths: deterministic, and far cheaper than comparing
    // path components (walkdir's sort_by_file_name was 17% of `heads`).
    crate::parallel::sort_by(&mut found, |(_, a, _), (_, b, _)| a.as_os_str().cmp(b.as_os_str()));
    // The shown paths are made by the reading threads: the walk is the part
    // that runs alone.
    let read = crate::parallel::map_with(found, FileReader::new, |reader, (kind, path, top_level)| {
        let shown_path = match path.file_name() {
            Some(name) if top_level => shown_dir.join(name),
            _ => shown(&path, dir, shown_dir),
        };
        match reader.read(&path) {
            Ok(text) => Ok((kind, SourceFile { path: shown_path, origin: Some(path), text })),
            Err((line, problem)) => Err(Box::new(Diagnostic::error(shown_path, line, problem))),
        }
    });
    for result in read {
        match result {
            Ok((Kind::Lock, file)) => sources.lock = Some(file),
            Ok((Kind::Releases, file)) => sources.releases = Some(file),
            Ok((Kind::Revision, file)) => sources.revisions.push(file),
            Err(diagnostic) => diagnostics.push(*diagnostic),
        }
    }
    // The walk's order is the file system's.
    crate::sort_diagnostics(&mut diagnostics);
    (sources, diagnostics)
}

/// `otherwise`, unless `path` is a symbolic link whose target is missing.
fn missing(path: &Path, otherwise: Problem) -> Problem {
    match std::fs::read_link(path) {
        Ok(target) => Problem::BrokenLink { target: target.display().to_string() },
        Err(_) => otherwise,
    }
}

/// Reads the many small files of a history, on one thread. It keeps the
/// directory it last read from open and opens each file by its name in it
/// (`openat`), so the kernel does not look up every directory of a long
/// path again for each of 10,000 files; and it reads a file with one
/// `read` where it can. Together a quarter of the time of reading 10,000
/// revisions on these machines, std's `fs::read` taking six syscalls a
/// file (`openat`, `statx`, `lseek`, `read`, `read`, `close`) to this
/// reader's three.
struct FileReader {
    /// Reused for every file; the strings are allocated at their exact size.
    buffer: Vec<u8>,
    /// The directory of the last file read, and its descriptor.
    #[cfg(unix)]
    dir: Option<(PathBuf, rustix::fd::OwnedFd)>,
}

impl FileReader {
    /// What one read asks for: revisions are far smaller.
    const CHUNK: usize = 64 * 1024;

    fn new() -> FileReader {
        FileReader {
            buffer: Vec::with_capacity(Self::CHUNK),
            #[cfg(unix)]
            dir: None,
        }
    }

    /// The text of the file at `path`. Text that is not UTF-8 is a problem on its line.
    fn read(&mut self, path: &Path) -> Result<String, (Option<usize>, Problem)> {
        let unreadable = |error: std::io::Error| (None, Problem::Unreadable { error: error.to_string() });
        self.buffer.clear();
        self.read_bytes(path).map_err(unreadable)?;
        match std::str::from_utf8(&self.buffer) {
            Ok(text) => Ok(text.to_owned()),
            Err(_) if self.buffer.starts_with(&[0xff, 0xfe]) || self.buffer.starts_with(&[0xfe, 0xff]) => {
                Err((None, Problem::NotUtf8 { encoding: Some("UTF-16") }))
            }
            Err(error) => {
                let line = self.buffer[..error.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
                Err((Some(line), Problem::NotUtf8 { encoding: None }))
            }
        }
    }

    /// Appends the bytes of the file at `path` to the buffer.
    ///
    /// A read of a regular file that returns fewer bytes than asked has
    /// reached the end: POSIX allows a short read of a regular file only
    /// there or when a signal interrupts it, and Linux interrupts one only
    /// for a signal that kills the process. So a revision takes one `read`,
    /// not a second one returning 0. Only regular files get here (the walk
    /// skips anything else).
    #[cfg(unix)]
    fn read_bytes(&mut self, path: &Path) -> std::io::Result<()> {
        use rustix::fs::{Mode, OFlags};
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(std::io::Error::other("not a file name"));
        };
        let dir = match &self.dir {
            Some((open, fd)) if open == parent => fd,
            _ => {
                let fd = rustix::fs::open(parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
                &self.dir.insert((parent.to_owned(), fd)).1
            }
        };
        let file = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        loop {
            if self.buffer.len() == self.buffer.capacity() {
                self.buffer.reserve(Self::CHUNK);
            }
            let asked = self.buffer.capacity() - self.buffer.len();
            match rustix::io::read(&file, rustix::buffer::spare_capacity(&mut self.buffer)) {
                Ok(read) if read < asked => return Ok(()),
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Appends the bytes of the file at `path` to the buffer.
    #[cfg(not(unix))]
    fn read_bytes(&mut self, path: &Path) -> std::io::Result<()> {
        use std::io::Read;
        std::fs::File::open(path)?.read_to_end(&mut self.buffer).map(drop)
    }
}

enum Kind {
    Lock,
    Releases,
    Revision,
}

fn shown(path: &Path, dir: &Path, shown_dir: &Path) -> PathBuf {
    match path.strip_prefix(dir) {
        Ok(relative) => shown_dir.join(relative),
        Err(_) => path.to_owned(),
    }
}

/// A configuration and where it was found.
#[derive(Debug, Clone)]
pub struct FoundConfig {
    /// The configuration, or the defaults when no manifest has one.
    pub config: Config,
    /// Which table it came from.
    pub source: ConfigSource,
    /// The directory `config.dir` is relative to: the package or the workspace root.
    pub base: PathBuf,
    /// The manifests read, to watch for changes.
    pub manifests: Vec<PathBuf>,
    /// Problems in the configuration: invalid values are errors, unknown keys warnings.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads `[package.metadata.migrate]` from `manifest_dir/Cargo.toml`, falling
/// back to `[workspace.metadata.migrate]` in the nearest workspace manifest
/// above it, as the Cargo Book suggests. Never runs `cargo metadata`, so a
/// build script may call it.
pub fn find_config(manifest_dir: &Path) -> FoundConfig {
    let manifest = manifest_dir.join("Cargo.toml");
    let mut found = FoundConfig {
        config: Config::default(),
        source: ConfigSource::Default,
        base: manifest_dir.to_owned(),
        manifests: vec![manifest.clone()],
        diagnostics: Vec::new(),
    };
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return found;
    };
    let (config, source, diagnostics) = Config::from_manifest(&manifest, &text);
    found.diagnostics = diagnostics;
    if source != ConfigSource::Default {
        (found.config, found.source) = (config, source);
        return found;
    }
    if declares_workspace(&text) {
        // The package is its own workspace root: nothing above applies.
        return found;
    }
    for ancestor in manifest_dir.ancestors().skip(1) {
        let candidate = ancestor.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&candidate) else {
            continue;
        };
        if !declares_workspace(&text) {
            continue;
        }
        found.manifests.push(candidate.clone());
        let (config, source, mut diagnostics) = Config::from_manifest(&candidate, &text);
        if source == ConfigSource::Workspace {
            (found.config, found.source, found.base) = (config, source, ancestor.to_owned());
            found.diagnostics.append(&mut diagnostics);
        }
        break;
    }
    found
}

/// Whether a manifest has a `[workspace]` table.
fn declares_workspace(manifest: &str) -> bool {
    manifest.parse::<toml_edit::DocumentMut>().is_ok_and(|doc| doc.contains_key("workspace"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REVISION: &str = "-- revision: a\n-- parents:\n-- message: m\n\n-- migrate:up\n";

    /// The problems `read_dir` reports for `migrations/` in `root`, and the revisions it read.
    fn read(root: &Path) -> (Vec<String>, Vec<PathBuf>) {
        let (sources, diagnostics) = read_dir(&root.join("migrations"), Path::new("migrations"));
        (
            diagnostics.iter().map(Diagnostic::to_string).collect(),
            sources.revisions.into_iter().map(|f| f.path).collect(),
        )
    }

    fn migrations() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("migrations")).unwrap();
        std::fs::write(root.path().join("migrations/a.sql"), REVISION).unwrap();
        root
    }

    #[test]
    fn a_migrations_directory_that_is_a_file_says_so() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("migrations"), "").unwrap();
        assert_eq!(
            read(root.path()).0,
            ["migrations: the migrations directory is a file, not a directory (help: point `dir = \"...\"` in \
              [package.metadata.migrate] (or `--dir`) at the directory that holds the revision files, or move the \
              file away and run `cargo migrate init`)"]
        );
    }

    #[test]
    fn a_directory_named_like_a_revision_or_the_lock_file_is_an_error() {
        let root = migrations();
        std::fs::create_dir_all(root.path().join("migrations/x.sql/inner.sql")).unwrap();
        std::fs::create_dir(root.path().join("migrations/migrate.lock")).unwrap();
        let help = "(help: revision files (`*.sql`) and migrate.lock must be files or links to files: rename or remove this one)";
        assert_eq!(
            read(root.path()),
            (
                vec![
                    format!("migrations/migrate.lock: this is a directory, not a file {help}"),
                    format!("migrations/x.sql: this is a directory, not a file {help}"),
                    format!("migrations/x.sql/inner.sql: this is a directory, not a file {help}"),
                ],
                vec![PathBuf::from("migrations/a.sql")]
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_a_missing_file_is_an_error() {
        let root = migrations();
        std::os::unix::fs::symlink("../gone.sql", root.path().join("migrations/b.sql")).unwrap();
        assert_eq!(
            read(root.path()).0,
            [
                "migrations/b.sql: this is a symbolic link to `../gone.sql`, which does not exist (help: restore `../gone.sql`, or remove the link)"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_a_missing_migrations_directory_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("elsewhere", root.path().join("migrations")).unwrap();
        assert_eq!(
            read(root.path()).0,
            [
                "migrations: this is a symbolic link to `elsewhere`, which does not exist (help: restore `elsewhere`, or remove the link)"
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_named_like_a_revision_is_an_error_and_is_not_opened() {
        let root = migrations();
        let fifo = root.path().join("migrations/b.sql");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert_eq!(
            read(root.path()).0,
            [
                "migrations/b.sql: this is a special file (a FIFO, socket or device), not a file (help: revision files (`*.sql`) and migrate.lock must be files or links to files: rename or remove this one)"
            ]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_name_that_is_not_utf8_is_an_error() {
        use std::os::unix::ffi::OsStrExt;
        let root = migrations();
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.sql");
        std::fs::write(root.path().join("migrations").join(name), REVISION).unwrap();
        assert_eq!(
            read(root.path()),
            (
                vec!["migrations/caf\u{fffd}.sql: the file name is not valid UTF-8 (help: rename it: revision file names are like `3f2a9c1b7e4d_add_users.sql`)".to_owned()],
                vec![PathBuf::from("migrations/a.sql")]
            )
        );
    }

    #[test]
    fn text_that_is_not_utf8_names_its_line_or_its_encoding() {
        let root = migrations();
        std::fs::write(root.path().join("migrations/b.sql"), b"-- revision: b\n-- message: caf\xe9\n").unwrap();
        std::fs::write(root.path().join("migrations/c.sql"), b"\xff\xfe-\0-\0").unwrap();
        assert_eq!(
            read(root.path()).0,
            [
                "migrations/b.sql:2: the file is not UTF-8 text (an invalid byte on this line) (help: save the file as UTF-8)",
                "migrations/c.sql: the file is UTF-16 text, not UTF-8 (help: save the file as UTF-8)",
            ]
        );
    }

    /// Files in several directories, visited in turns (the reader keeps
    /// one directory open at a time), bigger than one read and empty, on
    /// the reading threads (more than 256 files) and without them.
    #[test]
    fn every_file_is_read_whole_whatever_its_directory_and_size() {
        for count in [3, 600] {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join("migrations");
            let mut expected = Vec::new();
            for i in 0..count {
                // `a/`, `b.sql`, `b/`, `c.sql`: byte order interleaves the directories.
                let relative = match i % 3 {
                    0 => format!("a/{i:04}.sql"),
                    1 => format!("b{i:04}.sql"),
                    _ => format!("b/{i:04}.sql"),
                };
                let text = match i {
                    0 => String::new(),
                    1 => "x".repeat(3 * FileReader::CHUNK + 7),
                    2 => "y".repeat(FileReader::CHUNK),
                    _ => format!("-- {i}\n"),
                };
                let path = dir.join(&relative);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
                expected.push((PathBuf::from("migrations").join(relative), text));
            }
            expected.sort();
            let (sources, diagnostics) = read_dir(&dir, Path::new("migrations"));
            assert_eq!(diagnostics, []);
            let read: Vec<_> = sources.revisions.into_iter().map(|f| (f.path, f.text)).collect();
            assert!(read == expected, "{count} files");
        }
    }

    #[test]
    fn a_package_that_is_its_own_workspace_ignores_workspaces_above() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::write(outer.path().join("Cargo.toml"), "[workspace]\n[workspace.metadata.migrate]\ndir = \"outer\"\n")
            .unwrap();
        let inner = outer.path().join("inner");
        std::fs::create_dir(&inner).unwrap();
        std::fs::write(inner.join("Cargo.toml"), "[package]\nname = \"inner\"\n[workspace]\n").unwrap();
        let found = find_config(&inner);
        assert_eq!((found.source, found.base), (ConfigSource::Default, inner.clone()));

        std::fs::write(inner.join("Cargo.toml"), "[package]\nname = \"inner\"\n").unwrap();
        let found = find_config(&inner);
        assert_eq!((found.source, found.base), (ConfigSource::Workspace, outer.path().to_owned()));
        assert_eq!(found.config.dir, PathBuf::from("outer"));
    }
}
