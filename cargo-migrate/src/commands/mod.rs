//! One module per command; shared rendering of revisions.

mod adopt;
mod check;
mod diff;
mod fleet;
mod import;
mod init;
mod inspect;
mod lint;
mod list;
mod lock;
mod migrate;
mod new;
mod settle;
mod squash;
mod verify;

use std::io::Write;

use migrate_history::{Analysis, Direction, History, Options, Problem, Revision};

use crate::cli::{Command, MigrateArgs};
use crate::error::{CliError, CliResult};
use crate::project::{Project, Selection};
use crate::report::{AllowInfo, Message, RevisionInfo};
use crate::shell::{Shell, Verbosity};

/// Runs a command; `Ok` carries the exit code.
pub fn run(shell: &mut Shell, mut args: MigrateArgs) -> CliResult {
    let selection =
        Selection { manifest_path: args.global.manifest_path, package: args.global.package, dir: args.global.dir };
    if let Command::Init(init) = &args.command {
        return init::run(shell, &selection, init);
    }
    // `import --into DIR` says where the history goes: no cargo project is needed.
    let selection = match &args.command {
        Command::Import(import) if selection.dir.is_none() && selection.manifest_path.is_none() => {
            Selection { dir: import.into.clone(), ..selection }
        }
        _ => selection,
    };
    let project = Project::locate(&selection)?;
    // `--env NAME`: that environment's URL variable, version table and lock timeout.
    let project = match args.command.db().and_then(|db| db.env.clone()) {
        Some(name) => {
            let project = project.in_environment(&name)?;
            let timeout = project.config.environment(&name).and_then(|e| e.lock_timeout);
            if let (Some(timeout), Some(lock)) = (timeout, args.command.lock_mut()) {
                lock.lock_timeout.get_or_insert(timeout);
            }
            project
        }
        None => project,
    };
    if let Some(fleet) = args.command.fleet()
        && !fleet.is_fleet()
        && !matches!(&args.command, Command::Status(status) if status.all_envs)
    {
        fleet.refuse_without_targets()?;
    }
    match &args.command {
        Command::Init(_) => unreachable!("handled above"),
        Command::New(new) => new::new(shell, &project, new, new.autogenerate),
        Command::Generate(new) => new::new(shell, &project, new, true),
        Command::Merge(merge) => new::merge(shell, &project, merge),
        Command::History(history) => list::history(shell, &project, history),
        Command::Heads(heads) => list::heads(shell, &project, heads),
        Command::Branches(branches) => list::branches(shell, &project, branches),
        Command::Show(show) => list::show(shell, &project, show),
        Command::Lock(lock) => lock::run(shell, &project, lock),
        Command::Import(args) => import::run(shell, &project, args),
        Command::Adopt(args) => adopt::run(shell, &project, args),
        Command::Check(check) if check.fleet.is_fleet() => fleet::check(shell, &project, &check.db, &check.fleet),
        Command::Check(check) => check::run(shell, &project, check),
        Command::Lint(lint) => lint::run(shell, &project, lint),
        Command::Upgrade(args) if args.fleet.is_fleet() => fleet::migrate(
            shell,
            &project,
            fleet::Migrate {
                direction: Direction::Upgrade,
                target: &args.target,
                sql: args.sql,
                dry_run: args.dry_run,
                db: &args.db,
                fleet: &args.fleet,
                lock: &args.lock,
            },
        ),
        Command::Downgrade(args) if args.fleet.is_fleet() => fleet::migrate(
            shell,
            &project,
            fleet::Migrate {
                direction: Direction::Downgrade,
                target: &args.target,
                sql: args.sql,
                dry_run: args.dry_run,
                db: &args.db,
                fleet: &args.fleet,
                lock: &args.lock,
            },
        ),
        Command::Upgrade(args) => migrate::upgrade(shell, &project, args),
        Command::Downgrade(args) => migrate::downgrade(shell, &project, args),
        Command::Sql(args) => migrate::sql(shell, &project, args),
        Command::Current(args) => inspect::current(shell, &project, args),
        Command::Status(args) if args.all_envs => fleet::status_all_envs(shell, &project, &args.fleet),
        Command::Status(args) if args.fleet.is_fleet() => fleet::status(shell, &project, &args.db, &args.fleet),
        Command::Status(args) => inspect::status(shell, &project, &args.db),
        Command::Stamp(args) => settle::stamp(shell, &project, args),
        Command::Resolve(args) => settle::resolve(shell, &project, args),
        Command::Diff(args) => {
            let analysis = project.analyze(Options { allow_multiple_heads: true, require_pinned: false });
            if analysis.has_errors() {
                return report_problems(shell, &analysis);
            }
            diff::run(shell, &project, analysis.history, args)
        }
        Command::Squash(args) => squash::run(shell, &project, args),
        Command::Verify(args) => {
            // Several heads are verify's own finding; drafts are `check`'s business.
            let analysis = project.analyze(Options { allow_multiple_heads: true, require_pinned: false });
            if analysis.has_errors() {
                return report_problems(shell, &analysis);
            }
            verify::run(shell, &project, analysis.history, args)
        }
    }
}

