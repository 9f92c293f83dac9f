//! The OpenAPI 3.1 document of the gateway, generated from the code with utoipa, and the two
//! routes that publish it: `GET /openapi.json` and the interactive page `GET /docs` (Swagger UI
//! with its assets compiled into the binary: nothing is fetched at build or run time, so the
//! page works in an air-gapped SOC). Both need no token.
//!
//! Why a post-processing step ([`Finish`]) instead of annotations alone: Graph serves the same
//! resources under `/v1.0` and `/beta` with the same handlers, and utoipa paths are static
//! strings. Annotating each handler twice is impossible (one `#[utoipa::path]` per function),
//! so a handler is annotated once with its `/v1.0` path and [`Finish`] mirrors every `/v1.0`
//! path to `/beta` (operation ids get a `beta` prefix, so generated clients have one method per
//! version). The same step adds what every Graph operation shares, so the annotations stay
//! about what is specific to the operation: the Graph error responses (400, 401 with
//! `WWW-Authenticate`, 403, 429 and 503 with `Retry-After`, 500, 504; all with the Graph error
//! body), the `request-id` / `client-request-id` headers on every response, and the `vigil*`
//! extension properties of `microsoft.graph.alert`.
//!
//! `openapi/openapi.json` in the repository is this document, pretty-printed; the test
//! `openapi_json_is_current` (crates/vigil-gateway/tests/gateway/openapi.rs) fails when it is stale.
//! Regenerate it with `cargo run --bin vigil -- openapi --out openapi/openapi.json`.
//!
//! # How to document a new route
//!
//! 1. Put `#[utoipa::path(...)]` on the handler, next to it in its route module:
//!    - `path = "/v1.0/..."` for a Graph route served under both versions (it is mirrored to
//!      `/beta`); `path = "/beta/..."` for a beta-only route; the plain path for a route outside
//!      the versions (like `/healthz`).
//!    - `operation_id = "camelCase"` (Graph SDK style: `listAlerts`, `updateAlert`), `tag`
//!      (one of the tags declared on [`ApiDoc`]), `summary` and `description`.
//!    - `params(...)`: the query options it accepts ([`ListOptions`], [`SelectOption`],
//!      [`FilterOption`], or a new `IntoParams` struct here), [`GraphHeaders`], and path
//!      parameters as `("id" = String, Path, description = "...")`.
//!    - `request_body = ...` for a body, with its schema type (derive `ToSchema` in
//!      vigil-model with the Graph name, as the alert types do).
//!    - `security(...)`: one `("bearer" = ["Permission.Name"])` entry per permission that is
//!      enough on its own (alternatives, as [`crate::auth::Need`] lists them).
//!    - `responses(...)`: the success responses and any error status specific to the operation
//!      (`404` for an entity, `412`, ...), with `response = ...` or `body = ...`; the shared
//!      Graph errors are added by [`Finish`] to every operation that has `security`.
//! 2. Add the handler to `paths(...)` on [`ApiDoc`].
//! 3. Run `cargo run --bin vigil -- openapi --out openapi/openapi.json` and commit the file.
//!
//! The test `every_route_is_documented_and_served` reads `.route(...)` calls in
//! `src/routes/` and fails for a route that is not in the document (and for a documented
//! path the router does not serve).

use crate::fanout::ProviderOutcome;
use crate::routes;
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::OnceLock;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    Content, HeaderBuilder, OpenApi as Document, PathItem, Ref, RefOr, ResponseBuilder,
};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use vigil_model::Alert;

/// The versions a Graph route is served under; annotations use the first.
pub const V1_PREFIX: &str = "/v1.0";
pub const BETA_PREFIX: &str = "/beta";

/// Where the document and the interactive page are served.
pub const OPENAPI_JSON_PATH: &str = "/openapi.json";
pub const DOCS_PATH: &str = "/docs";

/// The name of the security scheme operations refer to.
pub const BEARER: &str = "bearer";

