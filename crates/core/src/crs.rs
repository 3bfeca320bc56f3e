//! Coordinate reference systems the service speaks, and transforms between
//! them through PROJ.
//!
//! VN-2000 ↔ WGS 84 uses EPSG:6960 ("VN-2000 to WGS 84 (2)"), PROJ's default
//! operation for the pair; geographic coordinates are always longitude,
//! latitude (PROJ's visualisation order), whatever the EPSG axis order says.

use std::fmt;
use std::str::FromStr;

use geo_types::{Coord, MultiPolygon, Polygon, Rect};
use proj::{Proj, Transform};

/// A supported coordinate reference system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crs {
    /// EPSG:9213 VN-2000 / TM-3 106-30, the official projection of Thái Nguyên; metres.
    Vn2000Tm3_10630,
    /// EPSG:3405 VN-2000 / UTM zone 48N; metres.
    Vn2000Utm48n,
    /// EPSG:4326 WGS 84; degrees, handled in lon/lat order.
    Wgs84,
    /// OGC CRS84: WGS 84 in lon/lat order; degrees.
    Crs84,
    /// EPSG:3857 Web Mercator; metres.
    WebMercator,
}

/// A CRS that is not supported, or a transform that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrsError {
    /// Not one of the supported systems.
    #[error("unsupported CRS '{0}': use EPSG:9213, EPSG:3405, EPSG:4326, CRS84 or EPSG:3857")]
    Unsupported(String),
    /// PROJ could not build the operation.
    #[error("PROJ cannot transform {from} to {to}: {detail}")]
    Create {
        /// Source.
        from: Crs,
        /// Target.
        to: Crs,
        /// PROJ's message.
        detail: String,
    },
    /// PROJ could not transform a coordinate.
    #[error("PROJ failed to transform coordinates from {from} to {to}: {detail}")]
    Transform {
        /// Source.
        from: Crs,
        /// Target.
        to: Crs,
        /// PROJ's message.
        detail: String,
    },
}

impl Crs {
    /// The EPSG code (4326 for CRS84).
    pub fn epsg(self) -> u32 {
        match self {
            Crs::Vn2000Tm3_10630 => 9213,
            Crs::Vn2000Utm48n => 3405,
            Crs::Wgs84 | Crs::Crs84 => 4326,
            Crs::WebMercator => 3857,
        }
    }

    /// The CRS for an EPSG code.
    pub fn from_epsg(code: u32) -> Result<Self, CrsError> {
        match code {
            9213 => Ok(Crs::Vn2000Tm3_10630),
            3405 => Ok(Crs::Vn2000Utm48n),
            4326 => Ok(Crs::Wgs84),
            3857 => Ok(Crs::WebMercator),
            other => Err(CrsError::Unsupported(format!("EPSG:{other}"))),
        }
    }

    /// The OGC URI (`http://www.opengis.net/def/crs/EPSG/0/9213`, or `.../OGC/1.3/CRS84`).
    pub fn uri(self) -> String {
        match self {
            Crs::Crs84 => "http://www.opengis.net/def/crs/OGC/1.3/CRS84".into(),
            other => format!("http://www.opengis.net/def/crs/EPSG/0/{}", other.epsg()),
        }
    }

    /// True for systems in degrees.
    pub fn is_geographic(self) -> bool {
        matches!(self, Crs::Wgs84 | Crs::Crs84)
    }

    fn proj_name(self) -> String {
        format!("EPSG:{}", self.epsg())
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Crs::Crs84 => write!(f, "CRS84"),
            other => write!(f, "EPSG:{}", other.epsg()),
        }
    }
}

impl FromStr for Crs {
    type Err = CrsError;
    /// Accepts `EPSG:9213`, `9213`, `CRS84`, and the OGC URIs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let upper = t.to_ascii_uppercase();
        if upper == "CRS84" || upper.ends_with("/OGC/1.3/CRS84") || upper == "OGC:CRS84" {
            return Ok(Crs::Crs84);
        }
        let code = upper
            .strip_prefix("EPSG:")
            .or_else(|| upper.rsplit_once("/EPSG/0/").map(|(_, c)| c))
            .unwrap_or(&upper);
        code.parse::<u32>()
            .map_err(|_| CrsError::Unsupported(t.to_string()))
            .and_then(Crs::from_epsg)
    }
}

