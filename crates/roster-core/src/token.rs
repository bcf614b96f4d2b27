//! Personal token keys: made from the OS CSPRNG, shown once, stored only as SHA-256, compared in
//! constant time.
//!
//! Format (Azion's): `azion` followed by 35 characters of `[a-z0-9]`, 40 in all (about 181 bits
//! of entropy).

use crate::error::{AuthFailure, CoreError};
use crate::secret::Secret;
use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "azion";
pub const OPERATOR_KEY_PREFIX: &str = "rosterop";
pub const KEY_RANDOM_LEN: usize = 35;
/// How many characters of the key the store keeps in clear, to tell tokens apart.
pub const SHOWN_PREFIX_LEN: usize = 9;
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A freshly made key. `Debug` redacts it.
#[derive(Debug, Clone)]
pub struct NewKey(pub Secret);

impl NewKey {
    /// A personal token's key.
    pub fn generate() -> Result<Self, CoreError> {
        Self::with_prefix(KEY_PREFIX)
    }

    /// An operator token's key: `rosterop` and 35 random characters, so that one found in a log
    /// or a repository is recognised for what it is.
    pub fn operator() -> Result<Self, CoreError> {
        Self::with_prefix(OPERATOR_KEY_PREFIX)
    }

    fn with_prefix(prefix: &str) -> Result<Self, CoreError> {
        let len = prefix.len() + KEY_RANDOM_LEN;
        let mut out = String::with_capacity(len);
        out.push_str(prefix);
        let mut buf = [0u8; 64];
        while out.len() < len {
            getrandom::fill(&mut buf)
                .map_err(|e| CoreError::Internal(format!("CSPRNG unavailable: {e}")))?;
            for b in buf {
                // Rejection sampling keeps the distribution uniform: 252 = 7 * 36.
                if b < 252 && out.len() < len {
                    out.push(ALPHABET[(b % 36) as usize] as char);
                }
            }
        }
        Ok(Self(Secret::new(out)))
    }
    pub fn hash(&self) -> [u8; 32] {
        hash_key(self.0.expose())
    }
    pub fn shown_prefix(&self) -> String {
        self.0.expose().chars().take(SHOWN_PREFIX_LEN).collect()
    }
}

pub fn hash_key(key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.finalize().into()
}

/// The key from an `Authorization` header value: `Token <key>` or `Bearer <key>`, the scheme in
/// any case.
pub fn key_from_authorization(value: &str) -> Result<&str, AuthFailure> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AuthFailure::Missing);
    }
    let (scheme, rest) = value
        .split_once(char::is_whitespace)
        .ok_or(AuthFailure::BadScheme)?;
    if !(scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer")) {
        return Err(AuthFailure::BadScheme);
    }
    let key = rest.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(AuthFailure::BadScheme);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_azion_shape_and_differ() {
        let a = NewKey::generate().unwrap();
        let b = NewKey::generate().unwrap();
        let ka = a.0.expose();
        assert_eq!(ka.len(), 40);
        assert!(ka.starts_with("azion"));
        assert!(
            ka[5..]
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_ne!(ka, b.0.expose());
        assert_eq!(a.shown_prefix(), &ka[..9]);
        assert!(!format!("{a:?}").contains(ka));
    }

    #[test]
    fn keys_hash_apart() {
        assert_eq!(hash_key("x"), hash_key("x"));
        assert_ne!(hash_key("x"), hash_key("y"));
    }

    #[test]
    fn authorization_schemes() {
        assert_eq!(key_from_authorization("Token abc"), Ok("abc"));
        assert_eq!(key_from_authorization("token abc"), Ok("abc"));
        assert_eq!(key_from_authorization("BEARER  abc "), Ok("abc"));
        assert_eq!(
            key_from_authorization("Basic abc"),
            Err(AuthFailure::BadScheme)
        );
        assert_eq!(key_from_authorization("abc"), Err(AuthFailure::BadScheme));
        assert_eq!(key_from_authorization("Token"), Err(AuthFailure::BadScheme));
        assert_eq!(
            key_from_authorization("Token a b"),
            Err(AuthFailure::BadScheme)
        );
        assert_eq!(key_from_authorization(""), Err(AuthFailure::Missing));
    }
}
