//! Modules that weigh several signals: an [`Action`] per signal, set by the
//! admin, and [`combine`] to turn the signals that fired into one verdict.

use crate::Verdict;

/// What a signal does when it fires, as admins write it in configuration
/// (`"score"`, `"quarantine"`, `"reject"`). Ordered from mildest to
/// strictest.
#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Score,
    Quarantine,
    Reject,
}

/// One signal that fired.
#[derive(Debug, Clone)]
pub struct Finding {
    pub action: Action,
    /// Points, when `action` is [`Action::Score`].
    pub points: f64,
    /// A label added to a score.
    pub label: &'static str,
    pub reason: String,
}

/// Palisade refuses reasons over 4 KiB; reasons built from what a sender
/// wrote are cut well below that.
pub const MAX_REASON: usize = 1024;

/// The verdict for `findings`: pass if none; else the strictest action, its
/// findings' reasons joined (cut to [`MAX_REASON`]); scores add up, labelled
/// `module` and each finding's label.
///
/// ```
/// use palisade_sdk::finding::{Action, Finding, combine};
/// let f = |action, points, label, reason: &str| Finding { action, points, label, reason: reason.into() };
/// let v = combine("links", vec![
///     f(Action::Score, 2.0, "new-actor", "links from a new actor"),
///     f(Action::Score, 3.0, "invite", "a chat invite"),
/// ]);
/// assert_eq!(v.points(), 5.0);
/// assert_eq!(v.reason(), Some("links from a new actor; a chat invite"));
/// let v = combine("links", vec![
///     f(Action::Score, 2.0, "new-actor", "links from a new actor"),
///     f(Action::Reject, 0.0, "listed", "a listed host"),
/// ]);
/// assert!(v.is_reject());
/// assert!(combine("links", vec![]).is_pass());
/// ```
pub fn combine(module: &str, findings: Vec<Finding>) -> Verdict {
    let Some(strictest) = findings.iter().map(|f| f.action).max() else {
        return Verdict::pass();
    };
    let chosen: Vec<&Finding> = findings.iter().filter(|f| f.action == strictest).collect();
    let reason = crate::text::clamp(
        chosen
            .iter()
            .map(|f| f.reason.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        MAX_REASON,
    );
    match strictest {
        Action::Reject => Verdict::reject(reason),
        Action::Quarantine => Verdict::quarantine(reason),
        Action::Score => chosen.iter().fold(
            Verdict::score(chosen.iter().map(|f| f.points).sum(), reason).label(module),
            |v, f| v.label(f.label),
        ),
    }
}
