//! Enums and input objects for `incident-schema`, written straight from the schema model.

use std::path::PathBuf;

use incident_sdl::{InputValue, Schema, TypeKind, TypeRef};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::error::{Result, bail, unparsable};
use crate::{GeneratedFile, format};

/// `enums.rs` and `inputs.rs` for `incident-schema`'s `src/generated/`.
pub(crate) fn generate(schema: &Schema, schema_label: &str) -> Result<Vec<GeneratedFile>> {
    let mut enums = TokenStream::new();
    let mut inputs = TokenStream::new();
    for ty in schema.types.values() {
        match &ty.kind {
            TypeKind::Enum { values } => {
                enums.extend(enum_tokens(&ty.name, ty.description.as_deref(), values))
            }
            TypeKind::InputObject { fields } => inputs.extend(input_tokens(
                schema,
                &ty.name,
                ty.description.as_deref(),
                fields,
            )?),
            _ => {}
        }
    }
    let enums_file: syn::File = syn::parse2(quote! {
        //! Every enum of the schema. Each keeps values it does not know in `Other`, so a server that
        //! adds a value never breaks decoding.
        use crate::schema;
        #enums
    })
    .map_err(unparsable)?;
    let inputs_file: syn::File = syn::parse2(quote! {
        //! Every input object of the schema.
        #[allow(unused_imports)]
        use crate::{schema, JsonObject, Timestamp};
        #[allow(unused_imports)]
        use super::enums::*;
        #inputs
    })
    .map_err(unparsable)?;
    let label = format!("`{schema_label}`");
    Ok(vec![
        GeneratedFile {
            path: PathBuf::from("enums.rs"),
            contents: format::render(&enums_file, &label)?,
        },
        GeneratedFile {
            path: PathBuf::from("inputs.rs"),
            contents: format::render(&inputs_file, &label)?,
        },
    ])
}

fn enum_tokens(
    name: &str,
    description: Option<&str>,
    values: &[incident_sdl::EnumValue],
) -> TokenStream {
    let ident = format_ident!("{name}");
    let doc = description
        .map(|d| format!(" {d}"))
        .unwrap_or_else(|| format!(" The GraphQL enum `{name}`."));
    let variants: Vec<_> = values
        .iter()
        .map(|v| format_ident!("{}", pascal_case(&v.name)))
        .collect();
    let wire: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
    let variant_docs: Vec<String> = values
        .iter()
        .map(|v| match &v.description {
            Some(d) => format!(" `{}`: {d}", v.name),
            None => format!(" `{}`.", v.name),
        })
        .collect();
    quote! {
        #[doc = #doc]
        #[derive(cynic::Enum, Clone, Debug, PartialEq, Eq, Hash)]
        #[cynic(graphql_type = #name)]
        pub enum #ident {
            #(
                #[doc = #variant_docs]
                #variants,
            )*
            /// A value this SDK does not know, kept as the server sent it.
            #[cynic(fallback)]
            Other(String),
        }

        impl #ident {
            /// Every value the schema declares, in schema order.
            pub const ALL: &'static [#ident] = &[#(#ident::#variants),*];

            /// The value as GraphQL writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#ident::#variants => #wire,)*
                    #ident::Other(value) => value,
                }
            }
        }

        impl std::fmt::Display for #ident {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for #ident {
            type Err = crate::UnknownEnumValue;

            /// Parses a declared value, ignoring ASCII case; unknown text is an error, not `Other`.
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                #ident::ALL
                    .iter()
                    .find(|value| value.as_str().eq_ignore_ascii_case(text))
                    .cloned()
                    .ok_or_else(|| crate::UnknownEnumValue::new(#name, text, #ident::ALL.iter().map(|v| v.as_str())))
            }
        }
    }
}

