//! Store and domain errors as SCIM errors.

use super::*;

/// What a store failure means to a SCIM client (`?` converts).
impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> ScimError {
        match e {
            StoreError::NotFound => ScimError::not_found("Resource not found"),
            StoreError::VersionMismatch => ScimError::precondition_failed(
                "The resource changed while this request ran: read it again and retry",
            ),
            StoreError::UnsupportedFilter(m) => ScimError::invalid_filter(m),
            StoreError::Conflict(c) => conflict(c, ""),
            StoreError::Busy(m) => busy(&m),
            e @ (StoreError::Other(_) | StoreError::Database { .. }) => {
                tracing::error!(cause = %crate::error::chain(&e), "storage error in SCIM request");
                ScimError::internal("Internal server error")
            }
        }
    }
}

pub(super) fn conflict(c: Conflict, value: &str) -> ScimError {
    match c {
        Conflict::UserEmail => ScimError::uniqueness(format!(
            "A user with userName \"{value}\" already exists in this account"
        )),
        Conflict::TeamName => ScimError::uniqueness(format!(
            "A group with displayName \"{value}\" already exists in this account"
        )),
        other => ScimError::uniqueness(other.describe().1),
    }
}

pub(super) fn core_err(e: CoreError) -> ScimError {
    match e {
        CoreError::Unauthenticated(f) => ScimError::unauthorized(f.message()),
        CoreError::Forbidden(m) => ScimError::forbidden(m),
        CoreError::NotFound(what) => ScimError::not_found(format!("{what} not found")),
        CoreError::Validation(f) => ScimError::invalid_value(f.to_string()),
        CoreError::Conflict { message, .. } => ScimError::uniqueness(message),
        CoreError::PreconditionFailed => {
            ScimError::precondition_failed("The resource changed: read it again")
        }
        CoreError::Unavailable(m) => busy(&m),
        CoreError::Throttled(secs) => ScimError::new(
            429,
            format!("Too many failed attempts: try again in {secs} seconds"),
        ),
        CoreError::Internal(m) => {
            tracing::error!(cause = %m, "internal error in SCIM request");
            ScimError::internal("Internal server error")
        }
    }
}

/// Why an operation did not complete, as the service acts on it. Each carries the error the
/// client hears; what differs is what the service does about it.
#[derive(Debug)]
pub(in crate::scim) enum Failure {
    /// The resource changed between the operation's read and its write: computed again
    /// (without `If-Match`), else answered.
    Stale(ScimError),
    /// No database connection came free in time, or it broke. Never written to the provisioning log: that
    /// would wait again for the connection that was not there, delaying the answer and adding to
    /// the load. The server log has it (see [`busy`]).
    Busy(ScimError),
    /// Anything else: answered, and logged.
    Answer(ScimError),
}

impl Failure {
    pub(in crate::scim) fn error(&self) -> &ScimError {
        match self {
            Failure::Stale(e) | Failure::Busy(e) | Failure::Answer(e) => e,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        match e {
            StoreError::VersionMismatch => Failure::Stale(ScimError::from(e)),
            StoreError::Busy(_) => Failure::Busy(ScimError::from(e)),
            other => Failure::Answer(ScimError::from(other)),
        }
    }
}

impl From<ScimError> for Failure {
    fn from(e: ScimError) -> Failure {
        Failure::Answer(e)
    }
}

impl From<Failure> for ScimError {
    fn from(f: Failure) -> ScimError {
        match f {
            Failure::Stale(e) | Failure::Busy(e) | Failure::Answer(e) => e,
        }
    }
}

pub(super) fn busy(cause: &str) -> ScimError {
    tracing::warn!(%cause, "SCIM request refused: the store is busy");
    ScimError::unavailable(
        "The directory is busy or briefly cannot reach its database: retry after the Retry-After delay",
    )
}
