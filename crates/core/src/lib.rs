//! Domain core of the forest and land management service for Vĩnh Thông
//! commune (Thái Nguyên, Vietnam): forest plots (lô) with the national
//! inventory schema, code lists, areas, coordinate reference systems,
//! protection contracts and the plan indicators.
//!
//! Architecture invariant: this crate does no I/O. It knows nothing of GDAL,
//! SQL, HTTP or async runtimes; PROJ is used only as a computation library.
//!
//! Units: lengths and coordinates in metres in EPSG:9213 (VN-2000 / TM-3
//! 106-30) unless a function says otherwise; areas in hectares.

pub mod area;
pub mod auth;
pub mod change;
pub mod codes;
pub mod contract;
pub mod crs;
pub mod fire;
pub mod indicators;
pub mod notify;
pub mod plot;
pub mod progress;
pub mod schema;
pub mod text;
pub mod topology;

pub use area::{geodesic_area_ha, planar_area_ha, AreaMismatch};
pub use contract::Contract;
pub use crs::{Crs, CrsError, Transformer};
pub use indicators::{FactGroup, Indicators, PlotFacts, Targets};
pub use plot::{FieldError, Plot, PlotAttributes, PlotKey, Record, Value};
pub use progress::Progress;

/// A code that is not in its list, missing, or contradicting another code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The value is not in the code list.
    #[error("{field} = {value} is not a known code (allowed: {allowed})")]
    Unknown {
        /// Field name.
        field: &'static str,
        /// The value found.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// A required code is missing.
    #[error("{field} is missing")]
    Missing {
        /// Field name(s).
        field: &'static str,
    },
    /// Two codes disagree.
    #[error("{detail}")]
    Inconsistent {
        /// Readable explanation.
        detail: String,
    },
}
