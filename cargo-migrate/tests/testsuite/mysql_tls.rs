//! TLS to MariaDB: `ssl-mode` and `ssl-ca` against a throwaway server of
//! its own that refuses unencrypted sessions (`require_secure_transport`),
//! with a certificate for `localhost` and 127.0.0.1 signed by a CA made for
//! the run (`TlsMariadb` in tests/src/support.rs). The whole output, with
//! the URL, the port and the CA's path redacted.

use std::process::Output;

use tests::support::TlsMariadb;

use crate::{assert_exit, cargo_migrate, redacted};

/// A project of one MySQL revision that records the cipher of the session
/// it runs in, as the server reports it (empty when unencrypted).
fn project() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let up = "CREATE TABLE session_tls (cipher VARCHAR(200) NOT NULL);\n\
              INSERT INTO session_tls (cipher) SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS \
              WHERE VARIABLE_NAME = 'Ssl_cipher';\n\
              -- migrate:down\nDROP TABLE session_tls;";
    let text = format!("-- revision: 7a1b\n-- parents: \n-- message: session tls\n\n-- migrate:up\n{up}\n");
    std::fs::write(dir.join("7a1b_session_tls.sql"), text).unwrap();
    project
}

/// `cargo migrate ARGS --dir migrations --database-url URL` in `project`.
fn run(project: &tempfile::TempDir, url: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--dir", "migrations", "--database-url", url]);
    cargo_migrate(project.path(), &all)
}

/// The output with what changes from run to run redacted: the URL, the
/// database's name, the server's port and version, the directory of the
/// CAs (as it is and percent-encoded, as a redacted URL shows it) and the
/// line of OpenSSL's source an error names.
fn show(output: &Output, server: &TlsMariadb, url: &str, database: &str) -> String {
    let port = format!(":{}", server.port);
    let dir = server.ca().parent().unwrap().display().to_string();
    let encoded = dir.replace('/', "%2F");
    let version = server.query("", "SELECT version()")[0][0].clone().unwrap();
    let text = redacted(
        output,
        &[
            (url, "[URL]"),
            (&dir, "[DIR]"),
            (&encoded, "[DIR]"),
            (&port, ":[PORT]"),
            (&version, "[VERSION]"),
            (database, "[DB]"),
        ],
    );
    // `../ssl/statem/statem_clnt.c:1889:` differs from one OpenSSL to the next.
    let mut parts = text.split(".c:");
    let mut out = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        out.push_str(".c:");
        let digits = part.len() - part.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        out.push_str(if digits > 0 { "[LINE]" } else { "" });
        out.push_str(&part[digits..]);
    }
    out
}

/// The cipher the revision's session recorded.
fn recorded_cipher(server: &TlsMariadb, database: &str) -> String {
    let rows = server.query(database, "SELECT cipher FROM session_tls");
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0][0].clone().unwrap_or_default()
}

/// Upgrades with `query` (`?ssl-mode=...`) and checks the revision's session was encrypted.
fn upgrades_encrypted(label: &str, user: &str, query: &str) -> (String, String) {
    let server = TlsMariadb::shared();
    let database = server.create_database(label);
    let url = server.url(user, &database, query);
    let project = project();
    let upgrade = run(&project, &url, &["upgrade"]);
    assert_exit(&upgrade, 0);
    let cipher = recorded_cipher(server, &database);
    assert!(!cipher.is_empty(), "the revision ran unencrypted");
    let status = run(&project, &url, &["status"]);
    assert_exit(&status, 0);
    let cipher_redacted = |text: String| text.replace(&cipher, "[CIPHER]");
    (cipher_redacted(show(&upgrade, server, &url, &database)), cipher_redacted(show(&status, server, &url, &database)))
}

#[test]
fn mysql_tls_required_upgrades_and_reports_status_over_an_encrypted_session() {
    let (upgrade, status) = upgrades_encrypted("required", "root", "?ssl-mode=required");
    insta::assert_snapshot!(upgrade);
    insta::assert_snapshot!(status);
}

#[test]
fn mysql_tls_verify_ca_with_the_servers_ca_connects() {
    let ca = TlsMariadb::shared().ca();
    let (upgrade, status) =
        upgrades_encrypted("verify_ca", "app", &format!("?ssl-mode=verify_ca&ssl-ca={}", ca.display()));
    assert!(!upgrade.contains(TlsMariadb::APP_PASSWORD) && !status.contains(TlsMariadb::APP_PASSWORD));
    insta::assert_snapshot!(upgrade);
    insta::assert_snapshot!(status);
}

#[test]
fn mysql_tls_verify_identity_with_the_ca_and_host_localhost_connects() {
    let server = TlsMariadb::shared();
    let database = server.create_database("verify_identity");
    let query = format!("?ssl-mode=verify_identity&ssl-ca={}", server.ca().display());
    let url = server.url("root", &database, &query).replace("@127.0.0.1:", "@localhost:");
    let project = project();
    let upgrade = run(&project, &url, &["upgrade"]);
    assert_exit(&upgrade, 0);
    assert!(!recorded_cipher(server, &database).is_empty(), "the revision ran unencrypted");
    insta::assert_snapshot!(show(&upgrade, server, &url, &database));
}

#[test]
fn mysql_tls_verify_ca_with_another_ca_is_refused_without_printing_the_password() {
    let server = TlsMariadb::shared();
    let database = server.create_database("other_ca");
    let query = format!("?ssl-mode=verify_ca&ssl-ca={}", server.other_ca().display());
    let url = server.url("app", &database, &query);
    let output = run(&project(), &url, &["upgrade"]);
    let (stdout, stderr) = assert_exit(&output, 3);
    assert!(!stdout.contains(TlsMariadb::APP_PASSWORD) && !stderr.contains(TlsMariadb::APP_PASSWORD), "{stderr}");
    insta::assert_snapshot!(show(&output, server, &url, &database));
    assert!(server.query(&database, "SHOW TABLES").is_empty(), "nothing ran");
}

#[test]
fn mysql_tls_disabled_is_refused_by_a_server_that_requires_secure_transport() {
    let server = TlsMariadb::shared();
    let database = server.create_database("disabled");
    let url = server.url("app", &database, "?ssl-mode=disabled");
    let output = run(&project(), &url, &["upgrade"]);
    let (stdout, stderr) = assert_exit(&output, 3);
    assert!(!stdout.contains(TlsMariadb::APP_PASSWORD) && !stderr.contains(TlsMariadb::APP_PASSWORD), "{stderr}");
    insta::assert_snapshot!(show(&output, server, &url, &database));
    assert!(server.query(&database, "SHOW TABLES").is_empty(), "nothing ran");
}
