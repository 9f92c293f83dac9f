//! Fuzzes the OData query parsers with arbitrary text: `$filter`, `$orderby`, `$select`,
//! `$top`/`$skip`/`$count`, on every schema. Besides "never panics, never overflows the stack"
//! (libFuzzer reports both), it checks what the proptest in `src/query/tests.rs` checks:
//! a parsed filter's canonical text parses again to the same text and means the same on a full
//! alert, and the push-down derived from it never excludes an alert the filter matches.
//! Inputs are bounded by `-max_len`; slow inputs are caught by `-timeout` (see README.md).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;
use vigil_model::GraphEnum;
use vigil_model::query::{
    ALERT, RISK_DETECTION, RISKY_USER, RISKY_USER_HISTORY_ITEM, alert_push_down, parse_count,
    parse_filter, parse_orderby, parse_select, parse_skip, parse_top,
};

fn full_alert() -> &'static Value {
    static ALERT_JSON: OnceLock<Value> = OnceLock::new();
    ALERT_JSON.get_or_init(|| {
        serde_json::from_str(include_str!("../../tests/fixtures/full_alert.json"))
            .expect("fixture is JSON")
    })
}

/// Whether `item` passes the push-down derived from `filter` (the same test as the
/// proptest's: enums case-insensitively, the created-time range half-open).
fn push_down_admits(filter: &vigil_model::query::Filter, item: &Value) -> bool {
    let p = alert_push_down(filter);
    let is = |key: &str, wire: &str| {
        item[key]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case(wire))
    };
    let status_ok = p.statuses.is_empty() || p.statuses.iter().any(|s| is("status", s.as_str()));
    let severity_ok =
        p.severities.is_empty() || p.severities.iter().any(|s| is("severity", s.as_str()));
    let created = item["createdDateTime"]
        .as_str()
        .and_then(|s| vigil_model::Timestamp::parse(s).ok());
    let from_ok = p
        .created_from
        .is_none_or(|f| created.is_some_and(|c| c >= f));
    let before_ok = p
        .created_before
        .is_none_or(|b| created.is_some_and(|c| c < b));
    status_ok && severity_ok && from_ok && before_ok
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let alert = full_alert();
    if let Ok(f) = parse_filter(text, &ALERT) {
        let matched = f.matches(alert);
        let canonical = f.to_odata();
        let again = parse_filter(&canonical, &ALERT)
            .unwrap_or_else(|e| panic!("canonical {canonical:?} of {text:?} does not parse: {e}"));
        assert_eq!(
            again.to_odata(),
            canonical,
            "canonical text is not a fixed point"
        );
        assert_eq!(
            again.matches(alert),
            matched,
            "canonical text means something else"
        );
        assert!(
            !matched || push_down_admits(&f, alert),
            "push-down excludes a match"
        );
        let _ = f.matches(&Value::Null);
        let _ = f.matches(&serde_json::json!({"tags": "HVA", "userStates": [1, null, "x"]}));
    }
    if let Ok(o) = parse_orderby(text, &ALERT) {
        let canonical = o.to_odata();
        let again = parse_orderby(&canonical, &ALERT)
            .unwrap_or_else(|e| panic!("canonical {canonical:?} of {text:?} does not parse: {e}"));
        assert_eq!(again.to_odata(), canonical);
        let _ = o.compare(alert, &Value::Null);
    }
    if let Ok(s) = parse_select(text, &ALERT) {
        let mut v = alert.clone();
        s.apply(&mut v);
    }
    for schema in [&RISKY_USER, &RISKY_USER_HISTORY_ITEM, &RISK_DETECTION] {
        let _ = parse_filter(text, schema);
        let _ = parse_orderby(text, schema);
    }
    let _ = parse_top(text);
    let _ = parse_skip(text);
    let _ = parse_count(text);
});
