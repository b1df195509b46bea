//! A scene for sender-verification tests: a [`Remote`] serving actors and
//! keys, an [`Upstream`] that verifies with the remote's keys, and
//! `palisade serve` (in process) in front of the upstream, fetching from
//! the remote.

use std::path::Path;
use std::time::Duration;

use palisade::server::ServeOptions;
use serde_json::{Value, json};

use super::{Answer, Remote, RemoteOptions, SignOptions, Upstream, sign_post};
use crate::{InProcess, TempDir};

/// The admin token of a scene's Palisade.
pub const TOKEN: &str = "test-admin-token";
/// The Host senders sign and Palisade's `local_hosts`.
pub const HOST: &str = "mastodon.example";
/// A local user, for mentions.
pub const LOCAL_USER: &str = "https://mastodon.example/users/alice";

/// A running scene; everything stops when it is dropped.
pub struct Scene {
    pub remote: Remote,
    pub upstream: Upstream,
    pub palisade: InProcess,
    /// Palisade's folder (its configuration's base).
    pub dir: TempDir,
}

/// What a [`Scene`] is made of.
pub struct Setup {
    world: Value,
    remote: RemoteOptions,
    senders: String,
    fetch: String,
    tables: String,
    fetcher_key: Option<String>,
}

impl Setup {
    /// A remote serving `world`; `[senders] verify = true`, `[fetch]
    /// allow_insecure = true` (the remote is on loopback, over http).
    pub fn new(world: Value) -> Setup {
        Setup {
            world,
            remote: RemoteOptions::default(),
            senders: String::new(),
            fetch: "allow_insecure = true\n".into(),
            tables: String::new(),
            fetcher_key: None,
        }
    }

    /// More lines for `[senders]`.
    pub fn senders(mut self, lines: &str) -> Setup {
        self.senders = lines.into();
        self
    }

    /// The lines of `[fetch]` (replacing `allow_insecure = true`).
    pub fn fetch(mut self, lines: &str) -> Setup {
        self.fetch = lines.into();
        self
    }

    /// Tables after the rest (`[thresholds]`, `[learning]`, `[[policy]]`).
    pub fn tables(mut self, text: &str) -> Setup {
        self.tables = text.into();
        self
    }

    pub fn remote(mut self, options: RemoteOptions) -> Setup {
        self.remote = options;
        self
    }

    /// Write `fetcher.pem` in Palisade's folder before it starts: the
    /// private key of `key_id`, a key the remote trusts.
    pub fn fetcher_key(mut self, key_id: &str) -> Setup {
        self.fetcher_key = Some(key_id.into());
        self
    }

    pub async fn start(self) -> Scene {
        let remote = Remote::start_with(self.world, self.remote).await;
        let upstream = Upstream::start(&remote.keys()).await;
        let dir = TempDir::new("senders");
        if let Some(key_id) = &self.fetcher_key {
            let pem = remote.trust_key(key_id);
            std::fs::write(dir.0.join("fetcher.pem"), pem).expect("write the fetcher's key");
        }
        let text = format!(
            "local_hosts = [\"{HOST}\"]\n\
             [server]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\n\
             [admin]\nlisten = \"127.0.0.1:0\"\n[decision_log]\noutput = \"off\"\n\
             [senders]\nverify = true\n{}\n[fetch]\n{}\n{}\n",
            upstream.url, self.senders, self.fetch, self.tables
        );
        let text = crate::established(&text);
        let mut config = palisade::Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        config.base_dir = dir.0.clone();
        let palisade = crate::serve_in_process(
            config,
            ServeOptions {
                admin_token: Some(TOKEN.into()),
                ..Default::default()
            },
        )
        .await;
        Scene {
            remote,
            upstream,
            palisade,
            dir,
        }
    }
}

impl Scene {
    /// Sign `activity` with a key from the keys file `keys` and deliver it
    /// to Palisade's shared inbox, `Host: mastodon.example`. Unless `opts`
    /// names a key, an actor of the remote signs with its own keyId (which
    /// depends on its server's style).
    pub async fn deliver_with(
        &self,
        keys: &Path,
        activity: &[u8],
        opts: &SignOptions,
    ) -> Vec<Answer> {
        let url = format!("{}/inbox", self.palisade.url);
        let mut opts = opts.clone();
        if opts.key_id.is_none() {
            let prefix = format!("{}/users/", self.remote.base());
            let parsed: Value = serde_json::from_slice(activity).unwrap_or_default();
            if let Some(name) = parsed["actor"]
                .as_str()
                .and_then(|a| a.strip_prefix(&prefix))
            {
                opts.key_id = Some(self.remote.key_id(name));
            }
        }
        sign_post(keys, &url, HOST, activity, &opts).await
    }

    /// Deliver `activity` signed with the remote's own keys; the status the
    /// sender got.
    pub async fn deliver(&self, activity: &[u8], opts: &SignOptions) -> u16 {
        self.deliver_with(&self.remote.keys(), activity, opts).await[0].status
    }

    /// Every decision so far, oldest first, as the admin API shows them.
    pub async fn decisions(&self) -> Vec<Value> {
        let r: Value = reqwest::Client::new()
            .get(format!(
                "{}/admin/v1/decisions?limit=1000",
                self.palisade.admin
            ))
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .expect("the admin API answers")
            .json()
            .await
            .expect("JSON");
        let mut all = r["decisions"].as_array().expect("decisions").clone();
        all.reverse();
        all
    }

    /// The latest decision.
    pub async fn last(&self) -> Value {
        self.decisions().await.pop().expect("a decision")
    }

    /// What the upstream got whose body is `activity`.
    pub async fn delivered(&self, activity: &[u8]) -> Vec<Value> {
        let sha = palisade::runtime::sha256_hex(activity);
        self.upstream
            .received()
            .await
            .into_iter()
            .filter(|r| r["bodySha256"] == sha.as_str())
            .collect()
    }

    /// The sum of Palisade's counter `name` over the series whose labels
    /// include every one of `labels` (`status="verified"`).
    pub async fn counter(&self, name: &str, labels: &[&str]) -> f64 {
        crate::metrics(&self.palisade.url)
            .await
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter(|l| labels.iter().all(|want| l.contains(want)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// `decision.sender.status`.
pub fn status(decision: &Value) -> &str {
    decision["sender"]["status"]
        .as_str()
        .unwrap_or_else(|| panic!("no sender in the decision: {decision:#}"))
}

/// A public `Create{Note}` by `actor` with `text`, unique by `n`,
/// mentioning `mention` if given.
pub fn note(actor: &str, n: usize, text: &str, mention: Option<&str>) -> Vec<u8> {
    let id = format!("{actor}/statuses/{n}");
    let (content, tag) = match mention {
        Some(m) => (
            format!(
                "<p><span class=\"h-card\"><a href=\"{m}\" class=\"u-url mention\">@alice</a></span> {text}</p>"
            ),
            json!([{"type": "Mention", "href": m, "name": "@alice@mastodon.example"}]),
        ),
        None => (format!("<p>{text}</p>"), json!([])),
    };
    serde_json::to_vec_pretty(&json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{id}/activity"),
        "type": "Create",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": id,
            "type": "Note",
            "attributedTo": actor,
            "content": content,
            "tag": tag,
            "to": ["https://www.w3.org/ns/activitystreams#Public"]
        }
    }))
    .expect("JSON")
}

/// RFC 3339 for `hours` ago.
pub fn hours_ago(hours: u64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::SystemTime::now() - Duration::from_secs(hours * 3600),
    )
    .to_string()
}
