//! The Microsoft Graph mock: the Entra v2 token endpoint (client credentials), the legacy
//! `/security/alerts` API and identity protection, under `/v1.0` and `/beta`.
//!
//! Decisions (what real Graph does, and where the mock picks a behaviour the docs leave open):
//! - **Tokens**: `POST /{tenantId}/oauth2/v2.0/token` with the tenant's client id/secret (form
//!   fields or HTTP Basic). Wrong or unknown client, or a client of another tenant → `401
//!   invalid_client` AADSTS7000215 (`docs/partner-formats.md`); unknown tenant → `400
//!   invalid_request` AADSTS90002; a grant other than `client_credentials` → `400
//!   unsupported_grant_type`; missing scope → AADSTS900144, a scope without `/.default` →
//!   AADSTS1002012. Tokens are opaque (not JWTs) and valid for the configured TTL.
//! - **Auth**: `Authorization: Bearer` must name a live token of this mock; missing, unknown
//!   and expired tokens all get `401 InvalidAuthenticationToken` + `WWW-Authenticate: Bearer`.
//!   The token's tenant scopes everything: another tenant's alert id is a 404.
//! - **Query options** are parsed and evaluated by `vigil_model::query` (the same engine as the
//!   gateway), so `$filter`/`$orderby`/`$select` errors are the gateway's 400s. `$top` defaults
//!   to [`DEFAULT_TOP`] (Graph's default is undocumented; the spec recommends 50) and is at most
//!   1000; `$skip` at most 500.
//! - **Paging**: when more items remain, `@odata.nextLink` is an absolute URL on the host the
//!   caller used (`Host` header), repeating the original options (minus `$skip`) and adding
//!   `$skiptoken`. The token is stateless: a fingerprint of the query plus an offset, so a token
//!   used with other options is a 400. Offsets are over the current data: a PATCH that changes
//!   whether an alert matches the filter between two pages can shift the window (real Graph
//!   gives no stronger guarantee).
//! - **PATCH**: `vendorInformation.provider` and `.vendor` are mandatory (400 otherwise) and the
//!   provider must be the alert's own (Graph routes the update by it; a mismatch is a 400).
//!   Updatable fields are applied, read-only ones ignored, a wrongly typed updatable field is a
//!   400. A `historyStates` entry is appended (`appId` = the caller's client id), and the write
//!   is recorded with its body. `204`, or `200` + the alert with `Prefer: return=representation`.
//! - **Writes are recorded when the handler runs** (after authentication, before validation),
//!   so a rejected body is still "what reached the provider". A request the fault layer answered
//!   itself (429/5xx/hang) never reaches the handler and is not a write.
//! - **Identity actions** (`confirmCompromised`, `dismiss`, `confirmSafe`) change the listed
//!   users as spec §5 says, append a history item (`initiatedBy` = the caller's client id),
//!   record the write and answer `204`. Ids that are not risky users of the tenant are ignored,
//!   an empty or missing `userIds` is a 400.
//! - Evolvable enum members (`adminConfirmedAccountSafe`, …) are replaced by
//!   `unknownFutureValue` unless the caller sends `Prefer: include-unknown-enum-members`.

use crate::core::{Core, ProviderData, TokenRejection, strip_mock_keys};
use crate::kept::KeptAnswers;
use crate::wire::{self, GRAPH_JSON, client_request_id, graph_error};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use vigil_model::query::{
    ALERT, QueryOptions, RISK_DETECTION, RISKY_USER, RISKY_USER_HISTORY_ITEM, Schema,
};
use vigil_model::{
    AlertFeedback, AlertHistoryState, AlertStatus, GraphEnum, HideEvolvable, RiskDetail, RiskLevel,
    RiskState, RiskUserActivity, RiskyUserHistoryItem, Timestamp,
};

/// Page size when `$top` is absent.
pub const DEFAULT_TOP: usize = 50;

struct GraphState {
    core: Arc<Core>,
    data: Mutex<ProviderData>,
    /// Each tenant's alerts as JSON, built on the first list after a change: a list then
    /// costs its page, not every alert's conversion (the benchmarks run many mocks on the
    /// gateway's cores). Cleared by every alert change.
    alert_values: Mutex<HashMap<String, Arc<Vec<Value>>>>,
    /// Alert list answers by request (tenant, base URL, version, path, query), dropped by every
    /// alert change like `alert_values`.
    alert_pages: KeptAnswers,
}

