//! Secret values, one type per kind: a VBM365 access token, a VBM365 refresh token, a Microsoft
//! refresh token, a device code, an assertion (the Microsoft token response), an authorization code
//! and a PKCE code verifier (browser sign-in), and [`Secret`] for
//! what the OS keyring holds (the vault key). Mixing them up is a type error.
//!
//! Each kind's `Debug` prints `Kind([redacted])`, so a stray `{:?}` cannot leak one; none has
//! `Display` or `Serialize`, so a careless `#[derive(Serialize)]` on a view struct cannot send one
//! to the web page or into a JSON reply: the only way to read one is `expose`, which makes every
//! use greppable, and only the vault's own (private) storage form writes them. Memory is wiped on
//! drop.
//!
//! ```compile_fail
//! // No secret kind can be serialized...
//! fn serializable<T: serde::Serialize>() {}
//! serializable::<vbm365_auth_core::secret::VbmAccessToken>();
//! ```
//!
//! ```compile_fail
//! // ...or formatted for people.
//! fn shown<T: std::fmt::Display>() {}
//! shown::<vbm365_auth_core::secret::MsRefreshToken>();
//! ```

use zeroize::Zeroizing;

macro_rules! secret_kind {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Takes the value; its memory is zeroed when this is dropped.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Zeroizing::new(value.into()))
            }

            /// The secret value itself. Call only where the value must leave the process (an
            /// HTTP request, the clipboard, stdout of `vbm365-auth token`, the encrypted vault).
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// Length of the value in bytes.
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// Whether the value is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_kind!(
    /// A value kept in the OS keyring (the vault key).
    Secret
);
secret_kind!(
    /// A VBM365 access token (`Authorization: Bearer`).
    VbmAccessToken
);
secret_kind!(
    /// A VBM365 refresh token (single use: each refresh returns a new pair).
    VbmRefreshToken
);
secret_kind!(
    /// A Microsoft refresh token, kept for the silent re-sign-in.
    MsRefreshToken
);
secret_kind!(
    /// The device code of a device-code sign-in (what polls carry; not the user code).
    DeviceCode
);
secret_kind!(
    /// The Microsoft token response, byte for byte: what VBM365 takes as the assertion.
    Assertion
);
secret_kind!(
    /// An authorization code from the browser sign-in's redirect (single use).
    AuthCode
);
secret_kind!(
    /// The PKCE code verifier of a browser sign-in (RFC 7636): only its SHA-256 leaves the process
    /// before the code is redeemed.
    CodeVerifier
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_names_the_kind() {
        let s = VbmRefreshToken::new("SENTINEL-abc123");
        assert_eq!(format!("{s:?}"), "VbmRefreshToken([redacted])");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: VbmAccessToken,
            code: DeviceCode,
        }
        let dump = format!(
            "{:?}",
            Holder {
                token: VbmAccessToken::new("SENTINEL-1"),
                code: DeviceCode::new("SENTINEL-2"),
            }
        );
        assert!(!dump.contains("SENTINEL"), "{dump}");
        assert_eq!(s.expose(), "SENTINEL-abc123");
    }
}
