//! The real `vigil` binary as a child process: a config file with the fleet's providers, a
//! fixed port, tokens signed with the process's own key. For the tests that need a real process
//! (kill -9, SIGTERM, process-wide metrics, JSON logs).

use crate::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vigil_mock::MockFleet;

/// A `vigil serve` process on a fixed port, its output in a file.
pub struct Proc {
    child: std::process::Child,
    pub base: String,
    pub port: u16,
}

impl Proc {
    pub async fn start(config: &Path, port: u16, log: &Path, env: &[(&str, &str)]) -> Proc {
        let log = std::fs::File::create(log).unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"));
        cmd.args(["serve", "--config"])
            .arg(config)
            .env_remove("VIGIL_LOG")
            .env_remove("VIGIL_LOG_FORMAT")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let start = Instant::now();
        while client
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "gateway did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Proc { child, base, port }
    }

    /// `kill -TERM`.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// `kill -9`: no shutdown, no cleanup.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        let _ = self.child.wait();
    }

    /// Waits (bounded) for the process to exit.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A data directory, a free port and a config file with the fleet's providers and `extra`.
pub fn setup(fleet: &MockFleet, name: &str, extra: &str) -> (PathBuf, u16, PathBuf) {
    let dir = std::env::temp_dir().join(format!("vigil-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n{extra}\n[auth]\nmode = \"hs256\"\n\n{}",
            dir.display(),
            providers_toml(fleet)
        ),
    )
    .unwrap();
    (dir, port, config)
}

/// A token of `app` for `tenant` signed with the process's key.
pub fn token(dir: &Path, tenant: &str, app: &str, scopes: &[&str]) -> String {
    mint_delegated(&process_key(dir), tenant, app, scopes)
}

/// An application token with the `Vigil.Admin` role for `tenant`, signed with the process's key.
pub fn admin_token(dir: &Path, tenant: &str) -> String {
    mint_admin(&process_key(dir), tenant)
}

fn process_key(dir: &Path) -> Vec<u8> {
    vigil_gateway::config::load_or_create_key(&dir.join("token-signing.key")).unwrap()
}

/// The demo's providers for the fleet, as a TOML config file's `[[providers]]` tables.
pub fn providers_toml(fleet: &MockFleet) -> String {
    let mut out = String::new();
    for tenant in fleet.scenario().tenants() {
        let tid = &tenant.id;
        let short: String = tid.chars().take(8).collect();
        for kind in ProviderKind::ALL {
            let mock = fleet.get(kind);
            let c = mock.credentials(tid);
            let base = mock.base_url();
            let (k, extra) = match kind {
                ProviderKind::Graph => (
                    "graph",
                    format!(
                        "[providers.credentials]\ntoken_url = \"{base}/{tid}/oauth2/v2.0/token\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\nscope = \"https://graph.microsoft.com/.default\"\n",
                        c.client_id, c.client_secret
                    ),
                ),
                ProviderKind::Falcon => (
                    "falcon",
                    format!(
                        "[providers.credentials]\nclient_id = \"{}\"\nclient_secret = \"{}\"\n",
                        c.client_id, c.client_secret
                    ),
                ),
                ProviderKind::Ocsf => ("ocsf", format!("api_token = \"{}\"\n", c.api_token)),
            };
            let (top, sub) = match extra.split_once("[providers.credentials]\n") {
                Some((_, creds)) => (String::new(), format!("[providers.credentials]\n{creds}")),
                None => (extra.clone(), String::new()),
            };
            out.push_str(&format!(
                "\n[[providers]]\nkind = \"{k}\"\nname = \"{k}-{short}\"\ntenant_id = \"{tid}\"\nbase_url = \"{base}\"\n{top}{sub}"
            ));
        }
    }
    out
}
