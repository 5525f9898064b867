//! Wall-clock time during which at least one call of a kind (store API request, broker
//! produce) was outstanding: the "share of time waiting on X" figures of the status and the
//! benchmark. Overlapping calls count once.
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct BusyClock {
    inner: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    outstanding: u32,
    since: Option<Instant>,
    total: Duration,
    calls: u64,
}

/// Ends one call when dropped (also when the call's future is cancelled).
pub struct Busy {
    clock: BusyClock,
}

impl BusyClock {
    pub fn start(&self) -> Busy {
        let mut s = self.inner.lock();
        if s.outstanding == 0 {
            s.since = Some(Instant::now());
        }
        s.outstanding += 1;
        s.calls += 1;
        Busy {
            clock: self.clone(),
        }
    }

    /// Busy time so far (including the running stretch).
    pub fn total(&self) -> Duration {
        let s = self.inner.lock();
        s.total + s.since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    pub fn calls(&self) -> u64 {
        self.inner.lock().calls
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut s = self.clock.inner.lock();
        s.outstanding = s.outstanding.saturating_sub(1);
        if s.outstanding == 0 {
            if let Some(t) = s.since.take() {
                s.total += t.elapsed();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_calls_count_once() {
        let clock = BusyClock::default();
        let a = clock.start();
        let b = clock.start();
        std::thread::sleep(Duration::from_millis(20));
        drop(a);
        std::thread::sleep(Duration::from_millis(20));
        drop(b);
        let busy = clock.total();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(clock.total(), busy, "idle time is not counted");
        assert!(busy >= Duration::from_millis(40), "{busy:?}");
        assert_eq!(clock.calls(), 2);
    }
}
