//! Commands that talk to a database: upgrade, downgrade, current, status,
//! stamp, sql, resolve; and the URL they use.

use std::io::Write;
use std::time::Instant;

use migrate_history::{Direction, History, Options, Problem, Range, Target};
use migrate_runtime::{Connection, DatabaseUrl, Dialect, Event, Migrator, Resolution, RunOptions, TransactionMode};
use serde_json::json;

use super::check::plural;
use crate::cli::{
    CurrentArgs, DbArgs, DialectArg, DowngradeArgs, MessageFormat, MigrationLockArgs, ResolveArgs, SqlArgs, StampArgs,
    TransactionArg, UpgradeArgs,
};
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::project::{Project, shown_path};
use crate::shell::{Shell, Verbosity};

/// A database URL and where it came from.
#[derive(Debug)]
pub struct ResolvedUrl {
    pub url: DatabaseUrl,
    /// `--database-url`, `DATABASE_URL`, `.env (DATABASE_URL)`, or the default.
    pub source: String,
    /// Whether the user chose it (anything but the embedded default).
    pub explicit: bool,
    /// For the default: other `*_DATABASE_URL` variables found in the
    /// environment or `.env`, which the user may have meant.
    pub others: Vec<String>,
    /// The SQLAlchemy driver dropped from the scheme (`psycopg2`).
    pub dropped_driver: Option<String>,
}

/// `--database-url`, else the configured environment variable, else `.env`
/// at the project root, else a SQLite file under `target/`.
pub(super) fn resolve_url(project: &Project, args: &DbArgs) -> Result<ResolvedUrl, CliError> {
    let var = &project.config.database_url_env;
    let parse = |text: &str, source: String| -> Result<ResolvedUrl, CliError> {
        let url = DatabaseUrl::parse(text.trim()).map_err(|e| url_error(&e, &source))?;
        let dropped_driver = migrate_runtime::sqlalchemy_driver(text.trim()).map(str::to_owned);
        Ok(ResolvedUrl { url, source, explicit: true, others: Vec::new(), dropped_driver })
    };
    let other = |key: &str, value: &str| key != var && key.ends_with("DATABASE_URL") && !value.trim().is_empty();
    let mut others: Vec<String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, v)| other(k, v))
        .map(|(k, _)| format!("the environment variable {k}"))
        .collect();
    others.sort();
    if let Some(text) = &args.database_url {
        return parse(text, "--database-url".into());
    }
    if let Some(text) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
        return parse(&text, format!("the environment variable {var}"));
    }
    let dotenv = project.base.join(".env");
    if dotenv.is_file() {
        let entries = dotenvy::from_path_iter(&dotenv).map_err(|e| {
            CliError::usage(format!("could not read {}: {e}", dotenv.display()))
                .with_help("lines of .env look like KEY=value")
        })?;
        for (index, entry) in entries.enumerate() {
            // dotenvy's error quotes the line, which may hold a secret: say where, not what.
            let (key, value) = entry.map_err(|_| {
                CliError::usage(format!("{}: entry {} is not KEY=VALUE", shown_path(&dotenv).display(), index + 1))
                    .with_help("quote values with spaces or special characters: KEY=\"value\"")
            })?;
            if &key == var && !value.trim().is_empty() {
                return parse(&value, format!("{var} in {}", shown_path(&dotenv).display()));
            }
            if other(&key, &value) {
                others.push(format!("{key} in {}", shown_path(&dotenv).display()));
            }
        }
    }
    let path = project.base.join("target").join("cargo-migrate").join("dev.sqlite3");
    Ok(ResolvedUrl {
        url: DatabaseUrl::Sqlite { path: Some(shown_path(&path)) },
        source: format!("the default: no --database-url, and no {var} in the environment or .env"),
        explicit: false,
        others,
        dropped_driver: None,
    })
}

