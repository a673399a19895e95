//! Helpers for end-to-end tests: throwaway crates that depend on
//! migrate-build by path, built with the real `cargo` in a shared target
//! directory so dependencies compile once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use migrate_history::{LOCK_FILE_NAME, Options};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repository").to_owned()
}

/// Target directory shared by every fixture crate.
pub fn fixture_target_dir() -> PathBuf {
    repo_root().join("target").join("e2e-fixtures")
}

/// The text of a revision file.
pub fn revision(id: &str, parents: &str, up: &str) -> String {
    format!(
        "-- revision: {id}\n-- parents: {parents}\n-- message: revision {id}\n\n-- migrate:up\n{up}\n\n-- migrate:down\n"
    )
}

/// A crate in a temporary directory whose build script embeds `migrations/`.
#[derive(Debug)]
pub struct FixtureCrate {
    dir: tempfile::TempDir,
    name: String,
}

impl FixtureCrate {
    /// `name` must be unique among tests running at once: binaries share a target directory.
    pub fn new(name: &str) -> FixtureCrate {
        FixtureCrate::with_dependencies(name, "")
    }

    /// Like [`FixtureCrate::new`], with more `[dependencies]` lines; `{repo}`
    /// stands for the repository root.
    pub fn with_dependencies(name: &str, extra: &str) -> FixtureCrate {
        let dir = tempfile::tempdir().expect("temporary directory");
        let repo = repo_root();
        let fixture = FixtureCrate { dir, name: name.to_owned() };
        fixture.write(
            "Cargo.toml",
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nmigrate-history = {{ path = {core:?} }}\n{extra}\n\n\
                 [build-dependencies]\nmigrate-build = {{ path = {build:?} }}\n\n[workspace]\n",
                core = repo.join("migrate-history"),
                build = repo.join("migrate-build"),
                extra = extra.replace("{repo}", &repo.display().to_string()),
            ),
        );
        fixture.write("build.rs", "fn main() {\n    migrate_build::embed();\n}\n");
        fixture.write(
            "src/main.rs",
            "static HISTORY: migrate_history::embed::EmbeddedHistory = migrate_history::include_history!();\n\n\
             fn main() {\n    for rev in HISTORY.revisions() {\n        \
             println!(\"{} pinned={} up={}\", rev.id, rev.pinned, rev.up_sql().trim());\n    }\n}\n",
        );
        std::fs::create_dir_all(fixture.path().join("migrations")).expect("migrations directory");
        fixture
    }

    /// The crate's root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file below the crate root, creating directories.
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create directories");
        std::fs::write(&path, text).expect("write fixture file");
    }

    /// Removes a file below the crate root.
    pub fn remove(&self, relative: &str) {
        std::fs::remove_file(self.path().join(relative)).expect("remove fixture file");
    }

    /// Empties `migrations/`.
    pub fn clear_migrations(&self) {
        let dir = self.path().join("migrations");
        std::fs::remove_dir_all(&dir).expect("remove migrations");
        std::fs::create_dir_all(&dir).expect("create migrations");
    }

    /// Pins every revision in `migrations/` as `cargo migrate lock` would.
    pub fn pin_all(&self) {
        let dir = self.path().join("migrations");
        let analysis = migrate_history::analyze_dir(&dir, Path::new("migrations"), Options::default());
        let mut lock = analysis.lock;
        for rev in analysis.history.revisions() {
            lock.pin(&rev.id, rev.checksum);
        }
        std::fs::write(dir.join(LOCK_FILE_NAME), lock.render()).expect("write lock");
    }

    /// `cargo ARGS` in the crate, with the shared target directory.
    pub fn cargo(&self, args: &[&str]) -> Output {
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(args)
            .current_dir(self.path())
            .env("CARGO_TARGET_DIR", fixture_target_dir())
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("RUSTFLAGS")
            .output()
            .expect("run cargo")
    }

    /// The package name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Stdout and stderr as text, for assertions and failure messages.
pub fn text(output: &Output) -> (String, String) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The PostgreSQL server tests use: `MIGRATE_TEST_POSTGRES`, or the local one.
pub fn postgres_server_url() -> String {
    std::env::var("MIGRATE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test and dropped when it ends.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    /// URL of the database, without TLS settings.
    pub url: String,
}

fn admin_connection() -> migrate_runtime::Connection {
    let url = postgres_server_url();
    let parsed = migrate_runtime::DatabaseUrl::parse(&url).expect("MIGRATE_TEST_POSTGRES is a valid URL");
    migrate_runtime::connect(&parsed).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {}: {e}. Start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
             (or `cargo xtask test`, which starts a throwaway cluster), or set MIGRATE_TEST_POSTGRES to a server URL",
            parsed.redacted()
        )
    })
}

