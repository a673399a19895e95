//! `cargo migrate init --ci github`: workflows for GitHub Actions, rendered
//! from the templates in `templates/` with the project's conventions
//! (`project.rs`), checked against what is on disk before anything is
//! written, then written whole.

mod github;
mod project;
mod template;

use std::path::{Path, PathBuf};

pub use project::Request;

use crate::cli::{CiProvider, DeployTarget};
use crate::error::CliError;
use crate::project::shown_path;
use crate::shell::Shell;

/// The workflows to write, compared with what is there.
#[derive(Debug)]
pub struct Plan {
    files: Vec<Planned>,
    notes: Vec<String>,
}

#[derive(Debug)]
struct Planned {
    path: PathBuf,
    content: String,
    what: &'static str,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Identical,
    Differs,
}

impl Plan {
    /// Renders the workflows and compares them with the files on disk.
    /// Refuses (exit 2) a file that differs unless `force`, naming every
    /// such file, before `init` writes anything.
    pub fn new(
        provider: CiProvider,
        deploy: DeployTarget,
        request: &Request<'_>,
        force: bool,
    ) -> Result<Plan, CliError> {
        let CiProvider::Github = provider;
        let layout = project::Layout::find(request)?;
        let mut files = Vec::new();
        for (relative, content, what) in github::workflows(&layout, deploy) {
            let path = layout.root.join(relative);
            if let Some(blocked) =
                path.ancestors().skip(1).take_while(|a| *a != layout.root).find(|a| a.exists() && !a.is_dir())
            {
                return Err(CliError::usage(format!(
                    "{} is not a directory, so {} cannot be written; nothing was written",
                    shown_path(blocked).display(),
                    relative
                ))
                .with_help("move the file away: GitHub reads workflows from the directory .github/workflows"));
            }
            let state = match std::fs::read(&path) {
                Ok(existing) if existing == content.as_bytes() => State::Identical,
                Ok(_) => State::Differs,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::New,
                Err(e) => return Err(CliError::io("read", &path, e)),
            };
            files.push(Planned { path, content, what, state });
        }
        let differing: Vec<String> = files
            .iter()
            .filter(|f| f.state == State::Differs)
            .map(|f| shown_path(&f.path).display().to_string())
            .collect();
        if !differing.is_empty() && !force {
            let (them, exist) =
                if differing.len() == 1 { ("it", "exists and differs") } else { ("them", "exist and differ") };
            return Err(CliError::usage(format!(
                "{} {exist} from what `cargo migrate init --ci github` writes; nothing was written",
                differing.join(", ")
            ))
            .with_help(format!(
                "pass `--force` to replace {them} (commit or copy your version first), or move {them} away"
            )));
        }
        Ok(Plan { files, notes: github::notes(&layout, deploy) })
    }

    /// Writes the new and differing files (each whole or not at all), with
    /// a status line per file and the notes on what to set in GitHub.
    pub fn write(self, shell: &mut Shell) -> Result<(), CliError> {
        for file in &self.files {
            let shown = shown_path(&file.path);
            match file.state {
                State::Identical => {
                    shell.file("Unchanged", &shown, Some("as init writes it"))?;
                    continue;
                }
                State::New => {
                    create_parent(&file.path)?;
                    if !crate::fs::create_new(&file.path, &file.content)? {
                        return Err(CliError::failure(format!(
                            "{} appeared while init ran; nothing was replaced",
                            shown.display()
                        )));
                    }
                    shell.file("Created", &shown, Some(file.what))?;
                }
                State::Differs => {
                    crate::fs::write_atomic(&file.path, &file.content)?;
                    shell.file("Replaced", &shown, Some(file.what))?;
                }
            }
        }
        for note in &self.notes {
            shell.note(note)?;
        }
        Ok(())
    }
}

fn create_parent(path: &Path) -> Result<(), CliError> {
    let parent = path.parent().expect("a workflow file has a directory");
    std::fs::create_dir_all(parent).map_err(|e| CliError::io("create", parent, e))
}
