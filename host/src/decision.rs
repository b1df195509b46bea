//! What Palisade decides about one activity, and how module verdicts
//! combine into it.

use serde::Serialize;

use crate::config::{FailurePolicy, Mode, Thresholds};
use crate::runtime::{CallError, Ruling, Verdict};

/// What happens to the activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Accept,
    Quarantine,
    Reject,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Quarantine => "quarantine",
            Action::Reject => "reject",
        }
    }
}

/// The decision on one activity, with how each module contributed.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The activity's `id`, if it has one.
    pub id: Option<String>,
    pub action: Action,
    /// The weighted sum of score verdicts of enforcing modules.
    pub score: f64,
    /// Why, one line per contributing module: `module: reason`.
    pub reasons: Vec<String>,
    /// Rewrites enforcing modules asked for.
    pub rewrites: Vec<&'static str>,
    /// Every module that ran, in order.
    pub trace: Vec<TraceEntry>,
    /// Set when the activity could not be judged at all (not JSON, not an
    /// object): no module ran, and the transport decides (the sidecar
    /// refuses it with 400 by default; see `server.non_json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<InputError>,
    /// What the parser had to tolerate to read the document (duplicate or
    /// wrong-typed properties, comments, invalid UTF-8…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Who sent it, as verified (none when it could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<crate::senders::View>,
    /// Who sent it and what it said, as parsed for judging: for the
    /// decision log and the quarantine, so that nothing parses twice.
    #[serde(skip)]
    pub actor: Option<String>,
    #[serde(skip)]
    pub actor_host: Option<String>,
    #[serde(skip)]
    pub text: Option<String>,
    /// Set when the activity gives its object only by URI and the
    /// transport said it would fetch it (`Envelope::fetch_objects`): not
    /// judged yet; held unless the object comes and is judged.
    #[serde(skip)]
    pub object_uri: Option<String>,
}

/// The document was not an activity.
#[derive(Debug, Clone, Serialize)]
pub struct InputError {
    pub message: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub line: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub column: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One module's part in a decision.
#[derive(Debug, Clone, Serialize)]
pub struct TraceEntry {
    pub module: String,
    pub version: String,
    pub mode: Mode,
    /// `pass`, `accept`, `reject`, `quarantine`, `score` or `error`.
    pub verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Points applied to the score when they differ from `points` times the
    /// weight: a module that may not vouch, or vouching past the cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<f64>,
    /// Wall-clock microseconds the call took.
    pub micros: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TraceError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceError {
    pub kind: &'static str,
    pub message: String,
    /// What the failure policy made of it.
    pub on_error: FailurePolicy,
}

/// What one module's call produced, as the combiner sees it.
pub struct Outcome<'a> {
    pub module: &'a str,
    pub version: &'a str,
    pub mode: Mode,
    pub weight: f64,
    /// Whether its negative points count (`vouch = true`).
    pub vouch: bool,
    pub on_error: FailurePolicy,
    pub result: Result<Verdict, CallError>,
    pub micros: u64,
}

/// Folds module outcomes, in pipeline order, into a decision: the first
/// hard reject or accept of an enforcing module ends the chain; quarantine
/// holds unless something rejects; scores add up (times weights) and meet
/// the thresholds at the end. Shadow modules are traced, never applied.
/// Negative points count only from modules allowed to vouch, and only up to
/// `thresholds.max_vouch` in all: one module cannot cancel every other
/// module's evidence.
pub struct Combiner {
    thresholds: Thresholds,
    decision: Decision,
    hard: Option<Action>,
    quarantined: bool,
    score_reasons: Vec<String>,
    /// Points vouching modules have taken off so far (positive).
    vouched: f64,
}

impl Combiner {
    pub fn new(id: Option<String>, thresholds: Thresholds) -> Self {
        Combiner {
            thresholds,
            decision: Decision {
                id,
                action: Action::Accept,
                score: 0.0,
                reasons: Vec::new(),
                rewrites: Vec::new(),
                trace: Vec::new(),
                error: None,
                notes: Vec::new(),
                sender: None,
                actor: None,
                actor_host: None,
                text: None,
                object_uri: None,
            },
            hard: None,
            quarantined: false,
            score_reasons: Vec::new(),
            vouched: 0.0,
        }
    }

    /// Whether the chain has ended (a hard verdict was applied).
    pub fn done(&self) -> bool {
        self.hard.is_some()
    }

