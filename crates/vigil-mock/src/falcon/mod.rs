//! Mock CrowdStrike Falcon Alerts API (`docs/partner-formats.md` §2).
//!
//! Modelled on CrowdStrike's OAuth2 API as its Go SDK describes it (`CrowdStrike/gofalcon`:
//! `falcon/client/alerts/*`, `falcon/models/detectsapi_*`) and on the published
//! `POST /alerts/entities/alerts/v2` sample (demisto/content, MIT; copied in
//! `../shared/fixtures/edr/`):
//!
//! - `POST /oauth2/token` (form `client_id`, `client_secret`) → `201` bearer token; bad → `401`.
//! - `GET /alerts/queries/alerts/v2?filter=&offset=&limit=&sort=` → composite ids, with
//!   `meta.pagination {offset, limit, total}`; the FQL subset is in [`fql`].
//! - `POST /alerts/entities/alerts/v2` `{"composite_ids":[…]}` → entities; unknown ids are left out
//!   and named in `errors` (code 404); `404` when none is known; more than 1000 ids → `400`.
//! - `PATCH /alerts/entities/alerts/v3` `{"composite_ids","action_parameters"}` → every action
//!   applied ([`state::Action`]); each authenticated PATCH is recorded as a write.
//!
//! Every answer, errors included, is Falcon's envelope `{"meta","resources","errors"}`. The mock
//! never panics on input: bodies are read as bytes and parsed here, so a malformed request is a
//! `400` envelope, not a framework rejection.
//!
//! What the mock does not do: fault injection and request recording are wrapped around this
//! router by `MockProvider`; real Falcon's `after` token paging and the 10 000-result offset
//! ceiling are not modelled; `member_cid` (MSSP child tenants) is not modelled.

pub mod fql;
pub mod record;
pub mod state;

use crate::core::{Core, ProviderData, TokenRejection};
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, FromRequestParts, OriginalUri, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

pub use record::{DISMISSED_TAG, FalconRecord, cid_for_tenant, cid_of};

/// Most ids one entities request may name.
pub const MAX_IDS: usize = 1000;
/// Largest `limit` of a query.
pub const MAX_LIMIT: usize = 10_000;
/// `limit` when the caller gives none.
pub const DEFAULT_LIMIT: usize = 100;

/// The router's state: the shared mock core and this format's records.
#[derive(Debug)]
pub struct FalconState {
    pub core: Arc<Core>,
    pub store: state::Store,
}

/// The Falcon mock's routes, with their state applied.
pub fn router(core: Arc<Core>, data: ProviderData) -> Router {
    let store = state::Store::default();
    // One CID per tenant: the scenario's (from the first alert that names it), else derived.
    let mut cids: HashMap<&str, String> = HashMap::new();
    for alert in &data.alerts {
        let tenant = alert.azure_tenant_id.as_str();
        let cid = cids
            .entry(tenant)
            .or_insert_with(|| record::cid_of(alert))
            .clone();
        store.insert(tenant, record::render(alert, &cid));
    }
    let st = Arc::new(FalconState { core, store });
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/alerts/queries/alerts/v2", get(query_alerts))
        .route("/alerts/entities/alerts/v2", post(get_alerts))
        .route("/alerts/entities/alerts/v3", patch(update_alerts))
        .with_state(st)
}

/// A Falcon error answer: status plus one `errors` entry.
#[derive(Debug)]
pub struct FalconError {
    status: StatusCode,
    message: String,
}

