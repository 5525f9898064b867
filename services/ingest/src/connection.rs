//! One store connection (tenant, store, dialect, credentials, schedule) with what its syncs
//! share: API client, emitter, state database, caches and per-entity locks; and the
//! registry of every connection of the deployment.
use crate::canonical::MapCtx;
use crate::client::dto::ProductDto;
use crate::client::NopClient;
use crate::db::Db;
use crate::emit::Emitter;
use crate::settings::ConnectionSettings;
use nopbridge_kafka::Producer;
use nopbridge_model::Currency;
use nopbridge_runtime::ControlState;
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("connection {id}: {reason}")]
    Invalid { id: String, reason: String },
}

pub struct Connection {
    pub settings: ConnectionSettings,
    pub client: NopClient,
    pub emitter: Emitter,
    pub db: Db,
    pub ctx: MapCtx,
    pub control: ControlState,
    pub(crate) caches: Caches,
    locks: KeyLocks,
}

/// Small lookups that rarely change: products for order lines, gift-card codes, warehouse
/// and currency names. Products are refreshed whenever the product sync reads one.
#[derive(Default)]
pub(crate) struct Caches {
    pub products: RwLock<HashMap<i64, ProductDto>>,
    pub gift_card_codes: RwLock<HashMap<i64, Option<String>>>,
    pub warehouses: RwLock<Option<HashMap<i64, String>>>,
    pub currencies: RwLock<Option<HashMap<i64, String>>>,
}

impl Connection {
    pub fn new(
        settings: ConnectionSettings,
        topic_suffix: &str,
        producer: Producer,
        db: Db,
        control: ControlState,
    ) -> Result<Self, ConnectionError> {
        let invalid = |reason: String| ConnectionError::Invalid {
            id: settings.id.clone(),
            reason,
        };
        let meter = nopbridge_runtime::Meter::new(&control, "nopcommerce", &settings.id);
        let client = NopClient::new(&settings, meter).map_err(|e| invalid(e.to_string()))?;
        let currency =
            Currency::new(&settings.store_currency).map_err(|e| invalid(e.to_string()))?;
        let emitter = Emitter::new(
            producer,
            &settings.tenant,
            &settings.store_id.to_string(),
            &settings.id,
            topic_suffix,
        );
        let ctx = MapCtx {
            currency,
            countries: settings.countries(),
            prices_include_tax: settings.prices_include_tax,
        };
        Ok(Self {
            settings,
            client,
            emitter,
            db,
            ctx,
            control,
            caches: Caches::default(),
            locks: KeyLocks::new(),
        })
    }

    pub fn id(&self) -> &str {
        &self.settings.id
    }

    pub fn store_id(&self) -> i64 {
        self.settings.store_id
    }

    /// Holds the locks of these entities (so a webhook and a poll of the same record do not
    /// interleave their read-compare-write).
    pub(crate) async fn lock(&self, keys: &[(&'static str, i64)]) -> KeyGuard<'_> {
        self.locks.lock_many(keys).await
    }

    /// Counts towards `nopbridge_<name>_total{connection=…}` on /metrics.
    pub fn count(&self, name: &'static str, by: u64) {
        self.control.count(name, &[("connection", self.id())], by);
    }
}

/// Async locks keyed exactly by (entity, id): a batch takes all its keys at once or waits
/// (no lock order to get wrong), and two batches without a common record never wait for
/// each other (striped locks made unrelated pages wait on a shared stripe).
struct KeyLocks {
    held: parking_lot::Mutex<HashSet<(&'static str, i64)>>,
    freed: Notify,
}

/// Holds a batch's keys; releases them when dropped.
pub struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    keys: Vec<(&'static str, i64)>,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        {
            let mut held = self.locks.held.lock();
            for k in &self.keys {
                held.remove(k);
            }
        }
        self.locks.freed.notify_waiters();
    }
}

impl KeyLocks {
    fn new() -> Self {
        Self {
            held: parking_lot::Mutex::new(HashSet::new()),
            freed: Notify::new(),
        }
    }

    async fn lock_many(&self, keys: &[(&'static str, i64)]) -> KeyGuard<'_> {
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        loop {
            // Registered before the check, so a release between check and wait is not missed.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut held = self.held.lock();
                if keys.iter().all(|k| !held.contains(k)) {
                    held.extend(keys.iter().copied());
                    return KeyGuard { locks: self, keys };
                }
            }
            freed.await;
        }
    }
}

/// Every connection of the deployment.
#[derive(Default, Clone)]
pub struct Registry {
    conns: Vec<Arc<Connection>>,
}

fn site(c: &Connection) -> String {
    c.settings
        .base_url
        .trim_end_matches('/')
        .to_ascii_lowercase()
}

impl Registry {
    pub fn new(conns: Vec<Arc<Connection>>) -> Self {
        Self { conns }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Connection>> {
        self.conns.iter().find(|c| c.id() == id)
    }

    pub fn all(&self) -> &[Arc<Connection>] {
        &self.conns
    }

    /// The connection of `store_id` on the same site (same base URL) as `of`.
    pub fn sibling(&self, of: &Connection, store_id: i64) -> Option<&Arc<Connection>> {
        let s = site(of);
        self.conns
            .iter()
            .find(|c| c.store_id() == store_id && site(c) == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_wait_only_for_common_keys() {
        let locks = KeyLocks::new();
        let page: Vec<(&str, i64)> = (0..20).map(|i| ("order", i)).collect();
        let next: Vec<(&str, i64)> = (20..40).map(|i| ("order", i)).collect();
        let held = locks.lock_many(&page).await;
        let disjoint =
            tokio::time::timeout(std::time::Duration::from_secs(5), locks.lock_many(&next)).await;
        assert!(
            disjoint.is_ok(),
            "a batch without common keys does not wait"
        );
        drop(disjoint);
        let common = [("order", 39), ("order", 5), ("order", 5)];
        let waiting = locks.lock_many(&common);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), waiting.as_mut())
                .await
                .is_err(),
            "a batch sharing a key waits"
        );
        drop(held);
        let taken = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await;
        assert!(taken.is_ok(), "released keys can be taken again");
    }
}
