//! A tenant never sees another tenant's alerts: not in lists, not by id (unified or provider),
//! not through a nextLink issued to the other tenant.

use crate::*;
use std::collections::BTreeSet;

#[tokio::test]
async fn tenants_see_only_their_own_alerts() {
    let env = TestEnv::start().await;
    let mut per_tenant = Vec::new();
    for tenant in [CONTOSO, FABRIKAM] {
        let alerts = env
            .walk_alerts(tenant, "/v1.0/security/alerts?$top=1000")
            .await;
        assert!(!alerts.is_empty());
        let own: BTreeSet<String> = env
            .provider_alert_ids(tenant)
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        let short: String = tenant.chars().take(8).collect();
        for a in &alerts {
            assert_eq!(
                a["azureTenantId"].as_str().unwrap().to_lowercase(),
                tenant,
                "{}",
                a["id"]
            );
            for (provider, pid) in sources_of(a) {
                assert!(provider.ends_with(&short), "{provider} is not {tenant}'s");
                assert!(own.contains(&pid), "{pid} is not {tenant}'s");
            }
        }
        let shown: BTreeSet<String> = alerts
            .iter()
            .flat_map(sources_of)
            .map(|(_, id)| id)
            .collect();
        assert_eq!(shown, own, "{tenant} sees all of its own");
        per_tenant.push(alerts.iter().map(id_of).collect::<BTreeSet<_>>());
    }
    assert!(per_tenant[0].is_disjoint(&per_tenant[1]));
    let count = env.get(FABRIKAM, "/v1.0/security/alerts/$count").await;
    assert_eq!(count.text().await.unwrap(), per_tenant[1].len().to_string());
}

#[tokio::test]
async fn another_tenants_ids_are_not_found() {
    let env = TestEnv::start().await;
    let contoso = env
        .walk_alerts(CONTOSO, "/v1.0/security/alerts?$top=1000")
        .await;
    let folded = contoso
        .iter()
        .find(|a| sources_of(a).len() > 1)
        .expect("a folded alert");
    let mut ids = vec![id_of(folded)];
    ids.extend(sources_of(folded).into_iter().map(|(_, id)| id));
    ids.push(id_of(
        contoso.iter().find(|a| sources_of(a).len() == 1).unwrap(),
    ));
    for id in ids {
        // Contoso can read it...
        let ok = env
            .get(CONTOSO, &format!("/v1.0/security/alerts/{}", enc(&id)))
            .await;
        assert_eq!(ok.status(), 200, "{id}");
        // ...Fabrikam cannot, and is not told it exists.
        let resp = env
            .get(FABRIKAM, &format!("/v1.0/security/alerts/{}", enc(&id)))
            .await;
        expect_graph_error(resp, 404, "NotFound").await;
    }
}

#[tokio::test]
async fn a_next_link_cannot_be_used_by_another_tenant() {
    let env = TestEnv::start().await;
    let page = env
        .get_json(CONTOSO, "/v1.0/security/alerts?$top=3", 200)
        .await;
    let next = page["@odata.nextLink"].as_str().unwrap();
    let resp = env.get_url(FABRIKAM, next).await;
    expect_graph_error(resp, 400, "BadRequest").await;
    // The same link still works for its own tenant.
    assert_eq!(env.get_url(CONTOSO, next).await.status(), 200);
}

#[tokio::test]
async fn tokens_without_the_alert_scope_or_at_all_are_refused() {
    let env = TestEnv::start().await;
    let url = format!("{}/v1.0/security/alerts", env.base);
    let resp = env.client.get(&url).send().await.unwrap();
    assert!(resp.headers().get("www-authenticate").is_some());
    expect_graph_error(resp, 401, "InvalidAuthenticationToken").await;
    let resp = env
        .client
        .get(&url)
        .bearer_auth("not-a-jwt")
        .send()
        .await
        .unwrap();
    expect_graph_error(resp, 401, "InvalidAuthenticationToken").await;
    let resp = env
        .client
        .get(&url)
        .bearer_auth(env.token_with(CONTOSO, &["User.Read"]))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status, 403, "{body}");
    graph_error(&body);
    // Read scope alone is enough to read.
    let resp = env
        .client
        .get(&url)
        .bearer_auth(env.token_with(CONTOSO, READ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
