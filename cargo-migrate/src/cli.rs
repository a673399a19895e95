//! The command line, as cargo hands it over: `cargo migrate <COMMAND> ...`.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use migrate_history::import::Tool;

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    a check found something: problems in the history, drafts, several heads, a database
       not up to date, models that differ, a down section that does not restore its schema,
       lint findings that are errors
  2    usage error: a bad argument, URL, target or package
  3    could not connect to the database or authenticate
  4    the database refused the run: an applied revision changed, a failed or interrupted
       revision, revisions this history lacks, the migration lock not free in time, a
       revision whose SQL is still to be written (needs-sql); adopt refused (a failed or
       dirty state, a version the import lacks, a gap, drift)
  101  any other failure (a revision's statement failed, an IO error)
  130  interrupted (Ctrl-C)";

/// Cargo's view: `cargo migrate ...` runs `cargo-migrate migrate ...`.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = clap_cargo::style::CLAP_STYLING)]
pub enum CargoCli {
    Migrate(MigrateArgs),
}

/// Alembic-class schema migrations for Rust: revision files with a graph,
/// checksums pinned in a lock file, and build-time validation.
#[derive(Debug, Args)]
#[command(version, after_help = EXIT_CODES)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Path to the Cargo.toml of the package (or workspace) with the migrations
    #[arg(long, value_name = "PATH", global = true)]
    pub manifest_path: Option<PathBuf>,
    /// Package whose migrations to use
    #[arg(short = 'p', long, value_name = "SPEC", global = true)]
    pub package: Option<String>,
    /// Use this migrations directory directly, outside any cargo project
    #[arg(long, value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// Coloring
    #[arg(long, value_name = "WHEN", value_enum, env = "CARGO_TERM_COLOR", hide_env_values = true, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    /// Use verbose output
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Do not print status messages
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Output format on stdout: `json` prints one object per line, ending with a `finished` one
    #[arg(long, value_name = "FMT", value_enum, default_value_t, global = true)]
    pub message_format: MessageFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Output format of the command's data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    // Text for people.
    #[default]
    Human,
    // One JSON object per line on stdout, with `reason` and `format-version`,
    // ending with `{"reason":"finished",...}` (docs/json.md).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the migrations directory, its template and lock file, and configure Cargo.toml
    Init(InitArgs),
    /// Create a new (draft) revision after the current head
    #[command(visible_alias = "revision")]
    New(NewArgs),
    /// Autogenerate a revision from the models (schema.sql): `new --autogenerate`
    Generate(NewArgs),
    /// List revisions, newest first
    History(HistoryArgs),
    /// List the heads of the history
    Heads(ListArgs),
    /// List branch points and the branches leaving them
    Branches(ListArgs),
    /// Show one revision in full
    Show(ShowArgs),
    /// Create a revision that joins several heads
    Merge(MergeArgs),
    /// Pin draft revisions in migrate.lock, or re-pin edited ones with --update
    Lock(LockArgs),
    /// Import another tool's migration history (alembic, sqlx, golang-migrate, dbmate, goose, diesel, refinery, flyway) as pinned revisions
    Import(ImportArgs),
    /// Adopt a database another tool migrated: record the imported revisions its table shows applied,
    /// once the schema matches them
    Adopt(AdoptArgs),
    /// Check everything the build checks, that every revision is pinned, and
    /// with a database URL that nothing is pending, drifted or failed
    Check(CheckArgs),
    /// Lint the revisions' SQL for long locks, lost data and statements that fail
    Lint(LintArgs),
    /// Apply revisions up to a target (default `head`)
    Upgrade(UpgradeArgs),
    /// Revert revisions down to a target (`-1`, `base`, a revision)
    Downgrade(DowngradeArgs),
    /// Show the revisions the database is at
    Current(CurrentArgs),
    /// Show the database, its connection, current revisions, pending, drifted and failed ones
    Status(StatusArgs),
    /// Record the database as being at a target without running anything
    Stamp(StampArgs),
    /// Print the offline SQL script of an upgrade: `sql [FROM:]TO`
    Sql(SqlArgs),
    /// Settle a revision marked failed after fixing the database by hand
    Resolve(ResolveArgs),
    /// Compare a live database with what the history produces at its applied revisions
    Diff(DiffArgs),
    /// Prove every down section on scratch databases (each revision upgraded, downgraded and
    /// upgraded again), merges in every order, a full upgrade from base and schema.sql
    Verify(VerifyArgs),
    /// Replace REV and every revision it needs with one baseline revision that creates their schema
    /// and rows; the replaced files move to squashed/<baseline>/
    Squash(SquashArgs),
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// Database URL: postgres://..., postgresql://..., mysql://..., mariadb://..., sqlite:PATH or sqlite::memory:
    /// [default: the configured environment variable (DATABASE_URL), then .env, then a SQLite file under target/]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Use environment NAME of [package.metadata.migrate.environments]: its URL variable
    /// (`url-env`), version table, schema and lock timeout
    #[arg(long, value_name = "NAME", conflicts_with = "database_url")]
    pub env: Option<String>,
}

