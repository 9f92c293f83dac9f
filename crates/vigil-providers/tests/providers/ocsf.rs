//! The OCSF adapter against the OCSF mock (`vigil_mock`, real HTTP on an ephemeral port): alerts
//! paged to the end and compared with the scenario the mock rendered, push-down asserted on the
//! query the mock received, get, updates asserted on the PATCH bodies the mock recorded (and
//! idempotent retries), identity reads and actions, rejected tokens, tampered cursors and
//! injected faults.

use crate::support::{assert_names, bounded};
use std::collections::HashSet;
use std::time::Duration;
use vigil_mock::{Faults, MockConfig, MockProvider, ProviderData, ProviderKind};
use vigil_model::{
    Alert, AlertFeedback, AlertSeverity, AlertStatus, RiskDetail, RiskLevel, RiskState, Timestamp,
};
use vigil_providers::http::HttpConfig;
use vigil_providers::ocsf::{OcsfConfig, OcsfProvider};
use vigil_providers::{
    AlertChange, ListRequest, Provider, ProviderErrorKind, PushDown, RiskyUserAction, Secret,
};

const NAME: &str = "ocsf-lake";

fn config(mock: &MockProvider, tenant: &str, token: &str) -> OcsfConfig {
    OcsfConfig {
        name: NAME.into(),
        tenant_id: tenant.into(),
        base_url: mock.base_url(),
        api_token: Secret::new(token),
        http: HttpConfig::default(),
        vendor: None,
        product: None,
    }
}

struct Fixture {
    mock: MockProvider,
    tenant: String,
    ocsf: OcsfProvider,
}

async fn fixture() -> Fixture {
    let mock = MockProvider::start(ProviderKind::Ocsf, MockConfig::default())
        .await
        .expect("ocsf mock starts");
    let tenant = mock.tenants()[0].clone();
    let token = mock.credentials(&tenant).api_token;
    let ocsf = OcsfProvider::new(config(&mock, &tenant, &token)).unwrap();
    Fixture { mock, tenant, ocsf }
}

fn data(f: &Fixture) -> &ProviderData {
    f.mock.scenario().data(ProviderKind::Ocsf)
}

/// The scenario's alerts of the tenant (what the mock serves it).
fn expected(f: &Fixture) -> Vec<Alert> {
    data(f).alerts_of(&f.tenant).cloned().collect()
}

/// Every page of a listing; fails on a repeated id. Returns the alerts and the page count.
async fn list_all(p: &OcsfProvider, page_size: usize, push_down: PushDown) -> (Vec<Alert>, usize) {
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
        assert!(page.items.len() <= page_size, "page larger than asked");
        for a in page.items {
            assert!(seen.insert(a.id.clone()), "alert {} served twice", a.id);
            out.push(a);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return (out, pages),
        }
        assert!(pages < 1000, "paging does not end");
    }
}

#[tokio::test]
async fn alerts_page_to_the_end_and_match_the_scenario() {
    bounded("ocsf paging", async {
        let f = fixture().await;
        let want = expected(&f);
        assert!(
            want.len() > 100,
            "the scenario gives the tenant enough alerts"
        );
        let (got, pages) = list_all(&f.ocsf, 70, PushDown::default()).await;
        assert_eq!(got.len(), want.len());
        assert_eq!(pages, want.len().div_ceil(70));
        // Newest first, as §3 says.
        assert!(
            got.windows(2)
                .all(|w| w[0].created_date_time >= w[1].created_date_time)
        );
        for w in &want {
            let g = got
                .iter()
                .find(|g| g.id == w.id)
                .expect("every alert served");
            assert_eq!(g.azure_tenant_id, f.tenant);
            assert_eq!(g.title, w.title, "{}", w.id);
            assert_eq!(g.description, w.description);
            assert_eq!(g.category, w.category);
            assert_eq!(g.severity, w.severity);
            assert_eq!(g.status, w.status);
            assert_eq!(g.feedback, w.feedback);
            assert_eq!(g.confidence, w.confidence);
            assert_eq!(g.assigned_to, w.assigned_to);
            assert_eq!(g.comments, w.comments);
            assert_eq!(g.tags, w.tags);
            assert_eq!(g.created_date_time, w.created_date_time);
            assert_eq!(g.event_date_time, w.event_date_time);
            assert_eq!(g.last_modified_date_time, w.last_modified_date_time);
            assert_eq!(g.vendor_information, w.vendor_information);
            assert_eq!(g.source_materials.first(), w.source_materials.first());
            assert_eq!(g.user_states.len(), w.user_states.len());
            assert_eq!(g.host_states.len(), w.host_states.len());
            assert_eq!(g.file_states.len(), w.file_states.len());
            for (gf, wf) in g.file_states.iter().zip(&w.file_states) {
                // riskScore has no OCSF place (documented loss).
                assert_eq!(
                    (&gf.name, &gf.path, &gf.file_hash),
                    (&wf.name, &wf.path, &wf.file_hash)
                );
                assert_eq!(gf.risk_score, None);
            }
            for (gu, wu) in g.user_states.iter().zip(&w.user_states) {
                assert_eq!(gu.user_principal_name, wu.user_principal_name);
                assert_eq!(gu.aad_user_id, wu.aad_user_id);
            }
            for (gh, wh) in g.host_states.iter().zip(&w.host_states) {
                assert_eq!(gh.fqdn, wh.fqdn);
            }
        }
    })
    .await;
}

