//! From components of changed pixels to alerts: outline, area, class,
//! confidence, mean index drop, dates; attribution to the plots they touch
//! (owner, contract holder, function, forest type, overlapped area); and the
//! priority that orders what rangers see first, with its reasons.

use chrono::NaiveDate;
use geo::{Area, BooleanOps, BoundingRect, Intersects};
use geo_types::MultiPolygon;
use rstar::{RTree, RTreeObject, AABB};
use serde::{Deserialize, Serialize};

use super::detect::{Confidence, PixelClass, Prior, NO_SCENE};
use super::grid::GridSpec;
use super::polygon::outline;
use super::rasterize::Burner;
use super::segment::Component;
use crate::codes::{ForestFunction, ForestOrigin};
use crate::plot::{Plot, PlotKey};

/// An alert as the detector produces it, before it meets the store.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertCandidate {
    /// Outline in EPSG:9213.
    pub geometry: MultiPolygon<f64>,
    /// Area in hectares (pixel count × pixel area).
    pub area_ha: f64,
    /// Clearing, degradation or burn.
    pub class: PixelClass,
    /// Low (one observation) or high (confirmed); high once most of the
    /// pixels are confirmed.
    pub confidence: Confidence,
    /// Mean NDVI drop (seasonally corrected).
    pub mean_drop: f64,
    /// Mean dNBR where SWIR was available.
    pub mean_dnbr: Option<f64>,
    /// Date of the first observation that showed the change.
    pub first_observed: NaiveDate,
    /// Date of the last clear observation before it.
    pub last_clear_before: Option<NaiveDate>,
    /// Pixels.
    pub pixels: u64,
}

/// Turns components into alert candidates, dropping those under the minimum
/// mapping unit. `dates` are the run's scene dates (index order).
pub fn candidates(
    components: &[Component],
    grid: &GridSpec,
    dates: &[NaiveDate],
    min_area_ha: f64,
) -> Vec<AlertCandidate> {
    use rayon::prelude::*;
    // Outlining is independent per component: on every core, in order.
    components
        .par_iter()
        .filter_map(|c| {
            let t = &c.tally;
            let area_ha = t.pixels as f64 * grid.pixel_area_ha();
            if area_ha + 1e-9 < min_area_ha || t.first == NO_SCENE {
                return None;
            }
            let first_observed = dates.get(t.first as usize).copied()?;
            Some(AlertCandidate {
                geometry: outline(&c.runs, grid),
                area_ha,
                class: t.class(),
                confidence: if u64::from(t.confirmed) * 2 > t.pixels {
                    Confidence::High
                } else {
                    Confidence::Low
                },
                mean_drop: t.drop_sum / t.pixels as f64,
                mean_dnbr: (t.dnbr_pixels > 0).then(|| t.dnbr_sum / t.dnbr_pixels as f64),
                first_observed,
                last_clear_before: dates.get(t.last_clear as usize).copied(),
                pixels: t.pixels,
            })
        })
        .collect()
}

/// A plot an alert touches, with what rangers need to act on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlotTouch {
    /// The plot.
    pub key: PlotKey,
    /// Overlapped area in hectares.
    pub overlap_ha: f64,
    /// Forest owner name and code.
    pub churung: Option<String>,
    /// Forest owner code.
    pub machur: Option<i64>,
    /// Contract holder name.
    pub nguoink: Option<String>,
    /// Contract holder code.
    pub mangnk: Option<i64>,
    /// Forest function code (1 protection, 2 special-use, 3 production).
    pub malr3: Option<i64>,
    /// Forest origin code (1 natural, 2 planted, 3 not forest).
    pub nggocr: Option<i64>,
    /// Forest / land state code (`ldlr`).
    pub ldlr: Option<String>,
    /// Forest type, English label.
    pub forest_type: Option<String>,
    /// Species.
    pub sldlr: Option<String>,
    /// Planting year.
    pub namtr: Option<i64>,
    /// Whether the plot is under a protection contract.
    pub contracted: bool,
}

/// What detection needs of a plot: its outline, whether it is forest, and
/// the attribution an alert that touches it carries. A fraction of a full
/// [`Plot`] in memory, so a province's plots fit beside the rasters.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotShape {
    /// Outline in EPSG:9213.
    pub geometry: MultiPolygon<f64>,
    /// Forest by the national rule.
    pub forest: bool,
    /// Attribution (with `overlap_ha` 0).
    pub touch: PlotTouch,
}

