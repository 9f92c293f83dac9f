//! The common model rendered as native OCSF 1.3.0 records, the way an OCSF exporter in front of
//! the scenario's products would write them.
//!
//! Written independently of the adapter's mapping (`vigil-providers::ocsf::mapping`) on
//! purpose: the mock is the *source*, so a mistake on one side shows up as a failing
//! integration test instead of cancelling out. The conventions shared with the adapter are the
//! ones `docs/partner-formats.md` §3 fixes, plus two the mock states here:
//!
//! - `time` is the finding's creation time (OCSF: "event occurrence or finding creation
//!   time"); `finding_info.first_seen_time`/`last_seen_time` carry the event times.
//! - Several analyst comments are kept in the single `comment` string, separated by a line
//!   `---`; ATT&CK triggers become `finding_info.attacks`.
//!
//! What Graph has and OCSF has no attribute for (activity group, Azure subscription, incident
//! and detection ids, cloud-app, malware, registry, message and click states) goes under
//! `unmapped`, as OCSF mappers do with source fields they cannot place.

use serde_json::{Map, Value, json};
use vigil_model::*;

/// Separator line between comments in `comment`.
pub const COMMENT_SEPARATOR: &str = "\n---\n";

/// `additional_data` key of the scenario's rendering hints (ATT&CK names and ids).
const HINTS_KEY: &str = crate::scenario::HINTS_KEY;

/// OCSF `severity_id` and caption for a Graph severity.
pub fn severity(s: AlertSeverity) -> (i64, &'static str) {
    match s {
        AlertSeverity::Unknown => (0, "Unknown"),
        AlertSeverity::Informational => (1, "Informational"),
        AlertSeverity::Low => (2, "Low"),
        AlertSeverity::Medium => (3, "Medium"),
        AlertSeverity::High => (4, "High"),
        AlertSeverity::UnknownFutureValue => (99, "Other"),
    }
}

/// OCSF `status_id` and caption for a Graph status.
pub fn status(s: AlertStatus) -> (i64, &'static str) {
    match s {
        AlertStatus::Unknown => (0, "Unknown"),
        AlertStatus::NewAlert => (1, "New"),
        AlertStatus::InProgress => (2, "In Progress"),
        AlertStatus::Dismissed => (3, "Suppressed"),
        AlertStatus::Resolved => (4, "Resolved"),
        AlertStatus::UnknownFutureValue => (99, "Other"),
    }
}

/// The caption of a `status_id` (PATCH input), `None` for an id OCSF 1.3.0 does not define.
pub fn status_caption(id: i64) -> Option<&'static str> {
    Some(match id {
        0 => "Unknown",
        1 => "New",
        2 => "In Progress",
        3 => "Suppressed",
        4 => "Resolved",
        99 => "Other",
        _ => return None,
    })
}

/// OCSF `verdict_id` and caption for Graph feedback.
pub fn verdict(f: AlertFeedback) -> (i64, &'static str) {
    match f {
        AlertFeedback::Unknown => (0, "Unknown"),
        AlertFeedback::FalsePositive => (1, "False Positive"),
        AlertFeedback::TruePositive => (2, "True Positive"),
        AlertFeedback::BenignPositive => (5, "Benign"),
        AlertFeedback::UnknownFutureValue => (99, "Other"),
    }
}

/// The caption of a `verdict_id` (PATCH input).
pub fn verdict_caption(id: i64) -> Option<&'static str> {
    Some(match id {
        0 => "Unknown",
        1 => "False Positive",
        2 => "True Positive",
        3 => "Disregard",
        4 => "Suspicious",
        5 => "Benign",
        6 => "Test",
        7 => "Insufficient Data",
        8 => "Security Risk",
        9 => "Managed Externally",
        10 => "Duplicate",
        99 => "Other",
        _ => return None,
    })
}

