//! Replays the fuzz targets' checked-in inputs (`fuzz/seeds/<target>/`, hand
//! written, and `fuzz/corpus/<target>/`, found by the fuzzer) through the same
//! checks the targets run, one test per target.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use migrate_history::fuzzing;

/// The files of `fuzz/<kind>/<target>/`, sorted; none when the folder does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz").join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<_> = entries.map(|entry| entry.expect("a directory entry").path()).collect();
    files.sort();
    files
}

/// Runs `check` on every seed and corpus file of `target`, naming each file that fails.
fn replay(target: &str, check: fn(&str)) {
    let seeds = inputs("seeds", target);
    assert!(!seeds.is_empty(), "fuzz/seeds/{target}/ is missing or empty");
    let files: Vec<_> = seeds.into_iter().chain(inputs("corpus", target)).collect();
    let mut failures = Vec::new();
    for path in &files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let Some(text) = fuzzing::text(&data) else { continue };
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(text))) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{} of {} corpus files fail:\n{}", failures.len(), files.len(), failures.join("\n"));
}

#[test]
fn revision() {
    replay("revision", fuzzing::revision);
}

#[test]
fn lock_file() {
    replay("lock_file", fuzzing::lock_file);
}

#[test]
fn sql() {
    replay("sql", fuzzing::sql);
}
