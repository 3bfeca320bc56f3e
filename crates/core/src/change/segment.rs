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
        }
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

    /// The components, in the order of their first run (top to bottom).
    pub fn finish(mut self) -> Vec<Component> {
        let n = self.runs.len();
        let mut index = vec![u32::MAX; n];
        let mut out: Vec<Component> = Vec::new();
        for i in 0..n as u32 {
            let root = self.find(i) as usize;
            if index[root] == u32::MAX {
                index[root] = out.len() as u32;
                out.push(Component {
                    runs: vec![],
                    tally: Tally::default(),
                });
            }
            let c = &mut out[index[root] as usize];
            c.runs.push(self.runs[i as usize]);
            c.tally.merge(&self.tallies[i as usize]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn burn_wins_from_a_third() {
        let (px, w) = pixels(&["CCB"]);
        let mut s = Segmenter::changes();
        s.push(&px, w);
        assert_eq!(s.finish()[0].tally.class(), PixelClass::Burn);
    }
}
