//! The Graph adapter against the Graph mock (`vigil_mock`, real HTTP on an ephemeral port):
//! paging, get, update and identity calls asserted on what the mock recorded, tokens, and every
//! fault the mock can inject.

use crate::support::{assert_names, bounded};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use vigil_mock::{Drip, Faults, MockConfig, MockProvider, ProviderKind};
use vigil_model::alert::SecurityVendorInformation;
use vigil_model::{Alert, AlertFeedback, AlertStatus, RiskDetail, RiskState};
use vigil_providers::graph::{ApiVersion, GraphConfig, GraphProvider};
use vigil_providers::http::HttpConfig;
use vigil_providers::oauth2::ClientCredentials;
use vigil_providers::{
    AlertChange, ListRequest, Page, Provider, ProviderErrorKind, RiskyUserAction, Secret,
};

const NAME: &str = "defender";

struct Fixture {
    mock: MockProvider,
    tenant: String,
    graph: GraphProvider,
}

fn config(mock: &MockProvider, tenant: &str, version: ApiVersion, http: HttpConfig) -> GraphConfig {
    let creds = mock.credentials(tenant);
    GraphConfig {
        name: NAME.into(),
        tenant_id: tenant.into(),
        base_url: mock.base_url(),
        api_version: version,
        credentials: ClientCredentials {
            token_url: format!("{}/{tenant}/oauth2/v2.0/token", mock.base_url()),
            client_id: creds.client_id,
            client_secret: Secret::new(creds.client_secret),
            scope: None,
        },
        http,
        vendor: None,
        product: None,
    }
}

async fn fixture_with(version: ApiVersion, http: HttpConfig) -> Fixture {
    let mock = MockProvider::start(ProviderKind::Graph, MockConfig::default())
        .await
        .expect("graph mock starts");
    let tenant = mock.tenants()[0].clone();
    let graph = GraphProvider::new(config(&mock, &tenant, version, http)).unwrap();
    Fixture {
        mock,
        tenant,
        graph,
    }
}

async fn fixture() -> Fixture {
    fixture_with(ApiVersion::V1, HttpConfig::default()).await
}

/// Lists every page; fails on a repeated id.
async fn list_all<T>(
    mut next: impl AsyncFnMut(Option<String>) -> Page<T>,
    id: impl Fn(&T) -> String,
) -> (Vec<T>, usize) {
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = next(cursor.take()).await;
        pages += 1;
        assert!(pages < 1000, "paging does not end");
        for item in page.items {
            assert!(seen.insert(id(&item)), "repeated id {}", id(&item));
            items.push(item);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return (items, pages),
        }
    }
}

fn page_of(size: usize, cursor: Option<String>) -> ListRequest {
    ListRequest {
        page_size: size,
        cursor,
        ..ListRequest::default()
    }
}

#[tokio::test]
async fn lists_alerts_page_by_page_to_the_end() {
    bounded("list alerts", async {
        let f = fixture().await;
        let expected: HashSet<String> = f
            .mock
            .scenario()
            .data(ProviderKind::Graph)
            .alerts_of(&f.tenant)
            .map(|a| a.id.clone())
            .collect();
        assert!(expected.len() > 100, "scenario too small to page");
        let (alerts, pages) = list_all(
            async |c| f.graph.list_alerts(&page_of(40, c)).await.unwrap(),
            |a: &Alert| a.id.clone(),
        )
        .await;
        assert_eq!(alerts.len(), expected.len());
        assert_eq!(
            alerts.iter().map(|a| a.id.clone()).collect::<HashSet<_>>(),
            expected
        );
        assert_eq!(pages, expected.len().div_ceil(40));
        assert!(alerts.iter().all(|a| a.azure_tenant_id == f.tenant));
        // One token for the whole walk.
        assert_eq!(f.mock.tokens_issued(), 1);
        let first = f
            .mock
            .requests()
            .into_iter()
            .find(|r| r.path.contains("/security/alerts"))
            .unwrap();
        assert_eq!(first.method, "GET");
        assert!(
            first.path.starts_with("/v1.0/security/alerts?$top=40"),
            "{}",
            first.path
        );
    })
    .await;
}

