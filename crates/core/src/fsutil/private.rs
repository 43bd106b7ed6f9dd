//! Private files and directories: 0700/0600 whatever the umask, no symbolic links, and the check
//! that nobody else can write a file this product trusts.

use crate::error::{Error, Result};
use std::path::Path;

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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::fsutil::write_atomic;

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
}
