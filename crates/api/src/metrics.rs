//! Prometheus metrics at `/metrics`: HTTP requests by status class and a
//! latency histogram (recorded by a middleware), and at scrape time the
//! plots, the alerts by status and class, and the pending webhook deliveries.

#[allow(unused_imports)]
use crate::openapi::ErrorBody;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

struct Http {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; 10],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

static HTTP: Http = Http {
    by_class: [const { AtomicU64::new(0) }; 5],
    buckets: [const { AtomicU64::new(0) }; 10],
    count: AtomicU64::new(0),
    sum_micros: AtomicU64::new(0),
};

/// Middleware: counts every response and its latency.
pub async fn record(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let res = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    let class = (res.status().as_u16() / 100).clamp(1, 5) as usize - 1;
    HTTP.by_class[class].fetch_add(1, Ordering::Relaxed);
    for (i, b) in BUCKETS.iter().enumerate() {
        if secs <= *b {
            HTTP.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }
    HTTP.count.fetch_add(1, Ordering::Relaxed);
    HTTP.sum_micros
        .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    res
}

/// `GET /metrics` in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Operations",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String), (status = 503, description = "The store is not reachable; retry shortly", body = ErrorBody))
)]
pub async fn metrics(State(s): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP forest_http_requests_total HTTP responses by status class."
    );
    let _ = writeln!(out, "# TYPE forest_http_requests_total counter");
    for (i, c) in HTTP.by_class.iter().enumerate() {
        let _ = writeln!(
            out,
            "forest_http_requests_total{{class=\"{}xx\"}} {}",
            i + 1,
            c.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP forest_http_request_duration_seconds Time to answer a request."
    );
    let _ = writeln!(out, "# TYPE forest_http_request_duration_seconds histogram");
    for (i, b) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            out,
            "forest_http_request_duration_seconds_bucket{{le=\"{b}\"}} {}",
            HTTP.buckets[i].load(Ordering::Relaxed)
        );
    }
    let count = HTTP.count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "forest_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        out,
        "forest_http_request_duration_seconds_sum {}",
        HTTP.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "forest_http_request_duration_seconds_count {count}");
    let _ = writeln!(out, "# HELP forest_plots Plots in the store.");
    let _ = writeln!(out, "# TYPE forest_plots gauge");
    let _ = writeln!(out, "forest_plots {}", s.store.count_plots().await?);
    let mut by: std::collections::BTreeMap<(String, String), u64> =
        std::collections::BTreeMap::new();
    for a in s.store.alerts().await? {
        *by.entry((a.status, a.class)).or_default() += 1;
    }
    let _ = writeln!(out, "# HELP forest_alerts Alerts by status and class.");
    let _ = writeln!(out, "# TYPE forest_alerts gauge");
    for ((status, class), n) in by {
        let _ = writeln!(
            out,
            "forest_alerts{{status=\"{status}\",class=\"{class}\"}} {n}"
        );
    }
    let pending = s
        .store
        .due_deliveries(
            chrono::Utc::now() + chrono::Duration::days(36_500),
            1_000_000,
        )
        .await?
        .len();
    let _ = writeln!(
        out,
        "# HELP forest_webhook_deliveries_pending Webhook deliveries not yet made."
    );
    let _ = writeln!(out, "# TYPE forest_webhook_deliveries_pending gauge");
    let _ = writeln!(out, "forest_webhook_deliveries_pending {pending}");
    let mut r = out.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(r)
}
