//! Registered remote-sensing scenes, as both stores keep them.

use chrono::{DateTime, NaiveDate, Utc};
use geo_types::Polygon;
use serde::Serialize;

/// A scene registered with `forest scenes add`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SceneRecord {
    /// The file, as given (absolute).
    pub path: String,
    /// Acquisition date.
    pub date: NaiveDate,
    /// Where the date came from (metadata key, file name, given).
    pub date_source: String,
    /// Product (`sentinel2_l2a`, `landsat_c2l2`, `ndvi`).
    pub product: String,
    /// The `--product` given when it was registered, if any.
    pub product_hint: Option<String>,
    /// The `--bands` given when it was registered, if any.
    pub bands: Option<String>,
    /// Share of the observed footprint flagged cloud or shadow.
    pub cloud_fraction: f64,
    /// Raster size.
    pub width: i64,
    /// Raster size.
    pub height: i64,
    /// Footprint in EPSG:9213.
    #[serde(skip)]
    pub footprint: Polygon<f64>,
    /// When it was registered (or last re-registered).
    pub registered_at: DateTime<Utc>,
}

/// What registering did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RegisterReport {
    /// Newly registered.
    pub inserted: u64,
    /// Already registered under the same path: updated.
    pub updated: u64,
}

pub(crate) fn wkb_of(p: &Polygon<f64>) -> Result<Vec<u8>, crate::StoreError> {
    use geozero::{CoordDimensions, ToWkb};
    geo_types::Geometry::Polygon(p.clone())
        .to_wkb(CoordDimensions::xy())
        .map_err(|e| crate::StoreError::Corrupt {
            key: "scene footprint".into(),
            reason: e.to_string(),
        })
}

pub(crate) fn footprint_of(path: &str, wkb: &[u8]) -> Result<Polygon<f64>, crate::StoreError> {
    let mp = crate::alerts::geometry_of(0, wkb).map_err(|_| crate::StoreError::Corrupt {
        key: format!("scene {path}"),
        reason: "footprint is not a polygon".into(),
    })?;
    mp.0.into_iter()
        .next()
        .ok_or_else(|| crate::StoreError::Corrupt {
            key: format!("scene {path}"),
            reason: "empty footprint".into(),
        })
}
