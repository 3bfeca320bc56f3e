//! Per-pixel change classification over a time series of clear observations.
//!
//! Each scene contributes, per pixel, NDVI and NBR (`NaN` where cloud, shadow
//! or nodata hid the ground). Scenes dated before the monitoring period form
//! the baseline (median of the clear ones). Each later clear observation is
//! corrected for the scene-wide seasonal offset (the median change over
//! forest, estimated by [`OffsetEstimator`]) and compared with the baseline:
//!
//! * **burn**: dNBR ≥ `burn_dnbr` and the corrected NBR ≤ `burn_max_nbr`
//!   (charred ground reflects more SWIR than NIR);
//! * **clearing**: NDVI drop ≥ `clearing_drop`;
//! * **degradation**: NDVI drop ≥ `degradation_drop`, reported only when it
//!   persists over `degradation_min_obs` clear observations.
//!
//! A change seen once is **low** confidence; a later clear observation that
//! still shows it makes it **high**; a later clear observation that shows
//! the forest intact withdraws it (as GLAD and RADD do). A forest pixel with
//! no clear baseline or no clear observation in the monitoring period is
//! **unobserved**, never "no change".

use rayon::prelude::*;

use super::segment::{RowRun, Tally};
use super::simd::{widest, Wide};
use serde::{Deserialize, Serialize};

/// Thresholds and windows of the detector. The defaults are documented in
/// `README.md` (section "Change detection") and can be set in `forest.toml`
/// under `[detect]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// NDVI drop that marks a clearing (default 0.30).
    pub clearing_drop: f32,
    /// NDVI drop that marks degradation (default 0.10).
    pub degradation_drop: f32,
    /// Clear observations a degradation must persist over (default 2).
    pub degradation_min_obs: u8,
    /// dNBR of a burn (default 0.44, "moderate-high severity").
    pub burn_dnbr: f32,
    /// Largest corrected NBR after a burn (default −0.10: charred ground;
    /// bare soil after a clearing stays near 0).
    pub burn_max_nbr: f32,
    /// Baseline NDVI above which a pixel no plot covers counts as forest
    /// (default 0.60).
    pub forest_ndvi: f32,
    /// Minimum mapping unit in hectares (default 0.3, the legal forest minimum).
    pub min_area_ha: f64,
    /// Days before the monitoring period whose scenes form the baseline
    /// (default 365).
    pub baseline_days: i64,
    /// Analysis pixel size in metres (default 10, Sentinel-2's red/NIR).
    pub pixel_size: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            clearing_drop: 0.30,
            degradation_drop: 0.10,
            degradation_min_obs: 2,
            burn_dnbr: 0.44,
            burn_max_nbr: -0.10,
            forest_ndvi: 0.60,
            min_area_ha: 0.3,
            baseline_days: 365,
            pixel_size: 10.0,
        }
    }
}

impl Params {
    /// Checks that the thresholds make sense together.
    pub fn validate(&self) -> Result<(), String> {
        let in_01 = |v: f32| (0.0..=2.0).contains(&v);
        if !(in_01(self.clearing_drop) && in_01(self.degradation_drop) && in_01(self.burn_dnbr)) {
            return Err(
                "detect: clearing_drop, degradation_drop and burn_dnbr must be between 0 and 2"
                    .into(),
            );
        }
        if self.degradation_drop >= self.clearing_drop {
            return Err(format!(
                "detect: degradation_drop ({}) must be smaller than clearing_drop ({})",
                self.degradation_drop, self.clearing_drop
            ));
        }
        if self.degradation_min_obs == 0 {
            return Err("detect: degradation_min_obs must be at least 1".into());
        }
        if !(self.min_area_ha >= 0.0 && self.min_area_ha.is_finite()) {
            return Err("detect: min_area_ha must be a non-negative number of hectares".into());
        }
        if !(self.pixel_size > 0.0 && self.pixel_size <= 1000.0) {
            return Err("detect: pixel_size must be between 0 and 1000 metres".into());
        }
        if self.baseline_days < 1 {
            return Err("detect: baseline_days must be at least 1".into());
        }
        Ok(())
    }
}

/// What the plot layer says about a pixel before any observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Prior {
    /// Covered by a plot that is not forest.
    NonForest = 0,
    /// Covered by a forest plot.
    Forest = 1,
    /// No plot covers it: the baseline NDVI decides.
    Unknown = 2,
}

/// The outcome for one pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum PixelClass {
    /// Not forest at baseline: not analysed.
    NotForest = 0,
    /// Forest, observed, no change.
    NoChange = 1,
    /// Forest that no clear observation covers.
    Unobserved = 2,
    /// Moderate drop that persisted.
    Degradation = 3,
    /// Strong drop.
    Clearing = 4,
    /// High dNBR with charred signature.
    Burn = 5,
    /// An active fire seen by a thermal hotspot (not a pixel class of the
    /// detector; used by fire alerts).
    Fire = 6,
}

