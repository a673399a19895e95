//! `upgrade`, `downgrade` and `sql`: a run against a database, or its
//! offline script. Progress as status lines or JSON messages, and inside
//! GitHub Actions a job summary of what ran, or of what failed and how to
//! roll back.

use std::io::Write;
use std::time::{Duration, Instant};

use migrate_history::{Direction, Range, Target};
use migrate_runtime::source::ResolvedUrl;
use migrate_runtime::{DatabaseUrl, Dialect, Event, Migrator, Report, RunOptions, TransactionMode};

use crate::cli::{DialectArg, DowngradeArgs, SqlArgs, TransactionArg, UpgradeArgs};
use crate::db::{
    chosen_url, connect, connect_to_read, describe_heads, engine_error, locking, migrator, taken_over, waiting,
};
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::github::{Summary, cell, command_prefix, environment_note};
use crate::project::Project;
use crate::report::{Message, NotExecutedInfo, RanInfo};
use crate::shell::{Shell, Verbosity, plural};

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
    let run = Request { direction: Direction::Upgrade, target: &args.target, options, strict: args.strict };
    run.execute(shell, migrator, &resolved)
}

pub fn downgrade(shell: &mut Shell, project: &Project, args: &DowngradeArgs) -> CliResult {
    let migrator = locking(migrator(shell, project)?, &args.lock);
    let resolved = chosen_url(shell, project, &args.db, args.sql)?;
    if args.sql {
        let dialect = offline_dialect(project, &resolved);
        return offline(shell, &migrator, dialect, Direction::Downgrade, &args.target, Some(&resolved));
    }
    let options = RunOptions { dry_run: args.dry_run, allow_modified: args.allow_modified, ..RunOptions::default() };
    let run = Request { direction: Direction::Downgrade, target: &args.target, options, strict: args.strict };
    run.execute(shell, migrator, &resolved)
}

/// One `upgrade` or `downgrade` as the command line asked for it.
struct Request<'a> {
    direction: Direction,
    target: &'a str,
    options: RunOptions,
    strict: bool,
}

/// What a run found, for its closing line, JSON and summary.
struct Outcome<'a> {
    report: Option<&'a Report>,
    error: Option<&'a CliError>,
    before: Option<&'a [String]>,
    after: &'a [String],
    elapsed: Duration,
}

