//! Vector tiles of the plots and alerts (Mapbox Vector Tiles, WebMercatorQuad)
//! and their TileJSON.

#[allow(unused_imports)]
use crate::openapi::ErrorBody;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use forest_store::tiles::{TileId, TileLayer, MAX_ZOOM};
use forest_store::StoreError;
use serde_json::json;

use crate::ogc::{base, link};
use crate::{ApiError, AppState};

const MVT: &str = "application/vnd.mapbox-vector-tile";

fn layer(id: &str) -> Result<TileLayer, ApiError> {
    TileLayer::of(id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no tiles for '{id}': the plots and alerts collections have tiles"
        ))
    })
}

/// `GET /collections/{id}/tiles`: the tile sets of a collection.
#[utoipa::path(
    get,
    path = "/collections/{id}/tiles",
    tag = "Tiles",
    summary = "Tile sets of a collection",
    params(("id" = String, Path, description = "plots or alerts")),
    responses((status = 200, description = "Tile sets", content_type = "application/json", body = serde_json::Value), (status = 404, description = "Nothing at this address", body = ErrorBody))
)]
pub async fn tilesets(
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let l = layer(&id)?;
    let b = base(&headers);
    Ok(Json(json!({
        "tilesets": [{
            "title": format!("{} (Mapbox Vector Tiles)", l.name()),
            "dataType": "vector",
            "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
            "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
            "links": [
                link(format!("{b}/collections/{id}/tiles/WebMercatorQuad"), "self", "application/json", "TileJSON"),
                link(format!("{b}/collections/{id}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"), "item", MVT, "tiles"),
            ]
        }]
    })))
}

/// `GET /collections/{id}/tiles/WebMercatorQuad`: TileJSON 3.0.
#[utoipa::path(
    get,
    path = "/collections/{id}/tiles/WebMercatorQuad",
    tag = "Tiles",
    summary = "TileJSON 3.0 of a collection",
    params(("id" = String, Path, description = "plots or alerts")),
    responses((status = 200, description = "TileJSON", content_type = "application/json", body = serde_json::Value), (status = 404, description = "Nothing at this address", body = ErrorBody))
)]
pub async fn tilejson(
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let l = layer(&id)?;
    let b = base(&headers);
    let fields = match l {
        TileLayer::Plots => {
            json!({ "key": "String", "ldlr": "String", "malr3": "Number", "nggocr": "Number", "area_ha": "Number" })
        }
        TileLayer::Alerts => {
            json!({ "class": "String", "status": "String", "confidence": "String", "priority": "Number", "area_ha": "Number" })
        }
    };
    Ok(Json(json!({
        "tilejson": "3.0.0",
        "name": l.name(),
        "scheme": "xyz",
        "tiles": [format!("{b}/collections/{id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}")],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "vector_layers": [{ "id": l.name(), "fields": fields, "minzoom": 0, "maxzoom": MAX_ZOOM }],
    })))
}

/// `GET /collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}`: one tile;
/// 204 when it holds nothing. ETag and cache headers.
#[utoipa::path(
    get,
    path = "/collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}",
    tag = "Tiles",
    summary = "One Mapbox Vector Tile",
    params(("id" = String, Path, description = "plots or alerts"), ("z" = u32, Path, description = "Zoom, 0 to 22"), ("y" = u32, Path, description = "Row from the north"), ("x" = u32, Path, description = "Column")),
    responses((status = 200, description = "The tile", content_type = "application/vnd.mapbox-vector-tile", body = Vec<u8>), (status = 204, description = "Nothing in this tile"), (status = 304, description = "Not modified (If-None-Match)"), (status = 400, description = "A bad parameter, named in the message", body = ErrorBody), (status = 404, description = "Nothing at this address", body = ErrorBody), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn tile(
    State(s): State<Arc<AppState>>,
    Path((id, z, y, x)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let l = layer(&id)?;
    let num = |v: &str, what: &str| -> Result<u32, ApiError> {
        v.parse()
            .map_err(|_| ApiError::BadRequest(format!("tile {what} '{v}': a whole number ≥ 0")))
    };
    let z = num(&z, "zoom")?;
    let t = TileId::new(
        u8::try_from(z).unwrap_or(u8::MAX),
        num(&x, "column")?,
        num(&y, "row")?,
    )
    .map_err(ApiError::BadRequest)?;
    let tile = s.tiles.get(&s.store, l, t).await?;
    let cache = "public, max-age=60";
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tile.etag))
    {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, tile.etag.clone()),
                (header::CACHE_CONTROL, cache.into()),
            ],
        )
            .into_response());
    }
    let status = if tile.bytes.is_empty() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::OK
    };
    let mut r = (
        status,
        [
            (header::ETAG, tile.etag.clone()),
            (header::CACHE_CONTROL, cache.into()),
        ],
        tile.bytes.clone(),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    Ok(r)
}

