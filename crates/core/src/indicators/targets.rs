//! Plan targets (commune plan 2026–2030, domain reference §1).

/// The plan's targets; defaults are Vĩnh Thông's, configuration may override them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    /// Forest cover to keep, % of natural area.
    pub forest_cover_pct: f64,
    /// Forest area managed and protected, ha.
    pub forest_area_ha: f64,
    /// Forest under household protection contracts, ha.
    pub contracted_area_ha: f64,
    /// New concentrated plantation per year, ha.
    pub planting_ha_per_year: f64,
    /// Forest plots with an identified owner, %.
    pub allocation_pct: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            forest_cover_pct: 85.08,
            forest_area_ha: 11_261.6,
            contracted_area_ha: 4_594.34,
            planting_ha_per_year: 5.0,
            allocation_pct: 100.0,
        }
    }
}
