//! Fingerprint and merge: the gateway's de-duplication, as a pure function of the alert set.

use crate::props;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use vigil_model::merge::*;
use vigil_model::*;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// A realistic alert: `host` (fqdn), `user` (UPN), one file hash, at `minute` past 08:00.
fn alert(id: &str, minute: u32, host: &str, user: &str, hash: &str) -> Alert {
    serde_json::from_value(json!({
        "id": id,
        "azureTenantId": TENANT,
        "category": "CredentialAccess",
        "title": format!("Suspicious LSASS access ({id})"),
        "severity": "medium",
        "status": "newAlert",
        "createdDateTime": format!("2024-04-30T08:{:02}:30Z", minute + 1),
        "eventDateTime": format!("2024-04-30T08:{minute:02}:00Z"),
        "lastModifiedDateTime": format!("2024-04-30T08:{:02}:00Z", minute + 2),
        "hostStates": [{"fqdn": host}],
        "userStates": [{"userPrincipalName": user}],
        "fileStates": [{"name": "procdump64.exe", "fileHash": {"hashType": "sha256", "hashValue": hash}}],
        "vendorInformation": {"provider": format!("{id}-product"), "vendor": "Vendor"}
    }))
    .unwrap()
}

fn sourced(provider: &str, alert: Alert) -> SourcedAlert {
    SourcedAlert {
        provider: provider.into(),
        alert,
    }
}

fn merge_default(alerts: Vec<SourcedAlert>) -> Vec<Alert> {
    merge(alerts, &FingerprintRule::default())
}

fn source_pairs(a: &Alert) -> Vec<(String, String)> {
    VigilSource::of(a)
        .into_iter()
        .map(|s| (s.provider, s.provider_alert_id))
        .collect()
}

const H1: &str = "8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec";
const H2: &str = "00a1cf85c6ab96df38a4023f0cee4df60f62280768fc9c06a235e6d2d644169d";

#[test]
fn single_source_alert_keeps_its_id_and_gains_provenance() {
    let a = alert("da6381_1", 0, "ws-1.contoso.com", "jdoe@contoso.com", H1);
    let out = merge_default(vec![sourced("mde-eu", a.clone())]);
    assert_eq!(out.len(), 1);
    let m = &out[0];
    assert_eq!(m.id, "da6381_1");
    let mut without_ext = m.clone();
    without_ext.additional_data.clear();
    assert_eq!(without_ext, a, "nothing but the extension is added");
    assert_eq!(
        m.additional_data[VIGIL_SOURCES],
        json!([{"provider": "mde-eu", "vendor": "Vendor", "product": "da6381_1-product",
                "providerAlertId": "da6381_1", "status": "newAlert", "severity": "medium"}])
    );
    assert_eq!(m.additional_data[VIGIL_FIELD_SOURCES], json!({}));
    // on the wire the extension follows the declared properties
    let v = serde_json::to_value(m).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[40..], [VIGIL_SOURCES, VIGIL_FIELD_SOURCES]);
}

#[test]
fn exact_duplicates_from_one_provider_appear_once_latest_copy_wins() {
    let old = alert("a1", 0, "ws-1", "jdoe@contoso.com", H1);
    let mut new = old.clone();
    new.status = AlertStatus::InProgress;
    new.last_modified_date_time = Timestamp::parse("2024-04-30T09:00:00Z").ok();
    for input in [
        vec![
            sourced("p", old.clone()),
            sourced("p", new.clone()),
            sourced("p", old.clone()),
        ],
        vec![sourced("p", new.clone()), sourced("p", old.clone())],
    ] {
        let out = merge_default(input);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, AlertStatus::InProgress);
        assert_eq!(out[0].id, "a1");
    }
    // the same id from another provider is another alert (and here a cross-provider duplicate)
    let out = merge_default(vec![sourced("p", old.clone()), sourced("q", old)]);
    assert_eq!(out.len(), 1);
    assert_eq!(source_pairs(&out[0]).len(), 2);
}

