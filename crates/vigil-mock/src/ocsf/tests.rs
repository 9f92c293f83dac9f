//! The OCSF mock over real HTTP on an ephemeral port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::core::{MOCK_TENANT_KEY, ProviderKind};
use std::time::Duration;
use vigil_model::*;

const T1: &str = "8f7e6d5c-4b3a-4921-8c1d-0e2f3a4b5c6d";
const T2: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn alert(tenant: &str, n: u32, severity: AlertSeverity, status: AlertStatus) -> Alert {
    Alert {
        id: format!("00000000-0000-4000-8000-{tenant:.4}{n:08}"),
        azure_tenant_id: tenant.into(),
        title: Some(format!("alert {n}")),
        severity,
        status,
        created_date_time: Some(ts(&format!("2026-10-{:02}T10:00:00Z", n + 1))),
        last_modified_date_time: Some(ts(&format!("2026-10-{:02}T10:00:00Z", n + 1))),
        comments: if n == 0 {
            vec!["first".into(), "second".into()]
        } else {
            vec![]
        },
        feedback: (n == 1).then_some(AlertFeedback::TruePositive),
        vendor_information: SecurityVendorInformation {
            provider: Some("Wazuh".into()),
            provider_version: Some("4.7.3".into()),
            sub_provider: None,
            vendor: Some("Wazuh".into()),
        },
        ..Alert::default()
    }
}

fn tagged(tenant: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert(MOCK_TENANT_KEY.into(), json!(tenant));
    m
}

fn data() -> ProviderData {
    use AlertSeverity::*;
    use AlertStatus::*;
    let mut alerts = vec![
        alert(T1, 0, Low, NewAlert),
        alert(T1, 1, Medium, InProgress),
        alert(T1, 2, High, Resolved),
        alert(T1, 3, AlertSeverity::UnknownFutureValue, Dismissed),
        alert(T1, 4, Informational, NewAlert),
    ];
    alerts.push(alert(T2, 0, High, NewAlert));
    let users = vec![
        RiskyUser {
            id: "u-1".into(),
            risk_level: Some(RiskLevel::Medium),
            risk_state: Some(RiskState::AtRisk),
            risk_detail: Some(RiskDetail::None),
            user_principal_name: Some("alice@contoso.com".into()),
            user_display_name: Some("Alice".into()),
            additional_data: tagged(T1),
            ..RiskyUser::default()
        },
        RiskyUser {
            id: "u-2".into(),
            risk_level: Some(RiskLevel::High),
            additional_data: tagged(T2),
            ..RiskyUser::default()
        },
    ];
    let detections = vec![RiskDetection {
        id: "d-1".into(),
        risk_event_type: Some("anonymizedIPAddress".into()),
        risk_level: Some(RiskLevel::Low),
        ip_address: Some("185.220.1.2".into()),
        user_id: Some("u-1".into()),
        user_principal_name: Some("alice@contoso.com".into()),
        detected_date_time: Some(ts("2026-10-01T00:00:00Z")),
        additional_data: tagged(T1),
        ..RiskDetection::default()
    }];
    ProviderData {
        alerts,
        risky_users: users,
        risky_user_history: vec![],
        risk_detections: detections,
    }
}

