//! `schema check`: the classified diff between two schemas, and which of a folder's operations
//! each breaking or dangerous change affects.

use std::collections::BTreeMap;

use incident_sdl::{Change, Schema, Severity, TypeKind};
use serde_json::json;

use crate::usage::{Usage, concerns, usages};
use crate::{Documents, Error, Result};

/// One change, and the operations it affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedChange {
    /// The change, as `incident_sdl::diff` classifies it.
    pub change: Change,
    /// The places in the documents that rely on what changed (empty: nothing uses it).
    pub used_by: Vec<Usage>,
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Every change, breaking first.
    pub changes: Vec<CheckedChange>,
}

impl Check {
    /// Changes with no documents to check them against (a plain diff, or what a pull changed).
    pub fn from_changes(changes: Vec<Change>) -> Self {
        Check {
            changes: changes
                .into_iter()
                .map(|change| CheckedChange {
                    change,
                    used_by: Vec::new(),
                })
                .collect(),
        }
    }

    /// Whether a breaking change affects an operation: what fails a CI job.
    pub fn breaks_documents(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.change.severity == Severity::Breaking && !c.used_by.is_empty())
    }

    /// The report for people: changes that affect the documents first, each with its users.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        if self.changes.is_empty() {
            out.push_str("no changes\n");
            return out;
        }
        let groups = [
            (
                Severity::Breaking,
                true,
                "breaking, used by your operations",
            ),
            (
                Severity::Breaking,
                false,
                "breaking, used by none of your operations",
            ),
            (
                Severity::Dangerous,
                true,
                "dangerous, used by your operations",
            ),
            (
                Severity::Dangerous,
                false,
                "dangerous, used by none of your operations",
            ),
        ];
        for (severity, used, heading) in groups {
            let group: Vec<&CheckedChange> = self
                .changes
                .iter()
                .filter(|c| c.change.severity == severity && c.used_by.is_empty() != used)
                .collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{heading} ({}):", group.len());
            for checked in group {
                let _ = writeln!(out, "  {}", checked.change);
                for usage in &checked.used_by {
                    let _ = writeln!(
                        out,
                        "    operation {} ({}) at {}",
                        usage.operation, usage.file, usage.at
                    );
                }
            }
        }
        let safe = self
            .changes
            .iter()
            .filter(|c| c.change.severity == Severity::Safe)
            .count();
        if safe > 0 {
            let _ = writeln!(out, "safe ({safe})");
        }
        out
    }

    /// The plain classified diff: changes grouped by severity, breaking first.
    pub fn to_diff_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        if self.changes.is_empty() {
            out.push_str("no changes\n");
            return out;
        }
        for severity in [Severity::Breaking, Severity::Dangerous, Severity::Safe] {
            let group: Vec<&CheckedChange> = self
                .changes
                .iter()
                .filter(|c| c.change.severity == severity)
                .collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{severity} ({}):", group.len());
            for checked in group {
                let _ = writeln!(out, "  {}", checked.change);
            }
        }
        out
    }

    /// Whether any change is breaking.
    pub fn has_breaking(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.change.severity == Severity::Breaking)
    }

    /// The report for CI tools: one object per change with `severity`, `path`, `message` and
    /// `used_by` (operation, file, at).
    pub fn to_json(&self) -> String {
        let changes: Vec<serde_json::Value> = self
            .changes
            .iter()
            .map(|c| {
                let used_by: Vec<serde_json::Value> = c
                    .used_by
                    .iter()
                    .map(|u| json!({ "operation": u.operation, "file": u.file, "at": u.at }))
                    .collect();
                json!({
                    "severity": c.change.severity.to_string(),
                    "path": c.change.path,
                    "message": c.change.message,
                    "used_by": used_by,
                })
            })
            .collect();
        json!({ "breaks_documents": self.breaks_documents(), "changes": changes }).to_string()
    }
}

/// Compares `old_sdl` with `new_sdl` and finds, for each breaking or dangerous change, the
/// operations in `documents` it affects. The documents are read against the old schema (the one
/// they were written for).
pub fn check(old_sdl: &str, new_sdl: &str, documents: &Documents) -> Result<Check> {
    let parse = |sdl: &str, which: &str| {
        Schema::parse(sdl).map_err(|e| Error(format!("the {which} schema does not parse: {e}")))
    };
    let old = parse(old_sdl, "old")?;
    let new = parse(new_sdl, "new")?;
    let found = usages(documents, &old)?;
    let value_types: BTreeMap<String, bool> = old
        .types
        .iter()
        .map(|(name, ty)| {
            let whole = !matches!(
                ty.kind,
                TypeKind::Object { .. } | TypeKind::Interface { .. }
            );
            (name.clone(), whole)
        })
        .collect();
    let changes = incident_sdl::diff(&old, &new)
        .into_iter()
        .map(|change| {
            let used_by = if change.severity == Severity::Safe {
                Vec::new()
            } else {
                found
                    .iter()
                    .filter(|u| concerns(&change.path, u, &value_types))
                    .cloned()
                    .collect()
            };
            CheckedChange { change, used_by }
        })
        .collect();
    Ok(Check { changes })
}
