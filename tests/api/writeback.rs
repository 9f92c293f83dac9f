//! Write-back: PATCH / updateAlerts reach every provider holding the alert, durably, in order;
//! asserted from what the mock providers recorded and now hold.

use crate::process::{Proc, admin_token, setup, token};
use crate::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use vigil_mock::{Faults, ProviderKind};

const RW: &[&str] = &["SecurityEvents.Read.All", "SecurityEvents.ReadWrite.All"];

// Every flow below runs on SQLite and on PostgreSQL (skipped, saying so, without
// `VIGIL_TEST_POSTGRES_URL`; required in CI).
on_both_engines!(
    patch_reaches_every_provider_and_reads_back,
    bad_patches_are_graph_errors,
    a_provider_down_gets_202_then_the_worker_delivers,
    a_connection_label_is_routed_by_each_copys_own_vendor_information,
    stale_if_match_is_412,
    concurrent_patches_leave_every_provider_with_the_later_change,
    update_alerts_is_beta_bulk,
    drift_in_a_product_console_is_shown_and_the_newest_change_wins,
);

/// A unified alert with a copy at every provider: (unified id, [(provider, provider id)], vendor
/// information of one source).
async fn alert_with_all_sources(
    env: &TestEnv,
    tenant: &str,
) -> (String, Vec<(String, String)>, Value) {
    for page in env.walk(tenant, "/v1.0/security/alerts?$top=50").await {
        for a in page["value"].as_array().unwrap() {
            let sources = a["vigilSources"].as_array().cloned().unwrap_or_default();
            if sources.len() == 3 {
                let pairs = sources
                    .iter()
                    .map(|s| {
                        (
                            s["provider"].as_str().unwrap().to_string(),
                            s["providerAlertId"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect();
                let vi = json!({
                    "provider": sources[0]["product"],
                    "vendor": sources[0]["vendor"],
                });
                return (a["id"].as_str().unwrap().to_string(), pairs, vi);
            }
        }
    }
    panic!("the scenario has no alert held by all three providers");
}

fn kind_of(provider: &str) -> ProviderKind {
    if provider.starts_with("graph") {
        ProviderKind::Graph
    } else if provider.starts_with("falcon") {
        ProviderKind::Falcon
    } else {
        ProviderKind::Ocsf
    }
}

/// The writes a mock recorded that concern `provider_alert_id`.
fn writes_for(env: &TestEnv, provider: &str, pid: &str) -> Vec<vigil_mock::RecordedWrite> {
    env.fleet
        .get(kind_of(provider))
        .writes()
        .into_iter()
        .filter(|w| w.path.contains(pid) || w.body.to_string().contains(pid))
        .collect()
}

async fn patch(
    env: &TestEnv,
    tenant: &str,
    id: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = env
        .client
        .patch(format!("{}/v1.0/security/alerts/{id}", env.base))
        .bearer_auth(env.token_with(tenant, RW))
        .json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn get_alert(env: &TestEnv, tenant: &str, id: &str) -> (Value, Option<String>) {
    let resp = env
        .get(tenant, &format!("/v1.0/security/alerts/{id}"))
        .await;
    assert!(
        resp.status() == 200 || resp.status() == 206,
        "{}",
        resp.status()
    );
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    (resp.json().await.unwrap(), etag)
}

/// Waits until every source of the alert reports `delivered`; returns the alert.
async fn settled(env: &TestEnv, tenant: &str, id: &str, within: Duration) -> Value {
    let start = Instant::now();
    loop {
        let (a, _) = get_alert(env, tenant, id).await;
        let done = a["vigilSources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["syncState"]["state"] == "delivered");
        if done {
            return a;
        }
        assert!(
            start.elapsed() < within,
            "not settled: {}",
            a["vigilSources"]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn patch_reaches_every_provider_and_reads_back(env: TestEnv) {
    let (id, sources, vi) = alert_with_all_sources(&env, CONTOSO).await;
    // prime the cache with a list, so that a stale page would show after the write
    let _ = env.get(CONTOSO, "/v1.0/security/alerts?$top=50").await;
    let body = json!({
        "status": "InProgress",
        "assignedTo": "analyst@contoso.com",
        "feedback": "truePositive",
        "comments": ["triaged by vigil test"],
        "tags": ["HVA"],
        "vendorInformation": vi,
    });
    let resp = patch(
        &env,
        CONTOSO,
        &id,
        &body,
        &[("Prefer", "return=representation")],
    )
    .await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    assert!(resp.headers().get("etag").is_some());
    let a: Value = resp.json().await.unwrap();
    assert_eq!(a["id"], id);
    assert_eq!(a["status"], "inProgress");
    assert_eq!(a["assignedTo"], "analyst@contoso.com");
    // every provider received the change, once
    for (provider, pid) in &sources {
        let w = writes_for(&env, provider, pid);
        assert_eq!(w.len(), 1, "{provider}: {w:?}");
    }
    // read after write, through the list (the cache was invalidated) and the GET
    let (got, _) = get_alert(&env, CONTOSO, &id).await;
    for s in got["vigilSources"].as_array().unwrap() {
        assert_eq!(s["status"], "inProgress", "{s}");
        assert_eq!(s["syncState"]["state"], "delivered", "{s}");
    }
    // Vigil's entry (providers may add their own, e.g. Graph's beta appends one too)
    let history = got["historyStates"].as_array().unwrap();
    let ours = history
        .iter()
        .rfind(|h| h["user"] == "tester@contoso.com")
        .unwrap_or_else(|| panic!("no history entry of ours in {history:?}"));
    assert_eq!(ours["status"], "inProgress");
    assert_eq!(ours["appId"], "vigil-tests");
    assert_eq!(ours["comments"], json!(["triaged by vigil test"]));
    let times: Vec<&str> = history
        .iter()
        .filter_map(|h| h["updatedDateTime"].as_str())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "newest last: {times:?}"
    );
    let pages = env.walk(CONTOSO, "/v1.0/security/alerts?$top=50").await;
    let listed = pages
        .iter()
        .flat_map(|p| p["value"].as_array().unwrap().clone())
        .find(|a| a["id"] == id.as_str())
        .unwrap();
    assert_eq!(listed["status"], "inProgress");
    assert_eq!(
        listed["historyStates"].as_array().unwrap().len(),
        history.len()
    );

    // the same change again changes nothing at the providers that diff (no duplicate comment)
    let resp = patch(&env, CONTOSO, &id, &body, &[]).await;
    assert_eq!(resp.status(), 204);
    let (got, _) = get_alert(&env, CONTOSO, &id).await;
    let comments = got["comments"].as_array().unwrap();
    let n = comments
        .iter()
        .filter(|c| *c == "triaged by vigil test")
        .count();
    assert_eq!(n, 1, "{comments:?}");
}

async fn bad_patches_are_graph_errors(env: TestEnv) {
    let (id, _, vi) = alert_with_all_sources(&env, CONTOSO).await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"status": "resolved"}), 400, "vendorInformation"),
        (
            json!({"status": "resolved", "severity": "high", "title": "x", "vendorInformation": vi}),
            400,
            "severity",
        ),
        (
            json!({"status": "nope", "vendorInformation": vi}),
            400,
            "status",
        ),
        (
            json!({"status": "resolved", "vendorInformation": {"provider": "Nope", "vendor": "Nobody"}}),
            400,
            "vendorInformation",
        ),
    ];
    for (body, status, needle) in cases {
        let resp = patch(&env, CONTOSO, &id, &body, &[]).await;
        assert_eq!(resp.status().as_u16(), status, "{body}");
        let (code, msg) = graph_error(&resp.json().await.unwrap());
        assert_eq!(code, "BadRequest");
        assert!(msg.contains(needle), "{msg}");
    }
    // malformed JSON, empty and oversized bodies
    let url = format!("{}/v1.0/security/alerts/{id}", env.base);
    let token = env.token_with(CONTOSO, RW);
    for (body, status) in [
        ("{\"status\":".to_string(), 400u16),
        (String::new(), 400),
        (
            format!("{{\"comments\":[\"{}\"]}}", "x".repeat(70_000)),
            413,
        ),
    ] {
        let resp = env
            .client
            .patch(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status);
        graph_error(&resp.json().await.unwrap());
    }
    // read-only token, unknown id, v1.0 updateAlerts
    let resp = env
        .client
        .patch(&url)
        .bearer_auth(env.token_with(CONTOSO, &["SecurityEvents.Read.All"]))
        .json(&json!({"status": "resolved", "vendorInformation": vi}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = patch(
        &env,
        CONTOSO,
        "no-such-alert-anywhere",
        &json!({"status": "resolved", "vendorInformation": vi}),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 404);
    graph_error(&resp.json().await.unwrap());
    let resp = env
        .client
        .post(format!("{}/v1.0/security/alerts/updateAlerts", env.base))
        .bearer_auth(&token)
        .json(&json!({"value": []}))
        .send()
        .await
        .unwrap();
    // updateAlerts is beta only: on v1.0 the path is an alert id, which takes no POST
    expect_graph_error(resp, 405, "MethodNotAllowed").await;
    // nothing reached any provider
    for kind in ProviderKind::ALL {
        assert!(env.fleet.get(kind).writes().is_empty(), "{kind:?}");
    }
}

async fn a_provider_down_gets_202_then_the_worker_delivers(env: TestEnv) {
    let (id, sources, vi) = alert_with_all_sources(&env, CONTOSO).await;
    let falcon = env.fleet.get(ProviderKind::Falcon);
    falcon.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let resp = patch(
        &env,
        CONTOSO,
        &id,
        &json!({"status": "resolved", "assignedTo": "on-call@contoso.com", "closedDateTime": "2024-05-01T10:00:00+00:00", "vendorInformation": vi}),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 202);
    let body: Value = resp.json().await.unwrap();
    let sync = body["vigilSync"].as_array().unwrap();
    assert_eq!(sync.len(), 3);
    for s in sync {
        let expected = if s["provider"].as_str().unwrap().starts_with("falcon") {
            "pending"
        } else {
            "delivered"
        };
        assert_eq!(s["state"], expected, "{s}");
    }
    let f = sync
        .iter()
        .find(|s| s["provider"].as_str().unwrap().starts_with("falcon"))
        .unwrap();
    assert!(f["lastError"].as_str().is_some(), "{f}");
    assert!(f["attempts"].as_i64().unwrap() >= 1);

    // the pending copy shows in the representation and in the admin outbox
    let (a, _) = get_alert(&env, CONTOSO, &id).await;
    let falcon_sync = a["vigilSources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["provider"].as_str().unwrap().starts_with("falcon"))
        .map(|s| s["syncState"].clone())
        .unwrap();
    assert_eq!(falcon_sync["state"], "pending", "{falcon_sync}");
    // admin routes need the Vigil.Admin app role (a delegated scope of that name is not it)
    let resp = env
        .client
        .get(format!("{}/vigil/admin/outbox?state=pending", env.base))
        .bearer_auth(env.token_with(CONTOSO, &["Vigil.Admin"]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    falcon.set_faults(Faults::default());
    let a = settled(&env, CONTOSO, &id, Duration::from_secs(30)).await;
    for s in a["vigilSources"].as_array().unwrap() {
        assert_eq!(s["status"], "resolved", "{s}");
    }
    for (provider, pid) in &sources {
        assert!(
            !writes_for(&env, provider, pid).is_empty(),
            "{provider} {pid}: {:?}",
            env.fleet.get(kind_of(provider)).writes()
        );
    }
}

async fn a_connection_label_is_routed_by_each_copys_own_vendor_information(env: TestEnv) {
    let (id, sources, _) = alert_with_all_sources(&env, CONTOSO).await;
    let (alert, _) = get_alert(&env, CONTOSO, &id).await;
    let graph_copy = alert["vigilSources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["provider"].as_str().unwrap().starts_with("graph"))
        .cloned()
        .unwrap();
    // The Graph connection's configured label, which is not the product of the alert's Graph
    // copy: Graph itself would refuse it, so the adapter must send the copy's own.
    let label = json!({"vendor": "Microsoft", "provider": "Graph"});
    assert_ne!(graph_copy["product"], "Graph");
    let body = json!({"assignedTo": "label-router@contoso.com", "vendorInformation": label});
    let resp = patch(&env, CONTOSO, &id, &body, &[]).await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    assert!(
        resp.headers().get("etag").is_none(),
        "an unconditional 204 carries no ETag, as Graph"
    );
    for (provider, pid) in &sources {
        let w = writes_for(&env, provider, pid);
        assert_eq!(w.len(), 1, "{provider}: {w:?}");
        if provider.starts_with("graph") {
            assert_eq!(
                w[0].body["vendorInformation"]["provider"],
                graph_copy["product"]
            );
            assert_eq!(
                w[0].body["vendorInformation"]["vendor"],
                graph_copy["vendor"]
            );
        }
    }
}

async fn stale_if_match_is_412(env: TestEnv) {
    let (id, _, vi) = alert_with_all_sources(&env, CONTOSO).await;
    let (_, etag) = get_alert(&env, CONTOSO, &id).await;
    let etag = etag.unwrap();
    let body = json!({"assignedTo": "first@contoso.com", "vendorInformation": vi});
    let resp = patch(&env, CONTOSO, &id, &body, &[("If-Match", &etag)]).await;
    assert_eq!(resp.status(), 204);
    let new_etag = resp
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(new_etag, etag);
    let body = json!({"assignedTo": "second@contoso.com", "vendorInformation": vi});
    let resp = patch(&env, CONTOSO, &id, &body, &[("If-Match", &etag)]).await;
    assert_eq!(resp.status(), 412);
    let (code, _) = graph_error(&resp.json().await.unwrap());
    assert_eq!(code, "PreconditionFailed");
    let (a, get_etag) = get_alert(&env, CONTOSO, &id).await;
    assert_eq!(a["assignedTo"], "first@contoso.com");
    assert_eq!(
        get_etag.unwrap(),
        new_etag,
        "GET and PATCH agree on the ETag"
    );
    let resp = patch(&env, CONTOSO, &id, &body, &[("If-Match", &new_etag)]).await;
    assert_eq!(resp.status(), 204);
}

async fn concurrent_patches_leave_every_provider_with_the_later_change(env: TestEnv) {
    let (id, _, vi) = alert_with_all_sources(&env, CONTOSO).await;
    for round in 0..3 {
        let a = json!({"status": "inProgress", "assignedTo": format!("a{round}@contoso.com"), "vendorInformation": vi});
        let b = json!({"status": "resolved", "assignedTo": format!("b{round}@contoso.com"), "vendorInformation": vi});
        let (ra, rb) = tokio::join!(
            patch(&env, CONTOSO, &id, &a, &[]),
            patch(&env, CONTOSO, &id, &b, &[])
        );
        assert!(ra.status().is_success() && rb.status().is_success());
        let got = settled(&env, CONTOSO, &id, Duration::from_secs(30)).await;
        // the later recorded change is the last history entry; every provider holds it
        let last = got["historyStates"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        for s in got["vigilSources"].as_array().unwrap() {
            assert_eq!(s["status"], last["status"], "round {round}: {s} vs {last}");
        }
        assert_eq!(got["assignedTo"], last["assignedTo"]);
    }
}

async fn update_alerts_is_beta_bulk(env: TestEnv) {
    let (id, sources, vi) = alert_with_all_sources(&env, CONTOSO).await;
    let mut item = json!({"id": id, "status": "resolved", "feedback": "falsePositive", "vendorInformation": vi});
    let resp = env
        .client
        .post(format!("{}/beta/security/alerts/updateAlerts", env.base))
        .bearer_auth(env.token_with(CONTOSO, RW))
        .json(&json!({"value": [item.clone()]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let v = body["value"].as_array().unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["id"], id.as_str());
    assert_eq!(v[0]["status"], "resolved");
    assert_eq!(v[0]["feedback"], "falsePositive");
    for (provider, pid) in &sources {
        assert_eq!(writes_for(&env, provider, pid).len(), 1, "{provider}");
    }
    // an item without an id is rejected before anything is recorded
    item.as_object_mut().unwrap().remove("id");
    let resp = env
        .client
        .post(format!("{}/beta/security/alerts/updateAlerts", env.base))
        .bearer_auth(env.token_with(CONTOSO, RW))
        .json(&json!({"value": [item]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    graph_error(&resp.json().await.unwrap());
}

#[tokio::test]
async fn nothing_is_lost_when_the_process_is_killed_mid_delivery() {
    killed_mid_delivery(None).await;
}

#[tokio::test]
async fn nothing_is_lost_when_the_process_is_killed_mid_delivery_on_postgres() {
    if let Some(schema) = PgSchema::create().await {
        killed_mid_delivery(Some(schema.url())).await;
    }
}

/// The real binary, killed with SIGKILL while it delivers to three providers (two of them
/// down); restarted; the providers come back; every change reaches every provider.
async fn killed_mid_delivery(database_url: Option<String>) {
    let fleet = vigil_mock::MockFleet::start(vigil_mock::MockConfig {
        alerts_per_tenant: 60,
        ..vigil_mock::MockConfig::default()
    })
    .await
    .unwrap();
    let (dir, port, config) = setup(
        &fleet,
        "kill9",
        &format!(
            "database_url = \"{}\"\n\n[federation]\nprovider_timeout_ms = 4000\n\n[writeback]\npoll_interval_ms = 200\nlease_secs = 2\nbackoff_base_ms = 200\nbackoff_max_secs = 1\n",
            database_url.as_deref().unwrap_or_default()
        ),
    );
    let token = token(&dir, CONTOSO, "vigil-tests", RW);
    let admin = admin_token(&dir, CONTOSO);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let mut gw = Proc::start(&config, port, &dir.join("first.log"), &[]).await;
    // an alert held by all three providers
    let body: Value = client
        .get(format!("{}/v1.0/security/alerts?$top=60", gw.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alert = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["vigilSources"].as_array().is_some_and(|s| s.len() == 3))
        .expect("an alert at every provider")
        .clone();
    let id = alert["id"].as_str().unwrap().to_string();
    let sources: Vec<(String, String)> = alert["vigilSources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["provider"].as_str().unwrap().to_string(),
                s["providerAlertId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let vi = json!({"provider": alert["vigilSources"][0]["product"], "vendor": alert["vigilSources"][0]["vendor"]});

    // two providers down, the third slow: the process dies while it delivers
    for kind in [ProviderKind::Graph, ProviderKind::Ocsf] {
        fleet.get(kind).set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        });
    }
    fleet.get(ProviderKind::Falcon).set_faults(Faults {
        latency_ms: 3000,
        ..Faults::default()
    });
    let comment = format!("kill-9 {}", uuid::Uuid::new_v4());
    let change = json!({
        "status": "resolved",
        "assignedTo": "survivor@contoso.com",
        "comments": [comment],
        "vendorInformation": vi,
    });
    let url = format!("{}/v1.0/security/alerts/{id}", gw.base);
    let pending = tokio::spawn({
        let client = client.clone();
        let token = token.clone();
        async move {
            client
                .patch(url)
                .bearer_auth(token)
                .json(&change)
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    gw.kill();
    let answer = pending.await.unwrap();
    assert!(
        answer.is_err(),
        "the PATCH must not have been answered: {answer:?}"
    );

    // start again on the same data dir: the change is there, pending for the providers that
    // never took it (operators see it); then bring the providers back
    let gw = Proc::start(&config, port, &dir.join("second.log"), &[]).await;
    let rows: Value = client
        .get(format!("{}/vigil/admin/outbox?state=pending", gw.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pending_for: Vec<&str> = rows["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["alertId"] == id.as_str())
        .filter_map(|r| r["provider"].as_str())
        .collect();
    assert!(
        pending_for.iter().any(|p| p.starts_with("graph"))
            && pending_for.iter().any(|p| p.starts_with("ocsf")),
        "{rows}"
    );
    let resp = client
        .post(format!("{}/vigil/admin/outbox/999999/retry", gw.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    for kind in ProviderKind::ALL {
        fleet.get(kind).set_faults(Faults::default());
    }
    let start = Instant::now();
    loop {
        let got: Value = client
            .get(format!("{}/v1.0/security/alerts/{id}", gw.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let done = got["vigilSources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "resolved" && s["syncState"]["state"] == "delivered");
        if done {
            assert_eq!(got["assignedTo"], "survivor@contoso.com");
            let n = got["comments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c.as_str() == Some(comment.as_str()))
                .count();
            assert_eq!(n, 1, "comment duplicated: {}", got["comments"]);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not delivered after restart: {}",
            got["vigilSources"]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // from the mocks' logs: every provider received the change
    for (provider, pid) in &sources {
        let writes: Vec<_> = fleet
            .get(kind_of(provider))
            .writes()
            .into_iter()
            .filter(|w| w.path.contains(pid.as_str()) || w.body.to_string().contains(pid.as_str()))
            .collect();
        assert!(!writes.is_empty(), "{provider} received nothing");
        let with_comment = writes
            .iter()
            .filter(|w| w.body.to_string().contains(&comment))
            .count();
        assert!(with_comment >= 1, "{provider}: {writes:?}");
    }
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A gateway in this process on `database_url`, against `fleet`, with its own data dir.
async fn gateway_on(
    fleet: &vigil_mock::MockFleet,
    database_url: &str,
    dir: &std::path::Path,
    key: &std::path::Path,
    shutdown: &tokio_util::sync::CancellationToken,
) -> String {
    let mut cfg = vigil_gateway::Config::from_overrides(json!({
        "listen": "127.0.0.1:0",
        "data_dir": dir,
        "database_url": database_url,
        "auth": { "mode": "hs256", "hs256_key_file": key },
        "federation": { "provider_timeout_ms": 3000 },
        "writeback": { "poll_interval_ms": 200, "backoff_base_ms": 200, "backoff_max_secs": 1 },
    }))
    .unwrap();
    cfg.providers = vigil::demo::provider_configs(fleet).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = vigil_gateway::build_state(cfg).await.unwrap();
    let token = shutdown.clone();
    tokio::spawn(async move {
        let _ = vigil_gateway::run(state, listener, token).await;
    });
    format!("http://{addr}")
}

/// Two gateways on one PostgreSQL schema: a write through one is seen at once through the
/// other (its cached pages dropped by LISTEN/NOTIFY), and a change pending for a provider
/// that is down is delivered once it is back, once per provider.
#[tokio::test]
async fn two_gateways_on_postgres_share_outbox_and_cache_invalidation() {
    let Ok(base) = std::env::var("VIGIL_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set VIGIL_TEST_POSTGRES_URL"
        );
        eprintln!("SKIPPED: set VIGIL_TEST_POSTGRES_URL to run the two-gateway test");
        return;
    };
    let schema = format!("vigil_e2e_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");

    let fleet = vigil_mock::MockFleet::start(vigil_mock::MockConfig {
        alerts_per_tenant: 60,
        ..vigil_mock::MockConfig::default()
    })
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("vigil-pg2-{}", uuid::Uuid::new_v4()));
    let key_path = dir.join("token-signing.key");
    let key = vigil_gateway::config::load_or_create_key(&key_path).unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let a = gateway_on(&fleet, &url, &dir.join("a"), &key_path, &shutdown).await;
    let b = gateway_on(&fleet, &url, &dir.join("b"), &key_path, &shutdown).await;
    let token = mint_delegated(&key, CONTOSO, "vigil-tests", RW);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let list = |base: String| {
        let client = client.clone();
        let token = token.clone();
        async move {
            let v: Value = client
                .get(format!("{base}/v1.0/security/alerts?$top=60"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["value"].as_array().unwrap().clone()
        }
    };
    // B caches the page; pick an alert held by all three providers
    let page = list(b.clone()).await;
    let alert = page
        .iter()
        .find(|a| a["vigilSources"].as_array().is_some_and(|s| s.len() == 3))
        .unwrap()
        .clone();
    let id = alert["id"].as_str().unwrap().to_string();
    let vi = json!({"provider": alert["vigilSources"][0]["product"], "vendor": alert["vigilSources"][0]["vendor"]});
    let target = if alert["status"] == "inProgress" {
        "resolved"
    } else {
        "inProgress"
    };
    // OCSF is down for the write through A
    fleet.get(ProviderKind::Ocsf).set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let resp = client
        .patch(format!("{a}/v1.0/security/alerts/{id}"))
        .bearer_auth(&token)
        .json(&json!({"status": target, "tags": ["pg-e2e"], "vendorInformation": vi}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    // read after write through B: its cached page was dropped (NOTIFY from A)
    let start = Instant::now();
    loop {
        let seen = list(b.clone()).await;
        let mine = seen.iter().find(|x| x["id"] == id.as_str());
        if mine.is_some_and(|x| x["status"] == target) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "B still shows the old state: {mine:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // OCSF comes back; both gateways' workers share the outbox: one delivery per provider
    fleet.get(ProviderKind::Ocsf).set_faults(Faults::default());
    let start = Instant::now();
    let ocsf_pid = alert["vigilSources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["provider"].as_str().unwrap().starts_with("ocsf"))
        .map(|s| s["providerAlertId"].as_str().unwrap().to_string())
        .unwrap();
    loop {
        let n = fleet
            .get(ProviderKind::Ocsf)
            .writes()
            .iter()
            .filter(|w| w.path.contains(&ocsf_pid) || w.body.to_string().contains(&ocsf_pid))
            .count();
        if n >= 1 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let n = fleet
                .get(ProviderKind::Ocsf)
                .writes()
                .iter()
                .filter(|w| w.path.contains(&ocsf_pid) || w.body.to_string().contains(&ocsf_pid))
                .count();
            assert_eq!(n, 1, "delivered more than once");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never delivered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for kind in [ProviderKind::Graph, ProviderKind::Falcon] {
        let pid = alert["vigilSources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| kind_of(s["provider"].as_str().unwrap()) == kind)
            .map(|s| s["providerAlertId"].as_str().unwrap().to_string())
            .unwrap();
        let n = fleet
            .get(kind)
            .writes()
            .iter()
            .filter(|w| w.path.contains(&pid) || w.body.to_string().contains(&pid))
            .count();
        assert_eq!(n, 1, "{kind:?}");
    }
    // If-Match holds across replicas: two writers with the same ETag, one through each
    // gateway, at the same moment: exactly one change is recorded, the other gets 412.
    for round in 0..4 {
        let etag = client
            .get(format!("{a}/v1.0/security/alerts/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .headers()
            .get("etag")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let conditional = |base: String, who: &str| {
            client
                .patch(format!("{base}/v1.0/security/alerts/{id}"))
                .bearer_auth(&token)
                .header("If-Match", etag.clone())
                .json(&json!({"assignedTo": format!("{who}{round}@contoso.com"), "vendorInformation": vi}))
                .send()
        };
        let (ra, rb) = tokio::join!(conditional(a.clone(), "a"), conditional(b.clone(), "b"));
        let mut statuses = [ra.unwrap().status().as_u16(), rb.unwrap().status().as_u16()];
        statuses.sort_unstable();
        assert!(
            statuses == [204, 412] || statuses == [202, 412],
            "round {round}: {statuses:?}"
        );
    }
    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&admin)
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Someone changes a copy in the product's own console after Vigil's change: the alert shows
/// the drift, and (default policy: newest wins) the console's value reaches every copy.
async fn drift_in_a_product_console_is_shown_and_the_newest_change_wins(env: TestEnv) {
    let (id, _, vi) = alert_with_all_sources(&env, CONTOSO).await;
    let resp = patch(
        &env,
        CONTOSO,
        &id,
        &json!({"status": "resolved", "vendorInformation": vi}),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 204);
    let (a, _) = get_alert(&env, CONTOSO, &id).await;
    assert!(a.get("vigilDrift").is_none(), "no drift yet: {a}");
    let graph = a["vigilSources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["provider"].as_str().unwrap().starts_with("graph"))
        .unwrap()
        .clone();

    // the "console": the Graph product changes its copy directly, not through Vigil
    let mut cfg = vigil_gateway::Config::from_overrides(
        json!({"listen": "127.0.0.1:0", "auth": {"mode": "hs256"}}),
    )
    .unwrap();
    cfg.providers = vigil::demo::provider_configs(&env.fleet).unwrap();
    let adapters = vigil_gateway::app::build_providers(&cfg).unwrap();
    let console = adapters
        .iter()
        .find(|p| p.info().name == graph["provider"].as_str().unwrap())
        .unwrap();
    console
        .update_alert(
            graph["providerAlertId"].as_str().unwrap(),
            &vigil_providers::AlertChange {
                status: Some(vigil_model::AlertStatus::InProgress),
                vendor_information: vigil_model::SecurityVendorInformation {
                    provider: graph["product"].as_str().map(str::to_string),
                    vendor: graph["vendor"].as_str().map(str::to_string),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();

    // shown on the next read, and propagated to the other copies
    let (a, _) = get_alert(&env, CONTOSO, &id).await;
    let drift = a["vigilDrift"].as_array().expect("vigilDrift");
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0]["provider"], graph["provider"]);
    assert_eq!(drift[0]["expected"], "resolved");
    assert_eq!(drift[0]["actual"], "inProgress");
    let got = settled(&env, CONTOSO, &id, Duration::from_secs(30)).await;
    for s in got["vigilSources"].as_array().unwrap() {
        assert_eq!(s["status"], "inProgress", "{s}");
    }
    assert!(got.get("vigilDrift").is_none(), "{got}");
    let last = got["historyStates"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|h| h["user"] == "vigil-drift")
        .expect("the drift is in the history");
    assert_eq!(last["status"], "inProgress");
}

/// A copy shown as `delivered` shows the delivered value, even to a read that was in flight
/// while the change was delivered (one slow provider keeps every read, and the write-back pass,
/// open long enough for the other copies' deliveries to land inside a read). Such a read used
/// to pair `delivered` with the value before the change, which also looked like drift and
/// queued the old value back.
#[tokio::test]
async fn a_copy_shown_delivered_shows_the_delivered_value() {
    let env = TestEnv::start().await;
    let (id, _, vi) = alert_with_all_sources(&env, CONTOSO).await;
    let (before, _) = get_alert(&env, CONTOSO, &id).await;
    let known = before["historyStates"].as_array().map_or(0, Vec::len);
    assert!(
        before["vigilSources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] != "resolved"),
        "{before}"
    );
    env.set_faults(
        ProviderKind::Ocsf,
        Faults {
            latency_ms: 400,
            ..Faults::default()
        },
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let reader = {
        let (env, id, stop) = (&env, id.clone(), stop.clone());
        async move {
            let mut seen = Vec::new();
            while !stop.is_cancelled() {
                seen.push(get_alert(env, CONTOSO, &id).await.0);
            }
            seen
        }
    };
    let writer = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let resp = patch(
            &env,
            CONTOSO,
            &id,
            &json!({"status": "resolved", "vendorInformation": vi}),
            &[],
        )
        .await;
        assert!(
            matches!(resp.status().as_u16(), 202 | 204),
            "{}",
            resp.status()
        );
        let done = settled(&env, CONTOSO, &id, Duration::from_secs(30)).await;
        // a few more reads after everything settled
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.cancel();
        done
    };
    let (seen, done) = tokio::join!(reader, writer);
    for s in done["vigilSources"].as_array().unwrap() {
        assert_eq!(s["status"], "resolved", "{s}");
    }
    assert!(seen.len() >= 4, "only {} reads", seen.len());
    let mut after_the_write = 0;
    for a in &seen {
        assert!(
            a.get("vigilDrift").is_none(),
            "a delivery looked like drift: {a}"
        );
        let changed = a["historyStates"].as_array().map_or(0, Vec::len) > known;
        if !changed {
            continue;
        }
        after_the_write += 1;
        for s in a["vigilSources"].as_array().unwrap() {
            if s["syncState"]["state"] == "delivered" {
                assert_eq!(s["status"], "resolved", "delivered, but the old value: {s}");
            }
        }
    }
    assert!(
        after_the_write >= 2,
        "{after_the_write} reads after the write"
    );
    // nothing was queued back: the last change is the caller's
    let (a, _) = get_alert(&env, CONTOSO, &id).await;
    let last = a["historyStates"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_ne!(last["user"], "vigil-drift", "{last}");
}

/// The operator listing reads its query by hand: bad values are Graph errors, not axum's text.
#[tokio::test]
async fn the_outbox_listing_answers_bad_query_values_in_graphs_format() {
    let env = TestEnv::start().await;
    let admin = env.admin_token(CONTOSO);
    for query in ["top=-1", "top=abc", "top=0", "state=sleeping", "color=red"] {
        let resp = env
            .client
            .get(format!("{}/vigil/admin/outbox?{query}", env.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        let message = expect_graph_error(resp, 400, "BadRequest").await;
        assert!(!message.is_empty(), "{query}");
    }
    let resp = env
        .client
        .get(format!(
            "{}/vigil/admin/outbox?state=pending&top=5",
            env.base
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["value"].is_array());
}

/// Operator routes are tenant-scoped: another tenant's admin neither sees a pending change nor
/// can re-drive its row.
#[tokio::test]
async fn another_tenants_operator_sees_no_outbox_row() {
    let env = TestEnv::start().await;
    let (id, _, vi) = alert_with_all_sources(&env, CONTOSO).await;
    env.set_faults(
        ProviderKind::Ocsf,
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    );
    let resp = patch(
        &env,
        CONTOSO,
        &id,
        &json!({"assignedTo": "pending@contoso.com", "vendorInformation": vi}),
        &[],
    )
    .await;
    assert_eq!(resp.status(), 202);
    let rows = |tenant: &'static str| {
        let env = &env;
        async move {
            let v: Value = env
                .client
                .get(format!(
                    "{}/vigil/admin/outbox?state=pending&top=1000",
                    env.base
                ))
                .bearer_auth(env.admin_token(tenant))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["value"].as_array().unwrap().clone()
        }
    };
    let ours = rows(CONTOSO).await;
    let row = ours
        .iter()
        .find(|r| r["alertId"] == id.as_str())
        .expect("the pending row")
        .clone();
    let theirs = rows(FABRIKAM).await;
    assert!(
        theirs
            .iter()
            .all(|r| r["id"] != row["id"] && r["alertId"] != id.as_str()),
        "{theirs:?}"
    );
    let resp = env
        .client
        .post(format!(
            "{}/vigil/admin/outbox/{}/retry",
            env.base, row["id"]
        ))
        .bearer_auth(env.admin_token(FABRIKAM))
        .send()
        .await
        .unwrap();
    expect_graph_error(resp, 404, "NotFound").await;
}
