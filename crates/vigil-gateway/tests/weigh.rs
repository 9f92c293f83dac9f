//! The page cache's weigher against real memory: a page of parsed alerts must not weigh less
//! than the heap it holds (the cache bound is a memory bound), nor so much more that the
//! cache holds far less than its bound allows.
//!
//! Memory is measured as the process's resident set growing while pages are parsed and kept
//! (its own test binary for that reason: nothing else allocates meanwhile), which is what the
//! memory benchmark compares with the bound too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use vigil_gateway::fanout::weight_of;
use vigil_mock::scenario::HINTS_KEY;
use vigil_mock::{CONTOSO_TENANT_ID, ProviderKind, Scenario, ScenarioConfig, TenantSpec};
use vigil_model::Alert;
use vigil_providers::Page;

/// Resident memory of this process, in bytes.
fn rss() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096.0
}

/// Pages parsed per provider kind: enough memory (tens of MB) that what the allocator had
/// spare beforehand is noise.
const PAGES: usize = 40;

#[test]
fn weight_covers_the_heap_of_parsed_alerts_without_overcounting() {
    let scenario = Scenario::generate(&ScenarioConfig {
        seed: 7,
        tenants: vec![TenantSpec::new(CONTOSO_TENANT_ID, "Contoso")],
        alerts_per_tenant: 500,
        risky_users_per_tenant: 0,
        detections_per_tenant: 0,
        ..ScenarioConfig::default()
    });
    let payloads: Vec<(ProviderKind, Vec<u8>)> = ProviderKind::ALL
        .into_iter()
        .map(|kind| {
            let mut alerts = scenario.data(kind).alerts.clone();
            for a in &mut alerts {
                a.additional_data.remove(HINTS_KEY);
            }
            (kind, serde_json::to_vec(&alerts).unwrap())
        })
        .collect();
    drop(scenario);
    // Every kind's pages stay alive to the end: freed memory would be reused by the next kind
    // without the resident set growing.
    let mut kept = Vec::new();
    for (kind, bytes) in &payloads {
        // What provider pages hold in the cache: the parsed alerts.
        let before = rss();
        let pages: Vec<Page<Alert>> = (0..PAGES)
            .map(|_| Page {
                items: serde_json::from_slice(bytes).unwrap(),
                next_cursor: None,
            })
            .collect();
        let heap = rss() - before;
        let weight: f64 = pages.iter().map(|p| f64::from(weight_of(p))).sum();
        let ratio = weight / heap;
        eprintln!(
            "{}: {PAGES} pages of {} alerts, {} JSON bytes each; RSS grew {heap}, weight {weight} \
             (weight / RSS {ratio:.2})",
            kind.as_str(),
            pages[0].items.len(),
            bytes.len()
        );
        assert!(
            ratio >= 1.0,
            "{}: the weigher undercounts ({ratio:.2} of the memory)",
            kind.as_str()
        );
        assert!(
            ratio <= 1.6,
            "{}: the weigher overcounts ({ratio:.2} of the memory)",
            kind.as_str()
        );
        kept.push(pages);
    }
}
