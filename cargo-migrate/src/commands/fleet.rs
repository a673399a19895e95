//! `status`, `check`, `upgrade` and `downgrade` over several targets
//! (`--targets`, `--schemas`, `status --all-envs`): progress as each target
//! finishes, one table at the end, JSON and a job summary.

use std::io::Write;
use std::time::Instant;

use migrate_history::Direction;

use crate::cli::{DbArgs, FleetArgs, MigrationLockArgs};
use crate::db::{chosen_url, locking, migrator};
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::fleet::{Outcome, Schedule, Target, TargetRun, TargetStatus};
use crate::github::{Summary, cell};
use crate::project::Project;
use crate::report::Message;
use crate::shell::Shell;

/// The default of `--jobs`.
const DEFAULT_JOBS: usize = 4;

/// The targets a command line names: `--targets FILE` or `--schemas`.
fn targets(
    shell: &mut Shell,
    project: &Project,
    db: &DbArgs,
    fleet: &FleetArgs,
    lock: Option<&MigrationLockArgs>,
) -> Result<Vec<Target>, CliError> {
    let mut base = migrator(shell, project)?;
    if let Some(lock) = lock {
        base = locking(base, lock);
    }
    let targets = match &fleet.targets {
        Some(path) => crate::fleet::read_targets(path, &base)?,
        None => crate::fleet::schema_targets(&chosen_url(shell, project, db, false)?, &fleet.schemas, &base)?,
    };
    if let (Some(dialect), Some(path)) = (project.config.dialect, &fleet.targets) {
        let wrong: Vec<String> = targets
            .iter()
            .filter_map(|t| t.url.as_ref().ok().filter(|url| url.dialect() != dialect).map(|url| (t, url)))
            .map(|(t, url)| format!("target `{}` is a {} database", t.name, url.dialect().name()))
            .collect();
        if !wrong.is_empty() {
            return Err(CliError::usage(format!(
                "{}: the history is written for {} (`dialect = \"{}\"`), but {}",
                path.display(),
                dialect.name(),
                dialect.key(),
                wrong.join(", ")
            ))
            .with_help("list only databases of the history's dialect"));
        }
    }
    check_canary(&targets, fleet)?;
    Ok(targets)
}

fn check_canary(targets: &[Target], fleet: &FleetArgs) -> Result<(), CliError> {
    match &fleet.canary {
        Some(canary) if !targets.iter().any(|t| &t.name == canary) => {
            let names: Vec<&str> = targets.iter().take(5).map(|t| t.name.as_str()).collect();
            Err(CliError::usage(format!("--canary `{canary}` is not one of the targets"))
                .with_help(format!("name a target as the report does, such as {}", names.join(", "))))
        }
        _ => Ok(()),
    }
}

fn schedule(fleet: &FleetArgs) -> Schedule {
    Schedule {
        jobs: fleet.jobs.map_or(DEFAULT_JOBS, usize::from),
        canary: fleet.canary.clone(),
        fail_fast: fleet.fail_fast,
    }
}

/// `status --targets`/`--schemas`.
pub fn status(shell: &mut Shell, project: &Project, db: &DbArgs, fleet: &FleetArgs) -> CliResult {
    fleet.refuse_when_reading("status")?;
    let targets = targets(shell, project, db, fleet, None)?;
    report_status(shell, "target", &targets, fleet)
}

/// `status --all-envs`.
pub fn status_all_envs(shell: &mut Shell, project: &Project, fleet: &FleetArgs) -> CliResult {
    fleet.refuse_when_reading("status")?;
    let history = migrator(shell, project)?.history().clone();
    let targets = crate::fleet::from_environments(project, &history)?;
    report_status(shell, "environment", &targets, fleet)
}

/// Reads the state of every target, `--jobs` at a time, in target order;
/// `done` sees each as it finishes, with how many are done.
fn read_all(targets: &[Target], fleet: &FleetArgs, mut done: impl FnMut(usize, &TargetStatus)) -> Vec<TargetStatus> {
    // Reading skips nothing: no canary, no --fail-fast (refused), no Ctrl-C flag.
    let schedule = Schedule { canary: None, fail_fast: false, ..schedule(fleet) };
    let never = std::sync::atomic::AtomicBool::new(false);
    let outcomes =
        crate::fleet::run_all(targets, &schedule, &never, crate::fleet::status_of, |_| false, |n, _, row| done(n, row));
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Ran(row) => row,
            Outcome::Skipped(_) => unreachable!("a schedule without a canary or --fail-fast skips nothing"),
        })
        .collect()
}

