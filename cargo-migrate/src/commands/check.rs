//! `check`: everything the build checks, and that every revision is pinned.

use std::io::Write;

use migrate_history::Options;
use serde_json::json;

use crate::cli::{CheckArgs, MessageFormat};
use crate::db::{Configured, configured, connect_to_read, engine_error, resolve_url};
use crate::error::CliResult;
use crate::exit;
use crate::project::Project;
use crate::shell::{Shell, plural};

pub fn run(shell: &mut Shell, project: &Project, args: &CheckArgs) -> CliResult {
    let options =
        Options { allow_multiple_heads: project.config.allow_multiple_heads, require_pinned: !args.allow_drafts };
    let mut analysis = project.analyze(options);
    // An edited pinned revision that the configured database never applied can be re-pinned.
    if analysis.diagnostics.iter().any(|d| matches!(d.problem, migrate_history::Problem::PinnedRevisionChanged { .. }))
    {
        if let Some(Ok(database)) = Configured::open(project, &analysis.history, &args.db)? {
            database.annotate(&mut analysis.diagnostics);
        }
    }
    // Drafts and several heads do not stop the history from being replayed.
    let replayable = !analysis.errors().any(|d| {
        !matches!(d.problem, migrate_history::Problem::Draft { .. } | migrate_history::Problem::MultipleHeads { .. })
    });
    if replayable {
        let resolved = resolve_url(project, &args.db)?;
        let migrator = configured(project, analysis.history.clone());
        // With a database the user chose, also what it has applied.
        if resolved.source.is_explicit() {
            let (mut connection, _) = connect_to_read(&resolved.url)?;
            let state = migrator.state(connection.database()).map_err(engine_error)?;
            analysis.diagnostics.append(&mut state.problems(migrator.history(), &resolved.url.redacted()));
        }
        // The models (schema.sql) against what the history produces.
        analysis.diagnostics.append(&mut crate::models::check(shell, project, &migrator, &resolved.url)?);
    }
    let errors = analysis.errors().count();
    let warnings = analysis.warnings().count();
    match args.format.message_format {
        MessageFormat::Json => {
            let out = shell.out();
            for d in &analysis.diagnostics {
                let object = json!({
                    "reason": "diagnostic",
                    "severity": if d.is_error() { "error" } else { "warning" },
                    "path": d.path,
                    "line": d.line,
                    "message": d.problem.to_string(),
                    "help": d.help(),
                    "rendered": d.to_string(),
                });
                writeln!(out, "{object}")?;
            }
            let summary = json!({
                "reason": "check-finished",
                "success": errors == 0,
                "revisions": analysis.history.len(),
                "heads": analysis.history.ids(&analysis.history.heads()),
                "errors": errors,
                "warnings": warnings,
            });
            writeln!(out, "{summary}")?;
        }
        MessageFormat::Human => {
            for d in &analysis.diagnostics {
                shell.diagnostic(d)?;
            }
            let heads = analysis.history.heads().len();
            let summary = format!(
                "{} revision{} in {}, {heads} head{}, {} pinned",
                analysis.history.len(),
                plural(analysis.history.len()),
                project.shown_dir.display(),
                plural(heads),
                analysis.lock.len(),
            );
            if errors == 0 {
                shell.status("Checked", summary)?;
            } else {
                shell.error(format!("check failed with {errors} problem{}: {summary}", plural(errors)))?;
            }
            let drafts = analysis
                .diagnostics
                .iter()
                .filter(|d| d.is_error() && matches!(d.problem, migrate_history::Problem::Draft { .. }))
                .count();
            if drafts > 0 {
                shell.help(format!(
                    "run `cargo migrate lock` to pin the {drafts} draft{} and commit {} with {}; `cargo migrate check --allow-drafts` accepts drafts for local use",
                    plural(drafts),
                    project.shown(migrate_history::LOCK_FILE_NAME).display(),
                    if drafts == 1 { "it" } else { "them" },
                ))?;
            }
        }
    }
    Ok(if errors == 0 { exit::OK } else { exit::CHECK_FAILED })
}
