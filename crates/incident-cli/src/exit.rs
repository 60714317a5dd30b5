//! Exit codes that tell failures apart, and the message printed with them.

use std::process::ExitCode;

use incident_client::Error;

/// Authentication failed (rejected or missing token).
pub const AUTH: u8 = 4;
/// The server could not be reached or the connection could not be kept.
pub const CONNECTION: u8 = 3;
/// The command line was wrong (clap uses 2 as well).
pub const USAGE: u8 = 2;
/// A caught-up stream could not catch up: the server refused its listing query. Nothing past
/// the hole was printed or relayed, so the checkpoint (or the stream's last message) stays
/// before it and a rerun resumes there.
pub const CATCH_UP: u8 = 5;

/// Prints the error on stderr and picks the exit code.
pub fn report(error: &anyhow::Error) -> ExitCode {
    let mut hint = None;
    let client_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Error>());
    let code = match client_error {
        Some(Error::AuthRejected { .. }) => {
            hint = Some(
                "the server rejected the token; pass a valid one with --token or INCIDENT_TOKEN (or --token-file, --token-command)",
            );
            AUTH
        }
        Some(Error::RetriesExhausted { last, .. })
            if matches!(**last, Error::AuthRejected { .. }) =>
        {
            AUTH
        }
        Some(Error::InvalidUrl { .. } | Error::InvalidSetting { .. }) => USAGE,
        Some(Error::CatchUpRefused(_)) => {
            hint = Some(
                "the server refused the catch-up query; the checkpoint was kept before what could not be fetched, so rerunning resumes there",
            );
            CATCH_UP
        }
        Some(error) if error.is_certificate_problem() => {
            hint = Some(
                "a TLS certificate was not accepted; trust the server's CA with --ca-cert FILE (or --system-roots), and for mutual TLS present --client-cert and --client-key",
            );
            CONNECTION
        }
        Some(
            Error::Connect { .. }
            | Error::ConnectionLost { .. }
            | Error::AckTimeout(_)
            | Error::RetriesExhausted { .. }
            | Error::Http(_),
        ) => {
            hint = Some(
                "is the server running at that address? Without --ws-url, `incident watch` starts an embedded one",
            );
            CONNECTION
        }
        _ if error.downcast_ref::<UsageError>().is_some() => USAGE,
        _ if error.downcast_ref::<Unreachable>().is_some() => CONNECTION,
        _ => 1,
    };
    if crate::logging::is_json() {
        match hint {
            Some(hint) => tracing::error!(exit_code = code, hint, "{error:#}"),
            None => tracing::error!(exit_code = code, "{error:#}"),
        }
    } else {
        eprintln!("error: {error:#}");
        if let Some(hint) = hint {
            eprintln!("hint: {hint}");
        }
    }
    ExitCode::from(code)
}

/// Something other than the Incident Manager could not be reached or used (the NATS server of
/// `incident relay`, say): exit code 3, like a connection failure.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// A mistake in the command line that clap could not catch (a token file and a token command
/// both given, a corrupt checkpoint, say).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Parses with `FromStr`, turning failure into a [`UsageError`].
pub fn parse<T>(text: &str) -> anyhow::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.trim()
        .parse::<T>()
        .map_err(|e| UsageError(e.to_string()).into())
}
