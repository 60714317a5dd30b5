//! `schema check`: which of a user's operations a schema change breaks.

use incident_codegen::{Documents, check};

use crate::support;

const SDL: &str = incident_schema::SDL;

fn pager() -> Documents {
    support::documents(
        "pager.graphql",
        "subscription Pager { criticalIncidents { id title severity } }\n\
         query Recent($page: PaginationInput) { incidents(pagination: $page) { incidents { id } } }\n",
    )
}

fn changed(from: &str, to: &str) -> String {
    assert!(SDL.contains(from), "{from}");
    SDL.replacen(from, to, 1)
}

#[test]
fn a_removed_field_nobody_selects_is_reported_but_does_not_fail() {
    let new = changed("  correlationScore: Float\n", "");
    let report = check(SDL, &new, &pager()).unwrap();
    assert!(!report.breaks_documents());
    let text = report.to_text();
    assert!(
        text.contains("breaking, used by none of your operations (1):"),
        "{text}"
    );
    assert!(
        text.contains("field Incident.correlationScore was removed"),
        "{text}"
    );
}

#[test]
fn a_removed_field_an_operation_selects_fails_naming_it() {
    let new = changed(
        "  title: String!\n  description: String!\n  affectedResources",
        "  description: String!\n  affectedResources",
    );
    let report = check(SDL, &new, &pager()).unwrap();
    assert!(report.breaks_documents());
    let text = report.to_text();
    assert!(
        text.contains("breaking, used by your operations (1):"),
        "{text}"
    );
    assert!(
        text.contains("operation Pager (graphql/pager.graphql) at criticalIncidents.title"),
        "{text}"
    );
    let json = report.to_json();
    assert!(json.starts_with("{\"breaks_documents\":true"), "{json}");
    assert!(json.contains("\"operation\":\"Pager\""), "{json}");
}

#[test]
fn a_changed_argument_type_breaks_the_operation_that_passes_it() {
    let new = changed(
        "incidents(filter: IncidentFilterInput, pagination: PaginationInput, sort",
        "incidents(filter: IncidentFilterInput, pagination: Int, sort",
    );
    let report = check(SDL, &new, &pager()).unwrap();
    assert!(report.breaks_documents());
    assert!(
        report
            .to_text()
            .contains("operation Recent (graphql/pager.graphql) at incidents"),
        "{}",
        report.to_text()
    );
}

#[test]
fn an_added_enum_value_is_dangerous_for_operations_that_receive_it() {
    let new = changed("  P3\n  P4\n}", "  P3\n  P4\n  P5\n}");
    let report = check(SDL, &new, &pager()).unwrap();
    assert!(!report.breaks_documents(), "dangerous is not breaking");
    let text = report.to_text();
    assert!(
        text.contains("dangerous, used by your operations (1):"),
        "{text}"
    );
    assert!(text.contains("criticalIncidents.severity"), "{text}");
}
