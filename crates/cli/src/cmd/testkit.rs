//! Fixtures of the commands' unit tests: an engine over a private temporary config dir (secrets in
//! a plain file, so no keyring is needed), tenants and tokens stored through the core's public
//! API, and buffers standing in for the process's streams.

use crate::cli::Cli;
use crate::output::{self, Io};
use chrono::{DateTime, Utc};
use clap::Parser;
use std::io::Cursor;
use std::process::ExitCode;
use vbm365_auth_core::vault::{Protection, TenantSecrets, Vault};
use vbm365_auth_core::vbm::VbmTokens;
use vbm365_auth_core::{
    Engine, EngineOptions, Error, StorageChoice, TenantProfile, VbmAccessToken, VbmRefreshToken,
};
use vbm365_emulator::Emulators;

pub const A: &str = "a.onmicrosoft.com";
pub const B: &str = "b.onmicrosoft.com";
/// The server of the fixture's tenants (nothing listens there: the tests need no network).
pub const SERVER: &str = "https://vbm.example.test:4443";

/// The core's message for `e` (its wording is the core's business; how the CLI shows it is not).
pub fn message(e: Error) -> String {
    e.to_string()
}

/// The core's message for `e` as a JSON string.
pub fn json_message(e: Error) -> String {
    serde_json::to_string(&e.to_string()).expect("JSON")
}

/// A time from RFC 3339 text.
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().expect("an RFC 3339 time")
}

/// Stand-ins for stdout, stderr and stdin.
pub struct Streams {
    pub out: Vec<u8>,
    pub err: Vec<u8>,
    pub input: Cursor<Vec<u8>>,
    pub terminal: bool,
}

impl Streams {
    /// `input` is what a person types; `terminal`, whether stdin is one.
    pub fn new(input: &str, terminal: bool) -> Streams {
        Streams {
            out: Vec::new(),
            err: Vec::new(),
            input: Cursor::new(input.as_bytes().to_vec()),
            terminal,
        }
    }

    pub fn io(&mut self) -> Io<'_> {
        Io {
            out: &mut self.out,
            err: &mut self.err,
            input: &mut self.input,
            stdin_is_terminal: self.terminal,
        }
    }
}

/// What a command did: its exit code and what it wrote.
#[derive(Debug)]
pub struct Outcome {
    pub code: ExitCode,
    pub out: String,
    pub err: String,
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
}

impl Fixture {
    /// An engine over an empty config dir with `tenants` saved on [`SERVER`] (the first active).
    pub fn with_tenants(tenants: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary dir");
        let engine = Engine::open(EngineOptions {
            config_dir: dir.path().to_path_buf(),
            storage: StorageChoice::PlainFile,
            timeouts: Default::default(),
            retry: Default::default(),
            keystore: None,
        })
        .expect("engine");
        let f = Fixture { dir, engine };
        for t in tenants {
            f.add(t);
        }
        f
    }

    pub fn add(&self, name: &str) {
        self.add_on(name, SERVER);
    }

    pub fn add_on(&self, name: &str, server: &str) {
        let p = TenantProfile::new(name, server).expect("profile");
        self.engine.add_tenant(p, None, false).expect("add tenant");
    }

    /// Stores a VBM365 token pair for `tenant`, as a sign-in would.
    pub async fn store_tokens(&self, tenant: &str, access: &str, expires_at: DateTime<Utc>) {
        let refresh = format!("refresh-{access}");
        self.store_pair(tenant, access, &refresh, expires_at).await;
    }

    async fn store_pair(
        &self,
        tenant: &str,
        access: &str,
        refresh: &str,
        expires_at: DateTime<Utc>,
    ) {
        let tokens = VbmTokens {
            access_token: VbmAccessToken::new(access),
            refresh_token: VbmRefreshToken::new(refresh),
            token_type: "bearer".into(),
            issued_at: Utc::now(),
            expires_at,
            user_name: None,
        };
        let secrets = TenantSecrets {
            vbm: Some(tokens),
            ..TenantSecrets::default()
        };
        self.store(tenant, secrets).await;
    }

    /// Saves `name` on the emulators' servers, their certificate pinned.
    pub async fn add_on_emulators(&self, emu: &Emulators, name: &str) {
        let (vbm, ms, pin) = (emu.vbm_url(), emu.ms_url(), emu.cert_sha256());
        let add = [
            "tenant",
            "add",
            name,
            "--server",
            &vbm,
            "--authority",
            &ms,
            "--pin-sha256",
            &pin,
        ];
        let r = self.run(&add).await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
    }

    /// [`Fixture::add_on_emulators`] and tokens the emulated VBM365 server issued, as after `login`.
    pub async fn signed_in_on(&self, emu: &Emulators, name: &str) {
        self.add_on_emulators(emu, name).await;
        let minted = emu.mint_vbm_tokens(name, "v8");
        let expires_at = Utc::now() + chrono::Duration::seconds(minted.expires_in as i64);
        self.store_pair(
            name,
            &minted.access_token,
            &minted.refresh_token,
            expires_at,
        )
        .await;
    }

    /// Marks `tenant` as needing sign-in, as a failed refresh would.
    pub async fn needs_sign_in(&self, tenant: &str, reason: &str) {
        let secrets = TenantSecrets {
            sign_in_required: Some(reason.into()),
            ..TenantSecrets::default()
        };
        self.store(tenant, secrets).await;
    }

    async fn store(&self, tenant: &str, secrets: TenantSecrets) {
        let cfg = self.engine.config().expect("config");
        let vault = Vault::new(self.dir.path(), &cfg.vault_id, Protection::PlainFile);
        vault
            .update(|data| data.tenants.insert(tenant.to_string(), secrets))
            .await
            .expect("vault write");
    }

    pub fn active(&self) -> Option<String> {
        self.engine.config().expect("config").active_tenant
    }

    pub fn tenant_names(&self) -> Vec<String> {
        let cfg = self.engine.config().expect("config");
        cfg.tenants.into_iter().map(|t| t.name).collect()
    }

    /// What every command that touches tokens says first with secrets in a plain file.
    pub fn plaintext_warning(&self) -> String {
        format!(
            "warning: tokens are stored UNENCRYPTED in {} (VBM365_AUTH_STORAGE=file)\n",
            self.dir.path().join("secrets.json").display()
        )
    }

    /// Runs `vbm365-auth <args>` as `main` does, on this engine, with no input.
    pub async fn run(&self, args: &[&str]) -> Outcome {
        self.run_with(args, Streams::new("", false)).await
    }

    /// [`Fixture::run`] with the given stdin.
    pub async fn run_with(&self, args: &[&str], mut streams: Streams) -> Outcome {
        let cli = Cli::try_parse_from(std::iter::once("vbm365-auth").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?} does not parse: {e}"));
        let json = cli.command.wants_json();
        let mut io = streams.io();
        let code = match super::execute(&self.engine, cli.command, &mut io).await {
            Ok(code) => code,
            Err(e) => output::fail(&mut io, &e, json),
        };
        Outcome {
            code,
            out: String::from_utf8(streams.out).expect("UTF-8 stdout"),
            err: String::from_utf8(streams.err).expect("UTF-8 stderr"),
        }
    }
}
