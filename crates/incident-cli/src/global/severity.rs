//! `--severity`: parsed by clap as the command line is read, so a bad value is a usage error
//! (exit 2) before anything connects, worded the same for every command.

use incident_client::Severity;

/// clap's value parser for one severity (`P0` to `P4`, in any case; surrounding spaces are ignored, so
/// `--severity "P0, P1"` works as `P0,P1`). The error says what was given and what is accepted:
/// `"P9" is not a Severity (expected one of P0, P1, P2, P3, P4)`.
pub fn severity(text: &str) -> Result<Severity, String> {
    text.trim().parse().map_err(|error| format!("{error}"))
}

/// The severities a filter takes: `None` when none were given (every severity).
pub fn severities(given: &[Severity]) -> Option<Vec<Severity>> {
    Some(given.to_vec()).filter(|given| !given.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts `text` parses as `expected`.
    fn check(text: &str, expected: Severity) {
        assert_eq!(severity(text), Ok(expected), "{text:?}");
    }

    #[test]
    fn severities_parse_as_the_command_line_gives_them() {
        check("P0", Severity::P0);
        check(" P1", Severity::P1);
        check("P4 ", Severity::P4);
        check("p2", Severity::P2);
        let error = severity("P9").unwrap_err();
        assert!(error.starts_with("\"P9\" is not a Severity"), "{error}");
        assert!(severity("").is_err());
    }

    #[test]
    fn no_severities_means_every_severity() {
        assert_eq!(severities(&[]), None);
        assert_eq!(
            severities(&[Severity::P0, Severity::P1]),
            Some(vec![Severity::P0, Severity::P1])
        );
    }
}
