//! `adopt --from TOOL`: a database another tool migrated. Reads which of
//! its migrations the tool's own table records as applied
//! (`migrate_runtime::adopt`), maps them onto the revisions imported from
//! it, checks the live schema against what those revisions produce, and
//! records them as `adopted`, `applied_by` ending `(adopted from TOOL)`, in
//! one transaction. The other tool's table is left as it is.

use std::io::Write;

use migrate_runtime::Event;
use migrate_runtime::adopt::{map_applied, read_peer};

use crate::cli::AdoptArgs;
use crate::db::{chosen_url, connect, describe_heads, engine_error, locking, migrator, waiting};
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::project::Project;
use crate::report::Message;
use crate::shell::{Shell, plural};

pub fn run(shell: &mut Shell, project: &Project, args: &AdoptArgs) -> CliResult {
    let tool = args.from;
    let migrator = locking(migrator(shell, project)?, &args.lock);
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let mut connection = connect(&resolved.url)?;
    let refused = |message: String, help: String| CliError { message, help: Some(help), exit_code: exit::REFUSED };
    let peer = read_peer(connection.database(), tool)
        .map_err(|e| refused(format!("cannot adopt from {tool}: {e}"), "nothing was recorded".to_owned()))?;
    let ids = map_applied(migrator.history(), &peer).map_err(|e| {
        refused(
            format!("cannot adopt from {tool}: {e}"),
            format!("nothing was recorded; `import --from {tool}` the history the database was migrated with"),
        )
    })?;
    let at = describe_heads(&ids.last().cloned().into_iter().collect::<Vec<_>>());
    // Adopted before (and perhaps upgraded since): nothing to compare or record.
    let state = migrator.state(connection.database()).map_err(engine_error)?;
    if ids.iter().all(|id| state.is_applied(id)) {
        shell.status(
            "Adopted",
            format!(
                "nothing to record: the {} revision{} {} shows applied ({at}) are recorded already",
                ids.len(),
                plural(ids.len()),
                peer.table
            ),
        )?;
        shell.emit(&Message::Adopted {
            from: tool.name(),
            table: peer.table,
            revisions: ids,
            recorded: Vec::new(),
            dry_run: args.dry_run,
        })?;
        return Ok(exit::OK);
    }

    // The comparison replays the history: a revision still to be written cannot be.
    let history = migrator.history();
    if let Some(rev) = ids.iter().filter_map(|id| history.get(id)).find(|rev| rev.needs_sql.up) {
        return Err(refused(
            format!(
                "cannot adopt from {tool}: revision `{}` ({}) has no SQL yet for its up section (`-- needs-sql`), and adopting replays the history to compare its schema with this database's",
                rev.id,
                rev.file.path.display()
            ),
            "nothing was recorded; write the revision's SQL from what it quotes, remove `up` from its `-- needs-sql` line, pin it with `cargo migrate lock`, and adopt again".to_owned(),
        ));
    }
    let bench = crate::models::workbench(project, args.dev_url.as_deref(), &resolved.url)?;
    let drift = bench.drift_at(&migrator, connection.database(), &ids, &[peer.table]);
    let drift = crate::models::compared(shell, project, drift)?;
    let database = resolved.url.redacted();
    crate::models::print_changes(shell, &drift.changes)?;
    let count = drift.changes.len();
    if count > 0 {
        let differs =
            format!("{database} differs from what the history produces at {at}: {count} difference{}", plural(count));
        if !args.accept_drift {
            return Err(refused(
                format!("cannot adopt from {tool}: {differs}"),
                "nothing was recorded; undo the differences, or record the revisions anyway with --accept-drift"
                    .to_owned(),
            ));
        }
        shell.warn(format!("{differs}; recording anyway (--accept-drift)"))?;
    }

    let n = ids.len();
    if args.dry_run {
        shell.status(
            "Would adopt",
            format!("{n} revision{} from {} ({at}); nothing was recorded (--dry-run)", plural(n), peer.table),
        )?;
        if !shell.json() {
            for id in &ids {
                writeln!(shell.out(), "{id}")?;
            }
        }
        shell.emit(&Message::Adopted {
            from: tool.name(),
            table: peer.table,
            revisions: ids,
            recorded: Vec::new(),
            dry_run: true,
        })?;
        return Ok(exit::OK);
    }
    let mut events = |event: Event<'_>| {
        if let Event::WaitingForLock { holder, timeout } = event {
            let _ = waiting(shell, holder, timeout);
        }
    };
    let provenance = format!("adopted from {tool}");
    let report =
        migrator.adopt_observed(connection.database(), &ids, &provenance, &mut events).map_err(engine_error)?;
    let recorded = report.added.len();
    shell.status(
        "Adopted",
        format!(
            "{n} revision{} from {} ({at}): recorded {recorded}, nothing was executed; {} was left as it is",
            plural(n),
            peer.table,
            peer.table
        ),
    )?;
    shell.emit(&Message::Adopted {
        from: tool.name(),
        table: peer.table,
        revisions: ids,
        recorded: report.added,
        dry_run: false,
    })?;
    Ok(exit::OK)
}
