//! Streaming connected-component labelling (8-connectivity) of the pixels a
//! predicate selects, row by row. Only runs of selected pixels are kept, so
//! memory follows the amount of change, not the raster size.

use super::detect::{PixelClass, PixelResult, NO_SCENE};

/// Per-run (and per-component) tallies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tally {
    /// Pixels.
    pub pixels: u64,
    /// Pixels per change class: degradation, clearing, burn.
    pub per_class: [u32; 3],
    /// Pixels whose change was confirmed by a later observation.
    pub confirmed: u32,
    /// Sum of NDVI drops.
    pub drop_sum: f64,
    /// Sum of dNBR over pixels where it is known, and their number.
    pub dnbr_sum: f64,
    /// Pixels with a known dNBR.
    pub dnbr_pixels: u32,
    /// Earliest scene index that showed the change.
    pub first: u8,
    /// Latest clear scene before `first` (among pixels first seen then).
    pub last_clear: u8,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            pixels: 0,
            per_class: [0; 3],
            confirmed: 0,
            drop_sum: 0.0,
            dnbr_sum: 0.0,
            dnbr_pixels: 0,
            first: NO_SCENE,
            last_clear: NO_SCENE,
        }
    }
}

impl Tally {
    pub(crate) fn add_pixel(&mut self, p: &PixelResult) {
        self.pixels += 1;
        match p.class {
            PixelClass::Degradation => self.per_class[0] += 1,
            PixelClass::Clearing => self.per_class[1] += 1,
            PixelClass::Burn => self.per_class[2] += 1,
            _ => {}
        }
        if p.seen >= 2 {
            self.confirmed += 1;
        }
        self.drop_sum += f64::from(p.drop);
        if p.dnbr.is_finite() {
            self.dnbr_sum += f64::from(p.dnbr);
            self.dnbr_pixels += 1;
        }
        self.merge_dates(p.first, p.last_clear);
    }

    /// `n` pixels of `p`: the same as adding `p` `n` times.
    pub(crate) fn add_pixels(&mut self, p: &PixelResult, n: u64) {
        if n == 1 {
            return self.add_pixel(p);
        }
        self.pixels += n;
        let k = n as u32;
        match p.class {
            PixelClass::Degradation => self.per_class[0] += k,
            PixelClass::Clearing => self.per_class[1] += k,
            PixelClass::Burn => self.per_class[2] += k,
            _ => {}
        }
        if p.seen >= 2 {
            self.confirmed += k;
        }
        // sums added one by one, so they round as they would pixel by pixel
        // (adding a zero drop changes nothing)
        if p.drop != 0.0 {
            for _ in 0..n {
                self.drop_sum += f64::from(p.drop);
            }
        }
        if p.dnbr.is_finite() {
            for _ in 0..n {
                self.dnbr_sum += f64::from(p.dnbr);
            }
            self.dnbr_pixels += k;
        }
        // (merging the same dates again changes nothing)
        self.merge_dates(p.first, p.last_clear);
    }

    fn merge_dates(&mut self, first: u8, last_clear: u8) {
        if first < self.first || self.first == NO_SCENE {
            self.first = first;
            self.last_clear = last_clear;
        } else if first == self.first
            && last_clear != NO_SCENE
            && (self.last_clear == NO_SCENE || last_clear > self.last_clear)
        {
            self.last_clear = last_clear;
        }
    }

    /// Adds another tally.
    pub fn merge(&mut self, o: &Tally) {
        self.pixels += o.pixels;
        for i in 0..3 {
            self.per_class[i] += o.per_class[i];
        }
        self.confirmed += o.confirmed;
        self.drop_sum += o.drop_sum;
        self.dnbr_sum += o.dnbr_sum;
        self.dnbr_pixels += o.dnbr_pixels;
        if o.first != NO_SCENE {
            self.merge_dates(o.first, o.last_clear);
        }
    }

    /// The class with most pixels; a burn wins once it covers a third of the
    /// component (a clearing that was burnt is reported as a burn).
    pub fn class(&self) -> PixelClass {
        let [deg, clr, burn] = self.per_class.map(u64::from);
        let changed = deg + clr + burn;
        if changed == 0 {
            PixelClass::Unobserved
        } else if burn * 3 >= changed {
            PixelClass::Burn
        } else if clr >= deg {
            PixelClass::Clearing
        } else {
            PixelClass::Degradation
        }
    }
}

/// A horizontal run of selected pixels `[x0, x1)` in `row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Run {
    /// Row.
    pub row: u32,
    /// First column.
    pub x0: u32,
    /// One past the last column.
    pub x1: u32,
}

/// A connected component: its runs (sorted by row, then column) and tallies.
#[derive(Debug, Clone)]
pub struct Component {
    /// Runs of the component.
    pub runs: Vec<Run>,
    /// Tallies over its pixels.
    pub tally: Tally,
}

