//! Pacing for one realm: never more than `max_in_flight` calls at once, `requests_per_minute`
//! calls and `batch_calls_per_minute` batch calls in any window (sliding logs of start times).
//! A call stays in the logs a little longer than the window (the headroom), because the
//! server counts it from when it arrived, a moment after we sent it.
use super::config::QboLimits;
use parking_lot::Mutex;
use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Single,
    Batch,
}

pub struct Limiter {
    window: Duration,
    max_requests: usize,
    max_batches: usize,
    in_flight: Arc<Semaphore>,
    logs: Mutex<Logs>,
}

#[derive(Default)]
struct Logs {
    requests: VecDeque<Instant>,
    batches: VecDeque<Instant>,
}

impl Logs {
    fn prune(&mut self, now: Instant, window: Duration) {
        for log in [&mut self.requests, &mut self.batches] {
            while log
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                log.pop_front();
            }
        }
    }
}

/// An in-flight slot not yet admitted to the window.
pub struct Slot(Option<OwnedSemaphorePermit>);

/// Held for the duration of one HTTP call.
pub struct Permit {
    _slot: Option<OwnedSemaphorePermit>,
}

impl Limiter {
    pub fn new(cfg: &QboLimits) -> Self {
        let headroom = u64::from(cfg.headroom_per_mille.min(500));
        Self {
            window: Duration::from_millis(cfg.window_ms + cfg.window_ms * headroom / 1000),
            max_requests: (cfg.requests_per_minute as usize).max(1),
            max_batches: (cfg.batch_calls_per_minute as usize).max(1),
            in_flight: Arc::new(Semaphore::new(cfg.max_in_flight.max(1))),
            logs: Mutex::default(),
        }
    }

    /// Waits for an in-flight slot, then for room in the window(s), and records the call.
    #[cfg(test)]
    pub async fn acquire(&self, kind: CallKind) -> Permit {
        let slot = self.slot().await;
        self.admit(kind, slot).await
    }

    /// An in-flight slot alone (the batcher takes one before it decides what to send).
    pub async fn slot(&self) -> Slot {
        // The semaphore is never closed, so the error arm cannot happen.
        Slot(self.in_flight.clone().acquire_owned().await.ok())
    }

    /// Waits for room in the window(s) while holding `slot`, and records the call.
    pub async fn admit(&self, kind: CallKind, slot: Slot) -> Permit {
        let slot = slot.0;
        loop {
            let wait = self.try_record(kind);
            match wait {
                None => return Permit { _slot: slot },
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Records the call when the windows have room; else how long until they might.
    fn try_record(&self, kind: CallKind) -> Option<Duration> {
        let now = Instant::now();
        let mut logs = self.logs.lock();
        logs.prune(now, self.window);
        let mut wait = Duration::ZERO;
        if logs.requests.len() >= self.max_requests {
            wait = wait.max(self.until_free(&logs.requests, now));
        }
        if kind == CallKind::Batch && logs.batches.len() >= self.max_batches {
            wait = wait.max(self.until_free(&logs.batches, now));
        }
        if wait > Duration::ZERO {
            return Some(wait.max(Duration::from_millis(1)));
        }
        logs.requests.push_back(now);
        if kind == CallKind::Batch {
            logs.batches.push_back(now);
        }
        None
    }

    fn until_free(&self, log: &VecDeque<Instant>, now: Instant) -> Duration {
        log.front()
            .map(|t| (*t + self.window).saturating_duration_since(now))
            .unwrap_or_default()
    }

    /// Turns an admitted call into a batch call when the batch window has room now (the
    /// batcher decides what to send only once a call is admitted, so queued writes pile up
    /// into one batch instead of spreading over calls still waiting for the window).
    pub fn try_upgrade_to_batch(&self) -> bool {
        let now = Instant::now();
        let mut logs = self.logs.lock();
        logs.prune(now, self.window);
        if logs.batches.len() < self.max_batches {
            logs.batches.push_back(now);
            true
        } else {
            false
        }
    }

    /// Gives back an upgrade that found nothing to batch.
    pub fn undo_upgrade(&self) {
        self.logs.lock().batches.pop_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_window_makes_the_next_call_wait_for_the_oldest_to_age_out() {
        let limiter = Limiter::new(&QboLimits {
            requests_per_minute: 5,
            window_ms: 200,
            headroom_per_mille: 0,
            ..QboLimits::default()
        });
        let start = Instant::now();
        for _ in 0..5 {
            drop(limiter.acquire(CallKind::Single).await);
        }
        assert!(limiter.try_record(CallKind::Single).is_some());
        drop(limiter.acquire(CallKind::Single).await);
        assert!(start.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn batch_calls_have_their_own_budget() {
        let limiter = Limiter::new(&QboLimits {
            batch_calls_per_minute: 2,
            window_ms: 60_000,
            headroom_per_mille: 0,
            ..QboLimits::default()
        });
        drop(limiter.acquire(CallKind::Batch).await);
        assert!(limiter.try_upgrade_to_batch());
        assert!(!limiter.try_upgrade_to_batch());
        assert!(limiter.try_record(CallKind::Batch).is_some());
        assert!(limiter.try_record(CallKind::Single).is_none());
        limiter.undo_upgrade();
        assert!(limiter.try_record(CallKind::Batch).is_none());
    }
}
