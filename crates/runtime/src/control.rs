//! The control API every service serves: status, pause and resume.
use chrono::{DateTime, Utc};
use nopbridge_kafka::ConsumerHandle;
use nopbridge_proto::control::v1::{
    control_server::Control, ConnectorHealth, ErrorCounts, PartitionLag, PauseRequest,
    PauseResponse, Progress, ReloadRequest, ReloadResponse, ResumeRequest, ResumeResponse,
    StatusRequest, StatusResponse, Throughput,
};
use parking_lot::RwLock;
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};
use tonic::{Request, Response, Status};

/// Shared state behind the control API; services update connector health and progress.
#[derive(Clone)]
pub struct ControlState {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    started_at: DateTime<Utc>,
    consumers: RwLock<Vec<ConsumerHandle>>,
    connectors: RwLock<BTreeMap<String, ConnectorHealth>>,
    progress: RwLock<BTreeMap<String, Progress>>,
    paused_connections: RwLock<BTreeSet<String>>,
    reload: RwLock<Option<ReloadHook>>,
    counters: RwLock<BTreeMap<crate::metrics::CounterKey, u64>>,
}

/// Re-reads a service's reloadable configuration: Ok(what was loaded) or Err(why refused).
pub type ReloadHook = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

impl ControlState {
    /// State for `service`; its consumer loops are added with [`ControlState::add_consumer`].
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                service: service.into(),
                started_at: Utc::now(),
                consumers: RwLock::default(),
                connectors: RwLock::default(),
                progress: RwLock::default(),
                paused_connections: RwLock::default(),
                reload: RwLock::default(),
                counters: RwLock::default(),
            }),
        }
    }

    pub fn add_consumer(&self, handle: ConsumerHandle) {
        self.inner.consumers.write().push(handle);
    }

    fn consumers(&self) -> Vec<ConsumerHandle> {
        self.inner.consumers.read().clone()
    }

    pub fn set_connector_health(&self, health: ConnectorHealth) {
        self.inner
            .connectors
            .write()
            .insert(health.connection_id.clone(), health);
    }

    pub fn set_progress(&self, progress: Progress) {
        self.inner
            .progress
            .write()
            .insert(progress.name.clone(), progress);
    }

    /// The long-running work shown in Status, by name.
    pub fn progress(&self) -> Vec<Progress> {
        self.inner.progress.read().values().cloned().collect()
    }

    /// Adds to a counter exported on `/metrics` as `nopbridge_<name>_total{labels}`, e.g.
    /// `count("api_calls", &[("target", "quickbooks_online"), ("status", "429")], 1)`.
    pub fn count(&self, name: &'static str, labels: &[(&'static str, &str)], by: u64) {
        let key = (
            name,
            labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        );
        *self.inner.counters.write().entry(key).or_default() += by;
    }

    pub fn counters(&self) -> Vec<(crate::metrics::CounterKey, u64)> {
        self.inner
            .counters
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Installs what `Reload` runs; services without reloadable config leave it unset.
    pub fn on_reload(&self, hook: ReloadHook) {
        *self.inner.reload.write() = Some(hook);
    }

    /// Whether work for one connection is paused (checked by connection-aware handlers).
    pub fn is_connection_paused(&self, connection_id: &str) -> bool {
        self.inner.paused_connections.read().contains(connection_id)
    }

    fn service_paused(&self) -> bool {
        let consumers = self.consumers();
        !consumers.is_empty() && consumers.iter().all(ConsumerHandle::is_paused)
    }

    pub async fn status(&self) -> StatusResponse {
        let mut resp = StatusResponse {
            service: self.inner.service.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: Some(timestamp(self.inner.started_at)),
            paused: self.service_paused(),
            ..Default::default()
        };
        let mut throughput = Throughput::default();
        let mut errors = ErrorCounts::default();
        let mut groups = Vec::new();
        for c in &self.consumers() {
            let s = c.status().await;
            groups.push(s.group_id.clone());
            throughput.records_total += s.records_total;
            throughput.records_per_second += s.records_per_second;
            throughput.superseded += s.superseded;
            errors.transient += s.transient_errors;
            errors.dead_lettered += s.dead_lettered;
            resp.lag.extend(s.lag.into_iter().map(|l| PartitionLag {
                topic: l.topic,
                partition: l.partition,
                committed_offset: l.committed_offset,
                high_watermark: l.high_watermark,
                lag: l.lag,
            }));
        }
        resp.consumer_group = groups.join(",");
        resp.throughput = Some(throughput);
        resp.errors = Some(errors);
        let paused = self.inner.paused_connections.read().clone();
        resp.connectors = self
            .inner
            .connectors
            .read()
            .values()
            .cloned()
            .map(|mut h| {
                h.paused = paused.contains(&h.connection_id);
                h
            })
            .collect();
        resp.progress = self.progress();
        resp
    }
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

#[tonic::async_trait]
impl Control for ControlState {
    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        Ok(Response::new(ControlState::status(self).await))
    }

    async fn pause(&self, req: Request<PauseRequest>) -> Result<Response<PauseResponse>, Status> {
        let id = req.into_inner().connection_id;
        if id.is_empty() {
            self.consumers().iter().for_each(ConsumerHandle::pause);
        } else {
            self.inner.paused_connections.write().insert(id);
        }
        Ok(Response::new(PauseResponse { paused: true }))
    }

    async fn resume(
        &self,
        req: Request<ResumeRequest>,
    ) -> Result<Response<ResumeResponse>, Status> {
        let id = req.into_inner().connection_id;
        if id.is_empty() {
            self.consumers().iter().for_each(ConsumerHandle::resume);
        } else {
            self.inner.paused_connections.write().remove(&id);
        }
        Ok(Response::new(ResumeResponse { paused: false }))
    }

    async fn reload(&self, _: Request<ReloadRequest>) -> Result<Response<ReloadResponse>, Status> {
        let hook = self.inner.reload.read().clone();
        let Some(hook) = hook else {
            return Err(Status::unimplemented(format!(
                "{} has no reloadable configuration",
                self.inner.service
            )));
        };
        let resp = match hook() {
            Ok(message) => ReloadResponse {
                reloaded: true,
                message,
            },
            Err(message) => ReloadResponse {
                reloaded: false,
                message,
            },
        };
        Ok(Response::new(resp))
    }
}
