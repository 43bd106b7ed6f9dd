//! The window's capability (`capabilities/main.json`) grants what `ui/*.js` uses and nothing more:
//! the app's own commands and listening to events. Tauri's `core:default` (window, webview, app,
//! path, menu, tray, image, resources, emitting events) is out of the page's reach.

mod ipc;
mod sources;

use ipc::{app, call, refused_by_acl, text};
use serde_json::json;

/// Bug caught: the capability granting all of `core:default` again (or more): a script injected
/// into the page could then close, hide, move or retitle the window, open new webviews, emit the
/// app's own events (a forged `state-changed` or `sign-in-progress`), build tray icons and menus,
/// or read the app's paths.
#[test]
fn core_apis_the_ui_does_not_use_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, w) = app(dir.path());
    for (cmd, args) in [
        ("plugin:window|close", json!({"label": "main"})),
        ("plugin:window|hide", json!({"label": "main"})),
        (
            "plugin:window|set_title",
            json!({"label": "main", "value": "x"}),
        ),
        ("plugin:window|title", json!({"label": "main"})),
        ("plugin:window|get_all_windows", json!({})),
        ("plugin:webview|get_all_webviews", json!({})),
        ("plugin:webview|print", json!({"label": "main"})),
        ("plugin:app|version", json!({})),
        ("plugin:app|name", json!({})),
        ("plugin:app|default_window_icon", json!({})),
        ("plugin:path|resolve_directory", json!({"directory": 11})),
        (
            "plugin:event|emit",
            json!({"event": "state-changed", "payload": {}}),
        ),
        (
            "plugin:event|emit_to",
            json!({"target": {"kind": "Any"}, "event": "sign-in-progress", "payload": {}}),
        ),
        ("plugin:menu|new", json!({"kind": "Menu", "options": {}})),
        ("plugin:tray|new", json!({"options": {}})),
        ("plugin:image|from_bytes", json!({"bytes": [0]})),
        ("plugin:resources|close", json!({"rid": 1})),
    ] {
        let e = call(&w, cmd, args).expect_err(cmd);
        assert!(refused_by_acl(&e), "{cmd} is not refused by the ACL: {e}");
    }
}

/// Bug caught: a narrowing that goes too far: the window could no longer hear `state-changed`
/// and `sign-in-progress`, or call one of the app's commands (each is in the permission manifest
/// of `src-tauri/build.rs` and in the capability).
#[test]
fn what_the_ui_uses_is_still_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, w) = app(dir.path());
    for event in ["state-changed", "sign-in-progress", "tray-sign-in"] {
        call(
            &w,
            "plugin:event|listen",
            json!({"event": event, "target": {"kind": "Any"}, "handler": 7}),
        )
        .unwrap_or_else(|e| panic!("listen to {event}: {e}"));
    }
    // Every command registered in src-tauri/src/lib.rs (`contract.rs` checks that build.rs and
    // the capability list the same ones).
    let app_commands = sources::registered_commands();
    for cmd in &app_commands {
        // Most fail here (no tenant, no sign-in, missing arguments): with the command's own error,
        // not the ACL's.
        if let Err(e) = call(&w, cmd, json!({})) {
            assert!(!refused_by_acl(&e), "{cmd}: {}", text(&e));
        }
    }
    // And the UI calls no command that is not the app's.
    let ui: String = ["ui/app.js", "ui/signin.js", "ui/format.js"]
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    for call in ui.split("invoke(\"").skip(1) {
        let cmd = call.split('"').next().unwrap_or_default();
        assert!(app_commands.iter().any(|c| c == cmd), "ui calls {cmd}");
    }
    for api in [
        "__TAURI__.window",
        "__TAURI__.webview",
        "__TAURI__.app",
        "__TAURI__.path",
    ] {
        assert!(
            !ui.contains(api),
            "ui uses {api}: grant it in the capability"
        );
    }
}
