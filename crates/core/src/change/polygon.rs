//! Outlines of a component of pixels as a valid (multi)polygon: pixel edges
//! between a selected and an unselected pixel are chained into rings; pixels
//! that touch only at a corner become parts that touch at a point (valid in
//! OGC Simple Features); holes are kept. Exterior rings are counter-clockwise
//! in world coordinates (the GeoJSON right-hand rule).

use std::collections::HashMap;

use geo_types::{Coord, LineString, MultiPolygon, Polygon};

use super::grid::GridSpec;
use super::segment::Run;

type P = (i64, i64);

/// The outline of `runs` (rows and columns of `grid`) in world coordinates.
pub fn outline(runs: &[Run], grid: &GridSpec) -> MultiPolygon<f64> {
    if runs.is_empty() {
        return MultiPolygon::new(vec![]);
    }
    let min_row = runs.iter().map(|r| r.row).min().unwrap_or(0);
    let max_row = runs.iter().map(|r| r.row).max().unwrap_or(0);
    let mut rows: Vec<Vec<(u32, u32)>> = vec![vec![]; (max_row - min_row + 1) as usize];
    for r in runs {
        rows[(r.row - min_row) as usize].push((r.x0, r.x1));
    }
    for r in &mut rows {
        r.sort_unstable();
    }
    let row_of = |row: i64| -> &[(u32, u32)] {
        if row < i64::from(min_row) || row > i64::from(max_row) {
            &[]
        } else {
            &rows[(row - i64::from(min_row)) as usize]
        }
    };

    // Directed unit-free edges, clockwise on screen (y down): the component
    // is on the right of every edge.
    let mut edges: Vec<(P, P)> = Vec::new();
    for (i, segs) in rows.iter().enumerate() {
        let y = i64::from(min_row) + i as i64;
        for &(x0, x1) in segs {
            let (x0, x1) = (i64::from(x0), i64::from(x1));
            // top edges: parts of [x0, x1) not covered by the row above
            for (a, b) in uncovered(x0, x1, row_of(y - 1)) {
                edges.push(((a, y), (b, y)));
            }
            // bottom edges, right to left
            for (a, b) in uncovered(x0, x1, row_of(y + 1)) {
                edges.push(((b, y + 1), (a, y + 1)));
            }
            edges.push(((x1, y), (x1, y + 1)));
            edges.push(((x0, y + 1), (x0, y)));
        }
    }

    let mut by_start: HashMap<P, Vec<usize>> = HashMap::with_capacity(edges.len());
    for (i, e) in edges.iter().enumerate() {
        by_start.entry(e.0).or_default().push(i);
    }
    let mut used = vec![false; edges.len()];
    let mut rings: Vec<Vec<P>> = Vec::new();
    for start in 0..edges.len() {
        if used[start] {
            continue;
        }
        let mut ring = vec![edges[start].0];
        let mut cur = start;
        used[cur] = true;
        loop {
            let (a, b) = edges[cur];
            if b == ring[0] {
                break;
            }
            ring.push(b);
            let dir = (b.0 - a.0, b.1 - a.1);
            let cands = by_start.get(&b).map(Vec::as_slice).unwrap_or(&[]);
            // At a corner where two parts touch, turn right (towards the
            // component) so each part gets its own ring.
            let mut next = None;
            for &c in cands {
                if used[c] {
                    continue;
                }
                let d = (edges[c].1 .0 - b.0, edges[c].1 .1 - b.1);
                let turn = dir.0 * d.1 - dir.1 * d.0; // > 0: right turn on screen
                match next {
                    None => next = Some((c, turn)),
                    Some((_, t)) if turn.signum() > t.signum() => next = Some((c, turn)),
                    _ => {}
                }
            }
            match next {
                Some((c, _)) => {
                    used[c] = true;
                    cur = c;
                }
                None => break, // cannot happen for a closed boundary
            }
        }
        for part in split_at_repeats(ring) {
            rings.push(simplify(part));
        }
    }

    let (mut outers, mut holes): (Vec<Vec<P>>, Vec<Vec<P>>) =
        rings.into_iter().partition(|r| signed_area2(r) > 0);
    let mut polys: Vec<(Vec<P>, Vec<Vec<P>>)> = outers.drain(..).map(|r| (r, vec![])).collect();
    for h in holes.drain(..) {
        // The pixel on the right of the hole's first edge is in the component.
        let (a, b) = (h[0], h[1]);
        let d = ((b.0 - a.0).signum(), (b.1 - a.1).signum());
        let probe = (
            (a.0 + b.0) as f64 / 2.0 - d.1 as f64 * 0.5,
            (a.1 + b.1) as f64 / 2.0 + d.0 as f64 * 0.5,
        );
        let owner = if polys.len() == 1 {
            0
        } else {
            polys
                .iter()
                .position(|(o, _)| contains(o, probe))
                .unwrap_or(0)
        };
        polys[owner].1.push(h);
    }
    // Clockwise on screen is clockwise on the map too: reverse, so exteriors
    // are counter-clockwise and holes clockwise.
    let to_world = |r: &Vec<P>| -> LineString<f64> {
        let mut pts: Vec<Coord<f64>> = r
            .iter()
            .rev()
            .map(|&(x, y)| grid.corner(x as f64, y as f64))
            .collect();
        pts.push(pts[0]);
        LineString::new(pts)
    };
    MultiPolygon::new(
        polys
            .iter()
            .map(|(o, hs)| Polygon::new(to_world(o), hs.iter().map(to_world).collect()))
            .collect(),
    )
}