/// A revision as one JSON message (`reason: "revision"`).
fn revision_message(analysis: &Analysis, index: usize) -> Message {
    let history = &analysis.history;
    let rev = history.revision(index);
    Message::Revision(Box::new(RevisionInfo {
        id: rev.id.clone(),
        parents: rev.parents.clone(),
        children: history.ids(history.children(index)),
        message: rev.message.clone(),
        created: rev.created.clone(),
        branch_labels: rev.branch_labels.clone(),
        depends_on: rev.depends_on.clone(),
        path: rev.file.path.display().to_string(),
        checksum: rev.checksum.to_string(),
        pinned: analysis.lock.is_pinned(&rev.id),
        transaction: rev.transaction,
        reversible: rev.is_reversible(),
        head: history.is_head(index),
        branch_point: history.is_branch_point(index),
        merge_point: history.is_merge_point(index),
        extra: rev.extra.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        allow: rev.allow.iter().map(|a| AllowInfo { rule: a.rule.clone(), reason: a.reason.clone() }).collect(),
        imported_from: rev.imported_from.clone(),
        needs_sql: [("up", rev.needs_sql.up), ("down", rev.needs_sql.down)]
            .into_iter()
            .filter_map(|(section, needed)| needed.then_some(section))
            .collect(),
        replaces: rev.replaces.clone(),
        replaced_by: history.replaced_by(index).map(|b| history.revision(b).id.clone()),
    }))
}

/// Alembic's one-line form: `parent -> id (head), message`.
fn revision_line(history: &History, index: usize) -> String {
    let rev = history.revision(index);
    let parents = match rev.parents.as_slice() {
        [] => "<base>".to_owned(),
        [one] => one.clone(),
        several => format!("({})", several.join(", ")),
    };
    format!("{parents} -> {}{}, {}", rev.id, flags(history, index), rev.message)
}

/// ` (label) (head) (branchpoint) (mergepoint)`.
fn flags(history: &History, index: usize) -> String {
    let rev = history.revision(index);
    let mut flags = String::new();
    for label in &rev.branch_labels {
        flags.push_str(&format!(" ({label})"));
    }
    if history.is_head(index) {
        flags.push_str(" (head)");
    }
    if history.is_branch_point(index) {
        flags.push_str(" (branchpoint)");
    }
    if history.is_merge_point(index) {
        flags.push_str(" (mergepoint)");
    }
    if history.is_baseline(index) {
        flags.push_str(&format!(" (baseline of {})", history.ids(history.replaced(index)).join(", ")));
    }
    if !rev.replaces.is_empty() && !history.is_baseline(index) {
        flags.push_str(" (baseline, its replaced revisions pruned)");
    }
    if let Some(baseline) = history.replaced_by(index) {
        flags.push_str(&format!(" (replaced by {})", history.revision(baseline).id));
    }
    flags
}

