//! SCIM filters (RFC 7644 §3.4.2.2): the AST, the parser, `Display` and the evaluator.
//!
//! # Grammar
//!
//! The parser is hand-written recursive descent over this grammar (RFC 7644 §3.4.2.2 ABNF, with
//! precedence made explicit; keywords, operators and attribute names are case-insensitive):
//!
//! ```text
//! filter     = orExp
//! orExp      = andExp *( SP "or" SP andExp )                 ; lowest precedence
//! andExp     = unary  *( SP "and" SP unary )
//! unary      = "not" *SP "(" orExp ")"                       ; "not" needs parentheses (RFC)
//!            / "(" orExp ")"
//!            / valuePath
//!            / attrExp
//! valuePath  = attrPath "[" valFilter "]"
//!              [ "." subAttr SP ( "pr" / compareOp SP compValue ) ]   ; (*1)
//! valFilter  = orExp                                         ; no nested "[" ... "]"
//! attrExp    = attrPath SP "pr"
//!            / attrPath SP compareOp SP compValue
//! compareOp  = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "lt" / "ge" / "le"
//! compValue  = "false" / "null" / "true" / number / string   ; JSON (RFC 8259) literals
//!            / bareWord                                      ; (*2)
//! attrPath   = [ URI ":" ] ATTRNAME [ "." subAttr ]          ; URI = everything before the last ":"
//! ATTRNAME   = ( ALPHA / "$" ) *( ALPHA / DIGIT / "-" / "_" / "$" )
//! subAttr    = ATTRNAME
//! ```
//!
//! Beyond the RFC, both reported through [`crate::tolerance::Tolerance`]:
//! * (*1) a sub-attribute after a value filter, as Entra sends: `emails[type eq "work"].value eq "x"` is
//!   parsed to the same AST as `emails[type eq "work" and value eq "x"]` ("some element is a work e-mail
//!   whose value is x").
//! * (*2) an unquoted string value, as Entra's documentation shows: `externalId eq jyoung`. A bare word that
//!   is not `true`, `false`, `null` or a JSON number is read as a string. [`ParseOptions::strict`] refuses it.
//!
//! Errors are `400 invalidFilter` with a detail naming the character position and what was expected.
//! Limits: [`ParseOptions::max_length`] (characters) and [`ParseOptions::max_depth`] (nesting of
//! parentheses, `not` and value filters).
//!
//! # AST
//!
//! [`Filter`] is meant to be compiled elsewhere (SQL). `And`/`Or` are n-ary (at least two children);
//! parentheses leave no node. Inside [`Filter::ValuePath`] the paths are relative to the element (`type`,
//! `value`). Attribute names keep the case they were written in; resolve them with
//! [`crate::schema::ResourceContext::resolve`].
//!
//! [`resolve`] checks a filter against a resource type and returns it in canonical form (canonical names,
//! extension URNs explicit, `value` explicit on complex comparisons): the input a SQL compiler wants.
//!
//! `Display` prints a canonical filter that parses back to an equal AST (`parse(f.to_string()) == f`).

mod eval;
pub(crate) mod parser;
mod resolve;

use std::fmt;

use serde_json::Number;

pub use eval::{eval, eval_element};
pub(crate) use parser::Parser;
pub use resolve::resolve;

use crate::error::ScimError;
use crate::tolerance::Tolerances;

/// An attribute path: optional schema URN, attribute name, optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix (`urn:ietf:params:scim:schemas:core:2.0:User`), without the trailing `:`.
    pub urn: Option<String>,
    /// Attribute name as written.
    pub attr: String,
    /// Sub-attribute name as written.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A plain attribute path without URN or sub-attribute.
    pub fn new(attr: impl Into<String>) -> AttrPath {
        AttrPath {
            urn: None,
            attr: attr.into(),
            sub: None,
        }
    }

    /// `attr.sub`.
    pub fn with_sub(attr: impl Into<String>, sub: impl Into<String>) -> AttrPath {
        AttrPath {
            urn: None,
            attr: attr.into(),
            sub: Some(sub.into()),
        }
    }

    /// Parses a bare attribute path (`name.familyName`, `urn:…:User:manager`, `meta.lastModified`).
    /// Errors are `invalidPath`.
    pub fn parse(s: &str) -> Result<AttrPath, ScimError> {
        parser::attr_path_from_token(s.trim()).map_err(ScimError::invalid_path)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains (strings).
    Co,
    /// `sw`: starts with (strings).
    Sw,
    /// `ew`: ends with (strings).
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// The lower-case keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Every comparison operator of RFC 7644 §3.4.2.2.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// Parses a keyword, case-insensitively.
    pub fn from_keyword(s: &str) -> Option<CompareOp> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// `true` for `gt`, `ge`, `lt`, `le`.
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// `true` for `co`, `sw`, `ew`.
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison value (a JSON literal).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A string (quoted, or an unquoted bare word).
    String(String),
}

