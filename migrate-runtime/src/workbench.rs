//! Schemas compared through scratch databases: the models loaded, the
//! history replayed, a live database read. What `cargo migrate generate`,
//! the models half of `check` and `diff` do, as calls.
//!
//! A [`Workbench`] names the server scratch databases are made on: SQLite
//! ones live in memory, PostgreSQL and MySQL ones are created on the server
//! (`CREATE DATABASE cm_scratch_...` on MySQL) and dropped when done, on
//! error, and by [`drop_every_scratch`] (for a Ctrl-C handler).
//!
//! ```
//! use migrate_history::{Options, SourceFile, load::Sources};
//! use migrate_runtime::{DatabaseUrl, Migrator, workbench::Workbench};
//!
//! let revision = "-- revision: a\n-- parents:\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (id INTEGER);\n";
//! let sources = Sources { revisions: vec![SourceFile::new("migrations/a.sql", revision)], ..Sources::default() };
//! let migrator = Migrator::new(migrate_history::analyze(sources, Options::default()).history);
//! let bench = Workbench::new(&DatabaseUrl::parse("sqlite::memory:")?);
//! let models = "CREATE TABLE a (id INTEGER);\nCREATE TABLE b (id INTEGER);\n";
//!
//! let changes = bench.check_models(&migrator, models)?;
//! assert_eq!(changes.len(), 1, "table b is new: {changes:?}");
//! let generated = bench.generate(&migrator, models)?.expect("a change");
//! assert!(generated.up.contains("CREATE TABLE"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Mutex;

use migrate_history::sql::{line_at, split};
use migrate_history::{Dialect, Target};

use crate::schema::{
    Change, Generated, RenderOptions, Schema, Sources, diff, introspect_schemas, read_scratch, render_with,
};
use crate::url::DatabaseUrl;
use crate::{ConnectError, Connection, Database, DbError, Error, Migrator};

/// Why a schema could not be read or compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkbenchError {
    /// The scratch server (or the live database) did not answer.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// `CREATE DATABASE` failed on the scratch server.
    #[error("could not create a scratch database on {server}: {message}")]
    CreateScratch {
        /// The server, without its password.
        server: String,
        /// What the server said.
        message: String,
    },
    /// The models are not valid SQL for the dialect, at `line` (1-based).
    #[error("line {line}: {message}")]
    Models {
        /// The line of the models text.
        line: usize,
        /// What is wrong there.
        message: String,
        /// Whether a string, comment or body was left open (else the
        /// database refused the statement).
        unclosed: bool,
    },
    /// The history did not replay on a scratch database.
    #[error("replaying the history on a scratch database: {0}")]
    Replay(#[source] Box<Error>),
    /// A schema could not be read.
    #[error("introspecting {what}: {source}")]
    Introspect {
        /// `the models`, `the history's schema`, or the live database.
        what: String,
        /// What the database said.
        source: DbError,
    },
}

impl WorkbenchError {
    /// A hint for the person who can fix it, where there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            WorkbenchError::Connect(e) => e.help.clone(),
            WorkbenchError::CreateScratch { .. } => Some(
                "the user needs CREATEDB on the development server; use another server for scratch databases".into(),
            ),
            WorkbenchError::Models { unclosed: true, .. } => Some("close it, or remove it".into()),
            WorkbenchError::Models { unclosed: false, .. } => {
                Some("the models must be valid SQL for the database's dialect".into())
            }
            WorkbenchError::Replay(e) => e.help(),
            WorkbenchError::Introspect { .. } => None,
        }
    }
}

/// The server scratch databases are made on.
#[derive(Debug, Clone)]
pub struct Workbench {
    server: DatabaseUrl,
    models_name: String,
    schemas: Vec<String>,
}

/// A live database compared with what the history produces at the
/// revisions it has applied: the result of [`Workbench::drift`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaDrift {
    /// The revisions the database is at (empty: base).
    pub at: Vec<String>,
    /// What turns the expected schema into the live one; empty when they match.
    pub changes: Vec<Change>,
}

