//! Identity Protection routes, as Graph serves them (spec §5): `identityProtection/riskyUsers`
//! (list, get, history and one history item, `confirmCompromised` / `dismiss` /
//! `confirmSafe`) and `identityProtection/riskDetections` (list, get) under `/v1.0` and
//! `/beta`; beta also at the root (`/beta/riskyUsers`, `/beta/riskDetections`) and the
//! deprecated `/beta/identityRiskEvents` with its subtype collections (one handler pair for
//! all, the collection named by the path: [`legacy::COLLECTIONS`]).
//!
//! Handlers are thin: permission, query options, a call into [`crate::identity`], then the same
//! Graph envelope, headers, ETag, `206` + `Warning` and `@vigil.providerStatus` as the alert
//! routes (their response helpers, `CollectionBody` and `count_walk`, are shared). What differs from Graph is documented in
//! [`crate::identity`]: federation, folding, pending actions. Evolvable enum members leave only
//! for callers that send `Prefer: include-unknown-enum-members` (answered with
//! `Preference-Applied`), on every route here, including user risk joined into alerts.

use crate::auth::Principal;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::fanout::ProviderOutcome;
use crate::identity::{
    self, CursorWalk, IdentityQuery, READ_RISK_EVENTS, READ_RISKY_USERS, WRITE_RISKY_USERS,
    actions, legacy,
};
use crate::odata::{self, ApiVersion};
use crate::routes::alerts::{
    CollectionBody, count_walk, json_response, status_for, warning_headers,
};
use crate::skiptoken::SkipTokenSigner;
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};
use vigil_model::identity_merge::RiskAction;
use vigil_model::query::{
    QueryOptions, RISK_DETECTION, RISKY_USER, RISKY_USER_HISTORY_ITEM, Schema, Select,
};
use vigil_model::{HideEvolvable, RiskDetection, RiskyUser, RiskyUserHistoryItem};

/// The preference that opts in to evolvable enum members.
pub const INCLUDE_UNKNOWN_ENUM_MEMBERS: &str = "include-unknown-enum-members";

/// Whether the caller sent `Prefer: include-unknown-enum-members`.
pub fn include_evolvable(headers: &HeaderMap) -> bool {
    odata::preferences(headers)
        .iter()
        .any(|p| p == INCLUDE_UNKNOWN_ENUM_MEMBERS)
}

/// `Preference-Applied` when the caller opted in (Graph acknowledges honoured preferences).
fn preference_headers(headers: &HeaderMap, extra: &mut HeaderMap) {
    if include_evolvable(headers) {
        extra.insert(
            "preference-applied",
            HeaderValue::from_static(INCLUDE_UNKNOWN_ENUM_MEMBERS),
        );
    }
}

fn to_values<T: Serialize + HideEvolvable>(items: Vec<T>, include: bool) -> Vec<Value> {
    items
        .into_iter()
        .map(|mut i| {
            if !include {
                i.hide_evolvable_members();
            }
            serde_json::to_value(i).unwrap_or(Value::Null)
        })
        .collect()
}

/// The resource path of a request, without the version segment (`identityProtection/riskyUsers`,
/// `riskyUsers`), for `@odata.context`.
fn resource_path(path: &str, version: ApiVersion) -> String {
    let seg = format!("/{}/", version.segment());
    let rest = path.split_once(&seg).map_or(path, |(_, r)| r);
    rest.trim_end_matches('/').to_string()
}

fn context_url(
    base: &str,
    version: ApiVersion,
    resource: &str,
    select: Option<&Select>,
    entity: bool,
) -> String {
    let sel = select
        .map(|s| format!("({})", s.names().join(",")))
        .unwrap_or_default();
    let suffix = if entity { "/$entity" } else { "" };
    format!(
        "{base}/{}/$metadata#{resource}{sel}{suffix}",
        version.segment()
    )
}

/// Everything a list needs, parsed from the request.
struct ListInput {
    opts: QueryOptions,
    pairs: Vec<(String, String)>,
    binding: String,
    top: u32,
}

fn parse_list(
    st: &AppState,
    principal: &Principal,
    raw: Option<&str>,
    schema: &'static Schema,
    collection: &str,
) -> Result<ListInput, ApiError> {
    let pairs = odata::query_pairs(raw);
    let opts = QueryOptions::parse(&pairs, schema)?;
    let top = opts.top.unwrap_or(st.config.federation.default_top);
    let canonical = format!(
        "{collection}|f={}|o={}|s={}|t={}|c={}",
        opts.filter
            .as_ref()
            .map(|f| f.to_odata())
            .unwrap_or_default(),
        opts.orderby
            .as_ref()
            .map(|o| o.to_odata())
            .unwrap_or_default(),
        opts.select
            .as_ref()
            .map(|s| s.to_odata())
            .unwrap_or_default(),
        top,
        opts.count
    );
    let binding = SkipTokenSigner::binding(&principal.tenant_id.to_ascii_lowercase(), &canonical);
    Ok(ListInput {
        opts,
        pairs,
        binding,
        top,
    })
}

impl ListInput {
    fn walk(&self, st: &AppState) -> Result<CursorWalk, ApiError> {
        match &self.opts.skiptoken {
            Some(t) => st
                .skiptokens
                .verify::<CursorWalk>(&self.binding, t)
                .map_err(|e| ApiError::BadRequest(e.to_string())),
            None => Ok(CursorWalk::default()),
        }
    }

    fn query(&self) -> Result<IdentityQuery, ApiError> {
        Ok(IdentityQuery {
            filter: self.opts.filter.clone(),
            orderby: self.opts.orderby.clone(),
            top: self.top,
            floor: identity::join::risk_floor(&self.pairs)?,
        })
    }
}

/// What a collection page holds before it is rendered.
struct CollectionPage {
    values: Vec<Value>,
    count: Option<usize>,
    next: Option<CursorWalk>,
    outcomes: Vec<ProviderOutcome>,
}

