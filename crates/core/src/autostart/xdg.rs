//! Start at login on Linux: an XDG autostart entry, `$XDG_CONFIG_HOME/autostart/VBM365 Auth.desktop`
//! (`~/.config/autostart` when `XDG_CONFIG_HOME` is unset), which the desktop session starts
//! at sign-in.
//!
//! Its `Exec` line follows the Desktop Entry Specification ("The Exec key"): an argument with a
//! reserved character (a space, a quote, `$`, `\`, …) is put in double quotes, with `"`, `` ` ``,
//! `$` and `\` inside preceded by a backslash; a literal `%` is written `%%` (a lone `%` starts a
//! field code); then the whole value is escaped like any string value of the file (`\` as `\\`, a
//! tab as `\t`), so one backslash of a quoted path is four in the file. A path that is not UTF-8
//! (desktop files are) or holds a line break is refused with the reason.
//!
//! The file has the name the autostart plugin gave it before (the product name), so an entry an
//! earlier version wrote, with the path unquoted, is replaced rather than kept beside the new one.
//! The session's settings may switch an entry off without removing it, by writing `Hidden=true`
//! or `X-GNOME-Autostart-enabled=false` into it: such an entry reads as off ([`entry_is_on`]).
//!
//! Everything here is plain file work, tested on every platform; the desktop app uses it on Linux.

use super::RUN_VALUE;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// The entry's file name: the product name, as the autostart plugin named it.
pub const DESKTOP_FILE: &str = "VBM365 Auth.desktop";

/// The characters that make the specification require quotes around an argument.
const RESERVED: [char; 19] = [
    ' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')',
    '`',
];

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The `Exec` value (before the file's string escaping) that runs `program` with `args`.
/// Refused: a program path that is empty, not UTF-8, or holds a line break, and an argument with
/// a line break.
pub fn exec_value<S: AsRef<str>>(program: &Path, args: &[S]) -> io::Result<String> {
    let Some(prog) = program.to_str() else {
        return Err(invalid(format!(
            "the program's path {program:?} is not valid UTF-8, which a desktop entry cannot hold"
        )));
    };
    if prog.is_empty() || prog.contains('\n') {
        return Err(invalid(format!(
            "cannot write a desktop entry for the program {prog:?}: its path is empty or holds a line break"
        )));
    }
    let mut value = String::new();
    quote_arg(prog, &mut value);
    for arg in args {
        let arg = arg.as_ref();
        if arg.contains('\n') {
            return Err(invalid(format!(
                "cannot write a desktop entry with the argument {arg:?}: it holds a line break"
            )));
        }
        value.push(' ');
        quote_arg(arg, &mut value);
    }
    Ok(value)
}

fn quote_arg(arg: &str, out: &mut String) {
    let quoted = arg.is_empty() || arg.contains(RESERVED);
    if quoted {
        out.push('"');
    }
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' | '\\' if quoted => {
                out.push('\\');
                out.push(c);
            }
            '%' => out.push_str("%%"),
            _ => out.push(c),
        }
    }
    if quoted {
        out.push('"');
    }
}

/// `value` escaped as a string value of a desktop file.
fn escape_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            '\r' => out.push_str(r"\r"),
            _ => out.push(c),
        }
    }
    out
}

/// The whole entry that starts `program` with `args` at sign-in.
pub fn desktop_entry<S: AsRef<str>>(program: &Path, args: &[S]) -> io::Result<String> {
    let exec = escape_string(&exec_value(program, args)?);
    Ok(format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name={RUN_VALUE}\n\
         Comment=Keeps the VBM365 tenants' tokens fresh (in the tray)\n\
         Exec={exec}\n\
         Terminal=false\n\
         NoDisplay=false\n\
         X-GNOME-Autostart-enabled=true\n"
    ))
}

/// Whether an entry's text lets the session start it: not `Hidden=true` and not
/// `X-GNOME-Autostart-enabled=false` in its `[Desktop Entry]` group.
pub fn entry_is_on(contents: &str) -> bool {
    let mut in_main = false;
    for line in contents.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_main = line == "[Desktop Entry]";
            continue;
        }
        if !in_main {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match (key.trim(), value.trim()) {
            ("Hidden", "true") | ("X-GNOME-Autostart-enabled", "false") => return false,
            _ => {}
        }
    }
    true
}

/// The user's configuration directory by the XDG Base Directory rules: `XDG_CONFIG_HOME` when
/// it is set to an absolute path, else `.config` in the home directory.
pub fn config_home(xdg_config_home: Option<OsString>, home: Option<PathBuf>) -> Option<PathBuf> {
    match xdg_config_home.map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => Some(dir),
        _ => home.map(|h| h.join(".config")),
    }
}

