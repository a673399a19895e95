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

/// A MariaDB server of its own that requires TLS (`require_secure_transport`),
/// for the TLS tests: a data directory made by `mariadb-install-db`, a
/// certificate authority and a server certificate for `localhost` and
/// `127.0.0.1` made with `openssl`, and a second authority that signed
/// nothing. Root has no password (over TLS); `app` has
/// [`TlsMariadb::APP_PASSWORD`] and every privilege.
///
/// Killed and its directory removed on drop; the shared one
/// ([`TlsMariadb::shared`]) lives in a static, which is never dropped, so a
/// watchdog does both once the test process has gone.
#[derive(Debug)]
pub struct TlsMariadb {
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    server: std::process::Child,
    watchdog: Option<std::process::Child>,
    dir: tempfile::TempDir,
}

impl TlsMariadb {
    /// The password of the `app` user.
    pub const APP_PASSWORD: &'static str = "s3cret-pw";

    /// The server shared by the tests of one test binary, started on first use.
    pub fn shared() -> &'static TlsMariadb {
        static SERVER: std::sync::OnceLock<TlsMariadb> = std::sync::OnceLock::new();
        SERVER.get_or_init(TlsMariadb::start)
    }

    /// Starts a server; panics saying why when it cannot (never skips).
    pub fn start() -> TlsMariadb {
        let dir = tempfile::Builder::new().prefix("cm-tls-mariadb").tempdir().expect("temporary directory");
        let path = dir.path().to_owned();
        let data = path.join("data");
        // The data directory is made while the certificates are.
        let install = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--auth-root-authentication-method=normal", "--skip-test-db", "--user=root"])
            .arg(format!("--datadir={}", data.display()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run mariadb-install-db (is MariaDB's server package installed?): {e}"));
        make_certificates(&path);
        let installed = install.wait_with_output().expect("wait for mariadb-install-db");
        assert!(
            installed.status.success(),
            "mariadb-install-db failed:\n{}",
            String::from_utf8_lossy(&installed.stderr)
        );

        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let file = |name: &str| path.join(name).display().to_string();
        let log = file("mariadbd.log");
        let server = Command::new("/usr/sbin/mariadbd")
            .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1", "--skip-name-resolve"])
            .arg("--require-secure-transport=ON")
            .arg(format!("--port={port}"))
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", file("mariadbd.sock")))
            .arg(format!("--pid-file={}", file("mariadbd.pid")))
            .arg(format!("--log-error={log}"))
            .arg(format!("--ssl-ca={}", file("ca.pem")))
            .arg(format!("--ssl-cert={}", file("server.pem")))
            .arg(format!("--ssl-key={}", file("server-key.pem")))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run /usr/sbin/mariadbd: {e}"));
        // Kills the server and removes the directory once this process is gone.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; kill -9 {server} 2>/dev/null; rm -rf '{dir}'",
                parent = std::process::id(),
                server = server.id(),
                dir = path.display(),
            ))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok();
        let mut started = TlsMariadb { port, server, watchdog, dir };

        let root = started.url("root", "", "?ssl-mode=required");
        let url = migrate_runtime::DatabaseUrl::parse(&root).expect("a valid URL");
        let since = std::time::Instant::now();
        let mut admin = loop {
            match migrate_runtime::connect(&url) {
                Ok(connection) => break connection,
                Err(e) => {
                    let log = || std::fs::read_to_string(&log).unwrap_or_default();
                    if let Ok(Some(status)) = started.server.try_wait() {
                        panic!("the TLS MariaDB (/usr/sbin/mariadbd) exited with {status}; its log:\n{}", log());
                    }
                    if since.elapsed() > std::time::Duration::from_secs(60) {
                        panic!("the TLS MariaDB did not answer on port {port} within 60 s ({e}); its log:\n{}", log());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        };
        admin
            .database()
            .execute_batch(&format!(
                "CREATE USER 'app'@'%' IDENTIFIED BY '{}'; GRANT ALL ON *.* TO 'app'@'%'",
                TlsMariadb::APP_PASSWORD
            ))
            .expect("create the app user");
        started
    }

    /// `mysql://USER[:PASSWORD]@127.0.0.1:PORT/DATABASE` followed by `query`
    /// (`?ssl-mode=...`); `app` gets its password.
    pub fn url(&self, user: &str, database: &str, query: &str) -> String {
        let password = if user == "app" { format!(":{}", TlsMariadb::APP_PASSWORD) } else { String::new() };
        format!("mysql://{user}{password}@127.0.0.1:{}/{database}{query}", self.port)
    }

    /// The authority that signed the server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// An authority that signed nothing the server has.
    pub fn other_ca(&self) -> PathBuf {
        self.dir.path().join("other-ca.pem")
    }

    /// Creates `cm_tls_<label>_<n>` (the server is thrown away, so it is never dropped).
    pub fn create_database(&self, label: &str) -> String {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!("cm_tls_{label}_{}", COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        self.query("", &format!("CREATE DATABASE `{name}`"));
        name
    }

    /// Rows of a query as root, over TLS, in `database` (empty: none).
    pub fn query(&self, database: &str, sql: &str) -> Vec<Vec<Option<String>>> {
        let url = migrate_runtime::DatabaseUrl::parse(&self.url("root", database, "?ssl-mode=required"))
            .expect("a valid URL");
        let mut connection = migrate_runtime::connect(&url).expect("connect to the TLS MariaDB");
        connection.database().query_text(sql).expect("query")
    }
}

impl Drop for TlsMariadb {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        if let Some(watchdog) = &mut self.watchdog {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// Writes `ca.pem`, `server.pem` and `server-key.pem` (CN `localhost`, SAN
/// `localhost` and `127.0.0.1`, signed by `ca.pem`) and `other-ca.pem` in `dir`.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
        assert!(output.status.success(), "openssl {}:\n{}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    };
    std::fs::write(
        dir.join("ca.cnf"),
        "[req]\ndistinguished_name = dn\nx509_extensions = ca\nprompt = no\n[dn]\nCN = cargo-migrate test CA\n\
         [ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n",
    )
    .expect("write ca.cnf");
    std::fs::write(
        dir.join("server.cnf"),
        "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("write server.cnf");
    let new_ca = |key: &str, cert: &str, cn: &str| {
        let subject = format!("/CN={cn}");
        openssl(&[
            "req", "-x509", "-config", "ca.cnf", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &subject,
            "-keyout", key, "-out", cert,
        ]);
    };
    new_ca("ca-key.pem", "ca.pem", "cargo-migrate test CA");
    new_ca("other-ca-key.pem", "other-ca.pem", "cargo-migrate other test CA");
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server-key.pem",
        "-out",
        "server.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.cnf",
        "-out",
        "server.pem",
    ]);
}
