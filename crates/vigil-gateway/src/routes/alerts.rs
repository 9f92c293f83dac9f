//! `/security/alerts`: list, `$count`, get — Graph's legacy alert API over every provider.

use crate::auth::{Need, Principal};
use crate::error::ApiError;
use crate::fanout::ProviderOutcome;
use crate::federation::{AlertQuery, WalkState};
use crate::odata::{self, ApiVersion};
use crate::rendered::{Rendered, RenderedCache};
use crate::skiptoken::SkipTokenSigner;
use crate::state::AppState;
use axum::Extension;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value};
use sha2::Digest;
use std::sync::Arc;
use vigil_model::Alert;
use vigil_model::merge::{SourcedAlert, merge};
use vigil_model::query::{ALERT, QueryOptions, alert_push_down};

/// The collection key carrying the per-provider status block.
pub const PROVIDER_STATUS_KEY: &str = "@vigil.providerStatus";

/// Everything a list needs, parsed from the request.
struct ListInput {
    opts: QueryOptions,
    query: AlertQuery,
    binding: String,
    pairs: Vec<(String, String)>,
}

fn parse_list(
    st: &AppState,
    principal: &Principal,
    raw: Option<&str>,
) -> Result<ListInput, ApiError> {
    let pairs = odata::query_pairs(raw);
    let opts = QueryOptions::parse(&pairs, &ALERT)?;
    let top = opts.top.unwrap_or(st.config.federation.default_top);
    let push_down = opts
        .filter
        .as_ref()
        .map(alert_push_down)
        .unwrap_or_default();
    let canonical = format!(
        "f={}|o={}|s={}|t={}|c={}",
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
    let query = AlertQuery {
        filter: opts.filter.clone(),
        orderby: opts.orderby.clone(),
        top,
        push_down,
    };
    Ok(ListInput {
        opts,
        query,
        binding,
        pairs,
    })
}

pub(crate) fn warning_headers(headers: &mut HeaderMap, outcomes: &[ProviderOutcome]) {
    for o in outcomes.iter().filter(|o| o.failed() || o.is_stale()) {
        if let Ok(v) = HeaderValue::from_str(&o.warning()) {
            headers.append(header::WARNING, v);
        }
    }
}

pub(crate) fn status_for(outcomes: &[ProviderOutcome]) -> StatusCode {
    if outcomes.iter().any(ProviderOutcome::failed) {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    }
}

/// JSON with an ETag; `304` when the caller already has it.
pub(crate) fn json_response(
    status: StatusCode,
    body: &Value,
    req_headers: &HeaderMap,
    extra: HeaderMap,
) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    // The ETag names the data, not how it was fetched: the provider status block (latencies,
    // cache ages) changes on every request and would make a 304 impossible.
    let etag = match body {
        Value::Object(m) if m.contains_key(PROVIDER_STATUS_KEY) => {
            let mut data = m.clone();
            data.remove(PROVIDER_STATUS_KEY);
            let data = serde_json::to_vec(&data).map_err(|e| ApiError::Internal(e.to_string()))?;
            odata::etag_of(&data)
        }
        _ => odata::etag_of(&bytes),
    };
    Ok(bytes_response(
        status,
        axum::body::Body::from(bytes),
        &etag,
        req_headers,
        extra,
    ))
}

/// Rendered JSON with its ETag; `304` when the caller already has it.
pub(crate) fn bytes_response(
    status: StatusCode,
    bytes: axum::body::Body,
    etag: &str,
    req_headers: &HeaderMap,
    extra: HeaderMap,
) -> Response {
    let mut resp = if status == StatusCode::OK && odata::if_none_match(req_headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = (status, bytes).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;odata.metadata=minimal;charset=utf-8"),
        );
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert("odata-version", HeaderValue::from_static("4.0"));
    h.extend(extra);
    resp
}

/// Appends `"key":value,` to a list body's head.
fn push_member(head: &mut Vec<u8>, key: &str, value: &Value) -> Result<(), ApiError> {
    serde_json::to_writer(&mut *head, key).map_err(|e| ApiError::Internal(e.to_string()))?;
    head.push(b':');
    serde_json::to_writer(&mut *head, value).map_err(|e| ApiError::Internal(e.to_string()))?;
    head.push(b',');
    Ok(())
}

