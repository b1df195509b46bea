//! A vendor's module, written with the SDK exactly as the bundled ones are:
//! posts carrying more hashtags than words get points, so that together with
//! other signals they reach quarantine.
//!
//! Build: `cargo build -p hashtag-stuffing --target wasm32-wasip2 --release`,
//! then drop `target/wasm32-wasip2/release/hashtag_stuffing.wasm` into a
//! policies folder (`palisade check --policies-dir DIR ...`).

use palisade_sdk::{Activity, Context, Description, Policy, Verdict, config};

#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashtagStuffing {
    /// Fewest hashtags before the module looks at all.
    min_hashtags: usize,
    /// Points for a post with more hashtags than other words.
    points: f64,
}

impl Default for HashtagStuffing {
    fn default() -> Self {
        HashtagStuffing {
            min_hashtags: 5,
            points: 4.0,
        }
    }
}

impl Policy for HashtagStuffing {
    fn describe() -> Description {
        Description::new(
            "hashtag-stuffing",
            "0.1.0",
            "Scores posts with more hashtags than words.",
        )
    }

    fn configure(json: &str) -> Result<Self, String> {
        config::parse(json)
    }

    fn judge(&self, activity: &Activity, _cx: &Context) -> Verdict {
        let tags = activity.hashtags.len();
        let words = activity
            .text
            .split_whitespace()
            .filter(|w| !w.starts_with('#'))
            .count();
        if tags >= self.min_hashtags && tags > words {
            Verdict::score(
                self.points,
                format!("{tags} hashtags and {words} other words"),
            )
            .label("hashtags")
        } else {
            Verdict::pass()
        }
    }
}

palisade_sdk::export_policy!(HashtagStuffing);

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_sdk::testing::TestHost;

    fn post(tags: &[&str], words: &str) -> String {
        let tag_json: Vec<String> = tags
            .iter()
            .map(|t| format!(r##"{{"type":"Hashtag","name":"#{t}"}}"##))
            .collect();
        let text: Vec<String> = tags.iter().map(|t| format!("#{t}")).collect();
        format!(
            r#"{{"type":"Create","actor":"https://a.example/u/1","object":{{"type":"Note",
                "content":"<p>{words} {}</p>","tag":[{}]}}}}"#,
            text.join(" "),
            tag_json.join(",")
        )
    }

    #[test]
    fn stuffed_posts_score() {
        let v = TestHost::new()
            .judge_json::<HashtagStuffing>("{}", &post(&["a", "b", "c", "d", "e", "f"], "buy now"))
            .unwrap();
        assert_eq!(v.points(), 4.0);
        assert_eq!(v.reason(), Some("6 hashtags and 2 other words"));
    }

    #[test]
    fn tagged_prose_passes() {
        let v = TestHost::new()
            .judge_json::<HashtagStuffing>(
                "{}",
                &post(
                    &["a", "b", "c", "d", "e"],
                    "a long enough sentence about the photo I took today",
                ),
            )
            .unwrap();
        assert!(v.is_pass());
    }
}