#[tokio::test]
async fn push_down_narrows_at_the_source() {
    bounded("ocsf push-down", async {
        let f = fixture().await;
        let want = expected(&f);

        let statuses = vec![AlertStatus::NewAlert, AlertStatus::InProgress];
        let (got, _) = list_all(
            &f.ocsf,
            500,
            PushDown {
                statuses: statuses.clone(),
                ..PushDown::default()
            },
        )
        .await;
        let n = want.iter().filter(|a| statuses.contains(&a.status)).count();
        assert!(n > 0 && n < want.len());
        assert_eq!(got.len(), n);
        assert!(got.iter().all(|a| statuses.contains(&a.status)));

        let (got, _) = list_all(
            &f.ocsf,
            500,
            PushDown {
                severities: vec![AlertSeverity::Medium, AlertSeverity::High],
                ..PushDown::default()
            },
        )
        .await;
        let n = want
            .iter()
            .filter(|a| matches!(a.severity, AlertSeverity::Medium | AlertSeverity::High))
            .count();
        assert_eq!(got.len(), n);

        let mut times: Vec<Timestamp> = want.iter().filter_map(|a| a.created_date_time).collect();
        times.sort();
        let (from, before) = (times[times.len() / 4], times[times.len() / 2]);
        f.mock.clear_records();
        let (got, _) = list_all(
            &f.ocsf,
            500,
            PushDown {
                created_from: Some(from),
                created_before: Some(before),
                ..PushDown::default()
            },
        )
        .await;
        let n = want
            .iter()
            .filter(|a| a.created_date_time.is_some_and(|t| t >= from && t < before))
            .count();
        assert_eq!(got.len(), n);
        // What reached the source.
        let requests = f.mock.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            requests[0].path,
            format!(
                "/api/v1/findings?time_gte={}&time_lt={}&limit=500",
                from.epoch_millis(),
                before.epoch_millis()
            )
        );

        // A non-contiguous severity set is not pushed (the gateway narrows it).
        f.mock.clear_records();
        let req = ListRequest {
            page_size: 10,
            push_down: PushDown {
                severities: vec![AlertSeverity::Low, AlertSeverity::High],
                ..PushDown::default()
            },
            ..ListRequest::default()
        };
        f.ocsf.list_alerts(&req).await.unwrap();
        assert_eq!(f.mock.requests()[0].path, "/api/v1/findings?limit=10");
    })
    .await;
}

