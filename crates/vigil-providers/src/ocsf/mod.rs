//! The OCSF adapter: a source that serves OCSF 1.3.0 *Detection Findings* (`class_uid` 2004)
//! and identity risk in OCSF's own shapes, over the [vigil] REST envelope of
//! `docs/partner-formats.md` §3 (static bearer token per tenant, cursor paging,
//! `{"error":{"code","message"}}` errors).
//!
//! Reference modelled: the OCSF 1.3.0 schema (Detection Finding, User, Evidences, Fingerprint,
//! Network Endpoint, Location, Analytic, Attack; their enums) and the producers' real output in
//! `tests/fixtures/ocsf/` (GuardDuty via Security Hub, Okta, Prowler). OCSF fixes records, not
//! an API, so the adapter is written against records first: [`native`] reads them leniently,
//! [`mapping`] converts them both ways without I/O, and this module only moves them over HTTP
//! with the shared [`crate::http::HttpClient`].
//!
//! # Alert mapping (Detection Finding ⇄ Graph `alert`)
//!
//! | Graph | OCSF | Notes |
//! |---|---|---|
//! | `id` | `finding_info.uid` | read falls back to `metadata.uid`; a record with neither is skipped (it cannot be addressed) |
//! | `azureTenantId` | — | the configured `tenant_id` (written as `metadata.tenant_uid`) |
//! | `title` / `description` | `finding_info.title` / `finding_info.desc` | both fall back to `message` |
//! | `category` | `finding_info.types[0]` | else the first ATT&CK tactic name; `types[1..]` are lost |
//! | `severity` | `severity_id` | table below; Critical/Fatal are lossy |
//! | `status` | `status_id` | table below; read falls back to the `status` caption (GuardDuty sends no id) |
//! | `feedback` | `verdict_id` | table below; no verdict → `null` |
//! | `confidence` | `confidence_score` | `confidence_id` is written from the score (<34 Low, <67 Medium, else High) |
//! | `assignedTo` | `assignee` | read: `email_addr`, else `name`, else `uid`; write: `{name}` (+ `email_addr` when it contains `@`) — lossless for strings |
//! | `comments` | `comment` | one string: comments joined by the line `---` ([`mapping::COMMENT_SEPARATOR`]); lossy only for a comment that itself contains that line, or a list holding a single empty comment |
//! | `tags` | `metadata.labels` | |
//! | `createdDateTime` | `finding_info.created_time` | falls back to `time`; `time` is written as the creation time |
//! | `eventDateTime` / `lastEventDateTime` | `finding_info.first_seen_time` / `last_seen_time` | first falls back to `time` |
//! | `lastModifiedDateTime` | `finding_info.modified_time` | |
//! | `closedDateTime` | — | derived: `modified_time` when `status_id` is 4 Resolved; not writable (OCSF has no close time) |
//! | `sourceMaterials` | `finding_info.src_url` | one URL: the 2nd and later are lost |
//! | `recommendedActions` | `remediation.desc` | one line per action |
//! | `securityResources` | `resources[]` | `resource` ⇄ `uid` (read falls back to `name`); `resourceType` is lost |
//! | `triggers` | `finding_info.attacks[]` | each tactic/technique ⇄ `{"name":"tactic"/"technique","type":"MITRE ATT&CK","value":<uid>}`; ATT&CK names and non-ATT&CK triggers are lost |
//! | `alertDetections[0]` | `finding_info.analytic` | `name` ⇄ `name`, `method` ⇄ `type` (+`type_id`), `detectionType` ⇄ `category`; further detections are lost |
//! | `vulnerabilityStates` | `vulnerabilities[]` | `cve` ⇄ `cve.uid`, `severity` ⇄ `severity`; `wasRunning` lost |
//! | `vendorInformation` | `metadata.product` | `provider` ⇄ `name`, `vendor` ⇄ `vendor_name`, `providerVersion` ⇄ `version`, `subProvider` ⇄ `feature.name`; configured labels when absent |
//! | `userStates` | `evidences[].user` (+ that evidence's `src_endpoint`) | `aadUserId` ⇄ `uid`, `accountName` ⇄ `name`, `domainName` ⇄ `domain`, `userPrincipalName` ⇄ `email_addr`, `onPremisesSecurityIdentifier` ⇄ `uid_alt`, `userAccountType` ⇄ `type_id`, `logonIp` ⇄ `src_endpoint.ip`, `logonLocation` ⇄ `src_endpoint.location.desc`; logon time/type/id, `isVpn`, `emailRole`, `riskScore` lost |
//! | `hostStates` | `evidences[].device` (else the top-level `device`) | `fqdn` ⇄ `hostname`, `netBiosName` ⇄ `name`, `os` ⇄ `os.name`, `privateIpAddress` ⇄ `ip`; `publicIpAddress` is written to `ip` only when there is no private one and reads back as private; Azure AD flags and `riskScore` lost |
//! | `fileStates` | `evidences[].file` | `name`, `path`, first of `hashes`; `riskScore` lost |
//! | `processes` | `evidences[].process` (or `actor.process`) | `name`, `pid`, `cmd_line`, `created_time`, `integrity_id`, `file.path`/`hashes[0]`, `user.name` (or `actor.user.name`) ⇄ `accountName`, `parent_process` `{pid,name,created_time}`; `isElevated` lost |
//! | `networkConnections` | `evidences[]` with `dst_endpoint`, `url`, or a `src_endpoint` not belonging to a user | source/destination ip, port (non-numeric Graph ports are lost), location text, `localDnsName` ⇄ `src_endpoint.hostname`, `destinationDomain` ⇄ `dst_endpoint.domain`, `destinationUrl` ⇄ `url.url_string`, `direction` ⇄ `connection_info.direction_id`, `protocol` ⇄ `connection_info.protocol_name`; NAT, status, application, risk lost |
//! | not mapped | | `activityGroupName`, `azureSubscriptionId`, `cloudAppStates`, `detectionIds`, `historyStates`, `incidentIds`, `investigationSecurityStates`, `malwareStates`, `messageSecurityStates`, `registryKeyStates`, `uriClickSecurityStates` |
//!
//! Enumerations (read ⇒, write ⇐; "lossy" rows keep the native id in `additional_data`, under
//! `ocsfSeverityId` / `ocsfStatusId` / `ocsfVerdictId`, and writing the alert back uses it, so
//! a read → write round trip keeps the id):
//!
//! | `severity_id` | `severity` | | `status_id` | `status` | | `verdict_id` | `feedback` |
//! |---|---|---|---|---|---|---|---|
//! | 0 Unknown | `unknown` | | 0 Unknown | `unknown` | | 0 Unknown | `unknown` |
//! | 1 Informational | `informational` | | 1 New | `newAlert` | | 1 False Positive | `falsePositive` |
//! | 2 Low | `low` | | 2 In Progress | `inProgress` | | 2 True Positive | `truePositive` |
//! | 3 Medium | `medium` | | 3 Suppressed | `dismissed` | | 5 Benign | `benignPositive` |
//! | 4 High | `high` | | 4 Resolved | `resolved` | | 6 Test | ⇒ `benignPositive` (lossy) |
//! | 5 Critical | ⇒ `high` (lossy) | | 99 Other | `unknownFutureValue` | | 8 Security Risk | ⇒ `truePositive` (lossy) |
//! | 6 Fatal | ⇒ `high` (lossy) | | other ids | ⇒ `unknownFutureValue` (lossy) | | 3, 4, 7, 9, 10 | ⇒ `unknown` (lossy) |
//! | 99 Other | `unknownFutureValue` | | | | | 99 Other | `unknownFutureValue` |
//! | other ids | ⇒ `unknownFutureValue` (lossy) | | | | | other ids | ⇒ `unknownFutureValue` (lossy) |
//!
//! Why Suppressed ⇄ `dismissed`: both mean "closed without being worked as a threat"; Resolved
//! is the only OCSF state that says the issue was dealt with.
//!
//! # Identity risk
//!
//! OCSF has no risky-user class, so users come as OCSF *User* objects and detections as
//! Detection Findings (§3):
//!
//! | Graph `riskyUser` | OCSF User | Notes |
//! |---|---|---|
//! | `id` | `uid` | |
//! | `userPrincipalName` | `email_addr` | falls back to `name` |
//! | `userDisplayName` | `full_name` | falls back to `name` |
//! | `riskLevel` | `risk_level_id` | 0 Info ⇄ `none`, 1 Low, 2 Medium, 3 High ⇄ same, 4 Critical ⇒ `high` (lossy, `ocsfRiskLevelId` kept), 99 with caption `Hidden` ⇄ `hidden`, other 99 ⇄ `unknownFutureValue` |
//! | `riskState` / `riskDetail` | `unmapped.risk_state` / `unmapped.risk_detail` | Graph wire strings |
//! | `riskLastUpdatedDateTime` | `unmapped.risk_updated_time` | epoch ms (an ISO string is accepted) |
//! | `isDeleted` | `unmapped.is_deleted` | |
//! | `isProcessing` | — | always `false`: the source applies actions synchronously |
//!
//! A risk detection is a finding with `finding_info.types = ["Identity Risk", <riskEventType>]`:
//! `riskEventType` ⇄ `types[1]`, `riskLevel` ⇄ `risk_level_id` (else derived from
//! `severity_id`), `userId`/`userPrincipalName`/`userDisplayName` ⇄ `evidences[0].user`
//! `uid`/`email_addr`/`full_name`, `ipAddress` ⇄ `evidences[0].src_endpoint.ip`, `location` ⇄
//! its `location` (`city`, `region` ⇄ `state`, `country` ⇄ `countryOrRegion`, `coordinates`
//! `[long, lat(, alt)]`, or the older `lat`/`long`), `detectedDateTime` ⇄
//! `finding_info.created_time`, `activityDateTime` ⇄ `first_seen_time` (else `time`),
//! `lastUpdatedDateTime` ⇄ `modified_time`, `correlationId` ⇄ `metadata.correlation_uid`, and
//! `riskState`, `riskDetail`, `activity`, `source`, `detectionTimingType`, `tokenIssuerType`,
//! `requestId`, `additionalInfo` ⇄ `unmapped.*` (snake_case).
//!
//! Risky user actions map one to one onto `POST /api/v1/identity/users/{uid}/risk`
//! (`confirm_compromised`, `dismiss`, `confirm_safe`), one request per user; the source sets
//! the resulting state, so a retried action is harmless.
//!
//! **Risky user history is not offered** ([`crate::ProviderErrorKind::Unsupported`]): §3 has
//! no history route, and rebuilding one from detections would need a scan of every detection
//! of the tenant per call and would still miss the admin actions that are the point of a
//! history. The gateway reports the provider as unable to answer instead of showing an empty,
//! misleading timeline.
//!
//! # Queries, paging, updates
//!
//! - Push-down ([`mapping::list_query`]): statuses → `status_id`; severities →
//!   `severity_id_gte` only for a contiguous upper range (it also returns 99 Other and undefined
//!   ids, a superset the gateway narrows); the created range → `time_gte`/`time_lt`. OCSF's
//!   `time` is "the event occurrence or finding creation time"; this source (and the mock)
//!   sets it to the creation time, which is what makes the created range exact. A source that
//!   sets `time` to the event time would need `created_range: false` in [`Capabilities`].
//! - Cursors are the source's own, passed through untouched; a `400 invalid_cursor` answer is
//!   [`crate::ProviderErrorKind::InvalidCursor`].
//! - Epoch times below 10¹¹ are read as seconds (Okta's and Prowler's samples send seconds,
//!   though OCSF says milliseconds); 10¹¹ ms is 1973, 10¹¹ s the year 5138. Missing epochs fall
//!   back to the `_dt` strings, with or without an offset.
//! - Updates read the finding first and `PATCH` only the fields that differ
//!   ([`mapping::patch_body`]); every field is set, never appended, so a retried update is
//!   idempotent. `closedDateTime` in a change is ignored (derived by the source).
//! - Risk detections have no per-id route in §3: [`OcsfProvider::get_risk_detection`] pages
//!   through the list (500 per page) until it finds the id.

