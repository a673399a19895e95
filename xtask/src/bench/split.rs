//! `cargo xtask bench split`: applying a revision whose trigger body holds
//! 20,000 statements, and one of 20,000 plain statements, against `sqlite3`
//! running the same SQL (the floor). The splitter used to be quadratic on
//! trigger bodies (11 s for the first case).

use std::path::Path;
use std::process::Command;

use super::{median, timed};
use crate::workspace_root;

const STATEMENTS: usize = 20_000;
const RUNS: usize = 5;

pub fn run() -> Result<(), String> {
    let binary = super::release_binary()?;
    let dir = workspace_root().join("target/bench/split");
    let body: String = (0..STATEMENTS).map(|i| format!("  INSERT INTO log VALUES ({i}, 'the end');\n")).collect();
    let trigger = format!(
        "CREATE TABLE t (x INT);\nCREATE TABLE log (n INT, note TEXT);\n\
         CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n{body}END;\nINSERT INTO t VALUES (1);\n"
    );
    let plain = format!("CREATE TABLE log (n INT, note TEXT);\nBEGIN;\n{}COMMIT;\n", body.replace("  ", ""));
    println!(
        "| revision | sqlite3 running the same SQL | cargo-migrate upgrade | × floor | cargo-migrate upgrade --sql (splitting, no database) |\n|---|---:|---:|---:|---:|"
    );
    for (name, sql) in [("a trigger body of 20,000 statements", &trigger), ("20,000 plain statements", &plain)] {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("migrations")).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("floor.sql"), sql).map_err(|e| e.to_string())?;
        // The revision runs in its own transaction, so its SQL has none.
        let up = sql.replace("BEGIN;\n", "").replace("COMMIT;\n", "");
        let revision = format!("-- revision: r0001\n-- parents:\n-- message: big\n\n-- migrate:up\n{up}\n");
        std::fs::write(dir.join("migrations/r0001.sql"), revision).map_err(|e| e.to_string())?;
        let database = dir.join("bench.sqlite3");
        let floor = median(RUNS, || {
            let _ = std::fs::remove_file(&database);
            let input = std::fs::File::open(dir.join("floor.sql")).map_err(|e| e.to_string())?;
            timed(Command::new("sqlite3").arg(&database).stdin(input))
        })?;
        let ours = median(RUNS, || {
            let _ = std::fs::remove_file(&database);
            timed(
                Command::new(&binary)
                    .args(["migrate", "upgrade", "-q", "--dir"])
                    .arg(dir.join("migrations"))
                    .arg("--database-url")
                    .arg(format!("sqlite:{}", database.display())),
            )
        })?;
        check_applied(&database)?;
        let script = median(RUNS, || {
            timed(
                Command::new(&binary)
                    .args(["migrate", "upgrade", "--sql", "--dir"])
                    .arg(dir.join("migrations"))
                    .arg("--database-url")
                    .arg(format!("sqlite:{}", database.display())),
            )
        })?;
        println!(
            "| {name} | {:.2} s | {:.2} s | {:.2} | {:.3} s |",
            floor.as_secs_f64(),
            ours.as_secs_f64(),
            ours.as_secs_f64() / floor.as_secs_f64(),
            script.as_secs_f64()
        );
    }
    Ok(())
}

/// Both runs must have done the work, or the figures mean nothing.
fn check_applied(database: &Path) -> Result<(), String> {
    let output =
        Command::new("sqlite3").arg(database).arg("SELECT count(*) FROM log").output().map_err(|e| e.to_string())?;
    let count = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if count == STATEMENTS.to_string() { Ok(()) } else { Err(format!("expected {STATEMENTS} log rows, found {count}")) }
}
