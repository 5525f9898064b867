//! Backfills an operator starts (`nopbridge backfill --since`): the `Ingest` gRPC service
//! beside Control. A backfill plans the orders' and customers' cursors from the date to where
//! polling stands, walks them like the configured backfill (so a restart resumes it) and
//! streams the progress Status also shows.
use crate::backfill;
use crate::connection::{Connection, Registry};
use crate::sync::{Kind, SyncError};
use chrono::{DateTime, Utc};
use nopbridge_proto::control::v1::{
    ingest_server::{Ingest, IngestServer},
    BackfillProgress, BackfillRequest,
};
use nopbridge_runtime::{grpc::bearer, grpc::Bearer, ControlState};
use parking_lot::Mutex;
use secrecy::SecretString;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{service::interceptor::InterceptedService, Request, Response, Status};
use tracing::info;

const KINDS: [Kind; 2] = [Kind::Order, Kind::Customer];

#[derive(Clone)]
pub struct IngestApi {
    registry: Registry,
    control: ControlState,
    stop: CancellationToken,
    /// Connections with a triggered backfill under way.
    running: Arc<Mutex<HashSet<String>>>,
}

impl IngestApi {
    pub fn new(registry: Registry, control: ControlState, stop: CancellationToken) -> Self {
        Self {
            registry,
            control,
            stop,
            running: Arc::default(),
        }
    }

    pub fn into_server(
        self,
        token: Option<SecretString>,
    ) -> InterceptedService<IngestServer<Self>, Bearer> {
        IngestServer::with_interceptor(self, bearer(token))
    }

    fn connections(&self, id: &str) -> Result<Vec<Arc<Connection>>, Status> {
        if id.is_empty() {
            return Ok(self.registry.all().to_vec());
        }
        self.registry
            .get(id)
            .map(|c| vec![c.clone()])
            .ok_or_else(|| {
                let known: Vec<&str> = self.registry.all().iter().map(|c| c.id()).collect();
                Status::not_found(format!(
                    "no connection {id:?}; this ingest has: {}",
                    known.join(", ")
                ))
            })
    }

    /// Plans both feeds of `conn` from `since`, unless a backfill of it is under way.
    async fn plan(conn: &Connection, since: DateTime<Utc>) -> Result<(), Status> {
        let unavailable = |e: SyncError| {
            Status::unavailable(format!("{}: cannot plan the backfill: {e}", conn.id()))
        };
        for kind in KINDS {
            if backfill::cursor(conn, kind)
                .await
                .map_err(unavailable)?
                .is_some_and(|c| !c.finished)
            {
                return Err(Status::failed_precondition(format!(
                    "{}: a backfill of its {}s is still running (see `nopbridge status`); start another once it is done",
                    conn.id(),
                    kind.name()
                )));
            }
        }
        for kind in KINDS {
            let newest = crate::poll::newest(conn, kind)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| {
                    Status::unavailable(format!(
                        "{} is still starting (its polling cursors are not set yet); try again in a moment",
                        conn.id()
                    ))
                })?;
            backfill::plan(conn, kind, since, &newest)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    fn progress(&self, conns: &[Arc<Connection>]) -> Vec<nopbridge_proto::control::v1::Progress> {
        let names: HashSet<String> = conns
            .iter()
            .flat_map(|c| KINDS.map(|k| backfill::progress_name(c.id(), k)))
            .collect();
        self.control
            .progress()
            .into_iter()
            .filter(|p| names.contains(&p.name))
            .collect()
    }
}

#[tonic::async_trait]
impl Ingest for IngestApi {
    type BackfillStream = ReceiverStream<Result<BackfillProgress, Status>>;

    async fn backfill(
        &self,
        req: Request<BackfillRequest>,
    ) -> Result<Response<Self::BackfillStream>, Status> {
        let q = req.into_inner();
        let since = q
            .since
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, 0))
            .ok_or_else(|| {
                Status::invalid_argument("`since` is required: the date to backfill from")
            })?;
        if since > Utc::now() {
            return Err(Status::invalid_argument(format!(
                "since {since} is in the future: give a past date"
            )));
        }
        let conns = self.connections(&q.connection_id)?;
        {
            let mut running = self.running.lock();
            if let Some(busy) = conns.iter().find(|c| running.contains(c.id())) {
                return Err(Status::failed_precondition(format!(
                    "{}: a backfill is already running; start another once it is done",
                    busy.id()
                )));
            }
            running.extend(conns.iter().map(|c| c.id().to_string()));
        }
        let release = |ids: &[Arc<Connection>]| {
            let mut running = self.running.lock();
            for c in ids {
                running.remove(c.id());
            }
        };
        for conn in &conns {
            if let Err(e) = Self::plan(conn, since).await {
                release(&conns);
                return Err(e);
            }
        }
        let mut walks = Vec::new();
        for conn in &conns {
            info!(connection = conn.id(), %since, "backfill requested");
            let conn = conn.clone();
            let (stop, running) = (self.stop.child_token(), self.running.clone());
            walks.push(tokio::spawn(async move {
                backfill::run(conn.clone(), stop).await;
                running.lock().remove(conn.id());
            }));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let api = self.clone();
        tokio::spawn(async move {
            loop {
                let finished = walks.iter().all(|w| w.is_finished());
                let update = BackfillProgress {
                    progress: api.progress(&conns),
                    finished,
                };
                // The caller went away: the backfill goes on, Status still shows it.
                if tx.send(Ok(update)).await.is_err() || finished || !q.wait {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
