//! The merge target of issue 7: time to merge + de-duplicate + filter + sort 100k alerts from
//! 10 providers ÷ time to just deserialize the same bytes with serde_json (target ≤ 1.5).
//!
//! The alerts are the mock fleet's seeded scenario (the same generator the demo and the tests
//! use): four scenarios with different seeds, one tenant, 10,000 alerts per provider, of which
//! the first ten providers (graph/falcon/ocsf per seed) are taken — so each provider's bytes are
//! distinct, and the cross-provider duplicates the scenario plants (about 15% of incidents
//! reported by two or three providers) are there to fold. Each provider's alerts are serialized
//! once, in Graph's JSON form, to the bytes both sides of the ratio start from.
//!
//! Benchmarks (group `merge_100k`; `bench/run` reads their medians and prints the ratio):
//! - `deserialize`: the 10 byte buffers → `Vec<Alert>` each (the denominator);
//! - `merge_filter_sort`: from the deserialized alerts, the work Vigil adds: merge (exact
//!   duplicates dropped, cross-provider duplicates folded), `$filter`, `$orderby` — the
//!   numerator. The input copy is made outside the timed section;
//! - `merge_filter_sort_full_json`: the same with each merged alert converted whole to a
//!   `serde_json::Value` (what the gateway's list path did before it used projections), to
//!   show what the projection saves;
//! - `merge_only`: the merge step alone, to see where the numerator goes;
//! - `end_to_end`: bytes → sorted, filtered, merged alerts (deserialize + the rest), for the
//!   reading "(deserialize + merge + filter + sort) ÷ deserialize".
//!
//! Results are dropped outside the timed sections (the deserialized alerts too), so both sides
//! of the ratio count work, not deallocation.
//!
//! The filter and order are evaluated on each merged alert's JSON projection (only the
//! properties they read: `vigil_model::query::Projection`), made once and shared by `$filter`
//! and `$orderby`; the result is checked to equal the full-JSON evaluation's.
//!
//! `BENCH_QUICK=1` shortens warm-up and measurement (for `bench/run --quick`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::Value;
use std::hint::black_box;
use std::time::Duration;
use vigil_mock::scenario::HINTS_KEY;
use vigil_mock::{CONTOSO_TENANT_ID, ProviderKind, Scenario, ScenarioConfig, TenantSpec};
use vigil_model::Alert;
use vigil_model::merge::{FingerprintRule, SourcedAlert, merge};
use vigil_model::query::{ALERT, Filter, OrderBy, Projection, parse_filter, parse_orderby};

const PROVIDERS: usize = 10;
const ALERTS_PER_PROVIDER: usize = 10_000;

/// A filter of the kind an analyst's queue uses: open alerts, not informational, recent.
const FILTER: &str = "status in ('newAlert','inProgress') and severity ne 'informational' \
                      and createdDateTime ge 2026-10-05T00:00:00Z";
const ORDERBY: &str = "severity desc,createdDateTime desc";

/// Each provider's name and its alerts as Graph JSON bytes.
fn provider_bytes() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::with_capacity(PROVIDERS);
    let mut seed = 1;
    while out.len() < PROVIDERS {
        let scenario = Scenario::generate(&ScenarioConfig {
            seed,
            tenants: vec![TenantSpec::new(CONTOSO_TENANT_ID, "Contoso")],
            alerts_per_tenant: ALERTS_PER_PROVIDER,
            risky_users_per_tenant: 0,
            detections_per_tenant: 0,
            ..ScenarioConfig::default()
        });
        for kind in ProviderKind::ALL {
            if out.len() == PROVIDERS {
                break;
            }
            let mut alerts = scenario.data(kind).alerts.clone();
            for a in &mut alerts {
                a.additional_data.remove(HINTS_KEY);
            }
            let bytes = serde_json::to_vec(&alerts).expect("alerts serialize");
            out.push((format!("{}-{seed}", kind.as_str()), bytes));
        }
        seed += 1;
    }
    out
}

