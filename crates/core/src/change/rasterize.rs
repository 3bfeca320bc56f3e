//! Burns polygons into a strip of the analysis grid by pixel centre
//! (even-odd rule over all rings, so holes stay empty).

use geo_types::{Coord, MultiPolygon};

use super::grid::GridSpec;

/// Label of a pixel no polygon covers.
pub const NO_LABEL: u32 = u32::MAX;

/// Writes `label` into every pixel of `strip` (a [`GridSpec::rows`] window,
/// `out.len() == strip.len()`) whose centre lies inside `shape`.
///
/// A scanline fill with an active edge list: the edges are sorted by their
/// top once, and each row tests only the edges that span it, so a plot costs
/// its edges plus its crossings rather than edges × rows.
pub fn burn<T: Copy>(strip: &GridSpec, shape: &MultiPolygon<f64>, label: T, out: &mut [T]) {
    Burner::default().burn(strip, shape, label, out);
}

/// [`burn`] with its buffers kept from polygon to polygon.
#[derive(Debug, Default)]
pub struct Burner {
    edges: Vec<Edge>,
    active: Vec<usize>,
    xs: Vec<f64>,
}

/// An edge that spans some height, with its ends as the ring gives them.
#[derive(Debug)]
struct Edge {
    top: f64,
    bottom: f64,
    a: Coord<f64>,
    b: Coord<f64>,
}

impl Burner {
    /// See [`burn`].
    pub fn burn<T: Copy>(
        &mut self,
        strip: &GridSpec,
        shape: &MultiPolygon<f64>,
        label: T,
        out: &mut [T],
    ) {
        let px = strip.pixel;
        if strip.height == 0 {
            return;
        }
        // The centre lines of the strip's first and last rows: an edge that
        // crosses none of the strip's (bottom <= yc < top) is left out.
        let centre = |row: usize| strip.origin_y - (row as f64 + 0.5) * px;
        let (high, low) = (centre(0), centre(strip.height - 1));
        let Burner { edges, active, xs } = self;
        edges.clear();
        for p in &shape.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for seg in ring.0.windows(2) {
                    let (a, b) = (seg[0], seg[1]);
                    if a.y == b.y {
                        continue;
                    }
                    let (top, bottom) = if a.y > b.y { (a.y, b.y) } else { (b.y, a.y) };
                    if top > low && bottom <= high {
                        edges.push(Edge { top, bottom, a, b });
                    }
                }
            }
        }
        if edges.is_empty() {
            return;
        }
        let ymax = edges
            .iter()
            .map(|e| e.top)
            .fold(f64::NEG_INFINITY, f64::max);
        let ymin = edges.iter().map(|e| e.bottom).fold(f64::INFINITY, f64::min);
        // rows whose centre is within [ymin, ymax]
        let r0 = ((strip.origin_y - ymax) / px - 0.5).ceil().max(0.0) as usize;
        let r1 = (((strip.origin_y - ymin) / px - 0.5).floor() + 1.0)
            .clamp(0.0, strip.height as f64) as usize;
        edges.sort_unstable_by(|a, b| b.top.total_cmp(&a.top));
        active.clear();
        let mut next = 0;
        for row in r0..r1 {
            let yc = centre(row);
            // An edge crosses the centre line when bottom <= yc < top.
            while next < edges.len() && edges[next].top > yc {
                active.push(next);
                next += 1;
            }
            active.retain(|e| edges[*e].bottom <= yc);
            xs.clear();
            // (the crossing computed from the edge as the ring gives it)
            xs.extend(active.iter().map(|e| {
                let Edge { a, b, .. } = edges[*e];
                a.x + (yc - a.y) * (b.x - a.x) / (b.y - a.y)
            }));
            fill_spans(strip, row, xs, label, out);
        }
    }
}

