//! Providers that fail: slow past the timeout, erroring, answering garbage, hanging,
//! throttling. Graph's rule: the caller still gets what the others answered, with `206 Partial
//! Content` and one `Warning: 199 - "{vendor}/{provider}/{status}/{ms}"` per failed provider,
//! and the answer never waits much longer than the provider timeout.

use crate::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use vigil_mock::MockConfig;

const TIMEOUT_MS: u64 = 1000;
/// Generous: "within the timeout plus a small margin", on a loaded 2-core machine.
const WITHIN: Duration = Duration::from_millis(2500);

async fn env() -> TestEnv {
    TestEnv::start_with(EnvOptions {
        mock: MockConfig {
            alerts_per_tenant: 20,
            ..MockConfig::default()
        },
        provider_timeout_ms: TIMEOUT_MS,
        ..EnvOptions::default()
    })
    .await
}

fn warnings(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("warning")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(", 199").map(str::to_string))
        .collect()
}

/// The product's alerts (provider instance name) that a page shows.
fn shown_providers(body: &Value) -> BTreeSet<String> {
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(sources_of)
        .map(|(p, _)| p)
        .collect()
}

/// Breaks Falcon with `faults`, lists, and checks the partial answer: 206, one Warning naming
/// Falcon with `status`, the status block saying `state`, the other providers' alerts there,
/// and the time bound. Returns the body.
async fn partial_with(faults: Faults, status: u16, state: &str) -> Value {
    let env = env().await;
    // Warm the token caches so the timing below measures the alert calls only.
    env.get_json(CONTOSO, "/v1.0/security/alerts?$top=1000", 200)
        .await;
    env.set_faults(ProviderKind::Falcon, faults);
    let started = Instant::now();
    let resp = env
        .get_with(CONTOSO, "/v1.0/security/alerts?$top=1000", no_cache())
        .await;
    let took = started.elapsed();
    assert_eq!(
        resp.status(),
        206,
        "a failed provider makes the answer partial"
    );
    assert!(
        took < WITHIN,
        "answered after {took:?} (timeout {TIMEOUT_MS} ms)"
    );
    let falcon = env.provider_name(ProviderKind::Falcon, CONTOSO);
    let w = warnings(&resp);
    assert_eq!(w.len(), 1, "one Warning per failed provider: {w:?}");
    let prefix = format!("CrowdStrike/{falcon}/{status}/");
    assert!(
        w[0].starts_with("199 - \"") || w[0].starts_with(" - \""),
        "{w:?}"
    );
    let inner = w[0].split('"').nth(1).unwrap();
    assert!(inner.starts_with(&prefix), "{inner} should start {prefix}");
    let ms: u64 = inner
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .expect("latency ms");
    assert!(ms < WITHIN.as_millis() as u64, "latency {ms}");
    let body: Value = resp.json().await.unwrap();
    let st = body["@vigil.providerStatus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["provider"] == falcon.as_str())
        .unwrap()
        .clone();
    assert_eq!(st["state"], state, "{st}");
    assert_eq!(st["status"], status, "{st}");
    let shown = shown_providers(&body);
    for kind in [ProviderKind::Graph, ProviderKind::Ocsf] {
        assert!(
            shown.contains(&env.provider_name(kind, CONTOSO)),
            "{kind:?} alerts missing from the partial answer"
        );
    }
    assert!(
        !shown.contains(&falcon),
        "alerts of the failed provider shown"
    );
    body
}

pub fn no_cache() -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("cache-control", "no-cache".parse().unwrap());
    h
}

#[tokio::test]
async fn all_healthy_is_a_200_without_warnings() {
    let env = env().await;
    let resp = env.get(CONTOSO, "/v1.0/security/alerts?$top=1000").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("warning").is_none());
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["@vigil.providerStatus"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "answered" && s["status"] == 200)
    );
    assert_eq!(shown_providers(&body).len(), 3);
}

#[tokio::test]
async fn a_provider_slower_than_its_timeout_is_left_out_with_a_504_warning() {
    partial_with(
        Faults {
            latency_ms: 5000,
            ..Faults::default()
        },
        504,
        "timeout",
    )
    .await;
}

#[tokio::test]
async fn a_hanging_provider_is_left_out_within_the_timeout() {
    partial_with(
        Faults {
            hang_rate: 1.0,
            ..Faults::default()
        },
        504,
        "timeout",
    )
    .await;
}

