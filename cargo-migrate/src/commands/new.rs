//! `new` (alias `revision`) and `merge`: write a new draft revision file.

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use migrate_history::template::{DEFAULT_TEMPLATE, NewRevision, render, slug};
use migrate_history::{
    Checksum, History, Problem, SourceFile, TEMPLATE_FILE_NAME, Target, header_control_character,
    is_valid_branch_label, parse_revision, revision_id_problem,
};

use super::analyze_for_writing;
use crate::cli::{MergeArgs, NewArgs};
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::project::Project;
use crate::report::{Message, SchemaChangeInfo};
use crate::shell::Shell;
use migrate_runtime::schema::RenderOptions;

pub fn new(shell: &mut Shell, project: &Project, args: &NewArgs, autogenerate: bool) -> CliResult {
    let analysis = analyze_for_writing(shell, project)?;
    let history = &analysis.history;
    let message = args.message.clone().or_else(|| args.message_arg.clone()).unwrap_or_default();
    check_message(&message)?;
    let id = choose_id(history, args.rev_id.as_deref())?;
    let branch_labels = check_labels(history, &args.branch_label)?;
    let parents = match &args.parent {
        Some(text) => history.ids(&history.resolve(&Target::parse(text)?, &[])?),
        None => match history.heads().as_slice() {
            [] => Vec::new(),
            [head] => vec![history.revision(*head).id.clone()],
            heads => {
                return Err(CliError::usage(format!(
                    "the history has {} heads ({}); which one should the new revision follow?",
                    heads.len(),
                    history.ids(heads).join(", ")
                ))
                .with_help(
                    "pass `--head REV` to choose the parent, or join the heads first with `cargo migrate merge`",
                ));
            }
        },
    };
    let mut depends_on = Vec::new();
    for text in &args.depends_on {
        depends_on.push(history.revision(history.lookup(text)?).id.clone());
    }
    let mut changes = Vec::new();
    let (up, down) = if autogenerate {
        let database = crate::db::chosen_url(shell, project, &args.db, false)?;
        let bench = crate::models::workbench(project, args.dev_url.as_deref(), &database.url)?;
        let migrator = crate::db::configured(project, history.clone());
        let options = RenderOptions::default().concurrently(args.no_transaction);
        match crate::models::autogenerate(shell, project, &migrator, &bench, &options)? {
            Some(generated) => {
                changes = generated.changes.iter().map(SchemaChangeInfo::from).collect();
                (generated.up, generated.down)
            }
            None => {
                shell.status("Fresh", "no changes: the models match what the history produces; nothing written")?;
                shell.emit(&Message::NoChanges {})?;
                return Ok(exit::OK);
            }
        }
    } else {
        (String::new(), String::new())
    };
    let new = NewRevision {
        id,
        parents,
        message,
        created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        branch_labels,
        depends_on,
        up,
        down,
        no_transaction: args.no_transaction,
    };
    write_revision(shell, project, &new, changes)
}

pub fn merge(shell: &mut Shell, project: &Project, args: &MergeArgs) -> CliResult {
    if let Some(message) = &args.message {
        check_message(message)?;
    }
    let analysis = analyze_for_writing(shell, project)?;
    let history = &analysis.history;
    let mut joined: Vec<usize> = Vec::new();
    if args.revs.is_empty() {
        joined = history.heads();
    }
    for text in &args.revs {
        for index in history.resolve(&Target::parse(text)?, &[])? {
            if !joined.contains(&index) {
                joined.push(index);
            }
        }
    }
    if joined.len() < 2 {
        return Err(CliError::usage(format!(
            "nothing to merge: {} one revision ({})",
            if args.revs.is_empty() { "the history has" } else { "the arguments name" },
            history.ids(&joined).join(", ")
        ))
        .with_help("`cargo migrate heads` lists the heads; a merge joins two or more"));
    }
    for &a in &joined {
        let ancestors = history.ancestors(&[a]);
        if let Some(&b) = joined.iter().find(|&&b| b != a && ancestors[b]) {
            return Err(CliError::usage(format!(
                "`{}` is an ancestor of `{}`: they are already on one branch",
                history.revision(b).id,
                history.revision(a).id
            ))
            .with_help("merge the heads of separate branches (see `cargo migrate heads`)"));
        }
    }
    let ids = history.ids(&joined);
    let new = NewRevision {
        id: choose_id(history, args.rev_id.as_deref())?,
        message: args.message.clone().unwrap_or_else(|| format!("merge {}", ids.join(" and "))),
        parents: ids,
        created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        branch_labels: check_labels(history, &args.branch_label)?,
        depends_on: Vec::new(),
        up: String::new(),
        down: String::new(),
        no_transaction: false,
    };
    write_revision(shell, project, &new, Vec::new())
}

