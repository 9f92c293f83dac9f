//! Push-down analysis: the part of an alert `$filter` that simple providers can evaluate
//! natively (status, severity, a creation-time window).
//!
//! Conservative by construction: only top-level AND-ed terms are looked at, and each one we
//! understand is implied by the whole filter, so a provider that applies the [`PushDown`]
//! returns a superset of the true answer. The gateway always evaluates the full filter locally
//! as well. Anything else (`not`, `ne`, lambdas, other properties, an `or` mixing properties)
//! is simply left out.
//!
//! Time bounds: the engine compares instants at 100 ns (Graph's precision, see `compare.rs`),
//! so `gt t` is exactly `>= t + 100ns` and `le t` exactly `< t + 100ns`.

use super::filter::{CmpOp, Const, Expr, Filter, Path, Root};
use super::schema::ALERT;
use crate::enums::{AlertSeverity, AlertStatus, GraphEnum};
use crate::time::Timestamp;
use chrono::TimeDelta;

/// Constraints a provider may apply natively. An empty list means "no constraint".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushDown {
    /// The alert's status is one of these (empty: any).
    pub statuses: Vec<AlertStatus>,
    /// The alert's severity is one of these (empty: any).
    pub severities: Vec<AlertSeverity>,
    /// `createdDateTime >= created_from`.
    pub created_from: Option<Timestamp>,
    /// `createdDateTime < created_before`.
    pub created_before: Option<Timestamp>,
}

impl PushDown {
    /// No constraint at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Extracts the provider-evaluable conjuncts of an alert filter. A filter over another schema
/// yields an empty [`PushDown`].
pub fn alert_push_down(filter: &Filter) -> PushDown {
    let mut out = PushDown::default();
    if !std::ptr::eq(filter.schema(), &ALERT) {
        return out;
    }
    let conjuncts = match &filter.expr {
        Expr::And(terms) => terms.as_slice(),
        other => std::slice::from_ref(other),
    };
    let mut statuses: Option<Vec<AlertStatus>> = None;
    let mut severities: Option<Vec<AlertSeverity>> = None;
    for term in conjuncts {
        if let Some(set) = enum_set::<AlertStatus>(term, "status") {
            intersect(&mut statuses, set);
        } else if let Some(set) = enum_set::<AlertSeverity>(term, "severity") {
            intersect(&mut severities, set);
        } else if let Expr::Cmp {
            path,
            op,
            value: Const::Time(t, _),
        } = term
            && top_level(path) == Some("createdDateTime")
        {
            let next = next_tick(t);
            match op {
                CmpOp::Ge => raise(&mut out.created_from, Some(*t)),
                CmpOp::Gt => raise(&mut out.created_from, next),
                CmpOp::Lt => lower(&mut out.created_before, Some(*t)),
                CmpOp::Le => lower(&mut out.created_before, next),
                CmpOp::Eq => {
                    raise(&mut out.created_from, Some(*t));
                    lower(&mut out.created_before, next);
                }
                CmpOp::Ne => {}
            }
        }
    }
    // A contradiction (empty intersection) is left unconstrained: still a superset.
    out.statuses = statuses.unwrap_or_default();
    out.severities = severities.unwrap_or_default();
    out
}

fn top_level(path: &Path) -> Option<&'static str> {
    match (&path.root, &*path.props) {
        (Root::It, [p]) => Some(p.name),
        _ => None,
    }
}

/// The set of members `term` restricts property `name` to: `name eq X`, `name in (...)`, or an
/// `or` of those.
fn enum_set<E: GraphEnum + PartialEq>(term: &Expr, name: &str) -> Option<Vec<E>> {
    let member = |c: &Const| match c {
        Const::Enum { wire, .. } => E::parse_exact(wire),
        _ => None,
    };
    match term {
        Expr::Cmp {
            path,
            op: CmpOp::Eq,
            value,
        } if top_level(path) == Some(name) => Some(vec![member(value)?]),
        Expr::In { path, values } if top_level(path) == Some(name) => {
            let mut set = Vec::new();
            for v in values {
                add(&mut set, member(v)?);
            }
            Some(set)
        }
        Expr::Or(terms) => {
            let mut set = Vec::new();
            for t in terms {
                for m in enum_set::<E>(t, name)? {
                    add(&mut set, m);
                }
            }
            Some(set)
        }
        _ => None,
    }
}

fn add<E: PartialEq>(set: &mut Vec<E>, m: E) {
    if !set.contains(&m) {
        set.push(m);
    }
}

fn intersect<E: PartialEq>(acc: &mut Option<Vec<E>>, set: Vec<E>) {
    *acc = Some(match acc.take() {
        None => set,
        Some(prev) => prev.into_iter().filter(|m| set.contains(m)).collect(),
    });
}

fn next_tick(t: &Timestamp) -> Option<Timestamp> {
    t.0.checked_add_signed(TimeDelta::nanoseconds(100))
        .map(Timestamp)
}

/// Tightens a lower bound. `None` as the new bound (overflow) leaves it unchanged.
fn raise(bound: &mut Option<Timestamp>, new: Option<Timestamp>) {
    if let Some(n) = new {
        *bound = Some(bound.map_or(n, |b| b.max(n)));
    }
}

fn lower(bound: &mut Option<Timestamp>, new: Option<Timestamp>) {
    if let Some(n) = new {
        *bound = Some(bound.map_or(n, |b| b.min(n)));
    }
}
