//! The pure mapping between Falcon alerts and Graph alerts, both directions, and the planning of
//! an update as Falcon actions. No I/O: everything here is decided from values and unit-tested.
//! The table and its losses are in the [module docs](super).

use super::wire::{ActionParameter, FalconAlert, MitreAttack};
use crate::provider::AlertChange;
use serde_json::Value;
use vigil_model::{
    Alert, AlertDetection, AlertFeedback, AlertSeverity, AlertStatus, AlertTrigger, FileHash,
    FileHashType, FileSecurityState, HostSecurityState, Process, SecurityVendorInformation,
    Timestamp, UserSecurityState,
};

/// `vendorInformation.provider` of every Falcon alert.
pub const PROVIDER: &str = "Falcon";
/// `vendorInformation.vendor` of every Falcon alert.
pub const VENDOR: &str = "CrowdStrike";

/// The tag that tells a Graph `dismissed` alert from a `resolved` one (both are Falcon `closed`).
pub const DISMISSED_TAG: &str = "vigil/status/dismissed";
/// Falcon's verdict tags (set by the console's verdict and by `update_detections`), which carry
/// Graph's `feedback`.
pub const TRUE_POSITIVE_TAG: &str = "true_positive";
pub const FALSE_POSITIVE_TAG: &str = "false_positive";
pub const IGNORED_TAG: &str = "ignored";
/// Tags that carry status or feedback and so are not shown in (nor writable through) Graph `tags`.
pub const RESERVED_TAGS: [&str; 4] = [
    DISMISSED_TAG,
    TRUE_POSITIVE_TAG,
    FALSE_POSITIVE_TAG,
    IGNORED_TAG,
];

/// `additionalData` key holding the native severity (1–100) when there is one.
pub const FALCON_SEVERITY_KEY: &str = "falconSeverity";
/// `additionalData` key holding the native status (`new`, `in_progress`, `reopened`, `closed`).
pub const FALCON_STATUS_KEY: &str = "falconStatus";

// ---- severity --------------------------------------------------------------------------------

/// Falcon severity (1–100) → Graph, on CrowdStrike's bands: Informational < 20 ≤ Low < 50 ≤
/// Medium < 70 ≤ High < 90 ≤ Critical. Graph has no critical, so Critical is `high` (the number
/// stays in `additionalData.falconSeverity`). Outside 1–100 → `unknown`.
pub fn severity_from_falcon(severity: i64) -> AlertSeverity {
    match severity {
        1..=19 => AlertSeverity::Informational,
        20..=49 => AlertSeverity::Low,
        50..=69 => AlertSeverity::Medium,
        70..=100 => AlertSeverity::High,
        _ => AlertSeverity::Unknown,
    }
}

/// Falcon `severity_name` → Graph, for entities that lack the number.
pub fn severity_from_name(name: &str) -> AlertSeverity {
    match name.to_ascii_lowercase().as_str() {
        "informational" => AlertSeverity::Informational,
        "low" => AlertSeverity::Low,
        "medium" => AlertSeverity::Medium,
        "high" | "critical" => AlertSeverity::High,
        _ => AlertSeverity::Unknown,
    }
}

/// Graph → the canonical Falcon number of the band (10, 30, 50, 70). `unknown` and
/// `unknownFutureValue` have none.
pub fn severity_to_falcon(severity: AlertSeverity) -> Option<i64> {
    match severity {
        AlertSeverity::Informational => Some(10),
        AlertSeverity::Low => Some(30),
        AlertSeverity::Medium => Some(50),
        AlertSeverity::High => Some(70),
        AlertSeverity::Unknown | AlertSeverity::UnknownFutureValue => None,
    }
}

/// The Falcon range `[from, below)` of a Graph severity (for push-down); `below` is `None` for
/// `high`, which runs to 100 and includes Critical.
pub fn severity_band(severity: AlertSeverity) -> Option<(i64, Option<i64>)> {
    match severity {
        AlertSeverity::Informational => Some((1, Some(20))),
        AlertSeverity::Low => Some((20, Some(50))),
        AlertSeverity::Medium => Some((50, Some(70))),
        AlertSeverity::High => Some((70, None)),
        AlertSeverity::Unknown | AlertSeverity::UnknownFutureValue => None,
    }
}

// ---- status ----------------------------------------------------------------------------------

