use crate::Schema;

#[test]
fn the_project_schema_is_in_normal_form() {
    let sdl = incident_schema::SDL;
    let printed = Schema::parse(sdl).unwrap().to_sdl();
    pretty_assertions::assert_eq!(printed, sdl);
}

#[test]
fn printing_round_trips() {
    let sdl = r#"
        directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT
        interface Node { id: ID! }
        type Query implements Node {
          "a field" id: ID!
          items(first: Int = 10, filter: In = {a: [1, 2], b: "x", c: A}): [Item!]! @deprecated(reason: "use other")
        }
        union Item = Query
        enum E { A B @deprecated }
        input In { a: [Int!] b: String c: E = A }
        scalar S
    "#;
    let schema = Schema::parse(sdl).unwrap();
    let printed = schema.to_sdl();
    assert_eq!(Schema::parse(&printed).unwrap(), schema);
    assert_eq!(Schema::parse(&printed).unwrap().to_sdl(), printed);
}

#[test]
fn normal_form_sorts_types_and_puts_the_schema_block_first() {
    let schema = Schema::parse("type B { b: Int } type A { a: Int } schema { query: B }").unwrap();
    assert_eq!(
        schema.to_sdl(),
        "schema {\n  query: B\n}\n\ntype A {\n  a: Int\n}\n\ntype B {\n  b: Int\n}\n"
    );
}
