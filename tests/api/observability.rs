//! Observability and shutdown, on the real `vigil` binary (one process per test, so its
//! process-wide metrics are this test's alone): Prometheus metrics, JSON logs with the request
//! id on every line, graceful shutdown on SIGTERM.

use crate::process::{Proc, setup, token};
use crate::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use vigil_mock::{Faults, MockConfig, MockFleet, ProviderKind};

const RW: &[&str] = &["SecurityEvents.Read.All", "SecurityEvents.ReadWrite.All"];

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap()
}

// ---- Prometheus text format ----------------------------------------------------------------

/// One sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the exposition text; panics on a malformed sample line.
fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                (name.to_string(), parse_labels(body, line))
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name: {line}"
        );
        out.push((name, labels, value));
    }
    out
}

fn parse_labels(body: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "label value not quoted: {line}");
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("dangling escape: {line}"),
                },
                Some('"') => break,
                Some(c) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        }
        labels.insert(key, value);
        match chars.next() {
            Some(',') | None => {}
            Some(c) => panic!("unexpected {c:?} after a label: {line}"),
        }
    }
    labels
}

/// The value of the one sample of `name` whose labels include `want`.
fn sample(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|(n, labels, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert!(
        matching.len() <= 1,
        "{name} {want:?} matches several samples"
    );
    matching.first().copied()
}

/// Scrapes `/metrics` (with the scrape token unless it is empty) and parses it.
async fn scrape(client: &reqwest::Client, base: &str, token: &str) -> Vec<Sample> {
    let mut req = client.get(format!("{base}/metrics"));
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = resp.text().await.unwrap();
    // Every family is declared once, before its samples.
    let types: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    let mut names: Vec<&str> = types.iter().filter_map(|t| t.split(' ').next()).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(n, names.len(), "a family is declared twice");
    assert!(
        types.contains(&"vigil_provider_circuit_state gauge"),
        "{text}"
    );
    parse_metrics(&text)
}

/// An alert of the token's tenant whose sources satisfy `pick`.
async fn find_alert(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    pick: impl Fn(&[String]) -> bool,
) -> Value {
    let body: Value = client
        .get(format!("{base}/v1.0/security/alerts?$top=100"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            let providers: Vec<String> = a["vigilSources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["provider"].as_str().unwrap().to_string())
                .collect();
            pick(&providers)
        })
        .cloned()
        .expect("an alert with the wanted sources")
}

fn vendor_information(alert: &Value) -> Value {
    let s = &alert["vigilSources"][0];
    json!({"provider": s["product"], "vendor": s["vendor"]})
}

#[tokio::test]
async fn metrics_count_requests_provider_calls_cache_outbox_and_throttling() {
    let fleet = MockFleet::start(MockConfig {
        alerts_per_tenant: 40,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let scrape_token = format!("scrape-{}", uuid::Uuid::new_v4());
    let (dir, port, config) = setup(
        &fleet,
        "metrics",
        "[limits]\napp_per_minute = 60\napp_burst = 20\n\n[writeback]\npoll_interval_ms = 200\nbackoff_base_ms = 600000\nbackoff_max_secs = 600\n\n[metrics]\nbearer_token_env = \"OBS_TEST_SCRAPE_TOKEN\"\n",
    );
    let log = dir.join("gateway.log");
    let gw = Proc::start(
        &config,
        port,
        &log,
        &[("OBS_TEST_SCRAPE_TOKEN", scrape_token.as_str())],
    )
    .await;
    let client = client();
    let reader = token(&dir, CONTOSO, "vigil-tests", RW);
    let tenant = CONTOSO.to_ascii_lowercase();
    let providers: Vec<String> = ProviderKind::ALL
        .iter()
        .map(|k| {
            let short: String = CONTOSO.chars().take(8).collect();
            format!("{}-{short}", k.as_str())
        })
        .collect();

    // The scrape token is required (and a JWT is not it).
    let resp = client
        .get(format!("{}/metrics", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .get(format!("{}/metrics", gw.base))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // A list (every provider asked), then the same list again (every answer cached).
    let list = format!("{}/v1.0/security/alerts?$top=5", gw.base);
    let get = |url: String| {
        let client = client.clone();
        let reader = reader.clone();
        async move { client.get(url).bearer_auth(reader).send().await.unwrap() }
    };
    assert_eq!(get(list.clone()).await.status(), 200);
    let first = scrape(&client, &gw.base, &scrape_token).await;
    assert_eq!(get(list.clone()).await.status(), 200);
    let second = scrape(&client, &gw.base, &scrape_token).await;
    let hits = |s: &[Sample]| sample(s, "vigil_cache_hits_total", &[]).unwrap();
    let misses = |s: &[Sample]| sample(s, "vigil_cache_misses_total", &[]).unwrap();
    // Alert pages of three providers, and the identity providers' risky users for the join.
    assert_eq!(hits(&first), 0.0);
    assert!(misses(&first) >= 3.0, "one miss per provider at least");
    assert_eq!(
        hits(&second),
        3.0,
        "the repeat is served from the cache (three alert pages)"
    );
    assert_eq!(misses(&second), misses(&first));
    // The client's token: verified in full once, then recognised.
    let tokens = |s: &[Sample], outcome: &str| {
        sample(s, "vigil_token_checks_total", &[("outcome", outcome)]).unwrap()
    };
    assert_eq!(tokens(&first, "verified"), 1.0);
    assert_eq!(tokens(&second, "verified"), 1.0);
    assert!(tokens(&second, "remembered") >= 1.0);
    for p in &providers {
        let calls = |s: &[Sample], outcome: &str| {
            sample(
                s,
                "vigil_provider_calls_total",
                &[("provider", p), ("tenant", &tenant), ("outcome", outcome)],
            )
        };
        let answered = calls(&first, "answered").unwrap_or(0.0);
        assert!(answered >= 1.0, "{p}");
        assert_eq!(calls(&first, "cached"), None, "{p}");
        assert_eq!(calls(&second, "cached"), Some(1.0), "{p}");
        assert_eq!(
            calls(&second, "answered"),
            Some(answered),
            "{p}: asked again"
        );
        let histogram_count = sample(
            &second,
            "vigil_provider_call_duration_seconds_count",
            &[("provider", p), ("outcome", "answered")],
        );
        assert_eq!(histogram_count, Some(answered), "{p}");
    }
    assert!(sample(&second, "vigil_cache_weighted_bytes", &[]).unwrap() > 0.0);

    // Other routes and statuses: a 404 under the route template, a 401.
    let missing = format!("{}/v1.0/security/alerts/no-such-alert", gw.base);
    assert_eq!(get(missing).await.status(), 404);
    let resp = client.get(list.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    // An alert change one provider refuses: its outbox row stays pending.
    let alert = find_alert(&client, &gw.base, &reader, |p| {
        p.len() >= 2 && p.iter().any(|p| p.starts_with("ocsf"))
    })
    .await;
    let sources = alert["vigilSources"].as_array().unwrap().len();
    fleet.get(ProviderKind::Ocsf).set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let resp = client
        .patch(format!(
            "{}/v1.0/security/alerts/{}",
            gw.base,
            alert["id"].as_str().unwrap()
        ))
        .bearer_auth(&reader)
        .json(&json!({"status": "inProgress", "vendorInformation": vendor_information(&alert)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);

    // Another app of the tenant spends its budget (20) on a count (cheap once cached; probes
    // would not do, they are never limited).
    let burner = token(&dir, CONTOSO, "burner-app", RW);
    // all at once, so the budget cannot refill meanwhile
    let statuses = futures::future::join_all((0..30).map(|_| {
        client
            .get(format!("{}/v1.0/security/alerts/$count", gw.base))
            .bearer_auth(&burner)
            .send()
    }))
    .await;
    let mut throttled = 0;
    for resp in statuses {
        match resp.unwrap().status().as_u16() {
            200 => {}
            429 => throttled += 1,
            s => panic!("unexpected {s}"),
        }
    }
    assert!(throttled >= 9, "only {throttled} refused");

    let start = Instant::now();
    let last = loop {
        let s = scrape(&client, &gw.base, &scrape_token).await;
        let rows = |state: &str| sample(&s, "vigil_outbox_rows", &[("state", state)]);
        if rows("pending") == Some(1.0) && rows("delivered") == Some((sources - 1) as f64) {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "outbox rows: pending {:?}, delivered {:?}",
            rows("pending"),
            rows("delivered")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(sample(&last, "vigil_store_up", &[]), Some(1.0));
    assert_eq!(
        sample(&last, "vigil_outbox_rows", &[("state", "dead")]),
        Some(0.0)
    );
    assert!(sample(&last, "vigil_outbox_oldest_pending_age_seconds", &[]).unwrap() > 0.0);
    assert_eq!(
        sample(
            &last,
            "vigil_rate_limit_rejections_total",
            &[("scope", "app")]
        ),
        Some(f64::from(throttled))
    );
    assert_eq!(
        sample(
            &last,
            "vigil_rate_limit_rejections_total",
            &[("scope", "tenant")]
        ),
        Some(0.0)
    );
    let http = |route: &str, method: &str, status: &str| {
        sample(
            &last,
            "vigil_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(http("/v1.0/security/alerts", "GET", "200"), Some(3.0));
    assert_eq!(http("/v1.0/security/alerts", "GET", "401"), Some(1.0));
    assert_eq!(http("/v1.0/security/alerts/{id}", "GET", "404"), Some(1.0));
    assert_eq!(
        http("/v1.0/security/alerts/{id}", "PATCH", "202"),
        Some(1.0)
    );
    assert_eq!(
        http("/v1.0/security/alerts/$count", "GET", "429"),
        Some(f64::from(throttled)),
        "throttled requests are counted under their route"
    );
    assert_eq!(
        sample(
            &last,
            "vigil_http_request_duration_seconds_bucket",
            &[
                ("route", "/v1.0/security/alerts"),
                ("status", "200"),
                ("le", "+Inf")
            ]
        ),
        Some(3.0)
    );
    // No raw path leaks into a label.
    assert!(
        last.iter()
            .all(|(_, l, _)| l.get("route").is_none_or(|r| !r.contains("no-such-alert")))
    );
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_json_log_line_of_a_request_carries_its_request_id() {
    let fleet = MockFleet::start(MockConfig {
        alerts_per_tenant: 10,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let (dir, port, config) = setup(&fleet, "jsonlog", "");
    let log = dir.join("gateway.log");
    let gw = Proc::start(&config, port, &log, &[("VIGIL_LOG_FORMAT", "json")]).await;
    let client = client();
    let reader = token(&dir, CONTOSO, "vigil-tests", RW);
    // One provider fails, so the request logs a warning of its own besides the access line.
    fleet.get(ProviderKind::Falcon).set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let offset = std::fs::metadata(&log).unwrap().len() as usize;

    let client_request_id = format!("obs-{}", uuid::Uuid::new_v4());
    let resp = client
        .get(format!("{}/v1.0/security/alerts?$top=3", gw.base))
        .bearer_auth(&reader)
        .header("client-request-id", &client_request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    let request_id = resp.headers()["request-id"].to_str().unwrap().to_string();
    assert_eq!(
        resp.headers()["client-request-id"].to_str().unwrap(),
        client_request_id
    );
    uuid::Uuid::parse_str(&request_id).unwrap();
    let _ = resp.bytes().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text[offset..]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["fields"]["message"].as_str().unwrap_or_default())
        .collect();
    assert!(messages.contains(&"provider call failed"), "{messages:?}");
    assert!(messages.contains(&"request completed"), "{messages:?}");
    for line in &lines {
        let ids: Vec<&str> = line["spans"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["request_id"].as_str())
            .collect();
        assert_eq!(ids, [request_id.as_str()], "{line}");
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let access = lines
        .iter()
        .find(|l| l["fields"]["message"] == "request completed")
        .unwrap();
    assert_eq!(access["fields"]["route"], "/v1.0/security/alerts");
    assert_eq!(access["fields"]["status"], 206);
    assert_eq!(access["span"]["request_id"], request_id.as_str());
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Outbox rows of an alert in the SQLite database of a stopped gateway: (provider, state).
async fn outbox_rows(dir: &Path, alert_id: &str) -> Vec<(String, String)> {
    use sqlx::Row;
    let url = format!("sqlite://{}?mode=ro", dir.join("vigil.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT provider, state FROM outbox WHERE unified_id = ?1 ORDER BY id")
        .bind(alert_id)
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.iter()
        .map(|r| (r.get("provider"), r.get("state")))
        .collect()
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_refuses_new_ones_and_keeps_the_outbox() {
    let fleet = MockFleet::start(MockConfig {
        alerts_per_tenant: 60,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let grace = Duration::from_secs(6);
    let (dir, port, config) = setup(
        &fleet,
        "sigterm",
        &format!(
            "shutdown_grace_ms = {}\n\n[federation]\nprovider_timeout_ms = 20000\n\n[writeback]\npoll_interval_ms = 100\nlease_secs = 2\nbackoff_base_ms = 100\nbackoff_max_secs = 1\nanswer_margin_ms = 100\n",
            grace.as_millis()
        ),
    );
    let mut gw = Proc::start(&config, port, &dir.join("first.log"), &[]).await;
    let client = client();
    let writer = token(&dir, CONTOSO, "vigil-tests", RW);

    // A change one provider refuses: pending for it.
    let changed = find_alert(&client, &gw.base, &writer, |p| {
        p.len() >= 2 && p.iter().any(|p| p.starts_with("ocsf"))
    })
    .await;
    let changed_id = changed["id"].as_str().unwrap().to_string();
    // The slow request is another tenant's, whose cached answers the write-back worker's
    // invalidations of CONTOSO leave alone: it asks only its alert's own providers.
    let other = token(&dir, FABRIKAM, "vigil-tests", RW);
    let slow = find_alert(&client, &gw.base, &other, |p| {
        !p.is_empty() && !p.iter().any(|p| p.starts_with("ocsf"))
    })
    .await;
    let slow_id = slow["id"].as_str().unwrap().to_string();
    fleet.get(ProviderKind::Ocsf).set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let comment = format!("sigterm {}", uuid::Uuid::new_v4());
    let resp = client
        .patch(format!("{}/v1.0/security/alerts/{changed_id}", gw.base))
        .bearer_auth(&writer)
        .json(&json!({
            "status": "resolved",
            "comments": [comment],
            "vendorInformation": vendor_information(&changed),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
    // Its retries now hang: the worker is mid-delivery when the signal comes.
    fleet.get(ProviderKind::Ocsf).set_faults(Faults {
        hang_rate: 1.0,
        ..Faults::default()
    });
    for kind in [ProviderKind::Graph, ProviderKind::Falcon] {
        fleet.get(kind).set_faults(Faults {
            latency_ms: 1200,
            ..Faults::default()
        });
    }

    // A slow request in flight, then SIGTERM.
    let in_flight = tokio::spawn({
        let client = client.clone();
        let url = format!("{}/v1.0/security/alerts/{slow_id}", gw.base);
        let other = other.clone();
        async move {
            let resp = client.get(url).bearer_auth(other).send().await.unwrap();
            let status = resp.status().as_u16();
            let warning = resp.headers().get("warning").cloned();
            let body: Value = resp.json().await.unwrap();
            (status, warning, body)
        }
    });
    // Signal once the gateway is answering it (in flight: it and the scrape asking).
    let start = Instant::now();
    loop {
        let s = scrape(&client, &gw.base, "").await;
        if sample(&s, "vigil_http_requests_in_flight", &[]).unwrap() >= 2.0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the slow request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let signalled = Instant::now();
    gw.terminate();

    // New connections are refused while the slow request is still being answered.
    let addr = format!("127.0.0.1:{}", gw.port);
    loop {
        match tokio::net::TcpStream::connect(&addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            other => {
                drop(other);
                assert!(
                    signalled.elapsed() < Duration::from_secs(2),
                    "still accepting connections after SIGTERM"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert!(
        !in_flight.is_finished(),
        "the slow request ended before the listener closed"
    );

    // The in-flight request gets its whole answer.
    let (status, warning, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(warning.is_none(), "{warning:?}");
    assert_eq!(body["id"], slow_id.as_str());
    assert_eq!(
        body["vigilSources"].as_array().unwrap().len(),
        slow["vigilSources"].as_array().unwrap().len()
    );

    // The process exits 0 within the grace period (the hanging delivery is cut at its end).
    let exit = gw
        .exited_within(grace + Duration::from_secs(3))
        .await
        .expect("the gateway did not exit within the shutdown grace period");
    assert!(exit.success(), "{exit:?}");
    assert!(signalled.elapsed() < grace + Duration::from_secs(3));
    let first_log = std::fs::read_to_string(dir.join("first.log")).unwrap();
    assert!(
        first_log.contains("no longer accepting connections"),
        "{first_log}"
    );

    // Nothing was lost: the refusing provider's row is still pending in the database.
    let rows = outbox_rows(&dir, &changed_id).await;
    assert!(
        rows.iter()
            .any(|(p, s)| p.starts_with("ocsf") && s == "pending"),
        "{rows:?}"
    );
    assert_eq!(
        rows.len(),
        changed["vigilSources"].as_array().unwrap().len()
    );

    // After a restart, with the provider back, it is delivered.
    for kind in ProviderKind::ALL {
        fleet.get(kind).set_faults(Faults::default());
    }
    let gw = Proc::start(&config, port, &dir.join("second.log"), &[]).await;
    let start = Instant::now();
    loop {
        let got: Value = client
            .get(format!("{}/v1.0/security/alerts/{changed_id}", gw.base))
            .bearer_auth(&writer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let delivered = got["vigilSources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "resolved" && s["syncState"]["state"] == "delivered");
        if delivered {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not delivered after the restart: {}",
            got["vigilSources"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ocsf_got_it = fleet
        .get(ProviderKind::Ocsf)
        .writes()
        .iter()
        .any(|w| w.body.to_string().contains(&comment));
    assert!(ocsf_got_it, "the OCSF provider never received the change");
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}
