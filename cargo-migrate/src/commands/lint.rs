//! `lint [REV...]`: the findings of [`crate::lint`] on the chosen revisions.

use crate::cli::LintArgs;
use crate::error::{CliError, CliResult};
use crate::project::Project;
use crate::shell::Shell;

#[cfg(not(feature = "lint"))]
pub fn run(_shell: &mut Shell, _project: &Project, _args: &LintArgs) -> CliResult {
    Err(CliError::usage("this cargo-migrate was built without its `lint` feature")
        .with_help("install it with its default features: `cargo install cargo-migrate`"))
}

#[cfg(feature = "lint")]
pub fn run(shell: &mut Shell, project: &Project, args: &LintArgs) -> CliResult {
    use std::io::Write;

    use migrate_history::{Dialect, Options, Target};

    use crate::cli::DialectArg;
    use crate::exit;
    use crate::lint::{self, rules};
    use crate::project::shown_path;
    use crate::report::Message;
    use crate::shell::plural;

    if args.list_rules {
        if shell.json() {
            return Err(CliError::usage("`--list-rules` prints text").with_help("leave out `--message-format json`"));
        }
        let out = shell.out();
        for rule in &rules::OWN {
            writeln!(out, "{:<45} cargo-migrate, {}: {}", rule.name, rule.dialects, rule.summary)?;
        }
        for (rule, name) in rules::enum_names().into_iter().filter(|(rule, _)| rules::runs(*rule)) {
            let on = if rule.is_opt_in() { "off unless `warn` or `deny` names it" } else { "on" };
            writeln!(out, "{name:<45} squawk, PostgreSQL, {on}")?;
        }
        return Ok(exit::OK);
    }
    // A history with problems is linted as far as it parsed; its errors are printed first.
    let analysis = project.analyze(Options { allow_multiple_heads: true, require_pinned: false });
    let mut errors = 0;
    for diagnostic in analysis.errors() {
        errors += 1;
        shell.diagnostic(diagnostic)?;
    }
    let history = &analysis.history;
    let mut selected = Vec::new();
    for text in &args.revs {
        for index in history.resolve(&Target::parse(text)?, &[])? {
            if !selected.contains(&index) {
                selected.push(index);
            }
        }
    }
    if args.revs.is_empty() {
        selected = (0..history.len()).collect();
    }
    selected.sort_unstable();
    let dialect = args.dialect.map_or(project.config.dialect.unwrap_or(Dialect::Postgres), DialectArg::dialect);
    let config_path = shown_path(&project.base.join("Cargo.toml"));
    let options = lint::Options { dialect, config: &project.config.lint, config_path: &config_path };
    let outcome = lint::lint(history, &analysis.lock, &selected, &options);
    let mut warnings = 0;
    for diagnostic in &outcome.diagnostics {
        if diagnostic.is_error() {
            errors += 1;
        } else {
            warnings += 1;
        }
        shell.diagnostic(diagnostic)?;
    }
    let allowed = match outcome.allowed {
        0 => String::new(),
        n => format!(", {n} allowed by `allow` lines"),
    };
    let summary = format!(
        "{} revision{} as {}: {errors} error{}, {warnings} warning{}{allowed}",
        selected.len(),
        plural(selected.len()),
        dialect.name(),
        plural(errors),
        plural(warnings),
    );
    if errors == 0 {
        shell.status("Linted", &summary)?;
    } else {
        shell.error(format!("lint failed: {summary}"))?;
        shell.help("fix each finding, or, where a rule does not apply, say why in the revision's header: `-- allow: RULE because REASON`; findings in drafts are errors, in pinned revisions warnings")?;
    }
    shell.emit(&Message::LintFinished {
        success: errors == 0,
        dialect: dialect.key(),
        revisions: selected.len(),
        errors,
        warnings,
        allowed: outcome.allowed,
    })?;
    Ok(if errors == 0 { exit::OK } else { exit::CHECK_FAILED })
}
