//! Satellite hotspots as stored: every detection once (by its key), with
//! its position in EPSG:9213 and whether it fell in or near forest.

use chrono::{DateTime, Utc};
use forest_core::fire::Hotspot;

/// A hotspot to store or as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HotspotRow {
    /// Identifier (0 before it is stored).
    pub id: i64,
    /// The detection as read from the file.
    pub hotspot: Hotspot,
    /// Position, EPSG:9213 easting, m.
    pub x: f64,
    /// Position, EPSG:9213 northing, m.
    pub y: f64,
    /// In or within one pixel footprint of a forest plot (it raised a fire alert).
    pub in_forest: bool,
    /// The file it came from.
    pub source: String,
    /// When it was first stored.
    pub loaded_at: DateTime<Utc>,
}

/// What a hotspot import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HotspotReport {
    /// Hotspots not stored before.
    pub new: u64,
    /// Hotspots already stored (an overlapping file).
    pub known: u64,
}

/// Well-known binary of a 2D point (little endian).
pub(crate) fn point_wkb(x: f64, y: f64) -> Vec<u8> {
    let mut b = Vec::with_capacity(21);
    b.push(1);
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&x.to_le_bytes());
    b.extend_from_slice(&y.to_le_bytes());
    b
}
