//! `accept`: accept an invitation, preview it by token, and the invitee's page.
//!
//! Routes: `/v1/invitations/accept` (POST), `/v1/invitations/preview` (GET, no
//! login: the token is the credential), `/join` (GET, HTML).

use invitations::error::Error;
use invitations::ops::accept::{accept_by_token, accept_for_account};
use invitations::ops::preview::preview;
use invitations::token::InvitationToken;
use invitations_edge::body::{AcceptBody, AcceptBy};
use invitations_edge::problem::ApiError;
use invitations_edge::{join, render};
use invitations_spin::config;
use invitations_spin::effects::Later;
use invitations_spin::web::{self, Ctx};
use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    let mut later = Later::default();
    let response = web::finish(run(&req, &mut later).await);
    later.answer(out, response).await;
}

fn token(req: &Request) -> Result<InvitationToken, ApiError> {
    web::query_param(req, "token")
        .and_then(|t| InvitationToken::parse(&t).ok())
        .ok_or(ApiError::Domain(Error::InvitationNotFound))
}

async fn run(req: &Request, later: &mut Later) -> Result<Response, ApiError> {
    let ctx = Ctx::open()?;
    match (web::route(req).as_str(), req.method()) {
        ("/v1/invitations/accept", Method::Post) => {
            let who = web::caller(req, &ctx)?;
            let accepted = match web::body::<AcceptBody>(req)?.parse()? {
                AcceptBy::Token(t) => accept_by_token(&ctx.env(), &who, &t)?,
                AcceptBy::Account(acc) => accept_for_account(&ctx.env(), &who, &acc)?,
            };
            later.events(&ctx, accepted.events).await;
            let body = render::AcceptedBody {
                member: render::member(&accepted.member),
                invitation: render::invitation(&accepted.invitation),
            };
            Ok(web::json(200, &body))
        }
        ("/v1/invitations/accept", _) => Err(ApiError::MethodNotAllowed("POST")),
        ("/v1/invitations/preview", Method::Get) => {
            let found = preview(&ctx.env(), &token(req)?)?;
            Ok(web::json(200, &render::preview(&found)))
        }
        ("/v1/invitations/preview", _) => Err(ApiError::MethodNotAllowed("GET")),
        ("/join", Method::Get) => {
            let outcome = token(req).and_then(|t| {
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
                Err(e) => return Err(ApiError::Misconfigured(e.to_string())),
            };
            Ok(web::html(page.status, &page.html))
        }
        ("/join", _) => Err(ApiError::MethodNotAllowed("GET")),
        _ => Err(ApiError::NotFound),
    }
}
