//! One counted signal: its settings as written, and as used.

use palisade_sdk::finding::{Action, Finding};
use serde::Deserialize;

/// A signal's settings as the admin writes them: every key optional, so a
/// table that sets one key keeps the signal's own defaults for the others.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SignalConfig {
    enabled: Option<bool>,
    window_seconds: Option<u32>,
    score_at: Option<u64>,
    points: Option<f64>,
    reject_at: Option<u64>,
    in_learning: Option<bool>,
}

/// A signal's settings in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub enabled: bool,
    pub window_seconds: u32,
    pub score_at: u64,
    pub points: f64,
    /// 0: never reject.
    pub reject_at: u64,
    pub in_learning: bool,
}

impl Signal {
    pub fn new(
        window_seconds: u32,
        score_at: u64,
        points: f64,
        reject_at: u64,
        in_learning: bool,
    ) -> Self {
        Signal {
            enabled: true,
            window_seconds,
            score_at,
            points,
            reject_at,
            in_learning,
        }
    }

    /// Whether the signal is applied, the host being in its learning
    /// period or not.
    pub fn applies(&self, learning: bool) -> bool {
        self.enabled && (self.in_learning || !learning)
    }

    /// What the signal says of a count `n`, described by `what` ("links to
    /// x from 5 distinct new actors").
    pub fn finding(&self, n: u64, label: &'static str, what: String) -> Option<Finding> {
        let within = super::within(self);
        if self.reject_at > 0 && n >= self.reject_at {
            return Some(Finding {
                action: Action::Reject,
                points: 0.0,
                label,
                reason: format!(
                    "{what} making first contact {within} (rejected from {})",
                    self.reject_at
                ),
            });
        }
        (n >= self.score_at).then(|| Finding {
            action: Action::Score,
            points: self.points,
            label,
            reason: format!(
                "{what} making first contact {within} (scored from {})",
                self.score_at
            ),
        })
    }
}

impl SignalConfig {
    /// These settings over the signal's `defaults`, checked; `name` is the
    /// signal's key, for messages.
    pub fn over(self, name: &str, defaults: Signal) -> Result<Signal, String> {
        let signal = Signal {
            enabled: self.enabled.unwrap_or(defaults.enabled),
            window_seconds: self.window_seconds.unwrap_or(defaults.window_seconds),
            score_at: self.score_at.unwrap_or(defaults.score_at),
            points: self.points.unwrap_or(defaults.points),
            reject_at: self.reject_at.unwrap_or(defaults.reject_at),
            in_learning: self.in_learning.unwrap_or(defaults.in_learning),
        };
        let bad = |what: &str| Err(format!("invalid configuration at `{name}`: {what}"));
        if signal.window_seconds == 0 {
            return bad("`window_seconds` must be at least 1");
        }
        if signal.score_at == 0 {
            return bad("`score_at` must be at least 1");
        }
        if !signal.points.is_finite() {
            return bad("`points` must be a finite number");
        }
        Ok(signal)
    }
}
