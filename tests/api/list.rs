//! Listing alerts across providers.

use crate::*;
use serde_json::Value;
use std::collections::HashSet;

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
async fn paging_walks_every_provider_to_the_end_without_repeats_or_gaps() {
    let env = TestEnv::start().await;
    let pages = env.walk(CONTOSO, "/v1.0/security/alerts?$top=7").await;
    let mut ids = HashSet::new();
    let mut sources = HashSet::new();
    for p in &pages {
        for a in p["value"].as_array().unwrap() {
            let id = a["id"].as_str().unwrap().to_string();
            assert!(ids.insert(id.clone()), "alert {id} repeated");
            for s in a["vigilSources"].as_array().unwrap() {
                let key = s["providerAlertId"].as_str().unwrap().to_string();
                assert!(sources.insert(key.clone()), "source {key} shown twice");
            }
        }
    }
    let expected: HashSet<String> = env
        .provider_alert_ids(CONTOSO)
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let missing: Vec<_> = expected.difference(&sources).collect();
    assert!(
        missing.is_empty(),
        "{} provider alerts never shown: {missing:?}",
        missing.len()
    );
    assert!(
        pages.len() > 2,
        "expected several pages, got {}",
        pages.len()
    );
    assert!(ids.len() < expected.len(), "no duplicates were folded");
}
