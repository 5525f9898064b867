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
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

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
        let client = NopClient::new(&settings).map_err(|e| invalid(e.to_string()))?;
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
            locks: KeyLocks::new(1024),
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
    pub(crate) async fn lock<'a>(&'a self, keys: &[(&str, i64)]) -> Vec<MutexGuard<'a, ()>> {
        self.locks.lock_many(keys).await
    }

    /// Counts towards `nopbridge_<name>_total{connection=…}` on /metrics.
    pub fn count(&self, name: &'static str, by: u64) {
        self.control.count(name, &[("connection", self.id())], by);
    }
}

/// Striped async locks keyed by (entity, id).
struct KeyLocks {
    stripes: Vec<Mutex<()>>,
}

impl KeyLocks {
    fn new(n: usize) -> Self {
        Self {
            stripes: (0..n.max(1)).map(|_| Mutex::new(())).collect(),
        }
    }

    fn stripe(&self, key: &(&str, i64)) -> usize {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() % self.stripes.len() as u64) as usize
    }

    /// Takes the stripes in ascending order, each once, so two batches cannot deadlock.
    async fn lock_many(&self, keys: &[(&str, i64)]) -> Vec<MutexGuard<'_, ()>> {
        let mut idx: Vec<usize> = keys.iter().map(|k| self.stripe(k)).collect();
        idx.sort_unstable();
        idx.dedup();
        let mut guards = Vec::with_capacity(idx.len());
        for i in idx {
            guards.push(self.stripes[i].lock().await);
        }
        guards
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
    async fn lock_many_takes_each_stripe_once() {
        let locks = KeyLocks::new(4);
        // More keys than stripes: some share one, which must not deadlock.
        let keys: Vec<(&str, i64)> = (0..20).map(|i| ("order", i)).collect();
        let guards = locks.lock_many(&keys).await;
        assert!(guards.len() <= 4);
        drop(guards);
        let again =
            tokio::time::timeout(std::time::Duration::from_secs(5), locks.lock_many(&keys)).await;
        assert!(again.is_ok(), "released stripes can be taken again");
    }
}
