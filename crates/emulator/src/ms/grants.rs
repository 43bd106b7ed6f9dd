//! The device code and refresh token grants of the token endpoint; the authorization code grant
//! is in [`crate::authorize`].

use super::{client_id, issue_tokens, upn_for};
use crate::aad::AadError;
use crate::state::{DeviceCode, Inner, RefreshStatus, Shared};
use crate::types::DeviceCodeState;
use crate::util::Fields;
use std::time::{Duration, Instant};

/// A poll this much early still counts as on time.
const POLL_TOLERANCE: Duration = Duration::from_millis(100);

pub(super) fn redeem_device_code(
    shared: &Shared,
    inner: &mut Inner,
    tenant: &str,
    fields: &Fields,
) -> Result<String, AadError> {
    let client_id = client_id(fields, tenant)?.to_string();
    // The client is authenticated before the grant is looked at: an application that does not
    // allow public client flows wants a secret, whatever state the code is in.
    if inner
        .portal_app(&shared.restore_portal_app_id, &client_id)
        .is_some()
    {
        return Err(AadError::client_secret_required());
    }
    let device_code = fields
        .get("device_code")
        .ok_or_else(|| AadError::missing("device_code"))?;
    let now = Instant::now();
    let dc = inner
        .device_codes
        .iter_mut()
        .find(|d| d.device_code == device_code)
        .ok_or_else(AadError::bad_verification_code)?;
    dc.advance(now);
    if dc.client_id != client_id {
        return Err(AadError::invalid_grant(
            "Provided grant is invalid or malformed. The device code was issued to another application.",
        ));
    }
    if !dc.tenant.eq_ignore_ascii_case(tenant) {
        return Err(AadError::invalid_grant(
            "Provided grant is invalid or malformed. The device code was issued for another tenant.",
        ));
    }
    match dc.state {
        DeviceCodeState::Redeemed => return Err(AadError::already_redeemed()),
        DeviceCodeState::Expired => return Err(AadError::expired()),
        _ => {}
    }
    paced(dc, now)?;
    match dc.state {
        DeviceCodeState::Pending => Err(AadError::pending()),
        DeviceCodeState::Declined => Err(AadError::declined()),
        DeviceCodeState::Blocked { aadsts } => Err(AadError::blocked(aadsts)),
        DeviceCodeState::Expired => Err(AadError::expired()),
        DeviceCodeState::Redeemed => Err(AadError::already_redeemed()),
        DeviceCodeState::Approved => {
            dc.state = DeviceCodeState::Redeemed;
            let (tenant, scope) = (dc.tenant.clone(), dc.scope.clone());
            let upn = upn_for(&tenant);
            Ok(issue_tokens(
                shared, inner, &tenant, &client_id, &scope, &upn,
            ))
        }
    }
}

/// RFC 8628 §3.5: a poll too early since the previous one gets `slow_down`, and the interval is
/// 5 s longer from then on.
fn paced(dc: &mut DeviceCode, now: Instant) -> Result<(), AadError> {
    let previous = dc.last_poll.replace(now);
    if let Some(prev) = previous {
        if now.duration_since(prev) + POLL_TOLERANCE < Duration::from_secs(dc.interval) {
            dc.interval += 5;
            return Err(AadError::slow_down(dc.interval));
        }
    }
    Ok(())
}

pub(super) fn redeem_refresh_token(
    shared: &Shared,
    inner: &mut Inner,
    tenant: &str,
    fields: &Fields,
) -> Result<String, AadError> {
    let client_id = client_id(fields, tenant)?.to_string();
    let token = fields
        .get("refresh_token")
        .ok_or_else(|| AadError::missing("refresh_token"))?;
    let rt = inner.ms_refresh.get_mut(token).ok_or_else(|| {
        AadError::new(
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        )
    })?;
    // Microsoft does not revoke a refresh token when it is used: only revocation ends it.
    if rt.status == RefreshStatus::Revoked {
        return Err(AadError::new(
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
        ));
    }
    if rt.client_id != client_id {
        return Err(AadError::new(
            "invalid_grant",
            700005,
            "Provided Authorization Code is intended to use against other tenant or application, thus rejected.",
        ));
    }
    if !rt.tenant.eq_ignore_ascii_case(tenant) {
        return Err(AadError::invalid_grant(
            "Provided grant is invalid or malformed. The refresh token was issued for another tenant.",
        ));
    }
    let scope = fields.get("scope").unwrap_or(&rt.scope).to_string();
    let (tenant, upn) = (rt.tenant.clone(), rt.upn.clone());
    Ok(issue_tokens(
        shared, inner, &tenant, &client_id, &scope, &upn,
    ))
}
