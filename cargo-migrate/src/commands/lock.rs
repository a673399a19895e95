//! `lock`: pin drafts in migrate.lock; `lock --update REV` re-pins an edited
//! revision (or drops the pin of a deleted one) deliberately, after asking
//! the configured database whether it applied it; `lock --resolve` keeps
//! both sides of a git merge conflict in the file. Every write leaves the
//! file sorted and `.gitattributes` asking git for a union merge.

use migrate_history::{Diagnostic, LOCK_FILE_NAME, LockFile, Options, Problem};

use super::analyze_for_writing;
use crate::cli::LockArgs;
use crate::db::Configured;
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::project::Project;
use crate::report::Message;
use crate::shell::{Shell, plural};

pub fn run(shell: &mut Shell, project: &Project, args: &LockArgs) -> CliResult {
    if args.resolve {
        return resolve(shell, project);
    }
    let analysis = analyze_for_writing(shell, project)?;
    let history = &analysis.history;
    let mut lock = analysis.lock.clone();
    let lock_shown = project.shown(LOCK_FILE_NAME);
    let mut configured = None;

    if args.update.is_empty() {
        let mut pinned = 0;
        for rev in history.revisions() {
            if !lock.is_pinned(&rev.id) {
                lock.pin(&rev.id, rev.checksum);
                shell.emit(&Message::Pinned { id: rev.id.clone(), checksum: rev.checksum.to_string() })?;
                pinned += 1;
            }
        }
        if pinned > 0 {
            shell.status("Pinned", format!("{pinned} revision{} in {}", plural(pinned), lock_shown.display()))?;
        }
    } else {
        for text in &args.update {
            if lock.get(text).is_some() && history.get(text).is_none() {
                lock.unpin(text);
                shell.status("Unpinned", format!("{text} (its file is gone)"))?;
                continue;
            }
            let rev = history.revision(history.lookup(text)?);
            match lock.get(&rev.id) {
                Some(old) if old == rev.checksum => {
                    shell.status("Fresh", format!("{} is pinned with its current checksum", rev.id))?
                }
                Some(old) => {
                    if configured.is_none() {
                        configured = Some(Configured::open(project, history, &args.db)?);
                    }
                    refuse_if_applied(shell, configured.as_ref().and_then(Option::as_ref), &rev.id, args.force)?;
                    shell.status("Re-pinned", format!("{} ({} -> {})", rev.id, old.short(), rev.checksum.short()))?
                }
                None => shell.status("Pinned", &rev.id)?,
            }
            lock.pin(&rev.id, rev.checksum);
            shell.emit(&Message::Pinned { id: rev.id.clone(), checksum: rev.checksum.to_string() })?;
        }
    }

    let code = write(shell, project, &lock, args.update.is_empty())?;

    // What re-pinning would fix but plain `lock` must not do on its own.
    let mut still_wrong: Vec<_> = lock
        .check(history)
        .into_iter()
        .filter(|d| matches!(d.problem, Problem::PinnedRevisionChanged { .. } | Problem::PinnedRevisionMissing { .. }))
        .collect();
    if still_wrong.iter().any(|d| matches!(d.problem, Problem::PinnedRevisionChanged { .. })) {
        let database = match configured {
            Some(database) => database,
            None => Configured::open(project, history, &args.db)?,
        };
        if let Some(Ok(database)) = database {
            database.annotate(&mut still_wrong);
        }
    }
    for d in &still_wrong {
        shell.diagnostic(d)?;
    }
    Ok(if still_wrong.is_empty() { code } else { exit::CHECK_FAILED })
}

/// Refuses to re-pin a revision the configured database applied, unless `--force`.
fn refuse_if_applied(
    shell: &mut Shell,
    database: Option<&Result<Configured, String>>,
    id: &str,
    force: bool,
) -> Result<(), CliError> {
    let database = match database {
        Some(Ok(database)) => database,
        Some(Err(why)) => {
            shell
                .warn(format!("re-pinning `{id}` without knowing whether the configured database applied it: {why}"))?;
            return Ok(());
        }
        None => return Ok(()),
    };
    if database.recorded(id) != migrate_runtime::Recorded::Applied {
        return Ok(());
    }
    if force {
        shell.warn(format!("re-pinning `{id}` although {} applied it (--force)", database.database))?;
        return Ok(());
    }
    Err(CliError {
        message: format!(
            "revision `{id}` is applied to {}: re-pinning it would hide that it ran the old text",
            database.database
        ),
        help: Some(format!(
            "put the change in a new revision (`cargo migrate new`) and revert the edit; if that database is yours to throw away, `cargo migrate lock --update {id} --force`"
        )),
        exit_code: exit::CHECK_FAILED,
    })
}

/// Writes the lock file when its text is not what `render` writes (new pins,
/// entries out of order or repeated), and asks git for a union merge of it.
fn write(shell: &mut Shell, project: &Project, lock: &LockFile, say_fresh: bool) -> CliResult {
    let path = project.dir.join(LOCK_FILE_NAME);
    let shown = project.shown(LOCK_FILE_NAME);
    let rendered = lock.render();
    let existing = std::fs::read_to_string(&path).ok();
    match &existing {
        Some(text) if migrate_history::strip_bom(text) == rendered => {
            if say_fresh {
                shell.status("Fresh", format!("{} is up to date", shown.display()))?;
            }
        }
        _ => crate::fs::write_atomic(&path, &rendered)?,
    }
    shell.emit(&Message::LockWritten { path: shown.display().to_string(), pinned: lock.len() })?;
    if let Some(added) = crate::gitattributes::ensure(&project.base, &project.dir)? {
        let file = crate::project::shown_path(&added.file);
        shell.status(
            "Added",
            format!("`{}` to {}: git keeps both branches' pins when merging", added.line, file.display()),
        )?;
    }
    Ok(exit::OK)
}

/// `lock --resolve`: both sides of a conflicted lock file, sorted into one.
fn resolve(shell: &mut Shell, project: &Project) -> CliResult {
    let analysis = project.analyze(Options { allow_multiple_heads: true, require_pinned: false });
    let lock_problems: Vec<&Diagnostic> = analysis
        .errors()
        .filter(|d| matches!(d.problem, Problem::ConflictingPins { .. } | Problem::InvalidLockFile { .. }))
        .collect();
    if !lock_problems.is_empty() {
        for d in &lock_problems {
            shell.diagnostic(d)?;
        }
        let ids: Vec<String> = lock_problems
            .iter()
            .filter_map(|d| match &d.problem {
                Problem::ConflictingPins { id, .. } => Some(format!("`{id}`")),
                _ => None,
            })
            .collect();
        let message = if ids.is_empty() {
            format!("{} cannot be read; nothing was changed", project.shown(LOCK_FILE_NAME).display())
        } else {
            format!("both sides pin {} with different checksums; nothing was changed", ids.join(", "))
        };
        return Err(CliError { message, help: None, exit_code: exit::CHECK_FAILED });
    }
    let conflicted = analysis.errors().any(|d| d.problem == Problem::LockFileConflict);
    write(shell, project, &analysis.lock, false)?;
    let shown = project.shown(LOCK_FILE_NAME);
    if conflicted {
        let n = analysis.lock.len();
        shell.status("Resolved", format!("{}: kept both sides, {n} pinned revision{}", shown.display(), plural(n)))?;
    } else {
        shell.status("Fresh", format!("{} has no merge conflict", shown.display()))?;
    }
    Ok(exit::OK)
}
