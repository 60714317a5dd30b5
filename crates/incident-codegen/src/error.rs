//! The crate's one error type: a message naming the document, operation and field, or the
//! step that failed.

/// Why code could not be generated (or, with `schema-tools`, why a schema could not be pulled,
/// diffed or checked). The message names the document, operation and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub(crate) String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error for Rust this crate put together itself and `syn` could not read back: a bug here,
/// never in the caller's documents.
pub(crate) fn unparsable(error: syn::Error) -> Error {
    Error(format!("the generated Rust does not parse: {error}"))
}

/// Returns early with an [`Error`] whose message is the format string's text.
macro_rules! bail {
    ($($message:tt)*) => {
        return Err($crate::error::Error(format!($($message)*)))
    };
}

pub(crate) use bail;
