//! The security audit (#8): no command prints a password, raw, percent-encoded
//! or in part, whether it sits in the user info, the query or a libpq
//! `key=value` string, and whether the URL comes from `--database-url`,
//! `DATABASE_URL` or `.env`; malformed URLs say what is wrong; read-only
//! commands create no SQLite file.
//!
//! The server trusts every login, so a role created with the password
//! logs in with it: the point is what the output shows.

use std::path::Path;
use std::process::{Command, Output};

use migrate_runtime::DatabaseUrl;
use tests::support::{TestDatabase, postgres_server_url};

use crate::transcript;

/// Every character the audit named, and a space.
const HARD_PASSWORD: &str = "Zq@:/?#%&'\" pä§Xw";

const GOOD: &str = "-- revision: aaaa\n-- parents:\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (id INT);\n\n-- migrate:down\nDROP TABLE a;\n";
const MODELS: &str = "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n";

/// Where the URL comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Flag,
    Env,
    DotEnv,
}

/// Where the password sits.
#[derive(Debug, Clone, Copy)]
enum Form {
    UserInfo,
    Query,
    KeyValue,
}

const SOURCES: [Source; 3] = [Source::Flag, Source::Env, Source::DotEnv];
const FORMS: [Form; 3] = [Form::UserInfo, Form::Query, Form::KeyValue];

fn admin() -> migrate_runtime::Connection {
    migrate_runtime::connect(&DatabaseUrl::parse(&postgres_server_url()).unwrap()).unwrap()
}

/// `(host, port)` of the test server.
fn server() -> (String, u16) {
    match DatabaseUrl::parse(&postgres_server_url()).unwrap() {
        DatabaseUrl::Postgres(pg) => (pg.host.clone(), pg.port),
        other => panic!("not a PostgreSQL server: {other:?}"),
    }
}

/// A login role with a password, dropped (after its database) on drop.
struct Role {
    name: String,
    password: String,
}

impl Role {
    fn create(password: &str) -> Role {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("cm_secret_{}_{n}", std::process::id());
        let quoted = password.replace('\'', "''");
        let mut admin = admin();
        let db = admin.database();
        db.execute_batch(&format!("DROP ROLE IF EXISTS \"{name}\"")).unwrap();
        db.execute_batch(&format!("CREATE ROLE \"{name}\" LOGIN CREATEDB PASSWORD '{quoted}'")).unwrap();
        Role { name, password: password.to_owned() }
    }

    /// Makes the role own `db`, so it can create tables in `public`.
    fn owns(&self, db: &TestDatabase) {
        admin()
            .database()
            .execute_batch(&format!("ALTER DATABASE \"{}\" OWNER TO \"{}\"", db.name, self.name))
            .unwrap();
    }

    fn url(&self, form: Form, port: u16, database: &str, extra: &[(&str, &str)]) -> String {
        let (host, _) = server();
        let (user, password) = (&self.name, encode(&self.password));
        match form {
            Form::UserInfo => {
                let mut url = format!("postgres://{user}:{password}@{host}:{port}/{database}?sslmode=require");
                for (key, value) in extra {
                    url.push_str(&format!("&{key}={value}"));
                }
                url
            }
            Form::Query => {
                let mut url =
                    format!("postgresql://{host}:{port}/{database}?user={user}&password={password}&sslmode=require");
                for (key, value) in extra {
                    url.push_str(&format!("&{key}={value}"));
                }
                url
            }
            Form::KeyValue => {
                let quoted = self.password.replace('\\', "\\\\").replace('\'', "\\'");
                let mut text = format!(
                    "host={host} port={port} user={user} password='{quoted}' dbname={database} sslmode=require"
                );
                for (key, value) in extra {
                    text.push_str(&format!(" {key}={value}"));
                }
                text
            }
        }
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = admin().database().execute_batch(&format!("DROP ROLE IF EXISTS \"{}\"", self.name));
    }
}

/// Percent-encodes everything but letters and digits.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Fails when `output` holds any three consecutive characters of the
/// password, raw or percent-encoded.
#[track_caller]
fn assert_hidden(output: &str, password: &str) {
    for form in [password.to_owned(), encode(password)] {
        let chars: Vec<char> = form.chars().collect();
        for window in chars.windows(3) {
            let piece: String = window.iter().collect();
            assert!(!output.contains(&piece), "the output shows `{piece}` of the password:\n{output}");
        }
    }
}