#[test]
fn cross_provider_duplicate_folds_with_documented_precedence() {
    let mut mde = alert(
        "da6381_1",
        5,
        "WS-FIN-042.corp.contoso.com",
        "jdoe@contoso.com",
        H1,
    );
    mde.severity = AlertSeverity::Medium;
    mde.status = AlertStatus::InProgress;
    mde.assigned_to = Some("analyst@contoso.com".into());
    mde.tags = vec!["HVA".into()];
    mde.comments = vec!["seen".into(), "seen".into()];
    mde.confidence = Some(60);
    mde.additional_data.insert("riskScore".into(), json!(null));

    let mut falcon = alert(
        "ldt:abc:123",
        7,
        "ws-fin-042",
        "jdoe@contoso.com",
        &H1.to_uppercase(),
    );
    falcon.host_states[0].fqdn = None;
    falcon.host_states[0].net_bios_name = Some("WS-FIN-042".into());
    falcon.severity = AlertSeverity::High;
    falcon.status = AlertStatus::NewAlert;
    falcon.tags = vec!["HVA".into(), "Finance".into()];
    falcon.confidence = Some(90);
    falcon.category = Some("credential_access".into());
    falcon.feedback = Some(AlertFeedback::TruePositive);
    falcon.description = Some("Falcon detection".into());
    falcon.last_modified_date_time = Timestamp::parse("2024-04-30T10:00:00Z").ok();
    falcon.additional_data.insert("riskScore".into(), json!(80));

    let out = merge_default(vec![
        sourced("mde-eu", mde.clone()),
        sourced("falcon", falcon.clone()),
    ]);
    assert_eq!(out.len(), 1, "{out:#?}");
    let m = &out[0];

    assert_eq!(
        m.id,
        unified_id([("mde-eu", "da6381_1"), ("falcon", "ldt:abc:123")])
    );
    assert_eq!(m.severity, AlertSeverity::High, "highest severity");
    assert_eq!(m.status, AlertStatus::InProgress, "most advanced status");
    assert_eq!(m.confidence, Some(90));
    assert_eq!(m.feedback, Some(AlertFeedback::TruePositive));
    assert_eq!(m.event_date_time, mde.event_date_time, "earliest event");
    assert_eq!(
        m.created_date_time, mde.created_date_time,
        "earliest creation"
    );
    assert_eq!(
        m.last_modified_date_time, falcon.last_modified_date_time,
        "latest change"
    );
    // falcon is fresher: its scalars win where both have one, mde fills the gaps
    assert_eq!(m.category.as_deref(), Some("credential_access"));
    assert_eq!(m.title, falcon.title);
    assert_eq!(m.assigned_to.as_deref(), Some("analyst@contoso.com"));
    assert_eq!(m.vendor_information, falcon.vendor_information);
    assert_eq!(m.azure_tenant_id, TENANT);
    // collections: union, de-duplicated across sources, a source's own repeats kept
    assert_eq!(m.tags, ["HVA", "Finance"]);
    assert_eq!(m.comments, ["seen", "seen"]);
    assert_eq!(m.host_states.len(), 2);
    assert_eq!(
        m.file_states.len(),
        2,
        "hash spelled differently: both states kept"
    );
    assert_eq!(m.user_states.len(), 1, "equal user states fold");
    // undeclared properties: freshest wins
    assert_eq!(m.additional_data["riskScore"], json!(80));

    assert_eq!(
        m.additional_data[VIGIL_SOURCES],
        json!([
            {"provider": "falcon", "vendor": "Vendor", "product": "ldt:abc:123-product",
             "providerAlertId": "ldt:abc:123", "status": "newAlert", "severity": "high"},
            {"provider": "mde-eu", "vendor": "Vendor", "product": "da6381_1-product",
             "providerAlertId": "da6381_1", "status": "inProgress", "severity": "medium"}
        ])
    );
    assert_eq!(
        m.additional_data[VIGIL_FIELD_SOURCES],
        json!({
            "assignedTo": "mde-eu",
            "category": "falcon",
            "confidence": "falcon",
            "createdDateTime": "mde-eu",
            "description": "falcon",
            "eventDateTime": "mde-eu",
            "feedback": "falcon",
            "lastModifiedDateTime": "falcon",
            "severity": "falcon",
            "status": "mde-eu",
            "title": "falcon",
            "vendorInformation": "falcon"
        })
    );
    let sources = VigilSource::of(m);
    assert_eq!(sources[1].status, AlertStatus::InProgress);

    // input order does not matter
    let again = merge_default(vec![sourced("falcon", falcon), sourced("mde-eu", mde)]);
    assert_eq!(again, out);
}

