//! Text helpers spam modules need: normalisation and near-duplicate
//! fingerprints.

use xxhash_rust::xxh3::xxh3_64;

/// Reduce text to what a human would call "the same message": mentions
/// (`@user`, `@user@host`), links and punctuation removed, letters
/// lower-cased, whitespace collapsed to single spaces.
///
/// ```
/// use palisade_sdk::text::normalize;
/// assert_eq!(
///     normalize("@alice@a.example  Hello, WORLD!! https://spam.example/x?y=1"),
///     "hello world"
/// );
/// ```
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if word.starts_with('@') || word.contains("://") || word.starts_with("www.") {
            continue;
        }
        let mut pushed_any = false;
        for c in word.chars() {
            if c.is_alphanumeric() {
                if !pushed_any && !out.is_empty() {
                    out.push(' ');
                }
                pushed_any = true;
                out.extend(c.to_lowercase());
            } else if pushed_any && !out.ends_with(' ') {
                // Punctuation inside a word separates its parts: "a.b" is "a b".
                out.push(' ');
            }
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    // Separators pushed mid-word may have doubled up; collapse them.
    if out.contains("  ") {
        out = out
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
    }
    out
}

/// Character n-gram length used by [`simhash`].
const SHINGLE: usize = 4;

/// A 64-bit SimHash of `text` over character 4-grams. Near-identical texts
/// get fingerprints a few bits apart; unrelated texts differ in about half
/// their bits. Normalise first for fingerprints that ignore mentions, links,
/// case and punctuation.
///
/// ```
/// use palisade_sdk::text::{hamming, normalize, simhash};
/// let a = simhash(&normalize("Join our new server for free crypto, limited offer today"));
/// let b = simhash(&normalize("join our NEW server for free crypto! limited offer today."));
/// let c = simhash(&normalize("What a lovely morning at the harbour with the kids"));
/// assert_eq!(hamming(a, b), 0);
/// assert!(hamming(a, c) > 10);
/// ```
pub fn simhash(text: &str) -> u64 {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return 0;
    }
    let mut weights = [0i32; 64];
    let mut buf = String::new();
    let mut add = |gram: &[char], weights: &mut [i32; 64]| {
        buf.clear();
        buf.extend(gram);
        let h = xxh3_64(buf.as_bytes());
        for (bit, w) in weights.iter_mut().enumerate() {
            if h >> bit & 1 == 1 {
                *w += 1;
            } else {
                *w -= 1;
            }
        }
    };
    if chars.len() <= SHINGLE {
        add(&chars, &mut weights);
    } else {
        for gram in chars.windows(SHINGLE) {
            add(gram, &mut weights);
        }
    }
    weights.iter().enumerate().fold(
        0u64,
        |acc, (bit, w)| if *w > 0 { acc | 1 << bit } else { acc },
    )
}

/// The number of bits two fingerprints differ in.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The three bands of a fingerprint (bits 0–20, 21–41, 42–63). Two
/// fingerprints within 2 bits of each other share at least one band
/// exactly, so counting per band finds near-duplicates with exact-key state.
///
/// Bands of 21 bits keep chance collisions between unrelated texts rare:
/// at 50,000 posts an hour about 0.02 unrelated posts share any one band
/// value, where 16-bit bands would put 0.8 there and let unrelated posts
/// add up to a false "burst".
pub fn bands(fingerprint: u64) -> [u32; 3] {
    [(0, 21), (21, 21), (42, 22)]
        .map(|(shift, width)| ((fingerprint >> shift) & ((1u64 << width) - 1)) as u32)
}

/// The lower-cased host of a URI (`https://Host.Example:8443/x` gives
/// `host.example`), without any dependency: modules get hosts of URIs the
/// host did not pre-compute (object ids, links) with it. User-info is
/// skipped, so `https://good.example@spam.example/` is `spam.example`.
///
/// ```
/// use palisade_sdk::text::host_of;
/// assert_eq!(host_of("https://Spam.Example:8443/u/x?y#z").as_deref(), Some("spam.example"));
/// assert_eq!(host_of("https://good.example@spam.example/").as_deref(), Some("spam.example"));
/// assert_eq!(host_of("http://[::1]:8080/inbox").as_deref(), Some("[::1]"));
/// assert_eq!(host_of("not a uri"), None);
/// ```
pub fn host_of(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then(|| host.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_drops_mentions_links_and_punctuation() {
        assert_eq!(normalize("  @a @b@c.example  Hi!!!  "), "hi");
        assert_eq!(normalize("Ünïcode ÉTÉ, déjà-vu"), "ünïcode été déjà vu");
        assert_eq!(
            normalize("see https://x.example/a and www.y.example"),
            "see and"
        );
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("!!! ..."), "");
    }

    #[test]
    fn near_duplicates_share_a_band() {
        let a = simhash(&normalize(
            "Mastodon is dead, come to the real free speech server at our place right now",
        ));
        let b = simhash(&normalize(
            "Mastodon is dead, come to the real free speech server at our place right now!!1",
        ));
        assert!(hamming(a, b) <= 2, "distance {}", hamming(a, b));
        let shared = bands(a).iter().zip(bands(b)).any(|(x, y)| *x == y);
        assert!(shared);
    }

    #[test]
    fn bands_cover_every_bit_once() {
        assert_eq!(
            bands(u64::MAX),
            [(1 << 21) - 1, (1 << 21) - 1, (1 << 22) - 1]
        );
        assert_eq!(bands(1 << 21), [0, 1, 0]);
        assert_eq!(bands(1 << 63), [0, 0, 1 << 21]);
    }

    #[test]
    fn unrelated_texts_differ() {
        let a = simhash("the quick brown fox jumps over the lazy dog");
        let b = simhash("lorem ipsum dolor sit amet consectetur adipiscing");
        assert!(hamming(a, b) > 12, "distance {}", hamming(a, b));
        assert_eq!(simhash(""), 0);
        assert_ne!(simhash("ab"), 0);
    }

    #[test]
    fn hosts_are_read_from_uris_() {
        assert_eq!(
            host_of("https://Spam.Example/u/x").as_deref(),
            Some("spam.example")
        );
        assert_eq!(
            host_of("https://spam.example:8443/u").as_deref(),
            Some("spam.example")
        );
        assert_eq!(
            host_of("https://spam.example?x=1").as_deref(),
            Some("spam.example")
        );
        assert_eq!(
            host_of("https://spam.example").as_deref(),
            Some("spam.example")
        );
        assert_eq!(
            host_of("https://fine.example@spam.example/n/1").as_deref(),
            Some("spam.example")
        );
        assert_eq!(host_of("urn:uuid:1234"), None);
        assert_eq!(host_of("https:///path"), None);
    }
}

/// `text` cut to at most `max_bytes` bytes, on a character boundary, with
/// `…` where it was cut.
pub fn clamp(mut text: String, max_bytes: usize) -> String {
    if text.len() > max_bytes {
        let mut end = max_bytes.saturating_sub('…'.len_utf8());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod clamp_tests {
    #[test]
    fn clamping_keeps_characters_whole() {
        assert_eq!(super::clamp("short".into(), 10), "short");
        assert_eq!(super::clamp("ééééé".into(), 6), "é…");
    }
}
