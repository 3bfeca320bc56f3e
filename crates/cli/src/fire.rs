//! `forest weather import` and `forest danger`.

use std::path::Path;
use std::process::ExitCode;

use forest_core::fire::{danger_series, roman};

use crate::commands::open_store;
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
    let (new, replaced) = store
        .upsert_weather(&w.days, &file.display().to_string())
        .await?;
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
    let doc = forest_api::dto::fire_danger(&weather, &cfg.fire);
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
    Ok(ExitCode::SUCCESS)
}
