//! Desktop app figures of issue 3, in the real window under an X display (`scripts/bench` runs
//! this under Xvfb):
//!
//! - **cold start to the tenant list painted**: `vbm365-auth-app` vs. `vbm365-bench-window` (an
//!   empty Tauri 2 window, built by `scripts/bench` in the same run). Both are launched the same way,
//!   through `tauri-driver` / WebKitWebDriver, and timed from the request that launches the process
//!   to a performance mark each page sets two animation frames after it painted what is watched
//!   (the app: `tenant-list-painted`, after its first tenant list; the empty window: `painted`,
//!   after its heading). The session attaches to the app's window process only once that process
//!   is up, which WebKitWebDriver polls for, so the page's own record of the paint is read rather
//!   than watching for it.
//! - **"Show window" to the tenant list painted** (issue 13): the app started `--hidden` (tray
//!   only) under WebDriver, "Show window" clicked in its tray over D-Bus, timed from the click to
//!   the page's own `tenant-list-painted` mark (two animation frames after its first tenant list),
//!   against the empty window's cold start, alternated in the same run. The session attaches to
//!   the window only once it exists and WebKitWebDriver polls for it, so the page's mark is read
//!   afterwards instead of watching for the paint.
//! - **idle memory**: summed RSS of the process and every descendant (the window process,
//!   WebKitWebProcess, WebKitNetworkProcess, …) a few seconds after a plain launch (no WebDriver):
//!   with the window open, after the window was closed (as a window manager closes it), and after
//!   a `--hidden` start.
//! - **approval at the emulator to "Signed in" shown**: the page's clock when `#signin-status`
//!   says so, minus the wall clock just before `Emulators::approve`.
//!
//! A WebDriver session that does not start is tried again ([`SESSION_ATTEMPTS`]); if it still
//! does not, the row says why instead of the run stopping.

use crate::{median, Row};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vbm365_emulator::Emulators;
use vbm365_testkit::procs::{descendants, name as comm, parent, rss_kib};
use vbm365_testkit::tray::TrayMenu;
use vbm365_testkit::x11::Display;