fn report_status(shell: &mut Shell, kind: &str, targets: &[Target], fleet: &FleetArgs) -> CliResult {
    let total = targets.len();
    let rows = read_all(targets, fleet, |done, row| {
        let _ = shell.status("Read", format!("{} [{done}/{total}]", row.name));
    });
    let header = [kind, "database", "current", "pending", "drifted", "failed", "reachable"];
    let table: Vec<[String; 7]> = rows
        .iter()
        .map(|row| {
            let count = |n: Option<usize>| n.map_or("-".to_owned(), |n| n.to_string());
            let current = match row.current.as_deref() {
                None => "-".to_owned(),
                Some([]) => "base".to_owned(),
                Some(ids) => ids.join(", "),
            };
            let reachable = match &row.error {
                None => "yes".to_owned(),
                Some(error) => format!("no: {}", error.lines().next().unwrap_or_default()),
            };
            let failed = row.failed.zip(row.unknown).map(|(failed, unknown)| failed + unknown);
            [
                row.name.clone(),
                row.database.clone().unwrap_or_else(|| "-".to_owned()),
                current,
                count(row.pending),
                count(row.drifted),
                count(failed),
                reachable,
            ]
        })
        .collect();
    summarize(shell, &format!("cargo migrate status ({total} {kind}s)"), None, &header, &table)?;
    if shell.json() {
        for row in &rows {
            shell.emit(&Message::TargetStatus(Box::new(row.clone())))?;
        }
    } else {
        print_table(shell.out(), &header, &table)?;
    }
    let unreachable = rows.iter().filter(|r| !r.reachable).count();
    if unreachable > 0 {
        shell.warn(format!("{unreachable} of {total} {kind}s could not be read"))?;
        return Ok(exit::CONNECT);
    }
    Ok(exit::OK)
}

/// `check --targets`/`--schemas`: the history once, then every target must be
/// reachable, up to date, with nothing drifted, failed or unknown.
pub fn check(shell: &mut Shell, project: &Project, db: &DbArgs, fleet: &FleetArgs) -> CliResult {
    fleet.refuse_when_reading("check")?;
    let targets = targets(shell, project, db, fleet, None)?;
    let total = targets.len();
    let rows = read_all(&targets, fleet, |done, row| {
        let problems = check_problems(row);
        let _ = match problems.is_empty() {
            true => shell.status("Checked", format!("{}: up to date [{done}/{total}]", row.name)),
            false => shell.status("Failed", format!("{}: {} [{done}/{total}]", row.name, problems.join(", "))),
        };
    });
    for row in &rows {
        shell.emit(&Message::TargetStatus(Box::new(row.clone())))?;
    }
    let failing: Vec<&TargetStatus> = rows.iter().filter(|row| !check_problems(row).is_empty()).collect();
    let verdict = format!("{} of {total} targets up to date", total - failing.len());
    // The first target (in order) that is not up to date says the code.
    let Some(first) = failing.first() else {
        shell.status("Finished", verdict)?;
        return Ok(exit::OK);
    };
    shell.error(format!("{verdict}; {} not", failing.len()))?;
    Ok(if first.reachable { exit::CHECK_FAILED } else { exit::CONNECT })
}

fn check_problems(row: &TargetStatus) -> Vec<String> {
    if let Some(error) = &row.error {
        return vec![format!("unreachable: {}", error.lines().next().unwrap_or_default())];
    }
    let counts = [(row.pending, "pending"), (row.drifted, "drifted"), (row.failed, "failed"), (row.unknown, "unknown")];
    counts.iter().filter_map(|(n, what)| n.filter(|&n| n > 0).map(|n| format!("{n} {what}"))).collect()
}

/// An `upgrade` or `downgrade` over a fleet, as the command line asked for it.
pub struct Migrate<'a> {
    pub direction: Direction,
    pub target: &'a str,
    /// `--sql` and `--dry-run`, which run on one database only.
    pub sql: bool,
    pub dry_run: bool,
    pub db: &'a DbArgs,
    pub fleet: &'a FleetArgs,
    pub lock: &'a MigrationLockArgs,
}

