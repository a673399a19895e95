//! The models (`schema.sql`) and the scratch databases they are compared
//! on, for `generate`, `check` and `diff`: reading the file and rendering
//! the workbench's results; the comparing is migrate-runtime's.

use std::io::Write;
use std::path::PathBuf;

use migrate_history::{Diagnostic, Problem};
use migrate_runtime::schema::{Change, Generated, RenderOptions};
use migrate_runtime::workbench::{Workbench, WorkbenchError, drop_every_scratch, scratch_left_behind};
use migrate_runtime::{DatabaseUrl, Migrator};

use crate::db::{parse_url, workbench_error};
use crate::error::CliError;
use crate::project::{Project, shown_path};
use crate::report::{Message, SchemaChangeInfo};
use crate::shell::Shell;

/// The workbench on `--dev-url`, else on the database's own server (SQLite:
/// in memory), with scratch databases dropped on Ctrl-C.
pub fn workbench(project: &Project, dev: Option<&str>, database: &DatabaseUrl) -> Result<Workbench, CliError> {
    crate::interrupt::on_exit(drop_scratch_on_exit);
    let server = match dev {
        Some(text) => parse_url(text, "--dev-url")?,
        None => database.clone(),
    };
    Ok(Workbench::new(&server).schemas(&project.config.schemas))
}

/// [`workbench`], refused when its scratch databases are not of the
/// configured `dialect` (`verify`, `squash`).
pub fn workbench_in_dialect(
    project: &Project,
    dev: Option<&str>,
    database: &DatabaseUrl,
) -> Result<Workbench, CliError> {
    let bench = workbench(project, dev, database)?;
    if let Some(dialect) = project.config.dialect
        && dialect != bench.dialect()
    {
        return Err(CliError::usage(format!(
            "the history is written for {}, but the scratch databases would be {}: {}",
            dialect.name(),
            bench.dialect().name(),
            bench.describe()
        ))
        .with_help(format!("pass `--dev-url` with a {} server", dialect.name())));
    }
    Ok(bench)
}

/// Run by the Ctrl-C handler before the process exits.
fn drop_scratch_on_exit() {
    for left in drop_every_scratch() {
        eprintln!("warning: {left}; drop it by hand");
    }
    eprintln!("interrupted: scratch databases dropped");
}

/// Warns about scratch databases that could not be dropped.
pub fn warn_left_behind(shell: &mut Shell) -> std::io::Result<()> {
    for left in scratch_left_behind() {
        shell.warn(format!("{left}; drop it by hand"))?;
    }
    Ok(())
}

/// What a workbench call comparing a database with the history gave, for
/// the CLI: scratch databases it could not drop warned of, its error shown
/// with the models file's lines (`diff`, `adopt`).
pub fn compared<T>(shell: &mut Shell, project: &Project, result: Result<T, WorkbenchError>) -> Result<T, CliError> {
    warn_left_behind(shell)?;
    if let Err(error) = &result {
        shell.error_places(crate::render::workbench_error(error, &project.config.schema));
    }
    result.map_err(|e| workbench_error(e, &project.config.schema))
}

/// Each difference: a `schema-change` JSON message, or a line on stdout.
pub fn print_changes(shell: &mut Shell, changes: &[Change]) -> std::io::Result<()> {
    for change in changes {
        if shell.json() {
            shell.emit(&Message::SchemaChange(SchemaChangeInfo::from(change)))?;
        } else {
            writeln!(shell.out(), "{change}")?;
        }
    }
    Ok(())
}

/// The models file as shown, and its text.
fn read(project: &Project) -> (PathBuf, Result<String, CliError>) {
    let shown = shown_path(&project.base.join(&project.config.schema));
    let text = std::fs::read_to_string(&shown).map_err(|e| {
        CliError::usage(format!("could not read the models {}: {e}", shown.display())).with_help(
            "write the CREATE TABLE, CREATE INDEX and CREATE TYPE statements the application expects there, or set `schema` in [package.metadata.migrate]",
        )
    });
    (shown, text)
}

/// The models file as shown and its text, or `None` when there is none.
pub fn read_if_present(project: &Project) -> Result<Option<(PathBuf, String)>, CliError> {
    if !project.base.join(&project.config.schema).is_file() {
        return Ok(None);
    }
    let (shown, text) = read(project);
    Ok(Some((shown, text?)))
}

/// Up and down SQL for a new revision, or `None` when the models match the history.
pub fn autogenerate(
    shell: &mut Shell,
    project: &Project,
    migrator: &Migrator,
    bench: &Workbench,
    options: &RenderOptions,
) -> Result<Option<Generated>, CliError> {
    let (shown, text) = read(project);
    let text = text?;
    let bench = bench.clone().models_name(shown.display().to_string());
    let generated = bench.generate_with(migrator, &text, options);
    if let Err(error) = &generated {
        shell.error_places(crate::render::workbench_error(error, &shown));
    }
    let generated = generated.map_err(|e| workbench_error(e, &shown));
    warn_left_behind(shell)?;
    let Some(generated) = generated? else { return Ok(None) };
    for change in &generated.changes {
        let verb = if change.is_destructive() { "Destructive" } else { "Detected" };
        shell.status(verb, change)?;
    }
    Ok(Some(generated))
}

/// The models half of `check`: every difference between `schema.sql` and the
/// history, or nothing when there is no `schema.sql`.
pub fn check(
    shell: &mut Shell,
    project: &Project,
    migrator: &Migrator,
    database: &DatabaseUrl,
) -> Result<Vec<Diagnostic>, CliError> {
    if !project.base.join(&project.config.schema).is_file() {
        return Ok(Vec::new());
    }
    let (shown, text) = read(project);
    let text = text?;
    let bench = workbench(project, None, database)?.models_name(shown.display().to_string());
    let changes = bench.check_models(migrator, &text);
    if let Err(error) = &changes {
        shell.error_places(crate::render::workbench_error(error, &shown));
    }
    let changes = changes.map_err(|e| workbench_error(e, &shown));
    warn_left_behind(shell)?;
    Ok(changes?
        .iter()
        .map(|change| Diagnostic::error(&shown, None, Problem::ModelsDiffer { change: change.to_string() }))
        .collect())
}

/// The baseline half of `check`: each baseline (`replaces` header) proved
/// on a scratch database to build the schema and rows of the revisions it
/// replaces (migrate-runtime's `Workbench::prove_baseline`); one error per
/// difference, on the baseline's file.
pub fn baselines(
    shell: &mut Shell,
    project: &Project,
    migrator: &Migrator,
    database: &DatabaseUrl,
) -> Result<Vec<Diagnostic>, CliError> {
    let history = migrator.history();
    let baselines: Vec<usize> = (0..history.len()).filter(|&b| history.is_baseline(b)).collect();
    if baselines.is_empty() {
        return Ok(Vec::new());
    }
    let bench = workbench(project, None, database)?;
    let mut problems = Vec::new();
    for b in baselines {
        let rev = history.revision(b);
        let proof = compared(shell, project, bench.prove_baseline(migrator, &rev.id))?;
        let differences =
            proof.changes.iter().map(ToString::to_string).chain(proof.rows.iter().map(|(table, old, new)| {
                format!("the rows of {table} differ ({old} after the replaced revisions, {new} after the baseline)")
            }));
        for difference in differences {
            let problem = Problem::BaselineDiffers { id: rev.id.clone(), difference };
            problems.push(Diagnostic::error(&rev.file.path, Some(rev.lines.replaces), problem));
        }
    }
    Ok(problems)
}
