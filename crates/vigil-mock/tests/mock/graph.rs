//! The Graph mock over HTTP: tokens, auth errors, isolation, paging, queries, PATCH, identity.

use crate::{bounded, client, graph_mock, token};
use serde_json::{Value, json};
use std::collections::HashSet;
use vigil_mock::{CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID};

async fn get(url: &str, tok: &str) -> (u16, Value) {
    let r = client().get(url).bearer_auth(tok).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn token_flow_good_and_bad_secrets() {
    bounded(async {
        let m = graph_mock().await;
        let c = m.credentials(CONTOSO_TENANT_ID);
        let url = format!("{}/{CONTOSO_TENANT_ID}/oauth2/v2.0/token", m.base_url());
        let ok = client()
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", c.client_id.as_str()),
                ("client_secret", c.client_secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let body: Value = ok.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert!(body["access_token"].as_str().unwrap().len() > 10);
        assert_eq!(m.tokens_issued(), 1);

        let bad = client()
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", c.client_id.as_str()),
                ("client_secret", "wrong"),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401);
        let body: Value = bad.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"], json!([7000215]));
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with("AADSTS7000215")
        );

        // Fabrikam's client against Contoso's tenant endpoint is not a Contoso client.
        let f = m.credentials(FABRIKAM_TENANT_ID);
        let cross = client()
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", f.client_id.as_str()),
                ("client_secret", f.client_secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), 401);

        let no_scope = client()
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", c.client_id.as_str()),
                ("client_secret", c.client_secret.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(no_scope.status(), 400);
        let unknown_tenant = client()
            .post(format!(
                "{}/00000000-0000-4000-8000-000000000000/oauth2/v2.0/token",
                m.base_url()
            ))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(unknown_tenant.status(), 400);
        assert_eq!(m.tokens_issued(), 1);
    })
    .await;
}

fn assert_graph_401(status: u16, body: &Value) {
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    let inner = &body["error"]["innerError"];
    assert!(inner["request-id"].is_string());
    assert!(inner["client-request-id"].is_string());
    let date = inner["date"].as_str().unwrap();
    assert_eq!(date.len(), 19, "YYYY-MM-DDTHH:MM:SS, got {date}");
}

#[tokio::test]
async fn missing_unknown_and_expired_tokens_are_401() {
    bounded(async {
        let m = graph_mock().await;
        let url = format!("{}/v1.0/security/alerts", m.base_url());
        let r = client()
            .get(&url)
            .header("client-request-id", "abc-123")
            .send()
            .await
            .unwrap();
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_graph_401(status, &body);
        assert_eq!(body["error"]["innerError"]["client-request-id"], "abc-123");

        let (s, b) = get(&url, "not-a-token").await;
        assert_graph_401(s, &b);

        let tok = token(&m, CONTOSO_TENANT_ID).await;
        let (s, _) = get(&url, &tok).await;
        assert_eq!(s, 200);
        m.expire_tokens();
        let (s, b) = get(&url, &tok).await;
        assert_graph_401(s, &b);
        assert!(b["error"]["message"].as_str().unwrap().contains("expired"));
    })
    .await;
}

