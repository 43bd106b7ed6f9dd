//! Start-up options of the emulators.

use serde::{Deserialize, Serialize};

/// How the VBM365 emulator writes the `.issued` and `.expires` fields of a token response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateFormat {
    /// RFC 1123, as in the seed document: `Mon, 13 Dec 2021 13:18:43 GMT`.
    #[default]
    Rfc1123,
    /// ISO 8601 / RFC 3339 date-time, as the OpenAPI schema says: `2021-12-13T13:18:43Z`.
    Iso8601,
}

impl std::str::FromStr for DateFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "rfc1123" => Ok(DateFormat::Rfc1123),
            "iso8601" => Ok(DateFormat::Iso8601),
            other => Err(format!(
                "unknown date format '{other}' (expected rfc1123 or iso8601)"
            )),
        }
    }
}

/// How the Restore Portal's application is registered in the emulated Microsoft Entra ID: what a
/// restore operator's sign-in through VBM365 Auth (a desktop app, so a public client) meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortalAppRegistration {
    /// "Allow public client flows" on and `http://localhost` registered as a mobile and desktop
    /// redirect: the device code and the browser sign-in both work. The default.
    #[default]
    PublicClient,
    /// A single-page application whose only redirect is the Restore Portal's address, public
    /// client flows off, as a portal set up only for its own web page is: the device code is
    /// refused at the token endpoint (HTTP 401 `invalid_client`, AADSTS7000218: no client
    /// secret), and Microsoft's page refuses the browser sign-in's `http://localhost:<port>`
    /// redirect (AADSTS50011) without redirecting anywhere.
    Spa,
    /// As [`PortalAppRegistration::Spa`], with `http://localhost` added as a single-page
    /// application redirect: the browser gets a code, but its redemption without an `Origin`
    /// header (not from a web page) is refused (HTTP 400 `invalid_request`, AADSTS9002327); the
    /// device code is refused as with `Spa`.
    SpaLocalhost,
}

impl std::str::FromStr for PortalAppRegistration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "public-client" => Ok(PortalAppRegistration::PublicClient),
            "spa" => Ok(PortalAppRegistration::Spa),
            "spa-localhost" => Ok(PortalAppRegistration::SpaLocalhost),
            other => Err(format!(
                "unknown registration '{other}' (expected public-client, spa or spa-localhost)"
            )),
        }
    }
}

/// Options of [`crate::Emulators::start`]. `EmulatorOptions::default()` gives the behaviour of the
/// real services with their usual settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorOptions {
    /// Port of the Microsoft identity platform emulator (plain HTTP); 0 picks a free port.
    pub ms_port: u16,
    /// Port of the VBM365 REST emulator (HTTPS); 0 picks a free port.
    pub vbm_port: u16,
    /// `interval` of the device code response in seconds; `None` leaves the field out.
    pub device_code_interval: Option<u64>,
    /// `expires_in` of the device code response in seconds.
    pub device_code_expires_in: u64,
    /// Whether the device code response carries a `message`.
    pub include_message: bool,
    /// `None`: `{ms_url}/devicelogin`; `Some(x)`: `x` is sent verbatim (tests of hostile URIs).
    pub verification_uri: Option<String>,
    /// Lifetime in seconds of the Microsoft access tokens (`expires_in`, `ext_expires_in`).
    pub ms_token_lifetime: u64,
    /// Lifetime in seconds of VBM365 access tokens.
    pub vbm_token_lifetime: u64,
    /// Delay in milliseconds added before answering each `/vN/token` request.
    pub vbm_latency_ms: u64,
    /// `Some(n)`: device codes approve themselves `n` ms after they were issued.
    pub auto_approve_after_ms: Option<u64>,
    /// Whether the VBM365 server accepts tenant (organization) sign-ins.
    pub tenant_auth_enabled: bool,
    /// Whether the VBM365 server's Restore Portal is enabled, so that restore operators may sign
    /// in (`RestorePortalSettings.isEnabled`, `grant_type=operator`). Off by default, as on a
    /// fresh install.
    pub operator_auth_enabled: bool,
    /// How the Restore Portal's application is registered at Microsoft (a public client by
    /// default).
    pub restore_portal_app: PortalAppRegistration,
    /// Format of `.issued` / `.expires`.
    pub date_format: DateFormat,
    /// `None`: every tenant name is a known organization; `Some(list)`: only those. The JWT bearer
    /// grant compares its `client_id` with these names case-SENSITIVELY, as the real server
    /// matches organization names (`Contoso.onmicrosoft.com` is not `contoso.onmicrosoft.com`).
    pub known_organizations: Option<Vec<String>>,
    /// `false`: the VBM365 server's certificate is self-signed, as on a fresh install. `true`: it
    /// is issued by a private certificate authority made at start ([`crate::Emulators::ca_pem`]),
    /// as where an organization runs its own CA.
    pub ca_issued: bool,
    /// Probability (0.0 to 1.0, clamped) that a token or device code request on either server
    /// that has no queued fault fails with a random [`crate::Fault`], every kind equally likely
    /// (soak tests). 0.0, the default, never; 1.0 always.
    pub fault_rate: f64,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            ms_port: 0,
            vbm_port: 0,
            device_code_interval: Some(5),
            device_code_expires_in: 900,
            include_message: true,
            verification_uri: None,
            ms_token_lifetime: 3599,
            vbm_token_lifetime: 3600,
            vbm_latency_ms: 0,
            auto_approve_after_ms: None,
            tenant_auth_enabled: true,
            operator_auth_enabled: false,
            restore_portal_app: PortalAppRegistration::PublicClient,
            date_format: DateFormat::Rfc1123,
            known_organizations: None,
            ca_issued: false,
            fault_rate: 0.0,
        }
    }
}
