//! `vbm365-auth-app`: the VBM365 Auth desktop app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    vbm365_auth_app::run()
}
