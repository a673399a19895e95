//! `cargo migrate lint` and the lint half of `check`: squawk's PostgreSQL
//! rules on each revision's up section, told whether the revision runs in a
//! transaction, and our own rules that need the history: what a table's
//! creating revision was and whether a release has it, whether the down
//! section can bring back what the up section destroys, and what SQLite's
//! `ALTER TABLE` lacks. Every finding is a [`Diagnostic`] with its rule,
//! span, statement, why and safe alternative.

pub mod rules;
mod statement;

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use migrate_history::config::LintConfig;
use migrate_history::{Diagnostic, Dialect, History, LockFile, Problem, Revision, Severity, Span};

use self::rules::{
    CONCURRENTLY_IN_TRANSACTION, IRREVERSIBLE_DATA_LOSS, LOCK_ON_RELEASED_TABLE, MYSQL_SEVERAL_SCHEMA_CHANGES,
    SEVERAL_STATEMENTS_WITHOUT_TRANSACTION, SQLITE_UNSUPPORTED_ALTER,
};
use self::statement::{Facts, LockKind};

/// What to lint and how.
#[derive(Debug)]
pub struct Options<'a> {
    pub dialect: Dialect,
    pub config: &'a LintConfig,
    /// Where the configuration was read from, for problems in it.
    pub config_path: &'a Path,
}

/// The findings, and how many were allowed.
#[derive(Debug, Default)]
pub struct Outcome {
    pub diagnostics: Vec<Diagnostic>,
    /// Findings a revision's `allow` line left out.
    pub allowed: usize,
}

/// One statement of a section: where it starts in the file, its text and its facts.
struct Parsed<'a> {
    offset: usize,
    text: &'a str,
    facts: Facts,
}

/// A finding before its severity is known.
struct Finding {
    rule: String,
    range: Range<usize>,
    message: String,
    help: String,
    statement: String,
}

/// Lints the revisions at `selected` (history positions) of `history`; the
/// others are read for what they create.
pub fn lint(history: &History, lock: &LockFile, selected: &[usize], options: &Options<'_>) -> Outcome {
    let mut outcome = Outcome::default();
    let config = Checked::new(options, &mut outcome.diagnostics);
    let postgres_major = config.postgres_major;
    let parsed: Vec<Option<Vec<Parsed<'_>>>> = history
        .revisions()
        .iter()
        .map(|rev| section(rev.up_sql(), rev.up.range.start, options, postgres_major))
        .collect();
    let (released, origins) = (released(history, lock), origins(&parsed));
    for &index in selected {
        let rev = history.revision(index);
        let context = Context { history, released: &released, origins: &origins, ancestors: Default::default() };
        let mut findings = Vec::new();
        if let Some(statements) = &parsed[index] {
            context.own_rules(index, statements, options, &mut findings);
            if options.dialect == Dialect::Postgres {
                context.squawk(index, statements, &config, &mut findings);
            }
        }
        let (diagnostics, allowed) = config.judge(rev, lock.is_pinned(&rev.id), findings);
        outcome.diagnostics.extend(diagnostics);
        outcome.allowed += allowed;
    }
    migrate_history::sort_diagnostics(&mut outcome.diagnostics);
    outcome
}

/// A section split into statements, each read; `None` when it does not
/// split (SQL left open, which every run refuses with its line anyway).
fn section<'a>(sql: &'a str, start: usize, options: &Options<'_>, postgres_major: u32) -> Option<Vec<Parsed<'a>>> {
    let statements = migrate_history::sql::split(sql, options.dialect).ok()?;
    Some(
        statements
            .into_iter()
            .map(|s| Parsed { offset: start + s.offset, text: s.text, facts: statement::facts(s.text, postgres_major) })
            .collect(),
    )
}