/// Labels the pixels selected by a predicate, strip after strip.
#[derive(Debug)]
pub struct Segmenter {
    /// Selected classes, indexed by `PixelClass as usize`.
    select: [bool; 7],
    runs: Vec<Run>,
    tallies: Vec<Tally>,
    parent: Vec<u32>,
    prev: Vec<u32>,
    current: Vec<u32>,
    next_row: u32,
    /// Components with fewer pixels are dropped once complete.
    min_pixels: u64,
    /// Completed components kept.
    done: Vec<Component>,
    /// Runs held after the last compaction.
    compacted: usize,
}

/// A run of selected pixels `[x0, x1)` of one row, with its tallies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowRun {
    /// First column.
    pub x0: u32,
    /// One past the last column.
    pub x1: u32,
    /// Tallies over its pixels.
    pub tally: Tally,
}

/// Which pixel classes a [`Segmenter`] labels.
#[derive(Debug, Clone, Copy)]
pub struct Selection([bool; 7]);

impl Selection {
    /// Appends the runs of selected pixels of `row` to `out`, left to right.
    pub fn runs(&self, row: &[PixelResult], out: &mut Vec<RowRun>) {
        let select = &self.0;
        let mut x = 0;
        while x < row.len() {
            // Most pixels are not selected: skip them without tallying.
            match row[x..].iter().position(|p| select[p.class as usize]) {
                Some(skip) => x += skip,
                None => break,
            }
            let x0 = x;
            let mut tally = Tally::default();
            while x < row.len() && select[row[x].class as usize] {
                tally.add_pixel(&row[x]);
                x += 1;
            }
            out.push(RowRun {
                x0: x0 as u32,
                x1: x as u32,
                tally,
            });
        }
    }
}

impl Segmenter {
    /// A segmenter of change pixels.
    pub fn changes() -> Self {
        Self::new([false, false, false, true, true, true, false])
    }

    /// A segmenter of unobserved forest pixels.
    pub fn unobserved() -> Self {
        Self::new([false, false, true, false, false, false, false])
    }

    fn new(select: [bool; 7]) -> Self {
        Segmenter {
            select,
            runs: vec![],
            tallies: vec![],
            parent: vec![],
            prev: vec![],
            current: vec![],
            next_row: 0,
            min_pixels: 0,
            done: vec![],
            compacted: 0,
        }
    }

    /// Keeps only components of at least `min_pixels` pixels (the minimum
    /// mapping unit): smaller ones are dropped as soon as they are complete,
    /// so memory follows the components that matter, not every speck.
    pub fn keeping(mut self, min_pixels: u64) -> Self {
        self.min_pixels = min_pixels;
        self
    }

    /// Adds the next rows (a strip of `width`-pixel rows, in order).
    pub fn push(&mut self, strip: &[PixelResult], width: usize) {
        let mut runs = Vec::new();
        for row in strip.chunks(width.max(1)) {
            runs.clear();
            self.selection().runs(row, &mut runs);
            self.push_runs(&runs);
        }
    }

    /// The pixels this segmenter labels, to find a row's runs on another
    /// thread (see [`Selection::runs`]) before [`Segmenter::push_runs`].
    pub fn selection(&self) -> Selection {
        Selection(self.select)
    }

    /// Adds the next row, given as its runs of selected pixels (left to
    /// right, as [`Selection::runs`] finds them).
    pub fn push_runs(&mut self, row_runs: &[RowRun]) {
        let r = self.next_row;
        self.next_row += 1;
        let mut current = std::mem::take(&mut self.current);
        current.clear();
        for rr in row_runs {
            let id = self.runs.len() as u32;
            self.runs.push(Run {
                row: r,
                x0: rr.x0,
                x1: rr.x1,
            });
            self.tallies.push(rr.tally);
            self.parent.push(id);
            current.push(id);
        }
        // Join with the runs of the row above that touch, diagonals included.
        let mut j = 0;
        for &c in &current {
            let cr = self.runs[c as usize];
            while j < self.prev.len() && self.runs[self.prev[j] as usize].x1 < cr.x0 {
                j += 1;
            }
            let mut k = j;
            while k < self.prev.len() && self.runs[self.prev[k] as usize].x0 <= cr.x1 {
                self.union(c, self.prev[k]);
                k += 1;
            }
        }
        self.current = std::mem::replace(&mut self.prev, current);
        if self.runs.len() >= (2 * self.compacted).max(1 << 16) {
            self.compact(false);
        }
    }

