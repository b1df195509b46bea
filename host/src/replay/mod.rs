//! `palisade replay`: a recorded or generated stream of activities through
//! the same pipeline as `palisade serve`, in simulated time, with a report
//! of what it decided and, optionally, what another configuration (or a
//! shadow module enforced) would have decided instead.
//!
//! Time is the stream's, never the wall clock's: each line is judged at its
//! envelope's `received_at`, else its activity's `published`, else the
//! line before's time, and the module state (windows, first-seen times) is
//! kept at those times. So weeks of history replay in seconds and judge as
//! they did live, and the same stream replays to the same decisions.
//! Simulated time never goes backwards: a line older than the one before
//! it is judged at the one before's time (and counted as out of order).
//!
//! See `docs/replay.md` for the input format and every report field.

mod diff;
mod input;
mod report;
mod variant;

use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

pub use diff::{Change, Diff, LabelMove, MAX_CHANGES, ModuleChanges, Side};
pub use report::{
    Actions, Class, Classes, Cost, LabelOutcomes, ModuleCounts, Outcomes, Rates, Report, Tally,
    Times,
};

use crate::pipeline::Envelope;
use crate::{Config, Decision, Palisade, PolicySet};
use diff::DiffBuilder;
use input::TimeSource;
use report::Durations;

/// Unreadable lines whose numbers the report lists.
const UNREADABLE_LISTED: usize = 20;

/// A replay could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {source_name}: {error}")]
    Read {
        source_name: String,
        error: io::Error,
    },
    #[error("cannot write the decisions: {0}")]
    Decisions(io::Error),
    #[error("cannot build the set with shadow module {module} enforced: {error}")]
    Shadow { module: String, error: String },
}

/// A second policy set judging the same lines at the same times, with its
/// own (in-memory) state.
struct Variant {
    /// Keeps the variant's runtime and state alive.
    _palisade: Palisade,
    set: Arc<PolicySet>,
    diff: DiffBuilder,
}

/// A replay in progress: feed it lines, then [`Replay::finish`] it.
pub struct Replay {
    /// Keeps the main runtime and state alive.
    _palisade: Palisade,
    set: Arc<PolicySet>,
    compare: Option<Variant>,
    shadows: Vec<(String, Variant)>,
    decisions: Option<Box<dyn Write>>,
    clock: Clock,
    /// Physical lines read, empty ones included: the line numbers.
    line_no: u64,
    lines: u64,
    judged: u64,
    unreadable: u64,
    unreadable_lines: Vec<u64>,
    modules: Vec<(String, ModuleCounts)>,
    tally: Tally,
    durations: Durations,
}

impl Replay {
    /// Replay through `palisade`'s policy set as it is now.
    pub fn new(palisade: Palisade) -> Replay {
        let set = palisade.policies();
        let modules = set
            .modules()
            .iter()
            .map(|m| (m.name().to_owned(), ModuleCounts::new(m.settings().mode)))
            .collect();
        Replay {
            _palisade: palisade,
            set,
            compare: None,
            shadows: Vec::new(),
            decisions: None,
            clock: Clock::default(),
            line_no: 0,
            lines: 0,
            judged: 0,
            unreadable: 0,
            unreadable_lines: Vec::new(),
            modules,
            tally: Tally::default(),
            durations: Durations::default(),
        }
    }

    /// Also judge every line with `other` (give it its own in-memory
    /// state), and report what changes; `name` says which it is.
    pub fn compare_with(&mut self, name: impl Into<String>, other: Palisade) {
        self.compare = Some(Variant {
            set: other.policies(),
            _palisade: other,
            diff: DiffBuilder::new(name.into()),
        });
    }

    /// For each shadow module of the set, also judge every line with the
    /// same configuration (`config`, drop-ins from `dir`) but that module
    /// enforced, in its own memory state, and report what enforcing it
    /// would change.
    pub fn with_shadow_modules(
        &mut self,
        config: &Config,
        dir: Option<&std::path::Path>,
    ) -> Result<(), ReplayError> {
        for module in self.set.modules() {
            if module.settings().mode != crate::config::Mode::Shadow {
                continue;
            }
            let (palisade, set) =
                variant::enforcing(config, dir, module).map_err(|error| ReplayError::Shadow {
                    module: module.name().to_owned(),
                    error,
                })?;
            self.shadows.push((
                module.name().to_owned(),
                Variant {
                    _palisade: palisade,
                    set,
                    diff: DiffBuilder::new(format!("{} enforced", module.name())),
                },
            ));
        }
        Ok(())
    }

    /// Write one JSON decision per judged line to `out`.
    pub fn write_decisions(&mut self, out: Box<dyn Write>) {
        self.decisions = Some(out);
    }

