//! Every query option against a reference evaluation.
//!
//! The reference is vigil-model's own query engine (`vigil_model::query`) applied locally to
//! the unfiltered collection as the gateway returns it (walked once with `$top=1000`, which
//! holds each provider's whole share in one page at these sizes).
//!
//! Why the comparison is sound — and where it is not: the gateway pushes parts of a `$filter`
//! down to the providers (severity/status/creation time to all, the whole filter to Graph), so
//! the providers return only matching alerts *before* the merge. For an alert reported by one
//! provider that changes nothing. For a detection reported by several providers it can: the
//! merged alert takes, e.g., the highest severity of its sources, while `severity eq 'medium'`
//! may let only the medium source through and show that source alone (under the same unified
//! id). The merged view and the per-source view then legitimately disagree. So:
//! - the exact comparison (ids, order and whole bodies) runs on a fleet generated with
//!   `duplicate_ratio = 0`, where every alert has one source (asserted), so filtering before
//!   or after the merge is the same thing;
//! - on the default fleet, with duplicates, the comparison is restricted to single-source
//!   alerts (for them, presence is decided by their own values alone), and every alert the
//!   gateway returns must be one the unfiltered walk knows.

use crate::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use vigil_mock::MockConfig;
use vigil_model::query::{ALERT, parse_filter, parse_orderby, parse_select};

const LIST: &str = "/v1.0/security/alerts";

async fn env_without_duplicates() -> TestEnv {
    TestEnv::start_with(EnvOptions {
        mock: MockConfig {
            alerts_per_tenant: 40,
            duplicate_ratio: 0.0,
            ..MockConfig::default()
        },
        ..EnvOptions::default()
    })
    .await
}

/// The whole collection of a tenant, unfiltered, in one page.
async fn everything(env: &TestEnv, tenant: &str) -> Vec<Value> {
    let pages = env.walk(tenant, &format!("{LIST}?$top=1000")).await;
    assert_eq!(pages.len(), 1, "expected the whole collection in one page");
    let all: Vec<Value> = pages[0]["value"].as_array().unwrap().clone();
    let ids: BTreeSet<String> = all.iter().map(id_of).collect();
    assert_eq!(ids.len(), all.len(), "ids repeat in the unfiltered list");
    all
}

/// The filters exercised, with the data-dependent date literals filled in. Each must select
/// some but not all alerts of the reference collection (checked), so none passes vacuously.
fn filters(all: &[Value]) -> Vec<String> {
    let mut created: Vec<&str> = all
        .iter()
        .filter_map(|a| a["createdDateTime"].as_str())
        .collect();
    created.sort();
    let mid = created[created.len() / 2];
    let q1 = created[created.len() / 4];
    let q3 = created[created.len() * 3 / 4];
    // Minute precision, no seconds (`2019-10-13T08:00Z` is in Graph's samples), and whole
    // seconds. Exact creation instants as `le`/`eq` bounds are covered separately
    // (`date_bounds_at_an_alerts_exact_creation_instant`).
    let mid_minute = format!("{}Z", &mid[..16]);
    let q3_second = format!("{}Z", &q3[..19]);
    let mut events: Vec<&str> = all
        .iter()
        .filter_map(|a| a["eventDateTime"].as_str())
        .collect();
    events.sort();
    let ev_mid = events[events.len() / 2];
    let upn = most_common(all, |a| {
        a["userStates"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|u| u["userPrincipalName"].as_str().map(str::to_string))
            .collect()
    });
    let file = most_common(all, |a| {
        a["fileStates"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["name"].as_str().map(str::to_string))
            .collect()
    });
    let title = most_common(all, |a| vec![a["title"].as_str().unwrap().to_string()]);
    let title_head: String = title.chars().take(8).collect();
    let title_tail: String = title
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let assignee = most_common(all, |a| {
        a["assignedTo"]
            .as_str()
            .map(|s| vec![s.to_string()])
            .unwrap_or_default()
    });
    vec![
        // Comparison operators on an enum (CSDL member order), an integer and strings.
        "severity eq 'high'".into(),
        "severity ne 'medium'".into(),
        "severity gt 'low'".into(),
        "severity ge 'medium'".into(),
        "severity lt 'medium'".into(),
        "severity le 'low'".into(),
        "confidence gt 80".into(),
        "confidence le 50".into(),
        format!("assignedTo eq '{assignee}'"),
        "assignedTo eq null".into(),
        "feedback eq 'truePositive'".into(),
        // Logic.
        "status eq 'newAlert' and severity eq 'high'".into(),
        "status eq 'resolved' or severity eq 'low'".into(),
        "not (status eq 'newAlert')".into(),
        "not status eq 'newAlert' and (severity eq 'high' or confidence lt 40)".into(),
        "status in ('inProgress', 'dismissed')".into(),
        // String functions.
        format!("startswith(title, '{title_head}')"),
        format!("endswith(title, '{title_tail}')"),
        "contains(description, 'credential')".into(),
        // Lambdas over userStates, tags, fileStates (nested complex values inside).
        format!("userStates/any(u: u/userPrincipalName eq '{upn}')"),
        "userStates/all(u: u/userAccountType ne 'administrator')".into(),
        "tags/any(t: t eq 'HVA')".into(),
        "tags/all(t: t ne 'SAW')".into(),
        "fileStates/any(f: f/fileHash/hashType eq 'md5')".into(),
        format!("fileStates/any(f: f/name eq '{file}')"),
        "hostStates/any(h: startswith(h/fqdn, 'con-'))".into(),
        // Nested complex properties.
        "vendorInformation/provider eq 'Falcon'".into(),
        "vendorInformation/vendor ne 'Microsoft'".into(),
        // Date literals: full precision, minute precision, ranges.
        format!("createdDateTime ge {mid}"),
        format!("createdDateTime lt {mid_minute}"),
        format!("createdDateTime gt {q1} and createdDateTime le {q3_second}"),
        format!("eventDateTime lt {ev_mid}"),
        // Case-insensitive property names and enum values (Microsoft's own samples).
        "Severity eq 'High'".into(),
        "STATUS eq 'NEWALERT' or Feedback eq 'FalsePositive'".into(),
        "VendorInformation/Provider eq 'Falcon' and Severity ge 'Medium'".into(),
    ]
}

