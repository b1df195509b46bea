//! `palisade-scenario`: write the seeded evaluation scenario as JSON Lines
//! for `palisade replay`, and print how many lines each label has.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use palisade_e2e::scenario::{Scenario, Variant};

/// Generate the evaluation scenario: legitimate traffic with weeks of
/// history and spam waves that adapt to Palisade's bundled modules, one
/// labelled activity per line ({"received_at", "label", "recipient",
/// "actor_facts", "activity"}: the facts are what the actor's own server
/// publishes about it, as the sidecar would have fetched them), in the
/// order they arrive. The same seed always gives the
/// same bytes. The counts per label go to standard error.
#[derive(Parser)]
#[command(name = "palisade-scenario", version)]
struct Args {
    /// The seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// `standard`: 21 days of history, then the evaluation week with the
    /// waves. `install-day`: the evaluation week's traffic and waves in one
    /// day (2026-03-22) with no history, as on the day Palisade is installed.
    #[arg(long, default_value = "standard", value_parser = ["standard", "install-day"])]
    variant: String,
    /// Multiply every volume (people, traffic, wave sizes) by this factor
    /// (0.01 to 100).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Write the stream to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let variant: Variant = match args.variant.parse() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("palisade-scenario: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario = Scenario::new(args.seed, variant).scale(args.scale);
    let result = match &args.out {
        Some(path) => std::fs::File::create(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))
            .and_then(|file| {
                let mut w = std::io::BufWriter::new(file);
                scenario.write_jsonl(&mut w).map_err(|e| e.to_string())
            }),
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            let r = scenario.write_jsonl(&mut w).map_err(|e| e.to_string());
            let _ = w.flush();
            r
        }
    };
    match result {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("palisade-scenario: {e}");
            ExitCode::FAILURE
        }
    }
}
