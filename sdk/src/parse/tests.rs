use super::*;

fn parse(json: &str) -> Activity {
    let local = vec!["home.example".to_owned()];
    parse_activity(json, &Options::new(&local)).expect("parses")
}

#[test]
fn create_note_with_mentions_tags_links_and_addressing() {
    let a = parse(
        r##"{
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://remote.example/notes/1/activity",
        "type": "Create",
        "actor": "https://Remote.Example/users/spammer",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://remote.example/users/spammer/followers"],
        "object": {
            "id": "https://remote.example/notes/1",
            "type": "Note",
            "summary": "",
            "inReplyTo": null,
            "published": "2024-02-15T10:00:00Z",
            "sensitive": true,
            "content": "<p>Hi <a href=\"https://home.example/@alice\" class=\"u-url mention\">@alice</a> see <a href=\"https://spam.example/x\">x</a></p>",
            "tag": [
                {"type": "Mention", "href": "https://home.example/users/alice", "name": "@alice@home.example"},
                {"type": "Mention", "href": "https://other.example/users/bob"},
                {"type": "Mention", "href": "https://other.example/users/bob"},
                {"type": "Hashtag", "href": "https://remote.example/tags/Spam", "name": "#Spam"},
                {"type": "Emoji", "name": ":blob:", "icon": {"url": "https://x"}}
            ],
            "attachment": {"type": "Document", "mediaType": "image/png", "url": "https://remote.example/a.png", "name": "alt"}
        }
    }"##,
    );
    assert_eq!(a.kind, "Create");
    assert_eq!(a.actor_host.as_deref(), Some("remote.example"));
    assert_eq!(a.object_kind.as_deref(), Some("Note"));
    assert_eq!(
        a.object_id.as_deref(),
        Some("https://remote.example/notes/1")
    );
    // The image's description is read with the text.
    assert_eq!(a.text, "Hi @alice see x\n\nalt");
    assert_eq!(a.mentions.len(), 2, "duplicate mentions are folded");
    assert!(a.mentions[0].local);
    assert!(!a.mentions[1].local);
    assert_eq!(a.hashtags, ["spam"]);
    assert_eq!(a.links, ["https://spam.example/x"]);
    assert_eq!(a.visibility, Visibility::Public);
    assert_eq!(a.attachments.len(), 1);
    assert_eq!(a.attachments[0].media_type.as_deref(), Some("image/png"));
    assert!(a.sensitive);
    assert_eq!(a.summary, None, "an empty summary is no summary");
    assert_eq!(a.published.as_deref(), Some("2024-02-15T10:00:00Z"));
}

