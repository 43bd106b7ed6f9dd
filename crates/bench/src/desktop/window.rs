//! "Show window" in the tray of the app started `--hidden`, to its tenant list painted.

use super::driver::{retried, Driver};
use super::paint::{time_to_painted, APP_PAINTED, FLOOR_PAINTED, WAIT_MARK};
use super::{epoch_ms, ms_list};
use crate::{median, Row};
use serde_json::json;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};
use vbm365_testkit::procs::{descendants, name as comm};
use vbm365_testkit::tray::TrayMenu;

pub(super) const SHOW_RUNS: usize = 10;
/// Time the tray-only app is left alone before "Show window" is clicked.
const TRAY_SETTLE: Duration = Duration::from_secs(2);

/// "Show window" in the tray of the app started `--hidden`, to its tenant list painted, against
/// the empty window's cold start (both painting on the CPU), alternated.
pub(super) fn show_window(app: &Path, floor: &Path, env: &[(&str, &Path)]) -> Result<Row, String> {
    let driver = Driver::start(env)?;
    // One warm-up each, then alternate.
    retried("Show window", || show_window_once(&driver, app))?;
    time_to_painted(&driver, floor, FLOOR_PAINTED)?;
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    let mut navigation = Vec::new();
    for _ in 0..SHOW_RUNS {
        let (painted, nav) = retried("Show window", || show_window_once(&driver, app))?;
        ours.push(painted);
        navigation.push(nav);
        base.push(time_to_painted(&driver, floor, FLOOR_PAINTED)?.painted);
    }
    drop(driver);
    eprintln!(
        "bench: Show window (ms) app {:?} (navigation start {:?}), empty window cold start {:?}",
        ms_list(&ours),
        ms_list(&navigation),
        ms_list(&base)
    );
    let (m_ours, m_base) = (median(&mut ours), median(&mut base));
    let ratio = m_ours.as_secs_f64() / m_base.as_secs_f64();
    Ok(Row {
        what: format!("tray \"Show window\" to tenant list painted (median of {SHOW_RUNS})"),
        figure: format!(
            "{} vs empty window cold start {} = {ratio:.2}x",
            crate::ms(m_ours),
            crate::ms(m_base)
        ),
        target: "<= 1.3x floor".into(),
        verdict: if ratio <= 1.3 { "met" } else { "MISSED" },
    })
}

/// One "Show window" run: the app started `--hidden` by a WebDriver session request, which
/// completes only once the app has a window; "Show window" clicked in its tray after it settled.
/// Returns the click to the page's `tenant-list-painted` mark, and to the page's navigation start.
fn show_window_once(driver: &Driver, app: &Path) -> Result<(Duration, Duration), String> {
    std::thread::scope(|scope| {
        let session = scope.spawn(|| driver.session_once(app, &["--hidden"]));
        let clicked = (|| {
            let deadline = Instant::now() + Duration::from_secs(20);
            let pid = loop {
                if let Some(pid) = driver.app_pid(app) {
                    break pid;
                }
                if session.is_finished() || Instant::now() > deadline {
                    return Err("the app did not start under WebDriver".to_string());
                }
                sleep(Duration::from_millis(50));
            };
            let tray = TrayMenu::find(pid, Duration::from_secs(20), || {})?;
            if descendants(pid)
                .iter()
                .any(|&p| comm(p).starts_with("WebKit"))
            {
                return Err("WebKit processes under the app started --hidden".into());
            }
            sleep(TRAY_SETTLE);
            let item = tray
                .menu()
                .find("Show window")
                .map(|i| i.id)
                .ok_or("no \"Show window\" in the tray menu")?;
            let t0 = epoch_ms();
            tray.click(item);
            Ok(t0)
        })();
        let session = session
            .join()
            .map_err(|_| "the session request panicked".to_string())?;
        let (t0, s) = (clicked?, session?);
        let v = s.execute_async(
            WAIT_MARK,
            json!([APP_PAINTED.0, APP_PAINTED.1, APP_PAINTED.2]),
        )?;
        let since = |k: &str| -> Result<Duration, String> {
            let at = v[k].as_f64().ok_or_else(|| format!("no {k} in {v}"))?;
            Ok(Duration::from_secs_f64(((at - t0) / 1000.0).max(0.0)))
        };
        Ok((since("at")?, since("origin")?))
    })
}
