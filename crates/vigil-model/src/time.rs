//! Graph `DateTimeOffset` values.
//!
//! Output is what Graph emits: UTC with a `Z` and only the fraction digits that carry
//! information (at most 7, i.e. 100 ns, Graph's own precision). Input is what real clients send:
//! `Z`, any `±hh:mm` offset (the Python SDK sends `+00:00`), no offset at all (naive datetimes
//! are UTC), minutes-only times (`2019-10-13T08:00Z`, a documented filter literal), a bare date,
//! and up to 9 fraction digits (Falcon). Precision beyond 100 ns is truncated on input so that
//! parse → print → parse is exact.

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc,
};
use std::fmt;

/// A UTC instant with Graph's precision (100 ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

/// The error for a string that is no ISO-8601 date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an ISO-8601 date-time (expected e.g. 2024-05-01T10:00:00Z)")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// Parses any of the accepted input forms.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let t = s.trim();
        if let Some(fast) = Self::parse_canonical(t.as_bytes()) {
            return Ok(fast);
        }
        let err = || TimestampError(s.to_string());
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(Self::from_utc(dt.with_timezone(&Utc)));
        }
        // Offsets chrono's RFC 3339 parser refuses: minutes-only times, `+0000`, lower-case z.
        for fmt in [
            "%Y-%m-%dT%H:%M%#z",
            "%Y-%m-%dT%H:%M:%S%.f%#z",
            "%Y-%m-%dT%H:%M%:z",
        ] {
            if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
                return Ok(Self::from_utc(dt.with_timezone(&Utc)));
            }
        }
        let naive = t.strip_suffix(['Z', 'z']).unwrap_or(t);
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
        ] {
            if let Ok(n) = NaiveDateTime::parse_from_str(naive, fmt) {
                return Ok(Self::from_utc(Utc.from_utc_datetime(&n)));
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
            let n = d.and_hms_opt(0, 0, 0).ok_or_else(err)?;
            return Ok(Self::from_utc(Utc.from_utc_datetime(&n)));
        }
        Err(err())
    }

    /// Truncates to 100 ns. A leap second (chrono keeps it as a nanosecond count of one second or
    /// more) is clamped to the last 100 ns of its minute: Graph has no leap seconds, and the wire
    /// form must stay `hh:mm:59.9999999Z`, never `:60`.
    pub fn from_utc(dt: DateTime<Utc>) -> Self {
        let nanos = dt.nanosecond().min(999_999_999);
        let truncated = nanos - nanos % 100;
        Self(dt.with_nanosecond(truncated).unwrap_or(dt))
    }

    /// Now, at Graph's precision.
    pub fn now() -> Self {
        Self::from_utc(Utc::now())
    }

    /// From milliseconds since the Unix epoch (OCSF `timestamp_t`).
    pub fn from_epoch_millis(ms: i64) -> Option<Self> {
        DateTime::<Utc>::from_timestamp_millis(ms).map(Self::from_utc)
    }

    /// Milliseconds since the Unix epoch.
    pub fn epoch_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, the form every provider sends, without chrono's
    /// general parser (a list parses thousands of these). `None` for anything else, which the
    /// general path then reads (or refuses) as before.
    fn parse_canonical(b: &[u8]) -> Option<Self> {
        fn num(b: &[u8]) -> Option<u32> {
            b.iter().try_fold(0u32, |n, c| {
                c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
            })
        }
        if b.len() < 20 || b[b.len() - 1] != b'Z' {
            return None;
        }
        let sep = |i: usize, c: u8| b[i] == c;
        if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
            return None;
        }
        let year = i32::try_from(num(&b[0..4])?).ok()?;
        let (month, day) = (num(&b[5..7])?, num(&b[8..10])?);
        let (hour, minute, second) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
        let nanos = match &b[19..b.len() - 1] {
            [] => 0,
            [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
                num(digits)? * 10u32.pow(9 - digits.len() as u32)
            }
            _ => return None,
        };
        // A leap second (`:60`) keeps the general path's handling.
        if second > 59 {
            return None;
        }
        let dt = NaiveDate::from_ymd_opt(year, month, day)?
            .and_hms_nano_opt(hour, minute, second, nanos)?;
        Some(Self::from_utc(Utc.from_utc_datetime(&dt)))
    }

    /// The wire form written into `buf` without allocating; `None` outside years 0–9999 or
    /// for a leap-second value, which [`Self::to_wire`]'s general path prints.
    fn write_wire<'a>(&self, buf: &'a mut [u8; 32]) -> Option<&'a str> {
        fn put(buf: &mut [u8], at: usize, width: usize, mut v: u32) {
            for i in (0..width).rev() {
                buf[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        }
        let year = u32::try_from(self.0.year()).ok().filter(|y| *y <= 9999)?;
        let nanos = self.0.nanosecond();
        if nanos >= 1_000_000_000 {
            return None;
        }
        put(buf, 0, 4, year);
        buf[4] = b'-';
        put(buf, 5, 2, self.0.month());
        buf[7] = b'-';
        put(buf, 8, 2, self.0.day());
        buf[10] = b'T';
        put(buf, 11, 2, self.0.hour());
        buf[13] = b':';
        put(buf, 14, 2, self.0.minute());
        buf[16] = b':';
        put(buf, 17, 2, self.0.second());
        let mut len = 19;
        let hundreds = nanos / 100;
        if hundreds > 0 {
            buf[19] = b'.';
            put(buf, 20, 7, hundreds);
            len = 27;
            while buf[len - 1] == b'0' {
                len -= 1;
            }
        }
        buf[len] = b'Z';
        std::str::from_utf8(&buf[..=len]).ok()
    }

    /// The Graph wire form (`2020-04-20T16:54:50.2722072Z`).
    pub fn to_wire(&self) -> String {
        let mut buf = [0u8; 32];
        match self.write_wire(&mut buf) {
            Some(s) => s.to_string(),
            None => self.general_wire(),
        }
    }

    fn general_wire(self) -> String {
        let base = self.0.to_rfc3339_opts(SecondsFormat::Secs, true);
        let hundreds = self.0.nanosecond() / 100;
        if hundreds == 0 {
            return base;
        }
        let digits = format!("{hundreds:07}");
        let digits = digits.trim_end_matches('0');
        // base ends with 'Z'; put the fraction before it.
        format!("{}.{digits}Z", &base[..base.len() - 1])
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(dt: DateTime<Utc>) -> Self {
        Self::from_utc(dt)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 32];
        match self.write_wire(&mut buf) {
            Some(wire) => s.serialize_str(wire),
            None => s.serialize_str(&self.general_wire()),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO-8601 date-time string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// OpenAPI: a `date-time` string (Edm.DateTimeOffset), one shared component.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some(
                "Edm.DateTimeOffset. Emitted in UTC with `Z` and up to 7 fraction digits \
                 (`2020-04-20T16:54:50.2722072Z`); accepted with any offset, without one (UTC), \
                 or as a bare date.",
            ))
            .examples(["2020-04-20T16:54:50.2722072Z"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {
    fn name() -> std::borrow::Cow<'static, str> {
        "Edm.DateTimeOffset".into()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The allocation-free paths print and read exactly what chrono's general ones do.
        #[test]
        fn fast_paths_agree_with_the_general_ones(
            secs in -62_167_219_200i64..253_402_300_800i64,
            nanos in 0u32..1_000_000_000,
            digits in 0usize..=9,
        ) {
            let t = Timestamp::from_utc(DateTime::from_timestamp(secs, nanos).unwrap());
            prop_assert_eq!(t.to_wire(), t.general_wire());
            let base = t.0.format("%Y-%m-%dT%H:%M:%S").to_string();
            let frac = format!("{:09}", t.0.nanosecond());
            let input = if digits == 0 {
                format!("{base}Z")
            } else {
                format!("{base}.{}Z", &frac[..digits])
            };
            let fast = Timestamp::parse_canonical(input.as_bytes());
            let general = DateTime::parse_from_rfc3339(&input)
                .map(|d| Timestamp::from_utc(d.with_timezone(&Utc)))
                .ok();
            prop_assert!(fast.is_some());
            prop_assert_eq!(fast, general);
        }
    }

    #[test]
    fn the_fast_reader_leaves_other_forms_to_the_general_one() {
        for s in [
            "2024-02-30T00:00:00Z",
            "2024-05-01T10:00:60Z",
            "2024-05-01T10:00:00.1234567890Z",
            "2024-05-01t10:00:00Z",
            "2024-05-01T10:00:00z",
            "2024-05-01T10:00:00+00:00",
            "2024-05-01T10:00Z",
            "+2024-05-01T10:00:00Z",
            "2024-05-01T1a:00:00Z",
            "2024-05-01T10:00:00.Z",
        ] {
            assert_eq!(Timestamp::parse_canonical(s.as_bytes()), None, "{s}");
        }
        assert_eq!(
            Timestamp::parse("2024-05-01T10:00:00.1234567890Z").map(|t| t.to_wire()),
            Ok("2024-05-01T10:00:00.1234567Z".to_string())
        );
    }
}
