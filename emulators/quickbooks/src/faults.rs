//! Fault injection on /v3 calls: latency, 429/503/500 bursts and dropped connections, by
//! probability or forced for the next N requests.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::config::FaultConfig;

/// A fault the emulator can inject instead of (or after) serving a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectedFault {
    /// 429 ThrottleExceeded.
    Throttle,
    /// 503 from the gateway.
    Unavailable,
    /// 500 SystemFault 10000.
    ServerError,
    /// Connection closed before the request runs.
    DropBefore,
    /// Request runs, then the connection is closed without a response.
    DropAfter,
}

/// Response extension asking the server loop to close the connection without answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

pub struct FaultState {
    config: RwLock<FaultConfig>,
    rng: Mutex<StdRng>,
    forced: Mutex<VecDeque<InjectedFault>>,
}

fn rng_for(config: &FaultConfig) -> StdRng {
    match config.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_entropy(),
    }
}

impl FaultState {
    pub fn new(config: FaultConfig) -> Self {
        let rng = rng_for(&config);
        Self {
            config: RwLock::new(config),
            rng: Mutex::new(rng),
            forced: Mutex::new(VecDeque::new()),
        }
    }

    pub fn config(&self) -> FaultConfig {
        self.config.read().clone()
    }

    /// Replaces the knobs (a new seed restarts the dice).
    pub fn set(&self, config: FaultConfig) {
        if config.seed.is_some() {
            *self.rng.lock() = rng_for(&config);
        }
        *self.config.write() = config;
    }

    /// The next `count` /v3 requests get this fault.
    pub fn force(&self, fault: InjectedFault, count: usize) {
        let mut forced = self.forced.lock();
        forced.extend(std::iter::repeat_n(fault, count));
    }

    pub fn clear_forced(&self) {
        self.forced.lock().clear();
    }

    /// True with probability `p`.
    pub fn roll(&self, p: f64) -> bool {
        p > 0.0 && self.rng.lock().gen_bool(p.clamp(0.0, 1.0))
    }

    /// Emulated latency for this request.
    pub fn latency(&self) -> Duration {
        let cfg = self.config.read();
        let jitter = if cfg.latency_jitter_ms > 0 {
            self.rng.lock().gen_range(0..=cfg.latency_jitter_ms)
        } else {
            0
        };
        Duration::from_millis(cfg.latency_ms + jitter)
    }

    /// Forced faults first, then one roll over the configured probabilities.
    pub fn decide(&self) -> Option<InjectedFault> {
        if let Some(f) = self.forced.lock().pop_front() {
            return Some(f);
        }
        let cfg = self.config.read().clone();
        let x: f64 = self.rng.lock().gen();
        let table = [
            (cfg.drop_before_probability, InjectedFault::DropBefore),
            (cfg.drop_after_probability, InjectedFault::DropAfter),
            (cfg.throttle_probability, InjectedFault::Throttle),
            (cfg.unavailable_probability, InjectedFault::Unavailable),
            (cfg.server_error_probability, InjectedFault::ServerError),
        ];
        let mut acc = 0.0;
        for (p, fault) in table {
            acc += p.max(0.0);
            if x < acc {
                return Some(fault);
            }
        }
        None
    }
}
