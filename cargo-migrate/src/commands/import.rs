//! `import --from TOOL SOURCE_DIR [--into DIR]`: another tool's migration
//! files become revisions (parsed by `migrate_history::import`), written into
//! an empty migrations directory and pinned in its migrate.lock.

use std::path::{Path, PathBuf};

use migrate_history::import::{FileStatus, Tool, import};
use migrate_history::{Checksum, LOCK_FILE_NAME, LockFile, SourceFile, TEMPLATE_FILE_NAME, parse_revision};

use crate::cli::ImportArgs;
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::project::{Project, shown_path};
use crate::report::{ImportedFileInfo, Message};
use crate::shell::{Shell, plural};

mod alembic;

pub fn run(shell: &mut Shell, project: &Project, args: &ImportArgs) -> CliResult {
    let tool = args.from;
    let (imported, source_shown) = match tool {
        Tool::Alembic => {
            shell.status("Rendering", "the Alembic revisions offline, with the project's env.py")?;
            alembic::imported(shell, project, args)?
        }
        _ => import_files(tool, args)?,
    };
    let (dir, dir_shown) = match &args.into {
        Some(into) => {
            (std::env::current_dir().map(|cwd| cwd.join(into)).unwrap_or_else(|_| into.clone()), shown_path(into))
        }
        None => (project.dir.clone(), project.shown_dir.clone()),
    };
    refuse_unless_empty(&dir, &dir_shown)?;
    std::fs::create_dir_all(&dir).map_err(|e| CliError::io("create", &dir, e))?;

    let rendered = imported.render();
    // Every file is checked before the first is written.
    for (name, text) in &rendered {
        if let Err(problems) = parse_revision(SourceFile::new(dir_shown.join(name), text.as_str())) {
            let detail: Vec<String> = problems.iter().map(|p| p.problem.to_string()).collect();
            return Err(CliError::failure(format!("{name} would not be a valid revision: {}", detail.join("; "))));
        }
    }
    let mut lock = LockFile::empty(dir.join(LOCK_FILE_NAME));
    for ((name, text), rev) in rendered.iter().zip(&imported.revisions) {
        let path = dir.join(name);
        if !crate::fs::create_new(&path, text)? {
            return Err(CliError::failure(format!(
                "{} already exists; it was left as it is",
                dir_shown.join(name).display()
            )));
        }
        // One still to be written is pinned once it is (a draft until then).
        if rev.needs_sql.is_empty() {
            lock.pin(&rev.id, Checksum::of(text));
        }
    }
    crate::fs::write_atomic(&dir.join(LOCK_FILE_NAME), &lock.render())?;

    for file in &imported.files {
        let verb = match file.status {
            FileStatus::Converted => "Converted",
            FileStatus::NeedsReview => "Review",
            FileStatus::Skipped => "Skipped",
        };
        let target = file.revision.as_deref().map(|id| format!(" -> {id}")).unwrap_or_default();
        let notes = if file.notes.is_empty() { String::new() } else { format!(" ({})", file.notes.join("; ")) };
        shell.status(verb, format!("{}{target}{notes}", file.path))?;
    }
    let n = imported.revisions.len();
    shell.status(
        "Imported",
        format!(
            "{n} revision{} from {tool} into {}, pinned in {}",
            plural(n),
            dir_shown.display(),
            dir_shown.join(LOCK_FILE_NAME).display()
        ),
    )?;
    let unwritten: Vec<&str> =
        imported.revisions.iter().filter(|r| !r.needs_sql.is_empty()).map(|r| r.id.as_str()).collect();
    if !unwritten.is_empty() {
        shell.warn(format!(
            "{} revision{} need{} SQL written by hand (`-- needs-sql`, left unpinned): {}; `upgrade` stops before {}",
            unwritten.len(),
            plural(unwritten.len()),
            if unwritten.len() == 1 { "s" } else { "" },
            unwritten.join(", "),
            if unwritten.len() == 1 { "it" } else { "the first" }
        ))?;
    }
    let review = imported.files.iter().filter(|f| f.status == FileStatus::NeedsReview).count();
    if review > 0 {
        shell.note(format!(
            "{review} file{} need{} a human: see `Review` above",
            plural(review),
            if review == 1 { "s" } else { "" }
        ))?;
    }
    shell.emit(&Message::Imported {
        from: tool.name(),
        source: source_shown.display().to_string(),
        into: dir_shown.display().to_string(),
        revisions: imported.revisions.iter().map(|r| r.id.clone()).collect(),
        files: imported
            .files
            .iter()
            .map(|f| ImportedFileInfo {
                path: f.path.clone(),
                revision: f.revision.clone(),
                status: f.status.as_str(),
                notes: f.notes.clone(),
            })
            .collect(),
    })?;
    Ok(exit::OK)
}

