//! Listing alerts across providers.

use crate::*;
use serde_json::Value;
use std::collections::BTreeSet;

#[tokio::test]
async fn all_providers_answer_with_a_graph_collection() {
    let env = TestEnv::start().await;
    let resp = env.get(CONTOSO, "/v1.0/security/alerts?$top=5").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("request-id").is_some());
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#security/alerts")
    );
    let status = body["@vigil.providerStatus"].as_array().unwrap();
    assert_eq!(status.len(), 3, "{status:?}");
    assert!(status.iter().all(|s| s["state"] == "answered"));
    let value = body["value"].as_array().unwrap();
    assert!(!value.is_empty() && value.len() <= 15);
    for a in value {
        assert_eq!(a["azureTenantId"].as_str().unwrap().to_lowercase(), CONTOSO);
    }
    assert!(body["@odata.nextLink"].as_str().is_some());
}

#[tokio::test]
async fn v1_beta_and_the_trailing_slash_serve_the_same_collection() {
    let env = TestEnv::start().await;
    let mut seen: Vec<BTreeSet<String>> = Vec::new();
    for (path, version) in [
        ("/v1.0/security/alerts?$top=1000", "v1.0"),
        ("/v1.0/security/alerts/?$top=1000", "v1.0"),
        ("/beta/security/alerts?$top=1000", "beta"),
        ("/beta/security/alerts/?$top=1000", "beta"),
    ] {
        let resp = env.get(CONTOSO, path).await;
        assert_eq!(resp.status(), 200, "{path}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/json"), "{path}: {ct}");
        assert_eq!(resp.headers()["odata-version"], "4.0");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["@odata.context"],
            format!("{}/{version}/$metadata#security/alerts", env.base),
            "{path}"
        );
        seen.push(
            body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(id_of)
                .collect(),
        );
    }
    assert!(!seen[0].is_empty());
    assert!(seen.iter().all(|s| *s == seen[0]), "the four forms differ");
}

#[tokio::test]
async fn request_ids_are_generated_and_client_request_ids_echoed() {
    let env = TestEnv::start().await;
    let resp = env.get(CONTOSO, "/v1.0/security/alerts?$top=1").await;
    let rid = resp.headers()["request-id"].to_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&rid).is_ok(), "request-id {rid}");
    assert_eq!(resp.headers()["client-request-id"], rid.as_str());

    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        "client-request-id",
        "0d9c1f6e-1b7a-4c9e-9b8e-6a1f2e3d4c5b".parse().unwrap(),
    );
    let resp = env
        .get_with(CONTOSO, "/v1.0/security/alerts?$top=1", h.clone())
        .await;
    assert_eq!(
        resp.headers()["client-request-id"],
        "0d9c1f6e-1b7a-4c9e-9b8e-6a1f2e3d4c5b"
    );
    let other = resp.headers()["request-id"].to_str().unwrap().to_string();
    assert_ne!(other, rid, "every request gets its own request-id");
    // Errors carry both, in the body too.
    let resp = env
        .get_with(CONTOSO, "/v1.0/security/alerts?$top=0", h)
        .await;
    let rid = resp.headers()["request-id"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    graph_error(&body);
    assert_eq!(body["error"]["innerError"]["request-id"], rid.as_str());
    assert_eq!(
        body["error"]["innerError"]["client-request-id"],
        "0d9c1f6e-1b7a-4c9e-9b8e-6a1f2e3d4c5b"
    );
}
