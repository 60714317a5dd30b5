//! A folder of GraphQL documents, read once.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Error, Result};

/// The `.graphql` files of one folder, by file name, and the folder's name as the caller gave it
/// (used in messages and in the generated header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documents {
    label: String,
    files: BTreeMap<String, String>,
}

impl Documents {
    /// Every `*.graphql` file directly in `dir`, sorted by name.
    pub fn read(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error(format!("reading the documents in {}: {e}", dir.display())))?;
        let mut files = BTreeMap::new();
        for entry in entries {
            let path = entry
                .map_err(|e| Error(format!("reading {}: {e}", dir.display())))?
                .path();
            if path.extension().is_some_and(|e| e == "graphql") {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| Error(format!("reading {}: {e}", path.display())))?;
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                files.insert(name, text);
            }
        }
        if files.is_empty() {
            return Err(Error(format!("no .graphql documents in {}", dir.display())));
        }
        Ok(Self {
            label: dir.display().to_string(),
            files,
        })
    }

    /// Documents from memory: `(file name, text)` pairs under the folder name `label`.
    pub fn from_texts(
        label: impl Into<String>,
        texts: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Self {
            label: label.into(),
            files: texts.into_iter().collect(),
        }
    }

    /// The same documents under another folder name, for messages and the header (a path
    /// relative to the project, say, when they were read by an absolute one).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// The folder's name, as given.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The file names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// `label/name`, for messages.
    pub(crate) fn path_of(&self, name: &str) -> String {
        format!("{}/{name}", self.label.trim_end_matches('/'))
    }

    /// `(file name, text)`, sorted by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
