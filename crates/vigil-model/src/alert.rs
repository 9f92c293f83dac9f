//! The Microsoft Graph security `alert` resource (`microsoft.graph.alert`) and its nested types.
//!
//! Serialization follows real Graph responses: camelCase names, every declared property present
//! (`null` for an absent scalar, `[]` for an empty collection), `Z` timestamps. `alert` is an
//! OData open type, so properties we do not declare are kept in `additional_data` and written
//! back out unchanged. The host-state booleans are emitted as `isAzureAdJoined` /
//! `isAzureAdRegistered` (CSDL, SDK and captured responses) and also accepted with the docs'
//! `isAzureAad*` spelling.
//!
//! Input is lenient where real clients and partner data differ from Graph: `null` for a
//! collection reads as `[]`, `null` for a non-nullable property (`id`, `azureTenantId`,
//! `severity`, `status`, `vendorInformation`) reads as its default, and enum values of any casing
//! or unknown names never fail (see [`crate::enums`]). A property name that is not declared is
//! kept in `additional_data`; code that fills `additional_data` itself must not use a declared
//! name, or the output would carry that key twice.

use crate::enums::*;
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// `null` or a missing key become an empty collection (Graph never sends `null` for one, but
/// partner data and hand-written clients do).
pub(crate) fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// One security alert, exactly as Graph's `alert` resource.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::alert))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    #[serde(default, deserialize_with = "crate::alert::null_as_default")]
    pub id: String,
    pub activity_group_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub alert_detections: Vec<AlertDetection>,
    pub assigned_to: Option<String>,
    pub azure_subscription_id: Option<String>,
    #[serde(default, deserialize_with = "crate::alert::null_as_default")]
    pub azure_tenant_id: String,
    pub category: Option<String>,
    pub closed_date_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub cloud_app_states: Vec<CloudAppSecurityState>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub comments: Vec<String>,
    pub confidence: Option<i32>,
    pub created_date_time: Option<Timestamp>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub detection_ids: Vec<String>,
    pub event_date_time: Option<Timestamp>,
    pub feedback: Option<AlertFeedback>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub file_states: Vec<FileSecurityState>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub history_states: Vec<AlertHistoryState>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub host_states: Vec<HostSecurityState>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub incident_ids: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub investigation_security_states: Vec<InvestigationSecurityState>,
    pub last_event_date_time: Option<Timestamp>,
    pub last_modified_date_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub malware_states: Vec<MalwareState>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub message_security_states: Vec<MessageSecurityState>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub network_connections: Vec<NetworkConnection>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub processes: Vec<Process>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub recommended_actions: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub registry_key_states: Vec<RegistryKeyState>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub security_resources: Vec<SecurityResource>,
    #[serde(default, deserialize_with = "crate::alert::null_as_default")]
    pub severity: AlertSeverity,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub source_materials: Vec<String>,
    #[serde(default, deserialize_with = "crate::alert::null_as_default")]
    pub status: AlertStatus,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
    pub title: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub triggers: Vec<AlertTrigger>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub uri_click_security_states: Vec<UriClickSecurityState>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub user_states: Vec<UserSecurityState>,
    #[serde(default, deserialize_with = "crate::alert::null_as_default")]
    pub vendor_information: SecurityVendorInformation,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub vulnerability_states: Vec<VulnerabilityState>,
    /// Undeclared properties (alert is an OData open type), kept and re-emitted as they came.
    #[serde(flatten)]
    pub additional_data: Map<String, Value>,
}

/// `null` becomes the type's default (for the properties the CSDL declares non-nullable).
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Alert {
    /// The JSON names of every declared property, in wire order.
    /// The 40 properties of the spec's table (`id` comes from `entity`).
    pub const PROPERTY_NAMES: [&'static str; 40] = [
        "id",
        "activityGroupName",
        "alertDetections",
        "assignedTo",
        "azureSubscriptionId",
        "azureTenantId",
        "category",
        "closedDateTime",
        "cloudAppStates",
        "comments",
        "confidence",
        "createdDateTime",
        "description",
        "detectionIds",
        "eventDateTime",
        "feedback",
        "fileStates",
        "historyStates",
        "hostStates",
        "incidentIds",
        "investigationSecurityStates",
        "lastEventDateTime",
        "lastModifiedDateTime",
        "malwareStates",
        "messageSecurityStates",
        "networkConnections",
        "processes",
        "recommendedActions",
        "registryKeyStates",
        "securityResources",
        "severity",
        "sourceMaterials",
        "status",
        "tags",
        "title",
        "triggers",
        "uriClickSecurityStates",
        "userStates",
        "vendorInformation",
        "vulnerabilityStates",
    ];

    /// The properties a `PATCH` may change.
    pub const UPDATABLE: [&'static str; 6] = [
        "assignedTo",
        "closedDateTime",
        "comments",
        "feedback",
        "status",
        "tags",
    ];
}

