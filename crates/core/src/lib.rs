//! Core of VBM365 Auth: sign in to Veeam Backup for Microsoft 365 REST servers with modern
//! app-only authentication (Microsoft device-code flow → VBM365 assertion exchange), keep the
//! tokens fresh, and store them securely. No GUI dependencies: the desktop app and the CLI are thin
//! faces over [`session::Engine`].

#![warn(missing_docs)]

pub mod authcode;
pub mod autostart;
pub mod browser;
pub mod config;
pub mod contract;
pub mod error;
pub mod failure;
pub mod fsutil;
pub mod http;
#[cfg(test)]
mod json;
pub mod keystore;
pub mod loopback;
pub mod msid;
pub mod operator;
#[cfg(test)]
mod proptests;
pub mod proxy;
pub mod role;
pub mod secret;
pub mod session;
pub mod text;
pub mod tls;
pub mod trace;
pub mod trust;
pub mod validate;
pub mod vault;
pub mod vbm;
mod wire;
pub mod x509;

pub use config::{ApiVersion, Config, TenantProfile};
pub use error::{Error, Remedy, Result};
pub use role::{Role, SignInMethod};
pub use secret::{Assertion, DeviceCode, MsRefreshToken, Secret, VbmAccessToken, VbmRefreshToken};
pub use session::{
    AccessToken, CaTrust, Engine, EngineOptions, PendingSignIn, RemovedTrust, SignInEvent,
    StorageChoice, TenantState, TenantStatus, TenantUpdate,
};