/// A transform from one CRS to another. Not `Send`: build one per thread.
///
/// Building a PROJ transformation reads PROJ's database and takes
/// milliseconds, more than transforming a page of plots; each thread keeps
/// the ones it built and [`Transformer::new`] reuses them.
pub struct Transformer {
    from: Crs,
    to: Crs,
    proj: Option<std::rc::Rc<Proj>>,
}

thread_local! {
    static BUILT: std::cell::RefCell<std::collections::HashMap<(u32, u32), std::rc::Rc<Proj>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

impl fmt::Debug for Transformer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Transformer({} -> {})", self.from, self.to)
    }
}

impl Transformer {
    /// Builds the transform; identity when both ends are the same system.
    pub fn new(from: Crs, to: Crs) -> Result<Self, CrsError> {
        if from.epsg() == to.epsg() {
            return Ok(Transformer {
                from,
                to,
                proj: None,
            });
        }
        let key = (from.epsg(), to.epsg());
        if let Some(p) = BUILT.with(|b| b.borrow().get(&key).cloned()) {
            return Ok(Transformer {
                from,
                to,
                proj: Some(p),
            });
        }
        let proj = Proj::new_known_crs(&from.proj_name(), &to.proj_name(), None).map_err(|e| {
            CrsError::Create {
                from,
                to,
                detail: e.to_string(),
            }
        })?;
        let proj = std::rc::Rc::new(proj);
        BUILT.with(|b| b.borrow_mut().insert(key, std::rc::Rc::clone(&proj)));
        Ok(Transformer {
            from,
            to,
            proj: Some(proj),
        })
    }

    /// Source CRS.
    pub fn from(&self) -> Crs {
        self.from
    }

    /// Target CRS.
    pub fn to(&self) -> Crs {
        self.to
    }

    /// Transforms one coordinate (x/easting or longitude first).
    ///
    /// ```
    /// use forest_core::{Crs, Transformer};
    /// let t = Transformer::new(Crs::Wgs84, Crs::Vn2000Tm3_10630).unwrap();
    /// let (e, n) = t.point(105.956, 22.235).unwrap();
    /// assert!((e - 443728.133).abs() < 0.01 && (n - 2459786.638).abs() < 0.01);
    /// ```
    pub fn point(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        match &self.proj {
            None => Ok((x, y)),
            Some(p) => p.convert((x, y)).map_err(|e| self.err(e)),
        }
    }

