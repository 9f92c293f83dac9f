//! Unit tests of the pure mapping: every status, severity and feedback value in both directions,
//! the documented losses, update planning, the real fixture, and configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::mapping::*;
use super::wire::{ActionParameter, Envelope, FalconAlert, FalconComment};
use super::*;
use vigil_model::{
    AlertFeedback as F, AlertSeverity as S, AlertStatus as St, FileHashType, Timestamp,
};

const TENANT: &str = "11111111-2222-3333-4444-555555555555";

fn native(json: serde_json::Value) -> FalconAlert {
    serde_json::from_value(json).unwrap()
}

fn tags(t: &[&str]) -> Vec<String> {
    t.iter().map(|s| s.to_string()).collect()
}

// ---- severity ----------------------------------------------------------------------------------

#[test]
fn severity_falcon_to_graph_every_band_and_edge() {
    let cases = [
        (-5, S::Unknown),
        (0, S::Unknown),
        (1, S::Informational),
        (10, S::Informational),
        (19, S::Informational),
        (20, S::Low),
        (30, S::Low),
        (49, S::Low),
        (50, S::Medium),
        (69, S::Medium),
        (70, S::High),
        (89, S::High),
        (90, S::High), // Critical: lossy
        (100, S::High),
        (101, S::Unknown),
    ];
    for (n, want) in cases {
        assert_eq!(severity_from_falcon(n), want, "{n}");
    }
    let names = [
        ("Informational", S::Informational),
        ("Low", S::Low),
        ("Medium", S::Medium),
        ("High", S::High),
        ("Critical", S::High),
        ("critical", S::High),
        ("Severe", S::Unknown),
    ];
    for (name, want) in names {
        assert_eq!(severity_from_name(name), want, "{name}");
    }
}

#[test]
fn severity_graph_to_falcon_every_value_and_round_trip() {
    let cases = [
        (S::Informational, Some(10)),
        (S::Low, Some(30)),
        (S::Medium, Some(50)),
        (S::High, Some(70)),
        (S::Unknown, None),
        (S::UnknownFutureValue, None),
    ];
    for (sev, want) in cases {
        assert_eq!(severity_to_falcon(sev), want, "{sev}");
        // Graph → Falcon → Graph is lossless for every writable value.
        if let Some(n) = want {
            assert_eq!(severity_from_falcon(n), sev);
            let (lo, hi) = severity_band(sev).unwrap();
            assert!(n >= lo && hi.is_none_or(|h| n < h));
        } else {
            assert_eq!(severity_band(sev), None);
        }
    }
}

#[test]
fn critical_is_high_with_the_native_number_kept() {
    let a = native(serde_json::json!({
        "composite_id": "c:ind:1", "severity": 95, "severity_name": "Critical"
    }));
    let g = to_graph(&a, TENANT);
    assert_eq!(g.severity, S::High);
    assert_eq!(g.additional_data[FALCON_SEVERITY_KEY], 95);
    // Falcon → Graph → Falcon: the canonical number of `high` is 70, not 95 (the loss).
    assert_eq!(severity_to_falcon(g.severity), Some(70));
    // Out-of-range number: fall back to the name.
    let a =
        native(serde_json::json!({"composite_id": "x", "severity": 0, "severity_name": "Medium"}));
    assert_eq!(to_graph(&a, TENANT).severity, S::Medium);
    let a = native(serde_json::json!({"composite_id": "x"}));
    assert_eq!(to_graph(&a, TENANT).severity, S::Unknown);
}

// ---- status ------------------------------------------------------------------------------------

#[test]
fn status_falcon_to_graph_every_value() {
    let cases = [
        ("new", &[][..], St::NewAlert),
        ("reopened", &[], St::NewAlert), // lossy, native kept in additionalData
        ("in_progress", &[], St::InProgress),
        ("closed", &[], St::Resolved),
        ("closed", &[DISMISSED_TAG], St::Dismissed),
        ("new", &[DISMISSED_TAG], St::NewAlert),
        ("ignored", &[], St::Unknown),
        ("", &[], St::Unknown),
    ];
    for (s, t, want) in cases {
        assert_eq!(status_from_falcon(s, &tags(t)), want, "{s} {t:?}");
    }
    let g = to_graph(
        &native(serde_json::json!({"composite_id": "x", "status": "reopened"})),
        TENANT,
    );
    assert_eq!(g.status, St::NewAlert);
    assert_eq!(g.additional_data[FALCON_STATUS_KEY], "reopened");
}

