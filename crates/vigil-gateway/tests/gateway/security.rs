//! Hostile tokens against the JWKS verifier, the key endpoint under a flood of bogus `kid`s,
//! and the abuse limits, on the real app (127.0.0.1:0) with a JWKS server run by the test that
//! counts its requests. Keys are generated at test time (aws-lc-rs); none is committed.

use aws_lc_rs::encoding::AsDer;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const CONTOSO: &str = "2c7a6b64-0d5e-4a51-9a57-0b0b1a1e7c01";
const FABRIKAM: &str = "8f1d2e3c-4b5a-4c6d-8e7f-9a0b1c2d3e04";
const AUDIENCE: &str = "api://vigil-test";
const ALERTS: &str = "/v1.0/security/alerts";
const ADMIN: &str = "/vigil/admin/outbox";

/// A signing key with its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    enc: EncodingKey,
    jwk: Value,
    /// SubjectPublicKeyInfo DER (what a confused verifier would use as an HMAC secret).
    public_der: Vec<u8>,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn rsa_key(kid: &str) -> TestKey {
    use aws_lc_rs::encoding::{Pkcs8V1Der, PublicKeyX509Der};
    use aws_lc_rs::signature::KeyPair as _;
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der: Pkcs8V1Der = kp.as_der().unwrap();
    let enc = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", der.as_ref()).as_bytes()).unwrap();
    let public: PublicKeyX509Der = kp.public_key().as_der().unwrap();
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&enc, Algorithm::RS256).unwrap()).unwrap();
    // Entra publishes RSA keys without `alg`, with `use: sig`.
    let o = jwk.as_object_mut().unwrap();
    o.remove("alg");
    o.insert("use".into(), "sig".into());
    o.insert("kid".into(), kid.into());
    TestKey {
        kid: kid.into(),
        alg: Algorithm::RS256,
        enc,
        jwk,
        public_der: public.as_ref().to_vec(),
    }
}

fn ec_key(kid: &str) -> TestKey {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let doc = kp.to_pkcs8v1().unwrap();
    let enc = EncodingKey::from_ec_der(doc.as_ref());
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&enc, Algorithm::ES256).unwrap()).unwrap();
    jwk.as_object_mut()
        .unwrap()
        .insert("kid".into(), kid.into());
    TestKey {
        kid: kid.into(),
        alg: Algorithm::ES256,
        enc,
        jwk,
        public_der: kp.public_key().as_ref().to_vec(),
    }
}

/// Claims as Entra issues them for the gateway (v1 token).
fn claims(tid: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": format!("https://sts.windows.net/{tid}/"),
        "aud": AUDIENCE,
        "exp": now + 3600,
        "nbf": now - 10,
        "iat": now - 10,
        "tid": tid,
        "oid": "6f1c0a4e-1111-4222-8333-944455556666",
        "appid": "0b2c3d4e-aaaa-4bbb-8ccc-ddddeeeeffff",
        "upn": "analyst@contoso.example",
        "scp": "SecurityEvents.Read.All",
    })
}

fn sign(key: &TestKey, claims: &Value) -> String {
    let mut h = Header::new(key.alg);
    h.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&h, claims, &key.enc).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A JWKS endpoint whose key set can change, counting its requests.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    keys: Arc<Mutex<Vec<Value>>>,
    stop: CancellationToken,
}