const DESCRIPTION: &str = "\
Vigil is a federated security-alert gateway with a Microsoft Graph-compatible API: existing \
Graph clients call `/v1.0/security/alerts` (or `/beta/...`) unchanged, and Vigil asks every \
security provider configured for the caller's tenant (Microsoft Graph, CrowdStrike Falcon, OCSF \
sources), merges duplicates and answers in Graph's shape.

**Federation semantics** (as Graph's own security API documents them):

- **Partial results.** Every provider is asked, each under its own timeout. When one fails or \
times out, the answer is still the data of the others, with status **206 Partial Content** and \
one `Warning: 199 - \"{vendor}/{provider}/{status}/{latencyMs}\"` header value per failed \
provider (`504` for a timeout). Clients that treat every 2xx as success keep working.
- **Provider status.** Every collection carries `@vigil.providerStatus`, one `ProviderOutcome` \
per provider: whether it answered, the status Graph would report, latency, whether the answer \
came from Vigil's short-lived cache and how old it was, and how many items it contributed.
- **Stable unified ids.** An alert reported by several providers is folded into one, whose `id` \
is a stable unified id that survives restarts and replicas; `vigilSources` lists the provider \
copies (each with the provider's own id) and `vigilFieldSources` says which provider each \
differing value came from. `GET /security/alerts/{id}` accepts the unified id or any provider's \
own id.
- **`$top` is per provider**, as in Graph: a page holds up to (providers × `$top`) alerts \
(1 ≤ `$top` ≤ 1000). `$skip` (≤ 500) applies to the first page only.
- **Paging.** Follow `@odata.nextLink` verbatim: it carries an opaque, signed `$skiptoken` bound \
to the tenant and the query, so it cannot be replayed with another query or by another tenant.
- **Errors** always have Graph's body, `{\"error\":{\"code\",\"message\",\"innerError\":{\"date\",\
\"request-id\",\"client-request-id\"}}}`, with `Content-Type: application/json`; every response \
carries `request-id` and echoes `client-request-id`. `Retry-After` is in whole seconds.

Authentication: a bearer JWT (Entra-style claims: `tid` selects the tenant, delegated \
permissions in `scp`, application permissions in `roles`).";

const BEARER_DESCRIPTION: &str = "\
A JWT access token with Entra-style claims. `tid` selects the tenant; permissions come from \
`scp` (delegated, space-separated) or `roles` (application). Permissions Vigil checks: \
`SecurityEvents.Read.All` (read alerts), `SecurityEvents.ReadWrite.All` (read and update \
alerts), `IdentityRiskEvent.Read.All` (risk detections), `IdentityRiskyUser.Read.All` \
(risky users), `IdentityRiskyUser.ReadWrite.All` (risky-user actions). Each operation lists \
the permissions that are enough on their own as alternative security requirements. The demo \
(`vigil serve` without providers) accepts HS256 tokens minted by `vigil token`.";

/// The document. Build it with [`document`], which applies the shared parts.
#[derive(OpenApi)]
#[openapi(
    info(title = "Vigil", description = DESCRIPTION, license(name = "Apache-2.0")),
    servers((url = "/", description = "This gateway")),
    paths(
        routes::alerts::list_alerts,
        routes::alerts::count_alerts,
        routes::alerts::get_alert,
        routes::alerts_write::update_alert,
        routes::alerts_write::update_alerts,
        routes::alerts_write::list_outbox,
        routes::alerts_write::retry_outbox,
        routes::identity::list_risky_users,
        routes::identity::count_risky_users,
        routes::identity::get_risky_user,
        routes::identity::risky_user_history,
        routes::identity::get_risky_user_history_item,
        routes::identity::confirm_compromised,
        routes::identity::dismiss,
        routes::identity::confirm_safe,
        routes::identity::list_risk_detections,
        routes::identity::get_risk_detection,
        routes::identity::list_identity_risk_events,
        routes::identity::get_identity_risk_event,
        routes::identity::root_list_risky_users,
        routes::identity::root_count_risky_users,
        routes::identity::root_get_risky_user,
        routes::identity::root_risky_user_history,
        routes::identity::root_get_risky_user_history_item,
        routes::identity::root_confirm_compromised,
        routes::identity::root_dismiss,
        routes::identity::root_confirm_safe,
        routes::identity::root_list_risk_detections,
        routes::identity::root_get_risk_detection,
        routes::health::healthz,
        routes::health::readyz,
        crate::metrics::scrape,
        routes::providers::list_providers,
        openapi_json,
        docs_redirect,
        docs_page,
    ),
    components(schemas(
        AlertCollection,
        ProviderOutcome,
        vigil_model::merge::VigilSource,
        vigil_model::RiskyUser,
        vigil_model::RiskyUserHistoryItem,
        vigil_model::RiskDetection,
        routes::identity::RiskyUserCollection,
        routes::identity::RiskyUserHistoryCollection,
        routes::identity::RiskDetectionCollection,
        routes::identity::RiskyUserActionBody,
        routes::providers::ProviderRows,
        ODataError,
        MainError,
        InnerError,
    )),
    tags(
        (name = "alerts", description = "Graph's legacy security alerts (`microsoft.graph.alert`), federated over every provider of the tenant."),
        (name = "identity", description = "Identity Protection (`riskyUsers`, `riskDetections`, beta's legacy `identityRiskEvents`), federated over every identity-risk provider of the tenant; one user known to several providers is one risky user (`vigilSources`)."),
        (name = "admin", description = "Operator routes (`Vigil.Admin` app role or scope), scoped to the caller's tenant: the write-back outbox and its dead letters, the providers' health and circuits."),
        (name = "health", description = "Liveness and readiness probes (no token), Prometheus metrics."),
        (name = "meta", description = "This document and its interactive page (no token)."),
    ),
    modifiers(&Finish),
)]
pub struct ApiDoc;

