//! A synthetic Sentinel-2 L2A style scene series over part of the commune —
//! before (baseline), after and later — with planted events and a ground
//! truth of them: clearings of several sizes in natural forest, one on a
//! contracted plot, one that appears only in the later scene, selective
//! degradation, a burn scar, the legal rotation harvest of an acacia
//! plantation, and a clearing half under a cloud that never clears. Clouds
//! and their shadows (flagged in SCL), a swath edge without data, sensor noise
//! and a seasonal offset between dates make it realistic enough to test the
//! detector honestly.
//!
//! Pure: produces grids and polygons; the CLI writes them as GeoTIFF and
//! GeoJSON.

use chrono::NaiveDate;
use forest_core::change::evaluate::{Expect, TruthEvent};
use forest_core::change::rasterize::{burn, NO_LABEL};
use forest_core::change::GridSpec;
use forest_core::codes::{ForestFunction, ForestOrigin, StateClass};
use forest_core::Plot;
use geo::{Area, BooleanOps, BoundingRect, Centroid, Contains};
use geo_types::{Coord, LineString, MultiPolygon, Polygon, Rect};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pixel size of the sample scenes, metres.
pub const PIXEL: f64 = 10.0;
/// Width and height of the window, metres.
pub const WINDOW: (f64, f64) = (6_000.0, 5_000.0);
/// `BOA_ADD_OFFSET` of processing baseline ≥ 04.00.
pub const BOA_ADD_OFFSET: i32 = -1_000;

/// One synthetic scene: Sentinel-2 L2A digital numbers (reflectance ×
/// 10,000 − offset, 0 = no data) and the SCL band.
#[derive(Debug, Clone)]
pub struct Scene {
    /// File stem in the Sentinel-2 naming style.
    pub name: String,
    /// Acquisition date.
    pub date: NaiveDate,
    /// B04, red.
    pub red: Vec<u16>,
    /// B08, NIR.
    pub nir: Vec<u16>,
    /// B12, SWIR 2.
    pub swir2: Vec<u16>,
    /// Scene classification.
    pub scl: Vec<u8>,
}

/// The series, its grid and its ground truth.
#[derive(Debug, Clone)]
pub struct SceneSeries {
    /// Grid of every scene (EPSG:9213).
    pub grid: GridSpec,
    /// Scenes in date order.
    pub scenes: Vec<Scene>,
    /// Planted events.
    pub truth: Vec<TruthEvent>,
}

#[derive(Clone, Copy, Debug)]
struct Spectrum {
    red: f64,
    nir: f64,
    swir2: f64,
    scl: u8,
}

const fn sp(red: f64, nir: f64, swir2: f64, scl: u8) -> Spectrum {
    Spectrum {
        red,
        nir,
        swir2,
        scl,
    }
}

const DENSE: Spectrum = sp(0.030, 0.330, 0.080, 4);
const POOR: Spectrum = sp(0.040, 0.300, 0.095, 4);
const PLANTATION: Spectrum = sp(0.035, 0.350, 0.090, 4);
const YOUNG: Spectrum = sp(0.060, 0.270, 0.130, 4);
const SHRUB: Spectrum = sp(0.055, 0.280, 0.120, 4);
const FARM: Spectrum = sp(0.080, 0.250, 0.150, 4);
const BARE: Spectrum = sp(0.120, 0.220, 0.220, 5);
const WATER: Spectrum = sp(0.030, 0.020, 0.010, 6);
const CHAR: Spectrum = sp(0.060, 0.120, 0.200, 5);
const DEGRADED: Spectrum = sp(0.050, 0.280, 0.110, 4);

