//! OCSF ⇄ Graph mapping. Pure: no I/O. The tables and the losses are documented in the parent
//! module ([`super`]); every function here states which row it implements.

use super::native::*;
use crate::provider::{AlertChange, PushDown};
use serde_json::{Map, Value, json};
use vigil_model::*;

/// Key in `additional_data` keeping a native `severity_id` that Graph cannot express.
pub const SEVERITY_ID_KEY: &str = "ocsfSeverityId";
/// Key in `additional_data` keeping a native `status_id` that Graph cannot express.
pub const STATUS_ID_KEY: &str = "ocsfStatusId";
/// Key in `additional_data` keeping a native `verdict_id` that Graph cannot express.
pub const VERDICT_ID_KEY: &str = "ocsfVerdictId";
/// Key in a risky user's `additional_data` keeping a native `risk_level_id` (4 Critical).
pub const RISK_LEVEL_ID_KEY: &str = "ocsfRiskLevelId";

/// Separator line between Graph comments inside OCSF's single `comment` string.
pub const COMMENT_SEPARATOR: &str = "\n---\n";

/// `finding_info.types[0]` of an identity risk detection.
pub const IDENTITY_RISK_TYPE: &str = "Identity Risk";

/// Why a native record could not become a Graph resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("the record has no identifier ({0})")]
    MissingId(&'static str),
}

// ---- enumerations ----------------------------------------------------------------------------

/// One row of an OCSF enum ⇄ Graph enum table.
struct Row<G: 'static> {
    id: i64,
    caption: &'static str,
    graph: G,
    /// Whether Graph → OCSF gives this id back (the first row for each Graph value).
    canonical: bool,
}

const fn row<G>(id: i64, caption: &'static str, graph: G, canonical: bool) -> Row<G> {
    Row {
        id,
        caption,
        graph,
        canonical,
    }
}

/// `severity_id` → `severity`. Critical and Fatal become `high`: lossy.
const SEVERITY: &[Row<AlertSeverity>] = &[
    row(0, "Unknown", AlertSeverity::Unknown, true),
    row(1, "Informational", AlertSeverity::Informational, true),
    row(2, "Low", AlertSeverity::Low, true),
    row(3, "Medium", AlertSeverity::Medium, true),
    row(4, "High", AlertSeverity::High, true),
    row(5, "Critical", AlertSeverity::High, false),
    row(6, "Fatal", AlertSeverity::High, false),
    row(99, "Other", AlertSeverity::UnknownFutureValue, true),
];

/// `status_id` → `status`.
const STATUS: &[Row<AlertStatus>] = &[
    row(0, "Unknown", AlertStatus::Unknown, true),
    row(1, "New", AlertStatus::NewAlert, true),
    row(2, "In Progress", AlertStatus::InProgress, true),
    row(3, "Suppressed", AlertStatus::Dismissed, true),
    row(4, "Resolved", AlertStatus::Resolved, true),
    row(99, "Other", AlertStatus::UnknownFutureValue, true),
];

/// `verdict_id` → `feedback`. Only 0, 1, 2, 5 and 99 have an exact Graph counterpart.
const VERDICT: &[Row<AlertFeedback>] = &[
    row(0, "Unknown", AlertFeedback::Unknown, true),
    row(1, "False Positive", AlertFeedback::FalsePositive, true),
    row(2, "True Positive", AlertFeedback::TruePositive, true),
    row(3, "Disregard", AlertFeedback::Unknown, false),
    row(4, "Suspicious", AlertFeedback::Unknown, false),
    row(5, "Benign", AlertFeedback::BenignPositive, true),
    row(6, "Test", AlertFeedback::BenignPositive, false),
    row(7, "Insufficient Data", AlertFeedback::Unknown, false),
    row(8, "Security Risk", AlertFeedback::TruePositive, false),
    row(9, "Managed Externally", AlertFeedback::Unknown, false),
    row(10, "Duplicate", AlertFeedback::Unknown, false),
    row(99, "Other", AlertFeedback::UnknownFutureValue, true),
];

/// `risk_level_id` → `riskLevel`. `hidden` travels as 99 Other with the caption `Hidden`
/// (OCSF lets the source name an Other value); 4 Critical becomes `high`: lossy.
const RISK_LEVEL: &[Row<RiskLevel>] = &[
    row(0, "Info", RiskLevel::None, true),
    row(1, "Low", RiskLevel::Low, true),
    row(2, "Medium", RiskLevel::Medium, true),
    row(3, "High", RiskLevel::High, true),
    row(4, "Critical", RiskLevel::High, false),
    // 99 without a known caption is Other: it must come before Hidden.
    row(99, "Other", RiskLevel::UnknownFutureValue, true),
    row(99, "Hidden", RiskLevel::Hidden, true),
];

/// An OCSF value read from a record: the Graph value and whether it lost information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped<G> {
    pub graph: G,
    /// The native id when it cannot be recovered from `graph` (kept in `additional_data`).
    pub lost_id: Option<i64>,
}

/// Reads an enum from its id, or from its caption when the id is missing (GuardDuty's sample
/// has `status: "New"` and no `status_id`). For 99 Other the caption picks the row.
fn from_native<G: Copy + PartialEq>(
    table: &[Row<G>],
    id: Option<i64>,
    caption: Option<&str>,
    fallback: G,
) -> Option<Mapped<G>> {
    let by_caption = |c: &str| {
        table
            .iter()
            .find(|r| r.caption.eq_ignore_ascii_case(c.trim()))
    };
    let found = match (id, caption) {
        (Some(99), Some(c)) => by_caption(c)
            .filter(|r| r.id == 99)
            .or_else(|| table.iter().find(|r| r.id == 99 && r.canonical)),
        (Some(id), _) => table.iter().find(|r| r.id == id),
        (None, Some(c)) => by_caption(c),
        (None, None) => return None,
    };
    Some(match found {
        Some(r) => Mapped {
            graph: r.graph,
            lost_id: (!r.canonical).then_some(r.id),
        },
        // An id this schema version does not define (a newer OCSF, a broken producer).
        None => Mapped {
            graph: fallback,
            lost_id: id,
        },
    })
}

/// Graph → OCSF: the canonical row, or the kept native id when it maps to the same Graph value
/// (an id the table does not define maps to `fallback`, as [`from_native`] read it).
fn to_native<G: Copy + PartialEq>(
    table: &[Row<G>],
    graph: G,
    kept: Option<i64>,
    fallback: G,
) -> (i64, &'static str) {
    if let Some(k) = kept {
        match table.iter().find(|r| r.id == k) {
            Some(r) if r.graph == graph => return (r.id, r.caption),
            None if graph == fallback => return (k, "Other"),
            _ => {}
        }
    }
    table
        .iter()
        .find(|r| r.graph == graph && r.canonical)
        .map_or((99, "Other"), |r| (r.id, r.caption))
}

