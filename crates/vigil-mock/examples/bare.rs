//! The baseline of the cached-list benchmark (`bench/run`): a bare axum server that answers
//! every GET with the same bytes, captured from the gateway. Whatever the gateway does beyond
//! this — auth, query parsing, the cache lookup, merge, serialization, headers — is what the
//! ratio "gateway requests/s ÷ bare requests/s" measures.
//!
//! ```text
//! cargo run --release -p vigil-mock --example bare -- BODY_FILE [CONTENT_TYPE]
//! ```
//!
//! Listens on an ephemeral loopback port and prints `http://127.0.0.1:PORT` on stdout; runs
//! until killed. Same runtime as the gateway (tokio multi-thread, one worker per core).

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::io::Write;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: bare BODY_FILE [CONTENT_TYPE]");
        return std::process::ExitCode::FAILURE;
    };
    let content_type = args
        .next()
        .unwrap_or_else(|| "application/json;odata.metadata=minimal;charset=utf-8".into());
    let body = match std::fs::read(&path) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            eprintln!("bare: cannot read {path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let Ok(content_type) = HeaderValue::from_str(&content_type) else {
        eprintln!("bare: '{content_type}' is not a header value");
        return std::process::ExitCode::FAILURE;
    };
    let app = Router::new().fallback(move || {
        let body = body.clone();
        let content_type = content_type.clone();
        async move {
            let mut r: Response = body.into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, content_type);
            r
        }
    });
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bare: cannot listen: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => {
            println!("http://{addr}");
            let _ = std::io::stdout().flush();
        }
        Err(e) => {
            eprintln!("bare: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("bare: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