#[tokio::test]
async fn beta_and_page_size_clamping() {
    bounded("beta", async {
        let f = fixture_with(ApiVersion::Beta, HttpConfig::default()).await;
        let count = f
            .mock
            .scenario()
            .data(ProviderKind::Graph)
            .alerts_of(&f.tenant)
            .count();
        let page = f.graph.list_alerts(&page_of(50_000, None)).await.unwrap();
        assert_eq!(page.items.len(), count.min(1000));
        let paths: Vec<String> = f.mock.requests().into_iter().map(|r| r.path).collect();
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with("/beta/security/alerts?$top=1000")),
            "{paths:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn filter_and_orderby_are_passed_to_graph() {
    bounded("filter", async {
        let f = fixture().await;
        let high = f
            .mock
            .scenario()
            .data(ProviderKind::Graph)
            .alerts_of(&f.tenant)
            .filter(|a| a.severity == vigil_model::AlertSeverity::High)
            .count();
        assert!(high > 0);
        let req = |c| ListRequest {
            page_size: 25,
            cursor: c,
            odata_filter: Some("severity eq 'high'".into()),
            odata_orderby: Some("createdDateTime desc".into()),
            ..ListRequest::default()
        };
        let (alerts, _) = list_all(
            async |c| f.graph.list_alerts(&req(c)).await.unwrap(),
            |a: &Alert| a.id.clone(),
        )
        .await;
        assert_eq!(alerts.len(), high);
        assert!(
            alerts
                .iter()
                .all(|a| a.severity == vigil_model::AlertSeverity::High)
        );
        let created: Vec<_> = alerts.iter().map(|a| a.created_date_time).collect();
        assert!(
            created.windows(2).all(|w| w[0] >= w[1]),
            "not in descending order"
        );
        // A filter Graph rejects is an upstream 400 naming the provider.
        let e = f
            .graph
            .list_alerts(&ListRequest {
                odata_filter: Some("noSuchProperty eq 1".into()),
                ..ListRequest::default()
            })
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind, ProviderErrorKind::Upstream { status: 400, .. }),
            "{e}"
        );
        assert_names(&e, NAME, "400");
    })
    .await;
}

