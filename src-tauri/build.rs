//! Generates the Tauri context and the permissions of the app's own commands, so the capability
//! in `capabilities/` can grant the main window exactly these commands and nothing else.

const COMMANDS: &[&str] = &[
    "get_state",
    "add_tenant",
    "update_tenant",
    "remove_tenant",
    "switch_tenant",
    "probe_certificate",
    "pin_certificate",
    "remove_trust",
    "start_sign_in",
    "cancel_sign_in",
    "open_sign_in_page",
    "copy_user_code",
    "refresh_now",
    "copy_token",
    "test_connection",
    "sign_out",
    "set_settings",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
