//! The normalized SDL printer.
//!
//! Normal form: the `schema` block first, then directive definitions and named types, each group
//! sorted by name; members keep their declared order, because that order is meaningful to readers
//! and the server keeps it too. Two-space indentation, one blank line between definitions,
//! descriptions as block strings.

use std::fmt::Write;

use cynic_parser::ConstValue;
use cynic_parser::type_system as ast;

use crate::model::{Directive, EnumValue, Field, InputValue, Schema, TypeDef, TypeKind};

impl Schema {
    /// Prints the schema in normalized SDL. Parsing the output gives back an equal [`Schema`].
    pub fn to_sdl(&self) -> String {
        let mut blocks = Vec::new();
        let roots = [
            ("query", &self.roots.query),
            ("mutation", &self.roots.mutation),
            ("subscription", &self.roots.subscription),
        ];
        if roots.iter().any(|(_, name)| name.is_some()) {
            let mut block = String::from("schema {\n");
            for (operation, name) in roots {
                if let Some(name) = name {
                    let _ = writeln!(block, "  {operation}: {name}");
                }
            }
            block.push('}');
            blocks.push(block);
        }
        blocks.extend(self.directives.values().cloned());
        blocks.extend(self.types.values().map(type_def));
        let mut out = blocks.join("\n\n");
        out.push('\n');
        out
    }
}

fn type_def(ty: &TypeDef) -> String {
    let mut out = String::new();
    description(&mut out, ty.description.as_deref(), "");
    match &ty.kind {
        TypeKind::Scalar => {
            let _ = write!(out, "scalar {}", ty.name);
        }
        TypeKind::Object { interfaces, fields } | TypeKind::Interface { interfaces, fields } => {
            let keyword = if matches!(ty.kind, TypeKind::Object { .. }) {
                "type"
            } else {
                "interface"
            };
            let _ = write!(out, "{keyword} {}", ty.name);
            if !interfaces.is_empty() {
                let _ = write!(out, " implements {}", interfaces.join(" & "));
            }
            members(&mut out, fields, field);
        }
        TypeKind::Union { members } => {
            let _ = write!(out, "union {} = {}", ty.name, members.join(" | "));
        }
        TypeKind::Enum { values } => {
            let _ = write!(out, "enum {}", ty.name);
            members(&mut out, values, enum_value);
        }
        TypeKind::InputObject { fields } => {
            let _ = write!(out, "input {}", ty.name);
            members(&mut out, fields, |out, value| input_value(out, value, "  "));
        }
    }
    out
}

fn members<T>(out: &mut String, items: &[T], print: impl Fn(&mut String, &T)) {
    if items.is_empty() {
        return;
    }
    out.push_str(" {\n");
    for item in items {
        print(out, item);
        out.push('\n');
    }
    out.push('}');
}

fn field(out: &mut String, field: &Field) {
    description(out, field.description.as_deref(), "  ");
    let _ = write!(out, "  {}", field.name);
    if field.args.iter().any(|arg| arg.description.is_some()) {
        out.push_str("(\n");
        for arg in &field.args {
            input_value(out, arg, "    ");
            out.push('\n');
        }
        out.push_str("  )");
    } else if !field.args.is_empty() {
        let args: Vec<String> = field
            .args
            .iter()
            .map(|arg| {
                let mut text = String::new();
                input_value(&mut text, arg, "");
                text
            })
            .collect();
        let _ = write!(out, "({})", args.join(", "));
    }
    let _ = write!(out, ": {}", field.ty);
    applied_directives(out, &field.directives);
}

fn input_value(out: &mut String, value: &InputValue, indent: &str) {
    description(out, value.description.as_deref(), indent);
    let _ = write!(out, "{indent}{}: {}", value.name, value.ty);
    if let Some(default) = &value.default {
        let _ = write!(out, " = {default}");
    }
    applied_directives(out, &value.directives);
}

fn enum_value(out: &mut String, value: &EnumValue) {
    description(out, value.description.as_deref(), "  ");
    let _ = write!(out, "  {}", value.name);
    applied_directives(out, &value.directives);
}

fn applied_directives(out: &mut String, directives: &[Directive]) {
    for directive in directives {
        let _ = write!(out, " {}", directive.0);
    }
}

fn description(out: &mut String, text: Option<&str>, indent: &str) {
    let Some(text) = text else { return };
    let text = text.replace("\"\"\"", "\\\"\"\"");
    if text.contains('\n') {
        let _ = writeln!(out, "{indent}\"\"\"");
        for line in text.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "{indent}{line}");
            }
        }
        let _ = writeln!(out, "{indent}\"\"\"");
    } else {
        let _ = writeln!(out, "{indent}\"\"\"{text}\"\"\"");
    }
}

/// Prints a directive definition in normal form.
pub(crate) fn directive_definition(out: &mut String, def: ast::DirectiveDefinition<'_>) {
    if let Some(text) = def.description() {
        description(out, Some(text.literal().to_cow().trim()), "");
    }
    let _ = write!(out, "directive @{}", def.name());
    let args: Vec<String> = def
        .arguments()
        .map(|arg| {
            let mut text = format!("{}: {}", arg.name(), arg.ty());
            if let Some(default) = arg.default_value() {
                text.push_str(" = ");
                const_value(&mut text, default);
            }
            text
        })
        .collect();
    if !args.is_empty() {
        let _ = write!(out, "({})", args.join(", "));
    }
    if def.is_repeatable() {
        out.push_str(" repeatable");
    }
    let locations: Vec<&str> = def.locations().map(|l| l.as_str()).collect();
    let _ = write!(out, " on {}", locations.join(" | "));
}

/// Prints a constant value as GraphQL.
pub(crate) fn const_value(out: &mut String, value: ConstValue<'_>) {
    match value {
        ConstValue::Int(v) => {
            let _ = write!(out, "{}", v.value());
        }
        ConstValue::Float(v) => {
            let _ = write!(out, "{}", v.value());
        }
        ConstValue::String(v) => {
            let _ = write!(out, "\"{}\"", v.value());
        }
        ConstValue::Boolean(v) => {
            let _ = write!(out, "{}", v.value());
        }
        ConstValue::Null(_) => out.push_str("null"),
        ConstValue::Enum(v) => out.push_str(v.name()),
        ConstValue::List(list) => {
            out.push('[');
            for (i, item) in list.items().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                const_value(out, item);
            }
            out.push(']');
        }
        ConstValue::Object(object) => {
            out.push('{');
            for (i, field) in object.fields().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{}: ", field.name());
                const_value(out, field.value());
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests;
