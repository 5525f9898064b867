//! When a business day ends and when the schedule closes it.
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The instant `date` ends in UTC+`offset_minutes` (its local midnight).
pub fn day_end(date: NaiveDate, offset_minutes: i32) -> DateTime<Utc> {
    let next = date.succ_opt().unwrap_or(date);
    next.and_time(chrono::NaiveTime::MIN).and_utc() - Duration::minutes(i64::from(offset_minutes))
}

/// The business date of `now` in UTC+`offset_minutes`.
pub fn today(now: DateTime<Utc>, offset_minutes: i32) -> NaiveDate {
    (now + Duration::minutes(i64::from(offset_minutes))).date_naive()
}

/// The earliest time the schedule closes a day: `grace` after the day ended, after its last
/// order changed, and after this transform started (so a restart reads what queued up while
/// it was down before it closes anything).
pub fn closes_at(
    date: NaiveDate,
    offset_minutes: i32,
    grace_minutes: u32,
    last_change: Option<DateTime<Utc>>,
    started_at: DateTime<Utc>,
) -> DateTime<Utc> {
    let grace = Duration::minutes(i64::from(grace_minutes));
    let end = day_end(date, offset_minutes);
    [Some(end), last_change, Some(started_at)]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(end)
        + grace
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_day_ends_at_its_local_midnight() {
        assert_eq!(day_end(d("2024-03-14"), 0), t("2024-03-15T00:00:00Z"));
        // UTC-5: the 14th ends at 05:00Z on the 15th
        assert_eq!(day_end(d("2024-03-14"), -300), t("2024-03-15T05:00:00Z"));
        // UTC+1 (CET): 23:00Z on the 14th
        assert_eq!(day_end(d("2024-03-14"), 60), t("2024-03-14T23:00:00Z"));
        assert_eq!(day_end(d("2024-02-28"), 0), t("2024-02-29T00:00:00Z"));
        assert_eq!(today(t("2024-03-15T04:59:59Z"), -300), d("2024-03-14"));
        assert_eq!(today(t("2024-03-14T23:00:00Z"), 60), d("2024-03-15"));
    }

    #[test]
    fn a_day_closes_after_its_end_its_last_change_and_the_start_plus_grace() {
        let started = t("2024-03-01T00:00:00Z");
        assert_eq!(
            closes_at(d("2024-03-14"), 0, 60, None, started),
            t("2024-03-15T01:00:00Z")
        );
        // an order changed after the day ended pushes it back
        assert_eq!(
            closes_at(
                d("2024-03-14"),
                0,
                60,
                Some(t("2024-03-15T00:30:00Z")),
                started
            ),
            t("2024-03-15T01:30:00Z")
        );
        // a transform started later waits a grace period before closing old days
        assert_eq!(
            closes_at(d("2024-03-14"), 0, 0, None, t("2024-06-01T12:00:00Z")),
            t("2024-06-01T12:00:00Z")
        );
    }
}
