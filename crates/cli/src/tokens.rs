//! `forest token`: bearer tokens for the HTTP API.

use std::process::ExitCode;

use forest_core::auth::Role;

use crate::commands::open as open_store;
use crate::config::Config;

pub async fn create(
    cfg: &Config,
    role: &str,
    name: &str,
    expires_days: Option<u32>,
) -> anyhow::Result<ExitCode> {
    let role: Role = role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
    anyhow::ensure!(
        !name.trim().is_empty(),
        "--name: who holds the token (it is recorded with every change they make)"
    );
    let expires = expires_days.map(|d| chrono::Utc::now() + chrono::Duration::days(i64::from(d)));
    let store = open_store(cfg).await?;
    let token = forest_store::tokens::generate();
    let id = store
        .create_token(
            name.trim(),
            role,
            &forest_store::tokens::hash(&token),
            expires,
        )
        .await?;
    eprintln!(
        "token #{id} for {} ({role}){}; shown once, only its hash is stored:",
        name.trim(),
        expires
            .map(|e| format!(", valid until {}", e.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default()
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

pub async fn list(cfg: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(cfg).await?;
    let tokens = store.tokens().await?;
    let now = chrono::Utc::now();
    if json {
        let v: Vec<_> = tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.id, "name": t.name, "role": t.role.as_str(),
                    "created_at": t.created_at.to_rfc3339(),
                    "expires_at": t.expires_at.map(|e| e.to_rfc3339()),
                    "revoked_at": t.revoked_at.map(|e| e.to_rfc3339()),
                    "valid": t.is_valid_at(now),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for t in &tokens {
            let state = match (t.revoked_at, t.expires_at) {
                (Some(r), _) => format!("revoked {}", r.format("%Y-%m-%d")),
                (None, Some(e)) if e <= now => format!("expired {}", e.format("%Y-%m-%d")),
                (None, Some(e)) => format!("valid until {}", e.format("%Y-%m-%d")),
                (None, None) => "valid".into(),
            };
            println!("#{:<4} {:13} {:30} {state}", t.id, t.role.as_str(), t.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(cfg: &Config, id: i64) -> anyhow::Result<ExitCode> {
    let store = open_store(cfg).await?;
    anyhow::ensure!(
        store.revoke_token(id).await?,
        "no valid token #{id} (see `forest token list`)"
    );
    println!("token #{id} revoked");
    Ok(ExitCode::SUCCESS)
}
