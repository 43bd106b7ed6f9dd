//! `vbm365-bench soak` (`make soak`): the desktop app plus 3 CLI workers keep 50 tenants signed in
//! against emulators that fail 10 % of token requests at random (every fault kind, lost replies
//! included) with 1-minute VBM365 tokens, for `VBM365_SOAK_SECS` seconds (default 600).
//!
//! The tenants are signed in through the product's own engine with faults off, so each has a
//! VBM365 pair and a Microsoft refresh token. During the soak each worker loops over random
//! tenants running `token T --min-valid 40`, `refresh T` and now and then `refresh --all`; the app
//! refreshes in the background. Every 2 minutes the VBM365 emulator revokes every refresh token it
//! issued, so each tenant's next refresh is refused and signs in again silently with its Microsoft
//! refresh token: the Microsoft side meets the faults too. Afterwards, with faults off, `status --json` and one `refresh T`
//! per tenant tell which tenants were signed out or lost their tokens; the emulator's counters
//! tell what was attempted and injected, and whether a VBM365 refresh token was ever used twice.
//!
//! Logs (the app's stderr, every failed CLI run, every token request) stay in a directory named on
//! stderr, for looking into whatever the table shows.

mod app;
mod check;
mod report;
mod workers;

use crate::Row;
use app::App;
use check::{dump_requests, final_check, read_app_log};
use report::{report, Results};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};
use vbm365_auth_core::{
    validate, Engine, EngineOptions, StorageChoice, TenantProfile, TenantState,
};
use vbm365_emulator::{EmulatorOptions, Emulators};
use workers::{worker, Env, Tally};

const TENANTS: usize = 50;
const WORKERS: usize = 3;
const FAULT_RATE: f64 = 0.10;
const TOKEN_LIFETIME: u64 = 60;
/// How often the app's memory is sampled and its liveness checked.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// How often the VBM365 emulator revokes every refresh token it issued: each tenant's next refresh
/// is then refused and goes through the silent re-sign-in, so the Microsoft side (refresh grant)
/// meets its share of the faults too, not only the VBM365 side.
const REVOKE_EVERY: Duration = Duration::from_secs(120);
/// Pause of a worker between two CLI runs: each tenant is touched every ~20 s on average, so the
/// CLI renews most tokens (`--min-valid 40` of 60 s) and the app the rest (12 s before expiry).
const CLI_PAUSE: Duration = Duration::from_secs(1);
/// A CLI run taking longer is killed and counted as hung (retries and lock waits stay far below).
const CLI_LIMIT: Duration = Duration::from_secs(300);
/// Exit code recorded for a run killed by [`CLI_LIMIT`].
const HUNG: i32 = -1000;

pub fn rows(rt: &tokio::runtime::Runtime) -> Vec<Row> {
    let secs = soak_secs();
    let app = crate::exe_dir().join("vbm365-auth-app");
    let cli = crate::cli_path();
    if std::env::var_os("DISPLAY").is_none() || !app.exists() || !cli.exists() {
        eprintln!(
            "bench: soak skipped (needs DISPLAY, {} and {}; run scripts/bench soak)",
            app.display(),
            cli.display()
        );
        return vec![];
    }
    let emu = start_emulators(rt);
    let config = tempfile::tempdir().expect("tempdir");
    let logs = log_dir();
    let names = rt.block_on(sign_in_all(&emu, config.path()));
    let env = Env {
        cli,
        vars: vec![
            ("VBM365_AUTH_CONFIG_DIR".into(), config.path().into()),
            ("VBM365_AUTH_HTTP_TIMEOUT".into(), "5".into()),
        ],
    };

    emu.clear_requests();
    emu.set_fault_rate(FAULT_RATE);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(secs);
    eprintln!("bench: soak of {secs} s started");
    let mut app = App::start(&app, &env, &logs);
    let (tally, revocations) = drive(&emu, &mut app, &env, &names, (t0, deadline), &logs);
    app.sample();
    let soak_stats = emu.stats();
    let app_alive = app.alive();
    app.stop();
    dump_requests(&emu, t0, &logs.join("requests.log"));
    let check = final_check(&env, &names, &logs);
    let (app_outcomes, app_signed_out) = read_app_log(&logs.join("app.log"));
    eprintln!(
        "bench: soak stats {soak_stats:?}\nbench: CLI exit codes per command {:?}\nbench: final states {:?}",
        tally.codes, check.states
    );
    report(&Results {
        secs,
        revocations,
        soak_stats,
        all_stats: emu.stats(),
        tally,
        check,
        app_outcomes,
        app_signed_out,
        app_peak_kib: app.peak_kib,
        app_deaths: app.deaths.len(),
        app_alive,
    })
}

