//! Static OData schemas: the property names and types the query engine needs to resolve names
//! case-insensitively, reject unknown ones and compare values with the right semantics.
//!
//! The tables mirror the serde structs in `alert.rs` / `identity.rs` (camelCase JSON names); a
//! unit test checks them against a serialized default value so the two cannot drift apart
//! silently. Enum types point at the [`GraphEnum`] implementations, so member lists are never
//! duplicated here.

use crate::enums::*;

/// An enumeration type, backed by a [`GraphEnum`].
pub struct EnumType {
    /// Qualified OData name, e.g. `microsoft.graph.alertSeverity`.
    pub name: &'static str,
    lookup: fn(&str) -> Option<(u16, &'static str)>,
    members: fn() -> Vec<&'static str>,
}

impl EnumType {
    /// Case-insensitive member lookup: the member's position in CSDL order and its wire string.
    pub fn lookup(&self, s: &str) -> Option<(u16, &'static str)> {
        (self.lookup)(s)
    }

    /// Every member's wire string, in CSDL order.
    pub fn members(&self) -> Vec<&'static str> {
        (self.members)()
    }

    /// The name without the namespace (`alertSeverity`).
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }
}

impl std::fmt::Debug for EnumType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EnumType({})", self.name)
    }
}

/// Only the name: the full property tree would drown every `Debug` print of a query.
impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Schema({})", self.type_name)
    }
}

fn enum_lookup<E: GraphEnum>(s: &str) -> Option<(u16, &'static str)> {
    E::ALL
        .iter()
        .enumerate()
        .find(|(_, m)| m.as_str().eq_ignore_ascii_case(s))
        .map(|(i, m)| (u16::try_from(i).unwrap_or(u16::MAX), m.as_str()))
}

fn enum_members<E: GraphEnum>() -> Vec<&'static str> {
    E::ALL.iter().map(|m| m.as_str()).collect()
}

macro_rules! enum_type {
    ($static:ident, $ty:ty, $name:literal) => {
        static $static: EnumType = EnumType {
            name: $name,
            lookup: enum_lookup::<$ty>,
            members: enum_members::<$ty>,
        };
    };
}

enum_type!(
    ALERT_SEVERITY,
    AlertSeverity,
    "microsoft.graph.alertSeverity"
);
enum_type!(ALERT_STATUS, AlertStatus, "microsoft.graph.alertStatus");
enum_type!(
    ALERT_FEEDBACK,
    AlertFeedback,
    "microsoft.graph.alertFeedback"
);
enum_type!(
    CONNECTION_DIRECTION,
    ConnectionDirection,
    "microsoft.graph.connectionDirection"
);
enum_type!(
    CONNECTION_STATUS,
    ConnectionStatus,
    "microsoft.graph.connectionStatus"
);
enum_type!(EMAIL_ROLE, EmailRole, "microsoft.graph.emailRole");
enum_type!(FILE_HASH_TYPE, FileHashType, "microsoft.graph.fileHashType");
enum_type!(LOGON_TYPE, LogonType, "microsoft.graph.logonType");
enum_type!(
    PROCESS_INTEGRITY_LEVEL,
    ProcessIntegrityLevel,
    "microsoft.graph.processIntegrityLevel"
);
enum_type!(REGISTRY_HIVE, RegistryHive, "microsoft.graph.registryHive");
enum_type!(
    REGISTRY_OPERATION,
    RegistryOperation,
    "microsoft.graph.registryOperation"
);
enum_type!(
    REGISTRY_VALUE_TYPE,
    RegistryValueType,
    "microsoft.graph.registryValueType"
);
enum_type!(
    SECURITY_NETWORK_PROTOCOL,
    SecurityNetworkProtocol,
    "microsoft.graph.securityNetworkProtocol"
);
enum_type!(
    SECURITY_RESOURCE_TYPE,
    SecurityResourceType,
    "microsoft.graph.securityResourceType"
);
enum_type!(
    USER_ACCOUNT_SECURITY_TYPE,
    UserAccountSecurityType,
    "microsoft.graph.userAccountSecurityType"
);
enum_type!(RISK_LEVEL, RiskLevel, "microsoft.graph.riskLevel");
enum_type!(RISK_STATE, RiskState, "microsoft.graph.riskState");
enum_type!(RISK_DETAIL, RiskDetail, "microsoft.graph.riskDetail");
enum_type!(
    RISK_DETECTION_TIMING_TYPE,
    RiskDetectionTimingType,
    "microsoft.graph.riskDetectionTimingType"
);
enum_type!(ACTIVITY_TYPE, ActivityType, "microsoft.graph.activityType");
enum_type!(
    TOKEN_ISSUER_TYPE,
    TokenIssuerType,
    "microsoft.graph.tokenIssuerType"
);