/// The finished document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// The document as pretty JSON (the committed `openapi/openapi.json`, with a final newline).
pub fn document_json() -> String {
    let mut s = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialize the document: {e}\"}}"));
    s.push('\n');
    s
}

// ---- parameters ---------------------------------------------------------------------------

/// The OData query options of a collection (`GET /security/alerts`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOptions {
    /// OData filter, e.g. `severity eq 'high' and createdDateTime gt 2024-05-01T00:00:00Z`,
    /// `vendorInformation/provider eq 'ASC'`, `userStates/any(a:a/userPrincipalName eq 'x')`.
    /// Property names and enum values are matched case-insensitively. Parts a provider
    /// understands are pushed down to it; the whole filter is applied to the merged result.
    #[param(rename = "$filter", required = false, schema_with = non_empty_string)]
    pub filter: String,
    /// Sort order of the merged page, e.g. `createdDateTime desc,severity`.
    #[param(rename = "$orderby", required = false, schema_with = non_empty_string)]
    pub orderby: String,
    /// Comma-separated properties to return (`assignedTo,category,severity`); the context URL
    /// lists them.
    #[param(rename = "$select", required = false, schema_with = non_empty_string)]
    pub select: String,
    /// Page size **per provider** (Graph's semantics): a page holds up to providers × `$top`
    /// alerts. Default: `federation.default_top` (50).
    #[param(rename = "$top", required = false, minimum = 1, maximum = 1000)]
    pub top: u32,
    /// Alerts to skip from the start of the first page (Graph's limit: 500). Prefer `$top`
    /// with `@odata.nextLink`.
    #[param(rename = "$skip", required = false, minimum = 0, maximum = 500)]
    pub skip: u32,
    /// `true` adds `@odata.count`, the number of alerts matching `$filter` over every provider.
    #[param(rename = "$count", required = false)]
    pub count: bool,
    /// Opaque continuation token; only ever use the `@odata.nextLink` the previous page gave.
    #[param(rename = "$skiptoken", required = false, schema_with = non_empty_string)]
    pub skiptoken: String,
}

