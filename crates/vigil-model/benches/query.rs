//! Micro-benchmarks of the OData engine: `$filter` parse and evaluation, `$orderby` parse and
//! sort. Evaluation runs over 10,000 alerts of the mock fleet's seeded scenario (Graph JSON
//! projections, as the gateway evaluates them), so a figure per item is the figure ÷ 10,000.
//!
//! `BENCH_QUICK=1` shortens warm-up and measurement.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use std::hint::black_box;
use std::time::Duration;
use vigil_mock::scenario::HINTS_KEY;
use vigil_mock::{CONTOSO_TENANT_ID, ProviderKind, Scenario, ScenarioConfig, TenantSpec};
use vigil_model::query::{ALERT, parse_filter, parse_orderby};

/// Filters from simple to the heaviest the engine supports (lambdas, functions, nesting).
const FILTERS: [(&str, &str); 5] = [
    ("eq", "severity eq 'high'"),
    (
        "queue",
        "status in ('newAlert','inProgress') and severity ne 'informational' and createdDateTime ge 2026-10-05T00:00:00Z",
    ),
    (
        "vendor",
        "vendorInformation/provider eq 'Microsoft Defender ATP'",
    ),
    (
        "lambda",
        "userStates/any(u: endswith(u/userPrincipalName,'@contoso.com')) and not tags/any(t: t eq 'x')",
    ),
    (
        "nested",
        "(severity eq 'high' or (severity eq 'medium' and confidence ge 50)) and (contains(title,'Suspicious') or hostStates/any(h: startswith(h/fqdn,'ws'))) and createdDateTime lt 2026-11-01T00:00:00Z",
    ),
];

const ORDERBYS: [(&str, &str); 3] = [
    ("created", "createdDateTime desc"),
    ("severity_created", "severity desc,createdDateTime desc"),
    ("title", "title,id"),
];

const ITEMS: usize = 10_000;

fn items() -> Vec<Value> {
    let scenario = Scenario::generate(&ScenarioConfig {
        seed: 7,
        tenants: vec![TenantSpec::new(CONTOSO_TENANT_ID, "Contoso")],
        alerts_per_tenant: ITEMS / 3 + 1,
        risky_users_per_tenant: 0,
        detections_per_tenant: 0,
        ..ScenarioConfig::default()
    });
    let mut out: Vec<Value> = ProviderKind::ALL
        .into_iter()
        .flat_map(|k| scenario.data(k).alerts.clone())
        .map(|mut a| {
            a.additional_data.remove(HINTS_KEY);
            serde_json::to_value(a).expect("alert serializes")
        })
        .collect();
    out.truncate(ITEMS);
    out
}

fn configure(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    if std::env::var_os("BENCH_QUICK").is_some() {
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_secs(1));
    }
}

fn bench(c: &mut Criterion) {
    let items = items();

    let mut g = c.benchmark_group("filter_parse");
    configure(&mut g);
    for (name, text) in FILTERS {
        g.bench_function(name, |b| {
            b.iter(|| parse_filter(black_box(text), &ALERT).expect("parses"))
        });
    }
    // The longest filter the engine accepts, to show the length limit bounds the cost.
    let long = vec!["severity eq 'high'"; 200].join(" or ");
    let long = &long[..long.len().min(vigil_model::query::MAX_EXPRESSION_LENGTH)];
    let long = long.rsplit_once(" or ").map_or(long, |(head, _)| head);
    g.bench_function("max_length_or_chain", |b| {
        b.iter(|| parse_filter(black_box(long), &ALERT).expect("parses"))
    });
    g.finish();

    let mut g = c.benchmark_group("filter_eval_10k");
    configure(&mut g);
    g.throughput(Throughput::Elements(items.len() as u64));
    for (name, text) in FILTERS {
        let f = parse_filter(text, &ALERT).expect("parses");
        g.bench_function(name, |b| {
            b.iter(|| items.iter().filter(|v| f.matches(v)).count())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("orderby_10k");
    configure(&mut g);
    g.throughput(Throughput::Elements(items.len() as u64));
    for (name, text) in ORDERBYS {
        g.bench_function(format!("parse_{name}"), |b| {
            b.iter(|| parse_orderby(black_box(text), &ALERT).expect("parses"))
        });
        let o = parse_orderby(text, &ALERT).expect("parses");
        g.bench_function(format!("sort_{name}"), |b| {
            b.iter_batched(
                || items.clone(),
                |mut v| {
                    o.sort(&mut v);
                    v
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
