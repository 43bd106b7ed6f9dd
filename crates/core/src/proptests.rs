//! Property tests of every parser of untrusted input: the replies of both servers, `config.json`,
//! the vault file, PEM files, the URLs and names users and servers give, and header values. For any
//! input: no panic; bad input is a typed error (its `code()`); what is stored is not changed by a
//! failed read or edit; and what a parser accepts has the shape its callers rely on.
//!
//! 256 cases per property by default (`PROPTEST_CASES` overrides it); the whole set runs in a few
//! seconds in a debug build.

use crate::config::{Config, ConfigStore};
use crate::error::Error;
use crate::failure::{self, Verdict, MAX_RETRY_AFTER};
use crate::http::{describe_non_json, Reply};
use crate::msid::{self, MAX_DEVICE_CODE_LIFETIME, MAX_INTERVAL};
use crate::vault::tests::MemoryKeyStore;
use crate::vault::{Protection, TenantSecrets, Vault, VaultData};
use crate::{tls, validate, vbm};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        // A failure prints its minimal input; nothing is written next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ----- inputs --------------------------------------------------------------------------------

/// Any JSON value, a few levels deep, with the numbers and strings servers get wrong.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,30}".prop_map(Value::String),
        // Terminal escapes, line breaks, NUL and bidi overrides.
        "([a-z ]|\u{1b}\\[2J|[\\x00-\\x1f\\x7f\u{202e}]){0,12}".prop_map(Value::String),
        "[ -]?[0-9]{1,25}(\\.[0-9]{0,3})?( )?".prop_map(Value::String),
        "[A-Za-z0-9._~+/=-]{1,60}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What a reply field normally holds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Number,
    Date,
    OAuthError,
    Uri,
}

/// A value of `kind` as servers send it: mostly well-formed, sometimes of a neighbouring shape.
fn plausible(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Text => prop_oneof![
            4 => "[A-Za-z0-9._~+/=-]{1,60}",
            1 => "([A-Za-z0-9 ]|\u{1b}\\[2J|[\\x00-\\x1f\\x7f\u{202e}]){1,30}",
        ]
        .prop_map(Value::String)
        .boxed(),
        Kind::Number => prop_oneof![
            any::<u32>().prop_map(Value::from),
            (0u64..100_000).prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (0u64..100_000).prop_map(|n| Value::String(n.to_string())),
            (-1e12f64..1e12).prop_map(Value::from),
        ]
        .boxed(),
        Kind::Date => (-2_000_000_000i64..8_000_000_000, 0usize..3)
            .prop_map(|(secs, f)| {
                let t = chrono::DateTime::from_timestamp(secs, 0).unwrap();
                Value::String(match f {
                    0 => t.to_rfc2822(),
                    1 => t.to_rfc3339(),
                    _ => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
                })
            })
            .boxed(),
        Kind::OAuthError => prop_oneof![
            prop::sample::select(vec![
                "invalid_grant",
                "interaction_required",
                "consent_required",
                "authorization_pending",
                "slow_down",
                "expired_token",
                "access_denied",
                "authorization_declined",
                "bad_verification_code",
                "temporarily_unavailable",
                "server_error",
                "invalid_client",
            ])
            .prop_map(Value::from),
            "[a-z_]{1,20}".prop_map(Value::String),
            "([a-z_]|\u{1b}\\[31m|[\\x00-\\x1f]){1,20}".prop_map(Value::String),
        ]
        .boxed(),
        Kind::Uri => prop_oneof![
            Just(Value::from("https://microsoft.com/devicelogin")),
            url_like().prop_map(Value::String),
        ]
        .boxed(),
    }
}

/// A JSON object with each field of `spec` present most of the time, mostly well-formed, plus
/// now and then a field nobody asked for.
fn object_of(spec: &'static [(&'static str, Kind)]) -> impl Strategy<Value = Value> {
    let fields: Vec<_> = spec
        .iter()
        .map(|&(key, kind)| {
            prop::option::weighted(0.85, prop_oneof![6 => plausible(kind), 1 => json_value()])
                .prop_map(move |v| v.map(|v| (key.to_string(), v)))
        })
        .collect();
    let extra = prop::collection::vec(("\\PC{0,8}", json_value()), 0..2);
    (fields, extra).prop_map(|(fields, extra)| {
        Value::Object(fields.into_iter().flatten().chain(extra).collect())
    })
}

