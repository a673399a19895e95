//! Histories of other migration tools (sqlx, golang-migrate, dbmate, goose,
//! diesel, refinery, Flyway) turned into revisions: `cargo migrate
//! import --from TOOL`. Pure parsing: the caller reads the source directory
//! and writes the files; this module takes the source files as (path relative
//! to the source directory, text) and returns the revisions in the tool's
//! order, each one's parent being the previous one, with a report per file of
//! what was converted and what needs a human.
//!
//! ```
//! use migrate_history::import::{Tool, import};
//!
//! let files = vec![
//!     ("20240101120000_create_users.up.sql".to_owned(), "CREATE TABLE users (id INT);\n".to_owned()),
//!     ("20240101120000_create_users.down.sql".to_owned(), "DROP TABLE users;\n".to_owned()),
//! ];
//! let imported = import(Tool::Sqlx, &files).unwrap();
//! assert_eq!(imported.revisions[0].id, "20240101120000");
//! assert_eq!(imported.revisions[0].message, "create users");
//! assert_eq!(imported.revisions[0].down.as_deref(), Some("DROP TABLE users;\n"));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use crate::{NeedsSql, is_valid_revision_id};

pub mod alembic;

/// A migration tool whose history `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// sqlx: `<version>_<name>.sql`, or `.up.sql`/`.down.sql` pairs; `-- no-transaction` first line.
    Sqlx,
    /// golang-migrate: `<version>_<name>.up.sql`/`.down.sql`.
    GolangMigrate,
    /// dbmate: `-- migrate:up`/`-- migrate:down`, `transaction:false` on the up line.
    Dbmate,
    /// goose: `-- +goose Up/Down`, `StatementBegin/End`, `NO TRANSACTION`.
    Goose,
    /// diesel: `<version>_<name>/up.sql`, `down.sql`, `metadata.toml`
    /// (`run_in_transaction = false`); ordered by the version without dashes.
    Diesel,
    /// refinery: `V<n>__<name>.sql` and `U<n>__<name>.sql` (refinery's
    /// *unversioned* migrations, not downs: refinery has no down migrations);
    /// `-- refinery:noTransaction`.
    Refinery,
    /// Flyway: `V<version>__<desc>.sql`, `U<version>__<desc>.sql` (undo: the
    /// down), `V....sql.conf` (`executeInTransaction=false`); repeatable
    /// `R__` migrations are refused.
    Flyway,
    /// Alembic: Python revision scripts, rendered to SQL by Alembic itself
    /// and converted by [`alembic::convert`], not by [`import`].
    Alembic,
}

impl Tool {
    /// Every tool, in the order the documentation lists them.
    pub const ALL: [Tool; 8] = [
        Tool::Sqlx,
        Tool::GolangMigrate,
        Tool::Dbmate,
        Tool::Goose,
        Tool::Diesel,
        Tool::Refinery,
        Tool::Flyway,
        Tool::Alembic,
    ];

    /// The tool's name on the command line and in `imported-from` headers.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Sqlx => "sqlx",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Dbmate => "dbmate",
            Tool::Goose => "goose",
            Tool::Diesel => "diesel",
            Tool::Refinery => "refinery",
            Tool::Flyway => "flyway",
            Tool::Alembic => "alembic",
        }
    }

    /// The tool named `name`, if `import` knows it.
    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|tool| tool.name() == name)
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One revision made from one migration of the source tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRevision {
    /// The revision id: the source version, sanitised to `[a-z0-9_]`.
    pub id: String,
    /// The version as the source tool wrote it (kept in `imported-from`).
    pub version: String,
    /// The message, from the file name (`create_users` → `create users`).
    pub message: String,
    /// The parents' ids: the previous revision for the tools that keep a
    /// chain, Alembic's `down_revision` for Alembic.
    pub parents: Vec<String>,
    /// Alembic's `branch_labels`.
    pub branch_labels: Vec<String>,
    /// Alembic's `depends_on`, as revision ids.
    pub depends_on: Vec<String>,
    /// The SQL of the up section.
    pub up: String,
    /// The SQL of the down section; `None` for an irreversible revision.
    pub down: Option<String>,
    /// The migration runs outside a transaction.
    pub no_transaction: bool,
    /// Sections whose SQL could not be converted: their text is a comment
    /// saying what to write, and the revision is left unpinned.
    pub needs_sql: NeedsSql,
    /// Free comment lines written between the header and the up section
    /// (each starting with `--`), such as the Python source of a revision
    /// that needs SQL.
    pub preamble: Vec<String>,
}

