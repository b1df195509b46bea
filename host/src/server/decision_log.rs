//! The decision log: one JSON line per decision, to stdout or a file, and
//! the most recent decisions in memory for the admin API.
//!
//! Writing never blocks serving: lines go into a bounded [`Queue`] that
//! one writer thread drains; lines it cannot take are dropped and counted
//! (`palisade_decision_log_dropped_total`). The recent buffer is bounded
//! in bytes as well as entries, so a few huge decisions cannot grow it
//! without limit.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;

use super::queue::Queue;
use crate::config::DecisionLogConfig;
use crate::decision::Decision;

/// Recent decisions kept for `GET /admin/v1/decisions`, at most.
const RECENT: usize = 1000;

/// One logged decision.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub decision_id: String,
    pub time: String,
    /// Milliseconds since the Unix epoch, for filtering.
    pub received_at: u64,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The host of `actor`, lower-cased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine_id: Option<i64>,
    #[serde(flatten)]
    pub decision: Decision,
}

/// The recent decisions with their JSON sizes.
struct Recent {
    records: VecDeque<(Record, usize)>,
    bytes: usize,
    max_bytes: usize,
}

impl Recent {
    fn push(&mut self, record: Record, size: usize) {
        if size > self.max_bytes {
            // Kept in the log output, not in memory.
            return;
        }
        while self.records.len() >= RECENT || self.bytes + size > self.max_bytes {
            match self.records.pop_front() {
                Some((_, old)) => self.bytes -= old,
                None => break,
            }
        }
        self.bytes += size;
        self.records.push_back((record, size));
    }
}

pub struct DecisionLog {
    /// The writer's queue; None when the output is `off`.
    queue: Option<Queue<String>>,
    pub include_text: bool,
    recent: Mutex<Recent>,
}

impl DecisionLog {
    /// Open the output (a file is created or appended to) and start its
    /// writer; lines the queue cannot take are counted in `dropped`.
    pub fn open(
        config: &DecisionLogConfig,
        base: &std::path::Path,
        dropped: prometheus::IntCounter,
    ) -> std::io::Result<DecisionLog> {
        let sink: Option<Box<dyn Write + Send>> = match config.output.as_str() {
            "off" => None,
            "stdout" | "-" => Some(Box::new(std::io::BufWriter::new(std::io::stdout()))),
            path => {
                let path = base.join(path);
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| {
                        std::io::Error::new(
                            e.kind(),
                            format!("decision log {}: {e}", path.display()),
                        )
                    })?;
                Some(Box::new(std::io::BufWriter::new(file)))
            }
        };
        let queue = match sink {
            None => None,
            Some(sink) => Some(Queue::start(
                "palisade-decision-log",
                config.queue_lines,
                sink,
                dropped,
                "decision log",
                |out, line: String| writeln!(out, "{line}"),
            )?),
        };
        Ok(DecisionLog {
            queue,
            include_text: config.include_text,
            recent: Mutex::new(Recent {
                records: VecDeque::new(),
                bytes: 0,
                max_bytes: (config.recent_kib as usize).saturating_mul(1024),
            }),
        })
    }

    /// Log one decision. Never waits for the output: serialises the record
    /// (bounded by what the decision holds; the HTTP threads call it), queues
    /// the line or drops it.
    pub fn write(&self, record: Record) {
        let line = match serde_json::to_string(&record) {
            Ok(line) => line,
            Err(error) => {
                tracing::warn!(%error, "cannot serialise a decision");
                return;
            }
        };
        let size = line.len();
        if let Some(queue) = &self.queue {
            queue.push(line);
        }
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record, size);
    }

    /// The newest decisions first, those `filter` lets through, at most
    /// `limit`.
    pub fn recent(&self, filter: &RecentFilter<'_>, limit: usize) -> Vec<Record> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent
            .records
            .iter()
            .rev()
            .map(|(r, _)| r)
            .filter(|r| filter.matches(r))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The decision `decision_id`, while it is among the recent ones.
    pub fn find(&self, decision_id: &str) -> Option<Record> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent
            .records
            .iter()
            .rev()
            .map(|(r, _)| r)
            .find(|r| r.decision_id == decision_id)
            .cloned()
    }
}

/// Which recent decisions to show; every criterion given must hold.
#[derive(Debug, Default, Clone, Copy)]
pub struct RecentFilter<'a> {
    /// `accept`, `quarantine` or `reject`.
    pub action: Option<&'a str>,
    /// A module that ran on it.
    pub module: Option<&'a str>,
    /// The sender's host (case-insensitive).
    pub actor_host: Option<&'a str>,
    /// The actor's URI, whole.
    pub actor: Option<&'a str>,
}

impl RecentFilter<'_> {
    fn matches(&self, r: &Record) -> bool {
        self.action.is_none_or(|a| r.decision.action.as_str() == a)
            && self
                .module
                .is_none_or(|m| r.decision.trace.iter().any(|t| t.module == m))
            && self.actor_host.is_none_or(|h| {
                r.actor_host
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(h))
            })
            && self.actor.is_none_or(|a| r.actor.as_deref() == Some(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str) -> Record {
        Record {
            decision_id: String::new(),
            time: String::new(),
            received_at: 0,
            path: "/inbox".into(),
            actor: None,
            actor_host: None,
            text: Some(text.to_owned()),
            quarantine_id: None,
            decision: Decision::unreadable(crate::decision::InputError {
                message: String::new(),
                line: 0,
                column: 0,
            }),
        }
    }

    #[test]
    fn the_recent_buffer_is_bounded_in_bytes() {
        let mut recent = Recent {
            records: VecDeque::new(),
            bytes: 0,
            max_bytes: 10_000,
        };
        for _ in 0..100 {
            recent.push(record("x"), 3000);
        }
        assert_eq!(recent.records.len(), 3);
        assert_eq!(recent.bytes, 9000);
        recent.push(record("huge"), 20_000);
        assert_eq!(recent.records.len(), 3, "too big to keep, nothing evicted");
        for _ in 0..2000 {
            recent.push(record("x"), 1);
        }
        assert_eq!(recent.records.len(), RECENT);
        assert_eq!(recent.bytes, RECENT);
    }
}