/// `securityVendorInformation`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::securityVendorInformation))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityVendorInformation {
    pub provider: Option<String>,
    pub provider_version: Option<String>,
    pub sub_provider: Option<String>,
    pub vendor: Option<String>,
}

/// `userSecurityState`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::userSecurityState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSecurityState {
    pub aad_user_id: Option<String>,
    pub account_name: Option<String>,
    pub domain_name: Option<String>,
    pub email_role: Option<EmailRole>,
    pub is_vpn: Option<bool>,
    pub logon_date_time: Option<Timestamp>,
    pub logon_id: Option<String>,
    pub logon_ip: Option<String>,
    pub logon_location: Option<String>,
    pub logon_type: Option<LogonType>,
    pub on_premises_security_identifier: Option<String>,
    pub risk_score: Option<String>,
    pub user_account_type: Option<UserAccountSecurityType>,
    pub user_principal_name: Option<String>,
    /// The user's federated risk, joined in by the gateway as `vigilUserRisk` (an object, or
    /// `null` for a user no identity provider knows as risky). Never read from input (a
    /// provider cannot set it) and written only when the gateway joined it, so an alert
    /// round-trips unchanged; documented with the gateway's list, not in Graph's type.
    #[serde(
        rename = "vigilUserRisk",
        default,
        skip_deserializing,
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub vigil_user_risk: Option<Value>,
}

/// `hostSecurityState`.
///
/// Deserialized through [`HostSecurityStateWire`] so that both spellings of the Azure AD
/// booleans are accepted, even together in one object (a serde `alias` would reject that as a
/// duplicate field). When both are present the CSDL spelling (`isAzureAd*`) wins.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::hostSecurityState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "HostSecurityStateWire")]
pub struct HostSecurityState {
    pub fqdn: Option<String>,
    #[serde(rename = "isAzureAdJoined")]
    pub is_azure_ad_joined: Option<bool>,
    #[serde(rename = "isAzureAdRegistered")]
    pub is_azure_ad_registered: Option<bool>,
    pub is_hybrid_azure_domain_joined: Option<bool>,
    pub net_bios_name: Option<String>,
    pub os: Option<String>,
    pub private_ip_address: Option<String>,
    pub public_ip_address: Option<String>,
    pub risk_score: Option<String>,
}

/// The input shape of `hostSecurityState`: every accepted spelling as its own field.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostSecurityStateWire {
    fqdn: Option<String>,
    #[serde(rename = "isAzureAdJoined")]
    is_azure_ad_joined: Option<bool>,
    #[serde(rename = "isAzureAadJoined")]
    is_azure_aad_joined: Option<bool>,
    #[serde(rename = "isAzureAdRegistered")]
    is_azure_ad_registered: Option<bool>,
    #[serde(rename = "isAzureAadRegistered")]
    is_azure_aad_registered: Option<bool>,
    is_hybrid_azure_domain_joined: Option<bool>,
    net_bios_name: Option<String>,
    os: Option<String>,
    private_ip_address: Option<String>,
    public_ip_address: Option<String>,
    risk_score: Option<String>,
}

impl From<HostSecurityStateWire> for HostSecurityState {
    fn from(w: HostSecurityStateWire) -> Self {
        Self {
            fqdn: w.fqdn,
            is_azure_ad_joined: w.is_azure_ad_joined.or(w.is_azure_aad_joined),
            is_azure_ad_registered: w.is_azure_ad_registered.or(w.is_azure_aad_registered),
            is_hybrid_azure_domain_joined: w.is_hybrid_azure_domain_joined,
            net_bios_name: w.net_bios_name,
            os: w.os,
            private_ip_address: w.private_ip_address,
            public_ip_address: w.public_ip_address,
            risk_score: w.risk_score,
        }
    }
}

/// `fileSecurityState`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::fileSecurityState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileSecurityState {
    pub file_hash: Option<FileHash>,
    pub name: Option<String>,
    pub path: Option<String>,
    pub risk_score: Option<String>,
}

