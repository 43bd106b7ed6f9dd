//! The soak's rows of the table.

use super::check::Check;
use super::workers::Tally;
use super::{FAULT_RATE, HUNG, REVOKE_EVERY, TENANTS, TOKEN_LIFETIME, WORKERS};
use crate::Row;
use std::collections::{BTreeMap, BTreeSet};

/// Everything the table reports.
pub(super) struct Results {
    pub(super) secs: u64,
    /// Times every VBM365 refresh token was revoked ([`REVOKE_EVERY`]).
    pub(super) revocations: u64,
    /// Emulator counters of the soak itself (the final check excluded).
    pub(super) soak_stats: BTreeMap<String, u64>,
    /// Counters of the soak and the final check.
    pub(super) all_stats: BTreeMap<String, u64>,
    pub(super) tally: Tally,
    pub(super) check: Check,
    pub(super) app_outcomes: BTreeMap<String, usize>,
    pub(super) app_signed_out: BTreeSet<String>,
    pub(super) app_peak_kib: u64,
    pub(super) app_deaths: usize,
    pub(super) app_alive: bool,
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

/// The table's rows: what the soak did, the figures with a goal, then the app and memory.
pub(super) fn report(r: &Results) -> Vec<Row> {
    let mut rows = activity_rows(r);
    rows.extend(goal_rows(r));
    rows.extend(process_rows(r));
    rows
}

/// What was run, attempted and injected (no goal).
fn activity_rows(r: &Results) -> Vec<Row> {
    let n = |k: &str| r.soak_stats.get(k).copied().unwrap_or(0);
    let app_runs: usize = r.app_outcomes.values().sum();
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
    ]
}

/// Tokens lost, tenants wrongly signed out, refresh tokens used twice, CLI exit codes.
fn goal_rows(r: &Results) -> Vec<Row> {
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
    let (codes, bad_codes) = exit_codes(&r.tally);
    vec![
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
    ]
}

/// The CLI runs per exit code as the table shows them, and whether any code was other than 0 or 1.
fn exit_codes(tally: &Tally) -> (String, bool) {
    let codes = tally.by_code();
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
    (codes, bad_codes)
}

/// The app's background refreshes and restarts, and peak memory.
fn process_rows(r: &Results) -> Vec<Row> {
    let app_outcomes = r
        .app_outcomes
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mb = |kib: u64| format!("{:.1} MB", kib as f64 / 1024.0);
    vec![
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