#[tokio::test]
async fn get_known_unknown_and_other_tenants_alerts() {
    bounded("get", async {
        let f = fixture().await;
        let data = f.mock.scenario().data(ProviderKind::Graph);
        let known = data.alerts_of(&f.tenant).next().unwrap().clone();
        let got = f.graph.get_alert(&known.id).await.unwrap().unwrap();
        assert_eq!(got.id, known.id);
        assert_eq!(got.title, known.title);
        assert_eq!(got.vendor_information, known.vendor_information);
        assert_eq!(f.graph.get_alert("no-such-alert").await.unwrap(), None);
        assert_eq!(f.graph.get_alert("").await.unwrap(), None);
        // An id cannot escape its path segment.
        assert_eq!(f.graph.get_alert("../riskyUsers").await.unwrap(), None);
        // Credentials are per tenant: another tenant's alert is not found.
        let other = f.mock.tenants()[1].clone();
        let foreign = data.alerts_of(&other).next().unwrap();
        assert_eq!(f.graph.get_alert(&foreign.id).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn update_sends_exactly_the_change() {
    bounded("update", async {
        let f = fixture().await;
        let id = f
            .mock
            .scenario()
            .data(ProviderKind::Graph)
            .alerts_of(&f.tenant)
            .next()
            .unwrap()
            .id
            .clone();
        let before = f.graph.get_alert(&id).await.unwrap().unwrap();
        let vendor = before.vendor_information.clone();
        let change = AlertChange {
            status: Some(AlertStatus::Resolved),
            assigned_to: Some(Some("analyst@contoso.com".into())),
            closed_date_time: Some(Some("2026-05-01T10:00:00Z".parse().unwrap())),
            comments: Some(vec!["Closed in MCAS".into(), "second".into()]),
            feedback: Some(AlertFeedback::TruePositive),
            tags: Some(vec!["vigil".into()]),
            vendor_information: vendor.clone(),
        };
        f.mock.clear_records();
        f.graph.update_alert(&id, &change).await.unwrap();
        let writes = f.mock.writes();
        assert_eq!(writes.len(), 1, "{writes:?}");
        let w = &writes[0];
        assert_eq!(w.method, "PATCH");
        assert_eq!(w.tenant_id, f.tenant);
        assert_eq!(w.path, format!("/v1.0/security/alerts/{id}"));
        let mut vendor_json = serde_json::Map::new();
        vendor_json.insert("provider".into(), vendor.provider.clone().unwrap().into());
        if let Some(v) = &vendor.provider_version {
            vendor_json.insert("providerVersion".into(), v.clone().into());
        }
        if let Some(v) = &vendor.sub_provider {
            vendor_json.insert("subProvider".into(), v.clone().into());
        }
        vendor_json.insert("vendor".into(), vendor.vendor.clone().unwrap().into());
        assert_eq!(
            w.body,
            serde_json::json!({
                "assignedTo": "analyst@contoso.com",
                "closedDateTime": "2026-05-01T10:00:00Z",
                "comments": ["Closed in MCAS", "second"],
                "feedback": "truePositive",
                "status": "resolved",
                "tags": ["vigil"],
                "vendorInformation": vendor_json,
            })
        );
        let after = f.graph.get_alert(&id).await.unwrap().unwrap();
        assert_eq!(after.status, AlertStatus::Resolved);
        assert_eq!(after.assigned_to.as_deref(), Some("analyst@contoso.com"));
        assert_eq!(after.comments, vec!["Closed in MCAS", "second"]);

        // Only what changed is sent; unassigning is an explicit null.
        f.mock.clear_records();
        let unassign = AlertChange {
            assigned_to: Some(None),
            vendor_information: vendor.clone(),
            ..AlertChange::default()
        };
        f.graph.update_alert(&id, &unassign).await.unwrap();
        let body = &f.mock.writes()[0].body;
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["assignedTo", "vendorInformation"]);
        assert_eq!(body["assignedTo"], serde_json::Value::Null);

        // The connection's own label (or any complete vendorInformation the gateway accepted)
        // is routed by the alert's own vendorInformation, which Graph requires; a fresh
        // adapter that never read the alert looks it up first.
        let labelled = AlertChange {
            status: Some(AlertStatus::InProgress),
            vendor_information: SecurityVendorInformation {
                vendor: Some("Microsoft".into()),
                provider: Some("Graph".into()),
                ..SecurityVendorInformation::default()
            },
            ..AlertChange::default()
        };
        assert_ne!(labelled.vendor_information, vendor);
        for adapter in [
            &f.graph,
            &GraphProvider::new(config(
                &f.mock,
                &f.tenant,
                ApiVersion::V1,
                HttpConfig::default(),
            ))
            .unwrap(),
        ] {
            f.mock.clear_records();
            adapter.update_alert(&id, &labelled).await.unwrap();
            let writes = f.mock.writes();
            assert_eq!(writes.len(), 1, "{writes:?}");
            assert_eq!(
                writes[0].body["vendorInformation"],
                serde_json::Value::Object(vendor_json.clone())
            );
        }

        // Unknown id: Graph's 404 is an error for a write.
        let e = f
            .graph
            .update_alert("no-such-alert", &unassign)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ProviderErrorKind::NotFound);
        assert_names(&e, NAME, "not found");
        // Missing vendorInformation never leaves the adapter.
        f.mock.clear_records();
        let e = f
            .graph
            .update_alert(
                &id,
                &AlertChange {
                    status: Some(AlertStatus::InProgress),
                    ..AlertChange::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::BadRequest(_)), "{e}");
        assert!(f.mock.writes().is_empty());
    })
    .await;
}

#[tokio::test]
async fn identity_protection_reads() {
    bounded("identity reads", async {
        let f = fixture().await;
        let data = f.mock.scenario().data(ProviderKind::Graph);
        let users: HashSet<String> = data
            .risky_users_of(&f.tenant)
            .map(|u| u.id.clone())
            .collect();
        let (listed, _) = list_all(
            async |c| f.graph.list_risky_users(&page_of(15, c)).await.unwrap(),
            |u: &vigil_model::RiskyUser| u.id.clone(),
        )
        .await;
        assert_eq!(
            listed.iter().map(|u| u.id.clone()).collect::<HashSet<_>>(),
            users
        );

        let detections = data.risk_detections_of(&f.tenant).count();
        let (listed, _) = list_all(
            async |c| f.graph.list_risk_detections(&page_of(60, c)).await.unwrap(),
            |d: &vigil_model::RiskDetection| d.id.clone(),
        )
        .await;
        assert_eq!(listed.len(), detections);
        let one = &listed[0];
        let got = f.graph.get_risk_detection(&one.id).await.unwrap().unwrap();
        assert_eq!(got.id, one.id);
        assert_eq!(f.graph.get_risk_detection("nope").await.unwrap(), None);

        let user = data.risky_users_of(&f.tenant).next().unwrap();
        let got = f.graph.get_risky_user(&user.id).await.unwrap().unwrap();
        assert_eq!(got.user_principal_name, user.user_principal_name);
        assert_eq!(f.graph.get_risky_user("nope").await.unwrap(), None);

        // History of a user that has some, across every page.
        let with_history = data
            .risky_user_history_of(&f.tenant)
            .next()
            .map(|h| h.user_id.clone().unwrap_or_else(|| h.id.clone()))
            .unwrap();
        let expected = data
            .risky_user_history_of(&f.tenant)
            .filter(|h| h.user_id.as_deref() == Some(with_history.as_str()))
            .count();
        let history = f.graph.risky_user_history(&with_history).await.unwrap();
        assert_eq!(history.len(), expected);
        assert!(expected > 0);
    })
    .await;
}

#[tokio::test]
async fn identity_protection_actions_are_recorded() {
    bounded("identity actions", async {
        let f = fixture().await;
        let ids: Vec<String> = f
            .mock
            .scenario()
            .data(ProviderKind::Graph)
            .risky_users_of(&f.tenant)
            .take(3)
            .map(|u| u.id.clone())
            .collect();
        f.mock.clear_records();
        f.graph
            .risky_user_action(RiskyUserAction::Dismiss, &ids[..2])
            .await
            .unwrap();
        f.graph
            .risky_user_action(RiskyUserAction::ConfirmCompromised, &ids[2..])
            .await
            .unwrap();
        f.graph
            .risky_user_action(RiskyUserAction::ConfirmSafe, &ids[2..])
            .await
            .unwrap();
        // Nothing to do is not a call.
        f.graph
            .risky_user_action(RiskyUserAction::Dismiss, &[])
            .await
            .unwrap();
        let writes: Vec<(String, String, serde_json::Value)> = f
            .mock
            .writes()
            .into_iter()
            .map(|w| (w.method, w.path, w.body))
            .collect();
        let base = "/v1.0/identityProtection/riskyUsers";
        assert_eq!(
            writes,
            vec![
                (
                    "POST".into(),
                    format!("{base}/dismiss"),
                    serde_json::json!({"userIds": &ids[..2]})
                ),
                (
                    "POST".into(),
                    format!("{base}/confirmCompromised"),
                    serde_json::json!({"userIds": &ids[2..]})
                ),
                (
                    "POST".into(),
                    format!("{base}/confirmSafe"),
                    serde_json::json!({"userIds": &ids[2..]})
                ),
            ]
        );
        let dismissed = f.graph.get_risky_user(&ids[0]).await.unwrap().unwrap();
        assert_eq!(dismissed.risk_state, Some(RiskState::Dismissed));
    })
    .await;
}

#[tokio::test]
async fn identity_reads_ask_graph_for_evolvable_members() {
    bounded("identity evolvable members", async {
        let f = fixture().await;
        let id = f
            .mock
            .scenario()
            .data(ProviderKind::Graph)
            .risky_users_of(&f.tenant)
            .next()
            .unwrap()
            .id
            .clone();
        // confirmSafe sets the evolvable riskDetail adminConfirmedAccountSafe, which Graph (and
        // its mock) sends only to callers with `Prefer: include-unknown-enum-members`.
        f.graph
            .risky_user_action(RiskyUserAction::ConfirmSafe, std::slice::from_ref(&id))
            .await
            .unwrap();
        let want = Some(RiskDetail::AdminConfirmedAccountSafe);
        let user = f.graph.get_risky_user(&id).await.unwrap().unwrap();
        assert_eq!(user.risk_detail, want);
        let (users, _) = list_all(
            async |c| f.graph.list_risky_users(&page_of(7, c)).await.unwrap(),
            |u| u.id.clone(),
        )
        .await;
        let listed = users.iter().find(|u| u.id == id).unwrap();
        assert_eq!(listed.risk_detail, want, "on every page, cursors included");
        let history = f.graph.risky_user_history(&id).await.unwrap();
        assert!(
            history.iter().any(
                |h| h.risk_detail == want && h.activity.as_ref().and_then(|a| a.detail) == want
            ),
            "{history:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn capabilities_info_and_health() {
    bounded("capabilities", async {
        let f = fixture().await;
        let caps = f.graph.capabilities();
        assert!(caps.alerts && caps.identity_risk && caps.identity_actions);
        assert!(caps.push_down.odata_filter && caps.push_down.odata_orderby);
        assert_eq!(caps.max_page_size, 1000);
        assert_eq!(caps.writable_fields, Alert::UPDATABLE.to_vec());
        assert_eq!(caps.paging, vigil_providers::PagingStyle::NextLink);
        let info = f.graph.info();
        assert_eq!((info.name.as_str(), info.kind), (NAME, "graph"));
        assert_eq!(info.tenant_id, f.tenant);

        let h = f.graph.health().await;
        assert!(h.healthy, "{h:?}");
        assert_eq!(h.detail, None);
        assert!(f.mock.requests().iter().any(|r| r.path.contains("$top=1")));
        f.mock.set_faults(Faults {
            error_rate: 1.0,
            error_status: 500,
            ..Faults::none()
        });
        let h = f.graph.health().await;
        assert!(!h.healthy);
        let detail = h.detail.unwrap();
        assert!(detail.contains(NAME) && detail.contains("500"), "{detail}");
    })
    .await;
}

#[tokio::test]
async fn token_is_cached_and_refreshed_once_after_expiry() {
    bounded("token expiry", async {
        let f = fixture().await;
        for _ in 0..5 {
            f.graph.list_alerts(&page_of(1, None)).await.unwrap();
        }
        assert_eq!(f.mock.tokens_issued(), 1);
        f.mock.expire_tokens();
        f.mock.clear_records();
        let page = f.graph.list_alerts(&page_of(1, None)).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(f.mock.tokens_issued(), 2);
        // Rejected call, token request, retried call.
        let paths: Vec<String> = f.mock.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths.len(), 3, "{paths:?}");
        assert!(paths[1].ends_with("/oauth2/v2.0/token"), "{paths:?}");
        f.graph.list_alerts(&page_of(1, None)).await.unwrap();
        assert_eq!(f.mock.tokens_issued(), 2);
    })
    .await;
}

#[tokio::test]
async fn bad_secret_is_unauthorized_naming_the_provider() {
    bounded("bad secret", async {
        let mock = MockProvider::start(ProviderKind::Graph, MockConfig::default())
            .await
            .unwrap();
        let tenant = mock.tenants()[0].clone();
        let mut cfg = config(&mock, &tenant, ApiVersion::V1, HttpConfig::default());
        cfg.credentials.client_secret = Secret::new("not-the-secret");
        let graph = GraphProvider::new(cfg).unwrap();
        let e = graph.list_alerts(&page_of(5, None)).await.unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Unauthorized(_)), "{e}");
        assert_names(&e, NAME, "invalid_client");
        assert!(!e.to_string().contains("not-the-secret"));
        assert_eq!(mock.tokens_issued(), 0);
        assert!(
            mock.requests()
                .iter()
                .all(|r| !r.path.contains("/security/")),
            "an API call went out without a token"
        );
        let h = graph.health().await;
        assert!(!h.healthy);
        assert!(h.detail.unwrap().contains("credentials rejected"));
    })
    .await;
}

#[tokio::test]
async fn tampered_cursors_are_refused_before_any_request() {
    bounded("cursor", async {
        let f = fixture().await;
        let page = f.graph.list_alerts(&page_of(10, None)).await.unwrap();
        let cursor = page.next_cursor.unwrap();
        let before = f.mock.requests().len();
        let host = f.mock.base_url();
        for tampered in [
            cursor.replace(&host, "https://evil.example"),
            cursor.replace(&host, "http://127.0.0.1:1"),
            cursor.replace("/security/alerts", "/identityProtection/riskyUsers"),
            cursor.replace("/v1.0/", "/beta/"),
            "not a url".to_owned(),
        ] {
            let e = f
                .graph
                .list_alerts(&page_of(10, Some(tampered.clone())))
                .await
                .unwrap_err();
            assert!(
                matches!(e.kind, ProviderErrorKind::InvalidCursor(_)),
                "{tampered}: {e}"
            );
            assert_names(&e, NAME, "invalid cursor");
        }
        assert_eq!(
            f.mock.requests().len(),
            before,
            "a tampered cursor was followed"
        );
        // A cursor for the same collection whose skiptoken was altered is Graph's to refuse.
        let altered = format!("{cursor}0");
        let e = f
            .graph
            .list_alerts(&page_of(10, Some(altered)))
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind, ProviderErrorKind::Upstream { status: 400, .. }),
            "{e}"
        );
        // A cursor for identity lists is checked against its own collection too.
        let e = f
            .graph
            .list_risky_users(&page_of(10, Some(cursor)))
            .await
            .unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::InvalidCursor(_)), "{e}");
    })
    .await;
}