/// The URL of a command that uses a database, refusing what the user cannot
/// have meant: the SQLite default while another `*_DATABASE_URL` is set, or
/// a database of another dialect than the history's `dialect` setting (not
/// checked for an offline script from the default URL, whose dialect is then
/// the setting's). With `-v`, says that a SQLAlchemy driver was dropped.
pub(super) fn chosen_url(
    shell: &mut Shell,
    project: &Project,
    args: &DbArgs,
    offline: bool,
) -> Result<ResolvedUrl, CliError> {
    let resolved = resolve_url(project, args)?;
    let var = &project.config.database_url_env;
    if let Some(first) = resolved.others.first() {
        let name = first.split_whitespace().find(|w| w.ends_with("DATABASE_URL")).unwrap_or(first);
        return Err(CliError::usage(format!(
            "no database URL is configured ({var} is not set), but {} holds one",
            resolved.others.join(" and ")
        ))
        .with_help(format!(
            "to use it, add `database-url-env = \"{name}\"` to [package.metadata.migrate] in Cargo.toml (or pass --database-url); for the SQLite default, pass --database-url {}",
            resolved.url.redacted()
        )));
    }
    if let Some(driver) = &resolved.dropped_driver
        && shell.verbosity() >= Verbosity::Verbose
    {
        shell.note(format!(
            "{} names the SQLAlchemy driver `{driver}`; cargo-migrate uses its own driver and reads the URL as {}",
            resolved.source,
            resolved.url.redacted()
        ))?;
    }
    if let Some(dialect) = project.config.dialect
        && dialect != resolved.url.dialect()
        && (resolved.explicit || !offline)
    {
        return Err(wrong_dialect(project, &resolved, dialect));
    }
    Ok(resolved)
}

/// A database of another kind than the history's `dialect` setting.
fn wrong_dialect(project: &Project, resolved: &ResolvedUrl, dialect: Dialect) -> CliError {
    let setting = match dialect {
        Dialect::Postgres => "postgres",
        Dialect::Sqlite => "sqlite",
    };
    let example = match dialect {
        Dialect::Postgres => "postgres://user@host:5432/db",
        Dialect::Sqlite => "sqlite:path/to/file.db",
    };
    CliError::usage(format!(
        "the history is written for {} (`dialect = \"{setting}\"` in [package.metadata.migrate]), but the database is {}: {} (from {})",
        dialect.name(),
        resolved.url.dialect().name(),
        resolved.url.redacted(),
        resolved.source
    ))
    .with_help(format!(
        "set {} to a {} URL, or pass --database-url {example}",
        project.config.database_url_env,
        dialect.name()
    ))
}

/// A URL that does not parse, with where it came from and the fix.
pub(super) fn url_error(error: &migrate_runtime::UrlError, source: &str) -> CliError {
    CliError::usage(format!("{error} (from {source})")).with_help(error.help().unwrap_or_else(|| {
        "URLs look like postgres://user:password@host:5432/db?sslmode=require or sqlite:path/to/file.db".into()
    }))
}

/// The history, refusing one with problems (drafts are fine here).
fn migrator(shell: &mut Shell, project: &Project) -> Result<Migrator, CliError> {
    let options = Options { allow_multiple_heads: project.config.allow_multiple_heads, require_pinned: false };
    let analysis = project.analyze(options);
    let errors: Vec<_> = analysis.errors().collect();
    if !errors.is_empty() {
        for d in &errors {
            shell.diagnostic(d)?;
        }
        return Err(CliError {
            message: format!("the history has {} problem(s); fix them before touching a database", errors.len()),
            help: Some("`cargo migrate check` lists them".into()),
            exit_code: exit::CHECK_FAILED,
        });
    }
    Ok(configured(project, analysis.history))
}

/// A migrator with the project's version-table settings.
pub(super) fn configured(project: &Project, history: History) -> Migrator {
    let mut migrator = Migrator::new(history);
    if let Some(table) = &project.config.version_table {
        migrator = migrator.version_table(table);
    }
    if let Some(schema) = &project.config.version_schema {
        migrator = migrator.version_schema(schema);
    }
    migrator
}

/// The migrator with the lock settings of a command that takes the lock.
fn locking(migrator: Migrator, lock: &MigrationLockArgs) -> Migrator {
    match lock.lock_timeout {
        Some(timeout) => migrator.lock_timeout(timeout),
        None => migrator,
    }
}

/// Says that the run waits for another migrator (stamp and resolve print nothing else).
fn waiting(shell: &mut Shell, holder: Option<&str>, timeout: Option<std::time::Duration>) -> std::io::Result<()> {
    let holder = holder.map_or_else(|| "another process".to_owned(), |h| format!("`{h}`"));
    let limit = timeout.map_or_else(
        || " (as long as it takes; `--lock-timeout` sets a limit)".to_owned(),
        |t| format!(" (at most {})", humantime::format_duration(t)),
    );
    shell.status("Waiting", format!("for the migration lock, held by {holder}{limit}"))
}

