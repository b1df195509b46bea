//! The example modules written in Python (`examples/python-module`,
//! `mention-density`) and JavaScript (`examples/js-module`,
//! `new-actor-media`), built from source by their `build.sh` and judging
//! in the real host, on hand-made posts and on the shared corpus.

use std::path::Path;

use palisade::pipeline::Envelope;
use palisade::runtime::Direction;
use palisade::{Action, Decision, Palisade};
use palisade_e2e::{
    corpus, example, fixture, js_module, judge, note, palisade, python_module, root,
};
use serde_json::json;

const HOUR_MS: u64 = 3_600_000;

/// A Palisade judging with exactly the modules in `policies` (TOML
/// `[[policy]]` tables). Compiled modules are cached under target/, so
/// that tests after the first skip compiling the interpreters.
fn start(policies: &str) -> Palisade {
    let cache = root().join("target/guest-cache");
    palisade(
        &format!("{policies}\n[cache]\ndir = \"{}\"\n", cache.display()),
        &root(),
    )
}

/// One `[[policy]]` table for the module at `path`, with `extra` lines
/// (settings, then `[policy.config]`).
fn policy(path: &Path, extra: &str) -> String {
    format!("[[policy]]\nsource = \"{}\"\n{extra}\n", path.display())
}

/// Start with the policies and insist they all loaded.
fn loaded(policies: &str) -> Palisade {
    let p = start(policies);
    let set = p.policies();
    assert!(set.failures().is_empty(), "{:?}", set.failures());
    p
}

/// The only load failure of a Palisade started with `policies`.
fn refusal(policies: &str) -> String {
    let p = start(policies);
    let set = p.policies();
    assert!(set.modules().is_empty(), "the module loaded anyway");
    assert_eq!(set.failures().len(), 1, "{:?}", set.failures());
    set.failures()[0].error.clone()
}

/// A Create{Note} by `actor` with `html` content, `Mention` tags for
/// `mentions` (user names on mastodon.example) and `attachments`.
fn post(actor: &str, html: &str, mentions: &[&str], attachments: serde_json::Value) -> String {
    let tags: Vec<_> = mentions
        .iter()
        .map(|m| {
            json!({
                "type": "Mention",
                "href": format!("https://mastodon.example/users/{m}"),
                "name": format!("@{m}@mastodon.example"),
            })
        })
        .collect();
    json!({
        "type": "Create",
        "id": format!("{actor}/activities/{}", html.len()),
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "type": "Note",
            "content": html,
            "tag": tags,
            "attachment": attachments,
        }
    })
    .to_string()
}

/// `html` led by a link for each of `mentions`, as Mastodon writes them.
fn with_handles(mentions: &[&str], text: &str) -> String {
    let handles: Vec<String> = mentions
        .iter()
        .map(|m| {
            format!(
                "<a href=\"https://mastodon.example/@{m}\" class=\"u-url mention\">@{m}@mastodon.example</a>"
            )
        })
        .collect();
    format!("<p>{} {text}</p>", handles.join(" "))
}

fn reply(body: &str, in_reply_to: &str) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(body).unwrap();
    doc["object"]["inReplyTo"] = json!(in_reply_to);
    doc.to_string()
}

fn image(alt: Option<&str>) -> serde_json::Value {
    json!({
        "type": "Document",
        "mediaType": "image/png",
        "url": "https://new.example/media/1.png",
        "name": alt,
    })
}

/// The one trace entry of a decision by a single module.
fn only(d: &Decision) -> &palisade::decision::TraceEntry {
    assert_eq!(d.trace.len(), 1, "{d:?}");
    assert!(d.trace[0].error.is_none(), "{d:?}");
    &d.trace[0]
}

fn judge_at(p: &Palisade, body: &str, received_at: u64) -> Decision {
    let envelope = Envelope {
        received_at,
        ..Envelope::inbound_now()
    };
    p.policies().judge(body, &envelope)
}

