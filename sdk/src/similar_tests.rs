use super::*;

/// The 2024 wave's text.
const WAVE: &str = "Mastodon is dead and the admins are lying to you. Come to the only free \
    place left, the real home of the fediverse, before they censor this post too.";

/// A deterministic stream of pseudo-random numbers (no process seed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn tail(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| ALPHABET[self.next() as usize % ALPHABET.len()] as char)
            .collect()
    }
}

/// One copy of the wave as an adapted wave sends it: its own mentions, its
/// own invite code, a random 3-character tail.
fn copy(i: usize, rng: &mut Lcg) -> String {
    format!(
        "@user{i}@mastodon.example @user{}@social.example @friend{}@mastodon.example {WAVE} \
         https://discord.gg/{} {}",
        i + 1,
        i * 7,
        rng.tail(8),
        rng.tail(3)
    )
}

#[test]
fn the_2024_text_with_random_tails_mentions_and_codes_shares_a_key() {
    let mut rng = Lcg(2024);
    let base = keys(WAVE);
    assert_eq!(base.len(), BANDS);
    let copies: Vec<Vec<String>> = (0..200).map(|i| keys(&copy(i, &mut rng))).collect();
    // Every copy shares a key with the clean text...
    let sharing = copies
        .iter()
        .filter(|k| k.iter().any(|key| base.contains(key)))
        .count();
    assert_eq!(sharing, 200, "copies sharing a key with the text");
    // ...and one key gathers most copies: the key a detector counts on.
    let best = base
        .iter()
        .map(|key| copies.iter().filter(|k| k.contains(key)).count())
        .max()
        .unwrap();
    assert!(best >= 195, "the best key gathers {best} of 200 copies");
}

#[test]
fn a_changed_word_usually_keeps_a_key() {
    let words = ["today", "now", "friends", "people", "everyone"];
    let base = keys(WAVE);
    let kept = words
        .iter()
        .filter(|w| {
            let edited = WAVE.replace("this post", &format!("this {w}"));
            keys(&edited).iter().any(|k| base.contains(k))
        })
        .count();
    assert!(kept >= 4, "{kept} of 5 edits kept a key");
}

#[test]
fn random_tokens_are_dropped_and_words_are_kept() {
    assert_eq!(
        tokens("Hi @bob https://x.example/a www.y.example t.me/joinchat code X7K9 xqz qzxkt!"),
        ["hi", "code"]
    );
    for random in ["a1", "2024", "k3f", "bcdf", "nth", "asdfghj"] {
        assert!(is_random_token(random), "{random}");
    }
    for word in ["a", "i", "the", "rhythm", "strength", "déjà", "über", "qfa"] {
        assert!(!is_random_token(word), "{word}");
    }
}

#[test]
fn cjk_text_gets_character_shingles() {
    let a = "新しいサーバーに今すぐ参加してください、自由な場所です";
    let b = "新しいサーバーに今すぐ参加してください、自由な場所です abc123 @x@y.example";
    assert!(tokens(a).len() > 20);
    assert_eq!(keys(a), keys(b));
    let c = "今日は公園で子供たちと一緒にお弁当を食べました";
    assert!(!keys(a).iter().any(|k| keys(c).contains(k)));
}

#[test]
fn keys_are_deterministic_and_short_texts_get_none() {
    assert_eq!(keys(WAVE), keys(WAVE));
    // A fixed value: a change of hash or seed changes stored keys, and
    // must be a deliberate, documented change.
    assert_eq!(keys(WAVE)[0], "0:2d3ad79f454a41c5");
    assert!(keys("thanks so much").is_empty());
    assert!(keys("@a@b.example https://x.example 12345 xqz").is_empty());
    assert_eq!(similarity(WAVE, WAVE), 1.0);
    assert_eq!(similarity("", WAVE), 0.0);
}

#[test]
fn huge_texts_are_cut() {
    let huge = "words ".repeat(100_000);
    assert_eq!(tokens(&huge).len(), MAX_TOKENS);
    assert_eq!(keys(&huge).len(), BANDS);
}

/// The false-collision rate over the real payloads of the corpus: the
/// figure in the module docs.
#[cfg(feature = "parse")]
#[test]
fn corpus_texts_rarely_share_a_key() {
    use std::collections::BTreeSet;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/public");
    let options = crate::parse::Options::new(&[]);
    let mut texts: BTreeSet<Vec<String>> = BTreeSet::new();
    for (_, json) in crate::testing::documents(&dir) {
        if let Ok(activity) = crate::parse::parse_activity(&json, &options) {
            let t = tokens(&activity.text);
            if t.len() >= MIN_TOKENS {
                texts.insert(t);
            }
        }
    }
    let texts: Vec<Vec<String>> = texts.into_iter().collect();
    let key_sets: Vec<Vec<String>> = texts.iter().map(|t| keys(&t.join(" "))).collect();
    let mut pairs = 0;
    let mut sharing = Vec::new();
    for i in 0..key_sets.len() {
        for j in i + 1..key_sets.len() {
            pairs += 1;
            if key_sets[i].iter().any(|k| key_sets[j].contains(k)) {
                sharing.push((texts[i].join(" "), texts[j].join(" ")));
            }
        }
    }
    println!(
        "{} distinct texts, {pairs} pairs, {} sharing a key: {sharing:#?}",
        texts.len(),
        sharing.len()
    );
    assert!(texts.len() >= 30, "only {} corpus texts", texts.len());
    assert!(
        sharing.len() * 100 <= pairs,
        "{} of {pairs} pairs share a key: {sharing:#?}",
        sharing.len()
    );
}
