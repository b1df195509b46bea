//! Fetching JSON documents from senders' servers: through the SSRF guard,
//! without redirects, with a deadline, a size cap, a bound per host and in
//! all, one fetch per URL at a time (concurrent askers share it), failures
//! remembered for a while. A fetch runs as its own task: a caller that
//! stops waiting (its budget spent) leaves it to finish and fill the cache
//! for the next activity.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actpub_httpsig::{CavageSigner, SigningKey};
use futures_util::FutureExt;
use futures_util::StreamExt;
use futures_util::future::{BoxFuture, Shared};
use prometheus::IntCounterVec;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::guard::{self, PublicResolver};
use crate::config::FetchConfig;
use crate::runtime::unix_ms;

/// What is fetched, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Key,
    Actor,
    Collection,
    Nodeinfo,
    Object,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Key => "key",
            Kind::Actor => "actor",
            Kind::Collection => "collection",
            Kind::Nodeinfo => "nodeinfo",
            Kind::Object => "object",
        }
    }
}

/// A fetched document, or why there is none.
pub type Fetched = Result<Arc<Value>, String>;

/// Queued or running fetches one host may have before more are refused:
/// a sender naming thousands of keyIds on a slow host must not queue
/// thousands of tasks.
const QUEUE_PER_HOST: usize = 64;
/// …and in all (senders naming thousands of hosts).
const QUEUE_ALL: usize = 1024;

/// Entries each memory cache keeps.
const CACHE_ENTRIES: usize = 50_000;

pub struct Fetcher {
    client: reqwest::Client,
    config: FetchConfig,
    signer: Option<(SigningKey, String)>,
    all: Arc<Semaphore>,
    queued: AtomicUsize,
    hosts: Mutex<HashMap<String, Arc<HostSlot>>>,
    in_flight: Mutex<HashMap<String, Shared<BoxFuture<'static, Fetched>>>>,
    /// Documents fetched lately (a fetch that outlived its caller's budget
    /// leaves its document here) and failures not to retry yet.
    recent: TtlCache<Fetched>,
    metrics: IntCounterVec,
}

struct HostSlot {
    permits: Semaphore,
    queued: AtomicUsize,
}

