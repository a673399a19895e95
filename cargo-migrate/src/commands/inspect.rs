//! `current` and `status`: what a database has applied, read without
//! changing anything (a SQLite file that does not exist reads as empty).

use std::io::Write;

use migrate_runtime::{DatabaseUrl, DbState, Migrator};

use crate::cli::{CurrentArgs, DbArgs};
use crate::db::{chosen_url, connect_to_read, describe_heads, engine_error, migrator};
use crate::error::CliResult;
use crate::exit;
use crate::github::{Summary, cell, command_prefix, environment_note};
use crate::project::Project;
use crate::report::{DriftInfo, FailedInfo, Message, PendingInfo, StatusInfo};
use crate::shell::{Shell, plural};

pub fn current(shell: &mut Shell, project: &Project, args: &CurrentArgs) -> CliResult {
    let migrator = migrator(shell, project)?;
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let (mut connection, _) = connect_to_read(&resolved.url)?;
    let state = migrator.state(connection.database()).map_err(engine_error)?;
    let history = migrator.history();
    for id in &state.heads {
        let index = history.index_of(id).expect("a head the state names is in the history");
        let rev = history.revision(index);
        if shell.json() {
            let row = state.rows.iter().find(|r| r.revision == rev.id);
            shell.emit(&Message::Current {
                id: rev.id.clone(),
                message: rev.message.clone(),
                head: Some(history.is_head(index)),
                in_history: true,
                state: row.map(|r| r.state.as_str().to_owned()),
                applied_at: row.map(|r| r.applied_at.clone()),
                applied_by: row.and_then(|r| r.applied_by.clone()),
            })?;
        } else {
            let head = if history.is_head(index) { " (head)" } else { "" };
            writeln!(shell.out(), "{}{head}, {}", rev.id, rev.message)?;
        }
    }
    // Revisions the history does not have are where the database is too.
    for row in &state.unknown {
        if shell.json() {
            shell.emit(&Message::Current {
                id: row.revision.clone(),
                message: row.message.clone(),
                head: None,
                in_history: false,
                state: Some(row.state.as_str().to_owned()),
                applied_at: Some(row.applied_at.clone()),
                applied_by: row.applied_by.clone(),
            })?;
        } else {
            writeln!(shell.out(), "{} (not in this history), {}", row.revision, row.message)?;
        }
    }
    if args.verbose && !shell.json() {
        let out = shell.out();
        writeln!(out)?;
        for row in &state.rows {
            writeln!(
                out,
                "{}  {:<8} {}  {}  {}",
                row.revision,
                row.state.as_str(),
                row.applied_at,
                row.applied_by.as_deref().unwrap_or("-"),
                row.execution_ms.map_or("-".to_owned(), |ms| format!("{ms} ms"))
            )?;
        }
    }
    Ok(exit::OK)
}

