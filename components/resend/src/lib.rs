//! `resend`: mail a fresh link for a pending invitation, or renew an expired one.
//!
//! Route: `/v1/accounts/:account/invitations/:invitation/resend` (POST).

use invitations::ops::resend::resend;
use invitations_edge::body::ResendBody;
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
    if *req.method() != Method::Post {
        return Err(ApiError::MethodNotAllowed("POST"));
    }
    let acc = web::account_id(req)?;
    let id = web::invitation_id(req)?;
    web::idempotent(req, &ctx, &who, || async {
        let delivery = ResendBody::read(req.body())?;
        let resent = resend(&ctx.env(), &who, &acc, &id, delivery)?;
        let mails = resent.mail.into_iter().collect();
        let mailed = later
            .mail(&ctx, mails, resent.events, resent.leftovers)
            .await;
        let view = mailed.into_iter().next().unwrap_or(resent.invitation);
        let base = config::public_base_url();
        let link = resent.link.as_ref().map(|t| render::accept_url(&base, t));
        Ok(web::json(200, &render::invitation_with_link(&view, link)))
    })
    .await
}
