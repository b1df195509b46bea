//! `keyword`: every wave has words it cannot do without: the server it
//! advertises, the offer it makes. This module applies the admin's rules to
//! a post's text and content warning, each rule with its own action.
//!
//! Rules see the text as [`palisade_sdk::text::normalize`] leaves it:
//! lower-case words separated by single spaces, without punctuation,
//! mentions or links (hashtags remain, as words). A rule has either
//! `keywords` or `regex`:
//!
//! - `keywords`: words or phrases, normalised the same way and matched on
//!   word boundaries: `free followers` matches "FREE followers!!" but not
//!   "carefree followers". Scripts written without spaces between words
//!   (Japanese, Chinese, Thai) form one long word: match them with `regex`;
//! - `regex`: a regular expression in the syntax of the Rust `regex` crate,
//!   matched case-insensitively anywhere in the text (anchor it with `\b`
//!   or `^`/`$`). Matching takes time linear in the text whatever the
//!   pattern: there are no backreferences or look-around, so no pattern can
//!   stall Palisade. `\w`, `\d`, `\s` and `\b` are Unicode-aware; `\p{..}`
//!   classes are not available. A pattern must compile to at most 1 MiB,
//!   all of them together to at most 8 MiB, and none may match empty text
//!   (it would match every post).
//!
//! Every rule that matches counts. The strictest action wins; scores add
//! up, and each matching rule's `label` joins the verdict's labels.
//!
//! Configuration (all optional; no rules, no opinion):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `kinds` | `["Create", "Update", "Announce"]` | activity types whose text is matched |
//! | `rules` | `[]` | the rules, in order; each a table with the keys below |
//! | `rules[].keywords` | none | words or phrases, matched on word boundaries |
//! | `rules[].regex` | none | a regular expression (give `keywords` or `regex`, not both) |
//! | `rules[].action` | `"score"` | `"reject"`, `"quarantine"` or `"score"` |
//! | `rules[].points` | 5.0 | points when `action` is `"score"` |
//! | `rules[].label` | none | a label for the verdict: lower-case letters, digits, `-`, `_`, `:` |
//!
//! Reports (`Flag`) are not in `kinds` by default: a report quoting the
//! spam it reports would otherwise be dropped with it.

use std::collections::HashMap;

use palisade_sdk::finding::{Action, MAX_REASON};
use palisade_sdk::text::clamp;
use palisade_sdk::{Activity, Context, Description, Policy, Verdict, config, text};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeywordConfig {
    kinds: Vec<String>,
    rules: Vec<RuleConfig>,
}

/// One rule as the admin wrote it.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    keywords: Option<Vec<String>>,
    regex: Option<String>,
    action: Action,
    points: f64,
    label: Option<String>,
}

impl Default for KeywordConfig {
    fn default() -> Self {
        KeywordConfig {
            kinds: ["Create", "Update", "Announce"].map(str::to_owned).to_vec(),
            rules: Vec::new(),
        }
    }
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            keywords: None,
            regex: None,
            action: Action::Score,
            points: 5.0,
            label: None,
        }
    }
}

const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "kinds": {"type": "array", "items": {"type": "string"}, "default": ["Create", "Update", "Announce"]},
    "rules": {
      "type": "array",
      "default": [],
      "items": {
        "type": "object",
        "additionalProperties": false,
        "oneOf": [{"required": ["keywords"]}, {"required": ["regex"]}],
        "properties": {
          "keywords": {"type": "array", "items": {"type": "string"}, "minItems": 1},
          "regex": {"type": "string", "minLength": 1},
          "action": {"enum": ["reject", "quarantine", "score"], "default": "score"},
          "points": {"type": "number", "default": 5.0},
          "label": {"type": "string", "pattern": "^[a-z0-9_:-]{1,64}$"}
        }
      }
    }
  }
}"#;

