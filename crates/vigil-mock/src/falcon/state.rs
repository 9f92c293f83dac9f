//! The mutable per-tenant alert store behind the mock, and the `PATCH …/alerts/v3` actions.
//!
//! One tenant is one Falcon customer (`cid`); a caller only ever reaches the records of the tenant
//! its token belongs to. Records keep the scenario's order; queries sort them explicitly, with the
//! composite id as tie-breaker so offset paging over an unchanged set is deterministic.
//!
//! Action semantics follow CrowdStrike's `update_v3` parameters (gofalcon
//! `falcon/models/detectsapi_patch_entities_alerts_v3_request.go`): every action applies to every
//! id, in the order given; the whole request is validated before anything changes, so a bad action
//! never leaves a half-applied update.

use super::fql::Filter;
use super::record::{Comment, FalconRecord, falcon_time};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// The statuses `update_status` accepts.
pub const STATUSES: [&str; 4] = ["new", "in_progress", "reopened", "closed"];

/// One validated action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    UpdateStatus(String),
    AssignToName(String),
    AssignToUuid(String),
    AssignToUserId(String),
    Unassign,
    AddTag(String),
    RemoveTag(String),
    RemoveTagsByPrefix(String),
    AppendComment(String),
    ShowInUi(bool),
}

/// Why an action was refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ActionError(pub String);

impl Action {
    /// Validates one `{"name","value"}` pair.
    pub fn parse(name: &str, value: &str) -> Result<Self, ActionError> {
        let non_empty = |what: &str| {
            if value.trim().is_empty() {
                Err(ActionError(format!(
                    "action '{what}' needs a non-empty value"
                )))
            } else {
                Ok(value.to_string())
            }
        };
        Ok(match name {
            "update_status" => {
                if !STATUSES.contains(&value) {
                    return Err(ActionError(format!(
                        "invalid status '{value}', expected one of {}",
                        STATUSES.join(", ")
                    )));
                }
                Self::UpdateStatus(value.to_string())
            }
            "assign_to_name" => Self::AssignToName(non_empty(name)?),
            "assign_to_uuid" => {
                if uuid::Uuid::parse_str(value).is_err() {
                    return Err(ActionError(format!("'{value}' is not a user UUID")));
                }
                Self::AssignToUuid(value.to_string())
            }
            "assign_to_user_id" => Self::AssignToUserId(non_empty(name)?),
            "unassign" => Self::Unassign,
            "add_tag" => Self::AddTag(non_empty(name)?),
            "remove_tag" => Self::RemoveTag(non_empty(name)?),
            "remove_tags_by_prefix" => Self::RemoveTagsByPrefix(non_empty(name)?),
            "append_comment" => Self::AppendComment(non_empty(name)?),
            "show_in_ui" => match value {
                "true" => Self::ShowInUi(true),
                "false" => Self::ShowInUi(false),
                _ => {
                    return Err(ActionError(format!(
                        "show_in_ui takes true or false, not '{value}'"
                    )));
                }
            },
            other => return Err(ActionError(format!("unknown action name '{other}'"))),
        })
    }

    fn apply(&self, r: &mut FalconRecord, actor: &str, now: DateTime<Utc>) {
        match self {
            Self::UpdateStatus(s) => {
                let since_created = (now - r.created_at).num_seconds().max(0);
                if s == "in_progress" && r.seconds_to_triaged == 0 {
                    r.seconds_to_triaged = since_created;
                }
                if s == "closed" {
                    r.seconds_to_resolved = since_created;
                } else {
                    r.seconds_to_resolved = 0;
                }
                r.status = s.clone();
            }
            Self::AssignToName(n) => {
                r.assigned_to_name = Some(n.clone());
                r.assigned_to_uid = None;
                r.assigned_to_uuid = None;
            }
            Self::AssignToUuid(u) => {
                // The mock has no user directory to resolve a UUID to a name.
                r.assigned_to_name = None;
                r.assigned_to_uid = None;
                r.assigned_to_uuid = Some(u.clone());
            }
            Self::AssignToUserId(id) => {
                r.assigned_to_name = None;
                r.assigned_to_uid = Some(id.clone());
                r.assigned_to_uuid =
                    Some(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, id.as_bytes()).to_string());
            }
            Self::Unassign => {
                r.assigned_to_name = None;
                r.assigned_to_uid = None;
                r.assigned_to_uuid = None;
            }
            Self::AddTag(t) => {
                if !r.tags.contains(t) {
                    r.tags.push(t.clone());
                }
            }
            Self::RemoveTag(t) => r.tags.retain(|x| x != t),
            Self::RemoveTagsByPrefix(p) => r.tags.retain(|x| !x.starts_with(p.as_str())),
            Self::AppendComment(c) => r.comments.push(Comment {
                value: c.clone(),
                created_by: actor.to_string(),
                created_timestamp: falcon_time(now),
            }),
            Self::ShowInUi(b) => r.show_in_ui = *b,
        }
    }
}