/// Splits a closed walk that passes a vertex twice (a hole touching the
/// shell, or two holes touching, at a corner) into simple rings.
fn split_at_repeats(walk: Vec<P>) -> Vec<Vec<P>> {
    let mut out = Vec::new();
    let mut stack: Vec<P> = Vec::with_capacity(walk.len());
    let mut at: HashMap<P, usize> = HashMap::new();
    for p in walk {
        if let Some(&i) = at.get(&p) {
            let part: Vec<P> = stack.drain(i + 1..).collect();
            for q in &part {
                at.remove(q);
            }
            let mut ring = vec![p];
            ring.extend(part);
            out.push(ring);
        } else {
            at.insert(p, stack.len());
            stack.push(p);
        }
    }
    out.push(stack);
    out
}

/// Parts of `[x0, x1)` not covered by the sorted runs `cover`.
fn uncovered(x0: i64, x1: i64, cover: &[(u32, u32)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = x0;
    for &(c0, c1) in cover {
        let (c0, c1) = (i64::from(c0), i64::from(c1));
        if c1 <= at {
            continue;
        }
        if c0 >= x1 {
            break;
        }
        if c0 > at {
            out.push((at, c0));
        }
        at = at.max(c1);
        if at >= x1 {
            break;
        }
    }
    if at < x1 {
        out.push((at, x1));
    }
    out
}

/// Drops vertices in the middle of straight lines.
fn simplify(ring: Vec<P>) -> Vec<P> {
    let n = ring.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let p = ring[(i + n - 1) % n];
        let c = ring[i];
        let q = ring[(i + 1) % n];
        let cross = (c.0 - p.0) * (q.1 - c.1) - (c.1 - p.1) * (q.0 - c.0);
        if cross != 0 {
            out.push(c);
        }
    }
    out
}

/// Twice the signed area on screen (y down): positive for clockwise rings.
fn signed_area2(r: &[P]) -> i64 {
    let n = r.len();
    (0..n)
        .map(|i| r[i].0 * r[(i + 1) % n].1 - r[(i + 1) % n].0 * r[i].1)
        .sum()
}

fn contains(ring: &[P], (x, y): (f64, f64)) -> bool {
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let (x1, y1) = (ring[i].0 as f64, ring[i].1 as f64);
        let (x2, y2) = (ring[(i + 1) % n].0 as f64, ring[(i + 1) % n].1 as f64);
        if (y1 > y) != (y2 > y) && x < x1 + (y - y1) * (x2 - x1) / (y2 - y1) {
            inside = !inside;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::segment::Segmenter;
    use crate::change::{PixelClass, PixelResult};
    use geo::{Area, Validation};

    fn comps(rows: &[&str]) -> Vec<MultiPolygon<f64>> {
        let w = rows[0].len();
        let px: Vec<PixelResult> = rows
            .iter()
            .flat_map(|r| r.chars())
            .map(|c| PixelResult {
                class: if c == '#' {
                    PixelClass::Clearing
                } else {
                    PixelClass::NoChange
                },
                seen: 1,
                first: 0,
                last_clear: 0,
                drop: 0.0,
                dnbr: f32::NAN,
            })
            .collect();
        let mut s = Segmenter::changes();
        s.push(&px, w);
        let grid = GridSpec {
            origin_x: 1000.0,
            origin_y: 5000.0,
            pixel: 10.0,
            width: w,
            height: rows.len(),
        };
        s.finish().iter().map(|c| outline(&c.runs, &grid)).collect()
    }

    #[test]
    fn square_with_hole_is_valid_and_exact() {
        let mp = comps(&["####", "#..#", "####"]);
        assert_eq!(mp.len(), 1);
        let m = &mp[0];
        assert!(m.is_valid(), "{m:?}");
        assert_eq!(m.0.len(), 1);
        assert_eq!(m.0[0].interiors().len(), 1);
        assert_eq!(m.0[0].exterior().0.len(), 5, "collinear vertices removed");
        assert!(
            (m.signed_area() - 1000.0).abs() < 1e-9,
            "10 pixels of 100 m², exterior CCW"
        );
    }

    #[test]
    fn diagonal_touch_gives_two_parts_touching_at_a_point() {
        let mp = comps(&["#.", ".#"]);
        assert_eq!(mp.len(), 1);
        assert_eq!(mp[0].0.len(), 2);
        assert!(mp[0].is_valid(), "{:?}", mp[0]);
        assert!((mp[0].unsigned_area() - 200.0).abs() < 1e-9);
    }

    #[test]
    fn hole_touching_the_shell_diagonally_and_irregular_shapes_are_valid() {
        for pattern in [
            &["#####", "#.#.#", "##.##", "#.#.#", "#####"][..],
            &["###.", "#.#.", "###.", "...#"][..],
            &[".##.", "#..#", "#..#", ".##."][..],
            &["#.#.#", ".#.#.", "#.#.#"][..],
        ] {
            let want = pattern
                .iter()
                .flat_map(|r| r.chars())
                .filter(|c| *c == '#')
                .count() as f64
                * 100.0;
            let got: f64 = comps(pattern).iter().map(|m| m.unsigned_area()).sum();
            assert!((got - want).abs() < 1e-9, "{pattern:?}: {got} vs {want}");
            for m in comps(pattern) {
                assert!(m.is_valid(), "{pattern:?}: {m:?}");
            }
        }
    }

    #[test]
    fn world_coordinates_follow_the_grid() {
        let m = &comps(&["#"])[0];
        let ext = m.0[0].exterior();
        assert!(ext.0.contains(&Coord {
            x: 1000.0,
            y: 5000.0
        }));
        assert!(ext.0.contains(&Coord {
            x: 1010.0,
            y: 4990.0
        }));
    }
}