/// The `--rev-id`, checked, or a new 12-hex-digit id like Alembic's.
fn choose_id(history: &History, requested: Option<&str>) -> Result<String, CliError> {
    if let Some(id) = requested {
        if let Some(problem) = revision_id_problem(id) {
            let mut error = CliError::usage(format!("`--rev-id`: {problem}"));
            error.help = problem.help();
            return Err(error);
        }
        if let Some(existing) = history.get(id) {
            return Err(CliError::usage(format!("revision `{id}` already exists in {}", existing.file.path.display()))
                .with_help("choose another `--rev-id`, or leave it out to generate one"));
        }
        return Ok(id.to_owned());
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    for attempt in 0u32.. {
        let seed = format!("{}:{}:{attempt}", now.as_nanos(), std::process::id());
        let digest = Checksum::of(&seed).to_string();
        let id = digest[Checksum::PREFIX.len()..Checksum::PREFIX.len() + 12].to_owned();
        let clashes = history.revisions().iter().any(|r| r.id.starts_with(&id) || id.starts_with(&r.id));
        if !clashes {
            return Ok(id);
        }
    }
    unreachable!("some id is free")
}

/// A message is one header line: no line breaks or other control characters.
fn check_message(message: &str) -> Result<(), CliError> {
    match header_control_character(message) {
        None => Ok(()),
        Some(character) => {
            let problem = Problem::ControlCharacterInHeader { key: "message".into(), character };
            Err(CliError::usage(problem.to_string())
                .with_help("pass a one-line message; longer notes belong in a comment below the header"))
        }
    }
}

fn check_labels(history: &History, labels: &[String]) -> Result<Vec<String>, CliError> {
    for label in labels {
        if !is_valid_branch_label(label) {
            return Err(CliError::usage(format!("branch label `{label}` is not valid"))
                .with_help("branch labels use lowercase letters, digits and `_` only"));
        }
        if let Some(index) = history.labelled(label).or_else(|| history.index_of(label)) {
            return Err(CliError::usage(format!(
                "`{label}` is already used by revision `{}`",
                history.revision(index).id
            ))
            .with_help("branch labels must be unique across the history"));
        }
    }
    Ok(labels.to_vec())
}

/// Renders the template, checks the result parses, and creates the file
/// without ever overwriting one.
fn write_revision(
    shell: &mut Shell,
    project: &Project,
    new: &NewRevision,
    changes: Vec<SchemaChangeInfo>,
) -> CliResult {
    let template_path = project.dir.join(TEMPLATE_FILE_NAME);
    let template = match std::fs::read_to_string(&template_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DEFAULT_TEMPLATE.to_owned(),
        Err(e) => return Err(CliError::io("read", &template_path, e)),
    };
    if !project.dir.is_dir() {
        return Err(CliError::usage(format!(
            "the migrations directory `{}` does not exist",
            project.shown_dir.display()
        ))
        .with_help("run `cargo migrate init` first"));
    }
    let text = render(&template, new);
    let slug = slug(&new.message);
    let name = if slug.is_empty() { format!("{}.sql", new.id) } else { format!("{}_{slug}.sql", new.id) };
    let shown: PathBuf = project.shown(&name);
    if let Err(problems) = parse_revision(SourceFile::new(&shown, text.as_str())) {
        let detail: Vec<String> = problems.iter().map(|p| p.problem.to_string()).collect();
        return Err(CliError::failure(format!(
            "the template {} produces an invalid revision: {}",
            project.shown(TEMPLATE_FILE_NAME).display(),
            detail.join("; ")
        ))
        .with_help("the template needs `-- revision: ${revision}`, `-- parents: ${parents}`, `-- message: ${message}` and a `-- migrate:up` line"));
    }
    if !crate::fs::create_new(&project.dir.join(&name), &text)? {
        return Err(CliError::failure(format!("{} already exists; it was left as it is", shown.display()))
            .with_help("choose another `--rev-id` or message, or move the file away"));
    }
    shell.status("Created", format!("{} ({})", shown.display(), new.message))?;
    shell.note("the revision is a draft: edit it freely, then pin it with `cargo migrate lock`")?;
    if shell.json() {
        shell.emit(&Message::RevisionCreated {
            id: new.id.clone(),
            path: shown.display().to_string(),
            parents: new.parents.clone(),
            message: new.message.clone(),
            changes,
        })?;
    } else {
        writeln!(shell.out(), "{}", shown.display())?;
    }
    Ok(exit::OK)
}
