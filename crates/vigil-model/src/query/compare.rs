//! Value comparisons shared by `$filter` and `$orderby`, on the JSON that vigil-model emits.
//!
//! Timestamps are compared as instants. Parsing one with chrono for every comparison would
//! dominate a sort of 100k alerts, so the wire form vigil-model emits
//! (`YYYY-MM-DDTHH:MM:SS[.fffffff]Z`) is decoded by hand without allocating; anything else
//! falls back to [`Timestamp::parse`]. Both paths truncate to 100 ns, Graph's precision, so
//! `gt t` is exactly `ge t + 100ns` (the push-down analysis relies on that).

use super::schema::PropType;
use crate::time::Timestamp;
use serde_json::Value;
use std::cmp::Ordering;

/// An instant: seconds since the Unix epoch and nanoseconds (a multiple of 100).
pub(crate) type TimeKey = (i64, u32);

pub(crate) fn timestamp_key(t: &Timestamp) -> TimeKey {
    (t.0.timestamp(), t.0.timestamp_subsec_nanos())
}

/// The instant a stored timestamp string denotes, or `None` if it is not a timestamp.
pub(crate) fn time_key(s: &str) -> Option<TimeKey> {
    fast_time_key(s).or_else(|| Timestamp::parse(s).ok().map(|t| timestamp_key(&t)))
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut n: i64 = 0;
    for &d in b {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some(n)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn fast_time_key(s: &str) -> Option<TimeKey> {
    let b = s.as_bytes();
    if b.len() < 20
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10) != Some(&b'T')
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let y = digits(b.get(0..4)?)?;
    let mo = digits(b.get(5..7)?)?;
    let d = digits(b.get(8..10)?)?;
    let h = digits(b.get(11..13)?)?;
    let mi = digits(b.get(14..16)?)?;
    let sec = digits(b.get(17..19)?)?;
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59
    {
        return None;
    }
    let mut rest = b.get(19..)?;
    let mut nanos: u32 = 0;
    if let Some((b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        let mut scale = 100_000_000u32;
        for &c in frac.get(..n)? {
            nanos += u32::from(c - b'0') * scale;
            scale /= 10;
        }
        rest = frac.get(n..)?;
    }
    if rest != b"Z" {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec;
    Some((secs, nanos - nanos % 100))
}

/// ASCII case-insensitive ordering.
pub(crate) fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// A decoded `$orderby` key of one resource. Within one key column every value has the same
/// variant or is `Null` (null, missing, or of the wrong JSON type), so the derived-like order
/// below is the property type's order with nulls first.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SortKey<'v> {
    Null,
    Str(&'v str),
    Num(f64),
    Bool(bool),
    Time(TimeKey),
    /// Member index in CSDL order (`u16::MAX` for unknown strings) and the text as a tiebreak.
    Enum(u16, &'v str),
}

impl<'v> SortKey<'v> {
    /// Decodes a stored value of a property of type `ty`.
    pub(crate) fn of(v: Option<&'v Value>, ty: PropType) -> Self {
        let Some(v) = v else { return Self::Null };
        let key = match ty {
            PropType::String | PropType::Complex(_) => v.as_str().map(Self::Str),
            PropType::Boolean => v.as_bool().map(Self::Bool),
            PropType::Int32 | PropType::Double => v.as_f64().map(Self::Num),
            PropType::DateTimeOffset => v.as_str().and_then(time_key).map(Self::Time),
            PropType::Enum(e) => v
                .as_str()
                .map(|s| Self::Enum(e.lookup(s).map_or(u16::MAX, |m| m.0), s)),
        };
        key.unwrap_or(Self::Null)
    }

    pub(crate) fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Null, Self::Null) => Ordering::Equal,
            (Self::Null, _) => Ordering::Less,
            (_, Self::Null) => Ordering::Greater,
            (Self::Str(a), Self::Str(b)) => a.cmp(b),
            (Self::Num(a), Self::Num(b)) => a.total_cmp(b),
            (Self::Bool(a), Self::Bool(b)) => a.cmp(b),
            (Self::Time(a), Self::Time(b)) => a.cmp(b),
            (Self::Enum(ai, a), Self::Enum(bi, b)) => {
                ai.cmp(bi).then_with(|| cmp_ignore_case(a, b))
            }
            // Different variants cannot occur within one column; keep the order total anyway.
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Null => 0,
            Self::Str(_) => 1,
            Self::Num(_) => 2,
            Self::Bool(_) => 3,
            Self::Time(_) => 4,
            Self::Enum(..) => 5,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fast_path_agrees_with_chrono_on_examples() {
        for s in [
            "2020-04-20T16:54:50.2722072Z",
            "2020-04-20T16:54:51.57Z",
            "2019-04-01T00:00:00Z",
            "2000-02-29T23:59:59.999999999Z",
            "1969-12-31T23:59:59.5Z",
            "0001-01-01T00:00:00Z",
        ] {
            let fast = fast_time_key(s).unwrap();
            let slow = timestamp_key(&Timestamp::parse(s).unwrap());
            assert_eq!(fast, slow, "{s}");
        }
        // Not the wire form: the fast path declines and the fallback decides.
        assert_eq!(fast_time_key("2019-02-29T00:00:00Z"), None);
        assert_eq!(time_key("2019-02-29T00:00:00Z"), None);
        assert_eq!(fast_time_key("2019-04-01T02:00:00+02:00"), None);
        assert_eq!(
            time_key("2019-04-01T02:00:00+02:00"),
            time_key("2019-04-01T00:00:00Z")
        );
        assert_eq!(time_key("yesterday"), None);
    }

    proptest! {
        #[test]
        fn fast_path_agrees_with_chrono(secs in -62_000_000_000i64..250_000_000_000i64, nanos in 0u32..1_000_000_000) {
            let dt = chrono::DateTime::<chrono::Utc>::from_timestamp(secs, nanos).unwrap();
            let s = dt.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            let expected = (secs, nanos - nanos % 100);
            prop_assert_eq!(fast_time_key(&s), Some(expected));
            let wire = Timestamp::from_utc(dt).to_wire();
            prop_assert_eq!(time_key(&wire), Some(expected));
        }
    }
}