/// A project with one revision and models one table ahead.
fn project(source: Source, url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("migrations/a.sql"), GOOD).unwrap();
    std::fs::write(dir.path().join("schema.sql"), MODELS).unwrap();
    if let Source::DotEnv = source {
        let quoted = url.replace('\\', "\\\\").replace('"', "\\\"");
        std::fs::write(dir.path().join(".env"), format!("DATABASE_URL=\"{quoted}\"\n")).unwrap();
    }
    dir
}

fn run(dir: &Path, source: Source, url: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"));
    command.arg("migrate").args(args).args(["--dir", "migrations"]).current_dir(dir);
    command.env("CARGO_TERM_COLOR", "never").env_remove("DATABASE_URL");
    match source {
        Source::Flag => {
            command.args(["--database-url", url]);
        }
        Source::Env => {
            command.env("DATABASE_URL", url);
        }
        Source::DotEnv => {}
    }
    command.output().unwrap()
}

/// The transcript with what differs between runs replaced: names, the
/// server, versions, durations, and where the URL came from.
fn normalize(text: &str, names: &[(&str, &str)]) -> String {
    let (host, port) = server();
    let mut text = text
        .replace(&format!("{host}:{port}"), "[SERVER]")
        .replace(&format!("-h {host} -p {port}"), "-h [HOST] -p [PORT]")
        .replace(&format!("host={host} port={port}"), "host=[HOST] port=[PORT]")
        .replace(&host, "[HOST]");
    for (name, placeholder) in names {
        text = text.replace(name, placeholder);
    }
    for source in ["--database-url", "the environment variable DATABASE_URL", "DATABASE_URL in .env"] {
        text = text.replace(&format!("(from {source})"), "(from [SOURCE])");
    }
    text.lines()
        .map(|line| match line.find("connection:    ok (") {
            Some(at) => format!("{}connection:    ok ([VERSION])", &line[..at]),
            None => line
                .split(' ')
                .map(|word| {
                    let digits = word.trim_end_matches([';', ',']);
                    let is_duration = digits.starts_with(|c: char| c.is_ascii_digit())
                        && digits.ends_with('s')
                        && digits.trim_end_matches(char::is_alphabetic).chars().all(|c| c.is_ascii_digit() || c == '.');
                    if is_duration { word.replacen(digits, "[ELAPSED]", 1) } else { word.to_owned() }
                })
                .collect::<Vec<_>>()
                .join(" "),
        })
        .map(|line| line + "\n")
        .collect()
}

/// Every command against a real login with `password` in `form` from `source`.
fn every_command(source: Source, form: Form) {
    let role = Role::create(HARD_PASSWORD);
    let db = TestDatabase::create("secrets");
    role.owns(&db);
    let (_, port) = server();
    let url = role.url(form, port, &db.name, &[]);
    let dir = project(source, &url);
    let commands: [(&[&str], i32); 13] = [
        (&["status"], 0),
        (&["current"], 0),
        (&["upgrade", "--dry-run"], 0),
        (&["upgrade"], 0),
        (&["current", "--verbose"], 0),
        (&["check"], 1),
        (&["sql"], 0),
        (&["diff", "--dev-url", &url], 0),
        (&["stamp", "head"], 0),
        (&["resolve", "aaaa", "--rolled-back"], 2),
        (&["downgrade", "base"], 0),
        (&["generate", "add b", "--rev-id", "bbbb"], 0),
        (&["generate", "add b again", "--rev-id", "cccc", "--dev-url", &url], 0),
    ];
    let mut all = String::new();
    for (args, code) in commands {
        let output = run(dir.path(), source, &url, args);
        let text = transcript(&output);
        assert_hidden(&text, &role.password);
        assert_eq!(output.status.code(), Some(code), "{args:?}:\n{text}");
        all.push_str(&format!("$ cargo migrate {}\n{}\n", args.join(" ").replace(&url, "[URL]"), text));
    }
    let all = normalize(&all, &[(&db.name, "[DB]"), (&role.name, "[ROLE]")]);
    // `current --verbose` shows when and from where: not the point here.
    let all = all.lines().filter(|l| !l.starts_with("aaaa  applied")).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!("every_command", all);
}

#[test]
fn flag_user_info() {
    every_command(Source::Flag, Form::UserInfo);
}

#[test]
fn flag_query() {
    every_command(Source::Flag, Form::Query);
}

#[test]
fn flag_key_value() {
    every_command(Source::Flag, Form::KeyValue);
}

#[test]
fn env_user_info() {
    every_command(Source::Env, Form::UserInfo);
}

