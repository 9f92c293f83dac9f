//! Configuration: defaults embedded in the binary, then a TOML file, then `VIGIL_*` environment
//! variables (nested keys with `__`, e.g. `VIGIL_FEDERATION__PROVIDER_TIMEOUT_MS=5000`).
//!
//! [`Config::problems`] explains every mistake with the key it concerns, for
//! `vigil check-config` and for a refusal to start.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vigil_providers::falcon::FalconConfig;
use vigil_providers::graph::GraphConfig;
use vigil_providers::ocsf::OcsfConfig;

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
    /// Upstream providers, each bound to one tenant.
    pub providers: Vec<ProviderConfig>,
}

/// Inbound token verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `hs256` (shared key; the demo) — the production JWKS mode comes with its own issue.
    pub mode: String,
    /// HS256 key file; empty: `{data_dir}/token-signing.key`, generated on first start.
    pub hs256_key_file: String,
    pub issuer: String,
    pub audience: String,
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
        let mut fig = Figment::from(Toml::string(DEFAULTS_TOML));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("VIGIL_").split("__"));
        Self::from_figment(fig)
    }

    /// Defaults with overrides given as a value (for tests and the demo).
    pub fn from_overrides<T: Serialize>(overrides: T) -> Result<Self, ConfigError> {
        Self::from_figment(
            Figment::from(Toml::string(DEFAULTS_TOML)).merge(Serialized::defaults(overrides)),
        )
    }

    fn from_figment(fig: Figment) -> Result<Self, ConfigError> {
        let cfg: Config = fig.extract().map_err(|e| {
            ConfigError::Invalid(e.into_iter().map(|e| describe_figment_error(&e)).collect())
        })?;
        let problems = cfg.problems();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid(problems))
        }
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
        if self.auth.mode != "hs256" {
            p.push(format!(
                "auth.mode: '{}' is not supported (supported: hs256)",
                self.auth.mode
            ));
        }
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
