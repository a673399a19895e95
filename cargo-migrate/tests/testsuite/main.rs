//! End-to-end tests of the `cargo-migrate` binary.

mod autogenerate;
mod database;
mod help;
mod listing;
mod secrets;
mod workflow;

use std::path::Path;
use std::process::{Command, Output};

/// Runs `cargo-migrate migrate ARGS` in `dir` without color.
pub fn cargo_migrate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .arg("migrate")
        .args(args)
        .current_dir(dir)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run cargo-migrate")
}

/// Exit code, stdout and stderr in one text, for snapshots.
pub fn transcript(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts the exit code, printing the transcript when it differs.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) -> (String, String) {
    assert_eq!(output.status.code(), Some(code), "{}", transcript(output));
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}
