//! Round trips of published Graph JSON (see `tests/fixtures/README.md` for sources).
//!
//! The captured responses predate the csdl-only properties (`alertDetections`, `incidentIds`,
//! ...), so our output is the input plus those keys with `null` / `[]`: everything the input had
//! must come back unchanged, in particular the undeclared `riskScore` and `@odata.context`.

use crate::common::{assert_preserved, fixture, items, round_trip};
use serde_json::{Value, json};
use vigil_model::*;

fn assert_full_key_set(out: &Value) {
    let obj = out.as_object().unwrap();
    for name in Alert::PROPERTY_NAMES {
        assert!(obj.contains_key(name), "{name} missing from output");
    }
}

#[test]
fn captured_alert_get_round_trips() {
    let input = fixture("v1.0_alert_get_response.captured.json");
    let (alert, out) = round_trip::<Alert>(&input);
    assert_preserved(&input, &out, "");
    assert_full_key_set(&out);

    assert_eq!(alert.id, "da637225970530734950_-1768941086");
    assert_eq!(alert.severity, AlertSeverity::Medium);
    assert_eq!(alert.status, AlertStatus::NewAlert);
    assert_eq!(
        alert.created_date_time.unwrap().to_wire(),
        "2020-04-16T01:24:13.0578348Z"
    );
    assert_eq!(
        alert.last_modified_date_time.unwrap().to_wire(),
        "2020-04-19T10:18:39.35Z"
    );
    let host = &alert.host_states[0];
    assert_eq!(host.is_azure_ad_joined, Some(true));
    assert_eq!(host.is_azure_ad_registered, None);
    assert_eq!(host.risk_score.as_deref(), Some("High"));
    let hash = alert.file_states[0].file_hash.as_ref().unwrap();
    assert_eq!(hash.hash_type, Some(FileHashType::Sha1));
    assert_eq!(
        alert.vendor_information.sub_provider.as_deref(),
        Some("MicrosoftDefenderATP")
    );
    // the open-type extras survive, with their position relative to each other
    let extra: Vec<&String> = alert.additional_data.keys().collect();
    assert_eq!(extra, ["@odata.context", "riskScore"]);
    assert_eq!(alert.additional_data["riskScore"], Value::Null);
    // csdl-only collections the capture lacks are emitted as []
    assert_eq!(out["incidentIds"], json!([]));
    assert_eq!(out["alertDetections"], json!([]));
    assert_eq!(out["lastEventDateTime"], Value::Null);
}

#[test]
fn captured_alert_list_round_trips() {
    let page = fixture("v1.0_alert_list_response.captured.json");
    let values = items(&page);
    assert_eq!(values.len(), 3);
    let mut alerts = Vec::new();
    for input in &values {
        let (alert, out) = round_trip::<Alert>(input);
        assert_preserved(input, &out, "");
        assert_full_key_set(&out);
        alerts.push(alert);
    }
    assert_eq!(alerts[2].status, AlertStatus::Resolved);
    assert_eq!(alerts[2].comments, ["testing", "testing"]);
    assert_eq!(alerts[2].assigned_to.as_deref(), Some("Automation"));
    assert_eq!(
        alerts[0].event_date_time.unwrap().to_wire(),
        "2020-04-20T16:34:28.061101Z"
    );
    // the whole page also parses as a typed collection
    let typed: Vec<Alert> = serde_json::from_value(page["value"].clone()).unwrap();
    assert_eq!(typed, alerts);
}

#[test]
fn captured_select_response_parses_with_defaults() {
    // `$select=fileStates` responses carry only the selected properties (plus what the service
    // adds); every absent property takes its empty value.
    let page = fixture("beta_alert_list_select_nextlink.captured.json");
    let input = &items(&page)[0];
    let (alert, out) = round_trip::<Alert>(input);
    assert_preserved(input, &out, "");
    assert_eq!(alert.file_states.len(), 2);
    assert_eq!(alert.processes[0].process_id, Some(1234));
    assert_eq!(alert.id, "");
    assert_eq!(alert.severity, AlertSeverity::Unknown);
    assert_eq!(alert.status, AlertStatus::Unknown);
    assert!(alert.additional_data.is_empty());
    assert_eq!(
        alert.file_states[0].path.as_deref(),
        Some(r"c:\windows\system32\services.exe")
    );
}

#[test]
fn risk_detection_docs_round_trip() {
    for name in [
        "v1.0_riskDetections_list_response.doc.json",
        "beta_riskDetections_list_response.doc.json",
    ] {
        let page = fixture(name);
        let input = &items(&page)[0];
        let (detection, out) = round_trip::<RiskDetection>(input);

        assert_eq!(detection.activity, Some(ActivityType::Signin));
        assert_eq!(detection.risk_state, Some(RiskState::Remediated));
        assert_eq!(
            detection.risk_detail,
            Some(RiskDetail::UserPerformedSecuredPasswordReset)
        );
        assert_eq!(
            detection.detection_timing_type,
            Some(RiskDetectionTimingType::Realtime)
        );
        assert_eq!(
            detection.risk_event_type.as_deref(),
            Some("unfamiliarFeatures")
        );
        let location = detection.location.as_ref().unwrap();
        assert_eq!(location.country_or_region.as_deref(), Some("US"));
        assert_eq!(location.geo_coordinates, None);
        assert!(
            detection
                .additional_info
                .as_deref()
                .unwrap()
                .contains("userAgent")
        );

        // "Azure Active Directory" is not a tokenIssuerType member: it reads as the sentinel and
        // is never emitted. Everything else comes back unchanged.
        assert_eq!(
            detection.token_issuer_type,
            Some(TokenIssuerType::UnknownFutureValue)
        );
        assert_eq!(out["tokenIssuerType"], "UnknownFutureValue");
        let mut expected = input.clone();
        expected["tokenIssuerType"] = "UnknownFutureValue".into();
        assert_preserved(&expected, &out, name);
    }
}

