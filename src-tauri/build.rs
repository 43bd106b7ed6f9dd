//! Generates the Tauri context and the permissions of the app's own commands, so the capability
//! in `capabilities/` can grant the main window exactly these commands and nothing else.

// `APP_COMMANDS`: the one list, shared with the core's JSON contract.
include!("../crates/core/src/contract/commands.rs");

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(APP_COMMANDS)),
    )
    .expect("tauri-build failed");
}