impl JwksServer {
    async fn start(keys: Vec<Value>) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let keys = Arc::new(Mutex::new(keys));
        let (h, k) = (hits.clone(), keys.clone());
        let app = axum::Router::new().route(
            "/{tenant}/discovery/v2.0/keys",
            axum::routing::get(move || {
                let (h, k) = (h.clone(), k.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let keys = k.lock().unwrap().clone();
                    axum::Json(json!({ "keys": keys }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        });
        Self {
            url: format!("http://{addr}/{{tenant}}/discovery/v2.0/keys"),
            hits,
            keys,
            stop,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The gateway on 127.0.0.1:0, no providers.
struct Gw {
    base: String,
    client: reqwest::Client,
    stop: CancellationToken,
    data_dir: std::path::PathBuf,
    state: vigil_gateway::AppState,
}

impl Gw {
    async fn start(overrides: Value) -> Self {
        let data_dir = std::env::temp_dir().join(format!("vigil-gw-{}", uuid::Uuid::new_v4()));
        let mut all = json!({ "listen": "127.0.0.1:0", "data_dir": data_dir });
        merge(&mut all, overrides);
        let cfg = vigil_gateway::Config::from_overrides(all).expect("config");
        let state = vigil_gateway::build_state(cfg).await.expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let (s, st) = (stop.clone(), state.clone());
        tokio::spawn(async move {
            let _ = vigil_gateway::run(st, listener, s).await;
        });
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            stop,
            data_dir,
            state,
        }
    }

    async fn jwks(jwks: &JwksServer, extra: Value) -> Self {
        let mut o = json!({ "auth": {
            "mode": "jwks",
            "jwks_url": jwks.url,
            "audiences": [AUDIENCE, "7d3f0c2a-1234-4abc-9def-0123456789ab"],
            "jwks_min_refresh_secs": 1,
            "leeway_secs": 30,
        }});
        merge(&mut o, extra);
        Self::start(o).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

/// The status, after checking the body is a Graph error with request ids (when not 2xx).
async fn graph_status(resp: reqwest::Response) -> (u16, Option<String>, String) {
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    if status >= 400 {
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
        assert!(v["error"]["code"].is_string(), "{text}");
        assert!(v["error"]["innerError"]["request-id"].is_string(), "{text}");
        assert!(v["error"]["innerError"]["date"].is_string(), "{text}");
    }
    (status, www, text)
}

#[tokio::test]
async fn valid_rs256_and_es256_tokens_are_accepted() {
    let rsa = rsa_key("rsa-1");
    let ec = ec_key("ec-1");
    let jwks = JwksServer::start(vec![rsa.jwk.clone(), ec.jwk.clone()]).await;
    let gw = Gw::jwks(&jwks, json!({})).await;
    for key in [&rsa, &ec] {
        let (s, _, body) =
            graph_status(gw.get(ALERTS, Some(&sign(key, &claims(CONTOSO)))).await).await;
        assert_eq!(s, 200, "{:?}: {body}", key.alg);
    }
    // v2 tokens: issuer login.microsoftonline.com/{tid}/v2.0, audience the app id GUID.
    let mut c = claims(FABRIKAM);
    c["iss"] = format!("https://login.microsoftonline.com/{FABRIKAM}/v2.0").into();
    c["aud"] = "7d3f0c2a-1234-4abc-9def-0123456789ab".into();
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&sign(&rsa, &c))).await).await;
    assert_eq!(s, 200);
    // One fetch served both keys.
    assert_eq!(jwks.hits(), 1);
}

#[tokio::test]
async fn hostile_tokens_are_refused_with_401_and_no_reason() {
    let rsa = rsa_key("rsa-1");
    let ec = ec_key("ec-1");
    let jwks = JwksServer::start(vec![rsa.jwk.clone(), ec.jwk.clone()]).await;
    let gw = Gw::jwks(&jwks, json!({})).await;
    let now = chrono::Utc::now().timestamp();
    let good = sign(&rsa, &claims(CONTOSO));
    let parts: Vec<&str> = good.split('.').collect();

    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims(CONTOSO);
        f(&mut c);
        sign(&rsa, &c)
    };
    let mut cases: Vec<(&str, String)> = vec![
        ("expired", with(&|c| c["exp"] = (now - 3600).into())),
        (
            "expired beyond the leeway",
            with(&|c| c["exp"] = (now - 40).into()),
        ),
        ("not yet valid", with(&|c| c["nbf"] = (now + 3600).into())),
        (
            "wrong issuer",
            with(&|c| c["iss"] = "https://evil.example/".into()),
        ),
        (
            "issuer of another tenant",
            with(&|c| c["iss"] = format!("https://sts.windows.net/{FABRIKAM}/").into()),
        ),
        (
            "no issuer",
            with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
        ),
        (
            "wrong audience",
            with(&|c| c["aud"] = "api://someone-else".into()),
        ),
        (
            "Graph's audience",
            with(&|c| c["aud"] = "https://graph.microsoft.com".into()),
        ),
        (
            "no audience",
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
        ),
        (
            "no expiry",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "missing tid",
            with(&|c| {
                c.as_object_mut().unwrap().remove("tid");
            }),
        ),
        (
            "roles as a string",
            with(&|c| c["roles"] = "SecurityEvents.Read.All".into()),
        ),
        (
            "scp as an array",
            with(&|c| c["scp"] = json!(["SecurityEvents.Read.All"])),
        ),
        ("garbage", "not.a.token".into()),
        ("two parts", format!("{}.{}", parts[0], parts[1])),
    ];
    // alg: none, signature empty.
    let none_header = json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"});
    cases.push((
        "alg none",
        format!("{}.{}.", b64(&none_header), b64(&claims(CONTOSO))),
    ));
    let none_lower = json!({"alg": "None", "typ": "JWT", "kid": "rsa-1"});
    cases.push((
        "alg None with the real signature",
        format!("{}.{}.{}", b64(&none_lower), parts[1], parts[2]),
    ));
    // HS256 "signed" with the RSA public key, naming the RSA key (HS/RS confusion).
    for secret in [
        rsa.public_der.clone(),
        pem("PUBLIC KEY", &rsa.public_der).into_bytes(),
    ] {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("rsa-1".into());
        let t =
            jsonwebtoken::encode(&h, &claims(CONTOSO), &EncodingKey::from_secret(&secret)).unwrap();
        cases.push(("HS256 with the RSA public key", t));
    }
    // ES256 token naming the RSA key (algorithm must match the key).
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("rsa-1".into());
    cases.push((
        "ES256 signature under an RSA kid",
        jsonwebtoken::encode(&h, &claims(CONTOSO), &ec.enc).unwrap(),
    ));
    // RS256 header over the EC key id.
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("ec-1".into());
    cases.push((
        "RS256 signature under an EC kid",
        jsonwebtoken::encode(&h, &claims(CONTOSO), &rsa.enc).unwrap(),
    ));
    // No kid.
    let h = Header::new(Algorithm::RS256);
    cases.push((
        "no kid",
        jsonwebtoken::encode(&h, &claims(CONTOSO), &rsa.enc).unwrap(),
    ));
    // Tampered payload: another tenant, same signature.
    let mut forged = claims(CONTOSO);
    forged["tid"] = FABRIKAM.into();
    forged["iss"] = format!("https://sts.windows.net/{FABRIKAM}/").into();
    cases.push((
        "tampered payload",
        format!("{}.{}.{}", parts[0], b64(&forged), parts[2]),
    ));
    // Tampered signature: first character changed.
    let sig = parts[2];
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    cases.push((
        "tampered signature",
        format!("{}.{}.{flipped}{}", parts[0], parts[1], &sig[1..]),
    ));
    // Tampered header: a different kid that exists, same signature.
    let mut hdr: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    hdr["kid"] = "ec-1".into();
    cases.push((
        "tampered header",
        format!("{}.{}.{}", b64(&hdr), parts[1], parts[2]),
    ));

    for (name, token) in &cases {
        let (status, www, body) = graph_status(gw.get(ALERTS, Some(token)).await).await;
        assert_eq!(status, 401, "{name}: {body}");
        let www = www.unwrap_or_default();
        assert!(
            www.starts_with("Bearer") && www.contains("error=\"invalid_token\""),
            "{name}: {www}"
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "InvalidAuthenticationToken", "{name}");
        let msg = v["error"]["message"].as_str().unwrap().to_lowercase();
        for leak in ["signature", "audience", "issuer", "algorithm", "kid", "key"] {
            assert!(!msg.contains(leak), "{name}: message says {leak}: {msg}");
        }
    }
    // Sanity: the untampered token passes.
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&good)).await).await;
    assert_eq!(s, 200);
    // None of the bad tokens made the gateway fetch keys again (all known kids or refused
    // before any lookup); the first request fetched once.
    assert_eq!(jwks.hits(), 1);
}

