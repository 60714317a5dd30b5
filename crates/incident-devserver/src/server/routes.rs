//! The HTTP routes: `POST /graphql`, GraphiQL at `GET /graphql`, the WebSocket upgrade at
//! `GET /graphql/ws`, `GET /health` and `POST /v1/alerts`.

use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::{FromRequestParts, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use super::{App, ws};
use crate::auth::Caller;
use crate::{rest, views};

/// Every route, over `app`.
pub(super) fn router(app: App) -> Router {
    let mut router = Router::new().route("/graphql", get(graphiql).post(graphql_http));
    if app.websocket {
        router = router.route("/graphql/ws", get(graphql_ws));
    }
    router
        .route("/health", get(health))
        .route("/v1/alerts", post(rest::submit_alert))
        .with_state(app)
}

async fn graphiql() -> Html<String> {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

async fn health() -> Response {
    axum::Json(views::health()).into_response()
}

async fn graphql_http(
    State(app): State<App>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    app.shared.activity.http_request(&headers);
    if app.faults.is_graphql_unavailable() {
        app.shared.activity.refused_graphql();
        return rest::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "the server is overloaded",
        );
    }
    if app.faults.is_graphql_refusing() {
        app.shared.activity.refused_graphql();
        let refused = serde_json::json!({
            "data": null,
            "errors": [{ "message": "this query is not accepted" }],
        });
        return axum::Json(refused).into_response();
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match app.shared.auth.check(authorization) {
        Ok(claims) => {
            let request = request.into_inner().data(Caller(claims.sub));
            GraphQLResponse::from(app.schema.execute(request).await).into_response()
        }
        Err(error) => rest::error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", error.to_string()),
    }
}

async fn graphql_ws(
    State(app): State<App>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
    protocol: Result<GraphQLProtocol, <GraphQLProtocol as FromRequestParts<App>>::Rejection>,
) -> Response {
    app.shared.activity.upgrade_request(&headers);
    let upgrade = upgrade.protocols(["graphql-transport-ws", "graphql-ws"]);
    let legacy = upgrade
        .selected_protocol()
        .is_some_and(|p| p.as_bytes() == b"graphql-ws");
    let legacy_protocol = protocol.ok().filter(|_| legacy);
    upgrade.on_upgrade(move |socket| async move {
        let _guard = app.shared.activity.connection();
        if let Some(protocol) = legacy_protocol {
            let shared = app.shared.clone();
            GraphQLWebSocket::new(socket, app.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let authorization = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .and_then(|v| v.as_str());
                    let claims = shared
                        .auth
                        .check(authorization)
                        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
                    let mut data = async_graphql::Data::default();
                    data.insert(Caller(claims.sub));
                    Ok(data)
                })
                .serve()
                .await;
            return;
        }
        let settings = ws::Settings {
            init_timeout: app.init_timeout,
            withhold_ack: app.faults.is_withholding_ack(),
        };
        ws::serve(
            socket,
            app.shared.clone(),
            app.schema.clone(),
            app.faults.controls(),
            settings,
        )
        .await;
    })
}
