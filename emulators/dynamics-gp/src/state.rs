//! Shared emulator state behind the HTTP handlers and the in-process handle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use nopbridge_emu_support::{Clock, FaultState, TlsMaterial};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::company::{key, Company};
use crate::config::EmulatorConfig;

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// Service-wide counters for tests and benchmarks.
        #[derive(Debug, Default)]
        pub struct Counters { $(pub $name: AtomicU64,)* }

        /// Plain copy of [`Counters`].
        #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
        pub struct CountersSnapshot { $(pub $name: u64,)* }

        impl Counters {
            pub fn snapshot(&self) -> CountersSnapshot {
                CountersSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters!(
    requests,
    throttled,
    unavailable,
    server_errors,
    dropped,
    unauthorized,
    documents,
    accepted,
    rejected,
    schema_errors,
);

pub fn incr(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub struct AppState {
    pub config: EmulatorConfig,
    pub clock: Clock,
    /// Keyed by upper-case company name.
    pub companies: HashMap<String, Arc<Mutex<Company>>>,
    pub faults: FaultState,
    pub counters: Counters,
    pub tls: Option<TlsMaterial>,
}

impl AppState {
    pub fn new(config: EmulatorConfig, tls: Option<TlsMaterial>) -> Self {
        let companies = config
            .companies
            .iter()
            .map(|c| (key(&c.name), Arc::new(Mutex::new(Company::new(c.clone())))))
            .collect();
        Self {
            clock: Clock::new(config.time_scale),
            faults: FaultState::new(config.faults.clone()),
            companies,
            counters: Counters::default(),
            tls,
            config,
        }
    }

    pub fn company(&self, name: &str) -> Option<Arc<Mutex<Company>>> {
        self.companies.get(&key(name)).cloned()
    }
}
