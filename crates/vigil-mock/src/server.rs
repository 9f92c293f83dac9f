//! Running mocks: [`MockProvider`] (one product on one loopback port) and [`MockFleet`] (all three
//! from one scenario, so the cross-provider duplicates line up).
//!
//! Layout of every mock's HTTP surface:
//! - the product routes, built by the format module (`graph`, `falcon`, `ocsf`), wrapped in two
//!   layers: the request recorder (outermost) and the fault injector. The recorder runs
//!   **before** the fault layer decides anything, so `requests()` counts every request that
//!   reached the mock, including the ones answered with an injected 429/5xx, hung or cut off:
//!   that is the number of upstream calls a client made (retries included);
//! - the admin routes under `/_mock/`, outside both layers (a test can always repair a mock it
//!   broke, and admin traffic never shows up in `requests()`):
//!   `GET /_mock/health`, `GET|PUT /_mock/faults`, `GET /_mock/writes`, `GET /_mock/requests`,
//!   `POST /_mock/reset-records`, `POST /_mock/expire-tokens`, `GET /_mock/credentials`,
//!   `GET /_mock/duplicates`.
//!
//! Shutdown is bounded: [`MockProvider::shutdown`] cancels (which also releases hung and delayed
//! requests), waits up to [`SHUTDOWN_GRACE`] for in-flight responses, then aborts the server
//! task. Dropping a `MockProvider` cancels and aborts at once.

use crate::core::{Core, Credentials, ProviderData, ProviderKind, RecordedRequest, RecordedWrite};
use crate::faults::{FaultController, Faults, FaultsError};
use crate::scenario::{DuplicateGroup, Scenario, ScenarioConfig, TenantSpec};
use crate::wire::json_response;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long [`MockProvider::shutdown`] waits for in-flight responses.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Everything a mock (or the fleet) is started with.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// Seeds the data and the fault RNG.
    pub seed: u64,
    pub tenants: Vec<TenantSpec>,
    /// Alerts per provider per tenant.
    pub alerts_per_tenant: usize,
    /// Risky users per identity provider (Graph, OCSF) per tenant.
    pub risky_users_per_tenant: usize,
    /// Risk detections per identity provider per tenant.
    pub detections_per_tenant: usize,
    /// Share of incidents reported by 2–3 providers.
    pub duplicate_ratio: f64,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_ttl: Duration,
    /// Faults every mock starts with.
    pub faults: Faults,
    /// Per-provider faults that replace `faults` for that provider.
    pub provider_faults: HashMap<ProviderKind, Faults>,
}

impl Default for MockConfig {
    fn default() -> Self {
        let s = ScenarioConfig::default();
        Self {
            seed: s.seed,
            tenants: s.tenants,
            alerts_per_tenant: s.alerts_per_tenant,
            risky_users_per_tenant: s.risky_users_per_tenant,
            detections_per_tenant: s.detections_per_tenant,
            duplicate_ratio: s.duplicate_ratio,
            token_ttl: Duration::from_secs(3599),
            faults: Faults::none(),
            provider_faults: HashMap::new(),
        }
    }
}

impl MockConfig {
    /// The scenario part of the configuration.
    pub fn scenario_config(&self) -> ScenarioConfig {
        ScenarioConfig {
            seed: self.seed,
            tenants: self.tenants.clone(),
            alerts_per_tenant: self.alerts_per_tenant,
            risky_users_per_tenant: self.risky_users_per_tenant,
            detections_per_tenant: self.detections_per_tenant,
            duplicate_ratio: self.duplicate_ratio,
        }
    }

    /// The faults `kind` starts with.
    pub fn faults_for(&self, kind: ProviderKind) -> Faults {
        self.provider_faults
            .get(&kind)
            .cloned()
            .unwrap_or_else(|| self.faults.clone())
    }
}

/// One running mock product on a loopback port.
#[derive(Debug)]
pub struct MockProvider {
    kind: ProviderKind,
    addr: SocketAddr,
    core: Arc<Core>,
    faults: Arc<FaultController>,
    scenario: Arc<Scenario>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// Builds the product router of `kind`.
fn product_router(kind: ProviderKind, core: Arc<Core>, data: ProviderData) -> Router {
    match kind {
        ProviderKind::Graph => crate::graph::router(core, data),
        ProviderKind::Falcon => crate::falcon::router(core, data),
        ProviderKind::Ocsf => crate::ocsf::router(core, data),
    }
}

impl MockProvider {
    /// Generates the scenario from `cfg` and serves `kind` on `127.0.0.1:0`.
    pub async fn start(kind: ProviderKind, cfg: MockConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::start_on(kind, cfg, listener).await
    }

