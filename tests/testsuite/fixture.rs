//! Autogenerate on a realistic PostgreSQL models file
//! (`tests/fixtures/autogenerate/forum.sql`, 60+ tables in the style of a
//! large forum with a shop), judged by the oracle of `oracle.rs`: the
//! `pg_dump --schema-only` of what the generated history builds must equal
//! that of a database loaded directly from the models, and each down section
//! must give the previous dump back.
//!
//! Histories are in-memory revision sources, applied by `Migrator` to
//! databases made for each test and dropped after it; the scratch databases
//! of `Workbench` live on the same server.

use migrate_history::load::Sources;
use migrate_history::{Options, SourceFile};
use migrate_runtime::schema::Generated;
use migrate_runtime::workbench::Workbench;
use migrate_runtime::{DatabaseUrl, Error, Migrator, Target};
use tests::support::{TestDatabase, postgres_server_url};

use crate::oracle;

/// The models file.
const FORUM: &str = include_str!("../fixtures/autogenerate/forum.sql");

/// A history held in memory: revision files in the order they were written,
/// each the child of the one before.
#[derive(Debug, Default)]
struct Project {
    files: Vec<SourceFile>,
    ids: Vec<String>,
}

impl Project {
    fn migrator(&self) -> Migrator {
        let sources = Sources { revisions: self.files.clone(), ..Sources::default() };
        let analysis = migrate_history::analyze(sources, Options::default());
        let errors: Vec<String> =
            analysis.diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
        assert!(errors.is_empty(), "the test's history is invalid: {errors:#?}");
        Migrator::new(analysis.history)
    }

    /// Appends a revision with these sections; returns its id.
    fn push(&mut self, id: &str, message: &str, up: &str, down: Option<&str>) -> String {
        let parents = self.ids.last().cloned().unwrap_or_default();
        let mut text =
            format!("-- revision: {id}\n-- parents: {parents}\n-- message: {message}\n\n-- migrate:up\n{up}\n");
        if let Some(down) = down {
            text.push_str(&format!("\n-- migrate:down\n{down}\n"));
        }
        self.files.push(SourceFile::new(format!("migrations/{id}.sql"), text));
        self.ids.push(id.to_owned());
        id.to_owned()
    }

    fn push_generated(&mut self, id: &str, message: &str, generated: &Generated) -> String {
        self.push(id, message, &generated.up, Some(&generated.down))
    }

    fn text(&self, id: &str) -> &str {
        &self.files[self.ids.iter().position(|i| i == id).expect("a revision of the project")].text
    }

    /// An engine error, with the lines of the revision it names.
    fn explain(&self, error: &Error) -> String {
        let Error::Statement { id, line, .. } = error else {
            return error.to_string();
        };
        let lines: Vec<&str> = self.text(id).lines().collect();
        let from = line.saturating_sub(3);
        let context: Vec<String> = lines
            .iter()
            .enumerate()
            .skip(from)
            .take(7)
            .map(|(i, l)| format!("{}{:>5} | {l}", if i + 1 == *line { ">" } else { " " }, i + 1))
            .collect();
        format!("{error}\n{}", context.join("\n"))
    }
}

fn workbench() -> Workbench {
    Workbench::new(&DatabaseUrl::parse(&postgres_server_url()).expect("a valid server URL"))
}

/// The normalised dump of a fresh database that psql loaded `models` into.
fn models_dump(label: &str, models: &str) -> String {
    let db = TestDatabase::create(label);
    oracle::psql(&db.name, models).unwrap_or_else(|e| panic!("{label}: the models do not load with psql: {e}"));
    oracle::dump(&db.name)
}

fn descriptions(generated: &Generated) -> String {
    generated.changes.iter().map(|c| format!("{c}\n")).collect()
}

/// At most `n` lines of `text`, for failure messages.
fn head(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines.iter().take(n).copied().collect::<Vec<_>>().join("\n");
    if lines.len() > n {
        out.push_str(&format!("\n... ({} more lines)", lines.len() - n));
    }
    out
}

