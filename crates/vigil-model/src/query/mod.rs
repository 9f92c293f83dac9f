//! OData query options (`$filter`, `$orderby`, `$select`, `$top`, `$skip`, `$count`) for the
//! Graph resources Vigil serves, evaluated locally over the resources as vigil-model serializes
//! them (`serde_json::Value`, camelCase, `Z` timestamps). Pure: no I/O, no async.
//!
//! # Use
//! ```
//! use vigil_model::query::{ALERT, QueryOptions, alert_push_down};
//! use serde_json::json;
//!
//! let pairs = vec![
//!     ("$filter".to_string(), "Severity eq 'High' and userStates/any(u: u/isVpn)".to_string()),
//!     ("$orderby".to_string(), "createdDateTime desc".to_string()),
//!     ("$top".to_string(), "5".to_string()),
//! ];
//! let q = QueryOptions::parse(&pairs, &ALERT)?;
//! let filter = q.filter.as_ref().unwrap();
//! let alert = json!({"id": "1", "severity": "high", "userStates": [{"isVpn": true}]});
//! assert!(filter.matches(&alert));
//! assert_eq!(filter.to_odata(), "severity eq 'high' and userStates/any(u:u/isVpn eq true)");
//! assert_eq!(alert_push_down(filter).severities, [vigil_model::AlertSeverity::High]);
//! # Ok::<(), vigil_model::query::QueryError>(())
//! ```
//!
//! The API: [`parse_filter`] → [`Filter::matches`] / [`Filter::to_odata`];
//! [`parse_orderby`] → [`OrderBy::compare`] / [`OrderBy::sort`]; [`parse_select`] →
//! [`Select::apply`] / [`Select::names`]; [`parse_top`], [`parse_skip`], [`parse_count`];
//! [`QueryOptions::parse`] for a whole request; [`alert_push_down`] for what simple providers
//! can filter natively.
//!
//! # Why a schema-aware engine
//! Names are resolved once, at parse time, against a static [`Schema`] ([`ALERT`],
//! [`RISKY_USER`], [`RISKY_USER_HISTORY_ITEM`], [`RISK_DETECTION`]): unknown properties are a 400
//! (as on Graph), literals are checked against the property's type, and evaluation does no name
//! matching beyond one JSON object key lookup per path segment. That matters: the gateway
//! evaluates the whole query locally over the merged provider answers (up to 100k alerts).
//!
//! # Semantics (Graph's, and where we differ)
//! - Property names are matched ASCII case-insensitively (`Severity eq 'High'` is in
//!   Microsoft's own Graph Explorer samples) and printed canonically by `to_odata`.
//! - Enum values compare case-insensitively by wire string; `gt`/`lt` and `$orderby` on an
//!   enum follow CSDL member order (OData compares enums by their underlying value), so
//!   `severity ge 'medium'` means medium or high and `severity desc` puts `high` first. Both
//!   plain (`'medium'`) and typed (`microsoft.graph.riskLevel'medium'`) literals are accepted;
//!   a value that is not a member is a 400 rather than an empty answer.
//! - Plain strings compare exactly (ordinal, case-sensitive), as the OData spec says, including
//!   `startswith`/`endswith`/`contains`. Real Graph is inconsistent here: directory-backed
//!   resources compare case-insensitively, and the legacy security API forwards the filter to
//!   each provider, whose behaviour varies. Exact matching is the predictable choice; note that
//!   results from Graph-backed providers may therefore be narrower after local evaluation.
//! - GUID literals (unquoted) compare case-insensitively with string properties
//!   (`azureTenantId eq 72F988BF-...`).
//! - DateTimeOffset values compare as instants at Graph's 100 ns precision, whatever the offset
//!   or fraction digits on either side. Literals are unquoted (`2019-04-01T00:00:00.000Z`,
//!   `2019-10-13T08:00Z`, `+01:00` offsets, a bare date); a quoted literal is accepted too
//!   (lenient: several clients send one).
//! - Logic is two-valued: a comparison with a `null` or missing property is false, except
//!   `ne`, which is true (`assignedTo ne 'x'` matches unassigned alerts), and `eq null`.
//!   `any` over a missing/null collection is false, `all` is true. `not` is applied to the
//!   comparison that follows it (`not status eq 'resolved'`), which is what people mean.
//! - Comparing two properties, arithmetic, `has`, and functions other than `startswith`,
//!   `endswith`, `contains` are not supported (400, named in the message).
//! - Undeclared (open-type) properties cannot be used in queries.
//! - Keywords and function names are case-insensitive (`AND`, `StartsWith`); lambda variable
//!   names are case-sensitive and may not reuse an enclosing lambda's name. Unqualified names
//!   inside a lambda refer to the resource (`$it`), as in OData. A Boolean property may stand
//!   alone (`userStates/any(u: u/isVpn)`), and a boolean expression may be compared with
//!   `true`/`false` (`startswith(title,'x') eq true`).
//! - `to_odata` prints what Graph accepts, with two exceptions that come from our leniency:
//!   a GUID literal compared with a string property stays an unquoted GUID (Graph would reject
//!   it on its `Edm.String` properties), and quoted DateTimeOffset literals are printed
//!   unquoted (that one Graph accepts). A provider pushing filters to real Graph should push
//!   only what it recognises.
//!
//! # Limits against hostile input
//! - [`MAX_EXPRESSION_LENGTH`] characters per `$filter`/`$orderby`/`$select` value,
//! - [`MAX_DEPTH`] levels of nesting (parentheses, `not`, lambda operators); the parser is
//!   recursive descent with an explicit depth counter, and `and`/`or` chains are flattened into
//!   n-ary nodes, so parsing, evaluation, printing and dropping are all depth-bounded,
//! - [`MAX_IN_VALUES`] values in one `in (...)` list, [`MAX_ORDERBY_KEYS`] `$orderby` keys,
//! - `$top` in 1..=[`MAX_TOP`], `$skip` in 0..=[`MAX_SKIP`] (Graph's documented limits).
//!
//! Every input returns `Ok` or a [`QueryError`]; nothing panics (a property test feeds random
//! strings and token soups). Error messages say where (1-based character position, or the
//! offending name) and what; the gateway returns them verbatim in a Graph `BadRequest`.

