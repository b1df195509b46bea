//! The activity parser on arbitrary bodies (bytes, as a body off the wire
//! may be anything): it must never panic, and what it returns must be
//! what modules are promised — no duplicate mentions, hashtags or links,
//! links that are not mentions, hosts that match their URIs, and outputs
//! bounded by the input (the parse is linear in the body, so a large body
//! cannot turn into a larger one).

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_sdk::parse::{Options, host_of, parse_document};

/// The local host the fuzzed activities may mention.
const LOCAL: &str = "mastodon.example";

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    let local_hosts = [LOCAL.to_owned()];
    // The bytes as they arrive: the parser replaces invalid UTF-8 itself.
    let Ok(parsed) = parse_document(data, &Options::new(&local_hosts)) else {
        return;
    };
    let activity = parsed.activity;
    let len = body.len();

    // Entity decoding can lengthen a few short entities (`&nGt;`, 5 bytes,
    // is 6 bytes of UTF-8), never past twice the source.
    assert!(
        activity.text.len() <= 2 * len,
        "text longer than 2x the body"
    );
    if let Some(summary) = &activity.summary {
        assert!(summary.len() <= 2 * len, "summary longer than 2x the body");
    }
    // Every mention, hashtag and link costs at least one byte of input.
    let items = activity.mentions.len() + activity.hashtags.len() + activity.links.len();
    assert!(items <= len, "{items} items from {len} bytes");

    for (i, m) in activity.mentions.iter().enumerate() {
        assert!(
            activity.mentions[..i].iter().all(|o| o.href != m.href),
            "duplicate mention {:?}",
            m.href
        );
        assert_eq!(m.host, host_of(&m.href), "mention host of {:?}", m.href);
        assert_eq!(
            m.local,
            m.host.as_deref() == Some(LOCAL),
            "mention {:?} local flag",
            m.href
        );
    }
    for (i, tag) in activity.hashtags.iter().enumerate() {
        assert!(
            !activity.hashtags[..i].contains(tag),
            "duplicate hashtag {tag:?}"
        );
        assert!(!tag.is_empty() && !tag.starts_with('#'), "hashtag {tag:?}");
        assert_eq!(*tag, tag.to_lowercase(), "hashtag {tag:?} not lower-case");
    }
    for (i, link) in activity.links.iter().enumerate() {
        assert!(
            !activity.links[..i].contains(link),
            "duplicate link {link:?}"
        );
        assert!(
            activity.mentions.iter().all(|m| m.href != *link),
            "mention {link:?} also counted as a link"
        );
    }
    assert_eq!(
        activity.actor_host,
        activity.actor.as_deref().and_then(host_of),
        "actor host"
    );
});
