//! The signature harness (`tests/signatures`, Node.js) driven from Rust:
//! keys files, a fake Fediverse server serving actors and keys
//! ([`Remote`]), a verifying upstream ([`Upstream`]) and a signer
//! ([`sign_post`]). The signing and verifying are done by an HTTP-signature
//! library nobody on this project wrote (Misskey's), so a test of
//! Palisade's verification is a test against the Fediverse, not against
//! itself. `tests/signatures/README.md` describes the scripts.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{TempDir, root};

pub mod scene;

/// How long a harness process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// `tests/signatures`.
pub fn harness() -> PathBuf {
    root().join("tests/signatures")
}

/// Install the harness's npm packages (once per test process, and only
/// when one is missing).
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| crate::npm_ci(&harness()));
}

/// The kind of key pair `keys.mjs` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Rsa,
    Ed25519,
}

impl KeyType {
    fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

/// Add fresh key pairs for `key_ids` to the keys file `file` (kept when
/// already there, replaced when `rotate`).
pub fn make_keys(file: &Path, key_ids: &[String], kind: KeyType, rotate: bool) {
    install();
    if key_ids.is_empty() {
        return;
    }
    let mut cmd = std::process::Command::new("node");
    cmd.arg("keys.mjs")
        .arg("--out")
        .arg(file)
        .args(["--type", kind.as_str()])
        .current_dir(harness())
        .stdout(Stdio::null());
    if rotate {
        cmd.arg("--rotate");
    }
    for id in key_ids {
        cmd.args(["--key-id", id]);
    }
    let ok = cmd.status().expect("run node keys.mjs");
    assert!(ok.success(), "keys.mjs failed for {key_ids:?}");
}

/// The private key (PKCS#8 PEM) of `key_id` in the keys file `file`.
pub fn private_key_pem(file: &Path, key_id: &str) -> String {
    let keys: Value = serde_json::from_slice(&std::fs::read(file).expect("read the keys file"))
        .expect("the keys file is JSON");
    keys[key_id]["privateKeyPem"]
        .as_str()
        .unwrap_or_else(|| panic!("{key_id} is not in {}", file.display()))
        .to_owned()
}

/// A keys file with a key for every actor in `examples/activities` (made
/// once per test process).
pub fn example_keys() -> &'static Path {
    static KEYS: OnceLock<PathBuf> = OnceLock::new();
    KEYS.get_or_init(|| {
        install();
        let file = std::env::temp_dir().join(format!("palisade-keys-{}.json", std::process::id()));
        let ok = std::process::Command::new("node")
            .arg("keys.mjs")
            .arg("--out")
            .arg(&file)
            .current_dir(harness())
            .stdout(Stdio::null())
            .status()
            .expect("run node");
        assert!(ok.success());
        file
    })
}

/// Wait for a harness process's `LISTENING <port>` line.
async fn listening(child: &mut Child, what: &str) -> u16 {
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let line = tokio::time::timeout(START_TIMEOUT, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("{what} did not start in time"))
        .expect("read its output")
        .unwrap_or_else(|| panic!("{what} exited before listening"));
    line.strip_prefix("LISTENING ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{what} said {line:?}, not LISTENING <port>"))
}

