//! The evaluation scenario: deterministic, readable by Palisade's parser,
//! in time order, with the structure `docs/EVALUATION.md` promises, and
//! judged by the real pipeline without an unreadable decision.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use palisade::pipeline::Envelope;
use palisade::runtime::Direction;
use palisade_e2e::scenario::{DAY_MS, EVALUATION_START_MS, LOCAL_HOST, Line, Scenario, Summary};
use palisade_sdk::Activity;
use palisade_sdk::parse::{Options, parse_document};
use serde_json::Value;

const WAVES: [&str; 12] = [
    "wave/feb2024",
    "wave/oct2024",
    "wave/invite-four",
    "wave/loop-ten",
    "wave/random-tail",
    "wave/link-codes",
    "wave/same-image",
    "wave/misskey-mfm",
    "wave/one-mention",
    "wave/aged-accounts",
    "wave/filled-profiles",
    "wave/backdated",
];

/// The standard scenario for seed 1, generated once for the tests that
/// read it.
fn standard() -> &'static [Line] {
    static LINES: OnceLock<Vec<Line>> = OnceLock::new();
    LINES.get_or_init(|| {
        Scenario::standard(1)
            .lines()
            .expect("generate the standard scenario")
    })
}

fn install_day() -> &'static [Line] {
    static LINES: OnceLock<Vec<Line>> = OnceLock::new();
    LINES.get_or_init(|| {
        Scenario::install_day(1)
            .lines()
            .expect("generate the install day")
    })
}

fn parse(line: &Line) -> Activity {
    let local = [LOCAL_HOST.to_owned()];
    let parsed = parse_document(line.activity.to_string().as_bytes(), &Options::new(&local))
        .unwrap_or_else(|e| panic!("unreadable activity ({e}): {}", line.to_json()));
    assert!(
        parsed.notes.is_empty(),
        "the parser noted broken input {:?} in {}",
        parsed.notes,
        line.to_json()
    );
    parsed.activity
}

fn labelled<'a>(lines: &'a [Line], label: &'a str) -> impl Iterator<Item = &'a Line> + 'a {
    lines
        .iter()
        .filter(move |l| l.label.as_deref() == Some(label))
}

fn host(uri: &str) -> &str {
    uri.split('/').nth(2).unwrap_or_default()
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_another_stream() {
    let jsonl = |s: Scenario| {
        let mut out = Vec::new();
        s.write_jsonl(&mut out).expect("write the scenario");
        out
    };
    let a = jsonl(Scenario::standard(42).scale(0.3));
    let b = jsonl(Scenario::standard(42).scale(0.3));
    assert!(a == b, "seed 42 gave two different streams");
    let c = jsonl(Scenario::standard(43).scale(0.3));
    assert!(a != c, "seeds 42 and 43 gave the same stream");
    let d = jsonl(Scenario::install_day(42).scale(0.3));
    assert!(a != d, "the install day is the standard scenario");
}

#[test]
fn the_binary_writes_the_library_stream_and_counts_it() {
    let dir = palisade_e2e::TempDir::new("scenario");
    let file = dir.0.join("s.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_palisade-scenario"))
        .args([
            "--seed",
            "5",
            "--variant",
            "install-day",
            "--scale",
            "0.2",
            "--out",
        ])
        .arg(&file)
        .output()
        .expect("run palisade-scenario");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "palisade-scenario failed: {stderr}");
    let written = std::fs::read(&file).expect("read its output");
    let mut expected = Vec::new();
    let summary = Scenario::install_day(5)
        .scale(0.2)
        .write_jsonl(&mut expected)
        .unwrap();
    assert!(
        written == expected,
        "the binary wrote another stream than the library"
    );
    let lines = written.iter().filter(|&&b| b == b'\n').count();
    assert!(
        stderr.contains(&format!("{lines:>7}  lines")),
        "the summary does not count the {lines} lines:\n{stderr}"
    );
    for (label, n) in &summary.counts {
        assert!(
            stderr.contains(&format!("{n:>7}  {label}")),
            "the summary misses {label}:\n{stderr}"
        );
    }
    // Standard output without --out; a bad scale is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_palisade-scenario"))
        .args(["--seed", "5", "--variant", "install-day", "--scale", "0.2"])
        .output()
        .expect("run palisade-scenario");
    assert!(out.stdout == expected, "standard output is not the stream");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_palisade-scenario"))
        .args(["--scale", "0"])
        .output()
        .expect("run palisade-scenario");
    assert!(!out.status.success(), "a scale of 0 was accepted");
}

