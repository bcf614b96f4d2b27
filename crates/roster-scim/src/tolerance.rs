//! Non-standard inputs this crate accepts, and reports when it does.
//!
//! Entra ID (both PATCH dialects, with and without `aadOptscim062020`) and Okta send requests that
//! RFC 7644 does not allow. Roster accepts them, and every function that does so reports the rule it used
//! so the provisioning log can show "why this worked" and a strict mode can refuse it.

use serde::{Deserialize, Serialize};

/// One non-standard tolerance. Serialised as its camelCase name (`booleanAsString`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Tolerance {
    /// A filter compared against an unquoted string (`externalId eq jyoung`; Entra doc example).
    UnquotedFilterValue,
    /// A filter put a sub-attribute after a value filter (`emails[type eq "work"].value eq "x"`); read as
    /// `emails[type eq "work" and value eq "x"]`.
    SubAttributeAfterValueFilter,
    /// A PATCH `op` (or another structural key) not in lower case (`"Replace"`; Entra default dialect).
    OpNameCase,
    /// A boolean sent as the string `"True"` / `"False"` (Entra default dialect).
    BooleanAsString,
    /// A path-less `add`/`replace` whose value object has dotted or URN-qualified keys
    /// (`{"name.givenName": …}`; Entra `aadOptscim062020` dialect).
    PathlessDottedKey,
    /// `remove` of a multi-valued attribute with a `value` list removed only the listed values
    /// (`{"op":"Remove","path":"members","value":[{"value":"u1"}]}`; Entra default dialect).
    RemoveWithValue,
    /// A complex single-valued attribute (the enterprise `manager`) sent as a bare string id.
    ComplexAsString,
    /// A complex single-valued attribute sent as a one-element array (`"manager": [{"value": …}]`).
    SingleValueAsArray,
    /// A single value where an array was expected (`"value": {"value": "u1"}` for `members`).
    ScalarForMultiValued,
    /// `add`/`replace` on a value-filtered path with no matching element created the element
    /// (`emails[type eq "work"].value`; Entra).
    UpsertOnFilteredPath,
    /// `replace` with `""` cleared the attribute (Entra gallery validation; `manager` = `""`). (`null` clears
    /// too, but that is RFC 7643 §2.5: null is "unassigned".)
    EmptyValueClears,
    /// An attribute this server does not know was ignored (unknown custom extension attributes).
    UnknownAttributeIgnored,
    /// A read-only attribute written with its current value (Okta sends the group `id` in a path-less
    /// replace), or a read-only sub-attribute / `meta` in a value, was ignored.
    ReadOnlyIgnored,
    /// `remove` on a value filter that matched nothing did nothing (RFC: `noTarget`).
    RemoveNoMatch,
    /// A number or boolean was given where a string attribute was expected and was converted.
    ScalarCoercedToString,
}

impl Tolerance {
    /// The camelCase name used in logs and in serialisation.
    pub fn name(self) -> &'static str {
        match self {
            Tolerance::UnquotedFilterValue => "unquotedFilterValue",
            Tolerance::SubAttributeAfterValueFilter => "subAttributeAfterValueFilter",
            Tolerance::OpNameCase => "opNameCase",
            Tolerance::BooleanAsString => "booleanAsString",
            Tolerance::PathlessDottedKey => "pathlessDottedKey",
            Tolerance::RemoveWithValue => "removeWithValue",
            Tolerance::ComplexAsString => "complexAsString",
            Tolerance::SingleValueAsArray => "singleValueAsArray",
            Tolerance::ScalarForMultiValued => "scalarForMultiValued",
            Tolerance::UpsertOnFilteredPath => "upsertOnFilteredPath",
            Tolerance::EmptyValueClears => "emptyValueClears",
            Tolerance::UnknownAttributeIgnored => "unknownAttributeIgnored",
            Tolerance::ReadOnlyIgnored => "readOnlyIgnored",
            Tolerance::RemoveNoMatch => "removeNoMatch",
            Tolerance::ScalarCoercedToString => "scalarCoercedToString",
        }
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A small ordered set of tolerances (insertion order, no duplicates).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tolerances(Vec<Tolerance>);

impl Tolerances {
    /// An empty set.
    pub fn new() -> Tolerances {
        Tolerances(Vec::new())
    }
    /// Records a tolerance (once).
    pub fn add(&mut self, t: Tolerance) {
        if !self.0.contains(&t) {
            self.0.push(t);
        }
    }
    /// Records every tolerance of `other`.
    pub fn extend(&mut self, other: &Tolerances) {
        for t in &other.0 {
            self.add(*t);
        }
    }
    /// Whether `t` was used.
    pub fn contains(&self, t: Tolerance) -> bool {
        self.0.contains(&t)
    }
    /// Whether none was used.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The tolerances, in the order they were first used.
    pub fn as_slice(&self) -> &[Tolerance] {
        &self.0
    }
    /// Iterates the tolerances.
    pub fn iter(&self) -> impl Iterator<Item = Tolerance> + '_ {
        self.0.iter().copied()
    }
}
