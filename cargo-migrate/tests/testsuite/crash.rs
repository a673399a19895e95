//! Crash safety (issue #8): a 200-revision upgrade is killed with SIGKILL at
//! pseudo-random moments and run again until it finishes on its own. After
//! every kill the version table, the schema and a per-revision side-effect
//! log must agree, and a `transaction: false` revision caught part-way is
//! settled as an operator would: its effects undone or completed by hand,
//! then `resolve`. It runs on PostgreSQL, SQLite and MariaDB, where DDL
//! commits implicitly, so any revision may be caught part-way (and the
//! upgrade has 50 revisions, see `MYSQL_REVISIONS`).
//!
//! The delays come from a fixed seed, printed with every failure;
//! `CRASH_SEED=N` runs another one. Timing still differs from run to run, so
//! a seed names the schedule of delays, not the exact moments of the kills.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use migrate_runtime::{Connection, Database, DatabaseUrl, Dialect};
use tests::support::{TestDatabase, TestMysql};

use crate::hardening::{project, rev, run, spawn, wait_for};
use crate::{assert_exit, transcript};

const REVISIONS: usize = 200;
/// Fewer on MariaDB, to keep its running time near PostgreSQL's: nearly
/// every kill there leaves a `running` row, which costs a `resolve` run and
/// another read of the schema, and half of them are rolled back by hand, so
/// the upgrade takes more runs. With 200 the test took 4–11 s (seeds 1–15)
/// where PostgreSQL's took 1.4–3 s, with 100 still two to four times as
/// long; with 50 it takes about as long and is killed about as often.
const MYSQL_REVISIONS: usize = 50;
/// Every 20th revision runs outside a transaction, statement by statement.
const NON_TRANSACTIONAL_EVERY: usize = 20;
/// Rows a heavy statement generates, so that kills land inside statements.
const HEAVY_ROWS: i64 = 5000;
/// Upgrades started at most before the test gives up.
const MAX_RUNS: usize = 200;
/// Kills that must land after the upgrade made progress and before it was
/// done, or the test proved nothing.
const MIN_KILLS_MID_UPGRADE: usize = 5;
const DEFAULT_SEED: u64 = 0x5eed_0008_c0ff_ee11;
/// The longest first delay. A run killed before it got anywhere (still
/// starting up) makes the next window 25% longer, one killed part-way 2%:
/// kills gather where the upgrade is under way, and it finishes on any machine.
const FIRST_WINDOW_MS: f64 = 20.0;
const GROWTH_AT_STARTUP: f64 = 1.25;
const GROWTH_UNDER_WAY: f64 = 1.02;

#[test]
fn postgres_upgrade_killed_at_random_moments_stays_consistent() {
    let db = TestDatabase::create("crash");
    let dir = project(&[]);
    upgrade_killed_until_done("postgres", dir.path(), &db.url, REVISIONS);
}

#[test]
fn sqlite_upgrade_killed_at_random_moments_stays_consistent() {
    let dir = project(&[]);
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    upgrade_killed_until_done("sqlite", dir.path(), &url, REVISIONS);
}

/// MariaDB commits DDL implicitly, so the engine runs every revision the
/// `transaction: false` way (a `running` row, then `statements_done` after
/// each statement): any revision, not only every 20th, may be caught
/// part-way and settled by hand.
#[test]
fn mysql_upgrade_killed_at_random_moments_stays_consistent() {
    let db = TestMysql::create("crash");
    let dir = project(&[]);
    upgrade_killed_until_done("mariadb", dir.path(), &db.url, MYSQL_REVISIONS);
}

/// xorshift64: deterministic delays without a crate.
#[derive(Debug)]
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One change of a revision that can be seen on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Effect {
    /// A table; a `heavy` one holds `HEAVY_ROWS` rows, all or none.
    Table { name: String, heavy: bool },
    /// The row (revision, step) of `side_effects`.
    Logged { step: i64 },
}

#[derive(Debug)]
struct Revision {
    id: String,
    /// Runs in one transaction: all its effects or none. Not on MariaDB,
    /// where every revision runs statement by statement.
    transactional: bool,
    /// Says `-- transaction: false`.
    declares_no_transaction: bool,
    /// In order. Outside a transaction, statement `i` makes effect `i`.
    statements: Vec<String>,
    effects: Vec<Effect>,
}

