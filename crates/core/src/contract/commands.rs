// The commands the desktop app's window may invoke, in one list: `contract::APP_COMMANDS`, and the
// app's build script (`src-tauri/build.rs`) includes this file to generate their permissions. Plain
// comments only: the file is `include!`d.

pub const APP_COMMANDS: &[&str] = &[
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