type St = Arc<GraphState>;

impl GraphState {
    /// The tenant's alerts as Graph JSON (see [`GraphState::alert_values`]).
    /// With the alert generation they were read at.
    fn alert_values_of(&self, tenant: &str) -> (u64, Arc<Vec<Value>>) {
        // Data first, then the memo: the order an alert change takes them in.
        let data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let generation = self.alert_pages.generation();
        let mut memo = self.alert_values.lock().unwrap_or_else(|e| e.into_inner());
        let values = memo
            .entry(tenant.to_string())
            .or_insert_with(|| Arc::new(data.alerts_of(tenant).map(to_value).collect()))
            .clone();
        (generation, values)
    }

    /// Forgets every derived view of the alerts; called with the data lock held, before the
    /// alerts change.
    fn alerts_changing(&self) {
        self.alert_pages.changing();
        self.alert_values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// The Graph mock's product routes, state applied.
pub fn router(core: Arc<Core>, data: ProviderData) -> Router {
    let state = Arc::new(GraphState {
        core,
        data: Mutex::new(data),
        alert_values: Mutex::default(),
        alert_pages: KeptAnswers::default(),
    });
    let api = Router::new()
        .route("/security/alerts", get(list_alerts))
        .route("/security/alerts/", get(list_alerts))
        .route("/security/alerts/{id}", get(get_alert).patch(patch_alert))
        .route("/identityProtection/riskyUsers", get(list_risky_users))
        .route(
            "/identityProtection/riskyUsers/{id}",
            get(get_risky_user).post(risky_user_action),
        )
        .route(
            "/identityProtection/riskyUsers/{id}/history",
            get(list_history),
        )
        .route(
            "/identityProtection/riskyUsers/{id}/history/{hid}",
            get(get_history_item),
        )
        .route("/identityProtection/riskDetections", get(list_detections))
        .route(
            "/identityProtection/riskDetections/{id}",
            get(get_detection),
        );
    // Beta also serves the identity collections at the root (spec §5).
    let beta = api
        .clone()
        .route("/riskyUsers", get(list_risky_users))
        .route(
            "/riskyUsers/{id}",
            get(get_risky_user).post(risky_user_action),
        )
        .route("/riskyUsers/{id}/history", get(list_history))
        .route("/riskDetections", get(list_detections))
        .route("/riskDetections/{id}", get(get_detection));
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .nest("/v1.0", api)
        .nest("/beta", beta)
        .fallback(unknown_segment)
        .with_state(state)
}

// ---- common helpers -----------------------------------------------------------------------

/// Everything a handler needs to know about the call.
struct Call {
    tenant: String,
    headers: HeaderMap,
    /// `http://host:port`.
    base: String,
    /// `/v1.0` or `/beta`.
    version: &'static str,
    path: String,
    raw_query: Option<String>,
}

impl Call {
    fn error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        graph_error(
            status,
            code,
            message,
            client_request_id(&self.headers).as_deref(),
        )
    }

    fn bad_request(&self, message: &str) -> Response {
        self.error(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    fn not_found(&self, what: &str, id: &str) -> Response {
        self.error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("{what} '{id}' was not found."),
        )
    }

    fn include_evolvable(&self) -> bool {
        prefers(&self.headers, "include-unknown-enum-members")
    }

    fn context(&self, fragment: &str) -> String {
        format!("{}{}/$metadata#{fragment}", self.base, self.version)
    }
}

fn prefers(headers: &HeaderMap, token: &str) -> bool {
    headers.get_all("prefer").iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|p| p.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// Authenticates the caller; the error is the finished 401.
fn authorize(
    st: &GraphState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<Call, Box<Response>> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let crid = client_request_id(headers);
    let tenant = st.core.tokens.validate_header(auth).map_err(|r| {
        let message = match r {
            TokenRejection::Missing => "Access token is empty.",
            TokenRejection::Unknown => "Invalid JWT token. The token is not recognized.",
            TokenRejection::Expired => {
                "Lifetime validation failed, the token is expired."
            }
        };
        let mut resp = graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
            crid.as_deref(),
        );
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ),
        );
        Box::new(resp)
    })?;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("127.0.0.1");
    let path = uri.path().to_string();
    let version = if path.starts_with("/beta") {
        "/beta"
    } else {
        "/v1.0"
    };
    Ok(Call {
        tenant,
        headers: headers.clone(),
        base: format!("http://{host}"),
        version,
        path,
        raw_query: uri.query().map(str::to_string),
    })
}

