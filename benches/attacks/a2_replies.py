# A2: replies. Fresh accounts (first seen at their post) on established open servers.
#  a2a-seen-thread: reply (inReplyTo) to a real legit post seen earlier that mentioned local users,
#        mentioning all its participants (author + mentions) plus up to 4 more local users
#        (as many extra as there are remote participants); fresh text per post, one shared link.
#  a2b-seen-thread-sametext: the same, but one spam text (+ random tail) for all posts.
#  a2c-local-parent: inReplyTo a local user's status URI (never checked to exist), mentioning that user
#        only; fresh text, shared link.
import sys
from common import *
r = rng()
mode = sys.argv[1]
T0 = EVAL + 3*DAY + 15*HOUR          # Wed 25 15:00, 200 posts over 2 h
seen = []
for l in LINES:
    a = l["activity"]; o = a.get("object")
    if (l.get("label", "").startswith("legit") and a.get("type") == "Create" and isinstance(o, dict)
            and EVAL - 5*DAY < l["received_at"] < T0 and not a["actor"].startswith("https://home.example")):
        tg = o.get("tag") or []
        tg = tg if isinstance(tg, list) else [tg]
        ms = [t["href"] for t in tg if isinstance(t, dict) and t.get("type") == "Mention" and t.get("href")]
        loc = [m for m in ms if m.startswith("https://home.example/")]
        if loc:
            seen.append((o["id"], a["actor"], ms, loc))
seen.sort(key=lambda s: -(len(s[2]) + 1 - len(s[3])))   # most remote participants first
print("seen parents:", len(seen), "best participants:", len(seen[0][2]) + 1)
SPAM = "Crypto giveaway for early members only this week, claim your spot before it closes"
extra = []
for i in range(200):
    a = new_actor(HOSTS[i % len(HOSTS)], "fan")
    t = T0 + i * 36_000
    if mode in ("a2a", "a2b"):
        pid, author, ms, loc = seen[i % min(len(seen), 40)]
        parts = [author] + ms
        remote_parts = [p for p in parts if not p.startswith("https://home.example/")]
        k = min(4, len(remote_parts))
        names = [m.rsplit("/", 1)[1] for m in loc]
        extra_local = r.sample([u for u in LOCAL if u not in names], k)
        text = fresh_text() if mode == "a2a" else SPAM + " " + r.choice(["qfa", "zub", "kel", "mip"])
        extra.append(create(a, t, names + extra_local, text, link="https://coinprize.example/claim",
                            in_reply_to=pid, extra_mentions=remote_parts, label=f"wave/{mode}"))
    else:
        st = r.choice(LOCAL_STATUSES)
        u = st.split("/users/")[1].split("/")[0]
        fake = f"https://home.example/users/{u}/statuses/{r.randint(10**17, 2*10**17)}"
        extra.append(create(a, t, [u], fresh_text(), link="https://coinprize.example/claim",
                            in_reply_to=fake, label="wave/a2c-local-parent"))
run(f"{mode}_replies", extra)
