//! OGC API – Features (Part 1 Core, GeoJSON; Part 2 CRS by reference) for
//! the plot layer and the change alerts (`alerts.rs`): landing page,
//! conformance, collections, items, one item.
//!
//! Requests are anonymous until access control exists, so personal data
//! (owner, contract holder and disputing party names and codes) is removed
//! from every feature.

#[allow(unused_imports)]
use crate::openapi::ErrorBody;
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use forest_core::crs::Local;
use forest_core::{Crs, PlotKey, Transformer, Value};
use forest_store::{PlotQuery, StoredPlot};
use serde_json::json;

use crate::{ApiError, AppState};

/// Default page size.
pub const DEFAULT_LIMIT: u64 = 100;
/// Largest page; a larger `limit` is clamped to it (Part 1, 7.15.3).
pub const MAX_LIMIT: u64 = 10_000;
/// Fields never shown to anonymous users.
pub const PERSONAL_FIELDS: [&str; 6] = [
    "churung",
    "machur",
    "nguoink",
    "mangnk",
    "nguoitrch",
    "mangtrch",
];

const CONFORMANCE: [&str; 5] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
];
const CRS_LIST: [Crs; 5] = [
    Crs::Crs84,
    Crs::Wgs84,
    Crs::Vn2000Tm3_10630,
    Crs::WebMercator,
    Crs::Vn2000Utm48n,
];

pub(crate) fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

pub(crate) fn link(href: String, rel: &str, ty: &str, title: &str) -> serde_json::Value {
    json!({ "href": href, "rel": rel, "type": ty, "title": title })
}

/// `GET /?f=json` and `Accept: application/json`: the landing page.
pub fn landing_json(headers: &HeaderMap) -> Json<serde_json::Value> {
    let b = base(headers);
    Json(json!({
        "title": "Vĩnh Thông forest service",
        "description": "Forest plots (lô) of Vĩnh Thông commune, Thái Nguyên: national inventory attributes, allocation, protection contracts.",
        "links": [
            link(format!("{b}/?f=json"), "self", "application/json", "this document"),
            link(format!("{b}/conformance"), "conformance", "application/json", "conformance classes"),
            link(format!("{b}/collections"), "data", "application/json", "collections"),
            link(format!("{b}/api"), "service-desc", "application/vnd.oai.openapi+json;version=3.0", "the API definition (OpenAPI 3.0)"),
            link(format!("{b}/"), "alternate", "text/html", "the web map"),
        ]
    }))
}

#[utoipa::path(
    get,
    path = "/conformance",
    tag = "OGC API – Features",
    summary = "Conformance classes",
    responses((status = 200, description = "Conformance classes (HTML with f=html)", content((serde_json::Value = "application/json"), (String = "text/html"))))
)]
pub async fn conformance() -> Json<serde_json::Value> {
    Json(json!({ "conformsTo": CONFORMANCE }))
}

/// The CRS URIs every collection offers.
pub(crate) fn crs_list() -> Vec<String> {
    CRS_LIST.iter().map(|c| c.uri()).collect()
}

/// `minx,miny,maxx,maxy`.
pub(crate) fn parse_bbox(v: &str) -> Result<geo_types::Rect<f64>, ApiError> {
    let n: Vec<f64> = v
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::BadRequest(format!("bbox '{v}': four numbers minx,miny,maxx,maxy"))
        })?;
    if n.len() != 4 || n[0] > n[2] || n[1] > n[3] || n.iter().any(|x| !x.is_finite()) {
        return Err(ApiError::BadRequest(format!(
            "bbox '{v}': four numbers minx,miny,maxx,maxy with min ≤ max"
        )));
    }
    Ok(geo_types::Rect::new(
        geo_types::coord! { x: n[0], y: n[1] },
        geo_types::coord! { x: n[2], y: n[3] },
    ))
}