/// The type of a property (of one element, for collections).
#[derive(Debug, Clone, Copy)]
pub enum PropType {
    /// `Edm.String`: compared exactly (ordinal, case-sensitive).
    String,
    /// `Edm.Boolean`.
    Boolean,
    /// `Edm.Int32`.
    Int32,
    /// `Edm.Double`.
    Double,
    /// `Edm.DateTimeOffset`: compared as instants.
    DateTimeOffset,
    /// An enumeration: compared case-insensitively by wire string, ordered by CSDL member order.
    Enum(&'static EnumType),
    /// A complex type: navigate into it with `/`.
    Complex(&'static Schema),
}

impl PropType {
    /// The OData type name used in error messages (`Edm.String`, `microsoft.graph.fileHash`).
    pub fn odata_name(&self) -> &'static str {
        match self {
            PropType::String => "Edm.String",
            PropType::Boolean => "Edm.Boolean",
            PropType::Int32 => "Edm.Int32",
            PropType::Double => "Edm.Double",
            PropType::DateTimeOffset => "Edm.DateTimeOffset",
            PropType::Enum(e) => e.name,
            PropType::Complex(s) => s.type_name,
        }
    }
}

/// One declared property.
#[derive(Debug)]
pub struct Property {
    /// The canonical camelCase JSON name.
    pub name: &'static str,
    /// Another accepted spelling (the docs' `isAzureAadJoined`), resolved to `name`.
    pub alias: Option<&'static str>,
    /// The type of the value, or of each element for a collection.
    pub ty: PropType,
    /// Whether this is a `Collection(...)`.
    pub collection: bool,
}

/// An entity or complex type: a qualified name and its declared properties.
pub struct Schema {
    /// Qualified OData name, e.g. `microsoft.graph.alert`.
    pub type_name: &'static str,
    /// Declared properties, in wire order.
    pub properties: &'static [Property],
}

impl Schema {
    /// Finds a property by name, ASCII case-insensitively (Graph accepts `Severity`).
    pub fn property(&self, name: &str) -> Option<&'static Property> {
        // `self` may not be 'static, but every Schema we hand out is; the properties slice is.
        self.properties.iter().find(|p| {
            p.name.eq_ignore_ascii_case(name)
                || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
        })
    }
}

const fn p(name: &'static str, ty: PropType) -> Property {
    Property {
        name,
        alias: None,
        ty,
        collection: false,
    }
}

const fn c(name: &'static str, ty: PropType) -> Property {
    Property {
        name,
        alias: None,
        ty,
        collection: true,
    }
}

const S: PropType = PropType::String;
const B: PropType = PropType::Boolean;
const I: PropType = PropType::Int32;
const D: PropType = PropType::Double;
const T: PropType = PropType::DateTimeOffset;

macro_rules! e {
    ($t:ident) => {
        PropType::Enum(&$t)
    };
}

macro_rules! x {
    ($t:ident) => {
        PropType::Complex(&$t)
    };
}

static SECURITY_VENDOR_INFORMATION: Schema = Schema {
    type_name: "microsoft.graph.securityVendorInformation",
    properties: &[
        p("provider", S),
        p("providerVersion", S),
        p("subProvider", S),
        p("vendor", S),
    ],
};

