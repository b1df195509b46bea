//! The waves written against actor facts: one whose operator fills in the
//! profiles that 2024's scripts left empty, and one from servers that say
//! their accounts are years old.

use super::{Ctx, HOUR, Names};
use crate::scenario::facts::Setup;
use crate::scenario::population::Software;
use crate::scenario::scaled;

/// Accounts registered minutes before they post, as in 2024, but each with
/// an avatar, a display name and 5–20 followers (the operator's other
/// accounts following each other); their server says honestly when they
/// were made. One mention, words as varied as anyone's, no link, no
/// image, forty origin servers: `one-mention` with its profiles filled.
pub(super) fn filled_profiles(cx: &mut Ctx<'_>) {
    const ASK: &[&str] = &[
        "have a look at my profile",
        "more on my page",
        "my pinned post explains it",
        "write me if you are curious",
        "details in my bio",
        "follow me and I will tell you",
    ];
    let label = "wave/filled-profiles";
    let start = cx.start(3, 16);
    let n = scaled(200, cx.scale, 20) as usize;
    let hosts = cx.hosts(
        40,
        8,
        &[Software::Mastodon, Software::Misskey, Software::Akkoma],
    );
    let bots = cx.bots(&hosts, n, Names::People, Setup::Filled, start);
    super::adaptive::one_mention_posts(cx, label, start, &bots, 3 * HOUR, ASK);
}

/// Three servers of the operator's own whose software says every account
/// was made in 2019 (`published`), with empty profiles: five mentions (the
/// limit for a new actor is four), varied words, no link, no image, one
/// post per account. Outside the learning period the host bounds the claim
/// by when it first saw the server; on install day it cannot.
pub(super) fn backdated(cx: &mut Ctx<'_>) {
    const PARTS: &[&[&str]] = &[
        &[
            "friends,",
            "everyone,",
            "hello all,",
            "dear neighbours,",
            "heads up,",
        ],
        &[
            "our old community moved to a new home",
            "the group we all used is back",
            "the project you followed years ago restarted",
            "the forum from back then reopened",
        ],
        &[
            "and your account is waiting",
            "and they kept your old posts",
            "and everyone is asking about you",
            "and the first members get a badge",
        ],
        &[
            "search for us",
            "ask me how to join",
            "reply and I will add you",
            "see my profile",
        ],
    ];
    let label = "wave/backdated";
    let start = cx.start(4, 14);
    let n = scaled(150, cx.scale, 15) as usize;
    let hosts = cx.pop.backdating_hosts.clone();
    let bots = cx.bots(&hosts, n, Names::People, Setup::Backdated, start);
    let mut used = Default::default();
    for (bot, at) in bots.iter().zip(cx.times(start, 2 * HOUR, n)) {
        let local = cx.dice.range(3, 5) as usize;
        let mentions = cx.targets(local, 5 - local);
        let text = cx.fresh(&mut used, PARTS);
        let note = cx.note(bot, at, text, mentions);
        cx.post(label, start, &note);
    }
}
