//! A satellite hotspot file for the commune (FIRMS VIIRS layout), March 2026:
//! detections inside forest plots, detections on farmland well away from any
//! forest, and one row repeated (as overlapping downloads repeat them).

use chrono::NaiveDate;
use forest_core::fire::Hotspot;
use forest_core::{Crs, Plot, Transformer};
use geo::{BoundingRect, Centroid, Contains, Intersects};
use geo_types::{Coord, Rect};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Forest detections, farmland detections.
pub const IN_FOREST: usize = 6;
/// Detections on farmland and other land without forest, more than 260 m
/// from any forest plot.
pub const ON_FARMLAND: usize = 3;

/// The hotspots (the first row appears twice).
pub fn generate(plots: &[Plot], seed: u64) -> Vec<Hotspot> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0f12e);
    let Ok(to) = Transformer::new(Crs::Vn2000Tm3_10630, Crs::Crs84) else {
        return vec![];
    };
    let inside = |p: &Plot| -> Option<Coord<f64>> {
        let c = p.geometry.centroid()?;
        p.geometry.contains(&c).then_some(c.0)
    };
    let forest: Vec<usize> = (0..plots.len())
        .filter(|&i| plots[i].is_forest() && inside(&plots[i]).is_some())
        .collect();
    // No forest plot within 260 m of the point (a VIIRS pixel is ~390 m).
    let far_from_forest = |c: Coord<f64>| {
        let square = Rect::new(
            Coord {
                x: c.x - 260.0,
                y: c.y - 260.0,
            },
            Coord {
                x: c.x + 260.0,
                y: c.y + 260.0,
            },
        )
        .to_polygon();
        !plots.iter().any(|q| {
            q.is_forest()
                && q.geometry
                    .bounding_rect()
                    .is_some_and(|b| b.intersects(&square))
                && q.geometry.intersects(&square)
        })
    };
    let farmland: Vec<usize> = (0..plots.len())
        .filter(|&i| {
            let p = &plots[i];
            !p.is_forest() && inside(p).is_some_and(far_from_forest)
        })
        .collect();
    let mut out = Vec::new();
    let mut add = |i: usize, day: u32, rng: &mut ChaCha8Rng| {
        let Some(c) = inside(&plots[i]) else { return };
        let Ok((lon, lat)) = to.point(c.x, c.y) else {
            return;
        };
        let conf = ["n", "h", "n", "l", "h", "n"][out.len() % 6];
        out.push(Hotspot {
            latitude: (lat * 1e5).round() / 1e5,
            longitude: (lon * 1e5).round() / 1e5,
            brightness: (rng.gen_range(320.0..367.0f64) * 100.0).round() / 100.0,
            scan: 0.39,
            track: 0.36,
            acq_date: NaiveDate::from_ymd_opt(2026, 3, day).unwrap_or_default(),
            acq_time: [612, 618, 1824][out.len() % 3],
            satellite: "N".into(),
            instrument: "VIIRS".into(),
            confidence: conf.into(),
            frp: (rng.gen_range(1.5..45.0f64) * 100.0).round() / 100.0,
            daynight: "D".into(),
        });
    };
    for k in 0..IN_FOREST {
        if forest.is_empty() {
            break;
        }
        let i = forest[rng.gen_range(0..forest.len())];
        add(i, 20 + k as u32 % 5, &mut rng);
    }
    for k in 0..ON_FARMLAND.min(farmland.len()) {
        let i = farmland[(k * 7919 + rng.gen_range(0..farmland.len())) % farmland.len()];
        add(i, 21 + k as u32, &mut rng);
    }
    if let Some(first) = out.first().cloned() {
        out.push(first);
    }
    out
}
