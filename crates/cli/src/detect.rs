//! `forest scenes inspect` and `forest detect`: wiring of ingest (scenes),
//! core (the detector) and the store (plots in, alerts out).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::NaiveDate;
use forest_core::change::{self, evaluate, GridSpec, PlotIndex};
use forest_ingest::raster::{inspect_scene, GdalSource, SceneInfo, SceneOptions};
use forest_store::alerts::NewAlert;
use geo::{BoundingRect, Intersects};
use geo_types::{Coord, Rect};
use rayon::prelude::*;
use serde::Serialize;

use crate::commands::{open as open_store, progress as progress_bar};
use crate::config::Config;

/// Largest analysis grid accepted, in pixels (the run's memory does not grow
/// with it, but its time does).
const MAX_GRID_PIXELS: usize = 4_000_000_000;

/// Options of `forest detect`.
#[derive(Debug, Default)]
pub struct DetectOptions {
    pub scenes: Vec<PathBuf>,
    pub since: Option<NaiveDate>,
    pub product: Option<String>,
    pub bands: Option<String>,
    pub truth: Option<PathBuf>,
    pub dry_run: bool,
    pub json: bool,
}

fn inspect_all(
    files: &[PathBuf],
    product: Option<String>,
    bands: Option<String>,
) -> anyhow::Result<Vec<SceneInfo>> {
    let opts = SceneOptions {
        date: None,
        product,
        bands,
        estimate_cloud: false,
    };
    files
        .par_iter()
        .map(|f| inspect_scene(f, &opts).map_err(anyhow::Error::from))
        .collect()
}

