//! The floor of the fan-out benchmark (`bench/run`): every upstream request one gateway list
//! makes, sent at once, straight to the mock providers, by a client that does nothing with the
//! answers but read them. No gateway could answer a list sooner than the slowest of these on
//! this machine, so "floor p50 ÷ slowest provider p50" is the best fan-out ratio any gateway can
//! score here (the mocks share the cores with whoever asks them).
//!
//! ```text
//! cargo run --release -p vigil-mock --example fanout_floor -- REQUESTS_JSON SECS
//! ```
//!
//! `REQUESTS_JSON`: `[{"url": "...", "headers": {"Authorization": "Bearer ..."}}, ...]`.
//! Rounds run one after another for `SECS` seconds (like one wrk connection); each round is timed
//! from its first send to its last body byte. Prints
//! `{"p50_ms": .., "p99_ms": .., "rounds": ..}` on stdout.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(serde::Deserialize)]
struct Upstream {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

async fn fetch(client: &reqwest::Client, u: &Upstream) -> Result<usize, String> {
    let mut req = client.get(&u.url);
    for (k, v) in &u.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.map_err(|e| format!("{}: {e}", u.url))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("{}: {e}", u.url))?;
    if !status.is_success() {
        return Err(format!("{} answered {status}", u.url));
    }
    Ok(body.len())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, secs] = args.as_slice() else {
        eprintln!("usage: fanout_floor REQUESTS_JSON SECS");
        return ExitCode::FAILURE;
    };
    let Ok(secs) = secs.parse::<f64>() else {
        eprintln!("fanout_floor: SECS must be a number, not '{secs}'");
        return ExitCode::FAILURE;
    };
    let upstreams: Vec<Upstream> = match std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(u) => u,
        Err(e) => {
            eprintln!("fanout_floor: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if upstreams.is_empty() {
        eprintln!("fanout_floor: {path} lists no request");
        return ExitCode::FAILURE;
    }
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fanout_floor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let round = || futures::future::join_all(upstreams.iter().map(|u| fetch(&client, u)));
    // Warm-up: connections open, the mocks' answers kept.
    for r in round().await {
        if let Err(e) = r {
            eprintln!("fanout_floor: {e}");
            return ExitCode::FAILURE;
        }
    }
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut times = Vec::new();
    while Instant::now() < end {
        let started = Instant::now();
        for r in round().await {
            if let Err(e) = r {
                eprintln!("fanout_floor: {e}");
                return ExitCode::FAILURE;
            }
        }
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "{}",
        serde_json::json!({
            "p50_ms": percentile(&times, 0.50),
            "p99_ms": percentile(&times, 0.99),
            "rounds": times.len(),
        })
    );
    ExitCode::SUCCESS
}
