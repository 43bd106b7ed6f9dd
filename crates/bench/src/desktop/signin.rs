//! The `signin` group: approval at the emulator to "Signed in" shown in the window.

use super::driver::Driver;
use super::{epoch_ms, ms_list, or_failed};
use crate::{median, Row};
use serde_json::json;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;
use vbm365_emulator::Emulators;

const SIGN_IN_RUNS: usize = 5;

/// Resolves (with the page's `Date.now()`) two animation frames after `arguments[0]` matches an
/// element whose text contains `arguments[1]`; also says whether it matched at once, and when
/// (epoch ms) the page's navigation started and its DOMContentLoaded handlers ended.
const WAIT_PAINTED: &str = r#"
const [sel, want, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const atOnce = ok();
function ok() {
  const e = document.querySelector(sel);
  return !!e && e.textContent.trim() !== "" && e.textContent.includes(want);
}
function finish() {
  const nav = performance.getEntriesByType("navigation")[0] || {};
  const origin = performance.timeOrigin;
  requestAnimationFrame(() => requestAnimationFrame(() => done({
    at: Date.now(), atOnce, origin, dcl: origin + (nav.domContentLoadedEventEnd || 0),
  })));
}
if (atOnce) {
  finish();
} else {
  const o = new MutationObserver(() => { if (ok()) { o.disconnect(); finish(); } });
  o.observe(document.documentElement, { childList: true, subtree: true, characterData: true, attributes: true });
}
"#;

/// The group's row.
pub(super) fn row(app: &Path, emu: &Emulators) -> Row {
    or_failed(
        format!("approval to \"Signed in\" shown ({SIGN_IN_RUNS} runs)"),
        || sign_in(app, emu),
    )
}

/// Approval at the emulator to "Signed in" shown in the window.
fn sign_in(app: &Path, emu: &Emulators) -> Result<Row, String> {
    let interval = emu.options().device_code_interval.unwrap_or(5);
    let fx = crate::signed_out_fixture(emu, SIGN_IN_RUNS);
    let env: Vec<(&str, &Path)> = vec![("VBM365_AUTH_CONFIG_DIR", fx.path())];
    let driver = Driver::start(&env)?;
    let mut lat = sign_in_latencies(&driver, app, emu)?;
    drop(driver);
    eprintln!("bench: approval to signed-in shown {:?}", ms_list(&lat));
    let worst = *lat.iter().max().expect("runs");
    let med = median(&mut lat);
    let limit = Duration::from_secs(interval + 1);
    Ok(Row {
        what: format!(
            "approval to \"Signed in\" shown, {interval} s poll ({} runs)",
            lat.len()
        ),
        figure: format!(
            "median {:.2} s, max {:.2} s",
            med.as_secs_f64(),
            worst.as_secs_f64()
        ),
        target: format!("<= {} s (max)", interval + 1),
        verdict: if worst <= limit { "met" } else { "MISSED" },
    })
}

/// Signs in each tenant of the list in turn; returns approval → "Signed in" painted, per tenant.
fn sign_in_latencies(
    driver: &Driver,
    app: &Path,
    emu: &Emulators,
) -> Result<Vec<Duration>, String> {
    let s = driver.session(app)?;
    s.execute_async(WAIT_PAINTED, json!(["li.tenant .name", "signin"]))?;
    let mut out = Vec::new();
    for i in 0..SIGN_IN_RUNS {
        s.execute(
            "document.querySelector(`li.tenant[data-name=\"${arguments[0]}\"] [data-act=\"sign-in\"]`).click()",
            json!([format!("signin{i}.onmicrosoft.com")]),
        )?;
        s.execute_async(WAIT_PAINTED, json!(["#signin-status", "Waiting"]))?;
        let code = s.execute(
            "return document.querySelector('#signin-code').textContent.trim()",
            json!([]),
        )?;
        let code = code.as_str().ok_or("no user code shown")?.to_string();
        let t0 = epoch_ms();
        if !emu.approve(&code) {
            return Err(format!("the emulator does not know the code {code}"));
        }
        let v = s.execute_async(WAIT_PAINTED, json!(["#signin-status", "Signed in"]))?;
        let at = v["at"]
            .as_f64()
            .ok_or_else(|| format!("no page clock in {v}"))?;
        out.push(Duration::from_secs_f64(((at - t0) / 1000.0).max(0.0)));
        s.execute("document.querySelector('#signin-done').click()", json!([]))?;
        sleep(Duration::from_millis(500));
    }
    Ok(out)
}
