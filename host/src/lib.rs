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
pub mod lists;
pub mod pipeline;
pub mod policy_set;
pub mod quarantine;
pub mod runtime;
pub mod server;
pub mod state;

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use config::Config;
pub use decision::{Action, Decision};
pub use policy_set::PolicySet;

use lists::{ListError, ListFormat, Lists};
use runtime::Runtime;
use state::MemoryBackend;

/// A configured Palisade: the runtime and the policy set built from a
/// configuration. The set is swapped whole on reload; activities being
/// judged finish on the set they started with.
pub struct Palisade {
    runtime: Arc<Runtime>,
    policies: ArcSwap<PolicySet>,
}

/// Palisade could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    List(#[from] ListError),
    #[error("cannot start the WebAssembly runtime: {0}")]
    Runtime(String),
}

impl Palisade {
    /// Load lists, start the runtime, load the modules. Modules that fail
    /// to load are reported by [`PolicySet::failures`]; lists that fail to
    /// load are an error (a module relying on them would judge blind).
    pub fn new(config: &Config, policies_dir: Option<&Path>) -> Result<Palisade, StartError> {
        let mut lists = Lists::default();
        for (name, list) in &config.lists {
            let path = config.resolve(&list.path);
            let format = list.format.unwrap_or_else(|| ListFormat::from_path(&path));
            let severity = match list.severity {
                config::ListSeverity::Suspend => palisade_sdk::Severity::Suspend,
                config::ListSeverity::Silence => palisade_sdk::Severity::Silence,
                config::ListSeverity::Noop => palisade_sdk::Severity::Noop,
            };
            lists.load(name, &path, format, severity)?;
        }
        let runtime = Runtime::new(
            config.limits.runtime_limits(),
            Arc::new(MemoryBackend::new()),
            Arc::new(lists),
        )
        .map_err(|e| StartError::Runtime(format!("{e:#}")))?;
        let policies = ArcSwap::from_pointee(PolicySet::build(&runtime, config, policies_dir));
        Ok(Palisade { runtime, policies })
    }

    /// The policy set judging now.
    pub fn policies(&self) -> Arc<PolicySet> {
        self.policies.load_full()
    }

    /// Build a new policy set from `config` off the request path and swap it
    /// in; returns it. (Lists and limits are fixed at start.)
    pub fn reload(&self, config: &Config, policies_dir: Option<&Path>) -> Arc<PolicySet> {
        let set = Arc::new(PolicySet::build(&self.runtime, config, policies_dir));
        self.policies.store(set.clone());
        set
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }
}
