//! What the workflows need to know about the project: the repository root,
//! the `cargo migrate` command line that selects the project from there, the
//! paths a pull request must touch, the GitHub environments and where the
//! runner installs cargo-migrate from.

use std::path::{Path, PathBuf};

use migrate_history::config::Config;
use toml_edit::DocumentMut;

use crate::ci::template::shell_word;
use crate::error::CliError;
use crate::project::shown_path;

/// The environments offered when the manifest configures none.
const DEFAULT_ENVIRONMENTS: [&str; 2] = ["production", "staging"];

/// What `init` found out about the project before writing anything.
#[derive(Debug)]
pub struct Request<'a> {
    /// The directory of the Cargo.toml init works on (a package, or a virtual
    /// workspace configured with `[workspace.metadata.migrate]`); `None` for a
    /// bare `--dir` outside any cargo project.
    pub manifest_dir: Option<&'a Path>,
    pub config: &'a Config,
    /// The directory `schema` is relative to.
    pub base: &'a Path,
    /// The migrations directory, absolute.
    pub dir: &'a Path,
    /// The current directory, which relative `--path`s start from.
    pub cwd: &'a Path,
    pub path: Option<&'a Path>,
    pub git: Option<&'a str>,
}

/// One GitHub environment the migration workflow can run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    /// The secret holding its database URL (`url-env`, else `database-url-env`).
    pub secret: String,
}

/// Where the runner gets cargo-migrate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// crates.io, the version that wrote the workflows.
    CratesIo,
    /// `--git URL`.
    Git(String),
    /// `--path REPO` inside the repository: the repository-relative path of REPO.
    Path(String),
}

/// The project as the workflows see it from the repository root.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The nearest enclosing directory with `.git`, else the workspace root.
    pub root: PathBuf,
    /// `cargo migrate` with the flags that select the project from the root.
    pub command: String,
    /// The package's directory, relative to the root (`.` at the root).
    pub package_dir: String,
    /// The migrations directory, relative to the root.
    pub dir: String,
    /// The models file, relative to the root.
    pub schema: String,
    /// The environment variable cargo-migrate reads the URL from (`database-url-env`).
    pub url_variable: String,
    /// The environments, in the manifest's order.
    pub environments: Vec<Environment>,
    pub install: Install,
}

impl Layout {
    /// Works out the layout, refusing (exit 2, nothing written) what the
    /// workflows could not use.
    pub fn find(request: &Request<'_>) -> Result<Layout, CliError> {
        let start = request.manifest_dir.unwrap_or(request.cwd);
        let start = canonical(start)?;
        let git_root = start.ancestors().find(|dir| dir.join(".git").exists()).map(Path::to_owned);
        let selection = match request.manifest_dir {
            None => Selection::Dir,
            Some(dir) => select(dir)?,
        };
        let root = match (git_root, &selection) {
            (Some(root), _) => root,
            (None, Selection::Package { workspace_root, .. }) => workspace_root.clone(),
            (None, _) => start.clone(),
        };
        let relative = |path: &Path, what: &str| relative_to_root(&root, path, what);
        let mut flags = Vec::new();
        match &selection {
            Selection::Dir => {
                flags.extend(["--dir".to_owned(), shell_word(&relative(request.dir, "the migrations directory")?)])
            }
            Selection::Virtual { manifest } => {
                if manifest.parent() != Some(root.as_path()) {
                    flags.extend(["--manifest-path".to_owned(), shell_word(&relative(manifest, "the manifest")?)]);
                }
            }
            Selection::Package { manifest, name, workspace_root, members } => {
                if *members > 1 {
                    if workspace_root != &root {
                        let workspace_manifest = workspace_root.join("Cargo.toml");
                        flags.extend([
                            "--manifest-path".to_owned(),
                            shell_word(&relative(&workspace_manifest, "the workspace manifest")?),
                        ]);
                    }
                    flags.extend(["-p".to_owned(), shell_word(name)]);
                } else if manifest.parent() != Some(root.as_path()) {
                    flags.extend(["--manifest-path".to_owned(), shell_word(&relative(manifest, "the manifest")?)]);
                }
            }
        }
        let command = std::iter::once("cargo migrate".to_owned()).chain(flags).collect::<Vec<_>>().join(" ");
        let package_dir = relative(&start, "the package")?;
        let dir = relative(request.dir, "the migrations directory")?;
        let schema = relative(&request.base.join(&request.config.schema), "the models file (`schema`)")?;
        let environments: Vec<Environment> = request
            .config
            .environments
            .iter()
            .map(|e| Environment { name: e.name.clone(), secret: e.url_env.clone() })
            .collect();
        let environments = if environments.is_empty() {
            DEFAULT_ENVIRONMENTS
                .iter()
                .map(|name| Environment { name: (*name).to_owned(), secret: request.config.database_url_env.clone() })
                .collect()
        } else {
            environments
        };
        let install = match (request.path, request.git) {
            (Some(path), _) => Install::Path(install_path(&root, &request.cwd.join(path), path)?),
            (None, Some(url)) => Install::Git(url.to_owned()),
            (None, None) => Install::CratesIo,
        };
        Ok(Layout {
            root,
            command,
            package_dir,
            dir,
            schema,
            url_variable: request.config.database_url_env.clone(),
            environments,
            install,
        })
    }

