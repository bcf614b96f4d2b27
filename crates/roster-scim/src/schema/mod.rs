//! Schemas (RFC 7643 §2, §7, §8.7): attribute definitions with every characteristic, the User, Group and
//! EnterpriseUser schemas, resource types, and a [`SchemaRegistry`] that can also hold extensions loaded from
//! JSON.
//!
//! Attribute lookups are case-insensitive (`name.FamilyName`, `Emails`, `Manager` all resolve) and return the
//! canonical definition, whose `name` is the canonical camelCase spelling.
//!
//! A [`ResourceContext`] (one resource type within a registry) is what the filter evaluator, the PATCH engine
//! and the projection take: obtain one with [`SchemaRegistry::context`].

mod definitions;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::ScimError;
use crate::filter::AttrPath;
use crate::urn;

pub use definitions::{common_attributes, enterprise_user_schema, group_schema, user_schema};

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttributeType {
    /// A sequence of characters.
    String,
    /// `true` or `false`.
    Boolean,
    /// A real number.
    Decimal,
    /// A whole number.
    Integer,
    /// An `xsd:dateTime` (RFC 3339) string.
    DateTime,
    /// Base64-encoded bytes.
    Binary,
    /// A URI reference.
    Reference,
    /// A container of sub-attributes.
    Complex,
}

/// RFC 7643 §2.2 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    /// Not modifiable by clients.
    ReadOnly,
    /// Freely modifiable.
    #[default]
    ReadWrite,
    /// May be set once (when it has no value), then not changed.
    Immutable,
    /// May be written but is never returned (passwords).
    WriteOnly,
}

/// RFC 7643 §2.2 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    /// Always returned, whatever `attributes` / `excludedAttributes` say.
    Always,
    /// Never returned.
    Never,
    /// Returned unless excluded (or unless `attributes` names others).
    #[default]
    Default,
    /// Returned only when named in `attributes`.
    Request,
}

/// RFC 7643 §2.2 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    /// No uniqueness constraint.
    #[default]
    None,
    /// Unique within the service provider (tenant).
    Server,
    /// Globally unique.
    Global,
}

/// One attribute definition with all RFC 7643 §2.2 / §7 characteristics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    /// Canonical name (camelCase; `$ref` for references).
    pub name: String,
    /// Data type.
    #[serde(rename = "type")]
    pub kind: AttributeType,
    /// Whether the value is an array.
    #[serde(default)]
    pub multi_valued: bool,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether the attribute is required.
    #[serde(default)]
    pub required: bool,
    /// Whether string comparisons are case-sensitive.
    #[serde(default)]
    pub case_exact: bool,
    /// Mutability characteristic.
    #[serde(default)]
    pub mutability: Mutability,
    /// Returned characteristic.
    #[serde(default)]
    pub returned: Returned,
    /// Uniqueness characteristic.
    #[serde(default)]
    pub uniqueness: Uniqueness,
    /// Suggested values (e.g. `work`, `home`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    /// For references: the resource types it may point to (`User`, `Group`, `external`, `uri`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    /// For complex attributes: the sub-attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    /// A single-valued, optional, read-write, case-insensitive attribute of the given type.
    pub fn new(name: &str, kind: AttributeType) -> AttributeDef {
        AttributeDef {
            name: name.to_owned(),
            kind,
            multi_valued: false,
            description: String::new(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    /// Looks a sub-attribute up by name, case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// `true` for complex attributes.
    pub fn is_complex(&self) -> bool {
        self.kind == AttributeType::Complex
    }

    /// The RFC 7643 §7 JSON representation (as served by `/Schemas`): camelCase values, no nulls, and the
    /// `subAttributes`, `canonicalValues` and `referenceTypes` keys only where they apply.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.kind));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if !self.is_complex() {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        m.insert("mutability".into(), json!(self.mutability));
        m.insert("returned".into(), json!(self.returned));
        if !self.is_complex() {
            m.insert("uniqueness".into(), json!(self.uniqueness));
        }
        if self.is_complex() {
            m.insert(
                "subAttributes".into(),
                Value::Array(
                    self.sub_attributes
                        .iter()
                        .map(AttributeDef::to_json)
                        .collect(),
                ),
            );
        }
        Value::Object(m)
    }
}

/// A schema (RFC 7643 §7): an id (URN), a name, a description and its attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// The schema URN.
    pub id: String,
    /// Human-readable name (`User`).
    #[serde(default)]
    pub name: String,
    /// Description (`User Account`).
    #[serde(default)]
    pub description: String,
    /// Top-level attributes.
    #[serde(default)]
    pub attributes: Vec<AttributeDef>,
}

