//! `/api/v1/tokens`: tokens for automation, with the rules of
//! `crateyard token …` (create shows the token once; list never shows it).

use crate::request::{authorization, read_body};
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use crateyard_core::{Permission, RegistryError, TokenRecord, TokenRequest, parse_lifetime};
use serde::Deserialize;
use serde_json::{Value, json};

const MAX_TOKEN_BODY: u64 = 16 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// Defaults to the caller.
    user: Option<String>,
    #[serde(default)]
    name: String,
    scopes: Option<Vec<Permission>>,
    #[serde(default)]
    crates: Vec<String>,
    #[serde(default)]
    repos: Vec<String>,
    /// Like `30d`.
    expires: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ListParams {
    user: Option<String>,
}

/// What a token listing shows: everything but the secret, which is not kept.
pub(crate) fn describe(token: &TokenRecord) -> Value {
    json!({
        "id": token.id(),
        "user": token.user,
        "name": token.name,
        "scopes": token.scopes,
        "crates": token.crates,
        "repos": token.repos,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
    })
}

/// `POST /api/v1/tokens`
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let registry = &state.registry;
    let who = registry.require_principal(authorization(&headers)).await?;
    let body = read_body(&headers, body, MAX_TOKEN_BODY).await?;
    let request: CreateBody = serde_json::from_slice(&body).map_err(|e| {
        RegistryError::BadRequest(format!(
            "expected {{\"name\", \"user\"?, \"scopes\"?, \"crates\"?, \"repos\"?, \"expires\"?}}: {e}"
        ))
    })?;
    let lifetime = request
        .expires
        .as_deref()
        .map(parse_lifetime)
        .transpose()
        .map_err(RegistryError::BadRequest)?;
    let request = TokenRequest {
        user: request.user.unwrap_or_else(|| who.login().into()),
        name: request.name,
        scopes: request.scopes,
        crates: request.crates,
        repos: request.repos,
        lifetime,
    };
    let created = registry.create_token_as(&who, request).await?;
    let mut answer = describe(&created.record);
    answer["token"] = json!(created.token);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /api/v1/tokens[?user=LOGIN]`: one's own tokens; an admin's choice.
pub(crate) async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    let who = registry.require_principal(authorization(&headers)).await?;
    let user = params.user.unwrap_or_else(|| who.login().to_string());
    let tokens = registry.tokens_as(&who, &user).await?;
    Ok(Json(
        json!({ "tokens": tokens.iter().map(describe).collect::<Vec<_>>() }),
    ))
}

/// `DELETE /api/v1/tokens/{id}`: one's own, or any as an admin.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    let who = registry.require_principal(authorization(&headers)).await?;
    let revoked = registry.revoke_token(&id, Some(&who)).await?;
    Ok(Json(json!({ "ok": true, "revoked": describe(&revoked) })))
}