/// One encoded tile and its ETag.
#[derive(Debug)]
pub struct EncodedTile {
    /// The MVT bytes; empty when the tile holds nothing.
    pub bytes: Bytes,
    /// Quoted strong ETag of the bytes.
    pub etag: String,
}

impl EncodedTile {
    fn new(bytes: Vec<u8>) -> Self {
        let etag = format!("\"{:016x}\"", fnv(&bytes));
        EncodedTile {
            bytes: Bytes::from(bytes),
            etag,
        }
    }
}

/// Key of a cached plot tile: the plot generation it was built from, then
/// the tile. A load changes the generation, so no stale tile is served.
type TileKey = (i64, u8, u32, u32);

/// Encoded plot tiles, bounded in bytes (TinyLFU admission, LRU eviction),
/// kept until plots are written again. Requests for a tile that is being
/// built wait for that build instead of starting another, so a burst on a
/// low-zoom tile costs one build. Alert tiles are not cached: alerts change
/// with every triage.
#[derive(Clone)]
pub struct TileCache {
    cache: Option<moka::future::Cache<TileKey, Arc<EncodedTile>>>,
    /// The plot generation last read from the store, and when.
    seen: Arc<std::sync::Mutex<Option<(std::time::Instant, i64)>>>,
    /// How long a generation read is trusted before the store is asked again.
    freshness: std::time::Duration,
}

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileCache")
            .field(
                "max_bytes",
                &self.cache.as_ref().map(|c| c.policy().max_capacity()),
            )
            .finish()
    }
}

impl Default for TileCache {
    fn default() -> Self {
        TileCache::new(DEFAULT_TILE_CACHE_MB << 20)
    }
}

/// Default size of the tile cache, MiB.
pub const DEFAULT_TILE_CACHE_MB: u64 = 64;

impl TileCache {
    /// A cache of at most `max_bytes` of tiles; 0 turns caching off (every
    /// tile is built from the store). The store is asked for the plot
    /// generation at most once a second: a load by another process (an
    /// import, another server on the same PostGIS) shows in the tiles within
    /// a second, well inside the minute browsers may keep a tile
    /// (`Cache-Control: max-age=60`); a write through this server shows at
    /// once ([`TileCache::plots_written`]).
    pub fn new(max_bytes: u64) -> Self {
        Self::with_freshness(max_bytes, std::time::Duration::from_secs(1))
    }

    /// A cache that trusts a generation read for `freshness`.
    pub fn with_freshness(max_bytes: u64, freshness: std::time::Duration) -> Self {
        let cache = (max_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_k: &TileKey, v: &Arc<EncodedTile>| {
                    u32::try_from(v.bytes.len() + 96).unwrap_or(u32::MAX)
                })
                .build()
        });
        TileCache {
            cache,
            seen: Arc::new(std::sync::Mutex::new(None)),
            freshness,
        }
    }

    /// Plots were written through this server: the next tile asks the store
    /// for the generation.
    pub fn plots_written(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = None;
        }
    }

    /// The plot generation, from the store when the last read is older than
    /// the freshness window; a new one empties the cache.
    async fn generation(
        &self,
        store: &forest_store::DynStore,
        cache: &moka::future::Cache<TileKey, Arc<EncodedTile>>,
    ) -> Result<i64, ApiError> {
        let now = std::time::Instant::now();
        let last = self.seen.lock().ok().and_then(|s| *s);
        if let Some((at, g)) = last {
            if now.duration_since(at) < self.freshness {
                return Ok(g);
            }
        }
        let g = store.plots_generation().await?;
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((now, g));
        }
        if last.is_some_and(|(_, old)| old != g) {
            // tiles of older plots can never be asked for again
            cache.invalidate_all();
        }
        Ok(g)
    }

    /// A tile of `layer`, from the cache when the plots are unchanged since
    /// it was built.
    pub async fn get(
        &self,
        store: &forest_store::DynStore,
        layer: TileLayer,
        t: TileId,
    ) -> Result<Arc<EncodedTile>, ApiError> {
        let cache = match (layer, &self.cache) {
            (TileLayer::Plots, Some(c)) => c,
            _ => return Ok(Arc::new(EncodedTile::new(store.tile(layer, t).await?))),
        };
        let generation = self.generation(store, cache).await?;
        let build = {
            let store = Arc::clone(store);
            async move { Ok::<_, StoreError>(Arc::new(EncodedTile::new(store.tile(layer, t).await?))) }
        };
        match cache.try_get_with((generation, t.z, t.x, t.y), build).await {
            Ok(v) => Ok(v),
            // the build this request waited for failed: its error is shared,
            // so this request asks the store once itself for an error of its own
            Err(_) => Ok(Arc::new(EncodedTile::new(store.tile(layer, t).await?))),
        }
    }
}

