//! `newcomer-burst`: an adapted wave changes what each post says (other
//! words, other mentions, another invite code), but not what it is: fresh
//! accounts mentioning people who never had anything to do with them, in
//! numbers, at once. This module counts those *first contacts* (a new actor
//! mentioning local users with no tie to it: `palisade_sdk::newcomer`) and
//! what they have in common, each as a signal of its own:
//!
//! - **link site**: distinct new actors making first contact with a link to
//!   one site (the registrable part of the host: `discord.gg` whatever the
//!   invite code, `example.co.uk` for `join.example.co.uk`);
//! - **media**: distinct new actors making first contact with the same
//!   image (its blurhash; or size, media type and file-name stem);
//! - **origin**: distinct new actors making first contact from one origin
//!   host (bulk registration on an open server);
//! - **actor**: one new actor mentioning many distinct local users (looping
//!   through the server's users post after post);
//! - **server_day**: the same over a day, for waves slow enough to stay
//!   under the hourly surge (two first contacts an hour, all week, is a
//!   hundred times what a small server sees in a day); scored only when
//!   the hourly surge is not.
//! - **server**: distinct new actors making first contact across the whole
//!   server: a surge, whatever else differs (fully varied text, no link,
//!   a hundred origin hosts). What a surge is depends on the server: it is
//!   scored from `server.score_at` distinct new actors in the window, or
//!   from `server_baseline_factor` times the server's own usual number in
//!   such a window (averaged over the last `server_baseline_days`) when
//!   that is more, but never from more than ten times `score_at`; actors
//!   counted during a surge do not teach the baseline. A small
//!   server's few greetings a day and a big one's dozens an hour are both
//!   ordinary; four times either is not.
//!
//! A signal adds `points` once its count reaches `score_at`, and rejects once
//! it reaches `reject_at` (0: never). Scores add up with each other and with
//! other modules' (first-contact adds 3 to every first contact): with
//! Palisade's thresholds (quarantine 5, reject 10) a first contact that one
//! signal scores is quarantined, and one that two signals score is rejected.
//!
//! "New" here is a week (`new_actor_hours` = 168), not the day
//! `first-contact` and `mention-limit` use: a wave's accounts may be
//! registered and warmed up (a follow, a like) days before they post, and
//! they still have no tie to anyone here.
//!
//! Nothing is counted, and no state call is made, unless the activity is a
//! first contact: established actors, actors a local user follows, replies
//! mentioning only people already in the thread, and posts mentioning no
//! local user pass at no cost; a new actor's post whose every mention is
//! excused (a reply in a thread) costs only its link sites and images. A
//! first contact costs at most 12 state calls (2 link sites, 2 media, the
//! origin, 3 mentioned users, 4 for the server-wide counts and baseline).
//!
//! **Learning period.** While the host is in its learning period every
//! actor looks new, so every greeting is a "first contact": signals with
//! `in_learning = false` (by default `origin` and `server`, which count
//! ordinary traffic then) are not applied. The others still are; the host
//! holds their rejections in quarantine by itself.
//!
//! Against abuse:
//! - *Poisoning* (getting a victim's post stopped by crowding its cluster):
//!   counts only grow with new actors making first contact, and only such
//!   activities are judged. An established victim, or one any local user
//!   follows, is never judged here; a new victim sharing a link site with a
//!   wave is (that is the signal), which is why `reject_at` for link sites
//!   is well above `score_at`, and `ignore_sites` exists for sites many
//!   strangers share legitimately.
//! - *Blinding* (filling the sets so a wave is not counted): a set at the
//!   host's `state.max_members_per_set` answers as full, which trips the
//!   thresholds rather than hiding the wave.
//! - *Spreading* (one post per account, many hosts, varied text and codes):
//!   the server signal counts all first contacts together; what spreading
//!   buys is fewer than the surge threshold's accepted posts per window.
//! - *Raising the baseline* (a drizzle of first contacts all week so that a
//!   wave looks ordinary): the threshold cannot exceed ten times
//!   `server.score_at`, and the drizzle itself is first contacts, judged
//!   and scored like any.
//!
//! Limits: the actor signal counts the first 3 local users each post
//! mentions, whether or not they have a tie to the actor (the host gives
//! counts, not which ones); the first 2 link sites and 2 media keys of a
//! post are counted.
//!
//! Configuration (all optional; each signal is a table whose keys default
//! one by one):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `kinds` | `["Create", "Update"]` | activity types judged |
//! | `new_actor_hours` | 168 | an actor first seen less than this many hours ago, followed by no local user, is new |
//! | `ignore_sites` | `[]` | link sites never counted (for example a video site many strangers share) |
//! | `server_baseline_days` | 7 | how many days the server's usual rate of first contacts is averaged over; 0: `server.score_at` alone |
//! | `server_baseline_factor` | 4.0 | how many times the usual rate is a surge |
//! | `SIGNAL.enabled` | true | apply the signal |
//! | `SIGNAL.window_seconds` | see below | how far back distinct actors (or users) are counted (at least 1) |
//! | `SIGNAL.score_at` | see below | the count from which `points` are added (at least 1) |
//! | `SIGNAL.points` | see below | points added |
//! | `SIGNAL.reject_at` | see below | the count from which the activity is rejected (0: never) |
//! | `SIGNAL.in_learning` | see below | apply the signal during the host's learning period |
//!
//! | signal | `window_seconds` | `score_at` | `points` | `reject_at` | `in_learning` |
//! |---|---|---|---|---|---|
//! | `link_site` | 3600 | 3 | 4.0 | 8 | true |
//! | `media` | 3600 | 3 | 4.0 | 8 | true |
//! | `origin` | 3600 | 4 | 3.0 | 0 | false |
//! | `actor` | 86400 | 6 | 4.0 | 15 | true |
//! | `server` | 3600 | 5 | 3.0 | 0 | false |
//! | `server_day` | 86400 | 20 | 3.0 | 0 | false |

