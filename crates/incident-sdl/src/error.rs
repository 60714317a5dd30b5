//! The error type of this crate.

/// What can go wrong while reading SDL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not valid GraphQL SDL.
    #[error("the SDL does not parse")]
    Parse(#[source] cynic_parser::Error),
    /// The SDL parses but declares something this model does not accept.
    #[error("the SDL is not a usable schema: {0}")]
    Invalid(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
