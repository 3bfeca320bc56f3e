//! The whole detection over a grid, strip by strip, with any source of
//! strips: a first pass estimates the seasonal offsets (on a sample of
//! strips), a second classifies every pixel and labels components. Memory is
//! one strip of every scene plus the runs of changed and unobserved pixels.

use super::detect::{Detector, OffsetEstimator, Params, Prior, RowRuns, Series};
use super::grid::GridSpec;
use super::index::{landsat_qa_is_clear, scl_is_clear, QualityCounts};
use super::segment::{Component, Segmenter};
use super::simd::{widest, Wide};
use crate::progress::Progress;
use rayon::prelude::*;

/// Pixel quality of one scene over a strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Quality {
    /// Usable.
    Clear = 0,
    /// Cloud, cirrus or shadow.
    Cloud = 1,
    /// No data.
    NoData = 2,
}

/// Bands of one scene over a strip, as read from the file: UInt16 digital
/// numbers (`Bands<u16>`) or floating point.
#[derive(Debug, Default, Clone)]
pub struct Bands<T = f32> {
    /// Red (or the NDVI itself for single-band NDVI scenes).
    pub red: Vec<T>,
    /// NIR (empty for NDVI scenes).
    pub nir: Vec<T>,
    /// SWIR 2 (empty when the scene has none).
    pub swir2: Vec<T>,
    /// Raw quality band values (scratch for readers).
    pub qa: Vec<T>,
}

/// A band value as read from a file.
pub trait Sample: Copy + Send + Sync {
    /// The value as `f32` (`NaN` stays `NaN`).
    fn value(self) -> f32;
    /// The value as an index into a table of the classes 0–255 with two
    /// more entries: 256 for larger values, 257 for negative or `NaN` ones
    /// (the quality band's "no data").
    fn class_index(self) -> usize;

    /// The quality code (0 clear, 1 cloud, 2 no data) of a Sentinel-2 SCL
    /// value, `table` holding the code of each [`Sample::class_index`].
    #[inline(always)]
    fn scl_code(self, table: &[u8; 258]) -> u8 {
        table[self.class_index()]
    }

    /// The quality codes (0 clear, 1 cloud, 2 no data) of Sentinel-2 SCL
    /// values, `table` holding the code of each [`Sample::class_index`].
    #[inline(always)]
    fn scl_quality(band: &[Self], table: &[u8; 258], q: &mut [u8]) {
        for (qi, c) in q.iter_mut().zip(band) {
            *qi = c.scl_code(table);
        }
    }
}

impl Sample for u16 {
    #[inline(always)]
    fn value(self) -> f32 {
        f32::from(self)
    }

    #[inline(always)]
    fn class_index(self) -> usize {
        usize::from(self.min(256))
    }

    /// By comparisons rather than a table, so the loop vectorises.
    #[inline(always)]
    fn scl_code(self, _: &[u8; 258]) -> u8 {
        if self == 0 {
            Quality::NoData as u8
        } else if scl_is_clear(self) {
            Quality::Clear as u8
        } else {
            Quality::Cloud as u8
        }
    }
}

impl Sample for f32 {
    #[inline(always)]
    fn value(self) -> f32 {
        self
    }

    #[inline(always)]
    fn class_index(self) -> usize {
        if self >= 0.0 && self.is_finite() {
            (self as usize).min(256)
        } else {
            257
        }
    }
}

/// How a quality band flags pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualityRule {
    /// Sentinel-2 SCL classes.
    Scl,
    /// Landsat `QA_PIXEL` bits.
    LandsatQa,
}

impl QualityRule {
    /// The quality a quality-band value gives (`NaN`: no data).
    pub fn quality(self, v: f32) -> Quality {
        if !v.is_finite() {
            return Quality::NoData;
        }
        let v = v as u16;
        match self {
            QualityRule::Scl if v == 0 => Quality::NoData,
            QualityRule::Scl if scl_is_clear(v) => Quality::Clear,
            QualityRule::Scl => Quality::Cloud,
            QualityRule::LandsatQa if v & 1 == 1 => Quality::NoData,
            QualityRule::LandsatQa if landsat_qa_is_clear(v) => Quality::Clear,
            QualityRule::LandsatQa => Quality::Cloud,
        }
    }
}

