//! The three GitHub Actions workflows: `migrate.yml` (run by hand, or
//! reused), `deploy.yml` (migrate, then deploy, on push to main) and
//! `migrations-pr.yml` (pull requests).

use crate::ci::project::{Install, Layout};
use crate::ci::template::{Values, indent_rest, render, yaml_quoted};
use crate::cli::DeployTarget;

const MIGRATE: &str = include_str!("templates/migrate.yml");
const DEPLOY: &str = include_str!("templates/deploy.yml");
const PULL_REQUEST: &str = include_str!("templates/migrations-pr.yml");
const INSTALL: &str = include_str!("templates/install.yml");
const URL_CHECK: &str = include_str!("templates/url-check.yml");
const URL_PARTS: &str = include_str!("templates/url-parts.sh");
const FAILURE: &str = include_str!("templates/failure.sh");
const NONE_BACKEND: &str = include_str!("templates/deploy-none-backend.yml");
const NONE_FRONTEND: &str = include_str!("templates/deploy-none-frontend.yml");
const CLOUD_RUN: &str = include_str!("templates/deploy-cloud-run.yml");

/// The version the workflows install: this binary's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where each workflow goes, below the repository root.
pub const MIGRATE_PATH: &str = ".github/workflows/migrate.yml";
pub const DEPLOY_PATH: &str = ".github/workflows/deploy.yml";
pub const PULL_REQUEST_PATH: &str = ".github/workflows/migrations-pr.yml";

/// Steps are list items six spaces in (`jobs.ID.steps`).
const STEP_INDENT: usize = 6;

/// The workflows' files: (path below the root, content, what it does).
pub fn workflows(layout: &Layout, deploy: DeployTarget) -> Vec<(&'static str, String, &'static str)> {
    vec![
        (MIGRATE_PATH, migrate(layout), "Run Database Migrations: status, sql, dry-run, upgrade or downgrade, by hand"),
        (
            DEPLOY_PATH,
            self::deploy(layout, deploy),
            "on push to main: migrate, then deploy the backend and the frontend",
        ),
        (
            PULL_REQUEST_PATH,
            pull_request(layout),
            "pull requests: upgrade, check, downgrade and upgrade again on PostgreSQL 15",
        ),
    ]
}

/// The placeholders every template shares.
fn common(layout: &Layout) -> Values {
    let mut values = Values::default();
    values
        .set("version", VERSION)
        .set("migrate", layout.command.as_str())
        .set("url_variable", layout.url_variable.as_str())
        .set("install_steps", indent_rest(&install_steps(layout), STEP_INDENT));
    values
}

fn install_steps(layout: &Layout) -> String {
    let (command, key) = match &layout.install {
        Install::CratesIo => (
            format!("cargo install --locked cargo-migrate --version {VERSION}"),
            format!("cargo-migrate-{VERSION}-${{{{ runner.os }}}}"),
        ),
        Install::Git(url) => (
            format!("cargo install --locked --git {} cargo-migrate", crate::ci::template::shell_word(url)),
            format!("cargo-migrate-{VERSION}-git-${{{{ runner.os }}}}"),
        ),
        Install::Path(repo) => {
            let source = if repo == "." { String::new() } else { format!("{repo}/") };
            (
                format!(
                    "cargo install --locked --path {}",
                    crate::ci::template::shell_word(&format!("{source}cargo-migrate"))
                ),
                // A checkout changes without a version bump: key the binary by its sources.
                format!(
                    "cargo-migrate-{VERSION}-${{{{ runner.os }}}}-${{{{ hashFiles('{source}Cargo.lock', '{source}**/Cargo.toml', '{source}**/*.rs') }}}}"
                ),
            )
        }
    };
    let mut values = Values::default();
    values.set("version", VERSION).set("install_command", command).set("cache_key", key);
    render(INSTALL, &values)
}

