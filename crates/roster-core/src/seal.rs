//! Secrets Roster must use itself (an OIDC provider's `client_secret`; later webhook and SP keys)
//! are stored sealed: XChaCha20-Poly1305 with a random 24-byte nonce, under a 32-byte key kept
//! outside the database (a file in the data directory, or configuration).
//!
//! Sealed text: `enc:v1:` followed by the hex of nonce ‖ ciphertext ‖ tag. A value without that
//! prefix is a secret stored in clear by an earlier release; [`SecretKey::open`] still reads it,
//! and [`crate::Roster::seal_stored_secrets`] seals every such value once at start-up.

use crate::secret::Secret;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use std::fmt;

const PREFIX: &str = "enc:v1:";
/// What sealed text starts with.
pub const SEALED_PREFIX: &str = PREFIX;
const NONCE_LEN: usize = 24;

/// The key that seals stored secrets. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the secret key must be 64 hexadecimal characters (32 bytes)")]
    BadKey,
    #[error("the stored secret cannot be opened with this key (a different secret key?)")]
    CannotOpen,
    #[error("no randomness available: {0}")]
    NoRandomness(String),
}

/// A secret as stored: sealed, or (from before sealing) in clear. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sealed(String);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_sealed() {
            "Sealed(<sealed>)"
        } else {
            "Sealed(<clear, to be sealed>)"
        })
    }
}

impl Sealed {
    /// The stored text, as read from the database.
    pub fn from_stored(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The text to store.
    pub fn stored(&self) -> &str {
        &self.0
    }
    /// Whether the value is sealed (not a legacy clear value).
    pub fn is_sealed(&self) -> bool {
        self.0.starts_with(PREFIX)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key from 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<Self, SealError> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut b).map_err(|_| SealError::BadKey)?;
        Ok(Self(b))
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, SealError> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| SealError::NoRandomness(e.to_string()))?;
        Ok(Self(b))
    }

    /// The key as 64 hex characters (to write to its file).
    pub fn to_hex(&self) -> Secret {
        Secret::new(hex::encode(self.0))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.0))
    }

    pub fn seal(&self, plain: &Secret) -> Result<Sealed, SealError> {
        if plain.is_empty() {
            return Ok(Sealed::default());
        }
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SealError::NoRandomness(e.to_string()))?;
        let ct = self
            .cipher()
            .encrypt(&XNonce::from(nonce), plain.expose().as_bytes())
            .map_err(|_| SealError::CannotOpen)?;
        let mut raw = nonce.to_vec();
        raw.extend(ct);
        Ok(Sealed(format!("{PREFIX}{}", hex::encode(raw))))
    }

    /// The secret itself; a legacy clear value is answered as it is.
    pub fn open(&self, sealed: &Sealed) -> Result<Secret, SealError> {
        let Some(body) = sealed.0.strip_prefix(PREFIX) else {
            return Ok(Secret::new(sealed.0.clone()));
        };
        let raw = hex::decode(body).map_err(|_| SealError::CannotOpen)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::CannotOpen);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(nonce);
        let plain = self
            .cipher()
            .decrypt(&XNonce::from(n), ct)
            .map_err(|_| SealError::CannotOpen)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SealError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_round_trips_and_hides_the_secret() {
        let k = SecretKey::from_bytes([9; 32]);
        let s = k
            .seal(&Secret::new("very-secret-value"))
            .unwrap_or_default();
        assert!(s.is_sealed());
        assert!(!s.stored().contains("very-secret"));
        assert_ne!(
            s,
            k.seal(&Secret::new("very-secret-value"))
                .unwrap_or_default(),
            "a fresh nonce every time"
        );
        assert_eq!(
            k.open(&s).map(|x| x.expose().to_string()),
            Ok("very-secret-value".to_string())
        );
        assert_eq!(
            SecretKey::from_bytes([8; 32]).open(&s).map(|_| ()),
            Err(SealError::CannotOpen)
        );
        assert!(!format!("{s:?} {k:?}").contains("very"));
    }

    #[test]
    fn legacy_clear_values_still_open() {
        let k = SecretKey::from_bytes([1; 32]);
        let legacy = Sealed::from_stored("plain");
        assert!(!legacy.is_sealed());
        assert_eq!(
            k.open(&legacy).map(|x| x.expose().to_string()),
            Ok("plain".into())
        );
    }

    #[test]
    fn keys_are_64_hex_characters() {
        let k = SecretKey::generate().unwrap_or(SecretKey::from_bytes([0; 32]));
        let hex = k.to_hex();
        assert_eq!(hex.expose().len(), 64);
        assert!(SecretKey::from_hex(hex.expose()).is_ok());
        assert_eq!(
            SecretKey::from_hex("abc").map(|_| ()),
            Err(SealError::BadKey)
        );
    }
}
