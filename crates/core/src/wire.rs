//! Typed wire formats of both services' replies, lenient where servers are: a number may come as
//! a string, an empty or wrongly typed field counts as absent (and the caller then names what is
//! missing), unknown fields are ignored. Parsing never panics; a body that is not a JSON object
//! is `None`, and the caller says what it was instead.

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

/// The body as `T` if it is a JSON object (an array or a scalar is not a reply of these services).
pub(crate) fn object<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => serde_json::from_value(v).ok(),
        _ => None,
    }
}

/// A field that counts only as a non-empty string.
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if !s.is_empty() => Some(s),
        _ => None,
    })
}

/// A non-negative integer, given as a number or a numeric string (a fractional or huge number
/// saturates; anything else counts as absent).
pub(crate) fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// The first integer of an array (Microsoft's `error_codes`).
pub(crate) fn first_code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(a) => a
            .first()
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "text")]
        s: Option<String>,
        #[serde(default, deserialize_with = "number")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "first_code")]
        codes: Option<u32>,
    }

    #[test]
    fn lenient_fields() {
        let p: Probe = object(br#"{"s":"x","n":"42","codes":[70016,1],"extra":true}"#).unwrap();
        assert_eq!(
            (p.s.as_deref(), p.n, p.codes),
            (Some("x"), Some(42), Some(70016))
        );
        let p: Probe = object(br#"{"s":"","n":"forty","codes":"70016"}"#).unwrap();
        assert_eq!((p.s, p.n, p.codes), (None, None, None));
        let p: Probe = object(br#"{"s":42,"n":1e30}"#).unwrap();
        assert_eq!((p.s, p.n), (None, Some(u64::MAX)));
        assert!(object::<Probe>(b"[\"x\", 1]").is_none());
        assert!(object::<Probe>(b"not json").is_none());
    }
}
