//! A stand-in for GitHub's runner that executes a workflow's jobs on this
//! machine: `needs` in order (a job whose needs did not all succeed is
//! skipped unless its `if` says otherwise), reusable workflows
//! (`uses: ./.github/workflows/x.yml` with `with`, `secrets: inherit` and
//! `workflow_call` outputs), environments with their own secrets, `if`
//! conditions with the status functions, and each `run:` step in bash as
//! GitHub runs it (`bash --noprofile --norc -eo pipefail {0}` for
//! `shell: bash`, `bash -e {0}` by default) with GitHub's variables and
//! files (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY,
//! RUNNER_TEMP, ...), `::add-mask::` and masked secrets in the log.
//!
//! `uses:` steps are stubbed by what they do: checkout does nothing (the
//! workspace is the test's repository), cache restores nothing,
//! upload-artifact copies the file into the run's artifacts, and the Google
//! Cloud actions record their inputs (deploy-cloudrun sets a `url` output).
//! A service container is replaced by what the test provides (its variables
//! override the job's, so `DATABASE_URL` points at the test's database).
//! An action without a stub, a `${{ }}` inside a `run:` script (script
//! injection) or an expression this runner cannot evaluate fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::expr::{self, Context, Status};

/// The event that starts a workflow.
#[derive(Debug, Clone)]
pub enum Event {
    /// `workflow_dispatch` with these inputs (the others take their defaults).
    Dispatch(Vec<(&'static str, &'static str)>),
    /// A push to main.
    Push,
    /// A pull request from `head` onto `base` (commit ids in the workspace's git).
    PullRequest { base: String, head: String },
}

/// How a job ended, and its outputs.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub result: String,
    pub outputs: Map<String, Value>,
}

/// What a run left: each job's result (`caller/callee` for a reusable
/// workflow's jobs), the log with masks applied, and the job summaries.
#[derive(Debug)]
pub struct Run {
    pub jobs: BTreeMap<String, JobResult>,
    pub log: String,
    /// The log before masking, to check that masking was needed for nothing secret.
    pub raw_log: String,
    pub summary: String,
}

/// The runner, set up for one repository.
#[derive(Debug)]
pub struct Runner {
    workspace: PathBuf,
    temp: tempfile::TempDir,
    /// Secrets of the repository.
    pub secrets: BTreeMap<String, String>,
    /// Secrets of each GitHub environment (they win over the repository's).
    pub environment_secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// Configuration variables (`vars`).
    pub vars: BTreeMap<String, String>,
    /// What replaces each service container: variables for the job's steps.
    pub services: BTreeMap<String, BTreeMap<String, String>>,
    log: String,
    summary: String,
    masks: Vec<String>,
    github: Value,
}

/// Steps are killed after this long: a hanging step fails the test, it does not hang it.
const STEP_TIMEOUT: Duration = Duration::from_secs(180);

impl Runner {
    /// A runner for the repository at `workspace`, with `cargo-migrate` (the
    /// binary under test) on PATH, so `cargo migrate` runs it.
    pub fn new(workspace: &Path) -> Runner {
        let temp = tempfile::tempdir().expect("a temporary directory");
        for dir in ["bin", "artifacts", "cargo-home", "jobs"] {
            std::fs::create_dir_all(temp.path().join(dir)).expect("runner directories");
        }
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cargo-migrate"), temp.path().join("bin/cargo-migrate"))
            .expect("link cargo-migrate");
        Runner {
            workspace: workspace.to_owned(),
            temp,
            secrets: BTreeMap::new(),
            environment_secrets: BTreeMap::new(),
            vars: BTreeMap::new(),
            services: BTreeMap::new(),
            log: String::new(),
            summary: String::new(),
            masks: Vec::new(),
            github: Value::Null,
        }
    }

