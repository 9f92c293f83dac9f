//! Identity Protection over the mock fleet: risky users folded across Graph and OCSF, history,
//! risk detections, actions through the outbox, evolvable enums, the beta root and legacy
//! routes, permissions, and user risk joined into alerts.

use crate::*;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use vigil_mock::{Faults, ProviderKind};

const READ_USERS: &str = "IdentityRiskyUser.Read.All";
const WRITE_USERS: &str = "IdentityRiskyUser.ReadWrite.All";
const READ_EVENTS: &str = "IdentityRiskEvent.Read.All";
const OID: &str = "11111111-2222-4333-8444-555555555555";

fn all_scopes() -> [&'static str; 3] {
    [WRITE_USERS, READ_EVENTS, "SecurityEvents.Read.All"]
}

/// Asserts a Graph error with `status` and `code`; returns the message.
async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(resp.status().as_u16(), status);
    let body: Value = resp.json().await.expect("json error body");
    let (got, msg) = graph_error(&body);
    assert_eq!(got, code, "{body}");
    msg
}

/// Percent-encodes a query value.
fn encq(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn iget_with(env: &TestEnv, tenant: &str, url: &str, prefer: bool) -> reqwest::Response {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", env.base)
    };
    let mut req = env
        .client
        .get(url)
        .bearer_auth(env.token_with(tenant, &all_scopes()));
    if prefer {
        req = req.header("Prefer", "include-unknown-enum-members");
    }
    req.send().await.expect("request")
}

async fn ijson(env: &TestEnv, tenant: &str, path: &str, status: u16) -> Value {
    let resp = iget_with(env, tenant, path, false).await;
    let got = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "GET {path}: {text}");
    serde_json::from_str(&text).expect("json")
}

/// Every page of an identity collection.
async fn iwalk(env: &TestEnv, tenant: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = path.to_string();
    for _ in 0..200 {
        let body = ijson(env, tenant, &url, 200).await;
        items.extend(body["value"].as_array().expect("value").iter().cloned());
        match body["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => return items,
        }
    }
    panic!("walk of {path} does not end");
}

async fn act(env: &TestEnv, tenant: &str, action: &str, ids: &[&str]) -> reqwest::Response {
    env.client
        .post(format!(
            "{}/v1.0/identityProtection/riskyUsers/{action}",
            env.base
        ))
        .bearer_auth(env.token_with(tenant, &all_scopes()))
        .json(&json!({ "userIds": ids }))
        .send()
        .await
        .expect("request")
}

/// The scenario's risky users of a tenant at one provider, by lower-case id.
fn scenario_users(env: &TestEnv, kind: ProviderKind, tenant: &str) -> BTreeMap<String, Value> {
    env.fleet
        .scenario()
        .data(kind)
        .risky_users_of(tenant)
        .map(|u| (u.id.to_lowercase(), serde_json::to_value(u).unwrap()))
        .collect()
}

/// A user risky at both Graph and OCSF (with the two providers' levels), and one at Graph only.
fn overlap_and_graph_only(env: &TestEnv, tenant: &str) -> (String, String) {
    let g = scenario_users(env, ProviderKind::Graph, tenant);
    let o = scenario_users(env, ProviderKind::Ocsf, tenant);
    let both = g
        .keys()
        .find(|k| o.contains_key(*k))
        .expect("an overlap user");
    let only = g
        .keys()
        .find(|k| !o.contains_key(*k))
        .expect("a graph-only user");
    (
        g[both]["id"].as_str().unwrap().to_string(),
        g[only]["id"].as_str().unwrap().to_string(),
    )
}

fn rank(level: &str) -> u8 {
    match level {
        "none" => 0,
        "unknownFutureValue" => 1,
        "hidden" => 2,
        "low" => 3,
        "medium" => 4,
        "high" => 5,
        _ => 0,
    }
}

async fn wait_for_write(
    env: &TestEnv,
    kind: ProviderKind,
    pred: impl Fn(&vigil_mock::RecordedWrite) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if env.fleet.get(kind).writes().iter().any(&pred) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn risky_users_are_folded_across_graph_and_ocsf_and_paged_without_repeats() {
    let env = TestEnv::start().await;
    let items = iwalk(&env, CONTOSO, "/v1.0/identityProtection/riskyUsers?$top=7").await;
    let g = scenario_users(&env, ProviderKind::Graph, CONTOSO);
    let o = scenario_users(&env, ProviderKind::Ocsf, CONTOSO);
    let expected: HashSet<String> = g.keys().chain(o.keys()).cloned().collect();
    let mut seen = HashSet::new();
    let mut folded = 0;
    for u in &items {
        let id = u["id"].as_str().unwrap().to_lowercase();
        assert!(seen.insert(id.clone()), "user {id} shown twice");
        let sources = u["vigilSources"].as_array().unwrap();
        match (g.get(&id), o.get(&id)) {
            (Some(gu), Some(ou)) => {
                folded += 1;
                assert_eq!(sources.len(), 2, "{u}");
                let want = [gu, ou]
                    .iter()
                    .map(|x| x["riskLevel"].as_str().unwrap())
                    .max_by_key(|l| rank(l))
                    .unwrap();
                assert_eq!(u["riskLevel"], want, "highest level wins: {u}");
                // Graph (the directory of record) is the first source.
                assert!(
                    sources[0]["provider"]
                        .as_str()
                        .unwrap()
                        .starts_with("graph")
                );
            }
            (Some(_), None) | (None, Some(_)) => assert_eq!(sources.len(), 1),
            (None, None) => panic!("user {id} is not in the scenario"),
        }
    }
    assert_eq!(seen, expected, "every user exactly once");
    assert!(folded > 0, "the scenario has users known to both providers");
    // $count counts folded users.
    let body = ijson(
        &env,
        CONTOSO,
        "/v1.0/identityProtection/riskyUsers?$count=true&$top=1",
        200,
    )
    .await;
    assert_eq!(body["@odata.count"], expected.len());
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#identityProtection/riskyUsers")
    );
    let status = body["@vigil.providerStatus"].as_array().unwrap();
    assert_eq!(status.len(), 2, "graph and ocsf serve identity: {status:?}");
}

