//! Classifies the changes between two schemas, as they affect a client.
//!
//! - **Breaking**: an operation that compiled and worked against the old schema may fail to compile or
//!   fail at run time: a type, field, argument, enum value or union member removed; a type's kind
//!   changed; an output field made nullable or retyped; an argument or input field made required or
//!   retyped; a required argument or input field added; a root type renamed.
//! - **Dangerous**: old operations still work, but may see something new: an enum value or union member
//!   added (clients must tolerate unknown values), a default value changed, an optional argument added.
//! - **Safe**: nothing a client relies on changes: a type or field added, an optional input field added,
//!   an output field made non-null, an argument made optional, a description or applied directive changed.

use std::collections::BTreeSet;
use std::fmt;

use crate::model::{EnumValue, Field, InputValue, Schema, TypeDef, TypeKind, TypeRef};

/// How much a change matters to existing clients. Ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Nothing a client relies on changes.
    Safe,
    /// Existing operations keep working but may see new values or behaviour.
    Dangerous,
    /// Existing operations may stop compiling or fail at run time.
    Breaking,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Safe => "safe",
            Severity::Dangerous => "dangerous",
            Severity::Breaking => "breaking",
        })
    }
}

/// One classified difference between two schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// How much it matters.
    pub severity: Severity,
    /// The schema coordinate it concerns, such as `Incident.title` or `QueryRoot.incident(id:)`.
    pub path: String,
    /// What happened, in a sentence fragment that reads after the path's kind.
    pub message: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every change from `old` to `new`, sorted by severity (breaking first), then by path.
pub fn diff(old: &Schema, new: &Schema) -> Vec<Change> {
    let mut changes = Changes(Vec::new());
    roots(&mut changes, old, new);
    for (name, old_def) in &old.directives {
        match new.directives.get(name) {
            None => changes.push(
                Severity::Breaking,
                name,
                format!("directive @{name} was removed"),
            ),
            Some(new_def) if new_def != old_def => changes.push(
                Severity::Dangerous,
                name,
                format!("directive @{name} changed"),
            ),
            Some(_) => {}
        }
    }
    for name in new
        .directives
        .keys()
        .filter(|n| !old.directives.contains_key(*n))
    {
        changes.push(Severity::Safe, name, format!("directive @{name} was added"));
    }
    for (name, old_ty) in &old.types {
        match new.types.get(name) {
            None => changes.push(
                Severity::Breaking,
                name,
                format!("{} {name} was removed", kind_name(&old_ty.kind)),
            ),
            Some(new_ty) => type_changes(&mut changes, old_ty, new_ty),
        }
    }
    for (name, ty) in new
        .types
        .iter()
        .filter(|(n, _)| !old.types.contains_key(*n))
    {
        changes.push(
            Severity::Safe,
            name,
            format!("{} {name} was added", kind_name(&ty.kind)),
        );
    }
    let mut changes = changes.0;
    changes.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.path.cmp(&b.path))
    });
    changes
}

struct Changes(Vec<Change>);

impl Changes {
    fn push(&mut self, severity: Severity, path: &str, message: String) {
        self.0.push(Change {
            severity,
            path: path.to_owned(),
            message,
        });
    }
}

fn roots(changes: &mut Changes, old: &Schema, new: &Schema) {
    let pairs = [
        ("query", &old.roots.query, &new.roots.query),
        ("mutation", &old.roots.mutation, &new.roots.mutation),
        (
            "subscription",
            &old.roots.subscription,
            &new.roots.subscription,
        ),
    ];
    for (operation, old_root, new_root) in pairs {
        match (old_root, new_root) {
            (Some(a), Some(b)) if a != b => changes.push(
                Severity::Breaking,
                "schema",
                format!("{operation} root type changed from {a} to {b}"),
            ),
            (Some(a), None) => changes.push(
                Severity::Breaking,
                "schema",
                format!("{operation} root type {a} was removed"),
            ),
            (None, Some(b)) => changes.push(
                Severity::Safe,
                "schema",
                format!("{operation} root type {b} was added"),
            ),
            _ => {}
        }
    }
}