impl Command {
    /// The database arguments of a command that uses a database.
    pub fn db(&self) -> Option<&DbArgs> {
        match self {
            Command::New(args) | Command::Generate(args) => Some(&args.db),
            Command::Adopt(args) => Some(&args.db),
            Command::Check(args) => Some(&args.db),
            Command::Upgrade(args) => Some(&args.db),
            Command::Downgrade(args) => Some(&args.db),
            Command::Current(args) => Some(&args.db),
            Command::Status(args) => Some(&args.db),
            Command::Stamp(args) => Some(&args.db),
            Command::Sql(args) => Some(&args.db),
            Command::Resolve(args) => Some(&args.db),
            Command::Diff(args) => Some(&args.db),
            Command::Verify(args) => Some(&args.db),
            Command::Squash(args) => Some(&args.db),
            Command::Lock(args) => Some(&args.db),
            _ => None,
        }
    }

    /// The fleet arguments of a command that runs on several targets.
    pub fn fleet(&self) -> Option<&FleetArgs> {
        match self {
            Command::Upgrade(args) => Some(&args.fleet),
            Command::Downgrade(args) => Some(&args.fleet),
            Command::Status(args) => Some(&args.fleet),
            Command::Check(args) => Some(&args.fleet),
            _ => None,
        }
    }

    /// The lock arguments of a command that takes the migration lock.
    pub fn lock_mut(&mut self) -> Option<&mut MigrationLockArgs> {
        match self {
            Command::Upgrade(args) => Some(&mut args.lock),
            Command::Downgrade(args) => Some(&mut args.lock),
            Command::Stamp(args) => Some(&mut args.lock),
            Command::Resolve(args) => Some(&mut args.lock),
            Command::Adopt(args) => Some(&mut args.lock),
            _ => None,
        }
    }
}

/// For commands that take the migration lock.
#[derive(Debug, Args)]
pub struct MigrationLockArgs {
    /// Give up when another migration holds the lock for longer than this (e.g. 30s, 5m)
    /// [default: wait as long as it takes]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
    /// How the migration lock is taken: the database's own (advisory locks on PostgreSQL,
    /// GET_LOCK on MySQL, a lock file for SQLite; a lease row on CockroachDB and YugabyteDB),
    /// or a lease row in `<version table>_lock` on PostgreSQL too
    #[arg(long, value_enum, value_name = "STRATEGY", default_value_t = LockStrategyArg::Native)]
    pub lock_strategy: LockStrategyArg,
    /// How long a lease row holds before it must be renewed (a second connection renews it
    /// every third of that while a revision runs); a killed holder's lease is taken over that
    /// long after its last renewal
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub lock_lease: std::time::Duration,
}

/// How the migration lock is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LockStrategyArg {
    /// The database's own way
    Native,
    /// A lease row with an owner and an expiry
    Lease,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e}; write a duration such as 30s, 2m or 1h"))
}

/// How revisions are grouped into transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TransactionArg {
    /// Each revision commits with its version-table row
    #[default]
    PerRevision,
    /// The whole run in one transaction
    All,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// One row per environment of [package.metadata.migrate.environments]: current, pending,
    /// drift, failed, reachable
    #[arg(long, conflicts_with_all = ["database_url", "env", "targets", "schemas"])]
    pub all_envs: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

/// Several databases in one run.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// Run on every database in FILE: one URL or env:VARIABLE per line, or [[target]] tables
    /// with name, url or url-env, version-table, version-schema
    #[arg(long, value_name = "FILE", conflicts_with_all = ["database_url", "env", "schemas"])]
    pub targets: Option<std::path::PathBuf>,
    /// Run on each of these schemas of one PostgreSQL database (a tenant per schema, the
    /// version table in each): --schemas tenant_a,tenant_b
    #[arg(long, value_name = "SCHEMA,...", value_delimiter = ',')]
    pub schemas: Vec<String>,
    /// How many targets at once (with --targets, --schemas or --all-envs) [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Run target NAME first, alone, and stop if it fails
    #[arg(long, value_name = "NAME")]
    pub canary: Option<String>,
    /// Start no further target once one failed
    #[arg(long)]
    pub fail_fast: bool,
}

