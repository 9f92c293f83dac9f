//! Merge across providers against the mock's ground truth: every duplicate group of the tenant
//! is one alert listing exactly those sources, fetchable by its unified id and by each
//! member's provider id; alerts only one provider reported stay as that provider shows them.

use crate::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[tokio::test]
async fn every_duplicate_group_is_one_alert_listing_exactly_its_sources() {
    let env = TestEnv::start().await;
    let all = env
        .walk_alerts(CONTOSO, "/v1.0/security/alerts?$top=1000")
        .await;
    // Which alert shows each provider alert.
    let mut shown_in: BTreeMap<(String, String), String> = BTreeMap::new();
    for a in &all {
        for s in sources_of(a) {
            assert!(
                shown_in.insert(s.clone(), id_of(a)).is_none(),
                "{s:?} shown twice"
            );
        }
    }
    let groups: Vec<_> = env
        .fleet
        .duplicate_groups()
        .into_iter()
        .filter(|g| g.tenant_id.eq_ignore_ascii_case(CONTOSO))
        .collect();
    assert!(groups.len() >= 3, "the scenario should have duplicates");
    let mut grouped = BTreeSet::new();
    for g in &groups {
        let want: Vec<(String, String)> = {
            let mut v: Vec<_> = g
                .members
                .iter()
                .map(|(k, id)| (env.provider_name(*k, CONTOSO), id.clone()))
                .collect();
            v.sort();
            v
        };
        let unified = shown_in
            .get(&want[0])
            .unwrap_or_else(|| panic!("{:?} never shown", want[0]))
            .clone();
        let alert = all.iter().find(|a| id_of(a) == unified).unwrap();
        assert_eq!(sources_of(alert), want, "group {:?}", g.members);
        grouped.insert(unified.clone());

        // Fetchable by the unified id and by each member's own id, always as the same alert.
        let by_unified = env
            .get_json(
                CONTOSO,
                &format!("/v1.0/security/alerts/{}", enc(&unified)),
                200,
            )
            .await;
        assert_eq!(id_of(&by_unified), unified);
        assert_eq!(sources_of(&by_unified), want);
        assert_eq!(by_unified["severity"], alert["severity"]);
        assert_eq!(by_unified["status"], alert["status"]);
        for (_, pid) in &want {
            let one = env
                .get_json(CONTOSO, &format!("/v1.0/security/alerts/{}", enc(pid)), 200)
                .await;
            assert_eq!(id_of(&one), unified, "by provider id {pid}");
            assert_eq!(sources_of(&one), want);
            let ctx = one["@odata.context"].as_str().unwrap();
            assert!(
                ctx.ends_with("/v1.0/$metadata#security/alerts/$entity"),
                "{ctx}"
            );
        }
    }
    // Everything else is a single-source alert under its provider's own id.
    for a in all.iter().filter(|a| !grouped.contains(&id_of(a))) {
        let s = sources_of(a);
        assert_eq!(
            s.len(),
            1,
            "unexpected fold {s:?} (not a scenario duplicate)"
        );
        assert_eq!(
            id_of(a),
            s[0].1,
            "a single-source alert keeps its provider id"
        );
    }
    // No provider alert is lost.
    let expected: BTreeSet<String> = env
        .provider_alert_ids(CONTOSO)
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let shown: BTreeSet<String> = shown_in.keys().map(|(_, id)| id.clone()).collect();
    assert_eq!(shown, expected);
}

#[tokio::test]
async fn the_fold_takes_the_highest_severity_and_the_most_advanced_status() {
    let env = TestEnv::start().await;
    let all = env
        .walk_alerts(CONTOSO, "/v1.0/security/alerts?$top=1000")
        .await;
    let sev = ["unknown", "informational", "low", "medium", "high"];
    let st = ["unknown", "newAlert", "inProgress", "dismissed", "resolved"];
    let rank = |list: &[&str], v: &Value| list.iter().position(|x| v == *x).unwrap_or(0);
    let mut folded = 0;
    for a in &all {
        let src = a["vigilSources"].as_array().unwrap();
        if src.len() < 2 {
            continue;
        }
        folded += 1;
        let max_sev = src
            .iter()
            .map(|s| rank(&sev, &s["severity"]))
            .max()
            .unwrap();
        let max_st = src.iter().map(|s| rank(&st, &s["status"])).max().unwrap();
        assert_eq!(rank(&sev, &a["severity"]), max_sev, "{}", a["id"]);
        assert_eq!(rank(&st, &a["status"]), max_st, "{}", a["id"]);
        // The vendor block lists each source's product.
        for s in src {
            assert!(s["vendor"].is_string() && s["product"].is_string(), "{s}");
        }
    }
    assert!(folded > 0);
}

#[tokio::test]
async fn a_beta_get_has_a_beta_context() {
    let env = TestEnv::start().await;
    let list = env
        .get_json(CONTOSO, "/beta/security/alerts?$top=1", 200)
        .await;
    let id = id_of(&list["value"][0]);
    let one = env
        .get_json(CONTOSO, &format!("/beta/security/alerts/{}", enc(&id)), 200)
        .await;
    assert_eq!(
        one["@odata.context"],
        format!("{}/beta/$metadata#security/alerts/$entity", env.base)
    );
}
