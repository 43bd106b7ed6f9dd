//! The vault's JSON, the only serialized form of secrets in the product. Writing borrows the
//! secrets (no plaintext copies); reading moves each string into its secret type.

use super::{TenantSecrets, VaultData};
use crate::secret::{MsRefreshToken, VbmAccessToken, VbmRefreshToken};
use crate::vbm::VbmTokens;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Serialize)]
struct VaultOut<'a> {
    tenants: BTreeMap<&'a str, TenantOut<'a>>,
}

#[derive(Serialize)]
struct TenantOut<'a> {
    vbm: Option<TokensOut<'a>>,
    ms_refresh_token: Option<&'a str>,
    sign_in_required: &'a Option<String>,
    generation: u64,
}

#[derive(Serialize)]
struct TokensOut<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    token_type: &'a str,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    user_name: &'a Option<String>,
}

#[derive(Deserialize)]
struct VaultIn {
    #[serde(default)]
    tenants: BTreeMap<String, TenantIn>,
}

#[derive(Deserialize)]
struct TenantIn {
    #[serde(default)]
    vbm: Option<TokensIn>,
    #[serde(default)]
    ms_refresh_token: Option<String>,
    #[serde(default)]
    sign_in_required: Option<String>,
    #[serde(default)]
    generation: u64,
}

#[derive(Deserialize)]
struct TokensIn {
    access_token: String,
    refresh_token: String,
    token_type: String,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    #[serde(default)]
    user_name: Option<String>,
}

pub(crate) fn to_json(data: &VaultData) -> serde_json::Result<Vec<u8>> {
    let out = VaultOut {
        tenants: data
            .tenants
            .iter()
            .map(|(name, t)| {
                let vbm = t.vbm.as_ref().map(|v| TokensOut {
                    access_token: v.access_token.expose(),
                    refresh_token: v.refresh_token.expose(),
                    token_type: &v.token_type,
                    issued_at: v.issued_at,
                    expires_at: v.expires_at,
                    user_name: &v.user_name,
                });
                let tenant = TenantOut {
                    vbm,
                    ms_refresh_token: t.ms_refresh_token.as_ref().map(|m| m.expose()),
                    sign_in_required: &t.sign_in_required,
                    generation: t.generation,
                };
                (name.as_str(), tenant)
            })
            .collect(),
    };
    serde_json::to_vec(&out)
}

pub(crate) fn from_json(bytes: &[u8]) -> serde_json::Result<VaultData> {
    let read: VaultIn = serde_json::from_slice(bytes)?;
    Ok(VaultData {
        tenants: read
            .tenants
            .into_iter()
            .map(|(name, t)| {
                let vbm = t.vbm.map(|v| VbmTokens {
                    access_token: VbmAccessToken::new(v.access_token),
                    refresh_token: VbmRefreshToken::new(v.refresh_token),
                    token_type: v.token_type,
                    issued_at: v.issued_at,
                    expires_at: v.expires_at,
                    user_name: v.user_name,
                });
                let secrets = TenantSecrets {
                    vbm,
                    ms_refresh_token: t.ms_refresh_token.map(MsRefreshToken::new),
                    sign_in_required: t.sign_in_required,
                    generation: t.generation,
                };
                (name, secrets)
            })
            .collect(),
    })
}
