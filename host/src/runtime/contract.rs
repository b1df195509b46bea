//! Every `palisade:policy` version the host speaks. A module is bound with
//! the version it was built against: the current one (`wit/`), or an older
//! one kept as released (`wit/v0.1` to `wit/v0.3`). An older module's calls
//! are adapted: what it exports is converted to the current types, what the
//! host passes in is converted to its types (fields added since are left
//! out), and its capability imports are served by the current
//! implementations. docs/contract.md states the promise.

use wasmtime::Store;
use wasmtime::component::{Component, Linker};

use super::StoreData;
use super::bindings::palisade::policy::{lists, log, state};
use super::bindings::{
    Activity, Attachment, Context, Description, Direction, PolicyModule, PolicyModulePre, Rewrite,
    Ruling, Score, Thread, Verdict, Visibility,
};

/// The host side of `palisade:policy@0.1.0`.
pub(crate) mod v0_1 {
    wasmtime::component::bindgen!({
        path: "wit/v0.1",
        world: "policy-module",
        imports: { default: trappable },
    });
}

/// The host side of `palisade:policy@0.3.0`.
pub(crate) mod v0_3 {
    wasmtime::component::bindgen!({
        path: "wit/v0.3",
        world: "policy-module",
        imports: { default: trappable },
    });
}

/// The host side of `palisade:policy@0.2.0`.
pub(crate) mod v0_2 {
    wasmtime::component::bindgen!({
        path: "wit/v0.2",
        world: "policy-module",
        imports: { default: trappable },
    });
}

/// Add the imports of every version to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    type Data = wasmtime::component::HasSelf<StoreData>;
    PolicyModule::add_to_linker::<StoreData, Data>(linker, |s| s)?;
    v0_3::PolicyModule::add_to_linker::<StoreData, Data>(linker, |s| s)?;
    v0_2::PolicyModule::add_to_linker::<StoreData, Data>(linker, |s| s)?;
    v0_1::PolicyModule::add_to_linker::<StoreData, Data>(linker, |s| s)?;
    Ok(())
}

/// A module ready to instantiate, bound with its version.
pub(crate) enum Pre {
    Current(PolicyModulePre<StoreData>),
    V0_3(v0_3::PolicyModulePre<StoreData>),
    V0_2(v0_2::PolicyModulePre<StoreData>),
    V0_1(v0_1::PolicyModulePre<StoreData>),
}

/// An instance's exports, with its version.
pub(crate) enum Bindings {
    Current(PolicyModule),
    V0_3(v0_3::PolicyModule),
    V0_2(v0_2::PolicyModule),
    V0_1(v0_1::PolicyModule),
}

impl Pre {
    /// Bind `component` with the version it exports; the error of the
    /// current version when it exports none the host speaks.
    pub(crate) fn new(linker: &Linker<StoreData>, component: &Component) -> wasmtime::Result<Pre> {
        let pre = linker.instantiate_pre(component)?;
        match PolicyModulePre::new(pre.clone()) {
            Ok(current) => Ok(Pre::Current(current)),
            Err(error) => v0_3::PolicyModulePre::new(pre.clone())
                .map(Pre::V0_3)
                .or_else(|_| v0_2::PolicyModulePre::new(pre.clone()).map(Pre::V0_2))
                .or_else(|_| v0_1::PolicyModulePre::new(pre).map(Pre::V0_1))
                .map_err(|_| error),
        }
    }

    pub(crate) fn instantiate(&self, store: &mut Store<StoreData>) -> wasmtime::Result<Bindings> {
        Ok(match self {
            Pre::Current(pre) => Bindings::Current(pre.instantiate(store)?),
            Pre::V0_3(pre) => Bindings::V0_3(pre.instantiate(store)?),
            Pre::V0_2(pre) => Bindings::V0_2(pre.instantiate(store)?),
            Pre::V0_1(pre) => Bindings::V0_1(pre.instantiate(store)?),
        })
    }
}

impl Bindings {
    pub(crate) fn describe(&self, store: &mut Store<StoreData>) -> wasmtime::Result<Description> {
        Ok(match self {
            Bindings::Current(b) => b.palisade_policy_policy().call_describe(store)?,
            Bindings::V0_3(b) => {
                adapt_v0_3::description(b.palisade_policy_policy().call_describe(store)?)
            }
            Bindings::V0_2(b) => {
                adapt_v0_2::description(b.palisade_policy_policy().call_describe(store)?)
            }
            Bindings::V0_1(b) => {
                adapt_v0_1::description(b.palisade_policy_policy().call_describe(store)?)
            }
        })
    }

