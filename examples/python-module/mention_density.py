"""`mention-density`: a Palisade policy module written in Python.

The 2024 waves, and the "reply guys" before them, share a shape: a post
that is mostly other people's handles, with a line of text and a link
hung on the end. A person writing to a few friends writes sentences; a
script fanning out to targets writes handles. This module measures how
many words of its own a post carries per actor it mentions, and scores
posts that mention several actors with too few words per mention; more
when the actor was first seen recently.

Thread replies are judged with a higher mention floor: Mastodon and its
kin add every participant of a thread to a reply, so a short "agreed!"
deep in a busy thread mentions many people without fanning out to anyone.

Words are whitespace-separated tokens with a letter or digit in them,
except handles (`@...`), hashtags (`#...`) and links. Scripts written
without spaces (Chinese, Japanese, Thai) count one word per two
characters, so that a Japanese sentence is not taken for a single word.

Configuration (JSON, all keys optional; an unknown key is refused):

| key | default | meaning |
|---|---|---|
| `min_mentions` | 3 | the fewest mentions for the module to look at a post (at least 1) |
| `reply_min_mentions` | 6 | the same for replies (`inReplyTo` set) (at least 1) |
| `min_words_per_mention` | 4.0 | act when the post has fewer own words per mention than this |
| `new_actor_hours` | 24 | an actor first seen less than this many hours ago is new (0: nobody is) |
| `action` | `"score"` | `"score"`, `"quarantine"` or `"reject"` |
| `points` | 2.0 | points when `action` is `"score"` |
| `new_actor_points` | 2.0 | points added when the actor is new |
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, types

NAME = "mention-density"
VERSION = "0.1.0"

# key -> (default, check, what the check expects)
_INT_AT_LEAST_1 = "an integer of at least 1"
_NUMBER_ABOVE_0 = "a number above 0"
_NUMBER_AT_LEAST_0 = "a number of at least 0"
_FINITE_NUMBER = "a number between -1000 and 1000"
_ACTIONS = ("score", "quarantine", "reject")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_KEYS = {
    "min_mentions": (3, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, _INT_AT_LEAST_1),
    "reply_min_mentions": (6, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, _INT_AT_LEAST_1),
    "min_words_per_mention": (4.0, lambda v: _is_number(v) and v > 0, _NUMBER_ABOVE_0),
    "new_actor_hours": (24, lambda v: _is_number(v) and v >= 0, _NUMBER_AT_LEAST_0),
    "action": ("score", lambda v: v in _ACTIONS, "one of " + ", ".join(f'"{a}"' for a in _ACTIONS)),
    "points": (2.0, lambda v: _is_number(v) and -1000 <= v <= 1000, _FINITE_NUMBER),
    "new_actor_points": (2.0, lambda v: _is_number(v) and -1000 <= v <= 1000, _FINITE_NUMBER),
}

SCHEMA = json.dumps(
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "min_mentions": {"type": "integer", "minimum": 1, "default": 3},
            "reply_min_mentions": {"type": "integer", "minimum": 1, "default": 6},
            "min_words_per_mention": {"type": "number", "exclusiveMinimum": 0, "default": 4.0},
            "new_actor_hours": {"type": "number", "minimum": 0, "default": 24},
            "action": {"enum": list(_ACTIONS), "default": "score"},
            "points": {"type": "number", "minimum": -1000, "maximum": 1000, "default": 2.0},
            "new_actor_points": {"type": "number", "minimum": -1000, "maximum": 1000, "default": 2.0},
        },
    },
    separators=(",", ":"),
)


def parse_config(text):
    """The settings in `text` (JSON), or a message naming the key at fault."""
    try:
        given = json.loads(text)
    except ValueError as e:
        raise ValueError(f"the configuration is not JSON: {e}") from None
    if not isinstance(given, dict):
        raise ValueError("the configuration must be a JSON object")
    settings = {key: default for key, (default, _, _) in _KEYS.items()}
    for key, value in given.items():
        if key not in _KEYS:
            known = ", ".join(sorted(_KEYS))
            raise ValueError(f"unknown key `{key}` (known keys: {known})")
        _, check, expected = _KEYS[key]
        if not check(value):
            raise ValueError(
                f"invalid configuration at `{key}`: expected {expected}, got {json.dumps(value)}"
            )
        settings[key] = value
    return settings


# Scripts written without spaces between words: Thai, kana, CJK ideographs.
_UNSPACED = re.compile(
    "[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]"
)
# A letter or a digit, in any script.
_ALNUM = re.compile(r"[^\W_]")


def own_words(text):
    """Words the author wrote: no handles, hashtags or links."""
    words = 0
    for token in text.split():
        if token[0] in "@#" or "://" in token or token.startswith("www."):
            continue
        if not token.isascii():
            unspaced = len(_UNSPACED.findall(token))
            if unspaced:
                words += (unspaced + 1) // 2
                token = _UNSPACED.sub("", token)
        if _ALNUM.search(token):
            words += 1
    return words


# Settings live at module level: the host calls `configure` on every
# instance before its first `judge`, and componentize-py may create a
# fresh `Policy` object for each call.
_settings = parse_config("{}")


class Policy(exports.Policy):
    def describe(self):
        return types.Description(
            name=NAME,
            version=VERSION,
            description=(
                "Scores posts that mention several actors with few words of their own "
                "per mention (the shape of reply-spam and mention waves), more for "
                "actors first seen recently."
            ),
            capabilities=["log"],
            config_schema=SCHEMA,
        )

    def configure(self, config):
        global _settings
        try:
            _settings = parse_config(config)
        except ValueError as e:
            raise Err(str(e))
        log.log(log.Level.DEBUG, f"configured: {json.dumps(_settings, sort_keys=True)}")

    def judge(self, activity, context):
        s = _settings
        mentions = len(activity.mentions)
        floor = s["reply_min_mentions"] if activity.in_reply_to else s["min_mentions"]
        if mentions < floor:
            return _pass()
        words = own_words(activity.text)
        per_mention = words / mentions
        if per_mention >= s["min_words_per_mention"]:
            return _pass()

        reason = (
            f"{_count(mentions, 'mention')} and {_count(words, 'word')} of its own "
            f"({per_mention:.1f} per mention, fewer than {s['min_words_per_mention']:g})"
        )
        new = _new_actor(context, s["new_actor_hours"])
        if new:
            reason += f"; actor first seen less than {s['new_actor_hours']:g}h ago"
        action = s["action"]
        if action == "reject":
            return types.Verdict(ruling=types.Ruling_Reject(reason), rewrites=[])
        if action == "quarantine":
            return types.Verdict(ruling=types.Ruling_Quarantine(reason), rewrites=[])
        points = float(s["points"]) + (float(s["new_actor_points"]) if new else 0.0)
        labels = ["mention-density"] + (["new-actor"] if new else [])
        score = types.Score(points=points, labels=labels, reason=reason)
        return types.Verdict(ruling=types.Ruling_Score(score), rewrites=[])


def _count(n, noun):
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _pass():
    return types.Verdict(ruling=types.Ruling_Pass(), rewrites=[])


def _new_actor(context, hours):
    first_seen = context.actor_first_seen
    if first_seen is None or hours <= 0:
        return False
    return context.received_at - first_seen < hours * 3_600_000
