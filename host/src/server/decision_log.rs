//! The decision log: one JSON line per decision, to stdout or a file, and
//! the most recent decisions in memory for the admin API.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;

use crate::config::DecisionLogConfig;
use crate::decision::Decision;

/// Recent decisions kept for `GET /admin/v1/decisions`.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine_id: Option<i64>,
    #[serde(flatten)]
    pub decision: Decision,
}

enum Sink {
    Off,
    Stdout,
    File(Mutex<std::fs::File>),
}

pub struct DecisionLog {
    sink: Sink,
    pub include_text: bool,
    recent: Mutex<VecDeque<Record>>,
}

impl DecisionLog {
    pub fn open(
        config: &DecisionLogConfig,
        base: &std::path::Path,
    ) -> std::io::Result<DecisionLog> {
        let sink = match config.output.as_str() {
            "off" => Sink::Off,
            "stdout" | "-" => Sink::Stdout,
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
                Sink::File(Mutex::new(file))
            }
        };
        Ok(DecisionLog {
            sink,
            include_text: config.include_text,
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
        })
    }

    pub fn write(&self, record: Record) {
        let line = match &self.sink {
            Sink::Off => None,
            _ => serde_json::to_string(&record).ok(),
        };
        if let Some(line) = line {
            let result = match &self.sink {
                Sink::Stdout => writeln!(std::io::stdout().lock(), "{line}"),
                Sink::File(f) => writeln!(f.lock().unwrap_or_else(|e| e.into_inner()), "{line}"),
                Sink::Off => Ok(()),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot write the decision log");
            }
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(record);
    }

    /// The newest decisions first, filtered by action and module.
    pub fn recent(&self, action: Option<&str>, module: Option<&str>, limit: usize) -> Vec<Record> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent
            .iter()
            .rev()
            .filter(|r| action.is_none_or(|a| r.decision.action.as_str() == a))
            .filter(|r| module.is_none_or(|m| r.decision.trace.iter().any(|t| t.module == m)))
            .take(limit)
            .cloned()
            .collect()
    }
}
