use super::*;
use palisade_sdk::testing::TestHost;

/// The corpus of real payloads vendored in tests/corpus, from this crate's folder.
const CORPUS_DIR: &str = "../../tests/corpus/public";

/// The text of the February 2024 wave, as its notes carried it.
const WAVE: &str = "<p><a href=\\\"https://home.example/@user0\\\" class=\\\"u-url mention\\\">\
    @user0@home.example</a><br><br><span>Mastodon is dead and the admins are lying to you. \
    Come to the only free place left, the real home of the fediverse, before they censor this \
    post too.</span><br><a href=\\\"https://join.spam.example/invite/1\\\">\
    https://join.spam.example/invite/1</a></p>";

/// Rules an admin might write against that wave.
const WAVE_RULES: &str = r#"{"rules": [
    {"keywords": ["Mastodon is dead", "the real home of the fediverse"], "action": "reject"},
    {"regex": "\\bcensor(ed|ship)? this post\\b", "label": "wave-2024"},
    {"keywords": ["free followers", "crypto giveaway"], "points": 3, "label": "offers"}
]}"#;

fn post(kind: &str, content: &str) -> String {
    format!(
        r#"{{"type":"{kind}","actor":"https://spam.example/users/bot",
           "object":{{"type":"Note","content":"{content}"}}}}"#
    )
}

fn judge(config: &str, content: &str) -> Verdict {
    TestHost::new()
        .judge_json::<Keyword>(config, &post("Create", content))
        .unwrap()
}

fn err(config: &str) -> String {
    TestHost::new().configure::<Keyword>(config).err().unwrap()
}

#[test]
fn the_wave_is_rejected_by_its_keywords() {
    let v = judge(WAVE_RULES, WAVE);
    assert!(v.is_reject());
    assert_eq!(
        v.reason(),
        Some("rule 0 matched keyword `mastodon is dead`")
    );
}

#[test]
fn keywords_match_whole_words_after_normalising() {
    let config = r#"{"rules": [{"keywords": ["Free-Followers!"]}]}"#;
    for text in [
        "Get FREE followers today",
        "free, followers",
        "<b>Free</b> <i>followers</i>!!!",
        "#free #followers",
        "free\\nfollowers",
        "free followers",
    ] {
        let v = judge(config, text);
        assert_eq!(v.points(), 5.0, "{text}");
        assert_eq!(v.reason(), Some("rule 0 matched keyword `free followers`"));
        assert_eq!(v.labels(), ["keyword"]);
    }
    for text in [
        "carefree followers",
        "free followership",
        "followers free",
        "free of followers",
        "free",
        "https://free.example/followers",
        "@free @followers",
        "",
    ] {
        assert!(judge(config, text).is_pass(), "{text}");
    }
}

#[test]
fn regexes_match_the_normalised_text_case_insensitively() {
    let config =
        r#"{"rules": [{"regex": "\\bDISC[O0]RD\\s+(server|nitro)\\b", "action": "quarantine"}]}"#;
    let v = judge(config, "Free DISC0RD Nitro!!! click now");
    assert!(v.is_quarantine());
    assert_eq!(
        v.reason(),
        Some(r"rule 0 matched regex `\bDISC[O0]RD\s+(server|nitro)\b`")
    );
    assert!(judge(config, "my discordant nitro").is_pass());
    // Unicode-aware classes and case folding.
    let config = r#"{"rules": [{"regex": "\\bÉTÉ\\s\\w+\\b"}]}"#;
    assert_eq!(judge(config, "Bel été indien").points(), 5.0);
}

#[test]
fn every_matching_rule_counts_once_and_scores_add_up() {
    let config = r#"{"rules": [
        {"keywords": ["crypto", "bitcoin"], "points": 2, "label": "crypto"},
        {"regex": "giveaway", "points": 1.5, "label": "offers"},
        {"keywords": ["nothing here"]},
        {"keywords": ["airdrop"], "points": 4, "label": "crypto"}
    ]}"#;
    let v = judge(config, "Crypto giveaway! bitcoin crypto airdrop");
    assert_eq!(v.points(), 7.5);
    assert_eq!(v.labels(), ["keyword", "crypto", "offers"]);
    assert_eq!(
        v.reason(),
        Some(
            "rule 0 matched keyword `crypto`; rule 1 matched regex `giveaway`; \
             rule 3 matched keyword `airdrop`"
        )
    );
}

