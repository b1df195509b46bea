//! The compiled-module cache: a restart reads modules from it; an entry
//! that is corrupt, for another module or not compiled code is rebuilt,
//! never run; a folder others may write to is not used.

use std::path::{Path, PathBuf};

use palisade::Palisade;
use palisade::runtime::cache::Compiled;
use palisade_e2e::{TempDir, example, fixture, judge};

/// A Palisade with two modules and its cache in `cache`.
fn start(cache: &Path) -> Palisade {
    let config = format!(
        r#"
        [[policy]]
        source = "builtin:mention-limit"
        [[policy]]
        source = "{}"
        [cache]
        dir = "{}"
        "#,
        fixture("hashtag-stuffing").display(),
        cache.display()
    );
    palisade_e2e::palisade(&config, cache)
}

fn compiled(p: &Palisade) -> Vec<(String, Compiled)> {
    p.policies()
        .modules()
        .iter()
        .map(|m| (m.name().to_owned(), m.compiled()))
        .collect()
}

fn entry(p: &Palisade, module: &str) -> PathBuf {
    let set = p.policies();
    let m = set.modules().iter().find(|m| m.name() == module).unwrap();
    p.runtime().cache().unwrap().entry_path(m.sha256())
}

/// The spam wave's post: mention-limit rejects it, whichever way it was
/// compiled.
fn wave() -> String {
    example("wave.json")
}

#[test]
fn a_restart_reads_every_module_from_the_cache() {
    let dir = TempDir::new("cache-restart");
    let first = start(&dir.0);
    assert!(first.policies().failures().is_empty());
    assert_eq!(
        compiled(&first),
        [
            ("mention-limit".to_owned(), Compiled::Fresh),
            ("hashtag-stuffing".to_owned(), Compiled::Fresh)
        ]
    );
    assert!(entry(&first, "mention-limit").is_file());
    let verdict = judge(&first, &wave()).action;
    drop(first);

    let second = start(&dir.0);
    assert_eq!(
        compiled(&second),
        [
            ("mention-limit".to_owned(), Compiled::Cache),
            ("hashtag-stuffing".to_owned(), Compiled::Cache)
        ]
    );
    assert_eq!(judge(&second, &wave()).action, verdict);
    assert_eq!(verdict, palisade::Action::Reject);
}

#[test]
fn corrupt_foreign_and_forged_entries_are_rebuilt_never_run() {
    let dir = TempDir::new("cache-corrupt");
    let first = start(&dir.0);
    let mention = entry(&first, "mention-limit");
    let hashtag = entry(&first, "hashtag-stuffing");
    drop(first);
    let good = std::fs::read(&mention).unwrap();

    let flipped = {
        let mut bytes = good.clone();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        bytes
    };
    let forged = {
        use sha2::Digest;
        let code = b"\x7fELF not really compiled code".to_vec();
        let mut bytes = good[..16 + 32].to_vec();
        bytes.extend_from_slice(&sha2::Sha256::digest(&code));
        bytes.extend_from_slice(&code);
        bytes
    };
    let damage = [
        ("a flipped byte", flipped),
        ("truncated", good[..good.len() / 3].to_vec()),
        ("another module's entry", std::fs::read(&hashtag).unwrap()),
        (
            "a forged entry whose digest matches but is not compiled code",
            forged,
        ),
    ];
    for (what, bytes) in damage {
        std::fs::write(&mention, bytes).unwrap();
        let p = start(&dir.0);
        assert!(p.policies().failures().is_empty(), "{what}");
        assert_eq!(
            compiled(&p)[0],
            ("mention-limit".to_owned(), Compiled::Fresh),
            "{what}: the entry was used"
        );
        assert_eq!(
            p.runtime()
                .cache()
                .unwrap()
                .stats()
                .rejected
                .load(std::sync::atomic::Ordering::Relaxed),
            1,
            "{what}"
        );
        assert_eq!(
            judge(&p, &wave()).action,
            palisade::Action::Reject,
            "{what}"
        );
        drop(p);
        // Rebuilt: the next start reads it again.
        assert_eq!(
            compiled(&start(&dir.0))[0].1,
            Compiled::Cache,
            "{what}: not rebuilt"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_cache_folder_others_may_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("cache-shared");
    let cache = dir.0.join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let p = start(&cache);
    assert!(p.runtime().cache().is_none());
    assert!(p.policies().failures().is_empty());
    assert_eq!(judge(&p, &wave()).action, palisade::Action::Reject);
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
}
