//! The Falcon adapter against the Falcon mock (`vigil_mock`, real HTTP on an ephemeral port):
//! paging to the end, push-down asserted on the FQL the mock received, get, updates asserted on
//! the PATCH bodies the mock recorded (and idempotent retries), token refresh, rejected
//! credentials and injected faults.

use crate::support::{assert_names, bounded};
use std::collections::HashSet;
use vigil_mock::{Faults, MockConfig, MockProvider, ProviderKind};
use vigil_model::{Alert, AlertFeedback, AlertSeverity, AlertStatus, Timestamp};
use vigil_providers::falcon::{FalconConfig, FalconCredentials, FalconProvider};
use vigil_providers::http::HttpConfig;
use vigil_providers::{AlertChange, ListRequest, Provider, ProviderErrorKind, PushDown, Secret};

const NAME: &str = "falcon";

fn config(mock: &MockProvider, tenant: &str) -> FalconConfig {
    let creds = mock.credentials(tenant);
    FalconConfig {
        name: NAME.into(),
        tenant_id: tenant.into(),
        base_url: mock.base_url(),
        credentials: FalconCredentials {
            client_id: creds.client_id,
            client_secret: Secret::new(creds.client_secret),
        },
        http: HttpConfig::default(),
        member_cid: None,
    }
}

struct Fixture {
    mock: MockProvider,
    tenant: String,
    falcon: FalconProvider,
}

async fn fixture_with(cfg: MockConfig) -> Fixture {
    let mock = MockProvider::start(ProviderKind::Falcon, cfg)
        .await
        .expect("falcon mock starts");
    let tenant = mock.tenants()[0].clone();
    let falcon = FalconProvider::new(config(&mock, &tenant)).unwrap();
    Fixture {
        mock,
        tenant,
        falcon,
    }
}

async fn fixture() -> Fixture {
    fixture_with(MockConfig::default()).await
}

/// The scenario's alerts of the tenant (what the mock serves it).
fn expected(f: &Fixture) -> Vec<Alert> {
    f.mock
        .scenario()
        .data(ProviderKind::Falcon)
        .alerts
        .iter()
        .filter(|a| a.azure_tenant_id == f.tenant)
        .cloned()
        .collect()
}

/// Every page of a listing; fails on a repeated id. Returns the alerts and the page count.
async fn list_all(
    p: &FalconProvider,
    page_size: usize,
    push_down: PushDown,
) -> (Vec<Alert>, usize) {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let req = ListRequest {
            page_size,
            cursor: cursor.take(),
            push_down: push_down.clone(),
            ..ListRequest::default()
        };
        let page = p.list_alerts(&req).await.unwrap();
        pages += 1;
        assert!(pages < 10_000, "paging does not end");
        for a in page.items {
            assert!(seen.insert(a.id.clone()), "repeated id {}", a.id);
            out.push(a);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return (out, pages),
        }
    }
}

/// The `filter` parameters of the ids queries the mock received.
fn recorded_filters(mock: &MockProvider) -> Vec<Option<String>> {
    mock.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/alerts/queries/alerts/v2"))
        .map(|r| {
            let url = url::Url::parse(&format!("http://mock{}", r.path)).unwrap();
            url.query_pairs()
                .find(|(k, _)| k == "filter")
                .map(|(_, v)| v.into_owned())
        })
        .collect()
}

#[tokio::test]
async fn lists_every_alert_of_the_tenant_once_in_order() {
    bounded("falcon list", async {
        let f = fixture().await;
        let want = expected(&f);
        let (got, pages) = list_all(&f.falcon, 37, PushDown::default()).await;
        assert_eq!(got.len(), want.len());
        assert_eq!(pages, want.len().div_ceil(37));
        let want_ids: HashSet<&str> = want.iter().map(|a| a.id.as_str()).collect();
        assert!(got.iter().all(|a| want_ids.contains(a.id.as_str())));
        // Newest first, as the adapter asks.
        let created: Vec<_> = got.iter().map(|a| a.created_date_time.unwrap()).collect();
        assert!(created.windows(2).all(|w| w[0] >= w[1]));
        for a in &got {
            assert_eq!(a.azure_tenant_id, f.tenant);
            assert_eq!(a.vendor_information.provider.as_deref(), Some("Falcon"));
            assert_eq!(a.vendor_information.vendor.as_deref(), Some("CrowdStrike"));
            assert_ne!(a.severity, AlertSeverity::Unknown);
            assert!(a.title.is_some());
        }
        // The mapped values agree with what the scenario generated, through the native format.
        for a in &got {
            let src = want.iter().find(|w| w.id == a.id).unwrap();
            assert_eq!(a.severity, src.severity, "{}", a.id);
            assert_eq!(a.status, src.status, "{}", a.id);
            assert_eq!(a.feedback, src.feedback, "{}", a.id);
            assert_eq!(a.created_date_time, src.created_date_time, "{}", a.id);
            assert_eq!(a.comments, src.comments, "{}", a.id);
            assert_eq!(a.tags, src.tags, "{}", a.id);
        }
        // Every page: one ids query, one entities fetch.
        let requests = f.mock.requests();
        let posts = requests
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/alerts/entities/alerts/v2")
            .count();
        assert_eq!(posts, pages);
        // Another tenant's adapter sees none of these.
        let other = f.mock.tenants()[1].clone();
        let other_falcon = FalconProvider::new(config(&f.mock, &other)).unwrap();
        let (theirs, _) = list_all(&other_falcon, 1000, PushDown::default()).await;
        assert!(!theirs.is_empty());
        assert!(theirs.iter().all(|a| !want_ids.contains(a.id.as_str())));
    })
    .await;
}