/// A string option: an empty value is a 400 (`$filter=` is not "no filter").
fn non_empty_string() -> Schema {
    Schema::Object(string_schema().min_length(Some(1)).build())
}

/// `$filter` alone (`GET /security/alerts/$count`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterOption {
    /// OData filter, as for the list.
    #[param(rename = "$filter", required = false, schema_with = non_empty_string)]
    pub filter: String,
}

/// `$select` alone (an entity).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SelectOption {
    /// Comma-separated properties to return.
    #[param(rename = "$select", required = false, schema_with = non_empty_string)]
    pub select: String,
}

/// Request headers Graph clients send that change the answer.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct GraphHeaders {
    /// `include-unknown-enum-members` opts in to evolvable enum members (otherwise sent as
    /// `unknownFutureValue`); `return=representation` asks a write to answer with the resource.
    #[param(rename = "Prefer", required = false)]
    pub prefer: String,
    /// `no-cache` bypasses Vigil's provider-answer cache (every provider is asked afresh).
    #[param(rename = "Cache-Control", required = false)]
    pub cache_control: String,
    /// An `ETag` from an earlier answer: `304 Not Modified` when it still matches.
    #[param(rename = "If-None-Match", required = false)]
    pub if_none_match: String,
    /// The caller's request id (a GUID), echoed in the response and in error bodies.
    #[param(rename = "client-request-id", required = false)]
    pub client_request_id: String,
}

/// Request headers of a write (a conditional GET's headers mean nothing there).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct WriteHeaders {
    /// `return=representation` asks the write to answer `200` with the resource instead of
    /// `204`; `include-unknown-enum-members` opts in to evolvable enum members in it.
    #[param(rename = "Prefer", required = false)]
    pub prefer: String,
    /// The caller's request id (a GUID), echoed in the response and in error bodies.
    #[param(rename = "client-request-id", required = false)]
    pub client_request_id: String,
}

// ---- schemas that exist only on the wire ----------------------------------------------------

/// A page of alerts: Graph's collection envelope plus Vigil's per-provider status block.
#[derive(ToSchema)]
#[schema(as = microsoft::graph::alertCollectionResponse)]
pub struct AlertCollection {
    /// `{base}/{version}/$metadata#security/alerts`, with the `$select` list in parentheses.
    #[schema(rename = "@odata.context")]
    pub odata_context: String,
    /// With `$count=true`: the alerts matching `$filter` over every provider.
    #[schema(rename = "@odata.count", required = false)]
    pub odata_count: u64,
    /// The next page (absolute URL on this gateway, with an opaque `$skiptoken`); absent on
    /// the last page.
    #[schema(rename = "@odata.nextLink", required = false)]
    pub odata_next_link: String,
    /// Vigil extension: what each provider of the tenant answered for this page.
    #[schema(rename = "@vigil.providerStatus")]
    pub provider_status: Vec<ProviderOutcome>,
    /// The merged alerts.
    pub value: Vec<Alert>,
}

/// Graph's error body.
#[derive(ToSchema)]
#[schema(as = microsoft::graph::ODataErrors::ODataError)]
pub struct ODataError {
    pub error: MainError,
}

/// The error.
#[derive(ToSchema)]
#[schema(as = microsoft::graph::ODataErrors::MainError)]
pub struct MainError {
    /// Graph's code: `BadRequest`, `InvalidAuthenticationToken`, `Forbidden`, `NotFound`,
    /// `MethodNotAllowed`, `TooManyRequests`, `generalException`, `serviceNotAvailable`,
    /// `GatewayTimeout`, ...
    pub code: String,
    /// What went wrong, for a person (never internals: a 500 says to quote the request id).
    pub message: String,
    #[schema(rename = "innerError")]
    pub inner_error: InnerError,
}

