//! Building and running the gateway: one `run()` used by `vigil serve` and by the tests.

use crate::auth::Verifier;
use crate::config::{Config, ProviderConfig, load_or_create_key};
use crate::context::request_context;
use crate::fanout::AnswerCache;
use crate::federation::{Federation, Registry};
use crate::routes;
use crate::skiptoken::SkipTokenSigner;
use crate::state::{AppInner, AppState};
use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;
use vigil_providers::Provider;

/// A start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("storage: {0}")]
    Store(#[from] vigil_store::StoreError),
    #[error("provider: {0}")]
    Provider(#[from] vigil_providers::ProviderError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Builds one adapter per configured provider.
pub fn build_providers(cfg: &Config) -> Result<Vec<Arc<dyn Provider>>, StartError> {
    cfg.providers
        .iter()
        .map(|p| -> Result<Arc<dyn Provider>, StartError> {
            Ok(match p {
                ProviderConfig::Graph(c) => {
                    Arc::new(vigil_providers::graph::GraphProvider::new(c.clone())?)
                }
                ProviderConfig::Falcon(c) => {
                    Arc::new(vigil_providers::falcon::FalconProvider::new(c.clone())?)
                }
                ProviderConfig::Ocsf(c) => {
                    Arc::new(vigil_providers::ocsf::OcsfProvider::new(c.clone())?)
                }
            })
        })
        .collect()
}

/// Builds the state: store connected and migrated, keys loaded, providers built.
pub async fn build_state(cfg: Config) -> Result<AppState, StartError> {
    cfg.metrics.bearer_token().map_err(StartError::Config)?;
    std::fs::create_dir_all(&cfg.data_dir)?;
    let store = vigil_store::connect(&cfg.database_url()).await?;
    store.migrate().await?;
    let verifier: Verifier = crate::auth::verifier_from_config(&cfg)?;
    let skip_key = load_or_create_key(&cfg.skiptoken_key_path())?;
    let providers = build_providers(&cfg)?;
    let federation = Federation {
        registry: Registry::new(providers),
        cache: AnswerCache::new(
            Duration::from_secs(cfg.cache.ttl_secs),
            cfg.cache.max_bytes,
            Arc::new(
                crate::resilience::Resilience::new(cfg.resilience.clone()).with_provider_timeout(
                    Duration::from_millis(cfg.federation.provider_timeout_ms),
                ),
            ),
        ),
        store,
        rule: cfg.federation.fingerprint.clone(),
        timeout: Duration::from_millis(cfg.federation.provider_timeout_ms),
        max_concurrent_providers: cfg.limits.max_concurrent_providers,
    };
    Ok(AppState(Arc::new(AppInner {
        skiptokens: SkipTokenSigner::new(&skip_key),
        verifier,
        limiter: Arc::new(crate::limits::RateLimiter::new(&cfg.limits)),
        federation,
        writeback: crate::writeback::WriteBack::new(cfg.writeback.clone()),
        config: cfg,
    })))
}

/// The HTTP application over a state.
pub fn app(state: AppState) -> Router {
    let security_headers = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
    ];
    let limits = Arc::new(state.config.limits.clone());
    let cors = crate::limits::cors_layer(&state.config.cors);
    let (verifier, limiter) = (state.verifier.clone(), state.limiter.clone());
    // Outermost last: security headers → CORS → request ids and Graph error rendering →
    // metrics and the access log → sizes and timeouts → authentication → rate limits → panics
    // caught (rendered as Graph errors, with request ids and security headers) → routes.
    let mut router = routes::router()
        .with_state(state)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| {
                axum::response::IntoResponse::into_response(crate::error::ApiError::Internal(
                    "handler panicked".into(),
                ))
            },
        ))
        .layer(axum::middleware::from_fn_with_state(
            limiter,
            crate::limits::rate_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            verifier,
            crate::auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            crate::limits::enforce_limits,
        ))
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
        .layer(axum::middleware::from_fn(request_context));
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    for (name, value) in security_headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    router
}

/// Serves `state` on `listener` until `shutdown` is cancelled, then shuts down gracefully:
/// no new connection is accepted, in-flight requests finish, then the background workers stop
/// after their current delivery. All of it within `shutdown_grace_ms` of the signal; whatever
/// is still running then is cut (a cut delivery leaves its outbox row pending, claimed under a
/// lease: it is delivered again once the lease ends, by this process after a restart or by
/// another replica).
pub async fn run(
    state: AppState,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let grace = Duration::from_millis(state.config.shutdown_grace_ms);
    // The workers get their own token: they keep delivering while requests drain (a PATCH in
    // flight waits for its delivery).
    let workers = CancellationToken::new();
    let background = crate::writeback::spawn_background(&state, &workers);
    let deadline = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            tokio::time::Instant::now() + grace
        })
    };
    let limits = state.config.limits.clone();
    let app = app(state);
    let served = crate::limits::serve(listener, app, shutdown.clone(), &limits, grace).await;
    shutdown.cancel();
    let deadline = deadline
        .await
        .unwrap_or_else(|_| tokio::time::Instant::now());
    workers.cancel();
    let mut background = background;
    let stopped =
        tokio::time::timeout_at(deadline, futures::future::join_all(background.iter_mut())).await;
    if stopped.is_err() {
        tracing::warn!(
            grace_ms = grace.as_millis() as u64,
            "background work still running at the shutdown deadline is cut; \
             undelivered outbox rows stay pending"
        );
        for task in &background {
            task.abort();
        }
    }
    tracing::info!("gateway stopped");
    served
}
