//! Alembic histories: what Alembic renders of each revision script
//! (`alembic upgrade --sql`, one revision at a time) turned into revisions
//! that keep Alembic's ids, `down_revision` (a merge's several parents),
//! `branch_labels` and `depends_on`. Pure: the caller runs Alembic (the
//! user's project, env.py and Python) and hands over each script with the
//! SQL it rendered or what it raised.
//!
//! ```
//! use migrate_history::Dialect;
//! use migrate_history::import::alembic::{Rendered, Script, convert};
//!
//! let script = Script {
//!     revision: "ae1027a6acf".into(),
//!     down_revisions: vec![],
//!     branch_labels: vec![],
//!     depends_on: vec![],
//!     message: "create users".into(),
//!     path: "alembic/versions/ae1027a6acf_create_users.py".into(),
//!     source: "def upgrade(): ...\n".into(),
//!     upgrade: Rendered::Sql { sql: "CREATE TABLE users (id INTEGER);\n\n".into(), commits: false },
//!     downgrade: Rendered::Sql { sql: "DROP TABLE users;\n\n".into(), commits: false },
//! };
//! let imported = convert(&[script], Dialect::Postgres).unwrap();
//! let (name, text) = &imported.render()[0];
//! assert_eq!(name, "ae1027a6acf_create_users.sql");
//! assert!(text.contains("-- imported-from: alembic ae1027a6acf\n"));
//! ```

use std::collections::BTreeMap;

use super::{FileReport, FileStatus, ImportError, Imported, ImportedRevision, Tool, outside_transaction, sanitise};
use crate::sql::{controls_transaction, split};
use crate::{Dialect, NeedsSql, is_valid_branch_label};

/// One Alembic revision script and what Alembic rendered of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Alembic's revision id.
    pub revision: String,
    /// Its `down_revision`: none for a base, several for a merge.
    pub down_revisions: Vec<String>,
    /// Its `branch_labels`.
    pub branch_labels: Vec<String>,
    /// Its `depends_on`, resolved to revision ids.
    pub depends_on: Vec<String>,
    /// The first paragraph of its docstring.
    pub message: String,
    /// The script's path, as the report shows it.
    pub path: String,
    /// The script's Python source, quoted in a revision that needs SQL.
    pub source: String,
    /// What `upgrade()` rendered.
    pub upgrade: Rendered,
    /// What `downgrade()` rendered.
    pub downgrade: Rendered,
}

/// What one of a script's functions rendered offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    /// The SQL it wrote, without Alembic's version-table bookkeeping.
    Sql {
        /// The statements, as Alembic wrote them.
        sql: String,
        /// It called `op.get_bind().commit()`: what follows runs outside
        /// the migration's transaction.
        commits: bool,
    },
    /// It raised.
    Raised {
        /// The exception, as `Type: message`.
        error: String,
        /// The script's line it was raised from (or passed through last).
        line: Option<usize>,
        /// It was raised by a `raise` statement of the script itself: a
        /// downgrade that refuses on purpose (an irreversible revision).
        on_purpose: bool,
    },
}

