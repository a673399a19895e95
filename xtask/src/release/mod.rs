//! `cargo xtask release VERSION [--dry-run] [--no-package] [--root DIR]`:
//! checks that the repository can be released, then bumps the version,
//! releases CHANGELOG.md's Unreleased section, tags the history in
//! `migrations/releases.toml`, writes `dist/VERSION/`, runs `cargo package`
//! and prints the `git tag` and `cargo publish` commands (it runs neither).
//!
//! Everything is computed and checked before the first file is written, so
//! a refused release leaves the tree as it was; `--dry-run` stops there and
//! prints what would change.

mod changelog;
mod dist;
mod runtime;
mod version;

use std::path::{Path, PathBuf};
use std::process::Command;

use migrate_history::{Analysis, Options as HistoryOptions, RELEASES_FILE_NAME, load};

use crate::PUBLISHED;
use version::Version;

/// The command line of `release`.
#[derive(Debug)]
struct Args {
    version: Version,
    dry_run: bool,
    no_package: bool,
    root: PathBuf,
}

impl Args {
    fn parse(args: &[&str]) -> Result<Args, String> {
        let usage = "usage: cargo xtask release VERSION [--dry-run] [--no-package] [--root DIR]";
        let (mut version, mut dry_run, mut no_package, mut root) = (None, false, false, None);
        let mut rest = args.iter();
        while let Some(&arg) = rest.next() {
            match arg {
                "--dry-run" => dry_run = true,
                "--no-package" => no_package = true,
                "--root" => {
                    root = Some(PathBuf::from(rest.next().ok_or(format!("--root needs a directory\n{usage}"))?))
                }
                flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`\n{usage}")),
                text if version.is_none() => version = Some(Version::parse(text)?),
                extra => return Err(format!("unexpected argument `{extra}`\n{usage}")),
            }
        }
        let version = version.ok_or(format!("the version to release is missing\n{usage}"))?;
        let root = root.unwrap_or_else(crate::workspace_root);
        let root = root.canonicalize().map_err(|e| format!("--root {}: {e}", root.display()))?;
        Ok(Args { version, dry_run, no_package, root })
    }
}

/// A file the release rewrites or creates, relative to the root.
#[derive(Debug)]
struct Edit {
    path: PathBuf,
    old: Option<String>,
    new: String,
}

/// Runs the task.
pub fn run(args: &[&str]) -> Result<(), String> {
    let args = Args::parse(args)?;
    let root = &args.root;
    let (version, tag) = (&args.version, args.version.tag());

    refuse_a_dirty_tree(root)?;
    let manifest = read(root, "Cargo.toml")?;
    let (bumped_manifest, old_version) = version::bump_manifest(&manifest, version)?;
    if version.compare(&old_version).is_lt() {
        return Err(format!("{version} is older than the workspace's version {old_version}"));
    }
    let lock = read(root, "Cargo.lock")?;
    let bumped_lock = version::bump_lock(&lock, &members(root, &manifest)?, version)?;

    let found = load::find_config(root);
    let config = found.config;
    let (dir, shown_dir) = (found.base.join(&config.dir), shown(root, &found.base.join(&config.dir)));
    let analysis = migrate_history::analyze_dir(
        &dir,
        &shown_dir,
        HistoryOptions { allow_multiple_heads: false, require_pinned: true },
    );
    let mut problems: Vec<String> =
        found.diagnostics.iter().chain(analysis.errors()).map(ToString::to_string).collect();
    problems.sort();
    if !problems.is_empty() {
        return Err(format!("the history cannot be released:\n  {}", problems.join("\n  ")));
    }
    let history = &analysis.history;
    if let Some((name, _)) = history.tags().find(|(name, _)| migrate_history::releases::same_release(name, &tag)) {
        return Err(format!(
            "{version} is released already: {} has the tag `{name}`",
            shown_dir.join(RELEASES_FILE_NAME).display()
        ));
    }
    let previous = previous_release(&analysis, version)?;
    let heads = history.heads();

    let models_path = found.base.join(&config.schema);
    let models_checked = match std::fs::read_to_string(&models_path) {
        Ok(models) => {
            let differences = runtime::models_differences(history, &config, migrate_history::strip_bom(&models))?;
            if !differences.is_empty() {
                return Err(format!(
                    "{} differs from what the history produces (`cargo migrate check` says the same):\n  {}",
                    shown(root, &models_path).display(),
                    differences.join("\n  ")
                ));
            }
            Some(shown(root, &models_path))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(format!("reading {}: {error}", models_path.display())),
    };

    let changelog = read(root, "CHANGELOG.md")?;
    let released_changelog = changelog::release(&changelog, &version.text, &tag, &today())?;
    let releases_path = shown_dir.join(RELEASES_FILE_NAME);
    let releases = std::fs::read_to_string(root.join(&releases_path)).ok();
    let tagged = migrate_history::releases::add_tag(releases.as_deref(), &tag, &history.ids(&heads))
        .map_err(|problem| format!("{}: {problem}", releases_path.display()))?;

    let dist_dir = Path::new("dist").join(&version.text);
    if root.join(&dist_dir).exists() {
        return Err(format!("{} exists already: remove it, or release another version", dist_dir.display()));
    }
    let files = dist::files(
        history,
        &config,
        &dist::Release { version, tag: &tag, heads: &heads, previous: previous.as_ref() },
    )?;

    let edits = [
        Edit { path: "Cargo.toml".into(), old: Some(manifest), new: bumped_manifest },
        Edit { path: "Cargo.lock".into(), old: Some(lock), new: bumped_lock },
        Edit { path: "CHANGELOG.md".into(), old: Some(changelog), new: released_changelog },
        Edit { path: releases_path.clone(), old: releases, new: tagged },
    ];

    let previous_text =
        previous.as_ref().map_or("the first release".to_owned(), |(name, _)| format!("previous release {name}"));
    println!("Releasing {version} (tag {tag}; {previous_text})");
    println!(
        "Checked: a clean working tree; {} revisions, all pinned, one head ({}){}",
        history.len(),
        history.ids(&heads).join(", "),
        models_checked.map_or(String::new(), |path| format!("; {} matches the history", path.display()))
    );
    for edit in &edits {
        print!("{}", unified_diff(edit));
    }
    let verb = if args.dry_run { "Would write" } else { "Writing" };
    println!("{verb} {}/:", dist_dir.display());
    for file in &files {
        println!("  {:<34} {}", file.name, file.description);
    }
    if previous.is_none() {
        println!("  (no upgrade-from script: this is the first release)");
    }

    if args.dry_run {
        println!("Dry run: nothing was written.");
    } else {
        for edit in &edits {
            write(root, &edit.path, &edit.new)?;
        }
        std::fs::create_dir_all(root.join(&dist_dir)).map_err(|e| format!("creating {}: {e}", dist_dir.display()))?;
        for file in &files {
            write(root, &dist_dir.join(&file.name), &file.text)?;
        }
    }
    match (args.dry_run, args.no_package) {
        (true, _) => println!("A release then runs `cargo package` of {} (verified).", PUBLISHED.join(", ")),
        (false, true) => println!(
            "Skipped `cargo package` (--no-package): `cargo xtask test` packages the published crates before you publish."
        ),
        (false, false) => crate::package(root)?,
    }
    let paths: Vec<String> =
        edits.iter().map(|e| e.path.display().to_string()).chain([dist_dir.display().to_string()]).collect();
    println!("Then, by hand:");
    println!("  git add {}", paths.join(" "));
    println!("  git commit -m \"Release {version}\"");
    println!("  git tag -a {tag} -m \"Release {version}\"");
    for krate in PUBLISHED {
        println!("  cargo publish -p {krate}");
    }
    Ok(())
}

/// Refuses uncommitted changes and untracked files: what is released is a commit.
fn refuse_a_dirty_tree(root: &Path) -> Result<(), String> {
    let output = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("could not run git: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`git status` failed in {}: {}",
            root.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let status = String::from_utf8_lossy(&output.stdout);
    if status.trim().is_empty() {
        return Ok(());
    }
    let lines: Vec<&str> = status.lines().collect();
    Err(format!("the working tree has uncommitted changes; commit or stash them first:\n  {}", lines.join("\n  ")))
}

/// The newest tag of the history that parses as a version, refusing a
/// release that is not newer than it.
fn previous_release(analysis: &Analysis, version: &Version) -> Result<Option<(String, Vec<usize>)>, String> {
    let mut newest: Option<(Version, &str, &[usize])> = None;
    for (name, heads) in analysis.history.tags() {
        let Ok(tagged) = Version::parse(name.strip_prefix('v').unwrap_or(name)) else { continue };
        if newest.as_ref().is_none_or(|(v, _, _)| tagged.compare(v).is_gt()) {
            newest = Some((tagged, name, heads));
        }
    }
    match newest {
        Some((tagged, name, _)) if version.compare(&tagged).is_le() => {
            Err(format!("{version} is not newer than the last release, {name}"))
        }
        Some((_, name, heads)) => Ok(Some((name.to_owned(), heads.to_vec()))),
        None => Ok(None),
    }
}

/// The packages of the workspace members whose version is the workspace's.
fn members(root: &Path, manifest: &str) -> Result<Vec<String>, String> {
    let doc: toml_edit::DocumentMut = manifest.parse().map_err(|e| format!("Cargo.toml does not parse: {e}"))?;
    let listed = doc.get("workspace").and_then(|w| w.get("members")).and_then(|m| m.as_array());
    let mut names = Vec::new();
    for member in listed.into_iter().flatten().filter_map(|m| m.as_str()) {
        let text = read(root, Path::new(member).join("Cargo.toml"))?;
        let doc: toml_edit::DocumentMut =
            text.parse().map_err(|e| format!("{member}/Cargo.toml does not parse: {e}"))?;
        let package = doc.get("package");
        let inherits = package
            .and_then(|p| p.get("version"))
            .and_then(|v| v.get("workspace"))
            .and_then(|w| w.as_bool())
            .unwrap_or(false);
        if let (true, Some(name)) = (inherits, package.and_then(|p| p.get("name")).and_then(|n| n.as_str())) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

fn read(root: &Path, relative: impl AsRef<Path>) -> Result<String, String> {
    let relative = relative.as_ref();
    std::fs::read_to_string(root.join(relative)).map_err(|e| format!("reading {}: {e}", relative.display()))
}

/// Writes a file atomically: a temporary file beside it, renamed over it.
fn write(root: &Path, relative: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let path = root.join(relative);
    let failed = |e: std::io::Error| format!("writing {}: {e}", relative.display());
    let mut file = tempfile::NamedTempFile::new_in(path.parent().unwrap_or(root)).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    file.persist(&path).map_err(|e| failed(e.error))?;
    Ok(())
}

/// `path` relative to the root, as shown in messages and diffs.
fn shown(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).map(Path::to_owned).unwrap_or_else(|_| path.to_owned())
}

/// A unified diff (`git diff` style headers), empty when nothing changes.
fn unified_diff(edit: &Edit) -> String {
    let old = edit.old.as_deref().unwrap_or("");
    if old == edit.new {
        return String::new();
    }
    let from = match edit.old {
        Some(_) => format!("a/{}", edit.path.display()),
        None => "/dev/null".to_owned(),
    };
    similar::TextDiff::from_lines(old, &edit.new)
        .unified_diff()
        .context_radius(3)
        .header(&from, &format!("b/{}", edit.path.display()))
        .to_string()
}

/// Today's date (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_day_counts() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
    }
}
