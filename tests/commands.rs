//! The app's commands through Tauri's IPC on the mock runtime (no window, no display): the same
//! [`vbm365_auth_app::build`] the real app uses, over an engine in a temporary config dir, with the
//! app's real context, so the capability in `capabilities/` is enforced too.

mod ipc;

use ipc::{app, call, call_from, text};
use serde_json::{json, Value};
use tauri::Manager;

fn names(snapshot: &Value) -> Vec<(String, bool)> {
    snapshot["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_string(),
                t["active"] == true,
            )
        })
        .collect()
}

#[test]
fn add_switch_and_remove_tenants_through_ipc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, w) = app(dir.path());

    let empty = call(&w, "get_state", json!({})).expect("get_state");
    assert_eq!(names(&empty), vec![]);
    assert_eq!(empty["plaintext_storage"], true);

    let form = |name: &str| {
        json!({"form": {"name": name, "server": "https://vbm.example:4443", "api_version": "v7",
                        "authority": "https://login.microsoftonline.us"}})
    };
    // Kept as typed: VBM365 compares organization names case-sensitively.
    let s = call(&w, "add_tenant", form("Contoso.onmicrosoft.com")).expect("add");
    assert_eq!(names(&s), vec![("Contoso.onmicrosoft.com".into(), true)]);
    let t = &s["tenants"][0];
    assert_eq!(t["state"], "signed_out");
    assert_eq!(t["api_version"], "v7");
    assert_eq!(
        t["authority"], "https://login.microsoftonline.us",
        "as people write it"
    );
    let s = call(&w, "add_tenant", form("fabrikam.onmicrosoft.com")).expect("add");
    assert_eq!(
        names(&s),
        vec![
            ("Contoso.onmicrosoft.com".into(), true),
            ("fabrikam.onmicrosoft.com".into(), false)
        ]
    );

    let s = call(
        &w,
        "switch_tenant",
        json!({"name": "fabrikam.onmicrosoft.com"}),
    )
    .expect("switch");
    assert_eq!(names(&s)[1], ("fabrikam.onmicrosoft.com".into(), true));
    // The CLI shares the file: the switch is on disk.
    let on_disk = std::fs::read_to_string(dir.path().join("config.json")).expect("config");
    assert!(
        on_disk.contains("\"active_tenant\": \"fabrikam.onmicrosoft.com\""),
        "{on_disk}"
    );

    let s = call(
        &w,
        "remove_tenant",
        json!({"name": "contoso.onmicrosoft.com"}),
    )
    .expect("remove");
    assert_eq!(names(&s), vec![("fabrikam.onmicrosoft.com".into(), true)]);
}

#[test]
fn errors_reach_the_ui_as_code_and_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, w) = app(dir.path());

    let e = call(
        &w,
        "add_tenant",
        json!({"form": {"name": "contoso.example", "server": "http://vbm.example"}}),
    )
    .expect_err("http is refused for a remote server");
    assert_eq!(e["code"], "invalid_input");
    assert_eq!(e["field"], "server");
    assert!(
        e["message"].as_str().unwrap_or_default().contains("https"),
        "{e}"
    );

    let e = call(&w, "switch_tenant", json!({"name": "nobody.example"})).expect_err("unknown");
    assert_eq!(e["code"], "tenant_not_found");

    let e = call(&w, "copy_token", json!({})).expect_err("no active tenant");
    assert_eq!(e["code"], "no_active_tenant");

    let e = call(&w, "open_sign_in_page", json!({})).expect_err("no sign-in");
    assert_eq!(e["code"], "no_sign_in");
}

#[test]
fn remote_pages_and_plugin_commands_are_refused_by_the_capability() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (app, w) = app(dir.path());
    let e = call_from(&w, "https://evil.example", "get_state", json!({})).expect_err("remote");
    assert!(text(&e).contains("not allowed"), "{e}");
    // Every plugin command the app has is out of the web UI's reach.
    for (cmd, args) in [
        ("plugin:clipboard-manager|read_text", json!({})),
        ("plugin:clipboard-manager|write_text", json!({"text": "x"})),
        (
            "plugin:notification|notify",
            json!({"options": {"title": "x"}}),
        ),
        ("plugin:notification|is_permission_granted", json!({})),
        ("plugin:autostart|enable", json!({})),
        ("plugin:autostart|is_enabled", json!({})),
    ] {
        let e = call(&w, cmd, args).expect_err(cmd);
        assert!(text(&e).contains("not allowed"), "{cmd}: {e}");
    }
    assert!(call(&w, "get_state", json!({})).is_ok());

    // Control: granted the permission, the same call gets past the ACL to the registered plugin
    // (which answers with the clipboard's text or the clipboard's own error). So above, it was
    // the capability that refused.
    app.add_capability(
        tauri::ipc::CapabilityBuilder::new("test-clipboard-read")
            .window("main")
            .permission("clipboard-manager:allow-read-text"),
    )
    .expect("capability");
    if let Err(e) = call(&w, "plugin:clipboard-manager|read_text", json!({})) {
        let e = text(&e);
        assert!(
            !e.contains("not allowed") && !e.contains("not found"),
            "{e}"
        );
    }
    assert!(call(&w, "plugin:autostart|enable", json!({})).is_err());
}