fn joined(parts: &[Bytes]) -> Bytes {
    let mut out = Vec::with_capacity(parts.iter().map(Bytes::len).sum());
    for p in parts {
        out.extend_from_slice(p);
    }
    out.into()
}

/// The ETag of a list: its data members (the head, and `value` by its digest), not the status
/// block.
fn list_etag(head: &[u8], value_digest: &[u8; 32]) -> String {
    let mut h = sha2::Sha256::new();
    h.update(head);
    h.update(value_digest);
    odata::etag_of_digest(&h.finalize())
}

/// A list answered from its rendered bytes ([`crate::rendered`]) when every provider page and
/// the risk directory it was built from are still the cached ones; `None` otherwise.
async fn serve_rendered(
    st: &AppState,
    tenant: &str,
    key: &str,
    req_headers: &HeaderMap,
) -> Option<Response> {
    let started = std::time::Instant::now();
    let cache = &st.federation.cache;
    let r = cache.rendered.get(key).await?;
    let mut ages: Vec<(&str, u64)> = Vec::with_capacity(r.pages.len());
    for (k, used) in &r.pages {
        let current = cache.peek(k).await?;
        if !std::ptr::eq(used.as_ptr(), Arc::as_ptr(&current)) {
            return None;
        }
        let age = u64::try_from(current.fetched_at.elapsed().as_millis()).unwrap_or(u64::MAX);
        ages.retain(|(p, _)| *p != k.provider.as_str());
        ages.push((k.provider.as_str(), age));
    }
    if let Some(used) = &r.directory {
        let current = cache
            .risk_directory
            .get(&tenant.to_ascii_lowercase())
            .await?;
        if !std::ptr::eq(used.as_ptr(), Arc::as_ptr(&current)) {
            return None;
        }
    }
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let outcomes: Vec<ProviderOutcome> = r
        .outcomes
        .iter()
        .map(|o| {
            let mut o = o.clone();
            o.from_cache = true;
            o.latency_ms = latency_ms;
            o.cache_age_ms = ages
                .iter()
                .find(|(p, _)| *p == o.provider.as_str())
                .map(|(_, a)| *a);
            o
        })
        .collect();
    // Each provider's part of the answer came from the cache: counted as the hits they are.
    for o in &outcomes {
        crate::metrics::provider_call(tenant, o, true);
    }
    let body = crate::rendered::list_body(&r.head, &outcomes, &r.tail);
    Some(bytes_response(
        StatusCode::OK,
        body,
        &r.etag,
        req_headers,
        HeaderMap::new(),
    ))
}

/// A federated collection page before it is rendered: Graph's envelope plus the status block.
pub(crate) struct CollectionBody {
    /// `@odata.context`.
    pub context: String,
    /// `@odata.count`, when `$count=true`.
    pub count: Option<usize>,
    /// `@odata.nextLink`, when there is more.
    pub next_link: Option<String>,
    /// What each provider did (`@vigil.providerStatus`, `Warning`s, `206`).
    pub outcomes: Vec<ProviderOutcome>,
    pub values: Vec<Value>,
}

impl CollectionBody {
    /// The answer: `200`, or `206` with a `Warning` per failed provider; ETag'd like every
    /// collection (`extra` adds headers, e.g. `Preference-Applied`).
    pub(crate) fn respond(
        self,
        req_headers: &HeaderMap,
        mut extra: HeaderMap,
    ) -> Result<Response, ApiError> {
        let mut body = Map::new();
        body.insert("@odata.context".into(), Value::String(self.context));
        if let Some(c) = self.count {
            body.insert("@odata.count".into(), Value::from(c));
        }
        if let Some(n) = self.next_link {
            body.insert("@odata.nextLink".into(), Value::String(n));
        }
        body.insert(
            PROVIDER_STATUS_KEY.into(),
            serde_json::to_value(&self.outcomes).unwrap_or(Value::Null),
        );
        body.insert("value".into(), Value::Array(self.values));
        warning_headers(&mut extra, &self.outcomes);
        json_response(
            status_for(&self.outcomes),
            &Value::Object(body),
            req_headers,
            extra,
        )
    }
}

