//! The life of a history: init, new, a branch, two heads, merge, lock, an
//! edited pinned revision, a deliberate re-pin; and `init --build` followed
//! by a real `cargo build`.

use std::path::Path;

use migrate_history::{SourceFile, parse_revision};
use tests::support::{fixture_target_dir, repo_root, text};

use crate::{assert_exit, cargo_migrate, transcript};

fn package(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "# The application.\n[package]\nname = \"{name}\" # keep this comment\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    dir
}

fn read_revision(path: &Path) -> migrate_history::Revision {
    let text = std::fs::read_to_string(path).unwrap();
    parse_revision(SourceFile::new(path, text)).expect("a valid revision")
}

#[test]
fn init_new_branch_merge_lock_and_repin() {
    let app = package("workflow_app");
    let dir = app.path();
    let run = |args: &[&str]| cargo_migrate(dir, args);

    let (_, stderr) = assert_exit(&run(&["init"]), 0);
    assert!(stderr.contains("Created migrations/template.sql"), "{stderr}");
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"workflow_app\" # keep this comment"), "formatting kept:\n{manifest}");
    assert!(manifest.contains("[package.metadata.migrate]\ndir = \"migrations\""), "{manifest}");
    assert_exit(&run(&["init"]), 0); // idempotent
    assert_eq!(std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(), manifest);

    let (stdout, _) = assert_exit(&run(&["new", "create users", "--rev-id", "aaa"]), 0);
    assert_eq!(stdout, "migrations/aaa_create_users.sql\n");
    let first = read_revision(&dir.join("migrations/aaa_create_users.sql"));
    assert!(first.parents.is_empty());
    assert!(first.created.is_some());

    let (stdout, _) = assert_exit(&run(&["revision", "-m", "add posts", "--rev-id", "bbb"]), 0);
    assert_eq!(read_revision(&dir.join(stdout.trim())).parents, ["aaa"]);

    // A second branch from `aaa`: two heads.
    let (stdout, _) =
        assert_exit(&run(&["new", "add tags", "--head", "aaa", "--rev-id", "ccc", "--branch-label", "tags"]), 0);
    let tags = read_revision(&dir.join(stdout.trim()));
    assert_eq!(
        (tags.parents.as_slice(), tags.branch_labels.as_slice()),
        (&["aaa".to_owned()][..], &["tags".to_owned()][..])
    );
    let (stdout, _) = assert_exit(&run(&["heads"]), 0);
    assert_eq!(stdout, "bbb (head), add posts\nccc (tags) (head), add tags\n");
    let (_, stderr) = assert_exit(&run(&["check"]), 1);
    assert!(
        stderr
            .contains("the history has 2 heads: bbb (migrations/bbb_add_posts.sql), ccc (migrations/ccc_add_tags.sql)"),
        "{stderr}"
    );
    assert!(stderr.contains("cargo migrate merge"), "{stderr}");
    let (_, stderr) = assert_exit(&run(&["new", "ambiguous"]), 2);
    assert!(stderr.contains("the history has 2 heads (bbb, ccc)") && stderr.contains("--head REV"), "{stderr}");
    let (_, stderr) = assert_exit(&run(&["new", "dup", "--rev-id", "bbb"]), 2);
    assert!(stderr.contains("revision `bbb` already exists in migrations/bbb_add_posts.sql"), "{stderr}");

    // Merge every head.
    let (stdout, _) = assert_exit(&run(&["merge", "-m", "merge heads", "--rev-id", "ddd"]), 0);
    let merge = read_revision(&dir.join(stdout.trim()));
    assert_eq!(merge.parents, ["bbb", "ccc"]);
    assert!(merge.is_reversible());
    let (_, stderr) = assert_exit(&run(&["merge"]), 2);
    assert!(stderr.contains("nothing to merge"), "{stderr}");
    let (stdout, _) = assert_exit(&run(&["show", "tags@head", "--message-format", "json"]), 0);
    assert!(stdout.contains("\"id\":\"ddd\""), "{stdout}");

    // Drafts fail `check` until locked.
    let (_, stderr) = assert_exit(&run(&["check"]), 1);
    assert!(stderr.contains("revision `aaa` is a draft"), "{stderr}");
    let (_, stderr) = assert_exit(&run(&["lock"]), 0);
    assert!(stderr.contains("Pinned 4 revisions in migrations/migrate.lock"), "{stderr}");
    let lock = std::fs::read_to_string(dir.join("migrations/migrate.lock")).unwrap();
    assert_eq!(lock.lines().filter(|l| l.contains("= \"sha256:")).count(), 4);
    let (_, stderr) = assert_exit(&run(&["check"]), 0);
    assert!(stderr.contains("Checked 4 revisions in migrations, 1 head, 4 pinned"), "{stderr}");

    // Editing a pinned revision: check and lock refuse; `lock --update` re-pins deliberately.
    let bbb = dir.join("migrations/bbb_add_posts.sql");
    let edited = std::fs::read_to_string(&bbb)
        .unwrap()
        .replace("-- migrate:up\n", "-- migrate:up\nCREATE TABLE posts (id INT);\n");
    std::fs::write(&bbb, edited).unwrap();
    let (_, stderr) = assert_exit(&run(&["check"]), 1);
    assert!(
        stderr.contains("error: pinned revision `bbb` was edited")
            && stderr.contains(" --> migrations/bbb_add_posts.sql:1:14"),
        "{stderr}"
    );
    assert_exit(&run(&["lock"]), 1);
    let (_, stderr) = assert_exit(&run(&["lock", "--update", "bbb"]), 0);
    assert!(stderr.contains("Re-pinned bbb"), "{stderr}");
    assert_exit(&run(&["check"]), 0);

    // `history -v` tells an irreversible revision.
    std::fs::write(
        dir.join("migrations/eee_irreversible.sql"),
        "-- revision: eee\n-- parents: ddd\n-- message: drop legacy\n\n-- migrate:up\nSELECT 1;\n",
    )
    .unwrap();
    let (stdout, _) = assert_exit(&run(&["history", "-v", "-r", "eee"]), 0);
    assert!(stdout.contains("Reversible: no (no `-- migrate:down` section)"), "{stdout}");
}

