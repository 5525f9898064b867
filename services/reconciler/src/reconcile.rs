//! Drift between the store and the books, for orders created in a date range.
//!
//! The store side is what the reconciler saw on `canonical.order.v1` (each order's latest
//! event, with its position). Found in the ledger: orders routed to a connection that holds
//! no document for them (never posted, or dead-lettered). Repair sends each order's latest
//! event again with [`VERIFY_TARGET_HEADER`]: transform maps it as before and marks the
//! commands, and every target checks its document (corrects a changed total, re-creates a
//! deleted one, leaves a correct one alone). The outcome per order and connection is read
//! from the sale results that arrive after the repair started. Everything downstream is
//! idempotent, so a repair can be repeated.
use crate::ledger::{Ledger, LedgerError, SUMMARY_ENTITY};
use chrono::{DateTime, Utc};
use nopbridge_kafka::{read_at, KafkaConfig, KafkaError, OutgoingRecord, Producer};
use nopbridge_runtime::topics::VERIFY_TARGET_HEADER;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::mpsc;

#[derive(Debug, Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
}

impl From<sqlx::Error> for ReconcileError {
    fn from(e: sqlx::Error) -> Self {
        Self::Ledger(LedgerError::Db(e))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Drift {
    pub order_id: String,
    pub connection_id: String,
    /// not_posted | failed | corrected | recreated | unanswered
    pub kind: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub phase: &'static str,
    pub done: u32,
    pub total: u32,
    pub orders: u32,
    pub in_sync: u32,
    pub drift: Vec<Drift>,
}

/// An order's latest event, where it can be read again.
struct OrderEvent {
    order_id: String,
    topic: String,
    partition: i32,
    offset: i64,
}

pub struct Reconciler {
    pub ledger: Ledger,
    pub kafka: KafkaConfig,
    pub producer: Producer,
}

impl Reconciler {
    /// Runs one reconciliation, sending progress as it goes (the last message has phase
    /// `done`). A caller that goes away does not stop it half-way.
    pub async fn run(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        repair: bool,
        wait: Duration,
        connection: Option<&str>,
        tx: mpsc::Sender<Progress>,
    ) -> Result<Progress, ReconcileError> {
        let orders = self.orders_in_range(from, to).await?;
        let mut p = Progress {
            phase: "checked",
            orders: orders.len() as u32,
            total: orders.len() as u32,
            ..Progress::default()
        };
        // Which connections each order was sent to (sale commands and ledger rows).
        let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
        for o in &orders {
            let standing = self.standing(&o.order_id).await?;
            for (connection, status, posted) in standing
                .into_iter()
                .filter(|(c, _, _)| connection.is_none_or(|only| only == c))
            {
                // Nothing to hold: left out by the mapping, or voided before posting.
                if !posted && matches!(status.as_deref(), Some("skipped" | "voided")) {
                    continue;
                }
                expected.insert((o.order_id.clone(), connection.clone()));
                if posted {
                    continue;
                }
                let kind = match status.as_deref() {
                    Some("dead_lettered" | "failed") => "failed",
                    _ => "not_posted",
                };
                p.drift.push(Drift {
                    order_id: o.order_id.clone(),
                    connection_id: connection,
                    kind,
                    detail: status.unwrap_or_else(|| "no result from the target".into()),
                });
            }
            // Posted as part of a daily summary: drift when that summary is not posted. A
            // summary is checked and re-posted as a whole (`nopbridge summaries`), so the
            // repair below does not wait for a per-order answer from these connections.
            for (c, document, status, posted) in self.summaries_holding(&o.order_id).await? {
                if posted || connection.is_some_and(|only| only != c) {
                    continue;
                }
                p.drift.push(Drift {
                    order_id: o.order_id.clone(),
                    connection_id: c,
                    kind: match status.as_deref() {
                        Some("dead_lettered" | "failed") => "failed",
                        _ => "not_posted",
                    },
                    detail: format!(
                        "in daily summary {document}: {}",
                        status.unwrap_or_else(|| "no result from the target".into())
                    ),
                });
            }
            p.done += 1;
        }
        let _ = tx.send(p.clone()).await;
        if !repair {
            p.phase = "done";
            return Ok(p);
        }

        let since = self.audit_high_water().await?;
        p.phase = "re_emitted";
        p.done = 0;
        for o in &orders {
            self.re_emit(o).await?;
            p.done += 1;
            if p.done.is_multiple_of(50) || p.done == p.total {
                let _ = tx.send(p.clone()).await;
            }
        }

        // The answers: one sale result per order and connection, after `since`.
        p.phase = "waiting";
        p.total = expected.len() as u32;
        p.drift.clear();
        let deadline = tokio::time::Instant::now() + wait;
        let mut answered: BTreeMap<(String, String), String> = BTreeMap::new();
        loop {
            for (order, connection, status) in self.sale_results_since(since).await? {
                let key = (order, connection);
                if expected.contains(&key) {
                    answered.insert(key, status);
                }
            }
            p.done = answered.len() as u32;
            let _ = tx.send(p.clone()).await;
            if answered.len() >= expected.len() || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        p.in_sync = 0;
        for key in &expected {
            let (kind, detail) = match answered.get(key).map(String::as_str) {
                Some("unchanged") => {
                    p.in_sync += 1;
                    continue;
                }
                Some("updated") => ("corrected", "the document differed and was corrected"),
                Some("created") => ("recreated", "the document was missing and was posted"),
                Some(other) if other == "failed" || other == "dead_lettered" => (
                    "failed",
                    "the target refused the document; see the dead letters",
                ),
                Some(_) => continue,
                None => ("unanswered", "no answer from the target within the wait"),
            };
            p.drift.push(Drift {
                order_id: key.0.clone(),
                connection_id: key.1.clone(),
                kind,
                detail: detail.into(),
            });
        }
        p.phase = "done";
        Ok(p)
    }

    async fn orders_in_range(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<OrderEvent>, ReconcileError> {
        let rows = sqlx::query(
            "SELECT DISTINCT ON (source_id) source_id, source_topic, source_partition, source_offset
             FROM audit_trail
             WHERE kind = 'event' AND entity_type = 'order' AND detail->>'entity' = 'order'
               AND COALESCE((detail->>'created_at')::timestamptz, recorded_at)
                   BETWEEN COALESCE($1, '-infinity'::timestamptz) AND COALESCE($2, 'infinity'::timestamptz)
             ORDER BY source_id, id DESC",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.ledger.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OrderEvent {
                    order_id: r.try_get("source_id")?,
                    topic: r.try_get("source_topic")?,
                    partition: r.try_get("source_partition")?,
                    offset: r.try_get("source_offset")?,
                })
            })
            .collect()
    }

    /// Per accounting connection the order's sale went to: (connection, ledger status,
    /// whether a document is recorded).
    async fn standing(
        &self,
        order_id: &str,
    ) -> Result<Vec<(String, Option<String>, bool)>, ReconcileError> {
        let commanded: BTreeSet<String> = sqlx::query_scalar(
            "SELECT DISTINCT connection_id FROM audit_trail
             WHERE kind = 'command' AND entity_type = 'order' AND source_id = $1
               AND detail->>'command_kind' = 'post_sale' AND connection_id IS NOT NULL",
        )
        .bind(order_id)
        .fetch_all(self.ledger.pool())
        .await?
        .into_iter()
        .collect();
        let rows = sqlx::query(
            "SELECT connection_id, status, target_id FROM sync_ledger
             WHERE entity_type = 'order' AND source_id = $1 AND target <> 'nopcommerce'",
        )
        .bind(order_id)
        .fetch_all(self.ledger.pool())
        .await?;
        let mut out: BTreeMap<String, (Option<String>, bool)> =
            commanded.into_iter().map(|c| (c, (None, false))).collect();
        for r in rows {
            let connection: String = r.try_get("connection_id")?;
            let status: String = r.try_get("status")?;
            let target_id: Option<String> = r.try_get("target_id")?;
            out.insert(connection, (Some(status), target_id.is_some()));
        }
        Ok(out.into_iter().map(|(c, (s, p))| (c, s, p)).collect())
    }

    /// The daily summaries that hold the order: (connection, document number, the summary's
    /// ledger status, whether a document is recorded).
    async fn summaries_holding(
        &self,
        order_id: &str,
    ) -> Result<Vec<(String, String, Option<String>, bool)>, ReconcileError> {
        Ok(sqlx::query_as(&format!(
            "SELECT m.connection_id, m.document_number, l.status, l.target_id IS NOT NULL AS posted
             FROM summary_members m
             LEFT JOIN sync_ledger l ON l.connection_id = m.connection_id
                 AND l.entity_type = '{SUMMARY_ENTITY}' AND l.source_id = m.document_number
             WHERE m.order_id = $1 ORDER BY m.connection_id"
        ))
        .bind(order_id)
        .fetch_all(self.ledger.pool())
        .await?)
    }

    async fn audit_high_water(&self) -> Result<i64, ReconcileError> {
        Ok(
            sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM audit_trail")
                .fetch_one(self.ledger.pool())
                .await?
                .unwrap_or(0),
        )
    }

    /// Sale results recorded after `since`: (order, connection, ledger status).
    async fn sale_results_since(
        &self,
        since: i64,
    ) -> Result<Vec<(String, String, String)>, ReconcileError> {
        let rows = sqlx::query(
            "SELECT source_id, connection_id, COALESCE(detail->>'outcome', status) AS status FROM audit_trail
             WHERE id > $1 AND kind IN ('result', 'dead_letter') AND entity_type = 'order'
               AND (detail->>'command_kind' = 'post_sale' OR kind = 'dead_letter')
             ORDER BY id",
        )
        .bind(since)
        .fetch_all(self.ledger.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("source_id")?,
                    r.try_get::<Option<String>, _>("connection_id")?
                        .unwrap_or_default(),
                    r.try_get::<Option<String>, _>("status")?
                        .unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// The order's latest event again, with its key, payload and headers, marked for
    /// verification.
    async fn re_emit(&self, o: &OrderEvent) -> Result<(), ReconcileError> {
        let Some(record) = read_at(
            &self.kafka,
            &o.topic,
            o.partition,
            o.offset,
            Duration::from_secs(10),
        )
        .await?
        else {
            return Ok(());
        };
        let mut out = OutgoingRecord::new(
            &o.topic,
            record.key.as_deref().unwrap_or_default(),
            record.payload(),
        );
        for (k, v) in &record.headers {
            if k != VERIFY_TARGET_HEADER {
                out = out.header(k.clone(), v.clone().unwrap_or_default());
            }
        }
        self.producer
            .send(out.header(VERIFY_TARGET_HEADER, "reconcile"))
            .await?;
        Ok(())
    }
}
