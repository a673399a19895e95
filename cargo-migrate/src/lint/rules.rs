//! The rules: our own history-aware ones and squawk's, their names, and the
//! safe alternative for squawk's rules that do not give one.

use std::str::FromStr;

use squawk_linter::Rule;

/// `CONCURRENTLY` inside a revision that runs in a transaction.
pub const CONCURRENTLY_IN_TRANSACTION: &str = "concurrently-in-transaction";
/// A destructive change the down section cannot undo.
pub const IRREVERSIBLE_DATA_LOSS: &str = "irreversible-data-loss";
/// A `transaction: false` revision with several statements.
pub const SEVERAL_STATEMENTS_WITHOUT_TRANSACTION: &str = "several-statements-without-transaction";
/// A long lock on a table that a released revision created.
pub const LOCK_ON_RELEASED_TABLE: &str = "lock-on-released-table";
/// An `ALTER TABLE` form SQLite does not have.
pub const SQLITE_UNSUPPORTED_ALTER: &str = "sqlite-unsupported-alter";
/// A MySQL revision with several schema changes, each committed on its own.
pub const MYSQL_SEVERAL_SCHEMA_CHANGES: &str = "mysql-several-schema-changes";

/// One of our own rules.
#[derive(Debug)]
pub struct Own {
    pub name: &'static str,
    /// The statement fails when it runs: an error in pinned revisions too.
    pub fails: bool,
    /// `PostgreSQL`, `SQLite` or both.
    pub dialects: &'static str,
    pub summary: &'static str,
}

pub const OWN: [Own; 6] = [
    Own {
        name: CONCURRENTLY_IN_TRANSACTION,
        fails: true,
        dialects: "PostgreSQL",
        summary: "`CONCURRENTLY` in a revision that runs in a transaction, which PostgreSQL refuses",
    },
    Own {
        name: IRREVERSIBLE_DATA_LOSS,
        fails: false,
        dialects: "both",
        summary: "a dropped table or column, an emptied table or a changed type that the down section cannot bring back",
    },
    Own {
        name: LOCK_ON_RELEASED_TABLE,
        fails: false,
        dialects: "PostgreSQL",
        summary: "a long lock on a table that a released revision created (a table created in the same revision, or in one no release has, is fine)",
    },
    Own {
        name: SEVERAL_STATEMENTS_WITHOUT_TRANSACTION,
        fails: false,
        dialects: "both",
        summary: "a `transaction: false` revision with several statements: a failure part-way needs an operator",
    },
    Own {
        name: SQLITE_UNSUPPORTED_ALTER,
        fails: true,
        dialects: "SQLite",
        summary: "an `ALTER TABLE` form SQLite does not have (ALTER COLUMN, ADD or DROP CONSTRAINT, ...)",
    },
    Own {
        name: MYSQL_SEVERAL_SCHEMA_CHANGES,
        fails: false,
        dialects: "MySQL",
        summary: "a revision with several schema changes, which MySQL commits one by one: a failure part-way needs an operator",
    },
];

/// squawk's rules that one of ours replaces: squawk's only fires when a
/// file has several statements, and does not know the revision's transaction.
const REPLACED: [(Rule, &str); 1] = [(Rule::BanConcurrentIndexCreationInTransaction, CONCURRENTLY_IN_TRANSACTION)];

/// squawk's rules about a table that exists with rows and readers: a
/// table created in the same revision, or in one that no release has, has
/// neither in production, so their findings on it are left out.
pub const ABOUT_EXISTING_TABLES: [Rule; 19] = [
    Rule::RequireLockTimeout,
    Rule::RequireStatementTimeout,
    Rule::RequireConcurrentIndexCreation,
    Rule::ConstraintMissingNotValid,
    Rule::AddingForeignKeyConstraint,
    Rule::ChangingColumnType,
    Rule::AddingFieldWithDefault,
    Rule::AddingNotNullableField,
    Rule::AddingSerialPrimaryKeyField,
    Rule::DisallowedUniqueConstraint,
    Rule::AddingRequiredField,
    Rule::RequireConcurrentReindex,
    Rule::PreferRepack,
    Rule::BanDropColumn,
    Rule::BanDropTable,
    Rule::BanDropNotNull,
    Rule::RenamingColumn,
    Rule::RenamingTable,
    Rule::BanDropConstraint,
];

