//! A stateful stand-in for a nopCommerce 4.70 store (contract:
//! shared/reference/nopcommerce.md): the official Web API Backend under `/api-backend`,
//! the community API's read side under `/api`, signed webhook notifications, a seeded
//! data generator and fault knobs. See README.md for routes and settings.
//!
//! ```no_run
//! # async fn demo() -> Result<(), nopbridge_emu_nopcommerce::Error> {
//! use nopbridge_emu_nopcommerce::{spawn, EmulatorConfig};
//! let emu = spawn(EmulatorConfig { orders: 100, ..EmulatorConfig::default() }).await?;
//! let base = emu.base_url(); // POST {base}/api-backend/Authenticate/GetToken
//! let paid = emu.handle().mark_order_as_paid(1);
//! # let _ = (base, paid);
//! # Ok(()) }
//! ```

#![recursion_limit = "256"]

pub mod api_backend;
pub mod auth;
pub mod community_api;
pub mod config;
mod control;
pub mod events;
pub mod faults;
pub mod generator;
mod handle;
pub mod json;
pub mod live;
pub mod model;
pub mod money;
pub mod processing;
mod server;
pub mod state;
pub mod store;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{
    AuthConfig, CommunitySettings, Credentials, EmulatorConfig, FaultConfig, GatewayCapabilities,
    GeneratorConfig, LiveConfig, OwbSettings, SignatureEncoding, StoreSettings, WebhookConfig,
};
pub use events::{DomainEvent, EventKind};
pub use faults::InjectedFault;
pub use handle::EmulatorHandle;
pub use processing::Mode;
pub use store::{AddressInput, NewCustomer, PlaceOrder, PlaceOrderItem, StoreError};
pub use webhooks::{DeliveryRecord, DeliveryState, Notification};

use crate::state::Shared;

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
    #[error("generating seed data failed: {0}")]
    Generate(#[from] StoreError),
}

/// Builds the store (catalogue plus `config.orders` generated orders) without serving it.
pub fn build_state(
    config: EmulatorConfig,
) -> Result<
    (
        Arc<Shared>,
        tokio::sync::mpsc::UnboundedReceiver<DomainEvent>,
    ),
    Error,
> {
    if !matches!(config.store.currency_rate_decimals, 4 | 8) {
        return Err(Error::Config(
            "store.currency_rate_decimals must be 4 or 8".into(),
        ));
    }
    let issuer = auth::TokenIssuer::new(&config.auth.jwt_secret)
        .map_err(|e| Error::Config(format!("auth.jwt_secret: {e}")))?;
    let mut generator = generator::Generator::new(config.seed, &config.generator);
    let mut store = store::Store::new(config.store.clone());
    store.emit = config.generator.emit_webhooks;
    generator.seed_admin(
        &mut store,
        &config.credentials.email,
        &config.credentials.username,
    );
    generator.seed_catalogue(&mut store, &config.generator);
    generator.generate_orders(&mut store, config.orders)?;
    store.emit = true;
    let (webhooks, rx) = webhooks::Webhooks::start(config.webhook.clone());
    let initial_events = std::mem::take(&mut store.outbox);
    let shared = Arc::new(Shared {
        faults: faults::FaultState::new(config.faults.clone(), config.seed),
        config,
        store: RwLock::new(store),
        issuer,
        webhooks,
        generator: Mutex::new(generator),
        requests: Mutex::default(),
    });
    shared.webhooks.enqueue(initial_events);
    Ok((shared, rx))
}

/// A running emulator; dropping it (or [`RunningEmulator::shutdown`]) stops it.
pub struct RunningEmulator {
    addr: SocketAddr,
    handle: EmulatorHandle,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The whole HTTP surface: `/api-backend`, `/api`, `/token` (faults apply) and
/// `/_emulator` (control, no faults).
pub fn router(shared: Arc<Shared>) -> Router {
    let apis = Router::new()
        .nest("/api-backend", api_backend::router(shared.clone()))
        .merge(community_api::router(shared.clone()))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            faults::apply,
        ))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            count_request,
        ));
    Router::new()
        .merge(apis)
        .nest("/_emulator", control::router())
        .with_state(shared)
}

/// Counts each API request under its route (`GET /api-backend/Order/GetById/{id}`), so
/// tests and benchmarks can tell how much a client asked.
async fn count_request(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route: Vec<&str> = req
        .uri()
        .path()
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect();
    let key = format!("{} {}", req.method(), route.join("/"));
    *shared.requests.lock().entry(key).or_default() += 1;
    next.run(req).await
}

/// Binds 127.0.0.1:`config.port` (0 = any free port), seeds the store and serves until
/// shut down.
pub async fn spawn(config: EmulatorConfig) -> Result<RunningEmulator, Error> {
    let port = config.port;
    let (shared, rx) = build_state(config)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| Error::Bind { port, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { port, source })?;
    let (shutdown, stop_rx) = watch::channel(false);
    let dispatcher = shared.webhooks.run(rx);
    let mut stop_webhooks = stop_rx.clone();
    let webhook_task = tokio::spawn(async move {
        tokio::select! {
            _ = dispatcher => {}
            _ = stop_webhooks.changed() => {}
        }
    });
    let live = live::run(
        shared.clone(),
        shared.config.live.clone(),
        shared.config.seed,
    );
    let mut stop_live = stop_rx.clone();
    let live_task = tokio::spawn(async move {
        tokio::select! {
            _ = live => {}
            _ = stop_live.changed() => {}
        }
    });
    let server_task = tokio::spawn(server::serve(listener, router(shared.clone()), stop_rx));
    Ok(RunningEmulator {
        addr,
        handle: EmulatorHandle::new(shared),
        shutdown,
        tasks: vec![server_task, webhook_task, live_task],
    })
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `{base}/api-backend`.
    pub fn backend_url(&self) -> String {
        format!("{}/api-backend", self.base_url())
    }

    pub fn handle(&self) -> &EmulatorHandle {
        &self.handle
    }

    /// Stops serving and waits for the tasks to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }

    /// Serves until Ctrl-C (used by the binary).
    pub async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
        self.shutdown().await;
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
