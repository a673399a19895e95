//! End-to-end tests of the `cargo-migrate` binary.

mod autogenerate;
mod crash;
mod database;
mod dburl;
mod diagnostics;
mod files;
mod fleet;
mod github;
mod hardening;
mod help;
mod import;
mod import_alembic;
mod json;
mod lease;
mod lint;
mod listing;
mod mysql;
mod mysql_autogenerate;
mod mysql_tls;
mod peers;
mod secrets;
mod squash;
mod summary;
mod tags;
mod team;
mod verify;
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

/// Eight `cargo migrate ARGS` started at once in `dir`: each must succeed;
/// returns how many revisions they applied in all.
pub fn eight_at_once(dir: &Path, args: &[&str]) -> usize {
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
                .arg("migrate")
                .args(args)
                .current_dir(dir)
                .env("CARGO_TERM_COLOR", "never")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| assert_exit(&child.wait_with_output().unwrap(), 0).1.matches("    Applying ").count())
        .sum()
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

/// `transcript` with what changes from run to run replaced: elapsed times
/// (`12ms`, `1.5s`, `3 s`) by `[TIME]`, and each `(text, placeholder)` pair.
pub fn redacted(output: &Output, replacements: &[(&str, &str)]) -> String {
    let mut text = transcript(output);
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    redact_times(&text)
}

/// Elapsed times (`12ms`, `1.5s`, `3 s`) in `text` replaced by `[TIME]`.
pub fn redact_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from_digit) = rest.split_at(start);
        out.push_str(before);
        let preceded_by_word = before.chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
        let number = from_digit.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(from_digit.len());
        let after = &from_digit[number..];
        let spaced = after.strip_prefix(' ').unwrap_or(after);
        let unit = ["ms", "µs", "ns", "s"]
            .into_iter()
            .find(|u| spaced.starts_with(u) && !spaced[u.len()..].starts_with(|c: char| c.is_alphanumeric()));
        match unit {
            Some(unit) if !preceded_by_word => {
                out.push_str("[TIME]");
                rest = &spaced[unit.len()..];
            }
            _ => {
                out.push_str(&from_digit[..number]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
