//! The geometric layout of a synthetic commune: a jittered lattice of cells
//! with wiggly shared edges, a commune mask, zones, compartments, and plots as
//! groups of cells.

use std::collections::{HashMap, VecDeque};

use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Lattice spacing, m.
const S: f64 = 165.0;
/// Lattice size in cells.
const NX: usize = 92;
const NY: usize = 98;
/// Centre of Vĩnh Thông in EPSG:9213 (22.235 N 105.956 E through EPSG:6960).
pub const CENTRE: Coord<f64> = Coord {
    x: 443_728.133,
    y: 2_459_786.638,
};
/// Half-axes of the commune outline before scaling, m.
const RX: f64 = 5_900.0;
const RY: f64 = 6_400.0;

/// Land zone of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The river.
    Water,
    /// Valley floor: fields and villages.
    Lowland,
    /// Hills: forest and plantations.
    Hill,
}

/// A plot as a group of cells.
#[derive(Debug, Clone)]
pub struct PlotCells {
    /// Cell indices.
    pub cells: Vec<usize>,
    /// Zone of its cells.
    pub zone: Zone,
    /// Compartment number.
    pub tk: u32,
    /// Sub-compartment number within the compartment.
    pub khoanh: u32,
    /// Plot number within the sub-compartment.
    pub lo: u32,
    /// Mean elevation-like field value of its cells, 0–1.
    pub height: f64,
    /// Mean of a second smooth field, 0–1 (used to vary plantations).
    pub mix: f64,
    /// Centre of its cells.
    pub centre: Coord<f64>,
}

/// An edge of the lattice between two cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Edge {
    /// Horizontal edge from vertex (i, j) to (i + 1, j).
    H(usize, usize),
    /// Vertical edge from vertex (i, j) to (i, j + 1).
    V(usize, usize),
}

/// The layout of one commune.
#[derive(Debug, Clone)]
pub struct Layout {
    verts: Vec<Coord<f64>>,
    hmid: Vec<[Coord<f64>; 2]>,
    vmid: Vec<[Coord<f64>; 2]>,
    inside: Vec<bool>,
    cell_plot: Vec<usize>,
    /// The plots, ordered by (tk, khoanh, lo).
    pub plots: Vec<PlotCells>,
}

const NONE: usize = usize::MAX;

fn vid(i: usize, j: usize) -> usize {
    j * (NX + 1) + i
}
fn cid(i: usize, j: usize) -> usize {
    j * NX + i
}
fn hid(i: usize, j: usize) -> usize {
    j * NX + i
}
fn vvid(i: usize, j: usize) -> usize {
    j * (NX + 1) + i
}

/// Smooth value noise on a coarse lattice, 0–1.
struct Noise {
    step: f64,
    w: usize,
    v: Vec<f64>,
}

impl Noise {
    fn new(rng: &mut ChaCha8Rng, step: f64) -> Self {
        let w = (NX.max(NY) as f64 / step).ceil() as usize + 2;
        Noise {
            step,
            w,
            v: (0..w * w).map(|_| rng.gen::<f64>()).collect(),
        }
    }
    fn at(&self, i: f64, j: f64) -> f64 {
        let (x, y) = (i / self.step, j / self.step);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let s = |t: f64| t * t * (3.0 - 2.0 * t);
        let (fx, fy) = (s(x - x0 as f64), s(y - y0 as f64));
        let g = |a: usize, b: usize| self.v[b * self.w + a];
        let top = g(x0, y0) * (1.0 - fx) + g(x0 + 1, y0) * fx;
        let bot = g(x0, y0 + 1) * (1.0 - fx) + g(x0 + 1, y0 + 1) * fx;
        top * (1.0 - fy) + bot * fy
    }
}

