//! Date and time parsing the way dlt detects and coerces values, and load ids.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// Microseconds since the Unix epoch of an ISO-8601-like datetime string, strict like dlt's
/// `iso_timestamp` detection: a full date and a time are required (`2024-01-01T10:00:00Z`,
/// `2024-01-01 10:00:00.123+02:00`, `20240101T100000Z`). A string without an offset is UTC.
/// A plain date is not a timestamp (see [`parse_iso_date`]).
pub fn parse_iso_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 13 || !b[0].is_ascii_digit() {
        return None;
    }
    let (date, rest) = parse_date_prefix(b)?;
    let sep = *rest.first()?;
    if sep != b'T' && sep != b't' && sep != b' ' {
        return None;
    }
    let (time_us, rest) = parse_time_prefix(&rest[1..])?;
    let offset_s = parse_offset(rest)?;
    let days = date.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days();
    Some(days * 86_400_000_000 + time_us - offset_s * 1_000_000)
}

/// Days since the Unix epoch of an ISO date (`2024-01-31` or `20240131`).
pub fn parse_iso_date(s: &str) -> Option<i32> {
    let (d, rest) = parse_date_prefix(s.as_bytes())?;
    if !rest.is_empty() {
        return None;
    }
    Some(d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
}

/// Microseconds since midnight of an ISO time (`10:30`, `10:30:00`, `10:30:00.123456`).
pub fn parse_iso_time(s: &str) -> Option<i64> {
    let (t, rest) = parse_time_prefix(s.as_bytes())?;
    if !rest.is_empty() {
        return None;
    }
    Some(t)
}

fn digits(b: &[u8], n: usize) -> Option<u32> {
    if b.len() < n {
        return None;
    }
    let mut v = 0u32;
    for &c in &b[..n] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

fn parse_date_prefix(b: &[u8]) -> Option<(NaiveDate, &[u8])> {
    let y = digits(b, 4)? as i32;
    let (m, d, rest) = if b.get(4) == Some(&b'-') {
        (digits(&b[5..], 2)?, digits(b.get(8..)?, 2).filter(|_| b.get(7) == Some(&b'-'))?, &b[10..])
    } else {
        (digits(&b[4..], 2)?, digits(b.get(6..)?, 2)?, &b[8..])
    };
    Some((NaiveDate::from_ymd_opt(y, m, d)?, rest))
}

fn parse_time_prefix(b: &[u8]) -> Option<(i64, &[u8])> {
    let h = digits(b, 2)?;
    let (mi, mut rest) = if b.get(2) == Some(&b':') { (digits(&b[3..], 2)?, &b[5..]) } else { (digits(&b[2..], 2)?, &b[4..]) };
    let mut sec = 0;
    if rest.first() == Some(&b':') {
        sec = digits(&rest[1..], 2)?;
        rest = &rest[3..];
    } else if rest.len() >= 2 && rest[0].is_ascii_digit() {
        sec = digits(rest, 2)?;
        rest = &rest[2..];
    }
    let mut frac_us: i64 = 0;
    if matches!(rest.first(), Some(b'.') | Some(b',')) {
        let mut n = 0;
        let mut scale = 100_000i64;
        for &c in &rest[1..] {
            if !c.is_ascii_digit() {
                break;
            }
            frac_us += (c - b'0') as i64 * scale;
            scale /= 10;
            n += 1;
        }
        if n == 0 {
            return None;
        }
        rest = &rest[1 + n..];
    }
    if h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi > 0 || sec > 0 || frac_us > 0)) {
        return None;
    }
    Some(((h as i64 * 3600 + mi as i64 * 60 + sec as i64) * 1_000_000 + frac_us, rest))
}

