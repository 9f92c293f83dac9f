//! Microsoft Graph security API adapter: `/security/alerts` (v1.0 or beta) and Identity
//! Protection (`riskyUsers`, their history and actions, `riskDetections`).
//!
//! Vigil's common schema *is* Graph's, so there is no mapping to speak of: alerts and identity
//! records pass through as Graph sent them, undeclared properties included
//! (`additional_data`). What this module adds is the client side of Graph's contract:
//!
//! - **Tokens**: OAuth2 client credentials against Entra's v2 token endpoint for the configured
//!   tenant (or any configured token URL), cached until shortly before expiry and refreshed
//!   once when Graph answers `401` (see [`crate::oauth2`]).
//! - **Queries**: the gateway hands over its canonical `$filter`/`$orderby` text, which Graph
//!   evaluates itself, so Graph pushes down everything; `$top` is clamped to Graph's 1000.
//!   When only a [`PushDown`](crate::PushDown) is given it is written as an equivalent `$filter`.
//! - **Paging**: the cursor is Graph's absolute `@odata.nextLink`, requested verbatim. Because a
//!   cursor comes back from a client (inside the gateway's skiptoken), it is only followed when
//!   it points at the configured Graph origin and the same collection: a tampered cursor could
//!   otherwise send the tenant's bearer token to any host. A nextLink Graph itself sends that
//!   fails the same test is reported as an unreadable answer rather than handed out.
//! - **Updates**: `PATCH` with only the changed updatable fields (`comments` and `tags` as full
//!   lists, since Graph replaces them) plus the mandatory `vendorInformation`; Graph answers
//!   `204` (or `200` with a representation), both success. Graph routes an update to the
//!   product named in `vendorInformation`, so the adapter sends the alert's *own*
//!   `vendorInformation` (remembered from the alerts it read, or read once when it has not
//!   seen the alert), whatever label of the connection the gateway's caller used.
//! - **Throttling**: `429`/`503` with `Retry-After`, handled by [`crate::http`].
//! - **Evolvable enums**: every Identity Protection read sends
//!   `Prefer: include-unknown-enum-members`, so Graph returns the evolvable members
//!   (`riskDetail` `adminConfirmedAccountSafe`, `activity` `servicePrincipal`, ...) instead of
//!   `unknownFutureValue`. The gateway caches and folds one answer for every caller and
//!   substitutes `unknownFutureValue` itself for callers that did not send the preference;
//!   forwarding it per caller instead would let one caller's cached answer decide what
//!   another sees.
//!
//! Where we differ from Graph's SDKs: no redirects are followed and no automatic multi-retry;
//! a long `Retry-After` is returned to the federation engine as `Throttled` instead of waited
//! out, because a fan-out query cannot sit on one provider.

mod wire;

pub use wire::MAX_TOP;

use crate::error::{ProviderError, ProviderErrorKind};
use crate::http::{HttpClient, HttpConfig};
use crate::oauth2::{ClientCredentials, TokenSource, send_authorized};
use crate::provider::{
    AlertChange, Capabilities, Health, ListRequest, Page, PagingStyle, Provider, ProviderInfo,
    PushDownSupport, RiskyUserAction,
};
use async_trait::async_trait;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use url::Url;
use vigil_model::alert::SecurityVendorInformation;
use vigil_model::{Alert, RiskDetection, RiskyUser, RiskyUserHistoryItem};
use wire::{ApiRoot, Collection};

/// The public Graph endpoint.
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com";
/// The scope of an app-only Graph token.
pub const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Most pages of one user's risk history followed before giving up.
const MAX_HISTORY_PAGES: usize = 50;
/// The `Prefer` value of Identity Protection reads (see the module docs).
pub const PREFER_EVOLVABLE: &str = "include-unknown-enum-members";

/// Which `Prefer` a read sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Alerts: no preference.
    Alerts,
    /// Identity Protection: `Prefer: include-unknown-enum-members`.
    Identity,
}