/// OCSF User `risk_level_id` and caption; `hidden` is 99 with the caption `Hidden`.
pub fn risk_level(l: RiskLevel) -> (i64, &'static str) {
    match l {
        RiskLevel::None => (0, "Info"),
        RiskLevel::Low => (1, "Low"),
        RiskLevel::Medium => (2, "Medium"),
        RiskLevel::High => (3, "High"),
        RiskLevel::Hidden => (99, "Hidden"),
        RiskLevel::UnknownFutureValue => (99, "Other"),
    }
}

/// A plausible 0–100 `risk_score` for a level (the scenario has levels only).
fn risk_score(l: RiskLevel) -> Option<i64> {
    match l {
        RiskLevel::None => Some(0),
        RiskLevel::Low => Some(30),
        RiskLevel::Medium => Some(60),
        RiskLevel::High => Some(90),
        RiskLevel::Hidden | RiskLevel::UnknownFutureValue => None,
    }
}

/// The activity captions of the Detection Finding class.
pub fn activity_name(id: i64) -> &'static str {
    match id {
        1 => "Create",
        2 => "Update",
        3 => "Close",
        _ => "Other",
    }
}

/// Sets `activity_id`, `activity_name`, `type_uid`, `type_name` together.
pub fn set_activity(doc: &mut Map<String, Value>, activity_id: i64) {
    let name = activity_name(activity_id);
    doc.insert("activity_id".into(), json!(activity_id));
    doc.insert("activity_name".into(), json!(name));
    doc.insert("type_uid".into(), json!(200_400 + activity_id));
    doc.insert(
        "type_name".into(),
        json!(format!("Detection Finding: {name}")),
    );
}

fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.epoch_millis())
}

/// Inserts `key` (epoch ms) and `key_dt` (ISO) when the time is known.
fn put_time(m: &mut Map<String, Value>, key: &str, t: Option<Timestamp>) {
    if let Some(t) = t {
        m.insert(key.into(), json!(t.epoch_millis()));
        m.insert(format!("{key}_dt"), json!(t.to_wire()));
    }
}

