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

mod atomic;
mod lock;
mod private;
#[cfg(windows)]
mod windows;

pub use atomic::{write_atomic, REPLACE_RETRY};
pub use lock::FileLock;
pub use private::{check_private, create_private_dir, read_optional, refuse_symlink};

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
