//! An owned model of a GraphQL type system, read from SDL.

use std::collections::BTreeMap;
use std::fmt;

use cynic_parser::TypeSystemDocument;
use cynic_parser::common::{OperationType, WrappingType};
use cynic_parser::type_system::{self as ast, Definition, TypeDefinition};

use crate::{Error, Result};

/// A whole type system: root operation types, named types and directive definitions.
///
/// The model's structs are read (and changed) through their fields and made by
/// [`Schema::parse`]; they are `#[non_exhaustive]`, so a field added later is not a breaking
/// change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Schema {
    /// The names of the root operation types.
    pub roots: Roots,
    /// Every named type, keyed by name.
    pub types: BTreeMap<String, TypeDef>,
    /// Every directive definition, keyed by name, printed in normalized SDL.
    pub directives: BTreeMap<String, String>,
}

/// The root operation types of a schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Roots {
    /// The query root type.
    pub query: Option<String>,
    /// The mutation root type.
    pub mutation: Option<String>,
    /// The subscription root type.
    pub subscription: Option<String>,
}

/// A named type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TypeDef {
    /// The type's name.
    pub name: String,
    /// The type's description, if any.
    pub description: Option<String>,
    /// What kind of type it is, with its members.
    pub kind: TypeKind,
}

/// The kinds of named type and what each holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// A scalar.
    Scalar,
    /// An object type.
    Object {
        /// Interfaces it implements.
        interfaces: Vec<String>,
        /// Its fields, in declared order.
        fields: Vec<Field>,
    },
    /// An interface.
    Interface {
        /// Interfaces it implements.
        interfaces: Vec<String>,
        /// Its fields, in declared order.
        fields: Vec<Field>,
    },
    /// A union.
    Union {
        /// Its member types.
        members: Vec<String>,
    },
    /// An enum.
    Enum {
        /// Its values, in declared order.
        values: Vec<EnumValue>,
    },
    /// An input object.
    InputObject {
        /// Its fields, in declared order.
        fields: Vec<InputValue>,
    },
}

/// A field of an object or interface.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// The field's description, if any.
    pub description: Option<String>,
    /// Its arguments, in declared order.
    pub args: Vec<InputValue>,
    /// Its type.
    pub ty: TypeRef,
    /// Directives applied to it.
    pub directives: Vec<Directive>,
}

/// An argument or an input object field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputValue {
    /// Its name.
    pub name: String,
    /// Its description, if any.
    pub description: Option<String>,
    /// Its type.
    pub ty: TypeRef,
    /// Its default value printed as GraphQL, if any.
    pub default: Option<String>,
    /// Directives applied to it.
    pub directives: Vec<Directive>,
}

/// A value of an enum.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnumValue {
    /// The value as written in GraphQL.
    pub name: String,
    /// Its description, if any.
    pub description: Option<String>,
    /// Directives applied to it.
    pub directives: Vec<Directive>,
}

/// A directive applied to a schema element, printed as GraphQL (`@deprecated(reason: "old")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive(pub String);

/// A reference to a type, with its list and non-null wrappers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TypeRef {
    /// A nullable named type.
    Named(String),
    /// A nullable list.
    List(Box<TypeRef>),
    /// A non-null wrapper.
    NonNull(Box<TypeRef>),
}

impl TypeRef {
    /// The innermost named type.
    pub fn name(&self) -> &str {
        match self {
            TypeRef::Named(name) => name,
            TypeRef::List(inner) | TypeRef::NonNull(inner) => inner.name(),
        }
    }

    /// True when the outermost wrapper is non-null.
    pub fn is_non_null(&self) -> bool {
        matches!(self, TypeRef::NonNull(_))
    }
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Named(name) => f.write_str(name),
            TypeRef::List(inner) => write!(f, "[{inner}]"),
            TypeRef::NonNull(inner) => write!(f, "{inner}!"),
        }
    }
}

/// Directives every GraphQL schema has, which [`Schema::parse`] leaves out.
pub const BUILT_IN_DIRECTIVES: [&str; 5] =
    ["skip", "include", "deprecated", "specifiedBy", "oneOf"];

