//! Identifiers and timestamps as each server software mints them, so that
//! an id looks like the server it claims to come from and sorts by time as
//! the real ones do.

use std::time::{Duration, UNIX_EPOCH};

use super::Dice;

const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE83: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";
pub const HEX: &[u8] = b"0123456789abcdef";
pub const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `2026-03-01T12:00:00Z` (Mastodon, GoToSocial).
pub fn seconds(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// `2026-03-01T12:00:00.123Z` (Misskey).
pub fn millis(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// `2026-03-01T12:00:00.123456Z` (Akkoma, Elixir's microseconds).
pub fn micros(ms: u64, dice: &mut Dice) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms) + Duration::from_micros(dice.below(1000));
    humantime::format_rfc3339_micros(t).to_string()
}

/// The day part, `2026-03-01`, of a time.
pub fn date(ms: u64) -> String {
    seconds(ms)[..10].to_owned()
}

/// A Mastodon status id: milliseconds shifted left 16 bits, plus a
/// sequence in the low bits.
pub fn snowflake(ms: u64, dice: &mut Dice) -> String {
    ((ms << 16) | dice.below(1 << 16)).to_string()
}

/// A Misskey `aid`: the milliseconds since 2000-01-01 in 8 base-36 digits,
/// then 2 random ones.
pub fn aid(ms: u64, dice: &mut Dice) -> String {
    let mut t = ms.saturating_sub(946_684_800_000);
    let mut time = [b'0'; 8];
    for c in time.iter_mut().rev() {
        *c = BASE36[(t % 36) as usize];
        t /= 36;
    }
    format!(
        "{}{}",
        String::from_utf8_lossy(&time),
        dice.string(2, BASE36)
    )
}

/// A ULID (GoToSocial): 48 bits of milliseconds and 80 random bits in
/// Crockford's base 32.
pub fn ulid(ms: u64, dice: &mut Dice) -> String {
    let mut t = ms;
    let mut time = [b'0'; 10];
    for c in time.iter_mut().rev() {
        *c = CROCKFORD[(t % 32) as usize];
        t /= 32;
    }
    format!(
        "{}{}",
        String::from_utf8_lossy(&time),
        dice.string(16, CROCKFORD)
    )
}

/// A random (version 4) UUID (Akkoma, Mastodon follows).
pub fn uuid(dice: &mut Dice) -> String {
    let a = dice.u64();
    let b = dice.u64();
    let hex = format!("{a:016x}{b:016x}");
    let variant = HEX[8 + (b >> 62) as usize] as char;
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// An Akkoma (FlakeId) user id as it appears in `data-user`.
pub fn flake(dice: &mut Dice) -> String {
    dice.string(18, BASE62)
}

/// A BlurHash of a 4×3-component image: its size flag, quantised maximum,
/// DC colour and 11 AC components in base 83.
pub fn blurhash(dice: &mut Dice) -> String {
    let size_flag = (4 - 1) + (3 - 1) * 9;
    let mut out = String::new();
    out.push(BASE83[size_flag] as char);
    out.push(BASE83[dice.below(83) as usize] as char);
    out.push_str(&dice.string(4, BASE83));
    out.push_str(&dice.string(22, BASE83));
    out
}
