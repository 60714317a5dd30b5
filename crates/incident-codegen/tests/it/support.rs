//! What the tests share.

use incident_codegen::Documents;

/// A folder `graphql` holding the one document `file` with `text`.
pub(crate) fn documents(file: &str, text: &str) -> Documents {
    Documents::from_texts("graphql", [(file.to_owned(), text.to_owned())])
}