impl Roots {
    /// The root operation types by name (`None` for a schema without that operation).
    pub fn new(
        query: Option<String>,
        mutation: Option<String>,
        subscription: Option<String>,
    ) -> Self {
        Self {
            query,
            mutation,
            subscription,
        }
    }
}

impl Schema {
    /// Reads SDL. Definitions of the specification's built-in directives are left out. Type extensions are merged into their types; a type defined twice is an error.
    pub fn parse(sdl: &str) -> Result<Schema> {
        let document = cynic_parser::parse_type_system_document(sdl).map_err(Error::Parse)?;
        Self::from_document(&document)
    }

    /// Removes every description, leaving only the type system, for comparisons that must not care
    /// about documentation wording.
    pub fn strip_descriptions(&mut self) {
        for ty in self.types.values_mut() {
            ty.description = None;
            match &mut ty.kind {
                TypeKind::Object { fields, .. } | TypeKind::Interface { fields, .. } => {
                    for field in fields {
                        field.description = None;
                        field.args.iter_mut().for_each(|a| a.description = None);
                    }
                }
                TypeKind::Enum { values } => values.iter_mut().for_each(|v| v.description = None),
                TypeKind::InputObject { fields } => {
                    fields.iter_mut().for_each(|f| f.description = None)
                }
                TypeKind::Scalar | TypeKind::Union { .. } => {}
            }
        }
    }

    /// The named type, if the schema has it.
    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    fn from_document(document: &TypeSystemDocument) -> Result<Schema> {
        let mut schema = Schema {
            roots: Roots::default(),
            types: BTreeMap::new(),
            directives: BTreeMap::new(),
        };
        let mut explicit_roots = false;
        for definition in document.definitions() {
            match definition {
                Definition::Schema(def) | Definition::SchemaExtension(def) => {
                    explicit_roots = true;
                    for root in def.root_operations() {
                        let name = Some(root.named_type().to_owned());
                        match root.operation_type() {
                            OperationType::Query => schema.roots.query = name,
                            OperationType::Mutation => schema.roots.mutation = name,
                            OperationType::Subscription => schema.roots.subscription = name,
                        }
                    }
                }
                Definition::Type(def) => {
                    let ty = convert_type(def);
                    if schema.types.insert(ty.name.clone(), ty).is_some() {
                        return Err(Error::Invalid(format!(
                            "type {} is defined twice",
                            def.name()
                        )));
                    }
                }
                Definition::TypeExtension(def) => {
                    let extension = convert_type(def);
                    let Some(existing) = schema.types.get_mut(&extension.name) else {
                        return Err(Error::Invalid(format!(
                            "type {} is extended but never defined",
                            extension.name
                        )));
                    };
                    merge_extension(existing, extension)?;
                }
                // The specification's own directives exist in every schema; some servers print
                // them and some do not, so they are not part of a schema's declared type system.
                Definition::Directive(def) if BUILT_IN_DIRECTIVES.contains(&def.name()) => {}
                Definition::Directive(def) => {
                    let mut text = String::new();
                    crate::print::directive_definition(&mut text, def);
                    schema.directives.insert(def.name().to_owned(), text);
                }
            }
        }
        if !explicit_roots {
            let default_root =
                |name: &str| schema.types.contains_key(name).then(|| name.to_owned());
            schema.roots = Roots {
                query: default_root("Query"),
                mutation: default_root("Mutation"),
                subscription: default_root("Subscription"),
            };
        }
        Ok(schema)
    }
}

