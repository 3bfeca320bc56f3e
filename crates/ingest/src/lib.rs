//! Reading and writing the files the commune exchanges, through GDAL:
//! plot layers (ESRI Shapefile, GeoPackage, GeoJSON), the commune boundary,
//! and the protection contract register (CSV).
//!
//! Architecture invariant: this is the only crate that links GDAL. It turns
//! files into `forest_core` types and back; it never talks to a store.

pub mod contracts;
mod crs;
pub mod error;
pub mod vector;

pub use contracts::{read_contracts, write_contracts};
pub use error::IngestError;
pub use vector::{
    export_plots, read_plots, write_boundary, write_plots, PlotFile, ReadOptions, RowError,
    VectorFormat,
};
