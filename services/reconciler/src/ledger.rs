//! The sync ledger in PostgreSQL: the current state of every entity per target connection,
//! every target record it produced, and an append-only audit trail. Each Kafka record is
//! applied once: the audit row is keyed by its topic/partition/offset, and the ledger change
//! commits with it (in one statement, or one transaction), so a redelivery after a crash
//! changes nothing.
use crate::step_writer::{self, StepRow};
use chrono::{DateTime, Utc};
use nopbridge_proto::commands::v1::{
    CommandResult, OrderReference, ResultStatus, TargetKind, TargetRecord,
};
use nopbridge_runtime::db::{GroupWriteError, GroupWriter};
use serde_json::json;
use sqlx::{postgres::PgArguments, query::Query, PgExecutor, PgPool, Postgres, Row};
use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("ledger database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("ledger migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("write-back command not produced: {0}")]
    Produce(String),
    /// A grouped write failed (the database's error, shared by every record in the group).
    #[error("ledger database: {0}")]
    Group(#[from] GroupWriteError),
}

/// Where a Kafka record came from: the audit trail's idempotency key.
#[derive(Debug, Clone, Copy)]
pub struct Position<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

/// What the ledger keys an entity by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityKey {
    pub connection_id: String,
    pub entity_type: String,
    pub source_id: String,
}

/// A failed record, read from a dead-letter topic.
#[derive(Debug, Clone)]
pub struct DeadLetterEntry {
    pub key: EntityKey,
    pub target: String,
    pub order_number: Option<String>,
    pub command_id: Option<String>,
    pub stage: String,
    pub error_class: String,
    pub message: String,
    pub attempts: i32,
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerEntry {
    pub connection_id: String,
    pub entity_type: String,
    pub source_id: String,
    pub target: String,
    pub order_number: Option<String>,
    pub target_entity: Option<String>,
    pub target_id: Option<String>,
    pub target_version: Option<String>,
    pub document_number: Option<String>,
    pub total_minor: Option<i64>,
    pub currency: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub recorded_at: DateTime<Utc>,
    pub kind: String,
    pub status: Option<String>,
    pub command_id: Option<String>,
    pub detail: serde_json::Value,
}

/// One step of an order's trace.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TraceStep {
    pub recorded_at: DateTime<Utc>,
    pub kind: String,
    pub connection_id: Option<String>,
    pub status: Option<String>,
    pub command_id: Option<String>,
    pub detail: serde_json::Value,
    pub source: String,
}

/// A dead-lettered entity with where its latest dead letter sits, for replay.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadLetterRow {
    #[sqlx(flatten)]
    pub entry: LedgerEntry,
    pub error_class: Option<String>,
    pub dlq_topic: String,
    pub dlq_partition: i32,
    pub dlq_offset: i64,
}

/// Which dead letters to list or replay (each filter optional).
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter<'a> {
    pub connection_id: Option<&'a str>,
    pub order_number: Option<&'a str>,
    pub error_class: Option<&'a str>,
    pub limit: i64,
}

#[derive(Clone)]
pub struct Ledger {
    pool: PgPool,
    steps: GroupWriter<StepRow, bool>,
}

pub fn target_name(t: i32) -> &'static str {
    match TargetKind::try_from(t).unwrap_or_default() {
        TargetKind::QuickbooksOnline => "quickbooks_online",
        TargetKind::Kashflow => "kashflow",
        TargetKind::DynamicsGp => "dynamics_gp",
        TargetKind::Nopcommerce => "nopcommerce",
        TargetKind::Unspecified => "unknown",
    }
}

fn status_name(s: i32) -> &'static str {
    match ResultStatus::try_from(s).unwrap_or_default() {
        ResultStatus::Created | ResultStatus::Unchanged => "posted",
        ResultStatus::Updated => "updated",
        ResultStatus::Voided => "voided",
        ResultStatus::Failed => "failed",
        ResultStatus::Skipped => "skipped",
        ResultStatus::Unspecified => "unknown",
    }
}

