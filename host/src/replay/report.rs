//! What a replay found, counted as it goes: actions, each module's
//! rulings, per-label outcomes and the rates an admin tunes by.
//!
//! Every field is documented in `docs/replay.md`; the JSON form is read by
//! tests and the evaluation, so its names are a contract.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::diff::Diff;
use crate::Action;
use crate::config::Mode;

/// Lines judged, by final action.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Actions {
    pub accept: u64,
    pub reject: u64,
    pub quarantine: u64,
}

impl Actions {
    fn add(&mut self, action: Action) {
        match action {
            Action::Accept => self.accept += 1,
            Action::Reject => self.reject += 1,
            Action::Quarantine => self.quarantine += 1,
        }
    }
}

/// Outcomes of a set of lines (a class, a label, the unlabelled).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Outcomes {
    pub total: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub quarantined: u64,
}

impl Outcomes {
    fn add(&mut self, action: Action) {
        self.total += 1;
        match action {
            Action::Accept => self.accepted += 1,
            Action::Reject => self.rejected += 1,
            Action::Quarantine => self.quarantined += 1,
        }
    }

    /// Rejected or quarantined: what did not reach the server's users.
    pub fn stopped(&self) -> u64 {
        self.rejected + self.quarantined
    }
}

/// Whether labelled traffic is legitimate or an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Legit,
    Wave,
}

impl Class {
    /// `legit` and `legit/…` are legitimate; any other label is a wave.
    pub fn of(label: &str) -> Class {
        if label.split('/').next() == Some("legit") {
            Class::Legit
        } else {
            Class::Wave
        }
    }
}

/// One label's outcomes.
#[derive(Debug, Clone, Serialize)]
pub struct LabelOutcomes {
    pub class: Class,
    #[serde(flatten)]
    pub outcomes: Outcomes,
    /// Accepted lines of this label before its first stopped one (all of
    /// them when none was stopped): how much of a wave got through before
    /// the defences caught on.
    pub accepted_before_first_stop: u64,
    #[serde(skip)]
    stopped_once: bool,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Classes {
    pub legit: Outcomes,
    pub wave: Outcomes,
}

/// Precision, recall and the legitimate traffic's losses; null where the
/// stream has nothing to divide by.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rates {
    /// Stopped wave lines / stopped labelled lines.
    pub precision: Option<f64>,
    /// Stopped wave lines / wave lines.
    pub recall: Option<f64>,
    pub legit_rejected_rate: Option<f64>,
    pub legit_quarantined_rate: Option<f64>,
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The outcomes of one run over the stream, by action, label and class.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub actions: Actions,
    pub labels: BTreeMap<String, LabelOutcomes>,
    pub classes: Classes,
    pub unlabelled: Outcomes,
}

impl Tally {
    /// Count one judged line (an empty label counts as none).
    pub fn add(&mut self, action: Action, label: Option<&str>) {
        self.actions.add(action);
        let Some(label) = label.filter(|l| !l.is_empty()) else {
            self.unlabelled.add(action);
            return;
        };
        let class = Class::of(label);
        let entry = self
            .labels
            .entry(label.to_owned())
            .or_insert_with(|| LabelOutcomes {
                class,
                outcomes: Outcomes::default(),
                accepted_before_first_stop: 0,
                stopped_once: false,
            });
        entry.outcomes.add(action);
        if action == Action::Accept {
            entry.accepted_before_first_stop += u64::from(!entry.stopped_once);
        } else {
            entry.stopped_once = true;
        }
        match class {
            Class::Legit => self.classes.legit.add(action),
            Class::Wave => self.classes.wave.add(action),
        }
    }

    pub fn rates(&self) -> Rates {
        let (legit, wave) = (&self.classes.legit, &self.classes.wave);
        Rates {
            precision: ratio(wave.stopped(), wave.stopped() + legit.stopped()),
            recall: ratio(wave.stopped(), wave.total),
            legit_rejected_rate: ratio(legit.rejected, legit.total),
            legit_quarantined_rate: ratio(legit.quarantined, legit.total),
        }
    }
}

/// One module's part in the replay.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleCounts {
    pub mode: Mode,
    /// Lines it judged (the chain stops at the first hard verdict, so a
    /// module late in it may judge fewer lines than were read).
    pub calls: u64,
    /// Non-pass rulings while enforcing (accept, reject, quarantine, score).
    pub hits: u64,
    pub reject: u64,
    pub quarantine: u64,
    pub score: u64,
    pub accept: u64,
    pub errors: u64,
    /// Non-pass rulings while in shadow mode: never applied.
    pub shadow_hits: u64,
}

