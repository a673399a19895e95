//! `cargo xtask bench fleet`: a 10-revision history applied to 200 tenant
//! schemas of one PostgreSQL database with `upgrade --schemas`, `--jobs 1`
//! and `--jobs 8`, next to the same history applied to one database
//! (`--database-url`, the per-target baseline) and to psql running the same
//! DDL for the 200 schemas in one session (the floor). Side by side, round
//! by round, each on a fresh database.

use std::process::Command;

use super::{Contender, SERVER, drop_database, interleaved, psql_admin};
use crate::workspace_root;

const TARGETS: usize = 200;
const REVISIONS: usize = 10;
const ROUNDS: usize = 5;
const DATABASE: &str = "cm_bench_fleet";

pub fn run() -> Result<(), String> {
    let root = workspace_root();
    let binary = super::release_binary()?;
    let dir = root.join("target/bench/fleet");
    let _ = std::fs::remove_dir_all(&dir);
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).map_err(|e| e.to_string())?;
    let mut floor = String::new();
    let schemas: Vec<String> = (1..=TARGETS).map(|n| format!("tenant_{n:03}")).collect();
    let statement = |n: usize| format!("CREATE TABLE t{n} (id BIGINT PRIMARY KEY, name TEXT NOT NULL)");
    for n in 1..=REVISIONS {
        let parent = if n == 1 { String::new() } else { format!("r{:03}", n - 1) };
        let text = format!(
            "-- revision: r{n:03}\n-- parents: {parent}\n-- message: table {n}\n\n-- migrate:up\n{};\n\n-- migrate:down\nDROP TABLE t{n};\n",
            statement(n)
        );
        std::fs::write(migrations.join(format!("r{n:03}.sql")), text).map_err(|e| e.to_string())?;
    }
    for schema in &schemas {
        floor.push_str(&format!("CREATE SCHEMA {schema};\nSET search_path TO {schema};\n"));
        for n in 1..=REVISIONS {
            floor.push_str(&format!("{};\n", statement(n)));
        }
    }
    let floor_file = dir.join("floor.sql");
    std::fs::write(&floor_file, floor).map_err(|e| e.to_string())?;
    // Run in the bench's directory: `lock` adds its merge line to the .gitattributes there.
    let lock = Command::new(&binary).current_dir(&dir).args(["migrate", "lock", "-q", "--dir", "migrations"]).status();
    if !lock.is_ok_and(|s| s.success()) {
        return Err("cargo-migrate lock failed on the generated history".into());
    }
    let url = format!("{SERVER}/{DATABASE}");
    let list = schemas.join(",");
    let fresh = || -> Result<(), String> {
        drop_database(DATABASE)?;
        psql_admin(&format!("CREATE DATABASE {DATABASE}"))
    };
    let ours = |extra: Vec<String>| {
        let (binary, migrations, url, fresh) = (&binary, &migrations, url.clone(), &fresh);
        move || {
            fresh()?;
            let mut command = Command::new(binary);
            command.args(["migrate", "upgrade", "-q", "--dir"]).arg(migrations).args(["--database-url", &url]);
            command.args(&extra);
            Ok(command)
        }
    };
    let mut contenders = vec![
        Contender::new("psql floor: the DDL for 200 schemas, one session", || {
            fresh()?;
            let mut command = Command::new("psql");
            command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-f"]).arg(&floor_file);
            Ok(command)
        }),
        Contender::new("one database", ours(Vec::new())),
        Contender::new(
            "200 schemas, --jobs 1",
            ours(vec!["--schemas".into(), list.clone(), "--jobs".into(), "1".into()]),
        ),
        Contender::new(
            "200 schemas, --jobs 8",
            ours(vec!["--schemas".into(), list.clone(), "--jobs".into(), "8".into()]),
        ),
    ];
    let results = interleaved(ROUNDS, &mut contenders)?;
    drop_database(DATABASE)?;

    let one = results.of("one database");
    println!(
        "{TARGETS} tenant schemas of one PostgreSQL 15 database on 127.0.0.1, {REVISIONS} revisions each (a table a revision); median [min–max] of {ROUNDS} interleaved rounds, each on a fresh database; ratios the median of the rounds' ratios:"
    );
    println!();
    println!("| run | time | per target | per target ÷ one database | × floor |");
    println!("|---|---:|---:|---:|---:|");
    let floor = results.of("psql floor: the DDL for 200 schemas, one session");
    for (name, targets) in [
        ("psql floor: the DDL for 200 schemas, one session", TARGETS),
        ("one database", 1),
        ("200 schemas, --jobs 1", TARGETS),
        ("200 schemas, --jobs 8", TARGETS),
    ] {
        let times = results.of(name);
        let per_target = times.median().as_secs_f64() * 1000.0 / targets as f64;
        let against_one = times.ratio(one) / targets as f64;
        println!("| {name} | {} | {per_target:.1} ms | {against_one:.2} | {:.2} |", times.millis(), times.ratio(floor));
    }
    Ok(())
}