/// squawk's rules about a lock on a table: [`LOCK_ON_RELEASED_TABLE`]
/// says it (with the history's word on the table) where it fires.
pub const ABOUT_LOCKS: [Rule; 10] = [
    Rule::RequireConcurrentIndexCreation,
    Rule::ConstraintMissingNotValid,
    Rule::AddingForeignKeyConstraint,
    Rule::ChangingColumnType,
    Rule::AddingFieldWithDefault,
    Rule::AddingNotNullableField,
    Rule::AddingSerialPrimaryKeyField,
    Rule::DisallowedUniqueConstraint,
    Rule::RequireConcurrentReindex,
    Rule::PreferRepack,
];

/// squawk's rules whose alternative is `CONCURRENTLY`, which a revision
/// that runs in a transaction cannot use.
pub const SUGGEST_CONCURRENTLY: [Rule; 5] = [
    Rule::RequireConcurrentIndexCreation,
    Rule::RequireConcurrentIndexDeletion,
    Rule::RequireConcurrentReindex,
    Rule::RequireConcurrentPartitionDetach,
    Rule::DisallowedUniqueConstraint,
];

/// A rule's name as findings carry it: ours, or squawk's canonical name
/// (`prefer-timestamptz` is `prefer-timestamp-tz`); a replaced squawk rule
/// names ours. `None` for an unknown name.
pub fn canonical(name: &str) -> Option<String> {
    if let Some(own) = OWN.iter().find(|r| r.name == name) {
        return Some(own.name.to_owned());
    }
    let rule = Rule::from_str(name).ok()?;
    Some(match REPLACED.iter().find(|(replaced, _)| *replaced == rule) {
        Some((_, ours)) => (*ours).to_owned(),
        None => rule.to_string(),
    })
}

/// Whether squawk runs this rule (it is not replaced by one of ours).
pub fn runs(rule: Rule) -> bool {
    !REPLACED.iter().any(|(replaced, _)| *replaced == rule)
}

/// Every rule name, ours first, for did-you-mean and `--list-rules`.
pub fn names() -> Vec<String> {
    let squawk = enum_names().into_iter().filter(|(rule, _)| runs(*rule)).map(|(_, name)| name);
    OWN.iter().map(|r| r.name.to_owned()).chain(squawk).collect()
}

/// squawk's rules with their names, in squawk's order (`unused-ignore`,
/// about squawk's own ignore comments, is no rule one can name).
pub fn enum_names() -> Vec<(Rule, String)> {
    squawk_rules().map(|rule| (rule, rule.to_string())).filter(|(_, name)| Rule::from_str(name).is_ok()).collect()
}

fn squawk_rules() -> impl Iterator<Item = Rule> {
    enum_iterator::all::<Rule>()
}

/// The safe alternative for a squawk rule that gives none.
pub fn fallback_help(rule: &str) -> String {
    match rule {
        "ban-drop-column" | "ban-drop-table" | "ban-drop-view" | "ban-drop-function" | "ban-drop-type"
        | "ban-drop-sequence" | "ban-drop-domain" | "ban-drop-schema" | "ban-drop-trigger" | "ban-drop-index"
        | "ban-drop-policy" | "ban-drop-extension" | "ban-drop-constraint" | "ban-drop-default"
        | "ban-drop-not-null" | "ban-drop-generated-expression" => format!(
            "stop using it in one release, so that no running code needs it, and remove it in a later revision; when nothing uses it any more, say so: `-- allow: {rule} because ...`"
        ),
        "renaming-column" | "renaming-table" | "renaming-object" | "ban-set-schema" => {
            "add the new name next to the old one (a new column kept in sync, a view for a table), move the clients over, then remove the old name in a later revision".into()
        }
        "changing-column-type" => {
            "add a column of the new type, backfill it in batches, move the application over, then drop the old column in a later revision".into()
        }
        "ban-char-field" => "use `text` (or `varchar`), which has no padding".into(),
        _ => format!("if the statement is safe here, say why in the header: `-- allow: {rule} because ...`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_squawk_rule_name_parses_back() {
        for (rule, name) in enum_names() {
            assert_eq!(Rule::from_str(&name), Ok(rule));
        }
        assert_eq!(enum_names().len(), 77, "squawk-linter 2.68.0 has 78 rules, one of them `unused-ignore`");
    }

    #[test]
    fn names_are_canonical() {
        assert_eq!(canonical("prefer-timestamptz").as_deref(), Some("prefer-timestamp-tz"));
        assert_eq!(
            canonical("ban-concurrent-index-creation-in-transaction").as_deref(),
            Some(CONCURRENTLY_IN_TRANSACTION)
        );
        assert_eq!(canonical(IRREVERSIBLE_DATA_LOSS).as_deref(), Some(IRREVERSIBLE_DATA_LOSS));
        assert_eq!(canonical("ban-drop-colum"), None);
        assert!(!names().contains(&"ban-concurrent-index-creation-in-transaction".to_owned()));
    }
}