impl ImportedRevision {
    /// The revision file's name: `<id>_<slug of the message>.sql`.
    pub fn file_name(&self) -> String {
        let slug = crate::template::slug(&self.message);
        if slug.is_empty() { format!("{}.sql", self.id) } else { format!("{}_{slug}.sql", self.id) }
    }

    /// The revision file's text.
    pub fn render(&self, tool: Tool) -> String {
        let message: String = self.message.chars().map(|c| if c.is_control() && c != '\t' { ' ' } else { c }).collect();
        let mut text = format!(
            "-- revision: {}\n-- parents: {}\n-- message: {}\n",
            self.id,
            self.parents.join(", "),
            message.trim()
        );
        if !self.branch_labels.is_empty() {
            text.push_str(&format!("-- branch-labels: {}\n", self.branch_labels.join(", ")));
        }
        if !self.depends_on.is_empty() {
            text.push_str(&format!("-- depends-on: {}\n", self.depends_on.join(", ")));
        }
        if self.no_transaction {
            text.push_str("-- transaction: false\n");
        }
        text.push_str(&format!("-- imported-from: {} {}\n", tool.name(), self.version));
        if !self.needs_sql.is_empty() {
            text.push_str(&format!("-- needs-sql: {}\n", self.needs_sql.header_value()));
        }
        if !self.preamble.is_empty() {
            text.push('\n');
            for line in &self.preamble {
                text.push_str(line);
                text.push('\n');
            }
        }
        text.push_str("\n-- migrate:up\n");
        push_section(&mut text, &self.up);
        if let Some(down) = &self.down {
            text.push_str("\n-- migrate:down\n");
            push_section(&mut text, down);
        }
        text
    }
}

fn push_section(text: &mut String, sql: &str) {
    let sql = sql.trim_matches('\n');
    if !sql.trim().is_empty() {
        text.push_str(sql);
        text.push('\n');
    }
}

/// What happened to one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Converted into a revision (or a revision's down section).
    Converted,
    /// Converted, but a human should look at it (see the notes).
    NeedsReview,
    /// Not a migration of the tool: left out.
    Skipped,
}

impl FileStatus {
    /// The status as one lowercase word with dashes, as JSON shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Converted => "converted",
            FileStatus::NeedsReview => "needs-review",
            FileStatus::Skipped => "skipped",
        }
    }
}

/// The report on one source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file's path relative to the source directory.
    pub path: String,
    /// The revision it went into, when it went into one.
    pub revision: Option<String>,
    /// Converted, needs review or skipped.
    pub status: FileStatus,
    /// What was done that a reader should know, one sentence each.
    pub notes: Vec<String>,
}

/// A converted history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The tool it came from.
    pub tool: Tool,
    /// The revisions in the tool's order: each one's parent is the previous one.
    pub revisions: Vec<ImportedRevision>,
    /// One report per source file, in path order.
    pub files: Vec<FileReport>,
}

impl Imported {
    /// Each revision's file name and text, in order.
    pub fn render(&self) -> Vec<(String, String)> {
        self.revisions.iter().map(|rev| (rev.file_name(), rev.render(self.tool))).collect()
    }
}

/// Why a history cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// No file of the source is a migration of the tool.
    #[error("no {tool} migration found")]
    Empty {
        /// The tool.
        tool: Tool,
    },
    /// Two migrations have the same version (or versions that sanitise to one id).
    #[error("`{first}` and `{second}` both become revision `{id}`")]
    DuplicateVersion {
        /// The id both would get.
        id: String,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// A version that cannot become a revision id.
    #[error("`{path}`: version `{version}` cannot become a revision id (`[a-z0-9_]`, at most 64 characters)")]
    InvalidVersion {
        /// The file.
        path: String,
        /// Its version.
        version: String,
    },
    /// A down file without its up file.
    #[error("`{path}` is a down migration without an up migration")]
    DownWithoutUp {
        /// The file.
        path: String,
    },
    /// A Flyway repeatable migration, which has no place in a chain of revisions.
    #[error(
        "`{path}` is a repeatable migration (`R__`): it has no version and runs again whenever it changes, which a chain of revisions cannot express; turn it into a versioned migration (or a revision of its own) by hand and import the rest"
    )]
    Repeatable {
        /// The file.
        path: String,
    },
    /// [`import`] of an Alembic history, whose revisions are Python:
    /// [`alembic::convert`] takes what Alembic renders of them.
    #[error("alembic revisions are Python scripts: render them with Alembic and convert them with `import::alembic`")]
    RendersThroughPython,
    /// A file of the tool's format that lacks what the tool requires.
    #[error("`{path}`: {why}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong, as a sentence without a final period.
        why: String,
    },
}

