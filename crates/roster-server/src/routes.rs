//! The route table: every route the server serves, with its methods and the API (and so the
//! credential) it belongs to. The router is built from this table and from nothing else, so a
//! test that walks [`table`] (the cross-account isolation test does) sees every route, the ones
//! added later included.

use crate::AppState;
use axum::Router;
use axum::http::Method;
use axum::routing::MethodRouter;

/// Which API a route belongs to, and so which credential it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// No credential (`/health`).
    Public,
    /// A personal token, inside its account.
    Iam,
    /// A personal token, on one identity provider's SCIM endpoint of its account.
    Scim,
    /// An operator token.
    Operator,
    /// A console session (its cookie), inside its account.
    Console,
}

/// A route as the table describes it: the path in axum's syntax (`{id}`, `{*rest}`), the
/// methods it serves (the others answer 405), and its API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub path: String,
    pub methods: Vec<Method>,
    pub api: Api,
}

/// A route and its handlers.
pub(crate) struct Route {
    info: RouteInfo,
    handler: MethodRouter<AppState>,
}

/// A route serving `methods` (`"GET, POST"`: the same list a 405's `Allow` names).
pub(crate) fn route(
    api: Api,
    path: impl Into<String>,
    methods: &str,
    handler: MethodRouter<AppState>,
) -> Route {
    let methods = methods
        .split(',')
        .filter_map(|m| Method::from_bytes(m.trim().as_bytes()).ok())
        .collect();
    Route {
        info: RouteInfo {
            path: path.into(),
            methods,
            api,
        },
        handler,
    }
}

/// Where the IAM API is served: the same routes under each prefix.
pub const IAM_PREFIXES: &[&str] = &["/iam/api", "/iam", "/v4/iam"];

fn all() -> Vec<Route> {
    let mut routes = crate::health::routes();
    for prefix in IAM_PREFIXES {
        routes.extend(crate::iam::routes(prefix));
    }
    routes.extend(crate::scim::routes());
    routes.extend(crate::operator::routes());
    routes.extend(crate::console::routes());
    routes.extend(crate::saml::routes());
    routes
}

/// Every route the server serves.
pub fn table() -> Vec<RouteInfo> {
    all().into_iter().map(|r| r.info).collect()
}

/// The router of every route in the table.
pub(crate) fn router() -> Router<AppState> {
    all().into_iter().fold(Router::new(), |router, r| {
        router.route(&r.info.path, r.handler)
    })
}
