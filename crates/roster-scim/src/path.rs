//! PATCH paths (RFC 7644 §3.5.2):
//!
//! ```text
//! PATH      = attrPath / valuePath [ subAttr ]
//! attrPath  = [ URI ":" ] ATTRNAME [ "." subAttr ]
//! valuePath = attrPath "[" valFilter "]"            ; attrPath without sub-attribute here
//! ```
//!
//! Examples: `members`, `name.familyName`, `addresses[type eq "work"]`,
//! `members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName`,
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`.
//!
//! Syntax errors are `invalidPath`, except inside the brackets, which are `invalidFilter`.

use std::fmt;

use crate::error::{ScimError, ScimType};
use crate::filter::{AttrPath, Filter, ParseOptions, Parser};
use crate::tolerance::Tolerances;

/// A parsed PATCH path.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute. Its `sub` is set only when there is no value filter (`name.givenName`).
    pub attr: AttrPath,
    /// The value filter (`[type eq "work"]`), relative to the attribute's elements.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`].value`).
    pub sub: Option<String>,
}

impl PatchPath {
    /// The sub-attribute the path ends at, wherever it was written (`name.givenName` or `emails[…].value`).
    pub fn sub_attribute(&self) -> Option<&str> {
        self.sub.as_deref().or(self.attr.sub.as_deref())
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for PatchPath {
    type Err = ScimError;
    fn from_str(s: &str) -> Result<PatchPath, ScimError> {
        parse_path(s)
    }
}

/// Parses a PATCH path with the default (lenient) filter options.
pub fn parse_path(input: &str) -> Result<PatchPath, ScimError> {
    parse_path_with(input, &ParseOptions::default()).map(|(p, _)| p)
}

/// Parses a PATCH path with explicit options, reporting the tolerances used inside its filter.
pub fn parse_path_with(
    input: &str,
    options: &ParseOptions,
) -> Result<(PatchPath, Tolerances), ScimError> {
    let mut p = Parser::new(input, options, ScimType::InvalidPath)?;
    let (attr, filter, sub) = p.parse_patch_path()?;
    Ok((PatchPath { attr, filter, sub }, p.tolerances))
}
