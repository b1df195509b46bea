#!/usr/bin/env python3
"""Bounded load generator for benches/soak.sh: POSTs the bodies in a folder,
rotating, to an inbox URL on loopback, from a few keep-alive connections, at
most RATE requests per second in total, until SECONDS have passed (and never
more than RATE * SECONDS requests). Prints one JSON object: the request
count, the status histogram (`error (KIND)` for a connection that failed while
sending a body of KIND), and the
count by kind of body (the part of a body's file name before the first `-`).

    client.py URL BODIES_DIR SECONDS [--rate N] [--connections N]
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from collections import Counter


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("bodies")
    ap.add_argument("seconds", type=float)
    ap.add_argument("--rate", type=float, default=300.0)
    ap.add_argument("--connections", type=int, default=4)
    args = ap.parse_args()

    url = urllib.parse.urlsplit(args.url)
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("the soak only sends to loopback")
    names = sorted(os.listdir(args.bodies))
    bodies = []
    for name in names:
        with open(os.path.join(args.bodies, name), "rb") as f:
            bodies.append((name.split("-", 1)[0], f.read()))
    if not bodies:
        sys.exit("no bodies")

    deadline = time.monotonic() + args.seconds
    budget = int(args.rate * args.seconds)
    lock = threading.Lock()
    state = {"next": 0}
    statuses = Counter()
    kinds = Counter()
    interval = args.connections / args.rate  # each connection's share

    def take():
        with lock:
            i = state["next"]
            if i >= budget:
                return None
            state["next"] = i + 1
            return bodies[i % len(bodies)]

    def worker():
        conn = None
        local_status = Counter()
        local_kind = Counter()
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            item = take()
            if item is None:
                break
            kind, body = item
            if conn is None:
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
            try:
                conn.request(
                    "POST",
                    url.path,
                    body=body,
                    headers={
                        "Content-Type": "application/activity+json",
                        "Host": "mastodon.example",
                    },
                )
                resp = conn.getresponse()
                resp.read()
                local_status[str(resp.status)] += 1
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                # Named by the body: an oversized one is refused (413) and
                # the connection closed, sometimes before it is all sent.
                local_status[f"error ({kind})"] += 1
                if conn is not None:
                    conn.close()
                conn = None
            local_kind[kind] += 1
            next_at += interval
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            else:
                next_at = time.monotonic()
        if conn is not None:
            conn.close()
        with lock:
            statuses.update(local_status)
            kinds.update(local_kind)

    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    print(
        json.dumps(
            {
                "requests": sum(statuses.values()),
                "seconds": round(elapsed, 1),
                "statuses": dict(sorted(statuses.items())),
                "kinds": dict(sorted(kinds.items())),
            }
        )
    )


if __name__ == "__main__":
    main()
