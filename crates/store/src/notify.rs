//! Webhook subscriptions and the delivery outbox, shared by both stores.
//! A delivery is written in the same transaction as the alert it reports,
//! so an alert is never stored without its deliveries (nor the reverse).

use chrono::{DateTime, Utc};
use forest_core::notify::SubscriptionFilter;
use serde::Serialize;

use crate::alerts::NewAlert;

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscription {
    /// Identifier.
    pub id: i64,
    /// Where deliveries are POSTed.
    pub url: String,
    /// HMAC-SHA256 key of the signature header.
    #[serde(skip)]
    pub secret: String,
    /// Which alerts.
    pub filter: SubscriptionFilter,
    /// Whether it still receives deliveries.
    pub active: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// One delivery of one event to one subscriber.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Identifier.
    pub id: i64,
    /// Subscription.
    pub subscription_id: i64,
    /// Its URL.
    pub url: String,
    /// Its secret.
    #[serde(skip)]
    pub secret: String,
    /// Alert (none for fire-danger events).
    pub alert_id: Option<i64>,
    /// `alert.new` or `alert.updated`.
    pub event: String,
    /// The JSON body.
    pub payload: String,
    /// Sent as `Idempotency-Key`: the same for every retry.
    pub idempotency_key: String,
    /// `pending` or `delivered`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// HTTP status of the last attempt.
    pub last_status: Option<i64>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// 2xx.
    Delivered {
        /// HTTP status.
        status: u16,
    },
    /// Anything else: try again at `retry_at`.
    Failed {
        /// HTTP status, if the receiver answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// Next attempt.
        retry_at: DateTime<Utc>,
    },
}

/// The JSON body of an alert event.
pub(crate) fn payload(alert_id: i64, event: &str, a: &NewAlert, key: &str) -> String {
    let c = &a.candidate;
    serde_json::json!({
        "event": event,
        "idempotency_key": key,
        "alert": {
            "id": alert_id,
            "class": c.class.as_str(),
            "confidence": c.confidence.as_str(),
            "priority": a.priority.score,
            "reasons": a.priority.reasons,
            "area_ha": (c.area_ha * 10_000.0).round() / 10_000.0,
            "first_observed": c.first_observed.to_string(),
            "last_clear_before": c.last_clear_before.map(|d| d.to_string()),
            "plots": a.plots,
        }
    })
    .to_string()
}

/// The deliveries a fire-danger level change makes: (subscription id,
/// payload, key).
pub(crate) fn danger_deliveries(
    subs: &[Subscription],
    event: &serde_json::Value,
) -> Vec<(i64, String, String)> {
    subs.iter()
        .filter(|s| s.active && s.filter.wants_danger())
        .map(|s| {
            let key = uuid::Uuid::new_v4().to_string();
            let mut body = event.clone();
            body["idempotency_key"] = serde_json::Value::String(key.clone());
            (s.id, body.to_string(), key)
        })
        .collect()
}

/// The deliveries an alert event makes: (subscription id, payload, key).
pub(crate) fn deliveries_for(
    subs: &[Subscription],
    alert_id: i64,
    event: &str,
    a: &NewAlert,
) -> Vec<(i64, String, String)> {
    subs.iter()
        .filter(|s| {
            s.active
                && s.filter.matches(
                    a.candidate.class,
                    a.candidate.confidence,
                    a.priority.score,
                    &a.plots,
                )
        })
        .map(|s| {
            let key = uuid::Uuid::new_v4().to_string();
            (s.id, payload(alert_id, event, a, &key), key)
        })
        .collect()
}
