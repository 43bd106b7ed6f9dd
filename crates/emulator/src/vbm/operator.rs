//! Restore operators on the VBM365 emulator: the anonymous `GET /vN/RestorePortalSettings`
//! (`applicationId`, `msalAuthorityUri`, `restorePortalUri` from v7 on, `isEnabled`) and
//! `grant_type=operator` at `/vN/token` (`client_id` = `<user id>.<tenant id>`, `assertion` = a
//! Microsoft access token issued for the Restore Portal application to that user).

use super::pair::{issue, Issued};
use super::{vbm_headers, ApiVersion, VbmError};
use crate::state::Shared;
use crate::util::{self, Fields};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use std::time::Instant;

/// What the server says when the Restore Portal is off.
pub(crate) const OPERATOR_AUTH_DISABLED: &str =
    "Restore operator authentication is disabled. Enable Restore Portal on the Veeam Backup for Microsoft 365 server to allow restore operators to log in.";

/// `GET /vN/RestorePortalSettings` (anonymous).
pub(crate) fn settings(shared: &Shared, version: ApiVersion) -> Response {
    let enabled = {
        let mut inner = shared.lock();
        inner.count("vbm_restore_portal_settings");
        inner.settings.operator_auth_enabled
    };
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Settings {
        application_id: String,
        msal_authority_uri: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        restore_portal_uri: Option<String>,
        is_enabled: bool,
    }
    let body = Settings {
        // A portal never set up names the empty application, as the schema's example does.
        application_id: if enabled {
            shared.restore_portal_app_id.clone()
        } else {
            "00000000-0000-0000-0000-000000000000".into()
        },
        msal_authority_uri: format!("{}/organizations", shared.ms_url),
        restore_portal_uri: (version != ApiVersion::V6).then(|| format!("{}/", shared.vbm_url)),
        is_enabled: enabled,
    };
    util::response(
        StatusCode::OK,
        "application/json; charset=utf-8",
        util::to_json(&body),
        &vbm_headers(),
    )
}

/// `grant_type=operator`: the tenant and user name of the pair to issue.
pub(crate) fn grant(shared: &Shared, fields: &Fields) -> Result<(String, String), VbmError> {
    let inner = shared.lock();
    if !inner.settings.operator_auth_enabled {
        return Err(VbmError::new(
            StatusCode::BAD_REQUEST,
            OPERATOR_AUTH_DISABLED,
            None,
        ));
    }
    let account = fields.get("client_id").ok_or_else(|| {
        VbmError::new(
            StatusCode::BAD_REQUEST,
            "The client_id parameter is required for the operator grant type.",
            Some("ParameterValidationFailure"),
        )
    })?;
    let assertion = fields.get("assertion").ok_or_else(|| {
        VbmError::new(
            StatusCode::BAD_REQUEST,
            "The assertion parameter is required for the operator grant type.",
            Some("ParameterValidationFailure"),
        )
    })?;
    let refused = |why: &str| {
        VbmError::new(
            StatusCode::BAD_REQUEST,
            format!("Invalid operator credentials: {why}."),
            None,
        )
    };
    let ms = inner.ms_access.get(assertion).ok_or_else(|| {
        refused("the access token was not issued by the Microsoft identity platform")
    })?;
    if ms.audience.as_deref() != Some(shared.restore_portal_app_id.as_str()) {
        return Err(refused(
            "the access token was not issued for the Restore Portal application",
        ));
    }
    if Instant::now() >= ms.expires_at {
        return Err(refused("the access token has expired"));
    }
    let expected = format!(
        "{}.{}",
        crate::oidc::oid(&ms.upn),
        crate::oidc::tid(&ms.tenant)
    );
    if !account.eq_ignore_ascii_case(&expected) {
        return Err(refused(
            "the client_id does not name the user the access token was issued to",
        ));
    }
    Ok((ms.tenant.clone(), ms.upn.clone()))
}

/// `grant_type=operator`: a restore operator's Microsoft access token for the Restore Portal
/// application, checked by [`grant`]; the pair's refresh token stays an operator's.
pub(super) fn operator_grant(
    shared: &Shared,
    fields: &Fields,
    bind: bool,
) -> Result<Issued, VbmError> {
    let (tenant, user) = grant(shared, fields)?;
    let mut inner = shared.lock();
    let issued = issue(&mut inner, &tenant, &user, bind);
    if let Some(rt) = inner.vbm_refresh.get_mut(&issued.refresh_token) {
        rt.operator = true;
    }
    Ok(issued)
}
