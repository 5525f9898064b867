//! One holder at a time per key, inside one process: concurrent commands that need the same
//! missing reference (a customer, an item) look it up and create it once instead of racing
//! to create two. Across processes the target's own uniqueness (QuickBooks 6240) is the
//! backstop. Entries disappear when their last holder leaves, so the map stays small.
use parking_lot::Mutex;
use std::{collections::HashMap, sync::Arc};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct KeyedLock {
    keys: Arc<Mutex<HashMap<String, Arc<AsyncMutex<()>>>>>,
}

/// Held while the key's work runs.
pub struct KeyGuard {
    keys: Arc<Mutex<HashMap<String, Arc<AsyncMutex<()>>>>>,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLock {
    pub async fn lock(&self, key: &str) -> KeyGuard {
        let entry = self.keys.lock().entry(key.to_string()).or_default().clone();
        let guard = entry.lock_owned().await;
        KeyGuard {
            keys: self.keys.clone(),
            key: key.to_string(),
            guard: Some(guard),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys.lock().len()
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut keys = self.keys.lock();
        // Only the map's own reference left: nobody holds or waits for this key.
        if keys
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            keys.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_holder_per_key_and_no_leftover_entries() {
        let lock = Arc::new(KeyedLock::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let max_inside = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (lock, inside, max_inside) = (lock.clone(), inside.clone(), max_inside.clone());
            tasks.push(tokio::spawn(async move {
                let _g = lock.lock("item:SKU-1").await;
                let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                max_inside.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            assert!(t.await.is_ok());
        }
        assert_eq!(max_inside.load(Ordering::SeqCst), 1);
        assert_eq!(lock.len(), 0);
    }

    #[tokio::test]
    async fn different_keys_do_not_wait_for_each_other() {
        let lock = KeyedLock::default();
        let _a = lock.lock("a").await;
        let b = tokio::time::timeout(std::time::Duration::from_secs(1), lock.lock("b")).await;
        assert!(b.is_ok());
    }
}
