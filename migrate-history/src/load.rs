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
    // The walk runs on this thread and hands the files it finds, a batch
    // at a time, to reading threads that start with the first full batch;
    // when the walk is done this thread reads too. A short walk reads here.
    let threads = crate::parallel::threads();
    let (batches, queue) = std::sync::mpsc::channel::<Vec<Found>>();
    let queue = std::sync::Mutex::new(queue);
    let read = |reader: &mut FileReader, found: Found| read_found(reader, found, dir, shown_dir);
    let read_files: Vec<Result<(Kind, SourceFile), Box<Diagnostic>>> = std::thread::scope(|scope| {
        let mut readers = Vec::new();
        let mut batch = Vec::with_capacity(Found::BATCH);
        for entry in walkdir::WalkDir::new(dir).follow_links(true) {
            if let Some(found) = walked(entry, dir, shown_dir, &mut diagnostics) {
                batch.push(found);
            }
            if batch.len() == Found::BATCH {
                if readers.is_empty() && threads > 1 {
                    let (queue, read) = (&queue, &read);
                    readers = (1..threads).map(|_| scope.spawn(move || read_batches(queue, read))).collect();
                }
                // The receiver lives until the scope ends.
                let _ = batches.send(std::mem::replace(&mut batch, Vec::with_capacity(Found::BATCH)));
            }
        }
        let _ = batches.send(batch);
        drop(batches);
        let mut read_files = read_batches(&queue, &read);
        for reader in readers {
            read_files.append(&mut reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        read_files
    });
    // Collected in place (the source files take the results' memory).
    let mut revisions: Vec<SourceFile> = read_files
        .into_iter()
        .filter_map(|result| match result {
            Ok((Kind::Revision, file)) => Some(file),
            Ok((Kind::Lock, file)) => {
                sources.lock = Some(file);
                None
            }
            Ok((Kind::Releases, file)) => {
                sources.releases = Some(file);
                None
            }
            Err(diagnostic) => {
                diagnostics.push(*diagnostic);
                None
            }
        })
        .collect();
    sort_by_path(&mut revisions);
    sources.revisions = revisions;
    // The walk's order is the file system's.
    crate::sort_diagnostics(&mut diagnostics);
    (sources, diagnostics)
}

/// Sorts files by the byte order of their shown paths: deterministic, and
/// far cheaper than comparing path components (walkdir's
/// `sort_by_file_name` was 17% of `heads`). The paths share a prefix (the
/// migrations directory); the eight bytes after it make an integer key, so
/// nearly every comparison is one integer comparison, and each file moves
/// once, to its place (sorting the files themselves, 72 bytes each, was 5%
/// of `heads` at 10,000 revisions).
fn sort_by_path(files: &mut [SourceFile]) {
    fn path(file: &SourceFile) -> &[u8] {
        file.path.as_os_str().as_encoded_bytes()
    }
    let Some(first) = files.first().map(path) else { return };
    let mut common = first.len();
    for file in files.iter() {
        let other = path(file);
        if !other.starts_with(&first[..common]) {
            common = first.iter().zip(other).take_while(|(a, b)| a == b).count();
        }
    }
    // Zero-padded: a path that is a prefix of another sorts first (paths hold no NUL).
    let key = |bytes: &[u8]| {
        let rest = &bytes[common..];
        let mut key = [0u8; 8];
        let len = rest.len().min(8);
        key[..len].copy_from_slice(&rest[..len]);
        u64::from_be_bytes(key)
    };
    let mut keyed: Vec<(u64, usize)> = files.iter().enumerate().map(|(i, file)| (key(path(file)), i)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| path(&files[a.1]).cmp(path(&files[b.1]))));
    let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    crate::graph::permute_in_place(files, &order);
}

/// A file the walk found to read.
struct Found {
    kind: Kind,
    path: PathBuf,
    /// Where the path below the migrations directory starts (UTF-8, checked by the walk).
    relative_start: usize,
    /// The length of the file's name, at the end of `path`.
    name_len: usize,
}

impl Found {
    /// Files handed to a reading thread at a time: a history shorter than
    /// this is read by the walking thread alone.
    const BATCH: usize = 128;
}