/// FNV-1a 64, for ETags.
pub(crate) fn fnv(body: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use forest_store::tiles::TileId;
    use forest_store::{GpkgStore, PlotStore};
    use tower::ServiceExt;

    use crate::{router, AppState};

    /// Column and row of the tile at zoom `z` that holds the plot's centroid.
    fn tile_of(plot: &forest_core::Plot, z: u8) -> (u32, u32) {
        let p = geo::Centroid::centroid(&plot.geometry).unwrap();
        let to = forest_core::Transformer::new(
            forest_core::Crs::Vn2000Tm3_10630,
            forest_core::Crs::WebMercator,
        )
        .unwrap();
        let (mx, my) = to.point(p.x(), p.y()).unwrap();
        let t = TileId::containing(z, mx, my).unwrap();
        (t.x, t.y)
    }

    #[tokio::test]
    async fn a_cached_tile_is_rebuilt_after_a_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(GpkgStore::open(dir.path().join("t.gpkg")).unwrap());
        store.migrate().await.unwrap();
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        // loads go to the store directly here, as an import in another
        // process would: the generation is read on every tile
        let app = router(AppState {
            tiles: crate::TileCache::with_freshness(64 << 20, std::time::Duration::ZERO),
            ..AppState::new(store.clone(), 2026)
        });
        let (x, y) = tile_of(&c.plots[0], 10);
        let uri = format!("/collections/plots/tiles/WebMercatorQuad/10/{y}/{x}");
        let get = || async {
            let res = app
                .clone()
                .oneshot(Request::get(&uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = res.status();
            let etag = res.headers()["etag"].to_str().unwrap().to_string();
            let body = axum::body::to_bytes(res.into_body(), 64 << 20)
                .await
                .unwrap();
            (status, etag, body.len())
        };
        let (status, empty_tag, _) = get().await;
        assert_eq!(status, StatusCode::NO_CONTENT, "no plots yet");
        assert_eq!(get().await.1, empty_tag, "served again, from the cache");
        store.load_plots(&c.plots, "test").await.unwrap();
        let (status, tag, len) = get().await;
        assert_eq!(status, StatusCode::OK, "the load is seen at once");
        assert!(len > 1000 && tag != empty_tag);
        // a plot edited in a later load changes the tile again
        let mut edited = c.plots[..1].to_vec();
        edited[0].geometry = geo::Translate::translate(&edited[0].geometry, 50.0, 0.0);
        store.load_plots(&edited, "edit").await.unwrap();
        let (_, tag2, _) = get().await;
        assert_ne!(tag2, tag);
    }

    #[tokio::test]
    async fn tiles_with_tilejson_etag_and_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("t.gpkg")).unwrap();
        store.migrate().await.unwrap();
        let c = forest_sample::generate(forest_sample::figures::SEED, 1).remove(0);
        store.load_plots(&c.plots, "test").await.unwrap();
        let app = router(AppState::new(Arc::new(store), 2026));
        let tj = app
            .clone()
            .oneshot(
                Request::get("/collections/plots/tiles/WebMercatorQuad")
                    .header("host", "test")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(tj.status(), StatusCode::OK);
        let v: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(tj.into_body(), 1 << 20).await.unwrap())
                .unwrap();
        assert_eq!(v["tilejson"], "3.0.0");
        let template = v["tiles"][0].as_str().unwrap();
        assert!(
            template.ends_with("/collections/plots/tiles/WebMercatorQuad/{z}/{y}/{x}"),
            "{template}"
        );
        // the tile of the commune's first plot at z12
        let (x, y) = tile_of(&c.plots[0], 12);
        let uri = format!("/collections/plots/tiles/WebMercatorQuad/12/{y}/{x}");
        let res = app
            .clone()
            .oneshot(
                Request::get(&uri)
                    .header("accept-encoding", "gzip")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let h = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .unwrap();
        assert_eq!(h["content-type"], "application/vnd.mapbox-vector-tile");
        assert_eq!(h["content-encoding"], "gzip");
        assert!(body.len() > 100);
        let etag = h["etag"].to_str().unwrap().to_string();
        let res = app
            .clone()
            .oneshot(
                Request::get(&uri)
                    .header("if-none-match", &etag)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        for (bad, want) in [
            (
                "/collections/plots/tiles/WebMercatorQuad/12/9999/1",
                StatusCode::BAD_REQUEST,
            ),
            (
                "/collections/plots/tiles/WebMercatorQuad/40/0/0",
                StatusCode::BAD_REQUEST,
            ),
            (
                "/collections/plots/tiles/WebMercatorQuad/z/0/0",
                StatusCode::BAD_REQUEST,
            ),
            (
                "/collections/hotspots/tiles/WebMercatorQuad/1/0/0",
                StatusCode::NOT_FOUND,
            ),
        ] {
            let res = app
                .clone()
                .oneshot(Request::get(bad).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(res.status(), want, "{bad}");
        }
        let res = app
            .clone()
            .oneshot(
                Request::get("/collections/plots/tiles/WebMercatorQuad/14/0/0")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "an empty tile");
    }
}
