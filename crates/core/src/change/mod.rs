//! Land-cover change detection on plain in-memory grids: spectral indices,
//! per-pixel classification against a baseline, connected components,
//! outlines, alert candidates with their attribution and priority, and the
//! evaluation against ground truth. No GDAL types: the ingest crate reads
//! rasters window by window into these grids.
//!
//! The pipeline for one strip of rows of the [`GridSpec`]: scenes become
//! NDVI/NBR layers ([`index`]), the plot layer becomes a [`Prior`] per pixel
//! ([`rasterize`]), the [`Detector`] classifies every pixel in parallel, and
//! [`Segmenter`]s label changed and unobserved pixels across strips. At the
//! end, components become [`AlertCandidate`]s.

pub mod alert;
pub mod detect;
pub mod evaluate;
pub mod grid;
pub mod index;
pub mod pipeline;
pub mod polygon;
pub mod rasterize;
pub mod segment;
mod simd;

pub use alert::{
    candidates, fire_priority, priority, AlertCandidate, PlotIndex, PlotTouch, Priority,
};
pub use detect::{
    Confidence, Detector, OffsetEstimator, Params, PixelClass, PixelResult, Prior, Series,
};
pub use grid::GridSpec;
pub use pipeline::{run, Bands, Outcome, Quality, Sample, StripSource};
pub use segment::{Component, Segmenter};
