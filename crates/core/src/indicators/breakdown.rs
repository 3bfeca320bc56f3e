//! Breakdowns of area by forest function, owner type, forest type, village
//! and compartment.

use std::collections::BTreeMap;

use super::{FactGroup, PlotFacts};
use crate::codes::{ForestFunction, ForestState, OwnerType};

/// One row of a breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakdownRow {
    /// The code or name grouped on ("" when the plots leave it empty).
    pub key: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
    /// Plots.
    pub plots: u64,
    /// Area of all plots, ha.
    pub area_ha: f64,
    /// Forest area, ha.
    pub forest_ha: f64,
    /// Forest under protection contract, ha.
    pub contracted_ha: f64,
}

/// Rows ordered by key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Breakdown {
    /// The rows.
    pub rows: Vec<BreakdownRow>,
}

impl Breakdown {
    fn build(groups: &[FactGroup], key: impl Fn(&PlotFacts) -> (String, String, String)) -> Self {
        let mut map: BTreeMap<String, BreakdownRow> = BTreeMap::new();
        for g in groups {
            let (k, vi, en) = key(&g.facts);
            let row = map.entry(k.clone()).or_insert_with(|| BreakdownRow {
                key: k,
                label_vi: vi,
                label_en: en,
                plots: 0,
                area_ha: 0.0,
                forest_ha: 0.0,
                contracted_ha: 0.0,
            });
            row.plots += g.plots;
            row.area_ha += g.area_ha;
            if g.facts.is_forest() {
                row.forest_ha += g.area_ha;
                if g.facts.is_contracted() {
                    row.contracted_ha += g.area_ha;
                }
            }
        }
        Breakdown {
            rows: map.into_values().collect(),
        }
    }

    /// By forest function (malr3).
    pub fn by_function(groups: &[FactGroup]) -> Self {
        Self::build(groups, |f| {
            match f.malr3.and_then(|c| ForestFunction::from_code(c).ok()) {
                Some(c) => (
                    c.code().to_string(),
                    c.label_vi().into(),
                    c.label_en().into(),
                ),
                None => (String::new(), "Không xác định".into(), "not set".into()),
            }
        })
    }

    /// By owner type (dtuong).
    pub fn by_owner_type(groups: &[FactGroup]) -> Self {
        Self::build(groups, |f| {
            match f.dtuong.and_then(|c| OwnerType::from_code(c).ok()) {
                Some(c) => (
                    format!("{:02}", c.code()),
                    c.label_vi().into(),
                    c.label_en().into(),
                ),
                None => (String::new(), "Chưa có chủ".into(), "no owner".into()),
            }
        })
    }

    /// By forest / land state (ldlr).
    pub fn by_forest_type(groups: &[FactGroup]) -> Self {
        Self::build(groups, |f| {
            match f
                .ldlr
                .as_deref()
                .and_then(|c| ForestState::parse(Some(c), None).ok())
            {
                Some(s) => (
                    s.code().unwrap_or_default().to_string(),
                    s.label_vi(),
                    s.label_en(),
                ),
                None => (String::new(), "Không xác định".into(), "not set".into()),
            }
        })
    }

    /// By village / place name (ddanh).
    pub fn by_village(groups: &[FactGroup]) -> Self {
        Self::build(groups, |f| {
            let name = f.ddanh.clone().unwrap_or_default();
            (name.clone(), name.clone(), name)
        })
    }

    /// By compartment (tk).
    pub fn by_compartment(groups: &[FactGroup]) -> Self {
        Self::build(groups, |f| {
            (
                f.tk.clone(),
                format!("Tiểu khu {}", f.tk),
                format!("compartment {}", f.tk),
            )
        })
    }
}
