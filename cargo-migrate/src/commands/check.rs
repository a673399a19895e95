//! `check`: everything the build checks, and that every revision is pinned.

use migrate_history::Options;

use crate::cli::CheckArgs;
use crate::db::{Configured, configured, connect_to_read, engine_error, resolve_url};
use crate::error::CliResult;
use crate::exit;
use crate::github::{Summary, cell, environment_note};
use crate::project::Project;
use crate::report::Message;
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
    let mut database = None;
    if replayable {
        let resolved = resolve_url(project, &args.db)?;
        let migrator = configured(project, analysis.history.clone());
        // With a database the user chose, also what it has applied.
        if resolved.source.is_explicit() {
            let (mut connection, _) = connect_to_read(&resolved.url)?;
            let state = migrator.state(connection.database()).map_err(engine_error)?;
            analysis.diagnostics.append(&mut state.problems(migrator.history(), &resolved.url.redacted()));
            database = Some(resolved.url.redacted());
        }
        // The models (schema.sql) against what the history produces.
        if !args.no_models {
            analysis.diagnostics.append(&mut crate::models::check(shell, project, &migrator, &resolved.url)?);
        }
        // Each baseline against the revisions it replaces.
        analysis.diagnostics.append(&mut crate::models::baselines(shell, project, &migrator, &resolved.url)?);
    }
    // With a dialect configured, the linter's findings: errors in drafts, warnings in pinned revisions.
    #[cfg(feature = "lint")]
    if let Some(dialect) = project.config.dialect {
        let config_path = crate::project::shown_path(&project.base.join("Cargo.toml"));
        let options = crate::lint::Options { dialect, config: &project.config.lint, config_path: &config_path };
        let every: Vec<usize> = (0..analysis.history.len()).collect();
        analysis.diagnostics.extend(crate::lint::lint(&analysis.history, &analysis.lock, &every, &options).diagnostics);
        migrate_history::sort_diagnostics(&mut analysis.diagnostics);
    }
    let errors = analysis.errors().count();
    let warnings = analysis.warnings().count();
    let heads = analysis.history.heads().len();
    for d in &analysis.diagnostics {
        shell.diagnostic(d)?;
    }
    let summary = format!(
        "{} revision{} in {}, {heads} head{}, {} pinned",
        analysis.history.len(),
        plural(analysis.history.len()),
        project.shown_dir.display(),
        plural(heads),
        analysis.lock.len(),
    );
    let drafts = analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && matches!(d.problem, migrate_history::Problem::Draft { .. }))
        .count();
    let drafts_help = (drafts > 0).then(|| {
        format!(
            "run `cargo migrate lock` to pin the {drafts} draft{} and commit {} with {}; `cargo migrate check --allow-drafts` accepts drafts for local use",
            plural(drafts),
            project.shown(migrate_history::LOCK_FILE_NAME).display(),
            if drafts == 1 { "it" } else { "them" },
        )
    });
    if errors == 0 {
        shell.status("Checked", &summary)?;
    } else {
        shell.error(format!("check failed with {errors} problem{}: {summary}", plural(errors)))?;
    }
    if let Some(help) = &drafts_help {
        shell.help(help)?;
    }
    shell.emit(&Message::CheckFinished {
        success: errors == 0,
        revisions: analysis.history.len(),
        heads: analysis.history.ids(&analysis.history.heads()),
        errors,
        warnings,
    })?;
    if let Some(mut md) = Summary::start("cargo migrate check") {
        let verdict = if errors == 0 { "passed" } else { "failed" };
        md.line(format_args!(
            "**Check {verdict}**: {summary}; {errors} error{}, {warnings} warning{}.\n",
            plural(errors),
            plural(warnings)
        ));
        if let Some(database) = database {
            md.line(format_args!("Database: `{database}`{}\n", environment_note()));
        }
        if !analysis.diagnostics.is_empty() {
            md.line("| | where | problem |").line("|---|---|---|");
            for d in &analysis.diagnostics {
                let icon = if d.is_error() { "❌" } else { "⚠️" };
                let place = match (&d.path, d.line) {
                    (Some(path), Some(line)) => format!("`{}:{line}`", path.display()),
                    (Some(path), None) => format!("`{}`", path.display()),
                    _ => String::new(),
                };
                let help = d.help().map(|h| format!("<br>help: {}", cell(&h))).unwrap_or_default();
                md.line(format_args!("| {icon} | {place} | {}{help} |", cell(&d.problem.to_string())));
            }
            md.line("");
        }
        if let Some(help) = &drafts_help {
            md.line(format_args!("{help}\n"));
        }
        md.write()?;
    }
    Ok(if errors == 0 { exit::OK } else { exit::CHECK_FAILED })
}
