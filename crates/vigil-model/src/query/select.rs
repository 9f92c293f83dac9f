//! `$select`: a comma list of top-level property names.
//!
//! Names are matched case-insensitively and resolved to their canonical spelling (the context
//! URL lists them, Graph-style: `$metadata#Security/alerts(assignedTo,severity)`). `*` selects
//! every declared property. Paths (`vendorInformation/provider`) are refused: Graph's legacy
//! alert API does not select inside complex properties either. A repeated name is kept once.
//! [`Select::apply`] always keeps `id` (the key, as Graph does) and `@`-annotations
//! (`@odata.type`).

use super::lexer::char_pos;
use super::schema::Schema;
use super::{QueryError, check_length};
use serde_json::Value;

const OPTION: &str = "$select";

/// A parsed, schema-checked `$select`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    names: Vec<&'static str>,
}

/// Parses a `$select` value against `schema`.
pub fn parse_select(text: &str, schema: &'static Schema) -> Result<Select, QueryError> {
    check_length(text, OPTION)?;
    let mut names: Vec<&'static str> = Vec::new();
    let mut offset = 0;
    for item in text.split(',') {
        let start = offset + (item.len() - item.trim_start().len());
        offset += item.len() + 1;
        let name = item.trim();
        let syntax = |message: String| QueryError::Syntax {
            option: OPTION,
            position: char_pos(text, start),
            message,
        };
        if name.is_empty() {
            return Err(syntax(if text.trim().is_empty() {
                "expected at least one property name".into()
            } else {
                "expected a property name between commas".into()
            }));
        }
        if name == "*" {
            for p in schema.properties {
                if !names.contains(&p.name) {
                    names.push(p.name);
                }
            }
            continue;
        }
        if name.contains('/') {
            return Err(QueryError::Invalid {
                option: OPTION,
                position: char_pos(text, start),
                message: format!("'{name}': only top-level properties can be selected"),
            });
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            return Err(syntax(format!(
                "'{name}' is not a property name (unexpected character '{bad}')"
            )));
        }
        let prop = schema
            .property(name)
            .ok_or_else(|| QueryError::UnknownProperty {
                option: OPTION,
                position: char_pos(text, start),
                name: name.to_string(),
                type_name: schema.type_name,
            })?;
        if !names.contains(&prop.name) {
            names.push(prop.name);
        }
    }
    Ok(Select { names })
}

impl Select {
    /// The selected canonical names, in request order (for the context URL).
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Removes every property that is not selected, except `id` and `@`-annotations.
    pub fn apply(&self, item: &mut Value) {
        if let Value::Object(map) = item {
            map.retain(|k, _| k == "id" || k.starts_with('@') || self.names.contains(&k.as_str()));
        }
    }

    /// Canonical text: `assignedTo,severity`.
    pub fn to_odata(&self) -> String {
        self.names.join(",")
    }
}

impl std::fmt::Display for Select {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_odata())
    }
}
