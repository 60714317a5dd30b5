//! Paging through `incidents` over HTTP: [`IncidentClient::incidents_paged`], and
//! [`IncidentClient::incidents_changed_since`] built on it.

use cynic::QueryBuilder;
use futures::{Stream, TryStreamExt};
use incident_schema::Timestamp;
use incident_schema::enums::{IncidentSortField, SortOrder};
use incident_schema::inputs::{IncidentFilterInput, IncidentSortInput, PaginationInput};

use crate::client::IncidentClient;
use crate::error::Result;
use crate::operations::{IncidentFields, ListIncidents, ListIncidentsVariables};

/// Incidents asked for per page: the most the server serves.
const PAGE_SIZE: i32 = 100;

impl IncidentClient {
    /// Every incident matching `filter` (all of them with `None`), in `sort` order: `incidents`
    /// queried over HTTP 100 per page, the next page fetched only when the stream is polled past
    /// the previous one, until the server says there is no next page (or a page comes back
    /// empty). Stop polling to stop paging. A failed page is yielded as the stream's one error
    /// and ends it.
    ///
    /// The pages are offsets into the listing as it is when each is fetched: an incident that
    /// moves in the order meanwhile (created, or updated when sorting by `UPDATED_AT`) can shift
    /// an incident across a page boundary. Sorting by `CREATED_AT` ascending is stable against
    /// incidents opened meanwhile (they land on later pages).
    ///
    /// The stream is not `Unpin`: pin it (`std::pin::pin!`) to call `try_next`, or consume it
    /// with combinators such as `try_collect`.
    ///
    /// The catch-up of `new_incidents`, `critical_incidents` and `subscribe_caught_up` does not
    /// use this: its delivery machine pages oldest first and searches those pages for where to
    /// resume, fetching only as fast as the consumer takes incidents.
    ///
    /// ```no_run
    /// # async fn example(client: incident_client::IncidentClient) -> incident_client::Result<()> {
    /// use futures::TryStreamExt;
    /// use incident_client::enums::{IncidentSortField, SortOrder};
    /// use incident_client::inputs::IncidentSortInput;
    ///
    /// let oldest_first = IncidentSortInput {
    ///     field: IncidentSortField::CreatedAt,
    ///     order: SortOrder::Asc,
    /// };
    /// let mut incidents = std::pin::pin!(client.incidents_paged(None, oldest_first));
    /// while let Some(incident) = incidents.try_next().await? {
    ///     println!("{} {}", incident.id, incident.title);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn incidents_paged(
        &self,
        filter: Option<IncidentFilterInput>,
        sort: IncidentSortInput,
    ) -> impl Stream<Item = Result<IncidentFields>> + '_ {
        let pages = Pages {
            client: self,
            filter,
            sort,
            next: Some(0),
            listed: Vec::new().into_iter(),
        };
        futures::stream::unfold(pages, Pages::step)
    }

    /// Every incident changed (created or updated) at or after `since`, oldest change first:
    /// the reconciliation query for a [`crate::GapWindow`] on streams that cannot be replayed
    /// (`incident_updates`, `incident_state_changes`). Pages through `incidents` sorted by
    /// `UPDATED_AT`, newest first ([`IncidentClient::incidents_paged`]), until it passes `since`;
    /// each incident appears once, as it is now.
    pub async fn incidents_changed_since(&self, since: Timestamp) -> Result<Vec<IncidentFields>> {
        let newest_first = IncidentSortInput {
            field: IncidentSortField::UpdatedAt,
            order: SortOrder::Desc,
        };
        let mut changed: Vec<IncidentFields> = self
            .incidents_paged(None, newest_first)
            .try_take_while(|incident| futures::future::ready(Ok(incident.updated_at >= since)))
            .try_collect()
            .await?;
        changed.reverse();
        Ok(changed)
    }
}

/// The state of [`IncidentClient::incidents_paged`] between items.
struct Pages<'a> {
    client: &'a IncidentClient,
    filter: Option<IncidentFilterInput>,
    sort: IncidentSortInput,
    /// The page to fetch once `listed` is used up; `None` after the last one, or an error.
    next: Option<i32>,
    /// The rest of the page fetched last.
    listed: std::vec::IntoIter<IncidentFields>,
}

impl Pages<'_> {
    /// The next incident (fetching the next page first if the last one is used up), or the
    /// error that ends the stream, or `None` after the last page.
    async fn step(mut self) -> Option<(Result<IncidentFields>, Self)> {
        loop {
            if let Some(incident) = self.listed.next() {
                return Some((Ok(incident), self));
            }
            let page = self.next?;
            let variables = ListIncidentsVariables {
                filter: self.filter.clone(),
                pagination: Some(PaginationInput {
                    page,
                    page_size: PAGE_SIZE,
                }),
                sort: Some(self.sort.clone()),
            };
            match self.client.execute(ListIncidents::build(variables)).await {
                Ok(response) => {
                    let found = response.incidents;
                    let more = found.page_info.has_next_page && !found.incidents.is_empty();
                    self.next = more.then_some(page + 1);
                    self.listed = found.incidents.into_iter();
                }
                Err(error) => {
                    self.next = None;
                    return Some((Err(error), self));
                }
            }
        }
    }
}
