//! Mapping tests: every enum value both ways, round trips, documented losses, the real samples.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::mapping::*;
use super::native::*;
use crate::provider::{AlertChange, PushDown};
use serde_json::{Value, json};
use vigil_model::*;

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn no_vendor() -> SecurityVendorInformation {
    SecurityVendorInformation {
        provider: Some("Fallback product".into()),
        vendor: Some("Fallback vendor".into()),
        ..Default::default()
    }
}

// ---- enumerations: every value, both directions -------------------------------------------

#[test]
fn severity_ocsf_to_graph_every_id() {
    use AlertSeverity::*;
    let table: &[(i64, AlertSeverity, Option<i64>)] = &[
        (0, Unknown, None),
        (1, Informational, None),
        (2, Low, None),
        (3, Medium, None),
        (4, High, None),
        (5, High, Some(5)),
        (6, High, Some(6)),
        (99, UnknownFutureValue, None),
        (7, UnknownFutureValue, Some(7)),
        (-1, UnknownFutureValue, Some(-1)),
    ];
    for (id, graph, lost) in table {
        let m = severity_to_graph(Some(*id), None);
        assert_eq!((m.graph, m.lost_id), (*graph, *lost), "severity_id {id}");
    }
    assert_eq!(severity_to_graph(None, None).graph, Unknown);
    assert_eq!(severity_to_graph(None, Some("critical")).lost_id, Some(5));
}

#[test]
fn severity_graph_to_ocsf_every_value_and_round_trip() {
    use AlertSeverity::*;
    let table: &[(AlertSeverity, i64, &str)] = &[
        (Unknown, 0, "Unknown"),
        (Informational, 1, "Informational"),
        (Low, 2, "Low"),
        (Medium, 3, "Medium"),
        (High, 4, "High"),
        (UnknownFutureValue, 99, "Other"),
    ];
    assert_eq!(table.len(), <AlertSeverity as GraphEnum>::ALL.len());
    for (graph, id, caption) in table {
        assert_eq!(severity_from_graph(*graph, None), (*id, *caption));
        // Graph → OCSF → Graph is lossless for every Graph value.
        assert_eq!(severity_to_graph(Some(*id), None).graph, *graph);
    }
    // OCSF → Graph → OCSF is lossless when the kept id travels along.
    for id in [0, 1, 2, 3, 4, 5, 6, 99] {
        let m = severity_to_graph(Some(id), None);
        assert_eq!(
            severity_from_graph(m.graph, m.lost_id).0,
            id,
            "severity_id {id}"
        );
    }
    // A kept id that contradicts the Graph value is ignored.
    assert_eq!(severity_from_graph(Low, Some(5)).0, 2);
}

#[test]
fn status_both_directions_every_value() {
    use AlertStatus::*;
    let table: &[(i64, AlertStatus, &str)] = &[
        (0, Unknown, "Unknown"),
        (1, NewAlert, "New"),
        (2, InProgress, "In Progress"),
        (3, Dismissed, "Suppressed"),
        (4, Resolved, "Resolved"),
        (99, UnknownFutureValue, "Other"),
    ];
    assert_eq!(table.len(), <AlertStatus as GraphEnum>::ALL.len());
    for (id, graph, caption) in table {
        let m = status_to_graph(Some(*id), None);
        assert_eq!((m.graph, m.lost_id), (*graph, None), "status_id {id}");
        assert_eq!(status_from_graph(*graph, None), (*id, *caption));
        // Captions alone (GuardDuty sends `status` without `status_id`).
        assert_eq!(status_to_graph(None, Some(caption)).graph, *graph);
    }
    // An id OCSF 1.3.0 does not define: lossy, kept, and written back.
    let m = status_to_graph(Some(5), None);
    assert_eq!((m.graph, m.lost_id), (UnknownFutureValue, Some(5)));
    assert_eq!(status_from_graph(m.graph, m.lost_id).0, 5);
    assert_eq!(status_to_graph(None, None).graph, Unknown);
}