fn merge_extension(existing: &mut TypeDef, extension: TypeDef) -> Result<()> {
    match (&mut existing.kind, extension.kind) {
        (
            TypeKind::Object { interfaces, fields },
            TypeKind::Object {
                interfaces: i,
                fields: f,
            },
        )
        | (
            TypeKind::Interface { interfaces, fields },
            TypeKind::Interface {
                interfaces: i,
                fields: f,
            },
        ) => {
            interfaces.extend(i);
            fields.extend(f);
        }
        (TypeKind::Union { members }, TypeKind::Union { members: m }) => members.extend(m),
        (TypeKind::Enum { values }, TypeKind::Enum { values: v }) => values.extend(v),
        (TypeKind::InputObject { fields }, TypeKind::InputObject { fields: f }) => fields.extend(f),
        (TypeKind::Scalar, TypeKind::Scalar) => {}
        _ => {
            return Err(Error::Invalid(format!(
                "type {} is extended as a different kind",
                existing.name
            )));
        }
    }
    Ok(())
}

fn convert_type(def: TypeDefinition<'_>) -> TypeDef {
    let (name, description, kind) = match def {
        TypeDefinition::Scalar(d) => (d.name(), description(d.description()), TypeKind::Scalar),
        TypeDefinition::Object(d) => (
            d.name(),
            description(d.description()),
            TypeKind::Object {
                interfaces: d.implements_interfaces().map(str::to_owned).collect(),
                fields: d.fields().map(convert_field).collect(),
            },
        ),
        TypeDefinition::Interface(d) => (
            d.name(),
            description(d.description()),
            TypeKind::Interface {
                interfaces: d.implements_interfaces().map(str::to_owned).collect(),
                fields: d.fields().map(convert_field).collect(),
            },
        ),
        TypeDefinition::Union(d) => (
            d.name(),
            description(d.description()),
            TypeKind::Union {
                members: d.members().map(|m| m.name().to_owned()).collect(),
            },
        ),
        TypeDefinition::Enum(d) => (
            d.name(),
            description(d.description()),
            TypeKind::Enum {
                values: d
                    .values()
                    .map(|v| EnumValue {
                        name: v.value().to_owned(),
                        description: description(v.description()),
                        directives: directives(v.directives()),
                    })
                    .collect(),
            },
        ),
        TypeDefinition::InputObject(d) => (
            d.name(),
            description(d.description()),
            TypeKind::InputObject {
                fields: d.fields().map(convert_input_value).collect(),
            },
        ),
    };
    TypeDef {
        name: name.to_owned(),
        description,
        kind,
    }
}

fn convert_field(field: ast::FieldDefinition<'_>) -> Field {
    Field {
        name: field.name().to_owned(),
        description: description(field.description()),
        args: field.arguments().map(convert_input_value).collect(),
        ty: convert_type_ref(field.ty()),
        directives: directives(field.directives()),
    }
}

fn convert_input_value(value: ast::InputValueDefinition<'_>) -> InputValue {
    InputValue {
        name: value.name().to_owned(),
        description: description(value.description()),
        ty: convert_type_ref(value.ty()),
        default: value.default_value().map(|v| {
            let mut text = String::new();
            crate::print::const_value(&mut text, v);
            text
        }),
        directives: directives(value.directives()),
    }
}

fn convert_type_ref(ty: ast::Type<'_>) -> TypeRef {
    // `wrappers()` runs from the outside in, so wrap from the innermost outwards.
    let wrappers: Vec<WrappingType> = ty.wrappers().collect();
    let mut result = TypeRef::Named(ty.name().to_owned());
    for wrapper in wrappers.into_iter().rev() {
        result = match wrapper {
            WrappingType::NonNull => TypeRef::NonNull(Box::new(result)),
            WrappingType::List => TypeRef::List(Box::new(result)),
        };
    }
    result
}

fn description(description: Option<ast::Description<'_>>) -> Option<String> {
    description.map(|d| d.literal().to_cow().trim().to_owned())
}

fn directives<'a>(directives: impl Iterator<Item = ast::Directive<'a>>) -> Vec<Directive> {
    directives
        .map(|d| {
            let mut text = format!("@{}", d.name());
            let args: Vec<String> = d
                .arguments()
                .map(|a| {
                    let mut value = String::new();
                    crate::print::const_value(&mut value, a.value());
                    format!("{}: {value}", a.name())
                })
                .collect();
            if !args.is_empty() {
                text.push_str(&format!("({})", args.join(", ")));
            }
            Directive(text)
        })
        .collect()
}
