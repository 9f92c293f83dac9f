//! The fault suite: one provider of three (Falcon) under each fault kind vigil-mock injects
//! (latency beyond the timeout, 5xx, never answering, malformed JSON, a truncated body, 429
//! with `Retry-After`, a slow drip, an oversized body), each twice:
//!
//! - with no good answer of it to fall back on (`partial::*`): Graph's rule, `206 Partial
//!   Content` with what the others answered and one `Warning: 199 - "{vendor}/{provider}/
//!   {status}/{ms}"` for it, its entry in `@vigil.providerStatus` saying why;
//! - after it answered the same query once (`stale::*`): stale-if-error, its last good answer
//!   served, `200` with `Warning: 110 - "…"` and `state: "stale"` (age and cause) in the block.
//!
//! Either way the answer arrives within the provider timeout + 10%, and the gateway keeps
//! serving afterwards (nothing panicked). Also: an oversized body is cut off, not buffered
//! (peak memory), and a provider flapping during a PATCH never loses the change.

use crate::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use vigil_mock::{Drip, MockConfig};

const TIMEOUT_MS: u64 = 4000;
/// The provider timeout + 10%.
const WITHIN: Duration = Duration::from_millis(TIMEOUT_MS + TIMEOUT_MS / 10);
/// Every provider's whole list in one call.
const LIST: &str = "/v1.0/security/alerts?$top=1000";

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
        .map(|v| v.to_str().unwrap().to_string())
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

fn ids(body: &Value) -> BTreeSet<String> {
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

/// The status block entry of `provider`.
pub fn status_of(body: &Value, provider: &str) -> Value {
    body["@vigil.providerStatus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["provider"] == provider)
        .unwrap_or_else(|| panic!("no status for {provider}: {body}"))
        .clone()
}

/// The one Warning of a response, checked for Graph's shape and Falcon's name and status;
/// returns its code (199 or 110).
fn falcon_warning(env: &TestEnv, resp: &reqwest::Response, status: u16) -> u16 {
    let w = warnings(resp);
    assert_eq!(w.len(), 1, "one Warning per failed provider: {w:?}");
    let code: u16 = w[0].split(' ').next().unwrap().parse().expect("warn-code");
    assert!(w[0].starts_with(&format!("{code} - \"")), "{w:?}");
    let inner = w[0].split('"').nth(1).unwrap();
    let prefix = format!(
        "CrowdStrike/{}/{status}/",
        env.provider_name(ProviderKind::Falcon, CONTOSO)
    );
    assert!(inner.starts_with(&prefix), "{inner} should start {prefix}");
    let ms: u64 = inner
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .expect("latency ms");
    assert!(ms <= WITHIN.as_millis() as u64, "latency {ms}");
    code
}

/// Heals Falcon and checks the gateway still serves every provider (nothing panicked, no
/// state left broken). A provider whose `Retry-After` still runs is not asked: `recovers`
/// false accepts that one 206.
async fn still_serves(env: &TestEnv, recovers: bool) {
    env.set_faults(ProviderKind::Falcon, Faults::none());
    let resp = env.get_with(CONTOSO, LIST, no_cache()).await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    if recovers {
        assert_eq!(status, 200, "{}", body["@vigil.providerStatus"]);
        assert_eq!(shown_providers(&body).len(), 3);
    } else {
        assert!(status == 200 || status == 206, "{status}");
        assert!(shown_providers(&body).len() >= 2);
    }
}

/// Breaks Falcon with `faults` before it ever answered this query, lists, and checks the
/// partial answer: 206, one `199` Warning naming Falcon with `status`, the status block saying
/// `state`, the other providers' alerts there, none of Falcon's, within the bound.
async fn partial_with(faults: Faults, status: u16, state: &str) -> Value {
    let env = env().await;
    // Warm the token caches (another query: no answer of this one to fall back on).
    env.get_json(CONTOSO, "/v1.0/security/alerts?$top=1", 200)
        .await;
    let recovers = faults.throttle_rate == 0.0;
    env.set_faults(ProviderKind::Falcon, faults);
    let started = Instant::now();
    let resp = env.get_with(CONTOSO, LIST, no_cache()).await;
    let took = started.elapsed();
    assert_eq!(
        resp.status(),
        206,
        "a failed provider makes the answer partial"
    );
    assert!(
        took <= WITHIN,
        "answered after {took:?} (timeout {TIMEOUT_MS} ms)"
    );
    assert_eq!(falcon_warning(&env, &resp, status), 199);
    let body: Value = resp.json().await.unwrap();
    let falcon = env.provider_name(ProviderKind::Falcon, CONTOSO);
    let st = status_of(&body, &falcon);
    assert_eq!(st["state"], state, "{st}");
    assert_eq!(st["status"], status, "{st}");
    assert!(st["error"].as_str().is_some_and(|e| !e.is_empty()), "{st}");
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
    still_serves(&env, recovers).await;
    body
}

/// Lets Falcon answer the query once, breaks it with `faults`, lists again (bypassing the
/// cache) and checks stale-if-error: 200, one `110` Warning naming Falcon with `status`, its
/// entry `stale` with the age and the cause, and the same alerts as the good answer.
async fn stale_with(faults: Faults, status: u16) {
    let env = env().await;
    let good = env.get_json(CONTOSO, LIST, 200).await;
    let recovers = faults.throttle_rate == 0.0;
    env.set_faults(ProviderKind::Falcon, faults);
    let started = Instant::now();
    let resp = env.get_with(CONTOSO, LIST, no_cache()).await;
    let took = started.elapsed();
    assert!(
        took <= WITHIN,
        "answered after {took:?} (timeout {TIMEOUT_MS} ms)"
    );
    assert_eq!(resp.status(), 200, "the stale answer completes the page");
    assert_eq!(falcon_warning(&env, &resp, status), 110);
    let body: Value = resp.json().await.unwrap();
    let falcon = env.provider_name(ProviderKind::Falcon, CONTOSO);
    let st = status_of(&body, &falcon);
    assert_eq!(st["state"], "stale", "{st}");
    assert_eq!(st["status"], status, "{st}");
    assert_eq!(st["fromCache"], true, "{st}");
    assert!(st["cacheAgeMs"].as_u64().is_some(), "{st}");
    assert!(st["error"].as_str().is_some_and(|e| !e.is_empty()), "{st}");
    assert!(shown_providers(&body).contains(&falcon));
    assert_eq!(
        ids(&body),
        ids(&good),
        "the stale page is the last good one"
    );
    still_serves(&env, recovers).await;
}

macro_rules! fault_suite {
    ($($name:ident: $faults:expr => $status:expr, $state:expr;)*) => {
        /// No good answer to fall back on: 206 with a Warning.
        mod partial {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    partial_with($faults, $status, $state).await;
                }
            )*
        }
        /// A good answer of the same query before: served stale.
        mod stale {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    stale_with($faults, $status).await;
                }
            )*
        }
    };
}