/// The most one pattern may compile to (`RegexBuilder::size_limit`).
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;
/// The most all patterns together may compile to.
pub const SET_SIZE_LIMIT: usize = 8 << 20;
/// The lazy DFA's cache, for all patterns together: a pattern whose DFA
/// would grow past it is still matched in linear time, only more slowly.
pub const DFA_SIZE_LIMIT: usize = 4 << 20;

/// Palisade refuses more than 16 labels as bad output.
const MAX_LABELS: usize = 16;
/// Palisade refuses reasons over 4 KiB; patterns and keywords are quoted
/// in reasons, so reasons are kept well below that.
const MAX_QUOTE: usize = 80;

/// The module, configured: rules checked and compiled.
pub struct Keyword {
    kinds: Vec<String>,
    rules: Vec<Rule>,
    /// Every keyword, by its first word.
    keywords: HashMap<String, Vec<Phrase>>,
    /// Every regex, in one set: one pass over the text for all of them.
    regexes: RegexSet,
    /// The rule of each pattern in `regexes`.
    regex_rules: Vec<usize>,
}

/// A rule, compiled.
struct Rule {
    action: Action,
    points: f64,
    label: Option<String>,
}

/// A normalised keyword, split into words, and its rule.
struct Phrase {
    rule: usize,
    words: Vec<String>,
}

/// One rule that matched.
struct Hit {
    rule: usize,
    what: String,
}

fn invalid(path: &str, message: impl std::fmt::Display) -> String {
    format!("invalid configuration at `{path}`: {message}")
}

/// `text` cut to at most `max` bytes on a character boundary, marked `…`.
fn cut(text: &str, max: usize) -> String {
    clamp(text.to_owned(), max)
}

fn regex_builder(pattern: &str) -> RegexBuilder {
    let mut b = RegexBuilder::new(pattern);
    b.case_insensitive(true)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT);
    b
}

fn check_label(label: &str, path: &str) -> Result<(), String> {
    let ok = !label.is_empty()
        && label.len() <= 64
        && label.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b':')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            path,
            format!(
                "`{label}` is not a label: use 1 to 64 lower-case letters, digits, `-`, `_` or `:`"
            ),
        ))
    }
}