#[test]
fn addressing_gives_visibility() {
    let vis = |to: &str, cc: &str| {
        parse(&format!(
            r#"{{"type":"Create","actor":"https://r.example/u","to":{to},"cc":{cc},"object":{{"type":"Note"}}}}"#
        ))
        .visibility
    };
    assert_eq!(vis(r#""as:Public""#, "[]"), Visibility::Public);
    assert_eq!(
        vis(r#"["https://r.example/u/followers"]"#, r#"["Public"]"#),
        Visibility::Unlisted
    );
    assert_eq!(
        vis(r#"["https://r.example/u/followers"]"#, "[]"),
        Visibility::Followers
    );
    assert_eq!(
        vis(r#"["https://home.example/users/alice"]"#, "null"),
        Visibility::Direct
    );
    assert_eq!(vis("[]", "[]"), Visibility::Unknown);
}

#[test]
fn flexible_shapes_are_accepted() {
    // Actor as an object, object as a URI, type as an array, tag as one object.
    let a = parse(
        r#"{"type":["Announce"],"actor":{"id":"https://r.example/u","type":"Person"},
            "object":"https://elsewhere.example/notes/9","tag":{"type":"Mention","href":"https://home.example/u/a"}}"#,
    );
    assert_eq!(a.kind, "Announce");
    assert_eq!(a.actor.as_deref(), Some("https://r.example/u"));
    assert_eq!(
        a.object_id.as_deref(),
        Some("https://elsewhere.example/notes/9")
    );
    assert_eq!(a.object_kind, None);
    assert_eq!(a.mentions.len(), 1);
    assert_eq!(a.text, "");
}

#[test]
fn announce_of_create_judges_the_inner_object() {
    let a = parse(
        r#"{"type":"Announce","actor":"https://lemmy.example/c/x","object":{
            "type":"Create","actor":"https://r.example/u/a",
            "object":{"type":"Page","content":"<p>inner</p>","attributedTo":"https://r.example/u/a"}}}"#,
    );
    assert_eq!(a.object_kind.as_deref(), Some("Create"));
    assert_eq!(a.text, "inner");
}

#[test]
fn bare_objects_are_their_own_subject() {
    let a = parse(
        r#"{"type":"Note","id":"https://r.example/n/1","attributedTo":"https://r.example/u/a",
            "contentMap":{"en":"<p>from the map</p>"}}"#,
    );
    assert_eq!(a.kind, "Note");
    assert_eq!(a.actor.as_deref(), Some("https://r.example/u/a"));
    assert_eq!(a.text, "from the map");
}

#[test]
fn errors_say_what_and_where() {
    let e =
        parse_activity("{\n  \"type\": \"Create\",\n  oops\n}", &Options::default()).unwrap_err();
    assert_eq!((e.line, e.column), (3, 3));
    assert!(e.message.contains("key must be a string"), "{e}");
    assert!(e.to_string().ends_with("at line 3 column 3"));
    let e = parse_activity("[1,2]", &Options::default()).unwrap_err();
    assert!(e.message.contains("expected a JSON object"), "{e}");
}

// ---------------------------------------------------------------------------
// Bodies the servers accept: each is read as they read it, never refused.

const WAVE_NOTE: &str = r#""type":"Note","content":"<p>buy now</p>","tag":[{"type":"Mention","href":"https://home.example/users/a"},{"type":"Mention","href":"https://home.example/users/b"}]"#;

fn lenient(body: &[u8]) -> Parsed {
    let local = vec!["home.example".to_owned()];
    parse_document(body, &Options::new(&local)).expect("read as the server reads it")
}

#[test]
fn the_last_duplicate_key_wins() {
    let p = lenient(
        format!(
            r#"{{"type":"Create","actor":"https://r.example/u","object":{{"content":"<p>hello friend</p>",{WAVE_NOTE}}},"type":"Create"}}"#
        )
        .as_bytes(),
    );
    assert_eq!(p.activity.text, "buy now", "the later content is judged");
    assert_eq!(p.activity.mentions.len(), 2);
    assert!(
        p.notes.is_empty(),
        "duplicates are plain JSON: {:?}",
        p.notes
    );
}

#[test]
fn wrong_typed_properties_are_absent_and_noted() {
    let p = lenient(
        br#"{"type":"Create","actor":"https://r.example/u","sensitive":"false","object":{
            "type":"Note","content":"<p>spam</p>","sensitive":"false","contentMap":"x","tag":7,
            "to":5,"attachment":true,"inReplyTo":12}}"#,
    );
    assert_eq!(p.activity.text, "spam");
    assert!(!p.activity.sensitive);
    assert!(p.activity.mentions.is_empty());
    let note = p.notes.join("; ");
    for key in [
        "sensitive",
        "object.sensitive",
        "object.contentMap",
        "object.tag",
        "object.to",
        "object.attachment",
        "object.inReplyTo",
    ] {
        assert!(
            note.split([':', ',', ' ']).any(|w| w == key),
            "{key} missing from {note}"
        );
    }
    // A tag array with one odd element still reads the others.
    let p = lenient(
        br#"{"type":"Note","tag":[7,{"type":"Mention","href":"https://home.example/u/a"},"x",null]}"#,
    );
    assert_eq!(p.activity.mentions.len(), 1);
}

