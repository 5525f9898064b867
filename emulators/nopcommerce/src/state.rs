//! State shared by the routes and the handle.

use parking_lot::{Mutex, RwLock};

use crate::auth::TokenIssuer;
use crate::config::EmulatorConfig;
use crate::faults::FaultState;
use crate::generator::Generator;
use crate::store::Store;
use crate::webhooks::Webhooks;

pub struct Shared {
    pub config: EmulatorConfig,
    pub store: RwLock<Store>,
    pub issuer: TokenIssuer,
    pub faults: FaultState,
    pub webhooks: Webhooks,
    pub generator: Mutex<Generator>,
    /// API requests served, by method and route (numeric path segments as `{id}`).
    pub requests: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Shared {
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.store.read())
    }

    /// Runs a mutation, then hands the events it raised to the webhook dispatcher.
    pub fn write<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let (result, events) = {
            let mut store = self.store.write();
            let result = f(&mut store);
            (result, std::mem::take(&mut store.outbox))
        };
        self.webhooks.enqueue(events);
        result
    }
}