fn corpus_doc(name: &str) -> String {
    corpus()
        .into_iter()
        .find(|(n, _)| n.contains(name))
        .unwrap_or_else(|| panic!("no corpus document named like {name}"))
        .1
}

const USERS: [&str; 10] = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"];

// ---- mention-density (Python) ----

#[test]
fn the_python_module_loads_with_only_the_log_capability_and_describes_itself() {
    let p = loaded(&policy(&python_module(), ""));
    let set = p.policies();
    let m = &set.modules()[0];
    assert_eq!(m.name(), "mention-density");
    assert_eq!(m.version(), "0.1.0");
    assert_eq!(m.capabilities(), ["log"]);
    let d = m.description();
    assert_eq!(d.capabilities, ["log"]);
    assert!(
        d.description.contains("words of their own per mention"),
        "{}",
        d.description
    );
    let schema: serde_json::Value =
        serde_json::from_str(d.config_schema.as_deref().expect("a config schema")).unwrap();
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["properties"]["min_mentions"]["default"], 3);
}

#[test]
fn mention_density_scores_the_wave_and_passes_a_reply() {
    let p = loaded(&policy(&python_module(), ""));

    // Ten handles, 29 words of text and a link, from a brand-new actor.
    let d = judge(&p, &example("wave.json"));
    let t = only(&d);
    assert_eq!(t.verdict, "score");
    assert_eq!(t.points, Some(4.0));
    assert_eq!(t.labels, ["mention-density", "new-actor"]);
    assert_eq!(
        t.reason.as_deref(),
        Some(
            "10 mentions and 29 words of its own (2.9 per mention, fewer than 4); \
             actor first seen less than 24h ago"
        )
    );
    // Points alone stay under the default quarantine threshold (5): the
    // module is one signal among several.
    assert_eq!((d.action, d.score), (Action::Accept, 4.0));

    // A Mastodon reply to two people: below the mention floor.
    assert_eq!(only(&judge(&p, &example("reply.json"))).verdict, "pass");
    // No mentions at all.
    let plain = note("https://calm.example/users/a", "just a note");
    assert_eq!(only(&judge(&p, &plain)).verdict, "pass");
}

#[test]
fn mention_density_weighs_words_per_mention_replies_and_unspaced_scripts() {
    let p = loaded(&policy(&python_module(), ""));
    let actor = "https://fresh.example/users/a";
    let verdict = |body: &str| only(&judge(&p, body)).verdict;

    // Four handles and two words: fan-out.
    let short = post(
        actor,
        &with_handles(&USERS[..4], "hi there"),
        &USERS[..4],
        json!([]),
    );
    assert_eq!(verdict(&short), "score");
    // The same four people, written to in a sentence: 18 words, 4.5 each.
    let prose =
        "thanks all of you for the careful review of my patch, I will send a second version soon";
    let long = post(
        actor,
        &with_handles(&USERS[..4], prose),
        &USERS[..4],
        json!([]),
    );
    assert_eq!(verdict(&long), "pass");
    // Deep in a thread, a short answer carries the thread's participants.
    let thread = "https://mastodon.example/users/u0/statuses/1";
    assert_eq!(verdict(&reply(&short, thread)), "pass");
    let seven = post(
        actor,
        &with_handles(&USERS[..7], "agreed"),
        &USERS[..7],
        json!([]),
    );
    assert_eq!(verdict(&reply(&seven, thread)), "score");
    // Japanese has no spaces: 32 characters count as 16 words, enough for
    // three mentions; were it one word, the post would be scored.
    let japanese = "今日は皆さんと一緒に新しいサーバーの設定を確認しました。ありがとう";
    let ja = post(
        actor,
        &with_handles(&USERS[..3], japanese),
        &USERS[..3],
        json!([]),
    );
    assert_eq!(verdict(&ja), "pass");
}