fn plots_collection(b: &str) -> serde_json::Value {
    json!({
        "id": "plots",
        "title": "Forest plots (lô)",
        "description": "Plots of the national forest inventory schema; owner and contract-holder names and codes are removed for anonymous users.",
        "itemType": "feature",
        "crs": CRS_LIST.iter().map(|c| c.uri()).collect::<Vec<_>>(),
        "storageCrs": Crs::Vn2000Tm3_10630.uri(),
        "links": [
            link(format!("{b}/collections/plots"), "self", "application/json", "this collection"),
            link(format!("{b}/collections/plots/items"), "items", "application/geo+json", "plots"),
            link(format!("{b}/collections/plots/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "application/json", "vector tiles"),
        ]
    })
}

#[utoipa::path(
    get,
    path = "/collections",
    tag = "OGC API – Features",
    summary = "The collections",
    responses((status = 200, description = "Collections (HTML with f=html)", content((serde_json::Value = "application/json"), (String = "text/html"))))
)]
pub async fn collections(headers: HeaderMap) -> Json<serde_json::Value> {
    let b = base(&headers);
    Json(json!({
        "links": [link(format!("{b}/collections"), "self", "application/json", "collections")],
        "crs": CRS_LIST.iter().map(|c| c.uri()).collect::<Vec<_>>(),
        "collections": [plots_collection(&b), crate::alerts::collection(&b), crate::hotspots::collection(&b), crate::compartments::collection("compartments", &b), crate::compartments::collection("contracts", &b)],
    }))
}

#[utoipa::path(
    get,
    path = "/collections/{id}",
    tag = "OGC API – Features",
    summary = "One collection",
    params(("id" = String, Path, description = "Collection: plots, alerts, hotspots, compartments or contracts")),
    responses((status = 200, description = "The collection (HTML with f=html)", content((serde_json::Value = "application/json"), (String = "text/html"))), (status = 404, description = "Nothing at this address", body = ErrorBody))
)]
pub async fn collection(
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    match id.as_str() {
        "plots" => Ok(Json(plots_collection(&base(&headers)))),
        "alerts" => Ok(Json(crate::alerts::collection(&base(&headers)))),
        "hotspots" => Ok(Json(crate::hotspots::collection(&base(&headers)))),
        "compartments" | "contracts" => {
            Ok(Json(crate::compartments::collection(&id, &base(&headers))))
        }
        _ => Err(ApiError::NotFound(format!(
            "no collection '{id}'; see /collections"
        ))),
    }
}

pub(crate) fn parse_crs(name: &str, v: &str) -> Result<Crs, ApiError> {
    let crs: Crs = v
        .parse()
        .map_err(|e: forest_core::CrsError| ApiError::BadRequest(format!("{name}: {e}")))?;
    Ok(crs)
}

/// `limit`: at least 1; a larger value than [`MAX_LIMIT`] is clamped to it
/// (Part 1, 7.15.3), not refused.
pub(crate) fn parse_limit(v: &str) -> Result<u64, ApiError> {
    let limit = v
        .parse::<u64>()
        .map_err(|_| ApiError::BadRequest(format!("limit '{v}' is not a positive whole number")))?;
    if limit == 0 {
        return Err(ApiError::BadRequest("limit must be at least 1".into()));
    }
    Ok(limit.min(MAX_LIMIT))
}

/// `offset`: a whole number.
pub(crate) fn parse_offset(v: &str) -> Result<u64, ApiError> {
    v.parse()
        .map_err(|_| ApiError::BadRequest(format!("offset '{v}' is not a whole number")))
}

/// The parameters every items request shares: `limit`, `offset`, `bbox`,
/// `bbox-crs`, `crs` and `f=json|geojson`.
pub(crate) struct Paging {
    pub limit: u64,
    pub offset: u64,
    pub bbox: Option<geo_types::Rect<f64>>,
    pub bbox_crs: Crs,
    pub crs: Crs,
}

