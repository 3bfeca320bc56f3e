//! Burns polygons into a strip of the analysis grid by pixel centre
//! (even-odd rule over all rings, so holes stay empty).

use geo_types::MultiPolygon;

use super::grid::GridSpec;

/// Label of a pixel no polygon covers.
pub const NO_LABEL: u32 = u32::MAX;

/// Writes `label` into every pixel of `strip` (a [`GridSpec::rows`] window,
/// `out.len() == strip.len()`) whose centre lies inside `shape`.
pub fn burn(strip: &GridSpec, shape: &MultiPolygon<f64>, label: u32, out: &mut [u32]) {
    let px = strip.pixel;
    let mut xs: Vec<f64> = Vec::new();
    let (mut ymin, mut ymax) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in &shape.0 {
        for c in &p.exterior().0 {
            ymin = ymin.min(c.y);
            ymax = ymax.max(c.y);
        }
    }
    if !ymin.is_finite() {
        return;
    }
    // rows whose centre is within [ymin, ymax]
    let r0 = ((strip.origin_y - ymax) / px - 0.5).ceil().max(0.0) as usize;
    let r1 = (((strip.origin_y - ymin) / px - 0.5).floor() + 1.0).clamp(0.0, strip.height as f64)
        as usize;
    for row in r0..r1 {
        let yc = strip.origin_y - (row as f64 + 0.5) * px;
        xs.clear();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, Polygon};

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
