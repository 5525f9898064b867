//! A stateful stand-in for a Microsoft Dynamics GP integration endpoint (contract:
//! shared/reference/kashflow_gp.md, part B). Real eConnect has no HTTP; this emulator is the
//! HTTP(S) shim the reference asks for: it takes `<eConnect>` XML documents
//! (RMCustomerMasterType, IVItemMasterType, SOPTransactionType, GLTransactionType),
//! validates them like eConnect (schema order and required nodes, field lengths, setup IDs,
//! SOP arithmetic, duplicates, UpdateIfExists, back orders), applies each document all or
//! nothing, and answers eConnect-style errors. Auth is a shared secret or a client
//! certificate; fault knobs and an inspection API as in the other emulators.
//!
//! ```no_run
//! # async fn demo() -> Result<(), nopbridge_emu_dynamics_gp::Error> {
//! use nopbridge_emu_dynamics_gp::{spawn, EmulatorConfig};
//! let emu = spawn(EmulatorConfig::default()).await?;
//! let url = emu.econnect_url("TWO"); // POST {url}/CreateTransactionEntity, Bearer secret
//! # let _ = url;
//! # Ok(()) }
//! ```

pub mod company;
pub mod config;
pub mod fault;
pub mod http;
pub mod inspect;
pub mod lengths;
pub mod schema;
pub mod state;
pub mod xml;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use company::CompanyCounters;
pub use config::{
    AuthConfig, CompanyConfig, DocIdSeed, EmulatorConfig, ErrorNumbers, ItemSeed, MasterUpdate,
    OverLength, TlsConfig, ValidationConfig,
};
pub use nopbridge_emu_support::{ClientIdentity, FaultConfig, InjectedFault, TlsMaterial};
pub use state::CountersSnapshot;

use crate::company::key;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Tls(#[from] nopbridge_emu_support::TlsError),
}

/// The whole HTTP surface: `/gp` (faults and auth apply) and `/__emulator` (neither).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(http::router(state.clone()))
        .merge(inspect::router())
        .with_state(state)
}