/// `HEAVY_ROWS` rows. PostgreSQL and SQLite count to it; MySQL and MariaDB
/// may stop a recursive query after 1000 rounds (`cte_max_recursion_depth`,
/// `max_recursive_iterations`; the local MariaDB 10.11 does), so there a
/// hundred numbers are crossed with themselves.
fn series(dialect: Dialect) -> String {
    if dialect == Dialect::Mysql {
        format!(
            "WITH RECURSIVE s(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM s WHERE x < 99) \
             SELECT a.x * 100 + b.x + 1 AS x FROM s a, s b WHERE a.x * 100 + b.x < {HEAVY_ROWS}"
        )
    } else {
        format!(
            "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {HEAVY_ROWS}) SELECT x FROM s"
        )
    }
}

/// Revision `n` (1-based): a transactional one creates `t_NNNN` (every
/// fifth one filled with `HEAVY_ROWS` rows) and logs step 1; every 20th
/// runs outside a transaction: three statements, each one atomic change
/// (a heavy table, a log row, a heavy table). On MySQL, which runs every
/// revision outside a transaction, a heavy `t_NNNN` is made by one
/// statement, so that there too statement `i` makes effect `i`.
fn revision(n: usize, dialect: Dialect) -> Revision {
    let id = format!("r{n:04}");
    let table = format!("t_{n:04}");
    let log = |step: i64| format!("INSERT INTO side_effects VALUES ('{id}', {step})");
    let mut statements = Vec::new();
    let mut effects = Vec::new();
    let declares_no_transaction = n % NON_TRANSACTIONAL_EVERY == 0;
    let transactional = !declares_no_transaction && dialect != Dialect::Mysql;
    if !declares_no_transaction {
        if n == 1 {
            statements.push("CREATE TABLE side_effects (revision TEXT, step INT)".to_owned());
            effects.push(Effect::Table { name: "side_effects".into(), heavy: false });
        }
        let heavy = n % 5 == 3;
        if heavy && dialect == Dialect::Mysql {
            statements.push(format!("CREATE TABLE {table} AS {}", series(dialect)));
        } else {
            statements.push(format!("CREATE TABLE {table} (x INT)"));
            if heavy {
                statements.push(format!("INSERT INTO {table} {}", series(dialect)));
            }
        }
        effects.push(Effect::Table { name: table, heavy });
        statements.push(log(1));
        effects.push(Effect::Logged { step: 1 });
    } else {
        statements.push(format!("CREATE TABLE {table}_1 AS {}", series(dialect)));
        effects.push(Effect::Table { name: format!("{table}_1"), heavy: true });
        statements.push(log(2));
        effects.push(Effect::Logged { step: 2 });
        statements.push(format!("CREATE TABLE {table}_3 AS {}", series(dialect)));
        effects.push(Effect::Table { name: format!("{table}_3"), heavy: true });
    }
    Revision { id, transactional, declares_no_transaction, statements, effects }
}

/// What the database holds, read after a kill.
#[derive(Debug, Default)]
struct Observed {
    /// revision → (state, statements_done)
    rows: BTreeMap<String, (String, Option<i64>)>,
    tables: BTreeSet<String>,
    /// Rows of the heavy tables that exist.
    counts: BTreeMap<String, i64>,
    /// (revision, step) → how many times logged.
    logged: BTreeMap<(String, i64), i64>,
}

fn query(db: &mut dyn Database, sql: &str) -> Vec<Vec<String>> {
    db.query_text(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|row| row.into_iter().map(Option::unwrap_or_default).collect())
        .collect()
}

