//! The HTML-to-text scan behind every activity's `text` and `links`, on
//! arbitrary markup (lossy UTF-8): it must never panic, and the text must be
//! what modules are promised — tidy (single spaces, at most one blank line,
//! trimmed), free of markup unless the source escaped it (a `<` that opens
//! no tag, as in `I <3 cats`, is text), and bounded by the
//! input, with at most one anchor per `<`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_sdk::parse::html::Html;

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let scanned = Html::scan(&html);
    let text = scanned.text.as_str();

    assert!(
        text.len() <= 2 * html.len(),
        "text longer than 2x the markup"
    );
    let opens = html.bytes().filter(|&b| b == b'<').count();
    assert!(scanned.anchors.len() <= opens, "more anchors than tags");
    if !html.contains('&') {
        // A `<` that opens no tag (`I <3 cats`) is text, as in HTML5; every
        // `<` of the text is one of the source's, never made up.
        let in_text = text.bytes().filter(|&b| b == b'<').count();
        assert!(in_text <= opens, "more `<` in the text than in the markup");
    }

    assert_eq!(text, text.trim(), "text not trimmed");
    assert!(
        text.chars()
            .all(|c| !c.is_whitespace() || c == ' ' || c == '\n'),
        "whitespace other than space and newline in {text:?}"
    );
    for bad in ["  ", " \n", "\n ", "\n\n\n"] {
        assert!(!text.contains(bad), "{bad:?} in {text:?}");
    }
});
