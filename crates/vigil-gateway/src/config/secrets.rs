//! Provider secrets kept out of the configuration file.
//!
//! Every secret-bearing key of a provider entry (`credentials.client_secret` of Graph and
//! Falcon, `api_token` of OCSF) can instead be given as `<key>_env = "VAR"` (read from that
//! environment variable) or `<key>_file = "/path"` (the file's contents, trimmed), e.g.
//! `credentials = { client_id = "…", client_secret_file = "/run/secrets/graph-contoso" }`.
//! Provider entries are per tenant, so each tenant's entry names its own variable or file.
//! They are read once, when the configuration is loaded; a variable that is not set, a file
//! that cannot be read or an empty value is a configuration error naming the key (never the
//! value). A secret written literally still works, with a warning.

use serde_json::{Map, Value};

/// The secret keys: (path of the table holding it, key).
const SECRET_KEYS: &[(&[&str], &str)] = &[(&["credentials"], "client_secret"), (&[], "api_token")];

/// Provider entries with their secrets read.
pub(super) struct Resolved {
    pub providers: Vec<Value>,
    /// Secrets written literally in the configuration, by key.
    pub warnings: Vec<String>,
}

/// Reads every `<key>_env` and `<key>_file` of `providers` into `<key>`; the errors name
/// their keys.
pub(super) fn resolve(mut providers: Vec<Value>) -> Result<Resolved, Vec<String>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (i, provider) in providers.iter_mut().enumerate() {
        let name = provider
            .get("name")
            .and_then(Value::as_str)
            .map(|n| format!(" (provider '{n}')"))
            .unwrap_or_default();
        for (path, key) in SECRET_KEYS {
            let mut table = Some(&mut *provider);
            for p in *path {
                table = table.and_then(|t| t.get_mut(*p));
            }
            let Some(Value::Object(table)) = table else {
                continue;
            };
            let at: String = std::iter::once(format!("providers[{i}]"))
                .chain(path.iter().map(|p| p.to_string()))
                .collect::<Vec<_>>()
                .join(".");
            match resolve_key(table, key, &at, &name) {
                Ok(Some(warning)) => warnings.push(warning),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(Resolved {
            providers,
            warnings,
        })
    } else {
        Err(errors)
    }
}

/// One key of one table: `Ok(Some(warning))` for a literal secret.
fn resolve_key(
    table: &mut Map<String, Value>,
    key: &str,
    at: &str,
    name: &str,
) -> Result<Option<String>, String> {
    let env_key = format!("{key}_env");
    let file_key = format!("{key}_file");
    let given = [key, env_key.as_str(), file_key.as_str()]
        .iter()
        .filter(|k| table.contains_key(**k))
        .count();
    if given > 1 {
        return Err(format!(
            "{at}: give only one of {key}, {env_key} and {file_key}{name}"
        ));
    }
    if let Some(var) = table.remove(&env_key) {
        let Some(var) = var.as_str().map(str::trim).filter(|v| !v.is_empty()) else {
            return Err(format!(
                "{at}.{env_key}: must name an environment variable{name}"
            ));
        };
        let value = match std::env::var(var) {
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => {
                return Err(format!(
                    "{at}.{env_key}: environment variable {var} is not set{name}"
                ));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(format!(
                    "{at}.{env_key}: environment variable {var} is not valid UTF-8{name}"
                ));
            }
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(format!(
                "{at}.{env_key}: environment variable {var} is empty{name}"
            ));
        }
        table.insert(key.to_string(), Value::String(value.to_string()));
        return Ok(None);
    }
    if let Some(path) = table.remove(&file_key) {
        let Some(path) = path.as_str().filter(|p| !p.trim().is_empty()) else {
            return Err(format!("{at}.{file_key}: must be a file path{name}"));
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{at}.{file_key}: cannot read {path}: {e}{name}"))?;
        let value = text.trim();
        if value.is_empty() {
            return Err(format!("{at}.{file_key}: {path} is empty{name}"));
        }
        table.insert(key.to_string(), Value::String(value.to_string()));
        return Ok(None);
    }
    match table.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(format!(
            "{at}.{key}: the secret is written in the configuration{name}; give \
             {env_key} = \"VAR\" or {file_key} = \"/path\" instead"
        ))),
        _ => Ok(None),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_are_read_and_trimmed_literals_warned_and_mistakes_named() {
        let dir = std::env::temp_dir().join(format!("vigil-secrets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("graph");
        std::fs::write(&file, "  s3cret-from-file\n").unwrap();
        let r = resolve(vec![
            json!({"kind": "graph", "name": "g", "credentials": {"client_id": "c", "client_secret_file": file}}),
            json!({"kind": "ocsf", "name": "o", "api_token": "literal"}),
        ])
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            r.providers[0]["credentials"],
            json!({"client_id": "c", "client_secret": "s3cret-from-file"})
        );
        assert_eq!(r.warnings.len(), 1);
        assert!(
            r.warnings[0].starts_with("providers[1].api_token:"),
            "{:?}",
            r.warnings
        );
        assert!(
            !r.warnings[0].contains("literal"),
            "the warning holds the secret"
        );

        let missing = dir.join("nope");
        let e = resolve(vec![
            json!({"name": "g", "credentials": {"client_secret_file": missing}}),
            json!({"name": "o", "api_token_env": "VIGIL_TEST_SURELY_UNSET_7f3a"}),
            json!({"name": "f", "credentials": {"client_secret": "x", "client_secret_env": "X"}}),
            json!({"name": "e", "api_token_file": dir.join("empty")}),
        ])
        .err()
        .unwrap();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e[0].starts_with("providers[0].credentials.client_secret_file: cannot read"));
        assert!(e[0].contains("'g'"), "{e:?}");
        assert!(e[1].contains("providers[1].api_token_env") && e[1].contains("not set"));
        assert!(e[2].starts_with("providers[2].credentials: give only one of"));
        assert!(e[3].starts_with("providers[3].api_token_file"));
        std::fs::write(dir.join("empty"), "\n").unwrap();
        let e = resolve(vec![
            json!({"name": "e", "api_token_file": dir.join("empty")}),
        ])
        .err()
        .unwrap();
        assert!(e[0].ends_with("is empty (provider 'e')"), "{e:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
