//! Errors of file ingestion; each names the file it concerns.

use std::path::PathBuf;

/// A file that could not be read or written at all (row problems are
/// reported as [`crate::RowError`]s instead).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// GDAL failed on a file.
    #[error("{path}: GDAL could not {action}: {source}")]
    Gdal {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// GDAL's error.
        #[source]
        source: gdal::errors::GdalError,
    },
    /// The layer's coordinate reference system is missing or not supported.
    #[error("{path}: {detail}")]
    Crs {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The file has no layer, or not the expected one.
    #[error("{path}: {detail}")]
    Layer {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A CSV file could not be read or written.
    #[error("{path}: {detail}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A raster scene that cannot be used as it is.
    #[error("{path}: {detail}")]
    Raster {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// A file system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}
