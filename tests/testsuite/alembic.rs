//! Differential test: the same graphs as Alembic revision scripts and as
//! cargo-migrate revision files give the same heads, bases, `head`
//! resolution, prefix lookups, and the same verdict on broken graphs.
//!
//! Alembic runs from a virtual environment under `target/tools/`, created on
//! first use with `pip install alembic==1.20.1` (PyPI must be reachable).

use std::path::{Path, PathBuf};
use std::process::Command;

use migrate_core::{Options, Problem, Target};
use tests::support::repo_root;

const ALEMBIC: &str = "alembic==1.20.1";

/// Python with Alembic: `MIGRATE_TEST_ALEMBIC_PYTHON`, or a venv made on demand.
fn alembic_python() -> PathBuf {
    if let Some(python) = std::env::var_os("MIGRATE_TEST_ALEMBIC_PYTHON") {
        return python.into();
    }
    let venv = repo_root().join("target/tools/alembic-venv");
    let python = venv.join("bin/python");
    let ready = Command::new(&python).args(["-c", "import alembic"]).output().is_ok_and(|o| o.status.success());
    if !ready {
        let created = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
        assert!(created.is_ok_and(|s| s.success()), "could not create {}: install python3 with venv", venv.display());
        let installed = Command::new(venv.join("bin/pip")).args(["install", "--quiet", ALEMBIC]).status();
        assert!(
            installed.is_ok_and(|s| s.success()),
            "could not `pip install {ALEMBIC}` into {}: PyPI must be reachable, or set MIGRATE_TEST_ALEMBIC_PYTHON to a python that has Alembic",
            venv.display()
        );
    }
    python
}

const PROBE: &str = r#"
import sys
from alembic.config import Config
from alembic.script import ScriptDirectory
cfg = Config()
cfg.set_main_option("script_location", sys.argv[1])
try:
    sd = ScriptDirectory.from_config(cfg)
    heads = sorted(sd.get_heads())
    bases = sorted(sd.get_bases())
    list(sd.walk_revisions("base", "heads"))
except Exception as e:
    print("error", type(e).__name__)
    sys.exit(0)
print("heads", " ".join(heads))
print("bases", " ".join(bases))
for query in sys.argv[2:]:
    try:
        revs = sd.get_revisions(query)
        print("resolve", query, " ".join(sorted(r.revision for r in revs)) or "base")
    except Exception as e:
        print("resolve", query, "error")
"#;

/// `spec` lines: `id:parent,parent` with an optional ` after dep,dep`.
fn parse_spec(line: &str) -> (&str, Vec<&str>, Vec<&str>) {
    let (id, rest) = line.split_once(':').expect("id:parents");
    let (parents, deps) = rest.split_once(" after ").unwrap_or((rest, ""));
    (id, id_list(parents), id_list(deps))
}

fn id_list(text: &str) -> Vec<&str> {
    text.split(',').map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn alembic_view(dir: &Path, spec: &[&str], queries: &[&str]) -> Vec<String> {
    let versions = dir.join("alembic/versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(dir.join("alembic/script.py.mako"), "").unwrap();
    for (i, line) in spec.iter().enumerate() {
        let (id, parents, deps) = parse_spec(line);
        let tuple = |ids: &[&str]| match ids {
            [] => "None".to_owned(),
            [one] => format!("'{one}'"),
            many => format!("({},)", many.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", ")),
        };
        let script = format!(
            "revision = '{id}'\ndown_revision = {}\nbranch_labels = None\ndepends_on = {}\n\ndef upgrade():\n    pass\n\ndef downgrade():\n    pass\n",
            tuple(&parents),
            tuple(&deps)
        );
        std::fs::write(versions.join(format!("r{i}_{id}.py")), script).unwrap();
    }
    let output = Command::new(alembic_python())
        .args(["-c", PROBE])
        .arg(dir.join("alembic"))
        .args(queries)
        .output()
        .expect("run python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}

fn our_view(dir: &Path, spec: &[&str], queries: &[&str]) -> Vec<String> {
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    for (i, line) in spec.iter().enumerate() {
        let (id, parents, deps) = parse_spec(line);
        let text = format!(
            "-- revision: {id}\n-- parents: {}\n-- message: {id}\n-- depends-on: {}\n\n-- migrate:up\n",
            parents.join(", "),
            deps.join(", ")
        );
        std::fs::write(migrations.join(format!("r{i}_{id}.sql")), text).unwrap();
    }
    let analysis = migrate_core::analyze_dir(
        &migrations,
        Path::new("migrations"),
        Options { allow_multiple_heads: true, ..Options::default() },
    );
    let broken = analysis.errors().find(|d| {
        matches!(d.problem, Problem::Cycle { .. } | Problem::MissingParent { .. } | Problem::MissingDependency { .. })
    });
    if let Some(d) = broken {
        // Alembic names the exception; we compare the verdict and keep our kind.
        return vec![format!("error {}", d.problem)];
    }
    let h = &analysis.history;
    let sorted = |indices: Vec<usize>| {
        let mut ids = h.ids(&indices);
        ids.sort();
        ids.join(" ")
    };
    let mut lines = vec![format!("heads {}", sorted(h.heads())), format!("bases {}", sorted(h.bases()))];
    for query in queries {
        let resolved = Target::parse(query).and_then(|t| h.resolve(&t, &[]));
        let shown = match resolved {
            Ok(found) if found.is_empty() => "base".to_owned(),
            Ok(found) => sorted(found),
            Err(_) => "error".to_owned(),
        };
        lines.push(format!("resolve {query} {shown}"));
    }
    lines
}

#[test]
fn graph_semantics_match_alembic() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("linear", &["a1:", "b1:a1", "c1:b1"], &["head", "heads", "base", "b1", "c", "zz"]),
        ("branch and merge", &["a1:", "b1:a1", "c1:a1", "m1:b1,c1", "d1:m1"], &["head", "heads", "m", "b1"]),
        ("two heads", &["a1:", "b1:a1", "c1:a1"], &["head", "heads", "a1"]),
        ("two roots", &["a1:", "x1:", "b1:a1"], &["head", "heads", "x"]),
        ("dependencies", &["a1:", "x1:", "y1:x1", "b1:a1 after y1"], &["head", "heads"]),
        ("ambiguous prefix", &["ab1:", "ab2:ab1", "cd3:ab2"], &["ab", "ab1", "cd", "c"]),
        ("cycle", &["a1:", "b1:a1,d1", "c1:b1", "d1:c1"], &[]),
        ("missing parent", &["a1:", "b1:zz"], &[]),
        ("missing dependency", &["a1:", "b1:a1 after zz"], &[]),
    ];
    for (name, spec, queries) in cases {
        let dir = tempfile::tempdir().unwrap();
        let theirs = alembic_view(dir.path(), spec, queries);
        let ours = our_view(dir.path(), spec, queries);
        match (theirs.first().map(String::as_str), ours.first().map(String::as_str)) {
            (Some(t), Some(o)) if t.starts_with("error") => {
                assert!(o.starts_with("error"), "{name}: Alembic refuses ({t}); we must too, but gave {ours:?}")
            }
            _ => assert_eq!(ours, theirs, "{name}: cargo-migrate (left) and Alembic (right) disagree"),
        }
    }
}
