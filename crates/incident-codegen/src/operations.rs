//! Operation documents to one module of cynic structs.
//!
//! All documents are generated together by cynic-querygen, so shared fragments become one struct.
//! The output is then reshaped: enums, input objects and scalars are dropped in favour of
//! `incident-schema`'s (which keep unknown enum values), scalar names are mapped to the SDK's types,
//! structs gain `Clone`, `PartialEq` and `serde::Serialize` (camelCase, like the wire), and every
//! item gets docs from the schema. Items are sorted by name, so the output depends only on the
//! inputs.

use incident_sdl::{Schema, TypeKind};
use syn::visit_mut::VisitMut;

use crate::error::{Error, Result, bail, unparsable};
use crate::schema_types::snake_case;
use crate::{Documents, format};

const ROOT_TYPES: [&str; 3] = ["QueryRoot", "MutationRoot", "SubscriptionRoot"];

/// The module for every operation in `documents`.
pub(crate) fn module(sdl: &str, schema: &Schema, documents: &Documents) -> Result<String> {
    crate::validate::check(documents, schema)?;
    let combined: String = documents
        .iter()
        .map(|(_, text)| format!("{text}\n"))
        .collect();
    let generator = cynic_querygen::Generator::new(sdl)
        .map_err(|e| Error(format!("cynic-querygen could not read the schema: {e}")))?
        .with_schema_name("incident_manager");
    let rust = generator
        .generate(&combined)
        .map_err(|e| Error(format!("cynic-querygen rejected the operations: {e}")))?;
    let output: syn::File = syn::parse_file(&rust)
        .map_err(|e| Error(format!("cynic-querygen wrote unparsable Rust: {e}")))?;

    let mut items = Vec::new();
    for item in output.items {
        let syn::Item::Struct(mut item) = item else {
            // Enums come from incident-schema, which keeps unknown values.
            continue;
        };
        let derives = derives(&item);
        if derives.iter().any(|d| d == "Scalar" || d == "InputObject") {
            continue;
        }
        let graphql_type =
            cynic_arg(&item, "graphql_type").unwrap_or_else(|| item.ident.to_string());
        let name = item.ident.to_string();
        if derives.iter().any(|d| d == "QueryVariables") {
            let operation = name.trim_end_matches("Variables");
            document_variables(&mut item, operation);
            // The client keeps variables to resubscribe after a reconnect, so they must be owned.
            item.generics = syn::Generics::default();
            OwnedVariables.visit_item_struct_mut(&mut item);
        } else if ROOT_TYPES.contains(&graphql_type.as_str()) {
            document_fragment(&mut item, schema, &graphql_type, Some(&name))?;
        } else {
            document_fragment(&mut item, schema, &graphql_type, None)?;
        }
        MapScalars.visit_item_struct_mut(&mut item);
        items.push(item);
    }
    items.sort_by_key(|item| item.ident.to_string());
    let file: syn::File = syn::parse2(quote::quote! {
        #[allow(unused_imports)]
        use incident_client::schema;
        #[allow(unused_imports)]
        use incident_client::{JsonObject, Timestamp, Uuid, enums::*, inputs::*};
        #(#items)*
    })
    .map_err(unparsable)?;
    let label = documents.label().trim_end_matches('/');
    format::render(&file, &format!("`{label}/*.graphql`"))
}

/// The names in the item's `#[derive(cynic::X, ...)]`, last path segment only.
fn derives(item: &syn::ItemStruct) -> Vec<String> {
    let mut names = Vec::new();
    for attr in item.attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = attr.parse_nested_meta(|meta| {
            if let Some(last) = meta.path.segments.last() {
                names.push(last.ident.to_string());
            }
            Ok(())
        });
    }
    names
}

/// The string value of `key` in the item's `#[cynic(...)]` attribute.
fn cynic_arg(item: &syn::ItemStruct, key: &str) -> Option<String> {
    let mut found = None;
    for attr in item.attrs.iter().filter(|a| a.path().is_ident("cynic")) {
        let _ = attr.parse_nested_meta(|meta| {
            let value = meta.value()?.parse::<syn::LitStr>()?;
            if meta.path.is_ident(key) {
                found = Some(value.value());
            }
            Ok(())
        });
    }
    found
}

