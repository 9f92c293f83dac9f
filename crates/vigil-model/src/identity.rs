//! Identity protection resources (Entra ID Protection shape): `riskyUser`,
//! `riskyUserHistoryItem`, `riskDetection`, `signInLocation`.
//!
//! `riskDetail`, `activityType` and `tokenIssuerType` are evolvable enums: call
//! [`HideEvolvable::hide_evolvable_members`] on what goes to a caller that did not send
//! `Prefer: include-unknown-enum-members`.

use crate::alert::{null_as_default, null_as_empty};
use crate::enums::*;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Replaces evolvable enum members by `unknownFutureValue`, as Graph does for callers that did
/// not opt in.
pub trait HideEvolvable {
    fn hide_evolvable_members(&mut self);
}

fn hide<E: GraphEnum>(v: &mut Option<E>) {
    if let Some(e) = v {
        *e = e.hide_evolvable();
    }
}

/// `riskyUser`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::riskyUser))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskyUser {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    pub is_deleted: Option<bool>,
    pub is_processing: Option<bool>,
    pub risk_detail: Option<RiskDetail>,
    pub risk_last_updated_date_time: Option<Timestamp>,
    pub risk_level: Option<RiskLevel>,
    pub risk_state: Option<RiskState>,
    pub user_display_name: Option<String>,
    pub user_principal_name: Option<String>,
    #[serde(flatten)]
    pub additional_data: Map<String, Value>,
}

impl HideEvolvable for RiskyUser {
    fn hide_evolvable_members(&mut self) {
        hide(&mut self.risk_detail);
    }
}

/// `riskUserActivity`.
///
/// Beta responses (and the beta docs' history example) carry the deprecated `eventTypes` instead
/// of `riskEventTypes`; both hold risk event type names, so `eventTypes` is read into
/// `risk_event_types` when `riskEventTypes` is absent or empty. Output always uses
/// `riskEventTypes`, the v1.0 name.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::riskUserActivity))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "RiskUserActivityWire")]
pub struct RiskUserActivity {
    pub detail: Option<RiskDetail>,
    pub risk_event_types: Vec<String>,
}

/// The input shape of `riskUserActivity`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RiskUserActivityWire {
    detail: Option<RiskDetail>,
    #[serde(default, deserialize_with = "null_as_empty")]
    risk_event_types: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    event_types: Vec<String>,
}

impl From<RiskUserActivityWire> for RiskUserActivity {
    fn from(w: RiskUserActivityWire) -> Self {
        let risk_event_types = if w.risk_event_types.is_empty() {
            w.event_types
        } else {
            w.risk_event_types
        };
        Self {
            detail: w.detail,
            risk_event_types,
        }
    }
}

/// `riskyUserHistoryItem` (derives from `riskyUser` in the CSDL, so it repeats its properties).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::riskyUserHistoryItem))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskyUserHistoryItem {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    pub is_deleted: Option<bool>,
    pub is_processing: Option<bool>,
    pub risk_detail: Option<RiskDetail>,
    pub risk_last_updated_date_time: Option<Timestamp>,
    pub risk_level: Option<RiskLevel>,
    pub risk_state: Option<RiskState>,
    pub user_display_name: Option<String>,
    pub user_principal_name: Option<String>,
    pub activity: Option<RiskUserActivity>,
    pub initiated_by: Option<String>,
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub additional_data: Map<String, Value>,
}

impl HideEvolvable for RiskyUserHistoryItem {
    fn hide_evolvable_members(&mut self) {
        hide(&mut self.risk_detail);
        if let Some(a) = &mut self.activity {
            hide(&mut a.detail);
        }
    }
}

/// `geoCoordinates`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::geoCoordinates))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeoCoordinates {
    pub altitude: Option<f64>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// `signInLocation`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::signInLocation))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInLocation {
    pub city: Option<String>,
    pub country_or_region: Option<String>,
    pub geo_coordinates: Option<GeoCoordinates>,
    pub state: Option<String>,
}

/// `riskDetection`. `riskEventType` is a string, not an enum; beta's deprecated `riskType`
/// travels in `additional_data`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = microsoft::graph::riskDetection))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskDetection {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    pub activity: Option<ActivityType>,
    pub activity_date_time: Option<Timestamp>,
    pub additional_info: Option<String>,
    pub correlation_id: Option<String>,
    pub detected_date_time: Option<Timestamp>,
    pub detection_timing_type: Option<RiskDetectionTimingType>,
    pub ip_address: Option<String>,
    pub last_updated_date_time: Option<Timestamp>,
    pub location: Option<SignInLocation>,
    pub request_id: Option<String>,
    pub risk_detail: Option<RiskDetail>,
    pub risk_event_type: Option<String>,
    pub risk_level: Option<RiskLevel>,
    pub risk_state: Option<RiskState>,
    pub source: Option<String>,
    pub token_issuer_type: Option<TokenIssuerType>,
    pub user_display_name: Option<String>,
    pub user_id: Option<String>,
    pub user_principal_name: Option<String>,
    #[serde(flatten)]
    pub additional_data: Map<String, Value>,
}

impl HideEvolvable for RiskDetection {
    fn hide_evolvable_members(&mut self) {
        hide(&mut self.activity);
        hide(&mut self.risk_detail);
        hide(&mut self.token_issuer_type);
    }
}