/// A Graph JSON response with the usual headers.
fn graph_json(call: &Call, status: StatusCode, body: &Value) -> Response {
    graph_json_bytes(call, status, body.to_string().into())
}

fn graph_json_bytes(call: &Call, status: StatusCode, body: Bytes) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(GRAPH_JSON));
    h.insert(
        HeaderName::from_static("odata-version"),
        HeaderValue::from_static("4.0"),
    );
    let rid = uuid::Uuid::new_v4().to_string();
    let crid = client_request_id(&call.headers).unwrap_or_else(|| rid.clone());
    if let Ok(v) = HeaderValue::from_str(&rid) {
        h.insert(HeaderName::from_static("request-id"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&crid) {
        h.insert(HeaderName::from_static("client-request-id"), v);
    }
    resp
}

fn to_value<T: Serialize>(item: &T) -> Value {
    serde_json::to_value(item).unwrap_or(Value::Null)
}

/// Serializes an identity item: mock keys stripped, evolvable members hidden unless asked for.
fn identity_value<T: Serialize + HideEvolvable + Clone>(
    item: &T,
    additional: impl Fn(&mut T) -> &mut Map<String, Value>,
    include_evolvable: bool,
) -> Value {
    let mut copy = item.clone();
    strip_mock_keys(additional(&mut copy));
    if !include_evolvable {
        copy.hide_evolvable_members();
    }
    to_value(&copy)
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

fn is_paging_key(k: &str) -> bool {
    let bare = k.strip_prefix('$').unwrap_or(k);
    bare.eq_ignore_ascii_case("skip") || bare.eq_ignore_ascii_case("skiptoken")
}

/// FNV-1a over the non-paging options, so a skiptoken is bound to its query.
fn fingerprint(path: &str, pairs: &[(String, String)]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |s: &str| {
        for b in s.bytes().chain(std::iter::once(0)) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(path);
    for (k, v) in pairs.iter().filter(|(k, _)| !is_paging_key(k)) {
        feed(&k.to_ascii_lowercase());
        feed(v);
    }
    h
}

fn encode_skiptoken(fp: u64, offset: usize) -> String {
    format!("{fp:016x}{offset:08x}")
}

fn decode_skiptoken(token: &str, fp: u64) -> Option<usize> {
    if token.len() != 24 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let got = u64::from_str_radix(token.get(..16)?, 16).ok()?;
    let offset = usize::from_str_radix(token.get(16..)?, 16).ok()?;
    (got == fp).then_some(offset)
}

fn encode_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Filters, orders, pages and selects `items`, and builds the collection response.
fn collection(call: &Call, schema: &'static Schema, context: &str, items: &[Value]) -> Response {
    match collection_body(call, schema, context, items) {
        Ok(body) => graph_json_bytes(call, StatusCode::OK, body.into()),
        Err(resp) => *resp,
    }
}

/// A collection's `200` body, or the error answer.
fn collection_body(
    call: &Call,
    schema: &'static Schema,
    context: &str,
    items: &[Value],
) -> Result<String, Box<Response>> {
    let pairs = query_pairs(call.raw_query.as_deref());
    let opts = match QueryOptions::parse(&pairs, schema) {
        Ok(o) => o,
        Err(e) => return Err(Box::new(call.bad_request(&e.to_string()))),
    };
    // Positions in `items`, filtered and ordered; only the page is copied.
    let kept: Vec<bool> = items
        .iter()
        .map(|v| opts.filter.as_ref().is_none_or(|f| f.matches(v)))
        .collect();
    let order: Vec<usize> = match &opts.orderby {
        Some(o) => o.sorted_indices(items),
        None => (0..items.len()).collect(),
    };
    let order: Vec<usize> = order.into_iter().filter(|&i| kept[i]).collect();
    let total = order.len();
    let fp = fingerprint(&call.path, &pairs);
    let offset = match &opts.skiptoken {
        Some(t) => match decode_skiptoken(t, fp) {
            Some(o) => o,
            None => {
                return Err(Box::new(call.bad_request(
                    "The $skiptoken is invalid or was issued for a different query.",
                )));
            }
        },
        None => opts.skip.map(|s| s as usize).unwrap_or(0),
    };
    let top = opts.top.map(|t| t as usize).unwrap_or(DEFAULT_TOP);
    let end = offset.saturating_add(top).min(total);
    let mut page: Vec<Value> = if offset < total {
        order[offset..end]
            .iter()
            .map(|&i| items[i].clone())
            .collect()
    } else {
        Vec::new()
    };
    if let Some(sel) = &opts.select {
        for v in &mut page {
            sel.apply(v);
        }
    }
    let ctx = match &opts.select {
        Some(sel) => call.context(&format!("{context}({})", sel.to_odata())),
        None => call.context(context),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(ctx));
    if opts.count {
        body.insert("@odata.count".into(), json!(total));
    }
    if end < total {
        let mut q: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| !is_paging_key(k))
            .map(|(k, v)| format!("{}={}", encode_key(k), encode_component(v)))
            .collect();
        q.push(format!("$skiptoken={}", encode_skiptoken(fp, end)));
        body.insert(
            "@odata.nextLink".into(),
            Value::String(format!("{}{}?{}", call.base, call.path, q.join("&"))),
        );
    }
    body.insert("value".into(), Value::Array(page));
    Ok(Value::Object(body).to_string())
}

/// Query option names keep their `$` (Graph's nextLinks do); anything unusual is encoded.
fn encode_key(k: &str) -> String {
    if k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'$') {
        k.to_string()
    } else {
        encode_component(k)
    }
}

/// One entity with `@odata.context`, `$select` applied if given.
fn entity(call: &Call, schema: &'static Schema, context: &str, item: Value) -> Response {
    let pairs = query_pairs(call.raw_query.as_deref());
    let opts = match QueryOptions::parse(&pairs, schema) {
        Ok(o) => o,
        Err(e) => return call.bad_request(&e.to_string()),
    };
    let mut item = item;
    if let Some(sel) = &opts.select {
        sel.apply(&mut item);
    }
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Value::String(call.context(&format!("{context}/$entity"))),
    );
    if let Value::Object(m) = item {
        body.extend(m);
    }
    graph_json(call, StatusCode::OK, &Value::Object(body))
}