/// Reply bodies: arbitrary bytes, any JSON, objects with the expected fields, HTML pages, and
/// now and then any of these cut off.
fn body(spec: &'static [(&'static str, Kind)]) -> impl Strategy<Value = Vec<u8>> {
    let whole = prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..300),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        5 => object_of(spec).prop_map(|v| v.to_string().into_bytes()),
        1 => ("\\PC{0,40}", "\\PC{0,40}").prop_map(|(title, rest)| {
            format!("<html><head><TITLE>{title}</title></head><body>{rest}</body></html>")
                .into_bytes()
        }),
    ];
    (
        whole,
        any::<prop::sample::Index>(),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(b, at, cut)| {
            if cut && !b.is_empty() {
                b[..at.index(b.len())].to_vec()
            } else {
                b
            }
        })
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200u16),
        prop::sample::select(vec![
            400u16, 401, 403, 404, 407, 408, 425, 429, 500, 502, 503, 504
        ]),
        100u16..600,
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("application/json".to_string()),
        Just("application/json; charset=utf-8".to_string()),
        Just("text/html".to_string()),
        // What a header value can hold once read as text (visible ASCII and spaces).
        "[ -~]{0,60}",
    ])
}

fn reply(status: u16, content_type: Option<String>, body: Vec<u8>) -> Reply {
    Reply {
        status,
        content_type,
        body,
        headers: Default::default(),
    }
}

fn reply_with_retry_after(r: Reply, retry_after: Option<String>) -> Reply {
    let mut r = r;
    if let Some(v) = retry_after.and_then(|v| reqwest::header::HeaderValue::from_str(&v).ok()) {
        r.headers.insert(reqwest::header::RETRY_AFTER, v);
    }
    r
}

