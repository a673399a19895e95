//! `init`: the migrations directory with its template and lock file, the
//! `[package.metadata.migrate]` table, and with `--build` the build script.

use std::path::{Path, PathBuf};

use migrate_history::config::{ConfigSource, DEFAULT_DIR};
use migrate_history::load::find_config;
use migrate_history::template::DEFAULT_TEMPLATE;
use migrate_history::{LOCK_FILE_NAME, LockFile, TEMPLATE_FILE_NAME};
use toml_edit::{DocumentMut, InlineTable, Item, Table, value};

use crate::cli::InitArgs;
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::project::{Selection, nearest_manifest, package_dir};
use crate::shell::Shell;

const BUILD_RS: &str = "\
// Validates the migration history and embeds it into the crate; a broken
// history fails `cargo build`. See `cargo migrate --help`.
fn main() {
    migrate_build::embed();
}
";

pub fn run(shell: &mut Shell, selection: &Selection, args: &InitArgs) -> CliResult {
    let cwd = std::env::current_dir().map_err(|e| CliError::failure(format!("no current directory: {e}")))?;
    let manifest_dir = match (&selection.package, &selection.manifest_path, &selection.dir) {
        (Some(package), manifest, _) => Some(package_dir(manifest.as_deref(), package)?),
        (None, Some(manifest), _) => Some(
            manifest
                .parent()
                .map(|p| cwd.join(p))
                .filter(|_| manifest.is_file())
                .ok_or_else(|| CliError::usage(format!("manifest path `{}` does not exist", manifest.display())))?,
        ),
        (None, None, Some(_)) => None,
        (None, None, None) => {
            Some(nearest_manifest(&cwd).and_then(|m| m.parent().map(Path::to_owned)).ok_or_else(|| {
                CliError::usage(format!("could not find `Cargo.toml` in `{}` or any parent directory", cwd.display()))
                    .with_help("run inside a cargo package, or pass `--dir DIR` to create a directory only")
            })?)
        }
    };

    let Some(manifest_dir) = manifest_dir else {
        if args.build {
            return Err(CliError::usage("`--build` needs a cargo package")
                .with_help("run inside the package, or pass `--manifest-path` or `-p`"));
        }
        let dir = selection.dir.clone().expect("matched above");
        let config = migrate_history::config::Config::default();
        let workflows = match args.ci {
            Some(provider) => Some(crate::ci::Plan::new(
                provider,
                args.deploy,
                &crate::ci::Request {
                    manifest_dir: None,
                    config: &config,
                    base: &cwd,
                    dir: &cwd.join(&dir),
                    cwd: &cwd,
                    path: args.path.as_deref(),
                    git: args.git.as_deref(),
                },
                args.force,
            )?),
            None => None,
        };
        create_files(shell, &cwd.join(&dir), &dir)?;
        add_union_merge(shell, &cwd, &cwd.join(&dir), &cwd)?;
        if let Some(workflows) = workflows {
            workflows.write(shell)?;
        }
        first_revision_note(shell, &cwd.join(&dir))?;
        return Ok(exit::OK);
    };

    let manifest = manifest_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| CliError::io("read", &manifest, e))?;
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        CliError::failure(format!("{} is not valid TOML: {}", manifest.display(), e.message().trim()))
    })?;
    let found = find_config(&manifest_dir);
    let is_package = doc.get("package").is_some();
    let mut edited = false;

    let (base, configured_dir) = match (&selection.dir, found.source) {
        (Some(dir), _) => {
            if is_package {
                edited |= set_metadata_dir(&mut doc, dir);
            }
            (manifest_dir.clone(), dir.clone())
        }
        (None, ConfigSource::Package | ConfigSource::Workspace) => (found.base.clone(), found.config.dir.clone()),
        (None, ConfigSource::Default) if is_package => {
            edited |= set_metadata_dir(&mut doc, Path::new(DEFAULT_DIR));
            (manifest_dir.clone(), PathBuf::from(DEFAULT_DIR))
        }
        (None, ConfigSource::Default) => {
            return Err(CliError::usage(format!("{} is a virtual workspace manifest", manifest.display()))
                .with_help("choose the package that owns the migrations with `-p NAME`"));
        }
    };
    let dir = base.join(&configured_dir);
    let shown = dir.strip_prefix(&cwd).map(Path::to_owned).unwrap_or_else(|_| dir.clone());
    // The workflows are checked before anything is written: all or nothing.
    let workflows = match args.ci {
        Some(provider) => {
            // The environments come from the configuration: a broken one is refused, every problem shown.
            let problems: Vec<_> = found.diagnostics.iter().filter(|d| d.is_error()).collect();
            if !problems.is_empty() {
                for problem in &problems {
                    let shown = migrate_history::Diagnostic {
                        path: problem.path.as_deref().map(crate::project::shown_path),
                        ..(*problem).clone()
                    };
                    shell.diagnostic(&shown)?;
                }
                return Err(CliError::usage(format!(
                    "the [package.metadata.migrate] configuration has {} problem(s); the workflows were not written",
                    problems.len()
                ))
                .with_help("fix them in Cargo.toml and run `cargo migrate init --ci github` again"));
            }
            Some(crate::ci::Plan::new(
                provider,
                args.deploy,
                &crate::ci::Request {
                    manifest_dir: Some(&manifest_dir),
                    config: &found.config,
                    base: &base,
                    dir: &dir,
                    cwd: &cwd,
                    path: args.path.as_deref(),
                    git: args.git.as_deref(),
                },
                args.force,
            )?)
        }
        None => None,
    };
    create_files(shell, &dir, &shown)?;
    add_union_merge(shell, &base, &dir, &cwd)?;

    if args.build {
        if !is_package {
            return Err(CliError::usage("`--build` needs a package, not a virtual workspace")
                .with_help("choose the package with `-p NAME`"));
        }
        // A relative path is written relative to the manifest (not to where
        // `init` ran), so the line holds for everyone who clones the project.
        let source = match (&args.path, &args.git) {
            (Some(p), _) => {
                Source::Path(if p.is_absolute() { p.clone() } else { relative_to(&manifest_dir, &cwd.join(p)) })
            }
            (None, Some(url)) => Source::Git(url.clone()),
            (None, None) => Source::CratesIo,
        };
        edited |= add_dependency(&mut doc, "build-dependencies", "migrate-build", &source, None);
        edited |= add_dependency(&mut doc, "dependencies", "migrate-history", &source, None);
        let driver = driver_feature(&manifest_dir);
        edited |= add_dependency(&mut doc, "dependencies", "migrate-runtime", &source, Some(driver));
        write_build_rs(shell, &manifest_dir)?;
    }
    if edited {
        // toml_edit drops a byte-order mark; put it back, keeping the file as it was.
        let bom = if text.starts_with(migrate_history::BOM) { "\u{feff}" } else { "" };
        crate::fs::write_atomic(&manifest, &format!("{bom}{doc}"))?;
        shell.file("Updated", manifest.strip_prefix(&cwd).unwrap_or(&manifest), None)?;
    }
    if let Some(workflows) = workflows {
        workflows.write(shell)?;
    }
    if args.build {
        shell.note(
            "embed the history with `pub static MIGRATIONS: migrate_history::embed::EmbeddedHistory = migrate_history::include_history!();`",
        )?;
    }
    first_revision_note(shell, &dir)?;
    Ok(exit::OK)
}