/// What the target did, as the result says (`posted` covers created and unchanged).
fn outcome_name(s: i32) -> &'static str {
    match ResultStatus::try_from(s).unwrap_or_default() {
        ResultStatus::Created => "created",
        ResultStatus::Unchanged => "unchanged",
        other => status_name(other as i32),
    }
}

/// Ledger rows of daily summaries have this entity type and the summary's document number.
pub const SUMMARY_ENTITY: &str = "daily_summary";

/// The ledger key of what a command is about: the order when it concerns one, the daily
/// summary when it covers several, else the command itself (as `kind`, by its first event).
pub fn command_key(
    connection_id: &str,
    kind: &str,
    order: Option<&OrderReference>,
    source_event_ids: &[String],
    command_id: &str,
) -> EntityKey {
    let (entity_type, source_id) = match order {
        Some(o) if o.order_id != 0 => ("order", o.order_id.to_string()),
        Some(o) if !o.included_order_ids.is_empty() && !o.document_number.is_empty() => {
            (SUMMARY_ENTITY, o.document_number.clone())
        }
        _ => (
            kind,
            source_event_ids
                .first()
                .cloned()
                .unwrap_or_else(|| command_id.to_string()),
        ),
    };
    EntityKey {
        connection_id: connection_id.to_string(),
        entity_type: entity_type.to_string(),
        source_id,
    }
}

/// The ledger key of a result (see [`command_key`]).
pub fn result_key(r: &CommandResult) -> EntityKey {
    let kind = if r.command_kind.is_empty() {
        "command"
    } else {
        &r.command_kind
    };
    command_key(
        &r.connection_id,
        kind,
        r.order.as_ref(),
        &r.source_event_ids,
        &r.command_id,
    )
}

/// The audit row of one Kafka record, $1-$10 (see [`bind_audit`]): inserted once, keyed by
/// the record's position.
const AUDIT_INSERT: &str = "INSERT INTO audit_trail (source_topic, source_partition, source_offset,
         kind, connection_id, entity_type, source_id, command_id, status, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (source_topic, source_partition, source_offset) DO NOTHING";

/// Binds [`AUDIT_INSERT`]'s parameters; a statement that extends it numbers its own from $11.
fn bind_audit<'q>(
    q: Query<'q, Postgres, PgArguments>,
    pos: Position<'q>,
    kind: &'q str,
    key: &'q EntityKey,
    command_id: Option<&'q str>,
    status: &'q str,
    detail: serde_json::Value,
) -> Query<'q, Postgres, PgArguments> {
    q.bind(pos.topic)
        .bind(pos.partition)
        .bind(pos.offset)
        .bind(kind)
        .bind(&key.connection_id)
        .bind(&key.entity_type)
        .bind(&key.source_id)
        .bind(command_id)
        .bind(status)
        .bind(detail)
}