#[test]
fn verdict_both_directions_every_value() {
    use AlertFeedback::*;
    let read: &[(i64, AlertFeedback, Option<i64>)] = &[
        (0, Unknown, None),
        (1, FalsePositive, None),
        (2, TruePositive, None),
        (3, Unknown, Some(3)),
        (4, Unknown, Some(4)),
        (5, BenignPositive, None),
        (6, BenignPositive, Some(6)),
        (7, Unknown, Some(7)),
        (8, TruePositive, Some(8)),
        (9, Unknown, Some(9)),
        (10, Unknown, Some(10)),
        (99, UnknownFutureValue, None),
        (11, UnknownFutureValue, Some(11)),
    ];
    for (id, graph, lost) in read {
        let m = verdict_to_feedback(Some(*id), None).unwrap();
        assert_eq!((m.graph, m.lost_id), (*graph, *lost), "verdict_id {id}");
        assert_eq!(
            feedback_to_verdict(m.graph, m.lost_id).0,
            *id,
            "kept verdict_id {id}"
        );
    }
    let write: &[(AlertFeedback, i64)] = &[
        (Unknown, 0),
        (TruePositive, 2),
        (FalsePositive, 1),
        (BenignPositive, 5),
        (UnknownFutureValue, 99),
    ];
    assert_eq!(write.len(), <AlertFeedback as GraphEnum>::ALL.len());
    for (graph, id) in write {
        assert_eq!(feedback_to_verdict(*graph, None).0, *id);
        assert_eq!(verdict_to_feedback(Some(*id), None).unwrap().graph, *graph);
    }
    assert_eq!(verdict_to_feedback(None, None), None);
    assert_eq!(
        verdict_to_feedback(None, Some("True Positive"))
            .unwrap()
            .graph,
        TruePositive
    );
}

#[test]
fn risk_level_both_directions_every_value() {
    use RiskLevel::*;
    let write: &[(RiskLevel, i64, &str)] = &[
        (Low, 1, "Low"),
        (Medium, 2, "Medium"),
        (High, 3, "High"),
        (Hidden, 99, "Hidden"),
        (None, 0, "Info"),
        (UnknownFutureValue, 99, "Other"),
    ];
    assert_eq!(write.len(), <RiskLevel as GraphEnum>::ALL.len());
    for (graph, id, caption) in write {
        assert_eq!(risk_level_from_graph(*graph, Option::None), (*id, *caption));
        let back = risk_level_to_graph(Some(*id), Some(caption)).unwrap();
        assert_eq!((back.graph, back.lost_id), (*graph, Option::None));
    }
    // 4 Critical is lossy; 99 without a caption is Other.
    let crit = risk_level_to_graph(Some(4), Option::None).unwrap();
    assert_eq!((crit.graph, crit.lost_id), (High, Some(4)));
    assert_eq!(risk_level_from_graph(crit.graph, crit.lost_id).0, 4);
    assert_eq!(
        risk_level_to_graph(Some(99), Option::None).unwrap().graph,
        UnknownFutureValue
    );
    assert_eq!(
        risk_level_to_graph(Some(99), Some("whatever"))
            .unwrap()
            .graph,
        UnknownFutureValue
    );
    assert_eq!(
        risk_level_to_graph(Option::None, Option::None),
        Option::None
    );
}

// ---- times, comments, assignee ------------------------------------------------------------

#[test]
fn epoch_seconds_and_milliseconds() {
    assert_eq!(
        epoch_to_timestamp(1_723_564_700).unwrap(),
        ts("2024-08-13T15:58:20Z")
    );
    assert_eq!(
        epoch_to_timestamp(1_695_135_922_487).unwrap(),
        ts("2023-09-19T15:05:22.487Z")
    );
    assert_eq!(epoch_to_timestamp(0).unwrap(), ts("1970-01-01T00:00:00Z"));
    assert_eq!(epoch_to_timestamp(i64::MAX), Option::None);
    assert_eq!(epoch_to_timestamp(i64::MIN), Option::None);
}

#[test]
fn comments_round_trip_and_documented_losses() {
    let cases: Vec<Vec<String>> = vec![
        vec![],
        vec!["one".into()],
        vec![
            "first".into(),
            "second\nwith a line break".into(),
            "".into(),
        ],
    ];
    for c in cases {
        assert_eq!(decode_comments(encode_comments(&c).as_deref()), c);
    }
    assert_eq!(
        encode_comments(&["a".into(), "b".into()]).unwrap(),
        "a\n---\nb"
    );
    // Loss 1: a comment containing the separator line splits in two.
    let with_sep = vec!["before\n---\nafter".to_string()];
    assert_eq!(
        decode_comments(encode_comments(&with_sep).as_deref()),
        vec!["before", "after"]
    );
    // Loss 2: a single empty comment reads back as none.
    assert!(decode_comments(encode_comments(&["".into()]).as_deref()).is_empty());
}