/// The file an entry of the walk is to read, or the problem with it (in
/// `diagnostics`), or `None` for what is not read.
fn walked(
    entry: walkdir::Result<walkdir::DirEntry>,
    dir: &Path,
    shown_dir: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Found> {
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
            return None;
        }
    };
    if entry.depth() == 0 {
        return None;
    }
    let top_level = entry.depth() == 1;
    // walkdir finds the name in the path on every call: asked once.
    let name = entry.file_name();
    let is_lock = top_level && name == LOCK_FILE_NAME;
    let is_releases = top_level && name == RELEASES_FILE_NAME;
    let is_sql = name.as_encoded_bytes().ends_with(b".sql") && name.len() > ".sql".len();
    if !is_lock && !is_releases && !is_sql {
        return None;
    }
    let file_type = entry.file_type();
    if !file_type.is_file() {
        let kind = if file_type.is_dir() { "a directory" } else { "a special file (a FIFO, socket or device)" };
        diagnostics.push(Diagnostic::error(shown(entry.path(), dir, shown_dir), None, Problem::NotAFile { kind }));
        return None;
    }
    // `template.sql` is read only by `new`, not on every load.
    if top_level && name == TEMPLATE_FILE_NAME {
        return None;
    }
    // A name that is not UTF-8 cannot be shown or embedded (`include_str!`
    // takes a string). walkdir's paths are `dir` joined with the names
    // below it: the path below `dir` is found by its length, not by
    // comparing path components (`strip_prefix`: 3% of `heads`).
    let name_len = name.len();
    let path = entry.path().as_os_str().as_encoded_bytes();
    let relative_start = relative_start(path, dir.as_os_str().as_encoded_bytes(), name_len);
    if std::str::from_utf8(&path[relative_start..]).is_err() {
        diagnostics.push(Diagnostic::error(shown(entry.path(), dir, shown_dir), None, Problem::NonUtf8Name));
        return None;
    }
    let kind = match (is_lock, is_releases) {
        (true, _) => Kind::Lock,
        (_, true) => Kind::Releases,
        _ => Kind::Revision,
    };
    Some(Found { kind, path: entry.into_path(), relative_start, name_len })
}

/// Where the part of `path` below `dir` starts: after `dir` and a
/// separator, or at the name when `path` does not start so.
fn relative_start(path: &[u8], dir: &[u8], name_len: usize) -> usize {
    match path.strip_prefix(dir) {
        Some([]) | None => path.len() - name_len,
        // `join` adds no separator after one, nor after a bare drive (`C:` and `sub` make `C:sub`).
        Some([first, ..]) => dir.len() + usize::from(std::path::is_separator(char::from(*first))),
    }
}

/// Reads the batches on `queue` until it is empty and closed.
fn read_batches<R>(
    queue: &std::sync::Mutex<std::sync::mpsc::Receiver<Vec<Found>>>,
    read: &(impl Fn(&mut FileReader, Found) -> R + Sync),
) -> Vec<R> {
    let mut reader = FileReader::new();
    let mut read_files = Vec::new();
    loop {
        let batch = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
        let Ok(batch) = batch else { return read_files };
        read_files.extend(batch.into_iter().map(|found| read(&mut reader, found)));
    }
}