fn observe(db: &mut dyn Database, history: &[Revision]) -> Observed {
    let tables_sql = match db.dialect() {
        Dialect::Postgres => "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Dialect::Mysql => "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
        other => unreachable!("crash tests run on SQLite, PostgreSQL and MariaDB, not {}", other.name()),
    };
    let tables: BTreeSet<String> = query(db, tables_sql).into_iter().map(|row| row[0].clone()).collect();
    let mut seen = Observed::default();
    if tables.contains("migrate_versions") {
        for row in query(db, "SELECT revision, state, statements_done FROM migrate_versions") {
            seen.rows.insert(row[0].clone(), (row[1].clone(), row[2].parse().ok()));
        }
    }
    if tables.contains("side_effects") {
        for row in query(db, "SELECT revision, step, count(*) FROM side_effects GROUP BY revision, step") {
            seen.logged.insert((row[0].clone(), row[1].parse().unwrap()), row[2].parse().unwrap());
        }
    }
    let heavy: Vec<String> = history
        .iter()
        .flat_map(|rev| &rev.effects)
        .filter_map(|effect| match effect {
            Effect::Table { name, heavy: true } if tables.contains(name) => {
                Some(format!("SELECT '{name}', count(*) FROM {name}"))
            }
            _ => None,
        })
        .collect();
    if !heavy.is_empty() {
        for row in query(db, &heavy.join(" UNION ALL ")) {
            seen.counts.insert(row[0].clone(), row[1].parse().unwrap());
        }
    }
    seen.tables = tables;
    seen
}

/// How the database looked to the checks.
#[derive(Debug, Default)]
struct Verdict {
    /// Everything that disagrees; empty when version table, schema and log agree.
    problems: Vec<String>,
    /// Revisions marked applied (a prefix of the history when consistent).
    applied: usize,
    /// The revision left `running` (index into the history) and its statements_done.
    running: Option<(usize, i64)>,
}

impl Observed {
    /// Whether `effect` of `rev` is in effect; a problem when it is in
    /// effect in part or more than once.
    fn present(&self, rev: &Revision, effect: &Effect, problems: &mut Vec<String>) -> bool {
        match effect {
            Effect::Table { name, heavy } => {
                let exists = self.tables.contains(name);
                let rows = self.counts.get(name).copied().unwrap_or_default();
                if *heavy && exists && rows != HEAVY_ROWS {
                    problems.push(format!("{}: table {name} has {rows} rows, not {HEAVY_ROWS}", rev.id));
                }
                exists
            }
            Effect::Logged { step } => {
                let times = self.logged.get(&(rev.id.clone(), *step)).copied().unwrap_or(0);
                if times > 1 {
                    problems.push(format!("{}: step {step} is logged {times} times (replayed)", rev.id));
                }
                times > 0
            }
        }
    }
}

fn describe(effect: &Effect) -> String {
    match effect {
        Effect::Table { name, .. } => format!("table {name}"),
        Effect::Logged { step } => format!("log row {step}"),
    }
}

/// Checks `seen` against the history: a row `applied` exactly when all its
/// effects are there, no row exactly when none is, a `running` row with
/// statements_done = k when effects 1..=k are there and k+2.. are not.
fn check(history: &[Revision], seen: &Observed) -> Verdict {
    let mut verdict = Verdict::default();
    let problems = &mut verdict.problems;
    let mut expected_tables = BTreeSet::from(["migrate_versions".to_owned()]);
    let mut expected_log = BTreeSet::new();
    for rev in history {
        for effect in &rev.effects {
            match effect {
                Effect::Table { name, .. } => expected_tables.insert(name.clone()),
                Effect::Logged { step } => expected_log.insert((rev.id.clone(), *step)),
            };
        }
    }
    problems.extend(seen.tables.difference(&expected_tables).map(|t| format!("table {t} belongs to no revision")));
    problems.extend(
        seen.logged
            .keys()
            .filter(|k| !expected_log.contains(*k))
            .map(|(r, s)| format!("log row ({r}, {s}) is unknown")),
    );
    let ids: BTreeSet<&str> = history.iter().map(|rev| rev.id.as_str()).collect();
    problems.extend(seen.rows.keys().filter(|r| !ids.contains(r.as_str())).map(|r| format!("row {r} is unknown")));
    let mut prefix_ended = false;
    for (i, rev) in history.iter().enumerate() {
        let present: Vec<bool> = rev.effects.iter().map(|e| seen.present(rev, e, problems)).collect();
        let row = seen.rows.get(&rev.id);
        // Effects that must (true) or must not (false) be there.
        let expected: Vec<Option<bool>> = match row.map(|(state, done)| (state.as_str(), *done)) {
            None => vec![Some(false); present.len()],
            Some(("applied", _)) => vec![Some(true); present.len()],
            Some(("running", Some(k))) if !rev.transactional && (0..=rev.effects.len() as i64).contains(&k) => {
                verdict.running.get_or_insert((i, k));
                (0..present.len() as i64).map(|j| if j == k { None } else { Some(j < k) }).collect()
            }
            Some(("running", None)) if !rev.transactional => {
                problems.push(format!(
                    "{}: a running row with statements_done NULL, not 0: the row written before the first \
                     statement must say that none has finished",
                    rev.id
                ));
                continue;
            }
            Some((state, done)) => {
                problems.push(format!("{}: state {state}, statements_done {done:?}", rev.id));
                continue;
            }
        };
        for ((effect, &is), want) in rev.effects.iter().zip(&present).zip(expected) {
            if want.is_some_and(|want| want != is) {
                let (state, done) = row.cloned().unwrap_or_else(|| ("no row".into(), None));
                problems.push(format!(
                    "{}: {} is {} but the version table says {state} (statements_done {done:?})",
                    rev.id,
                    describe(effect),
                    if is { "there" } else { "missing" },
                ));
            }
        }
        // A linear history is applied in order: applied, then at most one running, then nothing.
        match row.map(|(state, _)| state.as_str()) {
            Some("applied") if !prefix_ended => verdict.applied += 1,
            None => prefix_ended = true,
            Some(_) if !prefix_ended => prefix_ended = true,
            Some(state) => problems.push(format!("{}: {state} after a revision that is not applied", rev.id)),
        }
    }
    verdict
}