/// From an empty history, the revision generated for forum.sql builds the
/// schema loading forum.sql builds (pg_dump says so), its down section
/// empties the database again, and the history then matches the models.
#[test]
fn forum_generated_from_an_empty_history_dumps_like_the_models() {
    let bench = workbench();
    let mut project = Project::default();
    let generated = bench
        .generate(&project.migrator(), FORUM)
        .unwrap_or_else(|e| panic!("generate: {e}"))
        .expect("an empty history differs from forum.sql");
    let id = project.push_generated("forum", "create the forum", &generated);
    let migrator = project.migrator();

    let db = TestDatabase::create("fixture_forum");
    let empty = oracle::dump(&db.name);
    let expected = models_dump("fixture_forum_models", FORUM);
    let mut connection = db.connect();
    migrator
        .run_to(connection.database(), &Target::Head)
        .unwrap_or_else(|e| panic!("the generated revision does not apply: {}", project.explain(&e)));
    let after = oracle::dump(&db.name);
    if let Some(difference) = oracle::dump_difference("forum.sql", &expected, "the history", &after) {
        panic!(
            "after upgrade, the database differs from forum.sql loaded directly:\n{difference}\nthe revision's changes:\n{}",
            head(&descriptions(&generated), 20)
        );
    }
    migrator
        .undo_to(connection.database(), &Target::Base)
        .unwrap_or_else(|e| panic!("the down section of `{id}` fails: {}", project.explain(&e)));
    oracle::assert_dumps_equal(
        "after downgrade to base, the database is not empty again",
        "an empty database",
        &empty,
        "the downgraded history",
        &oracle::dump(&db.name),
    );

    let left = bench.check_models(&migrator, FORUM).unwrap_or_else(|e| panic!("check_models: {e}"));
    assert!(left.is_empty(), "check_models after the generated revision: {left:#?}");
    let again = bench.generate(&migrator, FORUM).unwrap_or_else(|e| panic!("second generate: {e}"));
    assert!(again.is_none(), "a second generate writes:\n{}", again.map(|g| g.up).unwrap_or_default());
}

/// One edit of the models: each `(from, to)` replaces text that occurs
/// exactly once in the models as they are after the edits before it.
struct Edit {
    name: &'static str,
    replace: &'static [(&'static str, &'static str)],
}

