//! IAM handlers: extract, call one service function, shape the answer.

use super::{protocol, views};
use crate::AppState;
use crate::error::AppError;
use crate::extract::{Auth, Body, Fields, ListQuery, Params, parse_id, parse_uuid};
use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_core::model::UserId;
use roster_core::service::{
    AccountPatch, IdpInput, ProfileInput, ProvisionedUsers, TeamInput, TokenInput, UserInput,
};
use serde_json::{Value, json};

type Res = Result<Response, AppError>;

fn ok(v: Value) -> Res {
    Ok(Json(v).into_response())
}

fn created(v: Value) -> Res {
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

fn deleted_envelope() -> Res {
    Ok(Json(json!({ "state": "executed", "data": null })).into_response())
}

fn no_content() -> Res {
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- identity providers (account owner only) ----

pub async fn idp_list(State(s): State<AppState>, Auth(p): Auth) -> Res {
    let all = s.roster.list_idps(&p).await?;
    ok(Value::Array(
        all.iter()
            .map(|i| views::idp_summary(s.roster.urls(), i))
            .collect(),
    ))
}

pub async fn idp_list_protocol<const P: u8>(State(s): State<AppState>, Auth(p): Auth) -> Res {
    let all = s.roster.list_idps(&p).await?;
    ok(Value::Array(
        all.iter()
            .filter(|i| i.protocol() == protocol::<P>())
            .map(|i| views::idp(s.roster.urls(), i))
            .collect(),
    ))
}

pub async fn idp_create<const P: u8>(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(input): Body<IdpInput>,
) -> Res {
    let idp = s.roster.create_idp(&p, protocol::<P>(), &input).await?;
    created(views::idp(s.roster.urls(), &idp))
}

pub async fn idp_get<const P: u8>(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Res {
    let idp = s
        .roster
        .get_idp(&p, protocol::<P>(), parse_uuid(&id, "Identity provider")?)
        .await?;
    ok(views::idp(s.roster.urls(), &idp))
}

pub async fn idp_put<const P: u8>(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(input): Body<IdpInput>,
) -> Res {
    let uuid = parse_uuid(&id, "Identity provider")?;
    let idp = s
        .roster
        .update_idp(&p, protocol::<P>(), uuid, &input, false)
        .await?;
    ok(views::idp(s.roster.urls(), &idp))
}

/// PATCH, and POST on the item URL: the guide's curl has no `-X PATCH`, so curl sends POST.
pub async fn idp_patch<const P: u8>(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(input): Body<IdpInput>,
) -> Res {
    let uuid = parse_uuid(&id, "Identity provider")?;
    let idp = s
        .roster
        .update_idp(&p, protocol::<P>(), uuid, &input, true)
        .await?;
    ok(views::idp(s.roster.urls(), &idp))
}

/// `DELETE …/{uuid}[?users=keep|deactivate|delete]`: what the provider provisioned stays as
/// hand-made (default), stays deactivated, or goes.
pub async fn idp_delete<const P: u8>(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    q: Params,
) -> Res {
    let users = match q.get("users") {
        None => ProvisionedUsers::Keep,
        Some(v) => ProvisionedUsers::parse(v).ok_or_else(|| {
            AppError::validation("users", "users must be keep, deactivate or delete.")
        })?,
    };
    s.roster
        .delete_idp(
            &p,
            protocol::<P>(),
            parse_uuid(&id, "Identity provider")?,
            users,
        )
        .await?;
    no_content()
}

/// `POST …/{uuid}/scim_token`: a SCIM-only user and token for the provider (the key shown once).
pub async fn idp_scim_token<const P: u8>(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Res {
    let uuid = parse_uuid(&id, "Identity provider")?;
    let t = s.roster.make_scim_token(&p, protocol::<P>(), uuid).await?;
    created(views::created_token(&t))
}

pub async fn idp_log<const P: u8>(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    q: ListQuery,
    OriginalUri(uri): OriginalUri,
) -> Res {
    let uuid = parse_uuid(&id, "Identity provider")?;
    let listed = s
        .roster
        .provisioning_log(&p, protocol::<P>(), uuid, &q.list)
        .await?;
    ok(views::page(
        &listed,
        views::log_entry,
        &q.fields,
        &s.roster.urls().api,
        uri.path(),
        &q.raw,
    ))
}

// ---- users ----

pub async fn users_list(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
    OriginalUri(uri): OriginalUri,
) -> Res {
    let listed = s.roster.list_users(&p, &q.list).await?;
    ok(views::page(
        &listed,
        views::user,
        &q.fields,
        &s.roster.urls().api,
        uri.path(),
        &q.raw,
    ))
}

pub async fn users_create(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(input): Body<UserInput>,
) -> Res {
    let u = s.roster.create_user(&p, &input).await?;
    created(views::envelope(views::user(&u)))
}

pub async fn users_get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Fields(f): Fields,
) -> Res {
    let u = s.roster.get_user(&p, parse_id(&id, "User")?).await?;
    ok(views::envelope(views::sparse(views::user(&u), &f)))
}

pub async fn users_put(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(input): Body<UserInput>,
) -> Res {
    let u = s
        .roster
        .update_user(&p, parse_id(&id, "User")?, &input, false)
        .await?;
    ok(views::envelope(views::user(&u)))
}

pub async fn users_patch(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(input): Body<UserInput>,
) -> Res {
    let u = s
        .roster
        .update_user(&p, parse_id(&id, "User")?, &input, true)
        .await?;
    ok(views::envelope(views::user(&u)))
}

pub async fn users_delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Res {
    s.roster.delete_user(&p, parse_id(&id, "User")?).await?;
    deleted_envelope()
}

pub async fn me_get(State(s): State<AppState>, Auth(p): Auth, Fields(f): Fields) -> Res {
    let u = s.roster.current_user(&p).await?;
    ok(views::envelope(views::sparse(views::user(&u), &f)))
}

pub async fn me_patch(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(input): Body<ProfileInput>,
) -> Res {
    let u = s.roster.update_current_user(&p, &input).await?;
    ok(views::envelope(views::user(&u)))
}

// ---- teams and permissions ----

pub async fn teams_list(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
    OriginalUri(uri): OriginalUri,
) -> Res {
    let listed = s.roster.list_teams(&p, &q.list).await?;
    ok(views::page(
        &listed,
        views::team,
        &q.fields,
        &s.roster.urls().api,
        uri.path(),
        &q.raw,
    ))
}

pub async fn teams_create(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(input): Body<TeamInput>,
) -> Res {
    let t = s.roster.create_team(&p, &input).await?;
    created(views::envelope(views::team(&t)))
}

pub async fn teams_get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Fields(f): Fields,
) -> Res {
    let t = s.roster.get_team(&p, parse_id(&id, "Team")?).await?;
    ok(views::envelope(views::sparse(views::team(&t), &f)))
}

pub async fn teams_put(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(input): Body<TeamInput>,
) -> Res {
    let t = s
        .roster
        .update_team(&p, parse_id(&id, "Team")?, &input, false)
        .await?;
    ok(views::envelope(views::team(&t)))
}

pub async fn teams_patch(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(input): Body<TeamInput>,
) -> Res {
    let t = s
        .roster
        .update_team(&p, parse_id(&id, "Team")?, &input, true)
        .await?;
    ok(views::envelope(views::team(&t)))
}

pub async fn teams_delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Res {
    s.roster.delete_team(&p, parse_id(&id, "Team")?).await?;
    deleted_envelope()
}

pub async fn permissions_list(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
    OriginalUri(uri): OriginalUri,
) -> Res {
    let listed = s.roster.list_permissions(&p, &q.list).await?;
    ok(views::page(
        &listed,
        views::permission,
        &q.fields,
        &s.roster.urls().api,
        uri.path(),
        &q.raw,
    ))
}

// ---- personal tokens (your own; an owner's: the whole account's) ----

pub async fn tokens_list(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: ListQuery,
    OriginalUri(uri): OriginalUri,
) -> Res {
    let user = match q.raw.iter().find(|(k, _)| k == "user_id") {
        None => None,
        Some((_, v)) => Some(
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(UserId)
                .ok_or_else(|| {
                    AppError::validation("user_id", format!("\"{v}\" is not a user id."))
                })?,
        ),
    };
    let listed = s.roster.list_tokens(&p, &q.list, user).await?;
    ok(views::page(
        &listed,
        views::token,
        &q.fields,
        &s.roster.urls().api,
        uri.path(),
        &q.raw,
    ))
}

pub async fn tokens_create(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(input): Body<TokenInput>,
) -> Res {
    let t = s.roster.create_token(&p, &input).await?;
    created(views::created_token(&t))
}

/// `POST /users/{id}/personal_tokens`: an owner makes a token for a user (the key is shown once).
pub async fn user_tokens_create(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(input): Body<TokenInput>,
) -> Res {
    let t = s
        .roster
        .create_token_for_user(&p, parse_id(&id, "User")?, &input)
        .await?;
    created(views::created_token(&t))
}

/// `DELETE /users/{id}/personal_tokens`: an owner revokes every token of a user.
pub async fn user_tokens_delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Res {
    let n = s
        .roster
        .revoke_user_tokens(&p, parse_id(&id, "User")?)
        .await?;
    ok(json!({"state": "executed", "data": {"revoked": n}}))
}

pub async fn tokens_get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Res {
    let t = s
        .roster
        .get_token(&p, parse_uuid(&id, "Personal token")?)
        .await?;
    ok(views::token(&t))
}

pub async fn tokens_delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Res {
    s.roster
        .delete_token(&p, parse_uuid(&id, "Personal token")?)
        .await?;
    no_content()
}

// ---- account ----

pub async fn account_get(State(s): State<AppState>, Auth(p): Auth) -> Res {
    let a = s.roster.get_account(&p).await?;
    ok(views::envelope(views::account(&a)))
}

pub async fn account_patch(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(input): Body<AccountPatch>,
) -> Res {
    let a = s.roster.update_account(&p, &input).await?;
    ok(views::envelope(views::account(&a)))
}