fn connect(url: &str) -> Connection {
    migrate_runtime::connect(&DatabaseUrl::parse(url).unwrap()).unwrap()
}

/// After a kill, once the server has ended the killed session (and rolled
/// back its transaction), what the database holds.
fn observe_after_kill(url: &str, history: &[Revision]) -> Observed {
    let mut conn = connect(url);
    let others = match conn.dialect() {
        Dialect::Postgres => Some(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        ),
        // A statement the killed client sent runs to its end (and commits) first.
        Dialect::Mysql => {
            Some("SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()")
        }
        _ => None,
    };
    if let Some(others) = others {
        wait_for("the killed session to end", || query(conn.database(), others)[0][0] == "0");
    }
    observe(conn.database(), history)
}

/// What an operator does with a revision left `running` with
/// `statements_done` = `done`: undo what of it is in effect and `resolve
/// --rolled-back`, or finish it by hand and `resolve --applied`. The first
/// `done` statements ran, the ones after the next did not; the next one may
/// have finished without being counted (killed in between), so it is looked at.
fn settle(dir: &Path, url: &str, rev: &Revision, seen: &Observed, done: i64, finish: bool) {
    let mut conn = connect(url);
    let db = conn.database();
    let mut steps: Vec<_> = (0..).zip(rev.effects.iter().zip(&rev.statements)).collect();
    if !finish {
        // Last first: r0001 logs into the table it made.
        steps.reverse();
    }
    for (j, (effect, statement)) in steps {
        let there = j < done || j == done && seen.present(rev, effect, &mut Vec::new());
        let sql = if finish && !there {
            statement.clone()
        } else if !finish && there {
            match effect {
                Effect::Table { name, .. } => format!("DROP TABLE {name}"),
                Effect::Logged { step } => {
                    format!("DELETE FROM side_effects WHERE revision = '{}' AND step = {step}", rev.id)
                }
            }
        } else {
            continue;
        };
        db.execute_batch(&sql).unwrap_or_else(|e| panic!("settling {} by hand: {sql}: {e}", rev.id));
    }
    let how = if finish { "--applied" } else { "--rolled-back" };
    assert_exit(&run(dir, url, &["resolve", &rev.id, how]), 0);
}

/// The end of a killed run's output: where it was.
fn last_lines(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(3)..].join("\n")
}

