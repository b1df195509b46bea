# A5: accounts aged past 7 days. 40 accounts on established servers each Like one local post on
# Sat 14 (8+ days before), then on Wed 25 14:00 each posts the SAME spam text + same link with
# 10 local mentions, 5 posts each within 50 minutes (200 posts).
#   a5b: the same with accounts aged only 2 days (Like on Mon 23): day-old but < 7 days, for contrast,
#        and with FRESH text per post, no link, 3 mentions, 4 posts each (160): what the 168 h modules see.
import sys
from common import *
r = rng(); mode = sys.argv[1]; extra = []
prep = EVAL - 8*DAY + 10*HOUR if mode == "a5a" else EVAL + 1*DAY + 10*HOUR
n = 40
actors = [new_actor(HOSTS[i % len(HOSTS)], "old") for i in range(n)]
for i, a in enumerate(actors):
    extra.append(like(a, prep + i*60_000, r.choice(LOCAL_STATUSES), f"prep/{mode}"))
SPAM = "Limited offer: verified accounts get free followers boost, thousands already joined"
t0 = EVAL + 3*DAY + 14*HOUR
for k in range(5 if mode == "a5a" else 4):
    for i, a in enumerate(actors):
        if mode == "a5a":
            extra.append(create(a, t0 + k*10*60_000 + i*14_000, r.sample(LOCAL, 10), SPAM + " " + r.choice(["qfa","zub"]),
                                link="https://followerboost.example/free", label="wave/a5a-aged8d"))
        else:
            extra.append(create(a, t0 + k*10*60_000 + i*14_000, r.sample(LOCAL, 3 if k < 2 else 2), fresh_text() + " check my profile",
                                label="wave/a5b-aged2d-fresh"))
run(f"{mode}_aged", extra)