#[tokio::test]
async fn push_down_narrows_at_the_source() {
    bounded("falcon push-down", async {
        let f = fixture().await;
        let want = expected(&f);
        let from = {
            let mut times: Vec<Timestamp> =
                want.iter().filter_map(|a| a.created_date_time).collect();
            times.sort();
            times[times.len() / 2]
        };
        let pd = PushDown {
            statuses: vec![AlertStatus::InProgress, AlertStatus::NewAlert],
            severities: vec![AlertSeverity::High],
            created_from: Some(from),
            created_before: None,
        };
        f.mock.clear_records();
        let (got, _) = list_all(&f.falcon, 1000, pd).await;
        let matching: Vec<&Alert> = want
            .iter()
            .filter(|a| {
                matches!(a.status, AlertStatus::InProgress | AlertStatus::NewAlert)
                    && a.severity == AlertSeverity::High
                    && a.created_date_time.is_some_and(|c| c >= from)
            })
            .collect();
        assert!(!matching.is_empty());
        assert!(matching.len() < want.len() / 2, "the filter must narrow");
        assert_eq!(got.len(), matching.len());
        assert_eq!(
            recorded_filters(&f.mock),
            vec![Some(format!(
                "status:['in_progress','new','reopened']+severity:>=70+created_timestamp:>='{}'",
                from.to_wire()
            ))]
        );

        // Severities that FQL cannot express exactly are widened, never narrowed too far.
        f.mock.clear_records();
        let pd = PushDown {
            severities: vec![AlertSeverity::Low, AlertSeverity::High],
            ..PushDown::default()
        };
        let (got, _) = list_all(&f.falcon, 1000, pd).await;
        assert_eq!(
            recorded_filters(&f.mock),
            vec![Some("severity:>=20".to_string())]
        );
        let wanted = want
            .iter()
            .filter(|a| matches!(a.severity, AlertSeverity::Low | AlertSeverity::High))
            .count();
        assert!(got.len() >= wanted);
    })
    .await;
}

