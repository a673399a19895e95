//! `cargo xtask fuzz`: runs the cargo-fuzz targets in `fuzz/` for a while.
//!
//! cargo-fuzz is installed on first use into `target/tools/bin` at a pinned
//! version. The targets need nightly flags (`-Zsanitizer`, `-Cpasses`), which
//! the stable toolchain takes with `RUSTC_BOOTSTRAP=1`; they build without a
//! sanitizer (the code is safe Rust, and uninstrumented runs are several times
//! faster) but with debug assertions, into `target/fuzz`.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{cargo, run, workspace_root};

const CARGO_FUZZ_VERSION: &str = "0.13.2";
const DEFAULT_SECONDS: u64 = 60;
/// libFuzzer's per-input limit: an input that takes longer is reported as a hang.
const INPUT_TIMEOUT_SECONDS: u64 = 10;
const BUILD_FLAGS: [&str; 5] = ["--sanitizer", "none", "--debug-assertions", "--target-dir", "target/fuzz"];

/// `fuzz [--target NAME] [SECONDS]` and `fuzz cmin [--target NAME]`.
pub fn run_fuzz(args: &[&str]) -> Result<(), String> {
    let (cmin, args) = match args {
        ["cmin", rest @ ..] => (true, rest),
        _ => (false, args),
    };
    let mut target = None;
    let mut seconds = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--target" => target = Some(*rest.next().ok_or("`--target` needs a target name")?),
            number if !cmin && seconds.is_none() => {
                seconds = Some(number.parse::<u64>().map_err(|_| format!("`{number}` is not a number of seconds"))?)
            }
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let root = workspace_root();
    let cargo_fuzz = ensure_cargo_fuzz(&root)?;
    let fuzz = |args: &[&str]| {
        let mut command = Command::new(&cargo_fuzz);
        command.current_dir(&root).env("RUSTC_BOOTSTRAP", "1").arg("fuzz").args(args);
        command
    };
    let listed = fuzz(&["list"]).output().map_err(|e| format!("could not run cargo-fuzz: {e}"))?;
    let all: Vec<String> = String::from_utf8_lossy(&listed.stdout).lines().map(str::to_owned).collect();
    let targets = match target {
        Some(name) if all.iter().any(|t| t == name) => vec![name.to_owned()],
        Some(name) => return Err(format!("no fuzz target `{name}`; the targets are {}", all.join(", "))),
        None => all,
    };
    run(fuzz(&["build"]).args(BUILD_FLAGS), "cargo fuzz build (RUSTC_BOOTSTRAP=1)")?;

    if cmin {
        for target in &targets {
            let corpus = format!("fuzz/corpus/{target}");
            let before = files(&root.join(&corpus)).len();
            // Edge coverage only (no hit counts) and a small set cover, or it keeps thousands of inputs.
            run(
                fuzz(&["cmin"]).args(BUILD_FLAGS).args([
                    target,
                    &corpus,
                    "--",
                    "-use_counters=0",
                    "-set_cover_merge=1",
                ]),
                &format!("cargo fuzz cmin {target} -- -use_counters=0 -set_cover_merge=1"),
            )?;
            println!("{target}: {before} -> {} corpus files", files(&root.join(&corpus)).len());
        }
        return Ok(());
    }

    let seconds = seconds.unwrap_or(DEFAULT_SECONDS);
    let share = (seconds / targets.len() as u64).max(1);
    let mut summary = Vec::new();
    let mut crashes = Vec::new();
    for target in &targets {
        let corpus_dir = root.join("fuzz/corpus").join(target);
        let artifacts_dir = root.join("fuzz/artifacts").join(target);
        std::fs::create_dir_all(&corpus_dir).map_err(|e| format!("cannot create {}: {e}", corpus_dir.display()))?;
        let corpus_before = files(&corpus_dir).len();
        let artifacts_before = files(&artifacts_dir);
        let log_path = root.join("target/fuzz").join(format!("{target}.log"));
        let log = File::create(&log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        eprintln!("\n$ cargo fuzz run {target} for {share} s (output in {})", shown(&root, &log_path));
        let status = fuzz(&["run"])
            .args(BUILD_FLAGS)
            .args([target.as_str(), &format!("fuzz/corpus/{target}"), &format!("fuzz/seeds/{target}"), "--"])
            .args([format!("-max_total_time={share}"), format!("-timeout={INPUT_TIMEOUT_SECONDS}")])
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .status()
            .map_err(|e| format!("could not run cargo-fuzz: {e}"))?;
        let output = std::fs::read_to_string(&log_path).unwrap_or_default();
        let runs = output
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("Done ")?.split(' ').next()?.parse::<u64>().ok())
            .map_or("? runs".to_owned(), |n| format!("{n} runs"));
        let corpus_after = files(&corpus_dir).len();
        let new_artifacts: Vec<PathBuf> = files(&artifacts_dir).difference(&artifacts_before).cloned().collect();
        let result = if status.success() {
            "ok".to_owned()
        } else if new_artifacts.is_empty() {
            crashes.push(format!("{target} failed ({status}) without an artifact: see {}", shown(&root, &log_path)));
            format!("FAILED ({status})")
        } else {
            let tail: Vec<&str> = output.lines().rev().take(40).collect();
            eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            for artifact in &new_artifacts {
                let artifact = shown(&root, artifact);
                crashes.push(format!(
                    "{target}: {artifact}\n  replay: RUSTC_BOOTSTRAP=1 target/tools/bin/cargo-fuzz fuzz run {} {target} {artifact}\n  \
                     once fixed, keep it as a test: cp {artifact} fuzz/seeds/{target}/",
                    BUILD_FLAGS.join(" ")
                ));
            }
            "CRASH".to_owned()
        };
        summary.push(format!(
            "{target:<12} {share:>5} s  {runs:>16}  corpus {corpus_before} -> {corpus_after} files  {result}"
        ));
    }
    println!("\nfuzz: {} target(s), {share} s each", targets.len());
    for line in &summary {
        println!("  {line}");
    }
    if crashes.is_empty() {
        println!("new corpus entries are in fuzz/corpus/<target>/: `cargo xtask fuzz cmin` before committing them");
        Ok(())
    } else {
        Err(format!("the fuzzer found {} problem(s):\n{}", crashes.len(), crashes.join("\n")))
    }
}

/// `target/tools/bin/cargo-fuzz` at [`CARGO_FUZZ_VERSION`], installed when missing.
fn ensure_cargo_fuzz(root: &Path) -> Result<PathBuf, String> {
    let tools = root.join("target/tools");
    let binary = tools.join("bin/cargo-fuzz");
    let installed = Command::new(&binary)
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).split_whitespace().any(|w| w == CARGO_FUZZ_VERSION));
    if !installed {
        run(
            cargo(root).args(["install", "--locked", "--root"]).arg(&tools).args([
                "cargo-fuzz",
                "--version",
                CARGO_FUZZ_VERSION,
            ]),
            &format!("cargo install --locked --root target/tools cargo-fuzz --version {CARGO_FUZZ_VERSION}"),
        )?;
    }
    Ok(binary)
}

/// The files in `dir`, none when it does not exist.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir).map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect()).unwrap_or_default()
}

/// `path` relative to the repository root, for commands to copy.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
