//! Request paths as the upstream server will route them.
//!
//! Rails (Mastodon) and Node (Misskey) decode percent-escapes, resolve dot
//! segments and, behind nginx, see duplicate slashes merged: a raw
//! `/users/alice/x/../inbox` is routed as `/users/alice/inbox`. Matching
//! inbox patterns on the raw path would let such a variant through
//! unjudged. So the proxy normalises a POST's path once, matches the
//! normalised path, and forwards the normalised path: what the upstream
//! routes is exactly what was judged. A path whose meaning depends on who
//! decodes it (an encoded slash or backslash, a control byte, a dot segment
//! above the root, a broken escape) is refused rather than guessed at.

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is not absolute")]
    NotAbsolute,
    #[error("the path has a broken percent-escape")]
    BadEscape,
    #[error("the path has an encoded slash or backslash in a segment")]
    EncodedSeparator,
    #[error("the path has a backslash")]
    Backslash,
    #[error("the path has a control character")]
    Control,
    #[error("the path climbs above the root with `..`")]
    AboveRoot,
}

/// `path` (without the query) normalised: percent-escapes of unreserved
/// characters decoded (RFC 3986 §2.3) and other escapes upper-cased, dot
/// segments resolved (encoded ones too, since they decode to dots),
/// duplicate slashes collapsed. A trailing slash stays, as one slash.
pub fn normalise(path: &str) -> Result<String, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let mut out: Vec<String> = Vec::new();
    let raw: Vec<&str> = path[1..].split('/').collect();
    let mut trailing_slash = false;
    for (i, segment) in raw.iter().enumerate() {
        let last = i + 1 == raw.len();
        let segment = decode_unreserved(segment)?;
        match segment.as_str() {
            "" => trailing_slash = last && !out.is_empty(),
            "." => trailing_slash = last,
            ".." => {
                if out.pop().is_none() {
                    return Err(PathError::AboveRoot);
                }
                trailing_slash = last;
            }
            _ => {
                out.push(segment);
                trailing_slash = false;
            }
        }
    }
    let mut normalised = String::with_capacity(path.len());
    for segment in &out {
        normalised.push('/');
        normalised.push_str(segment);
    }
    if normalised.is_empty() || trailing_slash {
        normalised.push('/');
    }
    Ok(normalised)
}

/// The byte two hex digits spell (exactly two: `from_str_radix` alone
/// would take `+1`).
fn hex_byte(digits: Option<&[u8]>) -> Option<u8> {
    let digits = digits.filter(|d| d.len() == 2 && d.iter().all(u8::is_ascii_hexdigit))?;
    u8::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// One segment with unreserved escapes decoded; refuses what would change
/// the segment structure or hide bytes once a server decodes the rest.
fn decode_unreserved(segment: &str) -> Result<String, PathError> {
    let bytes = segment.as_bytes();
    let mut out = String::with_capacity(segment.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let value = hex_byte(bytes.get(i + 1..i + 3)).ok_or(PathError::BadEscape)?;
            if value == b'/' || value == b'\\' {
                return Err(PathError::EncodedSeparator);
            }
            if value.is_ascii_control() {
                return Err(PathError::Control);
            }
            if is_unreserved(value) {
                out.push(value as char);
            } else {
                out.push_str(&format!("%{value:02X}"));
            }
            i += 3;
            continue;
        }
        if b == b'\\' {
            return Err(PathError::Backslash);
        }
        if b.is_ascii_control() {
            return Err(PathError::Control);
        }
        // Multi-byte characters pass through whole: `segment` is a str and
        // only ASCII bytes are handled above.
        let ch = segment[i..].chars().next().expect("inside the string");
        out.push(ch);
        i += ch.len_utf8();
    }
    Ok(out)
}

/// Inbox path patterns; `*` matches exactly one path segment. Matched
/// against normalised paths, static segments without regard to letter case
/// and with an optional format suffix on the last segment, because the
/// servers route those variants to the same inbox: Rails appends
/// `(.:format)` to every route (`/inbox.json`, `/users/alice/inbox.xml`),
/// and judging a path that turns out not to be an inbox costs only time.
pub struct InboxPaths {
    patterns: Vec<Vec<String>>,
}

impl InboxPaths {
    pub fn new(patterns: &[String]) -> InboxPaths {
        InboxPaths {
            patterns: patterns
                .iter()
                .map(|p| segments(p).map(str::to_owned).collect())
                .collect(),
        }
    }

