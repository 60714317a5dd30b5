//! Schema drift breaks the build: trybuild cases that must fail to compile, with the compiler's
//! message naming the offending field, type or value (see `tests/ui/*.stderr`).
//!
//! trybuild's projects have no build script to register the schema, so the cases point cynic at
//! `incident-manager.graphql` by a path relative to the project trybuild generates; this test
//! writes `incident_schema::SDL` there first. The project lives in the target directory, wherever
//! that is (`CARGO_TARGET_DIR`, a config file), which `cargo metadata` says.

#[test]
fn schema_drift_fails_to_compile() {
    let project = incident_tests::target_dir().join("tests/trybuild/incident-tests");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("incident-manager.graphql"),
        incident_schema::SDL,
    )
    .unwrap();
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
