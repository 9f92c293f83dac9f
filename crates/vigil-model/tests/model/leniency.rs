//! Lenient input: what real Graph clients and partner data send that Graph itself never emits.

use serde_json::{Value, json};
use vigil_model::*;

fn alert(v: Value) -> Alert {
    serde_json::from_value(v).unwrap()
}

#[test]
fn enum_values_in_any_casing() {
    let a = alert(json!({
        "severity": "High", "status": "NewAlert", "feedback": "TRUEPOSITIVE",
        "userStates": [{"emailRole": "Sender", "logonType": "remoteinteractive"}],
        "networkConnections": [{"protocol": "TCP", "direction": "Inbound", "status": "BLOCKED"}]
    }));
    assert_eq!(a.severity, AlertSeverity::High);
    assert_eq!(a.status, AlertStatus::NewAlert);
    assert_eq!(a.feedback, Some(AlertFeedback::TruePositive));
    assert_eq!(a.user_states[0].email_role, Some(EmailRole::Sender));
    assert_eq!(
        a.user_states[0].logon_type,
        Some(LogonType::RemoteInteractive)
    );
    let c = &a.network_connections[0];
    assert_eq!(c.protocol, Some(SecurityNetworkProtocol::Tcp));
    assert_eq!(c.direction, Some(ConnectionDirection::Inbound));
    assert_eq!(c.status, Some(ConnectionStatus::Blocked));
    // and canonical on output
    let out = serde_json::to_value(&a).unwrap();
    assert_eq!(out["severity"], "high");
    assert_eq!(out["status"], "newAlert");
    assert_eq!(out["feedback"], "truePositive");
    assert_eq!(out["networkConnections"][0]["protocol"], "tcp");
}

#[test]
fn unknown_enum_values_become_unknown_future_value() {
    let a = alert(json!({
        "severity": "critical", "status": "new", "feedback": "maybe",
        "fileStates": [{"fileHash": {"hashType": "peSha256", "hashValue": "ab"}}]
    }));
    assert_eq!(a.severity, AlertSeverity::UnknownFutureValue);
    assert_eq!(a.status, AlertStatus::UnknownFutureValue);
    assert_eq!(a.feedback, Some(AlertFeedback::UnknownFutureValue));
    assert_eq!(
        a.file_states[0].file_hash.as_ref().unwrap().hash_type,
        Some(FileHashType::UnknownFutureValue)
    );
    let d: RiskDetection = serde_json::from_value(json!({
        "riskLevel": "extreme", "riskState": "Gone", "activity": "device", "tokenIssuerType": "Azure Active Directory"
    }))
    .unwrap();
    assert_eq!(d.risk_level, Some(RiskLevel::UnknownFutureValue));
    assert_eq!(d.risk_state, Some(RiskState::UnknownFutureValue));
    assert_eq!(d.activity, Some(ActivityType::UnknownFutureValue));
    assert_eq!(
        d.token_issuer_type,
        Some(TokenIssuerType::UnknownFutureValue)
    );
}

#[test]
fn python_sdk_patch_body() {
    // Python SDK: only non-None fields, `+00:00` offsets with 6 digits or naive datetimes.
    let body = r#"{"assignedTo": "analyst@contoso.com", "closedDateTime": "2024-05-01T10:00:00.123456+00:00", "status": "resolved", "feedback": "truePositive", "vendorInformation": {"provider": "IPC", "vendor": "Microsoft"}}"#;
    let a: Alert = serde_json::from_str(body).unwrap();
    assert_eq!(a.status, AlertStatus::Resolved);
    assert_eq!(
        a.closed_date_time.unwrap().to_wire(),
        "2024-05-01T10:00:00.123456Z"
    );
    assert_eq!(a.vendor_information.provider.as_deref(), Some("IPC"));
    assert_eq!(a.vendor_information.provider_version, None);
    let naive = alert(json!({"closedDateTime": "2024-05-01T10:00:00"}));
    assert_eq!(
        naive.closed_date_time.unwrap().to_wire(),
        "2024-05-01T10:00:00Z"
    );
    let offset = alert(json!({"eventDateTime": "2024-05-01T12:00:00+02:00"}));
    assert_eq!(
        offset.event_date_time.unwrap().to_wire(),
        "2024-05-01T10:00:00Z"
    );
}

