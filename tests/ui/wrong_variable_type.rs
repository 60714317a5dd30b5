// A variable whose Rust type does not match the argument's GraphQL type must not compile.
use incident_schema::schema;

#[derive(cynic::QueryVariables, Debug)]
struct NewIncidentsVariables {
    severities: Option<Vec<i32>>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema_path = "incident-manager.graphql")]
struct IncidentTitle {
    title: String,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(
    graphql_type = "SubscriptionRoot",
    variables = "NewIncidentsVariables",
    schema_path = "incident-manager.graphql"
)]
struct NewIncidents {
    #[arguments(severities: $severities)]
    new_incidents: IncidentTitle,
}

fn main() {}