fn kind_name(kind: &TypeKind) -> &'static str {
    match kind {
        TypeKind::Scalar => "scalar",
        TypeKind::Object { .. } => "type",
        TypeKind::Interface { .. } => "interface",
        TypeKind::Union { .. } => "union",
        TypeKind::Enum { .. } => "enum",
        TypeKind::InputObject { .. } => "input",
    }
}

fn type_changes(changes: &mut Changes, old: &TypeDef, new: &TypeDef) {
    let name = &old.name;
    if old.description != new.description {
        changes.push(
            Severity::Safe,
            name,
            format!("description of {name} changed"),
        );
    }
    match (&old.kind, &new.kind) {
        (TypeKind::Scalar, TypeKind::Scalar) => {}
        (
            TypeKind::Object {
                interfaces: oi,
                fields: of,
            },
            TypeKind::Object {
                interfaces: ni,
                fields: nf,
            },
        )
        | (
            TypeKind::Interface {
                interfaces: oi,
                fields: of,
            },
            TypeKind::Interface {
                interfaces: ni,
                fields: nf,
            },
        ) => {
            named_set_changes(changes, name, "interface", oi, ni, Severity::Safe);
            output_fields(changes, name, of, nf);
        }
        (TypeKind::Union { members: om }, TypeKind::Union { members: nm }) => {
            named_set_changes(changes, name, "member", om, nm, Severity::Dangerous);
        }
        (TypeKind::Enum { values: ov }, TypeKind::Enum { values: nv }) => {
            enum_values(changes, name, ov, nv);
        }
        (TypeKind::InputObject { fields: of }, TypeKind::InputObject { fields: nf }) => {
            input_values(changes, name, "input field", of, nf, Severity::Safe);
        }
        (old_kind, new_kind) => changes.push(
            Severity::Breaking,
            name,
            format!(
                "{name} changed from {} to {}",
                kind_name(old_kind),
                kind_name(new_kind)
            ),
        ),
    }
}

fn named_set_changes(
    changes: &mut Changes,
    owner: &str,
    what: &str,
    old: &[String],
    new: &[String],
    added: Severity,
) {
    let old_set: BTreeSet<&String> = old.iter().collect();
    let new_set: BTreeSet<&String> = new.iter().collect();
    for removed in old_set.difference(&new_set) {
        changes.push(
            Severity::Breaking,
            owner,
            format!("{what} {removed} was removed from {owner}"),
        );
    }
    for added_name in new_set.difference(&old_set) {
        changes.push(
            added,
            owner,
            format!("{what} {added_name} was added to {owner}"),
        );
    }
}

fn output_fields(changes: &mut Changes, owner: &str, old: &[Field], new: &[Field]) {
    for old_field in old {
        let path = format!("{owner}.{}", old_field.name);
        let Some(new_field) = new.iter().find(|f| f.name == old_field.name) else {
            changes.push(
                Severity::Breaking,
                &path,
                format!("field {path} was removed"),
            );
            continue;
        };
        if !output_compatible(&old_field.ty, &new_field.ty) {
            changes.push(
                Severity::Breaking,
                &path,
                format!(
                    "field {path} changed type from {} to {}",
                    old_field.ty, new_field.ty
                ),
            );
        } else if old_field.ty != new_field.ty {
            changes.push(
                Severity::Safe,
                &path,
                format!(
                    "field {path} changed type from {} to {}",
                    old_field.ty, new_field.ty
                ),
            );
        }
        if old_field.description != new_field.description {
            changes.push(
                Severity::Safe,
                &path,
                format!("description of field {path} changed"),
            );
        }
        if old_field.directives != new_field.directives {
            changes.push(
                Severity::Safe,
                &path,
                format!("directives on field {path} changed"),
            );
        }
        input_values(
            changes,
            &path,
            "argument",
            &old_field.args,
            &new_field.args,
            Severity::Dangerous,
        );
    }
    for new_field in new.iter().filter(|f| !old.iter().any(|o| o.name == f.name)) {
        let path = format!("{owner}.{}", new_field.name);
        changes.push(Severity::Safe, &path, format!("field {path} was added"));
    }
}

