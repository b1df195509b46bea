//! Recording what the sidecar judges, as a file `palisade replay` reads:
//! one envelope line per judged inbox POST, `{"received_at": MS,
//! "recipient": "…", "activity": BODY}`.
//!
//! Off unless `[record] file` is set: the file holds every judged
//! activity, direct messages included (see `docs/replay.md`). It is
//! created readable by its owner only, and never grows past
//! `record.max_bytes`: once the next line would pass it, recording stops
//! with one warning. Lines are written by one thread behind a queue
//! bounded in bytes; what the queue cannot take is dropped and counted
//! (`palisade_record_dropped_total`), never waited for. A body that is not
//! a JSON object (strict JSON: what the lenient parser mends is not
//! valid in a line) is not recorded.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;

use super::queue::Queue;
use crate::config::RecordConfig;
use crate::pipeline::Envelope;

/// Bodies waiting for the writer, at most (the byte bound decides first
/// for large bodies).
const QUEUE_ITEMS: usize = 10_000;

/// One judged POST on its way to the file.
struct Item {
    received_at: u64,
    recipient: Option<String>,
    /// `"sender"` and `"actor_facts"`, serialised, when there are any.
    sender: Option<String>,
    body: Bytes,
}

/// The recorder: [`Recorder::record`] never waits.
pub struct Recorder {
    on: Option<On>,
}

struct On {
    queue: Queue<Item>,
    /// Set once the file reached `max_bytes`: nothing more is queued.
    full: Arc<AtomicBool>,
    /// Body bytes waiting in the queue.
    queued: Arc<AtomicUsize>,
    max_queued: usize,
    dropped: prometheus::IntCounter,
}

impl Recorder {
    /// Open `config.file` (relative to `base`) for appending and start its
    /// writer; without a file, a recorder that records nothing. `lines`
    /// counts the lines written, `dropped` the judged POSTs not recorded
    /// for want of room (queue or `max_bytes`).
    pub fn open(
        config: &RecordConfig,
        base: &Path,
        lines: prometheus::IntCounter,
        dropped: prometheus::IntCounter,
    ) -> io::Result<Recorder> {
        let Some(file) = &config.file else {
            return Ok(Recorder { on: None });
        };
        let path = base.join(file);
        let named =
            |e: io::Error| io::Error::new(e.kind(), format!("record {}: {e}", path.display()));
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let out = options.open(&path).map_err(named)?;
        // A file that was there before keeps no wider access than a new one.
        #[cfg(unix)]
        out.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(named)?;
        let mut written = out.metadata().map_err(named)?.len();
        let max_bytes = config.max_bytes;
        let full = Arc::new(AtomicBool::new(false));
        if written >= max_bytes {
            full.store(true, Ordering::Relaxed);
            tracing::warn!(file = %path.display(), max_bytes, "the recording is already at record.max_bytes: nothing is recorded");
        }
        let queued = Arc::new(AtomicUsize::new(0));
        let write = {
            let (full, queued, dropped) = (full.clone(), queued.clone(), dropped.clone());
            move |out: &mut std::fs::File, item: Item| {
                queued.fetch_sub(item.body.len(), Ordering::Relaxed);
                if full.load(Ordering::Relaxed) {
                    dropped.inc();
                    return Ok(());
                }
                let Some(line) = envelope_line(&item) else {
                    return Ok(());
                };
                if written + line.len() as u64 > max_bytes {
                    full.store(true, Ordering::Relaxed);
                    dropped.inc();
                    tracing::warn!(file = %path.display(), max_bytes, "the recording reached record.max_bytes: recording stopped");
                    return Ok(());
                }
                // Counted before writing: a failed write may still have
                // written part of the line.
                written += line.len() as u64;
                out.write_all(&line).inspect_err(|_| dropped.inc())?;
                lines.inc();
                Ok(())
            }
        };
        // Unbuffered: each line is one write, so what the counter says is
        // written is in the file.
        let queue = Queue::start(
            "palisade-record",
            QUEUE_ITEMS,
            out,
            dropped.clone(),
            "recording",
            write,
        )?;
        Ok(Recorder {
            on: Some(On {
                queue,
                full,
                queued,
                max_queued: (config.queue_kib as usize).saturating_mul(1024),
                dropped,
            }),
        })
    }