#[test]
fn mention_density_gives_established_actors_fewer_points_and_follows_its_config() {
    let p = loaded(&policy(&python_module(), ""));
    let actor = "https://fresh.example/users/b";
    let body = post(
        actor,
        &with_handles(&USERS[..5], "look"),
        &USERS[..5],
        json!([]),
    );
    let t0 = palisade::runtime::unix_ms();
    assert_eq!(only(&judge_at(&p, &body, t0)).points, Some(4.0));
    // A day and an hour later the actor is no longer new.
    let d = judge_at(&p, &body, t0 + 25 * HOUR_MS);
    let t = only(&d);
    assert_eq!(t.points, Some(2.0));
    assert_eq!(t.labels, ["mention-density"]);
    assert_eq!(
        t.reason.as_deref(),
        Some("5 mentions and 1 word of its own (0.2 per mention, fewer than 4)")
    );

    let strict = loaded(&policy(
        &python_module(),
        "[policy.config]\naction = \"quarantine\"\nmin_mentions = 5\n",
    ));
    let d = judge(&strict, &example("wave.json"));
    assert_eq!(d.action, Action::Quarantine);
    assert!(
        d.reasons[0].starts_with("mention-density: 10 mentions and 29 words of its own"),
        "{:?}",
        d.reasons
    );
    let four = post(
        actor,
        &with_handles(&USERS[..4], "look"),
        &USERS[..4],
        json!([]),
    );
    assert_eq!(judge(&strict, &four).action, Action::Accept);
}

#[test]
fn a_bad_python_module_config_is_refused_with_the_modules_message() {
    let error = refusal(&policy(
        &python_module(),
        "[policy.config]\nmin_mention = 2\n",
    ));
    assert_eq!(
        error,
        "refused its configuration: unknown key `min_mention` (known keys: action, \
         min_mentions, min_words_per_mention, new_actor_hours, new_actor_points, points, \
         reply_min_mentions)"
    );
    let error = refusal(&policy(
        &python_module(),
        "[policy.config]\nmin_mentions = 0\n",
    ));
    assert_eq!(
        error,
        "refused its configuration: invalid configuration at `min_mentions`: \
         expected an integer of at least 1, got 0"
    );
    let error = refusal(&policy(
        &python_module(),
        "[policy.config]\naction = \"drop\"\n",
    ));
    assert!(
        error.contains("at `action`: expected one of \"score\""),
        "{error}"
    );
}

// ---- new-actor-media (JavaScript) ----

#[test]
fn the_js_module_loads_with_only_the_log_capability_and_describes_itself() {
    let p = loaded(&policy(&js_module(), ""));
    let set = p.policies();
    let m = &set.modules()[0];
    assert_eq!(m.name(), "new-actor-media");
    assert_eq!(m.version(), "0.1.0");
    assert_eq!(m.capabilities(), ["log"]);
    let d = m.description();
    assert_eq!(d.capabilities, ["log"]);
    assert!(
        d.description
            .contains("media and mentions from actors first seen recently"),
        "{}",
        d.description
    );
    let schema: serde_json::Value =
        serde_json::from_str(d.config_schema.as_deref().expect("a config schema")).unwrap();
    assert_eq!(schema["properties"]["rewrite"]["default"], "mark-sensitive");
}

