//! `remove`: read or cancel one invitation; list, read, change or remove
//! members (and a member leaves); read or revoke a join link.
//!
//! Routes: `/v1/accounts/:account/invitations/:invitation` (GET, DELETE),
//! `/v1/accounts/:account/members` (GET), `/v1/accounts/:account/members/:user`
//! (GET, PATCH, DELETE), `/v1/accounts/:account/join-links/:link` (GET;
//! DELETE revokes).

use invitations::ops::cancel::cancel;
use invitations::ops::join_links::{get_join_link, revoke_join_link};
use invitations::ops::list::get_invitation;
use invitations::ops::members::{get_member, list_members, remove_member};
use invitations::ops::update_member::update_member;
use invitations_edge::body::{paging_query, PatchMemberBody};
use invitations_edge::problem::ApiError;
use invitations_edge::render;
use invitations_spin::effects::Later;
use invitations_spin::web::{self, Ctx, Uses};
use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    let mut later = Later::default();
    let response = match web::preflight(&req) {
        Some(answer) => answer,
        None => web::finish(&req, run(&req, &mut later).await),
    };
    later.answer(out, response).await;
}

async fn run(req: &Request, later: &mut Later) -> Result<Response, ApiError> {
    let ctx = Ctx::open(Uses::Outbound)?;
    let who = web::caller(req, &ctx)?;
    let env = ctx.env();
    let acc = web::account_id(req)?;
    match (web::route(req).as_str(), req.method()) {
        ("/v1/accounts/:account/invitations/:invitation", Method::Get) => {
            let view = get_invitation(&env, &who, &acc, &web::invitation_id(req)?)?;
            Ok(web::json(200, &render::invitation(&view)))
        }
        ("/v1/accounts/:account/invitations/:invitation", Method::Delete) => {
            let (view, events) = cancel(&env, &who, &acc, &web::invitation_id(req)?)?;
            later.events(&ctx, events).await;
            Ok(web::json(200, &render::invitation(&view)))
        }
        ("/v1/accounts/:account/invitations/:invitation", _) => {
            Err(ApiError::MethodNotAllowed("GET, DELETE"))
        }
        ("/v1/accounts/:account/members", Method::Get) => {
            let page = paging_query(req.query())?;
            let listed = list_members(&env, &who, &acc, page.limit, page.cursor)?;
            Ok(web::json(200, &render::page(&listed, render::member)))
        }
        ("/v1/accounts/:account/members", _) => Err(ApiError::MethodNotAllowed("GET")),
        ("/v1/accounts/:account/members/:user", Method::Get) => {
            let member = get_member(&env, &who, &acc, &web::user_id(req)?)?;
            Ok(web::json(200, &render::member(&member)))
        }
        ("/v1/accounts/:account/members/:user", Method::Patch) => {
            let patch = web::body::<PatchMemberBody>(req)?.parse()?;
            let updated = update_member(&env, &who, &acc, &web::user_id(req)?, patch)?;
            later.events(&ctx, updated.events).await;
            Ok(web::json(200, &render::member(&updated.member)))
        }
        ("/v1/accounts/:account/members/:user", Method::Delete) => {
            let events = remove_member(&env, &who, &acc, &web::user_id(req)?)?;
            later.events(&ctx, events).await;
            Ok(web::no_content())
        }
        ("/v1/accounts/:account/join-links/:link", Method::Get) => {
            let link = get_join_link(&env, &who, &acc, &web::join_link_id(req)?)?;
            Ok(web::json(200, &render::join_link(&link)))
        }
        ("/v1/accounts/:account/join-links/:link", Method::Delete) => {
            let (link, events) = revoke_join_link(&env, &who, &acc, &web::join_link_id(req)?)?;
            later.events(&ctx, events).await;
            Ok(web::json(200, &render::join_link(&link)))
        }
        ("/v1/accounts/:account/join-links/:link", _) => {
            Err(ApiError::MethodNotAllowed("GET, DELETE"))
        }
        ("/v1/accounts/:account/members/:user", _) => {
            Err(ApiError::MethodNotAllowed("GET, PATCH, DELETE"))
        }
        _ => Err(ApiError::NotFound),
    }
}
