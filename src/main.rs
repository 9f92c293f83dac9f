//! `vigil`: the command line of the Vigil gateway.
//!
//! `vigil serve` runs the gateway; with no configuration it runs the demo (SQLite in the data
//! directory and the mock provider fleet in-process). `vigil token` mints a demo token,
//! `vigil migrate` applies migrations, `vigil check-config` explains configuration mistakes,
//! `vigil providers` lists the configured providers and their capabilities, `vigil openapi`
//! prints the OpenAPI document (`--out openapi/openapi.json` regenerates the committed one).

use vigil::demo;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use vigil_gateway::Config;
use vigil_gateway::auth::{Claims, mint_hs256};
use vigil_gateway::config::load_or_create_key;

/// Parsing, merging and rendering alerts is allocation-heavy: with glibc's malloc, malloc and
/// free were a third of the gateway's CPU on an uncached 50-provider list, and freed request
/// memory kept the RSS at 1.32 × the cache bound (0.95 with mimalloc; README, Benchmarks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's tuning: when freed memory goes back to the system, and who makes it go. The only
/// unsafe code of the workspace (the lint is `deny`, not `forbid`, for this): calls into the
/// allocator's documented option and collect API.
#[allow(unsafe_code)]
mod allocator {
    use std::ffi::{c_int, c_long};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    /// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v3 `mimalloc.h`).
    const MI_OPTION_PURGE_DELAY: c_int = 15;

    /// How long freed memory stays committed before it is returned to the system (ms).
    ///
    /// Longer than the gap between a steady client's lists, so the next list reuses the pages
    /// the last one freed instead of faulting in fresh ones (with 0, a 50-provider list spent
    /// ~18% of its CPU in page faults and `madvise`); short enough that an idle gateway gives
    /// its arena memory back within a second ([`purge_periodically`]). Side by side with 0
    /// (README, Benchmarks): 50-provider list CPU -15..20%, cache-fill CPU -15..25%, RSS at the
    /// cache bound 0.99-1.13 x the bound instead of 0.95-0.99. `MIMALLOC_PURGE_DELAY` in the
    /// environment wins.
    const PURGE_DELAY_MS: c_long = 500;

    unsafe extern "C" {
        fn mi_option_set(option: c_int, value: c_long);
        fn mi_collect(force: bool);
    }

    /// Sets [`PURGE_DELAY_MS`] unless the environment sets mimalloc's purge delay itself.
    pub fn set_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: mi_option_set stores an option value (thread-safe in mimalloc); the
        // signature and the option's index match the vendored mimalloc.h.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
    }

    /// Worker parks so far: under load workers park hundreds of times a second; a tick of
    /// [`purge_periodically`] that saw at most [`IDLE_PARKS`] of them found the gateway idle.
    static PARKS: AtomicU64 = AtomicU64::new(0);

    /// Parks in one tick that still count as idle (the tick's own wake-up and the outbox poll
    /// park a worker a few times).
    const IDLE_PARKS: u64 = 8;

    /// mimalloc runs a due purge only when some thread allocates, frees or collects: an idle
    /// gateway would keep what its last requests freed. This task collects on whichever worker
    /// runs it, which also purges every arena range whose delay has passed; and once a tick
    /// finds the gateway idle, it purges all free arena memory at once (one forced collect per
    /// idle spell). Pages other workers still hold go back when they park
    /// ([`collect_when_idle`]).
    pub async fn purge_periodically() {
        let mut tick = tokio::time::interval(Duration::from_millis(PURGE_DELAY_MS.unsigned_abs()));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut parks = PARKS.load(Ordering::Relaxed);
        let mut purged_since_busy = false;
        loop {
            tick.tick().await;
            let now = PARKS.load(Ordering::Relaxed);
            let idle = now.saturating_sub(parks) <= IDLE_PARKS;
            parks = now;
            let force = idle && !purged_since_busy;
            purged_since_busy = idle;
            // SAFETY: as in `collect_when_idle`; `force` also purges free memory whose delay
            // has not passed yet.
            unsafe { mi_collect(force) }
        }
    }

    /// How often a worker thread that runs out of work hands its empty pages back.
    const COLLECT_EVERY: Duration = Duration::from_millis(100);

    thread_local! {
        static LAST_COLLECT: std::cell::Cell<Option<Instant>> =
            const { std::cell::Cell::new(None) };
    }

    /// Called when a runtime worker parks: pages it emptied stay in its own heap until it
    /// allocates again, which an idle worker does not do; collected here (at most every
    /// [`COLLECT_EVERY`] per thread, so a busy worker that parks briefly pays nothing), they
    /// go back to the arenas and from there to the system.
    pub fn collect_when_idle() {
        PARKS.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let due = LAST_COLLECT.with(|last| match last.get() {
            Some(t) if now.duration_since(t) < COLLECT_EVERY => false,
            _ => {
                last.set(Some(now));
                true
            }
        });
        if due {
            // SAFETY: mi_collect collects the calling thread's heap and purges arena ranges
            // that are due; it takes a plain bool (mimalloc.h).
            unsafe { mi_collect(false) }
        }
    }
}

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Federated security-alert gateway with a Microsoft Graph-compatible API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the demo when no provider is configured).
    Serve(ServeArgs),
    /// Print a bearer token the demo accepts (HS256 only).
    Token(TokenArgs),
    /// Apply database migrations and exit.
    Migrate(CommonArgs),
    /// Validate a configuration and name every mistake.
    CheckConfig(CommonArgs),
    /// List the configured providers and their capabilities.
    Providers(CommonArgs),
    /// List or re-drive write-back outbox rows (reads the database directly).
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Print the OpenAPI document (or write it to a file).
    Openapi(OpenapiArgs),
}

