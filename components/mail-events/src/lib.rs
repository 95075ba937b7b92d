//! `mail-events`: what the mail provider reports after it accepted a mail
//! (delivered, bounced, complained), written on the invitation it carried
//! ([`invitations::ops::mail_events`]); a permanent bounce or a complaint is
//! told as `invitation.bounced` and stops the sweep mailing it.
//!
//! Routes: `/v1/mail-events/resend` (POST, Svix-signed with
//! `resend_webhook_secret`), `/v1/mail-events/postmark` (POST, with
//! `postmark_webhook_token` as basic auth or `X-Webhook-Token`). Providers
//! retry anything not answered 2xx for days, so an event we do not act on is
//! answered 200 and ignored; only one that is not the provider's is refused.

use invitations::ops::mail_events::{hear, Hearing, MailEvent};
use invitations::time::Clock;
use invitations_edge::body::MAX_BODY_BYTES;
use invitations_edge::mail::events::{self, SvixHeaders, Unverified};
use invitations_edge::problem::ApiError;
use invitations_edge::render;
use invitations_edge::webhook::WebhookSecret;
use invitations_spin::config;
use invitations_spin::effects::Later;
use invitations_spin::platform::WallClock;
use invitations_spin::web::{self, Ctx, Uses};
use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    let mut later = Later::default();
    let response = web::finish(&req, run(&req, &mut later).await);
    later.answer(out, response).await;
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

/// The event a request carries, once it is shown to be the provider's;
/// `None` for news we do not act on.
fn read(req: &Request) -> Result<Option<MailEvent>, ApiError> {
    let body = req.body();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    match web::route(req).as_str() {
        "/v1/mail-events/resend" => {
            let secret = config::var("resend_webhook_secret")
                .ok_or(Unverified::NotConfigured("resend_webhook_secret"))?;
            let secret = WebhookSecret::parse(&secret).map_err(|_| {
                ApiError::Misconfigured("resend_webhook_secret is not a whsec_ secret".into())
            })?;
            let headers = SvixHeaders {
                id: header(req, "svix-id").or(header(req, "webhook-id")),
                timestamp: header(req, "svix-timestamp").or(header(req, "webhook-timestamp")),
                signature: header(req, "svix-signature").or(header(req, "webhook-signature")),
            };
            let now_secs = WallClock.now().unix_millis().div_euclid(1000);
            events::verify_svix(&secret, headers, body, now_secs)?;
            Ok(events::read_resend(headers.id.unwrap_or_default(), body)?)
        }
        "/v1/mail-events/postmark" => {
            let token = config::var("postmark_webhook_token")
                .ok_or(Unverified::NotConfigured("postmark_webhook_token"))?;
            let authorization = header(req, "authorization");
            if !events::postmark_token_matches(
                authorization,
                header(req, "x-webhook-token"),
                &token,
            ) {
                return Err(Unverified::BadToken.into());
            }
            Ok(events::read_postmark(body)?)
        }
        _ => Err(ApiError::NotFound),
    }
}

async fn run(req: &Request, later: &mut Later) -> Result<Response, ApiError> {
    if *req.method() != Method::Post {
        return Err(ApiError::MethodNotAllowed("POST"));
    }
    // Who sent it is settled before the store is opened.
    let Some(event) = read(req)? else {
        return Ok(web::json(200, &render::mail_event_answer(None)));
    };
    let ctx = Ctx::open(Uses::Outbound)?;
    let hearing = hear(&ctx.env(), event)?;
    let answer = render::mail_event_answer(Some(&hearing));
    if let Hearing::Recorded { events, .. } = hearing {
        later.events(&ctx, events).await;
    }
    Ok(web::json(200, &answer))
}