#[test]
fn custom_template_and_dir_outside_cargo() {
    let empty = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| cargo_migrate(empty.path(), args);
    let (_, stderr) = assert_exit(&run(&["init", "--dir", "db"]), 0);
    assert!(stderr.contains("Created db/"), "{stderr}");
    std::fs::write(
        empty.path().join("db/template.sql"),
        "-- revision: ${revision}\n-- parents: ${parents}\n-- message: ${message}\n\n-- Reviewed by: nobody yet\n\n-- migrate:up\n\n-- migrate:down\n",
    )
    .unwrap();
    let (stdout, _) = assert_exit(&run(&["new", "--dir", "db", "first", "--rev-id", "r1"]), 0);
    let text = std::fs::read_to_string(empty.path().join(stdout.trim())).unwrap();
    assert!(text.contains("-- Reviewed by: nobody yet"), "{text}");

    std::fs::write(empty.path().join("db/template.sql"), "-- nothing useful\n").unwrap();
    let (_, stderr) = assert_exit(&run(&["new", "--dir", "db", "second"]), 101);
    assert!(stderr.contains("the template db/template.sql produces an invalid revision"), "{stderr}");
    assert_eq!(std::fs::read_dir(empty.path().join("db")).unwrap().count(), 3, "nothing written");
}

#[test]
fn init_build_then_cargo_build_validates_the_history() {
    let app = package("init_build_app");
    let dir = app.path();
    let repo = repo_root();
    let (_, stderr) = assert_exit(&cargo_migrate(dir, &["init", "--build", "--path", repo.to_str().unwrap()]), 0);
    insta::assert_snapshot!(
        "init_build",
        stderr.replace(repo.to_str().unwrap(), "[REPO]").replace(dir.to_str().unwrap(), "[APP]")
    );
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("[build-dependencies]\nmigrate-build = { path = "), "{manifest}");
    std::fs::write(
        dir.join("src/main.rs"),
        "static MIGRATIONS: migrate_history::embed::EmbeddedHistory = migrate_history::include_history!();\n\
         fn main() { println!(\"{}\", MIGRATIONS.revisions().len()); }\n",
    )
    .unwrap();
    assert_exit(&cargo_migrate(dir, &["new", "create users", "--rev-id", "u1"]), 0);
    let cargo = |args: &[&str]| {
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(args)
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", fixture_target_dir())
            .env("CARGO_TERM_COLOR", "never")
            .output()
            .unwrap()
    };
    let output = cargo(&["run"]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "1\n");
    assert!(stderr.contains("revision `u1` is a draft"), "{stderr}");

    // A second revision on another branch makes two heads: the build fails.
    assert_exit(&cargo_migrate(dir, &["new", "side", "--head", "base", "--rev-id", "s1"]), 0);
    let output = cargo(&["build"]);
    assert!(!output.status.success(), "{}", transcript(&output));
    assert!(text(&output).1.contains("the history has 2 heads"), "{}", transcript(&output));
}

