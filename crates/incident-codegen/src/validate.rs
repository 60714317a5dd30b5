//! Checks the operation documents against the schema before cynic-querygen sees them.
//!
//! cynic-querygen panics on a field the schema lacks, so codegen validates first and names every
//! unknown field, argument and fragment. The same walk measures each operation's depth and
//! complexity (one per field, fragments expanded, as the server counts), because the server
//! refuses operations beyond depth 10 or complexity 100.

use std::collections::BTreeMap;

use cynic_parser::ExecutableDocument;
use cynic_parser::executable::{ExecutableDefinition, Selection};
use incident_sdl::{Schema, TypeKind};

use crate::Documents;
use crate::error::{Result, bail};

/// The server's maximum query depth.
pub const MAX_DEPTH: usize = 10;
/// The server's maximum query complexity.
pub const MAX_COMPLEXITY: usize = 100;

/// What one operation costs the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationCost {
    /// The operation's name.
    pub name: String,
    /// Deepest nesting of selection sets.
    pub depth: usize,
    /// Number of fields selected, fragments expanded.
    pub complexity: usize,
}

/// Validates every operation in `documents` and measures it. Errors name the document, the
/// operation or fragment, and what does not exist.
pub(crate) fn check(documents: &Documents, schema: &Schema) -> Result<Vec<OperationCost>> {
    // Where each operation and fragment is defined, for messages.
    let mut defined_in = BTreeMap::new();
    let mut combined = String::new();
    for (name, text) in documents.iter() {
        let path = documents.path_of(name);
        let document = match cynic_parser::parse_executable_document(text) {
            Ok(document) => document,
            Err(error) => bail!("{path} does not parse: {error}"),
        };
        for definition in document.definitions() {
            let key = match definition {
                ExecutableDefinition::Operation(op) => match op.name() {
                    Some(name) => format!("operation {name}"),
                    None => {
                        bail!("{path} has an unnamed operation; name it, it names the Rust type")
                    }
                },
                ExecutableDefinition::Fragment(fragment) => {
                    format!("fragment {}", fragment.name())
                }
            };
            if let Some(first) = defined_in.insert(key.clone(), path.clone()) {
                bail!("{key} is defined twice: in {first} and in {path}");
            }
        }
        combined.push_str(text);
        combined.push('\n');
    }
    let document = match cynic_parser::parse_executable_document(&combined) {
        Ok(document) => document,
        Err(error) => bail!("the operation documents do not parse together: {error}"),
    };
    let mut walker = Walker {
        schema,
        document: &document,
        errors: Vec::new(),
    };
    let mut costs = Vec::new();
    for definition in document.definitions() {
        match definition {
            ExecutableDefinition::Operation(op) => {
                let name = op.name().unwrap_or("<unnamed>").to_owned();
                let root = match op.operation_type() {
                    cynic_parser::common::OperationType::Query => &schema.roots.query,
                    cynic_parser::common::OperationType::Mutation => &schema.roots.mutation,
                    cynic_parser::common::OperationType::Subscription => &schema.roots.subscription,
                };
                let Some(root) = root else {
                    walker.errors.push(format!(
                        "{}: operation {name}: the schema has no {} root",
                        defined_in[&format!("operation {name}")],
                        op.operation_type().as_str()
                    ));
                    continue;
                };
                let before = walker.errors.len();
                let context = format!("operation {name}");
                let (depth, complexity) = walker.selections(&context, root, op.selection_set(), 0);
                if depth > MAX_DEPTH || complexity > MAX_COMPLEXITY {
                    walker.errors.push(format!(
                        "operation {name} has depth {depth} and complexity {complexity}; the server allows {MAX_DEPTH} and {MAX_COMPLEXITY}"
                    ));
                }
                prefix(&mut walker.errors[before..], &defined_in[&context]);
                costs.push(OperationCost {
                    name,
                    depth,
                    complexity,
                });
            }
            ExecutableDefinition::Fragment(fragment) => {
                let context = format!("fragment {}", fragment.name());
                let before = walker.errors.len();
                walker.selections(
                    &context,
                    fragment.type_condition(),
                    fragment.selection_set(),
                    0,
                );
                prefix(&mut walker.errors[before..], &defined_in[&context]);
            }
        }
    }
    if !walker.errors.is_empty() {
        walker.errors.sort();
        walker.errors.dedup();
        bail!(
            "the operations do not match the schema:\n  {}",
            walker.errors.join("\n  ")
        );
    }
    Ok(costs)
}