#[test]
fn assignee_round_trips_for_any_string() {
    for a in ["alice@contoso.com", "Alice Analyst", "SOC tier 2"] {
        let user: User = serde_json::from_value(assignee_from_graph(a)).unwrap();
        assert_eq!(assignee_to_graph(Some(&user)).as_deref(), Some(a));
    }
    assert_eq!(
        assignee_from_graph("bob@x.io"),
        json!({"name": "bob@x.io", "email_addr": "bob@x.io"})
    );
    let uid_only = User {
        uid: Some("u-1".into()),
        ..User::default()
    };
    assert_eq!(assignee_to_graph(Some(&uid_only)).as_deref(), Some("u-1"));
}

// ---- push-down ------------------------------------------------------------------------------

#[test]
fn severity_push_down_only_for_contiguous_upper_ranges() {
    use AlertSeverity::*;
    let table: &[(&[AlertSeverity], Option<i64>)] = &[
        (&[High], Some(4)),
        (&[Medium, High], Some(3)),
        (&[High, Low, Medium], Some(2)),
        (&[Informational, Low, Medium, High], Some(1)),
        (&[], None),
        (&[Medium], None),
        (&[Low, High], None),
        (&[Unknown, High], None),
        (&[UnknownFutureValue], None),
        (&[Informational, Low, Medium, High, Unknown], None),
    ];
    for (sev, want) in table {
        assert_eq!(severity_lower_bound(sev), *want, "{sev:?}");
    }
}

#[test]
fn list_query_pushes_what_is_safe() {
    let p = PushDown {
        statuses: vec![
            AlertStatus::Resolved,
            AlertStatus::NewAlert,
            AlertStatus::NewAlert,
        ],
        severities: vec![AlertSeverity::High],
        created_from: Some(ts("2024-01-01T00:00:00Z")),
        created_before: Some(ts("2024-02-01T00:00:00Z")),
    };
    assert_eq!(
        list_query(&p),
        vec![
            ("status_id", "1,4".to_owned()),
            ("severity_id_gte", "4".to_owned()),
            ("time_gte", "1704067200000".to_owned()),
            ("time_lt", "1706745600000".to_owned()),
        ]
    );
    // unknownFutureValue also stands for undefined ids: statuses are then not pushed.
    let p = PushDown {
        statuses: vec![AlertStatus::NewAlert, AlertStatus::UnknownFutureValue],
        severities: vec![AlertSeverity::Low],
        ..PushDown::default()
    };
    assert!(list_query(&p).is_empty());
    assert!(list_query(&PushDown::default()).is_empty());
}

// ---- updates --------------------------------------------------------------------------------

#[test]
fn patch_body_sends_only_what_changes() {
    let current = Alert {
        status: AlertStatus::NewAlert,
        assigned_to: Some("alice@contoso.com".into()),
        comments: vec!["seen".into()],
        feedback: None,
        tags: vec!["HVA".into()],
        ..Alert::default()
    };
    // Same values as now: nothing to send.
    let same = AlertChange {
        status: Some(AlertStatus::NewAlert),
        assigned_to: Some(Some("alice@contoso.com".into())),
        comments: Some(vec!["seen".into()]),
        tags: Some(vec!["HVA".into()]),
        ..AlertChange::default()
    };
    assert_eq!(patch_body(&current, &same), None);
    assert_eq!(patch_body(&current, &AlertChange::default()), None);

    let change = AlertChange {
        status: Some(AlertStatus::Resolved),
        assigned_to: Some(None),
        comments: Some(vec!["seen".into(), "closed: benign".into()]),
        feedback: Some(AlertFeedback::BenignPositive),
        tags: Some(vec!["HVA".into()]),
        closed_date_time: Some(Some(ts("2024-01-01T00:00:00Z"))),
        ..AlertChange::default()
    };
    let body = Value::Object(patch_body(&current, &change).unwrap());
    assert_eq!(
        body,
        json!({
            "status_id": 4,
            "assignee": null,
            "comment": "seen\n---\nclosed: benign",
            "verdict_id": 5,
        })
    );
    // Clearing every comment sends an empty string.
    let clear = AlertChange {
        comments: Some(vec![]),
        ..AlertChange::default()
    };
    assert_eq!(
        Value::Object(patch_body(&current, &clear).unwrap()),
        json!({"comment": ""})
    );
}

// ---- whole records --------------------------------------------------------------------------

