//! Beta's deprecated `identityRiskEvent` collections, served from risk detections.
//!
//! Graph stopped returning data on these paths in 2020 (spec §5), but scripts written against
//! them still exist. Vigil answers them from the federated risk detections, mapped to the
//! legacy shape. Every collection is one row of [`COLLECTIONS`], served by one pair of
//! handlers (`routes::identity::list_identity_risk_events` / `get_identity_risk_event`):
//!
//! | Path (under `/beta`) | Holds the detections whose legacy subtype is |
//! |---|---|
//! | `/identityRiskEvents` (list, get) | any (the polymorphic base collection) |
//! | `/leakedCredentialsRiskEvents` (list, get) | `leakedCredentialsRiskEvent` |
//! | `/anonymousIpRiskEvents` (list, get) | `anonymousIpRiskEvent` |
//! | `/malwareRiskEvents` (list, get) | `malwareRiskEvent` |
//! | `/suspiciousIpRiskEvents` (list, get) | `suspiciousIpRiskEvent` |
//! | `/unfamiliarLocationRiskEvents` (list, get) | `unfamiliarLocationRiskEvent` |
//! | `/impossibleTravelRiskEvents` (list, get) | `impossibleTravelRiskEvent` |
//! | `/locatedRiskEvents/{id}` (get only, as Graph) | any located subtype (the five above but leakedCredentials) |
//!
//! The subtype of a detection comes from its `riskEventType` ([`SUBTYPES`], compared
//! case-insensitively):
//!
//! | riskEventType | subtype (`@odata.type`) |
//! |---|---|
//! | `leakedCredentials` | `leakedCredentialsRiskEvent` |
//! | `anonymizedIPAddress` | `anonymousIpRiskEvent` |
//! | `malwareInfectedIPAddress` | `malwareRiskEvent` |
//! | `suspiciousIPAddress`, `maliciousIPAddress` | `suspiciousIpRiskEvent` |
//! | `unfamiliarFeatures` | `unfamiliarLocationRiskEvent` |
//! | `impossibleTravel`, `unlikelyTravel`, `mcasImpossibleTravel` | `impossibleTravelRiskEvent` |
//! | anything else | `identityRiskEvent` (listed only by `/identityRiskEvents`) |
//!
//! Properties, from the riskDetection:
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
//! | `ipAddress`, `location` (located subtypes) | `ipAddress`; `location` as `"City, State, CC"` |
//! | `malwareName`, `deviceInformation` (malware) | `additionalInfo` keys `malwareName`, `deviceInformation` |
//! | `userAgent`, `deviceInformation` (impossibleTravel) | `additionalInfo` keys `userAgent`, `deviceInformation` |
//! | `previousLocation` (impossibleTravel) | `additionalInfo` `relatedLocation` (`"City, State, CC"`) |
//! | `previousSigninDateTime` (impossibleTravel) | `additionalInfo` `relatedEventTimeInUtc` |
//! | `previousIPAddress` (impossibleTravel) | `additionalInfo` `relatedIpAddress` when the source sends it |
//! | `isAtypicalLocation` (impossibleTravel) | `additionalInfo` `isAtypicalLocation` when the source sends it |
//!
//! A property of a subtype is always present on its items, `null` when the detection does not
//! say (Identity Protection's `additionalInfo` varies by detection). `$filter`, `$orderby`,
//! `$select` and `$top` apply to the legacy shape, with the properties of the collection's type
//! (the base collection takes every subtype's); enum-like values compare as strings.

use serde_json::{Map, Value, json};
use vigil_model::query::{PropType, Property, Schema};
use vigil_model::{RiskDetail, RiskDetection, RiskLevel, RiskState, Timestamp};

const fn prop(name: &'static str, ty: PropType) -> Property {
    Property {
        name,
        alias: None,
        ty,
        collection: false,
    }
}

