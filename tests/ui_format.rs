//! `ui/format.js` run by Node.js (the window's own helpers are plain ES modules): the keyring's
//! words name the keyring of the platform the window runs on, which the app tells the page
//! (`window::platform_script`).
//!
//! Needs `node` (scripts/setup installs Debian's `nodejs`).

use serde_json::Value;
use std::process::Command;

/// Runs `body` as an ES module after `ui/format.js` was imported as `m` with the page global
/// `window.__VBM365_PLATFORM__` set to `platform` (none: not set); returns what `body` prints.
fn with_format_js(platform: Option<&str>, body: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/format.js");
    let global = match platform {
        Some(p) => format!(
            "globalThis.window = {{ __VBM365_PLATFORM__: {} }};",
            Value::from(p)
        ),
        None => String::new(),
    };
    // Imported from a data: URL, so that Node reads it as the ES module it is whatever the
    // package settings around it say.
    let script = format!(
        r#"import {{ readFileSync }} from "node:fs";
{global}
const src = readFileSync({path}, "utf8");
const m = await import("data:text/javascript;base64," + Buffer.from(src).toString("base64"));
{body}"#,
        path = Value::from(path),
    );
    let out = Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): scripts/setup installs nodejs"));
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from node")
}

const HINTS: &str = r#"console.log(JSON.stringify({
  platform: m.PLATFORM,
  start: m.remedyHint("start_keyring"),
  unlock: m.remedyHint("unlock_keyring"),
  signIn: m.remedyHint("sign_in"),
  none: m.remedyHint(undefined),
}));"#;

#[test]
fn keyring_hints_name_the_keyring_of_the_platform_the_window_runs_on() {
    let windows = with_format_js(Some("windows"), HINTS);
    assert_eq!(windows["platform"], "windows");
    let start = windows["start"].as_str().unwrap();
    assert!(start.contains("Windows Credential Manager"), "{start}");
    assert!(start.contains("VBM365_AUTH_STORAGE=file"), "{start}");
    for text in [start, windows["unlock"].as_str().unwrap()] {
        assert!(
            !text.contains("Secret Service") && !text.contains("GNOME"),
            "{text}"
        );
    }

    let macos = with_format_js(Some("macos"), HINTS);
    assert!(macos["start"].as_str().unwrap().contains("login keychain"));
    assert!(macos["unlock"].as_str().unwrap().contains("login keychain"));
    assert!(!macos["start"].as_str().unwrap().contains("Secret Service"));

    let linux = with_format_js(Some("linux"), HINTS);
    let start = linux["start"].as_str().unwrap();
    assert!(
        start.contains("Secret Service such as GNOME Keyring"),
        "{start}"
    );
    assert!(!start.contains("Credential Manager") && !start.contains("keychain"));

    // The hints that are not about the keyring are the same everywhere; no remedy, no hint.
    for p in [&windows, &macos, &linux] {
        assert_eq!(p["signIn"], "Sign in again.");
        assert_eq!(p["none"], "");
    }
}

#[test]
fn a_page_not_told_its_platform_uses_the_linux_words() {
    let unknown = with_format_js(None, HINTS);
    assert_eq!(unknown["platform"], "linux");
    assert!(unknown["start"]
        .as_str()
        .unwrap()
        .contains("Secret Service"));
}

#[test]
fn only_the_keyring_words_differ_and_only_on_platforms_rust_names() {
    let v = with_format_js(
        None,
        r#"console.log(JSON.stringify(Object.fromEntries(
  Object.entries(m.PLATFORM_REMEDY_HINTS).map(([p, h]) => [p, Object.keys(h)]))));"#,
    );
    let map = v.as_object().expect("platforms");
    let mut platforms: Vec<&str> = map.keys().map(String::as_str).collect();
    platforms.sort();
    // std::env::consts::OS names, as window::platform_script sends them.
    assert_eq!(platforms, ["macos", "windows"]);
    for (platform, remedies) in map {
        let remedies: Vec<&str> = remedies
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(
            remedies,
            ["start_keyring", "unlock_keyring"],
            "{platform}: only the keyring's words differ"
        );
    }
}
