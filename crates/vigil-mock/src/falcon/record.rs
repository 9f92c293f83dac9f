//! The native Falcon alert record the mock serves, and its rendering from the common model.
//!
//! The rendering plays "the world": it turns the scenario's Graph-shaped alerts into what a Falcon
//! tenant would hold for them, with Falcon's own conventions (numeric severity with a realistic
//! spread, `closed` instead of resolved/dismissed, verdict tags, MITRE ATT&CK from the category,
//! one device, one user, one process with its parent). Field names and shapes follow
//! `docs/partner-formats.md` §2 and the published `alerts/entities/alerts/v2` sample
//! (`../shared/fixtures/edr/crowdstrike_alerts_entities_v2_cloud_ioa_response.json`).
//!
//! The scenario generator attaches rendering hints to each Falcon alert (`additional_data` under
//! [`HINTS_KEY`]: the tenant's CID, product, device id, MITRE tactic/technique, AD domain); they are
//! used when present and never rendered themselves. Without them everything is derived (CID from
//! the tenant id, MITRE from the category, product from the sub-provider or the id).
//!
//! Beyond the contract's field list the record also carries `assigned_to_uid` (the assignee's
//! user id/e-mail, as real Falcon entities do), `sha1`, `seconds_to_triaged`/`_resolved`,
//! `source_products`, `source_vendors` and `data_domains`.
//!
//! It is deliberately written without the adapter's mapping (the adapter lives in another crate and
//! must be tested against an independent rendering). Where Graph carries something Falcon cannot,
//! the mock follows what a tenant managed through Vigil would look like: a dismissed alert is
//! `closed` with the tag `vigil/status/dismissed`, and analyst feedback is Falcon's verdict tag
//! (`true_positive`, `false_positive`, `ignored`).

use crate::scenario::HINTS_KEY;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use vigil_model::{
    Alert, AlertFeedback, AlertSeverity, AlertStatus, FileHashType, Process, Timestamp,
};

/// The tag the mock puts on alerts whose Graph status was `dismissed`.
pub const DISMISSED_TAG: &str = "vigil/status/dismissed";

/// Falcon's products the mock knows (the `product` field, second segment of some composite ids).
pub const PRODUCTS: [&str; 9] = [
    "epp",
    "idp",
    "fcs",
    "mobile",
    "xdr",
    "overwatch",
    "cwpp",
    "ngsiem",
    "thirdparty",
];

/// `device`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub device_id: String,
    pub hostname: Option<String>,
    pub local_ip: Option<String>,
    pub external_ip: Option<String>,
    pub platform_name: Option<String>,
    pub os_version: Option<String>,
    pub machine_domain: Option<String>,
}

/// `parent_details`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParentDetails {
    pub filename: Option<String>,
    pub filepath: Option<String>,
    pub cmdline: Option<String>,
    pub sha256: Option<String>,
    pub process_id: Option<String>,
}

/// One `mitre_attack` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MitreAttack {
    pub tactic_id: String,
    pub tactic: String,
    pub technique_id: String,
    pub technique: String,
}

/// One entry of `comments`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comment {
    pub value: String,
    pub created_by: String,
    pub created_timestamp: String,
}

