//! Start at login on Windows: the desktop app's value under
//! `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`, which Windows runs at sign-in.
//!
//! The value is a command line, `"C:\Users\Jane Doe\AppData\Local\Programs\vbm365-auth\vbm365-auth-app.exe" --hidden`:
//! the program's path in quotes, since an install path with spaces would otherwise be cut at the
//! first space, and each argument quoted by the rules `CommandLineToArgvW` reads
//! ([`command_line`]). It is the value the NSIS installer writes, under the same name
//! ([`RUN_VALUE`]), so either can turn off what the other turned on.
//!
//! Windows also keeps a switch per entry that Task Manager's Startup page and Settings > Apps >
//! Startup flip without touching the command: a binary value of the same name under
//! `...\Explorer\StartupApproved\Run`, whose first byte is even when the entry may run (`02 00 …`)
//! and odd when the user turned it off (`03 00 00 00` and the time it was turned off). "Is it on"
//! reads both ([`approved`]); turning it on writes the command and marks it approved the way Task
//! Manager does, so a switch the user turned off there does not keep a freshly ticked setting from
//! working; turning it off removes both values.
//!
//! The quoting and the reading of the switch are plain functions, tested on every platform; the
//! registry access (`RunEntry`) exists on Windows only and is tested under Wine.
//!
//! Linux's entry, a desktop file in the XDG autostart folder, is [`xdg`].

use std::io;

pub mod xdg;
pub use xdg::XdgEntry;

/// The value name of the app's entry: the product name, as the installer writes it.
pub const RUN_VALUE: &str = "VBM365 Auth";
/// The key, under `HKEY_CURRENT_USER`, whose values Windows runs at sign-in.
pub const RUN_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
/// The key, under `HKEY_CURRENT_USER`, with Task Manager's on/off switch of each [`RUN_KEY`] entry.
pub const APPROVED_KEY: &str =
    r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run";
/// What Task Manager writes under [`APPROVED_KEY`] when the user turns an entry on.
pub const APPROVED_ON: [u8; 12] = [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// The command line that runs `program` with `args`, as `CommandLineToArgvW` (and the C runtime
/// that Rust programs start with) splits it back: the program in quotes, taken up to the next quote
/// with backslashes as they are; each argument bare when it has no space, tab, line break or quote,
/// else in quotes, with a quote inside written `\"` and the backslashes before a quote (or before
/// the closing quote) doubled. A program name with a quote in it cannot be written (Windows paths
/// cannot contain one) and is refused, as is an empty one.
pub fn command_line<S: AsRef<str>>(program: &str, args: &[S]) -> io::Result<String> {
    if program.is_empty() || program.contains('"') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot write a command line for the program {program:?}"),
        ));
    }
    let mut line = format!("\"{program}\"");
    for arg in args {
        line.push(' ');
        quote_arg(arg.as_ref(), &mut line);
    }
    Ok(line)
}