fn doc(text: &str) -> syn::Attribute {
    let text = format!(" {text}");
    syn::parse_quote! { #[doc = #text] }
}

fn document_variables(item: &mut syn::ItemStruct, operation: &str) {
    item.attrs.insert(
        0,
        doc(&format!("Variables of the `{operation}` operation.")),
    );
    let all_optional = item.fields.iter().all(|f| is_option(&f.ty));
    add_derives(
        item,
        if all_optional {
            &["Clone", "Default"]
        } else {
            &["Clone"]
        },
    );
    for field in &mut item.fields {
        let name = field
            .ident
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        field
            .attrs
            .insert(0, doc(&format!("`${}`.", camel_case(&name))));
    }
}

fn document_fragment(
    item: &mut syn::ItemStruct,
    schema: &Schema,
    graphql_type: &str,
    operation: Option<&str>,
) -> Result<()> {
    let summary = match operation {
        Some(name) => format!("The response of the `{name}` operation."),
        None => format!("Fields selected from the GraphQL type `{graphql_type}`."),
    };
    item.attrs.insert(0, doc(&summary));
    add_derives(item, &["Clone", "PartialEq", "serde::Serialize"]);
    item.attrs
        .push(syn::parse_quote! { #[serde(rename_all = "camelCase")] });
    let fields = match schema.get(graphql_type).map(|t| &t.kind) {
        Some(TypeKind::Object { fields, .. } | TypeKind::Interface { fields, .. }) => fields,
        _ => bail!(
            "generated struct {} selects from {graphql_type}, which is not an object type",
            item.ident
        ),
    };
    for field in &mut item.fields {
        let rust_name = field
            .ident
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let schema_field = fields
            .iter()
            .find(|f| {
                snake_case(&f.name) == rust_name.trim_start_matches("r#") || f.name == rust_name
            })
            .ok_or_else(|| Error(format!("no field of {graphql_type} matches {rust_name}")))?;
        let text = match &schema_field.description {
            Some(description) => format!("`{}`: {description}", schema_field.name),
            None => format!("`{}.{}`.", graphql_type, schema_field.name),
        };
        field.attrs.insert(0, doc(&text));
        if schema_field.name.starts_with('_') {
            let wire = &schema_field.name;
            field
                .attrs
                .push(syn::parse_quote! { #[serde(rename = #wire)] });
        }
    }
    Ok(())
}

fn add_derives(item: &mut syn::ItemStruct, extra: &[&str]) {
    let paths: Vec<syn::Path> = extra
        .iter()
        .map(|d| syn::parse_str(d).expect("derive path"))
        .collect();
    item.attrs
        .push(syn::parse_quote! { #[derive(#(#paths),*)] });
}

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames cynic-querygen's scalar structs to the SDK's scalar types.
struct MapScalars;

impl VisitMut for MapScalars {
    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        if let Some(segment) = path.segments.last_mut() {
            let replacement = match segment.ident.to_string().as_str() {
                "DateTimeScalar" => Some("Timestamp"),
                "Jsonobject" => Some("JsonObject"),
                "Uuid" => Some("Uuid"),
                _ => None,
            };
            if let Some(name) = replacement {
                segment.ident = syn::Ident::new(name, segment.ident.span());
            }
        }
        syn::visit_mut::visit_path_mut(self, path);
    }
}

/// Replaces cynic-querygen's borrowed variable types (`&'a str`, `Input<'a>`) with owned ones.
struct OwnedVariables;

impl VisitMut for OwnedVariables {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Reference(reference) = ty
            && matches!(&*reference.elem, syn::Type::Path(p) if p.path.is_ident("str"))
        {
            *ty = syn::parse_quote! { String };
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }

    fn visit_path_segment_mut(&mut self, segment: &mut syn::PathSegment) {
        if let syn::PathArguments::AngleBracketed(args) = &mut segment.arguments {
            args.args = std::mem::take(&mut args.args)
                .into_iter()
                .filter(|arg| !matches!(arg, syn::GenericArgument::Lifetime(_)))
                .collect();
            if args.args.is_empty() {
                segment.arguments = syn::PathArguments::None;
            }
        }
        syn::visit_mut::visit_path_segment_mut(self, segment);
    }
}
