//! The migration lock as a lease row, for databases whose advisory locks
//! cannot be trusted (CockroachDB accepts `pg_advisory_lock` and does
//! nothing; YugabyteDB refuses it; PgBouncer in transaction pooling loses
//! session locks): a row in `<version table>_lock` with an owner and an
//! expiry. It is taken with one conditional upsert (a new row, or an expired
//! one taken over), renewed before each revision and, given a connection of
//! its own ([`Heartbeat`]), every third of the lease while a revision runs,
//! released by deleting it, and taken over by another migrator only once it
//! has expired, which that migrator reports. A holder killed with SIGKILL
//! blocks the others until its lease expires.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::conn::{Blocking, Conn, now};
use crate::db::cell;
use crate::{Database, DbError};

/// Opens a second connection to the migrated database, for the heartbeat.
#[derive(Clone)]
pub(crate) struct Connector(pub(crate) Arc<dyn Fn() -> Result<Box<dyn Database + Send>, DbError> + Send + Sync>);

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector")
    }
}

/// A lease this process takes, holds or released.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    /// The lock table, qualified and quoted.
    table: String,
    key: i64,
    /// Who takes it: unique per run.
    owner: String,
    ttl: Duration,
}

/// What taking the lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Taken (a new row, or our own).
    Fresh,
    /// Taken over from an owner whose lease had expired.
    TakenOver { previous: String },
    /// Someone else holds it.
    Held { holder: String },
}

impl Lease {
    /// Whether the lease's statements (PostgreSQL's) run on `dialect`.
    pub(crate) fn speaks(dialect: crate::Dialect) -> bool {
        dialect == crate::Dialect::Postgres
    }

    /// The lease of lock `key` in `table` (qualified and quoted), held for `ttl` at a time.
    pub(crate) fn new(table: String, key: i64, ttl: Duration) -> Lease {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let owner = format!("pid {} on {host} ({nanos:08x})", std::process::id());
        Lease { table, key, owner, ttl }
    }

    fn literal(text: &str) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }

    fn expiry(&self) -> String {
        format!("now() + interval '{} milliseconds'", self.ttl.as_millis().max(1))
    }

    /// Creates the lease table if it is missing: once per run, before the
    /// first [`try_take`](Lease::try_take).
    pub(crate) async fn ensure_table<C: Conn>(&self, db: &mut C) -> Result<(), DbError> {
        let created = db
            .execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {} (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, \
                 acquired_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL)",
                self.table
            ))
            .await;
        // Two migrators creating it at once: PostgreSQL's `IF NOT EXISTS`
        // is not atomic: the loser sees a unique violation on the catalog
        // (23505), the table (42P07) or its row type ("type ... already
        // exists", 42710), each only once the winner has committed. It
        // exists either way.
        match created {
            Err(error) if !matches!(error.code.as_deref(), Some("23505" | "42P07" | "42710")) => Err(error),
            _ => Ok(()),
        }
    }

    /// Takes the lease if it is free, expired or ours, in one statement
    /// that also reads the row as it was before (who held it, whether it
    /// had expired).
    pub(crate) async fn try_take<C: Conn>(&self, db: &mut C) -> Result<Outcome, DbError> {
        let (table, key) = (&self.table, self.key);
        let rows = db
            .query_text(&format!(
                "WITH before AS (SELECT owner, expires_at < now() AS expired, CAST(expires_at AS TEXT) AS until \
                 FROM {table} WHERE id = {key}), \
                 taken AS (INSERT INTO {table} (id, owner, acquired_at, expires_at) VALUES ({key}, {}, now(), {}) \
                 ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, acquired_at = excluded.acquired_at, \
                 expires_at = excluded.expires_at WHERE {table}.expires_at < now() OR {table}.owner = excluded.owner \
                 RETURNING owner) \
                 SELECT (SELECT count(*) FROM taken), (SELECT owner FROM before), \
                 (SELECT CASE WHEN expired THEN 1 ELSE 0 END FROM before), (SELECT until FROM before)",
                Self::literal(&self.owner),
                self.expiry()
            ))
            .await?;
        let row = rows.first().cloned().unwrap_or_default();
        let (taken, previous, expired, until) = (cell(&row, 0), cell(&row, 1), cell(&row, 2), cell(&row, 3));
        Ok(if taken == "0" {
            Outcome::Held { holder: format!("{previous} (lease until {until})") }
        } else if expired == "1" && previous != self.owner {
            Outcome::TakenOver { previous }
        } else {
            Outcome::Fresh
        })
    }

    /// Extends the lease; an error when it is no longer ours (it expired
    /// and another migrator took it over).
    pub(crate) async fn renew<C: Conn>(&self, db: &mut C) -> Result<bool, DbError> {
        let rows = db
            .query_text(&format!(
                "UPDATE {} SET expires_at = {} WHERE id = {} AND owner = {} RETURNING owner",
                self.table,
                self.expiry(),
                self.key,
                Self::literal(&self.owner)
            ))
            .await?;
        Ok(!rows.is_empty())
    }

    /// Deletes the lease if it is still ours.
    pub(crate) async fn release<C: Conn>(&self, db: &mut C) -> Result<(), DbError> {
        db.execute_batch(&format!(
            "DELETE FROM {} WHERE id = {} AND owner = {}",
            self.table,
            self.key,
            Self::literal(&self.owner)
        ))
        .await
    }

    /// Who holds the lease and until when.
    pub(crate) async fn holder<C: Conn>(&self, db: &mut C) -> Option<String> {
        let rows = db
            .query_text(&format!(
                "SELECT owner || ' (lease until ' || CAST(expires_at AS TEXT) || ')' FROM {} WHERE id = {}",
                self.table, self.key
            ))
            .await
            .ok()?;
        rows.first().map(|row| cell(row, 0))
    }
}

/// Renews a lease every third of its length over a connection of its own,
/// so that a revision longer than the lease keeps it. Stops when
/// [`stop`](Heartbeat::stop)ped or dropped, or once the lease is no longer
/// ours ([`lost`](Heartbeat::lost)). A renewal that fails (the connection
/// dropped) is retried on a new connection at the next beat.
pub(crate) struct Heartbeat {
    lost: Arc<AtomicBool>,
    running: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
}

impl Heartbeat {
    pub(crate) fn start(lease: Lease, connect: Connector) -> Heartbeat {
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let beat = (lease.ttl / 3).max(Duration::from_millis(10));
        let flag = lost.clone();
        let thread = std::thread::spawn(move || {
            let mut db: Option<Box<dyn Database + Send>> = None;
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(beat) {
                if db.is_none() {
                    db = (connect.0)().ok();
                }
                let Some(conn) = db.as_mut() else { continue };
                match now(lease.renew(&mut Blocking(&mut **conn))) {
                    Ok(true) => {}
                    Ok(false) => {
                        flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(_) => db = None,
                }
            }
        });
        Heartbeat { lost, running: Mutex::new(Some((stop, thread))) }
    }

    /// Whether a beat found the lease taken over by another migrator.
    pub(crate) fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops beating and waits for the thread (at most one renewal).
    pub(crate) fn stop(&self) {
        let running = self.running.lock().map(|mut running| running.take()).unwrap_or_default();
        if let Some((stop, thread)) = running {
            drop(stop);
            let _ = thread.join();
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop();
    }
}
