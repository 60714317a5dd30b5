//! What a folder of documents uses of a schema, at the schema coordinates `incident_sdl::diff`
//! names its changes by.

use std::collections::BTreeMap;

use cynic_parser::ExecutableDocument;
use cynic_parser::executable::{ExecutableDefinition, Selection};
use incident_sdl::{Schema, TypeKind};

use crate::Documents;
use crate::error::{Result, bail};

/// One place a document relies on the schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Usage {
    /// The schema coordinate: `Type.field`, `Type.field(arg:)`, or a type name for a value type
    /// (enum, input object, scalar, union) whose every member matters.
    pub coordinate: String,
    /// The operation that relies on it.
    pub operation: String,
    /// The document the operation is in (`label/file.graphql`).
    pub file: String,
    /// Where in the operation: the response path, such as `criticalIncidents.severity`, or
    /// `$variable` for a variable's type.
    pub at: String,
}

/// Every usage by every operation in `documents`.
pub(crate) fn usages(documents: &Documents, schema: &Schema) -> Result<Vec<Usage>> {
    let mut found = Vec::new();
    // Fragments may live in other documents: the operations are walked in all of them together.
    let combined: String = documents.iter().map(|(_, t)| format!("{t}\n")).collect();
    let all = match cynic_parser::parse_executable_document(&combined) {
        Ok(document) => document,
        Err(error) => bail!("the documents do not parse together: {error}"),
    };
    for (name, text) in documents.iter() {
        let file = documents.path_of(name);
        // Each operation is attributed to the document that defines it.
        let own = match cynic_parser::parse_executable_document(text) {
            Ok(document) => document,
            Err(error) => bail!("{file} does not parse: {error}"),
        };
        let operations: Vec<String> = own
            .definitions()
            .filter_map(|d| match d {
                ExecutableDefinition::Operation(op) => op.name().map(str::to_owned),
                ExecutableDefinition::Fragment(_) => None,
            })
            .collect();
        for definition in all.definitions() {
            let ExecutableDefinition::Operation(op) = definition else {
                continue;
            };
            let Some(operation) = op.name() else { continue };
            if !operations.iter().any(|o| o == operation) {
                continue;
            }
            let root = match op.operation_type() {
                cynic_parser::common::OperationType::Query => &schema.roots.query,
                cynic_parser::common::OperationType::Mutation => &schema.roots.mutation,
                cynic_parser::common::OperationType::Subscription => &schema.roots.subscription,
            };
            let Some(root) = root else { continue };
            let mut walker = Walker {
                schema,
                document: &all,
                operation,
                file: &file,
                found: &mut found,
            };
            for variable in op.variable_definitions() {
                let ty = variable.ty().name().to_owned();
                walker.value_type(&ty, &format!("${}", variable.name()));
            }
            walker.selections(root, op.selection_set(), "");
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

struct Walker<'a> {
    schema: &'a Schema,
    document: &'a ExecutableDocument,
    operation: &'a str,
    file: &'a str,
    found: &'a mut Vec<Usage>,
}

impl Walker<'_> {
    fn record(&mut self, coordinate: String, at: &str) {
        self.found.push(Usage {
            coordinate,
            operation: self.operation.to_owned(),
            file: self.file.to_owned(),
            at: at.to_owned(),
        });
    }

    /// A type whose values the operation sends or receives whole: an enum (every value may
    /// arrive), an input object (every field is written), a scalar or a union.
    fn value_type(&mut self, name: &str, at: &str) {
        let Some(ty) = self.schema.get(name) else {
            return;
        };
        match &ty.kind {
            TypeKind::Enum { .. } | TypeKind::Scalar | TypeKind::Union { .. } => {
                self.record(name.to_owned(), at);
            }
            TypeKind::InputObject { fields } => {
                if self
                    .found
                    .iter()
                    .any(|u| u.coordinate == name && u.operation == self.operation && u.at == at)
                {
                    return;
                }
                self.record(name.to_owned(), at);
                let nested: Vec<String> = fields.iter().map(|f| f.ty.name().to_owned()).collect();
                for field in nested {
                    self.value_type(&field, at);
                }
            }
            _ => {}
        }
    }

    fn selections<'d>(
        &mut self,
        type_name: &str,
        selections: impl Iterator<Item = Selection<'d>>,
        path: &str,
    ) {
        let fields = match self.schema.get(type_name).map(|t| &t.kind) {
            Some(TypeKind::Object { fields, .. } | TypeKind::Interface { fields, .. }) => {
                fields.clone()
            }
            _ => Vec::new(),
        };
        for selection in selections {
            match selection {
                Selection::Field(field) => {
                    if field.name().starts_with("__") {
                        continue;
                    }
                    let key = field.alias().unwrap_or(field.name());
                    let at = if path.is_empty() {
                        key.to_owned()
                    } else {
                        format!("{path}.{key}")
                    };
                    let coordinate = format!("{type_name}.{}", field.name());
                    self.record(coordinate.clone(), &at);
                    for argument in field.arguments() {
                        self.record(format!("{coordinate}({}:)", argument.name()), &at);
                    }
                    let Some(schema_field) = fields.iter().find(|f| f.name == field.name()) else {
                        continue;
                    };
                    for argument in &schema_field.args {
                        if field.arguments().any(|a| a.name() == argument.name) {
                            let ty = argument.ty.name().to_owned();
                            self.value_type(&ty, &at);
                        }
                    }
                    let child = schema_field.ty.name().to_owned();
                    let mut children = field.selection_set().peekable();
                    if children.peek().is_some() {
                        self.selections(&child, children, &at);
                    } else {
                        self.value_type(&child, &at);
                    }
                }
                Selection::InlineFragment(inline) => {
                    let on = inline.type_condition().unwrap_or(type_name).to_owned();
                    self.selections(&on, inline.selection_set(), path);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name();
                    let fragment = self.document.definitions().find_map(|d| match d {
                        ExecutableDefinition::Fragment(f) if f.name() == name => Some(f),
                        _ => None,
                    });
                    if let Some(fragment) = fragment {
                        self.selections(fragment.type_condition(), fragment.selection_set(), path);
                    }
                }
            }
        }
    }
}

/// Whether `change_path` (as `incident_sdl::diff` names it) concerns `usage`.
pub(crate) fn concerns(
    change_path: &str,
    usage: &Usage,
    value_types: &BTreeMap<String, bool>,
) -> bool {
    let used = usage.coordinate.as_str();
    if change_path == used {
        return true;
    }
    // A new or changed argument on a field the operation selects.
    if change_path.starts_with(&format!("{used}(")) {
        return true;
    }
    // A member of a value type the operation sends or receives whole.
    value_types.get(used).copied().unwrap_or(false) && change_path.starts_with(&format!("{used}."))
}
