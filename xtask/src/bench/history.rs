//! `cargo xtask bench history`: generated histories of 1,000, 10,000 and 50,000
//! revisions (with branches and merges), timing the build script, an
//! incremental `cargo build` after editing one revision, and the `heads`,
//! `history` and `check` commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use migrate_history::{LockFile, Options};

use super::median;
use crate::{cargo, workspace_root};

const SIZES: [usize; 3] = [1_000, 10_000, 50_000];

pub fn run(args: &[&str]) -> Result<(), String> {
    let sizes = match args {
        [] => SIZES.to_vec(),
        ["--sizes", list] => list
            .split(',')
            .map(|size| match size.trim().replace('_', "").parse::<usize>() {
                Ok(n) if n >= 100 => Ok(n),
                _ => Err(format!("--sizes {list}: `{size}` is not a number of revisions of at least 100")),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(format!("bench history takes `--sizes N[,N...]` and nothing else, not `{}`", args.join(" "))),
    };
    let root = workspace_root();
    let bench_dir = root.join("target").join("bench");
    let binary = super::release_binary()?;

    let mut rows = Vec::new();
    for size in sizes {
        let krate = bench_dir.join(format!("history-{size}"));
        generate_crate(&krate, size)?;
        eprintln!("\nhistory of {size} revisions in {}", krate.display());

        let build_script = median(7, || {
            let out = tempfile::tempdir().expect("temporary directory");
            let start = Instant::now();
            let report = migrate_build::Builder::new().manifest_dir(&krate).out_dir(out.path()).try_build();
            let elapsed = start.elapsed();
            report.map(|_| elapsed).map_err(|e| e.to_string())
        })?;

        let target = bench_dir.join("target");
        let build = |quiet: bool| -> Result<Duration, String> {
            let start = Instant::now();
            let status = cargo(&krate)
                .args(["build", "--quiet"])
                .env("CARGO_TARGET_DIR", &target)
                .stderr(if quiet { Stdio::null() } else { Stdio::inherit() })
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("cargo build of {} failed", krate.display()));
            }
            Ok(start.elapsed())
        };
        build(false)?; // warm: dependencies and the first full build
        let embedded = Command::new(target.join("debug").join(format!("history_bench_{size}")))
            .output()
            .map_err(|e| format!("could not run the bench crate: {e}"))?;
        let embedded = String::from_utf8_lossy(&embedded.stdout).trim().to_owned();
        if embedded != size.to_string() {
            return Err(format!("the bench crate embedded {embedded} revisions, expected {size}"));
        }
        let head = krate.join("migrations").join(format!("{}.sql", revision_id(size - 1)));
        let mut edit = 0;
        let incremental = median(3, || {
            edit += 1;
            let text = std::fs::read_to_string(&head).map_err(|e| e.to_string())?;
            let text = format!("{}\n-- edit {edit}\n", text.trim_end());
            std::fs::write(&head, text).map_err(|e| e.to_string())?;
            build(true)
        })?;

        let dir = krate.join("migrations");
        // `check` exits 1 here: the head is a draft on purpose.
        let command = |args: &[&str]| -> Result<Duration, String> {
            let allowed: &[i32] = if args[0] == "check" { &[1] } else { &[0] };
            median(11, || {
                let start = Instant::now();
                let status = Command::new(&binary)
                    .arg("migrate")
                    .args(args)
                    .current_dir(&krate)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map_err(|e| e.to_string())?;
                if !status.code().is_some_and(|code| allowed.contains(&code)) {
                    return Err(format!("cargo migrate {} exited with {status}", args.join(" ")));
                }
                Ok(start.elapsed())
            })
        };
        let dir_arg = dir.to_str().ok_or("non-UTF-8 path")?;
        let heads = command(&["heads", "--dir", dir_arg])?;
        let heads_in_package = command(&["heads"])?;
        let history = command(&["history", "--dir", dir_arg])?;
        let check = command(&["check", "--dir", dir_arg])?;
        rows.push((size, build_script, incremental, heads, heads_in_package, history, check));
    }

    println!(
        "| revisions | build script | incremental `cargo build` after editing one revision | `heads --dir` | `heads` (in the package) | `history` | `check` |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (size, build_script, incremental, heads, heads_pkg, history, check) in rows {
        println!(
            "| {size} | {} | {} | {} | {} | {} | {} |",
            ms(build_script),
            ms(incremental),
            ms(heads),
            ms(heads_pkg),
            ms(history),
            ms(check)
        );
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn revision_id(i: usize) -> String {
    format!("r{i:05}")
}

/// A crate whose build script embeds `size` revisions: a main line that
/// branches every 50 revisions into two 5-revision branches and merges them.
/// Every revision but the head is pinned.
fn generate_crate(krate: &Path, size: usize) -> Result<(), String> {
    let migrations = krate.join("migrations");
    if migrations.exists() {
        std::fs::remove_dir_all(&migrations).map_err(|e| e.to_string())?;
    }
    std::fs::create_dir_all(krate.join("src")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&migrations).map_err(|e| e.to_string())?;
    let root = workspace_root();
    let manifest = format!(
        "[package]\nname = \"history_bench_{size}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nmigrate-history = {{ path = {:?} }}\n\n[build-dependencies]\nmigrate-build = {{ path = {:?} }}\n\n[workspace]\n",
        root.join("migrate-history"),
        root.join("migrate-build"),
    );
    write_if_changed(&krate.join("Cargo.toml"), &manifest)?;
    write_if_changed(&krate.join("build.rs"), "fn main() {\n    migrate_build::embed();\n}\n")?;
    write_if_changed(
        &krate.join("src/main.rs"),
        "static HISTORY: migrate_history::embed::EmbeddedHistory = migrate_history::include_history!();\n\n\
         fn main() {\n    println!(\"{}\", HISTORY.revisions().len());\n}\n",
    )?;

    // Every 50 revisions: two 5-revision branches and their merge (11 revisions).
    let mut next = 0;
    let mut parents: Vec<String> = Vec::new();
    let mut write = |parents: &[String]| -> Result<Vec<String>, String> {
        let id = write_revision(&migrations, next, parents)?;
        next += 1;
        Ok(vec![id])
    };
    let mut written = 0;
    while written < size {
        if written % 50 == 49 && size - written > 11 && !parents.is_empty() {
            let (mut left, mut right) = (parents.clone(), parents.clone());
            for _ in 0..5 {
                left = write(&left)?;
                right = write(&right)?;
            }
            parents = write(&[left[0].clone(), right[0].clone()])?;
            written += 11;
        } else {
            parents = write(&parents)?;
            written += 1;
        }
    }

    // Pin everything but the head, as `cargo migrate lock` would have.
    let analysis = migrate_history::analyze_dir(&migrations, Path::new("migrations"), Options::default());
    if analysis.has_errors() {
        return Err(format!("generated history is invalid: {:?}", analysis.errors().next()));
    }
    let mut lock = LockFile::empty(migrations.join("migrate.lock"));
    let head = analysis.history.heads()[0];
    for (index, rev) in analysis.history.revisions().iter().enumerate() {
        if index != head {
            lock.pin(&rev.id, rev.checksum);
        }
    }
    std::fs::write(migrations.join("migrate.lock"), lock.render()).map_err(|e| e.to_string())?;
    Ok(())
}

fn write_revision(migrations: &Path, i: usize, parents: &[String]) -> Result<String, String> {
    let id = revision_id(i);
    let text = format!(
        "-- revision: {id}\n-- parents: {}\n-- message: create table t{i}\n\n-- migrate:up\n\
         CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\n-- migrate:down\nDROP TABLE t{i};\n",
        parents.join(", ")
    );
    std::fs::write(migrations.join(format!("{id}.sql")), text).map_err(|e| e.to_string())?;
    Ok(id)
}

fn write_if_changed(path: &PathBuf, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| e.to_string())
}
