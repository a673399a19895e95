//! `--message-format json`: one object per line on stdout, each with a
//! `reason` naming its kind and the `format-version`, ending with
//! `finished`. Every kind is a struct here; `docs/json.md` documents them.

use serde::Serialize;

/// Bumped when a field changes meaning or goes away (new fields and new
/// reasons do not bump it).
pub const FORMAT_VERSION: u32 = 1;

/// One line of JSON output.
#[derive(Debug, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case", rename_all_fields = "kebab-case")]
pub enum Message {
    /// A revision of the history (`history`, `heads`, `show`).
    Revision(Box<RevisionInfo>),
    /// A branch point and the revisions leaving it (`branches`).
    BranchPoint { id: String, message: String, children: Vec<String> },
    /// A problem found in the history, the lock file, the models or a database.
    Diagnostic(DiagnosticInfo),
    /// The end of `check`.
    CheckFinished { success: bool, revisions: usize, heads: Vec<String>, errors: usize, warnings: usize },
    /// The end of `lint`: the dialect, how many revisions were linted, and
    /// how many findings were errors, warnings and allowed.
    #[cfg_attr(not(feature = "lint"), allow(dead_code))]
    LintFinished {
        success: bool,
        dialect: &'static str,
        revisions: usize,
        errors: usize,
        warnings: usize,
        allowed: usize,
    },
    /// A revision file written by `new`, `generate` or `merge`.
    RevisionCreated {
        id: String,
        path: String,
        parents: Vec<String>,
        message: String,
        /// What autogenerate found (empty for `new` and `merge`).
        changes: Vec<SchemaChangeInfo>,
    },
    /// `generate` found nothing to do.
    NoChanges {},
    /// A revision pinned in the lock file by `lock`.
    Pinned { id: String, checksum: String },
    /// The lock file written by `lock`.
    LockWritten { path: String, pinned: usize },
    /// The end of `import`: the tool, the source and target directories, the
    /// revisions written (in order) and one report per source file.
    Imported { from: &'static str, source: String, into: String, revisions: Vec<String>, files: Vec<ImportedFileInfo> },
    /// A revision the database is at (`current`).
    Current {
        id: String,
        message: String,
        /// Whether it is a head of the history (`null` for a revision the history lacks).
        head: Option<bool>,
        in_history: bool,
        state: Option<String>,
        applied_at: Option<String>,
        applied_by: Option<String>,
    },
    /// Everything `status` shows.
    Status(Box<StatusInfo>),
    /// One target of `status --all-envs`, `status --targets`/`--schemas`
    /// or `check --targets`/`--schemas`.
    TargetStatus(Box<crate::fleet::TargetStatus>),
    /// One target of `upgrade`/`downgrade --targets`/`--schemas`, when the run finished.
    TargetFinished(Box<crate::fleet::TargetRun>),
    /// The end of `upgrade`/`downgrade --targets`/`--schemas`.
    FleetFinished {
        direction: &'static str,
        targets: usize,
        succeeded: usize,
        failed: usize,
        skipped: usize,
        elapsed_ms: f64,
    },
    /// A revision applied (in a dry run: executed, to be rolled back).
    RevisionApplied(RanInfo),
    /// A revision reverted.
    RevisionReverted(RanInfo),
    /// A revision a dry run could not execute.
    RevisionNotExecuted { id: String, path: String, because_of: Option<String> },
    /// Another process holds the migration lock.
    WaitingForLock { holder: Option<String>, timeout_ms: Option<u128> },
    /// The migration lock's lease had expired and this run took it over.
    LockTakenOver { previous: String },
    /// The end of `upgrade` or `downgrade`.
    MigrationFinished {
        direction: &'static str,
        revisions: usize,
        dry_run: bool,
        not_executed: Vec<NotExecutedInfo>,
        /// Where the database was before the run.
        before: Vec<String>,
        /// Where it is now.
        current: Vec<String>,
        elapsed_ms: f64,
    },
    /// `stamp`.
    Stamped { added: Vec<String>, removed: Vec<String>, current: Vec<String> },
    /// `resolve`.
    Resolved { id: String, resolution: &'static str },
    /// `adopt`: the revisions the other tool's table shows applied, and
    /// those recorded now (none with `--dry-run`).
    Adopted { from: &'static str, table: &'static str, revisions: Vec<String>, recorded: Vec<String>, dry_run: bool },
    /// An offline script (`sql`, `upgrade --sql`, `downgrade --sql`).
    Script { dialect: &'static str, range: String, sql: String },
    /// A difference between a live database and the history (`diff`).
    SchemaChange(SchemaChangeInfo),
    /// The end of `diff`.
    DiffFinished { database: String, at: Vec<String>, differences: usize },
    /// A revision `verify` checked: `down` is `restored`, `no-down-section` or `not-checked`.
    RevisionVerified { id: String, message: String, path: String, down: &'static str },
    /// A check of `verify` that failed.
    VerifyFailure(VerifyFailureInfo),
    /// The end of `verify`.
    VerifyFinished(Box<VerifyFinishedInfo>),
    /// A file `init` wrote or found: `action` is `created`, `updated`,
    /// `replaced`, `keeping` or `unchanged`.
    FileWritten { path: String, action: String },
    /// What ended the command, when it failed.
    Error { message: String, help: Option<String> },
    /// Always the last line: whether the command succeeded, and its exit code.
    Finished { success: bool, exit_code: i32 },
}

/// Every field of a revision.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RevisionInfo {
    pub id: String,
    pub parents: Vec<String>,
    pub children: Vec<String>,
    pub message: String,
    pub created: Option<String>,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    pub path: String,
    pub checksum: String,
    pub pinned: bool,
    pub transaction: bool,
    pub reversible: bool,
    pub head: bool,
    pub branch_point: bool,
    pub merge_point: bool,
    /// `x-` header keys and their values.
    pub extra: std::collections::BTreeMap<String, String>,
    /// The lint rules its `-- allow:` lines allow, each with its reason.
    pub allow: Vec<AllowInfo>,
    /// The `imported-from` header (`import`), left out when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
    /// The sections its `needs-sql` header names, left out when it has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs_sql: Vec<&'static str>,
    /// What a baseline's `replaces` header names (`squash`), left out for other revisions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
    /// The baseline that stands for this revision, left out when none does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

/// A lint rule a revision allows, and why.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct AllowInfo {
    pub rule: String,
    pub reason: String,
}

/// A problem, as the build script and `check` print it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DiagnosticInfo {
    pub severity: &'static str,
    pub path: Option<String>,
    pub line: Option<usize>,
    /// What in the file it points at, when known more precisely than the line.
    pub span: Option<SpanInfo>,
    /// A lint finding's rule.
    pub rule: Option<String>,
    /// A lint finding's statement.
    pub statement: Option<String>,
    pub message: String,
    pub help: Option<String>,
    /// `path:line: message (help: ...)`, the line the build script prints.
    pub rendered: String,
}

/// A byte range of a file, with 1-based lines and columns (characters; the
/// end exclusive), as rustc's JSON has them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SpanInfo {
    pub byte_start: usize,
    pub byte_end: usize,
    pub line_start: usize,
    pub column_start: usize,
    pub line_end: usize,
    pub column_end: usize,
}

impl DiagnosticInfo {
    pub fn of(diagnostic: &migrate_history::Diagnostic) -> DiagnosticInfo {
        DiagnosticInfo {
            severity: if diagnostic.is_error() { "error" } else { "warning" },
            path: diagnostic.path.as_ref().map(|p| p.display().to_string()),
            line: diagnostic.line,
            span: diagnostic.span.map(|s| SpanInfo {
                byte_start: s.start,
                byte_end: s.end,
                line_start: s.line,
                column_start: s.column,
                line_end: s.end_line,
                column_end: s.end_column,
            }),
            rule: diagnostic.problem.rule().map(str::to_owned),
            statement: match &diagnostic.problem {
                migrate_history::Problem::Lint { statement, .. } => Some(statement.clone()),
                _ => None,
            },
            message: diagnostic.problem.to_string(),
            help: diagnostic.help(),
            rendered: diagnostic.to_string(),
        }
    }
}

/// A revision that ran, and how long it took.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RanInfo {
    pub id: String,
    pub message: String,
    pub path: String,
    pub elapsed_ms: f64,
    pub dry_run: bool,
}

