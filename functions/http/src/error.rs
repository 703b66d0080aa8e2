use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use crateyard_core::RegistryError;
use crateyard_core::TarballError;

/// A failed request as cargo expects it: a status and
/// `{"errors":[{"detail":"…"}]}`, whose `detail` cargo prints.
#[derive(Debug)]
pub struct ApiError(pub RegistryError);

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        Self(e)
    }
}

/// The one mapping from registry errors to HTTP statuses.
fn status(e: &RegistryError) -> StatusCode {
    use RegistryError::*;
    match e {
        MissingToken | InvalidToken => StatusCode::UNAUTHORIZED,
        Forbidden(_) => StatusCode::FORBIDDEN,
        UnknownRepository(_)
        | UnknownCrate(_)
        | UnknownVersion { .. }
        | UnknownUser(_)
        | UnknownUpload(_)
        | UnknownJob(_) => StatusCode::NOT_FOUND,
        NotSupported(_) => StatusCode::NOT_IMPLEMENTED,
        NameCollision { .. }
        | VersionExists { .. }
        | VersionDeleted { .. }
        | UploadInProgress { .. } => StatusCode::CONFLICT,
        TooLarge { .. }
        | Tarball(TarballError::TooLarge { .. } | TarballError::UnpackedTooLarge { .. }) => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        SlowRequest { .. } => StatusCode::REQUEST_TIMEOUT,
        Contention(_) => StatusCode::SERVICE_UNAVAILABLE,
        RepositoryChanged(_) => StatusCode::CONFLICT,
        Upstream(_) => StatusCode::BAD_GATEWAY,
        Blob(_) | Store(_) | GitIndex(_) => StatusCode::INTERNAL_SERVER_ERROR,
        InvalidName { .. }
        | InvalidVersion { .. }
        | BadFrame(_)
        | MetadataMismatch(_)
        | Tarball(_)
        | BadRequest(_) => StatusCode::BAD_REQUEST,
    }
}

pub(crate) fn error_body(detail: &str) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "errors": [{ "detail": detail }] }))
}

/// A refusal decided outside the router (such as the Lambda function's
/// origin and size checks), in cargo's error shape.
pub fn error_response(status: StatusCode, detail: &str) -> Response {
    (status, error_body(detail)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status(&self.0);
        let detail = if self.0.is_internal() {
            // Our fault: the cause goes to the log, not to the caller.
            tracing::error!(error = %self.0, "request failed");
            "the registry failed to complete this request; its operators can find the cause in the logs".to_string()
        } else {
            tracing::info!(status = status.as_u16(), detail = %self.0, "request rejected");
            self.0.to_string()
        };
        (status, error_body(&detail)).into_response()
    }
}
