//! Helpers for Palisade's end-to-end tests: test modules compiled from
//! source, the corpus of real ActivityPub payloads, a Palisade built from
//! a configuration string, and ([`remote`]) the signature harness: real
//! HTTP signatures, a verifying upstream and a fake Fediverse server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use palisade::pipeline::Envelope;
use palisade::{Config, Decision, Palisade};

pub mod remote;
pub mod scenario;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_owned()
}

/// The real ActivityPub payloads vendored in `tests/corpus` (sources and
/// licences in `tests/corpus/SOURCES.md`).
pub fn corpus_dir() -> PathBuf {
    let dir = root().join("tests/corpus/public");
    assert!(dir.is_dir(), "the corpus is missing at {}", dir.display());
    dir
}

/// Every corpus document, with its file name.
pub fn corpus() -> Vec<(String, String)> {
    let mut docs: Vec<(String, String)> = std::fs::read_dir(corpus_dir())
        .expect("read the corpus")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                std::fs::read_to_string(&p).expect("read a corpus file"),
            )
        })
        .collect();
    docs.sort();
    docs
}

/// A file from `examples/activities/`.
pub fn example(name: &str) -> String {
    std::fs::read_to_string(root().join("examples/activities").join(name))
        .expect("read an example activity")
}

/// Build the test modules in `tests/fixtures/` and the example modules for
/// wasm32-wasip2 (once per test process; cargo's lock serialises concurrent
/// processes) and return the path of `name`'s component.
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let target = root().join("target/guest");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(root())
            .args([
                "build",
                "--locked",
                "--profile",
                "wasm",
                "--target",
                "wasm32-wasip2",
                "--quiet",
            ])
            .arg("--target-dir")
            .arg(&target);
        for entry in std::fs::read_dir(root().join("tests/fixtures")).expect("read tests/fixtures")
        {
            let entry = entry.expect("fixture entry");
            cmd.arg("-p").arg(entry.file_name());
        }
        cmd.args(["-p", "hashtag-stuffing"]);
        for var in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
        ] {
            cmd.env_remove(var);
        }
        let status = cmd.status().expect("run cargo to build the test modules");
        assert!(status.success(), "building the test modules failed");
        target.join("wasm32-wasip2/wasm")
    });
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    assert!(path.is_file(), "no test module at {}", path.display());
    path
}

/// A Palisade started from configuration text (paths relative to `base`).
pub fn palisade(config_text: &str, base: &Path) -> Palisade {
    let config = config_text;
    let mut config = Config::parse(config).unwrap_or_else(|e| panic!("test configuration: {e}"));
    config.base_dir = base.to_owned();
    if !config_mentions_state(config_text) {
        // State in memory unless the test is about state: each test starts
        // from nothing, and nothing is written beside the sources.
        config.state.url = "memory".into();
    }
    if !config_text.lines().any(|l| l.trim() == "[learning]") {
        // As [`established`].
        config.learning.hours = 0;
    }
    Palisade::new(&config, None).expect("palisade starts")
}

/// Judge one document as an inbound activity received now.
pub fn judge(p: &Palisade, body: &str) -> Decision {
    p.policies().judge(body, &Envelope::inbound_now())
}

/// A minimal Create{Note} by `actor` with `text`.
pub fn note(actor: &str, text: &str) -> String {
    serde_json::json!({
        "type": "Create",
        "id": format!("{actor}/activities/{}", text.len()),
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"type": "Note", "content": format!("<p>{text}</p>")}
    })
    .to_string()
}

fn config_mentions_state(config: &str) -> bool {
    config.lines().any(|l| l.trim() == "[state]")
}

/// A free loopback port (bound, then released for the caller to use).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind loopback")
        .local_addr()
        .expect("local address")
        .port()
}

