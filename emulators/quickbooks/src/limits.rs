//! Per-realm throttling (reference section 4): requests per minute, requests in flight and
//! batch calls per minute, all measured on the emulated clock.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::config::LimitsConfig;

#[derive(Debug, Default)]
struct Window {
    requests: VecDeque<DateTime<Utc>>,
    batches: VecDeque<DateTime<Utc>>,
    in_flight: usize,
}

fn trim(q: &mut VecDeque<DateTime<Utc>>, now: DateTime<Utc>) {
    let cutoff = now - chrono::Duration::seconds(60);
    while q.front().is_some_and(|t| *t <= cutoff) {
        q.pop_front();
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    InFlight,
    PerMinute,
    BatchPerMinute,
}

#[derive(Debug, Default)]
pub struct Limiter {
    realms: Mutex<HashMap<String, Window>>,
}

/// Releases the in-flight slot when the request finishes.
pub struct InFlight {
    limiter: Arc<crate::state::AppState>,
    realm: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut realms = self.limiter.limiter.realms.lock();
        if let Some(w) = realms.get_mut(&self.realm) {
            w.in_flight = w.in_flight.saturating_sub(1);
        }
    }
}

impl Limiter {
    /// Admits a request or names the limit it would break.
    pub fn admit(
        state: &Arc<crate::state::AppState>,
        realm: &str,
        batch: bool,
        now: DateTime<Utc>,
        cfg: &LimitsConfig,
    ) -> Result<InFlight, Refusal> {
        let mut realms = state.limiter.realms.lock();
        let w = realms.entry(realm.to_string()).or_default();
        trim(&mut w.requests, now);
        trim(&mut w.batches, now);
        let refusal = if w.in_flight >= cfg.max_in_flight {
            Some(Refusal::InFlight)
        } else if w.requests.len() >= cfg.requests_per_minute as usize {
            Some(Refusal::PerMinute)
        } else if batch && w.batches.len() >= cfg.batch_calls_per_minute as usize {
            Some(Refusal::BatchPerMinute)
        } else {
            None
        };
        if let Some(r) = refusal {
            if cfg.throttled_requests_count {
                w.requests.push_back(now);
            }
            return Err(r);
        }
        w.requests.push_back(now);
        if batch {
            w.batches.push_back(now);
        }
        w.in_flight += 1;
        Ok(InFlight {
            limiter: state.clone(),
            realm: realm.to_string(),
        })
    }

    /// Charges extra requests to the per-minute window (batch items counted one by one).
    pub fn charge(&self, realm: &str, n: usize, now: DateTime<Utc>) {
        let mut realms = self.realms.lock();
        let w = realms.entry(realm.to_string()).or_default();
        for _ in 0..n {
            w.requests.push_back(now);
        }
    }

    /// Requests counted in the current minute (inspection).
    pub fn window_len(&self, realm: &str, now: DateTime<Utc>) -> usize {
        let mut realms = self.realms.lock();
        realms
            .get_mut(realm)
            .map(|w| {
                trim(&mut w.requests, now);
                w.requests.len()
            })
            .unwrap_or(0)
    }
}