/// `${{ secrets.NAME }}`, or for environments with secrets of their own
/// names, the secret picked by the environment from a fixed map (an
/// environment missing from it gets none, never another one's).
fn url_secret(layout: &Layout, environment: Option<&str>) -> String {
    match (layout.one_secret(), environment) {
        (Some(secret), _) => format!("${{{{ secrets.{secret} }}}}"),
        (None, Some(name)) => {
            let secret = &layout.environments.iter().find(|e| e.name == name).expect("a known environment").secret;
            format!("${{{{ secrets.{secret} }}}}")
        }
        (None, None) => {
            let map: Vec<String> =
                layout.environments.iter().map(|e| format!("\"{}\":\"{}\"", e.name, e.secret)).collect();
            format!("${{{{ secrets[fromJSON('{{{}}}')[inputs.environment]] }}}}", map.join(","))
        }
    }
}

/// The sentence after "DATABASE_URL is empty: ".
fn missing_secret(layout: &Layout, environment: Option<&str>) -> String {
    let settings = "(Settings > Environments > $MIGRATE_ENVIRONMENT > Environment secrets)";
    match (layout.one_secret(), environment) {
        (Some(secret), _) => {
            format!("add the secret {secret} to the GitHub environment $MIGRATE_ENVIRONMENT {settings}")
        }
        (None, Some(name)) => {
            let secret = &layout.environments.iter().find(|e| e.name == name).expect("a known environment").secret;
            format!("add the secret {secret} to the GitHub environment $MIGRATE_ENVIRONMENT {settings}")
        }
        (None, None) => {
            let pairs: Vec<String> =
                layout.environments.iter().map(|e| format!("{} for {}", e.secret, e.name)).collect();
            format!(
                "add the environment's secret ({}) to the GitHub environment $MIGRATE_ENVIRONMENT {settings}",
                pairs.join(", ")
            )
        }
    }
}

fn url_parts(layout: &Layout) -> String {
    let mut values = Values::default();
    values.set("url_variable", layout.url_variable.as_str());
    render(URL_PARTS, &values).trim_end().to_owned()
}

/// The step that refuses an empty URL and masks its host and password;
/// with `environment`, the URL is the step's own (the job has none).
fn url_check_step(layout: &Layout, environment: Option<&str>) -> String {
    let mut values = Values::default();
    let env = match environment {
        Some(name) => format!("  env:\n    {}: {}\n", layout.url_variable, url_secret(layout, Some(name))),
        None => String::new(),
    };
    values
        .set("env", env)
        .set("url_parts", indent_rest(&url_parts(layout), 4))
        .set("url_variable", layout.url_variable.as_str())
        .set("missing_secret", missing_secret(layout, environment));
    indent_rest(&render(URL_CHECK, &values), STEP_INDENT)
}

fn migrate(layout: &Layout) -> String {
    let mut values = common(layout);
    let options: Vec<String> = layout.environments.iter().map(|e| format!("- {}", yaml_quoted(&e.name))).collect();
    let secret_note = match layout.one_secret() {
        Some(secret) => format!("set the secret {secret} in each environment"),
        None => {
            let pairs: Vec<String> =
                layout.environments.iter().map(|e| format!("{} in {}", e.secret, e.name)).collect();
            format!("set the secrets {}", pairs.join(", "))
        }
    };
    let mut failure_values = Values::default();
    failure_values.set("url_parts", url_parts(layout)).set("migrate", layout.command.as_str());
    values
        .set("secret_note", secret_note)
        .set("environment_options", indent_rest(&options.join("\n"), 10))
        .set("default_environment", yaml_quoted(&layout.default_environment().name))
        .set("url_secret", url_secret(layout, None))
        .set("url_check_step", url_check_step(layout, None))
        .set("failure_script", indent_rest(&render(FAILURE, &failure_values), 10));
    render(MIGRATE, &values)
}