/// Connects, refusing transaction poolers where session locks do not hold.
pub(super) fn connect(url: &DatabaseUrl) -> Result<Connection, CliError> {
    refuse_pooler(url)?;
    migrate_runtime::connect(url).map_err(connect_error)
}

/// Connects for a command that only reads, creating nothing: a SQLite file
/// that does not exist yet reads as an empty database (`false`).
pub(super) fn connect_to_read(url: &DatabaseUrl) -> Result<(Connection, bool), CliError> {
    refuse_pooler(url)?;
    match migrate_runtime::connect_existing(url).map_err(connect_error)? {
        Some(connection) => Ok((connection, true)),
        None => Ok((connect(&DatabaseUrl::Sqlite { path: None })?, false)),
    }
}

fn refuse_pooler(url: &DatabaseUrl) -> Result<(), CliError> {
    match url {
        DatabaseUrl::Postgres(pg) if pg.is_transaction_pooler() => Err(CliError::usage(format!(
            "{} is a connection pooler in transaction mode, where the migration lock (a session advisory lock) does not hold",
            pg.host
        ))
        .with_help(format!("migrate through the direct endpoint: replace the host with {}", pg.direct_host()))),
        _ => Ok(()),
    }
}

fn connect_error(error: migrate_runtime::ConnectError) -> CliError {
    let mut cli = CliError::failure(error.message);
    cli.help = error.help;
    cli
}

fn engine_error(error: migrate_runtime::Error) -> CliError {
    use migrate_runtime::{Error, FailureKind};
    // The library's help names `RunOptions` fields; here the flags and commands.
    let help = match &error {
        Error::Drift { .. } => Some(
            "an applied revision must not change: restore the file, or pass `--allow-modified` if the change is deliberate and harmless".into(),
        ),
        Error::UnknownRevisions { older_than: None, .. } => Some(
            "the database is ahead of this checkout: pull the missing revisions, or pass `--allow-newer` to upgrade anyway (they were all applied after every revision this history has)".into(),
        ),
        Error::UnknownRevisions { older_than: Some(_), .. } => Some(
            "the database's history differs from this checkout's: pull the missing revisions, or `cargo migrate stamp` the database if they were removed on purpose".into(),
        ),
        Error::Statement { kind: FailureKind::AlreadyExists, recorded_failure: false, downgrade: false, id, .. } => {
            Some(format!(
                "nothing of this revision was applied; if the database already has what it creates (made by hand or by another tool), check with `cargo migrate diff` that its schema matches the history, then record the revision without running it: `cargo migrate stamp {id}`; otherwise fix the revision"
            ))
        }
        Error::Statement { recorded_failure: true, id, downgrade: false, .. } => Some(format!(
            "the revision ran outside a transaction, so the statements before the failing one are in effect; finish or undo them by hand, then run `cargo migrate resolve {id} --applied` or `--rolled-back`"
        )),
        Error::Statement { recorded_failure: true, id, downgrade: true, .. } => Some(format!(
            "the down section ran outside a transaction, so the statements before the failing one are in effect; finish or undo them by hand, then run `cargo migrate resolve {id} --rolled-back` (the revision is reverted) or `--applied` (it is not)"
        )),
        Error::Unsettled { id, state, .. } => Some(format!(
            "{} in an earlier run, outside a transaction; finish or undo its statements by hand, then `cargo migrate resolve {id} --applied` (it is in effect) or `--rolled-back` (it is not)",
            if *state == migrate_runtime::version_table::State::Failed {
                "it failed part-way"
            } else {
                "it was interrupted part-way (the process died or was killed)"
            }
        )),
        Error::NotTransactional { .. } => Some("use the default `--transaction per-revision`".into()),
        Error::NotFailed { .. } => Some("`cargo migrate status` lists failed revisions".into()),
        Error::LockTimeout { .. } => {
            Some("another migration is running; wait for it, or raise `--lock-timeout`".into())
        }
        Error::Interrupted { .. } => Some("what ran before the stop is committed (or, in one transaction, rolled back); run the same command again to go on".into()),
        Error::NoSchema => {
            Some("set `version-schema` in [package.metadata.migrate], or fix the role's search_path".into())
        }
        _ => error.help(),
    };
    let mut cli = match &error {
        migrate_runtime::Error::Target(_) | migrate_runtime::Error::NotFailed { .. } => {
            CliError::usage(error.to_string())
        }
        migrate_runtime::Error::Interrupted { .. } => {
            CliError { message: error.to_string(), help: None, exit_code: exit::INTERRUPTED }
        }
        migrate_runtime::Error::NotTransactional { id, path } => CliError::failure(format!(
            "revision `{id}` ({path}) has `transaction: false`, so it cannot run inside `--transaction all`"
        )),
        _ => CliError::failure(error.to_string()),
    };
    cli.help = help;
    cli
}