/// Orders the page, applies `$skip` (first page only) and `$select`, and answers Graph's
/// collection envelope.
fn collection_response(
    st: &AppState,
    version: ApiVersion,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    input: &ListInput,
    page: CollectionPage,
) -> Result<Response, ApiError> {
    let mut values = page.values;
    if let Some(o) = &input.opts.orderby {
        let idx = o.sorted_indices(&values);
        let mut sorted: Vec<Value> = Vec::with_capacity(values.len());
        let mut slots: Vec<Option<Value>> = values.into_iter().map(Some).collect();
        for i in idx {
            if let Some(v) = slots.get_mut(i).and_then(Option::take) {
                sorted.push(v);
            }
        }
        values = sorted;
    }
    if input.opts.skiptoken.is_none() {
        let skip = input.opts.skip.unwrap_or(0) as usize;
        values.drain(..skip.min(values.len()));
    }
    if let Some(s) = &input.opts.select {
        for v in &mut values {
            s.apply(v);
        }
    }
    let base = odata::base_url(&st.config.public_url, headers);
    let mut extra = HeaderMap::new();
    preference_headers(headers, &mut extra);
    CollectionBody {
        context: context_url(
            &base,
            version,
            &resource_path(uri.path(), version),
            input.opts.select.as_ref(),
            false,
        ),
        count: page.count,
        next_link: page.next.as_ref().map(|next| {
            let token = st.skiptokens.sign(&input.binding, next);
            odata::next_link(&base, uri.path(), &input.pairs, &token)
        }),
        outcomes: page.outcomes,
        values,
    }
    .respond(headers, extra)
}

/// One entity with `@odata.context` first, or Graph's 404 (with `Warning`s for providers that
/// could not be asked).
#[allow(clippy::too_many_arguments)]
fn entity_response(
    st: &AppState,
    version: ApiVersion,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    select: Option<&Select>,
    value: Option<Value>,
    outcomes: &[ProviderOutcome],
    what: &str,
    id: &str,
) -> Result<Response, ApiError> {
    let Some(mut v) = value else {
        let mut resp = ApiError::NotFound(format!("{what} '{id}' was not found.")).into_response();
        warning_headers(resp.headers_mut(), outcomes);
        return Ok(resp);
    };
    if let Some(s) = select {
        s.apply(&mut v);
    }
    let base = odata::base_url(&st.config.public_url, headers);
    // The collection the entity belongs to: the path without its last segment.
    let resource = resource_path(uri.path(), version);
    let collection = resource
        .rsplit_once('/')
        .map_or(resource.as_str(), |(c, _)| c);
    if let Value::Object(m) = &mut v {
        let mut out = Map::with_capacity(m.len() + 1);
        out.insert(
            "@odata.context".into(),
            Value::String(context_url(&base, version, collection, select, true)),
        );
        out.extend(std::mem::take(m));
        *m = out;
    }
    let mut extra = HeaderMap::new();
    warning_headers(&mut extra, outcomes);
    preference_headers(headers, &mut extra);
    json_response(status_for(outcomes), &v, headers, extra)
}

// ---- OpenAPI shapes ---------------------------------------------------------------------------

/// The OData query options of an identity collection.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdentityListOptions {
    /// OData filter on the folded resource, e.g. `riskLevel eq 'high'` or
    /// `riskLevel eq microsoft.graph.riskLevel'medium'`. Evaluated by Vigil, never pushed down.
    #[param(rename = "$filter", required = false)]
    pub filter: String,
    /// Sort order of each page, e.g. `riskLastUpdatedDateTime desc`.
    #[param(rename = "$orderby", required = false)]
    pub orderby: String,
    /// Comma-separated properties to return.
    #[param(rename = "$select", required = false)]
    pub select: String,
    /// Page size **per provider**. Default: `federation.default_top`.
    #[param(rename = "$top", required = false, minimum = 1, maximum = 1000)]
    pub top: u32,
    /// Items to skip from the start of the first page (at most 500).
    #[param(rename = "$skip", required = false, minimum = 0, maximum = 500)]
    pub skip: u32,
    /// `true` adds `@odata.count`.
    #[param(rename = "$count", required = false)]
    pub count: bool,
    /// Opaque continuation token from `@odata.nextLink` (each provider's cursor, signed).
    #[param(rename = "$skiptoken", required = false)]
    pub skiptoken: String,
}

/// A page of risky users.
#[derive(ToSchema)]
#[schema(as = microsoft::graph::riskyUserCollectionResponse)]
pub struct RiskyUserCollection {
    #[schema(rename = "@odata.context")]
    pub odata_context: String,
    #[schema(rename = "@odata.count")]
    pub odata_count: Option<u64>,
    #[schema(rename = "@odata.nextLink")]
    pub odata_next_link: Option<String>,
    /// What each identity provider did for this page.
    #[schema(rename = "@vigil.providerStatus")]
    pub provider_status: Vec<ProviderOutcome>,
    /// Folded risky users; each carries `vigilSources` (provider, providerUserId, riskLevel,
    /// riskState, riskLastUpdatedDateTime per source).
    pub value: Vec<RiskyUser>,
}

/// A user's risk history.
#[derive(ToSchema)]
#[schema(as = microsoft::graph::riskyUserHistoryItemCollectionResponse)]
pub struct RiskyUserHistoryCollection {
    #[schema(rename = "@odata.context")]
    pub odata_context: String,
    #[schema(rename = "@vigil.providerStatus")]
    pub provider_status: Vec<ProviderOutcome>,
    pub value: Vec<RiskyUserHistoryItem>,
}

/// A page of risk detections.
#[derive(ToSchema)]
#[schema(as = microsoft::graph::riskDetectionCollectionResponse)]
pub struct RiskDetectionCollection {
    #[schema(rename = "@odata.context")]
    pub odata_context: String,
    #[schema(rename = "@odata.count")]
    pub odata_count: Option<u64>,
    #[schema(rename = "@odata.nextLink")]
    pub odata_next_link: Option<String>,
    #[schema(rename = "@vigil.providerStatus")]
    pub provider_status: Vec<ProviderOutcome>,
    pub value: Vec<RiskDetection>,
}

