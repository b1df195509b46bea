//! `POST /v1/judge`: an activity in, the decision out — with the rewrites
//! modules asked for applied to the returned activity, since here (unlike
//! in the proxy) nobody's signature covers the body.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::App;
use crate::pipeline::Envelope;
use crate::runtime::{Direction, unix_ms};
use crate::senders::Sender;

/// The header by which a server that verified a delivery tells the judge
/// API who signed it.
pub const VERIFIED_ACTOR: &str = "palisade-verified-actor";

pub async fn judge(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match super::proxy::read_body(body, &app.config.server).await {
        Ok(body) => body,
        Err(e) => return e.response(&app.config.server),
    };
    let records = app.config.server.judge_api_records;
    let sender = match parts
        .headers
        .get(VERIFIED_ACTOR)
        .map(|v| v.to_str().map(str::trim))
    {
        // The caller (the server, having verified the delivery) says who
        // signed it: verified for that actor only.
        Some(Ok(actor)) if !actor.is_empty() => Sender::Trusted {
            actor: Some(actor.to_owned()),
            facts: None,
        },
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the {VERIFIED_ACTOR} header must be an actor's URI"),
                0,
                0,
            );
        }
        // Callers the admin trusts to write are trusted to have verified.
        None if records => Sender::trusted(),
        None => Sender::Unverified {
            key_id: None,
            reason: format!("the caller did not say who signed it ({VERIFIED_ACTOR})"),
        },
    };
    let envelope = Envelope {
        direction: Direction::Inbound,
        received_at: unix_ms(),
        recipient: None,
        record: records,
        sender,
    };
    let Ok(judgement) = app.judge(body.clone(), envelope.clone()).await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the activity could not be judged; retry later".to_owned(),
            0,
            0,
        );
    };
    let decision = &judgement.decision;
    if let Some(e) = &decision.error {
        return error(StatusCode::BAD_REQUEST, e.message.clone(), e.line, e.column);
    }
    app.record(&judgement, &envelope, "/v1/judge", None).await;
    let mut out = serde_json::to_value(decision).unwrap_or(Value::Null);
    if !decision.rewrites.is_empty()
        && let Ok(mut activity) = serde_json::from_slice::<Value>(&body)
    {
        apply_rewrites(&mut activity, &decision.rewrites);
        out["activity"] = activity;
    }
    Json(out).into_response()
}

fn error(status: StatusCode, message: String, line: usize, column: usize) -> Response {
    let mut body = json!({ "error": message });
    if line > 0 {
        body["line"] = line.into();
        body["column"] = column.into();
    }
    (status, Json(body)).into_response()
}

const PUBLIC: [&str; 3] = [
    "https://www.w3.org/ns/activitystreams#Public",
    "as:Public",
    "Public",
];

/// Apply rewrites to the activity and to its embedded object.
pub fn apply_rewrites(activity: &mut Value, rewrites: &[&str]) {
    for rewrite in rewrites {
        if let Some(object) = activity.get_mut("object").filter(|o| o.is_object()) {
            apply(object, rewrite);
        }
        apply(activity, rewrite);
    }
}

fn apply(target: &mut Value, rewrite: &str) {
    match rewrite {
        "delist" => delist(target),
        // Only on the object carrying the content, not on the wrapper.
        "mark-sensitive" if target.get("content").is_some() => {
            target["sensitive"] = Value::Bool(true);
        }
        "strip-media" => {
            if let Some(obj) = target.as_object_mut()
                && obj.contains_key("attachment")
            {
                obj.insert("attachment".into(), Value::Array(Vec::new()));
            }
        }
        _ => {}
    }
}

/// Public → unlisted: move the public collection from `to` to `cc`.
fn delist(target: &mut Value) {
    let Some(to) = target.get_mut("to") else {
        return;
    };
    let mut moved = false;
    if let Some(list) = to.as_array_mut() {
        let before = list.len();
        list.retain(|v| !v.as_str().is_some_and(|s| PUBLIC.contains(&s)));
        moved = list.len() != before;
    } else if to.as_str().is_some_and(|s| PUBLIC.contains(&s)) {
        *to = Value::Array(Vec::new());
        moved = true;
    }
    if moved {
        let cc = target.get_mut("cc");
        match cc {
            Some(Value::Array(list)) => list.push(Value::String(PUBLIC[0].into())),
            Some(other) => {
                let old = other.take();
                *other = Value::Array(vec![old, Value::String(PUBLIC[0].into())]);
            }
            None => target["cc"] = Value::Array(vec![Value::String(PUBLIC[0].into())]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_change_the_activity_and_its_object() {
        let mut a = json!({
            "type": "Create",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": ["https://r.example/u/followers"],
            "object": {
                "type": "Note", "content": "x", "sensitive": false,
                "to": "as:Public",
                "attachment": [{"type": "Document", "url": "https://r.example/a.png"}]
            }
        });
        apply_rewrites(&mut a, &["delist", "mark-sensitive", "strip-media"]);
        assert_eq!(a["to"], json!([]));
        assert_eq!(
            a["cc"],
            json!([
                "https://r.example/u/followers",
                "https://www.w3.org/ns/activitystreams#Public"
            ])
        );
        assert_eq!(a["object"]["to"], json!([]));
        assert_eq!(
            a["object"]["cc"],
            json!(["https://www.w3.org/ns/activitystreams#Public"])
        );
        assert_eq!(a["object"]["sensitive"], json!(true));
        assert_eq!(a["object"]["attachment"], json!([]));
        assert!(
            a.get("sensitive").is_none(),
            "the wrapper has no content to hide"
        );
    }
}
