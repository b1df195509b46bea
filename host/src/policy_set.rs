//! The set of modules that judge, built from the configuration. Immutable
//! once built: a reload builds a new set and swaps it in whole.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::builtin;
use crate::config::{Config, PolicyConfig, Thresholds};
use crate::runtime::{Module, Runtime, sha256_hex};
use crate::signing::{SignatureStatus, TrustedKeys, signature_path};
use crate::state::StateBackend;

/// A module (or list) that could not be loaded, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFailure {
    /// Where it was to come from: `builtin:NAME`, a path, or `list NAME`.
    pub source: String,
    pub error: String,
    /// What judges in its place: the version that was loaded before this
    /// attempt (on reload), or nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serving: Option<String>,
}

impl LoadFailure {
    pub fn new(source: impl Into<String>, error: impl Into<String>) -> LoadFailure {
        LoadFailure {
            source: source.into(),
            error: error.into(),
            serving: None,
        }
    }
}

/// The modules in judging order, the thresholds they are combined with,
/// and the modules that failed to load.
pub struct PolicySet {
    pub(crate) modules: Vec<Arc<Module>>,
    pub(crate) failures: Vec<LoadFailure>,
    pub(crate) thresholds: Thresholds,
    pub(crate) local_hosts: Vec<String>,
    pub(crate) state: Arc<dyn StateBackend>,
    pub(crate) learning_hours: u32,
    /// When the learning period started, once the state has recorded it:
    /// it never changes, so one lookup serves every later activity.
    pub(crate) learning_start: std::sync::OnceLock<u64>,
}

impl PolicySet {
    /// Load every module the configuration names and the drop-in folder
    /// (`dir`, overriding the configuration's) holds. A module that fails
    /// is left out and reported; the others still judge.
    ///
    /// With `previous` (a reload), an unchanged module (same bytes, same
    /// settings) is kept as it is, warm instances and counters included,
    /// and a module that fails to load keeps its previous version judging.
    pub fn build(
        runtime: &Arc<Runtime>,
        config: &Config,
        dir: Option<&Path>,
        previous: Option<&PolicySet>,
    ) -> PolicySet {
        let mut set = PolicySet {
            modules: Vec::new(),
            failures: Vec::new(),
            thresholds: config.thresholds,
            local_hosts: config
                .local_hosts
                .iter()
                .map(|h| h.to_lowercase())
                .collect(),
            state: runtime.state().clone(),
            learning_hours: config.learning.hours,
            learning_start: std::sync::OnceLock::new(),
        };
        let signatures = Signatures::from_config(config).unwrap_or_else(|error| {
            set.failures.push(LoadFailure::new("signatures", error));
            Signatures {
                keys: TrustedKeys::default(),
                required: config.signatures.required,
            }
        });
        for p in &config.policy {
            set.load(runtime, p, &config.base_dir, previous, &signatures);
        }
        let (dir, named) = config.policies_dir(dir);
        if named || dir.exists() {
            match drop_ins(&dir) {
                Ok(entries) => {
                    for entry in entries {
                        match entry {
                            // A drop-in's source is its path already.
                            Ok(p) => set.load(runtime, &p, Path::new(""), previous, &signatures),
                            Err(failure) => set.keep_previous(failure, previous, None),
                        }
                    }
                }
                Err(failure) => set.failures.push(failure),
            }
        }
        // Two modules under one name would be indistinguishable in
        // decisions and metrics.
        let mut seen = std::collections::HashSet::new();
        let mut duplicates = Vec::new();
        set.modules.retain(|m| {
            let fresh = seen.insert(m.name().to_owned());
            if !fresh {
                duplicates.push(LoadFailure::new(
                    m.source(),
                    format!(
                        "another module is already named `{}`: give one a different `name`",
                        m.name()
                    ),
                ));
            }
            fresh
        });
        set.failures.extend(duplicates);
        set
    }

    fn load(
        &mut self,
        runtime: &Arc<Runtime>,
        p: &PolicyConfig,
        base: &Path,
        previous: Option<&PolicySet>,
        signatures: &Signatures,
    ) {
        let bytes = match read_source(&p.source, base) {
            Ok(bytes) => bytes,
            Err(error) => {
                let failure = LoadFailure::new(&p.source, error);
                return self.keep_previous(failure, previous, Some(&p.name));
            }
        };
        let signature = signatures.check(&p.source, base, &bytes);
        if let Some(refusal) = signature.refusal(signatures.required) {
            let failure = LoadFailure::new(&p.source, refusal);
            return self.keep_previous(failure, previous, Some(&p.name));
        }
        let sha256 = sha256_hex(&bytes);
        if let Some(same) = previous
            .and_then(|prev| prev.loaded_from(&p.source, Some(&p.name)))
            .filter(|m| m.is_same(&sha256, p, &signature))
        {
            self.modules.push(same.clone());
            return;
        }
        match Module::load(runtime, &p.source, &bytes, p, p.config_json()) {
            Ok(module) => self
                .modules
                .push(Arc::new(module.with_signature(signature))),
            Err(error) => {
                let failure = LoadFailure::new(&p.source, error.to_string());
                self.keep_previous(failure, previous, Some(&p.name));
            }
        }
    }

