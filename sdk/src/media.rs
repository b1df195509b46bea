//! What identifies the same picture sent by many accounts: a wave attaches
//! one image to every post, each upload at its own URL.

use crate::Attachment;

/// A key equal for attachments that are very likely the same picture:
/// its blurhash (a short digest of the image, which servers following
/// Mastodon send), or else its width × height, media type and file-name
/// stem (the last path segment without its extension) when it has at
/// least a size or a name. `None` when the attachment says too little to
/// tell it from others.
///
/// ```
/// use palisade_sdk::Attachment;
/// use palisade_sdk::media::media_key;
/// let image = |url: &str, blurhash: Option<&str>| Attachment {
///     kind: "Document".into(), media_type: Some("image/png".into()),
///     url: Some(url.into()), name: None, blurhash: blurhash.map(Into::into),
///     width: Some(1200), height: Some(630),
/// };
/// let a = image("https://a.example/files/abc/join.png", Some("LEHV6nWB2yk8pyo0adR*.7kCMdnj"));
/// let b = image("https://b.example/media/9f/join.png", Some("LEHV6nWB2yk8pyo0adR*.7kCMdnj"));
/// assert_eq!(media_key(&a), media_key(&b));
/// let c = image("https://c.example/media/join.png", None);
/// assert_eq!(media_key(&c).as_deref(), Some("1200x630:image/png:join"));
/// ```
pub fn media_key(attachment: &Attachment) -> Option<String> {
    if let Some(hash) = attachment.blurhash.as_deref().filter(|h| !h.is_empty()) {
        return Some(format!("bh:{hash}"));
    }
    let stem = attachment
        .url
        .as_deref()
        .and_then(|u| u.split(['?', '#']).next())
        .and_then(|u| u.rsplit('/').next())
        .map(|name| name.rsplit_once('.').map_or(name, |(stem, _)| stem))
        .unwrap_or_default()
        .to_lowercase();
    let size = match (attachment.width, attachment.height) {
        (Some(w), Some(h)) => format!("{w}x{h}"),
        _ => String::new(),
    };
    if size.is_empty() && stem.is_empty() {
        return None;
    }
    let media_type = attachment.media_type.as_deref().unwrap_or_default();
    Some(format!("{size}:{media_type}:{stem}"))
}

/// The distinct [`media_key`]s of `attachments`, at most `max`.
pub fn media_keys(attachments: &[Attachment], max: usize) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for key in attachments.iter().filter_map(media_key) {
        if keys.len() >= max {
            break;
        }
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}