impl Paging {
    /// Parses the shared parameters; `own(name, value)` is asked first and
    /// takes the collection's own (true when it did). Any other parameter
    /// is a 400 that lists the shared ones and then `others`.
    pub fn parse(
        params: &BTreeMap<String, String>,
        others: &str,
        mut own: impl FnMut(&str, &String) -> Result<bool, ApiError>,
    ) -> Result<Paging, ApiError> {
        let mut p = Paging {
            limit: DEFAULT_LIMIT,
            offset: 0,
            bbox: None,
            bbox_crs: Crs::Crs84,
            crs: Crs::Crs84,
        };
        for (k, v) in params {
            if own(k, v)? {
                continue;
            }
            match k.as_str() {
                "limit" => p.limit = parse_limit(v)?,
                "offset" => p.offset = parse_offset(v)?,
                "bbox" => p.bbox = Some(parse_bbox(v)?),
                "bbox-crs" => p.bbox_crs = parse_crs("bbox-crs", v)?,
                "crs" => p.crs = parse_crs("crs", v)?,
                "f" if v == "json" || v == "geojson" => {}
                "f" => {
                    return Err(ApiError::BadRequest(format!(
                        "f={v}: only json is served here"
                    )))
                }
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "unknown query parameter '{other}': use limit, offset, bbox, bbox-crs, crs, {others}"
                    )))
                }
            }
        }
        Ok(p)
    }

    /// The bbox as a polygon in EPSG:9213 (the store's CRS), if one was given.
    pub fn window(&self) -> Result<Option<geo_types::Polygon<f64>>, ApiError> {
        self.bbox
            .map(|r| {
                Transformer::new(self.bbox_crs, Crs::Vn2000Tm3_10630)
                    .and_then(|t| t.rect(r, 16))
                    .map_err(|e| ApiError::BadRequest(format!("bbox: {e}")))
            })
            .transpose()
    }
}

/// The `self`, `next` and `prev` links of an items page of `collection`,
/// keeping the request's other parameters.
pub(crate) fn page_links(
    b: &str,
    collection: &str,
    params: &BTreeMap<String, String>,
    limit: u64,
    offset: u64,
    returned: usize,
    total: u64,
) -> Vec<serde_json::Value> {
    let mut query: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| *k != "offset" && *k != "limit")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    query.push(("limit".into(), limit.to_string()));
    let href = |off: u64| {
        let mut q = query.clone();
        q.push(("offset".into(), off.to_string()));
        let qs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect();
        format!("{b}/collections/{collection}/items?{}", qs.join("&"))
    };
    let mut links = vec![link(
        href(offset),
        "self",
        "application/geo+json",
        "this page",
    )];
    if offset + (returned as u64) < total {
        links.push(link(
            href(offset + limit),
            "next",
            "application/geo+json",
            "next page",
        ));
    }
    if offset > 0 {
        links.push(link(
            href(offset.saturating_sub(limit)),
            "prev",
            "application/geo+json",
            "previous page",
        ));
    }
    links
}

/// The feature id of a plot: its key, `maxa/tk/khoanh/lo`.
/// A plot as a GeoJSON feature; owner and contract-holder fields only for
/// callers allowed to see `personal` data.
fn feature(p: &StoredPlot, to: &Local<'_>, personal: bool) -> Result<PlotFeature, ApiError> {
    Ok(PlotFeature {
        id: p.plot.key.to_string(),
        geometry: to
            .multipolygon(&p.plot.geometry)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?,
        record: p.plot.to_record(),
        personal,
        area_ha: (p.plot.area_ha() * 10_000.0).round() / 10_000.0,
        version: p.version,
        loaded_at: p.loaded_at.to_rfc3339(),
    })
}

/// How far a transformed vertex may be from PROJ's answer: a millimetre, ten
/// times finer than plots are surveyed.
pub(crate) const OUTPUT_TOLERANCE_M: f64 = 0.001;

/// The transformation over the outlines of one answer (see
/// [`Transformer::over`]).
pub(crate) fn local_over<'a, 'g>(
    to: &'a Transformer,
    outlines: impl IntoIterator<Item = &'g geo_types::MultiPolygon<f64>>,
) -> Result<Local<'a>, ApiError> {
    use geo::{BoundingRect, CoordsIter};
    let mut vertices = 0;
    let area = outlines
        .into_iter()
        .filter_map(|g| {
            vertices += g.coords_count();
            g.bounding_rect()
        })
        .reduce(|a, b| {
            geo_types::Rect::new(
                geo_types::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo_types::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        });
    // fitting costs about sixty exact transformations
    match area.filter(|_| vertices > 200) {
        Some(a) => to
            .over(a, OUTPUT_TOLERANCE_M)
            .map_err(|e| ApiError::BadRequest(e.to_string())),
        None => Ok(to.exact()),
    }
}