const EDITS: &[Edit] = &[
    Edit {
        name: "table: add user_notes, drop permalinks, make application_requests logged",
        replace: &[
            (
                "CREATE INDEX idx_user_custom_fields_name ON user_custom_fields (name, user_id);\n",
                "CREATE INDEX idx_user_custom_fields_name ON user_custom_fields (name, user_id);\n\n\
                 CREATE TABLE user_notes (\n    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n    \
                 user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n    \
                 created_by_id integer NOT NULL REFERENCES users (id),\n    body text NOT NULL,\n    \
                 created_at timestamptz NOT NULL DEFAULT now()\n);\n\
                 CREATE INDEX idx_user_notes_user ON user_notes (user_id, created_at DESC);\n",
            ),
            (
                "CREATE TABLE permalinks (\n    id serial PRIMARY KEY,\n    url varchar(1000) NOT NULL,\n    \
                 topic_id integer REFERENCES topics (id) ON DELETE CASCADE,\n    \
                 post_id integer REFERENCES posts (id) ON DELETE CASCADE,\n    \
                 category_id integer REFERENCES categories (id) ON DELETE CASCADE,\n    \
                 external_url varchar(1000),\n    created_at timestamptz NOT NULL DEFAULT now(),\n    \
                 CONSTRAINT permalinks_one_target CHECK (num_nonnulls(topic_id, post_id, category_id, external_url) <= 1)\n);\n\
                 CREATE UNIQUE INDEX idx_permalinks_url ON permalinks (url);\n",
                "",
            ),
            ("CREATE UNLOGGED TABLE application_requests", "CREATE TABLE application_requests"),
        ],
    },
    Edit {
        name: "columns: widen varchar and integer, nullability both ways, defaults changed and dropped, columns added and dropped",
        replace: &[
            ("    full_name varchar(255),\n    automatic", "    full_name varchar(512),\n    automatic"),
            (
                "    time_read integer NOT NULL DEFAULT 0,\n    days_visited",
                "    time_read bigint NOT NULL DEFAULT 0,\n    days_visited",
            ),
            ("    word_count integer,\n", "    word_count integer NOT NULL DEFAULT 0,\n"),
            ("    position integer NOT NULL\n);", "    position integer\n);"),
            ("auto_track_after_ms integer DEFAULT 240000", "auto_track_after_ms integer DEFAULT 300000"),
            ("    text_color varchar(6) NOT NULL DEFAULT 'FFFFFF',", "    text_color varchar(6) NOT NULL,"),
            ("    excerpt varchar(1000),\n    search_vector", "    search_vector"),
            (
                "    updated_at timestamptz NOT NULL DEFAULT now(),\n    CONSTRAINT users_username_length",
                "    updated_at timestamptz NOT NULL DEFAULT now(),\n    flair_group_id integer,\n    CONSTRAINT users_username_length",
            ),
            (
                "    updated_at timestamptz NOT NULL DEFAULT now(),\n    CONSTRAINT products_sku_key",
                "    updated_at timestamptz NOT NULL DEFAULT now(),\n    tax_code varchar(16) NOT NULL DEFAULT 'standard',\n    CONSTRAINT products_sku_key",
            ),
        ],
    },
    Edit {
        name: "index: gin to gist, hash to btree, columns and order changed, one added, one dropped",
        replace: &[
            (
                "CREATE INDEX idx_users_name_trgm ON users USING gin (name gin_trgm_ops);",
                "CREATE INDEX idx_users_name_trgm ON users USING gist (name gist_trgm_ops);",
            ),
            (
                "CREATE INDEX idx_user_auth_tokens_prev ON user_auth_tokens USING hash (prev_auth_token);",
                "CREATE INDEX idx_user_auth_tokens_prev ON user_auth_tokens (prev_auth_token);",
            ),
            (
                "CREATE INDEX idx_topics_user ON topics (user_id);",
                "CREATE INDEX idx_topics_user ON topics (user_id, created_at DESC);",
            ),
            (
                "CREATE INDEX idx_posts_raw_trgm",
                "CREATE INDEX idx_posts_wiki ON posts (topic_id) WHERE wiki;\nCREATE INDEX idx_posts_raw_trgm",
            ),
            ("CREATE INDEX idx_incoming_links_created ON incoming_links (created_at, user_id);\n", ""),
        ],
    },
    Edit {
        name: "foreign key: made deferrable, made immediate, added, dropped, ON DELETE changed",
        replace: &[
            (
                "    post_id integer NOT NULL REFERENCES posts (id) ON DELETE CASCADE,\n    modifications",
                "    post_id integer NOT NULL REFERENCES posts (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,\n    modifications",
            ),
            ("REFERENCES chat_messages (id) DEFERRABLE INITIALLY IMMEDIATE,", "REFERENCES chat_messages (id),"),
            (
                "    post_action_id integer,\n",
                "    post_action_id integer REFERENCES post_actions (id) ON DELETE SET NULL,\n",
            ),
            (
                "    deleted_by_id integer REFERENCES users (id),\n    score double precision,\n    percent_rank",
                "    deleted_by_id integer,\n    score double precision,\n    percent_rank",
            ),
            (
                "    category_id integer REFERENCES categories (id) ON DELETE SET NULL,\n    topic_id integer REFERENCES topics (id) ON DELETE SET NULL,\n    score",
                "    category_id integer REFERENCES categories (id) ON DELETE CASCADE,\n    topic_id integer REFERENCES topics (id) ON DELETE SET NULL,\n    score",
            ),
        ],
    },
    Edit {
        name: "check: NOT VALID one added, one dropped, one changed, one validated",
        replace: &[
            (
                "CREATE INDEX idx_chat_messages_message_trgm",
                "ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_length CHECK (char_length(message) <= 6000) NOT VALID;\n\
                 CREATE INDEX idx_chat_messages_message_trgm",
            ),
            (
                "    created_at timestamptz NOT NULL DEFAULT now(),\n    CONSTRAINT uploads_positive_size CHECK (filesize >= 0)\n",
                "    created_at timestamptz NOT NULL DEFAULT now()\n",
            ),
            (
                "CONSTRAINT polls_status CHECK (status IN ('open', 'closed'))",
                "CONSTRAINT polls_status CHECK (status IN ('open', 'closed', 'archived'))",
            ),
            // NOT VALID inside CREATE TABLE is a valid check already: the one added by ALTER TABLE is validated.
            ("CHECK (char_length(raw) <= 65536) NOT VALID;", "CHECK (char_length(raw) <= 65536);"),
        ],
    },
    Edit {
        name: "enum: a value added in the middle and one at the end, one removed, a new type with a column",
        replace: &[
            ("'delivered', 'cancelled', 'refunded'", "'delivered', 'cancelled', 'partially_refunded', 'refunded'"),
            (
                "'muted', 'normal', 'tracking', 'watching'",
                "'muted', 'normal', 'tracking', 'watching', 'watching_first_post'",
            ),
            (
                "'regular', 'moderator_action', 'small_action', 'whisper'",
                "'regular', 'moderator_action', 'small_action'",
            ),
            (
                "CREATE TYPE reviewable_status",
                "CREATE TYPE upload_kind AS ENUM ('attachment', 'avatar', 'emoji');\nCREATE TYPE reviewable_status",
            ),
            (
                "    created_at timestamptz NOT NULL DEFAULT now()\n);\nCREATE UNIQUE INDEX idx_uploads_sha1",
                "    created_at timestamptz NOT NULL DEFAULT now(),\n    kind upload_kind NOT NULL DEFAULT 'attachment'\n);\nCREATE UNIQUE INDEX idx_uploads_sha1",
            ),
        ],
    },
    Edit {
        name: "view: a column added to a view and to the materialized view, one view dropped, one added",
        replace: &[
            (
                "    SELECT u.id, u.username, u.admin, u.moderator\n",
                "    SELECT u.id, u.username, u.admin, u.moderator, u.last_seen_at\n",
            ),
            (
                "CREATE VIEW order_summaries AS\n    SELECT o.id, o.number, o.status, c.email, o.total, count(i.id) AS items\n    \
                 FROM orders o\n    JOIN customers c ON c.id = o.customer_id\n    LEFT JOIN order_items i ON i.order_id = o.id\n    \
                 GROUP BY o.id, c.email;\n\n",
                "",
            ),
            (
                "max(t.bumped_at) AS last_bumped_at\n",
                "max(t.bumped_at) AS last_bumped_at, sum(t.like_count) AS likes\n",
            ),
            (
                "GRANT SELECT ON visible_topics TO PUBLIC;\n",
                "CREATE VIEW open_orders AS\n    SELECT o.id, o.number, o.customer_id, o.placed_at\n    FROM orders o\n    \
                 WHERE o.status IN ('pending', 'paid');\n\nGRANT SELECT ON visible_topics TO PUBLIC;\n",
            ),
        ],
    },
    Edit {
        name: "function: a body changed, one added, one dropped",
        replace: &[
            ("    NEW.updated_at := now();", "    NEW.updated_at := clock_timestamp();"),
            (
                "CREATE FUNCTION format_money(amount money_amount) RETURNS text\n    LANGUAGE sql IMMUTABLE\n    \
                 AS $$ SELECT (amount).currency || ' ' || to_char(((amount).amount)::numeric / 100, 'FM999999990.00') $$;\n\n",
                "",
            ),
            (
                "CREATE PROCEDURE purge_old_notifications",
                "CREATE FUNCTION normalize_email(email text) RETURNS text\n    LANGUAGE sql IMMUTABLE STRICT\n    \
                 AS $$ SELECT lower(trim(email)) $$;\n\nCREATE PROCEDURE purge_old_notifications",
            ),
        ],
    },
    Edit {
        name: "trigger: one added, one dropped, one's events changed",
        replace: &[
            (
                "CREATE TRIGGER posts_bump_topic AFTER INSERT ON posts",
                "CREATE TRIGGER chat_messages_touch BEFORE UPDATE ON chat_messages FOR EACH ROW EXECUTE FUNCTION touch_updated_at();\n\
                 CREATE TRIGGER posts_bump_topic AFTER INSERT OR UPDATE OF deleted_at ON posts",
            ),
            (
                "CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch_updated_at();\n",
                "",
            ),
        ],
    },
    Edit {
        name: "comment: one changed, one added, one dropped",
        replace: &[
            (
                "COMMENT ON TABLE users IS 'Accounts, including staged ones created from incoming email.';",
                "COMMENT ON TABLE users IS 'Accounts; staged ones were created from incoming email and cannot log in.';",
            ),
            (
                "COMMENT ON COLUMN orders.total",
                "COMMENT ON TABLE orders IS 'One checkout; its lines are order_items.';\nCOMMENT ON COLUMN orders.total",
            ),
            ("COMMENT ON COLUMN posts.cooked IS 'raw rendered to HTML.';\n", ""),
        ],
    },
];

