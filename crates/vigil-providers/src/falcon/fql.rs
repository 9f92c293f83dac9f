//! Push-down: the FQL filter for what the gateway lets a provider narrow natively.
//!
//! Only the FQL subset of `docs/partner-formats.md` §2 is emitted (`field:'v'`, `field:['a','b']`,
//! `field:>=N`, `field:<'time'`, terms joined by `+`). The rule of push-down is "a superset, never
//! a subset" of the true answer, so whatever FQL cannot express exactly is widened, never guessed:
//!
//! - statuses become the set of native statuses they may come from (`newAlert` → `new`,
//!   `reopened`; `resolved` and `dismissed` → `closed`, told apart by the gateway afterwards); an
//!   `unknown`/`unknownFutureValue` in the set drops the status term altogether;
//! - severities become one covering range `severity:>=lo+severity:<hi` over their bands (FQL
//!   subset has no OR of ranges, so `low` + `high` also fetches `medium`); an `unknown` in the
//!   set drops the term;
//! - the created range becomes `created_timestamp:>='from'+created_timestamp:<'before'`. Graph
//!   timestamps have 100 ns precision and Falcon's up to 1 ns; both sides truncate to the same
//!   100 ns grid, so the comparison agrees with the gateway's.

use super::mapping::{severity_band, status_to_falcon_any};
use crate::provider::PushDown;

/// The FQL for `p`, or `None` when nothing narrows.
pub fn filter(p: &PushDown) -> Option<String> {
    let mut terms = Vec::new();

    if !p.statuses.is_empty() {
        let natives: Option<Vec<&str>> = p
            .statuses
            .iter()
            .map(|s| status_to_falcon_any(*s))
            .try_fold(Vec::new(), |mut acc, set| {
                for n in set? {
                    if !acc.contains(n) {
                        acc.push(*n);
                    }
                }
                Some(acc)
            });
        if let Some(mut natives) = natives {
            // Stable output whatever the input order (also keeps request logs comparable).
            natives.sort_unstable();
            terms.push(match natives.as_slice() {
                [one] => format!("status:'{one}'"),
                many => format!(
                    "status:[{}]",
                    many.iter()
                        .map(|n| format!("'{n}'"))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            });
        }
    }

    if !p.severities.is_empty() {
        let bands: Option<Vec<(i64, Option<i64>)>> =
            p.severities.iter().map(|s| severity_band(*s)).collect();
        if let Some(bands) = bands {
            let lo = bands.iter().map(|b| b.0).min().unwrap_or(1);
            // `None` (open-ended, i.e. high) wins over any finite upper bound.
            let hi = bands
                .iter()
                .map(|b| b.1)
                .try_fold(0, |acc, b| b.map(|v| acc.max(v)));
            if lo > 1 {
                terms.push(format!("severity:>={lo}"));
            }
            if let Some(hi) = hi {
                terms.push(format!("severity:<{hi}"));
            }
        }
    }

    if let Some(from) = p.created_from {
        terms.push(format!("created_timestamp:>='{}'", from.to_wire()));
    }
    if let Some(before) = p.created_before {
        terms.push(format!("created_timestamp:<'{}'", before.to_wire()));
    }

    (!terms.is_empty()).then(|| terms.join("+"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use vigil_model::{AlertSeverity as S, AlertStatus as St, Timestamp};

    fn pd(statuses: Vec<St>, severities: Vec<S>) -> PushDown {
        PushDown {
            statuses,
            severities,
            ..PushDown::default()
        }
    }

    #[test]
    fn statuses() {
        let cases: Vec<(Vec<St>, Option<&str>)> = vec![
            (vec![], None),
            (vec![St::NewAlert], Some("status:['new','reopened']")),
            (vec![St::InProgress], Some("status:'in_progress'")),
            (vec![St::Resolved], Some("status:'closed'")),
            (vec![St::Dismissed], Some("status:'closed'")),
            (vec![St::Resolved, St::Dismissed], Some("status:'closed'")),
            (
                vec![St::InProgress, St::NewAlert],
                Some("status:['in_progress','new','reopened']"),
            ),
            (vec![St::Unknown], None),
            (vec![St::NewAlert, St::UnknownFutureValue], None),
        ];
        for (statuses, want) in cases {
            assert_eq!(
                filter(&pd(statuses.clone(), vec![])).as_deref(),
                want,
                "{statuses:?}"
            );
        }
    }

    #[test]
    fn severities_become_one_covering_range() {
        let cases: Vec<(Vec<S>, Option<&str>)> = vec![
            (vec![S::Informational], Some("severity:<20")),
            (vec![S::Low], Some("severity:>=20+severity:<50")),
            (vec![S::Medium], Some("severity:>=50+severity:<70")),
            (vec![S::High], Some("severity:>=70")),
            (vec![S::Low, S::High], Some("severity:>=20")),
            (vec![S::Informational, S::Medium], Some("severity:<70")),
            (vec![S::Informational, S::Low, S::Medium, S::High], None),
            (vec![S::High, S::Unknown], None),
            (vec![S::UnknownFutureValue], None),
        ];
        for (sev, want) in cases {
            assert_eq!(filter(&pd(vec![], sev.clone())).as_deref(), want, "{sev:?}");
        }
    }

    #[test]
    fn created_range_and_combination() {
        let p = PushDown {
            statuses: vec![St::InProgress],
            severities: vec![S::High],
            created_from: Timestamp::parse("2024-05-01T00:00:00Z").ok(),
            created_before: Timestamp::parse("2024-05-02T00:00:00.1234567Z").ok(),
        };
        assert_eq!(
            filter(&p).unwrap(),
            "status:'in_progress'+severity:>=70+created_timestamp:>='2024-05-01T00:00:00Z'+created_timestamp:<'2024-05-02T00:00:00.1234567Z'"
        );
    }
}