fn cover_of(p: &Plot) -> Spectrum {
    let state = p.attrs.state.as_ref();
    match state.map(|s| s.class()) {
        Some(StateClass::NaturalForest) => {
            let code = state.and_then(|s| s.code()).unwrap_or("");
            if code.ends_with('G') || code.ends_with('B') {
                DENSE
            } else {
                POOR
            }
        }
        Some(StateClass::PlantedForest) => PLANTATION,
        _ => {
            let code = state.and_then(|s| s.code()).unwrap_or("");
            match code {
                c if c.starts_with("DTR") => YOUNG,
                c if c.starts_with("DT2") => SHRUB,
                "MN" => WATER,
                c if c.starts_with("DT1") => BARE,
                _ => FARM,
            }
        }
    }
}

/// What an event turns the ground into.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Effect {
    Bare,
    Degraded,
    Burnt,
}

struct Event {
    id: String,
    kind: &'static str,
    shape: MultiPolygon<f64>,
    effect: Effect,
    /// First scene index that shows it.
    from_scene: usize,
}

/// Scene dates: baseline (dry season), after, later (rainy-season green-up).
pub fn dates() -> [NaiveDate; 3] {
    [
        NaiveDate::from_ymd_opt(2025, 12, 12).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2026, 3, 17).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2026, 5, 6).unwrap_or_default(),
    ]
}

