//! Several databases in one command: `status --all-envs` over the
//! configured environments, and `upgrade`, `downgrade`, `status` and
//! `check` over `--targets FILE` or `--schemas a,b,c`. Each target gets its
//! own connection and migration lock; `--jobs N` run at once; an optional
//! canary goes first; one report at the end. A failing target never stops
//! the others unless `--fail-fast`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use migrate_history::Target as RevisionTarget;
use migrate_runtime::source::ResolvedUrl;
use migrate_runtime::{DatabaseUrl, DbState, Migrator};

use crate::error::CliError;
use crate::exit;

/// One database (or one schema of one) the command runs on.
#[derive(Debug, Clone)]
pub struct Target {
    /// How the report names it: the environment, the `[[target]]` name, the
    /// schema, or the redacted URL.
    pub name: String,
    /// Its URL, or why it has none (an unset variable).
    pub url: Result<DatabaseUrl, String>,
    /// The migrator with its version table.
    pub migrator: Migrator,
    /// `--schemas`: the PostgreSQL schema its revisions run in (first on
    /// the `search_path`) and its version table lives in.
    pub schema: Option<String>,
}

impl Target {
    /// The database as the report shows it: the URL without its password.
    pub fn database(&self) -> Option<String> {
        self.url.as_ref().ok().map(DatabaseUrl::redacted)
    }

    /// Connects, and puts its schema first on the `search_path`.
    pub fn connect(&self, create_schema: bool) -> Result<migrate_runtime::Connection, CliError> {
        let url =
            self.url.as_ref().map_err(|why| CliError { message: why.clone(), help: None, exit_code: exit::USAGE })?;
        let mut connection = crate::db::connect(url)?;
        if let Some(schema) = &self.schema {
            let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
            let create = if create_schema { format!("CREATE SCHEMA IF NOT EXISTS {quoted}; ") } else { String::new() };
            connection.database().execute_batch(&format!("{create}SET search_path TO {quoted}")).map_err(|e| {
                CliError { message: format!("schema `{schema}`: {e}"), help: None, exit_code: exit::CONNECT }
            })?;
        }
        Ok(connection)
    }

    /// Opens it to read: like [`Target::connect`], but a SQLite file that does
    /// not exist reads as empty and nothing is created.
    pub fn connect_to_read(&self) -> Result<migrate_runtime::Connection, CliError> {
        match (&self.url, &self.schema) {
            (Ok(url), None) => crate::db::connect_to_read(url).map(|(connection, _)| connection),
            _ => self.connect(false),
        }
    }
}

/// How the targets are run.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// At most this many at once (at least one).
    pub jobs: usize,
    /// This target first, alone; the others only if it succeeds.
    pub canary: Option<String>,
    /// Start no target once one failed.
    pub fail_fast: bool,
}

