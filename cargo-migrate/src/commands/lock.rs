//! `lock`: pin drafts in migrate.lock; `lock --update REV` re-pins an edited
//! revision (or drops the pin of a deleted one) deliberately.

use migrate_core::{LOCK_FILE_NAME, Problem};

use super::analyze_for_writing;
use super::check::plural;
use crate::cli::LockArgs;
use crate::error::CliResult;
use crate::exit;
use crate::project::Project;
use crate::shell::Shell;

pub fn run(shell: &mut Shell, project: &Project, args: &LockArgs) -> CliResult {
    let analysis = analyze_for_writing(shell, project)?;
    let history = &analysis.history;
    let before = analysis.lock.clone();
    let mut lock = analysis.lock.clone();
    let lock_shown = project.shown(LOCK_FILE_NAME);

    if args.update.is_empty() {
        let mut pinned = 0;
        for rev in history.revisions() {
            if !lock.is_pinned(&rev.id) {
                lock.pin(&rev.id, rev.checksum);
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
                    shell.status("Re-pinned", format!("{} ({} -> {})", rev.id, old.short(), rev.checksum.short()))?
                }
                None => shell.status("Pinned", &rev.id)?,
            }
            lock.pin(&rev.id, rev.checksum);
        }
    }

    if lock != before || !project.dir.join(LOCK_FILE_NAME).exists() {
        crate::fs::write_atomic(&project.dir.join(LOCK_FILE_NAME), &lock.render())?;
    } else if args.update.is_empty() {
        shell.status("Fresh", format!("{} is up to date", lock_shown.display()))?;
    }

    // What re-pinning would fix but plain `lock` must not do on its own.
    let still_wrong: Vec<_> = lock
        .check(history)
        .into_iter()
        .filter(|d| matches!(d.problem, Problem::PinnedRevisionChanged { .. } | Problem::PinnedRevisionMissing { .. }))
        .collect();
    for d in &still_wrong {
        shell.diagnostic(d)?;
    }
    Ok(if still_wrong.is_empty() { exit::OK } else { exit::CHECK_FAILED })
}
