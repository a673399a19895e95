//! `cargo xtask bench autogenerate`: `cargo migrate generate` against a
//! 200-table models file (columns of several types, defaults, a foreign key,
//! a check and an index per table) from an empty history, on SQLite (scratch
//! databases in memory) and PostgreSQL (scratch databases on the local server).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::median;
use crate::workspace_root;

const TABLES: usize = 200;

pub fn run() -> Result<(), String> {
    let root = workspace_root();
    let binary = super::release_binary()?;
    let dir = root.join("target/bench/autogenerate");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("migrations")).map_err(|e| e.to_string())?;
    // A package of its own, so its schema.sql and migrations/ are the project's.
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"autogenerate_bench\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .map_err(|e| e.to_string())?;
    let mut schema = String::new();
    for i in 0..TABLES {
        let parent = if i == 0 {
            String::new()
        } else {
            format!(",\n    parent_id INTEGER REFERENCES t{} (id) ON DELETE CASCADE", i - 1)
        };
        schema.push_str(&format!(
            "CREATE TABLE t{i} (\n    id INTEGER PRIMARY KEY,\n    name VARCHAR(100) NOT NULL,\n    score INTEGER NOT NULL DEFAULT 0 CHECK (score >= 0),\n    \
             created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP{parent}\n);\nCREATE INDEX ix_t{i}_name ON t{i} (name);\n"
        ));
    }
    std::fs::write(dir.join("schema.sql"), schema).map_err(|e| e.to_string())?;
    let generate = |extra: &[&str]| -> Result<Duration, String> {
        let start = Instant::now();
        let output = Command::new(&binary)
            .args(["migrate", "generate", "-q", "bench", "--rev-id", "bench"])
            .args(extra)
            .current_dir(&dir)
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| e.to_string())?;
        let elapsed = start.elapsed();
        if !output.status.success() {
            return Err(format!("generate failed: {}", String::from_utf8_lossy(&output.stderr)));
        }
        let file = dir.join("migrations/bench_bench.sql");
        let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        if text.matches("CREATE TABLE").count() != TABLES {
            return Err(format!("expected {TABLES} tables in the generated revision"));
        }
        std::fs::remove_file(file).map_err(|e| e.to_string())?;
        Ok(elapsed)
    };
    let sqlite = median(5, || generate(&[]))?;
    let postgres = median(5, || generate(&["--dev-url", "postgres://postgres@127.0.0.1:5432/postgres"]))?;
    println!("| models | SQLite (in-memory scratch databases) | PostgreSQL (scratch databases on 127.0.0.1) |");
    println!("|---|---:|---:|");
    println!(
        "| {TABLES} tables, each with a foreign key, a check, a default and an index | {:.0} ms | {:.0} ms |",
        sqlite.as_secs_f64() * 1000.0,
        postgres.as_secs_f64() * 1000.0
    );
    Ok(())
}
