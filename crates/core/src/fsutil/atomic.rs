//! Atomic replace: a file is either the old one or the new one, whatever the instant of a crash.

use super::create_private_dir;
use super::refuse_symlink;
#[cfg(windows)]
use super::windows;
use crate::error::{Error, Result};
#[cfg(unix)]
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

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

/// How long a replace that Windows refuses with a sharing violation is retried (another program
/// has the file open without `FILE_SHARE_DELETE`; scanners and indexers let go within moments).
pub const REPLACE_RETRY: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(windows)]
    use std::fs::OpenOptions;
    #[cfg(windows)]
    use std::time::Instant;

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
}
