//! `duplicate-burst`: the wave's signature was the same text posted by many
//! accounts within minutes, with only the mentions and links changed. This
//! module fingerprints each post's text (a 64-bit SimHash) and counts the
//! distinct actors that posted it, or text whose fingerprint is within 2 bits
//! of it, in a sliding window; once that count reaches a threshold it acts on
//! every further copy.
//!
//! The first copies get through: nothing distinguishes them yet. Texts are
//! compared after [`palisade_sdk::text::normalize`], so mentions, links,
//! case and punctuation do not make copies look different. One actor
//! repeating itself counts once; that is a job for a rate limit.
//!
//! Limits: copies edited beyond a couple of fingerprint bits (a changed word
//! in a short text, random filler) are not matched. The tolerance is kept
//! tight on purpose: wider bands let unrelated posts on a busy server add up
//! to a false burst (see `palisade_sdk::text::bands`).
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `kinds` | `["Create", "Update"]` | activity types whose text is counted |
//! | `min_chars` | 24 | texts shorter than this after normalising are ignored |
//! | `threshold` | 5 | distinct actors posting the same text that trigger the action (at least 2) |
//! | `window_seconds` | 3600 | how far back actors are counted (at least 1) |
//! | `action` | `"reject"` | `"reject"`, `"quarantine"` or `"score"` |
//! | `points` | 10.0 | points when `action` is `"score"` |

use palisade_sdk::{Activity, Context, Description, Policy, Verdict, config, state, text};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DuplicateBurst {
    kinds: Vec<String>,
    min_chars: usize,
    threshold: u64,
    window_seconds: u32,
    action: Action,
    points: f64,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Reject,
    Quarantine,
    Score,
}

impl Default for DuplicateBurst {
    fn default() -> Self {
        DuplicateBurst {
            kinds: vec!["Create".to_owned(), "Update".to_owned()],
            min_chars: 24,
            threshold: 5,
            window_seconds: 3600,
            action: Action::Reject,
            points: 10.0,
        }
    }
}

const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "kinds": {"type": "array", "items": {"type": "string"}, "default": ["Create", "Update"]},
    "min_chars": {"type": "integer", "minimum": 0, "default": 24},
    "threshold": {"type": "integer", "minimum": 2, "default": 5},
    "window_seconds": {"type": "integer", "minimum": 1, "maximum": 4294967295, "default": 3600},
    "action": {"enum": ["reject", "quarantine", "score"], "default": "reject"},
    "points": {"type": "number", "default": 10.0}
  }
}"#;