pub mod mapping;
pub mod native;

#[cfg(test)]
mod tests;

use crate::error::{ProviderError, ProviderErrorKind};
use crate::http::{HttpClient, HttpConfig, HttpResponse};
use crate::provider::*;
use crate::secret::Secret;
use async_trait::async_trait;
use native::{Finding, FindingsPage, User, UsersPage};
use serde::Deserialize;
use serde_json::Value;
use std::time::Instant;
use vigil_model::{
    Alert, RiskDetection, RiskyUser, RiskyUserHistoryItem, SecurityVendorInformation,
};

/// Largest `limit` the source accepts.
pub const MAX_PAGE_SIZE: usize = 500;
/// Page size when the caller asks for none.
const DEFAULT_PAGE_SIZE: usize = 100;

/// Configuration of one OCSF source for one tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcsfConfig {
    /// Instance name, unique in the deployment.
    pub name: String,
    /// The Vigil tenant (Entra tenant id) these credentials belong to.
    pub tenant_id: String,
    /// Base URL of the source, e.g. `https://ocsf.example.com` (a path prefix is kept).
    pub base_url: String,
    /// The tenant's static API token.
    pub api_token: Secret,
    #[serde(default)]
    pub http: HttpConfig,
    /// `vendorInformation.vendor` for findings without `metadata.product` (default `OCSF`).
    #[serde(default)]
    pub vendor: Option<String>,
    /// `vendorInformation.provider` for findings without `metadata.product`
    /// (default `OCSF Detection Findings`).
    #[serde(default)]
    pub product: Option<String>,
}

