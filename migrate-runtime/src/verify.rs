//! Every revision's down section proved on a scratch database: what
//! `cargo migrate verify` does, as a call.
//!
//! On a scratch database of a [`Workbench`] (in-memory SQLite, or a
//! temporary PostgreSQL database dropped afterwards), each revision is
//! upgraded alone, in upgrade order; its schema is read, it is reverted,
//! the schema must be exactly the one before it, it is upgraded again, and
//! the schema must be exactly the one of its first upgrade. The walk stops
//! at the first revision that fails, naming each difference. A revision
//! without a down section ends the down check there: the revisions after
//! it are only upgraded. Besides the walk: a single head (unless several
//! are allowed), a full upgrade from base building the same schema as the
//! walk, the same schema at every merge point whichever parent's branch is
//! applied first, and the models (`schema.sql`) equal to the head schema.
//!
//! Schemas are compared as the server prints them and, where that differs
//! on PostgreSQL, in their settled form ([`settle`]), so a down section
//! that writes a check the way the server prints it (which the server
//! parses back into another expression) still restores it.
//!
//! ```
//! use migrate_history::{Options, SourceFile, load::Sources};
//! use migrate_runtime::verify::{Failure, VerifyOptions, verify};
//! use migrate_runtime::{DatabaseUrl, Migrator, workbench::Workbench};
//!
//! let file = |id: &str, parents: &str, up: &str, down: &str| {
//!     let text = format!("-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n\n-- migrate:up\n{up}\n-- migrate:down\n{down}\n");
//!     SourceFile::new(format!("migrations/{id}.sql"), text)
//! };
//! let sources = Sources {
//!     revisions: vec![
//!         file("a", "", "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT);", "DROP TABLE t;"),
//!         file("b", "a", "CREATE INDEX t_email ON t (email);", ""), // forgets the index
//!     ],
//!     ..Sources::default()
//! };
//! let migrator = Migrator::new(migrate_history::analyze(sources, Options::default()).history);
//! let bench = Workbench::new(&DatabaseUrl::parse("sqlite::memory:")?);
//!
//! let report = verify(&bench, &migrator, &VerifyOptions::default())?;
//! assert!(!report.passed());
//! let Failure::NotRestored { id, changes, .. } = &report.failures[0] else { panic!("{:?}", report.failures) };
//! assert_eq!(id, "b");
//! assert_eq!(changes[0].to_string(), "new index t_email on t");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use migrate_history::{History, Revision, Target};

use crate::schema::{Change, Schema, diff, settle};
use crate::workbench::{Scratch, Workbench, WorkbenchError};
use crate::{Database, Dialect, Error, Migrator};

/// What [`verify`] checks besides the revisions' down sections.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Verify only the revisions an upgrade from here to the heads applies
    /// (what a pull request adds), starting from a scratch database
    /// upgraded to it; `None`: every revision, from base.
    pub from: Option<Target>,
    /// The models (`schema.sql`'s text), compared with the schema the
    /// history builds at its heads; `None`: not compared.
    pub models: Option<String>,
    /// Whether the history may have several heads
    /// (`allow-multiple-heads`); otherwise a second head is a failure.
    pub allow_multiple_heads: bool,
}

/// What [`verify`] found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Verification {
    /// The revisions the walk started from ([`VerifyOptions::from`]); empty: base.
    pub from: Vec<String>,
    /// The history's heads.
    pub heads: Vec<String>,
    /// The revisions walked, in upgrade order, up to and including the
    /// first that failed.
    pub revisions: Vec<RevisionCheck>,
    /// The revisions the walk did not reach, because one before them failed.
    pub not_reached: Vec<String>,
    /// The merge points whose parents' orders were compared, in upgrade order.
    pub merges: Vec<String>,
    /// Whether a full upgrade from base was run (not when a revision does
    /// not upgrade at all: the walk says which).
    pub full_upgrade: bool,
    /// Whether the models were compared with the head schema.
    pub models: bool,
    /// Every failure, in the order found; empty when everything passed.
    pub failures: Vec<Failure>,
}

impl Verification {
    /// Whether everything passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The first revision without a down section, where the down check ended.
    pub fn down_ended_at(&self) -> Option<&RevisionCheck> {
        self.revisions.iter().find(|r| r.checked == Checked::NoDownSection)
    }
}

