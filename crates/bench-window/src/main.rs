//! `vbm365-bench-window`: one Tauri 2 window showing a static page, nothing else (no plugins, no
//! commands, no tray). `vbm365-bench` times it against the real app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("empty window");
}