fault_suite! {
    latency_beyond_the_timeout: Faults { latency_ms: 3 * TIMEOUT_MS, ..Faults::default() } => 504, "timeout";
    server_error: Faults { error_rate: 1.0, error_status: 500, ..Faults::default() } => 500, "error";
    never_answering: Faults { hang_rate: 1.0, ..Faults::default() } => 504, "timeout";
    malformed_json: Faults { malformed_rate: 1.0, ..Faults::default() } => 502, "error";
    truncated_body: Faults { truncated_rate: 1.0, ..Faults::default() } => 502, "error";
    // Longer than the adapter waits out: the gateway does not wait either.
    throttled_with_retry_after: Faults { throttle_rate: 1.0, retry_after_secs: 30, ..Faults::default() } => 429, "error";
    slow_drip: Faults { drip: Some(Drip { chunk_bytes: 16, interval_ms: 100 }), ..Faults::default() } => 504, "timeout";
    oversized_body: Faults { oversized_bytes: Some(64 * 1024 * 1024), ..Faults::default() } => 502, "error";
}

/// Peak resident memory of this process (the gateway runs in it), from `/proc`.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[tokio::test]
async fn an_oversized_body_is_cut_off_not_buffered() {
    const BODY: u64 = 512 * 1024 * 1024;
    let env = env().await;
    env.get_json(CONTOSO, "/v1.0/security/alerts?$top=1", 200)
        .await;
    env.set_faults(
        ProviderKind::Falcon,
        Faults {
            oversized_bytes: Some(BODY),
            ..Faults::default()
        },
    );
    let before = peak_rss_bytes();
    let started = Instant::now();
    let resp = env.get_with(CONTOSO, LIST, no_cache()).await;
    assert!(started.elapsed() <= WITHIN, "{:?}", started.elapsed());
    assert_eq!(resp.status(), 206);
    let body: Value = resp.json().await.unwrap();
    let st = status_of(&body, &env.provider_name(ProviderKind::Falcon, CONTOSO));
    assert_eq!(st["status"], 502, "{st}");
    assert!(
        st["error"].as_str().unwrap().contains("limit"),
        "cut off at the size cap: {st}"
    );
    if let (Some(before), Some(after)) = (before, peak_rss_bytes()) {
        // Buffering the body would raise the peak by its 512 MiB; the cap is 16 MiB.
        assert!(
            after.saturating_sub(before) < 128 * 1024 * 1024,
            "peak memory grew by {} MiB",
            (after - before) / (1024 * 1024)
        );
    }
}