/// One revision of the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionCheck {
    /// Its id.
    pub id: String,
    /// Its message.
    pub message: String,
    /// Its file.
    pub path: String,
    /// How far it was checked.
    pub checked: Checked,
}

/// How far a revision of the walk was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Checked {
    /// Upgraded, reverted to exactly the schema before it, and upgraded
    /// again to exactly the schema of its first upgrade.
    Restored,
    /// Upgraded; it has no down section, so the down check ends here.
    NoDownSection,
    /// Upgraded only: `after`, before it, has no down section.
    UpgradeOnly {
        /// The revision that ended the down check.
        after: String,
    },
    /// It failed: the failure is in [`Verification::failures`].
    Failed,
    /// A baseline (`replaces` header), recorded without running: the
    /// revisions it replaces were walked one by one before it. The full
    /// upgrade from base runs it, and compares the result with the walk's.
    Baseline,
}

/// A check that did not pass.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The history has several heads and they are not allowed.
    #[error("the history has {} heads ({}); it should have one", heads.len(), heads.join(", "))]
    SeveralHeads {
        /// The heads' ids.
        heads: Vec<String>,
    },
    /// The scratch database could not be upgraded to
    /// [`VerifyOptions::from`].
    #[error("upgrading a scratch database to {} fails: {error}", from.join(", "))]
    Start {
        /// Where the walk was to start.
        from: Vec<String>,
        /// What failed.
        error: Box<Error>,
    },
    /// A revision's up section fails.
    #[error("the up section of revision `{id}` fails: {error}")]
    Upgrade {
        /// The revision.
        id: String,
        /// Its file.
        path: String,
        /// What failed.
        error: Box<Error>,
    },
    /// A revision's down section fails.
    #[error("the down section of revision `{id}` fails: {error}")]
    Downgrade {
        /// The revision.
        id: String,
        /// Its file.
        path: String,
        /// What failed.
        error: Box<Error>,
    },
    /// A revision's down section runs but leaves another schema than the
    /// one before the revision.
    #[error("the down section of revision `{id}` ({path}) does not restore the schema before it")]
    NotRestored {
        /// The revision.
        id: String,
        /// Its file.
        path: String,
        /// What turns the schema before the revision into the one its down
        /// section leaves: `new index ...` for an index it forgets,
        /// `column ... removed` for one it drops wrongly.
        changes: Vec<Change>,
    },
    /// A revision's up section fails after its down section ran.
    #[error("revision `{id}` does not upgrade again after its down section: {error}")]
    UpgradeAgain {
        /// The revision.
        id: String,
        /// Its file.
        path: String,
        /// What failed.
        error: Box<Error>,
    },
    /// A revision upgraded again after its down section builds another
    /// schema than its first upgrade.
    #[error("revision `{id}` ({path}) builds another schema when upgraded again after its down section")]
    UpgradedDifferently {
        /// The revision.
        id: String,
        /// Its file.
        path: String,
        /// What turns the first upgrade's schema into the second's.
        changes: Vec<Change>,
    },
    /// Upgrading an empty database to the heads in one run fails.
    #[error("a full upgrade from base fails: {error}")]
    FullUpgrade {
        /// What failed.
        error: Box<Error>,
    },
    /// A full upgrade from base builds another schema than the walk.
    #[error("a full upgrade from base builds another schema than upgrading one revision at a time")]
    FullUpgradeDiffers {
        /// What turns the walk's schema into the full upgrade's.
        changes: Vec<Change>,
    },
    /// A merge point builds another schema when another parent's branch is
    /// applied first.
    #[error(
        "merge revision `{id}` ({path}) builds another schema with `{first}`'s branch applied first than with `{reference}`'s"
    )]
    MergeOrder {
        /// The merge revision.
        id: String,
        /// Its file.
        path: String,
        /// The parent whose branch went first in the reference order.
        reference: String,
        /// The parent whose branch went first here.
        first: String,
        /// What turns the reference order's schema into this order's.
        changes: Vec<Change>,
    },
    /// A merge point does not upgrade when a parent's branch is applied first.
    #[error("merge revision `{id}` does not upgrade with `{first}`'s branch applied first: {error}")]
    MergeOrderFails {
        /// The merge revision.
        id: String,
        /// Its file.
        path: String,
        /// The parent whose branch went first.
        first: String,
        /// What failed.
        error: Box<Error>,
    },
    /// The models differ from the schema the history builds at its heads.
    #[error("the models differ from the schema the history builds at its heads")]
    ModelsDiffer {
        /// What turns the history's schema into the models'.
        changes: Vec<Change>,
    },
}

