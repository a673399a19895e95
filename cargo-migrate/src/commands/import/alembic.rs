//! `import --from alembic`: the project's own Python runs Alembic offline
//! over every revision (`render.py`, one upgrade and one downgrade walk
//! through the project's env.py), and `migrate_history::import::alembic`
//! turns what each revision rendered, or raised, into revisions.

use std::path::{Path, PathBuf};
use std::process::Command;

use migrate_history::Dialect;
use migrate_history::import::Imported;
use migrate_history::import::alembic::{Rendered, Script, convert};
use serde::Deserialize;

use crate::cli::{DialectArg, ImportArgs};
use crate::error::CliError;
use crate::project::{Project, shown_path};
use crate::shell::Shell;

/// The driver, run with `python -c`.
const RENDER: &str = include_str!("render.py");

/// Renders and converts the Alembic project that `args` name; returns the
/// history and the project directory as shown.
pub fn imported(shell: &mut Shell, project: &Project, args: &ImportArgs) -> Result<(Imported, PathBuf), CliError> {
    let cwd = std::env::current_dir().map_err(|e| CliError::io("read", Path::new("."), e))?;
    let source = cwd.join(args.source.as_deref().unwrap_or(Path::new(".")));
    let ini = match &args.alembic_ini {
        Some(ini) => cwd.join(ini),
        None => source.join("alembic.ini"),
    };
    if !ini.is_file() {
        return Err(CliError::usage(format!("{} is not a file", shown_path(&ini).display())).with_help(
            "pass the Alembic project's directory as SOURCE_DIR, or its configuration with `--alembic-ini PATH`",
        ));
    }
    let dialect = dialect(project, args.dialect)?;
    let python = args.python.clone().unwrap_or_else(default_python);
    let rendered = render(&python, &ini, dialect)?;
    if let Some(table) = rendered.version_tables.iter().find(|t| *t != "alembic_version") {
        shell.warn(format!(
            "env.py keeps Alembic's versions in `{table}`; `adopt --from alembic` reads `alembic_version` only"
        ))?;
    }
    let project_dir = ini.parent().unwrap_or(&source);
    let scripts: Vec<Script> =
        rendered.scripts.into_iter().map(|s| s.into_script(project_dir)).collect::<Result<_, _>>()?;
    let imported = convert(&scripts, dialect).map_err(|e| {
        CliError::usage(format!("cannot import {}: {e}", shown_path(&ini).display()))
            .with_help("fix the revision script and import again")
    })?;
    let shown = shown_path(project_dir);
    Ok((imported, if shown.as_os_str().is_empty() { PathBuf::from(".") } else { shown }))
}

/// `--dialect`, checked against the history's `dialect` setting.
fn dialect(project: &Project, chosen: Option<DialectArg>) -> Result<Dialect, CliError> {
    let chosen = chosen.map(DialectArg::dialect);
    match (chosen, project.config.dialect) {
        (Some(chosen), Some(setting)) if chosen != setting => Err(CliError::usage(format!(
            "--dialect {} contradicts the history's `dialect` setting ({})",
            chosen.name(),
            setting.name()
        ))
        .with_help("the revisions are written for one database; drop --dialect")),
        (chosen, setting) => Ok(chosen.or(setting).unwrap_or(Dialect::Postgres)),
    }
}

/// The active virtual environment's Python, else `python3`.
fn default_python() -> PathBuf {
    match std::env::var_os("VIRTUAL_ENV") {
        Some(venv) => Path::new(&venv).join("bin/python"),
        None => PathBuf::from("python3"),
    }
}

/// What render.py writes.
#[derive(Deserialize)]
struct Output {
    /// Set when Alembic could not be imported.
    error: Option<String>,
    message: Option<String>,
    #[serde(default)]
    dialects: Vec<String>,
    #[serde(default)]
    version_tables: Vec<String>,
    #[serde(default)]
    contexts: usize,
    #[serde(default)]
    failures: Vec<Failure>,
    #[serde(default)]
    scripts: Vec<ScriptOutput>,
}

#[derive(Deserialize)]
struct Failure {
    direction: String,
    error: String,
    traceback: String,
}