fn target(text: &str) -> Result<Target, CliError> {
    Ok(Target::parse(text)?)
}

pub fn upgrade(shell: &mut Shell, project: &Project, args: &UpgradeArgs) -> CliResult {
    let migrator = locking(migrator(shell, project)?, &args.lock);
    let resolved = chosen_url(shell, project, &args.db, args.sql)?;
    if args.sql {
        let dialect = offline_dialect(project, &resolved);
        return offline(shell, &migrator, dialect, Direction::Upgrade, &args.target, Some(&resolved));
    }
    let options = RunOptions {
        transaction: match args.transaction {
            TransactionArg::PerRevision => TransactionMode::PerRevision,
            TransactionArg::All => TransactionMode::All,
        },
        dry_run: args.dry_run,
        allow_modified: args.allow_modified,
        allow_newer: args.allow_newer,
    };
    run(
        shell,
        migrator,
        &resolved,
        Direction::Upgrade,
        &target(&args.target)?,
        options,
        args.strict,
        args.format.message_format,
    )
}

pub fn downgrade(shell: &mut Shell, project: &Project, args: &DowngradeArgs) -> CliResult {
    let migrator = locking(migrator(shell, project)?, &args.lock);
    let resolved = chosen_url(shell, project, &args.db, args.sql)?;
    if args.sql {
        let dialect = offline_dialect(project, &resolved);
        return offline(shell, &migrator, dialect, Direction::Downgrade, &args.target, Some(&resolved));
    }
    let options = RunOptions { dry_run: args.dry_run, allow_modified: args.allow_modified, ..RunOptions::default() };
    run(
        shell,
        migrator,
        &resolved,
        Direction::Downgrade,
        &target(&args.target)?,
        options,
        args.strict,
        args.format.message_format,
    )
}

