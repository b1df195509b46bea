//! The waves that adapt: each changes what the bundled modules look at
//! (the number of mentions, the words, the link, the accounts' age) while
//! keeping what the spam needs.

use super::{Ctx, HOUR, MINUTE, Names};
use crate::scenario::facts::Setup;
use crate::scenario::population::{Person, Software};
use crate::scenario::render::{Media, Visibility};
use crate::scenario::words::spin;
use crate::scenario::{DAY_MS, ids, scaled};

/// Four mentions (the most `mention-limit` allows a new actor), different
/// words in every post, a different Discord invite in every post, one
/// post per fresh account.
pub(super) fn invite_four(cx: &mut Ctx<'_>) {
    const PARTS: &[&[&str]] = &[
        &[
            "hey",
            "hi",
            "hello friend",
            "yo",
            "good news",
            "psst",
            "hey there",
            "greetings",
        ],
        &[
            "we just opened a server for",
            "our community is growing fast, all about",
            "come chat with other fans of",
            "there is a new hangout for",
            "join thousands of people talking about",
            "we are giving away roles for",
            "a new channel just dropped for",
            "the best place online for",
        ],
        &[
            "crypto",
            "anime",
            "gaming",
            "art commissions",
            "music producers",
            "ai art",
            "nft drops",
            "trading tips",
            "memes",
            "streamers",
        ],
        &[
            "join here",
            "invite below",
            "tap the link",
            "come in",
            "the link is open",
            "grab your spot",
            "jump in",
            "click to join",
        ],
        &[
            "see you there",
            "limited spots",
            "only today",
            "free for everyone",
            "no catch",
            "be quick",
            "",
            "bring friends",
        ],
    ];
    const CODE: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let label = "wave/invite-four";
    let start = cx.start(2, 3);
    let n = scaled(300, cx.scale, 30) as usize;
    let hosts = cx.hosts(
        30,
        8,
        &[Software::Mastodon, Software::Misskey, Software::Akkoma],
    );
    let bots = cx.bots(&hosts, n, Names::People, Setup::Bare, start);
    let mut used = Default::default();
    for (bot, at) in bots.iter().zip(cx.times(start, 3 * HOUR, n)) {
        let local = cx.dice.range(1, 4) as usize;
        let mentions = cx.targets(local, 4 - local);
        let text = cx.fresh(&mut used, PARTS);
        let mut note = cx.note(bot, at, text, mentions);
        let len = cx.dice.range(8, 10) as usize;
        note.links
            .push(format!("https://discord.gg/{}", cx.dice.string(len, CODE)));
        cx.post(label, start, &note);
    }
}

/// Ten fresh accounts posting in a loop, each every few minutes (under
/// `rate-limit`'s 20 in 10 minutes), three mentions, varied words, the
/// shop's link.
pub(super) fn loop_ten(cx: &mut Ctx<'_>) {
    const PARTS: &[&[&str]] = &[
        &[
            "good morning",
            "reminder",
            "daily drop",
            "hot today",
            "new post",
            "update",
            "don't miss",
            "fresh",
        ],
        &[
            "cheap followers and likes",
            "followers that stay",
            "real engagement",
            "viral boosts",
            "instant reach",
            "growth packages",
        ],
        &[
            "at the best price",
            "from a trusted seller",
            "with fast delivery",
            "guaranteed",
            "for every platform",
            "with a refund policy",
        ],
        &[
            "order now",
            "message us",
            "visit the shop",
            "see the offers",
            "ask for a discount",
            "details on the site",
        ],
    ];
    let label = "wave/loop-ten";
    let start = cx.start(2, 18);
    let n = scaled(250, cx.scale, 20) as usize;
    let hosts = cx.hosts(5, 2, &[Software::Mastodon, Software::Misskey]);
    let bots = cx.bots(&hosts, 10, Names::People, Setup::Bare, start);
    let per = n.div_ceil(bots.len());
    let mut posted = 0;
    for bot in &bots {
        let mut at = start + cx.dice.below(10 * MINUTE);
        for _ in 0..per {
            if posted == n {
                return;
            }
            let local = cx.dice.range(2, 3) as usize;
            let mentions = cx.targets(local, 3 - local);
            let text = spin(cx.dice, PARTS);
            let mut note = cx.note(bot, at, text, mentions);
            note.links
                .push("https://growthshop.example/offers".to_owned());
            cx.post(label, start, &note);
            posted += 1;
            at += cx.dice.range(4 * MINUTE, 7 * MINUTE);
        }
    }
}