/// Port of tauri-driver (WebKitWebDriver's is the next one): not the default 4444, so that the
/// benchmark can run beside the end-to-end tests. A second driver, for a second config dir, takes
/// the two after.
const DRIVER_PORT: u16 = 4454;
const SECOND_DRIVER_PORT: u16 = 4456;
const START_RUNS: usize = 15;
const SHOW_RUNS: usize = 10;
const MEMORY_RUNS: usize = 3;
const SIGN_IN_RUNS: usize = 5;
/// Time from launch after which a window counts as idle for the memory figure.
const IDLE_AFTER: Duration = Duration::from_secs(6);
/// Time after the window process ended after which the app counts as idle again.
const IDLE_AFTER_CLOSE: Duration = Duration::from_secs(4);
/// Time the tray-only app is left alone before "Show window" is clicked.
const TRAY_SETTLE: Duration = Duration::from_secs(2);
/// How often a WebDriver session (or a "Show window" run) is tried before its row gives up.
const SESSION_ATTEMPTS: usize = 3;
/// Goal for the app's resident memory with no window (issue 13).
const NO_WINDOW_GOAL_MB: f64 = 80.0;
/// The app's paint mark, where its page shows the fixture's first tenant, and its name.
const APP_PAINTED: Painted = (
    "tenant-list-painted",
    "li.tenant .name",
    "bench0.onmicrosoft.com",
);
/// The empty window's paint mark and heading.
const FLOOR_PAINTED: Painted = ("painted", "#painted", "Empty window");
/// A page's paint: its performance mark, and a selector whose text must contain the given text.
type Painted = (&'static str, &'static str, &'static str);

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

/// Resolves with the epoch ms of the page's performance mark `arguments[0]` once it exists and
/// `arguments[1]` matches an element whose text contains `arguments[2]`; also when the page's
/// navigation started and its DOMContentLoaded handlers ended, and whether the mark was there at
/// the first look (the session attached after the paint).
const WAIT_MARK: &str = r#"
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

pub fn rows(emu: &Emulators, rt: &tokio::runtime::Runtime) -> Vec<Row> {
    let dir = crate::exe_dir();
    let app = dir.join("vbm365-auth-app");
    let floor = dir.join("vbm365-bench-window");
    if std::env::var_os("DISPLAY").is_none() || !app.exists() || !floor.exists() {
        eprintln!(
            "bench: desktop figures skipped (need DISPLAY, {} and {}; run scripts/bench)",
            app.display(),
            floor.display()
        );
        return vec![];
    }
    let mut rows = Vec::new();

    // Three signed-in tenants, secrets in the session's Secret Service.
    let fx = rt.block_on(crate::fixture(emu, 3));
    let env: Vec<(&str, &Path)> = vec![("VBM365_AUTH_CONFIG_DIR", fx.dir.path())];

    // The empty window paints on the CPU too, as the app asks WebKit to (see
    // `prefer_cpu_rendering` in the app), so that the two differ only by what the app does.
    let mut cpu = env.clone();
    cpu.push(("WEBKIT_SKIA_ENABLE_CPU_RENDERING", Path::new("1")));
    if crate::wanted("start") {
        let what = format!("app cold start to tenant list painted (median of {START_RUNS})");
        rows.push(or_failed(what.clone(), || {
            cold_start(&app, &floor, &env, "empty window")
        }));
        rows.push(or_failed(what, || {
            cold_start(&app, &floor, &cpu, "CPU-painted empty window")
        }));
        rows.push(or_failed(
            format!("tray \"Show window\" to tenant list painted (median of {SHOW_RUNS})"),
            || show_window(&app, &floor, &cpu),
        ));
    }
    if crate::wanted("many") {
        // A service provider's list: 500 signed-in tenants.
        let many = rt.block_on(crate::fixture(emu, MANY));
        let many_env: Vec<(&str, &Path)> = vec![("VBM365_AUTH_CONFIG_DIR", many.dir.path())];
        rows.push(or_failed(
            format!("app cold start, {MANY} vs 3 tenants (median of {START_RUNS})"),
            || many_cold_start(&app, &env, &many_env),
        ));
        rows.push(or_failed(
            format!(
                "{MANY} tenants: filter keystroke to repaint ({} keys)",
                2 * FILTER_TYPED.len() * FILTER_ROUNDS
            ),
            || filter_keystrokes(&app, &many_env),
        ));
    }
    if crate::wanted("memory") {
        rows.extend(idle_memory(&app, &floor, &env));
    }
    if crate::wanted("signin") {
        rows.push(or_failed(
            format!("approval to \"Signed in\" shown ({SIGN_IN_RUNS} runs)"),
            || sign_in(&app, emu),
        ));
    }
    rows
}

/// The row `measure` makes, or one saying why it could not be measured.
fn or_failed(what: String, measure: impl FnOnce() -> Result<Row, String>) -> Row {
    measure().unwrap_or_else(|why| {
        eprintln!("bench: {what}: not measured: {why}");
        Row {
            what,
            figure: format!(
                "not measured: {}",
                why.chars().take(120).collect::<String>()
            ),
            target: String::new(),
            verdict: "FAILED",
        }
    })
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

/// "Show window" in the tray of the app started `--hidden`, to its tenant list painted, against
/// the empty window's cold start (both painting on the CPU), alternated.
fn show_window(app: &Path, floor: &Path, env: &[(&str, &Path)]) -> Result<Row, String> {
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

/// `attempt` until it succeeds, at most [`SESSION_ATTEMPTS`] times; the last error otherwise.
fn retried<T>(what: &str, mut attempt: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let mut last = String::new();
    for n in 1..=SESSION_ATTEMPTS {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) => {
                eprintln!("bench: {what}: attempt {n} of {SESSION_ATTEMPTS} failed: {e}");
                last = e;
                sleep(Duration::from_secs(2));
            }
        }
    }
    Err(format!(
        "{what} failed {SESSION_ATTEMPTS} times; last: {last}"
    ))
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

/// The tenants of the service provider's list.
const MANY: usize = 500;
/// What is typed into the filter, then deleted again key by key: it narrows the 500 rows down to
/// 11 (`bench49`, `bench490`…`bench499`).
const FILTER_TYPED: &str = "bench49";
const FILTER_ROUNDS: usize = 2;
/// Goal for a filter keystroke to the repaint (issue 12).
const FILTER_GOAL: Duration = Duration::from_millis(50);

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
    let shown = s.execute(
        "return [...document.querySelectorAll('li.tenant')].filter((li) => !li.hidden).length",
        json!([]),
    )?;
    if shown != json!(MANY) {
        return Err(format!(
            "after deleting the filter, {shown} rows show, not {MANY}"
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
        target: format!("<= {} ms", FILTER_GOAL.as_millis()),
        verdict: if med <= FILTER_GOAL { "met" } else { "MISSED" },
    })
}

/// The three idle-memory rows: window open against the empty window, and with no window (closed
/// after it was opened once; started `--hidden`) against the goal.
fn idle_memory(app: &Path, floor: &Path, env: &[(&str, &Path)]) -> Vec<Row> {
    let (mut open, mut closed, mut hidden, mut base) = (vec![], vec![], vec![], vec![]);
    let mut details = Vec::new();
    for _ in 0..MEMORY_RUNS {
        for (how, into) in [
            (Idle::WindowOpen, &mut open),
            (Idle::ClosedAfterOpen, &mut closed),
            (Idle::Hidden, &mut hidden),
        ] {
            match idle_rss(app, env, how) {
                Ok((kib, procs)) => {
                    into.push(kib);
                    details.push(format!("{how:?}: {procs}"));
                }
                Err(e) => eprintln!("bench: idle RSS {how:?}: {e}"),
            }
        }
        if let Ok((kib, _)) = idle_rss(floor, env, Idle::WindowOpen) {
            base.push(kib);
        }
    }
    eprintln!(
        "bench: idle RSS (KiB) window open {open:?}, closed after open {closed:?}, --hidden \
         {hidden:?}, empty window {base:?}; last processes: {}",
        details.join("; ")
    );
    let mb = |kib: u64| kib as f64 / 1024.0;
    let mid = |v: &mut Vec<u64>| -> Option<u64> {
        v.sort();
        v.get(v.len() / 2).copied()
    };
    let (open, closed, hidden, base) = (
        mid(&mut open),
        mid(&mut closed),
        mid(&mut hidden),
        mid(&mut base),
    );
    let failed = |what: String| Row {
        what,
        figure: "not measured (see the log above)".into(),
        target: String::new(),
        verdict: "FAILED",
    };
    let mut rows = Vec::new();
    let what =
        format!("app idle RSS, window open, with WebKit processes (median of {MEMORY_RUNS})");
    rows.push(match (open, base) {
        (Some(o), Some(b)) => {
            let ratio = o as f64 / b as f64;
            Row {
                what,
                figure: format!(
                    "{:.1} MB vs empty window {:.1} MB = {ratio:.2}x",
                    mb(o),
                    mb(b)
                ),
                target: "<= 1.25x floor".into(),
                verdict: if ratio <= 1.25 { "met" } else { "MISSED" },
            }
        }
        _ => failed(what),
    });
    let beside = format!(
        "(window open {}, empty window {})",
        open.map_or("-".into(), |o| format!("{:.0} MB", mb(o))),
        base.map_or("-".into(), |b| format!("{:.0} MB", mb(b)))
    );
    for (what, kib) in [
        (
            format!("app idle RSS, window closed after opened once (median of {MEMORY_RUNS})"),
            closed,
        ),
        (
            format!("app idle RSS after --hidden, no window yet (median of {MEMORY_RUNS})"),
            hidden,
        ),
    ] {
        rows.push(match kib {
            Some(k) => Row {
                what,
                figure: format!("{:.1} MB {beside}", mb(k)),
                target: format!("<= {NO_WINDOW_GOAL_MB:.0} MB"),
                verdict: if mb(k) <= NO_WINDOW_GOAL_MB {
                    "met"
                } else {
                    "MISSED"
                },
            },
            None => failed(what),
        });
    }
    rows
}

/// How the app is left before its idle memory is read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Idle {
    /// Launched plainly: its window open.
    WindowOpen,
    /// Launched plainly, then its window closed as a window manager closes it.
    ClosedAfterOpen,
    /// Launched with `--hidden`: tray only.
    Hidden,
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

fn ms_list(v: &[Duration]) -> Vec<u64> {
    v.iter().map(|d| d.as_millis() as u64).collect()
}

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        * 1000.0
}

/// One launch to painted, each time from the request that launches the process.
struct Launch {
    painted: Duration,
    navigation: Duration,
    dom_loaded: Duration,
    at_once: bool,
}

/// Launches `binary` through WebDriver and waits for its paint mark (see [`Painted`]). A launch
/// whose session does not start is tried again, timed afresh.
fn time_to_painted(driver: &Driver, binary: &Path, painted: Painted) -> Result<Launch, String> {
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

/// `VBM365_BENCH_VERBOSE=1`: every launch's timeline, and the stderr of the apps.
fn verbose() -> bool {
    std::env::var_os("VBM365_BENCH_VERBOSE").is_some()
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

/// RSS (KiB) of a plainly launched `binary` and all its descendants once idle (left as `how`
/// says), and their names.
fn idle_rss(binary: &Path, env: &[(&str, &Path)], how: Idle) -> Result<(u64, String), String> {
    let mut cmd = Command::new(binary);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    if how == Idle::Hidden {
        cmd.arg("--hidden");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| format!("launch: {e}"))?;
    sleep(IDLE_AFTER);
    let pid = child.id();
    if how == Idle::ClosedAfterOpen {
        if let Err(e) = close_window(pid) {
            stop_tree(&mut child);
            return Err(e);
        }
        sleep(IDLE_AFTER_CLOSE);
    }
    let mut tree = vec![pid];
    tree.extend(descendants(pid));
    let mut total = 0;
    let mut names = Vec::new();
    for p in &tree {
        if let Some(kib) = rss_kib(*p) {
            total += kib;
            names.push(format!("{} {} MB", comm(*p), kib / 1024));
        }
    }
    stop_tree(&mut child);
    Ok((total, names.join(", ")))
}

/// The app's window process under the app's first process `pid`: its child running the same
/// executable (started with `--window`, or forked off it when the app started).
fn window_process(pid: u32) -> Option<u32> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    descendants(pid).into_iter().find(|&p| {
        parent(p) == Some(pid)
            && std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe)
    })
}

/// Closes the window of the app `pid` as a window manager does (`WM_DELETE_WINDOW`), again every
/// second while it is there (without a window manager, one sent while the window starts up may
/// be lost), until its window process has ended.
fn close_window(pid: u32) -> Result<(), String> {
    let display = Display::open()?;
    let window_pid = window_process(pid).ok_or("no window process to close")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while window_process(pid).is_some() {
        if Instant::now() > deadline {
            return Err(format!(
                "the window process {window_pid} still runs after 20 s"
            ));
        }
        for w in display.visible_windows_of(window_pid)? {
            display.close(w.id)?;
        }
        sleep(Duration::from_secs(1));
    }
    Ok(())
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: plain FFI call; the pid comes from a live child tree of ours.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// SIGTERM to a child and its descendants, SIGKILL to whatever is left after 3 s; reaps the child.
fn stop_tree(child: &mut Child) {
    let pid = child.id();
    let tree = descendants(pid);
    signal(pid, libc::SIGTERM);
    for &p in &tree {
        signal(p, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_)))
            && tree
                .iter()
                .all(|p| !Path::new(&format!("/proc/{p}")).exists())
        {
            return;
        }
        sleep(Duration::from_millis(20));
    }
    for &p in &tree {
        signal(p, libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn tauri_driver() -> PathBuf {
    std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"))
        })
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

/// `tauri-driver` (in front of WebKitWebDriver) on its port, with `env` passed to the apps.
struct Driver(Child, u16);

impl Driver {
    /// tauri-driver on [`DRIVER_PORT`].
    fn start(env: &[(&str, &Path)]) -> Result<Driver, String> {
        Driver::start_on(env, DRIVER_PORT)
    }

    /// tauri-driver on `port`, WebKitWebDriver on the next one.
    fn start_on(env: &[(&str, &Path)], port: u16) -> Result<Driver, String> {
        let mut cmd = Command::new(tauri_driver());
        cmd.args(["--port", &port.to_string()])
            .args(["--native-port", &(port + 1).to_string()])
            .stdout(Stdio::null())
            .stderr(if verbose() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start tauri-driver (scripts/setup installs it): {e}"))?;
        let driver = Driver(child, port);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("tauri-driver did not listen on port {port}"));
            }
            sleep(Duration::from_millis(50));
        }
        Ok(driver)
    }

    /// A session with `binary`, tried up to [`SESSION_ATTEMPTS`] times.
    fn session(&self, binary: &Path) -> Result<Session<'_>, String> {
        let what = format!("a WebDriver session with {}", binary.display());
        retried(&what, || self.session_once(binary, &[]))
    }

    /// One session request: the app launched with `args`. A failed one leaves no app behind.
    fn session_once(&self, binary: &Path, args: &[&str]) -> Result<Session<'_>, String> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": binary, "args": args}
        }}});
        let reply = http(self.1, "POST", "/session", Some(&caps));
        match reply.as_ref().map(|v| v["value"]["sessionId"].as_str()) {
            Ok(Some(id)) => Ok(Session {
                driver: self,
                id: id.to_string(),
            }),
            _ => {
                // An app left running would take the next launch's place (single instance).
                self.stop_apps();
                Err(match reply {
                    Ok(v) => format!("no WebDriver session: {v}"),
                    Err(e) => format!("no WebDriver session: {e}"),
                })
            }
        }
    }

    /// The app `binary` launched under this driver (WebKitWebDriver's child, not a window
    /// process).
    fn app_pid(&self, binary: &Path) -> Option<u32> {
        let is_app =
            |p: u32| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == binary);
        descendants(self.0.id())
            .into_iter()
            .find(|&p| is_app(p) && !parent(p).is_some_and(is_app))
    }

    /// Stops every app WebKitWebDriver started (the app may close to the tray instead of exiting)
    /// and waits up to 5 s for them to go.
    fn stop_apps(&self) {
        for p in descendants(self.0.id()) {
            if comm(p) != "WebKitWebDriver" {
                signal(p, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while descendants(self.0.id())
            .iter()
            .any(|&p| comm(p) != "WebKitWebDriver")
            && Instant::now() < deadline
        {
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        stop_tree(&mut self.0);
    }
}

/// A WebDriver session: its app is stopped (with its WebKit processes) on drop.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    /// The WebDriver id of the first element matching `css`.
    fn find(&self, css: &str) -> Result<String, String> {
        let body = json!({"using": "css selector", "value": css});
        let v = http(
            self.driver.1,
            "POST",
            &format!("/session/{}/element", self.id),
            Some(&body),
        )?;
        v["value"]
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no element {css}: {v}"))
    }

    /// Types `text` into the element `id` (WebDriver key codes for special keys).
    fn send_keys(&self, id: &str, text: &str) -> Result<(), String> {
        let body = json!({"text": text});
        let v = http(
            self.driver.1,
            "POST",
            &format!("/session/{}/element/{id}/value", self.id),
            Some(&body),
        )?;
        if v["value"]["error"].is_string() {
            return Err(format!("WebDriver send keys: {v}"));
        }
        Ok(())
    }

    fn execute_async(&self, script: &str, args: Value) -> Result<Value, String> {
        self.cmd("execute/async", script, args)
    }

    fn execute(&self, script: &str, args: Value) -> Result<Value, String> {
        self.cmd("execute/sync", script, args)
    }

    fn cmd(&self, what: &str, script: &str, args: Value) -> Result<Value, String> {
        let body = json!({"script": script, "args": args});
        let v = http(
            self.driver.1,
            "POST",
            &format!("/session/{}/{what}", self.id),
            Some(&body),
        )?;
        if v["value"]["error"].is_string() || v.is_null() {
            return Err(format!("WebDriver {what}: {v}"));
        }
        Ok(v["value"].clone())
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = http(
            self.driver.1,
            "DELETE",
            &format!("/session/{}", self.id),
            None,
        );
        self.driver.stop_apps();
    }
}

/// One HTTP/1.0 exchange with tauri-driver (HTTP/1.0: the body ends when the connection closes).
/// `Null` when the reply is not JSON (what tauri-driver answers when it could not reach
/// WebKitWebDriver, say).
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connect to tauri-driver: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("send to tauri-driver: {e}"))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)
        .map_err(|e| format!("read from tauri-driver: {e}"))?;
    let text = String::from_utf8_lossy(&resp);
    let json = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok(serde_json::from_str(json).unwrap_or(Value::Null))
}
