//! The Microsoft Dynamics GP target: eConnect XML documents delivered to the company's
//! integration endpoint over HTTP(S). Laid out like the other targets: [`config`],
//! [`schema`] and [`xml`] (documents in XSD order), [`encoder`] (lengths with recorded
//! fitting, money, numbers), [`request_builder`] (command → SOP nodes with the errata-1
//! header arithmetic), [`service`] (secret or certificate, retry classification),
//! [`documents`] (what each command does; a duplicate number on a retry is verified and
//! taken as posted), [`journal`] + [`gl`] (daily summaries as GL journals, found by their
//! reference before every try), [`payments`] (a payment after the invoice, found on the
//! document before every try) and [`errors`].
mod config;
mod documents;
mod encoder;
mod errors;
mod gl;
mod journal;
mod payments;
mod request_builder;
mod schema;
mod service;
mod xml;

pub use config::{GpConnectionConfig, GpDocIds, GpErrorNumbers, GpLimits, GpRetry, SaleDocument};
pub use errors::{class_of, BACK_ORDER, SUBTOTAL_MISMATCH};
pub use service::{GpError, GpStats};

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
use service::GpService;
use std::sync::Arc;

/// The registry entry (see [`crate::target::TARGETS`]).
pub static TARGET: Target = Target {
    name: "dynamics_gp",
    kind: TargetKind::DynamicsGp,
    connect,
};

fn connect<'a>(
    shared: &'a Shared<'a>,
) -> BoxFuture<'a, Result<Vec<Arc<dyn Connection>>, SinkError>> {
    Box::pin(async move {
        let mut out: Vec<Arc<dyn Connection>> = Vec::new();
        for c in &shared.settings.dynamics_gp {
            let health = (shared.health)(&TARGET, &c.connection_id);
            let meter = Meter::new(shared.control, TARGET.name, &c.connection_id);
            let connector =
                GpConnector::new(c.clone(), shared.store.clone(), shared.http, health, meter)
                    .map_err(|e| SinkError::Http(format!("{}: {e}", c.connection_id)))?;
            out.push(Arc::new(connector));
        }
        Ok(out)
    })
}

/// One GP company behind its integration endpoint.
pub struct GpConnector {
    cfg: GpConnectionConfig,
    service: GpService,
    store: Store,
    health: HealthFn,
    /// One document (or master record) at a time per number.
    flights: KeyedLock,
}

impl GpConnector {
    pub fn new(
        cfg: GpConnectionConfig,
        store: Store,
        http: &reqwest::Client,
        health: HealthFn,
        meter: Meter,
    ) -> Result<Self, GpError> {
        let service = GpService::new(http, &cfg, meter)?;
        Ok(Self {
            cfg,
            service,
            store,
            health,
            flights: KeyedLock::default(),
        })
    }

    pub fn config(&self) -> &GpConnectionConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &GpStats {
        &self.service.stats
    }
}

impl Connection for GpConnector {
    fn connection_id(&self) -> &str {
        &self.cfg.connection_id
    }

    fn target(&self) -> &'static Target {
        &TARGET
    }

    fn execute<'a>(&'a self, cmd: &'a Command) -> BoxFuture<'a, Result<Outcome, Failure>> {
        Box::pin(async move {
            let r = self.execute_command(cmd).await;
            if let Err(GpError::Auth(why)) = &r {
                (self.health)(HealthState::Disconnected, why);
            }
            r.map_err(|e| errors::failure(e, &self.cfg.errors))
        })
    }
}
