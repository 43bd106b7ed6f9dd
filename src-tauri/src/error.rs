//! Errors as the web UI sees them: the core's [`ErrorBody`] (`{code, message, remedy?, field?}`),
//! where `code` is a stable machine code, so the UI branches on codes, never on message text.

use serde::Serialize;
use std::ops::{Deref, DerefMut};
use vbm365_auth_core::contract::{app_code, ErrorBody};

/// An error crossing into the web UI. Messages come from the core's `Display`, which never contains
/// secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", .0.message)]
#[serde(transparent)]
pub struct UiError(pub ErrorBody);

impl UiError {
    /// An error with an app-level code (one of [`app_code::ALL`], not one of the core's).
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        debug_assert!(
            app_code::ALL.contains(&code),
            "{code} is not in app_code::ALL"
        );
        UiError(ErrorBody::new(code, message))
    }
}

impl Deref for UiError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl DerefMut for UiError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

impl From<vbm365_auth_core::Error> for UiError {
    fn from(e: vbm365_auth_core::Error) -> Self {
        UiError(ErrorBody::from(&e))
    }
}

impl From<tauri::Error> for UiError {
    fn from(e: tauri::Error) -> Self {
        UiError::new(app_code::APP, e.to_string())
    }
}

/// Result of every command.
pub type UiResult<T> = Result<T, UiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_keep_their_code_and_message() {
        let e: UiError = vbm365_auth_core::Error::TenantNotFound("x.example".into()).into();
        assert_eq!(e.code, "tenant_not_found");
        assert!(e.message.contains("x.example"));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["code"], "tenant_not_found");
        assert!(json["message"].is_string());
        assert!(json.get("field").is_none());
    }
}