mod signal;

use palisade_sdk::finding::{Finding, combine};
use palisade_sdk::links::{links, site_of};
use palisade_sdk::media::media_keys;
use palisade_sdk::newcomer::{first_contact, is_new_actor, window_text};
use palisade_sdk::{Activity, Context, Description, Policy, Verdict, config, state};
use serde::Deserialize;
pub use signal::{Signal, SignalConfig};

/// A week, not the day other modules use: accounts registered days ahead
/// and warmed up with a follow or a like are past 24 hours when they spam,
/// and still have no tie to anyone here. Only clusters of them are acted
/// on, so the longer horizon costs a lone newcomer nothing.
const DEFAULT_NEW_ACTOR_HOURS: u64 = 168;

/// Link sites and media keys counted per post at most; local users counted
/// per post by the actor signal.
const PER_POST: usize = 2;
const USERS_PER_POST: usize = 3;

/// The configuration as the admin writes it.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    kinds: Option<Vec<String>>,
    new_actor_hours: Option<u64>,
    ignore_sites: Vec<String>,
    server_baseline_days: Option<u32>,
    server_baseline_factor: Option<f64>,
    link_site: SignalConfig,
    media: SignalConfig,
    origin: SignalConfig,
    actor: SignalConfig,
    server: SignalConfig,
    server_day: SignalConfig,
}

pub struct NewcomerBurst {
    kinds: Vec<String>,
    new_actor_hours: u64,
    ignore_sites: Vec<String>,
    server_baseline_days: u32,
    server_baseline_factor: f64,
    link_site: Signal,
    media: Signal,
    origin: Signal,
    actor: Signal,
    server: Signal,
    server_day: Signal,
}

const SCHEMA: &str = r##"{
  "type": "object",
  "additionalProperties": false,
  "$defs": {
    "signal": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "enabled": {"type": "boolean", "default": true},
        "window_seconds": {"type": "integer", "minimum": 1, "maximum": 4294967295},
        "score_at": {"type": "integer", "minimum": 1},
        "points": {"type": "number"},
        "reject_at": {"type": "integer", "minimum": 0},
        "in_learning": {"type": "boolean"}
      }
    }
  },
  "properties": {
    "kinds": {"type": "array", "items": {"type": "string"}, "default": ["Create", "Update"]},
    "new_actor_hours": {"type": "integer", "minimum": 0, "default": 168},
    "ignore_sites": {"type": "array", "items": {"type": "string"}, "default": []},
    "server_baseline_days": {"type": "integer", "minimum": 0, "maximum": 49000, "default": 7},
    "server_baseline_factor": {"type": "number", "minimum": 0, "default": 4.0},
    "link_site": {"$ref": "#/$defs/signal", "default": {"window_seconds": 3600, "score_at": 3, "points": 4.0, "reject_at": 8, "in_learning": true}},
    "media": {"$ref": "#/$defs/signal", "default": {"window_seconds": 3600, "score_at": 3, "points": 4.0, "reject_at": 8, "in_learning": true}},
    "origin": {"$ref": "#/$defs/signal", "default": {"window_seconds": 3600, "score_at": 4, "points": 3.0, "reject_at": 0, "in_learning": false}},
    "actor": {"$ref": "#/$defs/signal", "default": {"window_seconds": 86400, "score_at": 6, "points": 4.0, "reject_at": 15, "in_learning": true}},
    "server": {"$ref": "#/$defs/signal", "default": {"window_seconds": 3600, "score_at": 5, "points": 3.0, "reject_at": 0, "in_learning": false}},
    "server_day": {"$ref": "#/$defs/signal", "default": {"window_seconds": 86400, "score_at": 20, "points": 3.0, "reject_at": 0, "in_learning": false}}
  }
}"##;

