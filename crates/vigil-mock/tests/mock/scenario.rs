//! The generated data: reproducibility, volume, coverage of the schema, duplicate ground truth.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use vigil_mock::{CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID, ProviderKind, Scenario, ScenarioConfig};

fn alerts_json(s: &Scenario, k: ProviderKind) -> Value {
    serde_json::to_value(&s.data(k).alerts).unwrap()
}

#[test]
fn same_seed_same_data_different_seed_different_data() {
    let cfg = ScenarioConfig {
        alerts_per_tenant: 50,
        ..ScenarioConfig::default()
    };
    let a = Scenario::generate(&cfg);
    let b = Scenario::generate(&cfg);
    for k in ProviderKind::ALL {
        assert_eq!(alerts_json(&a, k), alerts_json(&b, k), "{k:?}");
        assert_eq!(
            serde_json::to_value(&a.data(k).risky_users).unwrap(),
            serde_json::to_value(&b.data(k).risky_users).unwrap()
        );
        assert_eq!(
            serde_json::to_value(&a.data(k).risk_detections).unwrap(),
            serde_json::to_value(&b.data(k).risk_detections).unwrap()
        );
    }
    assert_eq!(a.duplicate_groups(), b.duplicate_groups());
    let c = Scenario::generate(&ScenarioConfig { seed: 43, ..cfg });
    for k in ProviderKind::ALL {
        assert_ne!(alerts_json(&a, k), alerts_json(&c, k), "{k:?}");
    }
    assert_ne!(a.duplicate_groups(), c.duplicate_groups());
}

#[test]
fn default_volume_tenants_and_native_ids() {
    let s = Scenario::generate(&ScenarioConfig::default());
    let tenants: Vec<&str> = s.tenants().iter().map(|t| t.id.as_str()).collect();
    assert_eq!(tenants, [CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID]);
    let mut all_ids = HashSet::new();
    for k in ProviderKind::ALL {
        let d = s.data(k);
        for t in &tenants {
            assert_eq!(d.alerts_of(t).count(), 300, "{k:?} {t}");
        }
        for a in &d.alerts {
            assert!(all_ids.insert(a.id.clone()), "duplicate id {}", a.id);
            assert!(uuid::Uuid::parse_str(&a.azure_tenant_id).is_ok());
            let vi = &a.vendor_information;
            assert!(vi.provider.is_some() && vi.vendor.is_some());
            match k {
                ProviderKind::Graph => {
                    assert_eq!(vi.vendor.as_deref(), Some("Microsoft"));
                    if vi.provider.as_deref() == Some("Microsoft Defender ATP") {
                        let (ticks, n) = a.id.strip_prefix("da").unwrap().split_once('_').unwrap();
                        assert_eq!(ticks.len(), 18, "{}", a.id);
                        assert!(ticks.starts_with("639"), "ticks of 2026: {}", a.id);
                        n.parse::<i32>().unwrap();
                    }
                }
                ProviderKind::Falcon => {
                    let parts: Vec<&str> = a.id.split(':').collect();
                    assert_eq!(parts.len(), 4, "{}", a.id);
                    assert_eq!(parts[1], "ind");
                    assert_eq!(parts[0].len(), 32);
                    assert_eq!(parts[2].len(), 32);
                    assert!(parts[3].parse::<u64>().is_ok());
                    assert_eq!(vi.provider.as_deref(), Some("Falcon"));
                    assert_eq!(vi.vendor.as_deref(), Some("CrowdStrike"));
                }
                ProviderKind::Ocsf => {
                    assert!(uuid::Uuid::parse_str(&a.id).is_ok(), "{}", a.id);
                }
            }
        }
    }
    let providers: HashSet<&str> = s
        .data(ProviderKind::Graph)
        .alerts
        .iter()
        .filter_map(|a| a.vendor_information.provider.as_deref())
        .collect();
    for p in [
        "Microsoft Defender ATP",
        "IPC",
        "MCAS",
        "Azure Sentinel",
        "ASC",
    ] {
        assert!(providers.contains(p), "missing graph product {p}");
    }
    let ocsf_products: HashSet<&str> = s
        .data(ProviderKind::Ocsf)
        .alerts
        .iter()
        .filter_map(|a| a.vendor_information.provider.as_deref())
        .collect();
    for p in ["Prowler", "GuardDuty", "Okta System Log"] {
        assert!(ocsf_products.contains(p), "missing ocsf product {p}");
    }
    // Identity: Graph and OCSF, 40 risky users and 150 detections per tenant; Falcon none.
    for k in [ProviderKind::Graph, ProviderKind::Ocsf] {
        for t in &tenants {
            assert_eq!(s.data(k).risky_users_of(t).count(), 40);
            assert_eq!(s.data(k).risk_detections_of(t).count(), 150);
            assert!(s.data(k).risky_user_history_of(t).count() >= 40);
        }
    }
    assert!(s.data(ProviderKind::Falcon).risky_users.is_empty());
    // Times fall in the 30 days before the epoch.
    let epoch = s.epoch();
    for a in &s.data(ProviderKind::Graph).alerts {
        let ev = a.event_date_time.unwrap().0;
        assert!(ev < epoch && ev > epoch - chrono::Duration::days(31));
    }
}

