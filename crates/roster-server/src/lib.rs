//! Roster's HTTP front end. Handlers extract, call one `roster_core` service function, and
//! return; errors render once per wire format (see [`error`]).

pub mod error;
pub mod extract;
mod health;
mod iam;
mod middleware;
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
    /// SCIM requests per second each identity provider's endpoint accepts (bursts of twice that)
    /// before answering 429 with `Retry-After`; 0 turns the limit off.
    pub scim_rate_limit: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            scim_rate_limit: 200,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub roster: Arc<Roster>,
    pub config: Arc<ServerConfig>,
    pub scim_limiter: Option<Arc<scim::Limiter>>,
}

/// The whole application as a router (without the trailing-slash normalisation, which must wrap
/// the router from outside: see [`serve`]).
pub fn router(roster: Roster, config: ServerConfig) -> Router {
    let state = AppState {
        roster: Arc::new(roster),
        config: Arc::new(config.clone()),
        scim_limiter: scim::Limiter::new(config.scim_rate_limit).map(Arc::new),
    };
    let iam = iam::routes();
    let app = Router::new()
        .nest("/iam/api", iam.clone())
        .nest("/iam", iam.clone())
        .nest("/v4/iam", iam)
        .merge(health::routes())
        .merge(scim::routes())
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
    let app = router(roster, config);
    let app = tower_http::normalize_path::NormalizePathLayer::trim_trailing_slash().layer(app);
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
