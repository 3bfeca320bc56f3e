//! Forest land allocation progress: every forest plot must have an identified
//! owner (plan target 100 %).

use super::{FactGroup, Measure, Targets};

/// A count of plots and their area.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Share {
    /// Plots.
    pub plots: u64,
    /// Area, ha.
    pub area_ha: f64,
}

impl Share {
    fn add(&mut self, g: &FactGroup) {
        self.plots += g.plots;
        self.area_ha += g.area_ha;
    }
}

/// Allocation of forest plots (plots counted as forest, domain reference §3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allocation {
    /// All forest plots.
    pub forest: Share,
    /// With an identified owner.
    pub with_owner: Share,
    /// With a red or green book.
    pub with_certificate: Share,
    /// In dispute.
    pub in_dispute: Share,
    /// Without an owner.
    pub without_owner: Share,
    /// Share of forest area with an identified owner, %, vs target.
    pub owner_pct: Measure,
}

impl Allocation {
    /// Computes allocation progress from aggregated plots.
    pub fn compute(groups: &[FactGroup], targets: &Targets) -> Self {
        let (mut forest, mut with_owner, mut with_certificate, mut in_dispute, mut without_owner) = (
            Share::default(),
            Share::default(),
            Share::default(),
            Share::default(),
            Share::default(),
        );
        for g in groups.iter().filter(|g| g.facts.is_forest()) {
            forest.add(g);
            if g.facts.has_owner() {
                with_owner.add(g);
            } else {
                without_owner.add(g);
            }
            if g.facts.has_certificate() {
                with_certificate.add(g);
            }
            if g.facts.in_dispute() {
                in_dispute.add(g);
            }
        }
        let pct = if forest.area_ha > 0.0 {
            with_owner.area_ha / forest.area_ha * 100.0
        } else {
            0.0
        };
        Allocation {
            forest,
            with_owner,
            with_certificate,
            in_dispute,
            without_owner,
            owner_pct: Measure::new(pct, targets.allocation_pct, "%"),
        }
    }
}
