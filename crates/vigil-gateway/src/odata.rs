//! OData request plumbing shared by the resource routes: raw query pairs, the gateway's base
//! URL, context URLs and nextLinks.

use crate::error::ApiError;
use axum::http::HeaderMap;

/// The Graph API version a route was reached under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    Beta,
}

impl ApiVersion {
    pub fn segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

/// Query pairs as Graph reads them: `+` and `%20` are spaces, `%24` is `$`.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

/// Only these options may appear.
pub fn reject_options_except(pairs: &[(String, String)], allowed: &[&str]) -> Result<(), ApiError> {
    for (k, _) in pairs {
        let name = k.trim_start_matches('$');
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            return Err(ApiError::BadRequest(format!(
                "Query option '{k}' is not supported here. Supported: {}.",
                allowed
                    .iter()
                    .map(|a| format!("${a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(())
}

/// The gateway's base URL: the configured public URL, else `http://{Host}`.
pub fn base_url(public_url: &str, headers: &HeaderMap) -> String {
    if !public_url.is_empty() {
        return public_url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// Percent-encodes a query value, keeping what OData readers expect to see literally.
pub fn encode_value(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// The nextLink: the same path and options, with `$skiptoken` replaced.
pub fn next_link(base: &str, path: &str, pairs: &[(String, String)], skiptoken: &str) -> String {
    let mut q: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("skiptoken"))
        .filter(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("skip"))
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_value(k).replace("%24", "$"),
                encode_value(v)
            )
        })
        .collect();
    q.push(format!("$skiptoken={}", encode_value(skiptoken)));
    format!("{base}{path}?{}", q.join("&"))
}

/// Whether the caller asked to skip caches (`Cache-Control: no-cache` or `Pragma: no-cache`).
pub fn no_cache(headers: &HeaderMap) -> bool {
    let has = |name: axum::http::HeaderName| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
            })
    };
    has(axum::http::header::CACHE_CONTROL) || has(axum::http::header::PRAGMA)
}

/// The `Prefer` preferences the caller sent (lower-cased tokens such as
/// `return=representation`, `include-unknown-enum-members`).
pub fn preferences(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

/// A strong ETag over a body.
pub fn etag_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    etag_of_digest(&sha2::Sha256::digest(bytes))
}

/// The ETag of a SHA-256 digest (its first 12 bytes, hex, quoted).
pub fn etag_of_digest(digest: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(26);
    out.push('"');
    for b in digest.iter().take(12) {
        let _ = write!(out, "{b:02x}");
    }
    out.push('"');
    out
}

/// Whether `If-None-Match` matches `etag` (weak comparison, `*` included).
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(axum::http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_plus_and_dollar() {
        let p = query_pairs(Some("%24filter=severity+eq+%27high%27&$top=5"));
        assert_eq!(p[0], ("$filter".into(), "severity eq 'high'".into()));
        assert_eq!(p[1], ("$top".into(), "5".into()));
    }

    #[test]
    fn next_link_replaces_skiptoken_and_drops_skip() {
        let pairs = vec![
            ("$filter".to_string(), "status eq 'newAlert'".to_string()),
            ("$skip".to_string(), "3".to_string()),
            ("$skiptoken".to_string(), "old".to_string()),
        ];
        let l = next_link("http://h:1", "/v1.0/security/alerts", &pairs, "a.b");
        assert_eq!(
            l,
            "http://h:1/v1.0/security/alerts?$filter=status+eq+%27newAlert%27&$skiptoken=a.b"
        );
    }

    #[test]
    fn etags_compare() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::IF_NONE_MATCH,
            "W/\"abc\", \"def\""
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert!(if_none_match(&h, "\"abc\""));
        assert!(if_none_match(&h, "\"def\""));
        assert!(!if_none_match(&h, "\"xyz\""));
    }
}
