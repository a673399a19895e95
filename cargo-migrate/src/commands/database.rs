//! Commands that talk to a database: upgrade, downgrade, current, status,
//! stamp, sql, resolve.

use std::io::Write;
use std::time::Instant;

use migrate_history::{Direction, Range, Target};
use migrate_runtime::source::ResolvedUrl;
use migrate_runtime::{DatabaseUrl, Dialect, Event, Migrator, Resolution, RunOptions, TransactionMode};
use serde_json::json;

use crate::cli::{
    CurrentArgs, DbArgs, DialectArg, DowngradeArgs, MessageFormat, MigrationLockArgs, ResolveArgs, SqlArgs, StampArgs,
    TransactionArg, UpgradeArgs,
};
use crate::db::{chosen_url, connect, connect_to_read, describe_heads, engine_error, migrator};
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::project::Project;
use crate::shell::{Shell, Verbosity, plural};

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

/// An offline script's dialect: a URL's the user chose, else the `dialect`
/// setting, else the default URL's.
fn offline_dialect(project: &Project, resolved: &ResolvedUrl) -> Dialect {
    match project.config.dialect {
        Some(dialect) if !resolved.source.is_explicit() => dialect,
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
