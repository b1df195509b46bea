//! Near-duplicate text that survives the edits a wave makes to each copy.
//!
//! A wave's posts are one message with the parts that must differ changed:
//! other mentions, another invite code, a few random characters at the end
//! to dodge exact matching. [`keys`] gives a text a few *cluster keys* such
//! that two texts which are the same message after those edits very likely
//! share one, while unrelated texts almost never do. Counting distinct
//! actors per key with `state::distinct_add` then finds a wave with
//! exact-key state, on any backend.
//!
//! How: the text is cut into [`tokens`] (normalised words, each CJK
//! character a token of its own), without the parts a sender varies per
//! copy: mentions, links and random-looking tokens
//! ([`is_random_token`]). The tokens' overlapping pairs (shingles) get a
//! MinHash signature of [`BANDS`] × [`ROWS`] values; each band of [`ROWS`]
//! values hashes to one key. Two texts share a band with probability
//! `J^ROWS`, J being the Jaccard similarity of their shingle sets, so with
//! 5 bands of 3 rows:
//!
//! | Jaccard | chance of sharing a key |
//! |---|---|
//! | 0.92 (one extra token in 12) | 99.9 % |
//! | 0.8 (one word changed in 20) | 97 % |
//! | 0.5 | 49 % |
//! | 0.2 | 3.9 % |
//! | 0.05 | 0.06 % |
//!
//! Fewer rows would catch looser copies and let more unrelated texts
//! collide; more bands cost a state call each in a module counting them.
//!
//! Measured on the real payloads of Palisade's test corpus
//! (`tests/corpus/public`): of the 528 pairs of distinct texts with at
//! least [`MIN_TOKENS`] tokens (33 texts), none shares a key
//! (`similar::tests::corpus_texts_rarely_share_a_key`).
//!
//! Everything is deterministic (fixed xxh3 hashes and fixed permutation
//! seeds): keys are equal across processes, replicas and releases of this
//! version, so they can be stored in shared state.
//!
//! What it does not catch: a message rewritten word by word (fully varied
//! text) shares nothing with the next copy; count the links, media, origin
//! hosts or first contacts such a wave still has in common.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Bands of the signature: one cluster key each.
pub const BANDS: usize = 5;
/// MinHash values per band.
pub const ROWS: usize = 3;
/// Texts with fewer tokens than this get no keys: "thanks for the follow"
/// is said by many people and is no wave.
pub const MIN_TOKENS: usize = 5;
/// Tokens read from one text at most, so a huge post is hashed in time.
pub const MAX_TOKENS: usize = 2_000;

/// Letters `is_random_token` takes for vowels (`y` included: "gym", "fly").
const VOWELS: &[char] = &['a', 'e', 'i', 'o', 'u', 'y'];

/// Whether a word (lower-case, as [`tokens`] sees it after
/// [`normalize`](crate::text::normalize)) looks random rather than like a
/// word: a sender varies such tokens per copy (invite codes, counters,
/// random tails). It is random when any of these holds:
///
/// - it contains a digit (`x7k`, `2024`, `abc123`): codes and numbers;
/// - it is longer than 24 characters (pasted hashes, base64);
/// - it is made of ASCII letters only and has no vowel (`a e i o u y`):
///   `xqz`, `bcdf`;
/// - it is made of ASCII letters only and has 5 or more consonants in a
///   row: `qzxkt`, `asdfghj`.
///
/// A random tail that passes (`qfa` has a vowel) stays a token; it changes
/// one or two shingles of the text, which MinHash tolerates (see the
/// table in the module docs). Real words this drops (`nth`, `strengths`)
/// only cost a shingle or two of the same kind.
///
/// ```
/// use palisade_sdk::similar::is_random_token;
/// for random in ["x7k", "2024", "xqz", "qzxkt", "aaaaaaaaaaaaaaaaaaaaaaaaaa"] {
///     assert!(is_random_token(random), "{random}");
/// }
/// for word in ["join", "server", "gym", "crypto", "été", "qfa"] {
///     assert!(!is_random_token(word), "{word}");
/// }
/// ```
pub fn is_random_token(word: &str) -> bool {
    if word.chars().any(|c| c.is_numeric()) || word.chars().count() > 24 {
        return true;
    }
    if !word.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let lower = word.to_ascii_lowercase();
    if !lower.chars().any(|c| VOWELS.contains(&c)) {
        return true;
    }
    let mut run = 0;
    for c in lower.chars() {
        run = if VOWELS.contains(&c) { 0 } else { run + 1 };
        if run >= 5 {
            return true;
        }
    }
    false
}

/// A whitespace-separated word that is a link written without a scheme
/// (`discord.gg/abc`): a dot in what comes before a slash.
fn bare_link(word: &str) -> bool {
    word.split_once('/')
        .is_some_and(|(host, _)| host.contains('.') && !host.starts_with('.'))
}

/// Characters of scripts written without spaces between words: each is a
/// token of its own, so Chinese and Japanese text gets character shingles.
fn unspaced(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'     // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{AC00}'..='\u{D7AF}'   // Hangul syllables
        | '\u{FF66}'..='\u{FF9F}') // half-width Katakana
}