    pub(crate) fn configure(
        &self,
        store: &mut Store<StoreData>,
        json: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Bindings::Current(b) => b.palisade_policy_policy().call_configure(store, json),
            Bindings::V0_3(b) => b.palisade_policy_policy().call_configure(store, json),
            Bindings::V0_2(b) => b.palisade_policy_policy().call_configure(store, json),
            Bindings::V0_1(b) => b.palisade_policy_policy().call_configure(store, json),
        }
    }

    pub(crate) fn judge(
        &self,
        store: &mut Store<StoreData>,
        activity: &Activity,
        cx: &Context,
    ) -> wasmtime::Result<Verdict> {
        match self {
            Bindings::Current(b) => b.palisade_policy_policy().call_judge(store, activity, cx),
            Bindings::V0_3(b) => {
                let v = b.palisade_policy_policy().call_judge(
                    store,
                    &adapt_v0_3::activity(activity),
                    &adapt_v0_3::context(cx),
                )?;
                Ok(adapt_v0_3::verdict(v))
            }
            Bindings::V0_2(b) => {
                let v = b.palisade_policy_policy().call_judge(
                    store,
                    &adapt_v0_2::activity(activity),
                    &adapt_v0_2::context(cx),
                )?;
                Ok(adapt_v0_2::verdict(v))
            }
            Bindings::V0_1(b) => {
                let v = b.palisade_policy_policy().call_judge(
                    store,
                    &adapt_v0_1::activity(activity),
                    &adapt_v0_1::context(cx),
                )?;
                Ok(adapt_v0_1::verdict(v))
            }
        }
    }
}

/// The 0.3.0 context: everything but `sender` and `actor-facts`.
fn context_v0_3(cx: &Context) -> v0_3::palisade::policy::types::Context {
    use v0_3::palisade::policy::types as old;
    old::Context {
        direction: match cx.direction {
            Direction::Inbound => old::Direction::Inbound,
            Direction::Outbound => old::Direction::Outbound,
        },
        received_at: cx.received_at,
        actor_first_seen: cx.actor_first_seen,
        host_first_seen: cx.host_first_seen,
        actor_local: cx.actor_local,
        recipient: cx.recipient.clone(),
        relations: old::Relations {
            local_followers: cx.relations.local_followers,
            known_mentions: cx.relations.known_mentions,
            thread: match cx.relations.thread {
                Thread::None => old::Thread::None,
                Thread::Unseen => old::Thread::Unseen,
                Thread::Seen => old::Thread::Seen,
                Thread::Local => old::Thread::Local,
            },
            thread_mentions: cx.relations.thread_mentions,
            active_days: cx.relations.active_days,
        },
        learning: cx.learning,
    }
}

/// The 0.2.0 context: also without `relations` and `learning`.
fn context_v0_2(cx: &Context) -> v0_2::palisade::policy::types::Context {
    use v0_2::palisade::policy::types as old;
    old::Context {
        direction: match cx.direction {
            Direction::Inbound => old::Direction::Inbound,
            Direction::Outbound => old::Direction::Outbound,
        },
        received_at: cx.received_at,
        actor_first_seen: cx.actor_first_seen,
        host_first_seen: cx.host_first_seen,
        actor_local: cx.actor_local,
        recipient: cx.recipient.clone(),
    }
}

/// The 0.1.0 context: also without `actor-local`.
fn context_v0_1(cx: &Context) -> v0_1::palisade::policy::types::Context {
    use v0_1::palisade::policy::types as old;
    old::Context {
        direction: match cx.direction {
            Direction::Inbound => old::Direction::Inbound,
            Direction::Outbound => old::Direction::Outbound,
        },
        received_at: cx.received_at,
        actor_first_seen: cx.actor_first_seen,
        host_first_seen: cx.host_first_seen,
        recipient: cx.recipient.clone(),
    }
}