#[tokio::test]
async fn missing_token_and_missing_permission() {
    let rsa = rsa_key("rsa-1");
    let jwks = JwksServer::start(vec![rsa.jwk.clone()]).await;
    let gw = Gw::jwks(&jwks, json!({})).await;

    // No token: 401, Bearer challenge without an error code (RFC 6750 §3.1).
    let (s, www, body) = graph_status(gw.get(ALERTS, None).await).await;
    assert_eq!(s, 401, "{body}");
    let www = www.unwrap();
    assert!(
        www.starts_with("Bearer") && !www.contains("error="),
        "{www}"
    );
    // Not a bearer token.
    let resp = gw
        .client
        .get(format!("{}{ALERTS}", gw.base))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    let (s, www, _) = graph_status(resp).await;
    assert_eq!(s, 401);
    assert!(www.unwrap().contains("invalid_token"));

    // A valid token without the permission: 403 Forbidden in Graph's format.
    let mut c = claims(CONTOSO);
    c["scp"] = "User.Read openid".into();
    let (s, _, body) = graph_status(gw.get(ALERTS, Some(&sign(&rsa, &c))).await).await;
    assert_eq!(s, 403, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "Forbidden");

    // Application permissions come in `roles`.
    let mut c = claims(CONTOSO);
    c.as_object_mut().unwrap().remove("scp");
    c["roles"] = json!(["SecurityEvents.Read.All"]);
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&sign(&rsa, &c))).await).await;
    assert_eq!(s, 200);

    // Operator routes: the admin app role from `roles` only; in `scp` it is not granted.
    let mut c = claims(CONTOSO);
    c["scp"] = "Vigil.Admin SecurityEvents.Read.All".into();
    let (s, _, body) = graph_status(gw.get(ADMIN, Some(&sign(&rsa, &c))).await).await;
    assert_eq!(s, 403, "{body}");
    let mut c = claims(CONTOSO);
    c["roles"] = json!(["Vigil.Admin"]);
    let (s, _, body) = graph_status(gw.get(ADMIN, Some(&sign(&rsa, &c))).await).await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn unknown_kids_refresh_once_and_a_flood_cannot_hammer_the_key_endpoint() {
    let rsa = rsa_key("rsa-1");
    let rotated = rsa_key("rsa-2");
    let jwks = JwksServer::start(vec![rsa.jwk.clone()]).await;
    let gw = Gw::jwks(&jwks, json!({ "auth": { "jwks_min_refresh_secs": 1 } })).await;

    // First sight of a kid not in the set: one fetch, then 401.
    let t = sign(&rotated, &claims(CONTOSO));
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&t)).await).await;
    assert_eq!(s, 401);
    assert_eq!(jwks.hits(), 1);

    // A flood of bogus kids, concurrently, within the refresh interval: no fetch at all.
    let bogus: Vec<String> = (0..60)
        .map(|i| {
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some(format!("bogus-{i}"));
            jsonwebtoken::encode(&h, &claims(CONTOSO), &rsa.enc).unwrap()
        })
        .collect();
    let statuses = futures::future::join_all(bogus.iter().map(|t| gw.get(ALERTS, Some(t)))).await;
    assert!(statuses.iter().all(|r| r.status() == 401));
    assert_eq!(jwks.hits(), 1, "the flood reached the key endpoint");

    // After the interval, a second flood shares one fetch.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let statuses = futures::future::join_all(bogus.iter().map(|t| gw.get(ALERTS, Some(t)))).await;
    assert!(statuses.iter().all(|r| r.status() == 401));
    assert_eq!(jwks.hits(), 2, "concurrent misses must share one fetch");

    // Key rotation: the new key appears in the set; the next unknown-kid miss after the
    // interval picks it up, and known kids need no fetch.
    jwks.keys.lock().unwrap().push(rotated.jwk.clone());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, _, body) = graph_status(gw.get(ALERTS, Some(&t)).await).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(jwks.hits(), 3);
    for _ in 0..5 {
        let (s, _, _) = graph_status(gw.get(ALERTS, Some(&t)).await).await;
        assert_eq!(s, 200);
    }
    assert_eq!(jwks.hits(), 3);

    // A key removed from the set stops working at the next refresh, also for a token the
    // gateway remembers as verified (auth::verified): the refresh forgets them.
    let remembered = sign(&rsa, &claims(CONTOSO));
    for _ in 0..3 {
        let (s, _, body) = graph_status(gw.get(ALERTS, Some(&remembered)).await).await;
        assert_eq!(s, 200, "{body}");
    }
    jwks.keys.lock().unwrap().retain(|k| k["kid"] != "rsa-1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&bogus[0])).await).await;
    assert_eq!(s, 401);
    assert_eq!(jwks.hits(), 4);
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&sign(&rsa, &claims(CONTOSO)))).await).await;
    assert_eq!(s, 401, "a revoked key still verifies");
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&remembered)).await).await;
    assert_eq!(s, 401, "a remembered token of a revoked key still verifies");
}

