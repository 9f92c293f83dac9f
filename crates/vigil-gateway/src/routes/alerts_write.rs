//! Writes to alerts: `PATCH /security/alerts/{id}`, beta's `POST /security/alerts/updateAlerts`,
//! and the operator's outbox routes under `/vigil/admin/outbox`.
//!
//! Graph answers a PATCH with `204` (or `200` + the alert under `Prefer:
//! return=representation`) whether or not the product applied it. We answer `204`/`200` only
//! when every provider holding the alert took the change, and `202 Accepted` with each
//! provider's sync state when some are still pending (the change is stored and will be
//! retried; see [`crate::writeback`]). `updateAlerts` answers `200` with each alert as Vigil
//! expects it after the change, carrying `vigilSync` when a delivery is pending.

use crate::auth::{Need, Principal};
use crate::error::ApiError;
use crate::odata::{self, ApiVersion};
use crate::state::AppState;
use crate::writeback::{self, Preconditions, Submitted};
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Serialize;
use serde_json::{Map, Value};
use vigil_store::{OutboxEntry, OutboxState};

/// Largest PATCH body.
pub const MAX_PATCH_BYTES: usize = 64 * 1024;
/// Largest `updateAlerts` body.
pub const MAX_BULK_BYTES: usize = 1024 * 1024;
/// Most alerts in one `updateAlerts` call.
pub const MAX_BULK_ITEMS: usize = 100;

/// A JSON body read under a size limit, every rejection a Graph error (axum's own `Json`
/// rejections are plain text).
pub struct GraphJson<const LIMIT: usize>(pub Value);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for GraphJson<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
            let mime = ct.split(';').next().unwrap_or("").trim();
            if !(mime == "application/json" || mime.ends_with("+json")) {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "Content-Type '{mime}' is not supported; send application/json."
                )));
            }
        }
        let bytes = axum::body::to_bytes(req.into_body(), LIMIT)
            .await
            .map_err(|_| {
                ApiError::PayloadTooLarge(format!("The request body exceeds {LIMIT} bytes."))
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest("The request body is empty.".into()));
        }
        let v = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::BadRequest(format!("The request body is not valid JSON: {e}"))
        })?;
        Ok(GraphJson(v))
    }
}