/// Falcon status (+ tags) → Graph. `reopened` reads as `newAlert` (it needs triage again; the
/// native value stays in `additionalData.falconStatus`); `closed` is `dismissed` when it carries
/// [`DISMISSED_TAG`], else `resolved`. An unknown native status is `unknown`.
pub fn status_from_falcon(status: &str, tags: &[String]) -> AlertStatus {
    match status {
        "new" | "reopened" => AlertStatus::NewAlert,
        "in_progress" => AlertStatus::InProgress,
        "closed" if tags.iter().any(|t| t == DISMISSED_TAG) => AlertStatus::Dismissed,
        "closed" => AlertStatus::Resolved,
        _ => AlertStatus::Unknown,
    }
}

/// The Falcon statuses a Graph status may come from (for push-down); `None` when any could.
pub fn status_to_falcon_any(status: AlertStatus) -> Option<&'static [&'static str]> {
    match status {
        AlertStatus::NewAlert => Some(&["new", "reopened"]),
        AlertStatus::InProgress => Some(&["in_progress"]),
        AlertStatus::Resolved | AlertStatus::Dismissed => Some(&["closed"]),
        AlertStatus::Unknown | AlertStatus::UnknownFutureValue => None,
    }
}

/// The native status to write for a Graph status, given the current native one: `newAlert` on a
/// closed alert is `reopened` (Falcon's word for it), on a `new`/`reopened` one it is unchanged.
/// `None` for `unknown`/`unknownFutureValue`, which cannot be written.
pub fn status_to_falcon(target: AlertStatus, current: Option<&str>) -> Option<&'static str> {
    match target {
        AlertStatus::NewAlert => Some(match current {
            Some("closed") => "reopened",
            Some("reopened") => "reopened",
            _ => "new",
        }),
        AlertStatus::InProgress => Some("in_progress"),
        AlertStatus::Resolved | AlertStatus::Dismissed => Some("closed"),
        AlertStatus::Unknown | AlertStatus::UnknownFutureValue => None,
    }
}

// ---- feedback --------------------------------------------------------------------------------

/// Falcon verdict tags → Graph feedback. With several verdict tags (possible: they are plain
/// tags) the first of `true_positive`, `false_positive`, `ignored` wins.
pub fn feedback_from_tags(tags: &[String]) -> Option<AlertFeedback> {
    let has = |t: &str| tags.iter().any(|x| x == t);
    if has(TRUE_POSITIVE_TAG) {
        Some(AlertFeedback::TruePositive)
    } else if has(FALSE_POSITIVE_TAG) {
        Some(AlertFeedback::FalsePositive)
    } else if has(IGNORED_TAG) {
        Some(AlertFeedback::BenignPositive)
    } else {
        None
    }
}

/// Graph feedback → the verdict tag to carry it: `Ok(None)` for `unknown` (no verdict),
/// `Err` for `unknownFutureValue`, which means nothing to write.
pub fn feedback_to_tag(feedback: AlertFeedback) -> Result<Option<&'static str>, String> {
    match feedback {
        AlertFeedback::TruePositive => Ok(Some(TRUE_POSITIVE_TAG)),
        AlertFeedback::FalsePositive => Ok(Some(FALSE_POSITIVE_TAG)),
        AlertFeedback::BenignPositive => Ok(Some(IGNORED_TAG)),
        AlertFeedback::Unknown => Ok(None),
        AlertFeedback::UnknownFutureValue => {
            Err("feedback 'unknownFutureValue' cannot be written".to_string())
        }
    }
}

// ---- assignee --------------------------------------------------------------------------------

/// The Graph `assignedTo` of a Falcon alert: the user id (an e-mail) when set, else the name,
/// else the user UUID.
pub fn assignee(a: &FalconAlert) -> Option<String> {
    [&a.assigned_to_uid, &a.assigned_to_name, &a.assigned_to_uuid]
        .into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty())
        .cloned()
}

/// The action that assigns to `who`: a UUID → `assign_to_uuid`, an e-mail/UPN →
/// `assign_to_user_id`, anything else → `assign_to_name`.
pub fn assign_action(who: &str) -> ActionParameter {
    let name = if is_uuid(who) {
        "assign_to_uuid"
    } else if who.contains('@') {
        "assign_to_user_id"
    } else {
        "assign_to_name"
    };
    ActionParameter::new(name, who)
}

fn is_uuid(s: &str) -> bool {
    let hex: Vec<char> = s.chars().filter(|c| *c != '-').collect();
    let dashes = s.chars().filter(|c| *c == '-').count();
    hex.len() == 32 && (dashes == 0 || dashes == 4) && hex.iter().all(char::is_ascii_hexdigit)
}

