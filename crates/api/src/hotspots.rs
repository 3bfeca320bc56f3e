//! The `hotspots` collection: satellite thermal hotspots (FIRMS), in forest
//! or not, newest first.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;
use forest_core::{Crs, Transformer};
use forest_store::hotspots::HotspotRow;
use serde_json::json;

use crate::ogc::{base, geojson_response, link, page_links, Paging};
use crate::{ApiError, AppState};

/// The collection's description.
pub fn collection(b: &str) -> serde_json::Value {
    json!({
        "id": "hotspots",
        "title": "Satellite fire hotspots",
        "description": "Thermal anomalies from VIIRS 375 m and MODIS 1 km (FIRMS), each detection once; in_forest marks those in or within one pixel of a forest plot (they raised a fire alert).",
        "itemType": "feature",
        "crs": crate::ogc::crs_list(),
        "storageCrs": Crs::Vn2000Tm3_10630.uri(),
        "links": [
            link(format!("{b}/collections/hotspots"), "self", "application/json", "this collection"),
            link(format!("{b}/collections/hotspots/items"), "items", "application/geo+json", "hotspots"),
        ]
    })
}

fn feature(h: &HotspotRow, to: &Transformer, crs: Crs) -> Result<serde_json::Value, ApiError> {
    let p = &h.hotspot;
    // CRS84 is what the file gave: serve it as given, not through a round trip
    let (x, y) = if crs == Crs::Crs84 {
        (p.longitude, p.latitude)
    } else {
        to.point(h.x, h.y)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?
    };
    Ok(json!({
        "type": "Feature",
        "id": h.id,
        "geometry": { "type": "Point", "coordinates": [x, y] },
        "properties": {
            "acq_date": p.acq_date.to_string(),
            "acq_time": format!("{:04}", p.acq_time),
            "datetime": format!("{}T{:02}:{:02}:00Z", p.acq_date, p.acq_time / 100, p.acq_time % 100),
            "satellite": p.satellite,
            "instrument": p.instrument,
            "confidence": p.confidence,
            "confident": p.is_confident(),
            "frp": p.frp,
            "brightness": p.brightness,
            "scan": p.scan,
            "track": p.track,
            "daynight": p.daynight,
            "in_forest": h.in_forest,
            "latitude": p.latitude,
            "longitude": p.longitude,
        }
    }))
}

/// `GET /collections/hotspots/items`: `limit`, `offset`, `bbox`,
/// `bbox-crs`, `crs`, `datetime`, `in_forest`.
pub async fn items(
    s: Arc<AppState>,
    params: BTreeMap<String, String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (mut when, mut in_forest) = ((None, None), None);
    let paging = Paging::parse(&params, "datetime, in_forest or f", |k, v| {
        match k {
            "datetime" => when = crate::alerts::parse_datetime(v)?,
            "in_forest" => {
                in_forest = Some(match v.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(ApiError::BadRequest(format!(
                            "in_forest '{v}': true or false"
                        )))
                    }
                })
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let (limit, offset, crs) = (paging.limit, paging.offset, paging.crs);
    let window = paging.window()?;
    let all = s.store.hotspots().await?;
    let matched: Vec<&HotspotRow> = all
        .iter()
        .filter(|h| in_forest.is_none_or(|f| h.in_forest == f))
        .filter(|h| {
            when.0.is_none_or(|d| h.hotspot.acq_date >= d)
                && when.1.is_none_or(|d| h.hotspot.acq_date <= d)
        })
        .filter(|h| {
            window.as_ref().is_none_or(|w| {
                use geo::Intersects;
                w.intersects(&geo_types::Point::new(h.x, h.y))
            })
        })
        .collect();
    let to = Transformer::new(Crs::Vn2000Tm3_10630, crs)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let features = matched
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|h| feature(h, &to, crs))
        .collect::<Result<Vec<_>, _>>()?;
    let total = matched.len() as u64;
    let links = page_links(
        &base(&headers),
        "hotspots",
        &params,
        limit,
        offset,
        features.len(),
        total,
    );
    Ok(geojson_response(
        json!({
            "type": "FeatureCollection",
            "numberMatched": total,
            "numberReturned": features.len(),
            "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "links": links,
            "features": features,
        }),
        crs,
    ))
}

/// `GET /collections/hotspots/items/{id}`.
pub async fn item(s: Arc<AppState>, fid: &str, crs: Crs) -> Result<Response, ApiError> {
    let id: i64 = fid
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no hotspot '{fid}': hotspot ids are numbers")))?;
    let h = s
        .store
        .hotspots()
        .await?
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("no hotspot {id}")))?;
    let to = Transformer::new(Crs::Vn2000Tm3_10630, crs)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(geojson_response(feature(&h, &to, crs)?, crs))
}
