//! The timestamps the HTTP providers send.

/// Parses an RFC 3339 UTC-or-offset timestamp (`2024-10-01T12:00:00.5Z`,
/// `...+02:00`) as the providers send them.
#[cfg_attr(not(any(feature = "e2b", feature = "daytona")), allow(dead_code))]
pub(crate) fn parse_rfc3339(text: &str) -> Option<std::time::SystemTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
        rest = &frac[digits.len()..];
        let padded = format!("{digits:0<9}");
        nanos = padded.get(..9)?.parse().ok()?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h = rest.get(1..3)?.parse::<i64>().ok()?;
            let m = rest.get(4..6)?.parse::<i64>().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rfc3339_timestamps_parse_with_fraction_and_offset() {
        let t = super::parse_rfc3339("2024-10-01T12:00:00.5Z").expect("parse");
        assert_eq!(t, UNIX_EPOCH + Duration::from_millis(1_727_784_000_500));
        let t = super::parse_rfc3339("2024-10-01T14:00:00+02:00").expect("parse");
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1_727_784_000));
        assert!(super::parse_rfc3339("yesterday").is_none());
    }
}
