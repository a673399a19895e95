//! Every use `release` makes of migrate-runtime, kept in one place.

use migrate_history::{Config, Dialect, History, Range};
use migrate_runtime::schema::{diff, introspect};
use migrate_runtime::{Database, Migrator, rusqlite};

/// A migrator with the project's version-table settings, as the CLI makes it.
fn migrator(history: &History, config: &Config) -> Migrator {
    let mut migrator = Migrator::new(history.clone());
    if let Some(table) = &config.version_table {
        migrator = migrator.version_table(table);
    }
    if let Some(schema) = &config.version_schema {
        migrator = migrator.version_schema(schema);
    }
    migrator
}

/// The offline upgrade script of `range` for `dialect`, as `cargo migrate sql` writes it.
pub fn script(history: &History, config: &Config, dialect: Dialect, range: &Range) -> Result<String, String> {
    migrator(history, config).script(range, dialect).map_err(|e| format!("writing the {} script: {e}", dialect.name()))
}

/// What differs between the models (`schema.sql`, its text) and what the
/// history produces at its heads, compared on in-memory SQLite databases as
/// `cargo migrate check` does: one line per difference, none when they agree.
///
/// This is the models half of `check`, built from migrate-runtime's public
/// pieces (`Migrator::run`, `schema::introspect`, `schema::diff`) until
/// it moves into the runtime as a function of its own.
pub fn models_differences(history: &History, config: &Config, models: &str) -> Result<Vec<String>, String> {
    let memory = || rusqlite::Connection::open_in_memory().map_err(|e| format!("an in-memory SQLite database: {e}"));
    let migrator = migrator(history, config);
    let exclude = migrator.table(Dialect::Sqlite).name;
    let mut replayed = memory()?;
    migrator.run(&mut replayed).map_err(|e| format!("replaying the history on SQLite: {e}"))?;
    let produced = introspect(&mut replayed, &exclude).map_err(|e| format!("introspecting the history: {e}"))?;
    let mut loaded = memory()?;
    let statements = migrate_history::sql::split(models, Dialect::Sqlite)
        .map_err(|e| format!("{}:{}: {e}", config.schema.display(), migrate_history::sql::line_at(models, e.offset)))?;
    for statement in statements {
        Database::execute_batch(&mut loaded, statement.text).map_err(|e| {
            let line = migrate_history::sql::line_at(models, statement.offset + e.offset.unwrap_or(0));
            format!("{}:{line}: {}", config.schema.display(), e.message)
        })?;
    }
    let expected = introspect(&mut loaded, &exclude).map_err(|e| format!("introspecting the models: {e}"))?;
    Ok(diff(&produced, &expected).iter().map(ToString::to_string).collect())
}
