//! `palisade known import`: seed the relations store with actors the
//! protected server's users already know, so that on the day Palisade is
//! installed they are not strangers.
//!
//! Two formats: Mastodon's "Follows" export (`following_accounts.csv`, the
//! header `Account address,Show boosts,…` and one `user@host` per row), and
//! a plain list of actor URIs or handles (`https://host/users/alice`,
//! `@alice@host`, `alice@host`), one per line, with `#` comments.

use std::path::Path;

use crate::relations::Relations;
use crate::state::{StateBackend, StateResult};

/// Who follows the imported actors when no local user is named: the server
/// as a whole. It counts as one local follower.
pub const SERVER_WIDE: &str = "import";

/// The actors a file names: URIs or lower-cased handles `user@host`. Every
/// line that names none is an error `path:line: why`; a file with any
/// error imports nothing.
pub fn read(path: &Path, text: &str) -> Result<Vec<String>, Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mastodon = text
        .lines()
        .next()
        .is_some_and(|l| l.trim_start().starts_with("Account address"));
    let mut actors = Vec::new();
    let mut errors = Vec::new();
    if mastodon {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        for record in reader.records() {
            match record {
                Ok(r) => {
                    let line = r.position().map_or(0, |p| p.line());
                    match r.get(0).map(str::trim).filter(|a| !a.is_empty()) {
                        Some(account) => match actor(account) {
                            Ok(a) => actors.push(a),
                            Err(e) => errors.push(format!("{}:{line}: {e}", path.display())),
                        },
                        None => errors.push(format!(
                            "{}:{line}: no account address in the first column",
                            path.display()
                        )),
                    }
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    errors.push(format!("{}:{line}: {e}", path.display()));
                }
            }
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or_default().trim();
            if entry.is_empty() {
                continue;
            }
            match actor(entry) {
                Ok(a) => actors.push(a),
                Err(e) => errors.push(format!("{}:{}: {e}", path.display(), i + 1)),
            }
        }
    }
    if errors.is_empty() {
        actors.sort();
        actors.dedup();
        Ok(actors)
    } else {
        Err(errors)
    }
}

/// One entry as stored: an `http(s)` URI as given, or a handle lower-cased
/// without its leading `@`.
fn actor(entry: &str) -> Result<String, String> {
    if entry.starts_with("https://") || entry.starts_with("http://") {
        if palisade_sdk::text::host_of(entry).is_none() {
            return Err(format!("`{entry}` is a URI without a host"));
        }
        return Ok(entry.to_owned());
    }
    let handle = entry.strip_prefix('@').unwrap_or(entry);
    let valid = handle.split_once('@').is_some_and(|(user, host)| {
        !user.is_empty()
            && !host.is_empty()
            && !host.contains('@')
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    });
    if valid {
        Ok(handle.to_lowercase())
    } else {
        Err(format!(
            "`{entry}` is neither an actor URI (https://…) nor a handle (user@host)"
        ))
    }
}

/// The local user `user` names: their actor URI as given, or a name on the
/// first of `local_hosts` (`alice` is `https://home.example/users/alice`,
/// where Mastodon, GoToSocial and Akkoma put it).
pub fn follower(user: &str, local_hosts: &[String]) -> Result<String, String> {
    if user.starts_with("https://") || user.starts_with("http://") {
        let local = palisade_sdk::text::host_of(user)
            .is_some_and(|h| local_hosts.iter().any(|l| l.eq_ignore_ascii_case(&h)));
        return if local {
            Ok(user.to_owned())
        } else {
            Err(format!(
                "--user {user} is not on one of the local hosts ({}): set `local_hosts`",
                local_hosts.join(", ")
            ))
        };
    }
    let name = user.trim_start_matches('@');
    let host = local_hosts.first().ok_or_else(|| {
        format!("--user {user}: no `local_hosts` in the configuration to put the name on")
    })?;
    Ok(format!("https://{}/users/{name}", host.to_lowercase()))
}

/// Record that `follower` follows each of `actors`, at `now`.
pub fn import(
    state: &dyn StateBackend,
    follower: &str,
    actors: &[String],
    now: u64,
) -> StateResult<()> {
    let store = Relations { state, now };
    actors.iter().try_for_each(|a| store.import(follower, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_exports_and_plain_lists_are_read_and_bad_lines_named() {
        let csv = "Account address,Show boosts,Notify on new posts,Languages\n\
                   Alice@Social.Example,true,false,\nbob@other.example,true,false,en\n";
        assert_eq!(
            read(Path::new("f.csv"), csv).unwrap(),
            ["alice@social.example", "bob@other.example"]
        );
        let plain = "# friends\nhttps://a.example/users/x\n@carol@c.example  # old friend\n\n";
        assert_eq!(
            read(Path::new("l.txt"), plain).unwrap(),
            ["carol@c.example", "https://a.example/users/x"]
        );
        let errors =
            read(Path::new("l.txt"), "ok@a.example\nnot a handle\nhttps://\n").unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("l.txt:2: `not a handle`"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("l.txt:3:"), "{errors:?}");
    }

    #[test]
    fn a_user_is_a_local_actor() {
        let local = ["home.example".to_owned()];
        assert_eq!(
            follower("alice", &local).unwrap(),
            "https://home.example/users/alice"
        );
        assert!(follower("https://else.example/users/a", &local).is_err());
        assert!(follower("alice", &[]).is_err());
    }
}
