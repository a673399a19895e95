//! `[package.metadata.migrate]` (or `[workspace.metadata.migrate]`) in Cargo.toml.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, TableLike};

use crate::sql::Dialect;
use crate::{Diagnostic, Problem};

/// Keys understood in `[package.metadata.migrate]`.
pub const CONFIG_KEYS: [&str; 8] = [
    "dir",
    "allow-multiple-heads",
    "database-url-env",
    "version-table",
    "version-schema",
    "schema",
    "dialect",
    "environments",
];

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
                    _ => diagnostics.push(invalid(
                        "`dialect` in [package.metadata.migrate] must be \"postgres\" or \"sqlite\"".into(),
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
                // The GitHub environments of `cargo migrate init --ci github`, which reads them itself.
                "environments" if item.is_table_like() => {}
                "environments" => diagnostics.push(invalid(
                    "`environments` in [package.metadata.migrate] must be a table of environments".into(),
                )),
                other => diagnostics.push(Diagnostic::warning(
                    path,
                    None,
                    Problem::UnknownConfigKey { key: other.to_owned() },
                )),
            }
        }
        (config, diagnostics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            [read("postgres"), read("postgresql"), read("sqlite")],
            [Some(Dialect::Postgres), Some(Dialect::Postgres), Some(Dialect::Sqlite)]
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
            "[workspace.metadata.migrate]\ndir = 3\ncolour = true\ndialect = \"mysql\"\n",
        );
        let messages: Vec<String> = problems.iter().map(Diagnostic::message).collect();
        assert_eq!(
            messages,
            [
                "Cargo.toml: invalid configuration: `dir` in [package.metadata.migrate] must be a non-empty string",
                "Cargo.toml: unknown configuration key `colour`",
                "Cargo.toml: invalid configuration: `dialect` in [package.metadata.migrate] must be \"postgres\" or \"sqlite\"",
            ]
        );
    }
}
