//! The database a command uses: its URL (from the library's sources, with
//! the CLI's refusals), the connection, the project's migrator, and the
//! library's errors rendered with the flags and commands that fix them.

use migrate_history::{Diagnostic, History, Options, Problem};
use migrate_runtime::source::{ResolvedUrl, UrlSource, UrlSources};
use migrate_runtime::workbench::WorkbenchError;
use migrate_runtime::{Connection, DatabaseUrl, DbState, Dialect, Migrator, Recorded};

use crate::cli::DbArgs;
use crate::error::CliError;
use crate::exit;
use crate::project::{Project, shown_path};
use crate::shell::{Shell, Verbosity};

/// `--database-url`, else the configured environment variable, else `.env`
/// at the project root, else a SQLite file under `target/`.
pub fn resolve_url(project: &Project, args: &DbArgs) -> Result<ResolvedUrl, CliError> {
    let dotenv = shown_path(&project.base.join(".env"));
    let default = shown_path(&project.base.join("target").join("cargo-migrate").join("dev.sqlite3"));
    let sources = UrlSources {
        argument: args.database_url.as_deref(),
        argument_name: "--database-url",
        variable: &project.config.database_url_env,
        dotenv: Some(&dotenv),
        default: DatabaseUrl::Sqlite { path: Some(default) },
    };
    let resolved = sources.resolve().map_err(|e| CliError::usage(e.to_string()).with_help(e.help()))?;
    // An environment's database is its variable's, never the SQLite default.
    if let Some(name) = &project.environment
        && !resolved.source.is_explicit()
    {
        let variable = &project.config.database_url_env;
        return Err(CliError::usage(format!(
            "the environment `{name}` reads its database URL from {variable}, which is not set (nor in {})",
            dotenv.display()
        ))
        .with_help(format!("set {variable} to the {name} database's URL, or pass --database-url instead of --env")));
    }
    Ok(resolved)
}

