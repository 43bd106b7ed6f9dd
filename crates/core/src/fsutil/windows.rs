//! The Windows side of [`super::write_atomic`] and [`super::FileLock`].

use super::REPLACE_RETRY;
use crate::error::{Error, Result};
use std::fs::File;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_LOCK_VIOLATION, ERROR_SHARING_VIOLATION, HANDLE,
};
use windows_sys::Win32::Storage::FileSystem::{
    LockFileEx, MoveFileExW, UnlockFileEx, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY,
    MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH,
};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// The locked byte: far past any lock file's end (Windows allows locking beyond the end), so
/// the holder's description at the start stays readable to the processes that wait.
const LOCK_OFFSET: u64 = 1 << 62;

fn overlapped_at(offset: u64) -> OVERLAPPED {
    // SAFETY: OVERLAPPED is plain data; all zeroes is its documented initial state.
    let mut o: OVERLAPPED = unsafe { std::mem::zeroed() };
    o.Anonymous.Anonymous.Offset = offset as u32;
    o.Anonymous.Anonymous.OffsetHigh = (offset >> 32) as u32;
    o
}

/// Takes the lock without waiting: `WouldBlock` when another handle holds it.
pub(super) fn try_lock(file: &File) -> std::result::Result<(), std::fs::TryLockError> {
    let mut o = overlapped_at(LOCK_OFFSET);
    // SAFETY: a valid, open handle of `file`; `o` outlives the call, which does not return
    // before it completes (LOCKFILE_FAIL_IMMEDIATELY on a handle opened for synchronous I/O).
    let ok = unsafe {
        LockFileEx(
            file.as_raw_handle() as HANDLE,
            LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY,
            0,
            1,
            0,
            &mut o,
        )
    };
    if ok != 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(ERROR_LOCK_VIOLATION as i32) {
        Err(std::fs::TryLockError::WouldBlock)
    } else {
        Err(std::fs::TryLockError::Error(e))
    }
}

/// Releases the lock (closing the last handle would release it too).
pub(super) fn unlock(file: &File) {
    let mut o = overlapped_at(LOCK_OFFSET);
    // SAFETY: as in `try_lock`.
    unsafe {
        UnlockFileEx(file.as_raw_handle() as HANDLE, 0, 1, 0, &mut o);
    }
}

fn wide(p: &Path) -> Vec<u16> {
    p.as_os_str().encode_wide().chain(Some(0)).collect()
}

/// Moves `from` over `to` and returns once the rename is on disk.
pub(super) fn move_over(from: &Path, to: &Path) -> std::io::Result<()> {
    let (from_w, to_w) = (wide(from), wide(to));
    // SAFETY: both are NUL-terminated UTF-16 strings that outlive the call.
    let ok = unsafe {
        MoveFileExW(
            from_w.as_ptr(),
            to_w.as_ptr(),
            MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
        )
    };
    if ok != 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Another program has the file open in a way that keeps it from being replaced right now.
pub(super) fn is_sharing_violation(e: &std::io::Error) -> bool {
    [
        ERROR_SHARING_VIOLATION,
        ERROR_LOCK_VIOLATION,
        ERROR_ACCESS_DENIED,
    ]
    .iter()
    .any(|&c| e.raw_os_error() == Some(c as i32))
}

/// Replaces `path` by the written and flushed temporary file, retrying sharing violations
/// for up to [`REPLACE_RETRY`] (10 ms, doubling up to 200 ms). A read-only `path` is replaced
/// and the new file made read-only. On failure the old file is left as it was and the
/// temporary file is removed.
pub(super) fn replace(tmp: tempfile::TempPath, path: &Path) -> Result<()> {
    // `keep` clears the temporary attribute tempfile gives the file; from here on it is ours
    // to remove.
    let tmp = tmp.keep().map_err(|e| Error::io(path, e.error))?;
    let read_only = std::fs::metadata(path)
        .map(|m| m.permissions().readonly())
        .unwrap_or(false);
    let set_read_only = |p: &Path, on: bool| -> std::io::Result<()> {
        let mut perms = std::fs::metadata(p)?.permissions();
        perms.set_readonly(on);
        std::fs::set_permissions(p, perms)
    };
    let result = (|| {
        if read_only {
            set_read_only(path, false)?;
        }
        let start = Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            match move_over(&tmp, path) {
                Ok(()) => return Ok(()),
                Err(e) if is_sharing_violation(&e) && start.elapsed() < REPLACE_RETRY => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        }
    })();
    match result {
        Ok(()) => {
            if read_only {
                set_read_only(path, true).map_err(|e| Error::io(path, e))?;
            }
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            if read_only {
                let _ = set_read_only(path, true);
            }
            Err(Error::io(path, e))
        }
    }
}
