//! Forest area and forest cover (Forestry Law 2017; domain reference §3).

use super::{FactGroup, Measure, Targets};

/// Forest area, natural area and cover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForestCover {
    /// Natural land area: every plot of the commune, ha.
    pub natural_area_ha: f64,
    /// Forest area (natural + established planted), ha, vs target.
    pub forest_area: Measure,
    /// Forest cover = forest ÷ natural area × 100, %, vs target.
    pub forest_cover: Measure,
    /// Natural forest, ha.
    pub natural_forest_ha: f64,
    /// Established planted forest, ha.
    pub planted_forest_ha: f64,
    /// Planted but not yet forest, ha (not counted as forest).
    pub planted_not_yet_forest_ha: f64,
}

impl ForestCover {
    /// Computes the cover from aggregated plots.
    ///
    /// # Units
    /// Areas in hectares (EPSG:9213), cover in percent.
    ///
    /// ```
    /// use forest_core::indicators::{FactGroup, ForestCover, PlotFacts, Targets};
    /// let forest = PlotFacts { nggocr: Some(1), ..Default::default() };
    /// let farm = PlotFacts { nggocr: Some(3), ldlr: Some("DNN".into()), ..Default::default() };
    /// let groups = [
    ///     FactGroup { facts: forest, plots: 3, area_ha: 11_261.6 },
    ///     FactGroup { facts: farm, plots: 1, area_ha: 1_974.88 },
    /// ];
    /// let c = ForestCover::compute(&groups, &Targets::default());
    /// assert_eq!(forest_core::indicators::round2(c.forest_cover.actual), 85.08);
    /// assert_eq!(c.forest_cover.met(), Some(true));
    /// ```
    pub fn compute(groups: &[FactGroup], targets: &Targets) -> Self {
        let sum = |pred: &dyn Fn(&FactGroup) -> bool| {
            groups
                .iter()
                .filter(|g| pred(g))
                .map(|g| g.area_ha)
                .sum::<f64>()
        };
        let natural_area_ha = sum(&|_| true);
        let forest = sum(&|g| g.facts.is_forest());
        let natural_forest_ha = sum(&|g| g.facts.is_forest() && g.facts.is_natural_forest());
        let cover = if natural_area_ha > 0.0 {
            forest / natural_area_ha * 100.0
        } else {
            0.0
        };
        ForestCover {
            natural_area_ha,
            forest_area: Measure::new(forest, targets.forest_area_ha, "ha"),
            forest_cover: Measure::new(cover, targets.forest_cover_pct, "%"),
            natural_forest_ha,
            planted_forest_ha: forest - natural_forest_ha,
            planted_not_yet_forest_ha: sum(&|g| g.facts.is_planted_not_yet_forest()),
        }
    }
}
