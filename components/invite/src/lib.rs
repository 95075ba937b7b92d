//! `invite`: invite 1 to 100 addresses into an account, and list its
//! invitations; make and list its join links.
//!
//! Routes: `/v1/accounts/:account/invitations` (POST, GET),
//! `/v1/accounts/:account/join-links` (POST, GET).

use invitations::error::Error;
use invitations::ids::AccountId;
use invitations::ops::invite::invite;
use invitations::ops::join_links::{create_join_link, list_join_links};
use invitations::ops::list::list_invitations;
use invitations::principal::Principal;
use invitations_edge::body::{invitation_query, paging_query, CreateJoinLinkBody, InviteBody};
use invitations_edge::problem::ApiError;
use invitations_edge::render;
use invitations_spin::config;
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
    let acc = web::account_id(req)?;
    if web::route(req) == "/v1/accounts/:account/join-links" {
        return join_links(req, &ctx, &who, &acc, later).await;
    }
    match req.method() {
        Method::Post => {
            web::idempotent(req, &ctx, &who, || async {
                let request = web::body::<InviteBody>(req)?.parse()?;
                let mut out = invite(&ctx.env(), &who, &acc, request)?;
                let mails = std::mem::take(&mut out.mails);
                let events = std::mem::take(&mut out.events);
                let leftovers = std::mem::take(&mut out.leftovers);
                let mailed = later.mail(&ctx, mails, events, leftovers).await;
                out.apply(&mailed);
                let body = render::invite_results(&out, &config::public_base_url());
                match out.created() {
                    0 => Err(nothing_invited(
                        out.refusal(),
                        serde_json::to_value(&body).unwrap_or_default(),
                    )),
                    n if n == out.results.len() => Ok(web::json(201, &body)),
                    _ => Ok(web::json(200, &body)),
                }
            })
            .await
        }
        Method::Get => {
            let (filter, page) = invitation_query(req.query())?;
            let listed =
                list_invitations(&ctx.env(), &who, &acc, &filter, page.limit, page.cursor)?;
            Ok(web::json(200, &render::page(&listed, render::invitation)))
        }
        _ => Err(ApiError::MethodNotAllowed("GET, POST")),
    }
}

async fn join_links(
    req: &Request,
    ctx: &Ctx,
    who: &Principal,
    acc: &AccountId,
    later: &mut Later,
) -> Result<Response, ApiError> {
    match req.method() {
        // No Idempotency-Key here: replaying the answer would mean storing
        // the link's secret, and only its hash is ever stored.
        Method::Post => {
            let new = web::body::<CreateJoinLinkBody>(req)?.parse()?;
            let created = create_join_link(&ctx.env(), who, acc, new)?;
            later.events(ctx, created.events.clone()).await;
            let base = config::public_base_url();
            let body = render::created_join_link(&created.link, &created.token, &base);
            Ok(web::json(201, &body))
        }
        Method::Get => {
            let page = paging_query(req.query())?;
            let listed = list_join_links(&ctx.env(), who, acc, page.limit, page.cursor)?;
            Ok(web::json(200, &render::page(&listed, render::join_link)))
        }
        _ => Err(ApiError::MethodNotAllowed("GET, POST")),
    }
}

/// 422 `nothing_invited` (409 `seat_limit_reached` when no seat was the
/// reason) with the per-address outcomes, so the caller sees why.
fn nothing_invited(why: Error, results: serde_json::Value) -> ApiError {
    ApiError::WithResults(Box::new(ApiError::Domain(why)), results)
}
