//! Protocol clients against the emulators over real HTTP(S): what is sent, what is understood.

use std::time::Duration;
use vbm365_auth_core::config::TenantProfile;
use vbm365_auth_core::http::{Http, Timeouts};
use vbm365_auth_core::msid::{IdentityClient, Poll};
use vbm365_auth_core::validate;
use vbm365_auth_core::vbm::VbmClient;
use vbm365_auth_core::ApiVersion;
use vbm365_emulator::{EmulatorOptions, Emulators, Server};

const TENANT: &str = "fabrikam.onmicrosoft.com";

fn profile(emu: &Emulators, v: ApiVersion) -> TenantProfile {
    let mut p = TenantProfile::new(TENANT, &emu.vbm_url()).unwrap();
    p.authority = validate::authority_url(&emu.ms_url()).unwrap();
    p.api_version = v;
    p
}

fn http(emu: &Emulators) -> Http {
    let h = Http::new(
        Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(2),
        },
        &[],
    )
    .unwrap();
    let mut pins = std::collections::BTreeMap::new();
    pins.insert(
        format!(
            "127.0.0.1:{}",
            url::Url::parse(&emu.vbm_url()).unwrap().port().unwrap()
        ),
        vec![emu.cert_sha256()],
    );
    h.pins().replace(&pins);
    h
}

#[tokio::test]
async fn device_code_reply_is_read_with_defaults_for_optional_fields() {
    let emu = Emulators::start(EmulatorOptions {
        device_code_interval: None,
        include_message: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let ms = IdentityClient::new(http(&emu));
    let auth = ms
        .device_code(&profile(&emu, ApiVersion::V8))
        .await
        .unwrap();
    assert_eq!(auth.interval, 5, "RFC 8628: interval defaults to 5 s");
    assert!(auth.message.is_none());
    assert_eq!(
        auth.verification_uri,
        format!("{}/devicelogin", emu.ms_url())
    );
    assert!(
        format!("{auth:?}").contains("[redacted]"),
        "the device code is a secret"
    );
    assert!(!format!("{auth:?}").contains(auth.device_code.expose()));
}

#[tokio::test]
async fn poll_outcomes_from_the_identity_platform() {
    // A 5 s interval: "at once" below has 4.9 s of slack, however loaded the machine. No sleep is
    // needed: only a poll that follows another one of the same code too soon is slow_down.
    let emu = Emulators::start(EmulatorOptions {
        device_code_interval: Some(5),
        ..Default::default()
    })
    .await
    .unwrap();
    let ms = IdentityClient::new(http(&emu));
    let p = profile(&emu, ApiVersion::V8);
    let auth = ms.device_code(&p).await.unwrap();
    let approved = ms.device_code(&p).await.unwrap();
    assert!(matches!(
        ms.poll(&p, &auth.device_code).await,
        Poll::Pending
    ));
    // Polling again at once is too fast: the server says slow_down.
    assert!(matches!(
        ms.poll(&p, &auth.device_code).await,
        Poll::SlowDown
    ));
    // An unknown device code.
    match ms
        .poll(&p, &vbm365_auth_core::DeviceCode::new("not-a-device-code"))
        .await
    {
        Poll::Fatal(e) => assert_eq!(e.code(), "bad_verification_code", "{e}"),
        other => panic!("{other:?}"),
    }
    // Approved: the token reply is kept byte for byte.
    assert!(emu.approve(&approved.user_code));
    match ms.poll(&p, &approved.device_code).await {
        Poll::Done(t) => {
            assert_eq!(t.raw.expose(), emu.ms_token_responses()[0]);
            assert!(t.refresh_token.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn microsoft_refresh_grant_rotates() {
    let emu = Emulators::start(EmulatorOptions {
        device_code_interval: Some(1),
        auto_approve_after_ms: Some(0),
        ..Default::default()
    })
    .await
    .unwrap();
    let ms = IdentityClient::new(http(&emu));
    let p = profile(&emu, ApiVersion::V8);
    let auth = ms.device_code(&p).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let Poll::Done(first) = ms.poll(&p, &auth.device_code).await else {
        panic!("not approved")
    };
    let rt = first.refresh_token.unwrap();
    let second = ms.refresh(&p, &rt).await.unwrap();
    assert_ne!(second.refresh_token.as_ref().unwrap().expose(), rt.expose());
    // Microsoft does not revoke a refresh token when it is used (a reply lost after the rotation
    // can be retried with the old one); a revoked one is refused with `invalid_grant`.
    ms.refresh(&p, &rt).await.unwrap();
    emu.revoke_ms_refresh_tokens();
    let e = ms.refresh(&p, &rt).await.unwrap_err();
    assert_eq!(e.code(), "invalid_grant", "{e}");
    assert_eq!(e.verdict(), vbm365_auth_core::failure::Verdict::Refused);
    let last = emu
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.server == Server::Ms)
        .unwrap();
    let form = last.form();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("grant_type").as_deref(), Some("refresh_token"));
    assert_eq!(
        get("client_id").as_deref(),
        Some("04b07795-8ddb-461a-bbee-02f9e1bf7b46")
    );
    assert_eq!(
        get("scope").as_deref(),
        Some("Directory.AccessAsUser.All User.ReadWrite.All offline_access")
    );
}

#[tokio::test]
async fn vbm_token_endpoint_accepts_both_date_formats_and_tests_the_connection() {
    for fmt in [
        vbm365_emulator::DateFormat::Rfc1123,
        vbm365_emulator::DateFormat::Iso8601,
    ] {
        let emu = Emulators::start(EmulatorOptions {
            date_format: fmt,
            ..Default::default()
        })
        .await
        .unwrap();
        let vbm = VbmClient::new(http(&emu));
        for v in [ApiVersion::V6, ApiVersion::V7, ApiVersion::V8] {
            let p = profile(&emu, v);
            let m = emu.mint_vbm_tokens(TENANT, v.as_str());
            let t = vbm
                .refresh(&p, &vbm365_auth_core::VbmRefreshToken::new(m.refresh_token))
                .await
                .unwrap();
            assert!(t.expires_at > chrono::Utc::now());
            assert!(
                (t.issued_at - chrono::Utc::now()).num_seconds().abs() < 60,
                "{fmt:?}: .issued parsed"
            );
            let si = vbm.service_instance(&p, &t.access_token).await.unwrap();
            assert!(
                si.version.is_some_and(|s| s.starts_with(&v.as_str()[1..])),
                "{v}"
            );
            let e = vbm
                .service_instance(&p, &vbm365_auth_core::VbmAccessToken::new("wrong"))
                .await
                .unwrap_err();
            assert_eq!(e.code(), "server_rejected");
            vbm.logout(&p, &t.access_token).await.unwrap();
        }
    }
}
