//! `squash --upto REV`: one baseline revision in place of REV and every
//! revision it needs. migrate-runtime's `Workbench::baseline` replays them
//! on a scratch database and writes their schema and rows; this writes the
//! baseline, then moves the replaced files to `squashed/<id>/` (moved back,
//! and the baseline removed, when a move fails), then pins the baseline.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use migrate_history::{Checksum, History, LOCK_FILE_NAME, SourceFile, header_control_character, parse_revision};

use super::analyze_for_writing;
use crate::cli::{DbArgs, SquashArgs};
use crate::db::{chosen_url, configured, connect_to_read, resolve_url, workbench_error};
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::project::Project;
use crate::shell::{Shell, plural};

/// Where the replaced revisions of a baseline go, inside the migrations directory.
pub const SQUASHED_DIR: &str = "squashed";

pub fn run(shell: &mut Shell, project: &Project, args: &SquashArgs) -> CliResult {
    if args.prune {
        return prune(shell, project, args);
    }
    let analysis = analyze_for_writing(shell, project)?;
    let history = &analysis.history;
    let tip = history.lookup(&args.upto).map_err(|e| {
        let help = e.help().map(str::to_owned);
        let mut error = CliError::usage(format!("`--upto {}`: {e}", args.upto));
        error.help = help.or_else(|| Some("`cargo migrate history` lists the revisions".into()));
        error
    })?;
    let set = replaced_set(history, tip)?;
    if let Some(message) = &args.message
        && let Some(character) = header_control_character(message)
    {
        return Err(CliError::usage(format!("`--message` contains {character:?}"))
            .with_help("pass a one-line message; longer notes belong in a comment below the header"));
    }
    let ids = flattened_ids(history, &set);
    if let Some(draft) = history.ids(&set).iter().find(|id| !analysis.lock.is_pinned(id)) {
        return Err(CliError::usage(format!(
            "revision `{draft}` would be replaced but is a draft: a baseline replaces released revisions only"
        ))
        .with_help(format!(
            "pin it first with `cargo migrate lock`, or squash up to a revision before it (`--upto {}` or earlier)",
            history.parents(history.index_of(draft).unwrap_or(tip)).first().map_or("…", |&p| &history.revision(p).id)
        )));
    }
    let tip_id = history.revision(tip).id.clone();
    let id = baseline_id(history, &ids)?;

    let resolved = chosen_url(shell, project, &args.db, false)?;
    let bench = crate::models::workbench_in_dialect(project, args.dev_url.as_deref(), &resolved.url)?;
    shell.status(
        "Replaying",
        format!("{} revision{} up to {tip_id} ({})", set.len(), plural(set.len()), bench.describe()),
    )?;
    let migrator = configured(project, history.clone());
    let baseline = bench.baseline(&migrator, &tip_id);
    crate::models::warn_left_behind(shell)?;
    let baseline = baseline.map_err(|e| workbench_error(e, &project.config.schema))?;

    let message = args.message.clone().unwrap_or_else(|| format!("baseline up to {tip_id}"));
    let inner: Vec<String> = set
        .iter()
        .filter(|&&i| !history.revision(i).replaces.is_empty())
        .map(|&i| history.revision(i).id.clone())
        .collect();
    let text = render(&id, &message, &ids, &inner, &tip_id, &baseline.up);
    let slug = migrate_history::template::slug(&message);
    let name = if slug.is_empty() { format!("{id}.sql") } else { format!("{id}_{slug}.sql") };
    let shown = project.shown(&name);
    if let Err(problems) = parse_revision(SourceFile::new(&shown, text.as_str())) {
        let detail: Vec<String> = problems.iter().map(|p| p.problem.to_string()).collect();
        return Err(CliError::failure(format!("the baseline would not parse: {}", detail.join("; "))));
    }
    // What an inner baseline replaces stays in its directory; the inner
    // baseline itself moves with the rest.
    let moves: Vec<(PathBuf, PathBuf)> = set
        .iter()
        .filter(|&&i| history.replaced_by(i).is_none())
        .map(|&i| {
            let rev = history.revision(i);
            let from = rev.file.origin.clone().unwrap_or_else(|| project.base.join(&rev.file.path));
            let file_name =
                from.file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(format!("{}.sql", rev.id)));
            (from, project.dir.join(SQUASHED_DIR).join(&id).join(file_name))
        })
        .collect();
    if let Some((_, taken)) = moves.iter().find(|(_, to)| to.exists()) {
        return Err(CliError::failure(format!("{} exists already; nothing was written", taken.display()))
            .with_help("move it away, or remove the squashed directory left by an earlier attempt"));
    }

    // The baseline first: until the moves are done, the history still holds every replaced file.
    let baseline_path = project.dir.join(&name);
    if !crate::fs::create_new(&baseline_path, &text)? {
        return Err(CliError::failure(format!("{} already exists; it was left as it is", shown.display())));
    }
    let written = move_all(&moves).and_then(|()| {
        pin(project, &analysis.lock, &id, &text).inspect_err(|_| {
            for (from, to) in moves.iter().rev() {
                let _ = std::fs::rename(to, from);
            }
        })
    });
    if let Err(error) = written {
        let _ = std::fs::remove_file(&baseline_path);
        let _ = std::fs::remove_dir(project.dir.join(SQUASHED_DIR).join(&id));
        let _ = std::fs::remove_dir(project.dir.join(SQUASHED_DIR));
        return Err(error.with_help("nothing was changed: the baseline was removed and every moved file put back"));
    }
    shell.status("Created", format!("{} ({message}), replacing {}", shown.display(), ids.join(", ")))?;
    let squashed = project.shown(SQUASHED_DIR).join(&id);
    shell.status(
        "Moved",
        format!("{} revision{} to {}/ (still loaded and pinned)", moves.len(), plural(moves.len()), squashed.display()),
    )?;
    shell.status("Pinned", format!("{id} in {}", project.shown(LOCK_FILE_NAME).display()))?;
    if !baseline.rows.is_empty() {
        let tables: Vec<String> =
            baseline.rows.iter().map(|(table, n)| format!("{table} ({n} row{})", plural(*n))).collect();
        shell.warn(format!(
            "the baseline keeps the rows the replaced revisions left in {}: review them, they are now part of every new database",
            tables.join(", ")
        ))?;
    }
    for what in &baseline.unwritten {
        shell.warn(format!("the baseline does not write {what}: add it to {} by hand", shown.display()))?;
    }
    shell.note(format!(
        "databases that applied the replaced revisions record {id} on their next upgrade without running it; `cargo migrate check` proves the baseline builds the same schema"
    ))?;
    // With `--message-format json`, stdout holds JSON lines only.
    if !shell.json() {
        writeln!(shell.out(), "{}", shown.display())?;
    }
    Ok(exit::OK)
}

