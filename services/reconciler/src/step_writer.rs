//! Group commit for trace steps. Every order event and command the reconciler reads becomes
//! an audit row; written one statement each, every row was a commit of its own. Here the
//! handlers' rows queue and go to PostgreSQL as one multi-row insert: alone, a row is written
//! at once; under load, the rows that arrived while the last insert ran share the next one.
//! Each handler still waits for its row's commit before its offset is committed.
use crate::ledger::{EntityKey, LedgerError, Position};
use sqlx::{PgPool, Row};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

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

/// Whether the row was new (false: its record was recorded before), or why the insert failed.
type Reply = oneshot::Sender<Result<bool, String>>;

#[derive(Clone)]
pub(crate) struct StepWriter {
    rows: mpsc::Sender<(StepRow, Reply)>,
}

impl StepWriter {
    /// Starts the writer task; it ends when the last clone of this writer is dropped.
    pub(crate) fn start(pool: PgPool) -> Self {
        let (rows, queue) = mpsc::channel(MAX_BATCH);
        tokio::spawn(write_batches(pool, queue));
        Self { rows }
    }

    /// Writes the row; true when it was new.
    pub(crate) async fn write(&self, row: StepRow) -> Result<bool, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.rows
            .send((row, reply))
            .await
            .map_err(|_| LedgerError::WriterStopped)?;
        answer
            .await
            .map_err(|_| LedgerError::WriterStopped)?
            .map_err(LedgerError::Batch)
    }
}

async fn write_batches(pool: PgPool, mut queue: mpsc::Receiver<(StepRow, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (rows, replies): (Vec<StepRow>, Vec<Reply>) = batch.drain(..).unzip();
        match insert(&pool, &rows).await {
            Ok(mut new) => {
                for (row, reply) in rows.iter().zip(replies) {
                    // Removed once claimed: a position twice in one batch is new only once.
                    let pos = (row.topic.clone(), row.partition, row.offset);
                    let _ = reply.send(Ok(new.remove(&pos)));
                }
            }
            // Every handler retries its record (a database outage is transient).
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// Inserts the rows in one statement; the positions that were new.
async fn insert(
    pool: &PgPool,
    rows: &[StepRow],
) -> Result<HashSet<(String, i32, i64)>, sqlx::Error> {
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
    .bind(rows.iter().map(|r| r.command_id.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.detail.clone()).collect::<Vec<_>>())
    .fetch_all(pool)
    .await?;
    inserted
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}