#[test]
fn each_strong_entity_kind_alone_is_enough() {
    let base = |id| {
        let mut a = alert(id, 0, "h", "u@x", H1);
        a.host_states.clear();
        a.user_states.clear();
        a.file_states.clear();
        a
    };
    // file hash only, via a process
    let mut a = base("a");
    a.processes = vec![Process {
        file_hash: Some(FileHash {
            hash_type: Some(FileHashType::Sha1),
            hash_value: Some("5F1E8ACEDC065031AAD553B710838EB366CFEE9A".into()),
        }),
        ..Default::default()
    }];
    let mut b = base("b");
    b.file_states = vec![FileSecurityState {
        file_hash: Some(FileHash {
            hash_type: Some(FileHashType::Sha1),
            hash_value: Some("5f1e8acedc065031aad553b710838eb366cfee9a".into()),
        }),
        ..Default::default()
    }];
    assert_eq!(
        merge_default(vec![sourced("p", a), sourced("q", b)]).len(),
        1
    );

    // host + user, across fqdn/NetBIOS and UPN/DOMAIN\account spellings
    let mut a = base("a");
    a.host_states = vec![HostSecurityState {
        fqdn: Some("WS-1.corp.contoso.com".into()),
        ..Default::default()
    }];
    a.user_states = vec![UserSecurityState {
        user_principal_name: Some("JDoe@contoso.com".into()),
        ..Default::default()
    }];
    let mut b = base("b");
    b.host_states = vec![HostSecurityState {
        net_bios_name: Some("ws-1".into()),
        ..Default::default()
    }];
    b.user_states = vec![UserSecurityState {
        account_name: Some(r"CONTOSO\jdoe".into()),
        ..Default::default()
    }];
    assert_eq!(
        merge_default(vec![sourced("p", a.clone()), sourced("q", b.clone())]).len(),
        1
    );
    // host alone is not a strong entity by default
    b.user_states[0].account_name = Some("someone.else".into());
    assert_eq!(
        merge_default(vec![sourced("p", a.clone()), sourced("q", b.clone())]).len(),
        2
    );
    // ... but can be configured
    let host_rule = FingerprintRule {
        entities: vec![EntityKind::Host],
        ..Default::default()
    };
    assert_eq!(
        merge(vec![sourced("p", a), sourced("q", b)], &host_rule).len(),
        1
    );

    // IP of an involved host or logon, IPv4-mapped IPv6 spelling included
    let mut a = base("a");
    a.host_states = vec![HostSecurityState {
        public_ip_address: Some("203.0.113.17".into()),
        ..Default::default()
    }];
    let mut b = base("b");
    b.user_states = vec![UserSecurityState {
        logon_ip: Some("::ffff:203.0.113.17".into()),
        ..Default::default()
    }];
    assert_eq!(
        merge_default(vec![sourced("p", a), sourced("q", b)]).len(),
        1
    );
}

#[test]
fn weak_or_missing_evidence_does_not_merge() {
    let base = |id| {
        let mut a = alert(id, 0, "h", "u@x", H1);
        a.host_states.clear();
        a.user_states.clear();
        a.file_states.clear();
        a
    };
    // loopback (the redacted value of captured responses) identifies nothing
    let mut a = base("a");
    a.host_states = vec![HostSecurityState {
        private_ip_address: Some("127.0.0.1".into()),
        ..Default::default()
    }];
    let b = {
        let mut b = base("b");
        b.host_states = a.host_states.clone();
        b
    };
    assert_eq!(
        merge_default(vec![sourced("p", a), sourced("q", b)]).len(),
        2
    );

    // network endpoints are not counted by default (popular services), only when configured
    let mut a = base("a");
    a.network_connections = vec![NetworkConnection {
        destination_address: Some("52.96.166.130".into()),
        ..Default::default()
    }];
    let b = {
        let mut b = base("b");
        b.cloud_app_states = vec![CloudAppSecurityState {
            destination_service_ip: Some("52.96.166.130".into()),
            ..Default::default()
        }];
        b
    };
    assert_eq!(
        merge_default(vec![sourced("p", a.clone()), sourced("q", b.clone())]).len(),
        2
    );
    let rule = FingerprintRule {
        entities: vec![EntityKind::NetworkIp],
        ..Default::default()
    };
    assert_eq!(
        merge(vec![sourced("p", a), sourced("q", b)], &rule).len(),
        1
    );

    // no event or creation time: never folded
    let mut a = alert("a", 0, "h", "u@x", H1);
    let mut b = alert("b", 0, "h", "u@x", H1);
    a.event_date_time = None;
    a.created_date_time = None;
    b.event_date_time = None;
    b.created_date_time = None;
    assert_eq!(
        merge_default(vec![sourced("p", a), sourced("q", b)]).len(),
        2
    );
}