impl Layout {
    /// Builds the layout for a seed, shifted by `offset` metres from Vĩnh Thông's centre.
    pub fn build(seed: u64, offset: (f64, f64)) -> Layout {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let origin = Coord {
            x: CENTRE.x - NX as f64 * S / 2.0,
            y: CENTRE.y - NY as f64 * S / 2.0,
        };
        let mut verts = Vec::with_capacity((NX + 1) * (NY + 1));
        for j in 0..=NY {
            for i in 0..=NX {
                let jx = rng.gen_range(-0.24..0.24) * S;
                let jy = rng.gen_range(-0.24..0.24) * S;
                verts.push(Coord {
                    x: origin.x + i as f64 * S + jx,
                    y: origin.y + j as f64 * S + jy,
                });
            }
        }
        let wiggle = |a: Coord<f64>, b: Coord<f64>, rng: &mut ChaCha8Rng| -> [Coord<f64>; 2] {
            let d = b - a;
            let len = (d.x * d.x + d.y * d.y).sqrt();
            let n = Coord {
                x: -d.y / len,
                y: d.x / len,
            };
            let o1 = rng.gen_range(-0.07..0.07) * S;
            let o2 = rng.gen_range(-0.07..0.07) * S;
            [a + d * (1.0 / 3.0) + n * o1, a + d * (2.0 / 3.0) + n * o2]
        };
        let mut hmid = Vec::with_capacity(NX * (NY + 1));
        for j in 0..=NY {
            for i in 0..NX {
                hmid.push(wiggle(verts[vid(i, j)], verts[vid(i + 1, j)], &mut rng));
            }
        }
        let mut vmid = Vec::with_capacity((NX + 1) * NY);
        for j in 0..NY {
            for i in 0..=NX {
                vmid.push(wiggle(verts[vid(i, j)], verts[vid(i, j + 1)], &mut rng));
            }
        }

        let mut layout = Layout {
            verts,
            hmid,
            vmid,
            inside: vec![false; NX * NY],
            cell_plot: vec![NONE; NX * NY],
            plots: vec![],
        };
        layout.make_mask(&mut rng);
        let zones = layout.zones(&mut rng);
        let (tk, khoanh) = layout.compartments(&mut rng);
        layout.group_plots(&mut rng, &zones, &tk, &khoanh);
        layout.scale_to(crate::figures::NATURAL_AREA_HA * 10_000.0);
        layout.shift(offset);
        layout
    }

    fn cell_centre(&self, c: usize) -> Coord<f64> {
        let (i, j) = (c % NX, c / NX);
        let p = [
            self.verts[vid(i, j)],
            self.verts[vid(i + 1, j)],
            self.verts[vid(i + 1, j + 1)],
            self.verts[vid(i, j + 1)],
        ];
        Coord {
            x: p.iter().map(|c| c.x).sum::<f64>() / 4.0,
            y: p.iter().map(|c| c.y).sum::<f64>() / 4.0,
        }
    }

    fn neighbours(c: usize) -> impl Iterator<Item = usize> {
        let (i, j) = (c % NX, c / NX);
        let mut n = Vec::with_capacity(4);
        if i > 0 {
            n.push(cid(i - 1, j));
        }
        if i + 1 < NX {
            n.push(cid(i + 1, j));
        }
        if j > 0 {
            n.push(cid(i, j - 1));
        }
        if j + 1 < NY {
            n.push(cid(i, j + 1));
        }
        n.into_iter()
    }

