//! The subcommands: each parses its input, calls ingest / store / core, and
//! reports. No business logic lives here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use forest_api::dto::{
    AreaCrossCheckDto, AreaMismatchDto, GapDto, ImportReportDto, IndicatorsDto, LoadDto,
    OverlapDto, RejectedRowDto,
};
use forest_api::AppState;
use forest_core::{AreaMismatch, Crs, Indicators, PlotKey};
use forest_ingest::{read_contracts, read_plots_with, ReadOptions};
use forest_store::{DynStore, LoadBatch};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;

/// Prints a line to stdout; a closed pipe (`forest stats | head`) is not an error.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub(crate) async fn open(cfg: &Config) -> anyhow::Result<DynStore> {
    let store = forest_store::open(&cfg.store)
        .await
        .with_context(|| format!("cannot open the store {}", forest_store::redact(&cfg.store)))?;
    tracing::debug!(store = %store.describe(), "store opened");
    Ok(store)
}

/// A progress bar with rate and ETA on a terminal; elsewhere a log line at
/// every tenth of the work.
pub(crate) fn progress(what: &'static str) -> (forest_core::Progress, ProgressBar) {
    progress_in(&indicatif::MultiProgress::new(), what)
}

/// [`progress`] as one of several bars shown together. Without a total of
/// its own, a bar takes the length set on it by another part of the work.
pub(crate) fn progress_in(
    bars: &indicatif::MultiProgress,
    what: &'static str,
) -> (forest_core::Progress, ProgressBar) {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let pb = if tty {
        bars.add(ProgressBar::new(0))
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} ({per_sec}, ETA {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what);
    let bar = pb.clone();
    let last_tenth = std::sync::atomic::AtomicU64::new(u64::MAX);
    let p = forest_core::Progress::new(move |done, total| {
        if let Some(t) = total {
            bar.set_length(t);
        }
        let total = total.or_else(|| bar.length());
        bar.set_position(done);
        if !tty {
            if let Some(t) = total.filter(|t| *t > 0) {
                let tenth = done * 10 / t;
                if last_tenth.swap(tenth, std::sync::atomic::Ordering::Relaxed) != tenth {
                    tracing::info!(done, total = t, "{what}");
                }
            }
        }
    });
    (p, pb)
}

pub async fn migrate(cfg: &Config) -> anyhow::Result<ExitCode> {
    let store = open(cfg).await?;
    out!("schema of {} is up to date", store.describe());
    Ok(ExitCode::SUCCESS)
}

/// Options of `forest import plots`.
#[derive(Debug, Default)]
pub struct ImportOptions {
    pub layer: Option<String>,
    pub srs: Option<String>,
    pub dry_run: bool,
    pub json: bool,
    pub mapping: Vec<(String, String)>,
    pub boundary: Option<PathBuf>,
}

pub async fn import_plots(cfg: &Config, file: &Path, o: ImportOptions) -> anyhow::Result<ExitCode> {
    let ImportOptions {
        layer,
        srs,
        dry_run,
        json,
        mapping,
        boundary,
    } = o;
    let srs = srs.map(|s| s.parse::<Crs>()).transpose().context("--srs")?;
    // Reading, checking and writing run side by side: the reader hands plots
    // to the store in batches as it goes (one load transaction, committed only
    // when the whole file was read without a rejected row), and each plot's
    // key and outline to the overlap check.
    let bars = indicatif::MultiProgress::new();
    let (read_progress, read_bar) = progress_in(&bars, "reading");
    let (write_progress, write_bar) = progress_in(&bars, "writing");
    let (batches, writer) = if dry_run {
        (None, None)
    } else {
        let (tx, writer) = spawn_writer(cfg, file.display().to_string(), write_progress);
        (Some(tx), Some(writer))
    };
    let path = file.to_path_buf();
    let write_len = write_bar.clone();
    let options = ReadOptions {
        layer,
        srs,
        progress: forest_core::Progress::new(move |done, total| {
            if let Some(t) = total {
                write_len.set_length(t);
            }
            read_progress.report(done, total);
        }),
        mapping,
    };
    // the overlap check runs beside the reader and the writer, plot by plot
    type Shapes = Vec<(PlotKey, geo_types::MultiPolygon<f64>)>;
    let (shapes_tx, shapes_rx) = std::sync::mpsc::channel::<Shapes>();
    let topology = std::thread::spawn(move || {
        let mut finder =
            forest_core::topology::OverlapFinder::new(forest_core::topology::DEFAULT_MIN_AREA_M2);
        for batch in shapes_rx {
            for (key, g) in batch {
                finder.add(key, g);
            }
        }
        finder.finish()
    });
    let read = tokio::task::spawn_blocking(move || {
        let mut shapes: Shapes = Vec::with_capacity(forest_store::LOAD_BATCH);
        let mut mismatches: Vec<AreaMismatchDto> = Vec::new();
        let mut planar_ha = 0.0;
        let mut batch = Vec::with_capacity(forest_store::LOAD_BATCH);
        let mut sending = batches;
        let read = read_plots_with(&path, &options, |p| {
            let area = p.area_ha();
            planar_ha += area;
            if let Some(m) = p.attrs.dtich.and_then(|d| AreaMismatch::check(d, area)) {
                mismatches.push(AreaMismatchDto {
                    key: p.key.to_string(),
                    declared_ha: m.declared_ha,
                    geometric_ha: (m.geometric_ha * 100.0).round() / 100.0,
                });
            }
            shapes.push((p.key.clone(), p.geometry.clone()));
            if shapes.len() == forest_store::LOAD_BATCH {
                let _ = shapes_tx.send(std::mem::take(&mut shapes));
            }
            if let Some(tx) = &sending {
                batch.push(p);
                if batch.len() == forest_store::LOAD_BATCH {
                    let full =
                        std::mem::replace(&mut batch, Vec::with_capacity(forest_store::LOAD_BATCH));
                    if tx.blocking_send(LoadBatch::Plots(full)).is_err() {
                        // the writer failed; it says why once reading is done
                        sending = None;
                    }
                }
            }
        });
        if let (Ok(r), Some(tx)) = (&read, &sending) {
            if r.rejected.is_empty() && r.rows > 0 {
                let rest = LoadBatch::Plots(std::mem::take(&mut batch));
                if tx.blocking_send(rest).is_ok() {
                    let _ = tx.blocking_send(LoadBatch::Commit);
                }
            }
        }
        // otherwise the sender is dropped here without Commit: nothing is written
        let _ = shapes_tx.send(shapes);
        read.map(|r| (r, mismatches, planar_ha))
    })
    .await?;
    let (read, mismatches, planar_ha) = match read {
        Ok(r) => r,
        Err(e) => {
            if let Some(w) = writer {
                let _ = w.await; // abandoned: rolled back
            }
            return Err(e.into());
        }
    };
    read_bar.finish_and_clear();
    let mut warnings = read.warnings.clone();
    let boundary = boundary
        .map(|b| forest_ingest::read_boundary(&b, srs))
        .transpose()?;
    // the rest of the checks, while the store commits
    let (overlaps, gaps, cross) = tokio::task::spawn_blocking(move || {
        let (overlaps, shapes) = topology
            .join()
            .map_err(|_| anyhow::anyhow!("the overlap check failed"))?;
        // every plot of a commune; an even sample of 20,000 in larger files
        // (on every core: it runs beside the store's last writes and commit)
        let step = shapes.len().div_ceil(20_000).max(1);
        let sample: Vec<_> = shapes.iter().step_by(step).collect();
        let cross = {
            use rayon::prelude::*;
            sample
                .par_iter()
                .with_min_len(1_000)
                .map_init(
                    || forest_core::Transformer::new(Crs::Vn2000Tm3_10630, Crs::Wgs84),
                    |to_wgs, (key, g)| -> anyhow::Result<_> {
                        let to_wgs = to_wgs.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
                        Ok((
                            key.clone(),
                            forest_core::area::AreaCrossCheck::of(g, to_wgs)?,
                        ))
                    },
                )
                .collect::<anyhow::Result<Vec<_>>>()?
        };
        let g = boundary.map(|b| {
            let geoms: Vec<_> = shapes.iter().map(|(_, g)| g).collect();
            forest_core::topology::gaps(&geoms, &b, forest_core::topology::DEFAULT_MIN_AREA_M2)
        });
        Ok::<_, anyhow::Error>((overlaps, g.unwrap_or_default(), cross))
    })
    .await??;
    let (mut planar, mut geodesic) = (0.0f64, 0.0f64);
    let checked = cross.len() as u64;
    for (key, c) in cross {
        planar += c.planar_ha;
        geodesic += c.geodesic_ha;
        if c.is_suspect() {
            warnings.push(format!(
                "plot {}: planar area {:.2} ha and geodesic area {:.2} ha differ by {:.2} %, more than EPSG:9213 explains; is the CRS right?",
                key,
                c.planar_ha,
                c.geodesic_ha,
                c.relative_difference() * 100.0
            ));
        }
    }
    let mut report = ImportReportDto {
        file: file.display().to_string(),
        layer: read.layer.clone(),
        source_crs: read.source_crs.to_string(),
        encoding: read.encoding.clone(),
        rows: read.rows,
        valid: read.rows - read.rejected.len() as u64,
        rejected: read
            .rejected
            .iter()
            .map(|r| RejectedRowDto {
                row: r.row,
                key: r.key.clone(),
                reasons: r.reasons.clone(),
            })
            .collect(),
        warnings,
        unmapped_fields: read.unmapped_fields.clone(),
        overlaps: overlaps
            .iter()
            .map(|o| OverlapDto {
                a: o.a.to_string(),
                b: o.b.to_string(),
                area_m2: (o.area_m2 * 100.0).round() / 100.0,
                sliver: o.sliver,
            })
            .collect(),
        gaps: gaps
            .iter()
            .map(|g| GapDto {
                area_m2: (g.area_m2 * 100.0).round() / 100.0,
                x: (g.at.x() * 100.0).round() / 100.0,
                y: (g.at.y() * 100.0).round() / 100.0,
                sliver: g.sliver,
            })
            .collect(),
        repaired: read
            .repaired
            .iter()
            .map(|r| RejectedRowDto {
                row: r.row,
                key: r.key.clone(),
                reasons: vec![r.note.clone()],
            })
            .collect(),
        area_mismatches: mismatches,
        planar_area_ha: (planar_ha * 100.0).round() / 100.0,
        cross_check: AreaCrossCheckDto {
            plots: checked,
            planar_ha: (planar * 100.0).round() / 100.0,
            geodesic_ha: (geodesic * 100.0).round() / 100.0,
            difference_pct: if planar > 0.0 {
                ((geodesic - planar) / planar * 1e5).round() / 1e3
            } else {
                0.0
            },
        },
        written: false,
        load: None,
    };
    let ok = report.rejected.is_empty() && read.rows > 0;
    if let Some(writer) = writer {
        let summary = writer.await?;
        write_bar.finish_and_clear();
        if ok {
            let summary = summary
                .with_context(|| format!("{}: nothing was written", file.display()))?
                .with_context(|| format!("{}: no plot reached the store", file.display()))?;
            tracing::info!(file = %file.display(), inserted = summary.inserted, updated = summary.updated, unchanged = summary.unchanged, "plots loaded");
            report.written = true;
            report.load = Some(LoadDto {
                load_id: summary.load_id,
                inserted: summary.inserted,
                updated: summary.updated,
                unchanged: summary.unchanged,
            });
        }
    }
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_import(&report, dry_run);
    }
    if read.rows == 0 {
        eprintln!(
            "error: {}: the layer has no rows; nothing was written",
            file.display()
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The task that writes a streamed load. The store is opened (a new
/// GeoPackage created) only once the first batch arrives, so a file refused
/// at its first row leaves none behind; `Ok(None)` when nothing came.
fn spawn_writer(
    cfg: &Config,
    source: String,
    progress: forest_core::Progress,
) -> (
    tokio::sync::mpsc::Sender<LoadBatch>,
    tokio::task::JoinHandle<anyhow::Result<Option<forest_store::LoadSummary>>>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let cfg = cfg.clone();
    let writer = tokio::spawn(async move {
        let Some(first) = rx.recv().await else {
            return Ok(None);
        };
        let store = open(&cfg).await?;
        let (forward_tx, forward_rx) = tokio::sync::mpsc::channel(8);
        let forward = async move {
            let mut next = Some(first);
            while let Some(batch) = next {
                if forward_tx.send(batch).await.is_err() {
                    return;
                }
                next = rx.recv().await;
            }
        };
        let ((), summary) = tokio::join!(
            forward,
            store.load_plot_stream(forward_rx, &source, progress, None)
        );
        Ok(Some(summary?))
    });
    (tx, writer)
}

fn print_import(r: &ImportReportDto, dry_run: bool) {
    out!(
        "{} (layer {}, {}): {} rows read, {} valid, {} rejected",
        r.file,
        r.layer,
        r.source_crs,
        r.rows,
        r.valid,
        r.rejected.len()
    );
    out!("text: {}", r.encoding);
    if r.valid > 0 {
        let c = &r.cross_check;
        let sample = if c.plots < r.valid {
            format!(" (sample of {} plots)", c.plots)
        } else {
            String::new()
        };
        out!(
            "area: {:.2} ha planar in EPSG:9213; geodesic cross-check{sample}: {:.2} ha vs {:.2} ha planar, {:+.3} %",
            r.planar_area_ha,
            c.geodesic_ha,
            c.planar_ha,
            c.difference_pct
        );
    }
    for o in &r.overlaps {
        let kind = if o.sliver { "sliver" } else { "overlap" };
        out!(
            "{kind}: plots {} and {} share {:.2} m²",
            o.a,
            o.b,
            o.area_m2
        );
    }
    for g in &r.gaps {
        let kind = if g.sliver { "sliver gap" } else { "gap" };
        out!("{kind}: {:.2} m² inside the boundary covered by no plot, near E {:.1} N {:.1} (EPSG:9213)", g.area_m2, g.x, g.y);
    }
    out!(
        "topology: {} overlapping pair(s), {} gap(s)",
        r.overlaps.len(),
        r.gaps.len()
    );
    if !r.unmapped_fields.is_empty() {
        out!(
            "kept outside the national schema: {}",
            r.unmapped_fields.join(", ")
        );
    }
    for w in &r.warnings {
        out!("warning: {w}");
    }
    for e in &r.repaired {
        let key = e
            .key
            .as_ref()
            .map(|k| format!(" (plot {k})"))
            .unwrap_or_default();
        out!("repaired: row {}{key}: {}", e.row, e.reasons.join("; "));
    }
    for m in &r.area_mismatches {
        out!(
            "warning: plot {}: declared area {:.2} ha differs from its geometry {:.2} ha",
            m.key,
            m.declared_ha,
            m.geometric_ha
        );
    }
    for e in &r.rejected {
        let key = e
            .key
            .as_ref()
            .map(|k| format!(" (plot {k})"))
            .unwrap_or_default();
        eprintln!("rejected: row {}{key}: {}", e.row, e.reasons.join("; "));
    }
    match (&r.load, r.rejected.is_empty()) {
        (Some(l), _) => out!(
            "written: {} new, {} changed (new version), {} unchanged — load {}",
            l.inserted,
            l.updated,
            l.unchanged,
            l.load_id
        ),
        (None, false) => eprintln!(
            "error: {}: {} row(s) rejected; nothing was written. Correct the file and import it again.",
            r.file,
            r.rejected.len()
        ),
        (None, true) if dry_run => out!("dry run: nothing was written"),
        (None, true) => {}
    }
}

pub async fn import_contracts(
    cfg: &Config,
    file: &Path,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let path = file.to_path_buf();
    let (contracts, rejected) =
        tokio::task::spawn_blocking(move || read_contracts(&path)).await??;
    for e in &rejected {
        let key = e
            .key
            .as_ref()
            .map(|k| format!(" (contract {k})"))
            .unwrap_or_default();
        eprintln!("rejected: line {}{key}: {}", e.row, e.reasons.join("; "));
    }
    if !rejected.is_empty() {
        eprintln!(
            "error: {}: {} line(s) rejected; nothing was written",
            file.display(),
            rejected.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    let store = open(cfg).await?;
    let plots = store.contracted_plots().await?;
    let problems = forest_core::contract::check_register(&contracts, &plots);
    for p in &problems {
        eprintln!("rejected: {p}");
    }
    if !problems.is_empty() {
        eprintln!(
            "error: {}: the register disagrees with the plots in {} ({} problem(s)); nothing was written",
            file.display(),
            store.describe(),
            problems.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    let area: f64 = contracts.iter().map(|c| c.area_ha).sum();
    if dry_run {
        out!(
            "{}: {} contracts, {:.2} ha, consistent with the plots; dry run: nothing was written",
            file.display(),
            contracts.len(),
            area
        );
    } else {
        let n = store
            .replace_contracts(&contracts, &file.display().to_string())
            .await
            .with_context(|| format!("{}: nothing was written", file.display()))?;
        out!(
            "{}: {} contracts, {:.2} ha written to {}",
            file.display(),
            n,
            area,
            store.describe()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn export_plots(
    cfg: &Config,
    out: &Path,
    format: Option<&str>,
    tk: Option<String>,
    owner: Option<i64>,
    function: Option<i64>,
) -> anyhow::Result<ExitCode> {
    let format: forest_ingest::VectorFormat = match format {
        Some(f) => f
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--format: {e}"))?,
        None => out
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .parse()
            .map_err(|e: String| anyhow::anyhow!("{}: {e}; or give --format", out.display()))?,
    };
    let mut filters = Vec::new();
    if let Some(t) = tk {
        filters.push(("tk".to_string(), forest_core::Value::Text(t)));
    }
    if let Some(o) = owner {
        filters.push(("machur".to_string(), forest_core::Value::Int(o)));
    }
    if let Some(f) = function {
        forest_core::codes::ForestFunction::from_code(f).context("--function")?;
        filters.push(("malr3".to_string(), forest_core::Value::Int(f)));
    }
    let store = open(cfg).await?;
    let mut plots = Vec::new();
    let page_size = 5_000;
    loop {
        let q = forest_store::PlotQuery {
            bbox: None,
            filters: filters.clone(),
            limit: page_size,
            offset: plots.len() as u64,
        };
        let page = store.query_plots(&q).await?;
        let n = page.plots.len();
        plots.extend(page.plots.into_iter().map(|s| s.plot));
        if n < page_size as usize {
            break;
        }
    }
    if plots.is_empty() {
        eprintln!(
            "error: no plot in {} matches; nothing was written",
            store.describe()
        );
        return Ok(ExitCode::FAILURE);
    }
    let layer = out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plots")
        .to_string();
    let path = out.to_path_buf();
    let n = plots.len();
    let files = tokio::task::spawn_blocking(move || {
        forest_ingest::export_plots(&path, format, &layer, &plots)
    })
    .await??;
    out!(
        "{n} plots written to {}",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn stats(cfg: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let store = open(cfg).await?;
    let groups = store.fact_groups().await?;
    let ind = Indicators::compute(&groups, &cfg.targets, cfg.reference_year);
    let dto = IndicatorsDto::new(&ind, cfg.reference_year);
    if json {
        out!("{}", serde_json::to_string_pretty(&dto)?);
        return Ok(ExitCode::SUCCESS);
    }
    let m = |name: &str, v: &forest_api::dto::MeasureDto| {
        let mark = match v.met {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "",
        };
        out!(
            "{name:<34} {:>12.2} {:<5} target {:>10} {mark}",
            v.actual,
            v.unit,
            v.target.map(|t| format!("{t:.2}")).unwrap_or_default()
        );
    };
    out!(
        "Vĩnh Thông forest indicators — {} ({} plots)",
        store.describe(),
        dto.plots
    );
    out!(
        "{:<34} {:>12.2} ha",
        "natural land area",
        dto.natural_area_ha
    );
    m("forest area", &dto.forest_area_ha);
    m("forest cover", &dto.forest_cover_pct);
    out!(
        "{:<34} {:>12.2} ha",
        "  natural forest",
        dto.natural_forest_ha
    );
    out!(
        "{:<34} {:>12.2} ha",
        "  planted forest",
        dto.planted_forest_ha
    );
    out!(
        "{:<34} {:>12.2} ha",
        "planted, not yet forest",
        dto.planted_not_yet_forest_ha
    );
    m("forest under protection contract", &dto.contracted_area_ha);
    m(
        &format!("planting in {}", dto.reference_year),
        &dto.planting_ha,
    );
    m(
        "forest area with identified owner",
        &dto.allocation.owner_pct,
    );
    let a = &dto.allocation;
    for (name, s) in [
        ("forest plots", &a.forest),
        ("  with owner", &a.with_owner),
        ("  with certificate", &a.with_certificate),
        ("  in dispute", &a.in_dispute),
        ("  without owner", &a.without_owner),
    ] {
        out!("{name:<34} {:>12.2} ha in {} plots", s.area_ha, s.plots);
    }
    for (title, rows) in [
        ("by forest function (malr3)", &dto.by_function),
        ("by owner type (dtuong)", &dto.by_owner_type),
        ("by forest type (ldlr)", &dto.by_forest_type),
        ("by village (ddanh)", &dto.by_village),
        ("by compartment (tk)", &dto.by_compartment),
    ] {
        out!("\n{title}");
        out!(
            "  {:<42} {:>6} {:>11} {:>11} {:>11}",
            "",
            "plots",
            "area ha",
            "forest ha",
            "contract ha"
        );
        for r in rows {
            let label = if r.key.is_empty() || r.key == r.label_en {
                r.label_en.clone()
            } else {
                format!("{} {}", r.key, r.label_en)
            };
            let label: String = label.chars().take(42).collect();
            out!(
                "  {label:<42} {:>6} {:>11.2} {:>11.2} {:>11.2}",
                r.plots,
                r.area_ha,
                r.forest_ha,
                r.contracted_ha
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn plot(
    cfg: &Config,
    key: &str,
    history: bool,
    at: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let key: PlotKey = key.parse().context("plot key")?;
    let at = at
        .map(|a| -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(a) {
                return Ok(t.with_timezone(&chrono::Utc));
            }
            let d: chrono::NaiveDate = a
                .parse()
                .with_context(|| format!("--at {a}: expected YYYY-MM-DD or an RFC 3339 instant"))?;
            Ok(d.and_hms_milli_opt(23, 59, 59, 999)
                .unwrap_or_default()
                .and_utc())
        })
        .transpose()?;
    let store = open(cfg).await?;
    let versions = if history {
        store.plot_history(&key).await?
    } else if let Some(t) = at {
        let all = store.plot_history(&key).await?;
        match forest_store::version_at(&all, t) {
            Some(v) => vec![v.clone()],
            None if !all.is_empty() => {
                eprintln!(
                    "error: the store held no version of plot {key} at {t} (first loaded {})",
                    all[0].valid_from
                );
                return Ok(ExitCode::FAILURE);
            }
            None => vec![],
        }
    } else {
        let mut all = store.plot_history(&key).await?;
        all.split_off(all.len().saturating_sub(1))
    };
    if versions.is_empty() {
        eprintln!("error: plot {key} is not in {}", store.describe());
        return Ok(ExitCode::FAILURE);
    }
    for v in versions {
        let until = v
            .valid_to
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "current".into());
        out!(
            "plot {} — version {} ({} → {}), {:.2} ha from geometry; written by {}",
            v.plot.key,
            v.version,
            v.valid_from.to_rfc3339(),
            until,
            v.plot.area_ha(),
            v.source
        );
        for (name, value) in v.plot.to_record().iter() {
            if !value.is_empty() {
                out!("  {name:<10} {value}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn serve(cfg: &Config) -> anyhow::Result<ExitCode> {
    let store = open(cfg).await?;
    serve_store(cfg, store).await
}

async fn serve_store(cfg: &Config, store: DynStore) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(&cfg.bind)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, store = %store.describe(), "serving; open http://{addr}/");
    let state = AppState {
        store: Arc::clone(&store),
        targets: cfg.targets,
        reference_year: cfg.reference_year,
        fire: cfg.fire.clone(),
        cors_origins: cfg.cors_origins.clone(),
        cache: Default::default(),
        tiles: forest_api::TileCache::new(cfg.tile_cache_mb.saturating_mul(1 << 20)),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let dispatcher = tokio::spawn(forest_api::notify::run_dispatcher(
        Arc::clone(&store),
        cfg.notify.clone(),
        stop_rx,
    ));
    let served = forest_api::serve(listener, state, shutdown()).await;
    let _ = stop_tx.send(true);
    // an attempt in flight may finish; what is left stays in the outbox
    let _ = tokio::time::timeout(std::time::Duration::from_secs(15), dispatcher).await;
    served.context("server failed")?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

pub async fn demo(cfg: &Config, dir: &Path) -> anyhow::Result<ExitCode> {
    let store = open(cfg).await?;
    if store.count_plots().await? == 0 {
        let plots = dir.join(crate::sample::PLOTS);
        let contracts = dir.join(crate::sample::CONTRACTS);
        anyhow::ensure!(
            plots.exists(),
            "{} not found: run `forest sample-data --out {}` first",
            plots.display(),
            dir.display()
        );
        if import_plots(cfg, &plots, ImportOptions::default()).await? != ExitCode::SUCCESS {
            anyhow::bail!("the sample plots could not be imported");
        }
        if import_contracts(cfg, &contracts, false).await? != ExitCode::SUCCESS {
            anyhow::bail!("the sample contracts could not be imported");
        }
        // The rest of the sample, when present: scenes → loss alerts, hotspots
        // → fire alerts, the dry season's weather → fire danger.
        let scenes_dir = dir.join(crate::sample::SCENES);
        let mut scenes: Vec<PathBuf> = std::fs::read_dir(&scenes_dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "tif"))
                    .collect()
            })
            .unwrap_or_default();
        scenes.sort();
        if scenes.len() >= 2 {
            crate::detect::add(cfg, scenes, None, None, None).await?;
            crate::detect::detect(cfg, crate::detect::DetectOptions::default()).await?;
        }
        let hotspots = dir.join(crate::sample::HOTSPOTS);
        if hotspots.exists() {
            crate::fire::import_hotspots(cfg, &hotspots, false).await?;
        }
        let weather = dir.join(crate::sample::WEATHER);
        if weather.exists() {
            crate::fire::import_weather(cfg, &weather, false).await?;
        }
    } else {
        tracing::info!(store = %store.describe(), "store already holds plots; serving them");
    }
    serve_store(cfg, store).await
}