fn input_tokens(
    schema: &Schema,
    name: &str,
    description: Option<&str>,
    fields: &[InputValue],
) -> Result<TokenStream> {
    let ident = format_ident!("{name}");
    let doc = description
        .map(|d| format!(" {d}"))
        .unwrap_or_else(|| format!(" The GraphQL input object `{name}`."));
    let mut field_tokens = Vec::new();
    let mut defaults = Some(Vec::new());
    for field in fields {
        let field_ident = format_ident!("{}", snake_case(&field.name));
        let ty = rust_type(schema, &field.ty)?;
        let mut field_doc = match &field.description {
            Some(d) => format!(" {d}"),
            None => format!(" `{}`.", field.name),
        };
        if let Some(default) = &field.default {
            field_doc.push_str(&format!(" The server's default is `{default}`."));
        }
        let skip = if field.ty.is_non_null() {
            quote! {}
        } else {
            quote! { #[cynic(skip_serializing_if = "Option::is_none")] }
        };
        field_tokens.push(quote! {
            #[doc = #field_doc]
            #skip
            pub #field_ident: #ty,
        });
        let default_value = match (&field.ty, &field.default) {
            (TypeRef::NonNull(_), Some(default)) => default_expr(schema, &field.ty, default),
            (TypeRef::NonNull(_), None) => None,
            (_, _) => Some(quote! { None }),
        };
        match (default_value, defaults.as_mut()) {
            (Some(value), Some(list)) => list.push(quote! { #field_ident: #value }),
            _ => defaults = None,
        }
    }
    let default_impl = defaults.map(|values| {
        quote! {
            /// Every field at the server's default, or absent.
            impl Default for #ident {
                fn default() -> Self {
                    Self { #(#values,)* }
                }
            }
        }
    });
    Ok(quote! {
        #[doc = #doc]
        #[derive(cynic::InputObject, Clone, Debug, PartialEq)]
        #[cynic(graphql_type = #name)]
        pub struct #ident {
            #(#field_tokens)*
        }
        #default_impl
    })
}

/// The Rust type for a GraphQL input type.
fn rust_type(schema: &Schema, ty: &TypeRef) -> Result<TokenStream> {
    fn inner(schema: &Schema, ty: &TypeRef) -> Result<TokenStream> {
        Ok(match ty {
            TypeRef::NonNull(inner_ty) => match &**inner_ty {
                TypeRef::List(item) => {
                    let item = inner(schema, item)?;
                    quote! { Vec<#item> }
                }
                TypeRef::Named(name) => named(schema, name)?,
                TypeRef::NonNull(_) => bail!("double non-null in {ty}"),
            },
            TypeRef::List(item) => {
                let item = inner(schema, item)?;
                quote! { Option<Vec<#item>> }
            }
            TypeRef::Named(name) => {
                let named = named(schema, name)?;
                quote! { Option<#named> }
            }
        })
    }
    fn named(schema: &Schema, name: &str) -> Result<TokenStream> {
        Ok(match name {
            "Int" => quote! { i32 },
            "Float" => quote! { f64 },
            "String" => quote! { String },
            "Boolean" => quote! { bool },
            "ID" => quote! { cynic::Id },
            "UUID" => quote! { uuid::Uuid },
            "DateTimeScalar" => quote! { Timestamp },
            "JSONObject" => quote! { JsonObject },
            other => match schema.get(other).map(|t| &t.kind) {
                Some(TypeKind::Enum { .. } | TypeKind::InputObject { .. }) => {
                    let ident = format_ident!("{other}");
                    quote! { #ident }
                }
                _ => bail!("no Rust type is mapped for the GraphQL input type {other}"),
            },
        })
    }
    inner(schema, ty)
}

/// A Rust expression for an SDL default value, when it is one this generator understands.
fn default_expr(schema: &Schema, ty: &TypeRef, default: &str) -> Option<TokenStream> {
    let name = ty.name();
    if default == "[]" {
        return Some(quote! { Vec::new() });
    }
    if default == "{}" && name == "JSONObject" {
        return Some(quote! { JsonObject::new() });
    }
    match name {
        "Int" => default.parse::<i32>().ok().map(|v| quote! { #v }),
        "Boolean" => default.parse::<bool>().ok().map(|v| quote! { #v }),
        "String" => default
            .strip_prefix('"')
            .and_then(|d| d.strip_suffix('"'))
            .map(|text| quote! { String::from(#text) }),
        _ => match schema.get(name).map(|t| &t.kind) {
            Some(TypeKind::Enum { values }) if values.iter().any(|v| v.name == default) => {
                let ident = format_ident!("{name}");
                let variant = format_ident!("{}", pascal_case(default));
                Some(quote! { #ident::#variant })
            }
            _ => None,
        },
    }
}

/// `RATE_LIMITED` to `RateLimited`, `P0` to `P0`.
pub(crate) fn pascal_case(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase()).into_iter();
            first
                .chain(chars.map(|c| c.to_ascii_lowercase()))
                .collect::<String>()
        })
        .collect()
}

/// `pageSize` to `page_size`.
pub(crate) fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