    /// Record a failure; on reload, the module previously loaded from the
    /// same source (under the same configured name, when known) goes on
    /// judging in its place.
    fn keep_previous(
        &mut self,
        mut failure: LoadFailure,
        previous: Option<&PolicySet>,
        name: Option<&Option<String>>,
    ) {
        if let Some(old) = previous.and_then(|prev| prev.loaded_from(&failure.source, name)) {
            failure.serving = Some(format!(
                "the previous version ({} {}, sha256 {}) keeps judging",
                old.name(),
                old.version(),
                &old.sha256()[..12]
            ));
            self.modules.push(old.clone());
        }
        tracing::error!(source = %failure.source, error = %failure.error, serving = failure.serving.as_deref().unwrap_or("nothing"), "module not loaded");
        self.failures.push(failure);
    }

    /// The module loaded from `source` under the configured `name`, if any.
    fn loaded_from(&self, source: &str, name: Option<&Option<String>>) -> Option<&Arc<Module>> {
        self.modules.iter().find(|m| {
            m.source() == source && name.is_none_or(|n| m.configured_name() == n.as_deref())
        })
    }

    pub fn modules(&self) -> &[Arc<Module>] {
        &self.modules
    }

    pub fn failures(&self) -> &[LoadFailure] {
        &self.failures
    }

    /// Configured modules that failed to load with no earlier version
    /// judging in their place: activities are judged without them.
    pub fn missing(&self) -> Vec<&LoadFailure> {
        self.failures
            .iter()
            .filter(|f| f.serving.is_none() && !f.source.starts_with("list "))
            .collect()
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }
}

/// The trusted keys and whether signatures are required.
struct Signatures {
    keys: TrustedKeys,
    required: bool,
}

impl Signatures {
    fn from_config(config: &Config) -> Result<Signatures, String> {
        let files: Vec<PathBuf> = config
            .signatures
            .trusted_key_files
            .iter()
            .map(|f| config.resolve(f))
            .collect();
        Ok(Signatures {
            keys: TrustedKeys::load(&config.signatures.trusted_keys, &files).map_err(|e| e.0)?,
            required: config.signatures.required,
        })
    }

    /// What the signature beside `source` says of `bytes`.
    fn check(&self, source: &str, base: &Path, bytes: &[u8]) -> SignatureStatus {
        if source.starts_with("builtin:") {
            return SignatureStatus::Bundled;
        }
        let path = signature_path(&base.join(source));
        match std::fs::read_to_string(&path) {
            Ok(text) => self.keys.check(bytes, Some(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SignatureStatus::Unsigned,
            Err(e) => SignatureStatus::Invalid {
                reason: format!("cannot read {}: {e}", path.display()),
            },
        }
    }
}

fn read_source(source: &str, base: &Path) -> Result<Vec<u8>, String> {
    if let Some(name) = source.strip_prefix("builtin:") {
        return builtin::get(name).map(<[u8]>::to_vec).ok_or_else(|| {
            format!(
                "no bundled module `{name}` (bundled: {})",
                builtin::names().collect::<Vec<_>>().join(", ")
            )
        });
    }
    let path = base.join(source);
    std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The drop-in folder's modules: every `NAME.wasm`, by name, with the
/// settings of `NAME.toml` beside it when there is one.
fn drop_ins(dir: &Path) -> Result<Vec<Result<PolicyConfig, LoadFailure>>, LoadFailure> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        LoadFailure::new(
            dir.display().to_string(),
            format!("cannot read the policies folder: {e}"),
        )
    })?;
    let mut wasm: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_drop_in(p, "wasm") && p.is_file())
        .collect();
    wasm.sort();
    Ok(wasm
        .into_iter()
        .map(|path| {
            let settings = path.with_extension("toml");
            let mut policy: PolicyConfig = if settings.is_file() {
                let text = std::fs::read_to_string(&settings).map_err(|e| {
                    LoadFailure::new(
                        path.display().to_string(),
                        format!("cannot read {}: {e}", settings.display()),
                    )
                })?;
                toml::from_str(&text).map_err(|e| {
                    LoadFailure::new(
                        path.display().to_string(),
                        format!(
                            "invalid {}: {}",
                            settings.display(),
                            e.to_string().trim_end()
                        ),
                    )
                })?
            } else {
                toml::from_str("").expect("an empty policy table parses")
            };
            policy.source = path.display().to_string();
            Ok(policy)
        })
        .collect())
}

/// Whether `path` is a drop-in file with extension `ext`: editors' backup
/// and swap files (`.name.wasm.swp`, `name.wasm~`, `#name.wasm#`) and
/// hidden files (where many tools write before renaming into place) are
/// not.
pub fn is_drop_in(path: &Path, ext: &str) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    !name.starts_with('.')
        && !name.starts_with('#')
        && name.len() > ext.len() + 1
        && name.ends_with(ext)
        && name[..name.len() - ext.len()].ends_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_and_temporary_files_are_not_drop_ins() {
        for name in ["spam.wasm", "a.wasm", "rate-limit.wasm"] {
            assert!(is_drop_in(Path::new(name), "wasm"), "{name}");
        }
        for name in [
            ".spam.wasm",
            ".spam.wasm.swp",
            "spam.wasm~",
            "#spam.wasm#",
            "spam.wasm.part",
            "spam.wasm.tmp",
            ".wasm",
            "spamwasm",
            "spam.toml",
        ] {
            assert!(!is_drop_in(Path::new(name), "wasm"), "{name}");
        }
        assert!(is_drop_in(
            Path::new("/etc/palisade/policies.d/spam.toml"),
            "toml"
        ));
        assert!(!is_drop_in(Path::new("spam.toml~"), "toml"));
    }
}
