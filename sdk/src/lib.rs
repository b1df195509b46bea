//! Write Palisade policy modules in Rust.
//!
//! A policy module is a plain Rust type implementing [`Policy`], exported with
//! [`export_policy!`]. Palisade calls [`Policy::configure`] with the admin's
//! configuration, then [`Policy::judge`] for every activity. Capabilities the
//! host grants are plain functions: [`log`], [`state`], [`lists`].
//!
//! ```
//! use palisade_sdk::{Activity, Context, Description, Policy, Verdict};
//!
//! /// Rejects activities whose text shouts.
//! struct NoShouting;
//!
//! impl Policy for NoShouting {
//!     fn describe() -> Description {
//!         Description::new("no-shouting", "0.1.0", "Rejects all-caps posts.")
//!     }
//!     fn configure(_config: &str) -> Result<Self, String> {
//!         Ok(NoShouting)
//!     }
//!     fn judge(&self, activity: &Activity, _cx: &Context) -> Verdict {
//!         let letters: Vec<char> = activity.text.chars().filter(|c| c.is_alphabetic()).collect();
//!         if letters.len() > 10 && letters.iter().all(|c| c.is_uppercase()) {
//!             Verdict::reject("the whole post is in capitals")
//!         } else {
//!             Verdict::pass()
//!         }
//!     }
//! }
//!
//! palisade_sdk::export_policy!(NoShouting);
//!
//! // The same module, judged natively by the test host:
//! # #[cfg(feature = "parse")] {
//! let host = palisade_sdk::testing::TestHost::new();
//! let verdict = host.judge_json::<NoShouting>(
//!     "{}",
//!     r#"{"type":"Create","actor":"https://a.example/u/x",
//!         "object":{"type":"Note","content":"<p>BUY CHEAP FOLLOWERS NOW</p>"}}"#,
//! ).unwrap();
//! assert!(verdict.is_reject());
//! # }
//! ```
//!
//! On `wasm32` targets the capability functions call the host; natively they
//! call the [`testing::TestHost`] that is judging, so a module's logic runs in
//! plain `cargo test`.
//!
//! # Tutorial
//!
//! `palisade new my-module` makes a project with all of this in place. Step
//! by step:
//!
//! **Configuration.** Admins configure a module with a table in their
//! Palisade configuration; it arrives as JSON. Derive `Deserialize` with
//! defaults and refuse unknown keys; [`config::parse`] turns mistakes into
//! messages naming the key:
//!
//! ```
//! #[derive(serde::Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct Settings { limit: u64, window_seconds: u32 }
//! impl Default for Settings {
//!     fn default() -> Self { Settings { limit: 5, window_seconds: 600 } }
//! }
//! let error = palisade_sdk::config::parse::<Settings>(r#"{"limt": 3}"#).err().unwrap();
//! assert!(error.contains("limt"));
//! ```
//!
//! **State.** Counts that outlive one activity live in the host, behind
//! [`state`]: values with a time to live, sliding-window counters, sliding-
//! window distinct sets. Declare the capability in `describe()`; admins grant
//! it. Each module has its own namespace.
//!
//! **Testing windows without sleeping.** The test host's clock moves only
//! when told, so a ten-minute window is tested in microseconds:
//!
//! ```
//! # #[cfg(feature = "parse")] {
//! use palisade_sdk::{Activity, Context, Description, Policy, Verdict, state};
//! use std::time::Duration;
//!
//! struct Loop;
//! impl Policy for Loop {
//!     fn describe() -> Description {
//!         Description::new("loop", "0.1.0", "Scores an actor's 4th post in 10 minutes.")
//!             .capabilities(["state"])
//!     }
//!     fn configure(_: &str) -> Result<Self, String> { Ok(Loop) }
//!     fn judge(&self, a: &Activity, _: &Context) -> Verdict {
//!         let actor = a.actor.as_deref().unwrap_or("");
//!         if state::hit(&format!("posts:{actor}"), 600) > 3 {
//!             Verdict::score(2.0, "4 posts in 10 minutes")
//!         } else {
//!             Verdict::pass()
//!         }
//!     }
//! }
//!
//! let host = palisade_sdk::testing::TestHost::new();
//! let module = host.configure::<Loop>("{}").unwrap();
//! let post = host.parse(r#"{"type":"Create","actor":"https://a.example/u/1",
//!     "object":{"type":"Note","content":"hi"}}"#).unwrap();
//! for _ in 0..3 { assert!(host.judge(&module, &post).is_pass()); }
//! assert_eq!(host.judge(&module, &post).points(), 2.0);
//! host.advance(Duration::from_secs(601));   // the window slides past them
//! assert!(host.judge(&module, &post).is_pass());
//! # }
//! ```
//!
//! The test host refuses a capability call the module did not declare, as
//! an admin's grants would.
//!
//! **Building and loading.** `cargo build --release --target wasm32-wasip2`
//! makes the component; `palisade inspect` shows what admins will see;
//! `palisade check --policies-dir DIR activities.jsonl` judges real
//! activities with it; `palisade sign` signs it for admins who require
//! signatures. The guide is Palisade's `docs/writing-modules.md`.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "policy-module",
        pub_export_macro: true,
        export_macro_name: "__export_policy_module",
        default_bindings_module: "palisade_sdk::bindings",
        additional_derives: [PartialEq],
    });
}

