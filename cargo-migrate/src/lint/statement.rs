//! What one statement does, as far as the history-aware rules care: the
//! tables it creates, renames, works on and destroys, the locks it takes,
//! and (on SQLite) the `ALTER TABLE` forms the database lacks. Read from
//! squawk's syntax tree, which parses PostgreSQL; SQLite's `ALTER TABLE`
//! forms are a subset of PostgreSQL's, so the same tree serves both.

use std::ops::Range;

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SyntaxKind, SyntaxNode, SyntaxToken};

/// A lock that blocks others for as long as the statement takes on a big table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// `CREATE INDEX` without `CONCURRENTLY`: writes wait.
    IndexBuild,
    /// `ALTER COLUMN ... TYPE`: the table is rewritten; reads and writes wait.
    TypeChange,
    /// `SET NOT NULL`: the table is scanned; reads and writes wait.
    SetNotNull,
    /// A foreign key or check added without `NOT VALID`: every row is checked.
    Validation { foreign_key: bool },
    /// `PRIMARY KEY`, `UNIQUE` or `EXCLUDE` added without `USING INDEX`: an index is built; reads and writes wait.
    IndexConstraint,
    /// A column whose values must be written into every row: a volatile
    /// default, a serial, an identity or a stored generated column.
    RewritingColumn,
    /// `VACUUM FULL`, `CLUSTER`, `SET TABLESPACE`, `SET LOGGED`/`UNLOGGED`: the table is rewritten.
    Rewrite,
    /// `REINDEX` without `CONCURRENTLY`.
    Reindex,
}

/// One lock-heavy part of a statement.
#[derive(Debug, Clone)]
pub struct Lock {
    /// Byte range in the statement's text.
    pub range: Range<usize>,
    pub table: String,
    pub kind: LockKind,
}

/// One destructive part of a statement.
#[derive(Debug, Clone)]
pub struct Destroy {
    pub range: Range<usize>,
    pub table: String,
    /// `drops table `users``, `drops column `email``, ...
    pub what: String,
    /// A type change (the down may restore values when the change was lossless).
    pub type_change: bool,
}

/// The facts of one statement.
#[derive(Debug, Default)]
pub struct Facts {
    /// Tables it creates.
    pub creates: Vec<String>,
    /// Tables it renames: `(old, new)`.
    pub renames: Vec<(String, String)>,
    /// The table it works on, when it works on one.
    pub table: Option<String>,
    pub destroys: Vec<Destroy>,
    pub locks: Vec<Lock>,
    /// The `CONCURRENTLY` of a statement that cannot run inside a transaction.
    pub concurrently: Option<Range<usize>>,
    /// It writes rows (`INSERT`, `UPDATE`, `MERGE`, `COPY`): a down section that can restore data.
    pub writes_rows: bool,
    /// It changes only the session (`SET`, `RESET`, `SHOW`): not a step an operator has to undo.
    pub session_only: bool,
    /// `ALTER TABLE` forms SQLite lacks: the part and what SQLite cannot do.
    pub sqlite_unsupported: Vec<(Range<usize>, String)>,
}