impl TestDatabase {
    /// Creates `cm_<label>_<pid>_<n>`.
    pub fn create(label: &str) -> TestDatabase {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("cm_{label}_{}_{n}", std::process::id());
        let mut admin = admin_connection();
        // One statement per query: CREATE/DROP DATABASE cannot share one.
        admin
            .database()
            .execute_batch(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .expect("drop leftovers");
        admin.database().execute_batch(&format!("CREATE DATABASE \"{name}\"")).expect("create the test database");
        let server = postgres_server_url();
        let base = server.split('?').next().unwrap_or(&server);
        let url = format!("{}/{name}", &base[..base.rfind('/').expect("a URL with a database")]);
        TestDatabase { name, url }
    }

    /// A fresh connection.
    pub fn connect(&self) -> migrate_runtime::Connection {
        migrate_runtime::connect(&migrate_runtime::DatabaseUrl::parse(&self.url).expect("valid")).expect("connect")
    }

    /// The URL up to the database's name (`postgres://postgres@127.0.0.1:5432/`),
    /// so that snapshots can show the default server whichever one the
    /// tests run on (`MIGRATE_TEST_POSTGRES`).
    pub fn server_prefix(&self) -> String {
        self.url[..self.url.len() - self.name.len()].to_owned()
    }

    /// Rows of a query, as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.connect().database().query_text(sql).expect("query")
    }

    /// `pg_dump --schema-only` of the database, without its comments and
    /// session lines: the database's own account of its schema.
    pub fn schema_dump(&self) -> String {
        self.schema_dump_excluding(&[])
    }

    /// [`schema_dump`](Self::schema_dump) without `tables` (pg_dump's
    /// `--exclude-table`): another tool's version table, say.
    pub fn schema_dump_excluding(&self, tables: &[&str]) -> String {
        let output = std::process::Command::new("pg_dump")
            .args(["--schema-only", "--no-owner", "-d", &self.url])
            .args(tables.iter().map(|table| format!("--exclude-table={table}")))
            .output()
            .expect("pg_dump is installed");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| !l.starts_with("--") && !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Names of the tables in `public`, sorted.
    pub fn tables(&self) -> Vec<String> {
        self.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .collect()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let mut admin = admin_connection();
        let _ = admin.database().execute_batch(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
    }
}

/// The MariaDB/MySQL server tests use: `MIGRATE_TEST_MYSQL`, or the local one.
pub fn mysql_server_url() -> String {
    std::env::var("MIGRATE_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/".to_owned())
}

/// A MariaDB/MySQL database created for one test and dropped when it ends.
#[derive(Debug)]
pub struct TestMysql {
    pub name: String,
    /// URL of the database.
    pub url: String,
}

fn mysql_connection(url: &str) -> migrate_runtime::Connection {
    let parsed = migrate_runtime::DatabaseUrl::parse(url).expect("MIGRATE_TEST_MYSQL is a valid URL");
    migrate_runtime::connect(&parsed).unwrap_or_else(|e| {
        panic!(
            "MariaDB is not reachable at {}: {e}. Start it, or set MIGRATE_TEST_MYSQL to a server URL",
            parsed.redacted()
        )
    })
}

impl TestMysql {
    /// Creates `cm_<label>_<pid>_<n>`.
    pub fn create(label: &str) -> TestMysql {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("cm_{label}_{}_{n}", std::process::id());
        let server = mysql_server_url();
        let mut admin = mysql_connection(&server);
        let admin = admin.database();
        admin.execute_batch(&format!("DROP DATABASE IF EXISTS `{name}`")).expect("drop leftovers");
        admin.execute_batch(&format!("CREATE DATABASE `{name}`")).expect("create the test database");
        // The server URL with this database as its path, parameters kept.
        let (base, query) = server.split_once('?').map_or((server.as_str(), ""), |(b, q)| (b, q));
        let authority_start = base.find("://").map_or(0, |i| i + 3);
        let root = base[authority_start..].find('/').map_or(base, |i| &base[..authority_start + i]);
        let url = format!("{root}/{name}{}{query}", if query.is_empty() { "" } else { "?" });
        TestMysql { name, url }
    }

    /// A fresh connection.
    pub fn connect(&self) -> migrate_runtime::Connection {
        mysql_connection(&self.url)
    }

    /// Rows of a query, as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.connect().database().query_text(sql).expect("query")
    }

    /// Names of the database's tables, sorted.
    pub fn tables(&self) -> Vec<String> {
        self.query(&format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' ORDER BY TABLE_NAME",
            self.name
        ))
        .into_iter()
        .filter_map(|row| row.into_iter().next().flatten())
        .collect()
    }
}

impl Drop for TestMysql {
    fn drop(&mut self) {
        let _ = mysql_connection(&mysql_server_url())
            .database()
            .execute_batch(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}