/// A key or name from what a sender wrote, cut for a reason.
fn shown(text: &str) -> String {
    palisade_sdk::text::clamp(text.to_owned(), 64)
}

impl NewcomerBurst {
    /// The most distinct members any of `keys` has in `signal`'s window,
    /// after adding `member` to each, with the key that has them.
    fn most<'a>(
        signal: &Signal,
        keys: &'a [String],
        prefix: &str,
        member: &str,
    ) -> Option<(u64, &'a str)> {
        keys.iter()
            .map(|k| {
                let count =
                    state::distinct_add(&format!("{prefix}:{k}"), member, signal.window_seconds);
                (count, k.as_str())
            })
            .max_by_key(|(count, _)| *count)
    }

    /// The link sites of `activity` worth counting: not the actor's own, not
    /// ignored, at most [`PER_POST`].
    fn sites(&self, activity: &Activity) -> Vec<String> {
        let own = activity.actor_host.as_deref().map(site_of);
        let mut sites: Vec<String> = Vec::new();
        for link in links(activity) {
            let site = link.site();
            if Some(&site) == own.as_ref()
                || self
                    .ignore_sites
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&site))
                || sites.contains(&site)
            {
                continue;
            }
            sites.push(site);
            if sites.len() == PER_POST {
                break;
            }
        }
        sites
    }
}

impl Policy for NewcomerBurst {
    fn describe() -> Description {
        Description::new(
            "newcomer-burst",
            env!("CARGO_PKG_VERSION"),
            "Counts first contacts (new actors mentioning local users with no tie \
             to them) and acts when many share a link site, an image or an origin \
             host, when one new actor mentions many local users, or when first \
             contacts surge server-wide.",
        )
        .capabilities(["state"])
        .config_schema(SCHEMA)
    }

    fn configure(json: &str) -> Result<Self, String> {
        let s: Settings = config::parse(json)?;
        let server_baseline_factor = s.server_baseline_factor.unwrap_or(4.0);
        if !server_baseline_factor.is_finite() || server_baseline_factor < 0.0 {
            return Err(
                "invalid configuration: `server_baseline_factor` must be a number, 0 or more"
                    .to_owned(),
            );
        }
        let server_baseline_days = s.server_baseline_days.unwrap_or(7);
        if server_baseline_days > 49_000 {
            return Err(
                "invalid configuration: `server_baseline_days` is at most 49000".to_owned(),
            );
        }
        Ok(NewcomerBurst {
            server_baseline_days,
            server_baseline_factor,
            kinds: s
                .kinds
                .unwrap_or_else(|| vec!["Create".to_owned(), "Update".to_owned()]),
            new_actor_hours: s.new_actor_hours.unwrap_or(DEFAULT_NEW_ACTOR_HOURS),
            ignore_sites: s.ignore_sites,
            link_site: s
                .link_site
                .over("link_site", Signal::new(3600, 3, 4.0, 8, true))?,
            media: s.media.over("media", Signal::new(3600, 3, 4.0, 8, true))?,
            origin: s
                .origin
                .over("origin", Signal::new(3600, 4, 3.0, 0, false))?,
            actor: s
                .actor
                .over("actor", Signal::new(86_400, 6, 4.0, 15, true))?,
            server: s
                .server
                .over("server", Signal::new(3600, 5, 3.0, 0, false))?,
            server_day: s
                .server_day
                .over("server_day", Signal::new(86_400, 20, 3.0, 0, false))?,
        })
    }

