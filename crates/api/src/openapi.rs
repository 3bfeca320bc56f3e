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

/// The document as OpenAPI 3.0.3, which OGC API – Features Part 1 names
/// (conformance class `oas30`) and which more clients read than 3.1:
/// utoipa writes 3.1, whose JSON Schema differs from 3.0's in a few
/// spellings — `type: [T, "null"]` and `oneOf` with a `null` member become
/// `nullable`, `const` becomes a one-value `enum`, numeric
/// `exclusiveMinimum`/`exclusiveMaximum` become the boolean forms, schema
/// `examples` become `example`, and what 3.0 lacks is dropped.
pub fn to_openapi_30(doc: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut v = serde_json::to_value(doc).unwrap_or_default();
    if let Some(top) = v.as_object_mut() {
        top.insert("openapi".into(), "3.0.3".into());
        top.remove("jsonSchemaDialect");
        top.remove("webhooks");
        if let Some(info) = top.get_mut("info").and_then(|i| i.as_object_mut()) {
            info.remove("summary");
            if let Some(l) = info.get_mut("license").and_then(|l| l.as_object_mut()) {
                l.remove("identifier");
            }
        }
    }
    downgrade(&mut v);
    v
}

fn downgrade(v: &mut serde_json::Value) {
    use serde_json::{json, Value};
    match v {
        Value::Array(items) => items.iter_mut().for_each(downgrade),
        Value::Object(o) => {
            for child in o.values_mut() {
                downgrade(child);
            }
            o.remove("$schema");
            o.remove("contentMediaType");
            o.remove("contentEncoding");
            o.remove("propertyNames");
            o.remove("unevaluatedProperties");
            if let Some(Value::Array(types)) = o.get("type").cloned() {
                let null = types.iter().any(|t| t == "null");
                let rest: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
                o.remove("type");
                match rest.len() {
                    0 => {}
                    1 => {
                        o.insert("type".into(), rest[0].clone());
                    }
                    _ => {
                        o.insert(
                            "anyOf".into(),
                            Value::Array(rest.into_iter().map(|t| json!({ "type": t })).collect()),
                        );
                    }
                }
                if null {
                    o.insert("nullable".into(), true.into());
                }
            }
            if o.get("type").is_some_and(|t| t == "null") {
                // a schema that is only null: 3.0 has no null type
                o.remove("type");
                o.insert("nullable".into(), true.into());
                o.insert("enum".into(), json!([null]));
            }
            for key in ["oneOf", "anyOf"] {
                let Some(Value::Array(members)) = o.get(key).cloned() else {
                    continue;
                };
                let is_null = |m: &Value| {
                    m.get("type").is_some_and(|t| t == "null")
                        || m.get("enum").is_some_and(|e| e == &json!([null]))
                };
                if !members.iter().any(is_null) {
                    continue;
                }
                let rest: Vec<Value> = members.into_iter().filter(|m| !is_null(m)).collect();
                o.remove(key);
                o.insert("nullable".into(), true.into());
                match rest.len() {
                    0 => {}
                    // siblings of a $ref are ignored in 3.0: the reference goes in allOf
                    1 => {
                        o.insert("allOf".into(), Value::Array(rest));
                    }
                    _ => {
                        o.insert(key.into(), Value::Array(rest));
                    }
                }
            }
            if let Some(c) = o.remove("const") {
                o.insert("enum".into(), Value::Array(vec![c]));
            }
            for (exclusive, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(n) = o.get(exclusive).filter(|n| n.is_number()).cloned() {
                    o.insert(bound.into(), n);
                    o.insert(exclusive.into(), true.into());
                }
            }
            if let Some(Value::Array(examples)) = o.get("examples").cloned() {
                o.remove("examples");
                if let Some(first) = examples.into_iter().next() {
                    o.insert("example".into(), first);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::StatusCode;
    use forest_store::{GpkgStore, PlotStore};
    use serde_json::Value;

    use crate::test_support::call;
    use crate::{router, AppState};

    /// Every place where the document still says something only 3.1 means.
    fn leftovers(v: &Value, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    leftovers(x, &format!("{at}/{i}"), out);
                }
            }
            Value::Object(o) => {
                if o.get("type").is_some_and(|t| t.is_array() || t == "null") {
                    out.push(format!("{at}: type {}", o["type"]));
                }
                for k in ["const", "$schema", "contentMediaType", "prefixItems"] {
                    if o.contains_key(k) {
                        out.push(format!("{at}: {k}"));
                    }
                }
                for k in ["exclusiveMinimum", "exclusiveMaximum"] {
                    if o.get(k).is_some_and(Value::is_number) {
                        out.push(format!("{at}: numeric {k}"));
                    }
                }
                if o.contains_key("$ref") && o.len() > 1 && !at.ends_with("/properties") {
                    out.push(format!("{at}: $ref with siblings"));
                }
                for (k, x) in o {
                    leftovers(x, &format!("{at}/{k}"), out);
                }
            }
            _ => {}
        }
    }

    #[tokio::test]
    async fn the_api_document_is_openapi_3_0() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("t.gpkg")).unwrap();
        store.migrate().await.unwrap();
        let app = router(AppState::new(Arc::new(store), 2026));
        let (status, doc) = call(&app, "GET", "/api", None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(doc["openapi"], "3.0.3");
        for path in [
            "/collections/{id}/items",
            "/collections/{id}/items/{fid}",
            "/collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}",
            "/api/plots/{key}/allocation",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} is documented");
        }
        let mut out = Vec::new();
        leftovers(&doc, "", &mut out);
        assert!(out.is_empty(), "3.1 left in the 3.0 document: {out:#?}");
        let (_, conf) = call(&app, "GET", "/conformance", None, None).await;
        assert!(conf["conformsTo"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().ends_with("/conf/oas30")));
    }

    #[test]
    fn nullable_spellings_become_3_0() {
        let mut v = serde_json::json!({
            "a": { "type": ["string", "null"], "examples": ["x"] },
            "b": { "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/E" }] },
            "c": { "type": "integer", "exclusiveMinimum": 0, "const": 3 },
        });
        super::downgrade(&mut v);
        assert_eq!(
            v["a"],
            serde_json::json!({ "type": "string", "nullable": true, "example": "x" })
        );
        assert_eq!(
            v["b"],
            serde_json::json!({ "allOf": [{ "$ref": "#/components/schemas/E" }], "nullable": true })
        );
        assert_eq!(
            v["c"],
            serde_json::json!({ "type": "integer", "minimum": 0, "exclusiveMinimum": true, "enum": [3] })
        );
    }
}