#[tokio::test]
async fn get_known_unknown_and_foreign_ids() {
    bounded("falcon get", async {
        let f = fixture().await;
        let want = expected(&f);
        let src = &want[0];
        let got = f.falcon.get_alert(&src.id).await.unwrap().unwrap();
        assert_eq!(got.id, src.id);
        assert_eq!(got.title, src.title);
        assert_eq!(got.severity, src.severity);
        assert_eq!(got.status, src.status);
        assert!(got.additional_data.contains_key("falconSeverity"));
        assert_eq!(got.source_materials.len(), 1);
        assert!(
            f.falcon
                .get_alert("00000000000000000000000000000000:ind:x:1")
                .await
                .unwrap()
                .is_none()
        );
        assert!(f.falcon.get_alert("").await.unwrap().is_none());
        let foreign = f
            .mock
            .scenario()
            .data(ProviderKind::Falcon)
            .alerts
            .iter()
            .find(|a| a.azure_tenant_id != f.tenant)
            .unwrap()
            .id
            .clone();
        assert!(f.falcon.get_alert(&foreign).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn update_sends_exactly_the_difference_and_retries_are_harmless() {
    bounded("falcon update", async {
        let f = fixture().await;
        let target = expected(&f)
            .into_iter()
            .find(|a| {
                a.status == AlertStatus::NewAlert
                    && a.feedback.is_none()
                    && a.assigned_to.is_none()
                    && a.comments.is_empty()
            })
            .expect("an untouched new alert");
        let id = target.id.clone();
        let before = f.falcon.get_alert(&id).await.unwrap().unwrap();
        let mut tags = before.tags.clone();
        tags.push("vigil-test".into());
        let change = AlertChange {
            status: Some(AlertStatus::Resolved),
            assigned_to: Some(Some("alice@contoso.com".into())),
            feedback: Some(AlertFeedback::TruePositive),
            tags: Some(tags.clone()),
            comments: Some(vec!["first note".into()]),
            ..AlertChange::default()
        };
        f.mock.clear_records();
        f.falcon.update_alert(&id, &change).await.unwrap();
        let writes = f.mock.writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].tenant_id, f.tenant);
        assert_eq!(writes[0].method, "PATCH");
        assert_eq!(writes[0].path, "/alerts/entities/alerts/v3");
        assert_eq!(
            writes[0].body,
            serde_json::json!({
                "composite_ids": [id],
                "action_parameters": [
                    {"name": "update_status", "value": "closed"},
                    {"name": "assign_to_user_id", "value": "alice@contoso.com"},
                    {"name": "add_tag", "value": "true_positive"},
                    {"name": "add_tag", "value": "vigil-test"},
                    {"name": "append_comment", "value": "first note"}
                ]
            })
        );
        let after = f.falcon.get_alert(&id).await.unwrap().unwrap();
        assert_eq!(after.status, AlertStatus::Resolved);
        assert_eq!(after.assigned_to.as_deref(), Some("alice@contoso.com"));
        assert_eq!(after.feedback, Some(AlertFeedback::TruePositive));
        assert_eq!(after.tags, tags);
        assert_eq!(after.comments, vec!["first note".to_string()]);
        assert!(after.closed_date_time.is_some());
        assert!(after.last_modified_date_time > before.last_modified_date_time);

        // A retried delivery of the same change writes nothing.
        f.falcon.update_alert(&id, &change).await.unwrap();
        assert_eq!(f.mock.writes().len(), 1);

        // A later change appends only the new comment; dismiss keeps the verdict; unassign.
        let change = AlertChange {
            status: Some(AlertStatus::Dismissed),
            assigned_to: Some(None),
            comments: Some(vec!["first note".into(), "second".into()]),
            ..AlertChange::default()
        };
        f.falcon.update_alert(&id, &change).await.unwrap();
        let writes = f.mock.writes();
        assert_eq!(writes.len(), 2);
        assert_eq!(
            writes[1].body["action_parameters"],
            serde_json::json!([
                {"name": "unassign", "value": ""},
                {"name": "add_tag", "value": "vigil/status/dismissed"},
                {"name": "append_comment", "value": "second"}
            ])
        );
        let after = f.falcon.get_alert(&id).await.unwrap().unwrap();
        assert_eq!(after.status, AlertStatus::Dismissed);
        assert_eq!(after.assigned_to, None);
        assert_eq!(
            after.comments,
            vec!["first note".to_string(), "second".to_string()]
        );
        assert_eq!(after.feedback, Some(AlertFeedback::TruePositive));
        assert!(!after.tags.iter().any(|t| t.starts_with("vigil/")));

        // Reopen: Falcon's word for a closed alert made new again.
        let reopen = AlertChange {
            status: Some(AlertStatus::NewAlert),
            ..AlertChange::default()
        };
        f.falcon.update_alert(&id, &reopen).await.unwrap();
        assert_eq!(
            f.mock.writes()[2].body["action_parameters"],
            serde_json::json!([
                {"name": "update_status", "value": "reopened"},
                {"name": "remove_tag", "value": "vigil/status/dismissed"}
            ])
        );
        let after = f.falcon.get_alert(&id).await.unwrap().unwrap();
        assert_eq!(after.status, AlertStatus::NewAlert);
        assert_eq!(after.additional_data["falconStatus"], "reopened");

        // Unknown id: not found, nothing written. Unwritable value: bad request, nothing written.
        let err = f
            .falcon
            .update_alert("00000000000000000000000000000000:ind:x:1", &reopen)
            .await
            .unwrap_err();
        assert!(matches!(err.kind, ProviderErrorKind::NotFound), "{err}");
        let err = f
            .falcon
            .update_alert(
                &id,
                &AlertChange {
                    status: Some(AlertStatus::Unknown),
                    ..AlertChange::default()
                },
            )
            .await
            .unwrap_err();
        assert_names(&err, NAME, "cannot be written");
        assert_eq!(f.mock.writes().len(), 3);
    })
    .await;
}

#[tokio::test]
async fn expired_token_is_refreshed_once_and_bad_secret_is_unauthorized() {
    bounded("falcon tokens", async {
        let f = fixture().await;
        let req = ListRequest {
            page_size: 5,
            ..ListRequest::default()
        };
        f.falcon.list_alerts(&req).await.unwrap();
        assert_eq!(f.mock.tokens_issued(), 1);
        f.falcon.list_alerts(&req).await.unwrap();
        assert_eq!(f.mock.tokens_issued(), 1, "the token is cached");
        f.mock.expire_tokens();
        let page = f.falcon.list_alerts(&req).await.unwrap();
        assert_eq!(page.items.len(), 5);
        assert_eq!(f.mock.tokens_issued(), 2, "exactly one refresh");

        let mut cfg = config(&f.mock, &f.tenant);
        cfg.credentials.client_secret = Secret::new("wrong");
        let bad = FalconProvider::new(cfg).unwrap();
        let err = bad.list_alerts(&req).await.unwrap_err();
        assert!(
            matches!(err.kind, ProviderErrorKind::Unauthorized(_)),
            "{err}"
        );
        assert_names(&err, NAME, "invalid client");
        let health = bad.health().await;
        assert!(!health.healthy);
        assert!(health.detail.unwrap().contains("credentials rejected"));
        assert!(f.falcon.health().await.healthy);
    })
    .await;
}

#[tokio::test]
async fn invalid_cursor_is_refused_without_a_call() {
    bounded("falcon cursor", async {
        let f = fixture().await;
        let req = ListRequest {
            page_size: 5,
            cursor: Some("eyJvZmZzZXQiOjV9".into()),
            ..ListRequest::default()
        };
        let err = f.falcon.list_alerts(&req).await.unwrap_err();
        assert!(
            matches!(err.kind, ProviderErrorKind::InvalidCursor(_)),
            "{err}"
        );
        assert_eq!(err.provider, NAME);
        assert!(f.mock.requests().is_empty());
        // A cursor past the end is an empty last page.
        let req = ListRequest {
            page_size: 5,
            cursor: Some("100000".into()),
            ..ListRequest::default()
        };
        let page = f.falcon.list_alerts(&req).await.unwrap();
        assert!(page.items.is_empty() && page.next_cursor.is_none());
    })
    .await;
}

#[tokio::test]
async fn injected_faults_become_typed_errors_naming_the_provider() {
    bounded("falcon faults", async {
        let f = fixture().await;
        let req = ListRequest {
            page_size: 5,
            ..ListRequest::default()
        };
        // Get a token first, so the faults hit the alerts API itself.
        f.falcon.list_alerts(&req).await.unwrap();

        f.mock.set_faults(Faults {
            error_rate: 1.0,
            error_status: 500,
            ..Faults::none()
        });
        let err = f.falcon.list_alerts(&req).await.unwrap_err();
        assert!(
            matches!(err.kind, ProviderErrorKind::Upstream { status: 500, .. }),
            "{err}"
        );
        assert_names(&err, NAME, "500");
        assert!(err.is_transient());

        f.mock.set_faults(Faults {
            malformed_rate: 1.0,
            ..Faults::none()
        });
        let err = f.falcon.get_alert(&expected(&f)[0].id).await.unwrap_err();
        assert!(matches!(err.kind, ProviderErrorKind::Decode(_)), "{err}");
        assert_names(&err, NAME, "unreadable");

        f.mock.set_faults(Faults {
            throttle_rate: 1.0,
            retry_after_secs: 30,
            ..Faults::none()
        });
        let err = f.falcon.list_alerts(&req).await.unwrap_err();
        assert!(
            matches!(err.kind, ProviderErrorKind::Throttled { .. }),
            "{err}"
        );
        assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(30)));

        f.mock.set_faults(Faults::none());
        assert_eq!(f.falcon.list_alerts(&req).await.unwrap().items.len(), 5);
    })
    .await;
}

#[tokio::test]
async fn a_large_page_is_fetched_in_batches_of_1000_in_order() {
    bounded("falcon batches", async {
        let f = fixture_with(MockConfig {
            alerts_per_tenant: 1100,
            tenants: MockConfig::default().tenants.into_iter().take(1).collect(),
            ..MockConfig::default()
        })
        .await;
        let total = expected(&f).len();
        assert!(total > 1000);
        f.mock.clear_records();
        let page = f
            .falcon
            .list_alerts(&ListRequest {
                page_size: 5000,
                ..ListRequest::default()
            })
            .await
            .unwrap();
        assert_eq!(page.items.len(), total);
        assert_eq!(page.next_cursor, None);
        let posts = f
            .mock
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/alerts/entities/alerts/v2")
            .count();
        assert_eq!(posts, total.div_ceil(1000));
        let created: Vec<_> = page
            .items
            .iter()
            .map(|a| a.created_date_time.unwrap())
            .collect();
        assert!(
            created.windows(2).all(|w| w[0] >= w[1]),
            "order of the ids is kept"
        );
    })
    .await;
}