/// Text shown to a person or written to a log: no control characters (terminal escapes), no
/// bidi overrides (text that shows in another order than it reads).
fn printable(s: &str) -> bool {
    !s.chars().any(|c| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

const DEVICE_CODE_FIELDS: &[(&str, Kind)] = &[
    ("device_code", Kind::Text),
    ("user_code", Kind::Text),
    ("verification_uri", Kind::Uri),
    ("expires_in", Kind::Number),
    ("interval", Kind::Number),
    ("message", Kind::Text),
];
const MS_TOKEN_FIELDS: &[(&str, Kind)] = &[
    ("token_type", Kind::Text),
    ("scope", Kind::Text),
    ("expires_in", Kind::Number),
    ("access_token", Kind::Text),
    ("refresh_token", Kind::Text),
    ("id_token", Kind::Text),
];
const MS_ERROR_FIELDS: &[(&str, Kind)] = &[
    ("error", Kind::OAuthError),
    ("error_description", Kind::Text),
    ("error_codes", Kind::Number),
    ("trace_id", Kind::Text),
];
const VBM_TOKEN_FIELDS: &[(&str, Kind)] = &[
    ("access_token", Kind::Text),
    ("token_type", Kind::Text),
    ("expires_in", Kind::Number),
    ("refresh_token", Kind::Text),
    (".issued", Kind::Date),
    (".expires", Kind::Date),
    ("userName", Kind::Text),
];
const VBM_ERROR_FIELDS: &[(&str, Kind)] = &[
    ("message", Kind::Text),
    ("errorCode", Kind::Text),
    ("error", Kind::OAuthError),
    ("error_description", Kind::Text),
];
const VBM_ERROR_KEYS: &[&str] = &["message", "errorCode", "error", "error_description"];

// ----- Microsoft replies ---------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn device_code_replies_are_read_or_refused_with_a_code(
        status in status(),
        ct in content_type(),
        body in body(DEVICE_CODE_FIELDS),
    ) {
        match msid::device_authorization(&reply(status, ct, body)) {
            Ok(a) => {
                prop_assert_eq!(status, 200);
                prop_assert!(!a.device_code.expose().is_empty());
                prop_assert!(!a.verification_uri.is_empty());
                prop_assert!(a.expires_in <= MAX_DEVICE_CODE_LIFETIME);
                prop_assert!((1..=MAX_INTERVAL).contains(&a.interval), "{}", a.interval);
                // Shown on a terminal: bounded, no escape sequences.
                prop_assert!(printable(&a.user_code) && a.user_code.chars().count() <= 65);
                if let Some(m) = &a.message {
                    prop_assert!(printable(m));
                }
            }
            Err(e) => {
                if status == 200 {
                    prop_assert_eq!(e.code(), "bad_response", "{}", e);
                }
                prop_assert!(printable(&e.to_string()), "{}", e);
            }
        }
    }

    #[test]
    fn device_code_numbers_of_any_type_are_clamped(
        expires_in in prop_oneof![plausible(Kind::Number), json_value()],
        interval in prop_oneof![plausible(Kind::Number), json_value()],
    ) {
        let body = json!({
            "device_code": "dc", "user_code": "ABC", "verification_uri": "https://x/devicelogin",
            "expires_in": expires_in, "interval": interval,
        });
        if let Ok(a) = msid::device_authorization(&reply(200, None, body.to_string().into_bytes())) {
            prop_assert!(a.expires_in <= MAX_DEVICE_CODE_LIFETIME);
            prop_assert!((1..=MAX_INTERVAL).contains(&a.interval));
        }
    }

    #[test]
    fn a_token_reply_is_kept_byte_for_byte_or_refused(body in body(MS_TOKEN_FIELDS)) {
        match msid::token_response(reply(200, None, body.clone())) {
            Ok(t) => {
                // The assertion sent to VBM365 is the reply exactly as received.
                prop_assert_eq!(t.raw.expose().as_bytes(), &body[..]);
                let o: serde_json::Map<String, Value> = serde_json::from_slice(&body).unwrap();
                prop_assert!(o["access_token"].as_str().is_some_and(|s| !s.is_empty()));
                prop_assert_eq!(
                    t.refresh_token.as_ref().map(|s| s.expose().to_string()),
                    o.get("refresh_token").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
                );
            }
            Err(e) => prop_assert_eq!(e.code(), "bad_response", "{}", e),
        }
    }

    #[test]
    fn identity_error_replies_are_classified_by_status_and_error_code(
        status in status(),
        ct in content_type(),
        body in body(MS_ERROR_FIELDS),
        retry_after in prop::option::of("[ -~]{0,40}"),
    ) {
        let r = reply_with_retry_after(reply(status, ct, body.clone()), retry_after);
        let e = msid::identity_error(&r);
        prop_assert!(printable(&e.to_string()), "{}", e);
        let own_error = crate::json::object(&body).is_some_and(|o| crate::json::string(&o, "error").is_some());
        match e.verdict() {
            // A stored Microsoft refresh token is dropped only for Microsoft's own refusal.
            Verdict::Refused => {
                prop_assert!(own_error && !failure::is_transient_status(status), "{:?}", e);
                let identity = matches!(e, Error::Identity { .. });
                prop_assert!(identity, "{:?}", e);
            }
            Verdict::Transient { retry_after } => {
                prop_assert!(retry_after.is_none_or(|d| d <= MAX_RETRY_AFTER));
            }
            Verdict::Persistent => prop_assert!(own_error, "{:?}", e),
        }
        if failure::is_transient_status(status) || !own_error {
            prop_assert!(e.is_transient(), "{status}: {:?}", e);
        }
    }

    #[test]
    fn microsofts_refusals_are_refusals_whatever_else_the_reply_holds(
        error in prop::sample::select(vec!["invalid_grant", "interaction_required", "consent_required"]),
        status in prop::sample::select(vec![400u16, 401]),
        extra in object_of(MS_ERROR_FIELDS),
    ) {
        let mut o = extra.as_object().cloned().unwrap_or_default();
        o.insert("error".into(), Value::from(error));
        let e = msid::identity_error(&reply(status, None, Value::Object(o).to_string().into_bytes()));
        prop_assert_eq!(e.verdict(), Verdict::Refused, "{:?}", e);
    }
}

