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
    // a delegated token is no operator; an application token with the role is
    let admin_route = format!("{}/vigil/admin/outbox", serve.base);
    let resp = client
        .get(&admin_route)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let out = vigil(&["token", "--data-dir", data_s, "--roles", "Vigil.Admin"]);
    assert!(out.status.success());
    let app_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let resp = client
        .get(&admin_route)
        .bearer_auth(&app_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

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

/// A config file for `fleet`'s two tenants whose secrets are all indirect: Contoso's from
/// environment variables (Graph's from a file), Fabrikam's from files. `graph_contoso_file`
/// holds what Contoso's Graph secret file contains. Returns the file and the environment.
fn indirect_secrets_config(
    fleet: &vigil_mock::MockFleet,
    dir: &Path,
    graph_contoso_file: &str,
) -> (PathBuf, Vec<(String, String)>) {
    let mut toml = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n\n[auth]\nmode = \"hs256\"\n",
        dir.join("data").display()
    );
    let mut env = Vec::new();
    for tid in [CONTOSO, FABRIKAM] {
        let short: String = tid.chars().take(8).collect();
        for kind in ProviderKind::ALL {
            let mock = fleet.get(kind);
            let c = mock.credentials(tid);
            let base = mock.base_url();
            let secret = match kind {
                ProviderKind::Ocsf => c.api_token.clone(),
                _ => c.client_secret.clone(),
            };
            let key = match kind {
                ProviderKind::Ocsf => "api_token",
                _ => "client_secret",
            };
            // Contoso: Graph from a file, the others from the environment; Fabrikam: files.
            let indirect = if tid == FABRIKAM || kind == ProviderKind::Graph {
                let file = dir.join(format!("{}-{short}.secret", kind.as_str()));
                let text = if tid == CONTOSO {
                    graph_contoso_file.to_string()
                } else {
                    format!("{secret}\n")
                };
                std::fs::write(&file, text).unwrap();
                format!("{key}_file = \"{}\"", file.display())
            } else {
                let var = format!("SECRETS_TEST_{}_{short}", kind.as_str().to_uppercase());
                env.push((var.clone(), secret));
                format!("{key}_env = \"{var}\"")
            };
            toml.push_str(&format!(
                "\n[[providers]]\nkind = \"{k}\"\nname = \"{k}-{short}\"\ntenant_id = \"{tid}\"\nbase_url = \"{base}\"\n",
                k = kind.as_str()
            ));
            match kind {
                ProviderKind::Ocsf => toml.push_str(&format!("{indirect}\n")),
                ProviderKind::Graph => toml.push_str(&format!(
                    "[providers.credentials]\ntoken_url = \"{base}/{tid}/oauth2/v2.0/token\"\nclient_id = \"{}\"\n{indirect}\n",
                    c.client_id
                )),
                ProviderKind::Falcon => toml.push_str(&format!(
                    "[providers.credentials]\nclient_id = \"{}\"\n{indirect}\n",
                    c.client_id
                )),
            }
        }
    }
    let config = dir.join("vigil.toml");
    std::fs::write(&config, toml).unwrap();
    (config, env)
}