    /// Record one judged inbox POST, unless recording is off, stopped, or
    /// the queue is full (then it is counted as dropped).
    pub fn record(&self, body: &Bytes, envelope: &Envelope) {
        let Some(on) = &self.on else {
            return;
        };
        if on.full.load(Ordering::Relaxed) {
            on.dropped.inc();
            return;
        }
        let len = body.len();
        if on.queued.fetch_add(len, Ordering::Relaxed) + len > on.max_queued {
            on.queued.fetch_sub(len, Ordering::Relaxed);
            on.dropped.inc();
            return;
        }
        let item = Item {
            received_at: envelope.received_at,
            recipient: envelope.recipient.clone(),
            sender: sender_members(&envelope.sender),
            body: body.clone(),
        };
        if !on.queue.push(item) {
            on.queued.fetch_sub(len, Ordering::Relaxed);
        }
    }
}

/// `,"sender":{…},"actor_facts":{…}` for a line, or nothing for a
/// trusted sender without facts.
fn sender_members(sender: &crate::senders::Sender) -> Option<String> {
    let (recorded, facts) = sender.recorded();
    let mut out = String::new();
    if let Some(r) = recorded {
        out.push_str(",\"sender\":");
        out.push_str(&serde_json::to_string(&r).ok()?);
    }
    if let Some(f) = facts {
        out.push_str(",\"actor_facts\":");
        out.push_str(&serde_json::to_string(f).ok()?);
    }
    (!out.is_empty()).then_some(out)
}

/// The envelope line for `item`, or None when its body is not a JSON
/// object. The body goes in as it arrived but for line breaks, which valid
/// JSON holds only as whitespace between tokens: each becomes a space, so
/// the line stays one line and means the same.
fn envelope_line(item: &Item) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(&item.body).ok()?;
    if !text.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    let mut line = Vec::with_capacity(text.len() + 96);
    write!(line, "{{\"received_at\":{}", item.received_at).ok()?;
    if let Some(recipient) = &item.recipient {
        line.extend_from_slice(b",\"recipient\":");
        serde_json::to_writer(&mut line, recipient).ok()?;
    }
    if let Some(sender) = &item.sender {
        line.extend_from_slice(sender.as_bytes());
    }
    line.extend_from_slice(b",\"activity\":");
    line.extend(
        text.bytes()
            .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
    );
    line.extend_from_slice(b"}\n");
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(body: &str, recipient: Option<&str>) -> Item {
        Item {
            received_at: 1_700_000_000_000,
            recipient: recipient.map(str::to_owned),
            sender: None,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn a_body_becomes_one_envelope_line_meaning_the_same() {
        let body = "{\r\n  \"type\": \"Create\",\n  \"content\": \"a\\nb\"\n}\n";
        let line = envelope_line(&item(body, Some("al\"ice"))).unwrap();
        let text = std::str::from_utf8(&line).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        assert!(text.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["received_at"], 1_700_000_000_000u64);
        assert_eq!(v["recipient"], "al\"ice");
        assert_eq!(
            v["activity"],
            serde_json::from_str::<serde_json::Value>(body).unwrap()
        );
        let line = envelope_line(&item("{\"type\":\"Like\"}", None)).unwrap();
        assert_eq!(
            line,
            b"{\"received_at\":1700000000000,\"activity\":{\"type\":\"Like\"}}\n"
        );
    }

    #[test]
    fn what_is_not_a_json_object_is_not_recorded() {
        for body in ["[1]", "\"x\"", "{\"a\":1,}", "{} {}", "not json", ""] {
            assert!(envelope_line(&item(body, None)).is_none(), "{body}");
        }
        let invalid_utf8 = Item {
            body: Bytes::from_static(b"{\"a\":\"\xff\"}"),
            ..item("", None)
        };
        assert!(envelope_line(&invalid_utf8).is_none());
    }
}