/// `upgrade`/`downgrade --targets`/`--schemas`.
pub fn migrate(shell: &mut Shell, project: &Project, request: Migrate<'_>) -> CliResult {
    let Migrate { direction, target, sql, dry_run, db, fleet, lock } = request;
    if let Some((_, flag)) = [(sql, "--sql"), (dry_run, "--dry-run")].into_iter().find(|(on, _)| *on) {
        return Err(CliError::usage(format!("{flag} runs on one database, not with --targets or --schemas"))
            .with_help(format!("run {flag} with --database-url or --env for each database")));
    }
    let targets = targets(shell, project, db, fleet, Some(lock))?;
    let total = targets.len();
    let (verb, counted) = match direction {
        Direction::Upgrade => ("Upgraded", "applied"),
        Direction::Downgrade => ("Downgraded", "reverted"),
    };
    // The first Ctrl-C lets the revisions in progress finish and starts no other target.
    let (_graceful, stop) = crate::interrupt::Graceful::enter();
    let started = Instant::now();
    let outcomes = crate::fleet::run_all(
        &targets,
        &schedule(fleet),
        &stop,
        |t| crate::fleet::migrate(t, direction, target, &stop),
        |run| run.error.is_some(),
        |done, _, run| {
            let _ = match &run.error {
                None => shell.status(
                    verb,
                    format!(
                        "{}: {} {counted}, at {} ({:.0} ms) [{done}/{total}]",
                        run.name,
                        run.count,
                        heads(run.after.as_deref()),
                        run.elapsed_ms
                    ),
                ),
                Some(error) => shell.status(
                    "Failed",
                    format!("{}: {} [{done}/{total}]", run.name, error.lines().next().unwrap_or_default()),
                ),
            };
        },
    );
    let header = ["target", "before", "after", counted, "time", "result"];
    let mut table = Vec::new();
    let (mut succeeded, mut failed, mut skipped) = (0, 0, 0);
    for (outcome, target) in outcomes.iter().zip(&targets) {
        let row = match outcome {
            Outcome::Ran(run) => {
                match run.error {
                    None => succeeded += 1,
                    Some(_) => failed += 1,
                }
                [
                    run.name.clone(),
                    heads(run.before.as_deref()),
                    heads(run.after.as_deref()),
                    run.count.to_string(),
                    format!("{:.0} ms", run.elapsed_ms),
                    run.error
                        .as_deref()
                        .map_or("ok".to_owned(), |e| format!("failed: {}", e.lines().next().unwrap_or_default())),
                ]
            }
            Outcome::Skipped(why) => {
                skipped += 1;
                [target.name.clone(), "-".into(), "-".into(), "-".into(), "-".into(), format!("skipped: {why}")]
            }
        };
        table.push(row);
    }
    for (outcome, target) in outcomes.iter().zip(&targets) {
        let run = match outcome {
            Outcome::Ran(run) => run.clone(),
            Outcome::Skipped(why) => {
                TargetRun { error: Some(format!("skipped: {why}")), exit_code: exit::REFUSED, ..TargetRun::new(target) }
            }
        };
        shell.emit(&Message::TargetFinished(Box::new(run)))?;
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let direction_name = match direction {
        Direction::Upgrade => "upgrade",
        Direction::Downgrade => "downgrade",
    };
    shell.emit(&Message::FleetFinished {
        direction: direction_name,
        targets: total,
        succeeded,
        failed,
        skipped,
        elapsed_ms,
    })?;
    let lead = format!("{succeeded} succeeded, {failed} failed, {skipped} skipped in {:.1} s", elapsed_ms / 1000.0);
    summarize(shell, &format!("cargo migrate {direction_name} ({total} targets)"), Some(&lead), &header, &table)?;
    if !shell.json() {
        print_table(shell.out(), &header, &table)?;
    }
    let verdict = format!("{succeeded} of {total} targets succeeded, {failed} failed, {skipped} skipped");
    let code = crate::fleet::exit_code(&outcomes, |run| run.exit_code);
    if code == exit::OK {
        shell.status("Finished", verdict)?;
    } else {
        shell.error(verdict)?;
    }
    Ok(code)
}

/// The job summary (on GitHub Actions): `lead`, then the table.
fn summarize<const N: usize>(
    shell: &mut Shell,
    title: &str,
    lead: Option<&str>,
    header: &[&str; N],
    table: &[[String; N]],
) -> std::io::Result<()> {
    let Some(mut md) = Summary::start(title) else { return Ok(()) };
    if let Some(lead) = lead {
        md.line(lead);
    }
    md.line(format!("| {} |", header.join(" | ")));
    md.line(format!("|{}", "---|".repeat(N)));
    for row in table {
        md.line(format!("| {} |", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")));
    }
    if let Err(e) = md.write() {
        shell.warn(format!("could not write the job summary: {e}"))?;
    }
    Ok(())
}

fn heads(heads: Option<&[String]>) -> String {
    match heads {
        None => "-".to_owned(),
        Some([]) => "base".to_owned(),
        Some(ids) => ids.join(", "),
    }
}

/// A table with columns as wide as their widest cell.
fn print_table<const N: usize>(out: &mut impl Write, header: &[&str; N], rows: &[[String; N]]) -> std::io::Result<()> {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