#[test]
fn comments_and_a_trailing_nul_are_tolerated() {
    let body = format!(
        "// sent by a bot\n{{\"type\":\"Create\", /* why not */ \"actor\":\"https://r.example/u\",\"object\":{{{WAVE_NOTE},}}}}\0\0trailing"
    );
    let p = lenient(body.as_bytes());
    assert_eq!(p.activity.text, "buy now");
    assert_eq!(p.activity.mentions.len(), 2);
    assert!(
        p.notes.iter().any(|n| n.contains("comments")),
        "{:?}",
        p.notes
    );
    assert!(p.notes.iter().any(|n| n.contains("NUL")), "{:?}", p.notes);
}

#[test]
fn deep_nesting_in_unread_fields_is_tolerated() {
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let body = format!(
        r#"{{"type":"Create","actor":"https://r.example/u","x":{deep},"object":{{{WAVE_NOTE},"y":{deep}}}}}"#
    );
    let p = lenient(body.as_bytes());
    assert_eq!(p.activity.text, "buy now");
    assert_eq!(p.activity.mentions.len(), 2);
    // 130 levels: past serde_json's own limit, far below the cut.
    let body = format!(
        r#"{{"type":"Create","x":{}{},"object":{{{WAVE_NOTE}}}}}"#,
        "[".repeat(130),
        "]".repeat(130)
    );
    assert_eq!(lenient(body.as_bytes()).activity.mentions.len(), 2);
}

#[test]
fn invalid_utf8_and_lone_surrogates_are_replaced() {
    let mut body = br#"{"type":"Create","actor":"https://r.example/u","object":{"type":"Note","content":"<p>buy "#.to_vec();
    body.extend_from_slice(b"\xff\xfe now\\ud800!</p>\"}}");
    let p = lenient(&body);
    assert_eq!(p.activity.text, "buy \u{fffd}\u{fffd} now\u{fffd}!");
    assert!(p.notes.iter().any(|n| n.contains("UTF-8")), "{:?}", p.notes);
    assert!(
        p.notes.iter().any(|n| n.contains("surrogate")),
        "{:?}",
        p.notes
    );
}

#[test]
fn big_numbers_and_raw_control_characters_are_read() {
    let p = lenient(
        "{\"type\":\"Note\",\"n\":1e400,\"m\":123456789012345678901234567890,\"content\":\"a\tb\nc\"}"
            .as_bytes(),
    );
    assert_eq!(p.activity.text, "a b\nc");
}