/// The URL of a command that uses a database, refusing what the user cannot
/// have meant: the SQLite default while another `*_DATABASE_URL` is set, or
/// a database of another dialect than the history's `dialect` setting (not
/// checked for an offline script from the default URL, whose dialect is then
/// the setting's). With `-v`, says that a SQLAlchemy driver was dropped.
pub fn chosen_url(shell: &mut Shell, project: &Project, args: &DbArgs, offline: bool) -> Result<ResolvedUrl, CliError> {
    let resolved = resolve_url(project, args)?;
    let var = &project.config.database_url_env;
    if let Some(first) = resolved.others.first() {
        let name = match first {
            UrlSource::Environment(name) | UrlSource::DotEnv { variable: name, .. } => name.as_str(),
            _ => var,
        };
        let others: Vec<String> = resolved.others.iter().map(ToString::to_string).collect();
        return Err(CliError::usage(format!(
            "no database URL is configured ({var} is not set), but {} holds one",
            others.join(" and ")
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
        && (resolved.source.is_explicit() || !offline)
    {
        return Err(wrong_dialect(project, &resolved, dialect));
    }
    Ok(resolved)
}

/// A database of another kind than the history's `dialect` setting.
fn wrong_dialect(project: &Project, resolved: &ResolvedUrl, dialect: Dialect) -> CliError {
    let setting = dialect.key();
    let example = match dialect {
        Dialect::Sqlite => "sqlite:path/to/file.db",
        Dialect::Mysql => "mysql://user@host:3306/db",
        _ => "postgres://user@host:5432/db",
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

/// A URL given by an argument other than `--database-url` (`--dev-url`).
pub fn parse_url(text: &str, argument: &str) -> Result<DatabaseUrl, CliError> {
    DatabaseUrl::parse(text).map_err(|error| {
        let error = migrate_runtime::source::SourceError::Url {
            error: Box::new(error),
            from: UrlSource::Argument(argument.into()),
        };
        CliError::usage(error.to_string()).with_help(error.help())
    })
}

/// The history, refusing one with problems (drafts are fine here).
pub fn migrator(shell: &mut Shell, project: &Project) -> Result<Migrator, CliError> {
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
pub fn configured(project: &Project, history: History) -> Migrator {
    Migrator::new(history).configured(&project.config)
}

/// The migrator with the lock settings of a command that takes the lock.
pub fn locking(migrator: Migrator, lock: &crate::cli::MigrationLockArgs) -> Migrator {
    let migrator = match lock.lock_timeout {
        Some(timeout) => migrator.lock_timeout(timeout),
        None => migrator,
    };
    let migrator = migrator.lock_lease(lock.lock_lease);
    match lock.lock_strategy {
        crate::cli::LockStrategyArg::Native => migrator,
        crate::cli::LockStrategyArg::Lease => migrator.lock_strategy(migrate_runtime::LockStrategy::LeaseTable),
    }
}

/// Renews a lease-table lock over a second connection to `url` while a
/// revision runs (see [`Migrator::heartbeat`]).
pub fn heartbeat(migrator: Migrator, url: &DatabaseUrl) -> Migrator {
    let url = url.clone();
    migrator.heartbeat(move || {
        let connection = migrate_runtime::connect(&url).map_err(|e| migrate_runtime::DbError::new(e.message))?;
        Ok(connection.into_database())
    })
}

/// Says that the run took over the migration lock from a holder whose lease expired.
pub fn taken_over(shell: &mut Shell, previous: &str) -> std::io::Result<()> {
    shell.warn(format!(
        "took over the migration lock from `{previous}`, whose lease had expired: it stopped renewing it (killed, or a revision longer than `--lock-lease`); a revision it left half-done shows as failed or running"
    ))
}

/// Says that the run waits for another migrator.
pub fn waiting(shell: &mut Shell, holder: Option<&str>, timeout: Option<std::time::Duration>) -> std::io::Result<()> {
    let holder = holder.map_or_else(|| "another process".to_owned(), |h| format!("`{h}`"));
    let limit = timeout.map_or_else(
        || " (as long as it takes; `--lock-timeout` sets a limit)".to_owned(),
        |t| format!(" (at most {})", humantime::format_duration(t)),
    );
    shell.status("Waiting", format!("for the migration lock, held by {holder}{limit}"))
}

/// Connects, refusing transaction poolers where session locks do not hold.
pub fn connect(url: &DatabaseUrl) -> Result<Connection, CliError> {
    refuse_pooler(url)?;
    migrate_runtime::connect(url).map_err(connect_error)
}

/// Connects for a command that only reads, creating nothing: a SQLite file
/// that does not exist yet reads as an empty database (`false`).
pub fn connect_to_read(url: &DatabaseUrl) -> Result<(Connection, bool), CliError> {
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

/// Could not connect or authenticate: exit code 3.
fn connect_error(error: migrate_runtime::ConnectError) -> CliError {
    CliError { message: error.message, help: error.help, exit_code: exit::CONNECT }
}

/// `base`, or the revisions a database is at.
pub fn describe_heads(heads: &[String]) -> String {
    if heads.is_empty() { "base".to_owned() } else { heads.join(", ") }
}

/// An engine error with the CLI's fix: the library's help names
/// `RunOptions` fields; this names the flags and commands.
pub fn engine_error(error: migrate_runtime::Error) -> CliError {
    use migrate_runtime::{Error, FailureKind};
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
        Error::ForeignKeyCheck { recorded_failure: true, id, .. } => Some(format!(
            "the revision ran outside a transaction, so it is in effect; make the rows point at existing rows (or delete them), then run `cargo migrate resolve {id} --applied`"
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
        Error::NeedsSql { id, path, downgrade, .. } => {
            let section = if *downgrade { "down" } else { "up" };
            Some(format!(
                "write the {section} section of {path} from what it quotes, remove `{section}` from its `-- needs-sql` line, pin it with `cargo migrate lock`, and run again; or do by hand what it does and record it with `cargo migrate stamp {id}`"
            ))
        }
        Error::NotFailed { .. } => Some("`cargo migrate status` lists failed revisions".into()),
        Error::UnsafeLock { backend, native, .. } => {
            Some(format!("drop `--lock-strategy`: {backend} is locked with {native}"))
        }
        Error::LockLost { .. } => Some("what ran before is recorded; raise `--lock-lease` above the longest revision, and run again once the other migrator is done".into()),
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
        Error::Target(_) | Error::NotFailed { .. } | Error::UnsafeLock { .. } => CliError::usage(error.to_string()),
        // The database refused the run: exit code 4.
        Error::Drift { .. }
        | Error::Unsettled { .. }
        | Error::UnknownRevisions { .. }
        | Error::LockTimeout { .. }
        | Error::LockLost { .. }
        | Error::NeedsSql { .. } => CliError { message: error.to_string(), help: None, exit_code: exit::REFUSED },
        Error::Interrupted { .. } => CliError { message: error.to_string(), help: None, exit_code: exit::INTERRUPTED },
        Error::NotTransactional { id, path } => CliError::failure(format!(
            "revision `{id}` ({path}) has `transaction: false`, so it cannot run inside `--transaction all`"
        )),
        _ => CliError::failure(error.to_string()),
    };
    cli.help = help;
    cli
}

/// A workbench error (scratch databases, the models) with the CLI's fix;
/// `models` is the models file, shown in front of a line number.
pub fn workbench_error(error: WorkbenchError, models: &std::path::Path) -> CliError {
    match error {
        WorkbenchError::Connect(e) => connect_error(e),
        WorkbenchError::CreateScratch { .. } => CliError::failure(error.to_string())
            .with_help("the user needs CREATEDB on the development server; pass `--dev-url` to use another server"),
        WorkbenchError::Models { line, ref message, .. } => {
            let help = error.help().unwrap_or_default();
            CliError::usage(format!("{}:{line}: {message}", models.display())).with_help(help)
        }
        other => CliError::failure(other.to_string()),
    }
}

/// The configured database, when the user chose one and it answers: its
/// redacted URL and what it recorded. `Err` says why it could not be asked
/// (not reachable, no version table to read).
pub struct Configured {
    pub database: String,
    state: DbState,
}

impl Configured {
    pub fn open(
        project: &Project,
        history: &History,
        db: &DbArgs,
    ) -> Result<Option<Result<Configured, String>>, CliError> {
        let resolved = resolve_url(project, db)?;
        if !resolved.source.is_explicit() {
            return Ok(None);
        }
        let database = resolved.url.redacted();
        let (mut connection, _) = match connect_to_read(&resolved.url) {
            Ok(connection) => connection,
            Err(error) => return Ok(Some(Err(format!("{database} (from {}): {}", resolved.source, error.message)))),
        };
        let migrator = configured(project, history.clone());
        Ok(Some(match migrator.state(connection.database()) {
            Ok(state) => Ok(Configured { database, state }),
            Err(error) => Err(format!("{database}: {error}")),
        }))
    }

    /// What it recorded about revision `id`.
    pub fn recorded(&self, id: &str) -> Recorded {
        self.state.recorded(id)
    }

    /// Fills in `safe_to_repin` of edited pinned revisions it never applied
    /// (or recorded as failed).
    pub fn annotate(&self, diagnostics: &mut [Diagnostic]) {
        for d in diagnostics {
            if let Problem::PinnedRevisionChanged { id, safe_to_repin, .. } = &mut d.problem {
                *safe_to_repin = match self.recorded(id) {
                    Recorded::Applied => None,
                    Recorded::Failed => Some(format!("{} recorded it as failed", self.database).into()),
                    Recorded::Absent => Some(format!("{} has not applied it", self.database).into()),
                };
            }
        }
    }
}