/// A real `redis-server` (Debian's package; `make test` installs it) on a
/// loopback port, without persistence; killed on drop.
pub struct RedisServer {
    child: std::process::Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_on(free_port())
    }

    /// Start on `port` (to restart one that was stopped).
    pub fn start_on(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect(
                "start redis-server: install Debian's redis-server package (`make setup` does)",
            );
        let server = RedisServer { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while server.command("PING").as_deref() != Some("+PONG") {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not answer on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Send one inline command; the first line of the reply.
    pub fn command(&self, command: &str) -> Option<String> {
        use std::io::{BufRead, BufReader, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .ok()?;
        conn.write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut line = String::new();
        BufReader::new(conn).read_line(&mut line).ok()?;
        Some(line.trim_end().to_owned())
    }

    /// Stop it (as a crash would: no chance to save).
    pub fn kill(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `palisade` binary, built (once per test process) as `cargo build`
/// builds it.
pub fn binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cmd.current_dir(root()).args([
                "build", "--locked", "--quiet", "-p", "palisade", "--bin", "palisade",
            ]);
            for var in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET"] {
                cmd.env_remove(var);
            }
            let status = cmd.status().expect("run cargo to build palisade");
            assert!(status.success(), "building palisade failed");
            root().join("target/debug/palisade")
        })
        .clone()
}

/// A `palisade serve` process on an ephemeral port; killed on drop.
pub struct Serve {
    child: std::process::Child,
    pub url: String,
    /// Its log (standard error), collected in the background.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Serve {
    /// Run `palisade serve --config CONFIG --listen 127.0.0.1:0 ARGS...`.
    pub fn start(config: &Path, args: &[&str]) -> Serve {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(binary())
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("PALISADE_LOG", "info")
            .env_remove("PALISADE_ADMIN_TOKEN")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start palisade serve");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listen=Some(") {
                    let rest = &line[i + "listen=Some(".len()..];
                    let _ = tx.send(rest[..rest.find(')').unwrap_or(rest.len())].to_owned());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("palisade serve did not start:\n{}", log.lock().unwrap()));
        Serve {
            child,
            url: format!("http://{addr}"),
            log,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Send it SIGTERM, as a service manager stopping it would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Wait at most `timeout` for it to exit; its status if it did.
    pub fn wait_for_exit(
        &mut self,
        timeout: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the process") {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python example module (`examples/python-module`, `mention-density`),
/// built by its `build.sh` once per test process, and the path of its
/// component. The first build installs componentize-py from PyPI into
/// `target/guest-py/venv`.
pub fn python_module() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            require_tool(
                "python3",
                &["-c", "import venv, ensurepip"],
                "the Python example module needs Python 3 with its venv and pip modules \
                 (Debian: apt-get install python3 python3-venv)",
            );
            build_guest(
                "examples/python-module",
                "target/guest-py/mention-density.wasm",
            )
        })
        .clone()
}

/// The JavaScript example module (`examples/js-module`, `new-actor-media`),
/// built by its `build.sh` once per test process, and the path of its
/// component. The first build installs componentize-qjs from npm with
/// `npm ci`.
pub fn js_module() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let why = "the JavaScript example module needs Node.js 18 or later with npm \
                       (Debian: apt-get install nodejs npm)";
            require_tool("node", &["--version"], why);
            require_tool("npm", &["--version"], why);
            build_guest("examples/js-module", "target/guest-js/new-actor-media.wasm")
        })
        .clone()
}

/// Panic with `why` unless `tool args...` runs and succeeds.
fn require_tool(tool: &str, args: &[&str], why: &str) {
    match Command::new(tool).args(args).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`{tool} {}` failed: {why}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run `{tool}` ({e}): {why}"),
    }
}

