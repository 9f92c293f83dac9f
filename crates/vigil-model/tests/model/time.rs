//! `Timestamp`: every input form real clients send, and Graph's output form.

use chrono::{TimeZone, Utc};
use vigil_model::Timestamp;

fn wire(input: &str) -> String {
    Timestamp::parse(input)
        .unwrap_or_else(|e| panic!("{input}: {e}"))
        .to_wire()
}

#[test]
fn accepted_input_forms_normalise_to_utc_z() {
    let cases = [
        // Graph's own output
        (
            "2020-04-20T16:54:50.2722072Z",
            "2020-04-20T16:54:50.2722072Z",
        ),
        ("2020-04-20T16:54:51.57Z", "2020-04-20T16:54:51.57Z"),
        ("2020-04-20T16:54:51Z", "2020-04-20T16:54:51Z"),
        // Python SDK isoformat(): +00:00 and 6 digits
        (
            "2024-01-02T03:04:05.123456+00:00",
            "2024-01-02T03:04:05.123456Z",
        ),
        // any other offset is converted to UTC
        ("2024-01-02T03:04:05+02:00", "2024-01-02T01:04:05Z"),
        ("2024-01-02T01:30:00-05:30", "2024-01-02T07:00:00Z"),
        ("2024-01-01T01:00:00+02:00", "2023-12-31T23:00:00Z"),
        // naive datetimes are UTC (Python SDK, error bodies' innerError.date)
        ("2019-11-26T11:30:51", "2019-11-26T11:30:51Z"),
        ("2024-01-02T03:04:05.123456", "2024-01-02T03:04:05.123456Z"),
        ("2024-01-02 03:04:05", "2024-01-02T03:04:05Z"),
        // minutes-only, as in the documented filter literal
        ("2019-10-13T08:00Z", "2019-10-13T08:00:00Z"),
        ("2019-10-13T08:00", "2019-10-13T08:00:00Z"),
        ("2019-10-13T08:00+01:00", "2019-10-13T07:00:00Z"),
        // compact offset and lower-case z
        ("2024-01-02T03:04:05+0000", "2024-01-02T03:04:05Z"),
        ("2024-01-02T03:04:05z", "2024-01-02T03:04:05Z"),
        // 9 fraction digits (Falcon) are truncated, not rounded, to 7
        (
            "2024-01-02T03:04:05.123456789Z",
            "2024-01-02T03:04:05.1234567Z",
        ),
        (
            "2024-01-02T03:04:05.999999999Z",
            "2024-01-02T03:04:05.9999999Z",
        ),
        // trailing zeros are trimmed, an all-zero fraction disappears
        ("2024-01-02T03:04:05.1000000Z", "2024-01-02T03:04:05.1Z"),
        ("2024-01-02T03:04:05.000Z", "2024-01-02T03:04:05Z"),
        ("2019-04-01T00:00:00.000Z", "2019-04-01T00:00:00Z"),
        // a bare date is midnight UTC
        ("2024-05-01", "2024-05-01T00:00:00Z"),
        // surrounding whitespace
        ("  2024-05-01T10:00:00Z ", "2024-05-01T10:00:00Z"),
    ];
    for (input, expected) in cases {
        assert_eq!(wire(input), expected, "{input}");
        // the output is itself accepted and stable
        assert_eq!(wire(expected), expected, "{expected} is stable");
    }
}

#[test]
fn offsets_denote_the_same_instant() {
    let z = Timestamp::parse("2024-05-01T10:00:00Z").unwrap();
    for same in [
        "2024-05-01T10:00:00+00:00",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T10:00:00",
        "2024-05-01T10:00Z",
    ] {
        assert_eq!(Timestamp::parse(same).unwrap(), z, "{same}");
    }
    assert_eq!(z.0, Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap());
}

#[test]
fn rejects_what_is_not_a_date_time() {
    for bad in [
        "",
        "String (timestamp)",
        "datetime-value",
        "2024-13-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-05-01T25:00:00Z",
        "1714557600",
        "yesterday",
    ] {
        let err = Timestamp::parse(bad).unwrap_err();
        assert!(err.to_string().contains("ISO-8601"), "{bad}: {err}");
        assert!(
            serde_json::from_value::<Timestamp>(bad.into()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn precision_is_100ns_and_sub_100ns_is_truncated() {
    let dt = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()
        + chrono::Duration::nanoseconds(123_456_789);
    let ts = Timestamp::from_utc(dt);
    assert_eq!(ts.to_wire(), "2024-01-02T03:04:05.1234567Z");
    assert_eq!(Timestamp::parse(&ts.to_wire()).unwrap(), ts);
    assert_eq!(Timestamp::from(dt), ts);
}

#[test]
fn leap_second_never_prints_60() {
    let ts = Timestamp::parse("2016-12-31T23:59:60.5Z").unwrap();
    let out = ts.to_wire();
    assert_eq!(out, "2016-12-31T23:59:59.9999999Z");
    assert_eq!(Timestamp::parse(&out).unwrap(), ts);
}

#[test]
fn epoch_millis_round_trip() {
    let ts = Timestamp::from_epoch_millis(1_714_557_600_123).unwrap();
    assert_eq!(ts.to_wire(), "2024-05-01T10:00:00.123Z");
    assert_eq!(ts.epoch_millis(), 1_714_557_600_123);
}

#[test]
fn serde_uses_the_wire_form_and_orders_by_instant() {
    let a: Timestamp = serde_json::from_str("\"2024-05-01T12:00:00+02:00\"").unwrap();
    let b: Timestamp = serde_json::from_str("\"2024-05-01T10:00:00.0000001Z\"").unwrap();
    assert!(a < b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        "\"2024-05-01T10:00:00Z\""
    );
    assert_eq!(a.to_string(), "2024-05-01T10:00:00Z");
    assert_eq!("2024-05-01T10:00:00Z".parse::<Timestamp>().unwrap(), a);
    assert!(serde_json::from_str::<Timestamp>("1714557600").is_err());
}