/// What became of one target.
#[derive(Debug)]
pub enum Outcome<T> {
    /// It ran (successfully or not, as `T` says).
    Ran(T),
    /// It was not started: the canary failed, `--fail-fast`, or Ctrl-C.
    Skipped(&'static str),
}

/// Runs `work` on every target, `schedule.jobs` at a time, the canary first.
/// `failed` says whether a result is a failure (for the canary and
/// `--fail-fast`); `done` is called on this thread as each target finishes,
/// with how many are done, for progress. Results come back in target order.
pub fn run_all<T: Send>(
    targets: &[Target],
    schedule: &Schedule,
    stop: &AtomicBool,
    work: impl Fn(&Target) -> T + Sync,
    failed: impl Fn(&T) -> bool + Sync,
    mut done: impl FnMut(usize, &Target, &T),
) -> Vec<Outcome<T>> {
    let mut results: Vec<Option<Outcome<T>>> = (0..targets.len()).map(|_| None).collect();
    let mut finished = 0;
    let mut order: Vec<usize> = (0..targets.len()).collect();
    if let Some(canary) = &schedule.canary
        && let Some(position) = targets.iter().position(|t| &t.name == canary)
    {
        let result = work(&targets[position]);
        finished += 1;
        done(finished, &targets[position], &result);
        let canary_failed = failed(&result);
        results[position] = Some(Outcome::Ran(result));
        order.retain(|&i| i != position);
        if canary_failed {
            for i in order {
                results[i] = Some(Outcome::Skipped("the canary failed"));
            }
            return results.into_iter().map(|r| r.expect("every target has an outcome")).collect();
        }
    }
    let give_up = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<(usize, Option<T>)>();
    std::thread::scope(|scope| {
        for _ in 0..schedule.jobs.clamp(1, order.len().max(1)) {
            let sender = sender.clone();
            let (order, next, give_up, work, failed) = (&order, &next, &give_up, &work, &failed);
            scope.spawn(move || {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let result =
                        (!give_up.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst)).then(|| work(&targets[i]));
                    // Before the next target is taken, so that none starts after a failure.
                    if schedule.fail_fast && result.as_ref().is_some_and(failed) {
                        give_up.store(true, Ordering::SeqCst);
                    }
                    if sender.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for (i, result) in receiver {
            results[i] = Some(match result {
                Some(result) => {
                    finished += 1;
                    done(finished, &targets[i], &result);
                    Outcome::Ran(result)
                }
                None if stop.load(Ordering::SeqCst) => Outcome::Skipped("interrupted"),
                None => Outcome::Skipped("--fail-fast after a failure"),
            });
        }
    });
    results.into_iter().map(|r| r.expect("every target has an outcome")).collect()
}

/// `--targets FILE`: one URL or `env:VAR` a line (`#` comments), or a TOML
/// list of `[[target]]` tables with `name`, `url` or `url-env`, and
/// optionally `version-table` and `version-schema`. Problems name the file
/// and line; every one is reported.
pub fn read_targets(path: &Path, base: &Migrator) -> Result<Vec<Target>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError { exit_code: exit::USAGE, ..CliError::io("read", path, e) })?;
    let shown = path.display();
    let mut problems = Vec::new();
    let mut targets = Vec::new();
    if text.lines().any(|line| line.trim() == "[[target]]") {
        let doc = toml_edit::ImDocument::parse(text.as_str()).map_err(|e| {
            CliError::usage(format!("{shown} is not valid TOML: {}", e.message().trim()))
                .with_help("write one `[[target]]` table per database, with `name` and `url` or `url-env`")
        })?;
        let line_of = |span: Option<std::ops::Range<usize>>| {
            span.map_or(0, |span| text[..span.start].bytes().filter(|&b| b == b'\n').count() + 1)
        };
        let tables = doc.get("target").and_then(|t| t.as_array_of_tables());
        for (key, _) in doc.iter().filter(|(key, _)| *key != "target") {
            problems.push(format!("{shown}: unknown key `{key}`: the file holds `[[target]]` tables"));
        }
        for table in tables.into_iter().flat_map(|t| t.iter()) {
            let line = line_of(table.span());
            let at = |message: String| format!("{shown}:{line}: {message}");
            let text_of = |key: &str| table.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            for (key, _) in table.iter() {
                if !["name", "url", "url-env", "version-table", "version-schema"].contains(&key) {
                    problems.push(at(format!(
                        "unknown key `{key}`: a target has `name`, `url` or `url-env`, `version-table`, `version-schema`"
                    )));
                }
            }
            let located = match (text_of("url"), text_of("url-env")) {
                (Some(url), None) => from_url(&url).map_err(&at),
                (None, Some(variable)) => Ok(from_variable(&variable)),
                _ => Err(at("a target needs exactly one of `url` and `url-env`".to_owned())),
            };
            let (default_name, url) = match located {
                Ok(located) => located,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            let mut migrator = base.clone();
            if let Some(table) = text_of("version-table") {
                migrator = migrator.version_table(table);
            }
            if let Some(schema) = text_of("version-schema") {
                migrator = migrator.version_schema(schema);
            }
            let name = text_of("name").unwrap_or(default_name);
            targets.push(Target { name, url, migrator, schema: None });
        }
    } else {
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let located = match line.strip_prefix("env:") {
                Some(variable) => Ok(from_variable(variable.trim())),
                None => from_url(line),
            };
            match located {
                Ok((name, url)) => targets.push(Target { name, url, migrator: base.clone(), schema: None }),
                Err(problem) => problems.push(format!("{shown}:{}: {problem}", index + 1)),
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for target in &targets {
        if !seen.insert(target.name.as_str()) {
            problems.push(format!("{shown}: two targets are named `{}`", target.name));
        }
    }
    if targets.is_empty() && problems.is_empty() {
        problems.push(format!("{shown} names no target"));
    }
    if problems.is_empty() {
        return Ok(targets);
    }
    Err(CliError::usage(problems.join("\n")).with_help(
        "write one URL or `env:VARIABLE` per line, or `[[target]]` tables with `name` and `url` or `url-env`",
    ))
}

/// A target's name unless it has one, and its URL or why it has none.
type Located = (String, Result<DatabaseUrl, String>);

/// A URL written in the file: named by itself, without the password; `Err`
/// (a problem of the file) when it does not parse.
fn from_url(text: &str) -> Result<Located, String> {
    let url = DatabaseUrl::parse(text).map_err(|e| e.to_string())?;
    Ok((url.redacted(), Ok(url)))
}

/// The URL in `variable`, named by the variable; an unset variable or an
/// invalid URL there is that target's failure, not the file's.
fn from_variable(variable: &str) -> Located {
    let url = match std::env::var(variable) {
        Ok(text) if !text.trim().is_empty() => {
            DatabaseUrl::parse(text.trim()).map_err(|e| format!("{variable} holds an invalid URL: {}", e.problem))
        }
        _ => Err(format!("{variable} is not set")),
    };
    (variable.to_owned(), url)
}

/// `--schemas a,b,c`: one target per schema of the database at `url`.
pub fn schema_targets(resolved: &ResolvedUrl, schemas: &[String], base: &Migrator) -> Result<Vec<Target>, CliError> {
    if !matches!(resolved.url, DatabaseUrl::Postgres(_)) {
        return Err(CliError::usage(format!(
            "--schemas needs a PostgreSQL database, and {} (from {}) is not one",
            resolved.url.redacted(),
            resolved.source
        ))
        .with_help("pass a postgres:// URL, or --targets FILE for several databases"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for schema in schemas {
        if schema.is_empty() || !seen.insert(schema) {
            return Err(CliError::usage(format!("--schemas names `{schema}` twice or empty"))
                .with_help("write each schema once: --schemas tenant_a,tenant_b"));
        }
    }
    Ok(schemas
        .iter()
        .map(|schema| Target {
            name: schema.clone(),
            url: Ok(resolved.url.clone()),
            migrator: base.clone().version_schema(schema.clone()),
            schema: Some(schema.clone()),
        })
        .collect())
}

/// One row of a fleet's `status`: the counts are `None` where it could not be read.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetStatus {
    pub name: String,
    /// The URL without its password (`None`: it has none, as an unset variable).
    pub database: Option<String>,
    pub reachable: bool,
    /// Why it could not be read.
    pub error: Option<String>,
    pub current: Option<Vec<String>>,
    pub pending: Option<usize>,
    pub drifted: Option<usize>,
    pub failed: Option<usize>,
    /// Revisions it applied that the history lacks.
    pub unknown: Option<usize>,
}

/// Reads the state of `target`.
pub fn status_of(target: &Target) -> TargetStatus {
    let state: Result<DbState, CliError> =
        target.connect_to_read().and_then(|mut c| target.migrator.state(c.database()).map_err(crate::db::engine_error));
    let (state, error) = match state {
        Ok(state) => (Some(state), None),
        Err(error) => (None, Some(error.message)),
    };
    TargetStatus {
        name: target.name.clone(),
        database: target.url.as_ref().ok().map(DatabaseUrl::redacted),
        reachable: state.is_some(),
        error,
        current: state.as_ref().map(|s| s.heads.clone()),
        pending: state.as_ref().map(|s| s.pending.len()),
        drifted: state.as_ref().map(|s| s.drift.len()),
        failed: state.as_ref().map(|s| s.failed.len()),
        unknown: state.as_ref().map(|s| s.unknown.len()),
    }
}

/// One target's `upgrade` or `downgrade`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetRun {
    pub name: String,
    pub database: Option<String>,
    /// Where it was before (`null` when it could not be read).
    pub before: Option<Vec<String>>,
    /// Where it is after (`null` when it could not be read).
    pub after: Option<Vec<String>>,
    /// Revisions applied (upgrade) or reverted (downgrade).
    pub count: usize,
    pub elapsed_ms: f64,
    pub error: Option<String>,
    /// The exit code this target alone would have had.
    #[serde(skip)]
    pub exit_code: i32,
}

impl TargetRun {
    /// Nothing done yet on `target`.
    pub fn new(target: &Target) -> TargetRun {
        TargetRun {
            name: target.name.clone(),
            database: target.database(),
            before: None,
            after: None,
            count: 0,
            elapsed_ms: 0.0,
            error: None,
            exit_code: exit::OK,
        }
    }
}

/// Runs `direction` to `target_text` on `target`, under its own lock.
pub fn migrate(
    target: &Target,
    direction: migrate_history::Direction,
    target_text: &str,
    stop: &Arc<AtomicBool>,
) -> TargetRun {
    let started = Instant::now();
    let mut run = TargetRun::new(target);
    let result = (|| -> Result<(), CliError> {
        let goal = RevisionTarget::parse(target_text)?;
        let mut connection = target.connect(direction == migrate_history::Direction::Upgrade)?;
        let mut migrator = target.migrator.clone().stop_when(stop.clone());
        if let Ok(url) = &target.url {
            migrator = crate::db::heartbeat(migrator, url);
        }
        run.before = Some(migrator.state(connection.database()).map_err(crate::db::engine_error)?.heads);
        let report = match direction {
            migrate_history::Direction::Upgrade => migrator.upgrade(&goal).apply(connection.database()),
            _ => migrator.downgrade(&goal).apply(connection.database()),
        }
        .map_err(crate::db::engine_error)?;
        run.count = report.applied.len() + report.reverted.len();
        run.after = Some(report.heads);
        Ok(())
    })();
    if let Err(error) = result {
        run.exit_code = error.exit_code;
        run.error = Some(error.message);
    }
    run.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    run
}

/// The exit code of a fleet: 0 when every target succeeded, else that of
/// the first target (in order) that failed, else 4 for targets skipped
/// (130 when Ctrl-C skipped them).
pub fn exit_code<T>(outcomes: &[Outcome<T>], code: impl Fn(&T) -> i32) -> i32 {
    let failed = outcomes.iter().find_map(|outcome| match outcome {
        Outcome::Ran(result) => Some(code(result)).filter(|&code| code != exit::OK),
        Outcome::Skipped(_) => None,
    });
    let skipped = outcomes.iter().find_map(|outcome| match outcome {
        Outcome::Skipped("interrupted") => Some(exit::INTERRUPTED),
        Outcome::Skipped(_) => Some(exit::REFUSED),
        Outcome::Ran(_) => None,
    });
    failed.or(skipped).unwrap_or(exit::OK)
}

/// `status --all-envs`: one target per configured environment.
pub fn from_environments(
    project: &crate::project::Project,
    history: &migrate_history::History,
) -> Result<Vec<Target>, CliError> {
    if project.config.environments.is_empty() {
        return Err(CliError::usage("no environments are configured").with_help(
            "add `[package.metadata.migrate.environments.NAME]` tables with `url-env = \"VARIABLE\"` to Cargo.toml",
        ));
    }
    let no_args = crate::cli::DbArgs { database_url: None, env: None };
    let mut targets = Vec::new();
    for environment in &project.config.environments {
        let in_env = project.in_environment(&environment.name)?;
        // An environment whose variable is unset is a row that says so, not an error.
        let unchecked = crate::project::Project { environment: None, ..in_env.clone() };
        let url = match crate::db::resolve_url(&unchecked, &no_args) {
            Ok(resolved) if resolved.source.is_explicit() => Ok(resolved.url),
            Ok(_) => Err(format!("{} is not set", environment.url_env)),
            Err(error) => Err(error.message),
        };
        let migrator = crate::db::configured(&in_env, history.clone());
        targets.push(Target { name: environment.name.clone(), url, migrator, schema: None });
    }
    Ok(targets)
}
