//! `[package.metadata.migrate]` (or `[workspace.metadata.migrate]`) in Cargo.toml.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, TableLike};

use crate::sql::Dialect;
use crate::{Diagnostic, Problem};

/// Keys understood in `[package.metadata.migrate]`.
pub const CONFIG_KEYS: [&str; 9] = [
    "dir",
    "allow-multiple-heads",
    "database-url-env",
    "version-table",
    "version-schema",
    "schema",
    "dialect",
    "environments",
    "lint",
];

/// Keys understood in `[package.metadata.migrate.lint]`.
pub const LINT_CONFIG_KEYS: [&str; 4] = ["allow", "warn", "deny", "postgres-version"];

/// The declarative models file, relative to the package root, unless configured.
pub const DEFAULT_SCHEMA_FILE: &str = "schema.sql";

/// The environment variable read for the database URL unless configured otherwise.
pub const DEFAULT_DATABASE_URL_ENV: &str = "DATABASE_URL";

/// The default migrations directory, relative to the package root.
pub const DEFAULT_DIR: &str = "migrations";

/// Settings for one migration history.
///
/// ```
/// use std::path::{Path, PathBuf};
///
/// use migrate_history::config::{Config, ConfigSource};
/// use migrate_history::sql::Dialect;
///
/// let manifest = "[package]\nname = \"app\"\n\n\
///                 [package.metadata.migrate]\ndir = \"db/migrations\"\ndialect = \"postgres\"\n";
/// let (config, source, problems) = Config::from_manifest(Path::new("Cargo.toml"), manifest);
/// assert!(problems.is_empty());
/// assert_eq!(source, ConfigSource::Package);
/// assert_eq!(config.dir, PathBuf::from("db/migrations"));
/// assert_eq!(config.dialect, Some(Dialect::Postgres));
/// assert_eq!(config.database_url_env, "DATABASE_URL"); // the default
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The migrations directory, relative to the manifest that configured it.
    pub dir: PathBuf,
    /// Whether several heads are allowed (independent branches, as in Alembic).
    pub allow_multiple_heads: bool,
    /// The environment variable holding the database URL (`DATABASE_URL`).
    pub database_url_env: String,
    /// The version table's name (default `migrate_versions`).
    pub version_table: Option<String>,
    /// The version table's PostgreSQL schema.
    pub version_schema: Option<String>,
    /// The declarative schema (the models) that autogenerate compares with.
    pub schema: PathBuf,
    /// The SQL dialect the revisions are written in (`dialect = "postgres"`):
    /// a database of another kind is refused.
    pub dialect: Option<Dialect>,
    /// PostgreSQL schemas (namespaces) that autogenerate, `check` and
    /// `diff` compare besides the default one (`schemas = ["billing"]`):
    /// their tables, types and other objects, and the schemas themselves.
    pub schemas: Vec<String>,
    /// `[package.metadata.migrate.lint]`: how `cargo migrate lint` and
    /// `check` treat the lint rules.
    pub lint: LintConfig,
    /// `[package.metadata.migrate.environments.NAME]`, in the manifest's
    /// order: the databases `--env NAME` and `status --all-envs` use, and
    /// the GitHub environments of `init --ci github`.
    pub environments: Vec<Environment>,
}

/// One environment: `[package.metadata.migrate.environments.NAME]`, the
/// variable holding its database URL and the options that differ there.
///
/// ```
/// use std::path::Path;
/// use std::time::Duration;
///
/// use migrate_history::config::Config;
///
/// let manifest = "[package.metadata.migrate.environments.production]\n\
///                 url-env = \"PRODUCTION_DATABASE_URL\"\nlock-timeout = \"5m\"\n\
///                 [package.metadata.migrate.environments.staging]\n";
/// let (config, _, problems) = Config::from_manifest(Path::new("Cargo.toml"), manifest);
/// assert!(problems.is_empty());
/// let production = config.environment("production").unwrap();
/// assert_eq!(production.url_env, "PRODUCTION_DATABASE_URL");
/// assert_eq!(production.lock_timeout, Some(Duration::from_secs(300)));
/// // Without `url-env`, the project's variable (`database-url-env`).
/// assert_eq!(config.environment("staging").unwrap().url_env, "DATABASE_URL");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Its name: letters, digits, `_`, `-` and `.`, as GitHub environments are named.
    pub name: String,
    /// The environment variable (a GitHub secret in the workflows) holding
    /// its database URL (`url-env`; default: `database-url-env`).
    pub url_env: String,
    /// Its version table, when not the project's (`version-table`).
    pub version_table: Option<String>,
    /// Its version table's PostgreSQL schema, when not the project's (`version-schema`).
    pub version_schema: Option<String>,
    /// How long a run there waits for the migration lock (`lock-timeout = "5m"`).
    pub lock_timeout: Option<std::time::Duration>,
}