pub async fn inspect(
    files: Vec<PathBuf>,
    product: Option<String>,
    bands: Option<String>,
    date: Option<NaiveDate>,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(!files.is_empty(), "name at least one GeoTIFF");
    let infos = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<SceneInfo>> {
        let opts = SceneOptions {
            date,
            product,
            bands,
            estimate_cloud: true,
        };
        files
            .iter()
            .map(|f| inspect_scene(f, &opts).map_err(anyhow::Error::from))
            .collect()
    })
    .await??;
    for i in &infos {
        println!(
            "{}: {} ({}), {} × {} px, {} — cloud {:.1} %, bands red={} nir={:?} swir2={:?} quality={:?}",
            i.path.display(),
            i.date,
            i.date_source,
            i.width,
            i.height,
            i.product.name(),
            i.cloud_fraction * 100.0,
            i.roles.red,
            i.roles.nir,
            i.roles.swir2,
            i.roles.quality
        );
        for w in &i.warnings {
            println!("  warning: {w}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn add(
    cfg: &Config,
    files: Vec<PathBuf>,
    product: Option<String>,
    bands: Option<String>,
    date: Option<NaiveDate>,
) -> anyhow::Result<ExitCode> {
    let files: Vec<PathBuf> = files
        .into_iter()
        .map(|f| std::path::absolute(&f).unwrap_or(f))
        .collect();
    let (p2, b2) = (product.clone(), bands.clone());
    let infos = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<SceneInfo>> {
        let opts = SceneOptions {
            date,
            product: p2,
            bands: b2,
            estimate_cloud: true,
        };
        files
            .iter()
            .map(|f| inspect_scene(f, &opts).map_err(anyhow::Error::from))
            .collect()
    })
    .await??;
    let now = chrono::Utc::now();
    let records: Vec<forest_store::scenes::SceneRecord> = infos
        .iter()
        .map(|i| forest_store::scenes::SceneRecord {
            path: i.path.display().to_string(),
            date: i.date,
            date_source: i.date_source.clone(),
            product: i.product.name().to_string(),
            product_hint: product.clone(),
            bands: bands.clone(),
            cloud_fraction: i.cloud_fraction,
            width: i.width as i64,
            height: i.height as i64,
            footprint: i.footprint.clone(),
            registered_at: now,
        })
        .collect();
    let store = open_store(cfg).await?;
    let r = store.register_scenes(&records).await?;
    for i in &infos {
        println!(
            "{} {} ({}), {}, cloud {:.1} %",
            i.date,
            i.path.display(),
            i.date_source,
            i.product.name(),
            i.cloud_fraction * 100.0
        );
        for w in &i.warnings {
            println!("  warning: {w}");
        }
    }
    println!("registered: {} new, {} updated", r.inserted, r.updated);
    Ok(ExitCode::SUCCESS)
}

pub async fn list(cfg: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(cfg).await?;
    let scenes = store.scenes().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&scenes)?);
    } else {
        println!("{} scene(s)", scenes.len());
        for s in &scenes {
            println!(
                "{} {:14} cloud {:5.1} %  {} × {} px  {}",
                s.date,
                s.product,
                s.cloud_fraction * 100.0,
                s.width,
                s.height,
                s.path
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct SceneReport {
    path: String,
    date: NaiveDate,
    role: &'static str,
    product: &'static str,
    /// Share of what the scene saw over the analysis grid that was cloud or
    /// shadow.
    cloud_fraction: f64,
    clear_share_over_grid: f64,
    ndvi_offset: f32,
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct AlertReport {
    class: &'static str,
    confidence: &'static str,
    area_ha: f64,
    priority: i32,
    reasons: Vec<String>,
    first_observed: NaiveDate,
    last_clear_before: Option<NaiveDate>,
    plots: Vec<String>,
}

#[derive(Debug, Serialize)]
struct DetectReport {
    grid: GridDto,
    scenes: Vec<SceneReport>,
    alerts: Vec<AlertReport>,
    unobserved_forest_ha: f64,
    unobserved_regions: usize,
    forest_observed_ha: f64,
    saved: Option<forest_store::alerts::SaveReport>,
    evaluation: Option<evaluate::Evaluation>,
}

#[derive(Debug, Serialize)]
struct GridDto {
    origin_x: f64,
    origin_y: f64,
    pixel: f64,
    width: usize,
    height: usize,
}

pub async fn detect(cfg: &Config, o: DetectOptions) -> anyhow::Result<ExitCode> {
    cfg.detect.validate().map_err(anyhow::Error::msg)?;
    let params = cfg.detect.clone();
    // The plots are read while the scenes are inspected.
    let store = open_store(cfg).await?;
    let plots_read = async {
        let started = std::time::Instant::now();
        let plots = store.plot_shapes().await?;
        tracing::info!(
            plots = plots.len(),
            seconds = started.elapsed().as_secs_f64(),
            rss_mib = rss_mib(),
            "plots read"
        );
        anyhow::Ok(plots)
    };
    let scenes_read = async {
        let scenes = if o.scenes.is_empty() {
            // The registered scenes, each with the options it was registered with.
            let registered = store.scenes().await?;
            anyhow::ensure!(
            registered.len() >= 2,
            "detection needs at least two scenes, a baseline and a later one: name the files, or register them with forest scenes add"
        );
            tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<SceneInfo>> {
                registered
                    .par_iter()
                    .map(|r| {
                        let opts = SceneOptions {
                            date: Some(r.date),
                            product: r.product_hint.clone(),
                            bands: r.bands.clone(),
                            estimate_cloud: false,
                        };
                        inspect_scene(Path::new(&r.path), &opts)
                            .map_err(|e| anyhow::anyhow!("registered scene {}: {e}", r.path))
                    })
                    .collect()
            })
            .await??
        } else {
            anyhow::ensure!(
                o.scenes.len() >= 2,
                "detection needs at least two scenes: a baseline and a later one"
            );
            let (files, product, bands) = (o.scenes.clone(), o.product.clone(), o.bands.clone());
            tokio::task::spawn_blocking(move || inspect_all(&files, product, bands)).await??
        };
        anyhow::Ok(scenes)
    };
    let (mut scenes, plots) = tokio::try_join!(scenes_read, plots_read)?;
    scenes.sort_by_key(|s| s.date);
    let since = match o.since {
        Some(d) => d,
        None => {
            let first = scenes[0].date;
            match scenes.iter().find(|s| s.date > first) {
                Some(s) => s.date,
                None => bail!("every scene has the date {first}: a baseline needs earlier scenes (or pass --since)"),
            }
        }
    };
    let from = since - chrono::Duration::days(params.baseline_days);
    let before: Vec<&SceneInfo> = scenes
        .iter()
        .filter(|s| s.date < since && s.date >= from)
        .collect();
    if before.is_empty() {
        bail!(
            "no scene between {from} and {since} to form the baseline (baseline_days = {})",
            params.baseline_days
        );
    }
    if !scenes.iter().any(|s| s.date >= since) {
        bail!("no scene on or after {since} to compare with the baseline");
    }
    let scenes: Vec<SceneInfo> = scenes.into_iter().filter(|s| s.date >= from).collect();
    let baseline = scenes.iter().filter(|s| s.date < since).count();

    // The grid over what both the plots and the scenes cover.
    if plots.is_empty() {
        bail!(
            "{} holds no plots: import the plot layer first (forest import plots …)",
            store.describe()
        );
    }
    let plots_rect = plots
        .iter()
        .filter_map(|p| p.geometry.bounding_rect())
        .reduce(union)
        .context("the plots have no extent")?;
    let mut grid_rect: Option<Rect<f64>> = None;
    for s in &scenes {
        let fp = s.footprint.bounding_rect().context("empty footprint")?;
        if !fp.intersects(&plots_rect) {
            bail!(
                "{}: the scene does not cover the commune's plots (its footprint in EPSG:9213 is {:.0},{:.0} – {:.0},{:.0}); is it the right tile?",
                s.path.display(),
                fp.min().x,
                fp.min().y,
                fp.max().x,
                fp.max().y
            );
        }
        grid_rect = Some(grid_rect.map_or(fp, |r| union(r, fp)));
    }
    let grid_rect = intersect(grid_rect.context("no scene")?, plots_rect)
        .context("the scenes do not overlap the plots")?;
    let grid = GridSpec::covering(grid_rect, params.pixel_size);
    if grid.len() > MAX_GRID_PIXELS {
        bail!(
            "the analysis grid would be {} × {} pixels; raise pixel_size in [detect]",
            grid.width,
            grid.height
        );
    }
    tracing::info!(width = grid.width, height = grid.height, pixel = grid.pixel, scenes = scenes.len(), baseline, %since, "detecting");

    // The run, off the async executor.
    let (prog, bar) = progress_bar("detect");
    let p2 = params.clone();
    let scenes2 = scenes.clone();
    let (outcome, alerts, plots) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let index = PlotIndex::new(&plots);
        let mut source = GdalSource::open(&scenes2, &grid, &index)?;
        let strip_rows = (1 << 20) / grid.width.max(1);
        let outcome = change::run(
            &grid,
            scenes2.len(),
            baseline,
            &p2,
            strip_rows.clamp(16, 1024),
            &mut source,
            &prog,
        )?;
        let t = outcome.timings;
        tracing::info!(
            offsets_s = t.offsets.as_secs_f64(),
            read_s = t.read.as_secs_f64(),
            classify_s = t.classify.as_secs_f64(),
            label_s = t.label.as_secs_f64(),
            wait_for_reader_s = t.wait.as_secs_f64(),
            rss_mib = rss_mib(),
            changed_components = outcome.changes.len(),
            unobserved_components = outcome.unobserved.len(),
            changed_runs = outcome.changes.iter().map(|c| c.runs.len()).sum::<usize>(),
            unobserved_runs = outcome
                .unobserved
                .iter()
                .map(|c| c.runs.len())
                .sum::<usize>(),
            "pixels classified"
        );
        let started = std::time::Instant::now();
        let dates: Vec<NaiveDate> = scenes2.iter().map(|s| s.date).collect();
        let cands = change::candidates(&outcome.changes, &grid, &dates, p2.min_area_ha);
        let alerts: Vec<NewAlert> = cands
            .into_par_iter()
            .map(|c| {
                let touches = index.attribute(&c.geometry);
                let priority = change::priority(
                    c.class,
                    c.confidence,
                    c.area_ha,
                    &touches,
                    chrono::Datelike::year(&c.first_observed),
                );
                NewAlert {
                    candidate: c,
                    plots: touches,
                    priority,
                }
            })
            .collect();
        tracing::info!(
            alerts = alerts.len(),
            seconds = started.elapsed().as_secs_f64(),
            rss_mib = rss_mib(),
            "alerts outlined and attributed"
        );
        drop(source);
        drop(index);
        Ok((outcome, alerts, plots))
    })
    .await??;
    bar.finish_and_clear();
    // Freeing a province's plots takes a tenth of a second: done beside
    // the rest of the run rather than before it.
    std::thread::spawn(move || drop(plots));
    let mut alerts = alerts;
    alerts.sort_by_key(|a| std::cmp::Reverse(a.priority.score));

    let px_ha = grid.pixel_area_ha();
    // Unobserved forest regions at least the minimum mapping unit; their
    // outlines are needed only to score a run against ground truth.
    let unobserved: Vec<&change::Component> = outcome
        .unobserved
        .iter()
        .filter(|c| c.tally.pixels as f64 * px_ha + 1e-9 >= params.min_area_ha)
        .collect();
    let evaluation = match &o.truth {
        Some(t) => {
            let truth = forest_ingest::read_truth(t)?;
            let shapes: Vec<_> = alerts
                .iter()
                .map(|a| a.candidate.geometry.clone())
                .collect();
            let unobserved: Vec<_> = unobserved
                .par_iter()
                .map(|c| change::polygon::outline(&c.runs, &grid))
                .collect();
            Some(evaluate::evaluate(
                &truth,
                &shapes,
                &unobserved,
                params.min_area_ha,
            ))
        }
        None => None,
    };
    let started = std::time::Instant::now();
    let saved = if o.dry_run || alerts.is_empty() {
        None
    } else {
        Some(store.save_alerts(&alerts, "detect").await?)
    };
    tracing::info!(
        alerts = alerts.len(),
        seconds = started.elapsed().as_secs_f64(),
        rss_mib = rss_mib(),
        "alerts saved"
    );

    let grid_px = grid.len() as f64;
    let report = DetectReport {
        grid: GridDto {
            origin_x: grid.origin_x,
            origin_y: grid.origin_y,
            pixel: grid.pixel,
            width: grid.width,
            height: grid.height,
        },
        scenes: scenes
            .iter()
            .enumerate()
            .map(|(k, s)| SceneReport {
                path: s.path.display().to_string(),
                date: s.date,
                role: if k < baseline {
                    "baseline"
                } else {
                    "monitoring"
                },
                product: s.product.name(),
                // over the analysis grid, from the detection's own count
                cloud_fraction: outcome.quality[k].cloud_fraction(),
                clear_share_over_grid: outcome.quality[k].clear as f64 / grid_px,
                ndvi_offset: outcome.offsets[k].0,
                warnings: s.warnings.clone(),
            })
            .collect(),
        alerts: alerts
            .iter()
            .map(|a| AlertReport {
                class: a.candidate.class.as_str(),
                confidence: a.candidate.confidence.as_str(),
                area_ha: (a.candidate.area_ha * 100.0).round() / 100.0,
                priority: a.priority.score,
                reasons: a.priority.reasons.clone(),
                first_observed: a.candidate.first_observed,
                last_clear_before: a.candidate.last_clear_before,
                plots: a
                    .plots
                    .iter()
                    .map(|p| format!("{} ({:.2} ha)", p.key, p.overlap_ha))
                    .collect(),
            })
            .collect(),
        unobserved_forest_ha: outcome.pixels[change::PixelClass::Unobserved as usize] as f64
            * px_ha,
        unobserved_regions: unobserved.len(),
        forest_observed_ha: (outcome.pixels[change::PixelClass::NoChange as usize]
            + [
                change::PixelClass::Degradation,
                change::PixelClass::Clearing,
                change::PixelClass::Burn,
            ]
            .iter()
            .map(|c| outcome.pixels[*c as usize])
            .sum::<u64>()) as f64
            * px_ha,
        saved,
        evaluation,
    };
    if o.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, o.dry_run);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &DetectReport, dry_run: bool) {
    println!(
        "grid: {} × {} px of {} m in EPSG:9213",
        r.grid.width, r.grid.height, r.grid.pixel
    );
    for s in &r.scenes {
        println!(
            "scene {} {:10} {}: over the grid cloud {:.1} % of what it saw, clear {:.1} %, seasonal NDVI offset {:+.3}",
            s.date,
            s.role,
            Path::new(&s.path).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
            s.cloud_fraction * 100.0,
            s.clear_share_over_grid * 100.0,
            s.ndvi_offset
        );
        if s.clear_share_over_grid == 0.0 {
            println!("  no clear observation in this scene over the commune");
        }
        for w in &s.warnings {
            println!("  warning: {w}");
        }
    }
    println!("{} alert(s), highest priority first:", r.alerts.len());
    for a in &r.alerts {
        println!(
            "  [{:3}] {:11} {:4} {:6.2} ha first seen {} (last clear {}) — {} — {}",
            a.priority,
            a.class,
            a.confidence,
            a.area_ha,
            a.first_observed,
            a.last_clear_before.map_or("-".into(), |d| d.to_string()),
            a.reasons.join("; "),
            if a.plots.is_empty() {
                "no plot".into()
            } else {
                a.plots.join(", ")
            }
        );
    }
    println!(
        "forest observed: {:.2} ha; unobserved forest (cloud, shadow, no data): {:.2} ha in {} region(s) ≥ the minimum mapping unit",
        r.forest_observed_ha, r.unobserved_forest_ha, r.unobserved_regions
    );
    match (&r.saved, dry_run) {
        (_, true) => println!("dry run: nothing was written"),
        (Some(s), _) => println!(
            "store: {} new alert(s), {} updated, {} already known",
            s.inserted, s.updated, s.unchanged
        ),
        (None, _) => println!("store: nothing to write"),
    }
    if let Some(e) = &r.evaluation {
        println!("ground truth:");
        for ev in &e.events {
            println!(
                "  {:24} {:12} {:6.2} ha expect {:10?} found {:5} IoU {:.2} unobserved {:.0} %",
                ev.id,
                ev.kind,
                ev.area_ha,
                ev.expect,
                ev.found,
                ev.iou,
                ev.unobserved_share * 100.0
            );
        }
        println!(
            "event recall {:.1} %, alert precision {:.1} %, area IoU {:.3}, false alerts {}",
            e.recall * 100.0,
            e.precision * 100.0,
            e.iou,
            e.false_alerts.len()
        );
    }
}

fn union(a: Rect<f64>, b: Rect<f64>) -> Rect<f64> {
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
}

fn intersect(a: Rect<f64>, b: Rect<f64>) -> Option<Rect<f64>> {
    let min = Coord {
        x: a.min().x.max(b.min().x),
        y: a.min().y.max(b.min().y),
    };
    let max = Coord {
        x: a.max().x.min(b.max().x),
        y: a.max().y.min(b.max().y),
    };
    (min.x < max.x && min.y < max.y).then(|| Rect::new(min, max))
}

/// Resident memory of this process in MiB (Linux), for the run log.
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").map(|v| {
                    v.trim()
                        .trim_end_matches(" kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0)
                })
            })
        })
        .map_or(0, |kb| kb / 1024)
}
