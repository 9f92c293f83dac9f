//! Beta's deprecated `identityRiskEvents`, served from risk detections.
//!
//! Graph stopped returning data on these paths in 2020 (spec §5), but scripts written against
//! them still exist. Vigil answers them from the federated risk detections, mapped to the
//! legacy shape:
//!
//! | identityRiskEvent | from riskDetection |
//! |---|---|
//! | `id`, `userId`, `userDisplayName`, `userPrincipalName`, `riskEventType` | same |
//! | `createdDateTime` | `detectedDateTime` |
//! | `riskEventDateTime` | `activityDateTime` |
//! | `closedDateTime` | `lastUpdatedDateTime` when the detection is closed (state `remediated`, `dismissed` or `confirmedSafe`), else `null` |
//! | `riskEventStatus` | `atRisk`/`confirmedCompromised`/`none` → `active`; `remediated` → `closedMfaAuto` when the detail is `userPassedMFADrivenByRiskBasedPolicy`, else `remediated`; `dismissed` → `dismissedAsIgnore`; `confirmedSafe` → `dismissedAsFalsePositive`; other → `active` |
//! | `riskLevel` | `low`/`medium`/`high`; other levels → `null` (the legacy enum has no others) |
//! | `riskType` | the subtype name in PascalCase (`MalwareRiskEvent`), as the legacy list example carries |
//! | `@odata.type` | the subtype by `riskEventType`: `leakedCredentials` → `leakedCredentialsRiskEvent`, `anonymizedIPAddress` → `anonymousIpRiskEvent`, `malwareInfectedIPAddress` → `malwareRiskEvent`, `suspiciousIPAddress`/`maliciousIPAddress` → `suspiciousIpRiskEvent`, `unfamiliarFeatures` → `unfamiliarLocationRiskEvent`, `impossibleTravel`/`unlikelyTravel` → `impossibleTravelRiskEvent`, other → `identityRiskEvent` |
//! | `ipAddress`, `location` (located subtypes) | `ipAddress`; `location` as `"City, State, CC"` |
//!
//! `$filter`, `$orderby`, `$select` and `$top` apply to the legacy shape
//! ([`IDENTITY_RISK_EVENT`]; enum-like values compare as strings).

use serde_json::{Map, Value, json};
use vigil_model::query::{PropType, Property, Schema};
use vigil_model::{RiskDetail, RiskDetection, RiskLevel, RiskState};

const fn prop(name: &'static str, ty: PropType) -> Property {
    Property {
        name,
        alias: None,
        ty,
        collection: false,
    }
}

/// The queryable legacy shape.
pub static IDENTITY_RISK_EVENT: Schema = Schema {
    type_name: "microsoft.graph.identityRiskEvent",
    properties: &[
        prop("id", PropType::String),
        prop("closedDateTime", PropType::DateTimeOffset),
        prop("createdDateTime", PropType::DateTimeOffset),
        prop("riskEventDateTime", PropType::DateTimeOffset),
        prop("riskEventStatus", PropType::String),
        prop("riskLevel", PropType::String),
        prop("riskEventType", PropType::String),
        prop("riskType", PropType::String),
        prop("userDisplayName", PropType::String),
        prop("userId", PropType::String),
        prop("userPrincipalName", PropType::String),
        prop("ipAddress", PropType::String),
        prop("location", PropType::String),
    ],
};

/// The legacy subtype of a detection.
fn subtype(risk_event_type: Option<&str>) -> (&'static str, bool) {
    // (type name, located)
    match risk_event_type.unwrap_or_default() {
        "leakedCredentials" => ("leakedCredentialsRiskEvent", false),
        "anonymizedIPAddress" => ("anonymousIpRiskEvent", true),
        "malwareInfectedIPAddress" => ("malwareRiskEvent", true),
        "suspiciousIPAddress" | "maliciousIPAddress" => ("suspiciousIpRiskEvent", true),
        "unfamiliarFeatures" => ("unfamiliarLocationRiskEvent", true),
        "impossibleTravel" | "unlikelyTravel" => ("impossibleTravelRiskEvent", true),
        _ => ("identityRiskEvent", false),
    }
}

fn status(state: Option<RiskState>, detail: Option<RiskDetail>) -> &'static str {
    match state {
        Some(RiskState::Remediated)
            if detail == Some(RiskDetail::UserPassedMfaDrivenByRiskBasedPolicy) =>
        {
            "closedMfaAuto"
        }
        Some(RiskState::Remediated) => "remediated",
        Some(RiskState::Dismissed) => "dismissedAsIgnore",
        Some(RiskState::ConfirmedSafe) => "dismissedAsFalsePositive",
        _ => "active",
    }
}