/// Reads one statement (its text from its first token to its last).
pub fn facts(text: &str, postgres_major: u32) -> Facts {
    let parse = squawk_syntax::SourceFile::parse(text);
    let mut facts = Facts::default();
    let Some(stmt) = parse.tree().stmts().next() else { return facts };
    let first_word = text.split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("").to_ascii_uppercase();
    facts.session_only = matches!(first_word.as_str(), "SET" | "RESET" | "SHOW");
    match stmt {
        ast::Stmt::CreateTable(create) => {
            facts
                .creates
                .extend(create.table_name().and_then(|t| t.path()).and_then(|p| p.segment()).map(|s| s.text()));
        }
        ast::Stmt::CreateTableAs(create) => {
            facts
                .creates
                .extend(create.table_name().and_then(|t| t.path()).and_then(|p| p.segment()).map(|s| s.text()));
        }
        ast::Stmt::AlterTable(alter) => alter_table(&alter, postgres_major, &mut facts),
        ast::Stmt::CreateIndex(index) => {
            let table = index.table_relation_name().and_then(|r| table_ref(r.table_name_ref()));
            facts.table = table.clone();
            match index.concurrently_token() {
                Some(token) => facts.concurrently = Some(token_range(&token)),
                None => {
                    if let Some(table) = table {
                        facts.locks.push(Lock { range: node_range(index.syntax()), table, kind: LockKind::IndexBuild });
                    }
                }
            }
        }
        ast::Stmt::DropIndex(drop) => {
            facts.concurrently = drop.concurrently_token().map(|t| token_range(&t));
        }
        ast::Stmt::Reindex(reindex) => {
            let concurrently = first_token(reindex.syntax(), SyntaxKind::CONCURRENTLY_KW);
            facts.concurrently = concurrently.clone();
            if let Some(ast::ReindexTarget::ReindexTargetTable(target)) = reindex.reindex_target() {
                let table = table_ref(target.table_name_ref());
                facts.table = table.clone();
                if let (None, Some(table)) = (concurrently, table) {
                    facts.locks.push(Lock { range: node_range(reindex.syntax()), table, kind: LockKind::Reindex });
                }
            }
        }
        ast::Stmt::DropTable(drop) => {
            for name in drop.table_name_refs() {
                if let Some(table) = table_ref(Some(name.clone())) {
                    facts.table.get_or_insert_with(|| table.clone());
                    let what = format!("drops table `{table}` with its rows");
                    facts.destroys.push(Destroy { range: node_range(drop.syntax()), table, what, type_change: false });
                }
            }
        }
        ast::Stmt::Truncate(truncate) => {
            let tables = truncate.syntax().descendants().filter_map(ast::TableNameRef::cast);
            for table in tables.filter_map(|t| table_ref(Some(t))) {
                facts.table.get_or_insert_with(|| table.clone());
                let what = format!("empties table `{table}`");
                facts.destroys.push(Destroy { range: node_range(truncate.syntax()), table, what, type_change: false });
            }
        }
        ast::Stmt::Vacuum(vacuum) => {
            let full = vacuum.full_token().is_some()
                || vacuum
                    .vacuum_option_list()
                    .is_some_and(|o| o.syntax().text().to_string().to_lowercase().contains("full"));
            let tables = vacuum.syntax().descendants().filter_map(ast::TableRelationName::cast);
            for table in tables.filter_map(|t| table_ref(t.table_name_ref())) {
                facts.table.get_or_insert_with(|| table.clone());
                if full {
                    facts.locks.push(Lock { range: node_range(vacuum.syntax()), table, kind: LockKind::Rewrite });
                }
            }
        }
        ast::Stmt::Cluster(cluster) => {
            if let Some(table) = table_ref(cluster.table_name_ref()) {
                facts.table = Some(table.clone());
                facts.locks.push(Lock { range: node_range(cluster.syntax()), table, kind: LockKind::Rewrite });
            }
        }
        ast::Stmt::Insert(_) | ast::Stmt::Update(_) | ast::Stmt::Merge(_) | ast::Stmt::Copy(_) => {
            facts.writes_rows = true;
        }
        _ => {}
    }
    facts
}