/// An alert using every field the mapping carries, with values it can carry exactly.
fn rich_alert() -> Alert {
    Alert {
        id: "0c1d2e3f-0000-4000-8000-000000000001".into(),
        azure_tenant_id: "8f7e6d5c-4b3a-4921-8c1d-0e2f3a4b5c6d".into(),
        title: Some("Credential dumping".into()),
        description: Some("LSASS memory was read".into()),
        category: Some("credentialTheft".into()),
        severity: AlertSeverity::High,
        status: AlertStatus::InProgress,
        feedback: Some(AlertFeedback::TruePositive),
        confidence: Some(80),
        assigned_to: Some("alice@contoso.com".into()),
        comments: vec!["triaged".into(), "escalated".into()],
        tags: vec!["HVA".into()],
        created_date_time: Some(ts("2024-05-01T10:00:00.123Z")),
        event_date_time: Some(ts("2024-05-01T09:59:00Z")),
        last_event_date_time: Some(ts("2024-05-01T10:01:00Z")),
        last_modified_date_time: Some(ts("2024-05-01T11:00:00Z")),
        source_materials: vec!["https://console.example/alerts/1".into()],
        recommended_actions: vec!["Isolate the host".into(), "Reset the password".into()],
        security_resources: vec![SecurityResource {
            resource: Some("arn:aws:iam::111122223333:user/alice".into()),
            resource_type: None,
        }],
        triggers: vec![
            AlertTrigger {
                name: Some("tactic".into()),
                r#type: Some("MITRE ATT&CK".into()),
                value: Some("TA0006".into()),
            },
            AlertTrigger {
                name: Some("technique".into()),
                r#type: Some("MITRE ATT&CK".into()),
                value: Some("T1003".into()),
            },
        ],
        alert_detections: vec![AlertDetection {
            detection_type: Some("Behavioral".into()),
            method: Some("Rule".into()),
            name: Some("T1003 OS Credential Dumping".into()),
        }],
        vulnerability_states: vec![VulnerabilityState {
            cve: Some("CVE-2024-0001".into()),
            severity: Some("9.8".into()),
            was_running: None,
        }],
        vendor_information: SecurityVendorInformation {
            provider: Some("Wazuh".into()),
            provider_version: Some("4.7.3".into()),
            sub_provider: Some("rules".into()),
            vendor: Some("Wazuh".into()),
        },
        user_states: vec![UserSecurityState {
            aad_user_id: Some("11111111-2222-4333-8444-555555555555".into()),
            account_name: Some("alice".into()),
            domain_name: Some("CONTOSO".into()),
            user_principal_name: Some("alice@contoso.com".into()),
            on_premises_security_identifier: Some("S-1-5-21-1-2-3-1001".into()),
            user_account_type: Some(UserAccountSecurityType::Power),
            logon_ip: Some("10.1.2.3".into()),
            logon_location: Some("Seattle, WA, US".into()),
            ..UserSecurityState::default()
        }],
        host_states: vec![HostSecurityState {
            fqdn: Some("ws-001.corp.contoso.com".into()),
            net_bios_name: Some("WS-001".into()),
            os: Some("Windows 11".into()),
            private_ip_address: Some("10.1.2.3".into()),
            ..HostSecurityState::default()
        }],
        file_states: vec![FileSecurityState {
            name: Some("mimikatz.exe".into()),
            path: Some("C:\\Temp\\mimikatz.exe".into()),
            file_hash: Some(FileHash {
                hash_type: Some(FileHashType::AuthenticodeHash256),
                hash_value: Some("ab".repeat(32)),
            }),
            risk_score: None,
        }],
        processes: vec![Process {
            account_name: Some("alice".into()),
            command_line: Some("mimikatz.exe sekurlsa::logonpasswords".into()),
            created_date_time: Some(ts("2024-05-01T09:58:59Z")),
            file_hash: Some(FileHash {
                hash_type: Some(FileHashType::Sha256),
                hash_value: Some("cd".repeat(32)),
            }),
            integrity_level: Some(ProcessIntegrityLevel::High),
            name: Some("mimikatz.exe".into()),
            parent_process_created_date_time: Some(ts("2024-05-01T09:00:00Z")),
            parent_process_id: Some(400),
            parent_process_name: Some("cmd.exe".into()),
            path: Some("C:\\Temp\\mimikatz.exe".into()),
            process_id: Some(4242),
            is_elevated: None,
        }],
        network_connections: vec![NetworkConnection {
            source_address: Some("10.1.2.3".into()),
            source_port: Some("50000".into()),
            destination_address: Some("203.0.113.9".into()),
            destination_port: Some("443".into()),
            destination_domain: Some("evil.example".into()),
            destination_url: Some("https://evil.example/c2".into()),
            direction: Some(ConnectionDirection::Outbound),
            protocol: Some(SecurityNetworkProtocol::Tcp),
            ..NetworkConnection::default()
        }],
        ..Alert::default()
    }
}