fn deploy(layout: &Layout, target: DeployTarget) -> String {
    let environment = layout.default_environment().name.clone();
    let mut values = common(layout);
    values
        .set("environment", environment.as_str())
        .set("url_secret", url_secret(layout, Some(&environment)))
        .set("url_check_step", url_check_step(layout, Some(&environment)));
    match target {
        DeployTarget::None => {
            values
                .set("backend_permissions", "")
                .set("frontend_permissions", "")
                .set("backend_env", "")
                .set("frontend_env", "")
                .set("backend_steps", indent_rest(NONE_BACKEND, STEP_INDENT))
                .set("frontend_steps", indent_rest(NONE_FRONTEND, STEP_INDENT));
        }
        DeployTarget::CloudRun => {
            let permissions = "    permissions:\n      contents: read\n      id-token: write\n";
            let job_env = |image: &str, context: &str, what: &str| {
                format!(
                    "      IMAGE: ${{{{ vars.GCP_REGION }}}}-docker.pkg.dev/${{{{ vars.GCP_PROJECT_ID }}}}/${{{{ vars.AR_REPO_NAME }}}}/${{{{ vars.{image} }}}}:${{{{ github.sha }}}}\n\
                     \x20     # The directory with the {what}'s Dockerfile, from the repository root.\n\
                     \x20     DOCKER_CONTEXT: {context}\n"
                )
            };
            let steps = |part: &str, service: &str| {
                let mut part_values = Values::default();
                part_values.set("part", part).set("service", format!("${{{{ vars.{service} }}}}"));
                indent_rest(&render(CLOUD_RUN, &part_values), STEP_INDENT)
            };
            values
                .set("backend_permissions", permissions)
                .set("frontend_permissions", permissions)
                .set("backend_env", job_env("IMAGE_NAME", &yaml_quoted(&layout.package_dir), "backend"))
                .set("frontend_env", job_env("IMAGE_NAME_SV", "frontend", "frontend"))
                .set("backend_steps", steps("backend", "CLOUD_RUN_SERVICE_NAME"))
                .set("frontend_steps", steps("frontend", "CLOUD_RUN_SERVICE_NAME_SV"));
        }
    }
    render(DEPLOY, &values)
}

fn pull_request(layout: &Layout) -> String {
    let mut values = common(layout);
    let paths =
        [format!("{}/**", layout.dir.trim_end_matches('/')), layout.schema.clone(), PULL_REQUEST_PATH.to_owned()];
    let paths: Vec<String> = paths.iter().map(|p| format!("- {}", yaml_quoted(p))).collect();
    values.set("paths", indent_rest(&paths.join("\n"), 6));
    render(PULL_REQUEST, &values)
}

/// The secrets and variables to set in GitHub, one note each.
pub fn notes(layout: &Layout, deploy: DeployTarget) -> Vec<String> {
    let environments: Vec<String> = layout.environments.iter().map(|e| e.name.clone()).collect();
    let secrets = match layout.one_secret() {
        Some(secret) => format!("each with the secret {secret}"),
        None => {
            let pairs: Vec<String> =
                layout.environments.iter().map(|e| format!("{} with {}", e.name, e.secret)).collect();
            format!("with the secrets {}", pairs.join(", "))
        }
    };
    let mut notes = vec![format!(
        "in GitHub, create the environments {} (Settings > Environments), {secrets}: the database's direct URL (for Neon, not the -pooler host, with sslmode=require); add required reviewers to {} so that every migration there waits for approval",
        environments.join(" and "),
        layout.default_environment().name
    )];
    match deploy {
        DeployTarget::None => notes.push(
            "deploy.yml's deploy-backend and deploy-frontend jobs are placeholders: put your deploy commands in them (or write them with `--deploy cloud-run --force`)"
                .to_owned(),
        ),
        DeployTarget::CloudRun => notes.push(
            "for Cloud Run, add the repository secrets WIF_PROVIDER_FULL_PATH and SA_EMAIL and the variables GCP_PROJECT_ID, GCP_REGION, AR_REPO_NAME, IMAGE_NAME, IMAGE_NAME_SV, CLOUD_RUN_SERVICE_NAME and CLOUD_RUN_SERVICE_NAME_SV (Settings > Secrets and variables > Actions)"
                .to_owned(),
        ),
    }
    notes
}