/// The tokens of `text` that say what the message is: normalised words
/// (see [`crate::text::normalize`]) without mentions (`@…`), links (`…://…`,
/// `www.…`, `host.tld/…`) and random-looking tokens ([`is_random_token`]);
/// each character of a CJK script is a token of its own. At most
/// [`MAX_TOKENS`].
///
/// Then the *edges*: when more than [`MIN_TOKENS`] tokens remain, the first
/// and the last token are dropped if each is 1 to 4 ASCII letters long.
/// That is where a sender puts a short random tail (`… before they censor
/// this post too qfa`) that [`is_random_token`] cannot tell from a word; a
/// real short word at an edge is dropped from every copy alike.
///
/// ```
/// use palisade_sdk::similar::tokens;
/// assert_eq!(
///     tokens("@alice@home.example Join us at discord.gg/x7Kq2 NOW!! qzxkt"),
///     ["join", "us", "at", "now"]
/// );
/// assert_eq!(
///     tokens("Come and join the best server ever qfa"),
///     ["and", "join", "the", "best", "server", "ever"]
/// );
/// assert_eq!(tokens("今日は2024年"), ["今", "日", "は", "年"]);
/// ```
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        if out.len() >= MAX_TOKENS {
            break;
        }
        if word.starts_with('@')
            || word.contains("://")
            || word.starts_with("www.")
            || bare_link(word)
        {
            continue;
        }
        for part in crate::text::normalize(word).split(' ') {
            push_part(part, &mut out);
        }
    }
    out.truncate(MAX_TOKENS);
    let short = |t: &String| t.len() <= 4 && t.bytes().all(|b| b.is_ascii_alphabetic());
    if out.len() > MIN_TOKENS && out.last().is_some_and(short) {
        out.pop();
    }
    if out.len() > MIN_TOKENS && out.first().is_some_and(short) {
        out.remove(0);
    }
    out
}

/// Push the tokens of one normalised word: runs of spaced script as words,
/// each unspaced character alone.
fn push_part(part: &str, out: &mut Vec<String>) {
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut Vec<String>| {
        if !run.is_empty() && !is_random_token(run) {
            out.push(std::mem::take(run));
        }
        run.clear();
    };
    for c in part.chars() {
        if unspaced(c) {
            flush(&mut run, out);
            out.push(c.to_string());
        } else {
            run.push(c);
        }
    }
    flush(&mut run, out);
}

/// Fixed seeds of the MinHash permutations: the same in every process.
const SEED: u64 = 0x5061_6c69_7361_6465; // "Palisade"

/// A bijection on u64 (splitmix64's finaliser): `mix(h ^ seed_i)` is one
/// random-looking permutation of shingle hashes per seed.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn shingle_hashes(tokens: &[String]) -> Vec<u64> {
    if tokens.len() == 1 {
        return vec![xxh3_64(tokens[0].as_bytes())];
    }
    let mut buf = Vec::new();
    tokens
        .windows(2)
        .map(|pair| {
            buf.clear();
            buf.extend_from_slice(pair[0].as_bytes());
            buf.push(0x1f);
            buf.extend_from_slice(pair[1].as_bytes());
            xxh3_64(&buf)
        })
        .collect()
}

/// The MinHash signature of `tokens`' shingles (pairs of consecutive
/// tokens), [`BANDS`] × [`ROWS`] values; `None` for no tokens.
pub fn signature(tokens: &[String]) -> Option<[u64; BANDS * ROWS]> {
    let hashes = shingle_hashes(tokens);
    if hashes.is_empty() {
        return None;
    }
    let mut sig = [u64::MAX; BANDS * ROWS];
    for h in hashes {
        for (i, slot) in sig.iter_mut().enumerate() {
            let seed = SEED.wrapping_add((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            *slot = (*slot).min(mix(h ^ seed));
        }
    }
    Some(sig)
}

/// The cluster keys of `text`: one per band, each `"{band}:{hash}"` in
/// hex, ready to be a state key. Empty when the text has fewer than
/// [`MIN_TOKENS`] tokens.
///
/// ```
/// use palisade_sdk::similar::keys;
/// let spam = "Mastodon is dead, come to the real free speech server where admins cannot silence you";
/// let a = keys(&format!("@u1@home.example {spam} https://discord.gg/Ab3dE qfz"));
/// let b = keys(&format!("@u7@home.example @u8@home.example {spam}!! discord.gg/Zz9Yx kqw"));
/// assert_eq!(a.len(), 5);
/// assert!(a.iter().any(|k| b.contains(k)));
/// let other = keys("What a lovely morning at the harbour with the kids and the dog");
/// assert!(!a.iter().any(|k| other.contains(k)));
/// assert!(keys("thanks for the follow").is_empty());
/// ```
pub fn keys(text: &str) -> Vec<String> {
    let tokens = tokens(text);
    if tokens.len() < MIN_TOKENS {
        return Vec::new();
    }
    let Some(sig) = signature(&tokens) else {
        return Vec::new();
    };
    sig.chunks(ROWS)
        .enumerate()
        .map(|(band, rows)| {
            let mut bytes = Vec::with_capacity(8 * ROWS);
            for v in rows {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            format!("{band}:{:016x}", xxh3_64_with_seed(&bytes, band as u64))
        })
        .collect()
}

/// The Jaccard similarity of two texts' shingle sets (1.0 for equal
/// token sequences, 0.0 when nothing is shared): what [`keys`]
/// estimates, exactly. For tests and for explaining a match.
pub fn similarity(a: &str, b: &str) -> f64 {
    use std::collections::HashSet;
    let a: HashSet<u64> = shingle_hashes(&tokens(a)).into_iter().collect();
    let b: HashSet<u64> = shingle_hashes(&tokens(b)).into_iter().collect();
    let union = a.union(&b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

#[cfg(test)]
#[path = "similar_tests.rs"]
mod tests;
