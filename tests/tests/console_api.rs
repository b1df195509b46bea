//! The moderators' console and the admin API it drives, end to end over
//! loopback HTTP: logging in for a session cookie, what a session may do
//! (and may not without its CSRF token, or from another site), the security
//! headers every answer carries, and the admin API's quarantine filters,
//! counts, bulk drops, activity views, decision lookups and module figures.

use palisade_e2e::remote::{Upstream, example_keys};
use palisade_e2e::{InProcess, TempDir};
use reqwest::Method;
use serde_json::{Value, json};

const TOKEN: &str = "test-admin-token";
const GET: Method = Method::GET;
const POST: Method = Method::POST;

/// A running sidecar; the verifying upstream, when there is one, lives as
/// long as it (holds need one: without an upstream the inbox is not served).
struct Sidecar {
    p: InProcess,
    _up: Option<Upstream>,
    _dir: TempDir,
}

/// A sidecar on ephemeral ports holding wave posts
/// ([`palisade_e2e::QUARANTINE_AT_3`]) with the admin token [`TOKEN`];
/// with the verifying upstream when `upstream`. Each test starts its own:
/// sessions and the failed-login count are per process state.
async fn sidecar(upstream: bool) -> Sidecar {
    let up = match upstream {
        true => Some(Upstream::start(example_keys()).await),
        false => None,
    };
    let (p, dir) = palisade_e2e::holding_sidecar(up.as_ref().map(|u| u.url.as_str()), TOKEN).await;
    Sidecar {
        p,
        _up: up,
        _dir: dir,
    }
}

/// A request to the admin listener with `headers` and a JSON `body`.
/// Redirects are not followed: the tests read the 303s themselves.
async fn call(
    s: &Sidecar,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.request(method, format!("{}{path}", s.p.admin));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("the admin listener answers")
}

/// `POST /console/login` with the form field `token`, as the login page's
/// form sends it.
async fn login(s: &Sidecar, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/console/login", s.p.admin))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the console answers")
}

/// The parts of a response's `Set-Cookie`: `name=value`, then attributes.
fn set_cookie(r: &reqwest::Response) -> Option<Vec<String>> {
    let value = r.headers().get("set-cookie")?.to_str().unwrap();
    Some(value.split(';').map(|p| p.trim().to_owned()).collect())
}

/// A logged-in browser: its session id, the `Cookie` header it sends and
/// the CSRF token its page read from `/console/session`.
struct Session {
    id: String,
    cookie: String,
    csrf: String,
}

async fn session(s: &Sidecar) -> Session {
    let r = login(s, TOKEN, &[]).await;
    assert_eq!(r.status().as_u16(), 303);
    let cookie = set_cookie(&r).expect("a session cookie")[0].clone();
    let id = cookie.trim_start_matches("palisade_session=").to_owned();
    let r = call(s, GET, "/console/session", &[("cookie", &cookie)], None).await;
    assert_eq!(r.status().as_u16(), 200);
    let csrf = r.json::<Value>().await.unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    Session { id, cookie, csrf }
}

