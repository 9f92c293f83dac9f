//! vigil-mock integration tests: one binary, real servers on 127.0.0.1:0, a raw reqwest client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod faults;
mod graph;
mod scenario;

use serde_json::Value;
use std::future::Future;
use std::time::Duration;
use vigil_mock::{MockConfig, MockProvider, ProviderKind};

/// Every test body runs under this bound.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test exceeded its time bound")
}

/// A small scenario (fast to generate and page through).
pub fn small_cfg() -> MockConfig {
    MockConfig {
        alerts_per_tenant: 60,
        risky_users_per_tenant: 12,
        detections_per_tenant: 30,
        ..MockConfig::default()
    }
}

pub async fn graph_mock() -> MockProvider {
    MockProvider::start(ProviderKind::Graph, small_cfg())
        .await
        .expect("graph mock starts")
}

/// The `nth` Contoso alert of a Graph mock's scenario that is still `newAlert`.
pub fn new_graph_alert(m: &MockProvider, nth: usize) -> vigil_model::Alert {
    m.scenario()
        .data(ProviderKind::Graph)
        .alerts_of(vigil_mock::CONTOSO_TENANT_ID)
        .filter(|a| a.status == vigil_model::AlertStatus::NewAlert)
        .nth(nth)
        .expect("the scenario has new alerts")
        .clone()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A Graph access token for `tenant`.
pub async fn token(mock: &MockProvider, tenant: &str) -> String {
    let c = mock.credentials(tenant);
    let resp = client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", mock.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("token json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}