#[allow(clippy::too_many_arguments)]
fn run(
    shell: &mut Shell,
    migrator: Migrator,
    resolved: &ResolvedUrl,
    direction: Direction,
    target: &Target,
    options: RunOptions,
    strict: bool,
    format: MessageFormat,
) -> CliResult {
    let mut connection = match &resolved.url {
        // A dry run leaves nothing behind, not even an empty database file:
        // a SQLite file that does not exist yet is an empty database.
        DatabaseUrl::Sqlite { path: Some(path) } if options.dry_run && !path.exists() => {
            connect(&DatabaseUrl::Sqlite { path: None })?
        }
        url => connect(url)?,
    };
    // The first Ctrl-C lets the revision in progress finish and be recorded.
    let (graceful, stop) = crate::interrupt::Graceful::enter();
    let migrator = migrator.stop_when(stop);
    let started = Instant::now();
    let mut output_error = None;
    // On a terminal, a spinner with the elapsed time while a revision runs:
    // long data migrations show they are alive.
    let animate = format == MessageFormat::Human
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
        && shell.verbosity() > crate::shell::Verbosity::Quiet;
    let mut spinner: Option<indicatif::ProgressBar> = None;
    let verbose = shell.verbosity() >= Verbosity::Verbose;
    let mut events = |event: Event<'_>| {
        graceful.waiting(matches!(event, Event::WaitingForLock { .. }));
        let quiet_event = matches!(event, Event::Statement { .. }) && !verbose;
        if !quiet_event && let Some(bar) = spinner.take() {
            bar.finish_and_clear();
        }
        if let (true, Event::Started { revision, .. }) = (animate, &event) {
            let bar = indicatif::ProgressBar::new_spinner().with_message(revision.id.clone());
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} running for {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(250));
            spinner = Some(bar);
        }
        let written = match (event, format) {
            (Event::Started { revision, direction }, MessageFormat::Human) => {
                let verb = if direction == Direction::Upgrade { "Applying" } else { "Reverting" };
                shell.status(verb, format!("{} {}", revision.id, revision.message))
            }
            (Event::Finished { revision, direction, elapsed }, MessageFormat::Json) => {
                let object = json!({
                    "reason": if direction == Direction::Upgrade { "revision-applied" } else { "revision-reverted" },
                    "id": revision.id,
                    "message": revision.message,
                    "path": revision.file.path,
                    "elapsed_ms": elapsed.as_secs_f64() * 1000.0,
                    "dry_run": options.dry_run,
                });
                writeln!(shell.out(), "{object}")
            }
            (Event::Statement { sql, .. }, MessageFormat::Human) if verbose => {
                shell.status("Executing", sql.replace('\n', "\n             "))
            }
            (Event::AlreadyDone { revision }, MessageFormat::Human) => {
                shell.status("Skipping", format!("{} (another migrator applied it meanwhile)", revision.id))
            }
            (Event::NotExecuted { revision, because_of: None }, MessageFormat::Human) => shell.warn(format!(
                "{} was not executed: it has `transaction: false`, which cannot run inside the dry run's transaction",
                revision.id
            )),
            (Event::NotExecuted { revision, because_of: Some(root) }, MessageFormat::Human) => shell.warn(format!(
                "{} was not executed: it builds on {}, which has `transaction: false` and was not executed",
                revision.id, root.id
            )),
            (Event::NotExecuted { revision, because_of }, MessageFormat::Json) => {
                let object = json!({
                    "reason": "revision-not-executed",
                    "id": revision.id,
                    "path": revision.file.path,
                    "because_of": because_of.map(|r| &r.id),
                });
                writeln!(shell.out(), "{object}")
            }
            (Event::WaitingForLock { holder, timeout }, MessageFormat::Human) => waiting(shell, holder, timeout),
            (Event::WaitingForLock { holder, timeout }, MessageFormat::Json) => {
                let object = json!({
                    "reason": "waiting-for-lock",
                    "holder": holder,
                    "timeout_ms": timeout.map(|t| t.as_millis()),
                });
                writeln!(shell.out(), "{object}")
            }
            _ => Ok(()),
        };
        if let Err(e) = written {
            output_error.get_or_insert(e);
        }
    };
    let run = match direction {
        Direction::Upgrade => migrator.upgrade(target),
        Direction::Downgrade => migrator.downgrade(target),
    };
    let result = run.options(options).observe(&mut events).apply(connection.database());
    if let Some(bar) = spinner.take() {
        bar.finish_and_clear();
    }
    if let Err(migrate_runtime::Error::Interrupted { done }) = &result {
        let state = migrator.state(connection.database()).map_err(engine_error)?;
        let at = describe_heads(&state.heads);
        let verb = if direction == Direction::Upgrade { "applied" } else { "reverted" };
        let rolled_back = if options.dry_run || options.transaction == TransactionMode::All {
            "; everything was rolled back (one transaction)"
        } else {
            ""
        };
        shell.status(
            "Interrupted",
            format!(
                "{done} revision{} {verb}{rolled_back}; the database is at {at}; run the same command again to go on",
                plural(*done)
            ),
        )?;
        return Ok(exit::INTERRUPTED);
    }
    // The migration's own failure matters more than a closed stdout.
    let report = result.map_err(engine_error)?;
    if let Some(e) = output_error {
        return Err(e.into());
    }
    let elapsed = started.elapsed();
    let count = report.ran().len();
    let skipped = report.not_executed.len();
    let state = migrator.state(connection.database()).map_err(engine_error)?;
    let at = describe_heads(&state.heads);
    match format {
        MessageFormat::Json => {
            let not_executed: Vec<_> =
                report.not_executed.iter().map(|n| json!({ "id": n.id, "because_of": n.because_of })).collect();
            let summary = json!({
                "reason": "migration-finished",
                "direction": if direction == Direction::Upgrade { "upgrade" } else { "downgrade" },
                "revisions": count,
                "dry_run": report.dry_run,
                "not_executed": not_executed,
                "current": state.heads,
                "elapsed_ms": elapsed.as_secs_f64() * 1000.0,
            });
            writeln!(shell.out(), "{summary}")?;
        }
        MessageFormat::Human if report.dry_run => {
            let not_executed = if skipped == 0 {
                String::new()
            } else {
                format!("; {skipped} revision{} not executed (see the warnings above)", plural(skipped))
            };
            shell.status(
                "Dry run",
                format!(
                    "executed {count} revision{} in {:.0?} and rolled everything back: nothing was committed{not_executed}",
                    plural(count),
                    elapsed
                ),
            )?;
        }
        MessageFormat::Human if count == 0 => {
            shell.status("Fresh", format!("nothing to do; the database is at {at}"))?
        }
        MessageFormat::Human => {
            let verb = if direction == Direction::Upgrade { "applied" } else { "reverted" };
            shell.status(
                "Finished",
                format!("{count} revision{} {verb} in {elapsed:.0?}; the database is at {at}", plural(count)),
            )?
        }
    }
    if strict && skipped > 0 {
        return Err(CliError {
            message: format!(
                "--strict: the dry run could not execute {skipped} revision{}",
                plural(skipped)
            ),
            help: Some("`transaction: false` revisions cannot be rolled back; review their SQL with `cargo migrate upgrade --sql`".into()),
            exit_code: exit::CHECK_FAILED,
        });
    }
    Ok(exit::OK)
}