/// An admin API call (`path` under `/admin/v1/`) with the bearer token:
/// its status and JSON body.
async fn admin(s: &Sidecar, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let auth = format!("Bearer {TOKEN}");
    let path = format!("/admin/v1/{path}");
    let r = call(s, method, &path, &[("authorization", &auth)], body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A GET of the admin API with the bearer token that must succeed.
async fn read(s: &Sidecar, path: &str) -> Value {
    let (status, body) = admin(s, GET, path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Create{Note} number `n` by `actor` saying `text`; mentioning the local
/// user alice when `mention` (what first-contact scores).
fn note(actor: &str, n: usize, text: &str, mention: bool) -> Value {
    let tag = match mention {
        true => json!([{"type": "Mention", "href": "https://mastodon.example/users/alice",
                        "name": "@alice@mastodon.example"}]),
        false => json!([]),
    };
    json!({
        "type": "Create",
        "id": format!("{actor}/activities/{n}"),
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"type": "Note", "id": format!("{actor}/notes/{n}"),
                   "content": format!("<p>{text}</p>"), "tag": tag}
    })
}

/// POST `activity` (unsigned: deliveries are judged whoever signed them,
/// by default) to alice's inbox and return the quarantine id it is held
/// under; panics unless it was held.
async fn hold(s: &Sidecar, activity: &Value) -> i64 {
    let r = reqwest::Client::new()
        .post(format!("{}/users/alice/inbox", s.p.url))
        .header("content-type", "application/activity+json")
        .body(activity.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202, "held, answered 202");
    let list = read(s, "quarantine?limit=1").await;
    let entry = &list["entries"][0];
    assert_eq!(entry["activity_id"], activity["id"], "held: {list}");
    assert_eq!(entry["status"], "held");
    // Distinct receipt times (in ms), so `after`/`before` tell them apart.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    entry["id"].as_i64().unwrap()
}

/// A note from `https://{host}/users/{n}` mentioning alice, held.
async fn held(s: &Sidecar, host: &str, n: usize, text: &str) -> i64 {
    hold(
        s,
        &note(&format!("https://{host}/users/{n}"), n, text, true),
    )
    .await
}

/// The status (`held`, `dropped`…) of quarantine entry `id`.
async fn status_of(s: &Sidecar, id: i64) -> String {
    let entry = read(s, &format!("quarantine/{id}")).await;
    entry["status"].as_str().unwrap().to_owned()
}

/// Judge `body` with the judge API (which logs the decision too).
async fn judge(s: &Sidecar, body: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/judge", s.p.url))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_and_the_right_one_gets_a_strict_session_cookie() {
    let s = sidecar(false).await;
    let wrong = login(&s, "not-the-token", &[]).await;
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(set_cookie(&wrong).is_none(), "no session for a wrong token");
    let kind = wrong.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(wrong.text().await.unwrap().contains("not the admin token"));

    let right = login(&s, TOKEN, &[]).await;
    assert_eq!(right.status().as_u16(), 303);
    assert_eq!(right.headers()["location"], "/console/");
    let cookie = set_cookie(&right).expect("a session cookie");
    let id = cookie[0].strip_prefix("palisade_session=").unwrap();
    assert!(is_hex64(id), "{cookie:?}");
    let has = |attr: &str| cookie[1..].iter().any(|a| a.eq_ignore_ascii_case(attr));
    assert!(has("HttpOnly"), "{cookie:?}");
    assert!(has("SameSite=Strict"), "{cookie:?}");
    assert!(has("Path=/"), "{cookie:?}");
    assert!(!has("Secure"), "not Secure over plain http: {cookie:?}");

    let behind_tls = login(&s, TOKEN, &[("x-forwarded-proto", "https")]).await;
    assert_eq!(behind_tls.status().as_u16(), 303);
    let cookie = set_cookie(&behind_tls).expect("a session cookie");
    assert!(cookie.iter().any(|a| a == "Secure"), "{cookie:?}");
    assert_ne!(cookie[0], format!("palisade_session={id}"), "a new session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_five_wrong_tokens_in_a_minute_even_the_right_one_waits() {
    let s = sidecar(false).await;
    let minute = || palisade::runtime::unix_ms() / 60_000;
    // The allowance is per calendar minute: if one ends mid-sequence the
    // count starts again, so the sequence is repeated in the next minute.
    for attempt in 0.. {
        let started = minute();
        let mut wrong = Vec::new();
        for _ in 0..5 {
            wrong.push(login(&s, "guess", &[]).await.status().as_u16());
        }
        let right = login(&s, TOKEN, &[]).await;
        if minute() != started && attempt < 3 {
            continue;
        }
        if attempt == 0 {
            assert_eq!(wrong, [401; 5]);
        }
        assert_eq!(right.status().as_u16(), 429);
        assert!(set_cookie(&right).is_none());
        assert!(right.text().await.unwrap().contains("wait a minute"));
        break;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_needs_a_session_and_every_answer_carries_the_security_headers() {
    let s = sidecar(false).await;
    let anonymous = call(&s, GET, "/console/", &[], None).await;
    assert_eq!(anonymous.status().as_u16(), 303);
    assert_eq!(anonymous.headers()["location"], "/console/login");

    let me = session(&s).await;
    let cookie = [("cookie", me.cookie.as_str())];
    let page = call(&s, GET, "/console/", &cookie, None).await;
    assert_eq!(page.status().as_u16(), 200);
    let kind = page.headers()["content-type"].to_str().unwrap();
    assert!(kind.starts_with("text/html"), "{kind}");

    let bearer = format!("Bearer {TOKEN}");
    let bearer = [("authorization", bearer.as_str())];
    let answers: [(&str, &[(&str, &str)]); 10] = [
        ("/console/", &[]),
        ("/console/", &cookie),
        ("/console/login", &[]),
        ("/console/session", &[]),
        ("/console/session", &cookie),
        ("/console/console.js", &[]),
        ("/admin/v1/policies", &[]),
        ("/admin/v1/policies", &cookie),
        ("/admin/v1/quarantine", &bearer),
        ("/admin/v1/decisions/nope", &cookie),
    ];
    for (path, headers) in answers {
        let r = call(&s, GET, path, headers, None).await;
        let h = r.headers();
        let what = format!("{path} with {headers:?}: {}", r.status());
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
        assert_eq!(h["cache-control"], "no-store", "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_reads_its_csrf_token_and_nobody_else_can() {
    let s = sidecar(false).await;
    let me = session(&s).await;
    assert!(is_hex64(&me.csrf), "{}", me.csrf);
    assert_ne!(me.csrf, me.id, "the CSRF token is not the session id");
    let anonymous = call(&s, GET, "/console/session", &[], None).await;
    assert_eq!(anonymous.status().as_u16(), 401);
    let forged = [("cookie", "palisade_session=00")];
    let forged = call(&s, GET, "/console/session", &forged, None).await;
    assert_eq!(forged.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_changes_nothing_without_its_csrf_token_from_its_own_origin() {
    let s = sidecar(true).await;
    let ids = [
        held(&s, "a.example", 1, "one").await,
        held(&s, "b.example", 2, "two").await,
        held(&s, "c.example", 3, "three").await,
    ];
    let me = session(&s).await;
    let cookie = ("cookie", me.cookie.as_str());
    let r = call(&s, GET, "/admin/v1/policies", &[cookie], None).await;
    assert_eq!(r.status().as_u16(), 200, "a session reads without CSRF");

    let drop = format!("/admin/v1/quarantine/{}/drop", ids[0]);
    let csrf = ("x-csrf-token", me.csrf.as_str());
    let zeros = "0".repeat(64);
    let refused: [&[(&str, &str)]; 5] = [
        &[cookie],
        &[cookie, ("x-csrf-token", &zeros)],
        &[cookie, ("x-csrf-token", &me.id)],
        &[cookie, csrf, ("origin", "https://evil.example")],
        &[cookie, csrf, ("sec-fetch-site", "cross-site")],
    ];
    for headers in refused {
        let r = call(&s, POST, &drop, headers, None).await;
        assert_eq!(r.status().as_u16(), 403, "{headers:?}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("X-CSRF-Token"));
        let all = Some(json!({}));
        let bulk = call(&s, POST, "/admin/v1/quarantine/drop", headers, all).await;
        assert_eq!(bulk.status().as_u16(), 403, "bulk, {headers:?}");
    }
    for id in ids {
        assert_eq!(status_of(&s, id).await, "held", "nothing was dropped");
    }

    // The admin listener's own origin: `http://127.0.0.1:<port>`.
    let own = s.p.admin.as_str();
    let r = call(&s, POST, &drop, &[cookie, csrf, ("origin", own)], None).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(status_of(&s, ids[0]).await, "dropped");
    let only = Some(json!({"ids": [ids[1]]}));
    let r = call(&s, POST, "/admin/v1/quarantine/drop", &[cookie, csrf], only).await;
    assert_eq!(r.status().as_u16(), 200, "no Origin: not from a browser");
    assert_eq!(r.json::<Value>().await.unwrap()["dropped"], json!([ids[1]]));
    // The bearer token needs no CSRF token.
    let (code, _) = admin(&s, POST, &format!("quarantine/{}/drop", ids[2]), None).await;
    assert_eq!(code, 200);
    assert_eq!(status_of(&s, ids[2]).await, "dropped");

    let r = call(&s, POST, "/console/logout", &[cookie], None).await;
    assert_eq!(r.status().as_u16(), 403, "logging out needs the CSRF token");
    let r = call(&s, POST, "/console/logout", &[cookie, csrf], None).await;
    assert_eq!(r.status().as_u16(), 204);
    let gone = set_cookie(&r).expect("the cookie is cleared");
    assert!(gone.iter().any(|a| a == "Max-Age=0"), "{gone:?}");
    for path in ["/admin/v1/policies", "/console/session"] {
        let r = call(&s, GET, path, &[cookie], None).await;
        assert_eq!(r.status().as_u16(), 401, "{path} after logging out");
    }
    let r = call(&s, GET, "/console/", &[cookie], None).await;
    assert_eq!(r.headers()["location"], "/console/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_drop_after_a_count_covers_exactly_what_was_counted() {
    let s = sidecar(true).await;
    let a1 = held(&s, "a.spam.example", 1, "Buy FOLLOWERS now").await;
    let b = held(&s, "b.spam.example", 2, "cheap followers here").await;
    let c = held(&s, "c.other.example", 3, "hello friend").await;
    let a2 = held(&s, "a.spam.example", 4, "nothing to see").await;
    let count = |query: String| {
        let s = &s;
        async move {
            let body = read(s, &format!("quarantine/count?{query}")).await;
            (body["count"].as_u64().unwrap(), body["max_id"].as_i64())
        }
    };
    let all = (4, Some(a2));
    assert_eq!(
        count("text=fOLLOWERS".into()).await,
        (2, Some(b)),
        "any case"
    );
    assert_eq!(
        count("actor_host=A.SPAM.EXAMPLE".into()).await,
        (2, Some(a2))
    );
    assert_eq!(count("module=first-contact".into()).await, all);
    assert_eq!(count("module=first".into()).await, (0, None), "whole names");
    let list = read(&s, "quarantine").await;
    let at = |id: i64| {
        let entries = list["entries"].as_array().unwrap();
        let e = entries.iter().find(|e| e["id"] == id).unwrap();
        e["received_at"].as_u64().unwrap()
    };
    assert_eq!(count(format!("after={}", at(b))).await, (3, Some(a2)));
    assert_eq!(count(format!("before={}", at(b))).await, (1, Some(a1)));
    let between = format!("after={}&before={}", at(b), at(a2));
    assert_eq!(count(between).await, (2, Some(c)));
    let every = format!(
        "module=first-contact&actor_host=a.spam.example&text=followers&after={}&before={}",
        at(a1),
        at(a2) + 1
    );
    assert_eq!(count(every).await, (1, Some(a1)), "every criterion holds");

    // Held after the count: it matches, but was not counted.
    let late = held(&s, "d.spam.example", 5, "FOLLOWERS for free").await;
    assert!(late > b);
    let counted = Some(json!({"text": "Followers", "max_id": b}));
    let (code, dropped) = admin(&s, POST, "quarantine/drop", counted).await;
    assert_eq!(code, 200, "{dropped}");
    assert_eq!(dropped["dropped"], json!([a1, b]));
    assert_eq!(
        status_of(&s, late).await,
        "held",
        "not counted, not dropped"
    );

    let too_many = Some(json!({"ids": (1..=1001).collect::<Vec<i64>>()}));
    let (code, refused) = admin(&s, POST, "quarantine/drop", too_many).await;
    assert_eq!(code, 400, "{refused}");
    let message = refused["error"].as_str().unwrap();
    assert!(message.contains("1000"), "names the limit: {message}");
    assert_eq!(status_of(&s, c).await, "held");

    let listed = Some(json!({"ids": [c, late]}));
    let (code, dropped) = admin(&s, POST, "quarantine/drop", listed).await;
    assert_eq!(code, 200);
    assert_eq!(dropped["dropped"], json!([c, late]));
    assert_eq!(status_of(&s, a2).await, "held", "not listed, not dropped");
    assert_eq!(read(&s, "quarantine").await["held"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_entries_carry_the_activity_as_parsed() {
    let s = sidecar(true).await;
    let actor = "https://spam.example/users/bot";
    let html = "<p>Hi <script>alert(1)</script><a href=\"https://evil.example/x\">click</a> \
                <a href=\"https://mastodon.example/@alice\" class=\"mention\">@alice</a></p>";
    let mut activity = note(actor, 7, "", true);
    activity["object"]["content"] = html.into();
    activity["object"]["attachment"] = json!([{"type": "Document", "mediaType": "image/png",
        "url": "https://spam.example/i.png", "name": "alt text"}]);
    let id = hold(&s, &activity).await;

    let list = read(&s, "quarantine").await;
    let view = &list["entries"][0]["activity"];
    assert_eq!(view["actor"], actor, "{view}");
    assert_eq!(view["actor_host"], "spam.example");
    let text = view["text"].as_str().unwrap();
    assert!(text.contains("click"), "{text}");
    assert!(!text.contains('<'), "plain text: {text}");
    assert_eq!(view["mention_count"], 1);
    let mention = &view["mentions"][0];
    assert_eq!(mention["href"], "https://mastodon.example/users/alice");
    assert_eq!(mention["local"], true);
    assert_eq!(view["links"], json!(["https://evil.example/x"]));
    assert_eq!(view["attachments"][0]["url"], "https://spam.example/i.png");
    assert_eq!(view["attachments"][0]["name"], "alt text");
    assert!(
        view.get("content_html").is_none(),
        "full views only: {view}"
    );
    assert!(view.get("raw").is_none(), "full views only: {view}");

    let full = &read(&s, &format!("quarantine/{id}")).await["activity"];
    assert_eq!(full["actor_host"], "spam.example");
    assert_eq!(full["content_html"], html, "the sender's HTML, as a string");
    assert_eq!(full["raw"], activity.to_string(), "the body as received");
    let (code, missing) = admin(&s, GET, &format!("quarantine/{}", id + 100), None).await;
    assert_eq!(code, 404, "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_decisions_filter_by_sender_and_are_found_by_id() {
    let s = sidecar(false).await;
    let (a, c) = ("https://one.example/users/a", "https://ONE.example/users/c");
    judge(&s, &note(a, 1, "hello alice", true).to_string()).await;
    let b = note("https://two.example/users/b", 2, "hi", false);
    judge(&s, &b.to_string()).await;
    judge(&s, &note(c, 3, "hey", false).to_string()).await;
    judge(&s, &palisade_e2e::example("wave.json")).await;
    let decisions = |query: String| {
        let s = &s;
        async move {
            let body = read(s, &format!("decisions?{query}")).await;
            body["decisions"].as_array().unwrap().clone()
        }
    };
    let actors = |records: &[Value]| -> Vec<String> {
        let actor = |r: &Value| r["actor"].as_str().unwrap().to_owned();
        records.iter().map(actor).collect()
    };
    let one = decisions("actor_host=One.Example".into()).await;
    assert_eq!(actors(&one), [c, a], "newest first, any case");
    assert!(
        one.iter().all(|r| r["actor_host"] == "one.example"),
        "{one:?}"
    );
    assert_eq!(actors(&decisions(format!("actor={a}")).await), [a]);
    let accepted = decisions("action=accept&actor_host=one.example".into()).await;
    assert_eq!(actors(&accepted), [c]);
    let rejected = decisions("action=reject".into()).await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["actor_host"], "misskey.spam.example");
    // mention-limit runs first, so on all four; no module is named this.
    assert_eq!(decisions("module=mention-limit".into()).await.len(), 4);
    assert!(decisions("module=no-such-module".into()).await.is_empty());

    let quarantined = decisions("action=quarantine".into()).await;
    assert_eq!(actors(&quarantined), [a]);
    let id = quarantined[0]["decision_id"].as_str().unwrap();
    let record = read(&s, &format!("decisions/{id}")).await;
    assert_eq!(record["decision_id"], id);
    assert_eq!(record["actor"], a);
    assert_eq!(record["actor_host"], "one.example");
    let trace = record["trace"].as_array().unwrap();
    let first = trace.iter().find(|t| t["module"] == "first-contact");
    let first = first.expect("first-contact is in the trace");
    assert_eq!(first["verdict"], "score", "{first}");
    assert_eq!(first["points"], 3.0);

    let (code, unknown) = admin(&s, GET, "decisions/no-such-decision", None).await;
    assert_eq!(code, 404);
    let message = unknown["error"].as_str().unwrap();
    assert!(message.contains("no-such-decision"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_report_hits_latency_errors_and_the_last_reload() {
    let s = sidecar(false).await;
    let me = session(&s).await;
    let policies = || async {
        let cookie = [("cookie", me.cookie.as_str())];
        let r = call(&s, GET, "/admin/v1/policies", &cookie, None).await;
        assert_eq!(r.status().as_u16(), 200);
        r.json::<Value>().await.unwrap()
    };
    let before = policies().await;
    let last = &before["last_reload"];
    assert!(last.is_null(), "no reload yet: {last}");
    let modules = before["modules"].as_array().unwrap();
    assert!(modules.len() >= 2, "{before}");
    for m in modules {
        assert!(m["latency"].is_null(), "no call yet: {m}");
        assert_eq!(m["hits"], 0, "{m}");
        assert!(is_hex64(m["sha256"].as_str().unwrap()), "{m}");
        assert_eq!(m["mode"], "enforce", "{m}");
        assert!(!m["version"].as_str().unwrap().is_empty(), "{m}");
        let errors = m["errors"].as_object().unwrap();
        for kind in ["timeout", "memory", "trap", "bad-output", "instantiate"] {
            assert_eq!(errors[kind], 0, "{kind} in {m}");
        }
    }

    let wave = palisade_e2e::example("wave.json");
    judge(&s, &wave).await;
    judge(&s, &wave).await;
    judge(&s, &palisade_e2e::example("reply.json")).await;
    let after = policies().await;
    let modules = after["modules"].as_array().unwrap();
    for m in modules {
        let latency = &m["latency"];
        // A reject ends judging: the modules after mention-limit did not
        // see the wave, so each has its own number of calls.
        assert_eq!(latency["calls"], m["calls"], "{m}");
        assert!(
            m["calls"].as_u64().unwrap() >= 1,
            "the reply, at least: {m}"
        );
        let us = |p: &str| latency[p].as_u64().unwrap();
        assert!(us("p50_us") <= us("p99_us"), "{latency}");
        assert!(us("p99_us") <= us("max_us"), "{latency}");
        assert!(m["hits"].is_u64(), "{m}");
    }
    let limit = modules.iter().find(|m| m["name"] == "mention-limit");
    let limit = limit.expect("mention-limit is loaded");
    assert_eq!(limit["latency"]["calls"], 3, "{limit}");
    assert_eq!(limit["hits"], 2, "the wave, twice; not the reply");

    let (code, report) = admin(&s, POST, "reload", None).await;
    assert_eq!(code, 200, "{report}");
    let reloaded = policies().await;
    let last = &reloaded["last_reload"];
    assert_eq!(last["result"], "ok", "{last}");
    assert_eq!(last["trigger"], "admin", "{last}");
    assert!(last["at"].is_string(), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_are_counted_wherever_they_are_tried() {
    let s = sidecar(false).await;
    let failures = |metrics: &str, via: &str| {
        let prefix = format!("palisade_admin_auth_failures_total{{via=\"{via}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|n| n.parse::<u64>().unwrap())
            .unwrap_or(0)
    };
    assert_eq!(login(&s, "guess", &[]).await.status().as_u16(), 401);
    for _ in 0..3 {
        let r = call(
            &s,
            GET,
            "/admin/v1/policies",
            &[("authorization", "Bearer guess")],
            None,
        )
        .await;
        assert_eq!(r.status().as_u16(), 401);
    }
    assert_eq!(
        admin(&s, GET, "policies", None).await.0,
        200,
        "the right one"
    );
    let metrics = palisade_e2e::metrics(&s.p.url).await;
    assert_eq!(failures(&metrics, "login"), 1, "{metrics}");
    assert_eq!(failures(&metrics, "bearer"), 3);
}