/// The body of `confirmCompromised`, `dismiss` and `confirmSafe`.
#[derive(ToSchema)]
pub struct RiskyUserActionBody {
    /// User object ids (at most 1000).
    #[schema(rename = "userIds")]
    pub user_ids: Vec<String>,
}

// ---- risky users ------------------------------------------------------------------------------

const USER_RISK_FLOOR_DOC: &str = "Vigil extension (as on the alert list): only users whose folded `riskLevel` is at or above this one: `none` < `hidden` < `low` < `medium` < `high`. `$count` and `@odata.count` count what the list keeps.";

/// `GET /identityProtection/riskyUsers`
#[utoipa::path(
    get,
    path = "/v1.0/identityProtection/riskyUsers",
    operation_id = "listRiskyUsers",
    tag = "identity",
    summary = "List risky users",
    description = "Every identity-risk provider of the tenant, `$top` per provider, the same user at several providers folded into one (`vigilSources`). A failed provider makes the answer 206 with a `Warning`. Beta also serves `/beta/riskyUsers`.",
    params(IdentityListOptions, ("vigilUserRiskAtLeast" = Option<String>, Query, description = USER_RISK_FLOOR_DOC), crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskyUser.Read.All"]), ("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses(
        (status = 200, description = "Every provider answered.", body = RiskyUserCollection, content_type = "application/json"),
        (status = 206, description = "Partial content: a provider failed or timed out.", body = RiskyUserCollection, content_type = "application/json", headers(("Warning" = String))),
    ),
)]
pub async fn list_risky_users(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(READ_RISKY_USERS)?;
    let input = parse_list(&st, &principal, raw.as_deref(), &RISKY_USER, "riskyUsers")?;
    let walk = input.walk(&st)?;
    let bypass = odata::no_cache(&headers);
    let fed = &st.federation;
    let tenant = principal.tenant_id.as_str();
    let query = input.query()?;
    let page = identity::list_users_page(fed, tenant, &query, walk, bypass).await?;
    let count = if input.opts.count {
        Some(
            identity::count_users(fed, tenant, query.filter.as_ref(), query.floor)
                .await?
                .0,
        )
    } else {
        None
    };
    let page = CollectionPage {
        values: to_values(page.users, include_evolvable(&headers)),
        count,
        next: page.next,
        outcomes: page.outcomes,
    };
    collection_response(&st, version, &headers, &uri, &input, page)
}

/// `GET /identityProtection/riskyUsers/$count`
#[utoipa::path(
    get,
    path = "/v1.0/identityProtection/riskyUsers/$count",
    operation_id = "countRiskyUsers",
    tag = "identity",
    summary = "Count risky users",
    description = "The number of folded risky users matching `$filter`, as a plain-text integer.",
    params(crate::openapi::FilterOption, ("vigilUserRiskAtLeast" = Option<String>, Query, description = USER_RISK_FLOOR_DOC), crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskyUser.Read.All"]), ("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses((status = 200, description = "The count.", body = u64, content_type = "text/plain", example = 12)),
)]
pub async fn count_risky_users(
    State(st): State<AppState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(READ_RISKY_USERS)?;
    let pairs = odata::query_pairs(raw.as_deref());
    let (floor, pairs) = identity::join::take_risk_floor(pairs)?;
    odata::reject_options_except(&pairs, &["filter"])?;
    let opts = QueryOptions::parse(&pairs, &RISKY_USER)?;
    let (n, _) = identity::count_users(
        &st.federation,
        &principal.tenant_id,
        opts.filter.as_ref(),
        floor,
    )
    .await?;
    let mut resp = n.to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=utf-8"),
    );
    Ok(resp)
}