static USER_SECURITY_STATE: Schema = Schema {
    type_name: "microsoft.graph.userSecurityState",
    properties: &[
        p("aadUserId", S),
        p("accountName", S),
        p("domainName", S),
        p("emailRole", e!(EMAIL_ROLE)),
        p("isVpn", B),
        p("logonDateTime", T),
        p("logonId", S),
        p("logonIp", S),
        p("logonLocation", S),
        p("logonType", e!(LOGON_TYPE)),
        p("onPremisesSecurityIdentifier", S),
        p("riskScore", S),
        p("userAccountType", e!(USER_ACCOUNT_SECURITY_TYPE)),
        p("userPrincipalName", S),
    ],
};

static HOST_SECURITY_STATE: Schema = Schema {
    type_name: "microsoft.graph.hostSecurityState",
    properties: &[
        p("fqdn", S),
        Property {
            name: "isAzureAdJoined",
            alias: Some("isAzureAadJoined"),
            ty: B,
            collection: false,
        },
        Property {
            name: "isAzureAdRegistered",
            alias: Some("isAzureAadRegistered"),
            ty: B,
            collection: false,
        },
        p("isHybridAzureDomainJoined", B),
        p("netBiosName", S),
        p("os", S),
        p("privateIpAddress", S),
        p("publicIpAddress", S),
        p("riskScore", S),
    ],
};

static FILE_HASH: Schema = Schema {
    type_name: "microsoft.graph.fileHash",
    properties: &[p("hashType", e!(FILE_HASH_TYPE)), p("hashValue", S)],
};

static FILE_SECURITY_STATE: Schema = Schema {
    type_name: "microsoft.graph.fileSecurityState",
    properties: &[
        p("fileHash", x!(FILE_HASH)),
        p("name", S),
        p("path", S),
        p("riskScore", S),
    ],
};

static PROCESS: Schema = Schema {
    type_name: "microsoft.graph.process",
    properties: &[
        p("accountName", S),
        p("commandLine", S),
        p("createdDateTime", T),
        p("fileHash", x!(FILE_HASH)),
        p("integrityLevel", e!(PROCESS_INTEGRITY_LEVEL)),
        p("isElevated", B),
        p("name", S),
        p("parentProcessCreatedDateTime", T),
        p("parentProcessId", I),
        p("parentProcessName", S),
        p("path", S),
        p("processId", I),
    ],
};

static NETWORK_CONNECTION: Schema = Schema {
    type_name: "microsoft.graph.networkConnection",
    properties: &[
        p("applicationName", S),
        p("destinationAddress", S),
        p("destinationDomain", S),
        p("destinationLocation", S),
        p("destinationPort", S),
        p("destinationUrl", S),
        p("direction", e!(CONNECTION_DIRECTION)),
        p("domainRegisteredDateTime", T),
        p("localDnsName", S),
        p("natDestinationAddress", S),
        p("natDestinationPort", S),
        p("natSourceAddress", S),
        p("natSourcePort", S),
        p("protocol", e!(SECURITY_NETWORK_PROTOCOL)),
        p("riskScore", S),
        p("sourceAddress", S),
        p("sourceLocation", S),
        p("sourcePort", S),
        p("status", e!(CONNECTION_STATUS)),
        p("urlParameters", S),
    ],
};

static MALWARE_STATE: Schema = Schema {
    type_name: "microsoft.graph.malwareState",
    properties: &[
        p("category", S),
        p("family", S),
        p("name", S),
        p("severity", S),
        p("wasRunning", B),
    ],
};

static CLOUD_APP_SECURITY_STATE: Schema = Schema {
    type_name: "microsoft.graph.cloudAppSecurityState",
    properties: &[
        p("destinationServiceIp", S),
        p("destinationServiceName", S),
        p("riskScore", S),
    ],
};

static REGISTRY_KEY_STATE: Schema = Schema {
    type_name: "microsoft.graph.registryKeyState",
    properties: &[
        p("hive", e!(REGISTRY_HIVE)),
        p("key", S),
        p("oldKey", S),
        p("oldValueData", S),
        p("oldValueName", S),
        p("operation", e!(REGISTRY_OPERATION)),
        p("processId", I),
        p("valueData", S),
        p("valueName", S),
        p("valueType", e!(REGISTRY_VALUE_TYPE)),
    ],
};