#[test]
fn the_strictest_action_wins() {
    let config = r#"{"rules": [
        {"keywords": ["crypto"], "action": "score"},
        {"keywords": ["giveaway"], "action": "quarantine"},
        {"regex": "airdrop", "action": "reject"}
    ]}"#;
    assert!(judge(config, "crypto giveaway").is_quarantine());
    let v = judge(config, "crypto giveaway airdrop");
    assert!(v.is_reject());
    assert_eq!(v.reason(), Some("rule 2 matched regex `airdrop`"));
}

#[test]
fn the_content_warning_is_matched_too() {
    let json = r#"{"type":"Create","actor":"https://spam.example/users/bot",
        "object":{"type":"Note","summary":"Crypto giveaway","content":"open me"}}"#;
    let v = TestHost::new()
        .judge_json::<Keyword>(r#"{"rules": [{"keywords": ["crypto giveaway"]}]}"#, json)
        .unwrap();
    assert_eq!(v.points(), 5.0);
    // A phrase does not run from the text into the content warning.
    let json = r#"{"type":"Create","actor":"https://spam.example/users/bot",
        "object":{"type":"Note","summary":"win crypto","content":"giveaway"}}"#;
    let v = TestHost::new()
        .judge_json::<Keyword>(r#"{"rules": [{"keywords": ["crypto giveaway"]}]}"#, json)
        .unwrap();
    assert!(v.is_pass());
}

#[test]
fn only_configured_kinds_are_matched() {
    let host = TestHost::new();
    let rules = r#"{"rules": [{"keywords": ["crypto giveaway"], "action": "reject"}]}"#;
    let report = post("Flag", "This account posts crypto giveaway spam");
    assert!(
        host.judge_json::<Keyword>(rules, &report)
            .unwrap()
            .is_pass()
    );
    for kind in ["Create", "Update", "Announce"] {
        let v = host
            .judge_json::<Keyword>(rules, &post(kind, "crypto giveaway"))
            .unwrap();
        assert!(v.is_reject(), "{kind}");
    }
    let only_flags =
        r#"{"kinds": ["Flag"], "rules": [{"keywords": ["crypto giveaway"], "action": "reject"}]}"#;
    assert!(
        host.judge_json::<Keyword>(only_flags, &report)
            .unwrap()
            .is_reject()
    );
}

#[test]
fn no_rules_no_opinion() {
    assert!(judge("{}", WAVE).is_pass());
    assert!(Keyword::describe().capabilities.is_empty());
}

/// `(a+)+$` takes exponential time in a backtracking engine on a run of
/// `a` that cannot match; here it is linear. Normalising drops the `!`, so
/// the first text matches; in the second, `b` keeps it from matching.
#[test]
fn a_catastrophic_backtracking_pattern_completes() {
    let config = r#"{"rules": [{"regex": "(a+)+$", "action": "reject"}]}"#;
    let run = "a".repeat(100_000);
    let v = judge(config, &format!("{run}!"));
    assert!(v.is_reject());
    assert_eq!(v.reason(), Some("rule 0 matched regex `(a+)+$`"));
    assert!(judge(config, &format!("{run}!b")).is_pass());

    let config = r#"{"rules": [{"regex": "^(a|aa)+$"}, {"regex": "(x+x+)+y"}]}"#;
    assert!(judge(config, &format!("{run} c {}", "x".repeat(100_000))).is_pass());
}

#[test]
fn long_texts_and_many_rules_complete() {
    let rules: Vec<String> = (0..100)
        .map(|i| {
            format!(r#"{{"keywords": ["word{i} filler"]}}, {{"regex": "\\bw(o|0)rd{i}\\s+x\\b"}}"#)
        })
        .collect();
    let config = format!(r#"{{"rules": [{}]}}"#, rules.join(","));
    let text: String = (0..100_000).map(|i| format!("word{} ", i % 150)).collect();
    assert!(text.len() > 700_000);
    assert!(judge(&config, &text).is_pass());
    let v = judge(&config, &format!("{text} word99 filler w0rd42 x"));
    assert_eq!(v.points(), 10.0);
    assert_eq!(
        v.reason(),
        Some(
            r"rule 85 matched regex `\bw(o|0)rd42\s+x\b`; rule 198 matched keyword `word99 filler`"
        )
    );
}

#[test]
fn reasons_and_labels_stay_within_palisades_limits() {
    let rules: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"keywords": ["{}{i}"], "label": "l{i}"}}"#,
                "k".repeat(200)
            )
        })
        .collect();
    let config = format!(r#"{{"rules": [{}]}}"#, rules.join(","));
    let text: String = (0..40)
        .map(|i| format!("{}{i} ", "k".repeat(200)))
        .collect();
    let v = judge(&config, &text);
    assert_eq!(v.points(), 200.0);
    assert_eq!(v.labels().len(), MAX_LABELS);
    assert!(v.reason().unwrap().len() <= MAX_REASON);
    assert!(v.reason().unwrap().ends_with('…'));
}

