//! `history`, `heads`, `branches`, `show` and `check` on this repository's
//! example history (read-only).

use tests::support::repo_root;

use crate::{assert_exit, cargo_migrate, transcript};

fn run(args: &[&str]) -> std::process::Output {
    cargo_migrate(&repo_root(), args)
}

#[test]
fn example_history_listings() {
    insta::assert_snapshot!("history", transcript(&run(&["history"])));
    insta::assert_snapshot!("history_verbose", transcript(&run(&["history", "-v", "-r", "e12b7f3a8c95:"])));
    insta::assert_snapshot!("history_range", transcript(&run(&["history", "-r", "9e3f:e12b"])));
    insta::assert_snapshot!("heads", transcript(&run(&["heads"])));
    insta::assert_snapshot!("branches", transcript(&run(&["branches"])));
    insta::assert_snapshot!("show", transcript(&run(&["show", "b7a2"])));
    insta::assert_snapshot!("check", transcript(&run(&["check"])));
}

#[test]
fn json_listings_are_one_object_per_line() {
    let (stdout, _) = assert_exit(&run(&["history", "--message-format", "json"]), 0);
    let objects: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(objects.len(), 8);
    let (revisions, last) = objects.split_at(7);
    assert!(revisions.iter().all(|o| o["reason"] == "revision" && o["format-version"] == 1));
    assert_eq!(revisions[0]["head"], true, "newest first");
    assert_eq!(revisions.iter().filter(|o| o["merge-point"] == true).count(), 1);
    assert_eq!(
        last[0],
        serde_json::json!({"reason": "finished", "success": true, "exit-code": 0, "format-version": 1})
    );

    let (stdout, _) = assert_exit(&run(&["--message-format", "json", "heads"]), 0);
    let head: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(head["id"], "0a9d4e6b2c31");

    let (stdout, _) = assert_exit(&run(&["check", "--message-format", "json"]), 0);
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().nth_back(1).unwrap()).unwrap();
    assert_eq!(summary["reason"], "check-finished");
    assert_eq!(summary["success"], true);
}

#[test]
fn bad_targets_are_usage_errors() {
    let (_, stderr) = assert_exit(&run(&["show", "nope"]), 2);
    assert!(stderr.contains("error: no revision matches `nope`"), "{stderr}");
    let (_, stderr) = assert_exit(&run(&["show", "4d1c8e2a9b07+1"]), 0);
    assert!(stderr.is_empty(), "{stderr}");
    let (_, stderr) = assert_exit(&run(&["show", "9e3f5a71c2d8+1"]), 2);
    assert!(stderr.contains("branch point `9e3f5a71c2d8`"), "{stderr}");
    let (_, stderr) = assert_exit(&run(&["history", "-r", "x:y:z"]), 2);
    assert!(stderr.contains("is not a valid target"), "{stderr}");
}

#[test]
fn outside_a_cargo_project_needs_dir() {
    let empty = tempfile::tempdir().unwrap();
    let (_, stderr) = assert_exit(&cargo_migrate(empty.path(), &["heads"]), 2);
    assert!(stderr.contains("could not find `Cargo.toml`"), "{stderr}");
    assert!(stderr.contains("--dir DIR"), "{stderr}");
    let migrations = repo_root().join("migrations");
    let (stdout, _) = assert_exit(&cargo_migrate(empty.path(), &["heads", "--dir", migrations.to_str().unwrap()]), 0);
    assert_eq!(stdout, "0a9d4e6b2c31 (head), add startup tagline\n");
}

#[test]
fn package_selection_with_manifest_path_and_package() {
    let elsewhere = tempfile::tempdir().unwrap();
    let manifest = repo_root().join("Cargo.toml");
    let (stdout, _) =
        assert_exit(&cargo_migrate(elsewhere.path(), &["heads", "--manifest-path", manifest.to_str().unwrap()]), 0);
    assert!(stdout.starts_with("0a9d4e6b2c31 (head)"), "{stdout}");
    let (stdout, _) = assert_exit(
        &cargo_migrate(elsewhere.path(), &["heads", "--manifest-path", manifest.to_str().unwrap(), "-p", "tests"]),
        0,
    );
    assert!(stdout.starts_with("0a9d4e6b2c31 (head)"), "{stdout}");
    let (_, stderr) = assert_exit(
        &cargo_migrate(elsewhere.path(), &["heads", "--manifest-path", manifest.to_str().unwrap(), "-p", "nope"]),
        2,
    );
    assert!(stderr.contains("package `nope` is not a member of the workspace"), "{stderr}");
}
