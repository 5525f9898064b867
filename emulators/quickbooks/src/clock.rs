//! Scalable emulated clock: windows, token lifetimes and retry schedules run in emulated time
//! so tests and benchmarks keep the real ratios while running faster.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Offset, TimeZone, Utc, Weekday};

#[derive(Debug)]
pub struct Clock {
    origin_real: Instant,
    origin: DateTime<Utc>,
    scale: f64,
    /// Manual advance in emulated milliseconds (tests jump past token expiry).
    offset_ms: AtomicI64,
}

impl Clock {
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

/// US Pacific offset at a UTC instant (QBO emits `time` and MetaData in Pacific time).
pub fn pacific_offset(at: DateTime<Utc>) -> FixedOffset {
    let year = at.year();
    // DST: second Sunday of March 02:00 PST (10:00 UTC) to first Sunday of November 02:00 PDT
    // (09:00 UTC).
    let start = nth_sunday(year, 3, 2).and_then(|d| d.and_hms_opt(10, 0, 0));
    let end = nth_sunday(year, 11, 1).and_then(|d| d.and_hms_opt(9, 0, 0));
    let dst = match (start, end) {
        (Some(s), Some(e)) => {
            let naive = at.naive_utc();
            naive >= s && naive < e
        }
        _ => false,
    };
    let hours = if dst { -7 } else { -8 };
    FixedOffset::east_opt(hours * 3600).unwrap_or_else(|| Utc.fix())
}

fn nth_sunday(year: i32, month: u32, n: u32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, u8::try_from(n).ok()?)
}

/// `2025-03-14T09:12:44.120-07:00`, as in the response `time` field.
pub fn format_time_millis(at: DateTime<Utc>) -> String {
    at.with_timezone(&pacific_offset(at))
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// `2025-03-14T09:12:44-07:00`, as in MetaData.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&pacific_offset(at))
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Pacific calendar date (default TxnDate).
pub fn pacific_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&pacific_offset(at)).date_naive()
}

/// Parses the datetime forms clients send (RFC 3339, with or without offset, or a date).
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(n) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        // Without an offset QBO reads Pacific time.
        let offset = pacific_offset(n.and_utc());
        return offset
            .from_local_datetime(&n)
            .single()
            .map(|t| t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let n = d.and_hms_opt(0, 0, 0)?;
        let offset = pacific_offset(n.and_utc());
        return offset
            .from_local_datetime(&n)
            .single()
            .map(|t| t.with_timezone(&Utc));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacific_offset_follows_daylight_saving() {
        let winter = Utc.with_ymd_and_hms(2025, 1, 10, 12, 0, 0).single();
        let summer = Utc.with_ymd_and_hms(2025, 7, 10, 12, 0, 0).single();
        assert_eq!(
            winter.map(|t| pacific_offset(t).local_minus_utc()),
            Some(-8 * 3600)
        );
        assert_eq!(
            summer.map(|t| pacific_offset(t).local_minus_utc()),
            Some(-7 * 3600)
        );
    }

    #[test]
    fn scaled_clock_runs_faster_and_advances() {
        let clock = Clock::new(60.0);
        assert_eq!(clock.real(Duration::from_secs(60)), Duration::from_secs(1));
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() - before >= chrono::Duration::seconds(3600));
    }
}
