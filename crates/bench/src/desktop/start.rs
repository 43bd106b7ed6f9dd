//! The `start` group: cold start to the tenant list painted against the empty window (plain and
//! CPU-painted), and tray "Show window" ([`super::window`]).

use super::paint::{time_to_painted, Launch, APP_PAINTED, FLOOR_PAINTED};
use super::window::{show_window, SHOW_RUNS};
use super::{driver::Driver, ms_list, or_failed};
use crate::{median, Row};
use std::path::Path;
use std::time::Duration;

pub(super) const START_RUNS: usize = 15;

/// The group's rows, the app with the three tenants of `env`.
pub(super) fn rows(app: &Path, floor: &Path, env: &[(&str, &Path)]) -> Vec<Row> {
    let mut rows = Vec::new();
    // The empty window paints on the CPU too, as the app asks WebKit to (see
    // `prefer_cpu_rendering` in the app), so that the two differ only by what the app does.
    let mut cpu = env.to_vec();
    cpu.push(("WEBKIT_SKIA_ENABLE_CPU_RENDERING", Path::new("1")));
    let what = format!("app cold start to tenant list painted (median of {START_RUNS})");
    rows.push(or_failed(what.clone(), || {
        cold_start(app, floor, env, "empty window")
    }));
    rows.push(or_failed(what, || {
        cold_start(app, floor, &cpu, "CPU-painted empty window")
    }));
    rows.push(or_failed(
        format!("tray \"Show window\" to tenant list painted (median of {SHOW_RUNS})"),
        || show_window(app, floor, &cpu),
    ));
    rows
}

/// Cold start to the tenant list painted, against the empty window (`floor_name` in the table).
fn cold_start(
    app: &Path,
    floor: &Path,
    env: &[(&str, &Path)],
    floor_name: &str,
) -> Result<Row, String> {
    let driver = Driver::start(env)?;
    // One warm-up launch each (page cache), then alternate.
    time_to_painted(&driver, app, APP_PAINTED)?;
    time_to_painted(&driver, floor, FLOOR_PAINTED)?;
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..START_RUNS {
        ours.push(time_to_painted(&driver, app, APP_PAINTED)?);
        base.push(time_to_painted(&driver, floor, FLOOR_PAINTED)?);
    }
    drop(driver);
    let at_once = ours.iter().chain(&base).filter(|l| l.at_once).count();
    let mid = |v: &[Launch], f: fn(&Launch) -> Duration| {
        let mut d: Vec<Duration> = v.iter().map(f).collect();
        median(&mut d).as_millis()
    };
    eprintln!(
        "bench: cold start vs {floor_name} (ms) app {:?} floor {:?} (session attached after the paint: {at_once} of {})",
        ms_list(&ours.iter().map(|l| l.painted).collect::<Vec<_>>()),
        ms_list(&base.iter().map(|l| l.painted).collect::<Vec<_>>()),
        ours.len() + base.len(),
    );
    eprintln!(
        "bench: median navigation start / DOMContentLoaded / painted (ms): app {} / {} / {}, floor {} / {} / {}",
        mid(&ours, |l| l.navigation),
        mid(&ours, |l| l.dom_loaded),
        mid(&ours, |l| l.painted),
        mid(&base, |l| l.navigation),
        mid(&base, |l| l.dom_loaded),
        mid(&base, |l| l.painted),
    );
    let mut ours: Vec<Duration> = ours.iter().map(|l| l.painted).collect();
    let mut base: Vec<Duration> = base.iter().map(|l| l.painted).collect();
    let (m_ours, m_base) = (median(&mut ours), median(&mut base));
    let ratio = m_ours.as_secs_f64() / m_base.as_secs_f64();
    Ok(Row {
        what: format!("app cold start to tenant list painted (median of {START_RUNS})"),
        figure: format!(
            "{} vs {floor_name} {} = {ratio:.2}x",
            crate::ms(m_ours),
            crate::ms(m_base)
        ),
        target: "<= 1.3x floor".into(),
        verdict: if ratio <= 1.3 { "met" } else { "MISSED" },
    })
}
