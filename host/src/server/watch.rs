//! Reload when files change: the drop-in folder's `NAME.wasm`,
//! `NAME.toml` and `NAME.wasm.minisig`, the configuration file, and the
//! list and trusted-key files it names.
//!
//! Folders are watched, not files, so that editors' atomic saves (write a
//! temporary file, rename it over the old one) and `mv` into the drop-in
//! folder are seen. Events for other files in those folders (editors' swap
//! and backup files, hidden temporary files) are ignored. Changes are
//! debounced: the reload starts once nothing relevant has changed for
//! `policies.debounce_ms`, so that a file being copied is read whole; a
//! file that is still incomplete fails to load, keeps its previous version
//! judging, and is retried at its next change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::{App, Trigger};
use crate::config::Config;
use crate::policy_set::is_drop_in;

/// What is watched, from the configuration as last loaded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Targets {
    /// Files whose change triggers a reload: the configuration, the lists.
    pub files: BTreeSet<PathBuf>,
    /// The drop-in folder.
    pub policies_dir: Option<PathBuf>,
}

impl Targets {
    pub fn of(config: &Config, config_path: Option<&Path>, dir_flag: Option<&Path>) -> Targets {
        let mut files = BTreeSet::new();
        if let Some(path) = config_path {
            files.insert(absolute(path));
        }
        for list in config.lists.values() {
            files.insert(absolute(&config.resolve(&list.path)));
        }
        for key in &config.signatures.trusted_key_files {
            files.insert(absolute(&config.resolve(key)));
        }
        let (dir, _) = config.policies_dir(dir_flag);
        Targets {
            files,
            policies_dir: Some(absolute(&dir)),
        }
    }

    /// Whether a change to `path` calls for a reload.
    pub fn is_relevant(&self, path: &Path) -> bool {
        if self.files.contains(path) {
            return true;
        }
        // Kubernetes updates a mounted ConfigMap or Secret by swapping the
        // `..data` link its files point through: the files themselves
        // report no event.
        if path.file_name().is_some_and(|n| n == "..data") {
            let folder = path.parent();
            if self.files.iter().any(|f| f.parent() == folder)
                || self.policies_dir.as_deref() == folder
            {
                return true;
            }
        }
        let Some(dir) = &self.policies_dir else {
            return false;
        };
        path == dir
            || (path.parent() == Some(dir.as_path())
                && ["wasm", "toml", "minisig"]
                    .iter()
                    .any(|ext| is_drop_in(path, ext)))
    }

    /// The folders to watch: each file's folder, the drop-in folder (or,
    /// while it does not exist, the folder it will appear in).
    fn folders(&self) -> BTreeSet<PathBuf> {
        let mut folders: BTreeSet<PathBuf> = self
            .files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_owned))
            .collect();
        if let Some(dir) = &self.policies_dir {
            if dir.is_dir() {
                folders.insert(dir.clone());
            } else if let Some(parent) = dir.parent() {
                folders.insert(parent.to_owned());
            }
        }
        folders.retain(|f| f.is_dir());
        folders
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Keeps the watch running; dropping it stops watching.
pub struct WatchHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A watch registered with the operating system, not yet acting: changes
/// from the moment it is registered are remembered, so registering it
/// before the first load leaves no window in which a change is missed.
pub struct Watch {
    watcher: RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
    targets: Arc<Mutex<Targets>>,
    rx: mpsc::Receiver<()>,
    debounce: Duration,
}

