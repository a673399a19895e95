//! `diff`: a live database against what the history produces at the
//! revisions that database has applied.

use std::io::Write;

use migrate_history::History;

use crate::cli::DiffArgs;
use crate::db::{chosen_url, configured, connect_to_read, workbench_error};
use crate::error::CliResult;
use crate::exit;
use crate::project::Project;
use crate::report::{Message, SchemaChangeInfo};
use crate::shell::{Shell, plural};

pub fn run(shell: &mut Shell, project: &Project, history: History, args: &DiffArgs) -> CliResult {
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let migrator = configured(project, history);
    let (mut live, _) = connect_to_read(&resolved.url)?;
    let bench = crate::models::workbench(project, args.dev_url.as_deref(), &resolved.url)?;
    let drift = bench.drift(&migrator, live.database());
    crate::models::warn_left_behind(shell)?;
    if let Err(error) = &drift {
        shell.error_places(crate::render::workbench_error(error, &project.config.schema));
    }
    let drift = drift.map_err(|e| workbench_error(e, &project.config.schema))?;
    let database = resolved.url.redacted();
    let at = crate::db::describe_heads(&drift.at);
    let count = drift.changes.len();
    for change in &drift.changes {
        if shell.json() {
            let info = SchemaChangeInfo { change: change.to_string(), destructive: change.is_destructive() };
            shell.emit(&Message::SchemaChange(info))?;
        } else {
            writeln!(shell.out(), "{change}")?;
        }
    }
    shell.emit(&Message::DiffFinished { database: database.clone(), at: drift.at.clone(), differences: count })?;
    if drift.changes.is_empty() {
        shell.status("Matches", format!("{database} is exactly what the history produces at {at}"))?;
        return Ok(exit::OK);
    }
    shell.error(format!(
        "{database} differs from what the history produces at {at}: {count} difference{}",
        plural(count)
    ))?;
    shell.help("changes made by hand, or a failed partial migration: capture them in a revision, or undo them")?;
    Ok(exit::CHECK_FAILED)
}
