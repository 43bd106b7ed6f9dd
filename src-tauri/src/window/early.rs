//! The window process forked off the tray process at its start (Linux; elsewhere, e.g. on macOS,
//! where system frameworks do not survive a fork without exec, it is started from the executable).

use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// Which side of the fork this is.
pub enum Forked {
    /// The window process: its stdin and stdout are the pipes to the tray process.
    Child,
    /// The tray process: the window process's pid, its input and its output.
    Parent { pid: u32, input: File, output: File },
}

/// A pipe whose ends are closed on `exec`: (read, write).
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 just opened both and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Forks. Must be called while the process has a single thread: the child carries on in
/// `main` as the window process, with none of the parent's threads.
pub fn fork() -> std::io::Result<Forked> {
    use std::os::fd::AsRawFd;
    let (to_window_read, to_window_write) = pipe()?;
    let (to_tray_read, to_tray_write) = pipe()?;
    // SAFETY: the process has a single thread (see above), so the child gets a consistent
    // copy of it.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => {
            // The window process: stdin and stdout become the pipes (without close-on-exec,
            // as for any process); the other ends close with their OwnedFds.
            // SAFETY: plain dup2 onto the standard descriptors.
            let ok = unsafe {
                libc::dup2(to_window_read.as_raw_fd(), 0) == 0
                    && libc::dup2(to_tray_write.as_raw_fd(), 1) == 1
            };
            if !ok {
                // No way to reach the tray process: nothing to show.
                std::process::exit(1);
            }
            Ok(Forked::Child)
        }
        pid => Ok(Forked::Parent {
            pid: pid as u32,
            input: File::from(to_window_write),
            output: File::from(to_tray_read),
        }),
    }
}

/// Waits for the forked process to end and reaps it.
pub fn wait(pid: u32) -> std::io::Result<ExitStatus> {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; `status` is written by waitpid.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        if r == pid as libc::pid_t {
            return Ok(ExitStatus::from_raw(status));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