impl Schema {
    /// Looks a top-level attribute up by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Parses an RFC 7643 §7 schema representation (e.g. one entry of a `/Schemas` response).
    pub fn from_json(value: &Value) -> Result<Schema, ScimError> {
        Schema::deserialize(value)
            .map_err(|e| ScimError::invalid_syntax(format!("invalid schema definition: {e}")))
    }

    /// The `/Schemas/{id}` representation; `location` is the absolute URL of that endpoint, if known.
    pub fn to_json(&self, location: Option<&str>) -> Value {
        let mut meta = Map::new();
        meta.insert("resourceType".into(), json!("Schema"));
        if let Some(loc) = location {
            meta.insert("location".into(), json!(loc));
        }
        json!({
            "schemas": [urn::SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(AttributeDef::to_json).collect::<Vec<_>>(),
            "meta": Value::Object(meta),
        })
    }
}

/// A schema extension declared by a resource type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaExtension {
    /// The extension schema URN.
    pub schema: String,
    /// Whether resources of this type must carry the extension.
    pub required: bool,
}

/// A resource type (RFC 7643 §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceType {
    /// Identifier (`User`).
    pub id: String,
    /// Name (`User`).
    pub name: String,
    /// Endpoint relative to the base URL (`/Users`).
    pub endpoint: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The core schema URN.
    pub schema: String,
    /// Extensions.
    #[serde(default)]
    pub schema_extensions: Vec<SchemaExtension>,
}

impl ResourceType {
    /// The `/ResourceTypes/{id}` representation; `location` is the absolute URL, if known.
    pub fn to_json(&self, location: Option<&str>) -> Value {
        let mut meta = Map::new();
        meta.insert("resourceType".into(), json!("ResourceType"));
        if let Some(loc) = location {
            meta.insert("location".into(), json!(loc));
        }
        json!({
            "schemas": [urn::RESOURCE_TYPE],
            "id": self.id,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema,
            "schemaExtensions": self.schema_extensions,
            "meta": Value::Object(meta),
        })
    }
}

/// The schemas and resource types a server knows.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaRegistry {
    schemas: Vec<Schema>,
    resource_types: Vec<ResourceType>,
    common: Vec<AttributeDef>,
}

impl Default for SchemaRegistry {
    fn default() -> Self {
        SchemaRegistry::core()
    }
}

impl SchemaRegistry {
    /// An empty registry (only the RFC 7643 §3.1 common attributes `id`, `externalId`, `meta`, `schemas`).
    pub fn empty() -> SchemaRegistry {
        SchemaRegistry {
            schemas: Vec::new(),
            resource_types: Vec::new(),
            common: common_attributes(),
        }
    }

    /// User (with the EnterpriseUser extension, optional) and Group, as in RFC 7643 §8.7.
    pub fn core() -> SchemaRegistry {
        let mut r = SchemaRegistry::empty();
        r.schemas.push(user_schema());
        r.schemas.push(group_schema());
        r.schemas.push(enterprise_user_schema());
        r.resource_types.push(ResourceType {
            id: "User".into(),
            name: "User".into(),
            endpoint: "/Users".into(),
            description: "User Account".into(),
            schema: urn::USER.into(),
            schema_extensions: vec![SchemaExtension {
                schema: urn::ENTERPRISE_USER.into(),
                required: false,
            }],
        });
        r.resource_types.push(ResourceType {
            id: "Group".into(),
            name: "Group".into(),
            endpoint: "/Groups".into(),
            description: "Group".into(),
            schema: urn::GROUP.into(),
            schema_extensions: Vec::new(),
        });
        r
    }

    /// Adds (or replaces, by id) a schema.
    pub fn add_schema(&mut self, schema: Schema) {
        match self
            .schemas
            .iter_mut()
            .find(|s| s.id.eq_ignore_ascii_case(&schema.id))
        {
            Some(existing) => *existing = schema,
            None => self.schemas.push(schema),
        }
    }

    /// Parses an RFC 7643 §7 schema from JSON and adds it.
    pub fn add_schema_json(&mut self, value: &Value) -> Result<(), ScimError> {
        self.add_schema(Schema::from_json(value)?);
        Ok(())
    }

