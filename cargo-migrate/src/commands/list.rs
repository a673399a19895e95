//! `history`, `heads`, `branches`, `show`: read-only views of the graph.

use std::io::Write;

use migrate_history::{Analysis, Options, Range, Target};
use serde_json::json;

use super::{report_problems, revision_block, revision_json, revision_line};
use crate::cli::{HistoryArgs, ListArgs, MessageFormat, ShowArgs};
use crate::error::{CliError, CliResult};
use crate::project::Project;
use crate::shell::Shell;

/// Listing commands show several heads as data, not as an error.
fn analyze(project: &Project) -> Analysis {
    project.analyze(Options { allow_multiple_heads: true, require_pinned: false })
}

pub fn history(shell: &mut Shell, project: &Project, args: &HistoryArgs) -> CliResult {
    let analysis = analyze(project);
    let history = &analysis.history;
    let selected = match &args.rev_range {
        Some(text) => {
            let range = Range::parse(text)?;
            history.resolve_range(&range, &[])?
        }
        None => (0..history.len()).collect(),
    };
    let out = shell.out();
    for &index in selected.iter().rev() {
        match (args.format.message_format, args.verbose) {
            (MessageFormat::Json, _) => writeln!(out, "{}", revision_json(&analysis, index))?,
            (MessageFormat::Human, true) => revision_block(out, &analysis, index)?,
            (MessageFormat::Human, false) => writeln!(out, "{}", revision_line(history, index))?,
        }
    }
    report_problems(shell, &analysis)
}

pub fn heads(shell: &mut Shell, project: &Project, args: &ListArgs) -> CliResult {
    let analysis = analyze(project);
    let history = &analysis.history;
    let out = shell.out();
    for index in history.heads() {
        let rev = history.revision(index);
        match (args.format.message_format, args.verbose) {
            (MessageFormat::Json, _) => writeln!(out, "{}", revision_json(&analysis, index))?,
            (MessageFormat::Human, true) => revision_block(out, &analysis, index)?,
            (MessageFormat::Human, false) => {
                let labels: String = rev.branch_labels.iter().map(|l| format!(" ({l})")).collect();
                writeln!(out, "{}{labels} (head), {}", rev.id, rev.message)?
            }
        }
    }
    report_problems(shell, &analysis)
}

pub fn branches(shell: &mut Shell, project: &Project, args: &ListArgs) -> CliResult {
    let analysis = analyze(project);
    let history = &analysis.history;
    let out = shell.out();
    for index in (0..history.len()).filter(|&i| history.is_branch_point(i)) {
        let children = history.children(index);
        match args.format.message_format {
            MessageFormat::Json => {
                let object = json!({
                    "reason": "branch-point",
                    "id": history.revision(index).id,
                    "message": history.revision(index).message,
                    "children": history.ids(children),
                });
                writeln!(out, "{object}")?
            }
            MessageFormat::Human => {
                if args.verbose {
                    revision_block(out, &analysis, index)?;
                } else {
                    writeln!(out, "{}", revision_line(history, index))?;
                }
                for &child in children {
                    let rev = history.revision(child);
                    writeln!(out, "    -> {}, {}", rev.id, rev.message)?;
                }
            }
        }
    }
    report_problems(shell, &analysis)
}

pub fn show(shell: &mut Shell, project: &Project, args: &ShowArgs) -> CliResult {
    let analysis = analyze(project);
    let history = &analysis.history;
    let target = Target::parse(&args.rev)?;
    let found = history.resolve(&target, &[])?;
    if found.is_empty() {
        return Err(CliError::usage(format!("`{}` names no revision", args.rev))
            .with_help("`show` takes a revision id, prefix, label or `head`"));
    }
    for index in found {
        match args.format.message_format {
            MessageFormat::Json => writeln!(shell.out(), "{}", revision_json(&analysis, index))?,
            MessageFormat::Human => {
                let out = shell.out();
                revision_block(out, &analysis, index)?;
                let rev = history.revision(index);
                writeln!(out, "-- migrate:up")?;
                writeln!(out, "{}", rev.up_sql().trim_end())?;
                match rev.down_sql() {
                    Some(down) => {
                        writeln!(out, "\n-- migrate:down")?;
                        writeln!(out, "{}", down.trim_end())?;
                    }
                    None => writeln!(out, "\n(no down section: irreversible)")?,
                }
            }
        }
    }
    report_problems(shell, &analysis)
}