    /// Transforms a multipolygon.
    pub fn multipolygon(&self, g: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>, CrsError> {
        match &self.proj {
            None => Ok(g.clone()),
            Some(p) => g.transformed(p).map_err(|e| self.err(e)),
        }
    }

    /// [`Transformer::multipolygon`] of a geometry the caller gives up: between
    /// the same CRS it comes back as it is, not copied.
    pub fn into_multipolygon(&self, g: MultiPolygon<f64>) -> Result<MultiPolygon<f64>, CrsError> {
        match &self.proj {
            None => Ok(g),
            Some(_) => self.multipolygon(&g),
        }
    }

    /// Points per side for [`Transformer::rect`] to follow a box's edges to a
    /// few millimetres: one per 500 m of side, 2 to 16 (a query box of a
    /// kilometre needs 2, a district 16).
    pub fn densify_for(&self, r: Rect<f64>) -> usize {
        let side = r.width().max(r.height());
        let metres = if self.from.is_geographic() {
            side * 111_320.0
        } else {
            side
        };
        if !metres.is_finite() {
            return 16;
        }
        ((metres / 500.0).ceil() as usize).clamp(2, 16)
    }

    /// Transforms a rectangle into the polygon it becomes in the target CRS,
    /// with `densify` points on each side so curved edges are followed.
    pub fn rect(&self, r: Rect<f64>, densify: usize) -> Result<Polygon<f64>, CrsError> {
        let (min, max) = (r.min(), r.max());
        let corners = [
            min,
            Coord { x: max.x, y: min.y },
            max,
            Coord { x: min.x, y: max.y },
        ];
        let n = densify.max(1);
        let mut ring = Vec::with_capacity(4 * n + 1);
        for i in 0..4 {
            let (a, b) = (corners[i], corners[(i + 1) % 4]);
            for k in 0..n {
                let t = k as f64 / n as f64;
                let (x, y) = self.point(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t)?;
                ring.push(Coord { x, y });
            }
        }
        ring.push(ring[0]);
        Ok(Polygon::new(ring.into(), vec![]))
    }

    /// The transformation over one area (in the source CRS), replaced by a
    /// quadratic polynomial fitted to exact PROJ results when that matches
    /// PROJ within `tolerance_m` metres everywhere it is checked; PROJ itself
    /// otherwise (an area too large, an identity). Like GDAL's approximate
    /// transformer behind `gdalwarp -et`: the polynomial costs a few
    /// multiplications per vertex where PROJ runs the whole datum-shift
    /// pipeline.
    ///
    /// ```
    /// use forest_core::{Crs, Transformer};
    /// use geo_types::{coord, Rect};
    /// let t = Transformer::new(Crs::Vn2000Tm3_10630, Crs::Crs84).unwrap();
    /// let area = Rect::new(coord! { x: 443_000.0, y: 2_459_000.0 }, coord! { x: 445_000.0, y: 2_461_000.0 });
    /// let local = t.over(area, 0.001).unwrap();
    /// assert!(local.is_fitted());
    /// let (lon, lat) = local.point(443728.133, 2459786.638).unwrap();
    /// assert!((lon - 105.956).abs() < 1e-7 && (lat - 22.235).abs() < 1e-7);
    /// ```
    pub fn over(&self, area: Rect<f64>, tolerance_m: f64) -> Result<Local<'_>, CrsError> {
        if self.proj.is_none() || tolerance_m.is_nan() || tolerance_m <= 0.0 {
            return Ok(self.exact());
        }
        let fit = Quadratic::fit(self, area, tolerance_m)?;
        Ok(Local { exact: self, fit })
    }

    /// The transformation as [`Transformer::over`] gives it, PROJ itself.
    pub fn exact(&self) -> Local<'_> {
        Local {
            exact: self,
            fit: None,
        }
    }

    fn err(&self, e: proj::ProjError) -> CrsError {
        CrsError::Transform {
            from: self.from,
            to: self.to,
            detail: e.to_string(),
        }
    }
}

/// A transformation over one area: a fitted polynomial, or PROJ (see
/// [`Transformer::over`]).
#[derive(Debug)]
pub struct Local<'a> {
    exact: &'a Transformer,
    fit: Option<Quadratic>,
}

impl Local<'_> {
    /// True when the polynomial stands in for PROJ.
    pub fn is_fitted(&self) -> bool {
        self.fit.is_some()
    }

    /// Transforms one coordinate.
    pub fn point(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        match &self.fit {
            Some(q) => Ok(q.apply(x, y)),
            None => self.exact.point(x, y),
        }
    }

    /// Transforms an outline.
    pub fn multipolygon(&self, g: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>, CrsError> {
        match &self.fit {
            Some(q) => Ok(geo::MapCoords::map_coords(g, |c| {
                let (x, y) = q.apply(c.x, c.y);
                Coord { x, y }
            })),
            None => self.exact.multipolygon(g),
        }
    }
}

/// x' and y' as quadratics of the normalised source coordinates
/// u = (x − cx)/h, v = (y − cy)/h: terms 1, u, v, u², uv, v².
#[derive(Debug, Clone)]
struct Quadratic {
    cx: f64,
    cy: f64,
    h: f64,
    ax: [f64; 6],
    ay: [f64; 6],
}