/// REV and every revision it needs, refused when a revision outside the
/// set builds on one inside it other than REV, or when the set holds part
/// of an earlier baseline (see [`over_a_baseline`]). An earlier baseline
/// whose whole set is needed is in the set too (nested squash): the new
/// baseline replaces it and, with it, everything it replaces.
fn replaced_set(history: &History, tip: usize) -> Result<Vec<usize>, CliError> {
    let tip_id = &history.revision(tip).id;
    let mut needed = history.ancestors(&[tip]);
    history.need_whole_baselines(&mut needed);
    let set: Vec<usize> = (0..history.len()).filter(|&i| needed[i]).collect();
    if let Some(error) = over_a_baseline(history, tip, &set) {
        return Err(error);
    }
    for c in (0..history.len()).filter(|&c| !needed[c]) {
        let inside = history.parents(c).iter().chain(history.dependencies(c)).find(|&&p| needed[p] && p != tip);
        if let Some(&p) = inside {
            let c_id = &history.revision(c).id;
            return Err(CliError::usage(format!(
                "`--upto {tip_id}`: revision `{c_id}` ({}) builds on `{}`, which the baseline would replace, but is not itself replaced",
                history.revision(c).file.path.display(),
                history.revision(p).id
            ))
            .with_help(format!(
                "a baseline replaces a stretch that only its last revision leads out of: squash up to a revision that needs `{c_id}` (merge the branches first with `cargo migrate merge`), or up to `{}` or earlier",
                history.revision(p).id
            )));
        }
    }
    Ok(set)
}

