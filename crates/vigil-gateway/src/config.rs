//! Configuration: defaults embedded in the binary, then a TOML file, then `VIGIL_*` environment
//! variables (nested keys with `__`, e.g. `VIGIL_FEDERATION__PROVIDER_TIMEOUT_MS=5000`).
//!
//! [`Config::problems`] explains every mistake with the key it concerns, for
//! `vigil check-config` and for a refusal to start.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use http::HeaderValue;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vigil_providers::falcon::FalconConfig;
use vigil_providers::graph::GraphConfig;
use vigil_providers::ocsf::OcsfConfig;

mod secrets;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the log says which).
    pub listen: String,
    /// Where the SQLite database and generated keys live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty: `sqlite://{data_dir}/vigil.db`.
    pub database_url: String,
    /// Base URL clients reach the gateway at (for `@odata.nextLink`); empty: from the `Host`
    /// header of each request.
    pub public_url: String,
    pub auth: AuthConfig,
    pub federation: FederationConfig,
    pub cache: CacheConfig,
    /// Write-back delivery: the outbox worker (`[writeback]`).
    #[serde(default)]
    pub writeback: crate::writeback::WritebackConfig,
    /// Per-provider protection: breaker, retry, rate budget, stale-if-error (`[resilience]`).
    #[serde(default)]
    pub resilience: crate::resilience::ResilienceConfig,
    /// Abuse limits: rate, sizes, timeouts, fan-out width.
    pub limits: LimitsConfig,
    /// Cross-origin access for browser dashboards (off unless origins are listed).
    pub cors: CorsConfig,
    /// Upstream providers, each bound to one tenant. Their secrets may be given as
    /// `<key>_env` / `<key>_file` (see [`secrets`]); they are read when the file is loaded.
    pub providers: Vec<ProviderConfig>,
    /// Not mistakes, but worth fixing: secrets written in the configuration.
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// `/metrics`: on or off, and an optional scrape token (`[metrics]`).
    #[serde(default)]
    pub metrics: crate::metrics::MetricsConfig,
    /// On SIGTERM/ctrl-c: how long in-flight requests and then the write-back worker's current
    /// delivery may take before the process exits anyway.
    pub shutdown_grace_ms: u64,
}