    /// Moves the components that are complete — no run in the last row
    /// added, or all of them when `all` — out of the union-find into
    /// [`Segmenter::done`] (those of at least `min_pixels`), renumbering the
    /// runs still open. A component's runs and tallies are gathered in the
    /// order they were added, as [`Segmenter::finish`] always did.
    fn compact(&mut self, all: bool) {
        let n = self.runs.len();
        let mut open = vec![false; n];
        if !all {
            for k in 0..self.prev.len() {
                let root = self.find(self.prev[k]) as usize;
                open[root] = true;
            }
        }
        let mut new_id = vec![u32::MAX; n];
        let mut slot = vec![u32::MAX; n];
        let mut roots = vec![0u32; n];
        // Complete components: their tallies first (runs in the order they
        // came), so specks under the minimum never get a run list.
        let (mut closing, mut counts): (Vec<Tally>, Vec<u32>) = (Vec::new(), Vec::new());
        let (mut runs, mut tallies, mut parent) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            // A root is the first run of its component, so it is renumbered
            // before the component's other runs.
            let root = self.find(i as u32) as usize;
            roots[i] = root as u32;
            if open[root] {
                new_id[i] = runs.len() as u32;
                runs.push(self.runs[i]);
                tallies.push(self.tallies[i]);
                parent.push(new_id[root]);
            } else {
                if slot[root] == u32::MAX {
                    slot[root] = closing.len() as u32;
                    closing.push(Tally::default());
                    counts.push(0);
                }
                closing[slot[root] as usize].merge(&self.tallies[i]);
                counts[slot[root] as usize] += 1;
            }
        }
        let min = self.min_pixels;
        let first = self.done.len();
        let kept: Vec<u32> = closing
            .iter()
            .zip(&counts)
            .map(|(t, n)| {
                if t.pixels < min {
                    return u32::MAX;
                }
                self.done.push(Component {
                    runs: Vec::with_capacity(*n as usize),
                    tally: *t,
                });
                (self.done.len() - 1 - first) as u32
            })
            .collect();
        for (i, root) in roots.iter().enumerate() {
            let s = slot[*root as usize];
            if !open[*root as usize] && kept[s as usize] != u32::MAX {
                self.done[first + kept[s as usize] as usize]
                    .runs
                    .push(self.runs[i]);
            }
        }
        for p in &mut self.prev {
            *p = new_id[*p as usize];
        }
        (self.runs, self.tallies, self.parent) = (runs, tallies, parent);
        self.compacted = self.runs.len();
    }

    fn find(&mut self, mut a: u32) -> u32 {
        while self.parent[a as usize] != a {
            let p = self.parent[a as usize];
            self.parent[a as usize] = self.parent[p as usize];
            a = p;
        }
        a
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi as usize] = lo;
        }
    }

    /// The components (of at least the minimum kept), in the order of their
    /// first run (top to bottom, left to right).
    pub fn finish(mut self) -> Vec<Component> {
        self.compact(true);
        let mut out = self.done;
        out.sort_by_key(|c| c.runs.first().map(|r| (r.row, r.x0)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_added_at_once_equal_pixels_added_one_by_one() {
        let pxs = [
            PixelResult {
                class: PixelClass::Clearing,
                seen: 2,
                first: 1,
                last_clear: 0,
                drop: 0.37,
                dnbr: 0.21,
            },
            PixelResult {
                class: PixelClass::Degradation,
                seen: 1,
                first: 2,
                last_clear: NO_SCENE,
                drop: 0.13,
                dnbr: f32::NAN,
            },
            PixelResult {
                class: PixelClass::Unobserved,
                seen: 0,
                first: NO_SCENE,
                last_clear: 1,
                drop: 0.0,
                dnbr: f32::NAN,
            },
        ];
        for n in [1u64, 2, 7, 300] {
            let (mut bulk, mut single) = (Tally::default(), Tally::default());
            for px in &pxs {
                bulk.add_pixels(px, n);
                for _ in 0..n {
                    single.add_pixel(px);
                }
                assert_eq!(bulk, single, "{n} × {px:?}");
                assert_eq!(bulk.drop_sum.to_bits(), single.drop_sum.to_bits());
            }
        }
    }

    fn pixels(rows: &[&str]) -> (Vec<PixelResult>, usize) {
        let w = rows[0].len();
        let mut v = Vec::new();
        for r in rows {
            for ch in r.chars() {
                let class = match ch {
                    'C' => PixelClass::Clearing,
                    'D' => PixelClass::Degradation,
                    'B' => PixelClass::Burn,
                    'u' => PixelClass::Unobserved,
                    _ => PixelClass::NoChange,
                };
                v.push(PixelResult {
                    class,
                    seen: 1,
                    first: 1,
                    last_clear: 0,
                    drop: 0.4,
                    dnbr: f32::NAN,
                });
            }
        }
        (v, w)
    }

    #[test]
    fn diagonal_pixels_join_and_separate_blobs_do_not() {
        let (px, w) = pixels(&["CC...C", "..C..C", "...C..", "......", "DD..uu"]);
        let mut s = Segmenter::changes();
        // fed in two strips, as the detector does
        s.push(&px[..2 * w], w);
        s.push(&px[2 * w..], w);
        let comps = s.finish();
        let sizes: Vec<u64> = comps.iter().map(|c| c.tally.pixels).collect();
        assert_eq!(sizes, vec![4, 2, 2]);
        assert_eq!(comps[2].tally.class(), PixelClass::Degradation);
        let mut u = Segmenter::unobserved();
        u.push(&px, w);
        assert_eq!(u.finish().len(), 1);
    }

    #[test]
    fn u_shape_merges_late() {
        let (px, w) = pixels(&["C...C", "C...C", "CCCCC"]);
        let mut s = Segmenter::changes();
        s.push(&px, w);
        let comps = s.finish();
        assert_eq!(comps.len(), 1);
        assert_eq!(comps[0].tally.pixels, 9);
        assert_eq!(comps[0].runs.len(), 5);
    }

    /// Components found while streaming — completed ones moved out as rows
    /// come, small ones dropped — are those of a flood fill of the whole
    /// raster, in the order of their first pixel.
    #[test]
    fn streamed_components_equal_a_flood_fill() {
        let (w, h) = (1000usize, 500usize);
        let mut x: u64 = 99;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Blobs of various sizes over sparse speckle: > 65,536 runs, so
        // components are moved out while rows still come.
        let mut on = vec![false; w * h];
        for v in on.iter_mut() {
            *v = next() % 5 == 0;
        }
        for _ in 0..300 {
            let (cx, cy, r) = (
                next() as usize % w,
                next() as usize % h,
                1 + next() as usize % 12,
            );
            for y in cy.saturating_sub(r)..(cy + r).min(h) {
                for x in cx.saturating_sub(r)..(cx + r).min(w) {
                    on[y * w + x] = true;
                }
            }
        }
        let px: Vec<PixelResult> = on
            .iter()
            .map(|v| PixelResult {
                class: if *v {
                    PixelClass::Clearing
                } else {
                    PixelClass::NoChange
                },
                seen: 1,
                first: 1,
                last_clear: 0,
                drop: 0.4,
                dnbr: f32::NAN,
            })
            .collect();
        let runs = (0..w * h)
            .filter(|i| on[*i] && (i % w == 0 || !on[i - 1]))
            .count();
        assert!(
            runs > 70_000,
            "{runs} runs: too few to move components out mid-stream"
        );
        // Flood fill, 8-connected; components numbered by first pixel.
        let mut label = vec![u32::MAX; w * h];
        let mut sizes: Vec<u64> = Vec::new();
        for start in 0..w * h {
            if !on[start] || label[start] != u32::MAX {
                continue;
            }
            let id = sizes.len() as u32;
            let (mut stack, mut n) = (vec![start], 0u64);
            label[start] = id;
            while let Some(p) = stack.pop() {
                n += 1;
                let (px, py) = ((p % w) as i64, (p / w) as i64);
                for dy in -1..=1i64 {
                    for dx in -1..=1i64 {
                        let (qx, qy) = (px + dx, py + dy);
                        if qx < 0 || qy < 0 || qx >= w as i64 || qy >= h as i64 {
                            continue;
                        }
                        let q = qy as usize * w + qx as usize;
                        if on[q] && label[q] == u32::MAX {
                            label[q] = id;
                            stack.push(q);
                        }
                    }
                }
            }
            sizes.push(n);
        }
        for min in [0u64, 30] {
            let mut s = Segmenter::changes().keeping(min);
            for strip in px.chunks(w * 37) {
                s.push(strip, w);
            }
            let comps = s.finish();
            let expect: Vec<u64> = sizes.iter().copied().filter(|n| *n >= min).collect();
            assert!(
                sizes.len() > 10_000 && expect.len() > 100,
                "{} {}",
                sizes.len(),
                expect.len()
            );
            let got: Vec<u64> = comps.iter().map(|c| c.tally.pixels).collect();
            assert_eq!(got, expect, "component sizes with a minimum of {min}");
            for c in &comps {
                let first = c.runs[0];
                let id = label[first.row as usize * w + first.x0 as usize];
                for r in &c.runs {
                    for x in r.x0..r.x1 {
                        assert_eq!(label[r.row as usize * w + x as usize], id);
                    }
                }
                assert_eq!(
                    c.runs.iter().map(|r| u64::from(r.x1 - r.x0)).sum::<u64>(),
                    c.tally.pixels
                );
            }
        }
    }

    #[test]
    fn burn_wins_from_a_third() {
        let (px, w) = pixels(&["CCB"]);
        let mut s = Segmenter::changes();
        s.push(&px, w);
        assert_eq!(s.finish()[0].tally.class(), PixelClass::Burn);
    }
}
