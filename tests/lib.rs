//! Helpers for the cross-crate tests.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The cargo the tests run under.
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// The target directory, as cargo resolves it (`CARGO_TARGET_DIR`, config files, or `target/`).
pub fn target_dir() -> PathBuf {
    let output = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8 metadata");
    // `"target_directory":"..."`: the one string field needed, read without a JSON parser.
    let key = "\"target_directory\":\"";
    let start = text.find(key).expect("metadata names the target directory") + key.len();
    let end = start + text[start..].find('"').expect("a closing quote");
    PathBuf::from(text[start..end].replace("\\\\", "\\"))
}
