//! What the app's source files declare, read as text: the commands registered with Tauri
//! (`src-tauri/src/lib.rs`), listed in the permission manifest (`src-tauri/build.rs`), allowed by
//! the capabilities (`capabilities/*.json`) and invoked by the window (`ui/*.js`), and the titles
//! the window has for error codes (`ERROR_TITLES` in `ui/format.js`). For the tests that keep these lists in step
//! (`contract.rs`, `capability.rs`).
//!
//! Each reader panics, naming the file, when the text is not shaped as it expects, so a change of
//! shape fails loudly instead of reading as an empty list.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

/// A file of the repository, by its path from the root.
pub fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The files of a directory of the repository whose names end with `suffix`, as (path, text),
/// sorted by path.
pub fn read_all(dir: &str, suffix: &str) -> Vec<(String, String)> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut names: Vec<String> = std::fs::read_dir(&full)
        .unwrap_or_else(|e| panic!("{}: {e}", full.display()))
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let path = format!("{dir}/{n}");
            let text = read(&path);
            (path, text)
        })
        .collect()
}

/// The text after the first `start` in `text`, panicking (naming `file`) if there is none.
fn after<'t>(text: &'t str, start: &str, file: &str) -> &'t str {
    let at = text
        .find(start)
        .unwrap_or_else(|| panic!("{file}: no `{start}` found"));
    &text[at + start.len()..]
}

/// The text up to the first `end` in `text`, panicking (naming `file`) if there is none.
fn before<'t>(text: &'t str, end: &str, file: &str) -> &'t str {
    let at = text
        .find(end)
        .unwrap_or_else(|| panic!("{file}: no `{end}` found"));
    &text[..at]
}

/// The string literal at the start of `text` (after white space), if there is one: its content,
/// with `\"` and `\\` unescaped.
fn literal_at(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    None
}

/// Every string literal in `text`, in order.
fn literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('"') {
        let Some(lit) = literal_at(&rest[at..]) else {
            break;
        };
        // Skip past the literal as written (its escapes included).
        let mut i = at + 1;
        let bytes = rest.as_bytes();
        while i < bytes.len() && bytes[i] != b'"' {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        rest = &rest[(i + 1).min(rest.len())..];
        out.push(lit);
    }
    out
}

/// The block that starts at the first `{` of `text` up to its matching `}` (string literals
/// skipped), without the braces.
fn braced<'t>(text: &'t str, file: &str) -> &'t str {
    let open = text
        .find('{')
        .unwrap_or_else(|| panic!("{file}: no block found"));
    let bytes = text.as_bytes();
    let (mut depth, mut i, mut in_str) = (0usize, open, false);
    while i < bytes.len() {
        match (in_str, bytes[i]) {
            (true, b'\\') => i += 1,
            (true, b'"') => in_str = false,
            (false, b'"') => in_str = true,
            (false, b'{') => depth += 1,
            (false, b'}') => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..i];
                }
            }
            _ => {}
        }
        i += 1;
    }
    panic!("{file}: unbalanced braces")
}

// ----- commands ----------------------------------------------------------------------------------

/// The commands registered in `tauri::generate_handler![...]` of `src-tauri/src/lib.rs`, in order.
pub fn registered_commands() -> Vec<String> {
    const FILE: &str = "src-tauri/src/lib.rs";
    let text = read(FILE);
    let list = before(after(&text, "generate_handler![", FILE), "]", FILE);
    let commands: Vec<String> = list
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| item.rsplit("::").next().unwrap_or(item).to_string())
        .collect();
    assert!(!commands.is_empty(), "{FILE}: no command registered");
    commands
}

/// The commands of the permission manifest: `COMMANDS` in `src-tauri/build.rs`.
pub fn manifest_commands() -> BTreeSet<String> {
    const FILE: &str = "src-tauri/build.rs";
    let text = read(FILE);
    let list = before(after(&text, "const COMMANDS", FILE), "];", FILE);
    let list = after(list, "&[", FILE);
    literals(list).into_iter().collect()
}

/// The commands of the app that `capabilities/*.json` allow: `allow-get-state` is `get_state`.
/// Any other permission of the app's own (one without a `plugin:` prefix) is kept as it is
/// written, so that it shows up as allowing something that is not a registered command.
pub fn allowed_commands() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (file, text) in read_all("capabilities", ".json") {
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let permissions = json["permissions"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: no permissions list"));
        for p in permissions {
            let id = p
                .as_str()
                .or_else(|| p["identifier"].as_str())
                .unwrap_or_else(|| panic!("{file}: a permission without identifier: {p}"));
            if id.contains(':') {
                continue; // a plugin's or core's permission
            }
            match id.strip_prefix("allow-") {
                Some(cmd) => out.insert(cmd.replace('-', "_")),
                None => out.insert(format!("{id} (permission in {file})")),
            };
        }
    }
    out
}

/// The commands `ui/*.js` invokes: the string literals of every `invoke(` call's first argument
/// (so `invoke(editing ? "update_tenant" : "add_tenant", …)` gives both). A call whose command is
/// not written as a literal is listed as such, to be named by the check.
pub fn ui_invokes() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (file, text) in read_all("ui", ".js") {
        for (at, _) in text.match_indices("invoke(") {
            let preceded_by_name = text[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
            if preceded_by_name {
                continue;
            }
            let args = &text[at + "invoke(".len()..];
            let first = &args[..args.find([',', ')']).unwrap_or(args.len())];
            let names = literals(first);
            if names.is_empty() {
                out.insert(format!("{} (not a literal, in {file})", first.trim()));
            }
            out.extend(names);
        }
    }
    out
}

// ----- error codes -------------------------------------------------------------------------------

/// `ERROR_TITLES` of `ui/format.js`: (code, title).
pub fn error_titles() -> Vec<(String, String)> {
    const FILE: &str = "ui/format.js";
    let text = read(FILE);
    let block = braced(after(&text, "export const ERROR_TITLES =", FILE), FILE);
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .map(|l| {
            let (key, value) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("{FILE}: not a `code: \"title\",` line: {l}"));
            let title =
                literal_at(value).unwrap_or_else(|| panic!("{FILE}: no title string in: {l}"));
            (key.trim().trim_matches('"').to_string(), title)
        })
        .collect()
}
