//! Per-provider protection over real HTTP, proved from the mocks' request logs: the circuit
//! breaker opens, refuses unsent, lets exactly one probe through and closes; a fast failure is
//! retried exactly once, and only when the deadline allows; `Retry-After` and Vigil's own rate
//! budget keep calls from being sent; the bulkhead bounds calls in flight; stale-if-error
//! honours its switch and age; and the operator route shows all of it.
//!
//! Falcon is the provider under test: it serves no identity collections, so a list asks it
//! one thing (its alert id query, then the entities of the ids found); its calls are counted
//! as id queries.

use crate::faults::{no_cache, status_of};
use crate::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use vigil_mock::MockConfig;

const TIMEOUT_MS: u64 = 2000;
const LIST: &str = "/v1.0/security/alerts?$top=1000";
/// No second try past the deadline: well under two timeouts. (The tight timeout + 10% bound
/// is the fault suite's, which runs with a longer timeout to leave the margin for a loaded
/// machine.)
const WITHIN: Duration = Duration::from_millis(TIMEOUT_MS * 3 / 2);

async fn env_with(resilience: Value) -> TestEnv {
    TestEnv::start_with(EnvOptions {
        mock: MockConfig {
            alerts_per_tenant: 20,
            ..MockConfig::default()
        },
        provider_timeout_ms: TIMEOUT_MS,
        resilience: Some(resilience),
        ..EnvOptions::default()
    })
    .await
}

fn falcon_calls(env: &TestEnv) -> usize {
    env.mock(ProviderKind::Falcon)
        .requests()
        .iter()
        .filter(|r| r.path.contains("/queries/alerts"))
        .count()
}

fn falcon(env: &TestEnv) -> String {
    env.provider_name(ProviderKind::Falcon, CONTOSO)
}

/// A list bypassing the cache: (status, body, time taken).
async fn list(env: &TestEnv) -> (u16, Value, Duration) {
    let started = Instant::now();
    let resp = env.get_with(CONTOSO, LIST, no_cache()).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap(), started.elapsed())
}

fn failing(status: u16) -> Faults {
    Faults {
        error_rate: 1.0,
        error_status: status,
        ..Faults::default()
    }
}

/// The operator route's row for Falcon.
async fn falcon_row(env: &TestEnv) -> Value {
    let resp = env
        .client
        .get(format!("{}/vigil/admin/providers", env.base))
        .bearer_auth(env.admin_token(CONTOSO))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == falcon(env).as_str())
        .unwrap()
        .clone()
}