/// `PATCH /security/alerts/{id}`
#[utoipa::path(
    patch,
    path = "/v1.0/security/alerts/{id}",
    operation_id = "updateAlert",
    tag = "alerts",
    summary = "Update an alert at every provider holding it",
    description = "Graph's PATCH: `assignedTo`, `closedDateTime`, `comments`, `feedback`, `status`, `tags`, and the required `vendorInformation` (`provider` + `vendor` of the alert or one of its copies). Enum values and timestamps are read leniently (`NewAlert`, `Z`, `+00:00`, no offset). The change is stored (history + outbox) before any provider is called, then delivered to every copy; a copy that could not take it is retried by the worker. `If-Match` with the alert's `ETag` guards against lost updates; without it the last writer wins.",
    params(
        ("id" = String, Path, description = "The unified alert id, or a provider's own alert id."),
        ("If-Match" = Option<String>, Header, description = "The alert's `ETag` (from GET); a stale one gets 412."),
        crate::openapi::WriteHeaders,
    ),
    request_body(content = Object, content_type = "application/json", description = "The updatable properties and `vendorInformation`."),
    security(("bearer" = ["SecurityEvents.ReadWrite.All"])),
    responses(
        (status = 204, description = "Every provider holding the alert took the change. The alert's new `ETag` is sent when the request carried `If-Match` (a conditional writer's next precondition); otherwise, as Graph, no body and no ETag.", headers(("ETag" = String))),
        (status = 200, description = "Every provider took the change (`Prefer: return=representation`): the alert, with `historyStates` and each copy's `syncState`.", body = vigil_model::Alert, content_type = "application/json", headers(("ETag" = String))),
        (status = 202, description = "Stored; some providers are still pending: `{id, vigilSync: [{provider, providerAlertId, state, attempts, lastError, nextAttemptDateTime, outboxId}]}`.", body = Object, content_type = "application/json"),
        (status = 404, description = "`NotFound`: no provider of the tenant knows this id.", body = crate::openapi::ODataError, content_type = "application/json"),
        (status = 412, description = "`PreconditionFailed`: `If-Match` is stale.", body = crate::openapi::ODataError, content_type = "application/json"),
        (status = 413, description = "`RequestEntityTooLarge`: body over 64 KiB.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn update_alert(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<MAX_PATCH_BYTES>,
) -> Result<Response, ApiError> {
    principal.require(Need::WRITE_ALERTS)?;
    let payload = writeback::parse_change(&body, Some(&id))?;
    let pre = Preconditions {
        if_match: writeback::if_match(&headers),
        principal: &principal,
    };
    let conditional = pre.if_match.is_some();
    let submitted = writeback::submit(&st, pre, &id, payload).await?;
    let want_body = odata::preferences(&headers)
        .iter()
        .any(|p| p == "return=representation");
    if !submitted.all_delivered() {
        return json(
            StatusCode::ACCEPTED,
            &writeback::accepted_body(&submitted),
            None,
        );
    }
    if !want_body {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        // The new ETag costs a read of every copy; only a conditional writer, who will send
        // it back in its next If-Match, pays for it (Graph sends none on 204).
        if conditional && let Some(etag) = fresh_etag(&st, &principal, &submitted).await {
            set_etag(&mut resp, &etag);
        }
        return Ok(resp);
    }
    let (alert, etag) = representation(&st, &principal, &submitted).await?;
    let mut v = alert;
    // userStates carry the users' federated risk, as GET shows them.
    crate::identity::join::annotate_one(&st, &principal.tenant_id, &headers, &mut v).await;
    if let Value::Object(m) = &mut v {
        let base = odata::base_url(&st.config.public_url, &headers);
        let mut out = Map::with_capacity(m.len() + 1);
        out.insert(
            "@odata.context".into(),
            Value::String(format!(
                "{base}/{}/$metadata#security/alerts/$entity",
                version.segment()
            )),
        );
        out.extend(std::mem::take(m));
        *m = out;
    }
    let mut resp = json(StatusCode::OK, &v, None)?;
    set_etag(&mut resp, &etag);
    resp.headers_mut().insert(
        "preference-applied",
        HeaderValue::from_static("return=representation"),
    );
    Ok(resp)
}

/// The alert after a change, fresh from its providers, with Vigil's history and sync state.
async fn representation(
    st: &AppState,
    principal: &Principal,
    s: &Submitted,
) -> Result<(Value, String), ApiError> {
    let (alert, _) =
        crate::routes::alerts::fetch_decorated(st, &principal.tenant_id, &s.unified_id).await?;
    let (mut alert, etag) = alert
        .ok_or_else(|| ApiError::NotFound(format!("Alert '{}' was not found.", s.unified_id)))?;
    alert.id = s.unified_id.clone();
    let v = serde_json::to_value(alert).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((v, etag))
}

async fn fresh_etag(st: &AppState, principal: &Principal, s: &Submitted) -> Option<String> {
    representation(st, principal, s).await.ok().map(|(_, e)| e)
}

fn set_etag(resp: &mut Response, etag: &str) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
}

fn json(status: StatusCode, body: &Value, _etag: Option<&str>) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut r = (status, bytes).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;odata.metadata=minimal;charset=utf-8"),
    );
    r.headers_mut()
        .insert("odata-version", HeaderValue::from_static("4.0"));
    Ok(r)
}