static VULNERABILITY_STATE: Schema = Schema {
    type_name: "microsoft.graph.vulnerabilityState",
    properties: &[p("cve", S), p("severity", S), p("wasRunning", B)],
};

static ALERT_TRIGGER: Schema = Schema {
    type_name: "microsoft.graph.alertTrigger",
    properties: &[p("name", S), p("type", S), p("value", S)],
};

static SECURITY_RESOURCE: Schema = Schema {
    type_name: "microsoft.graph.securityResource",
    properties: &[
        p("resource", S),
        p("resourceType", e!(SECURITY_RESOURCE_TYPE)),
    ],
};

static ALERT_HISTORY_STATE: Schema = Schema {
    type_name: "microsoft.graph.alertHistoryState",
    properties: &[
        p("appId", S),
        p("assignedTo", S),
        c("comments", S),
        p("feedback", e!(ALERT_FEEDBACK)),
        p("status", e!(ALERT_STATUS)),
        p("updatedDateTime", T),
        p("user", S),
    ],
};

static ALERT_DETECTION: Schema = Schema {
    type_name: "microsoft.graph.alertDetection",
    properties: &[p("detectionType", S), p("method", S), p("name", S)],
};

static INVESTIGATION_SECURITY_STATE: Schema = Schema {
    type_name: "microsoft.graph.investigationSecurityState",
    properties: &[p("name", S), p("status", S)],
};

static MESSAGE_SECURITY_STATE: Schema = Schema {
    type_name: "microsoft.graph.messageSecurityState",
    properties: &[
        p("connectingIP", S),
        p("deliveryAction", S),
        p("deliveryLocation", S),
        p("directionality", S),
        p("internetMessageId", S),
        p("messageFingerprint", S),
        p("messageReceivedDateTime", T),
        p("messageSubject", S),
        p("networkMessageId", S),
    ],
};

static URI_CLICK_SECURITY_STATE: Schema = Schema {
    type_name: "microsoft.graph.uriClickSecurityState",
    properties: &[
        p("clickAction", S),
        p("clickDateTime", T),
        p("id", S),
        p("sourceId", S),
        p("uriDomain", S),
        p("verdict", S),
    ],
};

/// `microsoft.graph.alert`: every declared property of [`crate::Alert`] and its nested types.
pub static ALERT: Schema = Schema {
    type_name: "microsoft.graph.alert",
    properties: &[
        p("id", S),
        p("activityGroupName", S),
        c("alertDetections", x!(ALERT_DETECTION)),
        p("assignedTo", S),
        p("azureSubscriptionId", S),
        p("azureTenantId", S),
        p("category", S),
        p("closedDateTime", T),
        c("cloudAppStates", x!(CLOUD_APP_SECURITY_STATE)),
        c("comments", S),
        p("confidence", I),
        p("createdDateTime", T),
        p("description", S),
        c("detectionIds", S),
        p("eventDateTime", T),
        p("feedback", e!(ALERT_FEEDBACK)),
        c("fileStates", x!(FILE_SECURITY_STATE)),
        c("historyStates", x!(ALERT_HISTORY_STATE)),
        c("hostStates", x!(HOST_SECURITY_STATE)),
        c("incidentIds", S),
        c(
            "investigationSecurityStates",
            x!(INVESTIGATION_SECURITY_STATE),
        ),
        p("lastEventDateTime", T),
        p("lastModifiedDateTime", T),
        c("malwareStates", x!(MALWARE_STATE)),
        c("messageSecurityStates", x!(MESSAGE_SECURITY_STATE)),
        c("networkConnections", x!(NETWORK_CONNECTION)),
        c("processes", x!(PROCESS)),
        c("recommendedActions", S),
        c("registryKeyStates", x!(REGISTRY_KEY_STATE)),
        c("securityResources", x!(SECURITY_RESOURCE)),
        p("severity", e!(ALERT_SEVERITY)),
        c("sourceMaterials", S),
        p("status", e!(ALERT_STATUS)),
        c("tags", S),
        p("title", S),
        c("triggers", x!(ALERT_TRIGGER)),
        c("uriClickSecurityStates", x!(URI_CLICK_SECURITY_STATE)),
        c("userStates", x!(USER_SECURITY_STATE)),
        p("vendorInformation", x!(SECURITY_VENDOR_INFORMATION)),
        c("vulnerabilityStates", x!(VULNERABILITY_STATE)),
    ],
};

