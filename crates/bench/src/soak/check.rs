//! After the soak, with faults off: what each tenant is left with, what the app logged, and every
//! token request of the soak for the logs.

use super::workers::{run_cli, Env};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;
use vbm365_emulator::{Emulators, Server};

/// After the soak, with faults off: each tenant's state, and whether its tokens still refresh.
pub(super) struct Check {
    pub(super) states: BTreeMap<String, usize>,
    pub(super) sign_in_required: BTreeSet<String>,
    pub(super) lost: Vec<String>,
}

pub(super) fn final_check(env: &Env, names: &[String], logs: &Path) -> Check {
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
pub(super) fn read_app_log(log: &Path) -> (BTreeMap<String, usize>, BTreeSet<String>) {
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
pub(super) fn dump_requests(emu: &Emulators, t0: Instant, path: &Path) {
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
