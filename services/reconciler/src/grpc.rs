//! The reconciler's `nopbridge.control.v1.Ledger` service: ledger queries, order traces,
//! dead letters and their replay.
use crate::{
    explain::explain,
    ledger::{self, DeadLetterFilter, Ledger},
    reconcile::{self, Reconciler},
    replay::{Outcome, Replayer},
};
use chrono::{DateTime, Utc};
use nopbridge_proto::control::v1::{
    ledger_server::{self, LedgerServer},
    DeadLetterQuery, DriftItem, LedgerEntries, LedgerEntry, LedgerQuery, OrderTrace,
    ReconcileProgress, ReconcileRequest, ReplayProgress, ReplayRequest, TraceRequest, TraceStep,
};
use nopbridge_runtime::{
    control::timestamp,
    grpc::{bearer, Bearer},
};
use secrecy::SecretString;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{service::interceptor::InterceptedService, Request, Response, Status};

pub struct LedgerApi {
    ledger: Ledger,
    replayer: std::sync::Arc<Replayer>,
    reconciler: std::sync::Arc<Reconciler>,
    /// Drift found is counted on /metrics (`nopbridge_drift_found_total{connection,kind}`).
    control: nopbridge_runtime::ControlState,
}

fn progress(p: reconcile::Progress) -> ReconcileProgress {
    ReconcileProgress {
        phase: p.phase.into(),
        done: p.done,
        total: p.total,
        orders: p.orders,
        in_sync: p.in_sync,
        drift: p
            .drift
            .into_iter()
            .map(|d| DriftItem {
                order_id: d.order_id,
                connection_id: d.connection_id,
                kind: d.kind.into(),
                detail: d.detail,
            })
            .collect(),
    }
}

fn entry(e: ledger::LedgerEntry) -> LedgerEntry {
    LedgerEntry {
        connection_id: e.connection_id,
        entity_type: e.entity_type,
        source_id: e.source_id,
        target: e.target,
        order_number: e.order_number.unwrap_or_default(),
        target_entity: e.target_entity.unwrap_or_default(),
        target_id: e.target_id.unwrap_or_default(),
        target_version: e.target_version.unwrap_or_default(),
        document_number: e.document_number.unwrap_or_default(),
        total_minor_units: e.total_minor.unwrap_or_default(),
        currency: e.currency.unwrap_or_default(),
        status: e.status,
        attempts: e.attempts,
        last_error: e.last_error.unwrap_or_default(),
        updated_at: Some(timestamp(e.updated_at)),
        explanation: String::new(),
    }
}

fn dead_letter_entry(d: ledger::DeadLetterRow) -> LedgerEntry {
    let why = explain(d.error_class.as_deref().unwrap_or_default());
    LedgerEntry {
        explanation: why.to_string(),
        ..entry(d.entry)
    }
}

fn filter<'a>(connection: &'a str, order: &'a str, class: &'a str, n: u32) -> DeadLetterFilter<'a> {
    let some = |s: &'a str| Some(s).filter(|s| !s.is_empty());
    DeadLetterFilter {
        connection_id: some(connection),
        order_number: some(order),
        error_class: some(class),
        limit: limit(n),
    }
}

fn time(t: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
}

fn internal(e: ledger::LedgerError) -> Status {
    Status::unavailable(format!("ledger database: {e}"))
}

fn limit(n: u32) -> i64 {
    if n == 0 {
        100
    } else {
        i64::from(n.min(1000))
    }
}

impl LedgerApi {
    pub fn new(
        replayer: Replayer,
        reconciler: Reconciler,
        control: nopbridge_runtime::ControlState,
    ) -> Self {
        Self {
            ledger: replayer.ledger.clone(),
            replayer: std::sync::Arc::new(replayer),
            reconciler: std::sync::Arc::new(reconciler),
            control,
        }
    }

    pub fn into_server(
        self,
        token: Option<SecretString>,
    ) -> InterceptedService<LedgerServer<Self>, Bearer> {
        LedgerServer::with_interceptor(self, bearer(token))
    }
}

#[tonic::async_trait]
impl ledger_server::Ledger for LedgerApi {
    async fn query(&self, req: Request<LedgerQuery>) -> Result<Response<LedgerEntries>, Status> {
        let q = req.into_inner();
        let rows = self
            .ledger
            .query(
                Some(q.order_number.as_str()).filter(|s| !s.is_empty()),
                Some(q.status.as_str()).filter(|s| !s.is_empty()),
                time(q.updated_from),
                time(q.updated_to),
                limit(q.limit),
            )
            .await
            .map_err(internal)?;
        Ok(Response::new(LedgerEntries {
            entries: rows.into_iter().map(entry).collect(),
        }))
    }

