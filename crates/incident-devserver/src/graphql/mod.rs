//! The GraphQL API: the executable schema built from the SDL, the query and mutation resolvers,
//! the five subscriptions, and the extension that puts `path` on resolver errors.
//!
//! It reads and changes data through `data::Store` and answers with the JSON of `views`; the
//! server layer above serves it over HTTP and WebSocket.

mod error_paths;
mod inputs;
mod resolvers;
mod schema;
mod sdl;
mod subscriptions;

pub(crate) use self::schema::build;
pub use self::schema::{MAX_COMPLEXITY, MAX_DEPTH, SDL};