fn quote_arg(arg: &str, out: &mut String) {
    if !arg.is_empty() && !arg.contains([' ', '\t', '\n', '\x0b', '"']) {
        out.push_str(arg);
        return;
    }
    out.push('"');
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                // n backslashes before a quote: 2n + 1 of them, then the quote.
                out.extend(std::iter::repeat_n('\\', 2 * backslashes + 1));
                out.push('"');
                backslashes = 0;
            }
            _ => {
                out.extend(std::iter::repeat_n('\\', backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    // Before the closing quote, backslashes are doubled so that it stays a closing quote.
    out.extend(std::iter::repeat_n('\\', 2 * backslashes));
    out.push('"');
}

/// Whether Task Manager's switch of an entry lets it run: yes when there is no switch (`None`, or
/// an empty value) or its first byte is even (`02` on, `06` on Windows 8; `03`/`07` off, followed
/// by when it was turned off).
pub fn approved(switch: Option<&[u8]>) -> bool {
    match switch.and_then(|b| b.first()) {
        Some(first) => first & 1 == 0,
        None => true,
    }
}

#[cfg(windows)]
pub use registry::RunEntry;

#[cfg(windows)]
mod registry {
    use super::{approved, APPROVED_KEY, APPROVED_ON, RUN_KEY, RUN_VALUE};
    use std::io;
    use windows_registry::{Key, CURRENT_USER};

    /// `HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)`: no such key or value.
    const NOT_FOUND: i32 = 0x8007_0002_u32 as i32;

    fn not_found(e: &windows_registry::Result<()>) -> bool {
        matches!(e, Err(e) if e.code().0 == NOT_FOUND)
    }

    fn io_error(what: &str, e: impl std::fmt::Display) -> io::Error {
        io::Error::other(format!("{what}: {e}"))
    }

    /// One start-at-login entry of `HKEY_CURRENT_USER`: a value under a Run key and its switch
    /// under a StartupApproved key. [`RunEntry::app`] is the app's; tests use keys of their own.
    #[derive(Debug, Clone)]
    pub struct RunEntry {
        run_key: String,
        approved_key: String,
        value: String,
    }

    impl RunEntry {
        /// The desktop app's entry: [`RUN_VALUE`] under [`RUN_KEY`] and [`APPROVED_KEY`].
        pub fn app() -> Self {
            Self::at(RUN_KEY, APPROVED_KEY, RUN_VALUE)
        }

        /// The entry `value` under other keys of `HKEY_CURRENT_USER` (for tests).
        pub fn at(run_key: &str, approved_key: &str, value: &str) -> Self {
            RunEntry {
                run_key: run_key.into(),
                approved_key: approved_key.into(),
                value: value.into(),
            }
        }

        /// Writes `command` (from [`super::command_line`]) as the entry and, where Task
        /// Manager keeps switches, marks it approved.
        pub fn enable(&self, command: &str) -> io::Result<()> {
            CURRENT_USER
                .create(&self.run_key)
                .and_then(|k| k.set_string(&self.value, command))
                .map_err(|e| io_error("cannot write the start-at-login entry", e))?;
            // No switches yet means none was turned off: nothing to mark.
            match CURRENT_USER
                .options()
                .read()
                .write()
                .open(&self.approved_key)
            {
                Ok(k) => k
                    .set_bytes(&self.value, windows_registry::Type::Bytes, &APPROVED_ON)
                    .map_err(|e| io_error("cannot turn the start-at-login entry on", e)),
                Err(e) if e.code().0 == NOT_FOUND => Ok(()),
                Err(e) => Err(io_error("cannot open the start-up switches", e)),
            }
        }

        /// Removes the entry and its switch; nothing to remove is fine.
        pub fn disable(&self) -> io::Result<()> {
            for key in [&self.run_key, &self.approved_key] {
                let removed = remove_value(key, &self.value);
                if !not_found(&removed) {
                    removed.map_err(|e| io_error("cannot remove the start-at-login entry", e))?;
                }
            }
            Ok(())
        }

        /// The entry's command line, if there is one.
        pub fn command(&self) -> io::Result<Option<String>> {
            match CURRENT_USER
                .open(&self.run_key)
                .and_then(|k| k.get_string(&self.value))
            {
                Ok(c) => Ok(Some(c)),
                Err(e) if e.code().0 == NOT_FOUND => Ok(None),
                Err(e) => Err(io_error("cannot read the start-at-login entry", e)),
            }
        }

        /// Whether Windows will run the entry at sign-in: it is there and not switched off.
        pub fn is_enabled(&self) -> io::Result<bool> {
            if self.command()?.is_none() {
                return Ok(false);
            }
            let switch = match CURRENT_USER
                .open(&self.approved_key)
                .and_then(|k| k.get_value(&self.value))
            {
                Ok(v) => Some(v),
                Err(e) if e.code().0 == NOT_FOUND => None,
                Err(e) => return Err(io_error("cannot read the start-up switch", e)),
            };
            Ok(approved(switch.as_deref()))
        }
    }

    fn remove_value(key: &str, value: &str) -> windows_registry::Result<()> {
        let k: Key = CURRENT_USER.options().read().write().open(key)?;
        k.remove_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How `CommandLineToArgvW` splits a command line (the program name first, by its own rule).
    fn split(line: &str) -> Vec<String> {
        let mut chars = line.chars().peekable();
        let mut out = Vec::new();
        let mut program = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                program.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' || c == '\t' {
                    break;
                }
                program.push(c);
                chars.next();
            }
        }
        out.push(program);
        loop {
            while matches!(chars.peek(), Some(' ' | '\t')) {
                chars.next();
            }
            if chars.peek().is_none() {
                return out;
            }
            let (mut arg, mut quoted) = (String::new(), false);
            loop {
                let mut backslashes = 0;
                while chars.peek() == Some(&'\\') {
                    backslashes += 1;
                    chars.next();
                }
                match chars.peek() {
                    Some('"') => {
                        arg.extend(std::iter::repeat_n('\\', backslashes / 2));
                        chars.next();
                        if backslashes % 2 == 1 {
                            arg.push('"');
                        } else if quoted && chars.peek() == Some(&'"') {
                            arg.push('"');
                            chars.next();
                        } else {
                            quoted = !quoted;
                        }
                    }
                    Some(&c) if !quoted && (c == ' ' || c == '\t') => {
                        arg.extend(std::iter::repeat_n('\\', backslashes));
                        break;
                    }
                    Some(&c) => {
                        arg.extend(std::iter::repeat_n('\\', backslashes));
                        arg.push(c);
                        chars.next();
                    }
                    None => {
                        arg.extend(std::iter::repeat_n('\\', backslashes));
                        break;
                    }
                }
            }
            out.push(arg);
        }
    }

    #[test]
    fn the_program_is_quoted_so_a_path_with_spaces_stays_whole() {
        let exe = r"C:\Users\Jane Doe\AppData\Local\Programs\vbm365-auth\vbm365-auth-app.exe";
        let line = command_line(exe, &["--hidden"]).unwrap();
        assert_eq!(
            line,
            r#""C:\Users\Jane Doe\AppData\Local\Programs\vbm365-auth\vbm365-auth-app.exe" --hidden"#
        );
        assert_eq!(split(&line), [exe, "--hidden"]);
        // Even without spaces (a later rename of a folder on the way cannot break it), and a
        // program name's backslashes are never escapes, not even before the closing quote.
        assert_eq!(
            command_line(r"C:\Program Files\x\", &[] as &[&str]).unwrap(),
            r#""C:\Program Files\x\""#
        );
        assert_eq!(
            command_line(r"C:\app.exe", &[] as &[&str]).unwrap(),
            r#""C:\app.exe""#
        );
    }

    #[test]
    fn a_program_name_that_cannot_be_quoted_is_refused() {
        for bad in ["", r#"C:\a"b.exe"#] {
            let e = command_line(bad, &["--hidden"]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn arguments_are_quoted_by_the_rules_commandlinetoargvw_reads() {
        let cases: &[(&str, &str)] = &[
            ("--hidden", "--hidden"),
            ("", r#""""#),
            ("a b", r#""a b""#),
            ("tab\there", "\"tab\there\""),
            (r#"say "hi""#, r#""say \"hi\"""#),
            (r"C:\dir\", r"C:\dir\"),
            (r"C:\my dir\", r#""C:\my dir\\""#),
            (r#"back\"quote"#, r#""back\\\"quote""#),
            (r"\\server\share", r"\\server\share"),
            ("Zoë Šimić", r#""Zoë Šimić""#),
        ];
        for (arg, quoted) in cases {
            let line = command_line(r"C:\Program Files\app.exe", &[*arg]).unwrap();
            assert_eq!(line, format!(r#""C:\Program Files\app.exe" {quoted}"#));
            assert_eq!(
                split(&line),
                [r"C:\Program Files\app.exe", *arg],
                "{arg:?} as {line}"
            );
        }
        let args = ["one", "two words", "", r"trailing\", r#"q"uote"#];
        let line = command_line(r"C:\x.exe", &args).unwrap();
        assert_eq!(split(&line)[1..], args);
    }

    #[test]
    fn the_entry_is_the_one_the_installer_writes() {
        // scripts/windows/installer.nsi writes and removes the same value under the same keys.
        let nsi = include_str!("../../../scripts/windows/installer.nsi");
        assert!(nsi.contains(&format!("!define RUN_VALUE \"{RUN_VALUE}\"")));
        assert!(nsi.contains(&format!("!define RUN_KEY \"{RUN_KEY}\"")));
        assert!(nsi.contains(&format!("!define APPROVED_KEY \"{APPROVED_KEY}\"")));
        assert!(nsi.contains(r#"'"$INSTDIR\vbm365-auth-app.exe" --hidden'"#));
    }

    #[test]
    fn task_managers_switch_is_read_from_its_first_byte() {
        let off_at = [3, 0, 0, 0, 0x10, 0x3c, 0x5e, 0xa2, 0x4f, 0x8d, 0xdb, 0x01];
        assert!(approved(None), "no switch: it runs");
        assert!(approved(Some(&[])));
        assert!(approved(Some(&APPROVED_ON)));
        assert!(approved(Some(&[6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])));
        assert!(!approved(Some(&off_at)), "turned off in Task Manager");
        assert!(!approved(Some(&[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])));
        assert!(!approved(Some(&[1])));
    }

    /// The real registry (Wine's, in the tests' private prefix), under keys of the test's own that
    /// are removed afterwards.
    #[cfg(windows)]
    mod registry {
        use super::super::*;
        use windows_registry::CURRENT_USER;

        struct TestKeys {
            root: String,
        }

        impl TestKeys {
            fn new(name: &str) -> Self {
                let root = format!(r"Software\vbm365-auth-test-{name}-{}", std::process::id());
                let _ = CURRENT_USER.remove_tree(&root);
                TestKeys { root }
            }
            fn run(&self) -> String {
                format!(r"{}\Run", self.root)
            }
            fn approved(&self) -> String {
                format!(r"{}\StartupApproved\Run", self.root)
            }
            fn entry(&self) -> RunEntry {
                RunEntry::at(&self.run(), &self.approved(), RUN_VALUE)
            }
        }

        impl Drop for TestKeys {
            fn drop(&mut self) {
                let _ = CURRENT_USER.remove_tree(&self.root);
            }
        }

        fn exe() -> String {
            r"C:\Users\Zoë Doe\AppData\Local\Programs\vbm365-auth\vbm365-auth-app.exe".into()
        }

        /// The real `CommandLineToArgvW`.
        fn argv(line: &str) -> Vec<String> {
            use windows_sys::Win32::Foundation::LocalFree;
            use windows_sys::Win32::UI::Shell::CommandLineToArgvW;
            let wide: Vec<u16> = line.encode_utf16().chain([0]).collect();
            let mut n = 0;
            // SAFETY: `wide` is NUL-terminated; the array is freed once copied.
            unsafe {
                let list = CommandLineToArgvW(wide.as_ptr(), &mut n);
                assert!(!list.is_null(), "CommandLineToArgvW failed");
                let out = (0..n as usize)
                    .map(|i| {
                        let p = *list.add(i);
                        let len = (0..).take_while(|&j| *p.add(j) != 0).count();
                        String::from_utf16_lossy(std::slice::from_raw_parts(p, len))
                    })
                    .collect();
                LocalFree(list.cast());
                out
            }
        }

        #[test]
        fn windows_splits_the_command_line_back_into_the_program_and_its_arguments() {
            let args = ["--hidden", "two words", "", r"C:\my dir\", r#"a "quote""#];
            let line = command_line(&exe(), &args).unwrap();
            let mut expected = vec![exe()];
            expected.extend(args.iter().map(|a| a.to_string()));
            assert_eq!(argv(&line), expected, "{line}");
        }

        #[test]
        fn an_entry_is_written_read_and_removed() {
            let keys = TestKeys::new("entry");
            let entry = keys.entry();
            assert_eq!(entry.command().unwrap(), None);
            assert!(!entry.is_enabled().unwrap());
            entry.disable().expect("nothing to remove is fine");

            let line = command_line(&exe(), &["--hidden"]).unwrap();
            entry.enable(&line).unwrap();
            assert!(entry.is_enabled().unwrap());
            let run = CURRENT_USER.open(keys.run()).unwrap();
            assert_eq!(
                run.get_string(RUN_VALUE).unwrap(),
                format!("\"{}\" --hidden", exe())
            );
            assert_eq!(
                run.get_type(RUN_VALUE).unwrap(),
                windows_registry::Type::String
            );
            // No switches kept yet: none is made up.
            assert!(CURRENT_USER.open(keys.approved()).is_err());

            entry.disable().unwrap();
            assert_eq!(entry.command().unwrap(), None);
            assert!(!entry.is_enabled().unwrap());
            entry.disable().expect("twice is fine");
        }

        #[test]
        fn an_entry_switched_off_in_task_manager_is_off_until_turned_on_again() {
            let keys = TestKeys::new("switch");
            let entry = keys.entry();
            let line = command_line(&exe(), &["--hidden"]).unwrap();
            entry.enable(&line).unwrap();
            // Task Manager > Startup > Disable.
            let switches = CURRENT_USER.create(keys.approved()).unwrap();
            let off = [3, 0, 0, 0, 0x10, 0x3c, 0x5e, 0xa2, 0x4f, 0x8d, 0xdb, 0x01];
            switches
                .set_bytes(RUN_VALUE, windows_registry::Type::Bytes, &off)
                .unwrap();
            assert_eq!(entry.command().unwrap(), Some(line.clone()));
            assert!(!entry.is_enabled().unwrap(), "switched off");

            // Ticking the setting turns it on for real.
            entry.enable(&line).unwrap();
            assert_eq!(&*switches.get_value(RUN_VALUE).unwrap(), &APPROVED_ON);
            assert!(entry.is_enabled().unwrap());

            // Off removes the entry and its switch; the switches of other programs stay.
            switches
                .set_bytes("Other", windows_registry::Type::Bytes, &off)
                .unwrap();
            entry.disable().unwrap();
            assert!(switches.get_value(RUN_VALUE).is_err());
            assert_eq!(&*switches.get_value("Other").unwrap(), &off);
            assert!(!entry.is_enabled().unwrap());
        }
    }
}