impl PixelClass {
    /// Whether the pixel is a change.
    pub fn is_change(self) -> bool {
        matches!(
            self,
            PixelClass::Degradation | PixelClass::Clearing | PixelClass::Burn
        )
    }

    /// Name used in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PixelClass::NotForest => "not_forest",
            PixelClass::NoChange => "no_change",
            PixelClass::Unobserved => "unobserved",
            PixelClass::Degradation => "degradation",
            PixelClass::Clearing => "clearing",
            PixelClass::Burn => "burn",
            PixelClass::Fire => "fire",
        }
    }
}

/// Confidence of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Seen in one clear observation.
    Low,
    /// Confirmed by a later clear observation.
    High,
}

impl Confidence {
    /// Name used in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::High => "high",
        }
    }
}

/// Index of "no scene" in [`PixelResult::first`] and [`PixelResult::last_clear`].
pub const NO_SCENE: u8 = u8::MAX;

/// Result for one pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelResult {
    /// Class.
    pub class: PixelClass,
    /// Clear observations that showed the change (0 when no change).
    pub seen: u8,
    /// Scene index of the first observation of the change, or [`NO_SCENE`].
    pub first: u8,
    /// Scene index of the last clear observation before the change, or [`NO_SCENE`].
    pub last_clear: u8,
    /// Largest corrected NDVI drop.
    pub drop: f32,
    /// Largest corrected dNBR (`NaN` without SWIR).
    pub dnbr: f32,
}

impl PixelResult {
    const fn of(class: PixelClass) -> Self {
        PixelResult {
            class,
            seen: 0,
            first: NO_SCENE,
            last_clear: NO_SCENE,
            drop: 0.0,
            dnbr: f32::NAN,
        }
    }

    /// Confidence of a change pixel.
    pub fn confidence(&self) -> Confidence {
        if self.seen >= 2 {
            Confidence::High
        } else {
            Confidence::Low
        }
    }
}

/// Per-scene index values over one strip of the grid: `ndvi[scene][pixel]`.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// NDVI per scene (NaN where not clear).
    pub ndvi: &'a [Vec<f32>],
    /// NBR per scene (NaN where not clear or without SWIR).
    pub nbr: &'a [Vec<f32>],
}

/// The change detector for one run: the parameters, how many of the
/// date-sorted scenes form the baseline, and the seasonal offsets.
#[derive(Debug, Clone)]
pub struct Detector {
    params: Params,
    baseline: usize,
    scenes: usize,
    offsets: Vec<(f32, f32)>,
}