pub mod capability;
pub mod config;
pub mod finding;
pub mod links;
pub mod media;
pub mod memory;
pub mod newcomer;
#[cfg(feature = "parse")]
pub mod parse;
pub mod relations;
mod sender;
pub mod similar;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod text;
mod verdict;

pub use bindings::palisade::policy::lists::{DomainEntry, Severity};
pub use bindings::palisade::policy::log::Level;
pub use bindings::palisade::policy::types::{
    Activity, ActorFacts, Attachment, Context, Description, Direction, Mention, Relations, Rewrite,
    Ruling, Score, Sender, SenderStatus, Thread, Verdict, Visibility,
};
pub use capability::{lists, log, state};

/// A policy module.
///
/// Implementations must not rely on anything surviving between calls except
/// what [`Policy::configure`] built: the host may create a fresh instance for
/// any activity. Keep counts and memories in [`state`].
pub trait Policy: Sized + 'static {
    /// Name, version, description, wanted capabilities and config schema.
    fn describe() -> Description;

    /// Build the module from its configuration, JSON text (`{}` when the
    /// admin gave none). Return a message saying what is wrong otherwise:
    /// [`config::parse`] produces good ones from a `serde` type.
    fn configure(config: &str) -> Result<Self, String>;

    /// Judge one activity.
    fn judge(&self, activity: &Activity, cx: &Context) -> Verdict;
}

/// Export a [`Policy`] type as the module's implementation of the
/// `palisade:policy` contract. Use it once per module crate (a `cdylib`
/// built for `wasm32-wasip2`); in native builds it expands to nothing.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        // Native builds (unit tests through the test host) export nothing:
        // the contract's symbol names only exist in WebAssembly.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct PalisadeExport;

            ::std::thread_local! {
                static CONFIGURED: ::std::cell::RefCell<::std::option::Option<$policy>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }

            impl $crate::bindings::exports::palisade::policy::policy::Guest for PalisadeExport {
                fn describe() -> $crate::Description {
                    <$policy as $crate::Policy>::describe()
                }

                fn configure(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                    let policy = <$policy as $crate::Policy>::configure(&config)?;
                    CONFIGURED.with(|slot| *slot.borrow_mut() = ::std::option::Option::Some(policy));
                    ::std::result::Result::Ok(())
                }

                fn judge(activity: $crate::Activity, cx: $crate::Context) -> $crate::Verdict {
                    CONFIGURED.with(|slot| {
                        let mut slot = slot.borrow_mut();
                        if slot.is_none() {
                            // The host always configures first; an empty
                            // configuration is the safe fallback.
                            match <$policy as $crate::Policy>::configure("{}") {
                                ::std::result::Result::Ok(p) => *slot = ::std::option::Option::Some(p),
                                ::std::result::Result::Err(e) => panic!("module used before configure: {e}"),
                            }
                        }
                        let policy = slot.as_ref().expect("configured above");
                        <$policy as $crate::Policy>::judge(policy, &activity, &cx)
                    })
                }
            }

            $crate::bindings::__export_policy_module!(PalisadeExport with_types_in $crate::bindings);
        };
    };
}