/// Walks a federated collection to its end for `$count` / `@odata.count`: `step` answers the
/// number of matching items of one page and where the next starts. More than `max` items is a
/// `400` naming `what` (a count must not cost an unbounded walk).
pub(crate) async fn count_walk<S, F, Fut>(
    max: usize,
    what: &str,
    mut step: F,
) -> Result<usize, ApiError>
where
    S: Default,
    F: FnMut(S) -> Fut,
    Fut: std::future::Future<Output = Result<(usize, Option<S>), ApiError>>,
{
    let mut state = S::default();
    let mut total = 0usize;
    loop {
        let (n, next) = step(state).await?;
        total += n;
        if total > max {
            return Err(ApiError::BadRequest(format!(
                "More than {max} {what} match; narrow the $filter to count them."
            )));
        }
        match next {
            Some(n) => state = n,
            None => return Ok(total),
        }
    }
}

fn context_url(
    base: &str,
    version: ApiVersion,
    select: Option<&vigil_model::query::Select>,
    entity: bool,
) -> String {
    let sel = select
        .map(|s| format!("({})", s.names().join(",")))
        .unwrap_or_default();
    let suffix = if entity { "/$entity" } else { "" };
    format!(
        "{base}/{}/$metadata#security/alerts{sel}{suffix}",
        version.segment()
    )
}

const RISK_FLOOR_DOC: &str = "Vigil extension: keep only alerts with at least one user whose federated risk level (`userStates[].vigilUserRisk.riskLevel`) is at or above this one: `none` < `hidden` < `low` < `medium` < `high`. `$count` and `@odata.count` count what the list keeps.";

