//! File helpers: atomic replace, private files and directories, and cross-process advisory locks
//! that say who holds them.
//!
//! Every file this product writes is private to its user: directories are made 0700 and files
//! 0600 on Unix whatever the umask (a stricter mode the user set is kept), and a config directory
//! or file that other users could write is refused with the reason, since whoever can replace
//! `config.json` can redirect where tokens go. Files are never written through a symbolic link: an
//! atomic replace would turn the link into a plain file, so a link is refused with a message. (On
//! Windows the files inherit the ACLs of the user's profile directory.)

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
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
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
        match file.try_lock() {
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
        let _ = self.file.unlock();
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