#[test]
fn rich_alert_round_trips_through_a_finding() {
    let a = rich_alert();
    let f = alert_to_finding(&a);
    // Through JSON, as it travels.
    let wire = serde_json::to_value(&f).unwrap();
    assert_eq!(wire["class_uid"], 2004);
    assert_eq!(wire["type_uid"], 200_401);
    assert_eq!(wire["time"], a.created_date_time.unwrap().epoch_millis());
    assert_eq!(wire["comment"], "triaged\n---\nescalated");
    assert_eq!(wire["metadata"]["labels"], json!(["HVA"]));
    assert_eq!(wire["evidences"][0]["user"]["type_id"], 99);
    assert_eq!(wire["evidences"][0]["user"]["type"], "Power");
    let back_f: Finding = serde_json::from_value(wire).unwrap();
    let back = finding_to_alert(&back_f, &a.azure_tenant_id, &no_vendor()).unwrap();
    assert_eq!(back, a);
}

#[test]
fn lossy_values_survive_a_round_trip_through_additional_data() {
    let f: Finding = serde_json::from_value(json!({
        "finding_info": {"uid": "f-1", "title": "t"},
        "severity_id": 6, "status_id": 5, "verdict_id": 8,
    }))
    .unwrap();
    let a = finding_to_alert(&f, "t", &no_vendor()).unwrap();
    assert_eq!(a.severity, AlertSeverity::High);
    assert_eq!(a.status, AlertStatus::UnknownFutureValue);
    assert_eq!(a.feedback, Some(AlertFeedback::TruePositive));
    assert_eq!(a.additional_data[SEVERITY_ID_KEY], 6);
    assert_eq!(a.additional_data[STATUS_ID_KEY], 5);
    assert_eq!(a.additional_data[VERDICT_ID_KEY], 8);
    let again = alert_to_finding(&a);
    assert_eq!(
        (again.severity_id, again.status_id, again.verdict_id),
        (Some(6), Some(5), Some(8))
    );
    assert_eq!(again.severity.as_deref(), Some("Fatal"));
}

#[test]
fn documented_alert_losses_are_visible() {
    let mut a = rich_alert();
    a.activity_group_name = Some("STRONTIUM".into());
    a.azure_subscription_id = Some("sub".into());
    a.incident_ids = vec!["1".into()];
    a.detection_ids = vec!["d".into()];
    a.malware_states = vec![MalwareState::default()];
    a.closed_date_time = Some(ts("2024-05-02T00:00:00Z"));
    a.source_materials.push("https://second.example".into());
    a.security_resources[0].resource_type = Some(SecurityResourceType::Attacked);
    a.triggers.push(AlertTrigger {
        name: Some("processName".into()),
        r#type: Some("process".into()),
        value: Some("lsass.exe".into()),
    });
    a.host_states[0].public_ip_address = Some("198.51.100.7".into());
    a.host_states[0].is_azure_ad_joined = Some(true);
    a.processes[0].is_elevated = Some(true);
    a.network_connections[0].nat_source_address = Some("198.51.100.1".into());
    a.user_states[0].logon_type = Some(LogonType::Interactive);
    a.user_states[0].is_vpn = Some(true);
    let back = finding_to_alert(&alert_to_finding(&a), &a.azure_tenant_id, &no_vendor()).unwrap();
    assert_eq!(back.activity_group_name, None);
    assert_eq!(back.azure_subscription_id, None);
    assert!(back.incident_ids.is_empty() && back.detection_ids.is_empty());
    assert!(back.malware_states.is_empty());
    // closedDateTime is derived from the source (status is inProgress here): not carried.
    assert_eq!(back.closed_date_time, None);
    assert_eq!(
        back.source_materials,
        vec!["https://console.example/alerts/1"]
    );
    assert_eq!(back.security_resources[0].resource_type, None);
    assert_eq!(back.triggers.len(), 2, "the non-ATT&CK trigger is dropped");
    assert_eq!(back.host_states[0].public_ip_address, None);
    assert_eq!(back.host_states[0].is_azure_ad_joined, None);
    assert_eq!(back.processes[0].is_elevated, None);
    assert_eq!(back.network_connections[0].nat_source_address, None);
    assert_eq!(back.user_states[0].logon_type, None);
    assert_eq!(back.user_states[0].is_vpn, None);
    // A public IP with no private one travels, but comes back as private.
    let mut only_public = rich_alert();
    only_public.host_states[0].private_ip_address = None;
    only_public.host_states[0].public_ip_address = Some("198.51.100.7".into());
    let back = finding_to_alert(&alert_to_finding(&only_public), "t", &no_vendor()).unwrap();
    assert_eq!(
        back.host_states[0].private_ip_address.as_deref(),
        Some("198.51.100.7")
    );
    assert_eq!(back.host_states[0].public_ip_address, None);
}