impl Workbench {
    /// Scratch databases on `server`: any SQLite URL means in-memory
    /// databases, a PostgreSQL or MySQL URL new databases on that server
    /// (the user needs `CREATEDB`; on MySQL, `CREATE` and `DROP`).
    pub fn new(server: &DatabaseUrl) -> Workbench {
        let server = match server {
            DatabaseUrl::Sqlite { .. } => DatabaseUrl::Sqlite { path: None },
            postgres => postgres.clone(),
        };
        Workbench { server, models_name: "schema.sql".into(), schemas: Vec::new() }
    }

    /// PostgreSQL schemas compared besides the default one (`schemas` in
    /// the configuration): see [`introspect_schemas`].
    pub fn schemas(mut self, schemas: &[String]) -> Workbench {
        self.schemas = schemas.to_vec();
        self
    }

    /// What the models are called where a change names their line
    /// (`schema.sql:12`); `schema.sql` unless said.
    pub fn models_name(mut self, name: impl Into<String>) -> Workbench {
        self.models_name = name.into();
        self
    }

    /// The PostgreSQL schemas compared besides the default one.
    pub(crate) fn extra_schemas(&self) -> &[String] {
        &self.schemas
    }

    /// The dialect of the scratch databases.
    pub fn dialect(&self) -> Dialect {
        self.server.dialect()
    }

    /// Where scratch databases are made, in words: `SQLite in memory`, or
    /// `temporary databases on HOST:PORT/DATABASE as USER` (no password).
    pub fn describe(&self) -> String {
        match &self.server {
            DatabaseUrl::Sqlite { .. } => "SQLite in memory".to_owned(),
            DatabaseUrl::Postgres(pg) => format!("temporary databases on {}", pg.describe()),
            DatabaseUrl::Mysql(my) => format!("temporary databases on {}", my.describe()),
        }
    }

    /// A new empty scratch database; `label` goes into a server one's name.
    pub fn scratch(&self, label: &str) -> Result<Scratch, WorkbenchError> {
        Scratch::create(&self.server, label)
    }

    /// The schema the history produces with every revision up to `at`
    /// applied (none: an empty schema), leaving out the version table.
    pub fn history_schema(&self, migrator: &Migrator, at: &[String]) -> Result<Schema, WorkbenchError> {
        Ok(self.history_with_sources(migrator, at)?.0)
    }

    /// [`Workbench::history_schema`], with the revisions' own text of what
    /// PostgreSQL prints in another form.
    fn history_with_sources(&self, migrator: &Migrator, at: &[String]) -> Result<(Schema, Sources), WorkbenchError> {
        let mut scratch = self.replay(migrator, at)?;
        let exclude = migrator.table(self.dialect()).name;
        let written: String = migrator.history().revisions().iter().map(|r| format!("{}\n;\n", r.up_sql())).collect();
        read_scratch(scratch.database(), &exclude, &self.schemas, &written)
            .map_err(|source| WorkbenchError::Introspect { what: "the history's schema".into(), source })
    }

    /// A scratch database with every revision up to `at` applied.
    pub(crate) fn replay(&self, migrator: &Migrator, at: &[String]) -> Result<Scratch, WorkbenchError> {
        let mut scratch = self.scratch("history")?;
        for id in at {
            migrator
                .run_to(scratch.database(), &Target::Revision(id.clone()))
                .map_err(|e| WorkbenchError::Replay(Box::new(e)))?;
        }
        Ok(scratch)
    }

    /// The schema of a scratch database as the server prints it, without
    /// settling (see [`settle`](crate::schema::settle)), the version table
    /// `exclude` left out.
    pub(crate) fn read_raw(&self, db: &mut dyn Database, exclude: &str) -> Result<Schema, WorkbenchError> {
        introspect_schemas(db, exclude, &self.schemas)
            .map_err(|source| WorkbenchError::Introspect { what: "a scratch database".into(), source })
    }

    /// The schema the models (`schema.sql`'s text) create, run statement
    /// by statement so that an error names its line; a table named like the
    /// version table `exclude` is left out.
    pub fn models_schema(&self, models: &str, exclude: &str) -> Result<Schema, WorkbenchError> {
        Ok(self.models_with_sources(models, exclude)?.0)
    }

