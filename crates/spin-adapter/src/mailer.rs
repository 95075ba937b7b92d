//! Mail through the configured provider: its single-message endpoint for one
//! invitation, its batch endpoint (up to the provider's limit per call) for
//! more, and the outcome of each message recorded on its invitation.

use crate::config;
use crate::outbound::send_all;
use crate::web::Ctx;
use crate::webhooks::{self, Deliveries};
use invitations::effects::MailJob;
use invitations::model::InvitationView;
use invitations::model::{Invitation, SendFailure};
use invitations::ops::deliveries::{outcomes_to_record, SendOutcome};
use invitations::time::Clock;
use invitations_edge::mail::{outcomes, render, MailApi, Provider};
use invitations_edge::outgoing::{Answer, OutgoingRequest};
use std::ops::Range;

/// The provider calls for some mail jobs, ready to send.
pub struct Prepared {
    jobs: Vec<MailJob>,
    provider: Provider,
    /// Which jobs each call carries, and whether it is a batch call.
    calls: Vec<(Range<usize>, bool)>,
    /// Set when the mail settings are unusable: nothing is sent.
    misconfigured: Option<String>,
}

/// Groups `jobs` into provider calls; returns them with their requests.
pub fn prepare(jobs: Vec<MailJob>) -> (Prepared, Vec<OutgoingRequest>) {
    let mail = match config::mail() {
        Ok(mail) => mail,
        Err(e) => {
            let prepared = Prepared {
                jobs,
                provider: Provider::Resend,
                calls: Vec::new(),
                misconfigured: Some(e.to_string()),
            };
            return (prepared, Vec::new());
        }
    };
    let api = MailApi {
        provider: mail.provider,
        api_url: &mail.api_url,
        api_token: &mail.api_token,
        from: &mail.from,
    };
    let messages: Vec<_> = jobs
        .iter()
        .map(|job| render(job, &mail.public_base_url))
        .collect();
    let mut calls = Vec::new();
    let mut requests = Vec::new();
    if messages.len() == 1 {
        calls.push((0..1, false));
        requests.push(api.single(&messages[0]));
    } else {
        let limit = mail.provider.batch_limit();
        for start in (0..messages.len()).step_by(limit) {
            let range = start..(start + limit).min(messages.len());
            requests.push(api.batch(&messages[range.clone()]));
            calls.push((range, true));
        }
    }
    let prepared = Prepared {
        jobs,
        provider: mail.provider,
        calls,
        misconfigured: None,
    };
    (prepared, requests)
}

/// Records what each call's answer means for each of its messages, with the
/// history entries of the `invitation.sent` / `.delivery_failed` events that
/// makes, in one write. Returns the invitations as they now read and those
/// events' webhook deliveries, to send.
pub fn settle(
    ctx: &Ctx,
    prepared: Prepared,
    answers: Vec<Result<Answer, String>>,
) -> (Vec<InvitationView>, Option<Deliveries>) {
    let now = ctx.clock.now();
    let mut per_job: Vec<SendOutcome> = vec![Ok(None); prepared.jobs.len()];
    match &prepared.misconfigured {
        Some(e) => per_job.fill(Err(SendFailure::Failed(e.clone()))),
        None => {
            for ((range, batch), answer) in prepared.calls.iter().zip(&answers) {
                let got = outcomes(prepared.provider, *batch, range.len(), answer, now);
                for (slot, outcome) in per_job[range.clone()].iter_mut().zip(got) {
                    *slot = outcome;
                }
            }
        }
    }
    let recorded: Vec<(Invitation, SendOutcome)> = prepared
        .jobs
        .into_iter()
        .map(|j| j.invitation)
        .zip(per_job)
        .collect();
    let env = ctx.env();
    // Not recorded means still `queued`: the sweep looks again later, and
    // the events are not told (they will be when it is recorded).
    let written = outcomes_to_record(&env, &recorded).and_then(|to_record| {
        let rendered = webhooks::render(ctx, to_record.events());
        let views = to_record.write(&env, rendered.history)?.views;
        Ok((views, rendered.deliveries))
    });
    written.unwrap_or_else(|e| {
        eprintln!(
            "the outcome of {} mail(s) could not be recorded (the sweep looks again): {e}",
            recorded.len()
        );
        (Vec::new(), None)
    })
}

/// Sends `jobs` one provider call at a time, each call at least
/// `1 / mail_max_per_second` after the one before (and after whatever called
/// just before this run), so a sweep never trips the provider's rate limit.
pub fn deliver_paced(ctx: &Ctx, jobs: Vec<MailJob>) -> (Vec<InvitationView>, Option<Deliveries>) {
    if jobs.is_empty() {
        return (Vec::new(), None);
    }
    let (prepared, requests) = prepare(jobs);
    // 5% over the minimum spacing: the provider's clock and ours differ.
    let gap_ns = (1.05e9 / ctx.mail_max_per_second) as u64;
    let limits = ctx.limits;
    let mut answers = Vec::with_capacity(requests.len());
    for request in requests {
        wasi::clocks::monotonic_clock::subscribe_duration(gap_ns).block();
        answers.extend(send_all(std::slice::from_ref(&request), limits));
    }
    settle(ctx, prepared, answers)
}