#[test]
fn new_actor_media_scores_images_pushed_at_people_and_asks_to_hide_them() {
    let p = loaded(&policy(&js_module(), ""));
    let actor = "https://fresh.example/users/c";
    let pushed = post(
        actor,
        &with_handles(&USERS[..2], "look"),
        &USERS[..2],
        json!([image(None)]),
    );
    let d = judge(&p, &pushed);
    let t = only(&d);
    assert_eq!(t.verdict, "score");
    assert_eq!(t.points, Some(5.0));
    assert_eq!(t.labels, ["new-actor-media", "no-alt-text"]);
    assert_eq!(
        t.reason.as_deref(),
        Some(
            "1 media attachment and 2 mentions from an actor first seen less than 24h ago; no alt text"
        )
    );
    // 5 points reach the default quarantine threshold; the media is to be
    // hidden if it is let through.
    assert_eq!((d.action, d.score), (Action::Quarantine, 5.0));
    assert_eq!(d.rewrites, ["mark-sensitive"]);

    // Described images: fewer points, not enough alone.
    let described = post(
        actor,
        &with_handles(&USERS[..2], "look"),
        &USERS[..2],
        json!([image(Some("a cat asleep on a keyboard"))]),
    );
    let d = judge(&p, &described);
    assert_eq!(only(&d).points, Some(3.0));
    assert_eq!(d.action, Action::Accept);

    // Media shown to followers, at nobody: no opinion.
    let shared = post(actor, "<p>my garden today</p>", &[], json!([image(None)]));
    assert_eq!(only(&judge(&p, &shared)).verdict, "pass");
    // Mentions without media: no opinion (the wave has no attachment).
    assert_eq!(only(&judge(&p, &example("wave.json"))).verdict, "pass");
    assert_eq!(only(&judge(&p, &example("reply.json"))).verdict, "pass");
    // A profile field or a link is not media.
    let field = json!([{"type": "PropertyValue", "name": "site", "value": "x"}]);
    let fields = post(actor, &with_handles(&USERS[..2], "hi"), &USERS[..2], field);
    assert_eq!(only(&judge(&p, &fields)).verdict, "pass");
}

#[test]
fn new_actor_media_leaves_established_and_outbound_actors_alone() {
    let p = loaded(&policy(&js_module(), ""));
    let actor = "https://fresh.example/users/d";
    let pushed = post(
        actor,
        &with_handles(&USERS[..1], "look"),
        &USERS[..1],
        json!([image(None)]),
    );
    let t0 = palisade::runtime::unix_ms();
    assert_eq!(only(&judge_at(&p, &pushed, t0)).verdict, "score");
    assert_eq!(
        only(&judge_at(&p, &pushed, t0 + 25 * HOUR_MS)).verdict,
        "pass"
    );

    let other = post(
        "https://home.example/users/me",
        &with_handles(&USERS[..1], "look"),
        &USERS[..1],
        json!([image(None)]),
    );
    let outbound = Envelope {
        direction: Direction::Outbound,
        ..Envelope::inbound_now()
    };
    assert_eq!(only(&p.policies().judge(&other, &outbound)).verdict, "pass");
}

#[test]
fn new_actor_media_on_a_real_mastodon_post_follows_its_config() {
    // A real Mastodon Create with one undescribed JPEG and no mentions.
    let body = corpus_doc("mastodon-create-with-attachment");
    let defaults = loaded(&policy(&js_module(), ""));
    assert_eq!(only(&judge(&defaults, &body)).verdict, "pass");

    let any = loaded(&policy(
        &js_module(),
        "[policy.config]\nmin_mentions = 0\nrewrite = \"strip-media\"\n",
    ));
    let d = judge(&any, &body);
    let t = only(&d);
    assert_eq!(t.points, Some(5.0));
    assert_eq!(
        t.reason.as_deref(),
        Some("1 media attachment from an actor first seen less than 24h ago; no alt text")
    );
    assert_eq!(d.rewrites, ["strip-media"]);

    let video_only = loaded(&policy(
        &js_module(),
        "[policy.config]\nmin_mentions = 0\nmedia_types = [\"video/\"]\n",
    ));
    assert_eq!(only(&judge(&video_only, &body)).verdict, "pass");
}

#[test]
fn a_bad_js_module_config_is_refused_with_the_modules_message() {
    let error = refusal(&policy(&js_module(), "[policy.config]\nmin_mention = 2\n"));
    assert_eq!(
        error,
        "refused its configuration: unknown key `min_mention` (known keys: media_types, \
         min_attachments, min_mentions, new_actor_hours, no_alt_points, points, rewrite)"
    );
    let error = refusal(&policy(
        &js_module(),
        "[policy.config]\nrewrite = \"delete\"\n",
    ));
    assert_eq!(
        error,
        "refused its configuration: invalid configuration at `rewrite`: expected one of \
         \"mark-sensitive\", \"strip-media\", \"none\", got \"delete\""
    );
    let error = refusal(&policy(&js_module(), "[policy.config]\nmedia_types = []\n"));
    assert!(error.contains("at `media_types`"), "{error}");
}

