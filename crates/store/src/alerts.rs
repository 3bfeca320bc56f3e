//! Alerts as both stores keep them, and how a detection run's alerts merge
//! with those already stored: an alert that overlaps a stored one of the same
//! kind updates it (a confirming observation upgrades its confidence) instead
//! of adding a duplicate; the status a ranger gave it is kept.

use chrono::{DateTime, NaiveDate, Utc};
use forest_core::change::{AlertCandidate, Confidence, PixelClass, PlotTouch, Priority};
use geo::{BoundingRect, Intersects};
use geo_types::{Geometry, MultiPolygon};
use geozero::ToGeo;
use serde::Serialize;

use crate::StoreError;

/// Lifecycle of an alert.
pub const STATUSES: &[&str] = &[
    "new",
    "under_verification",
    "confirmed",
    "false_positive",
    "resolved",
];

/// Reasons a ranger may give for a false positive.
pub const FALSE_POSITIVE_REASONS: &[&str] =
    &["plantation_harvest", "cloud_artefact", "seasonal", "other"];

/// One entry of an alert's history.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (token name, `detect`, or the CLI user).
    pub actor: String,
    /// Status before (none for the detection that created it).
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: String,
    /// What happened.
    pub note: String,
}

/// Checks a status change: new → under_verification → confirmed |
/// false_positive (with a reason) → resolved (from confirmed). A note is
/// mandatory.
pub fn check_transition(
    id: i64,
    from: &str,
    to: &str,
    reason: Option<&str>,
    note: &str,
) -> Result<(), StoreError> {
    let bad = |detail: String| Err(StoreError::Transition { id, detail });
    if !STATUSES.contains(&to) {
        return bad(format!(
            "unknown status {to:?} (one of {})",
            STATUSES.join(", ")
        ));
    }
    if note.trim().is_empty() {
        return bad("a note is required: say what was seen or done".into());
    }
    let allowed: &[&str] = match from {
        "new" => &["under_verification"],
        "under_verification" => &["confirmed", "false_positive"],
        "confirmed" => &["resolved"],
        _ => &[],
    };
    if !allowed.contains(&to) {
        return bad(if allowed.is_empty() {
            format!("the alert is {from}: its status can no longer change")
        } else {
            format!(
                "cannot go from {from} to {to} (allowed: {})",
                allowed.join(", ")
            )
        });
    }
    match (to, reason) {
        ("false_positive", Some(r)) if FALSE_POSITIVE_REASONS.contains(&r) => Ok(()),
        ("false_positive", Some(r)) => bad(format!(
            "false-positive reason {r:?} is not one of {}",
            FALSE_POSITIVE_REASONS.join(", ")
        )),
        ("false_positive", None) => bad(format!(
            "a false positive needs a reason: {}",
            FALSE_POSITIVE_REASONS.join(", ")
        )),
        (_, Some(_)) => bad("a reason is only given for a false positive".into()),
        _ => Ok(()),
    }
}

/// An alert to store: the detector's candidate with its attribution and priority.
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// The candidate.
    pub candidate: AlertCandidate,
    /// Plots it touches.
    pub plots: Vec<PlotTouch>,
    /// Priority and reasons.
    pub priority: Priority,
}

/// A stored alert.
#[derive(Debug, Clone, Serialize)]
pub struct StoredAlert {
    /// Identifier.
    pub id: i64,
    /// Status.
    pub status: String,
    /// Why it is a false positive.
    pub status_reason: Option<String>,
    /// Clearing, degradation or burn.
    pub class: String,
    /// Low or high.
    pub confidence: String,
    /// Priority score.
    pub priority: i32,
    /// Why it ranks where it does.
    pub reasons: Vec<String>,
    /// Area, ha.
    pub area_ha: f64,
    /// Mean NDVI drop.
    pub mean_drop: f64,
    /// Mean dNBR.
    pub mean_dnbr: Option<f64>,
    /// First observation that showed the change.
    pub first_observed: NaiveDate,
    /// Last clear observation before it.
    pub last_clear_before: Option<NaiveDate>,
    /// Plots touched.
    pub plots: Vec<PlotTouch>,
    /// Outline in EPSG:9213.
    #[serde(skip)]
    pub geometry: MultiPolygon<f64>,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// What saving a run's alerts did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SaveReport {
    /// New alerts.
    pub inserted: u64,
    /// Existing alerts updated by a new observation (confidence upgraded,
    /// extent or dates changed).
    pub updated: u64,
    /// Existing alerts the run saw again without news.
    pub unchanged: u64,
}