/// The adapters of one older version. Its verdict, description and
/// capabilities have today's shape; its context is converted by `$context`,
/// and its attachments carry the fields listed (its activity differs in
/// nothing else).
macro_rules! older_version {
    ($adapt:ident, $v:ident, $context:ident, [$($field:ident),+]) => {
        mod $adapt {
            use super::$v::palisade::policy as old;
            use super::*;

            pub(super) use super::$context as context;

            pub(super) fn description(d: old::types::Description) -> Description {
                Description {
                    name: d.name,
                    version: d.version,
                    description: d.description,
                    capabilities: d.capabilities,
                    config_schema: d.config_schema,
                }
            }

            fn attachment(x: &Attachment) -> old::types::Attachment {
                old::types::Attachment { $($field: x.$field.clone()),+ }
            }

            /// The activity without the attachment fields added since.
            pub(super) fn activity(a: &Activity) -> old::types::Activity {
                old::types::Activity {
                    kind: a.kind.clone(),
                    id: a.id.clone(),
                    actor: a.actor.clone(),
                    actor_host: a.actor_host.clone(),
                    object_kind: a.object_kind.clone(),
                    object_id: a.object_id.clone(),
                    content: a.content.clone(),
                    text: a.text.clone(),
                    summary: a.summary.clone(),
                    mentions: a
                        .mentions
                        .iter()
                        .map(|m| old::types::Mention {
                            href: m.href.clone(),
                            name: m.name.clone(),
                            host: m.host.clone(),
                            local: m.local,
                        })
                        .collect(),
                    hashtags: a.hashtags.clone(),
                    links: a.links.clone(),
                    to: a.to.clone(),
                    cc: a.cc.clone(),
                    visibility: match a.visibility {
                        Visibility::Public => old::types::Visibility::Public,
                        Visibility::Unlisted => old::types::Visibility::Unlisted,
                        Visibility::Followers => old::types::Visibility::Followers,
                        Visibility::Direct => old::types::Visibility::Direct,
                        Visibility::Unknown => old::types::Visibility::Unknown,
                    },
                    attachments: a.attachments.iter().map(attachment).collect(),
                    sensitive: a.sensitive,
                    in_reply_to: a.in_reply_to.clone(),
                    published: a.published.clone(),
                    raw: a.raw.clone(),
                }
            }

            pub(super) fn verdict(v: old::types::Verdict) -> Verdict {
                Verdict {
                    ruling: match v.ruling {
                        old::types::Ruling::Pass => Ruling::Pass,
                        old::types::Ruling::Accept(r) => Ruling::Accept(r),
                        old::types::Ruling::Reject(r) => Ruling::Reject(r),
                        old::types::Ruling::Quarantine(r) => Ruling::Quarantine(r),
                        old::types::Ruling::Score(s) => Ruling::Score(Score {
                            points: s.points,
                            labels: s.labels,
                            reason: s.reason,
                        }),
                    },
                    rewrites: v
                        .rewrites
                        .into_iter()
                        .map(|r| match r {
                            old::types::Rewrite::Delist => Rewrite::Delist,
                            old::types::Rewrite::MarkSensitive => Rewrite::MarkSensitive,
                            old::types::Rewrite::StripMedia => Rewrite::StripMedia,
                        })
                        .collect(),
                }
            }

            // The capabilities of older versions are those of today: served
            // by the same code.

            impl old::types::Host for StoreData {}

            impl old::log::Host for StoreData {
                fn log(&mut self, level: old::log::Level, message: String) -> wasmtime::Result<()> {
                    let level = match level {
                        old::log::Level::Trace => log::Level::Trace,
                        old::log::Level::Debug => log::Level::Debug,
                        old::log::Level::Info => log::Level::Info,
                        old::log::Level::Warn => log::Level::Warn,
                        old::log::Level::Error => log::Level::Error,
                    };
                    log::Host::log(self, level, message)
                }
            }

            impl old::state::Host for StoreData {
                fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
                    state::Host::get(self, key)
                }

                fn put(&mut self, key: String, value: Vec<u8>, ttl: u32) -> wasmtime::Result<()> {
                    state::Host::put(self, key, value, ttl)
                }

                fn delete(&mut self, key: String) -> wasmtime::Result<()> {
                    state::Host::delete(self, key)
                }

                fn hit(&mut self, key: String, window: u32) -> wasmtime::Result<u64> {
                    state::Host::hit(self, key, window)
                }

                fn count(&mut self, key: String, window: u32) -> wasmtime::Result<u64> {
                    state::Host::count(self, key, window)
                }

                fn distinct_add(
                    &mut self,
                    key: String,
                    member: String,
                    window: u32,
                ) -> wasmtime::Result<u64> {
                    state::Host::distinct_add(self, key, member, window)
                }

                fn distinct_count(&mut self, key: String, window: u32) -> wasmtime::Result<u64> {
                    state::Host::distinct_count(self, key, window)
                }
            }

            impl old::lists::Host for StoreData {
                fn contains(&mut self, name: String, value: String) -> wasmtime::Result<bool> {
                    lists::Host::contains(self, name, value)
                }

                fn match_domain(
                    &mut self,
                    name: String,
                    host: String,
                ) -> wasmtime::Result<Option<old::lists::DomainEntry>> {
                    Ok(lists::Host::match_domain(self, name, host)?.map(|e| {
                        old::lists::DomainEntry {
                            domain: e.domain,
                            severity: match e.severity {
                                lists::Severity::Silence => old::lists::Severity::Silence,
                                lists::Severity::Suspend => old::lists::Severity::Suspend,
                                lists::Severity::Noop => old::lists::Severity::Noop,
                            },
                            reject_media: e.reject_media,
                            reject_reports: e.reject_reports,
                            comment: e.comment,
                        }
                    }))
                }
            }
        }
    };
}

// Each version with the attachment fields it knows.
older_version!(
    adapt_v0_3,
    v0_3,
    context_v0_3,
    [kind, media_type, url, name, blurhash, width, height]
);
older_version!(
    adapt_v0_2,
    v0_2,
    context_v0_2,
    [kind, media_type, url, name]
);
older_version!(
    adapt_v0_1,
    v0_1,
    context_v0_1,
    [kind, media_type, url, name]
);