    /// [`Workbench::models_schema`], with the models' own text of what
    /// PostgreSQL prints in another form.
    fn models_with_sources(&self, models: &str, exclude: &str) -> Result<(Schema, Sources), WorkbenchError> {
        // A byte-order mark is not SQL; it has no newline, so lines stay right.
        let models = without_meta_commands(migrate_history::strip_bom(models));
        let models = models.as_str();
        let mut scratch = self.scratch("models")?;
        let statements = split(models, self.dialect()).map_err(|e| WorkbenchError::Models {
            line: line_at(models, e.offset),
            message: e.to_string(),
            unclosed: true,
        })?;
        for statement in statements {
            scratch.database().execute_batch(statement.text).map_err(|e| WorkbenchError::Models {
                line: line_at(models, statement.offset + e.offset.unwrap_or(0)),
                message: e.message,
                unclosed: false,
            })?;
        }
        if self.dialect() == Dialect::Postgres {
            // pg_dump output empties search_path; the schema is read where the history puts it.
            scratch
                .database()
                .execute_batch("RESET search_path")
                .map_err(|source| WorkbenchError::Introspect { what: "the models".into(), source })?;
        }
        read_scratch(scratch.database(), exclude, &self.schemas, models)
            .map_err(|source| WorkbenchError::Introspect { what: "the models".into(), source })
    }

    /// Every difference between what the history produces at its heads and
    /// the models: empty when they agree (what `cargo migrate check` asks).
    pub fn check_models(&self, migrator: &Migrator, models: &str) -> Result<Vec<Change>, WorkbenchError> {
        let ((current, _), (target, _)) = self.history_and_models(migrator, models)?;
        let mut changes = diff(&current, &target);
        self.locate(&mut changes, models);
        Ok(changes)
    }

    /// The up and down SQL of a revision that turns the history's schema at
    /// its heads into the models', or `None` when they agree.
    pub fn generate(&self, migrator: &Migrator, models: &str) -> Result<Option<Generated>, WorkbenchError> {
        self.generate_with(migrator, models, &RenderOptions::default())
    }

    /// [`Workbench::generate`], the SQL written as `options` say (for a
    /// revision that runs outside a transaction, say).
    pub fn generate_with(
        &self,
        migrator: &Migrator,
        models: &str,
        options: &RenderOptions,
    ) -> Result<Option<Generated>, WorkbenchError> {
        let ((current, written), (target, modelled)) = self.history_and_models(migrator, models)?;
        let mut changes = diff(&current, &target);
        if changes.is_empty() {
            return Ok(None);
        }
        self.locate(&mut changes, models);
        // Written as the models and the revisions wrote them, where the
        // server prints them in a form that builds something else.
        let mut up = changes.clone();
        modelled.apply(&mut up);
        let mut back = diff(&target, &current);
        written.apply(&mut back);
        Ok(Some(Generated {
            up: render_with(&up, &current, &target, self.dialect(), options),
            down: render_with(&back, &target, &current, self.dialect(), options),
            changes,
        }))
    }

    /// Names the models' line of each object autogenerate cannot write.
    fn locate(&self, changes: &mut [Change], models: &str) {
        for change in changes {
            if let Change::Unmodelled { object, added: true, source } = change
                && let Some(line) = line_creating(models, object, self.dialect())
            {
                *source = Some(format!("{}:{line}", self.models_name));
            }
        }
    }

    /// A live database against what the history produces at the revisions
    /// that database has applied: changes made by hand, or left by a
    /// failed migration.
    pub fn drift(&self, migrator: &Migrator, live: &mut dyn Database) -> Result<SchemaDrift, WorkbenchError> {
        let state = migrator.state(live).map_err(|e| WorkbenchError::Replay(Box::new(e)))?;
        // Both built by the same revisions' text, both read as printed (a
        // live database takes no probes): what one prints, so does the other.
        let mut scratch = self.replay(migrator, &state.heads)?;
        let exclude = migrator.table(live.dialect()).name;
        let expected = introspect_schemas(scratch.database(), &exclude, &self.schemas)
            .map_err(|source| WorkbenchError::Introspect { what: "the history's schema".into(), source })?;
        let actual = introspect_schemas(live, &exclude, &self.schemas)
            .map_err(|source| WorkbenchError::Introspect { what: "the database".into(), source })?;
        Ok(SchemaDrift { at: state.heads, changes: diff(&expected, &actual) })
    }

