//! Bad input always gets a clear Graph error — the right status and code, a message, the
//! request ids — and never a 500 or a panic: malformed options, unknown properties, limits
//! (`$top` ≤ 1000, `$skip` ≤ 500), forged or re-bound skiptokens, unknown ids and routes.

use crate::*;
use serde_json::Value;

const LIST: &str = "/v1.0/security/alerts";

/// (query or path, expected status, expected code, a word the message must contain)
fn list_cases() -> Vec<(String, u16, &'static str, &'static str)> {
    let deep = format!("{}severity eq 'high'{}", "(".repeat(40), ")".repeat(40));
    let long = format!("title eq '{}'", "x".repeat(5000));
    vec![
        // $filter
        (
            format!("{LIST}?$filter={}", enc("severity eq")),
            400,
            "BadRequest",
            "$filter",
        ),
        (
            format!("{LIST}?$filter={}", enc("severity eq 'nope'")),
            400,
            "BadRequest",
            "nope",
        ),
        (
            format!("{LIST}?$filter={}", enc("colour eq 'red'")),
            400,
            "BadRequest",
            "colour",
        ),
        (
            format!("{LIST}?$filter={}", enc("vendorInformation/nope eq 'x'")),
            400,
            "BadRequest",
            "nope",
        ),
        (
            format!("{LIST}?$filter={}", enc("title eq 'unterminated")),
            400,
            "BadRequest",
            "$filter",
        ),
        (
            format!("{LIST}?$filter={}", enc("(((")),
            400,
            "BadRequest",
            "$filter",
        ),
        (
            format!("{LIST}?$filter={}", enc("contains(title)")),
            400,
            "BadRequest",
            "$filter",
        ),
        (
            format!(
                "{LIST}?$filter={}",
                enc("createdDateTime gt 2019-13-45T99:00Z")
            ),
            400,
            "BadRequest",
            "$filter",
        ),
        (
            format!("{LIST}?$filter={}", enc("tags/any(t: t/nope eq 'x')")),
            400,
            "BadRequest",
            "$filter",
        ),
        (
            format!("{LIST}?$filter={}", enc(&deep)),
            400,
            "BadRequest",
            "$filter",
        ),
        (
            format!("{LIST}?$filter={}", enc(&long)),
            400,
            "BadRequest",
            "$filter",
        ),
        (format!("{LIST}?$filter="), 400, "BadRequest", "$filter"),
        // $orderby / $select: unknown properties and syntax
        (
            format!("{LIST}?$orderby=colour"),
            400,
            "BadRequest",
            "colour",
        ),
        (
            format!("{LIST}?$orderby={}", enc("severity sideways")),
            400,
            "BadRequest",
            "$orderby",
        ),
        (
            format!("{LIST}?$select=colour"),
            400,
            "BadRequest",
            "colour",
        ),
        (
            format!("{LIST}?$select=severity,,title"),
            400,
            "BadRequest",
            "$select",
        ),
        (
            format!("{LIST}?$select=vendorInformation/provider"),
            400,
            "BadRequest",
            "$select",
        ),
        // $top / $skip / $count
        (format!("{LIST}?$top=1001"), 400, "BadRequest", "$top"),
        (format!("{LIST}?$top=0"), 400, "BadRequest", "$top"),
        (format!("{LIST}?$top=-1"), 400, "BadRequest", "$top"),
        (format!("{LIST}?$top=ten"), 400, "BadRequest", "$top"),
        (
            format!("{LIST}?$top=99999999999999999999"),
            400,
            "BadRequest",
            "$top",
        ),
        (format!("{LIST}?$skip=501"), 400, "BadRequest", "$skip"),
        (
            format!("{LIST}?$top=10&$skip=501"),
            400,
            "BadRequest",
            "$skip",
        ),
        (format!("{LIST}?$skip=-3"), 400, "BadRequest", "$skip"),
        (format!("{LIST}?$count=maybe"), 400, "BadRequest", "$count"),
        // options that do not exist here, or twice
        (
            format!("{LIST}?$expand=anything"),
            400,
            "BadRequest",
            "$expand",
        ),
        (
            format!("{LIST}?$search=mimikatz"),
            400,
            "BadRequest",
            "$search",
        ),
        (
            format!("{LIST}?$frobnicate=1"),
            400,
            "BadRequest",
            "$frobnicate",
        ),
        (format!("{LIST}?$top=1&$top=2"), 400, "BadRequest", "$top"),
        // forged skiptokens
        (
            format!("{LIST}?$skiptoken=forged"),
            400,
            "BadRequest",
            "skiptoken",
        ),
        (
            format!("{LIST}?$skiptoken=eyJiIjoiYSJ9.AAAA"),
            400,
            "BadRequest",
            "skiptoken",
        ),
        (
            format!("{LIST}?$skiptoken={}", "A".repeat(20_000)),
            414,
            "RequestUriTooLong",
            "longer",
        ),
        // $count segment accepts $filter only
        (format!("{LIST}/$count?$top=1"), 400, "BadRequest", "$top"),
        (
            format!("{LIST}/$count?$filter={}", enc("severity eq")),
            400,
            "BadRequest",
            "$filter",
        ),
        // one alert: unknown ids, options a single alert does not take
        (
            format!("{LIST}/no-such-alert"),
            404,
            "NotFound",
            "no-such-alert",
        ),
        (
            format!("{LIST}/{}", enc(&uuid::Uuid::new_v4().to_string())),
            404,
            "NotFound",
            "not found",
        ),
        (
            format!("{LIST}/{}", "z".repeat(3000)),
            404,
            "NotFound",
            "not found",
        ),
        (
            format!("{LIST}/%C3%A9t%C3%A9%20%27%22%3C%3E"),
            404,
            "NotFound",
            "not found",
        ),
        (
            format!("{LIST}/some-id?$filter={}", enc("severity eq 'high'")),
            400,
            "BadRequest",
            "$filter",
        ),
        (
            format!("{LIST}/some-id?$select=colour"),
            400,
            "BadRequest",
            "colour",
        ),
        // unknown routes
        (
            "/v1.0/security/nothing".to_string(),
            404,
            "NotFound",
            "nothing",
        ),
        (
            "/v2.0/security/alerts".to_string(),
            404,
            "NotFound",
            "alerts",
        ),
    ]
}