/// A revision a dry run did not execute.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NotExecutedInfo {
    pub id: String,
    pub because_of: Option<String>,
}

/// A schema difference.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SchemaChangeInfo {
    /// In words: `new table users`.
    pub change: String,
    /// Whether it can lose data.
    pub destructive: bool,
}

impl From<&migrate_runtime::schema::Change> for SchemaChangeInfo {
    fn from(change: &migrate_runtime::schema::Change) -> SchemaChangeInfo {
        SchemaChangeInfo { change: change.to_string(), destructive: change.is_destructive() }
    }
}

/// A check of `verify` that failed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VerifyFailureInfo {
    /// Which check: `not-restored`, `upgrade`, `merge-order`, ...
    pub check: &'static str,
    /// The revision it is about, if any.
    pub revision: Option<String>,
    pub path: Option<String>,
    pub message: String,
    /// The schema differences it found.
    pub changes: Vec<SchemaChangeInfo>,
    pub help: Option<String>,
}

/// The end of `verify`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VerifyFinishedInfo {
    pub success: bool,
    /// Where the walk started (`--from`); empty: base.
    pub from: Vec<String>,
    pub heads: Vec<String>,
    /// The revisions walked, the one that failed included.
    pub revisions: usize,
    /// How many of them had their down section checked and passed.
    pub restored: usize,
    /// The first revision without a down section, where the down check ended.
    pub down_ended_at: Option<String>,
    /// Revisions the walk did not reach after a failure.
    pub not_reached: Vec<String>,
    /// Merge points whose parents' orders were compared.
    pub merges: Vec<String>,
    /// Whether a full upgrade from base was run.
    pub full_upgrade: bool,
    /// Whether the models were compared with the head schema.
    pub models: bool,
    pub failures: usize,
    pub elapsed_ms: f64,
}