/// Run `dir/build.sh` and return `output` (both relative to the workspace
/// root), panicking with the script's output if it fails.
fn build_guest(dir: &str, output: &str) -> PathBuf {
    let script = root().join(dir).join("build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} with bash: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = root().join(output);
    assert!(
        path.is_file(),
        "{} succeeded but left no module at {}",
        script.display(),
        path.display()
    );
    path
}

/// `text` with the learning period off unless it sets one: a test starts
/// from empty state, which for Palisade is an installation day (every
/// rejection held in quarantine); tests of the modules judge as an
/// established server does. Tests of the learning period say `[learning]`.
pub fn established(text: &str) -> String {
    if text.lines().any(|l| l.trim() == "[learning]") {
        text.to_owned()
    } else {
        format!("{text}\n[learning]\nhours = 0\n")
    }
}

/// Install the npm packages `dir`'s lockfile names with `npm ci`, unless
/// every one is installed already.
pub fn npm_ci(dir: &Path) {
    let lock: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("package-lock.json")).expect("read package-lock.json"),
    )
    .expect("package-lock.json is JSON");
    let installed = lock["packages"]
        .as_object()
        .expect("a lockfile v3")
        .keys()
        .filter(|k| !k.is_empty())
        .all(|k| dir.join(k).join("package.json").is_file());
    if !installed {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(dir)
            .status()
            .expect("run npm (Node.js with npm is needed: apt-get install nodejs npm)");
        assert!(ok.success(), "npm ci failed in {}", dir.display());
    }
}

/// `palisade serve` running in this test process: its app and the URLs of
/// its main and admin listeners.
pub struct InProcess {
    pub app: std::sync::Arc<palisade::server::App>,
    pub url: String,
    pub admin: String,
}

/// Write `text` to `palisade.toml` in `dir` and serve it in process (see
/// [`serve_in_process`]) as `palisade serve --config` would, reloads
/// included, with `token` as the admin token.
pub async fn serve_config_file(dir: &Path, text: &str, token: &str) -> InProcess {
    let path = dir.join("palisade.toml");
    let text = &established(text);
    std::fs::write(&path, text).expect("write palisade.toml");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
    serve_in_process(
        config,
        palisade::server::ServeOptions {
            config_path: Some(path),
            admin_token: Some(token.into()),
            ..Default::default()
        },
    )
    .await
}

/// Start the sidecar for `config` (listening where it says: give it
/// `127.0.0.1:0` for ephemeral ports) with the admin API on; it serves
/// until the test's runtime ends.
pub async fn serve_in_process(
    config: Config,
    options: palisade::server::ServeOptions,
) -> InProcess {
    let app = palisade::server::App::new(config, options).expect("the sidecar starts");
    let listeners = palisade::server::bind(&app.config, true)
        .await
        .expect("bind loopback ports");
    let url = format!("http://{}", listeners.main.local_addr().unwrap());
    let admin = format!(
        "http://{}",
        listeners
            .admin
            .as_ref()
            .expect("the admin API is on: give a token")
            .local_addr()
            .unwrap()
    );
    tokio::spawn(palisade::server::run(app.clone(), listeners));
    InProcess { app, url, admin }
}

/// Configuration under which first-contact's 3 points for a new actor
/// mentioning a local user (of `mastodon.example`) quarantine the activity.
pub const QUARANTINE_AT_3: &str =
    "local_hosts = [\"mastodon.example\"]\n[thresholds]\nquarantine = 3.0\nreject = 10.0\n";

/// A sidecar holding wave posts ([`QUARANTINE_AT_3`]) on ephemeral ports,
/// in front of `upstream` if given, with the admin API and console behind
/// `token`, its decision log off; its folder lives as long as the result.
pub async fn holding_sidecar(upstream: Option<&str>, token: &str) -> (InProcess, TempDir) {
    let dir = TempDir::new("holding");
    let upstream_line = upstream
        .map(|u| format!("upstream = \"{u}\"\n"))
        .unwrap_or_default();
    let text = established(&format!(
        "{QUARANTINE_AT_3}[server]\nlisten = \"127.0.0.1:0\"\n{upstream_line}\
         [admin]\nlisten = \"127.0.0.1:0\"\n[decision_log]\noutput = \"off\"\n"
    ));
    let mut config = Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    config.base_dir = dir.0.clone();
    let options = palisade::server::ServeOptions {
        admin_token: Some(token.into()),
        ..Default::default()
    };
    (serve_in_process(config, options).await, dir)
}

/// A fresh folder for one test, removed when dropped: `palisade-TAG-PID-N`
/// under the system's temporary folder.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "palisade-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary folder");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// The Prometheus text a sidecar at `url` serves.
pub async fn metrics(url: &str) -> String {
    reqwest::get(format!("{url}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text")
}
