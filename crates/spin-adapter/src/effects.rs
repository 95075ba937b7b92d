//! Carries out what an operation handed back: its mail and its events,
//! before the answer or (by default) after it.

use crate::outbound::send_all;
use crate::respond;
use crate::web::Ctx;
use crate::{mailer, webhooks};
use invitations::effects::{Event, Leftovers, MailJob};
use invitations::model::InvitationView;
use invitations::ops::deliveries::before_sending_with;
use spin_sdk::http::{Response, ResponseOutparam};

/// Opens the mails' links and keeps the change's events in its history (one
/// `set-many`), then sends the events and the mail in one bounded pass (the
/// events first, in the order they were made, so a receiver hears of a
/// change before its mail), records how the mail went with the history of
/// what that led to (`invitation.sent` / `.delivery_failed`; one more
/// `set-many`), and sends those events. Returns the mailed invitations as
/// they now read, delivery recorded.
pub async fn carry_out(
    ctx: &Ctx,
    mails: Vec<MailJob>,
    events: Vec<Event>,
    leftovers: &Leftovers,
) -> Vec<InvitationView> {
    let rendered = webhooks::render(ctx, &events);
    let mails = match before_sending_with(&ctx.env(), &mails, leftovers, rendered.history) {
        Ok(()) => mails,
        Err(e) => {
            // The links did not open: mail nothing (the sweep mails new
            // ones), but the events still go out.
            eprintln!("links and history not written, no mail now: {e}");
            Vec::new()
        }
    };
    // One list of requests, the events' first; the prepared halves keep
    // what each answer belongs to.
    let (hooks, requests) = rendered.deliveries.unzip();
    let mut requests = requests.unwrap_or_default();
    let hook_count = requests.len();
    let mail = (!mails.is_empty()).then(|| {
        let (prepared, mail_requests) = mailer::prepare(mails);
        requests.extend(mail_requests);
        prepared
    });
    let mut answers = send_all(&requests, ctx.limits);
    let mail_answers = answers.split_off(hook_count);
    if let Some(prepared) = hooks {
        webhooks::settle(ctx, prepared, answers);
    }
    let Some(prepared) = mail else {
        return Vec::new();
    };
    let (views, deliveries) = mailer::settle(ctx, prepared, mail_answers);
    webhooks::deliver(ctx, deliveries);
    views
}

/// The mail and events of a request, kept to be carried out after its answer.
///
/// Spin sends a response as soon as the handler sets it, and the handler may
/// go on working: so the caller does not wait on the mail provider or the
/// webhook receiver (100–300 ms each in real life). The change is stored
/// before the answer, with the sweep's due entry; if the instance dies before
/// the mail goes out, the sweep sends it. `send_after_answer = "false"` sends
/// first instead, for a platform that stops a request once it has answered.
#[derive(Default)]
pub struct Later {
    mails: Vec<MailJob>,
    events: Vec<Event>,
    leftovers: Leftovers,
}

impl Later {
    /// Mail with its events: kept for after the answer, or carried out now,
    /// returning the mailed invitations as they now read (empty when kept).
    pub async fn mail(
        &mut self,
        ctx: &Ctx,
        mails: Vec<MailJob>,
        events: Vec<Event>,
        leftovers: Leftovers,
    ) -> Vec<InvitationView> {
        let work = Later {
            mails,
            events,
            leftovers,
        };
        if ctx.send_after_answer {
            *self = work;
            return Vec::new();
        }
        work.run(ctx).await
    }

    /// Events alone: kept for after the answer, or published now.
    pub async fn events(&mut self, ctx: &Ctx, events: Vec<Event>) {
        self.mail(ctx, Vec::new(), events, Leftovers::default())
            .await;
    }

    async fn run(self, ctx: &Ctx) -> Vec<InvitationView> {
        carry_out(ctx, self.mails, self.events, &self.leftovers).await
    }

    /// Sends `response`, then carries out what was kept.
    pub async fn answer(self, out: ResponseOutparam, response: Response) {
        respond::send(out, response);
        if self.mails.is_empty() && self.events.is_empty() && self.leftovers.is_empty() {
            return;
        }
        match Ctx::open(crate::web::Uses::Outbound) {
            Ok(ctx) => {
                self.run(&ctx).await;
            }
            Err(_) => eprintln!("store unavailable after the answer: the sweep sends the mail"),
        }
    }
}
