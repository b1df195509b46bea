//! Checking an inbox POST's HTTP signature: draft-cavage (`Signature`,
//! `rsa-sha256` and `hs2019` with RSA or Ed25519 keys, the body's `Digest`)
//! or RFC 9421 (`Signature-Input` + `Signature`, the body's
//! `Content-Digest`), with the `actpub-httpsig` crate. What the servers
//! behind require, Palisade requires: the target, the host and a date or
//! `created` signed, the body's digest signed and matching, the signature
//! within its age window.

use actpub_httpsig::{
    CavageHeaderParams, Error as SigError, VerifyPolicy, VerifyingKey, parse_signature_input_dict,
    verify_content_digest_header, verify_digest_header, verify_with_policy,
};
use axum::http::{HeaderMap, Method, Request, Uri};

use crate::config::SendersConfig;

/// What a request's headers claim, read before any key is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// No `Signature` header.
    Unsigned,
    /// A signature that cannot be read: the server would refuse it too.
    Malformed(String),
    /// A signature by `key_id`, in either format.
    Signed { key_id: String, rfc9421: bool },
}

/// Read what the headers claim.
pub fn claim(headers: &HeaderMap) -> Claim {
    let text = |name: &'static str| headers.get(name).map(|v| v.to_str().map_err(|_| name));
    match (text("signature-input"), text("signature")) {
        (None, None) => Claim::Unsigned,
        (Some(Err(n)), _) | (None, Some(Err(n))) => {
            Claim::Malformed(format!("the {n} header is not text"))
        }
        (Some(Ok(input)), _) => match parse_signature_input_dict(input) {
            Ok(inputs) => match inputs.first().and_then(|(_, i)| i.keyid.clone()) {
                Some(key_id) if inputs.len() == 1 => Claim::Signed {
                    key_id,
                    rfc9421: true,
                },
                Some(_) => {
                    Claim::Malformed("Signature-Input carries more than one signature".into())
                }
                None => Claim::Malformed("Signature-Input names no keyid".into()),
            },
            Err(e) => Claim::Malformed(format!("unreadable Signature-Input: {e}")),
        },
        (None, Some(Ok(signature))) => match CavageHeaderParams::parse(signature) {
            Ok(params) => Claim::Signed {
                key_id: params.key_id,
                rfc9421: false,
            },
            Err(e) => Claim::Malformed(format!("unreadable Signature header: {e}")),
        },
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Not what the key signed (a changed header, another key): worth one
    /// fresh fetch of the key, in case it was rotated.
    #[error("the signature does not match the key")]
    Mismatch,
    /// Anything else that makes it invalid (a stale date, an unsigned or
    /// wrong digest, a required header not signed).
    #[error("{0}")]
    Invalid(String),
    /// A format or algorithm Palisade does not check.
    #[error("{0}")]
    Unsupported(String),
}

/// The request as it was signed: method, the path as received (not as
/// normalised), headers. RFC 9421's `@target-uri` needs the public scheme
/// and authority, which a proxy behind TLS termination does not see.
pub struct Signed<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Check the signature of `req` with `key`.
pub fn check(
    req: &Signed<'_>,
    key: &VerifyingKey,
    config: &SendersConfig,
    now_ms: u64,
) -> Result<(), Failure> {
    let rfc9421 = req.headers.contains_key("signature-input");
    check_digest(req, rfc9421)?;
    let path = req
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let host = req
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| Failure::Invalid("the request has no Host header".into()))?;
    let uri: Uri = format!("{}://{host}{path}", config.scheme)
        .parse()
        .map_err(|_| Failure::Invalid(format!("the Host header `{host}` is not a host")))?;
    let mut request = Request::builder().method(req.method.clone()).uri(uri);
    if let Some(headers) = request.headers_mut() {
        *headers = req.headers.clone();
    }
    let request = request
        .body(())
        .map_err(|e| Failure::Invalid(format!("unreadable request: {e}")))?;
    if !rfc9421 {
        // A cavage signature must date itself: the `Date` header or
        // `(created)` signed (else it could be replayed for ever).
        let params = req
            .headers
            .get("signature")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| CavageHeaderParams::parse(v).ok())
            .ok_or_else(|| Failure::Invalid("unreadable Signature header".into()))?;
        let dated = params
            .headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("date") || h.eq_ignore_ascii_case("(created)"));
        if !dated {
            return Err(Failure::Invalid(
                "neither the Date header nor (created) is signed".into(),
            ));
        }
    }
    let now = chrono::DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    if rfc9421 {
        return check_rfc9421(&request, key, &policy(config, true), now);
    }
    verify_with_policy(&request, &policy(config, false), now, |_| Ok(key.clone()))
        .map(|_| ())
        .map_err(failure)
}

