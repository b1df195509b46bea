//! The canary diff: the same stream judged by a second policy set (another
//! configuration, or this one with a shadow module enforced), and the
//! activities whose final action changes, grouped by the module that made
//! the difference.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::report::{Actions, Classes, Rates, Tally, percent};
use crate::config::{FailurePolicy, Mode};
use crate::{Action, Decision, PolicySet};

/// Changes kept in one diff, in all; past that they are only counted.
pub const MAX_CHANGES: usize = 10_000;
/// Changes the text report prints per module.
const PRINTED_PER_MODULE: usize = 20;
/// Where a change no module decided is listed: the score thresholds alone
/// made it (a threshold at or below 0).
const THRESHOLDS: &str = "(thresholds)";

/// One run's outcome for an activity, and who decided it.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub action: Action,
    /// The enforcing module whose verdict made the action (for a score,
    /// the one that added the most points); none for a plain accept.
    pub module: Option<String>,
    /// That module's reason, as the decision gives it.
    pub reason: Option<String>,
}

/// An activity whose final action changes.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub line: u64,
    /// The activity's `id`.
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub before: Side,
    pub after: Side,
}

/// The changes listed under one module.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ModuleChanges {
    /// All of them, kept or not.
    pub changed: u64,
    /// In input order, up to the diff's cap.
    pub changes: Vec<Change>,
}

/// How one label's outcomes move.
#[derive(Debug, Clone, Serialize)]
pub struct LabelMove {
    pub stopped_before: u64,
    pub stopped_after: u64,
    pub accepted_before: u64,
    pub accepted_after: u64,
}

/// What the second policy set changes.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// The other configuration's path, or the shadow module enforced.
    pub against: String,
    /// Judged activities whose final action changes.
    pub changed: u64,
    /// Changes counted but not kept (past 10,000).
    pub truncated: u64,
    /// The changes by the module that made the difference: the one that
    /// decided the new outcome, or, when the new outcome is accept, the
    /// one that decided the old.
    pub modules: BTreeMap<String, ModuleChanges>,
    /// Per label: stopped and accepted lines before and after.
    pub labels: BTreeMap<String, LabelMove>,
    /// The other run's totals.
    pub actions: Actions,
    pub classes: Classes,
    #[serde(flatten)]
    pub rates: Rates,
}

/// A diff being counted.
pub(crate) struct DiffBuilder {
    against: String,
    tally: Tally,
    modules: BTreeMap<String, ModuleChanges>,
    changed: u64,
    kept: usize,
}

impl DiffBuilder {
    pub fn new(against: String) -> DiffBuilder {
        DiffBuilder {
            against,
            tally: Tally::default(),
            modules: BTreeMap::new(),
            changed: 0,
            kept: 0,
        }
    }

    /// Count one judged line: `before` by `before_set`, `after` by
    /// `after_set`.
    pub fn add(
        &mut self,
        line: u64,
        label: Option<&str>,
        (before, before_set): (&Decision, &PolicySet),
        (after, after_set): (&Decision, &PolicySet),
    ) {
        self.tally.add(after.action, label);
        if before.action == after.action {
            return;
        }
        self.changed += 1;
        let before = side(before, before_set);
        let after_side = side(after, after_set);
        let by = if after_side.action == Action::Accept {
            &before.module
        } else {
            &after_side.module
        };
        let entry = self
            .modules
            .entry(by.clone().unwrap_or_else(|| THRESHOLDS.to_owned()))
            .or_default();
        entry.changed += 1;
        if self.kept < MAX_CHANGES {
            self.kept += 1;
            entry.changes.push(Change {
                line,
                id: after.id.clone(),
                label: label.map(str::to_owned),
                before,
                after: after_side,
            });
        }
    }

    /// The diff, with label moves measured against the main run's `tally`.
    pub fn finish(self, main: &Tally) -> Diff {
        let mut labels = BTreeMap::new();
        for (label, before) in &main.labels {
            let after = self.tally.labels.get(label);
            labels.insert(
                label.clone(),
                LabelMove {
                    stopped_before: before.outcomes.stopped(),
                    stopped_after: after.map_or(0, |a| a.outcomes.stopped()),
                    accepted_before: before.outcomes.accepted,
                    accepted_after: after.map_or(0, |a| a.outcomes.accepted),
                },
            );
        }
        Diff {
            against: self.against,
            changed: self.changed,
            truncated: self.changed - self.kept as u64,
            modules: self.modules,
            labels,
            rates: self.tally.rates(),
            actions: self.tally.actions,
            classes: self.tally.classes,
        }
    }
}

