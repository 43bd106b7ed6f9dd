//! How the app's processes are launched: the command-line flag of the tray-only start, and the
//! rendering environment each process sets for itself before it has a second thread.

use std::sync::atomic::{AtomicBool, Ordering};

/// Command-line flag: start in the tray only, with no window (start at login passes it; a second
/// launch with it leaves the running app's window as it is).
pub const HIDDEN_ARG: &str = "--hidden";

/// Whether a command line (without the program name) asks for the tray only.
pub fn wants_hidden<S: AsRef<str>>(args: &[S]) -> bool {
    args.iter().any(|a| a.as_ref() == HIDDEN_ARG)
}

/// Environment variable of WebKitGTK that makes its web process paint with Skia on the CPU.
pub const CPU_RENDERING_ENV: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";

/// Asks WebKitGTK to paint this app's pages on the CPU, unless the user chose otherwise by setting
/// [`CPU_RENDERING_ENV`] themselves (`0` brings GPU painting back).
///
/// The window is a small form; GPU painting buys it nothing, while its first frame has to compile
/// a GL shader for every kind of shape drawn. Without a GPU (virtual machines, remote desktops,
/// Xvfb) Mesa's llvmpipe compiles those shaders with LLVM, which `make bench` measured as about
/// 200 ms of the app's cold start. WebKit reads the variable once per process and hands the
/// environment to its web process, so this must run before the first webview exists, while the
/// process has a single thread.
pub fn prefer_cpu_rendering() {
    if cfg!(target_os = "linux") && std::env::var_os(CPU_RENDERING_ENV).is_none() {
        std::env::set_var(CPU_RENDERING_ENV, "1");
    }
}

/// Environment variable of GTK 3 (GDK) that turns its OpenGL support off (`disable`).
pub const GDK_GL_ENV: &str = "GDK_GL";
/// The tray process set [`GDK_GL_ENV`] itself (the window process does not inherit it then).
static GL_OFF_IN_TRAY: AtomicBool = AtomicBool::new(false);

/// Keeps OpenGL out of the tray process on Linux, unless the user set [`GDK_GL_ENV`].
///
/// On X11, GDK probes OpenGL when it opens the display, which loads the system's GL driver into
/// the process: with Mesa, its LLVM-based driver alone was about 50 MB of the tray process's
/// resident memory in `make bench`. The tray process draws no window (its menu is exported over
/// D-Bus), so it needs none of it; the window process, which does, is started without the
/// setting ([`gl_off_in_tray`]). Must run while the process has a single thread.
pub fn no_gl_in_tray() {
    if cfg!(target_os = "linux") && std::env::var_os(GDK_GL_ENV).is_none() {
        std::env::set_var(GDK_GL_ENV, "disable");
        GL_OFF_IN_TRAY.store(true, Ordering::Relaxed);
    }
}

/// Whether [`no_gl_in_tray`] set [`GDK_GL_ENV`] in this process (so that a window process started
/// from it must not inherit the setting).
pub fn gl_off_in_tray() -> bool {
    GL_OFF_IN_TRAY.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hidden_flag_asks_for_the_tray_only() {
        assert!(wants_hidden(&["--hidden"]));
        assert!(wants_hidden(&["--foo", "--hidden"]));
        assert!(!wants_hidden::<&str>(&[]));
        assert!(!wants_hidden(&["--window", "hidden", "--hidden=1"]));
    }
}