#[tokio::test]
async fn filters_select_and_get_by_id() {
    let env = TestEnv::start().await;
    for f in [
        "riskLevel eq 'high'",
        "riskLevel eq microsoft.graph.riskLevel'high'",
    ] {
        let items = iwalk(
            &env,
            CONTOSO,
            &format!("/v1.0/identityProtection/riskyUsers?$filter={}", encq(f)),
        )
        .await;
        assert!(!items.is_empty(), "{f}");
        assert!(items.iter().all(|u| u["riskLevel"] == "high"), "{f}");
    }
    let body = ijson(
        &env,
        CONTOSO,
        "/v1.0/identityProtection/riskyUsers?$select=id,riskLevel&$orderby=riskLevel%20desc",
        200,
    )
    .await;
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#identityProtection/riskyUsers(id,riskLevel)")
    );
    for u in body["value"].as_array().unwrap() {
        let keys: Vec<&String> = u.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "riskLevel"], "{u}");
    }
    let bad = iget_with(
        &env,
        CONTOSO,
        "/v1.0/identityProtection/riskyUsers?$filter=riskLevel%20eq",
        false,
    )
    .await;
    expect_error(bad, 400, "BadRequest").await;

    let (both, _) = overlap_and_graph_only(&env, CONTOSO);
    let u = ijson(
        &env,
        CONTOSO,
        &format!("/v1.0/identityProtection/riskyUsers/{both}"),
        200,
    )
    .await;
    assert_eq!(
        u["id"].as_str().unwrap().to_lowercase(),
        both.to_lowercase()
    );
    assert_eq!(u["vigilSources"].as_array().unwrap().len(), 2);
    assert!(
        u["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#identityProtection/riskyUsers/$entity")
    );
    let missing = iget_with(
        &env,
        CONTOSO,
        "/v1.0/identityProtection/riskyUsers/00000000-0000-0000-0000-000000000000",
        false,
    )
    .await;
    expect_error(missing, 404, "NotFound").await;
}

#[tokio::test]
async fn history_and_risk_detections() {
    let env = TestEnv::start().await;
    let (_, graph_only) = overlap_and_graph_only(&env, CONTOSO);
    let h = ijson(
        &env,
        CONTOSO,
        &format!("/v1.0/identityProtection/riskyUsers/{graph_only}/history"),
        200,
    )
    .await;
    let want = env
        .fleet
        .scenario()
        .data(ProviderKind::Graph)
        .risky_user_history_of(CONTOSO)
        .filter(|i| i.user_id.as_deref() == Some(graph_only.as_str()))
        .count();
    assert_eq!(h["value"].as_array().unwrap().len(), want, "{h}");

    let detections = iwalk(
        &env,
        CONTOSO,
        "/v1.0/identityProtection/riskDetections?$top=50",
    )
    .await;
    let total: usize = [ProviderKind::Graph, ProviderKind::Ocsf]
        .iter()
        .map(|k| {
            env.fleet
                .scenario()
                .data(*k)
                .risk_detections_of(CONTOSO)
                .count()
        })
        .sum();
    let ids: HashSet<&str> = detections
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), total, "every detection of both providers once");
    let one = detections[0]["id"].as_str().unwrap();
    let d = ijson(
        &env,
        CONTOSO,
        &format!("/v1.0/identityProtection/riskDetections/{one}?$select=id,riskEventType"),
        200,
    )
    .await;
    assert_eq!(d["id"], one);
    assert!(d.get("riskLevel").is_none());
    let high = iwalk(
        &env,
        CONTOSO,
        "/v1.0/identityProtection/riskDetections?$filter=riskLevel%20eq%20'high'",
    )
    .await;
    assert!(!high.is_empty() && high.len() < total);
    assert!(high.iter().all(|d| d["riskLevel"] == "high"));
}

#[tokio::test]
async fn an_action_reaches_every_provider_and_changes_state_and_history() {
    let env = TestEnv::start().await;
    let (both, _) = overlap_and_graph_only(&env, CONTOSO);
    let resp = act(&env, CONTOSO, "confirmCompromised", &[&both]).await;
    assert_eq!(resp.status(), 204);
    // Delivered before the answer: both mocks recorded it.
    let graph_writes = env.fleet.get(ProviderKind::Graph).writes();
    assert!(
        graph_writes
            .iter()
            .any(|w| w.path.ends_with("/riskyUsers/confirmCompromised")
                && w.body["userIds"][0]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(&both)),
        "{graph_writes:?}"
    );
    let ocsf_writes = env.fleet.get(ProviderKind::Ocsf).writes();
    assert!(
        ocsf_writes
            .iter()
            .any(|w| w.path.contains("/risk") && w.body["action"] == "confirm_compromised"),
        "{ocsf_writes:?}"
    );
    let u = ijson(
        &env,
        CONTOSO,
        &format!("/v1.0/identityProtection/riskyUsers/{both}"),
        200,
    )
    .await;
    assert_eq!(u["riskState"], "confirmedCompromised");
    assert_eq!(u["riskLevel"], "high");
    assert_eq!(u["riskDetail"], "adminConfirmedUserCompromised");
    assert_eq!(u["isProcessing"], false);
    let h = ijson(
        &env,
        CONTOSO,
        &format!("/v1.0/identityProtection/riskyUsers/{both}/history"),
        200,
    )
    .await;
    let items = h["value"].as_array().unwrap();
    let ours: Vec<&Value> = items
        .iter()
        .filter(|i| i["riskState"] == "confirmedCompromised" && i["initiatedBy"] == OID)
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "the action shows once, initiated by the caller: {h}"
    );
    assert_eq!(ours[0]["isProcessing"], false);
    // Graph's own echo of the action (initiated by Vigil's client) is folded into it.
    let creds = env
        .fleet
        .get(ProviderKind::Graph)
        .credentials(CONTOSO)
        .client_id;
    assert!(
        !items.iter().any(|i| i["initiatedBy"] == creds.as_str()
            && i["riskState"] == "confirmedCompromised"),
        "{h}"
    );
    // Unknown ids are ignored (Graph's behaviour); a bad body is a 400; an unknown action 405.
    let resp = act(&env, CONTOSO, "dismiss", &["no-such-user"]).await;
    assert_eq!(resp.status(), 204);
    let resp = env
        .client
        .post(format!(
            "{}/v1.0/identityProtection/riskyUsers/dismiss",
            env.base
        ))
        .bearer_auth(env.token_with(CONTOSO, &all_scopes()))
        .json(&json!({ "userIds": [] }))
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "BadRequest").await;
    let resp = act(&env, CONTOSO, "delete", &[&both]).await;
    expect_error(resp, 405, "MethodNotAllowed").await;
}