#[tokio::test]
async fn get_known_and_unknown() {
    bounded("ocsf get", async {
        let f = fixture().await;
        let want = &expected(&f)[0];
        let got = f.ocsf.get_alert(&want.id).await.unwrap().expect("known id");
        assert_eq!(got.id, want.id);
        assert_eq!(got.title, want.title);
        assert_eq!(f.ocsf.get_alert("no-such-finding").await.unwrap(), None);
        assert_eq!(f.ocsf.get_alert("a/b?c#d").await.unwrap(), None);
        assert_eq!(f.ocsf.get_alert("").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn updates_send_only_changes_and_retries_are_harmless() {
    bounded("ocsf update", async {
        let f = fixture().await;
        let target = expected(&f)
            .into_iter()
            .find(|a| a.status == AlertStatus::NewAlert)
            .expect("a new alert");
        let mut comments = target.comments.clone();
        comments.push("Confirmed with the user; closing.".into());
        let change = AlertChange {
            status: Some(AlertStatus::Resolved),
            assigned_to: Some(Some("secops@contoso.com".into())),
            comments: Some(comments.clone()),
            feedback: Some(AlertFeedback::BenignPositive),
            tags: Some(target.tags.clone()),
            ..AlertChange::default()
        };
        f.mock.clear_records();
        f.ocsf.update_alert(&target.id, &change).await.unwrap();
        let writes = f.mock.writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].tenant_id, f.tenant);
        assert_eq!(writes[0].method, "PATCH");
        assert_eq!(writes[0].path, format!("/api/v1/findings/{}", target.id));
        let mut body = serde_json::json!({
            "status_id": 4,
            "assignee": {"name": "secops@contoso.com", "email_addr": "secops@contoso.com"},
            "comment": comments.join("\n---\n"),
            "verdict_id": 5,
        });
        if target.assigned_to.as_deref() == Some("secops@contoso.com") {
            body.as_object_mut().unwrap().remove("assignee");
        }
        if target.feedback == Some(AlertFeedback::BenignPositive) {
            body.as_object_mut().unwrap().remove("verdict_id");
        }
        assert_eq!(writes[0].body, body, "tags are unchanged and not sent");

        let after = f.ocsf.get_alert(&target.id).await.unwrap().unwrap();
        assert_eq!(after.status, AlertStatus::Resolved);
        assert_eq!(after.feedback, Some(AlertFeedback::BenignPositive));
        assert_eq!(after.assigned_to.as_deref(), Some("secops@contoso.com"));
        assert_eq!(after.comments, comments);
        assert!(after.closed_date_time.is_some());
        assert!(after.last_modified_date_time > target.last_modified_date_time);

        // The same change again (a retried delivery) sends nothing.
        f.ocsf.update_alert(&target.id, &change).await.unwrap();
        assert_eq!(f.mock.writes().len(), 1);

        let err = f
            .ocsf
            .update_alert("no-such-finding", &change)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::NotFound);
        assert_names(&err, NAME, "not found");
    })
    .await;
}

#[tokio::test]
async fn identity_reads_and_actions() {
    bounded("ocsf identity", async {
        let f = fixture().await;
        let want_users: Vec<_> = data(&f).risky_users_of(&f.tenant).cloned().collect();
        let want_detections = data(&f).risk_detections_of(&f.tenant).count();
        assert!(!want_users.is_empty() && want_detections > 0);

        let mut users = Vec::new();
        let mut req = ListRequest {
            page_size: 7,
            ..ListRequest::default()
        };
        loop {
            let page = f.ocsf.list_risky_users(&req).await.unwrap();
            users.extend(page.items);
            match page.next_cursor {
                Some(c) => req.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(users.len(), want_users.len());
        for w in &want_users {
            let g = users
                .iter()
                .find(|u| u.id == w.id)
                .expect("every user served");
            assert_eq!(g.risk_level, w.risk_level);
            assert_eq!(g.risk_state, w.risk_state);
            assert_eq!(g.risk_detail, w.risk_detail);
            assert_eq!(g.user_principal_name, w.user_principal_name);
            assert_eq!(g.user_display_name, w.user_display_name);
            assert_eq!(g.is_deleted, w.is_deleted);
            assert_eq!(g.risk_last_updated_date_time, w.risk_last_updated_date_time);
        }
        let one = f.ocsf.get_risky_user(&want_users[0].id).await.unwrap();
        assert_eq!(one.map(|u| u.id), Some(want_users[0].id.clone()));
        assert_eq!(f.ocsf.get_risky_user("nobody").await.unwrap(), None);

        let mut detections = Vec::new();
        let mut req = ListRequest {
            page_size: 500,
            ..ListRequest::default()
        };
        loop {
            let page = f.ocsf.list_risk_detections(&req).await.unwrap();
            detections.extend(page.items);
            match page.next_cursor {
                Some(c) => req.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(detections.len(), want_detections);
        let w = data(&f).risk_detections_of(&f.tenant).next().unwrap();
        let g = f
            .ocsf
            .get_risk_detection(&w.id)
            .await
            .unwrap()
            .expect("found");
        assert_eq!(g.risk_event_type, w.risk_event_type);
        assert_eq!(g.ip_address, w.ip_address);
        assert_eq!(g.user_id, w.user_id);
        assert_eq!(g.risk_level, w.risk_level);
        assert_eq!(f.ocsf.get_risk_detection("nope").await.unwrap(), None);

        let err = f.ocsf.risky_user_history(&w.id).await.unwrap_err();
        assert!(
            matches!(err.kind, ProviderErrorKind::Unsupported(_)),
            "{err}"
        );

        f.mock.clear_records();
        let ids = vec![want_users[0].id.clone(), want_users[1].id.clone()];
        f.ocsf
            .risky_user_action(RiskyUserAction::Dismiss, &ids)
            .await
            .unwrap();
        let writes = f.mock.writes();
        assert_eq!(writes.len(), 2);
        for (w, id) in writes.iter().zip(&ids) {
            assert_eq!(w.method, "POST");
            assert_eq!(w.path, format!("/api/v1/identity/users/{id}/risk"));
            assert_eq!(w.body, serde_json::json!({"action": "dismiss"}));
        }
        let u = f.ocsf.get_risky_user(&ids[0]).await.unwrap().unwrap();
        assert_eq!(u.risk_state, Some(RiskState::Dismissed));
        assert_eq!(u.risk_level, Some(RiskLevel::None));
        assert_eq!(
            u.risk_detail,
            Some(RiskDetail::AdminDismissedAllRiskForUser)
        );

        let err = f
            .ocsf
            .risky_user_action(RiskyUserAction::ConfirmCompromised, &["nobody".into()])
            .await
            .unwrap_err();
        assert_eq!(err.kind, ProviderErrorKind::NotFound);
    })
    .await;
}

#[tokio::test]
async fn wrong_token_is_unauthorized() {
    bounded("ocsf auth", async {
        let f = fixture().await;
        let bad = OcsfProvider::new(config(&f.mock, &f.tenant, "ocsf-token-wrong")).unwrap();
        let err = bad.list_alerts(&ListRequest::default()).await.unwrap_err();
        assert!(
            matches!(err.kind, ProviderErrorKind::Unauthorized(_)),
            "{err}"
        );
        assert_names(&err, NAME, "invalid API token");
        let health = bad.health().await;
        assert!(!health.healthy);
        assert!(f.ocsf.health().await.healthy);
        // Another tenant's token sees another tenant's data, never this one's.
        let other = f.mock.tenants()[1].clone();
        let token = f.mock.credentials(&other).api_token;
        let theirs = OcsfProvider::new(config(&f.mock, &f.tenant, &token)).unwrap();
        assert_eq!(theirs.get_alert(&expected(&f)[0].id).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn tampered_cursor_is_invalid() {
    bounded("ocsf cursor", async {
        let f = fixture().await;
        let req = ListRequest {
            page_size: 5,
            ..ListRequest::default()
        };
        let cursor = f.ocsf.list_alerts(&req).await.unwrap().next_cursor.unwrap();
        let mut tampered = cursor.into_bytes();
        let i = tampered.len() - 1;
        tampered[i] = if tampered[i] == b'0' { b'1' } else { b'0' };
        let req = ListRequest {
            page_size: 5,
            cursor: Some(String::from_utf8(tampered).unwrap()),
            ..ListRequest::default()
        };
        let err = f.ocsf.list_alerts(&req).await.unwrap_err();
        assert!(
            matches!(err.kind, ProviderErrorKind::InvalidCursor(_)),
            "{err}"
        );
        assert_names(&err, NAME, "invalid cursor");
    })
    .await;
}

#[tokio::test]
async fn injected_faults_become_typed_errors_naming_the_provider() {
    bounded("ocsf faults", async {
        let f = fixture().await;
        let req = ListRequest {
            page_size: 5,
            ..ListRequest::default()
        };

        f.mock.set_faults(Faults {
            truncated_rate: 1.0,
            ..Faults::none()
        });
        let err = f.ocsf.list_alerts(&req).await.unwrap_err();
        assert!(
            matches!(
                err.kind,
                ProviderErrorKind::Decode(_) | ProviderErrorKind::Connect(_)
            ),
            "{err}"
        );
        assert_names(&err, NAME, "");
        assert!(err.is_transient());

        f.mock.set_faults(Faults {
            throttle_rate: 1.0,
            retry_after_secs: 30,
            ..Faults::none()
        });
        let err = f.ocsf.list_alerts(&req).await.unwrap_err();
        assert!(
            matches!(err.kind, ProviderErrorKind::Throttled { .. }),
            "{err}"
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
        assert_names(&err, NAME, "throttled");

        f.mock.set_faults(Faults {
            malformed_rate: 1.0,
            ..Faults::none()
        });
        let err = f.ocsf.get_alert(&expected(&f)[0].id).await.unwrap_err();
        assert!(matches!(err.kind, ProviderErrorKind::Decode(_)), "{err}");
        assert_names(&err, NAME, "unreadable");

        f.mock.set_faults(Faults::none());
        assert_eq!(f.ocsf.list_alerts(&req).await.unwrap().items.len(), 5);
    })
    .await;
}