#[test]
fn window_tenant_category_and_provider_rules() {
    let a = alert("a", 0, "h", "u@x", H1);
    // 31 minutes apart: outside the default 30-minute window
    let mut late = alert("b", 0, "h", "u@x", H1);
    late.event_date_time = Timestamp::parse("2024-04-30T08:31:00Z").ok();
    assert_eq!(
        merge_default(vec![sourced("p", a.clone()), sourced("q", late.clone())]).len(),
        2
    );
    let wide = FingerprintRule {
        window_seconds: 3600,
        ..Default::default()
    };
    assert_eq!(
        merge(vec![sourced("p", a.clone()), sourced("q", late)], &wide).len(),
        1
    );
    // exactly 30 minutes is inside
    let mut edge = alert("b", 0, "h", "u@x", H1);
    edge.event_date_time = Timestamp::parse("2024-04-30T08:30:00Z").ok();
    assert_eq!(
        merge_default(vec![sourced("p", a.clone()), sourced("q", edge)]).len(),
        1
    );

    // other tenant; the tenant id's case does not matter
    let mut other = alert("b", 0, "h", "u@x", H1);
    other.azure_tenant_id = "00000000-0000-0000-0000-000000000001".into();
    assert_eq!(
        merge_default(vec![sourced("p", a.clone()), sourced("q", other)]).len(),
        2
    );
    let mut upper = alert("b", 0, "h", "u@x", H1);
    upper.azure_tenant_id = TENANT.to_uppercase();
    assert_eq!(
        merge_default(vec![sourced("p", a.clone()), sourced("q", upper)]).len(),
        1
    );

    // category: different → separate; missing or "None" → compatible; configurable
    let mut malware = alert("b", 0, "h", "u@x", H1);
    malware.category = Some("Malware".into());
    assert_eq!(
        merge_default(vec![sourced("p", a.clone()), sourced("q", malware.clone())]).len(),
        2
    );
    let lax = FingerprintRule {
        require_compatible_category: false,
        ..Default::default()
    };
    assert_eq!(
        merge(vec![sourced("p", a.clone()), sourced("q", malware)], &lax).len(),
        1
    );
    for none in [None, Some("None".to_string())] {
        let mut b = alert("b", 0, "h", "u@x", H1);
        b.category = none;
        assert_eq!(
            merge_default(vec![sourced("p", a.clone()), sourced("q", b)]).len(),
            1
        );
    }
    // a wildcard category cannot bridge two different categories into one group
    let mut c = alert("c", 1, "h", "u@x", H1);
    c.category = Some("Malware".into());
    let mut bridge = alert("b", 0, "h", "u@x", H1);
    bridge.category = None;
    let out = merge_default(vec![
        sourced("p", a.clone()),
        sourced("q", bridge),
        sourced("r", c),
    ]);
    assert_eq!(out.len(), 2);

    // title when configured
    let strict = FingerprintRule {
        require_same_title: true,
        ..Default::default()
    };
    let b = alert("b", 0, "h", "u@x", H1);
    assert_eq!(
        merge(
            vec![sourced("p", a.clone()), sourced("q", b.clone())],
            &strict
        )
        .len(),
        2
    );
    let mut same_title = b;
    same_title.title = Some("suspicious lsass access (A)".into());
    assert_eq!(
        merge(
            vec![sourced("p", a.clone()), sourced("q", same_title)],
            &strict
        )
        .len(),
        1
    );

    // two alerts of one provider never pair with each other...
    let b = alert("b", 1, "h", "u@x", H1);
    assert_eq!(
        merge_default(vec![sourced("p", a.clone()), sourced("p", b.clone())]).len(),
        2
    );
    // ...and a third provider's alert joins the closer one only
    let mut c = alert("c", 0, "h", "u@x", H1);
    c.event_date_time = Timestamp::parse("2024-04-30T08:00:20Z").ok();
    let out = merge_default(vec![
        sourced("p", a.clone()),
        sourced("p", b.clone()),
        sourced("q", c.clone()),
    ]);
    assert_eq!(out.len(), 2);
    let merged = out.iter().find(|m| source_pairs(m).len() == 2).unwrap();
    assert_eq!(
        source_pairs(merged),
        [("p".into(), "a".into()), ("q".into(), "c".into())]
    );
    // unless the rule allows several alerts per provider
    let chain = FingerprintRule {
        one_alert_per_provider: false,
        ..Default::default()
    };
    assert_eq!(
        merge(
            vec![sourced("p", a), sourced("p", b), sourced("q", c)],
            &chain
        )
        .len(),
        1
    );
}