impl Request<'_> {
    fn verb(&self) -> &'static str {
        if self.direction == Direction::Upgrade { "upgrade" } else { "downgrade" }
    }

    fn execute(&self, shell: &mut Shell, migrator: Migrator, resolved: &ResolvedUrl) -> CliResult {
        let target = Target::parse(self.target)?;
        let options = self.options;
        let mut connection = match &resolved.url {
            // A dry run leaves nothing behind, not even an empty database file:
            // a SQLite file that does not exist yet is an empty database.
            DatabaseUrl::Sqlite { path: Some(path) } if options.dry_run && !path.exists() => {
                connect(&DatabaseUrl::Sqlite { path: None })?
            }
            url => connect(url)?,
        };
        // Where the database was, for the summary and JSON (one query more there only).
        let summary = Summary::start(&format!("cargo migrate {}", self.verb()));
        let before = match summary.is_some() || shell.json() {
            true => Some(migrator.state(connection.database()).map_err(engine_error)?.heads),
            false => None,
        };
        // The first Ctrl-C lets the revision in progress finish and be recorded.
        let (graceful, stop) = crate::interrupt::Graceful::enter();
        let migrator = crate::db::heartbeat(migrator.stop_when(stop), &resolved.url);
        let started = Instant::now();
        let mut output_error = None;
        // On a terminal, a spinner with the elapsed time while a revision runs:
        // long data migrations show they are alive.
        let animate = !shell.json()
            && std::io::IsTerminal::is_terminal(&std::io::stderr())
            && shell.verbosity() > Verbosity::Quiet;
        let mut spinner: Option<indicatif::ProgressBar> = None;
        let mut events = |event: Event<'_>| {
            graceful.waiting(matches!(event, Event::WaitingForLock { .. }));
            let quiet_event = matches!(event, Event::Statement { .. }) && shell.verbosity() < Verbosity::Verbose;
            if !quiet_event && let Some(bar) = spinner.take() {
                bar.finish_and_clear();
            }
            if let (true, Event::Started { revision, .. }) = (animate, &event) {
                let bar = indicatif::ProgressBar::new_spinner().with_message(revision.id.clone());
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} {msg} running for {elapsed}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(250));
                spinner = Some(bar);
            }
            if let Err(e) = progress(shell, event, options.dry_run) {
                output_error.get_or_insert(e);
            }
        };
        let run = match self.direction {
            Direction::Upgrade => migrator.upgrade(&target),
            Direction::Downgrade => migrator.downgrade(&target),
        };
        let result = run.options(options).observe(&mut events).apply(connection.database());
        if let Some(bar) = spinner.take() {
            bar.finish_and_clear();
        }
        let elapsed = started.elapsed();
        // Where the database is now: the report says it; after a failure
        // it is asked (the failure matters more than a state that cannot be read).
        let after = match &result {
            Ok(report) => report.heads.clone(),
            Err(_) => migrator.state(connection.database()).map(|s| s.heads).unwrap_or_default(),
        };
        if let Err(migrate_runtime::Error::Interrupted { done }) = &result {
            let at = describe_heads(&after);
            let verb = if self.direction == Direction::Upgrade { "applied" } else { "reverted" };
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
        if let Err(migrate_runtime::Error::Statement { path, line, id, message, .. }) = &result {
            shell.annotate_error(path, *line, &format!("revision `{id}` failed: {message}"))?;
        }
        if let Err(error) = &result {
            shell.error_places(crate::render::engine_error(error));
        }
        let (report, error) = match result {
            Ok(report) => (Some(report), None),
            Err(error) => (None, Some(engine_error(error))),
        };
        let outcome = Outcome {
            report: report.as_ref(),
            error: error.as_ref(),
            before: before.as_deref(),
            after: &after,
            elapsed,
        };
        if let Some(mut summary) = summary {
            self.summarize(&mut summary, &migrator, resolved, &outcome);
            if let Err(e) = summary.write() {
                shell.warn(format!("could not write the job summary: {e}"))?;
            }
        }
        // The migration's own failure matters more than a closed stdout.
        if let Some(error) = error {
            return Err(error);
        }
        if let Some(e) = output_error {
            return Err(e.into());
        }
        let report = report.as_ref().expect("a run without an error has a report");
        self.finished(shell, report, &outcome)
    }

    /// The closing status line or `migration-finished` message, and `--strict`.
    fn finished(&self, shell: &mut Shell, report: &Report, outcome: &Outcome<'_>) -> CliResult {
        let count = report.ran().len();
        let skipped = report.not_executed.len();
        let at = describe_heads(outcome.after);
        let elapsed = outcome.elapsed;
        shell.emit(&Message::MigrationFinished {
            direction: self.verb(),
            revisions: count,
            dry_run: report.dry_run,
            not_executed: report
                .not_executed
                .iter()
                .map(|n| NotExecutedInfo { id: n.id.clone(), because_of: n.because_of.clone() })
                .collect(),
            before: outcome.before.unwrap_or_default().to_vec(),
            current: outcome.after.to_vec(),
            elapsed_ms: elapsed.as_secs_f64() * 1000.0,
        })?;
        // With JSON, the `migration-finished` message above says it all.
        if !shell.json() {
            let (verb, line) = if report.dry_run {
                let not_executed = if skipped == 0 {
                    String::new()
                } else {
                    format!("; {skipped} revision{} not executed (see the warnings above)", plural(skipped))
                };
                let line = format!(
                    "executed {count} revision{} in {elapsed:.0?} and rolled everything back: nothing was committed{not_executed}",
                    plural(count),
                );
                ("Dry run", line)
            } else if count == 0 {
                ("Fresh", format!("nothing to do; the database is at {at}"))
            } else {
                let verb = if self.direction == Direction::Upgrade { "applied" } else { "reverted" };
                (
                    "Finished",
                    format!("{count} revision{} {verb} in {elapsed:.0?}; the database is at {at}", plural(count)),
                )
            };
            shell.status(verb, line)?;
        }
        if self.strict && skipped > 0 {
            return Err(CliError {
                message: format!("--strict: the dry run could not execute {skipped} revision{}", plural(skipped)),
                help: Some("`transaction: false` revisions cannot be rolled back; review their SQL with `cargo migrate upgrade --sql`".into()),
                exit_code: exit::CHECK_FAILED,
            });
        }
        Ok(exit::OK)
    }

    /// The job summary: the database, before and after, what ran with
    /// durations, and on failure what failed, where, and how to go back.
    fn summarize(&self, md: &mut Summary, migrator: &Migrator, resolved: &ResolvedUrl, outcome: &Outcome<'_>) {
        let verdict = match (outcome.error, outcome.report) {
            (Some(_), _) => "❌ failed",
            (None, Some(report)) if report.dry_run => "✅ dry run: executed and rolled back, nothing committed",
            (None, _) => "✅ succeeded",
        };
        md.line(format_args!("**{} {}** {verdict}\n", self.verb(), self.target));
        let before = outcome.before.map(describe_heads).unwrap_or_else(|| "?".into());
        md.table(&[
            ("database", format!("`{}`{}", resolved.url.redacted(), environment_note())),
            ("before", format!("`{before}`")),
            ("after", format!("`{}`", describe_heads(outcome.after))),
            ("time", format!("{:.0?}", outcome.elapsed)),
        ]);
        if let Some(report) = outcome.report {
            if !report.ran().is_empty() {
                let verb = if self.direction == Direction::Upgrade { "applied" } else { "reverted" };
                md.line(format_args!("| {verb} | message | time |")).line("|---|---|---|");
                for ran in report.ran() {
                    md.line(format_args!("| `{}` | {} | {:.0?} |", ran.id, cell(&ran.message), ran.elapsed));
                }
                md.line("");
            } else {
                md.line("Nothing to do: the database was already there.\n");
            }
            for skipped in &report.not_executed {
                let why = skipped.because_of.as_ref().map_or_else(
                    || "it has `transaction: false`".to_owned(),
                    |root| format!("it builds on `{root}`, which has `transaction: false`"),
                );
                md.line(format_args!("- `{}` was not executed: {why}", skipped.id));
            }
        }
        if let Some(error) = outcome.error {
            md.line(format_args!("**Error:** {}\n", cell(&error.message)));
            if let Some(help) = &error.help {
                md.line(format_args!("**What to do:** {}\n", cell(help)));
            }
            let history = migrator.history();
            let undo = match outcome.before {
                Some(before) if self.direction == Direction::Upgrade && before != outcome.after => {
                    let to = before.first().map_or("base", String::as_str);
                    Some(format!("{} downgrade {to}", command_prefix()))
                }
                _ => None,
            };
            if let Some(undo) = undo {
                md.line(format_args!("To roll back what this run applied before the failure:\n\n```sh\n{undo}\n```\n"));
            } else if self.direction == Direction::Upgrade && outcome.after.iter().any(|id| history.get(id).is_some()) {
                md.line(format_args!(
                    "Nothing this run applied is left; to go one revision further back:\n\n```sh\n{} downgrade -1\n```\n",
                    command_prefix()
                ));
            }
        }
    }
}

