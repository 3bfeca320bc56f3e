//! The webhook dispatcher: POSTs every due delivery of the outbox as JSON
//! with an HMAC-SHA256 signature and an idempotency key, records each
//! attempt, and retries failures with exponential backoff. Deliveries live
//! in the store, so they survive restarts of the service and outages of the
//! receiver: delivery is at least once.
//!
//! Headers: `X-Forest-Signature: sha256=<hex HMAC-SHA256 of the body with the
//! subscription's secret>`, `Idempotency-Key` (the same on every retry),
//! `X-Forest-Event`, `X-Forest-Delivery`.

use std::time::{Duration, Instant};

use chrono::Utc;
use forest_store::notify::{Attempt, Delivery};
use forest_store::DynStore;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Dispatcher settings (`[notify]` in forest.toml).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Delay before the first retry, ms; doubled after each failure.
    pub initial_backoff_ms: u64,
    /// Longest delay between retries, ms.
    pub max_backoff_ms: u64,
    /// How often the outbox is polled when it is empty, ms.
    pub poll_ms: u64,
    /// Time allowed for one POST, ms.
    pub timeout_ms: u64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            initial_backoff_ms: 1_000,
            max_backoff_ms: 300_000,
            poll_ms: 1_000,
            timeout_ms: 10_000,
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(), // HMAC accepts keys of any length
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

async fn deliver(client: &reqwest::Client, d: &Delivery, cfg: &NotifyConfig) -> Attempt {
    let body = d.payload.clone().into_bytes();
    let res = client
        .post(&d.url)
        .header("Content-Type", "application/json")
        .header("X-Forest-Signature", signature(&d.secret, &body))
        .header("Idempotency-Key", &d.idempotency_key)
        .header("X-Forest-Event", &d.event)
        .header("X-Forest-Delivery", d.id.to_string())
        .body(body)
        .send()
        .await;
    let retry_at = || {
        let attempts = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
        let ms =
            forest_core::notify::backoff_ms(attempts, cfg.initial_backoff_ms, cfg.max_backoff_ms);
        Utc::now() + chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
    };
    match res {
        Ok(r) if r.status().is_success() => Attempt::Delivered {
            status: r.status().as_u16(),
        },
        Ok(r) => Attempt::Failed {
            status: Some(r.status().as_u16()),
            error: format!("HTTP {}", r.status()),
            retry_at: retry_at(),
        },
        Err(e) => Attempt::Failed {
            status: None,
            error: e.to_string(),
            retry_at: retry_at(),
        },
    }
}

/// Runs until `shutdown` turns true: takes due deliveries from the outbox and
/// makes them.
pub async fn run_dispatcher(
    store: DynStore,
    cfg: NotifyConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(cfg.timeout_ms))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook dispatcher cannot start its HTTP client");
            return;
        }
    };
    tracing::info!("webhook dispatcher started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        let due = match store.due_deliveries(Utc::now(), 50).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the delivery outbox; retrying");
                Vec::new()
            }
        };
        for d in &due {
            let started = Instant::now();
            let attempt = deliver(&client, d, &cfg).await;
            let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            match &attempt {
                Attempt::Delivered { status } => {
                    tracing::info!(delivery = d.id, alert = ?d.alert_id, url = %d.url, status, "webhook delivered")
                }
                Attempt::Failed {
                    error, retry_at, ..
                } => {
                    tracing::warn!(delivery = d.id, alert = ?d.alert_id, url = %d.url, attempts = d.attempts + 1, %error, %retry_at, "webhook failed; will retry")
                }
            }
            if let Err(e) = store.record_attempt(d.id, Utc::now(), &attempt, ms).await {
                // Not recorded: the delivery stays due and is made again (at least once).
                tracing::warn!(delivery = d.id, error = %e, "cannot record the attempt");
            }
        }
        if due.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(cfg.poll_ms)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    tracing::info!("webhook dispatcher stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
