//! `schema pull`'s fallbacks, through a transport that answers like a server with limits.

use incident_codegen::pull::pull;
use incident_sdl::Schema;
use serde_json::{Value, json};

/// Answers like a server that refuses every introspection query and serves `_service` as a
/// federation export.
fn refusing_server(export: &'static str) -> impl FnMut(&Value) -> Result<Value, String> {
    move |body: &Value| {
        let query = body["query"].as_str().unwrap_or_default();
        Ok(if query.contains("_service") {
            json!({ "data": { "_service": { "sdl": export } } })
        } else {
            json!({ "data": null, "errors": [{ "message": "Query is too complex." }] })
        })
    }
}

#[test]
fn refused_root_types_fall_back_to_the_current_schemas() {
    let current = Schema::parse(
        "schema { query: QueryRoot subscription: Live } type QueryRoot { a: Int _service: _Service! } type Live { b: Int } type _Service { sdl: String } scalar _Any",
    )
    .unwrap();
    let export = "type QueryRoot { a: Int c: Int }\ntype Live { b: Int }\nextend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\")\n";
    let mut post = refusing_server(export);
    let pulled = pull(&mut post, Some(&current), Some(&current)).unwrap();
    assert_eq!(pulled.schema.roots, current.roots);
    assert!(
        pulled
            .notes
            .iter()
            .any(|n| n.contains("refused the root-type query")),
        "{:?}",
        pulled.notes
    );
    let sdl = pulled.schema.to_sdl();
    assert!(sdl.contains("_service: _Service!"), "{sdl}");
    assert_eq!(
        pulled.changes.len(),
        1,
        "only QueryRoot.c was added: {:?}",
        pulled.changes
    );
}
