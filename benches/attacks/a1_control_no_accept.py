# A1: forged Accept{Follow}. 50 accounts on established open servers: a Like on Mon 23 (first seen),
# an Accept{Follow} naming one local user on Tue 24 (>24 h later), then on Wed 25 14:00 each posts
# the SAME spam text + the same link, 15 local mentions, 4 posts each, all within 40 minutes.
from common import *
r = rng(); extra = []
actors = [new_actor(HOSTS[i % len(HOSTS)], "promo") for i in range(50)]
for i, a in enumerate(actors):
    extra.append(like(a, EVAL + 1*DAY + 10*HOUR + i*60_000, r.choice(LOCAL_STATUSES), "prep/a1-control"))
    pass  # extra.append(accept_follow(a, EVAL + 2*DAY + 11*HOUR + i*60_000, r.choice(LOCAL), "prep/a1-control"))
SPAM = "Mastodon is dying, join the real free speech server where admins cannot silence you, sign up today"
t0 = EVAL + 3*DAY + 14*HOUR
for k in range(4):
    for i, a in enumerate(actors):
        extra.append(create(a, t0 + k*10*60_000 + i*11_000, r.sample(LOCAL, 15), SPAM + " " + r.choice(["qfa","zub","kel"]),
                            link="https://freespeech-now.example/join", label="wave/a1-control-no-accept"))
run("a1_control_no_accept", extra)