impl Quadratic {
    /// Points per side of the fitting grid; the check points are the centres
    /// of its cells and the middles of its outer edges.
    const GRID: usize = 5;

    fn terms(u: f64, v: f64) -> [f64; 6] {
        [1.0, u, v, u * u, u * v, v * v]
    }

    fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let t = Self::terms((x - self.cx) / self.h, (y - self.cy) / self.h);
        let dot = |a: &[f64; 6]| a.iter().zip(t).map(|(a, t)| a * t).sum::<f64>();
        (dot(&self.ax), dot(&self.ay))
    }

    /// The fit over `area`, or `None` when it misses PROJ by more than
    /// `tolerance_m` at a check point.
    fn fit(t: &Transformer, area: Rect<f64>, tolerance_m: f64) -> Result<Option<Self>, CrsError> {
        let c = area.center();
        let h = (area.width().max(area.height()) / 2.0).max(1.0);
        if !c.x.is_finite() || !c.y.is_finite() || !h.is_finite() {
            return Ok(None);
        }
        let n = Self::GRID;
        let step = 2.0 / (n - 1) as f64;
        // normal equations of the least-squares fit, both outputs at once
        let mut ata = [[0.0f64; 6]; 6];
        let mut atx = [0.0f64; 6];
        let mut aty = [0.0f64; 6];
        for i in 0..n {
            for j in 0..n {
                let (u, v) = (-1.0 + i as f64 * step, -1.0 + j as f64 * step);
                let Ok((x, y)) = t.point(c.x + u * h, c.y + v * h) else {
                    return Ok(None);
                };
                let r = Self::terms(u, v);
                for a in 0..6 {
                    for b in 0..6 {
                        ata[a][b] += r[a] * r[b];
                    }
                    atx[a] += r[a] * x;
                    aty[a] += r[a] * y;
                }
            }
        }
        let Some((ax, ay)) = solve(ata, atx, aty) else {
            return Ok(None);
        };
        let q = Quadratic {
            cx: c.x,
            cy: c.y,
            h,
            ax,
            ay,
        };
        // metres per unit of the target CRS, for the tolerance
        let geographic = t.to().is_geographic();
        let mut checks = Vec::with_capacity((n - 1) * (n - 1) + 4 * (n - 1));
        for i in 0..n - 1 {
            let u = -1.0 + (i as f64 + 0.5) * step;
            for j in 0..n - 1 {
                checks.push((u, -1.0 + (j as f64 + 0.5) * step));
            }
            checks.extend([(u, -1.0), (u, 1.0), (-1.0, u), (1.0, u)]);
        }
        for (u, v) in checks {
            let (x, y) = (c.x + u * h, c.y + v * h);
            let Ok(exact) = t.point(x, y) else {
                return Ok(None);
            };
            let approx = q.apply(x, y);
            let (dx, dy) = (approx.0 - exact.0, approx.1 - exact.1);
            let miss = if geographic {
                let m = 111_320.0;
                (dx * m * exact.1.to_radians().cos()).hypot(dy * m)
            } else {
                dx.hypot(dy)
            };
            if miss.is_nan() || miss > tolerance_m {
                return Ok(None);
            }
        }
        Ok(Some(q))
    }
}

/// Solves `m·a = x` and `m·b = y` (6×6, Gaussian elimination with partial
/// pivoting); `None` when `m` is singular.
fn solve(mut m: [[f64; 6]; 6], mut x: [f64; 6], mut y: [f64; 6]) -> Option<([f64; 6], [f64; 6])> {
    for col in 0..6 {
        let pivot = (col..6).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        x.swap(col, pivot);
        y.swap(col, pivot);
        let pivot_row = m[col];
        for row in col + 1..6 {
            let f = m[row][col] / pivot_row[col];
            for (k, p) in pivot_row.iter().enumerate().skip(col) {
                m[row][k] -= f * p;
            }
            x[row] -= f * x[col];
            y[row] -= f * y[col];
        }
    }
    let mut a = [0.0; 6];
    let mut b = [0.0; 6];
    for row in (0..6).rev() {
        let (mut sa, mut sb) = (x[row], y[row]);
        for k in row + 1..6 {
            sa -= m[row][k] * a[k];
            sb -= m[row][k] * b[k];
        }
        a[row] = sa / m[row][row];
        b[row] = sb / m[row][row];
    }
    Some((a, b))
}