/// Converts a tool's history. `files` are the source directory's files as
/// (path relative to it, with `/` separators, text), in any order.
pub fn import(tool: Tool, files: &[(String, String)]) -> Result<Imported, ImportError> {
    if tool == Tool::Alembic {
        return Err(ImportError::RendersThroughPython);
    }
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut migrations: BTreeMap<Ordered, Draft> = BTreeMap::new();
    let mut reports: Vec<FileReport> = Vec::new();
    for (path, text) in sorted {
        let text = crate::strip_bom(text);
        let Some(parsed) = parse_name(tool, path)? else {
            let (status, note) = if tool == Tool::Refinery && path.ends_with(".rs") {
                (FileStatus::NeedsReview, "a Rust migration: not imported; write it as a revision by hand (review)")
            } else {
                (FileStatus::Skipped, "not a migration file of the tool; left out")
            };
            reports.push(FileReport { path: path.clone(), revision: None, status, notes: vec![note.to_owned()] });
            continue;
        };
        let id = sanitise(&parsed.ordered)
            .ok_or_else(|| ImportError::InvalidVersion { path: path.clone(), version: parsed.version.clone() })?;
        let key = Ordered::new(&parsed.ordered);
        let draft = migrations.entry(key).or_insert_with(|| Draft {
            id: id.clone(),
            version: parsed.version.clone(),
            message: parsed.name.replace('_', " ").trim().to_owned(),
            up: None,
            down: None,
            no_transaction: false,
            notes: Vec::new(),
            paths: Vec::new(),
        });
        if draft.version != parsed.version || draft.id != id {
            return Err(ImportError::DuplicateVersion {
                id,
                first: draft.paths.first().cloned().unwrap_or_default(),
                second: path.clone(),
            });
        }
        let mut notes = Vec::new();
        match parsed.kind {
            Kind::Metadata => {
                let no_transaction = match tool {
                    Tool::Diesel => setting(text, "run_in_transaction") == Some("false"),
                    _ => setting(text, "executeInTransaction") == Some("false"),
                };
                if no_transaction {
                    notes.push("runs outside a transaction (`transaction: false`)".to_owned());
                    draft.no_transaction = true;
                }
            }
            Kind::Up | Kind::Down => {
                let (sql, no_transaction) = match tool {
                    Tool::Sqlx => strip_first_line(text, "-- no-transaction"),
                    Tool::Refinery => {
                        let annotated = text.lines().any(|line| {
                            let rest = line.trim_start_matches('-');
                            line.len() - rest.len() >= 2
                                && rest.strip_prefix(' ').unwrap_or(rest).trim_end() == "refinery:noTransaction"
                        });
                        (text.to_owned(), annotated)
                    }
                    _ => (text.to_owned(), false),
                };
                if no_transaction {
                    notes.push("runs outside a transaction (`transaction: false`)".to_owned());
                    draft.no_transaction = true;
                }
                if parsed.unversioned {
                    notes.push(
                        "a refinery unversioned (`U`) migration: imported in version order like the others".to_owned(),
                    );
                }
                if tool == Tool::Diesel && parsed.kind == Kind::Down && sql.trim().is_empty() {
                    notes.push("empty down.sql: reverting the revision does nothing".to_owned());
                }
                if matches!(tool, Tool::GolangMigrate | Tool::Flyway)
                    && let Some(word) = outside_transaction(&sql)
                {
                    notes.push(format!(
                        "holds `{word}`, which cannot run in a transaction: `transaction: false` ({tool} runs such a file outside one); review"
                    ));
                    draft.no_transaction = true;
                }
                let slot = if parsed.kind == Kind::Up { &mut draft.up } else { &mut draft.down };
                if slot.is_some() {
                    return Err(ImportError::DuplicateVersion {
                        id,
                        first: draft.paths.first().cloned().unwrap_or_default(),
                        second: path.clone(),
                    });
                }
                *slot = Some(sql);
            }
            Kind::Both => {
                if draft.up.is_some() {
                    return Err(ImportError::DuplicateVersion {
                        id,
                        first: draft.paths.first().cloned().unwrap_or_default(),
                        second: path.clone(),
                    });
                }
                let sections = match tool {
                    Tool::Dbmate => split_dbmate(text),
                    Tool::Goose => split_goose(text),
                    _ => unreachable!("only dbmate and goose keep both directions in one file"),
                }
                .map_err(|why| ImportError::Malformed { path: path.clone(), why })?;
                draft.up = Some(sections.up);
                draft.down = sections.down;
                draft.no_transaction |= sections.no_transaction;
                notes.extend(sections.notes);
            }
        }
        draft.paths.push(path.clone());
        draft.notes.push((path.clone(), notes));
    }
    if migrations.is_empty() {
        return Err(ImportError::Empty { tool });
    }
    let mut revisions: Vec<ImportedRevision> = Vec::new();
    for draft in migrations.into_values() {
        let Some(up) = draft.up else {
            return Err(ImportError::DownWithoutUp { path: draft.paths[0].clone() });
        };
        for sql in std::iter::once(&up).chain(draft.down.as_ref()) {
            if let Some(line) = sql.lines().find(|line| is_section_marker(line)) {
                return Err(ImportError::Malformed {
                    path: draft.paths[0].clone(),
                    why: format!(
                        "the line `{}` would read as a cargo-migrate section marker; reword that comment and import again",
                        line.trim()
                    ),
                });
            }
        }
        let irreversible = draft.down.is_none();
        for (index, (path, mut notes)) in draft.notes.into_iter().enumerate() {
            if irreversible && index == 0 {
                notes.push("no down migration: the revision is irreversible".to_owned());
            }
            let status = if notes.iter().any(|n| n.contains("review")) || irreversible {
                FileStatus::NeedsReview
            } else {
                FileStatus::Converted
            };
            reports.push(FileReport { path, revision: Some(draft.id.clone()), status, notes });
        }
        revisions.push(ImportedRevision {
            parents: revisions.last().map(|previous| vec![previous.id.clone()]).unwrap_or_default(),
            id: draft.id,
            version: draft.version,
            message: draft.message,
            branch_labels: Vec::new(),
            depends_on: Vec::new(),
            up,
            down: draft.down,
            no_transaction: draft.no_transaction,
            needs_sql: NeedsSql::default(),
            preamble: Vec::new(),
        });
    }
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Imported { tool, revisions, files: reports })
}