async fn unknown_segment(OriginalUri(uri): OriginalUri, headers: HeaderMap) -> Response {
    let segment = uri.path().rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    graph_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &format!("Resource not found for the segment '{segment}'."),
        client_request_id(&headers).as_deref(),
    )
}

// ---- token endpoint -----------------------------------------------------------------------

fn aad_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let trace = uuid::Uuid::new_v4().to_string();
    let correlation = uuid::Uuid::new_v4().to_string();
    let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    wire::json_response(
        status,
        &json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
        }),
    )
}

/// `client_id`/`client_secret` from HTTP Basic (`client_secret_basic`).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64_lite::decode;
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = String::from_utf8(decode(b64.trim())?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

async fn token(
    State(st): State<St>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if !st
        .core
        .tenants
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&tenant))
    {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    match field("grant_type").as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            );
        }
        None => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            );
        }
    }
    let (client_id, secret) = match (field("client_id"), field("client_secret")) {
        (Some(id), Some(secret)) => (id, secret),
        (id, None) => match basic_credentials(&headers) {
            Some(pair) => pair,
            None if id.is_none() => {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'client_id'.",
                );
            }
            None => {
                return aad_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.",
                );
            }
        },
        (None, Some(_)) => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            );
        }
    };
    match field("scope") {
        None => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            );
        }
        Some(s) if !s.split(' ').any(|p| p.ends_with("/.default")) => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                1002012,
                &format!(
                    "The provided value for scope {s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            );
        }
        Some(_) => {}
    }
    match st.core.tenant_for_client(&client_id, &secret) {
        Some(t) if t.eq_ignore_ascii_case(&tenant) => {
            let ttl = st.core.token_ttl;
            let access = st.core.tokens.issue(&t, ttl);
            wire::json_response(
                StatusCode::OK,
                &json!({
                    "token_type": "Bearer",
                    "expires_in": ttl.as_secs(),
                    "ext_expires_in": ttl.as_secs(),
                    "access_token": access,
                }),
            )
        }
        _ => aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.",
        ),
    }
}

