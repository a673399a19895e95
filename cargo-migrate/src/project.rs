//! Finding the history a command works on: the package (through Cargo.toml
//! or `cargo metadata`), its `[package.metadata.migrate]`, and the directory.

use std::path::{Path, PathBuf};

use migrate_history::config::{Config, ConfigSource};
use migrate_history::load::find_config;
use migrate_history::{Analysis, Diagnostic, Options};

use crate::error::CliError;

/// Where the history lives and how it is configured.
#[derive(Debug, Clone)]
pub struct Project {
    pub config: Config,
    /// The directory the configuration is relative to (package or workspace
    /// root; the current directory with `--dir`): `.env` and `target/` live here.
    pub base: PathBuf,
    /// Absolute path of the migrations directory.
    pub dir: PathBuf,
    /// The directory as shown in messages: relative to the current directory when below it.
    pub shown_dir: PathBuf,
    /// Problems in the configuration.
    pub diagnostics: Vec<Diagnostic>,
    /// The environment chosen with `--env`, whose settings `config` holds.
    pub environment: Option<String>,
}

/// How the user pointed at the project.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub manifest_path: Option<PathBuf>,
    pub package: Option<String>,
    pub dir: Option<PathBuf>,
}

impl Project {
    /// Finds the project. Runs `cargo metadata` only when `-p` is given or a
    /// virtual workspace leaves the choice open; otherwise reads Cargo.toml
    /// directly, as the build script does.
    pub fn locate(selection: &Selection) -> Result<Project, CliError> {
        let cwd = std::env::current_dir().map_err(|e| CliError::failure(format!("no current directory: {e}")))?;
        let manifest_dir = match (&selection.package, &selection.manifest_path) {
            (Some(package), manifest) => Some(package_dir(manifest.as_deref(), package)?),
            (None, Some(manifest)) => Some(manifest_parent(&absolute(&cwd, manifest))?),
            (None, None) => nearest_manifest(&cwd).map(|m| m.parent().expect("a file has a parent").to_owned()),
        };

        let found = match &manifest_dir {
            Some(dir) => {
                let mut found = find_config(dir);
                if found.source == ConfigSource::Default && selection.dir.is_none() && is_virtual(dir) {
                    let package = only_configured_member(&dir.join("Cargo.toml"))?;
                    found = find_config(&package);
                }
                Some(found)
            }
            None if selection.dir.is_some() => None,
            None => {
                return Err(CliError::usage(format!(
                    "could not find `Cargo.toml` in `{}` or any parent directory",
                    cwd.display()
                ))
                .with_help("run inside a cargo project, pass `--manifest-path PATH`, or pass `--dir DIR` to use a migrations directory directly"));
            }
        };

        let (mut config, base, diagnostics) = match found {
            Some(found) => (found.config, found.base, found.diagnostics),
            None => (Config::default(), cwd.clone(), Vec::new()),
        };
        let (dir, shown_dir) = match &selection.dir {
            Some(dir) => (absolute(&cwd, dir), dir.clone()),
            None => {
                let dir = base.join(&config.dir);
                let shown = dir.strip_prefix(&cwd).map(Path::to_owned).unwrap_or_else(|_| dir.clone());
                (dir, shown)
            }
        };
        if selection.dir.is_some() {
            config.dir = dir.clone();
        }
        Ok(Project { base, config, dir, shown_dir, diagnostics, environment: None })
    }

    /// The project as environment `name` sees it: its URL variable, version
    /// table and schema in `config`.
    pub fn in_environment(&self, name: &str) -> Result<Project, CliError> {
        let Some(environment) = self.config.environment(name) else {
            let known: Vec<&str> = self.config.environments.iter().map(|e| e.name.as_str()).collect();
            let help = match known.is_empty() {
                true => format!(
                    "configure it in Cargo.toml: `[package.metadata.migrate.environments.{name}]` with `url-env = \"{}_DATABASE_URL\"`",
                    name.to_ascii_uppercase().replace(['-', '.'], "_")
                ),
                false => format!("the environments are {}", known.join(", ")),
            };
            return Err(CliError::usage(format!("no environment `{name}` in [package.metadata.migrate.environments]"))
                .with_help(help));
        };
        let mut config = self.config.clone();
        config.database_url_env = environment.url_env.clone();
        if environment.version_table.is_some() {
            config.version_table = environment.version_table.clone();
        }
        if environment.version_schema.is_some() {
            config.version_schema = environment.version_schema.clone();
        }
        Ok(Project { config, environment: Some(name.to_owned()), ..self.clone() })
    }

