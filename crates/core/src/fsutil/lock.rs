//! The cross-process lock: an advisory lock on a file that writes who holds it into the file.

#[cfg(windows)]
use super::windows;
use super::{blocking, create_private_dir};
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;

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