impl Keyword {
    fn build(config: KeywordConfig) -> Result<Keyword, String> {
        let mut rules = Vec::with_capacity(config.rules.len());
        let mut keywords: HashMap<String, Vec<Phrase>> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut regex_rules: Vec<usize> = Vec::new();
        for (i, rule) in config.rules.into_iter().enumerate() {
            let path = format!("rules[{i}]");
            match (&rule.keywords, &rule.regex) {
                (None, None) => return Err(invalid(&path, "give `keywords` or `regex`")),
                (Some(_), Some(_)) => {
                    return Err(invalid(&path, "give `keywords` or `regex`, not both"));
                }
                (Some(words), None) => {
                    if words.is_empty() {
                        return Err(invalid(&format!("{path}.keywords"), "the list is empty"));
                    }
                    for (j, keyword) in words.iter().enumerate() {
                        let normalized = text::normalize(keyword);
                        if normalized.is_empty() {
                            return Err(invalid(
                                &format!("{path}.keywords[{j}]"),
                                format!("`{keyword}` has no letters or digits to match"),
                            ));
                        }
                        let words: Vec<String> = normalized.split(' ').map(str::to_owned).collect();
                        keywords
                            .entry(words[0].clone())
                            .or_default()
                            .push(Phrase { rule: i, words });
                    }
                }
                (None, Some(pattern)) => {
                    let at = format!("{path}.regex");
                    // Compiled alone first, so that an error names its rule.
                    let compiled: Regex = regex_builder(pattern)
                        .build()
                        .map_err(|e| invalid(&at, e))?;
                    if compiled.is_match("") {
                        return Err(invalid(
                            &at,
                            format!("`{pattern}` matches empty text, so it would match every post"),
                        ));
                    }
                    patterns.push(pattern.clone());
                    regex_rules.push(i);
                }
            }
            if let Some(label) = &rule.label {
                check_label(label, &format!("{path}.label"))?;
            }
            rules.push(Rule {
                action: rule.action,
                points: rule.points,
                label: rule.label,
            });
        }
        let regexes = RegexSetBuilder::new(&patterns)
            .case_insensitive(true)
            .size_limit(SET_SIZE_LIMIT)
            .dfa_size_limit(DFA_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                format!("invalid configuration at `rules`: the regexes together are too big: {e}")
            })?;
        Ok(Keyword {
            kinds: config.kinds,
            rules,
            keywords,
            regexes,
            regex_rules,
        })
    }

    /// The rules matching `normalized`, each once, with what matched.
    fn matches(&self, normalized: &str, hits: &mut Vec<Hit>) {
        if normalized.is_empty() {
            return;
        }
        let words: Vec<&str> = normalized.split(' ').collect();
        for (i, word) in words.iter().enumerate() {
            let Some(phrases) = self.keywords.get(*word) else {
                continue;
            };
            for phrase in phrases {
                let rest = &words[i..];
                if hits.iter().any(|h| h.rule == phrase.rule)
                    || rest.len() < phrase.words.len()
                    || phrase.words.iter().zip(rest).any(|(a, b)| a != b)
                {
                    continue;
                }
                hits.push(Hit {
                    rule: phrase.rule,
                    what: format!("keyword `{}`", cut(&phrase.words.join(" "), MAX_QUOTE)),
                });
            }
        }
        for pattern in self.regexes.matches(normalized).iter() {
            let rule = self.regex_rules[pattern];
            if !hits.iter().any(|h| h.rule == rule) {
                let source = &self.regexes.patterns()[pattern];
                hits.push(Hit {
                    rule,
                    what: format!("regex `{}`", cut(source, MAX_QUOTE)),
                });
            }
        }
    }

    fn verdict(&self, mut hits: Vec<Hit>) -> Verdict {
        let Some(strictest) = hits.iter().map(|h| self.rules[h.rule].action).max() else {
            return Verdict::pass();
        };
        hits.retain(|h| self.rules[h.rule].action == strictest);
        hits.sort_by_key(|h| h.rule);
        let reason = hits
            .iter()
            .map(|h| format!("rule {} matched {}", h.rule, h.what))
            .collect::<Vec<_>>()
            .join("; ");
        let reason = cut(&reason, MAX_REASON);
        match strictest {
            Action::Reject => Verdict::reject(reason),
            Action::Quarantine => Verdict::quarantine(reason),
            Action::Score => {
                let points = hits.iter().map(|h| self.rules[h.rule].points).sum();
                let mut labels: Vec<&str> = vec!["keyword"];
                for h in &hits {
                    if let Some(label) = self.rules[h.rule].label.as_deref()
                        && !labels.contains(&label)
                        && labels.len() < MAX_LABELS
                    {
                        labels.push(label);
                    }
                }
                labels
                    .into_iter()
                    .fold(Verdict::score(points, reason), Verdict::label)
            }
        }
    }
}

impl Policy for Keyword {
    fn describe() -> Description {
        Description::new(
            "keyword",
            env!("CARGO_PKG_VERSION"),
            "Acts on posts whose normalised text matches the admin's keyword \
             or regular-expression rules, each with its own action.",
        )
        .config_schema(SCHEMA)
    }

    fn configure(json: &str) -> Result<Self, String> {
        Keyword::build(config::parse(json)?)
    }

    fn judge(&self, activity: &Activity, _cx: &Context) -> Verdict {
        if self.rules.is_empty() || !self.kinds.contains(&activity.kind) {
            return Verdict::pass();
        }
        let mut hits = Vec::new();
        self.matches(&text::normalize(&activity.text), &mut hits);
        if let Some(summary) = &activity.summary {
            self.matches(&text::normalize(summary), &mut hits);
        }
        self.verdict(hits)
    }
}

palisade_sdk::export_policy!(Keyword);

#[cfg(test)]
mod tests;