/// `status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct StatusInfo {
    /// The database, without its password.
    pub database: String,
    /// Where its URL came from.
    pub source: String,
    /// Whether a SQLite file exists (always true for PostgreSQL).
    pub exists: bool,
    pub server_version: String,
    pub sslmode: Option<&'static str>,
    pub encrypted: Option<bool>,
    pub version_table: String,
    pub version_table_exists: bool,
    pub current: Vec<String>,
    pub pending: Vec<PendingInfo>,
    pub drifted: Vec<DriftInfo>,
    pub failed: Vec<FailedInfo>,
    pub unknown: Vec<String>,
}

/// A revision not applied yet.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PendingInfo {
    pub id: String,
    pub message: String,
    pub path: String,
    /// A baseline whose replaced revisions are all applied: the next
    /// upgrade records it and runs nothing.
    pub record_only: bool,
}

/// An applied revision whose file changed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DriftInfo {
    pub id: String,
    pub path: String,
    pub recorded: String,
    pub actual: String,
}

/// A revision recorded as failed, running or reverting.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FailedInfo {
    pub id: String,
    pub state: String,
    pub error: Option<String>,
}

/// What goes on the line: the message and the format version.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    message: &'a Message,
    #[serde(rename = "format-version")]
    format_version: u32,
}

/// The message as one line of JSON, without the newline.
pub fn to_line(message: &Message) -> String {
    serde_json::to_string(&Line { message, format_version: FORMAT_VERSION })
        .expect("messages serialize: strings, numbers and lists only")
}

/// What `import` did with one source file.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImportedFileInfo {
    /// The file, relative to the source directory.
    pub path: String,
    /// The revision it went into, if any.
    pub revision: Option<String>,
    /// `converted`, `needs-review` or `skipped`.
    pub status: &'static str,
    /// What a reader should know, one sentence each.
    pub notes: Vec<String>,
}