#[tokio::test]
async fn a_failing_provider_is_left_out_with_its_status() {
    partial_with(
        Faults {
            error_rate: 1.0,
            error_status: 500,
            ..Faults::default()
        },
        500,
        "error",
    )
    .await;
}

#[tokio::test]
async fn a_provider_answering_garbage_is_left_out_as_a_bad_gateway() {
    partial_with(
        Faults {
            malformed_rate: 1.0,
            ..Faults::default()
        },
        502,
        "error",
    )
    .await;
}

#[tokio::test]
async fn a_throttling_provider_is_left_out_with_429() {
    // Retry-After longer than the adapter waits out: the gateway does not wait either.
    partial_with(
        Faults {
            throttle_rate: 1.0,
            retry_after_secs: 30,
            ..Faults::default()
        },
        429,
        "error",
    )
    .await;
}

#[tokio::test]
async fn every_provider_down_is_a_206_with_an_empty_page_and_three_warnings() {
    let env = env().await;
    for kind in ProviderKind::ALL {
        env.set_faults(
            kind,
            Faults {
                error_rate: 1.0,
                error_status: 503,
                ..Faults::default()
            },
        );
    }
    let started = Instant::now();
    let resp = env.get(CONTOSO, "/v1.0/security/alerts").await;
    assert!(started.elapsed() < WITHIN);
    assert_eq!(resp.status(), 206);
    assert_eq!(warnings(&resp).len(), 3, "{:?}", warnings(&resp));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["value"], serde_json::json!([]));
    assert!(
        body.get("@odata.nextLink").is_none(),
        "a dead walk must end"
    );
}

#[tokio::test]
async fn slow_providers_within_the_timeout_are_waited_for() {
    let env = env().await;
    env.set_faults(
        ProviderKind::Ocsf,
        Faults {
            latency_ms: 300,
            ..Faults::default()
        },
    );
    let resp = env.get(CONTOSO, "/v1.0/security/alerts?$top=1000").await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(shown_providers(&body).contains(&env.provider_name(ProviderKind::Ocsf, CONTOSO)));
}

#[tokio::test]
async fn a_walk_with_a_slow_provider_stays_bounded_on_every_page() {
    let env = env().await;
    env.set_faults(
        ProviderKind::Graph,
        Faults {
            latency_ms: 4000,
            ..Faults::default()
        },
    );
    let mut url = format!("{}/v1.0/security/alerts?$top=5", env.base);
    let mut pages = 0;
    let mut partial = 0;
    loop {
        let started = Instant::now();
        let resp = env.get_url(CONTOSO, &url).await;
        assert!(
            started.elapsed() < WITHIN,
            "page {pages}: {:?}",
            started.elapsed()
        );
        if resp.status() == 206 {
            partial += 1;
        } else {
            assert_eq!(resp.status(), 200);
        }
        let body: Value = resp.json().await.unwrap();
        pages += 1;
        assert!(pages < 200, "walk does not end");
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    // The failed provider leaves the walk on the page it failed; the caller learned it there.
    assert_eq!(partial, 1, "exactly the first page reports the failure");
    assert!(pages > 1);
}

#[tokio::test]
async fn get_by_id_with_a_failing_source_is_partial() {
    let env = env().await;
    let all = env
        .get_json(CONTOSO, "/v1.0/security/alerts?$top=1000", 200)
        .await;
    let falcon = env.provider_name(ProviderKind::Falcon, CONTOSO);
    let merged = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            let s = sources_of(a);
            s.len() > 1 && s.iter().any(|(p, _)| *p == falcon)
        })
        .expect("a folded alert with a Falcon copy")
        .clone();
    env.set_faults(
        ProviderKind::Falcon,
        Faults {
            latency_ms: 5000,
            ..Faults::default()
        },
    );
    let started = Instant::now();
    let resp = env
        .get(
            CONTOSO,
            &format!("/v1.0/security/alerts/{}", enc(&id_of(&merged))),
        )
        .await;
    assert!(started.elapsed() < WITHIN);
    assert_eq!(resp.status(), 206);
    let w = warnings(&resp);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains(&format!("/{falcon}/504/")), "{w:?}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(id_of(&body), id_of(&merged), "the unified id is kept");
    assert!(
        sources_of(&body).iter().all(|(p, _)| *p != falcon),
        "the failed copy cannot be shown"
    );
}