/// Generates the series over the centre of the commune's plots.
pub fn generate(plots: &[Plot], seed: u64) -> SceneSeries {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5ce7e5);
    let all = plots
        .iter()
        .filter_map(|p| p.geometry.bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                Coord {
                    x: a.min().x.min(b.min().x),
                    y: a.min().y.min(b.min().y),
                },
                Coord {
                    x: a.max().x.max(b.max().x),
                    y: a.max().y.max(b.max().y),
                },
            )
        });
    let c = all.map(|r| r.center()).unwrap_or(Coord { x: 0.0, y: 0.0 });
    let window = Rect::new(
        Coord {
            x: c.x - WINDOW.0 / 2.0,
            y: c.y - WINDOW.1 / 2.0,
        },
        Coord {
            x: c.x + WINDOW.0 / 2.0,
            y: c.y + WINDOW.1 / 2.0,
        },
    );
    let grid = GridSpec::covering(window, PIXEL);
    let inner = Rect::new(
        Coord {
            x: window.min().x + 300.0,
            y: window.min().y + 300.0,
        },
        Coord {
            x: window.max().x - 300.0,
            y: window.max().y - 300.0,
        },
    );
    let inside: Vec<usize> = (0..plots.len())
        .filter(|&i| {
            plots[i]
                .geometry
                .bounding_rect()
                .is_some_and(|r| inner.contains(&r))
        })
        .collect();

    // Plot label raster.
    let mut label = vec![NO_LABEL; grid.len()];
    for (i, p) in plots.iter().enumerate() {
        if p.geometry
            .bounding_rect()
            .is_some_and(|r| geo::Intersects::intersects(&r, &window))
        {
            burn(&grid, &p.geometry, i as u32, &mut label);
        }
    }

    // Events, each on its own plot.
    let mut used: Vec<usize> = Vec::new();
    let mut pick =
        |want: &dyn Fn(&Plot) -> bool, min_ha: f64, rng: &mut ChaCha8Rng| -> Option<usize> {
            let cands: Vec<usize> = inside
                .iter()
                .copied()
                .filter(|i| !used.contains(i) && want(&plots[*i]) && plots[*i].area_ha() >= min_ha)
                .collect();
            if cands.is_empty() {
                return None;
            }
            let i = cands[rng.gen_range(0..cands.len())];
            used.push(i);
            Some(i)
        };
    let natural = |p: &Plot| p.attrs.nggocr == Some(ForestOrigin::Natural) && !p.is_contracted();
    let mut events: Vec<Event> = Vec::new();
    let add = |events: &mut Vec<Event>,
               id: &str,
               kind: &'static str,
               plot: Option<usize>,
               ha: f64,
               effect,
               from_scene,
               rng: &mut ChaCha8Rng| {
        if let Some(i) = plot {
            let shape = blob_in(&plots[i].geometry, ha, rng);
            if shape.unsigned_area() > 0.0 {
                events.push(Event {
                    id: id.into(),
                    kind,
                    shape,
                    effect,
                    from_scene,
                });
            }
        }
    };
    for (k, ha) in [0.35, 0.5, 0.8, 1.2, 2.0, 3.5, 6.0].iter().enumerate() {
        let p = pick(&natural, ha * 1.6, &mut rng);
        add(
            &mut events,
            &format!("clearing-{}", k + 1),
            "clearing",
            p,
            *ha,
            Effect::Bare,
            1,
            &mut rng,
        );
    }
    let p = pick(&natural, 0.5, &mut rng);
    add(
        &mut events,
        "clearing-small",
        "clearing",
        p,
        0.15,
        Effect::Bare,
        1,
        &mut rng,
    );
    let contracted = |p: &Plot| p.is_contracted() && p.is_forest();
    let p = pick(&contracted, 2.5, &mut rng);
    add(
        &mut events,
        "clearing-contracted",
        "clearing",
        p,
        1.5,
        Effect::Bare,
        1,
        &mut rng,
    );
    let p = pick(&natural, 2.0, &mut rng);
    add(
        &mut events,
        "clearing-late",
        "clearing",
        p,
        1.0,
        Effect::Bare,
        2,
        &mut rng,
    );
    let p = pick(&natural, 5.0, &mut rng);
    add(
        &mut events,
        "degradation-1",
        "degradation",
        p,
        3.0,
        Effect::Degraded,
        1,
        &mut rng,
    );
    let p = pick(&natural, 6.0, &mut rng);
    add(
        &mut events,
        "burn-1",
        "burn",
        p,
        4.0,
        Effect::Burnt,
        1,
        &mut rng,
    );
    let harvestable = |p: &Plot| {
        p.attrs.nggocr == Some(ForestOrigin::Planted)
            && p.attrs.malr3 == Some(ForestFunction::Production)
            && !p.is_contracted()
            && p.attrs.sldlr.as_deref() == Some("Keo")
            && p.attrs.namtr.is_some_and(|y| y <= 2020)
    };
    if let Some(i) = pick(&harvestable, 1.0, &mut rng) {
        events.push(Event {
            id: "harvest-1".into(),
            kind: "harvest",
            shape: plots[i].geometry.clone(),
            effect: Effect::Bare,
            from_scene: 1,
        });
    }
    let p = pick(&natural, 4.0, &mut rng);
    add(
        &mut events,
        "clearing-cloud",
        "clearing",
        p,
        2.4,
        Effect::Bare,
        1,
        &mut rng,
    );

    // The persistent cloud over the west half of the last clearing.
    let mut persistent: Option<Rect<f64>> = None;
    let mut truth: Vec<TruthEvent> = Vec::new();
    for e in &events {
        if e.id == "clearing-cloud" {
            let r = e.shape.bounding_rect().unwrap_or(window);
            let cx = e.shape.centroid().map_or(r.center().x, |p| p.x());
            let cloud = Rect::new(
                Coord {
                    x: r.min().x - 250.0,
                    y: r.min().y - 250.0,
                },
                Coord {
                    x: cx,
                    y: r.max().y + 250.0,
                },
            );
            persistent = Some(cloud);
            let west = MultiPolygon::new(vec![cloud.to_polygon()]);
            let hidden = e.shape.intersection(&west);
            let seen = e.shape.difference(&west);
            truth.push(TruthEvent {
                id: format!("{}-visible", e.id),
                kind: e.kind.into(),
                expect: Expect::Alert,
                geometry: seen,
            });
            truth.push(TruthEvent {
                id: format!("{}-hidden", e.id),
                kind: e.kind.into(),
                expect: Expect::Unobserved,
                geometry: hidden,
            });
        } else {
            truth.push(TruthEvent {
                id: e.id.clone(),
                kind: e.kind.into(),
                expect: Expect::Alert,
                geometry: e.shape.clone(),
            });
        }
    }
    let mut event_label = vec![NO_LABEL; grid.len()];
    for (k, e) in events.iter().enumerate() {
        burn(&grid, &e.shape, k as u32, &mut event_label);
    }

    // Per-plot and per-pixel stable variation (canopy texture).
    let plot_var: Vec<(f64, f64)> = (0..plots.len())
        .map(|_| (rng.gen_range(-0.05..0.05), rng.gen_range(-0.10..0.10)))
        .collect();
    let texture: Vec<f64> = (0..grid.len())
        .map(|_| rng.gen_range(-0.03..0.03))
        .collect();

    // (NIR factor, red factor) of the season; cloud cover share.
    let season = [(1.00, 1.00, 0.05), (0.94, 1.08, 0.12), (1.04, 0.97, 0.10)];
    let names = [
        "S2B_MSIL2A_20251212T033129_N0511_R018_T48QWJ",
        "S2A_MSIL2A_20260317T033131_N0511_R018_T48QWJ",
        "S2B_MSIL2A_20260506T033129_N0511_R018_T48QWJ",
    ];
    let mut scenes = Vec::new();
    for (s, date) in dates().iter().enumerate() {
        let (nir_f, red_f, cloud_share) = season[s];
        // Clouds: discs away from the events (except the persistent one);
        // shadows are the discs shifted 180 m east, 120 m south.
        let mut discs: Vec<(Coord<f64>, f64)> = Vec::new();
        let target = cloud_share * grid.len() as f64 * PIXEL * PIXEL;
        let mut covered = 0.0;
        let ext = grid.extent();
        let mut tries = 0;
        while covered < target && tries < 10_000 {
            tries += 1;
            let r = rng.gen_range(80.0..350.0);
            let cpt = Coord {
                x: rng.gen_range(ext.min().x..ext.max().x),
                y: rng.gen_range(ext.min().y..ext.max().y),
            };
            let near_event = events.iter().any(|e| {
                e.shape.bounding_rect().is_some_and(|b| {
                    cpt.x > b.min().x - r - 300.0
                        && cpt.x < b.max().x + r + 300.0
                        && cpt.y > b.min().y - r - 300.0
                        && cpt.y < b.max().y + r + 300.0
                })
            });
            if near_event {
                continue;
            }
            discs.push((cpt, r));
            covered += std::f64::consts::PI * r * r;
        }
        let mut scene = Scene {
            name: format!("{}_vinh_thong", names[s]),
            date: *date,
            red: vec![0; grid.len()],
            nir: vec![0; grid.len()],
            swir2: vec![0; grid.len()],
            scl: vec![0; grid.len()],
        };
        for row in 0..grid.height {
            for col in 0..grid.width {
                let i = row * grid.width + col;
                let p = grid.center(col, row);
                // the later scene's swath ends along a diagonal in the south-west corner
                if s == 2
                    && (col as f64) + (grid.height - row) as f64 * 0.8 < grid.width as f64 * 0.12
                {
                    continue; // DN 0, SCL 0: no data
                }
                let plot = label[i];
                let mut spec = if plot == NO_LABEL {
                    SHRUB
                } else {
                    cover_of(&plots[plot as usize])
                };
                let (pv_nir, pv_red) = if plot == NO_LABEL {
                    (0.0, 0.0)
                } else {
                    plot_var[plot as usize]
                };
                let ev = event_label[i];
                if ev != NO_LABEL && s >= events[ev as usize].from_scene {
                    spec = match events[ev as usize].effect {
                        Effect::Bare => BARE,
                        Effect::Degraded => DEGRADED,
                        Effect::Burnt => CHAR,
                    };
                }
                let veg = spec.scl == 4;
                let tex = texture[i];
                let mut red = spec.red * (1.0 + pv_red + tex) * if veg { red_f } else { 1.0 };
                let mut nir = spec.nir * (1.0 + pv_nir - tex * 0.5) * if veg { nir_f } else { 1.0 };
                let mut swir2 = spec.swir2 * (1.0 + tex);
                red += gauss(&mut rng) * 0.003;
                nir += gauss(&mut rng) * 0.008;
                swir2 += gauss(&mut rng) * 0.005;
                let mut scl = spec.scl;
                let in_disc = |d: &(Coord<f64>, f64), dx: f64, dy: f64| {
                    let (x, y) = (p.x - d.0.x - dx, p.y - d.0.y - dy);
                    x * x + y * y <= d.1 * d.1
                };
                let cloudy = discs.iter().any(|d| in_disc(d, 0.0, 0.0))
                    || (s >= 1 && persistent.is_some_and(|r| r.contains(&p)));
                if cloudy {
                    let b = 0.35 + rng.gen_range(0.0..0.15);
                    red = b;
                    nir = b + 0.03;
                    swir2 = b - 0.05;
                    scl = if discs.iter().any(|d| in_disc(&(d.0, d.1 * 0.7), 0.0, 0.0)) {
                        9
                    } else {
                        8
                    };
                } else if discs.iter().any(|d| in_disc(d, 180.0, -120.0)) {
                    red *= 0.35;
                    nir *= 0.35;
                    swir2 *= 0.35;
                    scl = 3;
                }
                let dn = |v: f64| {
                    ((v * 10_000.0) - f64::from(BOA_ADD_OFFSET))
                        .round()
                        .clamp(1.0, 65_535.0) as u16
                };
                scene.red[i] = dn(red);
                scene.nir[i] = dn(nir);
                scene.swir2[i] = dn(swir2);
                scene.scl[i] = scl;
            }
        }
        scenes.push(scene);
    }
    SceneSeries {
        grid,
        scenes,
        truth,
    }
}