#[test]
fn env_query() {
    every_command(Source::Env, Form::Query);
}

#[test]
fn env_key_value() {
    every_command(Source::Env, Form::KeyValue);
}

#[test]
fn dotenv_user_info() {
    every_command(Source::DotEnv, Form::UserInfo);
}

#[test]
fn dotenv_query() {
    every_command(Source::DotEnv, Form::Query);
}

#[test]
fn dotenv_key_value() {
    every_command(Source::DotEnv, Form::KeyValue);
}

/// `status` and `upgrade` against a URL that cannot connect, in every form
/// and from every source: no password, and the same output from each source.
fn failure(name: &str, port: Option<u16>, database: Option<&str>, user: Option<&str>, extra: &[(&str, &str)]) {
    let mut role = Role::create(HARD_PASSWORD);
    let db = TestDatabase::create("secrets_failure");
    role.owns(&db);
    let real_name = role.name.clone();
    if let Some(user) = user {
        role.name = user.to_owned();
    }
    let port = port.unwrap_or(server().1);
    let database = database.unwrap_or(&db.name);
    // One transcript per distinct output: a connection failure reads the
    // same in every form, a URL refused as given is echoed (redacted) as given.
    let mut distinct: Vec<String> = Vec::new();
    for form in FORMS {
        let mut first: Option<String> = None;
        for source in SOURCES {
            let url = role.url(form, port, database, extra);
            let dir = project(source, &url);
            let mut all = String::new();
            for args in [&["status"][..], &["upgrade"]] {
                let output = run(dir.path(), source, &url, args);
                let text = transcript(&output);
                assert_hidden(&text, &role.password);
                all.push_str(&format!("$ cargo migrate {}\n{}\n", args.join(" "), text));
            }
            let all = normalize(&all, &[(&db.name, "[DB]"), (&real_name, "[ROLE]")]);
            match &first {
                None => first = Some(all),
                Some(first) => assert_eq!(&all, first, "{form:?} from {source:?} differs from --database-url"),
            }
        }
        distinct.extend(first.filter(|text| !distinct.contains(text)));
    }
    role.name = real_name;
    insta::assert_snapshot!(name, distinct.join("\n"));
}

#[test]
fn wrong_port() {
    failure("wrong_port", Some(1), None, None, &[]);
}

#[test]
fn missing_database() {
    failure("missing_database", None, Some("no_such_database"), None, &[]);
}

#[test]
fn unknown_user() {
    // Every password is right on a trust-auth server: a missing role is the
    // authentication failure it can give.
    failure("unknown_user", None, None, Some("no_such_role"), &[]);
}

#[test]
fn bad_sslmode() {
    failure("bad_sslmode", None, None, None, &[("sslmode", "sideways")]);
}

#[test]
fn unverifiable_certificate() {
    failure("unverifiable_certificate", None, None, None, &[("sslmode", "verify-full")]);
}

/// `status` with a password holding one character, in every form.
fn one_character(character: char) {
    let role = Role::create(&format!("Zq{character}Xw"));
    let db = TestDatabase::create("secrets_char");
    role.owns(&db);
    let (_, port) = server();
    for form in FORMS {
        let url = role.url(form, port, &db.name, &[]);
        let dir = project(Source::Flag, &url);
        let output = run(dir.path(), Source::Flag, &url, &["status"]);
        let text = transcript(&output);
        assert_hidden(&text, &role.password);
        assert_eq!(
            normalize(&text, &[(&db.name, "[DB]"), (&role.name, "[ROLE]")]),
            "exit: 0\n--- stdout\n\
             database:      postgres://[ROLE]:****@[SERVER]/[DB]?sslmode=require (from [SOURCE])\n\
             connection:    ok ([VERSION])\n\
             tls:           sslmode=require; the session is encrypted (TLSv1.3, TLS_AES_256_GCM_SHA384)\n\
             version table: migrate_versions (not created yet: nothing applied)\n\
             current:       base\n\
             pending:       1 revision\n  aaaa a\n\
             drifted:       none\n\
             failed:        none\n\
             --- stderr\n",
            "{form:?}"
        );
    }
}

#[test]
fn at_sign() {
    one_character('@');
}

#[test]
fn colon() {
    one_character(':');
}

#[test]
fn slash() {
    one_character('/');
}

#[test]
fn question_mark() {
    one_character('?');
}

#[test]
fn hash() {
    one_character('#');
}

#[test]
fn percent() {
    one_character('%');
}