fn alter_table(alter: &ast::AlterTable, postgres_major: u32, facts: &mut Facts) {
    let Some(table) = alter.table_relation_name().and_then(|r| table_ref(r.table_name_ref())) else { return };
    facts.table = Some(table.clone());
    let actions: Vec<ast::AlterTableAction> = alter.actions().collect();
    if actions.len() > 1 {
        let second = node_range(actions[1].syntax());
        facts.sqlite_unsupported.push((second, "SQLite's ALTER TABLE makes one change per statement".into()));
    }
    for action in &actions {
        let at = node_range(action.syntax());
        let lock = |kind| Lock { range: at.clone(), table: table.clone(), kind };
        match action {
            ast::AlterTableAction::TableRenameTo(rename) => {
                if let Some(new) = rename.table_name().and_then(|t| t.path()).and_then(|p| p.segment()) {
                    facts.renames.push((table.clone(), new.text()));
                }
            }
            ast::AlterTableAction::RenameColumn(_) => {}
            ast::AlterTableAction::DropColumn(drop) => {
                let column = drop.column_name_ref().map(|c| c.syntax().text().to_string()).unwrap_or_default();
                let what = format!("drops column `{column}` of `{table}` with its values");
                facts.destroys.push(Destroy { range: at.clone(), table: table.clone(), what, type_change: false });
                if drop.if_exists().is_some() {
                    facts.sqlite_unsupported.push((at.clone(), "SQLite's DROP COLUMN has no IF EXISTS".into()));
                }
            }
            ast::AlterTableAction::AddColumn(add) => add_column(add, &at, &table, postgres_major, facts),
            ast::AlterTableAction::AlterColumn(column) => {
                let name = column.column_name_ref().map(|c| c.syntax().text().to_string()).unwrap_or_default();
                match column.option() {
                    Some(ast::AlterColumnOption::SetType(_)) => {
                        let what = format!("changes the type of `{table}`.`{name}`");
                        facts.destroys.push(Destroy {
                            range: at.clone(),
                            table: table.clone(),
                            what,
                            type_change: true,
                        });
                        facts.locks.push(lock(LockKind::TypeChange));
                    }
                    Some(ast::AlterColumnOption::SetNotNull(_)) => facts.locks.push(lock(LockKind::SetNotNull)),
                    _ => {}
                }
                facts.sqlite_unsupported.push((at.clone(), "SQLite's ALTER TABLE has no ALTER COLUMN".into()));
            }
            ast::AlterTableAction::AddConstraint(add) => {
                if let Some(kind) = add.constraint().and_then(|c| constraint_lock(&c)) {
                    facts.locks.push(lock(kind));
                }
                facts.sqlite_unsupported.push((at.clone(), "SQLite's ALTER TABLE cannot ADD CONSTRAINT".into()));
            }
            ast::AlterTableAction::DropConstraint(_) => {
                facts.sqlite_unsupported.push((at.clone(), "SQLite's ALTER TABLE cannot DROP CONSTRAINT".into()));
            }
            ast::AlterTableAction::SetTablespace(_)
            | ast::AlterTableAction::SetLogged(_)
            | ast::AlterTableAction::SetUnlogged(_)
            | ast::AlterTableAction::SetAccessMethod(_) => {
                facts.locks.push(lock(LockKind::Rewrite));
                facts.sqlite_unsupported.push((at.clone(), unsupported(action.syntax())));
            }
            _ => facts.sqlite_unsupported.push((at.clone(), unsupported(action.syntax()))),
        }
    }
    if let Some(detach) = actions.iter().find_map(|a| match a {
        ast::AlterTableAction::DetachPartition(detach) => Some(detach),
        _ => None,
    }) {
        facts.concurrently = first_token(detach.syntax(), SyntaxKind::CONCURRENTLY_KW);
    }
}

fn add_column(add: &ast::AddColumn, at: &Range<usize>, table: &str, postgres_major: u32, facts: &mut Facts) {
    let mut rewrites = false;
    let ty = add.ty().map(|t| t.syntax().text().to_string().to_lowercase()).unwrap_or_default();
    if matches!(ty.trim(), "serial" | "bigserial" | "smallserial" | "serial2" | "serial4" | "serial8") {
        rewrites = true;
    }
    let (mut not_null, mut default, mut non_constant_default) = (false, false, false);
    for constraint in add.constraints() {
        match &constraint {
            ast::Constraint::DefaultConstraint(d) => {
                default = true;
                let expr = d.expr().map(|e| e.syntax().text().to_string()).unwrap_or_default();
                let lower = expr.to_lowercase();
                rewrites |= postgres_major < 11 || VOLATILE.iter().any(|f| lower.contains(f));
                non_constant_default = expr.trim_start().starts_with('(')
                    || ["current_time", "current_date", "current_timestamp"].iter().any(|f| lower.contains(f));
            }
            ast::Constraint::GeneratedConstraint(g) => {
                let text = g.syntax().text().to_string().to_lowercase();
                let stored = text.contains("stored");
                rewrites |= text.contains("identity") || stored;
                if stored {
                    let message = "SQLite's ADD COLUMN cannot add a STORED generated column";
                    facts.sqlite_unsupported.push((at.clone(), message.into()));
                }
            }
            ast::Constraint::NotNullConstraint(_) => not_null = true,
            ast::Constraint::PrimaryKeyConstraint(_) | ast::Constraint::UniqueConstraint(_) => {
                facts.locks.push(Lock { range: at.clone(), table: table.to_owned(), kind: LockKind::IndexConstraint });
                facts
                    .sqlite_unsupported
                    .push((at.clone(), "SQLite's ADD COLUMN cannot add a PRIMARY KEY or UNIQUE column".into()));
            }
            _ => {}
        }
    }
    if rewrites {
        facts.locks.push(Lock { range: at.clone(), table: table.to_owned(), kind: LockKind::RewritingColumn });
    }
    if not_null && !default {
        facts
            .sqlite_unsupported
            .push((at.clone(), "SQLite's ADD COLUMN cannot add a NOT NULL column without a default".into()));
    }
    if non_constant_default {
        facts
            .sqlite_unsupported
            .push((at.clone(), "SQLite's ADD COLUMN cannot add a column with a non-constant default".into()));
    }
    if add.if_not_exists().is_some() {
        facts.sqlite_unsupported.push((at.clone(), "SQLite's ADD COLUMN has no IF NOT EXISTS".into()));
    }
}

