//! Tenants moved between machines in a JSON file (`tenant export` / `tenant import`): each saved
//! tenant's settings and the pins of its server, never a token. An import checks every entry
//! against the rules of `tenant add` and reports each problem; it adds nothing from a file with
//! problems unless told to skip them, and it never changes how a server already trusted is trusted
//! (another pin beside its pins, or a pin in place of its certificate authorities).

use super::*;
use crate::config::{AUTHORITY_CHINA, AUTHORITY_GLOBAL, AUTHORITY_US_GOV};
use crate::contract::{ImportReport, InvalidEntry};
use crate::role::{Role, SignInMethod};
use crate::text;
use serde::Deserialize;
use serde_json::Value;

/// What identifies an export file.
pub const TENANT_FILE_FORMAT: &str = "vbm365-auth-tenants";
/// The export format this build writes (and the newest it reads).
pub const TENANT_FILE_VERSION: u32 = 1;

/// One tenant in an export file. On import only `name` and `server` are required; the rest take
/// the defaults of `tenant add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantEntry {
    /// Organization name, as VBM365 spells it.
    pub name: String,
    /// VBM365 REST API server URL.
    pub server: String,
    /// `v6`, `v7` or `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `global`, `us-gov`, `china` or an authority URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// Microsoft application (client) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Scopes asked of Microsoft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Keep the Microsoft refresh token for silent re-sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember_ms_sign_in: Option<bool>,
    /// `organization` or `operator`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// `device_code` or `browser`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_method: Option<SignInMethod>,
    /// SHA-256 pins of the server's certificate (its `host:port`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<String>,
}

/// An export file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantFile {
    /// Always [`TENANT_FILE_FORMAT`].
    pub format: String,
    /// [`TENANT_FILE_VERSION`].
    pub version: u32,
    /// The tenants.
    pub tenants: Vec<TenantEntry>,
}

impl Engine {
    /// The saved tenants named (all when `names` is empty) as an export file.
    pub fn export_tenants(&self, names: &[String]) -> Result<TenantFile> {
        let cfg = self.config()?;
        let chosen: Vec<&TenantProfile> = if names.is_empty() {
            cfg.tenants.iter().collect()
        } else {
            names
                .iter()
                .map(|n| cfg.resolve(Some(n)))
                .collect::<Result<_>>()?
        };
        let tenants = chosen
            .into_iter()
            .map(|p| TenantEntry {
                name: p.name.clone(),
                server: p.server.as_str().trim_end_matches('/').to_string(),
                api_version: Some(p.api_version.to_string()),
                authority: Some(p.authority.as_str().trim_end_matches('/').to_string()),
                client_id: Some(p.client_id.clone()),
                scope: Some(p.scope.clone()),
                remember_ms_sign_in: Some(p.remember_ms_sign_in),
                role: Some(p.role),
                sign_in_method: Some(p.sign_in_method),
                pins: cfg.pins_for(&p.server_host_port()).to_vec(),
            })
            .collect();
        Ok(TenantFile {
            format: TENANT_FILE_FORMAT.into(),
            version: TENANT_FILE_VERSION,
            tenants,
        })
    }

    /// Imports the tenants of an export file (its bytes; `source` names it in messages). With
    /// problems and without `skip_invalid`, nothing is added and the report lists every problem.
    pub fn import_tenants(
        &self,
        bytes: &[u8],
        source: &str,
        skip_invalid: bool,
    ) -> Result<ImportReport> {
        let entries = entries_of(bytes, source)?;
        let report = plan(&self.config()?, &entries).0;
        if (!report.invalid.is_empty() && !skip_invalid) || report.added.is_empty() {
            return Ok(report);
        }
        // Planned again under the config lock: another process may have changed it meanwhile.
        let (_, report) = self.store.update(|cfg| {
            let (report, adds) = plan(cfg, &entries);
            for (profile, pins) in adds {
                let hp = profile.server_host_port();
                for pin in pins {
                    let slot = cfg.trusted_certificates.entry(hp.clone()).or_default();
                    if !slot.contains(&pin) {
                        slot.push(pin);
                    }
                }
                if cfg.active_tenant.is_none() {
                    cfg.active_tenant = Some(profile.name.clone());
                }
                cfg.tenants.push(profile);
            }
            Ok(report)
        })?;
        if let Some(c) = self.clients.get() {
            apply_trust(&c.http, &self.config()?);
        }
        Ok(report)
    }
}

