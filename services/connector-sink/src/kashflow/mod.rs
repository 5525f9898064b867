//! The KashFlow (IRIS) REST v2 target, laid out like the QuickBooks one: [`config`] (per
//! connection), [`encoder`] (command → bodies, money at the edge), [`service`] (session
//! token, pacing, retry classification), [`documents`] (what each command does, looked up
//! before it is created), [`errors`] (what a failure means for the sink loop and the
//! operator), and [`stock`] (stock levels for the store back-sync).
mod config;
mod documents;
mod encoder;
mod errors;
mod service;
mod stock;

pub use config::{KfConnectionConfig, KfLimits, KfRetry};
pub use errors::class_of;
pub use service::{KfError, KfStats};
pub use stock::StockLevel;

use crate::{
    keyed_lock::KeyedLock,
    target::{Connection, Failure, HealthFn, Outcome, Shared, Target},
    xref::Store,
    SinkError,
};
use futures::future::BoxFuture;
use nopbridge_proto::{
    commands::v1::{Command, TargetKind},
    control::v1::HealthState,
};
use nopbridge_runtime::Meter;
use parking_lot::Mutex;
use service::KfService;
use std::{collections::HashMap, sync::Arc};

/// The registry entry (see [`crate::target::TARGETS`]).
pub static TARGET: Target = Target {
    name: "kashflow",
    kind: TargetKind::Kashflow,
    connect,
};

fn connect<'a>(
    shared: &'a Shared<'a>,
) -> BoxFuture<'a, Result<Vec<Arc<dyn Connection>>, SinkError>> {
    Box::pin(async move {
        let mut out: Vec<Arc<dyn Connection>> = Vec::new();
        for c in &shared.settings.kashflow {
            let health = (shared.health)(&TARGET, &c.connection_id);
            out.push(Arc::new(KfConnector::new(
                c.clone(),
                shared.store.clone(),
                shared.http.clone(),
                health,
                Meter::new(shared.control, TARGET.name, &c.connection_id),
            )));
        }
        Ok(out)
    })
}

/// One KashFlow account with its session, pacing and cross references.
pub struct KfConnector {
    cfg: KfConnectionConfig,
    service: KfService,
    store: Store,
    health: HealthFn,
    /// Payment method ids by lower-case name (`/paymentmethods/invoice`).
    methods: Mutex<Option<HashMap<String, i64>>>,
    /// One lookup-then-create at a time per customer, product or document key.
    flights: KeyedLock,
}

impl KfConnector {
    pub fn new(
        cfg: KfConnectionConfig,
        store: Store,
        http: reqwest::Client,
        health: HealthFn,
        meter: Meter,
    ) -> Self {
        let service = KfService::new(http, &cfg, meter);
        Self {
            cfg,
            service,
            store,
            health,
            methods: Mutex::default(),
            flights: KeyedLock::default(),
        }
    }

    pub fn config(&self) -> &KfConnectionConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &KfStats {
        &self.service.stats
    }
}

impl Connection for KfConnector {
    fn connection_id(&self) -> &str {
        &self.cfg.connection_id
    }

    fn target(&self) -> &'static Target {
        &TARGET
    }

    fn execute<'a>(&'a self, cmd: &'a Command) -> BoxFuture<'a, Result<Outcome, Failure>> {
        Box::pin(async move {
            let r = self.execute_command(cmd).await;
            if let Err(KfError::Auth(why)) = &r {
                (self.health)(HealthState::Disconnected, why);
            }
            r.map_err(Failure::from)
        })
    }
}