/// One short text with a random three-character tail, three mentions,
/// from 80 fresh accounts posting three times each: the shorter the text,
/// the more fingerprint bits the tail flips.
pub(super) fn random_tail(cx: &mut Ctx<'_>) {
    const TEXT: &str = "Free accounts open for a few hours, claim yours now";
    let label = "wave/random-tail";
    let start = cx.start(3, 11);
    let n = scaled(240, cx.scale, 24) as usize;
    let hosts = cx.hosts(16, 6, &[Software::Mastodon, Software::Misskey]);
    let bots = cx.bots(&hosts, n.min(80), Names::People, Setup::Bare, start);
    for (i, at) in cx.times(start, 90 * MINUTE, n).into_iter().enumerate() {
        let bot = bots[i % bots.len()].clone();
        let local = cx.dice.range(2, 3) as usize;
        let mentions = cx.targets(local, 3 - local);
        let tail = cx.dice.string(3, ids::LOWER_ALNUM);
        let mut note = cx.note(&bot, at, format!("{TEXT} {tail}"), mentions);
        note.links
            .push("https://fastfedi.example/signup".to_owned());
        cx.post(label, start, &note);
    }
}

/// One or two mentions, varied words, a link to the same host with a
/// different code in every post (a host on no invite list), one post per
/// fresh account from forty servers.
pub(super) fn link_codes(cx: &mut Ctx<'_>) {
    const PARTS: &[&[&str]] = &[
        &[
            "I made",
            "we built",
            "check out",
            "we finally launched",
            "you will love",
            "I just found",
            "try",
            "here is",
        ],
        &[
            "a free tool that",
            "an app that",
            "a site that",
            "a bot that",
            "a service that",
            "something that",
        ],
        &[
            "doubles your followers",
            "shows who viewed your profile",
            "finds your lost posts",
            "gets you verified",
            "boosts your reach",
            "unlocks hidden features",
            "pays you for posting",
            "tracks your unfollowers",
        ],
        &[
            "in one click",
            "for free",
            "today only",
            "with no signup",
            "in seconds",
            "instantly",
            "",
            "with no limits",
        ],
    ];
    let label = "wave/link-codes";
    let start = cx.start(4, 7);
    let n = scaled(300, cx.scale, 30) as usize;
    let hosts = cx.hosts(
        40,
        8,
        &[Software::Mastodon, Software::Misskey, Software::Akkoma],
    );
    let bots = cx.bots(&hosts, n, Names::People, Setup::Bare, start);
    let mut used = Default::default();
    for (bot, at) in bots.iter().zip(cx.times(start, 150 * MINUTE, n)) {
        let mentions = if cx.dice.chance(50) {
            cx.targets(1, 0)
        } else {
            cx.targets(1, 1)
        };
        let text = cx.fresh(&mut used, PARTS);
        let mut note = cx.note(bot, at, text, mentions);
        note.links.push(format!(
            "https://profile-tools.example/r/{}",
            cx.dice.string(7, ids::LOWER_ALNUM)
        ));
        cx.post(label, start, &note);
    }
}

/// The same image (same file, size and blurhash) with two mentions, no
/// link, and a near-identical text: a word or two swapped per post.
pub(super) fn same_image(cx: &mut Ctx<'_>) {
    const PARTS: &[&[&str]] = &[
        &["look at", "see", "check", "have a look at"],
        &[
            "what I found about you in",
            "what they posted about you in",
            "what is going around about you in",
        ],
        &[
            "this picture",
            "this image",
            "this photo",
            "this screenshot",
        ],
        &[
            "before it is deleted",
            "before they take it down",
            "while it is still up",
        ],
    ];
    let label = "wave/same-image";
    let start = cx.start(4, 20);
    let n = scaled(200, cx.scale, 20) as usize;
    let hosts = cx.hosts(20, 6, &[Software::Mastodon, Software::Akkoma]);
    let bots = cx.bots(&hosts, n, Names::People, Setup::Bare, start);
    let blurhash = ids::blurhash(cx.dice);
    for (bot, at) in bots.iter().zip(cx.times(start, HOUR, n)) {
        let local = cx.dice.range(1, 2) as usize;
        let mentions = cx.targets(local, 2 - local);
        let text = spin(cx.dice, PARTS);
        let mut note = cx.note(bot, at, text, mentions);
        note.media.push(Media::upload(
            bot,
            "IMG_4471.jpg",
            (1170, 2532),
            blurhash.clone(),
            None,
            cx.dice,
        ));
        cx.post(label, start, &note);
    }
}

/// Misskey notes with six mentions, the message in MFM markup (which
/// Misskey shows instead of `content`), from Misskey servers only.
pub(super) fn misskey_mfm(cx: &mut Ctx<'_>) {
    const SHOUT: &[&str] = &[
        "FREE GIFT",
        "WINNER",
        "CONGRATULATIONS",
        "LAST CHANCE",
        "SPECIAL OFFER",
        "YOU ARE SELECTED",
    ];
    const PARTS: &[&[&str]] = &[
        &[
            "you have been chosen for",
            "claim your",
            "you can still get",
            "today you receive",
            "pick up your",
        ],
        &[
            "a premium account",
            "1000 coins",
            "a gift card",
            "an exclusive badge",
            "free credits",
            "a mystery box",
        ],
        &[
            "before midnight",
            "while it lasts",
            "right now",
            "in the next hour",
            "today",
        ],
    ];
    let label = "wave/misskey-mfm";
    let start = cx.start(5, 12);
    let n = scaled(240, cx.scale, 24) as usize;
    let hosts = cx.hosts(12, 4, &[Software::Misskey]);
    let bots = cx.bots(&hosts, n.div_ceil(2), Names::Random, Setup::Bare, start);
    for (i, at) in cx.times(start, 2 * HOUR, n).into_iter().enumerate() {
        let bot = bots[i % bots.len()].clone();
        let local = cx.dice.range(3, 6) as usize;
        let mentions = cx.targets(local, 6 - local);
        let shout = *cx.dice.pick(SHOUT);
        let rest = spin(cx.dice, PARTS);
        let mut note = cx.note(&bot, at, format!("{shout} {rest}"), mentions);
        note.mfm = Some(format!(
            "$[x2 **{shout}**]\n$[shake 🎁] {rest} $[sparkle ✨]"
        ));
        note.links.push(format!(
            "https://gift-claim.example/{}",
            cx.dice.string(6, ids::LOWER_ALNUM)
        ));
        cx.post(label, start, &note);
    }
}