    /// Generates the scenario from `cfg` and serves `kind` on `listener`.
    pub async fn start_on(
        kind: ProviderKind,
        cfg: MockConfig,
        listener: tokio::net::TcpListener,
    ) -> std::io::Result<Self> {
        let scenario = Arc::new(Scenario::generate(&cfg.scenario_config()));
        Self::start_with_scenario(kind, &cfg, scenario, listener).await
    }

    /// Serves `kind`'s share of an existing scenario (what [`MockFleet`] does).
    pub async fn start_with_scenario(
        kind: ProviderKind,
        cfg: &MockConfig,
        scenario: Arc<Scenario>,
        listener: tokio::net::TcpListener,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let tenants = scenario.tenants().iter().map(|t| t.id.clone()).collect();
        let core = Arc::new(Core::new(kind, tenants, cfg.token_ttl));
        let cancel = CancellationToken::new();
        let faults = Arc::new(FaultController::new(
            kind,
            cfg.seed,
            Faults::none(),
            cancel.clone(),
        ));
        faults
            .set(cfg.faults_for(kind))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;

        let product = product_router(kind, core.clone(), scenario.data(kind).clone())
            .layer(middleware::from_fn_with_state(
                faults.clone(),
                crate::faults::fault_layer,
            ))
            .layer(middleware::from_fn_with_state(
                core.clone(),
                record_requests,
            ));
        let admin = admin_router(AdminState {
            core: core.clone(),
            faults: faults.clone(),
            scenario: scenario.clone(),
        });
        let app = Router::new().nest("/_mock", admin).merge(product);

        let token = cancel.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "mock server stopped with an error");
            }
        });
        tracing::info!(kind = kind.as_str(), %addr, "mock provider listening");
        Ok(Self {
            kind,
            addr,
            core,
            faults,
            scenario,
            cancel,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// The tenant ids this mock serves.
    pub fn tenants(&self) -> Vec<String> {
        self.core.tenants.clone()
    }

    /// The mock credentials of `tenant_id` at this provider.
    pub fn credentials(&self, tenant_id: &str) -> Credentials {
        self.core.credentials(tenant_id)
    }

    /// Replaces the faults (re-seeding the fault RNG). Invalid values are refused.
    pub fn try_set_faults(&self, f: Faults) -> Result<(), FaultsError> {
        self.faults.set(f)
    }

    /// Replaces the faults. Invalid values (a rate outside `0..=1`, a non-error status) are
    /// logged and ignored; use [`Self::try_set_faults`] to see the error.
    pub fn set_faults(&self, f: Faults) {
        if let Err(e) = self.faults.set(f) {
            tracing::warn!(error = %e, kind = self.kind.as_str(), "faults refused");
        }
    }

    pub fn faults(&self) -> Faults {
        self.faults.get()
    }

    /// Every write received (PATCH/POST bodies), in order.
    pub fn writes(&self) -> Vec<RecordedWrite> {
        self.core.recorder.writes()
    }

    /// Every product-route request received (before fault injection), in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.core.recorder.requests()
    }

    pub fn clear_records(&self) {
        self.core.recorder.clear();
    }

    /// Makes every token issued so far expired.
    pub fn expire_tokens(&self) {
        self.core.tokens.expire_all();
    }

    pub fn tokens_issued(&self) -> u64 {
        self.core.tokens.issued_count()
    }

    /// The scenario this mock serves a share of.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The shared core (tokens, recorder).
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Stops the server: cancels, waits up to [`SHUTDOWN_GRACE`], then aborts.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Graph, Falcon and OCSF mocks serving one scenario.
#[derive(Debug)]
pub struct MockFleet {
    pub graph: MockProvider,
    pub falcon: MockProvider,
    pub ocsf: MockProvider,
    scenario: Arc<Scenario>,
}

impl MockFleet {
    /// Starts all three on ephemeral loopback ports.
    pub async fn start(cfg: MockConfig) -> std::io::Result<Self> {
        let mut listeners = Vec::new();
        for _ in 0..3 {
            listeners.push(tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?);
        }
        let mut it = listeners.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(g), Some(f), Some(o)) => Self::start_on(cfg, g, f, o).await,
            _ => Err(std::io::Error::other("could not bind three listeners")),
        }
    }

    /// Starts all three on the given listeners (Graph, Falcon, OCSF).
    pub async fn start_on(
        cfg: MockConfig,
        graph: tokio::net::TcpListener,
        falcon: tokio::net::TcpListener,
        ocsf: tokio::net::TcpListener,
    ) -> std::io::Result<Self> {
        let scenario = Arc::new(Scenario::generate(&cfg.scenario_config()));
        let graph =
            MockProvider::start_with_scenario(ProviderKind::Graph, &cfg, scenario.clone(), graph)
                .await?;
        let falcon =
            MockProvider::start_with_scenario(ProviderKind::Falcon, &cfg, scenario.clone(), falcon)
                .await?;
        let ocsf =
            MockProvider::start_with_scenario(ProviderKind::Ocsf, &cfg, scenario.clone(), ocsf)
                .await?;
        Ok(Self {
            graph,
            falcon,
            ocsf,
            scenario,
        })
    }

    pub fn get(&self, kind: ProviderKind) -> &MockProvider {
        match kind {
            ProviderKind::Graph => &self.graph,
            ProviderKind::Falcon => &self.falcon,
            ProviderKind::Ocsf => &self.ocsf,
        }
    }

    pub fn providers(&self) -> [&MockProvider; 3] {
        [&self.graph, &self.falcon, &self.ocsf]
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn duplicate_groups(&self) -> Vec<DuplicateGroup> {
        self.scenario.duplicate_groups()
    }

    /// Shuts all three down (each bounded by [`SHUTDOWN_GRACE`]).
    pub async fn shutdown(self) {
        let Self {
            graph,
            falcon,
            ocsf,
            ..
        } = self;
        tokio::join!(graph.shutdown(), falcon.shutdown(), ocsf.shutdown());
    }
}

