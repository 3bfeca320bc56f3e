//! Topology of a plot layer: lô must not overlap, and inside the commune
//! boundary every piece of land belongs to a plot.
//!
//! Overlaps are found pair by pair among plots whose envelopes meet (a
//! uniform grid of envelopes), measured with an exact polygon intersection;
//! gaps are the part of the boundary left after removing the union of the
//! plots.

use geo::{Area, BooleanOps, BoundingRect, Centroid, Euclidean, Length};
use geo_types::{MultiPolygon, Point};

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
    let mut finder = OverlapFinder::new(min_area_m2);
    for (key, g) in plots {
        finder.add((*key).clone(), (*g).clone());
    }
    finder.finish().0
}

/// [`overlaps`] for plots that arrive one by one (a file being read): each
/// new plot is checked against those already added whose envelopes meet its
/// own, found through a grid that grows with them.
#[derive(Debug)]
pub struct OverlapFinder {
    min_area_m2: f64,
    grid: EnvelopeGrid,
    /// Each plot with the envelope of each of its parts (`None` for an empty part).
    plots: Vec<(PlotKey, MultiPolygon<f64>, PartEnvelopes)>,
    found: Vec<Overlap>,
    scratch: Scratch,
}

impl OverlapFinder {
    /// A finder reporting overlaps larger than `min_area_m2`.
    pub fn new(min_area_m2: f64) -> Self {
        OverlapFinder {
            min_area_m2,
            grid: EnvelopeGrid::default(),
            plots: Vec::new(),
            found: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// Adds a plot, checking it against every plot added before.
    pub fn add(&mut self, key: PlotKey, g: MultiPolygon<f64>) {
        let rects: PartEnvelopes = g.0.iter().map(|p| p.bounding_rect()).collect();
        let i = self.plots.len();
        if let Some(env) = g.bounding_rect() {
            let mut near = std::mem::take(&mut self.scratch.near);
            self.grid.meeting(&env, &mut near);
            for &(other, o) in &near {
                // the overlap lies inside both envelopes: when they share no
                // more than the threshold, neither can the plots
                let w = env.max().x.min(o.max().x) - env.min().x.max(o.min().x);
                let h = env.max().y.min(o.max().y) - env.min().y.max(o.min().y);
                if w * h <= self.min_area_m2 {
                    continue;
                }
                let (other_key, other_g, other_rects) = &self.plots[other];
                if !may_overlap((other_g, other_rects), (&g, &rects), &mut self.scratch) {
                    continue;
                }
                let shared = other_g.intersection(&g);
                let area = shared.unsigned_area();
                if area > self.min_area_m2 {
                    let (a, b) = if *other_key <= key {
                        (other_key.clone(), key.clone())
                    } else {
                        (key.clone(), other_key.clone())
                    };
                    self.found.push(Overlap {
                        a,
                        b,
                        area_m2: area,
                        sliver: mean_width(&shared) < SLIVER_WIDTH_M,
                    });
                }
            }
            self.scratch.near = near;
            self.grid.insert(i, env);
        }
        self.plots.push((key, g, rects));
    }

    /// The overlaps found, in key order, and the plots added.
    pub fn finish(self) -> (Vec<Overlap>, Vec<(PlotKey, MultiPolygon<f64>)>) {
        let mut out = self.found;
        out.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
        (
            out,
            self.plots.into_iter().map(|(k, g, _)| (k, g)).collect(),
        )
    }
}

/// The envelopes of the plots added so far, each listed in the square cells
/// of a fixed grid that it meets. Plots are lô of tenths to tens of hectares
/// (envelopes of 100-800 m), so a 256 m cell holds a handful and a plot meets
/// a few cells: finding the neighbours of a plot and adding it are a few
/// hash lookups, where growing an R*-tree one plot at a time cost ten times
/// more (a quarter of the overlap check). An envelope that would span more
/// than [`EnvelopeGrid::MAX_CELLS`] cells (a plot kilometres wide, rare) is
/// kept aside and compared with every plot instead.
#[derive(Debug, Default)]
struct EnvelopeGrid {
    cells: foldhash::HashMap<(i64, i64), Vec<u32>>,
    envelopes: Vec<geo_types::Rect<f64>>,
    /// Plots kept aside, by index.
    large: Vec<u32>,
    /// For each plot, the last query that listed it (a plot in several of the
    /// cells a query visits is listed once).
    seen: Vec<u32>,
    query: u32,
}

impl EnvelopeGrid {
    /// Side of a cell, m.
    const CELL: f64 = 256.0;
    /// Cells an envelope may span before it is kept aside.
    const MAX_CELLS: i64 = 1024;

    /// The cells an envelope spans (inclusive), or `None` when they are too
    /// many (or the envelope is not finite).
    fn span(r: &geo_types::Rect<f64>) -> Option<((i64, i64), (i64, i64))> {
        let cell = |v: f64| (v / Self::CELL).floor();
        let (x0, y0, x1, y1) = (
            cell(r.min().x),
            cell(r.min().y),
            cell(r.max().x),
            cell(r.max().y),
        );
        let fits = [x0, y0, x1, y1].iter().all(|v| v.abs() < 1e15)
            && (x1 - x0 + 1.0) * (y1 - y0 + 1.0) <= Self::MAX_CELLS as f64;
        fits.then_some(((x0 as i64, y0 as i64), (x1 as i64, y1 as i64)))
    }

    /// Every plot whose envelope meets `r` (boundaries included), with that
    /// envelope, in the order they were added within each cell.
    fn meeting(&mut self, r: &geo_types::Rect<f64>, out: &mut Vec<(usize, geo_types::Rect<f64>)>) {
        out.clear();
        self.query = self.query.wrapping_add(1);
        if self.query == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.query = 1;
        }
        let meets = |o: &geo_types::Rect<f64>| {
            o.min().x <= r.max().x
                && o.max().x >= r.min().x
                && o.min().y <= r.max().y
                && o.max().y >= r.min().y
        };
        let mut visit = |i: u32, out: &mut Vec<(usize, geo_types::Rect<f64>)>| {
            let i = i as usize;
            if self.seen[i] != self.query {
                self.seen[i] = self.query;
                let o = self.envelopes[i];
                if meets(&o) {
                    out.push((i, o));
                }
            }
        };
        match Self::span(r) {
            Some(((x0, y0), (x1, y1))) => {
                for x in x0..=x1 {
                    for y in y0..=y1 {
                        for &i in self.cells.get(&(x, y)).into_iter().flatten() {
                            visit(i, out);
                        }
                    }
                }
            }
            None => {
                // as large as the rest: every plot
                for i in 0..self.envelopes.len() as u32 {
                    visit(i, out);
                }
            }
        }
        for &i in &self.large {
            visit(i, out);
        }
    }

    /// Adds plot `i` (the next index) with its envelope.
    fn insert(&mut self, i: usize, r: geo_types::Rect<f64>) {
        let i = u32::try_from(i).expect("fewer than 4 billion plots");
        // plots without an envelope (empty geometry) are never listed
        self.envelopes.resize(
            i as usize,
            geo_types::Rect::new((f64::NAN, f64::NAN), (f64::NAN, f64::NAN)),
        );
        self.seen.resize(i as usize, 0);
        self.envelopes.push(r);
        self.seen.push(0);
        match Self::span(&r) {
            Some(((x0, y0), (x1, y1))) => {
                for x in x0..=x1 {
                    for y in y0..=y1 {
                        self.cells.entry((x, y)).or_default().push(i);
                    }
                }
            }
            None => self.large.push(i),
        }
    }
}

/// The envelope of each part of a multipolygon, in order (`None` for an
/// empty part).
type PartEnvelopes = Vec<Option<geo_types::Rect<f64>>>;

/// A multipolygon with its part envelopes.
type WithEnvelopes<'a> = (&'a MultiPolygon<f64>, &'a PartEnvelopes);

/// The non-empty parts of `g` with their envelopes.
fn parts<'a>(
    g: &'a MultiPolygon<f64>,
    r: &'a PartEnvelopes,
) -> impl Iterator<Item = (&'a geo_types::Polygon<f64>, geo_types::Rect<f64>)> + Clone {
    g.0.iter()
        .zip(r.iter().copied())
        .filter_map(|(p, e)| e.map(|e| (p, e)))
}

