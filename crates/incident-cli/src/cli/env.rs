//! The environment names the seed clients and the `nats` CLI use (`WS_URL`, `AUTH_TOKEN`,
//! `NATS_URL`, ...), honoured as aliases of the `INCIDENT_*` names.

use super::Cli;

/// The environment names the seed clients and the `nats` CLI use, still honoured: each is read
/// when its `INCIDENT_*` name is not set. (Subcommand path, argument id, name, alias.)
pub const ENV_ALIASES: &[(&[&str], &str, &str, &str)] = &[
    (&[], "ws_url", "INCIDENT_WS_URL", "WS_URL"),
    (&[], "http_url", "INCIDENT_HTTP_URL", "HTTP_URL"),
    (&[], "token", "INCIDENT_TOKEN", "AUTH_TOKEN"),
    (&[], "log_level", "INCIDENT_LOG_LEVEL", "LOG_LEVEL"),
    (
        &["serve"],
        "jwt_secret",
        "INCIDENT_JWT_SECRET",
        "JWT_SECRET",
    ),
    (
        &["token", "mint"],
        "jwt_secret",
        "INCIDENT_JWT_SECRET",
        "JWT_SECRET",
    ),
    (&["relay"], "nats", "INCIDENT_NATS_URL", "NATS_URL"),
    (
        &["relay"],
        "nats_creds",
        "INCIDENT_NATS_CREDS",
        "NATS_CREDS",
    ),
    (&["relay"], "nats_nkey", "INCIDENT_NATS_NKEY", "NATS_NKEY"),
    (&["relay"], "nats_user", "INCIDENT_NATS_USER", "NATS_USER"),
    (
        &["relay"],
        "nats_password",
        "INCIDENT_NATS_PASSWORD",
        "NATS_PASSWORD",
    ),
    (
        &["relay"],
        "nats_token",
        "INCIDENT_NATS_TOKEN",
        "NATS_TOKEN",
    ),
    (
        &["relay"],
        "nats_ca_cert",
        "INCIDENT_NATS_CA_CERT",
        "NATS_CA_CERT",
    ),
    (
        &["relay"],
        "nats_client_cert",
        "INCIDENT_NATS_CLIENT_CERT",
        "NATS_CLIENT_CERT",
    ),
    (
        &["relay"],
        "nats_client_key",
        "INCIDENT_NATS_CLIENT_KEY",
        "NATS_CLIENT_KEY",
    ),
];

/// The command line, with each argument reading its alias instead of its `INCIDENT_*` name
/// when only the alias is set in `env` (so clap parses, requires and hides it as usual).
pub fn command_with_env_aliases(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> clap::Command {
    let mut command = <Cli as clap::CommandFactory>::command();
    for (path, id, name, alias) in ENV_ALIASES {
        if env(name).is_some() || env(alias).is_none() {
            continue;
        }
        command = with_arg_env(command, path, id, alias);
    }
    command
}

/// `command` with the argument `id` of the subcommand at `path` also read from `name`.
fn with_arg_env(
    command: clap::Command,
    path: &[&str],
    id: &str,
    name: &'static str,
) -> clap::Command {
    match path.split_first() {
        None => command.mut_arg(id, |arg| arg.env(name)),
        Some((first, rest)) => {
            if command.find_subcommand(first).is_none() {
                // A subcommand left out of this build (a feature is off).
                return command;
            }
            command.mut_subcommand(*first, |sub| with_arg_env(sub, rest, id, name))
        }
    }
}
