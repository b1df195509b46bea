//! Who is speaking: what the transport verified about an activity's sender
//! (its HTTP signature), and what the sender's own server says about it
//! (its actor document).
//!
//! The transport (the inbox proxy) verifies the signature before judging
//! and puts a [`Sender`] in the envelope; the pipeline, once it has parsed
//! the activity, matches the signer with the activity's actor
//! ([`Sender::for_actor`]). Only a verified sender's activity writes state
//! and first-seen times: a sender who cannot sign cannot make the host
//! count anything.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub mod documents;
pub mod fetch;
pub mod guard;
mod service;
pub mod verify;

pub use service::Senders;

/// How an activity's sender was verified, as modules are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A signature by the actor (or by its server) verified, or the caller
    /// vouches for it (`palisade check`, a recorded line, a server that
    /// verified before calling the judge API).
    Verified,
    /// No signature, or one the host cannot check: an unsupported format
    /// or algorithm, a key it could not fetch in time, a signature by
    /// someone other than the actor (as relays forward).
    Unverified,
    /// A signature that does not verify: wrong key, changed body, a date
    /// outside the window.
    Invalid,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Verified => "verified",
            Status::Unverified => "unverified",
            Status::Invalid => "invalid",
        }
    }
}

/// What the transport knows about who sent an activity, before the
/// activity is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Sender {
    /// The caller vouches for whoever the activity names as its actor (or,
    /// with `actor`, for that actor only).
    Trusted {
        actor: Option<String>,
        facts: Option<Arc<ActorFacts>>,
    },
    /// No signature at all.
    Unsigned,
    /// A signature verified with the key `key_id`, owned by `owner`.
    Signed {
        key_id: String,
        owner: String,
        facts: Option<Arc<ActorFacts>>,
    },
    /// Not verified; `reason` says why (for the decision log).
    Unverified {
        key_id: Option<String>,
        reason: String,
    },
    /// The signature does not verify.
    Invalid {
        key_id: Option<String>,
        reason: String,
    },
}

impl Sender {
    /// Vouched for by the caller: the admin's own files, recorded lines.
    pub fn trusted() -> Sender {
        Sender::Trusted {
            actor: None,
            facts: None,
        }
    }

    /// The sender as modules see it once the activity's actor is known,
    /// and the facts about that actor when they are about that actor.
    ///
    /// A key owned by the actor verifies the actor; so does a key owned by
    /// another account of the actor's host (an instance actor signing for
    /// its users). A key of another host (a relay forwarding someone
    /// else's activity) verifies nothing about the actor: the server
    /// behind may still accept it by its own means (an LD signature), so
    /// it is unverified, not invalid.
    pub fn for_actor(&self, actor: Option<&str>) -> (View, Option<Arc<ActorFacts>>) {
        match self {
            Sender::Trusted {
                actor: vouched,
                facts,
            } => match (vouched, actor) {
                (Some(vouched), Some(actor)) if vouched != actor => (
                    View::unverified(
                        None,
                        format!("the caller vouched for {vouched}, not for the actor {actor}"),
                    ),
                    None,
                ),
                _ => (View::verified(None), facts_about(facts, actor)),
            },
            Sender::Signed {
                key_id,
                owner,
                facts,
            } => match actor {
                Some(actor) if actor == owner => (
                    View::verified(Some(key_id)),
                    facts_about(facts, Some(actor)),
                ),
                Some(actor) if same_host(actor, owner) => (View::verified(Some(key_id)), None),
                Some(actor) => (
                    View::unverified(
                        Some(key_id),
                        format!("signed by {owner}, not by the actor {actor} (a relay?)"),
                    ),
                    None,
                ),
                None => (
                    View::unverified(Some(key_id), "the activity names no actor".to_owned()),
                    None,
                ),
            },
            Sender::Unsigned => (View::unverified(None, "no signature".to_owned()), None),
            Sender::Unverified { key_id, reason } => {
                (View::unverified(key_id.as_ref(), reason.clone()), None)
            }
            Sender::Invalid { key_id, reason } => (
                View {
                    status: Status::Invalid,
                    key_id: key_id.clone(),
                    reason: Some(reason.clone()),
                },
                None,
            ),
        }
    }
}

