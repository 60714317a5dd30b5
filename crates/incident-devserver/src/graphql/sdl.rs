//! What `_service { sdl }` answers: the schema as the running server prints it, in the shape of the
//! real server's federation export, so schema tooling can rebuild the type system from it.

use async_graphql::dynamic::Schema;

/// async-graphql's federation export of `schema`. Its dynamic schemas leave the subscription root
/// out of that export (its static ones keep it with `enable_subscription_in_federation`, as the
/// real server does), so the root's definition is put back from the plain SDL, before the
/// trailing directive definitions.
pub(super) fn federation_export(schema: &Schema, subscription_root: Option<&str>) -> String {
    let mut export = schema.sdl_with_options(async_graphql::SDLExportOptions::new().federation());
    let Some(root) = subscription_root else {
        return export;
    };
    if export.contains(&format!("type {root} ")) {
        return export;
    }
    let plain = schema.sdl();
    let Some(start) = plain.find(&format!("type {root} {{")) else {
        return export;
    };
    let end = plain[start..]
        .find("\n}")
        .map_or(plain.len(), |at| start + at + 2);
    let start = description_start(&plain, start);
    let block = format!("{}\n\n", &plain[start..end]);
    let at = export
        .find("directive @")
        .or_else(|| export.find("extend schema"))
        .map_or(export.len(), |at| description_start(&export, at));
    export.insert_str(at, &block);
    export
}

/// Where the definition at `at` starts, counting a description that ends right above it.
fn description_start(text: &str, at: usize) -> usize {
    let before = text[..at].trim_end_matches('\n');
    match before.strip_suffix("\"\"\"") {
        Some(open) => open.rfind("\"\"\"").unwrap_or(at),
        None => at,
    }
}
