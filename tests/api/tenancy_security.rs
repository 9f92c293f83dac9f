//! Tenant isolation as an attacker tries it, and secrets kept out of the logs.
//!
//! Two tenants (Contoso, Fabrikam) with their own providers behind one gateway. A caller of one
//! tenant tries every path to the other's alerts: lists and filters on `azureTenantId`,
//! `$count`, get by unified or provider id, the other tenant's nextLink, PATCH by either id,
//! and a cached answer to the same query. Assertions check both the gateway's answers and what
//! the mock providers recorded (no write reached another tenant's data).

use crate::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use vigil_mock::ProviderKind;

fn other(tenant: &str) -> &'static str {
    if tenant == CONTOSO { FABRIKAM } else { CONTOSO }
}

fn ids(alerts: &[Value]) -> BTreeSet<String> {
    alerts
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

async fn all_alerts(env: &TestEnv, tenant: &str, path: &str) -> Vec<Value> {
    env.walk(tenant, path)
        .await
        .into_iter()
        .flat_map(|p| p["value"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn assert_tenant(alerts: &[Value], tenant: &str) {
    for a in alerts {
        assert_eq!(
            a["azureTenantId"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase(),
            tenant.to_lowercase(),
            "alert {} of another tenant",
            a["id"]
        );
    }
}

#[tokio::test]
async fn a_tenant_never_lists_counts_or_gets_another_tenants_alerts() {
    let env = TestEnv::start().await;
    let mut seen = Vec::new();
    for tenant in [CONTOSO, FABRIKAM] {
        let alerts = all_alerts(&env, tenant, "/v1.0/security/alerts?$top=200").await;
        assert!(!alerts.is_empty(), "{tenant} has alerts");
        assert_tenant(&alerts, tenant);

        // $count counts the same alerts, and only those.
        let resp = env.get(tenant, "/v1.0/security/alerts/$count").await;
        assert_eq!(resp.status(), 200);
        let count: usize = resp.text().await.unwrap().trim().parse().unwrap();
        assert_eq!(count, alerts.len(), "{tenant}: $count vs list");

        // Filtering on the other tenant's id finds nothing (the filter narrows, never widens).
        let path = format!(
            "/v1.0/security/alerts?$filter=azureTenantId eq '{}'&$count=true",
            other(tenant)
        );
        let body: Value = env.get(tenant, &path).await.json().await.unwrap();
        assert_eq!(body["value"].as_array().map(Vec::len), Some(0), "{body}");
        assert_eq!(body["@odata.count"], 0);
        seen.push((tenant, alerts));
    }
    let (contoso_ids, fabrikam_ids) = (ids(&seen[0].1), ids(&seen[1].1));
    assert!(contoso_ids.is_disjoint(&fabrikam_ids));

    for (tenant, alerts) in &seen {
        let intruder = other(tenant);
        // Get by the unified id the owner sees.
        for a in alerts.iter().take(8) {
            let id = a["id"].as_str().unwrap();
            let resp = env
                .get(intruder, &format!("/v1.0/security/alerts/{id}"))
                .await;
            assert_eq!(resp.status(), 404, "{intruder} got {tenant}'s {id}");
            let (code, _) = graph_error(&resp.json().await.unwrap());
            assert_eq!(code, "NotFound");
        }
        // Get by each provider's own id, every kind.
        for kind in ProviderKind::ALL {
            for (_, pid) in env
                .provider_alert_ids(tenant)
                .into_iter()
                .filter(|(k, _)| *k == kind)
                .take(3)
            {
                let resp = env
                    .get(
                        intruder,
                        &format!("/v1.0/security/alerts/{}", urlencode(&pid)),
                    )
                    .await;
                assert_eq!(
                    resp.status(),
                    404,
                    "{intruder} got {tenant}'s {kind:?} alert {pid}"
                );
            }
        }
    }
}

/// The `vendorInformation` a PATCH must name: the vendor and product of one provider holding
/// the alert (the demo names provider instances `{kind}-{tenant prefix}`).
fn source_vendor(alert: &Value) -> Value {
    let instance = alert["vigilSources"][0]["provider"]
        .as_str()
        .unwrap_or_default();
    let (vendor, product) = match instance.split('-').next() {
        Some("graph") => ("Microsoft", "Graph"),
        Some("falcon") => ("CrowdStrike", "Falcon"),
        _ => ("OCSF", "OCSF Detection Findings"),
    };
    json!({ "vendor": vendor, "provider": product })
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_next_link_works_only_for_the_tenant_it_was_issued_to() {
    let env = TestEnv::start().await;
    let body: Value = env
        .get(CONTOSO, "/v1.0/security/alerts?$top=5")
        .await
        .json()
        .await
        .unwrap();
    let next = body["@odata.nextLink"]
        .as_str()
        .expect("a nextLink")
        .to_string();
    // The owner can follow it.
    assert_eq!(env.get_url(CONTOSO, &next).await.status(), 200);
    // The other tenant cannot: 400, not the owner's next page.
    let resp = env.get_url(FABRIKAM, &next).await;
    assert_eq!(resp.status(), 400);
    let (code, _) = graph_error(&resp.json().await.unwrap());
    assert_eq!(code, "BadRequest");
    // Nor can the owner reuse it for another query.
    let altered = next
        .replacen("%24top=5", "%24top=6", 1)
        .replacen("$top=5", "$top=6", 1);
    assert_ne!(altered, next, "nextLink carries $top: {next}");
    assert_eq!(env.get_url(CONTOSO, &altered).await.status(), 400);
}

#[tokio::test]
async fn patch_never_reaches_another_tenants_alert() {
    let env = TestEnv::start().await;
    let fabrikam = all_alerts(&env, FABRIKAM, "/v1.0/security/alerts?$top=20").await;
    let target = &fabrikam[0];
    let body = json!({
        "status": "resolved",
        "vendorInformation": source_vendor(target),
    });
    let mut attempts: Vec<String> = vec![target["id"].as_str().unwrap().to_string()];
    attempts.extend(
        env.provider_alert_ids(FABRIKAM)
            .into_iter()
            .take(3)
            .map(|(_, id)| urlencode(&id)),
    );
    for id in &attempts {
        let resp = env
            .client
            .patch(format!("{}/v1.0/security/alerts/{id}", env.base))
            .bearer_auth(env.token(CONTOSO))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "Contoso patched Fabrikam's {id}");
    }
    // Give a (wrongly) queued delivery a moment to happen, then check nothing was written.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for kind in ProviderKind::ALL {
        let writes = env.fleet.get(kind).writes();
        assert!(writes.is_empty(), "{kind:?} got writes: {writes:?}");
    }
    // Fabrikam's alert is unchanged for Fabrikam.
    let id = target["id"].as_str().unwrap();
    let again: Value = env
        .get(FABRIKAM, &format!("/v1.0/security/alerts/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], target["status"]);
}

#[tokio::test]
async fn the_same_query_from_two_tenants_never_shares_an_answer() {
    let env = TestEnv::start().await;
    let path = "/v1.0/security/alerts?$filter=severity eq 'high'&$top=10";
    let upstream = |env: &TestEnv| -> usize {
        ProviderKind::ALL
            .iter()
            .map(|k| env.fleet.get(*k).requests().len())
            .sum()
    };
    let c1: Value = env.get(CONTOSO, path).await.json().await.unwrap();
    let after_contoso = upstream(&env);
    // The same query again from Contoso is answered from the cache...
    let c2: Value = env.get(CONTOSO, path).await.json().await.unwrap();
    assert_eq!(
        upstream(&env),
        after_contoso,
        "second identical query hit providers"
    );
    assert_eq!(c1["value"], c2["value"]);
    // ...but from Fabrikam it asks Fabrikam's providers and answers with Fabrikam's alerts.
    let f: Value = env.get(FABRIKAM, path).await.json().await.unwrap();
    assert!(
        upstream(&env) > after_contoso,
        "Fabrikam was answered from Contoso's cache"
    );
    let (cv, fv) = (
        c1["value"].as_array().unwrap().clone(),
        f["value"].as_array().unwrap().clone(),
    );
    assert!(!cv.is_empty() && !fv.is_empty());
    assert_tenant(&cv, CONTOSO);
    assert_tenant(&fv, FABRIKAM);
    assert!(ids(&cv).is_disjoint(&ids(&fv)));
}

/// A writer shared by the test's subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every log line of a full run (gateway, adapters, mocks) at debug level, on this test's
/// thread: the current-thread runtime runs every task of the run here.
#[tokio::test]
async fn logs_of_a_full_run_hold_no_token_or_secret() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = TestEnv::start().await;
    let mut tokens = Vec::new();
    for tenant in [CONTOSO, FABRIKAM] {
        let token = env.token(tenant);
        tokens.push(token.clone());
        let alerts = all_alerts(&env, tenant, "/v1.0/security/alerts?$top=50").await;
        let _ = env.get(tenant, "/v1.0/security/alerts/$count").await;
        let a = &alerts[0];
        let id = a["id"].as_str().unwrap();
        let _ = env
            .get(tenant, &format!("/v1.0/security/alerts/{id}"))
            .await;
        // A write goes through every provider holding the alert (OAuth2 and API tokens used).
        let resp = env
            .client
            .patch(format!("{}/v1.0/security/alerts/{id}", env.base))
            .bearer_auth(&token)
            .json(&json!({
                "status": "inProgress",
                "comments": ["log test"],
                "vendorInformation": source_vendor(a),
            }))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert!(
            status.is_success(),
            "PATCH {status}: {}",
            resp.text().await.unwrap()
        );
    }
    // Refused tokens are not logged either.
    let forged = format!("{}x", tokens[0]);
    tokens.push(forged.clone());
    let resp = env
        .client
        .get(format!("{}/v1.0/security/alerts", env.base))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Upstream tokens expire and are fetched again (refresh-on-401 path logged too).
    for kind in ProviderKind::ALL {
        env.fleet.get(kind).expire_tokens();
    }
    let _ = all_alerts(&env, CONTOSO, "/v1.0/security/alerts?$top=50").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(env);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture saw the run's write-back to the providers. (Lines of callsites that other
    // tests of this binary register first, under their own thread-local subscriber, can be
    // cached as uninteresting by tracing, so only this flow's own lines are required here.)
    assert!(
        logs.contains("alert change delivered"),
        "no write-back line in the capture:\n{logs}"
    );
    let mut secrets: Vec<String> = tokens;
    for tenant in [CONTOSO, FABRIKAM] {
        for kind in ProviderKind::ALL {
            let c = vigil_mock::core::Credentials::for_tenant(kind, tenant);
            secrets.push(c.client_secret);
            secrets.push(c.api_token);
        }
    }
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret is in the logs: {s}");
        // Nor the signature part of a JWT on its own.
        if let Some(sig) = s.rsplit('.').next().filter(|x| x.len() > 20) {
            assert!(!logs.contains(sig), "a token signature is in the logs");
        }
    }
    // No JWT at all ("eyJ" is the base64 of '{"'), and no mock-issued access token
    // (`mock.<32 hex>.<n>`).
    assert!(!logs.contains("eyJ"), "a JWT is in the logs");
    let bytes = logs.as_bytes();
    for (i, _) in logs.match_indices("mock.") {
        let rest = &bytes[i + 5..];
        let hex = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        assert!(hex < 32, "an upstream access token is in the logs");
    }
    assert!(
        !logs.to_lowercase().contains("bearer "),
        "an Authorization header is in the logs"
    );
}

#[test]
fn vigil_token_refuses_unless_hs256_is_configured() {
    let dir = std::env::temp_dir().join(format!("vigil-token-{}", uuid::Uuid::new_v4()));
    let run = |mode: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"));
        cmd.args(["token", "--data-dir"]).arg(&dir);
        cmd.env_remove("VIGIL_CONFIG");
        if let Some(m) = mode {
            cmd.env("VIGIL_AUTH__MODE", m)
                .env("VIGIL_AUTH__AUDIENCES", "[\"api://vigil-test\"]");
        }
        cmd.output().expect("run vigil token")
    };
    let jwks = run(Some("jwks"));
    assert!(!jwks.status.success());
    assert!(jwks.stdout.is_empty(), "a token was printed");
    let err = String::from_utf8_lossy(&jwks.stderr);
    assert!(err.contains("HS256") && err.contains("jwks"), "{err}");

    let demo = run(None);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let token = String::from_utf8_lossy(&demo.stdout);
    assert_eq!(token.trim().split('.').count(), 3, "{token}");
    let _ = std::fs::remove_dir_all(&dir);
}
