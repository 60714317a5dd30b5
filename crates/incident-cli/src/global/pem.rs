//! PEM files named on the command line (`--ca-cert`, `--client-cert`, `--client-key`).

use std::path::Path;

use anyhow::Result;

use crate::exit::UsageError;

/// The PEM file `path`, named by `flag`; a file that cannot be read is a usage error naming both.
pub fn read_pem(path: &Path, flag: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| UsageError(format!("{flag} {}: {e}", path.display())).into())
}
