//! Pacing for one realm: never more than `max_in_flight` calls at once, `requests_per_minute`
//! calls and `batch_calls_per_minute` batch calls in any window (sliding logs of start times).
//! A call stays in the logs a little longer than the window (the headroom), because the
//! server counts it from when it arrived, a moment after we sent it.
//!
//! Within those limits calls are also spread evenly ([`Pace`]: one per window / limit, small
//! bursts). A sliding window alone lets a whole window's calls go in one burst and then
//! nothing until they age out; the window repeats that pattern forever, batches leave with
//! whatever the burst found queued, and the batch budget of the quiet part is lost.
use super::config::QboLimits;
use parking_lot::Mutex;
use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Batch calls that may go back to back after a quiet spell.
const BATCH_BURST: f64 = 2.0;
/// Calls that may go back to back after a quiet spell.
const REQUEST_BURST: f64 = 10.0;

/// A token bucket: `1 / every` credits per second, at most `burst` saved.
struct Pace {
    every: Duration,
    burst: f64,
    credit: f64,
    at: Option<Instant>,
}

impl Pace {
    fn new(window: Duration, per_window: usize, burst: f64) -> Self {
        Self {
            every: window / per_window.max(1) as u32,
            burst,
            // A quiet spell before the first call.
            credit: burst,
            at: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(at) = self.at {
            let earned = now.duration_since(at).as_secs_f64() / self.every.as_secs_f64();
            self.credit = (self.credit + earned).min(self.burst);
        }
        self.at = Some(now);
    }

    /// How long until a credit is there (zero: now).
    fn wait(&self) -> Duration {
        if self.credit >= 1.0 {
            Duration::ZERO
        } else {
            self.every.mul_f64(1.0 - self.credit)
        }
    }

    fn take(&mut self) {
        self.credit -= 1.0;
    }

    fn give_back(&mut self) {
        self.credit = (self.credit + 1.0).min(self.burst);
    }
}

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

struct Logs {
    requests: VecDeque<Instant>,
    batches: VecDeque<Instant>,
    request_pace: Pace,
    batch_pace: Pace,
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
        let window = Duration::from_millis(cfg.window_ms + cfg.window_ms * headroom / 1000);
        let max_requests = (cfg.requests_per_minute as usize).max(1);
        let max_batches = (cfg.batch_calls_per_minute as usize).max(1);
        Self {
            window,
            max_requests,
            max_batches,
            in_flight: Arc::new(Semaphore::new(cfg.max_in_flight.max(1))),
            logs: Mutex::new(Logs {
                requests: VecDeque::new(),
                batches: VecDeque::new(),
                request_pace: Pace::new(window, max_requests, REQUEST_BURST),
                batch_pace: Pace::new(window, max_batches, BATCH_BURST),
            }),
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
        logs.request_pace.refill(now);
        let mut wait = logs.request_pace.wait();
        if logs.requests.len() >= self.max_requests {
            wait = wait.max(self.until_free(&logs.requests, now));
        }
        if kind == CallKind::Batch && logs.batches.len() >= self.max_batches {
            wait = wait.max(self.until_free(&logs.batches, now));
        }
        if wait > Duration::ZERO {
            return Some(wait.max(Duration::from_millis(1)));
        }
        logs.request_pace.take();
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

    /// Turns an admitted call into a batch call when the batch window has room and the
    /// batch pacing allows one now. The batcher decides what to send only once a call is
    /// admitted, so writes queued meanwhile leave together in one batch.
    pub fn try_upgrade_to_batch(&self) -> bool {
        let now = Instant::now();
        let mut logs = self.logs.lock();
        logs.prune(now, self.window);
        logs.batch_pace.refill(now);
        if logs.batch_pace.wait().is_zero() && logs.batches.len() < self.max_batches {
            logs.batch_pace.take();
            logs.batches.push_back(now);
            true
        } else {
            false
        }
    }

    /// Gives back an upgrade that found nothing to batch.
    pub fn undo_upgrade(&self) {
        let mut logs = self.logs.lock();
        logs.batches.pop_back();
        logs.batch_pace.give_back();
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

    #[tokio::test]
    async fn batch_calls_are_spread_over_the_window_not_sent_in_a_burst() {
        // 40 batch calls per 400 ms: one every 10 ms.
        let limiter = Limiter::new(&QboLimits {
            batch_calls_per_minute: 40,
            window_ms: 400,
            headroom_per_mille: 0,
            ..QboLimits::default()
        });
        // A short burst after a quiet spell, then one per 10 ms.
        assert!(limiter.try_upgrade_to_batch());
        assert!(limiter.try_upgrade_to_batch());
        assert!(
            !limiter.try_upgrade_to_batch(),
            "the window has room but the pacing says not yet"
        );
        tokio::time::sleep(Duration::from_millis(12)).await;
        assert!(limiter.try_upgrade_to_batch());
        limiter.undo_upgrade();
        assert!(
            limiter.try_upgrade_to_batch(),
            "an undone upgrade is given back"
        );
    }
}
