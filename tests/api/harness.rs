//! Starts a gateway against a mock fleet and gives typed access to both.

use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use vigil_gateway::auth::{Claims, mint_hs256};
use vigil_gateway::config::load_or_create_key;
use vigil_mock::{MockConfig, MockFleet, ProviderKind};

/// Every request of a test is bounded by this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub const CONTOSO: &str = vigil_mock::scenario::CONTOSO_TENANT_ID;
pub const FABRIKAM: &str = vigil_mock::scenario::FABRIKAM_TENANT_ID;

/// A running gateway and its providers; everything stops and is removed on drop.
pub struct TestEnv {
    pub fleet: MockFleet,
    pub base: String,
    pub client: reqwest::Client,
    key: Vec<u8>,
    shutdown: CancellationToken,
    data_dir: PathBuf,
}

/// Knobs for one environment.
pub struct EnvOptions {
    pub mock: MockConfig,
    pub provider_timeout_ms: u64,
    pub database_url: Option<String>,
}

impl Default for EnvOptions {
    fn default() -> Self {
        Self {
            mock: MockConfig {
                alerts_per_tenant: 60,
                ..MockConfig::default()
            },
            provider_timeout_ms: 3000,
            database_url: None,
        }
    }
}

impl TestEnv {
    pub async fn start() -> Self {
        Self::start_with(EnvOptions::default()).await
    }

    pub async fn start_with(opts: EnvOptions) -> Self {
        let fleet = MockFleet::start(opts.mock).await.expect("mock fleet");
        let data_dir = std::env::temp_dir().join(format!("vigil-test-{}", uuid::Uuid::new_v4()));
        let mut cfg = vigil_gateway::Config::from_overrides(serde_json::json!({
            "listen": "127.0.0.1:0",
            "data_dir": data_dir,
            "database_url": opts.database_url.unwrap_or_default(),
            "federation": { "provider_timeout_ms": opts.provider_timeout_ms },
        }))
        .expect("config");
        cfg.providers = vigil::demo::provider_configs(&fleet).expect("provider configs");
        let key = load_or_create_key(&cfg.hs256_key_path()).expect("key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = vigil_gateway::build_state(cfg).await.expect("state");
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move {
            let _ = vigil_gateway::run(state, listener, token).await;
        });
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("client");
        Self {
            fleet,
            base: format!("http://{addr}"),
            client,
            key,
            shutdown,
            data_dir,
        }
    }

    /// A token for `tenant` with `scopes`.
    pub fn token_with(&self, tenant: &str, scopes: &[&str]) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: Some(vigil_gateway::auth::DEMO_ISSUER.into()),
            aud: Some(vigil_gateway::auth::DEMO_AUDIENCE.into()),
            exp: now + 3600,
            nbf: Some(now - 5),
            iat: Some(now),
            tid: Some(tenant.into()),
            oid: Some("11111111-2222-4333-8444-555555555555".into()),
            scp: Some(scopes.join(" ")),
            appid: Some("vigil-tests".into()),
            upn: Some("tester@contoso.com".into()),
            ..Claims::default()
        };
        mint_hs256(&self.key, &claims).expect("mint")
    }

    /// A read/write token for `tenant`.
    pub fn token(&self, tenant: &str) -> String {
        self.token_with(
            tenant,
            &["SecurityEvents.Read.All", "SecurityEvents.ReadWrite.All"],
        )
    }

    /// GET `path` (relative to the gateway) as `tenant`.
    pub async fn get(&self, tenant: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token(tenant))
            .send()
            .await
            .expect("request")
    }

    /// GET an absolute URL (a nextLink) as `tenant`.
    pub async fn get_url(&self, tenant: &str, url: &str) -> reqwest::Response {
        self.client
            .get(url)
            .bearer_auth(self.token(tenant))
            .send()
            .await
            .expect("request")
    }

    /// Follows nextLinks from `path` to the end; returns every page's body.
    pub async fn walk(&self, tenant: &str, path: &str) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut resp = self.get(tenant, path).await;
        loop {
            assert!(resp.status().is_success(), "status {}", resp.status());
            let body: Value = resp.json().await.expect("json");
            let next = body["@odata.nextLink"].as_str().map(str::to_string);
            pages.push(body);
            assert!(pages.len() < 500, "walk does not end");
            match next {
                Some(url) => resp = self.get_url(tenant, &url).await,
                None => return pages,
            }
        }
    }

    /// Every provider alert id the fleet holds for a tenant, as (kind, id).
    pub fn provider_alert_ids(&self, tenant: &str) -> Vec<(ProviderKind, String)> {
        let mut ids = Vec::new();
        for kind in ProviderKind::ALL {
            for a in &self.fleet.scenario().data(kind).alerts {
                if a.azure_tenant_id.eq_ignore_ascii_case(tenant) {
                    ids.push((kind, a.id.clone()));
                }
            }
        }
        ids
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The error body's parts, asserting Graph's shape.
pub fn graph_error(body: &Value) -> (String, String) {
    let e = &body["error"];
    let code = e["code"].as_str().expect("error.code").to_string();
    let msg = e["message"].as_str().expect("error.message").to_string();
    let inner = &e["innerError"];
    assert!(
        inner["request-id"].is_string(),
        "innerError.request-id in {body}"
    );
    assert!(
        inner["client-request-id"].is_string(),
        "innerError.client-request-id"
    );
    let date = inner["date"].as_str().expect("innerError.date");
    assert!(
        chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").is_ok(),
        "innerError.date {date}"
    );
    (code, msg)
}