/// Every field of a revision, as `history -v` and `show` print it.
fn revision_block(out: &mut impl Write, analysis: &Analysis, index: usize) -> std::io::Result<()> {
    let history = &analysis.history;
    let rev: &Revision = history.revision(index);
    writeln!(out, "Rev: {}{}", rev.id, flags(history, index))?;
    match rev.parents.as_slice() {
        [] => writeln!(out, "Parent: <base>")?,
        [one] => writeln!(out, "Parent: {one}")?,
        several => writeln!(out, "Merges: {}", several.join(", "))?,
    }
    if history.is_branch_point(index) {
        writeln!(out, "Branches into: {}", history.ids(history.children(index)).join(", "))?;
    }
    if !rev.branch_labels.is_empty() {
        writeln!(out, "Branch labels: {}", rev.branch_labels.join(", "))?;
    }
    if !rev.depends_on.is_empty() {
        writeln!(out, "Depends on: {}", rev.depends_on.join(", "))?;
    }
    writeln!(out, "Path: {}", rev.file.path.display())?;
    if let Some(created) = &rev.created {
        writeln!(out, "Created: {created}")?;
    }
    writeln!(out, "Checksum: {}", rev.checksum)?;
    let pinned = if analysis.lock.is_pinned(&rev.id) { "yes" } else { "no (draft)" };
    writeln!(out, "Pinned: {pinned}")?;
    writeln!(out, "Transaction: {}", rev.transaction)?;
    let reversible = if rev.is_reversible() { "yes" } else { "no (no `-- migrate:down` section)" };
    writeln!(out, "Reversible: {reversible}")?;
    if let Some(imported_from) = &rev.imported_from {
        writeln!(out, "Imported from: {imported_from}")?;
    }
    if !rev.needs_sql.is_empty() {
        writeln!(out, "Needs SQL: {} (runs stop before it until it is written)", rev.needs_sql.header_value())?;
    }
    for (key, value) in &rev.extra {
        writeln!(out, "{key}: {value}")?;
    }
    for allow in &rev.allow {
        writeln!(out, "Allows: {} because {}", allow.rule, allow.reason)?;
    }
    writeln!(out)?;
    writeln!(out, "    {}", rev.message)?;
    writeln!(out)
}

/// Prints the analysis' errors (several heads are data here, not an error),
/// and with `-v` its warnings too; returns the exit code they imply.
fn report_problems(shell: &mut Shell, analysis: &Analysis) -> CliResult {
    let mut errors = 0;
    for diagnostic in &analysis.diagnostics {
        if diagnostic.is_error() {
            errors += 1;
        } else if shell.verbosity() < Verbosity::Verbose {
            continue;
        }
        shell.diagnostic(diagnostic)?;
    }
    if errors > 0 {
        shell.note("the history has problems; `cargo migrate check` lists them all")?;
        return Ok(crate::exit::CHECK_FAILED);
    }
    Ok(crate::exit::OK)
}

/// Problems that do not stop anyone from adding a revision: drafts, several
/// heads, and pinned revisions that were edited (the lock file's business).
fn blocks_writing(problem: &Problem) -> bool {
    !matches!(
        problem,
        Problem::Draft { .. }
            | Problem::MultipleHeads { .. }
            | Problem::PinnedRevisionChanged { .. }
            | Problem::PinnedRevisionMissing { .. }
    )
}

pub(crate) fn analyze_for_writing(shell: &mut Shell, project: &Project) -> Result<Analysis, CliError> {
    let analysis = project.analyze(Options { allow_multiple_heads: true, require_pinned: false });
    let blocking: Vec<_> = analysis.errors().filter(|d| blocks_writing(&d.problem)).collect();
    if !blocking.is_empty() {
        for d in &blocking {
            shell.diagnostic(d)?;
        }
        return Err(CliError {
            message: format!("the history has {} problem(s); fix them before adding a revision", blocking.len()),
            help: Some("`cargo migrate check` lists every problem".into()),
            exit_code: crate::exit::CHECK_FAILED,
        });
    }
    Ok(analysis)
}
