//! What every mock format shares: tenants, credentials, issued tokens, and the record of what
//! reached the mock (so tests assert on what a provider received, not only on what the gateway
//! answered).

use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vigil_model::{Alert, RiskDetection, RiskyUser, RiskyUserHistoryItem, Timestamp};

/// The product a mock server impersonates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Graph,
    Falcon,
    Ocsf,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::Graph,
        ProviderKind::Falcon,
        ProviderKind::Ocsf,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Graph => "graph",
            ProviderKind::Falcon => "falcon",
            ProviderKind::Ocsf => "ocsf",
        }
    }
}

/// The credentials one tenant uses against one mock. Mock-only values, derived from the tenant
/// id so a demo can print them; never real secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// Static API token (the OCSF source's bearer token).
    pub api_token: String,
}

impl Credentials {
    pub fn for_tenant(kind: ProviderKind, tenant_id: &str) -> Self {
        let short: String = tenant_id.chars().filter(|c| *c != '-').take(12).collect();
        Self {
            tenant_id: tenant_id.to_string(),
            client_id: format!("{}-client-{short}", kind.as_str()),
            client_secret: format!("{}-secret-{short}", kind.as_str()),
            api_token: format!("{}-token-{short}", kind.as_str()),
        }
    }
}

/// The data one mock serves, in the common model; each format renders it natively.
#[derive(Debug, Clone, Default)]
pub struct ProviderData {
    pub alerts: Vec<Alert>,
    pub risky_users: Vec<RiskyUser>,
    pub risky_user_history: Vec<RiskyUserHistoryItem>,
    pub risk_detections: Vec<RiskDetection>,
}

/// `additional_data` key under which the scenario stores the tenant id of identity items
/// (`RiskyUser`, `RiskyUserHistoryItem`, `RiskDetection`): those resources carry no tenant on
/// the Graph wire, but one mock serves several tenants. Formats must not render this key; use
/// [`ProviderData::tenant_of`] to read it and [`strip_mock_keys`] before serializing.
pub const MOCK_TENANT_KEY: &str = "vigilMockTenantId";

/// Removes the mock-internal keys ([`MOCK_TENANT_KEY`]) from an `additional_data` map.
pub fn strip_mock_keys(additional_data: &mut serde_json::Map<String, serde_json::Value>) {
    additional_data.remove(MOCK_TENANT_KEY);
}

impl ProviderData {
    /// The tenant recorded in an identity item's `additional_data`.
    pub fn tenant_of(additional_data: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
        additional_data
            .get(MOCK_TENANT_KEY)
            .and_then(|v| v.as_str())
    }

    /// Alerts of one tenant.
    pub fn alerts_of<'a>(&'a self, tenant_id: &'a str) -> impl Iterator<Item = &'a Alert> + 'a {
        self.alerts
            .iter()
            .filter(move |a| a.azure_tenant_id == tenant_id)
    }

    /// Risky users of one tenant.
    pub fn risky_users_of<'a>(
        &'a self,
        tenant_id: &'a str,
    ) -> impl Iterator<Item = &'a RiskyUser> + 'a {
        self.risky_users
            .iter()
            .filter(move |u| Self::tenant_of(&u.additional_data) == Some(tenant_id))
    }

    /// Risky-user history items of one tenant.
    pub fn risky_user_history_of<'a>(
        &'a self,
        tenant_id: &'a str,
    ) -> impl Iterator<Item = &'a RiskyUserHistoryItem> + 'a {
        self.risky_user_history
            .iter()
            .filter(move |h| Self::tenant_of(&h.additional_data) == Some(tenant_id))
    }

    /// Risk detections of one tenant.
    pub fn risk_detections_of<'a>(
        &'a self,
        tenant_id: &'a str,
    ) -> impl Iterator<Item = &'a RiskDetection> + 'a {
        self.risk_detections
            .iter()
            .filter(move |d| Self::tenant_of(&d.additional_data) == Some(tenant_id))
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Missing,
    Unknown,
    Expired,
}

/// Tokens a mock issued, with their tenant and expiry.
#[derive(Debug, Default)]
pub struct TokenStore {
    issued: Mutex<HashMap<String, (String, Instant)>>,
    counter: Mutex<u64>,
}