#[tokio::test]
async fn the_circuit_opens_refuses_unsent_probes_once_and_closes() {
    let env = env_with(json!({
        "breaker_failures": 3,
        "breaker_open_ms": 4000,
        "retry": false,
        "stale_if_error": false,
    }))
    .await;
    env.get_json(CONTOSO, LIST, 200).await;
    env.set_faults(ProviderKind::Falcon, failing(500));
    env.clear_requests();
    // Three consecutive failures: each one upstream call.
    for _ in 0..3 {
        let (status, body, _) = list(&env).await;
        assert_eq!(status, 206);
        let st = status_of(&body, &falcon(&env));
        assert_eq!(st["status"], 500, "{st}");
    }
    assert_eq!(falcon_calls(&env), 3);
    let row = falcon_row(&env).await;
    assert_eq!(row["circuit"], "open", "{row}");
    assert_eq!(row["health"], "down", "{row}");
    assert!(row["lastError"].as_str().unwrap().contains("500"), "{row}");
    assert!(row["lastErrorDateTime"].is_string(), "{row}");
    // and Prometheus sees it: 2 = open
    let scrape = env
        .client
        .get(format!("{}/metrics", env.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = format!(
        "vigil_provider_circuit_state{{provider=\"{}\",tenant=\"{}\"}} 2",
        falcon(&env),
        CONTOSO
    );
    assert!(
        scrape.lines().any(|l| l == gauge),
        "{gauge} not in the scrape"
    );

    // Open: refused at once, never sent.
    env.clear_requests();
    for _ in 0..3 {
        let (status, body, took) = list(&env).await;
        assert_eq!(status, 206);
        let st = status_of(&body, &falcon(&env));
        assert_eq!(st["status"], 503, "{st}");
        assert!(
            st["error"].as_str().unwrap().contains("circuit open"),
            "{st}"
        );
        assert!(took < Duration::from_millis(1000), "{took:?}");
    }
    assert_eq!(falcon_calls(&env), 0, "an open circuit sends nothing");

    // Half-open with the provider still down: one probe, which opens the circuit again.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    assert_eq!(falcon_row(&env).await["circuit"], "halfOpen");
    let (_, body, _) = list(&env).await;
    assert_eq!(status_of(&body, &falcon(&env))["status"], 500);
    assert_eq!(falcon_calls(&env), 1, "exactly one probe");
    let (_, body, _) = list(&env).await;
    assert_eq!(status_of(&body, &falcon(&env))["status"], 503);
    assert_eq!(
        falcon_calls(&env),
        1,
        "the failed probe re-opened the circuit"
    );

    // Half-open with the provider back (and slow, so every caller arrives while the probe is
    // out): exactly one probe among concurrent callers, and it closes the circuit.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    env.set_faults(
        ProviderKind::Falcon,
        Faults {
            latency_ms: 400,
            ..Faults::default()
        },
    );
    env.clear_requests();
    let answers = futures::future::join_all((0..4).map(|_| list(&env))).await;
    assert_eq!(falcon_calls(&env), 1, "exactly one probe");
    let answered = answers
        .iter()
        .filter(|(_, b, _)| status_of(b, &falcon(&env))["state"] == "answered")
        .count();
    assert_eq!(answered, 1, "the probe answered, the others were refused");
    let row = falcon_row(&env).await;
    assert_eq!(row["circuit"], "closed", "{row}");
    assert_eq!(row["health"], "healthy", "{row}");
    let (status, _, _) = list(&env).await;
    assert_eq!(status, 200);
    assert_eq!(falcon_calls(&env), 2);
}

#[tokio::test]
async fn a_fast_failure_is_retried_exactly_once_and_only_when_the_deadline_allows() {
    let env = env_with(json!({ "breaker_failures": 0, "stale_if_error": false })).await;
    env.get_json(CONTOSO, LIST, 200).await;

    // A fast 502: one retry.
    env.set_faults(ProviderKind::Falcon, failing(502));
    env.clear_requests();
    let (status, body, _) = list(&env).await;
    assert_eq!(status, 206);
    assert_eq!(status_of(&body, &falcon(&env))["status"], 502);
    assert_eq!(falcon_calls(&env), 2, "one call and one retry");

    // A client error is not retried.
    env.set_faults(ProviderKind::Falcon, failing(400));
    env.clear_requests();
    list(&env).await;
    assert_eq!(falcon_calls(&env), 1);

    // A slow 502 (1.5 s of a 2 s deadline): no time for a second try.
    env.set_faults(
        ProviderKind::Falcon,
        Faults {
            latency_ms: 1500,
            ..failing(502)
        },
    );
    env.clear_requests();
    let (_, body, took) = list(&env).await;
    assert_eq!(status_of(&body, &falcon(&env))["status"], 502);
    assert_eq!(falcon_calls(&env), 1, "no retry past the deadline");
    assert!(took < WITHIN, "{took:?}");

    // A timeout used the deadline up: not retried.
    env.set_faults(
        ProviderKind::Falcon,
        Faults {
            latency_ms: 3 * TIMEOUT_MS,
            ..Faults::default()
        },
    );
    env.clear_requests();
    let (_, body, took) = list(&env).await;
    assert_eq!(status_of(&body, &falcon(&env))["status"], 504);
    assert_eq!(falcon_calls(&env), 1);
    assert!(took < WITHIN, "{took:?}");
    let row = falcon_row(&env).await;
    assert_eq!(row["retries"], 1, "{row}");
}

#[tokio::test]
async fn retry_after_is_honoured_without_calling() {
    let env = env_with(json!({ "stale_if_error": false })).await;
    env.get_json(CONTOSO, LIST, 200).await;
    // Longer than the HTTP client waits out by itself (2 s).
    env.set_faults(
        ProviderKind::Falcon,
        Faults {
            throttle_rate: 1.0,
            retry_after_secs: 3,
            ..Faults::default()
        },
    );
    env.clear_requests();
    let throttled_at = Instant::now();
    let (_, body, _) = list(&env).await;
    assert_eq!(status_of(&body, &falcon(&env))["status"], 429);
    assert_eq!(falcon_calls(&env), 1);
    env.set_faults(ProviderKind::Falcon, Faults::none());
    let (status, body, _) = list(&env).await;
    assert_eq!(status, 206);
    let st = status_of(&body, &falcon(&env));
    assert_eq!(st["status"], 429, "{st}");
    assert!(
        st["error"].as_str().unwrap().contains("Retry-After"),
        "{st}"
    );
    assert_eq!(
        falcon_calls(&env),
        1,
        "not asked while its Retry-After runs"
    );
    assert!(falcon_row(&env).await["throttledForMs"].as_u64().is_some());
    // After the wait it is asked again.
    let left = Duration::from_millis(3100).saturating_sub(throttled_at.elapsed());
    tokio::time::sleep(left).await;
    let (status, _, _) = list(&env).await;
    assert_eq!(status, 200);
    assert_eq!(falcon_calls(&env), 2);
}

#[tokio::test]
async fn the_rate_budget_keeps_vigil_under_each_providers_quota_per_tenant() {
    let env = env_with(json!({
        "provider_per_minute": 6,
        "provider_burst": 3,
        "stale_if_error": false,
    }))
    .await;
    // Each list asks Falcon once (Graph and OCSF more: their users too, so theirs runs out
    // first; only Falcon's count is asserted).
    for _ in 0..3 {
        let (_, body, _) = list(&env).await;
        let st = status_of(&body, &falcon(&env));
        assert_eq!(st["state"], "answered", "{st}");
    }
    env.clear_requests();
    let (status, body, _) = list(&env).await;
    assert_eq!(status, 206);
    let st = status_of(&body, &falcon(&env));
    assert_eq!(st["status"], 429, "{st}");
    assert!(st["error"].as_str().unwrap().contains("budget"), "{st}");
    assert_eq!(falcon_calls(&env), 0, "nothing sent over budget");
    // Another tenant's budget is its own.
    let resp = env
        .get_with(FABRIKAM, "/v1.0/security/alerts?$top=1000", no_cache())
        .await;
    let body: Value = resp.json().await.unwrap();
    let st = status_of(&body, &env.provider_name(ProviderKind::Falcon, FABRIKAM));
    assert_eq!(st["state"], "answered", "{st}");
}

#[tokio::test]
async fn the_bulkhead_bounds_calls_in_flight() {
    let env = env_with(json!({ "max_concurrent_calls": 1, "stale_if_error": false })).await;
    env.get_json(CONTOSO, LIST, 200).await;
    env.set_faults(
        ProviderKind::Falcon,
        Faults {
            latency_ms: 600,
            ..Faults::default()
        },
    );
    env.clear_requests();
    let answers = futures::future::join_all((0..3).map(|_| list(&env))).await;
    assert_eq!(falcon_calls(&env), 1, "one call in flight at a time");
    let refused: Vec<&Value> = answers
        .iter()
        .map(|(_, b, _)| b)
        .filter(|b| status_of(b, &falcon(&env))["status"] == 503)
        .collect();
    assert_eq!(refused.len(), 2);
    for b in refused {
        let st = status_of(b, &falcon(&env));
        assert!(st["error"].as_str().unwrap().contains("in flight"), "{st}");
    }
}

#[tokio::test]
async fn stale_if_error_can_be_turned_off() {
    let env = env_with(json!({ "stale_if_error": false })).await;
    env.get_json(CONTOSO, LIST, 200).await;
    env.set_faults(ProviderKind::Falcon, failing(500));
    let (status, body, _) = list(&env).await;
    assert_eq!(status, 206);
    assert_eq!(status_of(&body, &falcon(&env))["state"], "error");
}

#[tokio::test]
async fn a_stale_answer_older_than_its_limit_is_not_served() {
    let env = env_with(json!({ "max_stale_secs": 1 })).await;
    env.get_json(CONTOSO, LIST, 200).await;
    env.set_faults(ProviderKind::Falcon, failing(500));
    let (status, body, _) = list(&env).await;
    assert_eq!(status, 200);
    assert_eq!(status_of(&body, &falcon(&env))["state"], "stale");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body, _) = list(&env).await;
    assert_eq!(status, 206);
    assert_eq!(status_of(&body, &falcon(&env))["state"], "error");
}

