//! A hand-made alert that fills every property of every nested type: parse → serialize must give
//! the identical JSON, with exactly the declared property names, in wire order.

use crate::common::{fixture, round_trip};
use serde_json::Value;
use vigil_model::*;

/// Every object in `v` (recursively) has no `null` and no empty array: the fixture really
/// exercises every field.
fn assert_fully_populated(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("{path} is null"),
        Value::Array(a) => {
            assert!(!a.is_empty(), "{path} is empty");
            for (n, x) in a.iter().enumerate() {
                assert_fully_populated(x, &format!("{path}[{n}]"));
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                assert_fully_populated(x, &format!("{path}/{k}"));
            }
        }
        _ => {}
    }
}

#[test]
fn full_alert_round_trips_identically() {
    let input = fixture("full_alert.json");
    assert_fully_populated(&input, "");
    let (alert, out) = round_trip::<Alert>(&input);
    assert_eq!(
        out, input,
        "parse → serialize is the identity on canonical JSON"
    );
    assert!(alert.additional_data.is_empty());

    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, Alert::PROPERTY_NAMES, "key set and wire order");
    assert_eq!(keys.len(), 40);
}

#[test]
fn full_alert_nested_types_carry_their_values() {
    let alert: Alert = serde_json::from_value(fixture("full_alert.json")).unwrap();
    assert_eq!(alert.severity, AlertSeverity::High);
    assert_eq!(alert.status, AlertStatus::Resolved);
    assert_eq!(alert.feedback, Some(AlertFeedback::TruePositive));
    assert_eq!(alert.confidence, Some(85));
    assert_eq!(alert.user_states[0].email_role, Some(EmailRole::Recipient));
    assert_eq!(
        alert.user_states[0].logon_type,
        Some(LogonType::Interactive)
    );
    assert_eq!(
        alert.user_states[0].user_account_type,
        Some(UserAccountSecurityType::Standard)
    );
    assert_eq!(alert.host_states[0].is_azure_ad_registered, Some(false));
    assert_eq!(
        alert.processes[0].integrity_level,
        Some(ProcessIntegrityLevel::High)
    );
    assert_eq!(alert.processes[0].parent_process_id, Some(6120));
    let conn = &alert.network_connections[0];
    assert_eq!(conn.protocol, Some(SecurityNetworkProtocol::Tcp));
    assert_eq!(conn.direction, Some(ConnectionDirection::Outbound));
    assert_eq!(conn.status, Some(ConnectionStatus::Succeeded));
    assert_eq!(conn.destination_port.as_deref(), Some("443"));
    let reg = &alert.registry_key_states[0];
    assert_eq!(reg.hive, Some(RegistryHive::LocalMachineSystem));
    assert_eq!(reg.operation, Some(RegistryOperation::Modify));
    assert_eq!(reg.value_type, Some(RegistryValueType::Dword));
    assert_eq!(
        alert.security_resources[0].resource_type,
        Some(SecurityResourceType::Attacked)
    );
    assert_eq!(alert.history_states[0].status, Some(AlertStatus::Resolved));
    assert_eq!(
        alert.message_security_states[0].connecting_ip.as_deref(),
        Some("198.51.100.23")
    );
    assert_eq!(alert.triggers[0].r#type.as_deref(), Some("process"));
    assert_eq!(
        alert.last_event_date_time.unwrap().to_wire(),
        "2024-04-30T08:14:59.9999999Z"
    );
}

/// A default alert still emits every declared property: `null` scalars, `[]` collections and
/// the defaults of the non-nullable properties.
#[test]
fn empty_alert_emits_every_property_explicitly() {
    let out = serde_json::to_value(Alert::default()).unwrap();
    let obj = out.as_object().unwrap();
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(keys, Alert::PROPERTY_NAMES);
    assert_eq!(out["title"], Value::Null);
    assert_eq!(out["tags"], serde_json::json!([]));
    assert_eq!(out["severity"], "unknown");
    assert_eq!(out["status"], "unknown");
    assert_eq!(out["azureTenantId"], "");
    assert_eq!(
        out["vendorInformation"],
        serde_json::json!({"provider": null, "providerVersion": null, "subProvider": null, "vendor": null})
    );
    for name in Alert::UPDATABLE {
        assert!(obj.contains_key(name), "{name} is a declared property");
    }
}

/// Every nested type emits all its properties with explicit nulls, under the exact spec names.
#[test]
fn nested_types_emit_every_property_name() {
    fn keys<T: serde::Serialize + Default>() -> Vec<String> {
        let v = serde_json::to_value(T::default()).unwrap();
        let obj = v.as_object().unwrap();
        for (k, x) in obj {
            let empty = x.is_null() || x == &serde_json::json!([]) || (k == "id" && x == "");
            assert!(empty, "{k} = {x}");
        }
        obj.keys().cloned().collect()
    }
    let cases: Vec<(Vec<String>, &[&str])> = vec![
        (
            keys::<SecurityVendorInformation>(),
            &["provider", "providerVersion", "subProvider", "vendor"],
        ),
        (
            keys::<UserSecurityState>(),
            &[
                "aadUserId",
                "accountName",
                "domainName",
                "emailRole",
                "isVpn",
                "logonDateTime",
                "logonId",
                "logonIp",
                "logonLocation",
                "logonType",
                "onPremisesSecurityIdentifier",
                "riskScore",
                "userAccountType",
                "userPrincipalName",
            ],
        ),
        (
            keys::<HostSecurityState>(),
            &[
                "fqdn",
                "isAzureAdJoined",
                "isAzureAdRegistered",
                "isHybridAzureDomainJoined",
                "netBiosName",
                "os",
                "privateIpAddress",
                "publicIpAddress",
                "riskScore",
            ],
        ),
        (
            keys::<FileSecurityState>(),
            &["fileHash", "name", "path", "riskScore"],
        ),
        (keys::<FileHash>(), &["hashType", "hashValue"]),
        (
            keys::<Process>(),
            &[
                "accountName",
                "commandLine",
                "createdDateTime",
                "fileHash",
                "integrityLevel",
                "isElevated",
                "name",
                "parentProcessCreatedDateTime",
                "parentProcessId",
                "parentProcessName",
                "path",
                "processId",
            ],
        ),
        (
            keys::<NetworkConnection>(),
            &[
                "applicationName",
                "destinationAddress",
                "destinationDomain",
                "destinationLocation",
                "destinationPort",
                "destinationUrl",
                "direction",
                "domainRegisteredDateTime",
                "localDnsName",
                "natDestinationAddress",
                "natDestinationPort",
                "natSourceAddress",
                "natSourcePort",
                "protocol",
                "riskScore",
                "sourceAddress",
                "sourceLocation",
                "sourcePort",
                "status",
                "urlParameters",
            ],
        ),
        (
            keys::<MalwareState>(),
            &["category", "family", "name", "severity", "wasRunning"],
        ),
        (
            keys::<CloudAppSecurityState>(),
            &[
                "destinationServiceIp",
                "destinationServiceName",
                "riskScore",
            ],
        ),
        (
            keys::<RegistryKeyState>(),
            &[
                "hive",
                "key",
                "oldKey",
                "oldValueData",
                "oldValueName",
                "operation",
                "processId",
                "valueData",
                "valueName",
                "valueType",
            ],
        ),
        (
            keys::<VulnerabilityState>(),
            &["cve", "severity", "wasRunning"],
        ),
        (keys::<AlertTrigger>(), &["name", "type", "value"]),
        (keys::<SecurityResource>(), &["resource", "resourceType"]),
        (
            keys::<AlertHistoryState>(),
            &[
                "appId",
                "assignedTo",
                "comments",
                "feedback",
                "status",
                "updatedDateTime",
                "user",
            ],
        ),
        (
            keys::<AlertDetection>(),
            &["detectionType", "method", "name"],
        ),
        (keys::<InvestigationSecurityState>(), &["name", "status"]),
        (
            keys::<MessageSecurityState>(),
            &[
                "connectingIP",
                "deliveryAction",
                "deliveryLocation",
                "directionality",
                "internetMessageId",
                "messageFingerprint",
                "messageReceivedDateTime",
                "messageSubject",
                "networkMessageId",
            ],
        ),
        (
            keys::<UriClickSecurityState>(),
            &[
                "clickAction",
                "clickDateTime",
                "id",
                "sourceId",
                "uriDomain",
                "verdict",
            ],
        ),
        (
            keys::<RiskyUser>(),
            &[
                "id",
                "isDeleted",
                "isProcessing",
                "riskDetail",
                "riskLastUpdatedDateTime",
                "riskLevel",
                "riskState",
                "userDisplayName",
                "userPrincipalName",
            ],
        ),
        (
            keys::<RiskyUserHistoryItem>(),
            &[
                "id",
                "isDeleted",
                "isProcessing",
                "riskDetail",
                "riskLastUpdatedDateTime",
                "riskLevel",
                "riskState",
                "userDisplayName",
                "userPrincipalName",
                "activity",
                "initiatedBy",
                "userId",
            ],
        ),
        (keys::<RiskUserActivity>(), &["detail", "riskEventTypes"]),
        (
            keys::<RiskDetection>(),
            &[
                "id",
                "activity",
                "activityDateTime",
                "additionalInfo",
                "correlationId",
                "detectedDateTime",
                "detectionTimingType",
                "ipAddress",
                "lastUpdatedDateTime",
                "location",
                "requestId",
                "riskDetail",
                "riskEventType",
                "riskLevel",
                "riskState",
                "source",
                "tokenIssuerType",
                "userDisplayName",
                "userId",
                "userPrincipalName",
            ],
        ),
        (
            keys::<SignInLocation>(),
            &["city", "countryOrRegion", "geoCoordinates", "state"],
        ),
        (
            keys::<GeoCoordinates>(),
            &["altitude", "latitude", "longitude"],
        ),
    ];
    for (got, expected) in cases {
        assert_eq!(got, expected);
    }
}
