//! The migration lock as a lease row, for databases whose advisory locks
//! cannot be trusted (CockroachDB accepts `pg_advisory_lock` and does
//! nothing; YugabyteDB refuses it; PgBouncer in transaction pooling loses
//! session locks): a row in `<version table>_lock` with an owner and an
//! expiry. It is taken with one conditional upsert (a new row, or an expired
//! one taken over), renewed before each revision, released by deleting it,
//! and taken over by another migrator only once it has expired, which that
//! migrator reports. A holder killed with SIGKILL blocks the others until
//! its lease expires.

use std::time::Duration;

use crate::DbError;
use crate::conn::Conn;
use crate::db::cell;

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
