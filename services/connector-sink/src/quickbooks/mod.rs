//! The QuickBooks Online target, laid out like a Vector sink: [`config`] (per connection),
//! [`encoder`] (values at the edge), [`request_builder`] (command → bodies), [`service`] (HTTP
//! with retry classification, paced by [`limiter`], authorised by [`oauth`], coalesced by
//! [`batch`]), [`references`] and [`documents`] (what each command does), [`errors`] (what a
//! failure means for the sink loop and the operator).
mod batch;
mod config;
mod documents;
mod encoder;
mod errors;
mod limiter;
mod oauth;
mod references;
mod request_builder;
mod service;
mod stock_watch;
pub mod webhooks;

pub use config::{DisplayNameRule, QboConnectionConfig, QboLimits, QboRetry, StockWatchConfig};
pub use encoder::request_id;
pub use errors::{class_of, explain};
pub use service::{Fault, QboError, ServiceStats};
pub use stock_watch::{PollOutcome, StockWatch, WatchError};

use crate::{
    keyed_lock::KeyedLock,
    target::{Connection, Failure, HealthFn, Outcome, Shared, Target},
    xref::{Store, StoreError},
    SinkError,
};
use batch::Batcher;
use futures::future::BoxFuture;
use limiter::Limiter;
use nopbridge_proto::commands::v1::{Command, TargetKind};
use nopbridge_runtime::Meter;
use oauth::TokenManager;
use parking_lot::Mutex;
use secrecy::ExposeSecret;
use service::QboService;
use std::{collections::HashMap, sync::Arc, time::Duration};

/// The registry entry (see [`crate::target::TARGETS`]).
pub static TARGET: Target = Target {
    name: "quickbooks_online",
    kind: TargetKind::QuickbooksOnline,
    connect,
};

fn connect<'a>(
    shared: &'a Shared<'a>,
) -> BoxFuture<'a, Result<Vec<Arc<dyn Connection>>, SinkError>> {
    Box::pin(async move {
        let mut out: Vec<Arc<dyn Connection>> = Vec::new();
        for c in &shared.settings.quickbooks {
            let health = (shared.health)(&TARGET, &c.connection_id);
            let meter = Meter::new(shared.control, TARGET.name, &c.connection_id);
            let connector = QboConnector::new(
                c.clone(),
                shared.store.clone(),
                shared.http.clone(),
                health,
                meter,
            )
            .await?;
            if let Some(w) = &c.stock_watch {
                shared.stock_watches.lock().push(Arc::new(StockWatch::new(
                    &c.connection_id,
                    &c.realm_id,
                    w.clone(),
                    connector.service.clone(),
                    shared.store.clone(),
                    shared.producer.clone(),
                    shared.control.clone(),
                )));
            }
            out.push(Arc::new(connector));
        }
        Ok(out)
    })
}

/// One QuickBooks company (realm) with its pacing, tokens and references.
pub struct QboConnector {
    cfg: QboConnectionConfig,
    service: Arc<QboService>,
    batcher: Batcher,
    store: Store,
    /// Accounts, tax codes and payment methods by name (they rarely change).
    cache: Mutex<HashMap<String, String>>,
    /// One resolution at a time per customer or item key.
    flights: KeyedLock,
    /// Cross references each running command took from the database, so a document refused
    /// for a stale reference (610/2500) can forget them and resolve again (pitfall 8).
    xref_hits: Mutex<HashMap<String, Vec<(&'static str, String)>>>,
}

impl QboConnector {
    /// Seeds the refresh token from config when the database has none, and starts the batcher.
    pub async fn new(
        cfg: QboConnectionConfig,
        store: Store,
        http: reqwest::Client,
        health: HealthFn,
        meter: Meter,
    ) -> Result<Self, StoreError> {
        if let Some(t) = &cfg.refresh_token {
            store
                .seed_refresh_token(&cfg.connection_id, t.expose_secret())
                .await?;
        }
        let oauth = Arc::new(TokenManager::new(
            &cfg,
            http.clone(),
            store.clone(),
            health,
            meter.clone(),
        ));
        let service = Arc::new(QboService::new(
            http,
            cfg.company_url(),
            cfg.minor_version,
            Arc::new(Limiter::new(&cfg.limits)),
            oauth,
            cfg.retry.clone(),
            meter,
        ));
        let batcher = Batcher::spawn(service.clone(), cfg.limits.batch_max_items);
        Ok(Self {
            cfg,
            service,
            batcher,
            store,
            cache: Mutex::default(),
            flights: KeyedLock::default(),
            xref_hits: Mutex::default(),
        })
    }

    pub fn config(&self) -> &QboConnectionConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &ServiceStats {
        &self.service.stats
    }
}

impl Connection for QboConnector {
    fn connection_id(&self) -> &str {
        &self.cfg.connection_id
    }

    fn target(&self) -> &'static Target {
        &TARGET
    }

    fn execute<'a>(&'a self, cmd: &'a Command) -> BoxFuture<'a, Result<Outcome, Failure>> {
        Box::pin(async move { self.execute_command(cmd).await.map_err(Failure::from) })
    }

    fn is_disconnected(&self) -> bool {
        self.service.oauth().is_disconnected()
    }

    /// Polls the database (never Intuit) until an operator stored a new refresh token.
    fn wait_connected(&self, within: Duration) -> BoxFuture<'_, Result<bool, Failure>> {
        Box::pin(async move {
            let poll = Duration::from_millis(self.cfg.retry.disconnected_poll_ms.max(10));
            self.service
                .oauth()
                .wait_connected(within, poll)
                .await
                .map_err(|e| Failure::from(QboError::from(e)))
        })
    }

    fn disconnected_wait(&self) -> Duration {
        Duration::from_millis(self.cfg.retry.disconnected_wait_ms)
    }
}
