//! The provider-answer cache as a caller sees it: a repeat is served without asking the
//! providers, N concurrent identical requests cost one upstream call per provider (counted in
//! the mocks' own request logs), `Cache-Control: no-cache` / `Pragma: no-cache` go upstream,
//! and `If-None-Match` with the response's ETag gets a `304`.

use crate::*;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::collections::BTreeMap;
use vigil_mock::MockConfig;

const PATH: &str = "/v1.0/security/alerts?$top=1000";

async fn env() -> TestEnv {
    TestEnv::start_with(EnvOptions {
        mock: MockConfig {
            alerts_per_tenant: 20,
            ..MockConfig::default()
        },
        ..EnvOptions::default()
    })
    .await
}

fn header(name: &'static str, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(name, value.parse().unwrap());
    h
}

fn from_cache(body: &Value) -> Vec<bool> {
    body["@vigil.providerStatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["fromCache"].as_bool().unwrap())
        .collect()
}

fn ids(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

/// Upstream alert calls of one uncached request for `path` (Falcon needs two: ids, then
/// entities).
async fn calls_of_one_fresh_request(env: &TestEnv, path: &str) -> BTreeMap<&'static str, usize> {
    calls_of_one_request(env, path, header("cache-control", "no-cache")).await
}

/// Upstream alert calls of one request for `path` with `headers`.
async fn calls_of_one_request(
    env: &TestEnv,
    path: &str,
    headers: HeaderMap,
) -> BTreeMap<&'static str, usize> {
    env.clear_requests();
    let resp = env.get_with(CONTOSO, path, headers).await;
    assert_eq!(resp.status(), 200);
    let calls = env.alert_calls();
    assert!(calls.values().all(|n| *n >= 1), "{calls:?}");
    calls
}

#[tokio::test]
async fn a_repeat_is_served_from_the_cache_without_upstream_calls() {
    let env = env().await;
    let first = env.get_json(CONTOSO, PATH, 200).await;
    assert_eq!(from_cache(&first), [false, false, false]);
    env.clear_requests();
    let second = env.get_json(CONTOSO, PATH, 200).await;
    assert_eq!(from_cache(&second), [true, true, true]);
    assert!(
        env.alert_calls().values().all(|n| *n == 0),
        "{:?}",
        env.alert_calls()
    );
    assert_eq!(ids(&first), ids(&second));
    assert_eq!(first["value"], second["value"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_requests_make_one_upstream_call_per_provider() {
    let env = env().await;
    // The reference: one request of the same shape ($top above every provider's size, so
    // one walk step), under a $top of its own so the concurrent requests find nothing cached.
    let one = calls_of_one_request(&env, "/v1.0/security/alerts?$top=401", HeaderMap::new()).await;
    let path = "/v1.0/security/alerts?$top=400";
    // Slow the providers so every request arrives while the first fetch is in flight.
    for kind in ProviderKind::ALL {
        env.set_faults(
            kind,
            Faults {
                latency_ms: 300,
                ..Faults::default()
            },
        );
    }
    env.clear_requests();
    let answers = env.get_concurrently(CONTOSO, path, 12).await;
    let calls = env.alert_calls();
    // Single flight: twelve identical concurrent requests cost no more upstream than one.
    for (provider, n) in &calls {
        let single = one.get(provider).copied().unwrap_or(0);
        assert!(
            *n >= 1 && *n <= single,
            "12 concurrent identical requests cost {calls:?}, one alone {one:?}"
        );
    }
    let first = ids(&answers[0].1);
    assert!(!first.is_empty());
    for (status, body) in &answers {
        assert_eq!(*status, 200);
        assert_eq!(ids(body), first);
    }
}

#[tokio::test]
async fn no_cache_goes_upstream_and_refreshes_the_cache() {
    let env = env().await;
    env.get_json(CONTOSO, PATH, 200).await;
    let one = calls_of_one_fresh_request(&env, PATH).await;
    for (name, value) in [
        ("cache-control", "no-cache"),
        ("cache-control", "max-age=0, no-cache"),
        ("pragma", "no-cache"),
    ] {
        env.clear_requests();
        let resp = env.get_with(CONTOSO, PATH, header(name, value)).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(from_cache(&body), [false, false, false], "{name}: {value}");
        assert_eq!(env.alert_calls(), one, "{name}: {value}");
    }
    // The bypass refreshed the cache: a plain repeat is a hit again.
    env.clear_requests();
    let body = env.get_json(CONTOSO, PATH, 200).await;
    assert_eq!(from_cache(&body), [true, true, true]);
    assert!(env.alert_calls().values().all(|n| *n == 0));
}

#[tokio::test]
async fn if_none_match_with_the_etag_gets_304() {
    let env = env().await;
    for path in [PATH.to_string(), "/beta/security/alerts?$top=3".to_string()] {
        let resp = env.get(CONTOSO, &path).await;
        assert_eq!(resp.status(), 200);
        let etag = resp.headers()["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let resp = env
            .get_with(CONTOSO, &path, header("if-none-match", &etag))
            .await;
        assert_eq!(resp.status(), 304, "{path}: If-None-Match {etag}");
        assert_eq!(resp.headers()["etag"].to_str().unwrap(), etag);
        assert!(resp.bytes().await.unwrap().is_empty(), "304 has no body");
        // A weak form and a list match too; another tag does not.
        let resp = env
            .get_with(
                CONTOSO,
                &path,
                header("if-none-match", &format!("\"nope\", W/{etag}")),
            )
            .await;
        assert_eq!(resp.status(), 304);
        let resp = env
            .get_with(CONTOSO, &path, header("if-none-match", "\"nope\""))
            .await;
        assert_eq!(resp.status(), 200);
    }
    // One alert too.
    let list = env.get_json(CONTOSO, PATH, 200).await;
    let id = id_of(&list["value"][0]);
    let path = format!("/v1.0/security/alerts/{}", enc(&id));
    let resp = env.get(CONTOSO, &path).await;
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let resp = env
        .get_with(CONTOSO, &path, header("if-none-match", &etag))
        .await;
    assert_eq!(resp.status(), 304);
}
