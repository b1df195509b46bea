//! A seeded, deterministic stream of labelled activities: the standard
//! benchmark for Palisade's defences.
//!
//! Legitimate traffic as a protected server (`home.example`, Mastodon)
//! receives it from about 40 remote servers of four kinds (Mastodon,
//! Misskey, GoToSocial, Akkoma), with three weeks of history, then an
//! evaluation week in which the traffic goes on and spam waves that adapt
//! to Palisade's bundled modules arrive. Payload shapes and words come
//! from the real documents in `tests/corpus/public`; `docs/EVALUATION.md`
//! describes every part and what is not modelled.
//!
//! Each [`Line`] is one inbound delivery: when it arrived, its label
//! (`legit/…` or `wave/…`; none for the few attack preparations that are
//! harmless on their own), the local user whose inbox it was posted to,
//! the activity, and what the actor's own server publishes about it (its
//! actor facts: account creation, profile, follower counts, software). Same seed, same bytes: one ChaCha8 generator per part,
//! integer arithmetic for every random choice, times from a fixed epoch.
//!
//! ```no_run
//! use palisade_e2e::scenario::Scenario;
//! let mut out = Vec::new();
//! let summary = Scenario::standard(7).scale(0.5).write_jsonl(&mut out).unwrap();
//! eprintln!("{summary}");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use palisade::senders::ActorFacts;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

use population::Person;

mod facts;
mod html;
mod ids;
mod interactions;
mod legit;
mod population;
mod render;
mod waves;
mod words;

/// 2026-03-01T00:00:00Z, the first day of the history, in ms since the
/// Unix epoch.
pub const EPOCH_MS: u64 = 1_772_323_200_000;
/// One day in milliseconds.
pub const DAY_MS: u64 = 86_400_000;
/// Days of history before the evaluation week.
pub const HISTORY_DAYS: u64 = 21;
/// 2026-03-22T00:00:00Z: the evaluation week (days 22–28) starts, and the
/// install-day variant's only day.
pub const EVALUATION_START_MS: u64 = EPOCH_MS + HISTORY_DAYS * DAY_MS;
/// 2026-03-29T00:00:00Z: the end of the evaluation week.
pub const END_MS: u64 = EVALUATION_START_MS + 7 * DAY_MS;
/// The protected server.
pub const LOCAL_HOST: &str = "home.example";

/// Why a scenario could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read the corpus at {path}: {source}")]
    Corpus {
        path: String,
        source: std::io::Error,
    },
    #[error("corpus file {file} is not the JSON document the generator uses as a template: {why}")]
    Template { file: String, why: String },
    #[error("cannot write the scenario: {0}")]
    Write(#[from] std::io::Error),
    #[error("the scale must be a finite number between 0.01 and 100, not {0}")]
    Scale(f64),
}

/// Which stream to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// 21 days of history, then the evaluation week with the waves.
    Standard,
    /// No history: the evaluation week's traffic and waves in one day, as
    /// the day Palisade is installed (it has seen nobody).
    InstallDay,
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "standard" => Ok(Variant::Standard),
            "install-day" => Ok(Variant::InstallDay),
            _ => Err(format!("unknown variant `{s}`: standard or install-day")),
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Variant::Standard => "standard",
            Variant::InstallDay => "install-day",
        })
    }
}

/// A scenario to generate: a seed, a variant and a volume factor.
#[derive(Debug, Clone)]
pub struct Scenario {
    seed: u64,
    variant: Variant,
    scale: f64,
    corpus: std::path::PathBuf,
}

