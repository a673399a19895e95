//! Other tools, each pinned and installed into target/tools on first use:
//! sqlx-cli for `bench apply --peers` and `test --peers`, diesel_cli for
//! `test --peers` (both with `cargo install`: they compile for minutes), and
//! Alembic in a Python virtual environment for `bench apply` and `bench
//! import`.

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