/// A run's event as a status line or a JSON message.
fn progress(shell: &mut Shell, event: Event<'_>, dry_run: bool) -> std::io::Result<()> {
    let json = shell.json();
    match event {
        Event::Started { revision, direction } if !json => {
            let verb = if direction == Direction::Upgrade { "Applying" } else { "Reverting" };
            shell.status(verb, format!("{} {}", revision.id, revision.message))
        }
        Event::Recording { revision, direction } if !json => {
            let (verb, why) = match direction {
                Direction::Upgrade => ("Recording", "its replaced revisions are applied: nothing runs"),
                _ => ("Forgetting", "its replaced revisions are reverted one by one"),
            };
            shell.status(verb, format!("{} {} ({why})", revision.id, revision.message))
        }
        Event::Finished { revision, direction, elapsed } => {
            let ran = RanInfo {
                id: revision.id.clone(),
                message: revision.message.clone(),
                path: revision.file.path.display().to_string(),
                elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                dry_run,
            };
            shell.emit(&match direction {
                Direction::Upgrade => Message::RevisionApplied(ran),
                Direction::Downgrade => Message::RevisionReverted(ran),
            })
        }
        Event::Statement { sql, .. } if !json && shell.verbosity() >= Verbosity::Verbose => {
            shell.status("Executing", sql.replace('\n', "\n             "))
        }
        Event::AlreadyDone { revision } if !json => {
            shell.status("Skipping", format!("{} (another migrator applied it meanwhile)", revision.id))
        }
        Event::NotExecuted { revision, because_of } if json => shell.emit(&Message::RevisionNotExecuted {
            id: revision.id.clone(),
            path: revision.file.path.display().to_string(),
            because_of: because_of.map(|r| r.id.clone()),
        }),
        Event::NotExecuted { revision, because_of: None } => shell.warn(format!(
            "{} was not executed: it has `transaction: false`, which cannot run inside the dry run's transaction",
            revision.id
        )),
        Event::NotExecuted { revision, because_of: Some(root) } => shell.warn(format!(
            "{} was not executed: it builds on {}, which has `transaction: false` and was not executed",
            revision.id, root.id
        )),
        Event::WaitingForLock { holder, timeout } if json => shell.emit(&Message::WaitingForLock {
            holder: holder.map(str::to_owned),
            timeout_ms: timeout.map(|t| t.as_millis()),
        }),
        Event::WaitingForLock { holder, timeout } => waiting(shell, holder, timeout),
        Event::LockTakenOver { previous } if json => {
            shell.emit(&Message::LockTakenOver { previous: previous.to_owned() })
        }
        Event::LockTakenOver { previous } => taken_over(shell, previous),
        _ => Ok(()),
    }
}

