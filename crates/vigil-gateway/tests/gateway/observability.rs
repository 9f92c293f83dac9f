//! `/metrics` configuration: off, and a scrape token that must exist. (What the metrics say is
//! tested end to end on the real binary: tests/api/observability.rs.)

use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn config(data_dir: &std::path::Path, metrics: Value) -> vigil_gateway::Config {
    vigil_gateway::Config::from_overrides(json!({
        "listen": "127.0.0.1:0",
        "data_dir": data_dir,
        "auth": { "mode": "hs256" },
        "metrics": metrics,
    }))
    .expect("config")
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let dir = std::env::temp_dir().join(format!("vigil-gw-{}", uuid::Uuid::new_v4()));
    let state = vigil_gateway::build_state(config(&dir, json!({"enabled": false})))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = tokio::spawn(vigil_gateway::run(state, listener, stop.clone()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    let resp = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().contains_key("request-id"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NotFound");
    let resp = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // Stopping returns promptly when nothing is in flight.
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the gateway did not stop")
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_scrape_token_variable_that_is_not_set_refuses_to_start() {
    let dir = std::env::temp_dir().join(format!("vigil-gw-{}", uuid::Uuid::new_v4()));
    let var = format!(
        "VIGIL_GW_TEST_NO_SUCH_VARIABLE_{}",
        uuid::Uuid::new_v4().simple()
    );
    let err = match vigil_gateway::build_state(config(&dir, json!({"bearer_token_env": var}))).await
    {
        Ok(_) => panic!("started without the scrape token"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("metrics.bearer_token_env") && err.contains(&var),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
