//! Counters the control API reports: throughput, errors, lag.
use parking_lot::Mutex;
use std::{
    collections::VecDeque,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    /// Next offset the group will read; -1 when nothing is committed yet.
    pub committed_offset: i64,
    pub high_watermark: i64,
    pub lag: i64,
}

/// A snapshot of one consumer loop.
#[derive(Debug, Clone, Default)]
pub struct ConsumerStatus {
    pub group_id: String,
    pub records_total: u64,
    pub records_per_second: f64,
    /// Records skipped as superseded (see `Handler::later_supersedes`), in `records_total`.
    pub superseded: u64,
    pub transient_errors: u64,
    pub dead_lettered: u64,
    pub paused: bool,
    pub in_flight: usize,
    pub lag: Vec<PartitionLag>,
}

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) records: AtomicU64,
    pub(crate) superseded: AtomicU64,
    pub(crate) transient: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    /// (second, count) buckets over the last minute, for the rate.
    window: Mutex<VecDeque<(Instant, u64)>>,
}

impl Counters {
    pub(crate) fn record_done(&self) {
        self.records.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut w = self.window.lock();
        match w.back_mut() {
            Some((t, n)) if now.duration_since(*t) < Duration::from_secs(1) => *n += 1,
            _ => w.push_back((now, 1)),
        }
        while w
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > WINDOW)
        {
            w.pop_front();
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        let now = Instant::now();
        let w = self.window.lock();
        let recent: u64 = w
            .iter()
            .filter(|(t, _)| now.duration_since(*t) <= WINDOW)
            .map(|(_, n)| n)
            .sum();
        let span = w.front().map_or(WINDOW, |(t, _)| {
            now.duration_since(*t).clamp(Duration::from_secs(1), WINDOW)
        });
        recent as f64 / span.as_secs_f64()
    }
}
