//! Plot areas in hectares: planar in EPSG:9213 (the official measure) with a
//! geodesic cross-check on the WGS 84 ellipsoid.

use geo::{Area, GeodesicArea};
use geo_types::MultiPolygon;

/// Square metres in a hectare.
pub const M2_PER_HA: f64 = 10_000.0;

/// Planar area of a geometry in hectares.
///
/// # Units and assumptions
/// Coordinates in metres of a projected CRS (EPSG:9213 for official areas);
/// holes are subtracted; ring winding does not matter.
///
/// ```
/// use geo_types::{polygon, MultiPolygon};
/// let plot = MultiPolygon(vec![polygon![(x: 443000.0, y: 2459000.0), (x: 443250.0, y: 2459000.0),
///     (x: 443250.0, y: 2459200.0), (x: 443000.0, y: 2459200.0)]]);
/// assert_eq!(forest_core::planar_area_ha(&plot), 5.0);
/// ```
pub fn planar_area_ha(geometry: &MultiPolygon<f64>) -> f64 {
    geometry.unsigned_area() / M2_PER_HA
}

/// Geodesic area on the WGS 84 ellipsoid in hectares.
///
/// # Units and assumptions
/// Coordinates are longitude, latitude in degrees (EPSG:4326 in lon/lat order,
/// as [`crate::Transformer`] returns them).
pub fn geodesic_area_ha(geometry_lonlat: &MultiPolygon<f64>) -> f64 {
    geometry_lonlat.geodesic_area_unsigned() / M2_PER_HA
}

/// A plot whose declared area (`dtich`) disagrees with its geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaMismatch {
    /// Declared area, ha.
    pub declared_ha: f64,
    /// Area of the geometry in EPSG:9213, ha.
    pub geometric_ha: f64,
}

impl AreaMismatch {
    /// Relative tolerance: 1 %.
    pub const RELATIVE: f64 = 0.01;
    /// Absolute tolerance: 0.05 ha.
    pub const ABSOLUTE_HA: f64 = 0.05;

    /// `Some` when the declared area differs from the geometric area by more
    /// than 1 % **and** more than 0.05 ha.
    ///
    /// ```
    /// use forest_core::AreaMismatch;
    /// assert!(AreaMismatch::check(10.0, 10.09).is_none()); // 0.9 %
    /// assert!(AreaMismatch::check(1.0, 1.04).is_none());   // 4 % but 0.04 ha
    /// assert!(AreaMismatch::check(10.0, 10.2).is_some());
    /// ```
    pub fn check(declared_ha: f64, geometric_ha: f64) -> Option<Self> {
        let diff = (declared_ha - geometric_ha).abs();
        (diff > Self::ABSOLUTE_HA && diff > Self::RELATIVE * geometric_ha.abs()).then_some(Self {
            declared_ha,
            geometric_ha,
        })
    }

    /// Declared minus geometric, ha.
    pub fn difference_ha(&self) -> f64 {
        self.declared_ha - self.geometric_ha
    }
}
