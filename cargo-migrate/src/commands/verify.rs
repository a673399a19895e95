//! `verify`: every down section proved on scratch databases, merges in
//! every order, a full upgrade and the models (migrate-runtime's `verify`),
//! rendered as status lines or JSON.

use std::path::Path;
use std::time::Instant;

use migrate_history::{History, Target};
use migrate_runtime::schema::Change;
use migrate_runtime::verify::{Checked, Failure, Verification, VerifyEvent, VerifyOptions, verify_observed};

use crate::cli::VerifyArgs;
use crate::db::{chosen_url, configured, describe_heads, workbench_error};
use crate::error::CliResult;
use crate::exit;
use crate::project::Project;
use crate::report::{Message, SchemaChangeInfo, VerifyFailureInfo, VerifyFinishedInfo};
use crate::shell::{Shell, plural};

pub fn run(shell: &mut Shell, project: &Project, history: History, args: &VerifyArgs) -> CliResult {
    let started = Instant::now();
    let from = match &args.from {
        Some(text) => {
            let target = Target::parse(text)?;
            history.resolve(&target, &[])?;
            Some(target)
        }
        None => None,
    };
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let bench = crate::models::workbench_in_dialect(project, args.dev_url.as_deref(), &resolved.url)?;
    let models = crate::models::read_if_present(project)?;
    let models_name = models.as_ref().map(|(shown, _)| shown.clone()).unwrap_or_else(|| project.config.schema.clone());
    let bench = bench.models_name(models_name.display().to_string());
    let options = VerifyOptions {
        from,
        models: models.map(|(_, text)| text),
        allow_multiple_heads: project.config.allow_multiple_heads,
    };
    let migrator = configured(project, history);
    let server = bench.describe();
    let mut printed: std::io::Result<()> = Ok(());
    let mut observer = |event: VerifyEvent<'_>| {
        if printed.is_ok() {
            printed = show(shell, &server, &models_name, event);
        }
    };
    let verification = verify_observed(&bench, &migrator, &options, &mut observer);
    crate::models::warn_left_behind(shell)?;
    printed?;
    let verification = verification.map_err(|e| workbench_error(e, &models_name))?;
    finish(shell, &verification, &models_name, started)
}

/// One event as it happens: a status line or an error, and its JSON message.
fn show(shell: &mut Shell, server: &str, models: &Path, event: VerifyEvent<'_>) -> std::io::Result<()> {
    match event {
        VerifyEvent::Walking { revisions, from } => {
            let start = if from.is_empty() { "base".to_owned() } else { describe_heads(from) };
            if revisions.is_empty() {
                return shell.status("Verifying", format!("no revision after {start} ({server})"));
            }
            shell.status(
                "Verifying",
                format!(
                    "{} revision{} from {start}, each upgraded, downgraded and upgraded again ({server})",
                    revisions.len(),
                    plural(revisions.len())
                ),
            )
        }
        VerifyEvent::Revision(check) => {
            let down = match &check.checked {
                Checked::Restored => "restored",
                Checked::NoDownSection => "no-down-section",
                Checked::Baseline => "baseline",
                Checked::Failed => return Ok(()),
                _ => "not-checked",
            };
            shell.emit(&Message::RevisionVerified {
                id: check.id.clone(),
                message: check.message.clone(),
                path: check.path.clone(),
                down,
            })?;
            let line = format!("{} {}", check.id, check.message);
            match &check.checked {
                Checked::Restored => shell.status("Verified", line),
                Checked::Baseline => shell.status(
                    "Recorded",
                    format!("{line} (a baseline: the revisions it replaces were walked one by one; the full upgrade runs it)"),
                ),
                Checked::NoDownSection => {
                    shell.status("Upgraded", &line)?;
                    shell.warn(format!(
                        "revision `{}` ({}) has no down section: the down check ends here, and the revisions after it are only upgraded",
                        check.id, check.path
                    ))
                }
                _ => shell.status("Upgraded", format!("{line} (no down check after a revision without one)")),
            }
        }
        VerifyEvent::Merge { id, parents } => shell.status(
            "Checked",
            format!("merge {id}: the same schema whichever parent's branch is applied first ({})", parents.join(", ")),
        ),
        VerifyEvent::FullUpgrade { heads, compared } => {
            let same = if compared { ": the same schema as one revision at a time" } else { "" };
            shell.status("Checked", format!("a full upgrade from base to {}{same}", describe_heads(heads)))
        }
        VerifyEvent::Models => {
            shell.status("Checked", format!("{}: the same schema as the history at its heads", models.display()))
        }
        VerifyEvent::Failure(failure) => {
            shell.emit(&Message::VerifyFailure(VerifyFailureInfo {
                check: failure.check(),
                revision: failure.revision().map(str::to_owned),
                path: failure.path().map(str::to_owned),
                message: failure.to_string(),
                changes: failure.changes().iter().map(SchemaChangeInfo::from).collect(),
                help: Some(failure.help()),
            }))?;
            shell.error(rendered(failure, models))?;
            shell.help(failure.help())
        }
        _ => Ok(()),
    }
}

