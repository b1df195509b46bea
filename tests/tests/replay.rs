//! `palisade replay` through the real binary and the bundled modules:
//! simulated time, labels and their rates, the decisions file, unreadable
//! lines, the canary diff and shadow modules, and recording in `serve`
//! replayed back to the same actions.

use std::path::Path;
use std::process::Command;

use palisade_e2e::remote::scene::HOST;
use palisade_e2e::remote::{Remote, SignOptions, sign_post};
use palisade_e2e::{Serve, TempDir, binary, established, root};
use serde_json::{Value, json};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
/// 2024-02-01T00:00:00Z.
const T0: u64 = 1_706_745_600_000;
const MINUTE: u64 = 60_000;
const DAY: u64 = 86_400_000;

/// rate-limit alone: a sixth Create from one actor within an hour is
/// rejected.
const RATE: &str = r#"
[[policy]]
source = "builtin:rate-limit"
grants = ["log", "state"]
[policy.config.actor]
limit = 5
window_seconds = 3600
action = "reject"
[policy.config.new_actors]
enabled = false
"#;

/// mention-limit alone: more than 4 mentions from an actor first seen less
/// than a day ago is rejected.
const MENTIONS: &str = r#"
[[policy]]
source = "builtin:mention-limit"
[policy.config]
max_mentions = 10
new_actor_max_mentions = 4
new_actor_hours = 24
action = "reject"
"#;

/// A public Create{Note} by `actor`, its `n`th, with `mentions` mentions.
fn post(actor: &str, n: usize, mentions: usize) -> Value {
    let tags: Vec<Value> = (0..mentions)
        .map(|i| json!({"type": "Mention", "href": format!("https://people.example/users/u{i}")}))
        .collect();
    json!({
        "type": "Create",
        "id": format!("{actor}/statuses/{n}/activity"),
        "actor": actor,
        "to": [PUBLIC],
        "object": {
            "type": "Note",
            "id": format!("{actor}/statuses/{n}"),
            "content": format!("<p>note {n} from {actor}</p>"),
            "tag": tags,
        }
    })
}

fn envelope(at: u64, label: Option<&str>, activity: Value) -> Value {
    let mut e = json!({"received_at": at, "activity": activity});
    if let Some(label) = label {
        e["label"] = label.into();
    }
    e
}

fn write_lines(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// What one `palisade` run left: exit code, stdout, stderr.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn report(&self) -> Value {
        assert_eq!(self.code, 0, "{}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: not one JSON report:\n{}", self.stdout))
    }
}

