//! Problems found in a history, each tied to a file and line, with the fix.
//!
//! Everything that validates a history returns every problem it finds as a
//! [`Diagnostic`]; the edges (the CLI, the build script) render them.

use std::fmt;
use std::path::PathBuf;

use crate::Checksum;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Allowed, but worth saying: a draft revision, an unknown config key.
    Warning,
    /// The history cannot be used as it is.
    Error,
}

/// Everything that can be wrong with a history, its files or its lock file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    #[error("could not read the file: {error}")]
    Unreadable { error: String },
    #[error("the migrations directory does not exist")]
    MissingDirectory,
    #[error("the migrations directory is a file, not a directory")]
    NotADirectory,
    #[error("this is {kind}, not a file")]
    NotAFile { kind: &'static str },
    #[error("this is a symbolic link to `{target}`, which does not exist")]
    BrokenLink { target: String },
    #[error("the file name is not valid UTF-8")]
    NonUtf8Name,
    #[error("{}", match encoding { Some(e) => format!("the file is {e} text, not UTF-8"), None => "the file is not UTF-8 text (an invalid byte on this line)".to_owned() })]
    NotUtf8 { encoding: Option<&'static str> },
    #[error("header line `{text}` is not of the form `-- key: value`")]
    MalformedHeaderLine { text: String },
    #[error("unknown header key `{key}`")]
    UnknownHeaderKey { key: String, suggestion: Option<&'static str> },
    #[error("header key `{key}` is given twice (first on line {first_line})")]
    DuplicateHeaderKey { key: String, first_line: usize },
    #[error("missing required header key `{key}`")]
    MissingHeaderKey { key: &'static str },
    #[error("`{value}` is not a valid revision id")]
    InvalidRevisionId { value: String },
    #[error(
        "revision id `{value}` is {len} characters long, more than the {} a version table holds",
        crate::MAX_REVISION_ID_LEN
    )]
    RevisionIdTooLong { value: String, len: usize },
    #[error("the `{key}` header contains {}", describe_control(*character))]
    ControlCharacterInHeader { key: String, character: char },
    #[error("`transaction: {value}` must be `true` or `false`")]
    InvalidTransaction { value: String },
    #[error("no `-- migrate:up` section")]
    MissingUpSection,
    #[error("section `-- migrate:{section}` appears twice (first on line {first_line})")]
    DuplicateSection { section: &'static str, first_line: usize },
    #[error("unknown section marker `-- migrate:{name}`")]
    UnknownSection { name: String },
    #[error("the `-- migrate:down` section comes before `-- migrate:up`")]
    DownBeforeUp,
    #[error("revision id `{id}` is also defined in {other}")]
    DuplicateRevision { id: String, other: String },
    #[error("revision `{id}` names parent `{parent}`, which no revision file defines")]
    MissingParent { id: String, parent: String },
    #[error("revision `{id}` depends on `{dependency}`, which no revision file defines")]
    MissingDependency { id: String, dependency: String },
    #[error("revision `{id}` lists `{other}` twice")]
    RepeatedReference { id: String, other: String },
    #[error("the revisions form a cycle: {}", cycle.join(" -> "))]
    Cycle { cycle: Vec<String> },
    #[error("the history has {} heads: {}", heads.len(), heads.join(", "))]
    MultipleHeads { heads: Vec<String> },
    #[error("branch label `{label}` is also given in {other}")]
    DuplicateBranchLabel { label: String, other: String },
    #[error("branch label `{label}` is also a revision id")]
    BranchLabelIsRevisionId { label: String },
    #[error("pinned revision `{id}` was edited: migrate.lock has {pinned}, the file now has {actual}")]
    PinnedRevisionChanged {
        id: String,
        pinned: Checksum,
        actual: Checksum,
        /// Why re-pinning is known to be safe, when a database was asked:
        /// "postgres://... has not applied it", "... recorded it as failed".
        /// Boxed: it keeps `Problem` small.
        safe_to_repin: Option<Box<str>>,
    },
    #[error("pinned revision `{id}` has no file any more")]
    PinnedRevisionMissing { id: String },
    #[error("revision `{id}` is a draft: it is not pinned in migrate.lock")]
    Draft { id: String },
    #[error(
        "migrate.lock has a git merge conflict: both sides' entries are independent; `cargo migrate lock --resolve` keeps both"
    )]
    LockFileConflict,
    #[error("revision `{id}` is pinned twice with different checksums (also on line {first_line})")]
    ConflictingPins { id: String, first_line: usize },
    #[error("invalid lock file: {message}")]
    InvalidLockFile { message: String },
    #[error("invalid releases file: {message}")]
    InvalidReleasesFile { message: String },
    #[error("`{name}` is not a valid tag name")]
    InvalidTagName { name: String },
    #[error("tag `{name}` names the same release as tag `{other}`")]
    DuplicateTag { name: String, other: String },
    #[error("tag `{tag}` names no revision")]
    EmptyTag { tag: String },
    #[error("tag `{tag}` names revision `{id}`, which no revision file defines")]
    UnknownTagRevision { tag: String, id: String },
    #[error("invalid configuration: {message}")]
    InvalidConfig { message: String },
    #[error("unknown configuration key `{key}`")]
    UnknownConfigKey { key: String },
    #[error("revision `{id}` is not applied to {database}")]
    PendingInDatabase { id: String, database: String },
    #[error("revision `{id}` was applied to {database} with {recorded}, but the file now has {actual}")]
    DriftedInDatabase { id: String, database: String, recorded: String, actual: String },
    #[error("revision `{id}` failed part-way in {database}: {error}")]
    FailedInDatabase { id: String, database: String, error: String },
    #[error("{database} has applied revision `{id}`, which this history does not have")]
    UnknownInDatabase { id: String, database: String },
    #[error("the models differ from what the history produces: {change}")]
    ModelsDiffer { change: String },
}