#[tokio::test]
async fn a_provider_down_during_an_action_gets_it_after_it_returns() {
    let env = TestEnv::start_with(EnvOptions {
        provider_timeout_ms: 1500,
        ..EnvOptions::default()
    })
    .await;
    let o = scenario_users(&env, ProviderKind::Ocsf, CONTOSO);
    let g = scenario_users(&env, ProviderKind::Graph, CONTOSO);
    let ocsf_only = o
        .keys()
        .find(|k| !g.contains_key(*k))
        .map(|k| o[k]["id"].as_str().unwrap().to_string())
        .expect("an OCSF-only user");
    // Read the directory while OCSF is up, then take OCSF down.
    ijson(&env, CONTOSO, "/v1.0/identityProtection/riskyUsers", 200).await;
    env.fleet.get(ProviderKind::Ocsf).set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = act(&env, CONTOSO, "confirmSafe", &[&ocsf_only]).await;
    assert_eq!(resp.status(), 204, "durably accepted");
    assert!(
        !env.fleet
            .get(ProviderKind::Ocsf)
            .writes()
            .iter()
            .any(|w| w.path.contains(&ocsf_only)),
        "nothing reached OCSF while it was down"
    );
    // Reads are partial and show the pending action.
    let path = format!("/v1.0/identityProtection/riskyUsers/{ocsf_only}");
    let resp = iget_with(&env, CONTOSO, "/v1.0/identityProtection/riskyUsers", false).await;
    assert_eq!(resp.status(), 206);
    let warning = resp.headers()["warning"].to_str().unwrap().to_string();
    let ocsf = format!("ocsf-{}", &CONTOSO[..8]);
    assert!(
        warning.starts_with("199 - \"OCSF/") && warning.contains(&ocsf),
        "{warning}"
    );
    let history = ijson(
        &env,
        CONTOSO,
        &format!("/v1.0/identityProtection/riskyUsers/{ocsf_only}/history"),
        404,
    )
    .await;
    let _ = history; // OCSF cannot be asked and nobody else knows the user: 404 with Warning.
    env.fleet
        .get(ProviderKind::Ocsf)
        .set_faults(Faults::default());
    let delivered = wait_for_write(&env, ProviderKind::Ocsf, |w| {
        w.path.contains(&ocsf_only) && w.body["action"] == "confirm_safe"
    })
    .await;
    assert!(delivered, "the action reached OCSF after it came back");
    // Once delivered: no longer processing, the provider's state shows.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let u = ijson(&env, CONTOSO, &path, 200).await;
        if u["isProcessing"] == false {
            assert_eq!(u["riskState"], "confirmedSafe");
            assert_eq!(u["riskLevel"], "none");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still processing: {u}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn pending_actions_show_with_is_processing_and_evolvable_members_need_prefer() {
    let env = TestEnv::start_with(EnvOptions {
        provider_timeout_ms: 1500,
        ..EnvOptions::default()
    })
    .await;
    let (both, _) = overlap_and_graph_only(&env, CONTOSO);
    // OCSF slow to come back: its delivery stays pending for a while.
    env.fleet.get(ProviderKind::Ocsf).set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = act(&env, CONTOSO, "confirmSafe", &[&both]).await;
    assert_eq!(resp.status(), 204);
    let path = format!("/v1.0/identityProtection/riskyUsers/{both}");
    // Without the preference: the evolvable detail is hidden.
    let resp = iget_with(&env, CONTOSO, &path, false).await;
    assert_eq!(resp.status(), 206, "OCSF still down");
    assert!(resp.headers().get("preference-applied").is_none());
    let u: Value = resp.json().await.unwrap();
    assert_eq!(u["isProcessing"], true, "{u}");
    assert_eq!(u["riskState"], "confirmedSafe");
    assert_eq!(u["riskDetail"], "unknownFutureValue");
    // With it: the member itself, and the preference is acknowledged.
    let resp = iget_with(&env, CONTOSO, &path, true).await;
    assert_eq!(
        resp.headers()["preference-applied"],
        HeaderValue::from_static("include-unknown-enum-members")
    );
    let u: Value = resp.json().await.unwrap();
    assert_eq!(u["riskDetail"], "adminConfirmedAccountSafe");
    // The history shows the caller's action, processing, with the same rule for the enum.
    let hpath = format!("/v1.0/identityProtection/riskyUsers/{both}/history");
    let h: Value = iget_with(&env, CONTOSO, &hpath, false)
        .await
        .json()
        .await
        .unwrap();
    let ours = h["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["initiatedBy"] == OID)
        .cloned()
        .expect("our action in the history");
    assert_eq!(ours["isProcessing"], true);
    assert_eq!(ours["riskDetail"], "unknownFutureValue");
    assert_eq!(ours["activity"]["detail"], "unknownFutureValue");
    let h: Value = iget_with(&env, CONTOSO, &hpath, true)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        h["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["initiatedBy"] == OID && i["riskDetail"] == "adminConfirmedAccountSafe"),
        "{h}"
    );
    // Detections: no evolvable member is ever sent without the preference.
    let d = ijson(
        &env,
        CONTOSO,
        "/v1.0/identityProtection/riskDetections?$top=500",
        206,
    )
    .await;
    for x in d["value"].as_array().unwrap() {
        for k in ["riskDetail", "activity", "tokenIssuerType"] {
            let v = x[k].as_str().unwrap_or("none");
            assert!(
                ![
                    "adminConfirmedAccountSafe",
                    "servicePrincipal",
                    "AzureADBackupAuth"
                ]
                .contains(&v),
                "{k}={v}"
            );
        }
    }
    env.fleet
        .get(ProviderKind::Ocsf)
        .set_faults(Faults::default());
}

#[tokio::test]
async fn tenants_are_isolated() {
    let env = TestEnv::start().await;
    let contoso: HashSet<String> = iwalk(&env, CONTOSO, "/v1.0/identityProtection/riskyUsers")
        .await
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_lowercase())
        .collect();
    let fabrikam: HashSet<String> = iwalk(&env, FABRIKAM, "/v1.0/identityProtection/riskyUsers")
        .await
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(!contoso.is_empty() && !fabrikam.is_empty());
    assert!(contoso.is_disjoint(&fabrikam));
    let one = contoso.iter().next().unwrap();
    let resp = iget_with(
        &env,
        FABRIKAM,
        &format!("/v1.0/identityProtection/riskyUsers/{one}"),
        false,
    )
    .await;
    expect_error(resp, 404, "NotFound").await;
    // A skiptoken of one tenant is refused for the other.
    let body = ijson(
        &env,
        CONTOSO,
        "/v1.0/identityProtection/riskyUsers?$top=2",
        200,
    )
    .await;
    let next = body["@odata.nextLink"]
        .as_str()
        .expect("nextLink")
        .to_string();
    let resp = iget_with(&env, FABRIKAM, &next, false).await;
    expect_error(resp, 400, "BadRequest").await;
}

#[tokio::test]
async fn beta_serves_root_and_legacy_routes() {
    let env = TestEnv::start().await;
    let root = iwalk(&env, CONTOSO, "/beta/riskyUsers?$top=10").await;
    let nested = iwalk(&env, CONTOSO, "/beta/identityProtection/riskyUsers?$top=10").await;
    assert_eq!(root.len(), nested.len());
    let body = ijson(&env, CONTOSO, "/beta/riskyUsers?$top=1", 200).await;
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/beta/$metadata#riskyUsers")
    );
    let resp = iget_with(&env, CONTOSO, "/v1.0/riskyUsers", false).await;
    expect_error(resp, 404, "NotFound").await;
    let d = iwalk(&env, CONTOSO, "/beta/riskDetections?$top=100").await;
    assert!(!d.is_empty());

    let events = iwalk(&env, CONTOSO, "/beta/identityRiskEvents?$top=100").await;
    assert_eq!(events.len(), d.len(), "one legacy event per detection");
    let statuses = [
        "active",
        "remediated",
        "dismissedAsFixed",
        "dismissedAsFalsePositive",
        "dismissedAsIgnore",
        "loginBlocked",
        "closedMfaAuto",
        "closedMultipleReasons",
    ];
    for e in &events {
        assert!(
            e["@odata.type"]
                .as_str()
                .unwrap()
                .starts_with("#microsoft.graph.")
        );
        assert!(
            statuses.contains(&e["riskEventStatus"].as_str().unwrap()),
            "{e}"
        );
        assert!(e["createdDateTime"].is_string());
        assert!(e.get("riskDetail").is_none(), "legacy shape only: {e}");
    }
    let high = iwalk(
        &env,
        CONTOSO,
        "/beta/identityRiskEvents?$filter=riskLevel%20eq%20'high'",
    )
    .await;
    assert!(high.iter().all(|e| e["riskLevel"] == "high"));
    let id = events[0]["id"].as_str().unwrap();
    let one = ijson(
        &env,
        CONTOSO,
        &format!("/beta/identityRiskEvents/{id}"),
        200,
    )
    .await;
    assert_eq!(one["id"], id);
    assert!(
        one["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/beta/$metadata#identityRiskEvents/$entity")
    );
    let resp = iget_with(&env, CONTOSO, "/v1.0/identityRiskEvents", false).await;
    expect_error(resp, 404, "NotFound").await;
}

#[tokio::test]
async fn permissions_are_checked_per_operation() {
    let env = TestEnv::start().await;
    let call = |scopes: &'static [&'static str], path: &'static str| {
        let env = &env;
        async move {
            env.client
                .get(format!("{}{path}", env.base))
                .bearer_auth(env.token_with(CONTOSO, scopes))
                .send()
                .await
                .unwrap()
        }
    };
    let users = "/v1.0/identityProtection/riskyUsers?$top=1";
    let detections = "/v1.0/identityProtection/riskDetections?$top=1";
    let r = call(&["SecurityEvents.ReadWrite.All"], users).await;
    expect_error(r, 403, "Forbidden").await;
    assert_eq!(call(&[READ_USERS], users).await.status(), 200);
    assert_eq!(call(&[WRITE_USERS], users).await.status(), 200);
    let r = call(&[READ_USERS], detections).await;
    expect_error(r, 403, "Forbidden").await;
    assert_eq!(call(&[READ_EVENTS], detections).await.status(), 200);
    let r = call(&[READ_USERS], "/beta/identityRiskEvents").await;
    expect_error(r, 403, "Forbidden").await;
    // Read is not enough to act, and nothing is sent to a provider.
    let (both, _) = overlap_and_graph_only(&env, CONTOSO);
    let r = env
        .client
        .post(format!(
            "{}/v1.0/identityProtection/riskyUsers/dismiss",
            env.base
        ))
        .bearer_auth(env.token_with(CONTOSO, &[READ_USERS, READ_EVENTS]))
        .json(&json!({ "userIds": [both] }))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "Forbidden").await;
    assert!(env.fleet.get(ProviderKind::Graph).writes().is_empty());
    assert!(env.fleet.get(ProviderKind::Ocsf).writes().is_empty());
    // No token at all: 401.
    let r = env
        .client
        .get(format!("{}{users}", env.base))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "InvalidAuthenticationToken").await;
}