/// NDVI and NBR (`NaN` where not clear) straight from band values in one
/// pass: `reflectance = value × gain + bias`; a pixel is no data where red or
/// NIR is `NaN` or equals `nodata`, cloud where the quality band says so.
/// With `nir` empty, `red` holds NDVI itself. Works through the strip in
/// chunks that stay in the first-level cache.
#[allow(clippy::too_many_arguments)]
pub fn indices_from_bands<T: Sample>(
    red: &[T],
    nir: &[T],
    swir2: &[T],
    qa: Option<(&[T], QualityRule)>,
    nodata: Option<f32>,
    scaling: (f32, f32),
    out_ndvi: &mut [f32],
    out_nbr: &mut [f32],
) -> QualityCounts {
    IndexMaker::new(qa.map(|q| q.1), nodata, scaling).run(
        red,
        nir,
        swir2,
        qa.map(|q| q.0),
        out_ndvi,
        out_nbr,
    )
}

/// [`indices_from_bands`] for one scene, prepared once and run over many
/// pieces of its strips.
#[derive(Debug, Clone)]
pub struct IndexMaker {
    /// The quality band's rule with the code of each class (see
    /// `Sample::class_index`).
    quality: Option<([u8; 258], QualityRule)>,
    nodata: Option<f32>,
    gain: f32,
    bias: f32,
}

impl IndexMaker {
    /// For a scene whose quality band follows `rule` (if it has one), whose
    /// red and NIR mark no data with `nodata`, scaled by `(gain, bias)`.
    pub fn new(rule: Option<QualityRule>, nodata: Option<f32>, (gain, bias): (f32, f32)) -> Self {
        // SCL values are small classes: a table; QA_PIXEL bits: the rule.
        let quality = rule.map(|rule| {
            let table = std::array::from_fn(|c| {
                if c == 257 {
                    Quality::NoData as u8
                } else {
                    rule.quality(c as f32) as u8
                }
            });
            (table, rule)
        });
        IndexMaker {
            quality,
            nodata,
            gain,
            bias,
        }
    }

    /// NDVI and NBR of the pixels given (`qa`: the quality band's values,
    /// when the scene has one), and their quality tallies.
    pub fn run<T: Sample>(
        &self,
        red: &[T],
        nir: &[T],
        swir2: &[T],
        qa: Option<&[T]>,
        out_ndvi: &mut [f32],
        out_nbr: &mut [f32],
    ) -> QualityCounts {
        struct Op<'a, T> {
            maker: &'a IndexMaker,
            bands: [&'a [T]; 3],
            qa: Option<&'a [T]>,
            out: [&'a mut [f32]; 2],
        }
        impl<T: Sample> Wide for Op<'_, T> {
            type Output = QualityCounts;
            #[inline(always)]
            fn run(self) -> QualityCounts {
                let ([red, nir, swir2], [ndvi, nbr]) = (self.bands, self.out);
                self.maker.run_here(red, nir, swir2, self.qa, ndvi, nbr)
            }
        }
        widest(Op {
            maker: self,
            bands: [red, nir, swir2],
            qa,
            out: [out_ndvi, out_nbr],
        })
    }

    /// [`IndexMaker::run`] compiled into its caller (see [`super::simd`]).
    #[inline(always)]
    fn run_here<T: Sample>(
        &self,
        red: &[T],
        nir: &[T],
        swir2: &[T],
        qa: Option<&[T]>,
        out_ndvi: &mut [f32],
        out_nbr: &mut [f32],
    ) -> QualityCounts {
        let n = out_ndvi.len();
        if !nir.is_empty() && swir2.len() == n {
            // Red, NIR and SWIR 2: every pixel in one pass.
            let (red, nir, swir2) = (&red[..n], &nir[..n], &swir2[..n]);
            return match (qa, &self.quality) {
                (Some(band), Some((table, QualityRule::Scl))) => {
                    let band = &band[..n];
                    self.one_pass(
                        red,
                        nir,
                        swir2,
                        |i| band[i].scl_code(table),
                        out_ndvi,
                        out_nbr,
                    )
                }
                (Some(band), Some((_, rule))) => {
                    let band = &band[..n];
                    let rule = *rule;
                    self.one_pass(
                        red,
                        nir,
                        swir2,
                        |i| rule.quality(band[i].value()) as u8,
                        out_ndvi,
                        out_nbr,
                    )
                }
                _ => self.one_pass(red, nir, swir2, |_| 0, out_ndvi, out_nbr),
            };
        }
        self.in_chunks(red, nir, swir2, qa, out_ndvi, out_nbr)
    }

