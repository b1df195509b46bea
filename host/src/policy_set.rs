//! The set of modules that judge, built from the configuration. Immutable
//! once built: a reload builds a new set and swaps it in whole.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::builtin;
use crate::config::{Config, PolicyConfig, Thresholds};
use crate::runtime::{Module, Runtime};
use crate::state::StateBackend;

/// A module that could not be loaded, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFailure {
    /// Where it was to come from: `builtin:NAME` or a path.
    pub source: String,
    pub error: String,
}

/// The modules in judging order, the thresholds they are combined with,
/// and the modules that failed to load.
pub struct PolicySet {
    pub(crate) modules: Vec<Arc<Module>>,
    pub(crate) failures: Vec<LoadFailure>,
    pub(crate) thresholds: Thresholds,
    pub(crate) local_hosts: Vec<String>,
    pub(crate) state: Arc<dyn StateBackend>,
}

impl PolicySet {
    /// Load every module the configuration names (and the drop-in folder
    /// holds). A module that fails is left out and reported; the others
    /// still judge.
    pub fn build(
        runtime: &Arc<Runtime>,
        config: &Config,
        policies_dir: Option<&Path>,
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
        };
        for p in &config.policy {
            set.load(runtime, p, &config.base_dir);
        }
        let dir = policies_dir
            .map(Path::to_owned)
            .or_else(|| config.policies_dir.as_ref().map(|d| config.resolve(d)));
        if let Some(dir) = dir {
            match drop_ins(&dir) {
                Ok(entries) => {
                    for entry in entries {
                        match entry {
                            Ok(p) => set.load(runtime, &p, &dir),
                            Err(failure) => set.failures.push(failure),
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
                duplicates.push(LoadFailure {
                    source: m.source().to_owned(),
                    error: format!(
                        "another module is already named `{}`: give one a different `name`",
                        m.name()
                    ),
                });
            }
            fresh
        });
        set.failures.extend(duplicates);
        set
    }

    fn load(&mut self, runtime: &Arc<Runtime>, p: &PolicyConfig, base: &Path) {
        let result = read_source(&p.source, base).and_then(|bytes| {
            Module::load(runtime, &p.source, &bytes, p, p.config_json()).map_err(|e| e.to_string())
        });
        match result {
            Ok(module) => self.modules.push(Arc::new(module)),
            Err(error) => {
                tracing::error!(source = %p.source, %error, "module not loaded");
                self.failures.push(LoadFailure {
                    source: p.source.clone(),
                    error,
                });
            }
        }
    }

    pub fn modules(&self) -> &[Arc<Module>] {
        &self.modules
    }

    pub fn failures(&self) -> &[LoadFailure] {
        &self.failures
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
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
    let read = std::fs::read_dir(dir).map_err(|e| LoadFailure {
        source: dir.display().to_string(),
        error: format!("cannot read the policies folder: {e}"),
    })?;
    let mut wasm: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
        .collect();
    wasm.sort();
    Ok(wasm
        .into_iter()
        .map(|path| {
            let settings = path.with_extension("toml");
            let mut policy: PolicyConfig = if settings.is_file() {
                let text = std::fs::read_to_string(&settings).map_err(|e| LoadFailure {
                    source: path.display().to_string(),
                    error: format!("cannot read {}: {e}", settings.display()),
                })?;
                toml::from_str(&text).map_err(|e| LoadFailure {
                    source: path.display().to_string(),
                    error: format!(
                        "invalid {}: {}",
                        settings.display(),
                        e.to_string().trim_end()
                    ),
                })?
            } else {
                toml::from_str("").expect("an empty policy table parses")
            };
            policy.source = path.display().to_string();
            Ok(policy)
        })
        .collect())
}
