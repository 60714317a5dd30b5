use super::*;

/// Diffs `old` against `new` and compares the changes, printed as `severity: message`, with `expected`.
fn check(old: &str, new: &str, expected: &[&str]) {
    let old = Schema::parse(old).unwrap();
    let new = Schema::parse(new).unwrap();
    let actual: Vec<String> = diff(&old, &new)
        .iter()
        .map(|c| format!("{}: {}", c.severity, c))
        .collect();
    pretty_assertions::assert_eq!(actual, expected);
}

#[test]
fn identical_schemas_have_no_changes() {
    let sdl = incident_schema::SDL;
    check(sdl, sdl, &[]);
}

#[test]
fn removals_are_breaking() {
    check(
        "type Q { a: Int b: Int }",
        "type Q { a: Int }",
        &["breaking: field Q.b was removed"],
    );
    check(
        "type Q { a: Int } type R { a: Int }",
        "type Q { a: Int }",
        &["breaking: type R was removed"],
    );
    check(
        "enum E { A B }",
        "enum E { A }",
        &["breaking: enum value E.B was removed"],
    );
    check(
        "type Q { a(x: Int): Int }",
        "type Q { a: Int }",
        &["breaking: argument Q.a(x:) was removed"],
    );
    check(
        "type A { a: Int } type B { b: Int } union U = A | B",
        "type A { a: Int } type B { b: Int } union U = A",
        &["breaking: member B was removed from U"],
    );
    check(
        "input I { a: Int b: Int }",
        "input I { a: Int }",
        &["breaking: input field I.b was removed"],
    );
}

#[test]
fn incompatible_type_changes_are_breaking() {
    check(
        "type Q { a: Int! }",
        "type Q { a: Int }",
        &["breaking: field Q.a changed type from Int! to Int"],
    );
    check(
        "type Q { a: Int }",
        "type Q { a: String }",
        &["breaking: field Q.a changed type from Int to String"],
    );
    check(
        "type Q { a(x: Int): Int }",
        "type Q { a(x: Int!): Int }",
        &["breaking: argument Q.a(x:) changed type from Int to Int!"],
    );
    check(
        "input I { a: [Int] }",
        "input I { a: Int }",
        &["breaking: input field I.a changed type from [Int] to Int"],
    );
    check(
        "scalar S",
        "enum S { A }",
        &["breaking: S changed from scalar to enum"],
    );
    check(
        "schema { query: Q } type Q { a: Int } type R { a: Int }",
        "schema { query: R } type Q { a: Int } type R { a: Int }",
        &["breaking: query root type changed from Q to R"],
    );
}

#[test]
fn required_additions_are_breaking() {
    check(
        "type Q { a: Int }",
        "type Q { a(x: Int!): Int }",
        &["breaking: required argument Q.a(x:) was added"],
    );
    check(
        "input I { a: Int }",
        "input I { a: Int b: String! }",
        &["breaking: required input field I.b was added"],
    );
}

#[test]
fn additions_clients_may_see_are_dangerous() {
    check(
        "enum E { A }",
        "enum E { A B }",
        &["dangerous: enum value E.B was added"],
    );
    check(
        "type Q { a: Int }",
        "type Q { a(x: Int): Int }",
        &["dangerous: optional argument Q.a(x:) was added"],
    );
    check(
        "type Q { a(x: Int!): Int }",
        "type Q { a(x: Int! = 1): Int }",
        &["dangerous: default of argument Q.a(x:) changed from none to 1"],
    );
    check(
        "input I { a: Int! = 0 }",
        "input I { a: Int! = 20 }",
        &["dangerous: default of input field I.a changed from 0 to 20"],
    );
    check(
        "type A { a: Int } type B { b: Int } union U = A",
        "type A { a: Int } type B { b: Int } union U = A | B",
        &["dangerous: member B was added to U"],
    );
}

#[test]
fn compatible_changes_are_safe() {
    check(
        "type Q { a: Int }",
        "type Q { a: Int b: Int }",
        &["safe: field Q.b was added"],
    );
    check(
        "type Q { a: Int }",
        "type Q { a: Int } scalar S",
        &["safe: scalar S was added"],
    );
    check(
        "type Q { a: Int }",
        "\"\"\"About Q.\"\"\" type Q { a: Int }",
        &["safe: description of Q changed"],
    );
    check(
        "type Q { a: Int }",
        "type Q { \"\"\"Doc.\"\"\" a: Int }",
        &["safe: description of field Q.a changed"],
    );
    check(
        "type Q { a: Int }",
        "type Q { a: Int! }",
        &["safe: field Q.a changed type from Int to Int!"],
    );
    check(
        "type Q { a(x: Int!): Int }",
        "type Q { a(x: Int): Int }",
        &["safe: argument Q.a(x:) changed type from Int! to Int"],
    );
    check(
        "input I { a: Int }",
        "input I { a: Int b: Int }",
        &["safe: optional input field I.b was added"],
    );
}

#[test]
fn changes_are_sorted_breaking_first() {
    check(
        "enum E { A } type Q { a: Int b: Int }",
        "enum E { A B } type Q { a: Int c: Int }",
        &[
            "breaking: field Q.b was removed",
            "dangerous: enum value E.B was added",
            "safe: field Q.c was added",
        ],
    );
}