/// Where and when the error happened.
#[derive(ToSchema)]
#[schema(as = microsoft::graph::ODataErrors::InnerError)]
pub struct InnerError {
    /// UTC, `YYYY-MM-DDTHH:MM:SS` without offset or fraction (as Graph sends it).
    #[schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")]
    pub date: String,
    /// The `request-id` response header.
    #[schema(rename = "request-id")]
    pub request_id: String,
    /// The caller's `client-request-id`, else the request id.
    #[schema(rename = "client-request-id")]
    pub client_request_id: String,
}

// ---- the shared parts -----------------------------------------------------------------------

/// Applies what every operation shares (see the module docs).
pub struct Finish;

/// The Graph error responses every authenticated operation can give, by status.
const SHARED_ERRORS: [(&str, &str); 7] = [
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("403", "Forbidden"),
    ("429", "TooManyRequests"),
    ("500", "InternalServerError"),
    ("503", "ServiceUnavailable"),
    ("504", "GatewayTimeout"),
];

/// Paths served as an alias of another (`/security/alerts/`: Graph's official sample uses the
/// trailing slash). `(alias, canonical, operation id suffix)`, relative to a version.
const ALIASES: [(&str, &str, &str); 1] =
    [("/security/alerts/", "/security/alerts", "TrailingSlash")];

/// The response headers defined once under `components.headers`.
const SHARED_HEADERS: [&str; 7] = [
    "request-id",
    "client-request-id",
    "ETag",
    "OData-Version",
    "Warning",
    "Retry-After",
    "WWW-Authenticate",
];

fn string_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn header_ref(name: &str) -> Ref {
    Ref::new(format!("#/components/headers/{name}"))
}

impl Modify for Finish {
    fn modify(&self, doc: &mut Document) {
        add_security_scheme(doc);
        add_headers(doc);
        add_error_responses(doc);
        document_alert_extensions(doc);
        crate::routes::identity::document_legacy_collections(doc);
        for item in doc.paths.paths.values_mut() {
            for op in operations(item) {
                finish_operation(op);
            }
        }
        add_aliases(doc);
        mirror_to_beta(doc);
    }
}

fn add_security_scheme(doc: &mut Document) {
    let mut http = Http::new(HttpAuthScheme::Bearer);
    http.bearer_format = Some("JWT".into());
    http.description = Some(BEARER_DESCRIPTION.into());
    doc.components
        .get_or_insert_with(Default::default)
        .security_schemes
        .insert(BEARER.into(), RefOr::T(SecurityScheme::Http(http)));
}

fn add_headers(doc: &mut Document) {
    let headers = [
        (
            "request-id",
            "A GUID identifying this request in Vigil's logs; quote it when reporting a problem.",
            string_schema().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Uuid,
            ))),
        ),
        (
            "client-request-id",
            "The caller's `client-request-id` echoed, or the `request-id` when none was sent.",
            string_schema(),
        ),
        (
            "ETag",
            "A strong validator of the body; send it back in `If-None-Match` to get a 304.",
            string_schema(),
        ),
        (
            "OData-Version",
            "Always `4.0`.",
            string_schema().enum_values(Some(["4.0"])),
        ),
        (
            "Warning",
            "One `199 - \"{vendor}/{provider}/{status}/{latencyMs}\"` value per provider that \
             failed or timed out (status 504), as Graph's security API sends them.",
            string_schema(),
        ),
        (
            "Retry-After",
            "Whole seconds to wait before retrying.",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        ),
        (
            "WWW-Authenticate",
            "`Bearer realm=\"vigil\", error=\"invalid_token\"`.",
            string_schema(),
        ),
    ];
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, description, schema) in headers {
        let h = HeaderBuilder::new()
            .schema(Some(Schema::Object(schema.build())))
            .description(Some(description))
            .build();
        components.headers.insert(name.into(), RefOr::T(h));
    }
}

