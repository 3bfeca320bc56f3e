//! Collections derived from the plots: `compartments` (each sub-compartment,
//! khoảnh, dissolved from its plots) and `contracts` (every plot under a
//! protection contract of the register, with its contract).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;
use forest_core::change::alert::PlotShape;
use forest_core::{Crs, Transformer};
use geo::{BoundingRect, Intersects};
use geo_types::{MultiPolygon, Polygon};
use serde_json::json;

use crate::ogc::{base, geojson_response, link, page_links, Paging};
use crate::{ApiError, AppState};

/// A sub-compartment (khoảnh) dissolved from its plots.
#[derive(Debug, Clone)]
pub struct Compartment {
    /// Commune code.
    pub maxa: u32,
    /// Compartment (tiểu khu).
    pub tk: String,
    /// Sub-compartment (khoảnh).
    pub khoanh: String,
    /// Number of plots.
    pub plots: u64,
    /// Area of the plots, ha.
    pub area_ha: f64,
    /// Forest area, ha.
    pub forest_ha: f64,
    /// The union of the plots, EPSG:9213.
    pub geometry: MultiPolygon<f64>,
}

impl Compartment {
    fn id(&self) -> String {
        format!("{:05}/{}/{}", self.maxa, self.tk, self.khoanh)
    }
}

/// Groups the plots by commune, compartment and sub-compartment and
/// dissolves each group's outlines.
pub fn dissolve(shapes: &[PlotShape]) -> Vec<Compartment> {
    let mut groups: BTreeMap<(u32, String, String), Vec<&PlotShape>> = BTreeMap::new();
    for s in shapes {
        let k = &s.touch.key;
        groups
            .entry((k.maxa(), k.tk().to_string(), k.khoanh().to_string()))
            .or_default()
            .push(s);
    }
    groups
        .into_iter()
        .map(|((maxa, tk, khoanh), members)| {
            let polygons: Vec<&Polygon<f64>> =
                members.iter().flat_map(|s| s.geometry.0.iter()).collect();
            let area = |s: &&PlotShape| forest_core::planar_area_ha(&s.geometry);
            Compartment {
                maxa,
                tk,
                khoanh,
                plots: members.len() as u64,
                area_ha: members.iter().map(area).sum(),
                forest_ha: members.iter().filter(|s| s.forest).map(area).sum(),
                geometry: geo::unary_union(polygons),
            }
        })
        .collect()
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The description of a derived collection.
pub fn collection(id: &str, b: &str) -> serde_json::Value {
    let (title, description) = match id {
        "compartments" => (
            "Sub-compartments (khoảnh)",
            "Each sub-compartment dissolved from its plots, with plot count, area and forest area",
        ),
        _ => (
            "Protection contracts by plot",
            "Every plot under a household protection contract of the register, with its contract (holders only for signed-in users)",
        ),
    };
    json!({
        "id": id,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": crate::ogc::crs_list(),
        "storageCrs": Crs::Vn2000Tm3_10630.uri(),
        "links": [
            link(format!("{b}/collections/{id}"), "self", "application/json", "this collection"),
            link(format!("{b}/collections/{id}/items"), "items", "application/geo+json", id),
        ]
    })
}

struct Page {
    limit: u64,
    offset: u64,
    window: Option<Polygon<f64>>,
    crs: Crs,
    tk: Option<String>,
}

fn parse(params: &BTreeMap<String, String>) -> Result<Page, ApiError> {
    let mut tk = None;
    let paging = Paging::parse(params, "tk or f", |k, v| {
        Ok(k == "tk" && {
            tk = Some(v.clone());
            true
        })
    })?;
    Ok(Page {
        limit: paging.limit,
        offset: paging.offset,
        window: paging.window()?,
        crs: paging.crs,
        tk,
    })
}

fn inside(window: &Option<Polygon<f64>>, g: &MultiPolygon<f64>) -> bool {
    window.as_ref().is_none_or(|w| {
        g.bounding_rect()
            .zip(w.bounding_rect())
            .is_some_and(|(a, b)| a.intersects(&b))
            && g.intersects(w)
    })
}

fn compartment_feature(c: &Compartment, to: &Transformer) -> Result<serde_json::Value, ApiError> {
    Ok(json!({
        "type": "Feature",
        "id": c.id(),
        "geometry": crate::ogc::geometry(&c.geometry, to)?,
        "properties": {
            "maxa": c.maxa, "tk": c.tk, "khoanh": c.khoanh, "plots": c.plots,
            "area_ha": round2(c.area_ha), "forest_ha": round2(c.forest_ha),
        }
    }))
}

/// One contracted plot and its contract.
struct ContractPlot<'a> {
    contract: &'a forest_core::Contract,
    shape: &'a PlotShape,
}