// ---- Falcon → Graph --------------------------------------------------------------------------

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|v| !v.trim().is_empty()).cloned()
}

/// `credential_theft` → `credentialTheft` (Graph's category style).
fn camel_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' || c == '-' || c == ' ' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A `process_id` as Graph's Int32, when it is one (Falcon's may be `"pid:…"` or larger).
fn process_id(v: &Option<Value>) -> Option<i32> {
    match v.as_ref()? {
        Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
        Value::String(s) => s.trim().parse::<i32>().ok(),
        _ => None,
    }
}

/// Splits a Falcon `filepath` (which includes the file name) into Graph's folder `path`.
fn folder_of(filepath: &str, filename: Option<&str>) -> String {
    if let Some(name) = filename
        && let Some(dir) = filepath.strip_suffix(name)
    {
        return dir.trim_end_matches(['\\', '/']).to_string();
    }
    match filepath.rfind(['\\', '/']) {
        Some(i) => filepath[..i].to_string(),
        None => filepath.to_string(),
    }
}

fn hash(ty: FileHashType, value: &Option<String>) -> Option<FileHash> {
    non_empty(value).map(|v| FileHash {
        hash_type: Some(ty),
        hash_value: Some(v),
    })
}

/// The Graph alert for a Falcon alert of the Vigil tenant `tenant_id`.
pub fn to_graph(a: &FalconAlert, tenant_id: &str) -> Alert {
    let severity = match (a.severity, a.severity_name.as_deref()) {
        (Some(n), _) if (1..=100).contains(&n) => severity_from_falcon(n),
        (_, Some(name)) => severity_from_name(name),
        (Some(n), None) => severity_from_falcon(n),
        (None, None) => AlertSeverity::Unknown,
    };
    let status = a
        .status
        .as_deref()
        .map_or(AlertStatus::Unknown, |s| status_from_falcon(s, &a.tags));
    let closed_date_time = match (
        a.status.as_deref(),
        a.created_timestamp,
        a.seconds_to_resolved,
    ) {
        (Some("closed"), Some(created), Some(secs)) if secs >= 0 => created
            .0
            .checked_add_signed(chrono::Duration::seconds(secs))
            .map(Timestamp::from_utc),
        _ => None,
    };

    let mut additional = serde_json::Map::new();
    if let Some(n) = a.severity {
        additional.insert(FALCON_SEVERITY_KEY.into(), Value::from(n));
    }
    if let Some(s) = &a.status {
        additional.insert(FALCON_STATUS_KEY.into(), Value::from(s.clone()));
    }

    let host_states = a
        .device
        .as_ref()
        .filter(|d| d.hostname.is_some() || d.local_ip.is_some() || d.external_ip.is_some())
        .map(|d| {
            let fqdn = match (non_empty(&d.hostname), non_empty(&d.machine_domain)) {
                (Some(h), Some(dom)) if !h.contains('.') => Some(format!("{h}.{dom}")),
                (Some(h), _) if h.contains('.') => Some(h),
                _ => None,
            };
            HostSecurityState {
                fqdn,
                net_bios_name: non_empty(&d.hostname).map(|h| match h.split_once('.') {
                    Some((first, _)) => first.to_string(),
                    None => h,
                }),
                os: non_empty(&d.os_version).or_else(|| non_empty(&d.platform_name)),
                private_ip_address: non_empty(&d.local_ip),
                public_ip_address: non_empty(&d.external_ip),
                ..HostSecurityState::default()
            }
        })
        .into_iter()
        .collect();

    let user_states = if a.user_name.is_some()
        || a.user_id.is_some()
        || a.user_principal.is_some()
        || a.source_endpoint_ip_address.is_some()
    {
        let (domain, account) = match non_empty(&a.user_name) {
            Some(u) => match u.split_once('\\') {
                Some((d, n)) => (Some(d.to_string()), Some(n.to_string())),
                None => (None, Some(u)),
            },
            None => (None, None),
        };
        vec![UserSecurityState {
            account_name: account,
            domain_name: domain,
            on_premises_security_identifier: non_empty(&a.user_id),
            user_principal_name: non_empty(&a.user_principal),
            logon_ip: non_empty(&a.source_endpoint_ip_address),
            ..UserSecurityState::default()
        }]
    } else {
        Vec::new()
    };

    let filename = non_empty(&a.filename);
    let folder = non_empty(&a.filepath).map(|p| folder_of(&p, filename.as_deref()));
    let hashes: Vec<FileHash> = [
        hash(FileHashType::Sha256, &a.sha256),
        hash(FileHashType::Sha1, &a.sha1),
        hash(FileHashType::Md5, &a.md5),
    ]
    .into_iter()
    .flatten()
    .collect();
    let file_states = if filename.is_none() && folder.is_none() && hashes.is_empty() {
        Vec::new()
    } else if hashes.is_empty() {
        vec![FileSecurityState {
            name: filename.clone(),
            path: folder.clone(),
            ..FileSecurityState::default()
        }]
    } else {
        hashes
            .iter()
            .map(|h| FileSecurityState {
                file_hash: Some(h.clone()),
                name: filename.clone(),
                path: folder.clone(),
                risk_score: None,
            })
            .collect()
    };

    let parent = a.parent_details.as_ref();
    let mut processes = Vec::new();
    if filename.is_some() || a.cmdline.is_some() || a.process_id.is_some() {
        processes.push(Process {
            account_name: non_empty(&a.user_name),
            command_line: non_empty(&a.cmdline),
            file_hash: hashes.first().cloned(),
            name: filename.clone(),
            path: folder.clone(),
            process_id: process_id(&a.process_id),
            parent_process_name: parent.and_then(|p| non_empty(&p.filename)),
            parent_process_id: parent.and_then(|p| process_id(&p.process_id)),
            ..Process::default()
        });
    }
    if let Some(p) = parent
        && (p.filename.is_some() || p.cmdline.is_some())
    {
        let pname = non_empty(&p.filename);
        processes.push(Process {
            command_line: non_empty(&p.cmdline),
            file_hash: hash(FileHashType::Sha256, &p.sha256),
            path: non_empty(&p.filepath).map(|fp| folder_of(&fp, pname.as_deref())),
            name: pname,
            process_id: process_id(&p.process_id),
            ..Process::default()
        });
    }

    let mut triggers = Vec::new();
    let top_level = [MitreAttack {
        tactic_id: a.tactic_id.clone(),
        tactic: a.tactic.clone(),
        technique_id: a.technique_id.clone(),
        technique: a.technique.clone(),
    }];
    let mitre: &[MitreAttack] = if a.mitre_attack.is_empty() {
        &top_level
    } else {
        &a.mitre_attack
    };
    let join = |id: &Option<String>, name: &Option<String>| match (non_empty(id), non_empty(name)) {
        (Some(i), Some(n)) => Some(format!("{i} {n}")),
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    };
    for m in mitre {
        if let Some(v) = join(&m.tactic_id, &m.tactic) {
            triggers.push(AlertTrigger {
                name: Some("tactic".into()),
                r#type: Some("mitreAttack".into()),
                value: Some(v),
            });
        }
        if let Some(v) = join(&m.technique_id, &m.technique) {
            triggers.push(AlertTrigger {
                name: Some("technique".into()),
                r#type: Some("mitreAttack".into()),
                value: Some(v),
            });
        }
    }

    let alert_detections = if a.kind.is_some() || a.name.is_some() {
        vec![AlertDetection {
            detection_type: non_empty(&a.kind),
            method: non_empty(&a.product),
            name: non_empty(&a.name),
        }]
    } else {
        Vec::new()
    };

    Alert {
        id: a.composite_id.clone(),
        azure_tenant_id: tenant_id.to_string(),
        title: non_empty(&a.display_name).or_else(|| non_empty(&a.name)),
        description: non_empty(&a.description),
        category: non_empty(&a.scenario)
            .map(|s| camel_case(&s))
            .or_else(|| non_empty(&a.tactic)),
        severity,
        status,
        feedback: feedback_from_tags(&a.tags),
        assigned_to: assignee(a),
        confidence: a.confidence.and_then(|c| i32::try_from(c).ok()),
        created_date_time: a.created_timestamp,
        last_modified_date_time: a.updated_timestamp,
        event_date_time: a.timestamp.or(a.first_timestamp).or(a.created_timestamp),
        last_event_date_time: a.last_timestamp,
        closed_date_time,
        tags: a
            .tags
            .iter()
            .filter(|t| !RESERVED_TAGS.contains(&t.as_str()))
            .cloned()
            .collect(),
        comments: a.comments.iter().filter_map(|c| c.value.clone()).collect(),
        detection_ids: non_empty(&a.aggregate_id).into_iter().collect(),
        source_materials: non_empty(&a.falcon_host_link).into_iter().collect(),
        vendor_information: SecurityVendorInformation {
            provider: Some(PROVIDER.into()),
            provider_version: None,
            sub_provider: non_empty(&a.product),
            vendor: Some(VENDOR.into()),
        },
        host_states,
        user_states,
        file_states,
        processes,
        triggers,
        alert_detections,
        additional_data: additional,
        ..Alert::default()
    }
}

// ---- Graph change → Falcon actions -----------------------------------------------------------

/// The Falcon actions that turn `current` into the state `change` asks for, in this order:
/// status, assignment, tag removals, tag additions, comments. Empty when nothing changes, so a
/// retried update sends nothing new (comments already present are not appended again).
///
/// `Err` (a bad request) for what cannot be written: `unknown`/`unknownFutureValue` status,
/// `unknownFutureValue` feedback, a reserved tag in `tags`. `closedDateTime` is not writable on
/// Falcon (Falcon stamps its own closure) and is ignored, as is `vendorInformation`.
pub fn plan_update(
    current: &FalconAlert,
    change: &AlertChange,
) -> Result<Vec<ActionParameter>, String> {
    let mut actions = Vec::new();
    let has_tag = |t: &str| current.tags.iter().any(|x| x == t);
    let mut remove: Vec<String> = Vec::new();
    let mut add: Vec<String> = Vec::new();

    if let Some(target) = change.status {
        let native = status_to_falcon(target, current.status.as_deref())
            .ok_or_else(|| format!("status '{target}' cannot be written"))?;
        if current.status.as_deref() != Some(native) {
            actions.push(ActionParameter::new("update_status", native));
        }
        match (target == AlertStatus::Dismissed, has_tag(DISMISSED_TAG)) {
            (true, false) => add.push(DISMISSED_TAG.to_string()),
            (false, true) => remove.push(DISMISSED_TAG.to_string()),
            _ => {}
        }
    }

    if let Some(target) = &change.assigned_to {
        let target = target.as_deref().map(str::trim).filter(|s| !s.is_empty());
        match (target, assignee(current)) {
            (None, Some(_)) => actions.push(ActionParameter::new("unassign", "")),
            (Some(who), now) if now.as_deref() != Some(who) => actions.push(assign_action(who)),
            _ => {}
        }
    }

    if let Some(feedback) = change.feedback {
        let wanted = feedback_to_tag(feedback)?;
        for verdict in [TRUE_POSITIVE_TAG, FALSE_POSITIVE_TAG, IGNORED_TAG] {
            if Some(verdict) == wanted {
                if !has_tag(verdict) {
                    add.push(verdict.to_string());
                }
            } else if has_tag(verdict) {
                remove.push(verdict.to_string());
            }
        }
    }

    if let Some(desired) = &change.tags {
        if let Some(bad) = desired.iter().find(|t| RESERVED_TAGS.contains(&t.as_str())) {
            return Err(format!(
                "tag '{bad}' is reserved on Falcon: it carries the status or feedback"
            ));
        }
        if let Some(bad) = desired.iter().find(|t| t.trim().is_empty()) {
            return Err(format!("tag '{bad}' is empty"));
        }
        for t in &current.tags {
            if !RESERVED_TAGS.contains(&t.as_str()) && !desired.contains(t) && !remove.contains(t) {
                remove.push(t.clone());
            }
        }
        for t in desired {
            if !has_tag(t) && !add.contains(t) {
                add.push(t.clone());
            }
        }
    }
    actions.extend(
        remove
            .into_iter()
            .map(|t| ActionParameter::new("remove_tag", t)),
    );
    actions.extend(add.into_iter().map(|t| ActionParameter::new("add_tag", t)));

    if let Some(desired) = &change.comments {
        // Multiset difference in order: each existing comment accounts for one equal desired one.
        let mut existing: Vec<&str> = current
            .comments
            .iter()
            .filter_map(|c| c.value.as_deref())
            .collect();
        for c in desired {
            if c.trim().is_empty() {
                return Err("an empty comment cannot be appended".to_string());
            }
            match existing.iter().position(|e| *e == c) {
                Some(i) => {
                    existing.remove(i);
                }
                None => actions.push(ActionParameter::new("append_comment", c.clone())),
            }
        }
        if !existing.is_empty() {
            tracing::debug!(
                kept = existing.len(),
                "Falcon comments are append-only; comments left out of the desired list stay"
            );
        }
    }
    if change.closed_date_time.is_some() {
        tracing::debug!("closedDateTime is not writable on Falcon; ignored");
    }
    Ok(actions)
}