pub fn severity_to_graph(id: Option<i64>, caption: Option<&str>) -> Mapped<AlertSeverity> {
    from_native(SEVERITY, id, caption, AlertSeverity::UnknownFutureValue).unwrap_or(Mapped {
        graph: AlertSeverity::Unknown,
        lost_id: None,
    })
}

/// `severity` → (`severity_id`, `severity`); `kept` is a preserved `ocsfSeverityId`.
pub fn severity_from_graph(s: AlertSeverity, kept: Option<i64>) -> (i64, &'static str) {
    to_native(SEVERITY, s, kept, AlertSeverity::UnknownFutureValue)
}

/// The OCSF caption of a `severity_id`.
pub fn severity_caption(id: i64) -> &'static str {
    SEVERITY
        .iter()
        .find(|r| r.id == id)
        .map_or("Other", |r| r.caption)
}

pub fn status_to_graph(id: Option<i64>, caption: Option<&str>) -> Mapped<AlertStatus> {
    from_native(STATUS, id, caption, AlertStatus::UnknownFutureValue).unwrap_or(Mapped {
        graph: AlertStatus::Unknown,
        lost_id: None,
    })
}

pub fn status_from_graph(s: AlertStatus, kept: Option<i64>) -> (i64, &'static str) {
    to_native(STATUS, s, kept, AlertStatus::UnknownFutureValue)
}

/// `None` when the record has no verdict at all (Graph `feedback: null`).
pub fn verdict_to_feedback(
    id: Option<i64>,
    caption: Option<&str>,
) -> Option<Mapped<AlertFeedback>> {
    from_native(VERDICT, id, caption, AlertFeedback::UnknownFutureValue)
}

pub fn feedback_to_verdict(f: AlertFeedback, kept: Option<i64>) -> (i64, &'static str) {
    to_native(VERDICT, f, kept, AlertFeedback::UnknownFutureValue)
}

pub fn risk_level_to_graph(id: Option<i64>, caption: Option<&str>) -> Option<Mapped<RiskLevel>> {
    from_native(RISK_LEVEL, id, caption, RiskLevel::UnknownFutureValue)
}

pub fn risk_level_from_graph(l: RiskLevel, kept: Option<i64>) -> (i64, &'static str) {
    to_native(RISK_LEVEL, l, kept, RiskLevel::UnknownFutureValue)
}

/// A risk level from a detection's `severity_id` when it has no `risk_level_id`.
fn risk_level_from_severity(severity_id: Option<i64>) -> Option<RiskLevel> {
    match severity_id? {
        1 => Some(RiskLevel::None),
        2 => Some(RiskLevel::Low),
        3 => Some(RiskLevel::Medium),
        4..=6 => Some(RiskLevel::High),
        _ => None,
    }
}

/// The `severity_id` written for a detection of a given risk level.
fn severity_for_risk_level(l: RiskLevel) -> i64 {
    match l {
        RiskLevel::None => 1,
        RiskLevel::Low => 2,
        RiskLevel::Medium => 3,
        RiskLevel::High => 4,
        RiskLevel::Hidden | RiskLevel::UnknownFutureValue => 0,
    }
}

/// `fingerprint.algorithm_id` ⇄ `fileHashType`. Graph's `authenticodeHash256` and `lsHash` go
/// out as 99 Other with their Graph name as the caption, and come back from it.
fn hash_type_to_graph(id: Option<i64>, caption: Option<&str>) -> Option<FileHashType> {
    Some(match id? {
        0 => FileHashType::Unknown,
        1 => FileHashType::Md5,
        2 => FileHashType::Sha1,
        3 => FileHashType::Sha256,
        5 => FileHashType::Ctph,
        99 => caption
            .and_then(<FileHashType as GraphEnum>::parse_exact)
            .unwrap_or(FileHashType::UnknownFutureValue),
        // 4 SHA-512, 6 TLSH, 7 quickXorHash: no Graph member.
        _ => FileHashType::UnknownFutureValue,
    })
}

fn hash_type_from_graph(t: FileHashType) -> (i64, Option<&'static str>) {
    match t {
        FileHashType::Unknown => (0, None),
        FileHashType::Md5 => (1, Some("MD5")),
        FileHashType::Sha1 => (2, Some("SHA-1")),
        FileHashType::Sha256 => (3, Some("SHA-256")),
        FileHashType::Ctph => (5, Some("CTPH")),
        other => (99, Some(other.as_str())),
    }
}

/// `process.integrity_id` ⇄ `integrityLevel` (6 Protected has no Graph member).
fn integrity_to_graph(id: Option<i64>) -> Option<ProcessIntegrityLevel> {
    Some(match id? {
        0 => ProcessIntegrityLevel::Unknown,
        1 => ProcessIntegrityLevel::Untrusted,
        2 => ProcessIntegrityLevel::Low,
        3 => ProcessIntegrityLevel::Medium,
        4 => ProcessIntegrityLevel::High,
        5 => ProcessIntegrityLevel::System,
        _ => ProcessIntegrityLevel::UnknownFutureValue,
    })
}

fn integrity_from_graph(l: ProcessIntegrityLevel) -> i64 {
    match l {
        ProcessIntegrityLevel::Unknown => 0,
        ProcessIntegrityLevel::Untrusted => 1,
        ProcessIntegrityLevel::Low => 2,
        ProcessIntegrityLevel::Medium => 3,
        ProcessIntegrityLevel::High => 4,
        ProcessIntegrityLevel::System => 5,
        ProcessIntegrityLevel::UnknownFutureValue => 99,
    }
}

/// `connection_info.direction_id` ⇄ `direction` (3 Lateral has no Graph member).
fn direction_to_graph(id: Option<i64>) -> Option<ConnectionDirection> {
    Some(match id? {
        0 => ConnectionDirection::Unknown,
        1 => ConnectionDirection::Inbound,
        2 => ConnectionDirection::Outbound,
        _ => ConnectionDirection::UnknownFutureValue,
    })
}

fn direction_from_graph(d: ConnectionDirection) -> i64 {
    match d {
        ConnectionDirection::Unknown => 0,
        ConnectionDirection::Inbound => 1,
        ConnectionDirection::Outbound => 2,
        ConnectionDirection::UnknownFutureValue => 99,
    }
}

