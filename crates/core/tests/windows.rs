//! Windows: where the configuration lives when `VBM365_AUTH_CONFIG_DIR` is not set. (A test
//! binary of its own: it reads the process environment, which other tests change.)
#![cfg(windows)]

use std::path::PathBuf;

#[test]
fn the_default_config_dir_is_in_the_roaming_app_data_folder() {
    assert!(
        std::env::var_os("VBM365_AUTH_CONFIG_DIR").is_none(),
        "run without VBM365_AUTH_CONFIG_DIR"
    );
    let appdata = std::env::var_os("APPDATA").expect("APPDATA is set in every Windows session");
    assert_eq!(
        vbm365_auth_core::session::default_config_dir().unwrap(),
        PathBuf::from(appdata).join("vbm365-auth")
    );
}
