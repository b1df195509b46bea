# A4: text generated fresh per post (random words from legit posts' vocabulary, "check my profile"),
# no link/image, 1 local mention, fresh accounts on 24 established hosts round-robin.
#   a4a: constant 4 posts/hour (every 15.5 min) all week
#   a4b: ramp: the rate follows newcomer-burst's own server baseline (4 x usual per hour, cap 50),
#        staying 2 below the threshold it would compute from the wave's own earlier posts
import sys, math
from common import *
r = rng(); mode = sys.argv[1]
extra = []; t = EVAL + 5*60_000; i = 0; taught = []
while t < EVAL_END:
    a = new_actor(HOSTS[i % len(HOSTS)], "p")
    extra.append(create(a, t, [r.choice(LOCAL)], fresh_text() + " check my profile", label=f"wave/{mode}-fresh"))
    taught.append(t); i += 1
    if mode == "a4a":
        t += int(15.5*60_000)
    else:
        known = sum(1 for x in taught if x > t - 7*DAY)
        thr = min(50, max(5, math.ceil(4.0 * known * 3600 / 604800)))
        rate = max(4, thr - 2)
        t += int(3_600_000 / rate) + 1000
run(f"{mode}_fresh", extra)