/// `user.type_id` ⇄ `userAccountType`. `power` goes out as 99 Other with caption `Power`;
/// 3 System has no Graph member.
fn account_type_to_graph(
    id: Option<i64>,
    caption: Option<&str>,
) -> Option<UserAccountSecurityType> {
    Some(match id? {
        0 => UserAccountSecurityType::Unknown,
        1 => UserAccountSecurityType::Standard,
        2 => UserAccountSecurityType::Administrator,
        99 if caption.is_some_and(|c| c.eq_ignore_ascii_case("power")) => {
            UserAccountSecurityType::Power
        }
        _ => UserAccountSecurityType::UnknownFutureValue,
    })
}

fn account_type_from_graph(t: UserAccountSecurityType) -> (i64, &'static str) {
    match t {
        UserAccountSecurityType::Unknown => (0, "Unknown"),
        UserAccountSecurityType::Standard => (1, "User"),
        UserAccountSecurityType::Administrator => (2, "Admin"),
        UserAccountSecurityType::Power => (99, "Power"),
        UserAccountSecurityType::UnknownFutureValue => (99, "Other"),
    }
}

/// `analytic.type_id` captions (OCSF 1.3.0).
const ANALYTIC_TYPES: &[(i64, &str)] = &[
    (0, "Unknown"),
    (1, "Rule"),
    (2, "Behavioral"),
    (3, "Statistical"),
    (4, "Learning (ML/DL)"),
    (99, "Other"),
];

// ---- times -----------------------------------------------------------------------------------

/// Epoch values below this are seconds, not milliseconds: 10¹¹ ms is March 1973, 10¹¹ s is the
/// year 5138. OCSF says milliseconds; Okta's and Prowler's published samples send seconds.
pub const SECONDS_BELOW: i64 = 100_000_000_000;

/// An OCSF `timestamp_t`, tolerating seconds.
pub fn epoch_to_timestamp(v: i64) -> Option<Timestamp> {
    if v.unsigned_abs() < SECONDS_BELOW.unsigned_abs() {
        Timestamp::from_epoch_millis(v.checked_mul(1000)?)
    } else {
        Timestamp::from_epoch_millis(v)
    }
}

/// The epoch value when present and valid, else the `_dt` string (ISO-8601, any offset or none).
fn time_of(epoch: Option<i64>, dt: Option<&str>) -> Option<Timestamp> {
    epoch
        .and_then(epoch_to_timestamp)
        .or_else(|| dt.and_then(|s| Timestamp::parse(s).ok()))
}

fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.epoch_millis())
}

fn dt(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| t.to_wire())
}

// ---- small helpers ---------------------------------------------------------------------------

fn non_empty(s: Option<&String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty()).cloned()
}

fn port_string(p: Option<i64>) -> Option<String> {
    p.map(|p| p.to_string())
}

/// Graph ports are strings; a non-numeric one cannot be an OCSF port and is dropped.
fn port_number(p: Option<&String>) -> Option<i64> {
    p.and_then(|p| p.trim().parse::<u16>().ok()).map(i64::from)
}

