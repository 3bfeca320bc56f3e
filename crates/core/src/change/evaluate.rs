//! Scores detected alerts against ground-truth events: per-event detection
//! and area IoU, event recall, alert precision, overall area IoU, and whether
//! events hidden under cloud were reported unobserved.

use geo::{Area, BooleanOps, BoundingRect, Intersects};
use geo_types::MultiPolygon;
use serde::Serialize;

/// What a ground-truth event should produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// An alert.
    Alert,
    /// An "unobserved" region (the event is under cloud in every later scene).
    Unobserved,
}

/// One planted event.
#[derive(Debug, Clone)]
pub struct TruthEvent {
    /// Identifier.
    pub id: String,
    /// Kind (clearing, degradation, burn, harvest…).
    pub kind: String,
    /// What the detector should report.
    pub expect: Expect,
    /// Outline in EPSG:9213.
    pub geometry: MultiPolygon<f64>,
}

/// The score of one event.
#[derive(Debug, Clone, Serialize)]
pub struct EventScore {
    /// Identifier.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Expected outcome.
    pub expect: Expect,
    /// Event area in hectares.
    pub area_ha: f64,
    /// Found: for alerts, at least a quarter of it is covered by alerts; for
    /// unobserved events, at least half of it is reported unobserved.
    pub found: bool,
    /// Area IoU with the alerts that touch it (alerts only).
    pub iou: f64,
    /// Share of the event reported unobserved.
    pub unobserved_share: f64,
    /// Indices of the alerts that touch it.
    pub alerts: Vec<usize>,
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Per event.
    pub events: Vec<EventScore>,
    /// Share of alert events (at least the minimum mapping unit) found.
    pub recall: f64,
    /// Share of alerts that touch an alert event.
    pub precision: f64,
    /// Area IoU of all alerts against all alert events.
    pub iou: f64,
    /// Alerts that touch no event.
    pub false_alerts: Vec<usize>,
}

fn area(a: &MultiPolygon<f64>) -> f64 {
    a.unsigned_area() / 10_000.0
}

fn overlap(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    match (a.bounding_rect(), b.bounding_rect()) {
        (Some(ra), Some(rb)) if ra.intersects(&rb) && a.intersects(b) => area(&a.intersection(b)),
        _ => 0.0,
    }
}

/// Scores `alerts` and `unobserved` regions against `truth`. Alert events
/// smaller than `min_area_ha` count neither for nor against recall.
pub fn evaluate(
    truth: &[TruthEvent],
    alerts: &[MultiPolygon<f64>],
    unobserved: &[MultiPolygon<f64>],
    min_area_ha: f64,
) -> Evaluation {
    let mut events = Vec::new();
    let mut touched = vec![false; alerts.len()];
    let (mut inter_total, mut truth_area) = (0.0, 0.0);
    let (mut expected, mut found_n) = (0usize, 0usize);
    for e in truth {
        let a = area(&e.geometry);
        let mut inter = 0.0;
        let mut alert_area = 0.0;
        let mut hit = Vec::new();
        for (i, al) in alerts.iter().enumerate() {
            let o = overlap(&e.geometry, al);
            if o > 0.0 {
                hit.push(i);
                inter += o;
                alert_area += area(al);
                if e.expect == Expect::Alert {
                    touched[i] = true;
                }
            }
        }
        let unobs: f64 = unobserved.iter().map(|u| overlap(&e.geometry, u)).sum();
        let unobserved_share = if a > 0.0 { (unobs / a).min(1.0) } else { 0.0 };
        let (found, iou) = match e.expect {
            Expect::Alert => {
                truth_area += a;
                inter_total += inter;
                let union = a + alert_area - inter;
                (
                    inter >= 0.25 * a,
                    if union > 0.0 { inter / union } else { 0.0 },
                )
            }
            Expect::Unobserved => (unobserved_share >= 0.5, 0.0),
        };
        if e.expect == Expect::Alert && a + 1e-9 >= min_area_ha {
            expected += 1;
            found_n += usize::from(found);
        }
        events.push(EventScore {
            id: e.id.clone(),
            kind: e.kind.clone(),
            expect: e.expect,
            area_ha: a,
            found,
            iou,
            unobserved_share,
            alerts: hit,
        });
    }
    let alert_area: f64 = alerts.iter().map(area).sum();
    let false_alerts: Vec<usize> = (0..alerts.len()).filter(|i| !touched[*i]).collect();
    let union = alert_area + truth_area - inter_total;
    Evaluation {
        events,
        recall: if expected == 0 {
            1.0
        } else {
            found_n as f64 / expected as f64
        },
        precision: if alerts.is_empty() {
            1.0
        } else {
            (alerts.len() - false_alerts.len()) as f64 / alerts.len() as f64
        },
        iou: if union > 0.0 {
            inter_total / union
        } else {
            0.0
        },
        false_alerts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, MultiPolygon};

    fn square(x: f64, y: f64, s: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![
            polygon![(x: x, y: y), (x: x + s, y: y), (x: x + s, y: y + s), (x: x, y: y + s)],
        ])
    }

    #[test]
    fn recall_precision_and_iou() {
        let truth = vec![
            TruthEvent {
                id: "a".into(),
                kind: "clearing".into(),
                expect: Expect::Alert,
                geometry: square(0.0, 0.0, 100.0),
            },
            TruthEvent {
                id: "b".into(),
                kind: "clearing".into(),
                expect: Expect::Alert,
                geometry: square(1000.0, 0.0, 100.0),
            },
            TruthEvent {
                id: "c".into(),
                kind: "clearing".into(),
                expect: Expect::Unobserved,
                geometry: square(2000.0, 0.0, 100.0),
            },
        ];
        // alert a matches exactly; b is missed; one false alert; c under cloud
        let alerts = vec![square(0.0, 0.0, 100.0), square(5000.0, 0.0, 60.0)];
        let unobs = vec![square(1990.0, -10.0, 200.0)];
        let ev = evaluate(&truth, &alerts, &unobs, 0.3);
        assert_eq!(ev.recall, 0.5);
        assert_eq!(ev.precision, 0.5);
        assert_eq!(ev.false_alerts, vec![1]);
        assert!((ev.events[0].iou - 1.0).abs() < 1e-9);
        assert!(ev.events[2].found && ev.events[2].unobserved_share > 0.99);
        // IoU: 1 ha matched of 1 + 1 + 0.36 ha
        assert!((ev.iou - 1.0 / 2.36).abs() < 1e-9, "{}", ev.iou);
    }
}