fn deserialize(bytes: &[(String, Vec<u8>)]) -> Vec<SourcedAlert> {
    let mut all = Vec::with_capacity(PROVIDERS * ALERTS_PER_PROVIDER);
    for (name, b) in bytes {
        let alerts: Vec<Alert> = serde_json::from_slice(b).expect("alerts deserialize");
        all.extend(alerts.into_iter().map(|alert| SourcedAlert {
            provider: name.clone(),
            alert,
        }));
    }
    all
}

/// Merge, then `$filter` and `$orderby` on each merged alert's JSON projection (made once,
/// shared by both): the properties the two options read (`Projection`), or with
/// `Projection::whole()` the full `serde_json::to_value`. The gateway's list path projects the
/// same way (the filter in the federation step, the order in the route, each on its own).
/// The alerts themselves come out filtered and sorted, ready to render.
fn merge_filter_sort(
    alerts: Vec<SourcedAlert>,
    rule: &FingerprintRule,
    filter: &Filter,
    orderby: &OrderBy,
    projection: &Projection,
) -> Vec<Alert> {
    let merged = merge(alerts, rule);
    let mut kept: Vec<(Alert, Value)> = merged
        .into_iter()
        .filter_map(|a| {
            let v = projection.apply(&a);
            filter.matches(&v).then_some((a, v))
        })
        .collect();
    let values: Vec<Value> = kept.iter_mut().map(|(_, v)| std::mem::take(v)).collect();
    let order = orderby.sorted_indices(&values);
    let mut slots: Vec<Option<Alert>> = kept.into_iter().map(|(a, _)| Some(a)).collect();
    order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect()
}

fn bench(c: &mut Criterion) {
    let bytes = provider_bytes();
    let total_bytes: usize = bytes.iter().map(|(_, b)| b.len()).sum();
    let parsed = deserialize(&bytes);
    let rule = FingerprintRule::default();
    let filter = parse_filter(FILTER, &ALERT).expect("filter parses");
    let orderby = parse_orderby(ORDERBY, &ALERT).expect("orderby parses");
    let projection = filter.projection().union(&orderby.projection());
    let whole = Projection::whole();
    let merged = merge(parsed.clone(), &rule).len();
    let shown = merge_filter_sort(parsed.clone(), &rule, &filter, &orderby, &projection);
    let shown_whole = merge_filter_sort(parsed.clone(), &rule, &filter, &orderby, &whole);
    assert_eq!(shown, shown_whole, "the projection changes the answer");
    let shown = shown.len();
    eprintln!(
        "merge_100k: {} alerts from {PROVIDERS} providers, {:.1} MB of JSON; {merged} after the \
         merge ({} folded away), {shown} match the filter",
        parsed.len(),
        total_bytes as f64 / 1e6,
        parsed.len() - merged,
    );

    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let mut g = c.benchmark_group("merge_100k");
    g.sample_size(10);
    if quick {
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(4));
    } else {
        g.warm_up_time(Duration::from_secs(3));
        g.measurement_time(Duration::from_secs(20));
    }
    g.bench_function("deserialize", |b| {
        b.iter_with_large_drop(|| deserialize(black_box(&bytes)))
    });
    g.bench_function("merge_filter_sort", |b| {
        b.iter_batched(
            || parsed.clone(),
            |input| merge_filter_sort(input, &rule, &filter, &orderby, &projection),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("merge_filter_sort_full_json", |b| {
        b.iter_batched(
            || parsed.clone(),
            |input| merge_filter_sort(input, &rule, &filter, &orderby, &whole),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("merge_only", |b| {
        b.iter_batched(
            || parsed.clone(),
            |input| merge(input, &rule),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("end_to_end", |b| {
        b.iter_with_large_drop(|| {
            merge_filter_sort(
                deserialize(black_box(&bytes)),
                &rule,
                &filter,
                &orderby,
                &projection,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