/// `VBM365_SOAK_SECS`, 600 when unset or not a number.
fn soak_secs() -> u64 {
    std::env::var("VBM365_SOAK_SECS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(600)
}

/// The emulators of the soak: [`TOKEN_LIFETIME`] VBM365 tokens, device codes approved at once.
fn start_emulators(rt: &tokio::runtime::Runtime) -> Emulators {
    rt.block_on(Emulators::start(EmulatorOptions {
        vbm_token_lifetime: TOKEN_LIFETIME,
        device_code_interval: Some(1),
        auto_approve_after_ms: Some(0),
        ..Default::default()
    }))
    .expect("emulators")
}

/// A directory for the logs that outlives the run; named on stderr.
fn log_dir() -> PathBuf {
    let logs = tempfile::Builder::new()
        .prefix("vbm365-soak-")
        .tempdir()
        .expect("log dir")
        .keep();
    eprintln!("bench: soak logs in {}", logs.display());
    logs
}

/// The soak itself, from `t0` to `deadline`: [`WORKERS`] CLI workers while the app is sampled and
/// every VBM365 refresh token revoked each [`REVOKE_EVERY`]; then faults off and the workers
/// joined. What they saw, and how many revocations there were.
fn drive(
    emu: &Emulators,
    app: &mut App,
    env: &Env,
    names: &[String],
    (t0, deadline): (Instant, Instant),
    logs: &Path,
) -> (Tally, u64) {
    let mut revocations = 0u64;
    let tally = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| s.spawn(move || worker(w, env, names, deadline, t0, logs)))
            .collect();
        let mut revoked_at = Instant::now();
        while Instant::now() < deadline {
            app.sample();
            if revoked_at.elapsed() >= REVOKE_EVERY {
                emu.revoke_vbm_refresh_tokens();
                revocations += 1;
                revoked_at = Instant::now();
            }
            sleep(SAMPLE_EVERY.min(deadline.saturating_duration_since(Instant::now())));
        }
        emu.set_fault_rate(0.0);
        eprintln!("bench: soak over, faults off; waiting for the CLI workers");
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .fold(Tally::default(), Tally::merge)
    });
    (tally, revocations)
}

/// Adds the tenants with the emulator's pin and signs them all in (concurrently) with faults off.
async fn sign_in_all(emu: &Emulators, dir: &Path) -> Vec<String> {
    let mut opts = EngineOptions::from_env(Some(dir.to_path_buf())).expect("engine options");
    opts.storage = StorageChoice::Keyring;
    let engine = Arc::new(Engine::open(opts).expect("engine"));
    let names: Vec<String> = (0..TENANTS)
        .map(|i| format!("soak{i}.onmicrosoft.com"))
        .collect();
    for n in &names {
        let mut p = TenantProfile::new(n, &emu.vbm_url()).expect("profile");
        p.authority = validate::authority_url(&emu.ms_url()).expect("authority");
        engine
            .add_tenant(p, Some(&emu.cert_sha256()), false)
            .expect("add tenant");
    }
    let mut jobs = tokio::task::JoinSet::new();
    for n in names.clone() {
        let engine = engine.clone();
        jobs.spawn(async move {
            let pending = engine.begin_sign_in(Some(&n)).await?;
            engine.complete_sign_in(&pending, |_| {}).await
        });
    }
    while let Some(done) = jobs.join_next().await {
        let status = done
            .expect("sign-in task")
            .expect("sign-in (is a Secret Service running? use scripts/bench soak)");
        assert_eq!(
            status.state,
            TenantState::SignedIn,
            "{}",
            status.profile.name
        );
    }
    names
}

fn signal(pids: &[u32], sig: libc::c_int) {
    for &p in pids {
        // SAFETY: plain FFI call on pids of our own child tree.
        unsafe {
            libc::kill(p as libc::pid_t, sig);
        }
    }
}
