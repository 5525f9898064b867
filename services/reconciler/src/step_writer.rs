//! Trace steps written in groups. Every order event and command the reconciler reads becomes
//! an audit row; one statement each, every row was a commit of its own. Rows queued together
//! now go to PostgreSQL as one multi-row insert ([`GroupWriter`]); each handler still waits
//! for its row's commit before its offset is committed.
use crate::ledger::{EntityKey, Position};
use nopbridge_runtime::db::GroupWriter;
use sqlx::{PgPool, Row};
use std::collections::HashSet;

/// The most rows in one insert.
const MAX_BATCH: usize = 512;

/// One audit row of a step (its status is its kind).
pub(crate) struct StepRow {
    topic: String,
    partition: i32,
    offset: i64,
    kind: String,
    key: EntityKey,
    command_id: Option<String>,
    detail: serde_json::Value,
}

impl StepRow {
    pub(crate) fn new(
        pos: Position<'_>,
        kind: &str,
        key: &EntityKey,
        command_id: Option<&str>,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            topic: pos.topic.to_string(),
            partition: pos.partition,
            offset: pos.offset,
            kind: kind.to_string(),
            key: key.clone(),
            command_id: command_id.map(str::to_string),
            detail,
        }
    }
}

/// Writes steps; each answers whether its row was new (false: recorded before).
pub(crate) fn start(pool: PgPool) -> GroupWriter<StepRow, bool> {
    GroupWriter::start(MAX_BATCH, move |rows| {
        let pool = pool.clone();
        async move { insert(&pool, &rows).await }
    })
}

/// Inserts the rows in one statement; per row, whether it was new.
async fn insert(pool: &PgPool, rows: &[StepRow]) -> Result<Vec<bool>, sqlx::Error> {
    let col = |f: fn(&StepRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let inserted = sqlx::query(
        "INSERT INTO audit_trail (source_topic, source_partition, source_offset, kind,
             connection_id, entity_type, source_id, command_id, status, detail)
         SELECT t.topic, t.partition, t.offset, t.kind, t.connection_id, t.entity_type,
             t.source_id, t.command_id, t.kind, t.detail
         FROM UNNEST($1::text[], $2::int4[], $3::int8[], $4::text[], $5::text[], $6::text[],
             $7::text[], $8::text[], $9::jsonb[])
             AS t(topic, partition, \"offset\", kind, connection_id, entity_type, source_id,
                  command_id, detail)
         ON CONFLICT (source_topic, source_partition, source_offset) DO NOTHING
         RETURNING source_topic, source_partition, source_offset",
    )
    .bind(col(|r| r.topic.clone()))
    .bind(rows.iter().map(|r| r.partition).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.offset).collect::<Vec<_>>())
    .bind(col(|r| r.kind.clone()))
    .bind(col(|r| r.key.connection_id.clone()))
    .bind(col(|r| r.key.entity_type.clone()))
    .bind(col(|r| r.key.source_id.clone()))
    .bind(
        rows.iter()
            .map(|r| r.command_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.detail.clone()).collect::<Vec<_>>())
    .fetch_all(pool)
    .await?;
    let mut new = inserted
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<HashSet<(String, i32, i64)>, sqlx::Error>>()?;
    // Removed once claimed: a position twice in one group is new only once.
    Ok(rows
        .iter()
        .map(|r| new.remove(&(r.topic.clone(), r.partition, r.offset)))
        .collect())
}