    /// Reads and validates the history.
    pub fn analyze(&self, options: Options) -> Analysis {
        let (sources, mut problems) = migrate_history::load::read_dir(&self.dir, &self.shown_dir);
        problems.extend(self.diagnostics.iter().cloned());
        migrate_history::analyze_with(sources, problems, options)
    }

    /// The path of a file in the migrations directory, as shown in messages.
    pub fn shown(&self, name: &str) -> PathBuf {
        self.shown_dir.join(name)
    }
}

/// A path as shown to the user: relative to the current directory when below it.
pub fn shown_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_owned))
        .unwrap_or_else(|| path.to_owned())
}

fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_owned() } else { cwd.join(path) }
}

fn manifest_parent(manifest: &Path) -> Result<PathBuf, CliError> {
    if !manifest.is_file() {
        return Err(CliError::usage(format!("manifest path `{}` does not exist", manifest.display()))
            .with_help("`--manifest-path` takes the path of a Cargo.toml"));
    }
    Ok(manifest.parent().expect("a file has a parent").to_owned())
}

/// The nearest `Cargo.toml` in `dir` or above, as cargo finds it.
pub fn nearest_manifest(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().map(|d| d.join("Cargo.toml")).find(|m| m.is_file())
}

/// Whether the manifest in `dir` has no `[package]`.
fn is_virtual(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<toml_edit::DocumentMut>().ok())
        .is_some_and(|doc| doc.get("package").is_none())
}

fn metadata(manifest: Option<&Path>) -> Result<cargo_metadata::Metadata, CliError> {
    let mut command = cargo_metadata::MetadataCommand::new();
    command.no_deps();
    if let Some(manifest) = manifest {
        command.manifest_path(manifest);
    }
    command.exec().map_err(|e| {
        CliError::failure(format!("`cargo metadata` failed: {}", e.to_string().trim()))
            .with_help("run `cargo metadata --no-deps` to see the problem with the workspace")
    })
}

/// The directory of workspace member `name`.
pub fn package_dir(manifest: Option<&Path>, name: &str) -> Result<PathBuf, CliError> {
    let metadata = metadata(manifest)?;
    let members: Vec<&cargo_metadata::Package> = metadata.workspace_packages();
    match members.iter().find(|p| p.name.as_str() == name) {
        Some(package) => Ok(package.manifest_path.parent().expect("manifest has a parent").as_std_path().to_owned()),
        None => {
            let names: Vec<&str> = members.iter().map(|p| p.name.as_str()).collect();
            Err(CliError::usage(format!("package `{name}` is not a member of the workspace"))
                .with_help(format!("the members are: {}", names.join(", "))))
        }
    }
}

/// In a virtual workspace without `[workspace.metadata.migrate]`, the one
/// member that configures migrations.
fn only_configured_member(manifest: &Path) -> Result<PathBuf, CliError> {
    let metadata = metadata(Some(manifest))?;
    let configured: Vec<&cargo_metadata::Package> =
        metadata.workspace_packages().into_iter().filter(|p| p.metadata.get("migrate").is_some()).collect();
    match configured.as_slice() {
        [one] => Ok(one.manifest_path.parent().expect("manifest has a parent").as_std_path().to_owned()),
        [] => Err(CliError::usage("no package of this workspace has `[package.metadata.migrate]`")
            .with_help("choose a package with `-p NAME`, or run `cargo migrate init -p NAME` first")),
        several => {
            let names: Vec<&str> = several.iter().map(|p| p.name.as_str()).collect();
            Err(CliError::usage(format!("several packages have migrations: {}", names.join(", ")))
                .with_help("choose one with `-p NAME`"))
        }
    }
}
