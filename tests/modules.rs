//! The app's modules depend on each other in one direction only: no module of `src-tauri/src`
//! reaches back to the crate root (`lib.rs` declares them all), and the graph of `crate::<module>`
//! paths between them has no cycle. Read from the sources; comments do not count.
//!
//! Bug caught: a cycle such as `desktop` ↔ `window` (which there was), or a module using an item
//! of `lib.rs`, so that neither side can be read, tested or moved without the other.

mod sources;

use std::collections::{BTreeMap, BTreeSet};

/// The crate's top-level module of a source file (`src-tauri/src/window/process.rs` → `window`),
/// or `None` for the crate root and the binary.
fn module_of(path: &str) -> Option<String> {
    let rel = path
        .strip_prefix("src-tauri/src/")
        .expect("a file of src-tauri/src");
    let first = rel.split('/').next()?.trim_end_matches(".rs");
    (!matches!(first, "lib" | "main")).then(|| first.to_string())
}

/// The code of a Rust source without its `//` comments (doc comments included).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.find("//").map_or(l, |at| &l[..at]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first name after each `crate::` in `code`; for `crate::{a, b::c}`, each name in the
/// braces.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(ident).filter(|n| !n.is_empty()));
        } else {
            out.insert(ident(rest));
        }
    }
    out
}

/// Module → the other modules it names, read from every file of `src-tauri/src`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = sources::read_all("src-tauri/src", ".rs");
    let modules: BTreeSet<String> = files.iter().filter_map(|(p, _)| module_of(p)).collect();
    assert!(
        modules.len() > 5,
        "the app's modules were not found: {modules:?}"
    );
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in &files {
        let Some(from) = module_of(path) else {
            continue;
        };
        for to in crate_paths(&code(text)) {
            assert!(
                modules.contains(&to) || to == "self",
                "{path} uses crate::{to}, an item of the crate root: lib.rs declares every module, \
                 so this is a cycle; move the item into a module of its own"
            );
            if to != from && to != "self" {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

/// A cycle of `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_app_modules_depend_on_each_other_without_a_cycle() {
    let graph = graph();
    assert_eq!(find_cycle(&graph), None, "module graph: {graph:#?}");
    // The layers the sources are meant to have (so that this test reads the sources right).
    assert!(graph["commands"].contains("state"), "{graph:#?}");
    assert!(graph["window"].contains("desktop"), "{graph:#?}");
}

#[test]
fn the_cycle_finder_finds_cycles_and_reads_grouped_paths() {
    let g = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
        }
        g
    };
    assert_eq!(find_cycle(&g(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
    assert_eq!(
        find_cycle(&g(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        crate_paths("use crate::{error::UiError, state};\nlet x = crate::desktop::notify;"),
        ["desktop", "error", "state"].map(String::from).into()
    );
    assert_eq!(
        code("let a = 1; // crate::window\n/// [`crate::tray`]"),
        "let a = 1; \n"
    );
}