#[test]
fn new_refuses_a_rev_id_longer_than_the_version_table_column() {
    let project = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| cargo_migrate(project.path(), &[args, &["--dir", "db"]].concat());
    assert_exit(&run(&["init"]), 0);
    let long = "a".repeat(migrate_history::MAX_REVISION_ID_LEN + 1);
    let (stdout, stderr) = assert_exit(&run(&["new", "x", "--rev-id", &long]), 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "error: `--rev-id`: revision id `{long}` is 65 characters long, more than the 64 a version table holds\n  \
             help: shorten it to at most 64 characters (migrate_history::MAX_REVISION_ID_LEN), and the `parents` and `depends-on` lines that name it\n"
        )
    );
    let longest = "a".repeat(migrate_history::MAX_REVISION_ID_LEN);
    assert_exit(&run(&["new", "x", "--rev-id", &longest]), 0);
    assert_eq!(std::fs::read_dir(project.path().join("db")).unwrap().count(), 3);
}

#[test]
fn placeholders_in_a_message_are_written_as_given() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let run = |args: &[&str]| cargo_migrate(dir, &[args, &["--dir", "db"]].concat());
    assert_exit(&run(&["init"]), 0);
    let (stdout, _) = assert_exit(&run(&["new", "keep ${created} and ${revision}", "--rev-id", "a1"]), 0);
    let text = std::fs::read_to_string(dir.join(stdout.trim())).unwrap();
    assert!(text.contains("\n-- message: keep ${created} and ${revision}\n"), "{text}");

    std::fs::write(dir.join("schema.sql"), "CREATE TABLE t (id INTEGER PRIMARY KEY);\n").unwrap();
    let (stdout, _) = assert_exit(&run(&["generate", "add ${up} table", "--rev-id", "g1"]), 0);
    let text = std::fs::read_to_string(dir.join(stdout.trim())).unwrap();
    assert!(text.contains("\n-- message: add ${up} table\n"), "{text}");
    assert_eq!(text.matches("CREATE TABLE").count(), 1, "{text}");
}

#[test]
fn a_message_with_a_line_break_is_refused() {
    let project = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| cargo_migrate(project.path(), &[args, &["--dir", "db"]].concat());
    assert_exit(&run(&["init"]), 0);
    for (message, what) in
        [("one\n-- parents: zz", "a line break (U+000A)"), ("hidden\rshown", "a carriage return (U+000D)")]
    {
        let (stdout, stderr) = assert_exit(&run(&["new", message]), 2);
        assert_eq!(stdout, "");
        assert_eq!(
            stderr,
            format!(
                "error: the `message` header contains {what}\n  \
                 help: pass a one-line message; longer notes belong in a comment below the header\n"
            )
        );
    }
    let (_, stderr) = assert_exit(&run(&["merge", "-m", "a\nb"]), 2);
    assert!(stderr.starts_with("error: the `message` header contains a line break (U+000A)\n"), "{stderr}");
    assert_eq!(std::fs::read_dir(project.path().join("db")).unwrap().count(), 2, "nothing written");
}