#[tokio::test]
async fn alerts_carry_their_users_risk_and_can_be_asked_by_it() {
    let env = TestEnv::start().await;
    let users = iwalk(
        &env,
        CONTOSO,
        "/v1.0/identityProtection/riskyUsers?$top=500",
    )
    .await;
    let by_id: BTreeMap<String, Value> = users
        .iter()
        .map(|u| (u["id"].as_str().unwrap().to_lowercase(), u.clone()))
        .collect();
    let pages = env.walk(CONTOSO, "/v1.0/security/alerts?$top=100").await;
    let mut joined = 0;
    for a in pages
        .iter()
        .flat_map(|p| p["value"].as_array().unwrap().clone())
    {
        for s in a["userStates"].as_array().unwrap() {
            let risk = &s["vigilUserRisk"];
            assert!(s.get("vigilUserRisk").is_some(), "every entry says: {s}");
            if let Some(id) = s["aadUserId"].as_str()
                && let Some(u) = by_id.get(&id.to_lowercase())
            {
                assert_eq!(risk["riskLevel"], u["riskLevel"], "{s}");
                assert_eq!(risk["riskState"], u["riskState"], "{s}");
                joined += 1;
            }
        }
    }
    assert!(joined > 0, "some alert involves a risky user");
    let high = env
        .walk(
            CONTOSO,
            "/v1.0/security/alerts?$top=100&vigilUserRiskAtLeast=high",
        )
        .await;
    let kept: Vec<Value> = high
        .iter()
        .flat_map(|p| p["value"].as_array().unwrap().clone())
        .collect();
    assert!(!kept.is_empty());
    for a in &kept {
        assert!(
            a["userStates"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["vigilUserRisk"]["riskLevel"] == "high"),
            "{a}"
        );
    }
    // With `$select`, the floor still reads every user (the selection drops them afterwards).
    let selected: Vec<Value> = env
        .walk(
            CONTOSO,
            "/v1.0/security/alerts?$top=100&vigilUserRiskAtLeast=high&$select=id,title",
        )
        .await
        .iter()
        .flat_map(|p| p["value"].as_array().unwrap().clone())
        .collect();
    let ids = |items: &[Value]| -> std::collections::BTreeSet<String> {
        items
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&selected), ids(&kept));
    for a in &selected {
        let keys: Vec<&String> = a.as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| *k == "id" || *k == "title" || k.starts_with('@')),
            "{a}"
        );
    }
    let resp = env
        .get(CONTOSO, "/v1.0/security/alerts?vigilUserRiskAtLeast=severe")
        .await;
    expect_error(resp, 400, "BadRequest").await;
}