/// The adapter for one tenant's OCSF source.
#[derive(Debug)]
pub struct OcsfProvider {
    info: ProviderInfo,
    caps: Capabilities,
    http: HttpClient,
    base: url::Url,
    token: Secret,
    fallback_vendor: SecurityVendorInformation,
}

impl OcsfProvider {
    pub fn new(cfg: OcsfConfig) -> Result<Self, ProviderError> {
        let config_error =
            |msg: String| ProviderError::new(cfg.name.clone(), ProviderErrorKind::Config(msg));
        if cfg.name.trim().is_empty() {
            return Err(config_error("name must not be empty".into()));
        }
        if cfg.tenant_id.trim().is_empty() {
            return Err(config_error("tenant_id must not be empty".into()));
        }
        if cfg.api_token.expose().trim().is_empty() {
            return Err(config_error("api_token must not be empty".into()));
        }
        let base = url::Url::parse(&cfg.base_url)
            .map_err(|e| config_error(format!("base_url '{}': {e}", cfg.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(config_error(format!(
                "base_url '{}' must be an http(s) URL",
                cfg.base_url
            )));
        }
        let http = HttpClient::new(&cfg.name, &cfg.http)?;
        let vendor = cfg.vendor.clone().unwrap_or_else(|| "OCSF".into());
        let product = cfg
            .product
            .clone()
            .unwrap_or_else(|| "OCSF Detection Findings".into());
        Ok(Self {
            info: ProviderInfo {
                name: cfg.name.clone(),
                kind: "ocsf",
                vendor: vendor.clone(),
                product: product.clone(),
                tenant_id: cfg.tenant_id.clone(),
            },
            caps: Capabilities {
                alerts: true,
                identity_risk: true,
                identity_actions: true,
                push_down: PushDownSupport {
                    statuses: true,
                    severities: true,
                    created_range: true,
                    odata_filter: false,
                    odata_orderby: false,
                },
                writable_fields: vec!["assignedTo", "comments", "feedback", "status", "tags"],
                max_page_size: MAX_PAGE_SIZE,
                paging: PagingStyle::Cursor,
            },
            http,
            base,
            token: cfg.api_token,
            fallback_vendor: SecurityVendorInformation {
                provider: Some(product),
                provider_version: None,
                sub_provider: None,
                vendor: Some(vendor),
            },
        })
    }

    /// `base_url` + `/api/v1/<segments>`, each segment percent-encoded (ids may hold `/`).
    fn url(&self, segments: &[&str]) -> Result<url::Url, ProviderError> {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        {
            let mut path = url.path_segments_mut().map_err(|()| {
                self.http.error(ProviderErrorKind::Config(
                    "base_url cannot take a path".into(),
                ))
            })?;
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        Ok(url)
    }

    fn authorized(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.bearer_auth(self.token.expose())
    }

    async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<HttpResponse, ProviderError> {
        let url = self.url(segments)?;
        let req = self.authorized(self.http.client().get(url)).query(query);
        self.http.send(req).await
    }

    /// The query of one page: push-down (alerts only), limit, cursor.
    fn page_query(req: &ListRequest, push_down: bool) -> Vec<(&'static str, String)> {
        let mut q = if push_down {
            mapping::list_query(&req.push_down)
        } else {
            Vec::new()
        };
        let size = match req.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        q.push(("limit", size.to_string()));
        if let Some(c) = &req.cursor {
            q.push(("cursor", c.clone()));
        }
        q
    }

    /// A 400 naming `invalid_cursor` is the cursor's fault; other 400s are the request's.
    fn classify(&self, err: ProviderError) -> ProviderError {
        match &err.kind {
            ProviderErrorKind::Upstream {
                status: 400,
                message,
            } => {
                if message.starts_with("invalid_cursor") {
                    self.http
                        .error(ProviderErrorKind::InvalidCursor(message.clone()))
                } else {
                    self.http
                        .error(ProviderErrorKind::BadRequest(message.clone()))
                }
            }
            _ => err,
        }
    }

    async fn findings_page(
        &self,
        segments: &[&str],
        req: &ListRequest,
        push_down: bool,
    ) -> Result<(Vec<Finding>, Option<String>), ProviderError> {
        let resp = self
            .get(segments, &Self::page_query(req, push_down))
            .await
            .map_err(|e| self.classify(e))?;
        let page: FindingsPage = resp.json(&self.http)?;
        let findings = page
            .findings
            .into_iter()
            .filter_map(|raw| self.finding_of(raw))
            .collect();
        Ok((findings, page.next_cursor.filter(|c| !c.is_empty())))
    }

    /// A record that is not a JSON object cannot be a finding: it is skipped with a warning
    /// (one broken record must not hide the rest of the page).
    fn finding_of(&self, raw: &serde_json::value::RawValue) -> Option<Finding> {
        if !raw.get().starts_with('{') {
            tracing::warn!(provider = %self.info.name, "skipping a finding that is not a JSON object");
            return None;
        }
        serde_json::from_str(raw.get())
            .map_err(|e| {
                tracing::warn!(provider = %self.info.name, error = %e, "skipping an unreadable finding");
            })
            .ok()
    }

    fn alert_of(&self, f: &Finding) -> Option<Alert> {
        mapping::finding_to_alert(f, &self.info.tenant_id, &self.fallback_vendor)
            .map_err(|e| {
                tracing::warn!(provider = %self.info.name, error = %e, "skipping a finding");
            })
            .ok()
    }

    /// The current native finding, `None` when the source does not know the id.
    async fn fetch_finding(&self, id: &str) -> Result<Option<Finding>, ProviderError> {
        if id.is_empty() {
            return Ok(None);
        }
        match self.get(&["findings", id], &[]).await {
            Ok(resp) => Ok(Some(resp.json(&self.http)?)),
            Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.classify(e)),
        }
    }
}

/// `POST …/risk` action names.
fn action_name(a: RiskyUserAction) -> &'static str {
    match a {
        RiskyUserAction::ConfirmCompromised => "confirm_compromised",
        RiskyUserAction::Dismiss => "dismiss",
        RiskyUserAction::ConfirmSafe => "confirm_safe",
    }
}

#[async_trait]
impl Provider for OcsfProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn list_alerts(&self, req: &ListRequest) -> Result<Page<Alert>, ProviderError> {
        let (findings, next_cursor) = self.findings_page(&["findings"], req, true).await?;
        Ok(Page {
            items: findings.iter().filter_map(|f| self.alert_of(f)).collect(),
            next_cursor,
        })
    }