/// A tool's migration files, read from SOURCE_DIR and converted.
fn import_files(tool: Tool, args: &ImportArgs) -> Result<(migrate_history::import::Imported, PathBuf), CliError> {
    let alembic_only = [
        ("--alembic-ini", args.alembic_ini.is_some()),
        ("--python", args.python.is_some()),
        ("--dialect", args.dialect.is_some()),
    ];
    if let Some((flag, _)) = alembic_only.iter().find(|(_, given)| *given) {
        return Err(CliError::usage(format!("{flag} is for `--from alembic`, not `--from {tool}`"))
            .with_help(format!("drop {flag}: {tool}'s files are SQL already")));
    }
    let Some(source) = &args.source else {
        return Err(CliError::usage(format!("`--from {tool}` needs SOURCE_DIR"))
            .with_help(format!("pass the directory holding {}", layout(tool))));
    };
    let source_shown = shown_path(source);
    let files = read_source(source)?;
    let imported = import(tool, &files).map_err(|e| {
        CliError::usage(format!("cannot import {}: {e}", source_shown.display()))
            .with_help(format!("`--from {tool}` reads {}", layout(tool)))
    })?;
    Ok((imported, source_shown))
}

/// How `tool` names its files, for help lines.
fn layout(tool: Tool) -> &'static str {
    match tool {
        Tool::Sqlx => "`<version>_<name>.sql` or `<version>_<name>.up.sql`/`.down.sql` files",
        Tool::GolangMigrate => "`<version>_<name>.up.sql`/`.down.sql` files",
        Tool::Dbmate => "`<version>_<name>.sql` files with `-- migrate:up` and `-- migrate:down` sections",
        Tool::Goose => "`<version>_<name>.sql` files with `-- +goose Up` and `-- +goose Down` sections",
        Tool::Diesel => "`<version>_<name>/` directories with `up.sql`, `down.sql` and `metadata.toml`",
        Tool::Refinery => "`V<n>__<name>.sql` and `U<n>__<name>.sql` files",
        Tool::Flyway => "`V<version>__<desc>.sql` files, `U<version>__<desc>.sql` undo files and `.sql.conf` files",
        Tool::Alembic => "an Alembic project: alembic.ini, env.py and the revision scripts",
    }
}

/// The source directory's files, as (relative path with `/`, text): its own
/// files and those of its subdirectories (diesel's layout), one level deep.
fn read_source(source: &Path) -> Result<Vec<(String, String)>, CliError> {
    let shown = shown_path(source);
    if !source.is_dir() {
        return Err(CliError::usage(format!("{} is not a directory", shown.display()))
            .with_help("pass the directory holding the tool's migration files"));
    }
    let mut files = Vec::new();
    read_level(source, "", 1, &mut files)?;
    Ok(files)
}

fn read_level(dir: &Path, prefix: &str, depth: usize, files: &mut Vec<(String, String)>) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CliError::io("read", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CliError::io("read", dir, e))?;
        let path = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if path.is_dir() {
            if depth > 0 {
                read_level(&path, &format!("{name}/"), depth - 1, files)?;
            }
        } else if path.is_file() {
            let text = std::fs::read_to_string(&path).map_err(|e| CliError::io("read", &path, e))?;
            files.push((name, text));
        }
    }
    Ok(())
}

/// Refuses a target holding anything but what `init` writes: `template.sql`
/// and a migrate.lock that pins nothing.
fn refuse_unless_empty(dir: &Path, shown: &Path) -> Result<(), CliError> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    let mut found: Vec<PathBuf> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let harmless = name == TEMPLATE_FILE_NAME
            || (name == LOCK_FILE_NAME
                && std::fs::read_to_string(entry.path())
                    .is_ok_and(|text| LockFile::parse(&SourceFile::new(entry.path(), text)).0.is_empty()));
        if !harmless {
            found.push(shown.join(name));
        }
    }
    found.sort();
    match found.first() {
        None => Ok(()),
        Some(first) => Err(CliError {
            message: format!(
                "{} is not empty (it holds {}{}): import writes a whole history and never mixes it with another",
                shown.display(),
                first.display(),
                if found.len() > 1 { format!(" and {} more", found.len() - 1) } else { String::new() }
            ),
            help: Some("move those files away, or pass `--into DIR` with an empty or new directory".into()),
            exit_code: exit::REFUSED,
        }),
    }
}
