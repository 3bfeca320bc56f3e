//! Plan indicators of the commune (domain reference §1, §3): forest area,
//! forest cover, contracted area, allocation progress, planting, and
//! breakdowns, each reported as actual vs target.
//!
//! Stores aggregate plots into [`FactGroup`]s (one row per distinct
//! [`PlotFacts`] with plot count and area); everything here is computed from
//! those groups, so both stores give the same figures by construction.

mod allocation;
mod breakdown;
mod forest_cover;
mod targets;

pub use allocation::{Allocation, Share};
pub use breakdown::{Breakdown, BreakdownRow};
pub use forest_cover::ForestCover;
pub use targets::Targets;

use crate::codes::{Establishment, ForestOrigin, ForestState, LandRight};
use crate::plot;

/// The attributes of a plot that the indicators depend on, as raw codes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PlotFacts {
    /// `nggocr`.
    pub nggocr: Option<i64>,
    /// `thanhrung`.
    pub thanhrung: Option<i64>,
    /// `ldlr`.
    pub ldlr: Option<String>,
    /// `malr3`.
    pub malr3: Option<i64>,
    /// `dtuong`.
    pub dtuong: Option<i64>,
    /// Compartment.
    pub tk: String,
    /// Village / place name.
    pub ddanh: Option<String>,
    /// `churung` is present.
    pub owner_named: bool,
    /// `machur` is present and not 0.
    pub owner_coded: bool,
    /// `quyensd`.
    pub quyensd: Option<i64>,
    /// `trchap`.
    pub trchap: Option<i64>,
    /// `khoan`.
    pub khoan: Option<i64>,
    /// `nguoink` is present.
    pub holder_named: bool,
    /// `mangnk` is present and not 0.
    pub holder_coded: bool,
    /// `namtr`.
    pub namtr: Option<i64>,
}

impl PlotFacts {
    /// The facts of a plot.
    pub fn of(p: &plot::Plot) -> Self {
        let a = &p.attrs;
        PlotFacts {
            nggocr: a.nggocr.map(|c| c.code()),
            thanhrung: a.thanhrung.map(|c| c.code()),
            ldlr: a.state.as_ref().and_then(|s| s.code().map(str::to_string)),
            malr3: a.malr3.map(|c| c.code()),
            dtuong: a.dtuong.map(|c| c.code()),
            tk: p.key.tk().to_string(),
            ddanh: a.ddanh.clone(),
            owner_named: a.churung.as_deref().is_some_and(|c| !c.trim().is_empty()),
            owner_coded: a.machur.is_some_and(|c| c != 0),
            quyensd: a.quyensd.map(|c| c.code()),
            trchap: a.trchap,
            khoan: a.khoan,
            holder_named: a.nguoink.as_deref().is_some_and(|c| !c.trim().is_empty()),
            holder_coded: a.mangnk.is_some_and(|c| c != 0),
            namtr: a.namtr,
        }
    }

    /// Forest rule of domain reference §3.
    pub fn is_forest(&self) -> bool {
        let origin = self.nggocr.and_then(|c| ForestOrigin::from_code(c).ok());
        let est = self
            .thanhrung
            .and_then(|c| Establishment::from_code(c).ok());
        let state = self
            .ldlr
            .as_deref()
            .and_then(|c| ForestState::parse(Some(c), None).ok());
        plot::is_forest(origin, est, state.as_ref())
    }

    /// Natural forest.
    pub fn is_natural_forest(&self) -> bool {
        self.nggocr == Some(ForestOrigin::Natural.code())
    }

    /// Planted land that is not yet forest.
    pub fn is_planted_not_yet_forest(&self) -> bool {
        self.nggocr == Some(ForestOrigin::Planted.code()) && !self.is_forest()
    }

    /// An owner is identified.
    pub fn has_owner(&self) -> bool {
        self.owner_named || self.owner_coded
    }

    /// A land-use certificate or forest record (red or green book) is held.
    pub fn has_certificate(&self) -> bool {
        self.quyensd
            .and_then(|c| LandRight::from_code(c).ok())
            .is_some_and(LandRight::is_certificate)
    }

    /// The plot is in dispute.
    pub fn in_dispute(&self) -> bool {
        self.trchap.is_some_and(|t| t != 0)
    }

    /// Under a protection contract with a named or coded holder.
    pub fn is_contracted(&self) -> bool {
        self.khoan.is_some_and(|k| k != 0) && (self.holder_named || self.holder_coded)
    }
}

