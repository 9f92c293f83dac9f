//! The `Provider` trait: what the federation engine asks of every upstream product.
//!
//! One adapter instance serves one Vigil tenant with that tenant's credentials: credentials are
//! per tenant and provider, and binding them at construction keeps a request from ever being
//! sent with another tenant's token.
//!
//! Queries: the gateway always evaluates the full OData query locally. What an adapter receives
//! is only what it can narrow natively ([`PushDown`], or the raw OData text for providers whose
//! [`Capabilities::push_down`] says they take it), so a provider may return a superset, never a
//! subset, of the true answer.
//!
//! Cursors are opaque strings owned by the adapter (a Graph `@odata.nextLink`, a Falcon offset,
//! an OCSF cursor); the gateway stores them inside its own tamper-evident skiptoken.

use crate::error::{ProviderError, ProviderErrorKind};
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;
use vigil_model::{
    Alert, AlertFeedback, AlertStatus, RiskDetection, RiskyUser, RiskyUserHistoryItem,
    SecurityVendorInformation, Timestamp,
};

/// Who a provider instance is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInfo {
    /// The configured instance name, unique in a Vigil deployment (e.g. `defender`).
    pub name: String,
    /// The adapter kind: `graph`, `falcon`, `ocsf`.
    pub kind: &'static str,
    /// `vendorInformation.vendor` of the alerts it returns (e.g. `CrowdStrike`).
    pub vendor: String,
    /// `vendorInformation.provider` of the alerts it returns (e.g. `Falcon`).
    pub product: String,
    /// The Vigil tenant (Entra tenant id) whose credentials this instance holds.
    pub tenant_id: String,
}

/// The filters a provider can apply natively (the model's conservative extraction from
/// `$filter`).
pub use vigil_model::query::PushDown;

/// One page request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ListRequest {
    /// Items wanted in this page; adapters clamp it to [`Capabilities::max_page_size`].
    pub page_size: usize,
    /// The adapter's own cursor from the previous page's [`Page::next_cursor`].
    pub cursor: Option<String>,
    pub push_down: PushDown,
    /// Canonical OData `$filter` text, given only to providers whose capabilities take it.
    pub odata_filter: Option<String>,
    /// Canonical OData `$orderby` text, given only to providers whose capabilities take it.
    pub odata_orderby: Option<String>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` at the end.
    pub next_cursor: Option<String>,
}

/// The desired state after an update, as Graph's `PATCH` expresses it: every field `None` stays
/// as it is. Collections are the full desired list (Graph replaces `comments` and `tags`);
/// adapters whose products only append compute the difference against the current state, which
/// also makes a retried delivery harmless (a comment is never appended twice).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertChange {
    pub status: Option<AlertStatus>,
    /// `Some(None)` unassigns.
    pub assigned_to: Option<Option<String>>,
    /// `Some(None)` clears it.
    pub closed_date_time: Option<Option<Timestamp>>,
    pub comments: Option<Vec<String>>,
    pub feedback: Option<AlertFeedback>,
    pub tags: Option<Vec<String>>,
    /// As sent by the caller; Graph requires it on every PATCH.
    pub vendor_information: SecurityVendorInformation,
}

/// Identity Protection actions on risky users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RiskyUserAction {
    ConfirmCompromised,
    Dismiss,
    ConfirmSafe,
}

/// How a provider pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PagingStyle {
    /// An absolute `@odata.nextLink`.
    NextLink,
    /// Query ids with offset/limit, then fetch the entities by id.
    OffsetThenFetch,
    /// An opaque server cursor.
    Cursor,
}

/// Which parts of a query a provider evaluates natively.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushDownSupport {
    pub statuses: bool,
    pub severities: bool,
    pub created_range: bool,
    /// Takes the full OData `$filter` text.
    pub odata_filter: bool,
    /// Takes the OData `$orderby` text.
    pub odata_orderby: bool,
}

/// What a provider can do; shown to operators and used by the federation and write-back rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    pub alerts: bool,
    pub identity_risk: bool,
    pub identity_actions: bool,
    pub push_down: PushDownSupport,
    /// Graph names of the alert fields an update can change on this provider.
    pub writable_fields: Vec<&'static str>,
    pub max_page_size: usize,
    pub paging: PagingStyle,
}

/// Result of a health probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub healthy: bool,
    #[serde(serialize_with = "millis")]
    pub latency: Duration,
    pub detail: Option<String>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One upstream security product, bound to one tenant's credentials.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    fn info(&self) -> &ProviderInfo;
    fn capabilities(&self) -> &Capabilities;

    async fn list_alerts(&self, req: &ListRequest) -> Result<Page<Alert>, ProviderError>;
    /// `Ok(None)` when the provider does not know the id.
    async fn get_alert(&self, id: &str) -> Result<Option<Alert>, ProviderError>;
    async fn update_alert(&self, id: &str, change: &AlertChange) -> Result<(), ProviderError>;

    async fn list_risky_users(&self, _req: &ListRequest) -> Result<Page<RiskyUser>, ProviderError> {
        Err(self.unsupported("risky users"))
    }
    async fn get_risky_user(&self, _id: &str) -> Result<Option<RiskyUser>, ProviderError> {
        Err(self.unsupported("risky users"))
    }
    async fn risky_user_history(
        &self,
        _id: &str,
    ) -> Result<Vec<RiskyUserHistoryItem>, ProviderError> {
        Err(self.unsupported("risky user history"))
    }
    async fn list_risk_detections(
        &self,
        _req: &ListRequest,
    ) -> Result<Page<RiskDetection>, ProviderError> {
        Err(self.unsupported("risk detections"))
    }
    async fn get_risk_detection(&self, _id: &str) -> Result<Option<RiskDetection>, ProviderError> {
        Err(self.unsupported("risk detections"))
    }
    async fn risky_user_action(
        &self,
        _action: RiskyUserAction,
        _user_ids: &[String],
    ) -> Result<(), ProviderError> {
        Err(self.unsupported("risky user actions"))
    }

    async fn health(&self) -> Health;

    /// The error for an operation this provider does not offer.
    fn unsupported(&self, what: &'static str) -> ProviderError {
        ProviderError::new(
            self.info().name.clone(),
            ProviderErrorKind::Unsupported(what),
        )
    }
}
