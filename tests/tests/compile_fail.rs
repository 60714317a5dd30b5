//! Schema drift breaks the build: trybuild cases that must fail to compile, with the compiler's
//! message naming the offending field, type or value (see `tests/ui/*.stderr`).
//!
//! trybuild's projects have no build script to register the schema, so the cases point cynic at
//! `incident-manager.graphql` by a path relative to the project trybuild generates; this test
//! writes `incident_schema::SDL` there first. The project lives in the target directory, wherever
//! that is (`CARGO_TARGET_DIR`, a config file), which `cargo metadata` says.

use std::path::PathBuf;
use std::process::Command;

/// The target directory, as cargo (and so trybuild) resolves it.
fn target_dir() -> PathBuf {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8 metadata");
    // `"target_directory":"..."`: read the one string field this needs without a JSON parser.
    let key = "\"target_directory\":\"";
    let start = text.find(key).expect("metadata names the target directory") + key.len();
    let end = start + text[start..].find('"').expect("a closing quote");
    PathBuf::from(text[start..end].replace("\\\\", "\\"))
}

#[test]
fn schema_drift_fails_to_compile() {
    let project = target_dir().join("tests/trybuild/incident-tests");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("incident-manager.graphql"),
        incident_schema::SDL,
    )
    .unwrap();
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
