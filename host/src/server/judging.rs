//! Judging one activity for the sidecar: off the async threads, within
//! the instance bound of the policy set that judges it, with a panic
//! turned into an answer; then the decision log record.

use std::sync::Arc;
use std::time::Duration;

use super::{App, decision_log};
use crate::Decision;
use crate::pipeline::Envelope;

/// What judging one activity produced, carried to the part that enforces
/// it (forward, drop, hold) and to the decision log. The decision carries
/// what was parsed (id, actor, its host, the text), so nothing parses twice.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub decision: Decision,
}

/// Judging did not produce a decision.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    /// Something panicked while judging; the activity was neither
    /// forwarded nor acknowledged, so the sender retries it.
    #[error("judging panicked: {0}")]
    Panicked(String),
}

impl App {
    /// Judge `body` off the async threads, within the concurrency bound of
    /// the policy set that judges it; counts it. The caller logs it with
    /// [`App::record`] once it knows the quarantine id, if any.
    ///
    /// A panic anywhere in judging is caught here: counted
    /// (`palisade_judge_panics_total`), logged with the activity id when
    /// one can be read, and returned as [`JudgeError::Panicked`] so that
    /// the handler answers 503 and the sender retries. The process and the
    /// other requests carry on.
    pub async fn judge(
        self: &Arc<Self>,
        body: bytes::Bytes,
        envelope: Envelope,
    ) -> Result<Judgement, JudgeError> {
        let slot = self
            .judgements
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let set = self.palisade.policies();
        // One instance per module at most; a set larger than the pool
        // judges one activity at a time.
        let needed = set.modules().len().clamp(1, self.instances) as u32;
        let permits = self
            .judging
            .clone()
            .acquire_many_owned(needed)
            .await
            .expect("the semaphore is never closed");
        let app = self.clone();
        let judged_body = body.clone();
        let judging = tokio::task::spawn_blocking(move || {
            // Held by the work itself: a sender that hangs up mid-judging
            // drops the request, not the instances its judging still uses.
            let _permits = (slot, permits);
            let body = judged_body;
            if let Some(marker) = app.panic_marker.get()
                && body.windows(marker.len()).any(|w| w == marker.as_slice())
            {
                panic!("fault injected into judging");
            }
            let decision = set.judge_bytes(&body, &envelope);
            app.metrics.observe(&decision);
            Judgement { decision }
        });
        match judging.await {
            Ok(judgement) => Ok(judgement),
            Err(error) => {
                let message = panic_message(error);
                self.metrics.judge_panics.inc();
                // Read the id on the panic path only (and off the async
                // threads): the sender's id is what an admin looks for.
                let activity_id = tokio::task::spawn_blocking(move || activity_id(&body))
                    .await
                    .ok()
                    .flatten();
                tracing::error!(
                    activity_id = activity_id.as_deref().unwrap_or("-"),
                    panic = %message,
                    "judging panicked; answered 503 so that the sender retries"
                );
                Err(JudgeError::Panicked(message))
            }
        }
    }

    /// Make judging panic on every body that contains `marker`, to test
    /// that a panic is answered and counted. Set once; not a setting.
    #[doc(hidden)]
    pub fn inject_judge_panic(&self, marker: &str) {
        if !marker.is_empty() {
            let _ = self.panic_marker.set(marker.as_bytes().to_vec());
        }
    }

    /// Add a decision to the log (the log itself never blocks, see
    /// [`DecisionLog::write`](decision_log::DecisionLog::write)).
    pub async fn record(
        self: &Arc<Self>,
        judgement: &Judgement,
        envelope: &Envelope,
        path: &str,
        quarantine_id: Option<i64>,
    ) {
        // The text goes in the record only when the log may carry it
        // (`decision_log.include_text`), never inside the decision it keeps:
        // the recent-decisions buffer is bounded by what it serialises.
        let mut decision = judgement.decision.clone();
        let text = decision.text.take().filter(|_| self.log.include_text);
        let record = decision_log::Record {
            decision_id: uuid::Uuid::new_v4().to_string(),
            time: humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + Duration::from_millis(envelope.received_at),
            )
            .to_string(),
            received_at: envelope.received_at,
            path: path.to_owned(),
            // Not serialised with the decision: moved, not copied.
            actor: decision.actor.take(),
            actor_host: decision.actor_host.take(),
            text,
            quarantine_id,
            decision,
        };
        // Inline: serialising a decision is linear in what it carries
        // (modules' reasons are capped, the text bounded by the body limit)
        // and the log queue never blocks; a hop to a blocking thread cost
        // more than the work.
        self.log.write(record);
    }
}

/// The activity's `id`, read as plain JSON (for logging a panic: the
/// parser that judges may be what panicked).
fn activity_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<String>,
    }
    serde_json::from_slice::<Id>(body).ok()?.id
}

/// The message a panic carried, for the log.
fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload_message(payload.as_ref()),
        Err(error) => error.to_string(),
    }
}

/// The text of a panic payload (`panic!` with a literal or a format).
pub(crate) fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
