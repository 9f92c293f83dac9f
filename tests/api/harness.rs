//! Starts a gateway against a mock fleet and gives typed access to both.
//!
//! Everything is real: the mocks and the gateway listen on ephemeral loopback ports and talk
//! HTTP. A [`TestEnv`] owns one fleet and one running gateway; [`TestEnv::restart`] stops the
//! gateway and starts a new one on the same data directory (same SQLite file, same keys), and
//! [`TestEnv::spawn_replica`] starts a second gateway beside the first.

use futures::future::join_all;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vigil_gateway::auth::{Claims, mint_hs256};
use vigil_gateway::config::load_or_create_key;
pub use vigil_mock::{Faults, ProviderKind};
use vigil_mock::{MockConfig, MockFleet, MockProvider};

/// Every request of a test is bounded by this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub const CONTOSO: &str = vigil_mock::scenario::CONTOSO_TENANT_ID;
pub const FABRIKAM: &str = vigil_mock::scenario::FABRIKAM_TENANT_ID;

/// Read scope only.
pub const READ: &[&str] = &["SecurityEvents.Read.All"];

/// One running gateway; stops when dropped.
pub struct Gateway {
    pub base: String,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Gateway {
    async fn start(cfg: vigil_gateway::Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = vigil_gateway::build_state(cfg).await.expect("state");
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            let _ = vigil_gateway::run(state, listener, token).await;
        });
        Self {
            base: format!("http://{addr}"),
            shutdown,
            task: Some(task),
        }
    }

    /// Stops serving and waits (bounded) until the server task, and with it the state and its
    /// database pool, is gone.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A running gateway and its providers; everything stops and is removed on drop.
pub struct TestEnv {
    pub fleet: MockFleet,
    /// The gateway's base URL (`http://127.0.0.1:port`), without a version segment.
    pub base: String,
    pub client: reqwest::Client,
    key: Vec<u8>,
    gateway: Option<Gateway>,
    config: vigil_gateway::Config,
    data_dir: PathBuf,
    /// The PostgreSQL schema of [`TestEnv::start_on_postgres`], dropped after everything else.
    pg_schema: Option<PgSchema>,
}

/// The variable naming the PostgreSQL server of the PostgreSQL variants of the tests.
pub const POSTGRES_VAR: &str = "VIGIL_TEST_POSTGRES_URL";

/// A fresh schema on the test server, dropped (with everything in it) on drop.
pub struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    /// `None` (and a note) without [`POSTGRES_VAR`]; CI must set it.
    pub async fn create() -> Option<Self> {
        let Ok(base) = std::env::var(POSTGRES_VAR) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set {POSTGRES_VAR}: the PostgreSQL variants must run"
            );
            eprintln!("SKIPPED: PostgreSQL variant (set {POSTGRES_VAR})");
            return None;
        };
        let name = format!("vigil_e2e_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&base)
            .await
            .expect("connect to VIGIL_TEST_POSTGRES_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        Some(Self { base, name })
    }

    /// The database URL whose connections use this schema.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={}", self.base, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs inside the test's runtime: clean up on a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let admin = sqlx::PgPool::connect(&base).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                )))
                .execute(&admin)
                .await
            })
        })
        .join();
    }
}