/// A migration being assembled from its files.
struct Draft {
    id: String,
    version: String,
    message: String,
    up: Option<String>,
    down: Option<String>,
    no_transaction: bool,
    notes: Vec<(String, Vec<String>)>,
    paths: Vec<String>,
}

/// A version ordered as the tools order them: numerically, part by part
/// for Flyway's dotted versions (leading zeros aside), else as text after
/// every number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ordered {
    Number(Vec<(usize, String)>),
    Text(String),
}

impl Ordered {
    fn new(version: &str) -> Ordered {
        let parts: Vec<&str> = version.split('.').collect();
        if parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
            let mut numbers: Vec<(usize, String)> = parts
                .iter()
                .map(|p| {
                    let digits = p.trim_start_matches('0');
                    (digits.len(), digits.to_owned())
                })
                .collect();
            while numbers.len() > 1 && numbers.last().is_some_and(|(len, _)| *len == 0) {
                numbers.pop();
            }
            Ordered::Number(numbers)
        } else {
            Ordered::Text(version.to_owned())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Up,
    Down,
    Both,
    /// diesel's metadata.toml, Flyway's `.sql.conf`.
    Metadata,
}

struct Name {
    /// As the tool writes it (kept in `imported-from`).
    version: String,
    /// As the tool orders it (the id is made from it).
    ordered: String,
    name: String,
    kind: Kind,
    unversioned: bool,
}

/// diesel's `<version>_<name>/up.sql`, `down.sql`, `metadata.toml`.
fn parse_diesel(path: &str) -> Option<Name> {
    let (dir, file) = path.split_once('/')?;
    let kind = match file {
        "up.sql" => Kind::Up,
        "down.sql" => Kind::Down,
        "metadata.toml" => Kind::Metadata,
        _ => return None,
    };
    let (version, name) = dir.split_once('_').unwrap_or((dir, ""));
    let ordered: String = version.chars().filter(|&c| c != '-').collect();
    if ordered.is_empty() || !version.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    Some(Name { version: version.to_owned(), ordered, name: name.to_owned(), kind, unversioned: false })
}

/// refinery's and Flyway's `V<version>__<name>.sql`, `U...`; Flyway's `R__`
/// refused, its `.sql.conf` read.
fn parse_prefixed(tool: Tool, path: &str) -> Result<Option<Name>, ImportError> {
    if path.contains('/') {
        return Ok(None);
    }
    let (stem, kind_of_file) = match (tool, path.strip_suffix(".sql.conf")) {
        (Tool::Flyway, Some(stem)) => (stem, Some(Kind::Metadata)),
        _ => match path.strip_suffix(".sql") {
            Some(stem) => (stem, None),
            None => return Ok(None),
        },
    };
    if tool == Tool::Flyway && stem.starts_with("R__") {
        return Err(ImportError::Repeatable { path: path.to_owned() });
    }
    let (prefix, rest) = match stem.split_at_checked(1) {
        Some((prefix @ ("V" | "U"), rest)) => (prefix, rest),
        _ => return Ok(None),
    };
    let Some((version, name)) = rest.split_once("__") else { return Ok(None) };
    let ordered = match tool {
        Tool::Flyway => version.replace('_', "."),
        _ => version.to_owned(),
    };
    let digits_and_dots =
        |v: &str| !v.is_empty() && v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !digits_and_dots(&ordered) || (tool == Tool::Refinery && ordered.contains('.')) {
        return Ok(None);
    }
    let kind = match (tool, prefix, kind_of_file) {
        (_, _, Some(metadata)) => metadata,
        (Tool::Flyway, "U", None) => Kind::Down,
        _ => Kind::Up,
    };
    if tool == Tool::Flyway && kind == Kind::Metadata && prefix != "V" {
        return Ok(None);
    }
    Ok(Some(Name {
        version: ordered.clone(),
        ordered,
        name: name.to_owned(),
        kind,
        unversioned: tool == Tool::Refinery && prefix == "U",
    }))
}

/// The value of `key = value` (or `key=value`) in a small TOML or properties
/// file, quotes aside.
fn setting<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.split('#').next().unwrap_or("").trim().trim_matches('"'))
    })
}

