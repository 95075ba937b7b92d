//! `accept`: the invitee's side. Accept or decline an invitation, preview it
//! by token, the invitee's inbox and page; join through a join link.
//!
//! Routes: `/v1/invitations/accept` (POST), `/v1/invitations/decline` (POST; by
//! token no login), `/v1/invitations/preview` (GET, no login: the token is the
//! credential), `/v1/me/invitations` (GET), `/v1/join-links/redeem` (POST),
//! `/join` (GET, HTML, for `?token=` or `?link=`; POST from its Decline button).

use invitations::error::Error;
use invitations::ops::accept::{accept_by_id, accept_by_token, accept_for_account};
use invitations::ops::decline::{decline_by_id, decline_by_token, decline_for_account};
use invitations::ops::inbox::my_invitations;
use invitations::ops::join_links::{preview_join_link, redeem_join_link};
use invitations::ops::preview::preview;
use invitations::token::{InvitationToken, JoinLinkToken};
use invitations_edge::body::{paging_query, AnswerBody, AnswerBy, RedeemBody};
use invitations_edge::problem::ApiError;
use invitations_edge::{join, render};
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

fn token(req: &Request) -> Result<InvitationToken, ApiError> {
    web::query_param(req, "token")
        .and_then(|t| InvitationToken::parse(&t).ok())
        .ok_or(ApiError::Domain(Error::InvitationNotFound))
}

fn join_page(ctx: &Ctx, token: Result<InvitationToken, ApiError>) -> Result<Response, ApiError> {
    let outcome = token.and_then(|t| {
        preview(&ctx.env(), &t)
            .map(|p| (t, p))
            .map_err(ApiError::from)
    });
    let page = match &outcome {
        Ok((t, p)) => join::page(
            Ok(p),
            Some(&t.reveal()),
            config::var("app_accept_url").as_deref(),
        ),
        Err(ApiError::Domain(e)) => join::page(Err(e), None, None),
        Err(ApiError::PayloadTooLarge) => return Err(ApiError::PayloadTooLarge),
        Err(e) => return Err(ApiError::Misconfigured(e.to_string())),
    };
    Ok(web::html(page.status, &page.html))
}

/// `/join?link=…`: the join link's page.
fn link_page(ctx: &Ctx, link: &str) -> Result<Response, ApiError> {
    let token = JoinLinkToken::parse(link).map_err(|_| Error::JoinLinkNotFound);
    let outcome = token.and_then(|t| preview_join_link(&ctx.env(), &t).map(|p| (t, p)));
    let page = match &outcome {
        Ok((t, p)) => join::link_page(
            Ok(p),
            Some(&t.reveal()),
            config::var("app_accept_url").as_deref(),
        ),
        Err(e) => join::link_page(Err(e), None, None),
    };
    Ok(web::html(page.status, &page.html))
}

async fn run(req: &Request, later: &mut Later) -> Result<Response, ApiError> {
    let ctx = Ctx::open(Uses::Outbound)?;
    match (web::route(req).as_str(), req.method()) {
        ("/v1/invitations/accept", Method::Post) => {
            let who = web::caller(req, &ctx)?;
            let accepted = match web::body::<AnswerBody>(req)?.parse()? {
                AnswerBy::Token(t) => accept_by_token(&ctx.env(), &who, &t)?,
                AnswerBy::Account(acc) => accept_for_account(&ctx.env(), &who, &acc)?,
                AnswerBy::Invitation(id) => accept_by_id(&ctx.env(), &who, &id)?,
            };
            later.events(&ctx, accepted.events).await;
            let body = render::AcceptedBody {
                member: render::member(&accepted.member),
                invitation: render::invitation(&accepted.invitation),
            };
            Ok(web::json(200, &body))
        }
        ("/v1/invitations/accept", _) => Err(ApiError::MethodNotAllowed("POST")),
        ("/v1/invitations/decline", Method::Post) => {
            let declined = match web::body::<AnswerBody>(req)?.parse()? {
                AnswerBy::Token(t) => decline_by_token(&ctx.env(), &t)?,
                AnswerBy::Account(acc) => {
                    decline_for_account(&ctx.env(), &web::caller(req, &ctx)?, &acc)?
                }
                AnswerBy::Invitation(id) => {
                    decline_by_id(&ctx.env(), &web::caller(req, &ctx)?, &id)?
                }
            };
            later.events(&ctx, declined.events).await;
            let body = render::DeclinedBody {
                invitation: render::invitation(&declined.invitation),
            };
            Ok(web::json(200, &body))
        }
        ("/v1/invitations/decline", _) => Err(ApiError::MethodNotAllowed("POST")),
        ("/v1/me/invitations", Method::Get) => {
            let who = web::caller(req, &ctx)?;
            let page = paging_query(req.query())?;
            let mine = my_invitations(&ctx.env(), &who, page.limit, page.cursor)?;
            Ok(web::json(200, &render::page(&mine, render::inbox_item)))
        }
        ("/v1/me/invitations", _) => Err(ApiError::MethodNotAllowed("GET")),
        ("/v1/join-links/redeem", Method::Post) => {
            let who = web::caller(req, &ctx)?;
            let token = web::body::<RedeemBody>(req)?.parse()?;
            let redeemed = redeem_join_link(&ctx.env(), &who, &token)?;
            later.events(&ctx, redeemed.events).await;
            let status = if redeemed.joined { 201 } else { 200 };
            Ok(web::json(status, &render::member(&redeemed.member)))
        }
        ("/v1/join-links/redeem", _) => Err(ApiError::MethodNotAllowed("POST")),
        ("/v1/invitations/preview", Method::Get) => {
            let found = preview(&ctx.env(), &token(req)?)?;
            Ok(web::json(200, &render::preview(&found)))
        }
        ("/v1/invitations/preview", _) => Err(ApiError::MethodNotAllowed("GET")),
        ("/join", Method::Get) => match web::query_param(req, "link") {
            Some(link) => link_page(&ctx, &link),
            None => join_page(&ctx, token(req)),
        },
        // The page's Decline button. When it cannot decline, the page shows
        // the invitation as it now is (accepted, cancelled, expired, unknown).
        ("/join", Method::Post) => {
            let token = invitations_edge::body::form_token(req.body());
            if let Ok(t) = &token {
                if let Ok(declined) = decline_by_token(&ctx.env(), t) {
                    later.events(&ctx, declined.events).await;
                    let page = join::declined(declined.account_name.as_str());
                    return Ok(web::html(page.status, &page.html));
                }
            }
            join_page(&ctx, token)
        }
        ("/join", _) => Err(ApiError::MethodNotAllowed("GET, POST")),
        _ => Err(ApiError::NotFound),
    }
}