impl CompValue {
    /// As a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            CompValue::Null => serde_json::Value::Null,
            CompValue::Bool(b) => serde_json::Value::Bool(*b),
            CompValue::Number(n) => serde_json::Value::Number(n.clone()),
            CompValue::String(s) => serde_json::Value::String(s.clone()),
        }
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => {
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
        }
    }
}

/// A parsed filter. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Conjunction of at least two filters.
    And(Vec<Filter>),
    /// Disjunction of at least two filters.
    Or(Vec<Filter>),
    /// Negation.
    Not(Box<Filter>),
    /// `path op value`.
    Compare {
        /// The attribute path.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The value.
        value: CompValue,
    },
    /// `path pr`.
    Present {
        /// The attribute path.
        path: AttrPath,
    },
    /// `path[filter]`: some element of the (multi-valued, complex) attribute matches `filter`, whose paths
    /// are relative to the element.
    ValuePath {
        /// The attribute (no sub-attribute).
        path: AttrPath,
        /// The element filter.
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Shorthand for `Compare`.
    pub fn compare(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { path, op, value }
    }

    /// Nesting depth of the tree (a comparison is 1).
    pub fn depth(&self) -> usize {
        match self {
            Filter::And(v) | Filter::Or(v) => 1 + v.iter().map(Filter::depth).max().unwrap_or(0),
            Filter::Not(f) | Filter::ValuePath { filter: f, .. } => 1 + f.depth(),
            Filter::Compare { .. } | Filter::Present { .. } => 1,
        }
    }

    /// Calls `f` on every attribute path in the filter (value-path inner paths are relative).
    pub fn visit_paths<'a>(&'a self, f: &mut dyn FnMut(&'a AttrPath, bool)) {
        self.visit_inner(f, false);
    }

    fn visit_inner<'a>(&'a self, f: &mut dyn FnMut(&'a AttrPath, bool), inner: bool) {
        match self {
            Filter::And(v) | Filter::Or(v) => v.iter().for_each(|x| x.visit_inner(f, inner)),
            Filter::Not(x) => x.visit_inner(f, inner),
            Filter::Compare { path, .. } | Filter::Present { path } => f(path, inner),
            Filter::ValuePath { path, filter } => {
                f(path, inner);
                filter.visit_inner(f, true);
            }
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Or(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    if matches!(item, Filter::Or(_)) {
                        write!(f, "({item})")?;
                    } else {
                        write!(f, "{item}")?;
                    }
                }
                Ok(())
            }
            Filter::And(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    if matches!(item, Filter::Or(_) | Filter::And(_)) {
                        write!(f, "({item})")?;
                    } else {
                        write!(f, "{item}")?;
                    }
                }
                Ok(())
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present { path } => write!(f, "{path} pr"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

impl std::str::FromStr for Filter {
    type Err = ScimError;
    fn from_str(s: &str) -> Result<Filter, ScimError> {
        parse(s)
    }
}

/// Parser limits and leniency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Maximum input length in characters (default 4096).
    pub max_length: usize,
    /// Maximum nesting of parentheses, `not` and value filters (default 32).
    pub max_depth: usize,
    /// Accept Entra's unquoted string values (`externalId eq jyoung`). Default `true`.
    pub allow_unquoted_values: bool,
    /// Accept a sub-attribute after a value filter (`emails[type eq "work"].value eq "x"`). Default `true`.
    pub allow_sub_attribute_after_value_filter: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_length: 4096,
            max_depth: 32,
            allow_unquoted_values: true,
            allow_sub_attribute_after_value_filter: true,
        }
    }
}

impl ParseOptions {
    /// RFC 7644 only: no unquoted values, no sub-attribute after a value filter.
    pub fn strict() -> ParseOptions {
        ParseOptions {
            allow_unquoted_values: false,
            allow_sub_attribute_after_value_filter: false,
            ..Default::default()
        }
    }
}

/// A parsed filter plus the tolerances the parser used.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFilter {
    /// The filter.
    pub filter: Filter,
    /// Non-standard syntax that was accepted.
    pub tolerances: Tolerances,
}

/// Parses a filter with the default (lenient) options.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    parse_with(input, &ParseOptions::default()).map(|p| p.filter)
}

/// Parses a filter with explicit options, reporting the tolerances used.
pub fn parse_with(input: &str, options: &ParseOptions) -> Result<ParsedFilter, ScimError> {
    let mut p = Parser::new(input, options, crate::error::ScimType::InvalidFilter)?;
    let filter = p.parse_filter_to_end()?;
    Ok(ParsedFilter {
        filter,
        tolerances: p.tolerances,
    })
}