impl Ledger {
    /// Connects and applies the migrations (idempotent).
    pub async fn connect(url: &str) -> Result<Self, LedgerError> {
        let pool = nopbridge_runtime::db::pool_options(8).connect(url).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self {
            steps: step_writer::start(pool.clone()),
            pool,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Inserts the audit row; false when this record was already applied.
    async fn audit(
        db: impl PgExecutor<'_>,
        pos: Position<'_>,
        kind: &str,
        key: &EntityKey,
        command_id: Option<&str>,
        status: &str,
        detail: serde_json::Value,
    ) -> Result<bool, LedgerError> {
        let inserted = bind_audit(
            sqlx::query(AUDIT_INSERT),
            pos,
            kind,
            key,
            command_id,
            status,
            detail,
        )
        .execute(db)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// Applies a connector result. Returns false when the record was already applied.
    pub async fn record_result(
        &self,
        pos: Position<'_>,
        r: &CommandResult,
    ) -> Result<bool, LedgerError> {
        let key = result_key(r);
        let status = status_name(r.status);
        let err = r.error.as_ref().map(|e| {
            format!(
                "{} {}: {}",
                e.class,
                e.code,
                if e.explanation.is_empty() {
                    &e.detail
                } else {
                    &e.explanation
                }
            )
        });
        let records: Vec<serde_json::Value> = r
            .records
            .iter()
            .map(|t| {
                json!({"entity": t.entity, "target_id": t.target_id, "version": t.version,
                            "document_number": t.document_number, "role": t.role,
                            "total_minor": t.total.as_ref().map(|m| m.minor_units)})
            })
            .collect();
        let detail = json!({
            "command_kind": r.command_kind, "status": status, "attempts": r.attempts,
            "outcome": outcome_name(r.status),
            "latency_ms": r.latency_ms, "request_id": r.request_id, "records": records,
            "source_event_ids": r.source_event_ids, "error": err,
        });
        // The ledger row shows the main document: the sale (or refund) record if there is one.
        let main = r
            .records
            .iter()
            .find(|t| t.role == "sale")
            .or_else(|| r.records.iter().find(|t| t.role == "refund"))
            .or_else(|| r.records.first());
        let order_number = r
            .order
            .as_ref()
            .map(|o| o.order_number.clone())
            .filter(|n| !n.is_empty());
        // One row per target record key (a repeated key would be updated twice in one statement).
        let targets: Vec<&TargetRecord> = r
            .records
            .iter()
            .map(|t| ((&t.role, &t.entity, &t.target_id), t))
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect();
        let column =
            |f: fn(&TargetRecord) -> String| targets.iter().map(|t| f(t)).collect::<Vec<_>>();
        let total = |t: &TargetRecord| t.total.as_ref().map(|m| m.minor_units);
        let currency = |t: &TargetRecord| t.total.as_ref().map(|m| m.currency.clone());
        // One statement, so atomic without a transaction (a round trip each for BEGIN and
        // COMMIT is most of the cost): the ledger changes only when the audit row is new.
        let applied = bind_audit(
            sqlx::query(&format!(
                "WITH audit AS ({AUDIT_INSERT} RETURNING 1
             ), ledger AS (
                 INSERT INTO sync_ledger (connection_id, entity_type, source_id, target, tenant_id, store_id,
                     order_number, source_version, target_entity, target_id, target_version, document_number,
                     total_minor, currency, status, attempts, last_error, last_command_id)
                 SELECT $5, $6, $7, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $9, $22, $23, $8
                 WHERE EXISTS (SELECT 1 FROM audit)
                 ON CONFLICT (connection_id, entity_type, source_id) DO UPDATE SET
                     order_number = COALESCE(EXCLUDED.order_number, sync_ledger.order_number),
                     source_version = COALESCE(EXCLUDED.source_version, sync_ledger.source_version),
                     target_entity = COALESCE(EXCLUDED.target_entity, sync_ledger.target_entity),
                     target_id = COALESCE(EXCLUDED.target_id, sync_ledger.target_id),
                     target_version = COALESCE(EXCLUDED.target_version, sync_ledger.target_version),
                     document_number = COALESCE(EXCLUDED.document_number, sync_ledger.document_number),
                     total_minor = COALESCE(EXCLUDED.total_minor, sync_ledger.total_minor),
                     currency = COALESCE(EXCLUDED.currency, sync_ledger.currency),
                     -- The failed result of a command whose dead letter came first (the two
                     -- topics are read concurrently) leaves it dead-lettered.
                     status = CASE WHEN EXCLUDED.status = 'failed' AND sync_ledger.status = 'dead_lettered'
                             AND sync_ledger.last_command_id = EXCLUDED.last_command_id
                         THEN sync_ledger.status ELSE EXCLUDED.status END,
                     attempts = CASE WHEN sync_ledger.last_command_id = EXCLUDED.last_command_id
                         THEN GREATEST(sync_ledger.attempts, EXCLUDED.attempts)
                         ELSE sync_ledger.attempts + EXCLUDED.attempts END,
                     last_error = EXCLUDED.last_error,
                     last_command_id = EXCLUDED.last_command_id,
                     updated_at = now()
             ), targets AS (
                 INSERT INTO sync_target_records (connection_id, entity_type, source_id, role, target_entity,
                     target_id, target_version, document_number, total_minor, currency)
                 SELECT $5, $6, $7, t.* FROM UNNEST($24::text[], $25::text[], $26::text[], $27::text[],
                     $28::text[], $29::bigint[], $30::text[]) AS t
                 WHERE EXISTS (SELECT 1 FROM audit)
                 ON CONFLICT (connection_id, entity_type, source_id, role, target_entity, target_id) DO UPDATE SET
                     target_version = EXCLUDED.target_version, document_number = EXCLUDED.document_number,
                     total_minor = EXCLUDED.total_minor, currency = EXCLUDED.currency, updated_at = now()
             )
             SELECT count(*) FROM audit"
            )),
            pos,
            "result",
            &key,
            Some(&r.command_id),
            status,
            detail,
        )
        .bind(target_name(r.target))
        .bind(&r.tenant_id)
        .bind(&r.store_id)
        .bind(order_number)
        .bind(r.source_event_ids.last())
        .bind(main.map(|t| t.entity.clone()))
        .bind(main.map(|t| t.target_id.clone()))
        .bind(main.map(|t| t.version.clone()))
        .bind(main.map(|t| t.document_number.clone()).filter(|d| !d.is_empty()))
        .bind(main.and_then(total))
        .bind(main.and_then(currency))
        .bind(r.attempts as i32)
        .bind(err)
        .bind(column(|t| t.role.clone()))
        .bind(column(|t| t.entity.clone()))
        .bind(column(|t| t.target_id.clone()))
        .bind(column(|t| t.version.clone()))
        .bind(column(|t| t.document_number.clone()))
        .bind(targets.iter().map(|t| total(t)).collect::<Vec<_>>())
        .bind(targets.iter().map(|t| currency(t)).collect::<Vec<_>>())
        .fetch_one(&self.pool)
        .await?
        .try_get::<i64, _>(0)?;
        Ok(applied == 1)
    }

    /// Applies a dead letter: the entity is marked `dead_lettered` with the reason, unless
    /// it was already posted (a later failure of an update does not hide the posted document).
    pub async fn record_dead_letter(
        &self,
        pos: Position<'_>,
        d: &DeadLetterEntry,
    ) -> Result<bool, LedgerError> {
        let reason = format!("{} ({}): {}", d.error_class, d.stage, d.message);
        let detail = json!({"stage": d.stage, "error_class": d.error_class, "message": d.message, "attempts": d.attempts});
        let mut tx = self.pool.begin().await?;
        if !Self::audit(
            &mut *tx,
            pos,
            "dead_letter",
            &d.key,
            d.command_id.as_deref(),
            "dead_lettered",
            detail,
        )
        .await?
        {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO sync_ledger (connection_id, entity_type, source_id, target, order_number, status,
                 attempts, last_error, last_command_id)
             VALUES ($1,$2,$3,$4,$5,'dead_lettered',$6,$7,$8)
             ON CONFLICT (connection_id, entity_type, source_id) DO UPDATE SET
                 status = CASE WHEN sync_ledger.target_id IS NULL THEN 'dead_lettered' ELSE sync_ledger.status END,
                 attempts = CASE WHEN sync_ledger.last_command_id = EXCLUDED.last_command_id
                     THEN GREATEST(sync_ledger.attempts, EXCLUDED.attempts)
                     ELSE sync_ledger.attempts + EXCLUDED.attempts END,
                 last_error = EXCLUDED.last_error,
                 last_command_id = COALESCE(EXCLUDED.last_command_id, sync_ledger.last_command_id),
                 order_number = COALESCE(EXCLUDED.order_number, sync_ledger.order_number),
                 updated_at = now()",
        )
        .bind(&d.key.connection_id)
        .bind(&d.key.entity_type)
        .bind(&d.key.source_id)
        .bind(&d.target)
        .bind(&d.order_number)
        .bind(d.attempts)
        .bind(reason)
        .bind(&d.command_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a canonical event or a command in the audit trail (for traces), grouped
    /// with other handlers' steps into one commit (see [`step_writer`]).
    pub async fn record_step(
        &self,
        pos: Position<'_>,
        kind: &str,
        key: &EntityKey,
        command_id: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<bool, LedgerError> {
        Ok(self
            .steps
            .write(StepRow::new(pos, kind, key, command_id, detail))
            .await?)
    }

    /// Records a daily summary's command in the audit trail and which orders it holds, in one
    /// statement (so once per record, like every step).
    pub async fn record_summary_command(
        &self,
        pos: Position<'_>,
        key: &EntityKey,
        command_id: &str,
        order_ids: &[i64],
        detail: serde_json::Value,
    ) -> Result<bool, LedgerError> {
        let orders: Vec<String> = order_ids.iter().map(i64::to_string).collect();
        let applied = bind_audit(
            sqlx::query(&format!(
                "WITH audit AS ({AUDIT_INSERT} RETURNING 1
             ), members AS (
                 INSERT INTO summary_members (connection_id, document_number, order_id)
                 SELECT $5, $7, o FROM UNNEST($11::text[]) AS o
                 WHERE EXISTS (SELECT 1 FROM audit)
                 ON CONFLICT DO NOTHING
             )
             SELECT count(*) FROM audit"
            )),
            pos,
            "command",
            key,
            Some(command_id),
            "command",
            detail,
        )
        .bind(orders)
        .fetch_one(&self.pool)
        .await?
        .try_get::<i64, _>(0)?;
        Ok(applied == 1)
    }

    /// Entities whose last outcome is a dead letter, with the position of that dead letter.
    pub async fn dead_letters(
        &self,
        f: &DeadLetterFilter<'_>,
    ) -> Result<Vec<DeadLetterRow>, LedgerError> {
        Ok(sqlx::query_as::<_, DeadLetterRow>(
            "SELECT l.connection_id, l.entity_type, l.source_id, l.target, l.order_number, l.target_entity,
                    l.target_id, l.target_version, l.document_number, l.total_minor, l.currency, l.status,
                    l.attempts, l.last_error, l.updated_at, a.detail->>'error_class' AS error_class,
                    a.source_topic AS dlq_topic, a.source_partition AS dlq_partition, a.source_offset AS dlq_offset
             FROM sync_ledger l
             JOIN LATERAL (SELECT source_topic, source_partition, source_offset, detail FROM audit_trail a
                 WHERE a.connection_id = l.connection_id AND a.entity_type = l.entity_type
                   AND a.source_id = l.source_id AND a.kind = 'dead_letter'
                 ORDER BY a.id DESC LIMIT 1) a ON true
             WHERE l.status = 'dead_lettered' AND ($1::text IS NULL OR l.connection_id = $1)
               AND ($2::text IS NULL OR l.order_number = $2)
               AND ($3::text IS NULL OR a.detail->>'error_class' = $3)
             ORDER BY l.updated_at LIMIT $4",
        )
        .bind(f.connection_id)
        .bind(f.order_number)
        .bind(f.error_class)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records that a dead letter was sent back to `replayed_to`; false when that dead letter
    /// was already replayed (the audit row is keyed by the dead letter's own position).
    pub async fn record_replay(
        &self,
        d: &DeadLetterRow,
        replayed_to: &str,
    ) -> Result<bool, LedgerError> {
        let key = EntityKey {
            connection_id: d.entry.connection_id.clone(),
            entity_type: d.entry.entity_type.clone(),
            source_id: d.entry.source_id.clone(),
        };
        let topic = format!("replay:{}", d.dlq_topic);
        let pos = Position {
            topic: &topic,
            partition: d.dlq_partition,
            offset: d.dlq_offset,
        };
        let detail = json!({"replayed_to": replayed_to,
            "dead_letter": format!("{}/{}/{}", d.dlq_topic, d.dlq_partition, d.dlq_offset)});
        let mut tx = self.pool.begin().await?;
        if !Self::audit(&mut *tx, pos, "replay", &key, None, "replayed", detail).await? {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE sync_ledger SET status = 'replayed', updated_at = now()
             WHERE connection_id = $1 AND entity_type = $2 AND source_id = $3 AND status = 'dead_lettered'",
        )
        .bind(&key.connection_id)
        .bind(&key.entity_type)
        .bind(&key.source_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every step recorded for one store order (by id, or by display number), oldest first.
    pub async fn trace(
        &self,
        order: &str,
    ) -> Result<(String, Vec<LedgerEntry>, Vec<TraceStep>), LedgerError> {
        let by_number: Option<String> = sqlx::query_scalar(
            "SELECT source_id FROM sync_ledger WHERE entity_type = 'order' AND order_number = $1 LIMIT 1",
        )
        .bind(order)
        .fetch_optional(&self.pool)
        .await?;
        let id = by_number.unwrap_or_else(|| order.to_string());
        // The order's own rows, and those of the daily summaries that hold it.
        let entries = sqlx::query_as::<_, LedgerEntry>(&format!(
            "{SELECT_ENTRY} WHERE entity_type = 'order' AND source_id = $1
             UNION ALL
             {SELECT_ENTRY} WHERE entity_type = '{SUMMARY_ENTITY}' AND (connection_id, source_id) IN
                 (SELECT connection_id, document_number FROM summary_members WHERE order_id = $1)
             ORDER BY connection_id"
        ))
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let steps = sqlx::query_as::<_, TraceStep>(&format!(
            "SELECT recorded_at, kind, connection_id, status, command_id, detail,
                    source_topic || '/' || source_partition || '/' || source_offset AS source
             FROM audit_trail
             WHERE (entity_type = 'order' AND source_id = $1)
                OR (entity_type = '{SUMMARY_ENTITY}' AND (connection_id, source_id) IN
                    (SELECT connection_id, document_number FROM summary_members WHERE order_id = $1))
             ORDER BY id"
        ))
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        Ok((id, entries, steps))
    }

    pub async fn entry(&self, key: &EntityKey) -> Result<Option<LedgerEntry>, LedgerError> {
        Ok(sqlx::query_as::<_, LedgerEntry>(&format!(
            "{SELECT_ENTRY} WHERE connection_id = $1 AND entity_type = $2 AND source_id = $3"
        ))
        .bind(&key.connection_id)
        .bind(&key.entity_type)
        .bind(&key.source_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Entries by store order number, status, or update date range (each filter optional).
    pub async fn query(
        &self,
        order_number: Option<&str>,
        status: Option<&str>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<LedgerEntry>, LedgerError> {
        Ok(sqlx::query_as::<_, LedgerEntry>(&format!(
            "{SELECT_ENTRY} WHERE ($1::text IS NULL OR order_number = $1) AND ($2::text IS NULL OR status = $2)
               AND ($3::timestamptz IS NULL OR updated_at >= $3) AND ($4::timestamptz IS NULL OR updated_at < $4)
             ORDER BY updated_at DESC LIMIT $5"
        ))
        .bind(order_number)
        .bind(status)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The audit trail of one entity, oldest first.
    pub async fn trail(&self, key: &EntityKey) -> Result<Vec<AuditRow>, LedgerError> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT id, recorded_at, kind, status, command_id, detail FROM audit_trail
             WHERE connection_id = $1 AND entity_type = $2 AND source_id = $3 ORDER BY id",
        )
        .bind(&key.connection_id)
        .bind(&key.entity_type)
        .bind(&key.source_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn count_target_records(&self, key: &EntityKey) -> Result<i64, LedgerError> {
        let row = sqlx::query(
            "SELECT count(*) FROM sync_target_records WHERE connection_id = $1 AND entity_type = $2 AND source_id = $3",
        )
        .bind(&key.connection_id)
        .bind(&key.entity_type)
        .bind(&key.source_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }
}

const SELECT_ENTRY: &str = "SELECT connection_id, entity_type, source_id, target, order_number, target_entity,
    target_id, target_version, document_number, total_minor, currency, status, attempts, last_error, updated_at
    FROM sync_ledger";
