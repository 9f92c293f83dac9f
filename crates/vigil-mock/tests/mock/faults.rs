//! Each fault kind, observed from a raw HTTP client.

use crate::{bounded, client, graph_mock, new_graph_alert, token};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use vigil_mock::{CONTOSO_TENANT_ID, Drip, Faults, MockProvider};

async fn setup() -> (MockProvider, String, String) {
    let m = graph_mock().await;
    let tok = token(&m, CONTOSO_TENANT_ID).await;
    let url = format!("{}/v1.0/security/alerts?$top=3", m.base_url());
    (m, tok, url)
}

#[tokio::test]
async fn latency_and_jitter_delay_the_answer() {
    bounded(async {
        let (m, tok, url) = setup().await;
        m.set_faults(Faults {
            latency_ms: 300,
            jitter_ms: 100,
            ..Faults::none()
        });
        let t = Instant::now();
        let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
        m.set_faults(Faults::none());
        let t = Instant::now();
        client().get(&url).bearer_auth(&tok).send().await.unwrap();
        assert!(t.elapsed() < Duration::from_millis(300));
    })
    .await;
}

#[tokio::test]
async fn a_read_is_computed_on_arrival_and_a_write_only_when_its_latency_has_passed() {
    bounded(async {
        let (m, tok, _) = setup().await;
        let alert = new_graph_alert(&m, 0);
        let url = format!("{}/v1.0/security/alerts/{}", m.base_url(), alert.id);
        let resolve = json!({
            "status": "resolved",
            "vendorInformation": {
                "provider": alert.vendor_information.provider,
                "vendor": "Microsoft"
            }
        });
        m.set_faults(Faults {
            latency_ms: 400,
            ..Faults::none()
        });
        // A read in flight answers what the alert was when it arrived, at its latency.
        let started = Instant::now();
        let read = tokio::spawn({
            let (url, tok) = (url.clone(), tok.clone());
            async move { client().get(&url).bearer_auth(&tok).send().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        m.set_faults(Faults::none());
        let r = client()
            .patch(&url)
            .bearer_auth(&tok)
            .json(&resolve)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let r = read.await.unwrap().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(400));
        let before: Value = r.json().await.unwrap();
        assert_eq!(before["status"], "newAlert", "computed on arrival");

        // A write the client gives up on before its latency has passed changes nothing.
        let other = new_graph_alert(&m, 1);
        let other_url = format!("{}/v1.0/security/alerts/{}", m.base_url(), other.id);
        m.clear_records();
        m.set_faults(Faults {
            latency_ms: 400,
            ..Faults::none()
        });
        let impatient = reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let err = impatient
            .patch(&other_url)
            .bearer_auth(&tok)
            .json(&resolve)
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(m.writes().is_empty(), "{:?}", m.writes());
        m.set_faults(Faults::none());
        let after: Value = client()
            .get(&other_url)
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(after["status"], "newAlert");
    })
    .await;
}

#[tokio::test]
async fn error_rate_gives_graph_shaped_5xx() {
    bounded(async {
        let (m, tok, url) = setup().await;
        m.set_faults(Faults {
            error_rate: 1.0,
            ..Faults::none()
        });
        let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "serviceNotAvailable");
        assert!(b["error"]["innerError"]["request-id"].is_string());
        // The token endpoint is a product route too.
        m.set_faults(Faults {
            error_rate: 1.0,
            error_status: 500,
            ..Faults::none()
        });
        let r = client()
            .post(format!(
                "{}/{CONTOSO_TENANT_ID}/oauth2/v2.0/token",
                m.base_url()
            ))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        // Half the requests fail at rate 0.5, and the sequence is reproducible.
        let half = Faults {
            error_rate: 0.5,
            ..Faults::none()
        };
        let mut runs = Vec::new();
        for _ in 0..2 {
            m.set_faults(half.clone());
            let mut statuses = Vec::new();
            for _ in 0..24 {
                let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
                statuses.push(r.status().as_u16());
            }
            runs.push(statuses);
        }
        assert_eq!(runs[0], runs[1]);
        assert!(runs[0].contains(&200) && runs[0].contains(&503));
    })
    .await;
}

#[tokio::test]
async fn hang_never_answers_but_is_counted() {
    bounded(async {
        let (m, tok, url) = setup().await;
        m.clear_records();
        m.set_faults(Faults {
            hang_rate: 1.0,
            ..Faults::none()
        });
        let short = reqwest::Client::builder()
            .timeout(Duration::from_millis(400))
            .build()
            .unwrap();
        let err = short.get(&url).bearer_auth(&tok).send().await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert_eq!(m.requests().len(), 1);
        // Shutdown stays bounded even with a hung request in flight.
        let hung = tokio::spawn({
            let url = url.clone();
            let tok = tok.clone();
            async move { client().get(&url).bearer_auth(&tok).send().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = Instant::now();
        m.shutdown().await;
        assert!(t.elapsed() < Duration::from_secs(3));
        let _ = hung.await;
    })
    .await;
}

#[tokio::test]
async fn malformed_json_is_200_application_json_and_unparseable() {
    bounded(async {
        let (m, tok, url) = setup().await;
        m.set_faults(Faults {
            malformed_rate: 1.0,
            ..Faults::none()
        });
        for _ in 0..6 {
            let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json")
            );
            let body = r.bytes().await.unwrap();
            assert!(serde_json::from_slice::<Value>(&body).is_err());
        }
    })
    .await;
}

#[tokio::test]
async fn truncated_bodies_fail_mid_read() {
    bounded(async {
        let (m, tok, url) = setup().await;
        m.set_faults(Faults {
            truncated_rate: 1.0,
            ..Faults::none()
        });
        // Both variants (lying Content-Length, unterminated chunked) come up within a few calls.
        let mut lied = 0;
        let mut chunked = 0;
        for _ in 0..8 {
            let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
            assert_eq!(r.status(), 200);
            if r.content_length().is_some() {
                lied += 1;
            } else {
                chunked += 1;
            }
            assert!(
                r.bytes().await.is_err(),
                "a truncated body must not read cleanly"
            );
        }
        assert!(lied > 0 && chunked > 0, "lied={lied} chunked={chunked}");
    })
    .await;
}

#[tokio::test]
async fn throttle_is_429_with_whole_second_retry_after() {
    bounded(async {
        let (m, tok, url) = setup().await;
        m.set_faults(Faults {
            throttle_rate: 1.0,
            retry_after_secs: 7,
            ..Faults::none()
        });
        let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "TooManyRequests");
        assert_eq!(b["error"]["innerError"]["status"], "429");
    })
    .await;
}

#[tokio::test]
async fn drip_sends_the_body_slowly_in_small_chunks() {
    bounded(async {
        let (m, tok, _) = setup().await;
        let url = format!(
            "{}/v1.0/security/alerts?$top=1&$select=id,severity",
            m.base_url()
        );
        let normal = client()
            .get(&url)
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        m.set_faults(Faults {
            drip: Some(Drip {
                chunk_bytes: 40,
                interval_ms: 40,
            }),
            ..Faults::none()
        });
        let t = Instant::now();
        let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
        let mut stream = r.bytes_stream();
        let mut chunks = 0;
        let mut body = Vec::new();
        while let Some(c) = stream.next().await {
            let c = c.unwrap();
            assert!(c.len() <= 40);
            body.extend_from_slice(&c);
            chunks += 1;
        }
        let expected_chunks = normal.len().div_ceil(40);
        assert!(chunks >= expected_chunks / 2, "{chunks} chunks");
        let min = Duration::from_millis(40 * (expected_chunks as u64 - 1));
        assert!(t.elapsed() >= min, "{:?} < {min:?}", t.elapsed());
        // Same JSON document as without the fault (request ids aside, the body is data only).
        let a: Value = serde_json::from_slice(&body).unwrap();
        let b: Value = serde_json::from_slice(&normal).unwrap();
        assert_eq!(a["value"], b["value"]);
    })
    .await;
}

#[tokio::test]
async fn oversized_body_is_valid_json_of_the_requested_size() {
    bounded(async {
        let (m, tok, url) = setup().await;
        let size = 3 * 1024 * 1024 + 17;
        m.set_faults(Faults {
            oversized_bytes: Some(size),
            ..Faults::none()
        });
        let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.content_length(), Some(size));
        let mut stream = r.bytes_stream();
        let mut body = Vec::new();
        let mut chunks = 0;
        while let Some(c) = stream.next().await {
            body.extend_from_slice(&c.unwrap());
            chunks += 1;
        }
        assert_eq!(body.len() as u64, size);
        assert!(chunks > 1, "streamed, not one buffer");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["value"].is_array());
    })
    .await;
}

#[tokio::test]
async fn faults_change_at_run_time_over_http() {
    bounded(async {
        let (m, tok, url) = setup().await;
        let admin = format!("{}/_mock/faults", m.base_url());
        let r = client()
            .put(&admin)
            .json(&serde_json::json!({"error_rate": 1.0, "error_status": 502}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
        assert_eq!(r.status(), 502);
        // Admin routes are never faulted.
        let got: Faults = client()
            .get(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(got.error_status, 502);
        assert_eq!(m.faults(), got);
        // Invalid values are refused and change nothing.
        let r = client()
            .put(&admin)
            .json(&serde_json::json!({"error_rate": 2.0}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let r = client().put(&admin).body("{not json").send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(m.faults().error_status, 502);
        let r = client()
            .put(&admin)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
        assert_eq!(r.status(), 200);
    })
    .await;
}
