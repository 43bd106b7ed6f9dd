//! The `many` group: a service provider's list of [`MANY`] tenants — cold start against 3, and a
//! filter keystroke to the repaint.

use super::driver::{Driver, SECOND_DRIVER_PORT};
use super::paint::{time_to_painted, APP_PAINTED, WAIT_MARK};
use super::start::START_RUNS;
use super::{ms_list, or_failed};
use crate::{median, Row};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use vbm365_emulator::Emulators;

/// The tenants of the service provider's list.
const MANY: usize = 500;
/// What is typed into the filter, then deleted again key by key: it narrows the 500 rows down to
/// 11 (`bench49`, `bench490`…`bench499`).
const FILTER_TYPED: &str = "bench49";
const FILTER_ROUNDS: usize = 2;
/// Goal for every filter keystroke to the repaint (issue 12): met when the slowest key is within.
const FILTER_GOAL: Duration = Duration::from_millis(50);

/// The group's rows; `env` is the environment of the three-tenant fixture.
pub(super) fn rows(
    emu: &Emulators,
    rt: &tokio::runtime::Runtime,
    app: &Path,
    env: &[(&str, &Path)],
) -> Vec<Row> {
    let mut rows = Vec::new();
    // A service provider's list: 500 signed-in tenants.
    let many = rt.block_on(crate::fixture(emu, MANY));
    let many_env: Vec<(&str, &Path)> = vec![("VBM365_AUTH_CONFIG_DIR", many.dir.path())];
    rows.push(or_failed(
        format!("app cold start, {MANY} vs 3 tenants (median of {START_RUNS})"),
        || many_cold_start(app, env, &many_env),
    ));
    rows.push(or_failed(
        format!(
            "{MANY} tenants: filter keystroke to repaint ({} keys)",
            2 * FILTER_TYPED.len() * FILTER_ROUNDS
        ),
        || filter_keystrokes(app, &many_env),
    ));
    rows
}

/// Cold start to the tenant list painted with [`MANY`] tenants against 3, launches alternated
/// (one driver per config dir).
fn many_cold_start(
    app: &Path,
    few: &[(&str, &Path)],
    many: &[(&str, &Path)],
) -> Result<Row, String> {
    let d_few = Driver::start(few)?;
    let d_many = Driver::start_on(many, SECOND_DRIVER_PORT)?;
    time_to_painted(&d_many, app, APP_PAINTED)?;
    time_to_painted(&d_few, app, APP_PAINTED)?;
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..START_RUNS {
        ours.push(time_to_painted(&d_many, app, APP_PAINTED)?.painted);
        base.push(time_to_painted(&d_few, app, APP_PAINTED)?.painted);
    }
    eprintln!(
        "bench: cold start (ms) {MANY} tenants {:?}, 3 tenants {:?}",
        ms_list(&ours),
        ms_list(&base)
    );
    let (m_ours, m_base) = (median(&mut ours), median(&mut base));
    let ratio = m_ours.as_secs_f64() / m_base.as_secs_f64();
    Ok(Row {
        what: format!("app cold start, {MANY} vs 3 tenants (median of {START_RUNS})"),
        figure: format!(
            "{} vs {} = {ratio:.2}x",
            crate::ms(m_ours),
            crate::ms(m_base)
        ),
        target: "<= 1.5x".into(),
        verdict: if ratio <= 1.5 { "met" } else { "MISSED" },
    })
}

/// Installs a `keydown` listener on the filter box that records, for each key, the time from the
/// key event to two animation frames later (the frame showing the filtered list has been drawn).
const FILTER_PROBE: &str = r##"
window.__keys = [];
document.querySelector("#filter").addEventListener("keydown", (e) => {
  const t0 = e.timeStamp;
  requestAnimationFrame(() => requestAnimationFrame(() => window.__keys.push(performance.now() - t0)));
});
"##;

/// Resolves with the recorded key times once there are `arguments[0]` of them.
const FILTER_WAIT: &str = r#"
const [n, done] = [arguments[0], arguments[arguments.length - 1]];
(function check() {
  if (window.__keys.length >= n) done(window.__keys.slice(0, n));
  else setTimeout(check, 10);
})();
"#;

/// Types [`FILTER_TYPED`] into the filter of the app with [`MANY`] tenants and deletes it again,
/// key by key, [`FILTER_ROUNDS`] times: each key's time to the repaint.
fn filter_keystrokes(app: &Path, env: &[(&str, &Path)]) -> Result<Row, String> {
    let driver = Driver::start(env)?;
    let s = driver.session(app)?;
    s.execute_async(
        WAIT_MARK,
        json!([APP_PAINTED.0, APP_PAINTED.1, APP_PAINTED.2]),
    )?;
    s.execute(FILTER_PROBE, json!([]))?;
    let filter = s.find("#filter")?;
    let mut n = 0;
    for _ in 0..FILTER_ROUNDS {
        let keys = FILTER_TYPED
            .chars()
            .map(String::from)
            .chain((0..FILTER_TYPED.len()).map(|_| "\u{e003}".to_string())); // Backspace
        for k in keys {
            s.send_keys(&filter, &k)?;
            n += 1;
            // One key at a time: the next one goes after this one's repaint.
            s.execute_async(FILTER_WAIT, json!([n]))?;
        }
    }
    // The window draws the rows a page at a time: an empty count of those shown means the filter
    // lets every tenant through again.
    let shown = s.execute(
        "return [document.querySelector('#filter').value, document.querySelector('#shown-count').textContent, document.querySelectorAll('li.tenant').length]",
        json!([]),
    )?;
    if shown[0] != json!("") || shown[1] != json!("") || shown[2] == json!(0) {
        return Err(format!(
            "after deleting the filter: [filter, shown count, rows drawn] = {shown}"
        ));
    }
    let v = s.execute_async(FILTER_WAIT, json!([n]))?;
    let mut times: Vec<Duration> = v
        .as_array()
        .ok_or_else(|| format!("no key times in {v}"))?
        .iter()
        .filter_map(Value::as_f64)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect();
    eprintln!(
        "bench: filter keystroke to repaint (ms) {:?}",
        ms_list(&times)
    );
    let worst = *times.iter().max().ok_or("no key times")?;
    let med = median(&mut times);
    Ok(Row {
        what: format!(
            "{MANY} tenants: filter keystroke to repaint ({} keys)",
            times.len()
        ),
        figure: format!("median {}, max {}", crate::ms(med), crate::ms(worst)),
        target: format!("<= {} ms, every key", FILTER_GOAL.as_millis()),
        verdict: if worst <= FILTER_GOAL {
            "met"
        } else {
            "MISSED"
        },
    })
}