    /// The environment deploys go to and the manual run starts with:
    /// `production` when there is one, else the first.
    pub fn default_environment(&self) -> &Environment {
        self.environments.iter().find(|e| e.name == "production").unwrap_or(&self.environments[0])
    }

    /// Whether every environment reads its URL from the same secret.
    pub fn one_secret(&self) -> Option<&str> {
        let first = &self.environments[0].secret;
        self.environments.iter().all(|e| &e.secret == first).then_some(first.as_str())
    }
}

/// How the project is chosen from the repository root.
#[derive(Debug)]
enum Selection {
    /// A bare `--dir`.
    Dir,
    /// A virtual workspace with `[workspace.metadata.migrate]`.
    Virtual { manifest: PathBuf },
    /// A package, with its workspace.
    Package { manifest: PathBuf, name: String, workspace_root: PathBuf, members: usize },
}

fn select(manifest_dir: &Path) -> Result<Selection, CliError> {
    let manifest = canonical(manifest_dir)?.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| CliError::io("read", &manifest, e))?;
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        CliError::failure(format!("{} is not valid TOML: {}", manifest.display(), e.message().trim()))
    })?;
    if doc.get("package").is_none() {
        return Ok(Selection::Virtual { manifest });
    }
    let metadata = cargo_metadata::MetadataCommand::new().no_deps().manifest_path(&manifest).exec().map_err(|e| {
        CliError::failure(format!("`cargo metadata` failed: {}", e.to_string().trim()))
            .with_help("run `cargo metadata --no-deps` to see the problem with the workspace")
    })?;
    let members = metadata.workspace_packages();
    let package = members.iter().find(|p| p.manifest_path.as_std_path() == manifest).ok_or_else(|| {
        CliError::failure(format!("`cargo metadata` does not list the package of {}", manifest.display()))
    })?;
    Ok(Selection::Package {
        name: package.name.to_string(),
        workspace_root: canonical(metadata.workspace_root.as_std_path())?,
        members: members.len(),
        manifest,
    })
}

fn canonical(path: &Path) -> Result<PathBuf, CliError> {
    path.canonicalize().map_err(|e| CliError::io("resolve", path, e))
}

/// `path` relative to the repository root, with `/` separators, refusing a
/// path outside it or one the workflows would have to quote in YAML globs
/// and shell lines alike.
fn relative_to_root(root: &Path, path: &Path, what: &str) -> Result<String, CliError> {
    relative_or(root, path, what, "run `cargo migrate init --ci github` for a project inside the repository")
}

/// [`relative_to_root`] with the help for a path outside the repository.
fn relative_or(root: &Path, path: &Path, what: &str, outside_help: &str) -> Result<String, CliError> {
    // The migrations directory and the models file may not exist yet.
    let existing = path.ancestors().find(|p| p.exists()).unwrap_or(path);
    let rest = path.strip_prefix(existing).unwrap_or(Path::new(""));
    let absolute = canonical(existing)?.join(rest);
    let relative = absolute.strip_prefix(root).map_err(|_| {
        CliError::usage(format!(
            "{what} `{}` is outside the repository `{}`, which is all a GitHub runner checks out",
            shown_path(path).display(),
            root.display()
        ))
        .with_help(outside_help)
    })?;
    let text = relative.to_string_lossy().replace('\\', "/");
    let text = if text.is_empty() { ".".to_owned() } else { text };
    if let Some(bad) =
        text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@' | '+' | ' ')))
    {
        return Err(CliError::usage(format!(
            "{what} `{text}` has the character `{bad}`, which the workflows' path filters and shell lines would read specially"
        ))
        .with_help("rename the directory to letters, digits, `_`, `-`, `.`, `@`, `+` and spaces"));
    }
    Ok(text)
}

/// The repository-relative path of a `--path` checkout of cargo-migrate.
fn install_path(root: &Path, path: &Path, given: &Path) -> Result<String, CliError> {
    let crate_manifest = path.join("cargo-migrate").join("Cargo.toml");
    if !crate_manifest.is_file() {
        return Err(CliError::usage(format!(
            "`--path {}` is not a checkout of the cargo-migrate repository: {} does not exist",
            given.display(),
            shown_path(&crate_manifest).display()
        ))
        .with_help("pass the directory of a clone of the cargo-migrate repository, or `--git URL`"));
    }
    relative_or(
        root,
        path,
        "the `--path` checkout of cargo-migrate",
        "a runner has only this repository: install from `--git URL` instead, or from crates.io (neither flag)",
    )
}
