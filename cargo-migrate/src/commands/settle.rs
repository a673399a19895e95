//! `stamp` and `resolve`: record what the database is at without running
//! anything, and settle a revision left failed or interrupted.

use migrate_history::Target;
use migrate_runtime::{Event, Resolution};

use crate::cli::{ResolveArgs, StampArgs};
use crate::db::{chosen_url, connect, describe_heads, engine_error, locking, migrator, waiting};
use crate::error::CliResult;
use crate::exit;
use crate::project::Project;
use crate::report::Message;
use crate::shell::Shell;

pub fn stamp(shell: &mut Shell, project: &Project, args: &StampArgs) -> CliResult {
    let migrator = locking(migrator(shell, project)?, &args.lock);
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let target = Target::parse(&args.target)?;
    let mut connection = connect(&resolved.url)?;
    let mut events = |event: Event<'_>| {
        if let Event::WaitingForLock { holder, timeout } = event {
            let _ = waiting(shell, holder, timeout);
        }
    };
    let stamped =
        migrator.stamp_observed(connection.database(), &target, args.purge, &mut events).map_err(engine_error)?;
    let (added, removed) = (stamped.added.len(), stamped.removed.len());
    let state = migrator.state(connection.database()).map_err(engine_error)?;
    shell.status(
        "Stamped",
        format!(
            "the database is at {} (recorded {added}, removed {removed}; nothing was executed)",
            describe_heads(&state.heads)
        ),
    )?;
    shell.emit(&Message::Stamped { added: stamped.added, removed: stamped.removed, current: state.heads })?;
    Ok(exit::OK)
}

pub fn resolve(shell: &mut Shell, project: &Project, args: &ResolveArgs) -> CliResult {
    let migrator = locking(migrator(shell, project)?, &args.lock);
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let mut connection = connect(&resolved.url)?;
    let mut events = |event: Event<'_>| {
        if let Event::WaitingForLock { holder, timeout } = event {
            let _ = waiting(shell, holder, timeout);
        }
    };
    let resolution = if args.applied { Resolution::Applied } else { Resolution::RolledBack };
    migrator.resolve_observed(connection.database(), &args.rev, resolution, &mut events).map_err(engine_error)?;
    let what = if args.applied { "recorded as applied" } else { "forgotten (rolled back by hand)" };
    shell.status("Resolved", format!("{} {what}", args.rev))?;
    let resolution = if args.applied { "applied" } else { "rolled-back" };
    shell.emit(&Message::Resolved { id: args.rev.clone(), resolution })?;
    Ok(exit::OK)
}