/// Buffers of the pair test, kept from pair to pair (a plot meets half a
/// dozen neighbours; allocating them afresh for each pair was a tenth of the
/// check's time).
#[derive(Debug, Default)]
struct Scratch {
    a: Side,
    b: Side,
    cuts: Vec<f64>,
    along: Vec<(f64, f64)>,
    /// The plots a new plot's envelope meets, with their envelopes.
    near: Vec<(usize, geo_types::Rect<f64>)>,
}

/// False only when the interiors of `a` and `b` (valid geometries) are shown
/// not to meet; true sends the pair to the exact intersection.
///
/// Two valid polygons whose interiors meet either are the same polygon, or
/// the boundary of one enters the interior of the other (a polygon's interior
/// is connected: if no boundary point of `b` lies inside `a`, then `a`'s
/// interior lies wholly inside `b` or wholly outside it). So, part by part,
/// the pair is disjoint when the envelopes differ and no edge of either enters
/// the other. Neighbouring plots share most of the edges near each other
/// (found by sorting, and on the other's boundary by construction); each
/// remaining edge is cut where it meets the other's boundary and the middle of
/// every piece is located (inside, boundary, outside) with robust predicates.
fn may_overlap(
    (a, ra): WithEnvelopes<'_>,
    (b, rb): WithEnvelopes<'_>,
    scratch: &mut Scratch,
) -> bool {
    let b = parts(b, rb);
    for (pa, ea) in parts(a, ra) {
        for (pb, eb) in b.clone() {
            let open_overlap = ea.min().x < eb.max().x
                && eb.min().x < ea.max().x
                && ea.min().y < eb.max().y
                && eb.min().y < ea.max().y;
            if !open_overlap {
                continue; // interiors lie inside the open envelopes
            }
            if ea == eb {
                return true;
            }
            let Scratch {
                a: sa,
                b: sb,
                cuts,
                along,
                ..
            } = scratch;
            sa.near(pa, eb);
            sb.near(pb, ea);
            if enters(sa, sb, pb, cuts, along) || enters(sb, sa, pa, cuts, along) {
                return true;
            }
        }
    }
    false
}

