//! Who is on the other end: the client's address and the scheme it used.
//!
//! From the socket, unless the request comes from a configured trusted proxy
//! (`--trusted-proxy CIDR`): then `X-Forwarded-For` is walked from the right, past every trusted
//! proxy, to the first address that is not one, and `X-Forwarded-Proto` gives the scheme. A
//! client that is not a trusted proxy cannot choose its address by sending these headers.

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The client as resolved for this request (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub addr: Option<IpAddr>,
    pub https: bool,
}

pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Client {
    let is_trusted = |a: &IpAddr| trusted.iter().any(|n| n.contains(a));
    let Some(peer) = peer else {
        return Client {
            addr: None,
            https: false,
        };
    };
    if !is_trusted(&peer) {
        return Client {
            addr: Some(peer),
            https: false,
        };
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| parse_addr(a.trim()))
        .collect();
    let mut addr = peer;
    for a in forwarded.iter().rev() {
        if !is_trusted(&addr) {
            break;
        }
        addr = *a;
    }
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    Client {
        addr: Some(addr),
        https,
    }
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:1234`.
fn parse_addr(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The layer: resolves the client and stores it in the request's extensions.
pub async fn layer(
    axum::extract::State(trusted): axum::extract::State<Arc<Vec<IpNet>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = resolve(peer, req.headers(), &trusted);
    req.extensions_mut().insert(client);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn headers(xff: &str, proto: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(xff) {
            h.insert("x-forwarded-for", v);
        }
        if let Ok(v) = HeaderValue::from_str(proto) {
            h.insert("x-forwarded-proto", v);
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap_or_default()];
        let h = headers("198.51.100.9, 10.1.1.1", "https");
        // From a trusted proxy: the first address that is not a proxy, and its scheme.
        let c = resolve(Some(ip("10.2.2.2")), &h, &trusted);
        assert_eq!((c.addr, c.https), (Some(ip("198.51.100.9")), true));
        // From anyone else: the socket, whatever the headers say.
        let c = resolve(Some(ip("203.0.113.5")), &h, &trusted);
        assert_eq!((c.addr, c.https), (Some(ip("203.0.113.5")), false));
        // A client cannot hide behind an address it prepends: the walk stops at the first
        // untrusted hop from the right.
        let h = headers("1.2.3.4, 198.51.100.9", "http");
        let c = resolve(Some(ip("10.2.2.2")), &h, &trusted);
        assert_eq!((c.addr, c.https), (Some(ip("198.51.100.9")), false));
        // Garbage entries are skipped.
        let h = headers("nonsense, [2001:db8::1]:443", "https");
        let c = resolve(Some(ip("10.2.2.2")), &h, &trusted);
        assert_eq!(c.addr, Some(ip("2001:db8::1")));
    }
}