/// Minimal standard base64 decoding for HTTP Basic credentials (no extra dependency for one
/// header).
mod base64_lite {
    pub fn decode(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len() * 3 / 4);
        let mut buf = 0u32;
        let mut bits = 0u32;
        for c in s.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' | b'-' => 62,
                b'/' | b'_' => 63,
                b'=' => break,
                _ => return None,
            };
            buf = (buf << 6) | u32::from(v);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push(u8::try_from((buf >> bits) & 0xff).ok()?);
            }
        }
        Some(out)
    }
}

// ---- alerts -------------------------------------------------------------------------------

async fn list_alerts(
    State(st): State<St>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let call = match authorize(&st, &headers, &uri) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let key = format!(
        "{}\n{}\n{}\n{}\n{}",
        call.tenant,
        call.base,
        call.version,
        call.path,
        call.raw_query.as_deref().unwrap_or("")
    );
    if let Some(body) = st.alert_pages.get(&key) {
        return graph_json_bytes(&call, StatusCode::OK, body);
    }
    let (generation, items) = st.alert_values_of(&call.tenant);
    match collection_body(&call, &ALERT, "security/alerts", &items) {
        Ok(body) => {
            let body = Bytes::from(body);
            st.alert_pages.keep(generation, key, body.clone());
            graph_json_bytes(&call, StatusCode::OK, body)
        }
        Err(resp) => *resp,
    }
}

/// `GET /security/alerts/$count`: the number of matching alerts as plain text.
fn count_alerts(st: &GraphState, call: &Call) -> Response {
    let pairs = query_pairs(call.raw_query.as_deref());
    let opts = match QueryOptions::parse(&pairs, &ALERT) {
        Ok(o) => o,
        Err(e) => return call.bad_request(&e.to_string()),
    };
    let n = {
        let data = st.data.lock().unwrap_or_else(|e| e.into_inner());
        data.alerts_of(&call.tenant)
            .map(to_value)
            .filter(|v| opts.filter.as_ref().is_none_or(|f| f.matches(v)))
            .count()
    };
    let mut resp = (StatusCode::OK, n.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=utf-8"),
    );
    resp
}

async fn get_alert(
    State(st): State<St>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let call = match authorize(&st, &headers, &uri) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if id == "$count" {
        return count_alerts(&st, &call);
    }
    let found = {
        let data = st.data.lock().unwrap_or_else(|e| e.into_inner());
        data.alerts_of(&call.tenant)
            .find(|a| a.id == id)
            .map(to_value)
    };
    match found {
        Some(v) => entity(&call, &ALERT, "security/alerts", v),
        None => call.not_found("Alert", &id),
    }
}

/// A body field that must be a string or null.
fn opt_string(v: &Value, name: &str) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(format!("Property '{name}' must be a string or null.")),
    }
}

fn string_list(v: &Value, name: &str) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("Property '{name}' must be an array of strings."))
            })
            .collect(),
        _ => Err(format!("Property '{name}' must be an array of strings.")),
    }
}

fn enum_value<E: GraphEnum>(v: &Value, name: &str) -> Result<Option<E>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => E::parse_exact(s)
            .map(Some)
            .ok_or_else(|| format!("'{s}' is not a valid value for property '{name}'.")),
        _ => Err(format!("Property '{name}' must be a string.")),
    }
}

/// The updatable fields of a PATCH body, validated.
#[derive(Default)]
struct AlertUpdate {
    assigned_to: Option<Option<String>>,
    closed: Option<Option<Timestamp>>,
    comments: Option<Vec<String>>,
    feedback: Option<Option<AlertFeedback>>,
    status: Option<AlertStatus>,
    tags: Option<Vec<String>>,
}