/// The edges of one part near another part's envelope `env`: those that
/// touch it (closed), flagged when they reach into its interior, and their
/// keys (endpoints in order, as bits) sorted, to find the edges both share.
#[derive(Debug, Default)]
struct Side {
    edges: Vec<NearEdge>,
    keys: Vec<[u64; 4]>,
}

/// An edge near the other part, with its envelope.
#[derive(Debug, Clone, Copy)]
struct NearEdge {
    line: geo_types::Line<f64>,
    /// Whether it reaches into the other part's envelope.
    inside: bool,
    lo: geo_types::Coord<f64>,
    hi: geo_types::Coord<f64>,
}

impl Side {
    /// Takes the edges of `p` near `env` (the buffers are reused).
    fn near(&mut self, p: &geo_types::Polygon<f64>, env: geo_types::Rect<f64>) {
        let (lo, hi) = (env.min(), env.max());
        self.edges.clear();
        self.keys.clear();
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            for l in ring.lines() {
                let (x0, x1) = (l.start.x.min(l.end.x), l.start.x.max(l.end.x));
                let (y0, y1) = (l.start.y.min(l.end.y), l.start.y.max(l.end.y));
                if x1 >= lo.x && x0 <= hi.x && y1 >= lo.y && y0 <= hi.y {
                    let inside = x1 > lo.x && x0 < hi.x && y1 > lo.y && y0 < hi.y;
                    self.edges.push(NearEdge {
                        line: l,
                        inside,
                        lo: (x0, y0).into(),
                        hi: (x1, y1).into(),
                    });
                    self.keys.push(edge_key(&l));
                }
            }
        }
        self.keys.sort_unstable();
    }
}