/// Keys understood in `[package.metadata.migrate.environments.NAME]`.
pub const ENVIRONMENT_KEYS: [&str; 4] = ["url-env", "version-table", "version-schema", "lock-timeout"];

/// `[package.metadata.migrate.lint]`. Rule names are checked by `cargo
/// migrate lint`, which knows the rules; here only their form.
///
/// ```
/// use std::path::Path;
///
/// use migrate_history::config::Config;
///
/// let manifest = "[package.metadata.migrate.lint]\nallow = [\"prefer-robust-stmts\"]\n\
///                 deny = [\"ban-drop-column\"]\npostgres-version = 15\n";
/// let (config, _, problems) = Config::from_manifest(Path::new("Cargo.toml"), manifest);
/// assert!(problems.is_empty());
/// assert_eq!(config.lint.allow, ["prefer-robust-stmts"]);
/// assert_eq!(config.lint.deny, ["ban-drop-column"]);
/// assert_eq!(config.lint.postgres_version.as_deref(), Some("15"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintConfig {
    /// Rules that are off: never reported (`allow = ["prefer-robust-stmts"]`).
    pub allow: Vec<String>,
    /// Rules reported as warnings, also in drafts; naming an opt-in rule turns it on.
    pub warn: Vec<String>,
    /// Rules promoted to errors, also in pinned revisions; naming an opt-in rule turns it on.
    pub deny: Vec<String>,
    /// The PostgreSQL version the revisions run on, such as `15` or `16.2`
    /// (`postgres-version`): some rules depend on it.
    pub postgres_version: Option<String>,
}

impl LintConfig {
    /// Reads a `lint` table, reporting problems against `path`.
    fn from_item(path: &Path, item: &Item, diagnostics: &mut Vec<Diagnostic>) -> LintConfig {
        let mut lint = LintConfig::default();
        let invalid = |message: String| Diagnostic::error(path, None, Problem::InvalidConfig { message });
        let Some(table) = item.as_table_like() else {
            diagnostics.push(invalid("`lint` in [package.metadata.migrate] must be a table".into()));
            return lint;
        };
        for (key, item) in table.iter() {
            match key {
                "allow" | "warn" | "deny" => {
                    let names = item.as_array().and_then(|a| a.iter().map(|v| v.as_str()).collect::<Option<Vec<_>>>());
                    match names {
                        Some(names) if names.iter().all(|n| is_rule_name(n)) => {
                            let list = match key {
                                "allow" => &mut lint.allow,
                                "warn" => &mut lint.warn,
                                _ => &mut lint.deny,
                            };
                            list.extend(names.into_iter().map(str::to_owned));
                        }
                        _ => diagnostics.push(invalid(format!(
                            "`{key}` in [package.metadata.migrate.lint] must be a list of rule names, like [\"ban-drop-column\"]"
                        ))),
                    }
                }
                "postgres-version" => {
                    let text = match item.as_value() {
                        Some(toml_edit::Value::String(s)) => Some(s.value().clone()),
                        Some(toml_edit::Value::Integer(i)) => Some(i.value().to_string()),
                        _ => None,
                    };
                    match text.filter(|t| is_postgres_version(t)) {
                        Some(text) => lint.postgres_version = Some(text),
                        None => diagnostics.push(invalid(
                            "`postgres-version` in [package.metadata.migrate.lint] must be a PostgreSQL version, like 15 or \"16.2\"".into(),
                        )),
                    }
                }
                other => diagnostics.push(Diagnostic::warning(
                    path,
                    None,
                    Problem::UnknownConfigKey { key: format!("lint.{other}") },
                )),
            }
        }
        let lists = [("allow", &lint.allow), ("warn", &lint.warn), ("deny", &lint.deny)];
        for (i, (first, names)) in lists.iter().enumerate() {
            for (second, others) in &lists[i + 1..] {
                for name in names.iter().filter(|n| others.contains(n)) {
                    diagnostics.push(invalid(format!(
                        "rule `{name}` is in both `{first}` and `{second}` of [package.metadata.migrate.lint]"
                    )));
                }
            }
        }
        lint
    }
}

