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
    /// A file or directory could not be read.
    #[error("could not read the file: {error}")]
    Unreadable {
        /// The IO error's message.
        error: String,
    },
    /// The migrations directory does not exist.
    #[error("the migrations directory does not exist")]
    MissingDirectory,
    /// The configured migrations directory is a file.
    #[error("the migrations directory is a file, not a directory")]
    NotADirectory,
    /// An entry that would be read (a `*.sql` file, `migrate.lock` or
    /// `releases.toml`) is a directory or a special file.
    #[error("this is {kind}, not a file")]
    NotAFile {
        /// What it is instead: `a directory` or `a special file (a FIFO, socket or device)`.
        kind: &'static str,
    },
    /// A symbolic link points at a path that does not exist.
    #[error("this is a symbolic link to `{target}`, which does not exist")]
    BrokenLink {
        /// The path the link points at, as stored in the link.
        target: String,
    },
    /// A file's name is not valid UTF-8, so it can be neither shown nor embedded.
    #[error("the file name is not valid UTF-8")]
    NonUtf8Name,
    /// A file's text is not valid UTF-8.
    #[error("{}", match encoding { Some(e) => format!("the file is {e} text, not UTF-8"), None => "the file is not UTF-8 text (an invalid byte on this line)".to_owned() })]
    NotUtf8 {
        /// The encoding its byte-order mark names (`UTF-16`), or `None` when
        /// an invalid byte was found on the diagnostic's line.
        encoding: Option<&'static str>,
    },
    /// A `--` comment in the header that is not of the form `-- key: value`.
    #[error("header line `{text}` is not of the form `-- key: value`")]
    MalformedHeaderLine {
        /// The line, without its line ending.
        text: String,
    },
    /// A header key that is neither in [`HEADER_KEYS`](crate::HEADER_KEYS)
    /// nor one of the team's own `x-` keys.
    #[error("unknown header key `{key}`")]
    UnknownHeaderKey {
        /// The key as written.
        key: String,
        /// The known key it was probably meant to be, offered as "did you mean".
        suggestion: Option<&'static str>,
    },
    /// A header key that appears twice.
    #[error("header key `{key}` is given twice (first on line {first_line})")]
    DuplicateHeaderKey {
        /// The repeated key.
        key: String,
        /// The 1-based line where the key first appears.
        first_line: usize,
    },
    /// One of the required header keys (`revision`, `parents`, `message`) is absent.
    #[error("missing required header key `{key}`")]
    MissingHeaderKey {
        /// The missing key.
        key: &'static str,
    },
    /// A revision id, or a branch label, that is not made of `[a-z0-9_]`.
    #[error("`{value}` is not a valid revision id")]
    InvalidRevisionId {
        /// The id or label as written.
        value: String,
    },
    /// A revision id longer than [`MAX_REVISION_ID_LEN`](crate::MAX_REVISION_ID_LEN),
    /// which the version table could not store.
    #[error(
        "revision id `{value}` is {len} characters long, more than the {} a version table holds",
        crate::MAX_REVISION_ID_LEN
    )]
    RevisionIdTooLong {
        /// The id as written.
        value: String,
        /// Its length in characters.
        len: usize,
    },
    /// A header value holds a line break or another control character.
    #[error("the `{key}` header contains {}", describe_control(*character))]
    ControlCharacterInHeader {
        /// The key whose value holds the character.
        key: String,
        /// The first such character in the value.
        character: char,
    },
    /// A `transaction` header whose value is not `true` or `false`.
    #[error("`transaction: {value}` must be `true` or `false`")]
    InvalidTransaction {
        /// The value as written.
        value: String,
    },
    /// A `needs-sql` header naming something other than `up` or `down`.
    #[error("`needs-sql` names `{value}`, which is not a section")]
    InvalidNeedsSql {
        /// The part as written.
        value: String,
    },
    /// An `allow` header line without a reason: `-- allow: ban-drop-column`.
    #[error("`allow: {rule}` gives no reason")]
    AllowWithoutReason {
        /// The rule it allows.
        rule: String,
    },
    /// An `allow` header line that is not `RULE because REASON`.
    #[error("`allow: {text}` is not of the form `allow: RULE because REASON`")]
    MalformedAllow {
        /// The value as written.
        text: String,
    },
    /// The file has no `-- migrate:up` marker.
    #[error("no `-- migrate:up` section")]
    MissingUpSection,
    /// A section marker that appears twice.
    #[error("section `-- migrate:{section}` appears twice (first on line {first_line})")]
    DuplicateSection {
        /// `up` or `down`.
        section: &'static str,
        /// The 1-based line of the first marker.
        first_line: usize,
    },
    /// A `-- migrate:NAME` marker whose name is neither `up` nor `down`.
    #[error("unknown section marker `-- migrate:{name}`")]
    UnknownSection {
        /// The name after `migrate:`.
        name: String,
    },
    /// The `-- migrate:down` marker comes before `-- migrate:up`.
    #[error("the `-- migrate:down` section comes before `-- migrate:up`")]
    DownBeforeUp,
    /// Two files define the same revision id; each file gets one.
    #[error("revision id `{id}` is also defined in {other}")]
    DuplicateRevision {
        /// The shared id.
        id: String,
        /// The path of the other file, as shown to the user.
        other: String,
    },
    /// A `parents` entry names a revision no file defines.
    #[error("revision `{id}` names parent `{parent}`, which no revision file defines")]
    MissingParent {
        /// The revision whose header names the parent.
        id: String,
        /// The missing parent's id.
        parent: String,
    },
    /// A `depends-on` entry names a revision no file defines.
    #[error("revision `{id}` depends on `{dependency}`, which no revision file defines")]
    MissingDependency {
        /// The revision whose header names the dependency.
        id: String,
        /// The missing dependency's id.
        dependency: String,
    },
    /// A revision lists the same revision twice in its `parents` or `depends-on`.
    #[error("revision `{id}` lists `{other}` twice")]
    RepeatedReference {
        /// The revision whose header repeats it.
        id: String,
        /// The repeated id.
        other: String,
    },
    /// Parent and dependency links that lead back to where they started.
    #[error("the revisions form a cycle: {}", cycle.join(" -> "))]
    Cycle {
        /// The ids along the cycle from child to parent, starting at the
        /// smallest id and ending with it again.
        cycle: Vec<String>,
    },
    /// The history has several heads and
    /// [`Options::allow_multiple_heads`](crate::Options::allow_multiple_heads) is off.
    #[error("the history has {} heads: {}", heads.len(), heads.join(", "))]
    MultipleHeads {
        /// Each head as `id (path)`, in topological order.
        heads: Vec<String>,
    },
    /// Two revisions carry the same branch label.
    #[error("branch label `{label}` is also given in {other}")]
    DuplicateBranchLabel {
        /// The shared label.
        label: String,
        /// The path of the file that gave the label first, as shown to the user.
        other: String,
    },
    /// A branch label that is also a revision id.
    #[error("branch label `{label}` is also a revision id")]
    BranchLabelIsRevisionId {
        /// The label.
        label: String,
    },
    /// A revision pinned in `migrate.lock` whose file no longer has the pinned checksum.
    #[error("pinned revision `{id}` was edited: migrate.lock has {pinned}, the file now has {actual}")]
    PinnedRevisionChanged {
        /// The revision's id.
        id: String,
        /// The checksum in `migrate.lock`.
        pinned: Checksum,
        /// The checksum of the file now.
        actual: Checksum,
        /// Why re-pinning is known to be safe, when a database was asked:
        /// "postgres://... has not applied it", "... recorded it as failed".
        /// Boxed: it keeps `Problem` small.
        safe_to_repin: Option<Box<str>>,
    },
    /// A revision pinned in `migrate.lock` that no file defines any more.
    #[error("pinned revision `{id}` has no file any more")]
    PinnedRevisionMissing {
        /// The pinned id.
        id: String,
    },
    /// A revision not pinned in `migrate.lock`: a warning, or an error with
    /// [`Options::require_pinned`](crate::Options::require_pinned).
    #[error("revision `{id}` is a draft: it is not pinned in migrate.lock")]
    Draft {
        /// The revision's id.
        id: String,
    },
    /// `migrate.lock` holds git's conflict markers; both sides' entries are read.
    #[error(
        "migrate.lock has a git merge conflict: both sides' entries are independent; `cargo migrate lock --resolve` keeps both"
    )]
    LockFileConflict,
    /// `migrate.lock` pins one revision twice with different checksums.
    #[error("revision `{id}` is pinned twice with different checksums (also on line {first_line})")]
    ConflictingPins {
        /// The revision's id.
        id: String,
        /// The 1-based line of its first entry.
        first_line: usize,
    },
    /// `migrate.lock` is not a lock file this version can read.
    #[error("invalid lock file: {message}")]
    InvalidLockFile {
        /// What is wrong, such as the TOML parser's message.
        message: String,
    },
    /// `releases.toml` is malformed.
    #[error("invalid releases file: {message}")]
    InvalidReleasesFile {
        /// What is wrong, such as the TOML parser's message.
        message: String,
    },
    /// A tag name that breaks the rules of [`releases::tag_name_problem`](crate::releases::tag_name_problem).
    #[error("`{name}` is not a valid tag name")]
    InvalidTagName {
        /// The name as written.
        name: String,
    },
    /// Two tags that name one release: equal, or equal but for a leading `v`.
    #[error("tag `{name}` names the same release as tag `{other}`")]
    DuplicateTag {
        /// The tag being added.
        name: String,
        /// The tag already there.
        other: String,
    },
    /// A tag with an empty list of revisions.
    #[error("tag `{tag}` names no revision")]
    EmptyTag {
        /// The tag's name.
        tag: String,
    },
    /// A tag naming a revision no file defines.
    #[error("tag `{tag}` names revision `{id}`, which no revision file defines")]
    UnknownTagRevision {
        /// The tag's name.
        tag: String,
        /// The unknown revision id.
        id: String,
    },
    /// A baseline's `replaces` entry names a revision no file defines.
    #[error("baseline `{id}` replaces `{replaced}`, which no revision file defines")]
    ReplacedMissing {
        /// The baseline's id.
        id: String,
        /// The missing replaced revision's id.
        replaced: String,
    },
    /// Two baselines replace the same revision.
    #[error("revision `{replaced}` is replaced by both `{id}` and `{other}`")]
    ReplacedTwice {
        /// The baseline whose line this is.
        id: String,
        /// The revision both replace.
        replaced: String,
        /// The other baseline.
        other: String,
    },
    /// A baseline's replaced set is not one revision and everything it
    /// needs, or a revision outside it builds on one inside other than the last.
    #[error("baseline `{id}` does not stand for a closed set: {why}")]
    BaselineNotClosed {
        /// The baseline's id.
        id: String,
        /// What breaks the set, naming the offending revision.
        why: String,
    },
    /// A replaced revision's file is not under `squashed/<baseline>/`, or not pinned.
    #[error("revision `{replaced}`, replaced by baseline `{id}`, {why}")]
    ReplacedMisplaced {
        /// The baseline's id.
        id: String,
        /// The replaced revision.
        replaced: String,
        /// `is not under squashed/<id>/` or `is not pinned in migrate.lock`.
        why: String,
    },
    /// A baseline does not build what the revisions it replaces build
    /// (`cargo migrate check`, on a scratch database).
    #[error("baseline `{id}` differs from the revisions it replaces: {difference}")]
    BaselineDiffers {
        /// The baseline's id.
        id: String,
        /// One difference, as autogenerate names it (`new index ... on ...`),
        /// or the rows of a table.
        difference: String,
    },
    /// A `[package.metadata.migrate]` value of the wrong type, or a manifest that is not TOML.
    #[error("invalid configuration: {message}")]
    InvalidConfig {
        /// What is wrong.
        message: String,
    },
    /// A key `[package.metadata.migrate]` does not know: a warning.
    #[error("unknown configuration key `{key}`")]
    UnknownConfigKey {
        /// The key as written.
        key: String,
    },
    /// A revision the database has not applied yet.
    #[error("revision `{id}` is not applied to {database}")]
    PendingInDatabase {
        /// The revision's id.
        id: String,
        /// The database's name in messages, such as a redacted URL.
        database: String,
    },
    /// A baseline (`squash`) not recorded yet in a database that applied
    /// every revision it replaces: the next upgrade records it without
    /// running anything. A warning.
    #[error("baseline `{id}` is not recorded in {database} yet, which applied every revision it replaces")]
    BaselineToRecord {
        /// The baseline's id.
        id: String,
        /// The database's name in messages, such as a redacted URL.
        database: String,
    },
    /// An applied revision whose file changed since the database applied it.
    #[error("revision `{id}` was applied to {database} with {recorded}, but the file now has {actual}")]
    DriftedInDatabase {
        /// The revision's id.
        id: String,
        /// The database's name in messages, such as a redacted URL.
        database: String,
        /// The checksum the database recorded when it applied the revision.
        recorded: String,
        /// The checksum of the file now.
        actual: String,
    },
    /// A revision the database recorded as failed part-way.
    #[error("revision `{id}` failed part-way in {database}: {error}")]
    FailedInDatabase {
        /// The revision's id.
        id: String,
        /// The database's name in messages, such as a redacted URL.
        database: String,
        /// The error the database recorded (empty when none was).
        error: String,
    },
    /// A revision the database has applied but the history does not have.
    #[error("{database} has applied revision `{id}`, which this history does not have")]
    UnknownInDatabase {
        /// The revision's id, as the version table holds it.
        id: String,
        /// The database's name in messages, such as a redacted URL.
        database: String,
    },
    /// A lint rule name (in an `allow` header line or the `lint` configuration)
    /// that `cargo migrate lint` does not know.
    #[error("unknown lint rule `{rule}`")]
    UnknownLintRule {
        /// The name as written.
        rule: String,
        /// The known rule it was probably meant to be, offered as "did you mean".
        suggestion: Option<String>,
    },
    /// A finding of `cargo migrate lint`: a statement that is dangerous to run
    /// on a database in use, or that will fail there.
    #[error("{rule}: {message}")]
    Lint {
        /// The rule's name, such as `ban-drop-column`, which `-- allow:` names.
        rule: String,
        /// Why the statement is dangerous.
        message: String,
        /// The safe alternative.
        help: String,
        /// The statement, as written in the file.
        statement: String,
    },
    /// The declarative schema (the models) differs from what the history builds.
    #[error("the models differ from what the history produces: {change}")]
    ModelsDiffer {
        /// One difference, described.
        change: String,
    },
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
            Problem::InvalidNeedsSql { .. } => "write `-- needs-sql: up`, `down` or `up, down`, or remove the line once both sections are written".into(),
            Problem::AllowWithoutReason { rule } => format!(
                "say why the rule does not apply to this revision: `-- allow: {rule} because <reason>`; reviewers read the reason"
            ),
            Problem::MalformedAllow { .. } => {
                "one rule per line, then `because` and the reason: `-- allow: ban-drop-column because the column was never read`".into()
            }
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
            Problem::ReplacedMissing { id, .. } => format!(
                "restore the file under `squashed/{id}/` from version control (the baseline stands for it, and databases part-way through the replaced revisions still need it), or fix the `replaces` line"
            ),
            Problem::ReplacedTwice { .. } => "a revision belongs to one baseline, or to baselines nested in one another (the outer one lists the inner one and everything it replaces, as a second `cargo migrate squash` writes): remove it from one `replaces` line".into(),
            Problem::BaselineNotClosed { .. } => "a baseline replaces one revision and every revision it needs (`cargo migrate squash --upto REV` writes such a set); revert hand edits of the `replaces` line, or squash again up to a revision that nothing outside the set builds on".into(),
            Problem::ReplacedMisplaced { id, .. } => format!(
                "`cargo migrate squash` moves the replaced files to `squashed/{id}/` and pins them; move the file back there and run `cargo migrate lock`"
            ),
            Problem::BaselineDiffers { id, .. } => format!(
                "the difference is what the baseline builds compared with replaying squashed/{id}/: restore the file as `cargo migrate squash` wrote it (version control), or write the difference into a new revision"
            ),
            Problem::InvalidConfig { .. } => "see the configuration section of the README".into(),
            Problem::UnknownConfigKey { key } if key.starts_with("lint.") => {
                format!("known keys of [package.metadata.migrate.lint] are {}", crate::config::LINT_CONFIG_KEYS.join(", "))
            }
            Problem::UnknownConfigKey { .. } => format!("known keys are {}", crate::config::CONFIG_KEYS.join(", ")),
            Problem::PendingInDatabase { .. } => "run `cargo migrate upgrade` (`--dry-run` rehearses it first, except on MySQL, where schema changes cannot roll back)".into(),
            Problem::BaselineToRecord { .. } => {
                "the next `cargo migrate upgrade` records it without running anything".into()
            }
            Problem::DriftedInDatabase { .. } => {
                "an applied revision must not change: restore the file and put the change in a new revision".into()
            }
            Problem::FailedInDatabase { id, .. } => {
                format!("finish or undo it by hand, then `cargo migrate resolve {id} --applied` (or `--rolled-back`)")
            }
            Problem::UnknownLintRule { suggestion: Some(s), .. } => format!("did you mean `{s}`?"),
            Problem::UnknownLintRule { suggestion: None, .. } => {
                "`cargo migrate lint --list-rules` lists every rule".into()
            }
            Problem::Lint { help, .. } => help.clone(),
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

