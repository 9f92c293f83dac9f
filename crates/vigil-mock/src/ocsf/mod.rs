//! Mock OCSF Detection Finding source (`docs/partner-formats.md` §3).
//!
//! OCSF 1.3.0 fixes records (Detection Finding, class 2004; the User object), not an API, so the
//! REST surface is Vigil's own, of the kind OCSF data lakes and exporters put in front of their
//! findings:
//!
//! - Auth: a static API token per tenant (`Authorization: Bearer <token>`, see
//!   [`crate::core::Core::tenant_for_api_token`]); missing or wrong → `401 unauthorized`. A tenant
//!   sees and changes only its own records.
//! - `GET /api/v1/findings?limit=&cursor=&status_id=&severity_id_gte=&time_gte=&time_lt=` →
//!   `{"findings":[…],"next_cursor":…}`, newest `time` first (ties by `finding_info.uid`).
//!   `severity_id_gte` compares the numeric id, so 99 Other matches every bound, as a numeric
//!   filter on OCSF data does.
//! - `GET|PATCH /api/v1/findings/{uid}`; PATCH takes `status_id`, `comment`, `assignee`, `tags`
//!   (stored as `metadata.labels`), `verdict_id`, answers `200` with the finding, moves
//!   `activity_id` to 2 Update (3 Close when `status_id` becomes 4 Resolved) and advances
//!   `finding_info.modified_time`.
//! - `GET /api/v1/identity/users`, `/users/{uid}`, `GET /api/v1/identity/detections`, and
//!   `POST /api/v1/identity/users/{uid}/risk` `{"action":…}` → `200` the updated User.
//!
//! Input is strict, so an adapter bug shows as a `400` rather than as silently ignored data:
//! unknown query parameters or PATCH members, repeated parameters, `limit` outside 1..=500,
//! ids OCSF 1.3.0 does not define, and wrong JSON types are refused with the §3 error body.
//! Nothing a client sends can make a handler panic: bodies, paths and queries are parsed here
//! and every rejection becomes an error envelope.
//!
//! Every accepted PATCH and risk action is recorded with [`crate::core::Recorder::record_write`]
//! (body as received). Fault injection and request recording are layered around this router
//! by [`crate::server::MockProvider`].
//!
//! Not modelled: detections' own state changing when a user's risk is acted on (Entra dismisses
//! a user's detections with the user; this source only changes the user); time-window retention.

pub mod cursor;
pub mod render;

#[cfg(test)]
mod tests;

use crate::core::{Core, ProviderData};
use crate::kept::KeptAnswers;
use crate::wire::{json_body, json_response, ocsf_error};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, OriginalUri, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cursor::{Cursor, CursorKey, filter_digest};
use serde_json::{Map, Value, json};
use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Largest `limit`.
pub const MAX_LIMIT: usize = 500;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 100;

/// One stored record with its sort key.
#[derive(Debug, Clone)]
struct Record {
    time: i64,
    uid: String,
    doc: Value,
}

impl Record {
    fn sort_key(&self) -> (Reverse<i64>, &str) {
        (Reverse(self.time), self.uid.as_str())
    }

    /// Whether this record comes after the cursor's position.
    fn after(&self, c: &Cursor) -> bool {
        self.time < c.time || (self.time == c.time && self.uid.as_str() > c.uid.as_str())
    }
}

/// One tenant's records, each list in serving order.
#[derive(Debug, Default)]
struct TenantStore {
    findings: Vec<Record>,
    users: Vec<Record>,
    detections: Vec<Record>,
}

/// The router's state.
#[derive(Debug)]
pub struct OcsfState {
    core: Arc<Core>,
    key: CursorKey,
    tenants: Mutex<HashMap<String, TenantStore>>,
    /// Findings list answers by tenant and query, dropped by every change.
    finding_pages: KeptAnswers,
}

fn time_of(doc: &Value) -> i64 {
    doc.get("time").and_then(Value::as_i64).unwrap_or(0)
}

fn sorted(mut v: Vec<Record>) -> Vec<Record> {
    v.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    v
}