/// Sorts the crossings `xs` of row `row`'s centre line and fills, between
/// each pair, the pixels whose centre lies inside.
fn fill_spans<T: Copy>(strip: &GridSpec, row: usize, xs: &mut [f64], label: T, out: &mut [T]) {
    let px = strip.pixel;
    xs.sort_unstable_by(f64::total_cmp);
    for pair in xs.chunks_exact(2) {
        let c0 = ((pair[0] - strip.origin_x) / px - 0.5).ceil().max(0.0) as usize;
        let c1 =
            (((pair[1] - strip.origin_x) / px - 0.5).ceil().max(0.0) as usize).min(strip.width);
        if c0 < c1 {
            out[row * strip.width + c0..row * strip.width + c1].fill(label);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, Polygon};

    /// The previous scanline fill: every edge tested on every row.
    fn burn_every_edge(strip: &GridSpec, shape: &MultiPolygon<f64>, label: u32, out: &mut [u32]) {
        let px = strip.pixel;
        let (mut ymin, mut ymax) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in &shape.0 {
            for c in &p.exterior().0 {
                ymin = ymin.min(c.y);
                ymax = ymax.max(c.y);
            }
        }
        let r0 = ((strip.origin_y - ymax) / px - 0.5).ceil().max(0.0) as usize;
        let r1 = (((strip.origin_y - ymin) / px - 0.5).floor() + 1.0)
            .clamp(0.0, strip.height as f64) as usize;
        for row in r0..r1 {
            let yc = strip.origin_y - (row as f64 + 0.5) * px;
            let mut xs = Vec::new();
            for p in &shape.0 {
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    for seg in ring.0.windows(2) {
                        let (a, b) = (seg[0], seg[1]);
                        if (a.y > yc) != (b.y > yc) {
                            xs.push(a.x + (yc - a.y) * (b.x - a.x) / (b.y - a.y));
                        }
                    }
                }
            }
            fill_spans(strip, row, &mut xs, label, out);
        }
    }

    /// The active-edge fill burns exactly the pixels the every-edge fill
    /// burns, for random star-shaped plots with holes (vertices on the pixel
    /// grid's centre lines included) and strips that cut through them.
    #[test]
    fn the_active_edge_fill_equals_testing_every_edge() {
        let mut h: u64 = 5;
        let mut next = || {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            (h % 1_000_000) as f64 / 1_000_000.0
        };
        let g = GridSpec {
            origin_x: 0.0,
            origin_y: 1000.0,
            pixel: 10.0,
            width: 100,
            height: 100,
        };
        let mut burnt = 0;
        // one burner for every case: its buffers carry nothing over
        let mut burner = Burner::default();
        for case in 0..300 {
            let (cx, cy, r) = (
                200.0 + next() * 600.0,
                200.0 + next() * 600.0,
                20.0 + next() * 180.0,
            );
            let star = |r: f64, n: usize, next: &mut dyn FnMut() -> f64| {
                let mut ring: Vec<Coord<f64>> = (0..n)
                    .map(|k| {
                        let t = k as f64 / n as f64 * std::f64::consts::TAU;
                        let rr = r * (0.4 + 0.6 * next());
                        // every third vertex snapped to a pixel centre line
                        let snap = |v: f64| {
                            if k % 3 == 0 {
                                (v / 10.0).floor() * 10.0 + 5.0
                            } else {
                                v
                            }
                        };
                        Coord {
                            x: snap(cx + rr * t.cos()),
                            y: snap(cy + rr * t.sin()),
                        }
                    })
                    .collect();
                ring.push(ring[0]);
                geo_types::LineString::new(ring)
            };
            let outer = star(r, 5 + case % 40, &mut next);
            let holes = if case % 2 == 0 {
                vec![star(r * 0.2, 6, &mut next)]
            } else {
                vec![]
            };
            let shape = MultiPolygon::new(vec![Polygon::new(outer, holes)]);
            for (row0, rows) in [(0, 100), (13, 29), (50, 7)] {
                let s = g.rows(row0, rows);
                let (mut a, mut b) = (vec![NO_LABEL; s.len()], vec![NO_LABEL; s.len()]);
                burner.burn(&s, &shape, 3, &mut a);
                burn_every_edge(&s, &shape, 3, &mut b);
                assert_eq!(a, b, "case {case}, rows {row0}+{rows}");
                burnt += a.iter().filter(|v| **v == 3).count();
            }
        }
        assert!(burnt > 50_000, "{burnt}");
    }

    #[test]
    fn pixels_whose_centre_is_inside_are_burnt_and_holes_are_not() {
        let g = GridSpec {
            origin_x: 0.0,
            origin_y: 100.0,
            pixel: 10.0,
            width: 10,
            height: 10,
        };
        let outer = polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)];
        let hole = polygon![(x: 30.0, y: 30.0), (x: 70.0, y: 30.0), (x: 70.0, y: 70.0), (x: 30.0, y: 70.0)];
        let shape = MultiPolygon::new(vec![Polygon::new(
            outer.exterior().clone(),
            vec![hole.exterior().clone()],
        )]);
        let mut out = vec![NO_LABEL; g.len()];
        burn(&g, &shape, 7, &mut out);
        assert_eq!(out.iter().filter(|v| **v == 7).count(), 100 - 16);
        // strip in the middle: only its own rows
        let s = g.rows(4, 2);
        let mut out = vec![NO_LABEL; s.len()];
        burn(&s, &shape, 1, &mut out);
        assert_eq!(out.iter().filter(|v| **v == 1).count(), 12);
        // a triangle: centres strictly left of the diagonal
        let tri = MultiPolygon::new(vec![
            polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 0.0, y: 100.0)],
        ]);
        let mut out = vec![NO_LABEL; g.len()];
        burn(&g, &tri, 2, &mut out);
        assert_eq!(out.iter().filter(|v| **v == 2).count(), 45);
    }
}