    async fn get_alert(&self, id: &str) -> Result<Option<Alert>, ProviderError> {
        Ok(self
            .fetch_finding(id)
            .await?
            .and_then(|f| self.alert_of(&f)))
    }

    async fn update_alert(&self, id: &str, change: &AlertChange) -> Result<(), ProviderError> {
        let current = self
            .fetch_finding(id)
            .await?
            .and_then(|f| self.alert_of(&f))
            .ok_or_else(|| self.http.error(ProviderErrorKind::NotFound))?;
        let Some(body) = mapping::patch_body(&current, change) else {
            return Ok(());
        };
        let url = self.url(&["findings", id])?;
        let req = self
            .authorized(self.http.client().patch(url))
            .json(&Value::Object(body));
        let resp = self.http.send(req).await.map_err(|e| self.classify(e))?;
        // The answer is the updated finding; one that does not read as such is a broken source.
        let _updated: Finding = resp.json(&self.http)?;
        Ok(())
    }

    async fn list_risky_users(&self, req: &ListRequest) -> Result<Page<RiskyUser>, ProviderError> {
        let resp = self
            .get(&["identity", "users"], &Self::page_query(req, false))
            .await
            .map_err(|e| self.classify(e))?;
        let page: UsersPage = resp.json(&self.http)?;
        let items = page
            .users
            .into_iter()
            .filter_map(|raw| {
                let user: User = serde_json::from_value(raw).ok()?;
                mapping::user_to_risky_user(&user)
                    .map_err(|e| tracing::warn!(provider = %self.info.name, error = %e, "skipping a user"))
                    .ok()
            })
            .collect();
        Ok(Page {
            items,
            next_cursor: page.next_cursor.filter(|c| !c.is_empty()),
        })
    }