/// A running emulator; dropping it (or [`RunningEmulator::shutdown`]) stops it.
pub struct RunningEmulator {
    addr: SocketAddr,
    https: bool,
    handle: EmulatorHandle,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds 127.0.0.1:`config.port` (0 = any free port) and serves HTTP, or HTTPS with a
/// freshly generated CA when `tls.enabled`.
pub async fn spawn(config: EmulatorConfig) -> Result<RunningEmulator, Error> {
    if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
        return Err(Error::Config("time_scale must be a positive number".into()));
    }
    if config.companies.is_empty() {
        return Err(Error::Config("at least one company is needed".into()));
    }
    if config.auth.shared_secret.is_empty() {
        return Err(Error::Config("auth.shared_secret must not be empty".into()));
    }
    if config.tls.client_certificates && !config.tls.enabled {
        return Err(Error::Config(
            "tls.client_certificates needs tls.enabled".into(),
        ));
    }
    let tls = if config.tls.enabled {
        Some(TlsMaterial::generate("Dynamics GP")?)
    } else {
        None
    };
    let acceptor = match &tls {
        Some(t) => Some(t.acceptor(config.tls.client_certificates)?),
        None => None,
    };
    let port = config.port;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| Error::Bind { port, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { port, source })?;
    let https = tls.is_some();
    let state = Arc::new(AppState::new(config, tls));
    let (tx, rx) = watch::channel(false);
    let server = tokio::spawn(nopbridge_emu_support::serve(
        listener,
        router(state.clone()),
        acceptor,
        rx,
    ));
    Ok(RunningEmulator {
        addr,
        https,
        handle: EmulatorHandle { state },
        shutdown: tx,
        tasks: vec![server],
    })
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or `https://…` with TLS on.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// `{base}/gp/{company}/econnect`: POST `/CreateTransactionEntity` or `/CreateEntity`.
    pub fn econnect_url(&self, company: &str) -> String {
        format!("{}/gp/{company}/econnect", self.base_url())
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

    /// The shared secret clients send as `Authorization: Bearer {secret}`.
    pub fn shared_secret(&self) -> &str {
        &self.state.config.auth.shared_secret
    }

    /// PEM of the CA that signed the server certificate (TLS on).
    pub fn ca_pem(&self) -> Option<String> {
        self.state.tls.as_ref().map(TlsMaterial::ca_pem)
    }

    /// A client certificate accepted in place of the shared secret
    /// (`tls.client_certificates`).
    pub fn issue_client_certificate(&self, name: &str) -> Result<ClientIdentity, Error> {
        let tls = self
            .state
            .tls
            .as_ref()
            .ok_or_else(|| Error::Config("TLS is off".into()))?;
        Ok(tls.issue_client(name)?)
    }

    pub fn faults(&self) -> FaultConfig {
        self.state.faults.config()
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.state.faults.set(faults);
    }

    /// The next `count` `/gp` requests get `fault` (`ExpireSession` answers 401).
    pub fn force_faults(&self, fault: InjectedFault, count: usize) {
        self.state.faults.force(fault, count);
    }

    pub fn clear_forced_faults(&self) {
        self.state.faults.clear_forced();
    }

    pub fn advance_clock(&self, by: Duration) {
        self.state.clock.advance(by);
    }

    pub fn counters(&self) -> CountersSnapshot {
        self.state.counters.snapshot()
    }

    pub fn company_counters(&self, company: &str) -> Option<CompanyCounters> {
        Some(self.state.company(company)?.lock().counters.clone())
    }

    /// Every customer as `{values, addresses, internet_addresses}`.
    pub fn customers(&self, company: &str) -> Vec<Value> {
        inspect::rows(&self.state, company, "customers").unwrap_or_default()
    }

    pub fn customer(&self, company: &str, custnmbr: &str) -> Option<Value> {
        let shared = self.state.company(company)?;
        let c = shared.lock();
        c.customers
            .get(&key(custnmbr))
            .map(|x| c.render_customer(x))
    }

    /// Every item as `{values, quantities: {SITE: {QTYONHND, ATYALLOC, available}}, extras}`.
    pub fn items(&self, company: &str) -> Vec<Value> {
        inspect::rows(&self.state, company, "items").unwrap_or_default()
    }

    pub fn item(&self, company: &str, itemnmbr: &str) -> Option<Value> {
        let shared = self.state.company(company)?;
        let c = shared.lock();
        c.items.get(&key(itemnmbr)).map(|x| c.render_item(x))
    }

    /// (on hand, allocated) of an item at a site.
    pub fn quantity(
        &self,
        company: &str,
        itemnmbr: &str,
        site: &str,
    ) -> Option<(Decimal, Decimal)> {
        let shared = self.state.company(company)?;
        let c = shared.lock();
        let q = c.items.get(&key(itemnmbr))?.sites.get(&key(site))?;
        Some((q.on_hand, q.allocated))
    }

    /// Sets on-hand stock (an inventory adjustment); false for an unknown item or site.
    pub fn set_quantity(
        &self,
        company: &str,
        itemnmbr: &str,
        site: &str,
        on_hand: Decimal,
    ) -> bool {
        self.state
            .company(company)
            .is_some_and(|c| c.lock().set_quantity(itemnmbr, site, on_hand))
    }

    /// Every SOP document with lines (QTYFULFI/QTYTBAOR/QTYCANCE), taxes, payments, tracking.
    pub fn sop_documents(&self, company: &str) -> Vec<Value> {
        inspect::rows(&self.state, company, "sop").unwrap_or_default()
    }

    pub fn sop_document(&self, company: &str, soptype: i16, sopnumbe: &str) -> Option<Value> {
        let shared = self.state.company(company)?;
        let c = shared.lock();
        c.sop
            .get(&(soptype, key(sopnumbe)))
            .map(|d| c.render_sop(d))
    }

    /// Every inventory transaction as `{IVDOCNBR, IVDOCTYP, BACHNUMB, posted, header, lines}`.
    pub fn iv_documents(&self, company: &str) -> Vec<Value> {
        inspect::rows(&self.state, company, "iv").unwrap_or_default()
    }

    pub fn iv_document(&self, company: &str, ivdocnbr: &str) -> Option<Value> {
        let shared = self.state.company(company)?;
        let c = shared.lock();
        c.iv.get(&key(ivdocnbr)).map(|d| c.render_iv(d))
    }

    pub fn journals(&self, company: &str) -> Vec<Value> {
        inspect::rows(&self.state, company, "journals").unwrap_or_default()
    }

    pub fn batches(&self, company: &str) -> Vec<Value> {
        inspect::rows(&self.state, company, "batches").unwrap_or_default()
    }

    /// A person edits line `lnitmseq` of an unposted SOP document in GP (quantity and unit
    /// price; SUBTOTAL and DOCAMNT follow, the tax stays). Err says why GP would not.
    pub fn edit_sop_line(
        &self,
        company: &str,
        soptype: i16,
        sopnumbe: &str,
        lnitmseq: i64,
        quantity: Decimal,
        unit_price: Decimal,
    ) -> Result<(), String> {
        self.in_company(company, |c| {
            c.edit_sop_line(soptype, sopnumbe, lnitmseq, quantity, unit_price)
        })
    }

    /// A person deletes an unposted SOP document in GP (its allocation is released). Err
    /// says why GP would not (posted, missing).
    pub fn delete_sop_document(
        &self,
        company: &str,
        soptype: i16,
        sopnumbe: &str,
    ) -> Result<(), String> {
        self.in_company(company, |c| c.delete_sop(soptype, sopnumbe))
    }

    fn in_company(
        &self,
        company: &str,
        f: impl FnOnce(&mut company::Company) -> Result<(), String>,
    ) -> Result<(), String> {
        let shared = self
            .state
            .company(company)
            .ok_or_else(|| format!("no company {company}"))?;
        let mut c = shared.lock();
        f(&mut c)
    }

    /// Posts a batch's invoices, returns and inventory adjustments (stock moves); returns how
    /// many posted.
    pub fn post_batch(&self, company: &str, batch: &str) -> usize {
        self.state
            .company(company)
            .map_or(0, |c| c.lock().post_batch(batch))
    }
}
