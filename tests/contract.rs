//! The lists that must agree across the app's files, read from the sources (no build step, no
//! display): every error code the core or the app can give has a title in the window, and the
//! commands the window invokes, the ones registered with Tauri, the permission manifest and the
//! capability are the same.
//!
//! Bug caught: drift. A new core error shown as "Something went wrong"; a command added to the
//! handler but not to `src-tauri/build.rs` or the capability (the window gets "not allowed"), a UI
//! call to a command that does not exist, a permission left for a command that is gone.

mod sources;

use sources::{
    allowed_commands, app_error_codes, core_error_codes, error_titles, manifest_commands,
    registered_commands, ui_invokes,
};
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
    let core = core_error_codes();
    // The reader found the match, not a fragment of it.
    for known in ["invalid_input", "conditional_access_blocked", "unsafe_file"] {
        assert!(
            core.contains(known),
            "{known} not read from Error::code: {core:?}"
        );
    }
    let app = app_error_codes();
    for known in ["no_sign_in", "certificate_not_probed", "clipboard"] {
        assert!(
            app.contains(known),
            "{known} not read from UiError::new: {app:?}"
        );
    }
    let titles = error_titles();
    let titled: BTreeSet<String> = titles.iter().map(|(code, _)| code.clone()).collect();

    let untitled_core = missing(&core, &titled);
    let untitled_app = missing(&app, &titled);
    assert!(
        untitled_core.is_empty() && untitled_app.is_empty(),
        "codes without a title in ERROR_TITLES (ui/format.js), shown as \"Something went \
         wrong\": core (crates/core/src/error.rs): {untitled_core:?}; app (UiError::new in \
         src-tauri/src): {untitled_app:?}"
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

    let problems = [
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