    /// NDVI, NBR and the tallies of pixels with red, NIR and SWIR 2 (all
    /// `out_ndvi.len()` long) and the quality code of pixel `i` from
    /// `quality(i)`, in one branch-free pass that vectorises; the same
    /// arithmetic, in the same order, as [`IndexMaker::in_chunks`].
    #[inline(always)]
    fn one_pass<T: Sample>(
        &self,
        red: &[T],
        nir: &[T],
        swir2: &[T],
        quality: impl Fn(usize) -> u8,
        out_ndvi: &mut [f32],
        out_nbr: &mut [f32],
    ) -> QualityCounts {
        let (gain, bias) = (self.gain, self.bias);
        let nd = self.nodata.unwrap_or(f32::NAN);
        let n = out_ndvi.len();
        let (red, nir, swir2, out_nbr) = (&red[..n], &nir[..n], &swir2[..n], &mut out_nbr[..n]);
        let (mut clear, mut cloud) = (0u64, 0u64);
        // Tallied in 32 bits a block at a time, so the loop works on eight
        // lanes rather than four.
        for block in (0..n).step_by(1 << 16) {
            let (mut clear32, mut cloud32) = (0u32, 0u32);
            for i in block..(block + (1 << 16)).min(n) {
                let (r, v, w) = (red[i].value(), nir[i].value(), swir2[i].value());
                let missing = r.is_nan() | v.is_nan() | (r == nd) | (v == nd);
                let q = quality(i);
                let q = if missing { 2 } else { q };
                let (rr, vv, ww) = (r * gain + bias, v * gain + bias, w * gain + bias);
                let ndvi = normalized_difference(vv, rr, q);
                out_ndvi[i] = ndvi;
                out_nbr[i] = normalized_difference(vv, ww, q);
                clear32 += u32::from(!ndvi.is_nan());
                cloud32 += u32::from(q == 1);
            }
            clear += u64::from(clear32);
            cloud += u64::from(cloud32);
        }
        QualityCounts {
            clear,
            cloud,
            nodata: n as u64 - clear - cloud,
        }
    }