pub fn no_cache() -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("cache-control", "no-cache".parse().unwrap());
    h
}

#[tokio::test]
async fn a_failing_identity_provider_does_not_make_the_answer_wait_twice() {
    // Graph serves alerts and the users the risk join asks for after the fan-out.
    let env = env().await;
    env.get_json(CONTOSO, "/v1.0/security/alerts?$top=1", 200)
        .await;
    env.set_faults(
        ProviderKind::Graph,
        Faults {
            hang_rate: 1.0,
            ..Faults::default()
        },
    );
    let started = Instant::now();
    let resp = env.get_with(CONTOSO, LIST, no_cache()).await;
    let took = started.elapsed();
    assert_eq!(resp.status(), 206);
    assert!(
        took <= WITHIN,
        "answered after {took:?} (timeout {TIMEOUT_MS} ms)"
    );
    let body: Value = resp.json().await.unwrap();
    let st = status_of(&body, &env.provider_name(ProviderKind::Graph, CONTOSO));
    assert_eq!(st["status"], 504, "{st}");
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
    // Graph also serves identity risk: the risk join after the fan-out asks it for its users
    // with what is left of the request's timeout, so the page is still bounded by one timeout.
    let within = WITHIN;
    loop {
        let started = Instant::now();
        let resp = env.get_url(CONTOSO, &url).await;
        assert!(
            started.elapsed() < within,
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

#[tokio::test]
async fn a_provider_flapping_during_a_patch_never_loses_the_change() {
    let env = TestEnv::start_with(EnvOptions {
        mock: MockConfig {
            alerts_per_tenant: 20,
            ..MockConfig::default()
        },
        provider_timeout_ms: TIMEOUT_MS,
        // A short open period so reads see Falcon again soon after it heals.
        resilience: Some(json!({ "breaker_failures": 2, "breaker_open_ms": 300 })),
        ..EnvOptions::default()
    })
    .await;
    let falcon = env.provider_name(ProviderKind::Falcon, CONTOSO);
    let all = env.get_json(CONTOSO, LIST, 200).await;
    let alert = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| sources_of(a).len() == 3)
        .expect("an alert held by every provider")
        .clone();
    let id = id_of(&alert);
    let falcon_id = sources_of(&alert)
        .into_iter()
        .find(|(p, _)| *p == falcon)
        .map(|(_, pid)| pid)
        .unwrap();
    let vi = &alert["vigilSources"][0];
    let body = json!({
        "status": "resolved",
        "comments": ["contained by the flapping test"],
        "vendorInformation": { "provider": vi["product"], "vendor": vi["vendor"] },
    });
    // Falcon goes down and up every 150 ms while the PATCH is sent and answered.
    let flapping = async {
        for i in 0..20 {
            let down = i % 2 == 0;
            env.set_faults(
                ProviderKind::Falcon,
                if down {
                    Faults {
                        error_rate: 1.0,
                        error_status: 503,
                        ..Faults::default()
                    }
                } else {
                    Faults::none()
                },
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    };
    let patching = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        env.client
            .patch(format!("{}/v1.0/security/alerts/{}", env.base, enc(&id)))
            .bearer_auth(env.token(CONTOSO))
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let ((), resp) = tokio::join!(flapping, patching);
    let status = resp.status().as_u16();
    assert!(
        status == 204 || status == 200 || status == 202,
        "PATCH answered {status}"
    );
    env.set_faults(ProviderKind::Falcon, Faults::none());
    // The change reaches Falcon (the outbox retries) and reads back from every copy.
    let started = Instant::now();
    loop {
        let resp = env
            .get(CONTOSO, &format!("/v1.0/security/alerts/{}", enc(&id)))
            .await;
        let code = resp.status().as_u16();
        let a: Value = resp.json().await.unwrap();
        let sources = a["vigilSources"].as_array().cloned().unwrap_or_default();
        let done = code == 200
            && sources.len() == 3
            && sources
                .iter()
                .all(|s| s["syncState"]["state"] == "delivered" && s["status"] == "resolved");
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the change did not reach every copy: {code} {}",
            a["vigilSources"]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let writes: Vec<_> = env
        .mock(ProviderKind::Falcon)
        .writes()
        .into_iter()
        .filter(|w| w.path.contains(&falcon_id) || w.body.to_string().contains(&falcon_id))
        .collect();
    assert!(!writes.is_empty(), "Falcon never received the change");
}
