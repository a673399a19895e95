//! Every use `release` makes of migrate-runtime, kept in one place.

use migrate_history::{Config, Dialect, History, Range};
use migrate_runtime::workbench::Workbench;
use migrate_runtime::{DatabaseUrl, Migrator};

/// The offline upgrade script of `range` for `dialect`, as `cargo migrate sql` writes it.
pub fn script(history: &History, config: &Config, dialect: Dialect, range: &Range) -> Result<String, String> {
    let migrator = Migrator::new(history.clone()).configured(config);
    migrator.script(range, dialect).map_err(|e| format!("writing the {} script: {e}", dialect.name()))
}

/// What differs between the models (`schema.sql`, its text) and what the
/// history produces at its heads, compared on in-memory SQLite databases as
/// `cargo migrate check` does: one line per difference, none when they agree.
pub fn models_differences(history: &History, config: &Config, models: &str) -> Result<Vec<String>, String> {
    let migrator = Migrator::new(history.clone()).configured(config);
    let bench = Workbench::new(&DatabaseUrl::Sqlite { path: None });
    let changes = bench.check_models(&migrator, models).map_err(|e| match e {
        migrate_runtime::workbench::WorkbenchError::Models { line, message, .. } => {
            format!("{}:{line}: {message}", config.schema.display())
        }
        other => other.to_string(),
    })?;
    Ok(changes.iter().map(ToString::to_string).collect())
}
