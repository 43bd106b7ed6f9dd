//! Waiting for a page's own record of its paint: the paint marks of the app and the empty window,
//! and one launch timed to its mark.

use super::driver::{retried, Driver};
use super::{epoch_ms, verbose};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// The app's paint mark, where its page shows the fixture's first tenant, and its name.
pub(super) const APP_PAINTED: Painted = (
    "tenant-list-painted",
    "li.tenant .name",
    "bench0.onmicrosoft.com",
);
/// The empty window's paint mark and heading.
pub(super) const FLOOR_PAINTED: Painted = ("painted", "#painted", "Empty window");
/// A page's paint: its performance mark, and a selector whose text must contain the given text.
pub(super) type Painted = (&'static str, &'static str, &'static str);

/// Resolves with the epoch ms of the page's performance mark `arguments[0]` once it exists and
/// `arguments[1]` matches an element whose text contains `arguments[2]`; also when the page's
/// navigation started and its DOMContentLoaded handlers ended, and whether the mark was there at
/// the first look (the session attached after the paint).
pub(super) const WAIT_MARK: &str = r#"
const [mark, sel, want, done] = [arguments[0], arguments[1], arguments[2], arguments[arguments.length - 1]];
let first = true, atOnce = false;
(function check() {
  const m = performance.getEntriesByName(mark)[0];
  const e = document.querySelector(sel);
  if (m && e && e.textContent.includes(want)) {
    const nav = performance.getEntriesByType("navigation")[0] || {};
    const origin = performance.timeOrigin;
    done({ at: origin + m.startTime, origin, dcl: origin + (nav.domContentLoadedEventEnd || 0), atOnce: first });
  } else {
    first = false;
    setTimeout(check, 20);
  }
})();
"#;

/// One launch to painted, each time from the request that launches the process.
pub(super) struct Launch {
    pub(super) painted: Duration,
    pub(super) navigation: Duration,
    pub(super) dom_loaded: Duration,
    pub(super) at_once: bool,
}

/// Launches `binary` through WebDriver and waits for its paint mark (see [`Painted`]). A launch
/// whose session does not start is tried again, timed afresh.
pub(super) fn time_to_painted(
    driver: &Driver,
    binary: &Path,
    painted: Painted,
) -> Result<Launch, String> {
    let what = format!("a WebDriver session with {}", binary.display());
    let (t0, s) = retried(&what, || {
        let t0 = epoch_ms();
        driver.session_once(binary, &[]).map(|s| (t0, s))
    })?;
    let v = s.execute_async(WAIT_MARK, json!([painted.0, painted.1, painted.2]))?;
    drop(s);
    let since = |k: &str| -> Result<Duration, String> {
        let at = v[k].as_f64().ok_or_else(|| format!("no {k} in {v}"))?;
        Ok(Duration::from_secs_f64(((at - t0) / 1000.0).max(0.0)))
    };
    let launch = Launch {
        painted: since("at")?,
        navigation: since("origin")?,
        dom_loaded: since("dcl")?,
        at_once: v["atOnce"].as_bool().unwrap_or(false),
    };
    if verbose() {
        eprintln!(
            "bench: {}: navigation start {} ms, DOMContentLoaded {} ms, painted {} ms",
            binary.file_name().unwrap_or_default().to_string_lossy(),
            launch.navigation.as_millis(),
            launch.dom_loaded.as_millis(),
            launch.painted.as_millis()
        );
    }
    Ok(launch)
}