/// Who made `d`'s action, and why.
fn side(d: &Decision, set: &PolicySet) -> Side {
    let module = decider(d, set);
    let reason = module.and_then(|m| {
        let prefix = format!("{m}: ");
        d.reasons
            .iter()
            .find_map(|r| r.strip_prefix(&prefix))
            .map(str::to_owned)
    });
    Side {
        action: d.action,
        module: module.map(str::to_owned),
        reason,
    }
}

/// The enforcing module whose verdict made the decision's action: a hard
/// verdict (or a failure whose policy acts) of that action; else, for a
/// score, the module that added the most points.
fn decider<'d>(d: &'d Decision, set: &PolicySet) -> Option<&'d str> {
    let enforced = || d.trace.iter().filter(|t| t.mode == Mode::Enforce);
    let failed_with = |policy: FailurePolicy| {
        move |t: &&crate::decision::TraceEntry| {
            t.error.as_ref().is_some_and(|e| e.on_error == policy)
        }
    };
    let hard = match d.action {
        Action::Accept => {
            return enforced()
                .find(|t| t.verdict == "accept")
                .map(|t| &*t.module);
        }
        Action::Reject => {
            enforced().find(|t| t.verdict == "reject" || failed_with(FailurePolicy::Reject)(t))
        }
        Action::Quarantine => enforced()
            .find(|t| t.verdict == "quarantine" || failed_with(FailurePolicy::Quarantine)(t)),
    };
    if let Some(t) = hard {
        return Some(&t.module);
    }
    let weight = |name: &str| {
        set.modules()
            .iter()
            .find(|m| m.name() == name)
            .map_or(1.0, |m| m.settings().weight)
    };
    enforced()
        .filter(|t| t.verdict == "score")
        .map(|t| {
            let points = t
                .applied
                .unwrap_or_else(|| t.points.unwrap_or(0.0) * weight(&t.module));
            (t, points)
        })
        .filter(|(_, points)| *points > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| &*t.module)
}

impl Diff {
    /// The changes, readably: per module at most 20, then a count.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "  {} activities change; the other run: accept {}, quarantine {}, reject {}",
            self.changed, self.actions.accept, self.actions.quarantine, self.actions.reject
        )?;
        for (module, m) in &self.modules {
            writeln!(out, "  {module} ({} changed):", m.changed)?;
            for c in m.changes.iter().take(PRINTED_PER_MODULE) {
                let label = c
                    .label
                    .as_deref()
                    .map(|l| format!(" [{l}]"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "    line {} {}{label}: {} → {}",
                    c.line,
                    c.id.as_deref().unwrap_or("(no id)"),
                    c.before.action.as_str(),
                    c.after.action.as_str()
                )?;
                for (when, s) in [("before", &c.before), ("after", &c.after)] {
                    if let (Some(module), Some(reason)) = (&s.module, &s.reason) {
                        writeln!(out, "      {when}: {module}: {reason}")?;
                    }
                }
            }
            let more = m.changed - m.changes.len().min(PRINTED_PER_MODULE) as u64;
            if more > 0 {
                writeln!(out, "    … and {more} more")?;
            }
        }
        for (label, l) in &self.labels {
            if l.stopped_before != l.stopped_after || l.accepted_before != l.accepted_after {
                writeln!(
                    out,
                    "  label {label}: stopped {} → {}, accepted {} → {}",
                    l.stopped_before, l.stopped_after, l.accepted_before, l.accepted_after
                )?;
            }
        }
        if !self.labels.is_empty() {
            writeln!(
                out,
                "  the other run: precision {}, recall {}, legitimate rejected {}, legitimate quarantined {}",
                percent(self.rates.precision),
                percent(self.rates.recall),
                percent(self.rates.legit_rejected_rate),
                percent(self.rates.legit_quarantined_rate)
            )?;
        }
        Ok(())
    }
}
