//! The moderators' console in a real browser: Debian's Chromium, headless,
//! driven by Playwright (`tests/console/console.mjs`), against a sidecar
//! holding a wave of really signed activities in front of an upstream that
//! verifies signatures. The browser logs in, reads a held activity and its
//! reasons, checks that a hostile activity's HTML stays text, releases one
//! activity and drops the rest in bulk; this test then checks what reached
//! the upstream and what the quarantine says. Screenshots of each step are
//! kept in `target/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use palisade::quarantine::Filter;
use palisade_e2e::remote::{SignOptions, Upstream, example_keys, sign_post};
use palisade_e2e::{npm_ci, root};
use serde_json::{Value, json};

const TOKEN: &str = "console-test-token";
/// The whole browser run, at most (it takes seconds; this bounds a hang).
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// Debian's Chromium, which `make test` installs.
fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(
        path.is_file(),
        "the console test needs Debian's chromium (`make test` installs it: apt-get install chromium)"
    );
    path
}

/// A wave activity from `examples/activities/wave.jsonl`.
fn wave(n: usize) -> Value {
    let text = std::fs::read_to_string(root().join("examples/activities/wave.jsonl")).unwrap();
    serde_json::from_str(text.lines().nth(n).unwrap()).unwrap()
}

/// Wave activity `n` rewritten to carry HTML meant to run in a moderator's
/// browser: a script, an image with an onerror handler, markup in the
/// content warning and the alt text.
fn hostile(n: usize) -> Value {
    let mut a = wave(n);
    let object = a["object"].as_object_mut().unwrap();
    object.insert(
        "content".into(),
        json!("<p>Totally harmless <script>window.pwned = 1</script><img src=\"x\" onerror=\"window.pwned = 2\"> \
               <a href=\"https://evil.example/click\">click</a> \
               <a href=\"https://mastodon.example/@user0\" class=\"u-url mention\">@user0@mastodon.example</a></p>"),
    );
    object.insert("summary".into(), json!("<b>CW</b> <i>look</i>"));
    object.insert(
        "attachment".into(),
        json!([{"type": "Document", "mediaType": "image/png",
                "url": "https://spam.example/media/x.png", "name": "<img src=x onerror=alert(1)>"}]),
    );
    object.remove("_misskey_content");
    object.remove("source");
    a
}

async fn post(inbox: &str, body: &[u8]) -> u16 {
    sign_post(
        example_keys(),
        inbox,
        "mastodon.example",
        body,
        &SignOptions::default(),
    )
    .await[0]
        .status
}

fn sha256(bytes: &[u8]) -> String {
    palisade::runtime::sha256_hex(bytes)
}

async fn run_browser(dir: &Path, env: &[(&str, String)]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("console.mjs").current_dir(dir).kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(BROWSER_TIMEOUT, cmd.output())
        .await
        .expect("the browser run finishes")
        .expect("run node console.mjs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_reviews_releases_and_drops_a_wave_in_a_browser() {
    let chromium = chromium();
    let harness = root().join("tests/console");
    npm_ci(&harness);

    let up = Upstream::start(example_keys()).await;
    let (sidecar, temp) = palisade_e2e::holding_sidecar(Some(&up.url), TOKEN).await;
    let inbox = format!("{}/inbox", sidecar.url);

    let released_body = serde_json::to_vec(&wave(0)).unwrap();
    assert_eq!(post(&inbox, &released_body).await, 202);
    for n in 1..4 {
        assert_eq!(
            post(&inbox, &serde_json::to_vec(&wave(n)).unwrap()).await,
            202
        );
    }
    let hostile = hostile(4);
    assert_eq!(
        post(&inbox, &serde_json::to_vec(&hostile).unwrap()).await,
        202
    );
    let q = &sidecar.app.quarantine;
    assert_eq!(q.held().unwrap(), 5, "the wave is held");
    let id_of = |activity: &Value| {
        let entries = q.list(&Filter::default(), 10, 0).unwrap();
        entries
            .iter()
            .find(|e| e.activity_id.as_deref() == activity["id"].as_str())
            .map(|e| e.id)
            .unwrap_or_else(|| panic!("{} is held", activity["id"]))
    };
    let (release_id, hostile_id) = (id_of(&wave(0)), id_of(&hostile));

    // A replay of the wave with a canary configuration, for the replay page.
    let canary = temp.0.join("canary.toml");
    std::fs::write(&canary, "[thresholds]\nquarantine = 3.0\nreject = 10.0\n").unwrap();
    let report_file = temp.0.join("report.json");
    let replay = std::process::Command::new(palisade_e2e::binary())
        .args(["replay", "--format", "json", "--compare"])
        .arg(&canary)
        .arg(root().join("examples/activities/wave.jsonl"))
        .output()
        .unwrap();
    assert!(replay.status.success(), "{replay:?}");
    std::fs::write(&report_file, &replay.stdout).unwrap();

    // Fresh each run: a screenshot left by an earlier run proves nothing.
    let shots = root().join("target/console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let out = run_browser(
        &harness,
        &[
            ("CONSOLE", format!("{}/console/", sidecar.admin)),
            ("TOKEN", TOKEN.to_owned()),
            ("RELEASE_ID", release_id.to_string()),
            ("HOSTILE_ID", hostile_id.to_string()),
            ("HELD", "5".to_owned()),
            ("SHOTS", shots.display().to_string()),
            ("REPORT", report_file.display().to_string()),
            ("JUDGE", format!("{}/v1/judge", sidecar.url)),
            (
                "JUDGE_BODY",
                root()
                    .join("examples/activities/reply.json")
                    .display()
                    .to_string(),
            ),
            ("CHROMIUM", chromium.display().to_string()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser run failed:\n{stderr}\n{stdout}"
    );
    let report: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["steps"].as_array().unwrap().len(), 15, "{report}");

    // What the browser did, as the upstream and the quarantine saw it.
    let got = up.received().await;
    assert_eq!(got.len(), 1, "only the released activity arrived: {got:?}");
    assert_eq!(
        got[0]["verified"], true,
        "its signature still verifies: {:?}",
        got[0]["error"]
    );
    assert_eq!(
        got[0]["bodySha256"],
        sha256(&released_body),
        "re-delivered unchanged"
    );
    assert_eq!(q.held().unwrap(), 0);
    for entry in q.list(&Filter::default(), 10, 0).unwrap() {
        let expected = if entry.id == release_id {
            "released"
        } else {
            "dropped"
        };
        assert_eq!(entry.status, expected, "entry {}", entry.id);
    }
    for shot in [
        "02-quarantine",
        "03-hostile-as-text",
        "05-bulk-count",
        "10-replay-report",
        "11-narrow",
    ] {
        let png = shots.join(format!("{shot}.png"));
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", png.display());
    }
}
