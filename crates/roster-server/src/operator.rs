//! The operator API (`/operator/...`): accounts, for the holder of an operator token. JSON, with
//! the IAM API's error shape and pagination.

use crate::AppState;
use crate::error::AppError;
use crate::extract::{Body, ListQuery, OperatorAuth, Params, parse_id};
use crate::iam::views;
use crate::routes::{Api, Route, route};
use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use roster_core::model::{Account, AccountId};
use roster_core::service::{NewAccountInput, OperatorAccountPatch};
use serde_json::{Value, json};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route(
            Api::Operator,
            "/operator/accounts",
            "GET, POST",
            get(list).post(create),
        ),
        route(
            Api::Operator,
            "/operator/accounts/{id}",
            "GET, PATCH, DELETE",
            get(read).patch(patch).delete(delete),
        ),
    ]
}

type Res = Result<Response, AppError>;

/// An account as the operator sees it: the IAM API's fields and where it stands.
fn account(a: &Account) -> Value {
    let mut v = views::account(a);
    if let Value::Object(m) = &mut v {
        m.insert("state".into(), json!(a.state()));
        m.insert(
            "deleting_since".into(),
            a.deleting_since
                .map_or(Value::Null, |t| json!(views::time(&t))),
        );
    }
    v
}

async fn list(
    State(s): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    q: ListQuery,
    OriginalUri(uri): OriginalUri,
) -> Res {
    let listed = s.roster.list_accounts(&op, &q.list).await?;
    Ok(Json(views::page(
        &listed,
        account,
        &q.fields,
        &s.roster.urls().api,
        uri.path(),
        &q.raw,
    ))
    .into_response())
}

/// `POST /operator/accounts {name, owner_email}`: the account, its owner and the owner's token
/// (its key shown this once).
async fn create(
    State(s): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(input): Body<NewAccountInput>,
) -> Res {
    let c = s.roster.create_account(&op, &input).await?;
    let body = json!({
        "account": account(&c.account),
        "owner": views::user(&c.owner),
        "token": views::created_token(&roster_core::service::CreatedToken {
            token: c.token,
            key: c.key,
        }),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn read(
    State(s): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
) -> Res {
    let a = s.roster.operator_account(&op, account_id(&id)?).await?;
    Ok(Json(account(&a)).into_response())
}

async fn patch(
    State(s): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
    Body(input): Body<OperatorAccountPatch>,
) -> Res {
    let a = s
        .roster
        .patch_account(&op, account_id(&id)?, &input)
        .await?;
    Ok(Json(account(&a)).into_response())
}

/// `DELETE /operator/accounts/{id}[?force=true]`: 202, the account disabled at once and its
/// rows removed in the background.
async fn delete(
    State(s): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
    q: Params,
) -> Res {
    let force = match q.get("force") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(AppError::validation(
                "force",
                "force must be true or false.",
            ));
        }
    };
    let a = s
        .roster
        .delete_account(&op, account_id(&id)?, force)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(account(&a))).into_response())
}

fn account_id(s: &str) -> Result<AccountId, AppError> {
    parse_id(s, "Account")
}
