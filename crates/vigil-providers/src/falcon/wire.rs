//! Falcon's native JSON shapes, as the adapter reads and writes them.
//!
//! Field names follow `docs/partner-formats.md` §2, CrowdStrike's Go SDK models
//! (`CrowdStrike/gofalcon`, `falcon/models/detectsapi_*`) and the published
//! `POST /alerts/entities/alerts/v2` sample. Reading is lenient where real data varies: `null` for
//! a list is an empty list, an empty string for a timestamp is no timestamp, `process_id` may be a
//! string (`"pid:…"`, digits) or a number, and every field we do not name is kept in
//! [`FalconAlert::extra`] so nothing the upstream sent is lost to the adapter.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use vigil_model::Timestamp;

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// `null`, a missing key or `""` → `None`; otherwise any timestamp form `vigil-model` accepts
/// (Falcon sends RFC 3339 UTC with up to 9 fraction digits).
fn lenient_time<'de, D>(d: D) -> Result<Option<Timestamp>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => Timestamp::parse(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Falcon's response envelope: `{"meta","resources","errors"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope<T> {
    #[serde(default)]
    pub meta: Meta,
    #[serde(
        default = "Vec::new",
        deserialize_with = "null_as_empty",
        bound(deserialize = "T: Deserialize<'de>")
    )]
    pub resources: Vec<T>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub errors: Vec<ApiError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub pagination: Option<Pagination>,
    #[serde(default)]
    pub trace_id: Option<String>,
}

/// `meta.pagination` of a query.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pagination {
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub total: Option<u64>,
}

/// One entry of `errors`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `device`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct FalconDevice {
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub local_ip: Option<String>,
    #[serde(default)]
    pub external_ip: Option<String>,
    #[serde(default)]
    pub platform_name: Option<String>,
    #[serde(default)]
    pub os_version: Option<String>,
    #[serde(default)]
    pub machine_domain: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `parent_details`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ParentDetails {
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub filepath: Option<String>,
    #[serde(default)]
    pub cmdline: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub process_id: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `mitre_attack` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MitreAttack {
    #[serde(default)]
    pub tactic_id: Option<String>,
    #[serde(default)]
    pub tactic: Option<String>,
    #[serde(default)]
    pub technique_id: Option<String>,
    #[serde(default)]
    pub technique: Option<String>,
}

/// One entry of `comments`. `created_by` is kept as it came (a string in the contract, possibly
/// an object in other Falcon versions); the adapter only maps `value`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct FalconComment {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub created_by: Option<Value>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_timestamp: Option<Timestamp>,
}

/// A Falcon alert entity (`POST /alerts/entities/alerts/v2` resource).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct FalconAlert {
    pub composite_id: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub cid: Option<String>,
    #[serde(default)]
    pub aggregate_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub severity: Option<i64>,
    #[serde(default)]
    pub severity_name: Option<String>,
    #[serde(default)]
    pub confidence: Option<i64>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub assigned_to_name: Option<String>,
    #[serde(default)]
    pub assigned_to_uid: Option<String>,
    #[serde(default)]
    pub assigned_to_uuid: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub comments: Vec<FalconComment>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_timestamp: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_timestamp: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub timestamp: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub first_timestamp: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_timestamp: Option<Timestamp>,
    #[serde(default)]
    pub seconds_to_resolved: Option<i64>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub tactic: Option<String>,
    #[serde(default)]
    pub tactic_id: Option<String>,
    #[serde(default)]
    pub technique: Option<String>,
    #[serde(default)]
    pub technique_id: Option<String>,
    #[serde(default)]
    pub objective: Option<String>,
    #[serde(default)]
    pub scenario: Option<String>,
    #[serde(default)]
    pub pattern_id: Option<i64>,
    #[serde(default)]
    pub falcon_host_link: Option<String>,
    #[serde(default)]
    pub device: Option<FalconDevice>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub user_principal: Option<String>,
    /// The address the account signed in from (identity detections).
    #[serde(default)]
    pub source_endpoint_ip_address: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub filepath: Option<String>,
    #[serde(default)]
    pub cmdline: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub sha1: Option<String>,
    #[serde(default)]
    pub md5: Option<String>,
    #[serde(default)]
    pub process_id: Option<Value>,
    #[serde(default)]
    pub parent_details: Option<ParentDetails>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub mitre_attack: Vec<MitreAttack>,
    /// Every other field of the entity, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"composite_ids":[…]}` for `POST /alerts/entities/alerts/v2`.
#[derive(Debug, Clone, Serialize)]
pub struct EntitiesRequest<'a> {
    pub composite_ids: &'a [String],
}

/// One `{"name","value"}` of `action_parameters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionParameter {
    pub name: &'static str,
    pub value: String,
}

impl ActionParameter {
    pub fn new(name: &'static str, value: impl Into<String>) -> Self {
        Self {
            name,
            value: value.into(),
        }
    }
}

/// The body of `PATCH /alerts/entities/alerts/v3`.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateRequest<'a> {
    pub composite_ids: &'a [String],
    pub action_parameters: &'a [ActionParameter],
}
