//! Scalable emulated clock: session lifetimes, rate windows and latency run in emulated time
//! so tests keep the real ratios while running faster.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

#[derive(Debug)]
pub struct Clock {
    origin_real: Instant,
    origin: DateTime<Utc>,
    scale: f64,
    /// Manual advance in emulated milliseconds (tests jump past an expiry).
    offset_ms: AtomicI64,
}

impl Clock {
    /// `scale` emulated seconds pass per real second; invalid values fall back to 1.
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            origin_real: Instant::now(),
            origin: Utc::now(),
            scale,
            offset_ms: AtomicI64::new(0),
        }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Current emulated time.
    pub fn now(&self) -> DateTime<Utc> {
        let real = self.origin_real.elapsed().as_secs_f64();
        let emulated_ms =
            (real * self.scale * 1000.0) as i64 + self.offset_ms.load(Ordering::Relaxed);
        self.origin + chrono::Duration::milliseconds(emulated_ms)
    }

    /// Moves emulated time forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Real time that an emulated duration takes.
    pub fn real(&self, emulated: Duration) -> Duration {
        emulated.div_f64(self.scale)
    }

    /// Sleeps for an emulated duration.
    pub async fn sleep(&self, emulated: Duration) {
        tokio::time::sleep(self.real(emulated)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_clock_runs_faster_and_advances() {
        let clock = Clock::new(60.0);
        assert_eq!(clock.real(Duration::from_secs(60)), Duration::from_secs(1));
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() - before >= chrono::Duration::seconds(3600));
    }

    #[test]
    fn invalid_scale_falls_back_to_real_time() {
        assert_eq!(Clock::new(f64::NAN).scale(), 1.0);
        assert_eq!(Clock::new(-2.0).scale(), 1.0);
    }
}