fn apply_edit(models: &str, edit: &Edit) -> String {
    let mut text = models.to_owned();
    for (from, to) in edit.replace {
        let found = text.matches(from).count();
        assert_eq!(found, 1, "edit `{}`: {from:?} occurs {found} times in the models", edit.name);
        text = text.replacen(from, to, 1);
    }
    text
}

/// A history being built edit by edit and the database it is applied to.
struct Chain {
    project: Project,
    db: TestDatabase,
    connection: migrate_runtime::Connection,
}

impl Chain {
    /// A history whose one revision is `models`, written by hand, applied
    /// to a new database.
    fn from_models(id: &str, models: &str) -> Chain {
        let mut project = Project::default();
        project.push(id, "the models as written", models, None);
        let db = TestDatabase::create("fixture_edits");
        let mut connection = db.connect();
        project
            .migrator()
            .run_to(connection.database(), &Target::Head)
            .unwrap_or_else(|e| panic!("{id}: the models as a revision: {}", project.explain(&e)));
        Chain { project, db, connection }
    }
}

/// Ten edits of forum.sql, one after another, each a revision generated
/// on top of the ones before (the first revision is forum.sql itself,
/// written by hand): each applies, builds what the edited models build
/// (pg_dump says so), leaves `check` clean and a second `generate` with
/// nothing to write, and its down section gives the previous dump back.
/// Every failure is collected with the edit's name. When a revision does
/// not apply or revert, the edits after it go on from a new history whose
/// one revision is the models as they stand, so each edit is tried.
#[test]
fn ten_edits_of_forum_each_generate_a_revision_that_converges() {
    let bench = workbench();
    let mut chain = Chain::from_models("forum_0", FORUM);
    let mut failures: Vec<String> = Vec::new();
    let baseline = bench.check_models(&chain.project.migrator(), FORUM).unwrap_or_else(|e| panic!("check_models: {e}"));
    if !baseline.is_empty() {
        failures.push(format!(
            "before any edit: check_models of forum.sql against a history that is forum.sql is not clean:\n{}",
            head(&baseline.iter().map(|c| format!("{c}\n")).collect::<String>(), 40)
        ));
    }

    let mut models = FORUM.to_owned();
    for (n, edit) in EDITS.iter().enumerate() {
        let step = format!("edit {} ({})", n + 1, edit.name);
        let failed_before = failures.len();
        models = apply_edit(&models, edit);
        match edit_step(&bench, &mut chain, &step, n + 1, &models) {
            Ok((changes, step_failures)) => {
                failures.extend(step_failures);
                // A changed list is one more failure, not the end of the sequence.
                let snapshot = || insta::assert_snapshot!(format!("forum_edit_{:02}", n + 1), changes, &step);
                if failures.len() == failed_before && std::panic::catch_unwind(snapshot).is_err() {
                    failures.push(format!("{step}: its changes differ from the snapshot forum_edit_{:02}", n + 1));
                }
            }
            Err(fatal) => {
                failures.push(fatal);
                failures
                    .push(format!("(edits after {} start again from its models, as one hand-written revision)", n + 1));
                chain = Chain::from_models(&format!("restart_{:02}", n + 1), &models);
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// One edit: generate, apply, compare, check, generate again, revert,
/// compare, apply again. Returns the change descriptions and what failed
/// while the chain stayed usable, or why it cannot go on.
fn edit_step(
    bench: &Workbench,
    chain: &mut Chain,
    step: &str,
    n: usize,
    models: &str,
) -> Result<(String, Vec<String>), String> {
    let mut failures = Vec::new();
    let previous_id = chain.project.ids.last().cloned().expect("one revision at least");
    let before = oracle::dump(&chain.db.name);
    let generated = match bench.generate(&chain.project.migrator(), models) {
        Ok(Some(generated)) => generated,
        Ok(None) => return Err(format!("{step}: generate found no change")),
        Err(e) => return Err(format!("{step}: generate failed: {e}")),
    };
    let changes = descriptions(&generated);
    let id = chain.project.push_generated(&format!("edit_{n:02}"), step, &generated);
    let migrator = chain.project.migrator();
    if let Err(e) = migrator.run_to(chain.connection.database(), &Target::Head) {
        return Err(format!("{step}: the revision does not apply: {}\nchanges:\n{changes}", chain.project.explain(&e)));
    }
    let expected = models_dump(&format!("fixture_edit_{n}"), models);
    let after = oracle::dump(&chain.db.name);
    if let Some(difference) = oracle::dump_difference("the models", &expected, "the history", &after) {
        failures
            .push(format!("{step}: after upgrade the dump differs from the models'\nchanges:\n{changes}{difference}"));
    }
    match bench.check_models(&migrator, models) {
        Ok(left) if left.is_empty() => {}
        Ok(left) => failures.push(format!("{step}: check_models after the revision: {left:#?}")),
        Err(e) => failures.push(format!("{step}: check_models failed: {e}")),
    }
    match bench.generate(&migrator, models) {
        Ok(None) => {}
        Ok(Some(again)) => failures.push(format!("{step}: a second generate writes:\n{}", head(&again.up, 30))),
        Err(e) => failures.push(format!("{step}: the second generate failed: {e}")),
    }
    if let Err(e) = migrator.undo_to(chain.connection.database(), &Target::Revision(previous_id)) {
        failures.push(format!("{step}: the down section of `{id}` fails: {}", chain.project.explain(&e)));
        return Err(failures.join("\n\n"));
    }
    if let Some(difference) = oracle::dump_difference("before", &before, "after down", &oracle::dump(&chain.db.name)) {
        failures.push(format!("{step}: the down section does not give the previous dump back\n{difference}"));
    }
    if let Err(e) = migrator.run_to(chain.connection.database(), &Target::Head) {
        failures
            .push(format!("{step}: the revision does not apply again after its down: {}", chain.project.explain(&e)));
        return Err(failures.join("\n\n"));
    }
    Ok((changes, failures))
}

/// `pg_dump --schema-only` of a database the history built (forum.sql as
/// a revision), unedited, works as the models: `check` is clean, and from
/// an empty history `generate` writes a revision that applies and builds
/// what loading the dump builds. (Not always the dumped database itself:
/// PostgreSQL prints `kind IN ('a', 'b')` on a varchar column in a form that
/// it reads back as another, so pg_dump and psql alone do not give the same
/// dump back either.)
#[test]
fn pg_dump_of_the_forum_works_unedited_as_the_models() {
    let bench = workbench();
    let mut built = Project::default();
    built.push("forum_0", "forum.sql as written", FORUM, None);
    let source = TestDatabase::create("fixture_dump_src");
    built
        .migrator()
        .run_to(source.connect().database(), &Target::Head)
        .unwrap_or_else(|e| panic!("forum.sql as a revision: {}", built.explain(&e)));
    let dumped = oracle::plain_dump(&source.name);

    let left = bench.check_models(&built.migrator(), &dumped).unwrap_or_else(|e| panic!("check_models: {e}"));
    assert!(left.is_empty(), "check_models with the pg_dump text as the models: {left:#?}");

    let mut project = Project::default();
    let generated = bench
        .generate(&project.migrator(), &dumped)
        .unwrap_or_else(|e| panic!("generate from the pg_dump text: {e}"))
        .expect("an empty history differs from the dump");
    project.push_generated("from_dump", "the forum from its dump", &generated);
    let db = TestDatabase::create("fixture_dump_dst");
    project
        .migrator()
        .run_to(db.connect().database(), &Target::Head)
        .unwrap_or_else(|e| panic!("the revision generated from the dump does not apply: {}", project.explain(&e)));
    let loaded = TestDatabase::create("fixture_dump_loaded");
    oracle::psql(&loaded.name, &dumped).unwrap_or_else(|e| panic!("psql does not load the dump: {e}"));
    oracle::assert_same_dump(&loaded.name, &db.name);
}

/// `squash`'s baseline of the forum history (the revision generated for
/// forum.sql: tables, views, functions, triggers, enums, ...) builds what
/// loading forum.sql builds, pg_dump says, running in place of the
/// revision; `check`'s proof holds.
#[test]
fn a_baseline_of_the_forum_dumps_like_the_models() {
    let bench = workbench();
    let mut project = Project::default();
    let generated = bench.generate(&project.migrator(), FORUM).expect("generate").expect("a difference");
    let forum = project.push_generated("forum", "create the forum", &generated);
    let baseline = bench.baseline(&project.migrator(), &forum).unwrap_or_else(|e| panic!("baseline: {e}"));
    let text = format!(
        "-- revision: zbase\n-- parents:\n-- message: baseline\n-- replaces: {forum}\n\n-- migrate:up\n{}\n",
        baseline.up
    );
    project.files.push(migrate_history::SourceFile::new("migrations/zbase.sql", text));
    // The graph alone: where the files live and their pins are the build's business.
    let revisions = project.files.iter().map(|f| migrate_history::parse_revision(f.clone()).expect("parses")).collect();
    let (history, problems) = migrate_history::History::build(revisions);
    assert!(problems.is_empty(), "{problems:?}");
    let migrator = Migrator::new(history);
    let proof = bench.prove_baseline(&migrator, "zbase").unwrap_or_else(|e| panic!("proof: {e}"));
    assert!(proof.holds(), "{proof:?}");

    let db = TestDatabase::create("fixture_forum_baseline");
    let mut connection = db.connect();
    migrator
        .run_to(connection.database(), &Target::Head)
        .unwrap_or_else(|e| panic!("the baseline does not apply: {e}\n{}", head(&baseline.up, 40)));
    let applied = db.query("SELECT revision FROM migrate_versions");
    assert_eq!(applied, [[Some("zbase".to_owned())]], "the baseline ran in place of the forum revision");
    let expected = models_dump("fixture_forum_baseline_models", FORUM);
    if let Some(difference) = oracle::dump_difference("forum.sql", &expected, "the baseline", &oracle::dump(&db.name)) {
        panic!("the baseline's database differs from forum.sql loaded directly:\n{difference}");
    }
}
