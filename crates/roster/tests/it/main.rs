//! End-to-end tests of the `roster` binary.