fn parse_update(body: &Map<String, Value>) -> Result<(AlertUpdate, String), String> {
    let vendor = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("vendorInformation"))
        .map(|(_, v)| v)
        .and_then(Value::as_object)
        .ok_or(
            "The property 'vendorInformation' is required and must carry 'provider' and 'vendor'.",
        )?;
    let non_empty = |key: &str| {
        vendor
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.as_str())
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    };
    let provider = non_empty("provider").ok_or("vendorInformation.provider is required.")?;
    non_empty("vendor").ok_or("vendorInformation.vendor is required.")?;
    let mut u = AlertUpdate::default();
    for (k, v) in body {
        match k.to_ascii_lowercase().as_str() {
            "assignedto" => u.assigned_to = Some(opt_string(v, "assignedTo")?),
            "closeddatetime" => {
                u.closed = Some(match opt_string(v, "closedDateTime")? {
                    None => None,
                    Some(s) => Some(Timestamp::parse(&s).map_err(|e| e.to_string())?),
                })
            }
            "comments" => u.comments = Some(string_list(v, "comments")?),
            "feedback" => u.feedback = Some(enum_value::<AlertFeedback>(v, "feedback")?),
            "status" => {
                u.status = Some(
                    enum_value::<AlertStatus>(v, "status")?
                        .ok_or("Property 'status' cannot be null.")?,
                )
            }
            "tags" => u.tags = Some(string_list(v, "tags")?),
            _ => {}
        }
    }
    Ok((u, provider))
}

async fn patch_alert(
    State(st): State<St>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match authorize(&st, &headers, &uri) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let recorded = match &parsed {
        Ok(v) => v.clone(),
        Err(_) => Value::String(String::from_utf8_lossy(&body).into_owned()),
    };
    let full_path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| call.path.clone());
    st.core
        .recorder
        .record_write(&call.tenant, Method::PATCH.as_str(), &full_path, recorded);
    let obj = match parsed {
        Ok(Value::Object(m)) => m,
        Ok(_) => return call.bad_request("The request body must be a JSON object."),
        Err(e) => return call.bad_request(&format!("Invalid JSON in the request body: {e}")),
    };
    let (update, provider) = match parse_update(&obj) {
        Ok(u) => u,
        Err(m) => return call.bad_request(&m),
    };
    let app_id = st.core.credentials(&call.tenant).client_id;
    let updated = {
        let mut data = st.data.lock().unwrap_or_else(|e| e.into_inner());
        st.alerts_changing();
        let Some(alert) = data
            .alerts
            .iter_mut()
            .find(|a| a.id == id && a.azure_tenant_id == call.tenant)
        else {
            return call.not_found("Alert", &id);
        };
        let own = alert.vendor_information.provider.as_deref().unwrap_or("");
        if !own.eq_ignore_ascii_case(&provider) {
            return call.bad_request(&format!(
                "vendorInformation.provider '{provider}' does not own alert '{id}'."
            ));
        }
        let now = Timestamp::now();
        if let Some(a) = update.assigned_to {
            alert.assigned_to = a;
        }
        if let Some(c) = update.closed {
            alert.closed_date_time = c;
        }
        if let Some(c) = &update.comments {
            alert.comments = c.clone();
        }
        if let Some(f) = update.feedback {
            alert.feedback = f;
        }
        if let Some(s) = update.status {
            alert.status = s;
            if matches!(s, AlertStatus::Resolved | AlertStatus::Dismissed)
                && alert.closed_date_time.is_none()
            {
                alert.closed_date_time = Some(now);
            }
        }
        if let Some(t) = update.tags {
            alert.tags = t;
        }
        alert.last_modified_date_time = Some(now);
        alert.history_states.push(AlertHistoryState {
            app_id: Some(app_id),
            assigned_to: alert.assigned_to.clone(),
            comments: update.comments.unwrap_or_default(),
            feedback: alert.feedback,
            status: Some(alert.status),
            updated_date_time: Some(now),
            user: None,
        });
        to_value(&*alert)
    };
    if prefers(&headers, "return=representation") {
        entity(&call, &ALERT, "security/alerts", updated)
    } else {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            resp.headers_mut()
                .insert(HeaderName::from_static("request-id"), v);
        }
        resp
    }
}

// ---- identity -----------------------------------------------------------------------------

async fn list_risky_users(
    State(st): State<St>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let call = match authorize(&st, &headers, &uri) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let evolvable = call.include_evolvable();
    let items: Vec<Value> = {
        let data = st.data.lock().unwrap_or_else(|e| e.into_inner());
        data.risky_users_of(&call.tenant)
            .map(|u| identity_value(u, |x| &mut x.additional_data, evolvable))
            .collect()
    };
    collection(&call, &RISKY_USER, "identityProtection/riskyUsers", &items)
}