/// A Falcon alert entity as `POST /alerts/entities/alerts/v2` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FalconRecord {
    pub composite_id: String,
    pub id: String,
    pub cid: String,
    pub aggregate_id: String,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub severity: i64,
    pub severity_name: &'static str,
    pub confidence: i64,
    pub status: String,
    pub assigned_to_name: Option<String>,
    pub assigned_to_uid: Option<String>,
    pub assigned_to_uuid: Option<String>,
    pub tags: Vec<String>,
    pub comments: Vec<Comment>,
    pub show_in_ui: bool,
    pub created_timestamp: String,
    pub updated_timestamp: String,
    pub timestamp: String,
    pub first_timestamp: String,
    pub last_timestamp: String,
    pub seconds_to_triaged: i64,
    pub seconds_to_resolved: i64,
    pub product: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub tactic: String,
    pub tactic_id: String,
    pub technique: String,
    pub technique_id: String,
    pub objective: String,
    pub scenario: String,
    pub pattern_id: i64,
    pub falcon_host_link: String,
    pub device: Option<Device>,
    pub user_name: Option<String>,
    pub user_id: Option<String>,
    pub user_principal: Option<String>,
    /// Where the account signed in from (Falcon identity detections carry the source
    /// endpoint's address).
    pub source_endpoint_ip_address: Option<String>,
    pub filename: Option<String>,
    pub filepath: Option<String>,
    pub cmdline: Option<String>,
    pub sha256: Option<String>,
    pub sha1: Option<String>,
    pub md5: Option<String>,
    pub process_id: Option<String>,
    pub parent_details: Option<ParentDetails>,
    pub mitre_attack: Vec<MitreAttack>,
    pub source_products: Vec<String>,
    pub source_vendors: Vec<String>,
    pub data_domains: Vec<String>,
    /// Parsed copies of the timestamps, for filtering and sorting (not serialized).
    #[serde(skip)]
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub updated_at: DateTime<Utc>,
}

/// The 32-hex Falcon customer id (`cid`) the mock gives a tenant: the tenant GUID's own hex digits
/// when it is a GUID (so a demo can see which tenant a cid belongs to), otherwise a name-based
/// UUID of the tenant id.
pub fn cid_for_tenant(tenant_id: &str) -> String {
    let hex: String = tenant_id.chars().filter(|c| *c != '-').collect();
    if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        hex.to_ascii_lowercase()
    } else {
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, tenant_id.as_bytes())
            .simple()
            .to_string()
    }
}

/// Falcon's severity bands: Critical ≥ 90, High ≥ 70, Medium ≥ 50, Low ≥ 20, else Informational
/// (the ranges CrowdStrike documents for FQL, e.g. `severity:>=90` for critical).
pub fn severity_name(severity: i64) -> &'static str {
    match severity {
        90.. => "Critical",
        70..=89 => "High",
        50..=69 => "Medium",
        20..=49 => "Low",
        _ => "Informational",
    }
}

/// Falcon's timestamp form: RFC 3339 UTC with 9 fraction digits.
pub fn falcon_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The scenario's rendering hints for a Falcon alert (`additional_data[HINTS_KEY]`): MITRE
/// ATT&CK, product, device id, CID and AD domain as the generator decided them. Every hint is
/// optional; without one the rendering derives the value itself.
#[derive(Debug, Default)]
struct Hints {
    tactic: Option<String>,
    tactic_id: Option<String>,
    technique: Option<String>,
    technique_id: Option<String>,
    product: Option<String>,
    device_id: Option<String>,
    cid: Option<String>,
    machine_domain: Option<String>,
}