/// A queryable legacy type: the base properties plus the given ones.
macro_rules! legacy_schema {
    ($(#[$meta:meta])* $name:ident, $ty:literal $(, $extra:expr)* $(,)?) => {
        $(#[$meta])*
        pub static $name: Schema = Schema {
            type_name: $ty,
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
                $($extra,)*
            ],
        };
    };
}

legacy_schema!(
    /// The polymorphic base collection: every subtype's properties.
    IDENTITY_RISK_EVENT,
    "microsoft.graph.identityRiskEvent",
    prop("ipAddress", PropType::String),
    prop("location", PropType::String),
    prop("deviceInformation", PropType::String),
    prop("malwareName", PropType::String),
    prop("isAtypicalLocation", PropType::Boolean),
    prop("previousIPAddress", PropType::String),
    prop("previousLocation", PropType::String),
    prop("previousSigninDateTime", PropType::DateTimeOffset),
    prop("userAgent", PropType::String),
);
legacy_schema!(
    /// `leakedCredentialsRiskEvent`: the base properties only.
    LEAKED_CREDENTIALS_RISK_EVENT,
    "microsoft.graph.leakedCredentialsRiskEvent"
);
legacy_schema!(
    /// `locatedRiskEvent` and its subtypes without properties of their own.
    LOCATED_RISK_EVENT,
    "microsoft.graph.locatedRiskEvent",
    prop("ipAddress", PropType::String),
    prop("location", PropType::String),
);
legacy_schema!(
    /// `malwareRiskEvent`.
    MALWARE_RISK_EVENT,
    "microsoft.graph.malwareRiskEvent",
    prop("ipAddress", PropType::String),
    prop("location", PropType::String),
    prop("deviceInformation", PropType::String),
    prop("malwareName", PropType::String),
);
legacy_schema!(
    /// `impossibleTravelRiskEvent`.
    IMPOSSIBLE_TRAVEL_RISK_EVENT,
    "microsoft.graph.impossibleTravelRiskEvent",
    prop("ipAddress", PropType::String),
    prop("location", PropType::String),
    prop("deviceInformation", PropType::String),
    prop("isAtypicalLocation", PropType::Boolean),
    prop("previousIPAddress", PropType::String),
    prop("previousLocation", PropType::String),
    prop("previousSigninDateTime", PropType::DateTimeOffset),
    prop("userAgent", PropType::String),
);

/// Which properties a subtype adds to the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The base properties only.
    Base,
    /// `ipAddress`, `location`.
    Located,
    /// Located + `deviceInformation`, `malwareName`.
    Malware,
    /// Located + `deviceInformation`, `isAtypicalLocation`, `previousIPAddress`,
    /// `previousLocation`, `previousSigninDateTime`, `userAgent`.
    ImpossibleTravel,
}

impl Shape {
    fn located(self) -> bool {
        self != Shape::Base
    }
}

/// A legacy subtype and the risk event types it stands for.
#[derive(Debug)]
pub struct Subtype {
    /// The entity type name (`malwareRiskEvent`).
    pub type_name: &'static str,
    /// The `riskEventType` values of its detections.
    pub risk_event_types: &'static [&'static str],
    pub shape: Shape,
}

/// The legacy subtypes (the mapping table of the module docs).
pub static SUBTYPES: [Subtype; 6] = [
    Subtype {
        type_name: "leakedCredentialsRiskEvent",
        risk_event_types: &["leakedCredentials"],
        shape: Shape::Base,
    },
    Subtype {
        type_name: "anonymousIpRiskEvent",
        risk_event_types: &["anonymizedIPAddress"],
        shape: Shape::Located,
    },
    Subtype {
        type_name: "malwareRiskEvent",
        risk_event_types: &["malwareInfectedIPAddress"],
        shape: Shape::Malware,
    },
    Subtype {
        type_name: "suspiciousIpRiskEvent",
        risk_event_types: &["suspiciousIPAddress", "maliciousIPAddress"],
        shape: Shape::Located,
    },
    Subtype {
        type_name: "unfamiliarLocationRiskEvent",
        risk_event_types: &["unfamiliarFeatures"],
        shape: Shape::Located,
    },
    Subtype {
        type_name: "impossibleTravelRiskEvent",
        risk_event_types: &["impossibleTravel", "unlikelyTravel", "mcasImpossibleTravel"],
        shape: Shape::ImpossibleTravel,
    },
];

/// The subtype of a detection; `None` for the plain `identityRiskEvent`.
pub fn subtype_of(risk_event_type: Option<&str>) -> Option<&'static Subtype> {
    let t = risk_event_type?.trim();
    SUBTYPES
        .iter()
        .find(|s| s.risk_event_types.iter().any(|r| r.eq_ignore_ascii_case(t)))
}

/// Which detections a collection holds.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Every detection (`identityRiskEvents`).
    All,
    /// Detections of a located subtype (`locatedRiskEvents`).
    Located,
    /// Detections of one subtype.
    Only(&'static Subtype),
}

/// One legacy collection under `/beta`.
#[derive(Debug)]
pub struct Collection {
    /// The path segment (`malwareRiskEvents`).
    pub segment: &'static str,
    /// The entity type its items are declared as (`malwareRiskEvent`).
    pub type_name: &'static str,
    pub scope: Scope,
    /// The queryable properties of its type.
    pub schema: &'static Schema,
    /// Whether it can be listed (`locatedRiskEvents` is only addressed by id, as in Graph).
    pub listable: bool,
}

