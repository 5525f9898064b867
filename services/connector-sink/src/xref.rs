//! The connector's own state in PostgreSQL: cross references (connection, kind, natural key →
//! target id), the OAuth refresh tokens of each connection, and the QuickBooks stock watch's
//! baselines and outbox (quickbooks/stock_watch.rs).
use parking_lot::Mutex;
use sqlx::{PgPool, Row};
use std::{collections::HashMap, sync::Arc, time::Duration};

#[derive(Debug, thiserror::Error)]
#[error("connector database: {0}")]
pub struct StoreError(#[from] sqlx::Error);

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sink_xref (
    connection_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    natural_key TEXT NOT NULL,
    target_id TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    command_id TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, kind, natural_key)
);
CREATE TABLE IF NOT EXISTS sink_oauth_tokens (
    connection_id TEXT PRIMARY KEY,
    refresh_token TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    disconnected BOOLEAN NOT NULL DEFAULT false,
    detail TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sink_stock_watch (
    connection_id TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sink_stock_items (
    connection_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    -- a decimal string: QuickBooks quantities may have fractions
    qty TEXT NOT NULL,
    PRIMARY KEY (connection_id, item_id)
);
CREATE TABLE IF NOT EXISTS sink_stock_documents (
    connection_id TEXT NOT NULL,
    doc_key TEXT NOT NULL,
    effect JSONB NOT NULL,
    PRIMARY KEY (connection_id, doc_key)
);
CREATE TABLE IF NOT EXISTS sink_stock_outbox (
    seq BIGSERIAL PRIMARY KEY,
    connection_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    record_key TEXT NOT NULL,
    payload BYTEA NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL
);
"#;

/// One cross reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xref {
    pub target_id: String,
    pub version: String,
    pub command_id: String,
}

/// (connection, kind, natural key) of a cross reference.
type XrefKey = (String, String, String);

/// Cross references kept in memory by [`Store::get_cached`]; emptied when full.
const CACHE_CAPACITY: usize = 100_000;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    cache: Arc<Mutex<HashMap<XrefKey, Xref>>>,
}

impl Store {
    /// Connects and creates the tables (under an advisory lock: several sink processes may
    /// start at once).
    pub async fn connect(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        let pool = nopbridge_runtime::db::pool_options(pool_size.max(2))
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7702401)")
            .execute(&mut *tx)
            .await?;
        for stmt in SCHEMA.split(';').filter(|s| !s.trim().is_empty()) {
            sqlx::query(stmt).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Self {
            pool,
            cache: Arc::default(),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn get(
        &self,
        connection: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<Xref>, StoreError> {
        let row = sqlx::query(
            "SELECT target_id, version, command_id FROM sink_xref
             WHERE connection_id = $1 AND kind = $2 AND natural_key = $3",
        )
        .bind(connection)
        .bind(kind)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Xref {
            target_id: r.get(0),
            version: r.get(1),
            command_id: r.get(2),
        }))
    }

    /// Like [`Store::get`], but served from memory after the first read: for references
    /// that heal when stale (a record QuickBooks rejects is forgotten and resolved again,
    /// so another process's forget costs one failed try here, never a wrong document).
    /// This process's own `put` and `forget` keep the memory current.
    pub async fn get_cached(
        &self,
        connection: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<Xref>, StoreError> {
        let k = (connection.to_string(), kind.to_string(), key.to_string());
        if let Some(x) = self.cache.lock().get(&k) {
            return Ok(Some(x.clone()));
        }
        let found = self.get(connection, kind, key).await?;
        if let Some(x) = &found {
            self.remember(k, x.clone());
        }
        Ok(found)
    }

    fn remember(&self, k: XrefKey, x: Xref) {
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(k, x);
    }

    pub async fn put(
        &self,
        connection: &str,
        kind: &str,
        key: &str,
        xref: &Xref,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sink_xref (connection_id, kind, natural_key, target_id, version, command_id)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (connection_id, kind, natural_key) DO UPDATE
             SET target_id = EXCLUDED.target_id, version = EXCLUDED.version,
                 command_id = EXCLUDED.command_id, updated_at = now()",
        )
        .bind(connection)
        .bind(kind)
        .bind(key)
        .bind(&xref.target_id)
        .bind(&xref.version)
        .bind(&xref.command_id)
        .execute(&self.pool)
        .await?;
        let k = (connection.to_string(), kind.to_string(), key.to_string());
        if self.cache.lock().contains_key(&k) {
            self.remember(k, xref.clone());
        }
        Ok(())
    }

    pub async fn forget(&self, connection: &str, kind: &str, key: &str) -> Result<(), StoreError> {
        self.cache
            .lock()
            .remove(&(connection.to_string(), kind.to_string(), key.to_string()));
        sqlx::query(
            "DELETE FROM sink_xref WHERE connection_id = $1 AND kind = $2 AND natural_key = $3",
        )
        .bind(connection)
        .bind(kind)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stock watch's baseline of an inventory item the bridge just made, unless the watch
    /// already has one: without it the watch's first sight of the item would take in any
    /// stock move made in QuickBooks before its next poll, and never send that move.
    pub async fn seed_stock_baseline(
        &self,
        connection: &str,
        item_id: &str,
        qty: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sink_stock_items (connection_id, item_id, qty) VALUES ($1, $2, $3)
             ON CONFLICT (connection_id, item_id) DO NOTHING",
        )
        .bind(connection)
        .bind(item_id)
        .bind(qty)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Seeds the refresh token from config when the database has none for the connection.
    pub async fn seed_refresh_token(
        &self,
        connection: &str,
        token: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sink_oauth_tokens (connection_id, refresh_token) VALUES ($1, $2)
             ON CONFLICT (connection_id) DO NOTHING",
        )
        .bind(connection)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An operator re-authorised the connection: store the new token and clear the flag.
    pub async fn reconnect(&self, connection: &str, token: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sink_oauth_tokens (connection_id, refresh_token) VALUES ($1, $2)
             ON CONFLICT (connection_id) DO UPDATE SET refresh_token = EXCLUDED.refresh_token,
                 version = sink_oauth_tokens.version + 1, disconnected = false, detail = '',
                 updated_at = now()",
        )
        .bind(connection)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// (disconnected, version) of a connection's token row.
    pub async fn token_status(&self, connection: &str) -> Result<Option<(bool, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT disconnected, version FROM sink_oauth_tokens WHERE connection_id = $1",
        )
        .bind(connection)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }
}