/// The OCSF source's routes, with their state applied.
pub fn router(core: Arc<Core>, data: ProviderData) -> Router {
    let mut tenants: HashMap<String, TenantStore> = core
        .tenants
        .iter()
        .map(|t| (t.clone(), TenantStore::default()))
        .collect();
    for a in &data.alerts {
        if let Some(store) = tenants.get_mut(&a.azure_tenant_id) {
            let doc = render::finding(a);
            store.findings.push(Record {
                time: time_of(&doc),
                uid: a.id.clone(),
                doc,
            });
        }
    }
    for u in &data.risky_users {
        let tenant = ProviderData::tenant_of(&u.additional_data);
        if let Some(store) = tenant.and_then(|t| tenants.get_mut(t)) {
            store.users.push(Record {
                time: 0,
                uid: u.id.clone(),
                doc: render::user(u),
            });
        }
    }
    for d in &data.risk_detections {
        let tenant = ProviderData::tenant_of(&d.additional_data);
        if let Some(store) = tenant.and_then(|t| tenants.get_mut(t)) {
            let doc = render::detection(d);
            store.detections.push(Record {
                time: time_of(&doc),
                uid: d.id.clone(),
                doc,
            });
        }
    }
    for store in tenants.values_mut() {
        store.findings = sorted(std::mem::take(&mut store.findings));
        store.users = sorted(std::mem::take(&mut store.users));
        store.detections = sorted(std::mem::take(&mut store.detections));
    }
    let st = Arc::new(OcsfState {
        core,
        key: CursorKey::random(),
        tenants: Mutex::new(tenants),
        finding_pages: KeptAnswers::default(),
    });
    Router::new()
        .route("/api/v1/findings", get(list_findings))
        .route(
            "/api/v1/findings/{uid}",
            get(get_finding).patch(patch_finding),
        )
        .route("/api/v1/identity/users", get(list_users))
        .route("/api/v1/identity/users/{uid}", get(get_user))
        .route("/api/v1/identity/users/{uid}/risk", post(risk_action))
        .route("/api/v1/identity/detections", get(list_detections))
        .fallback(not_found_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(st)
}

// ---- errors and auth -------------------------------------------------------------------------

/// An error answer in the §3 envelope.
#[derive(Debug)]
pub struct OcsfError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl OcsfError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
}

impl IntoResponse for OcsfError {
    fn into_response(self) -> Response {
        let mut resp = ocsf_error(self.status, self.code, &self.message);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

async fn not_found_route() -> OcsfError {
    OcsfError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> OcsfError {
    OcsfError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// The tenant whose API token came with the request.
pub struct OcsfTenant(pub String);

impl FromRequestParts<Arc<OcsfState>> for OcsfTenant {
    type Rejection = OcsfError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<OcsfState>,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = |m: &str| OcsfError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        let raw = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing API token"))?
            .to_str()
            .map_err(|_| unauthorized("unreadable Authorization header"))?;
        let (scheme, token) = raw
            .trim()
            .split_once(' ')
            .ok_or_else(|| unauthorized("expected 'Bearer <token>'"))?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized("expected 'Bearer <token>'"));
        }
        st.core
            .tenant_for_api_token(token.trim())
            .map(Self)
            .ok_or_else(|| unauthorized("invalid API token"))
    }
}

// ---- queries ---------------------------------------------------------------------------------

/// Query parameters, each at most once, all known.
fn params(
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
    allowed: &[&str],
) -> Result<HashMap<String, String>, OcsfError> {
    let Query(pairs) = q.map_err(|e| OcsfError::bad_request(format!("bad query: {e}")))?;
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if !allowed.contains(&k.as_str()) {
            return Err(OcsfError::bad_request(format!(
                "unknown query parameter '{k}'"
            )));
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(OcsfError::bad_request(format!("'{k}' given twice")));
        }
    }
    Ok(out)
}

fn int_param(p: &HashMap<String, String>, name: &str) -> Result<Option<i64>, OcsfError> {
    p.get(name)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| OcsfError::bad_request(format!("'{name}' must be an integer")))
        })
        .transpose()
}