    /// Whether the normalised `path` is an inbox, and the recipient when a
    /// `*` segment names one (`/users/alice/inbox` → `alice`,
    /// percent-escapes decoded).
    pub fn matches(&self, path: &str) -> Option<Option<String>> {
        let parts: Vec<&str> = segments(path).collect();
        self.patterns.iter().find_map(|pattern| {
            if pattern.len() != parts.len() {
                return None;
            }
            let mut recipient = None;
            for (i, (p, s)) in pattern.iter().zip(&parts).enumerate() {
                let last = i + 1 == parts.len();
                if p == "*" {
                    recipient = Some(decode_all(s));
                } else if !(p.eq_ignore_ascii_case(s)
                    || last && p.eq_ignore_ascii_case(without_format(s)))
                {
                    return None;
                }
            }
            Some(recipient)
        })
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The segment without a Rails format suffix (`inbox.json` → `inbox`):
/// Rails' `:format` is one or more characters other than `/`, `.`, `?`.
fn without_format(segment: &str) -> &str {
    match segment.rsplit_once('.') {
        Some((stem, format)) if !stem.is_empty() && !format.is_empty() => stem,
        _ => segment,
    }
}

/// Every percent-escape decoded (the segment was checked by [`normalise`]).
fn decode_all(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| hex_byte(bytes.get(i + 1..i + 3)))
            .flatten();
        match escaped {
            Some(value) => {
                out.push(value);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_resolves_what_servers_resolve() {
        let cases = [
            ("/users/alice/inbox", "/users/alice/inbox"),
            ("/", "/"),
            ("/inbox/", "/inbox/"),
            ("/users/alice/x/../inbox", "/users/alice/inbox"),
            ("/users/alice/./inbox", "/users/alice/inbox"),
            ("/users/alice/x/%2e%2e/inbox", "/users/alice/inbox"),
            ("/users/alice/x/%2E./inbox", "/users/alice/inbox"),
            ("/users/alice/%2e/inbox", "/users/alice/inbox"),
            ("//users//alice/inbox", "/users/alice/inbox"),
            ("///inbox", "/inbox"),
            ("/users/%61lice/inbox", "/users/alice/inbox"),
            ("/%69%6E%62%6F%78", "/inbox"),
            ("/users/a%7e%2D_b/inbox", "/users/a~-_b/inbox"),
            ("/tags/caf%c3%a9", "/tags/caf%C3%A9"),
            ("/tags/a%3bb", "/tags/a%3Bb"),
            ("/tags/café", "/tags/café"),
            ("/users/alice/inbox/..", "/users/alice/"),
            ("/users/alice/inbox/.", "/users/alice/inbox/"),
            ("/a/..", "/"),
            ("/inbox//", "/inbox/"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalise(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        let cases = [
            ("/users/alice%2Finbox", PathError::EncodedSeparator),
            ("/users/alice%2finbox", PathError::EncodedSeparator),
            ("/users/alice%5Cinbox", PathError::EncodedSeparator),
            ("/users\\alice/inbox", PathError::Backslash),
            ("/users/alice%00/inbox", PathError::Control),
            ("/users/alice%0a/inbox", PathError::Control),
            ("/users/alice%7f/inbox", PathError::Control),
            ("/inbox\t", PathError::Control),
            ("/../inbox", PathError::AboveRoot),
            ("/users/%2e%2e/%2e%2e/inbox", PathError::AboveRoot),
            ("/inbox%", PathError::BadEscape),
            ("/inbox%4", PathError::BadEscape),
            ("/inbox%zz", PathError::BadEscape),
            ("/inbox%+1", PathError::BadEscape),
            ("inbox", PathError::NotAbsolute),
        ];
        for (raw, want) in cases {
            assert_eq!(normalise(raw), Err(want), "{raw}");
        }
    }

    #[test]
    fn inbox_patterns_match_whole_segments() {
        let p = InboxPaths::new(&["/inbox".into(), "/users/*/inbox".into()]);
        assert_eq!(p.matches("/inbox"), Some(None));
        assert_eq!(p.matches("/users/alice/inbox"), Some(Some("alice".into())));
        assert_eq!(p.matches("/users/alice/inbox/"), Some(Some("alice".into())));
        assert_eq!(p.matches("/users/alice/outbox"), None);
        assert_eq!(p.matches("/users/a/b/inbox"), None);
        assert_eq!(p.matches("/inboxes"), None);
    }

    #[test]
    fn format_suffixes_and_letter_case_are_the_same_inbox() {
        let p = InboxPaths::new(&["/inbox".into(), "/users/*/inbox".into()]);
        assert_eq!(p.matches("/inbox.json"), Some(None));
        assert_eq!(p.matches("/inbox.activity%2Bjson"), Some(None));
        assert_eq!(p.matches("/INBOX"), Some(None));
        assert_eq!(
            p.matches("/Users/alice/Inbox.xml"),
            Some(Some("alice".into()))
        );
        assert_eq!(
            p.matches("/users/caf%C3%A9/inbox"),
            Some(Some("café".into()))
        );
        assert_eq!(p.matches("/inbox."), None);
        assert_eq!(p.matches("/.json"), None);
        assert_eq!(p.matches("/inbox.json/x"), None);
    }
}
