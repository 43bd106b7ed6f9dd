//! File helpers: atomic replace, private files and directories, and cross-process advisory locks
//! that say who holds them.
//!
//! Every file this product writes is private to its user: directories are made 0700 and files
//! 0600 on Unix whatever the umask (a stricter mode the user set is kept), and a config directory
//! or file that other users could write is refused with the reason, since whoever can replace
//! `config.json` can redirect where tokens go. Files are never written through a symbolic link: an
//! atomic replace would turn the link into a plain file, so a link is refused with a message. (On
//! Windows the files inherit the ACLs of the user's profile directory.)
//!
//! Windows differs in three ways, handled here:
//! - a file that another program holds open without `FILE_SHARE_DELETE` (an antivirus scanner, the
//!   search indexer, a backup agent) cannot be replaced for a moment: the replace is retried for up
//!   to [`REPLACE_RETRY`] on a sharing violation, then fails naming the file;
//! - the replace is `MoveFileExW` with `MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH` (it
//!   returns once the rename is on disk, as the directory fsync makes it on Unix), and a read-only
//!   file stays read-only, as a stricter mode stays on Unix;
//! - byte-range locks are mandatory there, so a lock on the whole file would keep everyone else from
//!   reading who holds it: the lock covers one byte far beyond the end of the file instead.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Runs blocking work (a keyring call that may wait for its timeout, a file lock, an fsync) without
/// stalling the other tasks of a multi-threaded tokio runtime: there the worker hands its tasks to
/// another thread for the time being (`block_in_place`). Outside a runtime, on a blocking-pool
/// thread or on a current-thread runtime it simply runs `f`.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Writes `bytes` to `path` so that a crash at any instant leaves either the old or the new file:
/// a temporary file in the same directory is written, flushed to disk, renamed over the target, and
/// the directory entry is flushed too. The file is readable by its owner only (0600, or the
/// stricter mode the existing file has); a symbolic link at `path` is refused, not replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    create_private_dir(dir)?;
    refuse_symlink(path)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    let tmp = tmp.into_temp_path();
    #[cfg(unix)]
    {
        // Keep a stricter mode the user chose (e.g. 0400); never anything wider than 0600.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o600)
            .unwrap_or(0o600);
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(path, e))?;
    }
    #[cfg(not(windows))]
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    #[cfg(windows)]
    windows::replace(tmp, path)?;
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        // Makes the rename itself durable; failure here does not undo the replace.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates `dir` (and its parents) if needed; a directory it creates is 0700 on Unix whatever the
/// umask.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Error::io(dir, e))?;
    #[cfg(unix)]
    {
        // `mode` is filtered by the umask; set it exactly.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

/// A symbolic link where this product keeps a file is refused: reading through it would trust a
/// file elsewhere, and an atomic replace would silently turn the link into a plain file.
pub fn refuse_symlink(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::UnsafeFile {
            path: path.display().to_string(),
            detail: "it is a symbolic link; VBM365 Auth replaces its files atomically and does not follow links. Replace the link with the file itself, or point VBM365_AUTH_CONFIG_DIR to the directory that holds it".into(),
        }),
        _ => Ok(()),
    }
}