    /// A star-shaped irregular outline, cleaned so it is one piece with no
    /// holes and no cells touching only at a corner.
    fn make_mask(&mut self, rng: &mut ChaCha8Rng) {
        let ph: Vec<f64> = (0..4)
            .map(|_| rng.gen_range(0.0..std::f64::consts::TAU))
            .collect();
        for c in 0..NX * NY {
            let (i, j) = (c % NX, c / NX);
            if i < 2 || j < 2 || i + 2 >= NX || j + 2 >= NY {
                continue;
            }
            let p = self.cell_centre(c) - CENTRE;
            let th = p.y.atan2(p.x);
            let r = ((p.x / RX).powi(2) + (p.y / RY).powi(2)).sqrt();
            let edge = 1.0
                + 0.07 * (3.0 * th + ph[0]).sin()
                + 0.05 * (5.0 * th + ph[1]).sin()
                + 0.03 * (9.0 * th + ph[2]).sin()
                + 0.02 * (14.0 * th + ph[3]).sin();
            self.inside[c] = r < edge;
        }
        loop {
            let mut changed = false;
            // corner-only contacts
            for j in 0..NY - 1 {
                for i in 0..NX - 1 {
                    let (a, b, c, d) = (cid(i, j), cid(i + 1, j), cid(i, j + 1), cid(i + 1, j + 1));
                    let m = &mut self.inside;
                    if m[a] && m[d] && !m[b] && !m[c] {
                        m[b] = true;
                        changed = true;
                    } else if m[b] && m[c] && !m[a] && !m[d] {
                        m[a] = true;
                        changed = true;
                    }
                }
            }
            // holes: cells not reachable from the lattice border through outside cells
            let mut outside = vec![false; NX * NY];
            let mut q: VecDeque<usize> = (0..NX * NY)
                .filter(|&c| {
                    let (i, j) = (c % NX, c / NX);
                    (i == 0 || j == 0 || i == NX - 1 || j == NY - 1) && !self.inside[c]
                })
                .collect();
            for &c in &q {
                outside[c] = true;
            }
            while let Some(c) = q.pop_front() {
                for n in Self::neighbours(c) {
                    if !self.inside[n] && !outside[n] {
                        outside[n] = true;
                        q.push_back(n);
                    }
                }
            }
            for (inside, out) in self.inside.iter_mut().zip(&outside) {
                if !*inside && !*out {
                    *inside = true;
                    changed = true;
                }
            }
            // keep the largest piece
            let comps = self.components(|l, c| l.inside[c]);
            if comps.len() > 1 {
                let largest = comps
                    .iter()
                    .max_by_key(|c| c.len())
                    .cloned()
                    .unwrap_or_default();
                for comp in comps
                    .iter()
                    .filter(|c| c.len() != largest.len() || c[0] != largest[0])
                {
                    for &c in comp {
                        self.inside[c] = false;
                    }
                }
                changed = true;
            }
            if !changed {
                break;
            }
        }
    }

    fn components(&self, member: impl Fn(&Layout, usize) -> bool) -> Vec<Vec<usize>> {
        let mut seen = vec![false; NX * NY];
        let mut out = Vec::new();
        for start in 0..NX * NY {
            if seen[start] || !member(self, start) {
                continue;
            }
            let mut comp = vec![start];
            seen[start] = true;
            let mut k = 0;
            while k < comp.len() {
                for n in Self::neighbours(comp[k]) {
                    if !seen[n] && member(self, n) {
                        seen[n] = true;
                        comp.push(n);
                    }
                }
                k += 1;
            }
            out.push(comp);
        }
        out
    }

    /// Water along a sinuous river, lowland in valleys near it, hills elsewhere.
    fn zones(&self, rng: &mut ChaCha8Rng) -> Vec<(Zone, f64, f64)> {
        let hn = Noise::new(rng, 11.0);
        let hn2 = Noise::new(rng, 4.0);
        let mn = Noise::new(rng, 7.0);
        let (p1, p2) = (
            rng.gen_range(0.0..std::f64::consts::TAU),
            rng.gen_range(0.0..std::f64::consts::TAU),
        );
        let river_x = |y: f64| {
            let t = y - CENTRE.y;
            CENTRE.x - 900.0
                + 1_600.0 * (t / 9_000.0 * std::f64::consts::TAU + p1).sin()
                + 450.0 * (t / 2_700.0 * std::f64::consts::TAU + p2).sin()
        };
        let mut out = Vec::with_capacity(NX * NY);
        for c in 0..NX * NY {
            let (i, j) = ((c % NX) as f64, (c / NX) as f64);
            let p = self.cell_centre(c);
            let d = (p.x - river_x(p.y)).abs();
            let height =
                (0.75 * hn.at(i, j) + 0.25 * hn2.at(i, j)) * (0.35 + 0.65 * (d / 2_600.0).min(1.0));
            let zone = if d < S * 0.5 {
                Zone::Water
            } else if height < 0.17 {
                Zone::Lowland
            } else {
                Zone::Hill
            };
            out.push((zone, height, mn.at(i, j)));
        }
        out
    }