    /// Puts a program on PATH for the steps (a stand-in for `gcloud`, `docker`, ...).
    pub fn add_program(&self, name: &str, script: &str) {
        let path = self.temp.path().join("bin").join(name);
        std::fs::write(&path, script).expect("write the program");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    }

    /// Where uploaded artifacts land: `artifacts/NAME/FILE`.
    pub fn artifacts(&self) -> PathBuf {
        self.temp.path().join("artifacts")
    }

    /// The runner's own directory (RUNNER_TEMP of each job is below it), for redactions.
    pub fn temp_root(&self) -> &Path {
        self.temp.path()
    }

    /// Runs `.github/workflows/NAME` for `event`.
    pub fn run(&mut self, name: &str, event: Event) -> Run {
        self.log.clear();
        self.summary.clear();
        self.masks = self.all_secrets().into_iter().filter(|s| !s.is_empty()).collect();
        let workflow = self.load(name);
        let (event_name, inputs, event_payload, git_ref) = match &event {
            Event::Dispatch(given) => {
                let declared = workflow.pointer("/on/workflow_dispatch/inputs").cloned().unwrap_or(json!({}));
                let inputs = inputs_for(name, &declared, given.iter().map(|(k, v)| ((*k).to_owned(), json!(v))), true);
                let payload = json!({"inputs": Value::Object(inputs.clone())});
                ("workflow_dispatch", inputs, payload, "refs/heads/main")
            }
            Event::Push => ("push", Map::new(), json!({"ref": "refs/heads/main"}), "refs/heads/main"),
            Event::PullRequest { base, head } => (
                "pull_request",
                Map::new(),
                json!({"pull_request": {"base": {"sha": base, "ref": "main"}, "head": {"sha": head, "ref": "feature"}}}),
                "refs/pull/7/merge",
            ),
        };
        assert!(workflow.get("on").and_then(|on| on.get(event_name)).is_some(), "{name} does not run on {event_name}");
        self.github = json!({
            "event_name": event_name,
            "event": event_payload,
            "ref": git_ref,
            "sha": "0123456789abcdef0123456789abcdef01234567",
            "repository": "example/app",
            "repository_owner": "example",
            "actor": "octocat",
            "run_id": "4242",
            "run_number": "7",
            "run_attempt": "1",
            "workspace": self.workspace.display().to_string(),
            "server_url": "https://github.com",
            "base_ref": if matches!(event, Event::PullRequest { .. }) { "main" } else { "" },
            "head_ref": if matches!(event, Event::PullRequest { .. }) { "feature" } else { "" },
        });
        let secrets = self.secrets.clone();
        let jobs = self.run_workflow(name, &workflow, &inputs, &secrets, "");
        let raw_log = std::mem::take(&mut self.log);
        let mut log = raw_log.clone();
        let mut masks = self.masks.clone();
        masks.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mask in masks.iter().filter(|m| !m.is_empty()) {
            log = log.replace(mask.as_str(), "***");
        }
        Run { jobs, log, raw_log, summary: std::mem::take(&mut self.summary) }
    }

    fn all_secrets(&self) -> Vec<String> {
        let mut all: Vec<String> = self.secrets.values().cloned().collect();
        all.extend(self.environment_secrets.values().flat_map(|s| s.values().cloned()));
        all
    }