/// `GET /security/alerts`
#[utoipa::path(
    get,
    path = "/v1.0/security/alerts",
    operation_id = "listAlerts",
    tag = "alerts",
    summary = "List alerts",
    description = "Asks every provider of the caller's tenant (`$top` per provider), merges duplicates into unified alerts and answers Graph's collection. A provider that fails or times out makes the answer 206 with a `Warning: 199` value for it, unless its last good answer to the same query can be served (stale-if-error): then the answer stays 200, with a `Warning: 110` value for it and `state: \"stale\"` in its status entry; `@vigil.providerStatus` always says what each provider did.",
    params(crate::openapi::ListOptions, ("vigilUserRiskAtLeast" = Option<String>, Query, description = RISK_FLOOR_DOC), crate::openapi::GraphHeaders),
    security(("bearer" = ["SecurityEvents.Read.All"]), ("bearer" = ["SecurityEvents.ReadWrite.All"])),
    responses(
        (status = 200, description = "Every provider answered, or served its last good answer marked stale (`Warning: 110`).", body = crate::openapi::AlertCollection, content_type = "application/json",
            headers(("Warning" = String), ("ETag" = String), ("OData-Version" = String))),
        (status = 206, description = "Partial content: at least one provider failed or timed out; the page holds what the others answered.", body = crate::openapi::AlertCollection, content_type = "application/json",
            headers(("Warning" = String), ("ETag" = String), ("OData-Version" = String))),
        (status = 304, description = "Not modified: `If-None-Match` matched the page's `ETag`.", headers(("ETag" = String))),
    ),
)]
pub async fn list_alerts(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(Need::READ_ALERTS)?;
    let bypass = odata::no_cache(&headers);
    let base = odata::base_url(&st.config.public_url, &headers);
    let evolvable = crate::routes::identity::include_evolvable(&headers);
    // The same list answered moments ago from pages that are still cached: its bytes.
    let rendered_key = (!bypass).then(|| {
        RenderedCache::key(
            &principal.tenant_id,
            version.segment(),
            &base,
            uri.path(),
            raw.as_deref().unwrap_or(""),
            evolvable,
        )
    });
    if let Some(key) = &rendered_key
        && let Some(resp) = serve_rendered(&st, &principal.tenant_id, key, &headers).await
    {
        return Ok(resp);
    }
    let generation = st.federation.cache.rendered.generation();
    let input = parse_list(&st, &principal, raw.as_deref())?;
    let risk_floor = crate::identity::join::risk_floor(&input.pairs)?;
    let first_page = input.opts.skiptoken.is_none();
    let state = match &input.opts.skiptoken {
        Some(t) => st
            .skiptokens
            .verify::<WalkState>(&input.binding, t)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?,
        None => WalkState::default(),
    };
    // The tenant's risk directory (the user-risk join) is read while the providers are asked,
    // not after: on a no-cache request both are upstream calls.
    let fed = &st.federation;
    let has_identity = !crate::identity::identity_providers(fed, &principal.tenant_id).is_empty();
    // Read again when a write or delivery overlapped the read (see `fetch_decorated`).
    let mut attempt = 0;
    let (page, prefetched, pending, alerts) = loop {
        attempt += 1;
        let read_at = fed.cache.write_generation(&principal.tenant_id);
        let (page, prefetched, open) = tokio::join!(
            fed.list_page(&principal.tenant_id, &input.query, state.clone(), bypass),
            async {
                if has_identity {
                    Some(crate::identity::directory(fed, &principal.tenant_id, bypass).await)
                } else {
                    None
                }
            },
            crate::writeback::open_rows(&st, &principal.tenant_id)
        );
        let mut page = page.map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut alerts = std::mem::take(&mut page.alerts);
        if let Some(o) = &input.query.orderby {
            sort_alerts(&mut alerts, o);
        }
        if first_page {
            let skip = input.opts.skip.unwrap_or(0) as usize;
            alerts.drain(..skip.min(alerts.len()));
        }
        let open = open?;
        // The user-risk join shows pending identity actions: they are among these rows.
        let pending = crate::identity::Pending::of_rows(
            open.iter().filter(|(_, dead)| !dead).map(|(e, _)| e),
        );
        let decorated = crate::writeback::decorate_with(
            &st,
            &principal.tenant_id,
            &mut alerts,
            read_at,
            std::future::ready(Ok(open)),
        )
        .await?;
        if decorated.coherent || attempt >= COHERENT_READ_ATTEMPTS {
            break (page, prefetched, pending, alerts);
        }
    };
    let mut head = Vec::with_capacity(512);
    push_member(
        &mut head,
        "@odata.context",
        &Value::String(context_url(
            &base,
            version,
            input.opts.select.as_ref(),
            false,
        )),
    )?;
    if input.opts.count {
        let total = count_all(&st, &principal, &input.query, risk_floor).await?;
        push_member(&mut head, "@odata.count", &Value::from(total))?;
    }
    if let Some(next) = &page.next {
        let token = st.skiptokens.sign(&input.binding, next);
        push_member(
            &mut head,
            "@odata.nextLink",
            &Value::String(odata::next_link(&base, uri.path(), &input.pairs, &token)),
        )?;
    }
    // Serialized with each user's federated risk joined in (crate::identity::join).
    let (tail, value_digest, directory) = if input.opts.select.is_none() && risk_floor.is_none() {
        let (written, directory) = crate::identity::join::render_alerts_json(
            &st,
            &principal.tenant_id,
            alerts,
            evolvable,
            bypass,
            crate::identity::join::Prefetched {
                directory: prefetched,
                pending: Some(pending),
            },
            crate::rendered::VALUE_MEMBER,
        )
        .await;
        let mut written = written.map_err(|e| ApiError::Internal(e.to_string()))?;
        written.parts.push(Bytes::from_static(b"}"));
        // An answer that may be kept ([`crate::rendered`]) is joined into one buffer of its
        // exact size: the cache weighs what it holds, and one chunk is cheaper to send again.
        let tail = if rendered_key.is_some() {
            vec![joined(&written.parts)]
        } else {
            written.parts
        };
        (tail, written.digest, directory)
    } else {
        let (values, directory) = crate::identity::join::render_alerts_with_directory(
            &st,
            &principal.tenant_id,
            alerts,
            input.opts.select.as_ref(),
            risk_floor,
            evolvable,
            bypass,
            prefetched,
        )
        .await;
        let value = serde_json::to_vec(&values).map_err(|e| ApiError::Internal(e.to_string()))?;
        let digest: [u8; 32] = sha2::Sha256::digest(&value).into();
        (crate::rendered::list_tail(&value), digest, directory)
    };
    let head = crate::rendered::list_head(&head);
    let etag = list_etag(&head, &value_digest);
    let status = status_for(&page.outcomes);
    let mut extra = HeaderMap::new();
    warning_headers(&mut extra, &page.outcomes);
    let body = crate::rendered::list_body(&head, &page.outcomes, &tail);
    let resp = bytes_response(status, body, &etag, &headers, extra);
    if let (Some(key), Some(pages), Ok(directory)) = (rendered_key, page.pages, directory)
        && status == StatusCode::OK
        && !input.opts.count
    {
        st.federation
            .cache
            .rendered
            .insert(
                key,
                Rendered {
                    generation,
                    pages,
                    directory: directory.as_ref().map(Arc::downgrade),
                    outcomes: page.outcomes,
                    head,
                    tail,
                    etag,
                },
            )
            .await;
    }
    Ok(resp)
}

