//! The list parsers (`host/src/lists.rs`) on arbitrary files (lossy UTF-8):
//! plain text lists and Mastodon domain-block CSV exports. They must never
//! panic; every entry of a text list must be found again by the lookups
//! modules use; a CSV list never has more entries than lines, and an error
//! names a line of the file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade::lists::{parse_mastodon_csv, parse_text};
use palisade_sdk::Severity;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // A CSV record ends at a line break; the last one may lack it.
    let lines = text.bytes().filter(|&b| b == b'\n' || b == b'\r').count() + 1;

    let list = parse_text(&text, Severity::Silence);
    let mut entries = 0;
    for line in text.lines() {
        let entry = line.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        entries += 1;
        let found = list
            .match_domain(entry)
            .unwrap_or_else(|| panic!("text entry {entry:?} not found by match_domain"));
        assert_eq!(found.severity, Severity::Silence);
    }
    assert!(list.len() <= entries, "more entries than lines");

    match parse_mastodon_csv(&text) {
        Ok(list) => assert!(
            list.len() <= lines,
            "{} entries from {lines} lines",
            list.len()
        ),
        Err((line, message)) => {
            assert!(!message.is_empty(), "an error without a message");
            assert!(line as usize <= lines, "error at line {line} of {lines}");
        }
    }
});