impl TokenStore {
    /// Issues a fresh opaque token for `tenant_id`, valid for `ttl`.
    pub fn issue(&self, tenant_id: &str, ttl: Duration) -> String {
        let n = {
            let mut c = self.counter.lock().unwrap_or_else(|e| e.into_inner());
            *c += 1;
            *c
        };
        let token = format!("mock.{}.{n}", uuid::Uuid::new_v4().simple());
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), (tenant_id.to_string(), Instant::now() + ttl));
        token
    }

    /// The tenant of a valid token taken from an `Authorization` header value.
    pub fn validate_header(&self, authorization: Option<&str>) -> Result<String, TokenRejection> {
        let raw = authorization.ok_or(TokenRejection::Missing)?;
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .ok_or(TokenRejection::Missing)?;
        self.validate(token.trim())
    }

    pub fn validate(&self, token: &str) -> Result<String, TokenRejection> {
        let issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        match issued.get(token) {
            None => Err(TokenRejection::Unknown),
            Some((_, exp)) if *exp <= Instant::now() => Err(TokenRejection::Expired),
            Some((tenant, _)) => Ok(tenant.clone()),
        }
    }

    /// Makes every issued token expired (to test refresh-on-401).
    pub fn expire_all(&self) {
        let past = Instant::now();
        for (_, exp) in self
            .issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values_mut()
        {
            *exp = past;
        }
    }

    /// How many tokens were issued so far.
    pub fn issued_count(&self) -> u64 {
        *self.counter.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A write that reached the mock.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedWrite {
    pub seq: u64,
    pub at: Timestamp,
    pub tenant_id: String,
    pub method: String,
    /// Path and query as received.
    pub path: String,
    pub body: serde_json::Value,
}

/// Any request that reached the mock's product routes (after fault injection decided to answer
/// or not), for counting upstream calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    pub seq: u64,
    pub at: Timestamp,
    pub method: String,
    pub path: String,
}

/// Everything recorded by one mock.
#[derive(Debug, Default)]
pub struct Recorder {
    writes: Mutex<Vec<RecordedWrite>>,
    requests: Mutex<Vec<RecordedRequest>>,
    seq: Mutex<u64>,
}

impl Recorder {
    fn next_seq(&self) -> u64 {
        let mut s = self.seq.lock().unwrap_or_else(|e| e.into_inner());
        *s += 1;
        *s
    }

    pub fn record_write(&self, tenant_id: &str, method: &str, path: &str, body: serde_json::Value) {
        let w = RecordedWrite {
            seq: self.next_seq(),
            at: Timestamp::now(),
            tenant_id: tenant_id.to_string(),
            method: method.to_string(),
            path: path.to_string(),
            body,
        };
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(w);
    }

    pub fn record_request(&self, method: &str, path: &str) {
        let r = RecordedRequest {
            seq: self.next_seq(),
            at: Timestamp::now(),
            method: method.to_string(),
            path: path.to_string(),
        };
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(r);
    }

    pub fn writes(&self) -> Vec<RecordedWrite> {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn clear(&self) {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// State every format's router gets. The format keeps its own native records; this holds what
/// is common.
#[derive(Debug)]
pub struct Core {
    pub kind: ProviderKind,
    /// Tenant ids this mock serves (Entra GUIDs).
    pub tenants: Vec<String>,
    pub tokens: TokenStore,
    pub recorder: Recorder,
    /// Lifetime of issued access tokens.
    pub token_ttl: Duration,
}

impl Core {
    pub fn new(kind: ProviderKind, tenants: Vec<String>, token_ttl: Duration) -> Self {
        Self {
            kind,
            tenants,
            tokens: TokenStore::default(),
            recorder: Recorder::default(),
            token_ttl,
        }
    }

    pub fn credentials(&self, tenant_id: &str) -> Credentials {
        Credentials::for_tenant(self.kind, tenant_id)
    }

    /// The tenant whose client id and secret these are, if they match.
    pub fn tenant_for_client(&self, client_id: &str, client_secret: &str) -> Option<String> {
        self.tenants
            .iter()
            .find(|t| {
                let c = self.credentials(t);
                c.client_id == client_id && c.client_secret == client_secret
            })
            .cloned()
    }

    /// The tenant whose static API token this is.
    pub fn tenant_for_api_token(&self, token: &str) -> Option<String> {
        self.tenants
            .iter()
            .find(|t| self.credentials(t).api_token == token)
            .cloned()
    }
}
