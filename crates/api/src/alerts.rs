//! The `alerts` collection of the OGC API: change alerts as GeoJSON, highest
//! priority first, with filters rangers use (status, class, confidence,
//! compartment, `datetime` on the first observation) and paging.
//!
//! Anonymous requests: owner and contract-holder names and codes are removed
//! from the plots an alert touches, and from its reasons.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use forest_core::{Crs, Transformer};
use forest_store::alerts::{StoredAlert, STATUSES};
use geo::{BoundingRect, Intersects};
use serde_json::json;

use crate::ogc::{base, geojson_response, link, page_links, Paging};
use crate::{ApiError, AppState};

/// The collection document.
pub fn collection(b: &str) -> serde_json::Value {
    json!({
        "id": "alerts",
        "title": "Forest change alerts",
        "description": "Clearing, degradation and burn detected in satellite scenes, highest priority first, with the plots they touch. Filters: status, class, confidence, tk, datetime (first observation).",
        "itemType": "feature",
        "crs": crate::ogc::crs_list(),
        "storageCrs": Crs::Vn2000Tm3_10630.uri(),
        "extent": { "temporal": { "interval": [[null, null]], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian" } },
        "links": [
            link(format!("{b}/collections/alerts"), "self", "application/json", "this collection"),
            link(format!("{b}/collections/alerts/items"), "items", "application/geo+json", "alerts"),
            link(format!("{b}/collections/alerts/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "application/json", "vector tiles"),
        ]
    })
}

/// A `datetime` parameter: one date, or an interval with `..` for open ends.
pub(crate) fn parse_datetime(v: &str) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ApiError> {
    let date = |s: &str| -> Result<Option<NaiveDate>, ApiError> {
        let s = s.trim();
        if s.is_empty() || s == ".." {
            return Ok(None);
        }
        let d = s.get(..10).unwrap_or(s);
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("datetime '{v}': dates as YYYY-MM-DD (RFC 3339), intervals as start/end with .. for an open end")))
    };
    match v.split_once('/') {
        Some((a, b)) => {
            let (a, b) = (date(a)?, date(b)?);
            if let (Some(x), Some(y)) = (a, b) {
                if x > y {
                    return Err(ApiError::BadRequest(format!(
                        "datetime '{v}': the interval ends before it starts"
                    )));
                }
            }
            Ok((a, b))
        }
        None => {
            let d = date(v)?.ok_or_else(|| {
                ApiError::BadRequest(format!("datetime '{v}': a date or an interval"))
            })?;
            Ok((Some(d), Some(d)))
        }
    }
}

/// An alert as a GeoJSON feature; the owners and contract holders of its
/// plots only for callers allowed to see `personal` data.
fn feature(
    a: &StoredAlert,
    to: &Transformer,
    personal: bool,
) -> Result<serde_json::Value, ApiError> {
    let plots: Vec<serde_json::Value> = a
        .plots
        .iter()
        .map(|p| {
            let mut v = json!({
                "key": p.key.to_string(),
                "overlap_ha": p.overlap_ha,
                "malr3": p.malr3,
                "nggocr": p.nggocr,
                "ldlr": p.ldlr,
                "forest_type": p.forest_type,
                "sldlr": p.sldlr,
                "namtr": p.namtr,
                "contracted": p.contracted,
            });
            if personal {
                v["churung"] = json!(p.churung);
                v["machur"] = json!(p.machur);
                v["nguoink"] = json!(p.nguoink);
                v["mangnk"] = json!(p.mangnk);
            }
            v
        })
        .collect();
    // "protection contract held by <name> on <key>" names a household.
    let reasons: Vec<String> = a
        .reasons
        .iter()
        .map(|r| {
            if personal {
                return r.clone();
            }
            match (
                r.strip_prefix("protection contract held by "),
                r.rfind(" on "),
            ) {
                (Some(_), Some(i)) => format!("protection contract{}", &r[i..]),
                _ => r.clone(),
            }
        })
        .collect();
    let geometry = crate::ogc::geometry(&a.geometry, to)?;
    Ok(json!({
        "type": "Feature",
        "id": a.id,
        "geometry": geometry,
        "properties": {
            "class": a.class,
            "confidence": a.confidence,
            "status": a.status,
            "status_reason": a.status_reason,
            "priority": a.priority,
            "reasons": reasons,
            "area_ha": (a.area_ha * 10_000.0).round() / 10_000.0,
            "mean_drop": (a.mean_drop * 1000.0).round() / 1000.0,
            "mean_dnbr": a.mean_dnbr.map(|d| (d * 1000.0).round() / 1000.0),
            "first_observed": a.first_observed.to_string(),
            "last_clear_before": a.last_clear_before.map(|d| d.to_string()),
            "datetime": a.first_observed.to_string(),
            "plots": plots,
            "updated_at": a.updated_at.to_rfc3339(),
        }
    }))
}

/// A page of alerts as CSV (RFC 4180; UTF-8 with a byte-order mark so
/// spreadsheet programs read the Vietnamese names), centroid in CRS84.
fn csv_response(alerts: &[&StoredAlert], personal: bool) -> Result<Response, ApiError> {
    use geo::Centroid;
    let to = Transformer::new(Crs::Vn2000Tm3_10630, Crs::Crs84)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let cell = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from("\u{feff}id,class,confidence,status,priority,area_ha,first_observed,last_clear_before,longitude,latitude,plots");
    if personal {
        out.push_str(",owners,contract_holders");
    }
    out.push_str("\r\n");
    for a in alerts {
        let (lon, lat) = match a.geometry.centroid() {
            Some(c) => to
                .point(c.x(), c.y())
                .map_err(|e| ApiError::BadRequest(e.to_string()))?,
            None => (f64::NAN, f64::NAN),
        };
        let keys: Vec<String> = a.plots.iter().map(|p| p.key.to_string()).collect();
        let mut row = vec![
            a.id.to_string(),
            a.class.clone(),
            a.confidence.clone(),
            a.status.clone(),
            a.priority.to_string(),
            format!("{:.4}", a.area_ha),
            a.first_observed.to_string(),
            a.last_clear_before
                .map(|d| d.to_string())
                .unwrap_or_default(),
            format!("{lon:.6}"),
            format!("{lat:.6}"),
            keys.join(" "),
        ];
        if personal {
            let names = |f: fn(&forest_core::change::alert::PlotTouch) -> Option<&String>| {
                let mut v: Vec<&str> = a
                    .plots
                    .iter()
                    .filter_map(|p| f(p).map(String::as_str))
                    .collect();
                v.dedup();
                v.join("; ")
            };
            row.push(names(|p| p.churung.as_ref()));
            row.push(names(|p| p.nguoink.as_ref()));
        }
        out.push_str(&row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"alerts.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// `GET /collections/alerts/items`.
pub async fn items(
    s: Arc<AppState>,
    params: BTreeMap<String, String>,
    headers: HeaderMap,
    personal: bool,
) -> Result<Response, ApiError> {
    let mut when = (None, None);
    let (mut status, mut class, mut confidence, mut tk) = (None, None, None, None);
    let (mut owner, mut csv) = (None::<i64>, false);
    let paging = Paging::parse(
        &params,
        "datetime, status, class, confidence, tk, owner or f",
        |k, v| {
            match k {
                "datetime" => when = parse_datetime(v)?,
                "status" if STATUSES.contains(&v.as_str()) => status = Some(v.clone()),
                "status" => {
                    return Err(ApiError::BadRequest(format!(
                        "status '{v}': one of {}",
                        STATUSES.join(", ")
                    )))
                }
                "class" if ["clearing", "degradation", "burn", "fire"].contains(&v.as_str()) => {
                    class = Some(v.clone())
                }
                "class" => {
                    return Err(ApiError::BadRequest(format!(
                        "class '{v}': clearing, degradation, burn or fire"
                    )))
                }
                "confidence" if v == "low" || v == "high" => confidence = Some(v.clone()),
                "confidence" => {
                    return Err(ApiError::BadRequest(format!(
                        "confidence '{v}': low or high"
                    )))
                }
                "tk" => tk = Some(v.clone()),
                "owner" if !personal => {
                    return Err(ApiError::Unauthorized(
                        "owner: filtering by forest owner needs a bearer token (it names people)"
                            .into(),
                    ))
                }
                "owner" => {
                    owner = Some(v.parse().map_err(|_| {
                        ApiError::BadRequest(format!("owner '{v}': a forest owner code (machur)"))
                    })?)
                }
                "f" if v == "csv" => csv = true,
                "f" if v == "json" || v == "geojson" => {}
                "f" => return Err(ApiError::BadRequest(format!("f={v}: json, geojson or csv"))),
                _ => return Ok(false),
            }
            Ok(true)
        },
    )?;
    let (limit, offset, crs) = (paging.limit, paging.offset, paging.crs);
    let window = paging.window()?;
    let all = s.store.alerts().await?;
    let matched: Vec<&StoredAlert> = all
        .iter()
        .filter(|a| status.as_ref().is_none_or(|x| &a.status == x))
        .filter(|a| class.as_ref().is_none_or(|x| &a.class == x))
        .filter(|a| confidence.as_ref().is_none_or(|x| &a.confidence == x))
        .filter(|a| {
            tk.as_ref()
                .is_none_or(|x| a.plots.iter().any(|p| p.key.tk() == x))
        })
        .filter(|a| owner.is_none_or(|o| a.plots.iter().any(|p| p.machur == Some(o))))
        .filter(|a| {
            when.0.is_none_or(|d| a.first_observed >= d)
                && when.1.is_none_or(|d| a.first_observed <= d)
        })
        .filter(|a| {
            window.as_ref().is_none_or(|w| {
                a.geometry
                    .bounding_rect()
                    .zip(w.bounding_rect())
                    .is_some_and(|(r, wr)| r.intersects(&wr))
                    && a.geometry.intersects(w)
            })
        })
        .collect();
    if csv {
        let page: Vec<&StoredAlert> = matched
            .iter()
            .skip(offset as usize)
            .take(limit as usize)
            .copied()
            .collect();
        return csv_response(&page, personal);
    }
    let to = Transformer::new(Crs::Vn2000Tm3_10630, crs)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let features = matched
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|a| feature(a, &to, personal))
        .collect::<Result<Vec<_>, _>>()?;
    let b = base(&headers);
    let total = matched.len() as u64;
    let links = page_links(&b, "alerts", &params, limit, offset, features.len(), total);
    let body = json!({
        "type": "FeatureCollection",
        "numberMatched": total,
        "numberReturned": features.len(),
        "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "links": links,
        "features": features,
    });
    Ok(geojson_response(body, crs))
}

/// `GET /collections/alerts/items/{id}`.
pub async fn item(
    s: Arc<AppState>,
    fid: &str,
    crs: Crs,
    personal: bool,
) -> Result<Response, ApiError> {
    let id: i64 = fid
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no alert '{fid}': alert ids are numbers")))?;
    let a = s
        .store
        .alerts()
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))?;
    let to = Transformer::new(Crs::Vn2000Tm3_10630, crs)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(geojson_response(feature(&a, &to, personal)?, crs))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use chrono::NaiveDate;
    use forest_core::change::alert::{PlotIndex, PlotShape};
    use forest_core::change::{priority, AlertCandidate, Confidence, PixelClass};
    use forest_core::Targets;
    use forest_store::alerts::NewAlert;
    use forest_store::{GpkgStore, PlotStore};
    use tower::ServiceExt;

    use crate::{router, AppState};

    async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
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
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn alerts_are_served_by_priority_with_filters_and_without_personal_data() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("t.gpkg")).unwrap();
        store.migrate().await.unwrap();
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        store.load_plots(&c.plots, "test").await.unwrap();
        let shapes: Vec<PlotShape> = c.plots.iter().map(PlotShape::of).collect();
        let index = PlotIndex::new(&shapes);
        // one alert over a contracted forest plot, one over a natural plot, a month later
        let contracted = c
            .plots
            .iter()
            .find(|p| p.is_contracted() && p.is_forest())
            .unwrap();
        let natural = c
            .plots
            .iter()
            .find(|p| p.attrs.nggocr.map(|o| o.code()) == Some(1) && !p.is_contracted())
            .unwrap();
        let mut alerts = Vec::new();
        for (p, day, class) in [
            (contracted, 17, PixelClass::Clearing),
            (natural, 28, PixelClass::Burn),
        ] {
            let cand = AlertCandidate {
                geometry: p.geometry.clone(),
                area_ha: p.area_ha(),
                class,
                confidence: Confidence::High,
                mean_drop: 0.4,
                mean_dnbr: Some(0.6),
                first_observed: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
                last_clear_before: NaiveDate::from_ymd_opt(2025, 12, 12),
                pixels: 100,
            };
            let plots = index.attribute(&cand.geometry);
            let prio = priority(cand.class, cand.confidence, cand.area_ha, &plots, 2026);
            alerts.push(NewAlert {
                candidate: cand,
                plots,
                priority: prio,
            });
        }
        store.save_alerts(&alerts, "test").await.unwrap();
        let app = router(AppState {
            store: Arc::new(store),
            targets: Targets::default(),
            reference_year: 2026,
            fire: Default::default(),
            cors_origins: vec!["*".into()],
            cache: Default::default(),
            tiles: Default::default(),
        });

        let (s, body) = get(&app, "/collections/alerts/items").await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["numberMatched"], 2);
        let prios: Vec<i64> = v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["priority"].as_i64().unwrap())
            .collect();
        assert!(prios[0] >= prios[1], "highest priority first: {prios:?}");
        let holder = contracted.attrs.nguoink.clone().unwrap();
        assert!(
            !body.contains(&holder),
            "contract holder's name is not served anonymously"
        );
        if let Some(owner) = &contracted.attrs.churung {
            assert!(
                !body.contains(owner.as_str()),
                "owner's name is not served anonymously"
            );
        }
        assert!(body.contains("protection contract on "), "{body}");

        let (_, body) = get(&app, "/collections/alerts/items?class=burn").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["numberMatched"], 1);
        let (_, body) = get(
            &app,
            "/collections/alerts/items?datetime=2026-03-01/2026-03-20",
        )
        .await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (
                v["numberMatched"].as_i64(),
                v["features"][0]["properties"]["class"].as_str()
            ),
            (Some(1), Some("clearing"))
        );
        let (_, body) = get(&app, "/collections/alerts/items?datetime=../2026-02-01").await;
        assert!(body.contains("\"numberMatched\":0"), "{body}");
        let (_, body) = get(&app, "/collections/alerts/items?status=new&limit=1").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (v["numberMatched"].as_i64(), v["numberReturned"].as_i64()),
            (Some(2), Some(1))
        );
        assert!(v["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "next"));
        let id = v["features"][0]["id"].as_i64().unwrap();
        let (s, body) = get(
            &app,
            &format!(
                "/collections/alerts/items/{id}?crs=http://www.opengis.net/def/crs/EPSG/0/9213"
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let (_, body) = get(&app, "/collections").await;
        assert!(body.contains("\"id\":\"alerts\""));

        for (uri, want) in [
            (
                "/collections/alerts/items?datetime=yesterday",
                StatusCode::BAD_REQUEST,
            ),
            (
                "/collections/alerts/items?datetime=2026-04-01/2026-03-01",
                StatusCode::BAD_REQUEST,
            ),
            (
                "/collections/alerts/items?status=gone",
                StatusCode::BAD_REQUEST,
            ),
            (
                // filtering by owner names people: signed-in roles only
                "/collections/alerts/items?owner=12",
                StatusCode::UNAUTHORIZED,
            ),
            (
                "/collections/alerts/items?bbox=1,2,3",
                StatusCode::BAD_REQUEST,
            ),
            ("/collections/alerts/items/999", StatusCode::NOT_FOUND),
            (
                "/collections/alerts/items/x'%20OR%201=1",
                StatusCode::NOT_FOUND,
            ),
        ] {
            let (s, body) = get(&app, uri).await;
            assert_eq!(s, want, "{uri}: {body}");
            assert!(body.contains("\"error\""), "{uri}: JSON error body: {body}");
        }
    }
}