/// Every nested type (and every optional scalar) shows up somewhere, even at tiny volume.
#[test]
fn every_nested_type_appears_in_graph_data() {
    for alerts_per_tenant in [1, 300] {
        let s = Scenario::generate(&ScenarioConfig {
            alerts_per_tenant,
            ..ScenarioConfig::default()
        });
        let alerts = alerts_json(&s, ProviderKind::Graph);
        let alerts = alerts.as_array().unwrap();
        for name in vigil_model::Alert::PROPERTY_NAMES {
            let present = alerts.iter().any(|a| match &a[name] {
                Value::Null => false,
                Value::Array(v) => !v.is_empty(),
                _ => true,
            });
            assert!(
                present,
                "{name} never set (alerts_per_tenant={alerts_per_tenant})"
            );
        }
        // Nested scalars too (e.g. every member of processes is filled somewhere).
        for (coll, field) in [
            ("hostStates", "isAzureAdJoined"),
            ("userStates", "onPremisesSecurityIdentifier"),
            ("processes", "commandLine"),
            ("networkConnections", "destinationDomain"),
            ("registryKeyStates", "hive"),
            ("messageSecurityStates", "internetMessageId"),
            ("uriClickSecurityStates", "verdict"),
            ("fileStates", "fileHash"),
        ] {
            assert!(
                alerts.iter().any(|a| a[coll]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|i| !i[field].is_null()))),
                "{coll}/{field}"
            );
        }
    }
}

#[test]
fn duplicate_ground_truth_matches_the_data() {
    let s = Scenario::generate(&ScenarioConfig::default());
    let groups = s.duplicate_groups();
    let mut per_tenant: HashMap<&str, usize> = HashMap::new();
    let mut three = 0;
    for g in &groups {
        *per_tenant.entry(g.tenant_id.as_str()).or_default() += 1;
        assert!((2..=3).contains(&g.members.len()));
        if g.members.len() == 3 {
            three += 1;
        }
        let kinds: HashSet<ProviderKind> = g.members.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds.len(), g.members.len(), "distinct providers");
        let alerts: Vec<&vigil_model::Alert> = g
            .members
            .iter()
            .map(|(k, id)| {
                s.data(*k)
                    .alerts
                    .iter()
                    .find(|a| &a.id == id)
                    .unwrap_or_else(|| panic!("{k:?} {id} not in data"))
            })
            .collect();
        let first = alerts[0];
        let upn = |a: &vigil_model::Alert| a.user_states[0].user_principal_name.clone();
        let sha = |a: &vigil_model::Alert| {
            a.file_states
                .first()
                .and_then(|f| f.file_hash.as_ref())
                .and_then(|h| h.hash_value.clone())
        };
        for a in &alerts {
            assert_eq!(a.azure_tenant_id, g.tenant_id);
            assert_eq!(upn(a), upn(first));
            assert_eq!(a.category, first.category);
            assert_eq!(
                a.host_states.first().map(|h| h.fqdn.clone()),
                first.host_states.first().map(|h| h.fqdn.clone())
            );
            assert_eq!(sha(a), sha(first));
            let dt = (a.event_date_time.unwrap().0 - first.event_date_time.unwrap().0)
                .num_seconds()
                .abs();
            assert!(dt <= 600, "event times {dt}s apart");
            let sev = |x: &vigil_model::Alert| x.severity as i32;
            assert!((sev(a) - sev(first)).abs() <= 2);
        }
        let titles: HashSet<&str> = alerts.iter().filter_map(|a| a.title.as_deref()).collect();
        assert_eq!(
            titles.len(),
            alerts.len(),
            "titles are reworded per provider"
        );
    }
    assert!(three > 0);
    for t in [CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID] {
        let n = per_tenant.get(t).copied().unwrap_or(0);
        // ~15 % of 300 incidents per tenant.
        assert!((30..=60).contains(&n), "{t}: {n} duplicate groups");
    }
}

#[test]
fn risky_users_overlap_between_graph_and_ocsf() {
    let s = Scenario::generate(&ScenarioConfig::default());
    for t in [CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID] {
        let g: HashMap<&str, Option<&str>> = s
            .data(ProviderKind::Graph)
            .risky_users_of(t)
            .map(|u| (u.id.as_str(), u.user_principal_name.as_deref()))
            .collect();
        let o: HashMap<&str, Option<&str>> = s
            .data(ProviderKind::Ocsf)
            .risky_users_of(t)
            .map(|u| (u.id.as_str(), u.user_principal_name.as_deref()))
            .collect();
        let both: Vec<&&str> = g.keys().filter(|id| o.contains_key(**id)).collect();
        assert!(both.len() >= 10, "{t}: {} shared users", both.len());
        assert!(both.len() < g.len(), "not all shared");
        for id in both {
            assert_eq!(g[*id], o[*id], "same UPN for {id}");
        }
        let domain = if t == CONTOSO_TENANT_ID {
            "@contoso.com"
        } else {
            "@fabrikam.com"
        };
        assert!(g.values().all(|u| u.unwrap().ends_with(domain)));
        let detections = s.data(ProviderKind::Graph).risk_detections_of(t);
        for d in detections {
            let info: Value = serde_json::from_str(d.additional_info.as_deref().unwrap()).unwrap();
            assert_eq!(info[0]["Key"], "userAgent");
            assert!(d.risk_event_type.is_some());
        }
    }
}
