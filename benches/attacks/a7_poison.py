# A7: poisoning legitimate traffic.
#   a7a surge: 6 fresh accounts an hour all week, fresh text, 1 mention each (their own fate does not
#        matter): keeps newcomer-burst's server-wide count at >= 5 so every legit newcomer's first contact
#        gets +3 on top of first-contact's 3.
#   a7b text race: for every legit Create of a legit/newcomer actor in the evaluation week, 5 fresh
#        accounts post the same text (no mentions, no link) 60 s before it arrives (an attacker following
#        the newcomer elsewhere sees the post first and copies it).
#   a7c link-site crowding: 8 fresh accounts an hour all week make first contact with links to
#        techwire.example and blog.lowtide.example (sites legit newcomers and link-sharers use).
import sys, re
from common import *
r = rng(); mode = sys.argv[1]; extra = []; lab = f"wave/{mode}"
if mode in ("a7a", "a7c"):
    per = 6 if mode == "a7a" else 8
    t = EVAL + 60_000; i = 0
    while t < EVAL_END:
        a = new_actor(HOSTS[i % len(HOSTS)], "s")
        link = None if mode == "a7a" else r.choice(["https://techwire.example/2026/03/", "https://blog.lowtide.example/2026/"]) + "x" + str(i)
        extra.append(create(a, t, [r.choice(LOCAL)], fresh_text(), link=link, label=lab))
        t += 3_600_000 // per; i += 1
else:
    for l in LINES:
        a = l["activity"]; o = a.get("object")
        if l.get("label") == "legit/newcomer" and a.get("type") == "Create" and isinstance(o, dict) and l["received_at"] >= EVAL:
            txt = re.sub(r"<[^>]+>", " ", o.get("content") or "")
            txt = re.sub(r"@\S+", "", txt).strip()
            for k in range(5):
                c = create(new_actor(r.choice(HOSTS), "cp"), l["received_at"] - 60_000 + k*5_000, [], txt, label=lab)
                extra.append(c)
run(f"{mode}_poison", extra)
