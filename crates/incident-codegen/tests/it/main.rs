//! incident-codegen's integration tests, one binary (each file a module): the module a user's
//! documents become and, with the `schema-tools` feature, `schema check` and `schema pull`.

#[cfg(feature = "schema-tools")]
mod check;
mod module;
#[cfg(feature = "schema-tools")]
mod pull;
mod support;
