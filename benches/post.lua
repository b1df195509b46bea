-- wrk script: POST the activity file named by the BODY environment variable.
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/activity+json"
wrk.headers["Host"] = "mastodon.example"