/// The app's autostart entry: [`DESKTOP_FILE`] in `autostart/` of a configuration directory.
#[derive(Debug, Clone)]
pub struct XdgEntry {
    path: PathBuf,
}

impl XdgEntry {
    /// The entry in the user's configuration directory ([`config_home`] of this process).
    pub fn app() -> io::Result<Self> {
        config_home(std::env::var_os("XDG_CONFIG_HOME"), dirs::home_dir())
            .map(|c| Self::in_config_dir(&c))
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no home directory"))
    }

    /// The entry under the configuration directory `config` (what `XDG_CONFIG_HOME` names).
    pub fn in_config_dir(config: &Path) -> Self {
        XdgEntry {
            path: config.join("autostart").join(DESKTOP_FILE),
        }
    }

    /// Where the entry is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the entry (atomically, replacing one the session switched off) so that it starts
    /// `program` with `args`.
    pub fn enable<S: AsRef<str>>(&self, program: &Path, args: &[S]) -> io::Result<()> {
        let text = desktop_entry(program, args)?;
        crate::fsutil::write_atomic(&self.path, text.as_bytes())
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Removes the entry; nothing to remove is fine.
    pub fn disable(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io::Error::new(
                e.kind(),
                format!("cannot remove {}: {e}", self.path.display()),
            )),
            _ => Ok(()),
        }
    }

    /// Whether the session will start the entry: it is there and not switched off.
    pub fn is_enabled(&self) -> io::Result<bool> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(entry_is_on(&String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", self.path.display()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Exec` line of an entry split back into the program and its arguments, by the
    /// specification: the string escapes undone first, then the quoting, then `%%`.
    fn argv(entry: &str) -> Vec<String> {
        let line = entry
            .lines()
            .find_map(|l| l.strip_prefix("Exec="))
            .expect("an Exec line");
        let mut value = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                value.push(c);
                continue;
            }
            match chars.next().expect("a complete escape") {
                's' => value.push(' '),
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                '\\' => value.push('\\'),
                other => panic!("unknown string escape \\{other} in {line}"),
            }
        }
        let (mut out, mut arg, mut started, mut quoted) = (Vec::new(), String::new(), false, false);
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    quoted = !quoted;
                    started = true;
                }
                '\\' if quoted => {
                    let next = chars.next().expect("an escaped character");
                    assert!(
                        matches!(next, '"' | '`' | '$' | '\\'),
                        "\\{next} in {value}"
                    );
                    arg.push(next);
                }
                ' ' if !quoted => {
                    if started {
                        out.push(std::mem::take(&mut arg));
                    }
                    started = false;
                }
                _ => {
                    assert!(
                        quoted || !RESERVED.contains(&c),
                        "{c:?} outside quotes in {value}"
                    );
                    arg.push(c);
                    started = true;
                }
            }
        }
        assert!(!quoted, "an unclosed quote in {value}");
        if started {
            out.push(arg);
        }
        out.into_iter()
            .map(|a| {
                assert!(!a.replace("%%", "").contains('%'), "a field code in {a:?}");
                a.replace("%%", "%")
            })
            .collect()
    }

    #[test]
    fn the_exec_line_is_quoted_and_escaped_as_the_specification_says() {
        let entry = desktop_entry(
            Path::new("/home/jane/My Apps/vbm365-auth-app"),
            &["--hidden"],
        )
        .unwrap();
        assert!(
            entry.contains("\nExec=\"/home/jane/My Apps/vbm365-auth-app\" --hidden\n"),
            "{entry}"
        );
        let cases: &[(&str, &str)] = &[
            ("/opt/vbm365/app", "/opt/vbm365/app"),
            ("/opt/a b/app", r#""/opt/a b/app""#),
            (r#"/opt/say "hi"/app"#, r#""/opt/say \\"hi\\"/app""#),
            ("/opt/$HOME/app", r#""/opt/\\$HOME/app""#),
            (r"/opt/back\slash/app", r#""/opt/back\\\\slash/app""#),
            ("/opt/100%/app", "/opt/100%%/app"),
            ("/opt/50% off/app", r#""/opt/50%% off/app""#),
            ("/opt/`x`/app", r#""/opt/\\`x\\`/app""#),
            ("/opt/it's/app", r#""/opt/it's/app""#),
            ("/opt/tab\there/app", r#""/opt/tab\there/app""#),
            (
                "/opt/~a;b&c|d*e?f#g(h)<i>/app",
                r#""/opt/~a;b&c|d*e?f#g(h)<i>/app""#,
            ),
            ("/opt/Zoë/app", "/opt/Zoë/app"),
        ];
        for (path, exec) in cases {
            let entry = desktop_entry(Path::new(path), &["--hidden"]).unwrap();
            assert!(
                entry.contains(&format!("\nExec={exec} --hidden\n")),
                "{path:?}: {entry}"
            );
        }
    }

    #[test]
    fn the_written_entry_splits_back_into_the_same_program_and_arguments() {
        let paths = [
            "/home/jane/My Apps/vbm365-auth-app",
            r#"/home/jane/"quoted" and 'single'/app"#,
            "/home/jane/$HOME and `date`/app",
            r"/home/jane/back\slash\/app",
            "/home/jane/100% sure/50%/app",
            "/home/jane/tab\tand\rcarriage/app",
            "/home/jane/Zoë Šimić (copy) #2/app",
        ];
        for path in paths {
            let args = ["--hidden", "", "two words", r"a\b", "%u", "x=1"];
            let entry = desktop_entry(Path::new(path), &args).unwrap();
            let mut expected = vec![path.to_string()];
            expected.extend(args.iter().map(|a| a.to_string()));
            assert_eq!(argv(&entry), expected, "{entry}");
        }
    }

    #[test]
    fn a_path_a_desktop_entry_cannot_hold_is_refused() {
        for bad in ["", "/home/jane/two\nlines/app"] {
            let e = desktop_entry(Path::new(bad), &["--hidden"]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            assert!(e.to_string().contains("line break"), "{e}");
        }
        let e = desktop_entry(Path::new("/opt/app"), &["a\nb"]).unwrap_err();
        assert!(e.to_string().contains("line break"), "{e}");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let path = Path::new(std::ffi::OsStr::from_bytes(b"/opt/caf\xe9/app"));
            let e = desktop_entry(path, &["--hidden"]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("not valid UTF-8"), "{e}");
        }
    }

    #[test]
    fn the_entry_names_the_app_and_starts_it_in_the_tray_without_a_terminal() {
        let entry = desktop_entry(Path::new("/opt/vbm365/app"), &["--hidden"]).unwrap();
        assert_eq!(
            entry.lines().collect::<Vec<_>>(),
            [
                "[Desktop Entry]",
                "Type=Application",
                "Name=VBM365 Auth",
                "Comment=Keeps the VBM365 tenants' tokens fresh (in the tray)",
                "Exec=/opt/vbm365/app --hidden",
                "Terminal=false",
                "NoDisplay=false",
                "X-GNOME-Autostart-enabled=true",
            ]
        );
        assert!(entry_is_on(&entry));
        // The name the autostart plugin used: the productName of tauri.conf.json.
        let conf = include_str!("../../../../tauri.conf.json");
        assert!(conf.contains(r#""productName": "VBM365 Auth""#));
        assert_eq!(DESKTOP_FILE, format!("{RUN_VALUE}.desktop"));
    }

    #[test]
    fn an_entry_the_session_switched_off_reads_as_off() {
        let on = "[Desktop Entry]\nType=Application\nExec=/opt/app --hidden\n";
        assert!(entry_is_on(on));
        assert!(!entry_is_on(&format!("{on}Hidden=true\n")));
        assert!(!entry_is_on(&format!("{on}Hidden = true\n")));
        assert!(!entry_is_on(&format!(
            "{on}X-GNOME-Autostart-enabled=false\n"
        )));
        assert!(entry_is_on(&format!("{on}Hidden=false\n")));
        assert!(entry_is_on(&format!(
            "{on}X-GNOME-Autostart-enabled=true\n"
        )));
        // Only the main group counts.
        assert!(entry_is_on(&format!(
            "{on}[Desktop Action x]\nHidden=true\n"
        )));
    }

    // XDG paths are Unix paths: on Windows `/x/cfg` is not absolute (no drive) and is ignored.
    #[cfg(unix)]
    #[test]
    fn the_config_directory_follows_xdg_config_home() {
        let home = Some(PathBuf::from("/home/jane"));
        assert_eq!(
            config_home(Some("/x/cfg".into()), home.clone()),
            Some(PathBuf::from("/x/cfg"))
        );
        for ignored in ["", "relative/cfg"] {
            assert_eq!(
                config_home(Some(ignored.into()), home.clone()),
                Some(PathBuf::from("/home/jane/.config")),
                "{ignored:?}"
            );
        }
        assert_eq!(
            config_home(None, home),
            Some(PathBuf::from("/home/jane/.config"))
        );
        assert_eq!(config_home(None, None), None);
    }

    #[test]
    fn an_entry_is_written_read_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let entry = XdgEntry::in_config_dir(dir.path());
        assert_eq!(
            entry.path(),
            dir.path().join("autostart").join("VBM365 Auth.desktop")
        );
        assert!(!entry.is_enabled().unwrap());
        entry.disable().expect("nothing to remove is fine");

        let exe = Path::new("/home/jane/My Apps/vbm365 \"auth\" $1 100%/vbm365-auth-app");
        entry.enable(exe, &["--hidden"]).unwrap();
        assert!(entry.is_enabled().unwrap());
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert_eq!(text, desktop_entry(exe, &["--hidden"]).unwrap());
        assert_eq!(argv(&text), [exe.to_str().unwrap(), "--hidden"]);
        assert_eq!(
            std::fs::read_dir(dir.path().join("autostart"))
                .unwrap()
                .count(),
            1,
            "no temporary file left"
        );

        entry.disable().unwrap();
        assert!(!entry.path().exists());
        assert!(!entry.is_enabled().unwrap());
        entry.disable().expect("twice is fine");
    }

    #[test]
    fn an_entry_the_session_switched_off_is_off_until_turned_on_again() {
        let dir = tempfile::tempdir().unwrap();
        let entry = XdgEntry::in_config_dir(dir.path());
        // As an earlier version (the autostart plugin) wrote it, then switched off in the
        // session's settings.
        std::fs::create_dir_all(dir.path().join("autostart")).unwrap();
        std::fs::write(
            entry.path(),
            "[Desktop Entry]\nType=Application\nVersion=1.0\nName=VBM365 Auth\n\
             Exec=/home/jane/My Apps/vbm365-auth-app --hidden\nHidden=true\n",
        )
        .unwrap();
        assert!(!entry.is_enabled().unwrap());

        let exe = Path::new("/home/jane/My Apps/vbm365-auth-app");
        entry.enable(exe, &["--hidden"]).unwrap();
        assert!(entry.is_enabled().unwrap());
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(!text.contains("Hidden"), "{text}");
        assert_eq!(argv(&text), [exe.to_str().unwrap(), "--hidden"]);
    }

    #[test]
    fn a_refused_path_leaves_the_entry_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let entry = XdgEntry::in_config_dir(dir.path());
        entry.enable(Path::new("/opt/app"), &["--hidden"]).unwrap();
        let before = std::fs::read(entry.path()).unwrap();
        assert!(entry
            .enable(Path::new("/opt/two\nlines/app"), &["--hidden"])
            .is_err());
        assert_eq!(std::fs::read(entry.path()).unwrap(), before);
    }

    /// GLib's own launcher (`gio launch`, the code GNOME's session starts autostart entries with)
    /// runs the written entry: the program in a folder with spaces, quotes, `$` and a backslash
    /// gets exactly the arguments written.
    #[cfg(target_os = "linux")]
    #[test]
    fn glib_launches_the_entry_with_the_same_arguments() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // GLib (2.74) checks that the program exists before it undoes `%%`, so a `%` in the
        // program's folder is left out here (docs/platforms.md says so); arguments may have one.
        let folder = dir
            .path()
            .join(r#"My Apps "q" 'x' $HOME `id` back\slash (1)"#);
        std::fs::create_dir_all(&folder).unwrap();
        let exe = folder.join("vbm365 auth-app");
        let out = dir.path().join("argv");
        std::fs::write(
            &exe,
            "#!/bin/sh\nfor a in \"$0\" \"$@\"; do printf '%s\\0' \"$a\"; done > \"$OUT.tmp\" && mv \"$OUT.tmp\" \"$OUT\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let entry = XdgEntry::in_config_dir(dir.path());
        let args = ["--hidden", "100%", "two words", r"a\b"];
        entry.enable(&exe, &args).unwrap();

        let status = std::process::Command::new("gio")
            .arg("launch")
            .arg(entry.path())
            .env("OUT", &out)
            .status()
            .expect("gio (libglib2.0-bin, installed by scripts/setup)");
        assert!(status.success(), "gio launch: {status}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !out.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the program never ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let got = std::fs::read(&out).unwrap();
        let got: Vec<&str> = got
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| std::str::from_utf8(a).unwrap())
            .collect();
        let mut expected = vec![exe.to_str().unwrap()];
        expected.extend(args);
        assert_eq!(got, expected);
    }
}
