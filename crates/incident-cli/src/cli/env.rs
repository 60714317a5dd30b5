//! The environment names the seed clients and the `nats` CLI use (`WS_URL`, `AUTH_TOKEN`,
//! `NATS_URL`, ...), honoured as aliases of the `INCIDENT_*` names.

use super::Cli;

/// The environment names the seed clients and the `nats` CLI use, still honoured: each is read
/// when the argument's own `INCIDENT_*` variable is not set. (Subcommand path, argument id,
/// alias.)
pub const ENV_ALIASES: &[(&[&str], &str, &str)] = &[
    (&[], "ws_url", "WS_URL"),
    (&[], "http_url", "HTTP_URL"),
    (&[], "token", "AUTH_TOKEN"),
    (&[], "log_level", "LOG_LEVEL"),
    (&["serve"], "jwt_secret", "JWT_SECRET"),
    (&["token", "mint"], "jwt_secret", "JWT_SECRET"),
    (&["relay"], "nats", "NATS_URL"),
    (&["relay"], "nats_creds", "NATS_CREDS"),
    (&["relay"], "nats_nkey", "NATS_NKEY"),
    (&["relay"], "nats_user", "NATS_USER"),
    (&["relay"], "nats_password", "NATS_PASSWORD"),
    (&["relay"], "nats_token", "NATS_TOKEN"),
    (&["relay"], "nats_ca_cert", "NATS_CA_CERT"),
    (&["relay"], "nats_client_cert", "NATS_CLIENT_CERT"),
    (&["relay"], "nats_client_key", "NATS_CLIENT_KEY"),
];

/// The command line, with each argument reading its alias instead of its `INCIDENT_*` name
/// when only the alias is set in `env` (so clap parses, requires and hides it as usual).
pub fn command_with_env_aliases(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> clap::Command {
    let mut command = <Cli as clap::CommandFactory>::command();
    for (path, id, alias) in ENV_ALIASES {
        if env(alias).is_some() {
            command = with_arg_env(command, path, id, alias, &env);
        }
    }
    command
}

/// `command` with the argument `id` of the subcommand at `path` read from `alias` instead,
/// unless its own variable is set.
fn with_arg_env(
    command: clap::Command,
    path: &[&str],
    id: &str,
    alias: &'static str,
    env: &impl Fn(&str) -> Option<std::ffi::OsString>,
) -> clap::Command {
    match path.split_first() {
        None => command.mut_arg(id, |arg| {
            let own = arg.get_env().and_then(|name| name.to_str()).and_then(env);
            if own.is_some() { arg } else { arg.env(alias) }
        }),
        Some((first, rest)) => {
            if command.find_subcommand(first).is_none() {
                // A subcommand left out of this build (a feature is off).
                return command;
            }
            command.mut_subcommand(*first, |sub| with_arg_env(sub, rest, id, alias, env))
        }
    }
}