async fn get_risky_user(
    State(st): State<St>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let call = match authorize(&st, &headers, &uri) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let evolvable = call.include_evolvable();
    let found = {
        let data = st.data.lock().unwrap_or_else(|e| e.into_inner());
        data.risky_users_of(&call.tenant)
            .find(|u| u.id.eq_ignore_ascii_case(&id))
            .map(|u| identity_value(u, |x| &mut x.additional_data, evolvable))
    };
    match found {
        Some(v) => entity(&call, &RISKY_USER, "identityProtection/riskyUsers", v),
        None => call.not_found("riskyUser", &id),
    }
}

async fn list_history(
    State(st): State<St>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let call = match authorize(&st, &headers, &uri) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let evolvable = call.include_evolvable();
    let items: Option<Vec<Value>> = {
        let data = st.data.lock().unwrap_or_else(|e| e.into_inner());
        let known = data
            .risky_users_of(&call.tenant)
            .any(|u| u.id.eq_ignore_ascii_case(&id));
        known.then(|| {
            data.risky_user_history_of(&call.tenant)
                .filter(|h| {
                    h.user_id
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(&id))
                })
                .map(|h| identity_value(h, |x| &mut x.additional_data, evolvable))
                .collect()
        })
    };
    match items {
        Some(items) => collection(
            &call,
            &RISKY_USER_HISTORY_ITEM,
            &format!("identityProtection/riskyUsers('{id}')/history"),
            &items,
        ),
        None => call.not_found("riskyUser", &id),
    }
}

async fn get_history_item(
    State(st): State<St>,
    Path((id, hid)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let call = match authorize(&st, &headers, &uri) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let evolvable = call.include_evolvable();
    let found = {
        let data = st.data.lock().unwrap_or_else(|e| e.into_inner());
        data.risky_user_history_of(&call.tenant)
            .find(|h| {
                h.id.eq_ignore_ascii_case(&hid)
                    && h.user_id
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(&id))
            })
            .map(|h| identity_value(h, |x| &mut x.additional_data, evolvable))
    };
    match found {
        Some(v) => entity(
            &call,
            &RISKY_USER_HISTORY_ITEM,
            &format!("identityProtection/riskyUsers('{id}')/history"),
            v,
        ),
        None => call.not_found("riskyUserHistoryItem", &hid),
    }
}

/// `POST .../riskyUsers/{confirmCompromised|dismiss|confirmSafe}`.
async fn risky_user_action(
    State(st): State<St>,
    Path(action): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match authorize(&st, &headers, &uri) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let (state, level, detail) = match action.as_str() {
        "confirmCompromised" => (
            RiskState::ConfirmedCompromised,
            RiskLevel::High,
            RiskDetail::AdminConfirmedUserCompromised,
        ),
        "dismiss" => (
            RiskState::Dismissed,
            RiskLevel::None,
            RiskDetail::AdminDismissedAllRiskForUser,
        ),
        "confirmSafe" => (
            RiskState::ConfirmedSafe,
            RiskLevel::None,
            RiskDetail::AdminConfirmedAccountSafe,
        ),
        _ => {
            return call.error(
                StatusCode::METHOD_NOT_ALLOWED,
                "Request_BadRequest",
                &format!("POST is not supported on riskyUser '{action}'."),
            );
        }
    };
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let recorded = match &parsed {
        Ok(v) => v.clone(),
        Err(_) => Value::String(String::from_utf8_lossy(&body).into_owned()),
    };
    let full_path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| call.path.clone());
    st.core
        .recorder
        .record_write(&call.tenant, Method::POST.as_str(), &full_path, recorded);
    let ids: Vec<String> = match parsed {
        Ok(Value::Object(m)) => match m.get("userIds").map(|v| string_list(v, "userIds")) {
            Some(Ok(ids)) if !ids.is_empty() => ids,
            Some(Err(e)) => return call.bad_request(&e),
            _ => {
                return call
                    .bad_request("The property 'userIds' is required and must not be empty.");
            }
        },
        Ok(_) => return call.bad_request("The request body must be a JSON object."),
        Err(e) => return call.bad_request(&format!("Invalid JSON in the request body: {e}")),
    };
    let initiator = st.core.credentials(&call.tenant).client_id;
    let now = Timestamp::now();
    let mut data = st.data.lock().unwrap_or_else(|e| e.into_inner());
    let mut new_history = Vec::new();
    for user in data.risky_users.iter_mut().filter(|u| {
        ProviderData::tenant_of(&u.additional_data) == Some(call.tenant.as_str())
            && ids.iter().any(|i| i.eq_ignore_ascii_case(&u.id))
    }) {
        user.risk_state = Some(state);
        user.risk_level = Some(level);
        user.risk_detail = Some(detail);
        user.risk_last_updated_date_time = Some(now);
        user.is_processing = Some(false);
        new_history.push(RiskyUserHistoryItem {
            id: uuid::Uuid::new_v4().to_string(),
            is_deleted: user.is_deleted,
            is_processing: Some(false),
            risk_detail: Some(detail),
            risk_last_updated_date_time: Some(now),
            risk_level: Some(level),
            risk_state: Some(state),
            user_display_name: user.user_display_name.clone(),
            user_principal_name: user.user_principal_name.clone(),
            activity: Some(RiskUserActivity {
                detail: Some(detail),
                risk_event_types: vec![],
            }),
            initiated_by: Some(initiator.clone()),
            user_id: Some(user.id.clone()),
            additional_data: user.additional_data.clone(),
        });
    }
    data.risky_user_history.extend(new_history);
    StatusCode::NO_CONTENT.into_response()
}