/// RFC 9421, with the signature base built from the signature's
/// parameters as the sender wrote them: `@signature-params` is the
/// `Signature-Input` member as received (RFC 9421 §3.2), and senders order
/// `created`, `keyid` and `alg` differently (actpub-httpsig 0.2.3 rebuilds
/// them in one fixed order, so it refuses every other order).
fn check_rfc9421(
    req: &Request<()>,
    key: &VerifyingKey,
    policy: &VerifyPolicy,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Failure> {
    use sfv::{BareItem, Dictionary, FieldType, ListEntry, Parser};
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Failure::Invalid(format!("no readable {name} header")))
    };
    let inputs: Dictionary = Parser::new(header("signature-input")?)
        .parse()
        .map_err(|e| Failure::Invalid(format!("unreadable Signature-Input: {e}")))?;
    let [(label, ListEntry::InnerList(input))] = inputs.iter().collect::<Vec<_>>()[..] else {
        return Err(Failure::Invalid(
            "Signature-Input must carry one signature, as an inner list".into(),
        ));
    };
    let signatures = actpub_httpsig::parse_signature_dict(header("signature")?)
        .map_err(|e| Failure::Invalid(format!("unreadable Signature header: {e}")))?;
    let signature = signatures
        .iter()
        .find(|(l, _)| l == label.as_str())
        .map(|(_, bytes)| bytes)
        .ok_or_else(|| Failure::Invalid(format!("no Signature for `{label}`")))?;
    let param = |name: &str| {
        input
            .params
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v)
    };
    let integer = |name: &str| param(name).and_then(BareItem::as_integer).map(i64::from);
    if let Some(BareItem::String(alg)) = param("alg")
        && let Ok(Some(alg)) = actpub_httpsig::Algorithm::parse(alg.as_str())
        && alg != key.algorithm()
    {
        return Err(Failure::Mismatch);
    }
    let date = req.headers().get("date").and_then(|v| v.to_str().ok());
    policy
        .check(integer("created"), integer("expires"), date, now)
        .map_err(failure)?;
    let mut components = Vec::with_capacity(input.items.len());
    for item in &input.items {
        let BareItem::String(id) = &item.bare_item else {
            return Err(Failure::Invalid(
                "a covered component is not a string".into(),
            ));
        };
        if !item.params.is_empty() {
            return Err(Failure::Unsupported(format!(
                "component parameters (on \"{}\") are not supported",
                id.as_str()
            )));
        }
        components.push(id.as_str().to_ascii_lowercase());
    }
    for required in policy.rfc9421_required_components {
        if !components.iter().any(|c| c == required) {
            return Err(Failure::Invalid(format!("`{required}` is not signed")));
        }
    }
    let mut base = String::new();
    for id in &components {
        let value = component_value(req, id)?;
        base.push_str(&format!("\"{id}\": {value}\n"));
    }
    let params = vec![ListEntry::InnerList(input.clone())]
        .serialize()
        .ok_or_else(|| Failure::Invalid("unserialisable Signature-Input".into()))?;
    base.push_str(&format!("\"@signature-params\": {params}"));
    key.verify(base.as_bytes(), signature)
        .map_err(|_| Failure::Mismatch)
}

