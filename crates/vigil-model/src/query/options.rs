//! All query options of one list request, parsed and validated from the raw (already
//! URL-decoded) query pairs.
//!
//! Decisions:
//! - Option names are matched case-insensitively (`$Filter`, `$TOP`), like Graph.
//! - The `$` prefix is optional for the options we implement (`filter=...`, `top=...`). Graph's
//!   docs: optional on beta and, on v1.0, "for a subset of APIs"; we serve both versions with
//!   one handler, so we accept both everywhere. `$filter` and `filter` together are a duplicate.
//! - A `$`-less name we do not know is not an OData option and is ignored (callers and proxies
//!   add their own parameters). A `$`-prefixed name we do not know is a 400, and so are
//!   `$expand` and `$search` (in the SDK's URL templates, but these resources have no
//!   navigation properties and no search index; spec §2 recommends a 400).
//! - `$skiptoken` is kept verbatim: it is the gateway's own opaque paging token.

use super::filter::{Filter, parse_filter};
use super::orderby::{OrderBy, parse_orderby};
use super::schema::Schema;
use super::select::{Select, parse_select};
use super::{MAX_SKIP, MAX_TOP, QueryError};

/// The parsed query options of one request.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    pub filter: Option<Filter>,
    pub orderby: Option<OrderBy>,
    pub select: Option<Select>,
    pub top: Option<u32>,
    pub skip: Option<u32>,
    /// `$count=true`.
    pub count: bool,
    pub skiptoken: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    Filter,
    OrderBy,
    Select,
    Top,
    Skip,
    Count,
    SkipToken,
    Expand,
    Search,
}

const OPTS: [(&str, Opt); 9] = [
    ("filter", Opt::Filter),
    ("orderby", Opt::OrderBy),
    ("select", Opt::Select),
    ("top", Opt::Top),
    ("skip", Opt::Skip),
    ("count", Opt::Count),
    ("skiptoken", Opt::SkipToken),
    ("expand", Opt::Expand),
    ("search", Opt::Search),
];

impl QueryOptions {
    /// Parses the query pairs of a request against `schema`.
    pub fn parse(pairs: &[(String, String)], schema: &'static Schema) -> Result<Self, QueryError> {
        let mut out = QueryOptions::default();
        let mut seen: Vec<Opt> = Vec::new();
        for (name, value) in pairs {
            let (dollar, bare) = match name.strip_prefix('$') {
                Some(rest) => (true, rest),
                None => (false, name.as_str()),
            };
            let Some(opt) = OPTS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(bare))
                .map(|(_, o)| *o)
            else {
                if dollar {
                    return Err(QueryError::UnknownOption {
                        option: name.clone(),
                    });
                }
                continue;
            };
            if seen.contains(&opt) {
                return Err(QueryError::DuplicateOption {
                    option: format!("${}", bare.to_ascii_lowercase()),
                });
            }
            seen.push(opt);
            match opt {
                Opt::Filter => out.filter = Some(parse_filter(value, schema)?),
                Opt::OrderBy => out.orderby = Some(parse_orderby(value, schema)?),
                Opt::Select => out.select = Some(parse_select(value, schema)?),
                Opt::Top => out.top = Some(parse_top(value)?),
                Opt::Skip => out.skip = Some(parse_skip(value)?),
                Opt::Count => out.count = parse_count(value)?,
                Opt::SkipToken => out.skiptoken = Some(value.clone()),
                Opt::Expand => {
                    return Err(QueryError::UnsupportedOption {
                        option: name.clone(),
                        type_name: schema.type_name,
                        reason: "the type has no navigation properties to expand",
                    });
                }
                Opt::Search => {
                    return Err(QueryError::UnsupportedOption {
                        option: name.clone(),
                        type_name: schema.type_name,
                        reason: "full-text search is not available; use $filter with contains()",
                    });
                }
            }
        }
        Ok(out)
    }
}

impl QueryOptions {
    /// The options in canonical form and a fixed order (`$filter`, `$orderby`, `$select`,
    /// `$top`, `$skip`, `$count`, `$skiptoken`), unencoded: for building nextLinks and cache
    /// keys, where `$Filter=Severity eq 'High'` and `filter=severity eq 'high'` must coincide.
    pub fn canonical_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(f) = &self.filter {
            out.push(("$filter", f.to_odata()));
        }
        if let Some(o) = &self.orderby {
            out.push(("$orderby", o.to_odata()));
        }
        if let Some(s) = &self.select {
            out.push(("$select", s.to_odata()));
        }
        if let Some(t) = self.top {
            out.push(("$top", t.to_string()));
        }
        if let Some(s) = self.skip {
            out.push(("$skip", s.to_string()));
        }
        if self.count {
            out.push(("$count", "true".to_string()));
        }
        if let Some(t) = &self.skiptoken {
            out.push(("$skiptoken", t.clone()));
        }
        out
    }
}

fn integer(option: &'static str, value: &str, min: u32, max: u32) -> Result<u32, QueryError> {
    let invalid = || QueryError::InvalidValue {
        option,
        value: value.to_string(),
        reason: format!("expected an integer from {min} to {max}"),
    };
    let t = value.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match t.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid()),
    }
}

/// `$top`: an integer in 1..=[`MAX_TOP`] (Graph applies it per provider).
pub fn parse_top(value: &str) -> Result<u32, QueryError> {
    integer("$top", value, 1, MAX_TOP)
}

/// `$skip`: an integer in 0..=[`MAX_SKIP`] (Graph: `$skip=501` is a 400).
pub fn parse_skip(value: &str) -> Result<u32, QueryError> {
    integer("$skip", value, 0, MAX_SKIP)
}

/// `$count`: `true` or `false` (any case).
pub fn parse_count(value: &str) -> Result<bool, QueryError> {
    match value.trim() {
        v if v.eq_ignore_ascii_case("true") => Ok(true),
        v if v.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(QueryError::InvalidValue {
            option: "$count",
            value: value.to_string(),
            reason: "expected true or false".into(),
        }),
    }
}