    /// Adds (or replaces, by id) a resource type.
    pub fn add_resource_type(&mut self, resource_type: ResourceType) {
        match self
            .resource_types
            .iter_mut()
            .find(|r| r.id.eq_ignore_ascii_case(&resource_type.id))
        {
            Some(existing) => *existing = resource_type,
            None => self.resource_types.push(resource_type),
        }
    }

    /// Declares `schema` as an extension of `resource_type`. Fails with 404 if either is unknown.
    pub fn extend(
        &mut self,
        resource_type: &str,
        schema: &str,
        required: bool,
    ) -> Result<(), ScimError> {
        if self.schema(schema).is_none() {
            return Err(ScimError::not_found(format!("unknown schema {schema}")));
        }
        let rt = self
            .resource_types
            .iter_mut()
            .find(|r| r.id.eq_ignore_ascii_case(resource_type))
            .ok_or_else(|| {
                ScimError::not_found(format!("unknown resource type {resource_type}"))
            })?;
        rt.schema_extensions
            .retain(|e| !e.schema.eq_ignore_ascii_case(schema));
        rt.schema_extensions.push(SchemaExtension {
            schema: schema.to_owned(),
            required,
        });
        Ok(())
    }

    /// All schemas, in registration order.
    pub fn schemas(&self) -> &[Schema] {
        &self.schemas
    }

    /// All resource types, in registration order (User first, then Group, for [`SchemaRegistry::core`]).
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// The common attributes of RFC 7643 §3.1 (`id`, `externalId`, `meta`) and `schemas`.
    pub fn common_attributes(&self) -> &[AttributeDef] {
        &self.common
    }

    /// A schema by URN (case-insensitive). Microsoft's ADSCIM group URI resolves to the core Group schema.
    pub fn schema(&self, id: &str) -> Option<&Schema> {
        let id = canonical_schema_alias(id);
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(id))
    }

    /// A resource type by id, name or endpoint (`User`, `users`, `/Users`), case-insensitively.
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        let bare = name.trim_start_matches('/');
        self.resource_types.iter().find(|r| {
            r.id.eq_ignore_ascii_case(bare)
                || r.name.eq_ignore_ascii_case(bare)
                || r.endpoint
                    .trim_start_matches('/')
                    .eq_ignore_ascii_case(bare)
        })
    }

    /// The context for one resource type (see [`ResourceContext`]), or `None` if it is unknown or its core
    /// schema is missing.
    pub fn context(&self, resource_type: &str) -> Option<ResourceContext<'_>> {
        let rt = self.resource_type(resource_type)?;
        let core = self.schema(&rt.schema)?;
        let extensions = rt
            .schema_extensions
            .iter()
            .filter_map(|e| self.schema(&e.schema).map(|s| (s, e.required)))
            .collect();
        Some(ResourceContext {
            registry: self,
            resource_type: rt,
            core,
            extensions,
        })
    }

    /// `/Schemas` as a ListResponse body.
    pub fn schemas_list_json(&self, base_url: Option<&str>) -> Value {
        let items: Vec<Value> = self
            .schemas
            .iter()
            .map(|s| {
                s.to_json(
                    base_url
                        .map(|b| format!("{}/Schemas/{}", b.trim_end_matches('/'), s.id))
                        .as_deref(),
                )
            })
            .collect();
        list_json(items)
    }

    /// `/ResourceTypes` as a ListResponse body.
    pub fn resource_types_list_json(&self, base_url: Option<&str>) -> Value {
        let items: Vec<Value> = self
            .resource_types
            .iter()
            .map(|r| {
                r.to_json(
                    base_url
                        .map(|b| format!("{}/ResourceTypes/{}", b.trim_end_matches('/'), r.id))
                        .as_deref(),
                )
            })
            .collect();
        list_json(items)
    }
}

fn list_json(items: Vec<Value>) -> Value {
    json!({
        "schemas": [urn::LIST_RESPONSE],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

/// Maps schema URI aliases to the schema they stand for (Microsoft's ADSCIM group URI → core Group).
pub fn canonical_schema_alias(id: &str) -> &str {
    if id.eq_ignore_ascii_case(urn::MS_ADSCIM_GROUP) {
        urn::GROUP
    } else {
        id
    }
}

/// Where an attribute lives in a resource document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container<'a> {
    /// Top level of the document (core schema and common attributes).
    Core,
    /// Inside the object keyed by this extension URN.
    Extension(&'a str),
}

/// A path resolved against a resource type: where the attribute lives, its definition and, for
/// `attr.sub`, the sub-attribute definition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved<'a> {
    /// Where the attribute lives.
    pub container: Container<'a>,
    /// The (top-level) attribute.
    pub attr: &'a AttributeDef,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'a AttributeDef>,
}

impl Resolved<'_> {
    /// The definition the path ends at (the sub-attribute if any).
    pub fn leaf(&self) -> &AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// The canonical path string (`name.givenName`, `urn:…:User:manager`).
    pub fn canonical_path(&self) -> String {
        let mut s = String::new();
        if let Container::Extension(u) = self.container {
            s.push_str(u);
            s.push(':');
        }
        s.push_str(&self.attr.name);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(&sub.name);
        }
        s
    }
}

