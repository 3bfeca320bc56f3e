//! `forest alerts`: the rangers' queue from the command line — list, show
//! with plots and history, and status changes with a note.

use std::process::ExitCode;

use crate::commands::open as open_store;
use crate::config::Config;

pub async fn list(cfg: &Config, status: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(cfg).await?;
    let mut alerts = store.alerts().await?;
    if let Some(s) = &status {
        anyhow::ensure!(
            forest_store::alerts::STATUSES.contains(&s.as_str()),
            "--status {s}: one of {}",
            forest_store::alerts::STATUSES.join(", ")
        );
        alerts.retain(|a| &a.status == s);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&alerts)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} alert(s), highest priority first", alerts.len());
    for a in &alerts {
        let plot = a.plots.first().map(|p| {
            format!(
                "{} owner {} contract {}",
                p.key,
                p.churung.as_deref().unwrap_or("-"),
                p.nguoink.as_deref().unwrap_or("-")
            )
        });
        println!(
            "#{:<5} [{:3}] {:18} {:11} {:4} {:7.2} ha seen {} — {}",
            a.id,
            a.priority,
            a.status,
            a.class,
            a.confidence,
            a.area_ha,
            a.first_observed,
            plot.unwrap_or_else(|| "no plot".into())
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn show(cfg: &Config, id: i64, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(cfg).await?;
    let alert = store
        .alerts()
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(forest_store::StoreError::NoAlert(id))?;
    let history = store.alert_history(id).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "alert": alert, "history": history })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "alert #{}: {} {} confidence, {:.2} ha, status {}{}",
        alert.id,
        alert.class,
        alert.confidence,
        alert.area_ha,
        alert.status,
        alert
            .status_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!(
        "first observed {}, last clear before {}; mean NDVI drop {:.2}{}",
        alert.first_observed,
        alert
            .last_clear_before
            .map_or("-".into(), |d| d.to_string()),
        alert.mean_drop,
        alert
            .mean_dnbr
            .map(|d| format!(", mean dNBR {d:.2}"))
            .unwrap_or_default()
    );
    println!("priority {}: {}", alert.priority, alert.reasons.join("; "));
    for p in &alert.plots {
        println!(
            "  plot {} ({:.2} ha of it): owner {} ({}), contract holder {} ({}), function {}, {}",
            p.key,
            p.overlap_ha,
            p.churung.as_deref().unwrap_or("-"),
            p.machur.map_or("-".into(), |c| c.to_string()),
            p.nguoink.as_deref().unwrap_or("-"),
            p.mangnk.map_or("-".into(), |c| c.to_string()),
            p.malr3.map_or("-".into(), |c| c.to_string()),
            p.forest_type.as_deref().unwrap_or("-")
        );
    }
    println!("history:");
    for h in &history {
        println!(
            "  {} {:10} {} → {}: {}",
            h.at.format("%Y-%m-%d %H:%M"),
            h.actor,
            h.from_status.as_deref().unwrap_or("-"),
            h.to_status,
            h.note
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn set(
    cfg: &Config,
    id: i64,
    status: &str,
    reason: Option<&str>,
    note: &str,
    actor: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = open_store(cfg).await?;
    let actor = actor
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into());
    let a = store
        .transition_alert(id, status, reason, note, &actor)
        .await?;
    println!("alert #{} is now {}", a.id, a.status);
    Ok(ExitCode::SUCCESS)
}
