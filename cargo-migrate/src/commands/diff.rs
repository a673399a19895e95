//! `diff`: a live database against what the history produces at the
//! revisions that database has applied.

use migrate_history::History;

use crate::cli::DiffArgs;
use crate::db::{chosen_url, configured, connect_to_read};
use crate::error::CliResult;
use crate::exit;
use crate::project::Project;
use crate::report::Message;
use crate::shell::{Shell, plural};

pub fn run(shell: &mut Shell, project: &Project, history: History, args: &DiffArgs) -> CliResult {
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let migrator = configured(project, history);
    let (mut live, _) = connect_to_read(&resolved.url)?;
    let bench = crate::models::workbench(project, args.dev_url.as_deref(), &resolved.url)?;
    let drift = crate::models::compared(shell, project, bench.drift(&migrator, live.database()))?;
    let database = resolved.url.redacted();
    let at = crate::db::describe_heads(&drift.at);
    let count = drift.changes.len();
    crate::models::print_changes(shell, &drift.changes)?;
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
