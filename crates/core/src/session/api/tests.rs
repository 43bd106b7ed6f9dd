//! Tests of `api`: targets, methods, headers.

use super::*;
use crate::config::ApiVersion;

fn profile(server: &str, v: ApiVersion) -> TenantProfile {
    let mut p = TenantProfile::new("a.onmicrosoft.com", server).unwrap();
    p.api_version = v;
    p
}

#[test]
fn targets_resolve_on_the_tenants_server_only() {
    let p = profile("https://vbm.example:4443", ApiVersion::V8);
    let q = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let cases = [
        (
            "Organizations",
            vec![],
            "https://vbm.example:4443/v8/Organizations",
        ),
        (
            "/Jobs?limit=5",
            q("offset", "10"),
            "https://vbm.example:4443/v8/Jobs?limit=5&offset=10",
        ),
        ("/v7/Jobs", vec![], "https://vbm.example:4443/v7/Jobs"),
        (
            "V6/ServiceInstance",
            vec![],
            "https://vbm.example:4443/V6/ServiceInstance",
        ),
        (
            "https://VBM.example:4443/v8/Jobs#x",
            vec![],
            "https://vbm.example:4443/v8/Jobs",
        ),
        ("vm/x", vec![], "https://vbm.example:4443/v8/vm/x"),
    ];
    for (target, query, want) in cases {
        assert_eq!(
            target_url(&p, target, &query).unwrap().as_str(),
            want,
            "{target}"
        );
    }
    for bad in [
        "https://evil.example:4443/v8/Jobs",
        "https://vbm.example:4444/v8/Jobs",
        "http://vbm.example:4443/v8/Jobs",
        "",
        "Jobs x",
        "Jobs\n?x=1",
    ] {
        let e = target_url(&p, bad, &[]).unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{bad:?}");
    }
    let e = target_url(&p, "https://evil.example/v8/Jobs", &[]).unwrap_err();
    assert!(e.to_string().contains("sends its token only there"), "{e}");
}

#[test]
fn methods_and_headers_are_checked() {
    assert_eq!(method("").unwrap(), reqwest::Method::GET);
    assert_eq!(method("patch").unwrap(), reqwest::Method::PATCH);
    assert!(method("GET /x").is_err());
    let h = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    for bad in [
        h("Authorization", "Bearer x"),
        h("host", "x"),
        h("bad name", "x"),
        h("X-A", "a\nb"),
    ] {
        assert_eq!(
            headers(&bad, false).unwrap_err().code(),
            "invalid_input",
            "{bad:?}"
        );
    }
    let out = headers(&h("Accept", "text/csv"), true).unwrap();
    let names: Vec<_> = out
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        ["accept: text/csv", "content-type: application/json"]
    );
}

/// Bug caught: `first[..1]` panicked when the path began with a multi-byte character
/// (`vbm365-auth api éJobs`).
#[test]
fn a_path_may_begin_with_any_character() {
    let p = profile("https://vbm.example:4443", ApiVersion::V8);
    for (target, want) in [
        ("\u{e9}Jobs", "https://vbm.example:4443/v8/%C3%A9Jobs"),
        ("/\u{1f600}", "https://vbm.example:4443/v8/%F0%9F%98%80"),
        ("\u{17f}8/Jobs", "https://vbm.example:4443/v8/%C5%BF8/Jobs"),
        ("v", "https://vbm.example:4443/v8/v"),
        ("v8x/Jobs", "https://vbm.example:4443/v8/v8x/Jobs"),
    ] {
        assert_eq!(
            target_url(&p, target, &[]).unwrap().as_str(),
            want,
            "{target}"
        );
    }
}
