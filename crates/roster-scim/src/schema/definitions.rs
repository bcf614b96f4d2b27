//! The RFC 7643 §8.7.1 / §8.7.2 schema definitions, written with a small builder.
//!
//! Deviations from the RFC's schema listing, each deliberate:
//! * Group `displayName` is `required: true` (RFC 7643 §4.2 text says REQUIRED, the §8.7.1 listing says
//!   false) and `uniqueness: server` (Entra requires unique group display names).
//! * Group `members` has a `display` sub-attribute (used by every RFC example and sent by Entra and Okta).
//! * Group `members.value` is `caseExact: true`: it holds a resource `id`, which is case-exact.

use super::{
    AttributeDef, AttributeType as T, Mutability as M, Returned as R, Schema, Uniqueness as U,
};
use crate::urn;

fn attr(name: &str, kind: T, description: &str) -> AttributeDef {
    let mut a = AttributeDef::new(name, kind);
    a.description = description.to_owned();
    a
}

fn string(name: &str, description: &str) -> AttributeDef {
    attr(name, T::String, description)
}

trait Build: Sized {
    fn with(self, f: impl FnOnce(&mut AttributeDef)) -> AttributeDef;
    fn multi(self) -> AttributeDef {
        self.with(|a| a.multi_valued = true)
    }
    fn required(self) -> AttributeDef {
        self.with(|a| a.required = true)
    }
    fn case_exact(self) -> AttributeDef {
        self.with(|a| a.case_exact = true)
    }
    fn mutability(self, m: M) -> AttributeDef {
        self.with(|a| a.mutability = m)
    }
    fn returned(self, r: R) -> AttributeDef {
        self.with(|a| a.returned = r)
    }
    fn unique(self, u: U) -> AttributeDef {
        self.with(|a| a.uniqueness = u)
    }
    fn canonical(self, values: &[&str]) -> AttributeDef {
        self.with(|a| a.canonical_values = values.iter().map(|s| (*s).to_owned()).collect())
    }
    fn refs(self, types: &[&str]) -> AttributeDef {
        self.with(|a| a.reference_types = types.iter().map(|s| (*s).to_owned()).collect())
    }
    fn subs(self, subs: Vec<AttributeDef>) -> AttributeDef {
        self.with(|a| a.sub_attributes = subs)
    }
}

impl Build for AttributeDef {
    fn with(mut self, f: impl FnOnce(&mut AttributeDef)) -> AttributeDef {
        f(&mut self);
        self
    }
}

/// The sub-attributes shared by the RFC's plural attributes (`value`, `display`, `type`, `primary`).
fn plural(name: &str, description: &str, value: AttributeDef, types: &[&str]) -> AttributeDef {
    let mut subs = vec![
        value,
        string(
            "display",
            "A human-readable name, primarily used for display purposes.",
        )
        .mutability(M::ReadWrite),
        string("type", "A label indicating the attribute's function.").canonical(types),
        attr(
            "primary",
            T::Boolean,
            "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
        ),
    ];
    if types.is_empty() {
        subs[2].canonical_values.clear();
    }
    attr(name, T::Complex, description).multi().subs(subs)
}

/// The common attributes of RFC 7643 §3.1 (`id`, `externalId`, `meta`) and the `schemas` attribute.
pub fn common_attributes() -> Vec<AttributeDef> {
    vec![
        string("id", "A unique identifier for a SCIM resource as defined by the service provider.")
            .case_exact()
            .mutability(M::ReadOnly)
            .returned(R::Always)
            .unique(U::Server),
        string("externalId", "A String that is an identifier for the resource as defined by the provisioning client.")
            .case_exact(),
        attr("meta", T::Complex, "A complex attribute containing resource metadata.")
            .mutability(M::ReadOnly)
            .subs(vec![
                string("resourceType", "The name of the resource type of the resource.")
                    .case_exact()
                    .mutability(M::ReadOnly),
                attr("created", T::DateTime, "The DateTime that the resource was added to the service provider.")
                    .mutability(M::ReadOnly),
                attr("lastModified", T::DateTime, "The most recent DateTime that the details of this resource were updated at the service provider.")
                    .mutability(M::ReadOnly),
                attr("location", T::Reference, "The URI of the resource being returned.")
                    .case_exact()
                    .mutability(M::ReadOnly)
                    .refs(&["uri"]),
                string("version", "The version of the resource being returned.")
                    .case_exact()
                    .mutability(M::ReadOnly),
            ]),
        attr("schemas", T::Reference, "The schema URIs the resource conforms to.")
            .multi()
            .required()
            .returned(R::Always)
            .refs(&["uri"]),
    ]
}