fn most_common(all: &[Value], f: impl Fn(&Value) -> Vec<String>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for a in all {
        for v in f(a) {
            *counts.entry(v).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(v, n)| (*n, std::cmp::Reverse(v.clone())))
        .map(|(v, _)| v)
        .expect("some value")
}

/// The alerts a filter selects, by the gateway, following nextLinks.
async fn gateway_filter(env: &TestEnv, tenant: &str, filter: &str) -> Vec<Value> {
    let alerts = env
        .walk_alerts(tenant, &format!("{LIST}?$top=1000&$filter={}", enc(filter)))
        .await;
    let ids: BTreeSet<String> = alerts.iter().map(id_of).collect();
    assert_eq!(ids.len(), alerts.len(), "{filter}: ids repeat");
    alerts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_matches_the_reference_evaluation() {
    let env = env_without_duplicates().await;
    let all = everything(&env, CONTOSO).await;
    assert!(
        all.iter().all(|a| sources_of(a).len() == 1),
        "a fleet without duplicates must not fold"
    );
    let by_id: BTreeMap<String, &Value> = all.iter().map(|a| (id_of(a), a)).collect();
    for text in filters(&all) {
        let f = parse_filter(&text, &ALERT).unwrap_or_else(|e| panic!("{text}: {e}"));
        let expected: BTreeSet<String> = all.iter().filter(|a| f.matches(a)).map(id_of).collect();
        assert!(
            !expected.is_empty() && expected.len() < all.len(),
            "{text}: selects {} of {}; pick a discriminating filter",
            expected.len(),
            all.len()
        );
        let got_alerts = gateway_filter(&env, CONTOSO, &text).await;
        let got: BTreeSet<String> = got_alerts.iter().map(id_of).collect();
        let missing: Vec<_> = expected.difference(&got).collect();
        let extra: Vec<_> = got.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{text}: missing {missing:?}, unexpected {extra:?}"
        );
        for a in &got_alerts {
            assert_eq!(
                a,
                by_id[&id_of(a)],
                "{text}: the filtered body differs from the unfiltered one"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_agree_with_the_reference_on_single_source_alerts_when_duplicates_fold() {
    let env = TestEnv::start().await;
    let all = everything(&env, CONTOSO).await;
    let single: BTreeSet<String> = all
        .iter()
        .filter(|a| sources_of(a).len() == 1)
        .map(id_of)
        .collect();
    assert!(
        single.len() < all.len(),
        "the default fleet must have folded duplicates"
    );
    let known: BTreeSet<String> = all.iter().map(id_of).collect();
    for text in filters(&all) {
        let f = parse_filter(&text, &ALERT).unwrap();
        let expected: BTreeSet<String> = all
            .iter()
            .filter(|a| f.matches(a))
            .map(id_of)
            .filter(|id| single.contains(id))
            .collect();
        let got_all: BTreeSet<String> = gateway_filter(&env, CONTOSO, &text)
            .await
            .iter()
            .map(id_of)
            .collect();
        let unknown: Vec<_> = got_all.difference(&known).collect();
        assert!(unknown.is_empty(), "{text}: ids never listed: {unknown:?}");
        let got: BTreeSet<String> = got_all.intersection(&single).cloned().collect();
        assert_eq!(got, expected, "{text}");
    }
}

#[tokio::test]
async fn orderby_with_several_keys_matches_the_reference_order() {
    let env = env_without_duplicates().await;
    let all = everything(&env, CONTOSO).await;
    for (orderby, filter) in [
        ("severity desc,createdDateTime desc,id", None),
        ("vendorInformation/provider,confidence desc,id asc", None),
        (
            "title asc,eventDateTime desc,id",
            Some("severity ge 'medium'"),
        ),
        ("Status DESC,ID", None),
        ("createdDateTime", Some("tags/any(t: t eq 'HVA')")),
    ] {
        let ob = parse_orderby(orderby, &ALERT).unwrap();
        let mut expected: Vec<Value> = match filter {
            Some(t) => {
                let f = parse_filter(t, &ALERT).unwrap();
                all.iter().filter(|a| f.matches(a)).cloned().collect()
            }
            None => all.clone(),
        };
        ob.sort(&mut expected);
        let mut path = format!("{LIST}?$top=1000&$orderby={}", enc(orderby));
        if let Some(t) = filter {
            path.push_str(&format!("&$filter={}", enc(t)));
        }
        let pages = env.walk(CONTOSO, &path).await;
        assert_eq!(pages.len(), 1, "{orderby}: one page expected");
        let got: Vec<String> = pages[0]["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect();
        let want: Vec<String> = expected.iter().map(id_of).collect();
        assert_eq!(got, want, "$orderby={orderby}");
    }
}

#[tokio::test]
async fn select_keeps_only_the_selection_and_the_context_url_lists_it() {
    let env = env_without_duplicates().await;
    let all = everything(&env, CONTOSO).await;
    let by_id: BTreeMap<String, &Value> = all.iter().map(|a| (id_of(a), a)).collect();
    for (select, names) in [
        (
            "assignedTo,category,severity",
            "assignedTo,category,severity",
        ),
        (
            "Title,vendorInformation,fileStates",
            "title,vendorInformation,fileStates",
        ),
        ("id,status", "id,status"),
    ] {
        let sel = parse_select(select, &ALERT).unwrap();
        for version in ["v1.0", "beta"] {
            let body = env
                .get_json(
                    CONTOSO,
                    &format!(
                        "/{version}/security/alerts?$top=1000&$select={}",
                        enc(select)
                    ),
                    200,
                )
                .await;
            assert_eq!(
                body["@odata.context"],
                format!("{}/{version}/$metadata#security/alerts({names})", env.base),
                "$select={select}"
            );
            let value = body["value"].as_array().unwrap();
            assert_eq!(value.len(), all.len());
            for a in value {
                let mut want = by_id[&id_of(a)].clone();
                sel.apply(&mut want);
                assert_eq!(a, &want, "$select={select}");
            }
        }
    }
    // On a single alert too.
    let one = id_of(&all[0]);
    let body = env
        .get_json(
            CONTOSO,
            &format!("{LIST}/{}?$select=severity,title", enc(&one)),
            200,
        )
        .await;
    assert_eq!(
        body["@odata.context"],
        format!(
            "{}/v1.0/$metadata#security/alerts(severity,title)/$entity",
            env.base
        )
    );
    let keys: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["@odata.context", "id", "severity", "title"])
    );
}

#[tokio::test]
async fn skip_and_count_match_the_reference() {
    let env = env_without_duplicates().await;
    let all = everything(&env, CONTOSO).await;
    let ob = "createdDateTime desc,id";
    let mut sorted = all.clone();
    parse_orderby(ob, &ALERT).unwrap().sort(&mut sorted);
    let sorted_ids: Vec<String> = sorted.iter().map(id_of).collect();
    for skip in [0usize, 1, 7, 50, 119, 120, 500] {
        let body = env
            .get_json(
                CONTOSO,
                &format!("{LIST}?$top=1000&$orderby={}&$skip={skip}", enc(ob)),
                200,
            )
            .await;
        let got: Vec<String> = body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect();
        let want: Vec<String> = sorted_ids.iter().skip(skip).cloned().collect();
        assert_eq!(got, want, "$skip={skip}");
    }

    for filter in [
        None,
        Some("severity eq 'high'"),
        Some("tags/any(t: t eq 'SAW')"),
    ] {
        let expected = match filter {
            Some(t) => {
                let f = parse_filter(t, &ALERT).unwrap();
                all.iter().filter(|a| f.matches(a)).count()
            }
            None => all.len(),
        };
        let fq = filter
            .map(|t| format!("&$filter={}", enc(t)))
            .unwrap_or_default();
        // $count=true on the collection, also on a small page: the count is of the whole set.
        for top in [1000, 3] {
            let body = env
                .get_json(CONTOSO, &format!("{LIST}?$count=true&$top={top}{fq}"), 200)
                .await;
            assert_eq!(
                body["@odata.count"].as_u64(),
                Some(expected as u64),
                "$count=true $top={top} {filter:?}"
            );
        }
        let no_count = env
            .get_json(CONTOSO, &format!("{LIST}?$top=3{fq}"), 200)
            .await;
        assert!(no_count.get("@odata.count").is_none());
        // /$count: a plain-text integer.
        let q = filter
            .map(|t| format!("?$filter={}", enc(t)))
            .unwrap_or_default();
        let resp = env.get(CONTOSO, &format!("{LIST}/$count{q}")).await;
        assert_eq!(resp.status(), 200);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/plain"), "{ct}");
        assert_eq!(resp.text().await.unwrap(), expected.to_string());
    }
}

#[tokio::test]
async fn top_is_applied_per_provider_to_the_newest_alerts() {
    let env = env_without_duplicates().await;
    // `$top=1`: see paging::a_walk_with_top_1_ends.
    for top in [2u32, 5, 13] {
        let body = env
            .get_json(CONTOSO, &format!("{LIST}?$top={top}"), 200)
            .await;
        let value = body["value"].as_array().unwrap();
        assert!(!value.is_empty(), "$top={top}: empty first page");
        let status = body["@vigil.providerStatus"].as_array().unwrap();
        for kind in ProviderKind::ALL {
            let name = env.provider_name(kind, CONTOSO);
            let st = status
                .iter()
                .find(|s| s["provider"] == name.as_str())
                .unwrap_or_else(|| panic!("no status for {name}"));
            // Items fetched from this provider: $top per walk step, at most 8 steps a page.
            let items = st["items"].as_u64().unwrap() as usize;
            assert!(
                items <= 8 * top as usize,
                "$top={top}: {name} gave {items} items"
            );
            // What it fetched is its newest `items` alerts; what the page shows of it is a
            // subset of those.
            let newest: BTreeSet<String> = env
                .fleet
                .scenario()
                .data(kind)
                .alerts
                .iter()
                .filter(|a| a.azure_tenant_id.eq_ignore_ascii_case(CONTOSO))
                .take(items)
                .map(|a| a.id.clone())
                .collect();
            for a in value {
                for (p, id) in sources_of(a) {
                    if p == name {
                        assert!(
                            newest.contains(&id),
                            "$top={top}: {name} alert {id} is not among its {items} newest"
                        );
                    }
                }
            }
        }
    }
}

/// `le`/`eq`/`ge` with an alert's exact creation instant include that alert, from every
/// provider (the push-down to each provider must stay a superset at its own precision).
#[tokio::test]
async fn date_bounds_at_an_alerts_exact_creation_instant() {
    let env = env_without_duplicates().await;
    let all = everything(&env, CONTOSO).await;
    for kind in ProviderKind::ALL {
        let name = env.provider_name(kind, CONTOSO);
        let a = all
            .iter()
            .find(|a| sources_of(a)[0].0 == name)
            .expect("an alert of every provider");
        let t = a["createdDateTime"].as_str().unwrap();
        for op in ["le", "eq", "ge"] {
            let text = format!("createdDateTime {op} {t}");
            let got: BTreeSet<String> = gateway_filter(&env, CONTOSO, &text)
                .await
                .iter()
                .map(id_of)
                .collect();
            let f = parse_filter(&text, &ALERT).unwrap();
            let want: BTreeSet<String> = all.iter().filter(|a| f.matches(a)).map(id_of).collect();
            assert!(want.contains(&id_of(a)));
            assert_eq!(got, want, "{name}: {text}");
        }
    }
}
