//! Errors as the web UI sees them: `{code, message}`, where `code` is the core's stable machine code
//! ([`vbm365_auth_core::Error::code`]) so the UI branches on codes, never on message text.

use serde::Serialize;

/// An error crossing into the web UI. Messages come from the core's `Display`, which never contains
/// secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct UiError {
    /// Stable snake-case code, e.g. `invalid_input`, `sign_in_required`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The form field a validation error belongs to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What kind of fix it needs (the core's [`vbm365_auth_core::Remedy`]); the window words it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<vbm365_auth_core::Remedy>,
}

impl UiError {
    /// An error with an app-level code (not one of the core's).
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        UiError {
            code: code.to_string(),
            message: message.into(),
            field: None,
            remedy: None,
        }
    }
}

impl From<vbm365_auth_core::Error> for UiError {
    fn from(e: vbm365_auth_core::Error) -> Self {
        UiError {
            code: e.code().to_string(),
            message: e.to_string(),
            field: None,
            remedy: e.remedy(),
        }
    }
}

impl From<tauri::Error> for UiError {
    fn from(e: tauri::Error) -> Self {
        UiError::new("app", e.to_string())
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
