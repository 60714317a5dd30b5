//! Errors of this crate.

use std::fmt;

/// Text that names no value of a schema enum, from an enum's `FromStr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEnumValue {
    enum_name: &'static str,
    text: String,
    expected: Vec<String>,
}

impl UnknownEnumValue {
    /// Records that `text` is not one of `expected`, the values of `enum_name`.
    pub fn new<'a>(
        enum_name: &'static str,
        text: &str,
        expected: impl Iterator<Item = &'a str>,
    ) -> Self {
        Self {
            enum_name,
            text: text.to_owned(),
            expected: expected.map(str::to_owned).collect(),
        }
    }

    /// The enum the text was parsed as.
    pub fn enum_name(&self) -> &str {
        self.enum_name
    }

    /// The text that matched nothing.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for UnknownEnumValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a {} (expected one of {})",
            self.text,
            self.enum_name,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownEnumValue {}
