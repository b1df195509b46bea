//! Reading what a sender's server serves: the key behind a keyId (in an
//! actor document, a key document, or an FEP-521a Multikey), the facts of
//! an actor document, a collection's size and NodeInfo's software name.

use actpub_httpsig::{Multikey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ActorFacts, same_host};

/// A public key as published, and who owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedKey {
    pub owner: String,
    /// `publicKeyPem` (SPKI; RSA or Ed25519), or an FEP-521a
    /// `publicKeyMultibase` prefixed with `multibase:`.
    pub material: String,
}

impl PublishedKey {
    pub fn verifying_key(&self) -> Result<VerifyingKey, String> {
        match self.material.strip_prefix("multibase:") {
            Some(encoded) => Multikey::decode(encoded)
                .map(|m| VerifyingKey::Ed25519(m.key))
                .map_err(|e| format!("unreadable publicKeyMultibase: {e}")),
            None => VerifyingKey::from_pem(&self.material)
                .map_err(|e| format!("unreadable publicKeyPem: {e}")),
        }
    }
}

/// The key `key_id` in `doc`, the document its URL served.
///
/// The key may be the document's `publicKey` (one or a list, Mastodon,
/// Misskey, Akkoma, GoToSocial's stub), one of its `assertionMethod`
/// Multikeys, or the document itself (a bare key document). Its owner
/// must live on the keyId's host: a server can only vouch for its own
/// accounts, or evil.example could publish a key "owned" by anyone.
pub fn find_key(doc: &Value, key_id: &str) -> Result<PublishedKey, String> {
    let candidates = std::iter::once(doc)
        .chain(list(doc.get("publicKey")))
        .chain(list(doc.get("assertionMethod")));
    for candidate in candidates {
        if candidate.get("id").and_then(Value::as_str) != Some(key_id) {
            continue;
        }
        let material = if let Some(pem) = candidate.get("publicKeyPem").and_then(Value::as_str) {
            pem.to_owned()
        } else if let Some(mb) = candidate.get("publicKeyMultibase").and_then(Value::as_str) {
            format!("multibase:{mb}")
        } else {
            continue;
        };
        let owner = candidate
            .get("owner")
            .or_else(|| candidate.get("controller"))
            .and_then(Value::as_str)
            .or_else(|| {
                // A key inside an actor document belongs to that actor.
                (!std::ptr::eq(candidate, doc))
                    .then(|| doc.get("id").and_then(Value::as_str))
                    .flatten()
            })
            .ok_or_else(|| format!("the key {key_id} names no owner"))?;
        if !same_host(owner, key_id) {
            return Err(format!(
                "the key {key_id} claims an owner on another host ({owner})"
            ));
        }
        let key = PublishedKey {
            owner: owner.to_owned(),
            material,
        };
        key.verifying_key()?;
        return Ok(key);
    }
    Err(format!(
        "the document at {key_id} does not publish that key"
    ))
}

fn list(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    let items: &[Value] = match v {
        Some(Value::Array(a)) => a,
        Some(one @ Value::Object(_)) => std::slice::from_ref(one),
        _ => &[],
    };
    items.iter()
}

/// Whether `doc` is the actor `id` itself (not a key stub).
pub fn is_actor(doc: &Value, id: &str) -> bool {
    doc.get("id").and_then(Value::as_str) == Some(id)
        && doc.get("inbox").is_some_and(Value::is_string)
}

/// What an actor document says about the account, and the URLs of its
/// followers and following collections.
pub fn facts(doc: &Value) -> (ActorFacts, Option<String>, Option<String>) {
    let text = |k: &str| {
        doc.get(k)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(200).collect::<String>())
    };
    let published = doc
        .get("published")
        .and_then(Value::as_str)
        .and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
        .and_then(|t| u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok());
    let has_avatar = match doc.get("icon") {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Object(o)) => o.get("url").is_some_and(|u| !u.is_null()),
        Some(Value::Array(a)) => !a.is_empty(),
        _ => false,
    };
    let facts = ActorFacts {
        id: doc
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        published,
        preferred_username: text("preferredUsername"),
        name: text("name"),
        has_avatar,
        followers: None,
        following: None,
        discoverable: doc.get("discoverable").and_then(Value::as_bool),
        software: None,
    };
    let url = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
    (facts, url("followers"), url("following"))
}

