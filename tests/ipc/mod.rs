//! The app's commands through Tauri's IPC on the mock runtime (no window, no display), for the IPC
//! tests: the same [`vbm365_auth_app::build`] and plugins the real app uses, over an engine in a
//! temporary config dir, with the app's real context, so the capability in `capabilities/` is
//! enforced too.

#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindow;
use vbm365_auth_core::{Engine, EngineOptions, StorageChoice};

/// An engine on `dir` keeping secrets in a plain file (no keyring needed).
pub fn engine(dir: &Path) -> Engine {
    let mut opts = EngineOptions::from_env(Some(dir.to_path_buf())).expect("options");
    opts.storage = StorageChoice::PlainFile;
    Engine::open(opts).expect("engine")
}

/// The app on the mock runtime and its main window. The real plugins are registered, as the app
/// registers them: a plugin command must be refused by the capability, not fail because no
/// plugin is there to answer it.
pub fn app(dir: &Path) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let engine = Arc::new(engine(dir));
    let app = vbm365_auth_app::build(vbm365_auth_app::plugins(mock_builder()), engine)
        .build(tauri::generate_context!(test = true))
        .expect("app");
    let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("window");
    (app, window)
}

/// Invokes `cmd` from the app's own page.
pub fn call(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    call_from(w, "tauri://localhost", cmd, args)
}

/// Invokes `cmd` from a page at `url`.
pub fn call_from(
    w: &WebviewWindow<MockRuntime>,
    url: &str,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: url.parse().expect("url"),
            body: tauri::ipc::InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().expect("json"))
}

/// The text of an IPC error (a string from the ACL, an object from a command).
pub fn text(e: &Value) -> String {
    e.as_str().map_or_else(|| e.to_string(), str::to_string)
}

/// Whether the error is the capability refusing the call.
pub fn refused_by_acl(e: &Value) -> bool {
    text(e).contains("not allowed")
}