/// The entries of an export file (or of a bare JSON array of entries), each still unparsed.
fn entries_of(bytes: &[u8], source: &str) -> Result<Vec<Value>> {
    let bad = |why: String| Error::InvalidInput(format!("{source}: {why}"));
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON ({e})")))?;
    let list = match v {
        Value::Array(list) => list,
        Value::Object(mut o) => {
            let version = o.get("version").and_then(Value::as_u64).unwrap_or(1);
            if version > TENANT_FILE_VERSION as u64 {
                return Err(bad(format!(
                    "written by a newer vbm365-auth (format {version}, this build reads up to {TENANT_FILE_VERSION})"
                )));
            }
            match o.remove("tenants") {
                Some(Value::Array(list)) => list,
                _ => return Err(bad("has no \"tenants\" list".into())),
            }
        }
        _ => return Err(bad("is not an export of vbm365-auth tenant export".into())),
    };
    Ok(list)
}

/// What importing `entries` into `cfg` would do: the report and the tenants to add with the pins
/// of their servers.
fn plan(cfg: &Config, entries: &[Value]) -> (ImportReport, Vec<(TenantProfile, Vec<String>)>) {
    let mut report = ImportReport::default();
    let mut adds: Vec<(TenantProfile, Vec<String>)> = Vec::new();
    for (i, raw) in entries.iter().enumerate() {
        let name = raw
            .get("name")
            .and_then(Value::as_str)
            .map(|n| text::shown(n, 200));
        match check_entry(cfg, raw, &adds) {
            Ok(None) => report.unchanged.push(name.unwrap_or_default()),
            Ok(Some(add)) => {
                report.added.push(add.0.name.clone());
                adds.push(add);
            }
            Err(e) => report.invalid.push(InvalidEntry {
                entry: i + 1,
                tenant: name,
                code: e.code().into(),
                message: e.to_string(),
            }),
        }
    }
    (report, adds)
}

/// One entry against the config and the entries before it: `None` when the same tenant is saved
/// already, else the profile to add with its server's pins.
fn check_entry(
    cfg: &Config,
    raw: &Value,
    earlier: &[(TenantProfile, Vec<String>)],
) -> Result<Option<(TenantProfile, Vec<String>)>> {
    let e: TenantEntry = serde_json::from_value(raw.clone())
        .map_err(|e| Error::InvalidInput(format!("not a tenant entry: {e}")))?;
    let p = profile_of(&e)?;
    let pins = e
        .pins
        .iter()
        .map(|pin| validate::sha256_pin(pin))
        .collect::<Result<Vec<_>>>()?;
    if earlier
        .iter()
        .any(|(q, _)| q.name.eq_ignore_ascii_case(&p.name))
    {
        return Err(Error::InvalidInput(format!(
            "'{}' is listed twice in the file",
            p.name
        )));
    }
    let hp = p.server_host_port();
    let pending: Vec<&String> = earlier
        .iter()
        .filter(|(q, _)| q.server_host_port() == hp)
        .flat_map(|(_, pins)| pins)
        .collect();
    for pin in &pins {
        super::tenants::check_pin_not_widened(cfg, &hp, pin, &pending)?;
    }
    if let Some(saved) = cfg.tenant(&p.name) {
        if *saved == p && pins.iter().all(|pin| cfg.pins_for(&hp).contains(pin)) {
            return Ok(None);
        }
        return Err(Error::TenantExists(saved.name.clone()));
    }
    Ok(Some((p, pins)))
}

/// The profile an entry describes, with the defaults of `tenant add`.
fn profile_of(e: &TenantEntry) -> Result<TenantProfile> {
    let mut p = TenantProfile::new(&e.name, &e.server)?;
    if let Some(v) = &e.api_version {
        p.api_version = v.parse()?;
    }
    if let Some(a) = &e.authority {
        p.authority = validate::authority_url(authority(a))?;
    }
    if let Some(c) = &e.client_id {
        p.client_id = c.clone();
    }
    if let Some(s) = &e.scope {
        p.scope = s.clone();
    }
    p.remember_ms_sign_in = e.remember_ms_sign_in.unwrap_or(true);
    p.role = e.role.unwrap_or_default();
    p.sign_in_method = e.sign_in_method.unwrap_or_default();
    p.validate()?;
    Ok(p)
}

/// The authority a cloud's short name stands for, or the text as it is.
pub fn authority(raw: &str) -> &str {
    match raw.trim().to_ascii_lowercase().as_str() {
        "global" | "" => AUTHORITY_GLOBAL,
        "us-gov" | "usgov" | "us" => AUTHORITY_US_GOV,
        "china" | "cn" => AUTHORITY_CHINA,
        _ => raw,
    }
}