/// Inbound token verification.
///
/// `jwks` (production): RS256/ES256 tokens from Entra ID (or any OIDC issuer), checked against
/// `issuers` and `audiences`. Configure the audiences of tokens issued *for the gateway*:
/// `api://<app-id>` (v1 tokens, and what the Python Graph SDK gets when it asks for the scope
/// `api://<app-id>/.default`) and the bare app id GUID (v2 tokens). Tokens issued for Microsoft
/// Graph itself (`aud` `https://graph.microsoft.com`) carry a `nonce` header that makes their
/// signature unverifiable outside Graph, so listing that audience does not help.
/// `hs256` (the demo and tests, only when set explicitly; the default is `jwks`): a shared key
/// in `hs256_key_file`, `issuer` and `audience`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `jwks` or `hs256`.
    pub mode: String,
    /// HS256 key file; empty: `{data_dir}/token-signing.key`, generated on first start.
    pub hs256_key_file: String,
    /// Issuer of HS256 tokens (what `vigil token` mints).
    pub issuer: String,
    /// Audience of HS256 tokens (what `vigil token` mints).
    pub audience: String,
    /// `jwks`: the Entra tenant (GUID) whose tokens alone are accepted, or `common` /
    /// `organizations` for a multi-tenant gateway; also fills `{tenant}` in `jwks_url`.
    pub tenant: String,
    /// `jwks`: key set URL; `{tenant}` is replaced by `tenant`.
    pub jwks_url: String,
    /// `jwks`: accepted issuers, `{tid}` standing for the token's tenant.
    pub issuers: Vec<String>,
    /// `jwks`: accepted audiences (at least one).
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp`/`nbf`, in seconds (at most 300).
    pub leeway_secs: u64,
    /// `jwks`: at most one key-set fetch per this many seconds (unknown `kid`s wait for it).
    pub jwks_min_refresh_secs: u64,
    /// `jwks`: how long fetched keys are used before they are fetched again.
    pub jwks_cache_ttl_secs: u64,
    /// `jwks`: timeout of one key-set fetch.
    pub jwks_fetch_timeout_ms: u64,
    /// How long a token that verified is remembered (never past its `exp`); 0: every request
    /// verifies its token (auth::verified).
    pub verified_token_cache_secs: u64,
    /// At most this many remembered tokens.
    pub verified_token_cache_entries: u64,
}

/// Abuse limits. A rate of 0 turns that limit off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sustained requests per minute per tenant (token bucket refill).
    pub tenant_per_minute: u32,
    /// Bucket size per tenant (requests allowed at once).
    pub tenant_burst: u32,
    /// Sustained requests per minute per client app per tenant (Graph: 150/min for alerts).
    pub app_per_minute: u32,
    /// Bucket size per client app per tenant.
    pub app_burst: u32,
    /// Largest request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Longest request target (path and query), in bytes (414 beyond).
    pub max_url_bytes: usize,
    /// Largest total of header names and values, in bytes (431 beyond).
    pub max_header_bytes: usize,
    /// Time a client gets to send its request line and headers (the connection is closed
    /// beyond: a slow-header client cannot hold a connection open).
    pub header_read_timeout_ms: u64,
    /// Time a client gets to send its request body (408 beyond).
    pub body_read_timeout_ms: u64,
    /// Time a request may take end to end (504 beyond).
    pub request_timeout_ms: u64,
    /// Providers asked at the same time by one request.
    pub max_concurrent_providers: usize,
}

/// CORS for browser dashboards; empty `allowed_origins` turns it off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins (`https://soc.example.com`); `*` is refused (the API takes credentials).
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    /// Response headers scripts may read.
    pub exposed_headers: Vec<String>,
    pub max_age_secs: u64,
}

/// Fan-out behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// Per-provider timeout of one call.
    pub provider_timeout_ms: u64,
    /// `$top` per provider when the caller gives none.
    pub default_top: u32,
    /// How many items a `$count` may walk before it gives up with a 400.
    pub max_count_items: usize,
    /// Key that signs `$skiptoken`s; empty: `{data_dir}/skiptoken.key`, generated on first
    /// start. Replicas must share it.
    pub skiptoken_key_file: String,
    /// How duplicates across providers are recognised.
    pub fingerprint: vigil_model::merge::FingerprintRule,
}

/// The provider-answer cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    pub ttl_secs: u64,
    /// Memory bound, in bytes of cached answers.
    pub max_bytes: u64,
}

/// One upstream provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProviderConfig {
    Graph(GraphConfig),
    Falcon(FalconConfig),
    Ocsf(OcsfConfig),
}

impl ProviderConfig {
    pub fn name(&self) -> &str {
        match self {
            ProviderConfig::Graph(c) => &c.name,
            ProviderConfig::Falcon(c) => &c.name,
            ProviderConfig::Ocsf(c) => &c.name,
        }
    }

    pub fn tenant_id(&self) -> &str {
        match self {
            ProviderConfig::Graph(c) => &c.tenant_id,
            ProviderConfig::Falcon(c) => &c.tenant_id,
            ProviderConfig::Ocsf(c) => &c.tenant_id,
        }
    }
}

/// A configuration read from its sources but not yet checked.
#[derive(Debug)]
pub struct Unchecked {
    pub config: Config,
    /// Whether the file or the environment set `auth.mode` (rather than the defaults): the
    /// demo turns on HS256 only when nobody chose a mode.
    pub auth_mode_given: bool,
}

