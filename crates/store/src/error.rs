//! Store errors, each saying what was being done.

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite / GeoPackage error.
    #[error("GeoPackage {path}: {action}: {source}")]
    Sqlite {
        /// The file.
        path: String,
        /// What was being done.
        action: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL error.
    #[error("PostGIS {url}: {action}: {source}")]
    Postgres {
        /// The URL without password.
        url: String,
        /// What was being done.
        action: &'static str,
        /// sqlx's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("PostGIS {url}: migration failed: {source}")]
    Migrate {
        /// The URL without password.
        url: String,
        /// sqlx's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A plot key appears twice in one load.
    #[error(
        "plot {key} appears twice in the load (items {first} and {second}); nothing was written"
    )]
    DuplicateKey {
        /// The key.
        key: String,
        /// 1-based index of the first.
        first: usize,
        /// 1-based index of the second.
        second: usize,
    },
    /// A plot's geometry cannot be stored.
    #[error("plot {key}: {reason}; nothing of this load was written")]
    InvalidGeometry {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A query names a field that cannot be filtered on.
    #[error("cannot filter on '{0}': not a field of the national plot schema")]
    UnknownFilter(String),
    /// A filter value does not fit its field.
    #[error("filter {field}={value}: {reason}")]
    BadFilter {
        /// Field.
        field: String,
        /// Value given.
        value: String,
        /// Why.
        reason: String,
    },
    /// A stored row no longer parses as a plot (edited outside the service?).
    #[error("stored plot {key} is invalid: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A CRS transform failed.
    #[error(transparent)]
    Crs(#[from] forest_core::CrsError),
    /// The file is not a GeoPackage of this service.
    #[error("{0}")]
    NotAStore(String),
    /// A status change that the alert lifecycle does not allow.
    #[error("alert {id}: {detail}")]
    Transition {
        /// The alert.
        id: i64,
        /// Why.
        detail: String,
    },
    /// No such alert.
    #[error("no alert {0}")]
    NoAlert(i64),
    /// A streamed load ended before its producer said it was complete.
    #[error("the load was abandoned before its end (its source could not be read through); nothing was written")]
    Abandoned,
    /// A background task failed.
    #[error("store task failed: {0}")]
    Task(String),
}