#[test]
fn every_line_is_an_activity_the_parser_reads_cleanly_in_time_order() {
    for lines in [standard(), install_day()] {
        let mut last = 0;
        for line in lines {
            let v: Value = serde_json::from_str(&line.to_json()).expect("a line is JSON");
            assert!(v["received_at"].is_u64(), "received_at is not an integer");
            assert!(v["activity"].is_object(), "no activity");
            assert!(
                line.received_at >= last,
                "time went backwards at {}",
                line.to_json()
            );
            last = line.received_at;
            let a = parse(line);
            assert!(a.actor.is_some(), "no actor: {}", line.to_json());
            assert!(
                !a.actor.as_deref().unwrap().contains(LOCAL_HOST),
                "a local actor in the inbound stream"
            );
        }
    }
}

#[test]
fn the_volumes_are_those_of_the_standard_scenario() {
    let summary = Summary::of(standard());
    let legit = summary.total("legit");
    let wave = summary.total("wave");
    assert!(
        (8_000..=12_000).contains(&legit),
        "{legit} legitimate activities"
    );
    assert!((2_000..=3_000).contains(&wave), "{wave} wave activities");
    for kind in [
        "post",
        "reply",
        "reply-local",
        "busy-thread",
        "boost",
        "like",
        "follow",
        "accept",
        "edit",
        "delete",
        "newcomer",
        "link-share",
        "follow-friday",
    ] {
        let n = summary
            .counts
            .get(&format!("legit/{kind}"))
            .copied()
            .unwrap_or(0);
        assert!(n > 0, "no legit/{kind}");
    }
    let half = Summary::of(&Scenario::standard(1).scale(0.5).lines().unwrap());
    let ratio = half.total("legit") as f64 / legit as f64;
    assert!(
        (0.4..=0.6).contains(&ratio),
        "scale 0.5 gave {ratio} of the traffic"
    );
    // History before the waves, the waves in the evaluation week only.
    let first_wave = standard()
        .iter()
        .find(|l| l.label.as_deref().is_some_and(|l| l.starts_with("wave/")));
    assert!(first_wave.unwrap().received_at >= EVALUATION_START_MS);
    let history = standard()
        .iter()
        .filter(|l| l.received_at < EVALUATION_START_MS)
        .count();
    assert!(history > 6_000, "only {history} lines of history");
}

/// Per wave: the parsed posts, their origin hosts, and what they mention.
struct Wave {
    posts: Vec<(Activity, Value)>,
}

impl Wave {
    fn of(label: &str) -> Wave {
        let posts: Vec<(Activity, Value)> = labelled(standard(), label)
            .map(|l| (parse(l), l.activity.clone()))
            .collect();
        Wave { posts }
    }
    fn mentions(&self) -> BTreeSet<usize> {
        self.posts.iter().map(|(a, _)| a.mentions.len()).collect()
    }
    fn actors(&self) -> BTreeSet<String> {
        self.posts
            .iter()
            .filter_map(|(a, _)| a.actor.clone())
            .collect()
    }
    fn hosts(&self) -> BTreeSet<String> {
        self.posts
            .iter()
            .filter_map(|(a, _)| a.actor_host.clone())
            .collect()
    }
    /// The posts' own words: without the attachments' descriptions,
    /// which Palisade reads with the text (Akkoma names an image by its
    /// file name).
    fn texts(&self) -> BTreeSet<String> {
        self.posts
            .iter()
            .map(|(a, _)| {
                let own = a
                    .attachments
                    .iter()
                    .filter_map(|x| x.name.as_deref())
                    .fold(a.text.clone(), |t, name| t.replace(name, ""));
                words(&own)
            })
            .collect()
    }
    fn links(&self) -> Vec<String> {
        self.posts
            .iter()
            .flat_map(|(a, _)| a.links.clone())
            .collect()
    }
}