/// A migration file's version, name and part, as `tool` names its files;
/// `None` for a file that is not one.
fn parse_name(tool: Tool, path: &str) -> Result<Option<Name>, ImportError> {
    match tool {
        Tool::Diesel => Ok(parse_diesel(path)),
        Tool::Refinery | Tool::Flyway => parse_prefixed(tool, path),
        _ => Ok(parse_suffixed(tool, path)),
    }
}

/// `<version>_<name>[.up|.down].sql`, as sqlx, golang-migrate, dbmate and goose name their files.
fn parse_suffixed(tool: Tool, path: &str) -> Option<Name> {
    if path.contains('/') {
        return None;
    }
    let stem = path.strip_suffix(".sql")?;
    let (stem, kind) = if let Some(stem) = stem.strip_suffix(".up") {
        (stem, Kind::Up)
    } else if let Some(stem) = stem.strip_suffix(".down") {
        (stem, Kind::Down)
    } else {
        (stem, Kind::Both)
    };
    let kind = match (tool, kind) {
        (Tool::Diesel | Tool::Refinery | Tool::Flyway, _) => return None,
        (Tool::Sqlx, Kind::Both) => Kind::Up,
        (Tool::GolangMigrate, Kind::Both) => return None,
        (Tool::Dbmate | Tool::Goose, Kind::Up | Kind::Down) => return None,
        (_, kind) => kind,
    };
    let (version, name) = stem.split_once('_').unwrap_or((stem, ""));
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Name {
        version: version.to_owned(),
        ordered: version.to_owned(),
        name: name.to_owned(),
        kind,
        unversioned: false,
    })
}

/// The version as a revision id: lowercase, anything else than `[a-z0-9_]` as `_`.
fn sanitise(version: &str) -> Option<String> {
    let id: String = version
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '_' })
        .collect();
    is_valid_revision_id(&id).then_some(id)
}

/// A statement PostgreSQL refuses inside a transaction block, if `sql` has one
/// (outside `--` comments).
fn outside_transaction(sql: &str) -> Option<&'static str> {
    let code: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_uppercase();
    let words: Vec<&str> = code.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').collect();
    ["CONCURRENTLY", "VACUUM"].into_iter().find(|word| words.contains(word))
}

/// A line a revision file reads as a section marker (`-- migrate:NAME`).
fn is_section_marker(line: &str) -> bool {
    let Some(rest) = line.trim().strip_prefix("--").map(str::trim_start) else { return false };
    rest.strip_prefix("migrate:").is_some_and(|name| {
        let name = name.trim();
        !name.is_empty() && !name.contains(char::is_whitespace)
    })
}