    /// A live database against what the history produces at the revisions
    /// `at` (rather than those its version table records), the tables
    /// `ignore` (such as another tool's version table) left out of the
    /// live side: what `cargo migrate adopt` checks before recording `at`.
    pub fn drift_at(
        &self,
        migrator: &Migrator,
        live: &mut dyn Database,
        at: &[String],
        ignore: &[&str],
    ) -> Result<SchemaDrift, WorkbenchError> {
        let mut scratch = self.replay(migrator, at)?;
        let exclude = migrator.table(live.dialect()).name;
        let expected = introspect_schemas(scratch.database(), &exclude, &self.schemas)
            .map_err(|source| WorkbenchError::Introspect { what: "the history's schema".into(), source })?;
        let mut actual = introspect_schemas(live, &exclude, &self.schemas)
            .map_err(|source| WorkbenchError::Introspect { what: "the database".into(), source })?;
        actual.tables.retain(|name, _| {
            let bare = name.rsplit('.').next().unwrap_or(name);
            !ignore.contains(&bare)
        });
        Ok(SchemaDrift { at: at.to_vec(), changes: diff(&expected, &actual) })
    }

    /// The history's schema at its heads and the models', each with the
    /// text that built it.
    fn history_and_models(&self, migrator: &Migrator, models: &str) -> Result<(Built, Built), WorkbenchError> {
        let heads = migrator.history().ids(&migrator.history().heads());
        let history = self.history_with_sources(migrator, &heads)?;
        let modelled = self.models_with_sources(models, &migrator.table(self.dialect()).name)?;
        Ok((history, modelled))
    }
}

/// A scratch database's schema and the text that built it.
type Built = (Schema, Sources);

/// The line of the statement in `models` that creates `object` (`aggregate
/// total(integer)`, `rule protect on users`): the first `CREATE` statement
/// that names its kind and its name.
fn line_creating(models: &str, object: &str, dialect: Dialect) -> Option<usize> {
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    // "aggregate total(integer)" -> kind ["aggregate"], name "total"
    let head = object.split(['(', ' ']).collect::<Vec<_>>();
    let (kind, name) = match head.as_slice() {
        [first, second, third, ..] if ["foreign", "text", "window"].contains(first) => {
            (vec![first.to_lowercase(), second.to_lowercase()], third.to_lowercase())
        }
        [kind, name, ..] => (vec![kind.to_lowercase()], name.to_lowercase()),
        _ => return None,
    };
    let kind = if kind == ["window", "function"] { vec!["function".to_owned()] } else { kind };
    let statements = split(models, dialect).ok()?;
    statements.iter().find_map(|statement| {
        let words = words(statement.text);
        let creates = words.first().is_some_and(|w| w == "create");
        let names = words.windows(kind.len()).any(|w| w == kind.as_slice()) && words.contains(&name);
        let leading = statement.text.len() - statement.text.trim_start().len();
        (creates && names).then(|| line_at(models, statement.offset + leading))
    })
}

/// The models with psql's meta-commands (`\\restrict KEY`, which pg_dump
/// writes first and last, `\\connect`, ...) blanked, keeping every line where it is.
fn without_meta_commands(models: &str) -> String {
    models
        .split_inclusive('\n')
        .map(|line| {
            let meta = line.strip_prefix('\\').is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic()));
            if meta { if line.ends_with('\n') { "\n" } else { "" } } else { line }
        })
        .collect()
}

/// Scratch databases on servers that exist now, to drop if the process is interrupted.
static LIVE: Mutex<Vec<(DatabaseUrl, String)>> = Mutex::new(Vec::new());

/// Drops every PostgreSQL or MySQL scratch database of this process that is not
/// dropped yet, for a signal handler that exits without unwinding.
/// Returns the ones that could not be dropped, with why.
pub fn drop_every_scratch() -> Vec<ScratchLeft> {
    let live = LIVE.lock().map(|list| list.clone()).unwrap_or_default();
    live.iter().filter_map(|(server, name)| drop_database(server, name).err()).collect()
}

/// Scratch databases whose drop failed, since the last call: dropping
/// happens in `Drop`, which cannot return an error, so a caller asks here.
pub fn scratch_left_behind() -> Vec<ScratchLeft> {
    LEFT.lock().map(|mut list| std::mem::take(&mut *list)).unwrap_or_default()
}

static LEFT: Mutex<Vec<ScratchLeft>> = Mutex::new(Vec::new());