fn sort_alerts(alerts: &mut Vec<Alert>, orderby: &vigil_model::query::OrderBy) {
    // OrderBy compares serialized resources: each alert is serialized once, to the properties
    // the order reads, the indices are sorted, and the alerts moved (not copied) into place.
    let projection = orderby.projection();
    let values: Vec<Value> = alerts.iter().map(|a| projection.apply(a)).collect();
    let order = orderby.sorted_indices(&values);
    let mut slots: Vec<Option<Alert>> = std::mem::take(alerts).into_iter().map(Some).collect();
    alerts.extend(
        order
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take)),
    );
    // `order` is a permutation; should it ever not be, no alert is dropped for it.
    alerts.extend(slots.into_iter().flatten());
}

/// Walks the whole federation for a count (cached provider answers make repeats cheap); with a
/// `vigilUserRiskAtLeast` floor, counts the alerts the list keeps for it.
async fn count_all(
    st: &AppState,
    principal: &Principal,
    query: &AlertQuery,
    floor: Option<vigil_model::RiskLevel>,
) -> Result<usize, ApiError> {
    let mut q = query.clone();
    q.top = vigil_model::query::MAX_TOP;
    q.orderby = None;
    let q = &q;
    let tenant = principal.tenant_id.as_str();
    count_walk(
        st.config.federation.max_count_items,
        "alerts",
        |state: WalkState| async move {
            let page = st
                .federation
                .list_page(tenant, q, state, false)
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let n = match floor {
                Some(f) => crate::identity::join::count_at_least(st, tenant, &page.alerts, f).await,
                None => page.alerts.len(),
            };
            Ok((n, page.next))
        },
    )
    .await
}

/// `GET /security/alerts/$count`
#[utoipa::path(
    get,
    path = "/v1.0/security/alerts/$count",
    operation_id = "countAlerts",
    tag = "alerts",
    summary = "Count alerts",
    description = "The number of alerts matching `$filter` (and `vigilUserRiskAtLeast`, as the list applies it) over every provider of the tenant, after merging, as a plain-text integer (Graph's `$count` segment).",
    params(crate::openapi::FilterOption, ("vigilUserRiskAtLeast" = Option<String>, Query, description = RISK_FLOOR_DOC), crate::openapi::GraphHeaders),
    security(("bearer" = ["SecurityEvents.Read.All"]), ("bearer" = ["SecurityEvents.ReadWrite.All"])),
    responses(
        (status = 200, description = "The count.", body = u64, content_type = "text/plain", example = 42),
    ),
)]
pub async fn count_alerts(
    State(st): State<AppState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(Need::READ_ALERTS)?;
    let pairs = odata::query_pairs(raw.as_deref());
    let (floor, options) = crate::identity::join::take_risk_floor(pairs)?;
    odata::reject_options_except(&options, &["filter"])?;
    let input = parse_list(&st, &principal, raw.as_deref())?;
    let total = count_all(&st, &principal, &input.query, floor).await?;
    let mut resp = total.to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=utf-8"),
    );
    Ok(resp)
}