    /// [`IndexMaker::run`] for any bands, a chunk at a time: a pass per step.
    #[inline(always)]
    fn in_chunks<T: Sample>(
        &self,
        red: &[T],
        nir: &[T],
        swir2: &[T],
        qa: Option<&[T]>,
        out_ndvi: &mut [f32],
        out_nbr: &mut [f32],
    ) -> QualityCounts {
        const CHUNK: usize = 4096;
        let (gain, bias) = (self.gain, self.bias);
        let n = out_ndvi.len();
        let nd = self.nodata.unwrap_or(f32::NAN);
        let ndvi_only = nir.is_empty();
        let with_swir2 = !ndvi_only && swir2.len() == n;
        let table = &self.quality;
        let mut counts = QualityCounts::default();
        let mut q = [0u8; CHUNK];
        for start in (0..n).step_by(CHUNK) {
            let end = (start + CHUNK).min(n);
            let q = &mut q[..end - start];
            let red = &red[start..end];
            let ndvi = &mut out_ndvi[start..end];
            let nbr = &mut out_nbr[start..end];
            // 1. quality per pixel (0 clear, 1 cloud, 2 no data).
            match (qa, table) {
                (Some(band), Some((table, QualityRule::Scl))) => {
                    T::scl_quality(&band[start..end], table, q);
                }
                (Some(band), Some((_, rule))) => {
                    for (qi, c) in q.iter_mut().zip(&band[start..end]) {
                        *qi = rule.quality(c.value()) as u8;
                    }
                }
                _ => q.fill(0),
            }
            let other = if ndvi_only { red } else { &nir[start..end] };
            for ((qi, r), v) in q.iter_mut().zip(red).zip(other) {
                let (r, v) = (r.value(), v.value());
                let missing = r.is_nan() || v.is_nan() || r == nd || v == nd;
                *qi = if missing { 2 } else { *qi };
            }
            // 2. the indices, branch-free so the loops vectorise.
            if ndvi_only {
                for ((o, r), qi) in ndvi.iter_mut().zip(red).zip(q.iter()) {
                    let x = r.value() * gain + bias;
                    *o = if *qi == 0 && (-1.0..=1.0).contains(&x) {
                        x
                    } else {
                        f32::NAN
                    };
                }
                nbr.fill(f32::NAN);
            } else {
                let nir = &nir[start..end];
                normalized_difference_into(ndvi, nir, red, q, gain, bias);
                if with_swir2 {
                    normalized_difference_into(nbr, nir, &swir2[start..end], q, gain, bias);
                } else {
                    nbr.fill(f32::NAN);
                }
            }
            // Clear where the index is known; cloud as flagged; the rest no
            // data (branch-free, so the count vectorises).
            let (mut clear, mut cloud) = (0u32, 0u32);
            for (qi, o) in q.iter().zip(ndvi.iter()) {
                clear += u32::from(!o.is_nan());
                cloud += u32::from(*qi == 1);
            }
            counts.clear += u64::from(clear);
            counts.cloud += u64::from(cloud);
            counts.nodata += (q.len() as u32 - clear - cloud) as u64;
        }
        counts
    }
}

/// `(a − b) / (a + b)` of reflectances `value × gain + bias`, clamped to
/// ±1, where the quality code is clear (0) and the sum is not ~0; `NaN`
/// elsewhere. Branch-free, so the loop vectorises.
#[inline(always)]
fn normalized_difference_into<T: Sample>(
    out: &mut [f32],
    a: &[T],
    b: &[T],
    q: &[u8],
    gain: f32,
    bias: f32,
) {
    for (((o, a), b), qi) in out.iter_mut().zip(a).zip(b).zip(q) {
        let (aa, bb) = (a.value() * gain + bias, b.value() * gain + bias);
        *o = normalized_difference(aa, bb, *qi);
    }
}

/// `(a − b) / (a + b)` of two reflectances, clamped to ±1, where the quality
/// code `q` is clear (0) and the sum is not ~0; `NaN` elsewhere.
/// Branch-free, so the loops that call it vectorise.
#[inline(always)]
fn normalized_difference(a: f32, b: f32, q: u8) -> f32 {
    let s = a + b;
    let x = ((a - b) / s).clamp(-1.0, 1.0);
    if (q == 0) & (s.abs() >= 1e-6) {
        x
    } else {
        f32::NAN
    }
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    /// Components of changed pixels of at least the minimum mapping unit.
    pub changes: Vec<Component>,
    /// Components of unobserved forest pixels of at least the minimum
    /// mapping unit.
    pub unobserved: Vec<Component>,
    /// Pixels per class, indexed by [`PixelClass`] as `u8`.
    pub pixels: [u64; 7],
    /// Quality tallies per scene.
    pub quality: Vec<QualityCounts>,
    /// Seasonal (NDVI, NBR) offsets applied per scene.
    pub offsets: Vec<(f32, f32)>,
    /// Where the time went.
    pub timings: Timings,
}

/// Time spent in each stage of a run (reading overlaps the others).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Pass 1 (offsets), reading included.
    pub offsets: std::time::Duration,
    /// Reading strips in pass 2 (on its own thread).
    pub read: std::time::Duration,
    /// Classifying pixels.
    pub classify: std::time::Duration,
    /// Labelling components.
    pub label: std::time::Duration,
    /// Waiting for the reader.
    pub wait: std::time::Duration,
}