fn limit_param(p: &HashMap<String, String>) -> Result<usize, OcsfError> {
    match int_param(p, "limit")? {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(usize::try_from(n).unwrap_or(1)),
        Some(_) => Err(OcsfError::bad_request(format!(
            "'limit' must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// One page of `records` (already filtered) after the cursor, with the next cursor.
fn page(
    st: &OcsfState,
    records: Vec<&Record>,
    listing: &str,
    tenant: &str,
    filters: u64,
    p: &HashMap<String, String>,
) -> Result<(Vec<Value>, Option<String>), OcsfError> {
    let limit = limit_param(p)?;
    let position = p
        .get("cursor")
        .map(|raw| {
            st.key.open(raw, listing, tenant, filters).map_err(|e| {
                OcsfError::new(StatusCode::BAD_REQUEST, "invalid_cursor", e.to_string())
            })
        })
        .transpose()?;
    let mut rest = records
        .into_iter()
        .filter(|r| position.as_ref().is_none_or(|c| r.after(c)))
        .peekable();
    let mut items = Vec::new();
    let mut last: Option<&Record> = None;
    while items.len() < limit {
        let Some(r) = rest.next() else { break };
        items.push(r.doc.clone());
        last = Some(r);
    }
    let next = match (last, rest.peek()) {
        (Some(l), Some(_)) => Some(st.key.seal(&Cursor {
            listing: listing.to_owned(),
            tenant: tenant.to_owned(),
            filters,
            time: l.time,
            uid: l.uid.clone(),
        })),
        _ => None,
    };
    Ok((items, next))
}

fn lock(st: &OcsfState) -> std::sync::MutexGuard<'_, HashMap<String, TenantStore>> {
    st.tenants.lock().unwrap_or_else(|e| e.into_inner())
}

async fn list_findings(
    State(st): State<Arc<OcsfState>>,
    OcsfTenant(tenant): OcsfTenant,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, OcsfError> {
    let key = format!("{tenant}\n{}", raw.as_deref().unwrap_or(""));
    if let Some(body) = st.finding_pages.get(&key) {
        return Ok(json_body(StatusCode::OK, body));
    }
    let p = params(
        q,
        &[
            "limit",
            "cursor",
            "status_id",
            "severity_id_gte",
            "time_gte",
            "time_lt",
        ],
    )?;
    let statuses: Option<Vec<i64>> = p
        .get("status_id")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().parse::<i64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    OcsfError::bad_request("'status_id' must be integers separated by commas")
                })
        })
        .transpose()?;
    let severity_gte = int_param(&p, "severity_id_gte")?;
    let time_gte = int_param(&p, "time_gte")?;
    let time_lt = int_param(&p, "time_lt")?;
    let mut sorted_statuses = statuses.clone().unwrap_or_default();
    sorted_statuses.sort_unstable();
    sorted_statuses.dedup();
    let digest = filter_digest(&[
        &format!("{:?}", statuses.as_ref().map(|_| &sorted_statuses)),
        &format!("{severity_gte:?}"),
        &format!("{time_gte:?}"),
        &format!("{time_lt:?}"),
    ]);
    let id_of = |doc: &Value, key: &str| doc.get(key).and_then(Value::as_i64);
    let (generation, items, next) = {
        let tenants = lock(&st);
        let generation = st.finding_pages.generation();
        let store = tenants
            .get(&tenant)
            .ok_or_else(|| OcsfError::not_found("tenant"))?;
        let matching: Vec<&Record> = store
            .findings
            .iter()
            .filter(|r| {
                statuses
                    .as_ref()
                    .is_none_or(|s| id_of(&r.doc, "status_id").is_some_and(|id| s.contains(&id)))
                    && severity_gte
                        .is_none_or(|g| id_of(&r.doc, "severity_id").is_some_and(|id| id >= g))
                    && time_gte.is_none_or(|g| r.time >= g)
                    && time_lt.is_none_or(|l| r.time < l)
            })
            .collect();
        let (items, next) = page(&st, matching, "findings", &tenant, digest, &p)?;
        (generation, items, next)
    };
    let body = axum::body::Bytes::from(json!({"findings": items, "next_cursor": next}).to_string());
    st.finding_pages.keep(generation, key, body.clone());
    Ok(json_body(StatusCode::OK, body))
}

async fn list_users(
    State(st): State<Arc<OcsfState>>,
    OcsfTenant(tenant): OcsfTenant,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, OcsfError> {
    let p = params(q, &["limit", "cursor"])?;
    let (items, next) = {
        let tenants = lock(&st);
        let store = tenants
            .get(&tenant)
            .ok_or_else(|| OcsfError::not_found("tenant"))?;
        page(&st, store.users.iter().collect(), "users", &tenant, 0, &p)?
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"users": items, "next_cursor": next}),
    ))
}

async fn list_detections(
    State(st): State<Arc<OcsfState>>,
    OcsfTenant(tenant): OcsfTenant,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, OcsfError> {
    let p = params(q, &["limit", "cursor"])?;
    let (items, next) = {
        let tenants = lock(&st);
        let store = tenants
            .get(&tenant)
            .ok_or_else(|| OcsfError::not_found("tenant"))?;
        page(
            &st,
            store.detections.iter().collect(),
            "detections",
            &tenant,
            0,
            &p,
        )?
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"findings": items, "next_cursor": next}),
    ))
}

// ---- single records --------------------------------------------------------------------------

fn uid_of(path: Result<Path<String>, PathRejection>) -> Result<String, OcsfError> {
    path.map(|Path(uid)| uid)
        .map_err(|e| OcsfError::bad_request(format!("bad path: {e}")))
}