/// `microsoft.graph.riskyUser` (the `history` navigation property is not queryable here).
pub static RISKY_USER: Schema = Schema {
    type_name: "microsoft.graph.riskyUser",
    properties: &[
        p("id", S),
        p("isDeleted", B),
        p("isProcessing", B),
        p("riskDetail", e!(RISK_DETAIL)),
        p("riskLastUpdatedDateTime", T),
        p("riskLevel", e!(RISK_LEVEL)),
        p("riskState", e!(RISK_STATE)),
        p("userDisplayName", S),
        p("userPrincipalName", S),
    ],
};

static RISK_USER_ACTIVITY: Schema = Schema {
    type_name: "microsoft.graph.riskUserActivity",
    properties: &[p("detail", e!(RISK_DETAIL)), c("riskEventTypes", S)],
};

/// `microsoft.graph.riskyUserHistoryItem` (a `riskyUser` plus `activity`, `initiatedBy`, `userId`).
pub static RISKY_USER_HISTORY_ITEM: Schema = Schema {
    type_name: "microsoft.graph.riskyUserHistoryItem",
    properties: &[
        p("id", S),
        p("isDeleted", B),
        p("isProcessing", B),
        p("riskDetail", e!(RISK_DETAIL)),
        p("riskLastUpdatedDateTime", T),
        p("riskLevel", e!(RISK_LEVEL)),
        p("riskState", e!(RISK_STATE)),
        p("userDisplayName", S),
        p("userPrincipalName", S),
        p("activity", x!(RISK_USER_ACTIVITY)),
        p("initiatedBy", S),
        p("userId", S),
    ],
};

static GEO_COORDINATES: Schema = Schema {
    type_name: "microsoft.graph.geoCoordinates",
    properties: &[p("altitude", D), p("latitude", D), p("longitude", D)],
};

static SIGN_IN_LOCATION: Schema = Schema {
    type_name: "microsoft.graph.signInLocation",
    properties: &[
        p("city", S),
        p("countryOrRegion", S),
        p("geoCoordinates", x!(GEO_COORDINATES)),
        p("state", S),
    ],
};