/// Runs the upgrade, killing it after ever longer pseudo-random delays,
/// until it finishes by itself, checking the database after every kill.
fn upgrade_killed_until_done(label: &str, dir: &Path, url: &str, revisions: usize) {
    let seed = std::env::var("CRASH_SEED").map_or(DEFAULT_SEED, |s| s.parse().expect("CRASH_SEED is a number"));
    let mut rng = XorShift(seed.max(1));
    let dialect = DatabaseUrl::parse(url).unwrap().dialect();
    let history: Vec<Revision> = (1..=revisions).map(|n| revision(n, dialect)).collect();
    let migrations = dir.join("migrations");
    for (i, revision) in history.iter().enumerate() {
        let parent = if i == 0 { String::new() } else { history[i - 1].id.clone() };
        let header = if revision.declares_no_transaction { "-- transaction: false\n" } else { "" };
        let up = revision.statements.iter().map(|s| format!("{s};\n")).collect::<String>();
        std::fs::write(migrations.join(format!("{}.sql", revision.id)), rev(&revision.id, &parent, header, &up))
            .unwrap();
    }
    let started = Instant::now();
    let (mut kills, mut mid_upgrade, mut running_rows) = (0, 0, 0);
    let mut applied = 0;
    let mut window_ms = FIRST_WINDOW_MS;
    let mut finished = None;
    for attempt in 1..=MAX_RUNS {
        let delay = Duration::from_secs_f64(window_ms * (0.25 + 0.75 * rng.unit()) / 1000.0);
        let context = format!("{label}: seed {seed} (rerun with CRASH_SEED={seed}), run {attempt}, delay {delay:?}");
        let mut child = spawn(dir, url, &["upgrade"]);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
        }
        let output = child.wait_with_output().unwrap();
        let killed = match (output.status.code(), output.status.signal()) {
            (Some(0), _) => false,
            (None, Some(9)) => true,
            _ => panic!("{context}: the upgrade failed by itself\n{}", transcript(&output)),
        };
        let seen = observe_after_kill(url, &history);
        let verdict = check(&history, &seen);
        assert!(
            verdict.problems.is_empty(),
            "{context}: {} the version table, the schema and the log disagree:\n{}\nthe run's last lines:\n{}",
            if killed { "after the kill" } else { "after the upgrade finished" },
            verdict.problems.join("\n"),
            last_lines(&output.stderr)
        );
        let progressed = verdict.applied > applied || verdict.running.is_some();
        window_ms *= if progressed { GROWTH_UNDER_WAY } else { GROWTH_AT_STARTUP };
        if killed {
            kills += 1;
            mid_upgrade += usize::from(progressed && verdict.applied < revisions);
        }
        applied = verdict.applied;
        if let Some((i, done)) = verdict.running {
            running_rows += 1;
            let finish = running_rows % 2 == 0;
            settle(dir, url, &history[i], &seen, done, finish);
            let after = check(&history, &observe_after_kill(url, &history));
            assert!(
                after.problems.is_empty() && after.running.is_none() && after.applied == i + usize::from(finish),
                "{context}: settling {} (statements_done {done}, finished by hand: {finish}) left {after:?}",
                history[i].id
            );
            applied = after.applied;
        }
        if !killed {
            finished = Some(attempt);
            break;
        }
    }
    let runs =
        finished.unwrap_or_else(|| panic!("{label}: seed {seed}: the upgrade did not finish in {MAX_RUNS} runs"));
    assert_eq!(applied, revisions, "{label}: seed {seed}: the upgrade finished with {applied} revisions applied");
    let (_, stderr) = assert_exit(&run(dir, url, &["upgrade"]), 0);
    assert_eq!(stderr, format!("       Fresh nothing to do; the database is at r{revisions:04}\n"));
    assert!(
        mid_upgrade >= MIN_KILLS_MID_UPGRADE,
        "{label}: seed {seed}: only {mid_upgrade} of {kills} kills landed part-way through the upgrade"
    );
    eprintln!(
        "{label}: seed {seed}: {kills} kills ({mid_upgrade} part-way through the upgrade, {running_rows} leaving a \
         running row) in {runs} runs, {:.1?}",
        started.elapsed()
    );
}