impl Hints {
    fn of(alert: &Alert) -> Self {
        let Some(h) = alert.additional_data.get(HINTS_KEY) else {
            return Self::default();
        };
        let s = |k: &str| {
            h.get(k)
                .and_then(serde_json::Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Self {
            tactic: s("tactic"),
            tactic_id: s("tacticId"),
            technique: s("technique"),
            technique_id: s("techniqueId"),
            product: s("falconProduct").filter(|p| PRODUCTS.contains(&p.as_str())),
            device_id: s("falconDeviceId"),
            cid: s("falconCid").filter(|c| is_cid(c)),
            machine_domain: s("machineDomain"),
        }
    }
}

fn is_cid(s: &str) -> bool {
    s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The CID of an alert's tenant: the scenario's hint when it gives one, else
/// [`cid_for_tenant`].
pub fn cid_of(alert: &Alert) -> String {
    Hints::of(alert)
        .cid
        .map(|c| c.to_ascii_lowercase())
        .unwrap_or_else(|| cid_for_tenant(&alert.azure_tenant_id))
}

/// FNV-1a: a stable hash so that the same scenario renders the same records on every run.
fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0u8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A value in `lo..=hi` picked by `h` (`lo <= hi`).
fn pick(h: u64, lo: i64, hi: i64) -> i64 {
    let span = u64::try_from(hi - lo + 1).unwrap_or(1).max(1);
    lo + i64::try_from(h % span).unwrap_or(0)
}

/// The native severity of a Graph severity, spread over the band like real data; about a quarter
/// of the high alerts are Critical (90+).
fn render_severity(sev: AlertSeverity, h: u64) -> i64 {
    match sev {
        AlertSeverity::High => {
            if h.is_multiple_of(4) {
                pick(h >> 8, 90, 100)
            } else {
                pick(h >> 8, 70, 89)
            }
        }
        AlertSeverity::Medium => pick(h >> 8, 50, 69),
        AlertSeverity::Low => pick(h >> 8, 20, 49),
        // Falcon has no "unknown" severity; such alerts are rendered Informational.
        _ => pick(h >> 8, 1, 19),
    }
}

/// MITRE ATT&CK for a Graph category (normalized: letters and digits only, lower case).
fn mitre_for_category(category: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    let key: String = category
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    match key.as_str() {
        "credentialtheft" | "credentialaccess" | "credentialdumping" => (
            "TA0006",
            "Credential Access",
            "T1003",
            "OS Credential Dumping",
        ),
        "ransomware" | "impact" => ("TA0040", "Impact", "T1486", "Data Encrypted for Impact"),
        "malware" | "execution" | "suspiciousactivity" => {
            ("TA0002", "Execution", "T1204", "User Execution")
        }
        "lateralmovement" => ("TA0008", "Lateral Movement", "T1021", "Remote Services"),
        "persistence" => (
            "TA0003",
            "Persistence",
            "T1547",
            "Boot or Logon Autostart Execution",
        ),
        "privilegeescalation" => (
            "TA0004",
            "Privilege Escalation",
            "T1068",
            "Exploitation for Privilege Escalation",
        ),
        "defenseevasion" => ("TA0005", "Defense Evasion", "T1562", "Impair Defenses"),
        "discovery" => ("TA0007", "Discovery", "T1087", "Account Discovery"),
        "commandandcontrol" | "c2" => (
            "TA0011",
            "Command and Control",
            "T1071",
            "Application Layer Protocol",
        ),
        "exfiltration" => (
            "TA0010",
            "Exfiltration",
            "T1041",
            "Exfiltration Over C2 Channel",
        ),
        "initialaccess" | "phishing" => ("TA0001", "Initial Access", "T1566", "Phishing"),
        "bruteforce" | "passwordspray" => ("TA0006", "Credential Access", "T1110", "Brute Force"),
        _ => (
            "TA0002",
            "Execution",
            "T1059",
            "Command and Scripting Interpreter",
        ),
    }
}

/// `credentialTheft` → `credential_theft` (Falcon's scenario spelling).
fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// `Credential theft detected` → `CredentialTheftDetected` (the shape of Falcon pattern names).
fn pascal_case(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn platform_of(os: &str) -> &'static str {
    let l = os.to_ascii_lowercase();
    if l.contains("windows") {
        "Windows"
    } else if l.contains("mac") || l.contains("os x") {
        "Mac"
    } else if l.contains("android") || l.contains("ios") {
        "Mobile"
    } else {
        "Linux"
    }
}

fn join_path(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        return name.to_string();
    }
    let sep = if dir.contains('\\') { '\\' } else { '/' };
    if dir.ends_with(sep) {
        format!("{dir}{name}")
    } else {
        format!("{dir}{sep}{name}")
    }
}

fn looks_like_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// The product of an alert: the Graph sub-provider if it names a Falcon product, else the second
/// segment of the composite id if it does, else `idp` for an identity-only alert, else `epp`.
fn product_of(alert: &Alert, hints: &Hints) -> String {
    if let Some(p) = &hints.product {
        return p.clone();
    }
    let known = |p: &str| PRODUCTS.iter().any(|k| k.eq_ignore_ascii_case(p));
    if let Some(sub) = alert.vendor_information.sub_provider.as_deref()
        && known(sub)
    {
        return sub.to_ascii_lowercase();
    }
    if let Some(seg) = alert.id.split(':').nth(1)
        && known(seg)
    {
        return seg.to_ascii_lowercase();
    }
    if alert.host_states.is_empty() && !alert.user_states.is_empty() {
        "idp".to_string()
    } else {
        "epp".to_string()
    }
}

fn hash_of(alert: &Alert, ty: FileHashType) -> Option<String> {
    alert
        .file_states
        .iter()
        .filter_map(|f| f.file_hash.as_ref())
        .chain(alert.processes.iter().filter_map(|p| p.file_hash.as_ref()))
        .find(|h| h.hash_type == Some(ty))
        .and_then(|h| h.hash_value.clone())
}

/// Renders one common-model alert as the Falcon record of tenant `cid`.
pub fn render(alert: &Alert, cid: &str) -> FalconRecord {
    let composite_id = alert.id.clone();
    let hints = Hints::of(alert);
    let h = stable_hash(&[cid, &composite_id]);
    let native_id = composite_id
        .strip_prefix(cid)
        .and_then(|s| s.strip_prefix(':'))
        .unwrap_or(&composite_id)
        .to_string();

    let now = Timestamp::now().0;
    let created = alert.created_date_time.map(|t| t.0).unwrap_or(now);
    let updated = alert
        .last_modified_date_time
        .map(|t| t.0)
        .unwrap_or(created)
        .max(created);
    let event = alert.event_date_time.map(|t| t.0).unwrap_or(created);
    let last_event = alert.last_event_date_time.map(|t| t.0).unwrap_or(event);

    let severity = render_severity(alert.severity, h);
    let mut tags: Vec<String> = alert.tags.clone();
    let status = match alert.status {
        AlertStatus::InProgress => "in_progress",
        AlertStatus::Resolved => "closed",
        AlertStatus::Dismissed => {
            tags.push(DISMISSED_TAG.to_string());
            "closed"
        }
        // Falcon has no unknown status: an alert nobody touched is new.
        _ => "new",
    };
    match alert.feedback {
        Some(AlertFeedback::TruePositive) => tags.push("true_positive".into()),
        Some(AlertFeedback::FalsePositive) => tags.push("false_positive".into()),
        Some(AlertFeedback::BenignPositive) => tags.push("ignored".into()),
        _ => {}
    }
    let seconds_to_resolved = match (status, alert.closed_date_time) {
        ("closed", Some(closed)) => (closed.0 - created).num_seconds().max(0),
        ("closed", None) => (updated - created).num_seconds().max(0),
        _ => 0,
    };
    let seconds_to_triaged = if status == "new" {
        0
    } else {
        (updated - created).num_seconds().max(0) / 2
    };

    let category = alert.category.clone().unwrap_or_default();
    let derived = mitre_for_category(&category);
    let tactic_id = hints.tactic_id.as_deref().unwrap_or(derived.0);
    let tactic = hints.tactic.as_deref().unwrap_or(derived.1);
    let technique_id = hints.technique_id.as_deref().unwrap_or(derived.2);
    let technique = hints.technique.as_deref().unwrap_or(derived.3);
    let scenario = if category.is_empty() {
        "suspicious_activity".to_string()
    } else {
        snake_case(&category)
    };
    let title = alert
        .title
        .clone()
        .unwrap_or_else(|| format!("{technique} detected"));

    let (assigned_to_name, assigned_to_uid, assigned_to_uuid) = match alert.assigned_to.as_deref() {
        None | Some("") => (None, None, None),
        Some(a) if looks_like_uuid(a) => (None, None, Some(a.to_string())),
        Some(a) if a.contains('@') => {
            let local = a.split('@').next().unwrap_or(a);
            let display = local
                .split(['.', '_'])
                .filter(|w| !w.is_empty())
                .map(|w| {
                    let mut cs = w.chars();
                    match cs.next() {
                        Some(f) => f.to_ascii_uppercase().to_string() + cs.as_str(),
                        None => String::new(),
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            (
                Some(display),
                Some(a.to_string()),
                Some(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, a.as_bytes()).to_string()),
            )
        }
        Some(a) => (Some(a.to_string()), None, None),
    };

    let comments = alert
        .comments
        .iter()
        .map(|c| Comment {
            value: c.clone(),
            created_by: assigned_to_uid
                .clone()
                .unwrap_or_else(|| "analyst@falcon.local".to_string()),
            created_timestamp: falcon_time(updated),
        })
        .collect();

    let device = alert.host_states.first().map(|hs| {
        let (hostname, domain) = match (&hs.net_bios_name, &hs.fqdn) {
            (Some(nb), Some(fqdn)) => (
                Some(nb.clone()),
                fqdn.split_once('.').map(|(_, d)| d.to_string()),
            ),
            (Some(nb), None) => (Some(nb.clone()), None),
            (None, Some(fqdn)) => match fqdn.split_once('.') {
                Some((host, d)) => (Some(host.to_string()), Some(d.to_string())),
                None => (Some(fqdn.clone()), None),
            },
            (None, None) => (None, None),
        };
        let key = hostname.clone().unwrap_or_else(|| composite_id.clone());
        let domain = domain.or_else(|| hints.machine_domain.clone());
        Device {
            device_id: hints.device_id.clone().unwrap_or_else(|| {
                uuid::Uuid::new_v5(
                    &uuid::Uuid::NAMESPACE_OID,
                    format!("{cid}/{key}").as_bytes(),
                )
                .simple()
                .to_string()
            }),
            hostname,
            local_ip: hs.private_ip_address.clone(),
            external_ip: hs.public_ip_address.clone(),
            platform_name: hs.os.as_deref().map(|os| platform_of(os).to_string()),
            os_version: hs.os.clone(),
            machine_domain: domain,
        }
    });

    let user = alert.user_states.first();
    let main_process: Option<&Process> = alert.processes.first();
    let file = alert.file_states.first();
    let filename = file
        .and_then(|f| f.name.clone())
        .or_else(|| main_process.and_then(|p| p.name.clone()));
    let dir = file
        .and_then(|f| f.path.clone())
        .or_else(|| main_process.and_then(|p| p.path.clone()));
    let filepath = match (&dir, &filename) {
        (Some(d), Some(n)) => Some(join_path(d, n)),
        (Some(d), None) => Some(d.clone()),
        _ => None,
    };
    let parent_details = main_process.and_then(|p| {
        let parent = alert
            .processes
            .iter()
            .skip(1)
            .find(|q| q.process_id.is_some() && q.process_id == p.parent_process_id);
        if p.parent_process_name.is_none() && p.parent_process_id.is_none() && parent.is_none() {
            return None;
        }
        let pname = p
            .parent_process_name
            .clone()
            .or_else(|| parent.and_then(|q| q.name.clone()));
        Some(ParentDetails {
            filepath: match (parent.and_then(|q| q.path.as_deref()), pname.as_deref()) {
                (Some(d), Some(n)) => Some(join_path(d, n)),
                _ => None,
            },
            filename: pname,
            cmdline: parent.and_then(|q| q.command_line.clone()),
            sha256: parent
                .and_then(|q| q.file_hash.as_ref())
                .filter(|fh| fh.hash_type == Some(FileHashType::Sha256))
                .and_then(|fh| fh.hash_value.clone()),
            process_id: p.parent_process_id.map(|id| id.to_string()),
        })
    });

    let product = product_of(alert, &hints);
    let kind = match product.as_str() {
        "idp" => "idp-user-endpoint-app-access",
        "fcs" => "cloud-ioa",
        "mobile" => "mobile-app",
        "xdr" => "xdr",
        _ => "ldt",
    }
    .to_string();
    let source_product = match product.as_str() {
        "idp" => "Falcon Identity Protection",
        "fcs" => "Falcon Cloud Security",
        "mobile" => "Falcon for Mobile",
        "xdr" => "Falcon Insight XDR",
        "overwatch" => "Falcon OverWatch",
        _ => "Falcon Insight",
    };
    let data_domain = match product.as_str() {
        "idp" => "Identity",
        "fcs" | "cwpp" => "Cloud",
        _ => "Endpoint",
    };

    FalconRecord {
        falcon_host_link: format!(
            "https://falcon.crowdstrike.com/unified-detections/{composite_id}"
        ),
        aggregate_id: format!("aggind:{cid}:{}", h % 100_000_000_000),
        composite_id,
        id: native_id,
        cid: cid.to_string(),
        name: {
            let n = pascal_case(&title);
            if n.is_empty() {
                "FalconDetection".to_string()
            } else {
                n
            }
        },
        display_name: title,
        description: alert.description.clone(),
        severity,
        severity_name: severity_name(severity),
        confidence: alert
            .confidence
            .map(i64::from)
            .unwrap_or_else(|| pick(h >> 20, 40, 100)),
        status: status.to_string(),
        assigned_to_name,
        assigned_to_uid,
        assigned_to_uuid,
        tags,
        comments,
        show_in_ui: true,
        created_timestamp: falcon_time(created),
        updated_timestamp: falcon_time(updated),
        timestamp: falcon_time(event),
        first_timestamp: falcon_time(event),
        last_timestamp: falcon_time(last_event),
        seconds_to_triaged,
        seconds_to_resolved,
        product,
        kind,
        tactic: tactic.to_string(),
        tactic_id: tactic_id.to_string(),
        technique: technique.to_string(),
        technique_id: technique_id.to_string(),
        objective: match tactic_id {
            "TA0040" | "TA0010" => "Achieve Objectives",
            "TA0001" | "TA0002" => "Gain Access",
            "TA0006" | "TA0004" => "Keep Access",
            _ => "Follow Through",
        }
        .to_string(),
        scenario,
        pattern_id: pick(h >> 32, 10, 60_000),
        device,
        user_name: user.and_then(|u| u.account_name.clone()),
        user_id: user.and_then(|u| u.on_premises_security_identifier.clone()),
        user_principal: user.and_then(|u| u.user_principal_name.clone()),
        source_endpoint_ip_address: user.and_then(|u| u.logon_ip.clone()),
        filename,
        filepath,
        cmdline: main_process.and_then(|p| p.command_line.clone()),
        sha256: hash_of(alert, FileHashType::Sha256),
        sha1: hash_of(alert, FileHashType::Sha1),
        md5: hash_of(alert, FileHashType::Md5),
        process_id: main_process
            .and_then(|p| p.process_id)
            .map(|id| id.to_string()),
        parent_details,
        mitre_attack: vec![MitreAttack {
            tactic_id: tactic_id.to_string(),
            tactic: tactic.to_string(),
            technique_id: technique_id.to_string(),
            technique: technique.to_string(),
        }],
        source_products: vec![source_product.to_string()],
        source_vendors: vec!["CrowdStrike".to_string()],
        data_domains: vec![data_domain.to_string()],
        created_at: created,
        updated_at: updated,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use vigil_model::{FileHash, FileSecurityState, HostSecurityState, UserSecurityState};

    fn alert(id: &str, sev: AlertSeverity) -> Alert {
        Alert {
            id: id.to_string(),
            azure_tenant_id: "a1b2c3d4-0000-0000-0000-000000000001".into(),
            title: Some("Credential theft via LSASS".into()),
            category: Some("credentialTheft".into()),
            severity: sev,
            status: AlertStatus::NewAlert,
            created_date_time: Timestamp::parse("2024-05-01T10:00:00Z").ok(),
            ..Alert::default()
        }
    }

    #[test]
    fn cid_is_the_tenant_guid_hex_or_a_stable_hash() {
        assert_eq!(
            cid_for_tenant("A1B2C3D4-0000-0000-0000-000000000001"),
            "a1b2c3d4000000000000000000000001"
        );
        let other = cid_for_tenant("not-a-guid");
        assert_eq!(other.len(), 32);
        assert_eq!(other, cid_for_tenant("not-a-guid"));
    }

    #[test]
    fn severity_spread_stays_in_band_and_high_reaches_critical() {
        let cid = cid_for_tenant("a1b2c3d4-0000-0000-0000-000000000001");
        let mut critical = 0;
        for i in 0..200 {
            let id = format!("{cid}:ind:{i}");
            for (sev, lo, hi) in [
                (AlertSeverity::High, 70, 100),
                (AlertSeverity::Medium, 50, 69),
                (AlertSeverity::Low, 20, 49),
                (AlertSeverity::Informational, 1, 19),
            ] {
                let r = render(&alert(&id, sev), &cid);
                assert!((lo..=hi).contains(&r.severity), "{sev:?} -> {}", r.severity);
                assert_eq!(r.severity_name, severity_name(r.severity));
                if r.severity >= 90 {
                    critical += 1;
                }
            }
        }
        assert!(critical > 10 && critical < 120, "critical count {critical}");
    }

    #[test]
    fn renders_device_user_file_process_and_mitre() {
        let cid = "a1b2c3d4000000000000000000000001";
        let mut a = alert(&format!("{cid}:ind:abc"), AlertSeverity::High);
        a.status = AlertStatus::Dismissed;
        a.feedback = Some(AlertFeedback::FalsePositive);
        a.host_states = vec![HostSecurityState {
            fqdn: Some("ws01.contoso.com".into()),
            net_bios_name: Some("WS01".into()),
            os: Some("Windows 10 Enterprise".into()),
            private_ip_address: Some("10.0.0.5".into()),
            ..Default::default()
        }];
        a.user_states = vec![UserSecurityState {
            account_name: Some("alice".into()),
            user_principal_name: Some("alice@contoso.com".into()),
            on_premises_security_identifier: Some("S-1-5-21-1-2-3-1001".into()),
            ..Default::default()
        }];
        a.file_states = vec![FileSecurityState {
            name: Some("mimikatz.exe".into()),
            path: Some("C:\\Users\\alice\\Downloads".into()),
            file_hash: Some(FileHash {
                hash_type: Some(FileHashType::Sha256),
                hash_value: Some("ab".repeat(32)),
            }),
            ..Default::default()
        }];
        a.processes = vec![Process {
            command_line: Some("mimikatz.exe sekurlsa::logonpasswords".into()),
            process_id: Some(4242),
            parent_process_name: Some("cmd.exe".into()),
            parent_process_id: Some(4000),
            ..Default::default()
        }];
        let r = render(&a, cid);
        assert_eq!(r.status, "closed");
        assert!(r.tags.contains(&DISMISSED_TAG.to_string()));
        assert!(r.tags.contains(&"false_positive".to_string()));
        assert_eq!(r.id, "ind:abc");
        assert_eq!(r.scenario, "credential_theft");
        assert_eq!(r.tactic_id, "TA0006");
        let d = r
            .device
            .as_ref()
            .map(|d| (d.hostname.clone(), d.machine_domain.clone()));
        assert_eq!(d, Some((Some("WS01".into()), Some("contoso.com".into()))));
        assert_eq!(r.user_name.as_deref(), Some("alice"));
        assert_eq!(
            r.filepath.as_deref(),
            Some("C:\\Users\\alice\\Downloads\\mimikatz.exe")
        );
        assert_eq!(r.process_id.as_deref(), Some("4242"));
        assert_eq!(
            r.parent_details
                .as_ref()
                .and_then(|p| p.filename.as_deref()),
            Some("cmd.exe")
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["type"], "ldt");
        assert!(json.get("created_at").is_none());
    }

    #[test]
    fn snake_and_pascal_case() {
        assert_eq!(snake_case("credentialTheft"), "credential_theft");
        assert_eq!(snake_case("Ransomware"), "ransomware");
        assert_eq!(snake_case("None"), "none");
        assert_eq!(pascal_case("EC2 group modified"), "EC2GroupModified");
    }
}