/// Functions whose default is computed for each row, which PostgreSQL
/// writes into every existing row (a constant default is stored once).
const VOLATILE: [&str; 8] = [
    "nextval(",
    "random(",
    "gen_random_uuid(",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "clock_timestamp(",
    "timeofday(",
    "statement_timestamp(",
];

fn constraint_lock(constraint: &ast::Constraint) -> Option<LockKind> {
    let not_valid = |options: ast::AstChildren<ast::ConstraintOption>| {
        options.into_iter().any(|o| matches!(o, ast::ConstraintOption::NotValid(_)))
    };
    match constraint {
        ast::Constraint::ForeignKeyConstraint(c) if !not_valid(c.constraint_options()) => {
            Some(LockKind::Validation { foreign_key: true })
        }
        ast::Constraint::CheckConstraint(c) if !not_valid(c.constraint_options()) => {
            Some(LockKind::Validation { foreign_key: false })
        }
        ast::Constraint::PrimaryKeyConstraint(c) if c.using_index().is_none() => Some(LockKind::IndexConstraint),
        ast::Constraint::UniqueConstraint(c) if c.using_index().is_none() => Some(LockKind::IndexConstraint),
        ast::Constraint::ExcludeConstraint(_) => Some(LockKind::IndexConstraint),
        _ => None,
    }
}

/// `SQLite's ALTER TABLE cannot SET TABLESPACE`: the action's first words.
fn unsupported(action: &SyntaxNode) -> String {
    let text = action.text().to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    format!("SQLite's ALTER TABLE cannot {}", words.join(" ").to_uppercase())
}

fn table_ref(table: Option<ast::TableNameRef>) -> Option<String> {
    Some(table?.path_ref()?.segment()?.text())
}

fn first_token(node: &SyntaxNode, kind: SyntaxKind) -> Option<Range<usize>> {
    node.descendants_with_tokens().filter_map(|e| e.into_token()).find(|t| t.kind() == kind).map(|t| token_range(&t))
}

fn node_range(node: &SyntaxNode) -> Range<usize> {
    // Leading comments and whitespace belong to the node in the tree; the range starts at its first token.
    let first = node
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .find(|t| !t.kind().is_trivia())
        .map_or(node.text_range().start(), |t| t.text_range().start());
    usize::from(first)..usize::from(node.text_range().end())
}

