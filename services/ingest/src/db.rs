//! Durable ingest state in PostgreSQL (migrations in `migrations/`, applied at start): cursors
//! per connection, the last content hash and small state per entity, and the webhook
//! deliveries already accepted.
use chrono::{DateTime, Utc};
use nopbridge_runtime::db::{GroupWriteError, GroupWriter};
use serde::{de::DeserializeOwned, Serialize};
use sqlx::postgres::PgPool;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The message of sqlx never carries the connection URL's password.
    #[error("state database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("state database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("state database: bad stored value: {0}")]
    Decode(#[from] serde_json::Error),
    /// A grouped write failed (the database's error, shared by every row in the group).
    #[error("state database: {0}")]
    Group(#[from] GroupWriteError),
}

/// What is stored for one entity after its events were sent.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityRow {
    pub entity: &'static str,
    pub entity_id: String,
    pub content_hash: String,
    pub state: serde_json::Value,
    pub open: bool,
    pub deleted: bool,
    pub created_at: Option<DateTime<Utc>>,
}

/// A stored row as read back (entity and id are the lookup key).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stored {
    pub content_hash: String,
    pub state: serde_json::Value,
    pub deleted: bool,
}

impl Stored {
    /// A string field of the state (e.g. the source fingerprint).
    pub fn state_str(&self, key: &str) -> Option<&str> {
        self.state.get(key).and_then(|v| v.as_str())
    }
}

/// What a webhook delivery is, given the deliveries seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// First time this delivery id is seen.
    New,
    /// The sender retried a delivery already accepted (new timestamp, new signature).
    Retry,
    /// Byte-identical to one already accepted: a replay.
    Replay,
}

/// A webhook delivery to record: connection, delivery id, signature.
type DeliveryRow = (String, String, String);

/// Stored rows by id ($1 connection, $2 entity, $3 ids): one primary-key probe per id. As
/// `entity_id = ANY($3)` the planner, before the table's first ANALYZE (a fresh install's
/// first minute), read every row of the entity and filtered: 1-19 ms per look-up at 1,700
/// orders, growing with the store.
pub const ENTITIES_BY_ID: &str =
    "SELECT entity_id, content_hash, state, deleted FROM ingest_entities
     WHERE (connection_id, entity, entity_id) IN (SELECT $1, $2, unnest($3::text[]))";

/// The most deliveries recorded in one statement.
const MAX_DELIVERIES: usize = 256;

#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    /// A store sends several webhooks for one change side by side: recorded in groups.
    deliveries: GroupWriter<DeliveryRow, Delivery>,
}