/// `text` without its first line when that line is `marker`; whether it was.
fn strip_first_line(text: &str, marker: &str) -> (String, bool) {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    if first.trim_end() == marker { (rest.to_owned(), true) } else { (text.to_owned(), false) }
}

struct Sections {
    up: String,
    down: Option<String>,
    no_transaction: bool,
    notes: Vec<String>,
}

/// dbmate: `-- migrate:up [transaction:false]` and `-- migrate:down`.
fn split_dbmate(text: &str) -> Result<Sections, String> {
    let mut up: Option<String> = None;
    let mut down: Option<String> = None;
    let mut current: Option<bool> = None; // Some(true): up
    let mut sections = Sections { up: String::new(), down: None, no_transaction: false, notes: Vec::new() };
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("-- migrate:up") {
            if up.is_some() {
                return Err("two `-- migrate:up` lines".into());
            }
            for option in rest.split_whitespace() {
                if option == "transaction:false" {
                    sections.no_transaction = true;
                    sections.notes.push("`transaction:false`: runs outside a transaction".to_owned());
                } else if option != "transaction:true" {
                    sections.notes.push(format!("unknown option `{option}` left out: review"));
                }
            }
            up = Some(String::new());
            current = Some(true);
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("-- migrate:down") {
            if down.is_some() {
                return Err("two `-- migrate:down` lines".into());
            }
            if rest.split_whitespace().any(|o| o == "transaction:false") {
                sections.notes.push(
                    "`transaction:false` on the down line: the revision runs both ways outside a transaction"
                        .to_owned(),
                );
                sections.no_transaction = true;
            }
            down = Some(String::new());
            current = Some(false);
            continue;
        }
        match current {
            Some(true) => up.as_mut().expect("open").push_str(line),
            Some(false) => down.as_mut().expect("open").push_str(line),
            None if trimmed.is_empty() || trimmed.starts_with("--") => {}
            None => return Err("SQL before the `-- migrate:up` line".into()),
        }
    }
    sections.up = up.ok_or("no `-- migrate:up` line")?;
    sections.down = down.filter(|d| !d.trim().is_empty());
    Ok(sections)
}