/// A sender as a replay line records it (`"sender"`, with the signer's
/// facts beside it as `"actor_facts"`), so that a replay judges with what
/// the sidecar knew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Who owns the key (verified senders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Sender {
    /// What a replay line records; `None` for a trusted sender without
    /// facts (a line without `sender` replays as trusted).
    pub fn recorded(&self) -> (Option<Recorded>, Option<&ActorFacts>) {
        let record =
            |status, key_id: Option<&String>, owner: Option<&String>, reason: Option<&String>| {
                Some(Recorded {
                    status,
                    key_id: key_id.cloned(),
                    owner: owner.cloned(),
                    reason: reason.cloned(),
                })
            };
        match self {
            Sender::Trusted { facts, .. } => (None, facts.as_deref()),
            Sender::Unsigned => (
                record(
                    Status::Unverified,
                    None,
                    None,
                    Some(&"no signature".to_owned()),
                ),
                None,
            ),
            Sender::Signed {
                key_id,
                owner,
                facts,
            } => (
                record(Status::Verified, Some(key_id), Some(owner), None),
                facts.as_deref(),
            ),
            Sender::Unverified { key_id, reason } => (
                record(Status::Unverified, key_id.as_ref(), None, Some(reason)),
                None,
            ),
            Sender::Invalid { key_id, reason } => (
                record(Status::Invalid, key_id.as_ref(), None, Some(reason)),
                None,
            ),
        }
    }

    /// The sender a replay line recorded.
    pub fn from_recorded(recorded: Option<Recorded>, facts: Option<ActorFacts>) -> Sender {
        let facts = facts.map(Arc::new);
        let Some(r) = recorded else {
            return Sender::Trusted { actor: None, facts };
        };
        let reason = r.reason.unwrap_or_default();
        match (r.status, r.key_id, r.owner) {
            (Status::Verified, Some(key_id), Some(owner)) => Sender::Signed {
                key_id,
                owner,
                facts,
            },
            (Status::Verified, _, owner) => Sender::Trusted {
                actor: owner,
                facts,
            },
            (Status::Unverified, key_id, _) => Sender::Unverified { key_id, reason },
            (Status::Invalid, key_id, _) => Sender::Invalid { key_id, reason },
        }
    }
}

fn facts_about(facts: &Option<Arc<ActorFacts>>, actor: Option<&str>) -> Option<Arc<ActorFacts>> {
    facts
        .as_ref()
        .filter(|f| actor.is_none_or(|a| a == f.id))
        .cloned()
}

/// Whether two URIs have the same host (`https://a.example/x` and
/// `https://a.example/y`).
pub(crate) fn same_host(a: &str, b: &str) -> bool {
    match (host_of(a), host_of(b)) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// The authority of an `http(s)` URI, without user info.
pub fn host_of(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then_some(host)
}

/// The sender as the decision log and modules see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl View {
    fn verified(key_id: Option<&String>) -> View {
        View {
            status: Status::Verified,
            key_id: key_id.cloned(),
            reason: None,
        }
    }

    fn unverified(key_id: Option<&String>, reason: String) -> View {
        View {
            status: Status::Unverified,
            key_id: key_id.cloned(),
            reason: Some(reason),
        }
    }
}

/// What an actor's own server publishes about it (its actor document, its
/// collections, its server's NodeInfo). The sender's server writes all of
/// it: a fact, not a proof.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorFacts {
    /// The actor's id.
    pub id: String,
    /// When the account was made (`published`), ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub has_avatar: bool,
    /// `totalItems` of its followers collection, where published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub following: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discoverable: Option<bool>,
    /// The origin server's software (NodeInfo `software.name`), lowercase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(owner: &str) -> Sender {
        Sender::Signed {
            key_id: format!("{owner}#main-key"),
            owner: owner.to_owned(),
            facts: Some(Arc::new(ActorFacts {
                id: owner.to_owned(),
                ..ActorFacts::default()
            })),
        }
    }

    #[test]
    fn a_key_verifies_its_owner_and_its_owners_host_only() {
        let s = signed("https://a.example/users/x");
        let (view, facts) = s.for_actor(Some("https://a.example/users/x"));
        assert_eq!(view.status, Status::Verified);
        assert!(facts.is_some());
        // The instance actor signing for a user: verified, but its facts
        // are not the user's.
        let (view, facts) = s.for_actor(Some("https://a.example/users/y"));
        assert_eq!(view.status, Status::Verified);
        assert!(facts.is_none());
        // Another host's key: a relay, or a forgery.
        let (view, _) = s.for_actor(Some("https://b.example/users/x"));
        assert_eq!(view.status, Status::Unverified);
        assert!(view.reason.unwrap().contains("not by the actor"));
        // A look-alike host is another host.
        let (view, _) = s.for_actor(Some("https://a.example.evil/users/x"));
        assert_eq!(view.status, Status::Unverified);
    }

    #[test]
    fn hosts_are_read_without_user_info_or_path() {
        assert_eq!(
            host_of("https://u@a.example:8443/x?y"),
            Some("a.example:8443")
        );
        assert_eq!(host_of("https://a.example"), Some("a.example"));
        assert_eq!(host_of("ftp://a.example/"), None);
        assert_eq!(host_of("https:///x"), None);
    }
}