fn parse_offset(b: &[u8]) -> Option<i64> {
    match b.first() {
        None => Some(0),
        Some(b'Z') | Some(b'z') if b.len() == 1 => Some(0),
        Some(&s @ (b'+' | b'-')) => {
            let h = digits(&b[1..], 2)? as i64;
            let rest = &b[3..];
            let m = match rest.len() {
                0 => 0,
                2 => digits(rest, 2)? as i64,
                3 if rest[0] == b':' => digits(&rest[1..], 2)? as i64,
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            Some(if s == b'+' { off } else { -off })
        }
        _ => None,
    }
}

/// ISO-8601 text of a UTC timestamp in microseconds, as Python's `isoformat()` writes it:
/// `2024-01-01T00:00:00+00:00`, with `.ffffff` only when there are microseconds.
pub fn format_timestamp_us(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000) as u32;
    let dt = DateTime::<Utc>::from_timestamp(secs, micros * 1000).unwrap_or_default();
    if micros == 0 { dt.format("%Y-%m-%dT%H:%M:%S+00:00").to_string() } else { dt.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string() }
}

/// A naive datetime from microseconds.
pub fn naive_from_us(us: i64) -> Option<NaiveDateTime> {
    DateTime::<Utc>::from_timestamp_micros(us).map(|d| d.naive_utc())
}

/// Time of day from microseconds since midnight.
pub fn time_from_us(us: i64) -> Option<NaiveTime> {
    NaiveTime::from_num_seconds_from_midnight_opt((us / 1_000_000) as u32, ((us % 1_000_000) * 1000) as u32)
}

/// A new load id: Unix time in seconds as a float string (dlt's format, e.g. `1714485123.4567891`),
/// strictly greater than `previous` when given, so ids sort lexicographically in creation order.
pub fn new_load_id(now: DateTime<Utc>, previous: Option<&str>) -> String {
    let mut us = now.timestamp_micros();
    if let Some(p) = previous.and_then(|p| p.parse::<f64>().ok()) {
        let p_us = (p * 1_000_000.0).round() as i64;
        if us <= p_us {
            us = p_us + 1;
        }
    }
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let mut s = format!("{secs}.{frac:06}");
    while s.ends_with('0') && !s.ends_with(".0") {
        s.pop();
    }
    s
}

/// The creation time encoded in a load id.
pub fn load_id_time(load_id: &str) -> Option<DateTime<Utc>> {
    let f: f64 = load_id.parse().ok()?;
    DateTime::<Utc>::from_timestamp_micros((f * 1_000_000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_datetimes() {
        assert_eq!(parse_iso_datetime("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_iso_datetime("1970-01-01 00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_iso_datetime("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_iso_datetime("1970-01-01T00:00:00-0130"), Some(5_400_000_000));
        assert_eq!(parse_iso_datetime("19700101T000001Z"), Some(1_000_000));
        assert_eq!(parse_iso_datetime("2024-01-01T00:00:03Z"), Some(1_704_067_203_000_000));
        for bad in ["2024-01-01", "hello world", "2024-13-01T00:00:00", "2024-01-01T25:00", "2024-01-01T10:00:00Zx", ""] {
            assert_eq!(parse_iso_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_iso_date("1970-01-02"), Some(1));
        assert_eq!(parse_iso_date("1970-01-02T00:00"), None);
        assert_eq!(parse_iso_time("00:00:01.25"), Some(1_250_000));
        assert_eq!(parse_iso_time("10:30"), Some(37_800_000_000));
    }

    #[test]
    fn formats_like_python() {
        assert_eq!(format_timestamp_us(1_704_067_203_000_000), "2024-01-01T00:00:03+00:00");
        assert_eq!(format_timestamp_us(1_500_000), "1970-01-01T00:00:01.500000+00:00");
    }

    #[test]
    fn load_ids_increase() {
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let a = new_load_id(now, None);
        assert_eq!(a, "1700000000.0");
        let b = new_load_id(now, Some(&a));
        assert!(b > a, "{b} > {a}");
        assert_eq!(load_id_time(&b).unwrap().timestamp(), 1_700_000_000);
    }
}
