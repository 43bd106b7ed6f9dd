//! Who signs in to a tenant profile ([`Role`]) and how the Microsoft sign-in happens
//! ([`SignInMethod`]). Both are saved per tenant in `config.json`; files written before they
//! existed read as an organization signing in with a device code.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Who signs in, and so which VBM365 grant the Microsoft sign-in is exchanged with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The organization itself (modern app-only authentication): the Microsoft token reply is
    /// exchanged with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`. The default.
    #[default]
    Organization,
    /// A restore operator (Restore Portal RBAC): the user signs in to the Restore Portal
    /// application the server names (`GET /vN/RestorePortalSettings`), and the Microsoft access
    /// token is exchanged with `grant_type=operator`, `client_id=<user id>.<tenant id>`.
    Operator,
}

impl Role {
    /// `organization` or `operator` (also the form saved in `config.json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Organization => "organization",
            Role::Operator => "operator",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "organization" | "organisation" | "org" => Ok(Role::Organization),
            "operator" | "restore-operator" => Ok(Role::Operator),
            other => Err(Error::InvalidInput(format!(
                "unknown role '{other}': use organization or operator"
            ))),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the Microsoft sign-in happens. Both give the same Microsoft token reply, which is
/// exchanged with VBM365 the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    /// A device code typed at Microsoft's page (RFC 8628): the method Veeam documents. The
    /// default.
    #[default]
    DeviceCode,
    /// Authorization code with PKCE in the default browser, answered on a loopback address
    /// (RFC 7636, RFC 8252): for tenants whose Conditional Access blocks the device code flow.
    Browser,
}

impl SignInMethod {
    /// `device_code` or `browser` (also the form saved in `config.json`).
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::DeviceCode => "device_code",
            SignInMethod::Browser => "browser",
        }
    }
}

impl std::str::FromStr for SignInMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "device-code" | "devicecode" | "device" => Ok(SignInMethod::DeviceCode),
            "browser" => Ok(SignInMethod::Browser),
            other => Err(Error::InvalidInput(format!(
                "unknown sign-in method '{other}': use device-code or browser"
            ))),
        }
    }
}

impl std::fmt::Display for SignInMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_ones_are_named() {
        for r in [Role::Organization, Role::Operator] {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for m in [SignInMethod::DeviceCode, SignInMethod::Browser] {
            assert_eq!(m.as_str().parse::<SignInMethod>().unwrap(), m);
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        assert_eq!(
            "device-code".parse::<SignInMethod>().unwrap(),
            SignInMethod::DeviceCode
        );
        let e = "admin".parse::<Role>().unwrap_err().to_string();
        assert!(e.contains("'admin'") && e.contains("operator"), "{e}");
        let e = "popup".parse::<SignInMethod>().unwrap_err().to_string();
        assert!(e.contains("'popup'") && e.contains("browser"), "{e}");
    }

    #[test]
    fn old_configs_load_as_organizations_with_device_code_and_bad_values_are_refused() {
        use crate::config::ConfigStore;
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        let tenant = serde_json::json!({
            "name": "contoso.onmicrosoft.com", "server": "https://vbm.example:4443/",
            "authority": "https://login.microsoftonline.com/",
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "scope": "offline_access"
        });
        let file = |t: serde_json::Value| {
            serde_json::to_vec(&serde_json::json!({"version": 1, "vault_id": "ab", "tenants": [t]}))
                .unwrap()
        };
        std::fs::write(store.path(), file(tenant.clone())).unwrap();
        let t = store.load().unwrap().tenants.remove(0);
        assert_eq!(
            (t.role, t.sign_in_method),
            (Role::Organization, SignInMethod::DeviceCode)
        );
        let mut op = tenant.clone();
        op["role"] = "operator".into();
        op["sign_in_method"] = "browser".into();
        std::fs::write(store.path(), file(op)).unwrap();
        let t = store.load().unwrap().tenants.remove(0);
        assert_eq!(
            (t.role, t.sign_in_method),
            (Role::Operator, SignInMethod::Browser)
        );
        for (field, value) in [("role", "admin"), ("sign_in_method", "popup")] {
            let mut bad = tenant.clone();
            bad[field] = value.into();
            let bytes = file(bad);
            std::fs::write(store.path(), &bytes).unwrap();
            let e = store.load().unwrap_err();
            assert_eq!(e.code(), "config_corrupt");
            assert!(e.to_string().contains(value), "{e}");
            assert_eq!(
                std::fs::read(store.path()).unwrap(),
                bytes,
                "nothing rewritten"
            );
        }
    }
}