    async fn get_risky_user(&self, id: &str) -> Result<Option<RiskyUser>, ProviderError> {
        if id.is_empty() {
            return Ok(None);
        }
        match self.get(&["identity", "users", id], &[]).await {
            Ok(resp) => {
                let user: User = resp.json(&self.http)?;
                mapping::user_to_risky_user(&user)
                    .map(Some)
                    .map_err(|e| self.http.error(ProviderErrorKind::Decode(e.to_string())))
            }
            Err(e) if e.kind == ProviderErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.classify(e)),
        }
    }

    async fn risky_user_history(
        &self,
        _id: &str,
    ) -> Result<Vec<RiskyUserHistoryItem>, ProviderError> {
        Err(self.unsupported("risky user history (the OCSF source keeps no history)"))
    }

    async fn list_risk_detections(
        &self,
        req: &ListRequest,
    ) -> Result<Page<RiskDetection>, ProviderError> {
        let (findings, next_cursor) = self
            .findings_page(&["identity", "detections"], req, false)
            .await?;
        let items = findings
            .iter()
            .filter_map(|f| {
                mapping::finding_to_risk_detection(f)
                    .map_err(|e| tracing::warn!(provider = %self.info.name, error = %e, "skipping a detection"))
                    .ok()
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    async fn get_risk_detection(&self, id: &str) -> Result<Option<RiskDetection>, ProviderError> {
        if id.is_empty() {
            return Ok(None);
        }
        let mut req = ListRequest {
            page_size: MAX_PAGE_SIZE,
            ..ListRequest::default()
        };
        loop {
            let page = self.list_risk_detections(&req).await?;
            if let Some(found) = page.items.into_iter().find(|d| d.id == id) {
                return Ok(Some(found));
            }
            match page.next_cursor {
                // A source whose cursor does not move would otherwise be read forever.
                Some(c) if req.cursor.as_deref() == Some(c.as_str()) => {
                    return Err(self.http.error(ProviderErrorKind::Decode(
                        "the detections cursor did not advance".into(),
                    )));
                }
                Some(c) => req.cursor = Some(c),
                None => return Ok(None),
            }
        }
    }

    async fn risky_user_action(
        &self,
        action: RiskyUserAction,
        user_ids: &[String],
    ) -> Result<(), ProviderError> {
        let body = serde_json::json!({ "action": action_name(action) });
        for id in user_ids {
            if id.is_empty() {
                return Err(self
                    .http
                    .error(ProviderErrorKind::BadRequest("empty user id".into())));
            }
            let url = self.url(&["identity", "users", id, "risk"])?;
            let req = self.authorized(self.http.client().post(url)).json(&body);
            let resp = self.http.send(req).await.map_err(|e| self.classify(e))?;
            let _updated: User = resp.json(&self.http)?;
        }
        Ok(())
    }

    async fn health(&self) -> Health {
        let started = Instant::now();
        let result = self
            .get(&["findings"], &[("limit", "1".to_owned())])
            .await
            .and_then(|resp| resp.json::<FindingsPage>(&self.http).map(|_| ()));
        Health {
            healthy: result.is_ok(),
            latency: started.elapsed(),
            detail: result.err().map(|e| e.to_string()),
        }
    }
}