/// GET `url` as JSON, within a bound.
async fn get_json(url: &str) -> Value {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client");
    client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

async fn post(url: &str) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client");
    let r = client
        .post(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    assert!(r.status().is_success(), "POST {url}: {}", r.status());
}

/// The verifying upstream (`upstream.mjs`): answers 202 to a POST whose
/// signature verifies against its keys file, 401 otherwise, and records
/// what it got. Killed on drop.
pub struct Upstream {
    _child: Child,
    pub url: String,
}

impl Upstream {
    /// Start one that verifies with the keys in `keys`.
    pub async fn start(keys: &Path) -> Upstream {
        install();
        let mut child = Command::new("node")
            .arg("upstream.mjs")
            .arg("0")
            .env("KEYS_FILE", keys)
            .current_dir(harness())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the upstream");
        let port = listening(&mut child, "upstream.mjs").await;
        Upstream {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The POSTs it received, oldest first: `{method, path, host, date,
    /// format, keyId, verified, error, bodySha256, bodyLength, receivedAt}`.
    pub async fn received(&self) -> Vec<Value> {
        let all = get_json(&format!("{}/_received", self.url)).await;
        all.as_array()
            .expect("an array")
            .iter()
            .filter(|x| x["method"] == "POST")
            .cloned()
            .collect()
    }
}

/// How a [`Remote`] behaves besides its world.
#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    /// Refuse unsigned or badly signed GETs with 401 (Mastodon's
    /// "secure mode").
    pub authorized_fetch: bool,
    /// Answer every request this late.
    pub delay_ms: u64,
}

/// A fake Fediverse server (`remote.mjs`) on loopback, serving actor
/// documents, keys, collections, NodeInfo and notes from a world file, with
/// a key per actor in its own keys file. Killed on drop.
pub struct Remote {
    _child: Child,
    base: String,
    dir: TempDir,
}

impl Remote {
    /// Start one serving `world` (see `tests/signatures/README.md`); every
    /// actor in it gets a fresh key of its `key_type`.
    pub async fn start(world: Value, authorized_fetch: bool) -> Remote {
        Self::start_with(
            world,
            RemoteOptions {
                authorized_fetch,
                ..Default::default()
            },
        )
        .await
    }

    pub async fn start_with(world: Value, options: RemoteOptions) -> Remote {
        install();
        let dir = TempDir::new("remote");
        let world_file = dir.0.join("world.json");
        write_atomically(&world_file, &world);
        let mut cmd = Command::new("node");
        cmd.arg("remote.mjs")
            .arg("0")
            .arg("--keys")
            .arg(dir.0.join("keys.json"))
            .arg("--world")
            .arg(&world_file)
            .current_dir(harness())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if options.authorized_fetch {
            cmd.arg("--authorized-fetch");
        }
        if options.delay_ms > 0 {
            cmd.args(["--delay-ms", &options.delay_ms.to_string()]);
        }
        let mut child = cmd.spawn().expect("start remote.mjs");
        let port = listening(&mut child, "remote.mjs").await;
        let remote = Remote {
            _child: child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        // Keys name the port, so they are made once it is known.
        let actors = world["actors"].as_object().cloned().unwrap_or_default();
        for kind in [KeyType::Rsa, KeyType::Ed25519] {
            let ids: Vec<String> = actors
                .iter()
                .filter(|(_, facts)| key_type(facts) == kind)
                .map(|(name, facts)| remote.key_id_for(name, facts))
                .collect();
            make_keys(&remote.keys(), &ids, kind, false);
        }
        remote
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The id of the actor `name`: `<base>/users/<name>`.
    pub fn actor_id(&self, name: &str) -> String {
        format!("{}/users/{name}", self.base)
    }

    /// The keyId `name` signs with: `<actor>#main-key`, or `<actor>/main-key`
    /// for a GoToSocial-style actor.
    pub fn key_id(&self, name: &str) -> String {
        self.key_id_for(name, &self.world()["actors"][name])
    }

    fn key_id_for(&self, name: &str, facts: &Value) -> String {
        match facts["key_style"].as_str() {
            Some("gotosocial") => format!("{}/main-key", self.actor_id(name)),
            _ => format!("{}#main-key", self.actor_id(name)),
        }
    }

    /// The keys file: every actor's key pair (senders sign with it; an
    /// upstream given it verifies what they sign).
    pub fn keys(&self) -> PathBuf {
        self.dir.0.join("keys.json")
    }

    fn world_file(&self) -> PathBuf {
        self.dir.0.join("world.json")
    }

    /// The world as it is now.
    pub fn world(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.world_file()).expect("read the world"))
            .expect("the world is JSON")
    }

    fn set_world(&self, world: &Value) {
        write_atomically(&self.world_file(), world);
    }

    /// Add (or replace) the actor `name` with `facts` and give it a key if
    /// it has none.
    pub fn add_actor(&self, name: &str, facts: Value) {
        let mut world = self.world();
        if !world["actors"].is_object() {
            world["actors"] = json!({});
        }
        world["actors"][name] = facts.clone();
        let key_id = self.key_id_for(name, &facts);
        make_keys(&self.keys(), &[key_id], key_type(&facts), false);
        self.set_world(&world);
    }

    /// Serve `note` (a Note's JSON, without its id) at `<base>/notes/<id>`;
    /// the URL.
    pub fn add_note(&self, id: &str, note: Value) -> String {
        let mut world = self.world();
        if !world["notes"].is_object() {
            world["notes"] = json!({});
        }
        world["notes"][id] = note;
        self.set_world(&world);
        format!("{}/notes/{id}", self.base)
    }

    /// A new key pair for `name` under the same keyId, as its server would
    /// rotate it; the remote serves the new public key from now on.
    pub fn rotate_key(&self, name: &str) {
        let facts = self.world()["actors"][name].clone();
        make_keys(&self.keys(), &[self.key_id(name)], key_type(&facts), true);
    }

    /// Add a key pair the remote trusts without fetching it (a fetcher's
    /// own key, for authorized fetch); its private key as PKCS#8 PEM.
    pub fn trust_key(&self, key_id: &str) -> String {
        make_keys(&self.keys(), &[key_id.to_owned()], KeyType::Rsa, false);
        private_key_pem(&self.keys(), key_id)
    }

    /// A keys file holding another key pair under `name`'s keyId: what a
    /// forger signing "as" `name` has.
    pub fn forged_keys(&self, name: &str) -> PathBuf {
        let file = self.dir.0.join(format!("forged-{name}.json"));
        let facts = self.world()["actors"][name].clone();
        make_keys(&file, &[self.key_id(name)], key_type(&facts), true);
        file
    }

    /// Every request so far, oldest first: `{method, path, signed, keyId,
    /// verified, error, status}` (`status` is null while it is unanswered;
    /// bytes that were not HTTP appear with a null method).
    pub async fn requests(&self) -> Vec<Value> {
        get_json(&format!("{}/_requests", self.base))
            .await
            .as_array()
            .expect("an array")
            .clone()
    }

    /// How many GETs of `path` it has seen.
    pub async fn fetches(&self, path: &str) -> usize {
        self.requests()
            .await
            .iter()
            .filter(|r| r["method"] == "GET" && r["path"] == path)
            .count()
    }

    /// Forget the requests so far.
    pub async fn reset(&self) {
        post(&format!("{}/_reset", self.base)).await;
    }
}

fn key_type(facts: &Value) -> KeyType {
    match facts["key_type"].as_str() {
        Some("ed25519") => KeyType::Ed25519,
        _ => KeyType::Rsa,
    }
}

/// Write JSON so that a reader never sees half of it.
fn write_atomically(path: &Path, value: &Value) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value).expect("JSON")).expect("write");
    std::fs::rename(&tmp, path).expect("rename into place");
}

