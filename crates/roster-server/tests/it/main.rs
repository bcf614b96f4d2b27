//! Integration tests: the real server, in process on 127.0.0.1:0, against SQLite and PostgreSQL.
//!
//! Every story is written once and runs on both backends (see `both!`). PostgreSQL tests use a
//! fresh database per test on `ROSTER_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); they fail, never skip, when it is unreachable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod auth;
mod browser;
mod console;
mod console_two_factor;
mod console_users;
mod errors;
mod idp_metadata;
mod idps;
mod isolation;
mod operator;
mod scim;
mod scim_fixtures;
mod security;
mod teams;
mod tokens;
mod users;