#[tokio::test]
async fn history_items_are_addressable_by_id_under_every_path() {
    let env = TestEnv::start().await;
    let (_, graph_only) = overlap_and_graph_only(&env, CONTOSO);
    let resp = act(&env, CONTOSO, "confirmCompromised", &[&graph_only]).await;
    assert_eq!(resp.status(), 204);
    let base = format!("/v1.0/identityProtection/riskyUsers/{graph_only}/history");
    let list = ijson(&env, CONTOSO, &base, 200).await;
    let items = list["value"].as_array().unwrap().clone();
    assert!(
        items.len() >= 2,
        "the provider's items and our action: {list}"
    );
    let ours = items
        .iter()
        .find(|i| i["initiatedBy"] == OID)
        .expect("our action in the history");
    assert!(ours["id"].as_str().unwrap().starts_with("vigil-"), "{ours}");
    for item in &items {
        let hid = item["id"].as_str().unwrap();
        let one = ijson(&env, CONTOSO, &format!("{base}/{hid}"), 200).await;
        assert!(
            one["@odata.context"].as_str().unwrap().ends_with(&format!(
                "/v1.0/$metadata#identityProtection/riskyUsers/{graph_only}/history/$entity"
            )),
            "{one}"
        );
        let mut body = one.as_object().unwrap().clone();
        body.remove("@odata.context");
        assert_eq!(Value::Object(body), *item, "the item as the list shows it");
    }
    let hid = ours["id"].as_str().unwrap();
    // $select, beta, and beta's root alias.
    let sel = ijson(
        &env,
        CONTOSO,
        &format!("{base}/{hid}?$select=id,riskState"),
        200,
    )
    .await;
    let keys: Vec<&String> = sel.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["@odata.context", "id", "riskState"], "{sel}");
    assert_eq!(sel["riskState"], "confirmedCompromised");
    for path in [
        format!("/beta/identityProtection/riskyUsers/{graph_only}/history/{hid}"),
        format!("/beta/riskyUsers/{graph_only}/history/{hid}"),
    ] {
        let one = ijson(&env, CONTOSO, &path, 200).await;
        assert_eq!(one["id"], hid, "{path}");
        assert_eq!(one["initiatedBy"], OID, "{path}");
    }
    let root = ijson(
        &env,
        CONTOSO,
        &format!("/beta/riskyUsers/{graph_only}/history/{hid}"),
        200,
    )
    .await;
    assert!(root["@odata.context"].as_str().unwrap().ends_with(&format!(
        "/beta/$metadata#riskyUsers/{graph_only}/history/$entity"
    )));
    // Unknown item, unknown user, the root alias under v1.0: Graph's 404.
    for path in [
        format!("{base}/no-such-item"),
        "/v1.0/identityProtection/riskyUsers/00000000-0000-0000-0000-000000000000/history/x"
            .to_string(),
        format!("/v1.0/riskyUsers/{graph_only}/history/{hid}"),
    ] {
        let resp = iget_with(&env, CONTOSO, &path, false).await;
        expect_error(resp, 404, "NotFound").await;
    }
    // Another tenant cannot see it.
    let resp = iget_with(&env, FABRIKAM, &format!("{base}/{hid}"), false).await;
    expect_error(resp, 404, "NotFound").await;
    // IdentityRiskyUser.Read.All is the permission; IdentityRiskEvent.Read.All is not enough.
    let path = format!("{}{base}/{hid}", env.base);
    let with = |scopes: &'static [&'static str]| {
        env.client
            .get(&path)
            .bearer_auth(env.token_with(CONTOSO, scopes))
            .send()
    };
    assert_eq!(with(&[READ_USERS]).await.unwrap().status(), 200);
    let resp = with(&[READ_EVENTS]).await.unwrap();
    expect_error(resp, 403, "Forbidden").await;
}