impl Problem {
    /// What to do about it, when there is something to say.
    pub fn help(&self) -> Option<String> {
        let text = match self {
            Problem::Unreadable { .. } => "check the file's permissions".into(),
            Problem::MissingDirectory => {
                "run `cargo migrate init`, or point `[package.metadata.migrate] dir` at the right folder".into()
            }
            Problem::NotADirectory => "point `dir = \"...\"` in [package.metadata.migrate] (or `--dir`) at the directory that holds the revision files, or move the file away and run `cargo migrate init`".into(),
            Problem::NotAFile { .. } => "revision files (`*.sql`) and migrate.lock must be files or links to files: rename or remove this one".into(),
            Problem::BrokenLink { target } => format!("restore `{target}`, or remove the link"),
            Problem::NonUtf8Name => "rename it: revision file names are like `3f2a9c1b7e4d_add_users.sql`".into(),
            Problem::NotUtf8 { .. } => "save the file as UTF-8".into(),
            Problem::MalformedHeaderLine { .. } => {
                "header lines look like `-- parents: a1b2c3d4e5f6`; end the header with a blank line".into()
            }
            Problem::UnknownHeaderKey { suggestion: Some(s), .. } => format!("did you mean `{s}`?"),
            Problem::UnknownHeaderKey { suggestion: None, .. } => format!(
                "known keys are {}; a key of your own starts with `x-` (`-- x-jira: STARTUP-101`); free comments go after a blank line that ends the header",
                crate::revision::HEADER_KEYS.join(", ")
            ),
            Problem::DuplicateHeaderKey { .. } => "remove one of the two lines".into(),
            Problem::MissingHeaderKey { key: "parents" } => {
                "add `-- parents:` (empty for a base revision) to the header at the top of the file".into()
            }
            Problem::MissingHeaderKey { key } => format!("add `-- {key}: ...` to the header at the top of the file"),
            Problem::InvalidRevisionId { .. } => {
                "revision ids use lowercase letters, digits and `_` only, like `3f2a9c1b7e4d`".into()
            }
            Problem::RevisionIdTooLong { .. } => format!(
                "shorten it to at most {} characters (migrate_history::MAX_REVISION_ID_LEN), and the `parents` and `depends-on` lines that name it",
                crate::MAX_REVISION_ID_LEN
            ),
            Problem::ControlCharacterInHeader { .. } => "a header value is one line of text: remove the character (a lone carriage return is an old Mac line ending: save the file with `\\n` or `\\r\\n` line endings)".into(),
            Problem::InvalidTransaction { .. } => "write `-- transaction: false` or remove the line".into(),
            Problem::MissingUpSection => "add a line `-- migrate:up` followed by the SQL to apply".into(),
            Problem::DuplicateSection { .. } => "keep one marker per section".into(),
            Problem::UnknownSection { .. } => "the sections are `-- migrate:up` and `-- migrate:down`".into(),
            Problem::DownBeforeUp => "move the `-- migrate:down` section after `-- migrate:up`".into(),
            Problem::DuplicateRevision { .. } => {
                "give one of the two files a new id (`cargo migrate new` generates unique ids) and update the `parents` that name it".into()
            }
            Problem::MissingParent { .. } => {
                "fix the `parents` line (see `cargo migrate heads`), or restore the missing revision file".into()
            }
            Problem::MissingDependency { .. } => "fix the `depends-on` line, or restore the missing revision file".into(),
            Problem::RepeatedReference { .. } => "list each revision once".into(),
            Problem::Cycle { .. } => "a revision cannot descend from itself: fix the `parents` line of one revision in the cycle".into(),
            Problem::MultipleHeads { .. } => {
                "run `cargo migrate merge -m \"merge heads\"` to join them, or set `allow-multiple-heads = true` in `[package.metadata.migrate]` if the branches are meant to stay apart".into()
            }
            Problem::DuplicateBranchLabel { .. } | Problem::BranchLabelIsRevisionId { .. } => {
                "branch labels must be unique across the history; rename one".into()
            }
            Problem::PinnedRevisionChanged { id, safe_to_repin: Some(why), .. } => format!(
                "{why}, so re-pinning it is safe: `cargo migrate lock --update {id}`"
            ),
            Problem::PinnedRevisionChanged { id, safe_to_repin: None, .. } => format!(
                "released revisions must not change: revert the edit and put the change in a new revision (`cargo migrate new`), or, if no database has applied it yet, re-pin it with `cargo migrate lock --update {id}` (which checks the configured database first)"
            ),
            Problem::PinnedRevisionMissing { id } => format!(
                "restore the file from version control, or, if no database has applied it, drop the pin with `cargo migrate lock --update {id}`"
            ),
            Problem::Draft { .. } => "run `cargo migrate lock` to pin it once it is final".into(),
            Problem::LockFileConflict => "commit the resolved file; with `migrate.lock merge=union` in .gitattributes (`cargo migrate init` and `lock` add it) git keeps both sides on its own".into(),
            Problem::ConflictingPins { id, .. } => format!(
                "two branches pinned different versions of `{id}`: keep the line whose checksum matches the file you keep (`cargo migrate show {id}` prints it), remove the other, then run `cargo migrate lock`"
            ),
            Problem::InvalidLockFile { .. } => {
                "fix the line: entries look like `3f2a9c1b7e4d = \"sha256:<64 hex digits>\"` under `[revisions]`; `cargo migrate lock` then rewrites the file in order (keep the file: it holds the pins of released revisions)".into()
            }
            Problem::InvalidReleasesFile { .. } => "entries look like `\"v0.3.0\" = [\"3f2a9c1b7e4d\"]` under `[tags]`: the tag, then the revisions that were the release's heads".into(),
            Problem::InvalidTagName { .. } => "a tag is a release's name, like `v0.3.0`: letters, digits, `.`, `-`, `+` and `_`, with at least one `.`, which keeps it apart from revision ids and labels".into(),
            Problem::DuplicateTag { .. } => "a target may leave out or add the leading `v`, so the two would be one target: remove or rename one".into(),
            Problem::EmptyTag { .. } => "list the revisions that were the release's heads: `cargo migrate heads` at the release".into(),
            Problem::UnknownTagRevision { .. } => "fix the tag's list of revisions, or restore the revision file".into(),
            Problem::InvalidConfig { .. } => "see the configuration section of the README".into(),
            Problem::UnknownConfigKey { .. } => format!("known keys are {}", crate::config::CONFIG_KEYS.join(", ")),
            Problem::PendingInDatabase { .. } => "run `cargo migrate upgrade` (try `--dry-run` first)".into(),
            Problem::DriftedInDatabase { .. } => {
                "an applied revision must not change: restore the file and put the change in a new revision".into()
            }
            Problem::FailedInDatabase { id, .. } => {
                format!("finish or undo it by hand, then `cargo migrate resolve {id} --applied` (or `--rolled-back`)")
            }
            Problem::ModelsDiffer { .. } => {
                "write a revision for it with `cargo migrate generate \"MESSAGE\"` (review it before committing)".into()
            }
            Problem::UnknownInDatabase { .. } => {
                "the database is ahead of this checkout: pull the missing revisions, or `stamp` it".into()
            }
        };
        Some(text)
    }
}

