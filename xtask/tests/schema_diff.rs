//! `cargo xtask schema diff`, run as the binary users run.

use std::path::{Path, PathBuf};
use std::process::Command;

fn project_schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/incident-manager.graphql")
}

fn xtask(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (output.status.code().unwrap(), stdout)
}

#[test]
fn the_schema_against_itself_has_no_changes() {
    let schema = project_schema();
    let path = schema.to_str().unwrap();
    let (code, stdout) = xtask(&["schema", "diff", path, path]);
    assert_eq!((code, stdout.as_str()), (0, "no changes\n"));
}

#[test]
fn a_removed_field_is_breaking_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let sdl = std::fs::read_to_string(project_schema()).unwrap();
    let changed = sdl.replacen("  assignees: [String!]!\n", "", 1);
    assert_ne!(changed, sdl);
    let new = dir.path().join("new.graphql");
    std::fs::write(&new, changed).unwrap();
    let (code, stdout) = xtask(&[
        "schema",
        "diff",
        project_schema().to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "breaking (1):\n  field Incident.assignees was removed\n"
    );
}

#[test]
fn dangerous_and_safe_changes_are_grouped_and_pass() {
    let dir = tempfile::tempdir().unwrap();
    let sdl = std::fs::read_to_string(project_schema()).unwrap();
    let changed = sdl.replacen("  P4\n}", "  P4\n  P5\n}", 1).replacen(
        "type Label {\n",
        "type Label {\n  color: String\n",
        1,
    );
    let new = dir.path().join("new.graphql");
    std::fs::write(&new, changed).unwrap();
    let (code, stdout) = xtask(&[
        "schema",
        "diff",
        project_schema().to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "dangerous (1):\n  enum value Severity.P5 was added\nsafe (1):\n  field Label.color was added\n"
    );
}

#[test]
fn strict_mode_fails_on_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let sdl = std::fs::read_to_string(project_schema()).unwrap();
    let new = dir.path().join("new.graphql");
    std::fs::write(&new, sdl.replacen("  P4\n}", "  P4\n  P5\n}", 1)).unwrap();
    let (code, _) = xtask(&[
        "schema",
        "diff",
        "--strict",
        project_schema().to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
}

#[test]
fn schema_check_names_the_sdk_operations_a_change_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let sdl = std::fs::read_to_string(project_schema()).unwrap();
    // `Playbook.owner` is selected by the SDK's PlaybookFields fragment.
    let changed = sdl.replacen("  owner: String!\n", "", 1);
    assert_ne!(changed, sdl);
    let new = dir.path().join("new.graphql");
    std::fs::write(&new, changed).unwrap();
    let (code, stdout) = xtask(&[
        "schema",
        "check",
        project_schema().to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("breaking, used by your operations (1):"),
        "{stdout}"
    );
    assert!(
        stdout.contains("operation ListPlaybooks (crates/incident-client/graphql/queries.graphql)"),
        "{stdout}"
    );
}
