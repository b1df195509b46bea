//! What people write, drawn from what people wrote: the texts of the corpus
//! (`content`, `summary`, `_misskey_content`, `name` of notes, pages and
//! articles) as a chain of which word follows which, so that generated
//! posts have the corpus's vocabulary and word order without repeating its
//! sentences.

use serde_json::Value;

use super::Dice;
use palisade_sdk::parse::html::Html;

/// The corpus's words and which follow which.
pub struct Words {
    vocab: Vec<String>,
    /// For each word, the words that followed it in the corpus.
    next: Vec<Vec<u32>>,
    /// Whether a sentence ended after the word somewhere.
    ends: Vec<bool>,
    /// Words that began a text or a sentence.
    starts: Vec<u32>,
    /// Every occurrence, for drawing words by their frequency.
    flat: Vec<u32>,
}

/// Hashtags people use, for posts that carry one.
pub const HASHTAGS: &[&str] = &[
    "caturday",
    "photography",
    "fediverse",
    "linux",
    "opensource",
    "gardening",
    "music",
    "books",
    "art",
    "cooking",
    "birds",
    "cycling",
    "coffee",
    "foss",
    "rust",
    "python",
    "science",
    "climate",
    "retrocomputing",
    "knitting",
    "hiking",
    "wip",
    "introduction",
    "mastoart",
    "sunset",
    "dogsofmastodon",
    "selfhosting",
    "accessibility",
];

impl Words {
    pub fn from_corpus(docs: &[(String, String)]) -> Words {
        let mut texts = Vec::new();
        for (_, text) in docs {
            if let Ok(v) = serde_json::from_str::<Value>(text) {
                collect(&v, &mut texts);
            }
        }
        let mut words = Words {
            vocab: Vec::new(),
            next: Vec::new(),
            ends: Vec::new(),
            starts: Vec::new(),
            flat: Vec::new(),
        };
        let mut index: std::collections::BTreeMap<String, u32> = Default::default();
        for text in &texts {
            let mut prev: Option<u32> = None;
            for raw in text.split_whitespace() {
                let Some((word, ends)) = clean(raw) else {
                    prev = None;
                    continue;
                };
                let id = *index.entry(word.clone()).or_insert_with(|| {
                    words.vocab.push(word);
                    words.next.push(Vec::new());
                    words.ends.push(false);
                    (words.vocab.len() - 1) as u32
                });
                match prev {
                    Some(p) => words.next[p as usize].push(id),
                    None => words.starts.push(id),
                }
                words.flat.push(id);
                if ends {
                    words.ends[id as usize] = true;
                    prev = None;
                } else {
                    prev = Some(id);
                }
            }
        }
        assert!(
            words.flat.len() > 500,
            "the corpus holds too few words ({}) to write posts with",
            words.flat.len()
        );
        words
    }

    /// A word, drawn by its frequency in the corpus.
    pub fn word(&self, dice: &mut Dice) -> &str {
        &self.vocab[*dice.pick(&self.flat) as usize]
    }

    /// One sentence of `min..=max` words, capitalised and punctuated.
    pub fn sentence(&self, dice: &mut Dice, min: usize, max: usize) -> String {
        let mut out: Vec<&str> = Vec::new();
        let mut at = *dice.pick(&self.starts) as usize;
        let len = dice.range(min as u64, max as u64) as usize;
        loop {
            out.push(&self.vocab[at]);
            if out.len() >= len || (out.len() >= min && self.ends[at] && dice.chance(60)) {
                break;
            }
            // Mostly follow the corpus; now and then jump, as people do.
            at = match self.next[at].as_slice() {
                [] => *dice.pick(&self.flat) as usize,
                _ if dice.chance(15) => *dice.pick(&self.flat) as usize,
                next => *dice.pick(next) as usize,
            };
        }
        let mut s = out.join(" ");
        if let Some(first) = s.chars().next() {
            let upper: String = first.to_uppercase().collect();
            s.replace_range(..first.len_utf8(), &upper);
        }
        s.push(*dice.pick(&['.', '.', '.', '.', '!', '?']));
        s
    }

    /// A post's text: `sentences` sentences, sometimes in two paragraphs
    /// (separated by a blank line).
    pub fn text(&self, dice: &mut Dice, sentences: (u64, u64)) -> String {
        let n = dice.range(sentences.0, sentences.1);
        let mut out = String::new();
        for i in 0..n {
            if i > 0 {
                out.push_str(if i == 2 && dice.chance(40) {
                    "\n\n"
                } else {
                    " "
                });
            }
            out.push_str(&self.sentence(dice, 4, 18));
        }
        out
    }
}

/// The prose strings of a document, each as plain text.
fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            let prose = matches!(
                map.get("type").and_then(Value::as_str),
                Some("Note" | "Article" | "Page" | "Question" | "ChatMessage" | "Comment")
            );
            for (k, child) in map {
                if prose
                    && matches!(
                        k.as_str(),
                        "content" | "summary" | "_misskey_content" | "name"
                    )
                    && let Some(s) = child.as_str()
                {
                    out.push(Html::scan(s).text);
                } else {
                    collect(child, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect(item, out);
            }
        }
        _ => {}
    }
}

/// A corpus token as a word (lower-case, without surrounding punctuation),
/// and whether a sentence ended after it; `None` for mentions, hashtags,
/// links, numbers, code and markup.
fn clean(raw: &str) -> Option<(String, bool)> {
    if raw.starts_with('@')
        || raw.starts_with('#')
        || raw.starts_with('$')
        || raw.contains("://")
        || raw.starts_with("www.")
        || raw.contains(['=', '/', '<', '>', '_', '{', '}', '[', ']', '|', '\\'])
    {
        return None;
    }
    let ends = raw.ends_with(['.', '!', '?']);
    let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
    let chars = word.chars().count();
    if word.is_empty() || chars > 16 || word.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    if !word
        .chars()
        .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
    {
        return None;
    }
    let lower = word.to_lowercase();
    let ascii = lower.is_ascii();
    // Hexadecimal fragments of hashes and ids are not words.
    if ascii && chars >= 3 && lower.chars().all(|c| ('a'..='f').contains(&c)) && !is_word(&lower) {
        return None;
    }
    if ascii && !lower.contains(['a', 'e', 'i', 'o', 'u', 'y']) && lower != "i" {
        return None;
    }
    let word = if lower == "i" { "I".to_owned() } else { lower };
    Some((word, ends))
}

/// The few English words made only of the letters a to f.
fn is_word(w: &str) -> bool {
    matches!(
        w,
        "add"
            | "bad"
            | "bead"
            | "bed"
            | "bee"
            | "beef"
            | "cab"
            | "cafe"
            | "dab"
            | "dad"
            | "dead"
            | "deaf"
            | "deed"
            | "fab"
            | "face"
            | "faced"
            | "fade"
            | "faded"
            | "fed"
            | "fee"
            | "feed"
            | "accede"
            | "decade"
            | "ace"
            | "bade"
            | "cede"
            | "dace"
            | "ebb"
    )
}

/// One phrase from each list, joined by spaces: the way spam scripts vary
/// a message ("spintax"), written here rather than drawn from the corpus.
pub fn spin(dice: &mut Dice, parts: &[&[&str]]) -> String {
    let mut out = String::new();
    for part in parts {
        let phrase = *dice.pick(part);
        if phrase.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(phrase);
    }
    out
}