/// Every provider's status in a list answer for `tenant`.
async fn list_status(
    client: &reqwest::Client,
    serve: &Serve,
    key: &[u8],
    tenant: &str,
) -> (u16, Vec<Value>) {
    let token = mint_delegated(key, tenant, "vigil-tests", &["SecurityEvents.Read.All"]);
    let resp = client
        .get(format!("{}/v1.0/security/alerts?$top=5", serve.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    let providers = body["@vigil.providerStatus"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (status, providers)
}

/// Provider secrets read from files and environment variables reach the mocks' token
/// endpoints (which check them): every provider of both tenants answers. A wrong secret in
/// Contoso's Graph file makes exactly that provider fail, so the file is what was used.
/// No secret reaches the log, even at debug.
#[tokio::test]
async fn provider_secrets_from_files_and_env_vars_authenticate_each_tenant() {
    let fleet = vigil_mock::MockFleet::start(vigil_mock::MockConfig {
        alerts_per_tenant: 20,
        ..vigil_mock::MockConfig::default()
    })
    .await
    .unwrap();
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    let graph_contoso = fleet.get(ProviderKind::Graph).credentials(CONTOSO);
    let dir = temp_dir("secrets");
    let (config, env) = indirect_secrets_config(
        &fleet,
        &dir,
        &format!("  {}\n", graph_contoso.client_secret),
    );
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config_s = config.to_str().unwrap();
    let serve = Serve::start(&["--config", config_s], &env_refs, &dir.join("good.log"));
    let key =
        vigil_gateway::config::load_or_create_key(&dir.join("data/token-signing.key")).unwrap();
    for tenant in [CONTOSO, FABRIKAM] {
        let (status, providers) = list_status(&client, &serve, &key, tenant).await;
        assert_eq!(status, 200, "{tenant}: {providers:?}");
        assert_eq!(providers.len(), 3, "{providers:?}");
        assert!(
            providers.iter().all(|p| p["state"] == "answered"),
            "{providers:?}"
        );
    }
    // Graph and Falcon fetched their tokens (one per tenant at least) from the mocks.
    for kind in [ProviderKind::Graph, ProviderKind::Falcon] {
        let token_calls = fleet
            .get(kind)
            .requests()
            .iter()
            .filter(|r| r.path.contains("oauth2/"))
            .count();
        assert!(token_calls >= 2, "{kind:?}: {token_calls} token requests");
    }
    let mut secrets: Vec<String> = env.iter().map(|(_, v)| v.clone()).collect();
    for kind in ProviderKind::ALL {
        let c = fleet.get(kind).credentials(FABRIKAM);
        secrets.push(c.client_secret);
        secrets.push(c.api_token);
    }
    secrets.push(graph_contoso.client_secret.clone());
    drop(serve);

    // Contoso's Graph file holds Fabrikam's secret: that provider alone fails.
    let wrong = fleet
        .get(ProviderKind::Graph)
        .credentials(FABRIKAM)
        .client_secret;
    let (config, env) = indirect_secrets_config(&fleet, &dir, &wrong);
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let serve = Serve::start(
        &["--config", config.to_str().unwrap()],
        &env_refs,
        &dir.join("wrong.log"),
    );
    let (status, providers) = list_status(&client, &serve, &key, CONTOSO).await;
    assert_eq!(status, 206, "{providers:?}");
    let failed: Vec<&Value> = providers
        .iter()
        .filter(|p| p["state"] != "answered")
        .collect();
    assert_eq!(failed.len(), 1, "{providers:?}");
    assert!(
        failed[0].to_string().contains("graph-"),
        "not the Graph provider: {providers:?}"
    );
    let (status, _) = list_status(&client, &serve, &key, FABRIKAM).await;
    assert_eq!(status, 200);
    drop(serve);

    for log in ["good.log", "wrong.log"] {
        let text = std::fs::read_to_string(dir.join(log)).unwrap();
        assert!(text.contains("vigil listening"), "{text}");
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret is in {log}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    fleet.shutdown().await;
}

/// `check-config`: indirect secrets that cannot be read are errors naming their key; a secret
/// written in the file is valid but warned about.
#[test]
fn check_config_names_unreadable_secrets_and_warns_of_literal_ones() {
    let dir = temp_dir("secret-conf");
    let write = |provider: &str| {
        let config = dir.join("vigil.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\n[auth]\nmode = \"hs256\"\n\n[[providers]]\nkind = \"graph\"\n\
                 name = \"defender\"\ntenant_id = \"{CONTOSO}\"\n{provider}\n",
                dir.display()
            ),
        )
        .unwrap();
        let out = vigil(&["check-config", "--config", config.to_str().unwrap()]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let missing = dir.join("missing.secret");
    let (ok, err) = write(&format!(
        "credentials = {{ client_id = \"c\", client_secret_file = \"{}\" }}",
        missing.display()
    ));
    assert!(!ok);
    assert!(
        err.contains("providers[0].credentials.client_secret_file")
            && err.contains(missing.to_str().unwrap())
            && err.contains("defender"),
        "{err}"
    );
    let (ok, err) = write(
        "credentials = { client_id = \"c\", client_secret_env = \"SECRETS_TEST_SURELY_UNSET_41c9\" }",
    );
    assert!(!ok);
    assert!(
        err.contains("providers[0].credentials.client_secret_env")
            && err.contains("SECRETS_TEST_SURELY_UNSET_41c9 is not set"),
        "{err}"
    );
    let (ok, err) =
        write("credentials = { client_id = \"c\", client_secret = \"hunter2-literal\" }");
    assert!(ok, "{err}");
    assert!(
        err.contains("warning: providers[0].credentials.client_secret")
            && err.contains("client_secret_file"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2-literal"),
        "the warning shows the secret"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
