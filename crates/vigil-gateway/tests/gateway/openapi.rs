//! The OpenAPI document: committed copy current, every route documented and every documented
//! route served, the document and the docs page served without a token and without anything
//! from another host, and the Graph-specific parts (both versions, shared errors, enum values,
//! the open alert type).
//!
//! The gateway runs for real on 127.0.0.1:0 (no providers: every request here is answered
//! before any provider would be asked).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use vigil_gateway::openapi::{BETA_PREFIX, V1_PREFIX, document_json};
use vigil_model::GraphEnum;

/// Routes served before their documentation lands, owned by the engineers who added them.
/// Only ever shrink this list: annotate the handler (see the notes at the top of
/// crates/vigil-gateway/src/openapi.rs), then remove its line here. A route listed here that
/// is documented fails the test, so the list cannot go stale.
const PENDING_DOCS: &[&str] = &[];

const REGENERATE: &str = "run `cargo run --bin vigil -- openapi --out openapi/openapi.json`";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn doc() -> Value {
    serde_json::from_str(&document_json()).unwrap()
}

/// A running gateway on a fresh data directory; stops and cleans up when dropped.
struct Server {
    base: String,
    shutdown: CancellationToken,
    data_dir: PathBuf,
}

impl Server {
    async fn start() -> Self {
        let data_dir = std::env::temp_dir().join(format!("vigil-openapi-{}", uuid::Uuid::new_v4()));
        let cfg = vigil_gateway::Config::from_overrides(serde_json::json!({
            "data_dir": data_dir,
            "listen": "127.0.0.1:0",
            "auth": { "mode": "hs256" },
        }))
        .unwrap();
        let state = vigil_gateway::build_state(cfg).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move {
            let _ = vigil_gateway::run(state, listener, token).await;
        });
        Self {
            base,
            shutdown,
            data_dir,
        }
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

#[test]
fn openapi_json_is_current() {
    let path = repo_root().join("openapi/openapi.json");
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; {REGENERATE}", path.display()));
    let generated = document_json();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "the lengths differ".to_string(),
                |i| format!("first difference at line {}", i + 1),
            );
        panic!("openapi/openapi.json is stale ({line}): {REGENERATE} and commit it");
    }
}

/// `(method, path)` of every `.route("...", get(..).patch(..))` in `src/routes/`, and the
/// literal prefixes of `.nest("...", ..)` there.
fn routes_in_source() -> (Vec<(String, String)>, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut routes = Vec::new();
    let mut nests = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    for file in files {
        let text: String = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (call, is_route) in [(".route(", true), (".nest(", false)] {
            let mut rest = text.as_str();
            while let Some(i) = rest.find(call) {
                let after = &rest[i + call.len()..];
                let end = closing_paren(after);
                let args = &after[..end];
                let trimmed = args.trim_start();
                let path = trimmed
                    .strip_prefix('"')
                    .and_then(|s| s.split_once('"'))
                    .map(|(p, tail)| (p.to_string(), tail))
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: the path of `{call}` must be a string literal for this test: {}",
                            file.display(),
                            trimmed.lines().next().unwrap_or_default()
                        )
                    });
                if is_route {
                    for m in methods_in(path.1) {
                        routes.push((m.to_string(), path.0.clone()));
                    }
                } else {
                    nests.push(path.0.clone());
                }
                rest = &after[end..];
            }
        }
    }
    (routes, nests)
}

fn closing_paren(s: &str) -> usize {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// The axum method routers named in a route's handler argument.
fn methods_in(handler: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for m in ["get", "post", "put", "patch", "delete"] {
        let needle = format!("{m}(");
        let mut from = 0;
        while let Some(i) = handler[from..].find(&needle) {
            let at = from + i;
            let before = handler[..at].chars().last();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                out.push(m);
            }
            from = at + needle.len();
        }
    }
    out
}

/// Whether the router serves `method path` (anything but its 404/405 fallbacks).
async fn served(client: &reqwest::Client, base: &str, method: &str, path: &str) -> bool {
    let url = format!("{base}{}", fill_params(path));
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let resp = client.request(method, &url).send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    let fallback = (status == 404 && message.starts_with("Resource not found for the segment"))
        || (status == 405 && body["error"]["code"] == "MethodNotAllowed");
    !fallback
}

