//! The targets of docs/EVALUATION.md, asserted on counts: the standard
//! scenario (seed 1: three weeks of history, then a week with ten adaptive
//! waves) and its install day, replayed in simulated time through the
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

    // ≥ 99% of wave activities stopped, across the variants.
    assert!(
        wave.stopped() * 100 >= wave.total * 99,
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
    // ≤ 20 wave activities accepted before each wave's first stop.
    let waves: Vec<_> = report
        .labels
        .iter()
        .filter(|(label, _)| label.starts_with("wave/"))
        .collect();
    assert!(waves.len() >= 9, "{table}");
    for (label, l) in waves {
        assert!(
            l.accepted_before_first_stop <= 20,
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
    // And the waves are still stopped (held for a moderator).
    let wave = &report.classes.wave;
    assert!(wave.stopped() * 100 >= wave.total * 80, "{table}");
}
