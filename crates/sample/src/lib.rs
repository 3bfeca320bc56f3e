//! Deterministic generator of the synthetic sample data: the plot layer, the
//! commune boundary and the protection contract register of Vĩnh Thông
//! commune, and the same kind of data at province scale for benchmarks.
//!
//! Everything is synthetic (see `sample-data/README.md`). The same seed and
//! scale give the same plots, bit for bit; this crate does no I/O.
//!
//! The commune is tiled by a jittered lattice of cells with wiggly shared
//! edges; cells are grouped into compartments (tk), sub-compartments
//! (khoảnh) and plots (lô). Because neighbouring plots share the very same
//! edge points, plots never overlap and leave no gaps. Totals are then made
//! exact: the whole layout is scaled so the natural area is 13,236.48 ha, and
//! shared edge points between two plots are nudged so that forest area
//! (11,261.60 ha) and contracted area (4,594.34 ha) hold to 1e-6 ha.

pub mod attributes;
pub mod hotspots;
mod layout;
mod names;
pub mod scenes;
pub mod weather;

use forest_core::{Contract, Plot};
use geo_types::MultiPolygon;

pub use layout::Layout;

/// Targets the generated commune meets exactly (ha, computed from geometry).
pub mod figures {
    /// Natural land area of the commune, ha.
    pub const NATURAL_AREA_HA: f64 = 13_236.48;
    /// Forest area, ha.
    pub const FOREST_AREA_HA: f64 = 11_261.60;
    /// Forest under household protection contracts, ha.
    pub const CONTRACTED_AREA_HA: f64 = 4_594.34;
    /// Default seed of the committed sample data.
    pub const SEED: u64 = 20_260_701;
    /// Commune code of Vĩnh Thông.
    pub const MAXA: i64 = 1981;
    /// Centre of the commune, WGS 84 lon, lat.
    pub const CENTRE_LONLAT: (f64, f64) = (105.956, 22.235);
}

/// One generated commune.
#[derive(Debug, Clone)]
pub struct Commune {
    /// Commune code.
    pub maxa: i64,
    /// Commune name.
    pub name: String,
    /// Plots, ordered by key.
    pub plots: Vec<Plot>,
    /// Commune boundary in EPSG:9213.
    pub boundary: MultiPolygon<f64>,
    /// Protection contract register.
    pub contracts: Vec<Contract>,
}

/// Generates `scale` communes: scale 1 is Vĩnh Thông alone (the committed
/// sample data); larger scales add neighbouring synthetic communes on a grid,
/// about 2,000 plots each, for province-scale benchmarks.
pub fn generate(seed: u64, scale: usize) -> Vec<Commune> {
    let cols = (scale as f64).sqrt().ceil().max(1.0) as usize;
    (0..scale.max(1))
        .map(|k| {
            let (col, row) = (k % cols, k / cols);
            let maxa = if k == 0 {
                figures::MAXA
            } else {
                20_000 + k as i64
            };
            let name = if k == 0 {
                "Vĩnh Thông".to_string()
            } else {
                names::commune_name(k)
            };
            // the lattice spans at most 92 × 98 cells of 165 m before scaling (≤ 1.15×): keep neighbours apart
            let offset = (col as f64 * 18_000.0, -(row as f64) * 19_000.0);
            let layout = Layout::build(seed.wrapping_add(k as u64 * 7919), offset);
            attributes::populate(layout, seed.wrapping_add(k as u64 * 104_729), maxa, &name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use forest_core::indicators::{group, round2, Indicators};
    use forest_core::Targets;

    #[test]
    fn the_commune_meets_the_published_figures() {
        let c = generate(figures::SEED, 1).remove(0);
        assert_eq!(
            c.plots.len(),
            1_722,
            "sample-data/README.md states the plot count"
        );
        assert_eq!(c.contracts.len(), 280);
        let ind = Indicators::compute(&group(&c.plots), &Targets::default(), 2026);
        assert_eq!(round2(ind.planting.actual), 1.96);
        assert_eq!(ind.allocation.without_owner.plots, 32);
        assert_eq!(ind.allocation.in_dispute.plots, 17);
        assert_eq!(round2(ind.cover.natural_area_ha), figures::NATURAL_AREA_HA);
        assert_eq!(
            round2(ind.cover.forest_area.actual),
            figures::FOREST_AREA_HA
        );
        assert_eq!(round2(ind.cover.forest_cover.actual), 85.08);
        assert_eq!(
            round2(ind.contracted_area.actual),
            figures::CONTRACTED_AREA_HA
        );
        let register: f64 = c.contracts.iter().map(|k| k.area_ha).sum();
        assert_eq!(round2(register), figures::CONTRACTED_AREA_HA);
        let mismatches = c
            .plots
            .iter()
            .filter(|p| {
                forest_core::AreaMismatch::check(p.attrs.dtich.unwrap_or(0.0), p.area_ha())
                    .is_some()
            })
            .count();
        assert_eq!(mismatches, attributes::DTICH_MISMATCHES);
        let facts: std::collections::BTreeMap<_, _> = c
            .plots
            .iter()
            .map(|p| {
                (
                    p.key.clone(),
                    forest_core::contract::ContractedPlot {
                        holder_code: p.attrs.mangnk,
                        contracted: p.is_contracted(),
                        forest: p.is_forest(),
                        area_ha: p.area_ha(),
                    },
                )
            })
            .collect();
        assert_eq!(
            forest_core::contract::check_register(&c.contracts, &facts),
            Vec::<String>::new()
        );
    }

    #[test]
    fn province_scale_places_communes_side_by_side() {
        use geo::{BoundingRect, Intersects};
        let communes = generate(figures::SEED, 6);
        assert_eq!(communes.len(), 6);
        let codes: std::collections::BTreeSet<_> = communes.iter().map(|c| c.maxa).collect();
        assert_eq!(codes.len(), 6);
        // each commune stays inside its own 18 km × 19 km cell of the grid
        // (three columns here), so no two communes meet whatever the seed
        for (k, c) in communes.iter().enumerate() {
            let r = c.boundary.bounding_rect().unwrap();
            let (cx, cy) = (
                layout::CENTRE.x + (k % 3) as f64 * 18_000.0,
                layout::CENTRE.y - (k / 3) as f64 * 19_000.0,
            );
            assert!(
                r.min().x > cx - 9_000.0 && r.max().x < cx + 9_000.0,
                "commune {k} is too wide: {r:?}"
            );
            assert!(
                r.min().y > cy - 9_500.0 && r.max().y < cy + 9_500.0,
                "commune {k} is too tall: {r:?}"
            );
        }
        let boxes: Vec<_> = communes
            .iter()
            .map(|c| c.boundary.bounding_rect().unwrap())
            .collect();
        for i in 0..boxes.len() {
            for j in i + 1..boxes.len() {
                assert!(
                    !boxes[i].intersects(&boxes[j]),
                    "communes {i} and {j} overlap"
                );
            }
        }
        for c in &communes {
            let ind = Indicators::compute(&group(&c.plots), &Targets::default(), 2026);
            assert_eq!(
                round2(ind.cover.forest_area.actual),
                figures::FOREST_AREA_HA,
                "{}",
                c.name
            );
            assert!(c.plots.iter().all(|p| i64::from(p.key.maxa()) == c.maxa));
        }
    }

    #[test]
    fn generation_is_deterministic() {
        let a = generate(42, 1).remove(0);
        let b = generate(42, 1).remove(0);
        assert_eq!(a.plots, b.plots);
        assert_eq!(a.contracts, b.contracts);
    }
}