/// The stored fields a [`PlotShape`] is built from, for stores that read
/// only these columns instead of whole plots. Codes that do not parse are
/// taken as absent (the plot was validated when it was imported).
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct ShapeFields {
    pub nggocr: Option<i64>,
    pub thanhrung: Option<i64>,
    pub ldlr: Option<String>,
    pub maldlr: Option<i64>,
    pub churung: Option<String>,
    pub machur: Option<i64>,
    pub nguoink: Option<String>,
    pub mangnk: Option<i64>,
    pub khoan: Option<i64>,
    pub malr3: Option<i64>,
    pub sldlr: Option<String>,
    pub namtr: Option<i64>,
}

impl PlotShape {
    /// The shape of a plot.
    pub fn of(p: &Plot) -> Self {
        PlotShape {
            geometry: p.geometry.clone(),
            forest: p.is_forest(),
            touch: touch(p, 0.0),
        }
    }

    /// The shape from stored fields.
    pub fn from_fields(key: PlotKey, geometry: MultiPolygon<f64>, f: ShapeFields) -> Self {
        use crate::codes::{Establishment, ForestState};
        let nz = |v: Option<i64>| v.filter(|x| *x != 0);
        let text = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let origin = nz(f.nggocr).and_then(|c| ForestOrigin::from_code(c).ok());
        let established = nz(f.thanhrung).and_then(|c| Establishment::from_code(c).ok());
        let state = ForestState::parse(
            f.ldlr.as_deref().filter(|s| !s.trim().is_empty()),
            nz(f.maldlr),
        )
        .ok();
        let forest = crate::plot::is_forest(origin, established, state.as_ref());
        let (churung, nguoink) = (text(f.churung), text(f.nguoink));
        let (machur, mangnk) = (nz(f.machur), nz(f.mangnk));
        let contracted = crate::plot::is_contracted(nz(f.khoan), nguoink.as_deref(), mangnk);
        PlotShape {
            geometry,
            forest,
            touch: PlotTouch {
                key,
                overlap_ha: 0.0,
                churung,
                machur,
                nguoink,
                mangnk,
                malr3: nz(f.malr3)
                    .and_then(|c| ForestFunction::from_code(c).ok())
                    .map(ForestFunction::code),
                nggocr: origin.map(ForestOrigin::code),
                ldlr: state.as_ref().and_then(|s| s.code().map(str::to_string)),
                forest_type: state.as_ref().map(|s| s.label_en()),
                sldlr: text(f.sldlr),
                namtr: nz(f.namtr),
                contracted,
            },
        }
    }
}

struct Indexed<'a> {
    plot: &'a PlotShape,
    env: AABB<[f64; 2]>,
}

impl RTreeObject for Indexed<'_> {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

/// A spatial index over the plot layer for attribution.
pub struct PlotIndex<'a> {
    tree: RTree<Indexed<'a>>,
}

impl std::fmt::Debug for PlotIndex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlotIndex({} plots)", self.tree.size())
    }
}

impl<'a> PlotIndex<'a> {
    /// Indexes the plots.
    pub fn new(plots: &'a [PlotShape]) -> Self {
        let items = plots
            .iter()
            .filter_map(|p| {
                let r = p.geometry.bounding_rect()?;
                Some(Indexed {
                    plot: p,
                    env: AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                })
            })
            .collect();
        PlotIndex {
            tree: RTree::bulk_load(items),
        }
    }