    pub fn add(&mut self, o: Outcome<'_>) {
        let enforce = o.mode == Mode::Enforce;
        let mut entry = TraceEntry {
            module: o.module.to_owned(),
            version: o.version.to_owned(),
            mode: o.mode,
            verdict: "pass",
            reason: None,
            points: None,
            labels: Vec::new(),
            applied: None,
            micros: o.micros,
            error: None,
        };
        match o.result {
            Ok(verdict) => {
                if enforce {
                    for r in &verdict.rewrites {
                        if !self.decision.rewrites.contains(&r.as_str()) {
                            self.decision.rewrites.push(r.as_str());
                        }
                    }
                }
                match verdict.ruling {
                    Ruling::Pass => {}
                    Ruling::Accept(reason) => {
                        entry.verdict = "accept";
                        if enforce {
                            self.hard = Some(Action::Accept);
                            self.decision
                                .reasons
                                .push(format!("{}: {reason}", o.module));
                        }
                        entry.reason = Some(reason);
                    }
                    Ruling::Reject(reason) => {
                        entry.verdict = "reject";
                        if enforce {
                            self.hard = Some(Action::Reject);
                            self.decision
                                .reasons
                                .push(format!("{}: {reason}", o.module));
                        }
                        entry.reason = Some(reason);
                    }
                    Ruling::Quarantine(reason) => {
                        entry.verdict = "quarantine";
                        if enforce {
                            self.quarantined = true;
                            self.decision
                                .reasons
                                .push(format!("{}: {reason}", o.module));
                        }
                        entry.reason = Some(reason);
                    }
                    Ruling::Score(score) => {
                        entry.verdict = "score";
                        if enforce {
                            let weighted = score.points * o.weight;
                            let points = self.vouch_limited(weighted, o.vouch);
                            if points != weighted {
                                entry.applied = Some(points);
                            }
                            self.decision.score += points;
                            let note = match (points != weighted, o.vouch) {
                                (false, _) => String::new(),
                                (true, false) => {
                                    format!("; {weighted:+} ignored: not allowed to vouch")
                                }
                                (true, true) => {
                                    format!("; {weighted:+} capped by thresholds.max_vouch")
                                }
                            };
                            self.score_reasons
                                .push(format!("{}: {} ({points:+}{note})", o.module, score.reason));
                        }
                        entry.points = Some(score.points);
                        entry.labels = score.labels;
                        entry.reason = Some(score.reason);
                    }
                }
            }
            Err(error) => {
                entry.verdict = "error";
                if enforce {
                    let why = format!("{}: failed ({error})", o.module);
                    match o.on_error {
                        FailurePolicy::Skip => {}
                        FailurePolicy::Quarantine => {
                            self.quarantined = true;
                            self.decision.reasons.push(why);
                        }
                        FailurePolicy::Reject => {
                            self.hard = Some(Action::Reject);
                            self.decision.reasons.push(why);
                        }
                    }
                }
                entry.error = Some(TraceError {
                    kind: error.kind.as_str(),
                    message: error.message,
                    on_error: o.on_error,
                });
            }
        }
        self.decision.trace.push(entry);
    }

    /// The part of `points` that counts: all of it when positive; when
    /// negative, nothing from a module that may not vouch, and for one that
    /// may, what is left of `max_vouch`.
    fn vouch_limited(&mut self, points: f64, vouch: bool) -> f64 {
        if points >= 0.0 {
            return points;
        }
        if !vouch {
            return 0.0;
        }
        let left = (self.thresholds.max_vouch.max(0.0) - self.vouched).max(0.0);
        let taken = (-points).min(left);
        self.vouched += taken;
        -taken
    }

    pub fn finish(mut self) -> Decision {
        let d = &mut self.decision;
        let by_score = if d.score >= self.thresholds.reject {
            Action::Reject
        } else if d.score >= self.thresholds.quarantine {
            Action::Quarantine
        } else {
            Action::Accept
        };
        d.action = match self.hard {
            Some(hard) => hard,
            None if self.quarantined => by_score.max(Action::Quarantine),
            None => by_score,
        };
        if d.action != Action::Accept {
            d.reasons.append(&mut self.score_reasons);
        }
        self.decision
    }
}

impl Decision {
    /// The decision on a document that is not an activity.
    pub fn unreadable(error: InputError) -> Decision {
        Decision {
            id: None,
            action: Action::Accept,
            score: 0.0,
            reasons: Vec::new(),
            rewrites: Vec::new(),
            trace: Vec::new(),
            error: Some(error),
            notes: Vec::new(),
            sender: None,
            actor: None,
            actor_host: None,
            text: None,
            object_uri: None,
        }
    }

