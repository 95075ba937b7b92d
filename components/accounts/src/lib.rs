//! `accounts`: create an account (the caller becomes its owner), read it,
//! change its settings; read its history.
//!
//! Routes: `/v1/accounts` (POST), `/v1/accounts/:account` (GET, PATCH),
//! `/v1/accounts/:account/events` (GET).

use invitations::ops::accounts::{create_account, get_account, update_account};
use invitations::ops::history::history;
use invitations_edge::body::{history_query, CreateAccountBody, PatchAccountBody};
use invitations_edge::problem::ApiError;
use invitations_edge::render;
use invitations_spin::respond;
use invitations_spin::web::{self, Ctx, Uses};
use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    let response = match web::preflight(&req) {
        Some(answer) => answer,
        None => web::finish(&req, run(&req).await),
    };
    respond::send(out, response);
}

async fn run(req: &Request) -> Result<Response, ApiError> {
    let ctx = Ctx::open(Uses::Store)?;
    let who = web::caller(req, &ctx)?;
    match (web::route(req).as_str(), req.method()) {
        ("/v1/accounts", Method::Post) => {
            web::idempotent(req, &ctx, &who, || async {
                let name = web::body::<CreateAccountBody>(req)?.parse()?;
                let created = create_account(&ctx.env(), &who, name)?;
                Ok(web::json(201, &render::account(&created.account)))
            })
            .await
        }
        ("/v1/accounts", _) => Err(ApiError::MethodNotAllowed("POST")),
        ("/v1/accounts/:account", Method::Get) => {
            let account = get_account(&ctx.env(), &who, &web::account_id(req)?)?;
            Ok(web::json(200, &render::account(&account)))
        }
        ("/v1/accounts/:account", Method::Patch) => {
            let acc = web::account_id(req)?;
            let patch = web::body::<PatchAccountBody>(req)?.parse()?;
            let account = update_account(&ctx.env(), &who, &acc, patch)?;
            Ok(web::json(200, &render::account(&account)))
        }
        ("/v1/accounts/:account", _) => Err(ApiError::MethodNotAllowed("GET, PATCH")),
        ("/v1/accounts/:account/events", Method::Get) => {
            let query = history_query(req.query())?;
            let page = history(&ctx.env(), &who, &web::account_id(req)?, query)?;
            Ok(web::json(200, &render::page(&page, render::history_entry)))
        }
        ("/v1/accounts/:account/events", _) => Err(ApiError::MethodNotAllowed("GET")),
        _ => Err(ApiError::NotFound),
    }
}
