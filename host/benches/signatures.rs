//! What verifying an inbox POST's signature costs once its key is cached:
//! the whole `Senders::verify` path (claim, cache, digest, signature,
//! replay check) for draft-cavage and RFC 9421 with RSA-2048 and Ed25519
//! keys, beside judging the same activity with the default modules and
//! parsing it. The key is served once by a loopback server, then cached.
//! Command and results: docs/PERFORMANCE.md.

use std::hint::black_box;

use actpub_httpsig::{
    CavageSigner, Rfc9421Signer, RsaBits, SigningKey, content_digest_header, sha256_digest_header,
};
use axum::http::{HeaderMap, Method, Request, Uri};
use criterion::Criterion;
use palisade::pipeline::Envelope;
use palisade::senders::verify::Signed;
use palisade::senders::{Sender, Senders};
use palisade::{Config, Palisade};
use prometheus::{IntCounterVec, Opts};

#[path = "common.rs"]
mod common;

fn note() -> Vec<u8> {
    std::fs::read(common::root().join("examples/activities/reply.json")).unwrap()
}

/// A loopback server publishing the documents `docs` makes for its own
/// address (path → actor document); its base URL.
fn serve(
    rt: &tokio::runtime::Runtime,
    docs: impl FnOnce(&str) -> Vec<(String, serde_json::Value)>,
) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut router = axum::Router::new();
    for (path, doc) in docs(&base) {
        router = router.route(
            &path,
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        );
    }
    rt.spawn(async move { axum::serve(listener, router).await });
    base
}

fn actor(base: &str, name: &str, key: &SigningKey) -> (String, serde_json::Value) {
    let id = format!("{base}/users/{name}");
    let doc = serde_json::json!({
        "id": id, "type": "Person", "inbox": format!("{id}/inbox"),
        "publicKey": {"id": format!("{id}#main-key"), "owner": id,
            "publicKeyPem": key.verifying_key().to_pem()},
    });
    (format!("/users/{name}"), doc)
}

fn signed(body: &[u8], key: &SigningKey, key_id: &str, rfc9421: bool) -> (Uri, HeaderMap) {
    let mut req = Request::builder()
        .method("POST")
        .uri("https://home.example/users/alice/inbox")
        .header("host", "home.example")
        .header(
            "date",
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        )
        .header("digest", sha256_digest_header(body))
        .header("content-digest", content_digest_header(body))
        .header("content-type", "application/activity+json")
        .body(())
        .unwrap();
    if rfc9421 {
        Rfc9421Signer::new(key, key_id).sign(&mut req).unwrap();
    } else {
        CavageSigner::new(key, key_id)
            .with_headers(["(request-target)", "host", "date", "digest"])
            .sign(&mut req)
            .unwrap();
    }
    (
        "/users/alice/inbox".parse().unwrap(),
        req.into_parts().0.headers,
    )
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rsa = SigningKey::generate_rsa(RsaBits::Rsa2048).unwrap();
    let ed = SigningKey::generate_ed25519();
    let base = serve(&rt, |base| {
        vec![actor(base, "rsa", &rsa), actor(base, "ed", &ed)]
    });

    let config =
        Config::parse("[fetch]\nallow_insecure = true\nfacts = false\n[state]\nurl = \"memory\"\n")
            .unwrap();
    let state = palisade::state::open(&config.state, std::path::Path::new(".")).unwrap();
    let counter =
        |name: &str, labels: &[&str]| IntCounterVec::new(Opts::new(name, "bench"), labels).unwrap();
    let senders = Senders::new(
        &config,
        state,
        counter("senders", &["status", "reason"]),
        counter("fetches", &["kind", "result"]),
    )
    .unwrap();

    let body = note();
    let cases = [
        ("cavage_rsa2048", &rsa, "rsa", false),
        ("rfc9421_rsa2048", &rsa, "rsa", true),
        ("cavage_ed25519", &ed, "ed", false),
        ("rfc9421_ed25519", &ed, "ed", true),
    ];
    let mut g = c.benchmark_group("signatures");
    for (name, key, user, rfc9421) in cases {
        let key_id = format!("{base}/users/{user}#main-key");
        let (uri, headers) = signed(&body, key, &key_id, rfc9421);
        let req = Signed {
            method: &Method::POST,
            uri: &uri,
            headers: &headers,
            body: &body,
        };
        // The first verification fetches the key; every later one is a
        // replay of the same signature, which costs the same checks.
        let first = rt.block_on(senders.verify(&req));
        assert!(
            matches!(first, Sender::Signed { .. }),
            "{name}: the first verification must succeed: {first:?}"
        );
        g.bench_function(name, |b| {
            b.iter(|| black_box(rt.block_on(senders.verify(black_box(&req)))))
        });
    }
    g.finish();

    let palisade = Palisade::new(
        &Config::parse("[state]\nurl = \"memory\"\n[learning]\nhours = 0\n").unwrap(),
        None,
    )
    .unwrap();
    let set = palisade.policies();
    let mut g = c.benchmark_group("baseline");
    g.bench_function("judge_default_modules", |b| {
        b.iter(|| black_box(set.judge_bytes(black_box(&body), &Envelope::inbound_now())))
    });
    g.bench_function("serde_json_value", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap()))
    });
    g.finish();
    c.final_summary();

    let rows: Vec<(&str, &str, &str, &str)> = cases
        .iter()
        .map(|(name, ..)| ("signatures", *name, "baseline", "judge_default_modules"))
        .collect();
    common::print_ratios(&rows);
}
