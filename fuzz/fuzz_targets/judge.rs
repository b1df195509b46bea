//! The judge entry point, `PolicySet::judge`, with the bundled modules and
//! state in memory, on arbitrary bodies (lossy UTF-8). It must never panic,
//! a bundled module must never trap, run out of memory or return bad output
//! on any body (each would fail open: the activity passes unjudged), and the
//! decision must follow from its trace: a reject or quarantine has a module
//! or the score behind it, an accept is below the thresholds unless a
//! module accepted it.

#![no_main]

use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use palisade::pipeline::Envelope;
use palisade::{Action, Config, Palisade};

/// The bundled modules (no `[[policy]]`: the defaults), state in memory.
/// The compiled-module cache (in a private folder under the temporary
/// folder) spares each of libFuzzer's fork-mode jobs a recompilation.
const CONFIG: &str = r#"
local_hosts = ["mastodon.example"]
[state]
url = "memory"
"#;

fn palisade() -> &'static Palisade {
    static PALISADE: OnceLock<Palisade> = OnceLock::new();
    PALISADE.get_or_init(|| {
        let mut config = Config::parse(CONFIG).expect("the fuzz configuration parses");
        // No drop-in folder: only the bundled modules judge.
        let base = std::env::temp_dir().join("palisade-fuzz-judge");
        let cache = base.join("cache");
        std::fs::create_dir_all(&cache).expect("create the fuzz folders");
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700))
            .expect("make the cache private");
        config.base_dir = base;
        config.cache.dir = Some(cache);
        let palisade = Palisade::new(&config, None).expect("palisade starts");
        let set = palisade.policies();
        assert!(
            set.failures().is_empty(),
            "bundled modules failed to load: {:?}",
            set.failures()
        );
        assert_eq!(
            set.modules().len(),
            config.policy.len(),
            "every bundled module loaded"
        );
        palisade
    })
}

fuzz_target!(|data: &[u8]| {
    let palisade = palisade();
    let set = palisade.policies();
    let decision = set.judge_bytes(data, &Envelope::inbound_now());

    if decision.error.is_some() {
        assert!(
            decision.trace.is_empty(),
            "an unreadable body reached a module"
        );
        return;
    }
    assert!(decision.trace.len() <= set.modules().len());
    for (entry, module) in decision.trace.iter().zip(set.modules()) {
        assert_eq!(entry.module, module.name(), "modules judged out of order");
        if let Some(error) = &entry.error {
            // A module that runs past its CPU deadline on a large body is
            // a finding too, but depends on the machine's load; the rest
            // never should happen.
            assert!(
                error.kind == "timeout",
                "bundled module {} failed: {} {}",
                entry.module,
                error.kind,
                error.message
            );
        }
    }
    assert!(decision.score.is_finite(), "score {}", decision.score);

    let thresholds = set.thresholds();
    let said = |verdict: &str| decision.trace.iter().any(|e| e.verdict == verdict);
    match decision.action {
        Action::Reject => assert!(
            said("reject") || decision.score >= thresholds.reject,
            "rejected without a reason: {decision:?}"
        ),
        Action::Quarantine => assert!(
            said("quarantine") || decision.score >= thresholds.quarantine,
            "quarantined without a reason: {decision:?}"
        ),
        Action::Accept => assert!(
            said("accept") || decision.score < thresholds.quarantine,
            "accepted above the thresholds: {decision:?}"
        ),
    }
});
