//! One error type for every handler: client errors say what is wrong,
//! internal errors are logged once and answered with a generic 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use forest_store::StoreError;

/// An error answered as JSON `{"error": code, "message": text}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A bad request parameter.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing at this address.
    #[error("{0}")]
    NotFound(String),
    /// No valid token.
    #[error("{0}")]
    Unauthorized(String),
    /// The token's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state (e.g. a status change
    /// the alert's lifecycle does not allow).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m.clone()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.clone()),
            ApiError::Store(StoreError::Transition { .. }) => {
                (StatusCode::CONFLICT, "conflict", self.to_string())
            }
            ApiError::Store(StoreError::NoAlert(_)) => {
                (StatusCode::NOT_FOUND, "not_found", self.to_string())
            }
            ApiError::Store(StoreError::UnknownFilter(_) | StoreError::BadFilter { .. }) => {
                (StatusCode::BAD_REQUEST, "bad_request", self.to_string())
            }
            ApiError::Store(StoreError::Postgres { .. } | StoreError::Task(_)) => {
                tracing::error!(error = %self, "store unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the store is not reachable; retry shortly".to_string(),
                )
            }
            ApiError::Store(_) => {
                tracing::error!(error = %self, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".to_string(),
                )
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": code, "message": message })),
        )
            .into_response()
    }
}