#[tokio::test]
async fn a_tenant_bound_gateway_refuses_other_tenants() {
    let rsa = rsa_key("rsa-1");
    let jwks = JwksServer::start(vec![rsa.jwk.clone()]).await;
    let gw = Gw::jwks(&jwks, json!({ "auth": { "tenant": CONTOSO } })).await;
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&sign(&rsa, &claims(CONTOSO)))).await).await;
    assert_eq!(s, 200);
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&sign(&rsa, &claims(FABRIKAM)))).await).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn jwks_config_mistakes_are_explained() {
    let base = json!({ "listen": "127.0.0.1:0", "data_dir": "/tmp/unused" });
    let problems = |auth: Value| -> String {
        let mut all = base.clone();
        merge(&mut all, json!({ "auth": auth }));
        match vigil_gateway::Config::from_overrides(all) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    };
    let e = problems(json!({ "mode": "jwks" }));
    assert!(e.contains("auth.audiences"), "{e}");
    let e = problems(json!({ "mode": "jwks", "audiences": ["https://graph.microsoft.com"] }));
    assert!(e.contains("nonce"), "{e}");
    let e = problems(
        json!({ "mode": "jwks", "audiences": ["api://x"], "jwks_url": "http://keys.example/keys" }),
    );
    assert!(e.contains("auth.jwks_url"), "{e}");
    let e = problems(json!({ "mode": "jwks", "audiences": ["api://x"], "tenant": "contoso" }));
    assert!(e.contains("auth.tenant"), "{e}");
    let e =
        problems(json!({ "mode": "jwks", "audiences": ["api://x"], "jwks_min_refresh_secs": 0 }));
    assert!(e.contains("jwks_min_refresh_secs"), "{e}");
    let e = problems(json!({ "mode": "rs256" }));
    assert!(e.contains("auth.mode"), "{e}");
    let e = problems(json!({ "leeway_secs": 3600 }));
    assert!(e.contains("auth.leeway_secs"), "{e}");
    let e = problems(json!({ "verified_token_cache_secs": 3600 }));
    assert!(e.contains("auth.verified_token_cache_secs"), "{e}");
    let e = problems(json!({ "verified_token_cache_entries": 0 }));
    assert!(e.contains("auth.verified_token_cache_entries"), "{e}");
    assert_eq!(
        problems(json!({ "mode": "jwks", "audiences": ["api://x"] })),
        ""
    );
}

