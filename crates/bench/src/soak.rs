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

use crate::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};
use vbm365_auth_core::{
    validate, Engine, EngineOptions, StorageChoice, TenantProfile, TenantState,
};
use vbm365_emulator::{EmulatorOptions, Emulators, Server};
use vbm365_testkit::procs::{descendants, rss_kib};

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
    let secs: u64 = std::env::var("VBM365_SOAK_SECS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(600);
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
    let emu = rt
        .block_on(Emulators::start(EmulatorOptions {
            vbm_token_lifetime: TOKEN_LIFETIME,
            device_code_interval: Some(1),
            auto_approve_after_ms: Some(0),
            ..Default::default()
        }))
        .expect("emulators");
    let config = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::Builder::new()
        .prefix("vbm365-soak-")
        .tempdir()
        .expect("log dir")
        .keep();
    eprintln!("bench: soak logs in {}", logs.display());
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
    let mut revocations = 0u64;
    let tally = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (env, names, logs) = (&env, &names, &logs);
                s.spawn(move || worker(w, env, names, deadline, t0, logs))
            })
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

/// The CLI and the environment every process of the soak gets.
struct Env {
    cli: PathBuf,
    vars: Vec<(String, PathBuf)>,
}

/// The desktop app, restarted if it dies; its process tree's peak RSS.
struct App {
    cmd: Command,
    child: Child,
    peak_kib: u64,
    deaths: Vec<String>,
}

