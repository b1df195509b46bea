//! The policy set of a configuration with one of its shadow modules
//! switched to enforce: what the report's `shadow` section judges with.
//!
//! It is the same configuration loaded a second time, in memory state of
//! its own, so that its counts follow its own decisions; only the one
//! module is loaded again, with `mode = "enforce"`. A module from the
//! drop-in folder takes its settings from the `NAME.toml` beside it, as
//! when it was loaded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Mode, PolicyConfig};
use crate::runtime::Module;
use crate::{Config, Palisade, PolicySet, builtin};

/// `config` (drop-ins from `dir`) with `shadow` enforced.
pub(crate) fn enforcing(
    config: &Config,
    dir: Option<&Path>,
    shadow: &Module,
) -> Result<(Palisade, Arc<PolicySet>), String> {
    let mut config = config.clone();
    config.state.url = "memory".into();
    let palisade = Palisade::new(&config, dir).map_err(|e| e.to_string())?;
    let (mut policy, base) = settings_of(&config, shadow)?;
    policy.mode = Mode::Enforce;
    let bytes = match policy.source.strip_prefix("builtin:") {
        Some(name) => builtin::get(name)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("no bundled module `{name}`"))?,
        None => {
            let path = base.join(&policy.source);
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
        }
    };
    let enforced = Module::load(
        palisade.runtime(),
        &policy.source,
        &bytes,
        &policy,
        policy.config_json(),
    )
    .map_err(|e| e.to_string())?;
    // The set as loaded (its modules reused, not compiled again), with
    // the one module replaced.
    let mut set = PolicySet::build(palisade.runtime(), &config, dir, Some(&palisade.policies()));
    let slot = set
        .modules
        .iter_mut()
        .find(|m| m.name() == shadow.name())
        .ok_or_else(|| format!("{} did not load a second time", shadow.name()))?;
    *slot = Arc::new(enforced);
    Ok((palisade, Arc::new(set)))
}

/// The settings `module` was loaded with, and the folder its source is
/// relative to.
fn settings_of(config: &Config, module: &Module) -> Result<(PolicyConfig, PathBuf), String> {
    let configured = config
        .policy
        .iter()
        .find(|p| p.source == module.source() && p.name.as_deref() == module.configured_name());
    if let Some(p) = configured {
        return Ok((p.clone(), config.base_dir.clone()));
    }
    // A drop-in: its source is its path.
    let settings = Path::new(module.source()).with_extension("toml");
    let text = if settings.is_file() {
        std::fs::read_to_string(&settings)
            .map_err(|e| format!("cannot read {}: {e}", settings.display()))?
    } else {
        String::new()
    };
    let mut policy: PolicyConfig = toml::from_str(&text).map_err(|e| {
        format!(
            "invalid {}: {}",
            settings.display(),
            e.to_string().trim_end()
        )
    })?;
    policy.source = module.source().to_owned();
    Ok((policy, PathBuf::new()))
}
