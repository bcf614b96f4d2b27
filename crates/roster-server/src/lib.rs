//! Roster's HTTP front end. Handlers extract, call one `roster_core` service function, and
//! return; errors render once per wire format (see [`error`]).

pub mod client;
mod console;
pub mod error;
pub mod extract;
mod health;
mod iam;
pub mod listen;
mod middleware;
mod operator;
pub mod routes;
mod saml;
pub mod scim;

use axum::Router;
use roster_core::Roster;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// What the HTTP layer needs beyond the services.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: Duration,
    /// Longest the client may take to send a request body once the headers are in (408 past it).
    pub body_read_timeout: Duration,
    /// SCIM requests per second one token may make on one identity provider's endpoint (bursts of
    /// twice that) before 429 with `Retry-After`; 0 turns the limit off.
    pub scim_rate_limit: u32,
    /// SCIM requests per second that fail authentication one client address may make (bursts of
    /// twice that); past it its failures are answered 429 (a valid token from it is still served).
    /// 0 turns the limit off.
    pub scim_unauthenticated_rate_limit: u32,
    /// Proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Connections served at once, and how long a connection may take to send a request's
    /// headers (which is also how long an idle keep-alive connection is kept).
    pub connections: listen::ConnectionLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(15),
            scim_rate_limit: 200,
            scim_unauthenticated_rate_limit: 10,
            trusted_proxies: Vec::new(),
            connections: listen::ConnectionLimits::default(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub roster: Arc<Roster>,
    pub config: Arc<ServerConfig>,
    pub scim_limiter: Arc<scim::Limiter>,
}

/// The whole application as a router (without the trailing-slash normalisation, which must wrap
/// the router from outside: see [`serve`]).
pub fn router(roster: Roster, config: ServerConfig) -> Router {
    let state = AppState {
        roster: Arc::new(roster),
        config: Arc::new(config.clone()),
        scim_limiter: Arc::new(scim::Limiter::new(
            config.scim_rate_limit,
            config.scim_unauthenticated_rate_limit,
        )),
    };
    let app = routes::router()
        .fallback(error::fallback)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state);
    middleware::wrap(app, &config)
}

/// Serve until `shutdown` resolves, then finish in-flight requests and return.
pub async fn serve(
    listener: TcpListener,
    roster: Roster,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use tower::Layer;
    let limits = config.connections;
    let app = router(roster, config);
    let app = tower_http::normalize_path::NormalizePathLayer::trim_trailing_slash().layer(app);
    let app = tower::util::MapRequestLayer::new(scim::normalize).layer(app);
    listen::serve(listener, app, limits, shutdown).await
}
