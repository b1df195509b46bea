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
    assert_eq!(a.text, "Hi @alice see x");
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
