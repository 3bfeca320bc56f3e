//! Allocation for land officers: a plot's allocation record with its
//! history, updates with a mandatory note (a new plot version), owner and
//! contract-holder search without diacritics, and progress by compartment or
//! village.

#[allow(unused_imports)]
use crate::openapi::ErrorBody;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use forest_core::auth::Permission;
use forest_core::indicators::Allocation;
use forest_core::{Contract, FactGroup, Plot, PlotKey, Value};
use forest_store::PlotVersion;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::dto::AllocationDto;
use crate::{ApiError, AppState};

/// The national fields an allocation update may change.
pub const ALLOCATION_FIELDS: [&str; 10] = [
    "churung",
    "machur",
    "dtuong",
    "quyensd",
    "trchap",
    "nguoitrch",
    "mangtrch",
    "khoan",
    "nguoink",
    "mangnk",
];

fn parse_key(s: &str) -> Result<PlotKey, ApiError> {
    s.parse()
        .map_err(|e: forest_core::plot::KeyError| ApiError::NotFound(format!("no plot '{s}': {e}")))
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The allocation facts of one plot version.
fn facts(p: &Plot) -> serde_json::Value {
    let a = &p.attrs;
    json!({
        "owner": {
            "name": a.churung,
            "code": a.machur,
            "type": a.dtuong.map(|c| c.code()),
            "type_label_vi": a.dtuong.map(|c| c.label_vi()),
            "type_label_en": a.dtuong.map(|c| c.label_en()),
        },
        "certificate": {
            "quyensd": a.quyensd.map(|c| c.code()),
            "label_vi": a.quyensd.map(|c| c.label_vi()),
            "label_en": a.quyensd.map(|c| c.label_en()),
            "held": a.quyensd.is_some_and(|c| c.is_certificate()),
        },
        "dispute": {
            "trchap": a.trchap,
            "in_dispute": a.trchap.is_some_and(|t| t != 0),
            "party": a.nguoitrch,
            "party_code": a.mangtrch,
        },
        "contract": {
            "khoan": a.khoan,
            "holder": a.nguoink,
            "holder_code": a.mangnk,
            "contracted": p.is_contracted(),
        },
    })
}

fn record(p: &Plot, history: &[PlotVersion], contracts: &[Contract]) -> serde_json::Value {
    let mut doc = facts(p);
    doc["key"] = json!(p.key.to_string());
    doc["area_ha"] = json!(round2(p.area_ha()));
    doc["forest"] = json!(p.is_forest());
    doc["register"] = contracts
        .iter()
        .filter(|c| c.plots.contains(&p.key))
        .map(|c| {
            json!({
                "number": c.number, "holder_name": c.holder_name, "holder_code": c.holder_code,
                "area_ha": c.area_ha, "start": c.start.to_string(), "end": c.end.to_string(),
                "rate_vnd_per_ha": c.rate_vnd_per_ha,
            })
        })
        .collect();
    doc["history"] = history
        .iter()
        .map(|v| {
            let mut h = facts(&v.plot);
            h["version"] = json!(v.version);
            h["valid_from"] = json!(v.valid_from.to_rfc3339());
            h["valid_to"] = json!(v.valid_to.map(|t| t.to_rfc3339()));
            h["source"] = json!(v.source);
            h
        })
        .collect();
    doc
}

/// `GET /api/plots/{key}/allocation`: owner, owner type, certificate,
/// dispute, contract and holder (with the register's contracts), and every
/// earlier version with what wrote it. Signed-in roles only (it names
/// people).
#[utoipa::path(
    get,
    path = "/api/plots/{key}/allocation",
    tag = "Allocation",
    summary = "A plot's allocation record and history",
    params(("key" = String, Path, description = "Plot key maxa/tk/khoanh/lo, slashes percent-encoded")),
    security(("bearer" = [])),
    responses((status = 200, description = "Allocation record", content_type = "application/json", body = serde_json::Value), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Nothing at this address", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn get(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Permission::ReadPersonal)?;
    let key = parse_key(&key)?;
    let history = s.store.plot_history(&key).await?;
    let current = history
        .last()
        .ok_or_else(|| ApiError::NotFound(format!("no plot {key}")))?;
    let contracts = s.store.contracts().await?;
    Ok(Json(record(&current.plot, &history, &contracts)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    changes: BTreeMap<String, serde_json::Value>,
    note: String,
}

/// `POST /api/plots/{key}/allocation` `{"changes": {"churung": "…", …},
/// "note": "…"}` (land officers, admins): a new version of the plot, the
/// old one kept with its validity; the note and the token's holder are
/// recorded as what wrote it.
#[utoipa::path(
    post,
    path = "/api/plots/{key}/allocation",
    tag = "Allocation",
    summary = "Update allocation fields with a note (land officers)",
    params(("key" = String, Path, description = "Plot key maxa/tk/khoanh/lo, slashes percent-encoded")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "{\"changes\": {field: value}, \"note\"}"),
    security(("bearer" = [])),
    responses((status = 200, description = "The new allocation record", content_type = "application/json", body = serde_json::Value), (status = 400, description = "A bad parameter, named in the message", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Nothing at this address", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn update(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(key): Path<String>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token = caller.require(Permission::EditAllocation)?;
    let key = parse_key(&key)?;
    let b: UpdateBody =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?;
    let note = b.note.trim();
    if note.is_empty() || note.chars().count() > 2000 {
        return Err(ApiError::BadRequest(
            "note: say why the allocation changes (1 to 2000 characters; mandatory)".into(),
        ));
    }
    if b.changes.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "changes: name at least one of {}",
            ALLOCATION_FIELDS.join(", ")
        )));
    }
    let current = s
        .store
        .get_plot(&key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no plot {key}")))?;
    let mut rec = current.plot.to_record();
    for (field, v) in &b.changes {
        if !ALLOCATION_FIELDS.contains(&field.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "changes.{field}: not an allocation field (one of {})",
                ALLOCATION_FIELDS.join(", ")
            )));
        }
        let value = match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Number(n) if n.is_i64() => Value::Int(n.as_i64().unwrap_or_default()),
            serde_json::Value::String(t) if t.chars().count() <= 254 => Value::Text(t.trim().to_string()),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "changes.{field}: {other} is neither a whole number, a text of at most 254 characters nor null"
                )))
            }
        };
        rec.set(field, value);
    }
    let plot = Plot::from_record(&rec, current.plot.geometry.clone()).map_err(|errors| {
        ApiError::BadRequest(
            errors
                .iter()
                .map(|e| format!("changes: {e}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let source = format!("allocation update by {}: {note}", token.actor());
    let summary = s.store.load_plots(&[plot], &source).await?;
    s.tiles.plots_written();
    tracing::info!(plot = %key, actor = %token.actor(), changed = summary.updated, "allocation updated");
    let history = s.store.plot_history(&key).await?;
    let contracts = s.store.contracts().await?;
    let latest = &history
        .last()
        .ok_or_else(|| ApiError::NotFound(format!("no plot {key}")))?
        .plot;
    let mut doc = record(latest, &history, &contracts);
    doc["changed"] = json!(summary.updated > 0);
    Ok(Json(doc))
}

/// `GET /api/allocation?by=compartment|village`: allocation progress (ha and
/// plots with owner / certificate / in dispute / without owner) per group.
/// Aggregates only, so public.
#[utoipa::path(
    get,
    path = "/api/allocation",
    tag = "Allocation",
    summary = "Allocation progress by compartment or village",
    params(("by" = Option<String>, Query, description = "compartment or village")),
    responses((status = 200, description = "Progress", content_type = "application/json", body = serde_json::Value), (status = 400, description = "A bad parameter, named in the message", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn progress(
    State(s): State<Arc<AppState>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut by = "compartment";
    for (k, v) in &q {
        match (k.as_str(), v.as_str()) {
            ("by", "compartment" | "tk") => by = "compartment",
            ("by", "village" | "ddanh") => by = "village",
            ("by", other) => {
                return Err(ApiError::BadRequest(format!(
                    "by '{other}': compartment or village"
                )))
            }
            (other, _) => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter '{other}': use by"
                )))
            }
        }
    }
    let groups = s.store.fact_groups().await?;
    let mut split: BTreeMap<String, Vec<FactGroup>> = BTreeMap::new();
    for g in groups {
        let k = if by == "compartment" {
            g.facts.tk.clone()
        } else {
            g.facts.ddanh.clone().unwrap_or_default()
        };
        split.entry(k).or_default().push(g);
    }
    let total = Allocation::compute(
        &split.values().flatten().cloned().collect::<Vec<_>>(),
        &s.targets,
    );
    let rows: Vec<serde_json::Value> = split
        .iter()
        .map(|(k, gs)| {
            let a = Allocation::compute(gs, &s.targets);
            json!({ "key": k, "allocation": AllocationDto::from(&a) })
        })
        .collect();
    Ok(Json(
        json!({ "by": by, "total": AllocationDto::from(&total), "rows": rows }),
    ))
}

/// `GET /api/search?q=…`: forest owners and contract holders whose name
/// contains the words of `q` without diacritics ("Nguyen Van An" finds
/// "Nguyễn Văn An"), or whose code is `q`; with their plots and area.
/// Signed-in roles only.
#[utoipa::path(
    get,
    path = "/api/search",
    tag = "Allocation",
    summary = "Owners and contract holders by name (without diacritics) or code",
    params(("q" = String, Query, description = "Name or code"), ("limit" = Option<u64>, Query, description = "At most this many (default 50, at most 500)")),
    security(("bearer" = [])),
    responses((status = 200, description = "Matches", content_type = "application/json", body = serde_json::Value), (status = 400, description = "A bad parameter, named in the message", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn search(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Permission::ReadPersonal)?;
    let mut text = None;
    let mut limit = 50usize;
    for (k, v) in &q {
        match k.as_str() {
            "q" => text = Some(v.trim().to_string()),
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|l| *l >= 1)
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!("limit '{v}': a whole number ≥ 1"))
                    })?
                    .min(500)
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter '{other}': use q or limit"
                )))
            }
        }
    }
    let text = text
        .filter(|t| !t.is_empty() && t.chars().count() <= 200)
        .ok_or_else(|| ApiError::BadRequest("q: a name or a code, 1 to 200 characters".into()))?;
    let code: Option<i64> = text.parse().ok();
    let folded = forest_core::text::fold(&text);
    let shapes = crate::cache::shapes(&s).await?;
    type Entry = (Vec<String>, f64);
    let mut found: HashMap<(&'static str, String, Option<i64>), Entry> = HashMap::new();
    for sh in shapes.iter() {
        let t = &sh.touch;
        for (role, name, c) in [
            ("owner", &t.churung, t.machur),
            ("contract_holder", &t.nguoink, t.mangnk),
        ] {
            let name = name.as_deref().unwrap_or("").trim();
            let hit = match code {
                Some(q) => c == Some(q),
                None => !name.is_empty() && forest_core::text::fold(name).contains(&folded),
            };
            if hit {
                let e = found
                    .entry((role, name.to_string(), c.filter(|c| *c != 0)))
                    .or_default();
                e.0.push(t.key.to_string());
                e.1 += forest_core::planar_area_ha(&sh.geometry);
            }
        }
    }
    let mut rows: Vec<_> = found.into_iter().collect();
    rows.sort_by(|a, b| (&a.0 .1, a.0 .0).cmp(&(&b.0 .1, b.0 .0)));
    let matched = rows.len();
    let results: Vec<serde_json::Value> = rows
        .into_iter()
        .take(limit)
        .map(|((role, name, code), (plots, area))| {
            json!({ "role": role, "name": name, "code": code, "plots": plots, "area_ha": round2(area) })
        })
        .collect();
    Ok(Json(
        json!({ "q": text, "matched": matched, "results": results }),
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::StatusCode;
    use forest_core::auth::Role;
    use forest_store::{tokens, GpkgStore, PlotStore};

    use crate::test_support::call;
    use crate::{router, AppState};

    #[tokio::test]
    async fn land_officers_read_search_and_update_allocation_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("t.gpkg")).unwrap();
        store.migrate().await.unwrap();
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        store
            .load_plots(&c.plots, "vinh_thong_plots.shp")
            .await
            .unwrap();
        store
            .replace_contracts(&c.contracts, "contracts.csv")
            .await
            .unwrap();
        let mut tok = std::collections::HashMap::new();
        for (role, name) in [
            (Role::LandOfficer, "Địa chính Lan"),
            (Role::Ranger, "Kiểm lâm Hà"),
        ] {
            let t = tokens::generate();
            store
                .create_token(name, role, &tokens::hash(&t), None)
                .await
                .unwrap();
            tok.insert(role, t);
        }
        let app = router(AppState::new(Arc::new(store), 2026));
        let (officer, ranger) = (&tok[&Role::LandOfficer], &tok[&Role::Ranger]);
        let contracted = c
            .plots
            .iter()
            .find(|p| p.is_contracted() && p.attrs.nguoink.is_some())
            .unwrap();
        let holder = contracted.attrs.nguoink.clone().unwrap();
        let uri = format!(
            "/api/plots/{}/allocation",
            contracted.key.to_string().replace('/', "%2F")
        );

        // the record: owner, contract and holder, the register's contract
        let (st, _) = call(&app, "GET", &uri, None, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "it names people");
        let (st, v) = call(&app, "GET", &uri, Some(ranger), None).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["contract"]["holder"], holder.as_str());
        assert!(
            v["register"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["holder_name"] == holder.as_str()),
            "{v}"
        );
        assert_eq!(v["history"].as_array().unwrap().len(), 1);

        // search without diacritics finds the holder, and by code
        let plain = forest_core::text::fold(&holder);
        let (st, v) = call(
            &app,
            "GET",
            &format!("/api/search?q={}", plain.replace(' ', "+")),
            Some(officer),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert!(
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == holder.as_str() && r["role"] == "contract_holder"),
            "{v}"
        );
        let code = contracted.attrs.mangnk.unwrap();
        let (_, v) = call(
            &app,
            "GET",
            &format!("/api/search?q={code}"),
            Some(officer),
            None,
        )
        .await;
        assert!(
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["code"] == code),
            "{v}"
        );
        let (st, _) = call(&app, "GET", "/api/search?q=", Some(officer), None).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);

        // updates: land officers only, a note is mandatory, codes are checked
        let change = serde_json::json!({ "changes": { "churung": "Hoàng Văn Mới", "machur": 4242 }, "note": "quyết định giao rừng số 12/QĐ-UBND" });
        let (st, _) = call(&app, "POST", &uri, Some(ranger), Some(change.clone())).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = call(
            &app,
            "POST",
            &uri,
            Some(officer),
            Some(serde_json::json!({ "changes": { "churung": "X" }, "note": " " })),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "no note");
        let (st, v) = call(
            &app,
            "POST",
            &uri,
            Some(officer),
            Some(serde_json::json!({ "changes": { "dtuong": 99 }, "note": "x" })),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        let (st, v) = call(
            &app,
            "POST",
            &uri,
            Some(officer),
            Some(serde_json::json!({ "changes": { "ldlr": "TXG" }, "note": "x" })),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "not an allocation field: {v}");
        let (st, v) = call(&app, "POST", &uri, Some(officer), Some(change)).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["changed"], true);
        assert_eq!(v["owner"]["name"], "Hoàng Văn Mới");
        let h = v["history"].as_array().unwrap();
        assert_eq!(h.len(), 2, "the old version is kept");
        assert_eq!(
            h[0]["owner"]["name"],
            serde_json::json!(contracted.attrs.churung)
        );
        let src = h[1]["source"].as_str().unwrap();
        assert!(
            src.contains("Địa chính Lan") && src.contains("12/QĐ-UBND"),
            "{src}"
        );

        // progress by compartment and village: aggregates, public
        let (st, v) = call(&app, "GET", "/api/allocation?by=village", None, None).await;
        assert_eq!(st, StatusCode::OK);
        let rows = v["rows"].as_array().unwrap();
        assert!(rows.len() > 1);
        let sum: u64 = rows
            .iter()
            .map(|r| r["allocation"]["forest"]["plots"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, v["total"]["forest"]["plots"].as_u64().unwrap());
        let (st, _) = call(&app, "GET", "/api/allocation?by=owner", None, None).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
    }
}