    async fn trace(&self, req: Request<TraceRequest>) -> Result<Response<OrderTrace>, Status> {
        let order = req.into_inner().order;
        if order.trim().is_empty() {
            return Err(Status::invalid_argument(
                "order is empty: give the store's order id or number",
            ));
        }
        let (id, entries, steps) = self.ledger.trace(order.trim()).await.map_err(internal)?;
        if entries.is_empty() && steps.is_empty() {
            return Err(Status::not_found(format!(
                "order {order} is not in the ledger"
            )));
        }
        Ok(Response::new(OrderTrace {
            order_id: id,
            entries: entries.into_iter().map(entry).collect(),
            steps: steps
                .into_iter()
                .map(|s| TraceStep {
                    at: Some(timestamp(s.recorded_at)),
                    kind: s.kind,
                    connection_id: s.connection_id.unwrap_or_default(),
                    status: s.status.unwrap_or_default(),
                    command_id: s.command_id.unwrap_or_default(),
                    detail_json: s.detail.to_string(),
                    source: s.source,
                })
                .collect(),
        }))
    }

    async fn dead_letters(
        &self,
        req: Request<DeadLetterQuery>,
    ) -> Result<Response<LedgerEntries>, Status> {
        let q = req.into_inner();
        let f = filter(&q.connection_id, &q.order_number, &q.error_class, q.limit);
        let rows = self.ledger.dead_letters(&f).await.map_err(internal)?;
        Ok(Response::new(LedgerEntries {
            entries: rows.into_iter().map(dead_letter_entry).collect(),
        }))
    }

    type ReconcileStream = ReceiverStream<Result<ReconcileProgress, Status>>;

    async fn reconcile(
        &self,
        req: Request<ReconcileRequest>,
    ) -> Result<Response<Self::ReconcileStream>, Status> {
        let q = req.into_inner();
        let (from, to) = (time(q.from), time(q.to));
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(Status::invalid_argument(format!(
                    "from {f} is after to {t}: give the earlier date first"
                )));
            }
        }
        let wait = std::time::Duration::from_secs(match q.wait_seconds {
            0 => 120,
            n => u64::from(n.min(3600)),
        });
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let (ptx, mut prx) = tokio::sync::mpsc::channel(16);
        let (reconciler, control) = (self.reconciler.clone(), self.control.clone());
        // Runs to the end even if the caller goes away: a repair is never left half-sent.
        tokio::spawn(async move {
            let forward = {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(p) = prx.recv().await {
                        let _ = tx.send(Ok(progress(p))).await;
                    }
                })
            };
            let only = Some(q.connection_id.as_str()).filter(|c| !c.is_empty());
            let last = reconciler.run(from, to, q.repair, wait, only, ptx).await;
            let _ = forward.await;
            if let Ok(report) = &last {
                for d in &report.drift {
                    control.count(
                        "drift_found",
                        &[("connection", d.connection_id.as_str()), ("kind", d.kind)],
                        1,
                    );
                }
            }
            let _ = tx
                .send(
                    last.map(progress)
                        .map_err(|e| Status::unavailable(format!("reconcile: {e}"))),
                )
                .await;
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type ReplayStream = ReceiverStream<Result<ReplayProgress, Status>>;

    async fn replay(
        &self,
        req: Request<ReplayRequest>,
    ) -> Result<Response<Self::ReplayStream>, Status> {
        let q = req.into_inner();
        let f = filter(&q.connection_id, &q.order_number, &q.error_class, q.limit);
        let rows = self.replayer.select(&f).await.map_err(internal)?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let replayer = self.replayer.clone();
        // Runs to the end even if the caller goes away, so a replay is never left half-recorded.
        tokio::spawn(async move {
            let total = rows.len() as u32;
            for (i, row) in rows.into_iter().enumerate() {
                let dead_letter =
                    format!("{}/{}/{}", row.dlq_topic, row.dlq_partition, row.dlq_offset);
                let msg = match replayer.replay_one(&row, q.dry_run).await {
                    Ok(outcome) => {
                        let (outcome, to) = match outcome {
                            Outcome::Replayed { to } => ("replayed", to),
                            Outcome::WouldReplay { to } => ("would_replay", to),
                            Outcome::Missing => ("missing", String::new()),
                        };
                        Ok(ReplayProgress {
                            done: i as u32 + 1,
                            total,
                            entry: Some(dead_letter_entry(row)),
                            outcome: outcome.into(),
                            dead_letter,
                            replayed_to: to,
                        })
                    }
                    Err(e) => Err(Status::unavailable(format!("replay of {dead_letter}: {e}"))),
                };
                let failed = msg.is_err();
                let _ = tx.send(msg).await;
                if failed {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