fn add_error_responses(doc: &mut Document) {
    let error_body = Content::new(Some(
        Ref::from_schema_name(<ODataError as ToSchema>::name()),
    ));
    let responses = [
        (
            "BadRequest",
            "`BadRequest`: an invalid query option (`$filter` syntax, `$top` outside 1..=1000, \
             `$skip` above 500, an unknown `$` option, a tampered `$skiptoken`, ...).",
            &[][..],
        ),
        (
            "Unauthorized",
            "`InvalidAuthenticationToken`: no token, or an invalid or expired one.",
            &["WWW-Authenticate"][..],
        ),
        (
            "Forbidden",
            "`Forbidden`: the token lacks the permission the operation needs.",
            &[][..],
        ),
        (
            "NotFound",
            "`NotFound`: no provider of the tenant knows this id.",
            &["Warning"][..],
        ),
        (
            "TooManyRequests",
            "`TooManyRequests`: throttled; retry after `Retry-After` seconds.",
            &["Retry-After"][..],
        ),
        (
            "InternalServerError",
            "`generalException`: an unexpected failure; the message never shows internals.",
            &[][..],
        ),
        (
            "ServiceUnavailable",
            "`serviceNotAvailable`: Vigil cannot serve now (e.g. its store is down).",
            &["Retry-After"][..],
        ),
        (
            "GatewayTimeout",
            "`GatewayTimeout`: no answer in time.",
            &[][..],
        ),
        (
            "UnsupportedMediaType",
            "`UnsupportedMediaType`: the body is not `application/json`.",
            &[][..],
        ),
    ];
    let components = doc.components.get_or_insert_with(Default::default);
    components.responses.insert(
        "NotModified".into(),
        RefOr::T(
            ResponseBuilder::new()
                .description("Not modified: `If-None-Match` matched the current `ETag` (no body).")
                .header_ref("ETag", header_ref("ETag"))
                .header_ref("request-id", header_ref("request-id"))
                .header_ref("client-request-id", header_ref("client-request-id"))
                .build(),
        ),
    );
    for (name, description, extra) in responses {
        let mut r = ResponseBuilder::new()
            .description(description)
            .content("application/json", error_body.clone());
        for h in extra
            .iter()
            .chain(["request-id", "client-request-id"].iter())
        {
            r = r.header_ref(*h, header_ref(h));
        }
        components
            .responses
            .insert(name.into(), RefOr::T(r.build()));
    }
}

/// `vigilSources` / `vigilFieldSources` on `microsoft.graph.alert` (undeclared properties of
/// an open type, so the derive cannot see them).
fn document_alert_extensions(doc: &mut Document) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let name = <Alert as ToSchema>::name();
    if let Some(RefOr::T(Schema::Object(alert))) = components.schemas.get_mut(name.as_ref()) {
        for (prop, schema) in vigil_model::merge::openapi_extension_properties() {
            alert.properties.insert(prop.into(), schema);
        }
        alert.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(true)));
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn finish_operation(op: &mut utoipa::openapi::path::Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    if secured {
        for (status, name) in SHARED_ERRORS {
            op.responses
                .responses
                .entry(status.into())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
        }
    }
    // The abuse limits (token buckets per tenant and per app) apply to every route, the
    // unauthenticated ones included, except the probes and metrics (tag `health`).
    let probe = op
        .tags
        .as_ref()
        .is_some_and(|t| t.iter().any(|t| t == "health"));
    if !probe {
        op.responses
            .responses
            .entry("429".into())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name("TooManyRequests")));
    }
    // A conditional GET (it takes If-None-Match) can answer 304.
    let conditional = op.parameters.as_ref().is_some_and(|ps| {
        ps.iter().any(|p| match p {
            RefOr::T(p) => p.name.eq_ignore_ascii_case("If-None-Match"),
            RefOr::Ref(r) => r.ref_location.ends_with("/If-None-Match"),
        })
    });
    if conditional {
        op.responses
            .responses
            .entry("304".into())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name("NotModified")));
    }
    // A body that is not JSON is refused before anything else.
    if op.request_body.is_some() {
        op.responses
            .responses
            .entry("415".into())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name("UnsupportedMediaType")));
    }
    for resp in op.responses.responses.values_mut() {
        if let RefOr::T(r) = resp {
            // Headers with a shared definition are referenced, not repeated.
            for (name, h) in r.headers.iter_mut() {
                if SHARED_HEADERS.contains(&name.as_str()) {
                    *h = RefOr::Ref(header_ref(name));
                }
            }
            for h in ["request-id", "client-request-id"] {
                r.headers
                    .entry(h.into())
                    .or_insert_with(|| RefOr::Ref(header_ref(h)));
            }
        }
    }
}

