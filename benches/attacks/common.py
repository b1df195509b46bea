"""Shared helpers for the attack generators: each adds a wave written by an
attacker who read the bundled modules to the seed-1 standard scenario, replays
it with `palisade replay`, and prints what got through (benches/attacks/README.md).
"""
import json, random, re, subprocess, sys, os, collections

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.environ.get("PALISADE_ATTACK_OUT", os.path.join(ROOT, "target", "attacks"))
BIN = os.environ.get("PALISADE_BIN", os.path.join(ROOT, "target", "debug", "palisade"))
SCENARIO = os.path.join(ROOT, "target", "debug", "palisade-scenario")
CONF = os.path.join(ROOT, "examples", "evaluation", "palisade.toml")
BASE = os.path.join(OUT, "base.jsonl")
os.makedirs(OUT, exist_ok=True)
if not os.path.exists(BASE):
    subprocess.run([SCENARIO, "--seed", "1", "--out", BASE], check=True, capture_output=True)
if not os.path.exists(os.path.join(OUT, "base.json")):
    report = subprocess.run([BIN, "replay", "--config", CONF, BASE, "--format", "json"],
                            check=True, capture_output=True, text=True).stdout
    with open(os.path.join(OUT, "base.json"), "w") as f:
        f.write(report)
HOUR = 3_600_000
DAY = 24 * HOUR
EVAL = 1774137600000          # Sun 2026-03-22 00:00 UTC: start of the evaluation week
EVAL_END = EVAL + 7 * DAY

MASTO_CTX = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1",
             {"Emoji": "toot:Emoji", "Hashtag": "as:Hashtag", "atomUri": "ostatus:atomUri",
              "conversation": "ostatus:conversation", "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
              "manuallyApprovesFollowers": "as:manuallyApprovesFollowers", "movedTo": "as:movedTo",
              "ostatus": "http://ostatus.org#", "sensitive": "as:sensitive", "toot": "http://joinmastodon.org/ns#"}]
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

# Open Mastodon-style servers of the scenario, seen for weeks (not new hosts).
HOSTS = ["mstdn.birchwood.example", "marigold.social.example", "everglow.example", "quietharbor.example",
         "bluebell.example", "redfern.town.example", "mstdn.fairhaven50.example", "mstdn.cloudberry.example",
         "glenmoor.example", "kingsmere99.social.example", "mstdn.stonecrop52.example",
         "toot.coldharbour.example", "ivybridge.social.example", "mastodon.heathrow89.example",
         "starling.social.example", "mastodon.thornbury21.example", "mastodon.thornbury.example",
         "copperleaf.example", "mstdn.juniperhill13.example", "toot.heathrow87.example",
         "social.sunfield.example", "quietharbor88.example", "mstdn.wildrose10.example",
         "heathrow26.social.example"]


def load():
    with open(BASE) as f:
        return [json.loads(l) for l in f]


LINES = load()
LOCAL = sorted({m for l in LINES for m in re.findall(r'https://home\.example/users/([A-Za-z0-9_]+)',
                                                      json.dumps(l["activity"]))})
_words = []
for l in LINES:
    if l.get("label") == "legit/post":
        o = l["activity"].get("object")
        if isinstance(o, dict) and o.get("content"):
            t = re.sub(r"<[^>]+>", " ", o["content"])
            _words += [w for w in re.findall(r"[A-Za-z']+", t) if len(w) > 1]
WORDS = sorted(set(w.lower() for w in _words))
LOCAL_STATUSES = sorted({m for l in LINES for m in re.findall(
    r'https://home\.example/users/[A-Za-z0-9_]+/statuses/[0-9]+', json.dumps(l["activity"]))})

_rng = random.Random(1234)
_sid = [116400000000000000]


def rng():
    return _rng


def fresh_text(n=None):
    """A sentence of words drawn at random from legitimate posts' vocabulary."""
    r = _rng
    n = n or r.randint(12, 20)
    ws = [r.choice(WORDS) for _ in range(n)]
    ws[0] = ws[0].capitalize()
    return " ".join(ws) + r.choice([".", "!", "?"])


def new_actor(host, prefix="u"):
    return f"https://{host}/users/{prefix}{_rng.randint(10**5, 10**7)}"


def status_id():
    _sid[0] += _rng.randint(1000, 99999)
    return _sid[0]


def mention_html(user):
    return (f'<span class="h-card" translate="no"><a href="https://home.example/@{user}" '
            f'class="u-url mention">@<span>{user}</span></a></span>')


