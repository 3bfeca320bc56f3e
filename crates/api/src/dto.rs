//! Wire types: what the API and `forest stats --json` print. Areas in
//! hectares and percentages rounded to 0.01, as official figures are.

use forest_core::indicators::{round2, Breakdown, Measure, Share};
use forest_core::Indicators;
use serde::Serialize;

/// An indicator with its plan target.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MeasureDto {
    /// Value in the data.
    pub actual: f64,
    /// Plan target.
    pub target: Option<f64>,
    /// Actual minus target.
    pub gap: Option<f64>,
    /// Whether the target is reached.
    pub met: Option<bool>,
    /// Unit.
    pub unit: &'static str,
}

impl From<&Measure> for MeasureDto {
    fn from(m: &Measure) -> Self {
        MeasureDto {
            actual: round2(m.actual),
            target: m.target,
            gap: m.gap().map(round2),
            met: m.met(),
            unit: m.unit,
        }
    }
}

/// Plots and area.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShareDto {
    /// Plots.
    pub plots: u64,
    /// Area, ha.
    pub area_ha: f64,
}

impl From<&Share> for ShareDto {
    fn from(s: &Share) -> Self {
        ShareDto {
            plots: s.plots,
            area_ha: round2(s.area_ha),
        }
    }
}

/// Allocation progress of forest plots.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AllocationDto {
    /// All forest plots.
    pub forest: ShareDto,
    /// With an identified owner.
    pub with_owner: ShareDto,
    /// With a red or green book.
    pub with_certificate: ShareDto,
    /// In dispute.
    pub in_dispute: ShareDto,
    /// Without owner.
    pub without_owner: ShareDto,
    /// Forest area with an identified owner, %.
    pub owner_pct: MeasureDto,
}

impl From<&forest_core::indicators::Allocation> for AllocationDto {
    fn from(a: &forest_core::indicators::Allocation) -> Self {
        AllocationDto {
            forest: (&a.forest).into(),
            with_owner: (&a.with_owner).into(),
            with_certificate: (&a.with_certificate).into(),
            in_dispute: (&a.in_dispute).into(),
            without_owner: (&a.without_owner).into(),
            owner_pct: (&a.owner_pct).into(),
        }
    }
}

/// One breakdown row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BreakdownRowDto {
    /// Code or name.
    pub key: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
    /// Plots.
    pub plots: u64,
    /// Area, ha.
    pub area_ha: f64,
    /// Forest, ha.
    pub forest_ha: f64,
    /// Forest under protection contract, ha.
    pub contracted_ha: f64,
}

fn rows(b: &Breakdown) -> Vec<BreakdownRowDto> {
    b.rows
        .iter()
        .map(|r| BreakdownRowDto {
            key: r.key.clone(),
            label_vi: r.label_vi.clone(),
            label_en: r.label_en.clone(),
            plots: r.plots,
            area_ha: round2(r.area_ha),
            forest_ha: round2(r.forest_ha),
            contracted_ha: round2(r.contracted_ha),
        })
        .collect()
}

/// Every indicator of the commune plan.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndicatorsDto {
    /// Number of plots.
    pub plots: u64,
    /// Natural land area, ha.
    pub natural_area_ha: f64,
    /// Forest area, ha, vs target.
    pub forest_area_ha: MeasureDto,
    /// Forest cover, %, vs target.
    pub forest_cover_pct: MeasureDto,
    /// Natural forest, ha.
    pub natural_forest_ha: f64,
    /// Established planted forest, ha.
    pub planted_forest_ha: f64,
    /// Planted, not yet forest, ha.
    pub planted_not_yet_forest_ha: f64,
    /// Forest under household protection contracts, ha, vs target.
    pub contracted_area_ha: MeasureDto,
    /// Year of the planting figure.
    pub reference_year: i64,
    /// Planting in the reference year, ha, vs target.
    pub planting_ha: MeasureDto,
    /// Planted area by planting year.
    pub planting_by_year: Vec<(i64, f64)>,
    /// Allocation progress.
    pub allocation: AllocationDto,
    /// By forest function (malr3).
    pub by_function: Vec<BreakdownRowDto>,
    /// By owner type (dtuong).
    pub by_owner_type: Vec<BreakdownRowDto>,
    /// By forest type (ldlr).
    pub by_forest_type: Vec<BreakdownRowDto>,
    /// By village (ddanh).
    pub by_village: Vec<BreakdownRowDto>,
    /// By compartment (tk).
    pub by_compartment: Vec<BreakdownRowDto>,
}