/// `a line break (U+000A)`, `the control character U+001B`.
fn describe_control(c: char) -> String {
    match c {
        '\n' => "a line break (U+000A)".into(),
        '\r' => "a carriage return (U+000D)".into(),
        other => format!("the control character U+{:04X}", u32::from(other)),
    }
}

/// A [`Problem`] located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file, as shown to the user (relative to the project root when it can be).
    pub path: Option<PathBuf>,
    /// 1-based line in `path`.
    pub line: Option<usize>,
    pub problem: Problem,
}

impl Diagnostic {
    /// An error at `path:line`.
    pub fn error(path: impl Into<PathBuf>, line: Option<usize>, problem: Problem) -> Diagnostic {
        Diagnostic { severity: Severity::Error, path: Some(path.into()), line, problem }
    }

    /// A warning at `path:line`.
    pub fn warning(path: impl Into<PathBuf>, line: Option<usize>, problem: Problem) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, path: Some(path.into()), line, problem }
    }

    /// Whether this stops the history from being used.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `path:line`, `path`, or nothing.
    pub fn location(&self) -> Option<String> {
        let path = self.path.as_ref()?.display();
        Some(match self.line {
            Some(line) => format!("{path}:{line}"),
            None => path.to_string(),
        })
    }

    /// The message with its location: `migrations/a.sql:2: unknown header key `parnets``.
    pub fn message(&self) -> String {
        match self.location() {
            Some(location) => format!("{location}: {}", self.problem),
            None => self.problem.to_string(),
        }
    }

    /// The fix, if any.
    pub fn help(&self) -> Option<String> {
        self.problem.help()
    }
}

/// One line: the message and the fix, as the build script prints it.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())?;
        if let Some(help) = self.help() {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file, line and message, so output is stable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (&a.path, a.line, std::cmp::Reverse(a.severity), a.problem.to_string()).cmp(&(
            &b.path,
            b.line,
            std::cmp::Reverse(b.severity),
            b.problem.to_string(),
        ))
    });
}
