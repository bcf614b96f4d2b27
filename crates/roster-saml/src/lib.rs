//! SAML 2.0 for Roster's service providers (one per identity provider): the protocol, pure (no
//! I/O, no clock: callers pass the time).
//!
//! - [`xml`]: the only way XML enters: size-limited, no DTD or entity declaration (refused before
//!   any parsing), no comment or processing instruction anywhere (so no text is read past a
//!   comment, the NameID comment-injection attack).
//! - [`metadata`]: an identity provider's metadata (Entra's Federation Metadata XML): entity id,
//!   sign-in URL, signing certificates.
//! - [`response`]: a SAML Response's shape pinned before its signature is checked (so the signed
//!   element is the one read: no signature wrapping), then its conditions.
//! - [`verify`]: the signatures, against the identity provider's configured certificates only.

pub mod metadata;
pub mod response;
pub mod verify;
pub mod xml;

pub use xml::SamlError;
