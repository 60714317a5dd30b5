//! Where the tokens come from: `--token`, `--token-file` or `--token-command`.

use anyhow::Result;
use incident_client::TokenProvider;

use crate::cli::Global;
use crate::exit::UsageError;

/// The command's token source: `--token-file`, `--token-command`, or `--token` /
/// `AUTH_TOKEN`; `None` without any. A file or a command takes precedence over `AUTH_TOKEN`; two
/// given on the command line (or a file and a command from anywhere) is a usage error.
pub fn token_provider(global: &Global) -> Result<Option<TokenProvider>> {
    let conflict = |what: &str| -> anyhow::Error {
        UsageError(format!(
            "{what}: give one source of tokens (--token/AUTH_TOKEN, --token-file/INCIDENT_TOKEN_FILE or --token-command/INCIDENT_TOKEN_COMMAND)"
        ))
        .into()
    };
    match (&global.token_file, &global.token_command) {
        (Some(_), Some(_)) => Err(conflict("--token-file and --token-command both given")),
        (Some(_), None) | (None, Some(_)) if global.token_from_flag => {
            Err(conflict("--token given with a token file or command"))
        }
        (Some(path), None) => Ok(Some(TokenProvider::file(path))),
        (None, Some(command)) => Ok(Some(TokenProvider::command("sh", ["-c", command.as_str()]))),
        (None, None) => Ok(global.token.clone().map(TokenProvider::fixed)),
    }
}
