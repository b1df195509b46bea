//! One line of a replay file: what is judged, for whom, when, and under
//! which label.
//!
//! A line is a bare activity or an envelope (`{"received_at", "label",
//! "recipient", "activity": {…}}`). Reading it is lenient on purpose: a line
//! this strict reading cannot make sense of is still judged, as a bare
//! document, so that it meets the same parser (and the same verdict) as the
//! body the sidecar would have received.

use serde::Deserialize;
use serde_json::value::RawValue;

/// What one line holds.
#[derive(Debug, PartialEq)]
pub(crate) struct Line<'a> {
    /// The document to judge: the envelope's `activity`, as written in the
    /// line, or the whole line.
    pub body: &'a [u8],
    pub label: Option<String>,
    pub recipient: Option<String>,
    /// Who signed it, as the sidecar verified (`"sender"`, `"actor_facts"`);
    /// trusted when the line does not say.
    pub sender: crate::senders::Sender,
    /// The line's own time, and where it came from.
    pub time: Option<(u64, TimeSource)>,
}

/// Where a line's time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeSource {
    /// The envelope's `received_at`.
    ReceivedAt,
    /// The activity's `published`, or its object's.
    Published,
}

/// The members a line is told apart and timed by; every other member is
/// skipped without being decoded.
#[derive(Deserialize)]
struct Members<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    activity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    received_at: Option<&'a RawValue>,
    #[serde(borrow, default)]
    label: Option<&'a RawValue>,
    #[serde(borrow, default)]
    recipient: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sender: Option<&'a RawValue>,
    #[serde(borrow, default)]
    actor_facts: Option<&'a RawValue>,
    #[serde(borrow, default)]
    published: Option<&'a RawValue>,
    #[serde(borrow, default)]
    object: Option<&'a RawValue>,
}

impl<'a> Members<'a> {
    fn of(text: &'a [u8]) -> Option<Members<'a>> {
        serde_json::from_slice(text).ok()
    }

    /// The activity's `published`, else its embedded object's.
    fn published(&self) -> Option<u64> {
        self.published.and_then(rfc3339_ms).or_else(|| {
            let object = self.object.filter(|o| is_object(o))?;
            Members::of(object.get().as_bytes())?
                .published
                .and_then(rfc3339_ms)
        })
    }
}

/// Read one (non-empty) line.
pub(crate) fn read(line: &[u8]) -> Line<'_> {
    let bare = Line {
        body: line,
        label: None,
        recipient: None,
        sender: crate::senders::Sender::trusted(),
        time: None,
    };
    let Some(members) = Members::of(line) else {
        return bare;
    };
    match members
        .activity
        .filter(|a| is_object(a) && members.kind.is_none())
    {
        Some(activity) => {
            let received = members
                .received_at
                .and_then(epoch_ms)
                .map(|t| (t, TimeSource::ReceivedAt));
            let published = || {
                Members::of(activity.get().as_bytes())?
                    .published()
                    .map(|t| (t, TimeSource::Published))
            };
            Line {
                body: activity.get().as_bytes(),
                label: members.label.and_then(string),
                recipient: members.recipient.and_then(string),
                sender: crate::senders::Sender::from_recorded(
                    members
                        .sender
                        .and_then(|r| serde_json::from_str(r.get()).ok()),
                    members
                        .actor_facts
                        .and_then(|r| serde_json::from_str(r.get()).ok()),
                ),
                time: received.or_else(published),
            }
        }
        None => Line {
            time: members.published().map(|t| (t, TimeSource::Published)),
            ..bare
        },
    }
}

fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

fn string(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

/// `received_at`: milliseconds since the epoch, or RFC 3339 text.
fn epoch_ms(raw: &RawValue) -> Option<u64> {
    serde_json::from_str::<u64>(raw.get())
        .ok()
        .or_else(|| rfc3339_ms(raw))
}

/// RFC 3339 text (`2024-02-15T10:00:00Z`, `…+09:00`, fractions of a
/// second) as milliseconds since the epoch; nothing before 1970.
fn rfc3339_ms(raw: &RawValue) -> Option<u64> {
    let text: &str = serde_json::from_str(raw.get()).ok()?;
    let at =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_carries_its_activity_time_label_and_recipient() {
        let line = br#"{"received_at":"2024-02-15T10:00:00.250+01:00","label":"wave/a","recipient":"alice","activity":{"type":"Create","published":"2020-01-01T00:00:00Z"}}"#;
        let read = read(line);
        assert_eq!(
            read.body,
            br#"{"type":"Create","published":"2020-01-01T00:00:00Z"}"#
        );
        assert_eq!(read.label.as_deref(), Some("wave/a"));
        assert_eq!(read.recipient.as_deref(), Some("alice"));
        assert_eq!(
            read.time,
            Some((1_707_987_600_250, TimeSource::ReceivedAt)),
            "received_at wins over published, its offset applied"
        );
        let read = super::read(br#"{"received_at":1700000000123,"activity":{}}"#);
        assert_eq!(read.time, Some((1_700_000_000_123, TimeSource::ReceivedAt)));
    }

    #[test]
    fn without_received_at_the_activity_or_its_object_is_published() {
        let read = super::read(
            br#"{"activity":{"type":"Create","object":{"published":"1970-01-01T00:00:01Z"}}}"#,
        );
        assert_eq!(read.time, Some((1000, TimeSource::Published)));
        let read = super::read(br#"{"type":"Like","published":"1970-01-01T00:00:02Z"}"#);
        assert_eq!(read.time, Some((2000, TimeSource::Published)));
        assert_eq!(read.label, None, "a bare activity has no label");
        let read = super::read(br#"{"type":"Like","published":"yesterday"}"#);
        assert_eq!(read.time, None);
    }

    #[test]
    fn a_top_level_type_makes_a_bare_activity() {
        // An activity that happens to have an `activity` member is still
        // judged whole.
        let line = br#"{"type":"Create","label":"x","activity":{"type":"Note"}}"#;
        let read = super::read(line);
        assert_eq!(read.body, &line[..]);
        assert_eq!(read.label, None);
        // `activity` must be an object to make an envelope.
        let line = br#"{"activity":"https://a.example/1","label":"x"}"#;
        assert_eq!(super::read(line).body, &line[..]);
    }

    #[test]
    fn what_is_not_json_is_judged_whole() {
        for line in [
            &b"not json"[..],
            b"[1,2]",
            b"{\"type\": \"Create\",}",
            b"\xff{}",
        ] {
            let read = super::read(line);
            assert_eq!(read.body, line);
            assert_eq!(read.time, None);
        }
    }
}
