/**
 * `new-actor-media`: a Palisade policy module written in JavaScript.
 *
 * Several 2024 waves pushed images at people: freshly made accounts posting
 * a picture and a handful of mentions, so that the image landed in each
 * target's notifications. A new account sharing a photo with its followers
 * is normal; a new account sending media *at people* rarely is. This module
 * scores posts with media attachments and mentions from actors this server
 * first saw recently, adds points when none of the media has alt text (wave
 * images never do), and asks for the media to be hidden behind a warning
 * (or removed) where the deployment can change the activity.
 *
 * Only inbound activities are judged: this server's own users are not new
 * remote actors. Media are attachments whose media type starts with one of
 * `media_types`, or, without a media type, of kind `Image` or `Video`
 * (profile fields and links are attachments too, and are not counted).
 *
 * Configuration (JSON, all keys optional; an unknown key is refused):
 *
 * | key | default | meaning |
 * |---|---|---|
 * | `new_actor_hours` | 24 | an actor first seen less than this many hours ago is new (above 0) |
 * | `min_attachments` | 1 | the fewest media attachments for the module to act (at least 1) |
 * | `min_mentions` | 1 | the fewest mentions for the module to act (0: any media post) |
 * | `media_types` | `["image/", "video/"]` | media type prefixes that count as media |
 * | `points` | 3.0 | points for a matching post |
 * | `no_alt_points` | 2.0 | points added when no counted attachment has alt text |
 * | `rewrite` | `"mark-sensitive"` | `"mark-sensitive"`, `"strip-media"` or `"none"` |
 */
import { log } from "palisade:policy/log@0.4.0";

const NAME = "new-actor-media";
const VERSION = "0.1.0";
const REWRITES = ["mark-sensitive", "strip-media", "none"];

const isNumber = (v) => typeof v === "number" && Number.isFinite(v);
const isInt = (v) => Number.isInteger(v);

/** key -> [default, check, what the check expects] */
const KEYS = {
  new_actor_hours: [24, (v) => isNumber(v) && v > 0, "a number above 0"],
  min_attachments: [1, (v) => isInt(v) && v >= 1, "an integer of at least 1"],
  min_mentions: [1, (v) => isInt(v) && v >= 0, "an integer of at least 0"],
  media_types: [
    ["image/", "video/"],
    (v) =>
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((t) => typeof t === "string" && t.length > 0),
    "a non-empty list of media type prefixes",
  ],
  points: [3, (v) => isNumber(v) && Math.abs(v) <= 1000, "a number between -1000 and 1000"],
  no_alt_points: [2, (v) => isNumber(v) && Math.abs(v) <= 1000, "a number between -1000 and 1000"],
  rewrite: [
    "mark-sensitive",
    (v) => REWRITES.includes(v),
    `one of ${REWRITES.map((r) => `"${r}"`).join(", ")}`,
  ],
};

const SCHEMA = JSON.stringify({
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  additionalProperties: false,
  properties: {
    new_actor_hours: { type: "number", exclusiveMinimum: 0, default: 24 },
    min_attachments: { type: "integer", minimum: 1, default: 1 },
    min_mentions: { type: "integer", minimum: 0, default: 1 },
    media_types: {
      type: "array",
      items: { type: "string", minLength: 1 },
      minItems: 1,
      default: ["image/", "video/"],
    },
    points: { type: "number", minimum: -1000, maximum: 1000, default: 3 },
    no_alt_points: { type: "number", minimum: -1000, maximum: 1000, default: 2 },
    rewrite: { enum: REWRITES, default: "mark-sensitive" },
  },
});

/** The settings in `text` (JSON); throws a message naming the key at fault. */
function parseConfig(text) {
  let given;
  try {
    given = JSON.parse(text);
  } catch (e) {
    throw `the configuration is not JSON: ${e.message}`;
  }
  if (given === null || typeof given !== "object" || Array.isArray(given)) {
    throw "the configuration must be a JSON object";
  }
  const settings = {};
  for (const [key, [value]] of Object.entries(KEYS)) settings[key] = value;
  for (const [key, value] of Object.entries(given)) {
    if (!Object.hasOwn(KEYS, key)) {
      throw `unknown key \`${key}\` (known keys: ${Object.keys(KEYS).sort().join(", ")})`;
    }
    const [, check, expected] = KEYS[key];
    if (!check(value)) {
      throw `invalid configuration at \`${key}\`: expected ${expected}, got ${JSON.stringify(value)}`;
    }
    settings[key] = value;
  }
  return settings;
}

// The host calls `configure` on every instance before its first `judge`.
let settings = parseConfig("{}");

const PASS = { ruling: { tag: "pass" }, rewrites: [] };

function isMedia(attachment) {
  const type = (attachment.mediaType ?? "").toLowerCase();
  if (type) return settings.media_types.some((prefix) => type.startsWith(prefix));
  return attachment.kind === "Image" || attachment.kind === "Video";
}

export const policy = {
  describe() {
    return {
      name: NAME,
      version: VERSION,
      description:
        "Scores posts carrying media and mentions from actors first seen recently " +
        "(images pushed at people by fresh accounts), more when the media has no " +
        "alt text, and asks for the media to be hidden behind a warning.",
      capabilities: ["log"],
      configSchema: SCHEMA,
    };
  },

  configure(config) {
    settings = parseConfig(config);
    log("debug", `configured: ${JSON.stringify(settings)}`);
  },

  judge(activity, context) {
    if (context.direction !== "inbound" || context.actorFirstSeen == null) return PASS;
    // u64 fields arrive as BigInt.
    const ageMs = Number(BigInt(context.receivedAt) - BigInt(context.actorFirstSeen));
    if (ageMs >= settings.new_actor_hours * 3_600_000) return PASS;

    const media = activity.attachments.filter(isMedia);
    const mentions = activity.mentions.length;
    if (media.length < settings.min_attachments || mentions < settings.min_mentions) return PASS;

    const noAlt = media.every((a) => !a.name || !a.name.trim());
    let reason = `${media.length} media attachment${media.length === 1 ? "" : "s"}`;
    if (mentions > 0) reason += ` and ${mentions} mention${mentions === 1 ? "" : "s"}`;
    reason += ` from an actor first seen less than ${settings.new_actor_hours}h ago`;
    if (noAlt) reason += "; no alt text";
    const labels = ["new-actor-media"];
    if (noAlt) labels.push("no-alt-text");
    return {
      ruling: {
        tag: "score",
        val: {
          points: settings.points + (noAlt ? settings.no_alt_points : 0),
          labels,
          reason,
        },
      },
      rewrites: settings.rewrite === "none" ? [] : [settings.rewrite],
    };
  },
};