/// Which Graph API version to call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApiVersion {
    #[default]
    #[serde(rename = "v1.0")]
    V1,
    #[serde(rename = "beta")]
    Beta,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

/// One Graph provider instance (one tenant's app registration), as written in the config file.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphConfig {
    /// Instance name, unique in the deployment; every error names it.
    pub name: String,
    /// The Entra tenant whose alerts this instance reads.
    pub tenant_id: String,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default)]
    pub api_version: ApiVersion,
    /// `token_url` defaults to `https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token`
    /// and `scope` to `https://graph.microsoft.com/.default`.
    pub credentials: ClientCredentials,
    #[serde(default)]
    pub http: HttpConfig,
    /// Label for `ProviderInfo::vendor` (default `Microsoft`).
    #[serde(default)]
    pub vendor: Option<String>,
    /// Label for `ProviderInfo::product` (default `Graph`).
    #[serde(default)]
    pub product: Option<String>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

impl GraphConfig {
    /// Entra's v2 token endpoint for a tenant.
    pub fn entra_token_url(tenant_id: &str) -> String {
        format!("https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token")
    }
}

/// The Graph adapter.
#[derive(Debug)]
pub struct GraphProvider {
    info: ProviderInfo,
    capabilities: Capabilities,
    http: HttpClient,
    tokens: TokenSource,
    root: ApiRoot,
    api_version: ApiVersion,
    /// `vendorInformation` of the alerts read, by Graph id (bounded; a miss costs one GET).
    vendors: moka::sync::Cache<String, SecurityVendorInformation>,
}

/// Alerts whose `vendorInformation` the adapter remembers.
const REMEMBERED_VENDORS: u64 = 100_000;

impl GraphProvider {
    pub fn new(cfg: GraphConfig) -> Result<Self, ProviderError> {
        let config_error =
            |msg: String| ProviderError::new(cfg.name.clone(), ProviderErrorKind::Config(msg));
        if cfg.name.trim().is_empty() {
            return Err(config_error("name must not be empty".into()));
        }
        let tenant_ok = !cfg.tenant_id.is_empty()
            && cfg
                .tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !tenant_ok {
            return Err(config_error(format!(
                "tenant_id '{}' is not a tenant id or domain",
                crate::http::truncate(&cfg.tenant_id, 80)
            )));
        }
        if cfg.credentials.client_id.trim().is_empty() {
            return Err(config_error(
                "credentials.client_id must not be empty".into(),
            ));
        }
        let root = ApiRoot::new(&cfg.base_url, cfg.api_version.as_str()).map_err(config_error)?;
        let http = HttpClient::new(&cfg.name, &cfg.http)?;
        let mut creds = cfg.credentials.clone();
        if creds.token_url.trim().is_empty() {
            creds.token_url = GraphConfig::entra_token_url(&cfg.tenant_id);
        }
        Url::parse(&creds.token_url)
            .map_err(|e| config_error(format!("credentials.token_url is not a URL: {e}")))?;
        if creds.scope.is_none() {
            creds.scope = Some(DEFAULT_SCOPE.to_owned());
        }
        let tokens = TokenSource::new(creds, http.clone());
        Ok(Self {
            info: ProviderInfo {
                name: cfg.name.clone(),
                kind: "graph",
                vendor: cfg.vendor.clone().unwrap_or_else(|| "Microsoft".into()),
                product: cfg.product.clone().unwrap_or_else(|| "Graph".into()),
                tenant_id: cfg.tenant_id.clone(),
            },
            capabilities: Capabilities {
                alerts: true,
                identity_risk: true,
                identity_actions: true,
                push_down: PushDownSupport {
                    statuses: true,
                    severities: true,
                    created_range: true,
                    odata_filter: true,
                    odata_orderby: true,
                },
                writable_fields: Alert::UPDATABLE.to_vec(),
                max_page_size: MAX_TOP,
                paging: PagingStyle::NextLink,
            },
            http,
            tokens,
            root,
            api_version: cfg.api_version,
            vendors: moka::sync::Cache::new(REMEMBERED_VENDORS),
        })
    }

