//! Every Graph enumeration against the spec's table: exact wire strings in CSDL order, the
//! evolvable members after `unknownFutureValue`, case-insensitive input, unknown names becoming
//! `unknownFutureValue`, and JSON (de)serialization.

use serde::Serialize;
use serde::de::DeserializeOwned;
use vigil_model::*;

/// The spec's members, in order; `evolvable` lists the ones after `unknownFutureValue`.
fn check<E>(wire: &[&str], evolvable: &[&str])
where
    E: GraphEnum
        + Serialize
        + DeserializeOwned
        + PartialEq
        + std::fmt::Debug
        + std::fmt::Display
        + std::str::FromStr,
{
    let all: Vec<&str> = E::ALL.iter().map(|m| m.as_str()).collect();
    let expected: Vec<&str> = wire.iter().chain(evolvable).copied().collect();
    assert_eq!(all, expected, "members and CSDL order");

    let sentinel = E::unknown_future_value();
    assert!(
        sentinel.as_str().eq_ignore_ascii_case("unknownFutureValue"),
        "sentinel is {}",
        sentinel.as_str()
    );
    assert_eq!(
        wire.last().copied(),
        Some(sentinel.as_str()),
        "sentinel position"
    );

    for &m in E::ALL {
        let s = m.as_str();
        // exact, and as the Python SDK / Microsoft samples send it
        assert_eq!(E::parse_exact(s), Some(m), "{s}");
        let mut pascal = s.to_string();
        pascal[..1].make_ascii_uppercase();
        assert_eq!(E::parse_exact(&pascal), Some(m), "{pascal}");
        assert_eq!(
            E::parse_exact(&s.to_ascii_lowercase()),
            Some(m),
            "{s} lower"
        );
        assert_eq!(
            E::parse_exact(&s.to_ascii_uppercase()),
            Some(m),
            "{s} upper"
        );
        assert_eq!(E::from_wire(&s.to_ascii_uppercase()), m);
        // Display and JSON use the canonical string
        assert_eq!(m.to_string(), s);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, format!("\"{s}\""));
        assert_eq!(serde_json::from_str::<E>(&json).unwrap(), m);
        let upper: E = serde_json::from_str(&format!("\"{}\"", s.to_ascii_uppercase())).unwrap();
        assert_eq!(upper, m);
        // evolvable members hide behind the sentinel, everything else stays
        let is_evolvable = evolvable.contains(&s);
        assert_eq!(m.is_evolvable(), is_evolvable, "{s} evolvable");
        let hidden = m.hide_evolvable();
        if is_evolvable {
            assert_eq!(hidden, sentinel, "{s} hidden");
        } else {
            assert_eq!(hidden, m, "{s} kept");
        }
    }

    // unknown names never fail
    for unknown in [
        "",
        "bogus",
        "new_alert",
        "Azure Active Directory",
        "unknown future value",
    ] {
        assert_eq!(E::parse_exact(unknown), None, "{unknown:?}");
        assert_eq!(E::from_wire(unknown), sentinel, "{unknown:?}");
        let parsed: E = serde_json::from_value(serde_json::Value::from(unknown)).unwrap();
        assert_eq!(parsed, sentinel, "{unknown:?} via serde");
        assert_eq!(unknown.parse::<E>().ok(), Some(sentinel));
    }
    // a non-string is a type error, not a silent sentinel
    assert!(serde_json::from_str::<E>("42").is_err());
}

