//! Graph `DateTimeOffset` values.
//!
//! Output is what Graph emits: UTC with a `Z` and only the fraction digits that carry
//! information (at most 7, i.e. 100 ns, Graph's own precision). Input is what real clients send:
//! `Z`, any `±hh:mm` offset (the Python SDK sends `+00:00`), no offset at all (naive datetimes
//! are UTC), minutes-only times (`2019-10-13T08:00Z`, a documented filter literal), a bare date,
//! and up to 9 fraction digits (Falcon). Precision beyond 100 ns is truncated on input so that
//! parse → print → parse is exact.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc};
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

    /// The Graph wire form (`2020-04-20T16:54:50.2722072Z`).
    pub fn to_wire(&self) -> String {
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
        s.serialize_str(&self.to_wire())
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