impl ModuleCounts {
    pub fn new(mode: Mode) -> ModuleCounts {
        ModuleCounts {
            mode,
            calls: 0,
            hits: 0,
            reject: 0,
            quarantine: 0,
            score: 0,
            accept: 0,
            errors: 0,
            shadow_hits: 0,
        }
    }

    /// Count one trace entry's verdict (in the trace's own words).
    pub fn add(&mut self, verdict: &str, mode: Mode) {
        self.calls += 1;
        let ruling = match verdict {
            "pass" => return,
            "error" => {
                self.errors += 1;
                return;
            }
            "reject" => &mut self.reject,
            "quarantine" => &mut self.quarantine,
            "score" => &mut self.score,
            _ => &mut self.accept,
        };
        *ruling += 1;
        match mode {
            Mode::Enforce => self.hits += 1,
            Mode::Shadow => self.shadow_hits += 1,
        }
    }
}

/// How each line got its time.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Times {
    /// From the envelope's `received_at`.
    pub received_at: u64,
    /// From the activity's (or its object's) `published`.
    pub published: u64,
    /// From the line before (it had no time of its own).
    pub previous: u64,
    /// From the wall clock: lines without a time before any line had one.
    pub wall_clock: u64,
}

/// Judging time per line, in microseconds, in this process.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub mean: f64,
    pub p50: u64,
    pub p99: u64,
}

/// Every duration seen, counted by value: exact percentiles in memory
/// bounded by the range of durations, not by the number of lines.
#[derive(Debug, Default)]
pub(crate) struct Durations {
    counts: BTreeMap<u64, u64>,
    n: u64,
    sum: u128,
}

impl Durations {
    pub fn add(&mut self, micros: u64) {
        *self.counts.entry(micros).or_default() += 1;
        self.n += 1;
        self.sum += u128::from(micros);
    }

    fn percentile(&self, p: f64) -> u64 {
        let rank = ((self.n as f64 * p).ceil() as u64).max(1);
        let mut seen = 0;
        for (&micros, &count) in &self.counts {
            seen += count;
            if seen >= rank {
                return micros;
            }
        }
        0
    }

    pub fn cost(&self) -> Cost {
        Cost {
            mean: if self.n == 0 {
                0.0
            } else {
                self.sum as f64 / self.n as f64
            },
            p50: self.percentile(0.50),
            p99: self.percentile(0.99),
        }
    }
}

/// What `palisade replay` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Lines read, empty ones not counted.
    pub lines: u64,
    /// Lines the modules judged (readable activities).
    pub judged: u64,
    /// Lines that are not a JSON object, even read leniently.
    pub unreadable: u64,
    /// The first 20 unreadable lines' numbers.
    pub unreadable_lines: Vec<u64>,
    /// Lines whose own time was before the line before's; judged at that
    /// earlier line's time.
    pub out_of_order: u64,
    pub times: Times,
    pub actions: Actions,
    /// By module, in judging order.
    #[serde(serialize_with = "in_order")]
    pub modules: Vec<(String, ModuleCounts)>,
    pub labels: BTreeMap<String, LabelOutcomes>,
    pub classes: Classes,
    pub unlabelled: Outcomes,
    #[serde(flatten)]
    pub rates: Rates,
    pub cost_us: Cost,
    /// `--compare`: what the other configuration changes.
    pub compare: Option<Diff>,
    /// Per shadow module: what enforcing it would change.
    #[serde(serialize_with = "some_in_order")]
    pub shadow: Option<Vec<(String, Diff)>>,
}

fn in_order<S: serde::Serializer, T: Serialize>(
    entries: &[(String, T)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(entries.iter().map(|(k, v)| (k, v)))
}

fn some_in_order<S: serde::Serializer, T: Serialize>(
    entries: &Option<Vec<(String, T)>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match entries {
        Some(entries) => in_order(entries, s),
        None => s.serialize_none(),
    }
}

/// A share as a percentage, or `-` when there is nothing to divide by.
pub(crate) fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_owned(), |r| format!("{:.2}%", r * 100.0))
}

