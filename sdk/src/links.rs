//! The links of a post: its link targets and the URLs written in its text.

use std::collections::HashSet;

use crate::Activity;
use crate::text::host_of;

/// The most links of one post collected: far more than any signal needs,
/// few enough that a post made of nothing but links is judged in time.
pub const MAX_LINKS: usize = 1000;

/// One link of a post.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// As written, with `https://` added to a bare `host/path`.
    pub url: String,
    /// Lower-cased.
    pub host: String,
    /// Everything after the host (path, query, fragment), lower-cased:
    /// `/invite/abc`, or empty.
    pub path: String,
}

impl Link {
    pub fn parse(url: &str) -> Option<Link> {
        let host = host_of(url)?;
        let rest = url.split_once("://")?.1;
        let path = rest
            .find(['/', '?', '#'])
            .map_or("", |i| &rest[i..])
            .to_lowercase();
        Some(Link {
            url: url.to_owned(),
            host,
            path,
        })
    }
}

/// Whether `host` is `domain` or one of its subdomains.
pub fn within(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// A `host/path` written without a scheme, as spam writes invite links to
/// dodge link detection: `discord.gg/abc`, `www.spam.example`. A lone host
/// (`example.com`, `e.g.`) is not taken for a link.
fn bare_link(token: &str) -> bool {
    let (host, path) = token.split_once('/').unwrap_or((token, ""));
    let Some((_, tld)) = host.rsplit_once('.') else {
        return false;
    };
    let host_like = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !host.starts_with(['.', '-'])
        && !host.contains("..");
    let tld_like = tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic());
    host_like && tld_like && (!path.is_empty() || host.starts_with("www."))
}

/// The URL a word of text holds, if any.
fn url_in(word: &str) -> Option<String> {
    let word = word
        .trim_start_matches(['(', '<', '[', '"', '\'', '«', '“'])
        .trim_end_matches([
            '.', ',', ';', ':', '!', '?', ')', '>', ']', '"', '\'', '»', '”', '…',
        ]);
    if let Some(i) = word.find("://") {
        // Back up over the scheme: "see:https://x" is "https://x".
        let start = word[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |j| j + 1);
        return (start < i).then(|| word[start..].to_owned());
    }
    bare_link(word).then(|| format!("https://{word}"))
}

/// Every link of `activity`: its link targets, then URLs in its text and
/// content warning, each once, up to `MAX_LINKS`.
pub fn links(activity: &Activity) -> Vec<Link> {
    let written = activity
        .text
        .split_whitespace()
        .chain(activity.summary.iter().flat_map(|s| s.split_whitespace()))
        .filter_map(url_in);
    let mut found: Vec<Link> = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for url in activity.links.iter().cloned().chain(written) {
        let Some(link) = Link::parse(&url) else {
            continue;
        };
        // The text usually repeats the anchors' targets; one link is one link
        // whatever its trailing slash.
        let key = (
            link.host.clone(),
            link.path.trim_end_matches('/').to_owned(),
        );
        if seen.insert(key) {
            found.push(link);
            if found.len() == MAX_LINKS {
                break;
            }
        }
    }
    found
}

/// The registrable part of `host` (its "site"): the public suffix and one
/// label before it, from the Public Suffix List (the `psl` crate), so
/// `discord.gg`, `www.discord.gg` and `cdn.discord.gg` are one site, and
/// `a.example.co.uk` is `example.co.uk`. A host the list does not cover
/// (an IP literal, a single label) is its own site.
///
/// ```
/// use palisade_sdk::links::site_of;
/// assert_eq!(site_of("www.Discord.gg"), "discord.gg");
/// assert_eq!(site_of("join.spam.example.co.uk"), "example.co.uk");
/// assert_eq!(site_of("localhost"), "localhost");
/// ```
pub fn site_of(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match psl::domain_str(&host) {
        Some(site) => site.to_owned(),
        None => host,
    }
}

impl Link {
    /// The registrable part of the link's host: see [`site_of`].
    pub fn site(&self) -> String {
        site_of(&self.host)
    }
}
