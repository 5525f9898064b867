//! A stateful stand-in for the KashFlow REST API v2 (contract: shared/reference/
//! kashflow_gp.md, part A): the two-step session token with memorable-word positions and
//! idle expiry, customers by Code, products by (nominal, code) with stock taken by sales
//! invoices, invoices with VAT lines, nominal codes and payment lines, the `{Data, MetaData}`
//! paging envelope, the `{Message, Error}` error bodies, fault knobs and an inspection API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), nopbridge_emu_kashflow::Error> {
//! use nopbridge_emu_kashflow::{spawn, EmulatorConfig};
//! let emu = spawn(EmulatorConfig { time_scale: 60.0, ..EmulatorConfig::default() }).await?;
//! let api = emu.api_url(); // http://127.0.0.1:PORT/v2
//! let token = emu.handle().open_session("emulator"); // or log in: POST/PUT {api}/sessiontoken
//! # let _ = (api, token);
//! # Ok(()) }
//! ```

pub mod api;
pub mod config;
pub mod error;
pub mod inspect;
pub mod json;
pub mod paging;
pub mod session;
pub mod state;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{
    AccountConfig, BankAccountSeed, CreditNotes, EmulatorConfig, ListShape, NominalSeed,
    NumberCollision, OverMax, PagingConfig, PaymentLinesOnPut, PaymentMethodSeed, RateLimitConfig,
    SessionConfig, ValidationConfig,
};
pub use error::ApiError;
pub use nopbridge_emu_support::{FaultConfig, InjectedFault};
pub use state::CountersSnapshot;
pub use store::AccountCounters;

use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// The whole HTTP surface: `/v2` (faults apply) and `/__emulator` (no faults).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(api::router(state.clone()))
        .merge(inspect::router())
        .with_state(state)
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
    if config.accounts.is_empty() {
        return Err(Error::Config("at least one account is needed".into()));
    }
    if let Some(a) = config
        .accounts
        .iter()
        .find(|a| a.memorable_word.chars().count() < config.session.memorable_positions)
    {
        return Err(Error::Config(format!(
            "memorable word of {} is shorter than session.memorable_positions",
            a.username
        )));
    }
    let port = config.port;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| Error::Bind { port, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { port, source })?;
    let state = Arc::new(AppState::new(config));
    let (tx, rx) = watch::channel(false);
    let server = tokio::spawn(nopbridge_emu_support::serve(
        listener,
        router(state.clone()),
        None,
        rx,
    ));
    Ok(RunningEmulator {
        addr,
        handle: EmulatorHandle { state },
        shutdown: tx,
        tasks: vec![server],
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

    /// `http://127.0.0.1:PORT/v2`, the counterpart of `https://api.kashflow.com/v2`.
    pub fn api_url(&self) -> String {
        format!("{}/v2", self.base_url())
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
    pub fn config(&self) -> &EmulatorConfig {
        &self.state.config
    }

    /// A session token for the account, as after both login steps.
    pub fn open_session(&self, username: &str) -> Option<String> {
        self.state.account(username)?;
        Some(
            self.state
                .sessions
                .lock()
                .open(&username.to_lowercase(), self.state.clock.now()),
        )
    }

    /// Forced session expiry: every session (or one account's) answers 401 from now on.
    /// Returns how many sessions ended.
    pub fn expire_sessions(&self, username: Option<&str>) -> usize {
        let account = username.map(str::to_lowercase);
        self.state.sessions.lock().expire(account.as_deref())
    }

    pub fn faults(&self) -> FaultConfig {
        self.state.faults.config()
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.state.faults.set(faults);
    }

    /// The next `count` `/v2` requests get `fault`.
    pub fn force_faults(&self, fault: InjectedFault, count: usize) {
        self.state.faults.force(fault, count);
    }

    pub fn clear_forced_faults(&self) {
        self.state.faults.clear_forced();
    }

    /// Jumps the emulated clock (session expiry, rate windows, default dates).
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

    /// Every customer of the account as `GET /customers/{code}` renders it.
    pub fn customers(&self, username: &str) -> Vec<Value> {
        inspect::rows(&self.state, username, "customers").unwrap_or_default()
    }

    pub fn customer(&self, username: &str, code: &str) -> Option<Value> {
        inspect::row(&self.state, username, "customers", code)
    }

    pub fn products(&self, username: &str) -> Vec<Value> {
        inspect::rows(&self.state, username, "products").unwrap_or_default()
    }

    pub fn product(&self, username: &str, nominal: i64, code: &str) -> Option<Value> {
        let account = self.state.account(username)?;
        let acc = account.lock();
        let legacy = self.state.config.validation.legacy_product_field_names;
        acc.product(nominal, code)
            .ok()
            .map(|p| acc.render_product(p, legacy))
    }

    /// Every invoice with lines and payment lines.
    pub fn invoices(&self, username: &str) -> Vec<Value> {
        inspect::rows(&self.state, username, "invoices").unwrap_or_default()
    }

    pub fn invoice(&self, username: &str, number: i64) -> Option<Value> {
        inspect::row(&self.state, username, "invoices", &number.to_string())
    }

    pub fn nominals(&self, username: &str) -> Vec<Value> {
        inspect::rows(&self.state, username, "nominals").unwrap_or_default()
    }

    /// Sets a product's stock as a purchase or a manual adjustment would.
    pub fn set_stock(
        &self,
        username: &str,
        nominal: i64,
        code: &str,
        quantity: Decimal,
    ) -> Result<(), ApiError> {
        let account = self
            .state
            .account(username)
            .ok_or_else(|| ApiError::not_found(format!("Account {username} does not exist.")))?;
        let mut acc = account.lock();
        acc.set_stock(nominal, code, quantity)
    }

    pub fn counters(&self) -> CountersSnapshot {
        self.state.counters.snapshot()
    }

    pub fn account_counters(&self, username: &str) -> Option<AccountCounters> {
        Some(self.state.account(username)?.lock().counters.clone())
    }

    /// Live (not expired) sessions of the account.
    pub fn live_sessions(&self, username: &str) -> usize {
        self.state
            .sessions
            .lock()
            .live(
                self.state.config.session.idle_timeout_secs,
                self.state.clock.now(),
            )
            .get(&username.to_lowercase())
            .copied()
            .unwrap_or(0)
    }
}