fn token_range(token: &SyntaxToken) -> Range<usize> {
    usize::from(token.text_range().start())..usize::from(token.text_range().end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locks(sql: &str) -> Vec<(String, LockKind)> {
        facts(sql, 15).locks.into_iter().map(|l| (l.table, l.kind)).collect()
    }

    #[test]
    fn lock_heavy_statements_and_their_tables() {
        let index = |t: &str| (t.to_owned(), LockKind::IndexBuild);
        assert_eq!(locks("CREATE INDEX ix ON public.Users (email)"), [index("users")]);
        assert_eq!(locks("CREATE INDEX CONCURRENTLY ix ON users (email)"), []);
        assert_eq!(
            locks("ALTER TABLE users ALTER COLUMN email TYPE text"),
            [("users".to_owned(), LockKind::TypeChange)]
        );
        assert_eq!(locks("ALTER TABLE users ALTER email SET NOT NULL"), [("users".to_owned(), LockKind::SetNotNull)]);
        assert_eq!(
            locks("ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (team_id) REFERENCES teams (id)"),
            [("users".to_owned(), LockKind::Validation { foreign_key: true })]
        );
        assert_eq!(
            locks("ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (team_id) REFERENCES teams (id) NOT VALID"),
            []
        );
        assert_eq!(locks("ALTER TABLE users ADD CONSTRAINT c CHECK (id > 0) NOT VALID"), []);
        assert_eq!(locks("ALTER TABLE users ADD CONSTRAINT u UNIQUE USING INDEX ix"), []);
        assert_eq!(locks("ALTER TABLE users ADD PRIMARY KEY (id)"), [("users".to_owned(), LockKind::IndexConstraint)]);
        assert_eq!(locks("ALTER TABLE users ADD COLUMN n int DEFAULT 0"), []);
        assert_eq!(
            locks("ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()"),
            [("users".to_owned(), LockKind::RewritingColumn)]
        );
        assert_eq!(
            locks("ALTER TABLE users ADD COLUMN n bigserial"),
            [("users".to_owned(), LockKind::RewritingColumn)]
        );
        assert_eq!(
            facts("ALTER TABLE users ADD COLUMN n int DEFAULT 0", 10).locks.len(),
            1,
            "before 11 every default rewrites"
        );
        assert_eq!(locks("VACUUM FULL users"), [("users".to_owned(), LockKind::Rewrite)]);
        assert_eq!(locks("VACUUM users"), []);
        assert_eq!(locks("REINDEX TABLE users"), [("users".to_owned(), LockKind::Reindex)]);
        assert_eq!(locks("REINDEX TABLE CONCURRENTLY users"), []);
    }

    #[test]
    fn creates_renames_destroys_and_concurrently() {
        let f = facts("CREATE TABLE IF NOT EXISTS \"Posts\" (id int)", 15);
        assert_eq!(f.creates, ["Posts"]);
        assert_eq!(
            facts("ALTER TABLE posts RENAME TO articles", 15).renames,
            [("posts".to_owned(), "articles".to_owned())]
        );
        let text = "DROP TABLE posts, tags";
        let destroyed: Vec<String> = facts(text, 15).destroys.into_iter().map(|d| d.what).collect();
        assert_eq!(destroyed, ["drops table `posts` with its rows", "drops table `tags` with its rows"]);
        let text = "ALTER TABLE users DROP COLUMN email";
        let f = facts(text, 15);
        assert_eq!(&text[f.destroys[0].range.clone()], "DROP COLUMN email");
        assert!(facts("ALTER TABLE users ALTER COLUMN email TYPE text", 15).destroys[0].type_change);
        assert_eq!(facts("TRUNCATE users", 15).destroys.len(), 1);
        let text = "DROP INDEX CONCURRENTLY ix";
        assert_eq!(facts(text, 15).concurrently.map(|r| &text[r]), Some("CONCURRENTLY"));
        assert_eq!(
            facts("REFRESH MATERIALIZED VIEW CONCURRENTLY v", 15).concurrently,
            None,
            "allowed in a transaction"
        );
        assert!(facts("INSERT INTO users SELECT * FROM users_backup", 15).writes_rows);
        assert!(facts("SET lock_timeout = '1s'", 15).session_only);
    }

    #[test]
    fn alter_table_forms_sqlite_lacks() {
        let unsupported = |sql: &str| facts(sql, 15).sqlite_unsupported.into_iter().map(|(_, m)| m).collect::<Vec<_>>();
        assert_eq!(unsupported("ALTER TABLE t ADD COLUMN c INTEGER NOT NULL DEFAULT 0"), Vec::<String>::new());
        assert_eq!(unsupported("ALTER TABLE t RENAME COLUMN a TO b"), Vec::<String>::new());
        assert_eq!(unsupported("ALTER TABLE t RENAME TO u"), Vec::<String>::new());
        assert_eq!(unsupported("ALTER TABLE t DROP COLUMN c"), Vec::<String>::new());
        assert_eq!(unsupported("ALTER TABLE t ALTER COLUMN c TYPE text"), ["SQLite's ALTER TABLE has no ALTER COLUMN"]);
        assert_eq!(
            unsupported("ALTER TABLE t ADD CONSTRAINT u UNIQUE (c)"),
            ["SQLite's ALTER TABLE cannot ADD CONSTRAINT"]
        );
        assert_eq!(unsupported("ALTER TABLE t DROP CONSTRAINT u"), ["SQLite's ALTER TABLE cannot DROP CONSTRAINT"]);
        assert_eq!(
            unsupported("ALTER TABLE t ADD COLUMN c int, ADD COLUMN d int"),
            ["SQLite's ALTER TABLE makes one change per statement"]
        );
        assert_eq!(
            unsupported("ALTER TABLE t ADD COLUMN c TEXT NOT NULL"),
            ["SQLite's ADD COLUMN cannot add a NOT NULL column without a default"]
        );
        assert_eq!(
            unsupported("ALTER TABLE t ADD COLUMN c TEXT DEFAULT CURRENT_TIMESTAMP"),
            ["SQLite's ADD COLUMN cannot add a column with a non-constant default"]
        );
        assert_eq!(
            unsupported("ALTER TABLE t ADD COLUMN c INTEGER UNIQUE"),
            ["SQLite's ADD COLUMN cannot add a PRIMARY KEY or UNIQUE column"]
        );
    }
}
