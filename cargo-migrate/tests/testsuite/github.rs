//! `cargo migrate init --ci github`: the workflows it writes, linted with
//! actionlint, and run on this machine by a stand-in for GitHub's runner
//! (`github/runner.rs`) against a real PostgreSQL database, with the binary
//! under test as `cargo migrate`.

mod actionlint;
mod expr;
mod runner;

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::support::{TestDatabase, postgres_server_url, repo_root};

use crate::{assert_exit, cargo_migrate, transcript};
use runner::{Event, Run, Runner};

/// A workflow file as JSON, for the runner.
pub fn yaml(text: &str) -> Result<serde_json::Value, String> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    let doc = docs.into_iter().next().ok_or("an empty YAML file")?;
    Ok(to_json(&doc))
}

fn to_json(yaml: &yaml_rust2::Yaml) -> serde_json::Value {
    use serde_json::Value;
    use yaml_rust2::Yaml;
    match yaml {
        Yaml::Real(text) => {
            text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
        }
        Yaml::Integer(n) => Value::from(*n),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => expr::to_string(&to_json(other)),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML node {other:?}"),
    }
}

/// A git repository with a cargo package, as a user has it.
struct Repo {
    dir: tempfile::TempDir,
}

const MANIFEST: &str = "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[package.metadata.migrate]\ndir = \"migrations\"\n";

/// Three revisions, the last with two statements.
const REVISIONS: [(&str, &str, &str, &str); 3] = [
    (
        "a1a1a1a1a1a1",
        "",
        "create users",
        "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL);|DROP TABLE users;",
    ),
    (
        "b2b2b2b2b2b2",
        "a1a1a1a1a1a1",
        "create startups",
        "CREATE TABLE startups (id BIGINT PRIMARY KEY, founder BIGINT REFERENCES users (id));|DROP TABLE startups;",
    ),
    (
        "c3c3c3c3c3c3",
        "b2b2b2b2b2b2",
        "add user names",
        "ALTER TABLE users ADD COLUMN name TEXT;\nCREATE INDEX ix_users_name ON users (name);|DROP INDEX ix_users_name;\nALTER TABLE users DROP COLUMN name;",
    ),
];

impl Repo {
    fn new() -> Repo {
        let repo = Repo { dir: tempfile::tempdir().expect("a temporary directory") };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A repository with the package `app` at its root and [`REVISIONS`] pinned.
    fn with_app() -> Repo {
        let repo = Repo::new();
        repo.package(".", MANIFEST);
        for (id, parent, message, sql) in REVISIONS {
            repo.revision(".", id, parent, message, sql);
        }
        repo.lock(".");
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("directories");
        std::fs::write(path, text).expect("write");
    }

    fn package(&self, at: &str, manifest: &str) {
        self.write(&format!("{at}/Cargo.toml"), manifest);
        self.write(&format!("{at}/src/main.rs"), "fn main() {}\n");
    }

    /// A revision in `AT/migrations`; `sql` is `up|down`.
    fn revision(&self, at: &str, id: &str, parent: &str, message: &str, sql: &str) {
        let (up, down) = sql.split_once('|').expect("up|down");
        let slug = message.replace(' ', "_");
        self.write(
            &format!("{at}/migrations/{id}_{slug}.sql"),
            &format!("-- revision: {id}\n-- parents: {parent}\n-- message: {message}\n\n-- migrate:up\n{up}\n\n-- migrate:down\n{down}\n"),
        );
    }

    fn lock(&self, at: &str) {
        assert_exit(&cargo_migrate(&self.path().join(at), &["lock"]), 0);
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("git is installed");
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// `cargo migrate init ARGS` in `AT`.
    fn init(&self, at: &str, args: &[&str]) -> std::process::Output {
        let mut all = vec!["init"];
        all.extend(args);
        cargo_migrate(&self.path().join(at), &all)
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative)).unwrap_or_else(|e| panic!("read {relative}: {e}"))
    }

    fn workflows(&self) -> Vec<PathBuf> {
        ["migrate.yml", "deploy.yml", "migrations-pr.yml"]
            .iter()
            .map(|f| self.path().join(".github/workflows").join(f))
            .collect()
    }

    /// Every file below the root (but `.git`), for "nothing was written".
    fn files(&self) -> Vec<String> {
        let mut files: Vec<String> = walk(self.path())
            .into_iter()
            .map(|p| p.strip_prefix(self.path()).unwrap().display().to_string())
            .filter(|p| !p.starts_with(".git/"))
            .collect();
        files.sort();
        files
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            all.push(PathBuf::from(format!("{}/", path.display())));
            all.extend(walk(&path));
        } else {
            all.push(path);
        }
    }
    all
}

/// The `run:` lines of a workflow that call `cargo migrate`.
fn migrate_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .map(|l| l.strip_prefix("run: ").unwrap_or(l))
        .filter(|l| l.starts_with("cargo migrate ") || l.starts_with("cargo install "))
        .map(str::to_owned)
        .collect();
    lines.dedup();
    lines
}

// ---------------------------------------------------------------- init --ci