    /// Judge every line of `reader`; `source_name` names it in errors.
    /// Lines are numbered on from the previous source's.
    pub fn feed(&mut self, source_name: &str, mut reader: impl BufRead) -> Result<(), ReplayError> {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|error| ReplayError::Read {
                    source_name: source_name.to_owned(),
                    error,
                })?;
            if n == 0 {
                return Ok(());
            }
            self.line(&buf)?;
        }
    }

    /// Judge one line (its line break, if any, included).
    pub fn line(&mut self, raw: &[u8]) -> Result<(), ReplayError> {
        self.line_no += 1;
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        self.lines += 1;
        let line = input::read(raw);
        let mut envelope = Envelope::inbound_now();
        envelope.received_at = self.clock.stamp(line.time);
        envelope.recipient = line.recipient.clone();
        envelope.record = true;
        envelope.sender = line.sender.clone();

        let started = Instant::now();
        let decision = self.set.judge_bytes(line.body, &envelope);
        let micros = started.elapsed().as_micros() as u64;
        let label = line.label.as_deref();
        if decision.error.is_some() {
            // No module ran, here or in any variant: nothing to compare.
            self.unreadable += 1;
            if self.unreadable_lines.len() < UNREADABLE_LISTED {
                self.unreadable_lines.push(self.line_no);
            }
        } else {
            self.judged += 1;
            self.durations.add(micros);
            self.tally.add(decision.action, label);
            self.count_modules(&decision);
            let variants = self
                .compare
                .iter_mut()
                .chain(self.shadows.iter_mut().map(|(_, v)| v));
            for variant in variants {
                let other = variant.set.judge_bytes(line.body, &envelope);
                variant.diff.add(
                    self.line_no,
                    label,
                    (&decision, &self.set),
                    (&other, &variant.set),
                );
            }
        }
        if let Some(out) = &mut self.decisions {
            let line = DecisionLine {
                line: self.line_no,
                label,
                received_at: envelope.received_at,
                decision: &decision,
            };
            serde_json::to_writer(&mut *out, &line)
                .map_err(io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(ReplayError::Decisions)?;
        }
        Ok(())
    }

    fn count_modules(&mut self, decision: &Decision) {
        for t in &decision.trace {
            if let Some((_, counts)) = self.modules.iter_mut().find(|(name, _)| *name == t.module) {
                counts.add(t.verdict, t.mode);
            }
        }
    }

    /// The report; flushes the decisions.
    pub fn finish(mut self) -> Result<Report, ReplayError> {
        if let Some(out) = &mut self.decisions {
            out.flush().map_err(ReplayError::Decisions)?;
        }
        let tally = self.tally;
        let shadow = (!self.shadows.is_empty()).then(|| {
            self.shadows
                .into_iter()
                .map(|(name, v)| (name, v.diff.finish(&tally)))
                .collect()
        });
        Ok(Report {
            lines: self.lines,
            judged: self.judged,
            unreadable: self.unreadable,
            unreadable_lines: self.unreadable_lines,
            out_of_order: self.clock.out_of_order,
            times: self.clock.times,
            actions: tally.actions.clone(),
            modules: self.modules,
            rates: tally.rates(),
            compare: self.compare.map(|v| v.diff.finish(&tally)),
            shadow,
            cost_us: self.durations.cost(),
            labels: tally.labels,
            classes: tally.classes,
            unlabelled: tally.unlabelled,
        })
    }
}

/// One line of `--decisions`: the decision, where it came from, and when
/// it was judged.
#[derive(Serialize)]
struct DecisionLine<'a> {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    /// The simulated time it was judged at (milliseconds since the epoch).
    received_at: u64,
    #[serde(flatten)]
    decision: &'a Decision,
}

/// Simulated time: each line's own, never earlier than the line before's.
#[derive(Default)]
struct Clock {
    last: Option<u64>,
    out_of_order: u64,
    times: Times,
}

impl Clock {
    fn stamp(&mut self, own: Option<(u64, TimeSource)>) -> u64 {
        let at = match (own, self.last) {
            (Some((at, source)), last) => {
                match source {
                    TimeSource::ReceivedAt => self.times.received_at += 1,
                    TimeSource::Published => self.times.published += 1,
                }
                match last {
                    Some(last) if at < last => {
                        self.out_of_order += 1;
                        last
                    }
                    _ => at,
                }
            }
            (None, Some(last)) => {
                self.times.previous += 1;
                last
            }
            (None, None) => {
                self.times.wall_clock += 1;
                crate::runtime::unix_ms()
            }
        };
        self.last = Some(at);
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_time_never_goes_backwards() {
        let mut clock = Clock::default();
        assert_eq!(clock.stamp(Some((1000, TimeSource::ReceivedAt))), 1000);
        assert_eq!(clock.stamp(None), 1000, "no time: the line before's");
        assert_eq!(clock.stamp(Some((500, TimeSource::Published))), 1000);
        assert_eq!(clock.out_of_order, 1);
        assert_eq!(clock.stamp(Some((2000, TimeSource::Published))), 2000);
        let t = &clock.times;
        assert_eq!(
            (t.received_at, t.published, t.previous, t.wall_clock),
            (1, 2, 1, 0)
        );
        let mut clock = Clock::default();
        let before = crate::runtime::unix_ms();
        assert!(clock.stamp(None) >= before, "the first untimed line: now");
        assert_eq!(clock.times.wall_clock, 1);
    }
}