/// `GET /identityProtection/riskyUsers/{id}`
#[utoipa::path(
    get,
    path = "/v1.0/identityProtection/riskyUsers/{id}",
    operation_id = "getRiskyUser",
    tag = "identity",
    summary = "Get a risky user",
    description = "One user by object id (or any provider's id for them), fresh from every identity provider that knows them, folded. While an action's delivery is pending it shows the action's effect with `isProcessing: true`.",
    params(("id" = String, Path, description = "The user's object id."), crate::openapi::SelectOption, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskyUser.Read.All"]), ("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses(
        (status = 200, description = "The user.", body = RiskyUser, content_type = "application/json"),
        (status = 206, description = "Partial content: a provider could not be asked.", body = RiskyUser, content_type = "application/json", headers(("Warning" = String))),
        (status = 404, description = "No identity provider knows the user.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn get_risky_user(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(READ_RISKY_USERS)?;
    let pairs = odata::query_pairs(raw.as_deref());
    odata::reject_options_except(&pairs, &["select"])?;
    let opts = QueryOptions::parse(&pairs, &RISKY_USER)?;
    let (user, outcomes) = identity::get_user(&st.federation, &principal.tenant_id, &id).await?;
    let value = user.map(|u| to_values(vec![u], include_evolvable(&headers)).remove(0));
    entity_response(
        &st,
        version,
        &headers,
        &uri,
        opts.select.as_ref(),
        value,
        &outcomes,
        "riskyUser",
        &id,
    )
}

/// `GET /identityProtection/riskyUsers/{id}/history`
#[utoipa::path(
    get,
    path = "/v1.0/identityProtection/riskyUsers/{id}/history",
    operation_id = "listRiskyUserHistory",
    tag = "identity",
    summary = "List a risky user's history",
    description = "Every provider's own history of the user plus the actions taken through Vigil (`initiatedBy` = the caller's object id; `isProcessing` while delivering), oldest first. A provider that keeps no history is noted in `@vigil.providerStatus`, not failed. `$filter`, `$orderby`, `$select` and `$top` apply to the whole history (one page).",
    params(("id" = String, Path, description = "The user's object id."), IdentityListOptions, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskyUser.Read.All"]), ("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses(
        (status = 200, description = "The history.", body = RiskyUserHistoryCollection, content_type = "application/json"),
        (status = 206, description = "Partial content: a provider could not be asked.", body = RiskyUserHistoryCollection, content_type = "application/json", headers(("Warning" = String))),
        (status = 404, description = "No identity provider knows the user.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn risky_user_history(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(READ_RISKY_USERS)?;
    let input = parse_list(
        &st,
        &principal,
        raw.as_deref(),
        &RISKY_USER_HISTORY_ITEM,
        "history",
    )?;
    if input.opts.skiptoken.is_some() {
        return Err(ApiError::BadRequest(
            "A risky user's history is one page; $skiptoken is not expected here.".into(),
        ));
    }
    let (items, outcomes) = identity::history(&st.federation, &principal.tenant_id, &id).await?;
    let Some(mut items) = items else {
        let mut resp =
            ApiError::NotFound(format!("riskyUser '{id}' was not found.")).into_response();
        warning_headers(resp.headers_mut(), &outcomes);
        return Ok(resp);
    };
    if let Some(f) = &input.opts.filter {
        let f = f.for_items();
        items.retain(|h| f.matches(h));
    }
    let count = input.opts.count.then_some(items.len());
    let mut values = to_values(items, include_evolvable(&headers));
    if let Some(o) = &input.opts.orderby {
        let idx = o.sorted_indices(&values);
        let mut slots: Vec<Option<Value>> = values.into_iter().map(Some).collect();
        values = idx
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take))
            .collect();
    }
    if let Some(t) = input.opts.top {
        values.truncate(t as usize);
    }
    let mut input = input;
    // Already ordered and cut here: the shared renderer only skips and selects.
    input.opts.orderby = None;
    let page = CollectionPage {
        values,
        count,
        next: None,
        outcomes,
    };
    collection_response(&st, version, &headers, &uri, &input, page)
}

/// `GET /identityProtection/riskyUsers/{id}/history/{historyItemId}`
#[utoipa::path(
    get,
    path = "/v1.0/identityProtection/riskyUsers/{id}/history/{historyItemId}",
    operation_id = "getRiskyUserHistoryItem",
    tag = "identity",
    summary = "Get an item of a risky user's history",
    description = "One item of the user's history (as the history list shows it: a provider's own item by its id, or an action taken through Vigil as `vigil-{n}`). Beta also serves it under `/beta/riskyUsers/`.",
    params(
        ("id" = String, Path, description = "The user's object id."),
        ("historyItemId" = String, Path, description = "The history item's id."),
        crate::openapi::SelectOption,
        crate::openapi::GraphHeaders,
    ),
    security(("bearer" = ["IdentityRiskyUser.Read.All"]), ("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses(
        (status = 200, description = "The history item.", body = RiskyUserHistoryItem, content_type = "application/json"),
        (status = 206, description = "Partial content: a provider could not be asked.", body = RiskyUserHistoryItem, content_type = "application/json", headers(("Warning" = String))),
        (status = 404, description = "No identity provider knows the user, or the user's history has no such item.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn get_risky_user_history_item(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((id, item_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(READ_RISKY_USERS)?;
    let pairs = odata::query_pairs(raw.as_deref());
    odata::reject_options_except(&pairs, &["select"])?;
    let opts = QueryOptions::parse(&pairs, &RISKY_USER_HISTORY_ITEM)?;
    let (items, outcomes) = identity::history(&st.federation, &principal.tenant_id, &id).await?;
    let Some(items) = items else {
        let mut resp =
            ApiError::NotFound(format!("riskyUser '{id}' was not found.")).into_response();
        warning_headers(resp.headers_mut(), &outcomes);
        return Ok(resp);
    };
    let item = items
        .into_iter()
        .find(|h| h.id.eq_ignore_ascii_case(item_id.trim()));
    let value = item.and_then(|h| to_values(vec![h], include_evolvable(&headers)).pop());
    entity_response(
        &st,
        version,
        &headers,
        &uri,
        opts.select.as_ref(),
        value,
        &outcomes,
        "riskyUserHistoryItem",
        &item_id,
    )
}

/// Records an action and waits (bounded) for its deliveries; `204` either way.
async fn run_action(
    st: AppState,
    principal: Principal,
    headers: HeaderMap,
    ctx: Option<Extension<RequestContext>>,
    body: Bytes,
    action: RiskAction,
) -> Result<Response, ApiError> {
    principal.require(WRITE_RISKY_USERS)?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or_default().trim();
            mime.eq_ignore_ascii_case("application/json")
                || mime.to_ascii_lowercase().ends_with("+json")
        });
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "The request body must be application/json.".into(),
        ));
    }
    let user_ids = actions::parse_body(&body)?;
    let request_id = ctx.map(|Extension(c)| c.request_id);
    let ids = actions::submit(&st, &principal, action, &user_ids, request_id).await?;
    if !ids.is_empty() {
        let budget =
            st.federation.timeout + Duration::from_millis(st.writeback.config.answer_margin_ms);
        let settled = actions::wait_settled(&st, &principal.tenant_id, &ids, budget).await;
        if !settled {
            tracing::info!(
                action = action.as_str(),
                "risky user action accepted; some deliveries pending"
            );
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

const ACTION_DESCRIPTION: &str = "Records the action durably and delivers it to every identity provider that knows each user (the write-back outbox: retried with backoff, dead-lettered after the configured age). Answers 204 like Graph once recorded; while a delivery is pending the user shows the action's effect with `isProcessing: true`. Ids no provider knows are ignored, as Graph ignores them. Beta also serves it under `/beta/riskyUsers/`.";

/// `POST /identityProtection/riskyUsers/confirmCompromised`
#[utoipa::path(
    post,
    path = "/v1.0/identityProtection/riskyUsers/confirmCompromised",
    operation_id = "confirmCompromisedRiskyUsers",
    tag = "identity",
    summary = "Confirm users compromised",
    description = ACTION_DESCRIPTION,
    request_body(content = RiskyUserActionBody, content_type = "application/json"),
    security(("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses(
        (status = 204, description = "Recorded (and delivered, unless a provider is slow or down: then `isProcessing` is true until it is)."),
        (status = 415, description = "The body is not `application/json`.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn confirm_compromised(
    State(st): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ctx: Option<Extension<RequestContext>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    run_action(
        st,
        principal,
        headers,
        ctx,
        body,
        RiskAction::ConfirmCompromised,
    )
    .await
}

/// `POST /identityProtection/riskyUsers/dismiss`
#[utoipa::path(
    post,
    path = "/v1.0/identityProtection/riskyUsers/dismiss",
    operation_id = "dismissRiskyUsers",
    tag = "identity",
    summary = "Dismiss users' risk",
    description = ACTION_DESCRIPTION,
    request_body(content = RiskyUserActionBody, content_type = "application/json"),
    security(("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses(
        (status = 204, description = "Recorded (and delivered, unless a provider is slow or down: then `isProcessing` is true until it is)."),
        (status = 415, description = "The body is not `application/json`.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn dismiss(
    State(st): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ctx: Option<Extension<RequestContext>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    run_action(st, principal, headers, ctx, body, RiskAction::Dismiss).await
}

/// `POST /identityProtection/riskyUsers/confirmSafe`
#[utoipa::path(
    post,
    path = "/v1.0/identityProtection/riskyUsers/confirmSafe",
    operation_id = "confirmSafeRiskyUsers",
    tag = "identity",
    summary = "Confirm users safe",
    description = ACTION_DESCRIPTION,
    request_body(content = RiskyUserActionBody, content_type = "application/json"),
    security(("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses(
        (status = 204, description = "Recorded (and delivered, unless a provider is slow or down: then `isProcessing` is true until it is)."),
        (status = 415, description = "The body is not `application/json`.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn confirm_safe(
    State(st): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ctx: Option<Extension<RequestContext>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    run_action(st, principal, headers, ctx, body, RiskAction::ConfirmSafe).await
}

// ---- risk detections --------------------------------------------------------------------------

/// `GET /identityProtection/riskDetections`
#[utoipa::path(
    get,
    path = "/v1.0/identityProtection/riskDetections",
    operation_id = "listRiskDetections",
    tag = "identity",
    summary = "List risk detections",
    description = "Every identity-risk provider's detections, `$top` per provider, each with `vigilSources` naming its provider. Beta also serves `/beta/riskDetections`.",
    params(IdentityListOptions, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskEvent.Read.All"])),
    responses(
        (status = 200, description = "Every provider answered.", body = RiskDetectionCollection, content_type = "application/json"),
        (status = 206, description = "Partial content: a provider failed or timed out.", body = RiskDetectionCollection, content_type = "application/json", headers(("Warning" = String))),
    ),
)]
pub async fn list_risk_detections(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(READ_RISK_EVENTS)?;
    let input = parse_list(
        &st,
        &principal,
        raw.as_deref(),
        &RISK_DETECTION,
        "riskDetections",
    )?;
    let walk = input.walk(&st)?;
    let bypass = odata::no_cache(&headers);
    let filter = input.opts.filter.clone();
    let keep = move |d: &RiskDetection| {
        filter.as_ref().is_none_or(|f| {
            serde_json::to_value(d)
                .map(|v| f.matches(&v))
                .unwrap_or(false)
        })
    };
    let fed = &st.federation;
    let tenant = principal.tenant_id.as_str();
    let page = identity::list_detections_page(fed, tenant, input.top, &keep, walk, bypass).await;
    let count = if input.opts.count {
        Some(count_detections(&st, tenant, &keep).await?)
    } else {
        None
    };
    let page = CollectionPage {
        values: to_values(page.detections, include_evolvable(&headers)),
        count,
        next: page.next,
        outcomes: page.outcomes,
    };
    collection_response(&st, version, &headers, &uri, &input, page)
}

/// Walks every detection `keep` takes, for a count (the alert `$count`'s walk and bound).
async fn count_detections(
    st: &AppState,
    tenant: &str,
    keep: &(dyn Fn(&RiskDetection) -> bool + Sync),
) -> Result<usize, ApiError> {
    count_walk(
        st.config.federation.max_count_items,
        "detections",
        |walk: CursorWalk| async move {
            let page = identity::list_detections_page(
                &st.federation,
                tenant,
                vigil_model::query::MAX_TOP,
                keep,
                walk,
                false,
            )
            .await;
            Ok((page.detections.len(), page.next))
        },
    )
    .await
}

/// `GET /identityProtection/riskDetections/{id}`
#[utoipa::path(
    get,
    path = "/v1.0/identityProtection/riskDetections/{id}",
    operation_id = "getRiskDetection",
    tag = "identity",
    summary = "Get a risk detection",
    description = "One detection by id, from whichever identity provider has it.",
    params(("id" = String, Path, description = "The detection id."), crate::openapi::SelectOption, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskEvent.Read.All"])),
    responses(
        (status = 200, description = "The detection.", body = RiskDetection, content_type = "application/json"),
        (status = 206, description = "Partial content: a provider could not be asked.", body = RiskDetection, content_type = "application/json", headers(("Warning" = String))),
        (status = 404, description = "No identity provider has the detection.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn get_risk_detection(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(READ_RISK_EVENTS)?;
    let pairs = odata::query_pairs(raw.as_deref());
    odata::reject_options_except(&pairs, &["select"])?;
    let opts = QueryOptions::parse(&pairs, &RISK_DETECTION)?;
    let (d, outcomes) = identity::get_detection(&st.federation, &principal.tenant_id, &id).await;
    let value = d.map(|d| to_values(vec![d], include_evolvable(&headers)).remove(0));
    entity_response(
        &st,
        version,
        &headers,
        &uri,
        opts.select.as_ref(),
        value,
        &outcomes,
        "riskDetection",
        &id,
    )
}

// ---- legacy identityRiskEvents (beta) -----------------------------------------------------------

/// The legacy collection a request addresses (see [`legacy::COLLECTIONS`]).
fn legacy_collection(
    uri: &axum::http::Uri,
    version: ApiVersion,
) -> Result<&'static legacy::Collection, ApiError> {
    let resource = resource_path(uri.path(), version);
    legacy::collection(&resource).ok_or_else(|| {
        ApiError::NotFound(format!("Resource not found for the segment '{resource}'."))
    })
}

/// `GET /beta/identityRiskEvents`, and every legacy subtype collection of
/// [`legacy::COLLECTIONS`] (`/beta/malwareRiskEvents`, ...): one handler, the collection named
/// by the path.
#[utoipa::path(
    get,
    path = "/beta/identityRiskEvents",
    operation_id = "listIdentityRiskEvents",
    tag = "identity",
    summary = "List identity risk events (deprecated beta)",
    description = "The federated risk detections in the deprecated `identityRiskEvent` shape (subtype in `@odata.type`, `riskEventStatus`, `createdDateTime` = detection time). `$filter`, `$orderby` and `$select` apply to the legacy shape.",
    params(IdentityListOptions, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskEvent.Read.All"])),
    responses(
        (status = 200, description = "Every provider answered.", body = Object, content_type = "application/json"),
        (status = 206, description = "Partial content: a provider failed or timed out.", body = Object, content_type = "application/json", headers(("Warning" = String))),
    ),
)]
pub async fn list_identity_risk_events(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(READ_RISK_EVENTS)?;
    let collection = legacy_collection(&uri, version)?;
    let input = parse_list(
        &st,
        &principal,
        raw.as_deref(),
        collection.schema,
        collection.segment,
    )?;
    let walk = input.walk(&st)?;
    let bypass = odata::no_cache(&headers);
    let filter = input.opts.filter.clone();
    let keep = move |d: &RiskDetection| {
        collection.holds(d)
            && filter
                .as_ref()
                .is_none_or(|f| f.matches(&legacy::to_identity_risk_event(d)))
    };
    let tenant = principal.tenant_id.as_str();
    let page =
        identity::list_detections_page(&st.federation, tenant, input.top, &keep, walk, bypass)
            .await;
    let count = if input.opts.count {
        Some(count_detections(&st, tenant, &keep).await?)
    } else {
        None
    };
    let page = CollectionPage {
        values: page
            .detections
            .iter()
            .map(legacy::to_identity_risk_event)
            .collect(),
        count,
        next: page.next,
        outcomes: page.outcomes,
    };
    collection_response(&st, version, &headers, &uri, &input, page)
}

/// `GET /beta/identityRiskEvents/{id}`, and `/{id}` of every legacy subtype collection and of
/// `/beta/locatedRiskEvents`: `404` when the detection is not of the collection's type.
#[utoipa::path(
    get,
    path = "/beta/identityRiskEvents/{id}",
    operation_id = "getIdentityRiskEvent",
    tag = "identity",
    summary = "Get an identity risk event (deprecated beta)",
    description = "One risk detection in the deprecated `identityRiskEvent` shape.",
    params(("id" = String, Path, description = "The detection id."), crate::openapi::SelectOption, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskEvent.Read.All"])),
    responses(
        (status = 200, description = "The event.", body = Object, content_type = "application/json"),
        (status = 404, description = "No identity provider has it.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn get_identity_risk_event(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(READ_RISK_EVENTS)?;
    let collection = legacy_collection(&uri, version)?;
    let pairs = odata::query_pairs(raw.as_deref());
    odata::reject_options_except(&pairs, &["select"])?;
    let opts = QueryOptions::parse(&pairs, collection.schema)?;
    let (d, outcomes) = identity::get_detection(&st.federation, &principal.tenant_id, &id).await;
    let value = d
        .as_ref()
        .filter(|d| collection.holds(d))
        .map(legacy::to_identity_risk_event);
    entity_response(
        &st,
        version,
        &headers,
        &uri,
        opts.select.as_ref(),
        value,
        &outcomes,
        collection.type_name,
        &id,
    )
}

/// Documents every legacy collection of [`legacy::COLLECTIONS`] besides `identityRiskEvents`
/// with the operations of `identityRiskEvents` (same handlers, same options and answers), so
/// the table stays the one place that lists them.
pub fn document_legacy_collections(doc: &mut utoipa::openapi::OpenApi) {
    let list = doc.paths.paths.get("/beta/identityRiskEvents").cloned();
    let get = doc
        .paths
        .paths
        .get("/beta/identityRiskEvents/{id}")
        .cloned();
    for c in legacy::COLLECTIONS
        .iter()
        .filter(|c| c.segment != "identityRiskEvents")
    {
        let mut upper = c.segment.to_string();
        if let Some(first) = upper.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let mut type_upper = c.type_name.to_string();
        if let Some(first) = type_upper.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let holds = match c.scope {
            legacy::Scope::All => "every risk detection".to_string(),
            legacy::Scope::Located => {
                "the risk detections of a located subtype (anonymousIp, suspiciousIp, unfamiliarLocation, malware, impossibleTravel)".to_string()
            }
            legacy::Scope::Only(s) => format!(
                "the risk detections whose `riskEventType` is {}",
                s.risk_event_types
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        };
        if c.listable
            && let Some(mut item) = list.clone()
        {
            if let Some(op) = item.get.as_mut() {
                op.operation_id = Some(format!("list{upper}"));
                op.summary = Some(format!("List {} (deprecated beta)", c.segment));
                op.description = Some(format!(
                    "Lists {holds}, in the deprecated `{}` shape (`@odata.type` `#microsoft.graph.{}`). `$filter`, `$orderby` and `$select` apply to that shape.",
                    c.type_name, c.type_name
                ));
            }
            doc.paths.paths.insert(format!("/beta/{}", c.segment), item);
        }
        if let Some(mut item) = get.clone() {
            if let Some(op) = item.get.as_mut() {
                op.operation_id = Some(format!("get{type_upper}"));
                op.summary = Some(format!("Get one {} (deprecated beta)", c.type_name));
                op.description = Some(format!(
                    "One of {holds}, in the deprecated `{}` shape; `404` for a detection of another type.",
                    c.type_name
                ));
            }
            doc.paths
                .paths
                .insert(format!("/beta/{}/{{id}}", c.segment), item);
        }
    }
}

// ---- beta root aliases ------------------------------------------------------------------------
//
// Beta serves the identity collections at the root as well (spec §5). The handlers are the ones
// above; these wrappers exist so that each alias has its own OpenAPI operation.

const ALIAS: &str = "Beta alias of the `/beta/identityProtection/...` operation of the same name (same behaviour, `@odata.context` names the root path).";

/// `GET /beta/riskyUsers`
#[utoipa::path(get, path = "/beta/riskyUsers", operation_id = "betaRootListRiskyUsers", tag = "identity",
    summary = "List risky users (beta root)", description = ALIAS,
    params(IdentityListOptions, ("vigilUserRiskAtLeast" = Option<String>, Query, description = USER_RISK_FLOOR_DOC), crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskyUser.Read.All"]), ("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses((status = 200, description = "Every provider answered.", body = RiskyUserCollection, content_type = "application/json"),
        (status = 206, description = "Partial content.", body = RiskyUserCollection, content_type = "application/json", headers(("Warning" = String)))))]
pub async fn root_list_risky_users(
    st: State<AppState>,
    v: Extension<ApiVersion>,
    p: Principal,
    h: HeaderMap,
    u: OriginalUri,
    q: RawQuery,
) -> Result<Response, ApiError> {
    list_risky_users(st, v, p, h, u, q).await
}

/// `GET /beta/riskyUsers/$count`
#[utoipa::path(get, path = "/beta/riskyUsers/$count", operation_id = "betaRootCountRiskyUsers", tag = "identity",
    summary = "Count risky users (beta root)", description = ALIAS,
    params(crate::openapi::FilterOption, ("vigilUserRiskAtLeast" = Option<String>, Query, description = USER_RISK_FLOOR_DOC), crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskyUser.Read.All"]), ("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses((status = 200, description = "The count.", body = u64, content_type = "text/plain", example = 12)))]
pub async fn root_count_risky_users(
    st: State<AppState>,
    p: Principal,
    q: RawQuery,
) -> Result<Response, ApiError> {
    count_risky_users(st, p, q).await
}

/// `GET /beta/riskyUsers/{id}`
#[utoipa::path(get, path = "/beta/riskyUsers/{id}", operation_id = "betaRootGetRiskyUser", tag = "identity",
    summary = "Get a risky user (beta root)", description = ALIAS,
    params(("id" = String, Path, description = "The user's object id."), crate::openapi::SelectOption, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskyUser.Read.All"]), ("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses((status = 200, description = "The user.", body = RiskyUser, content_type = "application/json"),
        (status = 404, description = "No identity provider knows the user.", body = crate::openapi::ODataError, content_type = "application/json")))]
pub async fn root_get_risky_user(
    st: State<AppState>,
    v: Extension<ApiVersion>,
    p: Principal,
    h: HeaderMap,
    u: OriginalUri,
    id: Path<String>,
    q: RawQuery,
) -> Result<Response, ApiError> {
    get_risky_user(st, v, p, h, u, id, q).await
}

/// `GET /beta/riskyUsers/{id}/history`
#[utoipa::path(get, path = "/beta/riskyUsers/{id}/history", operation_id = "betaRootListRiskyUserHistory", tag = "identity",
    summary = "List a risky user's history (beta root)", description = ALIAS,
    params(("id" = String, Path, description = "The user's object id."), IdentityListOptions, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskyUser.Read.All"]), ("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses((status = 200, description = "The history.", body = RiskyUserHistoryCollection, content_type = "application/json"),
        (status = 404, description = "No identity provider knows the user.", body = crate::openapi::ODataError, content_type = "application/json")))]
pub async fn root_risky_user_history(
    st: State<AppState>,
    v: Extension<ApiVersion>,
    p: Principal,
    h: HeaderMap,
    u: OriginalUri,
    id: Path<String>,
    q: RawQuery,
) -> Result<Response, ApiError> {
    risky_user_history(st, v, p, h, u, id, q).await
}

/// `GET /beta/riskyUsers/{id}/history/{historyItemId}`
#[utoipa::path(get, path = "/beta/riskyUsers/{id}/history/{historyItemId}", operation_id = "betaRootGetRiskyUserHistoryItem", tag = "identity",
    summary = "Get an item of a risky user's history (beta root)", description = ALIAS,
    params(("id" = String, Path, description = "The user's object id."), ("historyItemId" = String, Path, description = "The history item's id."), crate::openapi::SelectOption, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskyUser.Read.All"]), ("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses((status = 200, description = "The history item.", body = RiskyUserHistoryItem, content_type = "application/json"),
        (status = 404, description = "No identity provider knows the user, or the history has no such item.", body = crate::openapi::ODataError, content_type = "application/json")))]
pub async fn root_get_risky_user_history_item(
    st: State<AppState>,
    v: Extension<ApiVersion>,
    p: Principal,
    h: HeaderMap,
    u: OriginalUri,
    ids: Path<(String, String)>,
    q: RawQuery,
) -> Result<Response, ApiError> {
    get_risky_user_history_item(st, v, p, h, u, ids, q).await
}

/// `POST /beta/riskyUsers/confirmCompromised`
#[utoipa::path(post, path = "/beta/riskyUsers/confirmCompromised", operation_id = "betaRootConfirmCompromisedRiskyUsers", tag = "identity",
    summary = "Confirm users compromised (beta root)", description = ALIAS,
    request_body(content = RiskyUserActionBody, content_type = "application/json"),
    security(("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses((status = 204, description = "Recorded.")))]
pub async fn root_confirm_compromised(
    st: State<AppState>,
    p: Principal,
    h: HeaderMap,
    ctx: Option<Extension<RequestContext>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    confirm_compromised(st, p, h, ctx, body).await
}

/// `POST /beta/riskyUsers/dismiss`
#[utoipa::path(post, path = "/beta/riskyUsers/dismiss", operation_id = "betaRootDismissRiskyUsers", tag = "identity",
    summary = "Dismiss users' risk (beta root)", description = ALIAS,
    request_body(content = RiskyUserActionBody, content_type = "application/json"),
    security(("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses((status = 204, description = "Recorded.")))]
pub async fn root_dismiss(
    st: State<AppState>,
    p: Principal,
    h: HeaderMap,
    ctx: Option<Extension<RequestContext>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    dismiss(st, p, h, ctx, body).await
}

/// `POST /beta/riskyUsers/confirmSafe`
#[utoipa::path(post, path = "/beta/riskyUsers/confirmSafe", operation_id = "betaRootConfirmSafeRiskyUsers", tag = "identity",
    summary = "Confirm users safe (beta root)", description = ALIAS,
    request_body(content = RiskyUserActionBody, content_type = "application/json"),
    security(("bearer" = ["IdentityRiskyUser.ReadWrite.All"])),
    responses((status = 204, description = "Recorded.")))]
pub async fn root_confirm_safe(
    st: State<AppState>,
    p: Principal,
    h: HeaderMap,
    ctx: Option<Extension<RequestContext>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    confirm_safe(st, p, h, ctx, body).await
}

/// `GET /beta/riskDetections`
#[utoipa::path(get, path = "/beta/riskDetections", operation_id = "betaRootListRiskDetections", tag = "identity",
    summary = "List risk detections (beta root)", description = ALIAS,
    params(IdentityListOptions, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskEvent.Read.All"])),
    responses((status = 200, description = "Every provider answered.", body = RiskDetectionCollection, content_type = "application/json"),
        (status = 206, description = "Partial content.", body = RiskDetectionCollection, content_type = "application/json", headers(("Warning" = String)))))]
pub async fn root_list_risk_detections(
    st: State<AppState>,
    v: Extension<ApiVersion>,
    p: Principal,
    h: HeaderMap,
    u: OriginalUri,
    q: RawQuery,
) -> Result<Response, ApiError> {
    list_risk_detections(st, v, p, h, u, q).await
}

/// `GET /beta/riskDetections/{id}`
#[utoipa::path(get, path = "/beta/riskDetections/{id}", operation_id = "betaRootGetRiskDetection", tag = "identity",
    summary = "Get a risk detection (beta root)", description = ALIAS,
    params(("id" = String, Path, description = "The detection id."), crate::openapi::SelectOption, crate::openapi::GraphHeaders),
    security(("bearer" = ["IdentityRiskEvent.Read.All"])),
    responses((status = 200, description = "The detection.", body = RiskDetection, content_type = "application/json"),
        (status = 404, description = "No identity provider has it.", body = crate::openapi::ODataError, content_type = "application/json")))]
pub async fn root_get_risk_detection(
    st: State<AppState>,
    v: Extension<ApiVersion>,
    p: Principal,
    h: HeaderMap,
    u: OriginalUri,
    id: Path<String>,
    q: RawQuery,
) -> Result<Response, ApiError> {
    get_risk_detection(st, v, p, h, u, id, q).await
}

/// The identity routes of one version (to be merged into its Graph router).
pub fn router(version: ApiVersion) -> axum::Router<AppState> {
    use axum::routing::{get, post};
    let mut r = axum::Router::new()
        .route("/identityProtection/riskyUsers", get(list_risky_users))
        .route(
            "/identityProtection/riskyUsers/$count",
            get(count_risky_users),
        )
        .route("/identityProtection/riskyUsers/{id}", get(get_risky_user))
        .route(
            "/identityProtection/riskyUsers/confirmCompromised",
            post(confirm_compromised),
        )
        .route("/identityProtection/riskyUsers/dismiss", post(dismiss))
        .route(
            "/identityProtection/riskyUsers/confirmSafe",
            post(confirm_safe),
        )
        .route(
            "/identityProtection/riskyUsers/{id}/history",
            get(risky_user_history),
        )
        .route(
            "/identityProtection/riskyUsers/{id}/history/{historyItemId}",
            get(get_risky_user_history_item),
        )
        .route(
            "/identityProtection/riskDetections",
            get(list_risk_detections),
        )
        .route(
            "/identityProtection/riskDetections/{id}",
            get(get_risk_detection),
        );
    if version == ApiVersion::Beta {
        r = r
            .route("/riskyUsers", get(root_list_risky_users))
            .route("/riskyUsers/$count", get(root_count_risky_users))
            .route("/riskyUsers/{id}", get(root_get_risky_user))
            .route("/riskyUsers/{id}/history", get(root_risky_user_history))
            .route(
                "/riskyUsers/{id}/history/{historyItemId}",
                get(root_get_risky_user_history_item),
            )
            .route(
                "/riskyUsers/confirmCompromised",
                post(root_confirm_compromised),
            )
            .route("/riskyUsers/dismiss", post(root_dismiss))
            .route("/riskyUsers/confirmSafe", post(root_confirm_safe))
            .route("/riskDetections", get(root_list_risk_detections))
            .route("/riskDetections/{id}", get(root_get_risk_detection))
            // Legacy identityRiskEvents: one handler pair, the collection named by the path
            // (identity::legacy::COLLECTIONS; the path literals are listed for the route scan).
            .route("/identityRiskEvents", get(list_identity_risk_events))
            .route("/identityRiskEvents/{id}", get(get_identity_risk_event))
            .route(
                "/leakedCredentialsRiskEvents",
                get(list_identity_risk_events),
            )
            .route(
                "/leakedCredentialsRiskEvents/{id}",
                get(get_identity_risk_event),
            )
            .route("/anonymousIpRiskEvents", get(list_identity_risk_events))
            .route("/anonymousIpRiskEvents/{id}", get(get_identity_risk_event))
            .route("/malwareRiskEvents", get(list_identity_risk_events))
            .route("/malwareRiskEvents/{id}", get(get_identity_risk_event))
            .route("/suspiciousIpRiskEvents", get(list_identity_risk_events))
            .route("/suspiciousIpRiskEvents/{id}", get(get_identity_risk_event))
            .route(
                "/unfamiliarLocationRiskEvents",
                get(list_identity_risk_events),
            )
            .route(
                "/unfamiliarLocationRiskEvents/{id}",
                get(get_identity_risk_event),
            )
            .route(
                "/impossibleTravelRiskEvents",
                get(list_identity_risk_events),
            )
            .route(
                "/impossibleTravelRiskEvents/{id}",
                get(get_identity_risk_event),
            )
            .route("/locatedRiskEvents/{id}", get(get_identity_risk_event));
    }
    r
}