/// Knobs for one environment.
pub struct EnvOptions {
    pub mock: MockConfig,
    pub provider_timeout_ms: u64,
    /// Empty/`None`: SQLite in the environment's data directory.
    pub database_url: Option<String>,
    /// `cache.ttl_secs`; `None`: the default.
    pub cache_ttl_secs: Option<u64>,
    /// `[resilience]` overrides (a JSON object); `None`: the defaults.
    pub resilience: Option<Value>,
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
            cache_ttl_secs: None,
            resilience: None,
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
        let mut overrides = serde_json::json!({
            "listen": "127.0.0.1:0",
            "data_dir": data_dir,
            "database_url": opts.database_url.unwrap_or_default(),
            // HS256 only when set explicitly (the default is jwks): the tests mint their tokens.
            "auth": { "mode": "hs256" },
            "federation": { "provider_timeout_ms": opts.provider_timeout_ms },
        });
        if let Some(ttl) = opts.cache_ttl_secs {
            overrides["cache"] = serde_json::json!({ "ttl_secs": ttl });
        }
        if let Some(r) = opts.resilience {
            overrides["resilience"] = r;
        }
        let mut cfg = vigil_gateway::Config::from_overrides(overrides).expect("config");
        cfg.providers = vigil::demo::provider_configs(&fleet).expect("provider configs");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let key = load_or_create_key(&cfg.hs256_key_path()).expect("key");
        let gateway = Gateway::start(cfg.clone()).await;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("client");
        Self {
            fleet,
            base: gateway.base.clone(),
            client,
            key,
            gateway: Some(gateway),
            config: cfg,
            data_dir,
            pg_schema: None,
        }
    }

    /// [`TestEnv::start`] on a fresh PostgreSQL schema; `None` when no server is configured.
    pub async fn start_on_postgres() -> Option<Self> {
        let schema = PgSchema::create().await?;
        let mut env = Self::start_with(EnvOptions {
            database_url: Some(schema.url()),
            ..EnvOptions::default()
        })
        .await;
        env.pg_schema = Some(schema);
        Some(env)
    }

    /// Stops the gateway and starts a fresh process-equivalent on the same data directory and
    /// database: new caches, new port, same alert index and keys.
    pub async fn restart(&mut self) {
        if let Some(gw) = self.gateway.take() {
            gw.stop().await;
        }
        let gw = Gateway::start(self.config.clone()).await;
        self.base = gw.base.clone();
        self.gateway = Some(gw);
    }

    /// A second gateway on the same configuration and database, beside the running one.
    pub async fn spawn_replica(&self) -> Gateway {
        Gateway::start(self.config.clone()).await
    }

    /// The mock of one product.
    pub fn mock(&self, kind: ProviderKind) -> &MockProvider {
        self.fleet.get(kind)
    }

    /// Replaces the faults of one product.
    pub fn set_faults(&self, kind: ProviderKind, faults: Faults) {
        self.fleet.get(kind).set_faults(faults);
    }

    /// The configured provider instance name of `kind` for `tenant` (as in `vigilSources`).
    pub fn provider_name(&self, kind: ProviderKind, tenant: &str) -> String {
        let short: String = tenant.chars().take(8).collect();
        format!("{}-{short}", kind.as_str())
    }

    /// Forgets every request the mocks recorded.
    pub fn clear_requests(&self) {
        for m in self.fleet.providers() {
            m.clear_records();
        }
    }

    /// Alert API calls (not token requests, not admin routes) each mock received since the
    /// last [`Self::clear_requests`], per product.
    pub fn alert_calls(&self) -> BTreeMap<&'static str, usize> {
        ProviderKind::ALL
            .iter()
            .map(|k| {
                let n = self
                    .fleet
                    .get(*k)
                    .requests()
                    .iter()
                    .filter(|r| {
                        let path = r.path.split('?').next().unwrap_or_default();
                        !path.contains("oauth2/") && !path.starts_with("/_mock")
                    })
                    .count();
                (k.as_str(), n)
            })
            .collect()
    }

    /// A token for `tenant` with `scopes`.
    pub fn token_with(&self, tenant: &str, scopes: &[&str]) -> String {
        mint_delegated(&self.key, tenant, "vigil-tests", scopes)
    }

    /// An operator token for `tenant`: the `Vigil.Admin` app role (in `roles`, as Entra issues
    /// app roles).
    pub fn admin_token(&self, tenant: &str) -> String {
        mint_admin(&self.key, tenant)
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
        self.get_with(tenant, path, HeaderMap::new()).await
    }

    /// GET `path` as `tenant` with extra request headers.
    pub async fn get_with(
        &self,
        tenant: &str,
        path: &str,
        headers: HeaderMap,
    ) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token(tenant))
            .headers(headers)
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

    /// GET `path` and parse a JSON body, asserting the status.
    pub async fn get_json(&self, tenant: &str, path: &str, status: u16) -> Value {
        let resp = self.get(tenant, path).await;
        let got = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        assert_eq!(got, status, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }

    /// Follows nextLinks from `path` to the end; returns every page's body. Every page must
    /// be a 200 (a partial answer would make the walk's content meaningless).
    pub async fn walk(&self, tenant: &str, path: &str) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut resp = self.get(tenant, path).await;
        loop {
            assert_eq!(resp.status(), 200, "page {} of {path}", pages.len() + 1);
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

    /// Every alert of a walk, in page order.
    pub async fn walk_alerts(&self, tenant: &str, path: &str) -> Vec<Value> {
        self.walk(tenant, path)
            .await
            .into_iter()
            .flat_map(|mut p| match p["value"].take() {
                Value::Array(v) => v,
                other => panic!("value is not an array: {other}"),
            })
            .collect()
    }

    /// `n` identical GETs sent at once; their (status, body) in request order.
    pub async fn get_concurrently(&self, tenant: &str, path: &str, n: usize) -> Vec<(u16, Value)> {
        let calls = (0..n).map(|_| async {
            let resp = self.get(tenant, path).await;
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.expect("json"))
        });
        join_all(calls).await
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
        if let Some(gw) = self.gateway.take() {
            drop(gw);
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The claims every test token shares: the demo's issuer and audience, an hour's validity.
fn test_claims(tenant: &str) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        iss: Some(vigil_gateway::auth::DEMO_ISSUER.into()),
        aud: Some(vigil_gateway::auth::DEMO_AUDIENCE.into()),
        exp: now + 3600,
        nbf: Some(now - 5),
        iat: Some(now),
        tid: Some(tenant.into()),
        ..Claims::default()
    }
}

/// A delegated token (`scp`) of the test user, through client app `app`, signed with `key`.
pub fn mint_delegated(key: &[u8], tenant: &str, app: &str, scopes: &[&str]) -> String {
    let claims = Claims {
        oid: Some("11111111-2222-4333-8444-555555555555".into()),
        scp: Some(scopes.join(" ")),
        appid: Some(app.into()),
        upn: Some("tester@contoso.com".into()),
        ..test_claims(tenant)
    };
    mint_hs256(key, &claims).expect("mint")
}

/// An application token with the `Vigil.Admin` app role (operator routes), signed with `key`.
pub fn mint_admin(key: &[u8], tenant: &str) -> String {
    let claims = Claims {
        sub: Some("operator-app".into()),
        roles: vec!["Vigil.Admin".into()],
        appid: Some("vigil-ops".into()),
        ..test_claims(tenant)
    };
    mint_hs256(key, &claims).expect("mint")
}

/// The `vigilSources` of an alert as (provider instance, provider alert id), sorted.
pub fn sources_of(alert: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = alert["vigilSources"]
        .as_array()
        .unwrap_or_else(|| panic!("no vigilSources on {}", alert["id"]))
        .iter()
        .map(|s| {
            (
                s["provider"].as_str().expect("provider").to_string(),
                s["providerAlertId"]
                    .as_str()
                    .expect("providerAlertId")
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The `id` of an alert.
pub fn id_of(alert: &Value) -> String {
    alert["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {alert}"))
        .to_string()
}

/// Percent-encodes a query option value (spaces as `%20`, as the Python SDK sends them).
pub fn enc(v: &str) -> String {
    let mut out = String::with_capacity(v.len() * 3);
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

/// Asserts a response is a Graph error with `status` and `code`; returns the message.
pub async fn expect_graph_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    let got = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let body: Value = serde_json::from_str(&text).expect("error body is JSON");
    let (c, msg) = graph_error(&body);
    assert_eq!(c, code, "{text}");
    assert!(!msg.trim().is_empty(), "empty error message");
    msg
}
