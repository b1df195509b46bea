//! Palisade: sandboxed, hot-reloadable WebAssembly policy modules that judge
//! federated ActivityPub traffic.
//!
//! The path of one activity runs through a handful of files:
//! [`pipeline`] (parse once, context, ask each module, combine) →
//! [`runtime`] (the sandbox: one engine, deadlines, memory caps, the
//! capabilities) → [`decision`] (how verdicts combine). [`policy_set`]
//! builds the set of modules from the [`config`]; [`state`] and [`lists`]
//! back the capabilities.
//!
//! ```no_run
//! use palisade::{Config, Palisade};
//! use palisade::pipeline::Envelope;
//!
//! let palisade = Palisade::new(&Config::default(), None)?;
//! let decision = palisade.policies().judge(
//!     r#"{"type":"Create","actor":"https://a.example/u/1","object":{"type":"Note","content":"hi"}}"#,
//!     &Envelope::inbound_now(),
//! );
//! println!("{}", serde_json::to_string(&decision)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod builtin;
pub mod config;
pub mod decision;
pub mod known;
pub mod lists;
pub mod pipeline;
pub mod policy_set;
pub mod quarantine;
pub mod relations;
pub mod replay;
pub mod runtime;
pub mod scaffold;
pub mod senders;
pub mod server;
pub mod signing;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

pub use config::Config;
pub use decision::{Action, Decision};
pub use policy_set::{LoadFailure, PolicySet};

use lists::{ListError, ListFormat, Lists};
use palisade_sdk::memory::NamedList;
use runtime::Runtime;

/// A configured Palisade: the runtime and the policy set built from a
/// configuration. The set is swapped whole on reload; activities being
/// judged finish on the set they started with.
pub struct Palisade {
    runtime: Arc<Runtime>,
    policies: ArcSwap<PolicySet>,
    /// One reload at a time: each builds on the set the last one left.
    reloading: Mutex<()>,
}

/// Palisade could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    List(#[from] ListError),
    #[error("cannot start the WebAssembly runtime: {0}")]
    Runtime(String),
    #[error("the policies folder {0} does not exist")]
    NoPoliciesDir(PathBuf),
    #[error("cannot open the state ({url}): {error}")]
    State { url: String, error: String },
}

impl Palisade {
    /// Load lists, start the runtime, load the modules (from `config` and
    /// the drop-in folder; `policies_dir` overrides the configuration's).
    /// Modules that fail to load are reported by [`PolicySet::failures`];
    /// lists that fail to load are an error (a module relying on them
    /// would judge blind).
    pub fn new(config: &Config, policies_dir: Option<&Path>) -> Result<Palisade, StartError> {
        if let Some(dir) = policies_dir
            && !dir.is_dir()
        {
            return Err(StartError::NoPoliciesDir(dir.to_owned()));
        }
        let mut lists = Lists::default();
        for (name, list) in &config.lists {
            lists.insert(name, load_list(config, name, list)?);
        }
        let state =
            state::open(&config.state, &config.base_dir).map_err(|e| StartError::State {
                url: config.state.url.clone(),
                error: e.message().to_owned(),
            })?;
        let runtime = Runtime::new(
            config.limits.runtime_limits(),
            state,
            lists,
            config.cache_dir().as_deref(),
        )
        .map_err(|e| StartError::Runtime(format!("{e:#}")))?;
        let policies =
            ArcSwap::from_pointee(PolicySet::build(&runtime, config, policies_dir, None));
        Ok(Palisade {
            runtime,
            policies,
            reloading: Mutex::new(()),
        })
    }

    /// The policy set judging now.
    pub fn policies(&self) -> Arc<PolicySet> {
        self.policies.load_full()
    }

    /// Re-read the lists and build a new policy set from `config` (call it
    /// off the request path: it may compile), then swap it in; returns it.
    ///
    /// Nothing that loaded before is lost to a failure: a module that
    /// fails keeps its previous version judging, a list that fails keeps
    /// its previous contents, and both are reported in the new set's
    /// [`PolicySet::failures`]. Unchanged modules are kept as they are.
    /// (Limits are fixed at start.)
    pub fn reload(&self, config: &Config, policies_dir: Option<&Path>) -> Arc<PolicySet> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let old_lists = self.runtime.lists();
        let mut lists = Lists::default();
        let mut list_failures = Vec::new();
        for (name, list) in &config.lists {
            match load_list(config, name, list) {
                Ok(loaded) => lists.insert(name, loaded),
                Err(e) => {
                    let mut failure = LoadFailure::new(format!("list {name}"), e.to_string());
                    if let Some(old) = old_lists.get(name) {
                        lists.insert(name, old.clone());
                        failure.serving = Some("the previous contents stay in use".into());
                    }
                    tracing::error!(list = %name, error = %e, "list not reloaded");
                    list_failures.push(failure);
                }
            }
        }
        self.runtime.set_lists(lists);
        let previous = self.policies.load_full();
        let mut set = PolicySet::build(&self.runtime, config, policies_dir, Some(&previous));
        set.failures.extend(list_failures);
        let set = Arc::new(set);
        self.policies.store(set.clone());
        set
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }
}

fn load_list(
    config: &Config,
    name: &str,
    list: &config::ListConfig,
) -> Result<NamedList, ListError> {
    let path = config.resolve(&list.path);
    let format = list.format.unwrap_or_else(|| ListFormat::from_path(&path));
    let severity = match list.severity {
        config::ListSeverity::Suspend => palisade_sdk::Severity::Suspend,
        config::ListSeverity::Silence => palisade_sdk::Severity::Silence,
        config::ListSeverity::Noop => palisade_sdk::Severity::Noop,
    };
    Lists::read(name, &path, format, severity)
}
