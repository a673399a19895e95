//! Introspection and autogenerate on MariaDB (or MySQL): for each case, a
//! schema A and a schema B built on databases of their own, `generate(A, B)`
//! applied to A must read back equal to B, and its down section applied
//! after must read back equal to A. Each database lives on the server at
//! `MIGRATE_TEST_MYSQL` (default `mysql://root@127.0.0.1:3306/`).

#![cfg(feature = "mysql")]

use migrate_history::sql::split;
use migrate_runtime::schema::{Change, Filled, Schema, generate, introspect};
use migrate_runtime::{Connection, DatabaseUrl, Dialect, connect};

fn server() -> migrate_runtime::MysqlUrl {
    let text = std::env::var("MIGRATE_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/".to_owned());
    match DatabaseUrl::parse(&text) {
        Ok(DatabaseUrl::Mysql(my)) => my,
        other => panic!("MIGRATE_TEST_MYSQL is not a MySQL URL: {other:?}"),
    }
}

fn open(url: &migrate_runtime::MysqlUrl) -> Connection {
    connect(&DatabaseUrl::Mysql(url.clone())).unwrap_or_else(|e| {
        panic!("MariaDB is not reachable at {}: {e}; set MIGRATE_TEST_MYSQL to a server URL", url.redacted_url())
    })
}

/// A database of its own, dropped at the end.
struct Db {
    name: String,
    conn: Connection,
}

impl Db {
    fn create(label: &str) -> Db {
        let name = format!("cm_schema_{label}_{}", std::process::id());
        let mut admin = open(&server());
        admin.database().execute_batch(&format!("DROP DATABASE IF EXISTS `{name}`")).unwrap();
        admin.database().execute_batch(&format!("CREATE DATABASE `{name}`")).unwrap();
        let conn = open(&server().with_database(&name));
        Db { name, conn }
    }

    /// Runs `sql` statement by statement, as the engine does.
    fn run(&mut self, sql: &str) {
        for statement in split(sql, Dialect::Mysql).unwrap_or_else(|e| panic!("{e}: {sql}")) {
            self.conn.database().execute_batch(statement.text).unwrap_or_else(|e| panic!("{e}: {}", statement.text));
        }
    }