/// A detection in the legacy `identityRiskEvent` shape.
pub fn to_identity_risk_event(d: &RiskDetection) -> Value {
    let (ty, located) = subtype(d.risk_event_type.as_deref());
    let closed = matches!(
        d.risk_state,
        Some(RiskState::Remediated | RiskState::Dismissed | RiskState::ConfirmedSafe)
    );
    let level = d
        .risk_level
        .filter(|l| matches!(l, RiskLevel::Low | RiskLevel::Medium | RiskLevel::High));
    let mut pascal = ty.to_string();
    if let Some(first) = pascal.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let mut m = Map::new();
    m.insert(
        "@odata.type".into(),
        json!(format!("#microsoft.graph.{ty}")),
    );
    m.insert("id".into(), json!(d.id));
    m.insert(
        "closedDateTime".into(),
        if closed {
            json!(d.last_updated_date_time)
        } else {
            Value::Null
        },
    );
    m.insert("createdDateTime".into(), json!(d.detected_date_time));
    m.insert("riskEventDateTime".into(), json!(d.activity_date_time));
    m.insert(
        "riskEventStatus".into(),
        json!(status(d.risk_state, d.risk_detail)),
    );
    m.insert("riskLevel".into(), json!(level));
    m.insert("riskEventType".into(), json!(d.risk_event_type));
    m.insert("riskType".into(), json!(pascal));
    m.insert("userDisplayName".into(), json!(d.user_display_name));
    m.insert("userId".into(), json!(d.user_id));
    m.insert("userPrincipalName".into(), json!(d.user_principal_name));
    if located {
        m.insert("ipAddress".into(), json!(d.ip_address));
        let location = d.location.as_ref().map(|l| {
            [&l.city, &l.state, &l.country_or_region]
                .into_iter()
                .filter_map(|p| p.as_deref().filter(|s| !s.is_empty()))
                .collect::<Vec<_>>()
                .join(", ")
        });
        m.insert("location".into(), json!(location));
    }
    if let Some(s) = d.additional_data.get(super::DETECTION_SOURCES_KEY) {
        m.insert(super::DETECTION_SOURCES_KEY.into(), s.clone());
    }
    Value::Object(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use vigil_model::SignInLocation;

    #[test]
    fn maps_to_the_legacy_shape() {
        let d = RiskDetection {
            id: "d1".into(),
            risk_event_type: Some("malwareInfectedIPAddress".into()),
            risk_state: Some(RiskState::Remediated),
            risk_detail: Some(RiskDetail::UserPassedMfaDrivenByRiskBasedPolicy),
            risk_level: Some(RiskLevel::Hidden),
            ip_address: Some("10.0.0.1".into()),
            detected_date_time: Some("2026-10-01T00:00:00Z".parse().unwrap()),
            last_updated_date_time: Some("2026-10-02T00:00:00Z".parse().unwrap()),
            location: Some(SignInLocation {
                city: Some("Oslo".into()),
                country_or_region: Some("NO".into()),
                ..SignInLocation::default()
            }),
            ..RiskDetection::default()
        };
        let v = to_identity_risk_event(&d);
        assert_eq!(v["@odata.type"], "#microsoft.graph.malwareRiskEvent");
        assert_eq!(v["riskType"], "MalwareRiskEvent");
        assert_eq!(v["riskEventStatus"], "closedMfaAuto");
        assert_eq!(v["riskLevel"], Value::Null);
        assert_eq!(v["closedDateTime"], "2026-10-02T00:00:00Z");
        assert_eq!(v["createdDateTime"], "2026-10-01T00:00:00Z");
        assert_eq!(v["location"], "Oslo, NO");
        let plain = RiskDetection {
            risk_event_type: Some("passwordSpray".into()),
            risk_state: Some(RiskState::AtRisk),
            ..RiskDetection::default()
        };
        let v = to_identity_risk_event(&plain);
        assert_eq!(v["@odata.type"], "#microsoft.graph.identityRiskEvent");
        assert_eq!(v["riskEventStatus"], "active");
        assert!(v.get("ipAddress").is_none());
        // Every key is queryable.
        for k in v.as_object().unwrap().keys() {
            assert!(
                k.starts_with('@') || IDENTITY_RISK_EVENT.property(k).is_some(),
                "{k}"
            );
        }
    }
}
