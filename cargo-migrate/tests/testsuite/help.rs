//! Snapshots of every `--help`.

use crate::{cargo_migrate, transcript};

#[test]
fn help_snapshots() {
    let dir = std::env::temp_dir();
    insta::assert_snapshot!("help", transcript(&cargo_migrate(&dir, &["--help"])));
    for command in [
        "init",
        "new",
        "history",
        "heads",
        "branches",
        "show",
        "merge",
        "lock",
        "import",
        "check",
        "lint",
        "upgrade",
        "downgrade",
        "current",
        "status",
        "stamp",
        "sql",
        "resolve",
        "generate",
        "diff",
        "verify",
        "squash",
    ] {
        insta::assert_snapshot!(format!("help_{command}"), transcript(&cargo_migrate(&dir, &[command, "--help"])));
    }
}

#[test]
fn runs_as_cargo_subcommand_and_directly() {
    let dir = std::env::temp_dir();
    let via_cargo = cargo_migrate(&dir, &["--version"]);
    let direct = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-migrate")).arg("--version").output().unwrap();
    assert!(via_cargo.status.success() && direct.status.success());
    assert_eq!(via_cargo.stdout, direct.stdout);
    assert!(String::from_utf8_lossy(&direct.stdout).starts_with("cargo-migrate "));
}

#[test]
fn usage_errors_exit_2() {
    let output = cargo_migrate(&std::env::temp_dir(), &["history", "--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2));
}
