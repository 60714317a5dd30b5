//! Schema drift breaks the build: trybuild cases that must fail to compile, with the compiler's
//! message naming the offending field, type or value (see `tests/ui/*.stderr`).
//!
//! The cases point cynic at `schema/incident-manager.graphql` by path, since trybuild's projects
//! have no build script to register the schema.

#[test]
fn schema_drift_fails_to_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