/// The legacy subtypes as spec §5 names them, and the risk event types each stands for.
const LEGACY: &[(&str, &str, &[&str])] = &[
    (
        "leakedCredentialsRiskEvents",
        "leakedCredentialsRiskEvent",
        &["leakedCredentials"],
    ),
    (
        "anonymousIpRiskEvents",
        "anonymousIpRiskEvent",
        &["anonymizedIPAddress"],
    ),
    (
        "malwareRiskEvents",
        "malwareRiskEvent",
        &["malwareInfectedIPAddress"],
    ),
    (
        "suspiciousIpRiskEvents",
        "suspiciousIpRiskEvent",
        &["suspiciousIPAddress", "maliciousIPAddress"],
    ),
    (
        "unfamiliarLocationRiskEvents",
        "unfamiliarLocationRiskEvent",
        &["unfamiliarFeatures"],
    ),
    (
        "impossibleTravelRiskEvents",
        "impossibleTravelRiskEvent",
        &["impossibleTravel", "unlikelyTravel", "mcasImpossibleTravel"],
    ),
];

/// The scenario's detection ids of a tenant (Graph and OCSF) by risk event type.
fn detections_by_type(env: &TestEnv, tenant: &str) -> BTreeMap<String, HashSet<String>> {
    let mut out: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for kind in [ProviderKind::Graph, ProviderKind::Ocsf] {
        for d in env.fleet.scenario().data(kind).risk_detections_of(tenant) {
            out.entry(d.risk_event_type.clone().unwrap_or_default())
                .or_default()
                .insert(d.id.clone());
        }
    }
    out
}

#[tokio::test]
async fn legacy_subtype_collections_list_only_their_risk_events() {
    let env = TestEnv::start().await;
    let located_props = ["ipAddress", "location"];
    for tenant in [CONTOSO, FABRIKAM] {
        let by_type = detections_by_type(&env, tenant);
        let mut located_ids: Vec<String> = Vec::new();
        let mut leaked_id = None;
        for (segment, ty, types) in LEGACY {
            let want: HashSet<String> = types
                .iter()
                .filter_map(|t| by_type.get(*t))
                .flatten()
                .cloned()
                .collect();
            let items = iwalk(&env, tenant, &format!("/beta/{segment}?$top=20")).await;
            let got: HashSet<String> = items
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(got.len(), items.len(), "{segment}: no repeats");
            assert_eq!(got, want, "{tenant} {segment}: exactly its risk events");
            let mut own: Vec<&str> = match *segment {
                "leakedCredentialsRiskEvents" => vec![],
                "malwareRiskEvents" => vec!["deviceInformation", "malwareName"],
                "impossibleTravelRiskEvents" => vec![
                    "deviceInformation",
                    "isAtypicalLocation",
                    "previousIPAddress",
                    "previousLocation",
                    "previousSigninDateTime",
                    "userAgent",
                ],
                _ => vec![],
            };
            if *segment != "leakedCredentialsRiskEvents" {
                own.extend(located_props);
            }
            for e in &items {
                assert_eq!(e["@odata.type"], format!("#microsoft.graph.{ty}"), "{e}");
                assert!(types.contains(&e["riskEventType"].as_str().unwrap()), "{e}");
                for k in &own {
                    assert!(e.get(*k).is_some(), "{segment}: {k} missing in {e}");
                }
                if *segment == "leakedCredentialsRiskEvents" {
                    assert!(e.get("ipAddress").is_none(), "{e}");
                }
            }
            // The scenario's details reach the subtype properties.
            match *segment {
                "malwareRiskEvents" => assert!(
                    items.iter().all(|e| e["malwareName"] == "Qakbot"),
                    "{items:?}"
                ),
                "impossibleTravelRiskEvents" => {
                    for e in &items {
                        assert!(e["previousLocation"].is_string(), "{e}");
                        assert!(e["previousSigninDateTime"].is_string(), "{e}");
                        assert!(e["userAgent"].is_string(), "{e}");
                    }
                }
                _ => {}
            }
            if *segment == "leakedCredentialsRiskEvents" {
                leaked_id = got.iter().next().cloned();
            } else {
                located_ids.extend(got.iter().cloned());
            }
            // $count counts the subtype only.
            let first = ijson(
                &env,
                tenant,
                &format!("/beta/{segment}?$count=true&$top=5"),
                200,
            )
            .await;
            assert_eq!(first["@odata.count"], want.len(), "{segment}");
            assert!(
                first["@odata.context"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/beta/$metadata#{segment}")),
                "{first}"
            );
            // By id: its own events; an event of another type is not found here.
            if let Some(id) = got.iter().next() {
                let one = ijson(&env, tenant, &format!("/beta/{segment}/{id}"), 200).await;
                assert_eq!(one["id"], id.as_str());
                assert_eq!(one["@odata.type"], format!("#microsoft.graph.{ty}"));
                assert!(
                    one["@odata.context"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!("#{segment}/$entity"))
                );
            }
            let other = by_type
                .iter()
                .find(|(t, _)| !types.contains(&t.as_str()))
                .and_then(|(_, ids)| ids.iter().next())
                .unwrap();
            let resp = iget_with(&env, tenant, &format!("/beta/{segment}/{other}"), false).await;
            expect_error(resp, 404, "NotFound").await;
            // Beta only.
            let resp = iget_with(&env, tenant, &format!("/v1.0/{segment}"), false).await;
            expect_error(resp, 404, "NotFound").await;
        }
        // locatedRiskEvents/{id}: any located subtype, never leakedCredentials.
        assert!(!located_ids.is_empty());
        for id in located_ids.iter().take(3) {
            let one = ijson(&env, tenant, &format!("/beta/locatedRiskEvents/{id}"), 200).await;
            assert_eq!(one["id"], id.as_str());
            assert!(one.get("ipAddress").is_some(), "{one}");
        }
        let leaked = leaked_id.expect("a leakedCredentials detection");
        let resp = iget_with(
            &env,
            tenant,
            &format!("/beta/locatedRiskEvents/{leaked}"),
            false,
        )
        .await;
        expect_error(resp, 404, "NotFound").await;
        // A $filter applies on top of the subtype.
        let high = iwalk(
            &env,
            tenant,
            "/beta/unfamiliarLocationRiskEvents?$filter=riskLevel%20eq%20'high'",
        )
        .await;
        assert!(
            high.iter()
                .all(|e| e["riskLevel"] == "high" && e["riskEventType"] == "unfamiliarFeatures")
        );
        // Selecting a property of another subtype is a 400.
        let resp = iget_with(
            &env,
            tenant,
            "/beta/leakedCredentialsRiskEvents?$select=malwareName",
            false,
        )
        .await;
        expect_error(resp, 400, "BadRequest").await;
    }
    // Tenants are isolated: CONTOSO's malware events are not FABRIKAM's.
    let contoso: HashSet<String> = iwalk(&env, CONTOSO, "/beta/malwareRiskEvents")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let id = contoso.iter().next().expect("a malware event");
    let resp = iget_with(
        &env,
        FABRIKAM,
        &format!("/beta/malwareRiskEvents/{id}"),
        false,
    )
    .await;
    expect_error(resp, 404, "NotFound").await;
    // IdentityRiskEvent.Read.All is the permission.
    let path = format!("{}/beta/impossibleTravelRiskEvents?$top=1", env.base);
    let with = |scopes: &'static [&'static str]| {
        env.client
            .get(&path)
            .bearer_auth(env.token_with(CONTOSO, scopes))
            .send()
    };
    assert_eq!(with(&[READ_EVENTS]).await.unwrap().status(), 200);
    let resp = with(&[WRITE_USERS]).await.unwrap();
    expect_error(resp, 403, "Forbidden").await;
}

