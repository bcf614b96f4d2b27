//! One test binary for the whole crate (faster to link than one per file).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod entra_fixtures;
mod errors_messages;
mod filter_rfc;
mod hygiene;
mod limits;
mod patch_rfc;
mod projection;
mod props;
mod rfc7643;
mod schema;
