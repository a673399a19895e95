//! Writing files whole or not at all, as cargo-util's `paths::write_atomic`
//! does: every command that writes a file goes through here.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// Replaces (or creates) `path` with `contents` through a uniquely named
/// temporary file in the same directory, synced before it is renamed over
/// `path`: a crash leaves the old file or the new one, never a mix, and a
/// failure leaves no temporary file. An existing file keeps its permissions;
/// a symbolic link keeps pointing at its target, which is replaced.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), CliError> {
    let target = match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => {
            std::fs::canonicalize(path).map_err(|e| CliError::io("follow the link", path, e))?
        }
        _ => path.to_owned(),
    };
    let permissions = std::fs::metadata(&target).ok().map(|m| m.permissions());
    let file = temporary(&target, contents, permissions)?;
    file.persist(&target).map_err(|e| CliError::io("replace", path, e.error))?;
    Ok(())
}

/// Creates `path` with `contents` the same way, but never replaces anything
/// already there (a file, a directory, a link, broken or not). Returns whether
/// it wrote the file.
pub fn create_new(path: &Path, contents: &str) -> Result<bool, CliError> {
    let file = temporary(path, contents, None)?;
    match file.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(CliError::io("create", path, e.error)),
    }
}

/// `.NAME.XXXXXX.tmp` next to `path`, written and synced. Never named `*.sql`,
/// so a history read meanwhile does not see it.
fn temporary(
    path: &Path,
    contents: &str,
    permissions: Option<std::fs::Permissions>,
) -> Result<tempfile::NamedTempFile, CliError> {
    let dir: PathBuf = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    if permissions.is_none() {
        // What `std::fs::write` gives a new file: 0o666 less the umask (tempfile's default is 0o600).
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut file = builder.tempfile_in(&dir).map_err(|e| CliError::io("create a temporary file in", &dir, e))?;
    let failed = |e| CliError::io("write", path, e);
    file.write_all(contents.as_bytes()).map_err(failed)?;
    if let Some(permissions) = permissions {
        file.as_file().set_permissions(permissions).map_err(failed)?;
    }
    file.as_file().sync_all().map_err(failed)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_failed_replace_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrate.lock")).unwrap();
        assert!(write_atomic(&dir.path().join("migrate.lock"), "x").is_err());
        assert_eq!(names(dir.path()), ["migrate.lock"]);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_get_the_mode_std_gives_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("std"), "x").unwrap();
        assert!(create_new(&dir.path().join("ours"), "x").unwrap());
        write_atomic(&dir.path().join("replaced"), "x").unwrap();
        let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode();
        assert_eq!((mode("ours"), mode("replaced")), (mode("std"), mode("std")));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_keeps_pointing_at_its_replaced_target() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real.toml"), "old").unwrap();
        std::os::unix::fs::symlink("real.toml", dir.path().join("Cargo.toml")).unwrap();
        write_atomic(&dir.path().join("Cargo.toml"), "new").unwrap();
        assert!(std::fs::symlink_metadata(dir.path().join("Cargo.toml")).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(dir.path().join("real.toml")).unwrap(), "new");
    }

    #[cfg(unix)]
    #[test]
    fn create_new_never_writes_through_a_broken_link() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("elsewhere.sql", dir.path().join("template.sql")).unwrap();
        assert!(!create_new(&dir.path().join("template.sql"), "x").unwrap());
        assert_eq!(names(dir.path()), ["template.sql"]);
    }
}