// ---- both, beside a Rust module, on real traffic ----

/// The interpreters' memory starts at 12.4 MiB (CPython) and 1.4 MiB
/// (QuickJS): both judge under caps far below the default 64 MiB, which
/// their READMEs quote.
#[test]
fn the_guests_judge_under_tight_memory_caps() {
    let p = loaded(&format!(
        "{}{}",
        policy(&python_module(), "memory_mib = 16"),
        policy(&js_module(), "memory_mib = 2"),
    ));
    let d = judge(&p, &example("wave.json"));
    assert_eq!(d.trace.len(), 2, "{d:?}");
    assert!(d.trace.iter().all(|t| t.error.is_none()), "{d:?}");
    assert_eq!(d.trace[0].verdict, "score");
    assert_eq!(d.trace[1].verdict, "pass");

    let error = refusal(&policy(&python_module(), "memory_mib = 8"));
    assert!(error.contains("memory"), "{error}");
}

/// Every corpus document through the Rust example, both guests on their
/// defaults, and the JavaScript one counting any media (no mentions
/// needed): no module fails, and each speaks only where its policy says.
#[test]
fn the_corpus_is_judged_by_rust_python_and_js_modules_without_an_error() {
    let p = loaded(&format!(
        "{}{}{}{}",
        policy(&fixture("hashtag-stuffing"), ""),
        policy(&python_module(), ""),
        policy(&js_module(), ""),
        policy(
            &js_module(),
            "name = \"any-media\"\n[policy.config]\nmin_mentions = 0\n"
        ),
    ));
    let docs = corpus();
    assert!(docs.len() >= 100, "the corpus has {} documents", docs.len());
    let mut opinions: Vec<(String, String)> = Vec::new();
    for (name, body) in &docs {
        let d = judge(&p, body);
        assert!(d.error.is_none(), "{name}: {:?}", d.error);
        assert_eq!(d.trace.len(), 4, "{name}: every module judged: {d:?}");
        for t in &d.trace {
            assert!(
                t.error.is_none(),
                "{name}: {} failed: {:?}",
                t.module,
                t.error
            );
            if t.verdict != "pass" {
                assert_eq!(t.verdict, "score", "{name}: {t:?}");
                let short = name
                    .split("__")
                    .nth(1)
                    .unwrap_or(name)
                    .trim_end_matches(".json");
                opinions.push((t.module.clone(), short.to_owned()));
            }
        }
    }
    opinions.sort();
    let expect = |module: &str, docs: &[&str]| -> Vec<(String, String)> {
        docs.iter()
            .map(|d| (module.to_owned(), (*d).to_owned()))
            .collect()
    };
    let mut expected = expect(
        "any-media",
        &[
            "crates_apub_apub_assets_lemmy_objects_page_image_and_link",
            "crates_apub_apub_assets_lotide_activities_create_page_image",
            "crates_apub_apub_assets_mobilizon_objects_event",
            "crates_apub_apub_assets_piefed_objects_page",
            "crates_apub_assets_hubzilla_objects_page",
            "test_fixtures_mastodon-create-with-attachment",
            "test_fixtures_mastodon-note-object",
            "test_fixtures_owncast-note-with-attachment",
            "test_fixtures_quoted_status",
        ],
    );
    // mention-density stays quiet on real posts. (Akkoma's MFM fixture,
    // three handles beside a five-word `content`, once looked dense; its
    // MFM `source`, which Misskey shows, is judged too now and has the
    // words around the handles.)
    expected.sort();
    assert_eq!(opinions, expected);
}