#[derive(Args)]
struct OpenapiArgs {
    /// Write the document to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// A tenant's outbox rows in one state (pending, delivered or dead), oldest first, as JSON
    /// lines.
    List {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "dead")]
        state: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Moves a dead-lettered row back to pending; a running gateway delivers it.
    Retry {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        tenant: String,
        id: i64,
    },
}

#[derive(Args, Clone)]
struct CommonArgs {
    /// TOML configuration file (every key can also be set as VIGIL_<KEY>, nested with `__`).
    #[arg(long, env = "VIGIL_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, generated keys).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on (port 0: a free port; the log says which).
    #[arg(long)]
    listen: Option<String>,
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Tenant id (default: the demo's first tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// Comma-separated permissions (default: read and write on alerts and identity risk).
    #[arg(long, value_delimiter = ',')]
    scopes: Option<Vec<String>>,
    /// Mint an application token instead (no user): these comma-separated app roles, e.g.
    /// `Vigil.Admin,SecurityEvents.ReadWrite.All` (operator routes need the `Vigil.Admin` role).
    #[arg(long, value_delimiter = ',', conflicts_with = "scopes")]
    roles: Option<Vec<String>>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 8 * 3600)]
    ttl_secs: i64,
    /// List the demo's tenants instead.
    #[arg(long)]
    list_tenants: bool,
}

/// The object id of the demo's analyst (a fixed, made-up GUID).
const DEMO_USER_OBJECT_ID: &str = "5f0e2a6c-0de0-4d3e-9a11-7c2f00d3a11a";