/// One delivery to the protected server's inbox.
#[derive(Debug, Clone)]
pub struct Line {
    /// Milliseconds since the Unix epoch.
    pub received_at: u64,
    /// `legit/KIND` or `wave/VARIANT`; `None` for unscored preparation.
    pub label: Option<String>,
    /// The local user whose personal inbox it was posted to; `None` for the
    /// shared inbox.
    pub recipient: Option<String>,
    /// The document as the remote server sends it.
    pub activity: Value,
    /// What the actor's own server published about it when it was sent
    /// (`actor_facts`: the sidecar fetched it with the signing key).
    pub actor_facts: Option<ActorFacts>,
    /// When its group (a thread, a wave) started: the install day moves a
    /// group as one piece so that its pace is kept.
    anchor: u64,
    /// Part of a group, as opposed to on its own.
    grouped: bool,
    seq: u64,
    /// How far the install day moved it (ms, earlier).
    moved: u64,
    /// Followers and follows its actor gained in the stream so far.
    gained: (u64, u64),
}

impl Line {
    /// The line as `palisade replay` reads it (no trailing newline).
    pub fn to_json(&self) -> String {
        let mut out = format!("{{\"received_at\":{}", self.received_at);
        if let Some(label) = &self.label {
            out.push_str(",\"label\":");
            out.push_str(&Value::from(label.as_str()).to_string());
        }
        if let Some(recipient) = &self.recipient {
            out.push_str(",\"recipient\":");
            out.push_str(&Value::from(recipient.as_str()).to_string());
        }
        if let Some(facts) = &self.actor_facts {
            out.push_str(",\"actor_facts\":");
            out.push_str(&serde_json::to_string(facts).unwrap_or_else(|_| "null".to_owned()));
        }
        out.push_str(",\"activity\":");
        out.push_str(&self.activity.to_string());
        out.push('}');
        out
    }
}

/// Lines per label, for the summary printed after generating.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub counts: BTreeMap<String, usize>,
}

impl Summary {
    pub fn of(lines: &[Line]) -> Summary {
        let mut counts = BTreeMap::new();
        for line in lines {
            let label = line.label.as_deref().unwrap_or("(unlabelled)");
            *counts.entry(label.to_owned()).or_insert(0) += 1;
        }
        Summary { counts }
    }

    /// Lines whose label starts with `prefix/`.
    pub fn total(&self, prefix: &str) -> usize {
        self.counts
            .iter()
            .filter(|(label, _)| label.split('/').next() == Some(prefix))
            .map(|(_, n)| n)
            .sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (label, n) in &self.counts {
            writeln!(f, "{n:>7}  {label}")?;
        }
        let all: usize = self.counts.values().sum();
        write!(
            f,
            "{:>7}  legit\n{:>7}  wave\n{all:>7}  lines",
            self.total("legit"),
            self.total("wave")
        )
    }
}

impl Scenario {
    /// History, then the evaluation week with the waves.
    pub fn standard(seed: u64) -> Scenario {
        Scenario::new(seed, Variant::Standard)
    }

    /// The evaluation week's traffic and waves in one day, no history.
    pub fn install_day(seed: u64) -> Scenario {
        Scenario::new(seed, Variant::InstallDay)
    }

    pub fn new(seed: u64, variant: Variant) -> Scenario {
        Scenario {
            seed,
            variant,
            scale: 1.0,
            corpus: crate::corpus_dir(),
        }
    }

    /// Multiply every volume (population, traffic, wave sizes) by `factor`.
    pub fn scale(mut self, factor: f64) -> Scenario {
        self.scale = factor;
        self
    }

    /// Read the corpus from `dir` instead of the repository's.
    pub fn corpus(mut self, dir: &Path) -> Scenario {
        self.corpus = dir.to_owned();
        self
    }

