# A3: slow waves under every per-hour threshold. Fresh accounts (first seen at their only post), one
# spam text (+ random tail) and ONE shared link for all, 1 local mention each, hosts round-robin.
#   a3a: 2 posts/hour, one every 31 min, all week (Sun 22 00:00 .. Sat 28 24:00)
#   a3b: 3 posts/hour (every 20.5 min) for one day (Wed 25), to find the edge
import sys
from common import *
r = rng(); mode = sys.argv[1]
SPAM = "Earn passive income from home with our trading signals group, members double their money"
gap, start, end = {"a3a": (31*60_000, EVAL, EVAL_END), "a3b": (int(20.5*60_000), EVAL+3*DAY, EVAL+4*DAY)}[mode]
extra = []; t = start + 7*60_000; i = 0
while t < end:
    a = new_actor(HOSTS[i % len(HOSTS)], "sig")
    extra.append(create(a, t, [r.choice(LOCAL)], SPAM + " " + r.choice(["qfa", "zub", "kel", "mip"]),
                        link="https://tradesignals.example/vip", label=f"wave/{mode}-slow"))
    t += gap; i += 1
run(f"{mode}_slow", extra)