/// The configuration; with no provider and no `auth.mode` configured, the demo's (HS256).
fn load(common: &CommonArgs) -> Result<Config, String> {
    let mut cfg = Config::load_unchecked(common.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(d) = &common.data_dir {
        cfg.config.data_dir = d.clone();
    }
    demo::configure_auth(&mut cfg);
    cfg.check().map_err(|e| e.to_string())
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VIGIL_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn"));
    let json = std::env::var("VIGIL_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // Colours only for a person at a terminal; files and log shippers get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        // One JSON object a line; the fields of the enclosing spans come along (`span` is the
        // innermost, `spans` all of them), so every line of a request carries its request_id.
        builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    allocator::set_purge_delay();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(allocator::collect_when_idle)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => {
                init_tracing();
                tokio::spawn(allocator::purge_periodically());
                serve(args).await
            }
            Command::Token(args) => token(args),
            Command::Migrate(args) => {
                init_tracing();
                migrate(args).await
            }
            Command::CheckConfig(args) => check_config(args),
            Command::Providers(args) => providers(args),
            Command::Outbox(cmd) => outbox(cmd).await,
            Command::Openapi(args) => openapi(args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let mut cfg = load(&args.common)?;
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    for w in &cfg.warnings {
        tracing::warn!("configuration: {w}");
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let demo = if cfg.providers.is_empty() {
        Some(demo::start(&mut cfg).await?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let data_dir = cfg.data_dir.clone();
    let auth_mode = cfg.auth.mode.clone();
    if demo.is_some() {
        tracing::info!(auth_mode = %auth_mode, "demo: no provider configured, running the mock fleet");
    }
    let state = vigil_gateway::build_state(cfg)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(%addr, "vigil listening");
    if let Some(d) = &demo {
        demo::print_instructions(&addr, &data_dir, &auth_mode, d);
    }
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            shutdown.cancel();
        });
    }
    let served = vigil_gateway::run(state, listener, shutdown).await;
    if let Some(d) = demo {
        d.fleet.shutdown().await;
    }
    tracing::info!("vigil stopped");
    served.map_err(|e| e.to_string())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn token(args: TokenArgs) -> Result<(), String> {
    if args.list_tenants {
        for t in vigil_mock::scenario::TenantSpec::defaults() {
            println!("{}\t{}", t.id, t.display_name);
        }
        return Ok(());
    }
    let cfg = load(&args.common)?;
    if cfg.auth.mode != "hs256" {
        return Err(format!(
            "vigil token only mints HS256 tokens, and auth.mode is '{}': get tokens from your identity provider",
            cfg.auth.mode
        ));
    }
    let key = load_or_create_key(&cfg.hs256_key_path())
        .map_err(|e| format!("cannot read or create the signing key: {e}"))?;
    let tenant = match args.tenant {
        Some(t) => t,
        None => vigil_mock::scenario::TenantSpec::defaults()
            .first()
            .map(|t| t.id.clone())
            .ok_or("no demo tenant")?,
    };
    let domain = vigil_mock::scenario::TenantSpec::defaults()
        .into_iter()
        .find(|t| t.id.eq_ignore_ascii_case(&tenant))
        .map(|t| t.domain)
        .unwrap_or_else(|| "vigil.local".to_string());
    let scopes = args.scopes.unwrap_or_else(|| {
        [
            "SecurityEvents.Read.All",
            "SecurityEvents.ReadWrite.All",
            "IdentityRiskEvent.Read.All",
            "IdentityRiskyUser.Read.All",
            "IdentityRiskyUser.ReadWrite.All",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    });
    let now = chrono::Utc::now().timestamp();
    let issued = Claims {
        iss: Some(cfg.auth.issuer.clone()),
        aud: Some(cfg.auth.audience.clone()),
        exp: now + args.ttl_secs.max(60),
        nbf: Some(now - 30),
        iat: Some(now),
        tid: Some(tenant),
        ..Claims::default()
    };
    let claims = match args.roles {
        // an application token: no user
        Some(roles) => Claims {
            sub: Some("vigil-demo-app".into()),
            roles,
            appid: Some("vigil-cli-app".into()),
            ..issued
        },
        None => Claims {
            sub: Some("vigil-demo-analyst".into()),
            oid: Some(DEMO_USER_OBJECT_ID.into()),
            scp: Some(scopes.join(" ")),
            appid: Some("vigil-cli".into()),
            upn: Some(format!("analyst@{domain}")),
            ..issued
        },
    };
    let token = mint_hs256(&key, &claims).map_err(|e| format!("cannot sign: {e}"))?;
    println!("{token}");
    Ok(())
}

async fn outbox(cmd: OutboxCommand) -> Result<(), String> {
    use vigil_gateway::routes::alerts_write::{OutboxRow, parse_state};
    let common = match &cmd {
        OutboxCommand::List { common, .. } | OutboxCommand::Retry { common, .. } => common,
    };
    let cfg = load(common)?;
    let store = vigil_store::connect(&cfg.database_url())
        .await
        .map_err(|e| e.to_string())?;
    match cmd {
        OutboxCommand::List {
            tenant,
            state,
            limit,
            ..
        } => {
            let state = parse_state(&state)
                .ok_or_else(|| format!("unknown state '{state}': pending, delivered or dead"))?;
            let rows = store
                .list_outbox(&tenant, state, limit)
                .await
                .map_err(|e| e.to_string())?;
            for r in rows {
                let line = serde_json::to_string(&OutboxRow::from(r)).map_err(|e| e.to_string())?;
                println!("{line}");
            }
            Ok(())
        }
        OutboxCommand::Retry { tenant, id, .. } => {
            if store
                .redrive(&tenant, id, chrono::Utc::now())
                .await
                .map_err(|e| e.to_string())?
            {
                println!("outbox row {id} is pending again");
                Ok(())
            } else {
                Err(format!(
                    "no dead-lettered outbox row {id} in tenant {tenant}"
                ))
            }
        }
    }
}

async fn migrate(args: CommonArgs) -> Result<(), String> {
    let cfg = load(&args)?;
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| e.to_string())?;
    let store = vigil_store::connect(&cfg.database_url())
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    println!("migrations applied ({:?})", store.engine());
    Ok(())
}

fn check_config(args: CommonArgs) -> Result<(), String> {
    let cfg = load(&args)?;
    if let Err(e) = vigil_gateway::app::build_providers(&cfg) {
        return Err(format!("invalid configuration:\n  - {e}"));
    }
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "configuration is valid: {} provider(s), auth.mode = {}{}",
        cfg.providers.len(),
        cfg.auth.mode,
        if cfg.providers.is_empty() {
            " (vigil serve will run the demo)"
        } else {
            ""
        }
    );
    Ok(())
}

fn providers(args: CommonArgs) -> Result<(), String> {
    let cfg = load(&args)?;
    let built = vigil_gateway::app::build_providers(&cfg).map_err(|e| e.to_string())?;
    let list: Vec<serde_json::Value> = built
        .iter()
        .map(|p| serde_json::json!({"info": p.info(), "capabilities": p.capabilities()}))
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn openapi(args: OpenapiArgs) -> Result<(), String> {
    let json = vigil_gateway::openapi::document_json();
    match args.out {
        Some(path) => {
            std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            print!("{json}");
            Ok(())
        }
    }
}