impl Unchecked {
    /// The configuration, or every problem it has.
    pub fn check(self) -> Result<Config, ConfigError> {
        let problems = self.config.problems();
        if problems.is_empty() {
            Ok(self.config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// Defaults compiled into the binary.
pub const DEFAULTS_TOML: &str = include_str!("defaults.toml");

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(String),
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<String>),
}

impl Config {
    /// Defaults, then `file` (when given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_unchecked(file)?.check()
    }

    /// Like [`Config::load`], but not yet checked: a caller (the demo) may complete the
    /// configuration before [`Unchecked::check`] validates it.
    pub fn load_unchecked(file: Option<&Path>) -> Result<Unchecked, ConfigError> {
        // The file and the environment; the defaults go under them below.
        let mut given = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            given = given.merge(Toml::file(path));
        }
        given = given.merge(
            Env::prefixed("VIGIL_")
                // Variables the CLI, the logger and the test suites read themselves
                // (VIGIL_CONFIG, VIGIL_LOG, VIGIL_LOG_FORMAT, VIGIL_TEST_*) are not keys.
                .filter(|k| {
                    let k = k.as_str().to_ascii_lowercase();
                    !matches!(k.as_str(), "config" | "log" | "log_format")
                        && !k.starts_with("test_")
                })
                .split("__"),
        );
        let auth_mode_given = given.find_value("auth.mode").is_ok();
        let fig = Figment::from(Toml::string(DEFAULTS_TOML)).merge(given);
        Ok(Unchecked {
            config: Self::extract(fig)?,
            auth_mode_given,
        })
    }

    /// Defaults with overrides given as a value (for tests and the demo).
    pub fn from_overrides<T: Serialize>(overrides: T) -> Result<Self, ConfigError> {
        Self::from_figment(
            Figment::from(Toml::string(DEFAULTS_TOML)).merge(Serialized::defaults(overrides)),
        )
    }

    fn from_figment(fig: Figment) -> Result<Self, ConfigError> {
        Unchecked {
            config: Self::extract(fig)?,
            auth_mode_given: true,
        }
        .check()
    }

    fn extract(fig: Figment) -> Result<Self, ConfigError> {
        let invalid = |e: figment::Error| {
            ConfigError::Invalid(e.into_iter().map(|e| describe_figment_error(&e)).collect())
        };
        // Provider secrets given as `<key>_env` / `<key>_file` are read first.
        let providers: Vec<serde_json::Value> = fig.extract_inner("providers").map_err(invalid)?;
        let resolved = secrets::resolve(providers).map_err(ConfigError::Invalid)?;
        let mut cfg: Config = fig
            .merge(Serialized::default("providers", resolved.providers))
            .extract()
            .map_err(invalid)?;
        cfg.warnings = resolved.warnings;
        Ok(cfg)
    }