/// The signature format a sender uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// draft-cavage `Signature:` with `Digest:` (Mastodon, Misskey, …).
    #[default]
    Cavage,
    /// RFC 9421 `Signature-Input:`/`Signature:` with `Content-Digest:`.
    Rfc9421,
}

/// How [`sign_post`] signs and sends (`sign.mjs`'s options).
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    pub format: Format,
    /// Cavage: `rsa-sha256` (the default for RSA keys) or `hs2019`.
    pub algorithm: Option<String>,
    /// Default: the activity's actor + `#main-key`.
    pub key_id: Option<String>,
    /// Sign as if this many seconds ago (negative: in the future).
    pub created_offset_s: i64,
    /// Send no Digest / Content-Digest and leave it out of the signature.
    pub no_digest: bool,
    /// Send no signature at all.
    pub unsigned: bool,
    /// Send the identical request this many times (0 or 1: once).
    pub repeat: u32,
    /// Flip the low bit of this body byte after signing.
    pub flip_byte: Option<usize>,
    /// Headers added (or replacing signed ones) after signing.
    pub headers: Vec<(String, String)>,
    /// RFC 9421: the signature parameters in the order sent (default
    /// `created,keyid,alg`).
    pub rfc9421_params: Option<String>,
}

/// What the receiver answered one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Sign `activity` with a key from the keys file `keys` and POST it to
/// `url` with `Host: host` (signed); one answer per request sent.
pub async fn sign_post(
    keys: &Path,
    url: &str,
    host: &str,
    activity: &[u8],
    opts: &SignOptions,
) -> Vec<Answer> {
    install();
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let file = std::env::temp_dir().join(format!(
        "palisade-activity-{}-{}.json",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&file, activity).expect("write the activity");
    let mut cmd = Command::new("node");
    cmd.arg("sign.mjs")
        .arg("--keys")
        .arg(keys)
        .args(["--url", url, "--host", host])
        .current_dir(harness())
        .kill_on_drop(true);
    if opts.format == Format::Rfc9421 {
        cmd.args(["--format", "rfc9421"]);
    }
    if let Some(a) = &opts.algorithm {
        cmd.args(["--algorithm", a]);
    }
    if let Some(k) = &opts.key_id {
        cmd.args(["--key-id", k]);
    }
    if opts.created_offset_s != 0 {
        cmd.args(["--created-offset-s", &opts.created_offset_s.to_string()]);
    }
    if opts.no_digest {
        cmd.arg("--no-digest");
    }
    if opts.unsigned {
        cmd.arg("--unsigned");
    }
    if opts.repeat > 1 {
        cmd.args(["--repeat", &opts.repeat.to_string()]);
    }
    if let Some(n) = opts.flip_byte {
        cmd.args(["--flip-byte", &n.to_string()]);
    }
    if let Some(p) = &opts.rfc9421_params {
        cmd.args(["--rfc9421-params", p]);
    }
    for (k, v) in &opts.headers {
        cmd.args(["--header", &format!("{k}:{v}")]);
    }
    cmd.arg(&file);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("sign.mjs finished in time")
        .expect("run sign.mjs");
    std::fs::remove_file(&file).ok();
    assert!(
        out.status.success(),
        "sign.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("sign.mjs printed {line:?}: {e}"));
            Answer {
                status: v["status"].as_u64().expect("a status") as u16,
                body: v["body"].as_str().unwrap_or_default().to_owned(),
            }
        })
        .collect()
}