impl IndicatorsDto {
    /// The wire form of the indicators.
    pub fn new(i: &Indicators, reference_year: i64) -> Self {
        let a = &i.allocation;
        IndicatorsDto {
            plots: i.plots,
            natural_area_ha: round2(i.cover.natural_area_ha),
            forest_area_ha: (&i.cover.forest_area).into(),
            forest_cover_pct: (&i.cover.forest_cover).into(),
            natural_forest_ha: round2(i.cover.natural_forest_ha),
            planted_forest_ha: round2(i.cover.planted_forest_ha),
            planted_not_yet_forest_ha: round2(i.cover.planted_not_yet_forest_ha),
            contracted_area_ha: (&i.contracted_area).into(),
            reference_year,
            planting_ha: (&i.planting).into(),
            planting_by_year: i
                .planting_by_year
                .iter()
                .map(|(y, a)| (*y, round2(*a)))
                .collect(),
            allocation: a.into(),
            by_function: rows(&i.by_function),
            by_owner_type: rows(&i.by_owner_type),
            by_forest_type: rows(&i.by_forest_type),
            by_village: rows(&i.by_village),
            by_compartment: rows(&i.by_compartment),
        }
    }
}

/// A rejected row of an import.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RejectedRowDto {
    /// 1-based row (or CSV line) number.
    pub row: u64,
    /// Plot key or contract number, as far as it could be read.
    pub key: Option<String>,
    /// Every reason.
    pub reasons: Vec<String>,
}

/// A plot whose declared area disagrees with its geometry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AreaMismatchDto {
    /// Plot key.
    pub key: String,
    /// Declared `dtich`, ha.
    pub declared_ha: f64,
    /// Area of the geometry in EPSG:9213, ha.
    pub geometric_ha: f64,
}

/// Planar (EPSG:9213) vs geodesic (WGS 84 ellipsoid) area of a set of plots.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AreaCrossCheckDto {
    /// Plots compared.
    pub plots: u64,
    /// Their planar area, ha.
    pub planar_ha: f64,
    /// Their geodesic area, ha.
    pub geodesic_ha: f64,
    /// (geodesic − planar) ÷ planar, %.
    pub difference_pct: f64,
}

/// Two plots that overlap (lô must not).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OverlapDto {
    /// First plot.
    pub a: String,
    /// Second plot.
    pub b: String,
    /// Shared area, m².
    pub area_m2: f64,
    /// A thin sliver (digitising noise) rather than land given twice.
    pub sliver: bool,
}

/// Land inside the boundary that no plot covers.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GapDto {
    /// Area, m².
    pub area_m2: f64,
    /// Easting of a point of the gap, EPSG:9213.
    pub x: f64,
    /// Northing, EPSG:9213.
    pub y: f64,
    /// A thin sliver.
    pub sliver: bool,
}

/// What a load wrote.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoadDto {
    /// Load id.
    pub load_id: i64,
    /// New plots.
    pub inserted: u64,
    /// Plots with a new version.
    pub updated: u64,
    /// Plots loaded again unchanged.
    pub unchanged: u64,
}

