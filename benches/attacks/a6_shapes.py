# A6: other delivery shapes, fresh accounts (first seen at the activity) on established servers.
#   a6a announce-uri:   100 Announce{object: URI of the spammer's own Note} in 1 h (the server fetches it)
#   a6b announce-embed: 100 Announce{embedded Note: same spam text + link + 4 local mentions} in 1 h
#   a6c create-uri:     100 Create{object: URI only} in 1 h
#   a6d summary:        spam text + link only in `summary` (CW), content = fresh words; 1 mention,
#                       identical summary in all, 4/hour for a day (96)
#   a6e alt-text:       spam text + link only in the image's alt text (`name`), content = fresh words,
#                       distinct image URLs, no blurhash; 1 mention, 4/hour for a day (96)
import sys, copy
from common import *
r = rng(); mode = sys.argv[1]; extra = []
SPAM = "Free crypto airdrop for fediverse users, connect your wallet now to claim"
LINK = "https://airdrop-claim.example/fedi"
T0 = EVAL + 3*DAY + 15*HOUR
lab = f"wave/{mode}"
for i in range(100 if mode in ("a6a", "a6b", "a6c") else 96):
    a = new_actor(HOSTS[i % len(HOSTS)], "drop")
    if mode in ("a6a", "a6b", "a6c"):
        t = T0 + i * 36_000
        note = create(a, t, r.sample(LOCAL, 4), SPAM + " " + r.choice(["qfa", "zub"]), link=LINK)["activity"]["object"]
        if mode == "a6a":
            act = {"@context": MASTO_CTX, "actor": a, "cc": [f"{a}/followers"], "id": note["id"] + "/activity",
                   "object": note["id"], "published": note["published"], "to": [PUBLIC], "type": "Announce"}
        elif mode == "a6b":
            act = {"@context": MASTO_CTX, "actor": a, "cc": [f"{a}/followers"] + note["cc"][1:], "id": note["id"] + "/activity",
                   "object": note, "published": note["published"], "to": [PUBLIC], "type": "Announce"}
        else:
            act = {"@context": MASTO_CTX, "actor": a, "cc": note["cc"], "id": note["id"] + "/activity",
                   "object": note["id"], "published": note["published"], "to": [PUBLIC], "type": "Create"}
        extra.append(line(t, act, lab))
    else:
        t = EVAL + 3*DAY + i * 15*60_000 + 60_000
        if mode == "a6d":
            extra.append(create(a, t, [r.choice(LOCAL)], fresh_text(), summary=SPAM + " " + LINK, label=lab))
        else:
            att = [{"blurhash": None, "focalPoint": [0.0, 0.0], "height": None, "mediaType": "image/png",
                    "name": SPAM + " " + LINK, "type": "Document", "width": None,
                    "url": f"https://{a.split('/')[2]}/system/media_attachments/files/{r.randint(100,999)}/{r.randint(100,999)}/original/{r.getrandbits(64):016x}.png"}]
            extra.append(create(a, t, [r.choice(LOCAL)], fresh_text(), attachment=att, label=lab))
run(f"{mode}_shapes", extra)