/// Refuses a directory or file that users other than its owner can write (or that another user
/// owns): whoever can replace `config.json` decides where tokens are sent. Missing paths pass.
pub fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(());
        };
        let unsafe_because = |detail: String| Error::UnsafeFile {
            path: path.display().to_string(),
            detail,
        };
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me && meta.uid() != 0 {
            return Err(unsafe_because(format!(
                "it belongs to another user (uid {}); use a directory of your own",
                meta.uid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(unsafe_because(format!(
                "other users can write it (mode {:o})",
                meta.mode() & 0o777
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Reads a file, `None` when it does not exist. A symbolic link is refused.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    refuse_symlink(path)?;
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// An exclusive advisory lock on a file, shared by every process on the machine (flock / LockFileEx
/// through `std::fs::File::lock`). Released on drop or when the process dies.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Waits up to `timeout` for the lock. Polls with `try_lock` so that the wait can be bounded and
    /// does not tie up a thread; the poll step is short next to any network round trip.
    pub async fn acquire(path: &Path, what: &str, timeout: Duration) -> Result<FileLock> {
        let mut wait = Wait::new(path, what, timeout)?;
        loop {
            match wait.poll()? {
                Ok(lock) => return Ok(lock),
                Err(pause) => tokio::time::sleep(pause).await,
            }
        }
    }

    /// Blocking variant for synchronous callers (config edits), bounded the same way (and run
    /// through [`blocking`] so an async caller's runtime keeps going).
    pub fn acquire_blocking(path: &Path, what: &str, timeout: Duration) -> Result<FileLock> {
        blocking(|| FileLock::wait_blocking(path, what, timeout))
    }

    fn wait_blocking(path: &Path, what: &str, timeout: Duration) -> Result<FileLock> {
        let mut wait = Wait::new(path, what, timeout)?;
        loop {
            match wait.poll()? {
                Ok(lock) => return Ok(lock),
                Err(pause) => std::thread::sleep(pause),
            }
        }
    }

    /// Takes the lock if it is free and writes who holds it into the lock file (pid and command),
    /// for the message another process shows when it gives up waiting.
    fn try_take(file: &File, path: &Path) -> Result<Option<FileLock>> {
        #[cfg(not(windows))]
        let taken = file.try_lock();
        #[cfg(windows)]
        let taken = windows::try_lock(file);
        match taken {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        let mut file = file.try_clone().map_err(|e| Error::io(path, e))?;
        let _ = file
            .set_len(0)
            .and_then(|()| write!(file, "{}", holder_description()));
        Ok(Some(FileLock {
            file,
            path: path.to_owned(),
        }))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// One bounded wait for a lock, shared by the async and the blocking acquire: each poll takes the
/// lock, or says how long to pause before the next (2 ms, doubling up to 20 ms), or gives up.
struct Wait<'a> {
    file: File,
    path: &'a Path,
    what: &'a str,
    timeout: Duration,
    start: Instant,
    step: Duration,
}

impl<'a> Wait<'a> {
    fn new(path: &'a Path, what: &'a str, timeout: Duration) -> Result<Self> {
        Ok(Wait {
            file: open_lock_file(path)?,
            path,
            what,
            timeout,
            start: Instant::now(),
            step: Duration::from_millis(2),
        })
    }

    /// `Ok(Ok(lock))` taken, `Ok(Err(pause))` busy: pause and poll again, `Err` timed out.
    fn poll(&mut self) -> Result<std::result::Result<FileLock, Duration>> {
        if let Some(lock) = FileLock::try_take(&self.file, self.path)? {
            return Ok(Ok(lock));
        }
        if self.start.elapsed() >= self.timeout {
            return Err(timed_out(self.path, self.what, self.timeout));
        }
        let pause = self.step;
        self.step = (self.step * 2).min(Duration::from_millis(20));
        Ok(Err(pause))
    }
}

/// "pid 1234 (vbm365-auth switch b)": who holds a lock, as written into the lock file.
fn holder_description() -> String {
    let args: Vec<String> = std::env::args()
        .take(4)
        .map(|a| {
            let a: String = a.chars().filter(|c| !c.is_control()).take(60).collect();
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|_| a.contains(std::path::MAIN_SEPARATOR))
                .unwrap_or(a)
        })
        .collect();
    format!("pid {} ({})", std::process::id(), args.join(" "))
}

fn timed_out(path: &Path, what: &str, after: Duration) -> Error {
    let holder = std::fs::read_to_string(path)
        .ok()
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(120)
                .collect::<String>()
        })
        .filter(|s| !s.is_empty());
    Error::LockTimeout {
        what: what.to_string(),
        after,
        holder,
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

impl Drop for FileLock {
    fn drop(&mut self) {
        #[cfg(not(windows))]
        let _ = self.file.unlock();
        #[cfg(windows)]
        windows::unlock(&self.file);
    }
}

/// How long a replace that Windows refuses with a sharing violation is retried (another program
/// has the file open without `FILE_SHARE_DELETE`; scanners and indexers let go within moments).
pub const REPLACE_RETRY: Duration = Duration::from_secs(5);

#[cfg(windows)]
mod windows {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn files_and_directories_are_private_whatever_the_umask_and_links_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("cfg");
        // SAFETY: umask has no preconditions; the old mask is restored at once.
        let old = unsafe { libc::umask(0) };
        let r = write_atomic(&dir.join("config.json"), b"{}");
        unsafe { libc::umask(old) };
        r.unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("config.json")), 0o600);
        // A stricter mode the user set is kept.
        std::fs::set_permissions(
            dir.join("config.json"),
            std::fs::Permissions::from_mode(0o400),
        )
        .unwrap();
        write_atomic(&dir.join("config.json"), b"{\"a\":1}").unwrap();
        assert_eq!(mode(&dir.join("config.json")), 0o400);
        assert_eq!(
            std::fs::read(dir.join("config.json")).unwrap(),
            b"{\"a\":1}"
        );
        // Writable by others: refused with the reason.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_private(&dir).unwrap_err();
        assert_eq!(e.code(), "unsafe_file");
        assert!(e.to_string().contains("other users can write"), "{e}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        check_private(&dir).unwrap();
        // A link is neither followed nor replaced.
        let target = root.path().join("elsewhere.json");
        std::fs::write(&target, b"{}").unwrap();
        let link = dir.join("vault.bin");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(write_atomic(&link, b"x").unwrap_err().code(), "unsafe_file");
        assert_eq!(read_optional(&link).unwrap_err().code(), "unsafe_file");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"{}");
    }

    #[test]
    fn atomic_write_replaces_and_sets_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    /// Paths as Windows users have them: spaces and letters outside ASCII in the user name.
    #[tokio::test]
    async fn files_and_locks_work_under_a_path_with_spaces_and_non_ascii_letters() {
        let root = tempfile::tempdir().unwrap();
        let dir = root
            .path()
            .join("Jürgen Ødegård")
            .join("App Data")
            .join("vbm365-auth");
        let p = dir.join("config.json");
        write_atomic(&p, "{\"name\":\"Zoë\"}".as_bytes()).unwrap();
        write_atomic(&p, "{\"name\":\"Zoë 2\"}".as_bytes()).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"name\":\"Zoë 2\"}");
        assert_eq!(
            read_optional(&p).unwrap().unwrap(),
            "{\"name\":\"Zoë 2\"}".as_bytes()
        );
        let lock_path = dir.join("locks").join("config.lock");
        let held = FileLock::acquire(&lock_path, "the config lock", Duration::from_secs(1))
            .await
            .unwrap();
        let e =
            FileLock::acquire_blocking(&lock_path, "the config lock", Duration::from_millis(30))
                .unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        drop(held);
        FileLock::acquire_blocking(&lock_path, "the config lock", Duration::from_millis(30))
            .unwrap();
    }

    /// A program that opened the file without `FILE_SHARE_DELETE` (a scanner, the indexer) keeps
    /// Windows from replacing it; the replace waits until it lets go.
    #[cfg(windows)]
    #[test]
    fn a_replace_waits_for_a_program_that_holds_the_file_open() {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_SHARE_READ: u32 = 1;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vault.bin");
        write_atomic(&p, b"one").unwrap();
        let scanner = OpenOptions::new()
            .read(true)
            .share_mode(FILE_SHARE_READ)
            .open(&p)
            .unwrap();
        // While it is open, a plain rename over it is refused: what the retry is for.
        let probe = dir.path().join("probe");
        std::fs::write(&probe, b"x").unwrap();
        let refused = windows::move_over(&probe, &p).unwrap_err();
        assert!(windows::is_sharing_violation(&refused), "{refused:?}");
        std::fs::remove_file(&probe).unwrap();

        let (tx, rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let released = Instant::now();
            drop(scanner);
            tx.send(released).unwrap();
        });
        write_atomic(&p, b"two").unwrap();
        let done = Instant::now();
        holder.join().unwrap();
        let released = rx.recv().unwrap();
        assert!(
            done >= released,
            "the replace finished before the file was let go"
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    /// Held open for longer than [`REPLACE_RETRY`]: the write fails naming the file, the old
    /// contents stay, and no temporary file is left behind.
    #[cfg(windows)]
    #[test]
    fn a_file_held_open_past_the_retry_keeps_its_old_contents() {
        use std::os::windows::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        write_atomic(&p, b"old").unwrap();
        let _scanner = OpenOptions::new()
            .read(true)
            .share_mode(0)
            .open(&p)
            .unwrap();
        let e = write_atomic(&p, b"new").unwrap_err();
        assert_eq!(e.code(), "io", "{e}");
        assert!(e.to_string().contains("config.json"), "{e}");
        drop(_scanner);
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    /// A read-only file (the Windows counterpart of a stricter mode) is replaced and stays
    /// read-only.
    #[cfg(windows)]
    #[test]
    fn a_read_only_file_is_replaced_and_stays_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        write_atomic(&p, b"one").unwrap();
        let mut perms = std::fs::metadata(&p).unwrap().permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&p, perms).unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(std::fs::metadata(&p).unwrap().permissions().readonly());
        // On Windows this clears only the read-only attribute (so the temporary directory can go).
        #[allow(clippy::permissions_set_readonly_false)]
        fn make_writable(p: &Path) {
            let mut perms = std::fs::metadata(p).unwrap().permissions();
            perms.set_readonly(false);
            std::fs::set_permissions(p, perms).unwrap();
        }
        make_writable(&p);
    }

    #[tokio::test]
    async fn lock_excludes_a_second_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let first = FileLock::acquire(&p, "x", Duration::from_secs(1))
            .await
            .unwrap();
        let err = FileLock::acquire(&p, "the x lock", Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "lock_timeout");
        assert!(err.to_string().contains("the x lock"));
        // The message says who holds it.
        let pid = format!("pid {}", std::process::id());
        assert!(err.to_string().contains(&pid), "{err}");
        let err =
            FileLock::acquire_blocking(&p, "the y lock", Duration::from_millis(50)).unwrap_err();
        assert_eq!(err.code(), "lock_timeout");
        assert!(err.to_string().contains(&pid), "{err}");
        drop(first);
        FileLock::acquire(&p, "x", Duration::from_millis(50))
            .await
            .unwrap();
    }
}
