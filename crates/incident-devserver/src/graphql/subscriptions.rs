//! The five subscriptions: receivers of the store's event feed with their filters applied,
//! incidents shaped by `views` as queries shape them.
//!
//! Slow subscribers: each subscription reads the feed through its own bounded window (the feed's
//! capacity, `DevServerBuilder::event_capacity`). A subscriber that falls further behind than that
//! is not allowed to hold anyone up: its subscription ends with the error
//! `subscriber too slow: N events dropped`, which the client sees as the subscription's last
//! message. Other subscribers are unaffected.

use std::sync::Arc;

use async_graphql::Value as GqlValue;
use futures::stream::{BoxStream, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::schema::to_field_value;
use crate::data::Event;
use crate::model::{IncidentUpdate, IncidentUpdateType, Severity};
use crate::shared::Shared;
use crate::views;

type Item = async_graphql::Result<async_graphql::dynamic::FieldValue<'static>>;

/// The stream for the subscription field `name` with `args`.
pub(super) fn resolve(
    shared: &Arc<Shared>,
    name: &str,
    args: &Value,
) -> async_graphql::Result<BoxStream<'static, Item>> {
    let filter = Filter::parse(name, args)?;
    let store_shared = shared.clone();
    let feed = events(shared);
    // Counted only now that the feed's receiver exists: every event published from here on
    // reaches it, which is what a test waiting for this count relies on.
    let counted = shared.activity.subscriber(name);
    let events = feed.filter_map(move |event| {
        let _counted = &counted;
        let out = match event {
            Err(error) => Some(Err(error)),
            Ok(event) => filter.apply(&store_shared, &event).map(Ok),
        };
        futures::future::ready(out)
    });
    let events =
        events.map(|item| item.and_then(|json| Ok(to_field_value(GqlValue::from_json(json)?))));
    if name == "incidentUpdates" {
        let heartbeats = tokio_stream_interval(shared.heartbeat).map(|_| {
            let beat = IncidentUpdate {
                update_type: IncidentUpdateType::Heartbeat,
                incident_id: None,
                timestamp: chrono::Utc::now(),
            };
            Ok(to_field_value(GqlValue::from_json(serde_json::to_value(
                beat,
            )?)?))
        });
        // End when the event feed ends (it ends after a lag error), not when heartbeats would.
        return Ok(take_until_first_ends(events, heartbeats));
    }
    Ok(events.boxed())
}

/// The feed as a stream: events, then one error and the end if the subscriber lags.
fn events(shared: &Shared) -> BoxStream<'static, Result<Event, async_graphql::Error>> {
    let receiver = shared.store.subscribe();
    futures::stream::unfold(Some(receiver), |receiver| async move {
        let mut receiver = receiver?;
        match receiver.recv().await {
            Ok(event) => Some((Ok(event), Some(receiver))),
            Err(RecvError::Lagged(dropped)) => Some((
                Err(async_graphql::Error::new(format!(
                    "subscriber too slow: {dropped} events dropped"
                ))),
                None,
            )),
            Err(RecvError::Closed) => None,
        }
    })
    .boxed()
}

fn tokio_stream_interval(period: std::time::Duration) -> BoxStream<'static, ()> {
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    futures::stream::unfold(interval, |mut interval| async move {
        interval.tick().await;
        Some(((), interval))
    })
    .boxed()
}

/// Merges two streams, ending as soon as `main` ends.
fn take_until_first_ends(
    main: impl futures::Stream<Item = Item> + Send + 'static,
    side: impl futures::Stream<Item = Item> + Send + 'static,
) -> BoxStream<'static, Item> {
    let main = main.map(Some).chain(futures::stream::once(async { None }));
    let side = side.map(Some);
    futures::stream::select(main, side)
        .take_while(|item| futures::future::ready(item.is_some()))
        .filter_map(futures::future::ready)
        .boxed()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Args {
    incident_ids: Option<Vec<Uuid>>,
    severities: Option<Vec<Severity>>,
    active_only: Option<bool>,
    incident_id: Option<Uuid>,
    sources: Option<Vec<String>>,
}

#[derive(Debug)]
enum Filter {
    Updates(Args),
    New(Args),
    Critical,
    StateChanges(Args),
    Alerts(Args),
}

impl Filter {
    fn parse(name: &str, args: &Value) -> async_graphql::Result<Filter> {
        let args: Args = if args.is_null() {
            Args::default()
        } else {
            serde_json::from_value(args.clone())?
        };
        Ok(match name {
            "incidentUpdates" => Filter::Updates(args),
            "newIncidents" => Filter::New(args),
            "criticalIncidents" => Filter::Critical,
            "incidentStateChanges" => Filter::StateChanges(args),
            "alerts" => Filter::Alerts(args),
            other => {
                return Err(
                    format!("the dev server does not implement the subscription {other}").into(),
                );
            }
        })
    }

    /// The event's JSON for this subscriber, or `None` if the filters exclude it.
    fn apply(&self, shared: &Shared, event: &Event) -> Option<Value> {
        let any = |list: &Option<Vec<Severity>>, severity: Severity| {
            list.as_ref().is_none_or(|l| l.contains(&severity))
        };
        match (self, event) {
            (Filter::New(args), Event::Created(incident))
                if any(&args.severities, incident.severity) =>
            {
                Some(views::incident(&shared.store, incident))
            }
            (Filter::Critical, Event::Created(incident)) if incident.severity.is_critical() => {
                Some(views::incident(&shared.store, incident))
            }
            (Filter::Updates(args), Event::Updated(update, incident))
                if any(&args.severities, incident.severity)
                    && args
                        .incident_ids
                        .as_ref()
                        .is_none_or(|ids| ids.contains(&incident.id))
                    && (!args.active_only.unwrap_or(false) || incident.state.is_active()) =>
            {
                serde_json::to_value(update).ok()
            }
            (Filter::StateChanges(args), Event::StateChanged(change))
                if args.incident_id.is_none_or(|id| id == change.incident_id) =>
            {
                serde_json::to_value(change).ok()
            }
            (Filter::Alerts(args), Event::Alert(alert))
                if args
                    .sources
                    .as_ref()
                    .is_none_or(|s| s.contains(&alert.source)) =>
            {
                serde_json::to_value(&**alert).ok()
            }
            _ => None,
        }
    }
}