/// One covered component's value (RFC 9421 §2.1, §2.2).
fn component_value(req: &Request<()>, id: &str) -> Result<String, Failure> {
    let uri = req.uri();
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let authority = || {
        uri.authority()
            .map(|a| a.as_str().to_ascii_lowercase())
            .ok_or_else(|| Failure::Invalid("no authority".into()))
    };
    Ok(match id {
        "@method" => req.method().as_str().to_ascii_uppercase(),
        "@target-uri" => format!(
            "{}://{}{path_and_query}",
            uri.scheme_str().unwrap_or("https"),
            authority()?
        ),
        "@authority" => authority()?,
        "@scheme" => uri.scheme_str().unwrap_or("https").to_ascii_lowercase(),
        "@request-target" => path_and_query.to_owned(),
        "@path" => uri.path().to_owned(),
        "@query" => format!("?{}", uri.query().unwrap_or("")),
        derived if derived.starts_with('@') => {
            return Err(Failure::Unsupported(format!(
                "the component `{derived}` is not supported"
            )));
        }
        field => {
            let values: Vec<&str> = req
                .headers()
                .get_all(field)
                .iter()
                .map(|v| v.to_str().map(str::trim))
                .collect::<Result<_, _>>()
                .map_err(|_| Failure::Invalid(format!("the {field} header is not text")))?;
            if values.is_empty() {
                return Err(Failure::Invalid(format!(
                    "the signed {field} header is missing"
                )));
            }
            values.join(", ")
        }
    })
}

/// The body's digest must be signed and match: otherwise the signature
/// covers headers, and anyone could send another body under them.
fn check_digest(req: &Signed<'_>, rfc9421: bool) -> Result<(), Failure> {
    let header = if rfc9421 { "content-digest" } else { "digest" };
    let signed = if rfc9421 {
        req.headers
            .get("signature-input")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_signature_input_dict(v).ok())
            .is_some_and(|inputs| {
                inputs.iter().all(|(_, i)| {
                    i.components
                        .iter()
                        .any(|c| c.identifier().eq_ignore_ascii_case(header))
                })
            })
    } else {
        req.headers
            .get("signature")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| CavageHeaderParams::parse(v).ok())
            .is_some_and(|p| p.headers.iter().any(|h| h.eq_ignore_ascii_case(header)))
    };
    if !signed {
        return Err(Failure::Invalid(format!(
            "the {header} header is not signed: the body is not covered"
        )));
    }
    let value = req
        .headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Failure::Invalid(format!("no readable {header} header")))?;
    let result = if rfc9421 {
        verify_content_digest_header(value, req.body)
    } else {
        verify_digest_header(value, req.body)
    };
    result.map_err(|e| match e {
        SigError::DigestMismatch => {
            Failure::Invalid(format!("the body does not match its {header}"))
        }
        SigError::UnsupportedDigestAlgorithm(a) => {
            Failure::Unsupported(format!("{header} algorithm `{a}` is not supported"))
        }
        other => Failure::Invalid(format!("unreadable {header}: {other}")),
    })
}

fn policy(config: &SendersConfig, rfc9421: bool) -> VerifyPolicy {
    let mut policy = VerifyPolicy::mastodon();
    policy.max_age = Some(chrono::Duration::seconds(config.max_age_s as i64));
    policy.max_clock_skew_future = Some(chrono::Duration::seconds(config.max_future_s as i64));
    // The date is required above (cavage) or by `created` / Date below.
    policy.require_timestamp = true;
    policy.cavage_required_headers = &["(request-target)", "host"];
    if rfc9421 {
        policy.rfc9421_required_components = &["@method", "@target-uri", "content-digest"];
    }
    policy
}

