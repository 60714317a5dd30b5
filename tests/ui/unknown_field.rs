// A fragment that selects a field the schema does not have must not compile.
use incident_schema::schema;

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema_path = "incident-manager.graphql")]
struct IncidentSummary {
    title: String,
    priority: String,
}

fn main() {}