    fn schema(&mut self) -> Schema {
        introspect(self.conn.database(), "migrate_versions").expect("introspect")
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = open(&server()).database().execute_batch(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}

/// A then B: the up section turns A into B, the down section B back into A.
fn round_trip(label: &str, a: &str, b: &str) -> String {
    let mut from = Db::create(&format!("{label}_a"));
    from.run(a);
    let mut to = Db::create(&format!("{label}_b"));
    to.run(b);
    let (schema_a, schema_b) = (from.schema(), to.schema());
    let generated = generate(&schema_a, &schema_b, Dialect::Mysql).unwrap_or_else(|| panic!("{label}: no change"));
    from.run(&generated.up);
    assert_eq!(from.schema(), schema_b, "{label}: up\n{}", generated.up);
    from.run(&generated.down);
    assert_eq!(from.schema(), schema_a, "{label}: down\n{}", generated.down);
    assert!(generate(&schema_b, &schema_b, Dialect::Mysql).is_none(), "{label}: B against itself");
    if std::env::var_os("SHOW_SQL").is_some() {
        eprintln!("== {label}\n{}\n-- down\n{}", generated.up, generated.down);
    }
    generated.up
}

const USERS: &str = "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(100) NOT NULL);";

/// (label, A, B, a piece of the up section).
const CASES: &[(&str, &str, &str, &str)] = &[
    ("create_table", "", USERS, "CREATE TABLE `users`"),
    (
        "add_column",
        USERS,
        "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(100) NOT NULL, nick varchar(20) DEFAULT 'x''y');",
        "ADD COLUMN `nick` varchar(20) DEFAULT 'x''y'",
    ),
    (
        "column_type",
        USERS,
        "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(200) NOT NULL);",
        "MODIFY COLUMN `email` varchar(200) NOT NULL",
    ),
    (
        "nullability_and_default",
        USERS,
        "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(100) DEFAULT 'none');",
        "MODIFY COLUMN `email` varchar(100) DEFAULT 'none'",
    ),
    (
        "auto_increment",
        "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100) NOT NULL);",
        "CREATE TABLE users (id bigint AUTO_INCREMENT PRIMARY KEY, email varchar(100) NOT NULL);",
        "MODIFY COLUMN `id` bigint NOT NULL AUTO_INCREMENT",
    ),
    (
        "timestamps",
        USERS,
        "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(100) NOT NULL, \
         created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         updated_at datetime(6) NULL DEFAULT NOW(6) ON UPDATE NOW(6));",
        "DEFAULT current_timestamp(6) on update current_timestamp(6)",
    ),
    (
        "json_and_column_check",
        USERS,
        "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(100) NOT NULL, \
         settings json, age int CHECK (age >= 0));",
        "ADD COLUMN `settings` json",
    ),
    (
        "generated_columns",
        "CREATE TABLE items (id int PRIMARY KEY, price decimal(10,2) NOT NULL, qty int NOT NULL);",
        "CREATE TABLE items (id int PRIMARY KEY, price decimal(10,2) NOT NULL, qty int NOT NULL, \
         total decimal(12,2) GENERATED ALWAYS AS (price * qty) STORED, \
         label varchar(40) AS (CONCAT('#', id)) VIRTUAL);",
        "GENERATED ALWAYS AS (`price` * `qty`) STORED",
    ),
    (
        "primary_key",
        "CREATE TABLE tags (post_id int NOT NULL, tag varchar(20) NOT NULL, PRIMARY KEY (post_id));",
        "CREATE TABLE tags (post_id int NOT NULL, tag varchar(20) NOT NULL, PRIMARY KEY (post_id, tag));",
        "DROP PRIMARY KEY, ADD PRIMARY KEY (`post_id`, `tag`)",
    ),
    (
        "unique",
        USERS,
        "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(100) NOT NULL, \
         CONSTRAINT users_email UNIQUE (email));",
        "ADD CONSTRAINT `users_email` UNIQUE (`email`)",
    ),
    (
        "indexes",
        "CREATE TABLE posts (id int PRIMARY KEY, title varchar(200), body text, at datetime);",
        "CREATE TABLE posts (id int PRIMARY KEY, title varchar(200), body text, at datetime, \
         KEY posts_title (title(10), at DESC), FULLTEXT KEY posts_body (body));\
         CREATE INDEX posts_at ON posts (at);",
        "CREATE INDEX `posts_title` ON `posts` (`title`(10), `at` DESC);",
    ),
    (
        "foreign_keys",
        "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE posts (id int PRIMARY KEY, user_id int, editor_id int);",
        "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE posts (id int PRIMARY KEY, user_id int, editor_id int, \
         CONSTRAINT posts_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE SET NULL, \
         FOREIGN KEY (editor_id) REFERENCES users (id));",
        "ADD CONSTRAINT `posts_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE ON UPDATE SET NULL;",
    ),
    (
        "new_tables_with_keys",
        "",
        "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE posts (id int PRIMARY KEY, user_id int NOT NULL, \
         FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT);",
        "CREATE INDEX `user_id` ON `posts` (`user_id`);",
    ),
    (
        "checks",
        "CREATE TABLE items (id int PRIMARY KEY, qty int, CONSTRAINT qty_small CHECK (qty < 1000));",
        "CREATE TABLE items (id int PRIMARY KEY, qty int, CONSTRAINT qty_positive CHECK (qty > 0), CHECK (qty <> 13));",
        "ADD CONSTRAINT `qty_positive` CHECK (`qty` > 0)",
    ),
    (
        "enum_column",
        "CREATE TABLE orders (id int PRIMARY KEY, status enum('new','paid') NOT NULL DEFAULT 'new');",
        "CREATE TABLE orders (id int PRIMARY KEY, status enum('new','paid','shipped') NOT NULL DEFAULT 'new');",
        "MODIFY COLUMN `status` enum('new','paid','shipped') NOT NULL DEFAULT 'new'",
    ),
    (
        "drop_column_and_table",
        "CREATE TABLE users (id int PRIMARY KEY, nick text); CREATE TABLE old_things (id int);",
        "CREATE TABLE users (id int PRIMARY KEY);",
        "ALTER TABLE `users` DROP COLUMN `nick`;",
    ),
    (
        "views",
        USERS,
        "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(100) NOT NULL); \
         CREATE VIEW user_emails AS SELECT id, email FROM users WHERE email <> '';",
        "CREATE VIEW `user_emails` AS select `users`.`id` AS `id`",
    ),
    (
        "view_over_a_changed_column",
        "CREATE TABLE users (id int PRIMARY KEY, email varchar(100)); CREATE VIEW v AS SELECT email FROM users;",
        "CREATE TABLE users (id int PRIMARY KEY, email varchar(300)); CREATE VIEW v AS SELECT email FROM users;",
        "MODIFY COLUMN `email` varchar(300)",
    ),
    (
        "triggers",
        USERS,
        "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(100) NOT NULL);\n\
         DELIMITER //\n\
         CREATE TRIGGER users_lower BEFORE INSERT ON users FOR EACH ROW BEGIN\n  SET NEW.email = LOWER(NEW.email);\n  SET NEW.email = TRIM(NEW.email);\nEND//\n\
         DELIMITER ;\n\
         CREATE TRIGGER users_upd BEFORE UPDATE ON users FOR EACH ROW SET NEW.email = LOWER(NEW.email);",
        "DELIMITER $$\nCREATE TRIGGER `users_lower` BEFORE INSERT ON `users` FOR EACH ROW BEGIN",
    ),
];

#[test]
fn every_change_round_trips() {
    let mut failures = Vec::new();
    for (label, a, b, expected) in CASES {
        let result = std::panic::catch_unwind(|| round_trip(label, a, b));
        match result {
            Ok(up) if up.contains(expected) => {}
            Ok(up) => failures.push(format!("{label}: the up section lacks {expected:?}:\n{up}")),
            Err(panic) => failures.push(format!(
                "{label}: {}",
                panic.downcast_ref::<String>().cloned().unwrap_or_else(|| "panicked".into())
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn mariadb_prints_are_normalised() {
    let mut db = Db::create("normalised");
    db.run(
        "CREATE TABLE t (id int(11) unsigned AUTO_INCREMENT PRIMARY KEY, flag tinyint(1) DEFAULT 1, \
         nick varchar(20) NULL, note varchar(20) DEFAULT 'it''s', at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         doc json, n int CHECK (n > 0), CONSTRAINT t_n CHECK (n < 10));
         CREATE TABLE migrate_versions (revision varchar(32));
         CREATE TABLE migrate_versions_lock (owner varchar(32));
         CREATE PROCEDURE p() SELECT 1;",
    );
    let schema = db.schema();
    assert_eq!(schema.tables.keys().collect::<Vec<_>>(), ["t"], "bookkeeping tables are left out");
    let t = &schema.tables["t"];
    let column = |name: &str| t.column(name).expect(name);
    assert_eq!(column("id").data_type, "int unsigned");
    assert_eq!(column("id").filled, Some(Filled::IdentityByDefault));
    assert_eq!(t.primary_key, ["id"]);
    assert_eq!((column("flag").data_type.as_str(), column("flag").default.as_deref()), ("tinyint", Some("1")));
    assert_eq!(column("nick").default, None, "MariaDB prints NULL for no default");
    assert_eq!(column("note").default.as_deref(), Some("'it''s'"));
    assert_eq!(column("at").default.as_deref(), Some("current_timestamp()"));
    assert_eq!(column("doc").data_type, "json");
    assert_eq!(column("n").data_type, "int CHECK (`n` > 0)");
    assert_eq!(t.checks.len(), 1, "{:?}", t.checks);
    assert_eq!(t.checks[0].name.as_deref(), Some("t_n"));
    assert!(schema.unmodelled.contains("procedure p"), "{:?}", schema.unmodelled);
}

#[test]
fn a_procedure_is_a_warning_not_nothing() {
    let mut with = Db::create("unmodelled");
    with.run("CREATE PROCEDURE p() SELECT 1;");
    let generated = generate(&Schema::default(), &with.schema(), Dialect::Mysql).expect("a difference");
    assert!(
        matches!(&generated.changes[..], [Change::Unmodelled { object, added: true, .. }] if object == "procedure p")
    );
    assert!(generated.up.starts_with("-- WARNING: new procedure p"), "{}", generated.up);
}

#[test]
fn what_mysql_cannot_express_is_a_warning() {
    use migrate_runtime::schema::render;
    let mut with_enum = Schema::default();
    with_enum.enums.insert("mood".into(), vec!["sad".into(), "happy".into()]);
    let changes = migrate_runtime::schema::diff(&Schema::default(), &with_enum);
    let sql = render(&changes, &Schema::default(), &with_enum, Dialect::Mysql);
    assert_eq!(
        sql,
        "-- WARNING: new enum mood (sad, happy): MySQL has no enum types (an enum is a column type there); write it by hand."
    );
}