#[test]
fn fingerprint_rule_config() {
    let rule: FingerprintRule = serde_json::from_value(json!({})).unwrap();
    assert_eq!(rule, FingerprintRule::default());
    assert_eq!(
        rule.entities,
        [EntityKind::FileHash, EntityKind::HostUser, EntityKind::Ip]
    );
    assert_eq!(rule.window_seconds, 1800);
    assert!(rule.require_compatible_category && rule.one_alert_per_provider);
    assert!(!rule.require_same_title);

    let custom: FingerprintRule = serde_json::from_value(json!({
        "entities": ["file_hash", "host", "user", "network_ip"],
        "window_seconds": 600
    }))
    .unwrap();
    assert_eq!(custom.entities.len(), 4);
    assert_eq!(custom.window_seconds, 600);
    assert!(custom.require_compatible_category);

    let err = serde_json::from_value::<FingerprintRule>(json!({"window": 5})).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
    let err = serde_json::from_value::<FingerprintRule>(json!({"entities": ["mac"]})).unwrap_err();
    assert!(err.to_string().contains("unknown variant"), "{err}");
}

#[test]
fn unified_id_is_pinned() {
    // Persisted by the gateway: a change of namespace or encoding must fail here.
    assert_eq!(
        unified_id([("mde-eu", "da6381_1"), ("falcon", "ldt:abc:123")]),
        PINNED_ID
    );
}
/// Computed independently (Python `uuid`, SHA-1 over namespace + length-prefixed pairs).
const PINNED_ID: &str = "fe6bb51f-410f-50dc-b891-08a69a63860c";

#[test]
fn empty_input_gives_empty_output() {
    assert!(merge_default(Vec::new()).is_empty());
}

// ---- properties -----------------------------------------------------------------------------

/// Alerts drawn from small pools of providers, ids, tenants, hosts, users, hashes, IPs,
/// categories and times, on top of fully random alerts, so that exact duplicates, cross-provider
/// duplicates, near misses and conflicts all occur.
fn pooled_alert() -> impl Strategy<Value = SourcedAlert> {
    (
        props::alert(),
        prop::sample::select(vec!["mde", "falcon", "s1", "sentinel"]),
        0u8..6,
        prop::sample::select(vec![TENANT, "tenant-b"]),
        0i64..120,
        prop::sample::select(vec![
            None,
            Some("Malware"),
            Some("malware"),
            Some("CredentialAccess"),
            Some("None"),
        ]),
        (
            0u8..4,
            0u8..4,
            0u8..3,
            prop::sample::select(vec![
                "10.0.0.5",
                "127.0.0.1",
                "203.0.113.9",
                "::ffff:10.0.0.5",
            ]),
        ),
        0i64..4,
    )
        .prop_map(
            |(mut a, provider, id, tenant, minute, category, (host, user, hash, ip), modified)| {
                a.id = format!("{provider}-{id}");
                a.azure_tenant_id = tenant.into();
                let base = Timestamp::parse("2024-04-30T08:00:00Z").unwrap().0;
                a.event_date_time = Some(Timestamp(base + chrono::Duration::minutes(minute)));
                a.created_date_time = a.event_date_time;
                a.last_modified_date_time =
                    Some(Timestamp(base + chrono::Duration::hours(modified)));
                a.category = category.map(Into::into);
                a.host_states.push(HostSecurityState {
                    fqdn: Some(format!("host{host}.contoso.com")),
                    private_ip_address: Some(ip.into()),
                    ..Default::default()
                });
                a.user_states.push(UserSecurityState {
                    user_principal_name: Some(format!("user{user}@contoso.com")),
                    ..Default::default()
                });
                a.file_states.push(FileSecurityState {
                    file_hash: Some(FileHash {
                        hash_type: Some(FileHashType::Sha256),
                        hash_value: Some(format!("{hash:064x}")),
                    }),
                    ..Default::default()
                });
                // providers never send our extension; a stray one would be replaced anyway
                a.additional_data.retain(|k, _| !k.starts_with("vigil"));
                SourcedAlert {
                    provider: provider.into(),
                    alert: a,
                }
            },
        )
}

