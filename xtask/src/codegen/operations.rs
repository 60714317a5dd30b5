//! The SDK's operations, from `crates/incident-client/graphql/*.graphql` to cynic structs.
//!
//! All documents are generated together by cynic-querygen, so shared fragments become one struct.
//! The output is then reshaped: enums, input objects and scalars are dropped in favour of
//! `incident-schema`'s (which keep unknown enum values), scalar names are mapped to the SDK's types,
//! structs gain `Clone`, `PartialEq` and `serde::Serialize` (camelCase, like the wire), every item
//! gets docs from the schema, and items are routed to one file per document.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cynic_parser::executable::ExecutableDefinition;
use incident_sdl::{Schema, TypeKind};
use syn::visit_mut::VisitMut;

use super::schema_types::snake_case;
use super::{GeneratedFile, OPERATIONS_DIR, format};

const GENERATED_DIR: &str = "crates/incident-client/src/generated";
const ROOT_TYPES: [&str; 3] = ["QueryRoot", "MutationRoot", "SubscriptionRoot"];

/// One generated file per operation document, plus `mod.rs`.
pub fn generate(root: &Path, sdl: &str, schema: &Schema) -> Result<Vec<GeneratedFile>> {
    let documents = read_documents(&root.join(OPERATIONS_DIR))?;
    let mut operation_file = BTreeMap::new();
    let mut combined = String::new();
    for (stem, text) in &documents {
        let document = cynic_parser::parse_executable_document(text)
            .map_err(|e| anyhow::anyhow!("{OPERATIONS_DIR}/{stem}.graphql does not parse: {e}"))?;
        for definition in document.definitions() {
            if let ExecutableDefinition::Operation(op) = definition {
                let Some(name) = op.name() else {
                    bail!("{OPERATIONS_DIR}/{stem}.graphql has an unnamed operation");
                };
                if operation_file
                    .insert(name.to_owned(), stem.clone())
                    .is_some()
                {
                    bail!("operation {name} is defined twice");
                }
            }
        }
        combined.push_str(text);
        combined.push('\n');
    }

    super::validate::check(&documents, schema)?;
    let generator = cynic_querygen::Generator::new(sdl)
        .context("cynic-querygen could not read the schema")?
        .with_schema_name("incident_manager");
    let rust = generator
        .generate(&combined)
        .map_err(|e| anyhow::anyhow!("cynic-querygen rejected the operations: {e}"))?;
    let output: syn::File =
        syn::parse_file(&rust).context("cynic-querygen wrote unparsable Rust")?;

    let mut routed: BTreeMap<String, Vec<syn::Item>> =
        documents.keys().map(|k| (k.clone(), Vec::new())).collect();
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
        let file = if derives.iter().any(|d| d == "QueryVariables") {
            let operation = name.trim_end_matches("Variables");
            document_variables(&mut item, operation);
            // The client keeps variables to resubscribe after a reconnect, so they must be owned.
            item.generics = syn::Generics::default();
            OwnedVariables.visit_item_struct_mut(&mut item);
            operation_file.get(operation).cloned()
        } else if ROOT_TYPES.contains(&graphql_type.as_str()) {
            document_fragment(&mut item, schema, &graphql_type, Some(&name))?;
            operation_file.get(&name).cloned()
        } else {
            document_fragment(&mut item, schema, &graphql_type, None)?;
            Some("fragments".to_owned())
        };
        let Some(file) = file else {
            bail!("cannot tell which document the generated struct {name} belongs to");
        };
        MapScalars.visit_item_struct_mut(&mut item);
        routed
            .entry(file)
            .or_default()
            .push(syn::Item::Struct(item));
    }

    let mut files = Vec::new();
    let mut module_lines = Vec::new();
    for (stem, mut items) in routed {
        items.sort_by_key(|item| match item {
            syn::Item::Struct(s) => s.ident.to_string(),
            _ => String::new(),
        });
        let module = syn::Ident::new(&stem, proc_macro2::Span::call_site());
        let doc = format!(" Structs for `{OPERATIONS_DIR}/{stem}.graphql`.");
        let file: syn::File = syn::parse2(quote::quote! {
            #![doc = #doc]
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::schema;
            #[allow(unused_imports)]
            use incident_schema::{JsonObject, Timestamp, Uuid, enums::*, inputs::*};
            #(#items)*
        })?;
        let inputs = format!("{OPERATIONS_DIR}/{stem}.graphql and {}", super::SCHEMA_PATH);
        files.push(GeneratedFile {
            path: PathBuf::from(GENERATED_DIR).join(format!("{stem}.rs")),
            contents: format::render(&file, &inputs)?,
        });
        module_lines.push(quote::quote! { mod #module; pub use #module::*; });
    }
    let module: syn::File = syn::parse2(quote::quote! {
        //! The SDK's operations as cynic structs, one file per document in `graphql/`.
        #(#module_lines)*
    })?;
    files.push(GeneratedFile {
        path: PathBuf::from(GENERATED_DIR).join("mod.rs"),
        contents: format::render(&module, &format!("{OPERATIONS_DIR}/*.graphql"))?,
    });
    Ok(files)
}

/// `(file stem, text)` of each `.graphql` file, sorted by name.
fn read_documents(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut documents = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "graphql") {
            let stem = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            documents.insert(stem, std::fs::read_to_string(&path)?);
        }
    }
    Ok(documents)
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
            .with_context(|| format!("no field of {graphql_type} matches {rust_name}"))?;
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
