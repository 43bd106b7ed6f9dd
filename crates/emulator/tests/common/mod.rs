//! Shared helpers: an HTTP client that trusts the emulator certificate, and protocol shortcuts.

#![allow(dead_code)]

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use std::time::Duration;
use vbm365_emulator::{EmulatorOptions, Emulators};

pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
pub const SCOPE: &str = "Directory.AccessAsUser.All User.ReadWrite.All offline_access";
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Fast options for tests: 1 s poll interval.
pub fn fast() -> EmulatorOptions {
    EmulatorOptions {
        device_code_interval: Some(1),
        ..EmulatorOptions::default()
    }
}

pub async fn start(opts: EmulatorOptions) -> Emulators {
    Emulators::start(opts).await.expect("emulators start")
}

/// A client that trusts only what it must: the emulator's self-signed certificate.
pub fn client(emu: &Emulators) -> Client {
    let cert = reqwest::Certificate::from_der(&emu.cert_der()).expect("DER certificate");
    Client::builder()
        .add_root_certificate(cert)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// A response's status, headers and body as text.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn from(res: Response) -> Reply {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        Reply {
            status,
            headers,
            text,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn post_form(c: &Client, url: &str, form: &[(&str, &str)]) -> Reply {
    Reply::from(c.post(url).form(form).send().await.expect("request")).await
}

/// Requests a device code for `tenant` with the default client and scope.
pub async fn device_code(c: &Client, emu: &Emulators, tenant: &str) -> Value {
    let r = post_form(
        c,
        &format!("{}/{tenant}/oauth2/v2.0/devicecode", emu.ms_url()),
        &[("client_id", CLIENT_ID), ("scope", SCOPE)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

/// One device code poll.
pub async fn poll(c: &Client, emu: &Emulators, tenant: &str, device_code: &str) -> Reply {
    post_form(
        c,
        &format!("{}/{tenant}/oauth2/v2.0/token", emu.ms_url()),
        &[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", CLIENT_ID),
            ("device_code", device_code),
        ],
    )
    .await
}

/// A Microsoft token response body (the assertion) for `tenant`, through the real flow.
pub async fn ms_sign_in(c: &Client, emu: &Emulators, tenant: &str) -> String {
    let dc = device_code(c, emu, tenant).await;
    assert!(emu.approve(dc["user_code"].as_str().expect("user_code")));
    let r = poll(
        c,
        emu,
        tenant,
        dc["device_code"].as_str().expect("device_code"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.text
}

/// `POST {vbm}/{version}/token` with a form.
pub async fn vbm_token(c: &Client, emu: &Emulators, version: &str, form: &[(&str, &str)]) -> Reply {
    post_form(c, &format!("{}/{version}/token", emu.vbm_url()), form).await
}

/// Signs `tenant` in at the VBM365 emulator (antiforgery disabled on v7/v8); the token response.
pub async fn vbm_sign_in(c: &Client, emu: &Emulators, tenant: &str, version: &str) -> Value {
    let assertion = ms_sign_in(c, emu, tenant).await;
    let r = vbm_token(
        c,
        emu,
        version,
        &[
            ("grant_type", JWT_BEARER),
            ("client_id", tenant),
            ("assertion", &assertion),
            ("disable_antiforgery_token", "true"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

/// `GET {vbm}/{version}/ServiceInstance` with an optional bearer token.
pub async fn service_instance(
    c: &Client,
    emu: &Emulators,
    version: &str,
    token: Option<&str>,
) -> Reply {
    let mut req = c.get(format!("{}/{version}/ServiceInstance", emu.vbm_url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Reply::from(req.send().await.expect("request")).await
}