#[test]
fn status_graph_to_falcon_every_value_and_round_trip() {
    // (target, current native, native to write)
    let cases = [
        (St::NewAlert, None, Some("new")),
        (St::NewAlert, Some("new"), Some("new")),
        (St::NewAlert, Some("in_progress"), Some("new")),
        (St::NewAlert, Some("closed"), Some("reopened")),
        (St::NewAlert, Some("reopened"), Some("reopened")),
        (St::InProgress, Some("new"), Some("in_progress")),
        (St::Resolved, Some("new"), Some("closed")),
        (St::Dismissed, Some("new"), Some("closed")),
        (St::Unknown, Some("new"), None),
        (St::UnknownFutureValue, Some("new"), None),
    ];
    for (target, current, want) in cases {
        assert_eq!(
            status_to_falcon(target, current),
            want,
            "{target} from {current:?}"
        );
    }
    // Graph → Falcon (native + tags the plan produces) → Graph is lossless for every writable
    // status, whatever the starting state.
    for start in ["new", "in_progress", "reopened", "closed"] {
        for start_tags in [vec![], vec![DISMISSED_TAG.to_string()]] {
            for target in [St::NewAlert, St::InProgress, St::Resolved, St::Dismissed] {
                let current = FalconAlert {
                    composite_id: "x".into(),
                    status: Some(start.into()),
                    tags: start_tags.clone(),
                    ..FalconAlert::default()
                };
                let change = AlertChange {
                    status: Some(target),
                    ..AlertChange::default()
                };
                let after = apply(&current, &plan_update(&current, &change).unwrap());
                assert_eq!(
                    status_from_falcon(after.status.as_deref().unwrap(), &after.tags),
                    target,
                    "{start} {start_tags:?} -> {target}"
                );
            }
        }
    }
    let anyof = [
        (St::NewAlert, Some(&["new", "reopened"][..])),
        (St::InProgress, Some(&["in_progress"][..])),
        (St::Resolved, Some(&["closed"][..])),
        (St::Dismissed, Some(&["closed"][..])),
        (St::Unknown, None),
        (St::UnknownFutureValue, None),
    ];
    for (s, want) in anyof {
        assert_eq!(status_to_falcon_any(s), want, "{s}");
    }
}

// ---- feedback ----------------------------------------------------------------------------------

#[test]
fn feedback_both_directions_every_value() {
    let read = [
        (&[][..], None),
        (&["true_positive"], Some(F::TruePositive)),
        (&["false_positive"], Some(F::FalsePositive)),
        (&["ignored"], Some(F::BenignPositive)),
        (&["ignored", "true_positive"], Some(F::TruePositive)), // first of the order wins
        (&["vip"], None),
    ];
    for (t, want) in read {
        assert_eq!(feedback_from_tags(&tags(t)), want, "{t:?}");
    }
    let write = [
        (F::TruePositive, Ok(Some("true_positive"))),
        (F::FalsePositive, Ok(Some("false_positive"))),
        (F::BenignPositive, Ok(Some("ignored"))),
        (F::Unknown, Ok(None)),
    ];
    for (f, want) in write {
        assert_eq!(feedback_to_tag(f), want.map(|o: Option<&str>| o), "{f}");
    }
    assert!(feedback_to_tag(F::UnknownFutureValue).is_err());
    // Round trip through a plan, from an alert that already has a different verdict.
    for target in [
        F::TruePositive,
        F::FalsePositive,
        F::BenignPositive,
        F::Unknown,
    ] {
        let current = FalconAlert {
            composite_id: "x".into(),
            tags: tags(&["vip", "ignored"]),
            ..FalconAlert::default()
        };
        let change = AlertChange {
            feedback: Some(target),
            ..AlertChange::default()
        };
        let after = apply(&current, &plan_update(&current, &change).unwrap());
        let want = if target == F::Unknown {
            None
        } else {
            Some(target)
        };
        assert_eq!(feedback_from_tags(&after.tags), want, "{target}");
        assert!(after.tags.contains(&"vip".to_string()));
    }
}

// ---- update planning ---------------------------------------------------------------------------