pub fn status(shell: &mut Shell, project: &Project, args: &DbArgs) -> CliResult {
    let migrator = migrator(shell, project)?;
    let resolved = chosen_url(shell, project, args, false)?;
    if !shell.json() {
        writeln!(shell.out(), "database:      {} (from {})", resolved.url.redacted(), resolved.source)?;
    }
    let (mut connection, exists) = connect_to_read(&resolved.url)?;
    let server_version = connection.server_version();
    let encryption = connection.encryption();
    let state = migrator.state(connection.database()).map_err(engine_error)?;
    let info = StatusInfo {
        database: resolved.url.redacted(),
        source: resolved.source.to_string(),
        exists,
        server_version,
        sslmode: match &resolved.url {
            DatabaseUrl::Postgres(pg) => Some(pg.ssl_mode.as_str()),
            _ => None,
        },
        encrypted: encryption.as_ref().map(|e| e.encrypted),
        version_table: migrator.table(connection.dialect()).display_name(),
        version_table_exists: state.table_exists(),
        current: state.heads.clone(),
        pending: pending(&migrator, &state),
        drifted: state
            .drift
            .iter()
            .map(|d| DriftInfo {
                id: d.id.clone(),
                path: d.path.clone(),
                recorded: d.recorded.clone(),
                actual: d.actual.clone(),
            })
            .collect(),
        failed: state
            .failed
            .iter()
            .map(|r| FailedInfo { id: r.revision.clone(), state: r.state.as_str().to_owned(), error: r.error.clone() })
            .collect(),
        unknown: state.unknown.iter().map(|r| r.revision.clone()).collect(),
    };
    if let Some(mut md) = Summary::start("cargo migrate status") {
        summarize(&mut md, &info);
        if let Err(e) = md.write() {
            shell.warn(format!("could not write the job summary: {e}"))?;
        }
    }
    if shell.json() {
        shell.emit(&Message::Status(Box::new(info)))?;
        return Ok(exit::OK);
    }
    let out = shell.out();
    if info.exists {
        writeln!(out, "connection:    ok ({})", info.server_version)?;
    } else {
        writeln!(out, "connection:    the SQLite file does not exist yet: nothing applied")?;
    }
    if let Some(sslmode) = info.sslmode {
        let session = match &encryption {
            Some(e) if e.encrypted => format!(
                "the session is encrypted ({})",
                [e.protocol.as_deref(), e.cipher.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ")
            ),
            Some(_) => "the session is not encrypted".to_owned(),
            None => "the server does not say whether the session is encrypted".to_owned(),
        };
        writeln!(out, "tls:           sslmode={sslmode}; {session}")?;
    }
    let created = if info.version_table_exists { "" } else { " (not created yet: nothing applied)" };
    writeln!(out, "version table: {}{created}", info.version_table)?;
    writeln!(out, "current:       {}", describe_heads(&info.current))?;
    let count = info.pending.len();
    let pending = if count == 0 { "none".to_owned() } else { format!("{count} revision{}", plural(count)) };
    writeln!(out, "pending:       {pending}")?;
    for p in &info.pending {
        let note = if p.record_only { " (to record: what it replaces is applied, nothing runs)" } else { "" };
        writeln!(out, "  {} {}{note}", p.id, p.message)?;
    }
    writeln!(out, "drifted:       {}", if info.drifted.is_empty() { "none" } else { "" })?;
    for d in &info.drifted {
        writeln!(out, "  {} {}: applied with {}, the file now has {}", d.id, d.path, d.recorded, d.actual)?;
    }
    writeln!(out, "failed:        {}", if info.failed.is_empty() { "none" } else { "" })?;
    for f in &info.failed {
        writeln!(out, "  {} {}", f.id, f.error.as_deref().unwrap_or(""))?;
    }
    if !state.unknown.is_empty() {
        writeln!(out, "unknown:       revisions the history does not have")?;
        for row in &state.unknown {
            writeln!(out, "  {} {}", row.revision, row.message)?;
        }
    }
    Ok(exit::OK)
}

fn pending(migrator: &Migrator, state: &DbState) -> Vec<PendingInfo> {
    let history = migrator.history();
    state
        .pending
        .iter()
        .map(|id| {
            let rev = history.get(id).expect("a pending revision is in the history");
            PendingInfo {
                id: rev.id.clone(),
                message: rev.message.clone(),
                path: rev.file.path.display().to_string(),
                record_only: state.only_to_record(history, id),
            }
        })
        .collect()
}

/// `status` as a job summary.
fn summarize(md: &mut Summary, info: &StatusInfo) {
    let tls = match (info.sslmode, info.encrypted) {
        (Some(mode), Some(true)) => format!("sslmode={mode}, encrypted"),
        (Some(mode), _) => format!("sslmode={mode}, not encrypted"),
        (None, _) => "-".to_owned(),
    };
    md.table(&[
        ("database", format!("`{}`{}", info.database, environment_note())),
        ("server", cell(&info.server_version)),
        ("tls", tls),
        ("current", format!("`{}`", describe_heads(&info.current))),
        ("pending", info.pending.len().to_string()),
        ("drifted", info.drifted.len().to_string()),
        ("failed", info.failed.len().to_string()),
    ]);
    if !info.pending.is_empty() {
        md.line("| pending | message | file |").line("|---|---|---|");
        for p in &info.pending {
            md.line(format_args!("| `{}` | {} | `{}` |", p.id, cell(&p.message), p.path));
        }
        md.line("");
    }
    for d in &info.drifted {
        md.line(format_args!(
            "- ⚠️ `{}` ({}) changed after it was applied: recorded {}, now {}",
            d.id, d.path, d.recorded, d.actual
        ));
    }
    for f in &info.failed {
        md.line(format_args!(
            "- ❌ `{}` is `{}`{}; settle it with `{} resolve {} --applied` or `--rolled-back`",
            f.id,
            f.state,
            f.error.as_deref().map(|e| format!(": {}", cell(e))).unwrap_or_default(),
            command_prefix(),
            f.id
        ));
    }
    if !info.unknown.is_empty() {
        md.line(format_args!("- ⚠️ revisions this history does not have: `{}`", info.unknown.join("`, `")));
    }
}