/// An offline script's dialect: a URL's the user chose, else the `dialect`
/// setting, else the default URL's.
fn offline_dialect(project: &Project, resolved: &ResolvedUrl) -> Dialect {
    match project.config.dialect {
        Some(dialect) if !resolved.source.is_explicit() => dialect,
        _ => resolved.url.dialect(),
    }
}

/// `upgrade --sql`, `downgrade --sql`, `sql`: a script on stdout (in a
/// `script` message with JSON), and in the job summary. No connection,
/// unless the range starts at `current`: then the database (`database`)
/// says where that is.
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
    if let Err(error) = &script {
        shell.error_places(crate::render::engine_error(error));
    }
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
    let verb = if direction == Direction::Upgrade { "upgrade" } else { "downgrade" };
    if let Some(mut md) = Summary::start(&format!("cargo migrate {verb} --sql {text}")) {
        md.line(format_args!("{} script, {} lines:\n", dialect.name(), script.lines().count()));
        md.code("sql", &script, 512 * 1024);
        if let Err(e) = md.write() {
            shell.warn(format!("could not write the job summary: {e}"))?;
        }
    }
    if shell.json() {
        shell.emit(&Message::Script { dialect: dialect.key(), range: text.to_owned(), sql: script })?;
    } else {
        write!(shell.out(), "{script}")?;
    }
    Ok(exit::OK)
}

pub fn sql(shell: &mut Shell, project: &Project, args: &SqlArgs) -> CliResult {
    let migrator = migrator(shell, project)?;
    let chosen = args.dialect.map(DialectArg::dialect);
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