/// What Falcon does with the actions (as the contract describes them), for round-trip tests.
fn apply(a: &FalconAlert, actions: &[ActionParameter]) -> FalconAlert {
    let mut a = a.clone();
    for p in actions {
        let v = p.value.clone();
        match p.name {
            "update_status" => a.status = Some(v),
            "assign_to_name" => {
                a.assigned_to_name = Some(v);
                a.assigned_to_uid = None;
                a.assigned_to_uuid = None;
            }
            "assign_to_user_id" => {
                a.assigned_to_uid = Some(v);
                a.assigned_to_name = None;
            }
            "assign_to_uuid" => {
                a.assigned_to_uuid = Some(v);
                a.assigned_to_uid = None;
                a.assigned_to_name = None;
            }
            "unassign" => {
                a.assigned_to_name = None;
                a.assigned_to_uid = None;
                a.assigned_to_uuid = None;
            }
            "add_tag" => {
                if !a.tags.contains(&v) {
                    a.tags.push(v)
                }
            }
            "remove_tag" => a.tags.retain(|t| *t != v),
            "append_comment" => a.comments.push(FalconComment {
                value: Some(v),
                ..FalconComment::default()
            }),
            other => panic!("unexpected action {other}"),
        }
    }
    a
}

fn p(name: &'static str, value: &str) -> ActionParameter {
    ActionParameter::new(name, value)
}

#[test]
fn plan_sends_only_the_difference_and_is_idempotent() {
    let current = native(serde_json::json!({
        "composite_id": "c:ind:1",
        "status": "new",
        "tags": ["vip", "old", "true_positive"],
        "comments": [{"value": "first", "created_by": "x", "created_timestamp": "2024-05-01T10:00:00.123456789Z"}],
        "assigned_to_name": "Bob"
    }));
    let change = AlertChange {
        status: Some(St::InProgress),
        assigned_to: Some(Some("alice@contoso.com".into())),
        feedback: Some(F::FalsePositive),
        tags: Some(tags(&["vip", "new-tag"])),
        comments: Some(tags(&["first", "second", "second"])),
        closed_date_time: Some(Timestamp::parse("2024-05-02T00:00:00Z").ok()),
        ..AlertChange::default()
    };
    let plan = plan_update(&current, &change).unwrap();
    assert_eq!(
        plan,
        vec![
            p("update_status", "in_progress"),
            p("assign_to_user_id", "alice@contoso.com"),
            p("remove_tag", "true_positive"),
            p("remove_tag", "old"),
            p("add_tag", "false_positive"),
            p("add_tag", "new-tag"),
            p("append_comment", "second"),
            p("append_comment", "second"),
        ]
    );
    // The same change again, against the state it produced, sends nothing.
    let after = apply(&current, &plan);
    assert_eq!(plan_update(&after, &change).unwrap(), vec![]);
    let g = to_graph(&after, TENANT);
    assert_eq!(g.status, St::InProgress);
    assert_eq!(g.assigned_to.as_deref(), Some("alice@contoso.com"));
    assert_eq!(g.feedback, Some(F::FalsePositive));
    assert_eq!(g.tags, tags(&["vip", "new-tag"]));
    assert_eq!(g.comments, tags(&["first", "second", "second"]));
}

#[test]
fn plan_assignment_forms_and_unassign() {
    let base = FalconAlert {
        composite_id: "x".into(),
        ..FalconAlert::default()
    };
    for (who, action) in [
        ("Alice Anderson", "assign_to_name"),
        ("alice@contoso.com", "assign_to_user_id"),
        ("0d4c6b1e-2f3a-4b5c-8d9e-0a1b2c3d4e5f", "assign_to_uuid"),
        ("0d4c6b1e2f3a4b5c8d9e0a1b2c3d4e5f", "assign_to_uuid"),
    ] {
        let change = AlertChange {
            assigned_to: Some(Some(who.into())),
            ..AlertChange::default()
        };
        let plan = plan_update(&base, &change).unwrap();
        assert_eq!(plan, vec![p(action, who)]);
        // Graph → Falcon → Graph is lossless for each form.
        let after = apply(&base, &plan);
        assert_eq!(assignee(&after).as_deref(), Some(who));
        assert_eq!(plan_update(&after, &change).unwrap(), vec![]);
        // Unassign.
        let un = AlertChange {
            assigned_to: Some(None),
            ..AlertChange::default()
        };
        assert_eq!(plan_update(&after, &un).unwrap(), vec![p("unassign", "")]);
        assert_eq!(assignee(&apply(&after, &[p("unassign", "")])), None);
    }
    // Unassigning an unassigned alert, or assigning "", sends nothing.
    let un = AlertChange {
        assigned_to: Some(Some("  ".into())),
        ..AlertChange::default()
    };
    assert_eq!(plan_update(&base, &un).unwrap(), vec![]);
}