// ----- VBM365 replies ------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn vbm_token_replies_are_read_or_refused_with_a_code(
        status in status(),
        ct in content_type(),
        body in body(VBM_TOKEN_FIELDS),
    ) {
        let before = chrono::Utc::now();
        match vbm::token_reply(reply(status, ct, body), &["sent-secret-0001"]) {
            Ok(t) => {
                prop_assert_eq!(status, 200);
                prop_assert!(!t.access_token.expose().is_empty());
                prop_assert!(!t.refresh_token.expose().is_empty());
                if let Some(u) = &t.user_name {
                    prop_assert!(printable(u));
                }
            }
            Err(e) => {
                if status == 200 {
                    prop_assert_eq!(e.code(), "bad_response", "{}", e);
                }
                prop_assert!(printable(&e.to_string()), "{}", e);
            }
        }
        prop_assert!(chrono::Utc::now() >= before);
    }

    #[test]
    fn vbm_token_lifetimes_of_any_type_never_overflow(
        expires_in in prop::option::of(json_value()),
        expires in prop::option::of(prop_oneof![json_value(), "\\PC{0,40}".prop_map(Value::String)]),
    ) {
        let mut o = json!({"access_token": "a", "refresh_token": "r"});
        if let Some(v) = expires_in {
            o["expires_in"] = v;
        }
        if let Some(v) = expires {
            o[".expires"] = v;
        }
        let now = chrono::Utc::now();
        if let Ok(t) = vbm::token_reply(reply(200, None, o.to_string().into_bytes()), &[]) {
            // `expires_in` counts from our clock and is capped at ten years.
            if crate::json::uint(o.as_object().unwrap(), "expires_in").is_some() {
                prop_assert!(t.expires_at >= now - chrono::Duration::seconds(5));
                prop_assert!(t.expires_at <= chrono::Utc::now() + chrono::Duration::days(3651));
            }
        }
    }

    #[test]
    fn vbm_error_replies_refuse_tokens_only_with_the_servers_own_refusal(
        status in status().prop_filter("an error", |s| *s != 200),
        ct in content_type(),
        body in body(VBM_ERROR_FIELDS),
        retry_after in prop::option::of("[ -~]{0,40}"),
    ) {
        let r = reply_with_retry_after(reply(status, ct, body.clone()), retry_after);
        let e = vbm::server_error(&r, &[]);
        prop_assert!(printable(&e.to_string()), "{}", e);
        let own = crate::json::object(&body).is_some_and(|o| {
            VBM_ERROR_KEYS.iter().any(|k| crate::json::string(&o, k).is_some())
        });
        let refused = matches!(status, 400 | 401 | 403) && own;
        prop_assert_eq!(e.verdict() == Verdict::Refused, refused, "{}: {:?}", status, e);
        if failure::is_transient_status(status) || !own {
            prop_assert!(e.is_transient(), "{}: {:?}", status, e);
        }
    }

    #[test]
    fn secrets_the_server_echoes_are_redacted(
        secret in "[A-Za-z0-9]{8,60}",
        before in "\\PC{0,30}",
        after in "\\PC{0,30}",
        key in prop::sample::select(VBM_ERROR_KEYS.to_vec()),
        status in prop::sample::select(vec![400u16, 401, 403, 500]),
    ) {
        let body = json!({ key: format!("{before}{secret}{after}") }).to_string();
        let e = vbm::server_error(&reply(status, None, body.into_bytes()), &[secret.as_str()]);
        prop_assert!(!e.to_string().contains(&secret), "{}", e);
    }

    #[test]
    fn dates_never_panic_and_round_trip(s in "\\PC{0,40}", secs in -8_000_000_000i64..8_000_000_000) {
        let _ = vbm::parse_date(&s);
        let t = chrono::DateTime::from_timestamp(secs, 0).unwrap();
        prop_assert_eq!(vbm::parse_date(&t.to_rfc2822()), Some(t));
        prop_assert_eq!(vbm::parse_date(&t.to_rfc3339()), Some(t));
        prop_assert_eq!(vbm::parse_date(&t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()), Some(t));
    }
}

// ----- stored files --------------------------------------------------------------------------

/// A config dir holding `config.json` with `bytes`, private as the product makes it.
fn config_dir_with(bytes: &[u8]) -> (tempfile::TempDir, ConfigStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path());
    std::fs::write(store.path(), bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    (dir, store)
}

/// Usually right, now and then wrong, now and then missing or of another JSON type.
fn field(
    right: impl Strategy<Value = Value> + 'static,
    wrong: impl Strategy<Value = Value> + 'static,
) -> BoxedStrategy<Option<Value>> {
    prop::option::weighted(
        0.98,
        prop_oneof![40 => right, 2 => wrong, 1 => json_value()],
    )
    .boxed()
}

fn text(re: &'static str) -> impl Strategy<Value = Value> {
    re.prop_map(Value::String)
}

