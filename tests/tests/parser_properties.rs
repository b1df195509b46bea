//! Properties of the activity parser on the real corpus, with seeded
//! mutations (deterministic: the same cases every run).
//!
//! What a spammer may add to a wave post that Mastodon or Misskey would
//! still read the same way (comments, a decoy duplicate key before the real
//! one, a NUL and junk after the document) must not change what Palisade
//! reads; and no mutation of any kind may make the parser panic or return
//! duplicates.

use std::collections::HashSet;

use palisade_sdk::parse::{Options, Parsed, parse_document};

/// xorshift64*: enough randomness for mutations, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn parse(body: &[u8]) -> Result<Parsed, palisade_sdk::parse::ParseError> {
    let local = vec!["mastodon.social".to_owned()];
    parse_document(body, &Options::new(&local))
}

/// Byte offsets just after a `,` or `{` outside strings: places where a
/// comment or a member may be inserted.
fn member_boundaries(doc: &str) -> Vec<usize> {
    let (mut out, mut in_string, mut escaped) = (Vec::new(), false, false);
    for (i, c) in doc.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ',' || c == '{' {
            out.push(i + 1);
        }
    }
    out
}

#[test]
fn what_servers_ignore_changes_nothing_palisade_reads() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut checked = 0;
    for (name, doc) in palisade_e2e::corpus() {
        let Ok(original) = parse(doc.as_bytes()) else {
            continue;
        };
        let top: serde_json::Value = serde_json::from_str(&doc).expect("corpus is JSON");
        let keys: Vec<String> = top
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let boundaries = member_boundaries(&doc);
        for round in 0..8 {
            let mut mutated = doc.clone();
            // Comments at a few member boundaries (back to front, so the
            // offsets stay valid).
            let mut at: Vec<usize> = (0..3)
                .map(|_| boundaries[rng.below(boundaries.len())])
                .collect();
            at.sort_unstable();
            at.dedup();
            for &i in at.iter().rev() {
                let comment = if rng.below(2) == 0 {
                    "/* {\"content\":\"decoy\"} */"
                } else {
                    "// [\"x\"\n"
                };
                mutated.insert_str(i, comment);
            }
            // A decoy duplicate of a top-level key, before the real one:
            // servers keep the last.
            if !keys.is_empty() {
                let key = &keys[rng.below(keys.len())];
                let open = mutated.find('{').expect("an object");
                let decoy = match rng.below(3) {
                    0 => "\"decoy\"".to_owned(),
                    1 => "{\"type\":\"Note\",\"content\":\"<p>decoy</p>\"}".to_owned(),
                    _ => "7".to_owned(),
                };
                mutated.insert_str(open + 1, &format!("{}:{decoy},", serde_json::json!(key)));
            }
            let mut body = mutated.into_bytes();
            if round % 2 == 1 {
                body.extend_from_slice(b"\0\xff junk after the document");
            }
            let read = parse(&body).unwrap_or_else(|e| {
                panic!(
                    "{name} round {round}: {e}\n{}",
                    String::from_utf8_lossy(&body)
                )
            });
            assert_eq!(
                read.activity,
                original.activity,
                "{name} round {round} reads differently:\n{}",
                String::from_utf8_lossy(&body)
            );
            checked += 1;
        }
    }
    assert!(checked >= 100 * 8, "only {checked} cases ran");
}

#[test]
fn no_mutation_panics_or_yields_duplicates() {
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    let corpus = palisade_e2e::corpus();
    let alphabet: &[u8] = b"{}[]\",:\\/*<>&;0123456789eE-+. \n\0\xff\xc3tfnulr";
    let mut parsed = 0;
    for (_, doc) in &corpus {
        for _ in 0..40 {
            let mut body = doc.clone().into_bytes();
            for _ in 0..1 + rng.below(6) {
                let i = rng.below(body.len());
                match rng.below(3) {
                    0 => body[i] = alphabet[rng.below(alphabet.len())],
                    1 => body.insert(i, alphabet[rng.below(alphabet.len())]),
                    _ => {
                        body.remove(i);
                    }
                }
            }
            let Ok(p) = parse(&body) else { continue };
            parsed += 1;
            let a = p.activity;
            let mentions: HashSet<&str> = a.mentions.iter().map(|m| m.href.as_str()).collect();
            assert_eq!(mentions.len(), a.mentions.len(), "duplicate mentions");
            let links: HashSet<&str> = a.links.iter().map(String::as_str).collect();
            assert_eq!(links.len(), a.links.len(), "duplicate links");
            let tags: HashSet<&str> = a.hashtags.iter().map(String::as_str).collect();
            assert_eq!(tags.len(), a.hashtags.len(), "duplicate hashtags");
            assert!(a.text.len() <= body.len() * 3, "text grew past the body");
        }
    }
    // Most single-byte mutations of a document still parse (leniently).
    assert!(parsed > corpus.len() * 10, "only {parsed} mutants parsed");
}