impl Detector {
    /// A detector over `scenes` date-sorted scenes, the first `baseline` of
    /// which form the baseline. `offsets` are the per-scene seasonal offsets
    /// of NDVI and NBR (see [`OffsetEstimator`]); empty means none.
    pub fn new(params: Params, scenes: usize, baseline: usize, offsets: Vec<(f32, f32)>) -> Self {
        let offsets = if offsets.len() == scenes {
            offsets
        } else {
            vec![(0.0, 0.0); scenes]
        };
        Detector {
            params,
            baseline: baseline.min(scenes),
            scenes,
            offsets,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Classifies every pixel of a strip, in parallel over rows of `width`.
    pub fn classify(
        &self,
        series: Series<'_>,
        prior: &[Prior],
        width: usize,
        out: &mut [PixelResult],
    ) {
        assert_eq!(series.ndvi.len(), self.scenes, "one NDVI layer per scene");
        let width = width.max(1);
        out.par_chunks_mut(width)
            .enumerate()
            .for_each(|(row, chunk)| {
                // Small fixed buffers for the baseline median: most runs have a
                // handful of baseline scenes.
                let start = row * width;
                match self.baseline {
                    0..=4 => self.classify_into::<4>(series, prior, start, chunk),
                    5..=16 => self.classify_into::<16>(series, prior, start, chunk),
                    _ => self.classify_into::<64>(series, prior, start, chunk),
                }
            });
    }

    fn classify_into<const N: usize>(
        &self,
        series: Series<'_>,
        prior: &[Prior],
        start: usize,
        out: &mut [PixelResult],
    ) {
        for (i, px) in out.iter_mut().enumerate() {
            *px = self.classify_pixel::<N>(series, prior[start + i], start + i);
        }
    }

    /// Classifies the `len` pixels from `start` of a strip (one row) and
    /// reduces them on the spot, without keeping per-pixel results, into
    /// `out` (which it clears first).
    pub fn classify_row_runs(
        &self,
        series: Series<'_>,
        prior: &[Prior],
        start: usize,
        len: usize,
        out: &mut RowRuns,
    ) {
        out.changes.clear();
        out.unobserved.clear();
        out.pixels = [0; 7];
        struct Op<'a> {
            detector: &'a Detector,
            series: Series<'a>,
            prior: &'a [Prior],
            at: (usize, usize),
            out: &'a mut RowRuns,
            scratch: &'a mut QuietScratch,
        }
        impl Wide for Op<'_> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                let Op {
                    detector: d,
                    series,
                    prior,
                    at: (start, len),
                    out,
                    scratch,
                } = self;
                match d.baseline {
                    0..=4 => d.row_runs::<4>(series, prior, start, len, out, scratch),
                    5..=16 => d.row_runs::<16>(series, prior, start, len, out, scratch),
                    _ => d.row_runs::<64>(series, prior, start, len, out, scratch),
                }
            }
        }
        // The worker's scratch, out of its slot for the row.
        let mut scratch = SCRATCH.take();
        widest(Op {
            detector: self,
            series,
            prior,
            at: (start, len),
            out,
            scratch: &mut scratch,
        });
        SCRATCH.set(scratch);
    }

    /// [`Detector::classify_row_runs`] compiled into its caller (see
    /// [`super::simd`]).
    #[inline(always)]
    fn row_runs<const N: usize>(
        &self,
        series: Series<'_>,
        prior: &[Prior],
        start: usize,
        len: usize,
        out: &mut RowRuns,
        scratch: &mut QuietScratch,
    ) {
        let RowRuns {
            changes,
            unobserved,
            pixels,
        } = out;
        // Open runs, and the class of the pixels since `same_from`: counts
        // are added per stretch of one class, not per pixel.
        let mut change: Option<RowRun> = None;
        let mut unseen: Option<RowRun> = None;
        let (mut class, mut same_from) = (PixelClass::NotForest, 0usize);
        let quiet = QuietTest::new(self, series).row(prior, start, len, scratch);
        let mut i = 0;
        while i < len {
            // A pixel to classify, or a stretch of pixels the test settled.
            let code = quiet.get(i).copied().unwrap_or(NEEDS_CLASSIFYING);
            let (px, j) = if code == NEEDS_CLASSIFYING {
                let px = self.classify_pixel::<N>(series, prior[start + i], start + i);
                (px, i + 1)
            } else {
                (self.settled(code), stretch_end(quiet, i, code))
            };
            if px.class != class {
                pixels[class as usize] += (i - same_from) as u64;
                (class, same_from) = (px.class, i);
            }
            extend_run(&mut change, changes, px.class.is_change(), i..j, &px);
            let seen = px.class == PixelClass::Unobserved;
            extend_run(&mut unseen, unobserved, seen, i..j, &px);
            i = j;
        }
        pixels[class as usize] += (len - same_from) as u64;
        changes.extend(change);
        unobserved.extend(unseen);
    }

    /// What [`Detector::classify_pixel`] gives for a pixel of
    /// [`QuietTest::row`]'s `code` (not [`NEEDS_CLASSIFYING`]).
    fn settled(&self, code: u8) -> PixelResult {
        match code {
            QUIET => PixelResult::of(PixelClass::NoChange),
            NOT_FOREST => PixelResult::of(PixelClass::NotForest),
            UNSEEN_SINCE => PixelResult {
                // the baseline scenes were all clear
                last_clear: (self.baseline - 1) as u8,
                ..PixelResult::of(PixelClass::Unobserved)
            },
            _ => PixelResult::of(PixelClass::Unobserved),
        }
    }

    fn classify_pixel<const N: usize>(
        &self,
        s: Series<'_>,
        prior: Prior,
        at: usize,
    ) -> PixelResult {
        let p = &self.params;
        if prior == Prior::NonForest {
            return PixelResult::of(PixelClass::NotForest);
        }
        let mut base_ndvi = [0f32; N];
        let mut base_nbr = [0f32; N];
        let (mut n, mut m) = (0, 0);
        let mut last_clear = NO_SCENE;
        for k in 0..self.baseline {
            let v = s.ndvi[k][at];
            if v.is_finite() {
                if n < N {
                    base_ndvi[n] = v;
                    n += 1;
                }
                last_clear = k as u8;
                let b = s.nbr.get(k).map_or(f32::NAN, |b| b[at]);
                if b.is_finite() && m < N {
                    base_nbr[m] = b;
                    m += 1;
                }
            }
        }
        if n == 0 {
            return PixelResult::of(if prior == Prior::NonForest {
                PixelClass::NotForest
            } else {
                PixelClass::Unobserved
            });
        }
        let base = median(&mut base_ndvi[..n]);
        let base_b = if m > 0 {
            median(&mut base_nbr[..m])
        } else {
            f32::NAN
        };
        let forest = match prior {
            Prior::Forest => true,
            Prior::NonForest => false,
            Prior::Unknown => base >= p.forest_ndvi,
        };
        if !forest {
            return PixelResult::of(PixelClass::NotForest);
        }

        let mut observed = false;
        let mut det: Option<PixelResult> = None;
        for k in self.baseline..self.scenes {
            let v = s.ndvi[k][at];
            if !v.is_finite() {
                continue;
            }
            observed = true;
            let (off_v, off_b) = self.offsets[k];
            let drop = base - (v - off_v);
            let b = s.nbr.get(k).map_or(f32::NAN, |b| b[at]) - off_b;
            let dnbr = base_b - b;
            let class = if dnbr >= p.burn_dnbr && b <= p.burn_max_nbr {
                PixelClass::Burn
            } else if drop >= p.clearing_drop {
                PixelClass::Clearing
            } else if drop >= p.degradation_drop {
                PixelClass::Degradation
            } else {
                PixelClass::NoChange
            };
            match (&mut det, class) {
                (None, PixelClass::NoChange) => last_clear = k as u8,
                (None, class) => {
                    det = Some(PixelResult {
                        class,
                        seen: 1,
                        first: k as u8,
                        last_clear,
                        drop,
                        dnbr: if dnbr.is_finite() { dnbr } else { f32::NAN },
                    })
                }
                (Some(_), PixelClass::NoChange) => {
                    // The forest is seen intact again: the earlier drop was noise,
                    // haze or phenology, not loss.
                    det = None;
                    last_clear = k as u8;
                }
                (Some(d), class) => {
                    d.seen = d.seen.saturating_add(1);
                    // A burn stays a burn as the char fades; otherwise the
                    // strongest class seen wins.
                    if d.class != PixelClass::Burn && class > d.class {
                        d.class = class;
                    }
                    d.drop = d.drop.max(drop);
                    if dnbr.is_finite() {
                        d.dnbr = if d.dnbr.is_finite() {
                            d.dnbr.max(dnbr)
                        } else {
                            dnbr
                        };
                    }
                }
            }
        }
        match det {
            Some(d) if d.class == PixelClass::Degradation && d.seen < p.degradation_min_obs => {
                PixelResult::of(PixelClass::NoChange)
            }
            Some(d) => d,
            None if observed => PixelResult::of(PixelClass::NoChange),
            None => PixelResult {
                last_clear,
                ..PixelResult::of(PixelClass::Unobserved)
            },
        }
    }
}