fn describe_heads(heads: &[String]) -> String {
    if heads.is_empty() { "base".to_owned() } else { heads.join(", ") }
}

/// An offline script's dialect: a URL's the user chose, else the `dialect`
/// setting, else the default URL's.
fn offline_dialect(project: &Project, resolved: &ResolvedUrl) -> Dialect {
    match project.config.dialect {
        Some(dialect) if !resolved.explicit => dialect,
        _ => resolved.url.dialect(),
    }
}

/// `upgrade --sql`, `downgrade --sql`, `sql`: a script on stdout. No
/// connection, unless the range starts at `current`: then the database
/// (`database`) says where that is.
fn offline(
    shell: &mut Shell,
    migrator: &Migrator,
    dialect: Dialect,
    direction: Direction,
    text: &str,
    database: Option<&ResolvedUrl>,
) -> CliResult {
    let range = Range::parse(text)?;
    let script = match direction {
        Direction::Upgrade => migrator.script(&range, dialect),
        Direction::Downgrade => migrator.undo_script(&range, dialect),
    };
    let script = match (script, database) {
        (Err(migrate_runtime::Error::ScriptNeedsDatabase), Some(resolved)) => {
            let (mut connection, _) = connect_to_read(&resolved.url)?;
            migrator.script_from(connection.database(), direction, &range)
        }
        (script, _) => script,
    };
    let script = script.map_err(|error| match error {
        migrate_runtime::Error::ScriptNeedsDatabase => {
            CliError::usage(format!("`{text}` starts at `current`, which needs a database"))
                .with_help("drop --dialect, so that the database URL says both the dialect and where it is")
        }
        migrate_runtime::Error::ScriptNeedsStart => CliError::usage(format!(
            "`downgrade --sql {text}` needs a starting point"
        ))
        .with_help("offline, the database is not asked where it is: write FROM:TO, such as `head:base` or `head:-1`"),
        migrate_runtime::Error::Target(e) => e.into(),
        migrate_runtime::Error::Plan(e) => CliError::usage(e.to_string()).with_help(e.help()),
        other => engine_error(other),
    })?;
    write!(shell.out(), "{script}")?;
    Ok(exit::OK)
}

pub fn sql(shell: &mut Shell, project: &Project, args: &SqlArgs) -> CliResult {
    let migrator = migrator(shell, project)?;
    let chosen = match args.dialect {
        Some(DialectArg::Sqlite) => Some(Dialect::Sqlite),
        Some(DialectArg::Postgres) => Some(Dialect::Postgres),
        None => None,
    };
    if let (Some(chosen), Some(setting)) = (chosen, project.config.dialect)
        && chosen != setting
    {
        return Err(CliError::usage(format!(
            "--dialect {} contradicts the history's `dialect` setting ({})",
            chosen.name(),
            setting.name()
        ))
        .with_help("the revisions are written for one database; drop --dialect"));
    }
    let (dialect, resolved) = match chosen {
        Some(dialect) if !args.range.starts_with("current") => (dialect, None),
        Some(dialect) => (dialect, Some(chosen_url(shell, project, &args.db, true)?)),
        None => {
            let resolved = chosen_url(shell, project, &args.db, true)?;
            (offline_dialect(project, &resolved), Some(resolved))
        }
    };
    offline(shell, &migrator, dialect, Direction::Upgrade, &args.range, resolved.as_ref())
}

