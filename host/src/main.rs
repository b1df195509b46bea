//! The `palisade` command.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use palisade::pipeline::Envelope;
use palisade::{Config, Palisade};

/// Sandboxed WebAssembly policy modules that judge federated ActivityPub
/// activities.
#[derive(Parser)]
#[command(name = "palisade", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the sidecar: inbox proxy (with --upstream), judge API, admin API
    /// and moderators' console, metrics.
    ///
    /// With nothing given it listens on 127.0.0.1:8787 with the judge API
    /// (POST /v1/judge), the bundled modules, a quarantine in ./palisade.db
    /// and module state in ./palisade-state.db (--state to change it). With
    /// an admin token, the admin API (/admin/v1/) and the console
    /// (http://127.0.0.1:8788/console/, log in with the token) listen on
    /// admin.listen. Flags
    /// override the configuration file. Changes to the
    /// drop-in folder, the configuration file and list files are reloaded
    /// as they happen (a module that fails to load keeps its previous
    /// version judging); SIGHUP reloads too; SIGTERM stops after in-flight
    /// requests finish.
    Serve {
        #[command(flatten)]
        setup: Setup,
        /// Address to listen on (server.listen).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// The server to protect, e.g. http://127.0.0.1:3000 (server.upstream).
        #[arg(long, value_name = "URL")]
        upstream: Option<String>,
        /// File holding the admin token (admin.token_file): the admin API's
        /// bearer token and the console's login; without a token both are
        /// off.
        #[arg(long, value_name = "FILE")]
        admin_token_file: Option<PathBuf>,
    },
    /// Judge activity files and print one JSON decision per activity.
    ///
    /// Each FILE holds one JSON activity, or JSON Lines (one activity per
    /// line). Activities are judged in order and share state, as on a live
    /// server past its learning period (`[learning]` does not apply), at
    /// the wall clock's time. Decisions go to standard output, one JSON
    /// object per line.
    ///
    /// Exits 1 when a file cannot be read, or when a configured module did
    /// not load (the decisions were made without it) unless
    /// `policies.allow_missing` is set.
    Check {
        #[command(flatten)]
        setup: Setup,
        /// Activity files (`-` for standard input).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Replay recorded or generated traffic through the modules in
    /// simulated time, and report what they decided.
    ///
    /// Each FILE is JSON Lines: a bare activity, or an envelope
    /// `{"received_at": RFC 3339 or epoch ms, "label": "…", "recipient":
    /// "…", "activity": {…}}` per line (what `serve` records with
    /// `[record]`). A line is judged at its `received_at`, else its
    /// activity's `published`, else the line before's time, never earlier
    /// than the line before; state windows and first-seen times follow
    /// that time, not the wall clock. Labels (`legit…` is legitimate, any
    /// other a wave) never reach the modules; they give per-label counts,
    /// precision and recall. Lines are numbered through the files in the
    /// order given.
    ///
    /// With --compare, a second configuration judges every line too (in
    /// its own memory state) and the report lists, per module, the
    /// activities whose final action changes; shadow modules get the same
    /// list, as if enforced. See docs/replay.md.
    ///
    /// The state starts empty (memory, unless --state), as on a new
    /// installation: for the first `[learning] hours` (72) of simulated
    /// time rejections are held in quarantine. Set `[learning] hours = 0`
    /// to judge a short recording as an established server would.
    ///
    /// Exits 1 when a file cannot be read, or when a configured module
    /// did not load unless `policies.allow_missing` is set; an unreadable
    /// line is counted and reported, never fatal.
    Replay {
        #[command(flatten)]
        setup: Setup,
        /// Replay files, JSON Lines (`-` for standard input).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The report: a table for a person, or one JSON object.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Also write one JSON decision per line (empty lines skipped),
        /// in input order, with its `line` and `label`.
        #[arg(long, value_name = "OUT.jsonl")]
        decisions: Option<PathBuf>,
        /// Another configuration to judge every line with; its changes
        /// are listed per module. Its drop-ins are its own policies.dir's.
        #[arg(long, value_name = "OTHER.toml")]
        compare: Option<PathBuf>,
    },
    /// List the modules: name, version, mode, sha256, capabilities,
    /// signature, and why any failed to load. Exits with 1 if any failed.
    ///
    /// By default the modules are loaded here, as `serve` would load them.
    /// With --live the running sidecar is asked instead (its admin API at
    /// admin.listen, with the admin token): what judges now, including a
    /// previous version kept after a failed reload, and how the last
    /// reload went.
    Policies {
        #[command(flatten)]
        setup: Setup,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Ask the running sidecar instead of loading the modules here.
        #[arg(long)]
        live: bool,
        /// File holding the admin API's bearer token, for --live
        /// (admin.token_file).
        #[arg(long, value_name = "FILE", requires = "live")]
        admin_token_file: Option<PathBuf>,
    },
    /// Show what a module file is: its name, version, description,
    /// capabilities, configuration schema, sha256, the palisade:policy
    /// version it was built against, and its signature.
    ///
    /// The module is compiled and asked to describe itself in the sandbox;
    /// it is neither configured nor asked to judge. The signature
    /// (FILE.minisig) is checked against --pubkey and the configuration's
    /// signatures.trusted_keys.
    Inspect {
        /// Configuration file whose [signatures] keys to trust.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A public key to trust (minisign's `RW…` line, or a .pub file).
        #[arg(long, value_name = "KEY")]
        pubkey: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The module (.wasm component).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Start a module project that builds, loads and passes its own tests
    /// out of the box.
    ///
    /// Rust projects use the SDK (`cargo test`, then `cargo build --release
    /// --target wasm32-wasip2`); Python projects componentize-py (`python3
    /// test_module.py`) and JavaScript projects componentize-qjs (`npm
    /// test`), each installed by the project's build.sh from PyPI or npm.
    /// The project's README says how to build, test, inspect and drop it
    /// in.
    New {
        /// The module's name: lower-case letters, digits and dashes.
        #[arg(value_name = "NAME")]
        name: String,
        /// The language to write it in.
        #[arg(long, value_enum, default_value = "rust")]
        lang: palisade::scaffold::Lang,
        /// The folder to create (default: NAME).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The Rust SDK's folder (default: the one this palisade was built
        /// from).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Seed the actors local users already know, so that on the day
    /// Palisade is installed they are not strangers to its modules.
    #[command(subcommand)]
    Known(KnownCommand),
    /// Make a key pair for signing modules (minisign's format): writes
    /// NAME.pub (give it to admins) and NAME.key (keep it secret).
    Keygen {
        /// Path prefix of the two files.
        #[arg(long, value_name = "NAME", default_value = "palisade-signing")]
        out: PathBuf,
    },
    /// Sign modules: writes FILE.minisig beside each FILE.
    ///
    /// The signature is minisign's format, so `minisign -Vm FILE -p KEY.pub`
    /// verifies it too; keys made by minisign work here (an encrypted one
    /// asks for its password).
    Sign {
        /// The secret key file.
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Text covered by the signature (default: the file's name).
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Check modules' signatures (FILE.minisig) against public keys.
    /// Exits with 1 unless every file is signed by one of them.
    Verify {
        /// A public key to trust (minisign's `RW…` line, or a .pub file).
        #[arg(long, value_name = "KEY", required = true)]
        pubkey: Vec<String>,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KnownCommand {
    /// Record that a local user (--user), or the server as a whole, follows
    /// the actors FILE names: Mastodon's "Follows" export
    /// (following_accounts.csv) or a plain list of actor URIs or handles
    /// (user@host), one per line, `#` for comments.
    ///
    /// The actors count as followed in modules' `context.relations`
    /// (`local-followers`; `known-mentions` when --user is the one
    /// mentioned). Written to the state the sidecar uses (state.url, or
    /// --state); run it again to refresh, as relations are kept for
    /// state.max_ttl_seconds. A running sidecar on SQLite state reads the
    /// file at start: import before starting it, or restart it (Redis is
    /// shared: seen at once). A file with a line that names no actor
    /// imports nothing: every such line is listed, and the exit code is 1.
    Import {
        /// Configuration file (for `local_hosts` and `state.url`).
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Where state lives (default: the configuration's state.url).
        #[arg(long, value_name = "URL")]
        state: Option<String>,
        /// The local user who follows them: a name on the first of
        /// `local_hosts`, or their actor URI. Without it, the server as a
        /// whole.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// Files to import: a Mastodon follows export (.csv) or a plain list.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

#[derive(Args)]
struct Setup {
    /// Configuration file (TOML). Without it, the bundled modules with
    /// their defaults.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The drop-in folder: every NAME.wasm in DIR is loaded (with NAME.toml
    /// settings beside it) after the configured modules (policies.dir;
    /// default policies.d beside the configuration, if it exists).
    #[arg(long, value_name = "DIR")]
    policies_dir: Option<PathBuf>,
    /// Where module state and first-seen times live: sqlite:PATH,
    /// redis://HOST:PORT[/DB] or memory (state.url). `serve` defaults to
    /// the configuration's (sqlite:palisade-state.db); `check`, `replay`
    /// and `policies` to memory, so that runs repeat.
    #[arg(long, value_name = "URL")]
    state: Option<String>,
}

impl Setup {
    fn config(&self) -> Result<Config, String> {
        match &self.config {
            Some(path) => Config::load(path).map_err(|e| e.to_string()),
            None => Ok(Config::default()),
        }
    }

    /// The configuration with `--state` applied, or `default` when it is
    /// not given (None: the configuration's).
    fn config_with_state(&self, default: Option<&str>) -> Result<Config, String> {
        let mut config = self.config()?;
        if let Some(url) = self.state.as_deref().or(default) {
            url.parse::<palisade::state::StateUrl>()
                .map_err(|e| format!("--state: {e}"))?;
            config.state.url = url.to_owned();
        }
        Ok(config)
    }

    /// Load the modules (reporting failures), to judge as an established
    /// server would: without a learning period.
    fn start_established(&self) -> Result<Palisade, String> {
        let mut config = self.config_with_state(Some("memory"))?;
        config.learning.hours = 0;
        self.start_from(config)
    }

    fn start_from(&self, config: Config) -> Result<Palisade, String> {
        let palisade =
            Palisade::new(&config, self.policies_dir.as_deref()).map_err(|e| e.to_string())?;
        for failure in palisade.policies().failures() {
            eprintln!(
                "palisade: module {} not loaded: {}",
                failure.source, failure.error
            );
        }
        Ok(palisade)
    }

    /// Load without reporting failures (the caller reports them).
    fn start_quietly(&self) -> Result<Palisade, String> {
        let config = self.config_with_state(Some("memory"))?;
        Palisade::new(&config, self.policies_dir.as_deref()).map_err(|e| e.to_string())
    }
}

fn main() -> ExitCode {
    let default_level = if matches!(std::env::args().nth(1).as_deref(), Some("serve")) {
        "info"
    } else {
        "warn"
    };
    // Log lines go to stderr from a thread of their own through a bounded
    // queue that drops (lossy) when full: a stalled reader of stderr
    // (journald, a log driver) must not stop the async threads, and a sender
    // provoking warnings cannot make logging cost more than a queue push.
    let (stderr, _flush_at_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(10_000)
        .thread_name("palisade-log")
        .finish(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PALISADE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(stderr)
        // Colours only for a person at a terminal, never in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { setup, files } => check(&setup, &files),
        Command::Replay {
            setup,
            files,
            format,
            decisions,
            compare,
        } => replay(
            &setup,
            &files,
            format,
            decisions.as_deref(),
            compare.as_deref(),
        ),
        Command::Policies {
            setup,
            json,
            live,
            admin_token_file,
        } => {
            if live {
                live_policies(&setup, json, admin_token_file)
            } else {
                policies(&setup, json)
            }
        }
        Command::Inspect {
            config,
            pubkey,
            json,
            file,
        } => inspect(config.as_deref(), &pubkey, json, &file),
        Command::New {
            name,
            lang,
            dir,
            sdk,
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let sdk = sdk.or_else(palisade::scaffold::built_in_sdk);
            palisade::scaffold::create(&dir, &name, lang, sdk.as_deref())
                .map(|files| {
                    for f in files {
                        println!("{}", f.display());
                    }
                    ExitCode::SUCCESS
                })
                .map_err(|e| e.0)
        }
        Command::Keygen { out } => keygen(&out),
        Command::Sign {
            key,
            comment,
            files,
        } => sign(&key, comment.as_deref(), &files),
        Command::Verify { pubkey, files } => verify(&pubkey, &files),
        Command::Known(KnownCommand::Import {
            config,
            state,
            user,
            files,
        }) => {
            let setup = Setup {
                config,
                policies_dir: None,
                state,
            };
            known_import(&setup, user.as_deref(), &files)
        }
        Command::Serve {
            setup,
            listen,
            upstream,
            admin_token_file,
        } => serve(&setup, listen, upstream, admin_token_file),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("palisade: {message}");
            ExitCode::from(2)
        }
    }
}

fn serve(
    setup: &Setup,
    listen: Option<String>,
    upstream: Option<String>,
    admin_token_file: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let mut config = setup.config_with_state(None)?;
    if let Some(listen) = listen {
        config.server.listen = listen;
    }
    if let Some(upstream) = upstream {
        config.server.upstream = Some(upstream);
    }
    // Re-check what the flags changed.
    let checked = toml::to_string(&config).map_err(|e| e.to_string())?;
    Config::parse(&checked).map_err(|e| format!("invalid flags: {e}"))?;
    let admin_token = admin_token(&config, admin_token_file)?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.server.workers > 0 {
        builder.worker_threads(config.server.workers);
    }
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let served = runtime.block_on(async move {
        let options = palisade::server::ServeOptions {
            config_path: setup.config.clone(),
            policies_dir: setup.policies_dir.clone(),
            admin_token,
        };
        let app = palisade::server::App::new(config, options)?;
        for failure in app.palisade.policies().failures() {
            eprintln!(
                "palisade: module {} not loaded: {}",
                failure.source, failure.error
            );
        }
        let listeners = palisade::server::bind(&app.config, app.admin_enabled()).await?;
        palisade::server::run(app, listeners).await
    });
    // `run` returns once the shutdown deadline has passed: connections
    // still open and judging still running are abandoned with the runtime
    // rather than waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    served?;
    Ok(ExitCode::SUCCESS)
}

/// The admin token: from `flag`'s file, `admin.token_file`, or the
/// environment variable `admin.token_env` names.
fn admin_token(config: &Config, flag: Option<PathBuf>) -> Result<Option<String>, String> {
    let token_file = flag.or_else(|| config.admin.token_file.as_ref().map(|p| config.resolve(p)));
    Ok(match token_file {
        Some(path) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read the admin token file {}: {e}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => std::env::var(&config.admin.token_env)
            .ok()
            .map(|t| t.trim().to_owned()),
    }
    .filter(|t| !t.is_empty()))
}

fn known_import(setup: &Setup, user: Option<&str>, files: &[PathBuf]) -> Result<ExitCode, String> {
    use palisade::known;
    let config = setup.config_with_state(None)?;
    let follower = match user {
        Some(user) => known::follower(user, &config.local_hosts)?,
        None => known::SERVER_WIDE.to_owned(),
    };
    let mut actors = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        match known::read(file, &text) {
            Ok(found) => actors.extend(found),
            Err(bad) => errors.extend(bad),
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("palisade: {e}");
        }
        eprintln!(
            "palisade: nothing imported: {} line(s) name no actor",
            errors.len()
        );
        return Ok(ExitCode::from(1));
    }
    let state =
        palisade::state::open(&config.state, &config.base_dir).map_err(|e| e.to_string())?;
    known::import(
        state.as_ref(),
        &follower,
        &actors,
        palisade::runtime::unix_ms(),
    )
    .map_err(|e| format!("state {}: {e}", config.state.url))?;
    // Dropping the backend writes everything queued (SQLite).
    drop(state);
    let by = if user.is_some() {
        follower.as_str()
    } else {
        "the server as a whole"
    };
    println!(
        "imported {} actor(s) as followed by {by} into {}",
        actors.len(),
        config.state.url
    );
    Ok(ExitCode::SUCCESS)
}

fn check(setup: &Setup, files: &[PathBuf]) -> Result<ExitCode, String> {
    let allow_missing = setup.config()?.policies.allow_missing;
    // `check` judges as an established server would: a run from empty
    // state is not an installation, so no learning period.
    let palisade = setup.start_established()?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut unreadable = 0;
    for file in files {
        let text = match read_input(file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("palisade: cannot read {}: {e}", file.display());
                unreadable += 1;
                continue;
            }
        };
        for (line, document) in documents(&text) {
            let decision = palisade
                .policies()
                .judge(document, &Envelope::inbound_now());
            let line = DecisionLine {
                decision: &decision,
                source: format!("{}:{line}", file.display()),
            };
            let json = serde_json::to_string(&line).map_err(|e| e.to_string())?;
            writeln!(out, "{json}").map_err(|e| e.to_string())?;
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    let set = palisade.policies();
    let missing = set.missing();
    if !missing.is_empty() && !allow_missing {
        eprintln!(
            "palisade: {} configured module(s) did not load, so these decisions were made without them \
             (set policies.allow_missing = true to accept that)",
            missing.len()
        );
    }
    Ok(
        if unreadable > 0 || (!missing.is_empty() && !allow_missing) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// How `replay` prints its report.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

fn replay(
    setup: &Setup,
    files: &[PathBuf],
    format: Format,
    decisions: Option<&Path>,
    compare: Option<&Path>,
) -> Result<ExitCode, String> {
    let config = setup.config_with_state(Some("memory"))?;
    // Every file opens before anything is judged: a typo costs nothing.
    let mut inputs = Vec::new();
    for file in files {
        let reader: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            match std::fs::File::open(file) {
                Ok(f) => Box::new(std::io::BufReader::new(f)),
                Err(e) => {
                    eprintln!("palisade: cannot read {}: {e}", file.display());
                    return Ok(ExitCode::from(1));
                }
            }
        };
        inputs.push((file.display().to_string(), reader));
    }
    let (mut missing, main) = load(&config, setup.policies_dir.as_deref())?;
    let mut replay = palisade::replay::Replay::new(main);
    replay
        .with_shadow_modules(&config, setup.policies_dir.as_deref())
        .map_err(|e| e.to_string())?;
    if let Some(path) = compare {
        let mut other = Config::load(path).map_err(|e| e.to_string())?;
        other.state.url = "memory".into();
        let (other_missing, other) = load(&other, None)?;
        missing |= other_missing;
        replay.compare_with(path.display().to_string(), other);
    }
    if let Some(path) = decisions {
        let same = |f: &PathBuf| {
            let canonical = |p: &Path| std::fs::canonicalize(p).ok();
            canonical(f).is_some() && canonical(f) == canonical(path)
        };
        if files.iter().any(same) {
            return Err(format!(
                "--decisions {} is one of the files to replay: it would be emptied before it is read",
                path.display()
            ));
        }
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        replay.write_decisions(Box::new(BufWriter::new(file)));
    }
    let mut unreadable_file = false;
    for (name, reader) in inputs {
        if let Err(e) = replay.feed(&name, reader) {
            if matches!(e, palisade::replay::ReplayError::Read { .. }) {
                eprintln!("palisade: {e}");
                unreadable_file = true;
            } else {
                return Err(e.to_string());
            }
        }
    }
    let report = replay.finish().map_err(|e| e.to_string())?;
    if report.times.wall_clock > 0 {
        eprintln!(
            "palisade: {} line(s) before the first with a time of its own were judged at the wall clock",
            report.times.wall_clock
        );
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match format {
        Format::Json => serde_json::to_writer(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Text => report.write_text(&mut out),
    }
    .and_then(|()| out.flush())
    .map_err(|e| e.to_string())?;
    Ok(if unreadable_file || missing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Start `config` for `replay`, reporting modules that did not load;
/// whether one is missing that `policies.allow_missing` does not excuse.
fn load(config: &Config, policies_dir: Option<&Path>) -> Result<(bool, Palisade), String> {
    let palisade = Palisade::new(config, policies_dir).map_err(|e| e.to_string())?;
    let set = palisade.policies();
    for failure in set.failures() {
        eprintln!(
            "palisade: module {} not loaded: {}",
            failure.source, failure.error
        );
    }
    let missing = !set.missing().is_empty() && !config.policies.allow_missing;
    if missing {
        eprintln!(
            "palisade: {} configured module(s) did not load, so these decisions were made without them \
             (set policies.allow_missing = true to accept that)",
            set.missing().len()
        );
    }
    drop(set);
    Ok((missing, palisade))
}

/// A decision as `check` prints it: where the activity came from, too.
#[derive(serde::Serialize)]
struct DecisionLine<'a> {
    #[serde(flatten)]
    decision: &'a palisade::Decision,
    /// `FILE:LINE` of the activity.
    source: String,
}

fn read_input(path: &Path) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
}

/// The documents in a file with the line each starts on: the whole file,
/// or each non-empty line when the file is JSON Lines (its first line is a
/// complete JSON value by itself and more lines follow).
fn documents(text: &str) -> Vec<(usize, &str)> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let first = lines.next();
    let is_json_lines = first
        .is_some_and(|(_, l)| serde_json::from_str::<serde::de::IgnoredAny>(l).is_ok())
        && lines.next().is_some();
    if is_json_lines {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, l))
            .collect()
    } else {
        vec![(1, text)]
    }
}

fn policies(setup: &Setup, json: bool) -> Result<ExitCode, String> {
    let palisade = setup.start_quietly()?;
    let set = palisade.policies();
    let modules: Vec<_> = set.modules().iter().map(|m| m.summary()).collect();
    let doc = serde_json::json!({"modules": modules, "failures": set.failures()});
    print_policies(&doc, json)
}

/// `policies --live`: the running sidecar's view, from its admin API.
fn live_policies(
    setup: &Setup,
    json: bool,
    token_file: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let config = setup.config()?;
    let token = admin_token(&config, token_file)?.ok_or_else(|| {
        format!(
            "--live needs the admin token: --admin-token-file, admin.token_file or {}",
            config.admin.token_env
        )
    })?;
    let url = format!("http://{}/admin/v1/policies", config.admin.listen);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let doc: serde_json::Value = runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(&url)
            .bearer_auth(token)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("cannot reach the sidecar's admin API at {url}: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("reading the answer from {url}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{url} answered {status}: {}", body.trim()));
        }
        serde_json::from_str(&body).map_err(|e| format!("{url} answered with invalid JSON: {e}"))
    })?;
    print_policies(&doc, json)
}

/// Print a policies document (`modules`, `failures`, optionally
/// `last_reload`) as JSON or a table; exit 1 if anything failed.
fn print_policies(doc: &serde_json::Value, json: bool) -> Result<ExitCode, String> {
    let empty = Vec::new();
    let failures = doc["failures"].as_array().unwrap_or(&empty);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(doc).map_err(|e| e.to_string())?
        );
    } else {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_owned();
        println!(
            "{:<18} {:<8} {:<8} {:<14} {:<16} {:<26} SOURCE",
            "NAME", "VERSION", "MODE", "SHA256", "CAPABILITIES", "SIGNATURE"
        );
        for m in doc["modules"].as_array().unwrap_or(&empty) {
            let caps: Vec<String> = m["capabilities"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(text)
                .collect();
            let sha = text(&m["sha256"]);
            let signature = match m["signature"]["status"].as_str() {
                Some(status @ ("trusted" | "untrusted-key")) => {
                    format!("{status}:{}", text(&m["signature"]["key_id"]))
                }
                Some(status) => status.to_owned(),
                None => "-".to_owned(),
            };
            println!(
                "{:<18} {:<8} {:<8} {:<14} {:<16} {:<26} {}",
                text(&m["name"]),
                text(&m["version"]),
                text(&m["mode"]),
                sha.get(..12).unwrap_or(&sha),
                if caps.is_empty() {
                    "-".to_owned()
                } else {
                    caps.join(",")
                },
                signature,
                text(&m["source"])
            );
        }
        for f in failures {
            println!("FAILED  {}: {}", text(&f["source"]), text(&f["error"]));
            if let Some(serving) = f["serving"].as_str() {
                println!("        {serving}");
            }
        }
        if let Some(r) = doc.get("last_reload").filter(|r| !r.is_null()) {
            println!(
                "last reload: {} at {} ({}){}",
                text(&r["result"]),
                text(&r["at"]),
                text(&r["trigger"]),
                r["error"]
                    .as_str()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
    }
    let reload_failed = doc["last_reload"]["result"] == "failed";
    Ok(if failures.is_empty() && !reload_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Trusted keys from `--pubkey` values (key lines or .pub files) and,
/// with a configuration, its `[signatures]`.
fn trusted_keys(
    config: Option<&Path>,
    pubkeys: &[String],
) -> Result<palisade::signing::TrustedKeys, String> {
    let mut keys = match config {
        Some(path) => {
            let config = Config::load(path).map_err(|e| e.to_string())?;
            let files: Vec<PathBuf> = config
                .signatures
                .trusted_key_files
                .iter()
                .map(|f| config.resolve(f))
                .collect();
            palisade::signing::TrustedKeys::load(&config.signatures.trusted_keys, &files)
                .map_err(|e| e.0)?
        }
        None => palisade::signing::TrustedKeys::default(),
    };
    for key in pubkeys {
        let path = Path::new(key);
        let line = if path.is_file() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            text.lines()
                .find(|l| !l.starts_with("untrusted comment:") && !l.trim().is_empty())
                .unwrap_or_default()
                .to_owned()
        } else {
            key.clone()
        };
        keys.add(&line)
            .map_err(|e| format!("--pubkey {key}: {e}"))?;
    }
    Ok(keys)
}

fn signature_of(
    keys: &palisade::signing::TrustedKeys,
    file: &Path,
    bytes: &[u8],
) -> palisade::signing::SignatureStatus {
    let path = palisade::signing::signature_path(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => keys.check(bytes, Some(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            palisade::signing::SignatureStatus::Unsigned
        }
        Err(e) => palisade::signing::SignatureStatus::Invalid {
            reason: format!("cannot read {}: {e}", path.display()),
        },
    }
}

fn inspect(
    config: Option<&Path>,
    pubkeys: &[String],
    json: bool,
    file: &Path,
) -> Result<ExitCode, String> {
    let keys = trusted_keys(config, pubkeys)?;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let runtime = palisade::runtime::Runtime::new(
        Default::default(),
        std::sync::Arc::new(palisade::state::MemoryBackend::new()),
        Default::default(),
        None,
    )
    .map_err(|e| format!("cannot start the WebAssembly runtime: {e:#}"))?;
    let module = palisade::runtime::Module::inspect(&runtime, &file.display().to_string(), &bytes)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let module = module.with_signature(signature_of(&keys, file, &bytes));
    let mut doc = module.summary();
    doc["size_bytes"] = bytes.len().into();
    for key in ["mode", "weight", "on_error", "compiled"] {
        doc.as_object_mut().map(|o| o.remove(key));
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
        );
    } else {
        let caps: Vec<&str> = module.capabilities().to_vec();
        println!("name:          {}", module.name());
        println!("version:       {}", module.version());
        println!("description:   {}", module.description().description);
        println!(
            "capabilities:  {}",
            if caps.is_empty() {
                "none".to_owned()
            } else {
                caps.join(", ")
            }
        );
        println!("contract:      palisade:policy@{}", module.contract());
        println!("sha256:        {}", module.sha256());
        println!("size:          {} bytes", bytes.len());
        println!("signature:     {}", module.signature().describe());
        match &module.description().config_schema {
            Some(schema) => {
                let pretty = serde_json::from_str::<serde_json::Value>(schema)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or_else(|| schema.clone());
                println!("config schema:\n{pretty}");
            }
            None => println!("config schema: none published"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn keygen(out: &Path) -> Result<ExitCode, String> {
    let public = PathBuf::from(format!("{}.pub", out.display()));
    let secret = PathBuf::from(format!("{}.key", out.display()));
    for path in [&public, &secret] {
        if path.exists() {
            return Err(format!("{} exists: not overwriting a key", path.display()));
        }
    }
    let (id, public_text, secret_text) = palisade::signing::generate().map_err(|e| e.0)?;
    std::fs::write(&public, public_text)
        .map_err(|e| format!("cannot write {}: {e}", public.display()))?;
    write_private(&secret, secret_text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", secret.display()))?;
    println!("key {id}");
    println!("public key: {} (give it to admins)", public.display());
    println!(
        "secret key: {} (keep it secret; it is not encrypted)",
        secret.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Create `path` readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

fn sign(key: &Path, comment: Option<&str>, files: &[PathBuf]) -> Result<ExitCode, String> {
    for file in files {
        let bytes =
            std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let signature =
            palisade::signing::sign(&bytes, key, comment.unwrap_or(&name)).map_err(|e| e.0)?;
        let out = palisade::signing::signature_path(file);
        std::fs::write(&out, signature)
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        println!("{}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(pubkeys: &[String], files: &[PathBuf]) -> Result<ExitCode, String> {
    let keys = trusted_keys(None, pubkeys)?;
    let mut all_good = true;
    for file in files {
        let bytes =
            std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let status = signature_of(&keys, file, &bytes);
        let good = matches!(status, palisade::signing::SignatureStatus::Trusted { .. });
        all_good &= good;
        println!(
            "{}: {}",
            file.display(),
            if good { "OK, " } else { "FAILED, " }.to_owned() + &status.describe()
        );
    }
    Ok(if all_good {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