/// A provider with a token already cached, so injected faults hit the API call.
async fn warmed(http: HttpConfig) -> Fixture {
    let f = fixture_with(ApiVersion::V1, http).await;
    f.graph.tokens().token().await.unwrap();
    f
}

#[tokio::test]
async fn latency_and_hangs_beyond_the_timeout() {
    bounded("timeouts", async {
        let http = HttpConfig {
            timeout_ms: 1_000,
            ..HttpConfig::default()
        };
        let f = warmed(http).await;
        for faults in [
            Faults {
                latency_ms: 5_000,
                ..Faults::none()
            },
            Faults {
                hang_rate: 1.0,
                ..Faults::none()
            },
        ] {
            f.mock.set_faults(faults.clone());
            let started = Instant::now();
            let e = f.graph.list_alerts(&page_of(5, None)).await.unwrap_err();
            assert_eq!(
                e.kind,
                ProviderErrorKind::Timeout(Duration::from_millis(1_000)),
                "{faults:?}"
            );
            assert_names(&e, NAME, "no answer within");
            assert!(started.elapsed() < Duration::from_secs(4));
        }
        f.mock.set_faults(Faults {
            latency_ms: 50,
            ..Faults::none()
        });
        f.graph.list_alerts(&page_of(5, None)).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn server_errors_are_upstream_errors() {
    bounded("5xx", async {
        let f = warmed(HttpConfig::default()).await;
        f.mock.set_faults(Faults {
            error_rate: 1.0,
            error_status: 500,
            ..Faults::none()
        });
        let e = f.graph.get_alert("x").await.unwrap_err();
        assert!(
            matches!(e.kind, ProviderErrorKind::Upstream { status: 500, .. }),
            "{e}"
        );
        assert_names(&e, NAME, "temporarily unavailable");
        assert!(e.is_transient());
        // Graph's 503 comes with Retry-After: 1, waited out once, then reported as throttling.
        f.mock.set_faults(Faults {
            error_rate: 1.0,
            error_status: 503,
            ..Faults::none()
        });
        f.mock.clear_records();
        let e = f.graph.get_alert("x").await.unwrap_err();
        assert_eq!(
            e.kind,
            ProviderErrorKind::Throttled {
                retry_after: Some(Duration::from_secs(1))
            }
        );
        assert_eq!(f.mock.requests().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn malformed_and_truncated_bodies_are_decode_errors() {
    bounded("garbage", async {
        let f = warmed(HttpConfig::default()).await;
        // A known id: a 404 for an unknown one is answered before any body is garbled.
        let known = f.graph.list_alerts(&page_of(1, None)).await.unwrap().items[0]
            .id
            .clone();
        for faults in [
            Faults {
                malformed_rate: 1.0,
                ..Faults::none()
            },
            Faults {
                truncated_rate: 1.0,
                ..Faults::none()
            },
        ] {
            f.mock.set_faults(faults.clone());
            // Several calls, so every variant the mock has (cut JSON, HTML, JS literals; a lying
            // Content-Length, an unterminated chunked body) comes up.
            for i in 0..6 {
                let e = f.graph.list_alerts(&page_of(20, None)).await.unwrap_err();
                assert!(
                    matches!(e.kind, ProviderErrorKind::Decode(_)),
                    "{faults:?} #{i}: {e}"
                );
                assert_names(&e, NAME, "unreadable answer");
                let e = f.graph.get_alert(&known).await.unwrap_err();
                assert!(
                    matches!(e.kind, ProviderErrorKind::Decode(_)),
                    "{faults:?} #{i}: {e}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn long_throttle_is_reported_with_its_delay() {
    bounded("throttle long", async {
        let f = warmed(HttpConfig::default()).await;
        f.mock.set_faults(Faults {
            throttle_rate: 1.0,
            retry_after_secs: 30,
            ..Faults::none()
        });
        f.mock.clear_records();
        let started = Instant::now();
        let e = f.graph.list_alerts(&page_of(5, None)).await.unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        assert_names(&e, NAME, "throttled");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            f.mock.requests().len(),
            1,
            "retried despite a long Retry-After"
        );
    })
    .await;
}

#[tokio::test]
async fn short_throttle_is_waited_out_and_succeeds() {
    bounded("throttle short", async {
        let f = warmed(HttpConfig::default()).await;
        // Half the requests are throttled for 1 s; the mock's fault RNG is seeded, so the same
        // sequence comes every run. Some call is throttled once and then succeeds.
        f.mock.set_faults(Faults {
            throttle_rate: 0.5,
            retry_after_secs: 1,
            ..Faults::none()
        });
        let mut waited_and_succeeded = false;
        for _ in 0..30 {
            let before = f.mock.requests().len();
            let started = Instant::now();
            let result = f.graph.list_alerts(&page_of(5, None)).await;
            let sent = f.mock.requests().len() - before;
            match result {
                Ok(page) if sent == 2 => {
                    assert!(started.elapsed() >= Duration::from_secs(1), "did not wait");
                    assert_eq!(page.items.len(), 5);
                    waited_and_succeeded = true;
                    break;
                }
                Ok(_) => assert_eq!(sent, 1),
                Err(e) => {
                    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)), "{e}");
                    assert_eq!(sent, 2);
                }
            }
        }
        assert!(waited_and_succeeded);
    })
    .await;
}

#[tokio::test]
async fn dripping_bodies_within_and_beyond_the_timeout() {
    bounded("drip", async {
        let f = warmed(HttpConfig {
            timeout_ms: 1_500,
            ..HttpConfig::default()
        })
        .await;
        f.mock.set_faults(Faults {
            drip: Some(Drip {
                chunk_bytes: 1024,
                interval_ms: 10,
            }),
            ..Faults::none()
        });
        let page = f.graph.list_alerts(&page_of(3, None)).await.unwrap();
        assert_eq!(page.items.len(), 3);
        f.mock.set_faults(Faults {
            drip: Some(Drip {
                chunk_bytes: 16,
                interval_ms: 100,
            }),
            ..Faults::none()
        });
        let e = f.graph.list_alerts(&page_of(3, None)).await.unwrap_err();
        assert_eq!(
            e.kind,
            ProviderErrorKind::Timeout(Duration::from_millis(1_500)),
            "{e}"
        );
    })
    .await;
}

#[tokio::test]
async fn oversized_body_is_refused_without_buffering() {
    bounded("oversized", async {
        let limit = 1024 * 1024;
        let f = warmed(HttpConfig {
            max_body_bytes: limit,
            ..HttpConfig::default()
        })
        .await;
        f.mock.set_faults(Faults {
            oversized_bytes: Some(4 * 1024 * 1024 * 1024),
            ..Faults::none()
        });
        let started = Instant::now();
        let e = f.graph.list_alerts(&page_of(3, None)).await.unwrap_err();
        assert_eq!(e.kind, ProviderErrorKind::BodyTooLarge { limit });
        assert_names(&e, NAME, "larger than");
        // 4 GiB at loopback speed would take far longer than this.
        assert!(started.elapsed() < Duration::from_secs(3));
    })
    .await;
}

#[tokio::test]
async fn config_defaults_and_validation() {
    let toml_like = serde_json::json!({
        "name": "entra",
        "tenant_id": "8f7e6d5c-4b3a-4921-8c1d-0e2f3a4b5c6d",
        "credentials": {"client_id": "app", "client_secret": "s"},
    });
    let cfg: GraphConfig = serde_json::from_value(toml_like).unwrap();
    assert_eq!(cfg.base_url, "https://graph.microsoft.com");
    assert_eq!(cfg.api_version, ApiVersion::V1);
    assert_eq!(cfg.http, HttpConfig::default());
    assert!(!format!("{cfg:?}").contains("\"s\""));
    let graph = GraphProvider::new(cfg.clone()).unwrap();
    let debug = format!("{:?}", graph.tokens());
    assert!(
        debug.contains("https://login.microsoftonline.com/8f7e6d5c-4b3a-4921-8c1d-0e2f3a4b5c6d/oauth2/v2.0/token"),
        "{debug}"
    );
    let beta: ApiVersion = serde_json::from_value(serde_json::json!("beta")).unwrap();
    assert_eq!(beta, ApiVersion::Beta);
    for bad in [
        GraphConfig {
            tenant_id: "../evil".into(),
            ..cfg.clone()
        },
        GraphConfig {
            base_url: "graph.microsoft.com".into(),
            ..cfg.clone()
        },
        GraphConfig {
            name: String::new(),
            ..cfg.clone()
        },
    ] {
        let e = GraphProvider::new(bad).unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Config(_)), "{e}");
    }
}
