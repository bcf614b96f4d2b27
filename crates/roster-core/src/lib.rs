//! Roster's domain: accounts, users, teams, identity providers, personal tokens and permissions,
//! the service functions every front end (IAM API, SCIM, console, CLI) calls, and the storage
//! trait those services need. No HTTP and no SQL live here.
//!
//! Dependency direction: `roster-server` and `roster` (binary) → `roster-core` → (`roster-scim`).
//! Storage crates implement [`store::Store`].

pub mod certs;
pub mod clock;
pub mod error;
pub mod model;
pub mod scim;
pub mod seal;
pub mod secret;
pub mod security;
pub mod service;
pub mod store;
pub mod token;
pub mod validate;

pub use clock::{Clock, SystemClock};
pub use error::{AuthFailure, CoreError, FieldErrors};
pub use seal::{Sealed, SecretKey};
pub use secret::Secret;
pub use service::{Principal, PublicUrls, Roster};
pub use store::{Store, StoreError, Tx};