/// Whether each revision is released: in a release tag's history when
/// `releases.toml` tags any, else pinned in migrate.lock (the record of
/// what was released), with the tag that released it first.
fn released(history: &History, lock: &LockFile) -> Vec<Option<Released>> {
    // Each tag with what it has, the smallest release (the first that had a revision) first.
    let mut tags: Vec<(usize, &str, Vec<bool>)> = history
        .tags()
        .map(|(name, heads)| {
            let has = history.ancestors(heads);
            (has.iter().filter(|h| **h).count(), name, has)
        })
        .collect();
    tags.sort();
    (0..history.len())
        .map(|i| {
            if tags.is_empty() {
                return lock.is_pinned(&history.revision(i).id).then_some(Released::Pinned);
            }
            tags.iter().find(|(_, _, has)| has[i]).map(|(_, name, _)| Released::Tag((*name).to_owned()))
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Released {
    Tag(String),
    Pinned,
}

/// For each table, the revisions whose up section creates it (or renames a
/// table to it, inheriting that table's creators), in history order.
fn origins(parsed: &[Option<Vec<Parsed<'_>>>]) -> HashMap<String, Vec<usize>> {
    let mut origins: HashMap<String, Vec<usize>> = HashMap::new();
    for (index, statements) in parsed.iter().enumerate() {
        for facts in statements.iter().flatten().map(|p| &p.facts) {
            for table in &facts.creates {
                origins.entry(table.clone()).or_default().push(index);
            }
            for (old, new) in &facts.renames {
                let mut from = origins.get(old).cloned().unwrap_or_default();
                from.push(index);
                origins.entry(new.clone()).or_default().extend(from);
            }
        }
    }
    origins
}

/// Where a table a statement works on comes from.
enum Origin<'a> {
    /// An earlier statement of the same revision creates it.
    SameRevision,
    /// An earlier revision no release has: no production rows yet.
    Unreleased,
    /// An earlier, released revision.
    Released(&'a Revision, &'a Released),
    /// Nothing in the history creates it.
    Unknown,
}

struct Context<'a> {
    history: &'a History,
    released: &'a [Option<Released>],
    origins: &'a HashMap<String, Vec<usize>>,
    /// The ancestors of the revision being linted, when asked for.
    ancestors: std::cell::OnceCell<(usize, Vec<bool>)>,
}

impl Context<'_> {
    fn origin(&self, index: usize, table: &str, here: &HashSet<String>) -> Origin<'_> {
        if here.contains(table) {
            return Origin::SameRevision;
        }
        let Some(creators) = self.origins.get(table) else { return Origin::Unknown };
        let (of, ancestors) = self.ancestors.get_or_init(|| (index, self.history.ancestors(&[index])));
        debug_assert_eq!(*of, index, "a Context serves one revision");
        let earlier: Vec<usize> = creators.iter().copied().filter(|&c| c != index && ancestors[c]).collect();
        if earlier.is_empty() {
            return Origin::Unknown;
        }
        match earlier.iter().find_map(|&c| self.released[c].as_ref().map(|r| (c, r))) {
            Some((c, released)) => Origin::Released(self.history.revision(c), released),
            None => Origin::Unreleased,
        }
    }

    /// The tables each statement can see as created by the same revision.
    fn created_before(statements: &[Parsed<'_>]) -> Vec<HashSet<String>> {
        let mut here = HashSet::new();
        statements
            .iter()
            .map(|p| {
                let before = here.clone();
                here.extend(p.facts.creates.iter().cloned());
                for (old, new) in &p.facts.renames {
                    if here.contains(old) {
                        here.insert(new.clone());
                    }
                }
                before
            })
            .collect()
    }

    fn own_rules(&self, index: usize, statements: &[Parsed<'_>], options: &Options<'_>, findings: &mut Vec<Finding>) {
        let rev = self.history.revision(index);
        let here = Self::created_before(statements);
        // Whether the down section writes rows back; `None` without a down section.
        let down_restores = rev
            .down
            .as_ref()
            .map(|down| self.parsed_down(rev, down.range.start, options).iter().any(|p| p.facts.writes_rows));
        let at = |p: &Parsed<'_>, range: &Range<usize>| p.offset + range.start..p.offset + range.end;
        let changing: Vec<&Parsed<'_>> = statements.iter().filter(|p| !p.facts.session_only).collect();
        // MySQL commits each schema change on its own, whatever the header says.
        let schema_changes: Vec<&Parsed<'_>> = match options.dialect {
            Dialect::Mysql => statements.iter().filter(|p| migrate_history::sql::commits_implicitly(p.text)).collect(),
            _ => Vec::new(),
        };
        if let [_, second, ..] = schema_changes.as_slice() {
            findings.push(Finding {
                rule: MYSQL_SEVERAL_SCHEMA_CHANGES.into(),
                range: second.offset..second.offset + second.text.len(),
                message: format!(
                    "this revision has {} schema changes, and MySQL commits each one on its own (the revision is never atomic there): when one fails, those before it stay applied, and the revision waits, marked failed, for an operator to finish or undo them by hand",
                    schema_changes.len()
                ),
                help: "give each schema change a revision of its own (the data changes that belong to it may stay with it)".into(),
                statement: second.text.to_owned(),
            });
        } else if !rev.transaction && changing.len() > 1 {
            let second = changing[1];
            findings.push(Finding {
                rule: SEVERAL_STATEMENTS_WITHOUT_TRANSACTION.into(),
                range: second.offset..second.offset + second.text.len(),
                message: format!(
                    "this revision runs outside a transaction (`transaction: false`) and has {} statements that change the database: when one fails, those before it stay applied, and the revision waits, marked failed, for an operator to finish or undo them by hand",
                    changing.len()
                ),
                help: "give each statement that must run outside a transaction (such as `CREATE INDEX CONCURRENTLY`) a revision of its own, and put the others in a revision that runs in a transaction".into(),
                statement: second.text.to_owned(),
            });
        }
        for (p, here) in statements.iter().zip(&here) {
            let facts = &p.facts;
            if let (Some(range), true, Dialect::Postgres) = (&facts.concurrently, rev.transaction, options.dialect) {
                findings.push(Finding {
                    rule: CONCURRENTLY_IN_TRANSACTION.into(),
                    range: at(p, range),
                    message: "`CONCURRENTLY` cannot run inside a transaction, and this revision runs in one (its header has no `transaction: false`): PostgreSQL refuses the statement and the revision fails".into(),
                    help: "move the statement into a revision of its own whose header says `-- transaction: false`".into(),
                    statement: p.text.to_owned(),
                });
            }
            for destroy in &facts.destroys {
                if matches!(self.origin(index, &destroy.table, here), Origin::SameRevision | Origin::Unreleased) {
                    continue;
                }
                let message = match down_restores {
                    None => format!(
                        "this statement {}, and the revision has no down section: once it is applied, there is no way back but a backup",
                        destroy.what
                    ),
                    Some(true) => continue,
                    Some(false) if destroy.type_change => format!(
                        "this statement {}: values the new type cannot hold exactly are changed for good, and the down section changes the type back without them",
                        destroy.what
                    ),
                    Some(false) => format!(
                        "this statement {}; the down section can put back the structure, but not the data",
                        destroy.what
                    ),
                };
                findings.push(Finding {
                    rule: IRREVERSIBLE_DATA_LOSS.into(),
                    range: at(p, &destroy.range),
                    message,
                    help: "keep what it destroys: copy it first (such as `CREATE TABLE ... AS SELECT ...`) and write it back in the down section, or stop using it in one release and remove it in a later one; if the data is meant to go, say so: `-- allow: irreversible-data-loss because ...`".into(),
                    statement: p.text.to_owned(),
                });
            }
            if options.dialect == Dialect::Postgres {
                for lock in &facts.locks {
                    if let Origin::Released(creator, released) = self.origin(index, &lock.table, here) {
                        findings.push(Finding {
                            rule: LOCK_ON_RELEASED_TABLE.into(),
                            range: at(p, &lock.range),
                            message: format!(
                                "{}; `{}` was created by revision `{}`, {}, so it may hold many rows in production",
                                lock_effect(lock.kind, &lock.table),
                                lock.table,
                                creator.id,
                                match released {
                                    Released::Tag(tag) => format!("which release {tag} has"),
                                    Released::Pinned =>
                                        "which is pinned in migrate.lock (the record of what was released)".into(),
                                }
                            ),
                            help: lock_alternative(lock.kind, rev.transaction),
                            statement: p.text.to_owned(),
                        });
                    }
                }
            }
            if options.dialect == Dialect::Sqlite {
                for (range, what) in &facts.sqlite_unsupported {
                    findings.push(Finding {
                        rule: SQLITE_UNSUPPORTED_ALTER.into(),
                        range: at(p, range),
                        message: format!("{what}: the statement fails on SQLite"),
                        help: "rebuild the table as SQLite documents it (https://www.sqlite.org/lang_altertable.html#otheralter): `PRAGMA foreign_keys = OFF`, create the new table, copy the rows, drop the old table and rename the new one; `cargo migrate generate` writes such a rebuild from the models".into(),
                        statement: p.text.to_owned(),
                    });
                }
            }
        }
    }

    fn parsed_down<'r>(&self, rev: &'r Revision, start: usize, options: &Options<'_>) -> Vec<Parsed<'r>> {
        let sql = rev.down_sql().unwrap_or_default();
        section(sql, start, options, u32::MAX).unwrap_or_default()
    }

    /// squawk's findings on the up section, those about a table without
    /// production rows left out.
    fn squawk(&self, index: usize, statements: &[Parsed<'_>], config: &Checked, findings: &mut Vec<Finding>) {
        let rev = self.history.revision(index);
        let sql = rev.up_sql();
        let start = rev.up.range.start;
        let mut linter = squawk_linter::Linter::with_rules(&config.include, &config.exclude);
        linter.settings.pg_version = config.postgres_version;
        linter.settings.assume_in_transaction = rev.transaction;
        let violations = linter.lint(&squawk_syntax::SourceFile::parse(sql), sql);
        let here = Self::created_before(statements);
        let locked: HashSet<usize> =
            findings.iter().filter(|f| f.rule == LOCK_ON_RELEASED_TABLE).map(|f| f.range.start).collect();
        for violation in violations {
            let range =
                start + usize::from(violation.text_range.start())..start + usize::from(violation.text_range.end());
            let position = statements.iter().rposition(|p| p.offset <= range.start);
            let statement = position.map(|i| &statements[i]);
            if let (Some(i), Some(table)) = (position, statement.and_then(|p| p.facts.table.as_deref())) {
                let about_tables = rules::ABOUT_EXISTING_TABLES.contains(&violation.code);
                match self.origin(index, table, &here[i]) {
                    Origin::SameRevision | Origin::Unreleased if about_tables => continue,
                    // The history's rule says it, with the table's creator.
                    Origin::Released(..)
                        if rules::ABOUT_LOCKS.contains(&violation.code)
                            && locked.iter().any(|&at| within(statements, i, at)) =>
                    {
                        continue;
                    }
                    _ => {}
                }
            }
            let rule = violation.code.to_string();
            let help = match violation.help {
                Some(help) if rev.transaction && rules::SUGGEST_CONCURRENTLY.contains(&violation.code) => format!(
                    "in a revision of its own whose header says `-- transaction: false` (this revision runs in a transaction, where PostgreSQL refuses `CONCURRENTLY`): {help}"
                ),
                Some(help) => help,
                None => rules::fallback_help(&rule),
            };
            findings.push(Finding {
                rule,
                range,
                message: violation.message,
                help,
                statement: statement.map_or_else(String::new, |p| p.text.to_owned()),
            });
        }
    }
}

/// Whether byte `at` of the file lies in statement `i`.
fn within(statements: &[Parsed<'_>], i: usize, at: usize) -> bool {
    let p = &statements[i];
    (p.offset..p.offset + p.text.len()).contains(&at)
}

/// What the lock does to the table.
fn lock_effect(kind: LockKind, table: &str) -> String {
    match kind {
        LockKind::IndexBuild => format!(
            "`CREATE INDEX` without `CONCURRENTLY` holds a SHARE lock on `{table}` while it builds the index: every write to it waits"
        ),
        LockKind::TypeChange => {
            format!(
                "changing a column's type rewrites `{table}` under an ACCESS EXCLUSIVE lock: every read and write waits"
            )
        }
        LockKind::SetNotNull => {
            format!("`SET NOT NULL` scans `{table}` under an ACCESS EXCLUSIVE lock: every read and write waits")
        }
        LockKind::Validation { foreign_key: true } => format!(
            "adding a foreign key without `NOT VALID` checks every row of `{table}` under a SHARE ROW EXCLUSIVE lock: every write waits"
        ),
        LockKind::Validation { foreign_key: false } => format!(
            "adding a check without `NOT VALID` scans `{table}` under an ACCESS EXCLUSIVE lock: every read and write waits"
        ),
        LockKind::IndexConstraint => format!(
            "adding a primary key, unique or exclusion constraint builds its index under an ACCESS EXCLUSIVE lock on `{table}`: every read and write waits"
        ),
        LockKind::RewritingColumn => format!(
            "the new column's value is computed for each row (a volatile default, a serial, an identity or a stored generated column), so `{table}` is rewritten under an ACCESS EXCLUSIVE lock"
        ),
        LockKind::Rewrite => {
            format!("this rewrites `{table}` under an ACCESS EXCLUSIVE lock: every read and write waits")
        }
        LockKind::Reindex => format!(
            "`REINDEX` without `CONCURRENTLY` blocks writes to `{table}`, and reads that use its indexes, while it rebuilds them"
        ),
    }
}

/// The safe way to do it; `CONCURRENTLY` only in a revision without a transaction.
fn lock_alternative(kind: LockKind, transaction: bool) -> String {
    const OWN_REVISION: &str = "in a revision of its own whose header says `-- transaction: false` (`CONCURRENTLY` cannot run in this revision's transaction)";
    match (kind, transaction) {
        (LockKind::IndexBuild, true) => format!("build the index with `CREATE INDEX CONCURRENTLY` {OWN_REVISION}"),
        (LockKind::IndexBuild, false) => "write `CREATE INDEX CONCURRENTLY`".into(),
        (LockKind::TypeChange, _) => "add a column of the new type, backfill it in batches, move the application over, then drop the old column in a later revision".into(),
        (LockKind::SetNotNull, _) => "add `CHECK (column IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it in a later revision, then `SET NOT NULL`, which PostgreSQL 12 and later prove from the valid check without a scan".into(),
        (LockKind::Validation { .. }, _) => "add it with `NOT VALID` (only new rows are checked), then `VALIDATE CONSTRAINT` in a later revision, which lets reads and writes go on".into(),
        (LockKind::IndexConstraint, true) => format!(
            "build a unique index with `CREATE UNIQUE INDEX CONCURRENTLY` {OWN_REVISION}, then add the constraint `USING INDEX` in a later revision"
        ),
        (LockKind::IndexConstraint, false) => "build the index with `CREATE UNIQUE INDEX CONCURRENTLY` first, then add the constraint `USING INDEX`".into(),
        (LockKind::RewritingColumn, _) => "add the column without the computed default, set the default in a second statement (it applies to new rows only), and fill existing rows in batches".into(),
        (LockKind::Rewrite, _) => "avoid rewriting a table in use; pg_repack rebuilds a table without the long lock".into(),
        (LockKind::Reindex, true) => format!("write `REINDEX ... CONCURRENTLY` {OWN_REVISION}"),
        (LockKind::Reindex, false) => "write `REINDEX ... CONCURRENTLY`".into(),
    }
}

/// The configuration, its rule names checked.
struct Checked {
    /// squawk's opt-in rules that `warn` or `deny` turn on.
    include: Vec<squawk_linter::Rule>,
    /// squawk's rules that `allow` turns off, and those ours replace.
    exclude: Vec<squawk_linter::Rule>,
    postgres_version: squawk_linter::Version,
    postgres_major: u32,
    allow: HashSet<String>,
    warn: HashSet<String>,
    deny: HashSet<String>,
}

impl Checked {
    fn new(options: &Options<'_>, diagnostics: &mut Vec<Diagnostic>) -> Checked {
        let config = options.config;
        let known = rules::names();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let mut canonical = |names: &[String]| -> HashSet<String> {
            let mut set = HashSet::new();
            for name in names {
                match rules::canonical(name) {
                    Some(rule) => {
                        set.insert(rule);
                    }
                    None => diagnostics.push(Diagnostic::error(
                        options.config_path,
                        None,
                        Problem::UnknownLintRule {
                            rule: name.clone(),
                            suggestion: migrate_history::did_you_mean(name, &known).map(str::to_owned),
                        },
                    )),
                }
            }
            set
        };
        let (allow, warn, deny) = (canonical(&config.allow), canonical(&config.warn), canonical(&config.deny));
        let squawk = |names: &HashSet<String>| -> Vec<squawk_linter::Rule> {
            names.iter().filter_map(|n| squawk_linter::Rule::from_str(n).ok()).collect()
        };
        let include = squawk(&warn).into_iter().chain(squawk(&deny)).collect();
        let mut exclude = squawk(&allow);
        exclude.extend(rules::enum_names().into_iter().map(|(rule, _)| rule).filter(|&rule| !rules::runs(rule)));
        let version = config.postgres_version.as_deref().unwrap_or("15");
        Checked {
            include,
            exclude,
            postgres_version: squawk_linter::Version::from_str(version).unwrap_or_default(),
            postgres_major: version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(15),
            allow,
            warn,
            deny,
        }
    }

    /// The findings of a revision as diagnostics: those of rules the
    /// configuration allows left out, those its `allow` lines allow left
    /// out and counted, unknown rule names in `allow` lines reported, the
    /// rest errors or warnings.
    fn judge(&self, rev: &Revision, pinned: bool, findings: Vec<Finding>) -> (Vec<Diagnostic>, usize) {
        let known = rules::names();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let text = rev.file.text.as_str();
        let mut diagnostics = Vec::new();
        let mut allowed_here = HashSet::new();
        for allow in &rev.allow {
            match rules::canonical(&allow.rule) {
                Some(rule) => {
                    allowed_here.insert(rule);
                }
                None => {
                    let problem = Problem::UnknownLintRule {
                        rule: allow.rule.clone(),
                        suggestion: migrate_history::did_you_mean(&allow.rule, &known).map(str::to_owned),
                    };
                    let span = Span::new(text, allow.rule_range.clone());
                    diagnostics.push(Diagnostic::error(&rev.file.path, Some(allow.line), problem).with_span(span));
                }
            }
        }
        let mut allowed = 0;
        for finding in findings {
            // A rule the configuration allows is off.
            if self.allow.contains(&finding.rule) {
                continue;
            }
            if allowed_here.contains(&finding.rule) {
                allowed += 1;
                continue;
            }
            let fails = rules::OWN.iter().any(|r| r.name == finding.rule && r.fails);
            let severity = if self.deny.contains(&finding.rule) {
                Severity::Error
            } else if self.warn.contains(&finding.rule) {
                Severity::Warning
            } else if fails || !pinned {
                Severity::Error
            } else {
                Severity::Warning
            };
            let problem = Problem::Lint {
                rule: finding.rule,
                message: finding.message,
                help: finding.help,
                statement: finding.statement,
            };
            let mut diagnostic =
                Diagnostic::error(&rev.file.path, None, problem).with_span(Span::new(text, finding.range));
            diagnostic.severity = severity;
            diagnostics.push(diagnostic);
        }
        (diagnostics, allowed)
    }
}
