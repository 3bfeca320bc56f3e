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
/// as [`crate::Transformer`] returns them); ring winding does not matter.
///
/// ```
/// use geo_types::{polygon, MultiPolygon};
/// // clockwise, as in a shapefile: still the small square, not the rest of the globe
/// let cw = MultiPolygon(vec![polygon![(x: 105.95, y: 22.23), (x: 105.95, y: 22.24), (x: 105.96, y: 22.24), (x: 105.96, y: 22.23)]]);
/// let ha = forest_core::geodesic_area_ha(&cw);
/// assert!((ha - 114.156).abs() < 0.01, "{ha}"); // 0.01° × 0.01° at 22.2° N
/// ```
pub fn geodesic_area_ha(geometry_lonlat: &MultiPolygon<f64>) -> f64 {
    // geographiclib reads a clockwise exterior ring (as shapefiles store them)
    // as the rest of the globe: orient first.
    use geo::orient::{Direction, Orient};
    geometry_lonlat
        .orient(Direction::Default)
        .geodesic_area_unsigned()
        / M2_PER_HA
}

/// The planar area in EPSG:9213 beside the geodesic area of the same outline.
///
/// TM-3 106-30 has scale 0.9999 on its central meridian, growing away from
/// it, so near Vĩnh Thông (56 km west of 106°30') planar areas are about
/// 0.012 % smaller than geodesic ones. A much larger difference means the
/// coordinates are not where EPSG:9213 puts them (a wrong CRS).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaCrossCheck {
    /// Planar area in EPSG:9213, ha.
    pub planar_ha: f64,
    /// Geodesic area on the WGS 84 ellipsoid, ha.
    pub geodesic_ha: f64,
}

impl AreaCrossCheck {
    /// Relative difference beyond which the CRS is suspect: 0.1 %.
    pub const SUSPECT: f64 = 0.001;

    /// Compares the two areas of an EPSG:9213 geometry.
    ///
    /// ```
    /// use forest_core::{area::AreaCrossCheck, Crs, Transformer};
    /// use geo_types::{polygon, MultiPolygon};
    /// let square = MultiPolygon(vec![polygon![(x: 443000.0, y: 2459000.0), (x: 444000.0, y: 2459000.0),
    ///     (x: 444000.0, y: 2460000.0), (x: 443000.0, y: 2460000.0)]]);
    /// let to_wgs = Transformer::new(Crs::Vn2000Tm3_10630, Crs::Wgs84).unwrap();
    /// let c = AreaCrossCheck::of(&square, &to_wgs).unwrap();
    /// assert_eq!(c.planar_ha, 100.0);
    /// assert!((0.00010..0.00015).contains(&c.relative_difference()), "{}", c.relative_difference());
    /// assert!(!c.is_suspect());
    /// ```
    pub fn of(
        geometry: &MultiPolygon<f64>,
        to_wgs84: &crate::Transformer,
    ) -> Result<Self, crate::CrsError> {
        let lonlat = to_wgs84.multipolygon(geometry)?;
        Ok(AreaCrossCheck {
            planar_ha: planar_area_ha(geometry),
            geodesic_ha: geodesic_area_ha(&lonlat),
        })
    }

    /// (geodesic − planar) ÷ planar.
    pub fn relative_difference(&self) -> f64 {
        if self.planar_ha == 0.0 {
            return 0.0;
        }
        (self.geodesic_ha - self.planar_ha) / self.planar_ha
    }

    /// True when the difference is larger than the projection explains.
    pub fn is_suspect(&self) -> bool {
        self.relative_difference().abs() > Self::SUSPECT
    }
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