/// A collection's `totalItems`, where the server publishes it.
pub fn total_items(doc: &Value) -> Option<u64> {
    doc.get("totalItems").and_then(Value::as_u64)
}

/// The NodeInfo document's URL from `/.well-known/nodeinfo` (the newest
/// schema it links).
pub fn nodeinfo_link(doc: &Value) -> Option<String> {
    let mut links: Vec<(&str, &str)> = list(doc.get("links"))
        .filter_map(|l| Some((l.get("rel")?.as_str()?, l.get("href")?.as_str()?)))
        .filter(|(rel, _)| rel.starts_with("http://nodeinfo.diaspora.software/ns/schema/"))
        .collect();
    links.sort();
    links.last().map(|(_, href)| (*href).to_owned())
}

/// NodeInfo's `software.name`, lowercase.
pub fn software(doc: &Value) -> Option<String> {
    let name = doc.get("software")?.get("name")?.as_str()?;
    (!name.is_empty() && name.len() <= 64).then(|| name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pem() -> String {
        actpub_httpsig::SigningKey::generate_ed25519()
            .verifying_key()
            .to_pem()
    }

    #[test]
    fn keys_are_found_in_actors_stubs_and_multikeys() {
        let actor = json!({"id": "https://a.example/users/x", "inbox": "https://a.example/users/x/inbox",
            "publicKey": {"id": "https://a.example/users/x#main-key", "owner": "https://a.example/users/x", "publicKeyPem": pem()}});
        let k = find_key(&actor, "https://a.example/users/x#main-key").unwrap();
        assert_eq!(k.owner, "https://a.example/users/x");
        // A key list without owners: the document's actor owns them.
        let listed = json!({"id": "https://a.example/users/x",
            "publicKey": [{"id": "https://a.example/users/x#other", "publicKeyPem": pem()}]});
        assert_eq!(
            find_key(&listed, "https://a.example/users/x#other")
                .unwrap()
                .owner,
            "https://a.example/users/x"
        );
        // A bare key document.
        let bare = json!({"id": "https://a.example/users/x/main-key", "owner": "https://a.example/users/x", "publicKeyPem": pem()});
        assert!(find_key(&bare, "https://a.example/users/x/main-key").is_ok());
        // Another key id in the document: not that key.
        assert!(find_key(&actor, "https://a.example/users/x#nope").is_err());
    }

    #[test]
    fn a_key_owned_on_another_host_is_refused() {
        let doc = json!({"id": "https://evil.example/k", "owner": "https://mastodon.example/users/gargron", "publicKeyPem": pem()});
        let err = find_key(&doc, "https://evil.example/k").unwrap_err();
        assert!(err.contains("another host"), "{err}");
    }

    #[test]
    fn facts_are_read_and_bounded() {
        let doc = json!({"id": "https://a.example/users/x", "published": "2024-02-15T00:00:00Z",
            "preferredUsername": "x".repeat(500), "icon": {"type": "Image", "url": "https://a.example/i.png"},
            "discoverable": false, "followers": "https://a.example/users/x/followers"});
        let (f, followers, following) = facts(&doc);
        assert_eq!(f.published, Some(1_707_955_200_000));
        assert_eq!(f.preferred_username.unwrap().len(), 200);
        assert!(f.has_avatar);
        assert_eq!(f.discoverable, Some(false));
        assert_eq!(
            followers.as_deref(),
            Some("https://a.example/users/x/followers")
        );
        assert_eq!(following, None);
        assert!(!facts(&json!({"id": "x", "icon": null})).0.has_avatar);
    }

    #[test]
    fn nodeinfo_names_the_software() {
        let wk = json!({"links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": "https://a.example/nodeinfo/2.0"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": "https://a.example/nodeinfo/2.1"}]});
        assert_eq!(
            nodeinfo_link(&wk).as_deref(),
            Some("https://a.example/nodeinfo/2.1")
        );
        assert_eq!(
            software(&json!({"software": {"name": "Misskey"}})).as_deref(),
            Some("misskey")
        );
        assert_eq!(software(&json!({"software": {}})), None);
    }
}
