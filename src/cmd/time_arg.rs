//! Parsers of the time flags of the CLI: a duration (`30s`, `1500ms`,
//! `1h30m`) and a point in time (RFC 3339, `2026-12-02T03:04:05Z` or with
//! an offset and fractional seconds, or milliseconds since the epoch).
//! Every refusal says what was expected.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest duration accepted (a timer message is due within this).
pub const DURATION_MAX: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Units of a duration, longest name first where names share a prefix.
const UNITS: [(&str, u64); 6] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
];

/// Parses a duration: one or more `<number><unit>` parts with units
/// `ms s m h d w`, e.g. `30s`, `1h30m`, `250ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = "expected a duration like 30s, 500ms, 5m, 1h30m (units ms s m h d w)";
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("empty duration; {expected}"));
    }
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, tail) = rest.split_at(digits);
        let value: u64 = number
            .parse()
            .map_err(|_| format!("{text:?}: a number is missing; {expected}"))?;
        let (after, factor) = UNITS
            .iter()
            .find_map(|(name, factor)| {
                let after = tail.strip_prefix(name)?;
                (!after.starts_with(|c: char| c.is_ascii_alphabetic())).then_some((after, factor))
            })
            .ok_or_else(|| format!("{text:?}: unknown or missing unit; {expected}"))?;
        total_ms = value
            .checked_mul(*factor)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| format!("{text:?} is too long"))?;
        rest = after;
    }
    let duration = Duration::from_millis(total_ms);
    if duration > DURATION_MAX {
        return Err(format!(
            "{text:?} is longer than {} days",
            DURATION_MAX.as_secs() / 86_400
        ));
    }
    Ok(duration)
}

/// Parses a point in time: RFC 3339 (`2026-12-02T03:04:05Z`,
/// `2026-12-02T05:04:05.250+02:00`) or milliseconds since the epoch.
pub fn parse_time(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: u64 = text
            .parse()
            .map_err(|_| format!("{text:?} is too large for epoch milliseconds"))?;
        return Ok(UNIX_EPOCH + Duration::from_millis(ms));
    }
    let ms = rfc3339_ms(text).ok_or_else(|| {
        format!(
            "{text:?} is not a time; expected RFC 3339 like 2026-12-02T03:04:05Z \
             (or +02:00 instead of Z) or milliseconds since the epoch"
        )
    })?;
    let ms = u64::try_from(ms).map_err(|_| format!("{text:?} is before 1970"))?;
    Ok(UNIX_EPOCH + Duration::from_millis(ms))
}

/// `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` as ms since the epoch.
fn rfc3339_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let field = |from: usize, len: usize| -> Option<i64> {
        let part = text.get(from..from + len)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let sep = |at: usize, want: &[u8]| bytes.get(at).is_some_and(|b| want.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (field(0, 4)?, field(5, 2)?, field(8, 2)?);
    let (hour, minute, second) = (field(11, 2)?, field(14, 2)?, field(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if sep(at, b".") {
        let digits = bytes
            .get(at + 1..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        let frac = text.get(at + 1..at + 1 + digits.min(3))?;
        millis = frac.parse::<i64>().ok()? * 10_i64.pow(3 - u32::try_from(frac.len()).ok()?);
        at += 1 + digits;
    }
    let offset_min = match text.get(at..)? {
        "Z" | "z" => 0,
        zone if zone.len() == 6 && sep(at + 3, b":") => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = (field(at + 1, 2)?, field(at + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_min * 60;
    Some(seconds * 1_000 + millis)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ms(t: SystemTime) -> u128 {
        t.duration_since(UNIX_EPOCH).unwrap().as_millis()
    }

    #[test]
    fn durations_of_one_or_more_parts_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("1m500ms"), Ok(Duration::from_millis(60_500)));
        assert_eq!(parse_duration(" 0s "), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_are_refused_with_the_expected_form() {
        for bad in [
            "",
            "30",
            "s",
            "30x",
            "30sec",
            "-5s",
            "1.5s",
            "5 s",
            "99999999999999999999s",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad:?}");
        }
        assert!(
            parse_duration("30")
                .unwrap_err()
                .contains("expected a duration")
        );
        assert!(parse_duration("3651d").unwrap_err().contains("longer than"));
    }

    #[test]
    fn rfc3339_times_and_epoch_ms_parse() {
        assert_eq!(ms(parse_time("1970-01-01T00:00:00Z").unwrap()), 0);
        assert_eq!(
            ms(parse_time("2026-12-02T03:04:05Z").unwrap()),
            1_796_180_645_000
        );
        assert_eq!(
            ms(parse_time("2026-12-02T05:04:05.25+02:00").unwrap()),
            1_796_180_645_250
        );
        assert_eq!(
            ms(parse_time("2026-12-01T22:04:05.123456-05:00").unwrap()),
            1_796_180_645_123
        );
        assert_eq!(
            ms(parse_time("2024-02-29T00:00:00Z").unwrap()),
            1_709_164_800_000
        );
        assert_eq!(ms(parse_time("1796180645000").unwrap()), 1_796_180_645_000);
    }

    #[test]
    fn bad_times_are_refused_with_the_expected_form() {
        for bad in [
            "",
            "tomorrow",
            "2026-12-02",
            "2026-12-02T03:04:05",
            "2026-13-02T03:04:05Z",
            "2025-02-29T03:04:05Z",
            "2026-12-02T24:00:00Z",
            "2026-12-02T03:04:05.Z",
            "2026-12-02T03:04:05+2:00",
            "1969-12-31T23:59:59Z",
            "-5",
            "99999999999999999999999",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_time("tomorrow").unwrap_err().contains("RFC 3339"));
    }
}