#[test]
fn plan_refuses_what_cannot_be_written() {
    let base = FalconAlert {
        composite_id: "x".into(),
        status: Some("new".into()),
        ..FalconAlert::default()
    };
    let bad = [
        AlertChange {
            status: Some(St::Unknown),
            ..AlertChange::default()
        },
        AlertChange {
            status: Some(St::UnknownFutureValue),
            ..AlertChange::default()
        },
        AlertChange {
            feedback: Some(F::UnknownFutureValue),
            ..AlertChange::default()
        },
        AlertChange {
            tags: Some(tags(&["ok", DISMISSED_TAG])),
            ..AlertChange::default()
        },
        AlertChange {
            tags: Some(tags(&["true_positive"])),
            ..AlertChange::default()
        },
        AlertChange {
            tags: Some(tags(&[""])),
            ..AlertChange::default()
        },
        AlertChange {
            comments: Some(tags(&[" "])),
            ..AlertChange::default()
        },
    ];
    for change in bad {
        assert!(plan_update(&base, &change).is_err(), "{change:?}");
    }
}

#[test]
fn comments_are_append_only_a_documented_loss() {
    let current = native(serde_json::json!({
        "composite_id": "x",
        "comments": [{"value": "a"}, {"value": "b"}]
    }));
    // Desired list without "a": nothing can remove it on Falcon.
    let change = AlertChange {
        comments: Some(tags(&["b", "c"])),
        ..AlertChange::default()
    };
    let plan = plan_update(&current, &change).unwrap();
    assert_eq!(plan, vec![p("append_comment", "c")]);
    assert_eq!(
        to_graph(&apply(&current, &plan), TENANT).comments,
        tags(&["a", "b", "c"])
    );
}

#[test]
fn closed_date_time_is_not_writable_and_derived_on_read() {
    let current = native(serde_json::json!({"composite_id": "x", "status": "new"}));
    let change = AlertChange {
        closed_date_time: Some(Timestamp::parse("2024-05-02T00:00:00Z").ok()),
        ..AlertChange::default()
    };
    assert_eq!(plan_update(&current, &change).unwrap(), vec![]);
    let closed = native(serde_json::json!({
        "composite_id": "x", "status": "closed",
        "created_timestamp": "2024-05-01T10:00:00.123456789Z", "seconds_to_resolved": 3600
    }));
    assert_eq!(
        to_graph(&closed, TENANT)
            .closed_date_time
            .map(|t| t.to_wire())
            .as_deref(),
        Some("2024-05-01T11:00:00.1234567Z")
    );
    let open = native(serde_json::json!({
        "composite_id": "x", "status": "in_progress",
        "created_timestamp": "2024-05-01T10:00:00Z", "seconds_to_resolved": 3600
    }));
    assert_eq!(to_graph(&open, TENANT).closed_date_time, None);
}

// ---- entity mapping ----------------------------------------------------------------------------

