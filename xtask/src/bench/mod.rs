//! `cargo xtask bench NAME`: one module per benchmark, and the measuring
//! they share. A benchmark module uses this one's helpers and no other
//! benchmark's.

mod apply;
mod autogenerate;
mod history;
mod split;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{cargo, run as run_step, workspace_root};

pub fn run(args: &[&str]) -> Result<(), String> {
    match args {
        ["history"] => history::run(),
        ["apply"] => apply::run(),
        ["autogenerate"] => autogenerate::run(),
        ["split"] => split::run(),
        _ => Err(format!("unknown benchmark `{}`; available: history, apply, autogenerate, split", args.join(" "))),
    }
}

/// Builds the release `cargo-migrate` that benchmarks time, and returns its path.
pub fn release_binary() -> Result<std::path::PathBuf, String> {
    let root = workspace_root();
    run_step(
        cargo(&root).args(["build", "--release", "--quiet", "-p", "cargo-migrate"]),
        "cargo build --release -p cargo-migrate",
    )?;
    Ok(root.join("target/release/cargo-migrate"))
}

/// The median of `n` runs.
pub fn median(n: usize, mut f: impl FnMut() -> Result<Duration, String>) -> Result<Duration, String> {
    let mut times = (0..n).map(|_| f()).collect::<Result<Vec<_>, _>>()?;
    times.sort();
    Ok(times[n / 2])
}

/// The wall time of a command that must succeed.
pub fn timed(command: &mut Command) -> Result<Duration, String> {
    let start = Instant::now();
    let output = command.stdout(Stdio::null()).stderr(Stdio::piped()).output().map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        return Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(elapsed)
}