/// `microsoft.graph.riskDetection`.
pub static RISK_DETECTION: Schema = Schema {
    type_name: "microsoft.graph.riskDetection",
    properties: &[
        p("id", S),
        p("activity", e!(ACTIVITY_TYPE)),
        p("activityDateTime", T),
        p("additionalInfo", S),
        p("correlationId", S),
        p("detectedDateTime", T),
        p("detectionTimingType", e!(RISK_DETECTION_TIMING_TYPE)),
        p("ipAddress", S),
        p("lastUpdatedDateTime", T),
        p("location", x!(SIGN_IN_LOCATION)),
        p("requestId", S),
        p("riskDetail", e!(RISK_DETAIL)),
        p("riskEventType", S),
        p("riskLevel", e!(RISK_LEVEL)),
        p("riskState", e!(RISK_STATE)),
        p("source", S),
        p("tokenIssuerType", e!(TOKEN_ISSUER_TYPE)),
        p("userDisplayName", S),
        p("userId", S),
        p("userPrincipalName", S),
    ],
};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{Alert, RiskDetection, RiskyUser, RiskyUserHistoryItem};
    use serde_json::Value;

    /// Every key the serializer writes is declared, and every declared property is written.
    fn assert_matches_serde(schema: &Schema, value: &Value) {
        let obj = value.as_object().expect("object");
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let names: Vec<&str> = schema.properties.iter().map(|p| p.name).collect();
        assert_eq!(keys, names, "{}", schema.type_name);
    }

    #[test]
    fn top_level_schemas_match_the_serde_structs() {
        assert_matches_serde(&ALERT, &serde_json::to_value(Alert::default()).unwrap());
        assert_matches_serde(
            &RISKY_USER,
            &serde_json::to_value(RiskyUser::default()).unwrap(),
        );
        assert_matches_serde(
            &RISKY_USER_HISTORY_ITEM,
            &serde_json::to_value(RiskyUserHistoryItem::default()).unwrap(),
        );
        assert_matches_serde(
            &RISK_DETECTION,
            &serde_json::to_value(RiskDetection::default()).unwrap(),
        );
        assert_eq!(ALERT.properties.len(), Alert::PROPERTY_NAMES.len());
    }

    #[test]
    fn nested_schemas_match_the_serde_structs() {
        use crate::alert::*;
        let pairs: Vec<(&Schema, Value)> = vec![
            (
                &SECURITY_VENDOR_INFORMATION,
                serde_json::to_value(SecurityVendorInformation::default()).unwrap(),
            ),
            (
                &USER_SECURITY_STATE,
                serde_json::to_value(UserSecurityState::default()).unwrap(),
            ),
            (
                &HOST_SECURITY_STATE,
                serde_json::to_value(HostSecurityState::default()).unwrap(),
            ),
            (
                &FILE_HASH,
                serde_json::to_value(FileHash::default()).unwrap(),
            ),
            (
                &FILE_SECURITY_STATE,
                serde_json::to_value(FileSecurityState::default()).unwrap(),
            ),
            (&PROCESS, serde_json::to_value(Process::default()).unwrap()),
            (
                &NETWORK_CONNECTION,
                serde_json::to_value(NetworkConnection::default()).unwrap(),
            ),
            (
                &MALWARE_STATE,
                serde_json::to_value(MalwareState::default()).unwrap(),
            ),
            (
                &CLOUD_APP_SECURITY_STATE,
                serde_json::to_value(CloudAppSecurityState::default()).unwrap(),
            ),
            (
                &REGISTRY_KEY_STATE,
                serde_json::to_value(RegistryKeyState::default()).unwrap(),
            ),
            (
                &VULNERABILITY_STATE,
                serde_json::to_value(VulnerabilityState::default()).unwrap(),
            ),
            (
                &ALERT_TRIGGER,
                serde_json::to_value(AlertTrigger::default()).unwrap(),
            ),
            (
                &SECURITY_RESOURCE,
                serde_json::to_value(SecurityResource::default()).unwrap(),
            ),
            (
                &ALERT_HISTORY_STATE,
                serde_json::to_value(AlertHistoryState::default()).unwrap(),
            ),
            (
                &ALERT_DETECTION,
                serde_json::to_value(AlertDetection::default()).unwrap(),
            ),
            (
                &INVESTIGATION_SECURITY_STATE,
                serde_json::to_value(InvestigationSecurityState::default()).unwrap(),
            ),
            (
                &MESSAGE_SECURITY_STATE,
                serde_json::to_value(MessageSecurityState::default()).unwrap(),
            ),
            (
                &URI_CLICK_SECURITY_STATE,
                serde_json::to_value(UriClickSecurityState::default()).unwrap(),
            ),
            (
                &RISK_USER_ACTIVITY,
                serde_json::to_value(crate::RiskUserActivity::default()).unwrap(),
            ),
            (
                &SIGN_IN_LOCATION,
                serde_json::to_value(crate::SignInLocation::default()).unwrap(),
            ),
            (
                &GEO_COORDINATES,
                serde_json::to_value(crate::GeoCoordinates::default()).unwrap(),
            ),
        ];
        for (schema, value) in &pairs {
            assert_matches_serde(schema, value);
        }
    }

    #[test]
    fn lookup_is_case_insensitive_and_knows_aliases() {
        assert_eq!(ALERT.property("SEVERITY").unwrap().name, "severity");
        assert_eq!(
            HOST_SECURITY_STATE
                .property("isazureaadjoined")
                .unwrap()
                .name,
            "isAzureAdJoined"
        );
        assert!(ALERT.property("sevrity").is_none());
        assert_eq!(ALERT_SEVERITY.lookup("HIGH"), Some((4, "high")));
        assert_eq!(ALERT_SEVERITY.short_name(), "alertSeverity");
        assert!(TOKEN_ISSUER_TYPE.members().contains(&"AzureAD"));
    }
}
