//! The path of one activity: parse once, build the context, ask each module
//! in order, combine. Everything else in Palisade (the CLI, the server)
//! calls [`PolicySet::judge`].

use std::time::Instant;

use palisade_sdk as sdk;
use palisade_sdk::parse::{Options, parse_document};
use palisade_sdk::relations::{lessons, relations};

use crate::decision::{Action, Combiner, Decision, InputError, Outcome};
use crate::policy_set::PolicySet;
use crate::relations::Relations as Store;
use crate::runtime::{Activity, Context, Direction, Relations, Thread};
use crate::senders::{ActorFacts, Sender, Status};

/// First-seen subjects are kept under these prefixes in the state backend,
/// apart from every module's namespace (module names cannot contain NUL).
const ACTOR_KEY: &str = "actor\0";
const HOST_KEY: &str = "host\0";
/// When the state first counted anything: the start of the learning period.
const LEARNING_KEY: &str = "palisade\0learning";

/// The circumstances of one activity, from the transport.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub direction: Direction,
    /// Milliseconds since the Unix epoch.
    pub received_at: u64,
    /// The local recipient named by the inbox path, if any.
    pub recipient: Option<String>,
    /// Whether judging it may write state: module state and first-seen
    /// times. True for deliveries (the inbox proxy, `palisade check`);
    /// false for the judge API unless `server.judge_api_records` allows
    /// it, so that anyone who can call the API cannot count a victim's
    /// text into a burst before the victim posts it. Without it, writes are
    /// skipped and counts answer as if this activity had been counted.
    /// Writes also need a verified sender (`sender`).
    pub record: bool,
    /// Who signed it, as the transport verified; matched with the
    /// activity's actor once it is parsed.
    pub sender: Sender,
    /// The transport will fetch a `Create`'s or `Update`'s object sent only
    /// by its URI (`[fetch] objects`): such an activity is not judged (nor
    /// counted) as it is, but comes back as [`Decision::object_uri`].
    pub fetch_objects: bool,
}

impl Envelope {
    /// An inbound activity received now, for no one in particular.
    pub fn inbound_now() -> Envelope {
        Envelope {
            direction: Direction::Inbound,
            received_at: crate::runtime::unix_ms(),
            recipient: None,
            record: true,
            sender: Sender::trusted(),
            fetch_objects: false,
        }
    }
}

impl PolicySet {
    /// Judge one document given as text.
    pub fn judge(&self, body: &str, envelope: &Envelope) -> Decision {
        self.judge_bytes(body.as_bytes(), envelope)
    }

    /// Judge one document as it arrived (the request body's bytes).
    pub fn judge_bytes(&self, body: &[u8], envelope: &Envelope) -> Decision {
        let parsed = parse_document(body, &Options::new(&self.local_hosts));
        let p = match parsed {
            Ok(p) => p,
            Err(e) => {
                return Decision::unreadable(InputError {
                    message: e.message,
                    line: e.line,
                    column: e.column,
                });
            }
        };
        if envelope.fetch_objects
            && let Some(uri) = &p.object_uri
            && matches!(p.activity.kind.as_str(), "Create" | "Update")
        {
            return Decision::object_pending(p.activity.id, uri.clone(), p.activity.actor);
        }
        // Only a verified sender writes: one who cannot sign cannot make
        // the host count anything, nor age an account by naming it.
        let (sender, facts) = envelope.sender.for_actor(p.activity.actor.as_deref());
        let record = envelope.record && sender.status == Status::Verified;
        let store = Store {
            state: self.state.as_ref(),
            now: envelope.received_at,
        };
        let relations = relations(&p.activity, &self.local_hosts, &store);
        // What it would teach, read before the activity moves on; nothing
        // when judging may not write.
        let lessons = if record {
            lessons(
                &p.activity,
                p.object_actor.as_deref(),
                match envelope.direction {
                    Direction::Inbound => sdk::Direction::Inbound,
                    Direction::Outbound => sdk::Direction::Outbound,
                },
                &self.local_hosts,
            )
        } else {
            Vec::new()
        };
        let (activity, notes, mended) = (Activity::from(p.activity), p.notes, p.mended);
        let cx = self.context(
            &activity,
            envelope,
            record,
            &sender,
            facts.as_deref(),
            relations,
        );
        let mut combiner = Combiner::new(activity.id.clone(), self.thresholds);
        // Modules that asked for the raw JSON get their own copy with it.
        let mut with_raw: Option<Activity> = None;
        for module in &self.modules {
            let view = if module.wants_raw() {
                with_raw.get_or_insert_with(|| Activity {
                    // What Palisade read: the mended document when the
                    // body needed mending, so a module parsing it strictly
                    // cannot be made to fail by a comment or a NUL.
                    raw: Some(
                        mended
                            .clone()
                            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
                    ),
                    ..activity.clone()
                })
            } else {
                &activity
            };
            let start = Instant::now();
            let result = module.judge(view, &cx, record);
            let micros = start.elapsed().as_micros() as u64;
            module.stats().latency.record(micros);
            let settings = module.settings();
            combiner.add(Outcome {
                module: module.name(),
                version: module.version(),
                mode: settings.mode,
                weight: settings.weight,
                vouch: settings.vouch,
                on_error: settings.on_error,
                result,
                micros,
            });
            if combiner.done() {
                break;
            }
        }
        let mut decision = combiner.finish();
        if cx.learning && decision.action == Action::Reject {
            decision.action = Action::Quarantine;
            decision.reasons.push(format!(
                "palisade: held instead of rejected: the learning period (the first {} h \
                 of counting, `[learning]`) is not over",
                self.learning_hours
            ));
        }
        // Only what was let through teaches: a rejected post's mentions
        // are not people in a conversation.
        if record && decision.action == Action::Accept {
            store.learn(lessons);
            if let Some(actor) = &activity.actor {
                store.active(actor);
            }
        }
        decision.notes = notes;
        decision.sender = Some(sender);
        decision.actor = activity.actor;
        decision.actor_host = activity.actor_host;
        decision.text = Some(activity.text);
        decision
    }

