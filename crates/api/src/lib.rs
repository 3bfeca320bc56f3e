//! The HTTP layer (axum): health, readiness and the plan indicators as JSON.
//! The full OGC API – Features, tiles and the web map are built on this.
//!
//! Architecture invariant: this is the only crate that speaks HTTP and JSON,
//! and it builds without GDAL: it reaches data only through
//! `forest_store::PlotStore`. Wire types live in [`dto`]; domain types do not
//! derive `Serialize`.

mod alerts;
mod allocation;
pub mod auth;
mod cache;
mod compartments;
pub use cache::Cache;
pub mod dto;
mod error;
mod hotspots;
mod html;
mod manage;
mod metrics;
pub mod notify;
pub mod ogc;
mod openapi;
#[cfg(test)]
mod test_support;
mod tiles;
pub use tiles::{TileCache, DEFAULT_TILE_CACHE_MB};
mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use forest_core::{Indicators, Targets};
use forest_store::DynStore;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use error::ApiError;
use openapi::ErrorBody;

/// Shared state of the service.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The plot store.
    pub store: DynStore,
    /// Plan targets.
    pub targets: Targets,
    /// Year whose planting is compared with the yearly target.
    pub reference_year: i64,
    /// Fire-danger thresholds and rain reset.
    pub fire: forest_core::fire::DangerParams,
    /// Origins allowed to call the API from a browser (CORS); `*` for any;
    /// empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// What is derived from the whole plot layer, until plots change.
    pub cache: Arc<cache::Cache>,
    /// Encoded plot tiles, until plots change.
    pub tiles: tiles::TileCache,
}

impl AppState {
    /// A state over `store` with the commune plan's targets, the national
    /// fire-danger table and no CORS headers.
    pub fn new(store: DynStore, reference_year: i64) -> Self {
        AppState {
            store,
            targets: Targets::default(),
            reference_year,
            fire: Default::default(),
            cors_origins: Vec::new(),
            cache: Default::default(),
            tiles: Default::default(),
        }
    }
}

/// CORS for the configured origins (GET only: the API is read-only for
/// browsers on other origins).
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let methods = [
        axum::http::Method::GET,
        axum::http::Method::HEAD,
        axum::http::Method::OPTIONS,
    ];
    if origins.iter().any(|o| o == "*") {
        return CorsLayer::new()
            .allow_origin(AllowOrigin::any())
            .allow_methods(methods);
    }
    let list: Vec<axum::http::HeaderValue> =
        origins.iter().filter_map(|o| o.parse().ok()).collect();
    if list.is_empty() {
        CorsLayer::new()
    } else {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(list))
            .allow_methods(methods)
    }
}

/// Builds the router; the OpenAPI document at `/api` is collected from it.
pub fn router(state: AppState) -> Router {
    use utoipa::OpenApi;
    use utoipa_axum::{router::OpenApiRouter, routes};
    let (routes, api) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(landing))
        .routes(routes!(ogc::conformance))
        .routes(routes!(ogc::collections))
        .routes(routes!(ogc::collection))
        .routes(routes!(ogc::items))
        .routes(routes!(ogc::item))
        .routes(routes!(tiles::tilesets))
        .routes(routes!(tiles::tilejson))
        .routes(routes!(tiles::tile))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(stats))
        .routes(routes!(fire_danger))
        .routes(routes!(fire_danger_plots))
        .routes(routes!(manage::me))
        .routes(routes!(allocation::get, allocation::update))
        .routes(routes!(allocation::progress))
        .routes(routes!(allocation::search))
        .routes(routes!(manage::transition))
        .routes(routes!(manage::history))
        .routes(routes!(manage::subscriptions, manage::add_subscription))
        .routes(routes!(manage::stop_subscription))
        .routes(routes!(manage::tokens, manage::create_token))
        .routes(routes!(manage::revoke_token))
        .routes(routes!(metrics::metrics))
        .split_for_parts();
    let api = Arc::new(openapi::to_openapi_30(&api));
    routes
        .route(
            "/api",
            get(move || {
                let api = Arc::clone(&api);
                async move {
                    let mut r = Json(api.as_ref().clone()).into_response();
                    r.headers_mut().insert(
                        axum::http::header::CONTENT_TYPE,
                        axum::http::HeaderValue::from_static(
                            "application/vnd.oai.openapi+json;version=3.0",
                        ),
                    );
                    r
                }
            }),
        )
        .route("/static/{file}", get(web::asset))
        .layer(axum::middleware::from_fn(html::negotiate))
        .layer(axum::middleware::from_fn(metrics::record))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(1 << 20))
        .layer(cors(&state.cors_origins))
        .with_state(Arc::new(state))
}

/// Serves the router on a bound listener until `shutdown` completes, then
/// finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

#[utoipa::path(
    get,
    path = "/",
    tag = "OGC API – Features",
    summary = "Landing page: the web map for browsers, the OGC landing document as JSON (f=json)",
    params(("f" = Option<String>, Query, description = "json for the OGC landing document")),
    responses(
        (status = 200, description = "The web map (text/html) or the landing document (application/json)",
            content((serde_json::Value = "application/json"), (String = "text/html")))
    )
)]
async fn landing(
    axum::extract::Query(q): axum::extract::Query<std::collections::BTreeMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or("");
    let wants_json = q.get("f").is_some_and(|f| f == "json")
        || (accept.contains("application/json") && !accept.contains("text/html"));
    if wants_json {
        return ogc::landing_json(&headers).into_response();
    }
    web::index(&headers)
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "Operations",
    summary = "Liveness",
    responses((status = 200, description = "Alive", content_type = "application/json", body = serde_json::Value))
)]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Operations",
    summary = "Readiness: the store answers",
    responses((status = 200, description = "Ready", content_type = "application/json", body = serde_json::Value), (status = 503, description = "The store is not reachable", content_type = "application/json", body = serde_json::Value))
)]
async fn readyz(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(3), s.store.ping()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready", "store": s.store.describe() })),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "store not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    serde_json::json!({ "status": "unavailable", "error": "store not reachable" }),
                ),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "unavailable", "error": "store timed out" })),
        ),
    }
}