    fn judge(&self, activity: &Activity, cx: &Context) -> Verdict {
        if !self.kinds.contains(&activity.kind) {
            return Verdict::pass();
        }
        let Some(actor) = activity.actor.as_deref() else {
            return Verdict::pass();
        };
        // A new actor's post reaching people here: its link sites and
        // images are counted even when every mention is excused (a reply
        // "in a thread", to a post of a local user's that need not exist);
        // the other signals only for first contacts.
        if !is_new_actor(cx, self.new_actor_hours) || !activity.mentions.iter().any(|m| m.local) {
            return Verdict::pass();
        }
        let contact = first_contact(activity, cx, self.new_actor_hours).is_some();
        let on = |signal: &Signal| signal.applies(cx.learning);
        let first = |signal: &Signal| contact && on(signal);
        let mut findings: Vec<Finding> = Vec::new();

        if on(&self.link_site) {
            let sites = self.sites(activity);
            if let Some((n, site)) = Self::most(&self.link_site, &sites, "l", actor) {
                let what = format!("links to {} from {n} distinct new actors", shown(site));
                findings.extend(self.link_site.finding(n, "link-site", what));
            }
        }
        if on(&self.media) {
            let media = media_keys(&activity.attachments, PER_POST);
            if let Some((n, key)) = Self::most(&self.media, &media, "m", actor) {
                let what = format!(
                    "the same image ({}) from {n} distinct new actors",
                    shown(key)
                );
                findings.extend(self.media.finding(n, "media", what));
            }
        }
        if first(&self.origin)
            && let Some(host) = activity.actor_host.as_deref()
        {
            let n = state::distinct_add(&format!("o:{host}"), actor, self.origin.window_seconds);
            let what = format!("{n} distinct new actors from {}", shown(host));
            findings.extend(self.origin.finding(n, "origin", what));
        }
        if first(&self.actor) {
            let key = format!("a:{actor}");
            let n = activity
                .mentions
                .iter()
                .filter(|m| m.local)
                .take(USERS_PER_POST)
                .map(|m| state::distinct_add(&key, &m.href, self.actor.window_seconds))
                .max()
                .unwrap_or(0);
            let what = format!("this new actor mentioned {n} distinct local users");
            findings.extend(self.actor.finding(n, "looping", what));
        }
        if first(&self.server) || first(&self.server_day) {
            findings.extend(self.surges(actor));
        }
        combine("newcomer-burst", findings)
    }
}

impl NewcomerBurst {
    /// A signal's threshold on this server: its `score_at`, or
    /// `server_baseline_factor` times the usual number of distinct new
    /// actors making first contact in one of its windows (from the
    /// baseline's `known` actors over `server_baseline_days`), when more;
    /// at most `cap` times `score_at`.
    fn on_this_server(&self, signal: &Signal, known: u64, cap: u64) -> Signal {
        let mut signal = signal.clone();
        if self.server_baseline_days > 0 {
            let span = f64::from(self.server_baseline_days) * 86_400.0;
            let usual = known as f64 * f64::from(signal.window_seconds) / span;
            let threshold = (self.server_baseline_factor * usual).ceil() as u64;
            signal.score_at = threshold.clamp(signal.score_at, signal.score_at.saturating_mul(cap));
        }
        signal
    }

    /// The server-wide surge `actor`'s first contact is part of: over the
    /// hour, or, in an hour that is not one, over the day (counting only
    /// such ordinary hours, so a wave does not make the rest of its day
    /// look like a slow one). Only ordinary hours teach the baseline, so a
    /// wave does not raise the bar for the next one either.
    fn surges(&self, actor: &str) -> Option<Finding> {
        let span = self.server_baseline_days.saturating_mul(86_400);
        let known = if span > 0 {
            state::distinct_count("baseline", span)
        } else {
            0
        };
        if self.server.enabled {
            let n = state::distinct_add("server", actor, self.server.window_seconds);
            let signal = self.on_this_server(&self.server, known, 10);
            if n >= signal.score_at {
                let what = format!("{n} distinct new actors server-wide");
                return signal.finding(n, "surge", what);
            }
        }
        if span > 0 {
            state::distinct_add("baseline", actor, span);
        }
        if self.server_day.enabled {
            let day = self.server_day.window_seconds;
            let n = state::distinct_add("server-day", actor, day);
            // A day holds 24 hours of a busy server's ordinary traffic.
            let signal = self.on_this_server(&self.server_day, known, 60);
            let what = format!("{n} distinct new actors server-wide, outside surges,");
            return signal.finding(n, "slow-surge", what);
        }
        None
    }
}

/// "within 60 min" for a signal's reasons.
fn within(signal: &Signal) -> String {
    format!("within {}", window_text(signal.window_seconds))
}

palisade_sdk::export_policy!(NewcomerBurst);

#[cfg(test)]
mod tests;
