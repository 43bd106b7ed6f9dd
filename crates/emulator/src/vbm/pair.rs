//! The token pairs the VBM365 emulator issues: stored with their lifetimes (and, when bound, an
//! antiforgery cookie) and sent as the server's token reply.

use super::{vbm_headers, ANTIFORGERY_COOKIE};
use crate::options::DateFormat;
use crate::state::{Inner, RefreshStatus, Shared, VbmAccess, VbmRefresh, VBM_REFRESH_LIFETIME};
use crate::types::MintedTokens;
use crate::util;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use std::time::{Duration, Instant};

/// A freshly issued pair, ready to be sent.
pub(super) struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub user_name: String,
    pub issued: chrono::DateTime<chrono::Utc>,
    pub cookie: Option<String>,
}

impl Issued {
    pub(super) fn into_response(self, format: DateFormat) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            access_token: &'a str,
            token_type: &'a str,
            expires_in: u64,
            refresh_token: &'a str,
            #[serde(rename = "userName")]
            user_name: &'a str,
            #[serde(rename = ".issued")]
            issued: String,
            #[serde(rename = ".expires")]
            expires: String,
        }
        let date = |t| match format {
            DateFormat::Rfc1123 => util::rfc1123(t),
            DateFormat::Iso8601 => util::iso8601(t),
        };
        // Lifetimes are clamped to 100 years (state::MAX_SECS), so this cannot overflow.
        let lifetime = i64::try_from(self.expires_in).unwrap_or_default();
        let expires = self.issued + chrono::Duration::seconds(lifetime);
        let body = util::to_json(&Body {
            access_token: &self.access_token,
            token_type: "bearer",
            expires_in: self.expires_in,
            refresh_token: &self.refresh_token,
            user_name: &self.user_name,
            issued: date(self.issued),
            expires: date(expires),
        });
        let mut extra = vbm_headers();
        if let Some(cookie) = self.cookie {
            extra.push((
                "set-cookie",
                format!("{ANTIFORGERY_COOKIE}={cookie}; path=/; secure; samesite=strict; httponly"),
            ));
        }
        util::response(
            StatusCode::OK,
            "application/json; charset=utf-8",
            body,
            &extra,
        )
    }
}

/// An opaque token shaped like the server's (a DPAPI blob in base64url).
fn opaque_token() -> String {
    format!(
        "AQAAANCMnd8BFdERjHoAwE_Cl-sBAAAA{}",
        util::random_b64url(420)
    )
}

/// Issues and stores a pair; `bind` ties the refresh token to a new antiforgery cookie.
pub(super) fn issue(inner: &mut Inner, tenant: &str, user_name: &str, bind: bool) -> Issued {
    let now = Instant::now();
    let lifetime = inner.settings.vbm_token_lifetime;
    let prefix = inner.knobs.token_prefix.clone().unwrap_or_default();
    let access_token = format!("{prefix}{}", opaque_token());
    let refresh_token = format!("{prefix}{}", opaque_token());
    let cookie = bind.then(|| util::random_b64url(64));
    inner.vbm_access.insert(
        access_token.clone(),
        VbmAccess {
            refresh_token: refresh_token.clone(),
            expires_at: now + Duration::from_secs(lifetime),
            revoked: false,
        },
    );
    inner.vbm_refresh.insert(
        refresh_token.clone(),
        VbmRefresh {
            tenant: tenant.to_string(),
            user_name: user_name.to_string(),
            expires_at: now + VBM_REFRESH_LIFETIME,
            antiforgery: cookie.clone(),
            status: RefreshStatus::Active,
            rotated: None,
            operator: false,
        },
    );
    Issued {
        access_token,
        refresh_token,
        expires_in: lifetime,
        user_name: user_name.to_string(),
        issued: chrono::Utc::now(),
        cookie,
    }
}

/// Issues a pair for `tenant` without any sign-in (benchmarks and tests). Tokens work with every
/// API version of the server, as the real server's do; `version` only goes to the log.
pub(crate) fn mint(shared: &Shared, tenant: &str, version: &str) -> MintedTokens {
    tracing::debug!(tenant, version, "minting a VBM365 token pair");
    let mut inner = shared.lock();
    inner.count("vbm_minted");
    let issued = issue(
        &mut inner,
        tenant,
        &format!("admin@{}", tenant.to_ascii_lowercase()),
        false,
    );
    MintedTokens {
        access_token: issued.access_token,
        refresh_token: issued.refresh_token,
        expires_in: issued.expires_in,
    }
}
