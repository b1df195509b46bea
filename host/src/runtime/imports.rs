//! The capabilities, as the host implements them for a module's store.
//! Each call is scoped to the module's namespace; a backend failure or a
//! missing list traps the module (its failure policy then applies).

use super::StoreData;
use super::bindings::palisade::policy::{lists, log, state, types};
use palisade_sdk as sdk;

/// Longest log message kept; the rest is cut.
const MAX_LOG_MESSAGE: usize = 2048;

impl types::Host for StoreData {}

impl log::Host for StoreData {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let module = &*self.namespace;
        if !self
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow(module)
        {
            return Ok(());
        }
        let mut message = message;
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        match level {
            log::Level::Trace => tracing::trace!(module, "{message}"),
            log::Level::Debug => tracing::debug!(module, "{message}"),
            log::Level::Info => tracing::info!(module, "{message}"),
            log::Level::Warn => tracing::warn!(module, "{message}"),
            log::Level::Error => tracing::error!(module, "{message}"),
        }
        Ok(())
    }
}

impl state::Host for StoreData {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.state.get(&self.namespace, &key, self.now_ms)?)
    }

    // Without `record`, writes are skipped and counts answer as if this
    // activity had been counted (nothing else is hidden from the module).

    fn put(&mut self, key: String, value: Vec<u8>, ttl_seconds: u32) -> wasmtime::Result<()> {
        if !self.record {
            return Ok(());
        }
        Ok(self
            .state
            .put(&self.namespace, &key, &value, ttl_seconds, self.now_ms)?)
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        if !self.record {
            return Ok(());
        }
        Ok(self.state.delete(&self.namespace, &key)?)
    }

    fn hit(&mut self, key: String, window_seconds: u32) -> wasmtime::Result<u64> {
        if !self.record {
            let n = self
                .state
                .count(&self.namespace, &key, window_seconds, self.now_ms)?;
            return Ok(n + 1);
        }
        Ok(self
            .state
            .hit(&self.namespace, &key, window_seconds, self.now_ms)?)
    }

    fn count(&mut self, key: String, window_seconds: u32) -> wasmtime::Result<u64> {
        Ok(self
            .state
            .count(&self.namespace, &key, window_seconds, self.now_ms)?)
    }

    fn distinct_add(
        &mut self,
        key: String,
        member: String,
        window_seconds: u32,
    ) -> wasmtime::Result<u64> {
        if !self.record {
            let (ns, now) = (&*self.namespace, self.now_ms);
            let n = self.state.distinct_count(ns, &key, window_seconds, now)?;
            let known = self
                .state
                .distinct_has(ns, &key, &member, window_seconds, now)?;
            return Ok(n + u64::from(!known));
        }
        Ok(self
            .state
            .distinct_add(&self.namespace, &key, &member, window_seconds, self.now_ms)?)
    }

    fn distinct_count(&mut self, key: String, window_seconds: u32) -> wasmtime::Result<u64> {
        Ok(self
            .state
            .distinct_count(&self.namespace, &key, window_seconds, self.now_ms)?)
    }
}

impl StoreData {
    /// Run `f` on the list `name` as it is now (lists may be reloaded
    /// between calls).
    fn with_list<R>(
        &self,
        name: &str,
        f: impl FnOnce(&sdk::memory::NamedList) -> R,
    ) -> wasmtime::Result<R> {
        let lists = self.lists.load();
        match lists.get(name) {
            Some(list) => Ok(f(list)),
            None => Err(wasmtime::format_err!(
                "module `{}` looked up the list `{name}`, which is not configured \
                 (configured: {})",
                self.namespace,
                {
                    let mut names: Vec<&str> = lists.names().collect();
                    names.sort_unstable();
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                }
            )),
        }
    }
}

impl lists::Host for StoreData {
    fn contains(&mut self, name: String, value: String) -> wasmtime::Result<bool> {
        self.with_list(&name, |list| list.contains(&value))
    }

    fn match_domain(
        &mut self,
        name: String,
        host: String,
    ) -> wasmtime::Result<Option<lists::DomainEntry>> {
        self.with_list(&name, |list| {
            list.match_domain(&host).map(|e| lists::DomainEntry {
                domain: e.domain.clone(),
                severity: match e.severity {
                    sdk::Severity::Silence => lists::Severity::Silence,
                    sdk::Severity::Suspend => lists::Severity::Suspend,
                    sdk::Severity::Noop => lists::Severity::Noop,
                },
                reject_media: e.reject_media,
                reject_reports: e.reject_reports,
                comment: e.comment.clone(),
            })
        })
    }
}
