//! Rebuilding the type system from a federation export.
//!
//! The real server answers `{ _service { sdl } }` with async-graphql's *federation export*, not
//! its plain SDL: no `schema { ... }` block (nothing declares the roots), no `QueryRoot._service`
//! field, no `_Service` type or `_Any` scalar, and at the end the built-in `@include`/`@skip`
//! definitions and `extend schema @link(url: "https://specs.apollo.dev/federation/v2.x", ...)`.
//! [`rebuild`] turns that back into the schema the server really serves: the roots come from a
//! small introspection query that fits the server's limits ([`ROOTS_QUERY`]) or else from the
//! schema file being replaced, and federation's own field and types are restored (the server
//! answered `_service`, so it has them).

use crate::model::{Field, Roots, Schema, TypeDef, TypeKind, TypeRef};
use crate::{Error, Result};

/// Asks only for the root type names: cheap enough for a server that refuses full introspection.
pub const ROOTS_QUERY: &str =
    "{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }";

/// Whether `sdl` is a federation export rather than a plain SDL.
pub fn is_export(sdl: &str) -> bool {
    sdl.contains("extend schema") && sdl.contains("specs.apollo.dev/federation")
}

/// The schema a federation export describes: `roots` declared, `_service: _Service!` on the query
/// root, `type _Service { sdl: String }` and `scalar _Any`. Their descriptions, and the position
/// of `_service` among the query root's fields, come from `template` (the schema file being
/// replaced) when it has them.
pub fn rebuild(export: &str, roots: Roots, template: Option<&Schema>) -> Result<Schema> {
    let mut schema = Schema::parse(export)?;
    schema.roots = roots;
    let query = schema
        .roots
        .query
        .clone()
        .ok_or_else(|| Error::Invalid("the rebuilt schema has no query root".into()))?;
    let from_template = |name: &str| template.and_then(|t| t.get(name)).cloned();
    let service_type = from_template("_Service").unwrap_or_else(|| TypeDef {
        name: "_Service".into(),
        description: None,
        kind: TypeKind::Object {
            interfaces: Vec::new(),
            fields: vec![Field {
                name: "sdl".into(),
                description: None,
                args: Vec::new(),
                ty: TypeRef::Named("String".into()),
                directives: Vec::new(),
            }],
        },
    });
    let any = from_template("_Any").unwrap_or_else(|| TypeDef {
        name: "_Any".into(),
        description: None,
        kind: TypeKind::Scalar,
    });
    schema
        .types
        .entry("_Service".into())
        .or_insert(service_type);
    schema.types.entry("_Any".into()).or_insert(any);
    let template_field = template
        .and_then(|t| t.roots.query.as_deref().and_then(|q| t.get(q)))
        .and_then(|root| match &root.kind {
            TypeKind::Object { fields, .. } => {
                fields.iter().find(|f| f.name == "_service").cloned()
            }
            _ => None,
        });
    let Some(TypeDef {
        kind: TypeKind::Object { fields, .. },
        ..
    }) = schema.types.get_mut(&query)
    else {
        return Err(Error::Invalid(format!(
            "the query root {query} is not an object type"
        )));
    };
    if !fields.iter().any(|f| f.name == "_service") {
        fields.push(template_field.unwrap_or_else(|| Field {
            name: "_service".into(),
            description: None,
            args: Vec::new(),
            ty: TypeRef::NonNull(Box::new(TypeRef::Named("_Service".into()))),
            directives: Vec::new(),
        }));
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schema in the real server's export form, as API-FACTS describes it: no
    /// schema block, no `_service`, `_Service` or `_Any`, built-in directives and the
    /// federation `@link` at the end.
    fn real_export_form(sdl: &str) -> String {
        let mut out = String::new();
        let mut skipping = false;
        for line in sdl.lines() {
            if line.starts_with("schema {")
                || line.starts_with("type _Service")
                || line.starts_with("scalar _Any")
            {
                skipping = !line.starts_with("scalar");
                // Drop the description line just before it, too.
                if out.ends_with("\"\"\"\n") {
                    let cut = out[..out.len() - 4].rfind("\"\"\"").unwrap_or(out.len());
                    out.truncate(cut);
                }
                continue;
            }
            if skipping {
                skipping = line != "}";
                continue;
            }
            if line.trim_start().starts_with("_service:") {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(
            "directive @include(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n",
        );
        out.push_str(
            "directive @skip(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n",
        );
        out.push_str("extend schema @link(\n\turl: \"https://specs.apollo.dev/federation/v2.3\",\n\timport: [\"@key\", \"@tag\", \"@shareable\", \"@inaccessible\", \"@override\", \"@external\", \"@provides\", \"@requires\", \"@composeDirective\", \"@interfaceObject\"]\n)\n");
        out
    }

    fn committed() -> Schema {
        Schema::parse(incident_schema_sdl()).unwrap()
    }

    fn incident_schema_sdl() -> &'static str {
        incident_schema::SDL
    }

    #[test]
    fn the_real_export_form_rebuilds_to_the_committed_schema_exactly() {
        let export = real_export_form(incident_schema_sdl());
        assert!(is_export(&export));
        assert!(!export.contains("_service"), "{export}");
        let parsed = Schema::parse(&export).unwrap();
        assert_eq!(parsed.roots, Roots::default(), "nothing declares the roots");
        let roots = committed().roots.clone();
        let rebuilt = rebuild(&export, roots, Some(&committed())).unwrap();
        assert_eq!(rebuilt.to_sdl(), incident_schema_sdl());
    }

    #[test]
    fn without_a_template_the_federation_definitions_are_restored_bare() {
        let export = "type QueryRoot { a: Int }\nextend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\")\n";
        let roots = Roots {
            query: Some("QueryRoot".into()),
            ..Roots::default()
        };
        let rebuilt = rebuild(export, roots, None).unwrap().to_sdl();
        assert!(rebuilt.contains("_service: _Service!"), "{rebuilt}");
        assert!(
            rebuilt.contains("type _Service {\n  sdl: String\n}"),
            "{rebuilt}"
        );
        assert!(rebuilt.contains("scalar _Any"), "{rebuilt}");
        assert!(
            rebuilt.starts_with("schema {\n  query: QueryRoot\n}"),
            "{rebuilt}"
        );
        assert!(!is_export("type Query { a: Int }"));
    }
}