impl Db {
    /// Connects and applies the migrations (sqlx serialises concurrent migrators).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, DbError> {
        let pool = nopbridge_runtime::db::pool_options(max_connections)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let writer = pool.clone();
        let deliveries = GroupWriter::start(MAX_DELIVERIES, move |rows| {
            let pool = writer.clone();
            async move { record_deliveries(&pool, &rows).await }
        });
        Ok(Self { pool, deliveries })
    }

    pub async fn cursor<T: DeserializeOwned>(
        &self,
        conn: &str,
        name: &str,
    ) -> Result<Option<T>, DbError> {
        let row =
            sqlx::query("SELECT value FROM ingest_cursors WHERE connection_id = $1 AND name = $2")
                .bind(conn)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(r) => Ok(Some(serde_json::from_value(r.try_get("value")?)?)),
            None => Ok(None),
        }
    }

    pub async fn set_cursor<T: Serialize>(
        &self,
        conn: &str,
        name: &str,
        value: &T,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO ingest_cursors (connection_id, name, value) VALUES ($1, $2, $3)
             ON CONFLICT (connection_id, name)
             DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        )
        .bind(conn)
        .bind(name)
        .bind(serde_json::to_value(value)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored rows of `ids` (missing ids are absent from the map).
    pub async fn entities(
        &self,
        conn: &str,
        entity: &str,
        ids: &[String],
    ) -> Result<HashMap<String, Stored>, DbError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query(ENTITIES_BY_ID)
            .bind(conn)
            .bind(entity)
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("entity_id")?,
                    Stored {
                        content_hash: r.try_get("content_hash")?,
                        state: r.try_get("state")?,
                        deleted: r.try_get("deleted")?,
                    },
                ))
            })
            .collect()
    }

    pub async fn entity(
        &self,
        conn: &str,
        entity: &str,
        id: &str,
    ) -> Result<Option<Stored>, DbError> {
        Ok(self
            .entities(conn, entity, &[id.to_string()])
            .await?
            .remove(id))
    }

    /// Upserts many rows in one statement.
    pub async fn put_entities(&self, conn: &str, rows: &[EntityRow]) -> Result<(), DbError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut entity = Vec::with_capacity(rows.len());
        let mut id = Vec::with_capacity(rows.len());
        let mut hash = Vec::with_capacity(rows.len());
        let mut state = Vec::with_capacity(rows.len());
        let mut open = Vec::with_capacity(rows.len());
        let mut deleted = Vec::with_capacity(rows.len());
        let mut created = Vec::with_capacity(rows.len());
        for r in rows {
            entity.push(r.entity.to_string());
            id.push(r.entity_id.clone());
            hash.push(r.content_hash.clone());
            state.push(r.state.clone());
            open.push(r.open);
            deleted.push(r.deleted);
            created.push(r.created_at);
        }
        sqlx::query(
            "INSERT INTO ingest_entities
               (connection_id, entity, entity_id, content_hash, state, open, deleted, created_at)
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::jsonb[],
                                      $6::bool[], $7::bool[], $8::timestamptz[])
             ON CONFLICT (connection_id, entity, entity_id) DO UPDATE
             SET content_hash = EXCLUDED.content_hash, state = EXCLUDED.state,
                 open = EXCLUDED.open, deleted = EXCLUDED.deleted,
                 created_at = COALESCE(EXCLUDED.created_at, ingest_entities.created_at),
                 updated_at = now()",
        )
        .bind(conn)
        .bind(&entity)
        .bind(&id)
        .bind(&hash)
        .bind(&state)
        .bind(&open)
        .bind(&deleted)
        .bind(&created)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ids to look at again: still open, or created after `recent_since`.
    pub async fn repoll_ids(
        &self,
        conn: &str,
        entity: &str,
        recent_since: DateTime<Utc>,
    ) -> Result<Vec<String>, DbError> {
        let rows = sqlx::query(
            "SELECT entity_id FROM ingest_entities
             WHERE connection_id = $1 AND entity = $2 AND NOT deleted
               AND (open OR created_at > $3)
             ORDER BY updated_at",
        )
        .bind(conn)
        .bind(entity)
        .bind(recent_since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get("entity_id").map_err(DbError::from))
            .collect()
    }

    /// Ids of an entity type emitted and not deleted (e.g. products, for the stock check).
    pub async fn live_ids(&self, conn: &str, entity: &str) -> Result<Vec<String>, DbError> {
        let rows = sqlx::query(
            "SELECT entity_id FROM ingest_entities
             WHERE connection_id = $1 AND entity = $2 AND NOT deleted AND content_hash <> ''",
        )
        .bind(conn)
        .bind(entity)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get("entity_id").map_err(DbError::from))
            .collect()
    }

    /// Records a webhook delivery with its signature.
    pub async fn record_delivery(
        &self,
        conn: &str,
        delivery_id: &str,
        signature: &str,
    ) -> Result<Delivery, DbError> {
        let row = (
            conn.to_string(),
            delivery_id.to_string(),
            signature.to_string(),
        );
        Ok(self.deliveries.write(row).await?)
    }

    /// Forgets a delivery that could not be buffered, so the sender's retry is taken.
    pub async fn forget_delivery(&self, conn: &str, delivery_id: &str) -> Result<(), DbError> {
        sqlx::query(
            "DELETE FROM ingest_webhook_deliveries WHERE connection_id = $1 AND delivery_id = $2",
        )
        .bind(conn)
        .bind(delivery_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deliveries older than the timestamp tolerance can no longer pass the freshness check,
    /// so their records are not needed for replay protection.
    pub async fn prune_deliveries(&self, older_than: DateTime<Utc>) -> Result<u64, DbError> {
        let r = sqlx::query("DELETE FROM ingest_webhook_deliveries WHERE received_at < $1")
            .bind(older_than)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}

/// Records deliveries, one statement per round; what each one is. A delivery id twice in
/// one statement cannot be updated twice, so a repeat waits for the next round (and then
/// sees the first as accepted before it).
async fn record_deliveries(
    pool: &PgPool,
    rows: &[DeliveryRow],
) -> Result<Vec<Delivery>, sqlx::Error> {
    let mut out = vec![Delivery::Replay; rows.len()];
    let mut left: Vec<usize> = (0..rows.len()).collect();
    while !left.is_empty() {
        let mut keys = HashSet::new();
        let (round, later): (Vec<usize>, Vec<usize>) = left
            .iter()
            .partition(|&&i| keys.insert((&rows[i].0, &rows[i].1)));
        let col = |f: fn(&DeliveryRow) -> &String| {
            round
                .iter()
                .map(|&i| f(&rows[i]).clone())
                .collect::<Vec<_>>()
        };
        let recorded = sqlx::query(
            "INSERT INTO ingest_webhook_deliveries (connection_id, delivery_id, signatures)
             SELECT c, d, ARRAY[s] FROM UNNEST($1::text[], $2::text[], $3::text[]) AS t(c, d, s)
             ON CONFLICT (connection_id, delivery_id) DO UPDATE
             SET signatures = array_append(ingest_webhook_deliveries.signatures, EXCLUDED.signatures[1])
             WHERE NOT (EXCLUDED.signatures[1] = ANY(ingest_webhook_deliveries.signatures))
             RETURNING connection_id, delivery_id, (xmax = 0) AS inserted",
        )
        .bind(col(|r| &r.0))
        .bind(col(|r| &r.1))
        .bind(col(|r| &r.2))
        .fetch_all(pool)
        .await?;
        // Rows not returned were neither inserted nor updated: the same signature again.
        let mut seen = HashMap::new();
        for r in recorded {
            let key: (String, String) = (r.try_get(0)?, r.try_get(1)?);
            seen.insert(key, r.try_get::<bool, _>(2)?);
        }
        for &i in &round {
            out[i] = match seen.get(&(rows[i].0.clone(), rows[i].1.clone())) {
                None => Delivery::Replay,
                Some(true) => Delivery::New,
                Some(false) => Delivery::Retry,
            };
        }
        left = later;
    }
    Ok(out)
}
