//! Bodies the servers accept that strict JSON refuses, rewritten into
//! strict JSON with the same meaning for everything Palisade reads.
//!
//! Only called when the strict parse fails, so ordinary traffic never pays
//! for it. One pass, linear in the body, output no longer than the input
//! (plus six bytes per escaped control character). What it tolerates:
//!
//! - comments (`// …` and `/* … */`) and a NUL after the document, as
//!   Ruby's Oj (Mastodon) does;
//! - a lone UTF-16 surrogate escape (`"\ud800"`), which `JSON.parse`
//!   (Misskey) keeps: replaced with U+FFFD;
//! - raw control characters inside strings: escaped;
//! - a trailing comma before `]` or `}`;
//! - numbers of any size or precision (no property Palisade reads is a
//!   number: each becomes `0`);
//! - nesting of any depth: containers deeper than [`MAX_DEPTH`] are read as
//!   `null` (no property Palisade reads is that deep; a field holding one
//!   is then absent, as a wrong-typed field is).
//!
//! Anything else that is not JSON stays as it is and the strict parse
//! that follows reports it.

/// The deepest container kept.
pub(super) const MAX_DEPTH: usize = 64;

pub(super) struct Normalised {
    pub text: String,
    /// What was changed, for the decision.
    pub notes: Vec<&'static str>,
}

pub(super) fn normalise(input: &str) -> Normalised {
    let b = input.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut notes: Vec<&'static str> = Vec::new();
    let mut depth = 0usize;
    // While Some(d), inside a container opened at depth d that is dropped.
    let mut dropping: Option<usize> = None;
    let mut i = 0;
    if b.starts_with("\u{feff}".as_bytes()) {
        i = 3;
        note("a byte-order mark was skipped", &mut notes);
    }
    while i < b.len() {
        let c = b[i];
        let keep = dropping.is_none();
        match c {
            b'"' => {
                i = string(b, i, if keep { Some(&mut out) } else { None }, &mut |n| {
                    note(n, &mut notes)
                });
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                note("comments were skipped", &mut notes);
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                note("comments were skipped", &mut notes);
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    // Line breaks stay, so positions in errors keep their line.
                    if b[i] == b'\n' && keep {
                        out.push(b'\n');
                    }
                    i += 1;
                }
                i = (i + 2).min(b.len());
                if keep {
                    out.push(b' ');
                }
                continue;
            }
            0 => {
                // Oj reads a C string: nothing after a NUL exists.
                note("a NUL and what followed it were ignored", &mut notes);
                break;
            }
            b'{' | b'[' => {
                depth += 1;
                if keep {
                    if depth > MAX_DEPTH {
                        note(
                            "containers nested deeper than 64 were read as null",
                            &mut notes,
                        );
                        dropping = Some(depth);
                        out.extend_from_slice(b"null");
                    } else {
                        out.push(c);
                    }
                }
            }
            b'}' | b']' => {
                if dropping == Some(depth) {
                    dropping = None;
                } else if keep {
                    drop_trailing_comma(&mut out, &mut |n| note(n, &mut notes));
                    out.push(c);
                }
                depth = depth.saturating_sub(1);
            }
            b'-' | b'0'..=b'9' => {
                while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                if keep {
                    out.push(b'0');
                }
                continue;
            }
            _ => {
                if keep {
                    out.push(c);
                }
            }
        }
        i += 1;
    }
    let text = String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Normalised { text, notes }
}

/// Remove a comma (and the whitespace after it) that ends `out`.
fn drop_trailing_comma(out: &mut Vec<u8>, note: &mut dyn FnMut(&'static str)) {
    let end = out
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    if end > 0 && out[end - 1] == b',' {
        out.truncate(end - 1);
        note("a trailing comma was skipped");
    }
}

/// Copy the string starting at `b[start]` (a `"`) into `out` (when given),
/// mending lone surrogates and raw control characters; the index after it.
fn string(
    b: &[u8],
    start: usize,
    mut out: Option<&mut Vec<u8>>,
    note: &mut dyn FnMut(&'static str),
) -> usize {
    let mut push = |bytes: &[u8]| {
        if let Some(out) = out.as_deref_mut() {
            out.extend_from_slice(bytes);
        }
    };
    push(b"\"");
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'"' => {
                push(b"\"");
                return i + 1;
            }
            b'\\' if b.get(i + 1) == Some(&b'u') => {
                let Some(unit) = hex4(b, i + 2) else {
                    // Not an escape strict JSON knows: left for it to refuse.
                    push(&b[i..i + 2]);
                    i += 2;
                    continue;
                };
                match unit {
                    0xD800..=0xDBFF => {
                        let low = (b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u'))
                            .then(|| hex4(b, i + 8))
                            .flatten()
                            .filter(|l| (0xDC00..=0xDFFF).contains(l));
                        if low.is_some() {
                            push(&b[i..i + 12]);
                            i += 12;
                        } else {
                            note("lone surrogates were replaced with U+FFFD");
                            push(b"\\ufffd");
                            i += 6;
                        }
                    }
                    0xDC00..=0xDFFF => {
                        note("lone surrogates were replaced with U+FFFD");
                        push(b"\\ufffd");
                        i += 6;
                    }
                    _ => {
                        push(&b[i..i + 6]);
                        i += 6;
                    }
                }
            }
            b'\\' => {
                let end = (i + 2).min(b.len());
                push(&b[i..end]);
                i = end;
            }
            c if c < 0x20 => {
                note("control characters in strings were escaped");
                push(format!("\\u{c:04x}").as_bytes());
                i += 1;
            }
            _ => {
                // Copy up to the next byte that needs a look.
                let run = b[i..]
                    .iter()
                    .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                    .map_or(b.len(), |p| i + p);
                push(&b[i..run]);
                i = run;
            }
        }
    }
    i
}

fn note(n: &'static str, notes: &mut Vec<&'static str>) {
    if !notes.contains(&n) {
        notes.push(n);
    }
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let digits = b.get(at..at + 4)?;
    let s = std::str::from_utf8(digits).ok()?;
    if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalise(s).text
    }

    #[test]
    fn comments_nul_and_trailing_commas_go() {
        assert_eq!(
            norm("{\"a\": 1, // note\n \"b\": [1, 2,], /* x */}\0garbage"),
            "{\"a\": 0, \n \"b\": [0, 0]}"
        );
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(norm(r#"{"a":"x\ud800y"}"#), r#"{"a":"x\ufffdy"}"#);
        assert_eq!(norm(r#"{"a":"\udc00"}"#), r#"{"a":"\ufffd"}"#);
        // A proper pair stays.
        assert_eq!(norm(r#"{"a":"\ud83d\udc31"}"#), r#"{"a":"\ud83d\udc31"}"#);
    }

    #[test]
    fn strings_keep_what_looks_like_syntax() {
        assert_eq!(
            norm(r#"{"a":"// not a comment [ { 12"}"#),
            r#"{"a":"// not a comment [ { 12"}"#
        );
        assert_eq!(norm("{\"a\":\"tab\there\"}"), "{\"a\":\"tab\\u0009here\"}");
    }

    #[test]
    fn deep_containers_are_read_as_null() {
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let n = normalise(&deep);
        assert!(n.text.len() < 200, "{}", n.text.len());
        let v: serde_json::Value = serde_json::from_str(&n.text).expect("strict JSON");
        let mut depth = 0;
        let mut cur = &v["x"];
        while let Some(inner) = cur.get(0) {
            depth += 1;
            cur = inner;
        }
        assert_eq!(depth, MAX_DEPTH - 1, "kept to the limit, then null");
        assert!(cur.is_null());
    }
}
