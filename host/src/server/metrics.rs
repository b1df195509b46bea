//! Prometheus metrics. Labels stay bounded: actions, module names (from the
//! configuration), error kinds, status classes — never an actor or a host.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::decision::Decision;

/// Module latency buckets, in seconds: most calls take microseconds, so the
/// low end is fine-grained (whole-millisecond buckets would record them all
/// as zero).
const MODULE_BUCKETS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25,
];

pub struct Metrics {
    registry: Registry,
    pub activities: IntCounterVec,
    pub verdicts: IntCounterVec,
    pub module_seconds: HistogramVec,
    pub module_errors: IntCounterVec,
    pub upstream: IntCounterVec,
    pub unjudged: IntCounterVec,
    pub quarantine_held: IntGauge,
    pub modules_loaded: IntGauge,
    pub module_load_failures: IntGauge,
    pub modules_missing: IntGauge,
    pub reloads: IntCounterVec,
    pub last_reload_ok: IntGauge,
    pub state_degraded: IntGauge,
    pub state_errors: prometheus::IntCounter,
    pub judge_panics: prometheus::IntCounter,
    pub decision_log_dropped: prometheus::IntCounter,
    pub record_lines: prometheus::IntCounter,
    pub record_dropped: prometheus::IntCounter,
    pub module_log_dropped: IntCounterVec,
    pub senders: IntCounterVec,
    pub fetches: IntCounterVec,
    pub admin_auth_failures: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("palisade".into()), None).expect("registry");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("metric");
            registry.register(Box::new(c.clone())).expect("register");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("metric");
            registry.register(Box::new(g.clone())).expect("register");
            g
        };
        let plain_counter = |name: &str, help: &str| {
            let c = prometheus::IntCounter::new(name, help).expect("metric");
            registry.register(Box::new(c.clone())).expect("register");
            c
        };
        let module_seconds = HistogramVec::new(
            HistogramOpts::new(
                "module_duration_seconds",
                "Time one module took to judge one activity.",
            )
            .buckets(MODULE_BUCKETS.to_vec()),
            &["module"],
        )
        .expect("metric");
        registry
            .register(Box::new(module_seconds.clone()))
            .expect("register");
        Metrics {
            senders: counter(
                "senders_total",
                "Inbox POSTs by what their signature showed: status `verified`, `unverified` or `invalid`, and reason (`ok`, `unsigned`, `unsupported`, `key_unavailable`, `budget`, `mismatch`, `digest`, `expired`, `malformed`).",
                &["status", "reason"],
            ),
            fetches: counter(
                "fetches_total",
                "Fetches from senders' servers, by kind (`key`, `actor`, `collection`, `nodeinfo`, `object`) and result (`ok`, `cached`, `failed_recently`, `refused`, `timeout`, `error`).",
                &["kind", "result"],
            ),
            admin_auth_failures: counter(
                "admin_auth_failures_total",
                "Wrong admin tokens, by where they were tried: `bearer` (the admin API) or `login` (the console's login page).",
                &["via"],
            ),
            activities: counter(
                "activities_total",
                "Activities judged, by the action taken.",
                &["action"],
            ),
            verdicts: counter(
                "module_verdicts_total",
                "Module verdicts, by module and verdict (shadow modules included).",
                &["module", "verdict"],
            ),
            module_seconds,
            module_errors: counter(
                "module_errors_total",
                "Module failures, by module and kind.",
                &["module", "kind"],
            ),
            upstream: counter(
                "upstream_responses_total",
                "Responses from the upstream server, by status class (or `error` when unreachable).",
                &["class"],
            ),
            unjudged: counter(
                "unjudged_requests_total",
                "Inbox requests not judged, by reason (`non_json`, `too_large`, `body_timeout`, `broken_body`, `ambiguous_path`).",
                &["reason"],
            ),
            quarantine_held: gauge("quarantine_held", "Activities held in the quarantine."),
            modules_loaded: gauge("modules_loaded", "Modules in the policy set judging now."),
            module_load_failures: gauge(
                "module_load_failures",
                "Modules that failed to load in the last (re)load.",
            ),
            modules_missing: gauge(
                "modules_missing",
                "Configured modules that are not judging: they failed to load and no earlier version serves in their place.",
            ),
            reloads: counter(
                "reloads_total",
                "Policy set reloads, by result: `ok`, `partial` (a module or list failed; its previous version judges), `failed` (nothing changed).",
                &["result"],
            ),
            last_reload_ok: {
                let g = gauge(
                    "last_reload_successful",
                    "1 if the last (re)load loaded every module and list, else 0.",
                );
                g.set(1);
                g
            },
            state_degraded: gauge(
                "state_backend_degraded",
                "1 while the shared state backend (Redis) is unreachable and calls fall back to local state (or fail).",
            ),
            state_errors: plain_counter(
                "state_backend_errors_total",
                "Calls that failed on the shared state backend.",
            ),
            judge_panics: plain_counter(
                "judge_panics_total",
                "Requests whose judging (or its enforcement) panicked; each was answered 503 so that the sender retries.",
            ),
            decision_log_dropped: plain_counter(
                "decision_log_dropped_total",
                "Decision log lines dropped because the output did not keep up (the queue was full).",
            ),
            record_lines: plain_counter(
                "record_lines_total",
                "Lines written to the recording ([record] file).",
            ),
            record_dropped: plain_counter(
                "record_dropped_total",
                "Judged inbox POSTs not recorded: the writer did not keep up, or the recording reached record.max_bytes.",
            ),
            module_log_dropped: counter(
                "module_log_dropped_total",
                "Log lines a module wrote past limits.log_lines_per_second / log_burst, dropped, by module.",
                &["module"],
            ),
            registry,
        }
    }

    /// Bring the state backend's gauges up to date (before rendering).
    pub fn observe_state(&self, health: Option<crate::state::Health>) {
        if let Some(h) = health {
            self.state_degraded.set(i64::from(h.degraded));
            let seen = self.state_errors.get();
            if h.errors > seen {
                self.state_errors.inc_by(h.errors - seen);
            }
        }
    }

    /// Bring the log-drop counters up to date with the runtime's (before
    /// rendering): `dropped` is per module name, since the start.
    pub fn observe_log_dropped(&self, dropped: &[(String, u64)]) {
        for (module, n) in dropped {
            let c = self
                .module_log_dropped
                .with_label_values(&[module.as_str()]);
            let seen = c.get();
            if *n > seen {
                c.inc_by(n - seen);
            }
        }
    }

    /// Count one decision and its modules' parts in it.
    pub fn observe(&self, d: &Decision) {
        self.activities
            .with_label_values(&[d.action.as_str()])
            .inc();
        for t in &d.trace {
            self.verdicts
                .with_label_values(&[t.module.as_str(), t.verdict])
                .inc();
            self.module_seconds
                .with_label_values(&[t.module.as_str()])
                .observe(t.micros as f64 / 1e6);
            if let Some(e) = &t.error {
                self.module_errors
                    .with_label_values(&[t.module.as_str(), e.kind])
                    .inc();
            }
        }
    }

    pub fn upstream_status(&self, status: Option<u16>) {
        let class = match status {
            Some(s @ 100..=599) => ["1xx", "2xx", "3xx", "4xx", "5xx"][(s / 100 - 1) as usize],
            _ => "error",
        };
        self.upstream.with_label_values(&[class]).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encode metrics");
        String::from_utf8(buf).expect("metrics are UTF-8")
    }
}