/// Sort keys `GET /alerts/queries/alerts/v2` accepts (`field.asc|desc`, also `field|desc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    key: SortKey,
    descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Created,
    Updated,
    Timestamp,
    Severity,
    Status,
    Product,
}

impl Default for Sort {
    /// `created_timestamp.desc` [vigil].
    fn default() -> Self {
        Self {
            key: SortKey::Created,
            descending: true,
        }
    }
}

impl Sort {
    pub fn parse(s: &str) -> Result<Self, ActionError> {
        let (field, dir) = s
            .rsplit_once('.')
            .or_else(|| s.rsplit_once('|'))
            .unwrap_or((s, "asc"));
        let key = match field {
            "created_timestamp" => SortKey::Created,
            "updated_timestamp" => SortKey::Updated,
            "timestamp" => SortKey::Timestamp,
            "severity" => SortKey::Severity,
            "status" => SortKey::Status,
            "product" => SortKey::Product,
            other => return Err(ActionError(format!("unsupported sort field '{other}'"))),
        };
        let descending = match dir {
            "asc" => false,
            "desc" => true,
            other => return Err(ActionError(format!("unsupported sort direction '{other}'"))),
        };
        Ok(Self { key, descending })
    }

    fn compare(&self, a: &FalconRecord, b: &FalconRecord) -> std::cmp::Ordering {
        let ord = match self.key {
            SortKey::Created => a.created_at.cmp(&b.created_at),
            SortKey::Updated => a.updated_at.cmp(&b.updated_at),
            SortKey::Timestamp => a.timestamp.cmp(&b.timestamp),
            SortKey::Severity => a.severity.cmp(&b.severity),
            SortKey::Status => a.status.cmp(&b.status),
            SortKey::Product => a.product.cmp(&b.product),
        };
        let ord = if self.descending { ord.reverse() } else { ord };
        ord.then_with(|| a.composite_id.cmp(&b.composite_id))
    }
}

#[derive(Debug, Default)]
struct Tenant {
    records: Vec<FalconRecord>,
    index: HashMap<String, usize>,
}

/// The records of every tenant.
#[derive(Debug, Default)]
pub struct Store {
    tenants: Mutex<HashMap<String, Tenant>>,
}

/// The outcome of a `PATCH`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatchOutcome {
    pub updated: Vec<String>,
    pub unknown: Vec<String>,
}

impl Store {
    pub fn insert(&self, tenant_id: &str, record: FalconRecord) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let t = tenants.entry(tenant_id.to_string()).or_default();
        match t.index.get(&record.composite_id) {
            Some(&i) => {
                if let Some(slot) = t.records.get_mut(i) {
                    *slot = record;
                }
            }
            None => {
                t.index.insert(record.composite_id.clone(), t.records.len());
                t.records.push(record);
            }
        }
    }

    /// The composite ids of one page, and how many records match in total.
    pub fn query(
        &self,
        tenant_id: &str,
        filter: &Filter,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> (Vec<String>, usize) {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let Some(t) = tenants.get(tenant_id) else {
            return (Vec::new(), 0);
        };
        let mut hits: Vec<&FalconRecord> = t.records.iter().filter(|r| filter.matches(r)).collect();
        hits.sort_by(|a, b| sort.compare(a, b));
        let total = hits.len();
        let ids = hits
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|r| r.composite_id.clone())
            .collect();
        (ids, total)
    }

    /// The records for `ids` in request order (each once), and the ids this tenant does not have.
    pub fn get(&self, tenant_id: &str, ids: &[String]) -> (Vec<FalconRecord>, Vec<String>) {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            match tenants
                .get(tenant_id)
                .and_then(|t| t.index.get(id).and_then(|&i| t.records.get(i)))
            {
                Some(r) => found.push(r.clone()),
                None => unknown.push(id.clone()),
            }
        }
        (found, unknown)
    }

    /// Applies validated actions to every known id of the tenant.
    pub fn patch(
        &self,
        tenant_id: &str,
        ids: &[String],
        actions: &[Action],
        actor: &str,
    ) -> PatchOutcome {
        let now = Utc::now();
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = PatchOutcome::default();
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let record = tenants.get_mut(tenant_id).and_then(|t| {
                let i = *t.index.get(id)?;
                t.records.get_mut(i)
            });
            match record {
                Some(r) => {
                    for a in actions {
                        a.apply(r, actor, now);
                    }
                    r.updated_at = now;
                    r.updated_timestamp = falcon_time(now);
                    out.updated.push(id.clone());
                }
                None => out.unknown.push(id.clone()),
            }
        }
        out
    }

    /// How many records a tenant has.
    pub fn count(&self, tenant_id: &str) -> usize {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.get(tenant_id).map_or(0, |t| t.records.len())
    }
}