/// Puts the document's path before each message.
fn prefix(errors: &mut [String], path: &str) {
    for error in errors {
        *error = format!("{path}: {error}");
    }
}

struct Walker<'a> {
    schema: &'a Schema,
    document: &'a ExecutableDocument,
    errors: Vec<String>,
}

impl Walker<'_> {
    /// Walks a selection set on `type_name`; returns `(depth, complexity)` below and including it.
    fn selections<'d>(
        &mut self,
        context: &str,
        type_name: &str,
        selections: impl Iterator<Item = Selection<'d>>,
        level: usize,
    ) -> (usize, usize) {
        let fields = match self.schema.get(type_name).map(|t| &t.kind) {
            Some(TypeKind::Object { fields, .. } | TypeKind::Interface { fields, .. }) => {
                Some(fields)
            }
            Some(_) => {
                self.errors
                    .push(format!("{context}: {type_name} has no fields to select"));
                None
            }
            None => {
                self.errors
                    .push(format!("{context}: type `{type_name}` does not exist"));
                None
            }
        };
        let (mut depth, mut complexity) = (level, 0);
        for selection in selections {
            let (d, c) = match selection {
                Selection::Field(field) => {
                    if field.name() == "__typename" {
                        continue;
                    }
                    let Some(schema_field) =
                        fields.and_then(|f| f.iter().find(|sf| sf.name == field.name()))
                    else {
                        if fields.is_some() {
                            self.errors.push(format!(
                                "{context}: field `{}` does not exist on type `{type_name}`",
                                field.name()
                            ));
                        }
                        continue;
                    };
                    for argument in field.arguments() {
                        if !schema_field.args.iter().any(|a| a.name == argument.name()) {
                            self.errors.push(format!(
                                "{context}: argument `{}` does not exist on `{type_name}.{}`",
                                argument.name(),
                                field.name()
                            ));
                        }
                    }
                    let child_type = schema_field.ty.name().to_owned();
                    let mut children = field.selection_set().peekable();
                    if children.peek().is_some() {
                        let (d, c) = self.selections(context, &child_type, children, level + 1);
                        (d, c + 1)
                    } else {
                        (level + 1, 1)
                    }
                }
                Selection::InlineFragment(inline) => {
                    let on = inline.type_condition().unwrap_or(type_name).to_owned();
                    self.selections(context, &on, inline.selection_set(), level)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name();
                    let fragment = self.document.definitions().find_map(|d| match d {
                        ExecutableDefinition::Fragment(f) if f.name() == name => Some(f),
                        _ => None,
                    });
                    match fragment {
                        Some(f) => {
                            self.selections(context, f.type_condition(), f.selection_set(), level)
                        }
                        None => {
                            self.errors
                                .push(format!("{context}: fragment `{name}` is not defined"));
                            continue;
                        }
                    }
                }
            };
            depth = depth.max(d);
            complexity += c;
        }
        (depth, complexity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documents(text: &str) -> Documents {
        Documents::from_texts("docs", [("q.graphql".to_owned(), text.to_owned())])
    }

    #[test]
    fn validation_measures_depth_and_complexity_like_the_server() {
        let schema =
            Schema::parse("type Query { a: A } type A { b: B c: Int } type B { d: Int e: Int }")
                .unwrap();
        let costs = check(
            &documents("query Q { a { ...F c } } fragment F on A { b { d e } }"),
            &schema,
        )
        .unwrap();
        assert_eq!(
            costs,
            vec![OperationCost {
                name: "Q".into(),
                depth: 3,
                complexity: 5
            }]
        );
    }

    #[test]
    fn validation_rejects_operations_over_the_limits() {
        let schema = Schema::parse("type Query { a: A } type A { a: A x: Int }").unwrap();
        let deep = format!(
            "query Deep {{ {} x {} }}",
            "a { ".repeat(11),
            "} ".repeat(11)
        );
        let message = format!("{:#}", check(&documents(&deep), &schema).unwrap_err());
        assert!(
            message.contains("docs/q.graphql: operation Deep has depth 12"),
            "{message}"
        );
    }

    #[test]
    fn errors_name_the_document_the_operation_and_the_field() {
        let schema = Schema::parse("type Query { a: A } type A { x: Int }").unwrap();
        let message = format!(
            "{:#}",
            check(&documents("query Mine { a { x y } }"), &schema).unwrap_err()
        );
        assert!(
            message
                .contains("docs/q.graphql: operation Mine: field `y` does not exist on type `A`"),
            "{message}"
        );
    }
}