/// The note about `new`, only while the directory holds no revision.
fn first_revision_note(shell: &mut Shell, dir: &Path) -> Result<(), CliError> {
    let (sources, _) = migrate_history::load::read_dir(dir, dir);
    if sources.revisions.is_empty() {
        shell.note("create the first revision with `cargo migrate new \"create users\"`")?;
    }
    Ok(())
}

/// `.gitattributes` with `migrations/migrate.lock merge=union`.
fn add_union_merge(shell: &mut Shell, base: &Path, dir: &Path, cwd: &Path) -> Result<(), CliError> {
    let wanted = crate::gitattributes::union_line(base, dir);
    let existed = wanted.file.exists();
    if crate::gitattributes::ensure(base, dir)?.is_some() {
        let shown = wanted.file.strip_prefix(cwd).unwrap_or(&wanted.file);
        let verb = if existed { "Updated" } else { "Created" };
        shell.file(verb, shown, Some(&format!("`{}`: git keeps both branches' pins when merging", wanted.line)))?;
    }
    Ok(())
}

/// `to` as a path relative to the directory `from` (both made absolute and
/// resolved first), or `to` itself when they share no root.
fn relative_to(from: &Path, to: &Path) -> PathBuf {
    let from = from.canonicalize().unwrap_or_else(|_| from.to_owned());
    let to = to.canonicalize().unwrap_or_else(|_| to.to_owned());
    let (from_parts, to_parts): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = from_parts.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return to;
    }
    let mut relative = PathBuf::new();
    for _ in common..from_parts.len() {
        relative.push("..");
    }
    for part in &to_parts[common..] {
        relative.push(part);
    }
    if relative.as_os_str().is_empty() { PathBuf::from(".") } else { relative }
}