/// A tenant of `config.json`, every field of which may be wrong.
fn tenant() -> impl Strategy<Value = Value> {
    let fields = vec![
        field(
            prop_oneof![
                text("[A-Za-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,2}"),
                // The same name twice, in another case: a hand-edited duplicate.
                prop::sample::select(vec!["dup.example", "DUP.example"]).prop_map(Value::from),
            ],
            text("\\PC{0,20}"),
        ),
        field(
            text("https://[a-z]{1,10}(\\.[a-z]{1,5})?(:[0-9]{1,5})?/?"),
            url_like().prop_map(Value::String),
        ),
        field(
            prop::sample::select(vec!["v6", "v7", "v8"]).prop_map(Value::from),
            text("\\PC{0,4}"),
        ),
        field(
            text("https://login\\.[a-z]{1,10}\\.(com|us)(/[a-z]{1,5})?/?"),
            url_like().prop_map(Value::String),
        ),
        field(text("[0-9a-f-]{1,40}"), text("\\PC{0,10}")),
        field(
            text("[A-Za-z.]{1,20}( offline_access)?"),
            text("\\PC{0,10}"),
        ),
        field(any::<bool>().prop_map(Value::from), json_value()),
    ];
    let keys = [
        "name",
        "server",
        "api_version",
        "authority",
        "client_id",
        "scope",
        "remember_ms_sign_in",
    ];
    fields.prop_map(move |values| {
        Value::Object(
            keys.iter()
                .zip(values)
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
        )
    })
}