    /// An activity whose object must be fetched before it can be judged:
    /// held until then.
    pub fn object_pending(id: Option<String>, uri: String, actor: Option<String>) -> Decision {
        Decision {
            id,
            action: Action::Quarantine,
            score: 0.0,
            reasons: vec![format!(
                "palisade: the object is sent only by its URI ({uri}) and could not be \
                 fetched to be judged"
            )],
            rewrites: Vec::new(),
            trace: Vec::new(),
            error: None,
            notes: Vec::new(),
            sender: None,
            actor,
            actor_host: None,
            text: None,
            object_uri: Some(uri),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{ErrorKind, Score};

    fn out(module: &str, mode: Mode, result: Result<Verdict, CallError>) -> Outcome<'_> {
        Outcome {
            module,
            version: "1",
            mode,
            weight: 1.0,
            vouch: false,
            on_error: FailurePolicy::Skip,
            result,
            micros: 1,
        }
    }

    fn v(ruling: Ruling) -> Result<Verdict, CallError> {
        Ok(Verdict {
            ruling,
            rewrites: Vec::new(),
        })
    }

    fn score(points: f64) -> Result<Verdict, CallError> {
        v(Ruling::Score(Score {
            points,
            labels: vec![],
            reason: "r".into(),
        }))
    }

    #[test]
    fn scores_add_up_to_thresholds() {
        let mut c = Combiner::new(None, Thresholds::default());
        c.add(out("a", Mode::Enforce, score(3.0)));
        c.add(out("b", Mode::Enforce, score(3.0)));
        let d = c.finish();
        assert_eq!(d.action, Action::Quarantine);
        assert_eq!(d.score, 6.0);
        assert_eq!(d.reasons, ["a: r (+3)", "b: r (+3)"]);
    }

    #[test]
    fn shadow_modules_never_count() {
        let mut c = Combiner::new(None, Thresholds::default());
        c.add(out("s", Mode::Shadow, v(Ruling::Reject("no".into()))));
        c.add(out("t", Mode::Shadow, score(50.0)));
        assert!(!c.done());
        let d = c.finish();
        assert_eq!(d.action, Action::Accept);
        assert_eq!(d.trace[0].verdict, "reject");
        assert!(d.reasons.is_empty());
    }

    #[test]
    fn first_hard_verdict_wins() {
        let mut c = Combiner::new(None, Thresholds::default());
        c.add(out(
            "q",
            Mode::Enforce,
            v(Ruling::Quarantine("hold".into())),
        ));
        c.add(out("r", Mode::Enforce, v(Ruling::Reject("spam".into()))));
        assert!(c.done());
        let d = c.finish();
        assert_eq!(d.action, Action::Reject);
        assert_eq!(d.reasons, ["q: hold", "r: spam"]);

        let mut c = Combiner::new(None, Thresholds::default());
        c.add(out(
            "allow",
            Mode::Enforce,
            v(Ruling::Accept("trusted".into())),
        ));
        assert_eq!(c.finish().action, Action::Accept);
    }

    #[test]
    fn failure_policies_apply() {
        let err = || {
            Err(CallError {
                kind: ErrorKind::Timeout,
                message: "slow".into(),
            })
        };
        for (policy, action) in [
            (FailurePolicy::Skip, Action::Accept),
            (FailurePolicy::Quarantine, Action::Quarantine),
            (FailurePolicy::Reject, Action::Reject),
        ] {
            let mut c = Combiner::new(None, Thresholds::default());
            let mut o = out("m", Mode::Enforce, err());
            o.on_error = policy;
            c.add(o);
            let d = c.finish();
            assert_eq!(d.action, action, "{policy:?}");
            assert_eq!(d.trace[0].error.as_ref().unwrap().kind, "timeout");
        }
    }

    #[test]
    fn only_allowed_modules_vouch_and_only_up_to_the_cap() {
        let vouching = |points: f64, vouch: bool| {
            let mut o = out("friend", Mode::Enforce, score(points));
            o.vouch = vouch;
            o
        };
        // Evidence of 12 points: a module that may not vouch cancels nothing.
        let mut c = Combiner::new(None, Thresholds::default());
        c.add(out("a", Mode::Enforce, score(12.0)));
        c.add(vouching(-1e6, false));
        let d = c.finish();
        assert_eq!((d.action, d.score), (Action::Reject, 12.0));
        assert_eq!(d.trace[1].applied, Some(0.0));
        assert!(
            d.reasons[1].contains("not allowed to vouch"),
            "{:?}",
            d.reasons
        );

        // One that may takes off at most max_vouch (5), across modules.
        let mut c = Combiner::new(None, Thresholds::default());
        c.add(out("a", Mode::Enforce, score(12.0)));
        c.add(vouching(-3.0, true));
        c.add(vouching(-1e6, true));
        let d = c.finish();
        assert_eq!(d.score, 7.0);
        assert_eq!(d.action, Action::Quarantine);
        assert_eq!(d.trace[1].applied, None, "within the cap: applied as given");
        assert_eq!(d.trace[2].applied, Some(-2.0));
        assert!(
            d.reasons
                .iter()
                .any(|r| r.contains("capped by thresholds.max_vouch"))
        );
    }

    #[test]
    fn weights_multiply_points() {
        let mut c = Combiner::new(None, Thresholds::default());
        let mut o = out("w", Mode::Enforce, score(4.0));
        o.weight = 2.5;
        c.add(o);
        let d = c.finish();
        assert_eq!((d.action, d.score), (Action::Reject, 10.0));
    }
}
