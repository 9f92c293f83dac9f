//! `vigil-mock`: serves the Graph, Falcon and OCSF mocks from one seeded scenario on loopback
//! ports, prints one JSON line per provider (kind, base URL, per-tenant credentials) on stdout,
//! and runs until Ctrl-C or SIGTERM. Logs go to stderr (`RUST_LOG`, default `info`).

use clap::Parser;
use std::collections::HashMap;
use std::time::Duration;
use vigil_mock::{Faults, MockConfig, MockFleet, ProviderKind};

/// Parsing, merging and rendering alerts is allocation-heavy: with glibc's malloc, malloc and
/// free were a third of the gateway's CPU on an uncached 50-provider list, and freed request
/// memory kept the RSS at 1.32 × the cache bound (0.95 with mimalloc; README, Benchmarks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "vigil-mock",
    version,
    about = "Mock security providers for Vigil"
)]
struct Args {
    /// Address to bind (loopback by default; `0.0.0.0` inside a container).
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Port of the Graph mock (0 = ephemeral).
    #[arg(long, default_value_t = 0)]
    graph_port: u16,
    /// Port of the Falcon mock (0 = ephemeral).
    #[arg(long, default_value_t = 0)]
    falcon_port: u16,
    /// Port of the OCSF mock (0 = ephemeral).
    #[arg(long, default_value_t = 0)]
    ocsf_port: u16,
    /// Seed of the scenario and of fault decisions.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Alerts per provider per tenant.
    #[arg(long, default_value_t = 300)]
    alerts_per_tenant: usize,
    /// Risky users per identity provider per tenant.
    #[arg(long, default_value_t = 40)]
    risky_users_per_tenant: usize,
    /// Risk detections per identity provider per tenant.
    #[arg(long, default_value_t = 150)]
    detections_per_tenant: usize,
    /// Lifetime of issued access tokens, seconds.
    #[arg(long, default_value_t = 3599)]
    token_ttl_secs: u64,
    /// Faults for every provider, as JSON (e.g. '{"latency_ms":200,"error_rate":0.1}').
    #[arg(long)]
    faults_json: Option<String>,
    /// Faults for one provider: `<graph|falcon|ocsf>=<json>`; repeatable.
    #[arg(long = "faults", value_name = "PROVIDER=JSON")]
    provider_faults: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("invalid faults JSON: {0}")]
    FaultsJson(#[from] serde_json::Error),
    #[error("invalid faults: {0}")]
    Faults(#[from] vigil_mock::FaultsError),
    #[error("--faults expects <graph|falcon|ocsf>=<json>, got '{0}'")]
    FaultsArg(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn parse_faults(json: &str) -> Result<Faults, CliError> {
    let f: Faults = serde_json::from_str(json)?;
    f.validate()?;
    Ok(f)
}

fn config(args: &Args) -> Result<MockConfig, CliError> {
    let mut cfg = MockConfig {
        seed: args.seed,
        alerts_per_tenant: args.alerts_per_tenant,
        risky_users_per_tenant: args.risky_users_per_tenant,
        detections_per_tenant: args.detections_per_tenant,
        token_ttl: Duration::from_secs(args.token_ttl_secs),
        ..MockConfig::default()
    };
    if let Some(j) = &args.faults_json {
        cfg.faults = parse_faults(j)?;
    }
    let mut per = HashMap::new();
    for item in &args.provider_faults {
        let (name, json) = item
            .split_once('=')
            .ok_or_else(|| CliError::FaultsArg(item.clone()))?;
        let kind = ProviderKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| CliError::FaultsArg(item.clone()))?;
        per.insert(kind, parse_faults(json)?);
    }
    cfg.provider_faults = per;
    Ok(cfg)
}

async fn run(args: Args) -> Result<(), CliError> {
    let cfg = config(&args)?;
    let bind = |port: u16| tokio::net::TcpListener::bind((args.bind, port));
    let fleet = MockFleet::start_on(
        cfg,
        bind(args.graph_port).await?,
        bind(args.falcon_port).await?,
        bind(args.ocsf_port).await?,
    )
    .await?;
    for p in fleet.providers() {
        let tenants: Vec<serde_json::Value> = fleet
            .scenario()
            .tenants()
            .iter()
            .map(|t| {
                let c = p.credentials(&t.id);
                serde_json::json!({
                    "tenantId": t.id,
                    "displayName": t.display_name,
                    "clientId": c.client_id,
                    "clientSecret": c.client_secret,
                    "apiToken": c.api_token,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"kind": p.kind(), "baseUrl": p.base_url(), "tenants": tenants})
        );
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    fleet.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil-mock: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
