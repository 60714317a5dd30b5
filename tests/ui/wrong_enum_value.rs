// An enum with a value the schema's enum lacks must not compile.
use incident_schema::schema;

#[derive(cynic::Enum, Clone, Copy, Debug)]
#[cynic(graphql_type = "Severity", schema_path = "incident-manager.graphql")]
enum Severity {
    P0,
    P1,
    P2,
    P3,
    P4,
    P5,
}

fn main() {}