#[test]
fn invalid_regexes_are_refused_naming_the_rule() {
    let e = err(r#"{"rules": [{"keywords": ["fine"]}, {"regex": "(unclosed"}]}"#);
    assert!(
        e.starts_with("invalid configuration at `rules[1].regex`: regex parse error:"),
        "{e}"
    );
    assert!(e.contains("unclosed group"), "{e}");
    // Backreferences and look-around need backtracking: not supported.
    let e = err(r#"{"rules": [{"regex": "(a)\\1"}]}"#);
    assert!(
        e.starts_with("invalid configuration at `rules[0].regex`"),
        "{e}"
    );
    assert!(e.contains("backreferences are not supported"), "{e}");
    let e = err(r#"{"rules": [{"regex": "spam(?=x)"}]}"#);
    assert!(e.contains("look-around"), "{e}");
    // Too big once compiled.
    let e = err(
        r#"{"rules": [{"keywords": ["a"]}, {"keywords": ["b"]}, {"regex": "(\\w{100}){100}"}]}"#,
    );
    assert!(
        e.starts_with(
            "invalid configuration at `rules[2].regex`: Compiled regex exceeds size limit"
        ),
        "{e}"
    );
    // Matching empty text: every post.
    for pattern in ["", "a*", "(spam)?", "^"] {
        let e = err(&format!(r#"{{"rules": [{{"regex": "{pattern}"}}]}}"#));
        assert_eq!(
            e,
            format!(
                "invalid configuration at `rules[0].regex`: `{pattern}` matches empty text, \
                 so it would match every post"
            )
        );
    }
}

#[test]
fn bad_rules_are_refused_naming_the_rule() {
    assert_eq!(
        err(r#"{"rules": [{"keywords": ["a"]}, {"action": "reject"}]}"#),
        "invalid configuration at `rules[1]`: give `keywords` or `regex`"
    );
    assert_eq!(
        err(r#"{"rules": [{"keywords": ["a"], "regex": "a"}]}"#),
        "invalid configuration at `rules[0]`: give `keywords` or `regex`, not both"
    );
    assert_eq!(
        err(r#"{"rules": [{"keywords": []}]}"#),
        "invalid configuration at `rules[0].keywords`: the list is empty"
    );
    assert_eq!(
        err(r#"{"rules": [{"keywords": ["ok", "!!!"]}]}"#),
        "invalid configuration at `rules[0].keywords[1]`: `!!!` has no letters or digits to match"
    );
    assert_eq!(
        err(r#"{"rules": [{"keywords": ["ok"], "label": "Not A Label"}]}"#),
        "invalid configuration at `rules[0].label`: `Not A Label` is not a label: use 1 to 64 \
         lower-case letters, digits, `-`, `_` or `:`"
    );
    let e = err(r#"{"rules": [{"keyword": ["typo"]}]}"#);
    assert!(
        e.starts_with("invalid configuration at `rules[0].keyword`"),
        "{e}"
    );
    assert!(e.contains("unknown field `keyword`"), "{e}");
    let e = err(r#"{"rules": [{"keywords": ["x"], "action": "ban"}]}"#);
    assert!(e.contains("unknown variant `ban`"), "{e}");
    let e = err(r#"{"rule": []}"#);
    assert!(e.contains("unknown field `rule`"), "{e}");
}

/// Every real payload with the defaults, and with the rules written against
/// the 2024 wave: nothing real is rejected or quarantined.
#[test]
fn real_payloads_pass() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS_DIR);
    let files = palisade_sdk::testing::documents(&dir);
    assert!(files.len() >= 100, "{} corpus files", files.len());
    let host = TestHost::new();
    let defaults = host.configure::<Keyword>("{}").unwrap();
    let wave_rules = host.configure::<Keyword>(WAVE_RULES).unwrap();
    for (path, json) in &files {
        let a = host
            .parse(json)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(host.judge(&defaults, &a).is_pass(), "{}", path.display());
        let v = host.judge(&wave_rules, &a);
        assert!(v.is_pass(), "{}: {:?}", path.display(), v.ruling);
    }
}
