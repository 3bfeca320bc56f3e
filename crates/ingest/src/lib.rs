//! Reading and writing the files the commune exchanges, through GDAL:
//! plot layers (ESRI Shapefile, GeoPackage, GeoJSON), the commune boundary,
//! and the protection contract register (CSV).
//!
//! Architecture invariant: this is the only crate that links GDAL. It turns
//! files into `forest_core` types and back; it never talks to a store.

pub mod contracts;
mod crs;
mod dbf;
pub mod error;
pub mod hotspots;
pub mod raster;
pub mod vector;
pub mod weather;

/// Routes GDAL's own messages into the service's structured log instead of
/// raw stderr lines (once per process). A null-object complaint from GDAL is
/// an empty geometry the import already reports, so it is logged at debug.
pub fn route_gdal_messages() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gdal::config::set_error_handler(|class, number, message| {
            use gdal::errors::CplErrType;
            match class {
                CplErrType::Warning => tracing::warn!(gdal_error = number, "GDAL: {message}"),
                CplErrType::Failure | CplErrType::Fatal if number != 10 => {
                    tracing::warn!(gdal_error = number, "GDAL: {message}")
                }
                _ => tracing::debug!(gdal_error = number, "GDAL: {message}"),
            }
        });
    });
}

pub use contracts::{read_contracts, write_contracts};
pub use error::IngestError;
pub use vector::{
    export_plots, read_boundary, read_plots, read_plots_with, read_truth, write_boundary,
    write_plots, write_truth, PlotFile, ReadOptions, RowError, RowNote, VectorFormat,
};
