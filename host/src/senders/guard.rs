//! The SSRF guard: a sender chooses what Palisade fetches (its keyId, its
//! actor, its object), so a sender must not be able to make Palisade fetch
//! from inside its own network. Every URL is checked before the request,
//! and every name is resolved here and only to public addresses — the
//! connection goes to the addresses checked, so a name that resolves to a
//! public address when checked and a private one when connecting (DNS
//! rebinding) gets nowhere.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why a URL is not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("`{0}` is not a URL")]
    NotAUrl(String),
    #[error("`{0}` is not https (`[fetch] allow_insecure` permits http, for tests and labs)")]
    Scheme(String),
    #[error("`{0}` names a {1} address (`[fetch] allow_insecure` permits it, for tests and labs)")]
    Private(String, &'static str),
    #[error("`{0}` carries user info")]
    UserInfo(String),
}

/// Check a URL before fetching it; the URL without its fragment.
pub fn check(raw: &str, allow_insecure: bool) -> Result<Url, Refused> {
    let mut url = Url::parse(raw).map_err(|_| Refused::NotAUrl(raw.to_owned()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        _ => return Err(Refused::Scheme(raw.to_owned())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::UserInfo(raw.to_owned()));
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(Host::Domain(d))
            if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") =>
        {
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        }
        Some(Host::Domain(_)) => None,
        None => return Err(Refused::NotAUrl(raw.to_owned())),
    };
    if let Some(ip) = ip
        && !allow_insecure
        && let Some(kind) = non_public(ip)
    {
        return Err(Refused::Private(raw.to_owned(), kind));
    }
    url.set_fragment(None);
    Ok(url)
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public_v4(v4);
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if s[0] & 0xff00 == 0xff00 {
                Some("multicast")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("documentation")
            } else if s[0] == 0x0064 && s[1] == 0xff9b {
                // NAT64: the IPv4 address inside decides.
                let v4 =
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                non_public_v4(v4)
            } else if s[0] == 0x2002 {
                // 6to4: likewise.
                let v4 =
                    Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
                non_public_v4(v4)
            } else if v6.segments()[..6] == [0; 6] {
                // IPv4-compatible (deprecated): the IPv4 address decides.
                non_public_v4(Ipv4Addr::from_bits(v6.to_bits() as u32))
            } else {
                None
            }
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 0 {
        Some("unspecified")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_multicast() || a >= 240 {
        Some("multicast or reserved")
    } else if (a, b, c) == (192, 0, 0) {
        Some("protocol-assignment")
    } else if ip.is_documentation() {
        Some("documentation")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking")
    } else {
        None
    }
}

/// Resolves names to public addresses only (all addresses when insecure
/// targets are allowed).
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver {
    pub allow_insecure: bool,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_insecure;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| allow || non_public(a.ip()).is_none())
                .collect();
            if kept.is_empty() {
                let why = all.first().and_then(|a| non_public(a.ip())).unwrap_or("no");
                return Err(format!("`{host}` resolves to {why} addresses only").into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_targets_are_refused() {
        for url in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/",
            "https://192.168.0.1/",
            "https://172.20.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[64:ff9b::a00:1]/",
            "https://0.0.0.0/",
            "https://100.64.0.1/",
            "https://localhost/",
            "https://api.localhost/",
        ] {
            assert!(
                matches!(check(url, false), Err(Refused::Private(..))),
                "{url} must be refused"
            );
            assert!(check(url, true).is_ok(), "{url} allowed when insecure");
        }
    }

    #[test]
    fn public_https_passes_and_http_needs_the_lab_setting() {
        assert_eq!(
            check("https://mastodon.example/users/a#main-key", false)
                .unwrap()
                .as_str(),
            "https://mastodon.example/users/a"
        );
        assert!(check("https://93.184.216.34/", false).is_ok());
        assert!(matches!(
            check("http://mastodon.example/", false),
            Err(Refused::Scheme(_))
        ));
        assert!(check("http://mastodon.example/", true).is_ok());
        assert!(matches!(
            check("file:///etc/passwd", true),
            Err(Refused::Scheme(_))
        ));
        assert!(matches!(
            check("https://u:p@mastodon.example/", false),
            Err(Refused::UserInfo(_))
        ));
        assert!(matches!(
            check("not a url", false),
            Err(Refused::NotAUrl(_))
        ));
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_resolve_to_nothing() {
        let r = PublicResolver {
            allow_insecure: false,
        };
        let name: Name = "localhost".parse().unwrap();
        let err = r.resolve(name).await.err().expect("refused");
        assert!(err.to_string().contains("loopback"), "{err}");
        let r = PublicResolver {
            allow_insecure: true,
        };
        let name: Name = "localhost".parse().unwrap();
        assert!(r.resolve(name).await.is_ok());
    }
}
