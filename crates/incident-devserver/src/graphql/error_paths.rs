//! Puts `path` on resolver errors.
//!
//! The real server's GraphQL errors carry `message`, `locations` and `path`. async-graphql's
//! dynamic schema leaves `path` empty for errors returned by resolvers, so this extension fills it
//! in from the field being resolved.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{PathSegment, ServerResult, Value};

/// The extension factory to register on the schema.
pub(super) struct ErrorPaths;

impl ExtensionFactory for ErrorPaths {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorPathsExtension)
    }
}

struct ErrorPathsExtension;

#[async_trait::async_trait]
impl Extension for ErrorPathsExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let path = info.path_node;
        next.run(ctx, info).await.map_err(|mut error| {
            if error.path.is_empty() {
                let segments = serde_json::to_value(path)
                    .ok()
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default();
                error.path = segments
                    .into_iter()
                    .filter_map(|segment| match segment {
                        serde_json::Value::String(name) => Some(PathSegment::Field(name)),
                        serde_json::Value::Number(index) => {
                            index.as_u64().map(|i| PathSegment::Index(i as usize))
                        }
                        _ => None,
                    })
                    .collect();
            }
            error
        })
    }
}