fn failure(e: SigError) -> Failure {
    match e {
        SigError::VerificationFailed => Failure::Mismatch,
        SigError::UnsupportedAlgorithm(a) => {
            Failure::Unsupported(format!("signature algorithm `{a}` is not supported"))
        }
        SigError::TimestampTooOld { timestamp, .. } => {
            Failure::Invalid(format!("signed at {timestamp}: too old"))
        }
        SigError::TimestampInFuture { timestamp, .. } => {
            Failure::Invalid(format!("signed at {timestamp}: in the future"))
        }
        SigError::TimestampExpired { .. } => Failure::Invalid("the signature has expired".into()),
        SigError::TimestampMissing => Failure::Invalid("the signature is not dated".into()),
        SigError::RequiredHeaderAbsent(h) => Failure::Invalid(format!("`{h}` is not signed")),
        other => Failure::Invalid(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use actpub_httpsig::{
        CavageSigner, Rfc9421Signer, SigningKey, content_digest_header, sha256_digest_header,
    };

    use super::*;

    const BODY: &[u8] = br#"{"type":"Create","actor":"https://a.example/users/x"}"#;

    fn config() -> SendersConfig {
        SendersConfig::default()
    }

    fn request(date: std::time::SystemTime) -> Request<()> {
        Request::builder()
            .method("POST")
            .uri("https://home.example/users/alice/inbox")
            .header("host", "home.example")
            .header("date", httpdate::fmt_http_date(date))
            .header("digest", sha256_digest_header(BODY))
            .header("content-digest", content_digest_header(BODY))
            .header("content-type", "application/activity+json")
            .body(())
            .unwrap()
    }

    /// `req` as the proxy sees it: the path only.
    fn check_as_received(req: &Request<()>, key: &SigningKey, body: &[u8]) -> Result<(), Failure> {
        let uri: Uri = req.uri().path().parse().unwrap();
        let signed = Signed {
            method: req.method(),
            uri: &uri,
            headers: req.headers(),
            body,
        };
        check(
            &signed,
            &key.verifying_key(),
            &config(),
            crate::runtime::unix_ms(),
        )
    }

    #[test]
    fn cavage_and_rfc9421_signatures_verify_and_a_changed_body_does_not() {
        let key = SigningKey::generate_ed25519();
        let mut cavage = request(std::time::SystemTime::now());
        CavageSigner::new(&key, "https://a.example/users/x#main-key")
            .with_headers(["(request-target)", "host", "date", "digest"])
            .sign(&mut cavage)
            .unwrap();
        assert_eq!(
            claim(cavage.headers()),
            Claim::Signed {
                key_id: "https://a.example/users/x#main-key".into(),
                rfc9421: false
            }
        );
        assert_eq!(check_as_received(&cavage, &key, BODY), Ok(()));
        let mut changed = BODY.to_vec();
        changed[3] ^= 1;
        let err = check_as_received(&cavage, &key, &changed).unwrap_err();
        assert!(
            err.to_string().contains("does not match its digest"),
            "{err}"
        );
        // Another key under the same keyId.
        let other = SigningKey::generate_ed25519();
        let uri: Uri = "/users/alice/inbox".parse().unwrap();
        let signed = Signed {
            method: cavage.method(),
            uri: &uri,
            headers: cavage.headers(),
            body: BODY,
        };
        assert_eq!(
            check(
                &signed,
                &other.verifying_key(),
                &config(),
                crate::runtime::unix_ms()
            ),
            Err(Failure::Mismatch)
        );

        let mut rfc = request(std::time::SystemTime::now());
        Rfc9421Signer::new(&key, "https://a.example/users/x#main-key")
            .sign(&mut rfc)
            .unwrap();
        assert!(matches!(
            claim(rfc.headers()),
            Claim::Signed { rfc9421: true, .. }
        ));
        assert_eq!(check_as_received(&rfc, &key, BODY), Ok(()));
        let err = check_as_received(&rfc, &key, &changed).unwrap_err();
        assert!(err.to_string().contains("content-digest"), "{err}");
    }

    #[test]
    fn an_old_or_undigested_signature_is_invalid() {
        let key = SigningKey::generate_ed25519();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(13 * 3600);
        let mut stale = request(old);
        CavageSigner::new(&key, "https://a.example/users/x#main-key")
            .with_headers(["(request-target)", "host", "date", "digest"])
            .sign(&mut stale)
            .unwrap();
        let err = check_as_received(&stale, &key, BODY).unwrap_err();
        assert!(err.to_string().contains("too old"), "{err}");

        let mut bare = request(std::time::SystemTime::now());
        CavageSigner::new(&key, "https://a.example/users/x#main-key")
            .with_headers(["(request-target)", "host", "date"])
            .sign(&mut bare)
            .unwrap();
        let err = check_as_received(&bare, &key, BODY).unwrap_err();
        assert!(
            err.to_string().contains("digest header is not signed"),
            "{err}"
        );
    }

    #[test]
    fn claims_are_read_without_a_key() {
        let mut h = HeaderMap::new();
        assert_eq!(claim(&h), Claim::Unsigned);
        h.insert("signature", "garbage".parse().unwrap());
        assert!(matches!(claim(&h), Claim::Malformed(_)));
    }
}
