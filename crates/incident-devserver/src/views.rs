//! The views: the JSON the server answers with, one shape for each thing whichever way it is
//! served. Resolvers (queries and mutations), subscriptions and the HTTP routes all build their
//! answers here, so an incident looks the same from `incident(id:)`, a mutation's result and
//! `newIncidents`.

use serde_json::{Value, json};

use crate::data::Store;
use crate::model::Incident;

/// The incident as GraphQL output JSON: related incidents embedded one level deep (each without
/// its own related incidents), computed fields filled in.
pub(crate) fn incident(store: &Store, incident: &Incident) -> Value {
    let related: Vec<Value> = incident
        .related
        .iter()
        .filter_map(|id| store.get(*id))
        .map(|related| incident_json_shallow(&related))
        .collect();
    let mut json = incident_json_shallow(incident);
    json["relatedIncidents"] = Value::Array(related);
    json
}

/// The incident as output JSON without its related incidents.
pub fn incident_json_shallow(incident: &Incident) -> Value {
    let mut json = serde_json::to_value(incident).expect("incidents serialize");
    json["relatedIncidents"] = Value::Array(Vec::new());
    json["activePlaybook"] = Value::Null;
    json["isActive"] = incident.state.is_active().into();
    json["isCritical"] = incident.severity.is_critical().into();
    json
}

/// What `GET /health` and the `health` query answer.
pub(crate) fn health() -> Value {
    json!({ "status": "healthy", "version": env!("CARGO_PKG_VERSION") })
}

impl Store {
    /// The incident as GraphQL output JSON: related incidents embedded one level deep, computed
    /// fields filled in.
    pub fn incident_json(&self, incident: &Incident) -> Value {
        self::incident(self, incident)
    }
}
