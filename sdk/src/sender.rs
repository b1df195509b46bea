//! Who is speaking ([`Context::sender`](crate::Context::sender)) and what
//! the actor's server says about it
//! ([`Context::actor_facts`](crate::Context::actor_facts)): constructors and
//! queries.

use crate::{ActorFacts, Sender, SenderStatus};

impl SenderStatus {
    /// The name the decision log and the configuration use.
    pub fn as_str(&self) -> &'static str {
        match self {
            SenderStatus::Verified => "verified",
            SenderStatus::Unverified => "unverified",
            SenderStatus::Invalid => "invalid",
        }
    }
}

impl Sender {
    /// A verified sender without a key (the caller vouched for it), as
    /// `palisade check` judges files.
    pub fn verified() -> Self {
        SenderStatus::Verified.into()
    }

    /// Whether the sender is verified: only then does the activity write
    /// state and first-seen times.
    pub fn is_verified(&self) -> bool {
        self.status == SenderStatus::Verified
    }
}

/// A sender with `status`, no key, and a generic reason when it is not
/// verified (the host words its reasons itself).
///
/// ```
/// use palisade_sdk::{Sender, SenderStatus};
/// let s = Sender::from(SenderStatus::Unverified);
/// assert!(!s.is_verified());
/// assert!(s.reason.is_some());
/// ```
impl From<SenderStatus> for Sender {
    fn from(status: SenderStatus) -> Self {
        Sender {
            status,
            key_id: None,
            reason: match status {
                SenderStatus::Verified => None,
                SenderStatus::Unverified => Some("no signature".to_owned()),
                SenderStatus::Invalid => Some("the signature does not verify".to_owned()),
            },
        }
    }
}

/// Nothing published: no dates, names, counts or software, no avatar. Set
/// the fields a test needs with `..ActorFacts::default()`.
impl Default for ActorFacts {
    fn default() -> Self {
        ActorFacts {
            published: None,
            preferred_username: None,
            name: None,
            has_avatar: false,
            followers: None,
            following: None,
            discoverable: None,
            software: None,
        }
    }
}