impl Watch {
    /// Register the watch, if `policies.watch` is on.
    pub fn register(
        config: &Config,
        config_path: Option<&Path>,
        dir_flag: Option<&Path>,
    ) -> Option<Watch> {
        if !config.policies.watch {
            tracing::info!("not watching for module changes (policies.watch = false)");
            return None;
        }
        let targets = Arc::new(Mutex::new(Targets::of(config, config_path, dir_flag)));
        // One pending signal is enough: a reload reads everything anew.
        let (tx, rx) = mpsc::channel::<()>(1);
        let seen = targets.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if matches!(event.kind, EventKind::Access(_)) {
                return;
            }
            let targets = seen.lock().unwrap_or_else(|e| e.into_inner());
            if event.paths.iter().any(|p| targets.is_relevant(p)) {
                let _ = tx.try_send(());
            }
        });
        let watcher = match watcher {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "cannot watch for module changes; reload with SIGHUP or the admin API");
                return None;
            }
        };
        let mut watch = Watch {
            watcher,
            watched: BTreeSet::new(),
            targets,
            rx,
            debounce: Duration::from_millis(config.policies.debounce_ms),
        };
        let current = watch
            .targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        watch.rewatch(&current);
        Some(watch)
    }

    /// Act on changes: reload `app` after each burst of them. Must be
    /// called within the Tokio runtime.
    pub fn spawn(self, app: Arc<App>) -> WatchHandle {
        WatchHandle {
            task: tokio::spawn(self.run(app)),
        }
    }

    async fn run(mut self, app: Arc<App>) {
        while self.rx.recv().await.is_some() {
            // Quiet for `debounce` before reloading.
            loop {
                tokio::time::sleep(self.debounce).await;
                if self.rx.try_recv().is_err() {
                    break;
                }
            }
            let reloading = app.clone();
            let _ = tokio::task::spawn_blocking(move || reloading.reload(Trigger::Watch)).await;
            // The configuration may name other lists or another folder
            // now; the drop-in folder may have appeared.
            let now = Targets::of(
                &app.live_config(),
                app.config_path.as_deref(),
                app.policies_dir.as_deref(),
            );
            *self.targets.lock().unwrap_or_else(|e| e.into_inner()) = now.clone();
            self.rewatch(&now);
        }
    }

    /// Watch exactly the folders `targets` needs.
    fn rewatch(&mut self, targets: &Targets) {
        let wanted = targets.folders();
        for gone in self.watched.difference(&wanted) {
            let _ = self.watcher.unwatch(gone);
        }
        for new in wanted.difference(&self.watched) {
            match self.watcher.watch(new, RecursiveMode::NonRecursive) {
                Ok(()) => tracing::debug!(folder = %new.display(), "watching"),
                Err(e) => {
                    tracing::warn!(folder = %new.display(), error = %e, "cannot watch folder")
                }
            }
        }
        self.watched = wanted;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_modules_settings_config_and_lists_are_relevant() {
        let config = Config::parse(
            r#"
            [lists.blocked]
            path = "/etc/palisade/blocklist.csv"
            [policies]
            dir = "/etc/palisade/policies.d"
            "#,
        )
        .unwrap();
        let targets = Targets::of(
            &config,
            Some(Path::new("/etc/palisade/palisade.toml")),
            None,
        );
        for path in [
            "/etc/palisade/palisade.toml",
            "/etc/palisade/blocklist.csv",
            "/etc/palisade/policies.d/spam.wasm",
            "/etc/palisade/policies.d/spam.toml",
            "/etc/palisade/policies.d/spam.wasm.minisig",
            "/etc/palisade/policies.d",
            "/etc/palisade/..data",
        ] {
            assert!(targets.is_relevant(Path::new(path)), "{path}");
        }
        for path in [
            "/etc/palisade/.palisade.toml.swp",
            "/etc/palisade/palisade.toml~",
            "/etc/palisade/other.csv",
            "/etc/palisade/policies.d/.spam.wasm.tmp",
            "/etc/palisade/policies.d/spam.wasm.part",
            "/etc/palisade/policies.d/notes.txt",
            "/etc/palisade/policies.d/sub/spam.wasm",
            "/etc/palisade/spam.wasm",
            "/etc/elsewhere/..data",
        ] {
            assert!(!targets.is_relevant(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn a_flag_folder_overrides_the_configuration() {
        let config = Config::parse("[policies]\ndir = \"/a\"\n").unwrap();
        let targets = Targets::of(&config, None, Some(Path::new("/b")));
        assert!(targets.is_relevant(Path::new("/b/x.wasm")));
        assert!(!targets.is_relevant(Path::new("/a/x.wasm")));
    }
}
