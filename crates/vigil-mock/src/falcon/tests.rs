//! The Falcon mock over real HTTP on an ephemeral port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::core::ProviderKind;
use std::time::Duration;
use vigil_model::{Alert, AlertSeverity, AlertStatus, Timestamp};

const T1: &str = "11111111-1111-1111-1111-111111111111";
const T2: &str = "22222222-2222-2222-2222-222222222222";

fn alerts() -> Vec<Alert> {
    let mut out = Vec::new();
    for (tenant, n) in [(T1, 25), (T2, 3)] {
        let cid = cid_for_tenant(tenant);
        for i in 0..n {
            out.push(Alert {
                id: format!("{cid}:ind:{i:04}"),
                azure_tenant_id: tenant.into(),
                title: Some(format!("Alert {i}")),
                category: Some("ransomware".into()),
                severity: [
                    AlertSeverity::Low,
                    AlertSeverity::Medium,
                    AlertSeverity::High,
                ][i % 3],
                status: if i % 5 == 0 {
                    AlertStatus::Resolved
                } else {
                    AlertStatus::NewAlert
                },
                created_date_time: Timestamp::parse(&format!("2024-05-01T10:{:02}:00Z", i % 60))
                    .ok(),
                ..Alert::default()
            });
        }
    }
    out
}

struct Mock {
    base: String,
    core: Arc<Core>,
    http: reqwest::Client,
}

async fn start() -> Mock {
    let core = Arc::new(Core::new(
        ProviderKind::Falcon,
        vec![T1.into(), T2.into()],
        Duration::from_secs(60),
    ));
    let data = ProviderData {
        alerts: alerts(),
        ..ProviderData::default()
    };
    let app = router(core.clone(), data);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Mock {
        base: format!("http://{addr}"),
        core,
        http: reqwest::Client::new(),
    }
}