/// A window as an admin would say it: "60 min" rather than "3600 s".
fn window_text(seconds: u32) -> String {
    if seconds > 3600 && seconds.is_multiple_of(3600) {
        format!("{} h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

impl DuplicateBurst {
    /// Record `actor` as having posted `normalized`, and return the most
    /// distinct actors any of its fingerprint's bands has seen in the window.
    /// Every band is recorded, not just the first that hits: a later copy a
    /// few bits off may share only one of them.
    fn distinct_posters(&self, normalized: &str, actor: &str) -> u64 {
        text::bands(text::simhash(normalized))
            .iter()
            .enumerate()
            .map(|(i, band)| {
                state::distinct_add(&format!("b{i}:{band:06x}"), actor, self.window_seconds)
            })
            .max()
            .unwrap_or(0)
    }
}

impl Policy for DuplicateBurst {
    fn describe() -> Description {
        Description::new(
            "duplicate-burst",
            env!("CARGO_PKG_VERSION"),
            "Acts on posts whose text, ignoring mentions, links, case and \
             punctuation, many distinct actors posted within a short window.",
        )
        .capabilities(["state"])
        .config_schema(SCHEMA)
    }

    fn configure(json: &str) -> Result<Self, String> {
        let policy: DuplicateBurst = config::parse(json)?;
        if policy.threshold < 2 {
            return Err("invalid configuration: `threshold` must be at least 2: \
                 one actor posting is not a burst"
                .to_owned());
        }
        if policy.window_seconds == 0 {
            return Err("invalid configuration: `window_seconds` must be at least 1".to_owned());
        }
        Ok(policy)
    }

    fn judge(&self, activity: &Activity, _cx: &Context) -> Verdict {
        if !self.kinds.contains(&activity.kind) {
            return Verdict::pass();
        }
        let Some(actor) = activity.actor.as_deref() else {
            return Verdict::pass();
        };
        let normalized = text::normalize(&activity.text);
        if normalized.chars().count() < self.min_chars {
            return Verdict::pass();
        }
        let actors = self.distinct_posters(&normalized, actor);
        if actors < self.threshold {
            return Verdict::pass();
        }
        let reason = format!(
            "same text from {actors} distinct actors within {} (threshold {})",
            window_text(self.window_seconds),
            self.threshold
        );
        match self.action {
            Action::Reject => Verdict::reject(reason),
            Action::Quarantine => Verdict::quarantine(reason),
            Action::Score => Verdict::score(self.points, reason).label("duplicate-burst"),
        }
    }
}

palisade_sdk::export_policy!(DuplicateBurst);

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_sdk::testing::TestHost;
    use std::time::Duration;

    const SPAM: &str = "Join the real free speech server today, no moderation and no limits";

    fn post(kind: &str, actor: &str, content: &str) -> String {
        format!(
            r#"{{"type":"{kind}","actor":"{actor}",
               "object":{{"type":"Note","content":"{content}"}}}}"#
        )
    }

    fn actor(i: usize) -> String {
        format!("https://spam{i}.example/users/bot")
    }

    /// The same message as the wave sent it: each copy with its own mention,
    /// link, capitals and punctuation.
    fn variant(i: usize) -> String {
        let mention = format!(
            r#"<a href='https://home.example/users/u{i}' class='u-url mention'>@<span>u{i}</span></a>"#
        );
        let link = format!(
            r#"<a href='https://spam.example/join?ref={i}'>https://spam.example/join?ref={i}</a>"#
        );
        let text = match i % 3 {
            0 => SPAM.to_owned(),
            1 => SPAM.to_uppercase(),
            _ => format!("{}!!!", SPAM.replace(',', " -")),
        };
        format!("<p>{mention} {text} {link}</p>")
    }

    #[test]
    fn fifth_actor_posting_the_same_text_is_rejected() {
        let host = TestHost::new();
        let policy = host.configure::<DuplicateBurst>("{}").unwrap();
        for i in 0..4 {
            let a = host.parse(&post("Create", &actor(i), &variant(i))).unwrap();
            assert!(
                host.judge(&policy, &a).is_pass(),
                "copy {i} is not a burst yet"
            );
        }
        let fifth = host.parse(&post("Create", &actor(4), &variant(4))).unwrap();
        let v = host.judge(&policy, &fifth);
        assert!(v.is_reject());
        assert_eq!(
            v.reason(),
            Some("same text from 5 distinct actors within 60 min (threshold 5)")
        );
        let sixth = host.parse(&post("Update", &actor(5), &variant(5))).unwrap();
        assert_eq!(
            host.judge(&policy, &sixth).reason(),
            Some("same text from 6 distinct actors within 60 min (threshold 5)")
        );
    }

    #[test]
    fn one_actor_repeating_itself_passes() {
        let host = TestHost::new();
        let policy = host.configure::<DuplicateBurst>("{}").unwrap();
        for i in 0..10 {
            let a = host.parse(&post("Create", &actor(0), &variant(i))).unwrap();
            assert!(host.judge(&policy, &a).is_pass(), "copy {i}");
        }
    }

    #[test]
    fn counts_reset_once_the_window_has_passed() {
        let host = TestHost::new();
        let policy = host
            .configure::<DuplicateBurst>(r#"{"window_seconds": 600}"#)
            .unwrap();
        for i in 0..4 {
            let a = host.parse(&post("Create", &actor(i), &variant(i))).unwrap();
            assert!(host.judge(&policy, &a).is_pass());
        }
        host.advance(Duration::from_secs(600));
        for i in 4..8 {
            let a = host.parse(&post("Create", &actor(i), &variant(i))).unwrap();
            assert!(
                host.judge(&policy, &a).is_pass(),
                "copy {i} after the window"
            );
        }
        let a = host.parse(&post("Create", &actor(8), &variant(8))).unwrap();
        let v = host.judge(&policy, &a);
        assert_eq!(
            v.reason(),
            Some("same text from 5 distinct actors within 10 min (threshold 5)")
        );
    }

    #[test]
    fn short_texts_are_ignored() {
        let host = TestHost::new();
        let policy = host.configure::<DuplicateBurst>("{}").unwrap();
        for i in 0..20 {
            // "thanks for the follow" is 21 characters: below the default 24.
            let a = host
                .parse(&post("Create", &actor(i), "Thanks for the follow!"))
                .unwrap();
            assert!(host.judge(&policy, &a).is_pass());
        }
    }

    #[test]
    fn unrelated_texts_from_many_actors_pass() {
        let texts = [
            "What a lovely morning at the harbour with the kids and the dog",
            "Does anyone know a good recipe for sourdough without a starter?",
            "The council finally fixed the potholes on our street after two years",
            "Reading a fascinating book about the history of lighthouses tonight",
            "Our band plays its first gig this Saturday, wish us luck everyone",
            "Rust 2024 edition migration went smoother than I expected, nice",
            "Spotted a heron by the canal on my walk home from the station",
            "Anyone else think the new bus timetable makes no sense at all?",
        ];
        let host = TestHost::new();
        let policy = host
            .configure::<DuplicateBurst>(r#"{"threshold": 2}"#)
            .unwrap();
        for (i, text) in texts.iter().enumerate() {
            let a = host.parse(&post("Create", &actor(i), text)).unwrap();
            assert!(host.judge(&policy, &a).is_pass(), "{text}");
        }
    }

    #[test]
    fn only_configured_kinds_are_counted() {
        let host = TestHost::new();
        let policy = host
            .configure::<DuplicateBurst>(r#"{"threshold": 2}"#)
            .unwrap();
        for i in 0..5 {
            let a = host
                .parse(&post("Announce", &actor(i), &variant(i)))
                .unwrap();
            assert!(host.judge(&policy, &a).is_pass());
        }
        let policy = host
            .configure::<DuplicateBurst>(r#"{"kinds": ["Announce"], "threshold": 2}"#)
            .unwrap();
        let a = host
            .parse(&post("Announce", &actor(0), &variant(0)))
            .unwrap();
        assert!(host.judge(&policy, &a).is_pass());
        let a = host
            .parse(&post("Announce", &actor(1), &variant(1)))
            .unwrap();
        assert!(host.judge(&policy, &a).is_reject());
    }

    #[test]
    fn action_is_configurable() {
        let host = TestHost::new();
        let policy = host
            .configure::<DuplicateBurst>(r#"{"threshold": 2, "action": "score", "points": 4.0}"#)
            .unwrap();
        let a = host.parse(&post("Create", &actor(0), &variant(0))).unwrap();
        assert!(host.judge(&policy, &a).is_pass());
        let a = host.parse(&post("Create", &actor(1), &variant(1))).unwrap();
        let v = host.judge(&policy, &a);
        assert_eq!(v.points(), 4.0);
        assert_eq!(
            v.reason(),
            Some("same text from 2 distinct actors within 60 min (threshold 2)")
        );

        let host = TestHost::new();
        let policy = host
            .configure::<DuplicateBurst>(r#"{"threshold": 2, "action": "quarantine"}"#)
            .unwrap();
        let a = host.parse(&post("Create", &actor(0), &variant(0))).unwrap();
        host.judge(&policy, &a);
        let a = host.parse(&post("Create", &actor(1), &variant(1))).unwrap();
        assert!(host.judge(&policy, &a).is_quarantine());
    }

    #[test]
    fn windows_read_as_an_admin_would_write_them() {
        assert_eq!(window_text(3600), "60 min");
        assert_eq!(window_text(7200), "2 h");
        assert_eq!(window_text(90), "90 s");
        assert_eq!(window_text(30), "30 s");
    }

    #[test]
    fn bad_config_names_the_problem() {
        let host = TestHost::new();
        let err = host
            .configure::<DuplicateBurst>(r#"{"treshold": 3}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown field `treshold`"), "{err}");
        let err = host
            .configure::<DuplicateBurst>(r#"{"action": "ban"}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown variant `ban`"), "{err}");
        let err = host
            .configure::<DuplicateBurst>(r#"{"threshold": 1}"#)
            .err()
            .unwrap();
        assert!(err.contains("`threshold` must be at least 2"), "{err}");
        let err = host
            .configure::<DuplicateBurst>(r#"{"window_seconds": 0}"#)
            .err()
            .unwrap();
        assert!(err.contains("`window_seconds` must be at least 1"), "{err}");
    }
}