impl Problem {
    /// The lint rule of a [`Problem::Lint`] finding.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Problem::Lint { rule, .. } => Some(rule),
            _ => None,
        }
    }

    /// The message without the lint rule's name, which a renderer shows apart
    /// (`error[ban-drop-column]: ...`); the same as `to_string()` otherwise.
    pub fn message(&self) -> String {
        match self {
            Problem::Lint { message, .. } => message.clone(),
            other => other.to_string(),
        }
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

/// The text a diagnostic points at: a byte range of its file, with the
/// 1-based lines and columns (in characters, as rustc counts them) where it
/// starts and ends. The end is exclusive: `end_column` is the column after
/// the last character.
///
/// ```
/// use migrate_history::Span;
///
/// let text = "-- revision: a\n-- parnets: b\n";
/// let span = Span::new(text, 18..25);
/// assert_eq!(&text[span.start..span.end], "parnets");
/// assert_eq!((span.line, span.column, span.end_line, span.end_column), (2, 4, 2, 11));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset after the last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// 1-based column of `start`, in characters.
    pub column: usize,
    /// 1-based line of `end`.
    pub end_line: usize,
    /// 1-based column of `end`, in characters.
    pub end_column: usize,
}

impl Span {
    /// The span of `range` in `text`, the whole text of its file. A range
    /// past the end or inside a character is moved to the nearest boundary
    /// before it.
    pub fn new(text: &str, range: std::ops::Range<usize>) -> Span {
        let floor = |mut at: usize| {
            at = at.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        let start = floor(range.start);
        let end = floor(range.end).max(start);
        let (line, column) = line_column(text, start);
        let (end_line, end_column) = line_column(text, end);
        Span { start, end, line, column, end_line, end_column }
    }
}

fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// A [`Problem`] located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Whether it is an error or a warning.
    pub severity: Severity,
    /// The file, as shown to the user (relative to the project root when it can be).
    pub path: Option<PathBuf>,
    /// 1-based line in `path`.
    pub line: Option<usize>,
    /// The text it points at, when known more precisely than the line.
    pub span: Option<Span>,
    /// What is wrong.
    pub problem: Problem,
}

impl Diagnostic {
    /// An error at `path:line`.
    pub fn error(path: impl Into<PathBuf>, line: Option<usize>, problem: Problem) -> Diagnostic {
        Diagnostic { severity: Severity::Error, path: Some(path.into()), line, span: None, problem }
    }

    /// A warning at `path:line`.
    pub fn warning(path: impl Into<PathBuf>, line: Option<usize>, problem: Problem) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, path: Some(path.into()), line, span: None, problem }
    }

    /// The same diagnostic pointing at `span` (its line becomes the span's).
    pub fn with_span(mut self, span: Span) -> Diagnostic {
        self.line = Some(span.line);
        self.span = Some(span);
        self
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

/// Sorts diagnostics by file, line, column and message, so output is stable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    let column = |d: &Diagnostic| d.span.map(|s| s.column);
    diagnostics.sort_by(|a, b| {
        (&a.path, a.line, column(a), std::cmp::Reverse(a.severity), a.problem.to_string()).cmp(&(
            &b.path,
            b.line,
            column(b),
            std::cmp::Reverse(b.severity),
            b.problem.to_string(),
        ))
    });
}