impl Mock {
    async fn token(&self, tenant: &str) -> String {
        let c = self.core.credentials(tenant);
        let r = self
            .http
            .post(format!("{}/oauth2/token", self.base))
            .form(&[
                ("client_id", c.client_id),
                ("client_secret", c.client_secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["token_type"], "bearer");
        v["access_token"].as_str().unwrap().to_string()
    }

    async fn query(&self, token: &str, params: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/alerts/queries/alerts/v2", self.base))
            .bearer_auth(token)
            .query(params)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn entities(&self, token: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/alerts/entities/alerts/v2", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn patch(&self, token: &str, body: &str) -> (u16, Value) {
        let r = self
            .http
            .patch(format!("{}/alerts/entities/alerts/v3", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test exceeded its deadline")
}

fn ids(v: &Value) -> Vec<String> {
    v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn token_and_auth_errors_use_the_falcon_envelope() {
    bounded(async {
        let m = start().await;
        let r = m
            .http
            .post(format!("{}/oauth2/token", m.base))
            .form(&[("client_id", "nope"), ("client_secret", "nope")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["errors"][0]["message"], "access denied, invalid client");
        assert!(v["meta"]["trace_id"].is_string());

        let r = m
            .http
            .post(format!("{}/oauth2/token", m.base))
            .body("client_id=x")
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);

        let (status, v) = m.query("bogus", &[]).await;
        assert_eq!(status, 401);
        assert_eq!(v["errors"][0]["code"], 401);
        assert_eq!(v["resources"], json!([]));

        let token = m.token(T1).await;
        m.core.tokens.expire_all();
        let (status, _) = m.query(&token, &[]).await;
        assert_eq!(status, 401);
    })
    .await;
}

#[tokio::test]
async fn query_pages_filters_and_isolates_tenants() {
    bounded(async {
        let m = start().await;
        let t1 = m.token(T1).await;
        let t2 = m.token(T2).await;

        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let (status, v) = m
                .query(&t1, &[("limit", "10"), ("offset", &offset.to_string())])
                .await;
            assert_eq!(status, 200);
            assert_eq!(v["meta"]["pagination"]["total"], 25);
            let page = ids(&v);
            if page.is_empty() {
                break;
            }
            offset += page.len();
            seen.extend(page);
        }
        assert_eq!(seen.len(), 25);
        let unique: std::collections::HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), 25);
        // Default sort: created_timestamp.desc.
        assert!(seen[0].ends_with(":0024"));

        let (_, v) = m.query(&t2, &[("limit", "100")]).await;
        assert_eq!(ids(&v).len(), 3);
        let cid2 = cid_for_tenant(T2);
        assert!(ids(&v).iter().all(|id| id.starts_with(&cid2)));

        let (_, v) = m.query(&t1, &[("filter", "status:'closed'")]).await;
        assert_eq!(v["meta"]["pagination"]["total"], 5);
        let (_, v) = m
            .query(
                &t1,
                &[("filter", "status:['new','reopened']+severity:>=50")],
            )
            .await;
        let n = v["meta"]["pagination"]["total"].as_u64().unwrap();
        assert!(n > 0 && n < 20, "{n}");
        let (_, v) = m
            .query(
                &t1,
                &[
                    ("filter", "created_timestamp:>='2024-05-01T10:20:00Z'"),
                    ("sort", "created_timestamp.asc"),
                ],
            )
            .await;
        assert_eq!(v["meta"]["pagination"]["total"], 5);
        assert!(ids(&v)[0].ends_with(":0020"));

        for (k, bad) in [
            ("filter", "status:'new',status:'closed'"),
            ("filter", "hostname:'x'"),
            ("limit", "10001"),
            ("limit", "0"),
            ("offset", "-1"),
            ("sort", "name.asc"),
        ] {
            let (status, v) = m.query(&t1, &[(k, bad)]).await;
            assert_eq!(status, 400, "{k}={bad}");
            assert_eq!(v["errors"][0]["code"], 400);
        }
    })
    .await;
}

#[tokio::test]
async fn entities_leave_out_unknown_ids_and_other_tenants_ids() {
    bounded(async {
        let m = start().await;
        let t1 = m.token(T1).await;
        let cid1 = cid_for_tenant(T1);
        let cid2 = cid_for_tenant(T2);
        let mine = format!("{cid1}:ind:0001");
        let theirs = format!("{cid2}:ind:0001");
        let (status, v) = m
            .entities(&t1, json!({ "composite_ids": [mine, theirs, "junk"] }))
            .await;
        assert_eq!(status, 200);
        let res = v["resources"].as_array().unwrap();
        assert_eq!(res.len(), 1);
        assert_eq!(res[0]["composite_id"], mine);
        assert_eq!(res[0]["cid"], cid1);
        assert!(res[0]["severity"].is_i64());
        assert_eq!(v["errors"].as_array().unwrap().len(), 2);
        assert_eq!(v["errors"][0]["code"], 404);

        let (status, _) = m.entities(&t1, json!({ "composite_ids": [theirs] })).await;
        assert_eq!(status, 404);
        let many: Vec<String> = (0..1001).map(|i| format!("x{i}")).collect();
        let (status, _) = m.entities(&t1, json!({ "composite_ids": many })).await;
        assert_eq!(status, 400);
        for bad in [
            json!({}),
            json!({"composite_ids": "x"}),
            json!({"composite_ids": [1]}),
            json!({"composite_ids": []}),
        ] {
            let (status, _) = m.entities(&t1, bad).await;
            assert_eq!(status, 400);
        }
        let r = m
            .http
            .post(format!("{}/alerts/entities/alerts/v2", m.base))
            .bearer_auth(&t1)
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    })
    .await;
}

#[tokio::test]
async fn patch_applies_every_action_and_records_the_write() {
    bounded(async {
        let m = start().await;
        let t1 = m.token(T1).await;
        let id = format!("{}:ind:0002", cid_for_tenant(T1));
        let body = json!({
            "composite_ids": [id],
            "action_parameters": [
                {"name": "update_status", "value": "in_progress"},
                {"name": "assign_to_user_id", "value": "alice@contoso.com"},
                {"name": "add_tag", "value": "vip"},
                {"name": "add_tag", "value": "fc/x/1"},
                {"name": "add_tag", "value": "fc/x/2"},
                {"name": "remove_tags_by_prefix", "value": "fc/x/"},
                {"name": "append_comment", "value": "looking"},
                {"name": "show_in_ui", "value": "false"}
            ]
        })
        .to_string();
        let (status, v) = m.patch(&t1, &body).await;
        assert_eq!(status, 200, "{v}");
        let (_, v) = m.entities(&t1, json!({ "composite_ids": [id] })).await;
        let a = &v["resources"][0];
        assert_eq!(a["status"], "in_progress");
        assert_eq!(a["assigned_to_uid"], "alice@contoso.com");
        assert_eq!(a["tags"], json!(["vip"]));
        assert_eq!(a["comments"][0]["value"], "looking");
        assert_eq!(
            a["comments"][0]["created_by"],
            m.core.credentials(T1).client_id
        );
        assert_eq!(a["show_in_ui"], false);
        assert!(a["updated_timestamp"].as_str().unwrap() > a["created_timestamp"].as_str().unwrap());

        let writes = m.core.recorder.writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].tenant_id, T1);
        assert_eq!(writes[0].method, "PATCH");
        assert_eq!(writes[0].path, "/alerts/entities/alerts/v3");
        assert_eq!(writes[0].body["action_parameters"][6]["value"], "looking");

        let (status, _) = m
            .patch(
                &t1,
                &json!({"composite_ids":[id],"action_parameters":[{"name":"unassign","value":""},{"name":"update_status","value":"closed"}]}).to_string(),
            )
            .await;
        assert_eq!(status, 200);
        let (_, v) = m.entities(&t1, json!({ "composite_ids": [id] })).await;
        assert_eq!(v["resources"][0]["assigned_to_uid"], Value::Null);
        assert_eq!(v["resources"][0]["status"], "closed");

        // Invalid requests change nothing.
        for bad in [
            json!({"composite_ids":[id],"action_parameters":[{"name":"add_tag","value":"a"},{"name":"explode","value":"x"}]}).to_string(),
            json!({"composite_ids":[id],"action_parameters":[{"name":"update_status","value":"resolved"}]}).to_string(),
            json!({"composite_ids":[id],"action_parameters":[{"name":"append_comment","value":""}]}).to_string(),
            json!({"composite_ids":[id],"action_parameters":[]}).to_string(),
            json!({"composite_ids":[id],"action_parameters":[{"name":"add_tag","value":5}]}).to_string(),
            json!({"composite_ids":[id]}).to_string(),
            "garbage".to_string(),
        ] {
            let (status, v) = m.patch(&t1, &bad).await;
            assert_eq!(status, 400, "{bad} -> {v}");
        }
        let (_, v) = m.entities(&t1, json!({ "composite_ids": [id] })).await;
        assert_eq!(v["resources"][0]["tags"], json!(["vip"]));

        // Another tenant's alert is unknown to this tenant.
        let other = format!("{}:ind:0000", cid_for_tenant(T2));
        let (status, v) = m
            .patch(
                &t1,
                &json!({"composite_ids":[other],"action_parameters":[{"name":"add_tag","value":"x"}]}).to_string(),
            )
            .await;
        assert_eq!(status, 404);
        assert_eq!(v["errors"][0]["code"], 404);
    })
    .await;
}

#[tokio::test]
async fn serves_the_generated_scenario_with_its_hints() {
    bounded(async {
        let mock =
            crate::server::MockProvider::start(ProviderKind::Falcon, crate::MockConfig::default())
                .await
                .unwrap();
        let m = Mock {
            base: mock.base_url(),
            core: mock.core().clone(),
            http: reqwest::Client::new(),
        };
        for tenant in mock.tenants() {
            let expected: Vec<&Alert> = mock
                .scenario()
                .data(ProviderKind::Falcon)
                .alerts
                .iter()
                .filter(|a| a.azure_tenant_id == tenant)
                .collect();
            assert!(!expected.is_empty());
            let hint_cid = expected[0].additional_data[crate::scenario::HINTS_KEY]["falconCid"]
                .as_str()
                .unwrap()
                .to_string();
            let token = m.token(&tenant).await;
            let (status, v) = m.query(&token, &[("limit", "10000")]).await;
            assert_eq!(status, 200);
            assert_eq!(v["meta"]["pagination"]["total"], expected.len());
            let all = ids(&v);
            assert!(all.iter().all(|id| id.starts_with(&format!("{hint_cid}:"))));
            let first: Vec<String> = all.iter().take(50).cloned().collect();
            let (_, v) = m.entities(&token, json!({ "composite_ids": first })).await;
            for r in v["resources"].as_array().unwrap() {
                assert_eq!(r["cid"], hint_cid.as_str());
                let src = expected
                    .iter()
                    .find(|a| a.id == r["composite_id"].as_str().unwrap())
                    .unwrap();
                let hints = &src.additional_data[crate::scenario::HINTS_KEY];
                assert_eq!(r["tactic_id"], hints["tacticId"]);
                assert_eq!(r["product"], hints["falconProduct"]);
                assert!(!r.to_string().contains(crate::scenario::HINTS_KEY));
                let sev = r["severity"].as_i64().unwrap();
                assert!((1..=100).contains(&sev));
                if !src.host_states.is_empty() {
                    assert_eq!(r["device"]["device_id"], hints["falconDeviceId"]);
                }
            }
        }
        mock.shutdown().await;
    })
    .await;
}