/// What one classified row contributes: its runs of changed and of
/// unobserved pixels (left to right, with their tallies) and its pixels per
/// class, indexed by [`PixelClass`] as `u8`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RowRuns {
    /// Runs of changed pixels.
    pub changes: Vec<RowRun>,
    /// Runs of unobserved forest pixels.
    pub unobserved: Vec<RowRun>,
    /// Pixels per class.
    pub pixels: [u64; 7],
}

/// Where the stretch of `code` that starts at `i` in `codes` ends.
#[inline(always)]
fn stretch_end(codes: &[u8], i: usize, code: u8) -> usize {
    let mut j = i;
    // whole blocks first, each tested in a reduction that vectorises
    while let Some(block) = codes.get(j..j + 32) {
        if block.iter().fold(0u8, |a, c| a | (c ^ code)) != 0 {
            break;
        }
        j += 32;
    }
    j + codes[j..]
        .iter()
        .position(|c| *c != code)
        .unwrap_or(codes.len() - j)
}

/// Adds the pixels of columns `xs`, each `px`, to the open run when they are
/// `selected`; otherwise closes the open run, if any, into `runs`.
#[inline]
fn extend_run(
    open: &mut Option<RowRun>,
    runs: &mut Vec<RowRun>,
    selected: bool,
    xs: std::ops::Range<usize>,
    px: &PixelResult,
) {
    if selected {
        let run = open.get_or_insert(RowRun {
            x0: xs.start as u32,
            x1: xs.start as u32,
            tally: Tally::default(),
        });
        run.x1 = xs.end as u32;
        run.tally.add_pixels(px, xs.len() as u64);
    } else if let Some(run) = open.take() {
        runs.push(run);
    }
}

/// A quick test for the commonest pixel — forest, clear in every scene, no
/// drop worth a class — that gives exactly what [`Detector::classify_pixel`]
/// gives for it (no change) without its general bookkeeping, for a whole
/// row at once in loops that vectorise. It applies to runs with one or two
/// baseline scenes (the median of two is their mean); every other pixel goes
/// through `classify_pixel`.
struct QuietTest<'a> {
    enabled: bool,
    params: &'a Params,
    baseline: usize,
    series: Series<'a>,
    offsets: &'a [(f32, f32)],
}