fn add_aliases(doc: &mut Document) {
    for (alias, canonical, suffix) in ALIASES {
        for prefix in [V1_PREFIX, BETA_PREFIX] {
            let Some(item) = doc
                .paths
                .paths
                .get(&format!("{prefix}{canonical}"))
                .cloned()
            else {
                continue;
            };
            let mut item = item;
            for op in operations(&mut item) {
                op.operation_id = op.operation_id.take().map(|id| format!("{id}{suffix}"));
                op.summary = op
                    .summary
                    .take()
                    .map(|s| format!("{s} (trailing slash: same operation)"));
            }
            doc.paths.paths.insert(format!("{prefix}{alias}"), item);
        }
    }
}

fn mirror_to_beta(doc: &mut Document) {
    let v1: Vec<(String, PathItem)> = doc
        .paths
        .paths
        .iter()
        .filter_map(|(p, item)| {
            p.strip_prefix(V1_PREFIX)
                .filter(|rest| rest.starts_with('/'))
                .map(|rest| (format!("{BETA_PREFIX}{rest}"), item.clone()))
        })
        .collect();
    for (path, mut item) in v1 {
        for op in operations(&mut item) {
            op.operation_id = op.operation_id.take().map(|id| {
                let mut c = id.chars();
                let first = c.next().map(|f| f.to_ascii_uppercase());
                format!(
                    "beta{}{}",
                    first.into_iter().collect::<String>(),
                    c.as_str()
                )
            });
        }
        doc.paths.paths.entry(path).or_insert(item);
    }
}

// ---- serving --------------------------------------------------------------------------------

/// `GET /openapi.json` and `GET /docs` (no token).
pub fn router() -> Router<AppState> {
    let ui = utoipa_swagger_ui::SwaggerUi::new(DOCS_PATH)
        // No online validator badge: the page must not reach another host.
        .config(utoipa_swagger_ui::Config::new([OPENAPI_JSON_PATH]).validator_url("none"));
    Router::new()
        .route(OPENAPI_JSON_PATH, get(openapi_json))
        .merge(Router::<AppState>::from(ui))
}

/// The OpenAPI document
///
/// This document, as JSON (the same bytes as `openapi/openapi.json`).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(document_json).clone();
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The interactive documentation
///
/// Redirects to `/docs/`.
#[utoipa::path(
    get,
    path = "/docs",
    operation_id = "redirectToDocs",
    tag = "meta",
    responses((status = 303, description = "To `/docs/`.", headers(("Location" = String, description = "`/docs/`")))),
)]
#[allow(dead_code)] // Documents the route utoipa-swagger-ui serves.
async fn docs_redirect() {}

/// The interactive documentation
///
/// Swagger UI over `/openapi.json`; its scripts and styles are served from `/docs/` (compiled
/// into the binary), nothing comes from another host.
#[utoipa::path(
    get,
    path = "/docs/",
    operation_id = "getDocs",
    tag = "meta",
    responses((status = 200, description = "The Swagger UI page.", content_type = "text/html", body = String)),
)]
#[allow(dead_code)] // Documents the route utoipa-swagger-ui serves.
async fn docs_page() {}