/// `POST /beta/security/alerts/updateAlerts`: `{"value":[{id, vendorInformation, …}]}` →
/// `200 {"value":[alert…]}`. Every item is checked before any is recorded; each alert in the
/// answer is the alert as the change makes it, with `vigilSync` when a provider is pending.
#[utoipa::path(
    post,
    path = "/beta/security/alerts/updateAlerts",
    operation_id = "updateAlerts",
    tag = "alerts",
    summary = "Update several alerts (beta)",
    description = "`{\"value\": [{id, vendorInformation, ...updatable properties}]}` (at most 100); every item is checked before any is stored. Each alert in the answer is as the change makes it, with `vigilSync` when a provider is pending.",
    params(crate::openapi::WriteHeaders),
    request_body(content = Object, content_type = "application/json"),
    security(("bearer" = ["SecurityEvents.ReadWrite.All"])),
    responses(
        (status = 200, description = "`{\"value\": [alert, ...]}`.", body = Object, content_type = "application/json"),
        (status = 404, description = "`NotFound`: no provider of the tenant knows one of the ids (nothing is recorded).", body = crate::openapi::ODataError, content_type = "application/json"),
        (status = 413, description = "`RequestEntityTooLarge`: body over the bulk limit.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn update_alerts(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    GraphJson(body): GraphJson<MAX_BULK_BYTES>,
) -> Result<Response, ApiError> {
    principal.require(Need::WRITE_ALERTS)?;
    let items = body
        .get("value")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::BadRequest("The body must be {\"value\": [alert, …]}.".into()))?;
    if items.is_empty() || items.len() > MAX_BULK_ITEMS {
        return Err(ApiError::BadRequest(format!(
            "value must hold between 1 and {MAX_BULK_ITEMS} alerts."
        )));
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::BadRequest(format!("value[{i}].id is required.")))?;
        let payload = writeback::parse_change(item, Some(id))
            .map_err(|e| ApiError::BadRequest(format!("value[{i}]: {e}")))?;
        parsed.push((id.to_string(), payload));
    }
    let mut out = Vec::with_capacity(parsed.len());
    for (id, payload) in parsed {
        let pre = Preconditions {
            if_match: None,
            principal: &principal,
        };
        let expected = payload.clone();
        let submitted = writeback::submit(&st, pre, &id, payload).await?;
        let read_at = st.federation.cache.write_generation(&principal.tenant_id);
        let (alert, _) = crate::routes::alerts::fetch_one(&st, &principal.tenant_id, &id).await?;
        let mut v = match alert {
            Some(mut a) => {
                a.id = submitted.unified_id.clone();
                expected.apply_to(&mut a);
                let mut one = [a];
                writeback::decorate(&st, &principal.tenant_id, &mut one, read_at).await?;
                let [a] = one;
                serde_json::to_value(a).map_err(|e| ApiError::Internal(e.to_string()))?
            }
            None => serde_json::json!({ "id": submitted.unified_id }),
        };
        if !submitted.all_delivered()
            && let Value::Object(m) = &mut v
        {
            m.insert(
                "vigilSync".into(),
                serde_json::to_value(&submitted.sync).unwrap_or(Value::Null),
            );
        }
        out.push(v);
    }
    let base = odata::base_url(&st.config.public_url, &headers);
    let body = serde_json::json!({
        "@odata.context": format!("{base}/{}/$metadata#Collection(microsoft.graph.alert)", version.segment()),
        "value": out,
    });
    json(StatusCode::OK, &body, None)
}

/// Operator routes (tenant-scoped: an admin sees and re-drives only their tenant's rows).
pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/vigil/admin/outbox", get(list_outbox))
        .route("/vigil/admin/outbox/{id}/retry", post(retry_outbox))
}

/// `?state=…&top=…` of the outbox listing, read by hand so a bad value is a Graph error.
#[derive(Debug, Default)]
pub struct OutboxQuery {
    state: Option<String>,
    top: Option<u32>,
}

impl OutboxQuery {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut q = OutboxQuery::default();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match k.as_ref() {
                "state" => q.state = Some(v.into_owned()),
                "top" => {
                    q.top = Some(v.parse().map_err(|_| {
                        ApiError::BadRequest(format!(
                            "top must be a whole number between 1 and 1000, not '{v}'."
                        ))
                    })?);
                }
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "Unknown query option '{other}'; use state and top."
                    )));
                }
            }
        }
        Ok(q)
    }
}