impl Failure {
    /// The revision it is about, where there is one.
    pub fn revision(&self) -> Option<&str> {
        match self {
            Failure::Upgrade { id, .. }
            | Failure::Downgrade { id, .. }
            | Failure::NotRestored { id, .. }
            | Failure::UpgradeAgain { id, .. }
            | Failure::UpgradedDifferently { id, .. }
            | Failure::MergeOrder { id, .. }
            | Failure::MergeOrderFails { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The file of that revision.
    pub fn path(&self) -> Option<&str> {
        match self {
            Failure::Upgrade { path, .. }
            | Failure::Downgrade { path, .. }
            | Failure::NotRestored { path, .. }
            | Failure::UpgradeAgain { path, .. }
            | Failure::UpgradedDifferently { path, .. }
            | Failure::MergeOrder { path, .. }
            | Failure::MergeOrderFails { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The schema differences it found (none for a failing statement).
    pub fn changes(&self) -> &[Change] {
        match self {
            Failure::NotRestored { changes, .. }
            | Failure::UpgradedDifferently { changes, .. }
            | Failure::FullUpgradeDiffers { changes }
            | Failure::MergeOrder { changes, .. }
            | Failure::ModelsDiffer { changes } => changes,
            _ => &[],
        }
    }

    /// The engine's error, for a failure that is one.
    pub fn error(&self) -> Option<&Error> {
        match self {
            Failure::Start { error, .. }
            | Failure::Upgrade { error, .. }
            | Failure::Downgrade { error, .. }
            | Failure::UpgradeAgain { error, .. }
            | Failure::FullUpgrade { error }
            | Failure::MergeOrderFails { error, .. } => Some(error),
            _ => None,
        }
    }

    /// A short name of the check that failed: `not-restored`, `merge-order`, ...
    pub fn check(&self) -> &'static str {
        match self {
            Failure::SeveralHeads { .. } => "several-heads",
            Failure::Start { .. } => "start",
            Failure::Upgrade { .. } => "upgrade",
            Failure::Downgrade { .. } => "downgrade",
            Failure::NotRestored { .. } => "not-restored",
            Failure::UpgradeAgain { .. } => "upgrade-again",
            Failure::UpgradedDifferently { .. } => "upgraded-differently",
            Failure::FullUpgrade { .. } => "full-upgrade",
            Failure::FullUpgradeDiffers { .. } => "full-upgrade-differs",
            Failure::MergeOrder { .. } => "merge-order",
            Failure::MergeOrderFails { .. } => "merge-order-fails",
            Failure::ModelsDiffer { .. } => "models-differ",
        }
    }

    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            Failure::SeveralHeads { .. } => {
                "join the heads with a merge revision, or allow several heads if the branches are meant to stay apart"
                    .into()
            }
            Failure::Start { from, .. } => {
                format!("the revisions up to {} must upgrade before what comes after them can be verified", from.join(", "))
            }
            Failure::Upgrade { .. } => "the up section must run on the schema the revisions before it build".into(),
            Failure::FullUpgrade { .. } => {
                "the revisions must upgrade an empty database in one run, as they do one at a time".into()
            }
            Failure::Downgrade { .. } => "the down section must run on the schema its up section leaves".into(),
            Failure::NotRestored { .. } => {
                "make the down section undo exactly what the up section does: drop what it creates, create again what it drops".into()
            }
            Failure::UpgradeAgain { .. } => {
                "the down section leaves something the up section cannot build again; make it undo exactly what the up section does".into()
            }
            Failure::UpgradedDifferently { .. } => {
                "the up section depends on something its down section changes; make the down section undo exactly what the up section does".into()
            }
            Failure::FullUpgradeDiffers { .. } => {
                "a revision builds another schema in one run than one at a time; look for statements that depend on what ran before them".into()
            }
            Failure::MergeOrder { .. } | Failure::MergeOrderFails { .. } => {
                "the merged branches touch the same objects; make one depend on the other (`depends-on`), or make the merge revision settle the difference".into()
            }
            Failure::ModelsDiffer { .. } => {
                "generate a revision for the difference, or bring the models up to date with the history".into()
            }
        }
    }
}

/// Progress of [`verify_observed`], as each check ends.
#[derive(Debug)]
#[non_exhaustive]
pub enum VerifyEvent<'a> {
    /// The walk is about to start: the revisions it will check, in order.
    Walking {
        /// Their ids.
        revisions: &'a [String],
        /// Where it starts ([`VerifyOptions::from`]); empty: base.
        from: &'a [String],
    },
    /// A revision of the walk was checked; when it failed, its
    /// [`VerifyEvent::Failure`] follows.
    Revision(&'a RevisionCheck),
    /// A merge point builds the same schema whichever parent's branch is
    /// applied first.
    Merge {
        /// The merge revision.
        id: &'a str,
        /// Its parents.
        parents: &'a [String],
    },
    /// A full upgrade from base ran, and built the schema the walk built.
    FullUpgrade {
        /// The heads it reached.
        heads: &'a [String],
        /// Whether it was compared with the walk's schema (not when the
        /// walk stopped before the heads).
        compared: bool,
    },
    /// The models equal the head schema.
    Models,
    /// A check failed.
    Failure(&'a Failure),
}

/// Verifies `migrator`'s history on scratch databases of `bench`: see the
/// [module](self). `Err` is a scratch database that could not be made or
/// read, or models that are not valid SQL; every finding about the history
/// is in the [`Verification`].
pub fn verify(bench: &Workbench, migrator: &Migrator, options: &VerifyOptions) -> Result<Verification, WorkbenchError> {
    verify_observed(bench, migrator, options, &mut |_| {})
}

/// [`verify`], telling `observer` about each check as it ends (a long
/// history on PostgreSQL takes a while).
pub fn verify_observed(
    bench: &Workbench,
    migrator: &Migrator,
    options: &VerifyOptions,
    observer: &mut dyn FnMut(VerifyEvent<'_>),
) -> Result<Verification, WorkbenchError> {
    let history = migrator.history();
    let mut report = Verification { heads: history.ids(&history.heads()), ..Verification::default() };
    if report.heads.len() > 1 && !options.allow_multiple_heads {
        let heads = report.heads.clone();
        record(&mut report, Failure::SeveralHeads { heads }, observer);
    }
    let start = match &options.from {
        Some(target) => history.resolve(target, &[]).map_err(|e| WorkbenchError::Replay(Box::new(e.into())))?,
        None => Vec::new(),
    };
    report.from = history.ids(&start);
    let below = history.ancestors(&start);
    let walk: Vec<usize> = (0..history.len()).filter(|&i| !below[i]).collect();

    let walker = Walker { bench, migrator, exclude: migrator.table(bench.dialect()).name };
    let end = walker.walk(&mut report, &walk, observer)?;
    let upgrades = |report: &Verification| {
        !report
            .failures
            .iter()
            .any(|f| matches!(f, Failure::Upgrade { .. } | Failure::Start { .. } | Failure::FullUpgrade { .. }))
    };
    if upgrades(&report) {
        walker.full_upgrade(&mut report, end, observer)?;
    }
    // A history that does not upgrade builds no merge point and no head schema.
    if upgrades(&report) {
        for &merge in walk.iter().filter(|&&i| history.is_merge_point(i)) {
            walker.merge(&mut report, merge, observer)?;
        }
        if let Some(models) = &options.models {
            report.models = true;
            let changes = bench.check_models(migrator, models)?;
            if changes.is_empty() {
                observer(VerifyEvent::Models);
            } else {
                record(&mut report, Failure::ModelsDiffer { changes }, observer);
            }
        }
    }
    Ok(report)
}

/// Tells `notify` about a failure and keeps it.
fn record(report: &mut Verification, failure: Failure, notify: &mut dyn FnMut(VerifyEvent<'_>)) {
    notify(VerifyEvent::Failure(&failure));
    report.failures.push(failure);
}

/// The walk's scratch database and where it ended: at the heads with its
/// schema, when every revision upgraded.
type End = Option<(Scratch, Schema)>;

struct Walker<'a> {
    bench: &'a Workbench,
    migrator: &'a Migrator,
    /// The version table, left out of every schema.
    exclude: String,
}

impl Walker<'_> {
    fn history(&self) -> &History {
        self.migrator.history()
    }

    fn read(&self, db: &mut dyn Database) -> Result<Schema, WorkbenchError> {
        self.bench.read_raw(db, &self.exclude)
    }

    /// Applies `revision` (everything before it is applied).
    fn up(&self, db: &mut dyn Database, revision: &Revision) -> Result<(), Box<Error>> {
        self.migrator.run_to(db, &Target::Revision(revision.id.clone())).map(drop).map_err(Box::new)
    }

    /// Upgrades one revision at a time: see the module.
    fn walk(
        &self,
        report: &mut Verification,
        walk: &[usize],
        notify: &mut dyn FnMut(VerifyEvent<'_>),
    ) -> Result<End, WorkbenchError> {
        let history = self.history();
        let ids = history.ids(walk);
        notify(VerifyEvent::Walking { revisions: &ids, from: &report.from });
        // The revision that failed is the last one recorded; the rest are not reached.
        let fail =
            |report: &mut Verification, failure: Failure, rest: &[usize], notify: &mut dyn FnMut(VerifyEvent<'_>)| {
                let check = report.revisions.last_mut().expect("the revision is recorded before it runs");
                check.checked = Checked::Failed;
                notify(VerifyEvent::Revision(check));
                record(report, failure, notify);
                report.not_reached = history.ids(rest);
            };
        let mut scratch = self.bench.scratch("verify")?;
        for id in &report.from {
            if let Err(error) = self.migrator.run_to(scratch.database(), &Target::Revision(id.clone())) {
                let failure = Failure::Start { from: report.from.clone(), error: Box::new(error) };
                record(report, failure, notify);
                report.not_reached = ids;
                return Ok(None);
            }
        }
        let mut before = self.read(scratch.database())?;
        let mut ended: Option<String> = None;
        for (n, &i) in walk.iter().enumerate() {
            let revision = history.revision(i);
            let (id, path) = (revision.id.clone(), revision.file.path.display().to_string());
            let rest = &walk[n + 1..];
            report.revisions.push(RevisionCheck {
                id: id.clone(),
                message: revision.message.clone(),
                path: path.clone(),
                checked: Checked::Restored,
            });
            let db = scratch.database();
            if let Err(error) = self.up(db, revision) {
                fail(report, Failure::Upgrade { id, path, error }, rest, notify);
                return Ok(None);
            }
            let checked = match &ended {
                // Recorded over the revisions it replaces: nothing ran, nothing to revert.
                _ if history.is_baseline(i) => Some(Checked::Baseline),
                Some(after) => Some(Checked::UpgradeOnly { after: after.clone() }),
                None if !revision.is_reversible() => {
                    ended = Some(id.clone());
                    Some(Checked::NoDownSection)
                }
                None => None,
            };
            if let Some(checked) = checked {
                let check = report.revisions.last_mut().expect("just pushed");
                check.checked = checked;
                notify(VerifyEvent::Revision(check));
                continue;
            }
            let upgraded = self.read(db)?;
            if let Err(error) = self.migrator.revert([id.as_str()]).apply(db) {
                fail(report, Failure::Downgrade { id, path, error: Box::new(error) }, rest, notify);
                return Ok(None);
            }
            let reverted = self.read(db)?;
            let changes = compare(db, &before, db_none(), &reverted);
            if !changes.is_empty() {
                fail(report, Failure::NotRestored { id, path, changes }, rest, notify);
                return Ok(None);
            }
            if let Err(error) = self.up(db, revision) {
                fail(report, Failure::UpgradeAgain { id, path, error }, rest, notify);
                return Ok(None);
            }
            let again = self.read(db)?;
            let changes = compare(db, &upgraded, db_none(), &again);
            if !changes.is_empty() {
                fail(report, Failure::UpgradedDifferently { id, path, changes }, rest, notify);
                return Ok(None);
            }
            before = again;
            notify(VerifyEvent::Revision(report.revisions.last().expect("just pushed")));
        }
        if ended.is_some() {
            // The revisions after it were only upgraded, never read.
            before = self.read(scratch.database())?;
        }
        Ok(Some((scratch, before)))
    }

    /// Upgrades an empty database to the heads in one run and compares it
    /// with where the walk ended.
    fn full_upgrade(
        &self,
        report: &mut Verification,
        end: End,
        notify: &mut dyn FnMut(VerifyEvent<'_>),
    ) -> Result<(), WorkbenchError> {
        report.full_upgrade = true;
        let mut scratch = self.bench.scratch("full")?;
        if let Err(error) = self.migrator.run_to(scratch.database(), &Target::Heads) {
            record(report, Failure::FullUpgrade { error: Box::new(error) }, notify);
            return Ok(());
        }
        let full = self.read(scratch.database())?;
        // A walk that stopped early is not at the heads: nothing to compare.
        let compared = end.is_some();
        if let Some((mut walked, schema)) = end {
            let changes = compare(walked.database(), &schema, Some(scratch.database()), &full);
            if !changes.is_empty() {
                record(report, Failure::FullUpgradeDiffers { changes }, notify);
                return Ok(());
            }
        }
        notify(VerifyEvent::FullUpgrade { heads: &report.heads, compared });
        Ok(())
    }

    /// Builds the merge point `merge` once per parent, that parent's branch
    /// applied first, and compares the schemas with the first order's.
    fn merge(
        &self,
        report: &mut Verification,
        merge: usize,
        notify: &mut dyn FnMut(VerifyEvent<'_>),
    ) -> Result<(), WorkbenchError> {
        let history = self.history();
        let revision = history.revision(merge);
        let (id, path) = (revision.id.clone(), revision.file.path.display().to_string());
        report.merges.push(id.clone());
        let parents = history.ids(history.parents(merge));
        let mut reference: Option<(Scratch, Schema)> = None;
        for (k, first) in parents.iter().enumerate() {
            let order: Vec<String> =
                std::iter::once(first).chain(parents.iter().filter(|p| *p != first)).chain([&id]).cloned().collect();
            let mut scratch = self.bench.scratch("merge")?;
            for target in order {
                if let Err(error) = self.migrator.run_to(scratch.database(), &Target::Revision(target)) {
                    let failure = Failure::MergeOrderFails { id, path, first: first.clone(), error: Box::new(error) };
                    record(report, failure, notify);
                    return Ok(());
                }
            }
            let schema = self.read(scratch.database())?;
            match &mut reference {
                None => reference = Some((scratch, schema)),
                Some((reference_db, reference_schema)) => {
                    let changes = compare(reference_db.database(), reference_schema, Some(scratch.database()), &schema);
                    if !changes.is_empty() {
                        let failure = Failure::MergeOrder {
                            id,
                            path,
                            reference: parents[0].clone(),
                            first: parents[k].clone(),
                            changes,
                        };
                        record(report, failure, notify);
                        return Ok(());
                    }
                }
            }
        }
        notify(VerifyEvent::Merge { id: &id, parents: &parents });
        Ok(())
    }
}

/// No second database: both schemas were read from the first.
fn db_none<'a>() -> Option<&'a mut dyn Database> {
    None
}

/// What turns `from` (read from `db`) into `to` (read from `other`, or from
/// `db` too): the schemas as the server printed them, and where those
/// differ on PostgreSQL, settled ([`settle`]), so that two texts the server
/// prints differently but reads alike compare equal. Settling adds and
/// drops probes, so it runs only when the printed forms differ; a schema
/// that cannot be settled on `db` (its tables are gone) keeps its printed form.
fn compare(db: &mut dyn Database, from: &Schema, other: Option<&mut dyn Database>, to: &Schema) -> Vec<Change> {
    let changes = diff(from, to);
    if changes.is_empty() || db.dialect() != Dialect::Postgres {
        return changes;
    }
    let mut settled_from = from.clone();
    if settle(db, &mut settled_from).is_err() {
        return changes;
    }
    let mut settled_to = to.clone();
    let settled = match other {
        Some(other) => settle(other, &mut settled_to),
        None => settle(db, &mut settled_to),
    };
    match settled {
        Ok(()) => diff(&settled_from, &settled_to),
        Err(_) => changes,
    }
}