    /// Plots whose bounding box meets `rect`.
    pub fn near(&self, min: [f64; 2], max: [f64; 2]) -> impl Iterator<Item = &'a PlotShape> + '_ {
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_corners(min, max))
            .map(|i| i.plot)
    }

    /// The prior of every pixel of `strip` from the plots: forest plots are
    /// [`Prior::Forest`], other plots [`Prior::NonForest`], no plot
    /// [`Prior::Unknown`]; where plots overlap, the last one found wins.
    pub fn prior(&self, strip: &GridSpec, out: &mut [Prior]) {
        out.fill(Prior::Unknown);
        let e = strip.extent();
        let mut burner = Burner::default();
        for p in self.near([e.min().x, e.min().y], [e.max().x, e.max().y]) {
            let label = if p.forest {
                Prior::Forest
            } else {
                Prior::NonForest
            };
            burner.burn(strip, &p.geometry, label, out);
        }
    }

    /// Whether `shape` meets a forest plot.
    pub fn touches_forest(&self, shape: &MultiPolygon<f64>) -> bool {
        let Some(r) = shape.bounding_rect() else {
            return false;
        };
        self.near([r.min().x, r.min().y], [r.max().x, r.max().y])
            .any(|p| p.forest && p.geometry.intersects(shape))
    }

    /// The plots `shape` overlaps, largest overlap first. Slivers where a
    /// pixel outline crosses a plot boundary — under 5 % of the alert and
    /// under 0.5 ha — are not attributions and are dropped.
    pub fn attribute(&self, shape: &MultiPolygon<f64>) -> Vec<PlotTouch> {
        let Some(r) = shape.bounding_rect() else {
            return vec![];
        };
        let min_ha = (shape.unsigned_area() / 10_000.0 * 0.05).min(0.5);
        let mut out: Vec<PlotTouch> = self
            .near([r.min().x, r.min().y], [r.max().x, r.max().y])
            .filter(|p| p.geometry.intersects(shape))
            .filter_map(|p| {
                let overlap = p.geometry.intersection(shape).unsigned_area() / 10_000.0;
                (overlap > 0.0 && overlap >= min_ha).then(|| PlotTouch {
                    overlap_ha: (overlap * 10_000.0).round() / 10_000.0,
                    ..p.touch.clone()
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.overlap_ha
                .total_cmp(&a.overlap_ha)
                .then_with(|| a.key.cmp(&b.key))
        });
        out
    }
}

fn touch(p: &Plot, overlap_ha: f64) -> PlotTouch {
    let a = &p.attrs;
    PlotTouch {
        key: p.key.clone(),
        overlap_ha: (overlap_ha * 10_000.0).round() / 10_000.0,
        churung: a.churung.clone(),
        machur: a.machur,
        nguoink: a.nguoink.clone(),
        mangnk: a.mangnk,
        malr3: a.malr3.map(ForestFunction::code),
        nggocr: a.nggocr.map(ForestOrigin::code),
        ldlr: a.state.as_ref().and_then(|s| s.code().map(str::to_string)),
        forest_type: a.state.as_ref().map(|s| s.label_en()),
        sldlr: a.sldlr.clone(),
        namtr: a.namtr,
        contracted: p.is_contracted(),
    }
}

/// Rotation age (years) of a plantation species, for telling an expected
/// harvest from loss. Species names as the national tools write them; a
/// mixture takes its longest rotation.
pub fn rotation_age(species: &str) -> u32 {
    let s = crate::text::fold(species);
    s.split(['+', ',', ';'])
        .map(|part| match part.trim() {
            p if p.starts_with("keo") => 5,
            p if p.starts_with("bach dan") => 5,
            p if p.starts_with("mo") => 8,
            p if p.starts_with("thong") => 15,
            p if p.starts_with("que") || p.starts_with("hoi") => 12,
            _ => 7,
        })
        .max()
        .unwrap_or(7)
}

/// Where an alert stands in the rangers' queue, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Priority {
    /// Higher first.
    pub score: i32,
    /// The reasons, most important first.
    pub reasons: Vec<String>,
}

/// The priority of an alert of `class` and `confidence` over `area_ha` that
/// touches `plots`, judged in `year`: loss in natural, special-use or
/// protection forest or on a contracted plot ranks above the rotation harvest
/// of a production plantation at harvest age.
pub fn priority(
    class: PixelClass,
    confidence: Confidence,
    area_ha: f64,
    plots: &[PlotTouch],
    year: i32,
) -> Priority {
    let mut score = match class {
        PixelClass::Clearing | PixelClass::Burn => 40,
        _ => 25,
    };
    let mut reasons = vec![format!("{} of {:.2} ha", class.as_str(), area_ha)];
    let covered: f64 = plots.iter().map(|p| p.overlap_ha).sum();
    let share = |f: &dyn Fn(&PlotTouch) -> bool| -> f64 {
        plots
            .iter()
            .filter(|p| f(p))
            .map(|p| p.overlap_ha)
            .sum::<f64>()
            / area_ha.max(1e-9)
    };
    let significant = 0.1;
    if share(&|p| p.nggocr == Some(1)) >= significant {
        score += 30;
        reasons.push("natural forest".into());
    }
    if share(&|p| p.malr3 == Some(2)) >= significant {
        score += 25;
        reasons.push("special-use forest".into());
    } else if share(&|p| p.malr3 == Some(1)) >= significant {
        score += 20;
        reasons.push("protection forest".into());
    }
    if let Some(c) = plots.iter().find(|p| p.contracted) {
        score += 15;
        let holder = c
            .nguoink
            .clone()
            .or_else(|| c.mangnk.map(|m| m.to_string()));
        reasons.push(match holder {
            Some(h) => format!("protection contract held by {h} on {}", c.key),
            None => format!("protection contract on {}", c.key),
        });
    }
    if covered < area_ha * 0.5 {
        score += 5;
        reasons.push("forest outside the plot register".into());
    }
    // Expected harvest: the change lies (90 %+) in production plantations at
    // or past rotation age, and is a clearing.
    let harvestable = |p: &PlotTouch| {
        p.nggocr == Some(2)
            && p.malr3 == Some(3)
            && !p.contracted
            && match (p.namtr, p.sldlr.as_deref()) {
                (Some(y), Some(s)) => i64::from(year) - y >= i64::from(rotation_age(s)),
                _ => false,
            }
    };
    if class == PixelClass::Clearing && share(&harvestable) >= 0.9 {
        score -= 45;
        let p = plots.iter().find(|p| harvestable(p));
        if let Some(p) = p {
            reasons.push(format!(
                "expected rotation harvest: production plantation of {} planted {} (age {} ≥ rotation {})",
                p.sldlr.as_deref().unwrap_or("?"),
                p.namtr.unwrap_or_default(),
                i64::from(year) - p.namtr.unwrap_or_default(),
                rotation_age(p.sldlr.as_deref().unwrap_or(""))
            ));
        }
    }
    if confidence == Confidence::High {
        score += 10;
        reasons.push("confirmed by a later observation".into());
    }
    score += (area_ha * 2.0).round().min(20.0) as i32;
    Priority {
        score: score.max(0),
        reasons,
    }
}