impl FalconError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for FalconError {
    fn into_response(self) -> Response {
        let body = envelope(
            Instant::now(),
            Vec::new(),
            vec![error_entry(self.status.as_u16(), &self.message)],
            None,
        );
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

fn error_entry(code: u16, message: &str) -> Value {
    json!({ "code": code, "message": message })
}

/// `{"meta":{"query_time","powered_by","trace_id"[,"pagination"]},"resources","errors"}`.
fn envelope(
    started: Instant,
    resources: Vec<Value>,
    errors: Vec<Value>,
    pagination: Option<Value>,
) -> Value {
    let mut meta = json!({
        "query_time": started.elapsed().as_secs_f64(),
        "powered_by": "detectsapi",
        "trace_id": uuid::Uuid::new_v4().to_string(),
    });
    if let (Some(p), Some(m)) = (pagination, meta.as_object_mut()) {
        m.insert("pagination".to_string(), p);
    }
    json!({ "meta": meta, "resources": resources, "errors": errors })
}

/// The tenant whose bearer token came with the request.
pub struct FalconTenant(pub String);

impl FromRequestParts<Arc<FalconState>> for FalconTenant {
    type Rejection = FalconError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<FalconState>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match st.core.tokens.validate_header(header) {
            Ok(tenant) => Ok(Self(tenant)),
            Err(TokenRejection::Missing | TokenRejection::Unknown | TokenRejection::Expired) => {
                Err(FalconError::new(
                    StatusCode::UNAUTHORIZED,
                    "access denied, authorization failed",
                ))
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(
    State(st): State<Arc<FalconState>>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, FalconError> {
    let Form(form) =
        form.map_err(|e| FalconError::bad_request(format!("invalid token request: {e}")))?;
    let (Some(id), Some(secret)) = (form.client_id, form.client_secret) else {
        return Err(FalconError::bad_request(
            "client_id and client_secret are required",
        ));
    };
    let Some(tenant) = st.core.tenant_for_client(&id, &secret) else {
        return Err(FalconError::new(
            StatusCode::UNAUTHORIZED,
            "access denied, invalid client",
        ));
    };
    let ttl = st.core.token_ttl;
    let access_token = st.core.tokens.issue(&tenant, ttl);
    let body = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": ttl.as_secs(),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn parse_usize(params: &HashMap<String, String>, name: &str) -> Result<Option<usize>, FalconError> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
            FalconError::bad_request(format!(
                "'{name}' must be a non-negative integer, not '{v}'"
            ))
        }),
    }
}

async fn query_alerts(
    FalconTenant(tenant): FalconTenant,
    State(st): State<Arc<FalconState>>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, FalconError> {
    let started = Instant::now();
    let Query(params) =
        params.map_err(|e| FalconError::bad_request(format!("invalid query string: {e}")))?;
    if params.contains_key("q") {
        return Err(FalconError::bad_request(
            "full-text 'q' search is not supported by this mock",
        ));
    }
    let filter = fql::Filter::parse(params.get("filter").map_or("", String::as_str))
        .map_err(|e| FalconError::bad_request(e.to_string()))?;
    let sort = match params.get("sort") {
        Some(s) => state::Sort::parse(s).map_err(|e| FalconError::bad_request(e.0))?,
        None => state::Sort::default(),
    };
    let offset = parse_usize(&params, "offset")?.unwrap_or(0);
    let limit = parse_usize(&params, "limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(FalconError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let (ids, total) = st.store.query(&tenant, &filter, sort, offset, limit);
    let resources = ids.into_iter().map(Value::String).collect();
    Ok(Json(envelope(
        started,
        resources,
        Vec::new(),
        Some(json!({ "offset": offset, "limit": limit, "total": total })),
    )))
}

/// Reads `composite_ids` (a non-empty array of strings) from a JSON body.
fn composite_ids(body: &Value) -> Result<Vec<String>, FalconError> {
    let arr = body
        .get("composite_ids")
        .and_then(Value::as_array)
        .ok_or_else(|| FalconError::bad_request("'composite_ids' must be an array of strings"))?;
    let ids: Option<Vec<String>> = arr.iter().map(|v| v.as_str().map(str::to_string)).collect();
    let ids =
        ids.ok_or_else(|| FalconError::bad_request("'composite_ids' must be an array of strings"))?;
    if ids.is_empty() {
        return Err(FalconError::bad_request(
            "'composite_ids' must not be empty",
        ));
    }
    if ids.len() > MAX_IDS {
        return Err(FalconError::bad_request(format!(
            "at most {MAX_IDS} composite_ids per request, got {}",
            ids.len()
        )));
    }
    Ok(ids)
}

fn json_body(body: &Bytes) -> Result<Value, FalconError> {
    serde_json::from_slice(body)
        .map_err(|e| FalconError::bad_request(format!("invalid JSON body: {e}")))
}

async fn get_alerts(
    FalconTenant(tenant): FalconTenant,
    State(st): State<Arc<FalconState>>,
    body: Bytes,
) -> Result<Response, FalconError> {
    let started = Instant::now();
    let ids = composite_ids(&json_body(&body)?)?;
    let (found, unknown) = st.store.get(&tenant, &ids);
    let errors = unknown
        .iter()
        .map(|id| error_entry(404, &format!("alert {id} not found")))
        .collect();
    let status = if found.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let resources = found
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    Ok((status, Json(envelope(started, resources, errors, None))).into_response())
}

async fn update_alerts(
    FalconTenant(tenant): FalconTenant,
    State(st): State<Arc<FalconState>>,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Result<Response, FalconError> {
    let started = Instant::now();
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let recorded = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    st.core
        .recorder
        .record_write(&tenant, "PATCH", path, recorded);

    let body = json_body(&body)?;
    let ids = composite_ids(&body)?;
    let params = body
        .get("action_parameters")
        .and_then(Value::as_array)
        .ok_or_else(|| FalconError::bad_request("'action_parameters' must be an array"))?;
    if params.is_empty() {
        return Err(FalconError::bad_request(
            "'action_parameters' must not be empty",
        ));
    }
    let mut actions = Vec::with_capacity(params.len());
    for p in params {
        let name = p.get("name").and_then(Value::as_str);
        let value = match p.get("value") {
            None | Some(Value::Null) => Some(""),
            Some(v) => v.as_str(),
        };
        let (Some(name), Some(value)) = (name, value) else {
            return Err(FalconError::bad_request(
                "each action parameter needs a string 'name' and a string 'value'",
            ));
        };
        actions.push(state::Action::parse(name, value).map_err(|e| FalconError::bad_request(e.0))?);
    }
    let actor = st.core.credentials(&tenant).client_id;
    let outcome = st.store.patch(&tenant, &ids, &actions, &actor);
    let errors: Vec<Value> = outcome
        .unknown
        .iter()
        .map(|id| error_entry(404, &format!("alert {id} not found")))
        .collect();
    let status = if outcome.updated.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let resources = outcome.updated.into_iter().map(Value::String).collect();
    Ok((status, Json(envelope(started, resources, errors, None))).into_response())
}

#[cfg(test)]
mod tests;