/// Inserts the non-null entries of `pairs`.
fn obj(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn port(p: Option<&String>) -> Value {
    p.and_then(|p| p.trim().parse::<u16>().ok())
        .map_or(Value::Null, |p| json!(p))
}

fn location(text: Option<&String>) -> Value {
    text.map_or(Value::Null, |t| json!({ "desc": t }))
}

fn hash(h: Option<&FileHash>) -> Value {
    let Some(h) = h else { return Value::Null };
    let (id, name) = match h.hash_type {
        Some(FileHashType::Md5) => (1, "MD5".to_owned()),
        Some(FileHashType::Sha1) => (2, "SHA-1".to_owned()),
        Some(FileHashType::Sha256) => (3, "SHA-256".to_owned()),
        Some(FileHashType::Ctph) => (5, "CTPH".to_owned()),
        Some(FileHashType::Unknown) | None => (0, "Unknown".to_owned()),
        // OCSF lets the source name an Other algorithm.
        Some(other) => (99, other.as_str().to_owned()),
    };
    json!([{"algorithm_id": id, "algorithm": name, "value": h.hash_value}])
}

fn account_type(t: Option<UserAccountSecurityType>) -> (Value, Value) {
    match t {
        None => (Value::Null, Value::Null),
        Some(UserAccountSecurityType::Unknown) => (json!(0), json!("Unknown")),
        Some(UserAccountSecurityType::Standard) => (json!(1), json!("User")),
        Some(UserAccountSecurityType::Administrator) => (json!(2), json!("Admin")),
        Some(UserAccountSecurityType::Power) => (json!(99), json!("Power")),
        Some(UserAccountSecurityType::UnknownFutureValue) => (json!(99), json!("Other")),
    }
}

fn integrity(l: Option<ProcessIntegrityLevel>) -> (Value, Value) {
    let id = match l {
        None => return (Value::Null, Value::Null),
        Some(ProcessIntegrityLevel::Unknown) => 0,
        Some(ProcessIntegrityLevel::Untrusted) => 1,
        Some(ProcessIntegrityLevel::Low) => 2,
        Some(ProcessIntegrityLevel::Medium) => 3,
        Some(ProcessIntegrityLevel::High) => 4,
        Some(ProcessIntegrityLevel::System) => 5,
        Some(ProcessIntegrityLevel::UnknownFutureValue) => 99,
    };
    let caption = match id {
        0 => "Unknown",
        1 => "Untrusted",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        5 => "System",
        _ => "Other",
    };
    (json!(id), json!(caption))
}

fn direction(d: Option<ConnectionDirection>) -> Value {
    match d {
        None => Value::Null,
        Some(ConnectionDirection::Unknown) => json!(0),
        Some(ConnectionDirection::Inbound) => json!(1),
        Some(ConnectionDirection::Outbound) => json!(2),
        Some(ConnectionDirection::UnknownFutureValue) => json!(99),
    }
}

fn device(h: &HostSecurityState) -> Value {
    Value::Object(obj(&[
        ("hostname", json!(h.fqdn)),
        ("name", json!(h.net_bios_name)),
        (
            "ip",
            json!(h.private_ip_address.clone().or(h.public_ip_address.clone())),
        ),
        (
            "os",
            h.os.as_ref().map_or(Value::Null, |n| json!({"name": n})),
        ),
        ("type_id", json!(0)),
    ]))
}

fn evidences(a: &Alert) -> Vec<Value> {
    let mut out = Vec::new();
    for u in &a.user_states {
        let (type_id, type_caption) = account_type(u.user_account_type);
        let user = obj(&[
            ("uid", json!(u.aad_user_id)),
            ("uid_alt", json!(u.on_premises_security_identifier)),
            ("name", json!(u.account_name)),
            ("domain", json!(u.domain_name)),
            ("email_addr", json!(u.user_principal_name)),
            ("type_id", type_id),
            ("type", type_caption),
        ]);
        let src = (u.logon_ip.is_some() || u.logon_location.is_some()).then(|| {
            Value::Object(obj(&[
                ("ip", json!(u.logon_ip)),
                ("location", location(u.logon_location.as_ref())),
            ]))
        });
        out.push(Value::Object(obj(&[
            ("user", Value::Object(user)),
            ("src_endpoint", src.unwrap_or(Value::Null)),
        ])));
    }
    for h in &a.host_states {
        out.push(json!({ "device": device(h) }));
    }
    for f in &a.file_states {
        out.push(json!({ "file": obj(&[
            ("name", json!(f.name)),
            ("path", json!(f.path)),
            ("hashes", hash(f.file_hash.as_ref())),
        ]) }));
    }
    for p in &a.processes {
        let (integrity_id, integrity_caption) = integrity(p.integrity_level);
        let file = (p.path.is_some() || p.file_hash.is_some()).then(|| {
            let name = p.name.clone();
            Value::Object(obj(&[
                ("name", json!(name)),
                ("path", json!(p.path)),
                ("hashes", hash(p.file_hash.as_ref())),
            ]))
        });
        let parent =
            (p.parent_process_id.is_some() || p.parent_process_name.is_some()).then(|| {
                Value::Object(obj(&[
                    ("pid", json!(p.parent_process_id)),
                    ("name", json!(p.parent_process_name)),
                    (
                        "created_time",
                        json!(ms(p.parent_process_created_date_time)),
                    ),
                ]))
            });
        let process = obj(&[
            ("name", json!(p.name)),
            ("pid", json!(p.process_id)),
            ("cmd_line", json!(p.command_line)),
            ("created_time", json!(ms(p.created_date_time))),
            ("integrity_id", integrity_id),
            ("integrity", integrity_caption),
            ("file", file.unwrap_or(Value::Null)),
            (
                "user",
                p.account_name
                    .as_ref()
                    .map_or(Value::Null, |n| json!({"name": n})),
            ),
            ("parent_process", parent.unwrap_or(Value::Null)),
        ]);
        out.push(json!({ "process": process }));
    }
    for n in &a.network_connections {
        let src = obj(&[
            ("ip", json!(n.source_address)),
            ("port", port(n.source_port.as_ref())),
            ("hostname", json!(n.local_dns_name)),
            ("location", location(n.source_location.as_ref())),
        ]);
        let dst = obj(&[
            ("ip", json!(n.destination_address)),
            ("port", port(n.destination_port.as_ref())),
            ("domain", json!(n.destination_domain)),
            ("location", location(n.destination_location.as_ref())),
        ]);
        let conn = obj(&[
            ("direction_id", direction(n.direction)),
            ("protocol_name", json!(n.protocol.map(|p| p.as_str()))),
        ]);
        let url = n
            .destination_url
            .as_ref()
            .map_or(Value::Null, |u| json!({"url_string": u}));
        let ev = obj(&[
            (
                "src_endpoint",
                if src.is_empty() {
                    Value::Null
                } else {
                    Value::Object(src)
                },
            ),
            (
                "dst_endpoint",
                if dst.is_empty() {
                    Value::Null
                } else {
                    Value::Object(dst)
                },
            ),
            (
                "connection_info",
                if conn.is_empty() {
                    Value::Null
                } else {
                    Value::Object(conn)
                },
            ),
            ("url", url),
        ]);
        if !ev.is_empty() {
            out.push(Value::Object(ev));
        }
    }
    out
}

/// ATT&CK from the scenario's hints (names and ids), else from `tactic`/`technique` triggers.
fn attacks(a: &Alert) -> Vec<Value> {
    if let Some(h) = a.additional_data.get(HINTS_KEY)
        && (h.get("tacticId").is_some() || h.get("techniqueId").is_some())
    {
        return vec![json!({
            "tactic": {"name": h.get("tactic"), "uid": h.get("tacticId")},
            "technique": {"name": h.get("technique"), "uid": h.get("techniqueId")},
        })];
    }
    let mut out = Vec::new();
    for t in &a.triggers {
        let part = json!({"uid": t.value});
        match t.name.as_deref() {
            Some("tactic") => out.push(json!({ "tactic": part })),
            Some("technique") => out.push(json!({ "technique": part })),
            _ => {}
        }
    }
    out
}

fn analytic(a: &Alert) -> Value {
    let Some(d) = a.alert_detections.first() else {
        return Value::Null;
    };
    let type_id = match d.method.as_deref() {
        None => Value::Null,
        Some("Rule") => json!(1),
        Some("Behavioral") => json!(2),
        Some("Statistical") => json!(3),
        Some("Learning (ML/DL)") => json!(4),
        Some(_) => json!(99),
    };
    Value::Object(obj(&[
        ("name", json!(d.name)),
        ("type", json!(d.method)),
        ("type_id", type_id),
        ("category", json!(d.detection_type)),
    ]))
}

/// Graph properties with no OCSF attribute, kept under `unmapped`.
fn unmapped(a: &Alert) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        let empty = v.is_null() || v.as_array().is_some_and(Vec::is_empty);
        if !empty {
            m.insert(k.into(), v);
        }
    };
    put("activity_group_name", json!(a.activity_group_name));
    put("azure_subscription_id", json!(a.azure_subscription_id));
    put("incident_ids", json!(a.incident_ids));
    put("detection_ids", json!(a.detection_ids));
    put("cloud_app_states", json!(a.cloud_app_states));
    put("malware_states", json!(a.malware_states));
    put("registry_key_states", json!(a.registry_key_states));
    put("message_security_states", json!(a.message_security_states));
    put(
        "uri_click_security_states",
        json!(a.uri_click_security_states),
    );
    Value::Object(m)
}