/// `GET /security/alerts/{id}`: by unified id or by any provider's own id.
#[utoipa::path(
    get,
    path = "/v1.0/security/alerts/{id}",
    operation_id = "getAlert",
    tag = "alerts",
    summary = "Get an alert",
    description = "One alert by its unified id or by any provider's own id, fresh from the providers that hold a copy, folded, with `@odata.context`. A provider that fails makes the answer 206 with a `Warning`.",
    params(
        ("id" = String, Path, description = "The unified alert id, or a provider's own alert id."),
        crate::openapi::SelectOption,
        crate::openapi::GraphHeaders,
    ),
    security(("bearer" = ["SecurityEvents.Read.All"]), ("bearer" = ["SecurityEvents.ReadWrite.All"])),
    responses(
        (status = 200, description = "The alert.", body = vigil_model::Alert, content_type = "application/json",
            headers(("ETag" = String), ("OData-Version" = String))),
        (status = 206, description = "Partial content: a provider holding a copy failed; the alert is folded from the others.", body = vigil_model::Alert, content_type = "application/json",
            headers(("Warning" = String), ("ETag" = String), ("OData-Version" = String))),
        (status = 304, description = "Not modified: `If-None-Match` matched the alert's `ETag`.", headers(("ETag" = String))),
        (status = 404, description = "`NotFound`: no provider of the tenant knows this id (a `Warning` names a provider that could not be asked).", body = crate::openapi::ODataError, content_type = "application/json", headers(("Warning" = String))),
    ),
)]
pub async fn get_alert(
    State(st): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(Need::READ_ALERTS)?;
    let pairs = odata::query_pairs(raw.as_deref());
    odata::reject_options_except(&pairs, &["select"])?;
    let opts = QueryOptions::parse(&pairs, &ALERT)?;
    let (alert, outcomes) = fetch_decorated(&st, &principal.tenant_id, &id).await?;
    let Some((alert, state_etag)) = alert else {
        let mut resp = ApiError::NotFound(format!("Alert '{id}' was not found.")).into_response();
        warning_headers(resp.headers_mut(), &outcomes);
        return Ok(resp);
    };
    let state_etag = Some(state_etag);
    let base = odata::base_url(&st.config.public_url, &headers);
    let mut v = crate::identity::join::render_alerts(
        &st,
        &principal.tenant_id,
        vec![alert],
        opts.select.as_ref(),
        None,
        crate::routes::identity::include_evolvable(&headers),
        false,
    )
    .await
    .pop()
    .unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        let mut out = Map::with_capacity(m.len() + 1);
        out.insert(
            "@odata.context".into(),
            Value::String(context_url(&base, version, opts.select.as_ref(), true)),
        );
        // An upstream annotation never replaces the gateway's own context.
        out.extend(
            std::mem::take(m)
                .into_iter()
                .filter(|(k, _)| k != "@odata.context"),
        );
        *m = out;
    }
    let mut extra = HeaderMap::new();
    warning_headers(&mut extra, &outcomes);
    // The alert's ETag is its state ETag (the one PATCH's If-Match takes), so If-None-Match is
    // compared with that one.
    if let Some(tag) = &state_etag
        && outcomes.iter().all(|o| !o.failed())
        && odata::if_none_match(&headers, tag)
    {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(tag) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        return Ok(resp);
    }
    let mut resp = json_response(status_for(&outcomes), &v, &headers, extra)?;
    if let Some(tag) = state_etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    Ok(resp)
}

/// Reads of one alert that a write or delivery overlapped, before one is shown anyway.
const COHERENT_READ_ATTEMPTS: usize = 3;

