//! `invite`: invite 1 to 100 addresses into an account, and list its invitations.
//!
//! Route: `/v1/accounts/:account/invitations` (POST, GET).

use invitations::error::Error;
use invitations::ops::invite::invite;
use invitations::ops::list::list_invitations;
use invitations_edge::body::{invitation_query, InviteBody};
use invitations_edge::problem::ApiError;
use invitations_edge::render;
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

async fn run(req: &Request, later: &mut Later) -> Result<Response, ApiError> {
    let ctx = Ctx::open()?;
    let who = web::caller(req, &ctx)?;
    let acc = web::account_id(req)?;
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
                let body = render::invite_results(&out);
                match out.created() {
                    0 => Err(nothing_invited(
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

/// 422 with the per-address outcomes, so the caller sees why.
fn nothing_invited(results: serde_json::Value) -> ApiError {
    ApiError::WithResults(Box::new(ApiError::Domain(Error::NothingInvited)), results)
}