#[test]
fn resolved_findings_have_a_closed_time() {
    let f: Finding = serde_json::from_value(json!({
        "finding_info": {"uid": "f", "modified_time": 1_714_560_000_000_i64},
        "status_id": 4,
    }))
    .unwrap();
    let a = finding_to_alert(&f, "t", &no_vendor()).unwrap();
    assert_eq!(a.status, AlertStatus::Resolved);
    assert_eq!(a.closed_date_time, Some(ts("2024-05-01T10:40:00Z")));
    assert_eq!(a.closed_date_time, a.last_modified_date_time);
}

#[test]
fn records_without_an_id_are_refused() {
    let f = Finding::default();
    assert_eq!(
        finding_to_alert(&f, "t", &no_vendor()),
        Err(MappingError::MissingId("finding_info.uid"))
    );
    assert!(finding_to_risk_detection(&f).is_err());
    assert!(user_to_risky_user(&User::default()).is_err());
    // metadata.uid is the fallback.
    let f: Finding = serde_json::from_value(json!({"metadata": {"uid": "m-1"}})).unwrap();
    assert_eq!(finding_to_alert(&f, "t", &no_vendor()).unwrap().id, "m-1");
    // No product: the configured labels.
    assert_eq!(
        finding_to_alert(&f, "t", &no_vendor())
            .unwrap()
            .vendor_information,
        no_vendor()
    );
}

// ---- the real samples -----------------------------------------------------------------------

