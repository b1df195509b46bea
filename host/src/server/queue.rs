//! A bounded queue drained by one writer thread: how the sidecar writes
//! files (the decision log, the recording) without ever waiting for them.
//!
//! When the output stalls (a stdout pipe nobody reads, a full disk, a slow
//! log shipper) the queue fills and new items are dropped and counted — a
//! lost line costs less than a sidecar that stops answering.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

/// The sending end; the writer thread ends when it is dropped.
pub(crate) struct Queue<T> {
    tx: SyncSender<T>,
    dropped: prometheus::IntCounter,
}

impl<T: Send + 'static> Queue<T> {
    /// Start a thread named `thread` that hands each item to `write` with
    /// `out`, flushing whenever the queue is empty. At most `capacity`
    /// items wait; items pushed past that are counted in `dropped`. `what`
    /// names the output in the one warning a run of write errors gets.
    pub(crate) fn start<W, F>(
        thread: &str,
        capacity: usize,
        out: W,
        dropped: prometheus::IntCounter,
        what: &'static str,
        write: F,
    ) -> io::Result<Queue<T>>
    where
        W: Write + Send + 'static,
        F: FnMut(&mut W, T) -> io::Result<()> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
        std::thread::Builder::new()
            .name(thread.into())
            .spawn(move || drain(rx, out, write, what))?;
        Ok(Queue { tx, dropped })
    }

    /// Queue `item` without waiting; false (and counted) when it was
    /// dropped.
    pub(crate) fn push(&self, item: T) -> bool {
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.inc();
                false
            }
        }
    }
}

/// The writer thread: write items as they come, flushing whenever the
/// queue is empty; warn once per run of failures.
fn drain<T, W: Write, F: FnMut(&mut W, T) -> io::Result<()>>(
    rx: Receiver<T>,
    mut out: W,
    mut write: F,
    what: &'static str,
) {
    let mut failing = false;
    while let Ok(first) = rx.recv() {
        let mut result = write(&mut out, first);
        while result.is_ok()
            && let Ok(item) = rx.try_recv()
        {
            result = write(&mut out, item);
        }
        let result = result.and_then(|()| out.flush());
        match result {
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "cannot write the {what}");
            }
            Err(_) => {}
            Ok(()) => failing = false,
        }
    }
}
