//! Business dates ("YYYY-MM-DD") from protobuf timestamps.
use prost_types::Timestamp;

/// The date of `ts` shifted by `offset_minutes` (UTC when 0); empty when `ts` is unset.
pub fn business_date(ts: Option<&Timestamp>, offset_minutes: i32) -> String {
    let Some(ts) = ts else {
        return String::new();
    };
    let secs = ts.seconds.saturating_add(i64::from(offset_minutes) * 60);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: i64) -> Timestamp {
        Timestamp { seconds, nanos: 0 }
    }

    #[test]
    fn dates() {
        assert_eq!(business_date(Some(&ts(0)), 0), "1970-01-01");
        // 2024-03-14T09:21:07Z
        assert_eq!(business_date(Some(&ts(1_710_408_067)), 0), "2024-03-14");
        // 2024-02-29T23:30:00Z, +60 minutes → 1 March
        assert_eq!(business_date(Some(&ts(1_709_249_400)), 60), "2024-03-01");
        // −5 h moves it back a day
        assert_eq!(
            business_date(Some(&ts(1_709_251_200 + 3_600)), -300),
            "2024-02-29"
        );
        assert_eq!(business_date(None, 0), "");
    }
}
