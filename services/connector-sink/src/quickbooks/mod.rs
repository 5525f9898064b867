//! The QuickBooks Online target, laid out like a Vector sink: [`config`] (per connection),
//! [`encoder`] (values at the edge), [`request_builder`] (command → bodies), [`service`] (HTTP
//! with retry classification, paced by [`limiter`], authorised by [`oauth`], coalesced by
//! [`batch`]), [`references`] and [`documents`] (what each command does).
mod batch;
mod config;
mod documents;
mod encoder;
mod limiter;
mod oauth;
mod references;
mod request_builder;
mod service;

pub use config::{DisplayNameRule, QboConnectionConfig, QboLimits, QboRetry};
pub use documents::Outcome;
pub use encoder::request_id;
pub use oauth::HealthFn;
pub use service::{Fault, QboError, ServiceStats};

use crate::{
    keyed_lock::KeyedLock,
    xref::{Store, StoreError},
};
use batch::Batcher;
use limiter::Limiter;
use oauth::TokenManager;
use parking_lot::Mutex;
use secrecy::ExposeSecret;
use service::QboService;
use std::{collections::HashMap, sync::Arc, time::Duration};

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
}

impl QboConnector {
    /// Seeds the refresh token from config when the database has none, and starts the batcher.
    pub async fn new(
        cfg: QboConnectionConfig,
        store: Store,
        http: reqwest::Client,
        health: HealthFn,
    ) -> Result<Self, StoreError> {
        if let Some(t) = &cfg.refresh_token {
            store
                .seed_refresh_token(&cfg.connection_id, t.expose_secret())
                .await?;
        }
        let oauth = Arc::new(TokenManager::new(
            cfg.connection_id.clone(),
            cfg.token_url.clone(),
            cfg.client_id.clone(),
            cfg.client_secret.clone(),
            http.clone(),
            store.clone(),
            health,
        ));
        let service = Arc::new(QboService::new(
            http,
            cfg.company_url(),
            cfg.minor_version,
            Arc::new(Limiter::new(&cfg.limits)),
            oauth,
            cfg.retry.clone(),
        ));
        let batcher = Batcher::spawn(service.clone(), cfg.limits.batch_max_items);
        Ok(Self {
            cfg,
            service,
            batcher,
            store,
            cache: Mutex::default(),
            flights: KeyedLock::default(),
        })
    }

    pub fn config(&self) -> &QboConnectionConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &ServiceStats {
        &self.service.stats
    }

    pub fn is_disconnected(&self) -> bool {
        self.service.oauth().is_disconnected()
    }

    /// Waits (polling the database, never Intuit) until the connection is re-authorised.
    pub async fn wait_connected(&self, within: Duration) -> Result<bool, QboError> {
        let poll = Duration::from_millis(self.cfg.retry.disconnected_poll_ms.max(10));
        Ok(self.service.oauth().wait_connected(within, poll).await?)
    }
}