    /// Compartments and sub-compartments from nearest seeds.
    fn compartments(&self, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        let cells: Vec<usize> = (0..NX * NY).filter(|&c| self.inside[c]).collect();
        let centres: Vec<Coord<f64>> = (0..NX * NY).map(|c| self.cell_centre(c)).collect();
        let seeds = |rng: &mut ChaCha8Rng, spacing: f64, within: &[usize]| -> Vec<Coord<f64>> {
            let (mut minx, mut miny, mut maxx, mut maxy) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for &c in within {
                let p = centres[c];
                minx = minx.min(p.x);
                miny = miny.min(p.y);
                maxx = maxx.max(p.x);
                maxy = maxy.max(p.y);
            }
            let mut s = Vec::new();
            let mut y = miny + spacing / 2.0;
            while y < maxy + spacing / 2.0 {
                let mut x = minx + spacing / 2.0;
                while x < maxx + spacing / 2.0 {
                    s.push(Coord {
                        x: x + rng.gen_range(-0.35..0.35) * spacing,
                        y: y + rng.gen_range(-0.35..0.35) * spacing,
                    });
                    x += spacing;
                }
                y += spacing;
            }
            s
        };
        let assign = |seeds: &[Coord<f64>], within: &[usize], min_cells: usize| -> Vec<usize> {
            let mut alive: Vec<bool> = vec![true; seeds.len()];
            loop {
                let owner: Vec<usize> = within
                    .iter()
                    .map(|&c| {
                        let p = centres[c];
                        (0..seeds.len())
                            .filter(|&k| alive[k])
                            .min_by(|&a, &b| {
                                let da = (seeds[a] - p).x.hypot((seeds[a] - p).y);
                                let db = (seeds[b] - p).x.hypot((seeds[b] - p).y);
                                da.total_cmp(&db)
                            })
                            .unwrap_or(0)
                    })
                    .collect();
                let mut count = vec![0usize; seeds.len()];
                for &o in &owner {
                    count[o] += 1;
                }
                let small: Vec<usize> = (0..seeds.len())
                    .filter(|&k| alive[k] && count[k] < min_cells)
                    .collect();
                let alive_n = alive.iter().filter(|a| **a).count();
                if small.is_empty() || alive_n <= 1 {
                    return owner;
                }
                // drop the smallest seed and try again
                let k = *small.iter().min_by_key(|&&k| count[k]).unwrap_or(&small[0]);
                alive[k] = false;
            }
        };
        // order seeds north to south, west to east, for numbering
        let rank = |pts: &[Coord<f64>], used: &[usize]| -> HashMap<usize, u32> {
            let mut ids: Vec<usize> = used.to_vec();
            ids.sort_unstable();
            ids.dedup();
            ids.sort_by(|&a, &b| {
                let (pa, pb) = (pts[a], pts[b]);
                ((-pa.y / 1_500.0).round())
                    .total_cmp(&(-pb.y / 1_500.0).round())
                    .then(pa.x.total_cmp(&pb.x))
            });
            ids.into_iter()
                .enumerate()
                .map(|(n, k)| (k, n as u32))
                .collect()
        };
        let tk_seeds = seeds(rng, 3_300.0, &cells);
        let tk_owner = assign(&tk_seeds, &cells, 120);
        let tk_rank = rank(&tk_seeds, &tk_owner);
        let mut tk = vec![0u32; NX * NY];
        let mut khoanh = vec![0u32; NX * NY];
        let mut by_tk: HashMap<usize, Vec<usize>> = HashMap::new();
        for (n, &c) in cells.iter().enumerate() {
            tk[c] = 286 + tk_rank[&tk_owner[n]];
            by_tk.entry(tk_owner[n]).or_default().push(c);
        }
        let mut keys: Vec<usize> = by_tk.keys().copied().collect();
        keys.sort_unstable();
        for k in keys {
            let members = &by_tk[&k];
            let ks = seeds(rng, 950.0, members);
            let owner = assign(&ks, members, 10);
            let kr = rank(&ks, &owner);
            for (n, &c) in members.iter().enumerate() {
                khoanh[c] = 1 + kr[&owner[n]];
            }
        }
        (tk, khoanh)
    }