fn palisade(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .output()
        .expect("run palisade");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `palisade replay --format json` of `lines` (written to `name`) with
/// the configuration text `config` and `extra` arguments.
fn replay(dir: &Path, config: &str, name: &str, lines: &[Value], extra: &[&str]) -> Run {
    // Tests of the replay itself judge as an established server.
    std::fs::write(dir.join("palisade.toml"), established(config)).unwrap();
    write_lines(&dir.join(name), lines);
    let mut args = vec![
        "replay",
        "--config",
        "palisade.toml",
        "--format",
        "json",
        name,
    ];
    args.extend_from_slice(extra);
    palisade(dir, &args)
}

fn decisions(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn actions(decisions: &[Value]) -> Vec<String> {
    decisions
        .iter()
        .map(|d| d["action"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn time_is_the_lines_not_the_wall_clock() {
    let dir = TempDir::new("replay-time");
    let actor = "https://loop.example/users/bot";
    // The same twelve posts, a day apart and then a minute apart: replayed
    // in well under a second either way.
    let spread = |step: u64| -> Vec<Value> {
        (0..12)
            .map(|i| envelope(T0 + i as u64 * step, None, post(actor, i, 0)))
            .collect()
    };
    let days = replay(&dir.0, RATE, "days.jsonl", &spread(DAY), &[]).report();
    assert_eq!(days["actions"]["accept"], 12, "{days}");
    assert_eq!(days["actions"]["reject"], 0);
    assert_eq!(days["times"]["received_at"], 12);
    assert_eq!(days["times"]["wall_clock"], 0);

    let minutes = replay(&dir.0, RATE, "minutes.jsonl", &spread(MINUTE), &[]).report();
    assert_eq!(
        minutes["actions"]["reject"], 7,
        "the sixth to twelfth within the hour: {minutes}"
    );
    assert_eq!(minutes["actions"]["accept"], 5);
    assert_eq!(minutes["modules"]["rate-limit"]["reject"], 7);
    assert_eq!(minutes["modules"]["rate-limit"]["hits"], 7);
    assert_eq!(minutes["modules"]["rate-limit"]["calls"], 12);
}

#[test]
fn bare_activities_take_their_published_time_and_out_of_order_lines_are_counted() {
    let dir = TempDir::new("replay-published");
    let actor = "https://loop.example/users/bot";
    let bare = |n: usize, published: String| {
        let mut p = post(actor, n, 0);
        p["published"] = published.into();
        p
    };
    // T0 is 2024-02-01T00:00:00Z.
    let mut lines: Vec<Value> = (0..12)
        .map(|i| bare(i, format!("2024-02-{:02}T00:00:00Z", i + 1)))
        .collect();
    // Published before every other line: judged at line 6's time.
    lines.insert(6, bare(100, "2024-01-31T23:00:00+00:00".into()));
    // No time at all: the line before's.
    lines.push(json!({"type": "Like", "actor": actor, "object": "https://a.example/n/1"}));
    let out = dir.0.join("decisions.jsonl");
    let report = replay(
        &dir.0,
        RATE,
        "bare.jsonl",
        &lines,
        &["--decisions", out.to_str().unwrap()],
    )
    .report();
    assert_eq!(report["out_of_order"], 1, "{report}");
    assert_eq!(report["times"]["published"], 13);
    assert_eq!(report["times"]["previous"], 1);
    assert_eq!(report["actions"]["reject"], 0, "a day apart: {report}");
    let d = decisions(&out);
    assert_eq!(d[6]["received_at"], d[5]["received_at"]);
    assert_eq!(d[5]["received_at"], T0 + 5 * DAY);
    assert_eq!(d[13]["received_at"], T0 + 11 * DAY);

    // The same bare posts a minute apart by `published` are a loop.
    let lines: Vec<Value> = (0..12)
        .map(|i| bare(i, format!("2024-02-01T00:{i:02}:00.000Z")))
        .collect();
    let report = replay(&dir.0, RATE, "loop.jsonl", &lines, &[]).report();
    assert_eq!(report["actions"]["reject"], 7, "{report}");
    assert_eq!(report["out_of_order"], 0);
}

/// Six wave posts with ten mentions from new actors, a smaller wave whose
/// first two posts get through, three legitimate posts, a busy thread of
/// six mentions (its new actor is rejected) and one unlabelled post.
fn labelled_stream() -> Vec<Value> {
    let mut lines = Vec::new();
    let mut at = T0;
    let mut next = |label: Option<&str>, activity: Value| {
        at += MINUTE;
        envelope(at, label, activity)
    };
    for i in 0..6 {
        let actor = format!("https://spam{i}.example/users/x");
        lines.push(next(Some("wave/m10"), post(&actor, i, 10)));
    }
    for (i, mentions) in [2, 2, 5].into_iter().enumerate() {
        let actor = format!("https://few{i}.example/users/y");
        lines.push(next(Some("wave/few"), post(&actor, i, mentions)));
    }
    for i in 0..3 {
        let actor = format!("https://friends.example/users/f{i}");
        lines.push(next(Some("legit"), post(&actor, i, 1)));
    }
    lines.push(next(
        Some("legit/busy-thread"),
        post("https://friends.example/users/f9", 9, 6),
    ));
    lines.push(next(None, post("https://friends.example/users/f0", 20, 0)));
    lines
}

#[test]
fn labels_give_per_label_counts_and_rates_and_never_change_decisions() {
    let dir = TempDir::new("replay-labels");
    let labelled = labelled_stream();
    let with = dir.0.join("with.jsonl.out");
    let report = replay(
        &dir.0,
        MENTIONS,
        "labelled.jsonl",
        &labelled,
        &["--decisions", with.to_str().unwrap()],
    )
    .report();
    let label = |l: &str, field: &str| report["labels"][l][field].clone();
    assert_eq!(label("wave/m10", "class"), "wave");
    assert_eq!(label("wave/m10", "total"), 6);
    assert_eq!(label("wave/m10", "rejected"), 6);
    assert_eq!(label("wave/m10", "accepted_before_first_stop"), 0);
    assert_eq!(label("wave/few", "accepted"), 2);
    assert_eq!(label("wave/few", "rejected"), 1);
    assert_eq!(label("wave/few", "accepted_before_first_stop"), 2);
    assert_eq!(label("legit", "class"), "legit");
    assert_eq!(label("legit", "accepted"), 3);
    assert_eq!(label("legit/busy-thread", "class"), "legit");
    assert_eq!(label("legit/busy-thread", "rejected"), 1);
    assert_eq!(
        report["classes"]["wave"],
        json!({"total": 9, "accepted": 2, "rejected": 7, "quarantined": 0})
    );
    assert_eq!(
        report["classes"]["legit"],
        json!({"total": 4, "accepted": 3, "rejected": 1, "quarantined": 0})
    );
    assert_eq!(report["unlabelled"]["total"], 1);
    // By hand: 7 wave lines stopped of 8 stopped labelled ones, of 9 wave
    // lines; 1 of 4 legitimate lines rejected, none quarantined.
    assert_eq!(report["precision"], 7.0 / 8.0);
    assert_eq!(report["recall"], 7.0 / 9.0);
    assert_eq!(report["legit_rejected_rate"], 0.25);
    assert_eq!(report["legit_quarantined_rate"], 0.0);

    // The same activities without labels: the same decisions.
    let bare: Vec<Value> = labelled
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.as_object_mut().unwrap().remove("label");
            l
        })
        .collect();
    let without = dir.0.join("without.jsonl.out");
    let report = replay(
        &dir.0,
        MENTIONS,
        "unlabelled.jsonl",
        &bare,
        &["--decisions", without.to_str().unwrap()],
    )
    .report();
    assert_eq!(report["labels"], json!({}));
    assert_eq!(report["unlabelled"]["total"], 14);
    assert_eq!(report["precision"], Value::Null);
    // Judging times aside, the decisions are the same.
    let comparable = |path: &Path| -> Vec<Value> {
        decisions(path)
            .into_iter()
            .map(|mut d| {
                d.as_object_mut().unwrap().remove("label");
                for t in d["trace"].as_array_mut().unwrap() {
                    t.as_object_mut().unwrap().remove("micros");
                }
                d
            })
            .collect()
    };
    let (a, b) = (comparable(&with), comparable(&without));
    assert_eq!(a.len(), 14);
    assert_eq!(a, b);
}

#[test]
fn the_decisions_file_has_one_line_per_input_line_in_order() {
    let dir = TempDir::new("replay-decisions");
    let lines = labelled_stream();
    let mut text: String = lines.iter().take(4).map(|l| format!("{l}\n")).collect();
    text.push_str("\n   \n");
    text.extend(lines.iter().skip(4).map(|l| format!("{l}\r\n")));
    std::fs::write(dir.0.join("palisade.toml"), established(MENTIONS)).unwrap();
    std::fs::write(dir.0.join("in.jsonl"), text).unwrap();
    let run = palisade(
        &dir.0,
        &[
            "replay",
            "-c",
            "palisade.toml",
            "in.jsonl",
            "--decisions",
            "out.jsonl",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("14 lines: 14 judged"), "{}", run.stdout);
    let d = decisions(&dir.0.join("out.jsonl"));
    assert_eq!(d.len(), 14, "the two empty lines have no decision");
    let numbers: Vec<u64> = d.iter().map(|d| d["line"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=4).chain(7..=16).collect();
    assert_eq!(numbers, expected, "input line numbers");
    for (decision, line) in d.iter().zip(&lines) {
        assert_eq!(decision["id"], line["activity"]["id"]);
        assert_eq!(
            decision.get("label"),
            line.get("label"),
            "the label where there is one"
        );
    }
    assert_eq!(d[0]["action"], "reject");

    // Never the input itself: it would be emptied before it is read.
    let run = palisade(&dir.0, &["replay", "in.jsonl", "--decisions", "./in.jsonl"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("one of the files to replay"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.0.join("in.jsonl"))
            .unwrap()
            .lines()
            .count(),
        16
    );
}

#[test]
fn an_unreadable_line_is_reported_with_its_number_and_the_run_goes_on() {
    let dir = TempDir::new("replay-unreadable");
    std::fs::write(dir.0.join("palisade.toml"), established(MENTIONS)).unwrap();
    let good = |n| {
        envelope(
            T0 + n,
            Some("legit"),
            post("https://a.example/users/a", n as usize, 0),
        )
    };
    let text = format!(
        "{}\nnot json at all\n{}\n[1, 2]\n{}\n",
        good(1),
        good(2),
        good(3)
    );
    std::fs::write(dir.0.join("in.jsonl"), text).unwrap();
    let run = palisade(
        &dir.0,
        &[
            "replay",
            "-c",
            "palisade.toml",
            "--format",
            "json",
            "in.jsonl",
        ],
    );
    let report = run.report();
    assert_eq!(report["lines"], 5);
    assert_eq!(report["judged"], 3);
    assert_eq!(report["unreadable"], 2);
    assert_eq!(report["unreadable_lines"], json!([2, 4]));
    assert_eq!(report["actions"]["accept"], 3);
    let text = palisade(&dir.0, &["replay", "-c", "palisade.toml", "in.jsonl"]);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.contains("2 unreadable (line 2, 4)"),
        "{}",
        text.stdout
    );

    // A file that cannot be read: exit 1, its path and the OS's words.
    let missing = palisade(
        &dir.0,
        &["replay", "-c", "palisade.toml", "in.jsonl", "nowhere.jsonl"],
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("nowhere.jsonl") && missing.stderr.contains("No such file"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stdout.is_empty(),
        "nothing judged: {}",
        missing.stdout
    );
}

#[test]
fn a_module_that_did_not_load_fails_the_replay_unless_allowed() {
    let dir = TempDir::new("replay-missing");
    let config = format!("{MENTIONS}\n[[policy]]\nsource = \"nowhere.wasm\"\n");
    let lines = [envelope(T0, None, post("https://a.example/users/a", 1, 6))];
    let run = replay(&dir.0, &config, "in.jsonl", &lines, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("nowhere.wasm"), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("the report still prints");
    assert_eq!(report["actions"]["reject"], 1, "judged without it");
    let allowed = format!("[policies]\nallow_missing = true\n{config}");
    let run = replay(&dir.0, &allowed, "in.jsonl", &lines, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn compare_lists_the_changed_activities_under_the_deciding_module() {
    let dir = TempDir::new("replay-compare");
    // Here: mention-limit (more than 4 from a new actor) and a rate limit
    // of two posts; the other: mention-limit with a limit of 1, no rate
    // limit.
    let here = format!(
        "{MENTIONS}\n[[policy]]\nsource = \"builtin:rate-limit\"\ngrants = [\"log\", \"state\"]\n\
         [policy.config.actor]\nlimit = 2\naction = \"reject\"\n[policy.config.new_actors]\nenabled = false\n"
    );
    std::fs::write(
        dir.0.join("other.toml"),
        established(&MENTIONS.replace("new_actor_max_mentions = 4", "new_actor_max_mentions = 1")),
    )
    .unwrap();
    let looper = "https://loop.example/users/bot";
    let mut lines: Vec<Value> = (0..4)
        .map(|i| {
            envelope(
                T0 + i * MINUTE,
                Some("wave/loop"),
                post(looper, i as usize, 0),
            )
        })
        .collect();
    lines.push(envelope(
        T0 + 5 * MINUTE,
        Some("legit"),
        post("https://friends.example/users/f", 1, 2),
    ));
    let report = replay(
        &dir.0,
        &here,
        "in.jsonl",
        &lines,
        &["--compare", "other.toml"],
    )
    .report();
    assert_eq!(
        report["actions"]["reject"], 2,
        "the loop's 3rd and 4th: {report}"
    );
    let compare = &report["compare"];
    assert_eq!(compare["against"], "other.toml");
    assert_eq!(compare["changed"], 3, "{compare}");
    assert_eq!(compare["truncated"], 0);

    // Accepted there: listed under the module that rejected here.
    let rate = &compare["modules"]["rate-limit"];
    assert_eq!(rate["changed"], 2);
    let lines_changed: Vec<u64> = rate["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines_changed, [3, 4]);
    let first = &rate["changes"][0];
    assert_eq!(first["id"], format!("{looper}/statuses/2/activity"));
    assert_eq!(first["label"], "wave/loop");
    assert_eq!(first["before"]["action"], "reject");
    assert_eq!(first["before"]["module"], "rate-limit");
    assert!(
        first["before"]["reason"]
            .as_str()
            .unwrap()
            .contains("limit 2"),
        "{first}"
    );
    assert_eq!(first["after"]["action"], "accept");
    assert_eq!(first["after"]["module"], Value::Null);

    // Rejected there: listed under the module that rejected there.
    let mention = &compare["modules"]["mention-limit"];
    assert_eq!(mention["changed"], 1);
    let change = &mention["changes"][0];
    assert_eq!(change["line"], 5);
    assert_eq!(
        (&change["before"]["action"], &change["after"]["action"]),
        (&json!("accept"), &json!("reject"))
    );
    assert!(
        change["after"]["reason"]
            .as_str()
            .unwrap()
            .contains("limit of 1"),
        "{change}"
    );
    assert_eq!(
        compare["labels"]["wave/loop"],
        json!({"stopped_before": 2, "stopped_after": 0, "accepted_before": 2, "accepted_after": 4})
    );
    assert_eq!(compare["labels"]["legit"]["stopped_after"], 1);
    assert_eq!(compare["actions"]["reject"], 1);

    // The text report says the same, readably.
    let text = palisade(
        &dir.0,
        &[
            "replay",
            "-c",
            "palisade.toml",
            "in.jsonl",
            "--compare",
            "other.toml",
        ],
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("compared with other.toml:"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("rate-limit (2 changed):"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&format!(
            "line 3 {looper}/statuses/2/activity [wave/loop]: reject → accept"
        )),
        "{}",
        text.stdout
    );
}

#[test]
fn shadow_modules_list_what_enforcing_them_would_change() {
    let dir = TempDir::new("replay-shadow");
    // A configured shadow module (a stricter mention-limit under its own
    // name) and a drop-in one (hashtag-stuffing, 4 points × 3).
    let config = format!(
        "{MENTIONS}\n[[policy]]\nsource = \"builtin:mention-limit\"\nname = \"strict-mentions\"\n\
         mode = \"shadow\"\n[policy.config]\nnew_actor_max_mentions = 1\n"
    );
    let drop_ins = dir.0.join("policies.d");
    std::fs::create_dir(&drop_ins).unwrap();
    std::fs::copy(
        root().join("tests/contract/0.1.0/hashtag_stuffing.wasm"),
        drop_ins.join("hashtag_stuffing.wasm"),
    )
    .unwrap();
    std::fs::write(
        drop_ins.join("hashtag_stuffing.toml"),
        "mode = \"shadow\"\nweight = 3.0\n",
    )
    .unwrap();
    let mut stuffed = post("https://tags.example/users/t", 1, 0);
    stuffed["object"]["content"] = "<p>#a #b #c #d #e #f</p>".into();
    stuffed["object"]["tag"] = (0..6)
        .map(|i| json!({"type": "Hashtag", "name": format!("#{}", (b'a' + i) as char)}))
        .collect();
    let lines = [
        envelope(
            T0,
            Some("legit"),
            post("https://friends.example/users/f", 1, 2),
        ),
        envelope(T0 + MINUTE, Some("wave/tags"), stuffed),
        envelope(
            T0 + 2 * MINUTE,
            Some("legit"),
            post("https://friends.example/users/g", 1, 0),
        ),
    ];
    let report = replay(&dir.0, &config, "in.jsonl", &lines, &[]).report();
    assert_eq!(
        report["actions"]["accept"], 3,
        "shadow modules apply nothing: {report}"
    );
    let strict = &report["modules"]["strict-mentions"];
    assert_eq!(strict["mode"], "shadow");
    assert_eq!(
        (&strict["hits"], &strict["shadow_hits"]),
        (&json!(0), &json!(1))
    );
    assert_eq!(report["modules"]["hashtag-stuffing"]["shadow_hits"], 1);

    let shadow = &report["shadow"];
    let strict = &shadow["strict-mentions"];
    assert_eq!(strict["changed"], 1, "{shadow}");
    let change = &strict["modules"]["strict-mentions"]["changes"][0];
    assert_eq!(change["line"], 1);
    assert_eq!(change["after"]["action"], "reject");
    assert!(
        change["after"]["reason"]
            .as_str()
            .unwrap()
            .contains("limit of 1"),
        "{change}"
    );
    let tags = &shadow["hashtag-stuffing"];
    assert_eq!(tags["changed"], 1, "{shadow}");
    let change = &tags["modules"]["hashtag-stuffing"]["changes"][0];
    assert_eq!(change["line"], 2);
    assert_eq!(change["label"], "wave/tags");
    assert_eq!(change["after"]["action"], "reject");
    assert!(
        change["after"]["reason"]
            .as_str()
            .unwrap()
            .contains("6 hashtags"),
        "{change}"
    );
    assert_eq!(tags["recall"], 1.0, "enforced, it stops the wave");
}

/// An upstream on loopback that answers 202 to everything.
async fn upstream() -> String {
    let router = axum::Router::new().fallback(|| async { axum::http::StatusCode::ACCEPTED });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// Serve `config` (with `[record]` and the decision log in `dir`, and the
/// tables `more`) in front of a loopback upstream.
async fn serve(dir: &Path, record: &str, more: &str) -> Serve {
    let config = format!(
        "{MENTIONS}\n[[policy]]\nsource = \"builtin:rate-limit\"\ngrants = [\"log\", \"state\"]\n\
         [policy.config.actor]\nlimit = 2\naction = \"reject\"\n[policy.config.new_actors]\nenabled = false\n\
         [state]\nurl = \"memory\"\n[decision_log]\noutput = \"live.jsonl\"\n[record]\n{record}\n{more}\n"
    );
    let path = dir.join("palisade.toml");
    std::fs::write(&path, established(&config)).unwrap();
    let upstream = upstream().await;
    Serve::start(&path, &["--upstream", &upstream])
}

/// POST each body to alice's inbox, unsigned; the statuses.
async fn deliver(url: &str, bodies: &[String]) -> Vec<u16> {
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for body in bodies {
        let r = client
            .post(format!("{url}/users/alice/inbox"))
            .header("content-type", "application/activity+json")
            .body(body.clone())
            .send()
            .await
            .expect("POST to the sidecar");
        statuses.push(r.status().as_u16());
    }
    statuses
}

/// POST each body to alice's inbox signed as its sender's server would,
/// with the key of the keyId beside it (from `keys`; no keyId: unsigned);
/// the statuses.
async fn deliver_signed(
    url: &str,
    keys: &Path,
    deliveries: &[(String, Option<String>)],
) -> Vec<u16> {
    let inbox = format!("{url}/users/alice/inbox");
    let mut statuses = Vec::new();
    for (body, key_id) in deliveries {
        let opts = SignOptions {
            key_id: key_id.clone(),
            unsigned: key_id.is_none(),
            ..Default::default()
        };
        let answers = sign_post(keys, &inbox, HOST, body.as_bytes(), &opts).await;
        statuses.push(answers[0].status);
    }
    statuses
}

/// A counter's value in the sidecar's metrics.
async fn counter(url: &str, name: &str) -> u64 {
    let text = palisade_e2e::metrics(url).await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Wait (at most 20 s) until `done` says so.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..400 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}

fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// `decision.sender.status` of each decision.
fn statuses(decisions: &[Value]) -> Vec<String> {
    decisions
        .iter()
        .map(|d| d["sender"]["status"].as_str().unwrap_or("none").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_replays_to_the_live_actions() {
    let dir = TempDir::new("replay-record");
    // The senders' server, on loopback: it serves their keys, so the
    // sidecar verifies their signatures and counts their posts.
    let remote = Remote::start(json!({"actors": {"bot": {}, "b": {}, "c": {}}}), false).await;
    // A generous budget: on a busy machine the first key fetch must still
    // be waited for, or that post would be judged unverified.
    let serve = serve(
        &dir.0,
        "file = \"recorded.jsonl\"",
        "[senders]\nverify = true\n[fetch]\nallow_insecure = true\nbudget_ms = 20000\ntimeout_ms = 20000\n",
    )
    .await;
    let looper = remote.actor_id("bot");
    let signed = |body: String, name: &str| (body, Some(remote.key_id(name)));
    let deliveries = [
        signed(post(&looper, 0, 0).to_string(), "bot"),
        signed("this is not JSON".to_owned(), "bot"),
        // Unsigned (a forger's, say): judged, never counted. Were it
        // counted, live or in the replay, post 2 would be the bot's third,
        // over the limit of two, and rejected.
        (post(&looper, 1, 0).to_string(), None),
        signed(post(&looper, 2, 0).to_string(), "bot"),
        signed(post(&looper, 3, 0).to_string(), "bot"),
        // Pretty-printed, over several lines, as some servers send: six
        // mentions from a new actor.
        signed(
            serde_json::to_string_pretty(&post(&remote.actor_id("b"), 1, 6)).unwrap(),
            "b",
        ),
        signed(post(&remote.actor_id("c"), 1, 1).to_string(), "c"),
    ];
    let statuses_got = deliver_signed(&serve.url, &remote.keys(), &deliveries).await;
    assert_eq!(statuses_got, [202, 400, 202, 202, 202, 202, 202]);
    let recorded = dir.0.join("recorded.jsonl");
    until("six lines recorded", async || {
        counter(&serve.url, "palisade_record_lines_total").await == 6
    })
    .await;
    let live_log = dir.0.join("live.jsonl");
    until("seven decisions logged", async || {
        line_count(&live_log) == 7
    })
    .await;
    assert_eq!(
        counter(&serve.url, "palisade_record_dropped_total").await,
        0
    );
    assert_eq!(
        line_count(&recorded),
        6,
        "the body that is not JSON is not recorded"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&recorded).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }
    let lines: Vec<Value> = std::fs::read_to_string(&recorded)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["recipient"], "alice");
    assert_eq!(lines[0]["activity"], post(&looper, 0, 0));
    assert_eq!(lines[0]["sender"]["status"], "verified", "{}", lines[0]);
    assert_eq!(lines[0]["sender"]["owner"], looper.as_str());
    assert_eq!(lines[1]["sender"]["status"], "unverified", "{}", lines[1]);

    let live: Vec<Value> = decisions(&live_log)
        .into_iter()
        .filter(|d| d.get("error").is_none())
        .collect();
    // Live, the signed posts were verified and counted: the limit of two
    // stopped the fourth post, the third (the unsigned second) did not count.
    assert_eq!(
        statuses(&live),
        [
            "verified",
            "unverified",
            "verified",
            "verified",
            "verified",
            "verified"
        ]
    );
    assert_eq!(
        actions(&live),
        ["accept", "accept", "accept", "reject", "reject", "accept"],
        "{live:#?}"
    );
    let out = dir.0.join("replayed.jsonl");
    let run = palisade(
        &dir.0,
        &[
            "replay",
            "-c",
            "palisade.toml",
            "recorded.jsonl",
            "--decisions",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let replayed = decisions(&out);
    assert_eq!(
        actions(&replayed),
        actions(&live),
        "replayed as judged live: {replayed:#?}"
    );
    assert_eq!(
        statuses(&replayed),
        statuses(&live),
        "with the senders as verified live"
    );
    let reasons = |d: &[Value]| -> Vec<Value> { d.iter().map(|d| d["reasons"].clone()).collect() };
    assert_eq!(reasons(&replayed), reasons(&live), "for the same reasons");
    let times =
        |d: &[Value]| -> Vec<Value> { d.iter().map(|d| d["received_at"].clone()).collect() };
    assert_eq!(times(&replayed), times(&live), "at the times they arrived");
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_stops_at_max_bytes() {
    let dir = TempDir::new("replay-record-max");
    let bodies: Vec<String> = (0..8)
        .map(|i| post(&format!("https://h{i}.example/users/u"), i, 0).to_string())
        .collect();
    let (lines, dropped) = (
        "palisade_record_lines_total",
        "palisade_record_dropped_total",
    );
    // How long a line is, as the sidecar writes it (its envelope, the
    // sender, the body): one recorded without a bound. The bodies are all
    // as long, and so are their lines.
    let line = {
        let serve = serve(&dir.0, "file = \"measure.jsonl\"", "").await;
        deliver(&serve.url, &bodies[..1]).await;
        until("one line recorded", async || {
            counter(&serve.url, lines).await == 1
        })
        .await;
        std::fs::read(dir.0.join("measure.jsonl")).unwrap()
    };
    assert_eq!(line.last(), Some(&b'\n'), "one whole line");
    let line = line.len();
    assert!(
        line > bodies[0].len(),
        "{line} bytes for a body of {}",
        bodies[0].len()
    );
    // Room for three lines and half of a fourth.
    let max = 3 * line + line / 2;
    let serve = serve(
        &dir.0,
        &format!("file = \"recorded.jsonl\"\nmax_bytes = {max}"),
        "",
    )
    .await;
    deliver(&serve.url, &bodies).await;
    until("every POST recorded or dropped", async || {
        counter(&serve.url, lines).await + counter(&serve.url, dropped).await == 8
    })
    .await;
    let recorded = dir.0.join("recorded.jsonl");
    let size = std::fs::metadata(&recorded).unwrap().len();
    assert!(size <= max as u64, "{size} bytes, more than {max}");
    assert_eq!(counter(&serve.url, lines).await, 3);
    assert_eq!(counter(&serve.url, dropped).await, 5);
    // Three whole lines, the first three bodies, and nothing of a fourth.
    assert_eq!(size, 3 * line as u64, "nothing partial");
    let text = std::fs::read_to_string(&recorded).unwrap();
    let written: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a whole line"))
        .collect();
    let expected: Vec<Value> = bodies[..3]
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let activities: Vec<Value> = written.iter().map(|l| l["activity"].clone()).collect();
    assert_eq!(activities, expected);
    let log = serve.log();
    assert_eq!(
        log.matches("reached record.max_bytes").count(),
        1,
        "one warning:\n{log}"
    );
}
