//! Reading and editing `config.json` on disk: private-file checks, validation on every load, and
//! edits under the cross-process config lock.

use super::Config;
use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock};
use std::path::{Path, PathBuf};

/// How long a config edit waits for another process's edit.
const CONFIG_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads and edits `config.json` in a config directory.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    path: PathBuf,
    lock_path: PathBuf,
}

impl ConfigStore {
    /// The store of `config.json` in `dir`, with its lock `locks/config.lock`. Touches no file.
    pub fn new(dir: &Path) -> Self {
        ConfigStore {
            path: dir.join("config.json"),
            lock_path: dir.join("locks").join("config.lock"),
        }
    }

    /// Where `config.json` is (it may not exist yet).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current config, or the default one when no file exists yet (nothing is written).
    /// Refused when the directory or the file could be written by other users; every tenant is
    /// checked with the rules of `tenant add` (a hand-edited file gets no less scrutiny).
    pub fn load(&self) -> Result<Config> {
        if let Some(dir) = self.path.parent() {
            fsutil::check_private(dir)?;
        }
        fsutil::check_private(&self.path)?;
        match fsutil::read_optional(&self.path)? {
            None => Ok(Config::default()),
            Some(bytes) => self.parse(&bytes),
        }
    }

    /// Parses and checks the bytes of a `config.json`.
    pub fn parse(&self, bytes: &[u8]) -> Result<Config> {
        // The detail may quote the file (serde's unknown variant, a tenant's field): made safe to
        // show, so a file's escape sequences never reach a terminal or the window.
        let corrupt = |detail: String| Error::ConfigCorrupt {
            path: self.path.display().to_string(),
            detail: crate::text::shown(&detail, 400),
        };
        let cfg: Config = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        let cfg = cfg.migrate(&self.path)?;
        let mut seen = std::collections::HashSet::with_capacity(cfg.tenants.len());
        for (i, t) in cfg.tenants.iter().enumerate() {
            t.validate_fields().map_err(|e| {
                corrupt(format!(
                    "tenant {} ('{}'): {e}; fix or remove it",
                    i + 1,
                    t.name
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(80)
                        .collect::<String>()
                ))
            })?;
            if !seen.insert(t.name.to_ascii_lowercase()) {
                return Err(corrupt(format!("tenant '{}' is listed twice", t.name)));
            }
        }
        Ok(cfg)
    }

    /// Read-modify-write under the cross-process config lock. The closure's error aborts the edit
    /// and leaves the file untouched.
    pub fn update<T>(&self, edit: impl FnOnce(&mut Config) -> Result<T>) -> Result<(Config, T)> {
        fsutil::blocking(|| self.update_now(edit))
    }

    fn update_now<T>(&self, edit: impl FnOnce(&mut Config) -> Result<T>) -> Result<(Config, T)> {
        let _lock = FileLock::acquire_blocking(
            &self.lock_path,
            "the configuration file",
            CONFIG_LOCK_WAIT,
        )?;
        let mut cfg = self.load()?;
        let out = edit(&mut cfg)?;
        self.write(&cfg)?;
        Ok((cfg, out))
    }

    fn write(&self, cfg: &Config) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(cfg).map_err(|e| Error::ConfigCorrupt {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        })?;
        bytes.push(b'\n');
        fsutil::write_atomic(&self.path, &bytes)
    }
}