#[test]
fn ampersand() {
    one_character('&');
}

#[test]
fn single_quote() {
    one_character('\'');
}

#[test]
fn double_quote() {
    one_character('"');
}

#[test]
fn non_ascii() {
    one_character('ä');
    one_character('§');
}

/// The audit's URL: the password, unencoded `@` and all, in the query.
#[test]
fn the_audit_url() {
    let role = Role::create("S3cr3t@Pw");
    let db = TestDatabase::create("secrets_audit");
    role.owns(&db);
    let (host, port) = server();
    let url = format!("postgres://{host}:{port}/{}?user={}&password=S3cr3t@Pw", db.name, role.name);
    let dir = project(Source::Flag, &url);
    for (args, code) in [(&["status"][..], 0), (&["upgrade"], 0), (&["current"], 0)] {
        let output = run(dir.path(), Source::Flag, &url, args);
        assert_hidden(&transcript(&output), &role.password);
        assert_eq!(output.status.code(), Some(code), "{}", transcript(&output));
    }
    let wrong_port = url.replace(&format!(":{port}/"), ":1/");
    let output = run(dir.path(), Source::Flag, &wrong_port, &["status"]);
    assert_hidden(&transcript(&output), &role.password);
    assert_eq!(
        normalize(&transcript(&output), &[(&db.name, "[DB]"), (&role.name, "[ROLE]")]),
        "exit: 3\n--- stdout\n\
         database:      postgres://[ROLE]:****@[HOST]:1/[DB] (from [SOURCE])\n\
         --- stderr\n\
         error: could not connect to PostgreSQL at [HOST]:1/[DB] as [ROLE]: error connecting to server: Connection refused (os error 111)\n  \
         help: is PostgreSQL running and listening on [HOST]:1? On this machine: `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`\n"
    );
}

/// `status` on a URL that does not parse: the whole output.
fn malformed(url: &str) -> String {
    let dir = project(Source::Flag, url);
    let text = transcript(&run(dir.path(), Source::Flag, url, &["status"]));
    assert_hidden(&text, "Zq7Xw");
    text
}

#[test]
fn port_out_of_range() {
    insta::assert_snapshot!(malformed("postgres://alice:Zq7Xw@db.example.com:99999/app"));
}

#[test]
fn bad_percent_escape() {
    insta::assert_snapshot!(malformed("postgres://alice:Zq7Xw%zz@db.example.com/app"));
}

#[test]
fn unknown_parameter() {
    insta::assert_snapshot!(malformed("postgres://alice:Zq7Xw@db.example.com/app?sslmod=require"));
}

#[test]
fn empty_host() {
    insta::assert_snapshot!(malformed("postgres://alice:Zq7Xw@:5432/app"));
}

#[test]
fn unknown_scheme() {
    insta::assert_snapshot!(malformed("postgress://alice:Zq7Xw@db.example.com/app"));
}

#[test]
fn unencoded_slash_in_the_password() {
    insta::assert_snapshot!(malformed("postgres://alice:Zq7/Xw@db.example.com/app"));
}

/// A SQLite project in a fresh directory, and `cargo migrate ARGS` on `url`.
fn sqlite(url: &str, args: &[&str]) -> (tempfile::TempDir, String) {
    let dir = project(Source::Flag, url);
    let text = transcript(&run(dir.path(), Source::Flag, url, args));
    (dir, text)
}

#[test]
fn read_only_commands_create_no_sqlite_file() {
    for args in [&["status"][..], &["current"], &["check"], &["diff"]] {
        let (dir, _) = sqlite("sqlite:missing/dir/app.db", args);
        assert!(!dir.path().join("missing").exists(), "{args:?} created it");
    }
    let (dir, text) = sqlite("sqlite:missing/dir/app.db", &["status"]);
    insta::assert_snapshot!(text);
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn upgrade_still_creates_the_sqlite_file() {
    let (dir, _) = sqlite("sqlite:missing/dir/app.db", &["upgrade"]);
    assert!(dir.path().join("missing/dir/app.db").is_file());
}

#[test]
fn a_sqlite_parent_that_is_a_file() {
    let dir = project(Source::Flag, "");
    std::fs::write(dir.path().join("somefile.txt"), "").unwrap();
    let mut all = String::new();
    for args in [&["status"][..], &["upgrade"]] {
        all.push_str(&transcript(&run(dir.path(), Source::Flag, "sqlite:somefile.txt/db.sqlite3", args)));
    }
    insta::assert_snapshot!(all);
}