/// A lint rule's name: lowercase words joined by `-`.
fn is_rule_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `15`, `16.2`, `9.6.24`: a major version of 9 or more, then at most two numbers.
fn is_postgres_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() <= 3
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0].parse::<u32>().is_ok_and(|major| major >= 9)
}

impl Default for Config {
    fn default() -> Config {
        Config {
            dir: PathBuf::from(DEFAULT_DIR),
            allow_multiple_heads: false,
            database_url_env: DEFAULT_DATABASE_URL_ENV.to_owned(),
            version_table: None,
            version_schema: None,
            schema: PathBuf::from(DEFAULT_SCHEMA_FILE),
            dialect: None,
            schemas: Vec::new(),
            lint: LintConfig::default(),
            environments: Vec::new(),
        }
    }
}

/// Where a configuration was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// `[package.metadata.migrate]` of the package's Cargo.toml.
    Package,
    /// `[workspace.metadata.migrate]` of the workspace's Cargo.toml.
    Workspace,
    /// Neither table exists: the defaults.
    Default,
}

impl Config {
    /// Reads the `migrate` table of a Cargo.toml's `[package.metadata]`, or
    /// else its `[workspace.metadata]`. Problems are reported against `path`.
    pub fn from_manifest(path: &Path, text: &str) -> (Config, ConfigSource, Vec<Diagnostic>) {
        let doc: DocumentMut = match text.parse() {
            Ok(doc) => doc,
            Err(error) => {
                let problem = Problem::InvalidConfig { message: error.message().trim().to_owned() };
                return (Config::default(), ConfigSource::Default, vec![Diagnostic::error(path, None, problem)]);
            }
        };
        let table = |section: &str| doc.get(section)?.get("metadata")?.get("migrate").and_then(Item::as_table_like);
        if let Some(table) = table("package") {
            let (config, diagnostics) = Config::from_table(path, table);
            (config, ConfigSource::Package, diagnostics)
        } else if let Some(table) = table("workspace") {
            let (config, diagnostics) = Config::from_table(path, table);
            (config, ConfigSource::Workspace, diagnostics)
        } else {
            (Config::default(), ConfigSource::Default, Vec::new())
        }
    }

    /// Reads a `migrate` table.
    pub fn from_table(path: &Path, table: &dyn TableLike) -> (Config, Vec<Diagnostic>) {
        let mut config = Config::default();
        let mut diagnostics = Vec::new();
        // Read last: an environment's URL variable defaults to `database-url-env`.
        let mut environments = None;
        let invalid = |message: String| Diagnostic::error(path, None, Problem::InvalidConfig { message });
        for (key, item) in table.iter() {
            match key {
                "dir" => match item.as_str() {
                    Some(dir) if !dir.is_empty() => config.dir = PathBuf::from(dir),
                    _ => diagnostics
                        .push(invalid("`dir` in [package.metadata.migrate] must be a non-empty string".into())),
                },
                "allow-multiple-heads" => match item.as_bool() {
                    Some(allow) => config.allow_multiple_heads = allow,
                    None => diagnostics.push(invalid(
                        "`allow-multiple-heads` in [package.metadata.migrate] must be true or false".into(),
                    )),
                },
                "database-url-env" | "version-table" | "version-schema" | "schema" => match item.as_str() {
                    Some(text) if !text.is_empty() => match key {
                        "database-url-env" => config.database_url_env = text.to_owned(),
                        "version-table" => config.version_table = Some(text.to_owned()),
                        "schema" => config.schema = PathBuf::from(text),
                        _ => config.version_schema = Some(text.to_owned()),
                    },
                    _ => diagnostics
                        .push(invalid(format!("`{key}` in [package.metadata.migrate] must be a non-empty string"))),
                },
                "dialect" => match item.as_str() {
                    Some("postgres" | "postgresql") => config.dialect = Some(Dialect::Postgres),
                    Some("sqlite") => config.dialect = Some(Dialect::Sqlite),
                    Some("mysql" | "mariadb") => config.dialect = Some(Dialect::Mysql),
                    _ => diagnostics.push(invalid(
                        "`dialect` in [package.metadata.migrate] must be \"postgres\", \"sqlite\" or \"mysql\"".into(),
                    )),
                },
                "schemas" => match item.as_array().map(|a| a.iter().map(|v| v.as_str()).collect::<Option<Vec<_>>>()) {
                    Some(Some(names)) if names.iter().all(|n| !n.is_empty()) => {
                        config.schemas = names.into_iter().map(str::to_owned).collect();
                    }
                    _ => diagnostics.push(invalid(
                        "`schemas` in [package.metadata.migrate] must be a list of schema names, like [\"billing\"]"
                            .into(),
                    )),
                },
                "lint" => config.lint = LintConfig::from_item(path, item, &mut diagnostics),
                "environments" => environments = Some(item),
                other => diagnostics.push(Diagnostic::warning(
                    path,
                    None,
                    Problem::UnknownConfigKey { key: other.to_owned() },
                )),
            }
        }
        if let Some(item) = environments {
            config.environments = Environment::read_all(path, item, &config.database_url_env, &mut diagnostics);
        }
        (config, diagnostics)
    }

