//! Registry administration over the API, for automation: users, groups,
//! repository settings and reindex. Same services as `crateyard user|repo`.

use crate::request::{authorization, read_body};
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::Query;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use crateyard_core::{
    Actor, AuditRequest, Grant, RegistryError, Repository, RepositoryChange, UserChange,
};
use serde::Deserialize;
use serde_json::{Value, json};

const MAX_ADMIN_BODY: u64 = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    admin: Option<bool>,
    groups: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepositoryBody {
    anonymous_read: Option<bool>,
    #[serde(default)]
    grants: Vec<Grant>,
}

/// The caller, if a registry admin; a refused `change` is audited.
async fn require_global_admin(
    state: &AppState,
    headers: &HeaderMap,
    change: bool,
) -> Result<Actor, ApiError> {
    let who = state.registry.authenticate(authorization(headers)).await?;
    state
        .registry
        .authorize_global_admin(who.as_ref(), change)
        .await?;
    // Authorized, so signed in.
    Ok(who.as_ref().map_or_else(Actor::operator, Actor::from))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| RegistryError::BadRequest(format!("expected {shape}: {e}")).into())
}

/// `GET /api/v1/users`
pub(crate) async fn users(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    require_global_admin(&state, &headers, false).await?;
    Ok(Json(json!({ "users": registry.users().await? })))
}

/// `PUT /api/v1/users/{login}`: create or change a user.
pub(crate) async fn put_user(
    State(state): State<AppState>,
    Path(login): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    let by = require_global_admin(&state, &headers, true).await?;
    let body = read_body(&headers, body, MAX_ADMIN_BODY).await?;
    let UserBody { admin, groups } =
        parse(&body, "{\"admin\"?: bool, \"groups\"?: [\"name\", …]}")?;
    let user = registry
        .put_user(&login, UserChange { admin, groups }, &by)
        .await?;
    Ok(Json(json!({ "user": user })))
}

/// `GET /api/v1/repos`
pub(crate) async fn repositories(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    require_global_admin(&state, &headers, false).await?;
    let repos: Vec<Value> = registry
        .repositories()
        .await?
        .iter()
        .map(without_secrets)
        .collect();
    Ok(Json(json!({ "repos": repos })))
}

/// A repository's settings as the API shows them: an upstream token is
/// said to be set, never shown.
fn without_secrets(repo: &Repository) -> Value {
    let mut value = serde_json::to_value(repo).unwrap_or_default();
    if let Some(token) = value.pointer_mut("/upstream/token")
        && !token.is_null()
    {
        *token = json!("(set; not shown)");
    }
    value
}

/// `PUT /api/v1/repos/{name}`: create a repository or change its settings.
pub(crate) async fn put_repository(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    let by = require_global_admin(&state, &headers, true).await?;
    let body = read_body(&headers, body, MAX_ADMIN_BODY).await?;
    let RepositoryBody {
        anonymous_read,
        grants,
    } = parse(
        &body,
        "{\"anonymous_read\"?: bool, \"grants\"?: [{\"to\": \"group:devs\", \"permissions\": [\"read\", …]}]}",
    )?;
    let change = RepositoryChange {
        anonymous_read,
        grants,
    };
    // A refused change writes nothing, not even the repository it names.
    registry.check_repository_change(&change).await?;
    registry.ensure_repository_by(&name, &by).await?;
    let repo = registry.update_repository(&name, change, &by).await?;
    Ok(Json(json!({ "repo": without_secrets(&repo) })))
}

/// `POST /{repo}/api/v1/reindex`: "Recalculate Index", for repository
/// admins. Starts a job and answers `202` with its status at once; the
/// crates are rebuilt by the job's tasks (see `crateyard_core::reindex_jobs`).
pub(crate) async fn reindex(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let registry = &state.registry;
    let who = registry.require_principal(authorization(&headers)).await?;
    let job = registry.start_reindex_job(Some(&who), &repo).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "job": job }))))
}

/// `GET /{repo}/api/v1/reindex[/{id}]`: a reindex job's progress (the
/// latest job's without an id), for repository admins.
pub(crate) async fn reindex_status(
    State(state): State<AppState>,
    Path(path): Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    let who = registry.require_principal(authorization(&headers)).await?;
    let param = |name: &str| {
        path.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let repo = param("repo").unwrap_or_default();
    let job = registry
        .reindex_status(Some(&who), repo, param("id"))
        .await?;
    Ok(Json(json!({ "job": job })))
}

/// `GET /api/v1/audit?repo=&crate=&since=7d&limit=&before=`: the audit
/// log, newest first, for registry admins; `next` pages on (`before=`).
pub(crate) async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(request): Query<AuditRequest>,
) -> Result<Json<Value>, ApiError> {
    require_global_admin(&state, &headers, false).await?;
    let page = state.registry.audit_log(request.parse()?).await?;
    Ok(Json(json!({ "entries": page.entries, "next": page.next })))
}