/// The ids the new baseline lists: the set, with the ids each pruned
/// baseline in it replaced (their files gone) before it, so that a
/// database's rows for them still belong to a revision once the new
/// baseline is pruned in turn.
fn flattened_ids(history: &History, set: &[usize]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for &i in set {
        let rev = history.revision(i);
        if !history.is_baseline(i) {
            for id in &rev.replaces {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
        ids.push(rev.id.clone());
    }
    ids
}

/// The refusal of a set that holds part of an earlier baseline: some of
/// the revisions it replaces and not all of them, or all of them and no
/// more (that baseline already stands for them), or the baseline alone
/// (`--upto` a baseline). A set that holds an earlier baseline with all
/// it replaces and more is a nested squash, which is supported.
fn over_a_baseline(history: &History, tip: usize, set: &[usize]) -> Option<CliError> {
    let tip_id = &history.revision(tip).id;
    let refusal = |b: usize, what: String| {
        let b_id = &history.revision(b).id;
        let replaced = history.revision(b).replaces.join(", ");
        let tip_of = history.baseline_tip(b).map_or(b_id.as_str(), |t| history.revision(t).id.as_str());
        CliError::usage(format!("`--upto {tip_id}` would replace {what}: a baseline replaces an earlier one only as a whole and with more after it"))
            .with_help(format!(
                "`{b_id}` stands for {replaced}: squash up to a revision after `{tip_of}` to replace `{b_id}` with everything it replaces; `cargo migrate history` marks what each baseline replaces"
            ))
    };
    let b_id = |b: usize| history.revision(b).id.clone();
    if history.is_baseline(tip) || !history.revision(tip).replaces.is_empty() {
        return Some(refusal(tip, format!("baseline `{}` alone", b_id(tip))));
    }
    for b in (0..history.len()).filter(|&b| history.is_baseline(b)) {
        let members = history.replaced(b);
        let inside = members.iter().filter(|m| set.contains(m)).count();
        if inside == 0 {
            continue;
        }
        if inside < members.len() {
            return Some(refusal(b, format!("part of what baseline `{}` replaces", b_id(b))));
        }
        if set.iter().all(|&i| i == b || members.contains(&i)) {
            return Some(refusal(b, format!("exactly what baseline `{}` replaces", b_id(b))));
        }
    }
    None
}

/// A baseline's id: derived from what it replaces (the same squash gives
/// the same id), unless that id is taken.
fn baseline_id(history: &History, ids: &[String]) -> Result<String, CliError> {
    let digest = Checksum::of(&format!("baseline:{}", ids.join(","))).to_string();
    let id = digest[Checksum::PREFIX.len()..Checksum::PREFIX.len() + 12].to_owned();
    if let Some(existing) = history.get(&id) {
        return Err(CliError::failure(format!(
            "the baseline's id `{id}` is taken by {}",
            existing.file.path.display()
        ))
        .with_help("an earlier squash of the same revisions left it: remove that file first"));
    }
    Ok(id)
}

/// The baseline's text: header, a comment saying what it is, the up
/// section and no down section.
/// `inner`: the earlier baselines it replaces (a nested squash).
fn render(id: &str, message: &str, ids: &[String], inner: &[String], tip: &str, up: &str) -> String {
    let created = humantime::format_rfc3339_seconds(SystemTime::now());
    let mut text = format!(
        "-- revision: {id}\n-- parents:\n-- message: {message}\n-- created: {created}\n-- replaces: {}\n\n",
        ids.join(", ")
    );
    text.push_str(&format!(
        "-- Written by `cargo migrate squash --upto {tip}`: the schema and rows the\n\
         -- revisions it replaces build, which are kept in squashed/{id}/. A new\n\
         -- database runs this; one that applied them records it without running it.\n\
         -- No down section: a database upgraded through a baseline goes down to\n\
         -- {tip} at the lowest.\n"
    ));
    for b in inner {
        text.push_str(&format!(
            "-- It replaces the earlier baseline {b} too, whose own replaced revisions\n\
             -- (if not pruned) stay in squashed/{b}/.\n"
        ));
    }
    text.push_str("\n-- migrate:up\n");
    text.push_str(up.trim_end());
    text.push('\n');
    text
}

/// Moves each file, never replacing one; on failure moves back what moved.
fn move_all(moves: &[(PathBuf, PathBuf)]) -> Result<(), CliError> {
    let mut done: Vec<(&Path, &Path)> = Vec::new();
    for (from, to) in moves {
        let result = match to.parent() {
            Some(dir) => std::fs::create_dir_all(dir).map_err(|e| CliError::io("create", dir, e)),
            None => Ok(()),
        }
        .and_then(|()| {
            if to.exists() {
                return Err(CliError::failure(format!("{} exists already", to.display())));
            }
            std::fs::rename(from, to).map_err(|e| CliError::io("move", from, e))
        });
        if let Err(error) = result {
            for (from, to) in done.into_iter().rev() {
                let _ = std::fs::rename(to, from);
            }
            return Err(error);
        }
        done.push((from, to));
    }
    Ok(())
}

/// Pins the baseline in migrate.lock.
fn pin(project: &Project, lock: &migrate_history::LockFile, id: &str, text: &str) -> Result<(), CliError> {
    let mut lock = lock.clone();
    lock.pin(id, Checksum::of(text));
    crate::fs::write_atomic(&project.dir.join(LOCK_FILE_NAME), &lock.render())
}

/// `squash --prune --upto REV`: deletes `squashed/<baseline>/` once every
/// environment has recorded the baseline (read only), and unpins the files.
/// The directory is first moved aside, so a failure to write migrate.lock
/// puts it back.
fn prune(shell: &mut Shell, project: &Project, args: &SquashArgs) -> CliResult {
    let analysis = analyze_for_writing(shell, project)?;
    let history = &analysis.history;
    let found = history.lookup(&args.upto)?;
    let Some(b) = history.replaced_by(found).or(history.is_baseline(found).then_some(found)) else {
        return Err(CliError::usage(format!(
            "`--upto {}`: `{}` is neither a baseline with its replaced revisions nor one of them",
            args.upto,
            history.revision(found).id
        ))
        .with_help("`cargo migrate history` marks baselines `(baseline of ...)`; one already pruned has nothing left to delete"));
    };
    let baseline = history.revision(b);
    if project.config.environments.is_empty() {
        return Err(CliError::usage(
            "no environments are configured, so nothing says every database has recorded the baseline",
        )
        .with_help(
            "list each database as `[package.metadata.migrate.environments.NAME]` with `url-env` in Cargo.toml; --prune reads every one first",
        ));
    }
    let mut behind = Vec::new();
    for environment in &project.config.environments {
        let name = &environment.name;
        let state = project.in_environment(name).and_then(|env| {
            let resolved = resolve_url(&env, &DbArgs { database_url: None, env: Some(name.clone()) })?;
            let (mut connection, _) = connect_to_read(&resolved.url)?;
            configured(&env, history.clone()).state(connection.database()).map_err(crate::db::engine_error)
        });
        match state {
            Ok(state) if state.is_applied(&baseline.id) => {
                shell.status("Checked", format!("{name}: {} is recorded", baseline.id))?;
            }
            Ok(state) => behind.push(format!(
                "{name} is at {} without {} (run `cargo migrate upgrade --env {name}`)",
                crate::db::describe_heads(&state.heads),
                baseline.id
            )),
            Err(error) => behind.push(format!("{name} could not be read: {}", error.message)),
        }
    }
    if !behind.is_empty() {
        for line in &behind {
            shell.error(line)?;
        }
        return Err(CliError {
            message: format!(
                "squashed/{}/ is kept: {} environment{} not past the baseline",
                baseline.id,
                behind.len(),
                if behind.len() == 1 { " is" } else { "s are" }
            ),
            help: Some(
                "a database without the baseline's row still needs the replaced revisions: upgrade it, then prune again"
                    .into(),
            ),
            exit_code: exit::REFUSED,
        });
    }
    // Nested: the directories of the baselines inside go too.
    let mut ids = vec![baseline.id.clone()];
    ids.extend(
        history.replaced(b).iter().filter(|&&m| history.is_baseline(m)).map(|&m| history.revision(m).id.clone()),
    );
    let dirs: Vec<(PathBuf, PathBuf)> = ids
        .iter()
        .map(|id| {
            (project.dir.join(SQUASHED_DIR).join(id), project.dir.join(SQUASHED_DIR).join(format!(".{id}.pruning")))
        })
        .filter(|(dir, _)| dir.exists())
        .collect();
    let put_back = |done: &[(PathBuf, PathBuf)]| {
        for (dir, aside) in done.iter().rev() {
            let _ = std::fs::rename(aside, dir);
        }
    };
    for (n, (dir, aside)) in dirs.iter().enumerate() {
        if let Err(e) = std::fs::rename(dir, aside) {
            put_back(&dirs[..n]);
            return Err(CliError::io("move", dir, e));
        }
    }
    let mut lock = analysis.lock.clone();
    for &m in history.replaced(b) {
        lock.unpin(&history.revision(m).id);
    }
    if let Err(error) = crate::fs::write_atomic(&project.dir.join(LOCK_FILE_NAME), &lock.render()) {
        put_back(&dirs);
        return Err(error);
    }
    let mut removed = Ok(());
    for (_, aside) in &dirs {
        removed = removed.and(std::fs::remove_dir_all(aside).map_err(|e| CliError::io("remove", aside, e)));
    }
    let _ = std::fs::remove_dir(project.dir.join(SQUASHED_DIR));
    removed?;
    let n = history.replaced(b).len();
    shell.status(
        "Pruned",
        format!(
            "{} ({n} revision{}, unpinned): every environment has recorded {}",
            dirs.iter()
                .map(|(dir, _)| format!(
                    "{}/",
                    project.shown(SQUASHED_DIR).join(dir.file_name().unwrap_or_default()).display()
                ))
                .collect::<Vec<_>>()
                .join(", "),
            plural(n),
            baseline.id
        ),
    )?;
    Ok(exit::OK)
}