/// `config.json` texts: arbitrary bytes, any JSON, and configs of which any part may be wrong.
fn config_bytes() -> impl Strategy<Value = Vec<u8>> {
    let partial_settings = prop::collection::btree_map(
        prop::sample::select(vec![
            "auto_refresh",
            "close_to_tray",
            "start_at_login",
            "plaintext_storage",
        ]),
        any::<bool>().prop_map(Value::from),
        0..5,
    )
    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
    let settings = prop_oneof![
        4 => prop::array::uniform4(any::<bool>()).prop_map(|[a, b, c, d]| {
            json!({"auto_refresh": a, "close_to_tray": b, "start_at_login": c, "plaintext_storage": d})
        }),
        1 => partial_settings,
    ];
    let pins = prop::collection::btree_map(
        "[a-z.]{1,10}:[0-9]{1,5}",
        prop::collection::vec(text("[0-9a-f]{64}|\\PC{0,10}"), 0..2),
        0..2,
    )
    .prop_map(|m| json!(m));
    let fields = vec![
        field(
            prop::sample::select(vec![0u32, 1]).prop_map(Value::from),
            (2u32..5).prop_map(Value::from),
        ),
        field(text("[0-9a-f]{32}"), text("\\PC{0,10}")),
        field(text("[A-Za-z0-9.]{1,12}"), text("\\PC{0,10}")),
        field(
            prop::collection::vec(tenant(), 0..4).prop_map(Value::Array),
            json_value(),
        ),
        field(pins, json_value()),
        field(settings, json_value()),
    ];
    let keys = [
        "version",
        "vault_id",
        "active_tenant",
        "tenants",
        "trusted_certificates",
        "settings",
    ];
    let config = fields.prop_map(move |values| {
        Value::Object(
            keys.iter()
                .zip(values)
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
        )
    });
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        6 => config.prop_map(|v| serde_json::to_vec_pretty(&v).unwrap()),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_json_loads_or_is_refused_and_a_failed_edit_changes_nothing(bytes in config_bytes()) {
        let (_dir, store) = config_dir_with(&bytes);
        match store.load() {
            Ok(cfg) => {
                // Every tenant passed the checks of `tenant add`.
                for t in &cfg.tenants {
                    prop_assert!(t.validate().is_ok(), "{:?}", t);
                }
                prop_assert_eq!(std::fs::read(store.path()).unwrap(), bytes.clone(), "a load wrote");
                // An edit that fails leaves the file as it was.
                let e = store.update(|_| -> crate::Result<()> { Err(Error::NoActiveTenant) });
                prop_assert_eq!(e.unwrap_err().code(), "no_active_tenant");
                prop_assert_eq!(std::fs::read(store.path()).unwrap(), bytes.clone());
                // One that succeeds writes what loads back the same (a missing vault id is made
                // up anew on every load until the first write keeps one).
                let (written, ()) = store.update(|_| Ok(())).unwrap();
                prop_assert_eq!(store.load().unwrap(), written.clone());
                let no_id = |c: Config| Config { vault_id: String::new(), ..c };
                prop_assert_eq!(no_id(written), no_id(cfg));
            }
            Err(e) => {
                prop_assert_eq!(e.code(), "config_corrupt", "{}", e);
                prop_assert!(printable(&e.to_string()), "{}", e);
                let edit = store.update(|_| Ok(()));
                prop_assert_eq!(edit.unwrap_err().code(), "config_corrupt");
                prop_assert_eq!(std::fs::read(store.path()).unwrap(), bytes);
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// A real sealed vault (key in an in-memory keystore) with one tenant.
fn sealed_vault(dir: &std::path::Path) -> (Arc<MemoryKeyStore>, Vec<u8>) {
    let ks = Arc::new(MemoryKeyStore::default());
    let v = Vault::new(dir, "vault-id", Protection::Keyring(ks.clone()));
    runtime()
        .block_on(v.update(|d| {
            d.tenants.insert(
                "t".into(),
                TenantSecrets {
                    ms_refresh_token: Some(crate::MsRefreshToken::new("SENTINEL-MS-RT")),
                    generation: 1,
                    ..Default::default()
                },
            );
        }))
        .unwrap();
    let bytes = std::fs::read(v.path()).unwrap();
    (ks, bytes)
}

/// Vault files: arbitrary bytes, with the right header or not, and a real vault damaged.
fn damage() -> impl Strategy<
    Value = (
        usize,
        Vec<(prop::sample::Index, u8)>,
        Option<prop::sample::Index>,
    ),
> {
    (
        0usize..3,
        prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        prop::option::of(any::<prop::sample::Index>()),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_damaged_or_foreign_vault_is_refused_and_left_as_it_is(
        (kind, flips, cut) in damage(),
        noise in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (ks, sealed) = sealed_vault(dir.path());
        let bytes = match kind {
            // Someone else's bytes.
            0 => noise,
            // Our header, then anything.
            1 => [b"VBMVAULT\x01".as_slice(), &noise].concat(),
            // Our vault, bits flipped and/or cut short.
            _ => {
                let mut b = sealed.clone();
                for (at, x) in &flips {
                    let i = at.index(b.len());
                    b[i] ^= x;
                }
                if let Some(at) = cut {
                    b.truncate(at.index(b.len()));
                }
                b
            }
        };
        let path = dir.path().join("vault.bin");
        std::fs::write(&path, &bytes).unwrap();
        let key_before = ks.0.lock().unwrap().clone();
        let v = Vault::new(dir.path(), "vault-id", Protection::Keyring(ks.clone()));
        match v.load() {
            Ok(data) => {
                // Only the untouched vault opens (AES-GCM authenticates every byte).
                prop_assert_eq!(&bytes, &sealed);
                prop_assert!(data.tenants.contains_key("t"));
            }
            Err(e) => {
                prop_assert_eq!(e.code(), "vault_corrupt", "{}", e);
                prop_assert!(!e.to_string().contains("SENTINEL"));
                // A write never replaces a vault it cannot read, nor its key.
                let w = runtime().block_on(v.update(|d| d.tenants.clear()));
                prop_assert_eq!(w.unwrap_err().code(), "vault_corrupt");
                prop_assert_eq!(std::fs::read(&path).unwrap(), bytes);
                prop_assert_eq!(ks.0.lock().unwrap().clone(), key_before);
            }
        }
    }

    #[test]
    fn a_plain_secrets_file_loads_or_is_refused_and_left_as_it_is(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            prop::collection::btree_map(
                "[a-z]{1,5}",
                prop::collection::btree_map(
                    prop::sample::select(vec!["vbm", "ms_refresh_token", "sign_in_required", "generation"]),
                    json_value(),
                    0..3,
                ),
                0..3,
            )
            .prop_map(|t| json!({ "tenants": t }).to_string().into_bytes()),
        ],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::new(dir.path(), "id", Protection::PlainFile);
        std::fs::write(v.path(), &bytes).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(v.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        match v.load() {
            Ok(data) => {
                let back: VaultData = crate::vault::stored::from_json(&bytes).unwrap();
                prop_assert_eq!(data, back);
            }
            Err(e) => {
                prop_assert_eq!(e.code(), "vault_corrupt", "{}", e);
                let w = runtime().block_on(v.update(|d| d.tenants.clear()));
                prop_assert_eq!(w.unwrap_err().code(), "vault_corrupt");
                prop_assert_eq!(std::fs::read(v.path()).unwrap(), bytes);
            }
        }
    }
}

// ----- PEM, URLs, names, pins, header values -------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pem_texts_give_exactly_their_certificates(
        ders in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..3),
        around in prop::collection::vec("\\PC{0,40}", 4),
        noise in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let _ = tls::certificates_in(&noise);
        let mut text = around[0].clone();
        for (i, d) in ders.iter().enumerate() {
            text.push('\n');
            text.push_str(&tls::to_pem(d));
            text.push_str(&around[(i + 1) % around.len()]);
            text.push('\n');
        }
        let got: Vec<Vec<u8>> = tls::certificates_in(text.as_bytes())
            .iter()
            .map(|c| c.as_ref().to_vec())
            .collect();
        // Text around the blocks may itself look like PEM; the real blocks are all found, in order.
        if !around.iter().any(|a| a.contains("-----")) {
            prop_assert_eq!(got, ders);
        }
    }

    #[test]
    fn server_and_authority_urls_are_safe_when_accepted(raw in url_like()) {
        for (kind, parsed) in [
            ("server", validate::server_url(&raw)),
            ("authority", validate::authority_url(&raw)),
        ] {
            match parsed {
                Ok(u) => {
                    prop_assert!(u.scheme() == "https" || (u.scheme() == "http" && validate::is_loopback(&u)), "{kind}: {u}");
                    prop_assert!(u.host().is_some() && u.username().is_empty() && u.password().is_none(), "{kind}: {u}");
                    prop_assert!(u.query().is_none() && u.fragment().is_none(), "{kind}: {u}");
                    prop_assert!(u.path().ends_with('/'), "{kind}: {u}");
                    if kind == "server" {
                        prop_assert_eq!(u.path(), "/");
                    }
                }
                Err(e) => prop_assert_eq!(e.code(), "invalid_input"),
            }
        }
    }

    #[test]
    fn verification_uris_are_safe_to_open_when_accepted(raw in url_like()) {
        match validate::verification_uri(&raw) {
            Ok(u) => {
                prop_assert!(!raw.chars().any(|c| c.is_control() || c == ' '));
                prop_assert!(u.scheme() == "https" || (u.scheme() == "http" && validate::is_loopback(&u)), "{}", u);
                prop_assert!(u.host().is_some() && u.username().is_empty() && u.password().is_none(), "{}", u);
                prop_assert!(!u.as_str().chars().any(|c| c.is_control() || c == ' '));
            }
            Err(e) => {
                prop_assert_eq!(e.code(), "invalid_input");
                prop_assert!(e.to_string().contains("shown as text only"));
            }
        }
    }

    #[test]
    fn pins_are_64_lowercase_hex_digits(
        raw in "\\PC{0,80}",
        bytes in prop::array::uniform32(any::<u8>()),
        upper in any::<bool>(),
        sep in prop::sample::select(vec!["", ":", " "]),
    ) {
        if let Ok(p) = validate::sha256_pin(&raw) {
            prop_assert!(p.len() == 64 && p.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        } else {
            prop_assert_eq!(validate::sha256_pin(&raw).unwrap_err().code(), "invalid_input");
        }
        let hex = hex::encode(bytes);
        let pairs: Vec<String> = hex.as_bytes().chunks(2).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
        let written = pairs.join(sep);
        let written = if upper { written.to_ascii_uppercase() } else { written };
        prop_assert_eq!(validate::sha256_pin(&written).unwrap(), hex);
    }

    #[test]
    fn tenant_names_are_domain_shaped_when_accepted(
        raw in prop_oneof!["\\PC{0,60}", "[ ]?[A-Za-z0-9.-]{0,300}[ ]?"],
    ) {
        match validate::tenant_name(&raw) {
            Ok(n) => {
                prop_assert_eq!(n.as_str(), raw.trim(), "kept as typed");
                prop_assert!(!n.is_empty() && n.len() <= 253);
                prop_assert!(n.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
                prop_assert!(!n.starts_with(['.', '-']) && !n.ends_with(['.', '-']) && !n.contains(".."));
            }
            Err(e) => prop_assert_eq!(e.code(), "invalid_input"),
        }
    }

    #[test]
    fn retry_after_is_bounded_and_reads_seconds_and_dates(
        raw in "\\PC{0,40}",
        digits in "[0-9]{1,40}",
        ahead in -1_000_000i64..1_000_000,
    ) {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        if let Some(d) = failure::retry_after(&raw, now) {
            prop_assert!(d <= MAX_RETRY_AFTER);
        }
        let want = digits.parse::<u64>().map_or(MAX_RETRY_AFTER, |s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        prop_assert_eq!(failure::retry_after(&digits, now), Some(want));
        let at = now + chrono::Duration::seconds(ahead);
        let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let want = Duration::from_secs(ahead.max(0) as u64).min(MAX_RETRY_AFTER);
        prop_assert_eq!(failure::retry_after(&date, now), Some(want));
    }

    #[test]
    fn seconds_from_the_environment_are_finite_and_in_range(
        raw in prop_oneof![
            "\\PC{0,20}",
            any::<f64>().prop_map(|f| f.to_string()),
            "[-+]?(inf|infinity|nan|NaN|[0-9]{1,400}(\\.[0-9]{0,5})?(e[-+]?[0-9]{1,4})?)",
        ],
        max_secs in 0u64..100_000,
    ) {
        let max = Duration::from_secs(max_secs);
        match failure::parse_seconds(&raw, max) {
            Some(d) => {
                prop_assert!(d <= max);
                let f: f64 = raw.trim().parse().unwrap();
                prop_assert!(f.is_finite() && f >= 0.0);
            }
            None => {
                if let Ok(f) = raw.trim().parse::<f64>() {
                    prop_assert!(!f.is_finite() || f < 0.0 || f > max.as_secs_f64(), "{} refused", f);
                }
            }
        }
    }

    #[test]
    fn non_json_replies_are_described_without_their_bytes(
        ct in content_type(),
        secret in "[A-Za-z0-9]{20,40}",
        body in prop::collection::vec(any::<u8>(), 0..300),
        title in prop::option::of("\\PC{0,300}"),
    ) {
        let d = describe_non_json(&reply(200, ct.clone(), body.clone()));
        prop_assert!(printable(&d), "{}", d);
        // A body without a title: only its size and type are told, never its text.
        let with_secret = [body.clone(), secret.clone().into_bytes(), body].concat();
        let d = describe_non_json(&reply(500, ct.clone(), with_secret));
        if !d.contains("titled") {
            prop_assert!(!d.contains(&secret), "{}", d);
        }
        if let Some(t) = title {
            let page = format!("<html><title>{t}</title><body>{secret}</body></html>");
            let d = describe_non_json(&reply(502, ct, page.into_bytes()));
            prop_assert!(printable(&d) && !d.contains(&secret), "{}", d);
            // The title is bounded however long it is.
            prop_assert!(d.chars().count() <= 160, "{}", d);
        }
    }
}

/// URL-shaped strings: real URLs with every part varied, and arbitrary text.
fn url_like() -> impl Strategy<Value = String> {
    let url = (
        prop_oneof![
            6 => Just("https"),
            2 => Just("http"),
            1 => prop::sample::select(vec!["HTTPS", "ftp", "javascript", "file", ""]),
        ],
        prop::option::weighted(0.1, "[a-z]{1,8}(:[a-z]{0,8})?@"),
        prop_oneof![
            4 => "[a-z0-9]{1,10}(\\.[a-z0-9-]{1,10}){0,2}",
            2 => prop::sample::select(vec!["localhost", "127.0.0.1", "[::1]", "127.9.9.9", "10.0.0.1"])
                .prop_map(str::to_string),
            1 => "[a-z0-9.-]{0,20}",
            1 => "\\PC{0,10}",
        ],
        prop::option::weighted(0.3, 0u32..70000),
        prop_oneof![4 => Just(String::new()), 2 => Just("/".to_string()), 1 => "/[a-z/]{0,10}", 1 => "\\PC{0,10}"],
        prop::option::weighted(0.1, "[a-z=&]{0,8}"),
        prop::option::weighted(0.1, "[a-z]{0,8}"),
        prop_oneof![8 => Just(""), 1 => Just(" "), 1 => Just("\t"), 1 => Just("\u{1b}[2J")],
    )
        .prop_map(|(scheme, userinfo, host, port, path, query, fragment, junk)| {
            let mut s = format!("{scheme}://{}{host}", userinfo.unwrap_or_default());
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            s.push_str(&path);
            if let Some(q) = query {
                s.push_str(&format!("?{q}"));
            }
            if let Some(f) = fragment {
                s.push_str(&format!("#{f}"));
            }
            s.push_str(junk);
            s
        });
    prop_oneof![4 => url, 1 => "\\PC{0,60}"]
}