/// A scratch database that could not be dropped: drop it by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScratchLeft {
    /// The database's name.
    pub name: String,
    /// Its server, without a password.
    pub server: String,
    /// What the server said.
    pub message: String,
}

impl std::fmt::Display for ScratchLeft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not drop the scratch database {} on {}: {}", self.name, self.server, self.message)
    }
}

/// A database to replay a history or load the models into; a PostgreSQL or
/// MySQL one is dropped when this goes out of scope.
pub struct Scratch {
    connection: Option<Connection>,
    dropped_with: Option<(DatabaseUrl, String)>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scratch({:?})", self.dropped_with.as_ref().map(|(_, name)| name))
    }
}

impl Scratch {
    fn create(server: &DatabaseUrl, label: &str) -> Result<Scratch, WorkbenchError> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let (name, create, url) = match server {
            DatabaseUrl::Sqlite { .. } => {
                return Ok(Scratch { connection: Some(crate::connect(server)?), dropped_with: None });
            }
            DatabaseUrl::Postgres(pg) => {
                let name = format!("cargo_migrate_scratch_{}_{label}_{nanos}", std::process::id());
                let create = format!("CREATE DATABASE \"{name}\"");
                let url = DatabaseUrl::Postgres(pg.with_database(&name));
                (name, create, url)
            }
            DatabaseUrl::Mysql(my) => {
                // A MySQL name has at most 64 characters.
                let name = format!("cm_scratch_{}_{label}_{nanos}", std::process::id());
                let create = format!("CREATE DATABASE `{name}`");
                let url = DatabaseUrl::Mysql(my.with_database(&name));
                (name, create, url)
            }
        };
        let mut admin = crate::connect(server)?;
        // Listed before it exists: an interrupt while it is being created
        // still drops it (the drop says IF EXISTS).
        if let Ok(mut list) = LIVE.lock() {
            list.push((server.clone(), name.clone()));
        }
        // Owned before it is created, so that every failure below drops it.
        let mut scratch = Scratch { connection: None, dropped_with: Some((server.clone(), name.clone())) };
        if let Err(e) = admin.database().execute_batch(&create) {
            // Nothing was created: nothing to drop.
            scratch.dropped_with = None;
            if let Ok(mut list) = LIVE.lock() {
                list.retain(|(_, n)| *n != name);
            }
            return Err(WorkbenchError::CreateScratch { server: describe_server(server), message: e.message });
        }
        scratch.connection = Some(crate::connect(&url)?);
        Ok(scratch)
    }

    /// The scratch database, as the engine uses it.
    pub fn database(&mut self) -> &mut dyn Database {
        self.connection.as_mut().expect("a scratch database is connected once created").database()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some((server, name)) = self.dropped_with.take() {
            // Close our own connection first: a database in use cannot be dropped.
            drop(self.connection.take());
            if let Err(left) = drop_database(&server, &name)
                && let Ok(mut list) = LEFT.lock()
            {
                list.push(left);
            }
        }
    }
}

/// A scratch server in words, without a password.
fn describe_server(server: &DatabaseUrl) -> String {
    match server {
        DatabaseUrl::Sqlite { .. } => "SQLite".to_owned(),
        DatabaseUrl::Postgres(pg) => pg.describe(),
        DatabaseUrl::Mysql(my) => my.describe(),
    }
}

/// Drops `name` on `server` and takes it off the live list.
fn drop_database(server: &DatabaseUrl, name: &str) -> Result<(), ScratchLeft> {
    let dropped = crate::connect(server).map_err(|e| e.message).and_then(|mut admin| {
        let db = admin.database();
        let dropped = match server {
            DatabaseUrl::Mysql(_) => db.execute_batch(&format!("DROP DATABASE IF EXISTS `{name}`")),
            // WITH (FORCE) needs PostgreSQL 13; older servers take the plain form.
            _ => db
                .execute_batch(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .or_else(|_| db.execute_batch(&format!("DROP DATABASE IF EXISTS \"{name}\""))),
        };
        dropped.map_err(|e| e.message)
    });
    if let Ok(mut list) = LIVE.lock() {
        list.retain(|(_, n)| n != name);
    }
    dropped.map_err(|message| ScratchLeft { name: name.to_owned(), server: describe_server(server), message })
}