/// `flatten` makes serde buffer the object; `deserialize_with = null_as_empty` must still turn
/// `null` collections into `[]`, and `null` non-nullable properties into their defaults.
#[test]
fn null_collections_and_non_nullables_read_as_empty() {
    let mut v = json!({
        "id": null, "azureTenantId": null, "severity": null, "status": null,
        "vendorInformation": null, "title": null, "confidence": null
    });
    for name in Alert::PROPERTY_NAMES {
        let is_collection = serde_json::to_value(Alert::default())
            .unwrap()
            .get(name)
            .is_some_and(Value::is_array);
        if is_collection {
            v[name] = Value::Null;
        }
    }
    let a = alert(v);
    assert_eq!(a, Alert::default());
    // missing keys are the same as null
    assert_eq!(alert(json!({})), Alert::default());
    // nested collections too
    let a = alert(json!({"historyStates": [{"comments": null}]}));
    assert!(a.history_states[0].comments.is_empty());
    let h: RiskyUserHistoryItem =
        serde_json::from_value(json!({"id": null, "activity": {"riskEventTypes": null}})).unwrap();
    assert_eq!(h.id, "");
    assert!(h.activity.unwrap().risk_event_types.is_empty());
}

#[test]
fn unknown_properties_are_preserved_in_order() {
    let a = alert(json!({
        "@odata.type": "#microsoft.graph.alert",
        "id": "a1",
        "riskScore": null,
        "vigilCustom": {"nested": [1, 2.5, "x", true, null]},
        "zeta": 1,
        "alpha": 2
    }));
    let keys: Vec<&str> = a.additional_data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["@odata.type", "riskScore", "vigilCustom", "zeta", "alpha"]
    );
    let out = serde_json::to_value(&a).unwrap();
    assert_eq!(
        out["vigilCustom"],
        json!({"nested": [1, 2.5, "x", true, null]})
    );
    assert_eq!(out["riskScore"], Value::Null);
    // declared properties first (wire order), then the extras as they came
    let out_keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(&out_keys[..40], Alert::PROPERTY_NAMES);
    assert_eq!(&out_keys[40..], keys);
    // identity resources are open for their `@odata.type` and beta extras too
    let u: RiskyUser = serde_json::from_value(json!({
        "@odata.type": "#microsoft.graph.riskyUser", "id": "u1", "isGuest": true
    }))
    .unwrap();
    assert_eq!(u.additional_data.len(), 2);
    assert_eq!(serde_json::to_value(&u).unwrap()["isGuest"], true);
}

#[test]
fn both_azure_ad_spellings_are_accepted() {
    let docs =
        alert(json!({"hostStates": [{"isAzureAadJoined": true, "isAzureAadRegistered": false}]}));
    let csdl =
        alert(json!({"hostStates": [{"isAzureAdJoined": true, "isAzureAdRegistered": false}]}));
    assert_eq!(docs, csdl);
    assert_eq!(docs.host_states[0].is_azure_ad_joined, Some(true));
    assert_eq!(docs.host_states[0].is_azure_ad_registered, Some(false));
    // both at once is no "duplicate field" error; the CSDL spelling wins
    let both = alert(json!({"hostStates": [{
        "isAzureAdJoined": false, "isAzureAadJoined": true,
        "isAzureAadRegistered": true
    }]}));
    assert_eq!(both.host_states[0].is_azure_ad_joined, Some(false));
    assert_eq!(both.host_states[0].is_azure_ad_registered, Some(true));
    // output: only the CSDL spelling
    let out = serde_json::to_string(&docs).unwrap();
    assert!(out.contains("\"isAzureAdJoined\":true"));
    assert!(out.contains("\"isAzureAdRegistered\":false"));
    assert!(!out.contains("isAzureAad"));
}

#[test]
fn type_errors_are_reported_not_swallowed() {
    for (bad, needle) in [
        (json!({"confidence": "50"}), "i32"),
        (json!({"tags": "HVA"}), "sequence"),
        (json!({"createdDateTime": "yesterday"}), "ISO-8601"),
        (
            json!({"hostStates": [{"isAzureAdJoined": "yes"}]}),
            "boolean",
        ),
        (json!({"severity": 3}), "AlertSeverity"),
    ] {
        let err = serde_json::from_value::<Alert>(bad.clone())
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{bad}: {err}");
    }
}

#[test]
fn output_is_graph_shaped() {
    let a = alert(json!({
        "id": "x", "createdDateTime": "2020-04-20T18:54:50.27220720+02:00",
        "hostStates": [{"fqdn": "h", "isAzureAadJoined": true}]
    }));
    let out = serde_json::to_string(&a).unwrap();
    assert!(out.contains("\"createdDateTime\":\"2020-04-20T16:54:50.2722072Z\""));
    assert!(out.contains("\"activityGroupName\":null"));
    assert!(out.contains("\"comments\":[]"));
    assert!(out.contains("\"netBiosName\":null"));
    assert!(out.contains("\"isAzureAdJoined\":true"));
}