/// Compares arguments (of a field) or fields (of an input object). `optional_added` is the severity
/// of adding one that callers may leave out.
fn input_values(
    changes: &mut Changes,
    owner: &str,
    what: &str,
    old: &[InputValue],
    new: &[InputValue],
    optional_added: Severity,
) {
    let coordinate = |name: &str| {
        if what == "argument" {
            format!("{owner}({name}:)")
        } else {
            format!("{owner}.{name}")
        }
    };
    for old_value in old {
        let path = coordinate(&old_value.name);
        let Some(new_value) = new.iter().find(|v| v.name == old_value.name) else {
            changes.push(
                Severity::Breaking,
                &path,
                format!("{what} {path} was removed"),
            );
            continue;
        };
        let retyped = format!(
            "{what} {path} changed type from {} to {}",
            old_value.ty, new_value.ty
        );
        if !input_compatible(&old_value.ty, &new_value.ty) {
            changes.push(Severity::Breaking, &path, retyped);
        } else if old_value.ty != new_value.ty {
            changes.push(Severity::Safe, &path, retyped);
        }
        if old_value.default != new_value.default {
            let show = |d: &Option<String>| d.clone().unwrap_or_else(|| "none".to_owned());
            changes.push(
                Severity::Dangerous,
                &path,
                format!(
                    "default of {what} {path} changed from {} to {}",
                    show(&old_value.default),
                    show(&new_value.default)
                ),
            );
        }
        if old_value.description != new_value.description {
            changes.push(
                Severity::Safe,
                &path,
                format!("description of {what} {path} changed"),
            );
        }
    }
    for new_value in new.iter().filter(|v| !old.iter().any(|o| o.name == v.name)) {
        let path = coordinate(&new_value.name);
        if new_value.ty.is_non_null() && new_value.default.is_none() {
            changes.push(
                Severity::Breaking,
                &path,
                format!("required {what} {path} was added"),
            );
        } else {
            changes.push(
                optional_added,
                &path,
                format!("optional {what} {path} was added"),
            );
        }
    }
}

fn enum_values(changes: &mut Changes, owner: &str, old: &[EnumValue], new: &[EnumValue]) {
    for old_value in old {
        let path = format!("{owner}.{}", old_value.name);
        match new.iter().find(|v| v.name == old_value.name) {
            None => changes.push(
                Severity::Breaking,
                &path,
                format!("enum value {path} was removed"),
            ),
            Some(new_value) => {
                if old_value.description != new_value.description {
                    changes.push(
                        Severity::Safe,
                        &path,
                        format!("description of enum value {path} changed"),
                    );
                }
                if old_value.directives != new_value.directives {
                    changes.push(
                        Severity::Safe,
                        &path,
                        format!("directives on enum value {path} changed"),
                    );
                }
            }
        }
    }
    for new_value in new.iter().filter(|v| !old.iter().any(|o| o.name == v.name)) {
        let path = format!("{owner}.{}", new_value.name);
        changes.push(
            Severity::Dangerous,
            &path,
            format!("enum value {path} was added"),
        );
    }
}

/// Whether a client that reads values of type `old` can still read values of type `new`.
/// Tightening (nullable to non-null) is fine; loosening or renaming is not.
fn output_compatible(old: &TypeRef, new: &TypeRef) -> bool {
    match (old, new) {
        (TypeRef::NonNull(o), TypeRef::NonNull(n)) => output_compatible(o, n),
        (TypeRef::NonNull(_), _) => false,
        (o, TypeRef::NonNull(n)) => output_compatible(o, n),
        (TypeRef::List(o), TypeRef::List(n)) => output_compatible(o, n),
        (TypeRef::Named(o), TypeRef::Named(n)) => o == n,
        _ => false,
    }
}

/// Whether a client that sends values of type `old` can still send them where `new` is expected.
/// Loosening (non-null to nullable) is fine; tightening or renaming is not.
fn input_compatible(old: &TypeRef, new: &TypeRef) -> bool {
    match (old, new) {
        (TypeRef::NonNull(o), TypeRef::NonNull(n)) => input_compatible(o, n),
        (TypeRef::NonNull(o), n) => input_compatible(o, n),
        (_, TypeRef::NonNull(_)) => false,
        (TypeRef::List(o), TypeRef::List(n)) => input_compatible(o, n),
        (TypeRef::Named(o), TypeRef::Named(n)) => o == n,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