    fn load(&self, name: &str) -> Value {
        let path = self.workspace.join(".github/workflows").join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        super::yaml(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Runs a workflow's jobs in the order of their needs; returns every job's result.
    fn run_workflow(
        &mut self,
        name: &str,
        workflow: &Value,
        inputs: &Map<String, Value>,
        secrets: &BTreeMap<String, String>,
        prefix: &str,
    ) -> BTreeMap<String, JobResult> {
        let jobs = workflow.get("jobs").and_then(Value::as_object).unwrap_or_else(|| panic!("{name} has no jobs"));
        let mut results: BTreeMap<String, JobResult> = BTreeMap::new();
        let mut all: BTreeMap<String, JobResult> = BTreeMap::new();
        while results.len() < jobs.len() {
            let ready = jobs
                .iter()
                .find(|(id, job)| !results.contains_key(*id) && needs(job).iter().all(|n| results.contains_key(n)))
                .map(|(id, job)| (id.clone(), job.clone()))
                .unwrap_or_else(|| panic!("{name}: the jobs' needs form a cycle or name a missing job"));
            let (id, job) = ready;
            let needs_context: Map<String, Value> = needs(&job)
                .iter()
                .map(|n| {
                    let r = &results[n];
                    (n.clone(), json!({"result": r.result, "outputs": Value::Object(r.outputs.clone())}))
                })
                .collect();
            let status = if needs(&job).iter().all(|n| results[n].result == "success") {
                Status::Success
            } else {
                Status::Failure
            };
            let mut values = self.contexts(inputs, secrets);
            values.insert("needs".into(), Value::Object(needs_context.clone()));
            let run_it = match job.get("if") {
                Some(condition) => expr::condition(&text(condition), &Context { values: &values, status })
                    .unwrap_or_else(|e| panic!("{name}: job {id}: if: {e}")),
                None => status == Status::Success,
            };
            let full_id = format!("{prefix}{id}");
            let result = if !run_it {
                self.log.push_str(&format!("=== job {full_id} ({name}): skipped\n"));
                JobResult { result: "skipped".into(), outputs: Map::new() }
            } else if let Some(uses) = job.get("uses").and_then(Value::as_str) {
                let r = self.call(name, &id, uses, &job, &values, secrets, &full_id, &mut all);
                self.log.push_str(&format!("=== job {full_id} ({name}): {}\n", r.result));
                r
            } else {
                self.run_job(name, &full_id, &job, workflow, &values, secrets)
            };
            all.insert(full_id, result.clone());
            results.insert(id, result);
        }
        all
    }

    /// The contexts every expression sees.
    fn contexts(&self, inputs: &Map<String, Value>, secrets: &BTreeMap<String, String>) -> Map<String, Value> {
        let mut values = Map::new();
        values.insert("github".into(), self.github.clone());
        values.insert("inputs".into(), Value::Object(inputs.clone()));
        values.insert("secrets".into(), json!(secrets));
        values.insert("vars".into(), json!(self.vars));
        values.insert("env".into(), json!({}));
        values.insert("runner".into(), json!({"os": "Linux", "arch": "X64", "name": "test-runner"}));
        values
    }

    /// A job that calls a reusable workflow: its inputs checked against the
    /// callee's `workflow_call` inputs, its jobs run, its outputs evaluated.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        caller: &str,
        id: &str,
        uses: &str,
        job: &Value,
        values: &Map<String, Value>,
        secrets: &BTreeMap<String, String>,
        full_id: &str,
        all: &mut BTreeMap<String, JobResult>,
    ) -> JobResult {
        let callee = uses
            .strip_prefix("./.github/workflows/")
            .unwrap_or_else(|| panic!("{caller}: job {id}: only local reusable workflows run here: {uses}"));
        let workflow = self.load(callee);
        let declared = workflow
            .pointer("/on/workflow_call")
            .unwrap_or_else(|| panic!("{callee} has no workflow_call trigger, so {caller} cannot call it"))
            .get("inputs")
            .cloned()
            .unwrap_or(json!({}));
        let cx = Context { values, status: Status::Success };
        let given: Vec<(String, Value)> = job
            .get("with")
            .and_then(Value::as_object)
            .map(|with| {
                with.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            expr::value_of(&text(v), &cx)
                                .unwrap_or_else(|e| panic!("{caller}: job {id}: with.{k}: {e}")),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let inputs = inputs_for(callee, &declared, given.into_iter(), false);
        let callee_secrets = match job.get("secrets") {
            Some(Value::String(inherit)) if inherit == "inherit" => secrets.clone(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (k.clone(), expr::interpolate(&text(v), &cx).expect("a secret expression")))
                .collect(),
            _ => BTreeMap::new(),
        };
        self.log
            .push_str(&format!("=== job {full_id} ({caller}) calls {callee} with {}\n", Value::Object(inputs.clone())));
        let jobs = self.run_workflow(callee, &workflow, &inputs, &callee_secrets, &format!("{full_id}/"));
        let jobs_context: Map<String, Value> = jobs
            .iter()
            .filter_map(|(k, r)| {
                let own = k.strip_prefix(&format!("{full_id}/"))?;
                (!own.contains('/'))
                    .then(|| (own.to_owned(), json!({"result": r.result, "outputs": Value::Object(r.outputs.clone())})))
            })
            .collect();
        let failed = jobs.values().any(|r| r.result == "failure");
        all.extend(jobs);
        let mut outputs_values = values.clone();
        outputs_values.insert("jobs".into(), Value::Object(jobs_context));
        outputs_values.insert("inputs".into(), Value::Object(inputs));
        let outputs = workflow
            .pointer("/on/workflow_call/outputs")
            .and_then(Value::as_object)
            .map(|outputs| {
                outputs
                    .iter()
                    .map(|(k, o)| {
                        let value = o.get("value").map(text).unwrap_or_default();
                        let cx = Context { values: &outputs_values, status: Status::Success };
                        (k.clone(), Value::String(expr::interpolate(&value, &cx).expect("an output expression")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        JobResult { result: if failed { "failure".into() } else { "success".into() }, outputs }
    }

    /// A job with steps.
    fn run_job(
        &mut self,
        name: &str,
        full_id: &str,
        job: &Value,
        workflow: &Value,
        base_values: &Map<String, Value>,
        secrets: &BTreeMap<String, String>,
    ) -> JobResult {
        let mut values = base_values.clone();
        let environment = job.get("environment").map(|e| match e {
            Value::Object(o) => text(o.get("name").expect("an environment name")),
            other => text(other),
        });
        let environment = environment.map(|e| {
            expr::interpolate(&e, &Context { values: &values, status: Status::Success })
                .unwrap_or_else(|err| panic!("{name}: job {full_id}: environment: {err}"))
        });
        let mut job_secrets = secrets.clone();
        if let Some(env_name) = &environment {
            job_secrets.extend(self.environment_secrets.get(env_name).cloned().unwrap_or_default());
        }
        values.insert("secrets".into(), json!(job_secrets));
        assert!(job.get("runs-on").is_some(), "{name}: job {full_id} has neither runs-on nor uses");
        assert!(job.get("timeout-minutes").is_some(), "{name}: job {full_id} has no timeout-minutes");

        // Variables: the workflow's, then the job's, each evaluated.
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for source in [workflow.get("env"), job.get("env")] {
            if let Some(map) = source.and_then(Value::as_object) {
                for (k, v) in map {
                    values.insert("env".into(), json!(env));
                    let cx = Context { values: &values, status: Status::Success };
                    let value = expr::interpolate(&text(v), &cx)
                        .unwrap_or_else(|e| panic!("{name}: job {full_id}: env.{k}: {e}"));
                    env.insert(k.clone(), value);
                }
            }
        }
        if let Some(services) = job.get("services").and_then(Value::as_object) {
            for (service, definition) in services {
                let image = definition.get("image").map(text).unwrap_or_default();
                let replacement = self.services.get(service).unwrap_or_else(|| {
                    panic!(
                        "{name}: job {full_id} needs the service {service} ({image}): give the runner its replacement"
                    )
                });
                self.log.push_str(&format!("--- service {service} ({image}): the test's database stands in for it\n"));
                env.extend(replacement.clone());
            }
        }
        let shell = job.pointer("/defaults/run/shell").or_else(|| workflow.pointer("/defaults/run/shell")).map(text);
        let env_label = environment.as_deref().map(|e| format!(" in environment {e}")).unwrap_or_default();
        self.log.push_str(&format!("=== job {full_id} ({name}){env_label}\n"));

        let job_dir = self.temp.path().join("jobs").join(full_id.replace('/', "--"));
        let runner_temp = job_dir.join("temp");
        std::fs::create_dir_all(&runner_temp).expect("RUNNER_TEMP");
        values.insert(
            "runner".into(),
            json!({"os": "Linux", "arch": "X64", "name": "test-runner", "temp": runner_temp.display().to_string()}),
        );
        values.insert("job".into(), json!({"status": "success"}));
        let mut steps_context = Map::new();
        let mut status = Status::Success;
        let mut added_env: BTreeMap<String, String> = BTreeMap::new();
        let mut added_path: Vec<String> = Vec::new();
        let mut summary = String::new();
        let steps =
            job.get("steps").and_then(Value::as_array).unwrap_or_else(|| panic!("{name}: job {full_id} has no steps"));
        for (index, step) in steps.iter().enumerate() {
            let mut step_env = env.clone();
            step_env.extend(added_env.clone());
            values.insert("env".into(), json!(step_env));
            values.insert("steps".into(), Value::Object(steps_context.clone()));
            values
                .insert("job".into(), json!({"status": if status == Status::Success { "success" } else { "failure" }}));
            let title = step_title(step);
            let run_it = match step.get("if") {
                Some(condition) => expr::condition(&text(condition), &Context { values: &values, status })
                    .unwrap_or_else(|e| panic!("{name}: job {full_id}: step {title}: if: {e}")),
                None => status == Status::Success,
            };
            let id = step.get("id").map(text);
            if !run_it {
                self.log.push_str(&format!("--- {title}: skipped\n"));
                if let Some(id) = id {
                    steps_context.insert(id, json!({"outcome": "skipped", "conclusion": "skipped", "outputs": {}}));
                }
                continue;
            }
            if let Some(map) = step.get("env").and_then(Value::as_object) {
                for (k, v) in map {
                    let cx = Context { values: &values, status };
                    let value = expr::interpolate(&text(v), &cx)
                        .unwrap_or_else(|e| panic!("{name}: step {title}: env.{k}: {e}"));
                    step_env.insert(k.clone(), value);
                }
            }
            let step_dir = job_dir.join(format!("step-{index}"));
            std::fs::create_dir_all(&step_dir).expect("step directory");
            let files = StepFiles::new(&step_dir);
            let (ok, outputs) = if let Some(script) = step.get("run").map(text) {
                assert!(
                    !script.contains("${{"),
                    "{name}: job {full_id}: step {title}: `${{{{ }}}}` inside a run script is script injection; pass values through env"
                );
                self.log.push_str(&format!("--- {title}\n"));
                let shell = step.get("shell").map(text).or_else(|| shell.clone());
                let mut github_env = self.github_env(full_id, &runner_temp, &files);
                github_env.extend(step_env.clone());
                let ok = self.run_script(&script, shell.as_deref(), &github_env, &added_path, &step_dir);
                (ok, files.outputs())
            } else if let Some(uses) = step.get("uses").map(text) {
                let with: BTreeMap<String, String> = step
                    .get("with")
                    .and_then(Value::as_object)
                    .map(|w| w.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                    .unwrap_or_default();
                let cx = Context { values: &values, status };
                let evaluate = |key: &str| -> String {
                    with.get(key)
                        .map(|v| {
                            expr::interpolate(v, &cx)
                                .unwrap_or_else(|e| panic!("{name}: step {title}: with.{key}: {e}"))
                        })
                        .unwrap_or_default()
                };
                self.stub(&title, &uses, evaluate, &runner_temp)
            } else {
                panic!("{name}: job {full_id}: step {title} has neither run nor uses");
            };
            summary.push_str(&std::fs::read_to_string(&files.summary).unwrap_or_default());
            added_env.extend(files.env());
            added_path.extend(files.path());
            if !ok {
                status = Status::Failure;
            }
            let outcome = if ok { "success" } else { "failure" };
            if let Some(id) = id {
                steps_context
                    .insert(id, json!({"outcome": outcome, "conclusion": outcome, "outputs": Value::Object(outputs)}));
            }
        }
        values.insert("steps".into(), Value::Object(steps_context));
        let result = if status == Status::Success { "success" } else { "failure" };
        let outputs: Map<String, Value> = job
            .get("outputs")
            .and_then(Value::as_object)
            .map(|outputs| {
                outputs
                    .iter()
                    .map(|(k, v)| {
                        let cx = Context { values: &values, status };
                        (k.clone(), Value::String(expr::interpolate(&text(v), &cx).expect("an output expression")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.log.push_str(&format!("=== job {full_id} ({name}): {result}\n"));
        if !summary.is_empty() {
            self.summary.push_str(&format!("<!-- job {full_id} ({name}) -->\n{summary}"));
        }
        JobResult { result: result.into(), outputs }
    }

    /// The variables GitHub sets for every step.
    fn github_env(&self, job: &str, runner_temp: &Path, files: &StepFiles) -> BTreeMap<String, String> {
        let g = |key: &str| expr::to_string(self.github.get(key).unwrap_or(&Value::Null));
        let mut env: BTreeMap<String, String> = [
            ("CI", "true".to_owned()),
            ("GITHUB_ACTIONS", "true".to_owned()),
            ("GITHUB_WORKSPACE", self.workspace.display().to_string()),
            ("GITHUB_EVENT_NAME", g("event_name")),
            ("GITHUB_SHA", g("sha")),
            ("GITHUB_REF", g("ref")),
            ("GITHUB_REPOSITORY", g("repository")),
            ("GITHUB_RUN_ID", g("run_id")),
            ("GITHUB_RUN_ATTEMPT", g("run_attempt")),
            ("GITHUB_ACTOR", g("actor")),
            ("GITHUB_BASE_REF", g("base_ref")),
            ("GITHUB_HEAD_REF", g("head_ref")),
            ("GITHUB_JOB", job.rsplit('/').next().unwrap_or(job).to_owned()),
            ("GITHUB_OUTPUT", files.output.display().to_string()),
            ("GITHUB_ENV", files.env.display().to_string()),
            ("GITHUB_PATH", files.path.display().to_string()),
            ("GITHUB_STEP_SUMMARY", files.summary.display().to_string()),
            ("RUNNER_TEMP", runner_temp.display().to_string()),
            ("RUNNER_OS", "Linux".to_owned()),
            ("RUNNER_ARCH", "X64".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        // cargo looks for subcommands in $CARGO_HOME/bin first: an empty one,
        // so a cargo-migrate installed on this machine never stands in for the one under test.
        env.insert("CARGO_HOME".into(), self.temp.path().join("cargo-home").display().to_string());
        env
    }

    /// Runs one script as GitHub does, appending its output to the log.
    fn run_script(
        &mut self,
        script: &str,
        shell: Option<&str>,
        env: &BTreeMap<String, String>,
        added_path: &[String],
        dir: &Path,
    ) -> bool {
        let file = dir.join("script.sh");
        std::fs::write(&file, script).expect("write the script");
        let mut command = match shell {
            Some("bash") => {
                let mut c = Command::new("bash");
                c.args(["--noprofile", "--norc", "-eo", "pipefail"]);
                c
            }
            None => {
                let mut c = Command::new("bash");
                c.arg("-e");
                c
            }
            Some("sh") => {
                let mut c = Command::new("sh");
                c.arg("-e");
                c
            }
            Some(other) => panic!("the shell {other} is not supported by this runner"),
        };
        command.arg(&file).current_dir(&self.workspace).env_clear();
        for key in ["HOME", "USER", "LANG", "TMPDIR", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "TERM"] {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        let cargo_dir = std::env::var_os("CARGO").map(PathBuf::from).and_then(|c| c.parent().map(Path::to_owned));
        let mut path: Vec<PathBuf> = added_path.iter().rev().map(PathBuf::from).collect();
        path.push(self.temp.path().join("bin"));
        path.extend(cargo_dir);
        path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        command.env("PATH", std::env::join_paths(path).expect("a PATH"));
        command.envs(env);
        let output_file = dir.join("output.log");
        let out = std::fs::File::create(&output_file).expect("the step's log");
        command.stdout(Stdio::from(out.try_clone().expect("clone"))).stderr(Stdio::from(out)).stdin(Stdio::null());
        let mut child = command.spawn().expect("start bash");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the step") {
                break Some(status);
            }
            if started.elapsed() > STEP_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let output = std::fs::read_to_string(&output_file).unwrap_or_default();
        for line in output.lines() {
            if let Some(mask) = line.strip_prefix("::add-mask::") {
                self.masks.push(mask.to_owned());
            } else {
                self.log.push_str(line);
                self.log.push('\n');
            }
        }
        match status {
            Some(status) if status.success() => true,
            Some(status) => {
                self.log.push_str(&format!("(the step failed: exit code {})\n", status.code().unwrap_or(-1)));
                false
            }
            None => {
                self.log.push_str(&format!("(the step was killed after {STEP_TIMEOUT:?})\n"));
                false
            }
        }
    }

    /// A `uses:` step, done the way the action would for these tests.
    fn stub(
        &mut self,
        title: &str,
        uses: &str,
        with: impl Fn(&str) -> String,
        runner_temp: &Path,
    ) -> (bool, Map<String, Value>) {
        let action = uses.split('@').next().unwrap_or(uses);
        let mut outputs = Map::new();
        let mut ok = true;
        let said = match action {
            "actions/checkout" => "the workspace is the test's repository".to_owned(),
            "actions/cache" => {
                outputs.insert("cache-hit".into(), json!("false"));
                format!("nothing restored for {}", with("path"))
            }
            "actions/upload-artifact" => {
                let (name, path) = (with("name"), with("path"));
                let source = PathBuf::from(&path);
                assert!(
                    source.starts_with(runner_temp) || source.starts_with(&self.workspace),
                    "artifact path {path} is outside the job's directories"
                );
                match std::fs::read(&source) {
                    Ok(bytes) => {
                        let dir = self.artifacts().join(&name);
                        std::fs::create_dir_all(&dir).expect("artifact directory");
                        std::fs::write(dir.join(source.file_name().expect("a file name")), bytes)
                            .expect("copy the artifact");
                        format!("uploaded {} as the artifact {name}", source.file_name().unwrap().to_string_lossy())
                    }
                    Err(_) if with("if-no-files-found") == "error" => {
                        ok = false;
                        format!("no file at {path} for the artifact {name}")
                    }
                    Err(_) => format!("no file at {path}; nothing uploaded"),
                }
            }
            "google-github-actions/auth" => {
                let (provider, account) = (with("workload_identity_provider"), with("service_account"));
                ok = !provider.is_empty() && !account.is_empty();
                format!("authenticated through the workload identity provider {provider} as {account}")
            }
            "google-github-actions/setup-gcloud" => "gcloud is on PATH".to_owned(),
            "google-github-actions/deploy-cloudrun" => {
                let (service, region, image) = (with("service"), with("region"), with("image"));
                ok = !service.is_empty() && !region.is_empty() && !image.is_empty();
                outputs.insert("url".into(), json!(format!("https://{service}-{region}.example.run.app")));
                format!("deployed {image} to the service {service} in {region}")
            }
            other => panic!("no stub for the action {other} ({uses}): add one to the runner"),
        };
        self.log.push_str(&format!("--- {title} [{uses}]: {said}\n"));
        if !ok {
            self.log.push_str("(the step failed)\n");
        }
        (ok, outputs)
    }
}

/// The environment files of one step.
#[derive(Debug)]
struct StepFiles {
    output: PathBuf,
    env: PathBuf,
    path: PathBuf,
    summary: PathBuf,
}

impl StepFiles {
    fn new(dir: &Path) -> StepFiles {
        let files = StepFiles {
            output: dir.join("output"),
            env: dir.join("env"),
            path: dir.join("path"),
            summary: dir.join("summary.md"),
        };
        for file in [&files.output, &files.env, &files.path, &files.summary] {
            std::fs::write(file, "").expect("an environment file");
        }
        files
    }

    fn outputs(&self) -> Map<String, Value> {
        key_values(&self.output).into_iter().map(|(k, v)| (k, Value::String(v))).collect()
    }

    fn env(&self) -> BTreeMap<String, String> {
        key_values(&self.env).into_iter().collect()
    }

    fn path(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// `name=value` lines and `name<<DELIMITER` blocks, as the runner reads them.
fn key_values(file: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut pairs = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((key, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for line in lines.by_ref() {
                if line == delimiter {
                    break;
                }
                value.push(line);
            }
            pairs.push((key.to_owned(), value.join("\n")));
        } else if let Some((key, value)) = line.split_once('=') {
            pairs.push((key.to_owned(), value.to_owned()));
        } else if !line.is_empty() {
            panic!("a line GitHub would refuse in {}: {line}", file.display());
        }
    }
    pairs
}

/// The inputs of a `workflow_dispatch` or `workflow_call`: the given ones
/// (each must be declared; a choice must be one of its options), then the
/// declared defaults; a required input without a value fails.
fn inputs_for(
    workflow: &str,
    declared: &Value,
    given: impl Iterator<Item = (String, Value)>,
    dispatch: bool,
) -> Map<String, Value> {
    let declared = declared.as_object().cloned().unwrap_or_default();
    let mut inputs = Map::new();
    for (key, value) in given {
        let spec = declared.get(&key).unwrap_or_else(|| panic!("{workflow} has no input {key}"));
        if let Some(options) = spec.get("options").and_then(Value::as_array) {
            assert!(options.iter().any(|o| text(o) == text(&value)), "{workflow}: {value} is not an option of {key}");
        }
        let value = match spec.get("type").map(text).as_deref() {
            Some("boolean") => json!(expr::truthy(&value) && text(&value) != "false"),
            Some("number") => {
                json!(text(&value).parse::<f64>().unwrap_or_else(|_| panic!("{workflow}: {key} must be a number")))
            }
            Some("string" | "choice" | "environment") | None => Value::String(text(&value)),
            Some(other) => panic!("{workflow}: unknown input type {other}"),
        };
        inputs.insert(key, value);
    }
    for (key, spec) in &declared {
        if inputs.contains_key(key) {
            continue;
        }
        match spec.get("default") {
            Some(default) => {
                inputs.insert(key.clone(), if dispatch { Value::String(text(default)) } else { default.clone() });
            }
            None => {
                assert!(
                    !spec.get("required").is_some_and(expr::truthy),
                    "{workflow}: the required input {key} is missing"
                );
                inputs.insert(key.clone(), Value::String(String::new()));
            }
        }
    }
    inputs
}

fn needs(job: &Value) -> Vec<String> {
    match job.get("needs") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many.iter().map(text).collect(),
        _ => Vec::new(),
    }
}

fn step_title(step: &Value) -> String {
    step.get("name")
        .map(text)
        .or_else(|| step.get("uses").map(text))
        .or_else(|| step.get("run").map(|r| text(r).lines().next().unwrap_or_default().to_owned()))
        .unwrap_or_default()
}

/// A scalar as the runner reads it.
fn text(value: &Value) -> String {
    expr::to_string(value)
}