/// A plot as a GeoJSON Feature, serialized straight into the response body
/// (no intermediate JSON tree: pages of plots are the busiest answer).
/// Properties in the national schema's order, personal fields only when
/// the caller may see them, then area_ha, version and loaded_at.
pub(crate) struct PlotFeature {
    id: String,
    /// In the output CRS.
    geometry: geo_types::MultiPolygon<f64>,
    record: forest_core::plot::Record,
    personal: bool,
    area_ha: f64,
    version: i64,
    loaded_at: String,
}

impl serde::Serialize for PlotFeature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("type", "Feature")?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("geometry", &MultiPolygonJson(&self.geometry))?;
        m.serialize_entry("properties", &PlotProperties(self))?;
        m.end()
    }
}

struct PlotProperties<'a>(&'a PlotFeature);

impl serde::Serialize for PlotProperties<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let f = self.0;
        let mut m = s.serialize_map(None)?;
        for (name, v) in f.record.iter() {
            if !f.personal && PERSONAL_FIELDS.contains(&name) {
                continue;
            }
            match v {
                Value::Null => {}
                Value::Int(i) => m.serialize_entry(name, i)?,
                Value::Real(r) => m.serialize_entry(name, r)?,
                Value::Text(t) => m.serialize_entry(name, t)?,
            }
        }
        m.serialize_entry("area_ha", &f.area_ha)?;
        m.serialize_entry("version", &f.version)?;
        m.serialize_entry("loaded_at", &f.loaded_at)?;
        m.end()
    }
}

/// A GeoJSON MultiPolygon written from the outline itself.
struct MultiPolygonJson<'a>(&'a geo_types::MultiPolygon<f64>);

impl serde::Serialize for MultiPolygonJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Ring<'a>(&'a geo_types::LineString<f64>);
        impl serde::Serialize for Ring<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0 .0.len()))?;
                for c in &self.0 .0 {
                    seq.serialize_element(&[c.x, c.y])?;
                }
                seq.end()
            }
        }
        struct Polygon<'a>(&'a geo_types::Polygon<f64>);
        impl serde::Serialize for Polygon<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let p = self.0;
                let mut seq = s.serialize_seq(Some(1 + p.interiors().len()))?;
                seq.serialize_element(&Ring(p.exterior()))?;
                for r in p.interiors() {
                    seq.serialize_element(&Ring(r))?;
                }
                seq.end()
            }
        }
        struct Polygons<'a>(&'a geo_types::MultiPolygon<f64>);
        impl serde::Serialize for Polygons<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0 .0.iter().map(Polygon))
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", "MultiPolygon")?;
        m.serialize_entry("coordinates", &Polygons(self.0))?;
        m.end()
    }
}

/// A FeatureCollection page, serialized straight into the response body.
struct FeaturePage<'a, F> {
    matched: u64,
    links: &'a [serde_json::Value],
    features: &'a [F],
}

impl<F: serde::Serialize> serde::Serialize for FeaturePage<'_, F> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("type", "FeatureCollection")?;
        m.serialize_entry("numberMatched", &self.matched)?;
        m.serialize_entry("numberReturned", &self.features.len())?;
        m.serialize_entry("timeStamp", &chrono_now())?;
        m.serialize_entry("links", self.links)?;
        m.serialize_entry("features", self.features)?;
        m.end()
    }
}

/// A GeoJSON answer from anything serializable.
pub(crate) fn geojson_body<T: serde::Serialize>(body: &T, crs: Crs) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| {
        ApiError::Store(forest_store::StoreError::Task(format!(
            "cannot write the GeoJSON answer: {e}"
        )))
    })?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        r.headers_mut().insert("Content-Crs", v);
    }
    Ok(r)
}

/// An outline (EPSG:9213) as a GeoJSON geometry in the output CRS of `to`.
pub(crate) fn geometry(
    g: &geo_types::MultiPolygon<f64>,
    to: &Transformer,
) -> Result<geojson::Geometry, ApiError> {
    let g = to
        .multipolygon(g)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(geojson::Geometry::new(geojson::Value::from(
        &geo_types::Geometry::MultiPolygon(g),
    )))
}

