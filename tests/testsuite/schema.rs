//! Introspection for the autogenerator: the example history's schema and an
//! equivalent declarative `schema.sql` written differently compare equal, on
//! PostgreSQL and SQLite; a real change shows up as exactly that change.

use std::path::Path;

use migrate_history::Options;
use migrate_runtime::schema::{Change, diff, introspect};
use migrate_runtime::{Database, Migrator, Target};
use tests::support::{TestDatabase, repo_root};

/// The example history's final schema, declared the way a models file would.
const SCHEMA: &str = "
CREATE TABLE users (
    id INTEGER NOT NULL,
    email VARCHAR(320) NOT NULL,
    full_name VARCHAR(200) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE (email)
);
CREATE TABLE startups (
    id INTEGER PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    founder_id INTEGER NOT NULL,
    website VARCHAR(500),
    founded_on DATE,
    tagline VARCHAR(140),
    FOREIGN KEY (founder_id) REFERENCES users (id)
);
CREATE INDEX ix_startups_founder_id ON startups (founder_id);
CREATE TABLE user_profile (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    display_name VARCHAR(200),
    bio TEXT,
    location VARCHAR(200)
);
CREATE TABLE user_preferences (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    newsletter BOOLEAN NOT NULL DEFAULT FALSE,
    theme VARCHAR(20) NOT NULL DEFAULT 'light'
);
";

fn example() -> Migrator {
    let analysis =
        migrate_history::analyze_dir(&repo_root().join("migrations"), Path::new("migrations"), Options::default());
    Migrator::new(analysis.history)
}

fn check_equivalence(history_db: &mut dyn Database, schema_db: &mut dyn Database) {
    example().run_to(history_db, &Target::Head).unwrap();
    schema_db.execute_batch(SCHEMA).unwrap();
    let from_history = introspect(history_db, "migrate_versions").unwrap();
    let from_models = introspect(schema_db, "migrate_versions").unwrap();
    assert_eq!(from_history.tables.len(), 4);
    let changes = diff(&from_history, &from_models);
    assert!(changes.is_empty(), "{changes:#?}");

    schema_db.execute_batch("ALTER TABLE users ADD COLUMN avatar_url TEXT").unwrap();
    let changed = introspect(schema_db, "migrate_versions").unwrap();
    let changes = diff(&from_history, &changed);
    assert!(
        matches!(changes.as_slice(), [Change::AddColumn { table, column }] if table == "users" && column.name == "avatar_url" && column.nullable),
        "{changes:#?}"
    );
}

#[test]
fn postgres_history_and_models_introspect_alike() {
    let history = TestDatabase::create("schema_history");
    let models = TestDatabase::create("schema_models");
    check_equivalence(history.connect().database(), models.connect().database());
    let mut connection = history.connect();
    let schema = introspect(connection.database(), "migrate_versions").unwrap();
    let startups = &schema.tables["startups"];
    assert_eq!(startups.foreign_keys[0].referenced_table, "users");
    assert_eq!(startups.indexes[0].columns, ["founder_id"]);
    assert_eq!(schema.tables["users"].uniques[0].columns, ["email"]);
}

#[test]
fn sqlite_history_and_models_introspect_alike() {
    let mut history = migrate_runtime::rusqlite::Connection::open_in_memory().unwrap();
    let mut models = migrate_runtime::rusqlite::Connection::open_in_memory().unwrap();
    check_equivalence(&mut history, &mut models);
}

#[test]
fn postgres_enums_and_checks() {
    let db = TestDatabase::create("schema_enums");
    let mut connection = db.connect();
    connection
        .database()
        .execute_batch(
            "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE TABLE t (id SERIAL PRIMARY KEY, m mood, name TEXT, \
             price INT CHECK (price > 0)); CREATE UNIQUE INDEX ix_t_lower ON t (lower(name)) WHERE price > 10;",
        )
        .unwrap();
    let schema = introspect(connection.database(), "migrate_versions").unwrap();
    assert_eq!(schema.enums["mood"], ["sad", "happy"]);
    let t = &schema.tables["t"];
    assert_eq!(
        (t.columns[0].filled.clone(), t.columns[0].default.clone()),
        (Some(migrate_runtime::schema::Filled::Serial), None),
        "serial: {:?}",
        t.columns[0]
    );
    assert_eq!(t.checks[0].expression, "price > 0");
    assert!(t.indexes[0].unique);
    assert_eq!(t.indexes[0].predicate.as_deref(), Some("(price > 10)"), "as PostgreSQL prints it");
}