/// Per-thread scratch of [`QuietTest::row`]: baseline NDVI and NBR, mask.
#[derive(Default)]
struct QuietScratch {
    base: Vec<f32>,
    base_b: Vec<f32>,
    quiet: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<QuietScratch> = std::cell::Cell::default();
}

/// [`QuietTest::row`]'s codes.
const NEEDS_CLASSIFYING: u8 = 0;
const QUIET: u8 = 1;
const NOT_FOREST: u8 = 2;
const UNSEEN_SINCE: u8 = 3;
const UNSEEN: u8 = 4;

impl<'a> QuietTest<'a> {
    fn new(d: &'a Detector, series: Series<'a>) -> Self {
        QuietTest {
            enabled: (1..=2).contains(&d.baseline)
                && d.scenes > d.baseline
                && series.nbr.len() == d.scenes,
            params: &d.params,
            baseline: d.baseline,
            series,
            offsets: &d.offsets,
        }
    }

    /// For the pixels `start..start + len`, what can be settled without the
    /// full classification (empty when the test does not apply to this
    /// run): [`QUIET`] where the pixel is certainly "no change",
    /// [`NOT_FOREST`] where it is certainly not forest (a non-forest plot,
    /// or no plot and a clear baseline below the forest NDVI),
    /// [`UNSEEN_SINCE`] where it is forest with a clear baseline that no
    /// later scene saw, [`UNSEEN`] where no baseline scene saw it and no
    /// plot calls it non-forest; [`NEEDS_CLASSIFYING`] elsewhere.
    #[inline(always)]
    fn row<'s>(
        &self,
        prior: &[Prior],
        start: usize,
        len: usize,
        scratch: &'s mut QuietScratch,
    ) -> &'s [u8] {
        // What is known of each pixel as the scenes are gone through.
        const CANDIDATE: u8 = 1; // forest, clear baseline, still in every later scene so far
        const NON_FOREST: u8 = 2; // not forest
        const SEEN: u8 = 4; // clear in some later scene
        const FOREST: u8 = 8; // forest with a clear baseline
        const NO_BASELINE: u8 = 16; // no clear baseline NDVI, not a non-forest plot
        let QuietScratch {
            base,
            base_b,
            quiet,
        } = scratch;
        quiet.clear();
        if !self.enabled {
            return quiet;
        }
        let (nd, nb, p) = (self.series.ndvi, self.series.nbr, self.params);
        let at = start..start + len;
        quiet.resize(len, 0);
        // The baseline: one scene's layers as they are; of two, their mean
        // where all four values are clear, with `quiet` 1 where neither
        // NDVI is (one scene: where its NDVI is not finite, below).
        let one = self.baseline == 1;
        let (base, base_b): (&[f32], &[f32]) = if one {
            (&nd[0][at.clone()], &nb[0][at.clone()])
        } else {
            base.resize(len, 0.0);
            base_b.resize(len, 0.0);
            let (a, b) = (&nd[0][at.clone()], &nd[1][at.clone()]);
            let (c, d) = (&nb[0][at.clone()], &nb[1][at.clone()]);
            for i in 0..len {
                let all = a[i].is_finite() & b[i].is_finite() & c[i].is_finite() & d[i].is_finite();
                base[i] = if all { (a[i] + b[i]) / 2.0 } else { f32::NAN };
                base_b[i] = (c[i] + d[i]) / 2.0;
                quiet[i] = u8::from(!a[i].is_finite() & !b[i].is_finite());
            }
            (base, base_b)
        };
        // Branch-free (`&`, `|`), so the loops vectorise.
        for ((q, b), pr) in quiet.iter_mut().zip(base).zip(&prior[at.clone()]) {
            let unknown = *pr == Prior::Unknown;
            let non_forest_plot = *pr == Prior::NonForest;
            let forest = (*pr == Prior::Forest) | (unknown & (*b >= p.forest_ndvi));
            let not_forest = non_forest_plot | (unknown & (*b < p.forest_ndvi));
            let unseen = (one & !b.is_finite()) | (!one & (*q == 1));
            let no_baseline = unseen & !non_forest_plot;
            *q = (u8::from(b.is_finite() & forest) * (CANDIDATE | FOREST))
                | (u8::from(not_forest) * NON_FOREST)
                | (u8::from(no_baseline) * NO_BASELINE);
        }
        for k in self.baseline..nd.len() {
            let (off_v, off_b) = self.offsets[k];
            let (v, w) = (&nd[k][at.clone()], &nb[k][at.clone()]);
            for ((((q, v), w), base), base_b) in
                quiet.iter_mut().zip(v).zip(w).zip(base).zip(base_b)
            {
                // (a baseline NBR that is not finite counts as unknown)
                let base_b = if base_b.is_finite() {
                    *base_b
                } else {
                    f32::NAN
                };
                let drop = base - (v - off_v);
                let b = w - off_b;
                let dnbr = base_b - b;
                let seen = v.is_finite();
                let still = seen
                    & (drop < p.degradation_drop)
                    & !((dnbr >= p.burn_dnbr) & (b <= p.burn_max_nbr));
                // a candidate stays one while still
                *q = (*q & (!CANDIDATE | u8::from(still))) | (u8::from(seen) * SEEN);
            }
        }
        for q in quiet.iter_mut() {
            let b = *q;
            let unseen_since = (b & FOREST != 0) & (b & SEEN == 0);
            *q = if b & NON_FOREST != 0 {
                NOT_FOREST
            } else if b & CANDIDATE != 0 {
                QUIET
            } else if unseen_since {
                UNSEEN_SINCE
            } else if b & NO_BASELINE != 0 {
                UNSEEN
            } else {
                NEEDS_CLASSIFYING
            };
        }
        quiet
    }
}