pub(crate) fn geojson_response(body: serde_json::Value, crs: Crs) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        r.headers_mut().insert("Content-Crs", v);
    }
    r
}

/// `GET /collections/plots/items`: `limit`, `offset`, `bbox`, `bbox-crs`,
/// `crs`, `f=json`, and `field=value` on national fields (personal fields
/// excepted). Any other parameter is a 400.
#[utoipa::path(
    get,
    path = "/collections/{id}/items",
    tag = "OGC API – Features",
    summary = "Features of a collection, one page",
    params(("id" = String, Path, description = "Collection: plots, alerts, hotspots, compartments or contracts"), ("limit" = Option<u64>, Query, description = "Page size, 1 or more (default 100); larger than 10000 is clamped to 10000"), ("offset" = Option<u64>, Query, description = "Features to skip"), ("bbox" = Option<String>, Query, description = "minx,miny,maxx,maxy in bbox-crs"), ("bbox-crs" = Option<String>, Query, description = "CRS of bbox (URI); default CRS84"), ("crs" = Option<String>, Query, description = "Output CRS (URI): CRS84, EPSG 4326, 9213, 3857, 3405"), ("datetime" = Option<String>, Query, description = "alerts, hotspots: a date or an interval a/b with .. for open"), ("status" = Option<String>, Query, description = "alerts: new, under_verification, confirmed, false_positive, resolved"), ("class" = Option<String>, Query, description = "alerts: clearing, degradation, burn or fire"), ("confidence" = Option<String>, Query, description = "alerts: low or high"), ("tk" = Option<String>, Query, description = "plots, alerts: compartment"), ("in_forest" = Option<bool>, Query, description = "hotspots: in or near a forest plot"), ("malr3" = Option<String>, Query, description = "plots: forest function code (any national field filters plots)"), ("owner" = Option<i64>, Query, description = "alerts: forest owner code (machur; signed-in roles)"), ("f" = Option<String>, Query, description = "json or geojson; csv for alerts; html")),
    security((), ("bearer" = [])),
    responses((status = 200, description = "A FeatureCollection with numberMatched, numberReturned and next/prev links; alerts as CSV with f=csv", content((serde_json::Value = "application/geo+json"), (String = "text/csv"), (String = "text/html"))), (status = 400, description = "A bad parameter, named in the message", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 404, description = "Nothing at this address", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn items(
    State(s): State<Arc<AppState>>,
    caller: crate::auth::Caller,
    Path(id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if id == "alerts" {
        return crate::alerts::items(s, params, headers, caller.personal()).await;
    }
    if id == "hotspots" {
        return crate::hotspots::items(s, params, headers).await;
    }
    if id == "compartments" || id == "contracts" {
        return crate::compartments::items(s, &id, params, headers, caller.personal()).await;
    }
    if id != "plots" {
        return Err(ApiError::NotFound(format!(
            "no collection '{id}'; see /collections"
        )));
    }
    let mut filters = Vec::new();
    let paging = Paging::parse(
        &params,
        "f or a plot attribute such as malr3",
        |field, v| {
            let filter = forest_core::schema::national_field(field).is_some()
                && (caller.personal() || !PERSONAL_FIELDS.contains(&field));
            if filter {
                filters.push((field.to_string(), Value::Text(v.clone())));
            }
            Ok(filter)
        },
    )?;
    let Paging {
        limit,
        offset,
        bbox,
        bbox_crs,
        crs,
    } = paging;
    let page = s
        .store
        .query_plots(&PlotQuery {
            bbox: bbox.map(|r| (r, bbox_crs)),
            filters,
            limit,
            offset,
        })
        .await?;
    let to = Transformer::new(Crs::Vn2000Tm3_10630, crs)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let local = local_over(&to, page.plots.iter().map(|p| &p.plot.geometry))?;
    let features = page
        .plots
        .iter()
        .map(|p| feature(p, &local, caller.personal()))
        .collect::<Result<Vec<_>, _>>()?;
    let b = base(&headers);
    let links = page_links(
        &b,
        "plots",
        &params,
        limit,
        offset,
        features.len(),
        page.total,
    );
    geojson_body(
        &FeaturePage {
            matched: page.total,
            links: &links,
            features: &features,
        },
        crs,
    )
}

fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /collections/plots/items/{featureId}`: one plot by key (`01981/286/1/1`,
/// with the slashes percent-encoded in the path).
#[utoipa::path(
    get,
    path = "/collections/{id}/items/{fid}",
    tag = "OGC API – Features",
    summary = "One feature",
    params(("id" = String, Path, description = "Collection: plots, alerts, hotspots, compartments or contracts"), ("fid" = String, Path, description = "Plot key (maxa/tk/khoanh/lo, slashes percent-encoded), alert or hotspot id"), ("crs" = Option<String>, Query, description = "Output CRS (URI)"), ("f" = Option<String>, Query, description = "json or geojson")),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The feature (HTML with f=html)", content((serde_json::Value = "application/geo+json"), (String = "text/html"))), (status = 400, description = "A bad parameter, named in the message", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 404, description = "Nothing at this address", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn item(
    State(s): State<Arc<AppState>>,
    caller: crate::auth::Caller,
    Path((id, fid)): Path<(String, String)>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut crs = Crs::Crs84;
    for (k, v) in &params {
        match k.as_str() {
            "crs" => crs = parse_crs("crs", v)?,
            "f" if v == "json" || v == "geojson" => {}
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter '{other}': use crs or f"
                )))
            }
        }
    }
    if id == "alerts" {
        return crate::alerts::item(s, &fid, crs, caller.personal()).await;
    }
    if id == "hotspots" {
        return crate::hotspots::item(s, &fid, crs).await;
    }
    if id == "compartments" || id == "contracts" {
        return crate::compartments::item(s, &id, &fid, crs, caller.personal()).await;
    }
    if id != "plots" {
        return Err(ApiError::NotFound(format!(
            "no collection '{id}'; see /collections"
        )));
    }
    let key: PlotKey = fid.parse().map_err(|e: forest_core::plot::KeyError| {
        ApiError::NotFound(format!("no plot '{fid}': {e}"))
    })?;
    let p = s
        .store
        .get_plot(&key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no plot {key}")))?;
    let to = Transformer::new(Crs::Vn2000Tm3_10630, crs)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let local = local_over(&to, [&p.plot.geometry])?;
    geojson_body(&feature(&p, &local, caller.personal())?, crs)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use forest_core::Targets;
    use forest_store::{GpkgStore, PlotStore};
    use tower::ServiceExt;

    use crate::{router, AppState};

    async fn app() -> (axum::Router, tempfile::TempDir, forest_sample::Commune) {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("t.gpkg")).unwrap();
        store.migrate().await.unwrap();
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        store.load_plots(&c.plots, "test").await.unwrap();
        (
            router(AppState {
                store: Arc::new(store),
                targets: Targets::default(),
                reference_year: 2026,
                fire: Default::default(),
                cors_origins: vec!["*".into()],
                cache: Default::default(),
                tiles: Default::default(),
            }),
            dir,
            c,
        )
    }

    async fn get(
        app: &axum::Router,
        uri: &str,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let res = app
            .clone()
            .oneshot(
                Request::get(uri)
                    .header("host", "test")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let body = axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .unwrap();
        (
            status,
            headers,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn html_for_browsers_and_f_html() {
        let (app, _d, _) = app().await;
        let html = |uri: &'static str, accept: &'static str| {
            let app = app.clone();
            async move {
                let res = app
                    .oneshot(
                        Request::get(uri)
                            .header("accept", accept)
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                let ct = res.headers()["content-type"].to_str().unwrap().to_string();
                let b = axum::body::to_bytes(res.into_body(), 64 << 20)
                    .await
                    .unwrap();
                (ct, String::from_utf8(b.to_vec()).unwrap())
            }
        };
        let (ct, body) = html("/collections?f=html", "*/*").await;
        assert!(ct.starts_with("text/html"), "{ct}");
        assert!(
            body.contains("/collections/plots/items"),
            "links kept: {body}"
        );
        let (ct, body) = html(
            "/collections/plots/items?limit=2",
            "text/html,application/xhtml+xml",
        )
        .await;
        assert!(ct.starts_with("text/html"), "a browser gets HTML: {ct}");
        assert!(
            body.contains("ldlr") && body.contains("numberMatched"),
            "{body}"
        );
        let (ct, _) = html("/collections/plots/items?limit=2", "application/geo+json").await;
        assert_eq!(ct, "application/geo+json");
        let (ct, _) = html("/collections/plots/items?limit=2&f=json", "text/html").await;
        assert_eq!(ct, "application/geo+json", "f=json wins over Accept");
        let (_, _, v) = get(&app, "/conformance").await;
        assert!(v["conformsTo"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().ends_with("/conf/html")));
    }

    #[tokio::test]
    async fn landing_conformance_and_collections() {
        let (app, _d, _) = app().await;
        let (s, _, v) = get(&app, "/?f=json").await;
        assert_eq!(s, StatusCode::OK);
        assert!(v["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "data"));
        let (_, _, v) = get(&app, "/conformance").await;
        assert!(v["conformsTo"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().ends_with("/conf/geojson")));
        let (_, _, v) = get(&app, "/collections").await;
        assert_eq!(v["collections"][0]["id"], "plots");
        assert_eq!(
            v["collections"][0]["storageCrs"],
            "http://www.opengis.net/def/crs/EPSG/0/9213"
        );
        let (s, _, _) = get(&app, "/collections/rivers").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn items_page_filter_bbox_and_crs() {
        let (app, _d, c) = app().await;
        let (s, h, v) = get(&app, "/collections/plots/items").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h["content-type"], "application/geo+json");
        assert_eq!(
            h["content-crs"],
            "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
        );
        assert_eq!(v["numberMatched"], c.plots.len());
        assert_eq!(v["numberReturned"], 100);
        let next = v["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .unwrap()["href"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            next.contains("offset=100") && next.contains("limit=100"),
            "{next}"
        );
        // CRS84 coordinates are longitude, latitude near 105.95 E 22.23 N
        let x = v["features"][0]["geometry"]["coordinates"][0][0][0][0]
            .as_f64()
            .unwrap();
        assert!((105.8..106.1).contains(&x), "{x}");
        // no personal data for anonymous users
        for f in v["features"].as_array().unwrap() {
            for p in super::PERSONAL_FIELDS {
                assert!(f["properties"].get(p).is_none(), "{p} leaked");
            }
        }
        // a larger limit is clamped, not refused; an unknown parameter is refused
        let (s, _, v) = get(&app, "/collections/plots/items?limit=50000&malr3=1").await;
        assert_eq!(s, StatusCode::OK);
        let protection = c
            .plots
            .iter()
            .filter(|p| p.attrs.malr3.map(|m| m.code()) == Some(1))
            .count();
        assert_eq!(v["numberMatched"], protection);
        assert_eq!(v["numberReturned"], protection);
        let (s, _, v) = get(&app, "/collections/plots/items?colour=red").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        let (s, _, _) = get(&app, "/collections/plots/items?churung=x").await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "personal fields cannot be filtered anonymously"
        );
        // a bbox in EPSG:9213 and the answer in EPSG:9213
        let (s, h, v) = get(
            &app,
            "/collections/plots/items?bbox=443000,2459000,444000,2460000&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/9213&crs=http://www.opengis.net/def/crs/EPSG/0/9213&limit=1000",
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            h["content-crs"],
            "<http://www.opengis.net/def/crs/EPSG/0/9213>"
        );
        let n = v["numberMatched"].as_u64().unwrap();
        assert!(n > 5 && n < 200, "{n}");
        let x = v["features"][0]["geometry"]["coordinates"][0][0][0][0]
            .as_f64()
            .unwrap();
        assert!((442_000.0..445_000.0).contains(&x), "{x}");
    }

    #[tokio::test]
    async fn one_item_by_key() {
        let (app, _d, c) = app().await;
        let key = c.plots[5].key.to_string();
        let (s, _, v) = get(
            &app,
            &format!("/collections/plots/items/{}", key.replace('/', "%2F")),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["id"], key);
        assert_eq!(v["properties"]["tk"], c.plots[5].key.tk());
        let (s, _, _) = get(&app, "/collections/plots/items/01981%2F999%2F1%2F1").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
}