/// A failure for people: its sentence, then each difference under a line
/// that says which way they read.
fn rendered(failure: &Failure, models: &Path) -> String {
    let changes = failure.changes();
    if changes.is_empty() {
        return failure.to_string();
    }
    let sentence = match failure {
        Failure::ModelsDiffer { .. } => format!("{}: {failure}", models.display()),
        _ => failure.to_string(),
    };
    let reading = match failure {
        Failure::NotRestored { .. } => {
            "after the down section, compared with the schema before the revision:".to_owned()
        }
        Failure::UpgradedDifferently { .. } => "upgraded again, compared with the first upgrade:".to_owned(),
        Failure::FullUpgradeDiffers { .. } => "the full upgrade, compared with one revision at a time:".to_owned(),
        Failure::MergeOrder { reference, first, .. } => {
            format!("`{first}`'s branch first, compared with `{reference}`'s first:")
        }
        Failure::ModelsDiffer { .. } => "the models, compared with the history at its heads:".to_owned(),
        _ => "the differences:".to_owned(),
    };
    let lines: Vec<String> = changes.iter().map(|c: &Change| format!("         {c}")).collect();
    format!("{sentence}\n       {reading}\n{}", lines.join("\n"))
}

/// The closing line and message; exit 1 on any failure.
fn finish(shell: &mut Shell, verification: &Verification, models: &Path, started: Instant) -> CliResult {
    let walked = verification.revisions.len();
    let restored = verification.revisions.iter().filter(|r| r.checked == Checked::Restored).count();
    let failures = verification.failures.len();
    if !verification.not_reached.is_empty() {
        shell.note(format!("not reached after the failure: {}", verification.not_reached.join(", ")))?;
    }
    let total = walked + verification.not_reached.len();
    let mut parts = vec![match total == walked {
        true => format!("{walked} revision{}", plural(walked)),
        false => format!("{walked} of {total} revisions"),
    }];
    let down = match verification.down_ended_at() {
        Some(ended) => format!(" (none from {} on: it has no down section)", ended.id),
        None => String::new(),
    };
    parts.push(format!("{restored} down section{} restored{down}", plural(restored)));
    if !verification.merges.is_empty() {
        let merges = verification.merges.len();
        parts.push(format!("{merges} merge point{}", plural(merges)));
    }
    if verification.full_upgrade {
        parts.push("a full upgrade from base".to_owned());
    }
    if verification.models {
        parts.push(models.display().to_string());
    }
    let summary = match parts.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    let elapsed = started.elapsed();
    if verification.passed() {
        shell.status("Finished", format!("verify: {summary} in {:.2}s", elapsed.as_secs_f64()))?;
    } else {
        shell.error(format!("verify failed with {failures} problem{}; checked {summary}", plural(failures)))?;
    }
    shell.emit(&Message::VerifyFinished(Box::new(VerifyFinishedInfo {
        success: verification.passed(),
        from: verification.from.clone(),
        heads: verification.heads.clone(),
        revisions: walked,
        restored,
        down_ended_at: verification.down_ended_at().map(|r| r.id.clone()),
        not_reached: verification.not_reached.clone(),
        merges: verification.merges.clone(),
        full_upgrade: verification.full_upgrade,
        models: verification.models,
        failures,
        elapsed_ms: elapsed.as_secs_f64() * 1000.0,
    })))?;
    Ok(if verification.passed() { exit::OK } else { exit::CHECK_FAILED })
}