#[tokio::test]
async fn counts_honour_the_user_risk_floor() {
    let env = TestEnv::start().await;
    for tenant in [CONTOSO, FABRIKAM] {
        // Risky users: the floor on the folded level, in the list and both counts.
        let users = iwalk(&env, tenant, "/v1.0/identityProtection/riskyUsers?$top=500").await;
        for level in ["high", "medium"] {
            let path =
                format!("/v1.0/identityProtection/riskyUsers?$top=7&vigilUserRiskAtLeast={level}");
            let walked = iwalk(&env, tenant, &path).await;
            let want = users
                .iter()
                .filter(|u| rank(u["riskLevel"].as_str().unwrap()) >= rank(level))
                .count();
            assert_eq!(
                walked.len(),
                want,
                "{tenant} {level}: the list keeps its users"
            );
            assert!(
                walked
                    .iter()
                    .all(|u| rank(u["riskLevel"].as_str().unwrap()) >= rank(level))
            );
            let first = ijson(&env, tenant, &format!("{path}&$count=true"), 200).await;
            assert_eq!(first["@odata.count"], walked.len(), "{tenant} {level}");
            for count in [
                format!("/v1.0/identityProtection/riskyUsers/$count?vigilUserRiskAtLeast={level}"),
                format!("/beta/riskyUsers/$count?vigilUserRiskAtLeast={level}"),
            ] {
                let resp = iget_with(&env, tenant, &count, false).await;
                assert_eq!(resp.status(), 200, "{count}");
                let n: usize = resp.text().await.unwrap().trim().parse().unwrap();
                assert_eq!(n, walked.len(), "{tenant} {count}");
            }
            assert!(
                want > 0 && want < users.len(),
                "{tenant} {level}: the floor narrows"
            );
        }
        let resp = iget_with(
            &env,
            tenant,
            "/v1.0/identityProtection/riskyUsers?vigilUserRiskAtLeast=severe",
            false,
        )
        .await;
        expect_error(resp, 400, "BadRequest").await;
        let all = env
            .get_json(tenant, "/v1.0/security/alerts?$count=true&$top=1", 200)
            .await["@odata.count"]
            .as_u64()
            .unwrap();
        for level in ["high", "medium"] {
            let walked = env
                .walk_alerts(
                    tenant,
                    &format!("/v1.0/security/alerts?$top=100&vigilUserRiskAtLeast={level}"),
                )
                .await;
            let ids: HashSet<String> = walked.iter().map(id_of).collect();
            assert_eq!(ids.len(), walked.len(), "no repeats");
            let first = env
                .get_json(
                    tenant,
                    &format!(
                        "/v1.0/security/alerts?$count=true&$top=100&vigilUserRiskAtLeast={level}"
                    ),
                    200,
                )
                .await;
            assert_eq!(
                first["@odata.count"],
                walked.len(),
                "{tenant} {level}: @odata.count is what the walk returns"
            );
            let resp = env
                .get(
                    tenant,
                    &format!("/v1.0/security/alerts/$count?vigilUserRiskAtLeast={level}"),
                )
                .await;
            assert_eq!(resp.status(), 200);
            let n: usize = resp.text().await.unwrap().trim().parse().unwrap();
            assert_eq!(n, walked.len(), "{tenant} {level}: $count");
            assert!(
                n > 0 && (n as u64) < all,
                "{tenant} {level}: the floor narrows ({n} of {all})"
            );
        }
        // With a $filter too: both apply.
        let f = enc("severity eq 'high'");
        let walked = env
            .walk_alerts(
                tenant,
                &format!("/v1.0/security/alerts?$filter={f}&vigilUserRiskAtLeast=low"),
            )
            .await;
        let resp = env
            .get(
                tenant,
                &format!("/v1.0/security/alerts/$count?$filter={f}&vigilUserRiskAtLeast=low"),
            )
            .await;
        let n: usize = resp.text().await.unwrap().trim().parse().unwrap();
        assert_eq!(n, walked.len(), "{tenant}: $filter and floor");
        let resp = env
            .get(
                tenant,
                "/v1.0/security/alerts/$count?vigilUserRiskAtLeast=severe",
            )
            .await;
        expect_error(resp, 400, "BadRequest").await;
    }
}

