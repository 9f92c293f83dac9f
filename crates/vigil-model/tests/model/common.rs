//! Helpers shared by the test modules.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::PathBuf;

/// Reads `tests/fixtures/<name>` as a JSON value.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The items of a Graph collection response (`{"value": [...]}`).
pub fn items(v: &Value) -> Vec<Value> {
    v["value"].as_array().expect("a `value` array").clone()
}

/// Parses `v` into `T`, serializes it back, and checks that a second round gives the same
/// bytes (serialization is stable). Returns the typed value and its JSON.
pub fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    v: &Value,
) -> (T, Value) {
    let typed: T = serde_json::from_value(v.clone()).expect("parses");
    let out = serde_json::to_string(&typed).unwrap();
    let again: T = serde_json::from_str(&out).expect("own output parses");
    assert_eq!(again, typed, "parse(serialize(x)) == x");
    assert_eq!(
        serde_json::to_string(&again).unwrap(),
        out,
        "serialization is stable"
    );
    (typed, serde_json::from_str(&out).unwrap())
}

/// True for the values a property takes when the input did not have it: `null`, `[]`, the
/// defaults of non-nullable properties (`""`, `"unknown"`) or an object of such values.
pub fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty() || s == "unknown",
        Value::Object(m) => m.values().all(is_empty_value),
        _ => false,
    }
}

/// Asserts that `output` carries everything `input` had, with equal values, and that every key
/// `output` adds holds an empty value (the explicit `null` / `[]` Graph emits). `path` names the
/// place in error messages.
pub fn assert_preserved(input: &Value, output: &Value, path: &str) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, iv) in i {
                let ov = o
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}/{k} dropped from the output"));
                assert_preserved(iv, ov, &format!("{path}/{k}"));
            }
            for (k, ov) in o {
                if !i.contains_key(k) {
                    assert!(is_empty_value(ov), "{path}/{k} added with a value: {ov}");
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            assert_eq!(i.len(), o.len(), "{path}: array length");
            for (n, (iv, ov)) in i.iter().zip(o).enumerate() {
                assert_preserved(iv, ov, &format!("{path}[{n}]"));
            }
        }
        _ => assert_eq!(input, output, "{path}"),
    }
}