fn body_of(body: Result<Json<Value>, JsonRejection>) -> Result<Map<String, Value>, OcsfError> {
    match body {
        Ok(Json(Value::Object(m))) => Ok(m),
        Ok(Json(_)) => Err(OcsfError::bad_request("the body must be a JSON object")),
        Err(e) => Err(OcsfError::bad_request(format!("bad body: {e}"))),
    }
}

async fn get_finding(
    State(st): State<Arc<OcsfState>>,
    OcsfTenant(tenant): OcsfTenant,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, OcsfError> {
    let uid = uid_of(path)?;
    let tenants = lock(&st);
    let doc = tenants
        .get(&tenant)
        .and_then(|s| s.findings.iter().find(|r| r.uid == uid))
        .map(|r| r.doc.clone())
        .ok_or_else(|| OcsfError::not_found("finding"))?;
    Ok(json_response(StatusCode::OK, &doc))
}

/// A validated PATCH: each member checked before anything changes.
struct FindingPatch {
    status_id: Option<i64>,
    comment: Option<Option<String>>,
    assignee: Option<Value>,
    tags: Option<Vec<String>>,
    verdict_id: Option<i64>,
}

fn parse_patch(body: &Map<String, Value>) -> Result<FindingPatch, OcsfError> {
    if body.is_empty() {
        return Err(OcsfError::bad_request("nothing to update"));
    }
    let mut p = FindingPatch {
        status_id: None,
        comment: None,
        assignee: None,
        tags: None,
        verdict_id: None,
    };
    for (k, v) in body {
        match k.as_str() {
            "status_id" => {
                let id = v
                    .as_i64()
                    .filter(|id| render::status_caption(*id).is_some());
                p.status_id = Some(id.ok_or_else(|| {
                    OcsfError::bad_request("'status_id' must be 0, 1, 2, 3, 4 or 99")
                })?);
            }
            "verdict_id" => {
                let id = v
                    .as_i64()
                    .filter(|id| render::verdict_caption(*id).is_some());
                p.verdict_id =
                    Some(id.ok_or_else(|| {
                        OcsfError::bad_request("'verdict_id' must be 0..=10 or 99")
                    })?);
            }
            "comment" => {
                p.comment = Some(match v {
                    Value::Null => None,
                    Value::String(s) if s.is_empty() => None,
                    Value::String(s) => Some(s.clone()),
                    _ => return Err(OcsfError::bad_request("'comment' must be a string or null")),
                });
            }
            "assignee" => {
                let ok = match v {
                    Value::Null => true,
                    Value::Object(m) => {
                        !m.is_empty()
                            && m.iter().all(|(k, v)| {
                                matches!(k.as_str(), "name" | "email_addr" | "uid") && v.is_string()
                            })
                    }
                    _ => false,
                };
                if !ok {
                    return Err(OcsfError::bad_request(
                        "'assignee' must be null or a User with string name/email_addr/uid",
                    ));
                }
                p.assignee = Some(v.clone());
            }
            "tags" => {
                let tags = v
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|t| t.as_str().map(str::to_owned))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| OcsfError::bad_request("'tags' must be a list of strings"))?;
                p.tags = Some(tags);
            }
            other => {
                return Err(OcsfError::bad_request(format!(
                    "'{other}' cannot be updated"
                )));
            }
        }
    }
    Ok(p)
}

/// Now in epoch ms, strictly after `previous`.
fn advance(previous: Option<i64>) -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    previous.map_or(now, |p| now.max(p.saturating_add(1)))
}

fn set_time(m: &mut Map<String, Value>, key: &str, ms: i64) {
    m.insert(key.into(), json!(ms));
    if let Some(t) = vigil_model::Timestamp::from_epoch_millis(ms) {
        m.insert(format!("{key}_dt"), json!(t.to_wire()));
    }
}