    /// Every line, in the order they arrive.
    pub fn lines(&self) -> Result<Vec<Line>, ScenarioError> {
        if !(self.scale.is_finite() && (0.01..=100.0).contains(&self.scale)) {
            return Err(ScenarioError::Scale(self.scale));
        }
        let docs = read_corpus(&self.corpus)?;
        let templates = render::Templates::from_corpus(&docs)?;
        let words = words::Words::from_corpus(&docs);
        let pop = population::Population::generate(&mut Dice::new(self.seed, 1), self.scale);
        let mut out = Out::new(self.seed);
        for person in &pop.remotes {
            out.account(person, facts::Setup::Person);
        }
        legit::generate(
            &mut legit::Ctx {
                dice: Dice::new(self.seed, 2),
                pop: &pop,
                words: &words,
                t: &templates,
                scale: self.scale,
            },
            &mut out,
        );
        waves::generate(
            &mut Dice::new(self.seed, 3),
            &pop,
            &words,
            &templates,
            self.scale,
            &mut out,
        );
        let mut lines = out.lines;
        // Relationships are counted before the install day leaves the
        // history out: follows made then are still on the servers.
        lines.sort_by_key(|l| (l.received_at, l.seq));
        facts::count_relationships(&mut lines);
        if self.variant == Variant::InstallDay {
            lines = install_day(lines, self.seed);
        }
        lines.sort_by_key(|l| (l.received_at, l.seq));
        facts::attach(&mut lines, &out.profiles);
        Ok(lines)
    }

    /// Write every line as JSON Lines; the counts per label.
    pub fn write_jsonl(&self, out: &mut impl Write) -> Result<Summary, ScenarioError> {
        let lines = self.lines()?;
        for line in &lines {
            out.write_all(line.to_json().as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(Summary::of(&lines))
    }
}

/// The evaluation week as one day. Every group keeps its own pace (a wave
/// arrives as fast, a busy thread is as lively) and starts at the same
/// fraction of the day as it did of the week; groups that would run past
/// midnight start earlier. Single legitimate activities are spread the
/// same way and thinned to one in seven, a day's worth, so that the
/// server is as busy as on any day; newcomers, busy threads, the waves and
/// their preparation are all kept.
fn install_day(lines: Vec<Line>, seed: u64) -> Vec<Line> {
    let week = END_MS - EVALUATION_START_MS;
    let mut thin = Dice::new(seed, 5);
    // How long each group lasts, to keep it inside the day.
    let mut span: BTreeMap<u64, u64> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.anchor >= EVALUATION_START_MS) {
        let end = span.entry(l.anchor).or_insert(0);
        *end = (*end).max(l.received_at - l.anchor);
    }
    lines
        .into_iter()
        .filter(|l| l.anchor >= EVALUATION_START_MS)
        .filter(|l| {
            let thinned = !l.grouped
                && l.label
                    .as_deref()
                    .is_some_and(|label| label.starts_with("legit/") && label != "legit/newcomer");
            !thinned || thin.below(7) == 0
        })
        .map(|mut l| {
            let offset = l.received_at - l.anchor;
            let latest = DAY_MS - 1 - span[&l.anchor].min(DAY_MS - 1);
            let start = ((l.anchor - EVALUATION_START_MS) * DAY_MS / week).min(latest);
            let moved_to = EVALUATION_START_MS + start + offset;
            l.moved = l.received_at - moved_to;
            l.received_at = moved_to;
            l.anchor = EVALUATION_START_MS + start;
            l
        })
        .collect()
}

/// The longest a delivery takes from the sender's server to the inbox.
const MAX_DELAY_MS: u64 = 20_000;

/// The lines being generated, in generation order.
pub(crate) struct Out {
    lines: Vec<Line>,
    /// How long each delivery takes, drawn apart from what is delivered.
    delay: Dice,
    seed: u64,
    /// Every actor's profile, by id.
    profiles: BTreeMap<String, facts::Profile>,
}

impl Out {
    fn new(seed: u64) -> Out {
        Out {
            lines: Vec::new(),
            delay: Dice::new(seed, 4),
            seed,
            profiles: BTreeMap::new(),
        }
    }

    /// `person`'s account was set up as `setup`: what its server
    /// publishes about it.
    pub fn account(&mut self, person: &Person, setup: facts::Setup) {
        let profile = facts::Profile::new(person, setup, self.seed);
        self.profiles.insert(person.uri.clone(), profile);
    }

    /// A delivery of something sent at `at`, on its own.
    pub fn push(&mut self, at: u64, label: Option<&str>, recipient: Option<&str>, activity: Value) {
        self.add(at, at, false, label, recipient, activity);
    }