/// The fewest pixels of `pixel_ha` hectares that make `min_area_ha` (the
/// test alerts and unobserved regions are held to: area + 1e-9 ≥ minimum).
fn min_pixels(min_area_ha: f64, pixel_ha: f64) -> u64 {
    let enough = |n: u64| n as f64 * pixel_ha + 1e-9 >= min_area_ha;
    let mut n = ((min_area_ha - 1e-9) / pixel_ha).ceil().max(0.0) as u64;
    while n > 0 && enough(n - 1) {
        n -= 1;
    }
    while !enough(n) {
        n += 1;
    }
    n
}

/// Reads one strip (`GridSpec::rows`) of every scene into NDVI/NBR layers and
/// the prior of every pixel.
pub trait StripSource {
    /// Error of the source.
    type Error: Send;
    /// Fills `ndvi[scene]`, `nbr[scene]` (each `strip.len()` long) and
    /// `prior`, returning the quality tallies per scene.
    fn read(
        &mut self,
        strip: &GridSpec,
        row0: usize,
        ndvi: &mut [Vec<f32>],
        nbr: &mut [Vec<f32>],
        prior: &mut [Prior],
    ) -> Result<Vec<QualityCounts>, Self::Error>;
}

/// Runs the detection over `grid` for `scenes` date-sorted scenes of which
/// the first `baseline` form the baseline, reading `strip_rows` rows at a time.
pub fn run<S: StripSource + Send>(
    grid: &GridSpec,
    scenes: usize,
    baseline: usize,
    params: &Params,
    strip_rows: usize,
    source: &mut S,
    progress: &Progress,
) -> Result<Outcome, S::Error> {
    let strip_rows = strip_rows.max(1);
    let strips = grid.height.div_ceil(strip_rows);
    let cap = strip_rows * grid.width;
    let mut nd = vec![vec![0f32; cap]; scenes];
    let mut nb = vec![vec![0f32; cap]; scenes];
    let mut prior = vec![Prior::Unknown; cap];
    let resize =
        |nd: &mut Vec<Vec<f32>>, nb: &mut Vec<Vec<f32>>, prior: &mut Vec<Prior>, n: usize| {
            for v in nd.iter_mut().chain(nb.iter_mut()) {
                v.resize(n, f32::NAN);
            }
            prior.resize(n, Prior::Unknown);
        };

    let t0 = std::time::Instant::now();
    let mut timings = Timings::default();
    // Pass 1: seasonal offsets from a sample: small rasters entirely, large
    // ones in three bands of consecutive strips (~5 % of the rows), so the
    // reads stay sequential within the file's tiles.
    let sample: Vec<usize> = if strips <= 24 {
        (0..strips).collect()
    } else {
        let run = strips.div_ceil(60).max(1);
        (0..3)
            .flat_map(|g| {
                let start = (g * 2 + 1) * strips / 6 - run / 2;
                start..(start + run).min(strips)
            })
            .collect()
    };
    let sampled = sample.len() as u64;
    let total = sampled + strips as u64;
    let mut est = OffsetEstimator::new(scenes, baseline);
    for (n, k) in sample.into_iter().enumerate() {
        let strip = grid.rows(k * strip_rows, strip_rows);
        resize(&mut nd, &mut nb, &mut prior, strip.len());
        source.read(&strip, k * strip_rows, &mut nd, &mut nb, &mut prior)?;
        est.add(
            Series {
                ndvi: &nd,
                nbr: &nb,
            },
            &prior,
        );
        progress.report(n as u64 + 1, Some(total));
    }
    let offsets = est.finish();
    timings.offsets = t0.elapsed();
    let detector = Detector::new(params.clone(), scenes, baseline, offsets.clone());

    // Pass 2: classify and label, in three stages: a reader thread fills
    // the next strips (three buffer sets circulate), this thread classifies
    // each strip's rows on every core and reduces each row to its runs, a
    // labelling thread joins the runs into components in row order.
    let mut quality = vec![QualityCounts::default(); scenes];
    drop((nd, nb, prior));
    struct Buf {
        nd: Vec<Vec<f32>>,
        nb: Vec<Vec<f32>>,
        prior: Vec<Prior>,
        quality: Vec<QualityCounts>,
    }
    const BUFFERS: usize = 3;
    let min_pixels = min_pixels(params.min_area_ha, grid.pixel_area_ha());
    let result: Result<_, S::Error> = std::thread::scope(|scope| {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Result<Buf, S::Error>>(BUFFERS);
        let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Buf>(BUFFERS);
        for _ in 0..BUFFERS {
            let _ = empty_tx.send(Buf {
                nd: vec![vec![]; scenes],
                nb: vec![vec![]; scenes],
                prior: vec![],
                quality: vec![],
            });
        }
        let source = &mut *source;
        let reader = scope.spawn(move || {
            let mut spent = std::time::Duration::ZERO;
            for k in 0..strips {
                let Ok(mut buf) = empty_rx.recv() else {
                    return spent;
                };
                let strip = grid.rows(k * strip_rows, strip_rows);
                resize(&mut buf.nd, &mut buf.nb, &mut buf.prior, strip.len());
                let t = std::time::Instant::now();
                let r = source.read(
                    &strip,
                    k * strip_rows,
                    &mut buf.nd,
                    &mut buf.nb,
                    &mut buf.prior,
                );
                spent += t.elapsed();
                let failed = r.is_err();
                let msg = r.map(|q| {
                    buf.quality = q;
                    buf
                });
                if full_tx.send(msg).is_err() || failed {
                    return spent;
                }
            }
            spent
        });
        // Strip summaries go to the labeller and come back empty.
        let (sum_tx, sum_rx) = std::sync::mpsc::sync_channel::<Vec<RowRuns>>(2);
        let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Vec<RowRuns>>(2);
        for _ in 0..2 {
            let _ = back_tx.send(Vec::new());
        }
        let labeller = scope.spawn(move || {
            let mut changes = Segmenter::changes().keeping(min_pixels);
            let mut unobserved = Segmenter::unobserved().keeping(min_pixels);
            let mut pixels = [0u64; 7];
            let mut spent = std::time::Duration::ZERO;
            for rows in sum_rx {
                let t = std::time::Instant::now();
                for r in &rows {
                    for (a, b) in pixels.iter_mut().zip(r.pixels) {
                        *a += b;
                    }
                    changes.push_runs(&r.changes);
                    unobserved.push_runs(&r.unobserved);
                }
                spent += t.elapsed();
                if back_tx.send(rows).is_err() {
                    break;
                }
            }
            (changes, unobserved, pixels, spent)
        });
        for k in 0..strips {
            let t = std::time::Instant::now();
            let received = full_rx.recv();
            timings.wait += t.elapsed();
            let buf = match received {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => return Err(e),
                Err(_) => break,
            };
            let strip = grid.rows(k * strip_rows, strip_rows);
            for (a, b) in quality.iter_mut().zip(&buf.quality) {
                a.add(b);
            }
            let Ok(mut rows) = back_rx.recv() else {
                break;
            };
            rows.resize_with(strip.height, RowRuns::default);
            let t = std::time::Instant::now();
            // Each row is classified into a buffer of its worker and reduced
            // to its runs of changed and unobserved pixels and its class
            // counts while it is in cache.
            let series = Series {
                ndvi: &buf.nd,
                nbr: &buf.nb,
            };
            let width = strip.width.max(1);
            rows.par_iter_mut().enumerate().for_each(|(row, out)| {
                detector.classify_row_runs(series, &buf.prior, row * width, width, out);
            });
            timings.classify += t.elapsed();
            let _ = empty_tx.send(buf);
            if sum_tx.send(rows).is_err() {
                break;
            }
            progress.report(sampled + k as u64 + 1, Some(total));
        }
        drop(full_rx);
        drop(empty_tx);
        drop(sum_tx);
        timings.read = reader.join().unwrap_or_default();
        match labeller.join() {
            Ok(labelled) => Ok(labelled),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let (changes, unobserved, pixels, label) = result?;
    timings.label = label;
    Ok(Outcome {
        timings,
        changes: changes.finish(),
        unobserved: unobserved.finish(),
        pixels,
        quality,
        offsets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::index::Scaling;

    #[test]
    fn the_minimum_mapping_unit_in_pixels() {
        assert_eq!(min_pixels(0.3, 0.01), 30);
        assert_eq!(min_pixels(0.3, 0.04), 8);
        assert_eq!(min_pixels(0.0, 0.01), 0);
        assert_eq!(min_pixels(0.5, 0.0009), 556);
        for (area, px) in [(0.3, 0.01), (0.3, 0.04), (0.5, 0.0009), (1.0, 0.01)] {
            let n = min_pixels(area, px);
            assert!(n as f64 * px + 1e-9 >= area && (n == 0 || (n - 1) as f64 * px + 1e-9 < area));
        }
    }

    /// UInt16 bands and the same values as floats give the same indices and
    /// tallies, for every SCL value and Landsat QA bit pattern, with no data.
    #[test]
    fn integer_and_float_bands_give_the_same_indices() {
        let n = 10_000;
        let red: Vec<u16> = (0..n).map(|i| (i * 37 % 9000) as u16).collect();
        let nir: Vec<u16> = (0..n)
            .map(|i| {
                if i % 53 == 0 {
                    0
                } else {
                    (i * 91 % 9000) as u16
                }
            })
            .collect();
        let swir: Vec<u16> = (0..n).map(|i| (i * 13 % 7000) as u16).collect();
        let qa: Vec<u16> = (0..n)
            .map(|i| (i % 300) as u16 | ((i as u16 / 300) << 8))
            .collect();
        let f = |v: &[u16]| v.iter().map(|x| f32::from(*x)).collect::<Vec<f32>>();
        for rule in [QualityRule::Scl, QualityRule::LandsatQa] {
            for (scaling, nodata) in [
                (Scaling::Sentinel2 { offset: -1000.0 }, Some(0.0)),
                (Scaling::LandsatC2L2, None),
            ] {
                let (mut a, mut b) = (
                    (vec![0f32; n], vec![0f32; n]),
                    (vec![0f32; n], vec![0f32; n]),
                );
                let qa_int = indices_from_bands(
                    &red,
                    &nir,
                    &swir,
                    Some((&qa, rule)),
                    nodata,
                    scaling.linear(),
                    &mut a.0,
                    &mut a.1,
                );
                let qa_float = indices_from_bands(
                    &f(&red),
                    &f(&nir),
                    &f(&swir),
                    Some((&f(&qa), rule)),
                    nodata,
                    scaling.linear(),
                    &mut b.0,
                    &mut b.1,
                );
                assert_eq!(qa_int, qa_float, "{rule:?}");
                assert!(
                    qa_int.clear > 0 && qa_int.cloud > 0 && qa_int.nodata > 0,
                    "{qa_int:?}"
                );
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a.0), bits(&b.0), "{rule:?}");
                assert_eq!(bits(&a.1), bits(&b.1), "{rule:?}");
                // The one-pass loop equals the loops a step at a time.
                let maker = IndexMaker::new(Some(rule), nodata, scaling.linear());
                let mut c = (vec![0f32; n], vec![0f32; n]);
                let qa_chunks = maker.in_chunks(&red, &nir, &swir, Some(&qa), &mut c.0, &mut c.1);
                assert_eq!(qa_chunks, qa_int, "{rule:?}");
                assert_eq!(bits(&c.0), bits(&a.0), "{rule:?}");
                assert_eq!(bits(&c.1), bits(&a.1), "{rule:?}");
                // and each pixel's quality is the rule's
                for i in 0..n {
                    let expect = rule.quality(f32::from(qa[i]));
                    let missing = nodata == Some(0.0) && (red[i] == 0 || nir[i] == 0);
                    if expect != Quality::Clear || missing {
                        assert!(a.0[i].is_nan(), "pixel {i}: {:?} {}", expect, qa[i]);
                    }
                }
            }
        }
    }
}