    fn group_plots(
        &mut self,
        rng: &mut ChaCha8Rng,
        zones: &[(Zone, f64, f64)],
        tk: &[u32],
        khoanh: &[u32],
    ) {
        let mut order: Vec<usize> = (0..NX * NY).filter(|&c| self.inside[c]).collect();
        order.shuffle(rng);
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &start in &order {
            if self.cell_plot[start] != NONE {
                continue;
            }
            let zone = zones[start].0;
            let weights: &[u32] = match zone {
                Zone::Hill => &[10, 18, 24, 22, 16, 10],
                Zone::Lowland => &[30, 40, 20, 10],
                Zone::Water => &[10, 20, 30, 40],
            };
            let total: u32 = weights.iter().sum();
            let mut pick = rng.gen_range(0..total);
            let mut size = 1;
            for (k, w) in weights.iter().enumerate() {
                if pick < *w {
                    size = k + 1;
                    break;
                }
                pick -= w;
            }
            let id = groups.len();
            let mut cells = vec![start];
            self.cell_plot[start] = id;
            while cells.len() < size {
                let mut cand: Vec<usize> = cells
                    .iter()
                    .flat_map(|&c| Self::neighbours(c))
                    .filter(|&n| {
                        self.inside[n]
                            && self.cell_plot[n] == NONE
                            && zones[n].0 == zone
                            && tk[n] == tk[start]
                            && khoanh[n] == khoanh[start]
                    })
                    .collect();
                cand.sort_unstable();
                cand.dedup();
                let Some(&next) = cand.choose(rng) else { break };
                self.cell_plot[next] = id;
                cells.push(next);
            }
            groups.push(cells);
        }
        let mut plots: Vec<PlotCells> = groups
            .into_iter()
            .map(|cells| {
                let n = cells.len() as f64;
                let centre = cells.iter().fold(Coord { x: 0.0, y: 0.0 }, |acc, &c| {
                    acc + self.cell_centre(c)
                }) / n;
                PlotCells {
                    zone: zones[cells[0]].0,
                    tk: tk[cells[0]],
                    khoanh: khoanh[cells[0]],
                    lo: 0,
                    height: cells.iter().map(|&c| zones[c].1).sum::<f64>() / n,
                    mix: cells.iter().map(|&c| zones[c].2).sum::<f64>() / n,
                    centre,
                    cells,
                }
            })
            .collect();
        plots.sort_by(|a, b| {
            (a.tk, a.khoanh)
                .cmp(&(b.tk, b.khoanh))
                .then(((-a.centre.y / 300.0).round()).total_cmp(&(-b.centre.y / 300.0).round()))
                .then(a.centre.x.total_cmp(&b.centre.x))
        });
        let mut last = (0, 0);
        let mut lo = 0;
        for p in &mut plots {
            if (p.tk, p.khoanh) != last {
                last = (p.tk, p.khoanh);
                lo = 0;
            }
            lo += 1;
            p.lo = lo;
        }
        for (id, p) in plots.iter().enumerate() {
            for &c in &p.cells {
                self.cell_plot[c] = id;
            }
        }
        self.plots = plots;
    }

