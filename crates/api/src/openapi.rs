//! The OpenAPI document served at `/api`. Paths come from the handlers'
//! `#[utoipa::path]` attributes, collected by the router itself
//! (`utoipa_axum::routes!`), so the document cannot drift from the routes.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error answer.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the body ApiError writes
pub struct ErrorBody {
    /// bad_request, unauthorized, forbidden, not_found, conflict, unavailable, internal.
    error: String,
    /// What is wrong and what to do.
    message: String,
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = api.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "A token from `forest token create --role ranger|land_officer|admin`",
                        ))
                        .build(),
                ),
            );
        }
    }
}

/// The document's header; the paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vĩnh Thông forest service",
        description = "Forest plots (lô), allocation, protection contracts, change and fire alerts, fire danger: OGC API – Features, vector tiles, and the service's own endpoints. Anonymous callers see no owner or contract-holder names.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    modifiers(&Bearer),
    tags(
        (name = "OGC API – Features", description = "Plots, alerts and hotspots as GeoJSON"),
        (name = "Tiles", description = "Mapbox Vector Tiles, WebMercatorQuad"),
        (name = "Alerts", description = "Alert triage"),
        (name = "Allocation", description = "Allocation for land officers"),
        (name = "Fire", description = "Fire danger"),
        (name = "Webhooks", description = "Subscriptions to alerts"),
        (name = "Access", description = "Bearer tokens and roles"),
        (name = "Indicators", description = "Plan targets"),
        (name = "Operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;