#[test]
fn what_no_server_reads_is_still_refused() {
    for body in [
        &b"[1,2]"[..],
        b"",
        b"not json",
        b"{\"type\":\"Note\"",
        b"{\"type\":\"Note\"} {\"type\":\"Note\"}",
        b"{'type':'Note'}",
        b"\"a string\"",
    ] {
        assert!(
            parse_document(body, &Options::default()).is_err(),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn a_huge_post_is_deduplicated_in_one_pass() {
    // 70,000 links (and as many duplicate mentions), as in a 958 KiB post
    // that took the quadratic de-duplication 20 s. The cost is measured in
    // benches/pipeline.rs; here, that every link is kept once.
    let n = 70_000;
    let mut content = String::new();
    let mut tags = Vec::new();
    for i in 0..n {
        content.push_str(&format!("<a href=\"https://l.example/{i}\">x</a>"));
        content.push_str(&format!("<a href=\"https://l.example/{i}\">again</a>"));
        tags.push(format!(
            r#"{{"type":"Mention","href":"https://home.example/u/{}"}}"#,
            i % 1000
        ));
    }
    let body = serde_json::json!({
        "type": "Note",
        "content": content,
        "tag": tags.iter().map(|t| serde_json::from_str::<serde_json::Value>(t).unwrap()).collect::<Vec<_>>(),
    })
    .to_string();
    let p = lenient(body.as_bytes());
    // Each link once, in order, up to what modules are given.
    assert_eq!(p.activity.links.len(), MAX_ITEMS);
    assert_eq!(p.activity.links[1], "https://l.example/1");
    assert_eq!(p.activity.mentions.len(), 1000);
    assert!(
        p.notes
            .iter()
            .any(|n| n == "more than 1024 links: the first 1024 are judged"),
        "{:?}",
        p.notes
    );
}

#[test]
fn well_formed_documents_carry_no_notes() {
    let p = lenient(
        format!(r#"{{"type":"Create","actor":"https://r.example/u","object":{{{WAVE_NOTE}}}}}"#)
            .as_bytes(),
    );
    assert!(p.notes.is_empty(), "{:?}", p.notes);
}

#[test]
fn text_the_servers_show_instead_of_content_is_judged() {
    // Mastodon: a blank `content` falls back to `contentMap`; a duplicated
    // language keeps its place with its last value.
    let p = lenient(
        br#"{"type":"Note","content":" ","contentMap":{"en":"<p>harmless</p>","de":"x","en":"<p>BUY NOW</p>"}}"#,
    );
    assert_eq!(p.activity.text, "BUY NOW");
    // Misskey shows `_misskey_content` (or an MFM `source`) in place of it.
    let p = lenient(
        br#"{"type":"Note","content":"<p>hi</p>","_misskey_content":"BUY NOW @a@home.example"}"#,
    );
    assert_eq!(p.activity.text, "hi\n\nBUY NOW @a@home.example");
    let p = lenient(
        br#"{"type":"Note","content":"<p>hi</p>","source":{"content":"BUY NOW","mediaType":"text/x.misskeymarkdown"}}"#,
    );
    assert_eq!(p.activity.text, "hi\n\nBUY NOW");
    // A poll's options are shown with it.
    let p = lenient(
        br#"{"type":"Question","content":"<p>Which?</p>","oneOf":[{"type":"Note","name":"BUY NOW"},{"type":"Note","name":"spam.example"}]}"#,
    );
    assert_eq!(p.activity.text, "Which?\n\nBUY NOW\nspam.example");
    // So is an image's description (its alt text).
    let p = lenient(
        br#"{"type":"Note","content":"<p>look</p>","attachment":[{"type":"Document","url":"https://x.example/1.png","name":"JOIN spam.example TODAY"}]}"#,
    );
    assert_eq!(p.activity.text, "look\n\nJOIN spam.example TODAY");
    // The same text in both is judged once.
    let p =
        lenient(br#"{"type":"Note","content":"<p>hi there</p>","_misskey_content":"hi there"}"#);
    assert_eq!(p.activity.text, "hi there");
}

#[test]
fn a_tag_with_several_types_is_a_mention_when_one_is() {
    let p = lenient(
        br##"{"type":"Note","tag":[{"type":["Link","Mention"],"href":"https://home.example/u/a"},{"type":["Hashtag"],"name":"#Spam"}]}"##,
    );
    assert_eq!(p.activity.mentions.len(), 1);
    assert_eq!(p.activity.hashtags, ["spam"]);
}

#[test]
fn visibility_counts_every_addressee_before_the_lists_are_cut() {
    let mut to: Vec<String> = (0..MAX_ITEMS + 10)
        .map(|i| format!("https://r.example/u/{i}"))
        .collect();
    to.push("https://www.w3.org/ns/activitystreams#Public".into());
    let body = serde_json::json!({"type": "Note", "to": to}).to_string();
    let p = lenient(body.as_bytes());
    assert_eq!(p.activity.visibility, Visibility::Public);
    assert_eq!(p.activity.to.len(), MAX_ITEMS);
}

#[test]
fn a_mended_document_is_what_raw_readers_get() {
    let p = lenient(b"{\"type\":\"Note\", /* c */ \"content\":\"<p>x</p>\"}\0");
    let mended = p.mended.expect("mended");
    let v: serde_json::Value = serde_json::from_str(&mended).expect("strict JSON");
    assert_eq!(v["content"], "<p>x</p>");
    assert!(lenient(br#"{"type":"Note"}"#).mended.is_none());
}