impl Report {
    /// The report for a person: a few lines of totals, then tables.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        write!(
            out,
            "{} lines: {} judged, {} unreadable",
            self.lines, self.judged, self.unreadable
        )?;
        if !self.unreadable_lines.is_empty() {
            let shown: Vec<String> = self.unreadable_lines.iter().map(u64::to_string).collect();
            let more = self.unreadable - self.unreadable_lines.len() as u64;
            write!(out, " (line {}", shown.join(", "))?;
            if more > 0 {
                write!(out, " and {more} more")?;
            }
            write!(out, ")")?;
        }
        writeln!(out, ", {} out of order", self.out_of_order)?;
        let t = &self.times;
        writeln!(
            out,
            "time from: received_at {}, published {}, the line before {}, the wall clock {}",
            t.received_at, t.published, t.previous, t.wall_clock
        )?;
        let a = &self.actions;
        writeln!(
            out,
            "actions: accept {}, quarantine {}, reject {}",
            a.accept, a.quarantine, a.reject
        )?;
        let c = &self.cost_us;
        writeln!(
            out,
            "judging time per line: mean {:.1} µs, p50 {} µs, p99 {} µs",
            c.mean, c.p50, c.p99
        )?;

        writeln!(out)?;
        writeln!(
            out,
            "{:<22} {:<7} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>7} {:>8}",
            "MODULE",
            "MODE",
            "CALLS",
            "HITS",
            "REJECT",
            "QUARANTINE",
            "SCORE",
            "ACCEPT",
            "ERRORS",
            "SHADOW"
        )?;
        for (name, m) in &self.modules {
            let mode = match m.mode {
                Mode::Enforce => "enforce",
                Mode::Shadow => "shadow",
            };
            writeln!(
                out,
                "{name:<22} {mode:<7} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>7} {:>8}",
                m.calls, m.hits, m.reject, m.quarantine, m.score, m.accept, m.errors, m.shadow_hits
            )?;
        }

        if !self.labels.is_empty() {
            writeln!(out)?;
            writeln!(
                out,
                "{:<28} {:<6} {:>8} {:>9} {:>9} {:>12} {:>22}",
                "LABEL",
                "CLASS",
                "TOTAL",
                "ACCEPTED",
                "REJECTED",
                "QUARANTINED",
                "ACCEPTED BEFORE STOP"
            )?;
            for (label, l) in &self.labels {
                let class = match l.class {
                    Class::Legit => "legit",
                    Class::Wave => "wave",
                };
                let o = &l.outcomes;
                writeln!(
                    out,
                    "{label:<28} {class:<6} {:>8} {:>9} {:>9} {:>12} {:>22}",
                    o.total, o.accepted, o.rejected, o.quarantined, l.accepted_before_first_stop
                )?;
            }
            writeln!(out)?;
            for (name, o) in [
                ("legit", &self.classes.legit),
                ("wave", &self.classes.wave),
                ("unlabelled", &self.unlabelled),
            ] {
                writeln!(
                    out,
                    "{name:<10} {} lines: {} accepted, {} rejected, {} quarantined",
                    o.total, o.accepted, o.rejected, o.quarantined
                )?;
            }
            let r = &self.rates;
            writeln!(
                out,
                "precision {}, recall {}, legitimate rejected {}, legitimate quarantined {}",
                percent(r.precision),
                percent(r.recall),
                percent(r.legit_rejected_rate),
                percent(r.legit_quarantined_rate)
            )?;
        }

        if let Some(diff) = &self.compare {
            writeln!(out)?;
            writeln!(out, "compared with {}:", diff.against)?;
            diff.write_text(out)?;
        }
        for (module, diff) in self.shadow.iter().flatten() {
            writeln!(out)?;
            writeln!(out, "shadow module {module}, were it enforced:")?;
            diff.write_text(out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wave_counts_what_got_through_before_its_first_stop() {
        let mut t = Tally::default();
        use Action::*;
        for a in [Accept, Accept, Reject, Accept, Quarantine] {
            t.add(a, Some("wave/x"));
        }
        for a in [Accept, Quarantine, Accept, Accept] {
            t.add(a, Some("legit/busy"));
        }
        t.add(Reject, None);
        t.add(Accept, Some(""));
        let w = &t.labels["wave/x"];
        assert_eq!(w.class, Class::Wave);
        assert_eq!(
            (w.outcomes.total, w.outcomes.accepted, w.outcomes.stopped()),
            (5, 3, 2)
        );
        assert_eq!(w.accepted_before_first_stop, 2);
        assert_eq!(t.labels["legit/busy"].class, Class::Legit);
        assert_eq!((t.unlabelled.total, t.unlabelled.rejected), (2, 1));
        let r = t.rates();
        assert_eq!(r.precision, Some(2.0 / 3.0));
        assert_eq!(r.recall, Some(2.0 / 5.0));
        assert_eq!(r.legit_rejected_rate, Some(0.0));
        assert_eq!(r.legit_quarantined_rate, Some(0.25));
        assert_eq!(Tally::default().rates().precision, None);
    }

    #[test]
    fn percentiles_are_exact_values_seen() {
        let mut d = Durations::default();
        for micros in 1..=100 {
            d.add(micros);
        }
        let c = d.cost();
        assert_eq!((c.p50, c.p99), (50, 99));
        assert_eq!(c.mean, 50.5);
        let empty = Durations::default().cost();
        assert_eq!((empty.mean, empty.p50, empty.p99), (0.0, 0, 0));
    }
}
