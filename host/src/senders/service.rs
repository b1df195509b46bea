//! The sidecar's sender verification: claim → key (cache, shared state,
//! fetch) → check → facts, all within the fetch budget.

use std::sync::Arc;
use std::time::Duration;

use actpub_httpsig::VerifyingKey;
use prometheus::IntCounterVec;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::time::{Instant, timeout_at};

use super::documents::{self, PublishedKey};
use super::fetch::{Fetcher, Kind, TtlCache};
use super::verify::{self, Claim, Failure, Signed};
use super::{ActorFacts, Sender, same_host};
use crate::config::{Config, FetchConfig, SendersConfig};
use crate::runtime::unix_ms;
use crate::state::StateBackend;

/// Where keys and facts are shared between replicas, apart from every
/// module's namespace (module names cannot contain NUL).
const NS: &str = "palisade\0fetch";

/// A key is fetched afresh on a mismatch at most this often (a rotated
/// key is picked up; bad signatures naming a victim's key do not make
/// Palisade hammer the victim's server).
const REFRESH_EVERY_MS: u64 = 60_000;

struct CachedKey {
    published: PublishedKey,
    verifying: VerifyingKey,
}

pub struct Senders {
    config: SendersConfig,
    fetch: FetchConfig,
    fetcher: Arc<Fetcher>,
    keys: TtlCache<Arc<CachedKey>>,
    refreshed: TtlCache<()>,
    /// Signatures that verified, to tell a replay.
    seen: TtlCache<()>,
    facts: TtlCache<Arc<ActorFacts>>,
    software: TtlCache<Option<String>>,
    state: Arc<dyn StateBackend>,
    results: IntCounterVec,
}