#[derive(Deserialize)]
struct ScriptOutput {
    revision: String,
    down_revisions: Vec<String>,
    branch_labels: Vec<String>,
    depends_on: Vec<String>,
    message: String,
    path: PathBuf,
    source: String,
    upgrade: Option<RenderedOutput>,
    downgrade: Option<RenderedOutput>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RenderedOutput {
    Sql { sql: String, commits: bool },
    Raised { error: String, line: Option<usize>, on_purpose: bool },
}

impl ScriptOutput {
    /// The script, its path relative to the project's directory (as the
    /// other tools' files are shown relative to SOURCE_DIR).
    fn into_script(self, project_dir: &Path) -> Result<Script, CliError> {
        let relative = self.path.strip_prefix(project_dir).unwrap_or(&self.path);
        let path = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        let rendered = |output: Option<RenderedOutput>, function: &str| match output {
            Some(RenderedOutput::Sql { sql, commits }) => Ok(Rendered::Sql { sql, commits }),
            Some(RenderedOutput::Raised { error, line, on_purpose }) => {
                Ok(Rendered::Raised { error: masked(&error), line, on_purpose })
            }
            None => Err(CliError::failure(format!(
                "Alembic never ran {function}() of {path} (revision `{}`): it is not on the way from base to the heads",
                self.revision
            ))),
        };
        Ok(Script {
            upgrade: rendered(self.upgrade, "upgrade")?,
            downgrade: rendered(self.downgrade, "downgrade")?,
            revision: self.revision,
            down_revisions: self.down_revisions,
            branch_labels: self.branch_labels,
            depends_on: self.depends_on,
            message: self.message,
            path,
            source: self.source,
        })
    }
}

/// Runs render.py with `python` in the directory of `ini` (env.py imports
/// the project's modules from there).
fn render(python: &Path, ini: &Path, dialect: Dialect) -> Result<Output, CliError> {
    let out = tempfile::Builder::new()
        .prefix("cargo-migrate-alembic")
        .suffix(".json")
        .tempfile()
        .map_err(|e| CliError::failure(format!("cannot create a temporary file: {e}")))?;
    let dir = ini.parent().unwrap_or(Path::new("."));
    let ran = Command::new(python)
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("-c")
        .arg(RENDER)
        .arg(ini)
        .arg(dialect.key())
        .arg(out.path())
        .output()
        .map_err(|e| {
            CliError::usage(format!("cannot run {}: {e}", python.display()))
                .with_help("activate the Alembic project's virtual environment, or pass `--python PATH`")
        })?;
    let text = std::fs::read_to_string(out.path()).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&ran.stderr);
    if !ran.status.success() || text.is_empty() {
        return Err(CliError::failure(format!(
            "{} could not render the Alembic project {}:\n{}",
            python.display(),
            shown_path(ini).display(),
            last_lines(&stderr, 20)
        ))
        .with_help("run `alembic upgrade head --sql` in the project to see the same error"));
    }
    let output: Output =
        serde_json::from_str(&text).map_err(|e| CliError::failure(format!("cannot read what render.py wrote: {e}")))?;
    if output.error.is_some() {
        return Err(CliError::usage(format!(
            "{} cannot import alembic: {}",
            python.display(),
            output.message.as_deref().unwrap_or("")
        ))
        .with_help("activate the Alembic project's virtual environment, or pass `--python PATH`"));
    }
    if let Some(failure) = output.failures.first() {
        return Err(CliError::failure(format!(
            "Alembic's offline {} of {} failed outside any revision: {}\n{}",
            failure.direction,
            shown_path(ini).display(),
            masked(&failure.error),
            last_lines(&failure.traceback, 12)
        ))
        .with_help(format!(
            "env.py must run offline (`alembic {} --sql`); fix what the traceback shows",
            if failure.direction == "upgrade" { "upgrade base:heads" } else { "downgrade heads:base" }
        )));
    }
    if output.contexts > 2 {
        return Err(CliError::usage(format!(
            "env.py of {} migrates several databases in one run (as Alembic's multidb template does), each with its own revisions' functions",
            shown_path(ini).display()
        ))
        .with_help("import one database's history at a time: point `--alembic-ini` at a configuration whose env.py migrates one database"));
    }
    // SQLAlchemy's names.
    let expected = match dialect {
        Dialect::Postgres => "postgresql",
        other => other.key(),
    };
    if output.dialects.iter().any(|d| d != expected) {
        let rendered: Vec<&str> = output
            .dialects
            .iter()
            .map(|d| match d.as_str() {
                "postgresql" => "PostgreSQL",
                "sqlite" => "SQLite",
                other => other,
            })
            .collect();
        return Err(CliError::usage(format!(
            "env.py rendered the revisions for {}, not {}: it takes its database URL from elsewhere than `sqlalchemy.url` (such as DATABASE_URL)",
            rendered.join(", "),
            dialect.name()
        ))
        .with_help(format!(
            "pass `--dialect {}`, or point env.py's URL at a {} database while importing",
            if output.dialects.iter().any(|d| d == "sqlite") { "sqlite" } else { "postgres" },
            dialect.name()
        )));
    }
    Ok(output)
}

/// The last `n` lines of what Python printed, with any password in a URL
/// masked (env.py's `DATABASE_URL` can be in a traceback).
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|line| masked(line)).collect::<Vec<_>>().join("\n")
}

/// `line` with the password of any URL in it masked.
fn masked(line: &str) -> String {
    line.split(' ')
        .map(|word| if word.contains("://") { migrate_runtime::url::redact(word) } else { word.to_owned() })
        .collect::<Vec<_>>()
        .join(" ")
}