#[tokio::test]
async fn the_operator_route_lists_every_provider_for_admins_only() {
    let env = env_with(json!({})).await;
    let url = format!("{}/vigil/admin/providers", env.base);
    // A reader, and a delegated scope named like the app role: both refused.
    for token in [
        env.token(CONTOSO),
        env.token_with(CONTOSO, &["Vigil.Admin"]),
    ] {
        let resp = env
            .client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        expect_graph_error(resp, 403, "Forbidden").await;
    }
    let admin = env.admin_token(CONTOSO);
    let before: Value = env
        .client
        .get(&url)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = before["value"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{before}");
    // an operator sees their own tenant's providers only
    let theirs: Value = env
        .client
        .get(&url)
        .bearer_auth(env.admin_token(FABRIKAM))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names = |v: &Value| -> std::collections::BTreeSet<String> {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let expected = |tenant: &str| -> std::collections::BTreeSet<String> {
        ProviderKind::ALL
            .iter()
            .map(|k| env.provider_name(*k, tenant))
            .collect()
    };
    assert_eq!(names(&before), expected(CONTOSO));
    assert_eq!(names(&theirs), expected(FABRIKAM));
    assert!(
        rows.iter()
            .all(|r| r["health"] == "unknown" && r["cacheAgeMs"].is_null())
    );
    env.get_json(CONTOSO, LIST, 200).await;
    let after: Value = env
        .client
        .get(&url)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for kind in ProviderKind::ALL {
        let name = env.provider_name(kind, CONTOSO);
        let row = after["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name.as_str())
            .unwrap();
        assert_eq!(row["kind"], kind.as_str(), "{row}");
        assert!(
            row["vendor"].is_string() && row["product"].is_string(),
            "{row}"
        );
        assert_eq!(row["health"], "healthy", "{row}");
        assert_eq!(row["circuit"], "closed", "{row}");
        for p in ["latencyP50Ms", "latencyP95Ms", "latencyP99Ms", "cacheAgeMs"] {
            assert!(row[p].as_u64().is_some(), "{p} in {row}");
        }
        assert!(row["lastSuccessDateTime"].is_string(), "{row}");
        assert!(row["lastError"].is_null(), "{row}");
        assert_eq!(row["capabilities"]["alerts"], true, "{row}");
    }
    // Tenant-scoped: Fabrikam's operator sees Fabrikam's providers.
    let other: Value = env
        .client
        .get(&url)
        .bearer_auth(env.admin_token(FABRIKAM))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = other["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| n.ends_with(&FABRIKAM[..8])),
        "{names:?}"
    );
}