// ---- layers and admin routes --------------------------------------------------------------

/// Records method and path?query of every product request, before fault injection.
async fn record_requests(State(core): State<Arc<Core>>, req: Request, next: Next) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    core.recorder.record_request(req.method().as_str(), &path);
    next.run(req).await
}

#[derive(Clone)]
struct AdminState {
    core: Arc<Core>,
    faults: Arc<FaultController>,
    scenario: Arc<Scenario>,
}

fn admin_router(state: AdminState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/writes", get(writes))
        .route("/requests", get(requests))
        .route("/reset-records", post(reset_records))
        .route("/expire-tokens", post(expire_tokens))
        .route("/credentials", get(credentials))
        .route("/duplicates", get(duplicates))
        .with_state(state)
}

async fn health(State(s): State<AdminState>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"status": "ok", "kind": s.core.kind, "tenants": s.core.tenants}),
    )
}

async fn get_faults(State(s): State<AdminState>) -> Json<Faults> {
    Json(s.faults.get())
}

async fn put_faults(State(s): State<AdminState>, body: Bytes) -> Response {
    let parsed: Result<Faults, String> =
        serde_json::from_slice(&body).map_err(|e| format!("invalid faults JSON: {e}"));
    match parsed.and_then(|f| {
        s.faults
            .set(f.clone())
            .map(|()| f)
            .map_err(|e| e.to_string())
    }) {
        Ok(f) => Json(f).into_response(),
        Err(message) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": {"code": "invalid_faults", "message": message}}),
        ),
    }
}

async fn writes(State(s): State<AdminState>) -> Json<Vec<RecordedWrite>> {
    Json(s.core.recorder.writes())
}

async fn requests(State(s): State<AdminState>) -> Json<Vec<RecordedRequest>> {
    Json(s.core.recorder.requests())
}

async fn reset_records(State(s): State<AdminState>) -> StatusCode {
    s.core.recorder.clear();
    StatusCode::NO_CONTENT
}

async fn expire_tokens(State(s): State<AdminState>) -> StatusCode {
    s.core.tokens.expire_all();
    StatusCode::NO_CONTENT
}

async fn credentials(State(s): State<AdminState>) -> Response {
    let list: Vec<serde_json::Value> = s
        .scenario
        .tenants()
        .iter()
        .map(|t| {
            let c = s.core.credentials(&t.id);
            json!({
                "tenantId": c.tenant_id,
                "displayName": t.display_name,
                "domain": t.domain,
                "clientId": c.client_id,
                "clientSecret": c.client_secret,
                "apiToken": c.api_token,
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!(list))
}

async fn duplicates(State(s): State<AdminState>) -> Json<Vec<DuplicateGroup>> {
    Json(s.scenario.duplicate_groups())
}