/// A post's words without its mentions and links.
fn words(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| !w.starts_with('@') && !w.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_wave_has_its_promised_shape() {
    let mut all_mentions = BTreeSet::new();
    for label in WAVES {
        let lines: Vec<&Line> = labelled(standard(), label).collect();
        assert!(
            (150..=400).contains(&lines.len()),
            "{label}: {} activities",
            lines.len()
        );
        let span = lines.last().unwrap().received_at - lines[0].received_at;
        assert!(span <= 5 * 3_600_000, "{label} lasts {span} ms, not a wave");
        assert!(
            lines[0].received_at >= EVALUATION_START_MS,
            "{label} is in the history"
        );
        let w = Wave::of(label);
        assert!(
            w.posts
                .iter()
                .all(|(a, _)| a.kind == "Create" && a.mentions.iter().any(|m| m.local)),
            "{label}: a post that is not a Create mentioning a local user"
        );
        let hosts = w.hosts().len();
        assert!((3..=100).contains(&hosts), "{label}: {hosts} origin hosts");
        all_mentions.extend(w.mentions());
    }
    assert_eq!(all_mentions.first(), Some(&1), "no wave with one mention");
    assert_eq!(all_mentions.last(), Some(&10), "no wave with ten mentions");

    let feb = Wave::of("wave/feb2024");
    assert_eq!(feb.mentions(), BTreeSet::from([10]));
    assert_eq!(feb.texts().len(), 1, "February's text varies");
    assert_eq!(
        feb.actors().len(),
        feb.posts.len(),
        "February: an account posted twice"
    );

    let oct = Wave::of("wave/oct2024");
    assert_eq!(oct.mentions(), BTreeSet::from([5]));
    assert_eq!(oct.texts().len(), 1);
    assert!(oct.posts.iter().all(|(a, _)| a.attachments.len() == 1));

    let four = Wave::of("wave/invite-four");
    assert_eq!(four.mentions(), BTreeSet::from([4]));
    assert_eq!(
        four.texts().len(),
        four.posts.len(),
        "two invite-four posts with the same words"
    );
    let invites: BTreeSet<String> = four.links().into_iter().collect();
    assert_eq!(invites.len(), four.posts.len(), "an invite code was reused");
    assert!(invites.iter().all(|l| l.starts_with("https://discord.gg/")));
    assert_eq!(four.actors().len(), four.posts.len());

    let looping = Wave::of("wave/loop-ten");
    assert_eq!(looping.actors().len(), 10, "not ten looping accounts");
    assert_eq!(looping.mentions(), BTreeSet::from([3]));
    assert!(
        looping.texts().len() > 50,
        "the loop does not vary its words"
    );

    let tail = Wave::of("wave/random-tail");
    assert_eq!(tail.actors().len(), 80, "not 80 accounts");
    assert_eq!(tail.mentions(), BTreeSet::from([3]));
    let heads: BTreeSet<String> = tail
        .texts()
        .iter()
        .map(|t| t.rsplit_once(' ').expect("a tail").0.to_owned())
        .collect();
    assert_eq!(
        heads.len(),
        1,
        "the random-tail texts differ before their tails: {heads:?}"
    );
    assert!(
        tail.texts().len() > tail.posts.len() * 9 / 10,
        "the tails repeat"
    );
    assert!(
        tail.texts()
            .iter()
            .all(|t| t.rsplit(' ').next().unwrap().len() == 3)
    );

    let codes = Wave::of("wave/link-codes");
    assert_eq!(codes.mentions(), BTreeSet::from([1, 2]));
    let links = codes.links();
    assert_eq!(
        links.iter().map(|l| host(l)).collect::<BTreeSet<_>>().len(),
        1
    );
    assert_eq!(
        links.iter().collect::<BTreeSet<_>>().len(),
        codes.posts.len(),
        "a code was reused"
    );

    let image = Wave::of("wave/same-image");
    assert_eq!(image.mentions(), BTreeSet::from([2]));
    assert!(image.links().is_empty(), "same-image carries a link");
    let media: BTreeSet<String> = image
        .posts
        .iter()
        .map(|(_, v)| {
            let m = &v["object"]["attachment"][0];
            format!("{} {} {}", m["blurhash"], m["width"], m["height"])
        })
        .collect();
    assert_eq!(media.len(), 1, "the image differs: {media:?}");
    assert!(image.texts().len() > 1, "same-image's text never varies");

    let mfm = Wave::of("wave/misskey-mfm");
    assert_eq!(mfm.mentions(), BTreeSet::from([6]));
    assert!(mfm.posts.iter().all(|(_, v)| {
        v["object"]["_misskey_content"]
            .as_str()
            .is_some_and(|s| s.contains("$["))
    }));

    let one = Wave::of("wave/one-mention");
    assert_eq!(one.mentions(), BTreeSet::from([1]));
    assert_eq!(one.hosts().len(), 100, "not a hundred origin hosts");
    assert!(one.links().is_empty() && one.posts.iter().all(|(a, _)| a.attachments.is_empty()));
    assert_eq!(one.texts().len(), one.posts.len());

    // The profiles filled in: otherwise `one-mention`.
    let filled = Wave::of("wave/filled-profiles");
    assert_eq!(filled.mentions(), BTreeSet::from([1]));
    assert!(filled.links().is_empty());
    assert_eq!(filled.texts().len(), filled.posts.len());
    assert!(filled.hosts().len() >= 30);

    // Backdated: three servers of its own, five mentions, no link.
    let backdated = Wave::of("wave/backdated");
    assert_eq!(backdated.hosts().len(), 3);
    assert_eq!(backdated.mentions(), BTreeSet::from([5]));
    assert!(backdated.links().is_empty());
    assert_eq!(backdated.actors().len(), backdated.posts.len());
    let elsewhere: BTreeSet<String> = standard()
        .iter()
        .filter(|l| l.label.as_deref() != Some("wave/backdated"))
        .map(|l| host(l.activity["actor"].as_str().unwrap()).to_owned())
        .collect();
    assert!(
        backdated.hosts().is_disjoint(&elsewhere),
        "a backdating server in another wave or the legitimate traffic"
    );

    // Aged accounts were first seen, unlabelled, days before they posted.
    let aged = Wave::of("wave/aged-accounts");
    let first_post = labelled(standard(), "wave/aged-accounts")
        .next()
        .unwrap()
        .received_at;
    let prepared: BTreeMap<String, u64> = standard()
        .iter()
        .filter(|l| l.label.is_none())
        .map(|l| {
            (
                l.activity["actor"].as_str().unwrap().to_owned(),
                l.received_at,
            )
        })
        .collect();
    for actor in aged.actors() {
        let at = prepared
            .get(&actor)
            .unwrap_or_else(|| panic!("{actor} was never seen before"));
        assert!(
            first_post - at > 2 * DAY_MS,
            "{actor} was seen only just before"
        );
    }
    // Some waves come from servers that also have legitimate users.
    let legit_hosts: BTreeSet<String> = standard()
        .iter()
        .filter(|l| l.label.as_deref() == Some("legit/post"))
        .map(|l| host(l.activity["actor"].as_str().unwrap()).to_owned())
        .collect();
    assert!(
        feb.hosts().iter().any(|h| legit_hosts.contains(h)),
        "no legitimate host in February's wave"
    );
}

#[test]
fn busy_threads_mention_everyone_among_people_who_know_each_other() {
    let lines = standard();
    let mut seen_objects: BTreeSet<String> = BTreeSet::new();
    let mut accepted: BTreeMap<String, u64> = BTreeMap::new();
    let (mut replies, mut openers) = (0, 0);
    let mut participants = BTreeSet::new();
    for line in lines {
        let a = parse(line);
        if line.label.as_deref() == Some("legit/accept") {
            let follow = &line.activity["object"];
            assert_eq!(follow["type"], "Follow");
            assert_eq!(host(follow["actor"].as_str().unwrap()), LOCAL_HOST);
            assert_eq!(follow["object"].as_str(), a.actor.as_deref());
            accepted
                .entry(a.actor.clone().unwrap())
                .or_insert(line.received_at);
        }
        if line.label.as_deref() == Some("legit/busy-thread") {
            let n = a.mentions.len();
            assert!(
                (6..=12).contains(&n),
                "a busy-thread post with {n} mentions"
            );
            match &a.in_reply_to {
                None => openers += 1,
                Some(parent) => {
                    replies += 1;
                    assert!(
                        host(parent) == LOCAL_HOST || seen_objects.contains(parent),
                        "a busy-thread reply to {parent}, which did not come before it"
                    );
                }
            }
            let actor = a.actor.clone().unwrap();
            let since = accepted.get(&actor).copied();
            assert!(
                since.is_some_and(|t| t < line.received_at),
                "{actor} talks in a busy thread before any local user followed them"
            );
            participants.insert(actor);
        }
        if let Some(id) = &a.object_id {
            seen_objects.insert(id.clone());
        }
    }
    assert!(replies > 200, "only {replies} busy-thread replies");
    assert!(
        openers > 0,
        "no busy thread opens with a post mentioning everyone"
    );
    // Known before the evaluation week: their follows were accepted in the history.
    assert!(
        participants
            .iter()
            .all(|p| accepted[p] < EVALUATION_START_MS)
    );
}

#[test]
fn the_install_day_has_no_history_and_has_busy_threads_and_the_waves() {
    let lines = install_day();
    assert!(
        lines[0].received_at >= EVALUATION_START_MS,
        "a line before the install day"
    );
    assert!(lines.last().unwrap().received_at < EVALUATION_START_MS + DAY_MS);
    let summary = Summary::of(lines);
    let threads = summary
        .counts
        .get("legit/busy-thread")
        .copied()
        .unwrap_or(0);
    assert!(
        threads >= 40,
        "only {threads} busy-thread posts on the install day"
    );
    for label in WAVES {
        assert!(
            summary.counts.contains_key(label),
            "no {label} on the install day"
        );
    }
    // A day's worth of the rest: about a seventh of the evaluation week's.
    let week: usize = standard()
        .iter()
        .filter(|l| l.received_at >= EVALUATION_START_MS)
        .filter(|l| l.label.as_deref() == Some("legit/post"))
        .count();
    let day = summary.counts["legit/post"];
    assert!(
        day * 5 < week && day * 10 > week,
        "{day} posts on the install day, {week} in the evaluation week"
    );
    assert!(summary.counts["legit/newcomer"] > 0, "no newcomer");
}

#[test]
fn the_stream_replays_through_the_real_pipeline() {
    let config =
        std::fs::read_to_string(palisade_e2e::root().join("examples/evaluation/palisade.toml"))
            .expect("read the evaluation configuration");
    let p = palisade_e2e::palisade(&config, &palisade_e2e::root().join("examples/evaluation"));
    let policies = p.policies();
    let mut stopped: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let lines = Scenario::standard(2).scale(0.3).lines().unwrap();
    for line in &lines {
        let envelope = Envelope {
            direction: Direction::Inbound,
            received_at: line.received_at,
            recipient: line.recipient.clone(),
            record: true,
            // As a recorded line replays: the sender verified, with what
            // its server said about the actor.
            sender: palisade::senders::Sender::Trusted {
                actor: None,
                facts: line.actor_facts.clone().map(std::sync::Arc::new),
            },
            fetch_objects: false,
        };
        let d = policies.judge(&line.activity.to_string(), &envelope);
        assert!(
            d.error.is_none() && d.notes.is_empty(),
            "unreadable: {}",
            line.to_json()
        );
        assert!(!d.trace.is_empty(), "no module judged {}", line.to_json());
        assert!(
            d.trace.iter().all(|t| t.error.is_none()),
            "a module failed on {}",
            line.to_json()
        );
        let e = stopped
            .entry(line.label.as_deref().unwrap_or("-"))
            .or_default();
        e.1 += 1;
        if d.action != palisade::Action::Accept {
            e.0 += 1;
        }
    }
    // Ten mentions from fresh accounts: the bundled defaults stop that.
    let (n, of) = stopped["wave/feb2024"];
    assert!(
        n * 10 >= of * 9,
        "the defaults stopped {n} of {of} February-shaped posts"
    );
    let (legit_stopped, legit): (usize, usize) = stopped
        .iter()
        .filter(|(l, _)| l.starts_with("legit/"))
        .fold((0, 0), |(a, b), (_, (n, of))| (a + n, b + of));
    assert!(
        legit > 2_000 && legit_stopped < legit,
        "{legit_stopped} of {legit} legitimate lines stopped"
    );
}