/// EPSG:9213 as OGC WKT 1 with the EPSG:6960 datum shift (TOWGS84), for
/// GeoPackage `gpkg_spatial_ref_sys` and PostGIS `spatial_ref_sys`.
pub const EPSG_9213_WKT1: &str = r#"PROJCS["VN-2000 / TM-3 106-30",GEOGCS["VN-2000",DATUM["Vietnam_2000",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],TOWGS84[-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278],AUTHORITY["EPSG","6756"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4756"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",106.5],PARAMETER["scale_factor",0.9999],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],AUTHORITY["EPSG","9213"]]"#;

/// EPSG:9213 as a PROJ string with the EPSG:6960 datum shift.
pub const EPSG_9213_PROJ4: &str = "+proj=tmerc +lat_0=0 +lon_0=106.5 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 +towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278 +units=m +no_defs";

#[cfg(test)]
mod tests {
    use super::*;

    /// Domain reference §4: WGS 84 lon/lat → EPSG:9213, EPSG:3405, EPSG:3857.
    const VECTORS: &[[f64; 8]] = &[
        [
            105.956,
            22.235,
            443728.133,
            2459786.638,
            598322.688,
            2459257.026,
            11794967.966,
            2539763.273,
        ],
        [
            105.900,
            22.200,
            437940.076,
            2455933.036,
            592574.393,
            2455347.212,
            11788734.075,
            2535554.620,
        ],
        [
            106.000,
            22.300,
            448287.607,
            2466968.151,
            602809.741,
            2466481.896,
            11799866.024,
            2547582.133,
        ],
    ];

    #[test]
    fn a_fitted_local_transform_matches_proj_to_a_millimetre() {
        use geo_types::coord;
        for to in [Crs::Crs84, Crs::WebMercator, Crs::Vn2000Utm48n] {
            let t = Transformer::new(Crs::Vn2000Tm3_10630, to).unwrap();
            for (x, y, half) in [
                (443_728.0, 2_459_786.0, 1_000.0),
                (410_000.0, 2_400_000.0, 300.0),
                (480_000.0, 2_520_000.0, 2_500.0),
            ] {
                let area = Rect::new(
                    coord! { x: x - half, y: y - half },
                    coord! { x: x + half, y: y + half },
                );
                let local = t.over(area, 0.001).unwrap();
                assert!(local.is_fitted(), "{to} around {x} {y} ±{half} m");
                // a dense grid, not the fitting or check points
                for i in 0..=13 {
                    for j in 0..=13 {
                        let (px, py) = (
                            x - half + 2.0 * half * i as f64 / 13.0,
                            y - half + 2.0 * half * j as f64 / 13.0,
                        );
                        let a = local.point(px, py).unwrap();
                        let e = t.point(px, py).unwrap();
                        let (dx, dy) = if to.is_geographic() {
                            (
                                (a.0 - e.0) * 111_320.0 * e.1.to_radians().cos(),
                                (a.1 - e.1) * 111_320.0,
                            )
                        } else {
                            (a.0 - e.0, a.1 - e.1)
                        };
                        assert!(dx.hypot(dy) < 0.001, "{to} at {px} {py}: {dx} {dy} m");
                    }
                }
            }
        }
    }

