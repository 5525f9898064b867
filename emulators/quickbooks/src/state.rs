//! Shared emulator state behind the HTTP handlers and the in-process handle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

use crate::clock::Clock;
use crate::config::{EmulatorConfig, RealmConfig};
use crate::faults::FaultState;
use crate::limits::Limiter;
use crate::oauth::OAuthStore;
use crate::store::{Change, Realm};
use crate::webhooks::WebhookQueue;

/// Service-wide counters for tests and benchmarks.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub unavailable: AtomicU64,
    pub server_errors: AtomicU64,
    pub dropped: AtomicU64,
    pub unauthorized: AtomicU64,
    pub writes: AtomicU64,
    pub creates: AtomicU64,
    pub idempotent_replays: AtomicU64,
    pub reads: AtomicU64,
    pub queries: AtomicU64,
    pub batch_calls: AtomicU64,
    pub batch_items: AtomicU64,
    pub cdc_calls: AtomicU64,
    pub token_grants: AtomicU64,
    pub token_refreshes: AtomicU64,
    pub invalid_grants: AtomicU64,
    pub webhook_deliveries: AtomicU64,
    pub webhook_failures: AtomicU64,
}

/// Plain copy of [`Counters`].
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct CountersSnapshot {
    pub requests: u64,
    pub throttled: u64,
    pub unavailable: u64,
    pub server_errors: u64,
    pub dropped: u64,
    pub unauthorized: u64,
    pub writes: u64,
    pub creates: u64,
    pub idempotent_replays: u64,
    pub reads: u64,
    pub queries: u64,
    pub batch_calls: u64,
    pub batch_items: u64,
    pub cdc_calls: u64,
    pub token_grants: u64,
    pub token_refreshes: u64,
    pub invalid_grants: u64,
    pub webhook_deliveries: u64,
    pub webhook_failures: u64,
}

pub fn incr(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self) -> CountersSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CountersSnapshot {
            requests: g(&self.requests),
            throttled: g(&self.throttled),
            unavailable: g(&self.unavailable),
            server_errors: g(&self.server_errors),
            dropped: g(&self.dropped),
            unauthorized: g(&self.unauthorized),
            writes: g(&self.writes),
            creates: g(&self.creates),
            idempotent_replays: g(&self.idempotent_replays),
            reads: g(&self.reads),
            queries: g(&self.queries),
            batch_calls: g(&self.batch_calls),
            batch_items: g(&self.batch_items),
            cdc_calls: g(&self.cdc_calls),
            token_grants: g(&self.token_grants),
            token_refreshes: g(&self.token_refreshes),
            invalid_grants: g(&self.invalid_grants),
            webhook_deliveries: g(&self.webhook_deliveries),
            webhook_failures: g(&self.webhook_failures),
        }
    }
}

pub struct AppState {
    pub config: EmulatorConfig,
    pub clock: Clock,
    realms: Mutex<HashMap<String, Arc<Mutex<Realm>>>>,
    pub oauth: Mutex<OAuthStore>,
    pub limiter: Limiter,
    pub faults: FaultState,
    pub counters: Counters,
    pub webhooks: WebhookQueue,
}

impl AppState {
    pub fn new(config: EmulatorConfig, webhooks: WebhookQueue) -> Self {
        let clock = Clock::new(config.time_scale);
        let now = clock.now();
        let realms = config
            .realms
            .iter()
            .map(|r| {
                (
                    r.realm_id.clone(),
                    Arc::new(Mutex::new(Realm::new(r.clone(), now))),
                )
            })
            .collect();
        let faults = FaultState::new(config.faults.clone());
        Self {
            config,
            clock,
            realms: Mutex::new(realms),
            oauth: Mutex::new(OAuthStore::default()),
            limiter: Limiter::default(),
            faults,
            counters: Counters::default(),
            webhooks,
        }
    }

    /// The realm, created on first use when `auto_create_realms` is set.
    pub fn realm(&self, realm_id: &str) -> Option<Arc<Mutex<Realm>>> {
        let mut realms = self.realms.lock();
        if let Some(r) = realms.get(realm_id) {
            return Some(r.clone());
        }
        if !self.config.auto_create_realms
            || realm_id.is_empty()
            || !realm_id.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return None;
        }
        let cfg = RealmConfig {
            realm_id: realm_id.to_string(),
            ..self.config.default_realm.clone()
        };
        let realm = Arc::new(Mutex::new(Realm::new(cfg, self.clock.now())));
        realms.insert(realm_id.to_string(), realm.clone());
        Some(realm)
    }

    /// Updates an existing realm's counters (unknown realms are not created for this).
    pub fn count_realm(&self, realm_id: &str, f: impl FnOnce(&mut crate::store::RealmCounters)) {
        let realm = self.realms.lock().get(realm_id).cloned();
        if let Some(r) = realm {
            f(&mut r.lock().counters);
        }
    }

    /// Adds (or replaces) a realm.
    pub fn add_realm(&self, cfg: RealmConfig) {
        let realm = Arc::new(Mutex::new(Realm::new(cfg.clone(), self.clock.now())));
        self.realms.lock().insert(cfg.realm_id, realm);
    }

    pub fn realm_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.realms.lock().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Hands committed changes to the webhook worker.
    pub fn publish(&self, realm_id: &str, changes: &[Change]) {
        for c in changes {
            self.webhooks.push(realm_id, c.clone());
        }
    }
}