fn contract_feature(
    c: &ContractPlot<'_>,
    to: &Transformer,
    personal: bool,
) -> Result<serde_json::Value, ApiError> {
    let k = &c.contract;
    let mut props = json!({
        "number": k.number, "plot": c.shape.touch.key.to_string(),
        "plot_area_ha": round2(forest_core::planar_area_ha(&c.shape.geometry)),
        "contract_area_ha": k.area_ha, "start": k.start.to_string(), "end": k.end.to_string(),
        "rate_vnd_per_ha": k.rate_vnd_per_ha, "malr3": c.shape.touch.malr3, "ldlr": c.shape.touch.ldlr,
    });
    if personal {
        props["holder_name"] = json!(k.holder_name);
        props["holder_code"] = json!(k.holder_code);
    }
    Ok(json!({
        "type": "Feature",
        "id": format!("{}:{}", k.number, c.shape.touch.key),
        "geometry": crate::ogc::geometry(&c.shape.geometry, to)?,
        "properties": props,
    }))
}

fn page_of(
    id: &str,
    features: Vec<serde_json::Value>,
    total: u64,
    params: &BTreeMap<String, String>,
    p: &Page,
    headers: &HeaderMap,
) -> Response {
    let links = page_links(
        &base(headers),
        id,
        params,
        p.limit,
        p.offset,
        features.len(),
        total,
    );
    geojson_response(
        json!({
            "type": "FeatureCollection",
            "numberMatched": total,
            "numberReturned": features.len(),
            "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "links": links,
            "features": features,
        }),
        p.crs,
    )
}

/// `GET /collections/{compartments|contracts}/items`.
pub async fn items(
    s: Arc<AppState>,
    id: &str,
    params: BTreeMap<String, String>,
    headers: HeaderMap,
    personal: bool,
) -> Result<Response, ApiError> {
    let p = parse(&params)?;
    // the PROJ transformer is not Send: made after the awaits
    let to = || {
        Transformer::new(Crs::Vn2000Tm3_10630, p.crs)
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    };
    if id == "compartments" {
        let all = crate::cache::compartments(&s).await?;
        let to = to()?;
        let matched: Vec<&Compartment> = all
            .iter()
            .filter(|c| p.tk.as_ref().is_none_or(|t| &c.tk == t))
            .filter(|c| inside(&p.window, &c.geometry))
            .collect();
        let features = matched
            .iter()
            .skip(p.offset as usize)
            .take(p.limit as usize)
            .map(|c| compartment_feature(c, &to))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(page_of(
            id,
            features,
            matched.len() as u64,
            &params,
            &p,
            &headers,
        ));
    }
    let shapes = crate::cache::shapes(&s).await?;
    let by_key: HashMap<&forest_core::PlotKey, &PlotShape> =
        shapes.iter().map(|s| (&s.touch.key, s)).collect();
    let register = s.store.contracts().await?;
    let to = to()?;
    let matched: Vec<ContractPlot<'_>> = register
        .iter()
        .flat_map(|k| {
            k.plots
                .iter()
                .filter_map(|key| by_key.get(key))
                .map(move |shape| ContractPlot { contract: k, shape })
        })
        .filter(|c| p.tk.as_ref().is_none_or(|t| c.shape.touch.key.tk() == t))
        .filter(|c| inside(&p.window, &c.shape.geometry))
        .collect();
    let features = matched
        .iter()
        .skip(p.offset as usize)
        .take(p.limit as usize)
        .map(|c| contract_feature(c, &to, personal))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_of(
        id,
        features,
        matched.len() as u64,
        &params,
        &p,
        &headers,
    ))
}