    pub fn api_version(&self) -> ApiVersion {
        self.api_version
    }

    /// The token source (shared with clones of nothing else; exposed for diagnostics and tests).
    pub fn tokens(&self) -> &TokenSource {
        &self.tokens
    }

    fn error(&self, kind: ProviderErrorKind) -> ProviderError {
        self.http.error(kind)
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        read: Read,
    ) -> Result<T, ProviderError> {
        let response = send_authorized(&self.http, &self.tokens, |_| {
            let req = self
                .http
                .client()
                .get(url.clone())
                .header(http::header::ACCEPT, "application/json");
            match read {
                Read::Alerts => req,
                Read::Identity => req.header("Prefer", PREFER_EVOLVABLE),
            }
        })
        .await?;
        response.json(&self.http)
    }

    /// One page of a collection: the first (built from the request) or the one the cursor names.
    async fn list<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        req: &ListRequest,
        read: Read,
    ) -> Result<Page<T>, ProviderError> {
        let collection = self.root.url(segments);
        let url = match req.cursor.as_deref() {
            Some(cursor) => self
                .root
                .check_cursor(cursor, &collection)
                .map_err(|k| self.error(k))?,
            None => wire::first_page(collection.clone(), req),
        };
        let page: Collection<T> = self.get_json(&url, read).await?;
        let next_cursor = match page.next_link {
            Some(link) => {
                self.root.check_cursor(&link, &collection).map_err(|_| {
                    self.error(ProviderErrorKind::Decode(
                        "@odata.nextLink points outside the configured Graph collection".into(),
                    ))
                })?;
                Some(link)
            }
            None => None,
        };
        Ok(Page {
            items: page.value,
            next_cursor,
        })
    }

    /// One entity; `None` when Graph does not know it.
    async fn get_one<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        read: Read,
    ) -> Result<Option<T>, ProviderError> {
        if segments.last().is_none_or(|id| id.is_empty()) {
            return Ok(None);
        }
        match self.get_json(&self.root.url(segments), read).await {
            Ok(v) => Ok(Some(v)),
            Err(ProviderError {
                kind: ProviderErrorKind::NotFound,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn send_json(
        &self,
        method: reqwest::Method,
        url: &Url,
        body: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        send_authorized(&self.http, &self.tokens, |_| {
            self.http
                .client()
                .request(method.clone(), url.clone())
                .header(http::header::ACCEPT, "application/json")
                .json(body)
        })
        .await
        .map(|_| ())
    }
}

impl GraphProvider {
    fn remember_vendor(&self, alert: &Alert) {
        if !alert.id.is_empty() && is_complete(&alert.vendor_information) {
            self.vendors
                .insert(alert.id.clone(), alert.vendor_information.clone());
        }
    }
}

/// Graph needs both `provider` and `vendor` to route an update.
fn is_complete(v: &SecurityVendorInformation) -> bool {
    v.provider.as_deref().is_some_and(|p| !p.is_empty())
        && v.vendor.as_deref().is_some_and(|p| !p.is_empty())
}

#[async_trait]
impl Provider for GraphProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn list_alerts(&self, req: &ListRequest) -> Result<Page<Alert>, ProviderError> {
        let page: Page<Alert> = self
            .list(&["security", "alerts"], req, Read::Alerts)
            .await?;
        page.items.iter().for_each(|a| self.remember_vendor(a));
        Ok(page)
    }

    async fn get_alert(&self, id: &str) -> Result<Option<Alert>, ProviderError> {
        let alert: Option<Alert> = self
            .get_one(&["security", "alerts", id], Read::Alerts)
            .await?;
        if let Some(a) = &alert {
            self.remember_vendor(a);
        }
        Ok(alert)
    }

    async fn update_alert(&self, id: &str, change: &AlertChange) -> Result<(), ProviderError> {
        if id.is_empty() {
            return Err(self.error(ProviderErrorKind::NotFound));
        }
        // An incomplete vendorInformation is refused by patch_body before any request.
        let own = if is_complete(&change.vendor_information) {
            match self.vendors.get(id) {
                Some(v) => Some(v),
                None => Some(
                    self.get_alert(id)
                        .await?
                        .ok_or_else(|| self.error(ProviderErrorKind::NotFound))?
                        .vendor_information,
                ),
            }
        } else {
            None
        };
        let body = match own {
            Some(own) if is_complete(&own) && own != change.vendor_information => {
                let mut routed = change.clone();
                routed.vendor_information = own;
                wire::patch_body(&routed)
            }
            _ => wire::patch_body(change),
        }
        .map_err(|k| self.error(k))?;
        let url = self.root.url(&["security", "alerts", id]);
        self.send_json(reqwest::Method::PATCH, &url, &body).await
    }

    async fn list_risky_users(&self, req: &ListRequest) -> Result<Page<RiskyUser>, ProviderError> {
        self.list(&["identityProtection", "riskyUsers"], req, Read::Identity)
            .await
    }

    async fn get_risky_user(&self, id: &str) -> Result<Option<RiskyUser>, ProviderError> {
        self.get_one(&["identityProtection", "riskyUsers", id], Read::Identity)
            .await
    }

    async fn risky_user_history(
        &self,
        id: &str,
    ) -> Result<Vec<RiskyUserHistoryItem>, ProviderError> {
        if id.is_empty() {
            return Err(self.error(ProviderErrorKind::NotFound));
        }
        let segments = ["identityProtection", "riskyUsers", id, "history"];
        let mut req = ListRequest::default();
        let mut items = Vec::new();
        for _ in 0..MAX_HISTORY_PAGES {
            let page = self.list(&segments, &req, Read::Identity).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(next) => req.cursor = Some(next),
                None => return Ok(items),
            }
        }
        Err(self.error(ProviderErrorKind::Decode(format!(
            "risk history of '{}' has more than {MAX_HISTORY_PAGES} pages",
            crate::http::truncate(id, 80)
        ))))
    }

    async fn list_risk_detections(
        &self,
        req: &ListRequest,
    ) -> Result<Page<RiskDetection>, ProviderError> {
        self.list(
            &["identityProtection", "riskDetections"],
            req,
            Read::Identity,
        )
        .await
    }

    async fn get_risk_detection(&self, id: &str) -> Result<Option<RiskDetection>, ProviderError> {
        self.get_one(
            &["identityProtection", "riskDetections", id],
            Read::Identity,
        )
        .await
    }

    async fn risky_user_action(
        &self,
        action: RiskyUserAction,
        user_ids: &[String],
    ) -> Result<(), ProviderError> {
        if user_ids.is_empty() {
            return Ok(());
        }
        let name = match action {
            RiskyUserAction::ConfirmCompromised => "confirmCompromised",
            RiskyUserAction::Dismiss => "dismiss",
            RiskyUserAction::ConfirmSafe => "confirmSafe",
        };
        let url = self.root.url(&["identityProtection", "riskyUsers", name]);
        self.send_json(reqwest::Method::POST, &url, &wire::user_ids_body(user_ids))
            .await
    }

    /// One alert (`$top=1`): proves the token, the permission and the API in one cheap call.
    async fn health(&self) -> Health {
        let started = Instant::now();
        let url = wire::first_page(
            self.root.url(&["security", "alerts"]),
            &ListRequest {
                page_size: 1,
                ..ListRequest::default()
            },
        );
        let result = self
            .get_json::<Collection<IgnoredAny>>(&url, Read::Alerts)
            .await;
        Health {
            healthy: result.is_ok(),
            latency: started.elapsed(),
            detail: result.err().map(|e| e.to_string()),
        }
    }
}
