//! CrowdStrike Falcon Alerts API adapter (`docs/partner-formats.md` §2).
//!
//! Modelled on CrowdStrike's OAuth2 API as its Go SDK describes it (`CrowdStrike/gofalcon`:
//! `falcon/client/alerts/*`, `falcon/models/detectsapi_*`), CrowdStrike's FQL field guide for
//! alerts (`CrowdStrike/falcon-mcp`, `falcon_mcp/resources/detections.py`: severity bands,
//! statuses, verdict tags) and the published `alerts/entities/alerts/v2` sample (demisto/content,
//! MIT, in `tests/fixtures/falcon/`). HTTP and OAuth2 go through the shared [`crate::http`] and
//! [`crate::oauth2`] (token at `base_url + /oauth2/token`, one refresh on `401`).
//!
//! # Listing: query ids, then fetch entities
//!
//! `GET /alerts/queries/alerts/v2?filter=&offset=&limit=&sort=created_timestamp.desc` gives
//! composite ids; `POST /alerts/entities/alerts/v2` fetches them in batches of at most 1000
//! ([`ENTITY_BATCH`], up to [`FETCH_CONCURRENCY`] batches at once); the page keeps the order of
//! the ids. An id that vanished between the two calls is left out. The cursor is the next offset
//! as decimal digits; anything else is [`ProviderErrorKind::InvalidCursor`].
//!
//! **Offset paging over a changing set**: Falcon pages by offset over a live result set. An alert
//! created (sorting first, newest-first) between two page requests shifts everything by one, so
//! the next page repeats the last alert of the previous one; an alert closed while a
//! `status:'new'` listing is paged shifts the other way and one alert is skipped. The gateway
//! de-duplicates by id, which handles repeats; skips cannot be detected from offsets alone (real
//! Falcon offers an `after` token for stable deep paging, which this contract does not include,
//! and caps offset paging at 10 000 results).
//!
//! # Mapping (Falcon → Graph)
//!
//! | Falcon | Graph | Notes / losses |
//! |---|---|---|
//! | `composite_id` | `id` | |
//! | — | `azureTenantId` | the configured `tenant_id` |
//! | `display_name` (else `name`) | `title` | `name` is also in `alertDetections[0].name` |
//! | `description` | `description` | |
//! | `severity` 1–19 / 20–49 / 50–69 / 70–100 | `informational` / `low` / `medium` / `high` | **lossy**: Critical (≥ 90) is `high`; the number is kept as `additionalData.falconSeverity`. Out of 1–100 → `severity_name`, else `unknown` |
//! | `status` `new`, `reopened` / `in_progress` / `closed` | `newAlert` / `inProgress` / `resolved` | **lossy**: `reopened` reads `newAlert` (native value in `additionalData.falconStatus`); `closed` + tag `vigil/status/dismissed` is `dismissed` |
//! | verdict tags `true_positive` / `false_positive` / `ignored` | `feedback` `truePositive` / `falsePositive` / `benignPositive` | `ignored` ≈ benign positive (an approximation); with several verdict tags the first of that order wins |
//! | `tags` minus the 4 reserved tags | `tags` | reserved: the verdict tags and `vigil/status/dismissed` |
//! | `assigned_to_uid` (else `_name`, else `_uuid`) | `assignedTo` | |
//! | `comments[].value` | `comments` | author and time of each comment are lost |
//! | `created_timestamp` / `updated_timestamp` | `createdDateTime` / `lastModifiedDateTime` | ns → 100 ns |
//! | `timestamp` (else `first_timestamp`, else created) / `last_timestamp` | `eventDateTime` / `lastEventDateTime` | `first_timestamp` is lost when `timestamp` is set |
//! | `created_timestamp + seconds_to_resolved` when `closed` | `closedDateTime` | second precision |
//! | `confidence` | `confidence` | |
//! | `scenario` (`credential_theft` → `credentialTheft`), else `tactic` | `category` | |
//! | `mitre_attack[]` (else top-level `tactic*`/`technique*`) | `triggers` `{name: tactic/technique, type: mitreAttack, value: "TA0006 Credential Access"}` | `objective`, `pattern_id` are not mapped |
//! | `type`, `product`, `name` | `alertDetections[0]` `{detectionType, method, name}` | |
//! | `aggregate_id` | `detectionIds` | |
//! | `falcon_host_link` | `sourceMaterials` | |
//! | `device` `hostname` (+ `machine_domain`), `local_ip`, `external_ip`, `os_version` (else `platform_name`) | `hostStates[0]` `netBiosName`, `fqdn`, `privateIpAddress`, `publicIpAddress`, `os` | `device_id` is lost; a device without hostname or IP (cloud) gives no host state |
//! | `user_name` (`DOMAIN\user` split), `user_id` (SID), `user_principal` | `userStates[0]` `accountName`, `domainName`, `onPremisesSecurityIdentifier`, `userPrincipalName` | |
//! | `filename`, `filepath` (minus the name), `sha256`/`sha1`/`md5` | `fileStates` (one per hash) | |
//! | `filename`, `cmdline`, `process_id` (if Int32), `parent_details` | `processes[0]` (+ `processes[1]` for the parent) | a `process_id` like `pid:…` does not fit Int32 and is lost |
//! | `product` | `vendorInformation.subProvider` | `provider` "Falcon", `vendor` "CrowdStrike" |
//! | every other field | — | kept in [`wire::FalconAlert::extra`], not exposed in Graph |
//!
//! # Updates (Graph → Falcon actions of `PATCH /alerts/entities/alerts/v3`)
//!
//! An update reads the current alert first and sends only the difference
//! ([`mapping::plan_update`]), so a retried delivery changes nothing and never appends a comment
//! twice:
//!
//! - `status`: `newAlert` → `new` (or `reopened` when closed), `inProgress` → `in_progress`,
//!   `resolved` → `closed` (removing `vigil/status/dismissed`), `dismissed` → `closed` + that tag;
//!   `unknown`/`unknownFutureValue` → bad request.
//! - `assignedTo`: a UUID → `assign_to_uuid`, an e-mail/UPN → `assign_to_user_id`, else
//!   `assign_to_name`; `null` → `unassign`.
//! - `feedback`: sets the one verdict tag and removes the others; `unknown` removes all;
//!   `unknownFutureValue` → bad request.
//! - `tags` (the desired full list): `remove_tag` / `add_tag` by difference; the reserved tags
//!   cannot be written as tags (bad request).
//! - `comments` (the desired full list): `append_comment` for each one not already present
//!   (counted as a multiset). **Lossy**: Falcon comments are append-only, so a comment left out of
//!   the list is not deleted.
//! - `closedDateTime`: **not writable** (Falcon stamps its own closure); not in
//!   `writable_fields`, and ignored if sent.
//!
//! Not supported: `member_cid` (MSSP child CIDs) needs an extra form field on the token request,
//! which [`crate::oauth2::ClientCredentials`] does not carry yet; configuring it is a
//! configuration error rather than a silently ignored setting.