#[test]
fn init_ci_github_writes_the_three_workflows_and_says_what_to_set() {
    let repo = Repo::with_app();
    let output = repo.init(".", &["--ci", "github"]);
    insta::assert_snapshot!("init_ci_github", transcript(&output).replace(env!("CARGO_PKG_VERSION"), "[VERSION]"));
    for file in repo.workflows() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        insta::assert_snapshot!(
            name.clone(),
            std::fs::read_to_string(&file).unwrap().replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
        );
    }
}

#[test]
fn init_ci_github_deploy_cloud_run_writes_the_guides_deploy_jobs() {
    let repo = Repo::with_app();
    let output = repo.init(".", &["--ci", "github", "--deploy", "cloud-run"]);
    let (_, stderr) = assert_exit(&output, 0);
    assert!(
        stderr.contains("note: for Cloud Run, add the repository secrets WIF_PROVIDER_FULL_PATH and SA_EMAIL"),
        "{stderr}"
    );
    insta::assert_snapshot!(
        "deploy_cloud_run.yml",
        repo.read(".github/workflows/deploy.yml").replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
    );
}

#[test]
fn init_ci_github_again_keeps_identical_files_and_refuses_changed_ones_without_force() {
    let repo = Repo::with_app();
    assert_exit(&repo.init(".", &["--ci", "github"]), 0);
    let (_, stderr) = assert_exit(&repo.init(".", &["--ci", "github"]), 0);
    assert!(stderr.contains("   Unchanged .github/workflows/migrate.yml (as init writes it)\n"), "{stderr}");

    // One edited, one deleted: refused, naming the edited one, and the deleted one is not written either.
    let edited = repo.read(".github/workflows/deploy.yml").replace("timeout-minutes: 30", "timeout-minutes: 45");
    repo.write(".github/workflows/deploy.yml", &edited);
    std::fs::remove_file(repo.path().join(".github/workflows/migrate.yml")).unwrap();
    let before = repo.files();
    let output = repo.init(".", &["--ci", "github", "--deploy", "cloud-run"]);
    insta::assert_snapshot!("init_ci_github_refuses_a_changed_file", transcript(&output));
    assert_eq!(repo.files(), before, "nothing was written");
    assert_eq!(repo.read(".github/workflows/deploy.yml"), edited);

    let (_, stderr) = assert_exit(&repo.init(".", &["--ci", "github", "--force"]), 0);
    assert!(stderr.contains("     Created .github/workflows/migrate.yml"), "{stderr}");
    assert!(stderr.contains("    Replaced .github/workflows/deploy.yml"), "{stderr}");
    assert!(stderr.contains("   Unchanged .github/workflows/migrations-pr.yml"), "{stderr}");
    assert!(!repo.read(".github/workflows/deploy.yml").contains("timeout-minutes: 45"));
}

