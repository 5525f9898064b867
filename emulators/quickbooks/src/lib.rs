//! A stateful stand-in for QuickBooks Online v3 (contract: shared/reference/quickbooks.md):
//! entities with QuickBooks' validation and totals, query, batch, CDC, requestid replay,
//! OAuth 2.0 with rotation, per-realm limits on a scalable clock, signed webhooks, fault
//! knobs and an inspection API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), nopbridge_emu_quickbooks::Error> {
//! use nopbridge_emu_quickbooks::{spawn, EmulatorConfig};
//! let emu = spawn(EmulatorConfig { time_scale: 60.0, ..EmulatorConfig::default() }).await?;
//! let realm = emu.default_realm();
//! let tokens = emu.handle().issue_tokens(&realm);
//! let company = emu.company_url(&realm); // POST {company}/customer with Bearer tokens.access_token
//! # let _ = (tokens, company);
//! # Ok(()) }
//! ```

pub mod api_error;
pub mod batch;
pub mod cdc;
pub mod clock;
pub mod config;
pub mod entities;
pub mod faults;
pub mod inspect;
pub mod json;
pub mod limits;
pub mod oauth;
pub mod query;
pub mod routes;
mod seed;
mod server;
pub mod state;
pub mod store;
pub mod table;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Rounding;
pub use config::{
    EmulatorConfig, FaultConfig, IdempotencyConfig, LimitsConfig, OAuthConfig, QueryConfig,
    RealmConfig, ValidationConfig, WebhookConfig, WebhookFormat,
};
pub use faults::InjectedFault;
pub use oauth::TokenResponse;
pub use state::CountersSnapshot;
pub use store::RealmCounters;

use crate::entities::EntityKind;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// A running emulator; dropping it (or [`RunningEmulator::shutdown`]) stops it.
pub struct RunningEmulator {
    addr: SocketAddr,
    handle: EmulatorHandle,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds 127.0.0.1:`config.port` (0 = any free port) and serves until shut down.
pub async fn spawn(config: EmulatorConfig) -> Result<RunningEmulator, Error> {
    if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
        return Err(Error::Config("time_scale must be a positive number".into()));
    }
    let port = config.port;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| Error::Bind { port, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { port, source })?;
    let (queue, events) = webhooks::WebhookQueue::new(config.webhooks.url.clone());
    let state = Arc::new(AppState::new(config, queue));
    let (tx, rx) = watch::channel(false);
    let router = routes::router(state.clone());
    let tasks = vec![
        tokio::spawn(server::serve(listener, router, rx.clone())),
        tokio::spawn(webhooks::run(state.clone(), events, rx)),
    ];
    Ok(RunningEmulator {
        addr,
        handle: EmulatorHandle { state },
        shutdown: tx,
        tasks,
    })
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v3/company/{realm}`
    pub fn company_url(&self, realm: &str) -> String {
        format!("{}/v3/company/{realm}", self.base_url())
    }

    /// Token endpoint (`grant_type=authorization_code|refresh_token`).
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v1/tokens/bearer", self.base_url())
    }

    /// First configured realm id.
    pub fn default_realm(&self) -> String {
        self.handle
            .state
            .config
            .realms
            .first()
            .map(|r| r.realm_id.clone())
            .unwrap_or_else(|| self.handle.state.config.default_realm.realm_id.clone())
    }

    pub fn handle(&self) -> &EmulatorHandle {
        &self.handle
    }

    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// In-process control and inspection.
#[derive(Clone)]
pub struct EmulatorHandle {
    state: Arc<AppState>,
}

impl EmulatorHandle {
    /// A fresh token pair for a realm, as after the consent screen and code exchange.
    pub fn issue_tokens(&self, realm: &str) -> TokenResponse {
        self.state
            .oauth
            .lock()
            .issue(realm, self.state.clock.now(), &self.state.config.oauth)
    }

    /// A one-time authorization code for the `authorization_code` grant.
    pub fn authorization_code(&self, realm: &str, redirect_uri: Option<&str>) -> String {
        self.state
            .oauth
            .lock()
            .new_code(realm, redirect_uri.map(str::to_string))
    }

    /// Forced token expiry: all current access tokens of the realm answer 401 from now on.
    pub fn expire_access_tokens(&self, realm: &str) {
        self.state
            .oauth
            .lock()
            .expire_access_tokens(realm, self.state.clock.now());
    }

    /// The user disconnects the app: every token of the realm stops working.
    pub fn revoke_realm(&self, realm: &str) {
        self.state.oauth.lock().revoke_realm(realm);
    }

    pub fn faults(&self) -> FaultConfig {
        self.state.faults.config()
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.state.faults.set(faults);
    }

    /// The next `count` /v3 requests get `fault`.
    pub fn force_faults(&self, fault: InjectedFault, count: usize) {
        self.state.faults.force(fault, count);
    }

    pub fn clear_forced_faults(&self) {
        self.state.faults.clear_forced();
    }

    /// Jumps the emulated clock (token expiry, windows, CDC times).
    pub fn advance_clock(&self, by: Duration) {
        self.state.clock.advance(by);
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.state.clock.now()
    }

    /// Real time one emulated duration takes.
    pub fn real_duration(&self, emulated: Duration) -> Duration {
        self.state.clock.real(emulated)
    }

    /// All stored objects of an entity (active and inactive), e.g. `("…", "Invoice")`.
    pub fn entities(&self, realm: &str, entity: &str) -> Vec<Value> {
        inspect::list(&self.state, realm, entity).unwrap_or_default()
    }

    /// How many objects of a kind a realm holds: cheap enough to poll (no copies).
    pub fn count(&self, realm: &str, entity: &str) -> usize {
        let (Some(kind), Some(realm)) = (EntityKind::parse(entity), self.state.realm(realm)) else {
            return 0;
        };
        let n = realm.lock().all(kind).count();
        n
    }

    pub fn entity(&self, realm: &str, entity: &str, id: &str) -> Option<Value> {
        let kind = EntityKind::parse(entity)?;
        let realm = self.state.realm(realm)?;
        let found = realm.lock().read(kind, id).ok();
        found.map(Value::Object)
    }

    pub fn counters(&self) -> CountersSnapshot {
        self.state.counters.snapshot()
    }

    pub fn realm_counters(&self, realm: &str) -> Option<RealmCounters> {
        let realm = self.state.realm(realm)?;
        let counters = realm.lock().counters.clone();
        Some(counters)
    }

    pub fn add_realm(&self, realm: RealmConfig) {
        self.state.add_realm(realm);
    }

    pub fn set_webhook_url(&self, url: Option<String>) {
        self.state.webhooks.set_url(url);
    }

    pub fn verifier_token(&self) -> String {
        self.state.config.webhooks.verifier_token.clone()
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.state.config
    }
}