    fn map_points(&mut self, f: impl Fn(Coord<f64>) -> Coord<f64>) {
        for v in &mut self.verts {
            *v = f(*v);
        }
        for m in self.hmid.iter_mut().chain(self.vmid.iter_mut()) {
            m[0] = f(m[0]);
            m[1] = f(m[1]);
        }
        for p in &mut self.plots {
            p.centre = f(p.centre);
        }
    }

    /// Scales the layout about the centre so the commune covers `area_m2`.
    fn scale_to(&mut self, area_m2: f64) {
        let now: f64 = (0..self.plots.len()).map(|p| self.plot_area_m2(p)).sum();
        let k = (area_m2 / now).sqrt();
        self.map_points(|p| CENTRE + (p - CENTRE) * k);
    }

    fn shift(&mut self, (dx, dy): (f64, f64)) {
        if dx != 0.0 || dy != 0.0 {
            self.map_points(|p| Coord {
                x: p.x + dx,
                y: p.y + dy,
            });
        }
    }

    /// The directed sides of a set of cells that face cells outside the set,
    /// keyed by start vertex: (end vertex, the two points between).
    fn outer_sides(
        &self,
        member: impl Fn(usize) -> bool,
        cells: &[usize],
    ) -> HashMap<usize, (usize, [Coord<f64>; 2])> {
        let mut sides = HashMap::with_capacity(cells.len() * 4);
        for &c in cells {
            let (i, j) = (c % NX, c / NX);
            let out = |ni: isize, nj: isize| {
                ni < 0
                    || nj < 0
                    || ni >= NX as isize
                    || nj >= NY as isize
                    || !member(cid(ni as usize, nj as usize))
            };
            let (ii, jj) = (i as isize, j as isize);
            if out(ii, jj - 1) {
                sides.insert(vid(i, j), (vid(i + 1, j), self.hmid[hid(i, j)]));
            }
            if out(ii + 1, jj) {
                sides.insert(
                    vid(i + 1, j),
                    (vid(i + 1, j + 1), self.vmid[vvid(i + 1, j)]),
                );
            }
            if out(ii, jj + 1) {
                let m = self.hmid[hid(i, j + 1)];
                sides.insert(vid(i + 1, j + 1), (vid(i, j + 1), [m[1], m[0]]));
            }
            if out(ii - 1, jj) {
                let m = self.vmid[vvid(i, j)];
                sides.insert(vid(i, j + 1), (vid(i, j), [m[1], m[0]]));
            }
        }
        sides
    }

    fn rings(&self, mut sides: HashMap<usize, (usize, [Coord<f64>; 2])>) -> Vec<LineString<f64>> {
        let mut rings = Vec::new();
        let mut starts: Vec<usize> = sides.keys().copied().collect();
        starts.sort_unstable();
        for s in starts {
            if !sides.contains_key(&s) {
                continue;
            }
            let mut ring = Vec::new();
            let mut at = s;
            while let Some((next, mid)) = sides.remove(&at) {
                ring.push(self.verts[at]);
                ring.push(mid[0]);
                ring.push(mid[1]);
                at = next;
            }
            ring.push(self.verts[s]);
            rings.push(LineString::from(ring));
        }
        rings
    }

    /// Outline of a plot in EPSG:9213 (counter-clockwise, closed).
    pub fn plot_polygon(&self, p: usize) -> Polygon<f64> {
        let sides = self.outer_sides(|c| self.cell_plot[c] == p, &self.plots[p].cells);
        let mut rings = self.rings(sides);
        debug_assert_eq!(rings.len(), 1, "a plot of at most six cells is one ring");
        Polygon::new(rings.swap_remove(0), vec![])
    }

    /// Planar area of a plot, m².
    pub fn plot_area_m2(&self, p: usize) -> f64 {
        use geo::Area;
        self.plot_polygon(p).unsigned_area()
    }

    /// Outline of the whole commune.
    pub fn boundary(&self) -> MultiPolygon<f64> {
        let cells: Vec<usize> = (0..NX * NY).filter(|&c| self.inside[c]).collect();
        let sides = self.outer_sides(|c| self.inside[c], &cells);
        MultiPolygon(
            self.rings(sides)
                .into_iter()
                .map(|r| Polygon::new(r, vec![]))
                .collect(),
        )
    }