    /// The context modules see, recording first-seen times as a side effect
    /// when the envelope allows writes (else a subject never seen is new).
    fn context(
        &self,
        activity: &Activity,
        envelope: &Envelope,
        record: bool,
        sender: &crate::senders::View,
        facts: Option<&ActorFacts>,
        relations: sdk::Relations,
    ) -> Context {
        let now = envelope.received_at;
        let state = self.state.as_ref();
        let first_seen = |prefix: &str, subject: &Option<String>| {
            let subject = format!("{prefix}{}", subject.as_deref()?);
            let seen = if record {
                state.first_seen(&subject, now)
            } else {
                state.seen_since(&subject).map(|t| t.unwrap_or(now))
            };
            match seen {
                Ok(t) => Some(t),
                Err(e) => {
                    // Without the store, treat the subject as new: modules
                    // then apply their stricter limits, which fails safe.
                    tracing::warn!(error = %e, "first-seen lookup failed");
                    Some(now)
                }
            }
        };
        let host_first_seen = first_seen(HOST_KEY, &activity.actor_host);
        let learning = self.learning(envelope, record);
        let actor_first_seen = first_seen(ACTOR_KEY, &activity.actor).map(|seen| {
            sdk::newcomer::account_age(
                seen,
                facts.and_then(|f| f.published),
                host_first_seen,
                learning,
            )
        });
        Context {
            direction: envelope.direction,
            received_at: now,
            actor_first_seen,
            host_first_seen,
            actor_local: activity
                .actor_host
                .as_ref()
                .is_some_and(|h| self.local_hosts.iter().any(|l| l.eq_ignore_ascii_case(h))),
            recipient: envelope.recipient.clone(),
            relations: Relations {
                local_followers: relations.local_followers,
                known_mentions: relations.known_mentions,
                thread: match relations.thread {
                    sdk::Thread::None => Thread::None,
                    sdk::Thread::Unseen => Thread::Unseen,
                    sdk::Thread::Seen => Thread::Seen,
                    sdk::Thread::Local => Thread::Local,
                },
                thread_mentions: relations.thread_mentions,
                active_days: relations.active_days,
            },
            learning,
            sender: sender.into(),
            actor_facts: facts.map(Into::into),
        }
    }

    /// Whether `envelope` arrives within the learning period: the first
    /// `learning.hours` after the state first counted anything.
    fn learning(&self, envelope: &Envelope, record: bool) -> bool {
        if self.learning_hours == 0 {
            return false;
        }
        let now = envelope.received_at;
        let start = match self.learning_start.get() {
            Some(start) => *start,
            None => {
                let state = self.state.as_ref();
                let recorded = if record {
                    state.first_seen(LEARNING_KEY, now).map(Some)
                } else {
                    state.seen_since(LEARNING_KEY)
                };
                match recorded {
                    Ok(Some(start)) => *self.learning_start.get_or_init(|| start),
                    // Not recorded yet (the judge API writes nothing): now.
                    Ok(None) => now,
                    // Without the store the period cannot be told: assume
                    // it is over, so that rejections stay rejections.
                    Err(_) => 0,
                }
            }
        };
        now.saturating_sub(start) < u64::from(self.learning_hours) * 3_600_000
    }
}
