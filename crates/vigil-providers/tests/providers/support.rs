//! Helpers shared by the test modules.

use std::future::Future;
use std::time::Duration;
use vigil_providers::ProviderError;

/// Every test body runs under this deadline, so a hung upstream fails a test instead of
/// hanging the suite.
pub const TEST_DEADLINE: Duration = Duration::from_secs(30);

/// Runs `fut` under [`TEST_DEADLINE`], panicking with `what` when it is exceeded.
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(TEST_DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not finish within {TEST_DEADLINE:?}"),
    }
}

/// Asserts the error's Display names the provider and contains `cause`.
pub fn assert_names(err: &ProviderError, provider: &str, cause: &str) {
    let text = err.to_string();
    assert_eq!(err.provider, provider, "{text}");
    assert!(
        text.contains(&format!("'{provider}'")),
        "error does not name the provider: {text}"
    );
    assert!(
        text.to_lowercase().contains(&cause.to_lowercase()),
        "error does not name the cause '{cause}': {text}"
    );
}