/// Converts an Alembic history. `scripts` come base first, each after its
/// parents and dependencies (as Alembic walks them, reversed).
pub fn convert(scripts: &[Script], dialect: Dialect) -> Result<Imported, ImportError> {
    if scripts.is_empty() {
        return Err(ImportError::Empty { tool: Tool::Alembic });
    }
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    let mut owners: BTreeMap<String, &Script> = BTreeMap::new();
    for script in scripts {
        let id = sanitise(&script.revision).ok_or_else(|| ImportError::InvalidVersion {
            path: script.path.clone(),
            version: script.revision.clone(),
        })?;
        if let Some(first) = owners.insert(id.clone(), script) {
            return Err(ImportError::DuplicateVersion { id, first: first.path.clone(), second: script.path.clone() });
        }
        ids.insert(&script.revision, id);
    }
    let mut revisions = Vec::with_capacity(scripts.len());
    let mut files = Vec::with_capacity(scripts.len());
    for script in scripts {
        let id = ids[script.revision.as_str()].clone();
        let known = |revision: &String, what: &str| {
            ids.get(revision.as_str()).cloned().ok_or_else(|| ImportError::Malformed {
                path: script.path.clone(),
                why: format!("{what} `{revision}` is not a revision of the history"),
            })
        };
        let parents = script.down_revisions.iter().map(|r| known(r, "down_revision")).collect::<Result<_, _>>()?;
        let depends_on = script.depends_on.iter().map(|r| known(r, "depends_on")).collect::<Result<_, _>>()?;
        if let Some(label) = script.branch_labels.iter().find(|l| !is_valid_branch_label(l)) {
            return Err(ImportError::Malformed {
                path: script.path.clone(),
                why: format!("branch label `{label}` cannot be a cargo-migrate branch label (`[a-z0-9_]`); rename it"),
            });
        }

        let mut notes = Vec::new();
        let mut review = false;
        let mut needs_sql = NeedsSql::default();
        let mut no_transaction = false;
        let mut section = |rendered: &Rendered, up: bool, notes: &mut Vec<String>| -> Option<String> {
            let function = if up { "upgrade" } else { "downgrade" };
            match rendered {
                Rendered::Sql { sql, commits } => {
                    let (sql, controls) = without_transaction_control(sql, dialect);
                    if *commits {
                        notes.push(format!("{function}() commits with `op.get_bind().commit()`: `transaction: false`"));
                        no_transaction = true;
                    } else if controls {
                        notes.push(format!(
                            "{function}() runs statements outside the transaction (`autocommit_block()`): `transaction: false`"
                        ));
                        no_transaction = true;
                    } else if let Some(word) = outside_transaction(&sql) {
                        notes.push(format!(
                            "{function}() holds `{word}`, which cannot run in a transaction: `transaction: false`; review"
                        ));
                        no_transaction = true;
                        review = true;
                    }
                    Some(sql)
                }
                Rendered::Raised { on_purpose: true, error, .. } if !up => {
                    notes.push(format!("downgrade() raises on purpose ({error}): the revision is irreversible"));
                    None
                }
                Rendered::Raised { error, line, .. } => {
                    let at = line.map(|l| format!("{}:{l}", script.path)).unwrap_or_else(|| script.path.clone());
                    notes.push(format!(
                        "{function}() cannot render offline ({error}, {at}): `needs-sql: {}`; write its SQL by hand",
                        if up { "up" } else { "down" }
                    ));
                    review = true;
                    if up {
                        needs_sql.up = true
                    } else {
                        needs_sql.down = true
                    }
                    Some(format!("-- TODO: the SQL of {function}() (see the comment above the up section)\n"))
                }
            }
        };
        let up = section(&script.upgrade, true, &mut notes).unwrap_or_default();
        let down = section(&script.downgrade, false, &mut notes);
        let preamble = if needs_sql.is_empty() { Vec::new() } else { quoted(script, needs_sql) };
        files.push(FileReport {
            path: script.path.clone(),
            revision: Some(id.clone()),
            status: if review { FileStatus::NeedsReview } else { FileStatus::Converted },
            notes,
        });
        revisions.push(ImportedRevision {
            id,
            version: script.revision.clone(),
            message: if script.message.trim().is_empty() { script.revision.clone() } else { script.message.clone() },
            parents,
            branch_labels: script.branch_labels.clone(),
            depends_on,
            up,
            down,
            no_transaction,
            needs_sql,
            preamble,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Imported { tool: Tool::Alembic, revisions, files })
}

/// `sql` without the statements that end or start a transaction (what
/// Alembic's `autocommit_block()` writes), and whether it had any.
fn without_transaction_control(sql: &str, dialect: Dialect) -> (String, bool) {
    let Ok(statements) = split(sql, dialect) else { return (sql.to_owned(), false) };
    let control: Vec<_> = statements.iter().filter(|st| controls_transaction(st.text, dialect)).collect();
    if control.is_empty() {
        return (sql.to_owned(), false);
    }
    let kept: Vec<String> = statements
        .iter()
        .filter(|st| !controls_transaction(st.text, dialect))
        .map(|st| format!("{};\n", st.text))
        .collect();
    (kept.join("\n"), true)
}

/// The comment above the up section of a revision that needs SQL: what to
/// do, and the script's source, each line behind `-- | `.
fn quoted(script: &Script, needs: NeedsSql) -> Vec<String> {
    let sections = match (needs.up, needs.down) {
        (true, true) => "up and down sections",
        (true, false) => "up section",
        _ => "down section",
    };
    let mut lines = vec![
        format!("-- TODO: Alembic could not render this revision offline. Write its {sections} from the Python"),
        format!(
            "-- below, then remove `{}` from the `needs-sql` header line and pin the file with",
            needs.header_value()
        ),
        "-- `cargo migrate lock`. Until then `upgrade` stops before this revision.".to_owned(),
        "--".to_owned(),
        format!("-- {}:", script.path),
    ];
    for line in script.source.lines() {
        let line: String = line.chars().map(|c| if c.is_control() && c != '\t' { ' ' } else { c }).collect();
        lines.push(format!("-- | {line}").trim_end().to_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(revision: &str, parents: &[&str], upgrade: Rendered, downgrade: Rendered) -> Script {
        Script {
            revision: revision.into(),
            down_revisions: parents.iter().map(|p| p.to_string()).collect(),
            branch_labels: vec![],
            depends_on: vec![],
            message: format!("make {revision}"),
            path: format!("alembic/versions/{revision}.py"),
            source: "def upgrade():\n    conn = op.get_bind()\n".into(),
            upgrade,
            downgrade,
        }
    }

    fn sql(text: &str) -> Rendered {
        Rendered::Sql { sql: text.into(), commits: false }
    }

    fn texts(imported: &Imported) -> Vec<String> {
        imported.render().into_iter().map(|(name, text)| format!("{name}\n{text}")).collect()
    }

    #[test]
    fn a_merge_keeps_its_parents_labels_and_dependencies() {
        let mut billing =
            script("b2", &["a1"], sql("CREATE TABLE invoices (id INT);\n\n"), sql("DROP TABLE invoices;\n\n"));
        billing.branch_labels = vec!["billing".into()];
        let mut merge = script("m4", &["a1", "b2"], sql(""), sql(""));
        merge.depends_on = vec!["b2".into()];
        let imported = convert(
            &[script("a1", &[], sql("CREATE TABLE a (id INT);\n\n"), sql("DROP TABLE a;\n\n")), billing, merge],
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(
            texts(&imported),
            [
                "a1_make_a1.sql\n-- revision: a1\n-- parents: \n-- message: make a1\n-- imported-from: alembic a1\n\n-- migrate:up\nCREATE TABLE a (id INT);\n\n-- migrate:down\nDROP TABLE a;\n",
                "b2_make_b2.sql\n-- revision: b2\n-- parents: a1\n-- message: make b2\n-- branch-labels: billing\n-- imported-from: alembic b2\n\n-- migrate:up\nCREATE TABLE invoices (id INT);\n\n-- migrate:down\nDROP TABLE invoices;\n",
                "m4_make_m4.sql\n-- revision: m4\n-- parents: a1, b2\n-- message: make m4\n-- depends-on: b2\n-- imported-from: alembic m4\n\n-- migrate:up\n\n-- migrate:down\n",
            ]
        );
        assert!(imported.files.iter().all(|f| f.status == FileStatus::Converted && f.notes.is_empty()));
    }

    #[test]
    fn a_revision_that_cannot_render_needs_sql_and_quotes_its_python() {
        let raised = Rendered::Raised {
            error: "AttributeError: 'NoneType' object has no attribute 'fetchall'".into(),
            line: Some(2),
            on_purpose: false,
        };
        let imported = convert(&[script("a1", &[], raised, sql("DELETE FROM a;\n\n"))], Dialect::Postgres).unwrap();
        assert_eq!(
            texts(&imported),
            [
                "a1_make_a1.sql\n-- revision: a1\n-- parents: \n-- message: make a1\n-- imported-from: alembic a1\n-- needs-sql: up\n\n\
              -- TODO: Alembic could not render this revision offline. Write its up section from the Python\n\
              -- below, then remove `up` from the `needs-sql` header line and pin the file with\n\
              -- `cargo migrate lock`. Until then `upgrade` stops before this revision.\n--\n\
              -- alembic/versions/a1.py:\n-- | def upgrade():\n-- |     conn = op.get_bind()\n\n\
              -- migrate:up\n-- TODO: the SQL of upgrade() (see the comment above the up section)\n\n\
              -- migrate:down\nDELETE FROM a;\n"
            ]
        );
        assert_eq!(imported.files[0].status, FileStatus::NeedsReview);
        assert_eq!(
            imported.files[0].notes,
            [
                "upgrade() cannot render offline (AttributeError: 'NoneType' object has no attribute 'fetchall', alembic/versions/a1.py:2): `needs-sql: up`; write its SQL by hand"
            ]
        );
        let (name, text) = &imported.render()[0];
        let rev = crate::parse_revision(crate::SourceFile::new(format!("m/{name}"), text.as_str())).unwrap();
        assert_eq!(rev.needs_sql, NeedsSql { up: true, down: false });
    }

    #[test]
    fn a_downgrade_that_raises_on_purpose_is_irreversible() {
        let raised =
            Rendered::Raised { error: "NotImplementedError: no way back".into(), line: Some(9), on_purpose: true };
        let imported = convert(&[script("a1", &[], sql("DROP TABLE old;\n\n"), raised)], Dialect::Postgres).unwrap();
        assert_eq!(imported.revisions[0].down, None);
        assert!(imported.revisions[0].needs_sql.is_empty());
        assert_eq!(
            imported.files[0].notes,
            ["downgrade() raises on purpose (NotImplementedError: no way back): the revision is irreversible"]
        );
    }

    #[test]
    fn a_commit_or_an_autocommit_block_makes_a_revision_outside_a_transaction() {
        let committing = Rendered::Sql { sql: "CREATE INDEX CONCURRENTLY ix ON a (x);\n\n".into(), commits: true };
        let autocommit = sql("COMMIT;\n\nALTER TYPE mood ADD VALUE 'meh';\n\nBEGIN;\n\n");
        let imported = convert(
            &[
                script("a1", &[], committing, sql("DROP INDEX CONCURRENTLY ix;\n\n")),
                script("b2", &["a1"], autocommit, sql("")),
            ],
            Dialect::Postgres,
        )
        .unwrap();
        assert!(imported.revisions.iter().all(|r| r.no_transaction));
        assert_eq!(imported.revisions[1].up, "ALTER TYPE mood ADD VALUE 'meh';\n");
        assert_eq!(
            imported.files.iter().map(|f| f.notes.join(" | ")).collect::<Vec<_>>(),
            [
                "upgrade() commits with `op.get_bind().commit()`: `transaction: false` | downgrade() holds `CONCURRENTLY`, which cannot run in a transaction: `transaction: false`; review",
                "upgrade() runs statements outside the transaction (`autocommit_block()`): `transaction: false`",
            ]
        );
    }

    #[test]
    fn a_parent_outside_the_history_is_an_error() {
        let error = convert(&[script("b2", &["a1"], sql(""), sql(""))], Dialect::Postgres).unwrap_err();
        assert_eq!(error.to_string(), "`alembic/versions/b2.py`: down_revision `a1` is not a revision of the history");
    }
}