/// Median of a small slice (reorders it).
fn median(v: &mut [f32]) -> f32 {
    v.sort_unstable_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

const BINS: usize = 2000;

/// Estimates each monitoring scene's seasonal offset — the median difference
/// between its NDVI (and NBR) and the baseline over clear pixels the plot
/// layer calls forest — from histograms, so memory does not depend on the
/// raster size. Real loss covers a small share of the forest, so the median
/// follows phenology and illumination, not the loss.
#[derive(Debug, Clone)]
pub struct OffsetEstimator {
    baseline: usize,
    ndvi: Vec<Vec<u64>>,
    nbr: Vec<Vec<u64>>,
}

impl OffsetEstimator {
    /// An estimator for `scenes` date-sorted scenes of which the first
    /// `baseline` are the baseline.
    pub fn new(scenes: usize, baseline: usize) -> Self {
        OffsetEstimator {
            baseline: baseline.min(scenes),
            ndvi: vec![vec![0; BINS]; scenes],
            nbr: vec![vec![0; BINS]; scenes],
        }
    }

    /// Adds the pixels of a strip.
    pub fn add(&mut self, s: Series<'_>, prior: &[Prior]) {
        let scenes = self.ndvi.len();
        for (at, pr) in prior.iter().enumerate() {
            if *pr != Prior::Forest {
                continue;
            }
            let mut base_v = [0f32; 32];
            let mut base_b = [0f32; 32];
            let (mut n, mut m) = (0, 0);
            for k in 0..self.baseline {
                let v = s.ndvi[k][at];
                if v.is_finite() && n < 32 {
                    base_v[n] = v;
                    n += 1;
                    let b = s.nbr.get(k).map_or(f32::NAN, |b| b[at]);
                    if b.is_finite() && m < 32 {
                        base_b[m] = b;
                        m += 1;
                    }
                }
            }
            if n == 0 {
                continue;
            }
            let bv = median(&mut base_v[..n]);
            let bb = if m > 0 {
                median(&mut base_b[..m])
            } else {
                f32::NAN
            };
            for k in self.baseline..scenes {
                let v = s.ndvi[k][at];
                if v.is_finite() {
                    self.ndvi[k][bin(v - bv)] += 1;
                    let b = s.nbr.get(k).map_or(f32::NAN, |b| b[at]);
                    if b.is_finite() && bb.is_finite() {
                        self.nbr[k][bin(b - bb)] += 1;
                    }
                }
            }
        }
    }

    /// The per-scene (NDVI, NBR) offsets; 0 for baseline scenes and scenes
    /// with too few clear forest pixels (fewer than 100).
    pub fn finish(&self) -> Vec<(f32, f32)> {
        (0..self.ndvi.len())
            .map(|k| (hist_median(&self.ndvi[k]), hist_median(&self.nbr[k])))
            .collect()
    }
}

fn bin(d: f32) -> usize {
    (((d + 2.0) / 4.0 * BINS as f32) as usize).min(BINS - 1)
}

fn hist_median(h: &[u64]) -> f32 {
    let total: u64 = h.iter().sum();
    if total < 100 {
        return 0.0;
    }
    let mut acc = 0;
    for (i, c) in h.iter().enumerate() {
        acc += c;
        if acc * 2 >= total {
            return (i as f32 + 0.5) / BINS as f32 * 4.0 - 2.0;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ndvi: &[f32], nbr: &[f32], baseline: usize, prior: Prior) -> PixelResult {
        let nd: Vec<Vec<f32>> = ndvi.iter().map(|v| vec![*v]).collect();
        let nb: Vec<Vec<f32>> = nbr.iter().map(|v| vec![*v]).collect();
        let d = Detector::new(Params::default(), ndvi.len(), baseline, vec![]);
        let mut out = [PixelResult::of(PixelClass::NotForest)];
        d.classify(
            Series {
                ndvi: &nd,
                nbr: &nb,
            },
            &[prior],
            1,
            &mut out,
        );
        out[0]
    }

    const NAN: f32 = f32::NAN;

    /// Reducing a row on the spot gives the runs, tallies and class counts
    /// that classifying it and then scanning the results give.
    #[test]
    fn rows_reduced_on_the_spot_equal_classified_rows() {
        use crate::change::segment::Segmenter;
        let (scenes, width) = (4, 5_000);
        let mut h: u64 = 7;
        let mut next = || {
            h = h
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (h >> 33) as f32 / (1u64 << 31) as f32
        };
        // Patches of a few classes with clouds, so runs of every length occur.
        let mut nd = vec![vec![0f32; width]; scenes];
        let mut nb = vec![vec![0f32; width]; scenes];
        let mut prior = vec![Prior::Forest; width];
        let mut x = 0;
        while x < width {
            let len = 1 + (next() * 40.0) as usize;
            let (drop, cloud, p) = (next() * 0.8, next(), next());
            for i in x..(x + len).min(width) {
                prior[i] = if p < 0.1 {
                    Prior::NonForest
                } else if p < 0.3 {
                    Prior::Unknown
                } else {
                    Prior::Forest
                };
                for k in 0..scenes {
                    // heavy cloud hides most later scenes; a few pixels lack the
                    // first baseline scene, a few both
                    let hidden = (cloud > 0.7 && k > 0 && next() < 0.8)
                        || (cloud < 0.06 && k == 0)
                        || (cloud < 0.03 && k == 1);
                    let seen = !hidden;
                    let d = if k >= 2 {
                        drop + next() * 0.05
                    } else {
                        next() * 0.05
                    };
                    // half the pixels no plot covers are not forest by their NDVI
                    let level = if (0.2..0.3).contains(&p) { 0.45 } else { 0.85 };
                    nd[k][i] = if seen { level - d } else { NAN };
                    nb[k][i] = if seen { 0.6 - d * 1.6 } else { NAN };
                }
            }
            x += len;
        }
        let series = Series {
            ndvi: &nd,
            nbr: &nb,
        };
        for baseline in [1, 2] {
            let d = Detector::new(
                Params::default(),
                scenes,
                baseline,
                vec![(0.0, 0.0), (0.01, 0.0), (-0.02, 0.01), (0.0, 0.0)],
            );
            let mut out = vec![PixelResult::of(PixelClass::NotForest); width];
            d.classify(series, &prior, width, &mut out);
            let (mut changes, mut unobserved) = (Vec::new(), Vec::new());
            Segmenter::changes().selection().runs(&out, &mut changes);
            Segmenter::unobserved()
                .selection()
                .runs(&out, &mut unobserved);
            let mut pixels = [0u64; 7];
            for p in &out {
                pixels[p.class as usize] += 1;
            }
            let mut reduced = RowRuns::default();
            d.classify_row_runs(series, &prior, 0, width, &mut reduced);
            let (c2, u2, p2) = (reduced.changes, reduced.unobserved, reduced.pixels);
            assert_eq!(p2, pixels, "baseline {baseline}");
            assert!(
                changes.len() > 20 && unobserved.len() > 20,
                "{} {}",
                changes.len(),
                unobserved.len()
            );
            assert!(pixels.iter().filter(|n| **n > 0).count() >= 5, "{pixels:?}");
            assert_eq!(c2, changes, "baseline {baseline}");
            assert_eq!(u2, unobserved, "baseline {baseline}");
        }
    }

    #[test]
    fn stretches_end_at_the_first_other_code() {
        for len in [0usize, 1, 31, 32, 33, 64, 100] {
            for other in [
                None,
                Some(0),
                Some(5),
                Some(31),
                Some(32),
                Some(63),
                Some(99),
            ] {
                let mut codes = vec![QUIET; len];
                let end = match other {
                    Some(k) if k < len => {
                        codes[k] = NOT_FOREST;
                        k
                    }
                    _ => len,
                };
                assert_eq!(stretch_end(&codes, 0, QUIET), end, "{len} {other:?}");
                if len > 0 {
                    assert_eq!(stretch_end(&codes, len - 1, codes[len - 1]), len);
                }
            }
        }
    }

    #[test]
    fn clearing_seen_once_is_low_and_confirmed_is_high() {
        let r = run(&[0.85, 0.40], &[0.6, 0.15], 1, Prior::Forest);
        assert_eq!(
            (r.class, r.confidence(), r.first, r.last_clear),
            (PixelClass::Clearing, Confidence::Low, 1, 0)
        );
        let r = run(&[0.85, 0.40, 0.38], &[0.6, 0.15, 0.12], 1, Prior::Forest);
        assert_eq!(
            (r.class, r.confidence()),
            (PixelClass::Clearing, Confidence::High)
        );
    }

    #[test]
    fn a_drop_that_recovers_is_withdrawn() {
        let r = run(&[0.85, 0.40, 0.84], &[0.6, 0.15, 0.6], 1, Prior::Forest);
        assert_eq!((r.class, r.last_clear), (PixelClass::NoChange, NAN_IDX));
    }
    const NAN_IDX: u8 = NO_SCENE;

    #[test]
    fn degradation_needs_persistence() {
        let once = run(&[0.85, 0.70], &[0.6, 0.5], 1, Prior::Forest);
        assert_eq!(once.class, PixelClass::NoChange);
        let twice = run(&[0.85, 0.70, 0.71], &[0.6, 0.5, 0.5], 1, Prior::Forest);
        assert_eq!(
            (twice.class, twice.confidence()),
            (PixelClass::Degradation, Confidence::High)
        );
    }

    #[test]
    fn burn_is_told_from_clearing_by_nbr() {
        let r = run(&[0.85, 0.30], &[0.6, -0.25], 1, Prior::Forest);
        assert_eq!(r.class, PixelClass::Burn);
        assert!(r.dnbr > 0.8);
        let r = run(&[0.85, 0.35], &[0.6, 0.12], 1, Prior::Forest);
        assert_eq!(r.class, PixelClass::Clearing);
    }

    #[test]
    fn clouds_give_unobserved_never_no_change() {
        let r = run(&[0.85, NAN, NAN], &[0.6, NAN, NAN], 1, Prior::Forest);
        assert_eq!((r.class, r.last_clear), (PixelClass::Unobserved, 0));
        let r = run(&[NAN, 0.3], &[NAN, 0.1], 1, Prior::Forest);
        assert_eq!(r.class, PixelClass::Unobserved);
        // A cloudy observation between two clear ones is skipped, and the
        // confirmation still counts.
        let r = run(
            &[0.85, 0.4, NAN, 0.4],
            &[0.6, 0.1, NAN, 0.1],
            1,
            Prior::Forest,
        );
        assert_eq!(
            (r.class, r.confidence()),
            (PixelClass::Clearing, Confidence::High)
        );
    }

    #[test]
    fn baseline_is_the_median_and_decides_forest_where_no_plot_is() {
        // one hazy baseline observation does not move the median
        let r = run(
            &[0.85, 0.30, 0.84, 0.40],
            &[0.6, 0.2, 0.6, 0.1],
            3,
            Prior::Forest,
        );
        assert_eq!(r.class, PixelClass::Clearing);
        assert!((r.drop - 0.44).abs() < 1e-5);
        assert_eq!(
            run(&[0.45, 0.10], &[0.3, 0.0], 1, Prior::Unknown).class,
            PixelClass::NotForest
        );
        assert_eq!(
            run(&[0.80, 0.30], &[0.6, 0.1], 1, Prior::Unknown).class,
            PixelClass::Clearing
        );
        assert_eq!(
            run(&[0.80, 0.30], &[0.6, 0.1], 1, Prior::NonForest).class,
            PixelClass::NotForest
        );
    }

    #[test]
    fn seasonal_offset_is_estimated_and_removed() {
        // 10,000 forest pixels, all 0.08 lower in the dry season; a 0.12 raw
        // drop is then only 0.04 of real change.
        let n = 10_000;
        let nd = vec![vec![0.82f32; n], vec![0.74f32; n]];
        let nb = vec![vec![0.6f32; n], vec![0.55f32; n]];
        let prior = vec![Prior::Forest; n];
        let mut est = OffsetEstimator::new(2, 1);
        est.add(
            Series {
                ndvi: &nd,
                nbr: &nb,
            },
            &prior,
        );
        let off = est.finish();
        assert!((off[1].0 + 0.08).abs() < 0.003, "{off:?}");
        assert!((off[1].1 + 0.05).abs() < 0.003, "{off:?}");
        let mut nd2 = nd.clone();
        nd2.push(vec![0.70; n]);
        let mut nb2 = nb.clone();
        nb2.push(vec![0.55; n]);
        let d = Detector::new(Params::default(), 3, 1, vec![off[0], off[1], off[1]]);
        let mut out = vec![PixelResult::of(PixelClass::NotForest); n];
        d.classify(
            Series {
                ndvi: &nd2,
                nbr: &nb2,
            },
            &prior,
            100,
            &mut out,
        );
        assert!(out.iter().all(|r| r.class == PixelClass::NoChange));
    }

    #[test]
    fn params_are_checked() {
        assert!(Params::default().validate().is_ok());
        let bad = Params {
            degradation_drop: 0.5,
            ..Params::default()
        };
        assert!(bad.validate().unwrap_err().contains("degradation_drop"));
    }
}