/// `GET /api/fire-danger`: the daily Nesterov index and level over the
/// latest unbroken run of stored weather, and today's level.
#[utoipa::path(
    get,
    path = "/api/fire-danger",
    tag = "Fire",
    summary = "Daily Nesterov index and danger level",
    responses((status = 200, description = "Fire danger", content_type = "application/json", body = serde_json::Value), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
async fn fire_danger(State(s): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let weather = s.store.weather().await?;
    let mut doc = dto::fire_danger(&weather, &s.fire);
    if let Some(index) = doc["current"]["index"].as_f64() {
        let shapes = cache::shapes(&s).await?;
        doc["forest_plots_by_level"] = dto::plots_by_level(index, &shapes, &s.fire);
    }
    Ok(Json(doc))
}

/// `GET /api/fire-danger/plots`: today's danger level of every forest plot
/// (by its fuel), for the map layer that colours plots by level.
#[utoipa::path(
    get,
    path = "/api/fire-danger/plots",
    tag = "Fire",
    summary = "Today's danger level of every forest plot",
    responses((status = 200, description = "Levels by plot key", content_type = "application/json", body = serde_json::Value), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
async fn fire_danger_plots(
    State(s): State<Arc<AppState>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let weather = s.store.weather().await?;
    let doc = dto::fire_danger(&weather, &s.fire);
    let Some(index) = doc["current"]["index"].as_f64() else {
        return Ok(Json(
            serde_json::json!({ "date": null, "index": null, "levels": {} }),
        ));
    };
    let shapes = cache::shapes(&s).await?;
    let levels: serde_json::Map<String, serde_json::Value> = shapes
        .iter()
        .filter(|p| p.forest)
        .map(|p| {
            (
                p.touch.key.to_string(),
                serde_json::json!(dto::plot_level(index, p, &s.fire)),
            )
        })
        .collect();
    Ok(Json(serde_json::json!({
        "date": doc["current"]["date"],
        "index": index,
        "levels": levels,
    })))
}

#[utoipa::path(
    get,
    path = "/api/stats",
    tag = "Indicators",
    summary = "Plan targets against the data",
    responses((status = 200, description = "Indicators", content_type = "application/json", body = serde_json::Value), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
async fn stats(State(s): State<Arc<AppState>>) -> Result<Json<dto::IndicatorsDto>, ApiError> {
    let groups = s.store.fact_groups().await?;
    let ind = Indicators::compute(&groups, &s.targets, s.reference_year);
    Ok(Json(dto::IndicatorsDto::new(&ind, s.reference_year)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use forest_store::{GpkgStore, PlotStore};
    use tower::ServiceExt;

    #[tokio::test]
    async fn stats_report_the_figures() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("t.gpkg")).unwrap();
        store.migrate().await.unwrap();
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        store.load_plots(&c.plots, "test").await.unwrap();
        let app = router(AppState {
            store: Arc::new(store),
            targets: Targets::default(),
            reference_year: 2026,
            fire: Default::default(),
            cors_origins: vec!["*".into()],
            cache: Default::default(),
            tiles: Default::default(),
        });
        let res = app
            .clone()
            .oneshot(Request::get("/api/stats").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["forest_area_ha"]["actual"], 11261.6);
        assert_eq!(v["forest_cover_pct"]["actual"], 85.08);
        assert_eq!(v["forest_cover_pct"]["met"], true);
        assert_eq!(v["contracted_area_ha"]["actual"], 4594.34);
        assert_eq!(v["natural_area_ha"], 13236.48);
        let res = app
            .clone()
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        // compressed when the client accepts it; CORS for the configured origins
        let res = app
            .clone()
            .oneshot(
                Request::get("/collections/plots/items?limit=500")
                    .header("accept-encoding", "gzip")
                    .header("origin", "http://map.example")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            res.headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            Some("gzip")
        );
        assert_eq!(
            res.headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap()),
            Some("*")
        );
        let closed = router(AppState::new(app_store(&dir).await, 2026));
        let res = closed
            .oneshot(
                Request::get("/healthz")
                    .header("origin", "http://elsewhere")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(res.headers().get("access-control-allow-origin").is_none());
        let res = app
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = String::from_utf8(
            axum::body::to_bytes(res.into_body(), 1 << 20)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        assert!(body.contains("forest_plots 1722"), "{body}");
        assert!(
            body.contains("forest_http_requests_total{class=\"2xx\"}"),
            "{body}"
        );
        assert!(
            body.contains("forest_webhook_deliveries_pending 0"),
            "{body}"
        );
    }

    async fn app_store(dir: &tempfile::TempDir) -> forest_store::DynStore {
        let store = GpkgStore::open(dir.path().join("t2.gpkg")).unwrap();
        store.migrate().await.unwrap();
        Arc::new(store)
    }
}