/// [`fetch_one`] with Vigil's view added ([`crate::writeback::decorate`]: history, each copy's
/// sync state) and the alert's state ETag (the one PATCH's If-Match takes). Copies and sync
/// states are read again when a delivery landed in between, so a copy shown as `delivered`
/// shows the delivered value.
pub async fn fetch_decorated(
    st: &AppState,
    tenant_id: &str,
    id: &str,
) -> Result<(Option<(Alert, String)>, Vec<ProviderOutcome>), ApiError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let read_at = st.federation.cache.write_generation(tenant_id);
        let (alert, outcomes) = fetch_one(st, tenant_id, id).await?;
        let Some(mut alert) = alert else {
            return Ok((None, outcomes));
        };
        let decorated =
            crate::writeback::decorate(st, tenant_id, std::slice::from_mut(&mut alert), read_at)
                .await?;
        if decorated.coherent || attempt >= COHERENT_READ_ATTEMPTS {
            let etag = decorated.etag(0, &alert).unwrap_or_default();
            return Ok((Some((alert, etag)), outcomes));
        }
    }
}

/// One alert by any of its ids, fresh from its providers, folded and with its stable id.
pub async fn fetch_one(
    st: &AppState,
    tenant_id: &str,
    id: &str,
) -> Result<(Option<Alert>, Vec<ProviderOutcome>), ApiError> {
    let fed = &st.federation;
    let providers = fed.registry.for_tenant(tenant_id);
    let resolved = match fed.store.resolve(tenant_id, id).await {
        Ok(r) => r,
        Err(vigil_store::StoreError::AmbiguousId { .. }) => {
            return Err(ApiError::BadRequest(format!(
                "'{id}' is the id of alerts of several providers; use the unified id."
            )));
        }
        Err(e) => return Err(ApiError::Internal(e.to_string())),
    };
    // Which (provider, provider id) pairs to ask: the indexed sources, else every provider.
    let targets: Vec<(std::sync::Arc<dyn vigil_providers::Provider>, String)> = match &resolved {
        Some(r) => r
            .sources
            .iter()
            .filter_map(|s| {
                providers
                    .iter()
                    .find(|p| p.info().name == s.provider)
                    .map(|p| (p.clone(), s.provider_alert_id.clone()))
            })
            .collect(),
        None => providers
            .iter()
            .filter(|p| p.capabilities().alerts)
            .map(|p| (p.clone(), id.to_string()))
            .collect(),
    };
    let calls = targets.into_iter().map(|(p, pid)| async move {
        let started = std::time::Instant::now();
        let r = fed
            .cache
            .resilience
            .call(p.info(), fed.timeout, true, || p.get_alert(&pid))
            .await;
        (p, r, started.elapsed())
    });
    let mut outcomes = Vec::new();
    let mut found = Vec::new();
    for (p, r, took) in futures::future::join_all(calls).await {
        let info = p.info();
        let mut o = ProviderOutcome {
            provider: info.name.clone(),
            vendor: info.vendor.clone(),
            product: info.product.clone(),
            state: "answered",
            status: 200,
            latency_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            from_cache: false,
            cache_age_ms: None,
            items: 0,
            error: None,
        };
        match r {
            Ok(Some(a)) => {
                o.items = 1;
                found.push(SourcedAlert {
                    provider: info.name.clone(),
                    alert: a,
                });
            }
            Ok(None) => {}
            Err(e) if matches!(e.kind, vigil_providers::ProviderErrorKind::NotFound) => {}
            Err(e) => o.record_failure(&e),
        }
        crate::metrics::provider_call(tenant_id, &o, false);
        outcomes.push(o);
    }
    if found.is_empty() {
        return Ok((None, outcomes));
    }
    // Fold what was found; sources that no longer fold under the rule still belong to the
    // alert the index says, so the largest fold is the alert.
    let mut merged = merge(found, &fed.rule);
    merged.sort_by_key(|a| std::cmp::Reverse(vigil_model::merge::VigilSource::of(a).len()));
    let mut alerts = fed
        .assign_stable_ids(tenant_id, merged)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut alert = alerts.swap_remove(0);
    if let Some(r) = resolved {
        alert.id = r.unified_id;
    }
    Ok((Some(alert), outcomes))
}