/// An alert as a Detection Finding.
pub fn finding(a: &Alert) -> Value {
    let (severity_id, severity_caption) = severity(a.severity);
    let (status_id, status_caption) = status(a.status);
    let created = a.created_date_time.or(a.event_date_time);
    let v = &a.vendor_information;

    let mut info = obj(&[
        ("uid", json!(a.id)),
        ("title", json!(a.title)),
        ("desc", json!(a.description)),
        ("types", json!(a.category.iter().collect::<Vec<_>>())),
        ("src_url", json!(a.source_materials.first())),
        ("analytic", analytic(a)),
        ("attacks", json!(attacks(a))),
    ]);
    put_time(&mut info, "created_time", created);
    put_time(&mut info, "first_seen_time", a.event_date_time);
    put_time(&mut info, "last_seen_time", a.last_event_date_time);
    put_time(&mut info, "modified_time", a.last_modified_date_time);

    let product = obj(&[
        ("name", json!(v.provider)),
        ("vendor_name", json!(v.vendor)),
        ("version", json!(v.provider_version)),
        (
            "feature",
            v.sub_provider
                .as_ref()
                .map_or(Value::Null, |s| json!({"name": s})),
        ),
    ]);
    let metadata = obj(&[
        ("uid", json!(a.id)),
        ("version", json!("1.3.0")),
        ("product", Value::Object(product)),
        ("tenant_uid", json!(a.azure_tenant_id)),
        ("labels", json!(a.tags)),
        ("profiles", json!(["datetime", "host"])),
    ]);

    let assignee = a.assigned_to.as_ref().map_or(Value::Null, |s| {
        if s.contains('@') {
            json!({"name": s, "email_addr": s})
        } else {
            json!({"name": s})
        }
    });
    let comment = (!a.comments.is_empty()).then(|| a.comments.join(COMMENT_SEPARATOR));
    let confidence_id = a.confidence.map(|c| match c {
        ..34 => 1,
        34..67 => 2,
        _ => 3,
    });

    let mut doc = obj(&[
        ("class_uid", json!(2004)),
        ("class_name", json!("Detection Finding")),
        ("category_uid", json!(2)),
        ("category_name", json!("Findings")),
        ("severity_id", json!(severity_id)),
        ("severity", json!(severity_caption)),
        ("status_id", json!(status_id)),
        ("status", json!(status_caption)),
        ("confidence_id", json!(confidence_id)),
        ("confidence_score", json!(a.confidence)),
        ("message", json!(a.description.clone().or(a.title.clone()))),
        ("comment", json!(comment)),
        ("assignee", assignee),
        ("finding_info", Value::Object(info)),
        ("evidences", json!(evidences(a))),
        (
            "resources",
            json!(
                a.security_resources
                    .iter()
                    .filter_map(|r| r.resource.as_ref())
                    .map(|r| json!({"uid": r, "name": r}))
                    .collect::<Vec<_>>()
            ),
        ),
        ("device", a.host_states.first().map_or(Value::Null, device)),
        (
            "remediation",
            if a.recommended_actions.is_empty() {
                Value::Null
            } else {
                json!({"desc": a.recommended_actions.join("\n")})
            },
        ),
        (
            "vulnerabilities",
            json!(
                a.vulnerability_states
                    .iter()
                    .map(|v| Value::Object(obj(&[
                        (
                            "cve",
                            v.cve.as_ref().map_or(Value::Null, |c| json!({"uid": c}))
                        ),
                        ("severity", json!(v.severity)),
                    ])))
                    .collect::<Vec<_>>()
            ),
        ),
        ("metadata", Value::Object(metadata)),
        ("unmapped", unmapped(a)),
    ]);
    if let Some(f) = a.feedback {
        let (id, caption) = verdict(f);
        doc.insert("verdict_id".into(), json!(id));
        doc.insert("verdict".into(), json!(caption));
    }
    put_time(&mut doc, "time", created);
    // A finding changed since creation is an Update; a resolved one was Closed.
    let activity = if a.status == AlertStatus::Resolved {
        3
    } else if a.last_modified_date_time.is_some() && a.last_modified_date_time != created {
        2
    } else {
        1
    };
    set_activity(&mut doc, activity);
    Value::Object(doc)
}