    /// The environment called `name`.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }
}

impl Environment {
    /// Reads `[package.metadata.migrate.environments]`, reporting problems against `path`.
    fn read_all(
        path: &Path,
        item: &Item,
        default_url_env: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Vec<Environment> {
        const TABLE: &str = "[package.metadata.migrate.environments]";
        let mut invalid = |message: String| {
            diagnostics.push(Diagnostic::error(path, None, Problem::InvalidConfig { message }));
        };
        let Some(table) = item.as_table_like() else {
            invalid(format!(
                "{TABLE} must be a table of environments, such as `[package.metadata.migrate.environments.staging]` with `url-env = \"STAGING_DATABASE_URL\"`"
            ));
            return Vec::new();
        };
        let mut environments = Vec::new();
        for (name, item) in table.iter() {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
                invalid(format!(
                    "the environment name `{name}` in {TABLE} must be letters, digits, `_`, `-` and `.` (as GitHub environments are named)"
                ));
                continue;
            }
            let Some(settings) = item.as_table_like() else {
                invalid(format!(
                    "`{name}` in {TABLE} must be a table, such as `[package.metadata.migrate.environments.{name}]` with `url-env = \"{}_DATABASE_URL\"`",
                    name.to_ascii_uppercase().replace(['-', '.'], "_")
                ));
                continue;
            };
            let mut environment = Environment {
                name: name.to_owned(),
                url_env: default_url_env.to_owned(),
                version_table: None,
                version_schema: None,
                lock_timeout: None,
            };
            for (key, value) in settings.iter() {
                let text = value.as_str().filter(|t| !t.is_empty());
                match (key, text) {
                    ("url-env", Some(variable)) if is_variable_name(variable) => {
                        environment.url_env = variable.to_owned();
                    }
                    ("url-env", _) => invalid(format!(
                        "`url-env` of the environment `{name}` must name an environment variable (a GitHub secret), such as \"STAGING_DATABASE_URL\": letters, digits and `_`, not starting with a digit or GITHUB_"
                    )),
                    ("version-table", Some(table)) => environment.version_table = Some(table.to_owned()),
                    ("version-schema", Some(schema)) => environment.version_schema = Some(schema.to_owned()),
                    ("lock-timeout", Some(text)) if parse_duration(text).is_some() => {
                        environment.lock_timeout = parse_duration(text);
                    }
                    ("lock-timeout", _) => invalid(format!(
                        "`lock-timeout` of the environment `{name}` must be a duration, such as \"30s\", \"5m\" or \"1h\""
                    )),
                    ("version-table" | "version-schema", None) => {
                        invalid(format!("`{key}` of the environment `{name}` must be a non-empty string"))
                    }
                    (other, _) => invalid(format!(
                        "unknown key `{other}` in the environment `{name}`: the keys are {}",
                        ENVIRONMENT_KEYS.map(|k| format!("`{k}`")).join(", ")
                    )),
                }
            }
            environments.push(environment);
        }
        environments
    }
}

/// An environment variable's name, as a GitHub secret can be named too.
fn is_variable_name(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !text.to_ascii_uppercase().starts_with("GITHUB_")
}