pub mod fql;
pub mod mapping;
pub mod wire;

use crate::error::{ProviderError, ProviderErrorKind};
use crate::http::{HttpClient, HttpConfig, HttpResponse};
use crate::oauth2::{ClientCredentials, TokenSource, send_authorized};
use crate::provider::{
    AlertChange, Capabilities, Health, ListRequest, Page, PagingStyle, Provider, ProviderInfo,
    PushDownSupport,
};
use crate::secret::Secret;
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Instant;
use vigil_model::Alert;
use wire::{ActionParameter, EntitiesRequest, Envelope, FalconAlert, UpdateRequest};

/// Most ids one `POST /alerts/entities/alerts/v2` may carry.
pub const ENTITY_BATCH: usize = 1000;
/// Entity batches fetched at the same time for one page.
pub const FETCH_CONCURRENCY: usize = 4;
/// Falcon's `limit` maximum for the ids query, and so this adapter's largest page.
pub const MAX_PAGE_SIZE: usize = 10_000;
/// Page size when the request names none.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The order pages come in: newest first (a Graph listing's usual order).
pub const SORT: &str = "created_timestamp.desc";

fn default_base_url() -> String {
    "https://api.crowdstrike.com".to_string()
}

/// The API client's credentials (`/oauth2/token` is derived from `base_url`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FalconCredentials {
    pub client_id: String,
    pub client_secret: Secret,
}

/// One Falcon provider instance (one tenant's API client).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FalconConfig {
    /// Instance name, unique in the deployment.
    pub name: String,
    /// The Vigil (Entra) tenant these credentials belong to.
    pub tenant_id: String,
    /// API base, e.g. `https://api.crowdstrike.com`, `https://api.us-2.crowdstrike.com`,
    /// `https://api.eu-1.crowdstrike.com`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    pub credentials: FalconCredentials,
    #[serde(default)]
    pub http: HttpConfig,
    /// MSSP child CID; not supported yet (see the module docs).
    #[serde(default)]
    pub member_cid: Option<String>,
}

/// The Falcon adapter, bound to one tenant's API client.
#[derive(Debug)]
pub struct FalconProvider {
    info: ProviderInfo,
    caps: Capabilities,
    base: String,
    http: HttpClient,
    tokens: TokenSource,
}

