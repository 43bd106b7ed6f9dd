//! Lenient readers for JSON objects, field by field: the independent oracle the property tests
//! check the typed wire formats of [`crate::wire`] against.

use serde_json::{Map, Value};

pub type Object = Map<String, Value>;

/// Parses a reply body as a JSON object.
pub fn object(body: &[u8]) -> Option<Object> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// A non-empty string field.
pub fn string(o: &Object, key: &str) -> Option<String> {
    match o.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A non-negative integer field, given as a number or a numeric string.
pub fn uint(o: &Object, key: &str) -> Option<u64> {
    match o.get(key) {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}
