//! Graph's URLs, query strings, collections and `PATCH` bodies: the pure half of the adapter,
//! unit-tested without a server.

use crate::error::ProviderErrorKind;
use crate::provider::{AlertChange, ListRequest, PushDown};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

/// Graph's `$top` ceiling for `/security/alerts` and the identity collections.
pub const MAX_TOP: usize = 1000;

/// One page of a Graph collection. Annotations other than `@odata.nextLink` (`@odata.context`,
/// `@odata.count`) are not needed: the gateway computes its own.
#[derive(Debug, Deserialize)]
pub struct Collection<T> {
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// The versioned API root, e.g. `https://graph.microsoft.com/v1.0/`, and URLs under it.
#[derive(Debug, Clone)]
pub struct ApiRoot {
    root: Url,
}

impl ApiRoot {
    /// `base_url` may carry a path prefix (a proxy); the version is appended as a segment.
    pub fn new(base_url: &str, version: &str) -> Result<Self, String> {
        let mut root =
            Url::parse(base_url).map_err(|e| format!("base_url '{base_url}' is not a URL: {e}"))?;
        if !matches!(root.scheme(), "http" | "https") {
            return Err(format!("base_url '{base_url}' must be http or https"));
        }
        if root.host_str().is_none() || root.cannot_be_a_base() {
            return Err(format!("base_url '{base_url}' has no host"));
        }
        if !root.username().is_empty() || root.password().is_some() {
            return Err("base_url must not carry credentials".into());
        }
        if root.query().is_some() || root.fragment().is_some() {
            return Err("base_url must not have a query or fragment".into());
        }
        {
            let mut segments = root
                .path_segments_mut()
                .map_err(|()| format!("base_url '{base_url}' cannot take a path"))?;
            segments.pop_if_empty().push(version).push("");
        }
        Ok(Self { root })
    }