#[tokio::test]
async fn tenants_see_only_their_own_data() {
    bounded(async {
        let m = graph_mock().await;
        let contoso = token(&m, CONTOSO_TENANT_ID).await;
        let (s, body) = get(
            &format!("{}/v1.0/security/alerts?$top=1000", m.base_url()),
            &contoso,
        )
        .await;
        assert_eq!(s, 200);
        let value = body["value"].as_array().unwrap();
        assert_eq!(value.len(), 60);
        assert!(
            value
                .iter()
                .all(|a| a["azureTenantId"] == CONTOSO_TENANT_ID)
        );
        let fabrikam_alert = m
            .scenario()
            .data(vigil_mock::ProviderKind::Graph)
            .alerts_of(FABRIKAM_TENANT_ID)
            .next()
            .unwrap()
            .id
            .clone();
        let (s, b) = get(
            &format!("{}/v1.0/security/alerts/{fabrikam_alert}", m.base_url()),
            &contoso,
        )
        .await;
        assert_eq!(s, 404);
        assert_eq!(b["error"]["code"], "NotFound");
        let fabrikam = token(&m, FABRIKAM_TENANT_ID).await;
        let (s, b) = get(
            &format!("{}/beta/security/alerts/{fabrikam_alert}", m.base_url()),
            &fabrikam,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(b["id"], fabrikam_alert.as_str());
        assert!(
            b["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("security/alerts/$entity")
        );
        // Identity is isolated too.
        let (_, users) = get(
            &format!(
                "{}/v1.0/identityProtection/riskyUsers?$top=1000",
                m.base_url()
            ),
            &fabrikam,
        )
        .await;
        let users = users["value"].as_array().unwrap();
        assert_eq!(users.len(), 12);
        assert!(users.iter().all(|u| {
            u["userPrincipalName"]
                .as_str()
                .unwrap()
                .ends_with("@fabrikam.com")
        }));
        assert!(users.iter().all(|u| u.get("vigilMockTenantId").is_none()));
    })
    .await;
}

#[tokio::test]
async fn paging_via_next_link_reaches_the_end_without_repeats() {
    bounded(async {
        let m = graph_mock().await;
        let tok = token(&m, CONTOSO_TENANT_ID).await;
        let mut url = format!(
            "{}/v1.0/security/alerts/?$top=7&$count=true&$orderby=createdDateTime desc",
            m.base_url()
        );
        let mut seen = Vec::new();
        let mut pages = 0;
        let mut last_created: Option<String> = None;
        loop {
            let (s, body) = get(&url, &tok).await;
            assert_eq!(s, 200, "{body}");
            assert_eq!(body["@odata.count"], 60);
            pages += 1;
            for a in body["value"].as_array().unwrap() {
                let created = a["createdDateTime"].as_str().unwrap().to_string();
                if let Some(prev) = &last_created {
                    assert!(
                        vigil_model::Timestamp::parse(prev).unwrap()
                            >= vigil_model::Timestamp::parse(&created).unwrap()
                    );
                }
                last_created = Some(created);
                seen.push(a["id"].as_str().unwrap().to_string());
            }
            match body["@odata.nextLink"].as_str() {
                Some(next) => {
                    assert!(next.starts_with(&m.base_url()), "absolute: {next}");
                    assert!(next.contains("$skiptoken="));
                    assert!(next.contains("$top=7"));
                    url = next.to_string();
                }
                None => break,
            }
        }
        assert_eq!(pages, 9);
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(seen.len(), 60);
        assert_eq!(unique.len(), 60);
        // A skiptoken reused with other options is refused.
        let (s, b) = get(
            &format!(
                "{}/v1.0/security/alerts?$top=8&$skiptoken=00000000000000000000000a",
                m.base_url()
            ),
            &tok,
        )
        .await;
        assert_eq!(s, 400);
        assert_eq!(b["error"]["code"], "BadRequest");
    })
    .await;
}

#[tokio::test]
async fn query_options_filter_select_limits_and_count() {
    bounded(async {
        let m = graph_mock().await;
        let tok = token(&m, CONTOSO_TENANT_ID).await;
        let base = m.base_url();
        let (s, b) = get(&format!("{base}/v1.0/security/alerts?$top=1001"), &tok).await;
        assert_eq!(s, 400);
        assert_eq!(b["error"]["code"], "BadRequest");
        let (s, _) = get(&format!("{base}/v1.0/security/alerts?$top=10&$skip=501"), &tok).await;
        assert_eq!(s, 400);
        let (s, _) = get(&format!("{base}/v1.0/security/alerts?$top=10&$skip=500"), &tok).await;
        assert_eq!(s, 200);
        let (s, _) = get(&format!("{base}/v1.0/security/alerts?$filter=nope eq 1"), &tok).await;
        assert_eq!(s, 400);

        let expected_high = m
            .scenario()
            .data(vigil_mock::ProviderKind::Graph)
            .alerts_of(CONTOSO_TENANT_ID)
            .filter(|a| a.severity == vigil_model::AlertSeverity::High)
            .count();
        let (s, b) = get(
            &format!("{base}/v1.0/security/alerts?$filter=Severity eq 'High'&$top=1000&$select=severity,title"),
            &tok,
        )
        .await;
        assert_eq!(s, 200);
        let v = b["value"].as_array().unwrap();
        assert_eq!(v.len(), expected_high);
        assert!(v.iter().all(|a| a["severity"] == "high"));
        assert!(v.iter().all(|a| a.as_object().unwrap().len() == 3), "id + 2 selected");
        assert!(b["@odata.context"].as_str().unwrap().ends_with("security/alerts(severity,title)"));

        let r = client()
            .get(format!("{base}/v1.0/security/alerts/$count?$filter=severity eq 'high'"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), expected_high.to_string());

        // Lambda over a nested collection, on data we know is there.
        let upn = m
            .scenario()
            .data(vigil_mock::ProviderKind::Graph)
            .alerts_of(CONTOSO_TENANT_ID)
            .next()
            .unwrap()
            .user_states[0]
            .user_principal_name
            .clone()
            .unwrap();
        let (s, b) = get(
            &format!("{base}/v1.0/security/alerts?$filter=userStates/any(u:u/userPrincipalName eq '{upn}')"),
            &tok,
        )
        .await;
        assert_eq!(s, 200);
        assert!(!b["value"].as_array().unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn patch_is_applied_visible_and_recorded() {
    bounded(async {
        let m = graph_mock().await;
        let tok = token(&m, CONTOSO_TENANT_ID).await;
        let alert = crate::new_graph_alert(&m, 0);
        let url = format!("{}/v1.0/security/alerts/{}", m.base_url(), alert.id);
        // A list asked before the change (and asked again after it) shows the change: the
        // mock's kept list answers are dropped by a write.
        let list_url = format!("{}/v1.0/security/alerts?$top=999", m.base_url());
        let listed_status = |list: &Value| {
            list["value"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["id"] == alert.id.as_str())
                .map(|a| a["status"].clone())
        };
        let (s, before) = get(&list_url, &tok).await;
        assert_eq!(s, 200);
        assert_ne!(listed_status(&before), Some(json!("resolved")));
        let body = json!({
            "status": "resolved",
            "feedback": "truePositive",
            "assignedTo": "analyst@contoso.com",
            "comments": ["Closed after review"],
            "tags": ["HVA", "reviewed"],
            "vendorInformation": {
                "provider": alert.vendor_information.provider,
                "vendor": "Microsoft"
            }
        });
        let r = client().patch(&url).bearer_auth(&tok).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let (s, after) = get(&url, &tok).await;
        assert_eq!(s, 200);
        assert_eq!(after["status"], "resolved");
        let (_, relisted) = get(&list_url, &tok).await;
        assert_eq!(listed_status(&relisted), Some(json!("resolved")));
        assert_eq!(after["feedback"], "truePositive");
        assert_eq!(after["assignedTo"], "analyst@contoso.com");
        assert_eq!(after["tags"], json!(["HVA", "reviewed"]));
        assert!(after["closedDateTime"].is_string());
        let history = after["historyStates"].as_array().unwrap();
        assert_eq!(history.len(), alert.history_states.len() + 1);
        let last = history.last().unwrap();
        assert_eq!(last["status"], "resolved");
        assert_eq!(last["appId"], m.credentials(CONTOSO_TENANT_ID).client_id.as_str());

        let writes = m.writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].method, "PATCH");
        assert_eq!(writes[0].tenant_id, CONTOSO_TENANT_ID);
        assert_eq!(writes[0].path, format!("/v1.0/security/alerts/{}", alert.id));
        assert_eq!(writes[0].body, body);

        // Missing vendorInformation: 400, nothing changes.
        let r = client()
            .patch(&url)
            .bearer_auth(&tok)
            .json(&json!({"status": "inProgress"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let (_, again) = get(&url, &tok).await;
        assert_eq!(again["status"], "resolved");

        // Prefer: return=representation → 200 with the alert.
        let r = client()
            .patch(&url)
            .bearer_auth(&tok)
            .header("Prefer", "return=representation")
            .json(&json!({"status": "InProgress", "vendorInformation": {
                "provider": alert.vendor_information.provider, "vendor": "Microsoft"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let rep: Value = r.json().await.unwrap();
        assert_eq!(rep["status"], "inProgress");
        assert_eq!(rep["id"], alert.id.as_str());

        // Unknown id: 404.
        let r = client()
            .patch(format!("{}/v1.0/security/alerts/nope", m.base_url()))
            .bearer_auth(&tok)
            .json(&json!({"status": "resolved", "vendorInformation": {"provider": "IPC", "vendor": "Microsoft"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(m.writes().len(), 4, "every authenticated write is recorded");
    })
    .await;
}

#[tokio::test]
async fn identity_actions_change_state_and_history() {
    bounded(async {
        let m = graph_mock().await;
        let tok = token(&m, CONTOSO_TENANT_ID).await;
        let base = format!("{}/v1.0/identityProtection", m.base_url());
        let (s, list) = get(
            &format!("{base}/riskyUsers?$filter=riskState eq 'atRisk'&$top=1000"),
            &tok,
        )
        .await;
        assert_eq!(s, 200);
        let users = list["value"].as_array().unwrap();
        assert!(users.len() >= 2);
        let u1 = users[0]["id"].as_str().unwrap().to_string();
        let u2 = users[1]["id"].as_str().unwrap().to_string();
        let (_, hist_before) = get(&format!("{base}/riskyUsers/{u1}/history"), &tok).await;
        let n_before = hist_before["value"].as_array().unwrap().len();

        let r = client()
            .post(format!("{base}/riskyUsers/confirmCompromised"))
            .bearer_auth(&tok)
            .json(&json!({"userIds": [u1]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let (_, user) = get(&format!("{base}/riskyUsers/{u1}"), &tok).await;
        assert_eq!(user["riskState"], "confirmedCompromised");
        assert_eq!(user["riskLevel"], "high");
        assert_eq!(user["riskDetail"], "adminConfirmedUserCompromised");
        let (_, hist) = get(&format!("{base}/riskyUsers/{u1}/history"), &tok).await;
        let hist = hist["value"].as_array().unwrap();
        assert_eq!(hist.len(), n_before + 1);
        let newest = hist.last().unwrap();
        assert_eq!(
            newest["initiatedBy"],
            m.credentials(CONTOSO_TENANT_ID).client_id.as_str()
        );
        let hid = newest["id"].as_str().unwrap();
        let (s, item) = get(&format!("{base}/riskyUsers/{u1}/history/{hid}"), &tok).await;
        assert_eq!(s, 200);
        assert_eq!(item["riskState"], "confirmedCompromised");

        let r = client()
            .post(format!("{base}/riskyUsers/dismiss"))
            .bearer_auth(&tok)
            .json(&json!({"userIds": [u2]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let (_, user) = get(&format!("{base}/riskyUsers/{u2}"), &tok).await;
        assert_eq!(user["riskState"], "dismissed");
        assert_eq!(user["riskLevel"], "none");

        // confirmSafe sets an evolvable riskDetail, hidden unless the caller opts in.
        client()
            .post(format!("{base}/riskyUsers/confirmSafe"))
            .bearer_auth(&tok)
            .json(&json!({"userIds": [u2]}))
            .send()
            .await
            .unwrap();
        let (_, user) = get(&format!("{base}/riskyUsers/{u2}"), &tok).await;
        assert_eq!(user["riskState"], "confirmedSafe");
        assert_eq!(user["riskDetail"], "unknownFutureValue");
        let opted: Value = client()
            .get(format!("{base}/riskyUsers/{u2}"))
            .bearer_auth(&tok)
            .header("Prefer", "include-unknown-enum-members")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(opted["riskDetail"], "adminConfirmedAccountSafe");

        let r = client()
            .post(format!("{base}/riskyUsers/dismiss"))
            .bearer_auth(&tok)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);

        let writes = m.writes();
        assert_eq!(writes.len(), 4);
        assert_eq!(
            writes[0].path,
            "/v1.0/identityProtection/riskyUsers/confirmCompromised"
        );
        assert_eq!(writes[0].body, json!({"userIds": [u1]}));

        // Risk detections: list, filter, get by id.
        let (s, d) = get(&format!("{base}/riskDetections?$top=5&$count=true"), &tok).await;
        assert_eq!(s, 200);
        assert_eq!(d["@odata.count"], 30);
        assert!(d["@odata.nextLink"].is_string());
        let first = &d["value"][0];
        let id = first["id"].as_str().unwrap();
        let (s, one) = get(&format!("{base}/riskDetections/{id}"), &tok).await;
        assert_eq!(s, 200);
        assert_eq!(one["riskEventType"], first["riskEventType"]);
        assert!(one.get("vigilMockTenantId").is_none());
        let (s, _) = get(
            &format!(
                "{}/beta/riskDetections?$filter=riskLevel eq microsoft.graph.riskLevel'high'",
                m.base_url()
            ),
            &tok,
        )
        .await;
        assert_eq!(s, 200);
    })
    .await;
}
