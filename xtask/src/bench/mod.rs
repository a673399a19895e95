//! `cargo xtask bench NAME`: one module per benchmark, and the measuring
//! they share. A benchmark module uses this one's helpers and no other
//! benchmark's.

mod apply;
mod autogenerate;
mod fleet;
mod history;
mod import;
mod split;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{cargo, run as run_step, workspace_root};

pub fn run(args: &[&str]) -> Result<(), String> {
    match args {
        ["history", rest @ ..] => history::run(rest),
        ["apply", rest @ ..] => apply::run(rest),
        ["autogenerate"] => autogenerate::run(),
        ["split"] => split::run(),
        ["import"] => import::run(),
        ["fleet"] => fleet::run(),
        _ => Err(format!(
            "unknown benchmark `{}`; available: history, apply, autogenerate, split, import, fleet",
            args.join(" ")
        )),
    }
}

/// The PostgreSQL server the benchmarks use, without a database.
pub const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// Runs `sql` on the server's `postgres` database with psql.
pub fn psql_admin(sql: &str) -> Result<(), String> {
    let status = Command::new("psql")
        .args(["-X", "-q", "-d", &format!("{SERVER}/postgres"), "-c", sql])
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("psql could not run `{sql}`: is PostgreSQL running on 127.0.0.1:5432?"))
    }
}

/// Drops database `name`, sessions and all, if it exists.
pub fn drop_database(name: &str) -> Result<(), String> {
    psql_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
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

/// One command timed by [`interleaved`]: `prepare` readies what it needs
/// (a fresh database, say), untimed, and returns the command to time.
pub struct Contender<'a> {
    pub name: String,
    pub prepare: Box<dyn FnMut() -> Result<Command, String> + 'a>,
}

impl<'a> Contender<'a> {
    pub fn new(name: impl Into<String>, prepare: impl FnMut() -> Result<Command, String> + 'a) -> Contender<'a> {
        Contender { name: name.into(), prepare: Box::new(prepare) }
    }
}

/// The times of one contender, one per round.
#[derive(Debug, Clone)]
pub struct Times(pub Vec<Duration>);

impl Times {
    pub fn median(&self) -> Duration {
        let mut times = self.0.clone();
        times.sort();
        times[times.len() / 2]
    }

    pub fn min(&self) -> Duration {
        self.0.iter().copied().min().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.0.iter().copied().max().unwrap_or_default()
    }

    /// The median of the per-round ratios `self / other`: both ran in the
    /// same rounds, so a slow stretch of the machine slows both.
    pub fn ratio(&self, other: &Times) -> f64 {
        let mut ratios: Vec<f64> =
            self.0.iter().zip(&other.0).map(|(a, b)| a.as_secs_f64() / b.as_secs_f64()).collect();
        ratios.sort_by(f64::total_cmp);
        ratios[ratios.len() / 2]
    }

    /// `median [min–max]` in seconds.
    pub fn secs(&self) -> String {
        let s = |d: Duration| format!("{:.2}", d.as_secs_f64());
        format!("{} s [{}–{}]", s(self.median()), s(self.min()), s(self.max()))
    }

    /// `median [min–max]` in milliseconds.
    pub fn millis(&self) -> String {
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
        format!("{} ms [{}–{}]", ms(self.median()), ms(self.min()), ms(self.max()))
    }
}

/// The times of [`interleaved`]'s contenders, by name.
pub struct Results(Vec<(String, Times)>);

impl Results {
    /// The times of the contender `name`, if it ran.
    pub fn get(&self, name: &str) -> Option<&Times> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, times)| times)
    }

    /// The times of the contender `name`, which ran.
    pub fn of(&self, name: &str) -> &Times {
        self.get(name).unwrap_or_else(|| panic!("no contender named {name}"))
    }
}

/// Runs every contender once per round, in turn, for `rounds` rounds: side
/// by side in one run, so a drift of the machine's speed (it is shared)
/// reaches all of them alike.
pub fn interleaved(rounds: usize, contenders: &mut [Contender<'_>]) -> Result<Results, String> {
    let mut times = vec![Times(Vec::with_capacity(rounds)); contenders.len()];
    for round in 0..rounds {
        eprint!("\r  round {}/{rounds}", round + 1);
        for (contender, times) in contenders.iter_mut().zip(&mut times) {
            let mut command = (contender.prepare)()?;
            times.0.push(timed(&mut command).map_err(|e| format!("{}: {e}", contender.name))?);
        }
    }
    eprintln!();
    Ok(Results(contenders.iter().map(|c| c.name.clone()).zip(times).collect()))
}