/// A location's text: its `desc`, else "city, region, country" from the parts present.
fn location_text(l: Option<&Location>) -> Option<String> {
    let l = l?;
    if let Some(d) = non_empty(l.desc.as_ref()) {
        return Some(d);
    }
    let parts: Vec<&str> = [&l.city, &l.region, &l.country]
        .into_iter()
        .filter_map(|p| p.as_deref().map(str::trim).filter(|s| !s.is_empty()))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn location_from_text(s: Option<&String>) -> Option<Location> {
    non_empty(s).map(|desc| Location {
        desc: Some(desc),
        ..Location::default()
    })
}

/// Comments ⇄ `comment`: one comment is the string itself; several are joined with
/// [`COMMENT_SEPARATOR`]; none is no comment.
pub fn encode_comments(comments: &[String]) -> Option<String> {
    (!comments.is_empty()).then(|| comments.join(COMMENT_SEPARATOR))
}

pub fn decode_comments(comment: Option<&str>) -> Vec<String> {
    match comment {
        None | Some("") => Vec::new(),
        Some(c) => c.split(COMMENT_SEPARATOR).map(str::to_owned).collect(),
    }
}

/// `assignee` → `assignedTo`: the address when there is one, else the name, else the uid.
pub fn assignee_to_graph(u: Option<&User>) -> Option<String> {
    let u = u?;
    non_empty(u.email_addr.as_ref())
        .or_else(|| non_empty(u.name.as_ref()))
        .or_else(|| non_empty(u.uid.as_ref()))
}

/// `assignedTo` → `assignee`: `{name}`, plus `email_addr` when it looks like an address.
pub fn assignee_from_graph(a: &str) -> Value {
    if a.contains('@') {
        json!({"name": a, "email_addr": a})
    } else {
        json!({"name": a})
    }
}

fn kept_id(a: &Map<String, Value>, key: &str) -> Option<i64> {
    a.get(key).and_then(int_of)
}

// ---- Detection Finding → alert ---------------------------------------------------------------

/// A Detection Finding as a Graph alert of tenant `tenant_id`. `fallback_vendor` names the
/// vendor and product when the record has no `metadata.product`.
pub fn finding_to_alert(
    f: &Finding,
    tenant_id: &str,
    fallback_vendor: &SecurityVendorInformation,
) -> Result<Alert, MappingError> {
    let info = f.finding_info.clone().unwrap_or_default();
    let meta = f.metadata.clone().unwrap_or_default();
    let id = non_empty(info.uid.as_ref())
        .or_else(|| non_empty(meta.uid.as_ref()))
        .ok_or(MappingError::MissingId("finding_info.uid"))?;
    let mut additional = Map::new();

    let severity = severity_to_graph(f.severity_id, f.severity.as_deref());
    if let Some(lost) = severity.lost_id {
        additional.insert(SEVERITY_ID_KEY.into(), json!(lost));
    }
    let status = status_to_graph(f.status_id, f.status.as_deref());
    if let Some(lost) = status.lost_id {
        additional.insert(STATUS_ID_KEY.into(), json!(lost));
    }
    let feedback = verdict_to_feedback(f.verdict_id, f.verdict.as_deref());
    if let Some(lost) = feedback.and_then(|m| m.lost_id) {
        additional.insert(VERDICT_ID_KEY.into(), json!(lost));
    }

    let time = time_of(f.time, f.time_dt.as_deref());
    let created = time_of(info.created_time, info.created_time_dt.as_deref()).or(time);
    let first_seen = time_of(info.first_seen_time, info.first_seen_time_dt.as_deref()).or(time);
    let last_seen = time_of(info.last_seen_time, info.last_seen_time_dt.as_deref());
    let modified = time_of(info.modified_time, info.modified_time_dt.as_deref());

    let product = meta.product.clone().unwrap_or_default();
    let vendor_information = if meta.product.is_some() {
        SecurityVendorInformation {
            provider: non_empty(product.name.as_ref()).or(fallback_vendor.provider.clone()),
            provider_version: non_empty(product.version.as_ref()),
            sub_provider: product
                .feature
                .as_ref()
                .and_then(|f| non_empty(f.name.as_ref())),
            vendor: non_empty(product.vendor_name.as_ref()).or(fallback_vendor.vendor.clone()),
        }
    } else {
        fallback_vendor.clone()
    };

    let mut alert = Alert {
        id,
        azure_tenant_id: tenant_id.to_owned(),
        title: non_empty(info.title.as_ref()).or_else(|| non_empty(f.message.as_ref())),
        description: non_empty(info.desc.as_ref()).or_else(|| non_empty(f.message.as_ref())),
        category: info.types.first().cloned().or_else(|| {
            info.attacks
                .iter()
                .find_map(|a| a.tactic.as_ref().and_then(|t| non_empty(t.name.as_ref())))
        }),
        severity: severity.graph,
        status: status.graph,
        feedback: feedback.map(|m| m.graph),
        confidence: f
            .confidence_score
            .and_then(|c| i32::try_from(c).ok())
            .filter(|c| (0..=100).contains(c)),
        assigned_to: assignee_to_graph(f.assignee.as_ref()),
        comments: decode_comments(f.comment.as_deref()),
        tags: meta.labels.clone(),
        created_date_time: created,
        event_date_time: first_seen,
        last_event_date_time: last_seen,
        last_modified_date_time: modified,
        closed_date_time: if f.status_id == Some(4) {
            modified
        } else {
            None
        },
        source_materials: non_empty(info.src_url.as_ref()).into_iter().collect(),
        recommended_actions: f
            .remediation
            .as_ref()
            .and_then(|r| r.desc.as_deref())
            .map(|d| {
                d.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        security_resources: f
            .resources
            .iter()
            .filter_map(|r| {
                non_empty(r.uid.as_ref())
                    .or_else(|| non_empty(r.name.as_ref()))
                    .map(|resource| SecurityResource {
                        resource: Some(resource),
                        resource_type: None,
                    })
            })
            .collect(),
        triggers: attacks_to_triggers(&info.attacks),
        alert_detections: info
            .analytic
            .as_ref()
            .map(analytic_to_detection)
            .into_iter()
            .collect(),
        vulnerability_states: f
            .vulnerabilities
            .iter()
            .filter_map(|v| {
                let cve = v.cve.as_ref().and_then(|c| non_empty(c.uid.as_ref()));
                (cve.is_some() || v.severity.is_some()).then(|| VulnerabilityState {
                    cve,
                    severity: v.severity.clone(),
                    was_running: None,
                })
            })
            .collect(),
        vendor_information,
        additional_data: additional,
        ..Alert::default()
    };
    read_evidences(f, &mut alert);
    Ok(alert)
}

fn analytic_to_detection(a: &Analytic) -> AlertDetection {
    let caption = non_empty(a.r#type.as_ref()).or_else(|| {
        a.type_id
            .and_then(|id| ANALYTIC_TYPES.iter().find(|(i, _)| *i == id))
            .map(|(_, c)| (*c).to_owned())
    });
    AlertDetection {
        detection_type: non_empty(a.category.as_ref()),
        method: caption,
        name: non_empty(a.name.as_ref()).or_else(|| non_empty(a.uid.as_ref())),
    }
}

fn detection_to_analytic(d: &AlertDetection) -> Analytic {
    let type_id = d.method.as_deref().map(|t| {
        ANALYTIC_TYPES
            .iter()
            .find(|(_, c)| c.eq_ignore_ascii_case(t))
            .map_or(99, |(i, _)| *i)
    });
    Analytic {
        name: d.name.clone(),
        type_id,
        r#type: d.method.clone(),
        category: d.detection_type.clone(),
        uid: None,
    }
}

/// Trigger names and type used for ATT&CK (the shape Vigil's other sources use):
/// `{"name":"tactic"|"technique","type":"MITRE ATT&CK","value":<id, else name>}`.
const TACTIC: &str = "tactic";
const TECHNIQUE: &str = "technique";
const ATTACK_TRIGGER_TYPE: &str = "MITRE ATT&CK";

fn attacks_to_triggers(attacks: &[Attack]) -> Vec<AlertTrigger> {
    let mut out = Vec::new();
    for a in attacks {
        for (name, part) in [(TACTIC, &a.tactic), (TECHNIQUE, &a.technique)] {
            let value = part
                .as_ref()
                .and_then(|p| non_empty(p.uid.as_ref()).or_else(|| non_empty(p.name.as_ref())));
            if let Some(value) = value {
                out.push(AlertTrigger {
                    name: Some(name.to_owned()),
                    r#type: Some(ATTACK_TRIGGER_TYPE.to_owned()),
                    value: Some(value),
                });
            }
        }
    }
    out
}

/// Rebuilds attacks from `tactic`/`technique` triggers: a tactic starts an attack, a technique
/// completes the current one (or starts its own). Other triggers have no OCSF place.
fn triggers_to_attacks(triggers: &[AlertTrigger]) -> Vec<Attack> {
    let mut out: Vec<Attack> = Vec::new();
    for t in triggers {
        if t.r#type.as_deref() != Some(ATTACK_TRIGGER_TYPE) {
            continue;
        }
        let Some(value) = non_empty(t.value.as_ref()) else {
            continue;
        };
        let part = NamedUid {
            name: None,
            uid: Some(value),
        };
        match t.name.as_deref() {
            Some(TACTIC) => out.push(Attack {
                tactic: Some(part),
                technique: None,
            }),
            Some(TECHNIQUE) => match out.last_mut() {
                Some(last) if last.technique.is_none() => last.technique = Some(part),
                _ => out.push(Attack {
                    tactic: None,
                    technique: Some(part),
                }),
            },
            _ => {}
        }
    }
    out
}

fn file_hash_of(f: &File) -> Option<FileHash> {
    let h = f.hashes.first()?;
    Some(FileHash {
        hash_type: hash_type_to_graph(h.algorithm_id, h.algorithm.as_deref()),
        hash_value: h.value.clone(),
    })
}

fn file_of_hash(name: Option<&String>, path: Option<&String>, hash: Option<&FileHash>) -> File {
    File {
        name: name.cloned(),
        path: path.cloned(),
        hashes: hash
            .map(|h| {
                let (id, caption) = h.hash_type.map_or((None, None), |t| {
                    let (id, c) = hash_type_from_graph(t);
                    (Some(id), c.map(str::to_owned))
                });
                Fingerprint {
                    algorithm_id: id,
                    algorithm: caption,
                    value: h.hash_value.clone(),
                }
            })
            .into_iter()
            .collect(),
    }
}

fn host_of(d: &Device) -> HostSecurityState {
    HostSecurityState {
        fqdn: d.hostname.clone(),
        net_bios_name: d.name.clone(),
        os: d.os.as_ref().and_then(|o| o.name.clone()),
        private_ip_address: d.ip.clone(),
        ..HostSecurityState::default()
    }
}

fn read_evidences(f: &Finding, alert: &mut Alert) {
    for ev in &f.evidences {
        if let Some(u) = &ev.user {
            let src = ev.src_endpoint.as_ref();
            alert.user_states.push(UserSecurityState {
                aad_user_id: u.uid.clone(),
                account_name: u.name.clone(),
                domain_name: u.domain.clone(),
                user_principal_name: u.email_addr.clone(),
                on_premises_security_identifier: u.uid_alt.clone(),
                user_account_type: account_type_to_graph(u.type_id, u.r#type.as_deref()),
                logon_ip: src.and_then(|s| s.ip.clone()),
                logon_location: location_text(src.and_then(|s| s.location.as_ref())),
                ..UserSecurityState::default()
            });
        }
        if let Some(d) = &ev.device {
            alert.host_states.push(host_of(d));
        }
        if let Some(file) = &ev.file {
            alert.file_states.push(FileSecurityState {
                file_hash: file_hash_of(file),
                name: file.name.clone(),
                path: file.path.clone(),
                risk_score: None,
            });
        }
        if let Some(p) = ev
            .process
            .as_ref()
            .or_else(|| ev.actor.as_ref().and_then(|a| a.process.as_ref()))
        {
            let parent = p.parent_process.as_ref();
            alert.processes.push(Process {
                account_name: p
                    .user
                    .as_ref()
                    .and_then(|u| u.name.clone())
                    .or_else(|| ev.actor.as_ref()?.user.as_ref()?.name.clone()),
                command_line: p.cmd_line.clone(),
                created_date_time: p.created_time.and_then(epoch_to_timestamp),
                file_hash: p.file.as_ref().and_then(file_hash_of),
                integrity_level: integrity_to_graph(p.integrity_id),
                is_elevated: None,
                name: p.name.clone(),
                parent_process_created_date_time: parent
                    .and_then(|pp| pp.created_time)
                    .and_then(epoch_to_timestamp),
                parent_process_id: parent
                    .and_then(|pp| pp.pid)
                    .and_then(|pid| i32::try_from(pid).ok()),
                parent_process_name: parent.and_then(|pp| pp.name.clone()),
                path: p.file.as_ref().and_then(|f| f.path.clone()),
                process_id: p.pid.and_then(|pid| i32::try_from(pid).ok()),
            });
        }
        // A connection: a destination, a URL, or a source that is not a user's logon address.
        let src = if ev.user.is_some() {
            None
        } else {
            ev.src_endpoint.as_ref()
        };
        let dst = ev.dst_endpoint.as_ref();
        let url = ev.url.as_ref().and_then(|u| u.url_string.clone());
        if src.is_some() || dst.is_some() || url.is_some() {
            let conn = ev.connection_info.as_ref();
            alert.network_connections.push(NetworkConnection {
                source_address: src.and_then(|s| s.ip.clone()),
                source_port: port_string(src.and_then(|s| s.port)),
                source_location: location_text(src.and_then(|s| s.location.as_ref())),
                local_dns_name: src.and_then(|s| s.hostname.clone()),
                destination_address: dst.and_then(|d| d.ip.clone()),
                destination_port: port_string(dst.and_then(|d| d.port)),
                destination_domain: dst.and_then(|d| d.domain.clone().or(d.hostname.clone())),
                destination_location: location_text(dst.and_then(|d| d.location.as_ref())),
                destination_url: url,
                direction: direction_to_graph(conn.and_then(|c| c.direction_id)),
                protocol: conn
                    .and_then(|c| c.protocol_name.as_deref())
                    .map(<SecurityNetworkProtocol as GraphEnum>::from_wire),
                ..NetworkConnection::default()
            });
        }
    }
    if alert.host_states.is_empty()
        && let Some(d) = &f.device
    {
        alert.host_states.push(host_of(d));
    }
}

// ---- alert → Detection Finding ---------------------------------------------------------------

/// A Graph alert as a Detection Finding (activity 1 Create). The inverse of
/// [`finding_to_alert`] for every mapped field; the parent module lists what it loses.
pub fn alert_to_finding(a: &Alert) -> Finding {
    let (severity_id, severity) =
        severity_from_graph(a.severity, kept_id(&a.additional_data, SEVERITY_ID_KEY));
    let (status_id, status) =
        status_from_graph(a.status, kept_id(&a.additional_data, STATUS_ID_KEY));
    let verdict = a
        .feedback
        .map(|fb| feedback_to_verdict(fb, kept_id(&a.additional_data, VERDICT_ID_KEY)));
    let v = &a.vendor_information;
    let mut evidences = Vec::new();
    for u in &a.user_states {
        let (type_id, type_caption) = u
            .user_account_type
            .map(account_type_from_graph)
            .map_or((None, None), |(i, c)| (Some(i), Some(c.to_owned())));
        let endpoint = (u.logon_ip.is_some() || u.logon_location.is_some()).then(|| Endpoint {
            ip: u.logon_ip.clone(),
            location: location_from_text(u.logon_location.as_ref()),
            ..Endpoint::default()
        });
        evidences.push(Evidence {
            user: Some(User {
                uid: u.aad_user_id.clone(),
                uid_alt: u.on_premises_security_identifier.clone(),
                name: u.account_name.clone(),
                domain: u.domain_name.clone(),
                email_addr: u.user_principal_name.clone(),
                type_id,
                r#type: type_caption,
                ..User::default()
            }),
            src_endpoint: endpoint,
            ..Evidence::default()
        });
    }
    let devices: Vec<Device> = a
        .host_states
        .iter()
        .map(|h| Device {
            hostname: h.fqdn.clone(),
            name: h.net_bios_name.clone(),
            ip: h.private_ip_address.clone().or(h.public_ip_address.clone()),
            os: h.os.clone().map(|name| Os { name: Some(name) }),
            ..Device::default()
        })
        .collect();
    for d in &devices {
        evidences.push(Evidence {
            device: Some(d.clone()),
            ..Evidence::default()
        });
    }
    for fs in &a.file_states {
        evidences.push(Evidence {
            file: Some(file_of_hash(
                fs.name.as_ref(),
                fs.path.as_ref(),
                fs.file_hash.as_ref(),
            )),
            ..Evidence::default()
        });
    }
    for p in &a.processes {
        let file = (p.path.is_some() || p.file_hash.is_some())
            .then(|| file_of_hash(None, p.path.as_ref(), p.file_hash.as_ref()));
        let parent = (p.parent_process_id.is_some()
            || p.parent_process_name.is_some()
            || p.parent_process_created_date_time.is_some())
        .then(|| ParentProcess {
            name: p.parent_process_name.clone(),
            pid: p.parent_process_id.map(i64::from),
            created_time: ms(p.parent_process_created_date_time),
        });
        evidences.push(Evidence {
            process: Some(OcsfProcess {
                name: p.name.clone(),
                pid: p.process_id.map(i64::from),
                cmd_line: p.command_line.clone(),
                created_time: ms(p.created_date_time),
                integrity_id: p.integrity_level.map(integrity_from_graph),
                integrity: p.integrity_level.map(|l| l.as_str().to_owned()),
                file,
                user: p.account_name.clone().map(|name| User {
                    name: Some(name),
                    ..User::default()
                }),
                parent_process: parent,
            }),
            ..Evidence::default()
        });
    }
    for n in &a.network_connections {
        let src = (n.source_address.is_some()
            || n.source_port.is_some()
            || n.source_location.is_some()
            || n.local_dns_name.is_some())
        .then(|| Endpoint {
            ip: n.source_address.clone(),
            port: port_number(n.source_port.as_ref()),
            hostname: n.local_dns_name.clone(),
            location: location_from_text(n.source_location.as_ref()),
            ..Endpoint::default()
        });
        let dst = (n.destination_address.is_some()
            || n.destination_port.is_some()
            || n.destination_domain.is_some()
            || n.destination_location.is_some())
        .then(|| Endpoint {
            ip: n.destination_address.clone(),
            port: port_number(n.destination_port.as_ref()),
            domain: n.destination_domain.clone(),
            location: location_from_text(n.destination_location.as_ref()),
            ..Endpoint::default()
        });
        let conn = (n.direction.is_some() || n.protocol.is_some()).then(|| ConnectionInfo {
            direction_id: n.direction.map(direction_from_graph),
            protocol_name: n.protocol.map(|p| p.as_str().to_owned()),
        });
        let url = n.destination_url.clone().map(|u| Url {
            url_string: Some(u),
        });
        // A connection with nothing that OCSF can hold is dropped rather than sent empty.
        if src.is_some() || dst.is_some() || url.is_some() {
            evidences.push(Evidence {
                src_endpoint: src,
                dst_endpoint: dst,
                connection_info: conn,
                url,
                ..Evidence::default()
            });
        }
    }
    let created = a.created_date_time.or(a.event_date_time);
    Finding {
        class_uid: Some(2004),
        category_uid: Some(2),
        activity_id: Some(1),
        type_uid: Some(200_401),
        time: ms(created),
        time_dt: dt(created),
        severity_id: Some(severity_id),
        severity: Some(severity.to_owned()),
        status_id: Some(status_id),
        status: Some(status.to_owned()),
        confidence_id: a.confidence.map(confidence_id_of),
        confidence_score: a.confidence.map(i64::from),
        message: a.description.clone().or(a.title.clone()),
        comment: encode_comments(&a.comments),
        assignee: a
            .assigned_to
            .as_deref()
            .and_then(|s| serde_json::from_value(assignee_from_graph(s)).ok()),
        verdict_id: verdict.map(|(id, _)| id),
        verdict: verdict.map(|(_, c)| c.to_owned()),
        risk_level_id: None,
        risk_level: None,
        finding_info: Some(FindingInfo {
            uid: Some(a.id.clone()),
            title: a.title.clone(),
            desc: a.description.clone(),
            types: a.category.clone().into_iter().collect(),
            created_time: ms(a.created_date_time),
            created_time_dt: dt(a.created_date_time),
            first_seen_time: ms(a.event_date_time),
            first_seen_time_dt: dt(a.event_date_time),
            last_seen_time: ms(a.last_event_date_time),
            last_seen_time_dt: dt(a.last_event_date_time),
            modified_time: ms(a.last_modified_date_time),
            modified_time_dt: dt(a.last_modified_date_time),
            src_url: a.source_materials.first().cloned(),
            analytic: a.alert_detections.first().map(detection_to_analytic),
            attacks: triggers_to_attacks(&a.triggers),
        }),
        evidences,
        resources: a
            .security_resources
            .iter()
            .filter_map(|r| {
                r.resource.clone().map(|uid| Resource {
                    uid: Some(uid),
                    ..Resource::default()
                })
            })
            .collect(),
        device: devices.into_iter().next(),
        remediation: (!a.recommended_actions.is_empty()).then(|| Remediation {
            desc: Some(a.recommended_actions.join("\n")),
        }),
        vulnerabilities: a
            .vulnerability_states
            .iter()
            .map(|v| Vulnerability {
                cve: v.cve.clone().map(|uid| Cve { uid: Some(uid) }),
                severity: v.severity.clone(),
            })
            .collect(),
        metadata: Some(Metadata {
            uid: Some(a.id.clone()),
            version: Some("1.3.0".into()),
            tenant_uid: Some(a.azure_tenant_id.clone()),
            correlation_uid: None,
            labels: a.tags.clone(),
            product: Some(Product {
                name: v.provider.clone(),
                vendor_name: v.vendor.clone(),
                version: v.provider_version.clone(),
                feature: v.sub_provider.clone().map(|name| NamedUid {
                    name: Some(name),
                    uid: None,
                }),
            }),
        }),
        unmapped: None,
    }
}

/// `confidence_id` from a 0–100 score: 1 Low (< 34), 2 Medium (< 67), 3 High.
fn confidence_id_of(score: i32) -> i64 {
    match score {
        ..34 => 1,
        34..67 => 2,
        _ => 3,
    }
}

// ---- updates and queries ---------------------------------------------------------------------

/// The `PATCH /api/v1/findings/{uid}` body that takes `current` (as mapped from the source) to
/// the state `change` asks for: only fields that differ. `None` when nothing would change.
///
/// Every field is set to a value, never appended, so a retried PATCH is harmless.
/// `closedDateTime` is not sent: OCSF has no such attribute (the source derives it).
pub fn patch_body(current: &Alert, change: &AlertChange) -> Option<Map<String, Value>> {
    let mut body = Map::new();
    if let Some(s) = change.status
        && s != current.status
    {
        body.insert("status_id".into(), json!(status_from_graph(s, None).0));
    }
    if let Some(a) = &change.assigned_to
        && *a != current.assigned_to
    {
        let v = a.as_deref().map_or(Value::Null, assignee_from_graph);
        body.insert("assignee".into(), v);
    }
    if let Some(c) = &change.comments
        && *c != current.comments
    {
        body.insert(
            "comment".into(),
            json!(encode_comments(c).unwrap_or_default()),
        );
    }
    if let Some(fb) = change.feedback
        && Some(fb) != current.feedback
    {
        body.insert("verdict_id".into(), json!(feedback_to_verdict(fb, None).0));
    }
    if let Some(t) = &change.tags
        && *t != current.tags
    {
        body.insert("tags".into(), json!(t));
    }
    (!body.is_empty()).then_some(body)
}

/// The list query for a [`PushDown`]: what the source can narrow without ever dropping a
/// matching record.
///
/// - statuses → `status_id`, unless `unknownFutureValue` is asked for (it stands for 99 *and*
///   for ids this schema does not define, which `status_id` cannot express).
/// - severities → `severity_id_gte` only when they are a contiguous upper range of Graph's
///   ordered values ending at `high` (`high`; `medium, high`; …; `informational … high`).
///   Because 99 Other (`unknownFutureValue`) and undefined ids are ≥ every bound, the answer is
///   a superset, which the gateway narrows locally.
/// - created range → `time_gte` / `time_lt` on `time`, which this source sets to the finding's
///   creation time (see the module docs).
pub fn list_query(p: &PushDown) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if !p.statuses.is_empty() && !p.statuses.contains(&AlertStatus::UnknownFutureValue) {
        let mut ids: Vec<i64> = p
            .statuses
            .iter()
            .map(|s| status_from_graph(*s, None).0)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        q.push(("status_id", ids.join(",")));
    }
    if let Some(gte) = severity_lower_bound(&p.severities) {
        q.push(("severity_id_gte", gte.to_string()));
    }
    if let Some(t) = p.created_from {
        q.push(("time_gte", t.epoch_millis().to_string()));
    }
    if let Some(t) = p.created_before {
        // An exclusive upper bound rounds *up* to the source's millisecond precision: rounding
        // down would drop findings created in the bound's last millisecond (a superset is
        // fine, the gateway filters locally; a subset loses alerts).
        let sub_milli = t.0.timestamp_subsec_nanos() % 1_000_000 != 0;
        let ms = t.epoch_millis().saturating_add(i64::from(sub_milli));
        q.push(("time_lt", ms.to_string()));
    }
    q
}

/// The `severity_id_gte` bound for a set of Graph severities, when it is exact enough.
pub fn severity_lower_bound(severities: &[AlertSeverity]) -> Option<i64> {
    const ORDER: [AlertSeverity; 4] = [
        AlertSeverity::Informational,
        AlertSeverity::Low,
        AlertSeverity::Medium,
        AlertSeverity::High,
    ];
    if severities.is_empty()
        || severities.iter().any(|s| {
            matches!(
                s,
                AlertSeverity::Unknown | AlertSeverity::UnknownFutureValue
            )
        })
    {
        return None;
    }
    let lowest = ORDER.iter().position(|o| severities.contains(o))?;
    let contiguous = ORDER[lowest..].iter().all(|o| severities.contains(o));
    contiguous.then(|| severity_from_graph(ORDER[lowest], None).0)
}

// ---- identity --------------------------------------------------------------------------------

fn unmapped_str(u: Option<&Value>, key: &str) -> Option<String> {
    u?.get(key)?.as_str().map(str::to_owned)
}

fn unmapped_time(u: Option<&Value>, key: &str) -> Option<Timestamp> {
    let v = u?.get(key)?;
    match v {
        Value::String(s) => Timestamp::parse(s).ok(),
        other => int_of(other).and_then(epoch_to_timestamp),
    }
}

/// An OCSF User (identity route) as a Graph `riskyUser`.
pub fn user_to_risky_user(u: &User) -> Result<RiskyUser, MappingError> {
    let id = non_empty(u.uid.as_ref()).ok_or(MappingError::MissingId("user.uid"))?;
    let level = risk_level_to_graph(u.risk_level_id, u.risk_level.as_deref());
    let mut additional = Map::new();
    if let Some(lost) = level.and_then(|l| l.lost_id) {
        additional.insert(RISK_LEVEL_ID_KEY.into(), json!(lost));
    }
    let un = u.unmapped.as_ref();
    Ok(RiskyUser {
        id,
        is_deleted: un
            .and_then(|v| v.get("is_deleted"))
            .and_then(Value::as_bool),
        // The source applies actions synchronously (§3): a user is never "being processed".
        is_processing: Some(false),
        risk_detail: unmapped_str(un, "risk_detail").map(|s| RiskDetail::from_wire(&s)),
        risk_last_updated_date_time: unmapped_time(un, "risk_updated_time"),
        risk_level: level.map(|l| l.graph),
        risk_state: unmapped_str(un, "risk_state").map(|s| RiskState::from_wire(&s)),
        user_display_name: non_empty(u.full_name.as_ref()).or_else(|| non_empty(u.name.as_ref())),
        user_principal_name: non_empty(u.email_addr.as_ref())
            .or_else(|| non_empty(u.name.as_ref())),
        additional_data: additional,
    })
}

/// A Graph `riskyUser` as an OCSF User.
pub fn risky_user_to_user(r: &RiskyUser) -> User {
    let level = r
        .risk_level
        .map(|l| risk_level_from_graph(l, kept_id(&r.additional_data, RISK_LEVEL_ID_KEY)));
    let mut un = Map::new();
    if let Some(s) = r.risk_state {
        un.insert("risk_state".into(), json!(s.as_str()));
    }
    if let Some(d) = r.risk_detail {
        un.insert("risk_detail".into(), json!(d.as_str()));
    }
    if let Some(t) = r.risk_last_updated_date_time {
        un.insert("risk_updated_time".into(), json!(t.epoch_millis()));
    }
    if let Some(d) = r.is_deleted {
        un.insert("is_deleted".into(), json!(d));
    }
    User {
        uid: Some(r.id.clone()),
        name: r.user_principal_name.clone(),
        full_name: r.user_display_name.clone(),
        email_addr: r.user_principal_name.clone(),
        type_id: Some(1),
        r#type: Some("User".into()),
        risk_level_id: level.map(|(id, _)| id),
        risk_level: level.map(|(_, c)| c.to_owned()),
        unmapped: (!un.is_empty()).then_some(Value::Object(un)),
        ..User::default()
    }
}

/// An identity Detection Finding as a Graph `riskDetection`.
pub fn finding_to_risk_detection(f: &Finding) -> Result<RiskDetection, MappingError> {
    let info = f.finding_info.clone().unwrap_or_default();
    let id = non_empty(info.uid.as_ref())
        .or_else(|| f.metadata.as_ref().and_then(|m| non_empty(m.uid.as_ref())))
        .ok_or(MappingError::MissingId("finding_info.uid"))?;
    let ev = f.evidences.first();
    let user = ev.and_then(|e| e.user.as_ref());
    let src = ev.and_then(|e| e.src_endpoint.as_ref());
    let un = f.unmapped.as_ref();
    let level = risk_level_to_graph(f.risk_level_id, f.risk_level.as_deref())
        .map(|l| l.graph)
        .or_else(|| risk_level_from_severity(f.severity_id));
    let time = time_of(f.time, f.time_dt.as_deref());
    Ok(RiskDetection {
        id,
        activity: unmapped_str(un, "activity").map(|s| ActivityType::from_wire(&s)),
        activity_date_time: time_of(info.first_seen_time, info.first_seen_time_dt.as_deref())
            .or(time),
        additional_info: unmapped_str(un, "additional_info"),
        correlation_id: f
            .metadata
            .as_ref()
            .and_then(|m| non_empty(m.correlation_uid.as_ref())),
        detected_date_time: time_of(info.created_time, info.created_time_dt.as_deref()).or(time),
        detection_timing_type: unmapped_str(un, "detection_timing_type")
            .map(|s| RiskDetectionTimingType::from_wire(&s)),
        ip_address: src.and_then(|s| non_empty(s.ip.as_ref())),
        last_updated_date_time: time_of(info.modified_time, info.modified_time_dt.as_deref()),
        location: src
            .and_then(|s| s.location.as_ref())
            .map(location_to_sign_in),
        request_id: unmapped_str(un, "request_id"),
        risk_detail: unmapped_str(un, "risk_detail").map(|s| RiskDetail::from_wire(&s)),
        risk_event_type: info.types.get(1).cloned(),
        risk_level: level,
        risk_state: unmapped_str(un, "risk_state").map(|s| RiskState::from_wire(&s)),
        source: unmapped_str(un, "source"),
        token_issuer_type: unmapped_str(un, "token_issuer_type")
            .map(|s| TokenIssuerType::from_wire(&s)),
        user_display_name: user
            .and_then(|u| non_empty(u.full_name.as_ref()).or_else(|| non_empty(u.name.as_ref()))),
        user_id: user.and_then(|u| non_empty(u.uid.as_ref())),
        user_principal_name: user
            .and_then(|u| non_empty(u.email_addr.as_ref()).or_else(|| non_empty(u.name.as_ref()))),
        additional_data: Map::new(),
    })
}

fn location_to_sign_in(l: &Location) -> SignInLocation {
    let coords = l.coordinates.as_deref();
    let longitude = coords.and_then(|c| c.first().copied()).or(l.long);
    let latitude = coords.and_then(|c| c.get(1).copied()).or(l.lat);
    let altitude = coords.and_then(|c| c.get(2).copied());
    SignInLocation {
        city: non_empty(l.city.as_ref()),
        country_or_region: non_empty(l.country.as_ref()),
        state: non_empty(l.region.as_ref()),
        geo_coordinates: (latitude.is_some() || longitude.is_some()).then_some(GeoCoordinates {
            altitude,
            latitude,
            longitude,
        }),
    }
}

fn sign_in_to_location(s: &SignInLocation) -> Location {
    let coordinates = s.geo_coordinates.as_ref().and_then(|g| {
        let (long, lat) = (g.longitude?, g.latitude?);
        Some(match g.altitude {
            Some(alt) => vec![long, lat, alt],
            None => vec![long, lat],
        })
    });
    Location {
        city: s.city.clone(),
        region: s.state.clone(),
        country: s.country_or_region.clone(),
        coordinates,
        ..Location::default()
    }
}

/// A Graph `riskDetection` as an identity Detection Finding.
pub fn risk_detection_to_finding(d: &RiskDetection) -> Finding {
    let mut un = Map::new();
    let put = |un: &mut Map<String, Value>, k: &str, v: Option<&str>| {
        if let Some(v) = v {
            un.insert(k.into(), json!(v));
        }
    };
    put(&mut un, "risk_state", d.risk_state.map(|s| s.as_str()));
    put(&mut un, "risk_detail", d.risk_detail.map(|s| s.as_str()));
    put(&mut un, "activity", d.activity.map(|s| s.as_str()));
    put(&mut un, "source", d.source.as_deref());
    put(
        &mut un,
        "detection_timing_type",
        d.detection_timing_type.map(|s| s.as_str()),
    );
    put(
        &mut un,
        "token_issuer_type",
        d.token_issuer_type.map(|s| s.as_str()),
    );
    put(&mut un, "request_id", d.request_id.as_deref());
    put(&mut un, "additional_info", d.additional_info.as_deref());
    let level = d.risk_level.map(|l| risk_level_from_graph(l, None));
    let severity_id = d.risk_level.map_or(0, severity_for_risk_level);
    let severity = severity_caption(severity_id);
    let time = d.activity_date_time.or(d.detected_date_time);
    let event_type = d
        .risk_event_type
        .clone()
        .unwrap_or_else(|| "generic".into());
    Finding {
        class_uid: Some(2004),
        category_uid: Some(2),
        activity_id: Some(1),
        type_uid: Some(200_401),
        time: ms(time),
        time_dt: dt(time),
        severity_id: Some(severity_id),
        severity: Some(severity.to_owned()),
        risk_level_id: level.map(|(id, _)| id),
        risk_level: level.map(|(_, c)| c.to_owned()),
        finding_info: Some(FindingInfo {
            uid: Some(d.id.clone()),
            title: Some(event_type.clone()),
            types: vec![IDENTITY_RISK_TYPE.to_owned(), event_type],
            created_time: ms(d.detected_date_time),
            created_time_dt: dt(d.detected_date_time),
            first_seen_time: ms(d.activity_date_time),
            first_seen_time_dt: dt(d.activity_date_time),
            modified_time: ms(d.last_updated_date_time),
            modified_time_dt: dt(d.last_updated_date_time),
            ..FindingInfo::default()
        }),
        evidences: vec![Evidence {
            user: Some(User {
                uid: d.user_id.clone(),
                name: d.user_principal_name.clone(),
                full_name: d.user_display_name.clone(),
                email_addr: d.user_principal_name.clone(),
                ..User::default()
            }),
            src_endpoint: (d.ip_address.is_some() || d.location.is_some()).then(|| Endpoint {
                ip: d.ip_address.clone(),
                location: d.location.as_ref().map(sign_in_to_location),
                ..Endpoint::default()
            }),
            ..Evidence::default()
        }],
        metadata: Some(Metadata {
            uid: Some(d.id.clone()),
            version: Some("1.3.0".into()),
            correlation_uid: d.correlation_id.clone(),
            ..Metadata::default()
        }),
        unmapped: (!un.is_empty()).then_some(Value::Object(un)),
        ..Finding::default()
    }
}
