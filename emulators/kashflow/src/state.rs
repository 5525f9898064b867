//! Shared emulator state behind the HTTP handlers and the in-process handle.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nopbridge_emu_support::{Clock, FaultState};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::config::EmulatorConfig;
use crate::session::Sessions;
use crate::store::{Account, Ctx};

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
    rate_limited,
    unavailable,
    server_errors,
    dropped,
    unauthorized,
    logins,
    sessions_expired,
    writes,
);

pub fn incr(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub struct AppState {
    pub config: EmulatorConfig,
    pub clock: Clock,
    /// Keyed by lower-case user name.
    pub accounts: HashMap<String, Arc<Mutex<Account>>>,
    pub sessions: Mutex<Sessions>,
    pub faults: FaultState,
    pub counters: Counters,
    /// Request times per account for the optional rate limit.
    pub windows: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
    pub rng: Mutex<StdRng>,
}

impl AppState {
    pub fn new(config: EmulatorConfig) -> Self {
        let accounts = config
            .accounts
            .iter()
            .map(|a| {
                (
                    a.username.to_lowercase(),
                    Arc::new(Mutex::new(Account::new(a.clone()))),
                )
            })
            .collect();
        let rng = match config.faults.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_entropy(),
        };
        Self {
            clock: Clock::new(config.time_scale),
            faults: FaultState::new(config.faults.clone()),
            accounts,
            sessions: Mutex::new(Sessions::default()),
            counters: Counters::default(),
            windows: Mutex::new(HashMap::new()),
            rng: Mutex::new(rng),
            config,
        }
    }

    pub fn account(&self, username: &str) -> Option<Arc<Mutex<Account>>> {
        self.accounts.get(&username.to_lowercase()).cloned()
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            now: self.clock.now().naive_utc(),
            validation: &self.config.validation,
        }
    }

    /// Admits a request of `account` under the optional per-minute limit.
    pub fn admit(&self, account: &str) -> bool {
        let limit = &self.config.rate_limit;
        if !limit.enabled {
            return true;
        }
        let now = self.clock.now();
        let mut windows = self.windows.lock();
        let window = windows.entry(account.to_lowercase()).or_default();
        while window
            .front()
            .is_some_and(|t| now - *t >= chrono::Duration::seconds(60))
        {
            window.pop_front();
        }
        if window.len() >= limit.requests_per_minute as usize {
            return false;
        }
        window.push_back(now);
        true
    }
}