    /// A delivery of something sent at `at`, part of a group started at
    /// `anchor`. It arrives a moment later: servers queue their deliveries.
    pub fn push_in(
        &mut self,
        anchor: u64,
        at: u64,
        label: Option<&str>,
        recipient: Option<&str>,
        activity: Value,
    ) {
        self.add(anchor, at, true, label, recipient, activity);
    }

    fn add(
        &mut self,
        anchor: u64,
        at: u64,
        grouped: bool,
        label: Option<&str>,
        recipient: Option<&str>,
        activity: Value,
    ) {
        debug_assert!(at >= anchor, "a group's line before its start");
        let seq = self.lines.len() as u64;
        let delay = self.delay.range(200, MAX_DELAY_MS);
        self.lines.push(Line {
            received_at: at + delay,
            label: label.map(str::to_owned),
            recipient: recipient.map(str::to_owned),
            activity,
            actor_facts: None,
            anchor,
            grouped,
            seq,
            moved: 0,
            gained: (0, 0),
        });
    }
}

/// Every corpus document with its file name, sorted by name.
fn read_corpus(dir: &Path) -> Result<Vec<(String, String)>, ScenarioError> {
    let err = |source| ScenarioError::Corpus {
        path: dir.display().to_string(),
        source,
    };
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        if path.extension().is_some_and(|x| x == "json") {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            docs.push((
                name.into_owned(),
                std::fs::read_to_string(&path).map_err(err)?,
            ));
        }
    }
    docs.sort();
    Ok(docs)
}

/// The random choices of one part of the scenario: ChaCha8 seeded from the
/// scenario's seed and the part's number, so that a change to how the
/// waves are drawn leaves the legitimate traffic as it was.
pub(crate) struct Dice(ChaCha8Rng);

impl Dice {
    pub fn new(seed: u64, part: u64) -> Dice {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&part.to_le_bytes());
        Dice(ChaCha8Rng::from_seed(key))
    }

    /// The choices about one named thing (an account, a host) of part
    /// `part`: the same whatever else is drawn, and in whatever order.
    pub fn keyed(seed: u64, part: u64, name: &str) -> Dice {
        // FNV-1a: a fixed, portable hash.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&part.to_le_bytes());
        key[16..24].copy_from_slice(&hash.to_le_bytes());
        Dice(ChaCha8Rng::from_seed(key))
    }

    /// Uniform in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.0.random_range(0..n) }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            self.0.random_range(lo..=hi)
        }
    }

    /// `true` with probability `percent` / 100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.0.random_ratio(percent.min(100), 100)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn with the given integer weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// `n` characters drawn from `alphabet`.
    pub fn string(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n)
            .map(|_| *self.pick(alphabet) as char)
            .collect::<String>()
    }

    /// `k` distinct indices of `0..n` (all of them when `k >= n`), in the
    /// order drawn.
    pub fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below((n - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }

    pub fn u64(&mut self) -> u64 {
        self.0.random()
    }
}

/// `n` scaled, rounded to the nearest integer, at least `min`.
pub(crate) fn scaled(n: u64, scale: f64, min: u64) -> u64 {
    ((n as f64 * scale + 0.5) as u64).max(min)
}

/// Relative weights of the hours of a day (UTC) for a server whose users
/// are mostly in Europe and the Americas: quiet before dawn in Europe,
/// busiest in the European evening.
const HOURLY: [u64; 24] = [
    5, 4, 3, 3, 2, 2, 3, 5, 7, 8, 8, 9, 9, 9, 9, 10, 10, 11, 12, 12, 11, 10, 8, 6,
];

/// A moment of day `day` (0-based from [`EPOCH_MS`]) drawn with the daily
/// rhythm.
pub(crate) fn moment(dice: &mut Dice, day: u64) -> u64 {
    let hour = dice.weighted(&HOURLY) as u64;
    EPOCH_MS + day * DAY_MS + hour * 3_600_000 + dice.below(3_600_000)
}