mod compare;
mod filter;
mod lexer;
mod options;
mod orderby;
mod project;
mod pushdown;
mod schema;
mod select;

pub use filter::{Filter, parse_filter};
pub use options::{QueryOptions, parse_count, parse_skip, parse_top};
pub use orderby::{OrderBy, parse_orderby};
pub use project::{ItemFilter, Projection};
pub use pushdown::{PushDown, alert_push_down};
pub use schema::{
    ALERT, EnumType, PropType, Property, RISK_DETECTION, RISKY_USER, RISKY_USER_HISTORY_ITEM,
    Schema,
};
pub use select::{Select, parse_select};

/// Maximum length, in characters, of a `$filter`, `$orderby` or `$select` value.
pub const MAX_EXPRESSION_LENGTH: usize = 4096;
/// Maximum nesting depth of a `$filter` (parentheses, `not`, `any`/`all`).
pub const MAX_DEPTH: usize = 32;
/// Maximum number of values in one `in (...)` list.
pub const MAX_IN_VALUES: usize = 256;
/// Maximum number of `$orderby` keys.
pub const MAX_ORDERBY_KEYS: usize = 16;
/// Largest accepted `$top` (Graph's documented maximum).
pub const MAX_TOP: u32 = 1000;
/// Largest accepted `$skip` (Graph's documented maximum).
pub const MAX_SKIP: u32 = 500;

/// A query option that cannot be parsed or does not fit the schema. `Display` is the message
/// the gateway sends back in a Graph `BadRequest` error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The text does not follow the grammar.
    #[error("Syntax error at position {position} in '{option}': {message}")]
    Syntax {
        option: &'static str,
        /// 1-based character position.
        position: usize,
        message: String,
    },
    /// A name that is not a declared property of the type (Graph's own wording).
    #[error("Could not find a property named '{name}' on type '{type_name}'")]
    UnknownProperty {
        option: &'static str,
        /// 1-based character position of the name.
        position: usize,
        name: String,
        type_name: &'static str,
    },
    /// Well-formed, but meaningless for the schema: a type mismatch, a collection used as a
    /// value, a value that is not an enum member, an unsupported construct.
    #[error("Invalid expression at position {position} in '{option}': {message}")]
    Invalid {
        option: &'static str,
        /// 1-based character position.
        position: usize,
        message: String,
    },
    /// The expression exceeds [`MAX_EXPRESSION_LENGTH`].
    #[error("The '{option}' value is {length} characters long; at most {max} are allowed")]
    TooLong {
        option: &'static str,
        length: usize,
        max: usize,
    },
    /// The expression exceeds [`MAX_DEPTH`].
    #[error(
        "The '{option}' expression is nested too deeply at position {position}: at most {max} levels of parentheses, 'not' and any/all are allowed"
    )]
    TooDeep {
        option: &'static str,
        /// 1-based character position.
        position: usize,
        max: usize,
    },
    /// A `$top`, `$skip` or `$count` value that is not acceptable.
    #[error("Invalid value '{value}' for query option '{option}': {reason}")]
    InvalidValue {
        option: &'static str,
        value: String,
        reason: String,
    },
    /// A `$`-prefixed option that OData does not define or Vigil does not implement.
    #[error(
        "Query option '{option}' is not supported (supported: $filter, $orderby, $select, $top, $skip, $count, $skiptoken)"
    )]
    UnknownOption { option: String },
    /// `$expand` / `$search`: defined by OData (and in the SDK's URL templates), meaningless here.
    #[error("Query option '{option}' is not supported on '{type_name}': {reason}")]
    UnsupportedOption {
        option: String,
        type_name: &'static str,
        reason: &'static str,
    },
    /// The same option twice (`$filter` and `filter` count as the same).
    #[error("Query option '{option}' was specified more than once")]
    DuplicateOption { option: String },
}

/// Rejects over-long values before any work is done.
pub(crate) fn check_length(text: &str, option: &'static str) -> Result<(), QueryError> {
    // Cheap byte test first: only a long input pays for counting characters.
    if text.len() > MAX_EXPRESSION_LENGTH {
        let length = text.chars().count();
        if length > MAX_EXPRESSION_LENGTH {
            return Err(QueryError::TooLong {
                option,
                length,
                max: MAX_EXPRESSION_LENGTH,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