    /// Every semantic mistake, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            p.push(format!(
                "listen: '{}' is not an address like 127.0.0.1:8080",
                self.listen
            ));
        }
        let known_scheme = ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|s| self.database_url.starts_with(s));
        if !self.database_url.is_empty() && !known_scheme {
            p.push("database_url: must start with sqlite:, postgres:// or postgresql://".into());
        }
        if !self.public_url.is_empty() && url::Url::parse(&self.public_url).is_err() {
            p.push(format!("public_url: '{}' is not a URL", self.public_url));
        }
        p.extend(self.auth_problems());
        p.extend(self.limits_problems());
        if self.federation.provider_timeout_ms == 0 {
            p.push("federation.provider_timeout_ms: must be greater than 0".into());
        }
        if !(1..=1000).contains(&self.federation.default_top) {
            p.push("federation.default_top: must be between 1 and 1000".into());
        }
        if self.cache.max_bytes < 1024 * 1024 {
            p.push("cache.max_bytes: must be at least 1048576 (1 MiB)".into());
        }
        p.extend(self.writeback.problems());
        p.extend(self.resilience.problems());
        let mut seen = std::collections::HashSet::new();
        for (i, prov) in self.providers.iter().enumerate() {
            let at = format!("providers[{i}]");
            if prov.name().is_empty() {
                p.push(format!("{at}.name: must not be empty"));
            } else if !prov
                .name()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                p.push(format!(
                    "{at}.name: '{}' may only hold letters, digits, '-' and '_'",
                    prov.name()
                ));
            } else if !seen.insert((prov.tenant_id().to_string(), prov.name().to_string())) {
                p.push(format!(
                    "{at}.name: '{}' is used twice for tenant {}",
                    prov.name(),
                    prov.tenant_id()
                ));
            }
            if uuid::Uuid::parse_str(prov.tenant_id()).is_err() {
                p.push(format!(
                    "{at}.tenant_id: '{}' is not a tenant GUID",
                    prov.tenant_id()
                ));
            }
        }
        p
    }

    fn auth_problems(&self) -> Vec<String> {
        let a = &self.auth;
        let mut p = Vec::new();
        match a.mode.as_str() {
            "hs256" => {}
            "jwks" => {
                let url = self.jwks_url();
                match url::Url::parse(&url) {
                    Ok(u) if u.scheme() == "https" => {}
                    Ok(u)
                        if u.scheme() == "http"
                            && matches!(
                                u.host_str(),
                                Some("127.0.0.1" | "localhost" | "[::1]")
                            ) => {}
                    _ => p.push(format!(
                        "auth.jwks_url: '{url}' must be an https URL (http only for localhost)"
                    )),
                }
                if a.audiences.iter().all(|s| s.trim().is_empty()) {
                    p.push(
                        "auth.audiences: auth.mode is jwks (the default) and no audience is \
                        listed: list the audiences of tokens issued for the gateway, e.g. \
                        [\"api://<gateway app id>\", \"<gateway app id>\"] (tokens for \
                        https://graph.microsoft.com cannot be verified outside Graph), or set \
                        auth.mode = \"hs256\" for a demo"
                            .into(),
                    );
                }
                if a.audiences
                    .iter()
                    .any(|s| s.contains("graph.microsoft.com"))
                {
                    p.push(
                        "auth.audiences: tokens issued for Microsoft Graph carry a nonce \
                        and cannot be verified by the gateway; register the gateway as an API \
                        and use its api://<app id>"
                            .into(),
                    );
                }
                if a.issuers.iter().any(|s| url::Url::parse(s).is_err()) {
                    p.push(
                        "auth.issuers: every issuer must be a URL ({tid} may stand for the tenant)"
                            .into(),
                    );
                }
                let t = a.tenant.trim();
                if !matches!(t, "common" | "organizations") && uuid::Uuid::parse_str(t).is_err() {
                    p.push(format!(
                        "auth.tenant: '{t}' must be a tenant GUID, 'common' or 'organizations'"
                    ));
                }
                if a.jwks_min_refresh_secs == 0 {
                    p.push("auth.jwks_min_refresh_secs: must be at least 1 (it protects the key endpoint from floods of unknown kids)".into());
                }
                if a.jwks_cache_ttl_secs < a.jwks_min_refresh_secs {
                    p.push(
                        "auth.jwks_cache_ttl_secs: must not be shorter than jwks_min_refresh_secs"
                            .into(),
                    );
                }
                if a.jwks_fetch_timeout_ms == 0 {
                    p.push("auth.jwks_fetch_timeout_ms: must be greater than 0".into());
                }
            }
            other => p.push(format!(
                "auth.mode: '{other}' is not supported (supported: jwks, hs256)"
            )),
        }
        if a.verified_token_cache_secs > 300 {
            p.push("auth.verified_token_cache_secs: at most 300 (a verified token is re-checked at least every 5 minutes)".into());
        }
        if a.verified_token_cache_secs > 0 && a.verified_token_cache_entries == 0 {
            p.push("auth.verified_token_cache_entries: must be at least 1 (or set verified_token_cache_secs = 0)".into());
        }
        if a.leeway_secs > 300 {
            p.push("auth.leeway_secs: at most 300 (a small clock skew, not a grace period)".into());
        }
        p
    }

    fn limits_problems(&self) -> Vec<String> {
        let l = &self.limits;
        let mut p = Vec::new();
        if l.tenant_per_minute > 0 && l.tenant_burst == 0 {
            p.push("limits.tenant_burst: must be at least 1 when tenant_per_minute is set".into());
        }
        if l.app_per_minute > 0 && l.app_burst == 0 {
            p.push("limits.app_burst: must be at least 1 when app_per_minute is set".into());
        }
        if l.max_body_bytes < 1024 {
            p.push("limits.max_body_bytes: must be at least 1024".into());
        }
        if l.max_url_bytes < 256 {
            p.push("limits.max_url_bytes: must be at least 256".into());
        }
        if l.max_header_bytes < 1024 {
            p.push("limits.max_header_bytes: must be at least 1024".into());
        }
        if l.header_read_timeout_ms == 0 || l.body_read_timeout_ms == 0 || l.request_timeout_ms == 0
        {
            p.push(
                "limits.header_read_timeout_ms / body_read_timeout_ms / request_timeout_ms: must be greater than 0".into(),
            );
        }
        if l.request_timeout_ms <= self.federation.provider_timeout_ms {
            p.push(format!(
                "limits.request_timeout_ms: must exceed federation.provider_timeout_ms ({}), or \
                 every slow provider turns a 206 into a 504",
                self.federation.provider_timeout_ms
            ));
        }
        if l.max_concurrent_providers == 0 {
            p.push("limits.max_concurrent_providers: must be at least 1".into());
        }
        for o in &self.cors.allowed_origins {
            if o == "*" {
                p.push(
                    "cors.allowed_origins: '*' is not allowed; list the dashboard origins".into(),
                );
            } else if HeaderValue::from_str(o).is_err() || url::Url::parse(o).is_err() {
                p.push(format!(
                    "cors.allowed_origins: '{o}' is not an origin like https://soc.example.com"
                ));
            }
        }
        for m in &self.cors.allowed_methods {
            if http::Method::from_bytes(m.as_bytes()).is_err() {
                p.push(format!("cors.allowed_methods: '{m}' is not a method"));
            }
        }
        for h in self
            .cors
            .allowed_headers
            .iter()
            .chain(&self.cors.exposed_headers)
        {
            if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                p.push(format!("cors: '{h}' is not a header name"));
            }
        }
        p
    }

    /// The JWKS URL with `{tenant}` filled in.
    pub fn jwks_url(&self) -> String {
        self.auth
            .jwks_url
            .replace("{tenant}", self.auth.tenant.trim())
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("vigil.db").display())
        } else {
            self.database_url.clone()
        }
    }

    pub fn hs256_key_path(&self) -> PathBuf {
        if self.auth.hs256_key_file.is_empty() {
            self.data_dir.join("token-signing.key")
        } else {
            PathBuf::from(&self.auth.hs256_key_file)
        }
    }

    pub fn skiptoken_key_path(&self) -> PathBuf {
        if self.federation.skiptoken_key_file.is_empty() {
            self.data_dir.join("skiptoken.key")
        } else {
            PathBuf::from(&self.federation.skiptoken_key_file)
        }
    }
}

fn describe_figment_error(e: &figment::Error) -> String {
    let path = e.path.join(".");
    if path.is_empty() {
        e.kind.to_string()
    } else {
        format!("{path}: {}", e.kind)
    }
}

/// Reads a key file, creating it with 32 random bytes (hex) when missing; the file is made
/// readable by its owner only.
pub fn load_or_create_key(path: &Path) -> std::io::Result<Vec<u8>> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let key = text.trim().as_bytes().to_vec();
        if key.len() >= 32 {
            return Ok(key);
        }
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} holds a key shorter than 32 bytes", path.display()),
        ));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    match write_private(path, key.as_bytes()) {
        Ok(()) => Ok(key.into_bytes()),
        // Another process (a second replica on a shared volume) created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)?;
            Ok(text.trim().as_bytes().to_vec())
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
