//! `forest weather import` and `forest danger`.

use std::path::Path;
use std::process::ExitCode;

use forest_core::change::alert::PlotIndex;
use forest_core::change::{fire_priority, AlertCandidate, Confidence, PixelClass};
use forest_core::fire::{danger_series, roman};
use forest_core::{Crs, Transformer};
use forest_store::alerts::NewAlert;

use crate::commands::open as open_store;
use crate::config::Config;

pub async fn import_weather(cfg: &Config, file: &Path, dry_run: bool) -> anyhow::Result<ExitCode> {
    let f = file.to_path_buf();
    let w = tokio::task::spawn_blocking(move || forest_ingest::weather::read_weather(&f)).await??;
    let mut errors = w.errors.clone();
    if let Err(e) = danger_series(&w.days, &cfg.fire) {
        errors.push(e.to_string());
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{}: {e}", file.display());
        }
        eprintln!(
            "error: {} problem(s) in {}; nothing was written — fix them and import again",
            errors.len(),
            file.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let (first, last) = (
        w.days.first().map(|d| d.date),
        w.days.last().map(|d| d.date),
    );
    if dry_run {
        println!(
            "{} day(s) read ({:?} – {:?}); dry run: nothing was written",
            w.days.len(),
            first,
            last
        );
        return Ok(ExitCode::SUCCESS);
    }
    let store = open_store(cfg).await?;
    // The level on the latest day, before and after this file.
    let stored = store.weather().await?;
    let level_of = |days: &[forest_core::fire::DailyWeather]| {
        let run = forest_api::dto::latest_run(days);
        danger_series(run, &cfg.fire)
            .ok()
            .and_then(|s| s.last().map(|d| (d.date, d.level, d.index)))
    };
    let before = level_of(&stored);
    let mut merged: std::collections::BTreeMap<chrono::NaiveDate, forest_core::fire::DailyWeather> =
        stored.iter().map(|d| (d.date, *d)).collect();
    for d in &w.days {
        merged.insert(d.date, *d);
    }
    let merged: Vec<_> = merged.into_values().collect();
    let after = level_of(&merged);
    let event = match (before, after) {
        (b, Some((date, level, index))) if b.map(|x| x.1) != Some(level) => {
            Some(serde_json::json!({
                "event": "danger.level_changed",
                "date": date.to_string(),
                "level": level,
                "level_roman": roman(level),
                "previous_level": b.map(|x| x.1),
                "index": (index * 10.0).round() / 10.0,
            }))
        }
        _ => None,
    };
    let (new, replaced) = store
        .upsert_weather(&w.days, &file.display().to_string(), event.as_ref())
        .await?;
    if let Some(e) = &event {
        println!(
            "fire danger level now {} on {} (was {})",
            e["level_roman"].as_str().unwrap_or(""),
            e["date"].as_str().unwrap_or(""),
            before.map_or("-".to_string(), |b| roman(b.1).to_string())
        );
    }
    println!(
        "weather: {new} new day(s), {replaced} replaced ({} – {})",
        first.map(|d| d.to_string()).unwrap_or_default(),
        last.map(|d| d.to_string()).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn danger(cfg: &Config, days: usize, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(cfg).await?;
    let weather = store.weather().await?;
    let mut doc = forest_api::dto::fire_danger(&weather, &cfg.fire);
    let by_level = match doc["current"]["index"].as_f64() {
        Some(index) => Some(forest_api::dto::plots_by_level(
            index,
            &store.plot_shapes().await?,
            &cfg.fire,
        )),
        None => None,
    };
    if let Some(b) = &by_level {
        doc["forest_plots_by_level"] = b.clone();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    let run = forest_api::dto::latest_run(&weather);
    let series = danger_series(run, &cfg.fire)?;
    let Some(cur) = series.last() else {
        println!("no weather stored: forest weather import <csv>");
        return Ok(ExitCode::SUCCESS);
    };
    if run.len() < weather.len() {
        println!(
            "note: the stored weather has a gap; the index runs from {}",
            run[0].date
        );
    }
    for d in series.iter().skip(series.len().saturating_sub(days)) {
        println!(
            "{}  deficit {:5.1} hPa  index {:8.0}  level {:3}{}",
            d.date,
            d.deficit_hpa,
            d.index,
            roman(d.level),
            if d.reset { "  (rain: reset)" } else { "" }
        );
    }
    println!(
        "fire danger on {}: level {} (index {:.0})",
        cur.date,
        roman(cur.level),
        cur.index
    );
    if let Some(levels) = by_level.as_ref().and_then(|b| b.as_array()) {
        let parts: Vec<String> = levels
            .iter()
            .filter(|l| l["forest_plots"].as_u64().unwrap_or(0) > 0)
            .map(|l| {
                format!(
                    "{} {} plots ({} ha)",
                    l["level_roman"].as_str().unwrap_or(""),
                    l["forest_plots"],
                    l["forest_ha"]
                )
            })
            .collect();
        if !parts.is_empty() {
            println!("forest plots by fuel-weighted level: {}", parts.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `forest hotspots import`: hotspots inside or within one pixel footprint of
/// a forest plot become fire alerts (attributed and prioritised like loss
/// alerts); a hotspot already imported is not imported twice.
pub async fn import_hotspots(cfg: &Config, file: &Path, dry_run: bool) -> anyhow::Result<ExitCode> {
    let f = file.to_path_buf();
    let read =
        tokio::task::spawn_blocking(move || forest_ingest::hotspots::read_hotspots(&f)).await??;
    if !read.errors.is_empty() {
        for e in &read.errors {
            eprintln!("{}: {e}", file.display());
        }
        eprintln!(
            "error: {} bad row(s) in {}; nothing was written — fix them and import again",
            read.errors.len(),
            file.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<_> = read
        .hotspots
        .iter()
        .filter(|h| seen.insert(h.key()))
        .cloned()
        .collect();
    let repeated = read.hotspots.len() - unique.len();
    let store = open_store(cfg).await?;
    let shapes = store.plot_shapes().await?;
    anyhow::ensure!(
        !shapes.is_empty(),
        "{} holds no plots: import the plot layer first",
        store.describe()
    );
    let index = PlotIndex::new(&shapes);
    let to = Transformer::new(Crs::Crs84, Crs::Vn2000Tm3_10630)?;
    let (mut alerts, mut outside) = (Vec::new(), 0usize);
    let mut rows = Vec::with_capacity(unique.len());
    for h in &unique {
        let (x, y) = to.point(h.longitude, h.latitude)?;
        let r = h.half_footprint_m();
        let square = geo_types::Rect::new(
            geo_types::coord! { x: x - r, y: y - r },
            geo_types::coord! { x: x + r, y: y + r },
        );
        let footprint = geo_types::MultiPolygon::new(vec![square.to_polygon()]);
        let in_forest = index.touches_forest(&footprint);
        rows.push(forest_store::hotspots::HotspotRow {
            id: 0,
            hotspot: h.clone(),
            x,
            y,
            in_forest,
            source: file.display().to_string(),
            loaded_at: chrono::Utc::now(),
        });
        if !in_forest {
            outside += 1;
            continue;
        }
        let plots = index.attribute(&footprint);
        let confident = h.is_confident();
        let candidate = AlertCandidate {
            area_ha: (2.0 * r) * (2.0 * r) / 10_000.0,
            geometry: footprint,
            class: PixelClass::Fire,
            confidence: if confident {
                Confidence::High
            } else {
                Confidence::Low
            },
            mean_drop: 0.0,
            mean_dnbr: None,
            first_observed: h.acq_date,
            last_clear_before: None,
            pixels: 1,
        };
        let mut priority = fire_priority(confident, h.frp, &plots);
        priority.reasons.push(format!(
            "{} {} {:04} UTC, confidence {}",
            h.instrument, h.acq_date, h.acq_time, h.confidence
        ));
        alerts.push(NewAlert {
            candidate,
            plots,
            priority,
        });
    }
    println!(
        "{}: {} hotspot(s), {} repeated in the file; {} in or within a pixel of forest, {} elsewhere (no alert)",
        file.display(),
        read.hotspots.len(),
        repeated,
        alerts.len(),
        outside
    );
    if dry_run {
        println!("dry run: nothing was written");
        return Ok(ExitCode::SUCCESS);
    }
    let (h, r) = store.save_hotspots(&rows, &alerts, "hotspots").await?;
    println!(
        "hotspots: {} new, {} already stored; fire alerts: {} new, {} updated, {} already known",
        h.new, h.known, r.inserted, r.updated, r.unchanged
    );
    Ok(ExitCode::SUCCESS)
}