    /// Edges shared by two different plots: (edge, plot on its left, plot on its right).
    pub fn shared_edges(&self) -> Vec<(Edge, usize, usize)> {
        let mut out = Vec::new();
        for j in 1..NY {
            for i in 0..NX {
                let (a, b) = (self.cell_plot[cid(i, j)], self.cell_plot[cid(i, j - 1)]);
                if a != NONE && b != NONE && a != b {
                    out.push((Edge::H(i, j), a, b));
                }
            }
        }
        for j in 0..NY {
            for i in 1..NX {
                let (a, b) = (self.cell_plot[cid(i - 1, j)], self.cell_plot[cid(i, j)]);
                if a != NONE && b != NONE && a != b {
                    out.push((Edge::V(i, j), a, b));
                }
            }
        }
        out
    }

    /// How much area (m²) the left plot of an edge gains per metre that the
    /// edge's first inner point moves along the best direction.
    pub fn edge_leverage(&self, e: Edge) -> f64 {
        let (a, _, p2) = self.edge_points(e);
        0.5 * (p2 - a).x.hypot((p2 - a).y)
    }

    fn edge_points(&self, e: Edge) -> (Coord<f64>, Coord<f64>, Coord<f64>) {
        match e {
            Edge::H(i, j) => {
                let m = self.hmid[hid(i, j)];
                (self.verts[vid(i, j)], m[0], m[1])
            }
            Edge::V(i, j) => {
                let m = self.vmid[vvid(i, j)];
                (self.verts[vid(i, j)], m[0], m[1])
            }
        }
    }

    /// Moves the first inner point of a shared edge so that the plot on its
    /// left gains `delta_m2` and the plot on its right loses as much; returns
    /// the distance moved, m. Total area is unchanged.
    pub fn nudge(&mut self, e: Edge, delta_m2: f64) -> f64 {
        let (a, _, p2) = self.edge_points(e);
        // d(area of the left plot)/d(p1) for a counter-clockwise ring a → p1 → p2.
        let g = Coord {
            x: 0.5 * (p2.y - a.y),
            y: 0.5 * (a.x - p2.x),
        };
        let g2 = g.x * g.x + g.y * g.y;
        let d = g * (delta_m2 / g2);
        let slot = match e {
            Edge::H(i, j) => &mut self.hmid[hid(i, j)][0],
            Edge::V(i, j) => &mut self.vmid[vvid(i, j)][0],
        };
        *slot = *slot + d;
        d.x.hypot(d.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Validation};

    #[test]
    fn plots_tile_the_commune_exactly() {
        let l = Layout::build(7, (0.0, 0.0));
        assert!(
            (1_500..=3_000).contains(&l.plots.len()),
            "{} plots",
            l.plots.len()
        );
        let total: f64 = (0..l.plots.len()).map(|p| l.plot_area_m2(p)).sum();
        let boundary = l.boundary();
        assert_eq!(boundary.0.len(), 1);
        assert!(
            (boundary.unsigned_area() - total).abs() < 1e-3,
            "plots cover the boundary"
        );
        assert!((total / 1e4 - crate::figures::NATURAL_AREA_HA).abs() < 1e-6);
        for p in 0..l.plots.len() {
            assert!(l.plot_polygon(p).is_valid(), "plot {p} is a valid polygon");
        }
    }

    #[test]
    fn nudge_moves_area_between_neighbours() {
        let mut l = Layout::build(7, (0.0, 0.0));
        let (e, left, right) = l.shared_edges()[100];
        let (a0, b0) = (l.plot_area_m2(left), l.plot_area_m2(right));
        l.nudge(e, 37.5);
        assert!((l.plot_area_m2(left) - a0 - 37.5).abs() < 1e-6);
        assert!((b0 - l.plot_area_m2(right) - 37.5).abs() < 1e-6);
    }
}