/// `GET /collections/{compartments|contracts}/items/{id}`: a sub-compartment
/// as `maxa/tk/khoanh`, a contracted plot as `number:maxa/tk/khoanh/lo`.
pub async fn item(
    s: Arc<AppState>,
    id: &str,
    fid: &str,
    crs: Crs,
    personal: bool,
) -> Result<Response, ApiError> {
    // the PROJ transformer is not Send: made after the awaits
    let to = || {
        Transformer::new(Crs::Vn2000Tm3_10630, crs).map_err(|e| ApiError::BadRequest(e.to_string()))
    };
    let missing = || ApiError::NotFound(format!("no feature '{fid}' in {id}"));
    if id == "compartments" {
        let all = crate::cache::compartments(&s).await?;
        let to = to()?;
        let c = all.iter().find(|c| c.id() == fid).ok_or_else(missing)?;
        return Ok(geojson_response(compartment_feature(c, &to)?, crs));
    }
    let (number, key) = fid.split_once(':').ok_or_else(missing)?;
    let key: forest_core::PlotKey = key.parse().map_err(|_| missing())?;
    let register = s.store.contracts().await?;
    let contract = register
        .iter()
        .find(|k| k.number == number && k.plots.contains(&key))
        .ok_or_else(missing)?;
    let shapes = crate::cache::shapes(&s).await?;
    let shape = shapes
        .iter()
        .find(|s| s.touch.key == key)
        .ok_or_else(missing)?;
    let to = to()?;
    Ok(geojson_response(
        contract_feature(&ContractPlot { contract, shape }, &to, personal)?,
        crs,
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::StatusCode;
    use forest_core::auth::Role;
    use forest_store::{tokens, GpkgStore, PlotStore};

    use crate::{router, AppState};

    async fn get(
        app: &axum::Router,
        uri: &str,
        token: Option<&str>,
    ) -> (StatusCode, serde_json::Value) {
        crate::test_support::call(app, "GET", uri, token, None).await
    }

    #[tokio::test]
    async fn compartments_are_dissolved_and_contracts_served_by_plot() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("t.gpkg")).unwrap();
        store.migrate().await.unwrap();
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        store.load_plots(&c.plots, "test").await.unwrap();
        store.replace_contracts(&c.contracts, "test").await.unwrap();
        let t = tokens::generate();
        store
            .create_token("Lan", Role::LandOfficer, &tokens::hash(&t), None)
            .await
            .unwrap();
        let app = router(AppState::new(Arc::new(store), 2026));
        let khoanh: std::collections::BTreeSet<(u32, String, String)> = c
            .plots
            .iter()
            .map(|p| {
                (
                    p.key.maxa(),
                    p.key.tk().to_string(),
                    p.key.khoanh().to_string(),
                )
            })
            .collect();
        let (st, v) = get(&app, "/collections/compartments/items?limit=10000", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["numberMatched"].as_u64(), Some(khoanh.len() as u64));
        let feats = v["features"].as_array().unwrap();
        let plots: u64 = feats
            .iter()
            .map(|f| f["properties"]["plots"].as_u64().unwrap())
            .sum();
        assert_eq!(
            plots,
            c.plots.len() as u64,
            "every plot in one sub-compartment"
        );
        let area: f64 = feats
            .iter()
            .map(|f| f["properties"]["area_ha"].as_f64().unwrap())
            .sum();
        let total: f64 = c.plots.iter().map(|p| p.area_ha()).sum();
        assert!((area - total).abs() < 1.0, "{area} vs {total}");
        // dissolved: one outline per sub-compartment, not one per plot
        let rings: usize = feats
            .iter()
            .map(|f| f["geometry"]["coordinates"].as_array().unwrap().len())
            .sum();
        assert!(
            rings < plots as usize / 3,
            "{rings} polygons for {plots} plots"
        );
        let id = feats[0]["id"].as_str().unwrap().to_string();
        let (st, one) = get(
            &app,
            &format!("/collections/compartments/items/{}", id.replace('/', "%2F")),
            None,
        )
        .await;
        assert_eq!(
            (st, one["id"].as_str()),
            (StatusCode::OK, Some(id.as_str()))
        );
        let tk = feats[0]["properties"]["tk"].as_str().unwrap().to_string();
        let (_, v) = get(
            &app,
            &format!("/collections/compartments/items?tk={tk}&limit=10000"),
            None,
        )
        .await;
        assert!(v["numberMatched"].as_u64().unwrap() < khoanh.len() as u64);

        // contracts: every registered plot, holders only when signed in
        let registered: usize = c.contracts.iter().map(|k| k.plots.len()).sum();
        let (st, v) = get(&app, "/collections/contracts/items?limit=10000", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["numberMatched"].as_u64(), Some(registered as u64));
        assert!(v["features"][0]["properties"].get("holder_name").is_none());
        let (_, v) = get(&app, "/collections/contracts/items?limit=1", Some(&t)).await;
        let k = &c
            .contracts
            .iter()
            .find(|k| k.number == v["features"][0]["properties"]["number"])
            .unwrap();
        assert_eq!(
            v["features"][0]["properties"]["holder_name"],
            k.holder_name.as_str()
        );
        let fid = v["features"][0]["id"].as_str().unwrap().replace('/', "%2F");
        let (st, _) = get(&app, &format!("/collections/contracts/items/{fid}"), None).await;
        assert_eq!(st, StatusCode::OK);
        let (st, _) = get(&app, "/collections/contracts/items/nope", None).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = get(&app, "/collections/compartments/items?status=new", None).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
    }
}