pub fn current(shell: &mut Shell, project: &Project, args: &CurrentArgs) -> CliResult {
    let migrator = migrator(shell, project)?;
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let (mut connection, _) = connect_to_read(&resolved.url)?;
    let state = migrator.state(connection.database()).map_err(engine_error)?;
    let history = migrator.history();
    let out = shell.out();
    for id in &state.heads {
        let index = history.index_of(id).expect("a head the state names is in the history");
        let rev = history.revision(index);
        let head = if history.is_head(index) { " (head)" } else { "" };
        match args.format.message_format {
            MessageFormat::Json => {
                let row = state.rows.iter().find(|r| r.revision == rev.id);
                let object = json!({
                    "reason": "current",
                    "id": rev.id,
                    "message": rev.message,
                    "head": history.is_head(index),
                    "in_history": true,
                    "state": row.map(|r| r.state.as_str()),
                    "applied_at": row.map(|r| &r.applied_at),
                    "applied_by": row.and_then(|r| r.applied_by.as_ref()),
                });
                writeln!(out, "{object}")?;
            }
            MessageFormat::Human => writeln!(out, "{}{head}, {}", rev.id, rev.message)?,
        }
    }
    // Revisions the history does not have are where the database is too.
    for row in &state.unknown {
        match args.format.message_format {
            MessageFormat::Json => {
                let object = json!({
                    "reason": "current",
                    "id": row.revision,
                    "message": row.message,
                    "head": null,
                    "in_history": false,
                    "state": row.state.as_str(),
                    "applied_at": row.applied_at,
                    "applied_by": row.applied_by,
                });
                writeln!(out, "{object}")?;
            }
            MessageFormat::Human => writeln!(out, "{} (not in this history), {}", row.revision, row.message)?,
        }
    }
    if args.verbose && args.format.message_format == MessageFormat::Human {
        writeln!(out)?;
        for row in &state.rows {
            writeln!(
                out,
                "{}  {:<8} {}  {}  {}",
                row.revision,
                row.state.as_str(),
                row.applied_at,
                row.applied_by.as_deref().unwrap_or("-"),
                row.execution_ms.map_or("-".to_owned(), |ms| format!("{ms} ms"))
            )?;
        }
    }
    Ok(exit::OK)
}

pub fn status(shell: &mut Shell, project: &Project, args: &DbArgs) -> CliResult {
    let migrator = migrator(shell, project)?;
    let resolved = chosen_url(shell, project, args, false)?;
    let history = migrator.history();
    writeln!(shell.out(), "database:      {} (from {})", resolved.url.redacted(), resolved.source)?;
    let (mut connection, exists) = connect_to_read(&resolved.url)?;
    let version = connection.server_version();
    let encryption = connection.encryption();
    let dialect = connection.dialect();
    let state = migrator.state(connection.database()).map_err(engine_error)?;
    let table = migrator.table(dialect);
    let out = shell.out();
    if exists {
        writeln!(out, "connection:    ok ({version})")?;
    } else {
        writeln!(out, "connection:    the SQLite file does not exist yet: nothing applied")?;
    }
    if let DatabaseUrl::Postgres(pg) = &resolved.url {
        let session = match &encryption {
            Some(e) if e.encrypted => format!(
                "the session is encrypted ({})",
                [e.protocol.as_deref(), e.cipher.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ")
            ),
            Some(_) => "the session is not encrypted".to_owned(),
            None => "the server does not say whether the session is encrypted".to_owned(),
        };
        writeln!(out, "tls:           sslmode={}; {session}", pg.ssl_mode.as_str())?;
    }
    writeln!(
        out,
        "version table: {}{}",
        table.display_name(),
        if state.table_exists() { "" } else { " (not created yet: nothing applied)" }
    )?;
    writeln!(out, "current:       {}", describe_heads(&state.heads))?;
    let pending = &state.pending;
    writeln!(
        out,
        "pending:       {}",
        if pending.is_empty() {
            "none".to_owned()
        } else {
            format!("{} revision{}", pending.len(), plural(pending.len()))
        }
    )?;
    for id in pending {
        let rev = history.revision(history.index_of(id).expect("a pending revision is in the history"));
        writeln!(out, "  {} {}", rev.id, rev.message)?;
    }
    writeln!(out, "drifted:       {}", if state.drift.is_empty() { "none" } else { "" })?;
    for d in &state.drift {
        writeln!(out, "  {} {}: applied with {}, the file now has {}", d.id, d.path, d.recorded, d.actual)?;
    }
    writeln!(out, "failed:        {}", if state.failed.is_empty() { "none" } else { "" })?;
    for row in &state.failed {
        writeln!(out, "  {} {}", row.revision, row.error.as_deref().unwrap_or(""))?;
    }
    if !state.unknown.is_empty() {
        writeln!(out, "unknown:       revisions the history does not have")?;
        for row in &state.unknown {
            writeln!(out, "  {} {}", row.revision, row.message)?;
        }
    }
    Ok(exit::OK)
}

pub fn stamp(shell: &mut Shell, project: &Project, args: &StampArgs) -> CliResult {
    let migrator = locking(migrator(shell, project)?, &args.lock);
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let mut connection = connect(&resolved.url)?;
    let mut events = |event: Event<'_>| {
        if let Event::WaitingForLock { holder, timeout } = event {
            let _ = waiting(shell, holder, timeout);
        }
    };
    let stamped = migrator
        .stamp_observed(connection.database(), &target(&args.target)?, args.purge, &mut events)
        .map_err(engine_error)?;
    let (added, removed) = (stamped.added.len(), stamped.removed.len());
    let state = migrator.state(connection.database()).map_err(engine_error)?;
    shell.status(
        "Stamped",
        format!(
            "the database is at {} (recorded {added}, removed {removed}; nothing was executed)",
            describe_heads(&state.heads)
        ),
    )?;
    Ok(exit::OK)
}