/// `fileHash`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::fileHash))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileHash {
    pub hash_type: Option<FileHashType>,
    pub hash_value: Option<String>,
}

/// `process`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::process))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    pub account_name: Option<String>,
    pub command_line: Option<String>,
    pub created_date_time: Option<Timestamp>,
    pub file_hash: Option<FileHash>,
    pub integrity_level: Option<ProcessIntegrityLevel>,
    pub is_elevated: Option<bool>,
    pub name: Option<String>,
    pub parent_process_created_date_time: Option<Timestamp>,
    pub parent_process_id: Option<i32>,
    pub parent_process_name: Option<String>,
    pub path: Option<String>,
    pub process_id: Option<i32>,
}

/// `networkConnection` (ports are strings on the wire).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::networkConnection))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConnection {
    pub application_name: Option<String>,
    pub destination_address: Option<String>,
    pub destination_domain: Option<String>,
    pub destination_location: Option<String>,
    pub destination_port: Option<String>,
    pub destination_url: Option<String>,
    pub direction: Option<ConnectionDirection>,
    pub domain_registered_date_time: Option<Timestamp>,
    pub local_dns_name: Option<String>,
    pub nat_destination_address: Option<String>,
    pub nat_destination_port: Option<String>,
    pub nat_source_address: Option<String>,
    pub nat_source_port: Option<String>,
    pub protocol: Option<SecurityNetworkProtocol>,
    pub risk_score: Option<String>,
    pub source_address: Option<String>,
    pub source_location: Option<String>,
    pub source_port: Option<String>,
    pub status: Option<ConnectionStatus>,
    pub url_parameters: Option<String>,
}

/// `malwareState`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::malwareState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MalwareState {
    pub category: Option<String>,
    pub family: Option<String>,
    pub name: Option<String>,
    pub severity: Option<String>,
    pub was_running: Option<bool>,
}

/// `cloudAppSecurityState`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::cloudAppSecurityState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudAppSecurityState {
    pub destination_service_ip: Option<String>,
    pub destination_service_name: Option<String>,
    pub risk_score: Option<String>,
}

/// `registryKeyState`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::registryKeyState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryKeyState {
    pub hive: Option<RegistryHive>,
    pub key: Option<String>,
    pub old_key: Option<String>,
    pub old_value_data: Option<String>,
    pub old_value_name: Option<String>,
    pub operation: Option<RegistryOperation>,
    pub process_id: Option<i32>,
    pub value_data: Option<String>,
    pub value_name: Option<String>,
    pub value_type: Option<RegistryValueType>,
}

/// `vulnerabilityState`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::vulnerabilityState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilityState {
    pub cve: Option<String>,
    pub severity: Option<String>,
    pub was_running: Option<bool>,
}

/// `alertTrigger`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::alertTrigger))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertTrigger {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub r#type: Option<String>,
    pub value: Option<String>,
}

/// `securityResource`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::securityResource))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityResource {
    pub resource: Option<String>,
    pub resource_type: Option<SecurityResourceType>,
}

/// `alertHistoryState`: one update made to the alert.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::alertHistoryState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertHistoryState {
    pub app_id: Option<String>,
    pub assigned_to: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub comments: Vec<String>,
    pub feedback: Option<AlertFeedback>,
    pub status: Option<AlertStatus>,
    pub updated_date_time: Option<Timestamp>,
    pub user: Option<String>,
}

/// `alertDetection`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::alertDetection))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertDetection {
    pub detection_type: Option<String>,
    pub method: Option<String>,
    pub name: Option<String>,
}

/// `investigationSecurityState`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::investigationSecurityState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvestigationSecurityState {
    pub name: Option<String>,
    pub status: Option<String>,
}

/// `messageSecurityState`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::messageSecurityState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSecurityState {
    #[serde(rename = "connectingIP")]
    pub connecting_ip: Option<String>,
    pub delivery_action: Option<String>,
    pub delivery_location: Option<String>,
    pub directionality: Option<String>,
    pub internet_message_id: Option<String>,
    pub message_fingerprint: Option<String>,
    pub message_received_date_time: Option<Timestamp>,
    pub message_subject: Option<String>,
    pub network_message_id: Option<String>,
}

/// `uriClickSecurityState`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::uriClickSecurityState))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UriClickSecurityState {
    pub click_action: Option<String>,
    pub click_date_time: Option<Timestamp>,
    pub id: Option<String>,
    pub source_id: Option<String>,
    pub uri_domain: Option<String>,
    pub verdict: Option<String>,
}
