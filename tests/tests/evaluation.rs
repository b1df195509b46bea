//! The targets of docs/EVALUATION.md, asserted on counts: the standard
//! scenario (seed 1: three weeks of history, then a week with twelve
//! adaptive waves; every line with its actor's facts) and its install day, replayed in simulated time through the
//! bundled default modules exactly as `palisade replay --config
//! examples/evaluation/palisade.toml` does (the learning period included).

use palisade::replay::{Replay, Report};
use palisade::{Config, Palisade};
use palisade_e2e::root;
use palisade_e2e::scenario::Scenario;

fn replay(scenario: Scenario) -> Report {
    let path = root().join("examples/evaluation/palisade.toml");
    let mut config = Config::load(&path).expect("the evaluation configuration loads");
    config.state.url = "memory".into();
    let palisade = Palisade::new(&config, None).expect("palisade starts");
    assert!(
        palisade.policies().failures().is_empty(),
        "{:?}",
        palisade.policies().failures()
    );
    let mut replay = Replay::new(palisade);
    for line in scenario.lines().expect("the scenario generates") {
        replay
            .line(line.to_json().as_bytes())
            .expect("a line replays");
    }
    let report = replay.finish().expect("the replay finishes");
    assert_eq!(report.unreadable, 0);
    report
}

/// The per-label table, for the failure message.
fn table(report: &Report) -> String {
    report
        .labels
        .iter()
        .map(|(label, l)| {
            format!(
                "{label}: total {} accepted {} rejected {} quarantined {} accepted before the first stop {}\n",
                l.outcomes.total,
                l.outcomes.accepted,
                l.outcomes.rejected,
                l.outcomes.quarantined,
                l.accepted_before_first_stop
            )
        })
        .collect()
}

#[test]
fn the_standard_scenario_meets_the_targets() {
    let report = replay(Scenario::standard(1));
    let table = table(&report);
    let wave = &report.classes.wave;
    let legit = &report.classes.legit;
    assert!(wave.total >= 2000 && legit.total >= 8000, "{table}");

    // ≥ 99% of wave activities stopped, across the variants (99.8% since
    // the actor facts and `account-facts`: ≥ 99.5% asserted).
    assert!(
        wave.stopped() * 1000 >= wave.total * 995,
        "{} of {} wave activities stopped\n{table}",
        wave.stopped(),
        wave.total
    );
    // ≤ 0.1% of legitimate activities rejected, ≤ 1% quarantined.
    assert!(
        legit.rejected * 1000 <= legit.total,
        "{} of {} legitimate activities rejected\n{table}",
        legit.rejected,
        legit.total
    );
    assert!(
        legit.quarantined * 100 <= legit.total,
        "{} of {} legitimate activities quarantined\n{table}",
        legit.quarantined,
        legit.total
    );
    // Busy threads among known people are legitimate traffic like any
    // other, and must not be rejected.
    let busy = &report.labels["legit/busy-thread"];
    assert!(busy.outcomes.total > 50, "{table}");
    assert!(
        busy.outcomes.rejected * 1000 <= busy.outcomes.total,
        "{table}"
    );
    // ≤ 20 wave activities accepted before each wave's first stop (at
    // most 4 are).
    first_stops(&report, 4, &table);
    // A server that says its accounts date from 2019 ages them no further
    // than the host has known it: they are new, and stopped.
    let backdated = &report.labels["wave/backdated"].outcomes;
    assert_eq!(backdated.accepted, 0, "{table}");
}

/// No more than `most` activities of each wave accepted before its first
/// stop.
fn first_stops(report: &Report, most: u64, table: &str) {
    let waves: Vec<_> = report
        .labels
        .iter()
        .filter(|(label, _)| label.starts_with("wave/"))
        .collect();
    assert!(waves.len() >= 11, "{table}");
    for (label, l) in waves {
        assert!(
            l.accepted_before_first_stop <= most,
            "{label}: {} accepted before its first stop\n{table}",
            l.accepted_before_first_stop
        );
    }
}

#[test]
fn on_install_day_no_legitimate_busy_thread_is_rejected() {
    let report = replay(Scenario::install_day(1));
    let table = table(&report);
    let busy = &report.labels["legit/busy-thread"];
    assert!(busy.outcomes.total >= 40, "{table}");
    assert_eq!(busy.outcomes.rejected, 0, "{table}");
    // Nothing legitimate is rejected that day: held at most.
    assert_eq!(report.classes.legit.rejected, 0, "{table}");
    // With the actors' own servers saying who is old, fewer are held
    // than every busy thread (≤ 10%; 16% before actor facts).
    let legit = &report.classes.legit;
    assert!(legit.quarantined * 10 <= legit.total, "{table}");
    // And the waves are still stopped (held for a moderator): ≥ 90%
    // (80% before actor facts; what gets through is `filled-profiles`,
    // whose operator fills in the profiles).
    let wave = &report.classes.wave;
    assert!(wave.stopped() * 100 >= wave.total * 90, "{table}");
    // `one-mention` got 240 of 300 through on this day before; its
    // accounts' servers say they are hours old and empty.
    let one = &report.labels["wave/one-mention"].outcomes;
    assert!(one.accepted * 10 <= one.total, "{table}");
    // A server's word that its accounts date from 2019 cannot be bounded
    // on this day, but their empty profiles still tell.
    let backdated = &report.labels["wave/backdated"].outcomes;
    assert_eq!(backdated.accepted, 0, "{table}");
}