/// One resource type within a registry: the core schema plus its extensions. Cheap to create.
#[derive(Debug, Clone)]
pub struct ResourceContext<'a> {
    /// The registry.
    pub registry: &'a SchemaRegistry,
    /// The resource type.
    pub resource_type: &'a ResourceType,
    /// Its core schema.
    pub core: &'a Schema,
    /// Its extension schemas, with their `required` flag.
    pub extensions: Vec<(&'a Schema, bool)>,
}

impl<'a> ResourceContext<'a> {
    /// The extension schema with this URN (case-insensitive), if the resource type declares it.
    pub fn extension(&self, id: &str) -> Option<&'a Schema> {
        self.extensions
            .iter()
            .map(|(s, _)| *s)
            .find(|s| s.id.eq_ignore_ascii_case(id))
    }

    /// `true` if `id` names the core schema (or an alias of it) or one of the extensions.
    pub fn knows_schema(&self, id: &str) -> bool {
        let id = canonical_schema_alias(id);
        self.core.id.eq_ignore_ascii_case(id) || self.extension(id).is_some()
    }

    /// Resolves a top-level attribute name: core schema, then common attributes, then (if the name is
    /// unique among them) the extensions.
    pub fn resolve_attr(
        &self,
        urn_prefix: Option<&str>,
        name: &str,
    ) -> Option<(Container<'a>, &'a AttributeDef)> {
        if let Some(u) = urn_prefix {
            let u = canonical_schema_alias(u);
            if self.core.id.eq_ignore_ascii_case(u) {
                return self
                    .core
                    .attribute(name)
                    .or_else(|| {
                        self.registry
                            .common
                            .iter()
                            .find(|a| a.name.eq_ignore_ascii_case(name))
                    })
                    .map(|a| (Container::Core, a));
            }
            let ext = self.extension(u)?;
            return ext
                .attribute(name)
                .map(|a| (Container::Extension(ext.id.as_str()), a));
        }
        if let Some(a) = self.core.attribute(name) {
            return Some((Container::Core, a));
        }
        if let Some(a) = self
            .registry
            .common
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
        {
            return Some((Container::Core, a));
        }
        let mut found = self.extensions.iter().filter_map(|(s, _)| {
            s.attribute(name)
                .map(|a| (Container::Extension(s.id.as_str()), a))
        });
        let first = found.next()?;
        if found.next().is_some() {
            None
        } else {
            Some(first)
        }
    }

    /// Resolves an attribute path (`urn`, `attr`, `sub`) to its definitions. `None` when the attribute or
    /// sub-attribute is unknown, or when a sub-attribute is named on a non-complex attribute.
    pub fn resolve(&self, path: &AttrPath) -> Option<Resolved<'a>> {
        let (container, attr) = self.resolve_attr(path.urn.as_deref(), &path.attr)?;
        let sub = match &path.sub {
            Some(s) => Some(attr.sub_attribute(s)?),
            None => None,
        };
        Some(Resolved {
            container,
            attr,
            sub,
        })
    }

    /// Parses a textual attribute path (`name.givenName`, `urn:…:User:manager`) and resolves it.
    pub fn resolve_str(&self, path: &str) -> Option<Resolved<'a>> {
        let p = AttrPath::parse(path).ok()?;
        self.resolve(&p)
    }

    /// The canonical `schemas` list for a resource of this type: the core URN, then each extension whose
    /// object is present in `resource`. Aliases (Microsoft's group URI) and unknown URNs are dropped.
    pub fn schemas_for(&self, resource: &Value) -> Vec<String> {
        let mut out = vec![self.core.id.clone()];
        if let Some(obj) = resource.as_object() {
            for (ext, _) in &self.extensions {
                let present = obj
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case(&ext.id) && !v.is_null());
                if present {
                    out.push(ext.id.clone());
                }
            }
        }
        out
    }
}
