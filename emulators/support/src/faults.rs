//! Fault knobs: latency, bursts of 429/503/500, dropped connections (before or after the
//! request ran) and forced credential expiry, by probability or forced for the next N
//! requests. Each emulator renders the faults in its own service's shapes.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// A fault the emulator injects instead of (or after) serving a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectedFault {
    /// 429 Too Many Requests with `Retry-After`.
    Throttle,
    /// 503 Service Unavailable.
    Unavailable,
    /// 500 Internal Server Error.
    ServerError,
    /// Connection closed before the request runs.
    DropBefore,
    /// The request runs (its effects stay), then the connection closes without a response.
    DropAfter,
    /// The caller's credential is treated as expired (KashFlow: the session ends and the
    /// request gets 401 InvalidSessionToken).
    ExpireSession,
}

/// Knobs changeable at run time through each emulator's handle.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added latency per request, emulated ms (scaled by the clock).
    pub latency_ms: u64,
    /// Extra random latency up to this many emulated ms.
    pub latency_jitter_ms: u64,
    /// Probability that a request starts a burst of 429s.
    pub throttle_probability: f64,
    /// Probability that a request starts a burst of 503s.
    pub unavailable_probability: f64,
    /// Probability that a request starts a burst of 500s.
    pub server_error_probability: f64,
    /// Probability of closing the connection without a response before executing.
    pub drop_before_probability: f64,
    /// Probability of executing the request, then closing the connection without a response
    /// (the client cannot know whether the write happened).
    pub drop_after_probability: f64,
    /// Probability that the caller's session is ended before the request runs.
    pub session_expiry_probability: f64,
    /// Length of a 429/503/500 burst (1 = single faults).
    pub burst_length: u32,
    /// `Retry-After` seconds on injected 429s (at least 1).
    pub retry_after_secs: u64,
    /// Seed for the fault dice (reproducible runs); none seeds from entropy.
    pub seed: Option<u64>,
}

/// Response extension asking the accept loop to close the connection without answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

pub struct FaultState {
    config: RwLock<FaultConfig>,
    rng: Mutex<StdRng>,
    /// Faults still owed: forced ones and the rest of a running burst.
    pending: Mutex<VecDeque<InjectedFault>>,
}

fn rng_for(config: &FaultConfig) -> StdRng {
    match config.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_entropy(),
    }
}

impl FaultState {
    pub fn new(config: FaultConfig) -> Self {
        Self {
            rng: Mutex::new(rng_for(&config)),
            config: RwLock::new(config),
            pending: Mutex::new(VecDeque::new()),
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

    /// The next `count` requests get this fault.
    pub fn force(&self, fault: InjectedFault, count: usize) {
        self.pending
            .lock()
            .extend(std::iter::repeat_n(fault, count));
    }

    /// Drops forced faults and the rest of a running burst.
    pub fn clear_forced(&self) {
        self.pending.lock().clear();
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

    /// `Retry-After` value for a 429, in seconds.
    pub fn retry_after_secs(&self) -> u64 {
        self.config.read().retry_after_secs.max(1)
    }

    /// Owed faults first; otherwise one roll over the probabilities, which may start a burst.
    pub fn decide(&self) -> Option<InjectedFault> {
        if let Some(f) = self.pending.lock().pop_front() {
            return Some(f);
        }
        let cfg = self.config.read().clone();
        let x: f64 = self.rng.lock().gen();
        let table = [
            (
                cfg.drop_before_probability,
                InjectedFault::DropBefore,
                false,
            ),
            (cfg.drop_after_probability, InjectedFault::DropAfter, false),
            (cfg.throttle_probability, InjectedFault::Throttle, true),
            (
                cfg.unavailable_probability,
                InjectedFault::Unavailable,
                true,
            ),
            (
                cfg.server_error_probability,
                InjectedFault::ServerError,
                true,
            ),
            (
                cfg.session_expiry_probability,
                InjectedFault::ExpireSession,
                false,
            ),
        ];
        let mut acc = 0.0;
        for (p, fault, bursty) in table {
            acc += p.max(0.0);
            if x < acc {
                if bursty && cfg.burst_length > 1 {
                    let rest = usize::try_from(cfg.burst_length - 1).unwrap_or(0);
                    self.pending.lock().extend(std::iter::repeat_n(fault, rest));
                }
                return Some(fault);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forced_faults_come_first_and_in_order() {
        let f = FaultState::new(FaultConfig::default());
        f.force(InjectedFault::Throttle, 2);
        f.force(InjectedFault::DropAfter, 1);
        assert_eq!(f.decide(), Some(InjectedFault::Throttle));
        assert_eq!(f.decide(), Some(InjectedFault::Throttle));
        assert_eq!(f.decide(), Some(InjectedFault::DropAfter));
        assert_eq!(f.decide(), None);
    }

    #[test]
    fn a_burst_repeats_the_fault_burst_length_times() {
        let f = FaultState::new(FaultConfig {
            unavailable_probability: 1.0,
            burst_length: 3,
            seed: Some(1),
            ..FaultConfig::default()
        });
        assert_eq!(f.decide(), Some(InjectedFault::Unavailable));
        f.set(FaultConfig::default());
        // The rest of the burst is still owed after the knob is switched off.
        assert_eq!(f.decide(), Some(InjectedFault::Unavailable));
        assert_eq!(f.decide(), Some(InjectedFault::Unavailable));
        assert_eq!(f.decide(), None);
    }

    #[test]
    fn clear_forced_drops_owed_faults() {
        let f = FaultState::new(FaultConfig::default());
        f.force(InjectedFault::ServerError, 5);
        f.clear_forced();
        assert_eq!(f.decide(), None);
    }
}