struct Server {
    base: String,
    core: Arc<Core>,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start() -> Server {
    let core = Arc::new(Core::new(
        ProviderKind::Ocsf,
        vec![T1.into(), T2.into()],
        Duration::from_secs(3600),
    ));
    let app = router(core.clone(), data());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server {
        base,
        core,
        http: reqwest::Client::new(),
        task,
    }
}

impl Server {
    fn token(&self, tenant: &str) -> String {
        self.core.credentials(tenant).api_token
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        tenant: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = tenant {
            req = req.bearer_auth(self.token(t));
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let resp = tokio::time::timeout(Duration::from_secs(10), req.send())
            .await
            .expect("timely answer")
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str, tenant: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(tenant), None)
            .await
    }
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

fn uids(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["finding_info"]["uid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tokens_decide_the_tenant() {
    let s = start().await;
    let (st, body) = s
        .call(reqwest::Method::GET, "/api/v1/findings", None, None)
        .await;
    assert_eq!((st, error_code(&body)), (401, "unauthorized"));
    let resp = s
        .http
        .get(format!("{}/api/v1/findings", s.base))
        .bearer_auth("ocsf-token-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let resp = s
        .http
        .get(format!("{}/api/v1/findings", s.base))
        .header("authorization", format!("Basic {}", s.token(T1)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    let (_, t1) = s.get("/api/v1/findings", T1).await;
    let (_, t2) = s.get("/api/v1/findings", T2).await;
    assert_eq!(uids(&t1).len(), 5);
    assert_eq!(uids(&t2).len(), 1);
    // Another tenant's finding is not found.
    let other = &uids(&t2)[0];
    let (st, body) = s.get(&format!("/api/v1/findings/{other}"), T1).await;
    assert_eq!((st, error_code(&body)), (404, "not_found"));
}

#[tokio::test]
async fn paging_walks_newest_first_without_repeats() {
    let s = start().await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/findings?limit=2".to_owned();
    loop {
        let (st, body) = s.get(&path, T1).await;
        assert_eq!(st, 200, "{body}");
        seen.extend(uids(&body));
        match body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/findings?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let (_, all) = s.get("/api/v1/findings?limit=500", T1).await;
    assert_eq!(seen, uids(&all));
    let times: Vec<i64> = all["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["time"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert_eq!(all["next_cursor"], Value::Null);
}

#[tokio::test]
async fn filters_narrow() {
    let s = start().await;
    let count = |v: &Value| uids(v).len();
    let (_, b) = s.get("/api/v1/findings?status_id=1", T1).await;
    assert_eq!(count(&b), 2);
    let (_, b) = s.get("/api/v1/findings?status_id=1,4", T1).await;
    assert_eq!(count(&b), 3);
    // 99 Other is ≥ every bound.
    let (_, b) = s.get("/api/v1/findings?severity_id_gte=4", T1).await;
    let sev: Vec<i64> = b["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity_id"].as_i64().unwrap())
        .collect();
    assert_eq!(sev, vec![99, 4]);
    let from = ts("2026-10-02T10:00:00Z").epoch_millis();
    let to = ts("2026-10-04T10:00:00Z").epoch_millis();
    let (_, b) = s
        .get(
            &format!("/api/v1/findings?time_gte={from}&time_lt={to}"),
            T1,
        )
        .await;
    assert_eq!(count(&b), 2);
}

#[tokio::test]
async fn cursors_are_tamper_evident_and_bound() {
    let s = start().await;
    let (_, b) = s.get("/api/v1/findings?limit=1&status_id=1", T1).await;
    let c = b["next_cursor"].as_str().unwrap().to_owned();
    let ok = s
        .get(
            &format!("/api/v1/findings?limit=1&status_id=1&cursor={c}"),
            T1,
        )
        .await;
    assert_eq!(ok.0, 200);
    let mut tampered = c.clone().into_bytes();
    tampered[4] = if tampered[4] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    for path in [
        format!("/api/v1/findings?limit=1&status_id=1&cursor={tampered}"),
        format!("/api/v1/findings?limit=1&status_id=2&cursor={c}"),
        "/api/v1/findings?limit=1&cursor=garbage".to_owned(),
        format!("/api/v1/identity/users?cursor={c}"),
    ] {
        let (st, body) = s.get(&path, T1).await;
        assert_eq!((st, error_code(&body)), (400, "invalid_cursor"), "{path}");
    }
    let (st, body) = s
        .get(
            &format!("/api/v1/findings?limit=1&status_id=1&cursor={c}"),
            T2,
        )
        .await;
    assert_eq!((st, error_code(&body)), (400, "invalid_cursor"));
}

#[tokio::test]
async fn bad_queries_are_refused_in_the_envelope() {
    let s = start().await;
    for q in [
        "limit=0",
        "limit=501",
        "limit=abc",
        "limit=-1",
        "status_id=x",
        "status_id=1,,2",
        "severity_id_gte=high",
        "time_gte=1.5",
        "top=5",
        "limit=1&limit=2",
        "limit=99999999999999999999999",
    ] {
        let (st, body) = s.get(&format!("/api/v1/findings?{q}"), T1).await;
        assert_eq!((st, error_code(&body)), (400, "bad_request"), "{q}: {body}");
    }
    let (st, body) = s.get("/api/v1/nothing/here", T1).await;
    assert_eq!((st, error_code(&body)), (404, "not_found"));
    let (st, body) = s
        .call(reqwest::Method::DELETE, "/api/v1/findings", Some(T1), None)
        .await;
    assert_eq!((st, error_code(&body)), (405, "method_not_allowed"));
}

#[tokio::test]
async fn findings_are_rendered_natively() {
    let s = start().await;
    let (_, all) = s.get("/api/v1/findings?limit=500", T1).await;
    let by_title = |t: &str| {
        all["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["finding_info"]["title"] == t)
            .unwrap()
            .clone()
    };
    let f0 = by_title("alert 0");
    assert_eq!(f0["class_uid"], 2004);
    assert_eq!(f0["category_uid"], 2);
    assert_eq!(f0["activity_id"], 1);
    assert_eq!(f0["type_uid"], 200_401);
    assert_eq!(f0["severity_id"], 2);
    assert_eq!(f0["status_id"], 1);
    assert_eq!(f0["comment"], "first\n---\nsecond");
    assert_eq!(f0["time"], ts("2026-10-01T10:00:00Z").epoch_millis());
    assert_eq!(f0["time_dt"], "2026-10-01T10:00:00Z");
    assert_eq!(f0["metadata"]["product"]["name"], "Wazuh");
    assert_eq!(f0["metadata"]["version"], "1.3.0");
    assert_eq!(f0["metadata"]["tenant_uid"], T1);
    assert!(f0.get("verdict_id").is_none());
    assert!(!f0.to_string().contains(MOCK_TENANT_KEY));
    let f1 = by_title("alert 1");
    assert_eq!(
        (f1["verdict_id"].clone(), f1["verdict"].clone()),
        (json!(2), json!("True Positive"))
    );
    let f2 = by_title("alert 2");
    assert_eq!(
        (f2["status_id"].clone(), f2["activity_id"].clone()),
        (json!(4), json!(3))
    );
    assert_eq!(by_title("alert 3")["status"], "Suppressed");
}

#[tokio::test]
async fn patch_applies_advances_and_records() {
    let s = start().await;
    let (_, all) = s.get("/api/v1/findings?status_id=1&limit=1", T1).await;
    let uid = uids(&all)[0].clone();
    let before = all["findings"][0]["finding_info"]["modified_time"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/findings/{uid}");
    let body = r#"{"status_id":4,"comment":"done","assignee":{"name":"bob@x.io","email_addr":"bob@x.io"},"tags":["HVA"],"verdict_id":5}"#;
    let (st, f) = s
        .call(reqwest::Method::PATCH, &path, Some(T1), Some(body))
        .await;
    assert_eq!(st, 200, "{f}");
    assert_eq!(f["status_id"], 4);
    assert_eq!(f["status"], "Resolved");
    assert_eq!(f["activity_id"], 3);
    assert_eq!(f["type_uid"], 200_403);
    assert_eq!(f["verdict"], "Benign");
    assert_eq!(f["comment"], "done");
    assert_eq!(f["assignee"]["email_addr"], "bob@x.io");
    assert_eq!(f["metadata"]["labels"], json!(["HVA"]));
    let after = f["finding_info"]["modified_time"].as_i64().unwrap();
    assert!(after > before);
    // It stays changed.
    let (_, again) = s.get(&path, T1).await;
    assert_eq!(again, f);
    // The list asked before the change answers it too (kept list answers are dropped).
    let (_, relisted) = s.get("/api/v1/findings?status_id=1&limit=1", T1).await;
    assert_ne!(uids(&relisted)[0], uid);

    let writes = s.core.recorder.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].tenant_id, T1);
    assert_eq!(writes[0].method, "PATCH");
    assert_eq!(writes[0].path, path);
    assert_eq!(writes[0].body, serde_json::from_str::<Value>(body).unwrap());

    // Update without a close, clearing assignee and comment.
    let (st, f) = s
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(T1),
            Some(r#"{"status_id":2,"assignee":null,"comment":""}"#),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(f["activity_id"], 2);
    assert!(f.get("assignee").is_none() && f.get("comment").is_none());
    assert!(f["finding_info"]["modified_time"].as_i64().unwrap() > after);
}

#[tokio::test]
async fn bad_patches_change_nothing_and_are_not_recorded() {
    let s = start().await;
    let (_, all) = s.get("/api/v1/findings?limit=1", T1).await;
    let uid = uids(&all)[0].clone();
    let path = format!("/api/v1/findings/{uid}");
    for body in [
        "{}",
        "[]",
        "not json",
        r#"{"status_id":7}"#,
        r#"{"status_id":"4"}"#,
        r#"{"verdict_id":11}"#,
        r#"{"severity_id":5}"#,
        r#"{"comment":5}"#,
        r#"{"assignee":"bob"}"#,
        r#"{"assignee":{}}"#,
        r#"{"tags":["a",1]}"#,
        r#"{"status_id":4,"bogus":1}"#,
    ] {
        let (st, resp) = s
            .call(reqwest::Method::PATCH, &path, Some(T1), Some(body))
            .await;
        assert_eq!((st, error_code(&resp)), (400, "bad_request"), "{body}");
    }
    let (st, resp) = s
        .call(
            reqwest::Method::PATCH,
            "/api/v1/findings/nope",
            Some(T1),
            Some(r#"{"status_id":2}"#),
        )
        .await;
    assert_eq!((st, error_code(&resp)), (404, "not_found"));
    let (_, unchanged) = s.get(&path, T1).await;
    assert_eq!(unchanged, all["findings"][0]);
    assert!(s.core.recorder.writes().is_empty());
}

#[tokio::test]
async fn identity_users_detections_and_actions() {
    let s = start().await;
    let (st, users) = s.get("/api/v1/identity/users", T1).await;
    assert_eq!(st, 200);
    assert_eq!(users["users"].as_array().unwrap().len(), 1);
    let u = &users["users"][0];
    assert_eq!(u["uid"], "u-1");
    assert_eq!(u["email_addr"], "alice@contoso.com");
    assert_eq!(u["risk_level_id"], 2);
    assert_eq!(u["unmapped"]["risk_state"], "atRisk");
    assert!(u.get("vigilMockTenantId").is_none());

    let (st, _) = s.get("/api/v1/identity/users/u-2", T1).await;
    assert_eq!(st, 404, "another tenant's user");

    let (_, det) = s.get("/api/v1/identity/detections", T1).await;
    let d = &det["findings"][0];
    assert_eq!(
        d["finding_info"]["types"],
        json!(["Identity Risk", "anonymizedIPAddress"])
    );
    assert_eq!(d["evidences"][0]["user"]["uid"], "u-1");
    assert_eq!(d["evidences"][0]["src_endpoint"]["ip"], "185.220.1.2");
    assert_eq!(d["risk_level_id"], 1);

    let path = "/api/v1/identity/users/u-1/risk";
    let (st, u) = s
        .call(
            reqwest::Method::POST,
            path,
            Some(T1),
            Some(r#"{"action":"confirm_compromised"}"#),
        )
        .await;
    assert_eq!(st, 200, "{u}");
    assert_eq!(u["risk_level_id"], 3);
    assert_eq!(u["unmapped"]["risk_state"], "confirmedCompromised");
    assert_eq!(
        u["unmapped"]["risk_detail"],
        "adminConfirmedUserCompromised"
    );
    let (_, got) = s.get("/api/v1/identity/users/u-1", T1).await;
    assert_eq!(got, u);
    for bad in [
        r#"{"action":"nuke"}"#,
        r#"{}"#,
        r#"{"action":"dismiss","x":1}"#,
        "[]",
    ] {
        let (st, b) = s
            .call(reqwest::Method::POST, path, Some(T1), Some(bad))
            .await;
        assert_eq!((st, error_code(&b)), (400, "bad_request"), "{bad}");
    }
    let (st, _) = s
        .call(
            reqwest::Method::POST,
            "/api/v1/identity/users/u-2/risk",
            Some(T1),
            Some(r#"{"action":"dismiss"}"#),
        )
        .await;
    assert_eq!(st, 404);
    let writes = s.core.recorder.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(
        (
            writes[0].method.as_str(),
            writes[0].path.as_str(),
            &writes[0].body
        ),
        ("POST", path, &json!({"action":"confirm_compromised"}))
    );
}

#[tokio::test]
async fn odd_input_never_breaks_the_server() {
    let s = start().await;
    for path in [
        "/api/v1/findings/%FF%FE",
        "/api/v1/findings/%00",
        "/api/v1/findings/a%2Fb",
        "/api/v1/findings?%%%=1",
        "/api/v1/findings?cursor=v1.%FF.00",
        "/api/v1/identity/users/%E2%82",
    ] {
        let (st, _) = s.get(path, T1).await;
        assert!((400..500).contains(&st), "{path}: {st}");
    }
    // Still serving.
    assert_eq!(s.get("/api/v1/findings", T1).await.0, 200);
}