    #[test]
    fn a_large_area_or_an_identity_keeps_proj() {
        use geo_types::coord;
        let t = Transformer::new(Crs::Vn2000Tm3_10630, Crs::Crs84).unwrap();
        let province = Rect::new(
            coord! { x: 380_000.0, y: 2_350_000.0 },
            coord! { x: 520_000.0, y: 2_530_000.0 },
        );
        assert!(!t.over(province, 0.001).unwrap().is_fitted());
        assert!(
            t.over(province, 50.0).unwrap().is_fitted(),
            "a coarse tolerance is met by the fit"
        );
        let same = Transformer::new(Crs::Vn2000Tm3_10630, Crs::Vn2000Tm3_10630).unwrap();
        let l = same.over(province, 0.001).unwrap();
        assert!(!l.is_fitted());
        assert_eq!(l.point(1.0, 2.0).unwrap(), (1.0, 2.0));
    }

    fn close(a: (f64, f64), b: (f64, f64), tol: f64) -> bool {
        (a.0 - b.0).abs() <= tol && (a.1 - b.1).abs() <= tol
    }

    #[test]
    fn forward_vectors_to_a_centimetre() {
        for v in VECTORS {
            for (crs, (x, y)) in [
                (Crs::Vn2000Tm3_10630, (v[2], v[3])),
                (Crs::Vn2000Utm48n, (v[4], v[5])),
                (Crs::WebMercator, (v[6], v[7])),
            ] {
                let got = Transformer::new(Crs::Wgs84, crs)
                    .unwrap()
                    .point(v[0], v[1])
                    .unwrap();
                assert!(
                    close(got, (x, y), 0.01),
                    "{crs}: got {got:?}, want ({x}, {y})"
                );
            }
        }
    }

    #[test]
    fn inverse_vectors_to_a_centimetre() {
        for v in VECTORS {
            let to_tm3 = Transformer::new(Crs::Wgs84, Crs::Vn2000Tm3_10630).unwrap();
            let back = Transformer::new(Crs::Vn2000Tm3_10630, Crs::Wgs84).unwrap();
            let (lon, lat) = back.point(v[2], v[3]).unwrap();
            // 0.01 m is about 1e-7 degrees; compare in metres by going forward again.
            let again = to_tm3.point(lon, lat).unwrap();
            assert!(close(again, (v[2], v[3]), 0.01));
            assert!(
                (lon - v[0]).abs() < 1e-7 && (lat - v[1]).abs() < 1e-7,
                "{lon} {lat}"
            );
            let m = Transformer::new(Crs::Vn2000Tm3_10630, Crs::WebMercator)
                .unwrap()
                .point(v[2], v[3])
                .unwrap();
            assert!(close(m, (v[6], v[7]), 0.01), "{m:?}");
            let u = Transformer::new(Crs::Vn2000Utm48n, Crs::Vn2000Tm3_10630)
                .unwrap()
                .point(v[4], v[5])
                .unwrap();
            assert!(close(u, (v[2], v[3]), 0.01), "{u:?}");
        }
    }

    #[test]
    fn datum_shift_is_applied() {
        // Treating VN-2000 as WGS 84 moves features about 224 m at the commune.
        let with = Transformer::new(Crs::Wgs84, Crs::Vn2000Tm3_10630)
            .unwrap()
            .point(105.956, 22.235)
            .unwrap();
        let without = Proj::new(
            "+proj=tmerc +lat_0=0 +lon_0=106.5 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 +units=m",
        )
        .unwrap()
        .project((105.956f64.to_radians(), 22.235f64.to_radians()), false)
        .unwrap();
        let d = ((with.0 - without.0).powi(2) + (with.1 - without.1).powi(2)).sqrt();
        assert!((200.0..300.0).contains(&d), "shift {d} m");
    }

    #[test]
    fn parses_crs_names() {
        assert_eq!("EPSG:9213".parse::<Crs>().unwrap(), Crs::Vn2000Tm3_10630);
        assert_eq!(
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
                .parse::<Crs>()
                .unwrap(),
            Crs::Crs84
        );
        assert_eq!(
            "http://www.opengis.net/def/crs/EPSG/0/3857"
                .parse::<Crs>()
                .unwrap(),
            Crs::WebMercator
        );
        assert!("EPSG:32648"
            .parse::<Crs>()
            .unwrap_err()
            .to_string()
            .contains("EPSG:32648"));
    }
}