#[tokio::test]
async fn the_default_auth_mode_is_jwks_and_needs_audiences() {
    // Nothing about auth given: jwks, and the missing audiences are named.
    let e = vigil_gateway::Config::from_overrides(
        json!({ "listen": "127.0.0.1:0", "data_dir": "/tmp/unused" }),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("auth.audiences") && e.contains("jwks"), "{e}");
    let cfg = vigil_gateway::Config::from_overrides(json!({
        "listen": "127.0.0.1:0", "data_dir": "/tmp/unused",
        "auth": { "audiences": [AUDIENCE] },
    }))
    .unwrap();
    assert_eq!(cfg.auth.mode, "jwks");
}

#[tokio::test]
async fn a_jwks_gateway_refuses_hs256_tokens() {
    let rsa = rsa_key("k1");
    let jwks = JwksServer::start(vec![rsa.jwk.clone()]).await;
    // auth.mode left at its default.
    let gw = Gw::start(json!({ "auth": {
        "jwks_url": jwks.url, "audiences": [AUDIENCE], "jwks_min_refresh_secs": 1,
    }}))
    .await;
    assert_eq!(gw.state.config.auth.mode, "jwks");
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&sign(&rsa, &claims(CONTOSO)))).await).await;
    assert_eq!(s, 200);
    // An HS256 token with exactly the claims an accepted token carries, signed with the key
    // the demo would use in this data directory: refused. So is a demo token.
    let key = vigil_gateway::config::load_or_create_key(&gw.state.config.hs256_key_path()).unwrap();
    let header = Header::new(Algorithm::HS256);
    let token =
        jsonwebtoken::encode(&header, &claims(CONTOSO), &EncodingKey::from_secret(&key)).unwrap();
    let (s, _, _) = graph_status(gw.get(ALERTS, Some(&token)).await).await;
    assert_eq!(s, 401);
    let (s, _, _) = graph_status(
        gw.get(ALERTS, Some(&demo_token(&key, CONTOSO, "app")))
            .await,
    )
    .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn provider_secrets_never_show_in_debug_output() {
    let dir = std::env::temp_dir().join(format!("vigil-secret-debug-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("falcon.secret");
    std::fs::write(&file, "falcon-secret-from-file-5e1d\n").unwrap();
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\nmode = \"hs256\"\n\n\
             [[providers]]\nkind = \"falcon\"\nname = \"falcon\"\ntenant_id = \"{CONTOSO}\"\n\
             credentials = {{ client_id = \"cid\", client_secret_file = \"{}\" }}\n\n\
             [[providers]]\nkind = \"ocsf\"\nname = \"lake\"\ntenant_id = \"{CONTOSO}\"\n\
             base_url = \"https://findings.example.com\"\napi_token = \"ocsf-literal-token-9b2c\"\n",
            file.display()
        ),
    )
    .unwrap();
    let cfg = vigil_gateway::Config::load(Some(&config)).unwrap();
    assert_eq!(vigil_gateway::app::build_providers(&cfg).unwrap().len(), 2);
    let shown = format!("{cfg:?} {cfg:#?}");
    assert!(shown.contains("cid"), "not the config: {shown}");
    for secret in ["falcon-secret-from-file-5e1d", "ocsf-literal-token-9b2c"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    // The literal one is warned about, by key.
    assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
    assert!(cfg.warnings[0].starts_with("providers[1].api_token:"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An HS256 gateway (the demo mode) with tight limits.
async fn limited(extra: Value) -> (Gw, Vec<u8>) {
    let mut o = json!({ "auth": { "mode": "hs256" } });
    merge(&mut o, extra);
    let gw = Gw::start(o).await;
    let key = vigil_gateway::config::load_or_create_key(&gw.state.config.hs256_key_path()).unwrap();
    (gw, key)
}

fn demo_token(key: &[u8], tid: &str, app: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    vigil_gateway::auth::mint_hs256(
        key,
        &vigil_gateway::auth::Claims {
            iss: Some(vigil_gateway::auth::DEMO_ISSUER.into()),
            aud: Some(vigil_gateway::auth::DEMO_AUDIENCE.into()),
            exp: now + 600,
            tid: Some(tid.into()),
            oid: Some("o".into()),
            appid: Some(app.into()),
            scp: Some("SecurityEvents.Read.All SecurityEvents.ReadWrite.All".into()),
            ..Default::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn rate_limits_answer_graph_429_per_app_and_tenant() {
    let (gw, key) = limited(json!({ "limits": {
        "tenant_per_minute": 60, "tenant_burst": 5, "app_per_minute": 60, "app_burst": 3,
    }}))
    .await;
    let a = demo_token(&key, CONTOSO, "app-a");
    for _ in 0..3 {
        assert_eq!(gw.get(ALERTS, Some(&a)).await.status(), 200);
    }
    let resp = gw.get(ALERTS, Some(&a)).await;
    assert_eq!(resp.status(), 429);
    let retry = resp.headers()["retry-after"].to_str().unwrap().to_string();
    let secs: u64 = retry.parse().expect("whole seconds");
    assert!((1..=2).contains(&secs), "{retry}");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    let inner = &body["error"]["innerError"];
    assert_eq!(inner["code"], "429");
    assert_eq!(inner["status"], "429");
    assert_eq!(inner["message"], "Please retry after");
    assert!(inner["request-id"].is_string() && inner["date"].is_string());

    // Another app of the tenant has its own budget, until the tenant's (5) is spent.
    let b = demo_token(&key, CONTOSO, "app-b");
    assert_eq!(gw.get(ALERTS, Some(&b)).await.status(), 200);
    assert_eq!(gw.get(ALERTS, Some(&b)).await.status(), 200);
    assert_eq!(gw.get(ALERTS, Some(&b)).await.status(), 429);
    // Another tenant is unaffected.
    let f = demo_token(&key, FABRIKAM, "app-a");
    assert_eq!(gw.get(ALERTS, Some(&f)).await.status(), 200);
    // Unauthenticated requests spend nobody's budget (and health needs no token).
    assert_eq!(gw.get("/healthz", None).await.status(), 200);
    let (tenant_rejections, app_rejections) = gw.state.limiter.rejections();
    assert_eq!((tenant_rejections, app_rejections), (1, 1));
}

#[tokio::test]
async fn probes_neither_spend_nor_are_refused_by_the_rate_limits() {
    let (gw, key) = limited(json!({ "limits": {
        "tenant_per_minute": 1, "tenant_burst": 3, "app_per_minute": 1, "app_burst": 3,
    }}))
    .await;
    let a = demo_token(&key, CONTOSO, "app-a");
    // Probes with the tenant's token, many more than its budget: not counted.
    for _ in 0..10 {
        for probe in ["/healthz", "/readyz"] {
            assert_eq!(gw.get(probe, Some(&a)).await.status(), 200, "{probe}");
        }
    }
    for _ in 0..3 {
        assert_eq!(gw.get(ALERTS, Some(&a)).await.status(), 200);
    }
    assert_eq!(gw.get(ALERTS, Some(&a)).await.status(), 429);
    // The budget is spent: probes still answer, with the token, a bad token or none.
    for token in [Some(a.as_str()), Some("not-a-token"), None] {
        for probe in ["/healthz", "/readyz"] {
            let resp = gw.get(probe, token).await;
            assert_eq!(resp.status(), 200, "{probe} with {token:?}");
            assert!(!resp.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(gw.get(ALERTS, Some(&a)).await.status(), 429);
}

#[tokio::test]
async fn size_limits_and_slow_bodies_answer_graph_errors() {
    let (gw, key) = limited(json!({ "limits": {
        "max_body_bytes": 2048, "max_url_bytes": 512, "max_header_bytes": 2048,
        "body_read_timeout_ms": 300,
    }}))
    .await;
    let t = demo_token(&key, CONTOSO, "app");
    let check = |code: &'static str| {
        move |v: Value| {
            assert_eq!(v["error"]["code"], code, "{v}");
            assert!(v["error"]["innerError"]["request-id"].is_string());
        }
    };

    // 414: a long URL.
    let long = format!("{ALERTS}?$filter=title eq '{}'", "x".repeat(600));
    let resp = gw.get(&long, Some(&t)).await;
    assert_eq!(resp.status(), 414);
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    check("RequestUriTooLong")(resp.json().await.unwrap());

    // 431: large headers.
    let resp = gw
        .client
        .get(format!("{}{ALERTS}", gw.base))
        .bearer_auth(&t)
        .header("x-padding", "y".repeat(3000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 431);
    check("RequestHeaderFieldsTooLarge")(resp.json().await.unwrap());

    // 413: a large body, declared or streamed.
    let resp = gw
        .client
        .patch(format!("{}{ALERTS}/some-id", gw.base))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(format!("{{\"comments\":[\"{}\"]}}", "z".repeat(5000)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    check("RequestEntityTooLarge")(resp.json().await.unwrap());
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 1000])).collect();
    let resp = gw
        .client
        .patch(format!("{}{ALERTS}/some-id", gw.base))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    // 408: a client that sends half its body and stalls.
    let addr = gw.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PATCH {ALERTS}/some-id HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {t}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"status\":"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if String::from_utf8_lossy(&buf).contains("\"RequestTimeout\"") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer to a stalled body");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"RequestTimeout\""), "{text}");
}

#[tokio::test]
async fn security_headers_on_errors_and_cors_only_when_configured() {
    let (gw, key) = limited(json!({})).await;
    let t = demo_token(&key, CONTOSO, "app");
    for (path, token, status) in [
        ("/nowhere", Some(t.as_str()), 404),
        (ALERTS, None, 401),
        (
            "/v1.0/security/alerts/$count?$filter=(((",
            Some(t.as_str()),
            400,
        ),
        (ALERTS, Some(t.as_str()), 200),
    ] {
        let resp = gw.get(path, token).await;
        assert_eq!(resp.status(), status, "{path}");
        for h in [
            "x-content-type-options",
            "x-frame-options",
            "referrer-policy",
            "strict-transport-security",
            "request-id",
        ] {
            assert!(resp.headers().contains_key(h), "{h} missing on {status}");
        }
    }
    // CORS off by default: a preflight gets no allow-origin.
    let pre = gw
        .client
        .request(reqwest::Method::OPTIONS, format!("{}{ALERTS}", gw.base))
        .header("origin", "https://soc.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(!pre.headers().contains_key("access-control-allow-origin"));

    let (gw, key) =
        limited(json!({ "cors": { "allowed_origins": ["https://soc.example.com"] } })).await;
    let t = demo_token(&key, CONTOSO, "app");
    let pre = gw
        .client
        .request(reqwest::Method::OPTIONS, format!("{}{ALERTS}", gw.base))
        .header("origin", "https://soc.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "https://soc.example.com"
    );
    let resp = gw
        .client
        .get(format!("{}{ALERTS}", gw.base))
        .bearer_auth(&t)
        .header("origin", "https://soc.example.com")
        .send()
        .await
        .unwrap();
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for h in ["request-id", "client-request-id", "warning", "etag"] {
        assert!(exposed.contains(h), "{exposed}");
    }
    // Another origin gets nothing.
    let other = gw
        .client
        .get(format!("{}{ALERTS}", gw.base))
        .bearer_auth(&t)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn overall_timeout_answers_504() {
    use axum::routing::get;
    let cfg = vigil_gateway::Config::from_overrides(json!({
        "listen": "127.0.0.1:0", "data_dir": "/tmp/unused", "auth": { "mode": "hs256" },
        "federation": { "provider_timeout_ms": 100 },
        "limits": { "request_timeout_ms": 200 },
    }))
    .unwrap();
    let limits = Arc::new(cfg.limits.clone());
    let app = axum::Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/fast", get(|| async { "ok" }))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            vigil_gateway::limits::enforce_limits,
        ))
        .layer(axum::middleware::from_fn(
            vigil_gateway::context::request_context,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let resp = client
        .get(format!("http://{addr}/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(3));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "GatewayTimeout");
    let resp = client
        .get(format!("http://{addr}/fast"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected() {
    let (gw, _key) = limited(json!({ "limits": { "header_read_timeout_ms": 300 } })).await;
    let addr = gw.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    // The server closes the connection (read returns 0 or an error) well before 5 s.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a slow-header connection was held open");
    assert!(started.elapsed() >= Duration::from_millis(250));
    // A well-behaved client on a fresh connection is served.
    assert_eq!(gw.get("/healthz", None).await.status(), 200);
}