/// An edge as its endpoints in coordinate order, as bits: the same key for
/// both directions of the same segment.
fn edge_key(l: &geo_types::Line<f64>) -> [u64; 4] {
    let (s, e) = (l.start, l.end);
    let (s, e) = if (s.x, s.y) <= (e.x, e.y) {
        (s, e)
    } else {
        (e, s)
    };
    [s.x.to_bits(), s.y.to_bits(), e.x.to_bits(), e.y.to_bits()]
}

/// Whether an edge of one part (`mine`, near `q`) enters the interior of the
/// part `q` (`theirs`: q's edges near the first part).
fn enters(
    mine: &Side,
    theirs: &Side,
    q: &geo_types::Polygon<f64>,
    cuts: &mut Vec<f64>,
    along: &mut Vec<(f64, f64)>,
) -> bool {
    use geo::algorithm::line_intersection::{line_intersection, LineIntersection};
    use geo::coordinate_position::{CoordPos, CoordinatePosition};
    use geo_types::Coord;
    // The end of the last edge that met q's boundary nowhere and lies
    // outside q: an edge from there that meets it nowhere either is outside
    // too (a path that does not cross the boundary stays on its side).
    let mut outside_to: Option<Coord<f64>> = None;
    for edge in &mine.edges {
        let e = &edge.line;
        if !edge.inside || theirs.keys.binary_search(&edge_key(e)).is_ok() {
            continue; // outside q's envelope, or an edge of q's boundary too
        }
        let d = e.delta();
        let len2 = d.x * d.x + d.y * d.y;
        if len2.is_nan() || len2 <= 0.0 {
            return true; // degenerate: let the exact test decide
        }
        let t_of = |c: Coord<f64>| {
            (((c.x - e.start.x) * d.x + (c.y - e.start.y) * d.y) / len2).clamp(0.0, 1.0)
        };
        let (elo, ehi) = (edge.lo, edge.hi);
        cuts.clear();
        along.clear();
        cuts.extend([0.0, 1.0]);
        let mut met = false;
        for f in &theirs.edges {
            if f.hi.x < elo.x || f.lo.x > ehi.x || f.hi.y < elo.y || f.lo.y > ehi.y {
                continue;
            }
            let f = &f.line;
            match line_intersection(*e, *f) {
                Some(LineIntersection::SinglePoint { intersection, .. }) => {
                    met = true;
                    cuts.push(t_of(intersection))
                }
                Some(LineIntersection::Collinear { intersection }) => {
                    met = true;
                    let (t0, t1) = (t_of(intersection.start), t_of(intersection.end));
                    cuts.extend([t0, t1]);
                    along.push((t0.min(t1), t0.max(t1)));
                }
                None => {}
            }
        }
        if !met {
            if outside_to == Some(e.start) {
                outside_to = Some(e.end);
                continue;
            }
            let m = Coord {
                x: e.start.x + 0.5 * d.x,
                y: e.start.y + 0.5 * d.y,
            };
            match q.coordinate_position(&m) {
                CoordPos::Inside => return true,
                CoordPos::Outside => outside_to = Some(e.end),
                CoordPos::OnBoundary => outside_to = None,
            }
            continue;
        }
        outside_to = None;
        cuts.sort_unstable_by(f64::total_cmp);
        for w in cuts.windows(2) {
            if w[1] <= w[0] {
                continue;
            }
            let t = 0.5 * (w[0] + w[1]);
            if along.iter().any(|(s, e)| *s <= t && t <= *e) {
                continue; // along q's boundary
            }
            let m = Coord {
                x: e.start.x + t * d.x,
                y: e.start.y + t * d.y,
            };
            if q.coordinate_position(&m) == CoordPos::Inside {
                return true;
            }
        }
    }
    false
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

/// A cheap, sufficient test of validity for the common plot: one polygon
/// without holes whose ring is closed, has at least three distinct corners
/// and no repeated consecutive point, encloses a non-zero area, and is simple
/// (no two edges meet except consecutive ones at their shared corner, and no
/// edge doubles back over the previous one). `true` means the geometry is
/// valid; `false` means "not shown here": ask the full validation
/// (`geo::Validation`), which also names the problem.
///
/// The simplicity check sweeps the edges in x order, so a ring of n corners
/// costs about n log n instead of the n² pairs of a plain check.
///
/// ```
/// use forest_core::topology::plainly_valid;
/// use geo_types::{polygon, MultiPolygon};
/// let square = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)];
/// assert!(plainly_valid(&MultiPolygon(vec![square])));
/// let bowtie = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 10.0), (x: 10.0, y: 0.0), (x: 0.0, y: 10.0)];
/// assert!(!plainly_valid(&MultiPolygon(vec![bowtie])));
/// ```
pub fn plainly_valid(g: &MultiPolygon<f64>) -> bool {
    use geo::algorithm::kernels::{Kernel, Orientation, RobustKernel};
    use geo::Intersects;
    use geo_types::Line;
    let [polygon] = g.0.as_slice() else {
        return false;
    };
    if !polygon.interiors().is_empty() {
        return false;
    }
    let pts = &polygon.exterior().0;
    let n = pts.len().saturating_sub(1); // edges
    if n < 3 || pts[0] != pts[n] || pts.iter().any(|c| !c.x.is_finite() || !c.y.is_finite()) {
        return false;
    }
    if pts.windows(2).any(|w| w[0] == w[1]) || polygon.unsigned_area() <= 0.0 {
        return false;
    }
    // consecutive edges: a turn, a straight continuation, never a way back
    for i in 0..n {
        let (a, v, b) = (pts[(i + n - 1) % n], pts[i], pts[i + 1]);
        if RobustKernel::orient2d(a, v, b) == Orientation::Collinear
            && (a.x - v.x) * (b.x - v.x) + (a.y - v.y) * (b.y - v.y) > 0.0
        {
            return false;
        }
    }
    let mut edges: Vec<(f64, f64, usize)> = (0..n)
        .map(|i| (pts[i].x.min(pts[i + 1].x), pts[i].x.max(pts[i + 1].x), i))
        .collect();
    edges.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    for (k, &(_, max_x, i)) in edges.iter().enumerate() {
        let e = Line::new(pts[i], pts[i + 1]);
        for &(min_x, _, j) in &edges[k + 1..] {
            if min_x > max_x {
                break;
            }
            let (lo, hi) = (i.min(j), i.max(j));
            if hi - lo == 1 || (lo == 0 && hi == n - 1) {
                continue; // consecutive: checked above
            }
            if e.intersects(&Line::new(pts[j], pts[j + 1])) {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    #[test]
    fn plainly_valid_agrees_with_the_full_validation() {
        use geo::Validation;
        let cases = [
            // valid
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)],
            polygon![(x: 0.0, y: 0.0), (x: 5.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 5.0, y: 2.0), (x: 0.0, y: 10.0)],
            // a bow tie, a spike back along an edge, a ring touching itself at a corner
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 10.0), (x: 10.0, y: 0.0), (x: 0.0, y: 10.0)],
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 5.0, y: 0.0), (x: 5.0, y: 10.0)],
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 5.0, y: 5.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0), (x: 5.0, y: 5.0)],
            // a repeated point, a flat ring
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0)],
            polygon![(x: 0.0, y: 0.0), (x: 5.0, y: 0.0), (x: 10.0, y: 0.0)],
        ];
        for (i, p) in cases.into_iter().enumerate() {
            let mp = MultiPolygon(vec![p]);
            let fast = plainly_valid(&mp);
            let full = mp.validation_errors().is_empty();
            // never valid where the full check objects; the plain cases pass
            assert!(
                !fast || full,
                "case {i}: plainly valid but {:?}",
                mp.validation_errors()
            );
            assert_eq!(fast, i < 2, "case {i}");
        }
        // random rings on a small grid (many touching and collinear edges)
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 5) as f64
        };
        let mut plain = 0;
        for _ in 0..20_000 {
            let ring: Vec<(f64, f64)> = (0..5).map(|_| (next(), next())).collect();
            let mp = MultiPolygon(vec![geo_types::Polygon::new(ring.into(), vec![])]);
            if plainly_valid(&mp) {
                plain += 1;
                assert!(
                    mp.validation_errors().is_empty(),
                    "{mp:?}: {:?}",
                    mp.validation_errors()
                );
            }
        }
        assert!(
            plain > 1_000,
            "only {plain} random rings were plainly valid"
        );
        // holes and several parts go to the full validation
        let holed = geo_types::Polygon::new(
            square(0.0, 0.0, 10.0, 10.0).0[0].exterior().clone(),
            vec![square(2.0, 2.0, 2.0, 2.0).0[0].exterior().clone()],
        );
        assert!(!plainly_valid(&MultiPolygon(vec![holed])));
        let two = MultiPolygon(vec![
            square(0.0, 0.0, 1.0, 1.0).0[0].clone(),
            square(5.0, 0.0, 1.0, 1.0).0[0].clone(),
        ]);
        assert!(!plainly_valid(&two));
    }

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
    fn concave_plots_overlap_only_where_they_do() {
        let keys: Vec<PlotKey> = (1..=4)
            .map(|i| format!("01981/1/1/{i}").parse().unwrap())
            .collect();
        // a U open to the north, a plot filling its notch exactly, one reaching
        // into both arms, and one across the notch's mouth above the U
        let u = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 300.0, y: 0.0), (x: 300.0, y: 300.0), (x: 200.0, y: 300.0),
            (x: 200.0, y: 100.0), (x: 100.0, y: 100.0), (x: 100.0, y: 300.0), (x: 0.0, y: 300.0)
        ]]);
        let notch = square(100.0, 100.0, 100.0, 200.0);
        let wide = square(90.0, 250.0, 120.0, 30.0); // 10 × 30 into each arm
        let lid = square(0.0, 300.0, 300.0, 50.0);
        let found = overlaps(
            &[
                (&keys[0], &u),
                (&keys[1], &notch),
                (&keys[2], &wide),
                (&keys[3], &lid),
            ],
            1.0,
        );
        let pairs: Vec<_> = found
            .iter()
            .map(|o| (o.a.lo().to_string(), o.b.lo().to_string(), o.area_m2))
            .collect();
        assert_eq!(pairs.len(), 2, "{pairs:?}");
        assert_eq!((pairs[0].0.as_str(), pairs[0].1.as_str()), ("1", "3"));
        assert!((pairs[0].2 - 600.0).abs() < 1e-6, "{pairs:?}");
        assert_eq!((pairs[1].0.as_str(), pairs[1].1.as_str()), ("2", "3"));
        assert!((pairs[1].2 - 3000.0).abs() < 1e-6, "{pairs:?}");
    }

    fn quick(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> bool {
        let rects = |g: &MultiPolygon<f64>| -> PartEnvelopes {
            g.0.iter().map(|p| p.bounding_rect()).collect()
        };
        // one set of buffers for every pair of a test, as in the finder
        thread_local! {
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
        }
        SCRATCH.with(|s| may_overlap((a, &rects(a)), (b, &rects(b)), &mut s.borrow_mut()))
    }

    /// A repeatable stream of whole numbers below `m`, as f64 (xorshift).
    fn xorshift(mut seed: u64) -> impl FnMut(u64) -> f64 {
        move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m) as f64
        }
    }

    #[test]
    fn the_envelope_grid_lists_exactly_the_envelopes_met() {
        // envelopes from a metre to kilometres (kept aside past 1024 cells),
        // some on cell lines, some plots without one; every query against a
        // plain scan of those added before
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut grid = EnvelopeGrid::default();
        let mut added: Vec<(usize, geo_types::Rect<f64>)> = Vec::new();
        let mut out = Vec::new();
        let (mut met, mut large) = (0, 0);
        for i in 0..2_000 {
            if i % 97 == 0 {
                continue; // an empty plot: no envelope, never listed
            }
            let size = match next(10) as u64 {
                0 => 1.0 + next(5),
                1 => 2_000.0 + next(20_000),
                _ => 50.0 + next(800),
            };
            let (x, y) = (-3_000.0 + next(6_000), 2_300_000.0 + next(6_000));
            let (x, y) = if i % 5 == 0 {
                ((x / 256.0).round() * 256.0, (y / 256.0).round() * 256.0)
            } else {
                (x, y)
            };
            let r = geo_types::Rect::new((x, y), (x + size, y + next(2) * size + 1.0));
            grid.meeting(&r, &mut out);
            let mut want: Vec<usize> = added
                .iter()
                .filter(|(_, o)| {
                    o.min().x <= r.max().x
                        && o.max().x >= r.min().x
                        && o.min().y <= r.max().y
                        && o.max().y >= r.min().y
                })
                .map(|(j, _)| *j)
                .collect();
            let mut got: Vec<usize> = out.iter().map(|(j, _)| *j).collect();
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want, "plot {i}: {r:?}");
            assert!(out
                .iter()
                .all(|(j, o)| added.iter().any(|(k, e)| k == j && e == o)));
            met += got.len();
            large += usize::from(EnvelopeGrid::span(&r).is_none());
            grid.insert(i, r);
            added.push((i, r));
        }
        assert!(met > 5_000 && large > 20, "{met} found, {large} kept aside");
    }

    #[test]
    fn the_quick_disjointness_test_never_hides_an_overlap() {
        // random pairs of rings on a small grid: many shared and touching
        // edges; a pair the quick test calls disjoint must have no overlap
        use geo::Validation;
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let (mut skipped, mut tested) = (0, 0);
        for round in 0..80_000 {
            let grid = if round < 40_000 { 4 } else { 7 };
            let mut ring = || -> MultiPolygon<f64> {
                let n = 3 + (next(4) as usize);
                let pts: Vec<(f64, f64)> = (0..n).map(|_| (next(grid), next(grid))).collect();
                MultiPolygon(vec![geo_types::Polygon::new(pts.into(), vec![])])
            };
            let (a, b) = (ring(), ring());
            if !a.validation_errors().is_empty() || !b.validation_errors().is_empty() {
                continue;
            }
            tested += 1;
            if !quick(&a, &b) {
                skipped += 1;
                let area = a.intersection(&b).unsigned_area();
                assert!(
                    area < 1e-9,
                    "{a:?} and {b:?} overlap by {area} but were skipped"
                );
            }
        }
        assert!(
            tested > 2_000 && skipped > 500,
            "tested {tested}, skipped {skipped}"
        );
        // neighbours sharing an edge, a plot inside another, the same plot twice
        let a = square(0.0, 0.0, 10.0, 10.0);
        assert!(!quick(&a, &square(10.0, 0.0, 10.0, 10.0)));
        assert!(!quick(&a, &square(10.0, 5.0, 10.0, 10.0)));
        assert!(quick(&a, &square(2.0, 2.0, 3.0, 3.0)));
        assert!(quick(&a, &a.clone()));
        // a plot filling another's hole exactly, and one reaching past it
        let holed = MultiPolygon(vec![geo_types::Polygon::new(
            a.0[0].exterior().clone(),
            vec![square(3.0, 3.0, 4.0, 4.0).0[0].exterior().clone()],
        )]);
        assert!(!quick(&holed, &square(3.0, 3.0, 4.0, 4.0)));
        assert!(!quick(&square(3.0, 3.0, 4.0, 4.0), &holed));
        assert!(quick(&holed, &square(2.0, 3.0, 4.0, 4.0)));
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