/// The priority of a fire alert: natural, special-use and protection forest
/// and contracted plots first; a confident detection and a high fire
/// radiative power (MW) weigh in.
pub fn fire_priority(confident: bool, frp: f64, plots: &[PlotTouch]) -> Priority {
    let mut score = 45;
    let mut reasons = vec![format!("active fire, FRP {frp:.1} MW")];
    if plots.iter().any(|p| p.nggocr == Some(1)) {
        score += 30;
        reasons.push("natural forest".into());
    }
    if plots.iter().any(|p| p.malr3 == Some(2)) {
        score += 25;
        reasons.push("special-use forest".into());
    } else if plots.iter().any(|p| p.malr3 == Some(1)) {
        score += 20;
        reasons.push("protection forest".into());
    }
    if let Some(c) = plots.iter().find(|p| p.contracted) {
        score += 15;
        reasons.push(
            match c
                .nguoink
                .clone()
                .or_else(|| c.mangnk.map(|m| m.to_string()))
            {
                Some(h) => format!("protection contract held by {h} on {}", c.key),
                None => format!("protection contract on {}", c.key),
            },
        );
    }
    if confident {
        score += 10;
        reasons.push("confident detection".into());
    }
    score += (frp / 5.0).round().clamp(0.0, 20.0) as i32;
    Priority { score, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(
        nggocr: i64,
        malr3: i64,
        contracted: bool,
        species: Option<&str>,
        namtr: Option<i64>,
    ) -> PlotTouch {
        PlotTouch {
            key: PlotKey::new(1981, "263", "1", "5").unwrap(),
            overlap_ha: 1.0,
            churung: Some("Nguyễn Văn An".into()),
            machur: Some(12),
            nguoink: contracted.then(|| "Hoàng Thị Lan".to_string()),
            mangnk: contracted.then_some(7),
            malr3: Some(malr3),
            nggocr: Some(nggocr),
            ldlr: None,
            forest_type: None,
            sldlr: species.map(str::to_string),
            namtr,
            contracted,
        }
    }

    #[test]
    fn harvest_ranks_below_loss_in_natural_and_protection_forest() {
        let natural = priority(
            PixelClass::Clearing,
            Confidence::Low,
            1.0,
            &[touch(1, 1, false, None, None)],
            2026,
        );
        let contracted = priority(
            PixelClass::Clearing,
            Confidence::Low,
            1.0,
            &[touch(2, 3, true, Some("Keo"), Some(2018))],
            2026,
        );
        let harvest = priority(
            PixelClass::Clearing,
            Confidence::High,
            1.0,
            &[touch(2, 3, false, Some("Keo"), Some(2018))],
            2026,
        );
        let young = priority(
            PixelClass::Clearing,
            Confidence::Low,
            1.0,
            &[touch(2, 3, false, Some("Keo"), Some(2024))],
            2026,
        );
        assert!(
            natural.score > contracted.score && contracted.score > harvest.score,
            "{natural:?} {contracted:?} {harvest:?}"
        );
        assert!(young.score > harvest.score);
        assert!(
            harvest
                .reasons
                .iter()
                .any(|r| r.contains("expected rotation harvest")),
            "{harvest:?}"
        );
        assert!(contracted
            .reasons
            .iter()
            .any(|r| r.contains("Hoàng Thị Lan")));
        assert!(natural.reasons.contains(&"natural forest".to_string()));
    }

    #[test]
    fn rotation_ages() {
        assert_eq!(rotation_age("Keo"), 5);
        assert_eq!(rotation_age("Keo+Mỡ"), 8);
        assert_eq!(rotation_age("Thông mã vĩ"), 15);
        assert_eq!(rotation_age("Quế"), 12);
    }
}