/// An outbox row as operators see it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxRow {
    pub id: i64,
    pub alert_id: String,
    pub provider: String,
    pub provider_alert_id: String,
    pub state: &'static str,
    pub attempts: i32,
    pub change: Value,
    pub created_date_time: String,
    pub next_attempt_date_time: String,
    pub last_error: Option<String>,
}

impl From<OutboxEntry> for OutboxRow {
    fn from(e: OutboxEntry) -> Self {
        OutboxRow {
            id: e.id,
            alert_id: e.unified_id,
            provider: e.source.provider,
            provider_alert_id: e.source.provider_alert_id,
            state: e.state.as_str(),
            attempts: e.attempts,
            change: e.payload,
            created_date_time: vigil_model::Timestamp::from_utc(e.created_at).to_wire(),
            next_attempt_date_time: vigil_model::Timestamp::from_utc(e.next_attempt_at).to_wire(),
            last_error: e.last_error,
        }
    }
}

/// Parses an outbox state name.
pub fn parse_state(s: &str) -> Option<OutboxState> {
    match s.to_ascii_lowercase().as_str() {
        "pending" => Some(OutboxState::Pending),
        "delivered" => Some(OutboxState::Delivered),
        "dead" | "failed" => Some(OutboxState::Dead),
        _ => None,
    }
}

/// `GET /vigil/admin/outbox?state=pending|delivered|dead&top=N`
#[utoipa::path(
    get,
    path = "/vigil/admin/outbox",
    operation_id = "listOutbox",
    tag = "admin",
    summary = "List the tenant's write-back outbox rows",
    params(
        ("state" = Option<String>, Query, description = "`pending`, `delivered` or `dead` (default `dead`)."),
        ("top" = Option<u32>, Query, description = "At most this many rows, oldest first (1-1000, default 100)."),
    ),
    security(("bearer" = ["Vigil.Admin"])),
    responses((status = 200, description = "`{\"value\": [row, ...]}`.", body = Object, content_type = "application/json")),
)]
pub async fn list_outbox(
    State(st): State<AppState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = OutboxQuery::parse(raw.as_deref())?;
    principal.require(Need::ADMIN)?;
    let state = match q.state.as_deref() {
        None => OutboxState::Dead,
        Some(s) => parse_state(s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Unknown outbox state '{s}'; use pending, delivered or dead."
            ))
        })?,
    };
    let top = q.top.unwrap_or(100);
    if !(1..=1000).contains(&top) {
        return Err(ApiError::BadRequest(
            "top must be between 1 and 1000.".into(),
        ));
    }
    let rows = st
        .federation
        .store
        .list_outbox(&principal.tenant_id, state, top)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let value: Vec<OutboxRow> = rows.into_iter().map(OutboxRow::from).collect();
    json(StatusCode::OK, &serde_json::json!({ "value": value }), None)
}

/// `POST /vigil/admin/outbox/{id}/retry`: a dead-lettered row goes back to pending.
#[utoipa::path(
    post,
    path = "/vigil/admin/outbox/{id}/retry",
    operation_id = "retryOutboxRow",
    tag = "admin",
    summary = "Re-drive a dead-lettered outbox row",
    params(("id" = i64, Path, description = "The outbox row id.")),
    security(("bearer" = ["Vigil.Admin"])),
    responses(
        (status = 200, description = "The row is pending again.", body = Object, content_type = "application/json"),
        (status = 404, description = "No dead-lettered row with that id in this tenant.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn retry_outbox(
    State(st): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    principal.require(Need::ADMIN)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("'{id}' is not an outbox row id.")))?;
    let ok = st
        .federation
        .store
        .redrive(&principal.tenant_id, id, chrono::Utc::now())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if !ok {
        return Err(ApiError::NotFound(format!(
            "No dead-lettered outbox row {id} in this tenant."
        )));
    }
    st.writeback.wake();
    json(
        StatusCode::OK,
        &serde_json::json!({ "id": id, "state": "pending" }),
        None,
    )
}
