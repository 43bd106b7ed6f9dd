//! The lists that must agree across the app's files, read from the sources (no build step, no
//! display), and the core's JSON contract (`vbm365_auth_core::contract`): every error code of the
//! contract has a title in the window, and the contract's commands, the ones registered with
//! Tauri, the permission manifest, the capability and the window's calls are the same.
//!
//! Bug caught: drift. A new core error shown as "Something went wrong"; a command added to the
//! handler but not to `src-tauri/build.rs` or the capability (the window gets "not allowed"), a UI
//! call to a command that does not exist, a permission left for a command that is gone.

mod sources;

use sources::{
    allowed_commands, error_titles, manifest_commands, registered_commands, ui_invokes,
};
use vbm365_auth_core::contract;
use std::collections::BTreeSet;

/// The items of `want` missing from `have`, as a sorted list.
fn missing<'a>(want: &'a BTreeSet<String>, have: &BTreeSet<String>) -> Vec<&'a str> {
    want.iter()
        .filter(|w| !have.contains(*w))
        .map(String::as_str)
        .collect()
}

#[test]
fn every_error_code_has_a_title_for_people_in_a_window() {
    // The codes of the JSON contract: the core's (checked against `Error::code` by the core's own
    // test) and the app's.
    let core: BTreeSet<String> = contract::ERROR_CODES.iter().map(|c| c.to_string()).collect();
    let app: BTreeSet<String> = contract::app_code::ALL
        .iter()
        .map(|c| c.to_string())
        .collect();
    // The app names its codes through the contract, so none can be missing from it.
    for (file, text) in sources::read_all("src-tauri/src", ".rs") {
        for (at, _) in text.match_indices("UiError::new(") {
            let arg = text[at + "UiError::new(".len()..].trim_start();
            assert!(
                arg.starts_with("app_code::"),
                "{file}: UiError::new with a code not from contract::app_code: {}",
                &arg[..arg.len().min(40)]
            );
        }
    }
    let titles = error_titles();
    let titled: BTreeSet<String> = titles.iter().map(|(code, _)| code.clone()).collect();

    let untitled_core = missing(&core, &titled);
    let untitled_app = missing(&app, &titled);
    assert!(
        untitled_core.is_empty() && untitled_app.is_empty(),
        "codes without a title in ERROR_TITLES (ui/format.js), shown as \"Something went \
         wrong\": core (contract::ERROR_CODES): {untitled_core:?}; app (contract::app_code): \
         {untitled_app:?}"
    );

    let given: BTreeSet<String> = core.union(&app).cloned().collect();
    let stale = missing(&titled, &given);
    assert!(
        stale.is_empty(),
        "titles in ERROR_TITLES (ui/format.js) for codes nobody gives: {stale:?}"
    );

    let mut seen = BTreeSet::new();
    for (code, title) in &titles {
        assert!(seen.insert(code), "{code} has two titles in ERROR_TITLES");
        assert!(!title.trim().is_empty(), "{code}: empty title");
        // For people using a window: no command lines.
        for cli in ["`", "vbm365-auth", "--"] {
            assert!(
                !title.contains(cli),
                "{code}: the title '{title}' speaks of a command line"
            );
        }
    }
}

#[test]
fn invoked_registered_manifested_and_allowed_commands_agree() {
    let list = registered_commands();
    let registered: BTreeSet<String> = list.iter().cloned().collect();
    assert_eq!(
        registered.len(),
        list.len(),
        "a command registered twice: {list:?}"
    );
    assert!(registered.contains("get_state"), "{registered:?}");
    let manifest = manifest_commands();
    let allowed = allowed_commands();
    let invoked = ui_invokes();
    assert!(invoked.contains("start_sign_in"), "{invoked:?}");

    let contract: BTreeSet<String> = contract::APP_COMMANDS
        .iter()
        .map(|c| c.to_string())
        .collect();

    let problems = [
        (
            "registered in generate_handler! but not in contract::APP_COMMANDS",
            missing(&registered, &contract),
        ),
        (
            "in contract::APP_COMMANDS but not registered in generate_handler!",
            missing(&contract, &registered),
        ),
        (
            "invoked by ui/*.js but not registered in generate_handler! (src-tauri/src/lib.rs)",
            missing(&invoked, &registered),
        ),
        (
            "invoked by ui/*.js but not allowed by capabilities/*.json",
            missing(&invoked, &allowed),
        ),
        (
            "registered but missing from COMMANDS in src-tauri/build.rs",
            missing(&registered, &manifest),
        ),
        (
            "registered but not allowed by capabilities/*.json",
            missing(&registered, &allowed),
        ),
        (
            "in COMMANDS of src-tauri/build.rs but not registered",
            missing(&manifest, &registered),
        ),
        (
            "allowed by capabilities/*.json but not registered",
            missing(&allowed, &registered),
        ),
    ];
    let report: Vec<String> = problems
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(what, items)| format!("{what}: {items:?}"))
        .collect();
    assert!(
        report.is_empty(),
        "commands out of step:\n{}",
        report.join("\n")
    );
}

/// `CamelCase` as `snake_case` (serde's `rename_all = "snake_case"` for unit variants).
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn every_remedy_is_worded_by_the_window_or_said_by_its_message() {
    let core = sources::read("crates/core/src/error/remedy.rs");
    let body = core
        .split("pub enum Remedy {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("crates/core/src/error/remedy.rs: pub enum Remedy { … }");
    let remedies: BTreeSet<String> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with('#') && !l.is_empty())
        .map(|l| snake(l.trim_end_matches(',')))
        .collect();
    assert!(remedies.len() >= 10, "{remedies:?}");
    let ui = sources::read("ui/format.js");
    let hints = ui
        .split("export const REMEDY_HINTS = {")
        .nth(1)
        .and_then(|rest| rest.split("\n};").next())
        .expect("ui/format.js: export const REMEDY_HINTS = { … };");
    let worded: BTreeSet<String> = hints
        .lines()
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.trim().to_string()))
        .collect();
    // Said by the message itself: the likely causes, or that the tokens were kept for later.
    let in_message: BTreeSet<String> = ["check_server_setup", "retry_later"]
        .map(String::from)
        .into();
    let unworded: Vec<&String> = remedies
        .iter()
        .filter(|r| !worded.contains(*r) && !in_message.contains(*r))
        .collect();
    assert!(
        unworded.is_empty(),
        "remedies without words in ui/format.js: {unworded:?}"
    );
    let unknown: Vec<&String> = worded.difference(&remedies).collect();
    assert!(
        unknown.is_empty(),
        "REMEDY_HINTS for no remedy of the core: {unknown:?}"
    );
}
