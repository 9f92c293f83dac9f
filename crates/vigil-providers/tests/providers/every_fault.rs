//! Every fault kind of the mock fleet against every adapter: each failure is a typed provider
//! error naming the provider and the cause, within the adapter's timeout, and nothing panics.
//!
//! The adapter modules test their own protocols in depth; this table makes sure no adapter
//! handles a fault differently from the others (they share `HttpClient`, and this keeps it so).

use crate::support::{assert_names, bounded};
use std::time::{Duration, Instant};
use vigil_mock::{Drip, Faults, MockConfig, MockProvider, ProviderKind};
use vigil_providers::falcon::{FalconConfig, FalconCredentials, FalconProvider};
use vigil_providers::graph::{ApiVersion, GraphConfig, GraphProvider};
use vigil_providers::http::HttpConfig;
use vigil_providers::oauth2::ClientCredentials;
use vigil_providers::ocsf::{OcsfConfig, OcsfProvider};
use vigil_providers::{ListRequest, Provider, ProviderErrorKind, Secret};

const TIMEOUT_MS: u64 = 800;
const MAX_BODY: usize = 256 * 1024;

fn http() -> HttpConfig {
    HttpConfig {
        timeout_ms: TIMEOUT_MS,
        max_body_bytes: MAX_BODY,
        max_retry_wait_ms: 0,
        ..HttpConfig::default()
    }
}

fn adapter(kind: ProviderKind, mock: &MockProvider) -> (String, Box<dyn Provider>) {
    let tenant = mock.tenants()[0].clone();
    let creds = mock.credentials(&tenant);
    let name = format!("{}-under-fault", kind.as_str());
    let p: Box<dyn Provider> = match kind {
        ProviderKind::Graph => Box::new(
            GraphProvider::new(GraphConfig {
                name: name.clone(),
                tenant_id: tenant.clone(),
                base_url: mock.base_url(),
                api_version: ApiVersion::V1,
                credentials: ClientCredentials {
                    token_url: format!("{}/{tenant}/oauth2/v2.0/token", mock.base_url()),
                    client_id: creds.client_id,
                    client_secret: Secret::new(creds.client_secret),
                    scope: Some("https://graph.microsoft.com/.default".into()),
                },
                http: http(),
                vendor: None,
                product: None,
            })
            .unwrap(),
        ),
        ProviderKind::Falcon => Box::new(
            FalconProvider::new(FalconConfig {
                name: name.clone(),
                tenant_id: tenant.clone(),
                base_url: mock.base_url(),
                credentials: FalconCredentials {
                    client_id: creds.client_id,
                    client_secret: Secret::new(creds.client_secret),
                },
                http: http(),
                member_cid: None,
            })
            .unwrap(),
        ),
        ProviderKind::Ocsf => Box::new(
            OcsfProvider::new(OcsfConfig {
                name: name.clone(),
                tenant_id: tenant,
                base_url: mock.base_url(),
                api_token: Secret::new(creds.api_token),
                http: http(),
                vendor: None,
                product: None,
            })
            .unwrap(),
        ),
    };
    (name, p)
}

fn page() -> ListRequest {
    ListRequest {
        page_size: 20,
        ..ListRequest::default()
    }
}

/// One fault, the error kind it must become, and a word the message must contain.
type Case = (
    &'static str,
    Faults,
    fn(&ProviderErrorKind) -> bool,
    &'static str,
);

/// What each fault must turn into.
fn cases() -> Vec<Case> {
    vec![
        (
            "latency beyond the timeout",
            Faults {
                latency_ms: 3 * TIMEOUT_MS,
                ..Faults::none()
            },
            |k| matches!(k, ProviderErrorKind::Timeout(_)),
            "no answer within",
        ),
        (
            "never answers",
            Faults {
                hang_rate: 1.0,
                ..Faults::none()
            },
            |k| matches!(k, ProviderErrorKind::Timeout(_)),
            "no answer within",
        ),
        (
            "5xx",
            Faults {
                error_rate: 1.0,
                error_status: 500,
                ..Faults::none()
            },
            |k| matches!(k, ProviderErrorKind::Upstream { status: 500, .. }),
            "500",
        ),
        (
            "malformed JSON",
            Faults {
                malformed_rate: 1.0,
                ..Faults::none()
            },
            |k| matches!(k, ProviderErrorKind::Decode(_)),
            "unreadable answer",
        ),
        (
            "truncated body",
            Faults {
                truncated_rate: 1.0,
                ..Faults::none()
            },
            |k| matches!(k, ProviderErrorKind::Decode(_)),
            "unreadable answer",
        ),
        (
            "429 with Retry-After",
            Faults {
                throttle_rate: 1.0,
                retry_after_secs: 7,
                ..Faults::none()
            },
            |k| {
                *k == ProviderErrorKind::Throttled {
                    retry_after: Some(Duration::from_secs(7)),
                }
            },
            "throttled",
        ),
        (
            "slow drip beyond the timeout",
            Faults {
                drip: Some(Drip {
                    chunk_bytes: 16,
                    interval_ms: 200,
                }),
                ..Faults::none()
            },
            |k| matches!(k, ProviderErrorKind::Timeout(_)),
            "no answer within",
        ),
        (
            "oversized body",
            Faults {
                oversized_bytes: Some(8 * MAX_BODY as u64),
                ..Faults::none()
            },
            |k| matches!(k, ProviderErrorKind::BodyTooLarge { limit } if *limit == MAX_BODY),
            "larger than",
        ),
    ]
}

#[tokio::test]
async fn every_fault_is_a_typed_error_for_every_adapter() {
    bounded("every fault", async {
        for kind in ProviderKind::ALL {
            let mock = MockProvider::start(
                kind,
                MockConfig {
                    alerts_per_tenant: 40,
                    ..MockConfig::default()
                },
            )
            .await
            .unwrap();
            let (name, p) = adapter(kind, &mock);
            // A first call caches the token, so the faults hit the API calls.
            p.list_alerts(&page()).await.unwrap();
            for (what, faults, expected, cause) in cases() {
                mock.set_faults(faults);
                let started = Instant::now();
                let e = p.list_alerts(&page()).await.unwrap_err();
                assert!(expected(&e.kind), "{kind:?} / {what}: got {e}");
                assert_names(&e, &name, cause);
                assert!(
                    started.elapsed() < Duration::from_millis(4 * TIMEOUT_MS),
                    "{kind:?} / {what}: took {:?}",
                    started.elapsed()
                );
            }
            // And the adapter recovers when the provider does.
            mock.set_faults(Faults::none());
            assert!(!p.list_alerts(&page()).await.unwrap().items.is_empty());
            mock.shutdown().await;
        }
    })
    .await;
}