impl Collection {
    /// Whether the detection belongs to this collection.
    pub fn holds(&self, d: &RiskDetection) -> bool {
        let sub = subtype_of(d.risk_event_type.as_deref());
        match self.scope {
            Scope::All => true,
            Scope::Located => sub.is_some_and(|s| s.shape.located()),
            Scope::Only(want) => sub.is_some_and(|s| std::ptr::eq(s, want)),
        }
    }
}

const fn only(segment: &'static str, sub: &'static Subtype, schema: &'static Schema) -> Collection {
    Collection {
        segment,
        type_name: sub.type_name,
        scope: Scope::Only(sub),
        schema,
        listable: true,
    }
}

/// Every legacy collection (the path table of the module docs).
pub static COLLECTIONS: [Collection; 8] = [
    Collection {
        segment: "identityRiskEvents",
        type_name: "identityRiskEvent",
        scope: Scope::All,
        schema: &IDENTITY_RISK_EVENT,
        listable: true,
    },
    only(
        "leakedCredentialsRiskEvents",
        &SUBTYPES[0],
        &LEAKED_CREDENTIALS_RISK_EVENT,
    ),
    only("anonymousIpRiskEvents", &SUBTYPES[1], &LOCATED_RISK_EVENT),
    only("malwareRiskEvents", &SUBTYPES[2], &MALWARE_RISK_EVENT),
    only("suspiciousIpRiskEvents", &SUBTYPES[3], &LOCATED_RISK_EVENT),
    only(
        "unfamiliarLocationRiskEvents",
        &SUBTYPES[4],
        &LOCATED_RISK_EVENT,
    ),
    only(
        "impossibleTravelRiskEvents",
        &SUBTYPES[5],
        &IMPOSSIBLE_TRAVEL_RISK_EVENT,
    ),
    Collection {
        segment: "locatedRiskEvents",
        type_name: "locatedRiskEvent",
        scope: Scope::Located,
        schema: &LOCATED_RISK_EVENT,
        listable: false,
    },
];

/// The collection a resource path (`malwareRiskEvents`, `malwareRiskEvents/{id}`) names.
pub fn collection(resource: &str) -> Option<&'static Collection> {
    let segment = resource.trim_start_matches('/').split('/').next()?;
    COLLECTIONS
        .iter()
        .find(|c| c.segment.eq_ignore_ascii_case(segment))
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

/// `additionalInfo` (a JSON string of `[{"Key": .., "Value": ..}]`) as key → value.
fn additional_info(d: &RiskDetection) -> Map<String, Value> {
    let parsed: Vec<Value> = d
        .additional_info
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    parsed
        .into_iter()
        .filter_map(|kv| {
            let key = kv.get("Key")?.as_str()?.to_ascii_lowercase();
            Some((key, kv.get("Value").cloned().unwrap_or(Value::Null)))
        })
        .collect()
}

/// `"City, State, CC"` of the parts present.
fn place(parts: [Option<&str>; 3]) -> Option<String> {
    let s = parts
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    (!s.is_empty()).then_some(s)
}

/// A location from `additionalInfo`: a string as is, an object (`clientCity`, `clientState`,
/// `clientCountryOrRegion`, or the same without `client`) as `"City, State, CC"`.
fn info_place(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => json!(s),
        Some(Value::Object(m)) => {
            let get = |a: &str, b: &str| m.get(a).or_else(|| m.get(b)).and_then(Value::as_str);
            json!(place([
                get("clientCity", "city"),
                get("clientState", "state"),
                get("clientCountryOrRegion", "countryOrRegion"),
            ]))
        }
        _ => Value::Null,
    }
}

fn info_string(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => json!(s),
        Some(Value::Null) | None => Value::Null,
        Some(other) => json!(other.to_string()),
    }
}