impl FalconProvider {
    pub fn new(cfg: FalconConfig) -> Result<Self, ProviderError> {
        let config =
            |msg: String| ProviderError::new(cfg.name.clone(), ProviderErrorKind::Config(msg));
        if cfg.name.trim().is_empty() {
            return Err(config("name must not be empty".into()));
        }
        if cfg.tenant_id.trim().is_empty() {
            return Err(config("tenant_id must not be empty".into()));
        }
        if cfg.credentials.client_id.trim().is_empty()
            || cfg.credentials.client_secret.expose().is_empty()
        {
            return Err(config(
                "credentials.client_id and client_secret are required".into(),
            ));
        }
        if cfg.member_cid.is_some() {
            return Err(config(
                "member_cid is not supported yet: the shared OAuth2 client cannot send it with the token request"
                    .into(),
            ));
        }
        let url = url::Url::parse(&cfg.base_url)
            .map_err(|e| config(format!("base_url '{}' is not a URL: {e}", cfg.base_url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(config(format!(
                "base_url '{}' must be an http(s) URL",
                cfg.base_url
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(config(format!(
                "base_url '{}' must not have a query or fragment",
                cfg.base_url
            )));
        }
        let base = cfg.base_url.trim_end_matches('/').to_string();
        let http = HttpClient::new(&cfg.name, &cfg.http)?;
        let tokens = TokenSource::new(
            ClientCredentials {
                token_url: format!("{base}/oauth2/token"),
                client_id: cfg.credentials.client_id.clone(),
                client_secret: cfg.credentials.client_secret.clone(),
                scope: None,
            },
            http.clone(),
        );
        Ok(Self {
            info: ProviderInfo {
                name: cfg.name,
                kind: "falcon",
                vendor: mapping::VENDOR.to_string(),
                product: mapping::PROVIDER.to_string(),
                tenant_id: cfg.tenant_id,
            },
            caps: Capabilities {
                alerts: true,
                identity_risk: false,
                identity_actions: false,
                push_down: PushDownSupport {
                    statuses: true,
                    severities: true,
                    created_range: true,
                    odata_filter: false,
                    odata_orderby: false,
                },
                writable_fields: vec!["assignedTo", "comments", "feedback", "status", "tags"],
                max_page_size: MAX_PAGE_SIZE,
                paging: PagingStyle::OffsetThenFetch,
            },
            base,
            http,
            tokens,
        })
    }

    fn error(&self, kind: ProviderErrorKind) -> ProviderError {
        self.http.error(kind)
    }

    /// The offset a cursor stands for: decimal digits only.
    fn parse_cursor(&self, cursor: Option<&str>) -> Result<usize, ProviderError> {
        let Some(c) = cursor else { return Ok(0) };
        let bad = || {
            self.error(ProviderErrorKind::InvalidCursor(format!(
                "'{c}' is not a Falcon offset"
            )))
        };
        if c.is_empty() || c.len() > 12 || !c.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        c.parse::<usize>().map_err(|_| bad())
    }

    /// `GET /alerts/queries/alerts/v2`: one page of ids and the total, when Falcon gives it.
    async fn query_ids(
        &self,
        filter: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<String>, Option<u64>), ProviderError> {
        let url = format!("{}/alerts/queries/alerts/v2", self.base);
        let mut params: Vec<(&str, String)> = vec![
            ("offset", offset.to_string()),
            ("limit", limit.to_string()),
            ("sort", SORT.to_string()),
        ];
        if let Some(f) = filter {
            params.push(("filter", f.to_string()));
        }
        let resp = send_authorized(&self.http, &self.tokens, |_| {
            self.http.client().get(&url).query(&params)
        })
        .await?;
        let env: Envelope<String> = resp.json(&self.http)?;
        self.fail_on_errors(&resp, &env.errors)?;
        let total = env.meta.pagination.and_then(|p| p.total);
        Ok((env.resources, total))
    }

    /// A 2xx answer with an `errors` entry other than a 404 (an unknown id) is still a failure:
    /// its resources may be incomplete.
    fn fail_on_errors(
        &self,
        resp: &HttpResponse,
        errors: &[wire::ApiError],
    ) -> Result<(), ProviderError> {
        match errors.first() {
            Some(e) if e.code.is_some_and(|c| c != 404) => {
                Err(self.error(ProviderErrorKind::Upstream {
                    status: e
                        .code
                        .and_then(|c| u16::try_from(c).ok())
                        .unwrap_or(resp.status.as_u16()),
                    message: e
                        .message
                        .clone()
                        .unwrap_or_else(|| "error without a message".into()),
                }))
            }
            _ => Ok(()),
        }
    }

    /// `POST /alerts/entities/alerts/v2` for at most [`ENTITY_BATCH`] ids. Unknown ids are
    /// simply absent (Falcon answers `404` when none is known).
    async fn fetch_batch(&self, ids: &[String]) -> Result<Vec<FalconAlert>, ProviderError> {
        let url = format!("{}/alerts/entities/alerts/v2", self.base);
        let body = EntitiesRequest { composite_ids: ids };
        let resp = match send_authorized(&self.http, &self.tokens, |_| {
            self.http.client().post(&url).json(&body)
        })
        .await
        {
            Ok(r) => r,
            Err(ProviderError {
                kind: ProviderErrorKind::NotFound,
                ..
            }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let env: Envelope<FalconAlert> = resp.json(&self.http)?;
        // 404 entries name ids that vanished; any other error means alerts may be missing.
        self.fail_on_errors(&resp, &env.errors)?;
        Ok(env.resources)
    }

    /// Entities for `ids`, in the order of `ids`.
    async fn fetch_ordered(&self, ids: &[String]) -> Result<Vec<FalconAlert>, ProviderError> {
        // Owned chunks: a borrowed one makes the future not `Send` for every lifetime.
        let chunks: Vec<Vec<String>> = ids.chunks(ENTITY_BATCH).map(<[String]>::to_vec).collect();
        let batches: Vec<Vec<FalconAlert>> = futures::stream::iter(chunks)
            .map(|chunk| async move { self.fetch_batch(&chunk).await })
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let mut by_id: HashMap<String, FalconAlert> = batches
            .into_iter()
            .flatten()
            .map(|a| (a.composite_id.clone(), a))
            .collect();
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn fetch_one(&self, id: &str) -> Result<Option<FalconAlert>, ProviderError> {
        if id.trim().is_empty() {
            return Ok(None);
        }
        let ids = [id.to_string()];
        Ok(self.fetch_ordered(&ids).await?.into_iter().next())
    }
}

#[async_trait]
impl Provider for FalconProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_alerts(&self, req: &ListRequest) -> Result<Page<Alert>, ProviderError> {
        let offset = self.parse_cursor(req.cursor.as_deref())?;
        let limit = match req.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let filter = fql::filter(&req.push_down);
        let (ids, total) = self.query_ids(filter.as_deref(), offset, limit).await?;
        let next = offset + ids.len();
        let next_cursor = match total {
            _ if ids.is_empty() => None,
            Some(total) => {
                (u64::try_from(next).unwrap_or(u64::MAX) < total).then(|| next.to_string())
            }
            None => (ids.len() >= limit).then(|| next.to_string()),
        };
        let alerts = self.fetch_ordered(&ids).await?;
        Ok(Page {
            items: alerts
                .iter()
                .map(|a| mapping::to_graph(a, &self.info.tenant_id))
                .collect(),
            next_cursor,
        })
    }

    async fn get_alert(&self, id: &str) -> Result<Option<Alert>, ProviderError> {
        Ok(self
            .fetch_one(id)
            .await?
            .map(|a| mapping::to_graph(&a, &self.info.tenant_id)))
    }

    async fn update_alert(&self, id: &str, change: &AlertChange) -> Result<(), ProviderError> {
        let current = self
            .fetch_one(id)
            .await?
            .ok_or_else(|| self.error(ProviderErrorKind::NotFound))?;
        let actions: Vec<ActionParameter> = mapping::plan_update(&current, change)
            .map_err(|m| self.error(ProviderErrorKind::BadRequest(m)))?;
        if actions.is_empty() {
            return Ok(());
        }
        let url = format!("{}/alerts/entities/alerts/v3", self.base);
        let ids = [id.to_string()];
        let body = UpdateRequest {
            composite_ids: &ids,
            action_parameters: &actions,
        };
        let resp = send_authorized(&self.http, &self.tokens, |_| {
            self.http.client().patch(&url).json(&body)
        })
        .await?;
        // The body is an envelope; an `errors` entry for our id means it was not applied.
        let env: Envelope<serde_json::Value> = resp.json(&self.http)?;
        match env.errors.first() {
            None => Ok(()),
            Some(e) if e.code == Some(404) => Err(self.error(ProviderErrorKind::NotFound)),
            Some(e) => Err(self.error(ProviderErrorKind::Upstream {
                status: e
                    .code
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(resp.status.as_u16()),
                message: e
                    .message
                    .clone()
                    .unwrap_or_else(|| "update not applied".into()),
            })),
        }
    }

    async fn health(&self) -> Health {
        let started = Instant::now();
        let result = self.query_ids(None, 0, 1).await;
        Health {
            healthy: result.is_ok(),
            latency: started.elapsed(),
            detail: result.err().map(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