#[tokio::test]
async fn graph_is_asked_for_evolvable_members_and_the_gateway_hides_them_unless_asked() {
    let env = TestEnv::start().await;
    let (_, graph_only) = overlap_and_graph_only(&env, CONTOSO);
    // confirmSafe makes Graph hold the evolvable riskDetail adminConfirmedAccountSafe.
    let resp = act(&env, CONTOSO, "confirmSafe", &[&graph_only]).await;
    assert_eq!(resp.status(), 204);
    let path = format!("/v1.0/identityProtection/riskyUsers/{graph_only}");
    // Delivered (not pending): what shows is Graph's own answer.
    let resp = iget_with(&env, CONTOSO, &path, true).await;
    assert_eq!(resp.status(), 200);
    let u: Value = resp.json().await.unwrap();
    assert_eq!(u["isProcessing"], false, "{u}");
    assert_eq!(
        u["riskDetail"], "adminConfirmedAccountSafe",
        "Graph was asked with Prefer: include-unknown-enum-members: {u}"
    );
    let u = ijson(&env, CONTOSO, &path, 200).await;
    assert_eq!(u["riskDetail"], "unknownFutureValue", "hidden without it");
    // The same through the list (the risk directory is shared by both kinds of caller) and
    // Graph's own history item of the action.
    let pick = |items: &[Value]| {
        items
            .iter()
            .find(|x| x["id"].as_str().unwrap().eq_ignore_ascii_case(&graph_only))
            .cloned()
            .expect("the user in the list")
    };
    let mut with = Vec::new();
    let mut url = "/v1.0/identityProtection/riskyUsers?$top=500".to_string();
    loop {
        let resp = iget_with(&env, CONTOSO, &url, true).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        with.extend(body["value"].as_array().unwrap().iter().cloned());
        match body["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(pick(&with)["riskDetail"], "adminConfirmedAccountSafe");
    let without = iwalk(
        &env,
        CONTOSO,
        "/v1.0/identityProtection/riskyUsers?$top=500",
    )
    .await;
    assert_eq!(pick(&without)["riskDetail"], "unknownFutureValue");
    let no_evolvable = without
        .iter()
        .chain(
            iwalk(
                &env,
                CONTOSO,
                "/v1.0/identityProtection/riskDetections?$top=500",
            )
            .await
            .iter(),
        )
        .all(|x| x["riskDetail"] != "adminConfirmedAccountSafe");
    assert!(
        no_evolvable,
        "never an evolvable member without the preference"
    );
    // Another tenant's users are untouched by it.
    let resp = iget_with(&env, FABRIKAM, &path, true).await;
    expect_error(resp, 404, "NotFound").await;
}

#[tokio::test]
async fn patch_representation_carries_user_risk_like_get() {
    let env = TestEnv::start().await;
    let alerts = env
        .walk_alerts(
            CONTOSO,
            "/v1.0/security/alerts?$top=100&vigilUserRiskAtLeast=low",
        )
        .await;
    let alert = alerts.first().expect("an alert involving a risky user");
    let id = id_of(alert);
    let source = &alert["vigilSources"][0];
    let vi = json!({"provider": source["product"], "vendor": source["vendor"]});
    let resp = env
        .client
        .patch(format!("{}/v1.0/security/alerts/{id}", env.base))
        .bearer_auth(env.token(CONTOSO))
        .header("Prefer", "return=representation")
        .json(&json!({"status": "inProgress", "vendorInformation": vi}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let patched: Value = resp.json().await.unwrap();
    let got = env
        .get_json(CONTOSO, &format!("/v1.0/security/alerts/{id}"), 200)
        .await;
    let risks = |a: &Value| -> Vec<Value> {
        a["userStates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                assert!(s.get("vigilUserRisk").is_some(), "{s}");
                s["vigilUserRisk"].clone()
            })
            .collect()
    };
    let from_patch = risks(&patched);
    assert!(
        from_patch.iter().any(|r| r.is_object()),
        "a risky user is joined: {from_patch:?}"
    );
    assert_eq!(from_patch, risks(&got), "PATCH shows what GET shows");
    assert_eq!(patched["status"], "inProgress");
}

/// Hostile user ids (control characters, astral code points, ids no provider knows) while a
/// provider is down: the action is still answered (never a 500), and nothing unknown is sent.
#[tokio::test]
async fn odd_user_ids_with_a_provider_down_are_answered() {
    let env = TestEnv::start().await;
    env.set_faults(
        ProviderKind::Graph,
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    );
    let ids = [
        "h\u{1F13D}",
        "x",
        "\u{8A5A5}",
        "\u{86}\u{8A}\u{CA}\u{BC} ",
        "\u{8}\u{4}\\\t",
        "-",
        "__main__",
    ];
    for action in ["dismiss", "confirmSafe", "confirmCompromised"] {
        let resp = act(&env, CONTOSO, action, &ids).await;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        assert!(matches!(status, 202 | 204), "{action}: {status} {body}");
    }
}
