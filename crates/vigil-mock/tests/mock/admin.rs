//! The `/_mock/*` admin routes and the provider handle.

use crate::{bounded, client, graph_mock, token};
use serde_json::Value;
use vigil_mock::{CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID, MockConfig, MockProvider, ProviderKind};

#[tokio::test]
async fn admin_routes_report_and_reset() {
    bounded(async {
        let m = graph_mock().await;
        let base = m.base_url();
        assert!(base.starts_with("http://127.0.0.1:"));
        assert_eq!(m.kind(), ProviderKind::Graph);
        assert_eq!(m.tenants(), [CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID]);

        let health: Value = client()
            .get(format!("{base}/_mock/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok");
        assert_eq!(health["kind"], "graph");

        let creds: Value = client()
            .get(format!("{base}/_mock/credentials"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let creds = creds.as_array().unwrap();
        assert_eq!(creds.len(), 2);
        assert_eq!(creds[0]["tenantId"], CONTOSO_TENANT_ID);
        assert_eq!(creds[0]["displayName"], "Contoso");
        assert_eq!(
            creds[0]["clientSecret"],
            m.credentials(CONTOSO_TENANT_ID).client_secret.as_str()
        );

        let tok = token(&m, CONTOSO_TENANT_ID).await;
        client()
            .get(format!("{base}/v1.0/security/alerts?$top=2"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        // Admin traffic is not recorded; product traffic (token included) is.
        let reqs: Value = client()
            .get(format!("{base}/_mock/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let reqs = reqs.as_array().unwrap();
        assert_eq!(reqs.len(), 2, "{reqs:?}");
        assert_eq!(reqs[0]["method"], "POST");
        assert_eq!(reqs[1]["path"], "/v1.0/security/alerts?$top=2");
        assert_eq!(m.requests().len(), 2);

        let dups: Value = client()
            .get(format!("{base}/_mock/duplicates"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            dups.as_array().unwrap().len(),
            m.scenario().duplicate_groups().len()
        );

        let r = client()
            .post(format!("{base}/_mock/expire-tokens"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let r = client()
            .get(format!("{base}/v1.0/security/alerts"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);

        let r = client()
            .post(format!("{base}/_mock/reset-records"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert!(m.requests().is_empty());
        let writes: Value = client()
            .get(format!("{base}/_mock/writes"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(writes, serde_json::json!([]));
        m.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn start_on_a_given_listener_and_token_ttl() {
    bounded(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cfg = MockConfig {
            alerts_per_tenant: 5,
            token_ttl: std::time::Duration::from_secs(1),
            ..MockConfig::default()
        };
        let m = MockProvider::start_on(ProviderKind::Graph, cfg, listener)
            .await
            .unwrap();
        assert_eq!(m.addr(), addr);
        let tok = token(&m, FABRIKAM_TENANT_ID).await;
        let url = format!("{}/v1.0/security/alerts", m.base_url());
        let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
        assert_eq!(r.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let r = client().get(&url).bearer_auth(&tok).send().await.unwrap();
        assert_eq!(r.status(), 401, "token outlived its ttl");
    })
    .await;
}

/// The fleet serves one scenario: every duplicate group's members are fetchable from their
/// provider's own API and describe the same user.
#[tokio::test]
async fn fleet_serves_the_duplicate_ground_truth() {
    bounded(async {
        let fleet = vigil_mock::MockFleet::start(crate::small_cfg())
            .await
            .unwrap();
        for p in fleet.providers() {
            let h: Value = client()
                .get(format!("{}/_mock/health", p.base_url()))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(h["kind"], p.kind().as_str());
        }
        let groups = fleet.duplicate_groups();
        assert!(!groups.is_empty());
        let g = groups
            .iter()
            .find(|g| g.members.len() == 3)
            .expect("a group reported by all three providers");
        let tenant = g.tenant_id.as_str();
        let id_of = |k: ProviderKind| {
            g.members
                .iter()
                .find(|(m, _)| *m == k)
                .map(|(_, id)| id.clone())
                .unwrap()
        };
        // Graph.
        let gtok = token(&fleet.graph, tenant).await;
        let ga: Value = client()
            .get(format!(
                "{}/v1.0/security/alerts/{}",
                fleet.graph.base_url(),
                id_of(ProviderKind::Graph)
            ))
            .bearer_auth(&gtok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let upn = ga["userStates"][0]["userPrincipalName"]
            .as_str()
            .unwrap()
            .to_string();
        // Falcon: token, then entities by composite id.
        let fc = fleet.falcon.credentials(tenant);
        let ftok: Value = client()
            .post(format!("{}/oauth2/token", fleet.falcon.base_url()))
            .form(&[
                ("client_id", fc.client_id.as_str()),
                ("client_secret", fc.client_secret.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let fr = client()
            .post(format!(
                "{}/alerts/entities/alerts/v2",
                fleet.falcon.base_url()
            ))
            .bearer_auth(ftok["access_token"].as_str().unwrap())
            .json(&serde_json::json!({"composite_ids": [id_of(ProviderKind::Falcon)]}))
            .send()
            .await
            .unwrap();
        assert_eq!(fr.status(), 200);
        let fb: Value = fr.json().await.unwrap();
        assert_eq!(fb["resources"].as_array().unwrap().len(), 1);
        assert!(fb.to_string().contains(&upn), "falcon alert names {upn}");
        // OCSF: static API token.
        let oc = fleet.ocsf.credentials(tenant);
        let or = client()
            .get(format!(
                "{}/api/v1/findings/{}",
                fleet.ocsf.base_url(),
                id_of(ProviderKind::Ocsf)
            ))
            .bearer_auth(&oc.api_token)
            .send()
            .await
            .unwrap();
        assert_eq!(or.status(), 200);
        let ob: Value = or.json().await.unwrap();
        assert!(ob.to_string().contains(&upn), "ocsf finding names {upn}");
        fleet.shutdown().await;
    })
    .await;
}