fn fixture(name: &str) -> Finding {
    let text = match name {
        "guardduty" => include_str!(
            "../../tests/fixtures/ocsf/detection_finding_securityhub_guardduty.v1.1.0.json"
        ),
        "okta" => include_str!("../../tests/fixtures/ocsf/detection_finding_okta.v1.3.0.json"),
        "prowler" => {
            include_str!("../../tests/fixtures/ocsf/detection_finding_prowler.v1.3.0.json")
        }
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

#[test]
fn guardduty_via_security_hub_sample() {
    let a = finding_to_alert(&fixture("guardduty"), "tenant-1", &no_vendor()).unwrap();
    assert!(a.id.starts_with("arn:aws:guardduty:us-east-2:111111111111:detector/"));
    assert_eq!(a.azure_tenant_id, "tenant-1");
    assert_eq!(a.severity, AlertSeverity::Low);
    // No status_id in this 1.1.0 sample: read from the caption.
    assert_eq!(a.status, AlertStatus::NewAlert);
    assert_eq!(a.feedback, None);
    assert_eq!(
        a.category.as_deref(),
        Some("TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled")
    );
    // time is in ms here; created/first/last seen come from the _dt strings with an offset.
    assert_eq!(a.created_date_time, Some(ts("2023-09-19T15:05:22.487Z")));
    assert_eq!(a.event_date_time, Some(ts("2023-09-19T14:55:09Z")));
    assert_eq!(a.last_event_date_time, Some(ts("2023-09-19T14:55:09Z")));
    assert_eq!(
        a.last_modified_date_time,
        Some(ts("2023-09-19T15:05:22.487Z"))
    );
    assert_eq!(a.source_materials.len(), 1);
    assert_eq!(
        a.vendor_information,
        SecurityVendorInformation {
            provider: Some("GuardDuty".into()),
            provider_version: None,
            sub_provider: None,
            vendor: Some("Amazon".into()),
        }
    );
    assert_eq!(
        a.security_resources[0].resource.as_deref(),
        Some("AWS::IAM::AccessKey:ASIATMJPC7EXAMPLE")
    );
    // The caller's address is a connection source; its location text is composed.
    assert_eq!(a.network_connections.len(), 1);
    let n = &a.network_connections[0];
    assert_eq!(n.source_address.as_deref(), Some("52.94.133.131"));
    assert_eq!(n.source_location.as_deref(), Some("United States"));
    assert!(a.user_states.is_empty());
}

#[test]
fn okta_sample_with_epoch_seconds() {
    let a = finding_to_alert(&fixture("okta"), "tenant-1", &no_vendor()).unwrap();
    assert_eq!(a.id, "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a");
    assert_eq!(a.title.as_deref(), Some("Login Failures"));
    assert_eq!(
        a.description.as_deref(),
        Some("Request from suspicious actor")
    );
    assert_eq!(a.severity, AlertSeverity::Unknown);
    assert_eq!(a.status, AlertStatus::Unknown);
    // `time` 1723564700 is seconds; it must not read as January 1970.
    assert_eq!(a.created_date_time, Some(ts("2024-08-13T15:58:20Z")));
    assert_eq!(a.event_date_time, a.created_date_time);
    assert_eq!(
        a.vendor_information.provider.as_deref(),
        Some("Okta System Log")
    );
    assert_eq!(a.vendor_information.provider_version.as_deref(), Some("0"));
    assert_eq!(
        a.security_resources[0].resource.as_deref(),
        Some("/app/office365/1111111111/sso/wsfed/active")
    );
    let n = &a.network_connections[0];
    assert_eq!(n.source_address.as_deref(), Some("10.0.0.1"));
    assert_eq!(
        n.source_location.as_deref(),
        Some("New York, United States")
    );
}

#[test]
fn prowler_sample_with_naive_times_and_object_data() {
    let a = finding_to_alert(&fixture("prowler"), "tenant-1", &no_vendor()).unwrap();
    assert!(a.id.starts_with("prowler-aws-acm_certificates_expiration_check-"));
    assert_eq!(a.severity, AlertSeverity::High);
    assert_eq!(a.status, AlertStatus::NewAlert);
    assert_eq!(a.category.as_deref(), Some("Data Protection"));
    assert_eq!(a.created_date_time, Some(ts("2024-10-04T13:49:02Z")));
    assert_eq!(a.recommended_actions.len(), 1);
    assert!(a.recommended_actions[0].starts_with("Monitor certificate expiration"));
    assert_eq!(
        a.vendor_information.provider_version.as_deref(),
        Some("4.5.0")
    );
    assert!(
        a.security_resources[0]
            .resource
            .as_deref()
            .unwrap()
            .starts_with("arn:aws:acm:eu-west-1:")
    );
    assert!(a.network_connections.is_empty() && a.user_states.is_empty());
}

#[test]
fn every_sample_maps_back_to_a_finding_that_reads_the_same() {
    for name in ["guardduty", "okta", "prowler"] {
        let a = finding_to_alert(&fixture(name), "t", &no_vendor()).unwrap();
        let again = finding_to_alert(&alert_to_finding(&a), "t", &no_vendor()).unwrap();
        assert_eq!(again, a, "{name}");
    }
}

// ---- identity -------------------------------------------------------------------------------

#[test]
fn risky_user_round_trip() {
    for level in <RiskLevel as GraphEnum>::ALL {
        let r = RiskyUser {
            id: "11111111-2222-4333-8444-555555555555".into(),
            is_deleted: Some(false),
            is_processing: Some(false),
            risk_detail: Some(RiskDetail::AdminConfirmedUserCompromised),
            risk_last_updated_date_time: Some(ts("2024-05-01T10:00:00.5Z")),
            risk_level: Some(*level),
            risk_state: Some(RiskState::ConfirmedCompromised),
            user_display_name: Some("Alice Analyst".into()),
            user_principal_name: Some("alice@contoso.com".into()),
            additional_data: Default::default(),
        };
        let wire = serde_json::to_value(risky_user_to_user(&r)).unwrap();
        assert_eq!(wire["unmapped"]["risk_state"], "confirmedCompromised");
        let back = user_to_risky_user(&serde_json::from_value(wire).unwrap()).unwrap();
        assert_eq!(back, r, "{level:?}");
    }
}

#[test]
fn risk_detection_round_trip() {
    let d = RiskDetection {
        id: "d-1".into(),
        activity: Some(ActivityType::Signin),
        activity_date_time: Some(ts("2024-05-01T10:00:00Z")),
        additional_info: Some(r#"[{"Key":"userAgent","Value":"curl/8"}]"#.into()),
        correlation_id: Some("c-1".into()),
        detected_date_time: Some(ts("2024-05-01T10:00:03Z")),
        detection_timing_type: Some(RiskDetectionTimingType::Realtime),
        ip_address: Some("185.220.1.2".into()),
        last_updated_date_time: Some(ts("2024-05-01T11:00:00Z")),
        location: Some(SignInLocation {
            city: Some("Berlin".into()),
            country_or_region: Some("DE".into()),
            state: Some("Berlin".into()),
            geo_coordinates: Some(GeoCoordinates {
                altitude: None,
                latitude: Some(52.52),
                longitude: Some(13.405),
            }),
        }),
        request_id: Some("r-1".into()),
        risk_detail: Some(RiskDetail::None),
        risk_event_type: Some("anonymizedIPAddress".into()),
        risk_level: Some(RiskLevel::Medium),
        risk_state: Some(RiskState::AtRisk),
        source: Some("IdentityProtection".into()),
        token_issuer_type: Some(TokenIssuerType::AzureAd),
        user_display_name: Some("Alice Analyst".into()),
        user_id: Some("11111111-2222-4333-8444-555555555555".into()),
        user_principal_name: Some("alice@contoso.com".into()),
        additional_data: Default::default(),
    };
    let wire = serde_json::to_value(risk_detection_to_finding(&d)).unwrap();
    assert_eq!(
        wire["finding_info"]["types"],
        json!(["Identity Risk", "anonymizedIPAddress"])
    );
    assert_eq!(
        wire["evidences"][0]["src_endpoint"]["location"]["coordinates"],
        json!([13.405, 52.52])
    );
    assert_eq!(wire["severity_id"], 3);
    let back = finding_to_risk_detection(&serde_json::from_value(wire).unwrap()).unwrap();
    assert_eq!(back, d);
}

#[test]
fn detection_risk_level_falls_back_to_severity_and_old_lat_long() {
    let f: Finding = serde_json::from_value(json!({
        "finding_info": {"uid": "x", "types": ["Identity Risk", "leakedCredentials"]},
        "severity_id": 5,
        "time": 1_723_564_700,
        "evidences": [{"user": {"uid": "u", "name": "bob"},
                       "src_endpoint": {"ip": "10.0.0.1", "location": {"lat": 40.3, "long": -74.0}}}]
    }))
    .unwrap();
    let d = finding_to_risk_detection(&f).unwrap();
    assert_eq!(d.risk_level, Some(RiskLevel::High));
    assert_eq!(d.risk_event_type.as_deref(), Some("leakedCredentials"));
    assert_eq!(d.user_principal_name.as_deref(), Some("bob"));
    assert_eq!(d.user_display_name.as_deref(), Some("bob"));
    assert_eq!(d.detected_date_time, Some(ts("2024-08-13T15:58:20Z")));
    let geo = d.location.unwrap().geo_coordinates.unwrap();
    assert_eq!((geo.latitude, geo.longitude), (Some(40.3), Some(-74.0)));
}

#[test]
fn values_of_the_wrong_json_type_read_as_absent_in_one_pass() {
    let f: Finding = serde_json::from_value(json!({
        "class_uid": 2004,
        "finding_info": {"uid": "f-1", "title": "t", "analytic": "not an object"},
        "device": "a string where an object belongs",
        "assignee": [1, 2, 3],
        "remediation": 42,
        "metadata": null,
        "evidences": [1, "x", {"process": {"name": "cmd.exe"}}, [], null],
        "resources": {"not": "an array"},
        "vulnerabilities": "none",
    }))
    .unwrap();
    let info = f.finding_info.as_ref().unwrap();
    assert_eq!(info.uid.as_deref(), Some("f-1"));
    assert!(info.analytic.is_none());
    assert!(f.device.is_none() && f.assignee.is_none() && f.remediation.is_none());
    assert!(f.metadata.is_none());
    assert_eq!(f.evidences.len(), 1, "only the object element is kept");
    assert_eq!(
        f.evidences[0]
            .process
            .as_ref()
            .and_then(|p| p.name.as_deref()),
        Some("cmd.exe")
    );
    assert!(f.resources.is_empty() && f.vulnerabilities.is_empty());
    // A location's coordinates are an array of numbers; a wrong element loses only them.
    let loc: Location =
        serde_json::from_value(json!({"city": "Oslo", "coordinates": [10.7, "x"]})).unwrap();
    assert_eq!(loc.city.as_deref(), Some("Oslo"));
    assert!(loc.coordinates.is_none());
}