impl FleetArgs {
    /// Whether the command runs on several targets.
    pub fn is_fleet(&self) -> bool {
        self.targets.is_some() || !self.schemas.is_empty()
    }

    /// Refuses `--canary` and `--fail-fast` for a command that only reads
    /// (`status`, `check`): it reads every target.
    pub fn refuse_when_reading(&self, command: &str) -> Result<(), crate::error::CliError> {
        let given = [(self.canary.is_some(), "--canary"), (self.fail_fast, "--fail-fast")];
        match given.into_iter().find(|(on, _)| *on) {
            Some((_, flag)) => Err(crate::error::CliError::usage(format!(
                "{flag} applies to upgrade and downgrade; `{command}` reads every target"
            ))
            .with_help(format!("drop {flag}"))),
            None => Ok(()),
        }
    }

    /// Refuses `--jobs`, `--canary` and `--fail-fast` on one database.
    pub fn refuse_without_targets(&self) -> Result<(), crate::error::CliError> {
        let given =
            [(self.jobs.is_some(), "--jobs"), (self.canary.is_some(), "--canary"), (self.fail_fast, "--fail-fast")];
        match given.into_iter().find(|(on, _)| *on) {
            Some((_, flag)) => Err(crate::error::CliError::usage(format!("{flag} needs several targets"))
                .with_help("pass --targets FILE or --schemas a,b,c (or `status --all-envs`)")),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// Target: head, heads, +N, a revision, LABEL@head; FROM:TO with --sql (FROM `current`: where the database is)
    #[arg(default_value = "head", allow_hyphen_values = true)]
    pub target: String,
    /// Print the SQL script instead of running it
    #[arg(long, conflicts_with = "dry_run")]
    pub sql: bool,
    /// Execute inside one transaction and roll it back: nothing is committed
    #[arg(long)]
    pub dry_run: bool,
    /// Transaction grouping
    #[arg(long, value_enum, value_name = "MODE", default_value_t)]
    pub transaction: TransactionArg,
    /// Apply although an applied revision's file changed since
    #[arg(long)]
    pub allow_modified: bool,
    /// Apply although the database has revisions this history lacks, when all of them were
    /// applied after every revision it has (a newer build migrated it)
    #[arg(long)]
    pub allow_newer: bool,
    /// With --dry-run: exit 1 when some revisions could not be executed (`transaction: false`
    /// ones and those that build on them)
    #[arg(long, requires = "dry_run")]
    pub strict: bool,
    #[command(flatten)]
    pub lock: MigrationLockArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, Args)]
pub struct DowngradeArgs {
    /// Target: -N, base, a revision; FROM:TO with --sql (FROM `current`: where the database is)
    #[arg(allow_hyphen_values = true)]
    pub target: String,
    /// Print the SQL script instead of running it
    #[arg(long, conflicts_with = "dry_run")]
    pub sql: bool,
    /// Execute inside one transaction and roll it back: nothing is committed
    #[arg(long)]
    pub dry_run: bool,
    /// Revert although an applied revision's file changed since
    #[arg(long)]
    pub allow_modified: bool,
    /// With --dry-run: exit 1 when some revisions could not be executed (`transaction: false`
    /// ones and those that build on them)
    #[arg(long, requires = "dry_run")]
    pub strict: bool,
    #[command(flatten)]
    pub lock: MigrationLockArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, Args)]
pub struct CurrentArgs {
    /// Show every version-table field
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct StampArgs {
    /// Target: head, heads, base, a revision
    #[arg(allow_hyphen_values = true)]
    pub target: String,
    /// Empty the version table first (also of unknown and failed rows)
    #[arg(long)]
    pub purge: bool,
    #[command(flatten)]
    pub lock: MigrationLockArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// FROM:TO or TO (from base); FROM `current` asks the database where it is; default base:head
    #[arg(default_value = "head")]
    pub range: String,
    /// Dialect of the script [default: from the database URL]
    #[arg(long, value_enum)]
    pub dialect: Option<DialectArg>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DialectArg {
    Sqlite,
    Postgres,
    Mysql,
}

impl DialectArg {
    /// The library's dialect.
    pub fn dialect(self) -> migrate_history::Dialect {
        match self {
            DialectArg::Sqlite => migrate_history::Dialect::Sqlite,
            DialectArg::Postgres => migrate_history::Dialect::Postgres,
            DialectArg::Mysql => migrate_history::Dialect::Mysql,
        }
    }
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("outcome").required(true).args(["applied", "rolled_back"])))]
pub struct ResolveArgs {
    /// The failed revision
    pub rev: String,
    /// Its statements were completed by hand: record it as applied
    #[arg(long)]
    pub applied: bool,
    /// Its statements were undone by hand: forget it
    #[arg(long)]
    pub rolled_back: bool,
    #[command(flatten)]
    pub lock: MigrationLockArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("installs").args(["build", "ci"]).multiple(true)))]