#[test]
fn alert_severity() {
    check::<AlertSeverity>(
        &[
            "unknown",
            "informational",
            "low",
            "medium",
            "high",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn alert_status() {
    check::<AlertStatus>(
        &[
            "unknown",
            "newAlert",
            "inProgress",
            "resolved",
            "dismissed",
            "unknownFutureValue",
        ],
        &[],
    );
    // Microsoft's Python sample PATCHes "NewAlert" / "InProgress".
    assert_eq!(AlertStatus::from_wire("NewAlert"), AlertStatus::NewAlert);
    assert_eq!(AlertStatus::from_wire("newalert"), AlertStatus::NewAlert);
    assert_eq!(
        AlertStatus::from_wire("InProgress"),
        AlertStatus::InProgress
    );
    // The subscription doc example's `status eq 'New'` is not a member.
    assert_eq!(
        AlertStatus::from_wire("New"),
        AlertStatus::UnknownFutureValue
    );
}

#[test]
fn alert_feedback() {
    check::<AlertFeedback>(
        &[
            "unknown",
            "truePositive",
            "falsePositive",
            "benignPositive",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn connection_direction() {
    check::<ConnectionDirection>(
        &["unknown", "inbound", "outbound", "unknownFutureValue"],
        &[],
    );
}

#[test]
fn connection_status() {
    check::<ConnectionStatus>(
        &[
            "unknown",
            "attempted",
            "succeeded",
            "blocked",
            "failed",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn email_role() {
    check::<EmailRole>(
        &["unknown", "sender", "recipient", "unknownFutureValue"],
        &[],
    );
}

#[test]
fn file_hash_type() {
    check::<FileHashType>(
        &[
            "unknown",
            "sha1",
            "sha256",
            "md5",
            "authenticodeHash256",
            "lsHash",
            "ctph",
            "unknownFutureValue",
        ],
        &[],
    );
    // The docs' peSha1/peSha256 are not CSDL members.
    assert_eq!(
        FileHashType::from_wire("peSha1"),
        FileHashType::UnknownFutureValue
    );
}

#[test]
fn logon_type() {
    check::<LogonType>(
        &[
            "unknown",
            "interactive",
            "remoteInteractive",
            "network",
            "batch",
            "service",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn process_integrity_level() {
    check::<ProcessIntegrityLevel>(
        &[
            "unknown",
            "untrusted",
            "low",
            "medium",
            "high",
            "system",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn registry_hive() {
    check::<RegistryHive>(
        &[
            "unknown",
            "currentConfig",
            "currentUser",
            "localMachineSam",
            "localMachineSecurity",
            "localMachineSoftware",
            "localMachineSystem",
            "usersDefault",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn registry_operation() {
    check::<RegistryOperation>(
        &[
            "unknown",
            "create",
            "modify",
            "delete",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn registry_value_type() {
    check::<RegistryValueType>(
        &[
            "unknown",
            "binary",
            "dword",
            "dwordLittleEndian",
            "dwordBigEndian",
            "expandSz",
            "link",
            "multiSz",
            "none",
            "qword",
            "qwordlittleEndian",
            "sz",
            "unknownFutureValue",
        ],
        &[],
    );
    // The CSDL's odd lower-case `l` is kept on output, and the "natural" spelling is accepted.
    assert_eq!(
        RegistryValueType::from_wire("qwordLittleEndian").as_str(),
        "qwordlittleEndian"
    );
}

#[test]
fn security_network_protocol() {
    check::<SecurityNetworkProtocol>(
        &[
            "unknown",
            "ip",
            "icmp",
            "igmp",
            "ggp",
            "ipv4",
            "tcp",
            "pup",
            "udp",
            "idp",
            "ipv6",
            "ipv6RoutingHeader",
            "ipv6FragmentHeader",
            "ipSecEncapsulatingSecurityPayload",
            "ipSecAuthenticationHeader",
            "icmpV6",
            "ipv6NoNextHeader",
            "ipv6DestinationOptions",
            "nd",
            "raw",
            "ipx",
            "spx",
            "spxII",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn security_resource_type() {
    check::<SecurityResourceType>(
        &["unknown", "attacked", "related", "unknownFutureValue"],
        &[],
    );
}

#[test]
fn user_account_security_type() {
    check::<UserAccountSecurityType>(
        &[
            "unknown",
            "standard",
            "power",
            "administrator",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn risk_level() {
    check::<RiskLevel>(
        &[
            "low",
            "medium",
            "high",
            "hidden",
            "none",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn risk_state() {
    check::<RiskState>(
        &[
            "none",
            "confirmedSafe",
            "remediated",
            "dismissed",
            "atRisk",
            "confirmedCompromised",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn risk_detail_is_evolvable() {
    check::<RiskDetail>(
        &[
            "none",
            "adminGeneratedTemporaryPassword",
            "userPerformedSecuredPasswordChange",
            "userPerformedSecuredPasswordReset",
            "adminConfirmedSigninSafe",
            "aiConfirmedSigninSafe",
            "userPassedMFADrivenByRiskBasedPolicy",
            "adminDismissedAllRiskForUser",
            "adminConfirmedSigninCompromised",
            "hidden",
            "adminConfirmedUserCompromised",
            "unknownFutureValue",
        ],
        &[
            "m365DAdminDismissedDetection",
            "adminConfirmedServicePrincipalCompromised",
            "adminDismissedAllRiskForServicePrincipal",
            "userChangedPasswordOnPremises",
            "adminDismissedRiskForSignIn",
            "adminConfirmedAccountSafe",
            "microsoftRevokedSessions",
        ],
    );
}

#[test]
fn risk_detection_timing_type() {
    check::<RiskDetectionTimingType>(
        &[
            "notDefined",
            "realtime",
            "nearRealtime",
            "offline",
            "unknownFutureValue",
        ],
        &[],
    );
}

#[test]
fn activity_type_is_evolvable() {
    check::<ActivityType>(
        &["signin", "user", "unknownFutureValue"],
        &["servicePrincipal"],
    );
}

#[test]
fn token_issuer_type_is_evolvable_and_pascal_case() {
    check::<TokenIssuerType>(
        &["AzureAD", "ADFederationServices", "UnknownFutureValue"],
        &[
            "AzureADBackupAuth",
            "ADFederationServicesMFAAdapter",
            "NPSExtension",
        ],
    );
    assert_eq!(
        TokenIssuerType::from_wire("azureAd"),
        TokenIssuerType::AzureAd
    );
}

/// `Prefer: include-unknown-enum-members` absent: every evolvable member of every identity
/// resource becomes the sentinel; present: they are kept.
#[test]
fn hide_evolvable_members_on_identity_resources() {
    let mut detection = RiskDetection {
        activity: Some(ActivityType::ServicePrincipal),
        risk_detail: Some(RiskDetail::MicrosoftRevokedSessions),
        token_issuer_type: Some(TokenIssuerType::NpsExtension),
        risk_level: Some(RiskLevel::High),
        ..Default::default()
    };
    let with_pref = serde_json::to_value(&detection).unwrap();
    assert_eq!(with_pref["activity"], "servicePrincipal");
    assert_eq!(with_pref["riskDetail"], "microsoftRevokedSessions");
    assert_eq!(with_pref["tokenIssuerType"], "NPSExtension");
    detection.hide_evolvable_members();
    let without = serde_json::to_value(&detection).unwrap();
    assert_eq!(without["activity"], "unknownFutureValue");
    assert_eq!(without["riskDetail"], "unknownFutureValue");
    assert_eq!(without["tokenIssuerType"], "UnknownFutureValue");
    assert_eq!(without["riskLevel"], "high");

    let mut user = RiskyUser {
        risk_detail: Some(RiskDetail::AdminConfirmedAccountSafe),
        ..Default::default()
    };
    user.hide_evolvable_members();
    assert_eq!(user.risk_detail, Some(RiskDetail::UnknownFutureValue));

    let mut item = RiskyUserHistoryItem {
        risk_detail: Some(RiskDetail::UserChangedPasswordOnPremises),
        activity: Some(RiskUserActivity {
            detail: Some(RiskDetail::AdminDismissedRiskForSignIn),
            risk_event_types: vec!["unlikelyTravel".into()],
        }),
        ..Default::default()
    };
    item.hide_evolvable_members();
    assert_eq!(item.risk_detail, Some(RiskDetail::UnknownFutureValue));
    let activity = item.activity.unwrap();
    assert_eq!(activity.detail, Some(RiskDetail::UnknownFutureValue));
    assert_eq!(activity.risk_event_types, ["unlikelyTravel"]);

    // non-evolvable members are left alone
    let mut plain = RiskyUser {
        risk_detail: Some(RiskDetail::AdminConfirmedUserCompromised),
        ..Default::default()
    };
    plain.hide_evolvable_members();
    assert_eq!(
        plain.risk_detail,
        Some(RiskDetail::AdminConfirmedUserCompromised)
    );
}