/// What to do with one incoming alert.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Insert,
    Update { id: i64, note: String },
    Same { id: i64 },
}

/// Decides, for each incoming alert, whether it is new or the same event as
/// a stored one (overlapping geometry; change classes all count as one kind,
/// since a clearing may later be seen burnt).
pub(crate) fn plan(existing: &[StoredAlert], incoming: &[NewAlert]) -> Vec<Action> {
    use rstar::primitives::{GeomWithData, Rectangle};
    use rstar::{RTree, AABB};
    let tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>> = RTree::bulk_load(
        existing
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let r = e.geometry.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect(),
    );
    let mut taken = std::collections::HashSet::new();
    incoming
        .iter()
        .map(|n| {
            let g = &n.candidate.geometry;
            let hit = g.bounding_rect().and_then(|r| {
                let env = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
                let mut cands: Vec<usize> = tree
                    .locate_in_envelope_intersecting(&env)
                    .map(|c| c.data)
                    .collect();
                cands.sort_unstable();
                cands.into_iter().map(|i| &existing[i]).find(|e| {
                    !taken.contains(&e.id)
                        && (e.class == "fire") == (n.candidate.class == PixelClass::Fire)
                        && e.geometry.intersects(g)
                })
            });
            match hit {
                None => Action::Insert,
                Some(e) => {
                    taken.insert(e.id);
                    let conf = n.candidate.confidence.as_str();
                    let class = n.candidate.class.as_str();
                    let mut notes = Vec::new();
                    if e.confidence == "low" && conf == "high" {
                        notes.push(
                            "confirmed by a later observation: confidence low → high".to_string(),
                        );
                    }
                    if e.class != class {
                        notes.push(format!("class {} → {class}", e.class));
                    }
                    if (e.area_ha - n.candidate.area_ha).abs() > 0.005 {
                        notes.push(format!(
                            "area {:.2} → {:.2} ha",
                            e.area_ha, n.candidate.area_ha
                        ));
                    }
                    if e.priority != n.priority.score || e.reasons != n.priority.reasons {
                        notes.push(format!(
                            "re-attributed: priority {} → {}",
                            e.priority, n.priority.score
                        ));
                    }
                    if notes.is_empty() {
                        Action::Same { id: e.id }
                    } else {
                        Action::Update {
                            id: e.id,
                            note: notes.join("; "),
                        }
                    }
                }
            }
        })
        .collect()
}

/// The stored confidence after an update: never downgraded.
pub(crate) fn merged_confidence(old: &str, new: Confidence) -> &'static str {
    if old == "high" {
        "high"
    } else {
        new.as_str()
    }
}

pub(crate) fn class_str(c: PixelClass) -> &'static str {
    c.as_str()
}

pub(crate) fn geometry_of(id: i64, wkb: &[u8]) -> Result<MultiPolygon<f64>, StoreError> {
    match geozero::wkb::Wkb(wkb).to_geo() {
        Ok(Geometry::MultiPolygon(mp)) => Ok(mp),
        Ok(Geometry::Polygon(p)) => Ok(MultiPolygon(vec![p])),
        Ok(_) => Err(StoreError::Corrupt {
            key: format!("alert {id}"),
            reason: "geometry is not a polygon".into(),
        }),
        Err(e) => Err(StoreError::Corrupt {
            key: format!("alert {id}"),
            reason: format!("geometry: {e}"),
        }),
    }
}

pub(crate) fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    id: i64,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        key: format!("alert {id}"),
        reason: format!("JSON column: {e}"),
    })
}