#[test]
fn a_template_with_a_header_key_of_its_own_makes_revisions_that_show_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("migrations/template.sql"),
        "-- revision: ${revision}\n-- parents: ${parents}\n-- message: ${message}\n-- x-jira: STARTUP-000\n\n-- migrate:up\n${up}\n\n-- migrate:down\n${down}\n",
    )
    .unwrap();
    let run = |args: &[&str]| cargo_migrate(dir.path(), &[args, &["--dir", "migrations"]].concat());
    assert_exit(&run(&["new", "create users", "--rev-id", "a1b2c3d4e5f6"]), 0);
    insta::assert_snapshot!(transcript(&run(&["show", "a1b2"])), @r"
    exit: 0
    --- stdout
    Rev: a1b2c3d4e5f6 (head)
    Parent: <base>
    Path: migrations/a1b2c3d4e5f6_create_users.sql
    Checksum: sha256:b1d2315e4ebdeecaf57efa4a93bff9bbef09e0f088990659f3448172afca90f1
    Pinned: no (draft)
    Transaction: true
    Reversible: yes
    x-jira: STARTUP-000

        create users

    -- migrate:up


    -- migrate:down

    --- stderr
    ");
}

#[test]
fn init_writes_gitattributes_and_keeps_what_it_holds() {
    let app = package("init_gitattributes_app");
    let dir = app.path();
    std::fs::write(dir.join(".gitattributes"), "*.png binary").unwrap();
    let output = cargo_migrate(dir, &["init"]);
    insta::assert_snapshot!(transcript(&output), @r#"
    exit: 0
    --- stdout
    --- stderr
         Created migrations/
         Created migrations/template.sql
         Created migrations/migrate.lock
         Updated .gitattributes (`migrations/migrate.lock merge=union`: git keeps both branches' pins when merging)
         Updated Cargo.toml
    note: create the first revision with `cargo migrate new "create users"`
    "#);
    assert_eq!(
        std::fs::read_to_string(dir.join(".gitattributes")).unwrap(),
        "*.png binary\nmigrations/migrate.lock merge=union\n"
    );
}

#[test]
fn init_again_with_revisions_does_not_suggest_the_first_one() {
    let app = package("init_again_app");
    let dir = app.path();
    assert_exit(&cargo_migrate(dir, &["init"]), 0);
    assert_exit(&cargo_migrate(dir, &["new", "create users", "--rev-id", "u1"]), 0);
    let output = cargo_migrate(dir, &["init"]);
    insta::assert_snapshot!(transcript(&output), @r"
    exit: 0
    --- stdout
    --- stderr
         Keeping migrations/template.sql
         Keeping migrations/migrate.lock
    ");
}

#[test]
fn init_build_with_a_relative_path_writes_it_relative_to_the_manifest() {
    let app = package("init_relative_app");
    let dir = app.path().canonicalize().unwrap();
    // Run from src/, with the path as typed there: the manifest gets it relative to itself.
    let src = dir.join("src");
    let depth = src.components().count() - 1;
    let from_src = format!("{}{}", "../".repeat(depth), repo_root().strip_prefix("/").unwrap().display());
    assert_exit(&cargo_migrate(&src, &["init", "--build", "--path", &from_src]), 0);
    // The shortest relative path: up to the deepest common directory, then down.
    let repo = repo_root().canonicalize().unwrap();
    let common = dir.components().zip(repo.components()).take_while(|(a, b)| a == b).count();
    let ups = dir.components().count() - common;
    let down: std::path::PathBuf = repo.components().skip(common).collect();
    let from_manifest = format!("{}{}", "../".repeat(ups), down.display());
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert_eq!(
        manifest,
        format!(
            "# The application.\n[package]\nname = \"init_relative_app\" # keep this comment\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [package.metadata.migrate]\ndir = \"migrations\"\n\n\
             [dependencies]\nmigrate-history = {{ path = \"{from_manifest}/migrate-history\" }}\n\
             migrate-runtime = {{ path = \"{from_manifest}/migrate-runtime\", default-features = false, features = [\"sqlite\"] }}\n\n[workspace]\n\n\
             [build-dependencies]\nmigrate-build = {{ path = \"{from_manifest}/migrate-build\" }}\n"
        )
    );
}

#[test]
fn init_build_picks_the_postgres_driver_for_a_postgres_database_url() {
    let app = package("init_postgres_app");
    let dir = app.path();
    std::fs::write(dir.join(".env"), "DATABASE_URL=postgresql+psycopg2://app:secret@db.example.com/app\n").unwrap();
    assert_exit(&cargo_migrate(dir, &["init", "--build"]), 0);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        manifest.contains(&format!(
            "migrate-runtime = {{ version = \"{version}\", default-features = false, features = [\"postgres\"] }}\n"
        )),
        "{manifest}"
    );
}

#[test]
fn init_build_with_git_depends_on_the_repository() {
    let app = package("init_git_app");
    let dir = app.path();
    assert_exit(&cargo_migrate(dir, &["init", "--build", "--git", "https://example.invalid/cargo-migrate.git"]), 0);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let dependencies = manifest.split("\n[").filter(|t| t.contains("dependencies]")).collect::<Vec<_>>().join("\n[");
    insta::assert_snapshot!(dependencies, @r#"
    dependencies]
    migrate-history = { git = "https://example.invalid/cargo-migrate.git" }
    migrate-runtime = { git = "https://example.invalid/cargo-migrate.git", default-features = false, features = ["sqlite"] }

    [build-dependencies]
    migrate-build = { git = "https://example.invalid/cargo-migrate.git" }
    "#);
}

/// The sh block of the README after the line `marker`, as written there.
fn readme_block(marker: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let after = &readme[readme.find(marker).unwrap_or_else(|| panic!("README has `{marker}`"))..];
    let start = after.find("```sh\n").expect("an sh block follows") + "```sh\n".len();
    let end = start + after[start..].find("```").expect("the block ends");
    after[start..end].to_owned()
}

/// README, "In your own crate": a user who cloned this repository and has a
/// crate beside it runs the block line by line in one shell, with real
/// `cargo migrate` (found on PATH, as cargo finds subcommands) and a real
/// `cargo build`. The one line not run is `cargo install`, which would build
/// the binary this test already has; it is put on PATH instead.
#[test]
fn readme_in_your_own_crate_works_word_for_word() {
    let block = readme_block("In your own crate, from a clone of this repository");
    let install = "cargo install --path cargo-migrate";
    assert!(block.starts_with(install), "the block starts by installing the binary:\n{block}");
    let script = block.replacen(install, ": installed by the test", 1);

    let place = tempfile::tempdir().unwrap();
    let clone = place.path().join("cargo-migrate");
    std::os::unix::fs::symlink(repo_root(), &clone).unwrap();
    let app = place.path().join("my-app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    std::fs::write(
        app.join("Cargo.toml"),
        "[package]\nname = \"my-app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(app.join("src/main.rs"), "fn main() {\n    println!(\"Hello, world!\");\n}\n").unwrap();
    let bin = place.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cargo-migrate"), bin.join("cargo-migrate")).unwrap();
    // $EDITOR writes the revision's SQL into the up and down sections.
    let editor = bin.join("editor");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i -e 's/^-- migrate:up$/&\\nCREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);/' \
         -e 's/^-- migrate:down$/&\\nDROP TABLE users;/' \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let output = std::process::Command::new("sh")
        .args(["-e", "-x", "-c", &script])
        .current_dir(&clone)
        .env("PWD", &clone)
        .env("PATH", path)
        .env("EDITOR", &editor)
        .env("CARGO_TARGET_DIR", fixture_target_dir())
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("DATABASE_URL")
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", transcript(&output));
    let (_, trace) = text(&output);
    for step in ["+ cargo migrate upgrade\n", "+ cargo build\n", "+ cargo migrate lock\n"] {
        assert!(trace.contains(step), "`{step}` ran:\n{trace}");
    }
    assert!(trace.contains("Applying") && trace.contains("create users"), "{trace}");

    // The revision was applied, built in and pinned: `check` passes.
    let (_, stderr) = assert_exit(&cargo_migrate(&app, &["check"]), 0);
    assert_eq!(stderr, "     Checked 1 revision in migrations, 1 head, 1 pinned\n");
    let (stdout, _) = assert_exit(&cargo_migrate(&app, &["status"]), 0);
    assert!(stdout.contains("\npending:       none\n"), "{stdout}");
    let manifest = std::fs::read_to_string(app.join("Cargo.toml")).unwrap();
    // The path names the clone (through the link, as init resolves it).
    let written = manifest.split("migrate-build = { path = \"").nth(1).and_then(|t| t.split('"').next()).unwrap();
    assert_eq!(
        app.join(written).canonicalize().unwrap(),
        repo_root().join("migrate-build").canonicalize().unwrap(),
        "{manifest}"
    );
}