pub struct InitArgs {
    /// Also add the build script (build.rs) and the migrate-build/migrate-history dependencies
    #[arg(long)]
    pub build: bool,
    /// With --build: depend on the cargo-migrate repository at this path instead of crates.io;
    /// with --ci: the workflows install cargo-migrate from it (a directory of the repository)
    #[arg(long, value_name = "REPO", requires = "installs", conflicts_with = "git")]
    pub path: Option<PathBuf>,
    /// With --build: depend on the cargo-migrate repository at this git URL instead of crates.io;
    /// with --ci: the workflows install cargo-migrate from it
    #[arg(long, value_name = "URL", requires = "installs")]
    pub git: Option<String>,
    /// Also write CI workflows: `github` writes .github/workflows/migrate.yml (run migrations by
    /// hand), deploy.yml (migrate, then deploy, on push to main) and migrations-pr.yml (pull requests)
    #[arg(long, value_name = "PROVIDER", value_enum)]
    pub ci: Option<CiProvider>,
    /// With --ci: what deploy.yml deploys after migrating: `none` (placeholder jobs to fill in) or
    /// `cloud-run` (Docker images to Artifact Registry, then Google Cloud Run)
    #[arg(long, value_name = "TARGET", value_enum, requires = "ci", default_value_t)]
    pub deploy: DeployTarget,
    /// With --ci: replace workflow files that differ from what init writes
    #[arg(long, requires = "ci")]
    pub force: bool,
}

/// Where `init --ci` writes workflows for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CiProvider {
    // GitHub Actions. (Plain comments: a variant's doc comment switches `init --help` to the long layout.)
    Github,
}

