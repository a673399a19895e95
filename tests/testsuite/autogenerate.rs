//! For each kind of change, on SQLite and PostgreSQL: generate the revision
//! between a "history" database and a "models" database, apply its up
//! section to the history database and find the models' schema, apply its
//! down section and find the previous schema again.

use migrate_runtime::schema::{diff, generate, introspect};
use migrate_runtime::{Database, Dialect};
use tests::support::TestDatabase;

/// (name, history DDL, models DDL, PostgreSQL only)
const CASES: &[(&str, &str, &str, bool)] = &[
    (
        "add table",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
        false,
    ),
    (
        "drop table",
        "CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (id INTEGER PRIMARY KEY);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        false,
    ),
    (
        "add column",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, note TEXT);",
        false,
    ),
    (
        "add not-null column",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);",
        false,
    ),
    (
        "drop column",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, note TEXT);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        false,
    ),
    (
        "alter type",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n BIGINT);",
        false,
    ),
    (
        "alter nullability",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);",
        false,
    ),
    (
        "alter default",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER DEFAULT 1);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER DEFAULT 2);",
        false,
    ),
    (
        "add index",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER); CREATE INDEX ix_a_n ON a (n);",
        false,
    ),
    (
        "drop index",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER); CREATE INDEX ix_a_n ON a (n);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);",
        false,
    ),
    (
        "partial index",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER); CREATE INDEX ix_a_n ON a (n) WHERE n > 0;",
        false,
    ),
    (
        "add unique",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER UNIQUE);",
        false,
    ),
    (
        "drop unique",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER UNIQUE);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);",
        false,
    ),
    (
        "add foreign key",
        "CREATE TABLE u (id INTEGER PRIMARY KEY); CREATE TABLE p (id INTEGER PRIMARY KEY, u_id INTEGER);",
        "CREATE TABLE u (id INTEGER PRIMARY KEY); CREATE TABLE p (id INTEGER PRIMARY KEY, u_id INTEGER REFERENCES u (id) ON DELETE CASCADE);",
        false,
    ),
    (
        "new table with foreign key",
        "CREATE TABLE u (id INTEGER PRIMARY KEY);",
        "CREATE TABLE u (id INTEGER PRIMARY KEY); CREATE TABLE p (id INTEGER PRIMARY KEY, u_id INTEGER REFERENCES u (id));",
        false,
    ),
    (
        "add check",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER CHECK (n > 0));",
        false,
    ),
    (
        "drop check",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER CHECK (n > 0));",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);",
        false,
    ),
    (
        "add enum",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE TABLE a (id INTEGER PRIMARY KEY, m mood);",
        true,
    ),
];

fn round_trip(
    name: &str,
    dialect: Dialect,
    history: &mut dyn Database,
    models: &mut dyn Database,
    before: &str,
    after: &str,
) {
    history.execute_batch(before).unwrap_or_else(|e| panic!("{name}: history DDL: {e}"));
    models.execute_batch(after).unwrap_or_else(|e| panic!("{name}: models DDL: {e}"));
    let start = introspect(history, "migrate_versions").unwrap();
    let target = introspect(models, "migrate_versions").unwrap();
    let generated = generate(&start, &target, dialect).unwrap_or_else(|| panic!("{name}: no change found"));
    history
        .execute_batch(&generated.up)
        .unwrap_or_else(|e| panic!("{name} ({dialect:?}) up failed: {e}\n{}", generated.up));
    let upgraded = introspect(history, "migrate_versions").unwrap();
    let left = diff(&upgraded, &target);
    assert!(left.is_empty(), "{name} ({dialect:?}): after up\n{}\nstill differs: {left:#?}", generated.up);
    history
        .execute_batch(&generated.down)
        .unwrap_or_else(|e| panic!("{name} ({dialect:?}) down failed: {e}\n{}", generated.down));
    let downgraded = introspect(history, "migrate_versions").unwrap();
    let left = diff(&downgraded, &start);
    assert!(left.is_empty(), "{name} ({dialect:?}): after down\n{}\nstill differs: {left:#?}", generated.down);
    if generated.changes.iter().any(|c| c.is_destructive()) {
        assert!(generated.up.contains("WARNING") || generated.up.contains("rebuilt"), "{name}: {}", generated.up);
    }
}

#[test]
fn every_kind_of_change_round_trips_on_sqlite() {
    for (name, before, after, postgres_only) in CASES {
        if *postgres_only {
            continue;
        }
        let mut history = migrate_runtime::rusqlite::Connection::open_in_memory().unwrap();
        let mut models = migrate_runtime::rusqlite::Connection::open_in_memory().unwrap();
        round_trip(name, Dialect::Sqlite, &mut history, &mut models, before, after);
    }
}

#[test]
fn every_kind_of_change_round_trips_on_postgres() {
    for (name, before, after, _) in CASES {
        let history = TestDatabase::create("autogen_h");
        let models = TestDatabase::create("autogen_m");
        round_trip(name, Dialect::Postgres, history.connect().database(), models.connect().database(), before, after);
    }
}

#[test]
fn identical_schemas_generate_nothing() {
    let mut a = migrate_runtime::rusqlite::Connection::open_in_memory().unwrap();
    a.execute_batch("CREATE TABLE a (id INTEGER PRIMARY KEY)").unwrap();
    let schema = introspect(&mut a, "migrate_versions").unwrap();
    assert!(generate(&schema, &schema, Dialect::Sqlite).is_none());
}