#[test]
fn endpoint_alert_maps_every_documented_field() {
    let a: FalconAlert = serde_json::from_str(
        r#"{
        "composite_id": "abc:ind:77d1:1234",
        "id": "ind:77d1:1234",
        "cid": "abc",
        "aggregate_id": "aggind:77d1:99",
        "name": "CredentialTheftViaLsass",
        "display_name": "Credential theft via LSASS",
        "description": "LSASS memory was read",
        "severity": 72, "severity_name": "High", "confidence": 80,
        "status": "closed",
        "assigned_to_name": "Alice Anderson", "assigned_to_uid": "alice@contoso.com",
        "tags": ["vip", "false_positive", "vigil/status/dismissed"],
        "comments": [{"value": "checked", "created_by": "alice", "created_timestamp": "2024-05-01T12:00:00Z"}],
        "created_timestamp": "2024-05-01T10:00:00.123456789Z",
        "updated_timestamp": "2024-05-01T12:00:00Z",
        "timestamp": "2024-05-01T09:59:00Z",
        "first_timestamp": "2024-05-01T09:58:00Z",
        "last_timestamp": "2024-05-01T09:59:30Z",
        "seconds_to_resolved": 7200,
        "product": "epp", "type": "ldt",
        "tactic": "Credential Access", "tactic_id": "TA0006",
        "technique": "OS Credential Dumping", "technique_id": "T1003",
        "scenario": "credential_theft", "objective": "Gain Access", "pattern_id": 51,
        "falcon_host_link": "https://falcon.crowdstrike.com/unified-detections/abc:ind:77d1:1234",
        "device": {"device_id": "77d1", "hostname": "WS01", "machine_domain": "contoso.com",
                   "local_ip": "10.0.0.5", "external_ip": "203.0.113.5",
                   "platform_name": "Windows", "os_version": "Windows 10", "agent_version": "7.1"},
        "user_name": "CONTOSO\\alice", "user_id": "S-1-5-21-1-2-3-1001", "user_principal": "alice@contoso.com",
        "filename": "procdump.exe", "filepath": "C:\\Tools\\procdump.exe",
        "cmdline": "procdump.exe -ma lsass.exe",
        "sha256": "aa", "md5": "bb", "process_id": "4242",
        "parent_details": {"filename": "cmd.exe", "filepath": "C:\\Windows\\System32\\cmd.exe",
                           "cmdline": "cmd.exe /c run.bat", "sha256": "cc", "process_id": 4000},
        "mitre_attack": [{"tactic_id": "TA0006", "tactic": "Credential Access",
                          "technique_id": "T1003", "technique": "OS Credential Dumping"}],
        "something_new": {"kept": true}
    }"#,
    )
    .unwrap();
    assert_eq!(a.extra["something_new"]["kept"], true);
    assert_eq!(a.device.as_ref().unwrap().extra["agent_version"], "7.1");
    let g = to_graph(&a, TENANT);
    assert_eq!(g.id, "abc:ind:77d1:1234");
    assert_eq!(g.azure_tenant_id, TENANT);
    assert_eq!(g.title.as_deref(), Some("Credential theft via LSASS"));
    assert_eq!(g.description.as_deref(), Some("LSASS memory was read"));
    assert_eq!(g.category.as_deref(), Some("credentialTheft"));
    assert_eq!(g.severity, S::High);
    assert_eq!(g.confidence, Some(80));
    assert_eq!(g.status, St::Dismissed);
    assert_eq!(g.feedback, Some(F::FalsePositive));
    assert_eq!(g.tags, tags(&["vip"]));
    assert_eq!(g.assigned_to.as_deref(), Some("alice@contoso.com"));
    assert_eq!(g.comments, tags(&["checked"]));
    let wire = |t: Option<Timestamp>| t.map(|t| t.to_wire());
    assert_eq!(
        wire(g.created_date_time).as_deref(),
        Some("2024-05-01T10:00:00.1234567Z")
    );
    assert_eq!(
        wire(g.last_modified_date_time).as_deref(),
        Some("2024-05-01T12:00:00Z")
    );
    assert_eq!(
        wire(g.event_date_time).as_deref(),
        Some("2024-05-01T09:59:00Z")
    );
    assert_eq!(
        wire(g.last_event_date_time).as_deref(),
        Some("2024-05-01T09:59:30Z")
    );
    assert_eq!(
        wire(g.closed_date_time).as_deref(),
        Some("2024-05-01T12:00:00.1234567Z")
    );
    assert_eq!(g.detection_ids, tags(&["aggind:77d1:99"]));
    assert_eq!(g.source_materials.len(), 1);
    assert_eq!(g.vendor_information.provider.as_deref(), Some("Falcon"));
    assert_eq!(g.vendor_information.vendor.as_deref(), Some("CrowdStrike"));
    assert_eq!(g.vendor_information.sub_provider.as_deref(), Some("epp"));
    let h = &g.host_states[0];
    assert_eq!(h.fqdn.as_deref(), Some("WS01.contoso.com"));
    assert_eq!(h.net_bios_name.as_deref(), Some("WS01"));
    assert_eq!(h.private_ip_address.as_deref(), Some("10.0.0.5"));
    assert_eq!(h.public_ip_address.as_deref(), Some("203.0.113.5"));
    assert_eq!(h.os.as_deref(), Some("Windows 10"));
    let u = &g.user_states[0];
    assert_eq!(u.account_name.as_deref(), Some("alice"));
    assert_eq!(u.domain_name.as_deref(), Some("CONTOSO"));
    assert_eq!(
        u.on_premises_security_identifier.as_deref(),
        Some("S-1-5-21-1-2-3-1001")
    );
    assert_eq!(u.user_principal_name.as_deref(), Some("alice@contoso.com"));
    assert_eq!(g.file_states.len(), 2);
    assert_eq!(g.file_states[0].path.as_deref(), Some("C:\\Tools"));
    assert_eq!(g.file_states[0].name.as_deref(), Some("procdump.exe"));
    let types: Vec<_> = g
        .file_states
        .iter()
        .map(|f| f.file_hash.as_ref().unwrap().hash_type)
        .collect();
    assert_eq!(
        types,
        vec![Some(FileHashType::Sha256), Some(FileHashType::Md5)]
    );
    assert_eq!(g.processes.len(), 2);
    assert_eq!(g.processes[0].process_id, Some(4242));
    assert_eq!(g.processes[0].parent_process_id, Some(4000));
    assert_eq!(
        g.processes[0].parent_process_name.as_deref(),
        Some("cmd.exe")
    );
    assert_eq!(
        g.processes[0].command_line.as_deref(),
        Some("procdump.exe -ma lsass.exe")
    );
    assert_eq!(
        g.processes[1].path.as_deref(),
        Some("C:\\Windows\\System32")
    );
    assert_eq!(
        g.processes[1].command_line.as_deref(),
        Some("cmd.exe /c run.bat")
    );
    let trig: Vec<_> = g
        .triggers
        .iter()
        .map(|t| t.value.clone().unwrap())
        .collect();
    assert_eq!(
        trig,
        vec!["TA0006 Credential Access", "T1003 OS Credential Dumping"]
    );
    assert_eq!(g.alert_detections[0].detection_type.as_deref(), Some("ldt"));
    // The Graph JSON carries the native numbers as open-type properties, once each.
    let json = serde_json::to_value(&g).unwrap();
    assert_eq!(json["falconSeverity"], 72);
    assert_eq!(json["falconStatus"], "closed");
    assert!(json.get("something_new").is_none());
}