fn fill_params(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("probe-id");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_route_is_documented_and_served() {
    let doc = doc();
    let documented = documented(&doc);
    let (routes, nests) = routes_in_source();
    assert!(
        routes.len() >= 4,
        "the source scan found too few routes: {routes:?}"
    );
    let server = Server::start().await;
    let client = Server::client();
    let mut missing = Vec::new();
    for (method, path) in &routes {
        let mut candidates = vec![path.clone()];
        candidates.extend(nests.iter().map(|n| format!("{n}{path}")));
        let mut any = false;
        for c in candidates {
            if served(&client, &server.base, method, &c).await {
                any = true;
                let name = format!("{} {c}", method.to_uppercase());
                let is_documented = documented.contains(&(method.clone(), c.clone()));
                let pending = PENDING_DOCS.contains(&name.as_str());
                assert!(
                    !(is_documented && pending),
                    "{name} is documented now: remove it from PENDING_DOCS"
                );
                if !is_documented && !pending {
                    missing.push(name);
                }
            }
        }
        assert!(
            any,
            "{} {path} is in src/routes but served under no prefix",
            method.to_uppercase()
        );
    }
    assert!(
        missing.is_empty(),
        "served but not in the OpenAPI document (add #[utoipa::path] and list it in ApiDoc, \
         see crates/vigil-gateway/src/openapi.rs; then {REGENERATE}): {missing:?}"
    );
    let mut phantom = Vec::new();
    for (method, path) in &documented {
        if !served(&client, &server.base, method, path).await {
            phantom.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    assert!(phantom.is_empty(), "documented but not served: {phantom:?}");
}

#[tokio::test]
async fn document_and_docs_page_are_served_without_token_or_network() {
    let server = Server::start().await;
    let client = Server::client();
    let resp = client
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(resp.text().await.unwrap(), document_json());

    let resp = client
        .get(format!("{}/docs", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/docs/");

    let resp = client
        .get(format!("{}/docs/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("swagger-ui"),
        "not the Swagger UI page: {html}"
    );
    let refs = attribute_values(&html, &["src=\"", "href=\""]);
    assert!(refs.len() >= 3, "expected scripts and styles: {refs:?}");
    for r in &refs {
        assert!(
            !r.contains("//"),
            "the docs page loads {r} from another host; it must work offline"
        );
        let url = format!("{}/docs/{}", server.base, r.trim_start_matches("./"));
        let asset = client.get(&url).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{url} is not served");
    }
    // The page's configuration points at our document and at no online validator.
    let init = client
        .get(format!("{}/docs/swagger-initializer.js", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
    assert!(
        !init.contains("http://") && !init.contains("https://"),
        "{init}"
    );
}

fn attribute_values(html: &str, prefixes: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for p in prefixes {
        let mut rest = html;
        while let Some(i) = rest.find(p) {
            let after = &rest[i + p.len()..];
            let end = after.find('"').unwrap_or(after.len());
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn graph_paths_exist_under_both_versions_with_unique_operation_ids() {
    let doc = doc();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/security/alerts",
        "/security/alerts/",
        "/security/alerts/$count",
        "/security/alerts/{id}",
    ] {
        for prefix in [V1_PREFIX, BETA_PREFIX] {
            assert!(paths.contains_key(&format!("{prefix}{p}")), "{prefix}{p}");
        }
    }
    for (path, _) in paths.iter().filter(|(p, _)| p.starts_with(V1_PREFIX)) {
        let beta = format!("{BETA_PREFIX}{}", &path[V1_PREFIX.len()..]);
        assert!(paths.contains_key(&beta), "{path} has no {beta}");
    }
    let mut ids = BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
        }
    }
}

#[test]
fn graph_operations_document_parameters_headers_and_every_error() {
    let doc = doc();
    let list = &doc["paths"]["/v1.0/security/alerts"]["get"];
    let params: BTreeSet<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
        "$filter",
        "$orderby",
        "$select",
        "$top",
        "$skip",
        "$count",
        "$skiptoken",
        "Prefer",
        "Cache-Control",
        "If-None-Match",
        "client-request-id",
    ] {
        assert!(params.contains(p), "listAlerts lacks {p}");
    }
    let top = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "$top")
        .unwrap();
    assert_eq!(top["schema"]["minimum"], 1);
    assert_eq!(top["schema"]["maximum"], 1000);
    assert!(list["responses"]["206"]["headers"]["Warning"].is_object());
    assert!(list["responses"]["200"]["headers"]["request-id"].is_object());
    assert!(list["responses"]["304"].is_object());
    let count = &doc["paths"]["/v1.0/security/alerts/$count"]["get"]["responses"]["200"];
    assert_eq!(count["content"]["text/plain"]["schema"]["type"], "integer");

    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            for status in ["400", "401", "403", "429", "500", "503", "504"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
    let responses = &doc["components"]["responses"];
    assert!(responses["Unauthorized"]["headers"]["WWW-Authenticate"].is_object());
    assert!(responses["TooManyRequests"]["headers"]["Retry-After"].is_object());
    let error = &doc["components"]["schemas"]["microsoft.graph.ODataErrors.InnerError"];
    for k in ["date", "request-id", "client-request-id"] {
        assert!(error["properties"][k].is_object(), "innerError lacks {k}");
    }
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["scheme"], "bearer");
    assert!(
        scheme["description"]
            .as_str()
            .unwrap()
            .contains("SecurityEvents.ReadWrite.All")
    );
}

#[test]
fn schemas_carry_graph_names_wire_enums_and_the_open_alert_type() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    let alert = &schemas["microsoft.graph.alert"];
    assert_eq!(alert["additionalProperties"], true, "alert is an open type");
    assert!(alert["properties"]["vigilSources"].is_object());
    assert!(alert["properties"]["vigilFieldSources"].is_object());
    assert!(alert["properties"]["hostStates"].is_object());
    let host = &schemas["microsoft.graph.hostSecurityState"];
    assert!(host["properties"]["isAzureAdJoined"].is_object());
    assert_eq!(schemas["Edm.DateTimeOffset"]["format"], "date-time");
    fn wire<E: GraphEnum>() -> Vec<Value> {
        E::ALL.iter().map(|m| Value::from(m.as_str())).collect()
    }
    assert_eq!(
        schemas["microsoft.graph.alertStatus"]["enum"],
        Value::Array(wire::<vigil_model::AlertStatus>())
    );
    assert_eq!(
        schemas["microsoft.graph.registryValueType"]["enum"],
        Value::Array(wire::<vigil_model::RegistryValueType>())
    );
    let envelope = &schemas["microsoft.graph.alertCollectionResponse"]["properties"];
    for k in [
        "@odata.context",
        "@odata.count",
        "@odata.nextLink",
        "@vigil.providerStatus",
        "value",
    ] {
        assert!(envelope[k].is_object(), "the collection lacks {k}");
    }
}

/// OpenAPI 3: "a unique parameter is defined by a combination of a name and location";
/// generators (openapi-python-client) drop an operation that repeats one.
#[test]
fn no_operation_repeats_a_parameter() {
    let doc = doc();
    let mut repeated = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(params) = op["parameters"].as_array() else {
                continue;
            };
            let mut seen = BTreeSet::new();
            for p in params {
                let p = match p["$ref"].as_str() {
                    Some(r) => {
                        let name = r.rsplit('/').next().unwrap();
                        &doc["components"]["parameters"][name]
                    }
                    None => p,
                };
                let key = (
                    p["name"].as_str().unwrap().to_ascii_lowercase(),
                    p["in"].as_str().unwrap().to_string(),
                );
                if !seen.insert(key.clone()) {
                    repeated.push(format!("{} {path}: {key:?}", method.to_uppercase()));
                }
            }
        }
    }
    assert!(repeated.is_empty(), "repeated parameters: {repeated:#?}");
}