def create(actor, t, users, text, link=None, in_reply_to=None, summary=None, attachment=None,
           extra_mentions=(), label=None, kind="Create"):
    """A Mastodon Create{Note}: mentions of local `users` (names) and of `extra_mentions` (URIs)."""
    sid = status_id()
    host = actor.split("/")[2]
    uri = f"{actor}/statuses/{sid}"
    hrefs = [f"https://home.example/users/{u}" for u in users] + list(extra_mentions)
    body = " ".join(mention_html(u) for u in users)
    for m in extra_mentions:
        h, n = m.split("/")[2], m.rsplit("/", 1)[1]
        body += f' <span class="h-card" translate="no"><a href="{m}" class="u-url mention">@<span>{n}</span></a></span>'
    body += " " + text
    if link:
        body += f' <a href="{link}" target="_blank" rel="nofollow noopener" translate="no">{link}</a>'
    content = f"<p>{body.strip()}</p>"
    cc = [f"{actor}/followers"] + hrefs
    tags = [{"href": h, "name": "@" + h.rsplit("/", 1)[1] + "@" + h.split("/")[2], "type": "Mention"}
            for h in hrefs]
    import datetime
    pub = datetime.datetime.fromtimestamp(t / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    obj = {"atomUri": uri, "attachment": attachment or [], "attributedTo": actor, "cc": cc,
           "content": content, "contentMap": {"en": content},
           "conversation": f"tag:{host},2026-03-25:objectId={sid % 10**7}:objectType=Conversation",
           "id": uri, "inReplyTo": in_reply_to, "inReplyToAtomUri": in_reply_to, "published": pub,
           "sensitive": bool(summary), "summary": summary, "tag": tags, "to": [PUBLIC], "type": "Note",
           "url": f"https://{host}/@{actor.rsplit('/', 1)[1]}/{sid}"}
    act = {"@context": MASTO_CTX, "actor": actor, "cc": cc, "id": f"{uri}/activity", "object": obj,
           "published": pub, "to": [PUBLIC], "type": kind}
    if kind == "Update":
        act["id"] = f"{uri}#updates/{t // 1000}"
    return line(t, act, label)


def like(actor, t, obj, label=None):
    return line(t, {"@context": MASTO_CTX, "actor": actor, "id": f"{actor}#likes/{_rng.randint(10**6, 10**7)}",
                    "object": obj, "type": "Like"}, label)


def accept_follow(actor, t, user, label=None):
    return line(t, {"@context": MASTO_CTX, "actor": actor,
                    "id": f"{actor}#accepts/follows/{_rng.randint(10**6, 10**7)}",
                    "object": {"actor": f"https://home.example/users/{user}",
                               "id": f"https://home.example/{_rng.randint(10**8, 10**9):x}",
                               "object": actor, "type": "Follow"}, "type": "Accept"}, label)


def line(t, act, label=None):
    d = {"received_at": int(t)}
    if label:
        d["label"] = label
    d["activity"] = act
    return d


def run(name, extra, base=None):
    """Write base+extra sorted to NAME.jsonl, replay it, return (report, decisions)."""
    allx = (base if base is not None else LINES) + extra
    allx.sort(key=lambda l: l["received_at"])
    path = os.path.join(OUT, f"{name}.jsonl")
    with open(path, "w") as f:
        for l in allx:
            f.write(json.dumps(l) + "\n")
    dec = os.path.join(OUT, f"{name}.dec.jsonl")
    cmd = [BIN, "replay", "--config", CONF, path, "--format", "json", "--decisions", dec]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rep = json.loads(out)
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        f.write(out)
    decs = [json.loads(l) for l in open(dec)]
    summarize(name, rep, decs)
    return rep, decs


def path_of(name, ext=".jsonl"):
    return os.path.join(OUT, name + ext)


def summarize(name, rep, decs):
    base = json.load(open(os.path.join(OUT, "base.json")))
    print(f"== {name}: {' '.join([BIN, 'replay', '--config', CONF, path_of(name), '--format', 'json', '--decisions', path_of(name, '.dec.jsonl')])}")
    for lab, v in rep["labels"].items():
        if lab not in base["labels"]:
            print(f"  {lab}: N={v['total']} accepted={v['accepted']} rejected={v['rejected']} "
                  f"quarantined={v['quarantined']} accepted_before_first_stop={v['accepted_before_first_stop']}")
    diffs = []
    for lab, v in rep["labels"].items():
        if lab.startswith("legit") and lab in base["labels"]:
            b = base["labels"][lab]
            if (v["rejected"], v["quarantined"]) != (b["rejected"], b["quarantined"]):
                diffs.append(f"{lab}: rej {b['rejected']}->{v['rejected']}, q {b['quarantined']}->{v['quarantined']}")
    lc, bc = rep["classes"]["legit"], base["classes"]["legit"]
    print(f"  legit: rejected {bc['rejected']}->{lc['rejected']}, quarantined {bc['quarantined']}->{lc['quarantined']}"
          + ("; " + "; ".join(diffs) if diffs else " (unchanged)"))
    # which modules fired on the new labels
    fired = collections.defaultdict(collections.Counter)
    for d in decs:
        lab = d.get("label", "")
        if lab in base["labels"] or not lab:
            continue
        for tr in d["trace"]:
            if tr["verdict"] != "pass":
                fired[lab][(tr["module"], tr["verdict"])] += 1
        fired[lab][("final", d["action"])] += 1
    for lab, c in fired.items():
        print(f"  {lab} verdicts: " + ", ".join(f"{m}:{v}={n}" for (m, v), n in sorted(c.items())))
