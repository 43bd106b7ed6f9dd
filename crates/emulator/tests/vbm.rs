//! The VBM365 REST emulator over real HTTPS: the JWT bearer exchange, refresh rotation,
//! antiforgery binding, logout, ServiceInstance, Health and error shapes.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use vbm365_emulator::{DateFormat, EmulatorOptions};

fn assert_rest_error(r: &Reply, status: StatusCode, needle: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.text);
    let v = r.json();
    let msg = v["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {}", r.text));
    assert!(msg.to_lowercase().contains(&needle.to_lowercase()), "{msg}");
    v
}

#[tokio::test]
async fn jwt_bearer_exchange_then_service_instance() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let t = vbm_sign_in(&c, &emu, TENANT, "v8").await;
    assert_eq!(t["token_type"], "bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["userName"], "admin@contoso.onmicrosoft.com");
    let at = t["access_token"].as_str().expect("access_token");
    assert!(at.len() > 300 && at.starts_with("AQAAANCMnd8BFdERjHoAwE_Cl-sBAAAA"));
    assert!(t["refresh_token"].as_str().is_some_and(|r| r.len() > 300));
    let issued = chrono::DateTime::parse_from_rfc2822(t[".issued"].as_str().expect(".issued"))
        .expect("RFC 1123");
    let expires = chrono::DateTime::parse_from_rfc2822(t[".expires"].as_str().expect(".expires"))
        .expect("RFC 1123");
    assert_eq!((expires - issued).num_seconds(), 3600);
    assert!(t[".issued"].as_str().unwrap_or_default().ends_with(" GMT"));

    let si = service_instance(&c, &emu, "v8", Some(at)).await;
    assert_eq!(si.status, StatusCode::OK, "{}", si.text);
    assert!(si.json()["version"]
        .as_str()
        .is_some_and(|v| v.starts_with("8.1.2.")));
    assert!(si.json()["installationId"]
        .as_str()
        .is_some_and(|v| v.len() == 36));
    for (v, major) in [("v6", "6."), ("v7", "7.")] {
        let si = service_instance(&c, &emu, v, Some(at)).await;
        assert!(
            si.json()["version"]
                .as_str()
                .is_some_and(|s| s.starts_with(major)),
            "{}",
            si.text
        );
    }
    // Without, with a wrong or with a Basic token: 401.
    for token in [None, Some("wrong")] {
        let r = service_instance(&c, &emu, "v8", token).await;
        assert_rest_error(
            &r,
            StatusCode::UNAUTHORIZED,
            "Authorization has been denied for this request.",
        );
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let stats = emu.stats();
    assert_eq!(stats.get("vbm_jwt_bearer"), Some(&1));
    assert_eq!(stats.get("vbm_service_instance"), Some(&5));
}

#[tokio::test]
async fn json_bodies_and_iso_dates_are_accepted() {
    let emu = start(EmulatorOptions {
        date_format: DateFormat::Iso8601,
        ..fast()
    })
    .await;
    let c = client(&emu);
    let assertion = ms_sign_in(&c, &emu, TENANT).await;
    let body = serde_json::json!({
        "grant_type": JWT_BEARER,
        "client_id": TENANT.to_uppercase(),
        "assertion": assertion,
        "disable_antiforgery_token": true,
    });
    let r = Reply::from(
        c.post(format!("{}/v7/token", emu.vbm_url()))
            .json(&body)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t = r.json();
    assert!(
        chrono::DateTime::parse_from_rfc3339(t[".issued"].as_str().unwrap_or_default()).is_ok(),
        "{t}"
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(t[".expires"].as_str().unwrap_or_default()).is_ok()
    );
    assert!(r.header("set-cookie").is_none());
    // Other media types are refused like ASP.NET does.
    let r = Reply::from(
        c.post(format!("{}/v8/token", emu.vbm_url()))
            .header("content-type", "text/plain")
            .body("grant_type=refresh_token")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
}

#[tokio::test]
async fn refresh_rotates_and_refuses_reuse_and_revoked_tokens() {
    let emu = start(fast()).await;
    let c = client(&emu);
    for version in ["v6", "v7", "v8"] {
        let tenant = format!("{version}.onmicrosoft.com");
        let t = vbm_sign_in(&c, &emu, &tenant, version).await;
        let rt1 = t["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_string();
        let refresh = |rt: String| {
            let c = c.clone();
            let emu_url = emu.vbm_url();
            async move {
                post_form(
                    &c,
                    &format!("{emu_url}/{version}/token"),
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &rt),
                        ("disable_antiforgery_token", "true"),
                    ],
                )
                .await
            }
        };
        let r = refresh(rt1.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{version}: {}", r.text);
        let t2 = r.json();
        assert_eq!(t2["userName"], format!("admin@{tenant}"));
        assert_ne!(t2["access_token"], t["access_token"]);
        let rt2 = t2["refresh_token"].as_str().expect("rotated").to_string();
        assert_ne!(rt1, rt2);
        assert_rest_error(
            &refresh(rt1).await,
            StatusCode::BAD_REQUEST,
            "Invalid refresh token.",
        );
        // The old access token stays valid until it expires, the new one works too.
        let si = service_instance(&c, &emu, version, t2["access_token"].as_str()).await;
        assert_eq!(si.status, StatusCode::OK);
        emu.revoke_vbm_refresh_tokens();
        assert_rest_error(
            &refresh(rt2).await,
            StatusCode::BAD_REQUEST,
            "Invalid refresh token.",
        );
    }
    // Minted pairs refresh like signed-in ones.
    let m = emu.mint_vbm_tokens("bench0.onmicrosoft.com", "v8");
    assert_eq!(m.expires_in, 3600);
    let r = vbm_token(
        &c,
        &emu,
        "v8",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &m.refresh_token),
            ("disable_antiforgery_token", "true"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(emu.stats().get("vbm_refresh"), Some(&10));
}

#[tokio::test]
async fn antiforgery_binds_refresh_tokens_on_v7_and_v8_unless_disabled() {
    let emu = start(fast()).await;
    let c = client(&emu);
    for version in ["v7", "v8"] {
        let assertion = ms_sign_in(&c, &emu, TENANT).await;
        let r = vbm_token(
            &c,
            &emu,
            version,
            &[
                ("grant_type", JWT_BEARER),
                ("client_id", TENANT),
                ("assertion", &assertion),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let cookie = r
            .header("set-cookie")
            .expect("antiforgery cookie")
            .to_string();
        assert!(
            cookie.starts_with(".AspNetCore.Antiforgery.vbm="),
            "{cookie}"
        );
        assert!(
            cookie.ends_with("; path=/; secure; samesite=strict; httponly"),
            "{cookie}"
        );
        let pair = cookie.split(';').next().unwrap_or_default().to_string();
        let rt = r.json()["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("disable_antiforgery_token", "true"),
        ];
        // Without the cookie (even asking to disable antiforgery now): refused, token not consumed.
        let r = vbm_token(&c, &emu, version, &form).await;
        assert_rest_error(
            &r,
            StatusCode::BAD_REQUEST,
            "antiforgery token could not be decrypted",
        );
        let r = Reply::from(
            c.post(format!("{}/{version}/token", emu.vbm_url()))
                .header("cookie", ".AspNetCore.Antiforgery.vbm=forged")
                .form(&form)
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "a wrong cookie is refused"
        );
        let r = Reply::from(
            c.post(format!("{}/{version}/token", emu.vbm_url()))
                .header("cookie", format!("other=1; {pair}"))
                .form(&form)
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{version}: {}", r.text);
        assert!(
            r.header("set-cookie").is_none(),
            "disabled for the new pair"
        );
    }
    // v6 has no antiforgery at all.
    let assertion = ms_sign_in(&c, &emu, TENANT).await;
    let r = vbm_token(
        &c,
        &emu,
        "v6",
        &[
            ("grant_type", JWT_BEARER),
            ("client_id", TENANT),
            ("assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("set-cookie").is_none());
    let rt = r.json()["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = vbm_token(
        &c,
        &emu,
        "v6",
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn assertions_are_checked() {
    let emu = start(EmulatorOptions {
        known_organizations: Some(vec![TENANT.into(), "other.onmicrosoft.com".into()]),
        ..fast()
    })
    .await;
    let c = client(&emu);
    let assertion = ms_sign_in(&c, &emu, TENANT).await;
    let exchange = |client_id: &'static str, assertion: String| {
        let c = c.clone();
        let url = format!("{}/v8/token", emu.vbm_url());
        async move {
            post_form(
                &c,
                &url,
                &[
                    ("grant_type", JWT_BEARER),
                    ("client_id", client_id),
                    ("assertion", &assertion),
                    ("disable_antiforgery_token", "true"),
                ],
            )
            .await
        }
    };
    assert_rest_error(
        &exchange("nobody.onmicrosoft.com", assertion.clone()).await,
        StatusCode::BAD_REQUEST,
        "Organization nobody.onmicrosoft.com was not found.",
    );
    // Organization names are matched case-sensitively.
    assert_rest_error(
        &exchange("Contoso.onmicrosoft.com", assertion.clone()).await,
        StatusCode::BAD_REQUEST,
        "Organization Contoso.onmicrosoft.com was not found.",
    );
    assert_rest_error(
        &exchange("other.onmicrosoft.com", assertion.clone()).await,
        StatusCode::BAD_REQUEST,
        "not issued for organization",
    );
    assert_rest_error(
        &exchange(TENANT, "not json".into()).await,
        StatusCode::BAD_REQUEST,
        "not a valid JSON",
    );
    assert_rest_error(
        &exchange(TENANT, "{}".into()).await,
        StatusCode::BAD_REQUEST,
        "no access token",
    );
    assert_rest_error(
        &exchange(TENANT, r#"{"access_token":"forged"}"#.into()).await,
        StatusCode::BAD_REQUEST,
        "not issued by the Microsoft identity platform",
    );
    let r = post_form(
        &c,
        &format!("{}/v8/token", emu.vbm_url()),
        &[("grant_type", JWT_BEARER), ("assertion", &assertion)],
    )
    .await;
    assert_eq!(
        assert_rest_error(&r, StatusCode::BAD_REQUEST, "client_id")["errorCode"],
        "ParameterValidationFailure"
    );
    assert_eq!(exchange(TENANT, assertion).await.status, StatusCode::OK);

    // An expired Microsoft token is refused.
    let emu = start(EmulatorOptions {
        ms_token_lifetime: 0,
        ..fast()
    })
    .await;
    let c = client(&emu);
    let assertion = ms_sign_in(&c, &emu, TENANT).await;
    let r = vbm_token(
        &c,
        &emu,
        "v8",
        &[
            ("grant_type", JWT_BEARER),
            ("client_id", TENANT),
            ("assertion", &assertion),
        ],
    )
    .await;
    assert_rest_error(&r, StatusCode::BAD_REQUEST, "expired");
}

#[tokio::test]
async fn tenant_authentication_disabled() {
    let emu = start(EmulatorOptions {
        tenant_auth_enabled: false,
        ..fast()
    })
    .await;
    let c = client(&emu);
    let assertion = ms_sign_in(&c, &emu, TENANT).await;
    let form = [
        ("grant_type", JWT_BEARER),
        ("client_id", TENANT),
        ("assertion", assertion.as_str()),
        ("disable_antiforgery_token", "true"),
    ];
    for version in ["v6", "v7", "v8"] {
        let r = vbm_token(&c, &emu, version, &form).await;
        assert_rest_error(
            &r,
            StatusCode::BAD_REQUEST,
            "tenant authentication is disabled",
        );
    }
    emu.set_tenant_auth_enabled(true);
    assert_eq!(
        vbm_token(&c, &emu, "v8", &form).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn grant_errors_carry_error_codes_only_where_the_schema_has_them() {
    let emu = start(fast()).await;
    let c = client(&emu);
    for (version, code) in [
        ("v6", None),
        ("v7", None),
        ("v8", Some("ParameterValidationFailure")),
    ] {
        let r = vbm_token(&c, &emu, version, &[("client_id", TENANT)]).await;
        let v = assert_rest_error(&r, StatusCode::BAD_REQUEST, "grant_type");
        assert_eq!(v["errorCode"].as_str(), code, "{version}");
        let r = vbm_token(&c, &emu, version, &[("grant_type", "magic")]).await;
        let v = assert_rest_error(&r, StatusCode::BAD_REQUEST, "not supported");
        assert_eq!(v["errorCode"].as_str(), code, "{version}");
        let r = vbm_token(
            &c,
            &emu,
            version,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("disable_antiforgery_token", "maybe"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let r = vbm_token(&c, &emu, "v8", &[("grant_type", "refresh_token")]).await;
    assert_rest_error(&r, StatusCode::BAD_REQUEST, "refresh_token");
    let r = vbm_token(
        &c,
        &emu,
        "v8",
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
    )
    .await;
    assert_rest_error(
        &r,
        StatusCode::BAD_REQUEST,
        "Invalid user name or password.",
    );
}

#[tokio::test]
async fn logout_revokes_the_pair_where_the_version_has_it() {
    let emu = start(fast()).await;
    let c = client(&emu);
    for (version, status) in [("v7", StatusCode::OK), ("v8", StatusCode::NO_CONTENT)] {
        let t = vbm_sign_in(&c, &emu, TENANT, version).await;
        let at = t["access_token"].as_str().unwrap_or_default();
        let url = format!("{}/{version}/token/logout", emu.vbm_url());
        let r = Reply::from(c.post(&url).send().await.expect("request")).await;
        assert_rest_error(&r, StatusCode::UNAUTHORIZED, "denied");
        let r = Reply::from(c.post(&url).bearer_auth(at).send().await.expect("request")).await;
        assert_eq!(r.status, status, "{version}: {}", r.text);
        assert_eq!(
            service_instance(&c, &emu, version, Some(at)).await.status,
            StatusCode::UNAUTHORIZED
        );
        let r = vbm_token(
            &c,
            &emu,
            version,
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    t["refresh_token"].as_str().unwrap_or_default(),
                ),
                ("disable_antiforgery_token", "true"),
            ],
        )
        .await;
        assert_rest_error(&r, StatusCode::BAD_REQUEST, "Invalid refresh token.");
        let r = Reply::from(c.post(&url).bearer_auth(at).send().await.expect("request")).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "a revoked token cannot log out again"
        );
    }
    // v6 has no logout route at all.
    let t = vbm_sign_in(&c, &emu, TENANT, "v6").await;
    let r = Reply::from(
        c.post(format!("{}/v6/token/logout", emu.vbm_url()))
            .bearer_auth(t["access_token"].as_str().unwrap_or_default())
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_rest_error(&r, StatusCode::NOT_FOUND, "No HTTP resource was found");
    assert_eq!(
        service_instance(&c, &emu, "v6", t["access_token"].as_str())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn expired_access_tokens_are_refused() {
    let emu = start(EmulatorOptions {
        vbm_token_lifetime: 0,
        ..fast()
    })
    .await;
    let c = client(&emu);
    let t = vbm_sign_in(&c, &emu, TENANT, "v8").await;
    assert_eq!(t["expires_in"], 0);
    let si = service_instance(&c, &emu, "v8", t["access_token"].as_str()).await;
    assert_eq!(si.status, StatusCode::UNAUTHORIZED);
    emu.set_vbm_token_lifetime(60);
    let m = emu.mint_vbm_tokens(TENANT, "v8");
    assert_eq!(m.expires_in, 60);
    assert_eq!(
        service_instance(&c, &emu, "v8", Some(&m.access_token))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn health_routes_and_not_found() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let get = |path: &'static str| {
        let c = c.clone();
        let url = format!("{}{path}", emu.vbm_url());
        async move { Reply::from(c.get(url).send().await.expect("request")).await }
    };
    let h = get("/v8/Health").await;
    assert_eq!(h.status, StatusCode::OK);
    let v = h.json();
    assert_eq!(v["status"], "Healthy");
    assert!(v["entries"]
        .as_object()
        .is_some_and(|e| !e.is_empty() && e.values().all(|x| x["status"] == "Healthy")));
    assert_eq!(
        get("/V8/health/").await.status,
        StatusCode::OK,
        "routes ignore case and a trailing slash"
    );
    for path in [
        "/v7/Health",
        "/v6/Health",
        "/v9/token",
        "/",
        "/v8/Nothing",
        "/v8",
    ] {
        let r = get(path).await;
        assert_rest_error(&r, StatusCode::NOT_FOUND, "No HTTP resource");
    }
    let r = get("/v8/Nothing").await;
    assert_eq!(r.json()["errorCode"], "ResourceNotFound");
    let r = get("/v8/token").await;
    assert_rest_error(
        &r,
        StatusCode::METHOD_NOT_ALLOWED,
        "does not support http method 'GET'",
    );
    // Control calls are not recorded; everything else is.
    assert!(emu.requests().iter().all(|r| r.method == "GET"));
    assert_eq!(emu.requests().len(), 10);
}

#[tokio::test]
async fn a_ca_issued_certificate_verifies_against_that_ca() {
    assert_eq!(start(fast()).await.ca_pem(), None, "self-signed by default");
    let emu = start(EmulatorOptions {
        ca_issued: true,
        ..fast()
    })
    .await;
    let ca = emu.ca_pem().expect("the CA's PEM");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let trusting_the_ca = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).expect("PEM"))
        .build()
        .expect("HTTP client");
    // The TLS handshake succeeds and the server answers (401: no token sent).
    let r = service_instance(&trusting_the_ca, &emu, "v8", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // The leaf is not self-signed any more: trusting it alone as a root fails the handshake.
    let err = client(&emu)
        .get(format!("{}/v8/ServiceInstance", emu.vbm_url()))
        .send()
        .await
        .expect_err("the leaf is not its own issuer");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
}