fn input_pairs(input: &[SourcedAlert]) -> BTreeSet<(String, String)> {
    input
        .iter()
        .map(|s| (s.provider.clone(), s.alert.id.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merge_is_order_independent(
        (input, shuffled) in prop::collection::vec(pooled_alert(), 0..24)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        let rule = FingerprintRule::default();
        let a = merge(input, &rule);
        let b = merge(shuffled, &rule);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn exact_duplicates_are_idempotent(input in prop::collection::vec(pooled_alert(), 0..16)) {
        let rule = FingerprintRule::default();
        let once = merge(input.clone(), &rule);
        let mut twice = input.clone();
        twice.extend(input);
        prop_assert_eq!(merge(twice, &rule), once);
    }

    #[test]
    fn provenance_is_complete_and_ids_are_stable(
        input in prop::collection::vec(pooled_alert(), 0..24)
    ) {
        let rule = FingerprintRule::default();
        let pairs = input_pairs(&input);
        let out = merge(input, &rule);

        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut ids = BTreeSet::new();
        for m in &out {
            let sources = VigilSource::of(m);
            prop_assert!(!sources.is_empty());
            let mut providers = BTreeSet::new();
            for s in &sources {
                *seen.entry((s.provider.clone(), s.provider_alert_id.clone())).or_default() += 1;
                prop_assert!(providers.insert(s.provider.clone()), "one alert per provider");
            }
            let listed: Vec<(String, String)> = sources
                .iter()
                .map(|s| (s.provider.clone(), s.provider_alert_id.clone()))
                .collect();
            let mut sorted = listed.clone();
            sorted.sort();
            prop_assert_eq!(&listed, &sorted, "sources sorted");
            if sources.len() == 1 {
                prop_assert_eq!(&m.id, &sources[0].provider_alert_id);
                prop_assert_eq!(&m.additional_data[VIGIL_FIELD_SOURCES], &json!({}));
            } else {
                let expected = unified_id(listed.iter().map(|(p, i)| (p.as_str(), i.as_str())));
                prop_assert_eq!(&m.id, &expected);
                let field_sources = m.additional_data[VIGIL_FIELD_SOURCES].as_object().unwrap();
                for provider in field_sources.values() {
                    let named = provider.as_str().unwrap();
                    prop_assert!(sources.iter().any(|s| s.provider == named));
                }
                // the folded alert is at least as severe as every source
                for s in &sources {
                    prop_assert!(rank(m.severity) >= rank(s.severity));
                }
            }
            prop_assert!(ids.insert((m.id.clone(), sources.len() == 1)));
        }
        // every distinct (provider, id) is represented exactly once
        prop_assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), pairs);
        prop_assert!(seen.values().all(|&n| n == 1));
        // output sorted by id, and serializable as Graph JSON
        prop_assert!(out.windows(2).all(|w| w[0].id <= w[1].id));
        for m in &out {
            let v = serde_json::to_value(m).unwrap();
            prop_assert!(v[VIGIL_SOURCES].is_array());
            let back: Alert = serde_json::from_value(v).unwrap();
            prop_assert_eq!(&back, m);
        }
    }
}

fn rank(s: AlertSeverity) -> u8 {
    match s {
        AlertSeverity::High => 4,
        AlertSeverity::Medium => 3,
        AlertSeverity::Low => 2,
        AlertSeverity::Informational => 1,
        _ => 0,
    }
}

#[test]
fn merged_value_matches_json_shape() {
    // Values, not just types: the extension serializes as documented.
    let out = merge_default(vec![
        sourced("p", alert("a", 0, "h", "u@x", H2)),
        sourced("q", alert("b", 3, "h", "u@x", H2)),
    ]);
    let v = serde_json::to_value(&out[0]).unwrap();
    let sources = v[VIGIL_SOURCES].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    for s in sources {
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "provider",
                "vendor",
                "product",
                "providerAlertId",
                "status",
                "severity"
            ]
        );
    }
    assert!(v[VIGIL_FIELD_SOURCES].is_object());
    assert_eq!(v["id"], Value::String(out[0].id.clone()));
}