/// The report of `forest import plots`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImportReportDto {
    /// The file.
    pub file: String,
    /// The layer read.
    pub layer: String,
    /// CRS of the file.
    pub source_crs: String,
    /// Text encoding of the attributes, and how it was decided.
    pub encoding: String,
    /// Rows read.
    pub rows: u64,
    /// Rows that became plots.
    pub valid: u64,
    /// Rows rejected.
    pub rejected: Vec<RejectedRowDto>,
    /// Warnings about the file.
    pub warnings: Vec<String>,
    /// Plots whose invalid geometry was repaired.
    pub repaired: Vec<RejectedRowDto>,
    /// Fields outside the national schema, kept with the plots.
    pub unmapped_fields: Vec<String>,
    /// Pairs of plots that overlap by more than 1 m².
    pub overlaps: Vec<OverlapDto>,
    /// Gaps inside the boundary (when one was given) larger than 1 m².
    pub gaps: Vec<GapDto>,
    /// Declared areas that disagree with the geometry (> 1 % and > 0.05 ha).
    pub area_mismatches: Vec<AreaMismatchDto>,
    /// Planar area of the valid plots in EPSG:9213, ha.
    pub planar_area_ha: f64,
    /// Planar vs geodesic area of the plots (all of them, or an even sample in large files).
    pub cross_check: AreaCrossCheckDto,
    /// Whether anything was written.
    pub written: bool,
    /// What was written.
    pub load: Option<LoadDto>,
}

/// The latest unbroken run of days (the index cannot be carried over a gap).
pub fn latest_run(days: &[forest_core::fire::DailyWeather]) -> &[forest_core::fire::DailyWeather] {
    let mut start = 0;
    for i in 1..days.len() {
        if (days[i].date - days[i - 1].date).num_days() != 1 {
            start = i;
        }
    }
    &days[start..]
}

/// Forest plots per fuel-weighted danger level for an index value: plots
/// and hectares at each level.
pub fn plots_by_level(
    index: f64,
    shapes: &[forest_core::change::alert::PlotShape],
    p: &forest_core::fire::DangerParams,
) -> serde_json::Value {
    use forest_core::fire::roman;
    let mut plots = [0u64; 5];
    let mut ha = [0f64; 5];
    for s in shapes.iter().filter(|s| s.forest) {
        let k = usize::from(plot_level(index, s, p)) - 1;
        plots[k] += 1;
        ha[k] += forest_core::planar_area_ha(&s.geometry);
    }
    serde_json::Value::Array(
        (0..5)
            .map(|k| {
                serde_json::json!({
                    "level": k + 1,
                    "level_roman": roman(k as u8 + 1),
                    "forest_plots": plots[k],
                    "forest_ha": (ha[k] * 100.0).round() / 100.0,
                })
            })
            .collect(),
    )
}

/// The danger level (1–5) of one plot on a day with this Nesterov `index`,
/// weighted by the plot's fuel (pine, acacia, bamboo, grass…).
pub fn plot_level(
    index: f64,
    s: &forest_core::change::alert::PlotShape,
    p: &forest_core::fire::DangerParams,
) -> u8 {
    use forest_core::fire::Fuel;
    let fuel = Fuel::of(s.touch.sldlr.as_deref(), s.touch.ldlr.as_deref());
    p.plot_level(&s.touch.key, index * fuel.weight(&p.fuel_weights))
        .clamp(1, 5)
}

/// The fire-danger document of `/api/fire-danger` and `forest danger --json`.
pub fn fire_danger(
    days: &[forest_core::fire::DailyWeather],
    p: &forest_core::fire::DangerParams,
) -> serde_json::Value {
    use forest_core::fire::{danger_series, roman};
    let run = latest_run(days);
    let series = danger_series(run, p).unwrap_or_default();
    let current = series.last();
    serde_json::json!({
        "method": "cumulative Nesterov index P = Σ t13·d13 since the last day with rain ≥ rain_reset_mm (Decision 127/2000/QĐ-BNN-KL)",
        "rain_reset_mm": p.rain_reset_mm,
        "thresholds": p.thresholds,
        "levels": ["I", "II", "III", "IV", "V"],
        "gap_before": (run.len() < days.len()).then(|| run.first().map(|d| d.date.to_string())).flatten(),
        "current": current.map(|d| serde_json::json!({
            "date": d.date.to_string(), "index": (d.index * 10.0).round() / 10.0, "level": d.level, "level_roman": roman(d.level)
        })),
        "days": series.iter().map(|d| serde_json::json!({
            "date": d.date.to_string(),
            "deficit_hpa": (d.deficit_hpa * 100.0).round() / 100.0,
            "index": (d.index * 10.0).round() / 10.0,
            "level": d.level,
            "reset": d.reset,
        })).collect::<Vec<_>>(),
    })
}