fn apply_patch(doc: &mut Value, p: &FindingPatch) {
    let Some(d) = doc.as_object_mut() else { return };
    if let Some(id) = p.status_id {
        d.insert("status_id".into(), json!(id));
        d.insert("status".into(), json!(render::status_caption(id)));
    }
    if let Some(id) = p.verdict_id {
        d.insert("verdict_id".into(), json!(id));
        d.insert("verdict".into(), json!(render::verdict_caption(id)));
    }
    match &p.comment {
        Some(Some(c)) => {
            d.insert("comment".into(), json!(c));
        }
        Some(None) => {
            d.remove("comment");
        }
        None => {}
    }
    match &p.assignee {
        Some(Value::Null) => {
            d.remove("assignee");
        }
        Some(a) => {
            d.insert("assignee".into(), a.clone());
        }
        None => {}
    }
    if let Some(tags) = &p.tags {
        let meta = d.entry("metadata").or_insert_with(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.insert("labels".into(), json!(tags));
        }
    }
    let activity = if p.status_id == Some(4) { 3 } else { 2 };
    render::set_activity(d, activity);
    let info = d.entry("finding_info").or_insert_with(|| json!({}));
    if let Some(info) = info.as_object_mut() {
        let prev = info.get("modified_time").and_then(Value::as_i64);
        set_time(info, "modified_time", advance(prev));
    }
}

async fn patch_finding(
    State(st): State<Arc<OcsfState>>,
    OcsfTenant(tenant): OcsfTenant,
    OriginalUri(uri): OriginalUri,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, OcsfError> {
    let uid = uid_of(path)?;
    let body = body_of(body)?;
    let patch = parse_patch(&body)?;
    let doc = {
        let mut tenants = lock(&st);
        st.finding_pages.changing();
        let record = tenants
            .get_mut(&tenant)
            .and_then(|s| s.findings.iter_mut().find(|r| r.uid == uid))
            .ok_or_else(|| OcsfError::not_found("finding"))?;
        apply_patch(&mut record.doc, &patch);
        record.doc.clone()
    };
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    st.core
        .recorder
        .record_write(&tenant, "PATCH", path_and_query, Value::Object(body));
    Ok(json_response(StatusCode::OK, &doc))
}

async fn get_user(
    State(st): State<Arc<OcsfState>>,
    OcsfTenant(tenant): OcsfTenant,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, OcsfError> {
    let uid = uid_of(path)?;
    let tenants = lock(&st);
    let doc = tenants
        .get(&tenant)
        .and_then(|s| s.users.iter().find(|r| r.uid == uid))
        .map(|r| r.doc.clone())
        .ok_or_else(|| OcsfError::not_found("user"))?;
    Ok(json_response(StatusCode::OK, &doc))
}

/// What a risk action sets: `risk_level_id`, caption, score, `risk_state`, `risk_detail`.
fn action_effect(action: &str) -> Option<(i64, &'static str, i64, &'static str, &'static str)> {
    Some(match action {
        "confirm_compromised" => (
            3,
            "High",
            90,
            "confirmedCompromised",
            "adminConfirmedUserCompromised",
        ),
        "dismiss" => (0, "Info", 0, "dismissed", "adminDismissedAllRiskForUser"),
        "confirm_safe" => (0, "Info", 0, "confirmedSafe", "adminConfirmedSigninSafe"),
        _ => return None,
    })
}

async fn risk_action(
    State(st): State<Arc<OcsfState>>,
    OcsfTenant(tenant): OcsfTenant,
    OriginalUri(uri): OriginalUri,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, OcsfError> {
    let uid = uid_of(path)?;
    let body = body_of(body)?;
    if let Some(k) = body.keys().find(|k| k.as_str() != "action") {
        return Err(OcsfError::bad_request(format!("unknown member '{k}'")));
    }
    let effect = body
        .get("action")
        .and_then(Value::as_str)
        .and_then(action_effect)
        .ok_or_else(|| {
            OcsfError::bad_request("'action' must be confirm_compromised, dismiss or confirm_safe")
        })?;
    let (level_id, level, score, state, detail) = effect;
    let doc = {
        let mut tenants = lock(&st);
        st.finding_pages.changing();
        let record = tenants
            .get_mut(&tenant)
            .and_then(|s| s.users.iter_mut().find(|r| r.uid == uid))
            .ok_or_else(|| OcsfError::not_found("user"))?;
        if let Some(d) = record.doc.as_object_mut() {
            d.insert("risk_level_id".into(), json!(level_id));
            d.insert("risk_level".into(), json!(level));
            d.insert("risk_score".into(), json!(score));
            let un = d.entry("unmapped").or_insert_with(|| json!({}));
            if let Some(un) = un.as_object_mut() {
                let prev = un.get("risk_updated_time").and_then(Value::as_i64);
                un.insert("risk_state".into(), json!(state));
                un.insert("risk_detail".into(), json!(detail));
                un.insert("risk_updated_time".into(), json!(advance(prev)));
            }
        }
        record.doc.clone()
    };
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    st.core
        .recorder
        .record_write(&tenant, "POST", path_and_query, Value::Object(body));
    Ok(json_response(StatusCode::OK, &doc))
}
