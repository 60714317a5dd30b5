//! Reading many incidents: filtered, searched, sorted and paged listings, and the statistics.

use super::store::Store;
use crate::model::{Incident, IncidentState, Severity};

/// Filters for listing incidents (all optional, combined with AND).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct IncidentFilter {
    pub states: Option<Vec<IncidentState>>,
    pub severities: Option<Vec<Severity>>,
    pub sources: Option<Vec<String>>,
    pub active_only: Option<bool>,
}

/// Sort keys for listing incidents.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    Severity,
    State,
}

impl IncidentFilter {
    fn admits(&self, incident: &Incident) -> bool {
        self.states
            .as_ref()
            .is_none_or(|s| s.contains(&incident.state))
            && self
                .severities
                .as_ref()
                .is_none_or(|s| s.contains(&incident.severity))
            && self
                .sources
                .as_ref()
                .is_none_or(|s| s.contains(&incident.source))
            && (!self.active_only.unwrap_or(false) || incident.state.is_active())
    }
}

impl Store {
    /// Incidents passing `filter` and `matches`, sorted (newest first by default), and the total
    /// before paging.
    pub fn list(
        &self,
        filter: &IncidentFilter,
        search: Option<&str>,
        sort: Option<(SortField, bool)>,
        page: usize,
        page_size: usize,
    ) -> (Vec<Incident>, usize) {
        let inner = self.read();
        let needle = search.map(str::to_lowercase);
        let mut matching: Vec<&Incident> = inner
            .incidents
            .iter()
            .filter(|i| filter.admits(i))
            .filter(|i| {
                needle.as_ref().is_none_or(|n| {
                    i.title.to_lowercase().contains(n) || i.description.to_lowercase().contains(n)
                })
            })
            .collect();
        // Insertion order is creation order; newest first is the reverse.
        matching.reverse();
        if let Some((field, ascending)) = sort {
            matching.sort_by(|a, b| {
                let order = match field {
                    // Ties by id, so offset pages stay stable between reads.
                    SortField::CreatedAt => a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)),
                    SortField::UpdatedAt => a.updated_at.cmp(&b.updated_at),
                    SortField::Severity => a.severity.cmp(&b.severity),
                    SortField::State => a.state.cmp(&b.state),
                };
                if ascending { order } else { order.reverse() }
            });
        }
        let total = matching.len();
        let page_items = matching
            .into_iter()
            .skip(page * page_size)
            .take(page_size)
            .cloned()
            .collect();
        (page_items, total)
    }

    /// `(total, active, resolved, per-severity counts P0..P4)`.
    pub fn stats(&self) -> (usize, usize, usize, [usize; 5]) {
        let inner = self.read();
        let mut by_severity = [0; 5];
        let mut active = 0;
        let mut resolved = 0;
        for incident in &inner.incidents {
            by_severity[incident.severity as usize] += 1;
            if incident.state.is_active() {
                active += 1;
            } else {
                resolved += 1;
            }
        }
        (inner.incidents.len(), active, resolved, by_severity)
    }
}