/// A risky user as an OCSF User.
pub fn user(r: &RiskyUser) -> Value {
    let level = r.risk_level.map(risk_level);
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
    Value::Object(obj(&[
        ("uid", json!(r.id)),
        ("name", json!(r.user_principal_name)),
        ("full_name", json!(r.user_display_name)),
        ("email_addr", json!(r.user_principal_name)),
        ("type_id", json!(1)),
        ("type", json!("User")),
        ("risk_level_id", json!(level.map(|l| l.0))),
        ("risk_level", json!(level.map(|l| l.1))),
        ("risk_score", json!(r.risk_level.and_then(risk_score))),
        ("unmapped", Value::Object(un)),
    ]))
}

/// A risk detection as an identity Detection Finding.
pub fn detection(d: &RiskDetection) -> Value {
    let level = d.risk_level.map(risk_level);
    let (severity_id, severity_caption) = match d.risk_level {
        Some(RiskLevel::None) => (1, "Informational"),
        Some(RiskLevel::Low) => (2, "Low"),
        Some(RiskLevel::Medium) => (3, "Medium"),
        Some(RiskLevel::High) => (4, "High"),
        _ => (0, "Unknown"),
    };
    let event_type = d
        .risk_event_type
        .clone()
        .unwrap_or_else(|| "generic".into());
    let mut info = obj(&[
        ("uid", json!(d.id)),
        ("title", json!(format!("Identity risk: {event_type}"))),
        ("types", json!(["Identity Risk", event_type])),
    ]);
    put_time(&mut info, "created_time", d.detected_date_time);
    put_time(&mut info, "first_seen_time", d.activity_date_time);
    put_time(&mut info, "modified_time", d.last_updated_date_time);
    let loc = d.location.as_ref().map_or(Value::Null, |l| {
        let coords = l.geo_coordinates.as_ref().and_then(|g| {
            let (long, lat) = (g.longitude?, g.latitude?);
            Some(json!([long, lat]))
        });
        Value::Object(obj(&[
            ("city", json!(l.city)),
            ("region", json!(l.state)),
            ("country", json!(l.country_or_region)),
            ("coordinates", json!(coords)),
        ]))
    });
    let user = obj(&[
        ("uid", json!(d.user_id)),
        ("name", json!(d.user_principal_name)),
        ("full_name", json!(d.user_display_name)),
        ("email_addr", json!(d.user_principal_name)),
        ("type_id", json!(1)),
    ]);
    let src = obj(&[("ip", json!(d.ip_address)), ("location", loc)]);
    let un = obj(&[
        ("risk_state", json!(d.risk_state.map(|s| s.as_str()))),
        ("risk_detail", json!(d.risk_detail.map(|s| s.as_str()))),
        ("activity", json!(d.activity.map(|s| s.as_str()))),
        ("source", json!(d.source)),
        (
            "detection_timing_type",
            json!(d.detection_timing_type.map(|s| s.as_str())),
        ),
        (
            "token_issuer_type",
            json!(d.token_issuer_type.map(|s| s.as_str())),
        ),
        ("request_id", json!(d.request_id)),
        ("additional_info", json!(d.additional_info)),
    ]);
    let time = d.activity_date_time.or(d.detected_date_time);
    let mut doc = obj(&[
        ("class_uid", json!(2004)),
        ("class_name", json!("Detection Finding")),
        ("category_uid", json!(2)),
        ("category_name", json!("Findings")),
        ("severity_id", json!(severity_id)),
        ("severity", json!(severity_caption)),
        ("risk_level_id", json!(level.map(|l| l.0))),
        ("risk_level", json!(level.map(|l| l.1))),
        (
            "message",
            json!(format!("Identity risk detected: {event_type}")),
        ),
        ("finding_info", Value::Object(info)),
        ("evidences", json!([{ "user": user, "src_endpoint": src }])),
        (
            "metadata",
            json!({
                "uid": d.id,
                "version": "1.3.0",
                "correlation_uid": d.correlation_id,
                "product": {"name": "Identity Risk", "vendor_name": "Vigil mock identity source"},
            }),
        ),
        ("unmapped", Value::Object(un)),
    ]);
    put_time(&mut doc, "time", time);
    set_activity(&mut doc, 1);
    Value::Object(doc)
}
