//! Writes over HTTP, each behind a role: alert triage (rangers), webhook
//! subscriptions and tokens (admins). Every write is attributed to its token
//! in the history.

#[allow(unused_imports)]
use crate::openapi::ErrorBody;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use forest_core::auth::{Permission, Role};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::{ApiError, AppState};

/// Parses a JSON body, naming what is wrong with it.
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes, what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))
}

fn parse_id(s: &str, what: &str) -> Result<i64, ApiError> {
    s.parse().ok().filter(|i: &i64| *i > 0).ok_or_else(|| {
        ApiError::NotFound(format!("no {what} '{s}': {what} ids are positive numbers"))
    })
}

/// `GET /api/me`: the caller's role and name.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "Access",
    summary = "The caller's role",
    security((), ("bearer" = [])),
    responses((status = 200, description = "Role and name", content_type = "application/json", body = serde_json::Value), (status = 401, description = "No valid bearer token", body = ErrorBody))
)]
pub async fn me(caller: Caller) -> Json<serde_json::Value> {
    Json(match &caller.token {
        None => json!({ "role": Role::Public.as_str() }),
        Some(t) => json!({ "role": t.role.as_str(), "name": t.name, "token_id": t.id }),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionBody {
    status: String,
    note: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/alerts/{id}/transition` `{"status", "note", "reason"?}`:
/// rangers and admins.
#[utoipa::path(
    post,
    path = "/api/alerts/{id}/transition",
    tag = "Alerts",
    summary = "Change an alert's status (rangers)",
    params(("id" = String, Path, description = "Alert id")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "{\"status\", \"note\", \"reason\"?}"),
    security(("bearer" = [])),
    responses((status = 200, description = "The new status", content_type = "application/json", body = serde_json::Value), (status = 400, description = "A bad parameter, named in the message", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Nothing at this address", body = ErrorBody), (status = 409, description = "The lifecycle does not allow this change", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn transition(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token = caller.require(Permission::TriageAlerts)?;
    let id = parse_id(&id, "alert")?;
    let b: TransitionBody = body(&bytes, "body")?;
    if !forest_store::alerts::STATUSES.contains(&b.status.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "status '{}': one of {}",
            b.status,
            forest_store::alerts::STATUSES.join(", ")
        )));
    }
    if b.note.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "note: say what was seen or done (mandatory)".into(),
        ));
    }
    let a = s
        .store
        .transition_alert(id, &b.status, b.reason.as_deref(), &b.note, &token.actor())
        .await?;
    tracing::info!(alert = id, to = %b.status, actor = %token.actor(), "alert status changed");
    Ok(Json(json!({
        "id": a.id,
        "status": a.status,
        "status_reason": a.status_reason,
        "updated_at": a.updated_at.to_rfc3339(),
    })))
}

/// `GET /api/alerts/{id}/history`: every change of an alert, for signed-in
/// users (notes may name people).
#[utoipa::path(
    get,
    path = "/api/alerts/{id}/history",
    tag = "Alerts",
    summary = "Every change of an alert",
    params(("id" = String, Path, description = "Alert id")),
    security(("bearer" = [])),
    responses((status = 200, description = "History", content_type = "application/json", body = serde_json::Value), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Nothing at this address", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn history(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Permission::ReadPersonal)?;
    let id = parse_id(&id, "alert")?;
    if !s.store.alerts().await?.iter().any(|a| a.id == id) {
        return Err(ApiError::NotFound(format!("no alert {id}")));
    }
    let events = s.store.alert_history(id).await?;
    Ok(Json(json!({ "alert": id, "history": events })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionBody {
    url: String,
    secret: String,
    #[serde(default)]
    filter: forest_core::notify::SubscriptionFilter,
}

/// `GET /api/subscriptions` (admins).
#[utoipa::path(
    get,
    path = "/api/subscriptions",
    tag = "Webhooks",
    summary = "Webhook subscriptions (admins)",
    security(("bearer" = [])),
    responses((status = 200, description = "Subscriptions (never their secrets)", content_type = "application/json", body = serde_json::Value), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn subscriptions(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Permission::ManageSubscriptions)?;
    Ok(Json(
        json!({ "subscriptions": s.store.subscriptions().await? }),
    ))
}

/// `POST /api/subscriptions` `{"url", "secret", "filter"}` (admins).
#[utoipa::path(
    post,
    path = "/api/subscriptions",
    tag = "Webhooks",
    summary = "Subscribe a webhook (admins)",
    request_body(content = serde_json::Value, content_type = "application/json", description = "{\"url\", \"secret\", \"filter\"}"),
    security(("bearer" = [])),
    responses((status = 201, description = "Created", content_type = "application/json", body = serde_json::Value), (status = 400, description = "A bad parameter, named in the message", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn add_subscription(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let token = caller.require(Permission::ManageSubscriptions)?;
    let b: SubscriptionBody = body(&bytes, "body")?;
    forest_core::notify::check_webhook(&b.url, &b.secret).map_err(ApiError::BadRequest)?;
    b.filter
        .validate()
        .map_err(|e| ApiError::BadRequest(format!("filter: {e}")))?;
    let id = s
        .store
        .add_subscription(&b.url, &b.secret, &b.filter)
        .await?;
    tracing::info!(subscription = id, url = %b.url, actor = %token.actor(), "subscription added");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "url": b.url, "filter": b.filter, "active": true })),
    ))
}

/// `DELETE /api/subscriptions/{id}` (admins): stops it; pending deliveries
/// are still made.
#[utoipa::path(
    delete,
    path = "/api/subscriptions/{id}",
    tag = "Webhooks",
    summary = "Stop a subscription (admins)",
    params(("id" = String, Path, description = "Subscription id")),
    security(("bearer" = [])),
    responses((status = 200, description = "Stopped", content_type = "application/json", body = serde_json::Value), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Nothing at this address", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn stop_subscription(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token = caller.require(Permission::ManageSubscriptions)?;
    let id = parse_id(&id, "subscription")?;
    if !s.store.deactivate_subscription(id).await? {
        return Err(ApiError::NotFound(format!("no subscription {id}")));
    }
    tracing::info!(subscription = id, actor = %token.actor(), "subscription stopped");
    Ok(Json(json!({ "id": id, "active": false })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    name: String,
    role: String,
    #[serde(default)]
    expires_days: Option<u32>,
}

fn token_json(t: &forest_store::tokens::TokenRecord) -> serde_json::Value {
    json!({
        "id": t.id, "name": t.name, "role": t.role.as_str(),
        "created_at": t.created_at.to_rfc3339(),
        "expires_at": t.expires_at.map(|e| e.to_rfc3339()),
        "revoked_at": t.revoked_at.map(|e| e.to_rfc3339()),
        "valid": t.is_valid_at(chrono::Utc::now()),
    })
}

/// `GET /api/tokens` (admins): never the secrets.
#[utoipa::path(
    get,
    path = "/api/tokens",
    tag = "Access",
    summary = "Tokens (admins)",
    security(("bearer" = [])),
    responses((status = 200, description = "Tokens (never their secrets)", content_type = "application/json", body = serde_json::Value), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn tokens(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Permission::ManageTokens)?;
    let list: Vec<_> = s.store.tokens().await?.iter().map(token_json).collect();
    Ok(Json(json!({ "tokens": list })))
}

/// `POST /api/tokens` `{"name", "role", "expires_days"?}` (admins): the
/// token is in the answer, once.
#[utoipa::path(
    post,
    path = "/api/tokens",
    tag = "Access",
    summary = "Create a token (admins)",
    request_body(content = serde_json::Value, content_type = "application/json", description = "{\"name\", \"role\", \"expires_days\"?}"),
    security(("bearer" = [])),
    responses((status = 201, description = "Created; the token is shown once", content_type = "application/json", body = serde_json::Value), (status = 400, description = "A bad parameter, named in the message", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn create_token(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let admin = caller.require(Permission::ManageTokens)?;
    let b: TokenBody = body(&bytes, "body")?;
    let role: Role = b
        .role
        .parse()
        .map_err(|e: forest_core::auth::UnknownRole| ApiError::BadRequest(format!("role: {e}")))?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "name: who holds the token, 1 to 200 characters".into(),
        ));
    }
    if b.expires_days == Some(0) || b.expires_days.is_some_and(|d| d > 36_500) {
        return Err(ApiError::BadRequest(
            "expires_days: between 1 and 36500".into(),
        ));
    }
    let expires = b
        .expires_days
        .map(|d| chrono::Utc::now() + chrono::Duration::days(i64::from(d)));
    let token = forest_store::tokens::generate();
    let id = s
        .store
        .create_token(name, role, &forest_store::tokens::hash(&token), expires)
        .await?;
    tracing::info!(token_id = id, role = %role, actor = %admin.actor(), "token created");
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": id, "name": name, "role": role.as_str(), "token": token,
                     "expires_at": expires.map(|e| e.to_rfc3339()) }),
        ),
    ))
}

/// `DELETE /api/tokens/{id}` (admins).
#[utoipa::path(
    delete,
    path = "/api/tokens/{id}",
    tag = "Access",
    summary = "Revoke a token (admins)",
    params(("id" = String, Path, description = "Token id")),
    security(("bearer" = [])),
    responses((status = 200, description = "Revoked", content_type = "application/json", body = serde_json::Value), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token's role does not allow this", body = ErrorBody), (status = 404, description = "Nothing at this address", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn revoke_token(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let admin = caller.require(Permission::ManageTokens)?;
    let id = parse_id(&id, "token")?;
    if !s.store.revoke_token(id).await? {
        return Err(ApiError::NotFound(format!("no valid token {id}")));
    }
    tracing::info!(token_id = id, actor = %admin.actor(), "token revoked");
    Ok(Json(json!({ "id": id, "revoked": true })))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use chrono::NaiveDate;
    use forest_core::auth::Role;
    use forest_core::change::alert::{PlotIndex, PlotShape};
    use forest_core::change::{priority, AlertCandidate, Confidence, PixelClass};
    use forest_core::fire::Hotspot;
    use forest_store::alerts::NewAlert;
    use forest_store::hotspots::HotspotRow;
    use forest_store::{tokens, GpkgStore, PlotStore};
    use tower::ServiceExt;

    use crate::test_support::call;
    use crate::{router, AppState};

    async fn token(store: &GpkgStore, role: Role, name: &str) -> String {
        let t = tokens::generate();
        store
            .create_token(name, role, &tokens::hash(&t), None)
            .await
            .unwrap();
        t
    }

    #[tokio::test]
    async fn roles_decide_who_sees_personal_data_triages_and_manages() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("t.gpkg")).unwrap();
        store.migrate().await.unwrap();
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        store.load_plots(&c.plots, "test").await.unwrap();
        let contracted = c
            .plots
            .iter()
            .find(|p| p.is_contracted() && p.is_forest() && p.attrs.nguoink.is_some())
            .unwrap();
        let shapes: Vec<PlotShape> = c.plots.iter().map(PlotShape::of).collect();
        let index = PlotIndex::new(&shapes);
        let cand = AlertCandidate {
            geometry: contracted.geometry.clone(),
            area_ha: contracted.area_ha(),
            class: PixelClass::Clearing,
            confidence: Confidence::High,
            mean_drop: 0.4,
            mean_dnbr: None,
            first_observed: NaiveDate::from_ymd_opt(2026, 3, 17).unwrap(),
            last_clear_before: NaiveDate::from_ymd_opt(2025, 12, 12),
            pixels: 100,
        };
        let plots = index.attribute(&cand.geometry);
        let prio = priority(cand.class, cand.confidence, cand.area_ha, &plots, 2026);
        store
            .save_alerts(
                &[NewAlert {
                    candidate: cand,
                    plots,
                    priority: prio,
                }],
                "test",
            )
            .await
            .unwrap();
        // two hotspots, one of them in forest; the same file twice stores them once
        let to = forest_core::Transformer::new(
            forest_core::Crs::Vn2000Tm3_10630,
            forest_core::Crs::Crs84,
        )
        .unwrap();
        let c0 = geo::Centroid::centroid(&contracted.geometry).unwrap();
        let (lon, lat) = to.point(c0.x(), c0.y()).unwrap();
        let rows: Vec<HotspotRow> = [(lon, lat, true), (lon + 0.2, lat, false)]
            .iter()
            .map(|&(longitude, latitude, in_forest)| HotspotRow {
                id: 0,
                hotspot: Hotspot {
                    latitude,
                    longitude,
                    brightness: 340.0,
                    scan: 0.4,
                    track: 0.4,
                    acq_date: NaiveDate::from_ymd_opt(2026, 3, 20).unwrap(),
                    acq_time: 614,
                    satellite: "N".into(),
                    instrument: "VIIRS".into(),
                    confidence: "n".into(),
                    frp: 12.5,
                    daynight: "D".into(),
                },
                x: 0.0,
                y: 0.0,
                in_forest,
                source: "test.csv".into(),
                loaded_at: chrono::Utc::now(),
            })
            .map(|mut r| {
                let back = forest_core::Transformer::new(
                    forest_core::Crs::Crs84,
                    forest_core::Crs::Vn2000Tm3_10630,
                )
                .unwrap();
                (r.x, r.y) = back.point(r.hotspot.longitude, r.hotspot.latitude).unwrap();
                r
            })
            .collect();
        let (h, _) = store.save_hotspots(&rows, &[], "test").await.unwrap();
        assert_eq!((h.new, h.known), (2, 0));
        let (h, _) = store.save_hotspots(&rows, &[], "test").await.unwrap();
        assert_eq!((h.new, h.known), (0, 2));

        let ranger = token(&store, Role::Ranger, "Kiểm lâm Hà").await;
        let officer = token(&store, Role::LandOfficer, "Địa chính Lan").await;
        let admin = token(&store, Role::Admin, "Admin").await;
        let store = Arc::new(store);
        let app = router(AppState::new(store.clone(), 2026));

        // the public sees no names; a ranger does
        let holder = contracted.attrs.nguoink.clone().unwrap();
        let (st, v) = call(&app, "GET", "/collections/alerts/items", None, None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(!v.to_string().contains(&holder), "{v}");
        let (_, v) = call(
            &app,
            "GET",
            "/collections/alerts/items",
            Some(&ranger),
            None,
        )
        .await;
        assert_eq!(
            v["features"][0]["properties"]["plots"][0]["nguoink"],
            holder.as_str()
        );
        let key = contracted.key.to_string().replace('/', "%2F");
        let (_, v) = call(
            &app,
            "GET",
            &format!("/collections/plots/items/{key}"),
            None,
            None,
        )
        .await;
        assert!(v["properties"].get("nguoink").is_none());
        let (_, v) = call(
            &app,
            "GET",
            &format!("/collections/plots/items/{key}"),
            Some(&officer),
            None,
        )
        .await;
        assert_eq!(v["properties"]["nguoink"], holder.as_str());

        // filter by owner (signed in) and export as CSV
        let code = contracted.attrs.machur.unwrap();
        let (st, _) = call(
            &app,
            "GET",
            &format!("/collections/alerts/items?owner={code}"),
            None,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (_, v) = call(
            &app,
            "GET",
            &format!("/collections/alerts/items?owner={code}"),
            Some(&ranger),
            None,
        )
        .await;
        assert_eq!(v["numberMatched"], 1);
        let (_, v) = call(
            &app,
            "GET",
            "/collections/alerts/items?owner=1",
            Some(&ranger),
            None,
        )
        .await;
        assert_eq!(v["numberMatched"], 0);
        let csv = |token: Option<String>| {
            let app = app.clone();
            async move {
                let mut r = Request::get("/collections/alerts/items?f=csv&status=new");
                if let Some(t) = token {
                    r = r.header("authorization", format!("Bearer {t}"));
                }
                let res = app.oneshot(r.body(Body::empty()).unwrap()).await.unwrap();
                assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
                let b = axum::body::to_bytes(res.into_body(), 1 << 20)
                    .await
                    .unwrap();
                String::from_utf8(b.to_vec()).unwrap()
            }
        };
        let public = csv(None).await;
        assert!(public.starts_with("\u{feff}id,class,"), "{public}");
        assert_eq!(
            public.lines().count(),
            2,
            "a header and the alert: {public}"
        );
        assert!(!public.contains(&holder) && !public.contains("contract_holders"));
        let signed = csv(Some(ranger.clone())).await;
        assert!(signed.contains(&holder), "{signed}");

        // bad tokens are 401, never a silent public view
        for bad in ["fst_nope", ""] {
            let (st, v) = call(&app, "GET", "/collections/plots/items", Some(bad), None).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED, "{bad:?}: {v}");
            assert_eq!(v["error"], "unauthorized");
        }
        let (st, v) = call(&app, "GET", "/api/me", Some(&ranger), None).await;
        assert_eq!((st, v["role"].as_str()), (StatusCode::OK, Some("ranger")));

        // triage: rangers yes, the public 401, land officers 403
        let step = serde_json::json!({ "status": "under_verification", "note": "đi kiểm tra hiện trường" });
        let (st, _) = call(
            &app,
            "POST",
            "/api/alerts/1/transition",
            None,
            Some(step.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (st, v) = call(
            &app,
            "POST",
            "/api/alerts/1/transition",
            Some(&officer),
            Some(step.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
        let (st, v) = call(
            &app,
            "POST",
            "/api/alerts/1/transition",
            Some(&ranger),
            Some(step.clone()),
        )
        .await;
        assert_eq!(
            (st, v["status"].as_str()),
            (StatusCode::OK, Some("under_verification")),
            "{v}"
        );
        let (st, v) = call(
            &app,
            "POST",
            "/api/alerts/1/transition",
            Some(&ranger),
            Some(serde_json::json!({ "status": "resolved", "note": "x" })),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT, "lifecycle: {v}");
        let (st, _) = call(
            &app,
            "POST",
            "/api/alerts/1/transition",
            Some(&ranger),
            Some(serde_json::json!({ "status": "confirmed" })),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "a note is mandatory");
        let (st, _) = call(
            &app,
            "POST",
            "/api/alerts/99/transition",
            Some(&ranger),
            Some(step),
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (_, v) = call(&app, "GET", "/api/alerts/1/history", Some(&ranger), None).await;
        let last = v["history"].as_array().unwrap().last().unwrap().clone();
        assert!(
            last["actor"]
                .as_str()
                .unwrap()
                .starts_with("Kiểm lâm Hà (token 1, ranger)"),
            "{last}"
        );

        // subscriptions and tokens: admins only
        let sub = serde_json::json!({ "url": "http://127.0.0.1:9/hook", "secret": "s3cret-key", "filter": { "kinds": ["fire"] } });
        let (st, _) = call(
            &app,
            "POST",
            "/api/subscriptions",
            Some(&ranger),
            Some(sub.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, v) = call(&app, "POST", "/api/subscriptions", Some(&admin), Some(sub)).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let (st, v) = call(&app, "POST", "/api/subscriptions", Some(&admin), Some(serde_json::json!({ "url": "http://x.example/h", "secret": "s3cret-key", "filter": { "kinds": ["smoke"] } }))).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        let (_, v) = call(&app, "GET", "/api/subscriptions", Some(&admin), None).await;
        assert_eq!(v["subscriptions"][0]["url"], "http://127.0.0.1:9/hook");
        assert!(
            v.to_string().find("s3cret").is_none(),
            "the secret is never served"
        );
        let (st, _) = call(&app, "DELETE", "/api/subscriptions/1", Some(&admin), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(!store.subscriptions().await.unwrap()[0].active);
        let (st, v) = call(
            &app,
            "POST",
            "/api/tokens",
            Some(&admin),
            Some(serde_json::json!({ "name": "Tổ đội 2", "role": "ranger" })),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        let new = v["token"].as_str().unwrap().to_string();
        let (st, _) = call(&app, "GET", "/api/me", Some(&new), None).await;
        assert_eq!(st, StatusCode::OK);
        let (st, _) = call(
            &app,
            "DELETE",
            &format!("/api/tokens/{}", v["id"]),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let (st, v) = call(&app, "GET", "/api/me", Some(&new), None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "revoked: {v}");
        let (st, _) = call(&app, "GET", "/api/tokens", Some(&ranger), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN);

        // hotspots are their own collection
        let (st, v) = call(
            &app,
            "GET",
            "/collections/hotspots/items?in_forest=true",
            None,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["numberMatched"], 1);
        assert!(
            (v["features"][0]["geometry"]["coordinates"][0]
                .as_f64()
                .unwrap()
                - lon)
                .abs()
                < 1e-6
        );
        let (_, v) = call(
            &app,
            "GET",
            "/collections/hotspots/items?datetime=2026-03-21/..",
            None,
            None,
        )
        .await;
        assert_eq!(v["numberMatched"], 0);
        let (st, _) = call(
            &app,
            "GET",
            "/collections/hotspots/items?colour=red",
            None,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        let (_, v) = call(&app, "GET", "/collections", None, None).await;
        assert!(v["collections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "hotspots"));
    }
}