#[test]
fn lenient_reading_never_fails_on_real_variations() {
    let a = native(serde_json::json!({
        "composite_id": "x", "tags": null, "comments": null, "mitre_attack": null,
        "created_timestamp": "", "process_id": "pid:123:abc", "device": null
    }));
    let g = to_graph(&a, TENANT);
    assert!(g.tags.is_empty() && g.comments.is_empty());
    assert_eq!(g.created_date_time, None);
    assert_eq!(g.processes[0].process_id, None); // not an Int32: lost
    assert!(g.host_states.is_empty());
    // A missing composite_id is an error, not an alert without an id.
    assert!(serde_json::from_value::<FalconAlert>(serde_json::json!({"id": "x"})).is_err());
    assert!(
        serde_json::from_value::<FalconAlert>(
            serde_json::json!({"composite_id": "x", "created_timestamp": "soon"})
        )
        .is_err()
    );
}

#[test]
fn real_fixture_maps() {
    let raw =
        include_str!("../../tests/fixtures/falcon/alerts_entities_v2_cloud_ioa_response.json");
    let env: Envelope<FalconAlert> = serde_json::from_str(raw).unwrap();
    assert_eq!(env.resources.len(), 2);
    assert!(env.errors.is_empty());
    assert_eq!(env.meta.trace_id.as_deref(), Some("trace-ioa-002"));
    let first = &env.resources[0];
    // Unnamed cloud fields survive in `extra`.
    assert_eq!(first.extra["cloud_provider"], "aws");
    assert_eq!(first.extra["source_ips"][0], "192.0.2.1");
    let g = to_graph(first, TENANT);
    assert_eq!(
        g.id,
        "00000000000000000000000000000001:fcs:ioa-211:00000000-0000-0000-0000-000000000002"
    );
    assert_eq!(g.azure_tenant_id, TENANT);
    assert_eq!(
        g.title.as_deref(),
        Some(
            "EC2 security group modified with new ingress rule allowing traffic from the public internet"
        )
    );
    assert_eq!(g.severity, S::High);
    assert_eq!(g.status, St::NewAlert);
    assert_eq!(g.vendor_information.sub_provider.as_deref(), Some("fcs"));
    assert_eq!(
        g.created_date_time.map(|t| t.to_wire()).as_deref(),
        Some("2026-04-20T22:49:16.583865Z")
    );
    assert_eq!(
        g.event_date_time.map(|t| t.to_wire()).as_deref(),
        Some("2026-04-20T22:49:13Z")
    );
    assert_eq!(
        g.last_event_date_time.map(|t| t.to_wire()).as_deref(),
        Some("2026-04-20T22:39:25Z")
    );
    assert_eq!(g.category.as_deref(), Some("Defense Evasion")); // no scenario: the tactic
    assert_eq!(
        g.triggers[1].value.as_deref(),
        Some("T1562.007 Impair Defenses: Disable or Modify Cloud Firewall")
    );
    // The cloud "device" has no host: no host state; the AWS user is a user state.
    assert!(g.host_states.is_empty());
    assert_eq!(g.user_states[0].account_name.as_deref(), Some("dummy-user"));
    assert_eq!(g.source_materials.len(), 1);
    assert_eq!(g.detection_ids, Vec::<String>::new()); // aggregate_id is ""
    assert_eq!(g.feedback, None);
    let second = to_graph(&env.resources[1], TENANT);
    assert_eq!(second.severity, S::Low);
    assert_eq!(second.title.as_deref(), Some("Another IOA"));
    assert!(second.user_states.is_empty() && second.file_states.is_empty());
}