/// Plots sharing the same facts, with their count and geometric area.
#[derive(Debug, Clone, PartialEq)]
pub struct FactGroup {
    /// The shared facts.
    pub facts: PlotFacts,
    /// Number of plots.
    pub plots: u64,
    /// Geometric area in EPSG:9213, ha.
    pub area_ha: f64,
}

/// Groups plots by their facts (what a store does with SQL).
pub fn group(plots: &[plot::Plot]) -> Vec<FactGroup> {
    let mut map: std::collections::BTreeMap<PlotFacts, (u64, f64)> = Default::default();
    for p in plots {
        let e = map.entry(PlotFacts::of(p)).or_default();
        e.0 += 1;
        e.1 += p.area_ha();
    }
    map.into_iter()
        .map(|(facts, (plots, area_ha))| FactGroup {
            facts,
            plots,
            area_ha,
        })
        .collect()
}

/// One figure with its plan target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// The value found in the data.
    pub actual: f64,
    /// The plan's target, when the plan sets one.
    pub target: Option<f64>,
    /// Unit: "ha", "%", "ha/yr".
    pub unit: &'static str,
}

impl Measure {
    /// A measure with a target.
    pub fn new(actual: f64, target: f64, unit: &'static str) -> Self {
        Measure {
            actual,
            target: Some(target),
            unit,
        }
    }

    /// True when the actual value, rounded to 2 decimals, reaches the target.
    pub fn met(&self) -> Option<bool> {
        self.target.map(|t| round2(self.actual) >= round2(t))
    }

    /// Actual minus target.
    pub fn gap(&self) -> Option<f64> {
        self.target.map(|t| self.actual - t)
    }
}

/// Rounds to two decimals (the precision of official areas and rates).
pub fn round2(v: f64) -> f64 {
    // `+ 0.0` turns -0.0 into 0.0, which reads better in JSON
    (v * 100.0).round() / 100.0 + 0.0
}

/// Every indicator of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicators {
    /// Number of plots.
    pub plots: u64,
    /// Forest area, forest cover and their parts.
    pub cover: ForestCover,
    /// Forest area under household protection contracts.
    pub contracted_area: Measure,
    /// Plantation established in the reference year.
    pub planting: Measure,
    /// Planted area by planting year (namtr), ascending.
    pub planting_by_year: Vec<(i64, f64)>,
    /// Allocation of forest plots to owners.
    pub allocation: Allocation,
    /// By forest function (malr3).
    pub by_function: Breakdown,
    /// By owner type (dtuong).
    pub by_owner_type: Breakdown,
    /// By forest / land state (ldlr).
    pub by_forest_type: Breakdown,
    /// By village / place (ddanh).
    pub by_village: Breakdown,
    /// By compartment (tk).
    pub by_compartment: Breakdown,
}

impl Indicators {
    /// Computes every indicator from aggregated groups.
    ///
    /// `reference_year` is the year whose planting is compared with the plan's
    /// yearly planting target.
    pub fn compute(groups: &[FactGroup], targets: &Targets, reference_year: i64) -> Self {
        let plots = groups.iter().map(|g| g.plots).sum();
        let cover = ForestCover::compute(groups, targets);
        let contracted: f64 = groups
            .iter()
            .filter(|g| g.facts.is_forest() && g.facts.is_contracted())
            .map(|g| g.area_ha)
            .sum();
        let mut by_year: std::collections::BTreeMap<i64, f64> = Default::default();
        for g in groups
            .iter()
            .filter(|g| g.facts.nggocr == Some(ForestOrigin::Planted.code()))
        {
            if let Some(y) = g.facts.namtr {
                *by_year.entry(y).or_default() += g.area_ha;
            }
        }
        let planted_this_year = by_year.get(&reference_year).copied().unwrap_or(0.0);
        Indicators {
            plots,
            cover,
            contracted_area: Measure::new(contracted, targets.contracted_area_ha, "ha"),
            planting: Measure::new(planted_this_year, targets.planting_ha_per_year, "ha/yr"),
            planting_by_year: by_year.into_iter().collect(),
            allocation: Allocation::compute(groups, targets),
            by_function: Breakdown::by_function(groups),
            by_owner_type: Breakdown::by_owner_type(groups),
            by_forest_type: Breakdown::by_forest_type(groups),
            by_village: Breakdown::by_village(groups),
            by_compartment: Breakdown::by_compartment(groups),
        }
    }
}
