//! `forest subscriptions` and `forest deliveries`.

use std::process::ExitCode;

use forest_core::notify::SubscriptionFilter;

use crate::commands::open as open_store;
use crate::config::Config;

pub async fn add(
    cfg: &Config,
    url: &str,
    secret: &str,
    filter: SubscriptionFilter,
) -> anyhow::Result<ExitCode> {
    filter.validate().map_err(anyhow::Error::msg)?;
    forest_core::notify::check_webhook(url, secret).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let store = open_store(cfg).await?;
    let id = store.add_subscription(url, secret, &filter).await?;
    println!(
        "subscription #{id}: {url} ({})",
        serde_json::to_string(&filter)?
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn list(cfg: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(cfg).await?;
    let subs = store.subscriptions().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&subs)?);
    } else {
        for s in &subs {
            println!(
                "#{} {} {} {}",
                s.id,
                if s.active { "active " } else { "stopped" },
                s.url,
                serde_json::to_string(&s.filter)?
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn stop(cfg: &Config, id: i64) -> anyhow::Result<ExitCode> {
    let store = open_store(cfg).await?;
    anyhow::ensure!(
        store.deactivate_subscription(id).await?,
        "no subscription #{id}"
    );
    println!("subscription #{id} stopped");
    Ok(ExitCode::SUCCESS)
}

pub async fn deliveries(cfg: &Config, limit: i64, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(cfg).await?;
    let ds = store.deliveries(limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&ds)?);
    } else {
        for d in &ds {
            println!(
                "#{:<5} {:9} {:21} {:12} attempts {:2} {}{}",
                d.id,
                d.status,
                d.event,
                d.alert_id
                    .map_or("-".to_string(), |a| format!("alert #{a}")),
                d.attempts,
                d.url,
                d.last_error
                    .as_deref()
                    .map(|e| format!(" — last error: {e}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