    /// `{root}/{segments…}`, each segment percent-encoded (an id can never add a path level).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.root.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Accepts a cursor only if it is a URL on our origin (scheme, host and port) for the same
    /// collection. A cursor comes back from a client inside the gateway's skiptoken; were it
    /// allowed to point anywhere, it would make us send the tenant's bearer token there.
    pub fn check_cursor(&self, cursor: &str, collection: &Url) -> Result<Url, ProviderErrorKind> {
        let invalid = |why: &str| ProviderErrorKind::InvalidCursor(why.to_owned());
        let url = Url::parse(cursor).map_err(|_| invalid("not an absolute URL"))?;
        if url.origin() != self.root.origin() {
            return Err(invalid("does not point at the configured Graph host"));
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(invalid("carries credentials or a fragment"));
        }
        if url.path().trim_end_matches('/') != collection.path().trim_end_matches('/') {
            return Err(invalid("points at another collection"));
        }
        Ok(url)
    }
}

/// The first-page URL of a collection: `$top`, `$filter`, `$orderby`, with `$` left literal in
/// the names (as Graph's SDKs send them) and values percent-encoded (`%20` for spaces, so a
/// `+01:00` offset arrives as `%2B01:00`).
pub fn first_page(mut collection: Url, req: &ListRequest) -> Url {
    let mut query = Vec::new();
    if req.page_size > 0 {
        query.push(("$top", req.page_size.min(MAX_TOP).to_string()));
    }
    let filter = req
        .odata_filter
        .clone()
        .filter(|f| !f.trim().is_empty())
        .or_else(|| filter_from_push_down(&req.push_down));
    if let Some(filter) = filter {
        query.push(("$filter", filter));
    }
    if let Some(orderby) = req
        .odata_orderby
        .as_deref()
        .filter(|o| !o.trim().is_empty())
    {
        query.push(("$orderby", orderby.to_owned()));
    }
    if query.is_empty() {
        collection.set_query(None);
    } else {
        let text = query
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        collection.set_query(Some(&text));
    }
    collection
}

fn encode(value: &str) -> String {
    // byte_serialize writes a space as '+' and a literal '+' as %2B, so every '+' is a space.
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// An OData `$filter` equivalent to the push-down, for callers that set only that.
pub fn filter_from_push_down(p: &PushDown) -> Option<String> {
    let mut clauses = Vec::new();
    let any_of = |property: &str, values: Vec<String>| {
        let parts: Vec<String> = values
            .iter()
            .map(|v| format!("{property} eq '{}'", v.replace('\'', "''")))
            .collect();
        match parts.len() {
            0 => None,
            1 => parts.into_iter().next(),
            _ => Some(format!("({})", parts.join(" or "))),
        }
    };
    if let Some(c) = any_of("status", p.statuses.iter().filter_map(enum_name).collect()) {
        clauses.push(c);
    }
    if let Some(c) = any_of(
        "severity",
        p.severities.iter().filter_map(enum_name).collect(),
    ) {
        clauses.push(c);
    }
    if let Some(from) = p.created_from.as_ref().and_then(enum_name) {
        clauses.push(format!("createdDateTime ge {from}"));
    }
    if let Some(before) = p.created_before.as_ref().and_then(enum_name) {
        clauses.push(format!("createdDateTime lt {before}"));
    }
    (!clauses.is_empty()).then(|| clauses.join(" and "))
}

/// The wire string of a model value that serializes as a JSON string (an enum, a timestamp).
fn enum_name<T: serde::Serialize>(v: &T) -> Option<String> {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// The `PATCH /security/alerts/{id}` body: the changed updatable fields in Graph's order, then
/// the mandatory `vendorInformation` (its unset members left out, as in Graph's examples).
pub fn patch_body(change: &AlertChange) -> Result<Value, ProviderErrorKind> {
    let vendor = &change.vendor_information;
    if vendor.provider.as_deref().is_none_or(str::is_empty)
        || vendor.vendor.as_deref().is_none_or(str::is_empty)
    {
        return Err(ProviderErrorKind::BadRequest(
            "Graph requires vendorInformation.provider and vendorInformation.vendor on an update"
                .into(),
        ));
    }
    let mut body = Map::new();
    if let Some(assigned) = &change.assigned_to {
        body.insert("assignedTo".into(), json(assigned)?);
    }
    if let Some(closed) = &change.closed_date_time {
        body.insert("closedDateTime".into(), json(closed)?);
    }
    if let Some(comments) = &change.comments {
        body.insert("comments".into(), json(comments)?);
    }
    if let Some(feedback) = &change.feedback {
        body.insert("feedback".into(), json(feedback)?);
    }
    if let Some(status) = &change.status {
        body.insert("status".into(), json(status)?);
    }
    if let Some(tags) = &change.tags {
        body.insert("tags".into(), json(tags)?);
    }
    let mut vendor_json = match json(vendor)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    vendor_json.retain(|_, v| !v.is_null());
    body.insert("vendorInformation".into(), Value::Object(vendor_json));
    Ok(Value::Object(body))
}

fn json<T: serde::Serialize>(v: &T) -> Result<Value, ProviderErrorKind> {
    serde_json::to_value(v)
        .map_err(|e| ProviderErrorKind::BadRequest(format!("cannot encode the update: {e}")))
}

/// `{"userIds":[…]}` for the riskyUsers actions.
pub fn user_ids_body(user_ids: &[String]) -> Value {
    serde_json::json!({ "userIds": user_ids })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use vigil_model::{
        AlertFeedback, AlertSeverity, AlertStatus, SecurityVendorInformation, Timestamp,
    };

    fn root() -> ApiRoot {
        ApiRoot::new("https://graph.example.com", "v1.0").unwrap()
    }

    #[test]
    fn urls_are_built_by_segments() {
        let r = root();
        assert_eq!(
            r.url(&["security", "alerts"]).as_str(),
            "https://graph.example.com/v1.0/security/alerts"
        );
        // An id can never climb out of its segment.
        assert_eq!(
            r.url(&["security", "alerts", "../../me?x=1#y"]).as_str(),
            "https://graph.example.com/v1.0/security/alerts/..%2F..%2Fme%3Fx=1%23y"
        );
        let proxied = ApiRoot::new("http://127.0.0.1:8080/graph/", "beta").unwrap();
        assert_eq!(
            proxied.url(&["identityProtection", "riskyUsers"]).as_str(),
            "http://127.0.0.1:8080/graph/beta/identityProtection/riskyUsers"
        );
        for bad in [
            "not a url",
            "ftp://x",
            "https://u:p@graph.example.com",
            "https://graph.example.com/?a=1",
            "mailto:x@y",
        ] {
            assert!(ApiRoot::new(bad, "v1.0").is_err(), "{bad}");
        }
    }

    #[test]
    fn first_page_query() {
        let r = root();
        let req = ListRequest {
            page_size: 5000,
            odata_filter: Some(
                "severity eq 'high' and createdDateTime ge 2024-01-01T00:00:00+01:00".into(),
            ),
            odata_orderby: Some("createdDateTime desc".into()),
            ..ListRequest::default()
        };
        let url = first_page(r.url(&["security", "alerts"]), &req);
        assert_eq!(
            url.query(),
            Some(
                "$top=1000&$filter=severity%20eq%20%27high%27%20and%20createdDateTime%20ge%202024-01-01T00%3A00%3A00%2B01%3A00&$orderby=createdDateTime%20desc"
            )
        );
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[1].1, req.odata_filter.clone().unwrap());
        let plain = first_page(r.url(&["security", "alerts"]), &ListRequest::default());
        assert_eq!(plain.query(), None);
        let small = first_page(
            r.url(&["security", "alerts"]),
            &ListRequest {
                page_size: 7,
                ..ListRequest::default()
            },
        );
        assert_eq!(small.query(), Some("$top=7"));
    }

    #[test]
    fn push_down_becomes_a_filter_when_no_odata_text_is_given() {
        let p = PushDown {
            statuses: vec![AlertStatus::NewAlert, AlertStatus::InProgress],
            severities: vec![AlertSeverity::High],
            created_from: Some("2024-05-01T00:00:00Z".parse::<Timestamp>().unwrap()),
            created_before: None,
        };
        assert_eq!(
            filter_from_push_down(&p).unwrap(),
            "(status eq 'newAlert' or status eq 'inProgress') and severity eq 'high' and createdDateTime ge 2024-05-01T00:00:00Z"
        );
        assert_eq!(filter_from_push_down(&PushDown::default()), None);
        let req = ListRequest {
            push_down: p,
            odata_filter: Some("id eq 'x'".into()),
            ..ListRequest::default()
        };
        // The full OData text, when given, wins: it is at least as narrow.
        let url = first_page(root().url(&["security", "alerts"]), &req);
        assert_eq!(url.query(), Some("$filter=id%20eq%20%27x%27"));
    }

    #[test]
    fn cursors_must_stay_on_our_host_and_collection() {
        let r = root();
        let alerts = r.url(&["security", "alerts"]);
        let ok = "https://graph.example.com/v1.0/security/alerts?$top=5&$skiptoken=abc";
        assert_eq!(r.check_cursor(ok, &alerts).unwrap().as_str(), ok);
        for bad in [
            "https://evil.example.com/v1.0/security/alerts?$skiptoken=abc",
            "http://graph.example.com/v1.0/security/alerts?$skiptoken=abc",
            "https://graph.example.com:444/v1.0/security/alerts",
            "https://graph.example.com.evil.com/v1.0/security/alerts",
            "https://user:pw@graph.example.com/v1.0/security/alerts",
            "https://graph.example.com/v1.0/identityProtection/riskyUsers?$skiptoken=1",
            "https://graph.example.com/beta/security/alerts",
            "/v1.0/security/alerts?$skiptoken=abc",
            "garbage",
            "",
        ] {
            let err = r.check_cursor(bad, &alerts).unwrap_err();
            assert!(matches!(err, ProviderErrorKind::InvalidCursor(_)), "{bad}");
        }
    }

    #[test]
    fn patch_body_in_graph_order_with_vendor_information() {
        let change = AlertChange {
            status: Some(AlertStatus::Resolved),
            assigned_to: Some(None),
            closed_date_time: Some(Some("2024-05-01T10:00:00Z".parse().unwrap())),
            comments: Some(vec!["Closed in MCAS".into()]),
            feedback: Some(AlertFeedback::TruePositive),
            tags: Some(vec![]),
            vendor_information: SecurityVendorInformation {
                provider: Some("IPC".into()),
                vendor: Some("Microsoft".into()),
                ..SecurityVendorInformation::default()
            },
        };
        let body = patch_body(&change).unwrap();
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"assignedTo":null,"closedDateTime":"2024-05-01T10:00:00Z","comments":["Closed in MCAS"],"feedback":"truePositive","status":"resolved","tags":[],"vendorInformation":{"provider":"IPC","vendor":"Microsoft"}}"#
        );
        let only_status = AlertChange {
            status: Some(AlertStatus::InProgress),
            ..change.clone()
        };
        let only_status = AlertChange {
            assigned_to: None,
            closed_date_time: None,
            comments: None,
            feedback: None,
            tags: None,
            ..only_status
        };
        assert_eq!(
            serde_json::to_string(&patch_body(&only_status).unwrap()).unwrap(),
            r#"{"status":"inProgress","vendorInformation":{"provider":"IPC","vendor":"Microsoft"}}"#
        );
        let missing_vendor = AlertChange {
            status: Some(AlertStatus::Resolved),
            ..AlertChange::default()
        };
        assert!(matches!(
            patch_body(&missing_vendor),
            Err(ProviderErrorKind::BadRequest(_))
        ));
    }

    #[test]
    fn collections_parse_and_reject_garbage() {
        let page: Collection<vigil_model::Alert> = serde_json::from_str(
            r#"{"@odata.context":"x","value":[{"id":"a","extraThing":1}],"@odata.nextLink":"https://graph.example.com/v1.0/security/alerts?$skiptoken=1"}"#,
        )
        .unwrap();
        assert_eq!(page.value[0].id, "a");
        assert_eq!(page.value[0].additional_data["extraThing"], 1);
        assert!(page.next_link.is_some());
        for bad in [
            r#"{"value":{}}"#,
            r#"[]"#,
            r#"{"vale":[]}"#,
            r#"{"value":[1]}"#,
        ] {
            assert!(
                serde_json::from_str::<Collection<vigil_model::Alert>>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