pub fn resolve(shell: &mut Shell, project: &Project, args: &ResolveArgs) -> CliResult {
    let migrator = locking(migrator(shell, project)?, &args.lock);
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let mut connection = connect(&resolved.url)?;
    let mut events = |event: Event<'_>| {
        if let Event::WaitingForLock { holder, timeout } = event {
            let _ = waiting(shell, holder, timeout);
        }
    };
    let resolution = if args.applied { Resolution::Applied } else { Resolution::RolledBack };
    migrator.resolve_observed(connection.database(), &args.rev, resolution, &mut events).map_err(engine_error)?;
    let what = if args.applied { "recorded as applied" } else { "forgotten (rolled back by hand)" };
    shell.status("Resolved", format!("{} {what}", args.rev))?;
    Ok(exit::OK)
}

/// The database part of `check`: pending, drifted, failed or unknown
/// revisions, as diagnostics. Only for a URL the user chose, not the default.
pub(super) fn check_database(
    project: &Project,
    history: History,
    resolved: &ResolvedUrl,
) -> Result<Vec<migrate_history::Diagnostic>, CliError> {
    if !resolved.explicit {
        return Ok(Vec::new());
    }
    let migrator = configured(project, history);
    let (mut connection, _) = connect_to_read(&resolved.url)?;
    let state = migrator.state(connection.database()).map_err(engine_error)?;
    let history = migrator.history();
    let database = resolved.url.redacted();
    let error = |path: &str, problem: Problem| migrate_history::Diagnostic::error(path, None, problem);
    let mut problems = Vec::new();
    for id in &state.pending {
        let rev = history.revision(history.index_of(id).expect("a pending revision is in the history"));
        let problem = Problem::PendingInDatabase { id: rev.id.clone(), database: database.clone() };
        problems.push(error(&rev.file.path.display().to_string(), problem));
    }
    for d in &state.drift {
        let problem = Problem::DriftedInDatabase {
            id: d.id.clone(),
            database: database.clone(),
            recorded: d.recorded.clone(),
            actual: d.actual.clone(),
        };
        problems.push(error(&d.path, problem));
    }
    for row in &state.failed {
        let problem = Problem::FailedInDatabase {
            id: row.revision.clone(),
            database: database.clone(),
            error: row.error.clone().unwrap_or_default(),
        };
        problems.push(error(&database, problem));
    }
    for row in &state.unknown {
        problems.push(error(
            &database,
            Problem::UnknownInDatabase { id: row.revision.clone(), database: database.clone() },
        ));
    }
    Ok(problems)
}