/// A detection in the legacy shape of its subtype (`identityRiskEvent` when it has none).
pub fn to_identity_risk_event(d: &RiskDetection) -> Value {
    let sub = subtype_of(d.risk_event_type.as_deref());
    let ty = sub.map_or("identityRiskEvent", |s| s.type_name);
    let shape = sub.map_or(Shape::Base, |s| s.shape);
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
    if shape.located() {
        m.insert("ipAddress".into(), json!(d.ip_address));
        let location = d.location.as_ref().and_then(|l| {
            place([
                l.city.as_deref(),
                l.state.as_deref(),
                l.country_or_region.as_deref(),
            ])
        });
        m.insert("location".into(), json!(location));
    }
    if matches!(shape, Shape::Malware | Shape::ImpossibleTravel) {
        let info = additional_info(d);
        m.insert(
            "deviceInformation".into(),
            info_string(info.get("deviceinformation")),
        );
        if shape == Shape::Malware {
            m.insert("malwareName".into(), info_string(info.get("malwarename")));
        } else {
            m.insert(
                "isAtypicalLocation".into(),
                info.get("isatypicallocation")
                    .and_then(Value::as_bool)
                    .map_or(Value::Null, Value::Bool),
            );
            m.insert(
                "previousIPAddress".into(),
                info_string(info.get("relatedipaddress")),
            );
            m.insert(
                "previousLocation".into(),
                info_place(info.get("relatedlocation")),
            );
            let previous = info
                .get("relatedeventtimeinutc")
                .and_then(Value::as_str)
                .and_then(|s| Timestamp::parse(s).ok());
            m.insert("previousSigninDateTime".into(), json!(previous));
            m.insert("userAgent".into(), info_string(info.get("useragent")));
        }
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

    #[test]
    fn subtypes_carry_their_own_properties_from_additional_info() {
        let info = json!([
            {"Key": "userAgent", "Value": "Mozilla/5.0"},
            {"Key": "relatedLocation", "Value": {"clientCity": "Bergen", "clientState": "Vestland", "clientCountryOrRegion": "NO"}},
            {"Key": "relatedEventTimeInUtc", "Value": "2026-10-01T00:00:00.5Z"},
            {"Key": "malwareName", "Value": "Qakbot"}
        ])
        .to_string();
        let d = |t: &str| RiskDetection {
            id: "d".into(),
            risk_event_type: Some(t.into()),
            additional_info: Some(info.clone()),
            ..RiskDetection::default()
        };
        let travel = to_identity_risk_event(&d("unlikelyTravel"));
        assert_eq!(
            travel["@odata.type"],
            "#microsoft.graph.impossibleTravelRiskEvent"
        );
        assert_eq!(travel["previousLocation"], "Bergen, Vestland, NO");
        assert_eq!(travel["previousSigninDateTime"], "2026-10-01T00:00:00.5Z");
        assert_eq!(travel["userAgent"], "Mozilla/5.0");
        for k in [
            "isAtypicalLocation",
            "previousIPAddress",
            "deviceInformation",
        ] {
            assert_eq!(travel[k], Value::Null, "{k} present, unknown");
        }
        assert!(travel.get("malwareName").is_none());
        let malware = to_identity_risk_event(&d("malwareInfectedIPAddress"));
        assert_eq!(malware["malwareName"], "Qakbot");
        assert!(
            malware
                .as_object()
                .unwrap()
                .contains_key("deviceInformation")
        );
        assert!(malware.get("userAgent").is_none());
        let leaked = to_identity_risk_event(&d("leakedCredentials"));
        assert!(leaked.get("ipAddress").is_none());
        // Each item's keys are queryable in its own collection.
        for t in [
            "unlikelyTravel",
            "malwareInfectedIPAddress",
            "leakedCredentials",
            "anonymizedIPAddress",
        ] {
            let v = to_identity_risk_event(&d(t));
            let c = COLLECTIONS
                .iter()
                .find(|c| c.listable && !matches!(c.scope, Scope::All) && c.holds(&d(t)))
                .unwrap();
            for k in v.as_object().unwrap().keys() {
                assert!(
                    k.starts_with('@') || c.schema.property(k).is_some(),
                    "{t}: {k}"
                );
            }
        }
    }

    #[test]
    fn collections_hold_their_subtype_only() {
        let d = |t: &str| RiskDetection {
            risk_event_type: Some(t.into()),
            ..RiskDetection::default()
        };
        let by = |seg: &str| collection(seg).unwrap();
        assert!(by("malwareRiskEvents").holds(&d("malwareInfectedIPAddress")));
        assert!(!by("malwareRiskEvents").holds(&d("leakedCredentials")));
        assert!(by("suspiciousIpRiskEvents/abc").holds(&d("maliciousIPAddress")));
        assert!(by("locatedRiskEvents").holds(&d("unfamiliarFeatures")));
        assert!(!by("locatedRiskEvents").holds(&d("leakedCredentials")));
        assert!(!by("locatedRiskEvents").holds(&d("passwordSpray")));
        assert!(by("identityRiskEvents").holds(&d("passwordSpray")));
        assert!(collection("riskDetections").is_none());
        // Every subtype has exactly one collection of its own.
        for s in &SUBTYPES {
            let n = COLLECTIONS
                .iter()
                .filter(|c| matches!(c.scope, Scope::Only(x) if std::ptr::eq(x, s)))
                .count();
            assert_eq!(n, 1, "{}", s.type_name);
        }
    }
}