/// Creates the directory, template and lock file; leaves existing ones alone.
fn create_files(shell: &mut Shell, dir: &Path, shown: &Path) -> Result<(), CliError> {
    if dir.exists() && !dir.is_dir() {
        let problem = migrate_history::Problem::NotADirectory;
        let mut error = CliError::usage(format!("{}: {problem}", shown.display()));
        error.help = problem.help();
        return Err(error);
    }
    if !dir.is_dir() {
        std::fs::create_dir_all(dir).map_err(|e| CliError::io("create", dir, e))?;
        shell.file("Created", &shown.join(""), None)?;
    }
    let files =
        [(TEMPLATE_FILE_NAME, DEFAULT_TEMPLATE.to_owned()), (LOCK_FILE_NAME, LockFile::empty(LOCK_FILE_NAME).render())];
    for (name, content) in files {
        let verb = if crate::fs::create_new(&dir.join(name), &content)? { "Created" } else { "Keeping" };
        shell.file(verb, &shown.join(name), None)?;
    }
    Ok(())
}

/// Adds `[package.metadata.migrate] dir = "..."`, keeping the file's
/// formatting and comments. Returns whether it changed anything.
fn set_metadata_dir(doc: &mut DocumentMut, dir: &Path) -> bool {
    let Some(package) = doc.get_mut("package").and_then(Item::as_table_mut) else {
        return false;
    };
    let metadata = package.entry("metadata").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    let Some(metadata) = metadata.as_table_like_mut() else {
        return false;
    };
    if metadata.contains_key("migrate") {
        return false;
    }
    let mut migrate = Table::new();
    migrate.insert("dir", value(dir.to_string_lossy().replace('\\', "/")));
    metadata.insert("migrate", Item::Table(migrate));
    true
}

/// The migrate-runtime feature for the database the application will use:
/// `postgres` when `DATABASE_URL` (in the environment or `.env`) is a
/// PostgreSQL URL, otherwise `sqlite`, the default database.
fn driver_feature(package_dir: &Path) -> &'static str {
    let from_env = std::env::var("DATABASE_URL").ok();
    let from_dotenv = || {
        dotenvy::from_path_iter(package_dir.join(".env"))
            .ok()?
            .filter_map(Result::ok)
            .find_map(|(key, value)| (key == "DATABASE_URL").then_some(value))
    };
    let url = from_env.filter(|v| !v.trim().is_empty()).or_else(from_dotenv);
    match url.and_then(|text| migrate_runtime::DatabaseUrl::parse(text.trim()).ok()).map(|u| u.dialect()) {
        Some(migrate_history::Dialect::Postgres) => "postgres",
        _ => "sqlite",
    }
}

/// Adds a dependency unless the table already has it; `feature` replaces
/// the crate's default features with that one.
/// Where `init --build` points the dependencies.
enum Source {
    /// crates.io, this binary's version.
    CratesIo,
    /// A checkout of this repository (`--path`).
    Path(PathBuf),
    /// A git repository (`--git`): cargo finds each crate in it by name.
    Git(String),
}

fn add_dependency(doc: &mut DocumentMut, table: &str, name: &str, source: &Source, feature: Option<&str>) -> bool {
    let deps = doc.entry(table).or_insert_with(|| Item::Table(Table::new()));
    let Some(deps) = deps.as_table_like_mut() else {
        return false;
    };
    if deps.contains_key(name) {
        return false;
    }
    let mut inline = InlineTable::new();
    match source {
        Source::Path(repo) => inline.insert("path", repo.join(name).to_string_lossy().replace('\\', "/").into()),
        Source::Git(url) => inline.insert("git", url.as_str().into()),
        Source::CratesIo => inline.insert("version", env!("CARGO_PKG_VERSION").into()),
    };
    if let Some(feature) = feature {
        inline.insert("default-features", false.into());
        inline.insert("features", toml_edit::Array::from_iter([feature]).into());
    }
    let spec = match (source, feature) {
        (Source::CratesIo, None) => value(env!("CARGO_PKG_VERSION")),
        _ => value(inline),
    };
    deps.insert(name, spec);
    true
}

fn write_build_rs(shell: &mut Shell, package_dir: &Path) -> Result<(), CliError> {
    let path = package_dir.join("build.rs");
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing.contains("migrate_build::") => shell.file("Keeping", Path::new("build.rs"), None)?,
        Ok(_) => {
            shell.warn("build.rs exists and does not call migrate-build; it was left as it is")?;
            shell.help("add `migrate_build::embed();` to its `main`")?;
        }
        Err(_) if crate::fs::create_new(&path, BUILD_RS)? => shell.file("Created", Path::new("build.rs"), None)?,
        Err(error) => return Err(CliError::io("read", &path, error)),
    }
    Ok(())
}
