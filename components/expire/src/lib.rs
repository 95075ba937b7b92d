//! `expire`: the scheduled sweep over HTTP. Expires what is due, retries mail
//! and webhooks, purges what is past retention ([`invitations_spin::sweeper`]),
//! on `POST /v1/internal/sweep` with `Authorization: Bearer <sweep_token>`:
//! what a platform's scheduler calls (a Kubernetes `CronJob`, an edge
//! platform's cron). Under `spin up` the `sweep-cron` component runs the same
//! sweep from the cron trigger.

use invitations_edge::auth::bearer_matches;
use invitations_edge::problem::ApiError;
use invitations_edge::render;
use invitations_spin::web::{self, Ctx, Uses};
use invitations_spin::{config, respond, sweeper};
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
    let token = config::var("sweep_token").unwrap_or_default();
    let authorization = req.header("authorization").and_then(|v| v.as_str());
    if !bearer_matches(authorization, &token) {
        return Err(ApiError::Unauthorized(
            "expected Authorization: Bearer <sweep_token>".into(),
        ));
    }
    if *req.method() != Method::Post {
        return Err(ApiError::MethodNotAllowed("POST"));
    }
    let ctx = Ctx::open(Uses::Sweep)?;
    let report = sweeper::run(&ctx).await?;
    Ok(web::json(200, &render::sweep_report(&report)))
}
