//! Topology of a plot layer: lô must not overlap, and inside the commune
//! boundary every piece of land belongs to a plot.
//!
//! Overlaps are found pair by pair among plots whose envelopes meet (an
//! R-tree), measured with an exact polygon intersection; gaps are the part of
//! the boundary left after removing the union of the plots.

use geo::{Area, BooleanOps, BoundingRect, Centroid, Euclidean, Length};
use geo_types::{MultiPolygon, Point};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, RTreeObject, AABB};

use crate::plot::PlotKey;

/// Overlaps and gaps below this area are float noise, m².
pub const DEFAULT_MIN_AREA_M2: f64 = 1.0;
/// An overlap or gap thinner than this on average is a sliver, m.
pub const SLIVER_WIDTH_M: f64 = 2.0;

/// Two plots that overlap.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlap {
    /// First plot (key order).
    pub a: PlotKey,
    /// Second plot.
    pub b: PlotKey,
    /// Area shared by both, m².
    pub area_m2: f64,
    /// True when the overlap is a thin sliver (digitising noise) rather than a
    /// real double assignment of land.
    pub sliver: bool,
}

/// Land inside the boundary that no plot covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// Area, m².
    pub area_m2: f64,
    /// A point of the gap (its centroid), EPSG:9213.
    pub at: Point<f64>,
    /// True when the gap is a thin sliver.
    pub sliver: bool,
}

/// Mean width of a polygonal piece: 2 × area ÷ perimeter, m.
fn mean_width(g: &MultiPolygon<f64>) -> f64 {
    let perimeter: f64 =
        g.0.iter()
            .map(|p| {
                Euclidean.length(p.exterior())
                    + p.interiors()
                        .iter()
                        .map(|r| Euclidean.length(r))
                        .sum::<f64>()
            })
            .sum();
    if perimeter > 0.0 {
        2.0 * g.unsigned_area() / perimeter
    } else {
        0.0
    }
}

/// Every pair of plots that overlaps by more than `min_area_m2`, in key order.
///
/// # Units
/// Geometries in a projected CRS in metres (EPSG:9213); areas in m².
///
/// ```
/// use forest_core::topology::overlaps;
/// use geo_types::{polygon, MultiPolygon};
/// let a = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)]]);
/// let b = MultiPolygon(vec![polygon![(x: 90.0, y: 0.0), (x: 200.0, y: 0.0), (x: 200.0, y: 100.0), (x: 90.0, y: 100.0)]]);
/// let c = MultiPolygon(vec![polygon![(x: 200.0, y: 0.0), (x: 300.0, y: 0.0), (x: 300.0, y: 100.0), (x: 200.0, y: 100.0)]]);
/// let keys: Vec<_> = ["01981/1/1/1", "01981/1/1/2", "01981/1/1/3"].iter().map(|k| k.parse().unwrap()).collect();
/// let found = overlaps(&[(&keys[0], &a), (&keys[1], &b), (&keys[2], &c)], 1.0);
/// assert_eq!(found.len(), 1, "b and c only touch");
/// assert_eq!(found[0].area_m2, 1000.0);
/// assert!(!found[0].sliver);
/// ```
pub fn overlaps(plots: &[(&PlotKey, &MultiPolygon<f64>)], min_area_m2: f64) -> Vec<Overlap> {
    let boxes: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = plots
        .iter()
        .enumerate()
        .filter_map(|(i, (_, g))| {
            g.bounding_rect().map(|r| {
                GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                )
            })
        })
        .collect();
    let tree = RTree::bulk_load(boxes.clone());
    let mut out: Vec<Overlap> = boxes
        .par_iter()
        .with_min_len(256)
        .flat_map_iter(|item| {
            let i = item.data;
            let env = item.geom().envelope();
            let mut found = Vec::new();
            for other in
                tree.locate_in_envelope_intersecting(&AABB::from_corners(env.lower(), env.upper()))
            {
                let j = other.data;
                if j <= i {
                    continue;
                }
                // the overlap lies inside both envelopes: when they share no
                // more than the threshold, neither can the plots
                let o = other.geom().envelope();
                let w = env.upper()[0].min(o.upper()[0]) - env.lower()[0].max(o.lower()[0]);
                let h = env.upper()[1].min(o.upper()[1]) - env.lower()[1].max(o.lower()[1]);
                if w * h <= min_area_m2 {
                    continue;
                }
                let shared = plots[i].1.intersection(plots[j].1);
                let area = shared.unsigned_area();
                if area > min_area_m2 {
                    let (a, b) = if plots[i].0 <= plots[j].0 {
                        (i, j)
                    } else {
                        (j, i)
                    };
                    found.push(Overlap {
                        a: plots[a].0.clone(),
                        b: plots[b].0.clone(),
                        area_m2: area,
                        sliver: mean_width(&shared) < SLIVER_WIDTH_M,
                    });
                }
            }
            found
        })
        .collect();
    out.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
    out
}