/// goose: `-- +goose Up`, `-- +goose Down`, `-- +goose StatementBegin/End`
/// (dropped: revisions are split by a parser that knows dollar quotes) and
/// `-- +goose NO TRANSACTION`.
fn split_goose(text: &str) -> Result<Sections, String> {
    let mut up: Option<String> = None;
    let mut down: Option<String> = None;
    let mut current: Option<bool> = None;
    let mut blocks = false;
    let mut sections = Sections { up: String::new(), down: None, no_transaction: false, notes: Vec::new() };
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(annotation) = trimmed.strip_prefix("-- +goose ") {
            match annotation.trim().to_ascii_lowercase().as_str() {
                "up" if up.is_none() => {
                    up = Some(String::new());
                    current = Some(true);
                }
                "down" if down.is_none() => {
                    down = Some(String::new());
                    current = Some(false);
                }
                "up" | "down" => return Err(format!("two `-- +goose {}` lines", annotation.trim())),
                "statementbegin" | "statementend" => blocks = true,
                "no transaction" => {
                    sections.no_transaction = true;
                    sections.notes.push("`NO TRANSACTION`: runs outside a transaction".to_owned());
                }
                other => sections.notes.push(format!("unknown annotation `{other}` left out: review")),
            }
            continue;
        }
        match current {
            Some(true) => up.as_mut().expect("open").push_str(line),
            Some(false) => down.as_mut().expect("open").push_str(line),
            None if trimmed.is_empty() || trimmed.starts_with("--") => {}
            None => return Err("SQL before the `-- +goose Up` line".into()),
        }
    }
    if blocks {
        sections.notes.push("`StatementBegin`/`StatementEnd` markers dropped".to_owned());
    }
    sections.up = up.ok_or("no `-- +goose Up` line")?;
    sections.down = down.filter(|d| !d.trim().is_empty());
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SourceFile, parse_revision};

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect()
    }

    #[test]
    fn sqlx_simple_and_reversible_in_numeric_order() {
        let imported = import(
            Tool::Sqlx,
            &files(&[
                ("10_third.sql", "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n"),
                ("2_second.up.sql", "ALTER TABLE t ADD b INT;\n"),
                ("2_second.down.sql", "ALTER TABLE t DROP b;\n"),
                ("1_first.sql", "CREATE TABLE t (a INT);\n"),
                ("README.md", "hello"),
            ]),
        )
        .unwrap();
        let ids: Vec<&str> = imported.revisions.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "10"]);
        assert!(imported.revisions[2].no_transaction);
        assert_eq!(imported.revisions[2].up, "CREATE INDEX CONCURRENTLY i ON t (a);\n");
        assert_eq!(imported.revisions[0].down, None);
        let statuses: Vec<(&str, FileStatus)> = imported.files.iter().map(|f| (f.path.as_str(), f.status)).collect();
        assert_eq!(
            statuses,
            [
                ("10_third.sql", FileStatus::NeedsReview),
                ("1_first.sql", FileStatus::NeedsReview),
                ("2_second.down.sql", FileStatus::Converted),
                ("2_second.up.sql", FileStatus::Converted),
                ("README.md", FileStatus::Skipped),
            ]
        );
    }

    #[test]
    fn rendered_files_parse_and_chain() {
        let imported = import(
            Tool::GolangMigrate,
            &files(&[
                ("000001_create_t.up.sql", "CREATE TABLE t (a INT);\n"),
                ("000001_create_t.down.sql", "DROP TABLE t;\n"),
                ("000002_add_b.up.sql", "ALTER TABLE t ADD b INT;\n"),
            ]),
        )
        .unwrap();
        let rendered = imported.render();
        assert_eq!(rendered[0].0, "000001_create_t.sql");
        let first = parse_revision(SourceFile::new(&rendered[0].0, rendered[0].1.clone())).unwrap();
        let second = parse_revision(SourceFile::new(&rendered[1].0, rendered[1].1.clone())).unwrap();
        assert_eq!(first.id, "000001");
        assert_eq!(first.imported_from.as_deref(), Some("golang-migrate 000001"));
        assert_eq!(first.down_sql(), Some("DROP TABLE t;\n"));
        assert_eq!(second.parents, ["000001"]);
        assert!(!second.is_reversible());
        assert_eq!(second.message, "add b");
    }

    #[test]
    fn golang_migrate_concurrently_runs_outside_a_transaction() {
        let imported = import(
            Tool::GolangMigrate,
            &files(&[
                ("1_i.up.sql", "-- not concurrently\nCREATE INDEX CONCURRENTLY i ON t (a);\n"),
                ("2_j.up.sql", "-- concurrently, only in a comment\nCREATE INDEX j ON t (a);\n"),
            ]),
        )
        .unwrap();
        assert!(imported.revisions[0].no_transaction);
        assert!(!imported.revisions[1].no_transaction);
        assert_eq!(imported.files[0].status, FileStatus::NeedsReview);
    }

    #[test]
    fn golang_migrate_down_without_up_is_refused() {
        let error = import(Tool::GolangMigrate, &files(&[("1_x.down.sql", "SELECT 1;")])).unwrap_err();
        assert_eq!(error, ImportError::DownWithoutUp { path: "1_x.down.sql".into() });
    }

    #[test]
    fn duplicate_versions_are_refused() {
        let error = import(Tool::Sqlx, &files(&[("1_a.sql", "SELECT 1;"), ("01_b.sql", "SELECT 2;")])).unwrap_err();
        assert!(matches!(error, ImportError::DuplicateVersion { .. }), "{error}");
    }

    #[test]
    fn dbmate_sections_and_transaction_option() {
        let text = "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n";
        let imported = import(Tool::Dbmate, &files(&[("20240101120000_index.sql", text)])).unwrap();
        let rev = &imported.revisions[0];
        assert!(rev.no_transaction);
        assert_eq!(rev.up, "CREATE INDEX CONCURRENTLY i ON t (a);\n\n");
        assert_eq!(rev.down.as_deref(), Some("DROP INDEX i;\n"));
        assert_eq!(imported.files[0].status, FileStatus::Converted);
        let missing = import(Tool::Dbmate, &files(&[("1_x.sql", "SELECT 1;\n")])).unwrap_err();
        assert!(matches!(missing, ImportError::Malformed { .. }), "{missing}");
    }

    #[test]
    fn goose_annotations() {
        let text = "-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n-- +goose StatementEnd\n\n-- +goose Down\nDROP FUNCTION f();\n";
        let imported = import(Tool::Goose, &files(&[("00003_f.sql", text)])).unwrap();
        let rev = &imported.revisions[0];
        assert!(rev.no_transaction);
        assert_eq!(rev.id, "00003");
        assert_eq!(rev.up, "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\n");
        assert_eq!(rev.down.as_deref(), Some("DROP FUNCTION f();\n"));
        assert!(imported.files[0].notes.iter().any(|n| n.contains("StatementBegin")));
    }

    #[test]
    fn diesel_directories_metadata_and_empty_down() {
        let imported = import(
            Tool::Diesel,
            &files(&[
                ("2024-01-10-000000_index/up.sql", "CREATE INDEX CONCURRENTLY i ON t (a);\n"),
                ("2024-01-10-000000_index/down.sql", "DROP INDEX CONCURRENTLY i;\n"),
                ("2024-01-10-000000_index/metadata.toml", "run_in_transaction = false\n"),
                ("2024-01-02-120000_create_t/up.sql", "CREATE TABLE t (a INT);\n"),
                ("2024-01-02-120000_create_t/down.sql", ""),
                (".keep", ""),
            ]),
        )
        .unwrap();
        let ids: Vec<&str> = imported.revisions.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["20240102120000", "20240110000000"]);
        assert_eq!(imported.revisions[0].version, "2024-01-02-120000");
        assert_eq!(imported.revisions[0].down.as_deref(), Some(""));
        assert!(imported.revisions[1].no_transaction);
        let rendered = imported.render();
        let first = parse_revision(SourceFile::new("a.sql", rendered[0].1.clone())).unwrap();
        assert!(first.is_reversible());
        assert_eq!(first.down_sql(), Some(""));
        assert_eq!(first.imported_from.as_deref(), Some("diesel 2024-01-02-120000"));
    }

    #[test]
    fn refinery_versions_and_no_transaction_annotation() {
        let imported = import(
            Tool::Refinery,
            &files(&[
                ("V2__index.sql", "-- refinery:noTransaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n"),
                ("V1__create_t.sql", "CREATE TABLE t (a INT);\n"),
                ("U3__seed.sql", "INSERT INTO t VALUES (1);\n"),
                ("V4__code.rs", "fn migration() -> String { String::new() }\n"),
            ]),
        )
        .unwrap();
        let ids: Vec<&str> = imported.revisions.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert!(imported.revisions[1].no_transaction && !imported.revisions[0].no_transaction);
        assert!(imported.revisions.iter().all(|r| r.down.is_none()));
        let rust = imported.files.iter().find(|f| f.path == "V4__code.rs").unwrap();
        assert_eq!((rust.status, rust.revision.as_deref()), (FileStatus::NeedsReview, None));
    }

    #[test]
    fn flyway_dotted_versions_undo_and_conf() {
        let imported = import(
            Tool::Flyway,
            &files(&[
                ("V1_10__later.sql", "SELECT 3;\n"),
                ("V1_2__index.sql", "CREATE INDEX i ON t (a);\n"),
                ("V1_2__index.sql.conf", "executeInTransaction=false\n"),
                ("U1_2__index.sql", "DROP INDEX i;\n"),
                ("V1__create_t.sql", "CREATE TABLE t (a INT);\n"),
            ]),
        )
        .unwrap();
        let ids: Vec<&str> = imported.revisions.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["1", "1_2", "1_10"]);
        assert_eq!(imported.revisions[1].version, "1.2");
        assert!(imported.revisions[1].no_transaction);
        assert_eq!(imported.revisions[1].down.as_deref(), Some("DROP INDEX i;\n"));
        let error =
            import(Tool::Flyway, &files(&[("V1__a.sql", "SELECT 1;"), ("R__views.sql", "SELECT 1;")])).unwrap_err();
        assert_eq!(error, ImportError::Repeatable { path: "R__views.sql".into() });
        assert!(error.to_string().contains("`R__views.sql` is a repeatable migration"), "{error}");
    }

    #[test]
    fn sql_that_would_read_as_a_section_marker_is_refused() {
        let error = import(Tool::Sqlx, &files(&[("1_a.sql", "SELECT 1;\n  --migrate:down\nSELECT 2;\n")])).unwrap_err();
        assert!(error.to_string().contains("`--migrate:down` would read as a cargo-migrate section marker"), "{error}");
        assert!(import(Tool::Sqlx, &files(&[("1_a.sql", "-- migrate: two words\nSELECT 1;\n")])).is_ok());
    }

    #[test]
    fn nothing_to_import() {
        assert_eq!(
            import(Tool::Goose, &files(&[("notes.txt", "")])).unwrap_err(),
            ImportError::Empty { tool: Tool::Goose }
        );
    }
}