impl Senders {
    /// `results` counts verification results (`status`, `reason`);
    /// `fetches` counts fetches (`kind`, `result`).
    pub fn new(
        config: &Config,
        state: Arc<dyn StateBackend>,
        results: IntCounterVec,
        fetches: IntCounterVec,
    ) -> Result<Arc<Senders>, String> {
        let signer = match (&config.fetch.key_id, &config.fetch.private_key_file) {
            (Some(key_id), Some(file)) => {
                let path = config.resolve(file);
                let pem = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "fetch.private_key_file: cannot read {}: {e}",
                        path.display()
                    )
                })?;
                Some((key_id.clone(), pem))
            }
            _ => None,
        };
        Ok(Arc::new(Senders {
            config: config.senders.clone(),
            fetch: config.fetch.clone(),
            fetcher: Fetcher::new(&config.fetch, signer, fetches)?,
            keys: TtlCache::new(50_000),
            refreshed: TtlCache::new(50_000),
            seen: TtlCache::new(100_000),
            facts: TtlCache::new(50_000),
            software: TtlCache::new(10_000),
            state,
            results,
        }))
    }

    /// Who signed this request.
    pub async fn verify(self: &Arc<Self>, req: &Signed<'_>) -> Sender {
        let sender = self.verify_within_budget(req).await;
        let (status, reason) = match &sender {
            Sender::Signed { .. } | Sender::Trusted { .. } => ("verified", "ok"),
            Sender::Unsigned => ("unverified", "unsigned"),
            Sender::Unverified { reason, .. } if reason.contains("budget") => {
                ("unverified", "budget")
            }
            Sender::Unverified { reason, .. } if reason.contains("not supported") => {
                ("unverified", "unsupported")
            }
            Sender::Unverified { .. } => ("unverified", "key_unavailable"),
            Sender::Invalid { reason, .. } => ("invalid", invalid_label(reason)),
        };
        self.results.with_label_values(&[status, reason]).inc();
        sender
    }

    async fn verify_within_budget(self: &Arc<Self>, req: &Signed<'_>) -> Sender {
        if !self.config.verify {
            return Sender::Unverified {
                key_id: None,
                reason: "signatures are not verified (`[senders] verify = false`)".into(),
            };
        }
        let key_id = match verify::claim(req.headers) {
            Claim::Unsigned => return Sender::Unsigned,
            Claim::Malformed(reason) => {
                return Sender::Invalid {
                    key_id: None,
                    reason,
                };
            }
            Claim::Signed { key_id, .. } => key_id,
        };
        let deadline = Instant::now() + Duration::from_millis(self.fetch.budget_ms);
        let unverified = |reason: String| Sender::Unverified {
            key_id: Some(key_id.clone()),
            reason,
        };
        let mut key = match timeout_at(deadline, self.key(&key_id, false)).await {
            Ok(Ok(key)) => key,
            Ok(Err(e)) => return unverified(format!("the key could not be had: {e}")),
            Err(_) => {
                return unverified(format!(
                    "the key was not fetched within the budget ({} ms, `[fetch] budget_ms`); \
                     the fetch goes on for the next delivery",
                    self.fetch.budget_ms
                ));
            }
        };
        let mut result = verify::check(req, &key.verifying, &self.config, unix_ms());
        if result == Err(Failure::Mismatch) && self.may_refresh(&key_id) {
            // Perhaps the key was rotated: fetch it once more.
            match timeout_at(deadline, self.key(&key_id, true)).await {
                Ok(Ok(fresh)) => {
                    result = verify::check(req, &fresh.verifying, &self.config, unix_ms());
                    key = fresh;
                }
                _ => {
                    return unverified(
                        "the signature does not match the cached key, and the key could not \
                         be fetched again in time"
                            .into(),
                    );
                }
            }
        }
        match result {
            Ok(()) if self.replayed(req) => {
                return unverified("a replay: this very signature was seen before".into());
            }
            Ok(()) => {}
            Err(Failure::Unsupported(reason)) => return unverified(reason),
            Err(failure) => {
                return Sender::Invalid {
                    key_id: Some(key_id),
                    reason: failure.to_string(),
                };
            }
        }
        let owner = key.published.owner.clone();
        let facts = if self.fetch.facts {
            let this = self.clone();
            let id = owner.clone();
            // Its own task: if the budget runs out, the facts still land
            // in the cache for the next activity.
            let task = tokio::spawn(async move { this.facts(&id).await });
            timeout_at(deadline, task)
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
        } else {
            None
        };
        Sender::Signed {
            key_id,
            owner,
            facts,
        }
    }

    /// Whether this very signature verified before (and remember it for
    /// as long as it may be accepted). In this process: a replay sent to
    /// another replica is caught there.
    fn replayed(&self, req: &Signed<'_>) -> bool {
        let mut digest = Sha256::new();
        for name in ["signature-input", "signature"] {
            if let Some(v) = req.headers.get(name) {
                digest.update(v.as_bytes());
                digest.update(b"\n");
            }
        }
        let key = hex::encode(digest.finalize());
        let now = unix_ms();
        if self.seen.get(&key, now).is_some() {
            return true;
        }
        let window = (self.config.max_age_s + self.config.max_future_s) * 1000;
        self.seen.put(key, (), now + window);
        false
    }

    fn may_refresh(&self, key_id: &str) -> bool {
        let now = unix_ms();
        if self.refreshed.get(key_id, now).is_some() {
            return false;
        }
        self.refreshed
            .put(key_id.to_owned(), (), now + REFRESH_EVERY_MS);
        true
    }

    /// The key `key_id`: from memory, from the shared state, or fetched.
    async fn key(&self, key_id: &str, fresh: bool) -> Result<Arc<CachedKey>, String> {
        let now = unix_ms();
        if !fresh {
            if let Some(key) = self.keys.get(key_id, now) {
                return Ok(key);
            }
            if let Some(published) = self.shared::<PublishedKey>("key", key_id).await
                && let Ok(key) = self.remember_key(key_id, published, false)
            {
                return Ok(key);
            }
        }
        let doc = self.fetcher.get(key_id, Kind::Key, fresh).await?;
        let published = documents::find_key(&doc, key_id)?;
        self.remember_key(key_id, published, true)
    }

    fn remember_key(
        &self,
        key_id: &str,
        published: PublishedKey,
        share: bool,
    ) -> Result<Arc<CachedKey>, String> {
        let verifying = published.verifying_key()?;
        if share {
            self.share("key", key_id, &published);
        }
        let key = Arc::new(CachedKey {
            published,
            verifying,
        });
        self.keys.put(
            key_id.to_owned(),
            key.clone(),
            unix_ms() + self.fetch.ttl_s * 1000,
        );
        Ok(key)
    }

    /// What the actor's server says about it (fetches in parallel: the
    /// actor document first, then its collections and NodeInfo).
    async fn facts(&self, id: &str) -> Option<Arc<ActorFacts>> {
        let now = unix_ms();
        if let Some(facts) = self.facts.get(id, now) {
            return Some(facts);
        }
        if let Some(facts) = self.shared::<ActorFacts>("facts", id).await {
            let facts = Arc::new(facts);
            self.facts
                .put(id.to_owned(), facts.clone(), now + self.fetch.ttl_s * 1000);
            return Some(facts);
        }
        let doc = self.fetcher.get(id, Kind::Actor, false).await.ok()?;
        if !documents::is_actor(&doc, id) {
            return None;
        }
        let (mut facts, followers, following) = documents::facts(&doc);
        let count = |url: Option<String>| async move {
            let url = url.filter(|u| same_host(u, id))?;
            let doc = self.fetcher.get(&url, Kind::Collection, false).await.ok()?;
            documents::total_items(&doc)
        };
        let (followers, following, software) =
            tokio::join!(count(followers), count(following), self.software(id));
        facts.followers = followers;
        facts.following = following;
        facts.software = software;
        self.share("facts", id, &facts);
        let facts = Arc::new(facts);
        self.facts.put(
            id.to_owned(),
            facts.clone(),
            unix_ms() + self.fetch.ttl_s * 1000,
        );
        Some(facts)
    }

    /// The software of the server hosting `id`, from its NodeInfo.
    async fn software(&self, id: &str) -> Option<String> {
        let url = url::Url::parse(id).ok()?;
        let origin = url.origin().ascii_serialization();
        let now = unix_ms();
        if let Some(known) = self.software.get(&origin, now) {
            return known;
        }
        let found = async {
            let well_known = format!("{origin}/.well-known/nodeinfo");
            let links = self
                .fetcher
                .get(&well_known, Kind::Nodeinfo, false)
                .await
                .ok()?;
            let link = documents::nodeinfo_link(&links)?;
            let doc = self.fetcher.get(&link, Kind::Nodeinfo, false).await.ok()?;
            documents::software(&doc)
        }
        .await;
        self.software
            .put(origin, found.clone(), now + self.fetch.ttl_s * 1000);
        found
    }

    /// Fetch a `Create`'s object given by URI, for judging. Only an object
    /// on the actor's own host is taken: a server speaks for its own posts.
    pub async fn object(&self, uri: &str, actor: &str) -> Result<Arc<Value>, String> {
        if !same_host(uri, actor) {
            return Err(format!("the object {uri} is not on the actor's host"));
        }
        let deadline = Instant::now() + Duration::from_millis(self.fetch.budget_ms);
        let doc = timeout_at(deadline, self.fetcher.get(uri, Kind::Object, false))
            .await
            .map_err(|_| format!("{uri} was not fetched within the budget"))??;
        if doc.get("id").and_then(Value::as_str) != Some(uri) {
            return Err(format!("the document at {uri} is not that object"));
        }
        Ok(doc)
    }

    /// Read what another replica shared (on a blocking thread: the state
    /// may be Redis).
    async fn shared<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        kind: &str,
        id: &str,
    ) -> Option<T> {
        let state = self.state.clone();
        let key = format!("{kind}\0{id}");
        let bytes = tokio::task::spawn_blocking(move || state.get(NS, &key, unix_ms()))
            .await
            .ok()?
            .ok()??;
        serde_json::from_slice(&bytes).ok()
    }

    /// Share with other replicas, in the background.
    fn share<T: serde::Serialize>(&self, kind: &str, id: &str, value: &T) {
        let Ok(bytes) = serde_json::to_vec(value) else {
            return;
        };
        let state = self.state.clone();
        let key = format!("{kind}\0{id}");
        let ttl = u32::try_from(self.fetch.ttl_s).unwrap_or(u32::MAX);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = state.put(NS, &key, &bytes, ttl, unix_ms()) {
                tracing::debug!(error = %e, "cannot share a fetched key or facts");
            }
        });
    }
}

fn invalid_label(reason: &str) -> &'static str {
    if reason.contains("igest") {
        "digest"
    } else if reason.contains("too old") || reason.contains("future") || reason.contains("expired")
    {
        "expired"
    } else if reason.contains("does not match the key") {
        "mismatch"
    } else {
        "malformed"
    }
}