async fn list_detections(
    State(st): State<St>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let call = match authorize(&st, &headers, &uri) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let evolvable = call.include_evolvable();
    let items: Vec<Value> = {
        let data = st.data.lock().unwrap_or_else(|e| e.into_inner());
        data.risk_detections_of(&call.tenant)
            .map(|d| identity_value(d, |x| &mut x.additional_data, evolvable))
            .collect()
    };
    collection(
        &call,
        &RISK_DETECTION,
        "identityProtection/riskDetections",
        &items,
    )
}

async fn get_detection(
    State(st): State<St>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let call = match authorize(&st, &headers, &uri) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let evolvable = call.include_evolvable();
    let found = {
        let data = st.data.lock().unwrap_or_else(|e| e.into_inner());
        data.risk_detections_of(&call.tenant)
            .find(|d| d.id.eq_ignore_ascii_case(&id))
            .map(|d| identity_value(d, |x| &mut x.additional_data, evolvable))
    };
    match found {
        Some(v) => entity(
            &call,
            &RISK_DETECTION,
            "identityProtection/riskDetections",
            v,
        ),
        None => call.not_found("riskDetection", &id),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn skiptoken_round_trip_and_binding() {
        let pairs = vec![("$top".to_string(), "5".to_string())];
        let fp = fingerprint("/v1.0/security/alerts", &pairs);
        let t = encode_skiptoken(fp, 15);
        assert_eq!(decode_skiptoken(&t, fp), Some(15));
        let other = fingerprint("/v1.0/security/alerts", &[("$top".into(), "6".into())]);
        assert_eq!(decode_skiptoken(&t, other), None);
        assert_eq!(decode_skiptoken("zz", fp), None);
        assert_eq!(decode_skiptoken("ééééééééééééééééééééééé", fp), None);
    }

    #[test]
    fn basic_auth_decoding() {
        let mut h = HeaderMap::new();
        // "id:se%20cret" in base64.
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic aWQ6c2UlMjBjcmV0"),
        );
        assert_eq!(
            basic_credentials(&h),
            Some(("id".to_string(), "se cret".to_string()))
        );
        assert_eq!(base64_lite::decode("!!"), None);
    }

    #[test]
    fn patch_body_validation() {
        let ok: Map<String, Value> = serde_json::from_value(json!({
            "status": "Resolved", "feedback": "truePositive",
            "vendorInformation": {"provider": "IPC", "vendor": "Microsoft"}
        }))
        .unwrap();
        let (u, p) = parse_update(&ok).unwrap();
        assert_eq!(p, "IPC");
        assert_eq!(u.status, Some(AlertStatus::Resolved));
        let missing: Map<String, Value> =
            serde_json::from_value(json!({"status": "resolved"})).unwrap();
        assert!(parse_update(&missing).is_err());
        let no_vendor: Map<String, Value> =
            serde_json::from_value(json!({"vendorInformation": {"provider": "IPC"}})).unwrap();
        assert!(parse_update(&no_vendor).is_err());
        let bad_status: Map<String, Value> = serde_json::from_value(json!({
            "status": "closedForever",
            "vendorInformation": {"provider": "IPC", "vendor": "Microsoft"}
        }))
        .unwrap();
        assert!(parse_update(&bad_status).is_err());
    }
}
