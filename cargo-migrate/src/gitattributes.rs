//! `.gitattributes`: `migrations/migrate.lock merge=union`, so that when git
//! merges two branches that each pinned revisions it keeps both sides' lines
//! instead of writing a conflict (the entries are independent, and the lock
//! reader accepts them in any order and repeated).

use std::path::{Path, PathBuf};

use migrate_history::LOCK_FILE_NAME;

use crate::error::CliError;

/// The file and the line it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnionLine {
    pub file: PathBuf,
    pub line: String,
}

/// `base/.gitattributes` naming `dir/migrate.lock` relative to `base`; when
/// the migrations directory is not below `base`, a `.gitattributes` inside it.
pub fn union_line(base: &Path, dir: &Path) -> UnionLine {
    let (file, pattern) = match dir.strip_prefix(base) {
        Ok(relative) if !relative.as_os_str().is_empty() => {
            let relative = relative.to_string_lossy().replace('\\', "/");
            (base.join(".gitattributes"), format!("{relative}/{LOCK_FILE_NAME}"))
        }
        Ok(_) => (base.join(".gitattributes"), LOCK_FILE_NAME.to_owned()),
        Err(_) => (dir.join(".gitattributes"), LOCK_FILE_NAME.to_owned()),
    };
    UnionLine { file, line: format!("{} merge=union", quote(&pattern)) }
}

/// A pattern with spaces, quotes or backslashes is written C-quoted, as git reads it.
fn quote(pattern: &str) -> String {
    if !pattern.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        return pattern.to_owned();
    }
    let escaped = pattern.replace('\\', "\\\\").replace('"', "\\\"").replace('\t', "\\t");
    format!("\"{escaped}\"")
}

/// Whether `text` already gives the lock file's pattern `merge=union`.
pub fn has_union(text: &str, wanted: &str) -> bool {
    let mut wanted = wanted.split_whitespace();
    let pattern = wanted.next().unwrap_or_default();
    text.lines().any(|line| {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        (first == pattern || first.strip_prefix('/') == Some(pattern)) && words.any(|w| w == "merge=union")
    })
}

/// Adds the line where it is missing, keeping what the file holds. Returns
/// the line when it was added.
pub fn ensure(base: &Path, dir: &Path) -> Result<Option<UnionLine>, CliError> {
    let wanted = union_line(base, dir);
    match std::fs::read_to_string(&wanted.file) {
        Ok(text) if has_union(&text, &wanted.line) => Ok(None),
        Ok(text) => {
            let separator = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
            crate::fs::write_atomic(&wanted.file, &format!("{text}{separator}{}\n", wanted.line))?;
            Ok(Some(wanted))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            crate::fs::create_new(&wanted.file, &format!("{}\n", wanted.line))?;
            Ok(Some(wanted))
        }
        Err(error) => Err(CliError::io("read", &wanted.file, error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_configured_directory() {
        let line = union_line(Path::new("/app"), Path::new("/app/db/migrations"));
        assert_eq!(
            line,
            UnionLine { file: "/app/.gitattributes".into(), line: "db/migrations/migrate.lock merge=union".into() }
        );
        let outside = union_line(Path::new("/app/tests"), Path::new("/app/migrations"));
        assert_eq!(
            outside,
            UnionLine { file: "/app/migrations/.gitattributes".into(), line: "migrate.lock merge=union".into() }
        );
        let spaced = union_line(Path::new("/app"), Path::new("/app/my migrations"));
        assert_eq!(spaced.line, "\"my migrations/migrate.lock\" merge=union");
    }

    #[test]
    fn an_existing_line_is_recognised() {
        let wanted = "migrations/migrate.lock merge=union";
        assert!(has_union("*.png binary\n/migrations/migrate.lock  -diff merge=union\n", wanted));
        assert!(!has_union("*.png binary\nmigrations/migrate.lock -diff\n", wanted));
        assert!(!has_union("# migrations/migrate.lock merge=union\n", wanted));
    }
}