/// What the generated deploy workflow deploys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DeployTarget {
    // Placeholder deploy jobs, to fill in with your own commands.
    #[default]
    None,
    // Google Cloud Run: Docker images pushed to Artifact Registry, then deployed.
    CloudRun,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// What the revision does
    #[arg(value_name = "MESSAGE", required_unless_present = "message")]
    pub message_arg: Option<String>,
    /// What the revision does (the same as MESSAGE)
    #[arg(short, long, conflicts_with = "message_arg")]
    pub message: Option<String>,
    /// Base the revision on this revision instead of the head (`base` starts a new root)
    #[arg(long, visible_alias = "head", value_name = "REV")]
    pub parent: Option<String>,
    /// Put a branch label on the revision
    #[arg(long, value_name = "LABEL")]
    pub branch_label: Vec<String>,
    /// A revision that must be applied first, without being a parent
    #[arg(long, value_name = "REV")]
    pub depends_on: Vec<String>,
    /// Use this id instead of a generated one
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
    /// Fill the revision with what turns the history's schema into the models' (schema.sql)
    #[arg(long)]
    pub autogenerate: bool,
    /// Server for the scratch databases of --autogenerate [default: the database URL's; SQLite in memory]
    #[arg(long, value_name = "URL")]
    pub dev_url: Option<String>,
    /// Run the revision outside a transaction (`-- transaction: false`); with --autogenerate,
    /// indexes on existing PostgreSQL tables are created and dropped CONCURRENTLY
    #[arg(long)]
    pub no_transaction: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Server for the scratch database [default: the database's own server; SQLite in memory]
    #[arg(long, value_name = "URL")]
    pub dev_url: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Verify only the revisions after REV (what a pull request adds), on a scratch database
    /// upgraded to REV
    #[arg(long, value_name = "REV")]
    pub from: Option<String>,
    /// Server for the scratch databases [default: the database's own server; SQLite in memory]
    #[arg(long, value_name = "URL")]
    pub dev_url: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct SquashArgs {
    /// The last revision to replace: it and every revision it needs become one baseline
    /// (with --prune: the baseline, or a revision it replaces)
    #[arg(long, value_name = "REV")]
    pub upto: String,
    /// Delete squashed/<baseline>/ of the baseline standing for REV, once every environment of
    /// [package.metadata.migrate.environments] has recorded the baseline (each read, nothing written)
    #[arg(long, conflicts_with_all = ["message", "dev_url"])]
    pub prune: bool,
    /// The baseline's message [default: "baseline up to REV"]
    #[arg(short, long)]
    pub message: Option<String>,
    /// Server for the scratch database [default: the database's own server; SQLite in memory]
    #[arg(long, value_name = "URL")]
    pub dev_url: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Range of revisions to list: FROM:TO, FROM: or :TO
    #[arg(short, long, value_name = "RANGE")]
    pub rev_range: Option<String>,
    /// Show every header field and the file of each revision
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Show every header field and the file of each revision
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A revision id, unique prefix, label or target such as `head`
    pub rev: String,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Revisions to join (default: every head)
    #[arg(value_name = "REV")]
    pub revs: Vec<String>,
    /// What the merge is for
    #[arg(short, long)]
    pub message: Option<String>,
    /// Put a branch label on the merge revision
    #[arg(long, value_name = "LABEL")]
    pub branch_label: Vec<String>,
    /// Use this id instead of a generated one
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Re-pin these edited revisions (or drop the pin of a deleted one) deliberately; refused
    /// when the configured database applied one
    #[arg(long, value_name = "REV", num_args = 1..)]
    pub update: Vec<String>,
    /// With --update: re-pin although the configured database applied the revision
    #[arg(long, requires = "update")]
    pub force: bool,
    /// Keep both sides of a git merge conflict in migrate.lock (refused only when both pin
    /// one revision with different checksums)
    #[arg(long, conflicts_with = "update")]
    pub resolve: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The tool whose migration files SOURCE_DIR holds
    #[arg(long = "from", value_name = "TOOL", value_parser = tool_parser())]
    pub from: Tool,
    /// The directory of the tool's migration files; for alembic, the project
    /// directory holding alembic.ini [default for alembic: the current directory]
    #[arg(value_name = "SOURCE_DIR")]
    pub source: Option<PathBuf>,
    /// alembic: the project's configuration [default: SOURCE_DIR/alembic.ini]
    #[arg(long, value_name = "PATH")]
    pub alembic_ini: Option<PathBuf>,
    /// alembic: the Python that runs the project (with Alembic and what env.py
    /// imports) [default: $VIRTUAL_ENV/bin/python, else python3]
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// alembic: the dialect Alembic renders the SQL for [default: `dialect` in
    /// [package.metadata.migrate], else postgres]
    #[arg(long, value_enum)]
    pub dialect: Option<DialectArg>,
    /// Write the revisions (and their migrate.lock) into DIR instead of the configured
    /// migrations directory; it must be empty or absent
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The tool whose version table the database carries (read, never written)
    #[arg(long = "from", value_name = "TOOL", value_parser = tool_parser())]
    pub from: Tool,
    /// Record the revisions even when the schema differs from what they produce
    #[arg(long)]
    pub accept_drift: bool,
    /// Show what would be recorded, and record nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Server for the scratch database [default: the database's own server; SQLite in memory]
    #[arg(long, value_name = "URL")]
    pub dev_url: Option<String>,
    #[command(flatten)]
    pub lock: MigrationLockArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `--from TOOL`: one of the tools `import` reads, by the name the library gives it.
fn tool_parser() -> impl TypedValueParser<Value = Tool> {
    clap::builder::PossibleValuesParser::new(Tool::ALL.map(Tool::name))
        .map(|name| Tool::from_name(&name).expect("only the possible values get here"))
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Revisions to lint: ids, unique prefixes, labels or targets such as `head` [default: every revision]
    #[arg(value_name = "REV")]
    pub revs: Vec<String>,
    /// SQL dialect of the revisions [default: `dialect` in [package.metadata.migrate], else postgres]
    #[arg(long, value_enum)]
    pub dialect: Option<DialectArg>,
    /// List the rules, ours and squawk's, and exit
    #[arg(long, conflicts_with_all = ["revs", "dialect"])]
    pub list_rules: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Accept draft revisions (not pinned yet) as warnings, for local use; CI should not pass it
    #[arg(long)]
    pub allow_drafts: bool,
    /// Do not compare the models (schema.sql) with the history: that needs scratch databases on
    /// the database's server (CREATEDB), which a production role should not have
    #[arg(long)]
    pub no_models: bool,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::CargoCli::command().debug_assert();
    }
}