#[test]
fn risky_user_docs_round_trip() {
    let single = fixture("beta_riskyUser_get_response.doc.json");
    let page = fixture("beta_riskyUsers_list_response.doc.json");
    for input in [single.clone(), items(&page)[0].clone()] {
        let (user, out) = round_trip::<RiskyUser>(&input);
        assert_preserved(&input, &out, "");
        assert_eq!(user.id, "c2b6c2b9-dddc-acd0-2b39-d519d803dbc3");
        assert_eq!(user.is_processing, Some(true));
        assert_eq!(user.risk_level, Some(RiskLevel::High));
        assert_eq!(user.risk_state, Some(RiskState::AtRisk));
        assert_eq!(
            user.risk_detail,
            Some(RiskDetail::AdminConfirmedSigninCompromised)
        );
        assert_eq!(
            user.risk_last_updated_date_time.unwrap().to_wire(),
            "2016-01-29T20:03:57.7872426Z"
        );
    }
}

#[test]
fn risky_user_history_beta_doc_round_trips() {
    let page = fixture("beta_riskyUser_history_response.doc.json");
    let values = items(&page);
    assert_eq!(values.len(), 3);
    for input in &values {
        let (item, out) = round_trip::<RiskyUserHistoryItem>(input);
        // beta's undeclared `isGuest` is kept
        assert_eq!(item.additional_data["isGuest"], false);
        // beta's deprecated `activity.eventTypes` is read as `riskEventTypes`, the v1.0 name
        let event_types = input["activity"]["eventTypes"].clone();
        let activity = item.activity.as_ref().unwrap();
        assert_eq!(json!(activity.risk_event_types), event_types);
        assert_eq!(out["activity"]["riskEventTypes"], event_types);
        let mut expected = input.clone();
        let act = expected["activity"].as_object_mut().unwrap();
        act.remove("eventTypes");
        act.insert("riskEventTypes".into(), event_types);
        assert_preserved(&expected, &out, "");
    }
    let second: RiskyUserHistoryItem = serde_json::from_value(values[1].clone()).unwrap();
    assert_eq!(second.initiated_by, None);
    assert_eq!(second.risk_detail, Some(RiskDetail::None));
    assert_eq!(second.risk_level, Some(RiskLevel::High));
    assert_eq!(
        second.risk_last_updated_date_time.unwrap().to_wire(),
        "2019-04-05T22:31:27Z"
    );
}

/// The doc examples with type placeholders are not schema-valid: parsing them must fail with a
/// message that names the offending value, never silently produce an alert.
#[test]
fn placeholder_doc_examples_fail_clearly() {
    let alert_doc = fixture("v1.0_alert_get_response.doc.json");
    let err = serde_json::from_value::<Alert>(alert_doc)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("String (timestamp)") && err.contains("ISO-8601"),
        "{err}"
    );

    let patch_doc = fixture("v1.0_alert_update_request.doc.json");
    let err = serde_json::from_value::<Alert>(patch_doc)
        .unwrap_err()
        .to_string();
    assert!(err.contains("String (timestamp)"), "{err}");

    let users = fixture("v1.0_riskyUsers_list_response.doc.json");
    let err = serde_json::from_value::<RiskyUser>(items(&users)[0].clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("Boolean") && err.contains("boolean"), "{err}");

    let history = fixture("v1.0_riskyUser_history_response.doc.json");
    let err = serde_json::from_value::<RiskyUserHistoryItem>(items(&history)[0].clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("Boolean"), "{err}");
}

/// The placeholder alert doc does show the docs' `isAzureAad*` spelling and every nested type;
/// with the placeholders replaced by concrete values it parses and emits the CSDL spelling.
#[test]
fn alert_doc_shape_parses_once_placeholders_are_filled() {
    let mut doc = fixture("v1.0_alert_get_response.doc.json");
    fill_placeholders(&mut doc);
    let alert: Alert = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(alert.host_states[0].is_azure_ad_joined, Some(true));
    assert_eq!(alert.host_states[0].is_azure_ad_registered, Some(true));
    assert_eq!(alert.confidence, Some(1024));
    // "@odata.type: microsoft.graph.alertFeedback" is no member: sentinel, not an error
    assert_eq!(alert.feedback, Some(AlertFeedback::UnknownFutureValue));
    let out = serde_json::to_value(&alert).unwrap();
    let host = out["hostStates"][0].as_object().unwrap();
    assert!(host.contains_key("isAzureAdJoined") && !host.contains_key("isAzureAadJoined"));
    assert_eq!(
        out.as_object().unwrap().len(),
        Alert::PROPERTY_NAMES.len(),
        "the doc example declares no undeclared property"
    );
}

/// Replaces `"String (timestamp)"` by a real timestamp everywhere.
fn fill_placeholders(v: &mut Value) {
    match v {
        Value::String(s) if s == "String (timestamp)" => *s = "2024-05-01T10:00:00Z".into(),
        Value::Array(a) => a.iter_mut().for_each(fill_placeholders),
        Value::Object(m) => m.values_mut().for_each(fill_placeholders),
        _ => {}
    }
}