impl App {
    /// Starts `binary` with the soak's environment, logging at `info` (background refresh
    /// outcomes) to `app.log`.
    fn start(binary: &Path, env: &Env, logs: &Path) -> App {
        let log = File::create(logs.join("app.log")).expect("app log");
        let mut cmd = Command::new(binary);
        cmd.envs(env.vars.iter().map(|(k, v)| (k, v)))
            .env("VBM365_AUTH_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log);
        let child = cmd.spawn().expect("start the app");
        App {
            cmd,
            child,
            peak_kib: 0,
            deaths: Vec::new(),
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Adds the tree's RSS to the peak; restarts the app if it died.
    fn sample(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!("bench: the app died ({status}); restarting it");
            self.deaths.push(status.to_string());
            self.child = self.cmd.spawn().expect("restart the app");
            return;
        }
        let pid = self.child.id();
        let kib: u64 = std::iter::once(pid)
            .chain(descendants(pid))
            .filter_map(rss_kib)
            .sum();
        self.peak_kib = self.peak_kib.max(kib);
    }

    /// SIGTERM to the app and its descendants, SIGKILL to whatever is left after 5 s.
    fn stop(&mut self) {
        let pid = self.child.id();
        let tree: Vec<u32> = std::iter::once(pid).chain(descendants(pid)).collect();
        signal(&tree, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            sleep(Duration::from_millis(50));
        }
        signal(&tree, libc::SIGKILL);
        let _ = self.child.wait();
    }
}

fn signal(pids: &[u32], sig: libc::c_int) {
    for &p in pids {
        // SAFETY: plain FFI call on pids of our own child tree.
        unsafe {
            libc::kill(p as libc::pid_t, sig);
        }
    }
}

/// What the CLI workers saw.
#[derive(Default)]
struct Tally {
    runs: u64,
    /// Runs per (command, exit code); a signal is its negative number, [`HUNG`] a killed run.
    codes: BTreeMap<(&'static str, i32), u64>,
    peak_rss_kib: i64,
    longest: Duration,
    /// Tenants any run reported as needing sign-in.
    sign_in_required: BTreeSet<String>,
}

impl Tally {
    fn merge(mut self, other: Tally) -> Tally {
        self.runs += other.runs;
        for (k, n) in other.codes {
            *self.codes.entry(k).or_default() += n;
        }
        self.peak_rss_kib = self.peak_rss_kib.max(other.peak_rss_kib);
        self.longest = self.longest.max(other.longest);
        self.sign_in_required.extend(other.sign_in_required);
        self
    }

    /// Runs per exit code, all commands together.
    fn by_code(&self) -> BTreeMap<i32, u64> {
        let mut out = BTreeMap::new();
        for (&(_, code), &n) in &self.codes {
            *out.entry(code).or_default() += n;
        }
        out
    }
}

/// One CLI worker: random commands on random tenants until the deadline. Failed runs are logged
/// with their stderr to `cli.log`.
fn worker(
    w: usize,
    env: &Env,
    names: &[String],
    deadline: Instant,
    t0: Instant,
    logs: &Path,
) -> Tally {
    let mut rng = Rng::seeded(w);
    let mut tally = Tally::default();
    let err_path = logs.join(format!("worker{w}.stderr"));
    let mut log = File::options()
        .create(true)
        .append(true)
        .open(logs.join("cli.log"))
        .expect("cli log");
    while Instant::now() < deadline {
        let tenant = names[rng.below(names.len())].as_str();
        let roll = rng.below(200);
        let (what, args): (&'static str, Vec<&str>) = if roll == 0 {
            ("refresh --all", vec!["refresh", "--all"])
        } else if roll < 80 {
            ("refresh T", vec!["refresh", tenant])
        } else {
            ("token T", vec!["token", tenant, "--min-valid", "40"])
        };
        let started = t0.elapsed();
        let run = run_cli(env, &args, &err_path);
        tally.runs += 1;
        *tally.codes.entry((what, run.code)).or_default() += 1;
        tally.peak_rss_kib = tally.peak_rss_kib.max(run.rss_kib);
        tally.longest = tally.longest.max(run.wall);
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        tally.sign_in_required.extend(signed_out_in(&stderr));
        if run.code != 0 {
            let _ = writeln!(
                log,
                "+{:.1}s worker {w}: {} -> exit {} after {:.1} s\n{}",
                started.as_secs_f64(),
                args.join(" "),
                run.code,
                run.wall.as_secs_f64(),
                stderr.trim_end()
            );
        }
        sleep(CLI_PAUSE);
    }
    tally
}

/// xorshift64*: enough randomness to pick tenants and commands, without a dependency.
struct Rng(u64);

impl Rng {
    fn seeded(worker: usize) -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng((nanos ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
    }
}

/// Tenants named in `... <tenant>: sign-in required (...)` messages.
fn signed_out_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once(": sign-in required ("))
        .filter_map(|(before, _)| before.split_whitespace().last())
        .map(String::from)
        .collect()
}

struct Run {
    code: i32,
    rss_kib: i64,
    wall: Duration,
}

/// Runs the CLI with stdout discarded and stderr to `err`; exit code and peak RSS from wait4.
fn run_cli(env: &Env, args: &[&str], err: &Path) -> Run {
    let start = Instant::now();
    let child = Command::new(&env.cli)
        .args(args)
        .envs(env.vars.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(File::create(err).expect("stderr file"))
        .spawn()
        .expect("run the CLI");
    let pid = child.id() as libc::pid_t;
    std::mem::forget(child); // reaped by wait4 below
    let mut status = 0;
    // SAFETY: plain FFI calls with valid out-pointers on our own, not yet reaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut hung = false;
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if !hung && start.elapsed() > CLI_LIMIT {
            hung = true;
            signal(&[pid as u32], libc::SIGKILL);
        }
        sleep(Duration::from_millis(5));
    }
    let code = if hung {
        HUNG
    } else if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Run {
        code,
        rss_kib: usage.ru_maxrss,
        wall: start.elapsed(),
    }
}

/// After the soak, with faults off: each tenant's state, and whether its tokens still refresh.
struct Check {
    states: BTreeMap<String, usize>,
    sign_in_required: BTreeSet<String>,
    lost: Vec<String>,
}

fn final_check(env: &Env, names: &[String], logs: &Path) -> Check {
    let out = Command::new(&env.cli)
        .args(["status", "--json"])
        .envs(env.vars.iter().map(|(k, v)| (k, v)))
        .stderr(Stdio::inherit())
        .output()
        .expect("status --json");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let mut states = BTreeMap::new();
    let mut sign_in_required = BTreeSet::new();
    for r in rows.as_array().expect("status rows") {
        let state = r["state"].as_str().unwrap_or("?").to_string();
        if state == "sign_in_required" {
            sign_in_required.insert(r["tenant"].as_str().unwrap_or("?").to_string());
        }
        *states.entry(state).or_default() += 1;
    }
    let err = logs.join("check.stderr");
    let mut log = File::create(logs.join("check.log")).expect("check log");
    let mut lost = Vec::new();
    for n in names {
        let run = run_cli(env, &["refresh", n], &err);
        if run.code != 0 {
            let stderr = std::fs::read_to_string(&err).unwrap_or_default();
            let _ = writeln!(
                log,
                "refresh {n} -> exit {}\n{}",
                run.code,
                stderr.trim_end()
            );
            lost.push(n.clone());
        }
    }
    Check {
        states,
        sign_in_required,
        lost,
    }
}

/// The app's background refreshes by outcome, and the tenants where that outcome was
/// `SignInRequired` (from its `info` log).
fn read_app_log(log: &Path) -> (BTreeMap<String, usize>, BTreeSet<String>) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let (mut outcomes, mut signed_out) = (BTreeMap::new(), BTreeSet::new());
    for l in text.lines().filter(|l| l.contains("background refresh ")) {
        let Some(o) = l.split("outcome=").nth(1) else {
            continue;
        };
        let kind: String = o.chars().take_while(|c| c.is_alphanumeric()).collect();
        if kind == "SignInRequired" {
            if let Some(t) = l
                .split("tenant=")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
            {
                signed_out.insert(t.to_string());
            }
        }
        *outcomes.entry(kind).or_default() += 1;
    }
    (outcomes, signed_out)
}

/// Every token request of the soak, one line each: time, server, path, grant, organization and
/// the end of the refresh token presented, for following a tenant through a failure.
fn dump_requests(emu: &Emulators, t0: Instant, path: &Path) {
    let mut out = String::new();
    for r in emu.requests() {
        let server = match r.server {
            Server::Ms => "ms ",
            Server::Vbm => "vbm",
        };
        let at = r.at.saturating_duration_since(t0).as_secs_f64();
        let _ = write!(out, "+{at:.3}s {server} {}", r.path);
        for (k, v) in r.form() {
            match k.as_str() {
                "grant_type" => {
                    let _ = write!(out, " {}", v.rsplit(':').next().unwrap_or(""));
                }
                "client_id" => {
                    let _ = write!(out, " client_id={v}");
                }
                "refresh_token" => {
                    let tail: String = v.chars().rev().take(10).collect();
                    let _ = write!(out, " rt=…{}", tail.chars().rev().collect::<String>());
                }
                _ => {}
            }
        }
        out.push('\n');
    }
    let _ = std::fs::write(path, out);
}

/// Everything the table reports.
struct Results {
    secs: u64,
    /// Times every VBM365 refresh token was revoked ([`REVOKE_EVERY`]).
    revocations: u64,
    /// Emulator counters of the soak itself (the final check excluded).
    soak_stats: BTreeMap<String, u64>,
    /// Counters of the soak and the final check.
    all_stats: BTreeMap<String, u64>,
    tally: Tally,
    check: Check,
    app_outcomes: BTreeMap<String, usize>,
    app_signed_out: BTreeSet<String>,
    app_peak_kib: u64,
    app_deaths: usize,
    app_alive: bool,
}

fn row(what: impl Into<String>, figure: String, target: &str, verdict: &'static str) -> Row {
    Row {
        what: what.into(),
        figure,
        target: target.into(),
        verdict,
    }
}

fn goal(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn report(r: &Results) -> Vec<Row> {
    let n = |k: &str| r.soak_stats.get(k).copied().unwrap_or(0);
    let reused = r
        .all_stats
        .get("vbm_refresh_token_reused")
        .copied()
        .unwrap_or(0);
    let after_lost = r
        .all_stats
        .get("vbm_refresh_after_lost_reply")
        .copied()
        .unwrap_or(0);
    let mut wrongly = r.check.sign_in_required.clone();
    wrongly.extend(r.tally.sign_in_required.iter().cloned());
    wrongly.extend(r.app_signed_out.iter().cloned());
    let codes = r.tally.by_code();
    let bad_codes = codes.keys().any(|&c| c != 0 && c != 1);
    let codes = codes
        .iter()
        .map(|(&c, k)| match c {
            HUNG => format!("hung {k}"),
            c if c < 0 => format!("signal {}: {k}", -c),
            c => format!("exit {c}: {k}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let app_runs: usize = r.app_outcomes.values().sum();
    let app_outcomes = r
        .app_outcomes
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mb = |kib: u64| format!("{:.1} MB", kib as f64 / 1024.0);
    vec![
        row(
            format!(
                "soak {} s: {TENANTS} tenants, app + {WORKERS} CLI, {TOKEN_LIFETIME} s tokens, {:.0} % faults",
                r.secs,
                FAULT_RATE * 100.0
            ),
            format!("{} CLI runs, {app_runs} app refreshes", r.tally.runs),
            "-",
            "",
        ),
        row(
            "soak: refreshes attempted (VBM365 refresh + Microsoft refresh grants)",
            format!(
                "{} + {} = {}",
                n("vbm_refresh"),
                n("ms_refresh"),
                n("vbm_refresh") + n("ms_refresh")
            ),
            "-",
            "",
        ),
        row(
            "soak: VBM365 assertion exchanges (silent re-sign-ins)",
            format!(
                "{} ({} revocations of every VBM365 refresh token, one per {} s)",
                n("vbm_jwt_bearer"),
                r.revocations,
                REVOKE_EVERY.as_secs()
            ),
            "-",
            "",
        ),
        row(
            "soak: faults injected (Microsoft + VBM365), of which lost replies",
            format!(
                "{} + {} = {}, {} lost",
                n("ms_faults"),
                n("vbm_faults"),
                n("ms_faults") + n("vbm_faults"),
                n("lost_replies")
            ),
            "-",
            "",
        ),
        row(
            "soak: tokens lost (a tenant's refresh fails afterwards, faults off)",
            format!("{} of {TENANTS}", r.check.lost.len()),
            "0",
            goal(r.check.lost.is_empty()),
        ),
        row(
            "soak: tenants wrongly sign_in_required (status / CLI / app)",
            format!(
                "{} ({} / {} / {})",
                wrongly.len(),
                r.check.sign_in_required.len(),
                r.tally.sign_in_required.len(),
                r.app_signed_out.len()
            ),
            "0",
            goal(wrongly.is_empty()),
        ),
        row(
            "soak: duplicate refreshes of one VBM365 refresh token",
            format!("{reused} ({after_lost} retries after a lost reply)"),
            "0",
            goal(reused == 0),
        ),
        row(
            format!(
                "soak: CLI exit codes (longest run {:.1} s)",
                r.tally.longest.as_secs_f64()
            ),
            codes,
            "only 0 and 1",
            goal(!bad_codes),
        ),
        row(
            "soak: app background refreshes by outcome",
            app_outcomes,
            "-",
            "",
        ),
        row(
            "soak: app restarts (died during the soak)",
            format!(
                "{}{}",
                r.app_deaths,
                if r.app_alive { "" } else { ", dead at the end" }
            ),
            "0",
            goal(r.app_deaths == 0 && r.app_alive),
        ),
        row(
            "soak: peak RSS, app with WebKit processes",
            mb(r.app_peak_kib),
            "-",
            "",
        ),
        row(
            "soak: peak RSS, one CLI process",
            mb(r.tally.peak_rss_kib as u64),
            "-",
            "",
        ),
    ]
}