/// The core User schema (RFC 7643 §4.1, §8.7.1).
pub fn user_schema() -> Schema {
    let attributes = vec![
        string("userName", "Unique identifier for the User, typically used by the user to directly authenticate to the service provider. REQUIRED.")
            .required()
            .unique(U::Server),
        attr("name", T::Complex, "The components of the user's real name.").subs(vec![
            string("formatted", "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
            string("familyName", "The family name of the User, or last name in most Western languages."),
            string("givenName", "The given name of the User, or first name in most Western languages."),
            string("middleName", "The middle name(s) of the User."),
            string("honorificPrefix", "The honorific prefix(es) of the User, or title in most Western languages."),
            string("honorificSuffix", "The honorific suffix(es) of the User, or suffix in most Western languages."),
        ]),
        string("displayName", "The name of the User, suitable for display to end-users."),
        string("nickName", "The casual way to address the user in real life."),
        attr("profileUrl", T::Reference, "A fully qualified URL pointing to a page representing the User's online profile.")
            .refs(&["external"]),
        string("title", "The user's title, such as \"Vice President.\""),
        string("userType", "Used to identify the relationship between the organization and the user."),
        string("preferredLanguage", "Indicates the User's preferred written or spoken language."),
        string("locale", "Used to indicate the User's default location for purposes of localizing items such as currency."),
        string("timezone", "The User's time zone in the 'Olson' time zone database format."),
        attr("active", T::Boolean, "A Boolean value indicating the User's administrative status."),
        string("password", "The User's cleartext password.")
            .mutability(M::WriteOnly)
            .returned(R::Never),
        plural("emails", "Email addresses for the user.", string("value", "Email addresses for the user."), &["work", "home", "other"]),
        plural(
            "phoneNumbers",
            "Phone numbers for the User.",
            string("value", "Phone number of the User."),
            &["work", "home", "mobile", "fax", "pager", "other"],
        ),
        plural(
            "ims",
            "Instant messaging addresses for the User.",
            string("value", "Instant messaging address for the User."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
        ),
        plural(
            "photos",
            "URLs of photos of the User.",
            attr("value", T::Reference, "URL of a photo of the User.").refs(&["external"]),
            &["photo", "thumbnail"],
        ),
        attr("addresses", T::Complex, "A physical mailing address for this User.").multi().subs(vec![
            string("formatted", "The full mailing address, formatted for display or use with a mailing label."),
            string("streetAddress", "The full street address component."),
            string("locality", "The city or locality component."),
            string("region", "The state or region component."),
            string("postalCode", "The zip code or postal code component."),
            string("country", "The country name component."),
            string("type", "A label indicating the attribute's function.").canonical(&["work", "home", "other"]),
            attr("primary", T::Boolean, "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
        ]),
        attr("groups", T::Complex, "A list of groups to which the user belongs.")
            .multi()
            .mutability(M::ReadOnly)
            .subs(vec![
                string("value", "The identifier of the User's group.").mutability(M::ReadOnly),
                attr("$ref", T::Reference, "The URI of the corresponding 'Group' resource to which the user belongs.")
                    .mutability(M::ReadOnly)
                    .refs(&["User", "Group"]),
                string("display", "A human-readable name, primarily used for display purposes.").mutability(M::ReadOnly),
                string("type", "A label indicating the attribute's function.")
                    .mutability(M::ReadOnly)
                    .canonical(&["direct", "indirect"]),
            ]),
        plural("entitlements", "A list of entitlements for the User.", string("value", "The value of an entitlement."), &[]),
        plural("roles", "A list of roles for the User.", string("value", "The value of a role."), &[]),
        plural(
            "x509Certificates",
            "A list of certificates issued to the User.",
            attr("value", T::Binary, "The value of an X.509 certificate.").case_exact(),
            &[],
        ),
    ];
    Schema {
        id: urn::USER.into(),
        name: "User".into(),
        description: "User Account".into(),
        attributes,
    }
}

/// The core Group schema (RFC 7643 §4.2, §8.7.1).
pub fn group_schema() -> Schema {
    let attributes = vec![
        string(
            "displayName",
            "A human-readable name for the Group. REQUIRED.",
        )
        .required()
        .unique(U::Server),
        attr("members", T::Complex, "A list of members of the Group.")
            .multi()
            .subs(vec![
                string("value", "Identifier of the member of this Group.")
                    .case_exact()
                    .mutability(M::Immutable),
                attr(
                    "$ref",
                    T::Reference,
                    "The URI corresponding to a SCIM resource that is a member of this Group.",
                )
                .mutability(M::Immutable)
                .refs(&["User", "Group"]),
                string("display", "A human-readable name for the member.").mutability(M::Immutable),
                string(
                    "type",
                    "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                )
                .mutability(M::Immutable)
                .canonical(&["User", "Group"]),
            ]),
    ];
    Schema {
        id: urn::GROUP.into(),
        name: "Group".into(),
        description: "Group".into(),
        attributes,
    }
}

/// The Enterprise User extension (RFC 7643 §4.3, §8.7.1).
pub fn enterprise_user_schema() -> Schema {
    let attributes = vec![
        string(
            "employeeNumber",
            "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.",
        ),
        string("costCenter", "Identifies the name of a cost center."),
        string("organization", "Identifies the name of an organization."),
        string("division", "Identifies the name of a division."),
        string("department", "Identifies the name of a department."),
        attr("manager", T::Complex, "The User's manager.").subs(vec![
            string(
                "value",
                "The id of the SCIM resource representing the User's manager.",
            ),
            attr(
                "$ref",
                T::Reference,
                "The URI of the SCIM resource representing the User's manager.",
            )
            .refs(&["User"]),
            string("displayName", "The displayName of the User's manager.").mutability(M::ReadOnly),
        ]),
    ];
    Schema {
        id: urn::ENTERPRISE_USER.into(),
        name: "EnterpriseUser".into(),
        description: "Enterprise User".into(),
        attributes,
    }
}