async fn check(env: &TestEnv, path: &str, status: u16, code: &str, word: &str) {
    let resp = env.get(CONTOSO, path).await;
    let short: String = path.chars().take(120).collect();
    assert_ne!(
        resp.status(),
        500,
        "{short}: a caller's mistake is never a 500"
    );
    let got = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{short}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{short}: {text}"));
    let (c, msg) = graph_error(&body);
    assert_eq!(c, code, "{short}: {text}");
    assert!(
        msg.to_lowercase().contains(&word.to_lowercase()),
        "{short}: the message should name '{word}': {msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_graph_error() {
    let env = TestEnv::start().await;
    for (path, status, code, word) in list_cases() {
        check(&env, &path, status, code, word).await;
        // Same on beta.
        let beta = path.replacen("/v1.0/", "/beta/", 1);
        if beta != path {
            check(&env, &beta, status, code, word).await;
        }
    }
    // The limits themselves are fine.
    env.get_json(CONTOSO, &format!("{LIST}?$top=1000"), 200)
        .await;
    env.get_json(CONTOSO, &format!("{LIST}?$top=10&$skip=500"), 200)
        .await;
}

#[tokio::test]
async fn a_skiptoken_edited_or_moved_to_another_query_is_refused() {
    let env = TestEnv::start().await;
    let f = enc("severity eq 'high'");
    let page = env
        .get_json(CONTOSO, &format!("{LIST}?$filter={f}&$top=2"), 200)
        .await;
    let next = page["@odata.nextLink"].as_str().unwrap().to_string();
    let url = reqwest::Url::parse(&next).unwrap();
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "$skiptoken")
        .unwrap()
        .1
        .to_string();
    // The genuine link works.
    assert_eq!(env.get_url(CONTOSO, &next).await.status(), 200);
    let (payload, sig) = token.split_once('.').unwrap();
    let flipped = |s: &str| {
        let mut c: Vec<char> = s.chars().collect();
        let i = c.len() / 2;
        c[i] = if c[i] == 'A' { 'B' } else { 'A' };
        c.into_iter().collect::<String>()
    };
    for (what, path) in [
        (
            "edited payload",
            format!(
                "{LIST}?$filter={f}&$top=2&$skiptoken={}.{sig}",
                flipped(payload)
            ),
        ),
        (
            "edited signature",
            format!(
                "{LIST}?$filter={f}&$top=2&$skiptoken={payload}.{}",
                flipped(sig)
            ),
        ),
        (
            "another filter",
            format!(
                "{LIST}?$filter={}&$top=2&$skiptoken={}",
                enc("severity eq 'low'"),
                enc(&token)
            ),
        ),
        (
            "another $top",
            format!("{LIST}?$filter={f}&$top=3&$skiptoken={}", enc(&token)),
        ),
        (
            "no filter",
            format!("{LIST}?$top=2&$skiptoken={}", enc(&token)),
        ),
    ] {
        let resp = env.get(CONTOSO, &path).await;
        let msg = expect_graph_error(resp, 400, "BadRequest").await;
        assert!(msg.contains("skiptoken"), "{what}: {msg}");
    }
}

#[tokio::test]
async fn wrong_methods_get_a_graph_405() {
    let env = TestEnv::start().await;
    for (method, path) in [
        (reqwest::Method::DELETE, format!("{LIST}/some-id")),
        (reqwest::Method::PUT, LIST.to_string()),
        (reqwest::Method::DELETE, format!("{LIST}/$count")),
    ] {
        let resp = env
            .client
            .request(method.clone(), format!("{}{path}", env.base))
            .bearer_auth(env.token(CONTOSO))
            .send()
            .await
            .unwrap();
        expect_graph_error(resp, 405, "MethodNotAllowed").await;
    }
}
