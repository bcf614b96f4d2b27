//! The domain's error type. Front ends render it once per wire format.

use crate::store::StoreError;
use std::fmt;

/// Validation problems keyed by field name (`"non_field_errors"` for the whole object),
/// in the order they were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(())` when nothing was recorded, the validation error otherwise.
    pub fn into_result(self) -> Result<(), CoreError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Validation(self))
        }
    }
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> CoreError {
        let mut e = Self::new();
        e.add(field, message);
        CoreError::Validation(e)
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{k}: {v}")?;
        }
        Ok(())
    }
}

/// Why authentication failed. Every variant answers 401. A key that was sent but does not work
/// (unknown, expired, its user or account inactive) answers one message, so a holder cannot tell
/// which; the server log says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    BadScheme,
    Invalid,
    Expired,
    InactiveUser,
    /// A console sign-in whose email and password do not fit (the same for an unknown email).
    SignIn,
    /// A console session whose password fit, still waiting for its two-factor code.
    SecondFactor,
    /// A console session whose password fit, whose user must first set up two-factor sign-in.
    Enroll,
    /// A two-factor code that does not fit.
    Code,
}

impl AuthFailure {
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "Authentication credentials were not provided.",
            Self::BadScheme => {
                "Invalid Authorization header: use 'Authorization: Token <personal token>' (or 'Bearer <personal token>')."
            }
            Self::Invalid | Self::Expired | Self::InactiveUser => "Invalid token.",
            Self::SignIn => "Wrong email or password.",
            Self::SecondFactor => {
                "Sign-in is not finished: enter the code from your authenticator app."
            }
            Self::Enroll => {
                "Sign-in is not finished: your account requires two-factor sign-in; set it up first."
            }
            Self::Code => {
                "That code does not fit. Enter the current code from your authenticator app, or a recovery code."
            }
        }
    }

    /// A short name for logs and samples.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::BadScheme => "bad_scheme",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::InactiveUser => "inactive",
            Self::SignIn => "sign_in",
            Self::SecondFactor => "second_factor",
            Self::Enroll => "enroll",
            Self::Code => "code",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    Validation(FieldErrors),
    #[error("{}", .0.message())]
    Unauthenticated(AuthFailure),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found.")]
    NotFound(&'static str),
    /// A uniqueness rule was broken: `field` names the attribute, `message` says which rule.
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    /// The resource changed since the caller read it (version check failed).
    #[error("The resource was modified concurrently; read it again and retry.")]
    PreconditionFailed,
    /// Too many failed attempts: retry after this many seconds (429 with `Retry-After`).
    #[error("Too many failed attempts: try again in {0} seconds.")]
    Throttled(i64),
    /// Overloaded for now (the store had no connection free in time): 503 with `Retry-After`.
    #[error("The service is busy; retry shortly.")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn forbidden() -> Self {
        Self::Forbidden("You do not have permission to perform this action.".into())
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => CoreError::NotFound("Resource"),
            StoreError::VersionMismatch => CoreError::PreconditionFailed,
            StoreError::Conflict(c) => {
                let (field, message) = c.describe();
                CoreError::Conflict {
                    field,
                    message: message.to_string(),
                }
            }
            StoreError::UnsupportedFilter(m) => FieldErrors::single("filter", m),
            StoreError::Busy(m) => CoreError::Unavailable(m),
            e @ (StoreError::Other(_) | StoreError::Database { .. }) => {
                CoreError::Internal(chain(&e))
            }
        }
    }
}

/// An error and its sources, `outer: inner: innermost`, for the server log.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}