impl Fetcher {
    /// `signer`: the key id and PKCS#8 PEM private key for signed fetches.
    pub fn new(
        config: &FetchConfig,
        signer: Option<(String, String)>,
        metrics: IntCounterVec,
    ) -> Result<Arc<Fetcher>, String> {
        let signer = match signer {
            Some((key_id, pem)) => Some((
                SigningKey::from_pem(&pem).map_err(|e| {
                    format!("fetch.private_key_file: not a PEM private key (PKCS#8 or PKCS#1): {e}")
                })?,
                key_id,
            )),
            None => None,
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms.min(3_000)))
            .dns_resolver(Arc::new(PublicResolver {
                allow_insecure: config.allow_insecure,
            }))
            .no_proxy()
            .user_agent(config.user_agent.clone())
            .pool_max_idle_per_host(config.per_host)
            .build()
            .map_err(|e| format!("cannot build the fetch client: {e}"))?;
        Ok(Arc::new(Fetcher {
            client,
            all: Arc::new(Semaphore::new(config.max_in_flight)),
            queued: AtomicUsize::new(0),
            config: config.clone(),
            signer,
            hosts: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            recent: TtlCache::new(CACHE_ENTRIES),
            metrics,
        }))
    }

    /// Fetch `url` (or share the fetch already under way, or answer what a
    /// recent fetch found). `fresh` skips what recent fetches found.
    pub fn get(
        self: &Arc<Self>,
        url: &str,
        kind: Kind,
        fresh: bool,
    ) -> BoxFuture<'static, Fetched> {
        let url = match guard::check(url, self.config.allow_insecure) {
            Ok(url) => url,
            Err(refused) => {
                self.count(kind, "refused");
                return futures_util::future::ready(Err(refused.to_string())).boxed();
            }
        };
        let key = url.as_str().to_owned();
        let now = unix_ms();
        if !fresh && let Some(found) = self.recent.get(&key, now) {
            self.count(
                kind,
                if found.is_ok() {
                    "cached"
                } else {
                    "failed_recently"
                },
            );
            return futures_util::future::ready(found).boxed();
        }
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = in_flight.get(&key) {
            return shared.clone().boxed();
        }
        let this = self.clone();
        let task_key = key.clone();
        let task = tokio::spawn(async move {
            let result = this.fetch(url, kind).await;
            let ttl = if result.is_ok() {
                120_000
            } else {
                this.config.failure_ttl_s * 1000
            };
            this.recent
                .put(task_key.clone(), result.clone(), unix_ms() + ttl);
            this.in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&task_key);
            result
        });
        let shared = async move {
            task.await
                .unwrap_or_else(|e| Err(format!("the fetch failed: {e}")))
        }
        .boxed()
        .shared();
        in_flight.insert(key, shared.clone());
        shared.boxed()
    }

    async fn fetch(&self, url: url::Url, kind: Kind) -> Fetched {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let slot = self.slot(&host);
        if slot.queued.fetch_add(1, Ordering::SeqCst) >= QUEUE_PER_HOST {
            slot.queued.fetch_sub(1, Ordering::SeqCst);
            self.count(kind, "refused");
            return Err(format!("too many fetches queued for {host}"));
        }
        if self.queued.fetch_add(1, Ordering::SeqCst) >= QUEUE_ALL {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            slot.queued.fetch_sub(1, Ordering::SeqCst);
            self.count(kind, "refused");
            return Err("too many fetches queued".to_owned());
        }
        let result = async {
            let _all = self.all.acquire().await.map_err(|e| e.to_string())?;
            let _host = slot.permits.acquire().await.map_err(|e| e.to_string())?;
            self.request(&url).await
        }
        .await;
        slot.queued.fetch_sub(1, Ordering::SeqCst);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        match &result {
            Ok(_) => self.count(kind, "ok"),
            Err(e) if e.contains("timed out") => self.count(kind, "timeout"),
            Err(_) => self.count(kind, "error"),
        }
        result.map(Arc::new)
    }

    async fn request(&self, url: &url::Url) -> Result<Value, String> {
        let mut request = self.client.get(url.clone()).header(
            "accept",
            "application/activity+json, application/ld+json; \
             profile=\"https://www.w3.org/ns/activitystreams\", application/json",
        );
        if let Some((key, key_id)) = &self.signer {
            request = request.headers(self.signed_get(url, key, key_id)?);
        }
        let response = request.send().await.map_err(|e| describe(url, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        let limit = (self.config.max_kib as usize) << 10;
        if response
            .content_length()
            .is_some_and(|n| n as usize > limit)
        {
            return Err(format!("{url} is larger than {} KiB", self.config.max_kib));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| describe(url, &e))?;
            if body.len() + chunk.len() > limit {
                return Err(format!("{url} is larger than {} KiB", self.config.max_kib));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url} is not JSON: {e}"))
    }

    /// The headers of a GET signed as Mastodon signs its fetches.
    fn signed_get(
        &self,
        url: &url::Url,
        key: &SigningKey,
        key_id: &str,
    ) -> Result<axum::http::HeaderMap, String> {
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let mut req = axum::http::Request::builder()
            .method("GET")
            .uri(url.as_str())
            .header("host", host)
            .header(
                "date",
                httpdate::fmt_http_date(std::time::SystemTime::now()),
            )
            .body(())
            .map_err(|e| e.to_string())?;
        CavageSigner::new(key, key_id)
            .with_headers(["(request-target)", "host", "date"])
            .sign(&mut req)
            .map_err(|e| format!("cannot sign the fetch: {e}"))?;
        let mut headers = req.into_parts().0.headers;
        headers.remove("host");
        Ok(headers)
    }

    fn slot(&self, host: &str) -> Arc<HostSlot> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if hosts.len() >= CACHE_ENTRIES {
            // Forget idle hosts: the map stays bounded whatever senders name.
            hosts.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        hosts
            .entry(host.to_owned())
            .or_insert_with(|| {
                Arc::new(HostSlot {
                    permits: Semaphore::new(self.config.per_host),
                    queued: AtomicUsize::new(0),
                })
            })
            .clone()
    }

    fn count(&self, kind: Kind, result: &str) {
        self.metrics
            .with_label_values(&[kind.label(), result])
            .inc();
    }
}

/// A reqwest error said plainly, with its cause (the guard's refusal
/// surfaces as a resolver error).
fn describe(url: &url::Url, e: &reqwest::Error) -> String {
    let mut message = format!("{url}: ");
    if e.is_timeout() {
        message.push_str("timed out");
        return message;
    }
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut last = String::new();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    message.push_str(&last);
    message
}

/// A bounded map whose entries expire.
pub struct TtlCache<V> {
    entries: Mutex<HashMap<String, (u64, V)>>,
    capacity: usize,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(capacity: usize) -> TtlCache<V> {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    pub fn get(&self, key: &str, now: u64) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: String, value: V, until: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let now = unix_ms();
            entries.retain(|_, (u, _)| *u > now);
            if entries.len() >= self.capacity {
                // Still full of live entries: drop an arbitrary half
                // rather than grow (they are fetched again when needed).
                let drop: Vec<String> = entries.keys().step_by(2).cloned().collect();
                for k in drop {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(key, (until, value));
    }

    pub fn remove(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}
