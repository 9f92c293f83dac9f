//! The demo: the mock provider fleet in-process, and the gateway configured against it.
//!
//! Each demo tenant gets one provider of each kind (Graph, Falcon, OCSF) with the mock's
//! credentials for that tenant. The mocks listen on free loopback ports; nothing leaves the
//! machine.

use std::net::SocketAddr;
use std::path::Path;
use vigil_gateway::Config;
use vigil_gateway::config::{ProviderConfig, Unchecked};
use vigil_mock::{MockConfig, MockFleet, ProviderKind};

pub struct Demo {
    pub fleet: MockFleet,
}

/// The demo's authentication: when no provider is configured (so `vigil serve` runs the demo)
/// and nobody chose an `auth.mode`, HS256 with a key in the data directory, so that
/// `vigil token` mints tokens the demo accepts. Anything else keeps the configured mode (the
/// default is `jwks`). Returns whether HS256 was turned on.
pub fn configure_auth(cfg: &mut Unchecked) -> bool {
    if cfg.config.providers.is_empty() && !cfg.auth_mode_given {
        cfg.config.auth.mode = "hs256".into();
        true
    } else {
        false
    }
}

/// Starts the fleet and adds its providers to `cfg`.
pub async fn start(cfg: &mut Config) -> Result<Demo, String> {
    let fleet = MockFleet::start(MockConfig::default())
        .await
        .map_err(|e| format!("cannot start the demo providers: {e}"))?;
    cfg.providers = provider_configs(&fleet)?;
    Ok(Demo { fleet })
}

/// One provider of each kind per tenant of the fleet, with the mock's credentials.
pub fn provider_configs(fleet: &MockFleet) -> Result<Vec<ProviderConfig>, String> {
    let mut providers = Vec::new();
    for tenant in fleet.scenario().tenants() {
        let tid = &tenant.id;
        let short: String = tid.chars().take(8).collect();
        for kind in ProviderKind::ALL {
            let mock = fleet.get(kind);
            let creds = mock.credentials(tid);
            let base = mock.base_url();
            let value = match kind {
                ProviderKind::Graph => serde_json::json!({
                    "kind": "graph",
                    "name": format!("graph-{short}"),
                    "tenant_id": tid,
                    "base_url": base,
                    "credentials": {
                        "token_url": format!("{base}/{tid}/oauth2/v2.0/token"),
                        "client_id": creds.client_id,
                        "client_secret": creds.client_secret,
                        "scope": "https://graph.microsoft.com/.default",
                    },
                }),
                ProviderKind::Falcon => serde_json::json!({
                    "kind": "falcon",
                    "name": format!("falcon-{short}"),
                    "tenant_id": tid,
                    "base_url": base,
                    "credentials": {
                        "client_id": creds.client_id,
                        "client_secret": creds.client_secret,
                    },
                }),
                ProviderKind::Ocsf => serde_json::json!({
                    "kind": "ocsf",
                    "name": format!("ocsf-{short}"),
                    "tenant_id": tid,
                    "base_url": base,
                    "api_token": creds.api_token,
                }),
            };
            let p: ProviderConfig =
                serde_json::from_value(value).map_err(|e| format!("demo provider config: {e}"))?;
            providers.push(p);
        }
    }
    Ok(providers)
}

/// Tells a newcomer how to call the demo.
pub fn print_instructions(addr: &SocketAddr, data_dir: &Path, auth_mode: &str, demo: &Demo) {
    let tenants: Vec<String> = demo
        .fleet
        .scenario()
        .tenants()
        .iter()
        .map(|t| format!("{} ({})", t.display_name, t.id))
        .collect();
    let dd = data_dir.display();
    let auth = if auth_mode == "hs256" {
        format!(
            "Auth: auth.mode = \"hs256\", set by the demo (demo tokens signed with \
             {dd}/token-signing.key; without the demo the default is jwks).\n\
             Get a token and list alerts:\n\
             \x20 TOKEN=$(cargo run -q -- token --data-dir {dd})\n"
        )
    } else {
        format!(
            "Auth: auth.mode = \"{auth_mode}\" as configured; use a token from your identity \
             provider.\n"
        )
    };
    eprintln!(
        "\nVigil demo is running on http://{addr}\n\
         Tenants: {}\n\
         Mock providers: graph {}, falcon {}, ocsf {}\n\n\
         {auth}\
         \x20 curl -s -H \"Authorization: Bearer $TOKEN\" 'http://{addr}/v1.0/security/alerts?$top=5'\n\n\
         OpenAPI: http://{addr}/openapi.json   Docs: http://{addr}/docs\n",
        tenants.join(", "),
        demo.fleet.get(ProviderKind::Graph).base_url(),
        demo.fleet.get(ProviderKind::Falcon).base_url(),
        demo.fleet.get(ProviderKind::Ocsf).base_url(),
    );
}
