//! Credentials as the real binary sees them: the demo's HS256 tokens (`vigil serve` with no
//! configuration, then `vigil token`), `check-config` on an incomplete jwks configuration, and
//! provider secrets read from files and environment variables, each tenant's its own.

use crate::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `vigil serve` process; killed when dropped.
struct Serve {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Serve {
    /// Starts `vigil serve` with `args` and `env`, its stderr in `log`, and waits (bounded) for
    /// its "vigil listening" line.
    fn start(args: &[&str], env: &[(&str, &str)], log: &Path) -> Serve {
        let file = std::fs::File::create(log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
        cmd.arg("serve").args(args);
        for k in ["VIGIL_CONFIG", "VIGIL_AUTH__MODE", "VIGIL_PROVIDERS"] {
            cmd.env_remove(k);
        }
        cmd.env("VIGIL_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn vigil serve");
        let mut serve = Serve {
            child,
            base: String::new(),
            log: log.to_path_buf(),
        };
        let started = Instant::now();
        loop {
            let text = serve.log_text();
            let addr = text
                .lines()
                .filter(|l| l.contains("vigil listening"))
                .find_map(|l| l.split("addr=").nth(1))
                .and_then(|rest| rest.split_whitespace().next());
            if let Some(addr) = addr {
                serve.base = format!("http://{addr}");
                return serve;
            }
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!("vigil serve exited with {status}:\n{text}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "vigil serve did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-{what}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn vigil(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env_remove("VIGIL_CONFIG")
        .env_remove("VIGIL_AUTH__MODE")
        .env_remove("VIGIL_PROVIDERS")
        .output()
        .expect("run vigil")
}

/// The README's quick start: `vigil serve` with no configuration is the demo, which turns on
/// HS256 and says so; `vigil token` on its data directory mints a token it accepts.
#[tokio::test]
async fn the_demo_turns_on_hs256_and_accepts_vigil_token() {
    let dir = temp_dir("demo");
    let data = dir.join("data");
    let data_s = data.to_str().unwrap();
    let serve = Serve::start(
        &["--data-dir", data_s, "--listen", "127.0.0.1:0"],
        &[],
        &dir.join("serve.log"),
    );
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    // The instructions come right after the listening line.
    let started = Instant::now();
    while !serve.log_text().contains("Vigil demo is running") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no instructions"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = serve.log_text();
    assert!(
        log.contains("auth.mode = \"hs256\", set by the demo"),
        "the demo does not say it uses HS256:\n{log}"
    );

    let out = vigil(&["token", "--data-dir", data_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let resp = client
        .get(format!("{}/v1.0/security/alerts?$top=5", serve.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(
        !body["value"].as_array().unwrap().is_empty(),
        "the demo served no alert: {body}"
    );
    let resp = client
        .get(format!("{}/v1.0/security/alerts?$top=5", serve.base))
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let out = vigil(&["check-config", "--data-dir", data_s]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("auth.mode = hs256") && stdout.contains("demo"),
        "{stdout}"
    );
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A configuration with providers and nothing about auth is jwks without audiences:
/// `check-config` refuses it and says what to add.
#[test]
fn check_config_names_a_jwks_config_without_audiences() {
    let dir = temp_dir("jwks-conf");
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n\n[[providers]]\nkind = \"ocsf\"\nname = \"lake\"\n\
             tenant_id = \"{CONTOSO}\"\nbase_url = \"https://findings.example.com\"\n\
             api_token = \"literal-token\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let out = vigil(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("auth.audiences") && err.contains("jwks (the default)"),
        "{err}"
    );
    // `vigil token` refuses it too.
    let out = vigil(&["token", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "a token was printed");
    let _ = std::fs::remove_dir_all(&dir);
}