#[test]
fn init_ci_refuses_bad_arguments_with_exit_code_2_and_writes_nothing() {
    let repo = Repo::new();
    repo.package(".", "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    let before = repo.files();
    let mut transcripts = String::new();
    for args in [
        &["--ci", "gitlab"][..],
        &["--ci", "github", "--deploy", "heroku"],
        &["--deploy", "cloud-run"],
        &["--force"],
        &["--ci", "github", "--path", "nowhere"],
    ] {
        let output = repo.init(".", args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", transcript(&output));
        transcripts.push_str(&format!("$ cargo migrate init {}\n{}\n", args.join(" "), transcript(&output)));
        assert_eq!(repo.files(), before, "{args:?} wrote nothing");
    }
    // A file where the workflows' directory should be.
    repo.write(".github", "not a directory\n");
    let before = repo.files();
    let output = repo.init(".", &["--ci", "github"]);
    transcripts.push_str(&format!("$ cargo migrate init --ci github\n{}", transcript(&output)));
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(repo.files(), before, "nothing was written, not even migrations/");
    insta::assert_snapshot!("init_ci_bad_arguments", transcripts.replace(&repo.path().display().to_string(), "[REPO]"));
}

#[test]
fn environments_come_from_the_manifest_each_with_its_secret() {
    let repo = Repo::new();
    repo.package(
        ".",
        &format!(
            "{MANIFEST}\n[package.metadata.migrate.environments.staging]\nurl-env = \"STAGING_DATABASE_URL\"\n\n\
             [package.metadata.migrate.environments.production]\n\n[package.metadata.migrate.environments.qa]\nurl-env = \"QA_DATABASE_URL\"\n"
        ),
    );
    let (_, stderr) = assert_exit(&repo.init(".", &["--ci", "github"]), 0);
    assert!(
        stderr.contains("create the environments staging and production and qa (Settings > Environments), with the secrets staging with STAGING_DATABASE_URL, production with DATABASE_URL, qa with QA_DATABASE_URL"),
        "{stderr}"
    );
    // The other commands take the table as part of the configuration, without a warning.
    let (_, stderr) = assert_exit(&cargo_migrate(repo.path(), &["check"]), 0);
    assert_eq!(stderr, "     Checked 0 revisions in migrations, 0 heads, 0 pinned\n");
    let migrate = yaml(&repo.read(".github/workflows/migrate.yml")).unwrap();
    let environment = &migrate["on"]["workflow_dispatch"]["inputs"]["environment"];
    assert_eq!(environment["options"], serde_json::json!(["staging", "production", "qa"]));
    assert_eq!(environment["default"], "production");
    assert_eq!(
        migrate["jobs"]["migrate"]["env"]["DATABASE_URL"],
        r#"${{ secrets[fromJSON('{"staging":"STAGING_DATABASE_URL","production":"DATABASE_URL","qa":"QA_DATABASE_URL"}')[inputs.environment]] }}"#
    );
    let deploy = yaml(&repo.read(".github/workflows/deploy.yml")).unwrap();
    let check = deploy["jobs"]["deploy-backend"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["run"] == "cargo migrate check --no-models")
        .unwrap();
    assert_eq!(check["env"]["DATABASE_URL"], "${{ secrets.DATABASE_URL }}", "production's secret");
    assert!(
        deploy["jobs"]["deploy-backend"]["env"].get("DATABASE_URL").is_none(),
        "only the steps that use it have the URL"
    );
    assert_eq!(deploy["jobs"]["migrate"]["with"]["environment"], "production");

    // The workspace's table, when the configuration is the workspace's.
    let repo = Repo::new();
    repo.write("Cargo.toml", "[workspace]\nmembers = []\n\n[workspace.metadata.migrate]\ndir = \"db\"\n\n[workspace.metadata.migrate.environments.prod]\nurl-env = \"PROD_URL\"\n");
    assert_exit(&repo.init(".", &["--ci", "github"]), 0);
    let migrate = yaml(&repo.read(".github/workflows/migrate.yml")).unwrap();
    assert_eq!(migrate["on"]["workflow_dispatch"]["inputs"]["environment"]["options"], serde_json::json!(["prod"]));
    assert_eq!(migrate["jobs"]["migrate"]["env"]["DATABASE_URL"], "${{ secrets.PROD_URL }}");
    assert_eq!(
        yaml(&repo.read(".github/workflows/migrations-pr.yml")).unwrap()["on"]["pull_request"]["paths"],
        serde_json::json!(["db/**", "schema.sql", ".github/workflows/migrations-pr.yml"])
    );
}

#[test]
fn a_bad_environments_table_is_refused_naming_the_manifest() {
    let mut transcripts = String::new();
    for table in [
        "[package.metadata.migrate.environments]\nstaging = \"STAGING_URL\"\n",
        "[package.metadata.migrate.environments.staging]\nurl_env = \"STAGING_URL\"\n",
        "[package.metadata.migrate.environments.staging]\nurl-env = \"staging url\"\n",
        "[package.metadata.migrate.environments.\"my env\"]\n",
    ] {
        let repo = Repo::new();
        repo.package(".", &format!("{MANIFEST}\n{table}"));
        let before = repo.files();
        let output = repo.init(".", &["--ci", "github"]);
        assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
        assert_eq!(repo.files(), before);
        transcripts.push_str(&format!("{table}{}\n", transcript(&output)));
    }
    insta::assert_snapshot!("bad_environments", transcripts);
}

#[test]
fn the_workflows_select_the_package_as_the_repository_runs_cargo_migrate() {
    let mut found = String::new();
    // A package in a subdirectory, alone.
    let repo = Repo::new();
    repo.package("backend", "[package]\nname = \"api\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[package.metadata.migrate]\nschema = \"db/schema.sql\"\n");
    assert_exit(&repo.init("backend", &["--ci", "github"]), 0);
    // A member of a workspace at the root.
    let workspace = Repo::new();
    workspace.write("Cargo.toml", "[workspace]\nmembers = [\"api\", \"web\"]\nresolver = \"2\"\n");
    workspace.package("api", "[package]\nname = \"api\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    workspace.package("web", "[package]\nname = \"web\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    assert_exit(&workspace.init(".", &["-p", "api", "--ci", "github"]), 0);
    // A workspace in a subdirectory of the repository; installed from a checkout inside it.
    let nested = Repo::new();
    nested.write("services/Cargo.toml", "[workspace]\nmembers = [\"api\", \"web\"]\nresolver = \"2\"\n");
    nested.package("services/api", "[package]\nname = \"api\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    nested.package("services/web", "[package]\nname = \"web\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    nested.write("vendor/cargo-migrate/cargo-migrate/Cargo.toml", "[package]\nname = \"cargo-migrate\"\n");
    assert_exit(&nested.init("services/api", &["--ci", "github", "--path", "../../vendor/cargo-migrate"]), 0);
    // Installed from git.
    let from_git = Repo::with_app();
    assert_exit(&from_git.init(".", &["--ci", "github", "--git", "https://example.com/cargo-migrate.git"]), 0);

    for (label, repo) in [
        ("backend/ alone", &repo),
        ("workspace member api", &workspace),
        ("services/ workspace", &nested),
        ("--git", &from_git),
    ] {
        let pr = yaml(&repo.read(".github/workflows/migrations-pr.yml")).unwrap();
        found.push_str(&format!(
            "## {label}\npaths: {}\n{}\n\n",
            pr["on"]["pull_request"]["paths"],
            migrate_lines(&repo.read(".github/workflows/migrate.yml"))
                .join("\n")
                .replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
        ));
    }
    insta::assert_snapshot!("conventions", found);
    // The flags select the project from the repository root, where the runner runs them.
    for repo in [&repo, &workspace, &nested, &from_git] {
        let migrate = repo.read(".github/workflows/migrate.yml");
        let status = migrate_lines(&migrate).into_iter().find(|l| l.ends_with(" status")).unwrap();
        let flags: Vec<&str> =
            status.trim_start_matches("cargo migrate").trim_end_matches("status").split_whitespace().collect();
        let mut args = flags.clone();
        args.push("history");
        assert_exit(&cargo_migrate(repo.path(), &args), 0);
    }
    let nested_migrate = nested.read(".github/workflows/migrate.yml");
    assert!(nested_migrate.contains("hashFiles('vendor/cargo-migrate/Cargo.lock', 'vendor/cargo-migrate/**/Cargo.toml', 'vendor/cargo-migrate/**/*.rs')"), "{nested_migrate}");
}

#[test]
fn a_path_outside_the_repository_cannot_be_installed_from() {
    let repo = Repo::with_app();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("cargo-migrate")).unwrap();
    std::fs::write(outside.path().join("cargo-migrate/Cargo.toml"), "[package]\nname = \"cargo-migrate\"\n").unwrap();
    let output = repo.init(".", &["--ci", "github", "--path", &outside.path().display().to_string()]);
    let (_, stderr) = assert_exit(&output, 2);
    assert_eq!(
        stderr
            .replace(&outside.path().display().to_string(), "[OUTSIDE]")
            .replace(&repo.path().canonicalize().unwrap().display().to_string(), "[REPO]"),
        "error: the `--path` checkout of cargo-migrate `[OUTSIDE]` is outside the repository `[REPO]`, which is all a GitHub runner checks out\n  \
         help: a runner has only this repository: install from `--git URL` instead, or from crates.io (neither flag)\n"
    );
    assert!(!repo.path().join(".github").exists());
}

// ---------------------------------------------------------------- actionlint

#[test]
fn actionlint_passes_every_variant_of_the_workflows() {
    let mut files = Vec::new();
    let mut repos = Vec::new();
    for deploy in ["none", "cloud-run"] {
        for environments in [false, true] {
            for subdirectory in [false, true] {
                let repo = Repo::new();
                let at = if subdirectory { "backend" } else { "." };
                let extra = if environments {
                    "\n[package.metadata.migrate.environments.staging]\nurl-env = \"STAGING_DATABASE_URL\"\n[package.metadata.migrate.environments.production]\n"
                } else {
                    ""
                };
                repo.package(at, &format!("{MANIFEST}{extra}"));
                assert_exit(&repo.init(at, &["--ci", "github", "--deploy", deploy]), 0);
                files.extend(repo.workflows());
                repos.push(repo);
            }
        }
    }
    assert_eq!(files.len(), 24);
    assert_eq!(actionlint::lint(&files), "", "actionlint found problems");
    // Every script parses as bash (the runner executes the root package's; actionlint has no shellcheck here).
    for file in &files {
        let workflow = yaml(&std::fs::read_to_string(file).unwrap()).unwrap();
        for (id, job) in workflow["jobs"].as_object().unwrap() {
            for step in job["steps"].as_array().into_iter().flatten() {
                if let Some(script) = step["run"].as_str() {
                    let output = Command::new("bash").args(["-n", "-c", script]).output().unwrap();
                    assert!(
                        output.status.success(),
                        "{}: {id}: {}\n{script}",
                        file.display(),
                        String::from_utf8_lossy(&output.stderr)
                    );
                    assert!(!script.contains("${{"), "{}: {id}: an expression inside a script", file.display());
                }
            }
        }
    }
}

/// The step that masks the URL's host and password, run alone on URLs of every form.
#[test]
fn the_urls_host_and_password_are_masked_whatever_its_form() {
    let repo = Repo::with_app();
    assert_exit(&repo.init(".", &["--ci", "github"]), 0);
    let workflow = yaml(&repo.read(".github/workflows/migrate.yml")).unwrap();
    let step = workflow["jobs"]["migrate"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Check the database URL and mask its parts")
        .unwrap();
    let script = step["run"].as_str().unwrap();
    let mut found = String::new();
    for url in [
        "postgresql://neondb_owner:npg_S3cr%40t@ep-cool-darkness-a1b2c3d4.eu-central-1.aws.neon.tech/neondb?sslmode=require",
        "postgres://app@db.internal:6432/app",
        "postgres://[2001:db8::1]:5432/app",
        "postgresql+psycopg2://u:p4ss@10.0.0.7/app",
        "host=db.example.com port=5432 user=app password='s e c' dbname=app",
        "postgres:///app?host=/var/run/postgresql&password=pw",
        "",
    ] {
        let output = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .env("DATABASE_URL", url)
            .env("MIGRATE_ENVIRONMENT", "production")
            .output()
            .unwrap();
        found.push_str(&format!(
            "{url}\n{}{}\n",
            String::from_utf8_lossy(&output.stdout),
            output.status.code().map_or(String::new(), |c| format!("exit {c}"))
        ));
    }
    insta::assert_snapshot!("masks", found);
}

#[test]
fn actionlint_finds_problems_when_there_are_some() {
    // The check above would pass with a linter that never complains.
    let repo = Repo::with_app();
    assert_exit(&repo.init(".", &["--ci", "github"]), 0);
    let broken = repo.read(".github/workflows/deploy.yml").replace("needs: migrate\n", "needs: migrat\n");
    repo.write(".github/workflows/deploy.yml", &broken);
    let found = actionlint::lint(&[repo.path().join(".github/workflows/deploy.yml")]);
    assert!(
        found.contains("job \"deploy-backend\" needs job \"migrat\" which does not exist in this workflow"),
        "{found}"
    );
}

#[test]
fn actionlint_passes_this_repositorys_ci_workflow() {
    let ci = repo_root().join(".github/workflows/ci.yml");
    assert_eq!(actionlint::lint(std::slice::from_ref(&ci)), "", "actionlint found problems");
    let workflow = yaml(&std::fs::read_to_string(&ci).unwrap()).unwrap();
    let job = &workflow["jobs"]["test"];
    assert_eq!(job["services"]["postgres"]["image"], "postgres:15");
    assert!(job["env"]["MIGRATE_TEST_POSTGRES"].as_str().is_some_and(|u| u.starts_with("postgres://")));
    let runs: Vec<&str> = job["steps"].as_array().unwrap().iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(runs.iter().any(|r| r.trim() == "cargo xtask test"), "{runs:?}");
    assert!(
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/cache@")))
    );
}

// ---------------------------------------------------------------- runs

/// A repository with the app, its workflows and a database for the
/// `production` environment's DATABASE_URL secret.
struct Setup {
    repo: Repo,
    db: TestDatabase,
    runner: Runner,
}

/// The password put in the secret URL; the test server trusts the user,
/// so any password connects, and none may appear in a log or summary.
const PASSWORD: &str = "pw-hunter2-ci";

impl Setup {
    fn new(label: &str, init: &[&str]) -> Setup {
        Setup::with_repo(Repo::with_app(), label, init)
    }

    fn with_repo(repo: Repo, label: &str, init: &[&str]) -> Setup {
        let mut args = vec!["--ci", "github"];
        args.extend(init);
        assert_exit(&repo.init(".", &args), 0);
        let db = TestDatabase::create(label);
        let mut runner = Runner::new(repo.path());
        let url = if db.url.contains("postgres@") {
            db.url.replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1)
        } else {
            db.url.clone()
        };
        runner.environment_secrets.insert("production".into(), [("DATABASE_URL".to_owned(), url)].into());
        Setup { repo, db, runner }
    }

    fn current(&self) -> Vec<String> {
        let table = self.db.query("SELECT count(*) FROM pg_tables WHERE tablename = 'migrate_versions'");
        if table[0][0].as_deref() == Some("0") {
            return Vec::new();
        }
        self.db
            .query("SELECT revision FROM migrate_versions WHERE state = 'applied' ORDER BY revision")
            .into_iter()
            .map(|r| r[0].clone().unwrap())
            .collect()
    }

    /// The log and the summaries with what varies between runs replaced.
    fn redact(&self, text: &str) -> String {
        let server = postgres_server_url();
        let port = server.rsplit_once(':').and_then(|(_, rest)| rest.split('/').next()).unwrap_or("5432").to_owned();
        let host =
            server.split('@').nth(1).and_then(|rest| rest.split([':', '/']).next()).unwrap_or("localhost").to_owned();
        let mut text = text.to_owned();
        for (from, to) in [
            (format!("@{host}:"), "@[HOST]:".to_owned()),
            (self.runner.temp_root().display().to_string(), "[RUNNER]".to_owned()),
            (self.repo.path().display().to_string(), "[REPO]".to_owned()),
            (self.db.name.clone(), "[DB]".to_owned()),
            (format!(":{port}/"), ":[PORT]/".to_owned()),
            (env!("CARGO_PKG_VERSION").to_owned(), "[VERSION]".to_owned()),
        ] {
            text = text.replace(&from, &to);
        }
        let lines: Vec<String> = text
            .lines()
            .map(|line| {
                // The server's version and whether the session is encrypted differ between machines.
                if let Some(at) =
                    line.find("PostgreSQL ").filter(|at| line[at + 11..].starts_with(|c: char| c.is_ascii_digit()))
                {
                    let end = line[at..].find(" |").map_or(line.len(), |e| at + e);
                    let close = if end == line.len() && line.ends_with(')') { ")" } else { "" };
                    return format!("{}[SERVER]{close}{}", &line[..at], &line[end..]);
                }
                for key in ["tls:", "| tls |", "| TLS |"] {
                    if let Some(at) = line.find(key) {
                        let rest = &line[at + key.len()..];
                        let spaces = &rest[..rest.len() - rest.trim_start().len()];
                        let end = if key.starts_with('|') { " |" } else { "" };
                        return format!("{}{key}{spaces}[TLS]{end}", &line[..at]);
                    }
                }
                line.to_owned()
            })
            .collect();
        crate::redact_times(&(lines.join("\n") + "\n"))
    }

    fn assert_no_secret(&self, run: &Run) {
        for text in [&run.raw_log, &run.summary] {
            assert!(!text.contains(PASSWORD), "the password leaked:\n{text}");
        }
        assert!(
            !run.log.contains("127.0.0.1") && !run.log.contains("@localhost"),
            "the host is masked in the log:\n{}",
            run.log
        );
    }
}

fn dispatch(setup: &mut Setup, action: &'static str, target: &'static str) -> Run {
    let mut inputs = vec![("environment", "production"), ("action", action)];
    if !target.is_empty() {
        inputs.push(("target", target));
    }
    let run = setup.runner.run("migrate.yml", Event::Dispatch(inputs));
    setup.assert_no_secret(&run);
    run
}

#[test]
fn migrate_status_shows_the_database_and_changes_nothing() {
    let mut setup = Setup::new("gh_status", &[]);
    let run = dispatch(&mut setup, "status", "");
    assert_eq!(run.jobs["migrate"].result, "success", "{}", run.log);
    assert!(setup.current().is_empty());
    insta::assert_snapshot!("run_status_log", setup.redact(&run.log));
    insta::assert_snapshot!("run_status_summary", setup.redact(&run.summary));
}

#[test]
fn migrate_sql_uploads_the_pending_sql_as_an_artifact() {
    let mut setup = Setup::new("gh_sql", &[]);
    assert_exit(&cargo_migrate(setup.repo.path(), &["upgrade", "a1a1", "--database-url", &setup.db.url]), 0);
    let run = dispatch(&mut setup, "sql", "");
    assert_eq!(run.jobs["migrate"].result, "success", "{}", run.log);
    let sql = std::fs::read_to_string(setup.runner.artifacts().join("migration-sql-production/migration.sql")).unwrap();
    assert!(sql.contains("-- Applying b2b2b2b2b2b2") && sql.contains("-- Applying c3c3c3c3c3c3"), "{sql}");
    assert!(!sql.contains("-- Applying a1a1a1a1a1a1"), "only what is pending:\n{sql}");
    assert_eq!(setup.current(), ["a1a1a1a1a1a1"], "sql runs nothing");
    insta::assert_snapshot!("run_sql_artifact", sql);
    insta::assert_snapshot!("run_sql_log", setup.redact(&run.log));
    insta::assert_snapshot!("run_sql_summary", setup.redact(&run.summary));
}

#[test]
fn migrate_dry_run_executes_and_commits_nothing() {
    let mut setup = Setup::new("gh_dryrun", &[]);
    let run = dispatch(&mut setup, "dry-run", "");
    assert_eq!(run.jobs["migrate"].result, "success", "{}", run.log);
    assert!(setup.current().is_empty(), "still at base");
    assert!(setup.db.tables().iter().all(|t| t == "migrate_versions"), "{:?}", setup.db.tables());
    insta::assert_snapshot!("run_dry_run_log", setup.redact(&run.log));
    insta::assert_snapshot!("run_dry_run_summary", setup.redact(&run.summary));
}

#[test]
fn migrate_upgrade_applies_to_head() {
    let mut setup = Setup::new("gh_upgrade", &[]);
    let run = dispatch(&mut setup, "upgrade", "");
    assert_eq!(run.jobs["migrate"].result, "success", "{}", run.log);
    assert_eq!(setup.current(), ["a1a1a1a1a1a1", "b2b2b2b2b2b2", "c3c3c3c3c3c3"]);
    assert_eq!(run.jobs["migrate"].outputs["revisions"], "c3c3c3c3c3c3");
    insta::assert_snapshot!("run_upgrade_log", setup.redact(&run.log));
    insta::assert_snapshot!("run_upgrade_summary", setup.redact(&run.summary));
}

#[test]
fn migrate_downgrade_with_an_empty_target_steps_back_one() {
    let mut setup = Setup::new("gh_downgrade", &[]);
    assert_exit(&cargo_migrate(setup.repo.path(), &["upgrade", "--database-url", &setup.db.url]), 0);
    let run = dispatch(&mut setup, "downgrade", "");
    assert_eq!(run.jobs["migrate"].result, "success", "{}", run.log);
    assert_eq!(setup.current(), ["a1a1a1a1a1a1", "b2b2b2b2b2b2"]);
    let sql = std::fs::read_to_string(setup.runner.artifacts().join("migration-sql-production/migration.sql")).unwrap();
    assert!(sql.contains("-- Reverting c3c3c3c3c3c3") && !sql.contains("b2b2b2b2b2b2:"), "{sql}");
    insta::assert_snapshot!("run_downgrade_log", setup.redact(&run.log));
    insta::assert_snapshot!("run_downgrade_summary", setup.redact(&run.summary));
}

#[test]
fn migrate_refuses_a_target_that_could_inject_workflow_commands() {
    let mut setup = Setup::new("gh_target", &[]);
    let run = dispatch(&mut setup, "upgrade", "head\n::warning::x");
    assert_eq!(run.jobs["migrate"].result, "failure", "{}", run.log);
    assert!(
        run.log.contains("::error::the target must be a revision, a branch label, head, base, +N, -N or a release tag"),
        "{}",
        run.log
    );
    assert!(run.log.contains("The run failed before it changed anything."), "{}", run.log);
    assert!(setup.current().is_empty());
}

/// A revision after the three that fails on its second statement (line 7).
const FAILING: (&str, &str, &str, &str) = (
    "d4d4d4d4d4d4",
    "c3c3c3c3c3c3",
    "add startup tagline",
    "ALTER TABLE startups ADD COLUMN tagline TEXT;\nALTER TABLE startup ADD COLUMN motto TEXT;|ALTER TABLE startups DROP COLUMN tagline;",
);

fn failing_repo(transaction_false: bool) -> Repo {
    let repo = Repo::with_app();
    let (id, parent, message, sql) = FAILING;
    repo.revision(".", id, parent, message, sql);
    if transaction_false {
        let path = format!("migrations/{id}_add_startup_tagline.sql");
        let text = repo
            .read(&path)
            .replace("-- message: add startup tagline\n", "-- message: add startup tagline\n-- transaction: false\n");
        repo.write(&path, &text);
    }
    repo.lock(".");
    repo
}

#[test]
fn deploy_with_a_failing_revision_migrates_what_it_can_deploys_nothing_and_says_how_to_roll_back() {
    let mut setup = Setup::with_repo(failing_repo(false), "gh_deployfail", &[]);
    assert_exit(&cargo_migrate(setup.repo.path(), &["upgrade", "a1a1", "--database-url", &setup.db.url]), 0);
    let run = setup.runner.run("deploy.yml", Event::Push);
    setup.assert_no_secret(&run);
    let results: Vec<(String, String)> = run.jobs.iter().map(|(k, v)| (k.clone(), v.result.clone())).collect();
    assert_eq!(
        results,
        [
            ("deploy-backend", "skipped"),
            ("deploy-frontend", "skipped"),
            ("migrate", "failure"),
            ("migrate/migrate", "failure"),
            ("summary", "success"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
        "{}",
        run.log
    );
    // Each revision commits on its own: the two before the failing one stay applied.
    assert_eq!(setup.current(), ["a1a1a1a1a1a1", "b2b2b2b2b2b2", "c3c3c3c3c3c3"]);
    for needle in [
        "migrations/d4d4d4d4d4d4_add_startup_tagline.sql:7",
        "revision `d4d4d4d4d4d4` failed",
        "relation \"startup\" does not exist",
        "cargo migrate downgrade a1a1a1a1a1a1",
        "The migration did not succeed, so nothing was deployed",
    ] {
        assert!(run.summary.contains(needle), "the summary has `{needle}`:\n{}", run.summary);
    }
    insta::assert_snapshot!("run_deploy_failure_log", setup.redact(&run.log));
    insta::assert_snapshot!("run_deploy_failure_summary", setup.redact(&run.summary));
}

#[test]
fn a_revision_that_fails_outside_a_transaction_gets_the_resolve_commands() {
    let mut setup = Setup::with_repo(failing_repo(true), "gh_resolve", &[]);
    assert_exit(&cargo_migrate(setup.repo.path(), &["upgrade", "c3c3", "--database-url", &setup.db.url]), 0);
    let run = dispatch(&mut setup, "upgrade", "");
    assert_eq!(run.jobs["migrate"].result, "failure", "{}", run.log);
    for needle in [
        "Revision `d4d4d4d4d4d4` stopped part-way outside a transaction",
        "cargo migrate resolve d4d4d4d4d4d4 --applied",
        "cargo migrate resolve d4d4d4d4d4d4 --rolled-back",
    ] {
        assert!(run.summary.contains(needle), "the summary has `{needle}`:\n{}", run.summary);
        assert!(run.log.contains(needle), "the log has `{needle}`:\n{}", run.log);
    }
}

#[test]
fn deploy_to_cloud_run_migrates_checks_deploys_both_and_sums_up() {
    let mut setup = Setup::new("gh_cloudrun", &["--deploy", "cloud-run"]);
    let record = setup.runner.temp_root().join("commands.log");
    for program in ["gcloud", "docker"] {
        setup.runner.add_program(
            program,
            &format!("#!/bin/sh\necho \"{program} $*\" >> '{}'\necho \"{program} $*\"\n", record.display()),
        );
    }
    setup.runner.secrets.insert(
        "WIF_PROVIDER_FULL_PATH".into(),
        "projects/123/locations/global/workloadIdentityPools/pool/providers/github".into(),
    );
    setup.runner.secrets.insert("SA_EMAIL".into(), "deployer@startup-connect.iam.gserviceaccount.com".into());
    for (key, value) in [
        ("GCP_PROJECT_ID", "startup-connect"),
        ("GCP_REGION", "europe-west1"),
        ("AR_REPO_NAME", "apps"),
        ("IMAGE_NAME", "backend-app"),
        ("IMAGE_NAME_SV", "frontend-app"),
        ("CLOUD_RUN_SERVICE_NAME", "backend-service"),
        ("CLOUD_RUN_SERVICE_NAME_SV", "frontend-service"),
    ] {
        setup.runner.vars.insert(key.into(), value.into());
    }
    let run = setup.runner.run("deploy.yml", Event::Push);
    setup.assert_no_secret(&run);
    assert!(run.jobs.values().all(|j| j.result == "success"), "{}", run.log);
    assert_eq!(setup.current(), ["a1a1a1a1a1a1", "b2b2b2b2b2b2", "c3c3c3c3c3c3"]);
    assert_eq!(run.jobs["deploy-backend"].outputs["url"], "https://backend-service-europe-west1.example.run.app");
    assert_eq!(run.jobs["deploy-frontend"].outputs["url"], "https://frontend-service-europe-west1.example.run.app");
    insta::assert_snapshot!("run_cloud_run_commands", std::fs::read_to_string(&record).unwrap());
    insta::assert_snapshot!("run_cloud_run_log", setup.redact(&run.log));
    insta::assert_snapshot!("run_cloud_run_summary", setup.redact(&run.summary));
}

#[test]
fn deploy_backend_refuses_a_database_that_is_not_at_head() {
    // The backend's own check, without the migrate job before it.
    let mut setup = Setup::new("gh_notathead", &[]);
    let deploy = setup
        .repo
        .read(".github/workflows/deploy.yml")
        .replace("    needs: migrate\n", "")
        .replace(
            "  migrate:\n    name: Migrate the database\n    uses: ./.github/workflows/migrate.yml\n    with:\n      environment: production\n      action: upgrade\n      target: head\n    secrets: inherit\n\n",
            "",
        )
        .replace("needs: [migrate, deploy-backend, deploy-frontend]", "needs: [deploy-backend, deploy-frontend]")
        .replace("${{ needs.migrate.result }}", "skipped")
        .replace("${{ needs.migrate.outputs.revisions }}", "");
    assert!(!deploy.contains("uses: ./.github/workflows/migrate.yml"), "{deploy}");
    setup.repo.write(".github/workflows/deploy.yml", &deploy);
    let run = setup.runner.run("deploy.yml", Event::Push);
    assert_eq!(run.jobs["deploy-backend"].result, "failure", "{}", run.log);
    assert_eq!(run.jobs["deploy-frontend"].result, "skipped");
    assert!(run.log.contains("revision `a1a1a1a1a1a1` is not applied to"), "{}", run.log);
    assert!(setup.current().is_empty());
}

/// A pull request whose revision's down section does not restore the
/// schema fails at the verify step, which names the revision and the
/// difference; the steps after it do not run.
#[test]
fn pull_request_workflow_fails_on_a_down_section_that_does_not_restore_the_schema() {
    let (run, _) = pull_request_adding_a_tagline("SELECT 1;", "gh_pr_verify");
    assert_eq!(run.jobs["migrations"].result, "failure", "{}", run.log);
    let verify =
        run.log.split("--- Verify the down sections of this pull request's revisions").nth(1).unwrap_or_default();
    assert!(verify.contains("d4d4d4d4d4d4") && verify.contains("tagline"), "{}", run.log);
    assert!(run.log.contains("--- The SQL of this pull request's revisions: skipped"), "{}", run.log);
}

/// The pull-request workflow run on a repository whose pull request adds
/// revision `d4d4d4d4d4d4` (a startup tagline column, reverted by `down`).
fn pull_request_adding_a_tagline(down: &str, label: &str) -> (Run, Setup) {
    let repo = Repo::with_app();
    assert_exit(&repo.init(".", &["--ci", "github"]), 0);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "base"]);
    let base = repo.git(&["rev-parse", "HEAD"]);
    repo.revision(
        ".",
        "d4d4d4d4d4d4",
        "c3c3c3c3c3c3",
        "add startup tagline",
        &format!("ALTER TABLE startups ADD COLUMN tagline TEXT;|{down}"),
    );
    repo.lock(".");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "add a revision"]);
    let head = repo.git(&["rev-parse", "HEAD"]);
    let db = TestDatabase::create(label);
    let mut runner = Runner::new(repo.path());
    runner.services.insert("postgres".into(), [("DATABASE_URL".to_owned(), db.url.clone())].into());
    let run = runner.run("migrations-pr.yml", Event::PullRequest { base, head });
    (run, Setup { repo, db, runner })
}

#[test]
fn pull_request_workflow_upgrades_checks_downgrades_and_shows_the_prs_sql() {
    let (run, setup) = pull_request_adding_a_tagline("ALTER TABLE startups DROP COLUMN tagline;", "gh_pr");
    assert_eq!(run.jobs["migrations"].result, "success", "{}", run.log);
    let applied = setup.db.query("SELECT count(*) FROM migrate_versions WHERE state = 'applied'");
    assert_eq!(applied[0][0].as_deref(), Some("4"));
    assert!(
        run.summary.contains("### SQL of this pull request's revisions (`c3c3c3c3c3c3` to head)"),
        "{}",
        run.summary
    );
    assert!(run.summary.contains("```sql") && run.summary.contains("ADD COLUMN tagline"), "{}", run.summary);
    assert!(!run.summary.contains("CREATE TABLE users"), "only the pull request's revisions:\n{}", run.summary);
    insta::assert_snapshot!("run_pull_request_log", setup.redact(&run.log));
    insta::assert_snapshot!("run_pull_request_summary", setup.redact(&run.summary));
}