/// `500ms`, `30s`, `5m`, `1h`, `1h30m`: numbers each followed by a unit.
fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let mut total = std::time::Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).filter(|&n| n > 0)?;
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let millis = match &rest[..unit] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return None,
        };
        total += std::time::Duration::from_millis(number.checked_mul(millis)?);
        rest = &rest[unit..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_in_the_manifests_order_with_their_options() {
        let text = "[package.metadata.migrate.environments.staging]\nurl-env = \"STAGING_DATABASE_URL\"\n\
                    [package.metadata.migrate.environments.production]\nversion-table = \"schema_history\"\n\
                    version-schema = \"ops\"\nlock-timeout = \"1m30s\"\n\
                    [package.metadata.migrate]\ndatabase-url-env = \"APP_DATABASE_URL\"\n";
        let (config, _, problems) = Config::from_manifest(Path::new("Cargo.toml"), text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            config.environments,
            [
                Environment {
                    name: "staging".into(),
                    url_env: "STAGING_DATABASE_URL".into(),
                    version_table: None,
                    version_schema: None,
                    lock_timeout: None,
                },
                Environment {
                    name: "production".into(),
                    url_env: "APP_DATABASE_URL".into(),
                    version_table: Some("schema_history".into()),
                    version_schema: Some("ops".into()),
                    lock_timeout: Some(std::time::Duration::from_secs(90)),
                },
            ]
        );
    }

    #[test]
    fn every_problem_of_the_environments_is_reported() {
        let text = "[package.metadata.migrate.environments]\nloose = \"X\"\n\
                    [package.metadata.migrate.environments.\"my env\"]\n\
                    [package.metadata.migrate.environments.staging]\nurl-env = \"staging url\"\nurl_env = \"X\"\n\
                    lock-timeout = \"soon\"\nversion-table = \"\"\n";
        let (_, _, problems) = Config::from_manifest(Path::new("Cargo.toml"), text);
        let messages: Vec<String> = problems.iter().map(|d| d.problem.to_string()).collect();
        assert_eq!(
            messages,
            [
                "invalid configuration: `loose` in [package.metadata.migrate.environments] must be a table, such as `[package.metadata.migrate.environments.loose]` with `url-env = \"LOOSE_DATABASE_URL\"`",
                "invalid configuration: the environment name `my env` in [package.metadata.migrate.environments] must be letters, digits, `_`, `-` and `.` (as GitHub environments are named)",
                "invalid configuration: `url-env` of the environment `staging` must name an environment variable (a GitHub secret), such as \"STAGING_DATABASE_URL\": letters, digits and `_`, not starting with a digit or GITHUB_",
                "invalid configuration: unknown key `url_env` in the environment `staging`: the keys are `url-env`, `version-table`, `version-schema`, `lock-timeout`",
                "invalid configuration: `lock-timeout` of the environment `staging` must be a duration, such as \"30s\", \"5m\" or \"1h\"",
                "invalid configuration: `version-table` of the environment `staging` must be a non-empty string",
            ]
        );
    }

    #[test]
    fn durations() {
        let cases: [(&str, Option<u64>); 5] =
            [("500ms", Some(500)), ("30s", Some(30_000)), ("1h30m", Some(5_400_000)), ("", None), ("5", None)];
        for (text, millis) in cases {
            assert_eq!(parse_duration(text).map(|d| d.as_millis()), millis.map(u128::from), "{text}");
        }
        assert_eq!(parse_duration("3x"), None);
    }

    #[test]
    fn package_wins_over_workspace() {
        let text = "[package]\nname = \"x\"\n[package.metadata.migrate]\ndir = \"db\"\nallow-multiple-heads = true\n\
                    [workspace.metadata.migrate]\ndir = \"other\"\n";
        let (config, source, problems) = Config::from_manifest(Path::new("Cargo.toml"), text);
        assert!(problems.is_empty());
        assert_eq!(source, ConfigSource::Package);
        assert_eq!(config, Config { dir: "db".into(), allow_multiple_heads: true, ..Config::default() });
    }

    #[test]
    fn the_dialect() {
        let read = |value: &str| {
            let text = format!("[package.metadata.migrate]\ndialect = \"{value}\"\n");
            Config::from_manifest(Path::new("Cargo.toml"), &text).0.dialect
        };
        assert_eq!(
            [read("postgres"), read("postgresql"), read("sqlite"), read("mysql"), read("mariadb")],
            [
                Some(Dialect::Postgres),
                Some(Dialect::Postgres),
                Some(Dialect::Sqlite),
                Some(Dialect::Mysql),
                Some(Dialect::Mysql)
            ]
        );
    }

    #[test]
    fn schemas_to_compare() {
        let read = |value: &str| {
            let text = format!("[package.metadata.migrate]\nschemas = {value}\n");
            let (config, _, problems) = Config::from_manifest(Path::new("Cargo.toml"), &text);
            (config.schemas, problems.iter().map(Diagnostic::message).collect::<Vec<_>>())
        };
        assert_eq!(read("[\"billing\", \"audit\"]"), (vec!["billing".to_owned(), "audit".to_owned()], vec![]));
        assert_eq!(
            read("\"billing\""),
            (
                vec![],
                vec![
                    "Cargo.toml: invalid configuration: `schemas` in [package.metadata.migrate] must be a list of schema names, like [\"billing\"]"
                        .to_owned()
                ]
            )
        );
    }

    #[test]
    fn lint_settings_and_their_problems() {
        let read = |table: &str| {
            let text = format!("[package.metadata.migrate.lint]\n{table}");
            let (config, _, problems) = Config::from_manifest(Path::new("Cargo.toml"), &text);
            (config.lint, problems.iter().map(Diagnostic::message).collect::<Vec<_>>())
        };
        let (lint, problems) =
            read("allow = [\"prefer-robust-stmts\"]\nwarn = [\"ban-drop-column\"]\npostgres-version = \"16.2\"\n");
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            lint,
            LintConfig {
                allow: vec!["prefer-robust-stmts".into()],
                warn: vec!["ban-drop-column".into()],
                deny: vec![],
                postgres_version: Some("16.2".into()),
            }
        );
        assert_eq!(
            read("deny = \"ban-drop-column\"\nallow = [\"Ban Drop\"]\npostgres-version = \"fifteen\"\ncolour = 1\n").1,
            [
                "Cargo.toml: invalid configuration: `deny` in [package.metadata.migrate.lint] must be a list of rule names, like [\"ban-drop-column\"]",
                "Cargo.toml: invalid configuration: `allow` in [package.metadata.migrate.lint] must be a list of rule names, like [\"ban-drop-column\"]",
                "Cargo.toml: invalid configuration: `postgres-version` in [package.metadata.migrate.lint] must be a PostgreSQL version, like 15 or \"16.2\"",
                "Cargo.toml: unknown configuration key `lint.colour`",
            ]
        );
        assert_eq!(
            read("allow = [\"ban-drop-column\"]\ndeny = [\"ban-drop-column\"]\npostgres-version = 8\n").1,
            [
                "Cargo.toml: invalid configuration: `postgres-version` in [package.metadata.migrate.lint] must be a PostgreSQL version, like 15 or \"16.2\"",
                "Cargo.toml: invalid configuration: rule `ban-drop-column` is in both `allow` and `deny` of [package.metadata.migrate.lint]",
            ]
        );
        let (_, _, problems) = Config::from_manifest(Path::new("Cargo.toml"), "[package.metadata.migrate]\nlint = 1\n");
        assert_eq!(
            problems.iter().map(Diagnostic::message).collect::<Vec<_>>(),
            ["Cargo.toml: invalid configuration: `lint` in [package.metadata.migrate] must be a table"]
        );
        let unknown = read("colour = 1\n").1;
        assert_eq!(unknown, ["Cargo.toml: unknown configuration key `lint.colour`"]);
    }

    #[test]
    fn a_manifest_with_a_bom_is_read() {
        let text = "\u{feff}[package]\nname = \"x\"\n[package.metadata.migrate]\ndir = \"db\"\n";
        let (config, source, problems) = Config::from_manifest(Path::new("Cargo.toml"), text);
        assert_eq!((config.dir, source, problems), (PathBuf::from("db"), ConfigSource::Package, Vec::new()));
    }

    #[test]
    fn defaults_and_problems() {
        let (config, source, _) = Config::from_manifest(Path::new("Cargo.toml"), "[package]\nname = \"x\"\n");
        assert_eq!((config, source), (Config::default(), ConfigSource::Default));
        let (_, _, problems) = Config::from_manifest(
            Path::new("Cargo.toml"),
            "[workspace.metadata.migrate]\ndir = 3\ncolour = true\ndialect = \"oracle\"\n",
        );
        let messages: Vec<String> = problems.iter().map(Diagnostic::message).collect();
        assert_eq!(
            messages,
            [
                "Cargo.toml: invalid configuration: `dir` in [package.metadata.migrate] must be a non-empty string",
                "Cargo.toml: unknown configuration key `colour`",
                "Cargo.toml: invalid configuration: `dialect` in [package.metadata.migrate] must be \"postgres\", \"sqlite\" or \"mysql\"",
            ]
        );
    }
}
