//! One error type for the core, with a stable machine code per variant ([`Error::code`]) that the
//! CLI (`--json`) and the desktop UI branch on. Messages are for people and never contain secrets.

mod code;
mod message;
mod remedy;

pub use remedy::Remedy;

use crate::msid::OAuthError;
use message::{holder_hint, identity_message, portal_redirect_hint, retry_hint};
use std::time::Duration;

/// Result alias of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a user can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Something given to the product is not acceptable: a tenant name, a URL, a setting, an
    /// environment variable. The text is the whole message and says what was wrong.
    #[error("{0}")]
    InvalidInput(String),

    /// No saved tenant has this name (names compare ignoring ASCII case); holds the name as asked
    /// for. Also the active tenant or a tenant being signed in when it is no longer saved.
    #[error("no tenant named '{0}' is saved")]
    TenantNotFound(String),

    /// A tenant with this name (ignoring ASCII case) is already saved; holds the saved spelling.
    #[error("a tenant named '{0}' is already saved")]
    TenantExists(String),

    /// A tenant was needed, none was named, and the config has no active tenant.
    #[error("no tenant given and no active tenant is set")]
    NoActiveTenant,

    /// The tenant has no tokens that can be renewed: it was never signed in, was signed out, or its
    /// refresh tokens were refused (and silent re-sign-in was off or refused too). Only an
    /// interactive sign-in helps.
    #[error("{tenant}: sign-in required ({reason})")]
    SignInRequired {
        /// The tenant's name as saved.
        tenant: String,
        /// Why, for people: "not signed in", or the refusal that ended the session (kept in the
        /// vault until the next sign-in).
        reason: String,
    },

    /// The Microsoft identity platform answered with an OAuth error.
    #[error("{}", identity_message(.error, .aadsts, .description))]
    Identity {
        /// The OAuth `error` field.
        error: OAuthError,
        /// Microsoft's AADSTS code: the first of `error_codes`, else the number after "AADSTS" in
        /// the description; `None` when there is neither.
        aadsts: Option<u32>,
        /// The first line of `error_description`, made safe to show; `None` when absent or empty.
        description: Option<String>,
    },

    /// The tenant's policy refused a sign-in with a device code (Conditional Access, AADSTS53003);
    /// the browser sign-in may still be allowed ([`Remedy::UseBrowserSignIn`]). Code, message and
    /// verdict are those of `source`, prefixed with what was refused.
    #[error("the device code sign-in was refused: {source}")]
    DeviceCodeBlocked {
        /// Microsoft's refusal ([`Error::Identity`]).
        source: Box<Error>,
    },

    /// No sign-in response reached the loopback address within the time the browser sign-in
    /// waits. For a restore operator the message names the likely cause Microsoft shows only in
    /// the browser: the Restore Portal's application has no `http://localhost` redirect
    /// (AADSTS50011), so Microsoft never sent the browser back.
    #[error("no answer came back from the browser within {} s{}", .after.as_secs(), portal_redirect_hint(.restore_portal_app))]
    BrowserSignInTimedOut {
        /// How long the sign-in waited.
        after: Duration,
        /// The Restore Portal's application, when a restore operator was signing in.
        restore_portal_app: Option<String>,
    },

    /// Microsoft refused a restore operator's sign-in because of how the Restore Portal's
    /// application is registered: it does not allow public client flows (AADSTS7000218: Microsoft
    /// wants a client secret), or it has `http://localhost` only as a single-page application
    /// redirect (AADSTS9002327: its codes are redeemed by web pages only). Its app registration
    /// must allow public client flows and the `http://localhost` redirect
    /// ([`Remedy::FixRestorePortalApp`]). Verdict is that of `source`.
    #[error("the app registration of the Restore Portal's application {application} does not let a desktop app sign restore operators in: {source}")]
    RestorePortalAppNotPublic {
        /// The Restore Portal's application (client) id.
        application: String,
        /// Microsoft's refusal ([`Error::Identity`]).
        source: Box<Error>,
    },

    /// The VBM365 server does not accept restore operators: its `RestorePortalSettings` say the
    /// Restore Portal (operator authentication) is disabled.
    #[error("restore operator sign-in is disabled on the VBM365 server {server} (the Restore Portal is not enabled)")]
    OperatorAuthDisabled {
        /// The server's base URL.
        server: String,
    },

    /// The VBM365 server refused the restore operator sign-in (the `operator` grant).
    #[error("the VBM365 server refused the restore operator sign-in of {account} (HTTP {status}): {message}. Likely causes: the account is not an operator of a restore operator role on this server; the Restore Portal application on the server is not the one the account signed in to")]
    OperatorRefused {
        /// Who signed in: `<user id>.<tenant id>` as sent in `client_id`.
        account: String,
        /// The HTTP status: 400, 401 or 403.
        status: u16,
        /// The server's own error text, as in [`Error::ServerRejected`].
        message: String,
    },

    /// The device code's lifetime (`expires_in`) ran out before the user approved the sign-in.
    #[error("the sign-in code expired before it was used; start the sign-in again")]
    DeviceCodeExpired,

    /// The user stopped a sign-in (Ctrl-C, Cancel). The core never returns it (a sign-in stops when
    /// its future is dropped); the faces do, so that it has a code.
    #[error("sign-in was cancelled")]
    Cancelled,

    /// The VBM365 server refused a request (4xx) and said why.
    #[error("the VBM365 server refused the request (HTTP {status}): {message}")]
    ServerRejected {
        /// The HTTP status: 400, 401 or 403.
        status: u16,
        /// The server's own error text (`message`, else `error_description`, `error`,
        /// `errorCode`), with the secrets the request carried redacted, bounded for display.
        message: String,
    },

    /// The VBM365 server refused the Microsoft sign-in of an organization (the jwt-bearer
    /// exchange). The server's message is shown as it is; the likely causes are listed because the
    /// server's wording is not a contract.
    #[error("the VBM365 server refused the sign-in of organization '{organization}' (HTTP {status}): {message}. Likely causes: tenant authentication is disabled on the server (General Options > Authentication > \"Enable tenant authentication\"); the organization name does not match the server's spelling exactly (it is compared case-sensitively); the organization is not added on this server")]
    ExchangeRefused {
        /// The organization name as sent in `client_id`: the tenant's saved spelling.
        organization: String,
        /// The HTTP status: 400, 401 or 403.
        status: u16,
        /// The server's own error text, as in [`Error::ServerRejected`].
        message: String,
    },

    /// A failure that says nothing about the request's credentials: 5xx, 429, 407, 408, 425, a
    /// proxy's page, any other error reply that is not a refusal (see [`crate::failure`]).
    #[error("{service} answered HTTP {status}{}: {message}", retry_hint(.retry_after))]
    ServerFailure {
        /// Which service answered, for people: "the VBM365 server" or "the Microsoft identity
        /// platform".
        service: &'static str,
        /// The HTTP status of the reply.
        status: u16,
        /// The service's own error text when it sent one, else a summary of the body (an HTML page
        /// by its title, "empty reply"); never the raw body.
        message: String,
        /// The server's `Retry-After`, bounded.
        retry_after: Option<Duration>,
        /// Whether trying again may help
        /// ([`failure::is_transient_reply`](crate::failure::is_transient_reply)).
        transient: bool,
    },

    /// A refresh failed for a reason that says nothing about the stored tokens; they were kept.
    #[error("{tenant}: the tokens could not be refreshed ({} attempt{}): {}. The stored tokens were kept; try again later", .attempts, if *.attempts == 1 { "" } else { "s" }, source.to_string().trim_end_matches('.'))]
    TokensKept {
        /// The tenant whose refresh failed.
        tenant: String,
        /// Requests made, the first included.
        attempts: u32,
        /// The last failure; [`Error::code`] and [`Error::verdict`] are its.
        source: Box<Error>,
    },

    /// A reply that cannot be used: cut off, larger than the body limit, not JSON, missing a field,
    /// or an access token issued already expired. Transient: a retry may get a whole reply.
    #[error("{service} sent a reply that could not be understood: {detail}")]
    BadResponse {
        /// Which service sent it: "the VBM365 server" or "the Microsoft identity platform".
        service: &'static str,
        /// What was wrong with the reply; never its contents.
        detail: String,
    },

    /// The connection failed before a reply arrived: DNS, refused, reset, a TLS handshake failure
    /// that is not about the certificate, a proxy that cannot be reached.
    #[error("cannot reach {url}: {detail}")]
    Network {
        /// Scheme, host and port of the address ([`crate::http::origin`]), never a path.
        url: String,
        /// The innermost cause ("Connection refused (os error 111)"), naming the proxy when the
        /// connection went through one.
        detail: String,
    },

    /// No browser launcher could open the verification URI; the user can open it by hand.
    #[error("no browser could be started for {url} ({detail}); open the address yourself")]
    BrowserUnavailable {
        /// The verification URI that could not be opened (already validated).
        url: String,
        /// Why, for people: the first launcher that ran and failed, else why none could start.
        detail: String,
    },

    /// A request (or the certificate probe's connection) did not finish in time.
    #[error("{url} did not answer within {} s", .after.as_secs_f32())]
    Timeout {
        /// Scheme, host and port of the address ([`crate::http::origin`]).
        url: String,
        /// The limit that ran out: the request timeout, or the connect timeout of the
        /// certificate probe.
        after: Duration,
    },

    /// A pinned server presented a certificate whose SHA-256 is none of its pins.
    #[error("certificate of {host} does not match its pin: the server presented SHA-256 {actual}, the pin is {expected}")]
    PinMismatch {
        /// `host:port` of the server, host in lowercase.
        host: String,
        /// The pins of that `host:port` (lowercase hex SHA-256), joined with " or ".
        expected: String,
        /// Lowercase hex SHA-256 of the certificate the server presented.
        actual: String,
    },

    /// Trusting a certificate from a dialog: it is not the one the server presented when it was
    /// checked just now (or the check was not made, or was already used), so nothing was trusted.
    #[error("{host_port} did not present the certificate with SHA-256 {given} when it was checked just now; only the certificate the server presented can be trusted; nothing was trusted")]
    CertificateNotProbed {
        /// `host:port` of the tenant's server.
        host_port: String,
        /// The fingerprint that was to be trusted.
        given: String,
    },

    /// The certificate of a server without a pin did not validate against the system roots plus the
    /// CAs trusted for that server.
    #[error("the certificate of {host} is not trusted ({detail})")]
    UntrustedCertificate {
        /// Host name of the server (without port).
        host: String,
        /// What certificate validation said (unknown issuer, expired, wrong name, …).
        detail: String,
    },

    /// Trusting a CA file for a server: the server's chain does not validate against the system
    /// roots plus that file's CAs, so nothing was saved.
    #[error("the certificate of {host} does not verify against the certificate authority in {file} ({detail}); nothing was saved")]
    NotIssuedByCa {
        /// `host:port` of the server.
        host: String,
        /// The CA file as the user named it.
        file: String,
        /// What certificate validation said.
        detail: String,
    },

    /// The OS keyring cannot be used (no Secret Service, a platform failure, no thread for the
    /// call); holds the keyring's own message.
    #[error("the OS keyring is not available: {0}")]
    KeyringUnavailable(String),

    /// The OS keyring refused access because it is locked; holds the keyring's own message.
    #[error("the OS keyring is locked: {0}. Unlock it (e.g. log in to the desktop session) and try again")]
    KeyringLocked(String),

    /// A keyring call did not return within the key store's timeout (held here).
    #[error("the OS keyring did not answer within {} s", .0.as_secs_f32())]
    KeyringTimeout(Duration),

    /// The vault file exists but the keyring holds no key for it (the entry was deleted or the
    /// keyring reset), so its tokens cannot be read.
    #[error("the key of the token vault is missing from the OS keyring, so the stored tokens cannot be read")]
    VaultKeyMissing,

    /// The vault file cannot be opened or parsed with the key the keyring holds.
    #[error("the token vault {path} cannot be read: {detail}")]
    VaultCorrupt {
        /// The vault file (empty when sealing failed before a file was involved).
        path: String,
        /// What is wrong: not a vault file, an unknown format, a key that does not open it, a
        /// malformed key in the keyring, contents that do not parse.
        detail: String,
    },

    /// `config.json` does not parse or fails validation, or the config cannot be serialized for
    /// writing.
    #[error("the configuration file {path} cannot be read: {detail}")]
    ConfigCorrupt {
        /// The configuration file.
        path: String,
        /// What is wrong: a parse error, a format newer than this build, a tenant that fails
        /// validation or is listed twice.
        detail: String,
    },

    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory (for a failed TLS or HTTP client setup, a label saying so).
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A cross-process file lock stayed taken for longer than its wait. Transient: the holder
    /// finishes or dies.
    #[error("another process holds {what} for more than {} s{}", .after.as_secs(), holder_hint(.holder))]
    LockTimeout {
        /// What the lock guards, for people ("the token vault", "a token refresh").
        what: String,
        /// How long this process waited.
        after: Duration,
        /// Who holds it, as the holder wrote it into the lock file ("pid 1234 (vbm365-auth …)").
        holder: Option<String>,
    },

    /// A file or directory this product keeps its data in is not safe to use.
    #[error("{path} is not safe to use: {detail}")]
    UnsafeFile {
        /// The file or directory refused.
        path: String,
        /// Why, with what to do about it: a symbolic link, another user's, writable by others.
        detail: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Verdict;

    #[test]
    fn conditional_access_is_named_with_its_code() {
        let e = Error::Identity {
            error: OAuthError::InvalidGrant,
            aadsts: Some(53003),
            description: Some("AADSTS53003: Access has been blocked by Conditional Access policies.\r\nTrace ID: x".into()),
        };
        assert_eq!(e.code(), "conditional_access_blocked");
        let m = e.to_string();
        assert!(m.contains("Conditional Access"), "{m}");
        assert!(m.contains("AADSTS53003"), "{m}");
        assert!(!m.contains("Trace ID"), "{m}");
        assert_eq!(m.matches("AADSTS53003").count(), 1, "{m}");
        assert!(m.contains(": Access has been blocked"), "{m}");
    }

    #[test]
    fn a_refused_exchange_names_the_likely_causes_and_the_servers_words() {
        let e = Error::ExchangeRefused {
            organization: "Contoso.onmicrosoft.com".into(),
            status: 400,
            message: "Something the server said.".into(),
        };
        assert_eq!(e.code(), "exchange_refused");
        let m = e.to_string();
        for part in [
            "Contoso.onmicrosoft.com",
            "Something the server said.",
            "Enable tenant authentication",
            "case-sensitively",
            "not added on this server",
        ] {
            assert!(m.contains(part), "{part} in {m}");
        }
        assert_eq!(e.verdict(), Verdict::Refused);
    }

    #[test]
    fn messages_carry_no_face_specific_advice() {
        let samples = [
            Error::TenantNotFound("x".into()),
            Error::NoActiveTenant,
            Error::PinMismatch {
                host: "h".into(),
                expected: "a".into(),
                actual: "b".into(),
            },
            Error::UntrustedCertificate {
                host: "h".into(),
                detail: "UnknownIssuer".into(),
            },
            Error::KeyringUnavailable("no bus".into()),
            Error::VaultKeyMissing,
        ];
        for e in samples {
            let m = e.to_string();
            assert!(!m.contains("vbm365-auth"), "{m}");
            assert!(!m.contains('`'), "{m}");
            assert!(e.remedy().is_some(), "{m}");
        }
    }
}