/// The checks themselves, on states made by hand: each disagreement is found.
#[test]
fn crash_checks_find_each_kind_of_disagreement() {
    let history: Vec<Revision> = (1..=40).map(|n| revision(n, Dialect::Postgres)).collect();
    let consistent = || {
        let mut seen = Observed::default();
        seen.tables.extend(["migrate_versions", "side_effects"].map(String::from));
        for rev in &history[..19] {
            seen.rows.insert(rev.id.clone(), ("applied".into(), None));
            for effect in &rev.effects {
                match effect {
                    Effect::Table { name, heavy } => {
                        seen.tables.insert(name.clone());
                        if *heavy {
                            seen.counts.insert(name.clone(), HEAVY_ROWS);
                        }
                    }
                    Effect::Logged { step } => _ = seen.logged.insert((rev.id.clone(), *step), 1),
                }
            }
        }
        // r0020 (transaction: false) killed after its first statement, maybe in its second.
        seen.rows.insert("r0020".into(), ("running".into(), Some(1)));
        seen.tables.insert("t_0020_1".into());
        seen.counts.insert("t_0020_1".into(), HEAVY_ROWS);
        seen
    };
    let verdict = check(&history, &consistent());
    assert!(verdict.problems.is_empty(), "{:?}", verdict.problems);
    assert_eq!((verdict.applied, verdict.running), (19, Some((19, 1))));
    let problems = |change: &dyn Fn(&mut Observed)| {
        let mut seen = consistent();
        change(&mut seen);
        check(&history, &seen).problems
    };
    assert_eq!(
        problems(&|seen| _ = seen.tables.remove("t_0005")),
        ["r0005: table t_0005 is missing but the version table says applied (statements_done None)"]
    );
    assert_eq!(
        problems(&|seen| _ = seen.counts.insert("t_0003".into(), 17)),
        ["r0003: table t_0003 has 17 rows, not 5000"]
    );
    assert_eq!(
        problems(&|seen| _ = seen.logged.insert(("r0007".into(), 1), 2)),
        ["r0007: step 1 is logged 2 times (replayed)"]
    );
    assert_eq!(
        problems(&|seen| {
            seen.tables.insert("t_0020_3".into());
            seen.counts.insert("t_0020_3".into(), HEAVY_ROWS);
        }),
        ["r0020: table t_0020_3 is there but the version table says running (statements_done Some(1))"]
    );
    assert_eq!(
        problems(&|seen| _ = seen.tables.insert("t_0021".into())),
        ["r0021: table t_0021 is there but the version table says no row (statements_done None)"]
    );
    assert_eq!(
        problems(&|seen| _ = seen.rows.insert("r0021".into(), ("applied".into(), None))),
        [
            "r0021: table t_0021 is missing but the version table says applied (statements_done None)",
            "r0021: log row 1 is missing but the version table says applied (statements_done None)",
            "r0021: applied after a revision that is not applied",
        ]
    );
    assert_eq!(
        problems(&|seen| _ = seen.rows.insert("r0020".into(), ("running".into(), None))),
        ["r0020: a running row with statements_done NULL, not 0: the row written before the first statement must \
             say that none has finished"]
    );
    assert_eq!(
        problems(&|seen| _ = seen.rows.insert("r0004".into(), ("failed".into(), Some(0)))),
        ["r0004: state failed, statements_done Some(0)"]
    );
    assert_eq!(problems(&|seen| _ = seen.tables.insert("stray".into())), ["table stray belongs to no revision"]);

    // r0020 finished, r0021 (no `transaction: false`) killed after its table:
    // consistent on MySQL, which runs every revision statement by statement.
    let mut seen = consistent();
    seen.rows.insert("r0020".into(), ("applied".into(), None));
    seen.tables.insert("t_0020_3".into());
    seen.counts.insert("t_0020_3".into(), HEAVY_ROWS);
    seen.logged.insert(("r0020".into(), 2), 1);
    seen.rows.insert("r0021".into(), ("running".into(), Some(1)));
    seen.tables.insert("t_0021".into());
    let mysql: Vec<Revision> = (1..=40).map(|n| revision(n, Dialect::Mysql)).collect();
    let verdict = check(&mysql, &seen);
    assert!(verdict.problems.is_empty(), "{:?}", verdict.problems);
    assert_eq!((verdict.applied, verdict.running), (20, Some((20, 1))));
    assert_eq!(check(&history, &seen).problems, ["r0021: state running, statements_done Some(1)"]);
}
