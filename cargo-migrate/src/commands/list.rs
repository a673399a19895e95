//! `history`, `heads`, `branches`, `show`: read-only views of the graph.

use std::io::Write;

use migrate_history::{Analysis, Options, Range, Target};

use super::{report_problems, revision_block, revision_line, revision_message};
use crate::cli::{HistoryArgs, ListArgs, ShowArgs};
use crate::error::{CliError, CliResult};
use crate::project::Project;
use crate::report::Message;
use crate::shell::Shell;

/// Listing commands show several heads as data, not as an error.
/// The history, never freed: the process ends after the command, and
/// freeing 10,000 revisions one allocation at a time was 4 ms of `heads`'s 60.
fn analyze(project: &Project) -> &'static Analysis {
    Box::leak(Box::new(project.analyze(Options { allow_multiple_heads: true, require_pinned: false })))
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
    for &index in selected.iter().rev() {
        match (shell.json(), args.verbose) {
            (true, _) => shell.emit(&revision_message(analysis, index))?,
            (false, true) => revision_block(shell.out(), analysis, index)?,
            (false, false) => writeln!(shell.out(), "{}", revision_line(history, index))?,
        }
    }
    report_problems(shell, analysis)
}

pub fn heads(shell: &mut Shell, project: &Project, args: &ListArgs) -> CliResult {
    let analysis = analyze(project);
    let history = &analysis.history;
    for index in history.heads() {
        let rev = history.revision(index);
        match (shell.json(), args.verbose) {
            (true, _) => shell.emit(&revision_message(analysis, index))?,
            (false, true) => revision_block(shell.out(), analysis, index)?,
            (false, false) => {
                let labels: String = rev.branch_labels.iter().map(|l| format!(" ({l})")).collect();
                writeln!(shell.out(), "{}{labels} (head), {}", rev.id, rev.message)?
            }
        }
    }
    report_problems(shell, analysis)
}

pub fn branches(shell: &mut Shell, project: &Project, args: &ListArgs) -> CliResult {
    let analysis = analyze(project);
    let history = &analysis.history;
    for index in (0..history.len()).filter(|&i| history.is_branch_point(i)) {
        let children = history.children(index);
        match shell.json() {
            true => shell.emit(&Message::BranchPoint {
                id: history.revision(index).id.clone(),
                message: history.revision(index).message.clone(),
                children: history.ids(children),
            })?,
            false => {
                let out = shell.out();
                if args.verbose {
                    revision_block(out, analysis, index)?;
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
    report_problems(shell, analysis)
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
        match shell.json() {
            true => shell.emit(&revision_message(analysis, index))?,
            false => {
                let out = shell.out();
                revision_block(out, analysis, index)?;
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
    report_problems(shell, analysis)
}