/// The hardest: one mention, words as varied as anyone's, no link, no
/// image, a hundred origin servers; only the invitation to look at the
/// profile gives the purpose away.
pub(super) fn one_mention(cx: &mut Ctx<'_>) {
    const ASK: &[&str] = &[
        "check my profile",
        "see my pinned post",
        "reply if you want to know more",
        "DM me for details",
        "I wrote more about it on my page",
        "look at my bio",
        "follow me back",
        "let's talk in private",
    ];
    let label = "wave/one-mention";
    let start = cx.start(5, 22);
    let n = scaled(300, cx.scale, 30) as usize;
    let hosts = cx.hosts(
        100,
        10,
        &[Software::Mastodon, Software::Misskey, Software::Akkoma],
    );
    let bots = cx.bots(&hosts, n, Names::People, Setup::Bare, start);
    one_mention_posts(cx, label, start, &bots, 4 * HOUR, ASK);
}

/// One post per account over `span`, each mentioning one local user in
/// ordinary words ending with an invitation from `ask`, half of them
/// direct: the shape of `one-mention` and of the waves built on it.
pub(super) fn one_mention_posts(
    cx: &mut Ctx<'_>,
    label: &str,
    start: u64,
    bots: &[Person],
    span: u64,
    ask: &[&str],
) {
    for (bot, at) in bots.iter().zip(cx.times(start, span, bots.len())) {
        let mentions = cx.targets(1, 0);
        let text = format!("{} {}", cx.words.text(cx.dice, (1, 2)), cx.dice.pick(ask));
        let mut note = cx.note(bot, at, text, mentions);
        note.visibility = if cx.dice.chance(50) {
            Visibility::Public
        } else {
            Visibility::Direct
        };
        cx.post(label, start, &note);
    }
}

/// Accounts registered days before they spam, each following a local user
/// or liking a local post on the way, so that no module calls them new
/// when the posts come: three mentions, varied words, a link with a code.
/// The preparation is unlabelled: a follow or a like is harmless alone.
pub(super) fn aged_accounts(cx: &mut Ctx<'_>) {
    const PARTS: &[&[&str]] = &[
        &["hi", "hello", "hey", "hi again", "hello there"],
        &[
            "I saw your posts and thought you might like",
            "sorry to bother you, but have you seen",
            "a friend told me you are into",
            "you seem like someone who would enjoy",
            "quick question, do you know",
        ],
        &[
            "this new platform",
            "our small project",
            "the new app everyone uses",
            "this investment club",
            "a side income idea",
        ],
        &[
            "more here",
            "details at the link",
            "it is free to try",
            "happy to explain",
            "worth a look",
        ],
    ];
    let label = "wave/aged-accounts";
    let start = cx.start(6, 10);
    let n = scaled(200, cx.scale, 20) as usize;
    let hosts = cx.hosts(8, 6, &[Software::Mastodon, Software::Misskey]);
    let accounts = n.div_ceil(5);
    let warmed_at = start - cx.dice.range(3, 5) * DAY_MS;
    let bots = cx.bots(&hosts, accounts, Names::People, Setup::Bare, warmed_at);
    for bot in &bots {
        let at = warmed_at + cx.dice.below(12 * HOUR);
        let target = cx.targets(1, 0).remove(0);
        let v = if cx.dice.chance(50) {
            cx.t.follow(bot, &target, at, cx.dice)
        } else {
            let post = format!(
                "{}/statuses/{}",
                target.uri,
                ids::snowflake(at - DAY_MS, cx.dice)
            );
            cx.t.like(bot, &post, &target, at, cx.dice)
        };
        cx.out.push(at, None, Some(&target.username), v);
    }
    let mut used = Default::default();
    for (i, at) in cx.times(start, 2 * HOUR, n).into_iter().enumerate() {
        let bot = bots[i % bots.len()].clone();
        let mentions = cx.targets(2, 1);
        let text = cx.fresh(&mut used, PARTS);
        let mut note = cx.note(&bot, at, text, mentions);
        note.links.push(format!(
            "https://sidegig.example/i/{}",
            cx.dice.string(8, ids::LOWER_ALNUM)
        ));
        cx.post(label, start, &note);
    }
}
