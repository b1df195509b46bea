//! A cache of compiled modules on disk, so that a restart (or a reload of
//! a module seen before) skips compilation.
//!
//! An entry is named by the module's sha256 and this engine's
//! compatibility key (wasmtime's version and every setting that changes
//! compiled code). Loading compiled code runs it natively, so an entry is
//! never taken on trust: its header must name the module it is for, a
//! digest of its contents must match, and wasmtime must recognise it as a
//! component compiled for this engine. Anything else is deleted and
//! rebuilt. The folder is created private to the user (0700) and refused
//! if others may write to it.

use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Precompiled};

/// Start of every entry, with the format's version.
const MAGIC: &[u8; 16] = b"palisade-cwasm1\n";
const HEADER_LEN: usize = MAGIC.len() + 32 + 32;

/// Where a module's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compiled {
    /// Read from the cache.
    Cache,
    /// Compiled now (and written to the cache, if there is one).
    Fresh,
}

/// Counters of how the cache served.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Entries found unusable (corrupt, foreign, for another engine) and
    /// rebuilt.
    pub rejected: AtomicU64,
    pub write_errors: AtomicU64,
}

/// The compiled-module cache in one folder.
pub struct ModuleCache {
    dir: PathBuf,
    engine_key: String,
    stats: CacheStats,
}

/// Why the cache folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot create the module cache {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the module cache {path} may be written by other users (mode {mode:o}): compiled code from it would run inside Palisade; make it private (chmod 700) or choose another cache.dir"
    )]
    NotPrivate { path: PathBuf, mode: u32 },
}

impl ModuleCache {
    /// Open (creating it, private) the cache folder for `engine`.
    pub fn open(dir: &Path, engine: &Engine) -> Result<ModuleCache, CacheError> {
        create_private_dir(dir).map_err(|source| CacheError::Create {
            path: dir.to_owned(),
            source,
        })?;
        check_private(dir)?;
        let cache = ModuleCache {
            dir: dir.to_owned(),
            engine_key: engine_key(engine),
            stats: CacheStats::default(),
        };
        cache.prune();
        Ok(cache)
    }

    /// Delete entries no engine like this one can use (compiled by another
    /// wasmtime version or with other settings), so that upgrades do not
    /// leave the folder growing.
    fn prune(&self) {
        let suffix = format!("-{}.cwasm", &self.engine_key[..16]);
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".cwasm") && !name.ends_with(&suffix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// The entry for a module with this sha256 (hex).
    pub fn entry_path(&self, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}-{}.cwasm", &self.engine_key[..16]))
    }

    /// The compiled component for `bytes` (whose sha256 is `sha256`): from
    /// the cache when a sound entry exists, otherwise compiled and stored.
    pub fn component(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<(Component, Compiled)> {
        let path = self.entry_path(sha256);
        match std::fs::read(&path) {
            Ok(entry) => match self.deserialize(engine, &entry, sha256) {
                Ok(component) => {
                    self.stats.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok((component, Compiled::Cache));
                }
                Err(reason) => {
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(entry = %path.display(), %reason, "module cache entry unusable; recompiling");
                    let _ = std::fs::remove_file(&path);
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(entry = %path.display(), error = %e, "cannot read module cache entry");
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|code| self.write(&path, sha256, &code))
        {
            self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(entry = %path.display(), error = %e, "cannot write module cache entry");
        }
        Ok((component, Compiled::Fresh))
    }

    fn deserialize(
        &self,
        engine: &Engine,
        entry: &[u8],
        sha256: &str,
    ) -> Result<Component, String> {
        if entry.len() < HEADER_LEN || &entry[..MAGIC.len()] != MAGIC {
            return Err("not a Palisade cache entry".into());
        }
        let (header, code) = entry.split_at(HEADER_LEN);
        let module = &header[MAGIC.len()..MAGIC.len() + 32];
        let digest = &header[MAGIC.len() + 32..];
        if hex::encode(module) != sha256 {
            return Err(format!(
                "entry is for module {}, not {sha256}",
                hex::encode(module)
            ));
        }
        if Sha256::digest(code).as_slice() != digest {
            return Err("contents do not match their digest (corrupt or altered)".into());
        }
        if Engine::detect_precompiled(code) != Some(Precompiled::Component) {
            return Err("not a compiled component".into());
        }
        // SAFETY: the bytes are exactly what `Component::serialize` wrote
        // for this module (their digest, kept beside them in a folder only
        // this user may write, matches), and wasmtime checks that they were
        // compiled by a compatible engine before using them.
        unsafe { Component::deserialize(engine, code) }.map_err(|e| format!("{e:#}"))
    }

    /// Write an entry under a temporary name, then rename it into place:
    /// readers see a whole entry or none.
    fn write(&self, path: &Path, sha256: &str, code: &[u8]) -> std::io::Result<()> {
        let module = hex::decode(sha256).map_err(std::io::Error::other)?;
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let tmp = self.dir.join(format!(
            ".{}.{}-{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(MAGIC)?;
        file.write_all(&module)?;
        file.write_all(&Sha256::digest(code))?;
        file.write_all(code)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

/// A stable key for everything about `engine` that compiled code depends
/// on.
fn engine_key(engine: &Engine) -> String {
    struct Sha(Sha256);
    impl Hasher for Sha {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hex::encode(hasher.0.finalize())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn check_private(dir: &Path) -> Result<(), CacheError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .map_err(|source| CacheError::Create {
                path: dir.to_owned(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o022 != 0 {
            return Err(CacheError::NotPrivate {
                path: dir.to_owned(),
                mode: mode & 0o777,
            });
        }
    }
    let _ = dir;
    Ok(())
}