/// Pieces of `boundary` that no plot covers, larger than `min_area_m2`.
pub fn gaps(
    plots: &[&MultiPolygon<f64>],
    boundary: &MultiPolygon<f64>,
    min_area_m2: f64,
) -> Vec<Gap> {
    let covered = geo::unary_union(plots.iter().copied());
    let uncovered = boundary.difference(&covered);
    let mut out: Vec<Gap> = uncovered
        .0
        .into_iter()
        .map(MultiPolygon::from)
        .map(|g| (g.unsigned_area(), mean_width(&g), g.centroid()))
        .filter(|(a, _, c)| *a > min_area_m2 && c.is_some())
        .map(|(area_m2, w, c)| Gap {
            area_m2,
            at: c.unwrap_or_else(|| Point::new(0.0, 0.0)),
            sliver: w < SLIVER_WIDTH_M,
        })
        .collect();
    out.sort_by(|a, b| b.area_m2.total_cmp(&a.area_m2));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    fn square(x: f64, y: f64, w: f64, h: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x, y: y), (x: x + w, y: y), (x: x + w, y: y + h), (x: x, y: y + h)],
        ])
    }

    #[test]
    fn slivers_are_told_from_real_overlaps() {
        let keys: Vec<PlotKey> = (1..=3)
            .map(|i| format!("01981/1/1/{i}").parse().unwrap())
            .collect();
        let a = square(0.0, 0.0, 100.0, 100.0);
        let b = square(99.5, 0.0, 100.0, 100.0); // 0.5 m × 100 m: a sliver
        let c = square(150.0, 50.0, 100.0, 100.0); // overlaps b by 49.5 × 50
        let found = overlaps(&[(&keys[0], &a), (&keys[1], &b), (&keys[2], &c)], 1.0);
        assert_eq!(found.len(), 2);
        assert!((found[0].area_m2 - 50.0).abs() < 1e-6 && found[0].sliver);
        assert!((found[1].area_m2 - 2475.0).abs() < 1e-6 && !found[1].sliver);
        assert_eq!((found[1].a.lo(), found[1].b.lo()), ("2", "3"));
    }

    #[test]
    fn gaps_inside_the_boundary() {
        let boundary = square(0.0, 0.0, 300.0, 100.0);
        let a = square(0.0, 0.0, 100.0, 100.0);
        let b = square(100.0, 0.0, 100.0, 100.0);
        let c = square(201.0, 0.0, 99.0, 100.0); // leaves a 1 m strip
        let g = gaps(&[&a, &b, &c], &boundary, 1.0);
        assert_eq!(g.len(), 1);
        assert!((g[0].area_m2 - 100.0).abs() < 1e-6 && g[0].sliver);
        assert!(gaps(&[&a, &b, &square(200.0, 0.0, 100.0, 100.0)], &boundary, 1.0).is_empty());
    }
}