fn gauss(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An irregular blob of about `ha` hectares around the plot's centre,
/// clipped to the plot.
fn blob_in(plot: &MultiPolygon<f64>, ha: f64, rng: &mut ChaCha8Rng) -> MultiPolygon<f64> {
    let Some(c) = plot.centroid() else {
        return MultiPolygon::new(vec![]);
    };
    let mut c = c.0;
    if !plot.contains(&geo_types::Point(c)) {
        if let Some(p) = plot.0.first().and_then(|p| p.exterior().0.first()) {
            c = *p;
        }
    }
    let r = (ha * 10_000.0 / std::f64::consts::PI).sqrt();
    let n = 18;
    let phase = rng.gen_range(0.0..std::f64::consts::TAU);
    let pts: Vec<Coord<f64>> = (0..=n)
        .map(|k| {
            let k = k % n;
            let a = phase + k as f64 / n as f64 * std::f64::consts::TAU;
            let rr = r * (1.0 + 0.18 * (3.0 * a).sin() + 0.08 * (5.0 * a + 1.0).cos());
            Coord {
                x: c.x + rr * a.cos(),
                y: c.y + rr * a.sin(),
            }
        })
        .collect();
    let blob = MultiPolygon::new(vec![Polygon::new(LineString::new(pts), vec![])]);
    plot.intersection(&blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_is_deterministic_and_has_every_event() {
        let commune = &crate::generate(crate::figures::SEED, 1)[0];
        let a = generate(&commune.plots, 7);
        let b = generate(&commune.plots, 7);
        assert_eq!(a.scenes[1].nir, b.scenes[1].nir);
        let kinds: Vec<&str> = a.truth.iter().map(|t| t.id.as_str()).collect();
        for want in [
            "clearing-1",
            "clearing-7",
            "clearing-contracted",
            "clearing-late",
            "degradation-1",
            "burn-1",
            "harvest-1",
            "clearing-cloud-visible",
            "clearing-cloud-hidden",
        ] {
            assert!(kinds.contains(&want), "{want} missing from {kinds:?}");
        }
        assert_eq!(a.scenes.len(), 3);
        assert!(a.scenes[2].scl.contains(&0), "swath edge");
        assert!(a.scenes[1].scl.contains(&3), "shadows");
    }
}