// ---- configuration -----------------------------------------------------------------------------

fn config(json: serde_json::Value) -> Result<FalconConfig, serde_json::Error> {
    serde_json::from_value(json)
}

#[test]
fn config_defaults_and_validation() {
    let cfg = config(serde_json::json!({
        "name": "falcon", "tenant_id": TENANT,
        "credentials": {"client_id": "id", "client_secret": "s3cret"}
    }))
    .unwrap();
    assert_eq!(cfg.base_url, "https://api.crowdstrike.com");
    assert!(!format!("{cfg:?}").contains("s3cret"));
    let p = FalconProvider::new(cfg.clone()).unwrap();
    assert_eq!(p.info().kind, "falcon");
    assert_eq!(p.info().vendor, "CrowdStrike");
    assert_eq!(p.capabilities().paging, PagingStyle::OffsetThenFetch);
    assert!(!p.capabilities().writable_fields.contains(&"closedDateTime"));
    assert_eq!(p.base, "https://api.crowdstrike.com");

    for bad in [
        FalconConfig {
            base_url: "ftp://x".into(),
            ..cfg.clone()
        },
        FalconConfig {
            base_url: "not a url".into(),
            ..cfg.clone()
        },
        FalconConfig {
            base_url: "https://x/?a=b".into(),
            ..cfg.clone()
        },
        FalconConfig {
            name: " ".into(),
            ..cfg.clone()
        },
        FalconConfig {
            tenant_id: String::new(),
            ..cfg.clone()
        },
        FalconConfig {
            member_cid: Some("abc".into()),
            ..cfg.clone()
        },
        FalconConfig {
            credentials: FalconCredentials {
                client_id: "id".into(),
                client_secret: crate::Secret::new(""),
            },
            ..cfg.clone()
        },
    ] {
        let err = FalconProvider::new(bad).unwrap_err();
        assert!(matches!(err.kind, ProviderErrorKind::Config(_)), "{err}");
    }
    assert!(config(serde_json::json!({"name": "f", "tenant_id": "t", "credentials": {"client_id": "i", "client_secret": "s"}, "typo": 1})).is_err());
}

#[test]
fn cursor_is_a_decimal_offset() {
    let cfg = config(serde_json::json!({
        "name": "falcon", "tenant_id": TENANT,
        "credentials": {"client_id": "id", "client_secret": "s"}
    }))
    .unwrap();
    let p = FalconProvider::new(cfg).unwrap();
    assert_eq!(p.parse_cursor(None).unwrap(), 0);
    assert_eq!(p.parse_cursor(Some("250")).unwrap(), 250);
    for bad in ["", "-1", "+5", "abc", "1e3", "99999999999999999999", " 5"] {
        let err = p.parse_cursor(Some(bad)).unwrap_err();
        assert!(
            matches!(err.kind, ProviderErrorKind::InvalidCursor(_)),
            "{bad}"
        );
        assert_eq!(err.provider, "falcon");
    }
}