/// The source file `found` names, shown below `shown_dir`, or the problem reading it.
fn read_found(
    reader: &mut FileReader,
    found: Found,
    dir: &Path,
    shown_dir: &Path,
) -> Result<(Kind, SourceFile), Box<Diagnostic>> {
    let bytes = found.path.as_os_str().as_encoded_bytes();
    // Checked by the walk.
    let shown_path = match std::str::from_utf8(&bytes[found.relative_start..]) {
        Ok(relative) => {
            let mut shown = PathBuf::with_capacity(shown_dir.as_os_str().len() + 1 + relative.len());
            shown.push(shown_dir);
            shown.push(relative);
            shown
        }
        Err(_) => shown(&found.path, dir, shown_dir),
    };
    match reader.read(&found.path, found.name_len) {
        Ok(text) => Ok((found.kind, SourceFile { path: shown_path, origin: Some(found.path), text })),
        Err((line, problem)) => Err(Box::new(Diagnostic::error(shown_path, line, problem))),
    }
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
/// path again for each of 10,000 files; and it reads into one buffer that
/// only grows: four syscalls a file (`openat`, `read`, the `read` that
/// finds the end, `close`), where std's `fs::read` takes six (`statx` and
/// `lseek` besides).
struct FileReader {
    /// Reused for every file; the strings are allocated at their exact size.
    buffer: Vec<u8>,
    /// The directory of the last file read, and its descriptor.
    #[cfg(unix)]
    dir: Option<(PathBuf, rustix::fd::OwnedFd)>,
}

impl FileReader {
    /// The buffer's first size and its smallest growth: revisions are far smaller.
    const CHUNK: usize = 64 * 1024;

    fn new() -> FileReader {
        FileReader {
            buffer: Vec::with_capacity(Self::CHUNK),
            #[cfg(unix)]
            dir: None,
        }
    }

    /// The text of the file at `path`, whose name is its last `name_len`
    /// bytes. Text that is not UTF-8 is a problem on its line.
    fn read(&mut self, path: &Path, name_len: usize) -> Result<String, (Option<usize>, Problem)> {
        let unreadable = |error: std::io::Error| (None, Problem::Unreadable { error: error.to_string() });
        self.buffer.clear();
        self.read_bytes(path, name_len).map_err(unreadable)?;
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

    /// Appends the bytes of the file at `path` to the buffer, reading
    /// until a `read` returns nothing: a short read is not the end on every
    /// file system (FUSE with `direct_io` returns what its daemon answers,
    /// and a signal can cut a read there), and a file cut short would be a
    /// revision whose SQL is missing its end.
    #[cfg(unix)]
    fn read_bytes(&mut self, path: &Path, name_len: usize) -> std::io::Result<()> {
        use rustix::fs::{Mode, OFlags};
        use std::os::unix::ffi::OsStrExt;
        // Split by the name's length, not by parsing path components.
        let bytes = path.as_os_str().as_bytes();
        let (parent, name) = bytes.split_at(bytes.len() - name_len);
        let parent = match parent {
            [] => b".".as_slice(),
            [b'/'] => parent,
            [parent @ .., b'/'] => parent,
            _ => parent,
        };
        let parent = Path::new(std::ffi::OsStr::from_bytes(parent));
        let name = std::ffi::OsStr::from_bytes(name);
        let dir = match &self.dir {
            Some((open, fd)) if open.as_os_str() == parent.as_os_str() => fd,
            _ => {
                let fd = rustix::fs::open(parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
                &self.dir.insert((parent.to_owned(), fd)).1
            }
        };
        let file = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        loop {
            if self.buffer.len() == self.buffer.capacity() {
                // Doubling: a lock file or a squashed baseline can be megabytes.
                self.buffer.reserve(self.buffer.capacity().max(Self::CHUNK));
            }
            match rustix::io::read(&file, rustix::buffer::spare_capacity(&mut self.buffer)) {
                Ok(0) => return Ok(()),
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Appends the bytes of the file at `path` to the buffer.
    #[cfg(not(unix))]
    fn read_bytes(&mut self, path: &Path, _name_len: usize) -> std::io::Result<()> {
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

    /// Files in three directories (the reader keeps one open at a time),
    /// empty, of exactly the buffer's first size and bigger than it, read
    /// by the walking thread alone (3 files) and with reading threads
    /// (600 files: more than one batch, on a machine of more than one core).
    #[test]
    fn every_file_is_read_whole_whatever_its_directory_and_size() {
        for count in [3, 600] {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join("migrations");
            let mut expected = Vec::new();
            for i in 0..count {
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
            // Byte order, as `read_dir` sorts (not `PathBuf`'s order of components).
            expected.sort_by(|a, b| a.0.as_os_str().as_encoded_bytes().cmp(b.0.as_os_str().as_encoded_bytes()));
            let (sources, diagnostics) = read_dir(&dir, Path::new("migrations"));
            assert_eq!(diagnostics, []);
            let read: Vec<_> = sources.revisions.into_iter().map(|f| (f.path, f.text)).collect();
            assert!(read == expected, "{count} files");
        }
    }

    /// The integer keys sort as the bytes do: paths longer than the key,
    /// equal for its eight bytes, prefixes of one another, nested, and a
    /// path outside the common prefix.
    #[test]
    fn files_sort_by_the_bytes_of_their_paths() {
        let paths = [
            "migrations/r00002.sql",
            "migrations/squashed/b/a.sql",
            "migrations/r0000123.sql",
            "migrations/r00001.sql",
            "migrations/r000012.sql",
            "migrations/a.sql",
            "migrations/squashed.sql",
            "migrations/r00001.sqlx.sql",
            "elsewhere/z.sql",
        ];
        let mut files: Vec<SourceFile> = paths.iter().map(|p| SourceFile::new(*p, "")).collect();
        sort_by_path(&mut files);
        let mut expected = paths.to_vec();
        expected.sort_unstable();
        assert_eq!(files.iter().map(|f| f.path.to_str().unwrap()).collect::<Vec<_>>(), expected);
        sort_by_path(&mut []);
    }

    #[test]
    fn the_path_below_the_directory_is_found_by_length() {
        fn start<'a>(path: &'a str, dir: &str, name: &str) -> &'a str {
            &path[relative_start(path.as_bytes(), dir.as_bytes(), name.len())..]
        }
        assert_eq!(start("migrations/a.sql", "migrations", "a.sql"), "a.sql");
        assert_eq!(start("migrations/squashed/b/c.sql", "migrations", "c.sql"), "squashed/b/c.sql");
        assert_eq!(start("migrations/a.sql", "migrations/", "a.sql"), "a.sql");
        assert_eq!(start("/m/x/a.sql", "/m", "a.sql"), "x/a.sql");
        // `join` adds no separator after a bare drive: `C:` and `sub/a.sql`.
        assert_eq!(start("C:sub/a.sql", "C:", "a.sql"), "sub/a.sql");
        // Not below `dir` as spelled: the name alone.
        assert_eq!(start("elsewhere/a.sql", "migrations", "a.sql"), "a.sql");
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
